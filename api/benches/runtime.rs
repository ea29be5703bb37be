//! The runtime hot paths through the real server, next to raw appends on
//! the same disk, same run.
//!
//! `cargo bench -p api --bench runtime` starts the real `allureconnect`
//! server (SQLite, local blobs, default durability), imports a SCORM 1.2
//! course, and measures:
//! - baseline: raw SQLite transactions of 21 rows (20 SetValue-sized rows
//!   and a commit row) into a plain table of a fresh database file in the
//!   same directory, opened with the server's settings, one after another
//!   (SQLite has one writer): SetValue rows/s;
//! - commit: 64 concurrent player sessions, each posting batches of 20
//!   `SetValue` calls (`POST /runtime/{token}/commit`) as fast as answers
//!   come: commits/s, SetValue events/s (and its ratio to the baseline),
//!   p50/p99 latency. Appends outrun the views at saturation, so the bench
//!   waits until every view shows the last commit and prints the rate of
//!   the whole server (views included). The latency at saturation is mostly
//!   queueing (64 commits in flight / commits per second), so the same
//!   sessions then commit at a steady pace, staggered: first at the
//!   target (half the raw rows/s, in SetValue events), with how long the
//!   views take to show its last commit; then at half the whole server's
//!   rate: p50/p99 of a server that is busy, not overrun;
//! - launch: a registration with 10,000 runtime events behind it; each
//!   launch is what a browser does: the player page, a new session (its
//!   first navigation) and the delivery of the SCO with its prior data.
//!   p50/p99/max over 50 launches, and the first launch after a server
//!   restart (nothing cached).

use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use store::db::{Database, DbOptions, sql};

const CLIENTS: usize = 64;
const SET_VALUES: usize = 20;
const RUN: Duration = Duration::from_secs(5);
const PRIOR_EVENTS: usize = 10_000;
const LAUNCHES: usize = 50;
/// The paced run's load, as a share of the rate the whole server sustains
/// (commits until every view shows them).
const PACED_LOAD: f64 = 0.5;
/// The target: SetValue events/s as a share of the raw rows/s.
const TARGET_SHARE: f64 = 0.5;

const MANIFEST: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="bench" version="1" xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
 xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2">
 <metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>
 <organizations default="o"><organization identifier="o"><title>Runtime Benchmark</title>
  <item identifier="i1" identifierref="r"><title>Lesson</title><adlcp:masteryscore>80</adlcp:masteryscore></item>
 </organization></organizations>
 <resources><resource identifier="r" type="webcontent" adlcp:scormtype="sco" href="index.html"><file href="index.html"/></resource></resources>
</manifest>"#;

fn package() -> Vec<u8> {
    use std::io::Write;
    let mut buffer = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut buffer);
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file("imsmanifest.xml", options).unwrap();
    zip.write_all(MANIFEST.as_bytes()).unwrap();
    zip.start_file("index.html", options).unwrap();
    zip.write_all(b"<html><body>bench</body></html>").unwrap();
    zip.finish().unwrap();
    buffer.into_inner()
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * fraction).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// One batch of a learner working through interactions: 20 SetValues,
/// then Commit. `n` numbers the batch within its session; the first one
/// starts with `LMSInitialize`, as the SCO's first call (without it the
/// server's replay refuses every SetValue and records none as an event).
fn batch(n: u64, seq: &mut u64) -> Value {
    let mut calls = Vec::with_capacity(SET_VALUES + 2);
    if n == 1 {
        calls.push(
            json!({"seq": *seq, "fn": "LMSInitialize", "arg": "", "result": "true", "error": 0}),
        );
        *seq += 1;
    }
    for k in 0..SET_VALUES as u64 {
        let interaction = ((n - 1) * 4 + k / 5) % 1000;
        let (element, value) = match k % 5 {
            0 => (
                format!("cmi.interactions.{interaction}.id"),
                format!("q{interaction}"),
            ),
            1 => (
                format!("cmi.interactions.{interaction}.type"),
                "choice".to_owned(),
            ),
            2 => (
                format!("cmi.interactions.{interaction}.student_response"),
                format!("{}", (n + k) % 4),
            ),
            3 => (
                format!("cmi.interactions.{interaction}.result"),
                "correct".to_owned(),
            ),
            _ => (
                "cmi.core.lesson_location".to_owned(),
                format!("slide-{n}-{k}"),
            ),
        };
        calls.push(
            json!({"seq": *seq, "fn": "LMSSetValue", "element": element, "value": value,
            "result": "true", "error": 0, "at": "2026-11-28T05:00:00.000Z"}),
        );
        *seq += 1;
    }
    calls.push(json!({"seq": *seq, "fn": "LMSCommit", "arg": "", "result": "true", "error": 0}));
    *seq += 1;
    Value::Array(calls)
}

