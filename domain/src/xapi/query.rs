//! `GET /statements` parameters (Communication §2.1.3) parsed into a typed request, and the
//! filter a store applies to each statement's [`StatementIndex`].

use serde_json::Value;
use uuid::Uuid;

use super::agent::AgentParam;
use super::error::{ErrorCode, XapiError};
use super::render::Format;
use super::statement::StatementIndex;
use super::syntax::{self, Timestamp};
use super::version::XapiVersion;

const QUERY_PARAMETERS: &[&str] = &[
    "statementId",
    "voidedStatementId",
    "agent",
    "verb",
    "activity",
    "registration",
    "related_activities",
    "related_agents",
    "since",
    "until",
    "limit",
    "format",
    "attachments",
    "ascending",
];

/// A parsed `GET /statements` request.
#[derive(Debug, Clone, PartialEq)]
pub enum StatementsGet {
    /// `statementId` or `voidedStatementId`: one statement or 404.
    Single {
        /// The requested id.
        id: Uuid,
        /// True for `voidedStatementId` (only a voided statement answers), false for
        /// `statementId` (a voided statement answers 404).
        voided: bool,
        /// The rendering.
        format: Format,
        /// Whether to answer multipart with the attachments.
        attachments: bool,
    },
    /// A filtered query answering a StatementResult.
    Query(StatementQuery),
}

/// The filters and options of a statement query.
#[derive(Debug, Clone, PartialEq)]
pub struct StatementQuery {
    /// `agent`: an Agent or identified Group.
    pub agent: Option<AgentParam>,
    /// `verb`, normalized for matching.
    pub verb: Option<String>,
    /// `activity`, normalized for matching.
    pub activity: Option<String>,
    /// `registration`.
    pub registration: Option<Uuid>,
    /// `related_activities`.
    pub related_activities: bool,
    /// `related_agents`.
    pub related_agents: bool,
    /// `since` (exclusive, on `stored`).
    pub since: Option<Timestamp>,
    /// `until` (inclusive, on `stored`).
    pub until: Option<Timestamp>,
    /// `limit`; 0 means the server's maximum.
    pub limit: u32,
    /// `format`.
    pub format: Format,
    /// `attachments`.
    pub attachments: bool,
    /// `ascending` (default newest first).
    pub ascending: bool,
}

impl StatementQuery {
    /// The page size to use given the server's maximum.
    pub fn effective_limit(&self, server_max: u32) -> u32 {
        if self.limit == 0 {
            server_max
        } else {
            self.limit.min(server_max)
        }
    }

    /// Whether a statement with these index facts satisfies the non-time filters.
    ///
    /// A statement whose object is a StatementRef also matches when its target does
    /// (Communication §2.1.3, "Filter Conditions for StatementRefs"); pass the target's index
    /// (resolved by the store, following chains) as `target`.
    pub fn matches(&self, index: &StatementIndex, target: Option<&StatementIndex>) -> bool {
        self.matches_one(index) || target.is_some_and(|t| self.matches_one(t))
    }

    fn matches_one(&self, index: &StatementIndex) -> bool {
        if let Some(agent) = &self.agent {
            let keys = if self.related_agents {
                &index.related_agents
            } else {
                &index.agents
            };
            if !keys.contains(&agent.ifi.key()) {
                return false;
            }
        }
        if let Some(verb) = &self.verb
            && index.verb != *verb
        {
            return false;
        }
        if let Some(activity) = &self.activity {
            let ids = if self.related_activities {
                &index.related_activities
            } else {
                &index.activities
            };
            if !ids.contains(activity) {
                return false;
            }
        }
        if let Some(registration) = self.registration
            && index.registration != Some(registration)
        {
            return false;
        }
        true
    }
}

