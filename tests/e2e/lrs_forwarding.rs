//! Statement forwarding to an external LRS (here a second AllureConnect on loopback), and
//! statements as webhooks (`statement.stored`, opt-in).

use std::time::{Duration, Instant};

use e2e::{TestApp, XapiClient, error, json};
use reqwest::Method;
use serde_json::{Value, json};

use crate::lrs::{COMPLETED, attachment_statement, multipart, statement};

/// Polls `check` until it holds (20 s at most, then fails with `what`).
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn status(app: &TestApp, key: &str) -> Value {
    json(app.lrs_forwarding(key).await, 200).await
}

async fn oldest_first(lrs: &XapiClient) -> Vec<String> {
    lrs.ids(&[("ascending", "true")]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn statements_are_forwarded_in_order_through_failures_and_restarts() {
    let target = TestApp::spawn().await;
    let target_ws = target.create_workspace("Target").await;
    let source = TestApp::spawn().await;
    let source_ws = source.create_workspace("Source").await;
    let source_lrs = source.xapi_key(&source_ws.live_key);
    let key = source_ws.live_key.clone();
    // Statements stored before forwarding is configured stay home.
    source_lrs
        .store(&statement("uma", COMPLETED, "http://example.com/before"))
        .await;
    let configured = json(
        source
            .configure_lrs_forwarding(
                &key,
                &json!({
                    "endpoint": target.url("/xapi"),
                    "authorization": format!("Bearer {}", target_ws.live_key),
                    "xapi_version": "2.0.0",
                }),
            )
            .await,
        200,
    )
    .await;
    assert_eq!(configured["has_authorization"], true);
    assert!(
        !configured.to_string().contains(&target_ws.live_key),
        "the secret is never shown"
    );
    let mut sent = Vec::new();
    for i in 0..3 {
        let ids = source_lrs
            .store(&statement(
                "uma",
                COMPLETED,
                &format!("http://example.com/{i}"),
            ))
            .await;
        sent.extend(ids);
    }
    // One with an attachment travels as multipart.
    let content = b"an attachment that travels";
    let (sha2, with_attachment) = attachment_statement(content);
    let response = source_lrs
        .request(Method::POST, "/statements")
        .header("Content-Type", "multipart/mixed; boundary=b-1")
        .body(multipart("b-1", &with_attachment, &[(&sha2, content)]))
        .send()
        .await
        .unwrap();
    sent.push(json(response, 200).await[0].as_str().unwrap().to_owned());
    let target_lrs = target.xapi_key(&target_ws.live_key);
    eventually("the first statements reach the target", || async {
        oldest_first(&target_lrs).await.len() >= 4
    })
    .await;
    assert_eq!(
        oldest_first(&target_lrs).await,
        sent,
        "all of them, in order, once"
    );
    let forwarded = target_lrs.statement(&sent[3]).await;
    assert_eq!(forwarded["attachments"][0]["sha2"], sha2);
    let attachment = target_lrs
        .get_statements(&[("statementId", &sent[3]), ("attachments", "true")])
        .await;
    assert!(
        attachment
            .bytes()
            .await
            .unwrap()
            .windows(content.len())
            .any(|w| w == content)
    );
    eventually("the status shows the forwarded statements", || async {
        let s = status(&source, &key).await;
        s["status"]["forwarded"] == 4 && s["status"]["state"] == "idle"
    })
    .await;

    // The target goes away: the forwarder keeps the statements and says why.
    target.stop().await;
    let mut pending = Vec::new();
    for i in 0..2 {
        pending.extend(
            source_lrs
                .store(&statement(
                    "uma",
                    COMPLETED,
                    &format!("http://example.com/later/{i}"),
                ))
                .await,
        );
    }
    eventually("the failure is visible", || async {
        let s = status(&source, &key).await;
        s["status"]["state"] == "failing"
            && s["status"]["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("POST"))
    })
    .await;
    assert_eq!(status(&source, &key).await["status"]["forwarded"], 4);

    // A restart of the source loses nothing: the pending statements go to the new target.
    let source = source.restart().await;
    let replacement = TestApp::spawn().await;
    let replacement_ws = replacement.create_workspace("Replacement").await;
    let reconfigured = source
        .configure_lrs_forwarding(
            &key,
            &json!({
                "endpoint": replacement.url("/xapi"),
                "authorization": format!("Bearer {}", replacement_ws.live_key),
            }),
        )
        .await;
    assert_eq!(reconfigured.status(), 200);
    let replacement_lrs = replacement.xapi_key(&replacement_ws.live_key);
    eventually("the pending statements reach the new target", || async {
        oldest_first(&replacement_lrs).await.len() >= 2
    })
    .await;
    assert_eq!(oldest_first(&replacement_lrs).await, pending);
    eventually("the status recovers", || async {
        let s = status(&source, &key).await;
        s["status"]["forwarded"] == 6 && s["status"]["failures"] == 0
    })
    .await;
    source.stop().await;
    replacement.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_is_configured_per_environment() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Config").await;
    error(
        app.lrs_forwarding(&ws.live_key).await,
        404,
        "forwarding_not_configured",
    )
    .await;
    for endpoint in [
        "ftp://lrs.example.com/xapi",
        "lrs.example.com",
        "https://lrs.example.com/xapi?x=1",
    ] {
        error(
            app.configure_lrs_forwarding(&ws.live_key, &json!({"endpoint": endpoint}))
                .await,
            422,
            "invalid_endpoint",
        )
        .await;
    }
    error(
        app.configure_lrs_forwarding(
            &ws.live_key,
            &json!({"endpoint": "https://lrs.example.com/xapi", "xapi_version": "0.95"}),
        )
        .await,
        422,
        "invalid_xapi_version",
    )
    .await;
    let configured = json(
        app.configure_lrs_forwarding(
            &ws.live_key,
            &json!({"endpoint": "https://lrs.example.com/xapi/"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(configured["endpoint"], "https://lrs.example.com/xapi");
    assert_eq!(configured["xapi_version"], "1.0.3");
    assert_eq!(configured["has_authorization"], false);
    // The sandbox has its own (none).
    error(
        app.lrs_forwarding(&ws.test_key).await,
        404,
        "forwarding_not_configured",
    )
    .await;
    assert_eq!(app.remove_lrs_forwarding(&ws.live_key).await.status(), 204);
    error(
        app.lrs_forwarding(&ws.live_key).await,
        404,
        "forwarding_not_configured",
    )
    .await;
    error(
        app.remove_lrs_forwarding(&ws.live_key).await,
        404,
        "forwarding_not_configured",
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn statement_webhooks_reach_only_the_endpoints_that_name_them() {
    use e2e::receiver::Receiver;
    let app = TestApp::spawn_with(|s| s.webhooks.retry_scale = 0.0005).await;
    let ws = app.create_workspace("Hooks").await;
    let other = app.create_workspace("Elsewhere").await;
    let statements = Receiver::start().await;
    let everything = Receiver::start().await;
    let elsewhere = Receiver::start().await;
    let hook = |key: &str, receiver: &Receiver, types: Value| {
        let body = json!({"url": receiver.url("/hook"), "event_types": types});
        let key = key.to_owned();
        let app = &app;
        async move { json(app.create_webhook(&key, &body).await, 201).await }
    };
    hook(&ws.live_key, &statements, json!(["statement.stored"])).await;
    let all = hook(&ws.live_key, &everything, json!(["*"])).await;
    let theirs = hook(&other.live_key, &elsewhere, json!(["statement.stored"])).await;

    let lrs = app.xapi_key(&ws.live_key);
    let registration = uuid::Uuid::new_v4().to_string();
    let mut first = statement("ann", COMPLETED, "http://example.com/a");
    first["context"] = json!({"registration": registration});
    let mut second = statement(
        "ann",
        "http://adlnet.gov/expapi/verbs/passed",
        "http://example.com/a",
    );
    second["context"] = json!({"registration": registration});
    let ids = lrs
        .store(&json!([
            first,
            second,
            statement("bob", COMPLETED, "http://example.com/b")
        ]))
        .await;
    // Something every endpoint receives, after the statements.
    json(app.create_api_key(&ws.live_key, "later").await, 201).await;

    let received = statements
        .wait_until("three statements", Duration::from_secs(30), |r| {
            r.iter().filter(|r| r.succeeded()).count() >= 3
        })
        .await;
    let stored: Vec<Value> = received.iter().map(|r| r.json()).collect();
    assert!(
        stored.iter().all(|d| d["type"] == "statement.stored"),
        "{stored:#?}"
    );
    let delivered: Vec<&str> = stored
        .iter()
        .map(|d| d["data"]["statement_id"].as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut sorted = delivered.clone();
    sorted.sort_unstable();
    expected.sort_unstable();
    assert_eq!(sorted, expected, "each statement once");
    let of_registration: Vec<&str> = stored
        .iter()
        .filter(|d| d["data"]["registration"] == registration.as_str())
        .map(|d| d["data"]["statement"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        of_registration,
        vec![ids[0].as_str(), ids[1].as_str()],
        "one registration's statements arrive in log order"
    );
    assert!(
        stored
            .iter()
            .all(|d| d["data"]["statement"]["stored"].is_string()),
        "the statement as stored"
    );

    // `*` does not include the opt-in type; another workspace's endpoint
    // hears nothing of these statements.
    everything
        .wait_until("the API key event", Duration::from_secs(30), |r| {
            r.iter().any(|r| r.event_type() == "api_key.created")
        })
        .await;
    let platform = &app.state.platform;
    let head = platform.log.head().await.unwrap();
    platform
        .projections
        .wait_for("webhooks", head, Duration::from_secs(20))
        .await
        .unwrap();
    let queued = json(
        app.webhook_deliveries(&ws.live_key, all["id"].as_str().unwrap())
            .await,
        200,
    )
    .await;
    let types: Vec<&str> = queued["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["event_type"].as_str().unwrap())
        .collect();
    assert!(!types.contains(&"statement.stored"), "{types:?}");
    assert!(types.contains(&"api_key.created"), "{types:?}");
    let theirs = json(
        app.webhook_deliveries(&other.live_key, theirs["id"].as_str().unwrap())
            .await,
        200,
    )
    .await;
    assert_eq!(theirs["deliveries"], json!([]), "{theirs}");
    assert_eq!(elsewhere.count(), 0);
    app.stop().await;
}
