//! The event log on PostgreSQL.
//!
//! Each row carries `tx_id = pg_current_xact_id()`. A reader orders and
//! checkpoints by `(tx_id, position)` and reads only rows whose transaction
//! is older than the oldest one still running
//! (`tx_id < pg_snapshot_xmin(pg_current_snapshot())`): a transaction that
//! commits late therefore cannot leave a gap behind a reader's checkpoint,
//! which a plain `position > checkpoint` reader would skip.
//!
//! Other processes learn of appends by `LISTEN/NOTIFY`, sent outside the
//! append transaction and at most every few milliseconds (NOTIFY takes a
//! global lock at commit); readers poll as well, so a lost notification
//! only delays them.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::tenancy::Scope;
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, Executor, PgConnection, Postgres, Row};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::{
    AppendError, Appended, Checkpoint, ExpectedVersion, RecordedEvent, StreamAppend,
    metadata_from_columns,
};
use crate::StoreError;

const SELECT_COLUMNS: &str = "position, tx_id::text::bigint AS tx, stream_id, stream_version, event_type, schema_version, \
     payload, workspace_id, environment, actor, correlation_id, causation_id, request_id, recorded_at";

const INSERT: &str = "INSERT INTO events (stream_id, stream_version, event_type, schema_version, payload, \
     workspace_id, environment, actor, correlation_id, causation_id, request_id, recorded_at) \
     SELECT $1, u.v, u.t, u.sv, u.p, u.w, u.e, u.a, u.c, u.ca, u.r, $12 \
     FROM UNNEST($2::bigint[], $3::text[], $4::int[], $5::text[], $6::text[], $7::text[], $8::text[], \
                 $9::text[], $10::text[], $11::text[]) AS u(v, t, sv, p, w, e, a, c, ca, r) \
     WHERE (SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_id = $1) = $13 \
     RETURNING position, tx_id::text::bigint";

/// How many times an `ExpectedVersion::Any` append retries a lost race.
const ANY_RETRIES: usize = 8;

pub(super) struct PostgresLog {
    pool: PgPool,
    poke: mpsc::Sender<()>,
    /// Stops the listener when the log is dropped.
    stop_listening: CancellationToken,
}

impl Drop for PostgresLog {
    fn drop(&mut self) {
        self.stop_listening.cancel();
    }
}

impl PostgresLog {
    pub(super) async fn start(
        pool: PgPool,
        schema: String,
        appended: watch::Sender<u64>,
    ) -> Result<PostgresLog, StoreError> {
        let channel = channel_name(&schema);
        // The listener holds its connection for good: it gets a pool of its
        // own, so closing the main pool does not wait for it.
        let listener_pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_with((*pool.connect_options()).clone())
            .await?;
        let mut listener = PgListener::connect_with(&listener_pool).await?;
        listener.listen(&channel).await?;
        let stop_listening = CancellationToken::new();
        tokio::spawn(listen(
            listener,
            listener_pool,
            channel.clone(),
            appended,
            stop_listening.clone(),
        ));
        let (poke, pokes) = mpsc::channel(1);
        tokio::spawn(notify(pool.clone(), channel, pokes));
        Ok(PostgresLog {
            pool,
            poke,
            stop_listening,
        })
    }

    pub(super) async fn append(
        &self,
        appends: Vec<StreamAppend>,
        recorded_at: DateTime<Utc>,
    ) -> Result<Appended, AppendError> {
        let retries = if appends.iter().any(|a| a.expected == ExpectedVersion::Any) {
            ANY_RETRIES
        } else {
            1
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_append(&appends, recorded_at).await {
                Err(AppendError::Conflict { .. }) if attempt < retries => continue,
                Ok(appended) => {
                    let _ = self.poke.try_send(());
                    return Ok(appended);
                }
                Err(err) => return Err(err),
            }
        }
    }

