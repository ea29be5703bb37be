//! One database, two backends: SQLite (the embedded default) and PostgreSQL.
//!
//! View SQL is written once in the dialect both accept (`$1` placeholders,
//! `INSERT … ON CONFLICT`, `BIGINT`/`TEXT`/`DOUBLE PRECISION`/`BOOLEAN`
//! columns) and runs through [`Sql`], [`Tx`] and [`Row`], a small closed enum
//! over the two sqlx drivers. The event log has its own backend-specific SQL
//! in [`crate::log`], since it is the hot path.
//!
//! SQLite has exactly one writer connection (`BEGIN IMMEDIATE`, so a second
//! process waits on `busy_timeout` instead of failing) and a separate pool of
//! readers; the file is in WAL mode.

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Decode, Postgres, Row as _, Sqlite, Type};

use crate::StoreError;

/// Rows a SQLite connection's thread may hand over before the reader takes
/// them. sqlx's default (50) parks the thread and wakes the reader every
/// few dozen rows, so a read of 1,000 rows switched threads dozens of times.
const ROW_BUFFER: usize = 4096;

/// Which database engine holds the log and the views.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How durable a SQLite commit is before it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteDurability {
    /// `synchronous=FULL`: each commit reaches the disk before it returns;
    /// survives power loss. The default.
    #[default]
    Full,
    /// `synchronous=NORMAL`: survives a process crash, may lose the last
    /// commits on power loss.
    Normal,
}

impl SqliteDurability {
    /// The statement that begins a write transaction committed this way: the
    /// one writer connection is shared by the log and the views, so each
    /// transaction says how durable its commit is.
    pub(crate) fn begin_immediate(self) -> &'static str {
        match self {
            SqliteDurability::Full => "PRAGMA synchronous = FULL; BEGIN IMMEDIATE",
            SqliteDurability::Normal => "PRAGMA synchronous = NORMAL; BEGIN IMMEDIATE",
        }
    }
}

/// How durable a write transaction's commit must be.
#[derive(Debug, Clone, Copy)]
enum Commit {
    /// As configured: the log's, and anything that cannot be rebuilt.
    Durable,
    /// A view's: rebuilt from the log if lost.
    Rebuildable,
}

/// How a write transaction on SQLite lets the log's appends go first
/// ([`WriterGate`]).
#[derive(Debug, Clone, Copy)]
enum Turn {
    /// Waits while appends wait (bounded): a transaction that starts.
    GiveWay,
    /// Waits until the appends waiting now are answered (bounded): a view
    /// that committed part of a batch and goes on.
    TakeTurns,
}

impl FromStr for SqliteDurability {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "full" => Ok(SqliteDurability::Full),
            "normal" => Ok(SqliteDurability::Normal),
            other => Err(StoreError::Config(format!(
                "sqlite durability must be \"full\" or \"normal\", not {other:?}"
            ))),
        }
    }
}

/// Connection settings beyond the URL.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// Connections of the PostgreSQL pool, or SQLite readers.
    pub max_connections: u32,
    pub sqlite_durability: SqliteDurability,
    /// How long to wait for the database at start before giving up.
    pub connect_timeout: Duration,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            max_connections: 16,
            sqlite_durability: SqliteDurability::default(),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// The database that holds the event log and every view.
#[derive(Clone, Debug)]
pub enum Database {
    Sqlite {
        writer: SqlitePool,
        reader: SqlitePool,
        /// Lets the log's appends take the writer before other writes.
        gate: std::sync::Arc<WriterGate>,
        /// How durable the log's commits are.
        durability: SqliteDurability,
    },
    Postgres {
        pool: PgPool,
        /// The schema unqualified names resolve in; advisory locks and
        /// notification channels are namespaced by it, so several schemas
        /// can share one server (tests do).
        schema: String,
    },
}