struct Server {
    child: Child,
    api: String,
    content: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve(data: &std::path::Path) -> Server {
    let (api, content) = (free_port(), free_port());
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_allureconnect"))
        .arg("serve")
        .env("ALLURECONNECT_DATA_DIR", data)
        .env("ALLURECONNECT_LISTEN", format!("127.0.0.1:{api}"))
        .env(
            "ALLURECONNECT_CONTENT_LISTEN",
            format!("127.0.0.1:{content}"),
        )
        .env(
            "ALLURECONNECT_CONTENT_URL",
            format!("http://127.0.0.1:{content}"),
        )
        .env("ALLURECONNECT_RATE_LIMIT", "1000000")
        .env("ALLURECONNECT_RATE_LIMIT_BURST", "1000000")
        .env(
            "ALLURECONNECT_LOG",
            std::env::var("BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    Server {
        child,
        api: format!("http://127.0.0.1:{api}"),
        content: format!("http://127.0.0.1:{content}"),
    }
}

impl Server {
    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Client {
    http: reqwest::Client,
    key: String,
}

impl Client {
    async fn api(&self, server: &Server, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}{path}", server.api))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    async fn runtime(&self, url: String, body: Value) -> Value {
        let response = self.http.post(&url).json(&body).send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{url}: {status} {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// Commits batch `n` of the session at `url` and checks that it was
    /// acknowledged: how long it took, and the answer.
    async fn commit(&self, url: &str, n: u64, seq: &mut u64) -> (Duration, Value) {
        let body = json!({"batch": n, "activity_id": "i1", "calls": batch(n, seq)});
        let started = Instant::now();
        let answer = self.runtime(url.to_owned(), body).await;
        let took = started.elapsed();
        assert_eq!(answer["acked"], n);
        (took, answer)
    }

    /// Waits until every view has applied the event at `position`; returns
    /// how long that took.
    async fn views_reach(&self, server: &Server, position: i64) -> Duration {
        let started = Instant::now();
        loop {
            let response = self
                .http
                .get(format!(
                    "{}/api/v1/workspace?min_position={position}",
                    server.api
                ))
                .bearer_auth(&self.key)
                .send()
                .await
                .unwrap();
            if response.status() == 200 {
                return started.elapsed();
            }
            // The read's bounded wait ran out: the views are still busy.
            assert!(started.elapsed() < Duration::from_secs(300), "views stuck");
        }
    }

    /// A registration's launch link: its launch token.
    async fn launch_token(&self, server: &Server, registration: &str) -> String {
        self.api(
            server,
            "/api/v1/registrations",
            json!({"registration_id": registration, "course_id": "bench", "learner": {"id": registration}}),
        )
        .await;
        let link = self
            .api(
                server,
                &format!("/api/v1/registrations/{registration}/launch-link"),
                json!({"expiry_seconds": 3600}),
            )
            .await;
        link["launch_url"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned()
    }

    /// What a browser does to launch: the page, a session, the delivery.
    /// Returns the session token.
    async fn launch(&self, server: &Server, token: &str) -> String {
        let page = self
            .http
            .get(format!("{}/launch/{token}", server.content))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        page.bytes().await.unwrap();
        let session = self
            .runtime(
                format!("{}/runtime/sessions", server.content),
                json!({"launch_token": token}),
            )
            .await;
        let session_token = session["session_token"].as_str().unwrap().to_owned();
        let activity = session["navigation"]["deliver"]
            .as_str()
            .unwrap()
            .to_owned();
        self.runtime(
            format!("{}/runtime/{session_token}/deliver", server.content),
            json!({"activity_id": activity}),
        )
        .await;
        session_token
    }
}

/// Raw SQLite transactions of 21 rows, one after another: SetValue rows/s.
async fn raw_baseline(dir: &std::path::Path) -> f64 {
    let url = format!("sqlite://{}", dir.join("raw.db").display());
    let db = Database::connect(&url, &DbOptions::default())
        .await
        .unwrap();
    let mut tx = db.begin().await.unwrap();
    tx.execute(sql(
        "CREATE TABLE raw_events (position INTEGER PRIMARY KEY, stream_id TEXT, stream_version INTEGER, \
         event_type TEXT, payload TEXT, metadata TEXT, recorded_at TEXT)",
    ))
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let rows = SET_VALUES + 1;
    let mut text = String::from(
        "INSERT INTO raw_events (stream_id, stream_version, event_type, payload, metadata, recorded_at) VALUES ",
    );
    for i in 0..rows {
        text.push_str(if i == 0 { "($1" } else { ",($1" });
        for p in 0..5 {
            text.push_str(&format!(",${}", 2 + i * 5 + p));
        }
        text.push(')');
    }
    let text: &'static str = Box::leak(text.into_boxed_str());
    let metadata = r#"{"workspace_id":"0193f1b6-7c2e-7d4a-9a51-3f0a8f2b9c11","environment":"live","actor":"player","request_id":"9b1f7a52-bc0e-4f0a-9f55-1e1c3b0d2a77"}"#;
    let started = Instant::now();
    let mut version = 0i64;
    let mut transactions = 0u64;
    while started.elapsed() < RUN {
        let mut query = sql(text).bind("registration:0193f1b6:live:r-raw");
        for i in 0..rows {
            version += 1;
            let payload = format!(
                r#"{{"RuntimeValueSet":{{"session_id":"0193f1b6-7c2e-7d4a-9a51-3f0a8f2b9c11","activity_id":"i1","seq":{version},"element":"cmi.interactions.{i}.student_response","value":"choice_{i}","at":"2026-11-28T05:00:00.123Z"}}}}"#
            );
            query = query
                .bind(version)
                .bind("RuntimeValueSet")
                .bind(payload)
                .bind(metadata)
                .bind("2026-11-28T05:00:00.123456Z");
        }
        let mut tx = db.begin().await.unwrap();
        tx.execute(query).await.unwrap();
        tx.commit().await.unwrap();
        transactions += 1;
    }
    (transactions * SET_VALUES as u64) as f64 / started.elapsed().as_secs_f64()
}

/// How many events of `event_type` the server's log holds.
async fn count_events(data: &std::path::Path, event_type: &str) -> i64 {
    let url = format!("sqlite://{}", data.join("allureconnect.db").display());
    let db = Database::connect(&url, &DbOptions::default())
        .await
        .unwrap();
    let rows = db
        .fetch_all(sql("SELECT count(*) FROM events WHERE event_type = $1").bind(event_type))
        .await
        .unwrap();
    let count = rows[0].get(0).unwrap();
    db.close().await;
    count
}

async fn wait_ready(client: &Client, server: &Server) {
    for _ in 0..400 {
        if let Ok(r) = client
            .http
            .get(format!("{}/api/v1/workspace", server.api))
            .bearer_auth(&client.key)
            .send()
            .await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the server did not start");
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let work =
        tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| "/tmp".into())).unwrap();
    let data = work.path().join("data");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_allureconnect"))
        .args(["workspace", "create", "bench"])
        .env("ALLURECONNECT_DATA_DIR", &data)
        .env("ALLURECONNECT_LOG", "warn")
        .output()
        .unwrap();
    assert!(output.status.success());
    let created: Value = serde_json::from_slice(&output.stdout).unwrap();
    let client = Arc::new(Client {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(CLIENTS * 2)
            .build()
            .unwrap(),
        key: created["live_key"].as_str().unwrap().to_owned(),
    });
    let runtime = tokio::runtime::Runtime::new().unwrap();

    let raw_rate = runtime.block_on(raw_baseline(work.path()));

    let server = serve(&data);
    let (commit, launch) = runtime.block_on(async {
        wait_ready(&client, &server).await;
        let import = client
            .http
            .post(format!("{}/api/v1/courses?course_id=bench", server.api))
            .bearer_auth(&client.key)
            .header("content-type", "application/zip")
            .body(package())
            .send()
            .await
            .unwrap();
        assert_eq!(import.status(), 201);

        // 64 learners, each in a session with the SCO delivered.
        let mut sessions = Vec::new();
        for n in 0..CLIENTS {
            let token = client.launch_token(&server, &format!("r{n}")).await;
            sessions.push(client.launch(&server, &token).await);
        }
        // Saturation: every session commits again as soon as it is answered.
        let deadline = Instant::now() + RUN;
        let mut tasks = Vec::new();
        for session in sessions {
            let client = client.clone();
            let url = format!("{}/runtime/{session}/commit", server.content);
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut seq = 0;
                let mut n = 0;
                let mut position = 0;
                while Instant::now() < deadline {
                    n += 1;
                    let (took, answer) = client.commit(&url, n, &mut seq).await;
                    latencies.push(took);
                    position = position.max(answer["position"].as_i64().unwrap());
                }
                (latencies, url, n, seq, position)
            }));
        }
        let started = Instant::now();
        let mut latencies = Vec::new();
        let mut sessions = Vec::new();
        let mut last_position = 0;
        for task in tasks {
            let (mine, url, n, seq, position) = task.await.unwrap();
            latencies.extend(mine);
            sessions.push((url, n, seq));
            last_position = last_position.max(position);
        }
        let elapsed = started.elapsed();
        latencies.sort();
        // Appends can outrun the views for a while: how long after the last
        // commit every view shows it (and the paced run starts from there).
        let catch_up = client.views_reach(&server, last_position).await;

        // The target: the commit endpoint at half the raw rows/s (in
        // SetValue events), paced. The views may fall behind at this rate;
        // how long they take to show its last commit is printed too.
        let target_rate = raw_rate * TARGET_SHARE / SET_VALUES as f64;
        let (at_target, target_elapsed, sessions, target_position) =
            paced(&client, sessions, target_rate).await;
        let target_catch_up = client.views_reach(&server, target_position).await;

        // Half of what the whole server sustains: the same sessions, each
        // committing at a steady pace, staggered, so the server is busy half
        // of the time.
        let sustained = latencies.len() as f64 / (elapsed + catch_up).as_secs_f64();
        let (paced, paced_elapsed, _, _) = paced(&client, sessions, sustained * PACED_LOAD).await;

        // A registration with 10,000 runtime events behind it.
        let token = client.launch_token(&server, "r-history").await;
        let session = client.launch(&server, &token).await;
        let url = format!("{}/runtime/{session}/commit", server.content);
        let mut seq = 0;
        for n in 1..=(PRIOR_EVENTS / (SET_VALUES + 1)) as u64 + 1 {
            client.commit(&url, n, &mut seq).await;
        }
        let mut launches = Vec::new();
        for _ in 0..LAUNCHES {
            let started = Instant::now();
            client.launch(&server, &token).await;
            launches.push(started.elapsed());
        }
        launches.sort();
        (
            Runs {
                latencies,
                elapsed,
                catch_up,
                at_target,
                target_elapsed,
                target_catch_up,
                paced,
                paced_elapsed,
            },
            (token, launches),
        )
    });
    server.stop();

    // The figures count what the server recorded, not what it was sent:
    // every SetValue of every commit is a `RuntimeValueSet` event in the log.
    let committed = commit.latencies.len()
        + commit.at_target.len()
        + commit.paced.len()
        + PRIOR_EVENTS / (SET_VALUES + 1)
        + 1;
    let recorded = runtime.block_on(count_events(&data, "RuntimeValueSet"));
    assert_eq!(
        recorded,
        (committed * SET_VALUES) as i64,
        "{committed} commits of {SET_VALUES} SetValues each should be that many events"
    );

    // The first launch after a restart: nothing cached.
    let server = serve(&data);
    let cold = runtime.block_on(async {
        wait_ready(&client, &server).await;
        let started = Instant::now();
        client.launch(&server, &launch.0).await;
        started.elapsed()
    });
    server.stop();

    let Runs {
        latencies,
        elapsed,
        catch_up,
        at_target,
        target_elapsed,
        target_catch_up,
        paced,
        paced_elapsed,
    } = commit;
    let commits = latencies.len() as f64 / elapsed.as_secs_f64();
    let set_values = commits * SET_VALUES as f64;
    println!(
        "# runtime benchmark: SQLite, {CLIENTS} concurrent sessions, {SET_VALUES} SetValues per commit\n"
    );
    println!("| measurement | rate | p50 | p99 | max |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| baseline: raw SQLite transactions of 21 rows, SetValue rows/s | {raw_rate:.0} | | | |"
    );
    println!(
        "| commit endpoint: commits/s ({} commits) | {commits:.0} | {} | {} | {} |",
        latencies.len(),
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        ms(*latencies.last().unwrap_or(&Duration::ZERO)),
    );
    println!("| commit endpoint: SetValue events/s | {set_values:.0} | | | |");
    // The rate the whole server keeps up with: until every view has the
    // saturated run's last commit.
    let sustained = latencies.len() as f64 / (elapsed + catch_up).as_secs_f64();
    println!(
        "| the same with the views: commits/s until every view shows the last one ({} after it) | {sustained:.0} | | | |",
        ms(catch_up)
    );
    let target_commits = at_target.len() as f64 / target_elapsed.as_secs_f64();
    println!(
        "| commit endpoint paced at {:.0}% of the raw rows/s in SetValue events: commits/s ({} commits; views show the last {} after it) | {target_commits:.0} | {} | {} | {} |",
        TARGET_SHARE * 100.0,
        at_target.len(),
        ms(target_catch_up),
        ms(percentile(&at_target, 0.5)),
        ms(percentile(&at_target, 0.99)),
        ms(*at_target.last().unwrap_or(&Duration::ZERO)),
    );
    println!(
        "| commit endpoint at {:.0}% of the rate with the views, paced: commits/s ({} commits) | {:.0} | {} | {} | {} |",
        PACED_LOAD * 100.0,
        paced.len(),
        paced.len() as f64 / paced_elapsed.as_secs_f64(),
        ms(percentile(&paced, 0.5)),
        ms(percentile(&paced, 0.99)),
        ms(*paced.last().unwrap_or(&Duration::ZERO)),
    );
    let (_, launches) = launch;
    println!(
        "| launch with {PRIOR_EVENTS} prior events (page + session + delivery), {LAUNCHES} launches | | {} | {} | {} |",
        ms(percentile(&launches, 0.5)),
        ms(percentile(&launches, 0.99)),
        ms(*launches.last().unwrap()),
    );
    println!(
        "| the same, first launch after a restart (nothing cached) | | {} | | |",
        ms(cold)
    );
    println!(
        "\nratio: SetValue events/s = {:.0}% of raw appends/s at saturation ({:.0}% with the views caught up); paced at the target: {:.0}%, p99 {}",
        100.0 * set_values / raw_rate,
        100.0 * sustained * SET_VALUES as f64 / raw_rate,
        100.0 * target_commits * SET_VALUES as f64 / raw_rate,
        ms(percentile(&at_target, 0.99)),
    );
}

/// The commit figures of one server run.
struct Runs {
    latencies: Vec<Duration>,
    elapsed: Duration,
    catch_up: Duration,
    at_target: Vec<Duration>,
    target_elapsed: Duration,
    target_catch_up: Duration,
    paced: Vec<Duration>,
    paced_elapsed: Duration,
}

/// A session the bench drives: its commit URL, last batch number and last
/// call `seq`.
type Driven = (String, u64, u64);

/// Every session commits at a steady pace, staggered, `rate` commits/s in
/// all, for [`RUN`]: the latencies, how long it took, the sessions as they
/// are after it, and the log position of the last commit.
async fn paced(
    client: &Arc<Client>,
    sessions: Vec<Driven>,
    rate: f64,
) -> (Vec<Duration>, Duration, Vec<Driven>, i64) {
    let every = Duration::from_secs_f64(CLIENTS as f64 / rate);
    let deadline = Instant::now() + RUN;
    let mut tasks = Vec::new();
    for (i, (url, mut n, mut seq)) in sessions.into_iter().enumerate() {
        let client = client.clone();
        let offset = every.mul_f64(i as f64 / CLIENTS as f64);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut position = 0;
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + offset, every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if Instant::now() >= deadline {
                    break;
                }
                n += 1;
                let (took, answer) = client.commit(&url, n, &mut seq).await;
                latencies.push(took);
                position = position.max(answer["position"].as_i64().unwrap());
            }
            (latencies, (url, n, seq), position)
        }));
    }
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut sessions = Vec::new();
    let mut last = 0;
    for task in tasks {
        let (mine, session, position) = task.await.unwrap();
        latencies.extend(mine);
        sessions.push(session);
        last = last.max(position);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    (latencies, elapsed, sessions, last)
}
