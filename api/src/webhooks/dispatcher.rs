//! The dispatcher: sends the outbox of the `webhooks` view and records every
//! attempt in the log.
//!
//! A supervisor starts one worker per endpoint with pending deliveries. A
//! worker sends the due deliveries that head their subject (so one
//! subject's events arrive in order), up to the concurrency setting at once,
//! then appends one `WebhookDeliveryAttempted` per delivery in a single
//! append to the endpoint's delivery log. It
//! does not wait for the view to apply them: it remembers what it recorded
//! and skips those deliveries (and so their subjects) until the view shows
//! them, while other subjects go on. The attempt event carries the retry
//! decision ([`record_attempt`]), so the schedule is in the log.
//!
//! At-least-once: a crash between a send and its append loses the record,
//! not the delivery, which is sent again. On PostgreSQL each endpoint is
//! dispatched by one process at a time, under a session advisory lock held
//! on one dedicated connection per process; a worker checks that the
//! session is alive before each send, and stops when it is lost.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::events::{Event, EventMetadata};
use domain::webhook::WebhookCommand;
use domain::webhook::catalogue::{Payload, public_event, timestamp};
use domain::webhook::delivery::{
    self, AttemptResult, DeliveryEvent, Outcome, RetryPolicy, record_attempt,
};
use projections::webhooks::{self as view, DeliveryRow, DispatchEndpoint};
use projections::{Projections, Status};
use sqlx::Connection;
use store::StoreError;
use store::db::Database;
use store::log::{
    AppendError, Checkpoint, EventLog, ExpectedVersion, NewEvent, RecordedEvent, StreamAppend,
};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::sender::{self, Request};
use crate::config::WebhookSettings;
use crate::platform::Platform;
use store::commands::Commands;

/// How often the supervisor and idle workers look at the outbox when
/// nothing woke them (another process may run the view on PostgreSQL).
const POLL: Duration = Duration::from_millis(500);
/// The longest a worker waits for the view to apply its own attempts.
const VIEW_WAIT: Duration = Duration::from_secs(30);
/// The view this dispatcher reads.
const VIEW: &str = "webhooks";

/// Sends webhooks; cheap to clone.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    db: Database,
    log: EventLog,
    projections: Projections,
    commands: Commands,
    settings: WebhookSettings,
    policy: RetryPolicy,
    client: reqwest::Client,
    locks: Locks,
}

/// Appends of attempt records one worker may have in flight at once.
const MAX_APPENDING: usize = 4;

type Appending = JoinHandle<(Vec<String>, Result<store::log::Appended, AppendError>)>;

/// What one endpoint's worker remembers between its steps.
#[derive(Default)]
struct WorkerState {
    /// Deliveries whose last attempt is being recorded (`None`) or was
    /// recorded at a checkpoint the view may not show yet.
    unseen: HashMap<String, Option<Checkpoint>>,
    /// Appends of attempt records in flight, oldest first.
    appending: std::collections::VecDeque<Appending>,
}

impl WorkerState {
    /// Takes in the appends that have finished. `Ok(true)`: one was refused
    /// because another process recorded first, so read the view afresh.
    fn collect(&mut self) -> anyhow::Result<bool> {
        let mut conflict = false;
        while self.appending.front().is_some_and(JoinHandle::is_finished) {
            conflict |= self.finish_front_now()?;
        }
        Ok(conflict)
    }

    fn finish_front_now(&mut self) -> anyhow::Result<bool> {
        let handle = self.appending.pop_front().expect("checked");
        let outcome = futures::FutureExt::now_or_never(handle).expect("finished");
        self.take(outcome)
    }

    /// Waits for the oldest append; `Ok(true)` on a conflict.
    async fn next(&mut self) -> anyhow::Result<bool> {
        let Some(handle) = self.appending.pop_front() else {
            return Ok(false);
        };
        let outcome = handle.await;
        self.take(outcome)
    }

    async fn drain_all(&mut self) -> anyhow::Result<()> {
        let mut result = Ok(());
        while !self.appending.is_empty() {
            if let Err(err) = self.next().await {
                result = Err(err);
            }
        }
        result
    }

