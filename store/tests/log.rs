//! The event log on the backend the suite runs on (SQLite, or PostgreSQL
//! when `TEST_DATABASE_URL` says so), plus PostgreSQL's ordering under
//! concurrent writers.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use domain::events::EventMetadata;
use domain::tenancy::{Environment, Scope, WorkspaceId};
use store::db::sql;
use store::log::{AppendError, Checkpoint, EventLog, ExpectedVersion, NewEvent, StreamAppend};
use store::testing::{TestDb, service_env};
use uuid::Uuid;

fn scope(n: u128, environment: Environment) -> Scope {
    Scope::new(WorkspaceId::from_uuid(Uuid::from_u128(n)), environment)
}

fn event(n: usize, metadata: EventMetadata) -> NewEvent {
    NewEvent {
        event_type: "TestHappened".into(),
        schema_version: 1,
        payload: format!(r#"{{"n":{n}}}"#),
        metadata,
    }
}

fn events(count: usize) -> Vec<NewEvent> {
    (0..count)
        .map(|n| event(n, EventMetadata::default()))
        .collect()
}

async fn open() -> (TestDb, store::db::Database, EventLog) {
    let test_db = TestDb::new().await;
    let db = test_db.connect().await;
    let log = EventLog::open(&db).await.expect("failed to open the log");
    (test_db, db, log)
}

/// Every event the reader sees once at least `expected` are readable. On
/// PostgreSQL a write transaction anywhere in the database (another test's)
/// briefly holds the reader back, so readers are complete eventually, not
/// at once.
async fn read_all(log: &EventLog, expected: usize) -> Vec<store::log::RecordedEvent> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let all = read_all_now(log).await;
        if all.len() >= expected || std::time::Instant::now() > deadline {
            return all;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

async fn read_all_now(log: &EventLog) -> Vec<store::log::RecordedEvent> {
    let mut all = Vec::new();
    let mut after = Checkpoint::START;
    loop {
        let page = log.read_after(after, 7).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.checkpoint();
        all.extend(page.iter().map(|event| (**event).clone()));
    }
    all
}

#[tokio::test]
async fn a_stream_reads_back_in_order_with_its_metadata() {
    let (_t, _db, log) = open().await;
    let metadata = EventMetadata::scoped(scope(1, Environment::Test))
        .with_actor("key:k1")
        .with_request_id("req-1")
        .with_correlation_id("corr-1")
        .with_causation_id("cause-1");
    let first = log
        .append_to(
            "s-1",
            ExpectedVersion::Exact(0),
            vec![event(0, metadata.clone()), event(1, metadata.clone())],
        )
        .await
        .unwrap();
    let second = log
        .append_to(
            "s-1",
            ExpectedVersion::Exact(2),
            vec![event(2, metadata.clone())],
        )
        .await
        .unwrap();
    assert_eq!(first.checkpoints.len(), 2);
    assert!(
        first.last() < second.last(),
        "a later append has a later checkpoint"
    );

    let stream = log.read_stream("s-1", 0).await.unwrap();
    let versions: Vec<i64> = stream.iter().map(|e| e.stream_version).collect();
    assert_eq!(versions, vec![1, 2, 3]);
    let payloads: Vec<&str> = stream.iter().map(|e| e.payload.as_str()).collect();
    assert_eq!(payloads, vec![r#"{"n":0}"#, r#"{"n":1}"#, r#"{"n":2}"#]);
    assert!(stream.iter().all(|e| e.metadata == metadata));
    assert_eq!(log.read_stream("s-1", 2).await.unwrap().len(), 1);
    let positions: Vec<i64> = stream.iter().map(|e| e.position).collect();
    let landed: Vec<i64> = first
        .checkpoints
        .iter()
        .chain(&second.checkpoints)
        .map(|c| c.position)
        .collect();
    assert_eq!(
        positions, landed,
        "append reports the positions the events got"
    );
    let picked = log
        .read_positions(&[positions[2], positions[0], 999_999])
        .await
        .unwrap();
    let picked: Vec<i64> = picked.iter().map(|e| e.position).collect();
    assert_eq!(
        picked,
        vec![positions[0], positions[2]],
        "read_positions returns the events that exist, in order"
    );
    assert!(log.read_positions(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_wrong_expected_version_is_a_conflict_and_writes_nothing() {
    let (_t, _db, log) = open().await;
    log.append_to("s", ExpectedVersion::Exact(0), events(3))
        .await
        .unwrap();
    for expected in [0, 2, 4, 100] {
        let err = log
            .append_to("s", ExpectedVersion::Exact(expected), events(1))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, AppendError::Conflict { stream_id, expected: e } if stream_id == "s" && *e == expected),
            "expected {expected}: {err:?}"
        );
    }
    assert_eq!(log.read_stream("s", 0).await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_multi_stream_append_is_all_or_nothing() {
    let (_t, _db, log) = open().await;
    log.append_to("b", ExpectedVersion::Exact(0), events(1))
        .await
        .unwrap();
    let err = log
        .append(vec![
            StreamAppend {
                stream_id: "a".into(),
                expected: ExpectedVersion::Exact(0),
                events: events(2),
            },
            StreamAppend {
                stream_id: "b".into(),
                expected: ExpectedVersion::Exact(0),
                events: events(1),
            },
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(err, AppendError::Conflict { ref stream_id, .. } if stream_id == "b"),
        "{err:?}"
    );
    assert!(
        log.read_stream("a", 0).await.unwrap().is_empty(),
        "stream a was written"
    );

    let both = log
        .append(vec![
            StreamAppend {
                stream_id: "a".into(),
                expected: ExpectedVersion::Exact(0),
                events: events(2),
            },
            StreamAppend {
                stream_id: "b".into(),
                expected: ExpectedVersion::Exact(1),
                events: events(1),
            },
        ])
        .await
        .unwrap();
    assert_eq!(both.checkpoints.len(), 3);
    assert_eq!(read_all(&log, 4).await.len(), 4);
}

#[tokio::test]
async fn the_database_refuses_to_change_or_delete_events() {
    let (_t, db, log) = open().await;
    log.append_to("s", ExpectedVersion::Exact(0), events(2))
        .await
        .unwrap();
    for statement in [
        "UPDATE events SET payload = '{}'",
        "DELETE FROM events",
        "UPDATE events SET stream_version = stream_version + 10",
    ] {
        let mut tx = db.begin().await.unwrap();
        let err = tx.execute(sql(statement)).await.expect_err(statement);
        assert!(
            err.to_string().contains("append-only"),
            "{statement}: {err}"
        );
        tx.rollback().await.unwrap();
    }
    assert_eq!(read_all(&log, 2).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_of_one_version_have_exactly_one_winner() {
    let (_t, _db, log) = open().await;
    log.append_to("hot", ExpectedVersion::Exact(0), events(1))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            log.append_to("hot", ExpectedVersion::Exact(1), events(2))
                .await
        }));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => won += 1,
            Err(AppendError::Conflict { .. }) => {}
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!(won, 1);
    let versions: Vec<i64> = log
        .read_stream("hot", 0)
        .await
        .unwrap()
        .iter()
        .map(|e| e.stream_version)
        .collect();
    assert_eq!(versions, vec![1, 2, 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_all_land_once_in_global_order() {
    let (_t, _db, log) = open().await;
    let writers = 12;
    let per_writer = 25;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let mut landed = Vec::new();
            let mut version = 0;
            for i in 0..per_writer {
                let count = 1 + i % 3;
                // Half the writers append blind to a shared stream.
                let (stream, expected) = if w % 2 == 0 {
                    (format!("own-{w}"), ExpectedVersion::Exact(version))
                } else {
                    ("shared".to_owned(), ExpectedVersion::Any)
                };
                version += count as u64;
                let appended = log
                    .append_to(stream, expected, events(count))
                    .await
                    .unwrap();
                landed.extend(appended.checkpoints);
            }
            landed
        }));
    }
    let mut acknowledged = BTreeSet::new();
    for task in tasks {
        acknowledged.extend(task.await.unwrap());
    }
    let all = read_all(&log, acknowledged.len()).await;
    let seen: Vec<Checkpoint> = all.iter().map(|e| e.checkpoint()).collect();
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "read order is the checkpoint order"
    );
    assert_eq!(seen.iter().copied().collect::<BTreeSet<_>>(), acknowledged);
    let shared: Vec<i64> = log
        .read_stream("shared", 0)
        .await
        .unwrap()
        .iter()
        .map(|e| e.stream_version)
        .collect();
    assert_eq!(
        shared,
        (1..=shared.len() as i64).collect::<Vec<_>>(),
        "versions are contiguous"
    );
}

#[tokio::test]
async fn a_scope_reads_only_its_workspace_environment() {
    let (_t, _db, log) = open().await;
    let a_live = scope(1, Environment::Live);
    let a_test = scope(1, Environment::Test);
    let b_live = scope(2, Environment::Live);
    let mut appends = Vec::new();
    for (i, metadata) in [
        EventMetadata::scoped(a_live),
        EventMetadata::scoped(a_test),
        EventMetadata::scoped(b_live),
        EventMetadata::workspace(a_live.workspace_id()),
    ]
    .into_iter()
    .enumerate()
    {
        appends.push(StreamAppend {
            stream_id: format!("s{i}"),
            expected: ExpectedVersion::Exact(0),
            events: vec![event(i, metadata)],
        });
    }
    log.append(appends).await.unwrap();
    read_all(&log, 4).await;
    let streams = |events: Vec<store::log::RecordedEvent>| {
        events.into_iter().map(|e| e.stream_id).collect::<Vec<_>>()
    };
    assert_eq!(
        streams(
            log.read_scope(&a_live, Checkpoint::START, 100)
                .await
                .unwrap()
        ),
        vec!["s0", "s3"]
    );
    assert_eq!(
        streams(
            log.read_scope(&a_test, Checkpoint::START, 100)
                .await
                .unwrap()
        ),
        vec!["s1", "s3"]
    );
    assert_eq!(
        streams(
            log.read_scope(&b_live, Checkpoint::START, 100)
                .await
                .unwrap()
        ),
        vec!["s2"]
    );
    let first = log.read_scope(&a_live, Checkpoint::START, 1).await.unwrap();
    let rest = log
        .read_scope(&a_live, first[0].checkpoint(), 100)
        .await
        .unwrap();
    assert_eq!(streams(rest), vec!["s3"]);
}

#[tokio::test]
async fn appends_wake_subscribers() {
    let (_t, _db, log) = open().await;
    let mut woken = log.subscribe();
    log.append_to("s", ExpectedVersion::Exact(0), events(1))
        .await
        .unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(5), woken.changed())
        .await
        .expect("no wake-up after an append")
        .unwrap();
}

// ---- PostgreSQL: a late commit with a lower position is never skipped ----

const RAW_INSERT: &str = "INSERT INTO events (stream_id, stream_version, event_type, schema_version, payload, recorded_at) \
     VALUES ($1, 1, 'TestHappened', 1, '{}', now()) RETURNING position";

async fn postgres_log() -> Option<(TestDb, sqlx::PgPool, EventLog)> {
    let base = service_env("TEST_POSTGRES_URL", "PostgreSQL")?;
    let test_db = TestDb::postgres(&base).await;
    let db = test_db.connect().await;
    let log = EventLog::open(&db).await.unwrap();
    let raw = sqlx::PgPool::connect(test_db.url()).await.unwrap();
    Some((test_db, raw, log))
}

/// What a reader that checkpoints by position alone would see.
async fn naive_read_after(raw: &sqlx::PgPool, position: i64) -> Vec<i64> {
    sqlx::query_scalar("SELECT position FROM events WHERE position > $1 ORDER BY position")
        .bind(position)
        .fetch_all(raw)
        .await
        .unwrap()
}

#[tokio::test]
async fn postgres_reader_waits_for_a_late_commit_that_a_position_reader_skips() {
    let Some((_t, raw, log)) = postgres_log().await else {
        return;
    };

    // Transaction A takes the lower position and stays open...
    let mut slow = raw.begin().await.unwrap();
    let low: i64 = sqlx::query_scalar(RAW_INSERT)
        .bind("slow")
        .fetch_one(&mut *slow)
        .await
        .unwrap();
    // ...while B takes a higher one and commits first.
    let high = log
        .append_to("fast", ExpectedVersion::Exact(0), events(1))
        .await
        .unwrap()
        .checkpoints[0];
    assert!(high.position > low);

    let naive_first = naive_read_after(&raw, 0).await;
    assert_eq!(
        naive_first,
        vec![high.position],
        "the naive reader sees B and moves past A's position"
    );
    let ours_first = log.read_after(Checkpoint::START, 100).await.unwrap();
    assert!(
        ours_first.is_empty(),
        "our reader must not pass a transaction that is still running"
    );

    slow.commit().await.unwrap();

    let naive_then = naive_read_after(&raw, *naive_first.last().unwrap()).await;
    assert!(
        naive_then.is_empty(),
        "the naive reader never sees A: {naive_then:?}"
    );
    // Our reader sees both, A first: at once here, unless a transaction of
    // another test on the same cluster is still running (the snapshot's
    // xmin is cluster-wide), so it waits for that to end.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let ours = loop {
        let ours: Vec<i64> = log
            .read_after(Checkpoint::START, 100)
            .await
            .unwrap()
            .iter()
            .map(|e| e.position)
            .collect();
        if ours.len() >= 2 || std::time::Instant::now() > deadline {
            break ours;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        ours,
        vec![low, high.position],
        "our reader sees both, A first"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_reader_sees_every_event_under_concurrent_slow_writers() {
    let Some((_t, raw, log)) = postgres_log().await else {
        return;
    };
    let raw = Arc::new(raw);
    let writers = 8;
    let per_writer = 30;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let raw = raw.clone();
        tasks.push(tokio::spawn(async move {
            let mut positions = Vec::new();
            for i in 0..per_writer {
                let mut tx = raw.begin().await.unwrap();
                let p: i64 = sqlx::query_scalar(RAW_INSERT)
                    .bind(format!("w{w}-{i}"))
                    .fetch_one(&mut *tx)
                    .await
                    .unwrap();
                // Hold some transactions open so that later positions commit first.
                let hold = (w * 7 + i * 13) % 5;
                tokio::time::sleep(std::time::Duration::from_millis(hold as u64)).await;
                tx.commit().await.unwrap();
                positions.push(p);
            }
            positions
        }));
    }
    let reader = {
        let log = log.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut after = Checkpoint::START;
            let total = writers * per_writer;
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while seen.len() < total && std::time::Instant::now() < deadline {
                let page = log.read_after(after, 50).await.unwrap();
                if let Some(last) = page.last() {
                    after = last.checkpoint();
                }
                seen.extend(page.iter().map(|e| e.position));
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            seen
        })
    };
    let mut written = BTreeSet::new();
    for task in tasks {
        written.extend(task.await.unwrap());
    }
    let seen = reader.await.unwrap();
    let distinct: BTreeSet<i64> = seen.iter().copied().collect();
    assert_eq!(distinct.len(), seen.len(), "an event was read twice");
    assert_eq!(distinct, written, "the reader missed events");
}

#[tokio::test]
async fn new_streams_append_together_and_an_existing_one_refuses_them_all() {
    let (_t, _db, log) = open().await;
    let new = |stream: &str, n: usize| StreamAppend {
        stream_id: stream.into(),
        expected: ExpectedVersion::Exact(0),
        events: events(n),
    };
    // A run of new streams between appends to an existing one keeps the
    // order of the given events.
    log.append_to("old", ExpectedVersion::Exact(0), events(1))
        .await
        .unwrap();
    let appended = log
        .append(vec![
            new("n-1", 1),
            new("n-2", 2),
            StreamAppend {
                stream_id: "old".into(),
                expected: ExpectedVersion::Exact(1),
                events: events(1),
            },
            new("n-3", 1),
        ])
        .await
        .unwrap();
    assert_eq!(appended.checkpoints.len(), 5);
    let mut sorted = appended.checkpoints.clone();
    sorted.sort();
    assert_eq!(
        sorted, appended.checkpoints,
        "positions follow the given order"
    );
    let streams: Vec<(String, i64)> = read_all(&log, 6)
        .await
        .into_iter()
        .skip(1)
        .map(|e| (e.stream_id, e.stream_version))
        .collect();
    assert_eq!(
        streams,
        [("n-1", 1), ("n-2", 1), ("n-2", 2), ("old", 2), ("n-3", 1)]
            .map(|(s, v)| (s.to_owned(), v))
    );

    // One existing stream in a run refuses the whole append.
    let refused = log
        .append(vec![new("n-4", 1), new("n-2", 1), new("n-5", 1)])
        .await;
    match refused {
        Err(AppendError::Conflict { expected: 0, .. }) => {}
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(log.read_stream("n-4", 0).await.unwrap().is_empty());
    assert!(log.read_stream("n-5", 0).await.unwrap().is_empty());
    // So does a stream named twice.
    assert!(matches!(
        log.append(vec![new("n-6", 1), new("n-6", 1)]).await,
        Err(AppendError::Conflict { .. })
    ));
    assert!(log.read_stream("n-6", 0).await.unwrap().is_empty());
}

#[tokio::test]
async fn concurrent_appends_of_one_new_stream_store_it_once() {
    let (_t, _db, log) = open().await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            log.append(vec![
                StreamAppend {
                    stream_id: format!("own-{i}"),
                    expected: ExpectedVersion::Exact(0),
                    events: events(1),
                },
                StreamAppend {
                    stream_id: "shared".into(),
                    expected: ExpectedVersion::Exact(0),
                    events: events(1),
                },
            ])
            .await
            .is_ok()
        }));
    }
    let mut won = 0;
    for task in tasks {
        won += usize::from(task.await.unwrap());
    }
    assert_eq!(won, 1, "exactly one append creates the shared stream");
    assert_eq!(log.read_stream("shared", 0).await.unwrap().len(), 1);
    let own: usize = read_all(&log, 2)
        .await
        .iter()
        .filter(|e| e.stream_id.starts_with("own-"))
        .count();
    assert_eq!(own, 1, "the losers wrote nothing");
}

#[tokio::test]
async fn the_last_event_of_a_stream() {
    let (_t, _db, log) = open().await;
    assert!(log.last_event("s").await.unwrap().is_none());
    log.append_to("s", ExpectedVersion::Exact(0), events(3))
        .await
        .unwrap();
    let last = log.last_event("s").await.unwrap().unwrap();
    assert_eq!(last.stream_version, 3);
    assert_eq!(last.payload, r#"{"n":2}"#);
}

/// Two logs on one database stand for two processes: each reads what the
/// other appended, in order, with what it appended itself (on SQLite the
/// newest events come from memory, which must never hide another writer's).
#[tokio::test]
async fn a_log_reads_the_events_another_process_appended_between_its_own() {
    let test_db = TestDb::new().await;
    let db_a = test_db.connect().await;
    let a = EventLog::open(&db_a).await.unwrap();
    let db_b = test_db.connect().await;
    let b = EventLog::open(&db_b).await.unwrap();
    let metadata = EventMetadata {
        actor: Some("a".into()),
        request_id: Some("r-1".into()),
        ..EventMetadata::default()
    };
    let mut expected = Vec::new();
    for round in 0..3 {
        for (log, name) in [(&a, "a"), (&a, "a"), (&b, "b"), (&a, "a")] {
            let stream = format!("{name}:{round}:{}", expected.len());
            log.append_to(
                stream.clone(),
                ExpectedVersion::Exact(0),
                vec![event(1, metadata.clone()), event(2, metadata.clone())],
            )
            .await
            .unwrap();
            expected.push(stream.clone());
            expected.push(stream);
        }
    }
    // What a reader of this process sees, from every checkpoint, is what
    // the other process reads from the database.
    let from_a = read_all(&a, expected.len()).await;
    let from_b = read_all(&b, expected.len()).await;
    assert_eq!(from_a, from_b);
    let streams: Vec<_> = from_a.iter().map(|e| e.stream_id.clone()).collect();
    assert_eq!(streams, expected);
    assert_eq!(from_a[0].metadata, metadata);
    assert_eq!(
        from_a.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
        [1, 2].repeat(expected.len() / 2)
    );
    for (i, event) in from_a.iter().enumerate() {
        let after = event.checkpoint();
        let page = a.read_after(after, 3).await.unwrap();
        assert_eq!(
            page.iter().map(|event| &**event).collect::<Vec<_>>(),
            from_b[i + 1..(i + 4).min(from_b.len())]
                .iter()
                .collect::<Vec<_>>(),
            "after {after:?}"
        );
    }
    // An append by the other process after this one's newest event is read.
    b.append_to("b:last", ExpectedVersion::Exact(0), events(1))
        .await
        .unwrap();
    let all = read_all(&a, expected.len() + 1).await;
    assert_eq!(all.len(), expected.len() + 1);
    assert_eq!(all.last().unwrap().stream_id, "b:last");
}
