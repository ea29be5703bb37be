//! Data-driven statement validation: `tests/data/xapi/statement_cases.json` applies small edits
//! to the statements in `statement_bases.json` (the way the ADL conformance suite templates
//! its cases) and names the expected outcome: `"valid"`, or an error code and JSON path.

use std::fs;
use std::path::Path;

use chrono::{TimeZone, Utc};
use domain::xapi::render::{Format, RenderOptions, render_statement};
use domain::xapi::statement::{PrepareContext, prepare_post};
use domain::xapi::validate::validate_statement;
use domain::xapi::{ErrorCode, XapiVersion};
use serde_json::{Map, Value, json};
use uuid::Uuid;

fn data(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/xapi")
        .join(name);
    serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap()
}

fn split(pointer: &str) -> (String, String) {
    let (parent, last) = pointer.rsplit_once('/').unwrap();
    (parent.to_owned(), last.to_owned())
}

fn set(target: &mut Value, pointer: &str, value: Value) {
    let (parent, last) = split(pointer);
    match target
        .pointer_mut(&parent)
        .unwrap_or_else(|| panic!("no parent for {pointer}"))
    {
        Value::Object(map) => {
            map.insert(last, value);
        }
        Value::Array(items) => {
            let i: usize = last.parse().unwrap();
            if i == items.len() {
                items.push(value);
            } else {
                items[i] = value;
            }
        }
        _ => panic!("cannot set {pointer}"),
    }
}

fn remove(target: &mut Value, pointer: &str) -> Value {
    let (parent, last) = split(pointer);
    match target.pointer_mut(&parent).unwrap() {
        Value::Object(map) => map
            .remove(&last)
            .unwrap_or_else(|| panic!("nothing at {pointer}")),
        Value::Array(items) => items.remove(last.parse().unwrap()),
        _ => panic!("cannot remove {pointer}"),
    }
}

fn build(case: &Value, bases: &Value) -> Value {
    let mut statement = bases[case["base"].as_str().unwrap()].clone();
    for pointer in case["remove"].as_array().into_iter().flatten() {
        remove(&mut statement, pointer.as_str().unwrap());
    }
    for (pointer, new_key) in case["rename"].as_object().into_iter().flatten() {
        let value = remove(&mut statement, pointer);
        let (parent, _) = split(pointer);
        set(
            &mut statement,
            &format!("{parent}/{}", new_key.as_str().unwrap()),
            value,
        );
    }
    for (pointer, value) in case["set"].as_object().into_iter().flatten() {
        set(&mut statement, pointer, value.clone());
    }
    statement
}

fn versions(case: &Value) -> Vec<XapiVersion> {
    match case["versions"].as_array() {
        Some(list) => list
            .iter()
            .map(|v| XapiVersion::parse_header(v.as_str().unwrap()).unwrap())
            .collect(),
        None => vec![XapiVersion::V1_0_3, XapiVersion::V2_0_0],
    }
}

#[test]
fn statement_cases() {
    let bases = data("statement_bases.json");
    let cases = data("statement_cases.json");
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in cases.as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let statement = build(case, &bases);
        for version in versions(case) {
            checked += 1;
            let outcome = validate_statement(&statement, version);
            match (&case["expect"], outcome) {
                (Value::String(s), Ok(())) if s == "valid" => {}
                (Value::String(_), Err(errors)) => failures.push(format!(
                    "{name} [{version}]: expected valid, got {errors:?}"
                )),
                (Value::Object(expect), Err(errors)) => {
                    let code = expect["code"].as_str().unwrap();
                    let path = expect["path"].as_str().unwrap();
                    let found = errors
                        .errors
                        .iter()
                        .any(|e| e.code.as_str() == code && e.path == path);
                    if !found {
                        failures.push(format!(
                            "{name} [{version}]: expected {code} at {path}, got {:?}",
                            errors
                                .errors
                                .iter()
                                .map(|e| (e.code.as_str(), e.path.as_str()))
                                .collect::<Vec<_>>()
                        ));
                    }
                }
                (expect, Ok(())) => {
                    failures.push(format!("{name} [{version}]: expected {expect}, got valid"))
                }
                (expect, _) => panic!("{name}: bad expectation {expect}"),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 250, "only {checked} checks ran");
}

#[test]
fn every_error_code_in_the_table_exists() {
    let cases = data("statement_cases.json");
    for case in cases.as_array().unwrap() {
        if let Some(code) = case["expect"].get("code").and_then(Value::as_str) {
            assert!(
                ErrorCode::ALL.iter().any(|c| c.as_str() == code),
                "unknown code {code} in {}",
                case["name"]
            );
        }
    }
}

/// Every valid case can be prepared and rendered in every format (the module's invariant).
#[test]
fn valid_cases_prepare_and_render() {
    let bases = data("statement_bases.json");
    let cases = data("statement_cases.json");
    let mut n = 0u128;
    for case in cases.as_array().unwrap() {
        if case["expect"] != json!("valid") {
            continue;
        }
        for version in versions(case) {
            let context = PrepareContext {
                version,
                stored: Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap(),
                authority: Some(
                    json!({"objectType": "Agent", "account": {"homePage": "https://lrs.example.org", "name": "key-1"}}),
                ),
            };
            let prepared = prepare_post(build(case, &bases), &context, || {
                n += 1;
                Uuid::from_u128(n)
            })
            .unwrap_or_else(|e| panic!("{}: {e}", case["name"]));
            assert_eq!(prepared.len(), 1);
            let stored = &prepared[0].statement;
            assert_eq!(stored["stored"], "2024-01-02T03:04:05.000Z");
            for format in [Format::Exact, Format::Ids, Format::Canonical] {
                let rendered = render_statement(stored, &RenderOptions::new(format, version));
                // A rendering is itself a valid statement.
                validate_statement(&rendered, version)
                    .unwrap_or_else(|e| panic!("{} {format:?}: {e}", case["name"]));
            }
        }
    }
    assert!(n > 0);
}

#[test]
fn batch_errors_are_prefixed_and_batches_are_atomic() {
    let bases = data("statement_bases.json");
    let good = bases["default"].clone();
    let mut bad = bases["default"].clone();
    bad["actor"]["mbox"] = json!("http://should.fail.com");
    let context = PrepareContext {
        version: XapiVersion::V1_0_3,
        stored: Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap(),
        authority: None,
    };
    let err = prepare_post(json!([good.clone(), bad]), &context, Uuid::nil).unwrap_err();
    assert_eq!(err.first().code, ErrorCode::InvalidMbox);
    assert_eq!(err.first().path, "$[1].actor.mbox");

    let mut one = good.clone();
    one["id"] = json!("fd41c918-b88b-4b20-a0a5-a4c32391aaa0");
    let err = prepare_post(json!([one.clone(), one]), &context, Uuid::nil).unwrap_err();
    assert_eq!(err.first().code, ErrorCode::DuplicateStatementId);
    assert_eq!(err.first().path, "$[1].id");

    let ids: Vec<Uuid> = prepare_post(json!([good.clone(), good]), &context, {
        let mut next = 0u128;
        move || {
            next += 1;
            Uuid::from_u128(next)
        }
    })
    .unwrap()
    .iter()
    .map(|p| p.id)
    .collect();
    assert_eq!(ids, vec![Uuid::from_u128(1), Uuid::from_u128(2)]);
    let _unused: Map<String, Value> = Map::new();
}