/// Parses the query string of `GET /statements` (already percent-decoded name/value pairs).
///
/// Refuses unknown parameters and known ones in the wrong case, repeated parameters,
/// malformed values, and `statementId`/`voidedStatementId` combined with anything but
/// `format` and `attachments` (or with each other). Errors carry the parameter name as path.
pub fn parse_statements_get(
    params: &[(String, String)],
    version: XapiVersion,
) -> Result<StatementsGet, XapiError> {
    for (i, (name, _)) in params.iter().enumerate() {
        if !QUERY_PARAMETERS.contains(&name.as_str()) {
            return Err(XapiError::new(
                ErrorCode::UnknownParameter,
                name,
                format!("unknown parameter {name:?} (parameter names are case-sensitive)"),
            ));
        }
        if params[..i].iter().any(|(n, _)| n == name) {
            return Err(XapiError::new(
                ErrorCode::InvalidParameter,
                name,
                format!("parameter {name:?} is given more than once"),
            ));
        }
    }
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let format = get("format")
        .map(Format::parse)
        .transpose()?
        .unwrap_or_default();
    let attachments = boolean(get("attachments"), "attachments")?;
    let single = match (get("statementId"), get("voidedStatementId")) {
        (Some(_), Some(_)) => {
            return Err(XapiError::new(
                ErrorCode::ConflictingParameters,
                "voidedStatementId",
                "statementId and voidedStatementId cannot be used together",
            ));
        }
        (Some(id), None) => Some(("statementId", id, false)),
        (None, Some(id)) => Some(("voidedStatementId", id, true)),
        (None, None) => None,
    };
    if let Some((name, raw, voided)) = single {
        if let Some((other, _)) = params.iter().find(|(n, _)| {
            !matches!(
                n.as_str(),
                "statementId" | "voidedStatementId" | "format" | "attachments"
            )
        }) {
            return Err(XapiError::new(
                ErrorCode::ConflictingParameters,
                other,
                format!("{name} can only be combined with format and attachments, not {other:?}"),
            ));
        }
        return Ok(StatementsGet::Single {
            id: uuid_param(raw, name)?,
            voided,
            format,
            attachments,
        });
    }
    let agent = get("agent")
        .map(|raw| AgentParam::parse(raw, version, "agent", true))
        .transpose()?;
    let iri = |name: &str| -> Result<Option<String>, XapiError> {
        match get(name) {
            None => Ok(None),
            Some(v) if syntax::is_iri(v) => Ok(Some(syntax::normalize_iri(v))),
            Some(v) => Err(XapiError::new(
                ErrorCode::InvalidParameter,
                name,
                format!("{name} {v:?} is not an iri"),
            )),
        }
    };
    let limit = match get("limit") {
        None => 0,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|_| raw.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                XapiError::new(
                    ErrorCode::InvalidParameter,
                    "limit",
                    format!("limit {raw:?} is not a non-negative integer"),
                )
            })?,
    };
    Ok(StatementsGet::Query(StatementQuery {
        agent,
        verb: iri("verb")?,
        activity: iri("activity")?,
        registration: get("registration")
            .map(|raw| uuid_param(raw, "registration"))
            .transpose()?,
        related_activities: boolean(get("related_activities"), "related_activities")?,
        related_agents: boolean(get("related_agents"), "related_agents")?,
        since: get("since")
            .map(|raw| timestamp_param(raw, "since", version))
            .transpose()?,
        until: get("until")
            .map(|raw| timestamp_param(raw, "until", version))
            .transpose()?,
        limit,
        format,
        attachments,
        ascending: boolean(get("ascending"), "ascending")?,
    }))
}

/// Parses a boolean parameter (`true` or `false`, exact case); absent is false.
pub fn boolean(value: Option<&str>, name: &str) -> Result<bool, XapiError> {
    match value {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(XapiError::new(
            ErrorCode::InvalidParameter,
            name,
            format!("{name} {other:?} is not true or false"),
        )),
    }
}

/// Parses a UUID parameter.
pub fn uuid_param(value: &str, name: &str) -> Result<Uuid, XapiError> {
    syntax::parse_uuid(value).ok_or_else(|| {
        XapiError::new(
            ErrorCode::InvalidParameter,
            name,
            format!("{name} {value:?} is not a uuid"),
        )
    })
}

/// Parses a timestamp parameter (`since`, `until`).
pub fn timestamp_param(
    value: &str,
    name: &str,
    version: XapiVersion,
) -> Result<Timestamp, XapiError> {
    // Parameters arrive URL-decoded; a `+` offset may have become a space.
    syntax::parse_timestamp(value, version)
        .or_else(|| syntax::parse_timestamp(&value.replacen(' ', "+", 1), version))
        .ok_or_else(|| {
            XapiError::new(
                ErrorCode::InvalidParameter,
                name,
                format!("{name} {value:?} is not a timestamp"),
            )
        })
}

/// Parses an IRI parameter.
pub fn iri_param(value: &str, name: &str) -> Result<String, XapiError> {
    if syntax::is_iri(value) {
        Ok(value.to_owned())
    } else {
        Err(XapiError::new(
            ErrorCode::InvalidParameter,
            name,
            format!("{name} {value:?} is not an iri"),
        ))
    }
}

/// The JSON value of a query parameter given as JSON text, for callers that need it raw.
pub fn json_param(value: &str, name: &str) -> Result<Value, XapiError> {
    syntax::parse_json_strict(value.as_bytes()).map_err(|e| {
        XapiError::new(
            ErrorCode::InvalidParameter,
            name,
            format!("{name} is not json: {e}"),
        )
    })
}
