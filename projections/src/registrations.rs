//! Registrations, their launches, progress and per-activity results
//! (projection `registrations`). The runtime log is read from the log
//! itself ([`runtime_log`]).
//!
//! Progress rolls up the activities' summaries (each runtime batch carries
//! the summary the server computed with `domain::cmi`): the registration
//! is completed when every launchable activity is, passed when every one
//! passed, failed when one failed; its score is the activity's score, or
//! the mean of the scaled scores. xAPI content reports through statements
//! instead ([`xapi`]), which become its activity's results the same way.

pub mod runtime_log;
pub mod sequencing;
mod xapi;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use domain::cmi::{LaunchContext, RecordedCall, RuntimeData, RuntimeSession, RuntimeSummary};
use domain::events::Event;
use domain::lrs::statement::StatementEvent;
use domain::registration::{ActivityResult, LoggedCall, Progress, RegistrationEvent};
use domain::tenancy::Scope;
use imbl::OrdMap;
use imbl::ordmap::DiffItem;
use serde::Deserialize;
use store::StoreError;
use store::db::{Database, Row, Snapshot, Tx, Value, sql};

use crate::lrs::{insert_rows, placeholders};

use crate::runtime::{Envelope, Projection, ProjectionError};
use crate::workspaces::timestamp;

/// The projection. It keeps the runtime session of each live delivery in
/// memory, to compute the activity's data after each batch without
/// replaying the delivery from its start; a session it does not have (after
/// a restart, during a replay) is rebuilt from the delivery's context (in
/// its own table) and the session's calls since the delivery (read from the
/// registration's stream in the log).
#[derive(Default)]
pub struct RegistrationsView {
    live: Mutex<HashMap<String, LiveDelivery>>,
    /// The runtime data last written for each activity, as of the log
    /// position `activity_results.data_position` says: a batch writes the
    /// difference. A position that does not match (a rolled-back write, a
    /// replay, another process) reads the values from `activity_values`.
    written: Arc<Written>,
}

/// Per activity: the log position its written data is as of, and the data.
type Written = Mutex<WrittenData>;
type WrittenData = HashMap<String, (i64, OrdMap<String, String>)>;

/// How many activities' data [`RegistrationsView::written`] keeps at most.
const WRITTEN_CAPACITY: usize = 10_000;

struct LiveDelivery {
    delivery: i64,
    runtime: RuntimeSession,
    /// The highest `seq` replayed: a batch retried after a rollback is not
    /// applied twice.
    applied: Option<u64>,
    pending: Vec<RecordedCall>,
}

/// The cache key of a session's delivery.
fn live_key(k: &Key, session_id: &str) -> String {
    format!(
        "{}\u{1f}{}\u{1f}{}\u{1f}{}",
        k.workspace, k.environment, k.registration, session_id
    )
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("view values serialise")
}

fn number(value: &Option<String>) -> Option<f64> {
    value.as_deref().and_then(|v| v.parse().ok())
}

/// Seconds in a runtime summary's total time.
fn seconds(summary: &RuntimeSummary) -> Option<f64> {
    summary.total_time_centiseconds.map(|cs| cs as f64 / 100.0)
}

#[derive(Clone)]
struct Key {
    workspace: String,
    environment: String,
    registration: String,
}

fn key(envelope: &Envelope<'_>) -> Result<Key, ProjectionError> {
    let metadata = &envelope.record.metadata;
    let (Some(workspace), Some(environment)) = (metadata.workspace_id, metadata.environment) else {
        return Err(ProjectionError::Inconsistent(
            "registration event without a scope".into(),
        ));
    };
    // The stream is registration:<ws>:<env>:<registration id>.
    let registration = envelope
        .record
        .stream_id
        .splitn(4, ':')
        .nth(3)
        .ok_or_else(|| {
            ProjectionError::Inconsistent(format!("stream {}", envelope.record.stream_id))
        })?
        .to_owned();
    Ok(Key {
        workspace: workspace.to_string(),
        environment: environment.to_string(),
        registration,
    })
}