    async fn try_append(
        &self,
        appends: &[StreamAppend],
        recorded_at: DateTime<Utc>,
    ) -> Result<Appended, AppendError> {
        let mut tx = self.pool.begin().await?;
        let mut checkpoints = Vec::new();
        let mut i = 0;
        while i < appends.len() {
            if appends[i].expected == ExpectedVersion::Exact(0) {
                // A run of new streams: one INSERT, checked by the unique
                // (stream_id, stream_version) index.
                let start = i;
                while i < appends.len() && appends[i].expected == ExpectedVersion::Exact(0) {
                    i += 1;
                }
                let run = &appends[start..i];
                match insert_new_streams(&mut tx, run, recorded_at, &mut checkpoints).await {
                    Ok(()) => {}
                    Err(AppendError::Conflict { expected, .. }) => {
                        // The aborted transaction cannot say which stream
                        // exists; the pool can, once it is rolled back.
                        drop(tx);
                        let stream_id = self.existing_stream(run).await?;
                        return Err(AppendError::Conflict {
                            stream_id,
                            expected,
                        });
                    }
                    Err(err) => return Err(err),
                }
            } else {
                insert_stream(&mut tx, &appends[i], recorded_at, &mut checkpoints).await?;
                i += 1;
            }
        }
        tx.commit().await?;
        Ok(Appended { checkpoints })
    }

    /// The first stream of `run` that has events, or that `run` creates twice.
    async fn existing_stream(&self, run: &[StreamAppend]) -> Result<String, StoreError> {
        let mut seen = std::collections::HashSet::new();
        for append in run.iter().filter(|a| !a.events.is_empty()) {
            if !seen.insert(append.stream_id.as_str()) {
                return Ok(append.stream_id.clone());
            }
            let found: Option<i64> = sqlx::query_scalar(
                "SELECT stream_version FROM events WHERE stream_id = $1 AND stream_version = 1",
            )
            .bind(&append.stream_id)
            .fetch_optional(&self.pool)
            .await?;
            if found.is_some() {
                return Ok(append.stream_id.clone());
            }
        }
        Ok(String::new())
    }

    pub(super) async fn read_stream(
        &self,
        stream_id: &str,
        after_version: u64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        read_stream_page(&self.pool, stream_id, after_version, u32::MAX).await
    }

    pub(super) async fn read_stream_page(
        &self,
        stream_id: &str,
        after_version: u64,
        limit: u32,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        read_stream_page(&self.pool, stream_id, after_version, limit).await
    }

    pub(super) async fn read_after(
        &self,
        after: Checkpoint,
        limit: u32,
    ) -> Result<Vec<Arc<RecordedEvent>>, StoreError> {
        read_after(&self.pool, after, limit).await
    }

    pub(super) async fn last_event(
        &self,
        stream_id: &str,
    ) -> Result<Option<RecordedEvent>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {SELECT_COLUMNS} FROM events WHERE stream_id = $1 ORDER BY stream_version DESC LIMIT 1"
        )))
        .bind(stream_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(decode).transpose()
    }

    pub(super) async fn read_scope(
        &self,
        scope: &Scope,
        after: Checkpoint,
        limit: u32,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {SELECT_COLUMNS} FROM events \
             WHERE workspace_id = $1 AND (environment = $2 OR environment IS NULL) \
               AND (tx_id, position) > ($3::bigint::text::xid8, $4) \
               AND tx_id < pg_snapshot_xmin(pg_current_snapshot()) \
             ORDER BY events.tx_id, events.position LIMIT $5"
        )))
        .bind(scope.workspace_id().to_string())
        .bind(scope.environment().as_str())
        .bind(after.tx)
        .bind(after.position)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode).collect()
    }

    pub(super) async fn read_positions(
        &self,
        positions: &[i64],
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {SELECT_COLUMNS} FROM events WHERE position = ANY($1) ORDER BY position"
        )))
        .bind(positions)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode).collect()
    }

    pub(super) async fn checkpoint_of(
        &self,
        position: i64,
    ) -> Result<Option<Checkpoint>, StoreError> {
        let tx: Option<i64> =
            sqlx::query_scalar("SELECT tx_id::text::bigint FROM events WHERE position = $1")
                .bind(position)
                .fetch_optional(&self.pool)
                .await?;
        Ok(tx.map(|tx| Checkpoint { tx, position }))
    }

    pub(super) async fn head(&self) -> Result<Checkpoint, StoreError> {
        let row: Option<(i64, i64)> = sqlx::query_as(
            "SELECT tx_id::text::bigint AS tx, position FROM events \
             WHERE tx_id < pg_snapshot_xmin(pg_current_snapshot()) \
             ORDER BY events.tx_id DESC, events.position DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map_or(Checkpoint::START, |(tx, position)| Checkpoint {
            tx,
            position,
        }))
    }
}

