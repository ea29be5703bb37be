//! What the LRS does to a valid statement before storing it, and the facts a store indexes.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::agent::actor_keys;
use super::error::{ErrorCode, ValidationErrors, XapiError};
use super::syntax::{self, format_utc};
use super::validate::{VOIDED_VERB, validate_statement};
use super::version::XapiVersion;

/// Everything the LRS decides for itself when it accepts statements; the server fills it
/// from the request, its clock and its credential store.
#[derive(Debug, Clone, PartialEq)]
pub struct PrepareContext {
    /// The request's `X-Experience-API-Version`.
    pub version: XapiVersion,
    /// The `stored` time of this request (one value for a whole batch).
    pub stored: DateTime<Utc>,
    /// The authority to write: the Agent (or 2-member OAuth Group) of the credential. `None`
    /// keeps the statement's own `authority` (only for a trusted import credential).
    pub authority: Option<Value>,
}

/// A statement ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedStatement {
    /// The statement id (given or assigned).
    pub id: Uuid,
    /// The statement as stored and returned by `format=exact`: `id`, `stored`, `authority`,
    /// `version` and `timestamp` set, `contextActivities` values as arrays.
    pub statement: Value,
    /// The statement exactly as received, kept for comparisons (immutability, signatures).
    pub received: Value,
    /// The facts a projection indexes it by.
    pub index: StatementIndex,
}

/// Validates and prepares one statement from `PUT /statements?statementId=…`.
///
/// `statement_id` is the (already parsed) `statementId` parameter; a statement that carries
/// another `id` is refused.
pub fn prepare_put(
    received: Value,
    statement_id: Uuid,
    context: &PrepareContext,
) -> Result<PreparedStatement, ValidationErrors> {
    validate_statement(&received, context.version)?;
    if let Some(id) = received.get("id").and_then(Value::as_str)
        && syntax::parse_uuid(id) != Some(statement_id)
    {
        return Err(XapiError::new(
            ErrorCode::ConflictingParameters,
            "$.id",
            format!("statement id {id:?} differs from the statementId parameter {statement_id}"),
        )
        .into());
    }
    Ok(prepare_valid(received, statement_id, context))
}

/// Validates and prepares the body of `POST /statements`: one statement or an array of them.
///
/// `new_id` is called once for each statement without an `id`. The batch is all-or-nothing:
/// any error refuses the whole body (paths are then prefixed with the statement's index, as in
/// `$[2].actor.mbox`), and so do two statements with the same id.
pub fn prepare_post(
    body: Value,
    context: &PrepareContext,
    mut new_id: impl FnMut() -> Uuid,
) -> Result<Vec<PreparedStatement>, ValidationErrors> {
    let (items, batch) = match body {
        Value::Array(items) => (items, true),
        other => (vec![other], false),
    };
    let mut errors = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if let Err(found) = validate_statement(item, context.version) {
            errors.extend(found.errors.into_iter().map(|mut e| {
                if batch {
                    e.path = format!("$[{i}]{}", &e.path[1..]);
                }
                e
            }));
        }
    }
    if !errors.is_empty() {
        return Err(ValidationErrors { errors });
    }
    let mut prepared: Vec<PreparedStatement> = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let id = match item
            .get("id")
            .and_then(Value::as_str)
            .and_then(syntax::parse_uuid)
        {
            Some(id) => id,
            None => new_id(),
        };
        if prepared.iter().any(|p| p.id == id) {
            return Err(XapiError::new(
                ErrorCode::DuplicateStatementId,
                format!("$[{i}].id"),
                format!("statement id {id} is used more than once in this batch"),
            )
            .into());
        }
        prepared.push(prepare_valid(item, id, context));
    }
    Ok(prepared)
}

