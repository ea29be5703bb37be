//! Tenancy on every endpoint: a key of workspace A never reads or writes
//! anything of workspace B, and gets 404 for B's resources. The table below
//! must name every route; a test checks that against the router's list.

use std::collections::BTreeSet;

use e2e::receiver::Receiver;
use e2e::{TestApp, TestWorkspace, error, json};
use serde_json::json as body;

use crate::openapi::ROUTES;

/// How each route is checked across workspaces.
const CASES: &[(&str, &str, &str)] = &[
    (
        "get",
        "/api/v1/workspace",
        "answers with the caller's own workspace",
    ),
    ("get", "/api/v1/api-keys", "lists only the caller's keys"),
    (
        "post",
        "/api/v1/api-keys",
        "creates the key in the caller's workspace",
    ),
    ("get", "/api/v1/api-keys/{id}", "404 for B's key"),
    (
        "delete",
        "/api/v1/api-keys/{id}",
        "404 for B's key; B's key still works",
    ),
    ("get", "/api/v1/events", "only the caller's events"),
    (
        "get",
        "/api/v1/webhook-event-types",
        "the public catalogue, no workspace data",
    ),
    (
        "get",
        "/api/v1/webhooks",
        "lists only the caller's endpoints",
    ),
    (
        "post",
        "/api/v1/webhooks",
        "creates the endpoint in the caller's scope; it never receives B's events",
    ),
    ("get", "/api/v1/webhooks/{id}", "404 for B's endpoint"),
    (
        "patch",
        "/api/v1/webhooks/{id}",
        "404 for B's endpoint; B's is unchanged",
    ),
    (
        "delete",
        "/api/v1/webhooks/{id}",
        "404 for B's endpoint; B's still exists",
    ),
    (
        "post",
        "/api/v1/webhooks/{id}/rotate-secret",
        "404 for B's endpoint; B's secret still signs",
    ),
    (
        "post",
        "/api/v1/webhooks/{id}/test",
        "404 for B's endpoint; nothing sent",
    ),
    (
        "get",
        "/api/v1/webhooks/{id}/deliveries",
        "404 for B's endpoint",
    ),
    (
        "post",
        "/api/v1/webhooks/{id}/replay",
        "404 for B's endpoint; nothing sent",
    ),
    (
        "post",
        "/api/v1/webhooks/deliveries/{id}/redeliver",
        "404 for B's delivery; nothing sent",
    ),
    (
        "post",
        "/api/v1/courses",
        "a course id of B names a new course of A; B's course is untouched",
    ),
    ("get", "/api/v1/courses", "lists only the caller's courses"),
    (
        "post",
        "/api/v1/courses/import-url",
        "imports into the caller's workspace",
    ),
    ("get", "/api/v1/courses/{id}", "404 for B's course"),
    ("patch", "/api/v1/courses/{id}", "404 for B's course"),
    (
        "delete",
        "/api/v1/courses/{id}",
        "404 for B's course; B's course stays",
    ),
    (
        "get",
        "/api/v1/courses/{id}/versions/{version}/files",
        "404 for B's course",
    ),
    (
        "get",
        "/api/v1/courses/{id}/versions/{version}/package",
        "404 for B's course",
    ),
    ("get", "/api/v1/imports/{id}", "404 for B's import"),
    (
        "post",
        "/api/v1/registrations",
        "only on the caller's courses",
    ),
    (
        "get",
        "/api/v1/registrations",
        "lists only the caller's registrations",
    ),
    (
        "get",
        "/api/v1/registrations/{id}",
        "404 for B's registration (runtime::registrations_never_cross_workspaces)",
    ),
    (
        "delete",
        "/api/v1/registrations/{id}",
        "404 for B's registration",
    ),
    (
        "post",
        "/api/v1/registrations/{id}/reset",
        "404 for B's registration",
    ),
    (
        "post",
        "/api/v1/registrations/{id}/launch-link",
        "404 for B's registration",
    ),
    (
        "get",
        "/api/v1/registrations/{id}/launches",
        "404 for B's registration",
    ),
    (
        "get",
        "/api/v1/registrations/{id}/progress",
        "404 for B's registration",
    ),
    (
        "get",
        "/api/v1/registrations/{id}/runtime-log",
        "404 for B's registration",
    ),
    (
        "get",
        "/api/v1/registrations/{id}/sequencing",
        "404 for B's registration; learners' shared objectives stay in their workspace (runtime::sequenced_courses_follow_the_sequencer)",
    ),
    // The LRS: lrs_access::no_workspace_reaches_another_lrs (statements, documents,
    // activities, credentials), lrs::the_acceptance_flow_… (workspaces and sandbox),
    // lrs_forwarding::forwarding_is_configured_per_environment.
    (
        "get",
        "/api/v1/lrs-credentials",
        "lists only the caller's credentials",
    ),
    (
        "post",
        "/api/v1/lrs-credentials",
        "the credential reaches only the caller's LRS",
    ),
    (
        "get",
        "/api/v1/lrs-credentials/{id}",
        "404 for B's credential",
    ),
    (
        "delete",
        "/api/v1/lrs-credentials/{id}",
        "404 for B's credential; it still works",
    ),
    (
        "post",
        "/api/v1/lrs-launch-tokens",
        "the token reaches only the caller's LRS",
    ),
    (
        "get",
        "/api/v1/lrs-forwarding",
        "the caller's environment's target only",
    ),
    (
        "put",
        "/api/v1/lrs-forwarding",
        "forwards only the caller's statements",
    ),
    (
        "delete",
        "/api/v1/lrs-forwarding",
        "the caller's target only",
    ),
    (
        "get",
        "/xapi/statements",
        "404 by id and empty filters for B's statements",
    ),
    (
        "put",
        "/xapi/statements",
        "the same id in B is B's own statement",
    ),
    (
        "post",
        "/xapi/statements",
        "stored in the credential's workspace only",
    ),
    (
        "get",
        "/xapi/statements/more/{token}",
        "a page of the caller's own query",
    ),
    ("get", "/xapi/activities/state", "404 for B's document"),
    (
        "put",
        "/xapi/activities/state",
        "writes the caller's document only",
    ),
    (
        "post",
        "/xapi/activities/state",
        "merges into the caller's document only",
    ),
    (
        "delete",
        "/xapi/activities/state",
        "deletes the caller's documents only",
    ),
    (
        "get",
        "/xapi/activities/profile",
        "the caller's profiles only",
    ),
    (
        "put",
        "/xapi/activities/profile",
        "writes the caller's profile only",
    ),
    (
        "post",
        "/xapi/activities/profile",
        "merges into the caller's profile only",
    ),
    (
        "delete",
        "/xapi/activities/profile",
        "the caller's profiles only",
    ),
    ("get", "/xapi/agents/profile", "the caller's profiles only"),
    (
        "put",
        "/xapi/agents/profile",
        "writes the caller's profile only",
    ),
    (
        "post",
        "/xapi/agents/profile",
        "merges into the caller's profile only",
    ),
    (
        "delete",
        "/xapi/agents/profile",
        "the caller's profiles only",
    ),
    ("get", "/xapi/activities", "B's definitions never show"),
    (
        "get",
        "/xapi/agents",
        "only agents of the caller's statements",
    ),
    ("get", "/xapi/about", "no workspace data"),
    ("get", "/healthz", "no workspace data"),
    ("get", "/readyz", "no workspace data"),
];