/// Up to `limit` events of a stream with a version above `after_version`,
/// in order.
pub(super) async fn read_stream_page<'e, E>(
    executor: E,
    stream_id: &str,
    after_version: u64,
    limit: u32,
) -> Result<Vec<RecordedEvent>, StoreError>
where
    E: Executor<'e, Database = Postgres>,
{
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {SELECT_COLUMNS} FROM events WHERE stream_id = $1 AND stream_version > $2 \
         ORDER BY stream_version LIMIT $3"
    )))
    .bind(stream_id)
    .bind(after_version as i64)
    .bind(i64::from(limit))
    .fetch_all(executor)
    .await?;
    rows.iter().map(decode).collect()
}

/// The events of a stream from log position `from_position` through
/// version `through_version`, in order.
pub(super) async fn read_stream_between<'e, E>(
    executor: E,
    stream_id: &str,
    from_position: i64,
    through_version: i64,
) -> Result<Vec<RecordedEvent>, StoreError>
where
    E: Executor<'e, Database = Postgres>,
{
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {SELECT_COLUMNS} FROM events WHERE stream_id = $1 AND position >= $2 \
         AND stream_version <= $3 ORDER BY stream_version"
    )))
    .bind(stream_id)
    .bind(from_position)
    .bind(through_version)
    .fetch_all(executor)
    .await?;
    rows.iter().map(decode).collect()
}

/// Reads events after `after` in `(tx_id, position)` order, stopping before
/// the oldest transaction still running.
pub(super) async fn read_after<'e, E>(
    executor: E,
    after: Checkpoint,
    limit: u32,
) -> Result<Vec<Arc<RecordedEvent>>, StoreError>
where
    E: Executor<'e, Database = Postgres>,
{
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {SELECT_COLUMNS} FROM events \
         WHERE (tx_id, position) > ($1::bigint::text::xid8, $2) \
           AND tx_id < pg_snapshot_xmin(pg_current_snapshot()) \
         ORDER BY events.tx_id, events.position LIMIT $3"
    )))
    .bind(after.tx)
    .bind(after.position)
    .bind(i64::from(limit))
    .fetch_all(executor)
    .await?;
    rows.iter().map(|row| decode(row).map(Arc::new)).collect()
}

