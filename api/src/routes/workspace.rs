//! `GET /api/v1/workspace`: the caller's workspace.

use axum::Json;
use axum::extract::State;
use domain::tenancy::Environment;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{Caller, Consistent};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct WorkspaceBody {
    pub workspace_id: String,
    pub name: String,
    /// The environment of the key that asked: `live` or `test`.
    #[schema(value_type = String, example = "live")]
    pub environment: Environment,
    pub created_at: String,
}

/// The workspace of the calling key, and the key's environment.
#[utoipa::path(get, path = "/workspace", tag = "workspace",
    params(("min_position" = Option<i64>, Query, description = "wait until the views show this log position")),
    responses(
        (status = 200, body = WorkspaceBody),
        (status = 401, body = ErrorBody),
    ),
    security(("api_key" = [])))]
pub async fn get_workspace(
    caller: Caller,
    _: Consistent,
    State(state): State<AppState>,
) -> Result<Json<WorkspaceBody>, ApiError> {
    let workspace = projections::workspaces::workspace(&state.platform.db, &caller.scope)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "workspace_not_found",
                "the workspace of this key does not exist",
            )
        })?;
    Ok(Json(WorkspaceBody {
        workspace_id: workspace.workspace_id.to_string(),
        name: workspace.name,
        environment: caller.scope.environment(),
        created_at: workspace.created_at,
    }))
}
