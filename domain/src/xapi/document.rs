//! Document resources (State, Activity Profile, Agent Profile): ETags, preconditions, the JSON
//! merge of `POST`, and parameter validation (Communication §2.2–2.7, §3.1).

use serde_json::Value;
use sha1::{Digest, Sha1};
use uuid::Uuid;

use super::agent::AgentParam;
use super::error::{ErrorCode, XapiError};
use super::query::{timestamp_param, uuid_param};
use super::syntax::{self, Timestamp};
use super::version::XapiVersion;

/// Computes the ETag of stored document bytes: the quoted lowercase hex SHA-1
/// (Communication §3.1: "the SHA1 of the content"), e.g. `"da39a3ee5e6b4b0d3255bfef95601890afd80709"`.
pub fn etag(content: &[u8]) -> String {
    format!("\"{}\"", hex::encode(Sha1::digest(content)))
}

/// The precondition headers of a document request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Preconditions<'a> {
    /// `If-Match`, raw.
    pub if_match: Option<&'a str>,
    /// `If-None-Match`, raw.
    pub if_none_match: Option<&'a str>,
}

/// Which document method is being evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentMethod {
    /// Replace.
    Put,
    /// Merge (or create).
    Post,
    /// Delete.
    Delete,
}

/// Which document resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentResource {
    /// `activities/state`.
    State,
    /// `activities/profile`.
    ActivityProfile,
    /// `agents/profile`.
    AgentProfile,
}

/// Why a write is refused before its body is looked at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreconditionError {
    /// 412: `If-Match` does not name the current ETag, or `If-None-Match` names it / is `*`
    /// while the document exists.
    #[error("precondition failed: {0}")]
    Failed(String),
    /// 409: a `PUT` on an existing document without `If-Match`/`If-None-Match`.
    #[error(
        "the document already exists; send If-Match with its etag to replace it, or If-None-Match: * to create only"
    )]
    MissingPrecondition,
}

/// Evaluates `If-Match`/`If-None-Match` for a write.
///
/// `current` is the ETag of the existing document (from [`etag`]) or `None` when there is
/// none. A `PUT` without either header on an existing Activity/Agent Profile document is a
/// conflict (409); the State resource gets the same rule only when `state_requires_precondition`
/// is set (1.0.3 exempts it, the 2.0 suite exercises it: see
/// [`XapiVersion::requires_precondition_for_state`]).
pub fn check_preconditions(
    method: DocumentMethod,
    resource: DocumentResource,
    headers: Preconditions<'_>,
    current: Option<&str>,
    state_requires_precondition: bool,
) -> Result<(), PreconditionError> {
    if let Some(if_match) = headers.if_match {
        let ok = match current {
            None => false,
            Some(current) => etag_list_matches(if_match, current),
        };
        if !ok {
            return Err(PreconditionError::Failed(format!(
                "If-Match {if_match} does not match the current document"
            )));
        }
    }
    if let Some(if_none_match) = headers.if_none_match
        && let Some(current) = current
        && etag_list_matches(if_none_match, current)
    {
        return Err(PreconditionError::Failed(format!(
            "If-None-Match {if_none_match} matches the existing document"
        )));
    }
    let requires = match resource {
        DocumentResource::State => state_requires_precondition,
        DocumentResource::ActivityProfile | DocumentResource::AgentProfile => true,
    };
    if method == DocumentMethod::Put
        && requires
        && current.is_some()
        && headers.if_match.is_none()
        && headers.if_none_match.is_none()
    {
        return Err(PreconditionError::MissingPrecondition);
    }
    Ok(())
}

/// Whether an `If-Match`/`If-None-Match` value (`*`, or a comma-separated list of possibly
/// weak quoted ETags) matches `current` (a quoted ETag). Hex case is ignored.
pub fn etag_list_matches(header: &str, current: &str) -> bool {
    let current = unquote(current);
    header.split(',').map(str::trim).any(|tag| {
        tag == "*" || {
            let tag = tag.strip_prefix("W/").unwrap_or(tag);
            unquote(tag).eq_ignore_ascii_case(current)
        }
    })
}

