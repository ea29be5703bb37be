use e2e::{TestApp, error, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_created_shown_once_listed_and_revoked() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Keys").await;

    let created = json(app.create_api_key(&ws.live_key, "  ci runner ").await, 201).await;
    let secret = created["key"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(
        secret.starts_with("ac_live_") && secret.len() == 8 + 43,
        "{secret}"
    );
    assert_eq!(created["environment"], "live");
    assert_eq!(created["label"], "ci runner");
    assert!(created["position"].as_i64().unwrap() > 0);

    // The new key works at once (the write waited for its view).
    let me = json(app.workspace(&secret).await, 200).await;
    assert_eq!(me["workspace_id"], ws.id.as_str());

    // Listed without the secret.
    let list = json(app.api_keys(&ws.live_key).await, 200).await;
    let text = list.to_string();
    assert!(!text.contains(&secret[8..]), "the list shows a key");
    let ids: Vec<&str> = list["api_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&id.as_str()));
    assert!(
        list["api_keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["environment"] == "live")
    );
    let one = json(app.api_key(&ws.live_key, &id).await, 200).await;
    assert_eq!(one["label"], "ci runner");
    assert!(one["revoked_at"].is_null());

    // Revoked: refused at once, listed as revoked, not revocable twice.
    assert_eq!(app.revoke_api_key(&ws.live_key, &id).await.status(), 204);
    error(app.workspace(&secret).await, 401, "invalid_api_key").await;
    let one = json(app.api_key(&ws.live_key, &id).await, 200).await;
    assert!(one["revoked_at"].is_string());
    error(
        app.revoke_api_key(&ws.live_key, &id).await,
        409,
        "api_key_revoked",
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_active_key_of_an_environment_cannot_be_revoked() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Last").await;
    let list = json(app.api_keys(&ws.test_key).await, 200).await;
    let only = list["api_keys"][0]["id"].as_str().unwrap().to_owned();
    error(
        app.revoke_api_key(&ws.test_key, &only).await,
        409,
        "last_active_key",
    )
    .await;
    // Once there is another key, it can go.
    let other = json(app.create_api_key(&ws.test_key, "second").await, 201).await;
    assert_eq!(
        app.revoke_api_key(other["key"].as_str().unwrap(), &only)
            .await
            .status(),
        204
    );
    error(app.workspace(&ws.test_key).await, 401, "invalid_api_key").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_and_test_keys_are_separate_environments() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Envs").await;
    assert_eq!(
        json(app.workspace(&ws.live_key).await, 200).await["environment"],
        "live"
    );
    assert_eq!(
        json(app.workspace(&ws.test_key).await, 200).await["environment"],
        "test"
    );
    let test_key = json(app.create_api_key(&ws.test_key, "sandbox").await, 201).await;
    assert!(test_key["key"].as_str().unwrap().starts_with("ac_test_"));
    // A live key sees no test keys, and cannot read or revoke one.
    let live_list = json(app.api_keys(&ws.live_key).await, 200).await;
    assert!(
        live_list["api_keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["environment"] == "live")
    );
    let test_id = test_key["id"].as_str().unwrap();
    error(
        app.api_key(&ws.live_key, test_id).await,
        404,
        "api_key_not_found",
    )
    .await;
    error(
        app.revoke_api_key(&ws.live_key, test_id).await,
        404,
        "api_key_not_found",
    )
    .await;
    // Each key's events show only its environment's and workspace-wide
    // events, even for a command that made keys of both (workspace create).
    let events = app.all_events(&ws.test_key).await;
    assert!(
        events
            .iter()
            .all(|e| e["metadata"]["environment"] != "live"),
        "a test key saw live events"
    );
    assert!(
        events.iter().all(|e| e["data"]["environment"] != "live"),
        "a test key saw a live key's event"
    );
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "ApiKeyCreated" && e["data"]["key_id"] == test_id)
    );
    let live_events = app.all_events(&ws.live_key).await;
    assert!(
        live_events
            .iter()
            .all(|e| e["data"]["environment"] != "test"),
        "a live key saw a test key's event"
    );
    assert_eq!(
        live_events
            .iter()
            .filter(|e| e["type"] == "ApiKeyCreated")
            .count(),
        1
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_with_the_wrong_prefix_is_refused() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Prefix").await;
    // The live key's secret presented as a test key.
    let swapped = ws.live_key.replacen("ac_live_", "ac_test_", 1);
    error(app.workspace(&swapped).await, 401, "invalid_api_key").await;
    app.stop().await;
}
