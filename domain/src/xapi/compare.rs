//! Statement comparison (Data §2.3.1 "Statement Comparison Requirements").
//!
//! Used for immutability (a second `PUT`/`POST` with a known id answers 204/200 when it is the
//! same statement and 409 when it is not) and for signed statements (the JWS payload must be
//! logically equivalent to the statement received).
//!
//! Differences that the immutability exceptions allow are ignored:
//! - properties the LRS assigns: `stored` and `authority` always; `id`, `timestamp` and
//!   `version` when only one side has them;
//! - activity `definition`s and verb `display`s (not part of the statement);
//! - timestamp serialization: instants are compared at millisecond precision;
//! - the order of a Group's `member` list;
//! - `attachments`;
//! - case-insensitive parts: UUIDs, the scheme and domain of `mbox`, the hex of
//!   `mbox_sha1sum`, scheme and host of IRIs, language tags;
//! - the default `objectType` (`Agent` for actors, `Activity` for objects) written or omitted,
//!   and a single context activity versus an array of one.
//!
//! `result.duration` is compared as a string, with the seconds cut to hundredths (2.0 §4.2.7).
//! Everything else, including `name`s and extension values, must be equal; numbers compare by
//! value (`1` equals `1.0`).

use serde_json::{Map, Value};

use super::syntax;
use super::version::XapiVersion;

/// Whether `a` and `b` are the same statement under the comparison rules.
pub fn same_statement(a: &Value, b: &Value) -> bool {
    first_difference(a, b).is_none()
}

/// The JSON path of the first difference that counts, or `None` when the statements match.
pub fn first_difference(a: &Value, b: &Value) -> Option<String> {
    let mut a = comparable(a, true);
    let mut b = comparable(b, true);
    for key in ["id", "timestamp", "version"] {
        if let (Value::Object(ma), Value::Object(mb)) = (&mut a, &mut b)
            && (!ma.contains_key(key) || !mb.contains_key(key))
        {
            ma.remove(key);
            mb.remove(key);
        }
    }
    diff(&a, &b, "$")
}

fn diff(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(ma), Value::Object(mb)) => {
            for key in ma.keys().chain(mb.keys()) {
                let p = format!("{path}.{key}");
                match (ma.get(key), mb.get(key)) {
                    (Some(va), Some(vb)) => {
                        if let Some(d) = diff(va, vb, &p) {
                            return Some(d);
                        }
                    }
                    _ => return Some(p),
                }
            }
            None
        }
        (Value::Array(la), Value::Array(lb)) => {
            if la.len() != lb.len() {
                return Some(path.to_owned());
            }
            la.iter()
                .zip(lb)
                .enumerate()
                .find_map(|(i, (va, vb))| diff(va, vb, &format!("{path}[{i}]")))
        }
        (Value::Number(na), Value::Number(nb)) => {
            if na == nb || na.as_f64() == nb.as_f64() {
                None
            } else {
                Some(path.to_owned())
            }
        }
        _ => (a != b).then(|| path.to_owned()),
    }
}

/// The statement rewritten into the form in which equal statements are equal JSON.
fn comparable(statement: &Value, top: bool) -> Value {
    let Some(map) = statement.as_object() else {
        return statement.clone();
    };
    let mut out = Map::new();
    for (key, value) in map {
        let value = match key.as_str() {
            "stored" | "authority" | "attachments" => continue,
            "id" if top => Value::String(
                value
                    .as_str()
                    .map(str::to_ascii_lowercase)
                    .unwrap_or_default(),
            ),
            "timestamp" => comparable_timestamp(value),
            "actor" => comparable_actor(value),
            "verb" => {
                let mut verb = Map::new();
                if let Some(id) = value.get("id").and_then(Value::as_str) {
                    verb.insert("id".into(), Value::String(syntax::normalize_iri(id)));
                }
                Value::Object(verb)
            }
            "object" => comparable_object(value),
            "result" => comparable_result(value),
            "context" => comparable_context(value),
            _ => value.clone(),
        };
        out.insert(key.clone(), value);
    }
    Value::Object(out)
}

fn comparable_timestamp(value: &Value) -> Value {
    // The version only matters for offset-less and space-separated forms; parse leniently.
    let parsed = value.as_str().and_then(|s| {
        syntax::parse_timestamp(s, XapiVersion::V1_0_3)
            .or_else(|| syntax::parse_timestamp(s, XapiVersion::V2_0_0))
    });
    match parsed {
        Some(t) => Value::from(t.millis()),
        None => value.clone(),
    }
}

