//! The event log: one append-only table, a global order, streams with
//! optimistic concurrency.
//!
//! Positions are unique and increase with every append. Readers follow the
//! log by [`Checkpoint`]: on SQLite the position alone (one writer at a time,
//! so positions commit in order); on PostgreSQL the pair (transaction id,
//! position), read only below the oldest transaction still running, so an
//! event that commits late with a lower position is never skipped.

mod postgres;
mod sqlite;
mod tail;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::events::EventMetadata;
use domain::tenancy::{Environment, Scope, WorkspaceId};
use serde::Serialize;
use tokio::sync::watch;

use crate::StoreError;
use crate::db::Database;

/// Where a reader stands in the log. Ordered: (transaction id, position).
/// On SQLite the transaction id is always 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Checkpoint {
    pub tx: i64,
    pub position: i64,
}

impl Checkpoint {
    /// Before the first event.
    pub const START: Checkpoint = Checkpoint { tx: 0, position: 0 };
}

/// How many events a stream must already hold for an append to go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// Exactly this many: the optimistic-concurrency check of aggregates.
    Exact(u64),
    /// Whatever is there: for streams with a single writer by construction.
    Any,
}

/// An event about to be appended.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event_type: String,
    pub schema_version: i32,
    /// The JSON payload, already serialised.
    pub payload: String,
    pub metadata: EventMetadata,
}

/// Events to append to one stream.
#[derive(Debug, Clone)]
pub struct StreamAppend {
    pub stream_id: String,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
}

/// Where appended events landed, in the order they were given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub checkpoints: Vec<Checkpoint>,
}

impl Appended {
    /// The checkpoint of the last appended event: a read that waits for it
    /// sees every event of the append.
    pub fn last(&self) -> Option<Checkpoint> {
        self.checkpoints.iter().max().copied()
    }
}

/// Why an append did not happen. Nothing of it was written.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error("stream {stream_id} is not at version {expected}")]
    Conflict { stream_id: String, expected: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for AppendError {
    fn from(err: sqlx::Error) -> Self {
        AppendError::Store(StoreError::from(err))
    }
}

/// An event as the log holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordedEvent {
    pub position: i64,
    #[serde(skip)]
    pub tx: i64,
    pub stream_id: String,
    pub stream_version: i64,
    pub event_type: String,
    pub schema_version: i64,
    /// The JSON payload as stored.
    pub payload: String,
    pub metadata: EventMetadata,
    pub recorded_at: DateTime<Utc>,
}

impl RecordedEvent {
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            tx: self.tx,
            position: self.position,
        }
    }
}

/// The event log of one database.
#[derive(Clone)]
pub struct EventLog {
    backend: Arc<Backend>,
    /// Bumped after every append this process makes (and, on PostgreSQL,
    /// on notifications from other processes): a wake-up hint for readers.
    appended: watch::Sender<u64>,
}

enum Backend {
    Sqlite(sqlite::SqliteLog),
    Postgres(postgres::PostgresLog),
}

impl EventLog {
    /// Opens the log of `db`. On SQLite this starts the group-commit writer;
    /// on PostgreSQL the notification listener. Needs a Tokio runtime.
    pub async fn open(db: &Database) -> Result<EventLog, StoreError> {
        let (appended, _) = watch::channel(0);
        let backend = match db {
            Database::Sqlite {
                writer,
                reader,
                gate,
                durability,
            } => Backend::Sqlite(sqlite::SqliteLog::start(
                writer.clone(),
                reader.clone(),
                gate.clone(),
                *durability,
                appended.clone(),
            )),
            Database::Postgres { pool, schema } => Backend::Postgres(
                postgres::PostgresLog::start(pool.clone(), schema.clone(), appended.clone())
                    .await?,
            ),
        };
        Ok(EventLog {
            backend: Arc::new(backend),
            appended,
        })
    }

