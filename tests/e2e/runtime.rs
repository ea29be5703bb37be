//! Registrations, launches and the runtime protocol (PROTOCOL.md), spoken
//! over HTTP as the player's JavaScript speaks it. The real browser runs
//! the same protocol in the browser tests.

use std::time::Duration;

use e2e::{TestApp, TestWorkspace, error, json, packages};
use serde_json::{Value, json};

async fn course(app: &TestApp, key: &str, id: &str, package: Vec<u8>) {
    let import = app.import(key, id, package).await;
    assert_eq!(import["status"], "complete", "{import}");
}

async fn register(app: &TestApp, key: &str, id: &str, course: &str) -> Value {
    json(
        app.post(
            key,
            "/api/v1/registrations",
            &json!({"registration_id": id, "course_id": course, "learner": {"id": "l1", "first_name": "Ada", "last_name": "Lovelace"}}),
        )
        .await,
        201,
    )
    .await
}

async fn launch_url(app: &TestApp, key: &str, id: &str, body: Value) -> String {
    let link = json(
        app.post(
            key,
            &format!("/api/v1/registrations/{id}/launch-link"),
            &body,
        )
        .await,
        200,
    )
    .await;
    link["launch_url"].as_str().unwrap().to_owned()
}

/// A player session, driven by hand.
struct Session {
    client: reqwest::Client,
    content: String,
    token: String,
    start: Value,
}

impl Session {
    async fn start(app: &TestApp, url: &str) -> Session {
        let token = url.rsplit('/').next().unwrap().to_owned();
        let response = app
            .client
            .post(format!("{}/runtime/sessions", app.content))
            .header("user-agent", "e2e-browser/1.0")
            .json(&json!({"launch_token": token}))
            .send()
            .await
            .unwrap();
        let start = json(response, 200).await;
        Session {
            client: app.client.clone(),
            content: app.content.clone(),
            token: start["session_token"].as_str().unwrap().to_owned(),
            start,
        }
    }

    async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.client
            .post(format!("{}/runtime/{}/{path}", self.content, self.token))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn deliver(&self, activity: &str) -> Value {
        json(
            self.post("deliver", json!({"activity_id": activity})).await,
            200,
        )
        .await
    }

    async fn commit(
        &self,
        batch: u64,
        activity: &str,
        calls: Value,
        last: bool,
    ) -> reqwest::Response {
        self.post(
            "commit",
            json!({"batch": batch, "activity_id": activity, "calls": calls, "final": last}),
        )
        .await
    }
}

fn call(seq: u64, function: &str, extra: Value, result: &str, error: u16) -> Value {
    let mut call = json!({"seq": seq, "fn": function, "result": result, "error": error, "at": "2026-11-28T05:00:00Z"});
    for (k, v) in extra.as_object().unwrap() {
        call[k] = v.clone();
    }
    call
}