fn comparable_actor(value: &Value) -> Value {
    let Some(map) = value.as_object() else {
        return value.clone();
    };
    let mut out = Map::new();
    for (key, v) in map {
        let v = match key.as_str() {
            "objectType" if v == "Agent" => continue,
            "mbox" => Value::String(v.as_str().map(syntax::normalize_mbox).unwrap_or_default()),
            "mbox_sha1sum" => {
                Value::String(v.as_str().map(str::to_ascii_lowercase).unwrap_or_default())
            }
            "openid" => Value::String(v.as_str().map(syntax::normalize_iri).unwrap_or_default()),
            "account" => {
                let mut account = v.as_object().cloned().unwrap_or_default();
                if let Some(home) = account.get("homePage").and_then(Value::as_str) {
                    let home = syntax::normalize_iri(home);
                    account.insert("homePage".into(), Value::String(home));
                }
                Value::Object(account)
            }
            "member" => {
                let mut members: Vec<Value> = v
                    .as_array()
                    .map(|m| m.iter().map(comparable_actor).collect())
                    .unwrap_or_default();
                members.sort_by_cached_key(|m| m.to_string());
                Value::Array(members)
            }
            _ => v.clone(),
        };
        out.insert(key.clone(), v);
    }
    Value::Object(out)
}

fn comparable_activity(value: &Value) -> Value {
    let mut out = Map::new();
    if let Some(id) = value.get("id").and_then(Value::as_str) {
        out.insert("id".into(), Value::String(syntax::normalize_iri(id)));
    }
    Value::Object(out)
}

fn comparable_object(value: &Value) -> Value {
    match value.get("objectType").and_then(Value::as_str) {
        None | Some("Activity") => comparable_activity(value),
        Some("Agent" | "Group") => {
            let mut actor = comparable_actor(value);
            if value.get("objectType").and_then(Value::as_str) == Some("Agent")
                && let Value::Object(map) = &mut actor
            {
                // Keep the explicit Agent marker here: objects default to Activity.
                map.insert("objectType".into(), Value::String("Agent".into()));
            }
            actor
        }
        Some("StatementRef") => comparable_statement_ref(value),
        Some("SubStatement") => comparable(value, false),
        Some(_) => value.clone(),
    }
}

fn comparable_statement_ref(value: &Value) -> Value {
    let mut out = value.as_object().cloned().unwrap_or_default();
    if let Some(id) = value.get("id").and_then(Value::as_str) {
        out.insert("id".into(), Value::String(id.to_ascii_lowercase()));
    }
    Value::Object(out)
}

fn comparable_result(value: &Value) -> Value {
    let mut out = value.as_object().cloned().unwrap_or_default();
    if let Some(duration) = value.get("duration").and_then(Value::as_str) {
        out.insert(
            "duration".into(),
            Value::String(syntax::duration_for_comparison(duration)),
        );
    }
    Value::Object(out)
}

fn comparable_context(value: &Value) -> Value {
    let Some(map) = value.as_object() else {
        return value.clone();
    };
    let mut out = Map::new();
    for (key, v) in map {
        let v = match key.as_str() {
            "registration" => {
                Value::String(v.as_str().map(str::to_ascii_lowercase).unwrap_or_default())
            }
            "instructor" | "team" => comparable_actor(v),
            "statement" => comparable_statement_ref(v),
            "language" => {
                Value::String(v.as_str().map(str::to_ascii_lowercase).unwrap_or_default())
            }
            "contextActivities" => {
                let mut lists = Map::new();
                for (kind, entry) in v.as_object().into_iter().flatten() {
                    let items: Vec<Value> = match entry {
                        Value::Array(items) => items.iter().map(comparable_activity).collect(),
                        other => vec![comparable_activity(other)],
                    };
                    lists.insert(kind.clone(), Value::Array(items));
                }
                Value::Object(lists)
            }
            "contextAgents" | "contextGroups" => {
                let member = if key == "contextAgents" {
                    "agent"
                } else {
                    "group"
                };
                let items: Vec<Value> = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|entry| {
                        let mut entry = entry.as_object().cloned().unwrap_or_default();
                        if let Some(actor) = entry.get(member) {
                            let actor = comparable_actor(actor);
                            entry.insert(member.into(), actor);
                        }
                        Value::Object(entry)
                    })
                    .collect();
                Value::Array(items)
            }
            _ => v.clone(),
        };
        out.insert(key.clone(), v);
    }
    Value::Object(out)
}