    /// Appends events to one or more streams in one transaction: all of
    /// them, or none when any stream is not at its expected version.
    pub async fn append(&self, appends: Vec<StreamAppend>) -> Result<Appended, AppendError> {
        if appends.iter().all(|a| a.events.is_empty()) {
            return Ok(Appended {
                checkpoints: vec![],
            });
        }
        let recorded_at = Utc::now();
        let appended = match &*self.backend {
            Backend::Sqlite(log) => log.append(appends, recorded_at).await?,
            Backend::Postgres(log) => log.append(appends, recorded_at).await?,
        };
        self.appended.send_modify(|n| *n = n.wrapping_add(1));
        Ok(appended)
    }

    /// Appends events to one stream.
    pub async fn append_to(
        &self,
        stream_id: impl Into<String>,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, AppendError> {
        self.append(vec![StreamAppend {
            stream_id: stream_id.into(),
            expected,
            events,
        }])
        .await
    }

    /// The events of a stream with a version above `after_version`, in order.
    pub async fn read_stream(
        &self,
        stream_id: &str,
        after_version: u64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        match &*self.backend {
            Backend::Sqlite(log) => log.read_stream(stream_id, after_version).await,
            Backend::Postgres(log) => log.read_stream(stream_id, after_version).await,
        }
    }

    /// The last event of a stream, for aggregates whose last event is their
    /// whole state.
    pub async fn last_event(&self, stream_id: &str) -> Result<Option<RecordedEvent>, StoreError> {
        match &*self.backend {
            Backend::Sqlite(log) => log.last_event(stream_id).await,
            Backend::Postgres(log) => log.last_event(stream_id).await,
        }
    }

    /// Up to `limit` events of a stream with a version above
    /// `after_version`, in order: a stream read page by page.
    pub async fn read_stream_page(
        &self,
        stream_id: &str,
        after_version: u64,
        limit: u32,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        match &*self.backend {
            Backend::Sqlite(log) => log.read_stream_page(stream_id, after_version, limit).await,
            Backend::Postgres(log) => log.read_stream_page(stream_id, after_version, limit).await,
        }
    }

    /// Up to `limit` events after `after`, in global order, never skipping
    /// one that commits later.
    pub async fn read_after(
        &self,
        after: Checkpoint,
        limit: u32,
    ) -> Result<Vec<Arc<RecordedEvent>>, StoreError> {
        match &*self.backend {
            Backend::Sqlite(log) => log.read_after(after, limit).await,
            Backend::Postgres(log) => log.read_after(after, limit).await,
        }
    }

    /// Whether `checkpoint` is the newest event this process appended (on
    /// SQLite; always `false` on PostgreSQL, where other processes append
    /// too). Another process may have appended after it.
    pub fn is_newest(&self, checkpoint: Checkpoint) -> bool {
        match &*self.backend {
            Backend::Sqlite(log) => log.newest() == Some(checkpoint.position),
            Backend::Postgres(_) => false,
        }
    }

    /// Like [`read_after_in`](Self::read_after_in), for a reader that only
    /// wants to take along what is already there: on SQLite the events this
    /// process appended since `after` come from memory, and when `after` is
    /// the newest of them the answer is "nothing", without asking the
    /// database (another process's appends are then read next time).
    pub async fn read_more_in(
        &self,
        tx: &mut crate::db::Tx,
        after: Checkpoint,
        limit: u32,
    ) -> Result<Vec<Arc<RecordedEvent>>, StoreError> {
        if let Backend::Sqlite(log) = &*self.backend
            && let Some(events) = log.read_known(after, limit)
        {
            return Ok(events);
        }
        self.read_after_in(tx, after, limit).await
    }

    /// Like [`read_after`](Self::read_after), inside a write transaction, so
    /// that a projection reads and applies events under one lock.
    pub async fn read_after_in(
        &self,
        tx: &mut crate::db::Tx,
        after: Checkpoint,
        limit: u32,
    ) -> Result<Vec<Arc<RecordedEvent>>, StoreError> {
        match (&*self.backend, tx) {
            (Backend::Sqlite(_), crate::db::Tx::Sqlite(tx)) => {
                sqlite::read_after(&mut **tx, after, limit).await
            }
            (Backend::Postgres(_), crate::db::Tx::Postgres(tx)) => {
                postgres::read_after(&mut **tx, after, limit).await
            }
            _ => Err(StoreError::Config("transaction of another backend".into())),
        }
    }

    /// The events of one workspace environment after `after`, in global
    /// order: its own events and the workspace-wide ones.
    pub async fn read_scope(
        &self,
        scope: &Scope,
        after: Checkpoint,
        limit: u32,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        match &*self.backend {
            Backend::Sqlite(log) => log.read_scope(scope, after, limit).await,
            Backend::Postgres(log) => log.read_scope(scope, after, limit).await,
        }
    }

    /// The events at `positions` (those that exist), in position order.
    pub async fn read_positions(
        &self,
        positions: &[i64],
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        if positions.is_empty() {
            return Ok(vec![]);
        }
        match &*self.backend {
            Backend::Sqlite(log) => log.read_positions(positions).await,
            Backend::Postgres(log) => log.read_positions(positions).await,
        }
    }

    /// The checkpoint of the event at `position`, if there is one.
    pub async fn checkpoint_of(&self, position: i64) -> Result<Option<Checkpoint>, StoreError> {
        match &*self.backend {
            Backend::Sqlite(log) => log.checkpoint_of(position).await,
            Backend::Postgres(log) => log.checkpoint_of(position).await,
        }
    }

    /// The checkpoint of the newest event a reader may read now.
    pub async fn head(&self) -> Result<Checkpoint, StoreError> {
        match &*self.backend {
            Backend::Sqlite(log) => log.head().await,
            Backend::Postgres(log) => log.head().await,
        }
    }

    /// A receiver that changes whenever events may have been appended.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.appended.subscribe()
    }
}

