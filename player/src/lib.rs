//! The hosted player, on the content origin: the launch page, the runtime
//! JavaScript, navigation, the course files, and the runtime endpoints that
//! record every call a SCO makes. The protocol between the page and these
//! endpoints is `player/PROTOCOL.md`.
//!
//! The content origin is apart from the API and dashboard origin: course
//! JavaScript runs next to the player page (it must, to find
//! `window.API`), and there it can reach neither API keys nor dashboard
//! sessions. Everything here is authorised by signed tokens
//! ([`tokens`]), never by API keys.

pub mod content;
pub mod navigation;
pub mod page;
pub mod runtime;
pub mod tokens;
pub mod xapi;

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use projections::Projections;
use serde_json::json;
use store::blob::BlobStore;
use store::commands::Commands;
use store::db::Database;

pub use tokens::Signer;

/// Settings of the player.
#[derive(Debug, Clone)]
pub struct PlayerSettings {
    /// The public URL of the content origin, without a trailing slash.
    pub content_url: String,
    /// The public URL of the API origin, without a trailing slash: xAPI
    /// content reports to the LRS at `{api_url}/xapi/`, and learners are
    /// accounts on it. The server sets it from its own public URL.
    pub api_url: String,
    /// How often the page reports time on task.
    pub heartbeat_seconds: u64,
    /// How long a player session may record, from its start.
    pub session_lifetime: Duration,
    /// How long writes wait for views.
    pub consistency_timeout: Duration,
    /// The longest `cmi.suspend_data` stored (above the standard's SPM only
    /// if raised here).
    pub suspend_data_limit: Option<usize>,
}

impl Default for PlayerSettings {
    fn default() -> Self {
        PlayerSettings {
            content_url: "http://127.0.0.1:8081".into(),
            api_url: "http://127.0.0.1:8080".into(),
            heartbeat_seconds: 30,
            session_lifetime: Duration::from_secs(24 * 3600),
            consistency_timeout: Duration::from_secs(5),
            suspend_data_limit: None,
        }
    }
}

/// What the player's handlers share.
#[derive(Clone)]
pub struct PlayerState(Arc<Inner>);

pub struct Inner {
    pub db: Database,
    pub blobs: BlobStore,
    pub projections: Projections,
    pub commands: Commands,
    pub signer: Signer,
    pub settings: PlayerSettings,
    pub files: content::FileCache,
    /// Course versions are immutable: their parsed structure is kept.
    pub courses: runtime::CourseCache,
}

impl std::ops::Deref for PlayerState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl PlayerState {
    pub fn new(
        db: Database,
        blobs: BlobStore,
        projections: Projections,
        commands: Commands,
        signer: Signer,
        settings: PlayerSettings,
    ) -> PlayerState {
        PlayerState(Arc::new(Inner {
            db,
            blobs,
            projections,
            commands,
            signer,
            settings,
            files: content::FileCache::new(64 * 1024 * 1024, 1024 * 1024),
            courses: runtime::CourseCache::new(256),
        }))
    }
}

/// The content origin's routes.
pub fn router(state: PlayerState) -> Router {
    Router::new()
        .route("/launch/{token}", get(page::launch))
        .route("/player/model/{version}", get(page::model))
        .route("/player/{*file}", get(page::asset))
        .route("/runtime/sessions", post(runtime::start_session))
        .route("/runtime/{token}/deliver", post(runtime::deliver))
        .route("/runtime/{token}/commit", post(runtime::commit))
        .route("/runtime/{token}/navigate", post(runtime::navigate))
        .route("/runtime/{token}/heartbeat", post(runtime::heartbeat))
        .route("/content/{token}/{*path}", get(content::file))
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .with_state(state)
}

/// An error of the runtime endpoints: `{"error": {"code", "message"}}`.
#[derive(Debug)]
pub struct PlayerError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl PlayerError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> PlayerError {
        PlayerError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn internal(err: impl std::fmt::Display) -> PlayerError {
        tracing::error!(error = %err, "player internal error");
        PlayerError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "an internal error occurred; it has been logged",
        )
    }
}

impl From<store::StoreError> for PlayerError {
    fn from(err: store::StoreError) -> Self {
        PlayerError::internal(err)
    }
}

impl IntoResponse for PlayerError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": {"code": self.code, "message": self.message}})),
        )
            .into_response()
    }
}