fn set(seq: u64, element: &str, value: &str) -> Value {
    call(
        seq,
        "LMSSetValue",
        json!({"element": element, "value": value}),
        "true",
        0,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_are_idempotent_pinned_listed_and_deleted() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Registrations").await;
    let key = &ws.live_key;
    course(&app, key, "c12", packages::scorm12()).await;
    let created = register(&app, key, "r1", "c12").await;
    assert_eq!(created["course_version"], 1);
    assert_eq!(created["learner"]["first_name"], "Ada");
    // The same again: 200, nothing new.
    let again = app
        .post(
            key,
            "/api/v1/registrations",
            &json!({"registration_id": "r1", "course_id": "c12", "learner": {"id": "l1"}}),
        )
        .await;
    assert_eq!(again.status(), 200);
    let other = app
        .post(
            key,
            "/api/v1/registrations",
            &json!({"registration_id": "r1", "course_id": "c12", "learner": {"id": "l2"}}),
        )
        .await;
    error(other, 409, "registration_exists").await;
    error(
        app.post(
            key,
            "/api/v1/registrations",
            &json!({"course_id": "nope", "learner": {"id": "l1"}}),
        )
        .await,
        404,
        "course_not_found",
    )
    .await;
    error(
        app.post(
            key,
            "/api/v1/registrations",
            &json!({"course_id": "c12", "learner": {"id": ""}}),
        )
        .await,
        422,
        "invalid_learner",
    )
    .await;
    // A new course version does not move an existing registration.
    course(&app, key, "c12", packages::scorm12()).await;
    let r2 = register(&app, key, "r2", "c12").await;
    assert_eq!(r2["course_version"], 2);
    assert_eq!(
        json(app.get(key, "/api/v1/registrations/r1").await, 200).await["course_version"],
        1
    );
    // Lists by course and learner, paged.
    let page = json(
        app.get(key, "/api/v1/registrations?course_id=c12&limit=1")
            .await,
        200,
    )
    .await;
    assert_eq!(page["registrations"].as_array().unwrap().len(), 1);
    let next = page["next_cursor"].as_str().unwrap();
    let page2 = json(
        app.get(
            key,
            &format!("/api/v1/registrations?course_id=c12&limit=1&cursor={next}"),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(page2["registrations"][0]["id"], "r2");
    assert!(
        json(
            app.get(key, "/api/v1/registrations?learner_id=zz").await,
            200
        )
        .await["registrations"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        app.delete(key, "/api/v1/registrations/r2").await.status(),
        204
    );
    error(
        app.get(key, "/api/v1/registrations/r2").await,
        404,
        "registration_not_found",
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_links_are_signed_and_expire() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Links").await;
    course(&app, &ws.live_key, "c12", packages::scorm12()).await;
    register(&app, &ws.live_key, "r1", "c12").await;
    let url = launch_url(&app, &ws.live_key, "r1", json!({"expiry_seconds": 600})).await;
    assert!(
        url.starts_with(&format!("{}/launch/", app.content)),
        "{url}"
    );
    let page = app.client.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("\"scorm_version\":\"1.2\"") && html.contains("Test Course 1.2"),
        "{html}"
    );
    // Tampered: one character of the signature.
    let mut bytes = url.clone().into_bytes();
    let at = bytes.len() - 2;
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    let tampered = app
        .client
        .get(String::from_utf8(bytes).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(tampered.status(), 403);
    let text = tampered.text().await.unwrap();
    assert!(
        text.contains("not valid") && !text.contains("panicked"),
        "{text}"
    );
    // Expired.
    let short = launch_url(&app, &ws.live_key, "r1", json!({"expiry_seconds": 1})).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let expired = app.client.get(&short).send().await.unwrap();
    assert_eq!(expired.status(), 403);
    assert!(expired.text().await.unwrap().contains("expired"));
    error(
        app.post(
            &ws.live_key,
            "/api/v1/registrations/r1/launch-link",
            &json!({"expiry_seconds": 0}),
        )
        .await,
        400,
        "invalid_expiry",
    )
    .await;
    error(
        app.post(
            &ws.live_key,
            "/api/v1/registrations/r1/launch-link",
            &json!({"redirect_url": "javascript:alert(1)"}),
        )
        .await,
        400,
        "invalid_redirect_url",
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_is_recorded_once_and_progress_follows() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Runtime").await;
    let key = &ws.live_key;
    course(&app, key, "c12", packages::scorm12()).await;
    register(&app, key, "r1", "c12").await;
    let url = launch_url(&app, key, "r1", json!({"expiry_seconds": 600})).await;
    let session = Session::start(&app, &url).await;
    assert_eq!(session.start["navigation"]["deliver"], "i1");
    assert_eq!(session.start["resumed"], false);
    let delivered = session.deliver("i1").await;
    assert_eq!(delivered["context"]["mastery_score"], "80");
    assert_eq!(delivered["context"]["learner_name"], "Lovelace, Ada");
    assert!(delivered["context"]["prior"].is_null());

    // The SCO's file, from the content origin.
    let file_url = format!("{}{}", app.content, delivered["url"].as_str().unwrap());
    assert!(file_url.contains("index.html?lesson=1"), "{file_url}");
    let file = app.client.get(&file_url).send().await.unwrap();
    assert_eq!(file.status(), 200);
    assert!(
        file.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let etag = file.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(file.text().await.unwrap(), packages::SCO_12);
    let again = app
        .client
        .get(&file_url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let css = file_url.replace("index.html?lesson=1", "shared/style.css");
    let range = app
        .client
        .get(&css)
        .header("range", "bytes=0-3")
        .send()
        .await
        .unwrap();
    assert_eq!(range.status(), 206);
    assert_eq!(range.headers()["content-range"], "bytes 0-3/20");
    assert_eq!(range.text().await.unwrap(), "body");
    let beyond = app
        .client
        .get(&css)
        .header("range", "bytes=50-")
        .send()
        .await
        .unwrap();
    assert_eq!(beyond.status(), 416);
    assert_eq!(
        app.client
            .get(css.replace("style.css", "nope.css"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // Batch 1: initialize, score, location, a refused read-only write.
    let batch1 = json!([
        call(0, "LMSInitialize", json!({"arg": ""}), "true", 0),
        set(1, "cmi.core.score.raw", "87"),
        set(2, "cmi.core.lesson_location", "page-7"),
        call(
            3,
            "LMSSetValue",
            json!({"element": "cmi.core.student_id", "value": "x"}),
            "false",
            403
        ),
        call(4, "LMSGetLastError", json!({}), "403", 403),
        call(5, "LMSCommit", json!({"arg": ""}), "true", 0),
    ]);
    assert_eq!(
        json(session.commit(1, "i1", batch1.clone(), false).await, 200).await["acked"],
        1
    );
    // The same batch again: acknowledged, nothing appended.
    let before = app.all_events(key).await.len();
    assert_eq!(
        json(session.commit(1, "i1", batch1, false).await, 200).await["acked"],
        1
    );
    assert_eq!(
        app.all_events(key).await.len(),
        before,
        "a retried batch appended events"
    );
    // A gap in the numbering is refused, and the refusal recorded.
    error(
        session.commit(3, "i1", json!([]), false).await,
        409,
        "batch_out_of_order",
    )
    .await;
    // Batch 2: status, finish.
    let batch2 = json!([
        set(6, "cmi.core.lesson_status", "passed"),
        call(7, "LMSFinish", json!({"arg": ""}), "true", 0),
    ]);
    let done = json(session.commit(2, "i1", batch2, true).await, 200).await;
    let position = done["position"].as_i64().unwrap();
    assert!(position > 0);

    let progress = json(
        app.get(
            key,
            &format!("/api/v1/registrations/r1/progress?min_position={position}"),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(progress["success"], "passed", "{progress}");
    assert_eq!(progress["completion"], "completed");
    assert_eq!(progress["score"]["raw"], 87.0);
    assert_eq!(progress["score"]["scaled"], 0.87);
    let activity = &progress["activities"][0];
    assert_eq!(activity["lesson_status"], "passed");
    assert_eq!(activity["runtime"]["cmi.core.lesson_location"], "page-7");
    assert!(progress["completed_at"].is_string());

    // The runtime log: every call, in order, with both clocks.
    let log = json(
        app.get(key, "/api/v1/registrations/r1/runtime-log").await,
        200,
    )
    .await;
    let calls = log["calls"].as_array().unwrap();
    let seqs: Vec<i64> = calls.iter().map(|c| c["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (0..8).collect::<Vec<_>>());
    assert_eq!(calls[3]["element"], "cmi.core.student_id");
    assert_eq!(calls[3]["error"], 403);
    assert_eq!(calls[1]["fn"], "SetValue");
    assert!(
        calls
            .iter()
            .all(|c| c["server_at"].is_string() && c["client_at"].is_string())
    );
    assert!(
        calls.iter().all(|c| c["server_result"].is_null()),
        "the server agreed with every call"
    );

    // Events: one per accepted SetValue, one per batch, one refusal.
    let events = app.all_events(key).await;
    let count = |t: &str| events.iter().filter(|e| e["type"] == t).count();
    assert_eq!(count("RuntimeValueSet"), 3);
    assert_eq!(count("RuntimeBatchCommitted"), 2);
    assert_eq!(count("RuntimeBatchRefused"), 1);
    let launches = json(
        app.get(
            key,
            &format!("/api/v1/registrations/r1/launches?min_position={position}"),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(launches["launches"][0]["batches"], 2);
    assert_eq!(launches["launches"][0]["refused_batches"], 1);
    assert_eq!(launches["launches"][0]["user_agent"], "e2e-browser/1.0");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_launch_resumes_and_supersedes_the_first() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Resume").await;
    let key = &ws.live_key;
    course(&app, key, "c12", packages::scorm12()).await;
    register(&app, key, "r1", "c12").await;
    let url = launch_url(&app, key, "r1", json!({"expiry_seconds": 600})).await;
    let first = Session::start(&app, &url).await;
    first.deliver("i1").await;
    let suspend = "x".repeat(4000);
    json(
        first
            .commit(
                1,
                "i1",
                json!([
                    call(0, "LMSInitialize", json!({"arg": ""}), "true", 0),
                    set(1, "cmi.core.lesson_location", "page-9"),
                    set(2, "cmi.suspend_data", &suspend),
                    set(3, "cmi.core.exit", "suspend"),
                    call(4, "LMSFinish", json!({"arg": ""}), "true", 0),
                ]),
                true,
            )
            .await,
        200,
    )
    .await;
    // A second tab: a new session that resumes.
    let second = Session::start(&app, &url).await;
    assert_eq!(second.start["resumed"], true);
    let delivered = second.deliver("i1").await;
    let prior = &delivered["context"]["prior"]["values"];
    assert_eq!(prior["cmi.core.lesson_location"], "page-9");
    assert_eq!(
        prior["cmi.suspend_data"].as_str().unwrap().len(),
        4000,
        "suspend data restored whole"
    );
    // The first tab's late commit is refused and recorded.
    error(
        first
            .commit(
                2,
                "i1",
                json!([set(5, "cmi.core.lesson_location", "stale")]),
                false,
            )
            .await,
        409,
        "session_superseded",
    )
    .await;
    let launches = app
        .eventually(key, "/api/v1/registrations/r1/launches", |l| {
            l["launches"][0]["refused_batches"] == 1
        })
        .await;
    let list = launches["launches"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert!(list[0]["superseded_at"].is_string());
    assert_eq!(list[0]["refused_batches"], 1);
    assert_eq!(list[1]["resumed"], true);
    let progress = json(app.get(key, "/api/v1/registrations/r1/progress").await, 200).await;
    assert_eq!(
        progress["activities"][0]["runtime"]["cmi.core.lesson_location"],
        "page-9"
    );
    assert_eq!(
        progress["activities"][0]["runtime"]["cmi.core.exit"],
        "suspend"
    );
    // The second tab's first batch: its data is the resumed data without the
    // last session's exit, and the view drops that value too.
    let done = json(
        second
            .commit(
                1,
                "i1",
                json!([
                    call(0, "LMSInitialize", json!({"arg": ""}), "true", 0),
                    set(1, "cmi.core.lesson_location", "page-10"),
                ]),
                false,
            )
            .await,
        200,
    )
    .await;
    let position = done["position"].as_i64().unwrap();
    let progress = json(
        app.get(
            key,
            &format!("/api/v1/registrations/r1/progress?min_position={position}"),
        )
        .await,
        200,
    )
    .await;
    let runtime = &progress["activities"][0]["runtime"];
    assert_eq!(runtime["cmi.core.lesson_location"], "page-10", "{runtime}");
    assert_eq!(runtime["cmi.suspend_data"].as_str().unwrap().len(), 4000);
    assert!(runtime.get("cmi.core.exit").is_none(), "{runtime}");

    // A reset starts attempt 2 from nothing; the history stays.
    let reset = json(
        app.post(key, "/api/v1/registrations/r1/reset", &json!({}))
            .await,
        200,
    )
    .await;
    assert_eq!(reset["attempt"], 2);
    let third = Session::start(&app, &url).await;
    assert_eq!(third.start["resumed"], false);
    assert!(third.deliver("i1").await["context"]["prior"].is_null());
    let progress = json(app.get(key, "/api/v1/registrations/r1/progress").await, 200).await;
    assert_eq!(progress["completion"], "not_attempted");
    assert_eq!(progress["attempt"], 2);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scorm12_courses_navigate_in_tree_order_and_by_choice() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Navigation").await;
    let key = &ws.live_key;
    course(&app, key, "c3", packages::scorm12_multi(3)).await;
    register(&app, key, "r1", "c3").await;
    let url = launch_url(&app, key, "r1", json!({"expiry_seconds": 600})).await;
    let session = Session::start(&app, &url).await;
    let nav = &session.start["navigation"];
    assert_eq!(nav["deliver"], "i1");
    assert_eq!(nav["controls"]["previous"], "disabled");
    assert_eq!(nav["controls"]["continue"], "enabled");
    assert_eq!(nav["toc_visible"], true);
    let toc: Vec<&str> = nav["toc"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(toc, vec!["i1", "i2", "i3"]);
    session.deliver("i1").await;
    let next = json(
        session
            .post("navigate", json!({"request": "continue"}))
            .await,
        200,
    )
    .await;
    assert_eq!(next["deliver"], "i2");
    session.deliver("i2").await;
    let chosen = json(
        session
            .post("navigate", json!({"request": "choice", "target": "i3"}))
            .await,
        200,
    )
    .await;
    assert_eq!(chosen["deliver"], "i3");
    assert_eq!(chosen["controls"]["continue"], "disabled");
    session.deliver("i3").await;
    let bad = json(
        session
            .post("navigate", json!({"request": "choice", "target": "nope"}))
            .await,
        200,
    )
    .await;
    assert!(bad["deliver"].is_null() && bad["exception"].is_string());
    let back = json(
        session
            .post("navigate", json!({"request": "previous"}))
            .await,
        200,
    )
    .await;
    assert_eq!(back["deliver"], "i2");
    let end = json(
        session.post("navigate", json!({"request": "exit"})).await,
        200,
    )
    .await;
    assert_eq!(end["ended"], true);
    // Every request is an event (on PostgreSQL the log is readable up to
    // the oldest open transaction: other tests' may hold it back a little).
    let mut requests = Vec::new();
    for _ in 0..200 {
        let events = app.all_events(key).await;
        requests = events
            .iter()
            .filter(|e| e["type"] == "NavigationRequested")
            .map(|e| e["data"]["request"].as_str().unwrap().to_owned())
            .collect();
        if requests.len() >= 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        requests,
        vec!["start", "continue", "choice", "choice", "previous", "exit"]
    );
    // 1.2 has no sequencer.
    error(
        app.get(key, "/api/v1/registrations/r1/sequencing").await,
        404,
        "not_sequenced",
    )
    .await;
    app.stop().await;
}

/// A SCO's calls: Initialize, the values, an optional `adl.nav.request`,
/// Terminate.
fn sco_run(values: &[(&str, &str)]) -> Value {
    let mut calls = vec![call(0, "Initialize", json!({"arg": ""}), "true", 0)];
    for (n, (element, value)) in values.iter().enumerate() {
        calls.push(call(
            n as u64 + 1,
            "SetValue",
            json!({"element": element, "value": value}),
            "true",
            0,
        ));
    }
    calls.push(call(
        values.len() as u64 + 1,
        "Terminate",
        json!({"arg": ""}),
        "true",
        0,
    ));
    Value::Array(calls)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequenced_courses_follow_the_sequencer() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Sequencing").await;
    let key = &ws.live_key;
    // choice="false" flow="true" forwardOnly="true"
    course(&app, key, "c3", packages::scorm2004(3)).await;
    register(&app, key, "r1", "c3").await;
    let url = launch_url(&app, key, "r1", json!({"expiry_seconds": 600})).await;
    let session = Session::start(&app, &url).await;
    let nav = &session.start["navigation"];
    assert_eq!(nav["deliver"], "i1", "{nav}");
    assert_eq!(nav["controls"]["continue"], "enabled");
    assert_eq!(nav["controls"]["previous"], "disabled", "forward only");
    assert_eq!(nav["toc_visible"], false, "choice is off");
    assert_eq!(nav["valid"]["choice"]["i3"], "false");
    // Only what the sequencer chose can be delivered.
    error(
        session.post("deliver", json!({"activity_id": "i2"})).await,
        409,
        "activity_not_current",
    )
    .await;
    let delivered = session.deliver("i1").await;
    assert_eq!(delivered["context"]["nav_validity"]["continue"], "true");
    assert_eq!(delivered["context"]["nav_validity"]["previous"], "false");
    json(
        session
            .commit(
                1,
                "i1",
                sco_run(&[
                    ("cmi.completion_status", "completed"),
                    ("cmi.success_status", "passed"),
                    ("adl.nav.request", "continue"),
                ]),
                true,
            )
            .await,
        200,
    )
    .await;
    // After Terminate, the SCO's own request moves on.
    let auto = json(
        session.post("navigate", json!({"request": "auto"})).await,
        200,
    )
    .await;
    assert_eq!(auto["deliver"], "i2", "{auto}");
    assert_eq!(auto["controls"]["previous"], "disabled");
    // Choice is off, and previous is forward-only: refused with the SN
    // book's exceptions; nothing changes.
    let chosen = json(
        session
            .post("navigate", json!({"request": "choice", "target": "i3"}))
            .await,
        200,
    )
    .await;
    // NB.2.1-10: the parent's choice control is off. i2, chosen before,
    // is still the one to deliver.
    assert_eq!(chosen["exception"], "NB.2.1-10", "{chosen}");
    assert_eq!(chosen["deliver"], "i2");
    let back = json(
        session
            .post("navigate", json!({"request": "previous"}))
            .await,
        200,
    )
    .await;
    assert!(back["exception"].is_string(), "{back}");
    // i2 is still waiting to be delivered.
    assert_eq!(back["deliver"], "i2");
    session.deliver("i2").await;
    json(
        session
            .commit(
                2,
                "i2",
                sco_run(&[
                    ("cmi.completion_status", "completed"),
                    ("cmi.success_status", "passed"),
                ]),
                true,
            )
            .await,
        200,
    )
    .await;
    // The learner presses Continue: i2's data is handed over with it.
    let next = json(
        session
            .post("navigate", json!({"request": "continue"}))
            .await,
        200,
    )
    .await;
    assert_eq!(next["deliver"], "i3", "{next}");
    session.deliver("i3").await;
    json(
        session
            .commit(
                3,
                "i3",
                sco_run(&[
                    ("cmi.completion_status", "completed"),
                    ("cmi.success_status", "passed"),
                    ("cmi.score.scaled", "0.8"),
                    ("adl.nav.request", "continue"),
                ]),
                true,
            )
            .await,
        200,
    )
    .await;
    let end = json(
        session.post("navigate", json!({"request": "auto"})).await,
        200,
    )
    .await;
    assert_eq!(end["ended"], true, "{end}");
    assert!(end["deliver"].is_null());

    // The course rolled up, and the sequencer's view says why.
    let progress = app
        .eventually(key, "/api/v1/registrations/r1/progress", |p| {
            p["completion"] == "completed"
        })
        .await;
    assert_eq!(progress["success"], "passed", "{progress}");
    assert!(progress["completed_at"].is_string());
    let sequencing = app
        .eventually(key, "/api/v1/registrations/r1/sequencing", |s| {
            s["current_activity"].is_null() && s["decision_count"].as_i64() > Some(5)
        })
        .await;
    let statuses: Vec<(&str, &str, &str)> = sequencing["activities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["id"].as_str().unwrap(),
                a["completion"].as_str().unwrap(),
                a["success"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("org", "completed", "passed"),
            ("i1", "completed", "passed"),
            ("i2", "completed", "passed"),
            ("i3", "completed", "passed"),
        ]
    );
    assert!(sequencing["current_activity"].is_null());
    let decisions = sequencing["decisions"].as_array().unwrap();
    let delivered: Vec<&str> = decisions
        .iter()
        .filter_map(|d| d["delivered"].as_str())
        .collect();
    assert_eq!(delivered, vec!["i1", "i2", "i3"]);
    let exceptions = decisions
        .iter()
        .filter(|d| d["outcome"] == "exception")
        .count();
    assert_eq!(exceptions, 2, "{decisions:?}");
    assert_eq!(decisions.last().unwrap()["outcome"], "session_ended");
    // Paged.
    let page = json(
        app.get(key, "/api/v1/registrations/r1/sequencing?limit=2")
            .await,
        200,
    )
    .await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = json(
        app.get(
            key,
            &format!("/api/v1/registrations/r1/sequencing?limit=1000&cursor={cursor}"),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        rest["decisions"].as_array().unwrap().len() + 2,
        decisions.len()
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sequenced_session_left_open_resumes_where_it_was() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Resume").await;
    let key = &ws.live_key;
    course(&app, key, "c2", packages::scorm2004(2)).await;
    register(&app, key, "r1", "c2").await;
    let url = launch_url(&app, key, "r1", json!({"expiry_seconds": 600})).await;
    let first = Session::start(&app, &url).await;
    first.deliver("i1").await;
    json(
        first
            .commit(1, "i1", sco_run(&[("adl.nav.request", "continue")]), true)
            .await,
        200,
    )
    .await;
    first.post("navigate", json!({"request": "auto"})).await;
    first.deliver("i2").await;
    json(
        first
            .commit(
                2,
                "i2",
                json!([
                    call(0, "Initialize", json!({"arg": ""}), "true", 0),
                    call(
                        1,
                        "SetValue",
                        json!({"element": "cmi.location", "value": "p7"}),
                        "true",
                        0
                    ),
                ]),
                false,
            )
            .await,
        200,
    )
    .await;
    // The window closed without a word. The next launch suspends what was
    // left open and resumes it, with its data.
    let second = Session::start(&app, &url).await;
    assert_eq!(second.start["navigation"]["deliver"], "i2");
    let delivered = second.deliver("i2").await;
    assert_eq!(
        delivered["context"]["prior"]["values"]["cmi.location"],
        "p7"
    );
    assert_eq!(
        delivered["context"]["prior"]["values"]["cmi.exit"],
        "suspend"
    );
    // Suspend All from the player ends the session; the next launch
    // resumes too.
    let suspended = json(
        second
            .post("navigate", json!({"request": "suspendAll"}))
            .await,
        200,
    )
    .await;
    assert_eq!(suspended["ended"], true, "{suspended}");
    let third = Session::start(&app, &url).await;
    assert_eq!(third.start["navigation"]["deliver"], "i2");
    // The player answers before the views catch up.
    let sequencing = app
        .eventually(key, "/api/v1/registrations/r1/sequencing", |s| {
            s["decisions"]
                .as_array()
                .is_some_and(|d| d.iter().filter(|d| d["request"] == "resumeAll").count() == 2)
        })
        .await;
    let requests: Vec<&str> = sequencing["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["request"].as_str())
        .collect();
    assert_eq!(
        requests,
        vec![
            "start",
            "continue",
            "suspendAll",
            "resumeAll",
            "suspendAll",
            "resumeAll"
        ]
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_objectives_follow_the_learner_within_the_workspace() {
    let app = TestApp::spawn().await;
    let a = app.create_workspace("A").await;
    let b = app.create_workspace("B").await;
    let writer = packages::scorm2004_with(
        &packages::manifest_2004_global("writer", "w1", "urn:skills:safety", true),
        &["sco.html"],
    );
    let reader = packages::scorm2004_with(
        &packages::manifest_2004_global("reader", "q1", "urn:skills:safety", false),
        &["sco.html"],
    );
    for ws in [&a, &b] {
        course(&app, &ws.live_key, "writer", writer.clone()).await;
        course(&app, &ws.live_key, "reader", reader.clone()).await;
    }
    // In A, the learner passes the writer course.
    let key = &a.live_key;
    register(&app, key, "rw", "writer").await;
    let url = launch_url(&app, key, "rw", json!({})).await;
    let session = Session::start(&app, &url).await;
    session.deliver("w1").await;
    json(
        session
            .commit(1, "w1", sco_run(&[("cmi.success_status", "passed")]), true)
            .await,
        200,
    )
    .await;
    // Then a reader course, another registration: its SCO starts with the
    // shared objective satisfied.
    for (ws, expected) in [(&a, Some("passed")), (&b, None)] {
        register(&app, &ws.live_key, "rq", "reader").await;
        let url = launch_url(&app, &ws.live_key, "rq", json!({})).await;
        let session = Session::start(&app, &url).await;
        let delivered = session.deliver("q1").await;
        let seeds = &delivered["context"]["objective_status"];
        let status = seeds
            .as_array()
            .and_then(|s| s.iter().find(|o| o["id"] == "obj-q1"))
            .and_then(|o| o["success_status"].as_str());
        assert_eq!(status, expected, "workspace {}: {delivered}", ws.id);
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_records_nothing_and_heartbeats_measure_time() {
    let app = TestApp::spawn_with(|s| s.player.heartbeat_seconds = 30).await;
    let ws = app.create_workspace("Preview").await;
    let key = &ws.live_key;
    course(&app, key, "c12", packages::scorm12()).await;
    register(&app, key, "r1", "c12").await;
    let before = app.all_events(key).await.len();
    let preview = launch_url(
        &app,
        key,
        "r1",
        json!({"expiry_seconds": 600, "tracking": false}),
    )
    .await;
    let session = Session::start(&app, &preview).await;
    session.deliver("i1").await;
    json(
        session
            .commit(
                1,
                "i1",
                json!([set(0, "cmi.core.lesson_location", "x")]),
                false,
            )
            .await,
        200,
    )
    .await;
    json(
        session
            .post("heartbeat", json!({"activity_id": "i1"}))
            .await,
        200,
    )
    .await;
    assert_eq!(
        app.all_events(key).await.len(),
        before,
        "a preview recorded events"
    );

    let url = launch_url(&app, key, "r1", json!({"expiry_seconds": 600})).await;
    let session = Session::start(&app, &url).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    json(
        session
            .post("heartbeat", json!({"activity_id": "i1"}))
            .await,
        200,
    )
    .await;
    app.eventually(key, "/api/v1/registrations/r1/progress", |p| {
        p["measured_time_seconds"].as_i64().is_some_and(|s| s >= 2)
    })
    .await;
    // A session token is worthless once changed.
    let broken = format!("{}x", session.token);
    let response = app
        .client
        .post(format!("{}/runtime/{broken}/commit", app.content))
        .json(&json!({"batch": 1, "activity_id": "i1", "calls": []}))
        .send()
        .await
        .unwrap();
    error(response, 403, "invalid_session_token").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_hide_request_stores_its_batches_in_order() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Beacons").await;
    let key = &ws.live_key;
    course(&app, key, "c12", packages::scorm12()).await;
    register(&app, key, "r1", "c12").await;
    let url = launch_url(&app, key, "r1", json!({})).await;
    let session = Session::start(&app, &url).await;
    session.deliver("i1").await;
    let batch = |number: u64, calls: Value| json!({"batch": number, "activity_id": "i1", "calls": calls, "page_hide": true});
    let b1 = batch(
        1,
        json!([
            call(0, "LMSInitialize", json!({"arg": ""}), "true", 0),
            set(1, "cmi.core.lesson_location", "one"),
        ]),
    );
    let b2 = batch(2, json!([set(2, "cmi.core.lesson_location", "two")]));
    let b3 = batch(3, json!([set(3, "cmi.core.lesson_location", "three")]));
    let answer = json(
        session
            .post("commit", json!({"batches": [b1.clone(), b2.clone()]}))
            .await,
        200,
    )
    .await;
    assert_eq!(answer["acked"], 2);
    // Again with one more: the two it has are not stored twice.
    let answer = json(
        session
            .post("commit", json!({"batches": [b1, b2, b3.clone()]}))
            .await,
        200,
    )
    .await;
    assert_eq!(answer["acked"], 3);
    // A gap ends the request at the refused batch.
    let b5 = batch(5, json!([set(5, "cmi.core.lesson_location", "five")]));
    error(
        session.post("commit", json!({"batches": [b3, b5]})).await,
        409,
        "batch_out_of_order",
    )
    .await;
    error(
        session.post("commit", json!({"batches": []})).await,
        400,
        "invalid_batch",
    )
    .await;
    let log = app
        .eventually(key, "/api/v1/registrations/r1/runtime-log", |l| {
            l["calls"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["value"] == "three"))
        })
        .await;
    let values: Vec<&str> = log["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["value"].as_str())
        .filter(|v| !v.is_empty())
        .collect();
    assert_eq!(values, vec!["one", "two", "three"]);
    let events = app.all_events(key).await;
    let committed: Vec<(i64, bool)> = events
        .iter()
        .filter(|e| e["type"] == "RuntimeBatchCommitted")
        .map(|e| {
            (
                e["data"]["batch"].as_i64().unwrap(),
                e["data"]["page_hide"] == true,
            )
        })
        .collect();
    assert_eq!(committed, vec![(1, true), (2, true), (3, true)]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_navigates_from_the_activity_the_page_shows() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Preview navigation").await;
    let key = &ws.live_key;
    course(&app, key, "c3", packages::scorm12_multi(3)).await;
    register(&app, key, "r1", "c3").await;
    let before = app.all_events(key).await.len();
    let preview = launch_url(&app, key, "r1", json!({"tracking": false})).await;
    let session = Session::start(&app, &preview).await;
    assert_eq!(session.start["navigation"]["deliver"], "i1");
    session.deliver("i1").await;
    // A preview records no delivery: the page says where it is.
    let next = json(
        session
            .post("navigate", json!({"request": "continue", "current": "i2"}))
            .await,
        200,
    )
    .await;
    assert_eq!(next["deliver"], "i3", "{next}");
    let back = json(
        session
            .post("navigate", json!({"request": "previous", "current": "i2"}))
            .await,
        200,
    )
    .await;
    assert_eq!(back["deliver"], "i1", "{back}");
    // An activity the course does not have counts as none.
    let unknown = json(
        session
            .post(
                "navigate",
                json!({"request": "continue", "current": "nope"}),
            )
            .await,
        200,
    )
    .await;
    assert_eq!(unknown["deliver"], "i1", "{unknown}");
    assert_eq!(app.all_events(key).await.len(), before);

    // A tracked session goes by what it delivered, whatever the page says.
    let url = launch_url(&app, key, "r1", json!({})).await;
    let tracked = Session::start(&app, &url).await;
    tracked.deliver("i1").await;
    let next = json(
        tracked
            .post("navigate", json!({"request": "continue", "current": "i2"}))
            .await,
        200,
    )
    .await;
    assert_eq!(next["deliver"], "i2", "{next}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_never_cross_workspaces() {
    let app = TestApp::spawn().await;
    let a: TestWorkspace = app.create_workspace("A").await;
    let b: TestWorkspace = app.create_workspace("B").await;
    course(&app, &b.live_key, "cb", packages::scorm12()).await;
    register(&app, &b.live_key, "rb", "cb").await;
    for (method, path) in [
        ("GET", "/api/v1/registrations/rb"),
        ("DELETE", "/api/v1/registrations/rb"),
        ("POST", "/api/v1/registrations/rb/reset"),
        ("POST", "/api/v1/registrations/rb/launch-link"),
        ("GET", "/api/v1/registrations/rb/launches"),
        ("GET", "/api/v1/registrations/rb/progress"),
        ("GET", "/api/v1/registrations/rb/runtime-log"),
        ("GET", "/api/v1/registrations/rb/sequencing"),
    ] {
        let response = app
            .client
            .request(method.parse().unwrap(), app.url(path))
            .bearer_auth(&a.live_key)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        error(response, 404, "registration_not_found").await;
    }
    // A registration on B's course id from A's key: A has no such course.
    error(
        app.post(
            &a.live_key,
            "/api/v1/registrations",
            &json!({"course_id": "cb", "learner": {"id": "l"}}),
        )
        .await,
        404,
        "course_not_found",
    )
    .await;
    let listed = json(app.get(&a.live_key, "/api/v1/registrations").await, 200).await;
    assert!(listed["registrations"].as_array().unwrap().is_empty());
    // B's launch still works: A's attempts changed nothing.
    assert_eq!(
        app.get(&b.live_key, "/api/v1/registrations/rb")
            .await
            .status(),
        200
    );
    app.stop().await;
}

/// The course's outcome reaches webhook receivers: each change of the
/// rolled-up progress, and the moments it became completed, passed or
/// failed, in log order per registration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_changes_and_outcomes_reach_webhooks() {
    use e2e::receiver::Receiver;
    let app = TestApp::spawn_with(|s| s.webhooks.retry_scale = 0.0005).await;
    let ws = app.create_workspace("Outcomes").await;
    let key = &ws.live_key;
    let receiver = Receiver::start().await;
    let hook = json(
        app.create_webhook(
            key,
            &json!({"url": receiver.url("/hook"), "event_types": [
                "registration.progress_changed", "registration.completed",
                "registration.passed", "registration.failed"]}),
        )
        .await,
        201,
    )
    .await;
    receiver.set_secrets(&[hook["secret"].as_str().unwrap()]);
    course(&app, key, "c12", packages::scorm12()).await;
    for (registration, status) in [("r-pass", "passed"), ("r-fail", "failed")] {
        register(&app, key, registration, "c12").await;
        let url = launch_url(&app, key, registration, json!({"expiry_seconds": 600})).await;
        let session = Session::start(&app, &url).await;
        session.deliver("i1").await;
        let begin = json!([
            call(0, "LMSInitialize", json!({"arg": ""}), "true", 0),
            set(1, "cmi.core.lesson_status", "incomplete"),
        ]);
        json(session.commit(1, "i1", begin, false).await, 200).await;
        let end = json!([
            set(
                2,
                "cmi.core.score.raw",
                if status == "passed" { "91" } else { "12" }
            ),
            set(3, "cmi.core.lesson_status", status),
            call(4, "LMSFinish", json!({"arg": ""}), "true", 0),
        ]);
        json(session.commit(2, "i1", end, true).await, 200).await;
    }
    let requests = receiver
        .wait_until("both outcomes arrive", Duration::from_secs(60), |r| {
            let types: Vec<String> = r.iter().map(|r| r.event_type()).collect();
            types.iter().any(|t| t == "registration.passed")
                && types.iter().any(|t| t == "registration.failed")
        })
        .await;
    assert!(requests.iter().all(|r| r.verified == Some(true)));
    let of = |registration: &str| -> Vec<Value> {
        requests
            .iter()
            .map(|r| r.json())
            .filter(|b| b["data"]["registration_id"] == registration)
            .collect()
    };
    let types = |bodies: &[Value]| -> Vec<String> {
        bodies
            .iter()
            .map(|b| b["type"].as_str().unwrap().to_owned())
            .collect()
    };
    let passed = of("r-pass");
    assert_eq!(
        types(&passed),
        [
            "registration.progress_changed",
            "registration.progress_changed",
            "registration.completed",
            "registration.passed"
        ],
        "{passed:#?}"
    );
    assert_eq!(passed[0]["data"]["progress"]["completion"], "incomplete");
    assert_eq!(passed[0]["data"]["previous"]["completion"], "not_attempted");
    assert_eq!(passed[1]["data"]["previous"]["completion"], "incomplete");
    let outcome = &passed[3]["data"];
    assert_eq!(outcome["attempt"], 1);
    assert_eq!(outcome["progress"]["success"], "passed");
    assert_eq!(outcome["progress"]["score_raw"], 91.0);
    assert_eq!(outcome["progress"]["score_scaled"], 0.91);
    let failed = of("r-fail");
    assert_eq!(
        types(&failed),
        [
            "registration.progress_changed",
            "registration.progress_changed",
            "registration.completed",
            "registration.failed"
        ],
        "{failed:#?}"
    );
    // The progress view says what the receivers heard.
    let progress = app
        .eventually(key, "/api/v1/registrations/r-fail/progress", |p| {
            p["success"] == "failed"
        })
        .await;
    assert_eq!(progress["completion"], "completed");
    assert_eq!(progress["score"]["raw"], 12.0);
    app.stop().await;
}

/// The registrations view writes a run of runtime events together (the
/// values of a batch wait for their batch); wherever a batch of the
/// projection cuts the log, it must leave what the live view left. The
/// runtime log, read from the log, holds every call, in order, page by
/// page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_view_is_the_same_wherever_the_log_is_cut() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Cuts").await;
    let key = &ws.live_key;
    course(&app, key, "c12", packages::scorm12()).await;
    let mut sessions = Vec::new();
    for id in ["r1", "r2"] {
        register(&app, key, id, "c12").await;
        let url = launch_url(&app, key, id, json!({"expiry_seconds": 600})).await;
        let session = Session::start(&app, &url).await;
        session.deliver("i1").await;
        sessions.push(session);
    }
    let mut seq = [0u64; 2];
    let mut logged = [0; 2];
    for n in 1..=4u64 {
        for (s, session) in sessions.iter().enumerate() {
            let mut calls = Vec::new();
            let mut next = || {
                seq[s] += 1;
                seq[s]
            };
            if n == 1 {
                calls.push(call(next(), "LMSInitialize", json!({"arg": ""}), "true", 0));
            }
            // A batch of reads only, then batches of values (one refused).
            if n != 2 || s == 1 {
                for k in 0..(n as usize + s) {
                    let element = format!("cmi.interactions.{k}.id");
                    calls.push(set(next(), &element, &format!("q{n}-{k}")));
                }
                calls.push(set(
                    next(),
                    "cmi.core.lesson_location",
                    &format!("page-{n}"),
                ));
            }
            let location = if n == 2 && s == 0 { 1 } else { n };
            calls.push(call(
                next(),
                "LMSGetValue",
                json!({"element": "cmi.core.lesson_location"}),
                &format!("page-{location}"),
                0,
            ));
            if n == 3 {
                calls.push(call(
                    next(),
                    "LMSSetValue",
                    json!({"element": "cmi.core.student_id", "value": "x"}),
                    "false",
                    403,
                ));
            }
            calls.push(call(next(), "LMSCommit", json!({"arg": ""}), "true", 0));
            logged[s] += calls.len();
            let response = session.commit(n, "i1", Value::Array(calls), false).await;
            assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        }
    }

    let platform = &app.state.platform;
    let view = projections::all()
        .into_iter()
        .find(|p| p.name() == "registrations")
        .unwrap();
    // Until the view has applied every commit (on PostgreSQL the log's
    // head can lag behind the last commit for a moment).
    let mut live = Vec::new();
    for _ in 0..200 {
        let head = platform.log.head().await.unwrap();
        platform
            .projections
            .wait_for("registrations", head, Duration::from_secs(20))
            .await
            .unwrap();
        let now = projections::dump::projection(&platform.db, view.as_ref())
            .await
            .unwrap();
        let launches = &now.iter().find(|(t, _)| t == "launches").unwrap().1;
        let applied = launches.len() == 2 && launches.iter().all(|r| r.contains("\"batches\":4"));
        if applied && now == live {
            break;
        }
        live = now;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (id, logged) in ["r1", "r2"].into_iter().zip(logged) {
        let whole = json(
            app.get(key, &format!("/api/v1/registrations/{id}/runtime-log"))
                .await,
            200,
        )
        .await;
        let whole = whole["calls"].as_array().unwrap().clone();
        assert_eq!(
            whole.len(),
            logged,
            "{id}: every call is in the runtime log"
        );
        let seqs: Vec<u64> = whole.iter().map(|c| c["seq"].as_u64().unwrap()).collect();
        assert_eq!(
            seqs,
            (1..=logged as u64).collect::<Vec<_>>(),
            "{id}: in order"
        );
        assert!(
            whole.iter().all(|c| c["batch"].as_i64().is_some()),
            "{id}: every call has its batch"
        );
        // Paged, whatever the page size: the same calls.
        for limit in [1, 2, 3, 5, 7] {
            let mut paged = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let path = match &cursor {
                    Some(c) => {
                        format!("/api/v1/registrations/{id}/runtime-log?limit={limit}&cursor={c}")
                    }
                    None => format!("/api/v1/registrations/{id}/runtime-log?limit={limit}"),
                };
                let page = json(app.get(key, &path).await, 200).await;
                paged.extend(page["calls"].as_array().unwrap().iter().cloned());
                match page["next_cursor"].as_str() {
                    Some(next) => cursor = Some(next.to_owned()),
                    None => break,
                }
            }
            assert_eq!(paged, whole, "{id} in pages of {limit}");
        }
    }
    let launches = &live.iter().find(|(t, _)| t == "launches").unwrap().1;
    assert!(
        launches.iter().all(|row| row.contains("\"batches\":4")),
        "{launches:?}"
    );
    let mut app = app;
    app.halt().await;
    let offline = api::platform::Platform::open(&app.storage()).await.unwrap();
    for size in [1, 2, 3, 4, 5, 6, 7, 9, 13, 500] {
        let report = offline
            .projections
            .clone()
            .with_batch_size(size)
            .replay("registrations")
            .await
            .unwrap();
        assert!(report.events > 0);
        let rebuilt = projections::dump::projection(&offline.db, view.as_ref())
            .await
            .unwrap();
        for ((table, a), (_, b)) in live.iter().zip(&rebuilt) {
            let only_live: Vec<_> = a.iter().filter(|r| !b.contains(r)).collect();
            let only_rebuilt: Vec<_> = b.iter().filter(|r| !a.contains(r)).collect();
            assert!(
                only_live.is_empty() && only_rebuilt.is_empty(),
                "{table} rebuilt in batches of {size} differs:\nlive only: {only_live:#?}\nrebuilt only: {only_rebuilt:#?}"
            );
        }
        assert_eq!(live, rebuilt, "batches of {size}");
    }
    offline.db.close().await;
}
