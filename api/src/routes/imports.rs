//! `GET /api/v1/imports/{id}`, and the import resource every import answer
//! has the shape of.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::{Path, State};
use domain::package::Finding;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{Caller, Consistent};
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct ImportProgress {
    pub files_done: u64,
    pub files_total: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
}

/// An import: running, complete or failed.
#[derive(Serialize, ToSchema)]
pub struct ImportBody {
    pub import_id: String,
    pub course_id: String,
    /// `running`, `complete` or `failed`.
    pub status: String,
    /// The course version this import created (complete only).
    pub version: Option<i64>,
    pub title: Option<String>,
    /// Where the package came from.
    #[schema(value_type = Object)]
    pub source: serde_json::Value,
    /// How far a running import is, when this server runs it.
    pub progress: Option<ImportProgress>,
    /// Why it failed (failed only).
    pub error: Option<ErrorDetail>,
    /// Parser findings: warnings of a complete import; errors and warnings
    /// of a failed one. Each has a stable `code`, a `message` and a `location`.
    #[schema(value_type = Vec<Object>)]
    pub findings: Vec<Finding>,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// Log position of the import's newest event.
    pub position: i64,
}

/// Reads an import of the caller's scope.
pub async fn import_body(
    state: &AppState,
    caller: &Caller,
    import_id: &str,
) -> Result<Option<ImportBody>, ApiError> {
    let Some(row) =
        projections::courses::import(&state.platform.db, &caller.scope, import_id).await?
    else {
        return Ok(None);
    };
    let progress = state.importer.progress(import_id).map(|p| ImportProgress {
        files_done: p.files_done.load(Ordering::Relaxed),
        files_total: p.files_total.load(Ordering::Relaxed),
        bytes_done: p.bytes_done.load(Ordering::Relaxed),
        bytes_total: p.bytes_total.load(Ordering::Relaxed),
    });
    let error = match (&row.error_code, &row.error_message) {
        (Some(code), Some(message)) => Some(ErrorDetail {
            code: code.clone(),
            message: message.clone(),
        }),
        _ => None,
    };
    Ok(Some(ImportBody {
        import_id: row.import_id,
        course_id: row.course_id,
        status: row.status,
        version: row.version,
        title: row.title,
        source: serde_json::to_value(&row.source).unwrap_or_default(),
        progress,
        error,
        findings: row.findings,
        started_at: row.started_at,
        finished_at: row.finished_at,
        position: row.started_position,
    }))
}

/// An import of the caller's workspace and environment.
#[utoipa::path(get, path = "/imports/{id}", tag = "courses",
    params(("id" = String, Path, description = "import id")),
    responses((status = 200, body = ImportBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn get_import(
    caller: Caller,
    _: Consistent,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ImportBody>, ApiError> {
    import_body(&state, &caller, &id)
        .await?
        .map(Json)
        .ok_or_else(|| {
            ApiError::not_found(
                "import_not_found",
                format!("no import {id} in this environment"),
            )
        })
}