/// Parses the metadata columns of a stored event.
pub(crate) fn metadata_from_columns(
    workspace_id: Option<String>,
    environment: Option<String>,
    actor: Option<String>,
    correlation_id: Option<String>,
    causation_id: Option<String>,
    request_id: Option<String>,
) -> Result<EventMetadata, StoreError> {
    let workspace_id = workspace_id
        .map(|raw| {
            raw.parse::<WorkspaceId>()
                .map_err(|_| StoreError::Corrupt(format!("workspace_id {raw:?} is not a uuid")))
        })
        .transpose()?;
    let environment = environment
        .map(|raw| {
            raw.parse::<Environment>()
                .map_err(|e| StoreError::Corrupt(e.to_string()))
        })
        .transpose()?;
    Ok(EventMetadata {
        workspace_id,
        environment,
        actor,
        correlation_id,
        causation_id,
        request_id,
    })
}

/// Number of placeholders one event row takes in an INSERT.
pub(crate) const COLUMNS_PER_ROW: usize = 12;

/// The events of a stream from log position `from_position` through
/// version `through_version`, in order, inside a transaction: for a view
/// that needs more of one aggregate's history than its batch holds. (On
/// both backends a stream's positions grow with its versions: an append
/// to a stream commits after the one before it.)
pub async fn read_stream_in(
    tx: &mut crate::db::Tx,
    stream_id: &str,
    from_position: i64,
    through_version: i64,
) -> Result<Vec<RecordedEvent>, StoreError> {
    match tx {
        crate::db::Tx::Sqlite(tx) => {
            sqlite::read_stream_between(&mut **tx, stream_id, from_position, through_version).await
        }
        crate::db::Tx::Postgres(tx) => {
            postgres::read_stream_between(&mut **tx, stream_id, from_position, through_version)
                .await
        }
    }
}
