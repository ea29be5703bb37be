//! Keeping projections caught up, waiting for them, and replaying them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use domain::events::{DecodeError, Event};
use sqlx::Connection;
use store::StoreError;
use store::db::{Backend, Database, Tx, sql};
use store::log::{Checkpoint, EventLog, RecordedEvent};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Events applied in one transaction at most.
const BATCH: u32 = 500;
/// On SQLite, the events of a batch a view applies between two chances
/// for waiting appends to go first: the longest an append waits for a
/// view's transaction is about what this many events take.
const PART: usize = 30;
/// How often a runner looks at the log when nothing woke it.
const POLL: Duration = Duration::from_millis(250);
/// How often a standby runner tries to take over its projection.
const STANDBY_RETRY: Duration = Duration::from_secs(2);

/// A decoded event with where it stands in the log.
pub struct Envelope<'a> {
    pub record: &'a RecordedEvent,
    pub event: Event,
}

/// A read model built from the log.
#[async_trait::async_trait]
pub trait Projection: Send + Sync + 'static {
    /// A stable name: the checkpoint key and what `replay NAME` takes.
    fn name(&self) -> &'static str;

    /// The tables this projection owns; replay empties them.
    fn tables(&self) -> &'static [&'static str];

    /// Whether this projection applies events of `event_type` (a catalogue
    /// type). The runner neither decodes nor hands over the others, which is
    /// the same as applying them as nothing. Events of types the catalogue
    /// does not know are always decoded, and stop the projection.
    fn handles(&self, _event_type: &str) -> bool {
        true
    }

    /// Applies one event inside the batch transaction. Events a projection
    /// does not care about are ignored.
    async fn apply(&self, tx: &mut Tx, envelope: &Envelope<'_>) -> Result<(), ProjectionError>;

    /// Applies consecutive events inside the batch transaction. The default
    /// applies them one by one; a projection that writes many rows per event
    /// overrides it to write them together, and must leave the same rows as
    /// [`apply`](Self::apply) would. After an error other than
    /// [`ProjectionError::Store`] the runner rolls back and applies the
    /// events one by one to find the one at fault.
    async fn apply_batch(
        &self,
        tx: &mut Tx,
        envelopes: &[Envelope<'_>],
    ) -> Result<(), ProjectionError> {
        for envelope in envelopes {
            self.apply(tx, envelope).await?;
        }
        Ok(())
    }
}

/// Why an event could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The event cannot be read by this build: the projection stops.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The event contradicts the view (a bug or a corrupt log): the
    /// projection stops.
    #[error("{0}")]
    Inconsistent(String),
    /// The database failed: the batch is retried.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where a projection is, as `/readyz` reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Status {
    /// Not yet caught up once since this process started.
    Starting { checkpoint: Checkpoint },
    /// Following the log.
    Running { checkpoint: Checkpoint },
    /// Another process runs it (PostgreSQL advisory lock); this one waits
    /// to take over.
    Standby,
    /// It met an event it cannot apply and stopped there.
    Stopped {
        position: i64,
        event_type: String,
        reason: String,
    },
}

impl Status {
    pub fn is_stopped(&self) -> bool {
        matches!(self, Status::Stopped { .. })
    }
}