#[async_trait::async_trait]
impl Projection for RegistrationsView {
    fn name(&self) -> &'static str {
        "registrations"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "registrations",
            "registration_progress",
            "activity_results",
            "activity_values",
            "launches",
            "runtime_deliveries",
            "registration_sequencing",
            "sequencing_activities",
            "sequencing_log",
            "learner_globals",
            "registration_xapi",
        ]
    }

    fn handles(&self, event_type: &str) -> bool {
        event_type == "StatementStored"
            || domain::events::kind_of(event_type).is_some_and(|k| k.aggregate == "registration")
    }

    /// Statements are many, and few are a registration's: the xAPI
    /// registrations of a batch's statements are looked up together. Runs
    /// of runtime events (`RuntimeValueSet`, `RuntimeBatchCommitted`) are
    /// gathered in a [`Gathered`] and written together: each session's
    /// launch, each activity's result and data and each registration's
    /// total time once.
    async fn apply_batch(
        &self,
        tx: &mut Tx,
        envelopes: &[Envelope<'_>],
    ) -> Result<(), ProjectionError> {
        let mut gathered = Gathered::new(&self.written);
        let mut rest = envelopes;
        while let Some(first) = rest.first() {
            if let Event::Registration(event) = &first.event
                && matches!(
                    event.as_ref(),
                    RegistrationEvent::RuntimeValueSet { .. }
                        | RegistrationEvent::RuntimeBatchCommitted { .. }
                )
            {
                self.gather(tx, &mut gathered, first).await?;
                rest = &rest[1..];
                continue;
            }
            gathered.write(tx).await?;
            let statements = rest
                .iter()
                .take_while(|e| matches!(e.event, Event::LrsStatement(_)))
                .count();
            if statements == 0 {
                self.apply(tx, first).await?;
                rest = &rest[1..];
                continue;
            }
            let (run, after) = rest.split_at(statements);
            let known = xapi::known_registrations(tx, run).await?;
            for envelope in run {
                if xapi::reports_on(envelope, &known) {
                    self.apply(tx, envelope).await?;
                }
            }
            rest = after;
        }
        gathered.write(tx).await?;
        Ok(())
    }

    async fn apply(&self, tx: &mut Tx, envelope: &Envelope<'_>) -> Result<(), ProjectionError> {
        let event = match &envelope.event {
            Event::Registration(event) => event,
            Event::LrsStatement(StatementEvent::StatementStored { statement, .. }) => {
                return xapi::statement(tx, envelope, statement).await;
            }
            _ => return Ok(()),
        };
        let k = key(envelope)?;
        let position = envelope.record.position;
        use RegistrationEvent as E;
        match event.as_ref() {
            E::RegistrationCreated {
                course_id,
                course_version,
                activities,
                learner,
                tags,
                at,
                ..
            } => {
                let at = timestamp(at);
                tx.execute(
                    sql("INSERT INTO registrations (workspace_id, environment, registration_id, course_id, \
                         course_version, activities, learner_id, first_name, last_name, email, tags, attempt, \
                         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12, $12)")
                    .bind(&k.workspace)
                    .bind(&k.environment)
                    .bind(&k.registration)
                    .bind(course_id.as_str())
                    .bind(i64::from(*course_version))
                    .bind(json(activities))
                    .bind(&learner.id)
                    .bind(learner.first_name.clone())
                    .bind(learner.last_name.clone())
                    .bind(learner.email.clone())
                    .bind(json(tags))
                    .bind(&at),
                )
                .await?;
                reset_progress(tx, &k, 1).await?;
                xapi::created(tx, &k).await?;
            }
            E::RegistrationDeleted { at, .. } => {
                tx.execute(
                    sql("UPDATE registrations SET deleted_at = $4, updated_at = $4 \
                         WHERE workspace_id = $1 AND environment = $2 AND registration_id = $3")
                    .bind(&k.workspace)
                    .bind(&k.environment)
                    .bind(&k.registration)
                    .bind(timestamp(at)),
                )
                .await?;
            }
            E::RegistrationReset { attempt, at, .. } => {
                tx.execute(
                    sql("UPDATE registrations SET attempt = $4, updated_at = $5 \
                         WHERE workspace_id = $1 AND environment = $2 AND registration_id = $3")
                    .bind(&k.workspace)
                    .bind(&k.environment)
                    .bind(&k.registration)
                    .bind(i64::from(*attempt))
                    .bind(timestamp(at)),
                )
                .await?;
                for table in ["activity_results", "activity_values"] {
                    tx.execute(
                        sql(format!(
                            "DELETE FROM {table} WHERE workspace_id = $1 AND environment = $2 \
                             AND registration_id = $3"
                        ))
                        .bind(&k.workspace)
                        .bind(&k.environment)
                        .bind(&k.registration),
                    )
                    .await?;
                }
                reset_progress(tx, &k, i64::from(*attempt)).await?;
                for query in [
                    "DELETE FROM registration_sequencing WHERE workspace_id = $1 AND environment = $2 \
                     AND registration_id = $3",
                    "DELETE FROM sequencing_activities WHERE workspace_id = $1 AND environment = $2 \
                     AND registration_id = $3",
                ] {
                    tx.execute(
                        sql(query)
                            .bind(&k.workspace)
                            .bind(&k.environment)
                            .bind(&k.registration),
                    )
                    .await?;
                }
            }
            E::SessionStarted {
                session_id,
                attempt,
                resumed,
                supersedes,
                user_agent,
                ip,
                at,
            } => {
                let at = timestamp(at);
                if let Some(old) = supersedes {
                    tx.execute(
                        sql("UPDATE launches SET superseded_at = $5 WHERE workspace_id = $1 AND environment = $2 \
                             AND registration_id = $3 AND session_id = $4")
                        .bind(&k.workspace)
                        .bind(&k.environment)
                        .bind(&k.registration)
                        .bind(old)
                        .bind(&at),
                    )
                    .await?;
                }
                tx.execute(
                    sql("INSERT INTO launches (workspace_id, environment, registration_id, session_id, attempt, \
                         resumed, user_agent, ip, started_at, last_seen_at, batches, refused_batches, measured_seconds) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, 0, 0, 0)")
                    .bind(&k.workspace)
                    .bind(&k.environment)
                    .bind(&k.registration)
                    .bind(session_id)
                    .bind(i64::from(*attempt))
                    .bind(*resumed)
                    .bind(user_agent.clone())
                    .bind(ip.clone())
                    .bind(&at),
                )
                .await?;
                touch(tx, &k, &at).await?;
            }
            E::ActivityDelivered {
                session_id,
                activity_id,
                context,
                at,
            } => {
                tx.execute(
                    sql("INSERT INTO runtime_deliveries (workspace_id, environment, registration_id, session_id, \
                         activity_id, delivery_position, context) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                         ON CONFLICT (workspace_id, environment, registration_id, session_id) DO UPDATE \
                         SET activity_id = excluded.activity_id, delivery_position = excluded.delivery_position, \
                         context = excluded.context")
                    .bind(&k.workspace)
                    .bind(&k.environment)
                    .bind(&k.registration)
                    .bind(session_id)
                    .bind(activity_id)
                    .bind(position)
                    .bind(json(context)),
                )
                .await?;
                touch(tx, &k, &timestamp(at)).await?;
                if let Ok(runtime) = RuntimeSession::new((**context).clone()) {
                    self.lock().insert(
                        live_key(&k, session_id),
                        LiveDelivery {
                            delivery: position,
                            runtime,
                            applied: None,
                            pending: Vec::new(),
                        },
                    );
                }
            }
            E::RuntimeValueSet { .. } | E::RuntimeBatchCommitted { .. } => {
                // The same writes as a run of one.
                let mut gathered = Gathered::new(&self.written);
                self.gather(tx, &mut gathered, envelope).await?;
                gathered.write(tx).await?;
            }
            E::RuntimeBatchRefused { session_id, at, .. } => {
                tx.execute(
                    sql("UPDATE launches SET refused_batches = refused_batches + 1, last_seen_at = $5 \
                         WHERE workspace_id = $1 AND environment = $2 AND registration_id = $3 AND session_id = $4")
                    .bind(&k.workspace)
                    .bind(&k.environment)
                    .bind(&k.registration)
                    .bind(session_id)
                    .bind(timestamp(at)),
                )
                .await?;
            }
            E::TimeOnTaskMeasured {
                session_id,
                seconds,
                at,
                ..
            } => {
                let at = timestamp(at);
                tx.execute(
                    sql("UPDATE launches SET measured_seconds = measured_seconds + $5, last_seen_at = $6 \
                         WHERE workspace_id = $1 AND environment = $2 AND registration_id = $3 AND session_id = $4")
                    .bind(&k.workspace)
                    .bind(&k.environment)
                    .bind(&k.registration)
                    .bind(session_id)
                    .bind(*seconds)
                    .bind(&at),
                )
                .await?;
                tx.execute(
                    sql("UPDATE registration_progress SET measured_seconds = measured_seconds + $4, last_access = $5 \
                         WHERE workspace_id = $1 AND environment = $2 AND registration_id = $3")
                    .bind(&k.workspace)
                    .bind(&k.environment)
                    .bind(&k.registration)
                    .bind(*seconds)
                    .bind(&at),
                )
                .await?;
            }
            E::NavigationRequested { .. } => {}
            E::SequencingStarted {
                attempt,
                options,
                tracking,
                at,
                ..
            } => {
                sequencing::started(tx, &k, *attempt, options, tracking, &timestamp(at)).await?;
            }
            E::SequencingDecided {
                session_id,
                input,
                decision,
                statuses,
                at,
            } => {
                let at = timestamp(at);
                sequencing::decided(tx, &k, position, session_id, input, decision, &at).await?;
                sequencing::statuses(tx, &k, statuses).await?;
                roll_up(tx, &k, &at).await?;
            }
            E::LearnerGlobalsWritten {
                learner_id,
                globals,
                at,
            } => {
                sequencing::learner_globals(tx, &k, learner_id, globals, &timestamp(at)).await?;
            }
            E::RegistrationProgressChanged { progress, at, .. } => {
                progressed(tx, &k, progress, &timestamp(at)).await?;
            }
            // The moments of change; the progress row shows the state.
            E::RegistrationCompleted { .. }
            | E::RegistrationPassed { .. }
            | E::RegistrationFailed { .. } => {}
        }
        Ok(())
    }
}

