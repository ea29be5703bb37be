//! `/api/v1/lrs-forwarding`: forward the caller's statements to an external LRS, and see how
//! that goes.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use domain::lrs::forwarding::{ForwardingCommand, aggregate_id};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Caller, Consistent};
use crate::error::{ApiError, ErrorBody};
use crate::routes::{ApiJson, Written};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigureForwarding {
    /// The external LRS's xAPI endpoint (`https://lrs.example.com/xapi`).
    pub endpoint: String,
    /// The `Authorization` header to send it (`Basic …`). Kept to send; never shown.
    pub authorization: Option<String>,
    /// `X-Experience-API-Version` to send: `1.0.3` (default) or `2.0.0`.
    pub xapi_version: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ForwardingBody {
    pub endpoint: String,
    pub xapi_version: String,
    /// Whether an `Authorization` header is sent (its value is never shown).
    pub has_authorization: bool,
    pub configured_at: String,
    /// Statements stored after this log position are forwarded.
    pub start_position: i64,
    pub status: ForwardingStatusBody,
}

#[derive(Serialize, ToSchema)]
pub struct ForwardingStatusBody {
    /// `idle` (all forwarded so far), `forwarding`, or `failing`.
    pub state: &'static str,
    /// Statements forwarded since the target was configured.
    pub forwarded: i64,
    /// Every statement up to this log position has been forwarded.
    pub position: i64,
    /// Failed attempts since the last success.
    pub failures: i64,
    pub last_success_at: Option<String>,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
}

async fn body(state: &AppState, caller: &Caller) -> Result<ForwardingBody, ApiError> {
    let db = &state.platform.db;
    let target = projections::lrs::forwarding::target_of(db, &caller.scope)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "forwarding_not_configured",
                "this environment forwards no statements",
            )
        })?;
    let status = projections::lrs::forwarding::forwarder_status(db, &caller.scope)
        .await?
        .filter(|s| s.start_position == target.start.position)
        .unwrap_or_else(|| projections::lrs::forwarding::ForwarderStatus::start(&target));
    let behind = !state
        .platform
        .log
        .read_scope(&caller.scope, status.checkpoint, 1)
        .await?
        .is_empty();
    Ok(ForwardingBody {
        endpoint: target.endpoint,
        xapi_version: target.xapi_version,
        has_authorization: target.authorization.is_some(),
        configured_at: target.configured_at,
        start_position: target.start.position,
        status: ForwardingStatusBody {
            state: if status.failures > 0 {
                "failing"
            } else if behind {
                "forwarding"
            } else {
                "idle"
            },
            forwarded: status.forwarded,
            position: status.checkpoint.position,
            failures: status.failures,
            last_success_at: status.last_success_at,
            last_error: status.last_error,
            last_error_at: status.last_error_at,
        },
    })
}

/// Where the caller's statements are forwarded, and how that goes.
#[utoipa::path(get, path = "/lrs-forwarding", tag = "lrs",
    params(("min_position" = Option<i64>, Query, description = "wait until the views show this log position")),
    responses((status = 200, body = ForwardingBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn get_forwarding(
    caller: Caller,
    _: Consistent,
    State(state): State<AppState>,
) -> Result<Json<ForwardingBody>, ApiError> {
    Ok(Json(body(&state, &caller).await?))
}

/// Forwards the caller's statements from now on to an external LRS (or changes the target:
/// what is not forwarded yet goes to the new one).
#[utoipa::path(put, path = "/lrs-forwarding", tag = "lrs", request_body = ConfigureForwarding,
    responses(
        (status = 200, body = inline(Written<ForwardingBody>)),
        (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("api_key" = [])))]
pub async fn configure_forwarding(
    caller: Caller,
    State(state): State<AppState>,
    ApiJson(request): ApiJson<ConfigureForwarding>,
) -> Result<Json<Written<ForwardingBody>>, ApiError> {
    let checkpoint = state
        .platform
        .commands
        .forwarding(
            &aggregate_id(&caller.scope),
            ForwardingCommand::Configure {
                endpoint: request.endpoint,
                authorization: request.authorization,
                xapi_version: request.xapi_version.unwrap_or_else(|| "1.0.3".into()),
                at: Utc::now(),
            },
            &caller.metadata(),
        )
        .await?;
    state.settle("lrs_forwarding", checkpoint).await;
    Ok(Json(Written {
        data: body(&state, &caller).await?,
        position: checkpoint.map_or(0, |c| c.position),
    }))
}

/// Stops forwarding.
#[utoipa::path(delete, path = "/lrs-forwarding", tag = "lrs",
    responses(
        (status = 204, description = "stopped"),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("api_key" = [])))]
pub async fn remove_forwarding(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<StatusCode, ApiError> {
    let checkpoint = state
        .platform
        .commands
        .forwarding(
            &aggregate_id(&caller.scope),
            ForwardingCommand::Remove { at: Utc::now() },
            &caller.metadata(),
        )
        .await?;
    state.settle("lrs_forwarding", checkpoint).await;
    Ok(StatusCode::NO_CONTENT)
}
