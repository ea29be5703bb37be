//! The player in headless Chromium against the real server: the router with
//! both origins (API and content) on random ports and a fresh database per
//! test. Each test writes its course here (`e2e::packages`, with the
//! scripted SCO `BROWSER_SCO`), uploads it through the API, registers a
//! learner, opens a signed launch link and drives the SCO the way content
//! does, from inside the content frame. What the server recorded is read
//! back through the API (`/progress`, `/runtime-log`, `/launches`,
//! `/sequencing`, `/events`).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use e2e::browser::{Browser, Site, wait_for};
use e2e::packages::{self, Item2004};
use e2e::{TestApp, json};
use fantoccini::{Client, Locator};
use serde_json::{Value, json};

const SECOND: Duration = Duration::from_secs(1);

/// The content frame's window, from the player page.
const FRAME: &str = "document.getElementById('ac-frame').contentWindow";

// ---------------------------------------------------------------- the server side

/// A server with one workspace, a course and a registration of it.
struct Course {
    app: TestApp,
    key: String,
}

impl Course {
    /// Starts a server, imports `package` as `course_id` and registers
    /// `registration` (learner `l1`, Ada Lovelace) on it.
    async fn start(
        adjust: impl FnOnce(&mut api::config::Settings),
        course_id: &str,
        package: Vec<u8>,
        registration: &str,
    ) -> Course {
        let app = TestApp::spawn_with(adjust).await;
        let ws = app.create_workspace("Browser").await;
        let key = ws.live_key.clone();
        let import = app.import(&key, course_id, package).await;
        assert_eq!(import["status"], "complete", "{import}");
        let course = Course { app, key };
        course.register(registration, course_id).await;
        course
    }

    async fn register(&self, registration: &str, course_id: &str) {
        json(
            self.app
                .post(
                    &self.key,
                    "/api/v1/registrations",
                    &json!({
                        "registration_id": registration,
                        "course_id": course_id,
                        "learner": {"id": "l1", "first_name": "Ada", "last_name": "Lovelace"},
                    }),
                )
                .await,
            201,
        )
        .await;
    }

    /// A signed launch link of `registration`.
    async fn launch_url(&self, registration: &str, body: Value) -> String {
        let link = json(
            self.app
                .post(
                    &self.key,
                    &format!("/api/v1/registrations/{registration}/launch-link"),
                    &body,
                )
                .await,
            200,
        )
        .await;
        link["launch_url"]
            .as_str()
            .expect("a launch url")
            .to_owned()
    }

    async fn get(&self, path: &str) -> Value {
        json(self.app.get(&self.key, path).await, 200).await
    }

    /// GETs `path` until `ready` holds (views catch up with the player's
    /// writes), for 10 s at most.
    async fn until(&self, path: &str, ready: impl Fn(&Value) -> bool) -> Value {
        self.app.eventually(&self.key, path, ready).await
    }

    /// Every call of the registration's runtime log, in order.
    async fn log(&self, registration: &str) -> Vec<Value> {
        let log = self
            .get(&format!(
                "/api/v1/registrations/{registration}/runtime-log?limit=10000"
            ))
            .await;
        log["calls"].as_array().expect("calls").clone()
    }

    /// The runtime log once it holds a call that `found` picks.
    async fn log_with(&self, registration: &str, found: impl Fn(&Value) -> bool) -> Vec<Value> {
        self.log_until(registration, |calls| calls.iter().any(&found))
            .await
    }

    /// The runtime log once `ready` holds for its calls.
    async fn log_until(&self, registration: &str, ready: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let log = self
            .until(
                &format!("/api/v1/registrations/{registration}/runtime-log?limit=10000"),
                |log| log["calls"].as_array().is_some_and(|c| ready(c)),
            )
            .await;
        log["calls"].as_array().expect("calls").clone()
    }

    /// The runtime log once its `n`th session (from 1) has made a call
    /// that `found` picks.
    async fn log_of_session(
        &self,
        registration: &str,
        n: usize,
        found: impl Fn(&Value) -> bool,
    ) -> Vec<Value> {
        self.log_until(registration, |calls| {
            sessions(calls)
                .get(n - 1)
                .is_some_and(|session| of_session(calls, session).iter().any(&found))
        })
        .await
    }

    async fn progress(&self, registration: &str) -> Value {
        self.get(&format!("/api/v1/registrations/{registration}/progress"))
            .await
    }

    async fn events(&self) -> Vec<Value> {
        self.app.all_events(&self.key).await
    }

    async fn stop(self) {
        self.app.stop().await;
    }
}

/// A call of the runtime log as `(fn, element, value, result, error)`.
type Logged = (String, Option<String>, Option<String>, String, i64);

fn logged(entry: &Value) -> Logged {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    (
        entry["fn"].as_str().expect("fn").to_owned(),
        text(&entry["element"]),
        text(&entry["value"]),
        entry["result"].as_str().expect("result").to_owned(),
        entry["error"].as_i64().expect("error"),
    )
}

/// The calls of one session in the log.
fn of_session(log: &[Value], session: &str) -> Vec<Value> {
    log.iter()
        .filter(|c| c["session_id"] == session)
        .cloned()
        .collect()
}

/// The sessions of the log, in the order their first call appears.
fn sessions(log: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for call in log {
        let session = call["session_id"].as_str().expect("session_id").to_owned();
        if !out.contains(&session) {
            out.push(session);
        }
    }
    out
}

/// What the runtime log must hold for the calls a test made through the
/// SCO, in order: each call, then the `GetLastError` the SCO asks after it.
#[derive(Default, Debug)]
struct Expected(Vec<Logged>);

impl Expected {
    /// The `Initialize` (and its `GetLastError`) the SCO makes on load.
    fn loaded() -> Expected {
        let mut expected = Expected::default();
        expected.push(&json!(["Initialize", ""]), &outcome("true", "0"));
        expected
    }

    fn push(&mut self, step: &Value, (result, error): &(String, String)) {
        let step = step.as_array().expect("a step is an array");
        let text = |i: usize| step.get(i).and_then(Value::as_str).map(str::to_owned);
        let function = text(0).expect("a function name");
        let (element, value) = match function.as_str() {
            "GetValue" => (text(1), None),
            "SetValue" => (text(1), text(2)),
            "GetLastError" => (None, None),
            _ => (None, text(1)),
        };
        let code: i64 = error.parse().expect("a numeric error");
        self.0
            .push((function, element, value, result.clone(), code));
        self.0
            .push(("GetLastError".to_owned(), None, None, error.clone(), code));
    }

    /// The `Terminate` the SCO makes by itself when it is unloaded.
    fn finished_on_unload(&mut self) {
        self.0.push((
            "Terminate".to_owned(),
            None,
            Some(String::new()),
            "true".to_owned(),
            0,
        ));
    }

    fn assert_matches(&self, calls: &[Value], what: &str) {
        let actual: Vec<Logged> = calls.iter().map(logged).collect();
        if actual != self.0 {
            let short = |l: &Logged| {
                let text = format!("{l:?}");
                if text.chars().count() > 160 {
                    format!("{}…", text.chars().take(160).collect::<String>())
                } else {
                    text
                }
            };
            let first = (0..self.0.len().max(actual.len()))
                .find(|&i| self.0.get(i) != actual.get(i))
                .expect("the lists differ somewhere");
            let around = |list: &[Logged]| {
                list.iter()
                    .enumerate()
                    .skip(first.saturating_sub(2))
                    .take(6)
                    .map(|(i, l)| format!("{i}: {}", short(l)))
                    .collect::<Vec<_>>()
                    .join("\n  ")
            };
            panic!(
                "{what}: the runtime log differs at call {first} ({} expected, {} logged)\nexpected:\n  {}\nlogged:\n  {}",
                self.0.len(),
                actual.len(),
                around(&self.0),
                around(&actual)
            );
        }
        let seqs: Vec<i64> = calls.iter().map(|c| c["seq"].as_i64().unwrap()).collect();
        let expected: Vec<i64> = (0..calls.len() as i64).collect();
        assert_eq!(seqs, expected, "{what}: seq numbers");
        assert!(
            calls
                .iter()
                .all(|c| c["server_result"].is_null() && c["server_error"].is_null()),
            "{what}: the server's replay disagreed with the browser: {calls:?}"
        );
    }
}

