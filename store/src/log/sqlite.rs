//! The event log on SQLite.
//!
//! One writer task owns the single writer connection and gathers the appends
//! of concurrent callers into one transaction (group commit). If any append
//! of a group is refused, the group is rolled back and its appends are tried
//! one by one, so one caller's conflict never fails another's append.

use chrono::{DateTime, SecondsFormat, Utc};
use domain::tenancy::Scope;
use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::{AssertSqlSafe, Executor, Row, Sqlite, SqliteConnection};
use tokio::sync::{mpsc, oneshot, watch};

use std::sync::Arc;

use chrono::SubsecRound;

use super::tail::Tail;
use super::{
    AppendError, Appended, COLUMNS_PER_ROW, Checkpoint, ExpectedVersion, RecordedEvent,
    StreamAppend, metadata_from_columns,
};
use crate::StoreError;
use crate::db::{SqliteDurability, WriterGate};

/// Appends gathered into one transaction at most.
const MAX_GROUP: usize = 128;
/// Event rows per INSERT statement (SQLite allows 32,766 placeholders).
const ROWS_PER_STATEMENT: usize = 500;

const SELECT_COLUMNS: &str = "position, stream_id, stream_version, event_type, schema_version, payload, \
     workspace_id, environment, actor, correlation_id, causation_id, request_id, recorded_at";

struct Request {
    appends: Vec<StreamAppend>,
    recorded_at: DateTime<Utc>,
    reply: oneshot::Sender<Result<Appended, AppendError>>,
}

pub(super) struct SqliteLog {
    reader: SqlitePool,
    requests: mpsc::Sender<Request>,
    /// The newest events this process appended.
    tail: Arc<Tail>,
    /// Says when appends are waiting for the writer.
    gate: Arc<WriterGate>,
}

impl SqliteLog {
    pub(super) fn start(
        writer: SqlitePool,
        reader: SqlitePool,
        gate: Arc<WriterGate>,
        durability: SqliteDurability,
        _appended: watch::Sender<u64>,
    ) -> SqliteLog {
        let (requests, receiver) = mpsc::channel(4096);
        let tail = Arc::new(Tail::default());
        tokio::spawn(writer_loop(
            writer,
            durability.begin_immediate(),
            receiver,
            tail.clone(),
        ));
        SqliteLog {
            reader,
            requests,
            tail,
            gate,
        }
    }

    pub(super) async fn append(
        &self,
        appends: Vec<StreamAppend>,
        recorded_at: DateTime<Utc>,
    ) -> Result<Appended, AppendError> {
        let (reply, answer) = oneshot::channel();
        let _waiting = self.gate.appending();
        self.requests
            .send(Request {
                appends,
                recorded_at,
                reply,
            })
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    pub(super) async fn read_stream(
        &self,
        stream_id: &str,
        after_version: u64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        read_stream_page(&self.reader, stream_id, after_version, u32::MAX).await
    }

    pub(super) async fn read_stream_page(
        &self,
        stream_id: &str,
        after_version: u64,
        limit: u32,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        read_stream_page(&self.reader, stream_id, after_version, limit).await
    }

    pub(super) async fn read_after(
        &self,
        after: Checkpoint,
        limit: u32,
    ) -> Result<Vec<Arc<RecordedEvent>>, StoreError> {
        if let Some(events) = self.tail.read(after.position, limit) {
            return Ok(events);
        }
        read_after(&self.reader, after, limit).await
    }

    /// The position of the newest event this process appended, if kept.
    pub(super) fn newest(&self) -> Option<i64> {
        self.tail.newest()
    }

    /// What this process knows was appended after `after`: from memory, or
    /// nothing when `after` is the newest event it appended; `None` when
    /// only the database can say.
    pub(super) fn read_known(
        &self,
        after: Checkpoint,
        limit: u32,
    ) -> Option<Vec<Arc<RecordedEvent>>> {
        match self.tail.read(after.position, limit) {
            Some(events) => Some(events),
            None if self.tail.newest() == Some(after.position) => Some(Vec::new()),
            None => None,
        }
    }

    pub(super) async fn last_event(
        &self,
        stream_id: &str,
    ) -> Result<Option<RecordedEvent>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {SELECT_COLUMNS} FROM events WHERE stream_id = ?1 ORDER BY stream_version DESC LIMIT 1"
        )))
        .bind(stream_id)
        .fetch_optional(&self.reader)
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
             WHERE workspace_id = ?1 AND (environment = ?2 OR environment IS NULL) AND position > ?3 \
             ORDER BY position LIMIT ?4"
        )))
        .bind(scope.workspace_id().to_string())
        .bind(scope.environment().as_str())
        .bind(after.position)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(decode).collect()
    }

    pub(super) async fn read_positions(
        &self,
        positions: &[i64],
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let mut out = Vec::with_capacity(positions.len());
        for chunk in positions.chunks(ROWS_PER_STATEMENT) {
            let placeholders = vec!["?"; chunk.len()].join(",");
            let mut query = sqlx::query(AssertSqlSafe(format!(
                "SELECT {SELECT_COLUMNS} FROM events WHERE position IN ({placeholders}) ORDER BY position"
            )));
            for position in chunk {
                query = query.bind(*position);
            }
            let rows = query.fetch_all(&self.reader).await?;
            for row in &rows {
                out.push(decode(row)?);
            }
        }
        out.sort_unstable_by_key(|e| e.position);
        Ok(out)
    }

    pub(super) async fn checkpoint_of(
        &self,
        position: i64,
    ) -> Result<Option<Checkpoint>, StoreError> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT position FROM events WHERE position = ?1")
                .bind(position)
                .fetch_optional(&self.reader)
                .await?;
        Ok(found.map(|position| Checkpoint { tx: 0, position }))
    }

    pub(super) async fn head(&self) -> Result<Checkpoint, StoreError> {
        let position: i64 = sqlx::query_scalar("SELECT coalesce(max(position), 0) FROM events")
            .fetch_one(&self.reader)
            .await?;
        Ok(Checkpoint { tx: 0, position })
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
    E: Executor<'e, Database = Sqlite>,
{
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {SELECT_COLUMNS} FROM events WHERE stream_id = ?1 AND stream_version > ?2 \
         ORDER BY stream_version LIMIT ?3"
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
    E: Executor<'e, Database = Sqlite>,
{
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {SELECT_COLUMNS} FROM events WHERE stream_id = ?1 AND position >= ?2 \
         AND stream_version <= ?3 ORDER BY stream_version"
    )))
    .bind(stream_id)
    .bind(from_position)
    .bind(through_version)
    .fetch_all(executor)
    .await?;
    rows.iter().map(decode).collect()
}

