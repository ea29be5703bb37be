//! Statement validation (xAPI Data §2.2–2.6, §4), per version.
//!
//! Validation walks the JSON as received, so it can see what a typed model would hide:
//! unknown keys, keys of the wrong case, `null`s, repeated structures and wrong JSON types.
//! Every error names a stable [`ErrorCode`] and the JSON path of the offending value.

use serde_json::{Map, Value};

use super::error::{ErrorCode, ValidationErrors, XapiError};
use super::syntax;
use super::version::XapiVersion;

/// The reserved verb of a voiding statement.
pub const VOIDED_VERB: &str = "http://adlnet.gov/expapi/verbs/voided";

/// The `usageType` of a JWS signature attachment.
pub const SIGNATURE_USAGE_TYPE: &str = "http://adlnet.gov/expapi/attachments/signature";

const STATEMENT_KEYS: &[&str] = &[
    "id",
    "actor",
    "verb",
    "object",
    "result",
    "context",
    "timestamp",
    "stored",
    "authority",
    "version",
    "attachments",
];
const SUBSTATEMENT_KEYS: &[&str] = &[
    "objectType",
    "actor",
    "verb",
    "object",
    "result",
    "context",
    "timestamp",
    "attachments",
];
const SUBSTATEMENT_FORBIDDEN: &[&str] = &["id", "stored", "version", "authority"];
const AGENT_KEYS: &[&str] = &[
    "objectType",
    "name",
    "mbox",
    "mbox_sha1sum",
    "openid",
    "account",
];
const GROUP_KEYS: &[&str] = &[
    "objectType",
    "name",
    "mbox",
    "mbox_sha1sum",
    "openid",
    "account",
    "member",
];
const IFI_KEYS: &[&str] = &["mbox", "mbox_sha1sum", "openid", "account"];
const DEFINITION_KEYS: &[&str] = &[
    "name",
    "description",
    "type",
    "moreInfo",
    "extensions",
    "interactionType",
    "correctResponsesPattern",
    "choices",
    "scale",
    "source",
    "target",
    "steps",
];
const COMPONENT_LISTS: &[&str] = &["choices", "scale", "source", "target", "steps"];
const CONTEXT_KEYS_1: &[&str] = &[
    "registration",
    "instructor",
    "team",
    "contextActivities",
    "revision",
    "platform",
    "language",
    "statement",
    "extensions",
];
const CONTEXT_KEYS_2: &[&str] = &[
    "registration",
    "instructor",
    "team",
    "contextActivities",
    "revision",
    "platform",
    "language",
    "statement",
    "extensions",
    "contextAgents",
    "contextGroups",
];

/// The ten interaction types, with the component lists each one may carry.
pub const INTERACTION_TYPES: &[(&str, &[&str])] = &[
    ("true-false", &[]),
    ("choice", &["choices"]),
    ("fill-in", &[]),
    ("long-fill-in", &[]),
    ("matching", &["source", "target"]),
    ("performance", &["steps"]),
    ("sequencing", &["choices"]),
    ("likert", &["scale"]),
    ("numeric", &[]),
    ("other", &[]),
];

/// Validates one statement as received on `PUT`/`POST /statements`.
///
/// `value` is the statement exactly as parsed (use [`syntax::parse_json_strict`] so repeated
/// keys are already refused). On failure every problem found is returned, in document order.
pub fn validate_statement(value: &Value, version: XapiVersion) -> Result<(), ValidationErrors> {
    let mut checker = Checker::new(version);
    checker.statement(value, "$", Level::Top);
    checker.finish()
}

/// Validates an Agent or Group given as a request parameter (`agent=` on statement queries):
/// an Agent, or a Group with an IFI (an anonymous Group cannot be looked up).
pub fn validate_agent_parameter(
    value: &Value,
    version: XapiVersion,
    name: &str,
    allow_group: bool,
) -> Result<(), ValidationErrors> {
    let mut checker = Checker::new(version);
    let path = name.to_owned();
    if let Some(map) = checker.object(value, &path) {
        match map.get("objectType").and_then(Value::as_str) {
            Some("Group") if allow_group => {
                checker.group(map, &path, Role::Plain);
                if ifi_count(map) != 1 {
                    checker.error(
                        ErrorCode::InvalidIfiCount,
                        &path,
                        "the agent parameter must identify a group by exactly one ifi",
                    );
                }
            }
            _ => checker.agent(map, &path),
        }
    }
    checker.finish()
}

