//! The run-time conformance table (`domain/tests/data/cmi/cases.json`)
//! against the player's JavaScript runtime, in headless Chromium: every row,
//! with every failing row named; then every call the browser recorded,
//! replayed by the Rust runtime, as the server will replay the player's
//! batches.

use std::path::Path;
use std::time::Duration;

use axum::Router;
use axum::extract::Path as UrlPath;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use domain::cmi::{LaunchContext, RecordedCall, RuntimeSession, ScormVersion};
use e2e::browser::{Browser, Site, player_static_dir, static_file};
use fantoccini::Client;
use serde_json::Value;

fn cmi_data_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../domain/tests/data/cmi")
}

/// The model of a version as the server will serve it at `/player/model/<version>.json`.
async fn model(UrlPath(file): UrlPath<String>) -> Response {
    let version = file.strip_suffix(".json").unwrap_or(&file);
    match ScormVersion::ALL.iter().find(|v| v.as_str() == version) {
        Some(version) => axum::Json(domain::cmi::js_model(*version)).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn site() -> Router {
    Router::new()
        .route("/player/model/{file}", get(model))
        .route(
            "/player/{*path}",
            get(|UrlPath(path): UrlPath<String>| async move {
                static_file(&player_static_dir(), &path)
            }),
        )
        .route(
            "/data/cmi/{file}",
            get(
                |UrlPath(file): UrlPath<String>| async move { static_file(&cmi_data_dir(), &file) },
            ),
        )
}

const RUN_TABLE: &str = r#"
const done = arguments[arguments.length - 1];
(async () => {
  const { runTable } = await import("/player/test/conformance.js");
  const fetchJson = async (url) => {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: ${response.status}`);
    return response.json();
  };
  const table = await fetchJson("/data/cmi/cases.json");
  const models = {};
  for (const version of ["1.2", "2004-2", "2004-3", "2004-4"]) {
    models[version] = await fetchJson(`/player/model/${version}.json`);
  }
  return runTable(table, models);
})().then(
  (report) => done({ ok: true, total: report.total, failures: report.failures }),
  (error) => done({ ok: false, error: String((error && error.stack) || error) }),
);
"#;

/// Loads the harness page and runs `script` (asynchronous) in it.
async fn run_in_harness(client: &Client, site: &Site, script: &str) -> Value {
    client
        .update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
            Some(Duration::from_secs(120)),
            Some(Duration::from_secs(30)),
            None,
        ))
        .await
        .expect("timeouts are accepted");
    client
        .goto(&site.url("/player/test/harness.html"))
        .await
        .expect("the harness page loads");
    let report = client
        .execute_async(script, vec![])
        .await
        .expect("the script runs in the page");
    assert_eq!(report["ok"], true, "the runner failed: {}", report["error"]);
    report
}

fn table_rows() -> usize {
    let table: Value = serde_json::from_str(
        &std::fs::read_to_string(cmi_data_dir().join("cases.json"))
            .expect("cases.json is readable"),
    )
    .expect("cases.json is json");
    table["cases"].as_array().expect("cases").len()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_conformance_row_passes_in_chromium() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let site = Site::start(site()).await;
    let rows = table_rows();
    browser
        .run(async |client| {
            let report = run_in_harness(client, &site, RUN_TABLE).await;
            assert_eq!(
                report["total"].as_u64(),
                Some(rows as u64),
                "every row of cases.json ran"
            );
            let failures = report["failures"].as_array().expect("failures");
            let listed: Vec<String> = failures
                .iter()
                .map(|f| {
                    format!(
                        "{}: {}",
                        f["name"].as_str().unwrap_or("?"),
                        f["problem"].as_str().unwrap_or("?")
                    )
                })
                .collect();
            assert!(
                failures.is_empty(),
                "{} of {rows} rows failed in chromium:\n{}",
                failures.len(),
                listed.join("\n")
            );
            eprintln!("{rows} of {rows} conformance rows passed in chromium");
        })
        .await;
}

const RECORD_TABLE: &str = r#"
const done = arguments[arguments.length - 1];
(async () => {
  const { recordTable } = await import("/player/test/conformance.js");
  const fetchJson = async (url) => (await fetch(url)).json();
  const table = await fetchJson("/data/cmi/cases.json");
  const models = {};
  for (const version of ["1.2", "2004-2", "2004-3", "2004-4"]) {
    models[version] = await fetchJson(`/player/model/${version}.json`);
  }
  return recordTable(table, models);
})().then(
  (rows) => done({ ok: true, rows }),
  (error) => done({ ok: false, error: String((error && error.stack) || error) }),
);
"#;

/// Replays one row's recorded sessions in Rust; returns every disagreement.
fn replay_row(row: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut prior: Option<Value> = None;
    for (index, recorded) in row["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .enumerate()
    {
        let mut launch = recorded["launch"].clone();
        if let Some(prior) = prior.take() {
            // The Rust session starts from what the Rust session before it left.
            launch["prior"] = prior;
        }
        let context: LaunchContext =
            serde_json::from_value(launch).expect("the launch context deserializes");
        let mut session = RuntimeSession::new(context).expect("the launch context is valid");
        for call in recorded["calls"].as_array().expect("calls") {
            let browser: RecordedCall =
                serde_json::from_value(call.clone()).expect("a recorded call deserializes");
            let before = session.calls().len();
            if let Err(mismatch) = session.replay(&browser) {
                problems.push(format!("session {index}: {:?}: {mismatch}", browser.call));
                continue;
            }
            // Calls the Rust session records carry its diagnostic and flags too.
            if let Some(rust) = session.calls().get(before) {
                if rust.diagnostic != browser.diagnostic {
                    problems.push(format!(
                        "session {index}: {:?}: diagnostic {:?} in rust, {:?} in the browser",
                        browser.call, rust.diagnostic, browser.diagnostic
                    ));
                }
                if rust.spm_exceeded != browser.spm_exceeded {
                    problems.push(format!(
                        "session {index}: {:?}: spm_exceeded differs",
                        browser.call
                    ));
                }
            }
        }
        let data = serde_json::to_value(session.data()).expect("data serializes");
        if data != recorded["data"] {
            problems.push(format!("session {index}: the data differs after replay"));
        }
        prior = Some(data);
    }
    problems
}

#[tokio::test(flavor = "multi_thread")]
async fn every_call_the_browser_records_replays_identically_in_rust() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let site = Site::start(site()).await;
    let rows = table_rows();
    browser
        .run(async |client| {
            let report = run_in_harness(client, &site, RECORD_TABLE).await;
            let recorded = report["rows"].as_array().expect("rows");
            assert_eq!(recorded.len(), rows, "every row was recorded");
            let mut failures = Vec::new();
            let mut calls = 0;
            for row in recorded {
                calls += row["sessions"].as_array().map_or(0, |s| {
                    s.iter()
                        .map(|s| s["calls"].as_array().map_or(0, Vec::len))
                        .sum()
                });
                for problem in replay_row(row) {
                    failures.push(format!(
                        "{}: {problem}",
                        row["name"].as_str().unwrap_or("?")
                    ));
                }
            }
            assert!(
                failures.is_empty(),
                "{} disagreements replaying the browser's calls:\n{}",
                failures.len(),
                failures.join("\n")
            );
            eprintln!("{calls} recorded calls of {rows} rows replayed identically in rust");
        })
        .await;
}