impl RegistrationsView {
    /// [`apply`](Projection::apply) for a runtime event, leaving its writes
    /// in `gathered`.
    async fn gather(
        &self,
        tx: &mut Tx,
        gathered: &mut Gathered,
        envelope: &Envelope<'_>,
    ) -> Result<(), ProjectionError> {
        let Event::Registration(event) = &envelope.event else {
            return Ok(());
        };
        let k = key(envelope)?;
        match event.as_ref() {
            RegistrationEvent::RuntimeValueSet {
                session_id,
                seq,
                element,
                value,
                ..
            } => {
                // Applied with its batch, which follows it in the log.
                if let Some(live) = self.lock().get_mut(&live_key(&k, session_id)) {
                    live.pending.push(RecordedCall::accepted_set_value(
                        *seq,
                        element.clone(),
                        value.clone(),
                    ));
                }
            }
            RegistrationEvent::RuntimeBatchCommitted {
                session_id,
                activity_id,
                calls,
                summary,
                at,
                ..
            } => {
                let delivery = self.delivery_of(tx, &k, session_id).await?;
                let server_at = timestamp(at);
                let live = live_key(&k, session_id);
                let data = self
                    .data_after_batch(tx, envelope, &k, session_id, delivery, calls)
                    .await?;
                let exit = Some(summary.exit.clone()).filter(|e| !e.is_empty());
                match gathered.launches.get_mut(&live) {
                    Some(launch) => {
                        launch.batches += 1;
                        launch.last_seen_at = server_at.clone();
                        launch.exit = exit;
                    }
                    None => {
                        gathered.launches.insert(
                            live,
                            LaunchUpdate {
                                key: k.clone(),
                                session_id: session_id.clone(),
                                batches: 1,
                                last_seen_at: server_at.clone(),
                                exit,
                            },
                        );
                    }
                }
                let registration = live_key(&k, "");
                gathered.activities.insert(
                    (registration.clone(), activity_id.clone()),
                    ActivityUpdate {
                        key: k.clone(),
                        activity_id: activity_id.clone(),
                        summary: summary.clone(),
                        data,
                        position: envelope.record.position,
                        at: server_at.clone(),
                    },
                );
                gathered.roll_ups.insert(registration, (k, server_at));
            }
            _ => self.apply(tx, envelope).await?,
        }
        Ok(())
    }