impl Database {
    /// Connects to `sqlite://…` or `postgres://…`.
    pub async fn connect(url: &str, options: &DbOptions) -> Result<Database, StoreError> {
        if url.starts_with("sqlite:") {
            Self::connect_sqlite(url, options).await
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Self::connect_postgres(url, options).await
        } else {
            Err(StoreError::Config(format!(
                "database url must start with sqlite:// or postgres://, got {:?}",
                redact_url(url)
            )))
        }
    }

    async fn connect_sqlite(url: &str, options: &DbOptions) -> Result<Database, StoreError> {
        let base = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("invalid sqlite url: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true)
            .pragma("temp_store", "memory")
            .pragma("cache_size", "-8000")
            .row_buffer_size(ROW_BUFFER);
        let synchronous = match options.sqlite_durability {
            SqliteDurability::Full => SqliteSynchronous::Full,
            SqliteDurability::Normal => SqliteSynchronous::Normal,
        };
        if let Some(path) = base.get_filename().parent()
            && !path.as_os_str().is_empty()
        {
            std::fs::create_dir_all(path).map_err(|e| {
                StoreError::Config(format!(
                    "cannot create the directory {}: {e}",
                    path.display()
                ))
            })?;
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(base.clone().synchronous(synchronous))
            .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.connect_timeout)
            .connect_with(base.synchronous(synchronous).read_only(true))
            .await?;
        Ok(Database::Sqlite {
            writer,
            reader,
            gate: Default::default(),
            durability: options.sqlite_durability,
        })
    }

    async fn connect_postgres(url: &str, options: &DbOptions) -> Result<Database, StoreError> {
        let connect = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("invalid postgres url: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(2))
            .acquire_timeout(options.connect_timeout)
            .connect_with(connect)
            .await?;
        let schema: String = sqlx::query_scalar("SELECT current_schema()::text")
            .fetch_one(&pool)
            .await?;
        Ok(Database::Postgres { pool, schema })
    }

    pub fn backend(&self) -> Backend {
        match self {
            Database::Sqlite { .. } => Backend::Sqlite,
            Database::Postgres { .. } => Backend::Postgres,
        }
    }

    /// Applies the embedded migrations of this backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Database::Sqlite { writer, .. } => migrations::SQLITE.run(writer).await?,
            Database::Postgres { pool, .. } => migrations::POSTGRES.run(pool).await?,
        }
        Ok(())
    }

    /// Whether every embedded migration has been applied (for `/readyz`).
    pub async fn migrations_applied(&self) -> Result<bool, StoreError> {
        let expected = match self {
            Database::Sqlite { .. } => migrations::SQLITE.iter().count(),
            Database::Postgres { .. } => migrations::POSTGRES.iter().count(),
        };
        let rows = self
            .fetch_all(sql(
                "SELECT version FROM _sqlx_migrations WHERE success = TRUE ORDER BY version",
            ))
            .await?;
        Ok(rows.len() >= expected)
    }

