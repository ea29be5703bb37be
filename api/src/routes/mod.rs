//! HTTP routes. Handlers extract, convert, execute: no SQL, no rules.

pub mod api_keys;
pub mod courses;
pub mod events;
pub mod health;
pub mod imports;
pub mod lrs_credentials;
pub mod lrs_forwarding;
pub mod registrations;
pub mod webhooks;
pub mod workspace;
pub mod xapi;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON body whose rejections are [`ApiError`]s.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// A query string whose rejections are [`ApiError`]s.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// An optional JSON body: none when the body is empty.
pub struct MaybeJson<T>(pub Option<T>);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for MaybeJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let has_body = request
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|v| v != "0");
        let has_type = request.headers().contains_key(CONTENT_TYPE);
        if !has_body || !has_type {
            // No content type: only an empty body is acceptable.
            let bytes = axum::body::Bytes::from_request(request, state)
                .await
                .map_err(|_| crate::error::payload_too_large())?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(MaybeJson(None));
            }
            return Err(ApiError::new(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the request body must be JSON with Content-Type: application/json",
            ));
        }
        let ApiJson(value) = ApiJson::<T>::from_request(request, state).await?;
        Ok(MaybeJson(Some(value)))
    }
}

/// Where a write landed in the log; pass it as `min_position` to a read to
/// see the write there.
#[derive(Debug, Serialize, ToSchema)]
pub struct Written<T> {
    #[serde(flatten)]
    pub data: T,
    /// Log position of the write's last event.
    pub position: i64,
}

/// The `/api/v1` routes with their OpenAPI description.
/// A page size from a query: `default` when absent, refused with
/// `invalid_limit` outside 1..=`max`.
fn page_limit(limit: Option<u32>, default: u32, max: u32) -> Result<u32, ApiError> {
    let limit = limit.unwrap_or(default);
    if limit == 0 || limit > max {
        return Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit must be between 1 and {max}"),
        ));
    }
    Ok(limit)
}

pub fn api_v1() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(workspace::get_workspace))
        .routes(routes!(api_keys::list_api_keys, api_keys::create_api_key))
        .routes(routes!(api_keys::get_api_key, api_keys::revoke_api_key))
        .routes(routes!(events::list_events))
        // Uploads stream to disk with their own limit (max_upload), not
        // the JSON body limit.
        .merge(
            OpenApiRouter::new()
                .routes(routes!(courses::upload_course, courses::list_courses))
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .routes(routes!(courses::import_from_url))
        .routes(routes!(
            courses::get_course,
            courses::update_course,
            courses::delete_course
        ))
        .routes(routes!(courses::list_files))
        .routes(routes!(courses::download_package))
        .routes(routes!(imports::get_import))
        .routes(routes!(
            registrations::create_registration,
            registrations::list_registrations
        ))
        .routes(routes!(
            registrations::get_registration,
            registrations::delete_registration
        ))
        .routes(routes!(registrations::reset_registration))
        .routes(routes!(registrations::launch_link))
        .routes(routes!(registrations::launches))
        .routes(routes!(registrations::progress))
        .routes(routes!(registrations::runtime_log))
        .routes(routes!(registrations::sequencing))
        .routes(routes!(webhooks::list_event_types))
        .routes(routes!(webhooks::list_webhooks, webhooks::create_webhook))
        .routes(routes!(
            webhooks::get_webhook,
            webhooks::update_webhook,
            webhooks::delete_webhook
        ))
        .routes(routes!(webhooks::rotate_secret))
        .routes(routes!(webhooks::test_webhook))
        .routes(routes!(webhooks::list_deliveries))
        .routes(routes!(webhooks::redeliver))
        .routes(routes!(webhooks::replay))
        .routes(routes!(
            lrs_credentials::list_lrs_credentials,
            lrs_credentials::create_lrs_credential
        ))
        .routes(routes!(
            lrs_credentials::get_lrs_credential,
            lrs_credentials::revoke_lrs_credential
        ))
        .routes(routes!(lrs_credentials::create_launch_token))
        .routes(routes!(
            lrs_forwarding::get_forwarding,
            lrs_forwarding::configure_forwarding,
            lrs_forwarding::remove_forwarding
        ))
}

/// Health routes (outside `/api/v1`).
pub fn health() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
}