    /// The position of the delivery a session's calls belong to: from the
    /// live sessions this view keeps, or its table.
    async fn delivery_of(
        &self,
        tx: &mut Tx,
        k: &Key,
        session_id: &str,
    ) -> Result<i64, ProjectionError> {
        let cached = self
            .lock()
            .get(&live_key(k, session_id))
            .map(|l| l.delivery);
        match cached {
            Some(delivery) => Ok(delivery),
            None => delivery_position(tx, k, session_id).await,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, LiveDelivery>> {
        self.live
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The activity's data once a batch's calls are replayed on the
    /// delivery's session.
    async fn data_after_batch(
        &self,
        tx: &mut Tx,
        envelope: &Envelope<'_>,
        k: &Key,
        session_id: &str,
        delivery: i64,
        calls: &[LoggedCall],
    ) -> Result<RuntimeData, ProjectionError> {
        let cache_key = live_key(k, session_id);
        let cached = self
            .lock()
            .get(&cache_key)
            .is_some_and(|l| l.delivery == delivery);
        if !cached {
            // Rebuild: the delivery's context, with every call of the
            // session since the delivery (this batch's included) waiting to
            // be replayed below.
            let row = tx
                .fetch_optional(
                    sql("SELECT context FROM runtime_deliveries WHERE workspace_id = $1 AND environment = $2 \
                         AND registration_id = $3 AND session_id = $4")
                    .bind(&k.workspace)
                    .bind(&k.environment)
                    .bind(&k.registration)
                    .bind(session_id),
                )
                .await?
                .ok_or_else(|| ProjectionError::Inconsistent(format!("no delivery for session {session_id}")))?;
            let context: LaunchContext = serde_json::from_str(&row.get::<String>(0)?)
                .map_err(|e| ProjectionError::Inconsistent(format!("delivery context: {e}")))?;
            let runtime = RuntimeSession::new(context)
                .map_err(|e| ProjectionError::Inconsistent(format!("delivery context: {e}")))?;
            let pending = session_calls(tx, envelope, session_id, delivery).await?;
            self.lock().insert(
                cache_key.clone(),
                LiveDelivery {
                    delivery,
                    runtime,
                    applied: None,
                    pending,
                },
            );
        }
        let mut cache = self.lock();
        let live = cache.get_mut(&cache_key).expect("cached or just rebuilt");
        // This batch's calls may be among the rebuilt ones too: each `seq`
        // is replayed once.
        let mut batch: Vec<RecordedCall> = live
            .pending
            .drain(..)
            .chain(calls.iter().map(|c| c.call.recorded.clone()))
            .collect();
        batch.sort_by_key(|c| c.seq);
        for call in batch {
            if live.applied.is_some_and(|seq| call.seq <= seq) {
                continue;
            }
            live.applied = Some(call.seq);
            let _ = live.runtime.replay(&call);
        }
        live.runtime.take_calls();
        Ok(live.runtime.data().clone())
    }
}

/// The calls of `session_id` from its delivery at log position `delivery`
/// through `envelope` (the batch being applied), from the registration's
/// stream in the log.
async fn session_calls(
    tx: &mut Tx,
    envelope: &Envelope<'_>,
    session_id: &str,
    delivery: i64,
) -> Result<Vec<RecordedCall>, ProjectionError> {
    let record = envelope.record;
    let events =
        store::log::read_stream_in(tx, &record.stream_id, delivery, record.stream_version).await?;
    let mut calls = Vec::new();
    for event in &events {
        if !matches!(
            event.event_type.as_str(),
            "RuntimeValueSet" | "RuntimeBatchCommitted"
        ) {
            continue;
        }
        let decoded = Event::decode(&event.event_type, event.schema_version, &event.payload)
            .map_err(|e| ProjectionError::Inconsistent(format!("{}: {e}", event.stream_id)))?;
        let Event::Registration(decoded) = decoded else {
            continue;
        };
        match *decoded {
            RegistrationEvent::RuntimeValueSet {
                session_id: s,
                seq,
                element,
                value,
                ..
            } if s == session_id => {
                calls.push(RecordedCall::accepted_set_value(seq, element, value));
            }
            RegistrationEvent::RuntimeBatchCommitted {
                session_id: s,
                calls: logged,
                ..
            } if s == session_id => {
                calls.extend(logged.into_iter().map(|c| c.call.recorded));
            }
            _ => {}
        }
    }
    Ok(calls)
}

async fn reset_progress(tx: &mut Tx, k: &Key, attempt: i64) -> Result<(), StoreError> {
    tx.execute(
        sql("INSERT INTO registration_progress (workspace_id, environment, registration_id, attempt, completion, \
             success, total_time_seconds, measured_seconds) VALUES ($1, $2, $3, $4, 'not_attempted', 'unknown', 0, 0) \
             ON CONFLICT (workspace_id, environment, registration_id) DO UPDATE SET attempt = excluded.attempt, \
             completion = 'not_attempted', success = 'unknown', score_scaled = NULL, score_raw = NULL, \
             score_min = NULL, score_max = NULL, total_time_seconds = 0, completed_at = NULL")
        .bind(&k.workspace)
        .bind(&k.environment)
        .bind(&k.registration)
        .bind(attempt),
    )
    .await?;
    Ok(())
}

async fn touch(tx: &mut Tx, k: &Key, at: &str) -> Result<(), StoreError> {
    tx.execute(
        sql("UPDATE registration_progress SET first_access = coalesce(first_access, $4), last_access = $4 \
             WHERE workspace_id = $1 AND environment = $2 AND registration_id = $3")
        .bind(&k.workspace)
        .bind(&k.environment)
        .bind(&k.registration)
        .bind(at),
    )
    .await?;
    Ok(())
}

async fn delivery_position(tx: &mut Tx, k: &Key, session_id: &str) -> Result<i64, ProjectionError> {
    let row = tx
        .fetch_optional(
            sql("SELECT delivery_position FROM runtime_deliveries WHERE workspace_id = $1 AND environment = $2 \
                 AND registration_id = $3 AND session_id = $4")
            .bind(&k.workspace)
            .bind(&k.environment)
            .bind(&k.registration)
            .bind(session_id),
        )
        .await?
        .ok_or_else(|| ProjectionError::Inconsistent(format!("runtime calls before a delivery in session {session_id}")))?;
    Ok(row.get(0)?)
}

/// The writes of a run of runtime events, kept until something else needs
/// the tables they go to (or the batch ends), then written together. What
/// it leaves is what applying the events one by one leaves.
#[derive(Default)]
struct Gathered {
    /// The view's [`RegistrationsView::written`].
    written: Arc<Written>,
    /// Per session: its launch's new batches, last seen time and exit.
    launches: HashMap<String, LaunchUpdate>,
    /// Per registration and activity: the result after its last batch.
    activities: HashMap<(String, String), ActivityUpdate>,
    /// Per registration: when its total time was last rolled up.
    roll_ups: HashMap<String, (Key, String)>,
}

struct LaunchUpdate {
    key: Key,
    session_id: String,
    batches: i64,
    last_seen_at: String,
    exit: Option<String>,
}

struct ActivityUpdate {
    key: Key,
    activity_id: String,
    summary: RuntimeSummary,
    data: RuntimeData,
    /// The log position of the batch event the data is as of.
    position: i64,
    at: String,
}

impl Gathered {
    fn new(written: &Arc<Written>) -> Gathered {
        Gathered {
            written: written.clone(),
            ..Gathered::default()
        }
    }

    async fn write(&mut self, tx: &mut Tx) -> Result<(), StoreError> {
        let launches: Vec<LaunchUpdate> = self.launches.drain().map(|(_, l)| l).collect();
        for chunk in launches.chunks(ROWS_PER_UPDATE) {
            let mut query = sql(format!(
                "UPDATE launches SET batches = launches.batches + v.column5, last_seen_at = v.column6, \
                 exit = v.column7 FROM (VALUES {}) AS v WHERE launches.workspace_id = v.column1 \
                 AND launches.environment = v.column2 AND launches.registration_id = v.column3 \
                 AND launches.session_id = v.column4",
                values_list(chunk.len(), 7)
            ));
            for launch in chunk {
                query = query
                    .bind(&launch.key.workspace)
                    .bind(&launch.key.environment)
                    .bind(&launch.key.registration)
                    .bind(&launch.session_id)
                    .bind(launch.batches)
                    .bind(&launch.last_seen_at)
                    .bind(launch.exit.clone());
            }
            tx.execute(query).await?;
        }
        let activities: Vec<ActivityUpdate> = self.activities.drain().map(|(_, a)| a).collect();
        for chunk in activities.chunks(ROWS_PER_UPDATE) {
            upsert_activities(tx, chunk, &self.written).await?;
        }
        let roll_ups: Vec<(Key, String)> = self.roll_ups.drain().map(|(_, r)| r).collect();
        for chunk in roll_ups.chunks(ROWS_PER_UPDATE) {
            let mut query = sql(format!(
                "UPDATE registration_progress SET total_time_seconds = (SELECT coalesce(sum(r.total_time_seconds), 0) \
                 FROM activity_results r WHERE r.workspace_id = registration_progress.workspace_id \
                 AND r.environment = registration_progress.environment \
                 AND r.registration_id = registration_progress.registration_id), last_access = v.column4 \
                 FROM (VALUES {}) AS v WHERE registration_progress.workspace_id = v.column1 \
                 AND registration_progress.environment = v.column2 \
                 AND registration_progress.registration_id = v.column3",
                values_list(chunk.len(), 4)
            ));
            for (k, at) in chunk {
                query = query
                    .bind(&k.workspace)
                    .bind(&k.environment)
                    .bind(&k.registration)
                    .bind(at);
            }
            tx.execute(query).await?;
        }
        Ok(())
    }
}

/// Rows per multi-row `UPDATE … FROM (VALUES …)`.
const ROWS_PER_UPDATE: usize = 500;

/// `($1,$2,…),(…)`: `rows` rows of `columns` placeholders, numbered in order.
fn values_list(rows: usize, columns: usize) -> String {
    let mut out = String::with_capacity(rows * columns * 5);
    for row in 0..rows {
        if row > 0 {
            out.push(',');
        }
        out.push('(');
        for column in 0..columns {
            if column > 0 {
                out.push(',');
            }
            out.push('$');
            out.push_str(&(row * columns + column + 1).to_string());
        }
        out.push(')');
    }
    out
}

/// Each activity's result after its last batch (keys distinct), and the
/// data model values that batch changed.
async fn upsert_activities(
    tx: &mut Tx,
    activities: &[ActivityUpdate],
    written: &Written,
) -> Result<(), StoreError> {
    let mut registrations: Vec<&Key> = Vec::new();
    for activity in activities {
        if !registrations.iter().any(|k| same(k, &activity.key)) {
            registrations.push(&activity.key);
        }
    }
    let mut query = sql(format!(
        "SELECT workspace_id, environment, registration_id, attempt FROM registrations \
         WHERE (workspace_id, environment, registration_id) IN (VALUES {})",
        values_list(registrations.len(), 3)
    ));
    for k in &registrations {
        query = query
            .bind(&k.workspace)
            .bind(&k.environment)
            .bind(&k.registration);
    }
    let mut attempts = HashMap::new();
    for row in tx.fetch_all(query).await? {
        let key: (String, String, String) = (row.get(0)?, row.get(1)?, row.get(2)?);
        attempts.insert(key, row.get::<i64>(3)?);
    }
    write_values(tx, activities, written).await?;
    let rows = activities
        .iter()
        .map(|a| {
            let k = &a.key;
            let attempt = attempts
                .get(&(
                    k.workspace.clone(),
                    k.environment.clone(),
                    k.registration.clone(),
                ))
                .copied()
                .unwrap_or(1);
            activity_values(k, &a.activity_id, attempt, &a.summary, a.position, &a.at)
        })
        .collect();
    insert_rows(
        tx,
        ACTIVITY_INSERT,
        ACTIVITY_COLUMNS,
        rows,
        ACTIVITY_CONFLICT,
    )
    .await
}

fn written_key(k: &Key, activity_id: &str) -> String {
    format!(
        "{}\u{1f}{}\u{1f}{}\u{1f}{activity_id}",
        k.workspace, k.environment, k.registration
    )
}

/// Writes to `activity_values` what each activity's data changed since it
/// was last written: from the data kept in `written` when its position is
/// the stored one, else from the stored values.
async fn write_values(
    tx: &mut Tx,
    activities: &[ActivityUpdate],
    written: &Written,
) -> Result<(), StoreError> {
    let mut query = sql(format!(
        "SELECT workspace_id, environment, registration_id, activity_id, data_position \
         FROM activity_results WHERE (workspace_id, environment, registration_id, activity_id) \
         IN (VALUES {})",
        values_list(activities.len(), 4)
    ));
    for a in activities {
        query = query
            .bind(&a.key.workspace)
            .bind(&a.key.environment)
            .bind(&a.key.registration)
            .bind(&a.activity_id);
    }
    let mut stored: HashMap<String, i64> = HashMap::new();
    for row in tx.fetch_all(query).await? {
        let k = Key {
            workspace: row.get(0)?,
            environment: row.get(1)?,
            registration: row.get(2)?,
        };
        stored.insert(written_key(&k, &row.get::<String>(3)?), row.get(4)?);
    }
    fn lock(written: &Written) -> std::sync::MutexGuard<'_, WrittenData> {
        written.lock().unwrap_or_else(|p| p.into_inner())
    }
    let mut upserts: Vec<Vec<Value>> = Vec::new();
    for a in activities {
        let key = written_key(&a.key, &a.activity_id);
        let kept = lock(written)
            .get(&key)
            .filter(|(position, _)| stored.get(&key) == Some(position))
            .map(|(_, values)| values.clone());
        let before = match kept {
            Some(values) => values,
            None => stored_values(tx, &a.key, &a.activity_id).await?,
        };
        let mut removed: Vec<&String> = Vec::new();
        for change in before.diff(&a.data.values) {
            let (element, value) = match change {
                DiffItem::Add(element, value) => (element, value),
                DiffItem::Update { new, .. } => new,
                DiffItem::Remove(element, _) => {
                    removed.push(element);
                    continue;
                }
            };
            upserts.push(vec![
                a.key.workspace.as_str().into(),
                a.key.environment.as_str().into(),
                a.key.registration.as_str().into(),
                a.activity_id.as_str().into(),
                element.as_str().into(),
                value.as_str().into(),
            ]);
        }
        for chunk in removed.chunks(ROWS_PER_UPDATE) {
            let mut query = sql(format!(
                "DELETE FROM activity_values WHERE workspace_id = $1 AND environment = $2 \
                 AND registration_id = $3 AND activity_id = $4 AND element IN ({})",
                placeholders(5, chunk.len())
            ))
            .bind(&a.key.workspace)
            .bind(&a.key.environment)
            .bind(&a.key.registration)
            .bind(&a.activity_id);
            for element in chunk {
                query = query.bind(element.as_str());
            }
            tx.execute(query).await?;
        }
        let mut kept = lock(written);
        if kept.len() >= WRITTEN_CAPACITY && !kept.contains_key(&key) {
            kept.clear();
        }
        kept.insert(key, (a.position, a.data.values.clone()));
    }
    insert_rows(
        tx,
        "INSERT INTO activity_values (workspace_id, environment, registration_id, activity_id, element, value)",
        6,
        upserts,
        "ON CONFLICT (workspace_id, environment, registration_id, activity_id, element) \
         DO UPDATE SET value = excluded.value",
    )
    .await
}

/// The values stored for an activity.
async fn stored_values(
    tx: &mut Tx,
    k: &Key,
    activity_id: &str,
) -> Result<OrdMap<String, String>, StoreError> {
    let rows = tx
        .fetch_all(
            sql(
                "SELECT element, value FROM activity_values WHERE workspace_id = $1 \
                 AND environment = $2 AND registration_id = $3 AND activity_id = $4",
            )
            .bind(&k.workspace)
            .bind(&k.environment)
            .bind(&k.registration)
            .bind(activity_id),
        )
        .await?;
    rows.iter()
        .map(|r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)))
        .collect()
}

