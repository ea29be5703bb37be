//! The player shell (`player/static/player.js`) in headless Chromium against
//! a fake of the endpoints of `player/PROTOCOL.md`, served by the test:
//! commits that wait for the server, failures that reach the SCO as
//! 391/101, batches kept and resent without duplicates, the page-hide
//! beacon, superseded sessions, navigation, heartbeat, previews, and API
//! discovery from nested and opened windows.
//!
//! The fake is a test double of the HTTP protocol only, for answers the
//! real server cannot be made to give on demand; `browser_server.rs` runs
//! the same page against the real server.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use domain::cmi::{NavValidity, RecordedCall, RuntimeSession, ScormVersion};
use e2e::browser::{Browser, Site, eventually, player_static_dir, static_file, wait_for};
use fantoccini::{Client, Locator};
use serde_json::{Value, json};

const SECOND: Duration = Duration::from_secs(1);

/// What the fake course is and how the fake server behaves.
#[derive(Clone)]
struct Course {
    version: ScormVersion,
    title: String,
    tracking: bool,
    redirect_url: Option<String>,
    heartbeat_seconds: u32,
}

impl Course {
    fn new(version: ScormVersion) -> Course {
        Course {
            version,
            title: "Safety Basics".to_owned(),
            tracking: true,
            redirect_url: None,
            heartbeat_seconds: 30,
        }
    }

    fn api_name(&self) -> &'static str {
        self.version.api_object_name()
    }
}

/// One `POST /runtime/{token}/commit` as the fake received it.
#[derive(Debug, Clone)]
struct Received {
    session: usize,
    batch: u64,
    page_hide: bool,
    status: u16,
}

#[derive(Default)]
struct FakeState {
    course: Option<Course>,
    /// Tokens of the sessions started, in order; every new session
    /// supersedes the ones before it.
    sessions: Vec<String>,
    current: BTreeMap<usize, String>,
    /// Forces this status on every commit while set.
    commit_status: Option<u16>,
    /// The error code of the forced answers (`forced` when unset).
    commit_code: Option<&'static str>,
    received: Vec<Received>,
    /// `(session, batch)` → the body stored the first time.
    stored: BTreeMap<(usize, u64), Value>,
    /// The order things happened in, for the tests that care.
    events: Vec<String>,
    heartbeats: Vec<Value>,
    /// A batch number resent with different content.
    changed_batches: Vec<(usize, u64)>,
    /// The batch numbers of each multi-batch (page-hide) request.
    beacons: Vec<Vec<u64>>,
    /// The Rust runtime of each session's current delivery, which replays
    /// every stored call as the real server will.
    runtimes: BTreeMap<usize, RuntimeSession>,
    /// Calls whose replay in Rust disagreed with the browser.
    replay_problems: Vec<String>,
    /// The `valid` of the last navigation answer: the real server puts the
    /// sequencer's answers in the next delivery's launch context
    /// (`nav_validity`), which the runtime answers
    /// `adl.nav.request_valid.*` from.
    validity: BTreeMap<usize, NavValidity>,
}

impl FakeState {
    /// Remembers what a navigation answer says is valid now.
    fn answered(&mut self, session: usize, answer: &Value) {
        let validity: NavValidity =
            serde_json::from_value(answer["valid"].clone()).expect("valid is a NavValidity");
        self.validity.insert(session, validity);
    }
}

#[derive(Clone, Default)]
struct Fake(Arc<Mutex<FakeState>>);

impl Fake {
    fn new(course: Course) -> Fake {
        let fake = Fake::default();
        fake.lock().course = Some(course);
        fake
    }

    fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn course(&self) -> Course {
        self.lock().course.clone().expect("the fake has a course")
    }

    fn session_of(&self, token: &str) -> Option<usize> {
        // Sessions count from 1, as their ids do.
        self.lock()
            .sessions
            .iter()
            .position(|t| t == token)
            .map(|i| i + 1)
    }

    /// The stored batches of a session, in batch order.
    fn batches(&self, session: usize) -> Vec<Value> {
        self.lock()
            .stored
            .iter()
            .filter(|((s, _), _)| *s == session)
            .map(|(_, body)| body.clone())
            .collect()
    }

    /// Every stored call of a session, in batch order.
    fn calls(&self, session: usize) -> Vec<Value> {
        self.batches(session)
            .iter()
            .flat_map(|b| b["calls"].as_array().cloned().unwrap_or_default())
            .collect()
    }

    fn received_for(&self, session: usize) -> Vec<Received> {
        self.lock()
            .received
            .iter()
            .filter(|r| r.session == session)
            .cloned()
            .collect()
    }

    fn events(&self) -> Vec<String> {
        self.lock().events.clone()
    }

