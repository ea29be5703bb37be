//! Event log throughput next to raw sqlx on the same database, same run.
//!
//! `cargo bench -p store --bench log` measures SQLite (a file in a temp
//! directory); with `BENCH_POSTGRES_URL` (or `TEST_POSTGRES_URL`) set, a
//! fresh schema on that PostgreSQL server too (tests/bench starts one).
//!
//! For each backend it prints:
//! - append: events/s through `EventLog::append` (payload serialisation,
//!   metadata, the stream-version check, the unique index, group commit)
//!   in transactions of 1, 20 and 100 events, next to a raw sqlx multi-row
//!   INSERT of the same rows into a plain table, and the ratio;
//! - the same with 32 concurrent appenders of one event each, where group
//!   commit gathers them into shared transactions;
//! - catch-up read: events/s read by `EventLog::read_after` in pages of
//!   1,000, next to a raw SELECT of the same columns, and the ratio.

use std::time::{Duration, Instant};

use domain::events::EventMetadata;
use domain::tenancy::{Environment, Scope, WorkspaceId};
use serde::Serialize;
use sqlx::AssertSqlSafe;
use store::db::{Database, DbOptions, Tx};
use store::log::{Checkpoint, EventLog, ExpectedVersion, NewEvent};
use store::testing::TestDb;

/// How long each append measurement runs.
const RUN: Duration = Duration::from_secs(3);
/// Events in the log for the read measurements.
const READ_EVENTS: usize = 200_000;

#[derive(Serialize)]
struct SetValue<'a> {
    session: &'a str,
    seq: u64,
    element: &'a str,
    value: String,
    at: &'a str,
}

fn payload(seq: u64) -> String {
    let event = SetValue {
        session: "0193f1b6-7c2e-7d4a-9a51-3f0a8f2b9c11",
        seq,
        element: "cmi.interactions.3.learner_response",
        value: format!("choice_{}", seq % 7),
        at: "2026-11-28T05:00:00.123Z",
    };
    format!(
        "{{\"RuntimeValueSet\":{}}}",
        serde_json::to_string(&event).unwrap()
    )
}

fn metadata(scope: Scope) -> EventMetadata {
    EventMetadata::scoped(scope)
        .with_actor("learner:l-42")
        .with_request_id("9b1f7a52-bc0e-4f0a-9f55-1e1c3b0d2a77")
        .with_correlation_id("9b1f7a52-bc0e-4f0a-9f55-1e1c3b0d2a77")
}

fn new_events(scope: Scope, first_seq: u64, n: usize) -> Vec<NewEvent> {
    (0..n as u64)
        .map(|i| NewEvent {
            event_type: "RuntimeValueSet".into(),
            schema_version: 1,
            payload: payload(first_seq + i),
            metadata: metadata(scope),
        })
        .collect()
}

const RAW_COLUMNS: &str = "stream_id, stream_version, event_type, schema_version, payload, workspace_id, \
     environment, actor, correlation_id, causation_id, request_id, recorded_at";

async fn create_raw_table(db: &Database) {
    let ddl = match db {
        Database::Sqlite { .. } => {
            "CREATE TABLE raw_events (position INTEGER PRIMARY KEY, stream_id TEXT, stream_version INTEGER, \
             event_type TEXT, schema_version INTEGER, payload TEXT, workspace_id TEXT, environment TEXT, actor TEXT, \
             correlation_id TEXT, causation_id TEXT, request_id TEXT, recorded_at TEXT)"
        }
        Database::Postgres { .. } => {
            "CREATE TABLE raw_events (position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, stream_id TEXT, \
             stream_version BIGINT, event_type TEXT, schema_version INTEGER, payload TEXT, workspace_id TEXT, \
             environment TEXT, actor TEXT, correlation_id TEXT, causation_id TEXT, request_id TEXT, \
             recorded_at TIMESTAMPTZ)"
        }
    };
    let mut tx = db.begin().await.unwrap();
    tx.execute(store::db::sql(ddl)).await.unwrap();
    tx.commit().await.unwrap();
}