#[test]
fn every_route_has_a_tenancy_case() {
    let cased: BTreeSet<(&str, &str)> = CASES.iter().map(|(m, p, _)| (*m, *p)).collect();
    let routes: BTreeSet<(&str, &str)> = ROUTES.iter().copied().collect();
    assert_eq!(cased, routes, "add a tenancy case for each new route");
}

async fn key_id_of(app: &TestApp, key: &str) -> String {
    let list = json(app.api_keys(key).await, 200).await;
    list["api_keys"][0]["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_never_sees_another() {
    let app = TestApp::spawn().await;
    let a: TestWorkspace = app.create_workspace("A").await;
    let b: TestWorkspace = app.create_workspace("B").await;
    let b_key_id = key_id_of(&app, &b.live_key).await;

    // GET /api/v1/workspace
    let me = json(app.workspace(&a.live_key).await, 200).await;
    assert_eq!(me["workspace_id"], a.id.as_str());

    // GET /api/v1/api-keys
    let list = json(app.api_keys(&a.live_key).await, 200).await;
    assert!(!list.to_string().contains(&b_key_id));

    // POST /api/v1/api-keys
    let created = json(app.create_api_key(&a.live_key, "from A").await, 201).await;
    assert!(
        !json(app.api_keys(&b.live_key).await, 200)
            .await
            .to_string()
            .contains(created["id"].as_str().unwrap())
    );

    // GET and DELETE /api/v1/api-keys/{id} with B's key id
    let got = app.api_key(&a.live_key, &b_key_id).await;
    assert_eq!(got.status(), 404);
    let revoked = app.revoke_api_key(&a.live_key, &b_key_id).await;
    assert_eq!(revoked.status(), 404);
    assert_eq!(
        app.workspace(&b.live_key).await.status(),
        200,
        "B's key was revoked by A"
    );

    // GET /api/v1/events: nothing of B, in any form.
    let a_events = app.all_events(&a.live_key).await;
    let text = serde_json::to_string(&a_events).unwrap();
    assert!(!text.contains(&b.id), "A's events mention B's workspace id");
    assert!(!text.contains(&b_key_id), "A's events mention B's key");
    // Paging from one of B's positions is still only A's events.
    let b_events = app.all_events(&b.live_key).await;
    let b_position = b_events.last().unwrap()["position"].as_i64().unwrap();
    let page = json(app.events(&a.live_key, b_position, 1000).await, 200).await;
    assert!(!page.to_string().contains(&b.id));

    // Health endpoints carry no workspace data.
    for path in ["/healthz", "/readyz"] {
        let body = app
            .client
            .get(app.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            !body.contains(&a.id) && !body.contains(&b.id),
            "{path} shows a workspace"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webhooks_never_cross_workspaces_or_environments() {
    let app = TestApp::spawn().await;
    let a: TestWorkspace = app.create_workspace("A").await;
    let b: TestWorkspace = app.create_workspace("B").await;
    let a_receiver = Receiver::start().await;
    let b_receiver = Receiver::start().await;
    let a_hook = json(
        app.create_webhook(&a.live_key, &body!({"url": a_receiver.url("/a")}))
            .await,
        201,
    )
    .await;
    let b_hook = json(
        app.create_webhook(&b.live_key, &body!({"url": b_receiver.url("/b")}))
            .await,
        201,
    )
    .await;
    let b_id = b_hook["id"].as_str().unwrap();
    b_receiver.set_secrets(&[b_hook["secret"].as_str().unwrap()]);
    // B's endpoint has a delivery (its own webhook.created).
    let b_delivery = b_receiver
        .wait_until(
            "B's endpoint hears of itself",
            std::time::Duration::from_secs(30),
            |r| !r.is_empty(),
        )
        .await[0]
        .header("AllureConnect-Delivery-Id")
        .unwrap()
        .to_owned();

    // GET /api/v1/webhook-event-types needs no key and shows no workspace.
    let types = app
        .client
        .get(app.url("/api/v1/webhook-event-types"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!types.contains(&a.id) && !types.contains(&b.id));
    // GET /api/v1/webhooks: only A's, and nothing for A's test key.
    let listed = json(app.webhooks(&a.live_key).await, 200).await;
    assert_eq!(listed["webhooks"].as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains(b_id));
    assert_eq!(
        json(app.webhooks(&a.test_key).await, 200).await["webhooks"],
        body!([])
    );
    // B's endpoint by id, with A's key: 404 on every route.
    error(
        app.webhook(&a.live_key, b_id).await,
        404,
        "webhook_not_found",
    )
    .await;
    error(
        app.update_webhook(&a.live_key, b_id, &body!({"enabled": false}))
            .await,
        404,
        "webhook_not_found",
    )
    .await;
    error(
        app.delete_webhook(&a.live_key, b_id).await,
        404,
        "webhook_not_found",
    )
    .await;
    error(
        app.rotate_webhook_secret(&a.live_key, b_id, &body!({}))
            .await,
        404,
        "webhook_not_found",
    )
    .await;
    error(
        app.test_webhook(&a.live_key, b_id).await,
        404,
        "webhook_not_found",
    )
    .await;
    error(
        app.webhook_deliveries(&a.live_key, b_id).await,
        404,
        "webhook_not_found",
    )
    .await;
    error(
        app.replay_webhook(
            &a.live_key,
            b_id,
            "2020-01-01T00:00:00Z",
            "2100-01-01T00:00:00Z",
        )
        .await,
        404,
        "webhook_not_found",
    )
    .await;
    error(
        app.redeliver(&a.live_key, &b_delivery).await,
        404,
        "delivery_not_found",
    )
    .await;
    // Nor with B's own test key: environments are scopes too.
    error(
        app.webhook(&b.test_key, b_id).await,
        404,
        "webhook_not_found",
    )
    .await;
    // B's endpoint is untouched and still works with its first secret.
    let b_shown = json(app.webhook(&b.live_key, b_id).await, 200).await;
    assert_eq!(b_shown["enabled"], true);
    json(app.test_webhook(&b.live_key, b_id).await, 200).await;
    // (Requests that came before the receiver knew the secret are unchecked.)
    let requests = b_receiver.requests();
    assert!(requests.iter().all(|r| r.verified != Some(false)));
    assert!(requests.iter().any(|r| r.verified == Some(true)));
    // POST /api/v1/webhooks: A's endpoint never receives B's events.
    json(app.create_api_key(&b.live_key, "b's").await, 201).await;
    json(app.create_api_key(&a.live_key, "a's").await, 201).await;
    let a_requests = a_receiver
        .wait_until(
            "A hears of its own key",
            std::time::Duration::from_secs(30),
            |r| r.iter().any(|r| r.event_type() == "api_key.created"),
        )
        .await;
    for request in &a_requests {
        let payload = request.json();
        assert_eq!(payload["workspace_id"], a.id.as_str(), "{payload}");
        assert!(!request.body.contains(&b.id));
    }
    let _ = a_hook;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn courses_and_imports_never_cross_workspaces() {
    let app = TestApp::spawn().await;
    let a: TestWorkspace = app.create_workspace("A").await;
    let b: TestWorkspace = app.create_workspace("B").await;
    let b_import = app
        .import(&b.live_key, "shared-id", e2e::packages::scorm12())
        .await;
    assert_eq!(b_import["status"], "complete");
    let b_import_id = b_import["import_id"].as_str().unwrap();

    // GET, PATCH, DELETE, files and package of B's course: 404 for A.
    assert_eq!(app.course(&a.live_key, "shared-id").await.status(), 404);
    let patch = app
        .client
        .patch(app.url("/api/v1/courses/shared-id"))
        .bearer_auth(&a.live_key)
        .json(&serde_json::json!({"title": "hijacked"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 404);
    assert_eq!(
        app.delete(&a.live_key, "/api/v1/courses/shared-id")
            .await
            .status(),
        404
    );
    assert_eq!(
        app.get(&a.live_key, "/api/v1/courses/shared-id/versions/1/files")
            .await
            .status(),
        404
    );
    assert_eq!(
        app.get(&a.live_key, "/api/v1/courses/shared-id/versions/1/package")
            .await
            .status(),
        404
    );
    // GET /imports/{id} of B's import.
    assert_eq!(
        app.get(&a.live_key, &format!("/api/v1/imports/{b_import_id}"))
            .await
            .status(),
        404
    );
    // The test environment of B does not see B's live course either.
    assert_eq!(app.course(&b.test_key, "shared-id").await.status(), 404);

    // POST /courses with B's course id makes A's own course; B's is untouched.
    let mine = app
        .import(&a.live_key, "shared-id", e2e::packages::scorm2004(1))
        .await;
    assert_eq!(mine["status"], "complete");
    assert_eq!(
        mine["version"], 1,
        "A's course is a new course, not B's version 2"
    );
    let theirs = json(app.course(&b.live_key, "shared-id").await, 200).await;
    assert_eq!(theirs["standard"], "scorm12");
    assert_eq!(theirs["title"], "Test Course 1.2");
    assert_eq!(theirs["versions"].as_array().unwrap().len(), 1);

    // GET /courses: each sees its own.
    let listed = json(app.get(&a.live_key, "/api/v1/courses").await, 200).await;
    assert_eq!(listed["courses"].as_array().unwrap().len(), 1);
    assert_eq!(listed["courses"][0]["standard"], "scorm2004");

    // POST /courses/import-url lands in the caller's workspace only.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let zip = e2e::packages::cmi5();
    let router = axum::Router::new().route(
        "/p.zip",
        axum::routing::get(move || async move { zip.clone() }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let fetched = app
        .post(
            &a.live_key,
            "/api/v1/courses/import-url",
            &serde_json::json!({"url": format!("http://{address}/p.zip"), "course_id": "via-url"}),
        )
        .await;
    assert_eq!(fetched.status(), 201);
    assert_eq!(app.course(&b.live_key, "via-url").await.status(), 404);
    // B's events show nothing of A's courses.
    let b_events = serde_json::to_string(&app.all_events(&b.live_key).await).unwrap();
    assert!(!b_events.contains("via-url") && !b_events.contains(&a.id));
    app.stop().await;
}
