//! Webhook delivery throughput next to plain HTTP POSTs, same run.
//!
//! `cargo bench -p e2e --bench webhooks` queues 1,000 events for 10
//! endpoints on one local receiver (axum on 127.0.0.1): 10,000 deliveries,
//! the events spread over 100 subjects (streams) as registrations' would be.
//! It then measures, on the same reqwest client:
//! - baseline: plain POSTs of the same payload bytes, 10 endpoints at once
//!   with the dispatcher's per-endpoint concurrency, nothing recorded (the
//!   median of three runs);
//! - dispatcher: deliveries/s from starting the dispatcher until the
//!   `webhooks` view shows every delivery succeeded — signing, per-subject
//!   ordering, one attempt event per delivery in the log and the view
//!   applying them included;
//! - the CPU time this process (client, receiver, server) spent per plain
//!   POST and per delivery, which a shared machine disturbs less than the
//!   rates.
//!
//! It runs on SQLite (a temp file, `synchronous=full`) and, with
//! `BENCH_POSTGRES_URL` (or `TEST_POSTGRES_URL`) set, on a fresh schema of
//! that PostgreSQL server. Target: the dispatcher reaches ≥ 50% of baseline.

use std::time::{Duration, Instant};

use api::webhooks::Dispatcher;
use api::webhooks::dispatcher::render;
use chrono::Utc;
use domain::events::EventMetadata;
use domain::tenancy::{Environment, Scope};
use domain::workspace::WorkspaceEvent;
use e2e::TestApp;
use e2e::receiver::Receiver;
use futures::StreamExt;
use serde_json::json;
use store::db::sql;
use store::log::{ExpectedVersion, NewEvent, StreamAppend};
use store::testing::TestDb;
use tokio_util::sync::CancellationToken;

const EVENTS: usize = 1_000;
const ENDPOINTS: usize = 10;
const SUBJECTS: usize = 100;

fn main() {
    e2e::init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        println!(
            "webhooks: {EVENTS} events x {ENDPOINTS} endpoints = {} deliveries, {SUBJECTS} subjects",
            EVENTS * ENDPOINTS
        );
        run("sqlite", TestDb::sqlite()).await;
        let postgres = std::env::var("BENCH_POSTGRES_URL")
            .or_else(|_| std::env::var("TEST_POSTGRES_URL"))
            .ok();
        match postgres {
            Some(url) => run("postgres", TestDb::postgres(&url).await).await,
            None => println!("postgres: skipped (BENCH_POSTGRES_URL unset)"),
        }
    });
}

