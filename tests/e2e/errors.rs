use std::time::Duration;

use e2e::{TestApp, error, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_json_with_a_stable_code() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Errors").await;
    let client = &app.client;

    // 401s.
    let no_key = client
        .get(app.url("/api/v1/workspace"))
        .send()
        .await
        .unwrap();
    error(no_key, 401, "missing_credentials").await;
    let basic = client
        .get(app.url("/api/v1/workspace"))
        .header("authorization", "Basic dTpw")
        .send()
        .await
        .unwrap();
    error(basic, 401, "invalid_credentials").await;
    error(app.workspace("ac_live_nope").await, 401, "invalid_api_key").await;

    // 404 and 405 from the router.
    error(
        app.get(&ws.live_key, "/api/v1/nothing-here").await,
        404,
        "not_found",
    )
    .await;
    let put = client
        .put(app.url("/api/v1/workspace"))
        .bearer_auth(&ws.live_key)
        .send()
        .await
        .unwrap();
    error(put, 405, "method_not_allowed").await;

    // 400: bad query values and unknown parameters.
    error(
        app.events(&ws.live_key, -1, 10).await,
        400,
        "invalid_cursor",
    )
    .await;
    error(app.events(&ws.live_key, 0, 0).await, 400, "invalid_limit").await;
    error(
        app.events(&ws.live_key, 0, 5000).await,
        400,
        "invalid_limit",
    )
    .await;
    error(
        app.events(&ws.live_key, 999_999, 10).await,
        400,
        "invalid_cursor",
    )
    .await;
    error(
        app.get(&ws.live_key, "/api/v1/events?after=x").await,
        400,
        "invalid_query",
    )
    .await;
    error(
        app.get(&ws.live_key, "/api/v1/events?bogus=1").await,
        400,
        "invalid_query",
    )
    .await;
    error(
        app.get(&ws.live_key, "/api/v1/workspace?min_position=x")
            .await,
        400,
        "invalid_min_position",
    )
    .await;

    // 400/415/422 on bodies.
    let broken = client
        .post(app.url("/api/v1/api-keys"))
        .bearer_auth(&ws.live_key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    error(broken, 400, "invalid_json").await;
    let text = client
        .post(app.url("/api/v1/api-keys"))
        .bearer_auth(&ws.live_key)
        .body("label=x")
        .send()
        .await
        .unwrap();
    error(text, 415, "unsupported_media_type").await;
    let wrong_field = app
        .post(
            &ws.live_key,
            "/api/v1/api-keys",
            &serde_json::json!({"lable": "x"}),
        )
        .await;
    error(wrong_field, 422, "invalid_body").await;
    let long = app.create_api_key(&ws.live_key, &"x".repeat(201)).await;
    error(long, 422, "invalid_label").await;

    // 413: the body limit. The server answers before reading the body and
    // closes that connection, so this request gets a client of its own:
    // the shared pool would otherwise hand the closing connection to the
    // next request.
    let huge = reqwest::Client::new()
        .post(app.url("/api/v1/api-keys"))
        .bearer_auth(&ws.live_key)
        .header("content-type", "application/json")
        .body(format!(r#"{{"label":"{}"}}"#, "x".repeat(2 * 1024 * 1024)))
        .send()
        .await
        .unwrap();
    error(huge, 413, "payload_too_large").await;

    // Every error answer carries the request id it was logged with.
    let response = app.workspace("ac_live_nope").await;
    assert!(response.headers().contains_key("x-request-id"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_loses_nothing() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Nothing lost").await;
    let before = app.all_events(&ws.live_key).await.len();
    error(
        app.create_api_key(&ws.live_key, &"x".repeat(201)).await,
        422,
        "invalid_label",
    )
    .await;
    error(
        app.revoke_api_key(&ws.live_key, "key_nope").await,
        404,
        "api_key_not_found",
    )
    .await;
    assert_eq!(
        app.all_events(&ws.live_key).await.len(),
        before,
        "a refused request wrote events"
    );
    json(app.create_api_key(&ws.live_key, "fine").await, 201).await;
    assert_eq!(app.all_events(&ws.live_key).await.len(), before + 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_get_429_with_retry_after() {
    let app = TestApp::spawn_with(|s| {
        s.rate_limit.per_second = 1;
        s.rate_limit.burst = 3;
    })
    .await;
    let ws = app.create_workspace("Limits").await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(app.workspace(&ws.live_key).await.status().as_u16());
    }
    assert_eq!(&statuses[..3], &[200, 200, 200]);
    let limited = app.workspace(&ws.live_key).await;
    assert_eq!(limited.headers()["retry-after"], "1");
    error(limited, 429, "rate_limited").await;
    // Another key of the workspace has its own budget.
    assert_eq!(app.workspace(&ws.test_key).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(app.workspace(&ws.live_key).await.status(), 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_internal_error_leaks_nothing() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Broken").await;
    // Take the database away under the running server.
    app.state.platform.db.close().await;
    let response = app.workspace(&ws.live_key).await;
    let body = error(response, 500, "internal_error").await;
    let text = body.to_string().to_lowercase();
    for leak in ["pool", "sqlx", "sqlite", "postgres", "closed", "database"] {
        assert!(!text.contains(leak), "500 body mentions {leak:?}: {body}");
    }
    // Health still answers; readiness says the database is down.
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let ready = json(
        app.client.get(app.url("/readyz")).send().await.unwrap(),
        503,
    )
    .await;
    assert_eq!(ready["database"]["ok"], false);
}