    /// Batches numbered 1, 2, 3… with no gap, each stored once and never
    /// resent with other content; calls numbered 0, 1, 2… with no gap or
    /// repeat.
    fn assert_session_log_is_whole(&self, session: usize) {
        let state = self.lock();
        let numbers: Vec<u64> = state
            .stored
            .keys()
            .filter(|(s, _)| *s == session)
            .map(|(_, b)| *b)
            .collect();
        let expected: Vec<u64> = (1..=numbers.len() as u64).collect();
        assert_eq!(numbers, expected, "batches of session {session}");
        assert!(
            state.changed_batches.is_empty(),
            "batches resent with other content: {:?}",
            state.changed_batches
        );
        assert!(
            state.replay_problems.is_empty(),
            "the rust runtime disagrees with the browser: {:?}",
            state.replay_problems
        );
        drop(state);
        // Each delivery has its own runtime, whose calls count from 0; a
        // delivery's calls all come before the next delivery's.
        let mut runs: Vec<(String, Vec<u64>)> = Vec::new();
        for batch in self.batches(session) {
            let activity = batch["activity_id"]
                .as_str()
                .expect("activity_id")
                .to_owned();
            for call in batch["calls"].as_array().expect("calls") {
                let seq = call["seq"].as_u64().expect("seq");
                match runs.last_mut() {
                    Some((run_activity, seqs)) if seq != 0 => {
                        assert_eq!(
                            *run_activity, activity,
                            "a runtime's calls name one activity"
                        );
                        seqs.push(seq);
                    }
                    _ => runs.push((activity.clone(), vec![seq])),
                }
            }
        }
        for (activity, seqs) in runs {
            let expected: Vec<u64> = (0..seqs.len() as u64).collect();
            assert_eq!(seqs, expected, "calls of {activity} in session {session}");
        }
    }
}

/// The player page: the template filled as PROTOCOL.md §1 says.
fn launch_page(course: &Course, token: &str) -> String {
    let template = std::fs::read_to_string(player_static_dir().join("player.html"))
        .expect("player.html is readable");
    let config = json!({
        "launch_token": token,
        "course_title": course.title,
        "standard": if course.version == ScormVersion::Scorm12 { "scorm12" } else { "scorm2004" },
        "scorm_version": course.version.as_str(),
        "model_url": format!("/player/model/{}.json", course.version.as_str()),
        "tracking": course.tracking,
        "redirect_url": course.redirect_url,
        "heartbeat_seconds": course.heartbeat_seconds,
    });
    let json = serde_json::to_string(&config)
        .expect("config serializes")
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    let title = course
        .title
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    template
        .replace("{{title}}", &title)
        .replace("{{config}}", &json)
}

const ACTIVITIES: [&str; 2] = ["i1", "i2"];

/// The navigation answer (§5) for the current activity.
fn navigation(state: &FakeState, session: usize, deliver: Option<&str>, ended: bool) -> Value {
    // What the answer delivers is current from now on.
    let current = deliver.unwrap_or_else(|| {
        state
            .current
            .get(&session)
            .map(String::as_str)
            .unwrap_or("i1")
    });
    let completed = |id: &str| {
        state.stored.iter().any(|((s, _), body)| {
            *s == session && body["activity_id"] == id && body["final"] == true
        })
    };
    let item = |id: &str, title: &str, depth: u32| {
        json!({
            "id": id, "title": title, "depth": depth, "hidden": false, "selectable": true,
            "disabled": false, "current": id == current, "completed": completed(id), "satisfied": null,
        })
    };
    let mut module = item("m1", "Module", 1);
    module["selectable"] = json!(false);
    let mut hidden = item("i3", "Hidden lesson", 2);
    hidden["hidden"] = json!(true);
    let mut locked = item("i4", "Locked lesson", 2);
    locked["disabled"] = json!(true);
    let first = current == "i1";
    json!({
        "deliver": deliver,
        "ended": ended,
        "exception": null,
        "controls": {
            "continue": "enabled",
            "previous": if first { "disabled" } else { "enabled" },
            "exit": "hidden",
            "exitAll": "enabled",
            "suspendAll": "disabled",
            "abandon": "hidden",
            "abandonAll": "hidden",
        },
        "toc": [module, item("i1", "Lesson 1", 2), item("i2", "Lesson 2", 2), hidden, locked],
        "valid": {
            "continue": "true",
            "previous": if first { "false" } else { "true" },
            "choice": {"i1": "true", "i2": "true", "i4": "false"},
        },
    })
}

fn parse(body: &Bytes) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

fn refusal(status: StatusCode, code: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"code": code, "message": code}})),
    )
        .into_response()
}

async fn start_session(State(fake): State<Fake>, body: Bytes) -> Response {
    let body = parse(&body);
    let mut state = fake.lock();
    let index = state.sessions.len() + 1;
    let token = format!("tok-{index}");
    state.sessions.push(token.clone());
    state.current.insert(index, "i1".to_owned());
    state.events.push(format!("session sess-{index}"));
    let launch_token = body["launch_token"].as_str().unwrap_or_default().to_owned();
    state.events.push(format!("launch {launch_token}"));
    let navigation = navigation(&state, index, Some("i1"), false);
    state.answered(index, &navigation);
    axum::Json(json!({
        "session_token": token,
        "session_id": format!("sess-{index}"),
        "attempt": 1,
        "resumed": false,
        "navigation": navigation,
    }))
    .into_response()
}

