//! The LRS under load, next to the raw event append rate measured in the same run.
//!
//! `cargo bench -p e2e --bench lrs` (or `tests/bench lrs`) measures, on SQLite (a file in a
//! temp directory, `synchronous=full` like the server's default) and, with
//! `BENCH_POSTGRES_URL` set, on a fresh PostgreSQL schema:
//!
//! - append: `POST /xapi/statements` in batches of 100 from 16 concurrent clients (HTTP,
//!   validation and the append; a write answers once it is in the log, while the statement
//!   views follow the log beside it), in statements/s, next to the raw rate of the same
//!   statements appended as events through `EventLog::append` (16 concurrent appenders,
//!   batches of 100, no HTTP, no rules, no views) on a fresh database; then how far the
//!   statement views were behind when the run ended, and how long they took to catch up;
//! - single: the latency of one-statement `POST`s from one client (p50, p99), each followed
//!   by a `GET` of the same client that must see it (read-your-writes), p50 and p99 too;
//! - query: `GET /xapi/statements` filtered by agent, by verb + activity and by registration,
//!   `limit=100`, with `LRS_BENCH_STATEMENTS` statements stored (default 1,000,000;
//!   SQLite only unless `LRS_BENCH_PG_QUERIES=1`), p50 and p99, and how long storing them
//!   took through `Lrs::store_statements` in batches of 1,000.
//!
//! Targets: append ≥ 50% of the raw rate; query p99 ≤ 50 ms.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use api::app::Application;
use api::state::AppState;
use chrono::Utc;
use domain::events::EventMetadata;
use domain::lrs::statement::{self as lrs_statement, StatementEvent};
use domain::tenancy::{Environment, Scope};
use domain::xapi::XapiVersion;
use domain::xapi::statement::{PrepareContext, prepare_post};
use serde_json::{Value, json};
use store::db::{Database, SqliteDurability};
use store::log::{EventLog, ExpectedVersion, NewEvent, StreamAppend};
use store::testing::TestDb;
use uuid::Uuid;

const RUN: Duration = Duration::from_secs(8);
const CLIENTS: usize = 16;
const BATCH: usize = 100;
const AGENTS: u64 = 5_000;
const ACTIVITIES: u64 = 200;
const VERBS: [(&str, u64); 6] = [
    ("experienced", 40),
    ("attempted", 15),
    ("completed", 15),
    ("answered", 18),
    ("passed", 8),
    ("failed", 4),
];

fn verb_of(i: u64) -> &'static str {
    let mut bucket = (i.wrapping_mul(2_654_435_761) >> 7) % 100;
    for (verb, weight) in VERBS {
        if bucket < weight {
            return verb;
        }
        bucket -= weight;
    }
    "experienced"
}

fn learner_of(i: u64) -> u64 {
    i.wrapping_mul(7_919) % AGENTS
}

fn registration_of(learner: u64, i: u64) -> Uuid {
    Uuid::from_u128(0xb00 << 64 | u128::from(learner * 2 + (i / AGENTS) % 2))
}

fn activity_of(i: u64) -> u64 {
    i.wrapping_mul(31) % ACTIVITIES
}

