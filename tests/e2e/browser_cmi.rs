//! The run-time conformance table (`domain/tests/data/cmi/cases.json`)
//! against the player's JavaScript runtime, in headless Chromium: every row,
//! with every failing row named.

use std::path::Path;
use std::time::Duration;

use axum::Router;
use axum::extract::Path as UrlPath;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use domain::cmi::ScormVersion;
use e2e::browser::{Browser, Site, player_static_dir, static_file};
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

#[tokio::test(flavor = "multi_thread")]
async fn every_conformance_row_passes_in_chromium() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let site = Site::start(site()).await;
    let table: Value = serde_json::from_str(
        &std::fs::read_to_string(cmi_data_dir().join("cases.json"))
            .expect("cases.json is readable"),
    )
    .expect("cases.json is json");
    let rows = table["cases"].as_array().expect("cases").len();
    browser
        .run(async |client| {
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
                .execute_async(RUN_TABLE, vec![])
                .await
                .expect("the table runs in the page");
            assert_eq!(report["ok"], true, "the runner failed: {}", report["error"]);
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
