use std::collections::BTreeSet;

use e2e::{TestApp, json};

/// Every route of the API, as the router serves them.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/workspace"),
    ("get", "/api/v1/api-keys"),
    ("post", "/api/v1/api-keys"),
    ("get", "/api/v1/api-keys/{id}"),
    ("delete", "/api/v1/api-keys/{id}"),
    ("get", "/api/v1/events"),
    ("post", "/api/v1/courses"),
    ("get", "/api/v1/courses"),
    ("post", "/api/v1/courses/import-url"),
    ("get", "/api/v1/courses/{id}"),
    ("patch", "/api/v1/courses/{id}"),
    ("delete", "/api/v1/courses/{id}"),
    ("get", "/api/v1/courses/{id}/versions/{version}/files"),
    ("get", "/api/v1/courses/{id}/versions/{version}/package"),
    ("get", "/api/v1/imports/{id}"),
    ("post", "/api/v1/registrations"),
    ("get", "/api/v1/registrations"),
    ("get", "/api/v1/registrations/{id}"),
    ("delete", "/api/v1/registrations/{id}"),
    ("post", "/api/v1/registrations/{id}/reset"),
    ("post", "/api/v1/registrations/{id}/launch-link"),
    ("get", "/api/v1/registrations/{id}/launches"),
    ("get", "/api/v1/registrations/{id}/progress"),
    ("get", "/api/v1/registrations/{id}/runtime-log"),
    ("get", "/api/v1/registrations/{id}/sequencing"),
    ("get", "/api/v1/webhook-event-types"),
    ("get", "/api/v1/webhooks"),
    ("post", "/api/v1/webhooks"),
    ("get", "/api/v1/webhooks/{id}"),
    ("patch", "/api/v1/webhooks/{id}"),
    ("delete", "/api/v1/webhooks/{id}"),
    ("post", "/api/v1/webhooks/{id}/rotate-secret"),
    ("post", "/api/v1/webhooks/{id}/test"),
    ("get", "/api/v1/webhooks/{id}/deliveries"),
    ("post", "/api/v1/webhooks/{id}/replay"),
    ("post", "/api/v1/webhooks/deliveries/{id}/redeliver"),
    ("get", "/api/v1/lrs-credentials"),
    ("post", "/api/v1/lrs-credentials"),
    ("get", "/api/v1/lrs-credentials/{id}"),
    ("delete", "/api/v1/lrs-credentials/{id}"),
    ("post", "/api/v1/lrs-launch-tokens"),
    ("get", "/api/v1/lrs-forwarding"),
    ("put", "/api/v1/lrs-forwarding"),
    ("delete", "/api/v1/lrs-forwarding"),
    ("get", "/xapi/statements"),
    ("put", "/xapi/statements"),
    ("post", "/xapi/statements"),
    ("get", "/xapi/statements/more/{token}"),
    ("get", "/xapi/activities/state"),
    ("put", "/xapi/activities/state"),
    ("post", "/xapi/activities/state"),
    ("delete", "/xapi/activities/state"),
    ("get", "/xapi/activities/profile"),
    ("put", "/xapi/activities/profile"),
    ("post", "/xapi/activities/profile"),
    ("delete", "/xapi/activities/profile"),
    ("get", "/xapi/agents/profile"),
    ("put", "/xapi/agents/profile"),
    ("post", "/xapi/agents/profile"),
    ("delete", "/xapi/agents/profile"),
    ("get", "/xapi/activities"),
    ("get", "/xapi/agents"),
    ("get", "/xapi/about"),
    ("get", "/healthz"),
    ("get", "/readyz"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_covers_every_endpoint() {
    let app = TestApp::spawn().await;
    let doc = json(
        app.client
            .get(app.url("/api/v1/openapi.json"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect();
    let routes: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(documented, routes);
    // Each operation documents its error answers with the error schema.
    for (method, path) in &documented {
        let op = &doc["paths"][path][method];
        let responses = op["responses"].as_object().unwrap();
        assert!(
            !responses.is_empty(),
            "{method} {path} documents no response"
        );
        if op["security"].is_array() {
            assert!(
                responses.contains_key("401"),
                "{method} {path} does not document 401"
            );
        }
    }
    // Every route listed here really answers (not the router's 404).
    let ws = app.create_workspace("Doc").await;
    for (method, path) in ROUTES {
        let path = path
            .replace("{id}", "key_missing")
            .replace("{version}", "1");
        let request = app
            .client
            .request(method.to_uppercase().parse().unwrap(), app.url(&path));
        let response = request.bearer_auth(&ws.live_key).send().await.unwrap();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        assert!(
            !body.contains("\"code\":\"not_found\""),
            "{method} {path} is not routed: {status} {body}"
        );
    }
    app.stop().await;
}