/// Checks a language map (used by the server for documents that embed one); exposed for reuse.
pub fn validate_language_map(value: &Value, path: &str) -> Result<(), ValidationErrors> {
    let mut checker = Checker::new(XapiVersion::V1_0_3);
    checker.language_map(value, path);
    checker.finish()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Top,
    Sub,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Plain,
    Authority,
}

fn ifi_count(map: &Map<String, Value>) -> usize {
    IFI_KEYS.iter().filter(|k| map.contains_key(**k)).count()
}

fn child(path: &str, key: &str) -> String {
    let simple = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if simple {
        format!("{path}.{key}")
    } else {
        format!("{path}[{}]", Value::String(key.to_owned()))
    }
}

fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

struct Checker {
    version: XapiVersion,
    errors: Vec<XapiError>,
}

impl Checker {
    fn new(version: XapiVersion) -> Checker {
        Checker {
            version,
            errors: Vec::new(),
        }
    }

    fn finish(self) -> Result<(), ValidationErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors {
                errors: self.errors,
            })
        }
    }

    fn error(&mut self, code: ErrorCode, path: &str, message: impl Into<String>) {
        self.errors.push(XapiError::new(code, path, message));
    }

    fn wrong_type(&mut self, value: &Value, path: &str, expected: &str) {
        if value.is_null() {
            self.error(
                ErrorCode::NullValue,
                path,
                "null is only allowed as an extension value",
            );
        } else {
            self.error(
                ErrorCode::WrongType,
                path,
                format!("expected {expected}, found {}", type_name(value)),
            );
        }
    }

    fn object<'v>(&mut self, value: &'v Value, path: &str) -> Option<&'v Map<String, Value>> {
        match value {
            Value::Object(map) => Some(map),
            other => {
                self.wrong_type(other, path, "an object");
                None
            }
        }
    }

    fn array<'v>(&mut self, value: &'v Value, path: &str) -> Option<&'v Vec<Value>> {
        match value {
            Value::Array(items) => Some(items),
            other => {
                self.wrong_type(other, path, "an array");
                None
            }
        }
    }

    fn string<'v>(&mut self, value: &'v Value, path: &str) -> Option<&'v str> {
        match value {
            Value::String(s) => Some(s),
            other => {
                self.wrong_type(other, path, "a string");
                None
            }
        }
    }

    fn boolean(&mut self, value: &Value, path: &str) {
        if !value.is_boolean() {
            self.wrong_type(value, path, "a boolean");
        }
    }

    fn number(&mut self, value: &Value, path: &str) -> Option<f64> {
        match value {
            Value::Number(n) => n.as_f64(),
            other => {
                self.wrong_type(other, path, "a number");
                None
            }
        }
    }

    fn keys(&mut self, map: &Map<String, Value>, path: &str, allowed: &[&str]) {
        for key in map.keys() {
            if !allowed.contains(&key.as_str()) {
                let hint = allowed
                    .iter()
                    .find(|a| a.eq_ignore_ascii_case(key))
                    .map(|a| format!(" (did you mean {a:?}? keys are case-sensitive)"))
                    .unwrap_or_default();
                self.error(
                    ErrorCode::UnknownProperty,
                    &child(path, key),
                    format!("unknown property {key:?}{hint}"),
                );
            }
        }
    }

    fn required<'v>(
        &mut self,
        map: &'v Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Option<&'v Value> {
        let value = map.get(key);
        if value.is_none() {
            self.error(
                ErrorCode::MissingProperty,
                &child(path, key),
                format!("missing required property {key:?}"),
            );
        }
        value
    }

    fn iri(&mut self, value: &Value, path: &str) {
        if let Some(s) = self.string(value, path)
            && !syntax::is_iri(s)
        {
            self.error(
                ErrorCode::InvalidIri,
                path,
                format!("{s:?} is not an absolute iri"),
            );
        }
    }

    fn irl(&mut self, value: &Value, path: &str) {
        if let Some(s) = self.string(value, path)
            && !syntax::is_irl(s)
        {
            self.error(ErrorCode::InvalidIri, path, format!("{s:?} is not an irl"));
        }
    }

    fn uuid(&mut self, value: &Value, path: &str) {
        if let Some(s) = self.string(value, path)
            && syntax::parse_uuid(s).is_none()
        {
            self.error(
                ErrorCode::InvalidUuid,
                path,
                format!("{s:?} is not a uuid in canonical form"),
            );
        }
    }

    fn timestamp(&mut self, value: &Value, path: &str) {
        if let Some(s) = self.string(value, path)
            && syntax::parse_timestamp(s, self.version).is_none()
        {
            let rule = if self.version.is_2_0() {
                "an rfc 3339 date-time with an offset"
            } else {
                "an iso 8601 date-time"
            };
            self.error(
                ErrorCode::InvalidTimestamp,
                path,
                format!("{s:?} is not {rule} (offsets -00:00, -0000 and -00 are refused)"),
            );
        }
    }

    fn language_map(&mut self, value: &Value, path: &str) {
        let Some(map) = self.object(value, path) else {
            return;
        };
        for (tag, text) in map {
            let entry = child(path, tag);
            if !syntax::is_language_tag(tag) {
                self.error(
                    ErrorCode::InvalidLanguageTag,
                    &entry,
                    format!("{tag:?} is not an rfc 5646 language tag"),
                );
            }
            self.string(text, &entry);
        }
    }

    fn extensions(&mut self, value: &Value, path: &str) {
        let Some(map) = self.object(value, path) else {
            return;
        };
        for key in map.keys() {
            if !syntax::is_iri(key) {
                self.error(
                    ErrorCode::InvalidIri,
                    &child(path, key),
                    format!("extension key {key:?} is not an iri"),
                );
            }
        }
    }

    fn statement(&mut self, value: &Value, path: &str, level: Level) {
        let Some(map) = self.object(value, path) else {
            return;
        };
        match level {
            Level::Top => self.keys(map, path, STATEMENT_KEYS),
            Level::Sub => {
                for key in map.keys() {
                    if SUBSTATEMENT_FORBIDDEN.contains(&key.as_str()) {
                        self.error(
                            ErrorCode::SubStatementPropertyNotAllowed,
                            &child(path, key),
                            format!("a substatement cannot have {key:?}"),
                        );
                    } else if !SUBSTATEMENT_KEYS.contains(&key.as_str()) {
                        self.error(
                            ErrorCode::UnknownProperty,
                            &child(path, key),
                            format!("unknown property {key:?}"),
                        );
                    }
                }
            }
        }
        if let Some(id) = map.get("id")
            && level == Level::Top
        {
            self.uuid(id, &child(path, "id"));
        }
        if let Some(actor) = self.required(map, "actor", path) {
            self.actor(actor, &child(path, "actor"), Role::Plain);
        }
        let verb_id = match self.required(map, "verb", path) {
            Some(verb) => self.verb(verb, &child(path, "verb")),
            None => None,
        };
        let mut object_is_activity = true;
        if let Some(object) = self.required(map, "object", path) {
            let object_path = child(path, "object");
            object_is_activity = self.object_property(object, &object_path, level);
            if level == Level::Top && verb_id.as_deref() == Some(VOIDED_VERB) {
                let is_ref =
                    object.get("objectType").and_then(Value::as_str) == Some("StatementRef");
                if !is_ref {
                    self.error(
                        ErrorCode::InvalidVoidingObject,
                        &object_path,
                        "a voiding statement's object must be a StatementRef",
                    );
                }
            }
        }
        if let Some(result) = map.get("result") {
            self.result(result, &child(path, "result"));
        }
        if let Some(context) = map.get("context") {
            self.context(context, &child(path, "context"), object_is_activity);
        }
        if let Some(timestamp) = map.get("timestamp") {
            self.timestamp(timestamp, &child(path, "timestamp"));
        }
        if level == Level::Top {
            if let Some(stored) = map.get("stored") {
                self.timestamp(stored, &child(path, "stored"));
            }
            if let Some(authority) = map.get("authority") {
                self.actor(authority, &child(path, "authority"), Role::Authority);
            }
            if let Some(version) = map.get("version") {
                let version_path = child(path, "version");
                if let Some(v) = self.string(version, &version_path)
                    && !self.version.accepts_statement_version(v)
                {
                    let accepted = if self.version.is_2_0() {
                        "1.0, 1.0.x, 2.0 or 2.0.x"
                    } else {
                        "1.0 or 1.0.x"
                    };
                    self.error(
                        ErrorCode::InvalidVersion,
                        &version_path,
                        format!("statement version {v:?} is not {accepted}"),
                    );
                }
            }
        }
        if let Some(attachments) = map.get("attachments") {
            self.attachments(attachments, &child(path, "attachments"));
        }
    }

    /// An actor, instructor or authority: an Agent, or a Group when `objectType` says so.
    fn actor(&mut self, value: &Value, path: &str, role: Role) {
        let Some(map) = self.object(value, path) else {
            return;
        };
        match map.get("objectType") {
            None => self.agent(map, path),
            Some(Value::String(t)) if t == "Agent" => self.agent(map, path),
            Some(Value::String(t)) if t == "Group" => self.group(map, path, role),
            Some(other) => {
                self.bad_object_type(other, &child(path, "objectType"), "Agent or Group")
            }
        }
    }

    fn bad_object_type(&mut self, value: &Value, path: &str, expected: &str) {
        if let Some(s) = self.string(value, path) {
            self.error(
                ErrorCode::InvalidObjectType,
                path,
                format!("objectType {s:?} is not {expected}"),
            );
        }
    }

    fn agent(&mut self, map: &Map<String, Value>, path: &str) {
        self.keys(map, path, AGENT_KEYS);
        if let Some(name) = map.get("name") {
            self.string(name, &child(path, "name"));
        }
        let count = ifi_count(map);
        if count != 1 {
            self.error(
                ErrorCode::InvalidIfiCount,
                path,
                format!(
                    "an agent needs exactly one of mbox, mbox_sha1sum, openid or account; found {count}"
                ),
            );
        }
        self.ifis(map, path);
    }

    fn group(&mut self, map: &Map<String, Value>, path: &str, role: Role) {
        self.keys(map, path, GROUP_KEYS);
        if let Some(name) = map.get("name") {
            self.string(name, &child(path, "name"));
        }
        let count = ifi_count(map);
        if count > 1 {
            self.error(
                ErrorCode::InvalidIfiCount,
                path,
                format!("a group has at most one of mbox, mbox_sha1sum, openid or account; found {count}"),
            );
        }
        self.ifis(map, path);
        let member_path = child(path, "member");
        let members = match map.get("member") {
            Some(member) => self.array(member, &member_path),
            None => None,
        };
        if let Some(members) = members {
            for (i, member) in members.iter().enumerate() {
                let item = index(&member_path, i);
                let Some(member_map) = self.object(member, &item) else {
                    continue;
                };
                match member_map.get("objectType") {
                    None => self.agent(member_map, &item),
                    Some(Value::String(t)) if t == "Agent" => self.agent(member_map, &item),
                    Some(Value::String(t)) if t == "Group" => self.error(
                        ErrorCode::GroupMemberNotAgent,
                        &child(&item, "objectType"),
                        "a group member must be an agent, not a group",
                    ),
                    Some(other) => {
                        self.bad_object_type(other, &child(&item, "objectType"), "Agent")
                    }
                }
            }
        }
        let member_count = members.map(Vec::len);
        if count == 0
            && member_count.unwrap_or(0) == 0
            && map.get("member").is_none_or(Value::is_array)
        {
            self.error(
                ErrorCode::AnonymousGroupWithoutMembers,
                &member_path,
                "an anonymous group must list its members",
            );
        }
        if role == Role::Authority && (count != 0 || member_count != Some(2)) {
            self.error(
                ErrorCode::InvalidAuthorityGroup,
                path,
                "a group authority must be an anonymous group of exactly two agents (oauth consumer and user)",
            );
        }
    }

    fn ifis(&mut self, map: &Map<String, Value>, path: &str) {
        if let Some(mbox) = map.get("mbox") {
            let p = child(path, "mbox");
            if let Some(s) = self.string(mbox, &p)
                && !syntax::is_mbox(s)
            {
                self.error(
                    ErrorCode::InvalidMbox,
                    &p,
                    format!("{s:?} is not a mailto: iri with an email address"),
                );
            }
        }
        if let Some(sum) = map.get("mbox_sha1sum") {
            let p = child(path, "mbox_sha1sum");
            if let Some(s) = self.string(sum, &p)
                && !syntax::is_sha1_hex(s)
            {
                self.error(
                    ErrorCode::InvalidSha1sum,
                    &p,
                    format!("{s:?} is not a hex sha-1 digest"),
                );
            }
        }
        if let Some(openid) = map.get("openid") {
            self.iri(openid, &child(path, "openid"));
        }
        if let Some(account) = map.get("account") {
            let p = child(path, "account");
            if let Some(account) = self.object(account, &p) {
                self.keys(account, &p, &["homePage", "name"]);
                if let Some(home) = self.required(account, "homePage", &p) {
                    self.irl(home, &child(&p, "homePage"));
                }
                if let Some(name) = self.required(account, "name", &p) {
                    self.string(name, &child(&p, "name"));
                }
            }
        }
    }

    /// Returns the verb id when it is a string.
    fn verb(&mut self, value: &Value, path: &str) -> Option<String> {
        let map = self.object(value, path)?;
        self.keys(map, path, &["id", "display"]);
        if let Some(display) = map.get("display") {
            self.language_map(display, &child(path, "display"));
        }
        let id = self.required(map, "id", path)?;
        self.iri(id, &child(path, "id"));
        id.as_str().map(str::to_owned)
    }

    /// Validates a statement's `object`; returns whether it is an Activity.
    fn object_property(&mut self, value: &Value, path: &str, level: Level) -> bool {
        let Some(map) = self.object(value, path) else {
            return false;
        };
        match map.get("objectType") {
            None => {
                self.activity(map, path);
                true
            }
            Some(Value::String(t)) => match t.as_str() {
                "Activity" => {
                    self.activity(map, path);
                    true
                }
                "Agent" => {
                    self.agent(map, path);
                    false
                }
                "Group" => {
                    self.group(map, path, Role::Plain);
                    false
                }
                "StatementRef" => {
                    self.statement_ref(map, path);
                    false
                }
                "SubStatement" => {
                    if level == Level::Sub {
                        self.error(
                            ErrorCode::NestedSubStatement,
                            path,
                            "a substatement cannot contain another substatement",
                        );
                    } else {
                        self.statement(value, path, Level::Sub);
                    }
                    false
                }
                _ => {
                    self.bad_object_type(
                        &Value::String(t.clone()),
                        &child(path, "objectType"),
                        "Activity, Agent, Group, StatementRef or SubStatement",
                    );
                    false
                }
            },
            Some(other) => {
                self.wrong_type(other, &child(path, "objectType"), "a string");
                false
            }
        }
    }

    fn statement_ref(&mut self, map: &Map<String, Value>, path: &str) {
        self.keys(map, path, &["objectType", "id"]);
        match map.get("objectType") {
            Some(Value::String(t)) if t == "StatementRef" => {}
            Some(other) => self.bad_object_type(other, &child(path, "objectType"), "StatementRef"),
            None => self.error(
                ErrorCode::MissingProperty,
                &child(path, "objectType"),
                "a statement reference needs objectType \"StatementRef\"",
            ),
        }
        if let Some(id) = self.required(map, "id", path) {
            self.uuid(id, &child(path, "id"));
        }
    }

    fn activity(&mut self, map: &Map<String, Value>, path: &str) {
        self.keys(map, path, &["objectType", "id", "definition"]);
        if let Some(id) = self.required(map, "id", path) {
            self.iri(id, &child(path, "id"));
        }
        if let Some(definition) = map.get("definition") {
            self.definition(definition, &child(path, "definition"));
        }
    }

    fn definition(&mut self, value: &Value, path: &str) {
        let Some(map) = self.object(value, path) else {
            return;
        };
        self.keys(map, path, DEFINITION_KEYS);
        for key in ["name", "description"] {
            if let Some(v) = map.get(key) {
                self.language_map(v, &child(path, key));
            }
        }
        if let Some(t) = map.get("type") {
            self.iri(t, &child(path, "type"));
        }
        if let Some(more) = map.get("moreInfo") {
            self.irl(more, &child(path, "moreInfo"));
        }
        if let Some(ext) = map.get("extensions") {
            self.extensions(ext, &child(path, "extensions"));
        }
        let mut allowed_lists: Option<&[&str]> = None;
        if let Some(interaction) = map.get("interactionType") {
            let p = child(path, "interactionType");
            if let Some(s) = self.string(interaction, &p) {
                match INTERACTION_TYPES.iter().find(|(name, _)| *name == s) {
                    Some((_, lists)) => allowed_lists = Some(lists),
                    None => self.error(
                        ErrorCode::InvalidInteractionType,
                        &p,
                        format!("{s:?} is not an interaction type (they are case-sensitive)"),
                    ),
                }
            }
        }
        if let Some(pattern) = map.get("correctResponsesPattern") {
            let p = child(path, "correctResponsesPattern");
            if !map.contains_key("interactionType") {
                // Data §2.4.4.1.s8: interaction properties come with an interactionType.
                self.error(
                    ErrorCode::MissingProperty,
                    &child(path, "interactionType"),
                    "correctResponsesPattern needs an interactionType",
                );
            }
            if let Some(items) = self.array(pattern, &p) {
                for (i, item) in items.iter().enumerate() {
                    self.string(item, &index(&p, i));
                }
            }
        }
        for list in COMPONENT_LISTS {
            let Some(components) = map.get(*list) else {
                continue;
            };
            let p = child(path, list);
            match allowed_lists {
                Some(lists) if lists.contains(list) => {}
                Some(_) => self.error(
                    ErrorCode::InteractionComponentNotAllowed,
                    &p,
                    format!(
                        "interaction type {:?} does not use {list:?}",
                        map.get("interactionType")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                    ),
                ),
                None if map.contains_key("interactionType") => {}
                None => self.error(
                    ErrorCode::InteractionComponentNotAllowed,
                    &p,
                    format!("{list:?} needs an interactionType"),
                ),
            }
            self.components(components, &p);
        }
    }

    fn components(&mut self, value: &Value, path: &str) {
        let Some(items) = self.array(value, path) else {
            return;
        };
        let mut seen: Vec<&str> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let p = index(path, i);
            let Some(map) = self.object(item, &p) else {
                continue;
            };
            self.keys(map, &p, &["id", "description"]);
            if let Some(id) = self.required(map, "id", &p)
                && let Some(id) = self.string(id, &child(&p, "id"))
            {
                if seen.contains(&id) {
                    self.error(
                        ErrorCode::DuplicateComponentId,
                        &child(&p, "id"),
                        format!("component id {id:?} is used twice in this list"),
                    );
                }
                seen.push(id);
            }
            if let Some(description) = map.get("description") {
                self.language_map(description, &child(&p, "description"));
            }
        }
    }

    fn result(&mut self, value: &Value, path: &str) {
        let Some(map) = self.object(value, path) else {
            return;
        };
        self.keys(
            map,
            path,
            &[
                "score",
                "success",
                "completion",
                "response",
                "duration",
                "extensions",
            ],
        );
        if let Some(score) = map.get("score") {
            self.score(score, &child(path, "score"));
        }
        for key in ["success", "completion"] {
            if let Some(v) = map.get(key) {
                self.boolean(v, &child(path, key));
            }
        }
        if let Some(response) = map.get("response") {
            self.string(response, &child(path, "response"));
        }
        if let Some(duration) = map.get("duration") {
            let p = child(path, "duration");
            if let Some(s) = self.string(duration, &p)
                && !syntax::is_duration(s)
            {
                self.error(
                    ErrorCode::InvalidDuration,
                    &p,
                    format!("{s:?} is not an iso 8601 duration"),
                );
            }
        }
        if let Some(ext) = map.get("extensions") {
            self.extensions(ext, &child(path, "extensions"));
        }
    }

    fn score(&mut self, value: &Value, path: &str) {
        let Some(map) = self.object(value, path) else {
            return;
        };
        self.keys(map, path, &["scaled", "raw", "min", "max"]);
        let read = |key: &str, this: &mut Checker| {
            map.get(key).and_then(|v| this.number(v, &child(path, key)))
        };
        let scaled = read("scaled", self);
        let raw = read("raw", self);
        let min = read("min", self);
        let max = read("max", self);
        if let Some(scaled) = scaled
            && !(-1.0..=1.0).contains(&scaled)
        {
            self.error(
                ErrorCode::ScoreOutOfRange,
                &child(path, "scaled"),
                format!("scaled score {scaled} is outside -1..1"),
            );
        }
        if let (Some(min), Some(max)) = (min, max)
            && min >= max
        {
            self.error(
                ErrorCode::ScoreOutOfRange,
                &child(path, "max"),
                format!("max {max} must be greater than min {min}"),
            );
        }
        if let Some(raw) = raw {
            if let Some(min) = min
                && raw < min
            {
                self.error(
                    ErrorCode::ScoreOutOfRange,
                    &child(path, "raw"),
                    format!("raw score {raw} is below min {min}"),
                );
            }
            if let Some(max) = max
                && raw > max
            {
                self.error(
                    ErrorCode::ScoreOutOfRange,
                    &child(path, "raw"),
                    format!("raw score {raw} is above max {max}"),
                );
            }
        }
    }

    fn context(&mut self, value: &Value, path: &str, object_is_activity: bool) {
        let Some(map) = self.object(value, path) else {
            return;
        };
        let allowed = if self.version.has_context_agents() {
            CONTEXT_KEYS_2
        } else {
            CONTEXT_KEYS_1
        };
        self.keys(map, path, allowed);
        if let Some(registration) = map.get("registration") {
            self.uuid(registration, &child(path, "registration"));
        }
        if let Some(instructor) = map.get("instructor") {
            self.actor(instructor, &child(path, "instructor"), Role::Plain);
        }
        if let Some(team) = map.get("team") {
            let p = child(path, "team");
            if let Some(team_map) = self.object(team, &p) {
                match team_map.get("objectType") {
                    Some(Value::String(t)) if t == "Group" => self.group(team_map, &p, Role::Plain),
                    Some(other) => self.bad_object_type(other, &child(&p, "objectType"), "Group"),
                    None => self.error(
                        ErrorCode::MissingProperty,
                        &child(&p, "objectType"),
                        "context team must be a group with objectType \"Group\"",
                    ),
                }
            }
        }
        if let Some(activities) = map.get("contextActivities") {
            self.context_activities(activities, &child(path, "contextActivities"));
        }
        for key in ["revision", "platform"] {
            if let Some(v) = map.get(key) {
                let p = child(path, key);
                self.string(v, &p);
                if !object_is_activity {
                    self.error(
                        ErrorCode::PropertyNotAllowed,
                        &p,
                        format!("context {key:?} is only allowed when the object is an activity"),
                    );
                }
            }
        }
        if let Some(language) = map.get("language") {
            let p = child(path, "language");
            if let Some(tag) = self.string(language, &p)
                && !syntax::is_language_tag(tag)
            {
                self.error(
                    ErrorCode::InvalidLanguageTag,
                    &p,
                    format!("{tag:?} is not an rfc 5646 language tag"),
                );
            }
        }
        if let Some(statement) = map.get("statement") {
            let p = child(path, "statement");
            if let Some(reference) = self.object(statement, &p) {
                self.statement_ref(reference, &p);
            }
        }
        if let Some(ext) = map.get("extensions") {
            self.extensions(ext, &child(path, "extensions"));
        }
        if self.version.has_context_agents() {
            if let Some(agents) = map.get("contextAgents") {
                self.context_actors(
                    agents,
                    &child(path, "contextAgents"),
                    "contextAgent",
                    "agent",
                );
            }
            if let Some(groups) = map.get("contextGroups") {
                self.context_actors(
                    groups,
                    &child(path, "contextGroups"),
                    "contextGroup",
                    "group",
                );
            }
        }
    }

    fn context_activities(&mut self, value: &Value, path: &str) {
        let Some(map) = self.object(value, path) else {
            return;
        };
        self.keys(map, path, &["parent", "grouping", "category", "other"]);
        for (key, entry) in map {
            let p = child(path, key);
            match entry {
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.context_activity(item, &index(&p, i));
                    }
                }
                Value::Object(_) => self.context_activity(entry, &p),
                other => self.wrong_type(other, &p, "an activity or an array of activities"),
            }
        }
    }

    fn context_activity(&mut self, value: &Value, path: &str) {
        let Some(map) = self.object(value, path) else {
            return;
        };
        match map.get("objectType") {
            None => self.activity(map, path),
            Some(Value::String(t)) if t == "Activity" => self.activity(map, path),
            Some(other) => self.bad_object_type(other, &child(path, "objectType"), "Activity"),
        }
    }

    fn context_actors(&mut self, value: &Value, path: &str, object_type: &str, member: &str) {
        let Some(items) = self.array(value, path) else {
            return;
        };
        for (i, item) in items.iter().enumerate() {
            let p = index(path, i);
            let Some(map) = self.object(item, &p) else {
                continue;
            };
            self.keys(map, &p, &["objectType", member, "relevantTypes"]);
            match self.required(map, "objectType", &p) {
                Some(Value::String(t)) if t == object_type => {}
                Some(other) => self.bad_object_type(other, &child(&p, "objectType"), object_type),
                None => {}
            }
            if let Some(actor) = self.required(map, member, &p) {
                let actor_path = child(&p, member);
                if let Some(actor_map) = self.object(actor, &actor_path) {
                    let object_type = actor_map.get("objectType");
                    if member == "agent" {
                        match object_type {
                            None => self.agent(actor_map, &actor_path),
                            Some(Value::String(t)) if t == "Agent" => {
                                self.agent(actor_map, &actor_path)
                            }
                            Some(other) => self.bad_object_type(
                                other,
                                &child(&actor_path, "objectType"),
                                "Agent",
                            ),
                        }
                    } else {
                        match object_type {
                            Some(Value::String(t)) if t == "Group" => {
                                self.group(actor_map, &actor_path, Role::Plain)
                            }
                            Some(other) => self.bad_object_type(
                                other,
                                &child(&actor_path, "objectType"),
                                "Group",
                            ),
                            None => self.error(
                                ErrorCode::MissingProperty,
                                &child(&actor_path, "objectType"),
                                "a context group must have objectType \"Group\"",
                            ),
                        }
                    }
                }
            }
            if let Some(types) = map.get("relevantTypes") {
                let tp = child(&p, "relevantTypes");
                if let Some(list) = self.array(types, &tp) {
                    if list.is_empty() {
                        self.error(
                            ErrorCode::EmptyArray,
                            &tp,
                            "relevantTypes must not be empty when present",
                        );
                    }
                    for (j, t) in list.iter().enumerate() {
                        self.iri(t, &index(&tp, j));
                    }
                }
            }
        }
    }

    fn attachments(&mut self, value: &Value, path: &str) {
        let Some(items) = self.array(value, path) else {
            return;
        };
        for (i, item) in items.iter().enumerate() {
            let p = index(path, i);
            let Some(map) = self.object(item, &p) else {
                continue;
            };
            self.keys(
                map,
                &p,
                &[
                    "usageType",
                    "display",
                    "description",
                    "contentType",
                    "length",
                    "sha2",
                    "fileUrl",
                ],
            );
            if let Some(usage) = self.required(map, "usageType", &p) {
                self.iri(usage, &child(&p, "usageType"));
            }
            if let Some(display) = self.required(map, "display", &p) {
                self.language_map(display, &child(&p, "display"));
            }
            if let Some(description) = map.get("description") {
                self.language_map(description, &child(&p, "description"));
            }
            if let Some(content_type) = self.required(map, "contentType", &p) {
                let cp = child(&p, "contentType");
                if let Some(s) = self.string(content_type, &cp)
                    && !syntax::is_media_type(s)
                {
                    self.error(
                        ErrorCode::InvalidContentType,
                        &cp,
                        format!("{s:?} is not an internet media type"),
                    );
                }
            }
            if let Some(length) = self.required(map, "length", &p) {
                let lp = child(&p, "length");
                if let Some(n) = self.number(length, &lp)
                    && length.as_u64().is_none()
                {
                    self.error(
                        ErrorCode::InvalidLength,
                        &lp,
                        format!("length {n} is not a non-negative integer"),
                    );
                }
            }
            if let Some(sha2) = self.required(map, "sha2", &p) {
                let sp = child(&p, "sha2");
                if let Some(s) = self.string(sha2, &sp)
                    && !syntax::is_sha2_hex(s)
                {
                    self.error(
                        ErrorCode::InvalidSha2,
                        &sp,
                        format!("{s:?} is not a hex sha-2 digest"),
                    );
                }
            }
            if let Some(url) = map.get("fileUrl") {
                self.irl(url, &child(&p, "fileUrl"));
            }
        }
    }
}
