//! LRS credentials and launch tokens (projection `lrs_credentials`).

use chrono::{DateTime, Utc};
use domain::events::Event;
use domain::lrs::credential::LrsCredentialEvent;
use domain::lrs::launch::LaunchTokenEvent;
use domain::tenancy::Scope;
use serde_json::Value as Json;
use store::StoreError;
use store::db::{Database, Row, Tx, sql};
use uuid::Uuid;

use super::{aggregate_of, scope_of};
use crate::runtime::{Envelope, Projection, ProjectionError};
use crate::workspaces::timestamp;

pub struct CredentialsView;

/// The token id part of a launch token stream id.
fn token_id(stream_id: &str) -> &str {
    stream_id.rsplit(':').next().unwrap_or(stream_id)
}

#[async_trait::async_trait]
impl Projection for CredentialsView {
    fn name(&self) -> &'static str {
        "lrs_credentials"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["lrs_credentials", "lrs_launch_tokens"]
    }

    fn handles(&self, event_type: &str) -> bool {
        matches!(
            aggregate_of(event_type),
            Some("lrs_credentials" | "lrs_launch_token")
        )
    }

    async fn apply(&self, tx: &mut Tx, envelope: &Envelope<'_>) -> Result<(), ProjectionError> {
        match &envelope.event {
            Event::LrsCredential(event) => {
                let scope = scope_of(envelope)?;
                match event {
                    LrsCredentialEvent::LrsCredentialCreated {
                        credential_id,
                        label,
                        scopes,
                        hint,
                        secret_hash,
                        at,
                    } => {
                        tx.execute(
                            sql("INSERT INTO lrs_credentials (workspace_id, environment, credential_id, \
                                 label, scopes, hint, secret_hash, created_at) \
                                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                            .bind(scope.workspace_id().to_string())
                            .bind(scope.environment().as_str())
                            .bind(credential_id)
                            .bind(label.clone())
                            .bind(scopes.join(" "))
                            .bind(hint)
                            .bind(secret_hash)
                            .bind(timestamp(at)),
                        )
                        .await?;
                    }
                    LrsCredentialEvent::LrsCredentialRevoked { credential_id, at } => {
                        tx.execute(
                            sql("UPDATE lrs_credentials SET revoked_at = $4 WHERE workspace_id = $1 \
                                 AND environment = $2 AND credential_id = $3")
                            .bind(scope.workspace_id().to_string())
                            .bind(scope.environment().as_str())
                            .bind(credential_id)
                            .bind(timestamp(at)),
                        )
                        .await?;
                    }
                }
            }
            Event::LrsLaunchToken(event) => {
                let scope = scope_of(envelope)?;
                match event {
                    LaunchTokenEvent::LaunchTokenIssued {
                        token_id,
                        secret_hash,
                        actor,
                        registration,
                        activity_id,
                        expires_at,
                        at,
                    } => {
                        tx.execute(
                            sql("INSERT INTO lrs_launch_tokens (workspace_id, environment, token_id, \
                                 secret_hash, actor, registration, activity_id, expires_at, issued_at) \
                                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
                            .bind(scope.workspace_id().to_string())
                            .bind(scope.environment().as_str())
                            .bind(token_id)
                            .bind(secret_hash)
                            .bind(actor.to_string())
                            .bind(registration.to_string())
                            .bind(activity_id)
                            .bind(timestamp(expires_at))
                            .bind(timestamp(at)),
                        )
                        .await?;
                    }
                    LaunchTokenEvent::LaunchTokenRevoked { at } => {
                        tx.execute(
                            sql("UPDATE lrs_launch_tokens SET revoked_at = $4 WHERE workspace_id = $1 \
                                 AND environment = $2 AND token_id = $3")
                            .bind(scope.workspace_id().to_string())
                            .bind(scope.environment().as_str())
                            .bind(token_id(&envelope.record.stream_id))
                            .bind(timestamp(at)),
                        )
                        .await?;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// A credential as the API lists it (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialRow {
    pub credential_id: String,
    pub label: Option<String>,
    pub scopes: Vec<String>,
    pub hint: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

const CREDENTIAL_COLUMNS: &str = "credential_id, label, scopes, hint, created_at, revoked_at";

fn credential_row(row: &Row) -> Result<CredentialRow, StoreError> {
    let scopes: String = row.get(2)?;
    Ok(CredentialRow {
        credential_id: row.get(0)?,
        label: row.get(1)?,
        scopes: scopes.split_whitespace().map(str::to_owned).collect(),
        hint: row.get(3)?,
        created_at: row.get(4)?,
        revoked_at: row.get(5)?,
    })
}

/// The credentials of `scope`, oldest first.
pub async fn credentials(db: &Database, scope: &Scope) -> Result<Vec<CredentialRow>, StoreError> {
    let rows = db
        .fetch_all(
            sql(format!(
                "SELECT {CREDENTIAL_COLUMNS} FROM lrs_credentials WHERE workspace_id = $1 \
                 AND environment = $2 ORDER BY created_at, credential_id"
            ))
            .bind(scope.workspace_id().to_string())
            .bind(scope.environment().as_str()),
        )
        .await?;
    rows.iter().map(credential_row).collect()
}

/// One credential of `scope`.
pub async fn credential(
    db: &Database,
    scope: &Scope,
    credential_id: &str,
) -> Result<Option<CredentialRow>, StoreError> {
    let row = db
        .fetch_optional(
            sql(format!(
                "SELECT {CREDENTIAL_COLUMNS} FROM lrs_credentials WHERE workspace_id = $1 \
                 AND environment = $2 AND credential_id = $3"
            ))
            .bind(scope.workspace_id().to_string())
            .bind(scope.environment().as_str())
            .bind(credential_id),
        )
        .await?;
    row.as_ref().map(credential_row).transpose()
}

/// What an active credential authenticates as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialGrant {
    pub scope: Scope,
    pub credential_id: String,
    pub label: Option<String>,
    pub scopes: Vec<String>,
    pub secret_hash: String,
}

fn parse_scope(workspace: String, environment: String) -> Result<Scope, StoreError> {
    Ok(Scope::new(
        workspace
            .parse()
            .map_err(|_| StoreError::Corrupt("lrs workspace_id".into()))?,
        environment
            .parse()
            .map_err(|_| StoreError::Corrupt("lrs environment".into()))?,
    ))
}

/// Finds the active credential `credential_id`: like
/// [`find_active_key`](crate::workspaces::find_active_key), not scoped, since it is how an
/// LRS request's scope is found. The caller compares the secret's hash.
pub async fn find_active_credential(
    db: &Database,
    credential_id: &str,
) -> Result<Option<CredentialGrant>, StoreError> {
    let row = db
        .fetch_optional(
            sql(
                "SELECT workspace_id, environment, credential_id, label, scopes, secret_hash \
                 FROM lrs_credentials WHERE credential_id = $1 AND revoked_at IS NULL",
            )
            .bind(credential_id),
        )
        .await?;
    row.map(|row| {
        let scopes: String = row.get(4)?;
        Ok(CredentialGrant {
            scope: parse_scope(row.get(0)?, row.get(1)?)?,
            credential_id: row.get(2)?,
            label: row.get(3)?,
            scopes: scopes.split_whitespace().map(str::to_owned).collect(),
            secret_hash: row.get(5)?,
        })
    })
    .transpose()
}

/// What a launch token authenticates as.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchGrant {
    pub scope: Scope,
    pub token_id: String,
    pub secret_hash: String,
    pub actor: Json,
    pub registration: Uuid,
    pub activity_id: String,
    pub expires_at: DateTime<Utc>,
}

/// Finds the unrevoked launch token `token_id` (not scoped, like
/// [`find_active_credential`]); the caller checks its secret and expiry.
pub async fn find_launch_token(
    db: &Database,
    token_id: &str,
) -> Result<Option<LaunchGrant>, StoreError> {
    let row = db
        .fetch_optional(
            sql(
                "SELECT workspace_id, environment, token_id, secret_hash, actor, registration, \
                 activity_id, expires_at FROM lrs_launch_tokens \
                 WHERE token_id = $1 AND revoked_at IS NULL",
            )
            .bind(token_id),
        )
        .await?;
    row.map(|row| {
        let corrupt = |what: &str| StoreError::Corrupt(format!("lrs_launch_tokens.{what}"));
        let actor: String = row.get(4)?;
        let registration: String = row.get(5)?;
        let expires_at: String = row.get(7)?;
        Ok(LaunchGrant {
            scope: parse_scope(row.get(0)?, row.get(1)?)?,
            token_id: row.get(2)?,
            secret_hash: row.get(3)?,
            actor: serde_json::from_str(&actor).map_err(|_| corrupt("actor"))?,
            registration: registration.parse().map_err(|_| corrupt("registration"))?,
            activity_id: row.get(6)?,
            expires_at: DateTime::parse_from_rfc3339(&expires_at)
                .map_err(|_| corrupt("expires_at"))?
                .with_timezone(&Utc),
        })
    })
    .transpose()
}