fn unquote(tag: &str) -> &str {
    tag.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(tag)
}

/// Why a `POST` merge is refused (400, no change).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// One side is not `application/json`.
    #[error("both documents must be application/json to merge")]
    NotJson,
    /// One side is not a JSON object.
    #[error("both documents must be json objects to merge")]
    NotObject,
}

/// Whether a `Content-Type` value is `application/json` (parameters and case ignored).
pub fn is_json_content_type(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

/// The document that results from `POST` on a document resource.
///
/// With no existing document the posted one is stored as is (treated as `PUT`; when it is
/// declared JSON it must still be a JSON object). With an existing one both must be
/// `application/json` objects: top-level keys of the posted document overwrite the existing
/// ones, the rest are kept (a one-level merge; nested objects are replaced whole).
/// Returns the bytes to store.
pub fn merge_post(
    existing: Option<(&str, &[u8])>,
    posted_content_type: &str,
    posted: &[u8],
) -> Result<Vec<u8>, MergeError> {
    let posted_is_json = is_json_content_type(posted_content_type);
    let parse_object = |bytes: &[u8]| -> Result<serde_json::Map<String, Value>, MergeError> {
        match syntax::parse_json_strict(bytes) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(MergeError::NotObject),
        }
    };
    let Some((existing_type, existing_bytes)) = existing else {
        if posted_is_json {
            parse_object(posted)?;
        }
        return Ok(posted.to_vec());
    };
    if !posted_is_json || !is_json_content_type(existing_type) {
        return Err(MergeError::NotJson);
    }
    let mut base = parse_object(existing_bytes)?;
    for (key, value) in parse_object(posted)? {
        base.insert(key, value);
    }
    Ok(serde_json::to_vec(&Value::Object(base)).expect("a json map always serializes"))
}

/// Parameters of the State resource.
#[derive(Debug, Clone, PartialEq)]
pub struct StateParams {
    /// `activityId`.
    pub activity_id: String,
    /// `agent` (an Agent, not a Group).
    pub agent: AgentParam,
    /// `registration`.
    pub registration: Option<Uuid>,
    /// `stateId`: one document; absent on multi-document GET and DELETE.
    pub state_id: Option<String>,
    /// `since` (multi-document GET only).
    pub since: Option<Timestamp>,
}

/// Parameters of the Activity Profile resource.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityProfileParams {
    /// `activityId`.
    pub activity_id: String,
    /// `profileId`: one document; absent on the multi-document GET.
    pub profile_id: Option<String>,
    /// `since` (multi-document GET only).
    pub since: Option<Timestamp>,
}

/// Parameters of the Agent Profile resource.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentProfileParams {
    /// `agent` (an Agent, not a Group).
    pub agent: AgentParam,
    /// `profileId`: one document; absent on the multi-document GET.
    pub profile_id: Option<String>,
    /// `since` (multi-document GET only).
    pub since: Option<Timestamp>,
}

/// The HTTP method of a document request, for parameter rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentRequest {
    /// `GET` (or `HEAD`).
    Get,
    /// `PUT`.
    Put,
    /// `POST`.
    Post,
    /// `DELETE`.
    Delete,
}

struct Params<'a> {
    params: &'a [(String, String)],
}