async fn insert_stream(
    tx: &mut PgConnection,
    append: &StreamAppend,
    recorded_at: DateTime<Utc>,
    checkpoints: &mut Vec<Checkpoint>,
) -> Result<(), AppendError> {
    if append.events.is_empty() {
        return Ok(());
    }
    let version = match append.expected {
        ExpectedVersion::Exact(version) => version as i64,
        ExpectedVersion::Any => {
            // Blind appenders of one stream queue here instead of
            // racing to the unique index and retrying.
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(&append.stream_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query_scalar(
                "SELECT coalesce(max(stream_version), 0)::bigint FROM events WHERE stream_id = $1",
            )
            .bind(&append.stream_id)
            .fetch_one(&mut *tx)
            .await?
        }
    };
    let n = append.events.len();
    let mut versions = Vec::with_capacity(n);
    let mut types = Vec::with_capacity(n);
    let mut schema_versions = Vec::with_capacity(n);
    let mut payloads = Vec::with_capacity(n);
    let mut workspaces = Vec::with_capacity(n);
    let mut environments = Vec::with_capacity(n);
    let mut actors = Vec::with_capacity(n);
    let mut correlations = Vec::with_capacity(n);
    let mut causations = Vec::with_capacity(n);
    let mut requests = Vec::with_capacity(n);
    for (offset, event) in append.events.iter().enumerate() {
        let m = &event.metadata;
        versions.push(version + offset as i64 + 1);
        types.push(event.event_type.as_str());
        schema_versions.push(event.schema_version);
        payloads.push(event.payload.as_str());
        workspaces.push(m.workspace_id.map(|w| w.to_string()));
        environments.push(m.environment.map(|e| e.as_str()));
        actors.push(m.actor.as_deref());
        correlations.push(m.correlation_id.as_deref());
        causations.push(m.causation_id.as_deref());
        requests.push(m.request_id.as_deref());
    }
    let rows = sqlx::query(INSERT)
        .bind(&append.stream_id)
        .bind(&versions)
        .bind(&types)
        .bind(&schema_versions)
        .bind(&payloads)
        .bind(&workspaces)
        .bind(&environments)
        .bind(&actors)
        .bind(&correlations)
        .bind(&causations)
        .bind(&requests)
        .bind(recorded_at)
        .bind(version)
        .fetch_all(&mut *tx)
        .await
        .map_err(|err| conflict_or(err, append, version))?;
    if rows.len() != n {
        return Err(AppendError::Conflict {
            stream_id: append.stream_id.clone(),
            expected: version as u64,
        });
    }
    let mut landed = rows
        .iter()
        .map(|row| {
            Ok(Checkpoint {
                position: row.try_get(0)?,
                tx: row.try_get(1)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    landed.sort_unstable_by_key(|c| c.position);
    checkpoints.extend(landed);
    Ok(())
}

const INSERT_NEW: &str = "INSERT INTO events (stream_id, stream_version, event_type, schema_version, payload, \
     workspace_id, environment, actor, correlation_id, causation_id, request_id, recorded_at) \
     SELECT u.s, u.v, u.t, u.sv, u.p, u.w, u.e, u.a, u.c, u.ca, u.r, $12 \
     FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::int[], $5::text[], $6::text[], $7::text[], \
                 $8::text[], $9::text[], $10::text[], $11::text[]) AS u(s, v, t, sv, p, w, e, a, c, ca, r) \
     RETURNING position, tx_id::text::bigint";

/// Appends to streams that must not exist yet (expected version 0) in one
/// INSERT. A stream that exists already makes its first version collide in
/// the unique index, which aborts the transaction: nothing is written.
async fn insert_new_streams(
    tx: &mut PgConnection,
    appends: &[StreamAppend],
    recorded_at: DateTime<Utc>,
    checkpoints: &mut Vec<Checkpoint>,
) -> Result<(), AppendError> {
    let n: usize = appends.iter().map(|a| a.events.len()).sum();
    if n == 0 {
        return Ok(());
    }
    let mut streams = Vec::with_capacity(n);
    let mut versions = Vec::with_capacity(n);
    let mut types = Vec::with_capacity(n);
    let mut schema_versions = Vec::with_capacity(n);
    let mut payloads = Vec::with_capacity(n);
    let mut workspaces = Vec::with_capacity(n);
    let mut environments = Vec::with_capacity(n);
    let mut actors = Vec::with_capacity(n);
    let mut correlations = Vec::with_capacity(n);
    let mut causations = Vec::with_capacity(n);
    let mut requests = Vec::with_capacity(n);
    for append in appends {
        for (offset, event) in append.events.iter().enumerate() {
            let m = &event.metadata;
            streams.push(append.stream_id.as_str());
            versions.push(offset as i64 + 1);
            types.push(event.event_type.as_str());
            schema_versions.push(event.schema_version);
            payloads.push(event.payload.as_str());
            workspaces.push(m.workspace_id.map(|w| w.to_string()));
            environments.push(m.environment.map(|e| e.as_str()));
            actors.push(m.actor.as_deref());
            correlations.push(m.correlation_id.as_deref());
            causations.push(m.causation_id.as_deref());
            requests.push(m.request_id.as_deref());
        }
    }
    let rows = sqlx::query(INSERT_NEW)
        .bind(&streams)
        .bind(&versions)
        .bind(&types)
        .bind(&schema_versions)
        .bind(&payloads)
        .bind(&workspaces)
        .bind(&environments)
        .bind(&actors)
        .bind(&correlations)
        .bind(&causations)
        .bind(&requests)
        .bind(recorded_at)
        .fetch_all(&mut *tx)
        .await
        .map_err(|err| match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => AppendError::Conflict {
                // Which stream collided is looked up after the rollback.
                stream_id: String::new(),
                expected: 0,
            },
            _ => AppendError::from(err),
        })?;
    let mut landed = rows
        .iter()
        .map(|row| {
            Ok(Checkpoint {
                position: row.try_get(0)?,
                tx: row.try_get(1)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    // Identity values follow the order of the UNNEST rows.
    landed.sort_unstable_by_key(|c| c.position);
    checkpoints.extend(landed);
    Ok(())
}

fn decode(row: &PgRow) -> Result<RecordedEvent, StoreError> {
    Ok(RecordedEvent {
        position: row.try_get(0)?,
        tx: row.try_get(1)?,
        stream_id: row.try_get(2)?,
        stream_version: row.try_get(3)?,
        event_type: row.try_get(4)?,
        schema_version: i64::from(row.try_get::<i32, _>(5)?),
        payload: row.try_get(6)?,
        metadata: metadata_from_columns(
            row.try_get(7)?,
            row.try_get(8)?,
            row.try_get(9)?,
            row.try_get(10)?,
            row.try_get(11)?,
            row.try_get(12)?,
        )?,
        recorded_at: row.try_get(13)?,
    })
}

fn conflict_or(err: sqlx::Error, append: &StreamAppend, version: i64) -> AppendError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => AppendError::Conflict {
            stream_id: append.stream_id.clone(),
            expected: version as u64,
        },
        _ => AppendError::from(err),
    }
}

/// A notification channel per schema, so schemas sharing a server (as tests
/// do) don't wake each other.
pub(crate) fn channel_name(schema: &str) -> String {
    let digest = Sha256::digest(schema.as_bytes());
    format!("ac_events_{}", hex::encode(&digest[..8]))
}

async fn listen(
    mut listener: PgListener,
    pool: PgPool,
    channel: String,
    appended: watch::Sender<u64>,
    stop: CancellationToken,
) {
    loop {
        let received = tokio::select! {
            () = stop.cancelled() => break,
            received = listener.try_recv() => received,
        };
        match received {
            Ok(Some(_)) => appended.send_modify(|n| *n = n.wrapping_add(1)),
            // The connection dropped: PgListener reconnects on the next call;
            // wake readers since notifications may have been missed.
            Ok(None) => appended.send_modify(|n| *n = n.wrapping_add(1)),
            Err(sqlx::Error::PoolClosed) => break,
            Err(err) => {
                tracing::warn!(error = %err, channel, "event notification listener failed, retrying");
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
    drop(listener);
    pool.close().await;
}

async fn notify(pool: PgPool, channel: String, mut pokes: mpsc::Receiver<()>) {
    while pokes.recv().await.is_some() {
        if let Err(err) = sqlx::query("SELECT pg_notify($1, '')")
            .bind(&channel)
            .execute(&pool)
            .await
        {
            tracing::debug!(error = %err, "event notification not sent");
        }
        // Coalesce the appends of the next few milliseconds into one NOTIFY.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
