//! Projections: built live, rebuilt by replay and equal; stopped, not
//! skipping, at an event they cannot read; waited for by writers.

use std::time::Duration;

use chrono::{DateTime, Utc};
use cqrs_es::CqrsFramework;
use cqrs_es::persist::PersistedEventStore;
use domain::events::EventMetadata;
use domain::tenancy::{Environment, Scope, WorkspaceId};
use domain::workspace::{NewApiKey, Workspace, WorkspaceCommand, hash_api_key};
use projections::{Projections, Status, WaitError, dump, workspaces};
use store::db::Database;
use store::log::{Checkpoint, EventLog, ExpectedVersion, NewEvent};
use store::repository::{LogRepository, capture_checkpoint};
use store::testing::TestDb;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

struct World {
    _db_guard: TestDb,
    db: Database,
    log: EventLog,
    workspaces: CqrsFramework<Workspace, PersistedEventStore<LogRepository, Workspace>>,
}

async fn world() -> World {
    let test_db = TestDb::new().await;
    let db = test_db.connect().await;
    let log = EventLog::open(&db).await.unwrap();
    let store = PersistedEventStore::new_event_store(LogRepository::new(log.clone()));
    World {
        _db_guard: test_db,
        db,
        log,
        workspaces: CqrsFramework::new(store, vec![], ()),
    }
}

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
}

fn key(id: &str, environment: Environment) -> NewApiKey {
    NewApiKey {
        key_id: id.into(),
        environment,
        label: Some(format!("label {id}")),
        hint: "ac_…".into(),
        hash: hash_api_key(&format!("secret-{id}")),
    }
}

impl World {
    async fn run(
        &self,
        workspace: WorkspaceId,
        command: WorkspaceCommand,
    ) -> store::log::Checkpoint {
        let metadata = EventMetadata::workspace(workspace)
            .with_actor("test")
            .to_map();
        let (result, checkpoint) = capture_checkpoint(self.workspaces.execute_with_metadata(
            &workspace.to_string(),
            command,
            metadata,
        ))
        .await;
        result.unwrap();
        checkpoint.expect("the command appended events")
    }