/// Statement number `i` of the generated data: 5,000 learners with two registrations each,
/// 200 activities in 20 courses, six verbs of uneven frequency.
fn bench_statement(i: u64) -> Value {
    let learner = learner_of(i);
    let activity = activity_of(i);
    let verb = verb_of(i);
    let mut statement = json!({
        "actor": {"objectType": "Agent", "name": format!("Learner {learner}"), "mbox": format!("mailto:learner{learner}@example.com")},
        "verb": {"id": format!("http://adlnet.gov/expapi/verbs/{verb}"), "display": {"en-US": verb}},
        "object": {"objectType": "Activity", "id": format!("https://courses.example.com/activity/{activity}"),
            "definition": {"name": {"en-US": format!("Activity {activity}")}, "type": "http://adlnet.gov/expapi/activities/lesson"}},
        "context": {
            "registration": registration_of(learner, i),
            "contextActivities": {
                "parent": [{"id": format!("https://courses.example.com/course/{}", activity / 10)}],
                "grouping": [{"id": "https://courses.example.com/catalogue"}],
            },
            "platform": "AllureConnect bench",
        },
        "timestamp": "2026-11-28T09:00:00.000Z",
    });
    if matches!(verb, "completed" | "passed" | "failed" | "answered") {
        statement["result"] = json!({
            "completion": true,
            "success": verb != "failed",
            "score": {"scaled": (i % 101) as f64 / 100.0},
            "duration": "PT4M12S",
        });
    }
    statement
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

struct Server {
    address: String,
    state: AppState,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    _blobs: tempfile::TempDir,
}

async fn serve(database_url: &str) -> Server {
    let blobs = tempfile::tempdir().unwrap();
    let mut settings = e2e::test_settings(database_url, blobs.path());
    settings.storage.db.max_connections = 16;
    settings.storage.db.sqlite_durability = SqliteDurability::Full;
    settings.consistency_timeout = Duration::from_secs(60);
    // Statements only: no webhook endpoints exist.
    settings.webhooks.dispatch = false;
    let app = Application::build(settings).await.unwrap();
    let address = format!("http://{}", app.local_addr());
    let state = app.state().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    Server {
        address,
        state,
        stop,
        task,
        _blobs: blobs,
    }
}

impl Server {
    /// A workspace; returns its live key, once the key works.
    async fn workspace(&self) -> (Scope, String) {
        let created = api::cli::create_workspace(&self.state.platform, "Bench", "bench")
            .await
            .unwrap();
        let checkpoint = self
            .state
            .platform
            .log
            .checkpoint_of(created.position)
            .await
            .unwrap()
            .unwrap();
        self.state
            .platform
            .projections
            .wait_all(checkpoint, Duration::from_secs(60))
            .await
            .unwrap();
        (
            Scope::new(created.workspace_id, Environment::Live),
            created.live_key,
        )
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }
}

/// Statements/s through `EventLog::append` alone, on a fresh database.
async fn raw_append_rate(db: &Database) -> f64 {
    let log = EventLog::open(db).await.unwrap();
    let scope = Scope::new(
        domain::tenancy::WorkspaceId::from_uuid(Uuid::from_u128(7)),
        Environment::Live,
    );
    let metadata = EventMetadata::scoped(scope)
        .with_actor("key:bench")
        .with_request_id("9b1f7a52-bc0e-4f0a-9f55-1e1c3b0d2a77");
    let context = PrepareContext {
        version: XapiVersion::V2_0_0,
        stored: Utc::now(),
        authority: Some(domain::lrs::credential::authority(
            "http://127.0.0.1",
            "key:bench",
            "API key bench",
        )),
    };
    let done = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..CLIENTS as u64 {
        let (log, done, count, metadata, context) = (
            log.clone(),
            done.clone(),
            count.clone(),
            metadata.clone(),
            context.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut n = client * 1_000_000_000;
            while !done.load(Ordering::Relaxed) {
                let body: Vec<Value> = (n..n + BATCH as u64).map(bench_statement).collect();
                n += BATCH as u64;
                // The same events the LRS writes, prepared before the clock starts counting
                // would be fairer still; preparing is cheap next to the append.
                let prepared = prepare_post(Value::Array(body), &context, Uuid::new_v4).unwrap();
                let appends = prepared
                    .into_iter()
                    .map(|s| {
                        let event = StatementEvent::StatementStored {
                            statement: s.statement,
                            attachments: vec![],
                        };
                        StreamAppend {
                            stream_id: lrs_statement::stream_id(&scope, s.id),
                            expected: ExpectedVersion::Exact(0),
                            events: vec![NewEvent {
                                event_type: event.kind().into(),
                                schema_version: 1,
                                payload: serde_json::to_string(&event).unwrap(),
                                metadata: metadata.clone(),
                            }],
                        }
                    })
                    .collect();
                log.append(appends).await.unwrap();
                count.fetch_add(BATCH as u64, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(RUN).await;
    done.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// Statements/s through `POST /xapi/statements` from 16 clients in batches of 100.
async fn post_rate(server: &Server, key: &str) -> f64 {
    let client = reqwest::Client::new();
    let url = format!("{}/xapi/statements", server.address);
    let done = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS as u64 {
        let (client, url, key, done, count) = (
            client.clone(),
            url.clone(),
            key.to_owned(),
            done.clone(),
            count.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut n = 500_000_000 + c * 1_000_000_000;
            while !done.load(Ordering::Relaxed) {
                let body: Vec<Value> = (n..n + BATCH as u64).map(bench_statement).collect();
                n += BATCH as u64;
                let response = client
                    .post(&url)
                    .bearer_auth(&key)
                    .header("X-Experience-API-Version", "2.0.0")
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
                count.fetch_add(BATCH as u64, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(RUN).await;
    done.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// How many events the statement views were behind the log when called, and how long
/// they took from then to catch up.
async fn statement_views_catch_up(server: &Server) -> (i64, Duration) {
    let platform = &server.state.platform;
    let started = Instant::now();
    let head = platform.log.head().await.unwrap();
    let mut behind = 0;
    for view in api::lrs::STATEMENT_VIEWS {
        let at = platform.projections.reached(view).await.unwrap().unwrap();
        behind = behind.max(head.position - at.position);
    }
    for view in api::lrs::STATEMENT_VIEWS {
        platform
            .projections
            .wait_for(view, head, Duration::from_secs(3600))
            .await
            .unwrap();
    }
    (behind, started.elapsed())
}

/// Latencies of one-statement POSTs, one after the other, and of a GET of each statement by
/// the same client right after its POST.
async fn single_posts(server: &Server, key: &str, n: u64) -> (Vec<Duration>, Vec<Duration>) {
    let client = reqwest::Client::new();
    let url = format!("{}/xapi/statements", server.address);
    let mut posts = Vec::with_capacity(n as usize);
    let mut reads = Vec::with_capacity(n as usize);
    for i in 0..n {
        let body = bench_statement(900_000_000 + i);
        let started = Instant::now();
        let response = client
            .post(&url)
            .bearer_auth(key)
            .header("X-Experience-API-Version", "2.0.0")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let ids: Vec<String> = response.json().await.unwrap();
        posts.push(started.elapsed());
        let started = Instant::now();
        let response = client
            .get(&url)
            .bearer_auth(key)
            .header("X-Experience-API-Version", "2.0.0")
            .query(&[("statementId", &ids[0])])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "the writer reads its own statement");
        response.bytes().await.unwrap();
        reads.push(started.elapsed());
    }
    posts.sort();
    reads.sort();
    (posts, reads)
}

/// Stores statements `0..total` through `Lrs::store_statements` in batches of 1,000 from
/// four writers, and waits for every view; returns how long it took.
async fn generate(server: &Server, scope: Scope, total: u64) -> Duration {
    let platform = server.state.platform.clone();
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let chunk = 1_000u64;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (platform, next) = (platform.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let metadata = EventMetadata::scoped(scope).with_actor("key:bench");
            loop {
                let first = next.fetch_add(chunk, Ordering::Relaxed);
                if first >= total {
                    return;
                }
                let last = (first + chunk).min(total);
                let context = PrepareContext {
                    version: XapiVersion::V2_0_0,
                    stored: Utc::now(),
                    authority: Some(domain::lrs::credential::authority(
                        "http://127.0.0.1",
                        "key:bench",
                        "API key bench",
                    )),
                };
                let body = Value::Array((first..last).map(bench_statement).collect());
                let prepared = prepare_post(body, &context, Uuid::new_v4).unwrap();
                let write = platform.lrs.in_flight(context.stored, "key:bench");
                platform
                    .lrs
                    .store_statements(&scope, prepared, vec![], None, &metadata, write)
                    .await
                    .unwrap();
                if last % 100_000 < chunk {
                    eprintln!(
                        "  {last} statements stored ({:.0}/s)",
                        last as f64 / started.elapsed().as_secs_f64()
                    );
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let head = platform.log.head().await.unwrap();
    platform
        .projections
        .wait_all(head, Duration::from_secs(3600))
        .await
        .unwrap();
    started.elapsed()
}

/// p50/p99 of `GET /xapi/statements` with the queries `make` builds, and the mean page size.
async fn query_latencies(
    server: &Server,
    key: &str,
    n: u64,
    make: impl Fn(u64) -> Vec<(String, String)>,
) -> (Duration, Duration, f64) {
    let client = reqwest::Client::new();
    let url = format!("{}/xapi/statements", server.address);
    let mut latencies = Vec::with_capacity(n as usize);
    let mut returned = 0usize;
    for i in 0..n {
        let mut query = make(i);
        query.push(("limit".into(), "100".into()));
        let started = Instant::now();
        let response = client
            .get(&url)
            .bearer_auth(key)
            .header("X-Experience-API-Version", "2.0.0")
            .query(&query)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        latencies.push(started.elapsed());
        returned += body["statements"].as_array().unwrap().len();
    }
    latencies.sort();
    (
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        returned as f64 / n as f64,
    )
}

async fn bench_backend(name: &str, raw_db: TestDb, lrs_db: TestDb, query_db: Option<TestDb>) {
    println!("\n## {name}\n");
    let raw = raw_append_rate(&raw_db.connect().await).await;
    let server = serve(lrs_db.url()).await;
    let (_, key) = server.workspace().await;
    let lrs = post_rate(&server, &key).await;
    println!("| measurement | statements/s | raw event appends/s | ratio |");
    println!("|---|---:|---:|---:|");
    println!(
        "| POST batches of {BATCH}, {CLIENTS} clients | {lrs:.0} | {raw:.0} | {:.0}% |",
        100.0 * lrs / raw
    );
    let (behind, caught_up) = statement_views_catch_up(&server).await;
    println!(
        "\nthe statement views were {behind} events behind the log when the run ended and \
         caught up {:.1} s later",
        caught_up.as_secs_f64()
    );
    let (single, read) = single_posts(&server, &key, 1_000).await;
    println!(
        "\nsingle-statement POST, one client, 1000 requests: p50 {} ms, p99 {} ms, max {} ms; \
         the same client's GET of it right after: p50 {} ms, p99 {} ms",
        ms(percentile(&single, 0.5)),
        ms(percentile(&single, 0.99)),
        ms(*single.last().unwrap()),
        ms(percentile(&read, 0.5)),
        ms(percentile(&read, 0.99)),
    );
    server.stop().await;

    let Some(query_db) = query_db else {
        return;
    };
    let total: u64 = std::env::var("LRS_BENCH_STATEMENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let server = serve(query_db.url()).await;
    let (scope, key) = server.workspace().await;
    let took = generate(&server, scope, total).await;
    println!(
        "\nstored {total} statements through Lrs::store_statements (batches of 1000, 4 writers) \
         and caught up every view in {:.0} s ({:.0} statements/s)",
        took.as_secs_f64(),
        total as f64 / took.as_secs_f64()
    );
    println!(
        "\n| GET /xapi/statements, limit=100, {total} stored | p50 ms | p99 ms | mean statements returned |"
    );
    println!("|---|---:|---:|---:|");
    let agent = |i: u64| {
        let learner = learner_of(i.wrapping_mul(104_729));
        vec![(
            "agent".to_owned(),
            json!({"mbox": format!("mailto:learner{learner}@example.com")}).to_string(),
        )]
    };
    let verb_activity = |i: u64| {
        vec![
            (
                "verb".to_owned(),
                format!(
                    "http://adlnet.gov/expapi/verbs/{}",
                    ["completed", "experienced", "passed", "answered"][(i % 4) as usize]
                ),
            ),
            (
                "activity".to_owned(),
                format!(
                    "https://courses.example.com/activity/{}",
                    activity_of(i.wrapping_mul(7_727))
                ),
            ),
        ]
    };
    let registration = |i: u64| {
        let learner = learner_of(i.wrapping_mul(104_729));
        vec![(
            "registration".to_owned(),
            registration_of(learner, i).to_string(),
        )]
    };
    for (label, p50, p99, mean) in [
        {
            let (a, b, c) = query_latencies(&server, &key, 500, agent).await;
            ("agent", a, b, c)
        },
        {
            let (a, b, c) = query_latencies(&server, &key, 500, verb_activity).await;
            ("verb + activity", a, b, c)
        },
        {
            let (a, b, c) = query_latencies(&server, &key, 500, registration).await;
            ("registration", a, b, c)
        },
    ] {
        println!("| {label} | {} | {} | {mean:.0} |", ms(p50), ms(p99));
    }
    server.stop().await;
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    println!("# LRS benchmark");
    bench_backend(
        "SQLite (synchronous=full)",
        TestDb::sqlite(),
        TestDb::sqlite(),
        Some(TestDb::sqlite()),
    )
    .await;
    let postgres = std::env::var("BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("TEST_POSTGRES_URL"))
        .ok()
        .filter(|u| !u.is_empty());
    if let Some(url) = postgres {
        let queries = std::env::var("LRS_BENCH_PG_QUERIES").is_ok_and(|v| v == "1");
        let query_db = if queries {
            Some(TestDb::postgres(&url).await)
        } else {
            None
        };
        bench_backend(
            "PostgreSQL",
            TestDb::postgres(&url).await,
            TestDb::postgres(&url).await,
            query_db,
        )
        .await;
    }
}