fn same(a: &Key, b: &Key) -> bool {
    a.workspace == b.workspace && a.environment == b.environment && a.registration == b.registration
}

const ACTIVITY_INSERT: &str = "INSERT INTO activity_results (workspace_id, environment, registration_id, \
     activity_id, attempt, completion, success, score_scaled, score_raw, score_min, score_max, \
     total_time_seconds, summary, data_position, updated_at)";
const ACTIVITY_COLUMNS: usize = 15;
const ACTIVITY_CONFLICT: &str = "ON CONFLICT (workspace_id, environment, registration_id, activity_id) DO UPDATE SET \
     attempt = excluded.attempt, completion = excluded.completion, success = excluded.success, \
     score_scaled = excluded.score_scaled, score_raw = excluded.score_raw, score_min = excluded.score_min, \
     score_max = excluded.score_max, total_time_seconds = excluded.total_time_seconds, \
     summary = excluded.summary, data_position = excluded.data_position, updated_at = excluded.updated_at";

fn activity_values(
    k: &Key,
    activity_id: &str,
    attempt: i64,
    summary: &RuntimeSummary,
    data_position: i64,
    at: &str,
) -> Vec<Value> {
    vec![
        k.workspace.as_str().into(),
        k.environment.as_str().into(),
        k.registration.as_str().into(),
        activity_id.into(),
        attempt.into(),
        summary.completion_status.replace(' ', "_").into(),
        summary.success_status.clone().into(),
        number(&summary.score_scaled).into(),
        number(&summary.score_raw).into(),
        number(&summary.score_min).into(),
        number(&summary.score_max).into(),
        seconds(summary).into(),
        json(summary).into(),
        data_position.into(),
        at.into(),
    ]
}