    /// Two workspaces with keys, renames and revocations.
    async fn history(&self) -> (WorkspaceId, WorkspaceId) {
        let a = WorkspaceId::from_uuid(Uuid::from_u128(0xa));
        let b = WorkspaceId::from_uuid(Uuid::from_u128(0xb));
        for (id, name) in [(a, "Alpha"), (b, "Beta")] {
            self.run(
                id,
                WorkspaceCommand::Create {
                    workspace_id: id,
                    name: name.into(),
                    keys: vec![
                        key(&format!("{name}-live"), Environment::Live),
                        key(&format!("{name}-test"), Environment::Test),
                    ],
                    at: at(0),
                },
            )
            .await;
        }
        self.run(
            a,
            WorkspaceCommand::Rename {
                name: "Alpha 2".into(),
                at: at(1),
            },
        )
        .await;
        self.run(
            a,
            WorkspaceCommand::CreateApiKey {
                key: key("a2", Environment::Live),
                at: at(2),
            },
        )
        .await;
        self.run(
            a,
            WorkspaceCommand::RevokeApiKey {
                key_id: "Alpha-live".into(),
                environment: Environment::Live,
                at: at(3),
            },
        )
        .await;
        (a, b)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_rebuilds_exactly_what_was_built_live() {
    let w = world().await;
    let projections = Projections::new(w.db.clone(), w.log.clone(), projections::all());
    let shutdown = CancellationToken::new();
    let runners = projections.spawn(shutdown.clone());

    let (a, b) = w.history().await;
    let last = w
        .run(
            b,
            WorkspaceCommand::CreateApiKey {
                key: key("b2", Environment::Test),
                at: at(4),
            },
        )
        .await;
    projections
        .wait_all(last, Duration::from_secs(20))
        .await
        .unwrap();

    // The live view answers the queries.
    let scope_a = Scope::new(a, Environment::Live);
    assert_eq!(
        workspaces::workspace(&w.db, &scope_a)
            .await
            .unwrap()
            .unwrap()
            .name,
        "Alpha 2"
    );
    let keys: Vec<(String, bool)> = workspaces::api_keys(&w.db, &scope_a)
        .await
        .unwrap()
        .into_iter()
        .map(|k| (k.key_id, k.revoked_at.is_some()))
        .collect();
    assert_eq!(
        keys,
        vec![("Alpha-live".into(), true), ("a2".into(), false)]
    );
    assert_eq!(
        workspaces::find_active_key(&w.db, &hash_api_key("secret-Beta-test"))
            .await
            .unwrap()
            .unwrap()
            .scope,
        Scope::new(b, Environment::Test)
    );
    assert!(
        workspaces::find_active_key(&w.db, &hash_api_key("secret-Alpha-live"))
            .await
            .unwrap()
            .is_none()
    );

    shutdown.cancel();
    for runner in runners {
        runner.await.unwrap();
    }

    let all = projections::all();
    let mut live = Vec::new();
    for projection in &all {
        live.push(dump::projection(&w.db, projection.as_ref()).await.unwrap());
    }
    // This history is about workspaces (the e2e replay tests cover courses,
    // registrations and the LRS views).
    assert_eq!(all[0].name(), "workspaces");
    assert!(
        live[0].iter().all(|(_, rows)| !rows.is_empty()),
        "a workspaces table is empty: {live:?}"
    );

    for name in projections.names() {
        let report = projections.replay(name).await.unwrap();
        assert!(report.events > 0);
    }
    let mut rebuilt = Vec::new();
    for projection in &all {
        rebuilt.push(dump::projection(&w.db, projection.as_ref()).await.unwrap());
    }
    assert_eq!(live, rebuilt);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_event_stops_the_projection_where_it_is() {
    let w = world().await;
    let (a, _) = w.history().await;
    let scope = Scope::new(a, Environment::Live);
    let bad = w
        .log
        .append_to(
            "workspace:from-the-future",
            ExpectedVersion::Exact(0),
            vec![NewEvent {
                event_type: "WorkspaceTeleported".into(),
                schema_version: 1,
                payload: "{}".into(),
                metadata: EventMetadata::scoped(scope),
            }],
        )
        .await
        .unwrap()
        .last()
        .unwrap();
    // An event after the bad one must not be applied either.
    let after = w
        .run(
            a,
            WorkspaceCommand::Rename {
                name: "After".into(),
                at: at(9),
            },
        )
        .await;

    let projections = Projections::new(w.db.clone(), w.log.clone(), projections::all());
    let shutdown = CancellationToken::new();
    let runners = projections.spawn(shutdown.clone());
    let err = projections
        .wait_for("workspaces", after, Duration::from_secs(20))
        .await
        .unwrap_err();
    match err {
        WaitError::Stopped {
            position, reason, ..
        } => {
            assert_eq!(position, bad.position);
            assert!(reason.contains("WorkspaceTeleported"), "{reason}");
        }
        other => panic!("expected a stopped projection, got {other}"),
    }
    let statuses = projections.statuses();
    assert!(
        matches!(&statuses[0].1, Status::Stopped { position, .. } if *position == bad.position),
        "{statuses:?}"
    );
    // Everything before the bad event was applied, nothing after it.
    assert_eq!(
        workspaces::workspace(&w.db, &scope)
            .await
            .unwrap()
            .unwrap()
            .name,
        "Alpha 2"
    );
    let stored = projections.stored_checkpoints().await.unwrap()["workspaces"];
    assert!(
        stored < bad,
        "checkpoint {stored:?} passed the bad event {bad:?}"
    );
    shutdown.cancel();
    for runner in runners {
        runner.await.unwrap();
    }
    // Replay stops at the same place rather than skipping it.
    assert!(matches!(
        projections.replay("workspaces").await,
        Err(WaitError::Stopped { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_a_projection_times_out_when_nothing_runs_it() {
    let w = world().await;
    let (a, _) = w.history().await;
    let last = w
        .run(
            a,
            WorkspaceCommand::Rename {
                name: "Late".into(),
                at: at(5),
            },
        )
        .await;
    let projections = Projections::new(w.db.clone(), w.log.clone(), projections::all());
    let err = projections
        .wait_for("workspaces", last, Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(matches!(err, WaitError::Timeout { .. }), "{err}");
    assert!(matches!(
        projections
            .wait_for("nope", last, Duration::from_millis(1))
            .await,
        Err(WaitError::Unknown(_))
    ));
    let (applied, reached) = projections.catch_up("workspaces").await.unwrap();
    assert!(applied >= 9 && reached >= last);
    projections
        .wait_for("workspaces", last, Duration::from_millis(300))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_runners_on_one_database_apply_each_event_once() {
    let w = world().await;
    let first = Projections::new(w.db.clone(), w.log.clone(), projections::all());
    let second = Projections::new(w.db.clone(), w.log.clone(), projections::all());
    let shutdown = CancellationToken::new();
    let mut runners = first.spawn(shutdown.clone());
    runners.extend(second.spawn(shutdown.clone()));
    let mut last = w.history().await.0;
    let a = last;
    let mut checkpoint = None;
    for i in 0..40 {
        checkpoint = Some(
            w.run(
                a,
                WorkspaceCommand::CreateApiKey {
                    key: key(&format!("k{i}"), Environment::Test),
                    at: at(10 + i),
                },
            )
            .await,
        );
    }
    last = a;
    let _ = last;
    let checkpoint = checkpoint.unwrap();
    // Whichever process runs the projection, it gets there exactly once:
    // a duplicate insert would have failed on the primary key and stopped it.
    first
        .wait_all(checkpoint, Duration::from_secs(30))
        .await
        .unwrap();
    second
        .wait_all(checkpoint, Duration::from_secs(30))
        .await
        .unwrap();
    let keys = workspaces::api_keys(&w.db, &Scope::new(a, Environment::Test))
        .await
        .unwrap();
    assert_eq!(keys.len(), 41);
    shutdown.cancel();
    for runner in runners {
        runner.await.unwrap();
    }
    let statuses: Vec<Status> = first
        .statuses()
        .into_iter()
        .chain(second.statuses())
        .map(|(_, s)| s)
        .collect();
    assert!(!statuses.iter().any(Status::is_stopped), "{statuses:?}");
}

/// Applies batches in one statement, and refuses a rename to "Bad".
struct Batched;

#[async_trait::async_trait]
impl projections::Projection for Batched {
    fn name(&self) -> &'static str {
        "batched"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["batched_positions"]
    }

    async fn apply(
        &self,
        tx: &mut store::db::Tx,
        envelope: &projections::Envelope<'_>,
    ) -> Result<(), projections::ProjectionError> {
        self.apply_batch(tx, std::slice::from_ref(envelope)).await
    }

    async fn apply_batch(
        &self,
        tx: &mut store::db::Tx,
        envelopes: &[projections::Envelope<'_>],
    ) -> Result<(), projections::ProjectionError> {
        use domain::events::Event;
        use domain::workspace::WorkspaceEvent;
        let bad = envelopes.iter().any(|e| {
            matches!(&e.event, Event::Workspace(WorkspaceEvent::WorkspaceRenamed { name, .. }) if name == "Bad")
        });
        if bad {
            return Err(projections::ProjectionError::Inconsistent(
                "a bad name".into(),
            ));
        }
        let values: Vec<String> = envelopes
            .iter()
            .map(|e| format!("({})", e.record.position))
            .collect();
        tx.execute(store::db::sql(format!(
            "INSERT INTO batched_positions (position) VALUES {}",
            values.join(",")
        )))
        .await?;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_fails_is_applied_one_by_one_up_to_the_event_at_fault() {
    let w = world().await;
    let mut tx = w.db.begin().await.unwrap();
    tx.execute(store::db::sql(
        "CREATE TABLE batched_positions (position BIGINT PRIMARY KEY)",
    ))
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let (a, _) = w.history().await;
    let bad = w
        .run(
            a,
            WorkspaceCommand::Rename {
                name: "Bad".into(),
                at: at(8),
            },
        )
        .await;
    w.run(
        a,
        WorkspaceCommand::Rename {
            name: "After".into(),
            at: at(9),
        },
    )
    .await;
    let projections = Projections::new(
        w.db.clone(),
        w.log.clone(),
        vec![std::sync::Arc::new(Batched)],
    );
    let err = projections.catch_up("batched").await.unwrap_err();
    assert!(
        matches!(err, WaitError::Stopped { position, .. } if position == bad.position),
        "{err}"
    );
    let rows = dump::table(&w.db, "batched_positions").await.unwrap();
    assert_eq!(rows.len(), 9, "every event before the bad one: {rows:?}");
    let stored = projections.stored_checkpoints().await.unwrap()["batched"];
    assert!(stored < bad);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projection_skips_the_event_types_it_does_not_handle() {
    let w = world().await;
    let (a, _) = w.history().await;
    // A known type with a payload no build can read: only the projections
    // that handle the type meet it.
    let bad = w
        .log
        .append_to(
            "lrs_statement:broken",
            ExpectedVersion::Exact(0),
            vec![NewEvent {
                event_type: "StatementStored".into(),
                schema_version: 1,
                payload: "{\"StatementStored\": 7}".into(),
                metadata: EventMetadata::scoped(Scope::new(a, Environment::Live)),
            }],
        )
        .await
        .unwrap()
        .last()
        .unwrap();
    let projections = Projections::new(w.db.clone(), w.log.clone(), projections::all());
    // On PostgreSQL a reader sees the event only once no older transaction
    // is open (other tests write to the same cluster): catch up until the
    // projection has passed the event, or stopped at it.
    let until_past = |name: &'static str| {
        let projections = projections.clone();
        async move {
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            loop {
                match projections.catch_up(name).await {
                    Ok((_, reached)) if reached >= bad => return Ok(reached),
                    Ok(_) => {}
                    Err(err) => return Err(err),
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "{name} never reached the event"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    until_past("workspaces")
        .await
        .expect("the workspaces view passes the event");
    until_past("lrs_documents")
        .await
        .expect("the documents view passes the event");
    let stopped = until_past("lrs_statements").await.unwrap_err();
    assert!(
        matches!(stopped, WaitError::Stopped { position, .. } if position == bad.position),
        "{stopped}"
    );
}

/// Catches `name` up until it reaches `head` (on PostgreSQL a reader sees
/// an event only once no older transaction is open, and other tests write
/// to the same cluster), for at most 20 s; where it got.
async fn catch_up_to(projections: &Projections, name: &str, head: Checkpoint) -> Checkpoint {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, reached) = projections.catch_up(name).await.unwrap();
        if reached >= head || std::time::Instant::now() >= deadline {
            return reached;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_a_projection_passes_what_it_does_not_handle_without_writing() {
    let w = world().await;
    let (a, _) = w.history().await;
    let head = w
        .run(
            a,
            WorkspaceCommand::Rename {
                name: "Later".into(),
                at: at(9),
            },
        )
        .await;
    let projections = Projections::new(w.db.clone(), w.log.clone(), projections::all());
    // The courses view handles no workspace event.
    let reached = catch_up_to(&projections, "courses", head).await;
    assert_eq!(reached, head);
    let stored = projections
        .stored_checkpoints()
        .await
        .unwrap()
        .get("courses")
        .copied()
        .unwrap_or_default();
    match w.db.backend() {
        // Nothing to write: the single writer was never taken.
        store::db::Backend::Sqlite => assert!(stored < head, "{stored:?}"),
        store::db::Backend::Postgres => assert_eq!(stored, head),
    }
    // A new process reads those events again and passes them again.
    let again = Projections::new(w.db.clone(), w.log.clone(), projections::all());
    let reached = catch_up_to(&again, "courses", head).await;
    assert_eq!(reached, head);
    // And what it handles is written, checkpoint and all.
    let reached = catch_up_to(&again, "workspaces", head).await;
    assert_eq!(reached, head);
    assert_eq!(
        again.stored_checkpoints().await.unwrap()["workspaces"],
        head
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_a_view_commits_between_parts_of_a_batch_while_an_append_waits() {
    let w = world().await;
    let a = WorkspaceId::from_uuid(Uuid::from_u128(0xc));
    w.run(
        a,
        WorkspaceCommand::Create {
            workspace_id: a,
            name: "Gamma".into(),
            keys: vec![],
            at: at(0),
        },
    )
    .await;
    let mut head = Checkpoint::START;
    for n in 0..240 {
        head = w
            .run(
                a,
                WorkspaceCommand::CreateApiKey {
                    key: key(&format!("k{n:03}"), Environment::Live),
                    at: at(1),
                },
            )
            .await;
    }
    // 241 events the workspaces view handles: one batch, applied in parts.
    let projections = Projections::new(w.db.clone(), w.log.clone(), projections::all());
    // An append waits for the writer all along (on SQLite): after each part
    // the view commits and lets it go first.
    let waiting = match &w.db {
        Database::Sqlite { gate, .. } => Some(gate.clone()),
        Database::Postgres { .. } => None,
    };
    let guard = waiting.as_ref().map(|gate| gate.appending());
    let stop = CancellationToken::new();
    let watcher = tokio::spawn({
        let projections = projections.clone();
        let stop = stop.clone();
        async move {
            let mut seen = std::collections::BTreeSet::new();
            while !stop.is_cancelled() {
                if let Some(stored) = projections
                    .stored_checkpoints()
                    .await
                    .unwrap()
                    .get("workspaces")
                {
                    seen.insert(*stored);
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            seen
        }
    });
    let reached = catch_up_to(&projections, "workspaces", head).await;
    stop.cancel();
    drop(guard);
    let seen = watcher.await.unwrap();
    assert_eq!(reached, head);
    if waiting.is_some() {
        assert!(
            seen.iter().any(|c| *c > Checkpoint::START && *c < head),
            "no part of the batch was committed on its own: {seen:?}"
        );
    }
    // What was built in parts is what a replay builds in one go.
    let view = &projections::all()[0];
    assert_eq!(view.name(), "workspaces");
    let live = dump::projection(&w.db, view.as_ref()).await.unwrap();
    let keys = workspaces::api_keys(&w.db, &Scope::new(a, Environment::Live))
        .await
        .unwrap();
    assert_eq!(keys.len(), 240);
    projections.replay("workspaces").await.unwrap();
    assert_eq!(dump::projection(&w.db, view.as_ref()).await.unwrap(), live);
}