/// Reads events after `after` in position order.
pub(super) async fn read_after<'e, E>(
    executor: E,
    after: Checkpoint,
    limit: u32,
) -> Result<Vec<Arc<RecordedEvent>>, StoreError>
where
    E: Executor<'e, Database = Sqlite>,
{
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {SELECT_COLUMNS} FROM events WHERE position > ?1 ORDER BY position LIMIT ?2"
    )))
    .bind(after.position)
    .bind(i64::from(limit))
    .fetch_all(executor)
    .await?;
    rows.iter().map(|row| decode(row).map(Arc::new)).collect()
}

fn decode(row: &SqliteRow) -> Result<RecordedEvent, StoreError> {
    let recorded_at: String = row.try_get(12)?;
    let recorded_at = DateTime::parse_from_rfc3339(&recorded_at)
        .map_err(|e| StoreError::Corrupt(format!("recorded_at {recorded_at:?}: {e}")))?
        .with_timezone(&Utc);
    Ok(RecordedEvent {
        position: row.try_get(0)?,
        tx: 0,
        stream_id: row.try_get(1)?,
        stream_version: row.try_get(2)?,
        event_type: row.try_get(3)?,
        schema_version: row.try_get(4)?,
        payload: row.try_get(5)?,
        metadata: metadata_from_columns(
            row.try_get(6)?,
            row.try_get(7)?,
            row.try_get(8)?,
            row.try_get(9)?,
            row.try_get(10)?,
            row.try_get(11)?,
        )?,
        recorded_at,
    })
}

/// `begin` starts each group's transaction with the log's durability (the
/// writer connection is shared with views, which commit less durably).
async fn writer_loop(
    pool: SqlitePool,
    begin: &'static str,
    mut requests: mpsc::Receiver<Request>,
    tail: Arc<Tail>,
) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while let Some(first) = requests.recv().await {
        group.push(first);
        while group.len() < MAX_GROUP {
            match requests.try_recv() {
                Ok(request) => group.push(request),
                Err(_) => break,
            }
        }
        commit_group(&pool, begin, &mut group, &tail).await;
    }
}

async fn commit_group(
    pool: &SqlitePool,
    begin: &'static str,
    group: &mut Vec<Request>,
    tail: &Tail,
) {
    if group.len() > 1 {
        match append_group(pool, begin, group, tail).await {
            Ok(results) => {
                for (request, appended) in group.drain(..).zip(results) {
                    let _ = request.reply.send(Ok(appended));
                }
                return;
            }
            Err(err) => {
                tracing::debug!(error = %err, size = group.len(), "group append refused, appending one by one")
            }
        }
    }
    for request in group.drain(..) {
        let result = append_group(pool, begin, std::slice::from_ref(&request), tail)
            .await
            .map(|mut results| results.remove(0));
        let _ = request.reply.send(result);
    }
}