impl<'a> Params<'a> {
    fn check(params: &'a [(String, String)], allowed: &[&str]) -> Result<Params<'a>, XapiError> {
        for (i, (name, _)) in params.iter().enumerate() {
            if !allowed.contains(&name.as_str()) {
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
        Ok(Params { params })
    }

    fn get(&self, name: &str) -> Option<&'a str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, name: &str) -> Result<&'a str, XapiError> {
        self.get(name).ok_or_else(|| {
            XapiError::new(
                ErrorCode::MissingParameter,
                name,
                format!("missing required parameter {name:?}"),
            )
        })
    }

    fn iri(&self, name: &str) -> Result<String, XapiError> {
        let value = self.required(name)?;
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

    /// The document id parameter: required except on GET (and DELETE when `optional_on_delete`).
    fn document_id(
        &self,
        name: &str,
        request: DocumentRequest,
        optional_on_delete: bool,
    ) -> Result<Option<String>, XapiError> {
        match (self.get(name), request) {
            (Some(id), _) => Ok(Some(id.to_owned())),
            (None, DocumentRequest::Get) => Ok(None),
            (None, DocumentRequest::Delete) if optional_on_delete => Ok(None),
            (None, _) => Err(XapiError::new(
                ErrorCode::MissingParameter,
                name,
                format!("missing required parameter {name:?}"),
            )),
        }
    }

    fn since(
        &self,
        request: DocumentRequest,
        id_given: bool,
        version: XapiVersion,
    ) -> Result<Option<Timestamp>, XapiError> {
        let Some(raw) = self.get("since") else {
            return Ok(None);
        };
        if request != DocumentRequest::Get || id_given {
            return Err(XapiError::new(
                ErrorCode::ConflictingParameters,
                "since",
                "since is only allowed on a GET without a document id",
            ));
        }
        timestamp_param(raw, "since", version).map(Some)
    }
}

/// Parses and checks State resource parameters for `request`.
pub fn parse_state_params(
    params: &[(String, String)],
    request: DocumentRequest,
    version: XapiVersion,
) -> Result<StateParams, XapiError> {
    let p = Params::check(
        params,
        &["activityId", "agent", "registration", "stateId", "since"],
    )?;
    let activity_id = p.iri("activityId")?;
    let agent = AgentParam::parse(p.required("agent")?, version, "agent", false)?;
    let registration = p
        .get("registration")
        .map(|raw| uuid_param(raw, "registration"))
        .transpose()?;
    let state_id = p.document_id("stateId", request, true)?;
    let since = p.since(request, state_id.is_some(), version)?;
    Ok(StateParams {
        activity_id,
        agent,
        registration,
        state_id,
        since,
    })
}

/// Parses and checks Activity Profile resource parameters for `request`.
pub fn parse_activity_profile_params(
    params: &[(String, String)],
    request: DocumentRequest,
    version: XapiVersion,
) -> Result<ActivityProfileParams, XapiError> {
    let p = Params::check(params, &["activityId", "profileId", "since"])?;
    let activity_id = p.iri("activityId")?;
    let profile_id = p.document_id("profileId", request, false)?;
    let since = p.since(request, profile_id.is_some(), version)?;
    Ok(ActivityProfileParams {
        activity_id,
        profile_id,
        since,
    })
}

/// Parses and checks Agent Profile resource parameters for `request`.
pub fn parse_agent_profile_params(
    params: &[(String, String)],
    request: DocumentRequest,
    version: XapiVersion,
) -> Result<AgentProfileParams, XapiError> {
    let p = Params::check(params, &["agent", "profileId", "since"])?;
    let agent = AgentParam::parse(p.required("agent")?, version, "agent", false)?;
    let profile_id = p.document_id("profileId", request, false)?;
    let since = p.since(request, profile_id.is_some(), version)?;
    Ok(AgentProfileParams {
        agent,
        profile_id,
        since,
    })
}

/// Parses the `agent` parameter of `GET /agents`.
pub fn parse_agents_params(
    params: &[(String, String)],
    version: XapiVersion,
) -> Result<AgentParam, XapiError> {
    let p = Params::check(params, &["agent"])?;
    AgentParam::parse(p.required("agent")?, version, "agent", false)
}

/// Parses the `activityId` parameter of `GET /activities`.
pub fn parse_activities_params(params: &[(String, String)]) -> Result<String, XapiError> {
    let p = Params::check(params, &["activityId"])?;
    p.iri("activityId")
}
