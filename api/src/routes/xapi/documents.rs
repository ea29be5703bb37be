//! `/xapi/activities/state`, `/xapi/activities/profile`, `/xapi/agents/profile`: the
//! document resources.

use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, ETAG, LAST_MODIFIED};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use domain::lrs::credential::Access;
use domain::lrs::document::{
    Conditions, DocumentCommand, DocumentKey, Resource as DocResource, WriteMethod,
};
use domain::xapi::XapiVersion;
use domain::xapi::agent::AgentParam;
use domain::xapi::document::{
    DocumentRequest, parse_activity_profile_params, parse_agent_profile_params, parse_state_params,
};
use domain::xapi::syntax::{Timestamp, normalize_iri};
use projections::lrs::documents::{DocumentRow, DocumentSet};
use uuid::Uuid;

use super::{Resource, XapiRequest, handle as handle_request, http_date, no_content, xapi_error};
use crate::error::{ApiError, ErrorBody};
use crate::lrs::auth::LrsCaller;
use crate::state::AppState;

macro_rules! document_routes {
    ($resource:expr, $path:literal, $tag:literal, $get:ident, $put:ident, $post:ident, $delete:ident,
     $params:literal) => {
        #[doc = concat!("Read one document (with its id), or the ids of several. Parameters: ", $params, ".")]
        #[utoipa::path(get, path = $path, tag = $tag,
            params(("X-Experience-API-Version" = String, Header, description = "1.0.x or 2.0.0")),
            responses(
                (status = 200, description = "the document, or an array of document ids"),
                (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
                (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
            ),
            security(("lrs_basic" = []), ("api_key" = [])))]
        pub async fn $get(State(state): State<AppState>, request: Request) -> Response {
            handle_request(state, $resource, request, None).await
        }

        #[doc = concat!("Store (replace) a document. Parameters: ", $params, ".")]
        #[utoipa::path(put, path = $path, tag = $tag,
            params(("X-Experience-API-Version" = String, Header, description = "1.0.x or 2.0.0")),
            request_body(content = String, description = "the document, any content type"),
            responses(
                (status = 204, description = "stored"),
                (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
                (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
                (status = 412, body = ErrorBody),
            ),
            security(("lrs_basic" = []), ("api_key" = [])))]
        pub async fn $put(State(state): State<AppState>, request: Request) -> Response {
            handle_request(state, $resource, request, None).await
        }

        #[doc = concat!("Merge a JSON document into the stored one, or store it. Parameters: ", $params, ".")]
        #[utoipa::path(post, path = $path, tag = $tag,
            params(("X-Experience-API-Version" = String, Header, description = "1.0.x or 2.0.0")),
            request_body(content = Object, description = "a JSON object to merge, or any document when none is stored"),
            responses(
                (status = 204, description = "stored"),
                (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
                (status = 403, body = ErrorBody), (status = 412, body = ErrorBody),
            ),
            security(("lrs_basic" = []), ("api_key" = [])))]
        pub async fn $post(State(state): State<AppState>, request: Request) -> Response {
            handle_request(state, $resource, request, None).await
        }

        #[doc = concat!("Delete a document (State: also all of an agent's documents for an activity). Parameters: ", $params, ".")]
        #[utoipa::path(delete, path = $path, tag = $tag,
            params(("X-Experience-API-Version" = String, Header, description = "1.0.x or 2.0.0")),
            responses(
                (status = 204, description = "deleted"),
                (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
                (status = 403, body = ErrorBody), (status = 412, body = ErrorBody),
            ),
            security(("lrs_basic" = []), ("api_key" = [])))]
        pub async fn $delete(State(state): State<AppState>, request: Request) -> Response {
            handle_request(state, $resource, request, None).await
        }
    };
}

document_routes!(
    Resource::State,
    "/xapi/activities/state",
    "xapi",
    get_state,
    put_state,
    post_state,
    delete_state,
    "activityId, agent, registration, stateId, since"
);
document_routes!(
    Resource::ActivityProfile,
    "/xapi/activities/profile",
    "xapi",
    get_activity_profile,
    put_activity_profile,
    post_activity_profile,
    delete_activity_profile,
    "activityId, profileId, since"
);
document_routes!(
    Resource::AgentProfile,
    "/xapi/agents/profile",
    "xapi",
    get_agent_profile,
    put_agent_profile,
    post_agent_profile,
    delete_agent_profile,
    "agent, profileId, since"
);

/// What a document request names, whichever resource.
struct Target {
    resource: DocResource,
    activity_id: Option<String>,
    agent: Option<AgentParam>,
    registration: Option<Uuid>,
    document_id: Option<String>,
    since: Option<Timestamp>,
}

impl Target {
    fn key(&self, document_id: String) -> DocumentKey {
        DocumentKey {
            resource: self.resource,
            activity_id: self.activity_id.clone(),
            agent: self.agent.as_ref().map(|a| a.value.clone()),
            registration: self.registration,
            document_id,
        }
    }

    fn set<'a>(
        &self,
        activity_key: Option<&'a str>,
        agent_key: Option<&'a str>,
    ) -> DocumentSet<'a> {
        DocumentSet {
            resource: self.resource,
            activity_key,
            agent_key,
            registration: self.registration,
            since: self.since.map(Timestamp::to_utc),
        }
    }
}