    /// Begins a write transaction whose commit is as durable as the log's
    /// (on SQLite: the writer, `BEGIN IMMEDIATE`, once the log's waiting
    /// appends have had it; see [`WriterGate`]).
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        self.begin_with(Commit::Durable, Turn::GiveWay).await
    }

    /// Begins a write transaction of a view: what it writes can be rebuilt
    /// from the log, so on SQLite its commit is atomic but not flushed to
    /// the disk before it returns (`synchronous=NORMAL` in WAL mode). Power
    /// loss can take back its last commits, never part of one, and the
    /// view's checkpoint goes back with them, so the view applies those
    /// events again. The log's next durable commit flushes it along. On
    /// PostgreSQL the transaction commits with `synchronous_commit = off`,
    /// to the same effect.
    pub async fn begin_view(&self) -> Result<Tx, StoreError> {
        self.begin_with(Commit::Rebuildable, Turn::GiveWay).await
    }

    /// Whether a log append waits for SQLite's one writer (never on
    /// PostgreSQL, where appends and views do not share a connection).
    pub fn appends_waiting(&self) -> bool {
        match self {
            Database::Sqlite { gate, .. } => gate.appends_waiting(),
            Database::Postgres { .. } => false,
        }
    }

    /// Begins the next transaction of a view that committed part of a batch
    /// because appends were waiting: on SQLite the appends waiting then go
    /// first ([`WriterGate::take_turns`]), then the view goes on.
    pub async fn continue_view(&self) -> Result<Tx, StoreError> {
        self.begin_with(Commit::Rebuildable, Turn::TakeTurns).await
    }

    async fn begin_with(&self, commit: Commit, turn: Turn) -> Result<Tx, StoreError> {
        Ok(match self {
            Database::Sqlite {
                writer,
                gate,
                durability,
                ..
            } => {
                match turn {
                    Turn::GiveWay => gate.give_way().await,
                    Turn::TakeTurns => gate.take_turns().await,
                }
                let begin = match commit {
                    Commit::Durable => durability.begin_immediate(),
                    Commit::Rebuildable => SqliteDurability::Normal.begin_immediate(),
                };
                Tx::Sqlite(writer.begin_with(begin).await?)
            }
            Database::Postgres { pool, .. } => {
                let mut tx = pool.begin().await?;
                if let Commit::Rebuildable = commit {
                    // The same on PostgreSQL: the commit returns before its
                    // WAL is flushed; a crash can lose it, never part of it.
                    sqlx::query("SET LOCAL synchronous_commit = off")
                        .execute(&mut *tx)
                        .await?;
                }
                Tx::Postgres(tx)
            }
        })
    }

    /// Begins a read that sees one moment of the database: every query on
    /// the [`Snapshot`] sees the same committed state, so rows of several
    /// tables a view writes together are never read half from before a
    /// commit and half from after it. On SQLite a deferred transaction on a
    /// reader connection (WAL: the snapshot is taken at its first read); on
    /// PostgreSQL `REPEATABLE READ, READ ONLY`.
    pub async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        Ok(Snapshot(match self {
            Database::Sqlite { reader, .. } => Tx::Sqlite(reader.begin().await?),
            Database::Postgres { pool, .. } => Tx::Postgres(
                pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .await?,
            ),
        }))
    }

    /// Runs a read on the reader pool.
    pub async fn fetch_all(&self, query: Sql) -> Result<Vec<Row>, StoreError> {
        Ok(match self {
            Database::Sqlite { reader, .. } => query
                .sqlite()
                .fetch_all(reader)
                .await?
                .into_iter()
                .map(Row::Sqlite)
                .collect(),
            Database::Postgres { pool, .. } => query
                .postgres()
                .fetch_all(pool)
                .await?
                .into_iter()
                .map(Row::Postgres)
                .collect(),
        })
    }

    pub async fn fetch_optional(&self, query: Sql) -> Result<Option<Row>, StoreError> {
        Ok(match self {
            Database::Sqlite { reader, .. } => query
                .sqlite()
                .fetch_optional(reader)
                .await?
                .map(Row::Sqlite),
            Database::Postgres { pool, .. } => query
                .postgres()
                .fetch_optional(pool)
                .await?
                .map(Row::Postgres),
        })
    }

    /// Checks that the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.fetch_all(sql("SELECT 1")).await.map(|_| ())
    }

    /// Closes every connection.
    pub async fn close(&self) {
        match self {
            Database::Sqlite { writer, reader, .. } => {
                reader.close().await;
                writer.close().await;
            }
            Database::Postgres { pool, .. } => pool.close().await,
        }
    }
}

