//! The Activities and Agents the LRS learns from statements: the canonical Activity
//! Definition that `GET /activities` and `format=canonical` return, and the agents behind the
//! Person object of `GET /agents`.
//!
//! The canonical definition of an activity is every definition received for it, merged in
//! the order received: a later value replaces an earlier one, except that language maps
//! (`name`, `description`) and `extensions` merge key by key (Data §2.4.4.1: the LRS may
//! keep "the most recent" definition; merging keeps the languages sent separately).

use serde_json::{Map, Value};

use crate::xapi::agent::Ifi;
use crate::xapi::syntax::normalize_iri;

/// An activity a statement names, with the definition it carries there.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivitySeen<'a> {
    /// The id as written.
    pub id: &'a str,
    /// The id as views key it.
    pub key: String,
    pub definition: Option<&'a Value>,
}

/// Every Activity of a statement: its object, its context activities, and the same inside a
/// SubStatement.
pub fn activities_of(statement: &Value) -> Vec<ActivitySeen<'_>> {
    fn activity<'a>(value: &'a Value, out: &mut Vec<ActivitySeen<'a>>) {
        if let Some(id) = value.get("id").and_then(Value::as_str) {
            out.push(ActivitySeen {
                id,
                key: normalize_iri(id),
                definition: value.get("definition").filter(|d| d.is_object()),
            });
        }
    }
    fn walk<'a>(statement: &'a Value, out: &mut Vec<ActivitySeen<'a>>, top: bool) {
        if let Some(object) = statement.get("object") {
            match object.get("objectType").and_then(Value::as_str) {
                None | Some("Activity") => activity(object, out),
                Some("SubStatement") if top => walk(object, out, false),
                _ => {}
            }
        }
        if let Some(Value::Object(lists)) = statement.pointer("/context/contextActivities") {
            for entry in lists.values() {
                match entry {
                    Value::Array(items) => items.iter().for_each(|a| activity(a, out)),
                    other => activity(other, out),
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(statement, &mut out, true);
    out
}

/// `existing` with `received` merged into it.
pub fn merge_definition(existing: Option<&Value>, received: &Value) -> Value {
    let mut merged: Map<String, Value> = existing
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let Some(received) = received.as_object() else {
        return Value::Object(merged);
    };
    for (key, value) in received {
        let merge_maps = matches!(key.as_str(), "name" | "description" | "extensions");
        match (merge_maps, merged.get_mut(key), value) {
            (true, Some(Value::Object(old)), Value::Object(new)) => {
                for (k, v) in new {
                    old.insert(k.clone(), v.clone());
                }
            }
            _ => {
                merged.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(merged)
}

/// An agent a statement names, keyed by its identifier.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentSeen<'a> {
    /// [`Ifi::key`].
    pub ifi_key: String,
    /// The `name`, or empty.
    pub name: &'a str,
    pub agent: &'a Value,
}

/// The identified Agents of a statement (actor, object, instructor, team and group
/// members, 2.0 context agents, and the same inside a SubStatement), not its authority.
pub fn agents_of(statement: &Value) -> Vec<AgentSeen<'_>> {
    fn actor<'a>(value: &'a Value, out: &mut Vec<AgentSeen<'a>>) {
        let is_group = value.get("objectType").and_then(Value::as_str) == Some("Group");
        if !is_group && let Some(ifi) = Ifi::of(value) {
            out.push(AgentSeen {
                ifi_key: ifi.key(),
                name: value.get("name").and_then(Value::as_str).unwrap_or(""),
                agent: value,
            });
        }
        if let Some(members) = value.get("member").and_then(Value::as_array) {
            members.iter().for_each(|m| actor(m, out));
        }
    }
    fn walk<'a>(statement: &'a Value, out: &mut Vec<AgentSeen<'a>>, top: bool) {
        if let Some(a) = statement.get("actor") {
            actor(a, out);
        }
        if let Some(object) = statement.get("object") {
            match object.get("objectType").and_then(Value::as_str) {
                Some("Agent" | "Group") => actor(object, out),
                Some("SubStatement") if top => walk(object, out, false),
                _ => {}
            }
        }
        if let Some(context) = statement.get("context") {
            for key in ["instructor", "team"] {
                if let Some(a) = context.get(key) {
                    actor(a, out);
                }
            }
            for (list, member) in [("contextAgents", "agent"), ("contextGroups", "group")] {
                for entry in context
                    .get(list)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(a) = entry.get(member) {
                        actor(a, out);
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(statement, &mut out, true);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn activities_of_a_statement() {
        let statement = json!({
            "object": {"objectType": "SubStatement",
                "object": {"id": "http://example.com/inner", "definition": {"type": "http://t"}},
                "context": {"contextActivities": {"parent": {"id": "http://example.com/p1"}}}},
            "context": {"contextActivities": {"grouping": [{"id": "HTTP://Example.com/g"}]}}
        });
        let ids: Vec<(&str, String, bool)> = activities_of(&statement)
            .into_iter()
            .map(|a| (a.id, a.key, a.definition.is_some()))
            .collect();
        assert_eq!(
            ids,
            vec![
                (
                    "http://example.com/inner",
                    "http://example.com/inner".into(),
                    true
                ),
                (
                    "http://example.com/p1",
                    "http://example.com/p1".into(),
                    false
                ),
                ("HTTP://Example.com/g", "http://example.com/g".into(), false),
            ]
        );
    }

    #[test]
    fn definitions_merge() {
        let first = json!({"name": {"en-US": "Course"}, "type": "http://a", "extensions": {"http://e/1": 1}});
        let second =
            json!({"name": {"fr": "Cours"}, "type": "http://b", "extensions": {"http://e/2": 2}});
        assert_eq!(
            merge_definition(Some(&first), &second),
            json!({"name": {"en-US": "Course", "fr": "Cours"}, "type": "http://b",
                "extensions": {"http://e/1": 1, "http://e/2": 2}})
        );
        assert_eq!(merge_definition(None, &first), first);
    }

    #[test]
    fn agents_of_a_statement() {
        let statement = json!({
            "actor": {"objectType": "Group", "member": [{"mbox": "mailto:a@example.com", "name": "A"}]},
            "object": {"objectType": "Agent", "account": {"homePage": "http://h", "name": "b"}},
            "context": {"instructor": {"mbox": "mailto:i@example.com"}},
            "authority": {"mbox": "mailto:lrs@example.com"}
        });
        let keys: Vec<(String, &str)> = agents_of(&statement)
            .into_iter()
            .map(|a| (a.ifi_key, a.name))
            .collect();
        assert_eq!(
            keys,
            vec![
                ("mbox:mailto:a@example.com".into(), "A"),
                ("account:http://h|b".into(), ""),
                ("mbox:mailto:i@example.com".into(), ""),
            ]
        );
    }
}