/// Recomputes the registration's total reported time from its activities.
/// Completion, success and score come from `RegistrationProgressChanged`,
/// which the registration decides ([`domain::registration::roll_up`]).
async fn roll_up(tx: &mut Tx, k: &Key, at: &str) -> Result<(), StoreError> {
    tx.execute(
        sql("UPDATE registration_progress SET total_time_seconds = (SELECT coalesce(sum(total_time_seconds), 0) \
             FROM activity_results r WHERE r.workspace_id = $1 AND r.environment = $2 AND r.registration_id = $3), \
             last_access = $4 WHERE workspace_id = $1 AND environment = $2 AND registration_id = $3")
        .bind(&k.workspace)
        .bind(&k.environment)
        .bind(&k.registration)
        .bind(at),
    )
    .await?;
    Ok(())
}

/// The course's progress from its activity results, by the registration's
/// own rule ([`domain::registration::roll_up`]): for results that came from
/// xAPI statements, which no registration command decides on.
async fn progress_from_results(tx: &mut Tx, k: &Key, at: &str) -> Result<(), StoreError> {
    let Some(row) = tx
        .fetch_optional(
            sql(
                "SELECT activities FROM registrations WHERE workspace_id = $1 AND environment = $2 \
                 AND registration_id = $3",
            )
            .bind(&k.workspace)
            .bind(&k.environment)
            .bind(&k.registration),
        )
        .await?
    else {
        return Ok(());
    };
    let launchable: Vec<String> = serde_json::from_str(&row.get::<String>(0)?)
        .map_err(|e| corrupt(format!("registrations.activities: {e}")))?;
    let rows = tx
        .fetch_all(
            sql("SELECT activity_id, completion, success, score_scaled, score_raw, score_min, score_max \
                 FROM activity_results WHERE workspace_id = $1 AND environment = $2 AND registration_id = $3")
            .bind(&k.workspace)
            .bind(&k.environment)
            .bind(&k.registration),
        )
        .await?;
    let mut results = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: String = row.get(0)?;
        results.push((
            id,
            ActivityResult {
                completion: row.get(1)?,
                success: row.get(2)?,
                scaled: row.get(3)?,
                raw: row.get(4)?,
                min: row.get(5)?,
                max: row.get(6)?,
            },
        ));
    }
    let results = results
        .iter()
        .map(|(id, result)| (id.as_str(), result.clone()))
        .collect();
    progressed(
        tx,
        k,
        &domain::registration::roll_up(&launchable, &results, None),
        at,
    )
    .await
}

