//! Forwarding targets (projection `lrs_forwarding`): where each workspace environment
//! forwards its statements, and from which point of the log.

use domain::events::Event;
use domain::lrs::forwarding::ForwardingEvent;
use domain::tenancy::Scope;
use store::StoreError;
use store::db::{Database, Row, Tx, sql};
use store::log::Checkpoint;

use super::{aggregate_of, scope_of};
use crate::runtime::{Envelope, Projection, ProjectionError};
use crate::workspaces::timestamp;

pub struct ForwardingView;

#[async_trait::async_trait]
impl Projection for ForwardingView {
    fn name(&self) -> &'static str {
        "lrs_forwarding"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["lrs_forwarding"]
    }

    fn handles(&self, event_type: &str) -> bool {
        aggregate_of(event_type) == Some("lrs_forwarding")
    }

    async fn apply(&self, tx: &mut Tx, envelope: &Envelope<'_>) -> Result<(), ProjectionError> {
        let Event::LrsForwarding(event) = &envelope.event else {
            return Ok(());
        };
        let scope = scope_of(envelope)?;
        match event {
            ForwardingEvent::ForwardingConfigured {
                endpoint,
                authorization,
                xapi_version,
                at,
            } => {
                // A change of target keeps the start: what was not forwarded yet goes to the
                // new target.
                tx.execute(
                    sql("INSERT INTO lrs_forwarding (workspace_id, environment, endpoint, auth_header, \
                         xapi_version, configured_at, start_tx, start_position) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                         ON CONFLICT (workspace_id, environment) DO UPDATE SET \
                         endpoint = excluded.endpoint, auth_header = excluded.auth_header, \
                         xapi_version = excluded.xapi_version, configured_at = excluded.configured_at")
                    .bind(scope.workspace_id().to_string())
                    .bind(scope.environment().as_str())
                    .bind(endpoint)
                    .bind(authorization.clone())
                    .bind(xapi_version)
                    .bind(timestamp(at))
                    .bind(envelope.record.tx)
                    .bind(envelope.record.position),
                )
                .await?;
            }
            ForwardingEvent::ForwardingRemoved { .. } => {
                tx.execute(
                    sql("DELETE FROM lrs_forwarding WHERE workspace_id = $1 AND environment = $2")
                        .bind(scope.workspace_id().to_string())
                        .bind(scope.environment().as_str()),
                )
                .await?;
            }
        }
        Ok(())
    }
}

/// A forwarding target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub scope: Scope,
    pub endpoint: String,
    /// The `Authorization` header to send (a secret of the external LRS).
    pub authorization: Option<String>,
    pub xapi_version: String,
    pub configured_at: String,
    /// Forwarding covers the statements after this point of the log.
    pub start: Checkpoint,
}

const COLUMNS: &str = "workspace_id, environment, endpoint, auth_header, xapi_version, configured_at, \
                       start_tx, start_position";

fn target(row: &Row) -> Result<Target, StoreError> {
    let workspace: String = row.get(0)?;
    let environment: String = row.get(1)?;
    Ok(Target {
        scope: Scope::new(
            workspace
                .parse()
                .map_err(|_| StoreError::Corrupt("lrs_forwarding.workspace_id".into()))?,
            environment
                .parse()
                .map_err(|_| StoreError::Corrupt("lrs_forwarding.environment".into()))?,
        ),
        endpoint: row.get(2)?,
        authorization: row.get(3)?,
        xapi_version: row.get(4)?,
        configured_at: row.get(5)?,
        start: Checkpoint {
            tx: row.get(6)?,
            position: row.get(7)?,
        },
    })
}

/// The forwarding target of `scope`.
pub async fn target_of(db: &Database, scope: &Scope) -> Result<Option<Target>, StoreError> {
    let row = db
        .fetch_optional(
            sql(format!(
                "SELECT {COLUMNS} FROM lrs_forwarding WHERE workspace_id = $1 AND environment = $2"
            ))
            .bind(scope.workspace_id().to_string())
            .bind(scope.environment().as_str()),
        )
        .await?;
    row.as_ref().map(target).transpose()
}

/// Every forwarding target: what the forwarder works through. Not scoped, like the key
/// lookups: the forwarder serves every workspace.
pub async fn all_targets(db: &Database) -> Result<Vec<Target>, StoreError> {
    let rows = db
        .fetch_all(sql(format!(
            "SELECT {COLUMNS} FROM lrs_forwarding ORDER BY workspace_id, environment"
        )))
        .await?;
    rows.iter().map(target).collect()
}

/// The forwarder's bookkeeping for one target (table `lrs_forwarder_status`, written by the
/// forwarder, not by a projection: like a projection checkpoint, replay leaves it alone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwarderStatus {
    /// The target's start position this status belongs to (a target removed and configured
    /// again starts over).
    pub start_position: i64,
    /// Every statement up to here has been forwarded.
    pub checkpoint: Checkpoint,
    pub forwarded: i64,
    /// Failed attempts since the last success.
    pub failures: i64,
    pub last_success_at: Option<String>,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
}

impl ForwarderStatus {
    /// Nothing forwarded yet for `target`.
    pub fn start(target: &Target) -> ForwarderStatus {
        ForwarderStatus {
            start_position: target.start.position,
            checkpoint: target.start,
            forwarded: 0,
            failures: 0,
            last_success_at: None,
            last_error: None,
            last_error_at: None,
        }
    }
}

/// The forwarder's status for `scope`.
pub async fn forwarder_status(
    db: &Database,
    scope: &Scope,
) -> Result<Option<ForwarderStatus>, StoreError> {
    let row = db
        .fetch_optional(
            sql(
                "SELECT start_position, checkpoint_tx, checkpoint_pos, forwarded, failures, \
                 last_success_at, last_error, last_error_at FROM lrs_forwarder_status \
                 WHERE workspace_id = $1 AND environment = $2",
            )
            .bind(scope.workspace_id().to_string())
            .bind(scope.environment().as_str()),
        )
        .await?;
    row.map(|row| {
        Ok(ForwarderStatus {
            start_position: row.get(0)?,
            checkpoint: Checkpoint {
                tx: row.get(1)?,
                position: row.get(2)?,
            },
            forwarded: row.get(3)?,
            failures: row.get(4)?,
            last_success_at: row.get(5)?,
            last_error: row.get(6)?,
            last_error_at: row.get(7)?,
        })
    })
    .transpose()
}

/// Saves the forwarder's status for `scope`.
pub async fn save_forwarder_status(
    db: &Database,
    scope: &Scope,
    status: &ForwarderStatus,
) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    tx.execute(
        sql(
            "INSERT INTO lrs_forwarder_status (workspace_id, environment, start_position, \
             checkpoint_tx, checkpoint_pos, forwarded, failures, last_success_at, last_error, \
             last_error_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (workspace_id, environment) DO UPDATE SET \
             start_position = excluded.start_position, checkpoint_tx = excluded.checkpoint_tx, \
             checkpoint_pos = excluded.checkpoint_pos, forwarded = excluded.forwarded, \
             failures = excluded.failures, last_success_at = excluded.last_success_at, \
             last_error = excluded.last_error, last_error_at = excluded.last_error_at",
        )
        .bind(scope.workspace_id().to_string())
        .bind(scope.environment().as_str())
        .bind(status.start_position)
        .bind(status.checkpoint.tx)
        .bind(status.checkpoint.position)
        .bind(status.forwarded)
        .bind(status.failures)
        .bind(status.last_success_at.clone())
        .bind(status.last_error.clone())
        .bind(status.last_error_at.clone()),
    )
    .await?;
    tx.commit().await
}