async fn append_group(
    pool: &SqlitePool,
    begin: &'static str,
    group: &[Request],
    tail: &Tail,
) -> Result<Vec<Appended>, AppendError> {
    let mut tx = pool.begin_with(begin).await?;
    let mut results = Vec::with_capacity(group.len());
    // The stream version of every appended event, in append order.
    let mut versions = Vec::new();
    for request in group {
        let mut checkpoints = Vec::new();
        let appends = &request.appends;
        let mut i = 0;
        while i < appends.len() {
            if appends[i].expected == ExpectedVersion::Exact(0) {
                // A run of new streams: one multi-row INSERT, checked by the
                // unique (stream_id, stream_version) index.
                let start = i;
                while i < appends.len() && appends[i].expected == ExpectedVersion::Exact(0) {
                    i += 1;
                }
                insert_new_streams(
                    &mut tx,
                    &appends[start..i],
                    &request.recorded_at,
                    &mut checkpoints,
                )
                .await?;
                for append in &appends[start..i] {
                    versions.extend(1..=append.events.len() as i64);
                }
            } else {
                let first =
                    insert_stream(&mut tx, &appends[i], &request.recorded_at, &mut checkpoints)
                        .await?;
                versions.extend((1..=appends[i].events.len() as i64).map(|n| first + n));
                i += 1;
            }
        }
        results.push(Appended { checkpoints });
    }
    tx.commit().await?;
    let mut versions = versions.into_iter();
    tail.push(group.iter().zip(&results).flat_map(|(request, appended)| {
        // What a read gives back: the time as stored, to the microsecond.
        let recorded_at = request.recorded_at.trunc_subsecs(6);
        let events = request
            .appends
            .iter()
            .flat_map(|append| append.events.iter().map(move |event| (append, event)));
        events
            .zip(&appended.checkpoints)
            .map(|((append, event), checkpoint)| RecordedEvent {
                position: checkpoint.position,
                tx: 0,
                stream_id: append.stream_id.clone(),
                stream_version: versions.next().expect("a version per event"),
                event_type: event.event_type.clone(),
                schema_version: i64::from(event.schema_version),
                payload: event.payload.clone(),
                metadata: event.metadata.clone(),
                recorded_at,
            })
            .collect::<Vec<_>>()
    }));
    Ok(results)
}

async fn insert_stream(
    conn: &mut SqliteConnection,
    append: &StreamAppend,
    recorded_at: &DateTime<Utc>,
    checkpoints: &mut Vec<Checkpoint>,
) -> Result<i64, AppendError> {
    if append.events.is_empty() {
        return Ok(0);
    }
    let mut version = match append.expected {
        ExpectedVersion::Exact(version) => version,
        ExpectedVersion::Any => {
            let current: i64 = sqlx::query_scalar(
                "SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_id = ?1",
            )
            .bind(&append.stream_id)
            .fetch_one(&mut *conn)
            .await?;
            current as u64
        }
    };
    let first_version = version as i64;
    let recorded_at = recorded_at.to_rfc3339_opts(SecondsFormat::Micros, true);
    for chunk in append.events.chunks(ROWS_PER_STATEMENT) {
        let mut query = sqlx::query(AssertSqlSafe(insert_statement(chunk.len())));
        for (offset, event) in chunk.iter().enumerate() {
            let metadata = &event.metadata;
            query = query
                .bind(&append.stream_id)
                .bind((version + offset as u64 + 1) as i64)
                .bind(&event.event_type)
                .bind(event.schema_version)
                .bind(&event.payload)
                .bind(metadata.workspace_id.map(|w| w.to_string()))
                .bind(metadata.environment.map(|e| e.as_str()))
                .bind(metadata.actor.as_deref())
                .bind(metadata.correlation_id.as_deref())
                .bind(metadata.causation_id.as_deref())
                .bind(metadata.request_id.as_deref())
                .bind(&recorded_at);
        }
        let done = query
            .bind(&append.stream_id)
            .bind(version as i64)
            .execute(&mut *conn)
            .await
            .map_err(|err| conflict_or(err, append, version))?;
        if done.rows_affected() != chunk.len() as u64 {
            return Err(AppendError::Conflict {
                stream_id: append.stream_id.clone(),
                expected: version,
            });
        }
        // One writer holds the database: the rows of one statement get
        // consecutive row ids, ending at the last inserted one.
        let last = done.last_insert_rowid();
        let first = last - chunk.len() as i64 + 1;
        checkpoints.extend((first..=last).map(|position| Checkpoint { tx: 0, position }));
        version += chunk.len() as u64;
    }
    Ok(first_version)
}

