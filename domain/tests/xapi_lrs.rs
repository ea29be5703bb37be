//! Comparison, query parameters, index keys, voiding, renderings, documents and signatures.

use std::fs;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{TimeZone, Utc};
use domain::xapi::agent::Ifi;
use domain::xapi::compare::{first_difference, same_statement};
use domain::xapi::document::{
    self, DocumentMethod, DocumentRequest, DocumentResource, MergeError, PreconditionError,
    Preconditions,
};
use domain::xapi::query::{StatementsGet, parse_statements_get};
use domain::xapi::render::{Format, RenderOptions, parse_accept_language, render_statement};
use domain::xapi::signature::{JwsAlgorithm, JwsVerifier, check_signature, signature_attachments};
use domain::xapi::statement::{
    PrepareContext, StatementIndex, VoidTarget, VoidingDecision, prepare_post, prepare_put,
    voiding_decision,
};
use domain::xapi::{ErrorCode, XapiVersion};
use expect_test::expect;
use serde_json::{Value, json};
use uuid::Uuid;

fn data(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/xapi")
        .join(name);
    serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap()
}

#[test]
fn comparison_cases() {
    let mut failures = Vec::new();
    let cases = data("comparison_cases.json");
    for case in cases.as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (a, b) = (&case["a"], &case["b"]);
        let expected_same = case["same"].as_bool().unwrap();
        if same_statement(a, b) != expected_same || same_statement(b, a) != expected_same {
            failures.push(format!("{name}: expected same={expected_same}"));
        }
        if let Some(path) = case["diff"].as_str() {
            let found = first_difference(a, b);
            if found.as_deref() != Some(path) {
                failures.push(format!(
                    "{name}: expected difference at {path}, got {found:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(cases.as_array().unwrap().len() >= 20);
}

#[test]
fn a_stored_statement_equals_its_resubmission() {
    // The server compares the stored form (with id, stored, authority, version, timestamp and
    // array contextActivities) against a later PUT of the original body: 204, not 409.
    let received = json!({
        "actor": {"mbox": "mailto:a@example.com"},
        "verb": {"id": "http://example.com/v"},
        "object": {"id": "http://example.com/o"},
        "context": {"contextActivities": {"parent": {"id": "http://example.com/p"}}}
    });
    let id = Uuid::from_u128(7);
    let context = PrepareContext {
        version: XapiVersion::V1_0_3,
        stored: Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap(),
        authority: Some(json!({"mbox": "mailto:lrs@example.com"})),
    };
    let prepared = prepare_put(received.clone(), id, &context).unwrap();
    assert!(same_statement(&prepared.statement, &received));
    let mut changed = received.clone();
    changed["verb"]["id"] = json!("http://example.com/different/verb/iri");
    assert_eq!(
        first_difference(&prepared.statement, &changed).as_deref(),
        Some("$.verb.id")
    );
}

#[test]
fn put_id_must_match_parameter() {
    let context = PrepareContext {
        version: XapiVersion::V1_0_3,
        stored: Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap(),
        authority: None,
    };
    let statement = json!({
        "id": "fd41c918-b88b-4b20-a0a5-a4c32391aaa0",
        "actor": {"mbox": "mailto:a@example.com"},
        "verb": {"id": "http://example.com/v"},
        "object": {"id": "http://example.com/o"}
    });
    let err = prepare_put(statement.clone(), Uuid::from_u128(1), &context).unwrap_err();
    assert_eq!(err.first().code, ErrorCode::ConflictingParameters);
    let id = Uuid::parse_str("fd41c918-b88b-4b20-a0a5-a4c32391aaa0").unwrap();
    assert_eq!(prepare_put(statement, id, &context).unwrap().id, id);
}

#[test]
fn query_cases() {
    let mut failures = Vec::new();
    for case in data("query_cases.json").as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let params: Vec<(String, String)> = case["params"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p[0].as_str().unwrap().to_owned(),
                    p[1].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        for version in [XapiVersion::V1_0_3, XapiVersion::V2_0_0] {
            let outcome = parse_statements_get(&params, version);
            let ok = match (&case["expect"], &outcome) {
                (Value::String(s), Ok(StatementsGet::Query(_))) => s == "query",
                (Value::String(s), Ok(StatementsGet::Single { voided, .. })) => {
                    (s == "single" && !voided) || (s == "voided" && *voided)
                }
                (Value::Object(e), Err(err)) => {
                    e["code"] == err.code.as_str() && e["path"] == err.path.as_str()
                }
                _ => false,
            };
            if !ok {
                failures.push(format!("{name} [{version}]: got {outcome:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn parsed_query_values() {
    let params = vec![
        (
            "agent".to_owned(),
            r#"{"mbox":"mailto:Ann@Example.com"}"#.to_owned(),
        ),
        ("until".to_owned(), "2024-02-01T00:00:00 01:00".to_owned()),
        ("limit".to_owned(), "500".to_owned()),
        ("format".to_owned(), "ids".to_owned()),
    ];
    let StatementsGet::Query(query) = parse_statements_get(&params, XapiVersion::V1_0_3).unwrap()
    else {
        panic!("expected a query");
    };
    assert_eq!(
        query.agent.as_ref().unwrap().ifi.key(),
        "mbox:mailto:Ann@example.com"
    );
    assert_eq!(
        query.until.unwrap().to_utc_string(),
        "2024-01-31T23:00:00.000Z"
    );
    assert_eq!(query.effective_limit(100), 100);
    assert_eq!(query.format, Format::Ids);
    assert!(!query.ascending);
}

fn index_json(index: &StatementIndex) -> String {
    format!(
        "verb: {}\nregistration: {:?}\nagents: {:?}\nrelated_agents: {:?}\nactivities: {:?}\nrelated_activities: {:?}\nvoids: {:?}\nreferences: {:?}\n",
        index.verb,
        index.registration,
        index.agents,
        index.related_agents,
        index.activities,
        index.related_activities,
        index.voids,
        index.references
    )
}

#[test]
fn index_keys() {
    let bases = data("statement_bases.json");
    let mut full = bases["full"].clone();
    full["authority"] = json!({"mbox": "mailto:lrs@example.com"});
    expect![[r#"
        verb: http://adlnet.gov/expapi/verbs/answered
        registration: Some(ec531277-b57b-4c15-8d91-d292c5b2b8f7)
        agents: ["account:https://lms.example.org|ann-1"]
        related_agents: ["account:https://lms.example.org|ann-1", "mbox:mailto:lrs@example.com", "mbox_sha1sum:17d28fa22f4eaaf8a926da037998d79adef5a1ac", "mbox_sha1sum:cd9b00a5611f94eaa7b1661edab976068e364975", "openid:http://openid.example.org/12345"]
        activities: ["http://example.com/quiz/q1"]
        related_activities: ["http://example.com/course", "http://example.com/other", "http://example.com/quiz", "http://example.com/quiz/q1", "https://w3id.org/xapi/cmi5/context/categories/cmi5"]
        voids: None
        references: None
    "#]]
    .assert_eq(&index_json(&StatementIndex::of(&full)));
    expect![[r#"
        verb: http://adlnet.gov/expapi/verbs/planned
        registration: None
        agents: ["mbox:mailto:xapi@adlnet.gov", "mbox_sha1sum:cd9b00a5611f94eaa7b1661edab976068e364975"]
        related_agents: ["mbox:mailto:group@adlnet.gov", "mbox:mailto:instructor@adlnet.gov", "mbox:mailto:xapi@adlnet.gov", "mbox_sha1sum:bd0d3f1502ac2cfeaecaf0d66cce78a76a4e7524", "mbox_sha1sum:cd9b00a5611f94eaa7b1661edab976068e364975", "mbox_sha1sum:f7ad8095dc7d39e69aad8f3c8801a5243743d16b"]
        activities: []
        related_activities: ["http://example.com/meeting", "http://example.com/parent"]
        voids: None
        references: None
    "#]]
    .assert_eq(&index_json(&StatementIndex::of(&bases["substatement"])));
    let voiding = StatementIndex::of(&bases["voiding"]);
    let target = Uuid::parse_str("e05aa883-acaf-40ad-bf54-02c8ce485fb0").unwrap();
    assert_eq!(voiding.voids, Some(target));
    assert_eq!(voiding.references, Some(target));
}

#[test]
fn query_matching() {
    let bases = data("statement_bases.json");
    let group_actor = StatementIndex::of(&bases["anonymous_group_actor"]);
    let query = |params: &[(&str, &str)]| {
        let params: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        match parse_statements_get(&params, XapiVersion::V2_0_0).unwrap() {
            StatementsGet::Query(q) => q,
            other => panic!("{other:?}"),
        }
    };
    // A group whose member is the queried agent matches (Communication 2.1.3 agent filter).
    let member = query(&[("agent", r#"{"mbox":"mailto:a@example.com"}"#)]);
    assert!(member.matches(&group_actor, None));
    // The agent object matches too; an unrelated agent does not.
    assert!(
        query(&[("agent", r#"{"mbox":"mailto:target@example.com"}"#)]).matches(&group_actor, None)
    );
    assert!(
        !query(&[("agent", r#"{"mbox":"mailto:zed@example.com"}"#)]).matches(&group_actor, None)
    );
    // mbox_sha1sum finds mbox statements.
    let sha = Ifi::Mbox("mailto:a@example.com".into()).index_keys()[1].clone();
    let sha = sha.trim_start_matches("mbox_sha1sum:");
    assert!(
        query(&[("agent", &format!(r#"{{"mbox_sha1sum":"{sha}"}}"#))]).matches(&group_actor, None)
    );

    let full = StatementIndex::of(&bases["full"]);
    let instructor = query(&[(
        "agent",
        r#"{"mbox_sha1sum":"cd9b00a5611f94eaa7b1661edab976068e364975"}"#,
    )]);
    assert!(!instructor.matches(&full, None));
    let related = query(&[
        (
            "agent",
            r#"{"mbox_sha1sum":"cd9b00a5611f94eaa7b1661edab976068e364975"}"#,
        ),
        ("related_agents", "true"),
    ]);
    assert!(related.matches(&full, None));
    assert!(!query(&[("activity", "http://example.com/quiz")]).matches(&full, None));
    assert!(
        query(&[
            ("activity", "http://example.com/quiz"),
            ("related_activities", "true")
        ])
        .matches(&full, None)
    );
    assert!(query(&[("activity", "HTTP://EXAMPLE.COM/quiz/q1")]).matches(&full, None));
    assert!(
        query(&[("registration", "EC531277-B57B-4C15-8D91-D292C5B2B8F7")]).matches(&full, None)
    );
    assert!(!query(&[("verb", "http://adlnet.gov/expapi/verbs/voided")]).matches(&full, None));
    // 2.0 context agents are related agents.
    let ctx = StatementIndex::of(&bases["context_agents"]);
    assert!(
        query(&[
            ("agent", r#"{"mbox":"mailto:player-2@example.com"}"#),
            ("related_agents", "true")
        ])
        .matches(&ctx, None)
    );
    // A StatementRef statement matches through its target.
    let voiding = StatementIndex::of(&bases["voiding"]);
    let activity = query(&[("activity", "http://example.com/quiz/q1")]);
    assert!(!activity.matches(&voiding, None));
    assert!(activity.matches(&voiding, Some(&full)));
}

#[test]
fn voiding_decisions() {
    let bases = data("statement_bases.json");
    let voiding = StatementIndex::of(&bases["voiding"]);
    let target = voiding.voids.unwrap();
    assert_eq!(
        voiding_decision(&voiding, VoidTarget::Ordinary),
        Some(Ok(VoidingDecision::Void(target)))
    );
    assert_eq!(
        voiding_decision(&voiding, VoidTarget::Unknown),
        Some(Ok(VoidingDecision::TargetUnknown(target)))
    );
    let err = voiding_decision(&voiding, VoidTarget::Voiding)
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidVoidingObject);
    assert_eq!(
        voiding_decision(&StatementIndex::of(&bases["default"]), VoidTarget::Unknown),
        None
    );
}

fn prepared_format_statement(version: XapiVersion) -> Value {
    // The statement of 4.1.6.1 "format" tests: an agent voiding nothing, a SubStatement whose
    // actor is an identified group and whose object is a multilingual activity.
    let statement = json!({
        "actor": {"objectType": "Agent", "name": "xAPI mbox", "mbox": "mailto:agent@adlnet.gov"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/attended", "display": {"en-GB": "attended", "en-US": "attended", "de": "besuchte"}},
        "object": {
            "objectType": "SubStatement",
            "actor": {"objectType": "Group", "name": "Group Identified", "mbox": "mailto:group@adlnet.gov"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/attended", "display": {"en-GB": "attended", "en-US": "attended"}},
            "object": {
                "objectType": "Activity",
                "id": "http://www.example.com/unicode/1",
                "definition": {
                    "name": {"en": "Other", "en-GB": "attended", "en-US": "attended", "ja-JP": "出席した"},
                    "description": {"en-US": "On this map, please mark Franklin, TN", "en-GB": "On this map, please mark Franklin, TN"},
                    "type": "http://adlnet.gov/expapi/activities/cmi.interaction",
                    "interactionType": "other",
                    "correctResponsesPattern": ["(35.937432,-86.868896)"]
                }
            }
        },
        "context": {
            "instructor": {"objectType": "Group", "member": [{"name": "Ann", "mbox": "mailto:ann@example.com"}]},
            "contextActivities": {"category": {"id": "http://www.example.com/test/array/statements/pri", "definition": {"name": {"en-GB": "pri", "en-US": "pri-us"}}}}
        },
        "timestamp": "2023-05-04T12:00:00-05:00"
    });
    let context = PrepareContext {
        version,
        stored: Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap(),
        authority: Some(
            json!({"objectType": "Agent", "account": {"homePage": "https://lrs.example.org", "name": "key-1"}}),
        ),
    };
    prepare_post(statement, &context, || Uuid::from_u128(42))
        .unwrap()
        .remove(0)
        .statement
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap()
}

#[test]
fn format_exact_1_0_3_keeps_the_timestamp() {
    let stored = prepared_format_statement(XapiVersion::V1_0_3);
    let rendered = render_statement(
        &stored,
        &RenderOptions::new(Format::Exact, XapiVersion::V1_0_3),
    );
    expect![[r#""2023-05-04T12:00:00-05:00""#]].assert_eq(&rendered["timestamp"].to_string());
    expect![[r#""1.0.0""#]].assert_eq(&rendered["version"].to_string());
}

#[test]
fn format_exact_2_0_returns_utc() {
    let stored = prepared_format_statement(XapiVersion::V2_0_0);
    let rendered = render_statement(
        &stored,
        &RenderOptions::new(Format::Exact, XapiVersion::V2_0_0),
    );
    expect![[r#"
        {
          "actor": {
            "mbox": "mailto:agent@adlnet.gov",
            "name": "xAPI mbox",
            "objectType": "Agent"
          },
          "authority": {
            "account": {
              "homePage": "https://lrs.example.org",
              "name": "key-1"
            },
            "objectType": "Agent"
          },
          "context": {
            "contextActivities": {
              "category": [
                {
                  "definition": {
                    "name": {
                      "en-GB": "pri",
                      "en-US": "pri-us"
                    }
                  },
                  "id": "http://www.example.com/test/array/statements/pri"
                }
              ]
            },
            "instructor": {
              "member": [
                {
                  "mbox": "mailto:ann@example.com",
                  "name": "Ann"
                }
              ],
              "objectType": "Group"
            }
          },
          "id": "00000000-0000-0000-0000-00000000002a",
          "object": {
            "actor": {
              "mbox": "mailto:group@adlnet.gov",
              "name": "Group Identified",
              "objectType": "Group"
            },
            "object": {
              "definition": {
                "correctResponsesPattern": [
                  "(35.937432,-86.868896)"
                ],
                "description": {
                  "en-GB": "On this map, please mark Franklin, TN",
                  "en-US": "On this map, please mark Franklin, TN"
                },
                "interactionType": "other",
                "name": {
                  "en": "Other",
                  "en-GB": "attended",
                  "en-US": "attended",
                  "ja-JP": "出席した"
                },
                "type": "http://adlnet.gov/expapi/activities/cmi.interaction"
              },
              "id": "http://www.example.com/unicode/1",
              "objectType": "Activity"
            },
            "objectType": "SubStatement",
            "verb": {
              "display": {
                "en-GB": "attended",
                "en-US": "attended"
              },
              "id": "http://adlnet.gov/expapi/verbs/attended"
            }
          },
          "stored": "2024-01-02T03:04:05.000Z",
          "timestamp": "2023-05-04T17:00:00.000Z",
          "verb": {
            "display": {
              "de": "besuchte",
              "en-GB": "attended",
              "en-US": "attended"
            },
            "id": "http://adlnet.gov/expapi/verbs/attended"
          },
          "version": "2.0.0"
        }"#]]
    .assert_eq(&pretty(&rendered));
}

#[test]
fn format_ids() {
    let stored = prepared_format_statement(XapiVersion::V2_0_0);
    let rendered = render_statement(
        &stored,
        &RenderOptions::new(Format::Ids, XapiVersion::V2_0_0),
    );
    expect![[r#"
        {
          "actor": {
            "mbox": "mailto:agent@adlnet.gov",
            "objectType": "Agent"
          },
          "authority": {
            "account": {
              "homePage": "https://lrs.example.org",
              "name": "key-1"
            },
            "objectType": "Agent"
          },
          "context": {
            "contextActivities": {
              "category": [
                {
                  "id": "http://www.example.com/test/array/statements/pri"
                }
              ]
            },
            "instructor": {
              "member": [
                {
                  "mbox": "mailto:ann@example.com"
                }
              ],
              "objectType": "Group"
            }
          },
          "id": "00000000-0000-0000-0000-00000000002a",
          "object": {
            "actor": {
              "mbox": "mailto:group@adlnet.gov",
              "objectType": "Group"
            },
            "object": {
              "id": "http://www.example.com/unicode/1"
            },
            "objectType": "SubStatement",
            "verb": {
              "id": "http://adlnet.gov/expapi/verbs/attended"
            }
          },
          "stored": "2024-01-02T03:04:05.000Z",
          "timestamp": "2023-05-04T17:00:00.000Z",
          "verb": {
            "id": "http://adlnet.gov/expapi/verbs/attended"
          },
          "version": "2.0.0"
        }"#]]
    .assert_eq(&pretty(&rendered));
}

#[test]
fn format_canonical_picks_one_language() {
    let stored = prepared_format_statement(XapiVersion::V1_0_3);
    let languages = parse_accept_language("en-GB");
    let canonical_definition = |id: &str| {
        (id == "http://www.example.com/test/array/statements/pri").then(|| {
            json!({"name": {"en-US": "Primary", "en-GB": "Primary (GB)", "fr": "Primaire"}, "description": {"en-US": "d", "fr": "d"}})
        })
    };
    let options = RenderOptions {
        format: Format::Canonical,
        version: XapiVersion::V1_0_3,
        languages: &languages,
        canonical_definition: Some(&canonical_definition),
    };
    let rendered = render_statement(&stored, &options);
    expect![[r#"{"en-GB":"attended"}"#]].assert_eq(&rendered["verb"]["display"].to_string());
    expect![[r#"{"en-GB":"attended"}"#]]
        .assert_eq(&rendered["object"]["verb"]["display"].to_string());
    expect![[r#"{"description":{"en-GB":"On this map, please mark Franklin, TN"},"name":{"en-GB":"attended"}}"#]]
        .assert_eq(&{
            let d = &rendered["object"]["object"]["definition"];
            json!({"name": d["name"], "description": d["description"]}).to_string()
        });
    expect![[r#"{"description":{"en-US":"d"},"name":{"en-GB":"Primary (GB)"}}"#]].assert_eq(
        &rendered["context"]["contextActivities"]["category"][0]["definition"].to_string(),
    );
    // Agents and groups stay exact.
    assert_eq!(rendered["actor"], stored["actor"]);
    assert_eq!(rendered["object"]["actor"], stored["object"]["actor"]);
}

#[test]
fn etags_and_preconditions() {
    assert_eq!(
        document::etag(b""),
        "\"da39a3ee5e6b4b0d3255bfef95601890afd80709\""
    );
    let current = document::etag(br#"{"a":1}"#);
    let check = |method, resource, if_match, if_none_match, current: Option<&str>, state_flag| {
        document::check_preconditions(
            method,
            resource,
            Preconditions {
                if_match,
                if_none_match,
            },
            current,
            state_flag,
        )
    };
    use DocumentMethod::*;
    use DocumentResource::*;
    assert_eq!(
        check(
            Put,
            ActivityProfile,
            Some(current.as_str()),
            None,
            Some(&current),
            false
        ),
        Ok(())
    );
    assert!(matches!(
        check(
            Put,
            ActivityProfile,
            Some("\"abc\""),
            None,
            Some(&current),
            false
        ),
        Err(PreconditionError::Failed(_))
    ));
    assert!(matches!(
        check(Put, AgentProfile, None, Some("*"), Some(&current), false),
        Err(PreconditionError::Failed(_))
    ));
    assert_eq!(
        check(Put, AgentProfile, None, Some("*"), None, false),
        Ok(())
    );
    assert_eq!(
        check(Put, AgentProfile, None, None, Some(&current), false),
        Err(PreconditionError::MissingPrecondition)
    );
    assert_eq!(check(Put, State, None, None, Some(&current), false), Ok(()));
    assert_eq!(
        check(Put, State, None, None, Some(&current), true),
        Err(PreconditionError::MissingPrecondition)
    );
    assert_eq!(check(Put, AgentProfile, None, None, None, true), Ok(()));
    assert!(matches!(
        check(Post, State, Some("\"abc\""), None, Some(&current), false),
        Err(PreconditionError::Failed(_))
    ));
    assert!(matches!(
        check(Delete, State, Some("\"abc\""), None, Some(&current), false),
        Err(PreconditionError::Failed(_))
    ));
    assert!(matches!(
        check(Delete, State, Some("*"), None, None, false),
        Err(PreconditionError::Failed(_))
    ));
    let list = format!("\"x\", W/{}", current.to_uppercase());
    assert_eq!(
        check(Delete, State, Some(&list), None, Some(&current), false),
        Ok(())
    );
    assert_eq!(check(Post, State, None, None, Some(&current), true), Ok(()));
}

#[test]
fn json_merge() {
    let existing = br#"{"car":"MKX","color":"black","nested":{"a":1,"b":2}}"#;
    let merged = document::merge_post(
        Some(("application/json; charset=utf-8", existing)),
        "application/json",
        br#"{"color":"white","nested":{"c":3}}"#,
    )
    .unwrap();
    expect![[r#"{"car":"MKX","color":"white","nested":{"c":3}}"#]]
        .assert_eq(std::str::from_utf8(&merged).unwrap());
    assert_eq!(
        document::merge_post(Some(("text/plain", b"x")), "application/json", b"{}"),
        Err(MergeError::NotJson)
    );
    assert_eq!(
        document::merge_post(Some(("application/json", existing)), "text/plain", b"{}"),
        Err(MergeError::NotJson)
    );
    assert_eq!(
        document::merge_post(
            Some(("application/json", existing)),
            "application/json",
            b"[1]"
        ),
        Err(MergeError::NotObject)
    );
    assert_eq!(
        document::merge_post(Some(("application/json", b"[]")), "application/json", b"{}"),
        Err(MergeError::NotObject)
    );
    assert_eq!(
        document::merge_post(None, "application/json", b"{\"a\":"),
        Err(MergeError::NotObject)
    );
    assert_eq!(
        document::merge_post(None, "text/plain", b"hello").unwrap(),
        b"hello"
    );
}

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn document_parameters() {
    let v = XapiVersion::V2_0_0;
    let agent = r#"{"objectType":"Agent","mbox":"mailto:a@example.com"}"#;
    let activity = "http://example.com/activity";
    let ok = document::parse_state_params(
        &params(&[
            ("activityId", activity),
            ("agent", agent),
            ("stateId", "s1"),
            ("registration", "ec531277-b57b-4c15-8d91-d292c5b2b8f7"),
        ]),
        DocumentRequest::Put,
        v,
    )
    .unwrap();
    assert_eq!(ok.state_id.as_deref(), Some("s1"));
    fn err<T: std::fmt::Debug>(r: Result<T, domain::xapi::XapiError>) -> (&'static str, String) {
        let e = r.unwrap_err();
        (e.code.as_str(), e.path)
    }
    // XAPI-00210/00209: activityId required.
    assert_eq!(
        err(document::parse_state_params(
            &params(&[("agent", agent), ("stateId", "s")]),
            DocumentRequest::Put,
            v
        )),
        ("missing_parameter", "activityId".into())
    );
    // XAPI-00215: agent required; XAPI-00199: agent must be JSON.
    assert_eq!(
        err(document::parse_state_params(
            &params(&[("activityId", activity), ("stateId", "s")]),
            DocumentRequest::Post,
            v
        )),
        ("missing_parameter", "agent".into())
    );
    assert_eq!(
        err(document::parse_state_params(
            &params(&[
                ("activityId", activity),
                ("agent", "not json"),
                ("stateId", "s")
            ]),
            DocumentRequest::Get,
            v
        )),
        ("invalid_parameter", "agent".into())
    );
    // XAPI-00218: registration must be a UUID.
    assert_eq!(
        err(document::parse_state_params(
            &params(&[
                ("activityId", activity),
                ("agent", agent),
                ("stateId", "s"),
                ("registration", "x")
            ]),
            DocumentRequest::Put,
            v
        )),
        ("invalid_parameter", "registration".into())
    );
    // XAPI-00206/00211: stateId required on PUT and POST, optional on GET and DELETE.
    assert_eq!(
        err(document::parse_state_params(
            &params(&[("activityId", activity), ("agent", agent)]),
            DocumentRequest::Put,
            v
        )),
        ("missing_parameter", "stateId".into())
    );
    assert!(
        document::parse_state_params(
            &params(&[("activityId", activity), ("agent", agent)]),
            DocumentRequest::Delete,
            v
        )
        .is_ok()
    );
    // XAPI-00204: since must be a timestamp, and only on a multi-document GET.
    assert_eq!(
        err(document::parse_state_params(
            &params(&[("activityId", activity), ("agent", agent), ("since", "x")]),
            DocumentRequest::Get,
            v
        )),
        ("invalid_parameter", "since".into())
    );
    assert!(
        document::parse_state_params(
            &params(&[
                ("activityId", activity),
                ("agent", agent),
                ("since", "2024-01-01T00:00:00Z")
            ]),
            DocumentRequest::Get,
            v
        )
        .unwrap()
        .since
        .is_some()
    );
    assert_eq!(
        err(document::parse_state_params(
            &params(&[
                ("activityId", activity),
                ("agent", agent),
                ("stateId", "s"),
                ("since", "2024-01-01T00:00:00Z")
            ]),
            DocumentRequest::Get,
            v
        )),
        ("conflicting_parameters", "since".into())
    );
    // Unknown parameters.
    assert_eq!(
        err(document::parse_state_params(
            &params(&[("activityId", activity), ("agent", agent), ("stateID", "s")]),
            DocumentRequest::Get,
            v
        )),
        ("unknown_parameter", "stateID".into())
    );
    // Agent profile: agent must be an Agent (XAPI-00264 and the group case).
    let group = r#"{"objectType":"Group","mbox":"mailto:g@example.com"}"#;
    assert_eq!(
        err(document::parse_agent_profile_params(
            &params(&[("agent", group), ("profileId", "p")]),
            DocumentRequest::Put,
            v
        )),
        ("invalid_parameter", "agent".into())
    );
    assert_eq!(
        err(document::parse_agent_profile_params(
            &params(&[("agent", agent)]),
            DocumentRequest::Post,
            v
        )),
        ("missing_parameter", "profileId".into())
    );
    assert_eq!(
        err(document::parse_agent_profile_params(
            &params(&[("agent", agent)]),
            DocumentRequest::Delete,
            v
        )),
        ("missing_parameter", "profileId".into())
    );
    assert!(
        document::parse_agent_profile_params(&params(&[("agent", agent)]), DocumentRequest::Get, v)
            .is_ok()
    );
    // Activity profile.
    assert_eq!(
        err(document::parse_activity_profile_params(
            &params(&[("profileId", "p")]),
            DocumentRequest::Put,
            v
        )),
        ("missing_parameter", "activityId".into())
    );
    assert_eq!(
        err(document::parse_activity_profile_params(
            &params(&[("activityId", "not an iri"), ("profileId", "p")]),
            DocumentRequest::Put,
            v
        )),
        ("invalid_parameter", "activityId".into())
    );
    // Agents and activities resources.
    assert_eq!(
        err(document::parse_agents_params(&[], v)),
        ("missing_parameter", "agent".into())
    );
    assert_eq!(
        err(document::parse_agents_params(
            &params(&[("agent", r#"{"name":"x"}"#)]),
            v
        )),
        ("invalid_parameter", "agent".into())
    );
    assert_eq!(
        document::parse_activities_params(&params(&[("activityId", activity)])).unwrap(),
        activity
    );
}

struct AcceptAll;

impl JwsVerifier for AcceptAll {
    fn verify(&self, _: JwsAlgorithm, _: &[u8], _: &[u8], x5c: &[Vec<u8>]) -> Result<(), String> {
        if x5c[0] == b"good" {
            Ok(())
        } else {
            Err("bad certificate".into())
        }
    }
}

fn jws(header: &Value, payload: &[u8]) -> Vec<u8> {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode(b"signature-bytes")
    )
    .into_bytes()
}

#[test]
fn signed_statements() {
    let original = json!({
        "id": "fd41c918-b88b-4b20-a0a5-a4c32391aaa0",
        "actor": {"mbox": "mailto:a@example.com"},
        "verb": {"id": "http://example.com/v"},
        "object": {"id": "http://example.com/o"},
        "result": {"duration": "P1DT12H36M0.12S"}
    });
    let mut received = original.clone();
    received["result"]["duration"] = json!("P1DT12H36M0.1237S");
    received["attachments"] = json!([{
        "usageType": "http://adlnet.gov/expapi/attachments/signature",
        "display": {"en-US": "Signature"},
        "contentType": "application/octet-stream",
        "length": 100,
        "sha2": "dc9589e454ff375dd5dfd6f556d2583e231e8cafe55ef40102ddd988b79f86f0"
    }]);
    assert_eq!(signature_attachments(&received).len(), 1);
    let payload = original.to_string();
    let code = |r: Result<_, domain::xapi::XapiError>| r.map(|_| ()).map_err(|e| e.code);

    // XAPI-00117: RS256/384/512 accepted.
    for alg in ["RS256", "RS384", "RS512"] {
        let checked = check_signature(
            &received,
            0,
            &jws(&json!({"alg": alg}), payload.as_bytes()),
            &AcceptAll,
        )
        .unwrap();
        assert!(!checked.verified_with_x5c);
    }
    // XAPI-00117: another algorithm refused.
    assert_eq!(
        code(check_signature(
            &received,
            0,
            &jws(&json!({"alg": "HS256"}), payload.as_bytes()),
            &AcceptAll
        )),
        Err(ErrorCode::InvalidSignature)
    );
    // XAPI-00116: payload not JSON ("breakJson").
    assert_eq!(
        code(check_signature(
            &received,
            0,
            &jws(&json!({"alg": "RS256"}), b"{\"actor\":"),
            &AcceptAll
        )),
        Err(ErrorCode::InvalidSignature)
    );
    // XAPI-00115: not a JWS.
    assert_eq!(
        code(check_signature(&received, 0, b"not a jws", &AcceptAll)),
        Err(ErrorCode::InvalidSignature)
    );
    // Payload must match the statement.
    let mut other = original.clone();
    other["verb"]["id"] = json!("http://example.com/other");
    let err = check_signature(
        &received,
        0,
        &jws(&json!({"alg": "RS256"}), other.to_string().as_bytes()),
        &AcceptAll,
    )
    .unwrap_err();
    assert!(err.message.contains("$.verb.id"), "{}", err.message);
    // x5c goes to the verifier.
    let good = base64::engine::general_purpose::STANDARD.encode(b"good");
    let bad = base64::engine::general_purpose::STANDARD.encode(b"bad");
    assert!(
        check_signature(
            &received,
            0,
            &jws(&json!({"alg": "RS256", "x5c": [good]}), payload.as_bytes()),
            &AcceptAll
        )
        .unwrap()
        .verified_with_x5c
    );
    assert_eq!(
        code(check_signature(
            &received,
            0,
            &jws(&json!({"alg": "RS256", "x5c": [bad]}), payload.as_bytes()),
            &AcceptAll
        )),
        Err(ErrorCode::InvalidSignature)
    );
    // XAPI-00115: wrong content type.
    received["attachments"][0]["contentType"] = json!("text/plain; charset=ascii");
    assert_eq!(
        code(check_signature(
            &received,
            0,
            &jws(&json!({"alg": "RS256"}), payload.as_bytes()),
            &AcceptAll
        )),
        Err(ErrorCode::InvalidSignature)
    );
}

/// Real RSA signatures (made with `openssl dgst -sign` over a throwaway self-signed
/// certificate) verify with the x5c leaf's key; a tampered signature does not.
#[test]
fn rsa_signatures_verify_against_x5c() {
    use domain::xapi::signature::RsaX5cVerifier;
    let fixture = data("signed_statement.json");
    let mut received = fixture["statement"].clone();
    received["attachments"] = json!([{
        "usageType": "http://adlnet.gov/expapi/attachments/signature",
        "display": {"en-US": "Signature"},
        "contentType": "application/octet-stream",
        "length": 100,
        "sha2": "dc9589e454ff375dd5dfd6f556d2583e231e8cafe55ef40102ddd988b79f86f0"
    }]);
    for (key, alg) in [
        ("jws_rs256", JwsAlgorithm::Rs256),
        ("jws_rs384", JwsAlgorithm::Rs384),
        ("jws_rs512", JwsAlgorithm::Rs512),
    ] {
        let jws = fixture[key].as_str().unwrap();
        let checked = check_signature(&received, 0, jws.as_bytes(), &RsaX5cVerifier).unwrap();
        assert_eq!(checked.algorithm, alg);
        assert!(checked.verified_with_x5c);
        // Flip one character of the signature part.
        let (signed, signature) = jws.rsplit_once('.').unwrap();
        let first = if signature.starts_with('A') { "B" } else { "A" };
        let tampered = format!("{signed}.{first}{}", &signature[1..]);
        let err = check_signature(&received, 0, tampered.as_bytes(), &RsaX5cVerifier).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidSignature);
        assert!(err.message.contains("does not verify"), "{}", err.message);
    }
}