/// Why a wait for a projection ended without it reaching the checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("projection {name} did not reach the write within {timeout:?}")]
    Timeout {
        name: &'static str,
        timeout: Duration,
    },
    #[error("projection {name} is stopped at position {position}: {reason}")]
    Stopped {
        name: &'static str,
        position: i64,
        reason: String,
    },
    #[error("no projection named {0}")]
    Unknown(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a replay did for one projection.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReplayReport {
    pub projection: &'static str,
    pub events: u64,
    pub checkpoint: Checkpoint,
    pub millis: u128,
}

struct Entry {
    projection: Arc<dyn Projection>,
    status: watch::Sender<Status>,
    /// SQLite: how far past its stored checkpoint (the first) the
    /// projection has read events it does not handle, without a write
    /// transaction to say so (see [`SKIP_UNSAVED`]).
    skipped: std::sync::Mutex<Option<(Checkpoint, Checkpoint)>>,
    /// SQLite: the checkpoint as this process last stored or read it (each
    /// write transaction checks it against the table).
    stored: std::sync::Mutex<Option<Checkpoint>>,
}

impl Entry {
    /// Stores `checkpoint` as what the projection has applied, commits what
    /// `tx` wrote with it, and remembers it.
    async fn commit_through(&self, mut tx: Tx, checkpoint: Checkpoint) -> Result<(), StoreError> {
        save_checkpoint(&mut tx, self.projection.name(), checkpoint).await?;
        tx.commit().await?;
        *self.skipped.lock().unwrap_or_else(|p| p.into_inner()) = None;
        *self.stored.lock().unwrap_or_else(|p| p.into_inner()) = Some(checkpoint);
        Ok(())
    }
}

/// On SQLite, a projection that handles none of a batch's events moves past
/// them without taking the single writer, until this many positions lie
/// between its stored checkpoint and where it is: a restart reads at most
/// these again (and skips them again).
const SKIP_UNSAVED: i64 = 10_000;

/// The set of projections of one process, over one database.
#[derive(Clone)]
pub struct Projections {
    db: Database,
    log: EventLog,
    entries: Arc<Vec<Entry>>,
    /// The most events one batch applies.
    batch: u32,
}

enum Batch {
    Applied { events: u64, checkpoint: Checkpoint },
    Empty { checkpoint: Checkpoint },
}

enum BatchError {
    Stop {
        position: i64,
        event_type: String,
        reason: String,
    },
    Retry(StoreError),
}

/// The outcome of applying the first events of a batch.
enum PartialBatch {
    Done(Batch),
    /// The event at `index` of the batch cannot be applied; nothing of the
    /// batch was committed.
    StopAt {
        index: usize,
        position: i64,
        event_type: String,
        reason: String,
    },
}

impl From<StoreError> for BatchError {
    fn from(err: StoreError) -> Self {
        BatchError::Retry(err)
    }
}

impl Projections {
    pub fn new(db: Database, log: EventLog, projections: Vec<Arc<dyn Projection>>) -> Projections {
        let entries = projections
            .into_iter()
            .map(|projection| Entry {
                projection,
                status: watch::channel(Status::Starting {
                    checkpoint: Checkpoint::START,
                })
                .0,
                skipped: std::sync::Mutex::new(None),
                stored: std::sync::Mutex::new(None),
            })
            .collect();
        Projections {
            db,
            log,
            entries: Arc::new(entries),
            batch: BATCH,
        }
    }

    /// At most `events` events per batch (at least one): tests replay with
    /// small batches to cut the log at every place.
    pub fn with_batch_size(mut self, events: u32) -> Projections {
        self.batch = events.max(1);
        self
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.entries.iter().map(|e| e.projection.name()).collect()
    }

    fn entry(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.projection.name() == name)
    }

    /// A receiver that changes whenever projection `name` moves on.
    pub fn watch(&self, name: &str) -> Option<watch::Receiver<Status>> {
        self.entry(name).map(|e| e.status.subscribe())
    }

    /// The status of every projection.
    pub fn statuses(&self) -> Vec<(&'static str, Status)> {
        self.entries
            .iter()
            .map(|e| (e.projection.name(), e.status.borrow().clone()))
            .collect()
    }

    /// Starts one background runner per projection; they stop when
    /// `shutdown` is cancelled.
    pub fn spawn(&self, shutdown: CancellationToken) -> Vec<tokio::task::JoinHandle<()>> {
        (0..self.entries.len())
            .map(|index| {
                let this = self.clone();
                let shutdown = shutdown.clone();
                let name = self.entries[index].projection.name();
                tokio::spawn(
                    async move { this.run(index, shutdown).await }
                        .instrument(tracing::info_span!("projection", projection = name)),
                )
            })
            .collect()
    }

    async fn run(&self, index: usize, shutdown: CancellationToken) {
        let entry = &self.entries[index];
        let name = entry.projection.name();
        let mut woken = self.log.subscribe();
        let mut failures = 0u32;
        // How many short naps followed the last wake-up (see below).
        let mut after_wake: Option<u32> = None;
        loop {
            // On PostgreSQL each projection runs on one node at a time.
            let _lock = match &self.db {
                Database::Postgres { pool, schema } => {
                    match try_advisory_lock(pool, schema, name).await {
                        Ok(Some(lock)) => Some(lock),
                        Ok(None) => {
                            entry.status.send_replace(Status::Standby);
                            tokio::select! {
                                () = shutdown.cancelled() => return,
                                () = tokio::time::sleep(STANDBY_RETRY) => continue,
                            }
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, "cannot take the projection lock, retrying");
                            tokio::select! {
                                () = shutdown.cancelled() => return,
                                () = tokio::time::sleep(STANDBY_RETRY) => continue,
                            }
                        }
                    }
                }
                Database::Sqlite { .. } => None,
            };
            loop {
                if shutdown.is_cancelled() {
                    return;
                }
                match self.batch(entry).await {
                    Ok(Batch::Applied { events, checkpoint }) => {
                        failures = 0;
                        after_wake = None;
                        tracing::debug!(
                            events,
                            position = checkpoint.position,
                            "projection advanced"
                        );
                        entry.status.send_replace(Status::Running { checkpoint });
                        if self.log.is_newest(checkpoint) {
                            // Nothing newer that this process appended: wait
                            // for the next append (or the poll, for another
                            // process's) instead of asking the database.
                            tokio::select! {
                                () = shutdown.cancelled() => return,
                                _ = woken.changed() => {}
                                () = tokio::time::sleep(POLL) => {}
                            }
                        }
                    }
                    Ok(Batch::Empty { checkpoint }) => {
                        failures = 0;
                        entry.status.send_replace(Status::Running { checkpoint });
                        // On PostgreSQL an append may not be readable yet
                        // when its wake-up arrives (an older transaction is
                        // still open): look again soon, then less often.
                        let nap = match after_wake {
                            Some(tries) => (Duration::from_millis(2) * 2u32.pow(tries)).min(POLL),
                            None => POLL,
                        };
                        tokio::select! {
                            () = shutdown.cancelled() => return,
                            _ = woken.changed() => after_wake = Some(0),
                            () = tokio::time::sleep(nap) => {
                                after_wake = after_wake.map(|t| t + 1).filter(|t| *t < 7);
                            }
                        }
                    }
                    Err(BatchError::Stop {
                        position,
                        event_type,
                        reason,
                    }) => {
                        tracing::error!(
                            position,
                            event_type,
                            reason,
                            "projection stopped: event cannot be applied"
                        );
                        entry.status.send_replace(Status::Stopped {
                            position,
                            event_type,
                            reason,
                        });
                        return;
                    }
                    Err(BatchError::Retry(err)) => {
                        failures += 1;
                        let backoff = Duration::from_millis(100 * 2u64.pow(failures.min(6)));
                        tracing::warn!(error = %err, ?backoff, "projection batch failed, retrying");
                        tokio::select! {
                            () = shutdown.cancelled() => return,
                            () = tokio::time::sleep(backoff) => {}
                        }
                        // A dropped connection may have lost the lock: take it again.
                        if matches!(self.db, Database::Postgres { .. }) {
                            break;
                        }
                    }
                }
            }
        }
    }

    /// Applies one batch of events after the stored checkpoint. When an
    /// event cannot be applied, the events before it are applied and
    /// committed, and the stop is reported at that event.
    async fn batch(&self, entry: &Entry) -> Result<Batch, BatchError> {
        match self.batch_of(entry, self.batch).await? {
            PartialBatch::Done(batch) => Ok(batch),
            PartialBatch::StopAt {
                index,
                position,
                event_type,
                reason,
            } => {
                if index > 0 {
                    // The events before the bad one were fine: commit them.
                    if let PartialBatch::StopAt {
                        position,
                        event_type,
                        reason,
                        ..
                    } = self.batch_of(entry, index as u32).await?
                    {
                        return Err(BatchError::Stop {
                            position,
                            event_type,
                            reason,
                        });
                    }
                }
                Err(BatchError::Stop {
                    position,
                    event_type,
                    reason,
                })
            }
        }
    }

    async fn batch_of(&self, entry: &Entry, limit: u32) -> Result<PartialBatch, BatchError> {
        let projection = &entry.projection;
        let name = projection.name();
        // On SQLite every write shares one connection, the log's appends
        // included. So the batch is read and decoded on a reader first, and
        // a batch with nothing this projection handles needs no writer at
        // all (up to SKIP_UNSAVED); the transaction then checks that the
        // stored checkpoint is still the one read, and takes the events
        // appended in between too.
        let early = match self.db.backend() {
            Backend::Sqlite => {
                let cached = *entry.stored.lock().unwrap_or_else(|p| p.into_inner());
                let stored = match cached {
                    Some(stored) => stored,
                    None => {
                        let stored = stored_checkpoint(&self.db, name).await?;
                        *entry.stored.lock().unwrap_or_else(|p| p.into_inner()) = Some(stored);
                        stored
                    }
                };
                let from = match *entry.skipped.lock().unwrap_or_else(|p| p.into_inner()) {
                    Some((saved, ahead)) if saved == stored => ahead,
                    _ => stored,
                };
                let events = self.log.read_after(from, limit).await?;
                let Some(last) = events.last().map(|e| e.checkpoint()) else {
                    return Ok(PartialBatch::Done(Batch::Empty { checkpoint: from }));
                };
                let decoded = decode(projection.as_ref(), &events, 0);
                if decoded.as_ref().is_ok_and(Vec::is_empty)
                    && last.position - stored.position < SKIP_UNSAVED
                {
                    *entry.skipped.lock().unwrap_or_else(|p| p.into_inner()) = Some((stored, last));
                    return Ok(PartialBatch::Done(Batch::Applied {
                        events: events.len() as u64,
                        checkpoint: last,
                    }));
                }
                Some((stored, events, decoded))
            }
            Backend::Postgres => None,
        };
        let mut tx = self.db.begin_view().await?;
        let checkpoint = lock_checkpoint(&mut tx, self.db.backend(), name).await?;
        let (events, decoded) = match early {
            Some((stored, mut events, mut decoded)) if stored == checkpoint => {
                // Events appended while this waited for the writer.
                if let Ok(list) = &mut decoded
                    && events.len() < limit as usize
                    && let Some(after) = events.last().map(|e| e.checkpoint())
                {
                    let more = self
                        .log
                        .read_more_in(&mut tx, after, limit - events.len() as u32)
                        .await?;
                    match decode(projection.as_ref(), &more, events.len()) {
                        Ok(extra) => list.extend(extra),
                        Err(stop) => decoded = Err(stop),
                    }
                    events.extend(more);
                }
                (events, decoded)
            }
            _ => {
                // Someone else moved the checkpoint (a replay): start from it.
                *entry.skipped.lock().unwrap_or_else(|p| p.into_inner()) = None;
                *entry.stored.lock().unwrap_or_else(|p| p.into_inner()) = None;
                let events = self.log.read_after_in(&mut tx, checkpoint, limit).await?;
                let decoded = decode(projection.as_ref(), &events, 0);
                (events, decoded)
            }
        };
        let Some(last) = events.last().map(|e| e.checkpoint()) else {
            tx.rollback().await?;
            return Ok(PartialBatch::Done(Batch::Empty { checkpoint }));
        };
        let envelopes: Vec<Envelope<'_>> = match decoded {
            Ok(decoded) => decoded
                .into_iter()
                .map(|(index, event)| Envelope {
                    record: &events[index],
                    event,
                })
                .collect(),
            Err(stop) => {
                tx.rollback().await?;
                return Ok(stop);
            }
        };
        // The batch is applied a part at a time: when an append waits for
        // SQLite's one writer after a part, the parts so far are committed
        // and the append goes first, so that no append waits for a whole
        // batch of a view.
        let part_size = match self.db.backend() {
            Backend::Sqlite => PART,
            // Appends never wait for a view's transaction there.
            Backend::Postgres => envelopes.len(),
        };
        let mut rest: &[Envelope<'_>] = &envelopes;
        while !rest.is_empty() {
            let (part, after) = rest.split_at(rest.len().min(part_size));
            let span = tracing::debug_span!(
                "projection.apply_batch",
                projection = name,
                events = part.len(),
                last = last.position
            );
            match projection.apply_batch(&mut tx, part).instrument(span).await {
                Ok(()) => {}
                Err(ProjectionError::Store(err)) => {
                    tx.rollback().await?;
                    return Err(BatchError::Retry(err));
                }
                Err(_) => {
                    // Find the event at fault, applying one at a time.
                    tx.rollback().await?;
                    return self.batch_one_by_one(entry, limit).await;
                }
            }
            rest = after;
            if !rest.is_empty() && self.db.appends_waiting() {
                let through = part[part.len() - 1].record.checkpoint();
                entry.commit_through(tx, through).await?;
                tx = self.db.continue_view().await?;
                if lock_checkpoint(&mut tx, self.db.backend(), name).await? != through {
                    // Someone else moved the checkpoint (a replay).
                    tx.rollback().await?;
                    *entry.stored.lock().unwrap_or_else(|p| p.into_inner()) = None;
                    return Ok(PartialBatch::Done(Batch::Applied {
                        events: (envelopes.len() - rest.len()) as u64,
                        checkpoint: through,
                    }));
                }
            }
        }
        entry.commit_through(tx, last).await?;
        Ok(PartialBatch::Done(Batch::Applied {
            events: events.len() as u64,
            checkpoint: last,
        }))
    }

    async fn batch_one_by_one(
        &self,
        entry: &Entry,
        limit: u32,
    ) -> Result<PartialBatch, BatchError> {
        let projection = &entry.projection;
        let name = projection.name();
        let mut tx = self.db.begin_view().await?;
        let checkpoint = lock_checkpoint(&mut tx, self.db.backend(), name).await?;
        let events = self.log.read_after_in(&mut tx, checkpoint, limit).await?;
        let Some(last) = events.last().map(|e| e.checkpoint()) else {
            tx.rollback().await?;
            return Ok(PartialBatch::Done(Batch::Empty { checkpoint }));
        };
        for (index, record) in events.iter().enumerate() {
            if skips(projection.as_ref(), record) {
                continue;
            }
            let stop = |reason: String| PartialBatch::StopAt {
                index,
                position: record.position,
                event_type: record.event_type.clone(),
                reason,
            };
            let event =
                match Event::decode(&record.event_type, record.schema_version, &record.payload) {
                    Ok(event) => event,
                    Err(err) => {
                        tx.rollback().await?;
                        return Ok(stop(err.to_string()));
                    }
                };
            let span = tracing::debug_span!(
                "projection.apply",
                projection = name,
                position = record.position,
                event_type = %record.event_type
            );
            match projection
                .apply(&mut tx, &Envelope { record, event })
                .instrument(span)
                .await
            {
                Ok(()) => {}
                Err(ProjectionError::Store(err)) => {
                    tx.rollback().await?;
                    return Err(BatchError::Retry(err));
                }
                Err(err) => {
                    tx.rollback().await?;
                    return Ok(stop(err.to_string()));
                }
            }
        }
        entry.commit_through(tx, last).await?;
        Ok(PartialBatch::Done(Batch::Applied {
            events: events.len() as u64,
            checkpoint: last,
        }))
    }

    /// Applies events until the projection has passed everything in the
    /// log now; returns how many it applied.
    pub async fn catch_up(&self, name: &str) -> Result<(u64, Checkpoint), WaitError> {
        let entry = self
            .entry(name)
            .ok_or_else(|| WaitError::Unknown(name.to_owned()))?;
        let _lock = self.hold_lock(entry.projection.name()).await?;
        let mut total = 0;
        loop {
            match self.batch(entry).await {
                Ok(Batch::Applied { events, checkpoint }) => {
                    total += events;
                    entry.status.send_replace(Status::Running { checkpoint });
                }
                Ok(Batch::Empty { checkpoint }) => {
                    entry.status.send_replace(Status::Running { checkpoint });
                    return Ok((total, checkpoint));
                }
                Err(BatchError::Stop {
                    position,
                    event_type,
                    reason,
                }) => {
                    entry.status.send_replace(Status::Stopped {
                        position,
                        event_type,
                        reason: reason.clone(),
                    });
                    return Err(WaitError::Stopped {
                        name: entry.projection.name(),
                        position,
                        reason,
                    });
                }
                Err(BatchError::Retry(err)) => return Err(err.into()),
            }
        }
    }

    /// On PostgreSQL, waits for (and holds) the projection's advisory lock,
    /// so a replay does not run beside a server's runner.
    async fn hold_lock(&self, name: &'static str) -> Result<Option<AdvisoryLock>, StoreError> {
        match &self.db {
            Database::Postgres { pool, schema } => loop {
                if let Some(lock) = try_advisory_lock(pool, schema, name).await? {
                    return Ok(Some(lock));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            },
            Database::Sqlite { .. } => Ok(None),
        }
    }

    /// Empties the projection's tables and rebuilds them from position zero.
    pub async fn replay(&self, name: &str) -> Result<ReplayReport, WaitError> {
        let entry = self
            .entry(name)
            .ok_or_else(|| WaitError::Unknown(name.to_owned()))?;
        let projection = entry.projection.name();
        let started = Instant::now();
        {
            let _lock = self.hold_lock(projection).await?;
            let mut tx = self.db.begin_view().await?;
            for table in entry.projection.tables() {
                tx.execute(sql(format!("DELETE FROM {table}"))).await?;
            }
            save_checkpoint(&mut tx, projection, Checkpoint::START).await?;
            tx.commit().await?;
            *entry.skipped.lock().unwrap_or_else(|p| p.into_inner()) = None;
            *entry.stored.lock().unwrap_or_else(|p| p.into_inner()) = Some(Checkpoint::START);
        }
        entry.status.send_replace(Status::Starting {
            checkpoint: Checkpoint::START,
        });
        tracing::info!(projection, "replay started");
        let (events, checkpoint) = self.catch_up(projection).await?;
        let report = ReplayReport {
            projection,
            events,
            checkpoint,
            millis: started.elapsed().as_millis(),
        };
        tracing::info!(
            projection,
            events,
            millis = report.millis,
            "replay finished"
        );
        Ok(report)
    }

    /// Waits until projection `name` has applied the event at `checkpoint`.
    pub async fn wait_for(
        &self,
        name: &str,
        checkpoint: Checkpoint,
        timeout: Duration,
    ) -> Result<(), WaitError> {
        let entry = self
            .entry(name)
            .ok_or_else(|| WaitError::Unknown(name.to_owned()))?;
        let name = entry.projection.name();
        let deadline = tokio::time::Instant::now() + timeout;
        let mut status = entry.status.subscribe();
        loop {
            let current = status.borrow_and_update().clone();
            match current {
                Status::Running { checkpoint: at } | Status::Starting { checkpoint: at }
                    if at >= checkpoint =>
                {
                    return Ok(());
                }
                Status::Stopped {
                    position, reason, ..
                } => {
                    return Err(WaitError::Stopped {
                        name,
                        position,
                        reason,
                    });
                }
                Status::Standby => {
                    // Another process runs it: read its stored checkpoint.
                    if stored_checkpoint(&self.db, name).await? >= checkpoint {
                        return Ok(());
                    }
                }
                Status::Running { .. } | Status::Starting { .. } => {}
            }
            let wake = tokio::time::sleep(Duration::from_millis(50));
            tokio::select! {
                _ = status.changed() => {}
                () = wake => {}
                () = tokio::time::sleep_until(deadline) => {
                    return Err(WaitError::Timeout { name, timeout });
                }
            }
        }
    }

    /// The checkpoint projection `name` has reached: its status in this process or, when
    /// another process runs it, its stored checkpoint. `None` when it is stopped or unknown.
    pub async fn reached(&self, name: &str) -> Result<Option<Checkpoint>, StoreError> {
        let Some(entry) = self.entry(name) else {
            return Ok(None);
        };
        let status = entry.status.borrow().clone();
        match status {
            Status::Running { checkpoint } | Status::Starting { checkpoint } => {
                Ok(Some(checkpoint))
            }
            Status::Standby => Ok(Some(stored_checkpoint(&self.db, name).await?)),
            Status::Stopped { .. } => Ok(None),
        }
    }

    /// Waits until every projection has applied the event at `checkpoint`.
    pub async fn wait_all(
        &self,
        checkpoint: Checkpoint,
        timeout: Duration,
    ) -> Result<(), WaitError> {
        for name in self.names() {
            self.wait_for(name, checkpoint, timeout).await?;
        }
        Ok(())
    }

    /// The checkpoints stored for each projection, by name.
    pub async fn stored_checkpoints(&self) -> Result<HashMap<String, Checkpoint>, StoreError> {
        let rows = self
            .db
            .fetch_all(sql(
                "SELECT name, tx_id, position FROM projection_checkpoints",
            ))
            .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.get::<String>(0)?,
                    Checkpoint {
                        tx: row.get(1)?,
                        position: row.get(2)?,
                    },
                ))
            })
            .collect()
    }
}

