//! Webhooks end to end: a real receiver that fails, hangs and breaks
//! connections; retries with the same event id and a signature the README's
//! recipe verifies; ordering per subject; restarts of the real binary in the
//! middle of retries; private targets; secret rotation; tests, redeliveries,
//! replays; endpoints disabled after the retry window.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use e2e::process::ProcessEnv;
use e2e::receiver::{Received, Receiver, Reply, verify_as_the_readme_says};
use e2e::{TestApp, TestWorkspace, error, json};
use serde_json::{Value, json};
use store::testing::TestDb;

/// First retry after ~10 ms, retry window ~130 s.
const FAST: f64 = 0.0005;
const WAIT: Duration = Duration::from_secs(60);

async fn fast_app() -> TestApp {
    TestApp::spawn_with(|s| {
        s.webhooks.retry_scale = FAST;
        s.webhooks.timeout = Duration::from_millis(500);
    })
    .await
}

async fn hook(app: &TestApp, key: &str, receiver: &Receiver, types: &[&str]) -> Value {
    json(
        app.create_webhook(
            key,
            &json!({"url": receiver.url("/hook"), "event_types": types}),
        )
        .await,
        201,
    )
    .await
}

/// Waits until the view shows `done` for the endpoint's deliveries.
async fn deliveries_until(
    app: &TestApp,
    key: &str,
    webhook_id: &str,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let page = json(app.webhook_deliveries(key, webhook_id).await, 200).await;
        let deliveries = page["deliveries"].as_array().unwrap().clone();
        if done(&deliveries) {
            return deliveries;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting until {what}: {deliveries:#?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn of_type<'a>(requests: &'a [Received], event_type: &str) -> Vec<&'a Received> {
    requests
        .iter()
        .filter(|r| r.event_type() == event_type)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_delivery_is_retried_with_the_same_id_and_a_valid_signature() {
    let app = fast_app().await;
    let ws = app.create_workspace("Hooks").await;
    let receiver = Receiver::start().await;
    let created = hook(&app, &ws.live_key, &receiver, &["api_key.created"]).await;
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{created}");
    assert_eq!(created["event_types"], json!(["api_key.created"]));
    receiver.set_secrets(&[secret]);
    receiver.script([
        Reply::Status(500),
        Reply::Hang(Duration::from_secs(2)),
        Reply::BreakConnection,
        Reply::Status(302),
        Reply::Status(404),
    ]);
    let key = json(app.create_api_key(&ws.live_key, "hooked").await, 201).await;

    let requests = receiver
        .wait_until("the key's event is delivered", WAIT, |r| {
            r.iter().any(Received::succeeded)
        })
        .await;
    assert_eq!(requests.len(), 6, "five failures, then the success");
    let first = requests[0].json();
    for (n, request) in requests.iter().enumerate() {
        assert_eq!(
            request.body, requests[0].body,
            "a retry sends the same bytes"
        );
        assert_eq!(
            request.verified,
            Some(true),
            "signature of attempt {}",
            n + 1
        );
        assert_eq!(
            request.header("AllureConnect-Delivery-Attempt"),
            Some((n + 1).to_string().as_str())
        );
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert_eq!(
            request.header("AllureConnect-Event-Id"),
            first["id"].as_str()
        );
    }
    let keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        vec![
            "api_version",
            "created_at",
            "data",
            "environment",
            "id",
            "type",
            "workspace_id"
        ]
    );
    assert!(first["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(first["type"], "api_key.created");
    assert_eq!(first["workspace_id"], ws.id.as_str());
    assert_eq!(first["environment"], "live");
    assert_eq!(first["data"]["key_id"], key["id"]);
    assert!(
        first["data"].get("hash").is_none(),
        "the key hash leaked: {first}"
    );

    // The delivery log shows every attempt and what it decided.
    let webhook_id = created["id"].as_str().unwrap();
    let deliveries = deliveries_until(&app, &ws.live_key, webhook_id, "delivered", |d| {
        d.iter().any(|d| d["state"] == "succeeded")
    })
    .await;
    let delivery = deliveries
        .iter()
        .find(|d| d["event_type"] == "api_key.created")
        .unwrap();
    assert_eq!(delivery["event_id"], first["id"]);
    let attempts = delivery["attempts"].as_array().unwrap();
    let statuses: Vec<Value> = attempts.iter().map(|a| a["status"].clone()).collect();
    assert_eq!(
        statuses,
        vec![
            json!(500),
            Value::Null,
            Value::Null,
            json!(302),
            json!(404),
            json!(200)
        ]
    );
    let outcomes: Vec<&str> = attempts
        .iter()
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        vec![
            "retrying",
            "retrying",
            "retrying",
            "retrying",
            "retrying",
            "succeeded"
        ]
    );
    let errors: Vec<String> = attempts
        .iter()
        .map(|a| a["error"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(errors[0], "status 500");
    assert!(errors[1].starts_with("timed out"), "{errors:?}");
    assert!(
        errors[2].starts_with("request failed") || errors[2].starts_with("the response broke off"),
        "{errors:?}"
    );
    assert!(
        errors[3].contains("redirects are not followed"),
        "{errors:?}"
    );
    assert_eq!(errors[5], "");
    for (attempt, request) in attempts.iter().zip(&requests) {
        assert_eq!(
            attempt["request_id"].as_str(),
            request.header("AllureConnect-Request-Id")
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_subject_arrives_in_order_and_ids_identify_an_event_per_endpoint() {
    let app = fast_app().await;
    let ws = app.create_workspace("Order").await;
    let flaky = Receiver::start().await;
    let steady = Receiver::start().await;
    let flaky_hook = hook(&app, &ws.live_key, &flaky, &["api_key.created"]).await;
    let steady_hook = hook(&app, &ws.live_key, &steady, &["*"]).await;
    // Every other request fails, the first three in a row.
    flaky.script([
        Reply::Status(500),
        Reply::Status(503),
        Reply::BreakConnection,
        Reply::Status(200),
        Reply::Status(500),
        Reply::Status(200),
        Reply::Status(500),
    ]);
    let mut key_ids = Vec::new();
    for i in 0..6 {
        let key = json(
            app.create_api_key(&ws.live_key, &format!("k{i}")).await,
            201,
        )
        .await;
        key_ids.push(key["id"].as_str().unwrap().to_owned());
    }
    let requests = flaky
        .wait_until("every key's event is delivered", WAIT, |r| {
            r.iter().filter(|r| r.succeeded()).count() >= 6
        })
        .await;
    // Within the subject (the workspace's stream), no event is sent before
    // the one before it succeeded.
    let index = |r: &Received| {
        let key_id = r.json()["data"]["key_id"].as_str().unwrap().to_owned();
        key_ids.iter().position(|k| *k == key_id).unwrap()
    };
    let mut delivered = 0;
    for request in &requests {
        let n = index(request);
        assert_eq!(
            n, delivered,
            "event {n} was sent while event {delivered} was not yet delivered"
        );
        if request.succeeded() {
            delivered += 1;
        }
    }
    assert_eq!(delivered, 6);
    // One id per event: every retry carries it, no two events share it.
    let mut ids: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    for request in &requests {
        ids.entry(index(request))
            .or_default()
            .insert(request.event_id());
    }
    assert!(ids.values().all(|set| set.len() == 1), "{ids:?}");
    let distinct: BTreeSet<&String> = ids.values().flatten().collect();
    assert_eq!(distinct.len(), 6);
    // Another endpoint gets the same events under its own ids.
    let steady_requests = steady
        .wait_until("the steady endpoint has every key", WAIT, |r| {
            of_type(r, "api_key.created").len() >= 6
        })
        .await;
    let steady_ids: BTreeSet<String> = of_type(&steady_requests, "api_key.created")
        .iter()
        .map(|r| r.event_id())
        .collect();
    assert_eq!(steady_ids.len(), 6);
    assert!(steady_ids.is_disjoint(&distinct.into_iter().cloned().collect()));
    // An endpoint hears of its own creation (the endpoint's state after an
    // event decides who receives it), not of endpoints made before it.
    let created: Vec<Value> = of_type(&steady_requests, "webhook.created")
        .iter()
        .map(|r| r.json()["data"]["webhook_id"].clone())
        .collect();
    assert_eq!(created, vec![steady_hook["id"].clone()]);
    let _ = flaky_hook;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_validation_and_secrets_shown_once() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Crud").await;
    let receiver = Receiver::start().await;
    let key = &ws.live_key;
    let created = json(
        app.create_webhook(
            key,
            &json!({"url": receiver.url("/a"), "description": "  LMS sync ", "enabled": false}),
        )
        .await,
        201,
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert_eq!(created["event_types"], json!(["*"]));
    assert_eq!(created["description"], "LMS sync");
    assert_eq!(created["enabled"], false);

    let got = json(app.webhook(key, id).await, 200).await;
    assert!(got.get("secret").is_none());
    let listed = json(app.webhooks(key).await, 200).await;
    assert_eq!(listed["webhooks"].as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains(&secret));
    let test_key_list = json(app.webhooks(&ws.test_key).await, 200).await;
    assert_eq!(
        test_key_list["webhooks"],
        json!([]),
        "test keys see no live endpoints"
    );

    let updated = json(
        app.update_webhook(
            key,
            id,
            &json!({"url": receiver.url("/b"), "event_types": ["webhook.disabled"], "enabled": true, "description": ""}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(updated["url"], receiver.url("/b"));
    assert_eq!(updated["event_types"], json!(["webhook.disabled"]));
    assert_eq!(updated["enabled"], true);
    assert_eq!(updated["description"], Value::Null);

    for (body, code) in [
        (json!({"url": "ftp://example.com/"}), "invalid_webhook_url"),
        (
            json!({"url": "https://u:p@example.com/"}),
            "invalid_webhook_url",
        ),
        (
            json!({"url": receiver.url("/"), "event_types": ["course.teleported"]}),
            "unknown_event_type",
        ),
        (
            json!({"url": receiver.url("/"), "event_types": ["webhook.ping"]}),
            "unknown_event_type",
        ),
        (
            json!({"url": receiver.url("/"), "description": "d".repeat(501)}),
            "invalid_description",
        ),
    ] {
        error(app.create_webhook(key, &body).await, 422, code).await;
    }
    error(
        app.create_webhook(key, &json!({"url": receiver.url("/"), "secret": "mine"}))
            .await,
        422,
        "invalid_body",
    )
    .await;
    error(
        app.rotate_webhook_secret(key, id, &json!({"grace_period_seconds": 8 * 86_400}))
            .await,
        422,
        "invalid_grace_period",
    )
    .await;
    error(
        app.webhook(key, "wh_missing").await,
        404,
        "webhook_not_found",
    )
    .await;
    error(
        app.update_webhook(key, "wh_missing", &json!({"enabled": false}))
            .await,
        404,
        "webhook_not_found",
    )
    .await;

    // The log keeps the secret (the dispatcher signs with it); the events
    // API never shows it.
    let rotated = json(app.rotate_webhook_secret(key, id, &json!({})).await, 200).await;
    let events = serde_json::to_string(&app.all_events(key).await).unwrap();
    assert!(events.contains("WebhookCreated") && events.contains("WebhookSecretRotated"));
    assert!(!events.contains(&secret), "the secret is in /api/v1/events");
    assert!(!events.contains(rotated["secret"].as_str().unwrap()));
    assert!(events.contains("[redacted]"));

    let types = json(
        app.client
            .get(app.url("/api/v1/webhook-event-types"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let names: Vec<&str> = types["event_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["type"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"webhook.disabled") && names.contains(&"webhook.ping"));
    assert_eq!(
        types["api_version"],
        domain::webhook::catalogue::API_VERSION
    );

    assert_eq!(app.delete_webhook(key, id).await.status(), 204);
    error(app.webhook(key, id).await, 404, "webhook_not_found").await;
    error(app.delete_webhook(key, id).await, 404, "webhook_not_found").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_targets_are_refused_when_not_allowed() {
    let app = TestApp::spawn_with(|s| s.webhooks.allow_private_targets = false).await;
    let ws = app.create_workspace("Private").await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",
        "http://[::1]/hook",
        "http://10.0.0.7/hook",
        "http://192.168.1.20/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
    ] {
        let body = error(
            app.create_webhook(&ws.live_key, &json!({ "url": url }))
                .await,
            422,
            "webhook_target_refused",
        )
        .await;
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("public addresses"),
            "{body}"
        );
    }
    assert_eq!(
        json(app.webhooks(&ws.live_key).await, 200).await["webhooks"],
        json!([])
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotation_signs_with_both_secrets_during_the_grace_period_only() {
    let app = fast_app().await;
    let ws = app.create_workspace("Rotate").await;
    let receiver = Receiver::start().await;
    let created = hook(&app, &ws.live_key, &receiver, &["webhook.disabled"]).await;
    let id = created["id"].as_str().unwrap();
    let old = created["secret"].as_str().unwrap().to_owned();

    let rotated = json(
        app.rotate_webhook_secret(&ws.live_key, id, &json!({"grace_period_seconds": 3600}))
            .await,
        200,
    )
    .await;
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(rotated["previous_secret_expires_at"].is_string());
    let ping = json(app.test_webhook(&ws.live_key, id).await, 200).await;
    assert_eq!(ping["state"], "succeeded", "{ping}");
    assert_eq!(ping["event_type"], "webhook.ping");
    let request = receiver.requests().pop().unwrap();
    let header = request
        .header("AllureConnect-Signature")
        .unwrap()
        .to_owned();
    assert_eq!(header.matches("v1=").count(), 2, "{header}");
    assert!(verify_as_the_readme_says(&header, &request.body, &old));
    assert!(verify_as_the_readme_says(&header, &request.body, &new));
    assert!(!verify_as_the_readme_says(
        &header,
        &request.body,
        "whsec_other"
    ));
    let shown = json(app.webhook(&ws.live_key, id).await, 200).await;
    assert_eq!(
        shown["previous_secret_expires_at"],
        rotated["previous_secret_expires_at"]
    );

    // Without a grace period the previous secret stops at once.
    let rotated = json(
        app.rotate_webhook_secret(&ws.live_key, id, &json!({"grace_period_seconds": 0}))
            .await,
        200,
    )
    .await;
    let newest = rotated["secret"].as_str().unwrap().to_owned();
    json(app.test_webhook(&ws.live_key, id).await, 200).await;
    let request = receiver.requests().pop().unwrap();
    let header = request
        .header("AllureConnect-Signature")
        .unwrap()
        .to_owned();
    assert_eq!(header.matches("v1=").count(), 1, "{header}");
    assert!(verify_as_the_readme_says(&header, &request.body, &newest));
    assert!(!verify_as_the_readme_says(&header, &request.body, &new));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pings_redeliveries_and_replays_resend_with_the_original_ids() {
    let app = fast_app().await;
    let ws = app.create_workspace("Replay").await;
    let receiver = Receiver::start().await;
    let before = chrono::Utc::now();
    let created = hook(&app, &ws.live_key, &receiver, &["api_key.created"]).await;
    let id = created["id"].as_str().unwrap();
    for i in 0..2 {
        json(
            app.create_api_key(&ws.live_key, &format!("r{i}")).await,
            201,
        )
        .await;
    }
    let first = receiver
        .wait_until("both keys are delivered", WAIT, |r| r.len() >= 2)
        .await;
    let original_ids: Vec<String> = first.iter().map(Received::event_id).collect();

    // A test ping goes to this endpoint only, whatever its filter.
    let ping = json(app.test_webhook(&ws.live_key, id).await, 200).await;
    assert_eq!(ping["origin"], "ping");
    assert_eq!(ping["attempts"][0]["status"], 200);
    let pinged = receiver.requests().pop().unwrap();
    assert_eq!(pinged.event_type(), "webhook.ping");
    assert_eq!(pinged.json()["data"]["webhook_id"], id);

    let deliveries = deliveries_until(&app, &ws.live_key, id, "three delivered", |d| {
        d.iter().filter(|d| d["state"] == "succeeded").count() >= 3
    })
    .await;
    let original = &deliveries[0];
    let queued = json(
        app.redeliver(&ws.live_key, original["id"].as_str().unwrap())
            .await,
        202,
    )
    .await;
    let redelivery_id = queued["delivery_id"].as_str().unwrap().to_owned();
    assert_ne!(redelivery_id, original["id"].as_str().unwrap());
    let after_redelivery = receiver
        .wait_until("the redelivery arrives", WAIT, |r| r.len() >= 4)
        .await;
    let resent = &after_redelivery[3];
    assert_eq!(resent.event_id(), original["event_id"].as_str().unwrap());
    assert_eq!(
        resent.header("AllureConnect-Delivery-Id"),
        Some(redelivery_id.as_str())
    );
    error(
        app.redeliver(&ws.live_key, "dlv_missing").await,
        404,
        "delivery_not_found",
    )
    .await;

    let to = chrono::Utc::now() + chrono::Duration::seconds(1);
    let replay = json(
        app.replay_webhook(&ws.live_key, id, &before.to_rfc3339(), &to.to_rfc3339())
            .await,
        202,
    )
    .await;
    assert_eq!(replay["events"], 2, "{replay}");
    let all = receiver
        .wait_until("the replay arrives", WAIT, |r| r.len() >= 6)
        .await;
    let replayed: Vec<String> = all[4..].iter().map(Received::event_id).collect();
    assert_eq!(
        replayed, original_ids,
        "a replay resends in order, same ids"
    );
    error(
        app.replay_webhook(&ws.live_key, id, &to.to_rfc3339(), &before.to_rfc3339())
            .await,
        422,
        "invalid_replay_window",
    )
    .await;
    error(
        app.replay_webhook(&ws.live_key, id, "yesterday", &to.to_rfc3339())
            .await,
        400,
        "invalid_time",
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_endpoint_failing_for_the_whole_window_is_disabled_and_others_hear_of_it() {
    // The 3-day window shrunk to about 3 seconds.
    let app = TestApp::spawn_with(|s| {
        s.webhooks.retry_scale = 3.0 / 259_200.0;
        s.webhooks.timeout = Duration::from_millis(500);
    })
    .await;
    let ws = app.create_workspace("Disable").await;
    let watcher = Receiver::start().await;
    let broken = Receiver::start().await;
    broken.set_default(Reply::Status(500));
    let watcher_hook = hook(&app, &ws.live_key, &watcher, &["webhook.disabled"]).await;
    let broken_hook = hook(&app, &ws.live_key, &broken, &["api_key.created"]).await;
    let broken_id = broken_hook["id"].as_str().unwrap();
    json(app.create_api_key(&ws.live_key, "doomed").await, 201).await;

    let heard = watcher
        .wait_until("the watcher hears of the disabling", WAIT, |r| {
            !of_type(r, "webhook.disabled").is_empty()
        })
        .await;
    let disabled = of_type(&heard, "webhook.disabled")[0].json();
    assert_eq!(disabled["data"]["webhook_id"], broken_id);
    assert!(disabled["data"]["failing_since"].is_string());
    let shown = json(
        app.get(
            &ws.live_key,
            &format!("/api/v1/webhooks/{broken_id}?min_position=0"),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(shown["enabled"], false);
    assert!(
        shown["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("failed since")
    );
    let deliveries = deliveries_until(&app, &ws.live_key, broken_id, "settled", |d| {
        d.iter().all(|d| d["state"] != "pending")
    })
    .await;
    assert!(
        deliveries[0]["attempts"].as_array().unwrap().len() >= 3,
        "{deliveries:#?}"
    );
    assert!(broken.requests().len() >= 3);
    // Enabling it again clears the failure.
    let enabled = json(
        app.update_webhook(&ws.live_key, broken_id, &json!({"enabled": true}))
            .await,
        200,
    )
    .await;
    assert_eq!(enabled["enabled"], true);
    assert_eq!(enabled["failing_since"], Value::Null);
    assert_eq!(enabled["disabled_reason"], Value::Null);
    let _ = watcher_hook;
    app.stop().await;
}

// ---- the real binary ----

struct Fixture {
    env: ProcessEnv,
    dir: tempfile::TempDir,
    _db: TestDb,
}

async fn fixture() -> Fixture {
    e2e::init();
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    Fixture {
        env: ProcessEnv {
            binary: env!("CARGO_BIN_EXE_ac-e2e-server").into(),
            data_dir: dir.path().join("data"),
            database_url: db.url().to_owned(),
        },
        dir,
        _db: db,
    }
}

async fn cli_workspace(env: &ProcessEnv, name: &str) -> TestWorkspace {
    let out = env.run(&["workspace", "create", name]).await;
    let created: Value = serde_json::from_str(out.trim()).unwrap();
    TestWorkspace {
        id: created["workspace_id"].as_str().unwrap().to_owned(),
        live_key: created["live_key"].as_str().unwrap().to_owned(),
        test_key: created["test_key"].as_str().unwrap().to_owned(),
    }
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    key: &str,
    body: Option<Value>,
) -> reqwest::Response {
    for _ in 0..200 {
        let mut request = client.request(method.clone(), &url).bearer_auth(key);
        if let Some(body) = &body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        // A fresh process may not know a key the CLI just made yet.
        if response.status() != 401 {
            return response;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the key never worked");
}

const PRIVATE_OK: (&str, &str) = ("ALLURECONNECT_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true");

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restart_in_the_middle_of_retries_loses_nothing() {
    let f = fixture().await;
    let ws = cli_workspace(&f.env, "Restart").await;
    let receiver = Receiver::start().await;
    receiver.set_default(Reply::Status(500));
    let vars = [
        PRIVATE_OK,
        // First retry after ~20 ms, then growing.
        ("ALLURECONNECT_WEBHOOKS_RETRY_SCALE", "0.001"),
        ("ALLURECONNECT_WEBHOOKS_TIMEOUT_MS", "1000"),
    ];
    let server = f.env.serve_with(&f.dir.path().join("s1.log"), &vars).await;
    let client = reqwest::Client::new();
    let created: Value = call(
        &client,
        reqwest::Method::POST,
        format!("{}/api/v1/webhooks", server.address),
        &ws.live_key,
        Some(json!({"url": receiver.url("/hook"), "event_types": ["api_key.created"]})),
    )
    .await
    .json()
    .await
    .unwrap();
    let webhook_id = created["id"].as_str().unwrap().to_owned();
    receiver.set_secrets(&[created["secret"].as_str().unwrap()]);
    let mut key_ids = Vec::new();
    for i in 0..3 {
        let key: Value = call(
            &client,
            reqwest::Method::POST,
            format!("{}/api/v1/api-keys", server.address),
            &ws.live_key,
            Some(json!({"label": format!("k{i}")})),
        )
        .await
        .json()
        .await
        .unwrap();
        key_ids.push(key["id"].as_str().unwrap().to_owned());
    }
    receiver
        .wait_until("the first event is retried", WAIT, |r| r.len() >= 4)
        .await;
    server.kill_9().await;
    let before_restart = receiver.requests();
    assert!(before_restart.iter().all(|r| !r.succeeded()));

    receiver.set_default(Reply::Status(200));
    let server = f.env.serve_with(&f.dir.path().join("s2.log"), &vars).await;
    let requests = receiver
        .wait_until("every event is delivered after the restart", WAIT, |r| {
            r.iter().filter(|r| r.succeeded()).count() >= 3
        })
        .await;
    let index = |r: &Received| {
        let key_id = r.json()["data"]["key_id"].as_str().unwrap().to_owned();
        key_ids.iter().position(|k| *k == key_id).unwrap()
    };
    let mut delivered = 0;
    for request in &requests {
        assert_eq!(index(request), delivered, "order broken across the restart");
        assert_eq!(request.verified, Some(true));
        if request.succeeded() {
            delivered += 1;
        }
    }
    // The attempts go on counting where the log left them.
    let first_success = requests.iter().find(|r| r.succeeded()).unwrap();
    let tried_before = before_restart.iter().filter(|r| index(r) == 0).count();
    let attempt: usize = first_success
        .header("AllureConnect-Delivery-Attempt")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        attempt >= tried_before,
        "attempt {attempt} after {tried_before} tries"
    );
    let page: Value = call(
        &client,
        reqwest::Method::GET,
        format!("{}/api/v1/webhooks/{webhook_id}/deliveries", server.address),
        &ws.live_key,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    let first = &page["deliveries"][0];
    assert!(first["attempts"].to_string().contains("500"), "{page}");
    server.kill_9().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_target_is_checked_again_at_delivery_time() {
    let f = fixture().await;
    let ws = cli_workspace(&f.env, "Recheck").await;
    let receiver = Receiver::start().await;
    // Created while private targets were allowed…
    let server = f
        .env
        .serve_with(&f.dir.path().join("s1.log"), &[PRIVATE_OK])
        .await;
    let client = reqwest::Client::new();
    let created: Value = call(
        &client,
        reqwest::Method::POST,
        format!("{}/api/v1/webhooks", server.address),
        &ws.live_key,
        Some(json!({"url": receiver.url("/hook"), "event_types": ["api_key.created"]})),
    )
    .await
    .json()
    .await
    .unwrap();
    let webhook_id = created["id"].as_str().unwrap().to_owned();
    server.terminate().await;
    // …and delivered by a server that refuses them.
    let server = f
        .env
        .serve_with(
            &f.dir.path().join("s2.log"),
            &[("ALLURECONNECT_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "false")],
        )
        .await;
    call(
        &client,
        reqwest::Method::POST,
        format!("{}/api/v1/api-keys", server.address),
        &ws.live_key,
        Some(json!({"label": "x"})),
    )
    .await;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let page: Value = call(
            &client,
            reqwest::Method::GET,
            format!("{}/api/v1/webhooks/{webhook_id}/deliveries", server.address),
            &ws.live_key,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
        if let Some(error) = page["deliveries"][0]["attempts"][0]["error"].as_str() {
            assert!(error.starts_with("refused"), "{error}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no attempt: {page}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        receiver.requests().is_empty(),
        "a refused target was reached"
    );
    server.kill_9().await;
}

/// The README's verification example, run as it is printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_verification_example_accepts_a_real_delivery() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let start = readme
        .find("```python\n# verify_webhook.py")
        .expect("the README has the python verification example");
    let code = &readme[start + "```python\n".len()..];
    let code = &code[..code.find("```").unwrap()];
    let app = fast_app().await;
    let ws = app.create_workspace("Readme").await;
    let receiver = Receiver::start().await;
    let created = hook(&app, &ws.live_key, &receiver, &["webhook.disabled"]).await;
    let id = created["id"].as_str().unwrap();
    json(app.test_webhook(&ws.live_key, id).await, 200).await;
    let request = receiver.requests().pop().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("verify_webhook.py");
    std::fs::write(&script, code).unwrap();
    let run = |secret: &str| {
        let header = request
            .header("AllureConnect-Signature")
            .unwrap()
            .to_owned();
        let body = request.body.clone();
        let script = script.clone();
        let secret = secret.to_owned();
        async move {
            tokio::process::Command::new("python3")
                .arg(&script)
                .arg(&secret)
                .arg(&header)
                .arg(&body)
                .output()
                .await
                .expect("python3 runs the README example")
        }
    };
    let good = run(created["secret"].as_str().unwrap()).await;
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    let bad = run("whsec_wrong").await;
    assert!(!bad.status.success());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_outbox_replayed_from_the_log_equals_the_live_one() {
    let app = fast_app().await;
    let ws = app.create_workspace("Replayed").await;
    let receiver = Receiver::start().await;
    receiver.script([Reply::Status(500), Reply::BreakConnection]);
    let created = hook(&app, &ws.live_key, &receiver, &["api_key.created"]).await;
    let id = created["id"].as_str().unwrap();
    for i in 0..3 {
        json(
            app.create_api_key(&ws.live_key, &format!("k{i}")).await,
            201,
        )
        .await;
    }
    json(
        app.rotate_webhook_secret(&ws.live_key, id, &json!({}))
            .await,
        200,
    )
    .await;
    json(app.test_webhook(&ws.live_key, id).await, 200).await;
    deliveries_until(&app, &ws.live_key, id, "all delivered", |d| {
        d.len() == 4 && d.iter().all(|d| d["state"] == "succeeded")
    })
    .await;
    let db = app.stop_keeping_db().await;

    let database = db.connect().await;
    let log = store::log::EventLog::open(&database).await.unwrap();
    let runtime = projections::Projections::new(database.clone(), log, projections::all());
    let view = projections::webhooks::WebhooksView;
    let live = projections::dump::projection(&database, &view)
        .await
        .unwrap();
    let attempts = &live
        .iter()
        .find(|(t, _)| t == "webhook_attempts")
        .unwrap()
        .1;
    assert!(attempts.len() >= 6, "{attempts:#?}");
    runtime.replay("webhooks").await.unwrap();
    let replayed = projections::dump::projection(&database, &view)
        .await
        .unwrap();
    assert_eq!(replayed, live, "the outbox rebuilt from the log differs");
    database.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_on_one_postgresql_never_send_a_delivery_twice() {
    let first = fast_app().await;
    if !first.db.is_postgres() {
        eprintln!("skipped: one SQLite file has one server (TEST_DATABASE_URL is not PostgreSQL)");
        first.stop().await;
        return;
    }
    let second = TestApp::spawn_on(TestDb::shared(first.db.url()), |s| {
        s.webhooks.retry_scale = FAST;
    })
    .await;
    let ws = first.create_workspace("Two").await;
    let receiver = Receiver::start().await;
    // Slow answers widen any window in which both could send.
    receiver.set_default(Reply::Hang(Duration::from_millis(20)));
    for _ in 0..3 {
        hook(&first, &ws.live_key, &receiver, &["api_key.created"]).await;
    }
    for i in 0..8 {
        let app = if i % 2 == 0 { &first } else { &second };
        json(
            app.create_api_key(&ws.live_key, &format!("k{i}")).await,
            201,
        )
        .await;
    }
    let requests = receiver
        .wait_until("24 deliveries", WAIT, |r| r.len() >= 24)
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let requests = if receiver.requests().len() > requests.len() {
        receiver.requests()
    } else {
        requests
    };
    let mut seen = BTreeMap::new();
    for request in &requests {
        *seen.entry(request.event_id()).or_insert(0) += 1;
    }
    assert_eq!(seen.len(), 24);
    assert!(
        seen.values().all(|n| *n == 1),
        "an event was sent twice: {seen:?}"
    );
    second.stop().await;
    first.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn course_events_arrive_in_order_for_one_course() {
    let app = fast_app().await;
    let ws = app.create_workspace("Courses").await;
    let receiver = Receiver::start().await;
    let created = hook(&app, &ws.live_key, &receiver, &["*"]).await;
    receiver.set_secrets(&[created["secret"].as_str().unwrap()]);
    // The first course.imported fails: course events of that course wait.
    receiver.script_matching("course.imported", [Reply::Status(500)]);
    let imported = app
        .import(&ws.live_key, "hooked-course", e2e::packages::scorm12())
        .await;
    assert_eq!(imported["status"], "complete", "{imported}");
    let refused = app
        .import(&ws.live_key, "broken-course", b"not a zip".to_vec())
        .await;
    assert_eq!(refused["status"], "failed", "{refused}");
    assert_eq!(
        app.delete(&ws.live_key, "/api/v1/courses/hooked-course")
            .await
            .status(),
        204
    );
    let requests = receiver
        .wait_until("the course's events arrive", WAIT, |r| {
            r.iter()
                .any(|r| r.succeeded() && r.event_type() == "course.deleted")
                && r.iter()
                    .any(|r| r.succeeded() && r.event_type() == "course.import_failed")
        })
        .await;
    assert!(requests.iter().all(|r| r.verified != Some(false)));
    let course: Vec<(String, bool)> = requests
        .iter()
        .filter(|r| r.json()["data"]["course_id"] == "hooked-course")
        .map(|r| (r.event_type(), r.succeeded()))
        .collect();
    assert_eq!(
        course,
        vec![
            ("course.import_started".to_owned(), true),
            ("course.imported".to_owned(), false),
            ("course.imported".to_owned(), true),
            ("course.version_published".to_owned(), true),
            ("course.deleted".to_owned(), true),
        ],
        "one course's events in log order, the failed one retried first"
    );
    let imported = requests
        .iter()
        .find(|r| r.succeeded() && r.event_type() == "course.imported")
        .unwrap()
        .json();
    assert_eq!(imported["data"]["version"], 1);
    assert!(imported["data"]["standard"].is_object() || imported["data"]["standard"].is_string());
    assert!(
        imported["data"].get("files").is_none(),
        "the file index is not sent"
    );
    let failed = requests
        .iter()
        .find(|r| r.event_type() == "course.import_failed")
        .unwrap()
        .json();
    assert_eq!(failed["data"]["course_id"], "broken-course");
    assert!(failed["data"]["code"].is_string());
    app.stop().await;
}
