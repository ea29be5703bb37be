//! `/api/v1/api-keys`: the keys of the caller's environment.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use domain::tenancy::Environment;
use domain::workspace::WorkspaceCommand;
use projections::workspaces::ApiKeyRow;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Caller, Consistent};
use crate::error::{ApiError, ErrorBody};
use crate::keys;
use crate::routes::{MaybeJson, Written};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct ApiKeyBody {
    pub id: String,
    #[schema(value_type = String, example = "live")]
    pub environment: Environment,
    pub label: Option<String>,
    /// A recognisable fragment of the key; never the key.
    pub hint: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

impl From<ApiKeyRow> for ApiKeyBody {
    fn from(row: ApiKeyRow) -> Self {
        ApiKeyBody {
            id: row.key_id,
            environment: row.environment,
            label: row.label,
            hint: row.hint,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyList {
    pub api_keys: Vec<ApiKeyBody>,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// What the key is for.
    pub label: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedApiKey {
    pub id: String,
    /// The key itself: shown this once, stored only as a hash.
    pub key: String,
    #[schema(value_type = String)]
    pub environment: Environment,
    pub label: Option<String>,
    pub hint: String,
}

/// The keys of the caller's environment, revoked ones included.
#[utoipa::path(get, path = "/api-keys", tag = "api-keys",
    params(("min_position" = Option<i64>, Query, description = "wait until the views show this log position")),
    responses((status = 200, body = ApiKeyList), (status = 401, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_api_keys(
    caller: Caller,
    _: Consistent,
    State(state): State<AppState>,
) -> Result<Json<ApiKeyList>, ApiError> {
    let rows = projections::workspaces::api_keys(&state.platform.db, &caller.scope).await?;
    Ok(Json(ApiKeyList {
        api_keys: rows.into_iter().map(ApiKeyBody::from).collect(),
    }))
}

/// Creates a key in the caller's environment. The key is in the answer and
/// nowhere else.
#[utoipa::path(post, path = "/api-keys", tag = "api-keys", request_body = CreateApiKey,
    responses(
        (status = 201, body = inline(Written<CreatedApiKey>)),
        (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("api_key" = [])))]
pub async fn create_api_key(
    caller: Caller,
    State(state): State<AppState>,
    MaybeJson(body): MaybeJson<CreateApiKey>,
) -> Result<(StatusCode, Json<Written<CreatedApiKey>>), ApiError> {
    let label = body.and_then(|b| b.label);
    let issued = keys::issue(caller.scope.environment(), label);
    let key = issued.key.clone();
    let checkpoint = state
        .platform
        .commands
        .workspace(
            &caller.scope.workspace_id().to_string(),
            WorkspaceCommand::CreateApiKey {
                key: issued.key,
                at: Utc::now(),
            },
            &caller.metadata(),
        )
        .await?;
    state.settle("workspaces", checkpoint).await;
    Ok((
        StatusCode::CREATED,
        Json(Written {
            data: CreatedApiKey {
                id: key.key_id,
                key: issued.secret,
                environment: key.environment,
                label: key
                    .label
                    .map(|l| l.trim().to_owned())
                    .filter(|l| !l.is_empty()),
                hint: key.hint,
            },
            position: checkpoint.map_or(0, |c| c.position),
        }),
    ))
}

/// One key of the caller's environment.
#[utoipa::path(get, path = "/api-keys/{id}", tag = "api-keys",
    params(("id" = String, Path, description = "key id")),
    responses((status = 200, body = ApiKeyBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn get_api_key(
    caller: Caller,
    _: Consistent,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ApiKeyBody>, ApiError> {
    projections::workspaces::api_key(&state.platform.db, &caller.scope, &id)
        .await?
        .map(|row| Json(row.into()))
        .ok_or_else(|| {
            ApiError::not_found(
                "api_key_not_found",
                format!("no api key {id} in this environment"),
            )
        })
}

/// Revokes a key of the caller's environment at once. The last active key
/// of an environment cannot be revoked.
#[utoipa::path(delete, path = "/api-keys/{id}", tag = "api-keys",
    params(("id" = String, Path, description = "key id")),
    responses(
        (status = 204, description = "revoked"),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "already revoked, or the last active key", body = ErrorBody),
    ),
    security(("api_key" = [])))]
pub async fn revoke_api_key(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let checkpoint = state
        .platform
        .commands
        .workspace(
            &caller.scope.workspace_id().to_string(),
            WorkspaceCommand::RevokeApiKey {
                key_id: id,
                environment: caller.scope.environment(),
                at: Utc::now(),
            },
            &caller.metadata(),
        )
        .await?;
    state.settle("workspaces", checkpoint).await;
    Ok(StatusCode::NO_CONTENT)
}