/// Records the course's progress the registration decided.
async fn progressed(tx: &mut Tx, k: &Key, progress: &Progress, at: &str) -> Result<(), StoreError> {
    tx.execute(
        sql("UPDATE registration_progress SET completion = $4, success = $5, score_scaled = $6, score_raw = $7, \
             score_min = $8, score_max = $9, last_access = $10, \
             completed_at = CASE WHEN $4 = 'completed' THEN coalesce(completed_at, $10) ELSE completed_at END \
             WHERE workspace_id = $1 AND environment = $2 AND registration_id = $3")
        .bind(&k.workspace)
        .bind(&k.environment)
        .bind(&k.registration)
        .bind(progress.completion.as_str())
        .bind(progress.success.as_str())
        .bind(progress.score_scaled)
        .bind(progress.score_raw)
        .bind(progress.score_min)
        .bind(progress.score_max)
        .bind(at),
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------- queries

fn corrupt(what: impl Into<String>) -> StoreError {
    StoreError::Corrupt(what.into())
}

/// A registration as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistrationRow {
    pub registration_id: String,
    pub course_id: String,
    pub course_version: i64,
    pub learner_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub tags: Vec<String>,
    pub attempt: i64,
    pub created_at: String,
    pub updated_at: String,
}

const REGISTRATION_COLUMNS: &str = "registration_id, course_id, course_version, learner_id, first_name, last_name, \
     email, tags, attempt, created_at, updated_at";

fn registration_row(row: &Row) -> Result<RegistrationRow, StoreError> {
    Ok(RegistrationRow {
        registration_id: row.get(0)?,
        course_id: row.get(1)?,
        course_version: row.get(2)?,
        learner_id: row.get(3)?,
        first_name: row.get(4)?,
        last_name: row.get(5)?,
        email: row.get(6)?,
        tags: serde_json::from_str(&row.get::<String>(7)?)
            .map_err(|e| corrupt(format!("registrations.tags: {e}")))?,
        attempt: row.get(8)?,
        created_at: row.get(9)?,
        updated_at: row.get(10)?,
    })
}

/// A live registration of the scope.
pub async fn registration(
    db: &Database,
    scope: &Scope,
    id: &str,
) -> Result<Option<RegistrationRow>, StoreError> {
    let row = db
        .fetch_optional(
            sql(format!(
                "SELECT {REGISTRATION_COLUMNS} FROM registrations WHERE workspace_id = $1 AND environment = $2 \
                 AND registration_id = $3 AND deleted_at IS NULL"
            ))
            .bind(scope.workspace_id().to_string())
            .bind(scope.environment().as_str())
            .bind(id),
        )
        .await?;
    row.as_ref().map(registration_row).transpose()
}

/// Filters of the registration list.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RegistrationFilter {
    pub course_id: Option<String>,
    pub learner_id: Option<String>,
    /// Created or updated at or after this RFC 3339 time.
    pub since: Option<String>,
    /// Resume after this (created_at, registration_id).
    pub after: Option<(String, String)>,
}

/// Live registrations of the scope, oldest first, at most `limit`.
pub async fn registrations(
    db: &Database,
    scope: &Scope,
    filter: &RegistrationFilter,
    limit: u32,
) -> Result<Vec<RegistrationRow>, StoreError> {
    let mut text = format!(
        "SELECT {REGISTRATION_COLUMNS} FROM registrations WHERE workspace_id = $1 AND environment = $2 \
         AND deleted_at IS NULL"
    );
    let mut args: Vec<String> = vec![
        scope.workspace_id().to_string(),
        scope.environment().as_str().to_owned(),
    ];
    let mut add = |clause: &str, value: String, text: &mut String| {
        args.push(value);
        text.push_str(&clause.replace('?', &format!("${}", args.len())));
    };
    if let Some(course) = &filter.course_id {
        add(" AND course_id = ?", course.clone(), &mut text);
    }
    if let Some(learner) = &filter.learner_id {
        add(" AND learner_id = ?", learner.clone(), &mut text);
    }
    if let Some(since) = &filter.since {
        add(" AND updated_at >= ?", since.clone(), &mut text);
    }
    if let Some((created_at, id)) = &filter.after {
        add(" AND (created_at > ?", created_at.clone(), &mut text);
        add(" OR (created_at = ? ", created_at.clone(), &mut text);
        add("AND registration_id > ?))", id.clone(), &mut text);
    }
    text.push_str(&format!(
        " ORDER BY created_at, registration_id LIMIT {limit}"
    ));
    let mut query = sql(text);
    for arg in args {
        query = query.bind(arg);
    }
    let rows = db.fetch_all(query).await?;
    rows.iter().map(registration_row).collect()
}