/// SQLite has one writer, shared by the log's appends and the views'
/// transactions. Appends are what requests wait for, and they are short (one
/// group commit), so they go first: while one waits for the writer, other
/// write transactions hold back, for at most [`WriterGate::PATIENCE`] so
/// that views keep up under any load.
#[derive(Debug, Default)]
pub struct WriterGate {
    waiting: std::sync::atomic::AtomicUsize,
    clear: tokio::sync::Notify,
    /// Notified whenever an append is answered.
    served: tokio::sync::Notify,
}

/// An append waiting for (or holding) the writer.
pub struct Appending<'a>(&'a WriterGate);

impl WriterGate {
    /// The longest a view's transaction gives way to appends.
    pub const PATIENCE: Duration = Duration::from_millis(10);

    /// Marks an append as waiting for the writer until the guard drops.
    pub fn appending(&self) -> Appending<'_> {
        self.waiting
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Appending(self)
    }

    /// Whether an append waits for (or holds) the writer.
    pub fn appends_waiting(&self) -> bool {
        self.waiting.load(std::sync::atomic::Ordering::Acquire) > 0
    }

    /// Lets the appends waiting now go first: waits until one of them is
    /// answered (its group commit carries every append queued with it),
    /// for at most [`PATIENCE`](Self::PATIENCE). For a view that commits
    /// part of a batch to let appends through: it must not wait for the
    /// appends to stop, which under load they never do.
    pub async fn take_turns(&self) {
        let served = self.served.notified();
        if !self.appends_waiting() {
            return;
        }
        let _ = tokio::time::timeout(Self::PATIENCE, served).await;
    }

    /// Waits while appends wait, for at most [`PATIENCE`](Self::PATIENCE).
    pub async fn give_way(&self) {
        let deadline = tokio::time::Instant::now() + Self::PATIENCE;
        loop {
            let clear = self.clear.notified();
            if self.waiting.load(std::sync::atomic::Ordering::Acquire) == 0 {
                return;
            }
            if tokio::time::timeout_at(deadline, clear).await.is_err() {
                return;
            }
        }
    }
}

impl Drop for Appending<'_> {
    fn drop(&mut self) {
        self.0.served.notify_waiters();
        if self
            .0
            .waiting
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel)
            == 1
        {
            self.0.clear.notify_waiters();
        }
    }
}

/// Hides a password in a database URL before it reaches a log or an error.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// A value bound to a placeholder. NULLs keep their type: PostgreSQL
/// refuses a text NULL for a `bigint` column.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null(NullType),
    Int(i64),
    Float(f64),
    Text(String),
    Bool(bool),
    Bytes(Vec<u8>),
}

/// The type of a NULL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NullType {
    Int,
    Float,
    Text,
    Bool,
    Bytes,
}

/// A type whose NULL has a database type.
pub trait Nullable {
    const NULL: NullType;
}
impl Nullable for i64 {
    const NULL: NullType = NullType::Int;
}
impl Nullable for i32 {
    const NULL: NullType = NullType::Int;
}
impl Nullable for u32 {
    const NULL: NullType = NullType::Int;
}
impl Nullable for f64 {
    const NULL: NullType = NullType::Float;
}
impl Nullable for bool {
    const NULL: NullType = NullType::Bool;
}
impl Nullable for String {
    const NULL: NullType = NullType::Text;
}
impl Nullable for &str {
    const NULL: NullType = NullType::Text;
}
impl Nullable for &String {
    const NULL: NullType = NullType::Text;
}
impl Nullable for Vec<u8> {
    const NULL: NullType = NullType::Bytes;
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(v.into())
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(v.into())
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Bytes(v)
    }
}
impl<T: Into<Value> + Nullable> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null(T::NULL), Into::into)
    }
}

