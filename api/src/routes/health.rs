//! `/healthz` (the process is up) and `/readyz` (it can serve).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use projections::Status;
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    pub status: &'static str,
    pub database: Check,
    pub migrations: Check,
    pub projections: Vec<ProjectionReadiness>,
}

#[derive(Serialize, ToSchema)]
pub struct Check {
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ProjectionReadiness {
    pub name: &'static str,
    /// `starting`, `running`, `standby` or `stopped`.
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<i64>,
    /// For a stopped projection: the event it stopped at and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The database answers, every migration is applied, and no projection is
/// stopped.
#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, description = "ready", body = Readiness),
    (status = 503, description = "not ready; the body says why", body = Readiness),
))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let db = &state.platform.db;
    let database = match db.ping().await {
        Ok(()) => Check {
            ok: true,
            error: None,
        },
        Err(err) => Check {
            ok: false,
            error: Some(err.to_string()),
        },
    };
    let migrations = match db.migrations_applied().await {
        Ok(true) => Check {
            ok: true,
            error: None,
        },
        Ok(false) => Check {
            ok: false,
            error: Some("migrations are pending".into()),
        },
        Err(err) => Check {
            ok: false,
            error: Some(err.to_string()),
        },
    };
    let projections: Vec<ProjectionReadiness> = state
        .platform
        .projections
        .statuses()
        .into_iter()
        .map(|(name, status)| {
            let mut out = ProjectionReadiness {
                name,
                state: "",
                position: None,
                stopped_at: None,
                event_type: None,
                reason: None,
            };
            match status {
                Status::Starting { checkpoint } => {
                    out.state = "starting";
                    out.position = Some(checkpoint.position);
                }
                Status::Running { checkpoint } => {
                    out.state = "running";
                    out.position = Some(checkpoint.position);
                }
                Status::Standby => out.state = "standby",
                Status::Stopped {
                    position,
                    event_type,
                    reason,
                } => {
                    out.state = "stopped";
                    out.stopped_at = Some(position);
                    out.event_type = Some(event_type);
                    out.reason = Some(reason);
                }
            }
            out
        })
        .collect();
    let ready = database.ok && migrations.ok && projections.iter().all(|p| p.state != "stopped");
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            status: if ready { "ready" } else { "not_ready" },
            database,
            migrations,
            projections,
        }),
    )
}
