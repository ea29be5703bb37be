//! Who may use the LRS: credentials and their scopes, API keys, launch tokens, and no
//! workspace reaching another's.

use std::time::Duration;

use e2e::{TestApp, error, json};
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::lrs::{COMPLETED, agent, statement, with_id};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_created_shown_once_scoped_and_revoked() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Creds").await;
    let created = json(app.create_lrs_credential(&ws.live_key, &[]).await, 422).await;
    assert_eq!(created["error"]["code"], "invalid_scopes");
    error(
        app.create_lrs_credential(&ws.live_key, &["statements/delete"])
            .await,
        422,
        "invalid_scopes",
    )
    .await;
    let all = json(
        app.post(&ws.live_key, "/api/v1/lrs-credentials", &json!({}))
            .await,
        201,
    )
    .await;
    assert_eq!(all["scopes"], json!(["all"]), "the default scope");
    assert!(all["endpoint"].as_str().unwrap().ends_with("/xapi/"));
    let secret = all["secret"].as_str().unwrap();
    let listed = json(app.lrs_credentials(&ws.live_key).await, 200).await;
    assert_eq!(listed["lrs_credentials"].as_array().unwrap().len(), 1);
    assert!(
        !listed.to_string().contains(secret),
        "the secret is shown once"
    );
    let id = all["id"].as_str().unwrap();
    assert_eq!(
        json(app.lrs_credential(&ws.live_key, id).await, 200).await["id"],
        id
    );

    // Scopes.
    let writer = app
        .lrs_client(&ws.live_key, &["statements/write"], "2.0.0")
        .await;
    let reader = app
        .lrs_client(&ws.live_key, &["statements/read"], "2.0.0")
        .await;
    let mine = app
        .lrs_client(
            &ws.live_key,
            &["statements/write", "statements/read/mine"],
            "2.0.0",
        )
        .await;
    let state_only = app.lrs_client(&ws.live_key, &["state"], "2.0.0").await;
    let written = writer
        .store(&statement("quinn", COMPLETED, "http://example.com/a"))
        .await;
    assert_eq!(writer.get_statements(&[]).await.status(), 403);
    assert_eq!(reader.ids(&[]).await, written);
    assert_eq!(
        reader
            .post_statements(&statement("quinn", COMPLETED, "http://example.com/a"))
            .await
            .status(),
        403
    );
    let own = mine
        .store(&statement("quinn", COMPLETED, "http://example.com/b"))
        .await;
    assert_eq!(
        mine.ids(&[]).await,
        own,
        "read/mine sees only its own statements"
    );
    assert_eq!(
        mine.get_statements(&[("statementId", &written[0])])
            .await
            .status(),
        404
    );
    assert_eq!(mine.statement(&own[0]).await["id"], own[0]);
    assert_eq!(state_only.get_statements(&[]).await.status(), 403);
    let agent = agent("quinn").to_string();
    let state = state_only
        .document(
            Method::PUT,
            "/activities/state",
            &[
                ("activityId", "http://example.com/a"),
                ("agent", &agent),
                ("stateId", "s"),
            ],
        )
        .json(&json!({"ok": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(state.status(), 204);
    let profile = state_only
        .document(
            Method::GET,
            "/activities/profile",
            &[("activityId", "http://example.com/a")],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(profile.status(), 403);

    // A wrong secret, an unknown credential, a revoked one.
    let wrong = app.xapi(&basic(id, "not-the-secret"), "2.0.0");
    error(wrong.get_statements(&[]).await, 401, "invalid_credentials").await;
    let unknown = app.xapi(&basic("lrs_nobody", secret), "2.0.0");
    error(
        unknown.get_statements(&[]).await,
        401,
        "invalid_credentials",
    )
    .await;
    let good = app.xapi(all["authorization"].as_str().unwrap(), "2.0.0");
    assert_eq!(good.get_statements(&[]).await.status(), 200);
    assert_eq!(
        app.revoke_lrs_credential(&ws.live_key, id).await.status(),
        204
    );
    error(good.get_statements(&[]).await, 401, "invalid_credentials").await;
    error(
        app.revoke_lrs_credential(&ws.live_key, id).await,
        409,
        "lrs_credential_revoked",
    )
    .await;
    app.stop().await;
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_workspace_reaches_another_lrs() {
    let app = TestApp::spawn().await;
    let a = app.create_workspace("A").await;
    let b = app.create_workspace("B").await;
    let lrs_a = app.lrs_client(&a.live_key, &["all"], "2.0.0").await;
    let lrs_b = app.lrs_client(&b.live_key, &["all"], "2.0.0").await;
    let activity = "http://example.com/shared-activity";
    let mut st = statement("ray", COMPLETED, activity);
    st["object"]["definition"] = json!({"name": {"en-US": "secret name of A"}});
    let (id, st) = with_id(st);
    lrs_a.store(&st).await;
    let agent = agent("ray").to_string();
    let state_query = [
        ("activityId", activity),
        ("agent", agent.as_str()),
        ("stateId", "s"),
    ];
    let put = lrs_a
        .document(Method::PUT, "/activities/state", &state_query)
        .json(&json!({"of": "A"}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 204);
    // B sees none of it: not the statement, its filters, the document, the definition.
    assert_eq!(
        lrs_b.get_statements(&[("statementId", &id)]).await.status(),
        404
    );
    assert_eq!(
        lrs_b
            .get_statements(&[("voidedStatementId", &id)])
            .await
            .status(),
        404
    );
    assert!(lrs_b.ids(&[("activity", activity)]).await.is_empty());
    let document = lrs_b
        .document(Method::GET, "/activities/state", &state_query)
        .send()
        .await
        .unwrap();
    assert_eq!(document.status(), 404);
    let activity_of_b = json(
        lrs_b
            .request(Method::GET, "/activities")
            .query(&[("activityId", activity)])
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert!(activity_of_b.get("definition").is_none(), "{activity_of_b}");
    // B writing the same statement id stores B's own statement; A's is unchanged.
    let mut same_id = statement("sam", COMPLETED, "http://example.com/b");
    same_id["id"] = json!(id);
    assert_eq!(lrs_b.store(&same_id).await, vec![id.clone()]);
    assert_eq!(lrs_a.statement(&id).await["actor"]["name"], "ray");
    assert_eq!(lrs_b.statement(&id).await["actor"]["name"], "sam");
    // A's credential is unknown to B's API key, and can't be revoked by B.
    let listed = json(app.lrs_credentials(&a.live_key).await, 200).await;
    let a_credential = listed["lrs_credentials"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.lrs_credential(&b.live_key, &a_credential)
            .await
            .status(),
        404
    );
    assert_eq!(
        app.revoke_lrs_credential(&b.live_key, &a_credential)
            .await
            .status(),
        404
    );
    assert_eq!(
        lrs_a.get_statements(&[]).await.status(),
        200,
        "A's credential still works"
    );
    assert!(
        !json(app.lrs_credentials(&b.live_key).await, 200)
            .await
            .to_string()
            .contains(&a_credential)
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_tokens_confine_content_to_one_learner_and_registration() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Launch").await;
    let registration = Uuid::new_v4();
    let learner = json!({"objectType": "Agent", "account": {"homePage": "https://lms.example.com", "name": "learner-1"}});
    let course = "http://example.com/courses/tincan";
    let issued = json(
        app.create_launch_token(
            &ws.live_key,
            &json!({"actor": learner, "registration": registration, "activity_id": course}),
        )
        .await,
        201,
    )
    .await;
    assert!(issued["auth"].as_str().unwrap().starts_with("Basic "));
    assert!(issued["endpoint"].as_str().unwrap().ends_with("/xapi/"));
    let content = app.xapi(issued["auth"].as_str().unwrap(), "1.0.2");
    let mut own = json!({
        "actor": learner,
        "verb": {"id": COMPLETED},
        "object": {"id": course},
        "context": {"registration": registration},
    });
    let stored = content.store(&own).await;
    // Another actor, or another (or no) registration, is refused.
    let mut other_actor = own.clone();
    other_actor["actor"] = agent("mallory");
    assert_eq!(content.post_statements(&other_actor).await.status(), 403);
    own["context"]["registration"] = json!(Uuid::new_v4());
    assert_eq!(content.post_statements(&own).await.status(), 403);
    own["context"] = json!({});
    assert_eq!(content.post_statements(&own).await.status(), 403);
    // It reads back what it wrote, and nothing else.
    let key = app.xapi_key(&ws.live_key);
    key.store(&statement("other", COMPLETED, course)).await;
    assert_eq!(content.ids(&[]).await, stored);
    // Its learner's State of its registration, not another's.
    let learner_text = learner.to_string();
    let registration_text = registration.to_string();
    let state = |agent: &str, registration: &str| {
        content
            .document(
                Method::PUT,
                "/activities/state",
                &[
                    ("activityId", course),
                    ("agent", agent),
                    ("registration", registration),
                    ("stateId", "bookmark"),
                ],
            )
            .json(&json!({"page": 1}))
            .send()
    };
    assert_eq!(
        state(&learner_text, &registration_text)
            .await
            .unwrap()
            .status(),
        204
    );
    let other_registration = Uuid::new_v4().to_string();
    assert_eq!(
        state(&learner_text, &other_registration)
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        state(&agent("mallory").to_string(), &registration_text)
            .await
            .unwrap()
            .status(),
        403
    );
    let write_profile = content
        .document(
            Method::PUT,
            "/activities/profile",
            &[("activityId", course), ("profileId", "p")],
        )
        .header("If-None-Match", "*")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(write_profile.status(), 403);
    // A malformed request for a token is refused.
    error(
        app.create_launch_token(
            &ws.live_key,
            &json!({"actor": {"name": "nobody"}, "registration": registration, "activity_id": course}),
        )
        .await,
        422,
        "invalid_actor",
    )
    .await;
    // An expired token no longer works.
    let platform = &app.state.platform;
    let scope =
        domain::tenancy::Scope::new(ws.id.parse().unwrap(), domain::tenancy::Environment::Live);
    let short = platform
        .lrs
        .issue_launch_token(
            &platform.commands,
            &scope,
            learner.clone(),
            registration,
            course,
            Duration::from_millis(1),
            &domain::events::EventMetadata::scoped(scope).with_actor("test"),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let expired = app.xapi(&short.auth, "1.0.3");
    error(
        expired.get_statements(&[]).await,
        401,
        "invalid_credentials",
    )
    .await;
    app.stop().await;
}
