//! The one place where errors become HTTP responses.
//!
//! Every error answers `{"error": {"code": "stable_snake_case", "message":
//! "a human sentence"}}` with its status. Internal errors are logged with
//! their cause chain and shown as an opaque message: nothing internal leaks
//! in a 500.

use std::borrow::Cow;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::course::{CourseError, ImportError};
use domain::registration::RegistrationError;
use domain::webhook::WebhookError;
use domain::workspace::WorkspaceError;
use projections::WaitError;
use serde::Serialize;
use store::StoreError;
use utoipa::ToSchema;

use store::commands::CommandError;

/// An error answer of the API.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: Cow<'static, str>,
    pub message: String,
    /// Seconds after which a retry may succeed (`Retry-After`).
    pub retry_after: Option<u64>,
    /// The cause of a 500, for the log only.
    pub internal: Option<anyhow::Error>,
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable snake_case code.
    #[schema(example = "not_found")]
    pub code: String,
    /// A sentence for people.
    pub message: String,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
            retry_after: None,
            internal: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn rate_limited(retry_after: u64) -> ApiError {
        ApiError {
            retry_after: Some(retry_after),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests for this API key; retry after a pause",
            )
        }
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> ApiError {
        ApiError {
            internal: Some(err.into()),
            ..ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "an internal error occurred; it has been logged",
            )
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(err) = &self.internal {
            tracing::error!(error = format!("{err:#}"), "internal error");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.into_owned(),
                message: self.message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        ApiError::internal(err)
    }
}

impl From<WaitError> for ApiError {
    fn from(err: WaitError) -> Self {
        match err {
            WaitError::Timeout { name, .. } => ApiError {
                retry_after: Some(1),
                ..ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "consistency_timeout",
                    format!(
                        "the {name} view has not caught up with the requested position yet; retry shortly"
                    ),
                )
            },
            WaitError::Stopped { name, .. } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "projection_stopped",
                format!("the {name} view is stopped; see /readyz"),
            ),
            WaitError::Unknown(_) | WaitError::Store(_) => ApiError::internal(err),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the request body must be JSON with Content-Type: application/json",
            ),
            JsonRejection::JsonSyntaxError(e) => ApiError::bad_request(
                "invalid_json",
                format!("the body is not valid JSON: {}", e.body_text()),
            ),
            JsonRejection::JsonDataError(e) => {
                ApiError::unprocessable("invalid_body", e.body_text())
            }
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => payload_too_large(),
            other => ApiError::bad_request("invalid_body", other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::bad_request("invalid_query", rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::bad_request("invalid_path", rejection.body_text())
    }
}

pub fn payload_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "the request body is larger than this endpoint accepts",
    )
}

/// Maps a command error; `rejected` maps the aggregate's own refusals.
fn command_error<E: std::error::Error + Send + Sync + 'static>(
    err: CommandError<E>,
    rejected: impl FnOnce(E) -> ApiError,
) -> ApiError {
    {
        match err {
            CommandError::Rejected(err) => rejected(err),
            CommandError::Conflict => ApiError::conflict(
                "concurrent_update",
                "the resource changed concurrently; retry the request",
            ),
            CommandError::Internal(err) => ApiError::internal(err),
        }
    }
}

impl From<CommandError<WorkspaceError>> for ApiError {
    fn from(err: CommandError<WorkspaceError>) -> Self {
        command_error(err, |err| {
            let message = err.to_string();
            match err {
                WorkspaceError::AlreadyCreated => ApiError::conflict("workspace_exists", message),
                WorkspaceError::NotCreated => ApiError::not_found("workspace_not_found", message),
                WorkspaceError::EmptyName | WorkspaceError::NameTooLong => {
                    ApiError::unprocessable("invalid_workspace_name", message)
                }
                WorkspaceError::LabelTooLong => ApiError::unprocessable("invalid_label", message),
                WorkspaceError::DuplicateKey(_) => ApiError::conflict("api_key_exists", message),
                WorkspaceError::UnknownKey(_) => ApiError::not_found("api_key_not_found", message),
                WorkspaceError::AlreadyRevoked(_) => ApiError::conflict("api_key_revoked", message),
                WorkspaceError::LastActiveKey(_) => ApiError::conflict("last_active_key", message),
            }
        })
    }
}

