use e2e::{TestApp, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_page_in_log_order_with_metadata() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Audit").await;
    let mut created = Vec::new();
    for i in 0..5 {
        let key = json(
            app.create_api_key(&ws.live_key, &format!("k{i}")).await,
            201,
        )
        .await;
        created.push(key["id"].as_str().unwrap().to_owned());
    }
    let first = json(app.events(&ws.live_key, 0, 2).await, 200).await;
    let events = first["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["type"], "WorkspaceCreated");
    assert_eq!(
        events[0]["data"]["name"], "Audit",
        "data is the payload itself"
    );
    assert_eq!(events[0]["stream_id"], format!("workspace:{}", ws.id));
    assert_eq!(events[0]["stream_version"], 1);
    assert_eq!(events[0]["schema_version"], 1);
    assert!(events[0]["metadata"]["environment"].is_null());
    assert_eq!(first["next_after"], events[1]["position"]);

    let all = app.all_events(&ws.live_key).await;
    let positions: Vec<i64> = all
        .iter()
        .map(|e| e["position"].as_i64().unwrap())
        .collect();
    let mut sorted = positions.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(positions.len(), sorted.len(), "an event was listed twice");
    let key_events: Vec<&serde_json::Value> = all
        .iter()
        .filter(|e| {
            e["type"] == "ApiKeyCreated"
                && e["metadata"]["actor"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("key:"))
        })
        .collect();
    let ids: Vec<&str> = key_events
        .iter()
        .map(|e| e["data"]["key_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        created.iter().map(String::as_str).collect::<Vec<_>>(),
        "events are in write order"
    );
    for event in key_events {
        assert_eq!(event["metadata"]["environment"], "live");
        assert!(
            event["metadata"]["request_id"]
                .as_str()
                .is_some_and(|r| !r.is_empty())
        );
        assert_eq!(
            event["metadata"]["correlation_id"],
            event["metadata"]["request_id"]
        );
        assert!(event["recorded_at"].as_str().unwrap().contains('T'));
    }
    // Past the end: an empty page that keeps the cursor.
    let last = *positions.last().unwrap();
    let end = json(app.events(&ws.live_key, last, 10).await, 200).await;
    assert!(end["events"].as_array().unwrap().is_empty());
    assert_eq!(end["next_after"], last);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_with_min_position_sees_the_write() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("RYW").await;
    let created = json(app.create_api_key(&ws.live_key, "ryw").await, 201).await;
    let position = created["position"].as_i64().unwrap();
    let list = json(
        app.get(
            &ws.live_key,
            &format!("/api/v1/api-keys?min_position={position}"),
        )
        .await,
        200,
    )
    .await;
    assert!(
        list["api_keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["id"] == created["id"])
    );
    let by_header = app
        .client
        .get(app.url("/api/v1/api-keys"))
        .bearer_auth(&ws.live_key)
        .header("x-allureconnect-min-position", position.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(by_header.status(), 200);
    app.stop().await;
}
