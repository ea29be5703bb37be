//! Tenancy on every endpoint: a key of workspace A never reads or writes
//! anything of workspace B, and gets 404 for B's resources. The table below
//! must name every route; a test checks that against the router's list.

use std::collections::BTreeSet;

use e2e::{TestApp, TestWorkspace, json};

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
