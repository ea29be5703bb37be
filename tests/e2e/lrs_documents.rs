//! The LRS document resources (State, Activity Profile, Agent Profile) and the Activities
//! and Agents resources.

use e2e::{TestApp, XapiClient, json};
use reqwest::{Method, Response};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::lrs::{COMPLETED, agent, statement};

const ACTIVITY: &str = "http://example.com/activities/doc";

fn ann() -> String {
    json!({"objectType": "Agent", "mbox": "mailto:ann@example.com"}).to_string()
}

async fn send(
    lrs: &XapiClient,
    method: Method,
    path: &str,
    query: &[(&str, &str)],
    body: Option<(&str, Vec<u8>)>,
    headers: &[(&str, &str)],
) -> Response {
    let mut request = lrs.document(method, path, query);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some((content_type, bytes)) = body {
        request = request.header("Content-Type", content_type).body(bytes);
    }
    request.send().await.expect("request failed")
}

fn json_body(value: Value) -> Option<(&'static str, Vec<u8>)> {
    Some(("application/json", value.to_string().into_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_documents_store_merge_list_and_delete() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("State").await;
    let lrs = app.xapi_key(&ws.live_key).version("1.0.3");
    let agent = ann();
    let registration = Uuid::new_v4().to_string();
    let q = |state_id: &'static str| {
        vec![
            ("activityId", ACTIVITY),
            ("agent", agent.as_str()),
            ("registration", registration.as_str()),
            ("stateId", state_id),
        ]
    };
    let path = "/activities/state";
    let put = send(
        &lrs,
        Method::PUT,
        path,
        &q("bookmark"),
        json_body(json!({"page": 3, "x": 1})),
        &[],
    )
    .await;
    assert_eq!(put.status(), 204);
    let got = send(&lrs, Method::GET, path, &q("bookmark"), None, &[]).await;
    assert_eq!(got.headers()["content-type"], "application/json");
    let etag = got.headers()["etag"].to_str().unwrap().to_owned();
    assert!(
        etag.starts_with('"') && etag.len() == 42,
        "a quoted sha-1: {etag}"
    );
    assert!(got.headers().contains_key("last-modified"));
    assert_eq!(json(got, 200).await, json!({"page": 3, "x": 1}));
    // POST merges JSON objects one level deep.
    let post = send(
        &lrs,
        Method::POST,
        path,
        &q("bookmark"),
        json_body(json!({"page": 4, "y": 2})),
        &[],
    )
    .await;
    assert_eq!(post.status(), 204);
    let merged = json(
        send(&lrs, Method::GET, path, &q("bookmark"), None, &[]).await,
        200,
    )
    .await;
    assert_eq!(merged, json!({"page": 4, "x": 1, "y": 2}));
    // A second document, then the list of ids, with since.
    send(
        &lrs,
        Method::PUT,
        path,
        &q("suspend"),
        Some(("text/plain", b"abc".to_vec())),
        &[],
    )
    .await;
    let list_query = vec![
        ("activityId", ACTIVITY),
        ("agent", agent.as_str()),
        ("registration", registration.as_str()),
    ];
    let ids = json(
        send(&lrs, Method::GET, path, &list_query, None, &[]).await,
        200,
    )
    .await;
    let mut ids: Vec<String> = serde_json::from_value(ids).unwrap();
    ids.sort();
    assert_eq!(ids, vec!["bookmark", "suspend"]);
    let text = send(&lrs, Method::GET, path, &q("suspend"), None, &[]).await;
    assert_eq!(text.headers()["content-type"], "text/plain");
    assert_eq!(text.bytes().await.unwrap().as_ref(), b"abc");
    let future = vec![
        ("activityId", ACTIVITY),
        ("agent", agent.as_str()),
        ("registration", registration.as_str()),
        ("since", "2999-01-01T00:00:00Z"),
    ];
    let none = json(send(&lrs, Method::GET, path, &future, None, &[]).await, 200).await;
    assert_eq!(none, json!([]));
    // Another registration is another set of documents.
    let other = vec![("activityId", ACTIVITY), ("agent", agent.as_str())];
    assert_eq!(
        json(send(&lrs, Method::GET, path, &other, None, &[]).await, 200).await,
        json!([])
    );
    // Delete one, then all.
    assert_eq!(
        send(&lrs, Method::DELETE, path, &q("bookmark"), None, &[])
            .await
            .status(),
        204
    );
    assert_eq!(
        send(&lrs, Method::GET, path, &q("bookmark"), None, &[])
            .await
            .status(),
        404
    );
    assert_eq!(
        send(&lrs, Method::DELETE, path, &list_query, None, &[])
            .await
            .status(),
        204
    );
    assert_eq!(
        json(
            send(&lrs, Method::GET, path, &list_query, None, &[]).await,
            200
        )
        .await,
        json!([])
    );
    // Parameters are checked.
    let no_agent = vec![("activityId", ACTIVITY), ("stateId", "s")];
    assert_eq!(
        send(&lrs, Method::GET, path, &no_agent, None, &[])
            .await
            .status(),
        400
    );
    let group = json!({"objectType": "Group", "mbox": "mailto:g@example.com"}).to_string();
    let as_group = vec![
        ("activityId", ACTIVITY),
        ("agent", group.as_str()),
        ("stateId", "s"),
    ];
    assert_eq!(
        send(&lrs, Method::GET, path, &as_group, None, &[])
            .await
            .status(),
        400
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_rules_of_documents() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Concurrency").await;
    let two = app.xapi_key(&ws.live_key);
    let one = two.version("1.0.3");
    let path = "/activities/profile";
    let q = |id: &'static str| vec![("activityId", ACTIVITY), ("profileId", id)];
    // Creating a profile: 1.0.3 wants If-None-Match: * (or If-Match); 2.0 does not.
    assert_eq!(
        send(
            &one,
            Method::PUT,
            path,
            &q("p1"),
            json_body(json!({"a": 1})),
            &[]
        )
        .await
        .status(),
        400
    );
    assert_eq!(
        send(
            &one,
            Method::PUT,
            path,
            &q("p1"),
            json_body(json!({"a": 1})),
            &[("If-None-Match", "*")]
        )
        .await
        .status(),
        204
    );
    assert_eq!(
        send(
            &two,
            Method::PUT,
            path,
            &q("p2"),
            json_body(json!({"b": 1})),
            &[]
        )
        .await
        .status(),
        204
    );
    // Replacing one that exists needs a precondition.
    let conflict = send(
        &two,
        Method::PUT,
        path,
        &q("p1"),
        json_body(json!({"a": 2})),
        &[],
    )
    .await;
    assert_eq!(conflict.status(), 409);
    assert!(!conflict.text().await.unwrap().is_empty());
    let etag = send(&two, Method::GET, path, &q("p1"), None, &[])
        .await
        .headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    let stale = "\"0000000000000000000000000000000000000000\"";
    assert_eq!(
        send(
            &two,
            Method::PUT,
            path,
            &q("p1"),
            json_body(json!({"a": 2})),
            &[("If-Match", stale)]
        )
        .await
        .status(),
        412
    );
    assert_eq!(
        send(
            &two,
            Method::PUT,
            path,
            &q("p1"),
            json_body(json!({"a": 2})),
            &[("If-None-Match", "*")]
        )
        .await
        .status(),
        412
    );
    assert_eq!(
        json(
            send(&two, Method::GET, path, &q("p1"), None, &[]).await,
            200
        )
        .await,
        json!({"a": 1}),
        "refused writes change nothing"
    );
    assert_eq!(
        send(
            &two,
            Method::PUT,
            path,
            &q("p1"),
            json_body(json!({"a": 2})),
            &[("If-Match", &etag)]
        )
        .await
        .status(),
        204
    );
    assert_eq!(
        json(
            send(&two, Method::GET, path, &q("p1"), None, &[]).await,
            200
        )
        .await,
        json!({"a": 2})
    );
    // DELETE with a stale If-Match is refused.
    assert_eq!(
        send(
            &two,
            Method::DELETE,
            path,
            &q("p1"),
            None,
            &[("If-Match", stale)]
        )
        .await
        .status(),
        412
    );
    // State: 1.0.x replaces freely, 2.0 asks for a precondition too.
    let agent = ann();
    let state = vec![
        ("activityId", ACTIVITY),
        ("agent", agent.as_str()),
        ("stateId", "s"),
    ];
    let state_path = "/activities/state";
    assert_eq!(
        send(
            &one,
            Method::PUT,
            state_path,
            &state,
            json_body(json!({})),
            &[]
        )
        .await
        .status(),
        204
    );
    assert_eq!(
        send(
            &one,
            Method::PUT,
            state_path,
            &state,
            json_body(json!({"v": 1})),
            &[]
        )
        .await
        .status(),
        204
    );
    assert_eq!(
        send(
            &two,
            Method::PUT,
            state_path,
            &state,
            json_body(json!({"v": 2})),
            &[]
        )
        .await
        .status(),
        409
    );
    // Merging into a document that is not JSON is refused.
    let agent_path = "/agents/profile";
    let aq = vec![("agent", agent.as_str()), ("profileId", "bin")];
    let bytes = vec![0u8, 159, 146, 150, 255];
    assert_eq!(
        send(
            &two,
            Method::PUT,
            agent_path,
            &aq,
            Some(("application/octet-stream", bytes.clone())),
            &[]
        )
        .await
        .status(),
        204
    );
    let got = send(&two, Method::GET, agent_path, &aq, None, &[]).await;
    assert_eq!(got.headers()["content-type"], "application/octet-stream");
    assert_eq!(got.bytes().await.unwrap().as_ref(), bytes.as_slice());
    assert_eq!(
        send(
            &two,
            Method::POST,
            agent_path,
            &aq,
            json_body(json!({"a": 1})),
            &[]
        )
        .await
        .status(),
        400
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_activities_and_agents_resources() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Objects").await;
    let lrs = app.xapi_key(&ws.live_key);
    let mut first = statement("pat", COMPLETED, "http://example.com/activities/known");
    first["object"]["definition"] =
        json!({"name": {"en-US": "known"}, "type": "http://example.com/types/course"});
    lrs.store(&first).await;
    let mut renamed = statement("pat", COMPLETED, "http://example.com/activities/known");
    renamed["actor"]["name"] = json!("Patricia");
    lrs.store(&renamed).await;
    let activity = json(
        lrs.request(Method::GET, "/activities")
            .query(&[("activityId", "http://example.com/activities/known")])
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(activity["objectType"], "Activity");
    assert_eq!(activity["definition"], first["object"]["definition"]);
    let unknown = json(
        lrs.request(Method::GET, "/activities")
            .query(&[("activityId", "http://example.com/activities/never")])
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(
        unknown,
        json!({"objectType": "Activity", "id": "http://example.com/activities/never"})
    );
    assert_eq!(
        lrs.request(Method::GET, "/activities")
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    let pat = agent("pat");
    let person = json(
        lrs.request(Method::GET, "/agents")
            .query(&[("agent", pat.to_string())])
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(person["objectType"], "Person");
    let mut names: Vec<String> = serde_json::from_value(person["name"].clone()).unwrap();
    names.sort();
    assert_eq!(names, vec!["Patricia", "pat"]);
    assert_eq!(person["mbox"], json!(["mailto:pat@example.com"]));
    app.stop().await;
}