fn outcome(result: &str, error: &str) -> (String, String) {
    (result.to_owned(), error.to_owned())
}

// ---------------------------------------------------------------- the browser side

/// Waits until the SCO `name` is loaded in the player and has initialized.
async fn wait_sco(client: &Client, name: &str) {
    wait_for(
        client,
        &format!("{FRAME}.sco && {FRAME}.sco.name === '{name}' && {FRAME}.sco.started"),
        &format!("the sco {name}"),
        20 * SECOND,
    )
    .await;
}

/// Makes the SCO run `steps` (`[[fn, ...args], …]`) and returns each
/// call's `(result, GetLastError())`.
async fn sco(client: &Client, steps: Value) -> Vec<(String, String)> {
    let answer = client
        .execute(
            &format!("return {FRAME}.sco.run(arguments[0]);"),
            vec![steps.clone()],
        )
        .await
        .unwrap_or_else(|e| panic!("{steps}: {e}"));
    answer
        .as_array()
        .expect("an array of outcomes")
        .iter()
        .map(|pair| {
            (
                pair[0].as_str().unwrap_or_default().to_owned(),
                pair[1].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Runs `steps` in the SCO, records them in `expected`, and checks that
/// each gave `(result, error)` as `want` says.
async fn sco_expect(client: &Client, expected: &mut Expected, steps: &[(Value, (&str, &str))]) {
    let list = Value::Array(steps.iter().map(|(s, _)| s.clone()).collect());
    let outcomes = sco(client, list).await;
    for ((step, (result, error)), got) in steps.iter().zip(&outcomes) {
        assert_eq!(
            (got.0.as_str(), got.1.as_str()),
            (*result, *error),
            "the SCO's {step}"
        );
        expected.push(step, got);
    }
}

/// The value `GetValue(element)` answers in the SCO, with its error code.
async fn get_value(client: &Client, expected: &mut Expected, element: &str) -> (String, String) {
    let step = json!(["GetValue", element]);
    let got = sco(client, json!([step])).await.remove(0);
    expected.push(&step, &got);
    got
}

async fn eval(client: &Client, expression: &str) -> Value {
    client
        .execute(&format!("return ({expression});"), vec![])
        .await
        .unwrap_or_else(|e| panic!("{expression}: {e}"))
}

/// The table of contents: `[id, tag, disabled, aria-current]` per entry shown.
async fn toc(client: &Client) -> Value {
    eval(
        client,
        "[...document.querySelectorAll('#ac-toc-list li')].map((li) => { \
           const e = li.firstElementChild; \
           return [li.dataset.id, e.tagName, e.disabled === true, e.getAttribute('aria-current')]; })",
    )
    .await
}

/// Each navigation button's state: `hidden`, `disabled` or `enabled`.
async fn controls(client: &Client) -> Value {
    eval(
        client,
        "Object.fromEntries([...document.querySelectorAll('#ac-controls button')].map((b) => \
           [b.dataset.request, b.hidden ? 'hidden' : b.disabled ? 'disabled' : 'enabled']))",
    )
    .await
}

async fn click(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
}

async fn pending_keys(client: &Client) -> Vec<String> {
    let keys = eval(
        client,
        "Object.keys(localStorage).filter((k) => k.startsWith('allureconnect.pending.')).sort()",
    )
    .await;
    serde_json::from_value(keys).expect("keys are strings")
}

async fn message(client: &Client) -> String {
    eval(client, "document.getElementById('ac-message').textContent")
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Starts a browser and runs `test`; skips when there is no browser.
async fn with_browser(test: impl AsyncFnOnce(&Client)) {
    e2e::init();
    let Some(browser) = Browser::start().await else {
        return;
    };
    browser.run(test).await;
}

/// Opens `url` in a new tab and makes it the current one; returns the
/// handle of the tab that was current.
async fn open_tab(client: &Client, url: &str) -> fantoccini::wd::WindowHandle {
    let before = client.window().await.expect("the current window");
    let tab = client.new_window(true).await.expect("a new tab");
    client
        .switch_to_window(tab.handle)
        .await
        .expect("switch to the new tab");
    client.goto(url).await.expect("the page loads");
    before
}

/// A string of `chars` characters (Unicode scalar values) mixing ASCII,
/// markup, quotes, escapes, accents, a character outside the BMP and
/// whitespace, so that anything that re-encodes it shows.
fn suspend_data(chars: usize) -> String {
    let alphabet: Vec<char> = "abcXYZ0189 <>&\"'\\/{}[]=;,.:%+é€ü\n\t😀".chars().collect();
    (0..chars)
        .map(|i| alphabet[(i * 7 + i / 11) % alphabet.len()])
        .collect()
}

// ---------------------------------------------------------------- a relay

/// What the relay did with one request.
#[derive(Debug, Clone)]
struct Relayed {
    path: String,
    status: u16,
}

#[derive(Default)]
struct RelayState {
    /// Forward commits to the server but answer the browser 502, as if
    /// the answer were lost on the way back.
    lose_commit_answers: bool,
    relayed: Vec<Relayed>,
}

/// An HTTP relay in front of the content origin, on its own loopback port:
/// the browser only ever talks to it, so a test can lose answers or, by
/// pausing its [`Site`], make the server unreachable.
#[derive(Clone)]
struct Relay {
    target: String,
    client: reqwest::Client,
    state: Arc<Mutex<RelayState>>,
}

impl Relay {
    fn new(target: &str) -> Relay {
        Relay {
            target: target.to_owned(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a client"),
            state: Arc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, RelayState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many requests to paths containing `part` were relayed.
    fn count(&self, part: &str) -> usize {
        self.lock()
            .relayed
            .iter()
            .filter(|r| r.path.contains(part))
            .count()
    }

    fn router(&self) -> Router {
        Router::new().fallback(relay).with_state(self.clone())
    }

    /// `url` (on the content origin) as the relay's address on `site`.
    fn rebase(&self, site: &Site, url: &str) -> String {
        let path = url
            .strip_prefix(&self.target)
            .unwrap_or_else(|| panic!("{url} is not on {}", self.target));
        site.url(path)
    }
}

const HOP_BY_HOP: [HeaderName; 4] = [
    header::HOST,
    header::CONNECTION,
    header::TRANSFER_ENCODING,
    header::CONTENT_LENGTH,
];

async fn relay(State(relay): State<Relay>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    let Ok(bytes) = axum::body::to_bytes(body, 64 << 20).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let mut outgoing = relay
        .client
        .request(parts.method.clone(), format!("{}{path}", relay.target))
        .body(bytes);
    for (name, value) in &parts.headers {
        if !HOP_BY_HOP.contains(name) {
            outgoing = outgoing.header(name, value);
        }
    }
    let answer = match outgoing.send().await {
        Ok(answer) => answer,
        Err(_) => return StatusCode::BAD_GATEWAY.into_response(),
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    let body = answer.bytes().await.unwrap_or_default();
    let lose = path.ends_with("/commit") && relay.lock().lose_commit_answers;
    let status = if lose {
        StatusCode::BAD_GATEWAY
    } else {
        status
    };
    relay.lock().relayed.push(Relayed {
        path: path.clone(),
        status: status.as_u16(),
    });
    if lose {
        return (status, "the answer was lost").into_response();
    }
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    for (name, value) in &headers {
        if !HOP_BY_HOP.contains(name) {
            response.headers_mut().append(name, value.clone());
        }
    }
    response
}

/// A page that stands for the LMS a course returns to.
fn lms() -> Router {
    Router::new().route(
        "/done",
        get(|| async {
            Html("<!doctype html><html lang=\"en\"><head><title>Back in the LMS</title></head><body>done</body></html>")
        }),
    )
}

// ---------------------------------------------------------------- 1. data and resume

#[tokio::test(flavor = "multi_thread")]
async fn scorm12_data_is_recorded_and_a_second_launch_resumes_it_exactly() {
    let course = Course::start(
        |_| {},
        "c12",
        packages::scorm12_browser("Safety 1.2", &[("lesson1", "Lesson 1")]),
        "r1",
    )
    .await;
    let url = course
        .launch_url("r1", json!({"expiry_seconds": 600}))
        .await;
    let suspend = suspend_data(4096);
    with_browser(async |client| {
        client.goto(&url).await.expect("the player loads");
        wait_sco(client, "lesson1").await;
        let mut first = Expected::loaded();
        sco_expect(
            client,
            &mut first,
            &[
                (json!(["GetValue", "cmi.core.entry"]), ("ab-initio", "0")),
                (
                    json!(["GetValue", "cmi.core.student_name"]),
                    ("Lovelace, Ada", "0"),
                ),
                (
                    json!(["GetValue", "cmi.core.lesson_status"]),
                    ("not attempted", "0"),
                ),
                (
                    json!(["GetValue", "cmi.student_data.mastery_score"]),
                    ("80", "0"),
                ),
                (
                    json!(["SetValue", "cmi.core.lesson_location", "page-3"]),
                    ("true", "0"),
                ),
                (
                    json!(["SetValue", "cmi.core.score.raw", "85"]),
                    ("true", "0"),
                ),
                (
                    json!(["SetValue", "cmi.core.score.min", "0"]),
                    ("true", "0"),
                ),
                (
                    json!(["SetValue", "cmi.core.score.max", "100"]),
                    ("true", "0"),
                ),
                (
                    json!(["SetValue", "cmi.suspend_data", suspend]),
                    ("true", "0"),
                ),
                (
                    json!(["SetValue", "cmi.interactions.0.id", "q1"]),
                    ("true", "0"),
                ),
                (
                    json!(["SetValue", "cmi.interactions.0.type", "choice"]),
                    ("true", "0"),
                ),
                (
                    json!(["SetValue", "cmi.interactions.0.student_response", "a"]),
                    ("true", "0"),
                ),
                (
                    json!([
                        "SetValue",
                        "cmi.interactions.0.correct_responses.0.pattern",
                        "a"
                    ]),
                    ("true", "0"),
                ),
                (
                    json!(["SetValue", "cmi.interactions.0.result", "correct"]),
                    ("true", "0"),
                ),
                (
                    json!(["SetValue", "cmi.interactions.0.latency", "00:00:05"]),
                    ("true", "0"),
                ),
                (
                    json!(["SetValue", "cmi.objectives.0.id", "obj1"]),
                    ("true", "0"),
                ),
                (
                    json!(["SetValue", "cmi.objectives.0.score.raw", "90"]),
                    ("true", "0"),
                ),
                (
                    json!(["SetValue", "cmi.objectives.0.status", "passed"]),
                    ("true", "0"),
                ),
                (
                    json!(["SetValue", "cmi.comments", "Clear enough"]),
                    ("true", "0"),
                ),
                (
                    json!(["SetValue", "cmi.student_preference.language", "en"]),
                    ("true", "0"),
                ),
                // Refused, and recorded as refused.
                (
                    json!(["SetValue", "cmi.core.student_id", "x"]),
                    ("false", "403"),
                ),
                (
                    json!(["SetValue", "cmi.core.lesson_status", "passed"]),
                    ("true", "0"),
                ),
                (
                    json!(["SetValue", "cmi.core.session_time", "00:01:30"]),
                    ("true", "0"),
                ),
                (
                    json!(["SetValue", "cmi.core.exit", "suspend"]),
                    ("true", "0"),
                ),
                (json!(["Commit", ""]), ("true", "0")),
                (json!(["Terminate", ""]), ("true", "0")),
            ],
        )
        .await;

        // LMSFinish's batch is in once total_time has the session time.
        let progress = course
            .until("/api/v1/registrations/r1/progress", |p| {
                p["total_time_seconds"] == 90.0
            })
            .await;
        assert_eq!(progress["success"], "passed", "{progress}");
        assert_eq!(progress["completion"], "completed", "{progress}");
        assert_eq!(progress["score"]["raw"], 85.0);
        assert_eq!(progress["score"]["scaled"], 0.85);
        assert_eq!(progress["total_time_seconds"], 90.0);
        let activity = &progress["activities"][0];
        assert_eq!(activity["id"], "lesson1");
        assert_eq!(activity["lesson_status"], "passed");
        assert_eq!(activity["exit"], "suspend");
        assert_eq!(activity["suspended"], true);
        let runtime = &activity["runtime"];
        for (element, value) in [
            ("cmi.core.lesson_location", "page-3"),
            ("cmi.core.score.raw", "85"),
            ("cmi.interactions.0.id", "q1"),
            ("cmi.interactions.0.student_response", "a"),
            ("cmi.interactions.0.correct_responses.0.pattern", "a"),
            ("cmi.objectives.0.id", "obj1"),
            ("cmi.objectives.0.status", "passed"),
            ("cmi.objectives.0.score.raw", "90"),
            ("cmi.comments", "Clear enough"),
            ("cmi.student_preference.language", "en"),
        ] {
            assert_eq!(runtime[element], value, "{element} in {runtime}");
        }
        assert_eq!(runtime["cmi.suspend_data"].as_str(), Some(suspend.as_str()));

        // A second launch of the same link resumes with everything.
        client.goto(&url).await.expect("the player loads again");
        wait_sco(client, "lesson1").await;
        let mut second = Expected::loaded();
        sco_expect(
            client,
            &mut second,
            &[
                (json!(["GetValue", "cmi.core.entry"]), ("resume", "0")),
                (
                    json!(["GetValue", "cmi.core.lesson_location"]),
                    ("page-3", "0"),
                ),
                (
                    json!(["GetValue", "cmi.core.lesson_status"]),
                    ("passed", "0"),
                ),
                (json!(["GetValue", "cmi.core.score.raw"]), ("85", "0")),
                (json!(["GetValue", "cmi.core.score.min"]), ("0", "0")),
                (json!(["GetValue", "cmi.core.score.max"]), ("100", "0")),
                (
                    json!(["GetValue", "cmi.core.total_time"]),
                    ("0000:01:30.00", "0"),
                ),
                (json!(["GetValue", "cmi.interactions._count"]), ("1", "0")),
                (json!(["GetValue", "cmi.objectives._count"]), ("1", "0")),
                (json!(["GetValue", "cmi.objectives.0.id"]), ("obj1", "0")),
                (
                    json!(["GetValue", "cmi.objectives.0.status"]),
                    ("passed", "0"),
                ),
                (
                    json!(["GetValue", "cmi.objectives.0.score.raw"]),
                    ("90", "0"),
                ),
                (json!(["GetValue", "cmi.comments"]), ("Clear enough", "0")),
                (
                    json!(["GetValue", "cmi.student_preference.language"]),
                    ("en", "0"),
                ),
            ],
        )
        .await;
        let restored = get_value(client, &mut second, "cmi.suspend_data").await;
        assert_eq!(restored.1, "0");
        assert!(restored.0 == suspend, "the suspend data came back changed");
        sco_expect(
            client,
            &mut second,
            &[(json!(["Commit", ""]), ("true", "0"))],
        )
        .await;

        // Every call of both launches, once and in order: the calls after
        // the first launch's LMSFinish came when its page was left.
        let log = course
            .log_of_session("r1", 2, |c| c["fn"] == "Commit")
            .await;
        let both = sessions(&log);
        assert_eq!(both.len(), 2, "{both:?}");
        first.assert_matches(&of_session(&log, &both[0]), "the first launch");
        second.assert_matches(&of_session(&log, &both[1]), "the second launch");
        let launches = course.get("/api/v1/registrations/r1/launches").await;
        let launches = launches["launches"].as_array().expect("launches");
        assert_eq!(launches.len(), 2);
        assert_eq!(launches[1]["resumed"], true);
        assert!(launches[0]["superseded_at"].is_string());
    })
    .await;
    course.stop().await;
}

/// A single-SCO SCORM 2004 course whose SCO has a primary and a secondary
/// objective in the manifest.
fn single_2004() -> Vec<u8> {
    let sequencing = r#"<imsss:sequencing><imsss:objectives>
  <imsss:primaryObjective objectiveID="unit-mastery" satisfiedByMeasure="false"/>
  <imsss:objective objectiveID="unit-extra"/>
 </imsss:objectives></imsss:sequencing>"#;
    let manifest = packages::manifest_2004_browser(
        "Safety 2004",
        &[Item2004 {
            id: "unit",
            title: "Unit",
            sequencing,
        }],
        r#"<imsss:sequencing><imsss:controlMode flow="true"/></imsss:sequencing>"#,
    );
    packages::scorm2004_browser(&manifest, ["unit"])
}

#[tokio::test(flavor = "multi_thread")]
async fn scorm2004_data_is_recorded_and_a_second_launch_resumes_it_exactly() {
    let course = Course::start(|_| {}, "c2004", single_2004(), "r1").await;
    let url = course
        .launch_url("r1", json!({"expiry_seconds": 600}))
        .await;
    let suspend = suspend_data(64_000);
    let values: Vec<(&str, &str)> = vec![
        ("cmi.location", "slide-12"),
        ("cmi.score.scaled", "0.85"),
        ("cmi.score.raw", "85"),
        ("cmi.score.min", "0"),
        ("cmi.score.max", "100"),
        ("cmi.success_status", "passed"),
        ("cmi.completion_status", "incomplete"),
        ("cmi.progress_measure", "0.6"),
        ("cmi.interactions.0.id", "urn:example:q1"),
        ("cmi.interactions.0.type", "choice"),
        ("cmi.interactions.0.objectives.0.id", "unit-mastery"),
        ("cmi.interactions.0.timestamp", "2026-11-28T10:00:00Z"),
        ("cmi.interactions.0.correct_responses.0.pattern", "a[,]b"),
        ("cmi.interactions.0.learner_response", "b[,]a"),
        ("cmi.interactions.0.result", "correct"),
        ("cmi.interactions.0.weighting", "1.5"),
        ("cmi.interactions.0.latency", "PT5.25S"),
        ("cmi.interactions.0.description", "{lang=en}Pick two"),
        ("cmi.interactions.1.id", "urn:example:q2"),
        ("cmi.interactions.1.type", "fill-in"),
        ("cmi.interactions.1.learner_response", "{lang=en}Café"),
        ("cmi.interactions.1.result", "incorrect"),
        ("cmi.objectives.0.success_status", "passed"),
        ("cmi.objectives.0.completion_status", "completed"),
        ("cmi.objectives.0.score.scaled", "0.9"),
        ("cmi.objectives.1.progress_measure", "0.5"),
        ("cmi.objectives.2.id", "urn:example:extra-2"),
        ("cmi.objectives.2.description", "{lang=en}Added by the SCO"),
        ("cmi.comments_from_learner.0.comment", "{lang=en}Good unit"),
        ("cmi.comments_from_learner.0.location", "slide-12"),
        ("cmi.learner_preference.audio_level", "0.5"),
        ("cmi.learner_preference.language", "en-GB"),
    ];
    with_browser(async |client| {
        client.goto(&url).await.expect("the player loads");
        wait_sco(client, "unit").await;
        let mut first = Expected::loaded();
        let mut steps = vec![
            (json!(["GetValue", "cmi.entry"]), ("ab-initio", "0")),
            (
                json!(["GetValue", "cmi.learner_name"]),
                ("Lovelace, Ada", "0"),
            ),
            // The manifest's objectives are there from the start.
            (json!(["GetValue", "cmi.objectives._count"]), ("2", "0")),
            (
                json!(["GetValue", "cmi.objectives.0.id"]),
                ("unit-mastery", "0"),
            ),
            (
                json!(["GetValue", "cmi.objectives.1.id"]),
                ("unit-extra", "0"),
            ),
            (json!(["GetValue", "cmi.location"]), ("", "403")),
            (
                json!(["SetValue", "cmi.score.scaled", "1.5"]),
                ("false", "407"),
            ),
        ];
        for (element, value) in &values {
            steps.push((json!(["SetValue", element, value]), ("true", "0")));
        }
        steps.extend([
            (
                json!(["SetValue", "cmi.suspend_data", suspend]),
                ("true", "0"),
            ),
            (
                json!(["SetValue", "cmi.session_time", "PT1M30S"]),
                ("true", "0"),
            ),
            (json!(["SetValue", "cmi.exit", "suspend"]), ("true", "0")),
            (json!(["Commit", ""]), ("true", "0")),
            (json!(["Terminate", ""]), ("true", "0")),
        ]);
        sco_expect(client, &mut first, &steps).await;

        // Terminate's batch is in once total_time has the session time.
        let progress = course
            .until("/api/v1/registrations/r1/progress", |p| {
                p["activities"][0]["total_time_seconds"] == 90.0
            })
            .await;
        let activity = &progress["activities"][0];
        assert_eq!(activity["success"], "passed", "{activity}");
        assert_eq!(activity["completion"], "incomplete");
        assert_eq!(activity["exit"], "suspend");
        assert_eq!(activity["suspended"], true);
        assert_eq!(progress["score"]["scaled"], 0.85);
        assert_eq!(progress["score"]["raw"], 85.0);
        assert_eq!(progress["total_time_seconds"], 90.0);
        let runtime = &activity["runtime"];
        for (element, value) in &values {
            assert_eq!(runtime[element], *value, "{element}");
        }
        assert_eq!(runtime["cmi.objectives.0.id"], "unit-mastery");
        assert_eq!(runtime["cmi.objectives.1.id"], "unit-extra");
        assert_eq!(
            runtime["cmi.suspend_data"]
                .as_str()
                .map(|s| s.chars().count()),
            Some(64_000)
        );
        assert!(runtime["cmi.suspend_data"].as_str() == Some(suspend.as_str()));

        // The second launch resumes: the SCO reads back every value.
        client.goto(&url).await.expect("the player loads again");
        wait_sco(client, "unit").await;
        let mut second = Expected::loaded();
        let mut steps = vec![
            (json!(["GetValue", "cmi.entry"]), ("resume", "0")),
            (json!(["GetValue", "cmi.total_time"]), ("PT1M30S", "0")),
            (json!(["GetValue", "cmi.objectives._count"]), ("3", "0")),
            (json!(["GetValue", "cmi.interactions._count"]), ("2", "0")),
            (
                json!(["GetValue", "cmi.comments_from_learner._count"]),
                ("1", "0"),
            ),
        ];
        for (element, value) in &values {
            steps.push((json!(["GetValue", element]), (*value, "0")));
        }
        sco_expect(client, &mut second, &steps).await;
        let restored = get_value(client, &mut second, "cmi.suspend_data").await;
        assert_eq!(restored.1, "0");
        assert_eq!(restored.0.chars().count(), 64_000);
        assert!(restored.0 == suspend, "the suspend data came back changed");
        sco_expect(
            client,
            &mut second,
            &[(json!(["Commit", ""]), ("true", "0"))],
        )
        .await;
        let log = course
            .log_of_session("r1", 2, |c| c["fn"] == "Commit")
            .await;
        let both = sessions(&log);
        assert_eq!(both.len(), 2, "{both:?}");
        first.assert_matches(&of_session(&log, &both[0]), "the first launch");
        second.assert_matches(&of_session(&log, &both[1]), "the second launch");
    })
    .await;
    course.stop().await;
}

// ---------------------------------------------------------------- 2. page hide

/// The batch that carried the log entry `call`, as the server committed it.
async fn batch_of(course: &Course, call: &Value) -> Value {
    let events = course.events().await;
    events
        .into_iter()
        .find(|e| {
            e["type"] == "RuntimeBatchCommitted"
                && e["data"]["session_id"] == call["session_id"]
                && e["data"]["batch"] == call["batch"]
        })
        .unwrap_or_else(|| panic!("no batch committed for {call}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn closing_the_tab_right_after_set_value_still_records_the_calls() {
    let course = Course::start(|_| {}, "c2004", single_2004(), "r1").await;
    let url = course
        .launch_url("r1", json!({"expiry_seconds": 600}))
        .await;
    with_browser(async |client| {
        let first = open_tab(client, &url).await;
        wait_sco(client, "unit").await;
        // Set, and close the tab at once: no Commit, no Terminate by the
        // SCO itself (only its unload handler's).
        client
            .execute(
                &format!(
                    "const sco = {FRAME}.sco; \
                     sco.api.SetValue('cmi.location', 'closing'); \
                     sco.api.SetValue('cmi.suspend_data', 'left without commit'); \
                     return true;"
                ),
                vec![],
            )
            .await
            .expect("the SCO sets");
        client.close_window().await.expect("the tab closes");
        client
            .switch_to_window(first)
            .await
            .expect("back to the first tab");

        let log = course
            .log_with("r1", |c| c["value"] == "left without commit")
            .await;
        let calls: Vec<Logged> = log.iter().map(logged).collect();
        let set = |element: &str, value: &str| {
            (
                "SetValue".to_owned(),
                Some(element.to_owned()),
                Some(value.to_owned()),
                "true".to_owned(),
                0,
            )
        };
        assert_eq!(calls[2], set("cmi.location", "closing"), "{calls:?}");
        assert_eq!(calls[3], set("cmi.suspend_data", "left without commit"));
        assert!(
            !calls.iter().any(|c| c.0 == "Commit"),
            "nothing committed: {calls:?}"
        );
        let carrier = batch_of(&course, &log[2]).await;
        assert_eq!(
            carrier["data"]["page_hide"], true,
            "the calls came by the page-hide beacon: {carrier}"
        );
        let progress = course
            .until("/api/v1/registrations/r1/progress", |p| {
                p["activities"][0]["runtime"]["cmi.location"] == "closing"
            })
            .await;
        assert_eq!(
            progress["activities"][0]["runtime"]["cmi.suspend_data"],
            "left without commit"
        );
    })
    .await;
    course.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn navigating_away_right_after_set_value_still_records_the_calls() {
    let course = Course::start(
        |_| {},
        "c12",
        packages::scorm12_browser("Safety 1.2", &[("lesson1", "Lesson 1")]),
        "r1",
    )
    .await;
    let url = course
        .launch_url("r1", json!({"expiry_seconds": 600}))
        .await;
    let lms = Site::start(lms()).await;
    with_browser(async |client| {
        client.goto(&url).await.expect("the player loads");
        wait_sco(client, "lesson1").await;
        client
            .execute(
                &format!(
                    "const sco = {FRAME}.sco; \
                     sco.api.LMSSetValue('cmi.core.lesson_location', 'leaving'); \
                     window.location.href = arguments[0]; return true;"
                ),
                vec![json!(lms.url("/done"))],
            )
            .await
            .expect("the SCO sets and the page leaves");
        let log = course.log_with("r1", |c| c["value"] == "leaving").await;
        let at = log
            .iter()
            .position(|c| c["value"] == "leaving")
            .expect("the call");
        assert!(!log[..at].iter().any(|c| c["fn"] == "Commit"));
        let carrier = batch_of(&course, &log[at]).await;
        assert_eq!(carrier["data"]["page_hide"], true, "{carrier}");
        // The LMSFinish of the SCO's unload handler came the same way.
        let finish = course
            .log_with("r1", |c| c["fn"] == "Terminate")
            .await
            .into_iter()
            .find(|c| c["fn"] == "Terminate")
            .expect("the finish");
        assert_eq!(finish["result"], "true", "{finish}");
        wait_for(
            client,
            "location.pathname === '/done'",
            "the other page",
            10 * SECOND,
        )
        .await;
    })
    .await;
    course.stop().await;
}

// ---------------------------------------------------------------- 3. network failure

#[tokio::test(flavor = "multi_thread")]
async fn a_commit_lost_to_the_network_is_kept_and_sent_on_the_next_launch_once() {
    let course = Course::start(|_| {}, "c2004", single_2004(), "r1").await;
    let relay = Relay::new(&course.app.content);
    let mut site = Site::start(relay.router()).await;
    let url = relay.rebase(
        &site,
        &course
            .launch_url("r1", json!({"expiry_seconds": 600}))
            .await,
    );
    with_browser(async |client| {
        client.goto(&url).await.expect("the player loads");
        wait_sco(client, "unit").await;
        let mut expected = Expected::loaded();
        sco_expect(
            client,
            &mut expected,
            &[
                (json!(["SetValue", "cmi.location", "a"]), ("true", "0")),
                (json!(["Commit", ""]), ("true", "0")),
            ],
        )
        .await;
        assert_eq!(pending_keys(client).await, Vec::<String>::new());

        // The server gets the batch, its answer is lost: the SCO is told
        // the commit failed, and the batch is kept.
        relay.lock().lose_commit_answers = true;
        sco_expect(
            client,
            &mut expected,
            &[
                (json!(["SetValue", "cmi.location", "b"]), ("true", "0")),
                (json!(["Commit", ""]), ("false", "391")),
            ],
        )
        .await;
        let kept = pending_keys(client).await;
        assert_eq!(kept.len(), 1, "{kept:?}");
        relay.lock().lose_commit_answers = false;

        // The server cannot be reached at all.
        site.pause().await;
        sco_expect(
            client,
            &mut expected,
            &[
                (json!(["SetValue", "cmi.location", "c"]), ("true", "0")),
                (
                    json!(["SetValue", "cmi.suspend_data", "c-data"]),
                    ("true", "0"),
                ),
                (json!(["Commit", ""]), ("false", "391")),
                (json!(["SetValue", "cmi.exit", "suspend"]), ("true", "0")),
            ],
        )
        .await;
        assert_eq!(pending_keys(client).await.len(), 2);
        // The learner leaves while the server is unreachable: the page-hide
        // beacon fails too, and the SCO's unload Terminate is kept.
        client.goto("about:blank").await.expect("about:blank loads");
        expected.finished_on_unload();

        site.resume().await;
        client.goto(&url).await.expect("the player loads again");
        wait_sco(client, "unit").await;
        wait_for(
            client,
            "!Object.keys(localStorage).some((k) => k.startsWith('allureconnect.pending.'))",
            "the kept batches to be delivered",
            10 * SECOND,
        )
        .await;
        let log = course.log_with("r1", |c| c["fn"] == "Terminate").await;
        let all = sessions(&log);
        // Every call of the first launch exactly once, in order, the failed
        // commits included.
        expected.assert_matches(&of_session(&log, &all[0]), "the interrupted launch");
        let events = course.events().await;
        let batches: Vec<(i64, bool)> = events
            .iter()
            .filter(|e| e["type"] == "RuntimeBatchCommitted" && e["data"]["session_id"] == all[0])
            .map(|e| {
                (
                    e["data"]["batch"].as_i64().unwrap(),
                    e["data"]["final_batch"] == true,
                )
            })
            .collect();
        let numbers: Vec<i64> = batches.iter().map(|b| b.0).collect();
        assert_eq!(numbers, (1..=numbers.len() as i64).collect::<Vec<_>>());
        assert!(batches.last().is_some_and(|b| b.1), "{batches:?}");
        let sets = events
            .iter()
            .filter(|e| e["type"] == "RuntimeValueSet" && e["data"]["session_id"] == all[0])
            .count();
        let accepted = expected
            .0
            .iter()
            .filter(|c| c.0 == "SetValue" && c.3 == "true")
            .count();
        assert_eq!(sets, accepted, "one event per SetValue, none twice");
        // The batch whose answer was lost reached the server twice and was
        // stored once.
        let relayed = relay.lock().relayed.clone();
        let first_url = &relayed
            .iter()
            .find(|r| r.path.ends_with("/commit"))
            .expect("a commit")
            .path;
        let statuses: Vec<u16> = relayed
            .iter()
            .filter(|r| r.path == *first_url)
            .map(|r| r.status)
            .collect();
        assert_eq!(
            statuses.iter().filter(|s| **s == 502).count(),
            1,
            "{statuses:?}"
        );
        // Every batch went at least once, the lost one twice; a slow answer
        // on a loaded machine may make the page send a batch again, which
        // the server acknowledges without appending (counted below).
        assert!(statuses.len() > numbers.len(), "{statuses:?}");

        // The next launch resumes from everything the first one did.
        let mut second = Expected::loaded();
        sco_expect(
            client,
            &mut second,
            &[
                (json!(["GetValue", "cmi.entry"]), ("resume", "0")),
                (json!(["GetValue", "cmi.location"]), ("c", "0")),
                (json!(["GetValue", "cmi.suspend_data"]), ("c-data", "0")),
            ],
        )
        .await;
    })
    .await;
    course.stop().await;
}

// ---------------------------------------------------------------- 4. navigation

#[tokio::test(flavor = "multi_thread")]
async fn scorm12_multi_sco_course_navigates_by_contents_and_next_previous() {
    let lessons = [
        ("lesson1", "Lesson 1"),
        ("lesson2", "Lesson 2"),
        ("lesson3", "Lesson 3"),
    ];
    let course = Course::start(
        |_| {},
        "c12",
        packages::scorm12_browser("Multi 1.2", &lessons),
        "r1",
    )
    .await;
    let url = course
        .launch_url("r1", json!({"expiry_seconds": 600}))
        .await;
    with_browser(async |client| {
        client.goto(&url).await.expect("the player loads");
        wait_sco(client, "lesson1").await;
        assert_eq!(
            toc(client).await,
            json!([
                ["lesson1", "BUTTON", false, "step"],
                ["lesson2", "BUTTON", false, null],
                ["lesson3", "BUTTON", false, null],
            ])
        );
        assert_eq!(
            controls(client).await,
            json!({"previous": "disabled", "continue": "enabled", "exit": "enabled",
                   "suspendAll": "hidden", "exitAll": "hidden", "abandon": "hidden", "abandonAll": "hidden"})
        );
        sco(client, json!([["SetValue", "cmi.core.lesson_status", "completed"]])).await;

        click(client, "#ac-controls button[data-request='continue']").await;
        wait_sco(client, "lesson2").await;
        wait_for(
            client,
            "document.querySelector('#ac-toc-list li[data-id=\"lesson2\"] button').getAttribute('aria-current') === 'step'",
            "lesson 2 marked current",
            10 * SECOND,
        )
        .await;
        assert_eq!(controls(client).await["previous"], "enabled");

        click(client, "#ac-toc-list li[data-id='lesson3'] button").await;
        wait_sco(client, "lesson3").await;
        wait_for(
            client,
            "document.querySelector('#ac-controls button[data-request=\"continue\"]').disabled === true",
            "next disabled on the last lesson",
            10 * SECOND,
        )
        .await;
        let marks = eval(
            client,
            "[...document.querySelectorAll('#ac-toc-list li')].map((li) => li.querySelector('.ac-toc-mark').textContent)",
        )
        .await;
        // Lesson 1 set completed; lesson 2 finished without a status,
        // which SCORM 1.2's LMSFinish makes completed.
        assert_eq!(marks, json!(["✓", "✓", ""]));

        click(client, "#ac-controls button[data-request='previous']").await;
        wait_sco(client, "lesson2").await;

        click(client, "#ac-controls button[data-request='exit']").await;
        wait_for(
            client,
            "!document.getElementById('ac-end').hidden && document.getElementById('ac-frame').hidden",
            "the end page",
            10 * SECOND,
        )
        .await;
        assert_eq!(
            eval(client, "document.getElementById('ac-end-title').textContent").await,
            "You have finished"
        );

        // Every request is recorded, and each visit's SCO finished before
        // the next was delivered.
        let events = course.events().await;
        let requests: Vec<(&str, Option<&str>)> = events
            .iter()
            .filter(|e| e["type"] == "NavigationRequested")
            .map(|e| {
                (
                    e["data"]["request"].as_str().unwrap(),
                    e["data"]["delivered"].as_str(),
                )
            })
            .collect();
        assert_eq!(
            requests,
            vec![
                ("start", Some("lesson1")),
                ("continue", Some("lesson2")),
                ("choice", Some("lesson3")),
                ("previous", Some("lesson2")),
                ("exit", None),
            ]
        );
        let log = course
            .log_until("r1", |calls| {
                calls.iter().filter(|c| c["fn"] == "Terminate").count() == 4
            })
            .await;
        let visits: Vec<(&str, &str)> = log
            .iter()
            .filter(|c| c["fn"] == "Initialize" || c["fn"] == "Terminate")
            .map(|c| (c["activity_id"].as_str().unwrap(), c["fn"].as_str().unwrap()))
            .collect();
        assert_eq!(
            visits,
            vec![
                ("lesson1", "Initialize"),
                ("lesson1", "Terminate"),
                ("lesson2", "Initialize"),
                ("lesson2", "Terminate"),
                ("lesson3", "Initialize"),
                ("lesson3", "Terminate"),
                ("lesson2", "Initialize"),
                ("lesson2", "Terminate"),
            ]
        );
    })
    .await;
    course.stop().await;
}

fn flow_2004() -> Vec<u8> {
    let items = [
        Item2004 {
            id: "intro",
            title: "Introduction",
            sequencing: "",
        },
        Item2004 {
            id: "body",
            title: "Body",
            sequencing: "",
        },
        Item2004 {
            id: "summary",
            title: "Summary",
            sequencing: "",
        },
    ];
    let manifest = packages::manifest_2004_browser(
        "Flow 2004",
        &items,
        r#"<imsss:sequencing><imsss:controlMode choice="true" flow="true"/></imsss:sequencing>"#,
    );
    packages::scorm2004_browser(&manifest, items.iter().map(|i| i.id))
}

/// The sequencer's decisions once one of them ended the session.
async fn decisions_to_the_end(course: &Course, registration: &str) -> Vec<Value> {
    let sequencing = course
        .until(
            &format!("/api/v1/registrations/{registration}/sequencing"),
            |s| {
                s["decisions"]
                    .as_array()
                    .is_some_and(|d| d.iter().any(|d| d["outcome"] == "session_ended"))
            },
        )
        .await;
    sequencing["decisions"].as_array().unwrap().clone()
}

/// The activities the sequencer delivered, in order.
async fn delivered(course: &Course, registration: &str, count: usize) -> Vec<String> {
    let sequencing = course
        .until(
            &format!("/api/v1/registrations/{registration}/sequencing"),
            |s| {
                s["decisions"].as_array().is_some_and(|d| {
                    d.iter().filter(|d| d["delivered"].is_string()).count() >= count
                })
            },
        )
        .await;
    sequencing["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["delivered"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn scorm2004_flow_course_navigates_by_continue_previous_choice_and_its_own_requests() {
    let course = Course::start(|_| {}, "flow", flow_2004(), "r1").await;
    let url = course
        .launch_url("r1", json!({"expiry_seconds": 600}))
        .await;
    with_browser(async |client| {
        client.goto(&url).await.expect("the player loads");
        wait_sco(client, "intro").await;
        let nav = sco(
            client,
            json!([
                ["GetValue", "adl.nav.request_valid.continue"],
                ["GetValue", "adl.nav.request_valid.previous"],
                ["GetValue", "adl.nav.request_valid.choice.{target=summary}"],
            ]),
        )
        .await;
        assert_eq!(
            nav,
            vec![
                outcome("true", "0"),
                outcome("false", "0"),
                outcome("true", "0")
            ]
        );
        let shown = controls(client).await;
        assert_eq!(shown["continue"], "enabled", "{shown}");
        assert_eq!(shown["previous"], "disabled", "{shown}");
        assert_eq!(
            toc(client).await,
            json!([
                ["intro", "BUTTON", false, "step"],
                ["body", "BUTTON", false, null],
                ["summary", "BUTTON", false, null],
            ])
        );

        click(client, "#ac-controls button[data-request='continue']").await;
        wait_sco(client, "body").await;
        wait_for(
            client,
            "!document.querySelector('#ac-controls button[data-request=\"previous\"]').disabled",
            "previous enabled",
            10 * SECOND,
        )
        .await;
        click(client, "#ac-controls button[data-request='previous']").await;
        wait_sco(client, "intro").await;
        click(client, "#ac-toc-list li[data-id='summary'] button").await;
        wait_sco(client, "summary").await;

        // The SCO asks for the previous activity and terminates: the
        // sequencer delivers it.
        let asked = sco(
            client,
            json!([
                ["SetValue", "adl.nav.request", "previous"],
                ["Terminate", ""]
            ]),
        )
        .await;
        assert_eq!(asked, vec![outcome("true", "0"), outcome("true", "0")]);
        wait_sco(client, "body").await;

        click(client, "#ac-controls button[data-request='exitAll']").await;
        wait_for(
            client,
            "!document.getElementById('ac-end').hidden",
            "the end page",
            10 * SECOND,
        )
        .await;
        assert_eq!(
            delivered(&course, "r1", 5).await,
            vec!["intro", "body", "intro", "summary", "body"]
        );
        let decisions = decisions_to_the_end(&course, "r1").await;
        assert_eq!(
            decisions.last().unwrap()["outcome"],
            "session_ended",
            "{decisions:?}"
        );
        assert!(
            decisions.iter().all(|d| d["exception"].is_null()),
            "{decisions:?}"
        );
    })
    .await;
    course.stop().await;
}

// ---------------------------------------------------------------- 5. two tabs

#[tokio::test(flavor = "multi_thread")]
async fn two_tabs_the_older_session_is_refused_and_the_registration_keeps_the_newer_data() {
    let course = Course::start(|_| {}, "c2004", single_2004(), "r1").await;
    let url = course
        .launch_url("r1", json!({"expiry_seconds": 600}))
        .await;
    with_browser(async |client| {
        client.goto(&url).await.expect("the first tab loads");
        let tab_a = client.window().await.expect("the first tab");
        wait_sco(client, "unit").await;
        let answers = sco(
            client,
            json!([
                ["SetValue", "cmi.location", "from-a"],
                ["SetValue", "cmi.suspend_data", "a-data"],
                ["Commit", ""],
            ]),
        )
        .await;
        assert_eq!(answers[2], outcome("true", "0"));

        // The same link in a second tab: a new session, which takes over
        // and resumes what the first left.
        open_tab(client, &url).await;
        let tab_b = client.window().await.expect("the second tab");
        wait_sco(client, "unit").await;
        let read = sco(
            client,
            json!([["GetValue", "cmi.entry"], ["GetValue", "cmi.location"]]),
        )
        .await;
        assert_eq!(read, vec![outcome("resume", "0"), outcome("from-a", "0")]);

        // Back in the first tab: its commits are refused, and it says so.
        client.switch_to_window(tab_a.clone()).await.expect("tab a");
        let stale = sco(
            client,
            json!([["SetValue", "cmi.location", "stale-a"], ["Commit", ""]]),
        )
        .await;
        assert_eq!(stale, vec![outcome("true", "0"), outcome("false", "391")]);
        let text = message(client).await;
        assert!(text.contains("opened in another window"), "{text:?}");
        let again = sco(
            client,
            json!([
                ["SetValue", "cmi.suspend_data", "stale-data"],
                ["Commit", ""]
            ]),
        )
        .await;
        assert_eq!(again[1], outcome("false", "391"));

        // The second tab carries on.
        client.switch_to_window(tab_b).await.expect("tab b");
        let done = sco(
            client,
            json!([
                ["SetValue", "cmi.location", "from-b"],
                ["SetValue", "cmi.success_status", "passed"],
                ["Commit", ""],
                ["Terminate", ""],
            ]),
        )
        .await;
        assert_eq!(done[2], outcome("true", "0"));
        assert_eq!(done[3], outcome("true", "0"));
        // Closing the first tab sends nothing more either.
        client.switch_to_window(tab_a).await.expect("tab a");
        client.close_window().await.expect("tab a closes");

        let launches = course
            .until("/api/v1/registrations/r1/launches", |l| {
                l["launches"][0]["refused_batches"] == 1
            })
            .await;
        let launches = launches["launches"].as_array().expect("launches");
        assert_eq!(launches.len(), 2);
        assert!(launches[0]["superseded_at"].is_string());
        assert_eq!(launches[1]["refused_batches"], 0);
        let events = course.events().await;
        let refusals: Vec<&str> = events
            .iter()
            .filter(|e| e["type"] == "RuntimeBatchRefused")
            .map(|e| e["data"]["code"].as_str().unwrap())
            .collect();
        assert_eq!(
            refusals,
            vec!["session_superseded"],
            "refused once, then silent"
        );

        let progress = course
            .until("/api/v1/registrations/r1/progress", |p| {
                p["activities"][0]["success"] == "passed"
            })
            .await;
        let runtime = &progress["activities"][0]["runtime"];
        assert_eq!(runtime["cmi.location"], "from-b", "{runtime}");
        assert_eq!(runtime["cmi.suspend_data"], "a-data");
        let log = course.log("r1").await;
        assert!(
            !log.iter()
                .any(|c| { c["value"].as_str().is_some_and(|v| v.starts_with("stale")) }),
            "a refused call reached the log: {log:?}"
        );
        let all = sessions(&log);
        assert_eq!(all.len(), 2);
        assert!(
            !of_session(&log, &all[0])
                .iter()
                .any(|c| c["fn"] == "Terminate"),
            "the superseded tab's unload sent nothing"
        );
    })
    .await;
    course.stop().await;
}

// ---------------------------------------------------------------- 6. sequencing

/// Pre-test, lesson, post-test under a flow+choice organization. The
/// lesson and the post-test are disabled until the pre-test has a result
/// (forced order); a passed pre-test skips the lesson (it writes the
/// shared objective `mastery` that the lesson's skip rule reads).
fn pretest_2004() -> Vec<u8> {
    let disabled_until_tested = r#"<imsss:preConditionRule>
      <imsss:ruleConditions><imsss:ruleCondition referencedObjective="tested" condition="objectiveStatusKnown" operator="not"/></imsss:ruleConditions>
      <imsss:ruleAction action="disabled"/></imsss:preConditionRule>"#;
    let pretest = r#"<imsss:sequencing>
     <imsss:objectives><imsss:primaryObjective objectiveID="pretest-obj">
      <imsss:mapInfo targetObjectiveID="mastery" readSatisfiedStatus="false" writeSatisfiedStatus="true"/>
     </imsss:primaryObjective></imsss:objectives>
     <imsss:deliveryControls objectiveSetByContent="true"/>
    </imsss:sequencing>"#;
    let lesson = format!(
        r#"<imsss:sequencing>
     <imsss:sequencingRules>{disabled_until_tested}
      <imsss:preConditionRule>
       <imsss:ruleConditions><imsss:ruleCondition referencedObjective="tested" condition="satisfied"/></imsss:ruleConditions>
       <imsss:ruleAction action="skip"/></imsss:preConditionRule>
     </imsss:sequencingRules>
     <imsss:rollupRules rollupObjectiveSatisfied="false" rollupProgressCompletion="false"/>
     <imsss:objectives><imsss:primaryObjective objectiveID="lesson-obj"/>
      <imsss:objective objectiveID="tested"><imsss:mapInfo targetObjectiveID="mastery"/></imsss:objective>
     </imsss:objectives>
    </imsss:sequencing>"#
    );
    let posttest = format!(
        r#"<imsss:sequencing>
     <imsss:sequencingRules>{disabled_until_tested}</imsss:sequencingRules>
     <imsss:objectives><imsss:primaryObjective objectiveID="posttest-obj"/>
      <imsss:objective objectiveID="tested"><imsss:mapInfo targetObjectiveID="mastery"/></imsss:objective>
     </imsss:objectives>
     <imsss:deliveryControls objectiveSetByContent="true"/>
    </imsss:sequencing>"#
    );
    let items = [
        Item2004 {
            id: "pretest",
            title: "Pre-test",
            sequencing: pretest,
        },
        Item2004 {
            id: "lesson",
            title: "Lesson",
            sequencing: &lesson,
        },
        Item2004 {
            id: "posttest",
            title: "Post-test",
            sequencing: &posttest,
        },
    ];
    let manifest = packages::manifest_2004_browser(
        "Sequenced 2004",
        &items,
        r#"<imsss:sequencing><imsss:controlMode choice="true" flow="true"/></imsss:sequencing>"#,
    );
    packages::scorm2004_browser(&manifest, items.iter().map(|i| i.id))
}

/// The SCO passes or fails and asks to continue, then terminates.
async fn finish_sco(client: &Client, success: &str, scaled: &str) {
    let answers = sco(
        client,
        json!([
            ["SetValue", "cmi.score.scaled", scaled],
            ["SetValue", "cmi.success_status", success],
            ["SetValue", "cmi.completion_status", "completed"],
            ["SetValue", "adl.nav.request", "continue"],
            ["Terminate", ""],
        ]),
    )
    .await;
    assert!(
        answers.iter().all(|a| *a == outcome("true", "0")),
        "{answers:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sequenced_course_skips_the_lesson_after_a_passed_pretest_keeps_disabled_choices_and_returns_to_the_lms()
 {
    let course = Course::start(|_| {}, "seq", pretest_2004(), "passes").await;
    course.register("fails", "seq").await;
    let lms = Site::start(lms()).await;
    let redirect = lms.url("/done");
    let passes = course
        .launch_url(
            "passes",
            json!({"expiry_seconds": 600, "redirect_url": redirect}),
        )
        .await;
    let fails = course
        .launch_url(
            "fails",
            json!({"expiry_seconds": 600, "redirect_url": redirect}),
        )
        .await;
    with_browser(async |client| {
        client.goto(&passes).await.expect("the player loads");
        wait_sco(client, "pretest").await;
        // Forced order: nothing but the pre-test can be chosen yet.
        assert_eq!(
            toc(client).await,
            json!([
                ["pretest", "BUTTON", false, "step"],
                ["lesson", "BUTTON", true, null],
                ["posttest", "BUTTON", true, null],
            ])
        );
        let before = course.get("/api/v1/registrations/passes/sequencing").await["decision_count"]
            .as_i64()
            .unwrap();
        // A disabled button takes no click (WebDriver may say so or not).
        let _ = client
            .find(Locator::Css("#ac-toc-list li[data-id='posttest'] button"))
            .await
            .expect("the post-test entry")
            .click()
            .await;
        // A request would have started at once: the player marks itself
        // busy (every control disabled) before it unloads the SCO.
        assert_eq!(controls(client).await["continue"], "enabled");
        let still = sco(client, json!([["GetValue", "cmi.entry"]])).await;
        assert_eq!(still, vec![outcome("ab-initio", "0")]);
        assert_eq!(eval(client, &format!("{FRAME}.sco.name")).await, "pretest");
        assert_eq!(
            course.get("/api/v1/registrations/passes/sequencing").await["decision_count"],
            before
        );

        // Passing the pre-test: after Terminate the sequencer skips the
        // lesson and delivers the post-test.
        finish_sco(client, "passed", "0.9").await;
        wait_sco(client, "posttest").await;
        assert_eq!(
            toc(client).await,
            json!([
                ["pretest", "BUTTON", false, null],
                ["lesson", "BUTTON", false, null],
                ["posttest", "BUTTON", false, "step"],
            ])
        );
        finish_sco(client, "passed", "0.95").await;
        // The end of the course returns to the LMS.
        wait_for(
            client,
            "location.pathname === '/done'",
            "the return to redirect_url",
            15 * SECOND,
        )
        .await;
        assert_eq!(
            delivered(&course, "passes", 2).await,
            vec!["pretest", "posttest"]
        );
        let decisions = decisions_to_the_end(&course, "passes").await;
        assert_eq!(
            decisions.last().unwrap()["outcome"],
            "session_ended",
            "{decisions:?}"
        );
        let progress = course
            .until("/api/v1/registrations/passes/progress", |p| {
                p["completion"] == "completed"
            })
            .await;
        assert_eq!(progress["success"], "passed", "{progress}");

        // Failing it: the lesson is delivered (remediation), then the post-test.
        client.goto(&fails).await.expect("the player loads");
        wait_sco(client, "pretest").await;
        finish_sco(client, "failed", "0.2").await;
        wait_sco(client, "lesson").await;
        finish_sco(client, "passed", "0.8").await;
        wait_sco(client, "posttest").await;
        finish_sco(client, "passed", "0.9").await;
        wait_for(
            client,
            "location.pathname === '/done'",
            "the return to redirect_url",
            15 * SECOND,
        )
        .await;
        assert_eq!(
            delivered(&course, "fails", 3).await,
            vec!["pretest", "lesson", "posttest"]
        );
    })
    .await;
    course.stop().await;
}

// ---------------------------------------------------------------- 7. preview

#[tokio::test(flavor = "multi_thread")]
async fn a_preview_runs_and_navigates_and_records_nothing() {
    let course = Course::start(
        |s| s.player.heartbeat_seconds = 1,
        "flow",
        flow_2004(),
        "r1",
    )
    .await;
    let relay = Relay::new(&course.app.content);
    let site = Site::start(relay.router()).await;
    let before = course.events().await.len();
    let url = relay.rebase(
        &site,
        &course
            .launch_url("r1", json!({"expiry_seconds": 600, "tracking": false}))
            .await,
    );
    with_browser(async |client| {
        client.goto(&url).await.expect("the player loads");
        wait_sco(client, "intro").await;
        let answers = sco(
            client,
            json!([
                ["SetValue", "cmi.location", "p1"],
                ["GetValue", "cmi.location"],
                ["SetValue", "cmi.score.scaled", "1.5"],
                ["Commit", ""],
            ]),
        )
        .await;
        assert_eq!(
            answers,
            vec![
                outcome("true", "0"),
                outcome("p1", "0"),
                outcome("false", "407"),
                outcome("true", "0"),
            ]
        );
        // The learner's Next, and the SCO's own request after Terminate.
        click(client, "#ac-controls button[data-request='continue']").await;
        wait_sco(client, "body").await;
        let asked = sco(
            client,
            json!([
                ["SetValue", "adl.nav.request", "continue"],
                ["Terminate", ""]
            ]),
        )
        .await;
        assert_eq!(asked, vec![outcome("true", "0"), outcome("true", "0")]);
        wait_sco(client, "summary").await;
        click(client, "#ac-toc-list li[data-id='intro'] button").await;
        wait_sco(client, "intro").await;
        click(client, "#ac-controls button[data-request='exitAll']").await;
        wait_for(
            client,
            "!document.getElementById('ac-end').hidden",
            "the end page",
            10 * SECOND,
        )
        .await;
        assert_eq!(pending_keys(client).await, Vec::<String>::new());
    })
    .await;
    // The browser is gone: whatever it sent has arrived.
    assert_eq!(relay.count("/commit"), 0, "a preview sent a batch");
    assert_eq!(relay.count("/heartbeat"), 0, "a preview sent a heartbeat");
    assert_eq!(relay.count("/deliver"), 4);
    assert_eq!(
        course.events().await.len(),
        before,
        "a preview recorded events"
    );
    assert!(course.log("r1").await.is_empty());
    let launches = course.get("/api/v1/registrations/r1/launches").await;
    assert_eq!(launches["launches"], json!([]));
    let progress = course.progress("r1").await;
    assert_eq!(progress["completion"], "not_attempted", "{progress}");
    course.stop().await;
}