/// The events of `events` that `projection` handles, decoded, with their
/// index (counted from `offset`); or where it must stop: the first event
/// this build cannot read.
fn decode(
    projection: &dyn Projection,
    events: &[Arc<RecordedEvent>],
    offset: usize,
) -> Result<Vec<(usize, Event)>, PartialBatch> {
    let mut decoded = Vec::with_capacity(events.len());
    for (index, record) in events.iter().enumerate() {
        if skips(projection, record) {
            continue;
        }
        match Event::decode(&record.event_type, record.schema_version, &record.payload) {
            Ok(event) => decoded.push((offset + index, event)),
            Err(err) => {
                return Err(PartialBatch::StopAt {
                    index: offset + index,
                    position: record.position,
                    event_type: record.event_type.clone(),
                    reason: err.to_string(),
                });
            }
        }
    }
    Ok(decoded)
}

/// Whether `projection` leaves `record` alone: a known type it does not handle.
fn skips(projection: &dyn Projection, record: &RecordedEvent) -> bool {
    domain::events::kind_of(&record.event_type).is_some() && !projection.handles(&record.event_type)
}

async fn stored_checkpoint(db: &Database, name: &str) -> Result<Checkpoint, StoreError> {
    let row = db
        .fetch_optional(
            sql("SELECT tx_id, position FROM projection_checkpoints WHERE name = $1").bind(name),
        )
        .await?;
    match row {
        Some(row) => Ok(Checkpoint {
            tx: row.get(0)?,
            position: row.get(1)?,
        }),
        None => Ok(Checkpoint::START),
    }
}