    fn take(
        &mut self,
        outcome: Result<
            (Vec<String>, Result<store::log::Appended, AppendError>),
            tokio::task::JoinError,
        >,
    ) -> anyhow::Result<bool> {
        let (ids, appended) = outcome?;
        match appended {
            Ok(appended) => {
                // One event per delivery, in the order given.
                for (id, checkpoint) in ids.into_iter().zip(appended.checkpoints) {
                    self.unseen.insert(id, Some(checkpoint));
                }
                Ok(false)
            }
            Err(AppendError::Conflict { stream_id, .. }) => {
                tracing::warn!(stream_id, "a delivery attempt was recorded elsewhere");
                for id in ids {
                    self.unseen.remove(&id);
                }
                Ok(true)
            }
            Err(AppendError::Store(err)) => {
                // Not recorded: those deliveries will be sent again.
                for id in ids {
                    self.unseen.remove(&id);
                }
                Err(err.into())
            }
        }
    }
}

#[derive(Debug)]
enum Step {
    /// Did something; look again at once, after the view shows this
    /// checkpoint if there is one (`START`: the whole log).
    Sent(Option<Checkpoint>),
    /// Nothing due before this time.
    Idle(DateTime<Utc>),
    /// Nothing pending.
    Done,
}

impl Dispatcher {
    pub fn new(platform: &Platform, settings: &WebhookSettings) -> anyhow::Result<Dispatcher> {
        let client = sender::client(settings.timeout, settings.allow_private_targets)?;
        let locks = match &platform.db {
            Database::Postgres { pool, schema } => Locks::Postgres(PgLocks {
                pool: pool.clone(),
                schema: schema.clone(),
                session: Mutex::new(None),
            }),
            Database::Sqlite { .. } => Locks::Local,
        };
        Ok(Dispatcher {
            inner: Arc::new(Inner {
                db: platform.db.clone(),
                log: platform.log.clone(),
                projections: platform.projections.clone(),
                commands: platform.commands.clone(),
                settings: settings.clone(),
                policy: RetryPolicy {
                    scale: settings.retry_scale,
                },
                client,
                locks,
            }),
        })
    }

    /// The HTTP client every delivery goes through.
    pub fn client(&self) -> reqwest::Client {
        self.inner.client.clone()
    }

    /// Runs the supervisor until `shutdown` is cancelled; workers finish
    /// the attempt in flight and stop.
    pub fn spawn(&self, shutdown: CancellationToken) -> JoinHandle<()> {
        let inner = self.inner.clone();
        tokio::spawn(
            async move { inner.supervise(shutdown).await }
                .instrument(tracing::info_span!("webhooks")),
        )
    }
}

