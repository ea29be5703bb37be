//! Agents and Groups as identities: inverse functional identifiers (IFIs), the keys a store
//! indexes them by, the `agent` request parameter, and the Person object of `GET /agents`.

use std::fmt;

use serde_json::{Map, Value, json};
use sha1::{Digest, Sha1};

use super::error::{ErrorCode, XapiError};
use super::syntax::{self, parse_json_strict};
use super::validate::validate_agent_parameter;
use super::version::XapiVersion;

/// One inverse functional identifier of an Agent or identified Group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ifi {
    /// `mbox`, normalized (lowercase scheme and domain).
    Mbox(String),
    /// `mbox_sha1sum`, lowercase hex.
    MboxSha1sum(String),
    /// `openid`, normalized (lowercase scheme and host).
    Openid(String),
    /// `account`: `homePage` (normalized) and `name` (exact).
    Account {
        /// The account's home page IRL.
        home_page: String,
        /// The account name on that system.
        name: String,
    },
}

impl Ifi {
    /// Reads the IFI of an Agent or Group object, if it has exactly one well-formed IFI.
    pub fn of(actor: &Value) -> Option<Ifi> {
        let map = actor.as_object()?;
        let mut found = Vec::new();
        if let Some(mbox) = map.get("mbox").and_then(Value::as_str) {
            found.push(Ifi::Mbox(syntax::normalize_mbox(mbox)));
        }
        if let Some(sum) = map.get("mbox_sha1sum").and_then(Value::as_str) {
            found.push(Ifi::MboxSha1sum(sum.to_ascii_lowercase()));
        }
        if let Some(openid) = map.get("openid").and_then(Value::as_str) {
            found.push(Ifi::Openid(syntax::normalize_iri(openid)));
        }
        if let Some(account) = map.get("account").and_then(Value::as_object)
            && let (Some(home), Some(name)) = (
                account.get("homePage").and_then(Value::as_str),
                account.get("name").and_then(Value::as_str),
            )
        {
            found.push(Ifi::Account {
                home_page: syntax::normalize_iri(home),
                name: name.to_owned(),
            });
        }
        if found.len() == 1 { found.pop() } else { None }
    }

    /// The string a store indexes this identity by, e.g. `mbox:mailto:ann@example.org` or
    /// `account:https://lms.example.org|ann`. Equal identities give equal keys.
    pub fn key(&self) -> String {
        self.to_string()
    }

    /// The keys a statement naming this identity is indexed under: the IFI's own key and, for
    /// an `mbox`, the key of its SHA-1 (so an `agent` query by `mbox_sha1sum` finds `mbox`
    /// statements, as 1.0.3 Communication §2.1.3 permits).
    pub fn index_keys(&self) -> Vec<String> {
        match self {
            Ifi::Mbox(mbox) => vec![
                self.key(),
                Ifi::MboxSha1sum(hex::encode(Sha1::digest(mbox.as_bytes()))).key(),
            ],
            _ => vec![self.key()],
        }
    }

    /// The IFI as the JSON properties of an Agent (`{"mbox": "mailto:…"}`).
    pub fn to_json(&self) -> Map<String, Value> {
        let mut map = Map::new();
        match self {
            Ifi::Mbox(v) => {
                map.insert("mbox".into(), json!(v));
            }
            Ifi::MboxSha1sum(v) => {
                map.insert("mbox_sha1sum".into(), json!(v));
            }
            Ifi::Openid(v) => {
                map.insert("openid".into(), json!(v));
            }
            Ifi::Account { home_page, name } => {
                map.insert(
                    "account".into(),
                    json!({ "homePage": home_page, "name": name }),
                );
            }
        }
        map
    }
}

impl fmt::Display for Ifi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ifi::Mbox(v) => write!(f, "mbox:{v}"),
            Ifi::MboxSha1sum(v) => write!(f, "mbox_sha1sum:{v}"),
            Ifi::Openid(v) => write!(f, "openid:{v}"),
            Ifi::Account { home_page, name } => write!(f, "account:{home_page}|{name}"),
        }
    }
}

/// An Agent or identified Group taken from a request parameter, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentParam {
    /// The JSON as sent.
    pub value: Value,
    /// Its identifier.
    pub ifi: Ifi,
    /// Whether it is a Group.
    pub is_group: bool,
}

impl AgentParam {
    /// Parses the `agent` parameter (JSON text). `allow_group` is true for statement queries
    /// (identified Groups allowed) and false for State, Agent Profile and Agents resources.
    pub fn parse(
        raw: &str,
        version: XapiVersion,
        parameter: &str,
        allow_group: bool,
    ) -> Result<AgentParam, XapiError> {
        let value = parse_json_strict(raw.as_bytes()).map_err(|e| {
            XapiError::new(
                ErrorCode::InvalidParameter,
                parameter,
                format!("{parameter} is not json: {e}"),
            )
        })?;
        let is_group = value.get("objectType").and_then(Value::as_str) == Some("Group");
        if is_group && !allow_group {
            return Err(XapiError::new(
                ErrorCode::InvalidParameter,
                parameter,
                format!("{parameter} must be an agent, not a group"),
            ));
        }
        validate_agent_parameter(&value, version, parameter, allow_group).map_err(|errors| {
            let first = errors.first().clone();
            XapiError::new(
                ErrorCode::InvalidParameter,
                parameter,
                format!("{parameter} is not a valid agent: {}", first.message),
            )
        })?;
        let ifi = Ifi::of(&value).ok_or_else(|| {
            XapiError::new(
                ErrorCode::InvalidParameter,
                parameter,
                format!("{parameter} must have exactly one ifi"),
            )
        })?;
        Ok(AgentParam {
            value,
            ifi,
            is_group,
        })
    }
}

