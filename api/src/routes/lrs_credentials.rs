//! `/api/v1/lrs-credentials`: HTTP Basic credentials for the caller's LRS, with xAPI scopes,
//! and `/api/v1/lrs-launch-tokens`: launch-scoped tokens.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::Utc;
use domain::lrs::credential::{LrsCredentialCommand, NewLrsCredential, aggregate_id};
use domain::workspace::hash_api_key;
use projections::lrs::credentials::CredentialRow;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{Caller, Consistent};
use crate::error::{ApiError, ErrorBody};
use crate::routes::{ApiJson, MaybeJson, Written};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct LrsCredentialBody {
    /// The HTTP Basic user name.
    pub id: String,
    pub label: Option<String>,
    /// xAPI scopes: `statements/write`, `statements/read`, `statements/read/mine`, `state`,
    /// `profile`, `all/read`, `all`.
    pub scopes: Vec<String>,
    /// A recognisable fragment of the secret; never the secret.
    pub hint: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

impl From<CredentialRow> for LrsCredentialBody {
    fn from(row: CredentialRow) -> Self {
        LrsCredentialBody {
            id: row.credential_id,
            label: row.label,
            scopes: row.scopes,
            hint: row.hint,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct LrsCredentialList {
    pub lrs_credentials: Vec<LrsCredentialBody>,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct CreateLrsCredential {
    pub label: Option<String>,
    /// Defaults to `["all"]`.
    pub scopes: Option<Vec<String>>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedLrsCredential {
    /// The HTTP Basic user name.
    pub id: String,
    /// The HTTP Basic password: shown this once, stored only as a hash.
    pub secret: String,
    /// The whole `Authorization` header value.
    pub authorization: String,
    /// The LRS endpoint to give to clients.
    pub endpoint: String,
    pub label: Option<String>,
    pub scopes: Vec<String>,
    pub hint: String,
}

/// The LRS credentials of the caller's environment, revoked ones included.
#[utoipa::path(get, path = "/lrs-credentials", tag = "lrs",
    params(("min_position" = Option<i64>, Query, description = "wait until the views show this log position")),
    responses((status = 200, body = LrsCredentialList), (status = 401, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_lrs_credentials(
    caller: Caller,
    _: Consistent,
    State(state): State<AppState>,
) -> Result<Json<LrsCredentialList>, ApiError> {
    let rows =
        projections::lrs::credentials::credentials(&state.platform.db, &caller.scope).await?;
    Ok(Json(LrsCredentialList {
        lrs_credentials: rows.into_iter().map(Into::into).collect(),
    }))
}

/// Creates an LRS credential in the caller's environment. The secret is in the answer and
/// nowhere else.
#[utoipa::path(post, path = "/lrs-credentials", tag = "lrs", request_body = CreateLrsCredential,
    responses(
        (status = 201, body = inline(Written<CreatedLrsCredential>)),
        (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("api_key" = [])))]
pub async fn create_lrs_credential(
    caller: Caller,
    State(state): State<AppState>,
    MaybeJson(body): MaybeJson<CreateLrsCredential>,
) -> Result<(StatusCode, Json<Written<CreatedLrsCredential>>), ApiError> {
    let body = body.unwrap_or_default();
    let scopes = body.scopes.unwrap_or_else(|| vec!["all".to_owned()]);
    let mut id = [0u8; 12];
    rand::rng().fill_bytes(&mut id);
    let credential_id = format!("lrs_{}", URL_SAFE_NO_PAD.encode(id));
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let secret = URL_SAFE_NO_PAD.encode(secret);
    let hint = format!("{}…{}", &secret[..4], &secret[secret.len() - 4..]);
    let checkpoint = state
        .platform
        .commands
        .lrs_credentials(
            &aggregate_id(&caller.scope),
            LrsCredentialCommand::Create {
                credential: NewLrsCredential {
                    credential_id: credential_id.clone(),
                    label: body.label,
                    scopes,
                    hint: hint.clone(),
                    secret_hash: hash_api_key(&secret),
                },
                at: Utc::now(),
            },
            &caller.metadata(),
        )
        .await?;
    state.settle("lrs_credentials", checkpoint).await;
    let row = projections::lrs::credentials::credential(
        &state.platform.db,
        &caller.scope,
        &credential_id,
    )
    .await?
    .ok_or_else(|| ApiError::internal(anyhow::anyhow!("the new credential is not in its view")))?;
    Ok((
        StatusCode::CREATED,
        Json(Written {
            data: CreatedLrsCredential {
                authorization: format!(
                    "Basic {}",
                    STANDARD.encode(format!("{credential_id}:{secret}"))
                ),
                endpoint: format!("{}/xapi/", state.settings.public_url),
                id: credential_id,
                secret,
                label: row.label,
                scopes: row.scopes,
                hint,
            },
            position: checkpoint.map_or(0, |c| c.position),
        }),
    ))
}

/// One LRS credential of the caller's environment.
#[utoipa::path(get, path = "/lrs-credentials/{id}", tag = "lrs",
    params(("id" = String, Path, description = "credential id")),
    responses((status = 200, body = LrsCredentialBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn get_lrs_credential(
    caller: Caller,
    _: Consistent,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<LrsCredentialBody>, ApiError> {
    projections::lrs::credentials::credential(&state.platform.db, &caller.scope, &id)
        .await?
        .map(|row| Json(row.into()))
        .ok_or_else(|| {
            ApiError::not_found(
                "lrs_credential_not_found",
                format!("no lrs credential {id} in this environment"),
            )
        })
}

/// Revokes an LRS credential at once.
#[utoipa::path(delete, path = "/lrs-credentials/{id}", tag = "lrs",
    params(("id" = String, Path, description = "credential id")),
    responses(
        (status = 204, description = "revoked"),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "already revoked", body = ErrorBody),
    ),
    security(("api_key" = [])))]
pub async fn revoke_lrs_credential(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let checkpoint = state
        .platform
        .commands
        .lrs_credentials(
            &aggregate_id(&caller.scope),
            LrsCredentialCommand::Revoke {
                credential_id: id,
                at: Utc::now(),
            },
            &caller.metadata(),
        )
        .await?;
    state.settle("lrs_credentials", checkpoint).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLaunchToken {
    /// The learner: an xAPI Agent with one identifier.
    #[schema(value_type = Object)]
    pub actor: serde_json::Value,
    pub registration: Uuid,
    /// The launched activity.
    pub activity_id: String,
    /// Lifetime; default 8 hours, at most 7 days.
    pub ttl_seconds: Option<u64>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedLaunchToken {
    pub token_id: String,
    /// The LRS endpoint, the launch's `endpoint` parameter.
    pub endpoint: String,
    /// The launch's `auth` parameter: an `Authorization` header value.
    pub auth: String,
    pub expires_at: String,
}

/// Issues a launch-scoped LRS token: it writes statements only for `actor` and
/// `registration`, and reads and writes only that learner's State of that registration.
/// (The player issues these itself when it launches xAPI and cmi5 content.)
#[utoipa::path(post, path = "/lrs-launch-tokens", tag = "lrs", request_body = CreateLaunchToken,
    responses(
        (status = 201, body = inline(Written<CreatedLaunchToken>)),
        (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("api_key" = [])))]
pub async fn create_launch_token(
    caller: Caller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateLaunchToken>,
) -> Result<(StatusCode, Json<Written<CreatedLaunchToken>>), ApiError> {
    let ttl = body.ttl_seconds.unwrap_or(8 * 3600);
    if ttl == 0 || ttl > 7 * 24 * 3600 {
        return Err(ApiError::unprocessable(
            "invalid_ttl",
            "ttl_seconds must be between 1 and 604800",
        ));
    }
    let issued = state
        .platform
        .lrs
        .issue_launch_token(
            &state.platform.commands,
            &caller.scope,
            body.actor,
            body.registration,
            &body.activity_id,
            Duration::from_secs(ttl),
            &caller.metadata(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(Written {
            data: CreatedLaunchToken {
                token_id: issued.token_id,
                endpoint: format!("{}/xapi/", state.settings.public_url),
                auth: issued.auth,
                expires_at: domain::xapi::syntax::format_utc(issued.expires_at),
            },
            position: issued.checkpoint.map_or(0, |c| c.position),
        }),
    ))
}