impl From<CommandError<ImportError>> for ApiError {
    fn from(err: CommandError<ImportError>) -> Self {
        command_error(err, |err| {
            let message = err.to_string();
            match err {
                ImportError::AlreadyStarted(_) | ImportError::AlreadyFailed(_) => {
                    ApiError::conflict("import_exists", message)
                }
                ImportError::NotStarted => ApiError::not_found("import_not_found", message),
                ImportError::TitleTooLong => ApiError::unprocessable("invalid_title", message),
            }
        })
    }
}

impl From<CommandError<CourseError>> for ApiError {
    fn from(err: CommandError<CourseError>) -> Self {
        command_error(err, |err| {
            let message = err.to_string();
            match err {
                CourseError::NotFound => ApiError::not_found("course_not_found", message),
                CourseError::EmptyTitle | CourseError::TitleTooLong => {
                    ApiError::unprocessable("invalid_title", message)
                }
                CourseError::TooManyTags | CourseError::InvalidTag(_) => {
                    ApiError::unprocessable("invalid_tags", message)
                }
            }
        })
    }
}

impl From<CommandError<RegistrationError>> for ApiError {
    fn from(err: CommandError<RegistrationError>) -> Self {
        command_error(err, |err| {
            let message = err.to_string();
            let code = err.code();
            match err {
                RegistrationError::NotFound | RegistrationError::UnknownSession(_) => {
                    ApiError::not_found(code, message)
                }
                RegistrationError::InvalidId
                | RegistrationError::InvalidLearner
                | RegistrationError::InvalidContext { .. }
                | RegistrationError::Sequencing(_) => ApiError::unprocessable(code, message),
                RegistrationError::Conflicting(_)
                | RegistrationError::NotCurrentActivity(_)
                | RegistrationError::NotSequenced
                | RegistrationError::SessionSuperseded(_)
                | RegistrationError::SessionEnded(_)
                | RegistrationError::BatchOutOfOrder { .. }
                | RegistrationError::NotDelivered(_)
                | RegistrationError::StaleDelivery(_) => ApiError::conflict(code, message),
            }
        })
    }
}

impl From<CommandError<WebhookError>> for ApiError {
    fn from(err: CommandError<WebhookError>) -> Self {
        command_error(err, |err| {
            let message = err.to_string();
            match err {
                WebhookError::AlreadyCreated => ApiError::conflict("webhook_exists", message),
                WebhookError::NotFound => ApiError::not_found("webhook_not_found", message),
                WebhookError::InvalidUrl(_) => {
                    ApiError::unprocessable("invalid_webhook_url", message)
                }
                WebhookError::UnknownEventType(_) => {
                    ApiError::unprocessable("unknown_event_type", message)
                }
                WebhookError::DescriptionTooLong => {
                    ApiError::unprocessable("invalid_description", message)
                }
                WebhookError::InvalidGrace => {
                    ApiError::unprocessable("invalid_grace_period", message)
                }
                WebhookError::InvalidWindow => {
                    ApiError::unprocessable("invalid_replay_window", message)
                }
                WebhookError::ReplayTooLarge(_) => {
                    ApiError::unprocessable("replay_too_large", message)
                }
            }
        })
    }
}

impl From<crate::webhooks::target::TargetError> for ApiError {
    fn from(err: crate::webhooks::target::TargetError) -> Self {
        use crate::webhooks::target::TargetError;
        let message = err.to_string();
        match err {
            TargetError::Invalid(_) => ApiError::unprocessable("invalid_webhook_url", message),
            TargetError::Private { .. } => {
                ApiError::unprocessable("webhook_target_refused", message)
            }
            TargetError::Unresolvable(_) => {
                ApiError::unprocessable("webhook_target_unresolvable", message)
            }
        }
    }
}

/// Gives framework-made error responses (unknown route, wrong method, body
/// too large, timeout) the same JSON shape as ours.
pub async fn json_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("not_found", "no such resource"),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this resource does not accept that method",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large",
            "the request body is larger than this endpoint accepts",
        ),
        StatusCode::REQUEST_TIMEOUT => ("request_timeout", "the request took too long"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "this content type is not accepted here",
        ),
        s if s.is_server_error() => (
            "internal_error",
            "an internal error occurred; it has been logged",
        ),
        _ => ("bad_request", "the request is not valid"),
    };
    let mut json = ApiError::new(status, code, message).into_response();
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            json.headers_mut().insert(name.clone(), value.clone());
        }
    }
    json
}