async fn run(backend: &str, db: TestDb) {
    let app = TestApp::spawn_on(db, |s| {
        s.webhooks.dispatch = false;
        s.storage.db.sqlite_durability = store::db::SqliteDurability::Full;
    })
    .await;
    let ws = app.create_workspace("Bench").await;
    let receiver = Receiver::start().await;
    for n in 0..ENDPOINTS {
        let created = app
            .create_webhook(
                &ws.live_key,
                &json!({"url": receiver.url(&format!("/e{n}")), "event_types": ["api_key.created"]}),
            )
            .await;
        assert_eq!(created.status(), 201);
    }
    let platform = &app.state.platform;
    let scope = Scope::new(ws.id.parse().unwrap(), Environment::Live);
    // Wait for the last append itself: on PostgreSQL `head()` may still lag
    // behind it (an older transaction open), and the count below would
    // find the outbox short.
    let last = queue_events(&app, scope).await;
    platform
        .projections
        .wait_all(last, Duration::from_secs(120))
        .await
        .unwrap();
    let deliveries = EVENTS * ENDPOINTS;
    assert_eq!(count(&app, "pending").await, deliveries);

    let dispatcher = Dispatcher::new(platform, &app.state.settings.webhooks).unwrap();
    let client = dispatcher.client();

    // Baseline: the same bodies, the same client, the same concurrency; the
    // median of three runs (one run lasts a fraction of a second).
    let bodies = bodies(&app).await;
    let concurrency = app.state.settings.webhooks.concurrency;
    let mut baselines = Vec::new();
    let mut baseline_cpu = Vec::new();
    for _ in 0..3 {
        perf_control("baseline", "enable");
        let cpu = cpu_time();
        let started = Instant::now();
        let tasks: Vec<_> = bodies
            .iter()
            .cloned()
            .map(|(url, bodies)| {
                let client = client.clone();
                tokio::spawn(async move {
                    futures::stream::iter(bodies)
                        .map(|body| {
                            let client = client.clone();
                            let url = url.clone();
                            async move {
                                let response = client
                                    .post(&url)
                                    .header("content-type", "application/json")
                                    .body(body)
                                    .send()
                                    .await
                                    .unwrap();
                                assert!(response.status().is_success());
                                let _ = response.bytes().await;
                            }
                        })
                        .buffer_unordered(concurrency)
                        .collect::<Vec<()>>()
                        .await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        baselines.push(deliveries as f64 / started.elapsed().as_secs_f64());
        baseline_cpu.push((cpu_time() - cpu).as_secs_f64() * 1e6 / deliveries as f64);
        perf_control("baseline", "disable");
    }
    baselines.sort_by(f64::total_cmp);
    let baseline = baselines[1];
    baseline_cpu.sort_by(f64::total_cmp);
    let baseline_cpu = baseline_cpu[1];

    // The dispatcher, from start until every delivery is recorded succeeded.
    let stop = CancellationToken::new();
    perf_control("dispatch", "enable");
    let cpu = cpu_time();
    let started = Instant::now();
    let handle = dispatcher.spawn(stop.clone());
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut sent = None;
    loop {
        if sent.is_none() && receiver.count() >= 4 * deliveries {
            sent = Some(started.elapsed());
        }
        if sent.is_some() && count(&app, "pending").await == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the dispatcher did not finish");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    let dispatch_cpu = (cpu_time() - cpu).as_secs_f64() * 1e6 / deliveries as f64;
    perf_control("dispatch", "disable");
    assert_eq!(count(&app, "succeeded").await, deliveries);
    let dispatched = deliveries as f64 / elapsed.as_secs_f64();
    stop.cancel();
    let _ = handle.await;
    assert_eq!(receiver.count(), 4 * deliveries);
    println!(
        "{backend:>8}: baseline plain POSTs {baseline:>8.0}/s | dispatcher {dispatched:>8.0} deliveries/s ({:.1} s; all sent after {:.1} s) | {:.0}% of baseline (target >= 50%)",
        elapsed.as_secs_f64(),
        sent.unwrap_or(elapsed).as_secs_f64(),
        100.0 * dispatched / baseline
    );
    println!(
        "{backend:>8}: CPU (this process: client, receiver, server) {baseline_cpu:.0} µs per plain POST | {dispatch_cpu:.0} µs per delivery"
    );
    app.stop().await;
}

/// CPU time this process used so far, all threads.
#[allow(unsafe_code)] // getrusage has no safe wrapper in std
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, &mut usage), 0);
        usage
    };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// With `BENCH_PERF_CONTROL` naming the control FIFO of
/// `perf record -D -1 --control fifo:…`, profiles one phase only:
/// `BENCH_PERF_PHASE` (`dispatch`, the default, or `baseline`).
fn perf_control(phase: &str, command: &str) {
    let chosen = std::env::var("BENCH_PERF_PHASE").unwrap_or_else(|_| "dispatch".into());
    if phase != chosen {
        return;
    }
    if let Ok(fifo) = std::env::var("BENCH_PERF_CONTROL") {
        std::fs::write(fifo, format!("{command}\n")).expect("perf's control FIFO is writable");
    }
}

/// Appends the events: API keys created in `SUBJECTS` streams, round robin;
/// returns the checkpoint of the last one.
async fn queue_events(app: &TestApp, scope: Scope) -> store::log::Checkpoint {
    let log = &app.state.platform.log;
    let mut last = store::log::Checkpoint::START;
    for chunk in 0..EVENTS / 100 {
        let mut appends: Vec<StreamAppend> = (0..SUBJECTS)
            .map(|s| StreamAppend {
                stream_id: format!("bench:{s}"),
                expected: ExpectedVersion::Any,
                events: vec![],
            })
            .collect();
        for i in chunk * 100..(chunk + 1) * 100 {
            let event = WorkspaceEvent::ApiKeyCreated {
                key_id: format!("key_bench_{i:05}"),
                environment: Environment::Live,
                label: Some(format!("benchmark key {i}")),
                hint: "ac_live_AAAA…AAAA".into(),
                hash: format!("{i:064}"),
                at: Utc::now(),
            };
            appends[i % SUBJECTS].events.push(NewEvent {
                event_type: event.kind().to_owned(),
                schema_version: 1,
                payload: serde_json::to_string(&event).unwrap(),
                metadata: EventMetadata::scoped(scope).with_actor("bench"),
            });
        }
        let appended = log.append(appends).await.unwrap();
        last = last.max(appended.last().expect("events were appended"));
    }
    last
}

async fn count(app: &TestApp, state: &str) -> usize {
    let row = app
        .state
        .platform
        .db
        .fetch_optional(sql("SELECT count(*) FROM webhook_deliveries WHERE state = $1").bind(state))
        .await
        .unwrap()
        .unwrap();
    row.get::<i64>(0).unwrap() as usize
}

/// Each endpoint's URL and the bodies the dispatcher will send it.
async fn bodies(app: &TestApp) -> Vec<(String, Vec<String>)> {
    let platform = &app.state.platform;
    let db = &platform.db;
    let mut out = Vec::new();
    let rows = db
        .fetch_all(sql(
            "SELECT webhook_id, url FROM webhooks ORDER BY webhook_id",
        ))
        .await
        .unwrap();
    for row in rows {
        let webhook_id: String = row.get(0).unwrap();
        let url: String = row.get(1).unwrap();
        let deliveries = projections::webhooks::pending_after(db, &webhook_id, 0, 100_000)
            .await
            .unwrap();
        let positions: Vec<i64> = deliveries.iter().map(|d| d.source_position).collect();
        let events = platform.log.read_positions(&positions).await.unwrap();
        let bodies = deliveries
            .iter()
            .map(|d| {
                let event = events
                    .iter()
                    .find(|e| e.position == d.source_position)
                    .unwrap();
                render(d, event).unwrap()
            })
            .collect();
        out.push((url, bodies));
    }
    out
}
