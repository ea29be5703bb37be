//! Runs every row of `tests/data/cmi/cases.json` against the Rust runtime.
//!
//! The table's format is described in `tests/data/cmi/README.md`; the same
//! file is meant to run against the browser runtime, so this runner only
//! uses what the README promises: defaults, launch merging, `Relaunch`,
//! value expansion and the expectation fields.

use std::fs;
use std::path::Path;

use domain::cmi::{ApiCall, CallOutcome, LaunchContext, RuntimeSession};
use serde_json::{Map, Value};

fn table() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cmi/cases.json");
    let text = fs::read_to_string(&path).expect("cases.json is readable");
    serde_json::from_str(&text).expect("cases.json is valid json")
}

/// Replaces every `{"repeat": s, "times": n}` with `s` repeated `n` times.
fn expand(value: &Value) -> Value {
    match value {
        Value::Object(map)
            if map.len() == 2 && map.contains_key("repeat") && map.contains_key("times") =>
        {
            let text = map["repeat"].as_str().expect("repeat is a string");
            let times = map["times"].as_u64().expect("times is a number");
            Value::String(text.repeat(usize::try_from(times).expect("times fits")))
        }
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), expand(v))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(expand).collect()),
        other => other.clone(),
    }
}

/// Overlays `changes` on `launch`; a `null` removes the key.
fn merge(launch: &mut Map<String, Value>, changes: &Map<String, Value>) {
    for (key, value) in changes {
        if value.is_null() {
            launch.remove(key);
        } else {
            launch.insert(key.clone(), value.clone());
        }
    }
}

fn start(launch: &Map<String, Value>) -> RuntimeSession {
    let context: LaunchContext =
        serde_json::from_value(Value::Object(launch.clone())).expect("launch context deserializes");
    RuntimeSession::new(context).expect("launch context is valid")
}

/// Returns why `outcome` does not meet `expect`, if it does not.
fn mismatch(outcome: &CallOutcome, expect: &Value) -> Option<String> {
    let error = expect["error"].as_str().expect("expect.error is a string");
    if outcome.error != error {
        return Some(format!("error {} (expected {error})", outcome.error));
    }
    if let Some(result) = expect.get("result") {
        let result = result.as_str().expect("expect.result is a string");
        if outcome.result != result {
            return Some(format!(
                "result {:?} (expected {:?})",
                abbreviate(&outcome.result),
                abbreviate(result)
            ));
        }
    }
    if expect.get("result_not_empty") == Some(&Value::Bool(true)) {
        let chars = outcome.result.chars().count();
        if chars == 0 || chars > 255 {
            return Some(format!("result of {chars} characters (expected 1..=255)"));
        }
    }
    None
}

fn abbreviate(text: &str) -> String {
    if text.chars().count() <= 60 {
        text.to_owned()
    } else {
        format!(
            "{}… ({} chars)",
            text.chars().take(40).collect::<String>(),
            text.chars().count()
        )
    }
}

/// Runs one row; returns a description of the first disagreement.
fn run(row: &Value, defaults: &Map<String, Value>) -> Result<(), String> {
    let mut launch = defaults.clone();
    launch.insert("version".to_owned(), row["version"].clone());
    if let Some(Value::Object(changes)) = row.get("launch") {
        merge(&mut launch, changes);
    }
    let mut session = start(&launch);
    let setup = row["setup"].as_array().expect("setup is an array");
    for (position, step) in setup.iter().enumerate() {
        if step["fn"] == "Relaunch" {
            if let Some(Value::Object(changes)) = step.get("launch") {
                merge(&mut launch, changes);
            }
            let prior = serde_json::to_value(session.data()).expect("data serializes");
            let mut next = launch.clone();
            next.insert("prior".to_owned(), prior);
            session = start(&next);
            continue;
        }
        let call: ApiCall =
            serde_json::from_value(step.clone()).map_err(|e| format!("setup {position}: {e}"))?;
        let outcome = session.apply(&call);
        let expect = step
            .get("expect")
            .cloned()
            .unwrap_or_else(|| serde_json::json!({"error": "0"}));
        if let Some(problem) = mismatch(&outcome, &expect) {
            return Err(format!("setup step {position} ({}): {problem}", step["fn"]));
        }
    }
    let call: ApiCall =
        serde_json::from_value(row["call"].clone()).map_err(|e| format!("call: {e}"))?;
    let outcome = session.apply(&call);
    match mismatch(&outcome, &row["expect"]) {
        Some(problem) => Err(problem),
        None => Ok(()),
    }
}

#[test]
fn every_conformance_row_passes() {
    let table = expand(&table());
    let defaults = table["defaults"].as_object().expect("defaults").clone();
    let rows = table["cases"].as_array().expect("cases");
    let failures: Vec<String> = rows
        .iter()
        .filter_map(|row| {
            run(row, &defaults)
                .err()
                .map(|problem| format!("{}: {problem}", row["name"].as_str().unwrap_or("?")))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

#[test]
fn the_table_covers_both_versions_and_every_error_code() {
    let table = table();
    let rows = table["cases"].as_array().expect("cases");
    assert!(rows.len() >= 900, "{} rows", rows.len());
    let mut names: Vec<&str> = rows
        .iter()
        .map(|r| r["name"].as_str().expect("name"))
        .collect();
    names.sort_unstable();
    let total = names.len();
    names.dedup();
    assert_eq!(names.len(), total, "row names are unique");
    let expected_codes = [
        (
            "1.2",
            &[
                "0", "101", "201", "202", "203", "301", "401", "402", "403", "404", "405",
            ][..],
        ),
        (
            "2004-4",
            &[
                "0", "103", "104", "112", "113", "122", "123", "132", "133", "142", "143", "201",
                "301", "351", "401", "403", "404", "405", "406", "407", "408",
            ][..],
        ),
    ];
    for (version, codes) in expected_codes {
        for code in codes {
            let covered = rows
                .iter()
                .any(|r| r["version"] == version && r["expect"]["error"] == *code);
            assert!(covered, "no {version} row expects error {code}");
        }
    }
}

#[test]
fn every_element_of_each_table_is_exercised() {
    let table = table();
    let rows = table["cases"].as_array().expect("cases");
    let mentioned = |version_prefix: &str, path: &str| {
        // `n` in the table's path matches any index in a row's element name.
        let pattern: Vec<&str> = path.split('.').collect();
        rows.iter().any(|row| {
            let version = row["version"].as_str().unwrap_or("");
            version.starts_with(version_prefix)
                && std::iter::once(&row["call"])
                    .chain(row["setup"].as_array().into_iter().flatten())
                    .filter_map(|call| call["element"].as_str())
                    .any(|element| {
                        let parts: Vec<&str> = element.split('.').collect();
                        parts.len() >= pattern.len()
                            && pattern.iter().zip(&parts).all(|(p, e)| {
                                *p == *e || (*p == "n" && e.bytes().all(|b| b.is_ascii_digit()))
                            })
                    })
        })
    };
    for (prefix, version) in [
        ("1.2", domain::cmi::ScormVersion::Scorm12),
        ("2004", domain::cmi::ScormVersion::Scorm2004Fourth),
    ] {
        let model = domain::cmi::js_model(version);
        for element in model["elements"].as_array().expect("elements") {
            let path = element["path"].as_str().expect("path");
            assert!(mentioned(prefix, path), "no {prefix} row uses {path}");
        }
    }
}