/// One raw transaction: a multi-row INSERT of the same rows into the plain table.
async fn raw_insert(db: &Database, stream: &str, version: u64, events: &[NewEvent]) {
    let now = chrono::Utc::now();
    let mut tx = db.begin().await.unwrap();
    match &mut tx {
        Tx::Sqlite(conn) => {
            let mut sql = format!("INSERT INTO raw_events ({RAW_COLUMNS}) VALUES ");
            for i in 0..events.len() {
                sql.push_str(if i == 0 {
                    "(?,?,?,?,?,?,?,?,?,?,?,?)"
                } else {
                    ",(?,?,?,?,?,?,?,?,?,?,?,?)"
                });
            }
            let recorded = now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for (i, e) in events.iter().enumerate() {
                let m = &e.metadata;
                query = query
                    .bind(stream)
                    .bind((version + i as u64 + 1) as i64)
                    .bind(&e.event_type)
                    .bind(e.schema_version)
                    .bind(&e.payload)
                    .bind(m.workspace_id.map(|w| w.to_string()))
                    .bind(m.environment.map(|e| e.as_str()))
                    .bind(m.actor.as_deref())
                    .bind(m.correlation_id.as_deref())
                    .bind(m.causation_id.as_deref())
                    .bind(m.request_id.as_deref())
                    .bind(recorded.clone());
            }
            query.execute(&mut **conn).await.unwrap();
        }
        Tx::Postgres(conn) => {
            let n = events.len();
            let versions: Vec<i64> = (0..n).map(|i| (version + i as u64 + 1) as i64).collect();
            let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
            let schema_versions: Vec<i32> = events.iter().map(|e| e.schema_version).collect();
            let payloads: Vec<&str> = events.iter().map(|e| e.payload.as_str()).collect();
            let ws: Vec<Option<String>> = events
                .iter()
                .map(|e| e.metadata.workspace_id.map(|w| w.to_string()))
                .collect();
            let env: Vec<Option<&str>> = events
                .iter()
                .map(|e| e.metadata.environment.map(|e| e.as_str()))
                .collect();
            let actor: Vec<Option<&str>> =
                events.iter().map(|e| e.metadata.actor.as_deref()).collect();
            let corr: Vec<Option<&str>> = events
                .iter()
                .map(|e| e.metadata.correlation_id.as_deref())
                .collect();
            let cause: Vec<Option<&str>> = events
                .iter()
                .map(|e| e.metadata.causation_id.as_deref())
                .collect();
            let req: Vec<Option<&str>> = events
                .iter()
                .map(|e| e.metadata.request_id.as_deref())
                .collect();
            sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO raw_events ({RAW_COLUMNS}) SELECT $1, v, t, sv, p, w, e, a, c, ca, r, $12 FROM \
                 UNNEST($2::bigint[], $3::text[], $4::int[], $5::text[], $6::text[], $7::text[], $8::text[], \
                 $9::text[], $10::text[], $11::text[]) AS u(v, t, sv, p, w, e, a, c, ca, r)"
            )))
            .bind(stream)
            .bind(&versions)
            .bind(&types)
            .bind(&schema_versions)
            .bind(&payloads)
            .bind(&ws)
            .bind(&env)
            .bind(&actor)
            .bind(&corr)
            .bind(&cause)
            .bind(&req)
            .bind(now)
            .execute(&mut **conn)
            .await
            .unwrap();
        }
    }
    tx.commit().await.unwrap();
}

fn rate(events: usize, elapsed: Duration) -> f64 {
    events as f64 / elapsed.as_secs_f64()
}