/// Registrations of a course (for the catalogue's count).
pub async fn registration_count(
    db: &Database,
    scope: &Scope,
    course_id: &str,
) -> Result<i64, StoreError> {
    let row = db
        .fetch_optional(
            sql(
                "SELECT count(*) FROM registrations WHERE workspace_id = $1 AND environment = $2 \
                 AND course_id = $3 AND deleted_at IS NULL",
            )
            .bind(scope.workspace_id().to_string())
            .bind(scope.environment().as_str())
            .bind(course_id),
        )
        .await?;
    Ok(row.map(|r| r.get::<i64>(0)).transpose()?.unwrap_or(0))
}

/// A registration's progress.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgressRow {
    pub attempt: i64,
    pub completion: String,
    pub success: String,
    pub score_scaled: Option<f64>,
    pub score_raw: Option<f64>,
    pub score_min: Option<f64>,
    pub score_max: Option<f64>,
    pub total_time_seconds: f64,
    pub measured_seconds: i64,
    pub first_access: Option<String>,
    pub last_access: Option<String>,
    pub completed_at: Option<String>,
}

/// The registration's progress; read it and its [`activities`] in one
/// [`Snapshot`] so the totals agree with the activities.
pub async fn progress(
    db: &mut Snapshot,
    scope: &Scope,
    id: &str,
) -> Result<Option<ProgressRow>, StoreError> {
    let row = db
        .fetch_optional(
            sql("SELECT attempt, completion, success, score_scaled, score_raw, score_min, score_max, \
                 total_time_seconds, measured_seconds, first_access, last_access, completed_at \
                 FROM registration_progress WHERE workspace_id = $1 AND environment = $2 AND registration_id = $3")
            .bind(scope.workspace_id().to_string())
            .bind(scope.environment().as_str())
            .bind(id),
        )
        .await?;
    row.map(|r| {
        Ok(ProgressRow {
            attempt: r.get(0)?,
            completion: r.get(1)?,
            success: r.get(2)?,
            score_scaled: r.get(3)?,
            score_raw: r.get(4)?,
            score_min: r.get(5)?,
            score_max: r.get(6)?,
            total_time_seconds: r.get(7)?,
            measured_seconds: r.get(8)?,
            first_access: r.get(9)?,
            last_access: r.get(10)?,
            completed_at: r.get(11)?,
        })
    })
    .transpose()
}

/// An activity's results in the current attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityRow {
    pub activity_id: String,
    pub completion: String,
    pub success: String,
    pub score_scaled: Option<f64>,
    pub score_raw: Option<f64>,
    pub score_min: Option<f64>,
    pub score_max: Option<f64>,
    pub total_time_seconds: Option<f64>,
    pub summary: RuntimeSummary,
    /// Every stored data model value, by element name.
    pub data: serde_json::Value,
    pub updated_at: String,
}

pub async fn activities(
    db: &mut Snapshot,
    scope: &Scope,
    id: &str,
) -> Result<Vec<ActivityRow>, StoreError> {
    let rows = db
        .fetch_all(
            sql("SELECT activity_id, completion, success, score_scaled, score_raw, score_min, score_max, \
                 total_time_seconds, summary, updated_at FROM activity_results WHERE workspace_id = $1 \
                 AND environment = $2 AND registration_id = $3 ORDER BY activity_id")
            .bind(scope.workspace_id().to_string())
            .bind(scope.environment().as_str())
            .bind(id),
        )
        .await?;
    // The data of the same moment: a snapshot sees no batch applied between
    // the two reads.
    let mut values: HashMap<String, serde_json::Map<String, serde_json::Value>> = HashMap::new();
    for row in db
        .fetch_all(
            sql(
                "SELECT activity_id, element, value FROM activity_values WHERE workspace_id = $1 \
                 AND environment = $2 AND registration_id = $3",
            )
            .bind(scope.workspace_id().to_string())
            .bind(scope.environment().as_str())
            .bind(id),
        )
        .await?
    {
        values
            .entry(row.get(0)?)
            .or_default()
            .insert(row.get(1)?, serde_json::Value::String(row.get(2)?));
    }
    rows.iter()
        .map(|r| {
            Ok(ActivityRow {
                activity_id: r.get(0)?,
                completion: r.get(1)?,
                success: r.get(2)?,
                score_scaled: r.get(3)?,
                score_raw: r.get(4)?,
                score_min: r.get(5)?,
                score_max: r.get(6)?,
                total_time_seconds: r.get(7)?,
                summary: serde_json::from_str(&r.get::<String>(8)?)
                    .map_err(|e| corrupt(format!("activity_results.summary: {e}")))?,
                updated_at: r.get(9)?,
                data: serde_json::Value::Object(
                    values.remove(&r.get::<String>(0)?).unwrap_or_default(),
                ),
            })
        })
        .collect()
}

/// A launch session of a registration.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchRow {
    pub session_id: String,
    pub attempt: i64,
    pub resumed: bool,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub started_at: String,
    pub last_seen_at: String,
    pub superseded_at: Option<String>,
    pub batches: i64,
    pub refused_batches: i64,
    pub measured_seconds: i64,
    pub exit: Option<String>,
}

pub async fn launches(
    db: &Database,
    scope: &Scope,
    id: &str,
) -> Result<Vec<LaunchRow>, StoreError> {
    let rows = db
        .fetch_all(
            sql("SELECT session_id, attempt, resumed, user_agent, ip, started_at, last_seen_at, superseded_at, \
                 batches, refused_batches, measured_seconds, exit FROM launches WHERE workspace_id = $1 \
                 AND environment = $2 AND registration_id = $3 ORDER BY started_at, session_id")
            .bind(scope.workspace_id().to_string())
            .bind(scope.environment().as_str())
            .bind(id),
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(LaunchRow {
                session_id: r.get(0)?,
                attempt: r.get(1)?,
                resumed: r.get(2)?,
                user_agent: r.get(3)?,
                ip: r.get(4)?,
                started_at: r.get(5)?,
                last_seen_at: r.get(6)?,
                superseded_at: r.get(7)?,
                batches: r.get(8)?,
                refused_batches: r.get(9)?,
                measured_seconds: r.get(10)?,
                exit: r.get(11)?,
            })
        })
        .collect()
}