fn prepare_valid(received: Value, id: Uuid, context: &PrepareContext) -> PreparedStatement {
    let mut statement = received.clone();
    let stored = format_utc(context.stored);
    if let Value::Object(map) = &mut statement {
        map.insert("id".into(), json!(id.to_string()));
        map.insert("stored".into(), json!(stored));
        if !map.contains_key("timestamp") {
            map.insert("timestamp".into(), json!(stored));
        }
        if !map.contains_key("version") {
            map.insert(
                "version".into(),
                json!(context.version.default_statement_version()),
            );
        }
        if let Some(authority) = &context.authority {
            map.insert("authority".into(), authority.clone());
        }
    }
    normalize_context_activities(&mut statement);
    let index = StatementIndex::of(&statement);
    PreparedStatement {
        id,
        statement,
        received,
        index,
    }
}

/// Turns every `contextActivities` value given as a single Activity into an array of one, in
/// the statement and in a SubStatement object (the LRS always returns arrays).
pub fn normalize_context_activities(statement: &mut Value) {
    fn normalize_context(statement: &mut Value) {
        if let Some(Value::Object(activities)) = statement
            .get_mut("context")
            .and_then(|c| c.get_mut("contextActivities"))
        {
            for value in activities.values_mut() {
                if value.is_object() {
                    *value = Value::Array(vec![value.take()]);
                }
            }
        }
    }
    normalize_context(statement);
    if let Some(object) = statement.get_mut("object")
        && object.get("objectType").and_then(Value::as_str) == Some("SubStatement")
    {
        normalize_context(object);
    }
}

/// The facts about a stored statement that a projection indexes to answer queries.
///
/// Agent keys are [`Ifi::index_keys`](super::agent::Ifi::index_keys) strings; activity keys
/// are activity ids normalized with [`syntax::normalize_iri`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatementIndex {
    /// The verb id.
    pub verb: String,
    /// `context.registration`, lowercased.
    pub registration: Option<Uuid>,
    /// Keys of the actor and of an Agent/Group object (the plain `agent` filter).
    pub agents: Vec<String>,
    /// `agents` plus authority, instructor, team, 2.0 context agents/groups, and the same
    /// places inside a SubStatement (the `related_agents=true` filter).
    pub related_agents: Vec<String>,
    /// The object's id when it is an Activity (the plain `activity` filter).
    pub activities: Vec<String>,
    /// `activities` plus every context activity, and the same inside a SubStatement (the
    /// `related_activities=true` filter).
    pub related_activities: Vec<String>,
    /// The id this statement voids, when it is a voiding statement.
    pub voids: Option<Uuid>,
    /// The id of the StatementRef object (voiding or not): queries that match this statement's
    /// target also return it (Communication §2.1.3 "Filter Conditions for StatementRefs").
    pub references: Option<Uuid>,
}

impl StatementIndex {
    /// Computes the index facts of a valid statement.
    pub fn of(statement: &Value) -> StatementIndex {
        let mut index = StatementIndex {
            verb: statement
                .pointer("/verb/id")
                .and_then(Value::as_str)
                .map(syntax::normalize_iri)
                .unwrap_or_default(),
            registration: statement
                .pointer("/context/registration")
                .and_then(Value::as_str)
                .and_then(syntax::parse_uuid),
            ..StatementIndex::default()
        };
        if let Some(actor) = statement.get("actor") {
            index.agents.extend(actor_keys(actor));
        }
        let object = statement.get("object");
        let object_type = object
            .and_then(|o| o.get("objectType"))
            .and_then(Value::as_str)
            .unwrap_or("Activity");
        match (object, object_type) {
            (Some(o), "Agent" | "Group") => index.agents.extend(actor_keys(o)),
            (Some(o), "Activity") => {
                if let Some(id) = o.get("id").and_then(Value::as_str) {
                    index.activities.push(syntax::normalize_iri(id));
                }
            }
            (Some(o), "StatementRef") => {
                index.references = o
                    .get("id")
                    .and_then(Value::as_str)
                    .and_then(syntax::parse_uuid);
                if index.verb == VOIDED_VERB {
                    index.voids = index.references;
                }
            }
            _ => {}
        }
        index.related_agents = index.agents.clone();
        index.related_activities = index.activities.clone();
        related(statement, &mut index, true);
        if let Some(sub) = object.filter(|_| object_type == "SubStatement") {
            if let Some(actor) = sub.get("actor") {
                index.related_agents.extend(actor_keys(actor));
            }
            if let Some(o) = sub.get("object") {
                match o
                    .get("objectType")
                    .and_then(Value::as_str)
                    .unwrap_or("Activity")
                {
                    "Agent" | "Group" => index.related_agents.extend(actor_keys(o)),
                    "Activity" => {
                        if let Some(id) = o.get("id").and_then(Value::as_str) {
                            index.related_activities.push(syntax::normalize_iri(id));
                        }
                    }
                    _ => {}
                }
            }
            related(sub, &mut index, false);
        }
        for list in [
            &mut index.agents,
            &mut index.related_agents,
            &mut index.activities,
            &mut index.related_activities,
        ] {
            list.sort();
            list.dedup();
        }
        index
    }
}