impl From<crate::lrs::LrsError> for ApiError {
    fn from(err: crate::lrs::LrsError) -> Self {
        use crate::lrs::LrsError;
        use domain::lrs::document::DocumentError;
        use domain::xapi::document::PreconditionError;
        let message = err.to_string();
        match err {
            LrsError::Invalid(errors) => {
                let first = errors.first();
                ApiError::bad_request(
                    first.code.as_str(),
                    format!("{} ({})", first.message, first.path),
                )
            }
            LrsError::StatementConflict { .. } => ApiError::conflict("statement_conflict", message),
            LrsError::Forbidden(_) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", message),
            LrsError::Document(DocumentError::Precondition(PreconditionError::Failed(_))) => {
                ApiError::new(
                    StatusCode::PRECONDITION_FAILED,
                    "precondition_failed",
                    message,
                )
            }
            LrsError::Document(DocumentError::Precondition(
                PreconditionError::MissingPrecondition,
            )) => ApiError::conflict("precondition_required", message),
            LrsError::Document(DocumentError::Merge(_)) => {
                ApiError::bad_request("cannot_merge", message)
            }
            LrsError::Document(DocumentError::TooLarge) => payload_too_large(),
            LrsError::Document(DocumentError::PreconditionRequired) => {
                ApiError::bad_request("precondition_required", message)
            }
            LrsError::Concurrent => ApiError::conflict("concurrent_update", message),
            LrsError::Store(err) => ApiError::internal(err),
            LrsError::Internal(err) => ApiError::internal(err),
        }
    }
}

impl From<CommandError<domain::lrs::credential::LrsCredentialError>> for ApiError {
    fn from(err: CommandError<domain::lrs::credential::LrsCredentialError>) -> Self {
        use domain::lrs::credential::LrsCredentialError as E;
        command_error(err, |err| {
            let message = err.to_string();
            match err {
                E::Duplicate(_) => ApiError::conflict("lrs_credential_exists", message),
                E::Unknown(_) => ApiError::not_found("lrs_credential_not_found", message),
                E::AlreadyRevoked(_) => ApiError::conflict("lrs_credential_revoked", message),
                E::NoScopes | E::UnknownScope(_) => {
                    ApiError::unprocessable("invalid_scopes", message)
                }
                E::LabelTooLong => ApiError::unprocessable("invalid_label", message),
            }
        })
    }
}

impl From<CommandError<domain::lrs::launch::LaunchTokenError>> for ApiError {
    fn from(err: CommandError<domain::lrs::launch::LaunchTokenError>) -> Self {
        use domain::lrs::launch::LaunchTokenError as E;
        command_error(err, |err| {
            let message = err.to_string();
            match err {
                E::AlreadyIssued | E::AlreadyRevoked => {
                    ApiError::conflict("launch_token_exists", message)
                }
                E::NotIssued => ApiError::not_found("launch_token_not_found", message),
                E::InvalidActor(_) => ApiError::unprocessable("invalid_actor", message),
                E::InvalidActivity => ApiError::unprocessable("invalid_activity_id", message),
                E::ExpiresBeforeIssued => ApiError::unprocessable("invalid_expiry", message),
            }
        })
    }
}

impl From<CommandError<domain::lrs::forwarding::ForwardingError>> for ApiError {
    fn from(err: CommandError<domain::lrs::forwarding::ForwardingError>) -> Self {
        use domain::lrs::forwarding::ForwardingError as E;
        command_error(err, |err| {
            let message = err.to_string();
            match err {
                E::InvalidEndpoint(_) => ApiError::unprocessable("invalid_endpoint", message),
                E::InvalidVersion(_) => ApiError::unprocessable("invalid_xapi_version", message),
                E::InvalidAuthorization => {
                    ApiError::unprocessable("invalid_authorization", message)
                }
                E::NotConfigured => ApiError::not_found("forwarding_not_configured", message),
            }
        })
    }
}