/// Builds the Person object for `GET /agents`: every name and IFI known for the person,
/// starting with the queried agent's, without duplicates.
///
/// `known` are Agent objects the server associates with the same person (at least the
/// queried one is always included, so the result is never empty).
pub fn person(queried: &Value, known: &[Value]) -> Value {
    let mut names: Vec<Value> = Vec::new();
    let mut mboxes: Vec<Value> = Vec::new();
    let mut sums: Vec<Value> = Vec::new();
    let mut openids: Vec<Value> = Vec::new();
    let mut accounts: Vec<Value> = Vec::new();
    let push = |list: &mut Vec<Value>, v: Value| {
        if !list.contains(&v) {
            list.push(v);
        }
    };
    for agent in std::iter::once(queried).chain(known) {
        let Some(map) = agent.as_object() else {
            continue;
        };
        if let Some(name) = map.get("name").filter(|v| v.is_string()) {
            push(&mut names, name.clone());
        }
        if let Some(v) = map.get("mbox").filter(|v| v.is_string()) {
            push(&mut mboxes, v.clone());
        }
        if let Some(v) = map.get("mbox_sha1sum").filter(|v| v.is_string()) {
            push(&mut sums, v.clone());
        }
        if let Some(v) = map.get("openid").filter(|v| v.is_string()) {
            push(&mut openids, v.clone());
        }
        if let Some(v) = map.get("account").filter(|v| v.is_object()) {
            push(&mut accounts, v.clone());
        }
    }
    let mut out = Map::new();
    out.insert("objectType".into(), json!("Person"));
    for (key, list) in [
        ("name", names),
        ("mbox", mboxes),
        ("mbox_sha1sum", sums),
        ("openid", openids),
        ("account", accounts),
    ] {
        if !list.is_empty() {
            out.insert(key.into(), Value::Array(list));
        }
    }
    Value::Object(out)
}

/// The index keys of an Agent or Group object: its own IFI keys and, for a Group, those of
/// each member (a Group containing the queried Agent matches an `agent` filter).
pub fn actor_keys(actor: &Value) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some(ifi) = Ifi::of(actor) {
        keys.extend(ifi.index_keys());
    }
    if let Some(members) = actor.get("member").and_then(Value::as_array) {
        for member in members {
            if let Some(ifi) = Ifi::of(member) {
                keys.extend(ifi.index_keys());
            }
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ifi_keys() {
        let agent = json!({"mbox": "mailto:Ann@Example.org", "name": "Ann"});
        let ifi = Ifi::of(&agent).unwrap();
        assert_eq!(ifi.key(), "mbox:mailto:Ann@example.org");
        let keys = ifi.index_keys();
        assert_eq!(keys.len(), 2);
        assert!(keys[1].starts_with("mbox_sha1sum:"));
        let account = json!({"account": {"homePage": "HTTP://LMS.example.org", "name": "a1"}});
        assert_eq!(
            Ifi::of(&account).unwrap().key(),
            "account:http://lms.example.org|a1"
        );
        assert_eq!(
            Ifi::of(&json!({"mbox": "mailto:a@b.c", "openid": "http://x.y/"})),
            None
        );
    }

    #[test]
    fn agent_parameter() {
        let v = XapiVersion::V1_0_3;
        let ok =
            AgentParam::parse(r#"{"mbox":"mailto:a@example.org"}"#, v, "agent", false).unwrap();
        assert!(!ok.is_group);
        let group = r#"{"objectType":"Group","mbox":"mailto:g@example.org"}"#;
        assert!(AgentParam::parse(group, v, "agent", true).unwrap().is_group);
        assert!(AgentParam::parse(group, v, "agent", false).is_err());
        let anonymous = r#"{"objectType":"Group","member":[{"mbox":"mailto:a@example.org"}]}"#;
        assert!(AgentParam::parse(anonymous, v, "agent", true).is_err());
        assert!(AgentParam::parse("not json", v, "agent", true).is_err());
        assert!(AgentParam::parse(r#"{"name":"no ifi"}"#, v, "agent", true).is_err());
    }

    #[test]
    fn person_object() {
        let queried = json!({"objectType": "Agent", "mbox": "mailto:a@example.org"});
        let known = [
            json!({"name": "Ann", "mbox": "mailto:a@example.org"}),
            json!({"name": "Ann", "account": {"homePage": "http://lms.example.org", "name": "a1"}}),
        ];
        expect_test::expect![[r#"{"account":[{"homePage":"http://lms.example.org","name":"a1"}],"mbox":["mailto:a@example.org"],"name":["Ann"],"objectType":"Person"}"#]]
            .assert_eq(&person(&queried, &known).to_string());
    }
}
