//! The LRS views are functions of the log: replay rebuilds them exactly. (What statements
//! say about a registration's progress is in `lrs_launch`.)

use e2e::{TestApp, json};
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::lrs::{COMPLETED, VOIDED, agent, statement, with_id};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_rebuilds_the_lrs_views_exactly() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Replay").await;
    let other = app.create_workspace("Other").await;
    let lrs = app.xapi_key(&ws.live_key);
    let sandbox = app.xapi_key(&ws.test_key);
    let registration = Uuid::new_v4();
    // Statements of two scopes, with definitions, voiding, references (before and after
    // their targets) and registrations.
    for i in 0..20 {
        let mut st = statement(
            if i % 3 == 0 { "val" } else { "wes" },
            if i % 4 == 0 {
                COMPLETED
            } else {
                "http://example.com/verbs/viewed"
            },
            &format!("http://example.com/page/{}", i % 5),
        );
        st["object"]["definition"] = json!({"name": {"en-US": format!("page {i}")}});
        st["context"] = json!({"registration": registration, "contextActivities": {"parent": {"id": "http://example.com/course"}}});
        st["result"] = json!({"score": {"scaled": f64::from(i) / 20.0}});
        lrs.store(&st).await;
        sandbox
            .store(&statement("val", COMPLETED, "http://example.com/sandbox"))
            .await;
    }
    let (target, st) = with_id(statement("val", COMPLETED, "http://example.com/t"));
    lrs.store(&st).await;
    lrs.store(&json!({"actor": agent("val"), "verb": {"id": VOIDED}, "object": {"objectType": "StatementRef", "id": target}}))
        .await;
    let later = Uuid::new_v4().to_string();
    lrs.store(&json!({"actor": agent("val"), "verb": {"id": "http://example.com/verbs/likes"}, "object": {"objectType": "StatementRef", "id": later}}))
        .await;
    let mut late = statement("val", COMPLETED, "http://example.com/late");
    late["id"] = json!(later);
    lrs.store(&late).await;
    // Documents, credentials, a launch token, forwarding.
    let agent_text = agent("val").to_string();
    for (id, body) in [("a", json!({"x": 1})), ("b", json!({"y": 2}))] {
        let response = lrs
            .document(
                Method::PUT,
                "/activities/state",
                &[
                    ("activityId", "http://example.com/course"),
                    ("agent", &agent_text),
                    ("stateId", id),
                ],
            )
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
    }
    let deleted = lrs
        .document(
            Method::DELETE,
            "/activities/state",
            &[
                ("activityId", "http://example.com/course"),
                ("agent", &agent_text),
                ("stateId", "a"),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let credential = json(
        app.create_lrs_credential(&other.live_key, &["all"]).await,
        201,
    )
    .await;
    app.revoke_lrs_credential(&other.live_key, credential["id"].as_str().unwrap())
        .await;
    json(
        app.create_launch_token(
            &ws.live_key,
            &json!({"actor": agent("val"), "registration": registration, "activity_id": "http://example.com/course"}),
        )
        .await,
        201,
    )
    .await;
    json(
        app.configure_lrs_forwarding(
            &other.live_key,
            &json!({"endpoint": "http://127.0.0.1:9/xapi"}),
        )
        .await,
        200,
    )
    .await;

    let platform = &app.state.platform;
    let head = platform.log.head().await.unwrap();
    platform
        .projections
        .wait_all(head, std::time::Duration::from_secs(20))
        .await
        .unwrap();
    let lrs_views: Vec<_> = projections::all()
        .into_iter()
        .filter(|p| p.name().starts_with("lrs_"))
        .collect();
    assert_eq!(lrs_views.len(), 5);
    let mut live = Vec::new();
    for view in &lrs_views {
        let rows = projections::dump::projection(&platform.db, view.as_ref())
            .await
            .unwrap();
        assert!(
            rows.iter().any(|(_, rows)| !rows.is_empty()),
            "{} is empty: the test proves nothing",
            view.name()
        );
        live.push(rows);
    }
    // Replay beside no running server, as `allureconnect replay` does.
    let mut app = app;
    app.halt().await;
    let offline = api::platform::Platform::open(&app.storage()).await.unwrap();
    for (view, live) in lrs_views.iter().zip(live) {
        let report = offline.projections.replay(view.name()).await.unwrap();
        assert!(report.events > 0);
        let rebuilt = projections::dump::projection(&offline.db, view.as_ref())
            .await
            .unwrap();
        assert_eq!(live, rebuilt, "{} rebuilt differently", view.name());
    }
    offline.db.close().await;
    let app = app.restart().await;
    let lrs = app.xapi_key(&ws.live_key);
    // And the rebuilt views still answer.
    assert_eq!(
        lrs.get_statements(&[("statementId", &target)])
            .await
            .status(),
        404,
        "still voided"
    );
    assert_eq!(
        lrs.ids(&[("verb", COMPLETED), ("activity", "http://example.com/late")])
            .await
            .len(),
        2
    );
    app.stop().await;
}
