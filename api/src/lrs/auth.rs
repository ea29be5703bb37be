//! Who is calling the LRS, from an `Authorization` header:
//! - `Basic` with an LRS credential (`lrs_…` and its secret): the credential's scopes;
//! - `Basic` with a launch token (`launch_…` and its secret): one actor and registration;
//! - `Bearer` with a workspace API key (`ac_live_…`, `ac_test_…`): everything.
//!
//! Each gives a [`LrsCaller`] whose [`Scope`] is the only workspace environment it can reach.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use domain::events::EventMetadata;
use domain::lrs::credential::{LrsScope, Permissions, authority};
use domain::lrs::launch::LaunchRestriction;
use domain::tenancy::Scope;
use domain::workspace::hash_api_key;
use domain::xapi::agent::Ifi;
use serde_json::Value;

use crate::error::ApiError;
use crate::keys::claimed_environment;
use crate::state::AppState;

/// An authenticated LRS caller.
#[derive(Debug, Clone)]
pub struct LrsCaller {
    pub scope: Scope,
    pub permissions: Permissions,
    /// Set for launch tokens: the actor and registration the caller is confined to.
    pub restriction: Option<LaunchRestriction>,
    /// The `authority` written into the statements this caller stores.
    pub authority: Value,
    /// The identifier key of [`authority`](Self::authority), for `statements/read/mine`.
    pub authority_key: String,
    /// `lrs:<credential>`, `key:<api key>` or `launch:<token>`, for event metadata.
    pub actor: String,
    pub request_id: String,
}

impl LrsCaller {
    /// Metadata for the events this caller's request appends.
    pub fn metadata(&self) -> EventMetadata {
        EventMetadata::scoped(self.scope)
            .with_actor(&self.actor)
            .with_request_id(&self.request_id)
            .with_correlation_id(&self.request_id)
    }

    /// Authenticates an `Authorization` header value.
    pub async fn authenticate(
        state: &AppState,
        authorization: Option<&str>,
        request_id: String,
    ) -> Result<LrsCaller, ApiError> {
        let header = authorization.ok_or_else(|| {
            ApiError::unauthorized(
                "missing_credentials",
                "send LRS credentials as Authorization: Basic, or a workspace API key as Bearer",
            )
        })?;
        let home_page = state.settings.public_url.clone();
        let (scheme, value) = header.trim().split_once(' ').unwrap_or((header, ""));
        let value = value.trim();
        let caller = if scheme.eq_ignore_ascii_case("bearer") {
            bearer(state, value, &home_page).await?
        } else if scheme.eq_ignore_ascii_case("basic") {
            basic(state, value, &home_page).await?
        } else {
            return Err(invalid());
        };
        state.limiter.check(&caller.actor)?;
        Ok(LrsCaller {
            request_id,
            ..caller
        })
    }
}

fn invalid() -> ApiError {
    ApiError::unauthorized(
        "invalid_credentials",
        "the LRS credentials are not valid, expired or revoked",
    )
}

fn caller(scope: Scope, permissions: Permissions, authority: Value, actor: String) -> LrsCaller {
    let authority_key = Ifi::of(&authority)
        .map(|i| i.key())
        .expect("an authority account has one identifier");
    LrsCaller {
        scope,
        permissions,
        restriction: None,
        authority,
        authority_key,
        actor,
        request_id: String::new(),
    }
}

async fn bearer(state: &AppState, secret: &str, home_page: &str) -> Result<LrsCaller, ApiError> {
    let claimed = claimed_environment(secret).ok_or_else(invalid)?;
    let grant = projections::workspaces::find_active_key(&state.platform.db, &hash_api_key(secret))
        .await?
        .filter(|grant| grant.scope.environment() == claimed)
        .ok_or_else(invalid)?;
    let name = format!("key:{}", grant.key_id);
    Ok(caller(
        grant.scope,
        Permissions::all(),
        authority(home_page, &name, &format!("API key {}", grant.key_id)),
        name,
    ))
}

async fn basic(state: &AppState, value: &str, home_page: &str) -> Result<LrsCaller, ApiError> {
    let decoded = STANDARD
        .decode(value)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(invalid)?;
    let (user, secret) = decoded.split_once(':').ok_or_else(invalid)?;
    let hash = hash_api_key(secret);
    if user.starts_with("launch_") {
        let grant = projections::lrs::credentials::find_launch_token(&state.platform.db, user)
            .await?
            .filter(|g| constant_time_eq(&g.secret_hash, &hash) && g.expires_at > Utc::now())
            .ok_or_else(invalid)?;
        let actor = Ifi::of(&grant.actor).ok_or_else(invalid)?;
        let name = format!("launch:{}", grant.token_id);
        let mut launched = caller(
            grant.scope,
            Permissions::new([
                LrsScope::StatementsWrite,
                LrsScope::StatementsReadMine,
                LrsScope::State,
                LrsScope::Profile,
            ]),
            authority(home_page, &name, "launched content"),
            name,
        );
        launched.restriction = Some(LaunchRestriction {
            actor,
            registration: grant.registration,
        });
        return Ok(launched);
    }
    let grant = projections::lrs::credentials::find_active_credential(&state.platform.db, user)
        .await?
        .filter(|g| constant_time_eq(&g.secret_hash, &hash))
        .ok_or_else(invalid)?;
    let scopes = grant
        .scopes
        .iter()
        .filter_map(|s| LrsScope::parse(s))
        .collect::<Vec<_>>();
    let label = grant.label.unwrap_or_else(|| grant.credential_id.clone());
    Ok(caller(
        grant.scope,
        Permissions::new(scopes),
        authority(home_page, &grant.credential_id, &label),
        format!("lrs:{}", grant.credential_id),
    ))
}

/// Compares two hashes without an early exit.
fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
