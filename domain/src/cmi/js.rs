//! The data model tables in a form the browser runtime uses directly.

use serde_json::{Map, Value, json};

use super::error::{CmiError, error_strings};
use super::model::{self, Collection, Element, Group};
use super::session::{DEFAULT_RECORDS_LIMIT, DEFAULT_VALUE_LIMIT};
use super::types::{
    InteractionType, Pattern, ValidationContext, separators, suspend_data_spm_2004,
};
use super::{ApiFamily, ScormVersion};

/// Exports the data model of `version` for the JavaScript runtime: the
/// element table (access, type with its parameters, default, dependency,
/// uniqueness, source), groups and collections with their `_children` and
/// SPMs, the response rules of each interaction type, the shared regular
/// expressions (the same strings the Rust validator compiles), the error
/// rules with their codes and `GetErrorString` texts, and the default limits.
///
/// Each type's `kind` names an algorithm both runtimes implement; the
/// parameters (patterns by name, bounds, SPMs, vocabularies) come from here.
pub fn js_model(version: ScormVersion) -> Value {
    let table = model::model(version);
    let fourth = version.is_fourth_edition();
    let visible = |only_fourth: bool| !only_fourth || fourth;
    let elements: Vec<Value> = table
        .elements
        .iter()
        .filter(|e| visible(e.fourth_edition_only))
        .map(element_json)
        .collect();
    let groups: Vec<Value> = table
        .groups
        .iter()
        .filter(|g| visible(g.fourth_edition_only))
        .map(group_json)
        .collect();
    let collections: Vec<Value> = table
        .collections
        .iter()
        .filter(|c| visible(c.fourth_edition_only))
        .map(collection_json)
        .collect();
    let patterns: Map<String, Value> = Pattern::ALL
        .iter()
        .map(|p| (p.name().to_owned(), Value::from(p.source())))
        .collect();
    let rules: Map<String, Value> = CmiError::ALL
        .iter()
        .map(|e| (e.name().to_owned(), Value::from(e.code(version))))
        .collect();
    let errors: Vec<Value> = error_strings(version)
        .iter()
        .map(|(code, text)| json!({"code": code.to_string(), "string": text}))
        .collect();
    let interaction_types: Map<String, Value> = match version.family() {
        ApiFamily::Scorm12 => Map::new(),
        ApiFamily::Scorm2004 => InteractionType::ALL
            .iter()
            .map(|t| (t.as_str().to_owned(), t.format().to_json()))
            .collect(),
    };
    let suspend_data_spm = match version.family() {
        ApiFamily::Scorm12 => 4096,
        ApiFamily::Scorm2004 => suspend_data_spm_2004(ValidationContext {
            fourth_edition: fourth,
            interaction_type: None,
        }),
    };
    let functions = match version.family() {
        ApiFamily::Scorm12 => json!({
            "Initialize": "LMSInitialize",
            "Terminate": "LMSFinish",
            "GetValue": "LMSGetValue",
            "SetValue": "LMSSetValue",
            "Commit": "LMSCommit",
            "GetLastError": "LMSGetLastError",
            "GetErrorString": "LMSGetErrorString",
            "GetDiagnostic": "LMSGetDiagnostic",
        }),
        ApiFamily::Scorm2004 => json!({
            "Initialize": "Initialize",
            "Terminate": "Terminate",
            "GetValue": "GetValue",
            "SetValue": "SetValue",
            "Commit": "Commit",
            "GetLastError": "GetLastError",
            "GetErrorString": "GetErrorString",
            "GetDiagnostic": "GetDiagnostic",
        }),
    };
    json!({
        "version": version.as_str(),
        "family": match version.family() {
            ApiFamily::Scorm12 => "scorm12",
            ApiFamily::Scorm2004 => "scorm2004",
        },
        "api_object": version.api_object_name(),
        "data_model_version": version.data_model_version(),
        "functions": functions,
        "elements": elements,
        "groups": groups,
        "collections": collections,
        "interaction_types": interaction_types,
        "patterns": patterns,
        "separators": {
            "list": separators::LIST,
            "pair": separators::PAIR,
            "range": separators::RANGE,
        },
        "rules": rules,
        "errors": errors,
        "limits": {
            "suspend_data_spm": suspend_data_spm,
            "default_value_limit": DEFAULT_VALUE_LIMIT,
            "default_records_limit": DEFAULT_RECORDS_LIMIT,
            "diagnostic_max_chars": 255,
        },
    })
}

fn element_json(element: &Element) -> Value {
    json!({
        "path": element.path,
        "access": element.access.as_str(),
        "type": element.ty.to_json(),
        "default": element.default,
        "depends_on": element.depends_on,
        "unique": element.unique,
        "write_once": element.write_once,
        "source": element.source.as_str(),
    })
}

fn group_json(group: &Group) -> Value {
    json!({"path": group.path, "children": group.children})
}

fn collection_json(collection: &Collection) -> Value {
    json!({
        "path": collection.path,
        "children": collection.children,
        "spm": collection.spm,
        "source": collection.source.as_str(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_every_element_of_the_edition() {
        let v4 = js_model(ScormVersion::Scorm2004Fourth);
        let v3 = js_model(ScormVersion::Scorm2004Third);
        let paths = |model: &Value| -> Vec<String> {
            model["elements"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["path"].as_str().unwrap().to_owned())
                .collect()
        };
        assert!(paths(&v4).contains(&"adl.data.n.store".to_owned()));
        assert!(!paths(&v3).contains(&"adl.data.n.store".to_owned()));
        assert_eq!(paths(&v4).len(), paths(&v3).len() + 3);
        assert_eq!(v4["limits"]["suspend_data_spm"], 64_000);
        assert_eq!(v3["limits"]["suspend_data_spm"], 4_000);
        assert_eq!(v4["rules"]["ReadOnly"], 404);
        assert_eq!(v4["interaction_types"]["choice"]["unique_patterns"], "set");
        let v12 = js_model(ScormVersion::Scorm12);
        assert_eq!(v12["rules"]["ReadOnly"], 403);
        assert_eq!(v12["functions"]["Terminate"], "LMSFinish");
        assert_eq!(paths(&v12).len(), model::SCORM12.elements.len());
    }

    #[test]
    fn exported_patterns_are_the_ones_rust_compiles() {
        let exported = js_model(ScormVersion::Scorm12);
        for pattern in Pattern::ALL {
            assert_eq!(
                exported["patterns"][pattern.name()].as_str(),
                Some(pattern.regex().as_str())
            );
        }
    }

    #[test]
    fn types_name_only_exported_patterns() {
        for version in ScormVersion::ALL {
            let exported = js_model(version);
            for element in exported["elements"].as_array().unwrap() {
                if let Some(name) = element["type"]["pattern"].as_str() {
                    assert!(exported["patterns"].get(name).is_some(), "{name}");
                }
            }
        }
    }
}