/// Reads the projection's checkpoint inside the batch transaction. On
/// PostgreSQL the row is locked (`FOR UPDATE`) so two processes can never
/// apply the same batch, lock or no lock; SQLite's single writer already
/// serialises batches.
async fn lock_checkpoint(
    tx: &mut Tx,
    backend: Backend,
    name: &str,
) -> Result<Checkpoint, StoreError> {
    let query = match backend {
        Backend::Postgres => {
            tx.execute(
                sql(
                    "INSERT INTO projection_checkpoints (name, tx_id, position, updated_at) \
                     VALUES ($1, 0, 0, $2) ON CONFLICT (name) DO NOTHING",
                )
                .bind(name)
                .bind(now()),
            )
            .await?;
            "SELECT tx_id, position FROM projection_checkpoints WHERE name = $1 FOR UPDATE"
        }
        Backend::Sqlite => "SELECT tx_id, position FROM projection_checkpoints WHERE name = $1",
    };
    match tx.fetch_optional(sql(query).bind(name)).await? {
        Some(row) => Ok(Checkpoint {
            tx: row.get(0)?,
            position: row.get(1)?,
        }),
        None => Ok(Checkpoint::START),
    }
}

async fn save_checkpoint(
    tx: &mut Tx,
    name: &str,
    checkpoint: Checkpoint,
) -> Result<(), StoreError> {
    tx.execute(
        sql("INSERT INTO projection_checkpoints (name, tx_id, position, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET tx_id = excluded.tx_id, position = excluded.position, \
             updated_at = excluded.updated_at")
        .bind(name)
        .bind(checkpoint.tx)
        .bind(checkpoint.position)
        .bind(now()),
    )
    .await?;
    Ok(())
}

/// When a checkpoint was saved: bookkeeping only, not part of any view.
fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A session-level advisory lock, held as long as its own connection (not
/// a pooled one) lives; dropping it closes the session, which releases the
/// lock.
pub struct AdvisoryLock {
    _connection: sqlx::PgConnection,
}

/// Takes the session-level advisory lock `name` (namespaced by `schema`) on
/// a connection of its own, or `None` when another session holds it:
/// projections use it, and so do subscribers that must run on one node.
pub async fn try_advisory_lock(
    pool: &sqlx::PgPool,
    schema: &str,
    name: &str,
) -> Result<Option<AdvisoryLock>, StoreError> {
    let options = pool.connect_options();
    let mut connection = sqlx::PgConnection::connect_with(&options).await?;
    let key = format!("allureconnect/{schema}/projection/{name}");
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
        .bind(&key)
        .fetch_one(&mut connection)
        .await?;
    if locked {
        Ok(Some(AdvisoryLock {
            _connection: connection,
        }))
    } else {
        let _ = connection.close().await;
        Ok(None)
    }
}