async fn deliver(
    State(fake): State<Fake>,
    UrlPath(token): UrlPath<String>,
    body: Bytes,
) -> Response {
    let Some(session) = fake.session_of(&token) else {
        return refusal(StatusCode::FORBIDDEN, "invalid_session_token");
    };
    let course = fake.course();
    let activity = parse(&body)["activity_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut state = fake.lock();
    let context = json!({
        "version": course.version.as_str(),
        "learner_id": "learner-1",
        "learner_name": "Doe, Jane",
        "nav_validity": state.validity.get(&session).cloned().unwrap_or_default(),
    });
    let runtime =
        RuntimeSession::new(serde_json::from_value(context.clone()).expect("a launch context"))
            .expect("a valid launch context");
    state.current.insert(session, activity.clone());
    state.runtimes.insert(session, runtime);
    state.events.push(format!("deliver {activity}"));
    axum::Json(json!({
        "activity_id": activity,
        "title": format!("Lesson {}", activity.trim_start_matches('i')),
        "url": format!("/content/c1/sco.html?activity={activity}&api={}", course.api_name()),
        "scorm": true,
        "context": context,
    }))
    .into_response()
}

async fn commit(
    State(fake): State<Fake>,
    UrlPath(token): UrlPath<String>,
    body: Bytes,
) -> Response {
    let body = parse(&body);
    let Some(session) = fake.session_of(&token) else {
        return refusal(StatusCode::FORBIDDEN, "invalid_session_token");
    };
    // The page-hide beacon carries its batches together, in order; the
    // first refusal ends the request.
    let Some(batches) = body["batches"].as_array() else {
        return commit_batch(&fake, session, &body);
    };
    fake.lock().beacons.push(
        batches
            .iter()
            .map(|b| b["batch"].as_u64().unwrap_or(0))
            .collect(),
    );
    let mut answer = refusal(StatusCode::BAD_REQUEST, "empty");
    for batch in batches {
        answer = commit_batch(&fake, session, batch);
        if !answer.status().is_success() {
            break;
        }
    }
    answer
}

fn commit_batch(fake: &Fake, session: usize, body: &Value) -> Response {
    let batch = body["batch"].as_u64().unwrap_or(0);
    let page_hide = body["page_hide"] == true;
    let mut state = fake.lock();
    let (status, response) = if let Some(forced) = state.commit_status {
        let status = StatusCode::from_u16(forced).expect("a valid status");
        (
            status,
            refusal(status, state.commit_code.unwrap_or("forced")),
        )
    } else if session < state.sessions.len() {
        let status = StatusCode::CONFLICT;
        (status, refusal(status, "session_superseded"))
    } else {
        let last = state
            .stored
            .keys()
            .filter(|(s, _)| *s == session)
            .map(|(_, b)| *b)
            .max()
            .unwrap_or(0);
        if let Some(seen) = state.stored.get(&(session, batch)) {
            if seen["calls"] != body["calls"] || seen["activity_id"] != body["activity_id"] {
                state.changed_batches.push((session, batch));
            }
            (
                StatusCode::OK,
                axum::Json(json!({"acked": batch})).into_response(),
            )
        } else if batch != last + 1 {
            let status = StatusCode::CONFLICT;
            (status, refusal(status, "batch_out_of_order"))
        } else {
            let last_call = body["final"] == true;
            state.events.push(format!(
                "commit sess-{session} #{batch} {}{}",
                body["activity_id"].as_str().unwrap_or("?"),
                if last_call { " final" } else { "" }
            ));
            state.stored.insert((session, batch), body.clone());
            replay(&mut state, session, batch, body);
            (
                StatusCode::OK,
                axum::Json(json!({"acked": batch})).into_response(),
            )
        }
    };
    state.received.push(Received {
        session,
        batch,
        page_hide,
        status: status.as_u16(),
    });
    response
}

/// Replays a stored batch's calls in the Rust runtime of the session's
/// current delivery (all of a delivery's calls come before the next
/// delivery); a call the host failed is replayed as a host failure.
fn replay(state: &mut FakeState, session: usize, batch: u64, body: &Value) {
    let Some(runtime) = state.runtimes.get_mut(&session) else {
        state
            .replay_problems
            .push(format!("batch {batch} before any delivery"));
        return;
    };
    let mut problems = Vec::new();
    for call in body["calls"].as_array().into_iter().flatten() {
        let recorded: RecordedCall = match serde_json::from_value(call.clone()) {
            Ok(recorded) => recorded,
            Err(e) => {
                problems.push(format!("batch {batch}: {call}: {e}"));
                continue;
            }
        };
        let host_failure = call["host_failure"] == true;
        runtime.set_host_failure(host_failure);
        if let Err(mismatch) = runtime.replay(&recorded) {
            problems.push(format!("batch {batch}: {:?}: {mismatch}", recorded.call));
        }
        runtime.set_host_failure(false);
    }
    state.replay_problems.extend(problems);
}

/// `adl.nav.request` as the SCO last set it in an activity.
fn nav_request_of(state: &FakeState, session: usize, activity: &str) -> Option<String> {
    state
        .stored
        .iter()
        .filter(|((s, _), body)| *s == session && body["activity_id"] == activity)
        .flat_map(|(_, body)| body["calls"].as_array().cloned().unwrap_or_default())
        .filter(|c| {
            c["fn"] == "SetValue" && c["element"] == "adl.nav.request" && c["result"] == "true"
        })
        .filter_map(|c| c["value"].as_str().map(str::to_owned))
        .next_back()
}

async fn navigate(
    State(fake): State<Fake>,
    UrlPath(token): UrlPath<String>,
    body: Bytes,
) -> Response {
    let Some(session) = fake.session_of(&token) else {
        return refusal(StatusCode::FORBIDDEN, "invalid_session_token");
    };
    let body = parse(&body);
    let mut state = fake.lock();
    let mut request = body["request"].as_str().unwrap_or_default().to_owned();
    state.events.push(format!("navigate {request}"));
    let current = state.current.get(&session).cloned().unwrap_or_default();
    if request == "auto" {
        request = nav_request_of(&state, session, &current).unwrap_or_else(|| "_none_".to_owned());
    }
    let position = ACTIVITIES.iter().position(|a| *a == current).unwrap_or(0);
    let answer = match request.as_str() {
        "continue" if position + 1 < ACTIVITIES.len() => {
            navigation(&state, session, Some(ACTIVITIES[position + 1]), false)
        }
        "continue" | "exitAll" => navigation(&state, session, None, true),
        "previous" if position > 0 => {
            navigation(&state, session, Some(ACTIVITIES[position - 1]), false)
        }
        "choice" => match body["target"].as_str() {
            Some(target) if ACTIVITIES.contains(&target) => {
                navigation(&state, session, Some(target), false)
            }
            _ => {
                let mut refused = navigation(&state, session, None, false);
                refused["exception"] = json!("SB.2.9-1");
                refused
            }
        },
        _ => navigation(&state, session, None, false),
    };
    state.answered(session, &answer);
    axum::Json(answer).into_response()
}

async fn heartbeat(
    State(fake): State<Fake>,
    UrlPath(token): UrlPath<String>,
    body: Bytes,
) -> Response {
    if fake.session_of(&token).is_none() {
        return refusal(StatusCode::FORBIDDEN, "invalid_session_token");
    }
    fake.lock().heartbeats.push(parse(&body));
    axum::Json(json!({})).into_response()
}

/// A SCO that finds the API as content does (window.parent, then
/// window.opener), initializes on load and terminates on unload.
const SCO: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Test SCO</title></head>
<body><p>Test SCO</p>
<script>
(function () {
  const params = new URLSearchParams(location.search);
  const name = params.get("api");
  const names12 = {
    Initialize: "LMSInitialize", Terminate: "LMSFinish", GetValue: "LMSGetValue", SetValue: "LMSSetValue",
    Commit: "LMSCommit", GetLastError: "LMSGetLastError", GetErrorString: "LMSGetErrorString",
    GetDiagnostic: "LMSGetDiagnostic",
  };
  const fn = (f) => (name === "API" ? names12[f] : f);
  function find(win) {
    for (let hops = 0; win && hops < 10; hops++) {
      try {
        if (win[name]) return { api: win[name], hops };
      } catch (e) {
        return null;
      }
      if (win.parent === win) return null;
      win = win.parent;
    }
    return null;
  }
  let found = find(window);
  let via = "parent";
  if (!found && window.opener) {
    found = find(window.opener);
    via = "opener";
  }
  const sco = {
    activity: params.get("activity"),
    api: found ? found.api : null,
    hops: found ? found.hops : -1,
    via,
    terminated: false,
  };
  sco.call = function (f, ...args) {
    const result = sco.api[fn(f)](...args);
    if (f === "Terminate" && result === "true") sco.terminated = true;
    return [result, sco.api[fn("GetLastError")]()];
  };
  window.sco = sco;
  if (sco.api && !window.opener) sco.call("Initialize", "");
  window.addEventListener("unload", function () {
    if (sco.api && !sco.terminated && !window.opener) sco.call("Terminate", "");
  });
  if (window.opener) window.opener.popupFound = sco;
})();
</script></body></html>"#;

/// Pages that hold the player the two other ways content is launched.
const EMBED: &str = r#"<!doctype html><html lang="en"><head><title>LMS page</title></head>
<body><iframe id="player" src="/launch/embedded" title="Course" style="width:1000px;height:700px"></iframe></body></html>"#;
const OPENER: &str = r#"<!doctype html><html lang="en"><head><title>LMS page</title></head>
<body><p>Opens the player in a window.</p></body></html>"#;
const DONE: &str = r#"<!doctype html><html lang="en"><head><title>Back in the LMS</title></head><body>done</body></html>"#;

fn site(fake: Fake) -> Router {
    Router::new()
        .route(
            "/launch/{token}",
            get(
                |State(fake): State<Fake>, UrlPath(token): UrlPath<String>| async move {
                    Html(launch_page(&fake.course(), &token))
                },
            ),
        )
        .route(
            "/player/model/{file}",
            get(|UrlPath(file): UrlPath<String>| async move {
                let version = file.strip_suffix(".json").unwrap_or(&file).to_owned();
                match ScormVersion::ALL.iter().find(|v| v.as_str() == version) {
                    Some(v) => axum::Json(domain::cmi::js_model(*v)).into_response(),
                    None => StatusCode::NOT_FOUND.into_response(),
                }
            }),
        )
        .route(
            "/player/{*path}",
            get(|UrlPath(path): UrlPath<String>| async move {
                static_file(&player_static_dir(), &path)
            }),
        )
        .route("/runtime/sessions", post(start_session))
        .route("/runtime/{token}/deliver", post(deliver))
        .route("/runtime/{token}/commit", post(commit))
        .route("/runtime/{token}/navigate", post(navigate))
        .route("/runtime/{token}/heartbeat", post(heartbeat))
        .route(
            "/content/{content}/{file}",
            get(|| async { ([(header::CACHE_CONTROL, "no-store")], Html(SCO)) }),
        )
        .route("/embed", get(|| async { Html(EMBED) }))
        .route("/opener", get(|| async { Html(OPENER) }))
        .route("/done", get(|| async { Html(DONE) }))
        .with_state(fake)
}

/// The player window seen from the top document.
const TOP: &str = "window";

/// Runs `expression` with `player` (the player window) and `sco` (the SCO
/// window's helper) in scope, in the top document.
async fn in_player(client: &Client, player: &str, expression: &str) -> Value {
    let script = format!(
        "const player = {player}; const frame = player.document.getElementById('ac-frame'); \
         const sco = frame.contentWindow.sco; return ({expression});"
    );
    client
        .execute(&script, vec![])
        .await
        .unwrap_or_else(|e| panic!("{expression}: {e}"))
}

/// Waits until the SCO of `activity` is loaded and has found the API.
async fn wait_sco(client: &Client, player: &str, activity: &str) {
    let condition = format!(
        "{player}.document.getElementById('ac-frame').contentWindow.sco.activity === '{activity}' && \
         {player}.document.getElementById('ac-frame').contentWindow.sco.api !== null"
    );
    wait_for(
        client,
        &condition,
        &format!("the sco of {activity}"),
        15 * SECOND,
    )
    .await;
}

/// Calls an API function in the SCO; returns `[result, GetLastError()]`.
async fn call(client: &Client, function: &str, args: &[&str]) -> (String, String) {
    let args = serde_json::to_string(args).expect("args serialize");
    let outcome = in_player(client, TOP, &format!("sco.call('{function}', ...{args})")).await;
    (
        outcome[0].as_str().unwrap_or_default().to_owned(),
        outcome[1].as_str().unwrap_or_default().to_owned(),
    )
}

fn outcome(result: &str, error: &str) -> (String, String) {
    (result.to_owned(), error.to_owned())
}

async fn pending_keys(client: &Client) -> Vec<String> {
    let keys = client
        .execute(
            "return Object.keys(localStorage).filter((k) => k.startsWith('allureconnect.pending.')).sort();",
            vec![],
        )
        .await
        .expect("localStorage is readable");
    serde_json::from_value(keys).expect("keys are strings")
}

async fn message(client: &Client) -> String {
    in_player(
        client,
        TOP,
        "player.document.getElementById('ac-message').textContent",
    )
    .await
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

/// Starts a browser, the fake and the site, and runs `test`.
async fn with_player(course: Course, test: impl AsyncFnOnce(&Client, &Fake, &mut Site)) {
    e2e::init();
    let Some(browser) = Browser::start().await else {
        return;
    };
    let fake = Fake::new(course);
    let mut site = Site::start(site(fake.clone())).await;
    browser
        .run(async |client| test(client, &fake, &mut site).await)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn commit_waits_for_the_server_and_a_refusal_is_391() {
    with_player(
        Course::new(ScormVersion::Scorm2004Fourth),
        async |client, fake, site| {
            client
                .goto(&site.url("/launch/launch-1"))
                .await
                .expect("the player loads");
            wait_sco(client, TOP, "i1").await;
            assert_eq!(
                call(client, "SetValue", &["cmi.location", "p1"]).await,
                outcome("true", "0")
            );
            assert_eq!(call(client, "Commit", &[""]).await, outcome("true", "0"));
            // The Commit returned after the server answered: the call is stored.
            let stored = fake.calls(1);
            assert!(
                stored
                    .iter()
                    .any(|c| c["element"] == "cmi.location" && c["value"] == "p1"),
                "{stored:?}"
            );

            fake.lock().commit_status = Some(503);
            assert_eq!(
                call(client, "SetValue", &["cmi.location", "p2"]).await,
                outcome("true", "0")
            );
            assert_eq!(call(client, "Commit", &[""]).await, outcome("false", "391"));
            let diagnostic = in_player(client, TOP, "sco.api.GetDiagnostic('')").await;
            assert!(!diagnostic.as_str().unwrap_or_default().is_empty());
            assert_eq!(
                pending_keys(client).await,
                vec!["allureconnect.pending.sess-1.2"]
            );

            fake.lock().commit_status = None;
            assert_eq!(call(client, "Commit", &[""]).await, outcome("true", "0"));
            assert_eq!(pending_keys(client).await, Vec::<String>::new());
            assert_eq!(call(client, "Terminate", &[""]).await, outcome("true", "0"));
            // Terminate returned after its batch was stored.
            let with_terminate = fake
                .batches(1)
                .into_iter()
                .find(|b| {
                    b["calls"]
                        .as_array()
                        .is_some_and(|calls| calls.iter().any(|c| c["fn"] == "Terminate"))
                })
                .expect("the batch with Terminate");
            assert_eq!(
                with_terminate["final"], true,
                "the batch with Terminate is final"
            );
            let calls = fake.calls(1);
            let failed_commit = calls
                .iter()
                .find(|c| c["fn"] == "Commit" && c["error"] == 391)
                .expect("the failed Commit is in the log");
            assert_eq!(failed_commit["result"], "false");
            assert_eq!(failed_commit["host_failure"], true);
            assert!(
                calls
                    .iter()
                    .any(|c| c["element"] == "cmi.location" && c["value"] == "p2")
            );
            // Batch 2 was refused once, then delivered: numbers never skip.
            let batch2: Vec<u16> = fake
                .received_for(1)
                .iter()
                .filter(|r| r.batch == 2)
                .map(|r| r.status)
                .collect();
            assert_eq!(batch2.first(), Some(&503));
            assert!(batch2.contains(&200));
            fake.assert_session_log_is_whole(1);
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_server_fails_commit_with_101_and_the_next_load_resends_the_kept_batches() {
    with_player(
        Course::new(ScormVersion::Scorm12),
        async |client, fake, site| {
            client
                .goto(&site.url("/launch/launch-1"))
                .await
                .expect("the player loads");
            wait_sco(client, TOP, "i1").await;
            assert_eq!(
                call(client, "SetValue", &["cmi.core.lesson_location", "l1"]).await,
                outcome("true", "0")
            );
            assert_eq!(call(client, "Commit", &[""]).await, outcome("true", "0"));

            site.pause().await;
            assert_eq!(
                call(client, "SetValue", &["cmi.core.lesson_location", "l2"]).await,
                outcome("true", "0")
            );
            assert_eq!(call(client, "Commit", &[""]).await, outcome("false", "101"));
            assert_eq!(
                pending_keys(client).await,
                vec!["allureconnect.pending.sess-1.2"]
            );
            // Leaving while the server is down: the page-hide beacon fails too.
            client.goto("about:blank").await.expect("about:blank loads");

            site.resume().await;
            client
                .goto(&site.url("/launch/launch-1"))
                .await
                .expect("the player loads again");
            wait_sco(client, TOP, "i1").await;
            assert_eq!(pending_keys(client).await, Vec::<String>::new());
            let events = fake.events();
            let second = events
                .iter()
                .position(|e| e == "session sess-2")
                .expect("a second session");
            let last_commit = events
                .iter()
                .rposition(|e| e.starts_with("commit sess-1 "))
                .expect("commits of the first session");
            assert!(
                last_commit < second,
                "kept batches land before the new session: {events:?}"
            );
            fake.assert_session_log_is_whole(1);
            let calls = fake.calls(1);
            let l2 = calls
                .iter()
                .filter(|c| c["fn"] == "SetValue" && c["value"] == "l2")
                .count();
            assert_eq!(l2, 1, "the kept call is stored once: {calls:?}");
            let failed = calls
                .iter()
                .find(|c| c["fn"] == "Commit" && c["result"] == "false")
                .expect("the failed Commit is in the log");
            assert_eq!(failed["error"], 101);
            assert!(
                calls
                    .iter()
                    .any(|c| c["fn"] == "Terminate" && c["result"] == "true"),
                "the LMSFinish of the unload is kept and delivered: {calls:?}"
            );
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_hide_beacon_carries_the_unsent_calls() {
    with_player(
        Course::new(ScormVersion::Scorm2004Fourth),
        async |client, fake, site| {
            client
                .goto(&site.url("/launch/launch-1"))
                .await
                .expect("the player loads");
            wait_sco(client, TOP, "i1").await;
            let done = site.url("/done");
            client
                .execute(
                    "const sco = document.getElementById('ac-frame').contentWindow.sco; \
                 sco.call('SetValue', 'cmi.suspend_data', 'page-hide-data'); \
                 window.location.href = arguments[0]; return true;",
                    vec![json!(done)],
                )
                .await
                .expect("the script runs");
            eventually("the beacon", 10 * SECOND, || {
                fake.calls(1)
                    .iter()
                    .any(|c| c["value"] == "page-hide-data")
                    .then_some(())
            })
            .await;
            let carrier = fake
                .batches(1)
                .into_iter()
                .find(|b| {
                    b["calls"]
                        .as_array()
                        .is_some_and(|calls| calls.iter().any(|c| c["value"] == "page-hide-data"))
                })
                .expect("the batch with the call");
            assert_eq!(carrier["page_hide"], true);
            assert!(fake.received_for(1).iter().any(|r| r.page_hide));
            fake.assert_session_log_is_whole(1);
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_hide_beacon_carries_every_unacknowledged_batch_in_one_request() {
    with_player(
        Course::new(ScormVersion::Scorm2004Fourth),
        async |client, fake, site| {
            client
                .goto(&site.url("/launch/launch-1"))
                .await
                .expect("the player loads");
            wait_sco(client, TOP, "i1").await;
            // Batch 1 fails and is kept; then the page leaves with more calls
            // (and the SCO's unload Terminate) unsent.
            fake.lock().commit_status = Some(503);
            assert_eq!(
                call(client, "SetValue", &["cmi.location", "kept"]).await,
                outcome("true", "0")
            );
            assert_eq!(call(client, "Commit", &[""]).await, outcome("false", "391"));
            fake.lock().commit_status = None;
            let done = site.url("/done");
            client
                .execute(
                    "const sco = document.getElementById('ac-frame').contentWindow.sco; \
                     sco.api.SetValue('cmi.suspend_data', 'unsent'); \
                     window.location.href = arguments[0]; return true;",
                    vec![json!(done)],
                )
                .await
                .expect("the script runs");
            eventually("the final batch", 10 * SECOND, || {
                fake.calls(1)
                    .iter()
                    .any(|c| c["fn"] == "Terminate")
                    .then_some(())
            })
            .await;
            // Every beacon named consecutive batches, from the oldest kept
            // one; the one that came last had them all.
            let beacons = fake.lock().beacons.clone();
            assert!(!beacons.is_empty());
            for numbers in &beacons {
                let expected: Vec<u64> = (1..=numbers.len() as u64).collect();
                assert_eq!(*numbers, expected, "{beacons:?}");
            }
            assert!(beacons.iter().any(|b| b.len() >= 2), "{beacons:?}");
            assert!(
                fake.received_for(1).iter().all(|r| r.status != 409),
                "nothing came out of order: {:?}",
                fake.received_for(1)
            );
            let calls = fake.calls(1);
            for value in ["kept", "unsent"] {
                assert_eq!(
                    calls.iter().filter(|c| c["value"] == value).count(),
                    1,
                    "{calls:?}"
                );
            }
            fake.assert_session_log_is_whole(1);
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_commit_that_lost_a_race_is_kept_and_sent_again() {
    with_player(
        Course::new(ScormVersion::Scorm2004Fourth),
        async |client, fake, site| {
            client
                .goto(&site.url("/launch/launch-1"))
                .await
                .expect("the player loads");
            wait_sco(client, TOP, "i1").await;
            {
                let mut state = fake.lock();
                state.commit_status = Some(409);
                state.commit_code = Some("concurrent_update");
            }
            assert_eq!(
                call(client, "SetValue", &["cmi.location", "raced"]).await,
                outcome("true", "0")
            );
            assert_eq!(call(client, "Commit", &[""]).await, outcome("false", "391"));
            assert_eq!(
                pending_keys(client).await,
                vec!["allureconnect.pending.sess-1.1"]
            );
            assert_eq!(message(client).await, "", "not taken for a refusal");
            fake.lock().commit_status = None;
            assert_eq!(call(client, "Commit", &[""]).await, outcome("true", "0"));
            assert_eq!(pending_keys(client).await, Vec::<String>::new());
            let calls = fake.calls(1);
            assert_eq!(
                calls.iter().filter(|c| c["value"] == "raced").count(),
                1,
                "{calls:?}"
            );
            fake.assert_session_log_is_whole(1);
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_superseded_session_says_so_and_stops_sending() {
    with_player(
        Course::new(ScormVersion::Scorm2004Fourth),
        async |client, fake, site| {
            client
                .goto(&site.url("/launch/launch-1"))
                .await
                .expect("the player loads");
            wait_sco(client, TOP, "i1").await;
            assert_eq!(
                call(client, "SetValue", &["cmi.location", "a"]).await,
                outcome("true", "0")
            );
            // The same registration opened elsewhere.
            let elsewhere = reqwest::Client::new()
                .post(site.url("/runtime/sessions"))
                .json(&json!({"launch_token": "launch-1"}))
                .send()
                .await
                .expect("the fake answers");
            assert!(elsewhere.status().is_success());

            assert_eq!(call(client, "Commit", &[""]).await, outcome("false", "391"));
            let text = message(client).await;
            assert!(text.contains("opened in another window"), "{text:?}");
            let role = in_player(
                client,
                TOP,
                "player.document.getElementById('ac-message').getAttribute('role')",
            )
            .await;
            assert_eq!(role, "alert");
            let sent = fake.received_for(1).len();
            assert_eq!(sent, 1);
            assert_eq!(
                call(client, "SetValue", &["cmi.location", "b"]).await,
                outcome("true", "0")
            );
            assert_eq!(call(client, "Commit", &[""]).await, outcome("false", "391"));
            // Past a timer tick, still nothing more.
            tokio::time::sleep(Duration::from_millis(5600)).await;
            assert_eq!(fake.received_for(1).len(), sent);
            assert_eq!(pending_keys(client).await, Vec::<String>::new());
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn navigation_follows_the_server_and_the_end_page_redirects() {
    let mut course = Course::new(ScormVersion::Scorm2004Fourth);
    course.title = "Safety </script><b>Basics</b> & \"more\"".to_owned();
    course.heartbeat_seconds = 1;
    with_player(course, async |client, fake, site| {
        fake.lock().course.as_mut().expect("course").redirect_url = Some(site.url("/done"));
        client.goto(&site.url("/launch/launch-1")).await.expect("the player loads");
        wait_sco(client, TOP, "i1").await;
        let title = in_player(client, TOP, "player.document.querySelector('.ac-title').textContent").await;
        assert_eq!(title, "Safety </script><b>Basics</b> & \"more\"");

        // The table of contents: hidden items absent, a cluster as text, a
        // disabled item, the current one marked.
        let toc = in_player(
            client,
            TOP,
            "[...player.document.querySelectorAll('#ac-toc-list li')].map((li) => { \
               const e = li.firstElementChild; \
               return [li.dataset.id, e.tagName, e.disabled === true, e.getAttribute('aria-current')]; })",
        )
        .await;
        assert_eq!(
            toc,
            json!([
                ["m1", "SPAN", false, null],
                ["i1", "BUTTON", false, "step"],
                ["i2", "BUTTON", false, null],
                ["i4", "BUTTON", true, null],
            ])
        );
        let controls = in_player(
            client,
            TOP,
            "Object.fromEntries([...player.document.querySelectorAll('#ac-controls button')].map((b) => \
               [b.dataset.request, b.hidden ? 'hidden' : b.disabled ? 'disabled' : 'enabled']))",
        )
        .await;
        assert_eq!(
            controls,
            json!({"previous": "disabled", "continue": "enabled", "exit": "hidden", "suspendAll": "disabled",
                   "exitAll": "enabled", "abandon": "hidden", "abandonAll": "hidden"})
        );
        // adl.nav.request_valid.* come from the delivery's launch context.
        for (element, expected) in [
            ("adl.nav.request_valid.continue", "true"),
            ("adl.nav.request_valid.previous", "false"),
            ("adl.nav.request_valid.choice.{target=i2}", "true"),
            ("adl.nav.request_valid.choice.{target=i4}", "false"),
            ("adl.nav.request_valid.choice.{target=i9}", "unknown"),
        ] {
            assert_eq!(call(client, "GetValue", &[element]).await, outcome(expected, "0"), "{element}");
        }

        // Unsent calls go out on the timer; the heartbeat names the activity.
        assert_eq!(call(client, "SetValue", &["cmi.location", "timer"]).await, outcome("true", "0"));
        eventually("the timer batch", 10 * SECOND, || {
            fake.calls(1).iter().any(|c| c["value"] == "timer").then_some(())
        })
        .await;
        assert!(fake.received_for(1).iter().all(|r| !r.page_hide));
        let beat = eventually("a heartbeat", 5 * SECOND, || fake.lock().heartbeats.first().cloned()).await;
        assert_eq!(beat, json!({"activity_id": "i1"}));

        // Next: the SCO is unloaded (it terminates), its final batch lands,
        // then the request is sent and the next activity delivered.
        client
            .find(Locator::Css("#ac-controls button[data-request='continue']"))
            .await
            .expect("the next button")
            .click()
            .await
            .expect("next is clickable");
        wait_sco(client, TOP, "i2").await;
        let events = fake.events();
        let final_i1 = events.iter().position(|e| e.ends_with(" i1 final")).expect("the final batch of i1");
        let next = events.iter().position(|e| e == "navigate continue").expect("the continue request");
        let deliver = events.iter().position(|e| e == "deliver i2").expect("the delivery of i2");
        assert!(final_i1 < next && next < deliver, "{events:?}");
        let marks = in_player(
            client,
            TOP,
            "[...player.document.querySelectorAll('#ac-toc-list li')].map((li) => \
               [li.dataset.id, li.querySelector('.ac-toc-mark').textContent, li.firstElementChild.getAttribute('aria-current')])",
        )
        .await;
        assert_eq!(marks[1], json!(["i1", "✓", null]));
        assert_eq!(marks[2], json!(["i2", "", "step"]));

        // Choice from the table of contents.
        client
            .find(Locator::Css("#ac-toc-list li[data-id='i1'] button"))
            .await
            .expect("the toc entry")
            .click()
            .await
            .expect("the toc entry is clickable");
        wait_sco(client, TOP, "i1").await;
        assert!(fake.events().contains(&"navigate choice".to_owned()));

        // The SCO asks to continue and terminates: the player sends "auto".
        assert_eq!(call(client, "SetValue", &["adl.nav.request", "continue"]).await, outcome("true", "0"));
        assert_eq!(call(client, "Terminate", &[""]).await, outcome("true", "0"));
        wait_sco(client, TOP, "i2").await;
        let events = fake.events();
        let auto = events.iter().rposition(|e| e == "navigate auto").expect("an auto request");
        let final_batch = events.iter().rposition(|e| e.ends_with(" i1 final")).expect("the final batch");
        assert!(final_batch < auto, "{events:?}");

        // Exit course: the course ends and the end page follows redirect_url.
        client
            .find(Locator::Css("#ac-controls button[data-request='exitAll']"))
            .await
            .expect("the exit button")
            .click()
            .await
            .expect("exit is clickable");
        wait_for(client, "location.pathname === '/done'", "the redirect", 10 * SECOND).await;
        fake.assert_session_log_is_whole(1);
        let activities: BTreeSet<String> = fake
            .batches(1)
            .iter()
            .filter(|b| b["final"] == true)
            .map(|b| b["activity_id"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(activities, BTreeSet::from(["i1".to_owned(), "i2".to_owned()]));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_preview_runs_the_runtime_and_sends_nothing() {
    let mut course = Course::new(ScormVersion::Scorm2004Fourth);
    course.tracking = false;
    course.heartbeat_seconds = 1;
    with_player(course, async |client, fake, site| {
        client
            .goto(&site.url("/launch/launch-1"))
            .await
            .expect("the player loads");
        wait_sco(client, TOP, "i1").await;
        assert_eq!(
            call(client, "SetValue", &["cmi.score.scaled", "2"]).await,
            outcome("false", "407")
        );
        assert_eq!(
            call(client, "SetValue", &["cmi.location", "x"]).await,
            outcome("true", "0")
        );
        assert_eq!(
            call(client, "GetValue", &["cmi.location"]).await,
            outcome("x", "0")
        );
        assert_eq!(call(client, "Commit", &[""]).await, outcome("true", "0"));
        assert_eq!(call(client, "Terminate", &[""]).await, outcome("true", "0"));
        tokio::time::sleep(Duration::from_millis(1500)).await;
        client.goto("about:blank").await.expect("about:blank loads");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(fake.lock().received.is_empty(), "a preview sends no batch");
        assert!(
            fake.lock().heartbeats.is_empty(),
            "a preview sends no heartbeat"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sco_finds_the_api_when_the_player_is_framed_or_opened_and_from_its_own_popups() {
    with_player(Course::new(ScormVersion::Scorm2004Fourth), async |client, _fake, site| {
        // The player inside an LMS page's iframe.
        client.goto(&site.url("/embed")).await.expect("the embedding page loads");
        let framed = "document.getElementById('player').contentWindow";
        wait_sco(client, framed, "i1").await;
        let found = in_player(client, framed, "[sco.hops, sco.via, sco.api === player.API_1484_11]").await;
        assert_eq!(found, json!([1, "parent", true]));
        assert_eq!(
            in_player(client, framed, "sco.call('GetValue', 'cmi.learner_id')").await,
            json!(["learner-1", "0"])
        );

        // The player in a window the LMS page opened.
        client.goto(&site.url("/opener")).await.expect("the opener page loads");
        client
            .execute("window.playerWindow = window.open(arguments[0], 'course'); return true;", vec![json!(site.url("/launch/opened"))])
            .await
            .expect("window.open runs");
        wait_sco(client, "window.playerWindow", "i1").await;
        let found = in_player(client, "window.playerWindow", "[sco.hops, sco.via, sco.api === player.API_1484_11]").await;
        assert_eq!(found, json!([1, "parent", true]));

        // A window the SCO opens finds the API through window.opener.
        in_player(
            client,
            "window.playerWindow",
            "frame.contentWindow.open(frame.contentWindow.location.href.replace('activity=i1', 'activity=popup'), 'popup') && true",
        )
        .await;
        let popup = wait_for(
            client,
            "window.playerWindow.document.getElementById('ac-frame').contentWindow.popupFound && \
             [window.playerWindow.document.getElementById('ac-frame').contentWindow.popupFound.via, \
              window.playerWindow.document.getElementById('ac-frame').contentWindow.popupFound.api === window.playerWindow.API_1484_11]",
            "the popup's discovery",
            10 * SECOND,
        )
        .await;
        assert_eq!(popup, json!(["opener", true]));
    })
    .await;
}