async fn bench_backend(name: &str, db: Database) {
    let log = EventLog::open(&db).await.unwrap();
    create_raw_table(&db).await;
    let scope = Scope::new(
        WorkspaceId::from_uuid(uuid::Uuid::from_u128(42)),
        Environment::Live,
    );
    println!("\n## {name}\n");
    println!("| measurement | events/s | raw sqlx events/s | ratio |");
    println!("|---|---:|---:|---:|");
    let mut stream_no = 0u64;
    for batch in [1usize, 20, 100] {
        // Raw: the same rows, pre-built, into the plain table.
        let prebuilt = new_events(scope, 0, batch);
        let started = Instant::now();
        let mut raw_events = 0;
        let mut version = 0;
        while started.elapsed() < RUN {
            raw_insert(&db, "raw", version, &prebuilt).await;
            version += batch as u64;
            raw_events += batch;
        }
        let raw = rate(raw_events, started.elapsed());

        // Ours: serialise the payloads, then append through the log.
        stream_no += 1;
        let stream = format!("bench-{stream_no}");
        let started = Instant::now();
        let mut ours_events = 0;
        let mut version = 0;
        while started.elapsed() < RUN {
            let events = new_events(scope, version, batch);
            log.append_to(stream.as_str(), ExpectedVersion::Exact(version), events)
                .await
                .unwrap();
            version += batch as u64;
            ours_events += batch;
        }
        let ours = rate(ours_events, started.elapsed());
        println!(
            "| append, transactions of {batch} | {ours:.0} | {raw:.0} | {:.0}% |",
            100.0 * ours / raw
        );
    }

    // 32 concurrent appenders, one event per append: group commit.
    let raw_single = {
        let prebuilt = new_events(scope, 0, 1);
        let started = Instant::now();
        let mut n = 0;
        while started.elapsed() < RUN {
            raw_insert(&db, "raw-single", n as u64, &prebuilt).await;
            n += 1;
        }
        rate(n, started.elapsed())
    };
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..32 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let stream = format!("concurrent-{w}");
            let mut version = 0;
            while started.elapsed() < RUN {
                log.append_to(
                    stream.as_str(),
                    ExpectedVersion::Exact(version),
                    new_events(scope, version, 1),
                )
                .await
                .unwrap();
                version += 1;
            }
            version as usize
        }));
    }
    let mut concurrent = 0;
    for task in tasks {
        concurrent += task.await.unwrap();
    }
    let ours = rate(concurrent, started.elapsed());
    println!(
        "| append, 32 concurrent appenders of 1 event (vs raw sequential 1) | {ours:.0} | {raw_single:.0} | {:.0}% |",
        100.0 * ours / raw_single
    );

    // Fill the log for the read measurement.
    let head = log.head().await.unwrap();
    let existing = head.position as usize;
    let mut version = 0;
    let filler = "read-fill";
    while (version as usize) + existing < READ_EVENTS {
        log.append_to(
            filler,
            ExpectedVersion::Exact(version),
            new_events(scope, version, 500),
        )
        .await
        .unwrap();
        version += 500;
    }
    let raw_count: i64 = match &db {
        Database::Sqlite { reader, .. } => sqlx::query_scalar("SELECT count(*) FROM raw_events")
            .fetch_one(reader)
            .await
            .unwrap(),
        Database::Postgres { pool, .. } => sqlx::query_scalar("SELECT count(*) FROM raw_events")
            .fetch_one(pool)
            .await
            .unwrap(),
    };
    while raw_insert_count(&db).await < READ_EVENTS as i64 {
        raw_insert(
            &db,
            "raw-fill",
            raw_count as u64 + 1_000_000,
            &new_events(scope, 0, 500),
        )
        .await;
    }

    let started = Instant::now();
    let mut after = Checkpoint::START;
    let mut read = 0;
    loop {
        let page = log.read_after(after, 1000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.checkpoint();
        read += page.len();
    }
    let ours = rate(read, started.elapsed());
    let started = Instant::now();
    let raw_read = raw_read_all(&db).await;
    let raw = rate(raw_read, started.elapsed());
    println!(
        "| catch-up read, pages of 1,000 ({read} events) | {ours:.0} | {raw:.0} | {:.0}% |",
        100.0 * ours / raw
    );
    db.close().await;
}

async fn raw_insert_count(db: &Database) -> i64 {
    match db {
        Database::Sqlite { reader, .. } => sqlx::query_scalar("SELECT count(*) FROM raw_events")
            .fetch_one(reader)
            .await
            .unwrap(),
        Database::Postgres { pool, .. } => sqlx::query_scalar("SELECT count(*) FROM raw_events")
            .fetch_one(pool)
            .await
            .unwrap(),
    }
}

type RawRow = (
    i64,
    String,
    i64,
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Reads every raw row, the same columns, in pages of 1,000.
async fn raw_read_all(db: &Database) -> usize {
    let mut after = 0i64;
    let mut n = 0;
    loop {
        let rows: Vec<RawRow> = match db {
            Database::Sqlite { reader, .. } => sqlx::query_as(
                "SELECT position, stream_id, stream_version, event_type, schema_version, payload, workspace_id, \
                 environment, actor, correlation_id, causation_id, recorded_at FROM raw_events \
                 WHERE position > ?1 ORDER BY position LIMIT 1000",
            )
            .bind(after)
            .fetch_all(reader)
            .await
            .unwrap(),
            Database::Postgres { pool, .. } => sqlx::query_as(
                "SELECT position, stream_id, stream_version, event_type, schema_version::bigint, payload, \
                 workspace_id, environment, actor, correlation_id, causation_id, recorded_at::text FROM raw_events \
                 WHERE position > $1 ORDER BY position LIMIT 1000",
            )
            .bind(after)
            .fetch_all(pool)
            .await
            .unwrap(),
        };
        let Some(last) = rows.last() else { return n };
        after = last.0;
        n += rows.len();
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        println!(
            "# event log benchmark ({} s per append measurement)",
            RUN.as_secs()
        );
        for (label, durability) in [("full", "full"), ("normal", "normal")] {
            let test_db = TestDb::sqlite();
            let options = DbOptions {
                sqlite_durability: durability.parse().unwrap(),
                ..DbOptions::default()
            };
            let db = Database::connect(test_db.url(), &options).await.unwrap();
            db.migrate().await.unwrap();
            bench_backend(&format!("SQLite (synchronous={label}, WAL)"), db).await;
        }
        let postgres =
            std::env::var("BENCH_POSTGRES_URL").or_else(|_| std::env::var("TEST_POSTGRES_URL"));
        match postgres {
            Ok(url) => {
                let test_db = TestDb::postgres(&url).await;
                let db = test_db.connect().await;
                bench_backend("PostgreSQL", db).await;
            }
            Err(_) => {
                println!("\n(PostgreSQL skipped: set BENCH_POSTGRES_URL, or run tests/bench)")
            }
        }
    });
}