/// Appends to streams that must not exist yet (expected version 0), all in
/// multi-row INSERTs. A stream that exists already makes its first version
/// collide in the unique index: nothing of the run is written.
async fn insert_new_streams(
    conn: &mut SqliteConnection,
    appends: &[StreamAppend],
    recorded_at: &DateTime<Utc>,
    checkpoints: &mut Vec<Checkpoint>,
) -> Result<(), AppendError> {
    let recorded_at = recorded_at.to_rfc3339_opts(SecondsFormat::Micros, true);
    let rows: Vec<(&str, i64, &super::NewEvent)> = appends
        .iter()
        .flat_map(|append| {
            append
                .events
                .iter()
                .enumerate()
                .map(|(offset, event)| (append.stream_id.as_str(), offset as i64 + 1, event))
        })
        .collect();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut query = sqlx::query(AssertSqlSafe(values_statement(chunk.len())));
        for (stream_id, version, event) in chunk {
            let metadata = &event.metadata;
            query = query
                .bind(*stream_id)
                .bind(*version)
                .bind(&event.event_type)
                .bind(event.schema_version)
                .bind(&event.payload)
                .bind(metadata.workspace_id.map(|w| w.to_string()))
                .bind(metadata.environment.map(|e| e.as_str()))
                .bind(metadata.actor.as_deref())
                .bind(metadata.correlation_id.as_deref())
                .bind(metadata.causation_id.as_deref())
                .bind(metadata.request_id.as_deref())
                .bind(&recorded_at);
        }
        let done = match query.execute(&mut *conn).await {
            Ok(done) => done,
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                let firsts = chunk.iter().filter(|r| r.1 == 1).map(|r| r.0);
                let stream_id = existing_stream(conn, firsts).await?;
                return Err(AppendError::Conflict {
                    stream_id,
                    expected: 0,
                });
            }
            Err(err) => return Err(err.into()),
        };
        let last = done.last_insert_rowid();
        let first = last - chunk.len() as i64 + 1;
        checkpoints.extend((first..=last).map(|position| Checkpoint { tx: 0, position }));
    }
    Ok(())
}

/// The first of the new `streams` that already has events (or, for a run
/// that creates one stream twice, that stream).
async fn existing_stream<'a>(
    conn: &mut SqliteConnection,
    streams: impl Iterator<Item = &'a str>,
) -> Result<String, AppendError> {
    let mut seen = std::collections::HashSet::new();
    for stream_id in streams {
        if !seen.insert(stream_id) {
            return Ok(stream_id.to_owned());
        }
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM events WHERE stream_id = ?1 AND stream_version = 1")
                .bind(stream_id)
                .fetch_optional(&mut *conn)
                .await?;
        if found.is_some() {
            return Ok(stream_id.to_owned());
        }
    }
    Ok(String::new())
}

/// A plain multi-row `INSERT … VALUES`.
fn values_statement(rows: usize) -> String {
    let mut sql = String::with_capacity(200 + rows * 40);
    sql.push_str(
        "INSERT INTO events (stream_id, stream_version, event_type, schema_version, payload, \
         workspace_id, environment, actor, correlation_id, causation_id, request_id, recorded_at) VALUES ",
    );
    for row in 0..rows {
        if row > 0 {
            sql.push(',');
        }
        sql.push('(');
        for column in 0..COLUMNS_PER_ROW {
            if column > 0 {
                sql.push(',');
            }
            sql.push('?');
        }
        sql.push(')');
    }
    sql
}

fn conflict_or(err: sqlx::Error, append: &StreamAppend, version: u64) -> AppendError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => AppendError::Conflict {
            stream_id: append.stream_id.clone(),
            expected: version,
        },
        _ => AppendError::from(err),
    }
}

/// `INSERT … SELECT … FROM (VALUES …) WHERE <stream is at the expected version>`:
/// the version check and the insert are one statement.
fn insert_statement(rows: usize) -> String {
    let mut sql = String::with_capacity(200 + rows * 40);
    sql.push_str(
        "INSERT INTO events (stream_id, stream_version, event_type, schema_version, payload, \
         workspace_id, environment, actor, correlation_id, causation_id, request_id, recorded_at) \
         SELECT column1, column2, column3, column4, column5, column6, column7, column8, column9, \
         column10, column11, column12 FROM (VALUES ",
    );
    for row in 0..rows {
        if row > 0 {
            sql.push(',');
        }
        sql.push('(');
        for column in 0..COLUMNS_PER_ROW {
            if column > 0 {
                sql.push(',');
            }
            sql.push('?');
        }
        sql.push(')');
    }
    sql.push_str(
        ") WHERE (SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_id = ?) = ?",
    );
    sql
}
