//! `/xapi/activities`, `/xapi/agents` and `/xapi/about`.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::lrs::credential::Access;
use domain::xapi::XapiVersion;
use domain::xapi::agent::person;
use domain::xapi::document::{parse_activities_params, parse_agents_params};
use domain::xapi::syntax::normalize_iri;
use domain::xapi::version::about_document;
use serde_json::{Map, Value, json};

use super::{Resource, VERSION_HEADER, XapiRequest, handle as handle_request, xapi_error};
use crate::error::{ApiError, ErrorBody};
use crate::lrs::auth::LrsCaller;
use crate::state::AppState;

/// The Activity object for `activityId`, with the canonical definition the LRS has learnt
/// from statements (none for an activity no statement named).
#[utoipa::path(get, path = "/xapi/activities", tag = "xapi",
    params(
        ("X-Experience-API-Version" = String, Header, description = "1.0.x or 2.0.0"),
        ("activityId" = String, Query),
    ),
    responses(
        (status = 200, description = "an Activity"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    ),
    security(("lrs_basic" = []), ("api_key" = [])))]
pub async fn get_activities(State(state): State<AppState>, request: Request) -> Response {
    handle_request(state, Resource::Activities, request, None).await
}

/// The Person object of everything the LRS knows about an agent's identifier.
#[utoipa::path(get, path = "/xapi/agents", tag = "xapi",
    params(
        ("X-Experience-API-Version" = String, Header, description = "1.0.x or 2.0.0"),
        ("agent" = String, Query),
    ),
    responses(
        (status = 200, description = "a Person"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
    ),
    security(("lrs_basic" = []), ("api_key" = [])))]
pub async fn get_agents(State(state): State<AppState>, request: Request) -> Response {
    handle_request(state, Resource::Agents, request, None).await
}

/// The xAPI versions this LRS speaks (no credentials needed).
#[utoipa::path(get, path = "/xapi/about", tag = "xapi",
    responses((status = 200, description = "the About object")))]
pub async fn about() -> Response {
    let mut response = Json(about_document(None)).into_response();
    response.headers_mut().insert(
        VERSION_HEADER,
        HeaderValue::from_static(XapiVersion::V2_0_0.response_header()),
    );
    response
}

fn only_get(request: &XapiRequest) -> Result<(), ApiError> {
    if matches!(request.method, Method::GET | Method::HEAD) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this resource only answers GET",
        ))
    }
}

fn allowed(caller: &LrsCaller) -> Result<(), ApiError> {
    if caller.permissions.can(Access::ReadActivitiesAndAgents) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "these credentials may not read activities and agents",
        ))
    }
}

pub(super) async fn activities(
    state: &AppState,
    caller: &LrsCaller,
    _version: XapiVersion,
    request: XapiRequest,
) -> Result<Response, ApiError> {
    only_get(&request)?;
    let activity_id = parse_activities_params(&request.params).map_err(xapi_error)?;
    allowed(caller)?;
    let found = projections::lrs::objects::activity(
        &state.platform.db,
        &caller.scope,
        &normalize_iri(&activity_id),
    )
    .await?;
    // An activity no statement named is still an Activity (2.0 §4.1.6.4), without a
    // definition.
    let mut activity = Map::new();
    activity.insert("objectType".into(), json!("Activity"));
    match found {
        Some(found) => {
            activity.insert("id".into(), json!(found.activity_id));
            if let Some(definition) = found.definition {
                activity.insert("definition".into(), definition);
            }
        }
        None => {
            activity.insert("id".into(), json!(activity_id));
        }
    }
    Ok(Json(Value::Object(activity)).into_response())
}

pub(super) async fn agents(
    state: &AppState,
    caller: &LrsCaller,
    version: XapiVersion,
    request: XapiRequest,
) -> Result<Response, ApiError> {
    only_get(&request)?;
    let agent = parse_agents_params(&request.params, version).map_err(xapi_error)?;
    allowed(caller)?;
    let known =
        projections::lrs::objects::agents(&state.platform.db, &caller.scope, &agent.ifi.key())
            .await?;
    Ok(Json(person(&agent.value, &known)).into_response())
}