impl Inner {
    async fn supervise(self: Arc<Self>, shutdown: CancellationToken) {
        let mut view = self
            .projections
            .watch(VIEW)
            .expect("the webhooks projection is registered");
        let mut workers: HashMap<String, JoinHandle<()>> = HashMap::new();
        loop {
            workers.retain(|_, worker| !worker.is_finished());
            match view::endpoints_with_pending(&self.db).await {
                Ok(ids) => {
                    for id in ids {
                        if workers.contains_key(&id) {
                            continue;
                        }
                        let lost = match self.locks.try_lock(&id).await {
                            Ok(Some(lost)) => lost,
                            Ok(None) => continue, // another process sends it
                            Err(err) => {
                                tracing::warn!(error = %err, "cannot take a webhook endpoint lock");
                                break;
                            }
                        };
                        let this = self.clone();
                        let stop = shutdown.child_token();
                        let span = tracing::info_span!("endpoint", webhook_id = %id);
                        let key = id.clone();
                        workers.insert(
                            key,
                            tokio::spawn(
                                async move { this.work(id, stop, lost).await }.instrument(span),
                            ),
                        );
                    }
                }
                Err(err) => tracing::warn!(error = %err, "cannot read the webhook outbox"),
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = view.changed() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
        for (_, worker) in workers {
            let _ = worker.await;
        }
    }

    async fn work(self: Arc<Self>, id: String, stop: CancellationToken, lost: CancellationToken) {
        let mut view = self
            .projections
            .watch(VIEW)
            .expect("the webhooks projection is registered");
        // Whatever was recorded before this worker took over must be in the
        // view, or a delivery could be sent again needlessly. After that the
        // worker keeps the attempts it is recording or recorded that the
        // view does not show yet (`unseen`), and never sends those
        // deliveries again before the view shows them; other subjects go on
        // meanwhile, while earlier batches are being appended.
        let mut barrier = Some(Checkpoint::START);
        let mut state = WorkerState::default();
        let mut failures = 0u32;
        loop {
            if stop.is_cancelled() || lost.is_cancelled() {
                break;
            }
            let step = if let Some(checkpoint) = barrier {
                match state.drain_all().await {
                    Ok(()) => self.settle(checkpoint).await.map(|()| {
                        barrier = None;
                        state.unseen.clear();
                        Step::Sent(None)
                    }),
                    Err(err) => Err(err),
                }
            } else {
                self.step(&id, &lost, &mut state).await
            };
            let wait = match step {
                Ok(Step::Sent(checkpoint)) => {
                    failures = 0;
                    barrier = checkpoint;
                    continue;
                }
                Ok(Step::Done) => break,
                Ok(Step::Idle(until)) => {
                    failures = 0;
                    (until - Utc::now())
                        .to_std()
                        .unwrap_or(Duration::ZERO)
                        .min(POLL)
                }
                Err(err) => {
                    failures += 1;
                    tracing::warn!(error = %err, "webhook dispatch failed, retrying");
                    barrier = Some(Checkpoint::START);
                    Duration::from_millis(200 * 2u64.pow(failures.min(5)))
                }
            };
            tokio::select! {
                () = stop.cancelled() => break,
                () = lost.cancelled() => break,
                _ = view.changed() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
        // Records in flight are kept: they are the attempts already sent.
        let _ = state.drain_all().await;
        self.locks.unlock(&id).await;
    }

    /// Waits until the view shows `checkpoint`, or the whole log when it
    /// is the start.
    async fn settle(&self, checkpoint: Checkpoint) -> anyhow::Result<()> {
        let checkpoint = if checkpoint == Checkpoint::START {
            self.log.head().await?
        } else {
            checkpoint
        };
        self.projections
            .wait_for(VIEW, checkpoint, VIEW_WAIT)
            .await?;
        Ok(())
    }

    /// Where the view stands now.
    async fn view_checkpoint(&self) -> anyhow::Result<Checkpoint> {
        let status = self
            .projections
            .watch(VIEW)
            .expect("the webhooks projection is registered")
            .borrow()
            .clone();
        match status {
            Status::Running { checkpoint } | Status::Starting { checkpoint } => Ok(checkpoint),
            // Another process runs the view.
            Status::Standby => Ok(self
                .projections
                .stored_checkpoints()
                .await?
                .get(VIEW)
                .copied()
                .unwrap_or(Checkpoint::START)),
            Status::Stopped { reason, .. } => {
                anyhow::bail!("the webhooks view is stopped: {reason}")
            }
        }
    }

    async fn step(
        &self,
        id: &str,
        lost: &CancellationToken,
        state: &mut WorkerState,
    ) -> anyhow::Result<Step> {
        if state.collect()? {
            return Ok(Step::Sent(Some(Checkpoint::START)));
        }
        let Some(endpoint) = view::dispatch_endpoint(&self.db, id).await? else {
            return Ok(Step::Done);
        };
        let now = Utc::now();
        if endpoint.enabled
            && let Some(since) = endpoint.failing_since.as_deref().and_then(parse_time)
            && now - since >= self.policy.window()
        {
            return Ok(Step::Sent(self.disable(&endpoint, since).await?));
        }
        if !state.unseen.is_empty() {
            let seen = self.view_checkpoint().await?;
            state
                .unseen
                .retain(|_, checkpoint| checkpoint.is_none_or(|c| c > seen));
        }
        let limit = self.settings.concurrency + state.unseen.len();
        let due: Vec<DeliveryRow> = view::due_heads(&self.db, id, &now, limit as u32)
            .await?
            .into_iter()
            .filter(|d| !state.unseen.contains_key(&d.delivery_id))
            .take(self.settings.concurrency)
            .collect();
        if due.is_empty() {
            if !state.appending.is_empty() {
                // Wait for a record to land, then look again.
                if state.next().await? {
                    return Ok(Step::Sent(Some(Checkpoint::START)));
                }
                return Ok(Step::Sent(None));
            }
            if !state.unseen.is_empty() {
                // The view will show them soon; look again then.
                return Ok(Step::Idle(now + chrono::Duration::from_std(POLL)?));
            }
            return Ok(match view::next_due(&self.db, id).await? {
                Some(at) => Step::Idle(parse_time(&at).unwrap_or(now)),
                None => Step::Done,
            });
        }
        if !self.locks.alive(lost).await {
            return Ok(Step::Done);
        }
        let positions: Vec<i64> = due.iter().map(|d| d.source_position).collect();
        let events = self.log.read_positions(&positions).await?;
        let secrets = valid_secrets(&endpoint, now);
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let sends = due.iter().map(|delivery| {
            let source = events
                .iter()
                .find(|e| e.position == delivery.source_position);
            self.send_one(&endpoint, delivery, source, &secrets)
        });
        let results = futures::future::join_all(sends).await;
        // One append for the batch: the endpoint's delivery log has one
        // writer, the holder of the endpoint.
        let appends = vec![StreamAppend {
            stream_id: delivery::stream_id(&endpoint.scope, &endpoint.webhook_id),
            expected: ExpectedVersion::Any,
            events: due
                .iter()
                .zip(results)
                .map(|(delivery, event)| NewEvent {
                    event_type: event.kind().to_owned(),
                    schema_version: 1,
                    payload: serde_json::to_string(&event).expect("events serialise"),
                    metadata: EventMetadata::scoped(delivery.scope)
                        .with_actor("system:webhooks")
                        .with_correlation_id(&delivery.delivery_id),
                })
                .collect(),
        }];
        let ids: Vec<String> = due.iter().map(|d| d.delivery_id.clone()).collect();
        for id in &ids {
            state.unseen.insert(id.clone(), None);
        }
        let log = self.log.clone();
        state.appending.push_back(tokio::spawn(
            async move { (ids, log.append(appends).await) },
        ));
        // Bounded: wait for the oldest record before sending more.
        if state.appending.len() >= MAX_APPENDING && state.next().await? {
            return Ok(Step::Sent(Some(Checkpoint::START)));
        }
        Ok(Step::Sent(None))
    }

    /// Sends one delivery and decides its attempt event.
    async fn send_one(
        &self,
        endpoint: &DispatchEndpoint,
        delivery: &DeliveryRow,
        source: Option<&RecordedEvent>,
        secrets: &[&str],
    ) -> DeliveryEvent {
        let attempt = delivery.attempts as u32 + 1;
        let rendered = match source {
            Some(record) => render(delivery, record),
            None => Err(format!(
                "event at position {} is not in the log",
                delivery.source_position
            )),
        };
        let body = match rendered {
            Ok(body) => body,
            Err(reason) => {
                // Nothing can ever render it: give up at once, and say why.
                return DeliveryEvent::WebhookDeliveryAttempted {
                    delivery_id: delivery.delivery_id.clone(),
                    webhook_id: endpoint.webhook_id.clone(),
                    attempt,
                    request_id: String::new(),
                    status: None,
                    latency_ms: 0,
                    error: Some(reason),
                    outcome: Outcome::GaveUp,
                    next_attempt_at: None,
                    attempted_at: Utc::now(),
                };
            }
        };
        let result: AttemptResult = sender::send(
            &self.client,
            self.settings.allow_private_targets,
            Request {
                url: &endpoint.url,
                body: &body,
                secrets,
                event_id: &delivery.event_id,
                event_type: &delivery.event_type,
                delivery_id: &delivery.delivery_id,
                attempt,
            },
        )
        .await;
        if let Some(error) = &result.error {
            tracing::debug!(delivery_id = %delivery.delivery_id, attempt, error, "webhook attempt failed");
        }
        record_attempt(
            &self.policy,
            &delivery.delivery_id,
            &endpoint.webhook_id,
            attempt,
            delivery.first_attempted_at.as_deref().and_then(parse_time),
            result,
        )
    }

    async fn disable(
        &self,
        endpoint: &DispatchEndpoint,
        since: DateTime<Utc>,
    ) -> anyhow::Result<Option<Checkpoint>> {
        let reason = format!(
            "every delivery failed since {}, for longer than the retry window",
            timestamp(&since)
        );
        tracing::warn!(webhook_id = %endpoint.webhook_id, reason, "disabling a failing webhook endpoint");
        let checkpoint = self
            .commands
            .webhook(
                &endpoint.scope.aggregate_id(&endpoint.webhook_id),
                WebhookCommand::Disable {
                    reason,
                    failing_since: since,
                    at: Utc::now(),
                },
                &EventMetadata::scoped(endpoint.scope).with_actor("system:webhooks"),
            )
            .await
            .map_err(|e| anyhow::anyhow!("cannot disable webhook {}: {e}", endpoint.webhook_id))?;
        Ok(checkpoint)
    }
}

/// The body of a delivery: the same bytes on every attempt, since every
/// part comes from the log and the delivery row.
pub fn render(delivery: &DeliveryRow, record: &RecordedEvent) -> Result<String, String> {
    let event = Event::decode(&record.event_type, record.schema_version, &record.payload)
        .map_err(|e| format!("event at position {} cannot be read: {e}", record.position))?;
    let public = public_event(&event, &record.stream_id)
        .ok_or_else(|| format!("event at position {} has no public form", record.position))?;
    Ok(Payload {
        id: &delivery.event_id,
        event_type: &delivery.event_type,
        api_version: &delivery.api_version,
        created_at: timestamp(&record.recorded_at),
        workspace_id: delivery.scope.workspace_id(),
        environment: record.metadata.environment,
        data: &public.data,
    }
    .to_json())
}

/// The endpoint's secrets that sign now: the current one, and the previous
/// one during its grace period.
fn valid_secrets(endpoint: &DispatchEndpoint, now: DateTime<Utc>) -> Vec<String> {
    let mut secrets = vec![endpoint.secret.clone()];
    if let (Some(previous), Some(until)) = (
        &endpoint.previous_secret,
        endpoint
            .previous_secret_expires_at
            .as_deref()
            .and_then(parse_time),
    ) && until > now
    {
        secrets.push(previous.clone());
    }
    secrets
}

fn parse_time(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Who may dispatch an endpoint: anyone on SQLite (one process), the holder
/// of its advisory lock on PostgreSQL.
enum Locks {
    Local,
    Postgres(PgLocks),
}

struct PgLocks {
    pool: sqlx::PgPool,
    schema: String,
    /// The session whose advisory locks this process holds, and the token
    /// cancelled when it is lost (and the locks with it).
    session: Mutex<Option<(sqlx::PgConnection, CancellationToken)>>,
}

impl PgLocks {
    fn key(&self, webhook_id: &str) -> String {
        format!("allureconnect/{}/webhook/{webhook_id}", self.schema)
    }
}

impl Locks {
    /// Takes the endpoint's lock; returns a token cancelled if it is lost.
    async fn try_lock(&self, webhook_id: &str) -> Result<Option<CancellationToken>, StoreError> {
        let Locks::Postgres(pg) = self else {
            return Ok(Some(CancellationToken::new()));
        };
        let mut session = pg.session.lock().await;
        if session.is_none() {
            let connection = sqlx::PgConnection::connect_with(&pg.pool.connect_options()).await?;
            *session = Some((connection, CancellationToken::new()));
        }
        let (connection, lost) = session.as_mut().expect("just set");
        let locked =
            sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
                .bind(pg.key(webhook_id))
                .fetch_one(&mut *connection)
                .await;
        match locked {
            Ok(true) => Ok(Some(lost.clone())),
            Ok(false) => Ok(None),
            Err(err) => {
                lost.cancel();
                *session = None;
                Err(err.into())
            }
        }
    }

    async fn unlock(&self, webhook_id: &str) {
        let Locks::Postgres(pg) = self else { return };
        let mut session = pg.session.lock().await;
        if let Some((connection, lost)) = session.as_mut() {
            if lost.is_cancelled() {
                return;
            }
            let unlocked = sqlx::query("SELECT pg_advisory_unlock(hashtextextended($1, 0))")
                .bind(pg.key(webhook_id))
                .execute(&mut *connection)
                .await;
            if unlocked.is_err() {
                lost.cancel();
                *session = None;
            }
        }
    }

    /// Whether the lock behind `lost` is still held.
    async fn alive(&self, lost: &CancellationToken) -> bool {
        let Locks::Postgres(pg) = self else {
            return true;
        };
        if lost.is_cancelled() {
            return false;
        }
        let mut session = pg.session.lock().await;
        match session.as_mut() {
            Some((connection, current)) if !current.is_cancelled() => {
                if sqlx::query("SELECT 1")
                    .execute(&mut *connection)
                    .await
                    .is_ok()
                {
                    true
                } else {
                    current.cancel();
                    *session = None;
                    false
                }
            }
            _ => false,
        }
    }
}
