//! The command side: aggregates run through cqrs-es over the event log.
//!
//! Every command carries [`EventMetadata`] (who, which request) and returns
//! the log checkpoint of its last event, so the caller can wait for the
//! views to show it. A command that loses a race for its stream is decided
//! again on the new state, a few times, before the conflict is reported.

use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{Aggregate, AggregateError, CqrsFramework};
use domain::events::EventMetadata;
use domain::webhook::{Webhook, WebhookCommand, WebhookError};
use domain::workspace::{Workspace, WorkspaceCommand, WorkspaceError};
use std::sync::Arc;
use store::log::{Checkpoint, EventLog};
use store::repository::{LogRepository, capture_checkpoint};

type Framework<A> = CqrsFramework<A, PersistedEventStore<LogRepository, A>>;

/// How often a command is decided again after losing a race.
const CONFLICT_RETRIES: usize = 3;

/// Why a command did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CommandError<E: std::error::Error> {
    /// The aggregate refused it; the message is safe to show.
    #[error(transparent)]
    Rejected(E),
    /// Other writers kept changing the aggregate.
    #[error("the resource changed concurrently; retry the request")]
    Conflict,
    #[error(transparent)]
    Internal(anyhow::Error),
}

fn framework<A: Aggregate<Services = ()>>(log: &EventLog) -> Framework<A> {
    let store = PersistedEventStore::new_event_store(LogRepository::new(log.clone()));
    CqrsFramework::new(store, vec![], ())
}

/// The aggregates of the platform, ready to take commands.
#[derive(Clone)]
pub struct Commands {
    workspaces: Arc<Framework<Workspace>>,
    webhooks: Arc<Framework<Webhook>>,
}

impl Commands {
    pub fn new(log: EventLog) -> Commands {
        Commands {
            workspaces: Arc::new(framework(&log)),
            webhooks: Arc::new(framework(&log)),
        }
    }

    /// Runs a command on workspace `id`.
    pub async fn workspace(
        &self,
        id: &str,
        command: WorkspaceCommand,
        metadata: &EventMetadata,
    ) -> Result<Option<Checkpoint>, CommandError<WorkspaceError>> {
        execute(&self.workspaces, id, command, metadata).await
    }

    /// Runs a command on webhook `id` ([`domain::webhook::aggregate_id`]).
    pub async fn webhook(
        &self,
        id: &str,
        command: WebhookCommand,
        metadata: &EventMetadata,
    ) -> Result<Option<Checkpoint>, CommandError<WebhookError>> {
        execute(&self.webhooks, id, command, metadata).await
    }
}

async fn execute<A>(
    framework: &Framework<A>,
    id: &str,
    command: A::Command,
    metadata: &EventMetadata,
) -> Result<Option<Checkpoint>, CommandError<A::Error>>
where
    A: Aggregate,
    A::Command: Clone,
    A::Error: Send + Sync + 'static,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (result, checkpoint) = capture_checkpoint(framework.execute_with_metadata(
            id,
            command.clone(),
            metadata.to_map(),
        ))
        .await;
        match result {
            Ok(()) => return Ok(checkpoint),
            Err(AggregateError::UserError(err)) => return Err(CommandError::Rejected(err)),
            Err(AggregateError::AggregateConflict) if attempt < CONFLICT_RETRIES => {
                tracing::debug!(
                    aggregate = A::TYPE,
                    id,
                    attempt,
                    "command lost a race, deciding again"
                );
            }
            Err(AggregateError::AggregateConflict) => return Err(CommandError::Conflict),
            Err(other) => {
                return Err(CommandError::Internal(anyhow::anyhow!(
                    "{} {id}: {other}",
                    A::TYPE
                )));
            }
        }
    }
}