fn related(statement: &Value, index: &mut StatementIndex, with_authority: bool) {
    if with_authority && let Some(authority) = statement.get("authority") {
        index.related_agents.extend(actor_keys(authority));
    }
    let Some(context) = statement.get("context") else {
        return;
    };
    for key in ["instructor", "team"] {
        if let Some(actor) = context.get(key) {
            index.related_agents.extend(actor_keys(actor));
        }
    }
    for (list, member) in [("contextAgents", "agent"), ("contextGroups", "group")] {
        for entry in context
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(actor) = entry.get(member) {
                index.related_agents.extend(actor_keys(actor));
            }
        }
    }
    if let Some(Value::Object(activities)) = context.get("contextActivities") {
        for value in activities.values() {
            let items: Vec<&Value> = match value {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            for item in items {
                if let Some(id) = item.get("id").and_then(Value::as_str) {
                    index.related_activities.push(syntax::normalize_iri(id));
                }
            }
        }
    }
}

/// What a voiding statement does to its target, decided from what the store knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoidingDecision {
    /// The target exists and is not a voiding statement: mark it voided.
    Void(Uuid),
    /// The target is unknown (yet): store the voiding statement anyway (the spec forbids
    /// rejecting it); the target counts as voided if it arrives later.
    TargetUnknown(Uuid),
}

/// Facts about a voiding statement's target, looked up by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoidTarget {
    /// No statement with that id is stored.
    Unknown,
    /// A statement that is not itself a voiding statement.
    Ordinary,
    /// A voiding statement (cannot be voided).
    Voiding,
}

/// Decides what a statement with index `index` does as a voiding statement, or `None` when it
/// is not one. Voiding a voiding statement is refused (400, `invalid_voiding_object`), as the
/// spec allows; voiding an already voided statement is accepted and changes nothing.
pub fn voiding_decision(
    index: &StatementIndex,
    target: VoidTarget,
) -> Option<Result<VoidingDecision, XapiError>> {
    let id = index.voids?;
    Some(match target {
        VoidTarget::Unknown => Ok(VoidingDecision::TargetUnknown(id)),
        VoidTarget::Ordinary => Ok(VoidingDecision::Void(id)),
        VoidTarget::Voiding => Err(XapiError::new(
            ErrorCode::InvalidVoidingObject,
            "$.object.id",
            format!("statement {id} is a voiding statement and cannot be voided"),
        )),
    })
}

/// The JSON of an Agent for use as `authority`, e.g. for a Basic-auth credential's owner.
pub fn authority_agent(name: &str, home_page: &str, account_name: &str) -> Value {
    let mut map = Map::new();
    map.insert("objectType".into(), json!("Agent"));
    map.insert("name".into(), json!(name));
    map.insert(
        "account".into(),
        json!({ "homePage": home_page, "name": account_name }),
    );
    Value::Object(map)
}
