//! Workspaces and their API keys (projection `workspaces`).

use chrono::{DateTime, SecondsFormat, Utc};
use domain::events::Event;
use domain::tenancy::{Environment, Scope, WorkspaceId};
use domain::workspace::WorkspaceEvent;
use store::StoreError;
use store::db::{Database, Row, Tx, sql};

use crate::runtime::{Envelope, Projection, ProjectionError};

pub struct WorkspacesView;

#[async_trait::async_trait]
impl Projection for WorkspacesView {
    fn name(&self) -> &'static str {
        "workspaces"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["workspaces", "api_keys"]
    }

    fn handles(&self, event_type: &str) -> bool {
        domain::events::kind_of(event_type).is_some_and(|k| k.aggregate == "workspace")
    }

    async fn apply(&self, tx: &mut Tx, envelope: &Envelope<'_>) -> Result<(), ProjectionError> {
        let Event::Workspace(event) = &envelope.event else {
            return Ok(());
        };
        let workspace_id = envelope
            .record
            .metadata
            .workspace_id
            .ok_or_else(|| {
                ProjectionError::Inconsistent("workspace event without a workspace id".into())
            })?
            .to_string();
        match event {
            WorkspaceEvent::WorkspaceCreated { name, at, .. } => {
                tx.execute(
                    sql("INSERT INTO workspaces (workspace_id, name, created_at) VALUES ($1, $2, $3)")
                        .bind(workspace_id)
                        .bind(name)
                        .bind(timestamp(at)),
                )
                .await?;
            }
            WorkspaceEvent::WorkspaceRenamed { name, .. } => {
                tx.execute(
                    sql("UPDATE workspaces SET name = $2 WHERE workspace_id = $1")
                        .bind(workspace_id)
                        .bind(name),
                )
                .await?;
            }
            WorkspaceEvent::ApiKeyCreated {
                key_id,
                environment,
                label,
                hint,
                hash,
                at,
            } => {
                tx.execute(
                    sql("INSERT INTO api_keys (workspace_id, key_id, environment, label, hint, hash, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)")
                    .bind(workspace_id)
                    .bind(key_id)
                    .bind(environment.as_str())
                    .bind(label.clone())
                    .bind(hint)
                    .bind(hash)
                    .bind(timestamp(at)),
                )
                .await?;
            }
            WorkspaceEvent::ApiKeyRevoked { key_id, at, .. } => {
                tx.execute(
                    sql("UPDATE api_keys SET revoked_at = $3 WHERE workspace_id = $1 AND key_id = $2")
                        .bind(workspace_id)
                        .bind(key_id)
                        .bind(timestamp(at)),
                )
                .await?;
            }
        }
        Ok(())
    }
}

/// A workspace as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceRow {
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub created_at: String,
}

/// An API key as the API lists it (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRow {
    pub key_id: String,
    pub environment: Environment,
    pub label: Option<String>,
    pub hint: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// What an API key authenticates as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyGrant {
    pub scope: Scope,
    pub key_id: String,
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

/// Finds the active key whose hash is `hash`: the one lookup that is not
/// scoped, since it is how a request's scope is found.
pub async fn find_active_key(db: &Database, hash: &str) -> Result<Option<KeyGrant>, StoreError> {
    let row = db
        .fetch_optional(
            sql("SELECT workspace_id, environment, key_id FROM api_keys WHERE hash = $1 AND revoked_at IS NULL")
                .bind(hash),
        )
        .await?;
    row.map(|row| {
        let workspace_id: String = row.get(0)?;
        let environment: String = row.get(1)?;
        Ok(KeyGrant {
            scope: Scope::new(
                workspace_id
                    .parse()
                    .map_err(|_| corrupt("api_keys.workspace_id"))?,
                environment
                    .parse()
                    .map_err(|_| corrupt("api_keys.environment"))?,
            ),
            key_id: row.get(2)?,
        })
    })
    .transpose()
}

/// The workspace the scope belongs to.
pub async fn workspace(db: &Database, scope: &Scope) -> Result<Option<WorkspaceRow>, StoreError> {
    let row = db
        .fetch_optional(
            sql("SELECT workspace_id, name, created_at FROM workspaces WHERE workspace_id = $1")
                .bind(scope.workspace_id().to_string()),
        )
        .await?;
    row.map(|row| {
        let id: String = row.get(0)?;
        Ok(WorkspaceRow {
            workspace_id: id.parse().map_err(|_| corrupt("workspaces.workspace_id"))?,
            name: row.get(1)?,
            created_at: row.get(2)?,
        })
    })
    .transpose()
}

fn key_row(row: &Row) -> Result<ApiKeyRow, StoreError> {
    let environment: String = row.get(1)?;
    Ok(ApiKeyRow {
        key_id: row.get(0)?,
        environment: environment
            .parse()
            .map_err(|_| corrupt("api_keys.environment"))?,
        label: row.get(2)?,
        hint: row.get(3)?,
        created_at: row.get(4)?,
        revoked_at: row.get(5)?,
    })
}

const KEY_COLUMNS: &str = "key_id, environment, label, hint, created_at, revoked_at";

/// The keys of the scope's environment, oldest first.
pub async fn api_keys(db: &Database, scope: &Scope) -> Result<Vec<ApiKeyRow>, StoreError> {
    let rows = db
        .fetch_all(
            sql(format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE workspace_id = $1 AND environment = $2 \
                 ORDER BY created_at, key_id"
            ))
            .bind(scope.workspace_id().to_string())
            .bind(scope.environment().as_str()),
        )
        .await?;
    rows.iter().map(key_row).collect()
}

/// One key of the scope's environment.
pub async fn api_key(
    db: &Database,
    scope: &Scope,
    key_id: &str,
) -> Result<Option<ApiKeyRow>, StoreError> {
    let row = db
        .fetch_optional(
            sql(format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE workspace_id = $1 AND environment = $2 AND key_id = $3"
            ))
            .bind(scope.workspace_id().to_string())
            .bind(scope.environment().as_str())
            .bind(key_id),
        )
        .await?;
    row.as_ref().map(key_row).transpose()
}

/// Timestamps in views: RFC 3339, UTC, milliseconds.
pub fn timestamp(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}