fn target(
    resource: Resource,
    request: &XapiRequest,
    method: DocumentRequest,
    version: XapiVersion,
) -> Result<Target, ApiError> {
    Ok(match resource {
        Resource::State => {
            let p = parse_state_params(&request.params, method, version).map_err(xapi_error)?;
            Target {
                resource: DocResource::State,
                activity_id: Some(p.activity_id),
                agent: Some(p.agent),
                registration: p.registration,
                document_id: p.state_id,
                since: p.since,
            }
        }
        Resource::ActivityProfile => {
            let p = parse_activity_profile_params(&request.params, method, version)
                .map_err(xapi_error)?;
            Target {
                resource: DocResource::ActivityProfile,
                activity_id: Some(p.activity_id),
                agent: None,
                registration: None,
                document_id: p.profile_id,
                since: p.since,
            }
        }
        _ => {
            let p =
                parse_agent_profile_params(&request.params, method, version).map_err(xapi_error)?;
            Target {
                resource: DocResource::AgentProfile,
                activity_id: None,
                agent: Some(p.agent),
                registration: None,
                document_id: p.profile_id,
                since: p.since,
            }
        }
    })
}

fn forbidden(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        format!("these credentials may not {what}"),
    )
}

pub(super) async fn handle(
    state: &AppState,
    caller: &LrsCaller,
    version: XapiVersion,
    resource: Resource,
    request: XapiRequest,
) -> Result<Response, ApiError> {
    let method = match request.method {
        Method::GET | Method::HEAD => DocumentRequest::Get,
        Method::PUT => DocumentRequest::Put,
        Method::POST => DocumentRequest::Post,
        Method::DELETE => DocumentRequest::Delete,
        _ => {
            return Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this resource does not accept that method",
            ));
        }
    };
    let target = target(resource, &request, method, version)?;
    let write = method != DocumentRequest::Get;
    let access = match (target.resource, write) {
        (DocResource::State, false) => Access::ReadState,
        (DocResource::State, true) => Access::WriteState,
        (_, false) => Access::ReadProfiles,
        (_, true) => Access::WriteProfiles,
    };
    if !caller.permissions.can(access) {
        return Err(forbidden(if write {
            "write these documents"
        } else {
            "read these documents"
        }));
    }
    if let Some(restriction) = &caller.restriction {
        let agent = target.agent.as_ref().map(|a| &a.ifi);
        if !restriction.allows_document(target.resource.xapi(), agent, target.registration, write) {
            return Err(forbidden(
                "reach documents of another learner, registration or activity",
            ));
        }
    }
    let activity_key = target.activity_id.as_deref().map(normalize_iri);
    let agent_key = target.agent.as_ref().map(|a| a.ifi.key());
    let conditions = Conditions {
        if_match: request.header("if-match").map(str::to_owned),
        if_none_match: request.header("if-none-match").map(str::to_owned),
    };
    let lrs = &state.platform.lrs;
    let settle = state.settings.consistency_timeout;
    let metadata = caller.metadata();
    match (method, &target.document_id) {
        (DocumentRequest::Get, Some(id)) => {
            let key = target.key(id.clone());
            let found = projections::lrs::documents::document(
                &state.platform.db,
                &caller.scope,
                &key.local_id(),
            )
            .await?
            .ok_or_else(|| ApiError::not_found("document_not_found", "no such document"))?;
            Ok(document_response(found))
        }
        (DocumentRequest::Get, None) => {
            let set = target.set(activity_key.as_deref(), agent_key.as_deref());
            let found =
                projections::lrs::documents::documents(&state.platform.db, &caller.scope, &set)
                    .await?;
            let ids: Vec<&str> = found.iter().map(|d| d.document_id.as_str()).collect();
            let mut response = axum::Json(ids).into_response();
            if let Some(newest) = found.iter().filter_map(|d| updated(&d.updated)).max() {
                response
                    .headers_mut()
                    .insert(LAST_MODIFIED, http_date(newest));
            }
            Ok(response)
        }
        (DocumentRequest::Put | DocumentRequest::Post, Some(id)) => {
            let key = target.key(id.clone());
            let local_id = key.local_id();
            let command = DocumentCommand::Write {
                key,
                method: if method == DocumentRequest::Put {
                    WriteMethod::Put
                } else {
                    WriteMethod::Post
                },
                content_type: request
                    .header("content-type")
                    .unwrap_or("application/octet-stream")
                    .to_owned(),
                content: request.body.to_vec(),
                conditions,
                version,
                at: Utc::now(),
            };
            lrs.document(&caller.scope, &local_id, command, &metadata, settle)
                .await?;
            Ok(no_content())
        }
        (DocumentRequest::Delete, Some(id)) => {
            let local_id = target.key(id.clone()).local_id();
            let command = DocumentCommand::Delete {
                conditions,
                at: Utc::now(),
            };
            lrs.document(&caller.scope, &local_id, command, &metadata, settle)
                .await?;
            Ok(no_content())
        }
        (DocumentRequest::Delete, None) => {
            // Every State document of the agent for the activity (and registration).
            let set = target.set(activity_key.as_deref(), agent_key.as_deref());
            let found =
                projections::lrs::documents::documents(&state.platform.db, &caller.scope, &set)
                    .await?;
            for document in found {
                let command = DocumentCommand::Delete {
                    conditions: Conditions::default(),
                    at: Utc::now(),
                };
                lrs.document(&caller.scope, &document.doc_key, command, &metadata, settle)
                    .await?;
            }
            Ok(no_content())
        }
        (DocumentRequest::Put | DocumentRequest::Post, None) => Err(ApiError::bad_request(
            "missing_parameter",
            "a document write needs its document id",
        )),
    }
}

fn updated(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn document_response(document: DocumentRow) -> Response {
    let content_type = HeaderValue::from_str(&document.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    let mut response = ([(CONTENT_TYPE, content_type)], document.content).into_response();
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&document.etag) {
        headers.insert(ETAG, etag);
    }
    if let Some(at) = updated(&document.updated) {
        headers.insert(LAST_MODIFIED, http_date(at));
    }
    response
}
