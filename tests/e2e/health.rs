use std::time::Duration;

use domain::events::EventMetadata;
use e2e::{TestApp, json};
use store::log::{ExpectedVersion, NewEvent};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness() {
    let app = TestApp::spawn().await;
    let health = json(
        app.client.get(app.url("/healthz")).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(health["status"], "ok");
    let ready = json(
        app.client.get(app.url("/readyz")).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["database"]["ok"], true);
    assert_eq!(ready["migrations"]["ok"], true);
    assert!(
        ready["projections"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "workspaces")
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_event_makes_the_server_not_ready_and_says_where() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Future").await;
    let bad = app
        .state
        .platform
        .log
        .append_to(
            "workspace:from-a-newer-build",
            ExpectedVersion::Exact(0),
            vec![NewEvent {
                event_type: "ApiKeyCreated".into(),
                schema_version: 9,
                payload: "{}".into(),
                metadata: EventMetadata::workspace(ws.id.parse().unwrap()),
            }],
        )
        .await
        .unwrap()
        .last()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    // Every projection meets the event; wait for the one this test reads.
    let ready = loop {
        let response = app.client.get(app.url("/readyz")).send().await.unwrap();
        if response.status() == 503 {
            let body = json(response, 503).await;
            let stopped = body["projections"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "workspaces" && p["state"] == "stopped");
            if stopped {
                break body;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "readyz never reported the stopped projection"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(ready["status"], "not_ready");
    let workspaces = ready["projections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "workspaces")
        .unwrap();
    assert_eq!(workspaces["state"], "stopped");
    assert_eq!(workspaces["stopped_at"], bad.position);
    assert_eq!(workspaces["event_type"], "ApiKeyCreated");
    assert!(
        workspaces["reason"]
            .as_str()
            .unwrap()
            .contains("schema version 9"),
        "{workspaces}"
    );
    app.stop().await;
}