/// `text` with its placeholders `$1, $2, … $n` written as SQLite's anonymous
/// `?`, when each appears once and in that order (a multi-row `INSERT`);
/// `None` otherwise, or when there are none. Binding a named parameter costs
/// SQLite a walk of the statement's parameter names
/// (`sqlite3_bind_parameter_name`), so a statement of thousands of `$n` took
/// time quadratic in their number; anonymous ones bind by position.
/// Quoted text (`'…'`, `"…"`) is left alone.
fn positional(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut expected: u64 = 1;
    let mut copied = 0;
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        if let Some(q) = quote {
            if byte == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        match byte {
            b'\'' | b'"' => {
                quote = Some(byte);
                i += 1;
            }
            b'$' => {
                let digits = bytes[i + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                if digits == 0 {
                    i += 1;
                    continue;
                }
                let end = i + 1 + digits;
                if text[i + 1..end].parse::<u64>().ok()? != expected {
                    return None;
                }
                expected += 1;
                out.push_str(&text[copied..i]);
                out.push('?');
                copied = end;
                i = end;
            }
            _ => i += 1,
        }
    }
    if expected == 1 {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// A statement in the dialect both backends accept, with its arguments.
#[derive(Debug, Clone)]
pub struct Sql {
    text: Cow<'static, str>,
    args: Vec<Value>,
}

/// Starts a statement.
pub fn sql(text: impl Into<Cow<'static, str>>) -> Sql {
    Sql {
        text: text.into(),
        args: Vec::new(),
    }
}

impl Sql {
    pub fn bind(mut self, value: impl Into<Value>) -> Sql {
        self.args.push(value.into());
        self
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The statement for sqlx; its arguments move into it (a statement
    /// carries whole event payloads, so they are not copied).
    fn sqlite(self) -> sqlx::query::Query<'static, Sqlite, sqlx::sqlite::SqliteArguments> {
        let text = positional(&self.text).map_or(self.text, Cow::Owned);
        let mut query = sqlx::query(AssertSqlSafe(text));
        for arg in self.args {
            query = match arg {
                Value::Null(_) => query.bind(None::<i64>),
                Value::Int(v) => query.bind(v),
                Value::Float(v) => query.bind(v),
                Value::Text(v) => query.bind(v),
                Value::Bool(v) => query.bind(v),
                Value::Bytes(v) => query.bind(v),
            };
        }
        query
    }

    fn postgres(self) -> sqlx::query::Query<'static, Postgres, sqlx::postgres::PgArguments> {
        let mut query = sqlx::query(AssertSqlSafe(self.text));
        for arg in self.args {
            query = match arg {
                Value::Null(NullType::Int) => query.bind(None::<i64>),
                Value::Null(NullType::Float) => query.bind(None::<f64>),
                Value::Null(NullType::Text) => query.bind(None::<String>),
                Value::Null(NullType::Bool) => query.bind(None::<bool>),
                Value::Null(NullType::Bytes) => query.bind(None::<Vec<u8>>),
                Value::Int(v) => query.bind(v),
                Value::Float(v) => query.bind(v),
                Value::Text(v) => query.bind(v),
                Value::Bool(v) => query.bind(v),
                Value::Bytes(v) => query.bind(v),
            };
        }
        query
    }
}

/// A write transaction on either backend.
#[derive(Debug)]
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

impl Tx {
    /// Runs a statement and returns the number of rows it changed.
    pub async fn execute(&mut self, query: Sql) -> Result<u64, StoreError> {
        Ok(match self {
            Tx::Sqlite(tx) => query.sqlite().execute(&mut **tx).await?.rows_affected(),
            Tx::Postgres(tx) => query.postgres().execute(&mut **tx).await?.rows_affected(),
        })
    }

    pub async fn fetch_all(&mut self, query: Sql) -> Result<Vec<Row>, StoreError> {
        Ok(match self {
            Tx::Sqlite(tx) => query
                .sqlite()
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .map(Row::Sqlite)
                .collect(),
            Tx::Postgres(tx) => query
                .postgres()
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .map(Row::Postgres)
                .collect(),
        })
    }

    pub async fn fetch_optional(&mut self, query: Sql) -> Result<Option<Row>, StoreError> {
        Ok(match self {
            Tx::Sqlite(tx) => query
                .sqlite()
                .fetch_optional(&mut **tx)
                .await?
                .map(Row::Sqlite),
            Tx::Postgres(tx) => query
                .postgres()
                .fetch_optional(&mut **tx)
                .await?
                .map(Row::Postgres),
        })
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx) => tx.rollback().await?,
            Tx::Postgres(tx) => tx.rollback().await?,
        }
        Ok(())
    }
}

/// A read of one consistent moment ([`Database::snapshot`]). It writes
/// nothing; dropping it ends the transaction.
#[derive(Debug)]
pub struct Snapshot(Tx);

impl Snapshot {
    pub async fn fetch_all(&mut self, query: Sql) -> Result<Vec<Row>, StoreError> {
        self.0.fetch_all(query).await
    }

    pub async fn fetch_optional(&mut self, query: Sql) -> Result<Option<Row>, StoreError> {
        self.0.fetch_optional(query).await
    }
}

/// A column type both drivers decode.
pub trait Column:
    for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>
{
}
impl<T> Column for T where
    T: for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>
{
}

/// A result row of either backend.
#[derive(Debug)]
pub enum Row {
    Sqlite(SqliteRow),
    Postgres(PgRow),
}

impl Row {
    /// Reads column `index`; a type mismatch is a bug in the query, reported
    /// as an error rather than a panic.
    pub fn get<T: Column>(&self, index: usize) -> Result<T, StoreError> {
        Ok(match self {
            Row::Sqlite(row) => row.try_get(index)?,
            Row::Postgres(row) => row.try_get(index)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn views_give_way_to_waiting_appends_for_a_bounded_time() {
        let gate = std::sync::Arc::new(WriterGate::default());
        let started = tokio::time::Instant::now();
        gate.give_way().await;
        assert_eq!(started.elapsed(), Duration::ZERO, "nothing waits: go");

        // An append waits and is done after 3 ms: the view goes then.
        let append = gate.appending();
        let done = tokio::spawn({
            let gate = gate.clone();
            async move {
                let started = tokio::time::Instant::now();
                gate.give_way().await;
                started.elapsed()
            }
        });
        tokio::time::sleep(Duration::from_millis(3)).await;
        drop(append);
        assert_eq!(done.await.unwrap(), Duration::from_millis(3));

        // Appends that never stop waiting hold a view back only so long.
        let _forever = gate.appending();
        let started = tokio::time::Instant::now();
        gate.give_way().await;
        assert_eq!(started.elapsed(), WriterGate::PATIENCE);
    }

    #[tokio::test(start_paused = true)]
    async fn a_view_between_parts_lets_the_appends_waiting_go_first_once() {
        let gate = std::sync::Arc::new(WriterGate::default());
        let started = tokio::time::Instant::now();
        gate.take_turns().await;
        assert_eq!(started.elapsed(), Duration::ZERO, "nothing waits: go on");

        // Two appends wait; the first is answered after 2 ms (its group
        // commit carries the other): the view goes on then, though the
        // second is still counted as waiting.
        let first = gate.appending();
        let second = gate.appending();
        let done = tokio::spawn({
            let gate = gate.clone();
            async move {
                let started = tokio::time::Instant::now();
                gate.take_turns().await;
                started.elapsed()
            }
        });
        tokio::time::sleep(Duration::from_millis(2)).await;
        drop(first);
        assert_eq!(done.await.unwrap(), Duration::from_millis(2));
        assert!(gate.appends_waiting());

        // An append that is never answered holds the view back only so long.
        let started = tokio::time::Instant::now();
        gate.take_turns().await;
        assert_eq!(started.elapsed(), WriterGate::PATIENCE);
        drop(second);
        assert!(!gate.appends_waiting());
    }

    #[test]
    fn placeholders_in_order_become_positional_on_sqlite() {
        assert_eq!(
            positional(
                "INSERT INTO t VALUES ($1, $2), ($3, CAST($4 AS TEXT)) ON CONFLICT DO NOTHING"
            )
            .as_deref(),
            Some("INSERT INTO t VALUES (?, ?), (?, CAST(? AS TEXT)) ON CONFLICT DO NOTHING")
        );
        assert_eq!(
            positional("SELECT json_extract(d, '$.a$1'), \"$2\" FROM t WHERE a = $1 AND b = $2")
                .as_deref(),
            Some("SELECT json_extract(d, '$.a$1'), \"$2\" FROM t WHERE a = ? AND b = ?"),
            "quoted text is not a placeholder"
        );
        assert_eq!(
            positional("SELECT 'it''s $1', $1").as_deref(),
            Some("SELECT 'it''s $1', ?")
        );
        for kept in [
            "UPDATE t SET a = $2 WHERE b = $1",
            "UPDATE t SET a = $1, b = coalesce(b, $1)",
            "SELECT $1, $3",
            "SELECT 1",
        ] {
            assert_eq!(positional(kept), None, "{kept}");
        }
    }

    /// The one writer connection switches between the log's durability and
    /// the views' for each transaction (`PRAGMA synchronous`: 1 is NORMAL,
    /// 2 is FULL).
    #[tokio::test]
    async fn views_commit_less_durably_than_the_log_on_the_same_writer() {
        async fn synchronous(tx: &mut Tx) -> i64 {
            let rows = tx.fetch_all(sql("PRAGMA synchronous")).await.unwrap();
            rows[0].get(0).unwrap()
        }
        let dir = tempfile::tempdir().unwrap();
        for (durability, durable) in [(SqliteDurability::Full, 2), (SqliteDurability::Normal, 1)] {
            let options = DbOptions {
                sqlite_durability: durability,
                ..DbOptions::default()
            };
            let path = dir.path().join(format!("{durability:?}.db"));
            let db = Database::connect(&format!("sqlite://{}", path.display()), &options)
                .await
                .unwrap();
            let mut levels = Vec::new();
            for view in [false, true, true, false, true] {
                let mut tx = if view {
                    db.begin_view().await.unwrap()
                } else {
                    db.begin().await.unwrap()
                };
                levels.push(synchronous(&mut tx).await);
                tx.commit().await.unwrap();
            }
            assert_eq!(
                levels,
                [durable, 1, 1, durable, 1],
                "{durability:?}: durable, view, view, durable, view"
            );
        }
    }

    /// On PostgreSQL a view's transaction commits asynchronously, the rest
    /// as the server is configured (runs in the PostgreSQL pass of the
    /// tests, with `TEST_DATABASE_URL`).
    #[tokio::test]
    async fn views_commit_asynchronously_on_postgres() {
        let test_db = crate::testing::TestDb::new().await;
        let db = test_db.connect().await;
        if db.backend() != Backend::Postgres {
            return;
        }
        let mut levels = Vec::new();
        for view in [false, true, false] {
            let mut tx = if view {
                db.begin_view().await.unwrap()
            } else {
                db.begin().await.unwrap()
            };
            let rows = tx
                .fetch_all(sql("SELECT current_setting('synchronous_commit')"))
                .await
                .unwrap();
            levels.push(rows[0].get::<String>(0).unwrap());
            tx.commit().await.unwrap();
        }
        assert_eq!(levels, ["on", "off", "on"]);
    }

    /// `.cargo/config.toml` builds the bundled SQLite without memory
    /// statistics (a process-wide mutex around every allocation).
    #[tokio::test]
    async fn sqlite_is_built_without_memory_statistics() {
        let test_db = crate::testing::TestDb::sqlite();
        let db = test_db.connect().await;
        let options: Vec<String> = db
            .fetch_all(sql("PRAGMA compile_options"))
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0).unwrap())
            .collect();
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "LIBSQLITE3_FLAGS of .cargo/config.toml is not in effect: {options:?}"
        );
    }

    /// Rows one commit writes to two tables are read as they were at one
    /// moment: a commit between a snapshot's reads does not show in the
    /// second, while a read outside it sees the commit.
    #[tokio::test]
    async fn a_snapshot_reads_one_moment_across_tables() {
        let test_db = crate::testing::TestDb::new().await;
        let db = test_db.connect().await;
        let write = async |n: i64| {
            let mut tx = db.begin().await.unwrap();
            for table in ["snap_a", "snap_b"] {
                tx.execute(sql(format!("UPDATE {table} SET n = $1")).bind(n))
                    .await
                    .unwrap();
            }
            tx.commit().await.unwrap();
        };
        let mut tx = db.begin().await.unwrap();
        for table in ["snap_a", "snap_b"] {
            tx.execute(sql(format!("CREATE TABLE {table} (n BIGINT NOT NULL)")))
                .await
                .unwrap();
            tx.execute(sql(format!("INSERT INTO {table} (n) VALUES (1)")))
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();

        let read = async |snapshot: &mut Snapshot, table: &str| -> i64 {
            let rows = snapshot
                .fetch_all(sql(format!("SELECT n FROM {table}")))
                .await
                .unwrap();
            rows[0].get(0).unwrap()
        };
        let mut snapshot = db.snapshot().await.unwrap();
        assert_eq!(read(&mut snapshot, "snap_a").await, 1);
        write(2).await;
        assert_eq!(read(&mut snapshot, "snap_b").await, 1, "the same moment");
        let outside = db.fetch_all(sql("SELECT n FROM snap_b")).await.unwrap();
        assert_eq!(
            outside[0].get::<i64>(0).unwrap(),
            2,
            "a plain read is newer"
        );
        drop(snapshot);
        let mut later = db.snapshot().await.unwrap();
        assert_eq!(read(&mut later, "snap_a").await, 2);
        assert_eq!(read(&mut later, "snap_b").await, 2);
    }

    #[tokio::test]
    async fn positional_statements_bind_the_same_values() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::connect(
            &format!("sqlite://{}", dir.path().join("p.db").display()),
            &DbOptions::default(),
        )
        .await
        .unwrap();
        let mut tx = db.begin().await.unwrap();
        tx.execute(sql("CREATE TABLE t (a BIGINT, b TEXT, c TEXT)"))
            .await
            .unwrap();
        let mut insert = sql("INSERT INTO t (a, b, c) VALUES ($1, $2, $3), ($4, $5, $6)");
        for v in [1, 2] {
            insert = insert
                .bind(v as i64)
                .bind(format!("b{v}"))
                .bind(Option::<String>::None);
        }
        tx.execute(insert).await.unwrap();
        tx.execute(
            sql("UPDATE t SET c = $2 WHERE a = $1")
                .bind(2_i64)
                .bind("c2"),
        )
        .await
        .unwrap();
        let rows = tx
            .fetch_all(sql("SELECT a, b, c FROM t ORDER BY a"))
            .await
            .unwrap();
        let rows: Vec<(i64, String, Option<String>)> = rows
            .iter()
            .map(|r| (r.get(0).unwrap(), r.get(1).unwrap(), r.get(2).unwrap()))
            .collect();
        assert_eq!(
            rows,
            vec![(1, "b1".into(), None), (2, "b2".into(), Some("c2".into()))]
        );
        tx.commit().await.unwrap();
    }

    #[test]
    fn passwords_are_redacted() {
        let cases = [
            (
                "postgres://u:secret@h:5432/db",
                "postgres://u:***@h:5432/db",
            ),
            ("postgres://u@h/db", "postgres://u@h/db"),
            ("sqlite://./a.db", "sqlite://./a.db"),
        ];
        for (url, expected) in cases {
            assert_eq!(redact_url(url), expected);
        }
    }
}
