//! The dispatcher: sends the outbox of the `webhooks` view and records every
//! attempt in the log.
//!
//! A supervisor starts one worker per endpoint with pending deliveries. A
//! worker reads its endpoint's pending deliveries a window at a time (in
//! outbox order, each body rendered once from the log) and keeps every
//! subject's queue itself: it sends the due deliveries that head their
//! subject, up to the concurrency setting at once, and records what was
//! sent as `WebhookDeliveryAttempted` events, all the attempts finished
//! since the last append in one append to the endpoint's delivery log, one
//! append at a time, so the log holds the attempts in the order they
//! finished. A subject's next delivery goes out as soon as the attempt
//! before it is settled (succeeded or given up), without waiting for its
//! record: the worker applies each finished attempt to its queues at once,
//! as the view will once the record is in. The attempt event carries the
//! retry decision ([`record_attempt`]), so the schedule is in the log.
//!
//! The view stays the truth: a worker starts (and starts again after an
//! error, an endpoint change or disabling its endpoint) by waiting until
//! the view shows the whole log, its own records included, then reads the
//! outbox afresh.
//!
//! At-least-once: a crash (or a failed append) between a send and its
//! record loses the record, not the delivery, which is sent again. Records
//! are appended in the order the attempts finished and nothing is appended
//! after a failed append, so the log never shows a subject's later
//! delivery settled and an earlier one pending: what is sent again comes
//! in the subject's order. On PostgreSQL each endpoint is
//! dispatched by one process at a time, under a session advisory lock held
//! on one dedicated connection per process; a worker checks that the
//! session is alive before it sends, and stops when it is lost.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use domain::events::{Event, EventMetadata};
use domain::webhook::WebhookCommand;
use domain::webhook::catalogue::{Payload, public_event, timestamp};
use domain::webhook::delivery::{
    self, AttemptResult, DeliveryEvent, Outcome, RetryPolicy, record_attempt,
};
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use projections::Projections;
use projections::webhooks::{self as view, DispatchEndpoint, PendingDelivery};
use reqwest::Url;
use sqlx::Connection;
use store::StoreError;
use store::db::Database;
use store::log::{
    AppendError, Appended, Checkpoint, EventLog, ExpectedVersion, NewEvent, RecordedEvent,
    StreamAppend,
};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::sender::{self, Request};
use super::target;
use crate::config::WebhookSettings;
use crate::platform::Platform;
use store::commands::Commands;

/// How often the supervisor and idle workers look at the outbox when
/// nothing woke them (another process may run the view on PostgreSQL).
const POLL: Duration = Duration::from_millis(500);
/// The least time between two looks of the supervisor at the outbox, and
/// of a worker at its endpoint: the view moves with every batch of
/// attempts.
const SCAN_GAP: Duration = Duration::from_millis(20);
/// The longest a worker waits for the view to show the log.
const VIEW_WAIT: Duration = Duration::from_secs(30);
/// The view this dispatcher reads.
const VIEW: &str = "webhooks";
/// Pending deliveries a worker holds at most; it reads more when it holds
/// fewer than half.
const WINDOW: usize = 1024;
/// The most finished attempts a worker holds unrecorded (waiting for or
/// in an append) before it stops sending until the log catches up.
const MAX_UNRECORDED: usize = 4096;

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

/// A pending delivery a worker holds.
struct Queued {
    /// Shared with the send in flight, not copied.
    row: Arc<PendingDelivery>,
    /// Attempts made so far (the row's, then this worker's).
    attempts: i64,
    /// The body, rendered once; why not, when the event cannot be.
    body: Result<Bytes, String>,
    due: DateTime<Utc>,
    first_attempted_at: Option<DateTime<Utc>>,
}

/// An endpoint as a worker sends to it: the view's row, and its URL parsed
/// once (not on every send).
struct Target {
    endpoint: DispatchEndpoint,
    url: Result<Url, String>,
}

impl Target {
    fn new(endpoint: DispatchEndpoint) -> Arc<Target> {
        let url = target::parse(&endpoint.url).map_err(|e| e.to_string());
        Arc::new(Target { endpoint, url })
    }
}

impl std::ops::Deref for Target {
    type Target = DispatchEndpoint;

    fn deref(&self) -> &DispatchEndpoint {
        &self.endpoint
    }
}

/// One attempt, sent, waiting to be recorded.
struct Sent {
    subject: String,
    event: DeliveryEvent,
    scope: domain::tenancy::Scope,
}

type Appending = JoinHandle<Result<Appended, AppendError>>;

/// What a run has sent and not yet seen recorded.
#[derive(Default)]
struct InFlight {
    sends: FuturesUnordered<BoxFuture<'static, Sent>>,
    /// Sent, waiting for an append.
    ready: Vec<Sent>,
    /// The append in flight (one at a time, so the log keeps the order
    /// the attempts finished in), with its attempts.
    appending: Option<(Vec<Sent>, Appending)>,
}

/// A worker's copy of its endpoint's outbox: a prefix, in outbox order, of
/// the pending deliveries, less those it settled since, by subject.
#[derive(Default)]
struct Outbox {
    subjects: HashMap<String, Subject>,
    /// Every pending delivery up to this outbox position is held.
    loaded_to: i64,
    /// The last read found the end of the outbox.
    exhausted: bool,
    len: usize,
}

/// One subject's pending deliveries, in outbox order.
#[derive(Default)]
struct Subject {
    queue: VecDeque<Queued>,
    /// Its head is being sent or recorded.
    busy: bool,
}

/// What a worker may send now.
struct Plan<'a> {
    /// The due heads of subjects that are not busy, oldest first, at most
    /// the limit asked for.
    due: Vec<&'a Queued>,
    /// When the next head that is not busy and not sent now falls due.
    next_due: Option<DateTime<Utc>>,
}

impl Outbox {
    fn push(&mut self, queued: Queued) {
        self.loaded_to = self.loaded_to.max(queued.row.seq);
        self.len += 1;
        match self.subjects.get_mut(&queued.row.subject) {
            Some(subject) => subject.queue.push_back(queued),
            None => {
                let key = queued.row.subject.clone();
                self.subjects.insert(
                    key,
                    Subject {
                        queue: VecDeque::from([queued]),
                        busy: false,
                    },
                );
            }
        }
    }

    /// One look at every subject's head.
    fn plan(&self, now: DateTime<Utc>, limit: usize) -> Plan<'_> {
        let mut due = Vec::new();
        let mut next_due: Option<DateTime<Utc>> = None;
        for subject in self.subjects.values().filter(|s| !s.busy) {
            let Some(head) = subject.queue.front() else {
                continue;
            };
            if head.due <= now && limit > 0 {
                due.push(head);
            } else {
                next_due = Some(next_due.map_or(head.due, |next| next.min(head.due)));
            }
        }
        if due.len() > limit {
            // Those left out are due already; sending `limit` fills the
            // worker's concurrency, so it looks again when a send finishes.
            due.select_nth_unstable_by_key(limit, |head| head.row.seq);
            due.truncate(limit);
        }
        due.sort_unstable_by_key(|head| head.row.seq);
        Plan { due, next_due }
    }

    /// Marks the subjects of these heads busy.
    fn start(&mut self, subjects: Vec<String>) {
        for key in subjects {
            if let Some(subject) = self.subjects.get_mut(&key) {
                subject.busy = true;
            }
        }
    }

    /// Applies a finished attempt as the view will once it is recorded: a
    /// settled delivery leaves its subject's queue, a retried one waits
    /// there until it is due.
    fn finished(&mut self, sent: &Sent) {
        let Some(subject) = self.subjects.get_mut(&sent.subject) else {
            return;
        };
        subject.busy = false;
        let queue = &mut subject.queue;
        let DeliveryEvent::WebhookDeliveryAttempted {
            delivery_id,
            attempt,
            outcome,
            next_attempt_at,
            attempted_at,
            ..
        } = &sent.event;
        let Some(head) = queue.front_mut() else {
            return;
        };
        if head.row.delivery_id != *delivery_id {
            return;
        }
        match (outcome, next_attempt_at) {
            (Outcome::Retrying, Some(next)) => {
                head.attempts = i64::from(*attempt);
                head.first_attempted_at.get_or_insert(*attempted_at);
                head.due = *next;
            }
            _ => {
                queue.pop_front();
                self.len -= 1;
                if queue.is_empty() {
                    self.subjects.remove(&sent.subject);
                }
            }
        }
    }
}

/// Why a worker's run ended.
enum Exit {
    /// Nothing is pending.
    Done,
    /// Stopped, or the endpoint's lock is lost.
    Stopped,
    /// Read the outbox afresh once the view shows the log.
    Reload,
}

impl Dispatcher {
    pub fn new(platform: &Platform, settings: &WebhookSettings) -> anyhow::Result<Dispatcher> {
        let client = sender::client(settings.timeout, settings.allow_private_targets)?;
        let locks = match &platform.db {
            Database::Postgres { pool, schema } => Locks::Postgres(PgLocks {
                pool: pool.clone(),
                schema: schema.clone(),
                session: Mutex::new(None),
                answered: std::sync::Mutex::new(None),
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
                _ = view.changed() => {
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(SCAN_GAP) => {}
                    }
                }
                () = tokio::time::sleep(POLL) => {}
            }
        }
        for (_, worker) in workers {
            let _ = worker.await;
        }
    }

    async fn work(self: Arc<Self>, id: String, stop: CancellationToken, lost: CancellationToken) {
        let mut failures = 0u32;
        // The last attempt this worker recorded.
        let mut recorded = Checkpoint::START;
        loop {
            if stop.is_cancelled() || lost.is_cancelled() {
                break;
            }
            let wait = match self.run(&id, (&stop, &lost), &mut recorded).await {
                Ok(Exit::Done | Exit::Stopped) => break,
                Ok(Exit::Reload) => {
                    failures = 0;
                    continue;
                }
                Err(err) => {
                    failures += 1;
                    tracing::warn!(error = %err, "webhook dispatch failed, retrying");
                    Duration::from_millis(200 * 2u64.pow(failures.min(5)))
                }
            };
            tokio::select! {
                () = stop.cancelled() => break,
                () = lost.cancelled() => break,
                () = tokio::time::sleep(wait) => {}
            }
        }
        // Whoever sends this endpoint next reads the view: it must show
        // every attempt recorded here first.
        // (On shutdown the view stops too; the next process starts from the
        // log's head.)
        if recorded > Checkpoint::START {
            tokio::select! {
                waited = self.projections.wait_for(VIEW, recorded, VIEW_WAIT) => {
                    if let Err(err) = waited {
                        tracing::warn!(error = %err, "the webhooks view did not show the attempts recorded");
                    }
                }
                () = stop.cancelled() => {}
            }
        }
        self.locks.unlock(&id).await;
    }

    /// One run of a worker, from the view: waits until the view shows the
    /// log (whatever was recorded before must be in it, or a delivery
    /// could be sent again needlessly), reads the outbox, sends and
    /// records. Whatever it sent is recorded before it returns, unless an
    /// append failed: then nothing sent after it is recorded (it will be
    /// sent again, in order).
    async fn run(
        self: &Arc<Self>,
        id: &str,
        (stop, lost): (&CancellationToken, &CancellationToken),
        recorded: &mut Checkpoint,
    ) -> anyhow::Result<Exit> {
        // On PostgreSQL the head may lag behind this worker's own appends
        // (an older transaction still open): wait for those too.
        let head = self.log.head().await?.max(*recorded);
        self.projections.wait_for(VIEW, head, VIEW_WAIT).await?;
        let Some(endpoint) = view::dispatch_endpoint(&self.db, id).await? else {
            return Ok(Exit::Done);
        };
        let mut endpoint = Target::new(endpoint);
        let mut flight = InFlight::default();
        let result = self
            .pump(&mut endpoint, (stop, lost), &mut flight, recorded)
            .await;
        let InFlight {
            mut sends,
            mut ready,
            appending,
        } = flight;
        // Records in flight are kept: they are the attempts already sent.
        while let Some(sent) = sends.next().await {
            ready.push(sent);
        }
        let mut failed = result.is_err();
        if let Some((_, handle)) = appending {
            failed |= !settle(handle.await, recorded);
        }
        if !ready.is_empty() {
            if failed {
                tracing::warn!(
                    attempts = ready.len(),
                    "webhook attempts not recorded after a failure; they will be sent again"
                );
            } else {
                let (_, handle) = self.record(ready);
                settle(handle.await, recorded);
            }
        }
        result
    }

    async fn pump(
        self: &Arc<Self>,
        endpoint: &mut Arc<Target>,
        (stop, lost): (&CancellationToken, &CancellationToken),
        flight: &mut InFlight,
        recorded: &mut Checkpoint,
    ) -> anyhow::Result<Exit> {
        let InFlight {
            sends,
            ready,
            appending,
        } = flight;
        let mut view = self
            .projections
            .watch(VIEW)
            .expect("the webhooks projection is registered");
        view.borrow_and_update();
        let concurrency = self.settings.concurrency;
        let mut outbox = Outbox::default();
        // Whether the view moved since the endpoint was read, and when it
        // was read: at most once per SCAN_GAP, since the view moves with
        // every batch of attempts.
        let mut moved = false;
        let mut looked = Instant::now();
        loop {
            if stop.is_cancelled() || lost.is_cancelled() {
                return Ok(Exit::Stopped);
            }
            if appending
                .as_ref()
                .is_some_and(|(_, handle)| handle.is_finished())
            {
                let (_, handle) = appending.take().expect("checked");
                let outcome = futures::FutureExt::now_or_never(handle).expect("finished");
                take_record(outcome, recorded)?;
            }
            // The view moved: the endpoint may have changed, deliveries
            // may have been queued.
            moved |= view.has_changed().unwrap_or(true);
            if moved && looked.elapsed() >= SCAN_GAP {
                moved = false;
                looked = Instant::now();
                view.borrow_and_update();
                let Some(fresh) = view::dispatch_endpoint(&self.db, &endpoint.webhook_id).await?
                else {
                    return Ok(Exit::Reload);
                };
                if fresh.updated_at != endpoint.updated_at {
                    // Changed (disabled, deleted, rotated…): start afresh.
                    return Ok(Exit::Reload);
                }
                *endpoint = Target::new(fresh);
                outbox.exhausted = false;
            }
            let now = Utc::now();
            if endpoint.enabled
                && let Some(since) = endpoint.failing_since.as_deref().and_then(parse_time)
                && now - since >= self.policy.window()
            {
                self.disable(endpoint, since).await?;
                return Ok(Exit::Reload);
            }
            if !outbox.exhausted && outbox.len < WINDOW / 2 {
                let limit = WINDOW - outbox.len;
                self.load(endpoint, &mut outbox, limit).await?;
            }
            // Sending runs ahead of recording, within a bound.
            let free = if unrecorded(ready, appending) < MAX_UNRECORDED {
                concurrency.saturating_sub(sends.len())
            } else {
                0
            };
            // When a head that cannot go now falls due. With no free
            // slot there is nothing to wake for: a send that finishes
            // wakes the worker.
            let mut next_due = None;
            if free > 0 {
                let plan = outbox.plan(now, free);
                next_due = plan.next_due;
                if !plan.due.is_empty() {
                    if !self.locks.alive(lost).await {
                        return Ok(Exit::Stopped);
                    }
                    let secrets: Arc<Vec<String>> = Arc::new(valid_secrets(endpoint, now));
                    let mut started = Vec::with_capacity(plan.due.len());
                    for head in plan.due {
                        started.push(head.row.subject.clone());
                        sends.push(self.send(endpoint.clone(), secrets.clone(), head));
                    }
                    outbox.start(started);
                }
            }
            // Record what finished, one append at a time: whatever finished
            // while one was in flight goes into the next.
            if !ready.is_empty() && appending.is_none() {
                *appending = Some(self.record(std::mem::take(ready)));
            }
            if sends.is_empty()
                && ready.is_empty()
                && appending.is_none()
                && outbox.len == 0
                && outbox.exhausted
            {
                return Ok(Exit::Done);
            }
            let mut wait = next_due
                .map_or(POLL, |due| (due - now).to_std().unwrap_or(Duration::ZERO))
                .min(POLL);
            if moved {
                wait = wait.min(SCAN_GAP.saturating_sub(looked.elapsed()));
            }
            tokio::select! {
                () = stop.cancelled() => return Ok(Exit::Stopped),
                () = lost.cancelled() => return Ok(Exit::Stopped),
                Some(sent) = sends.next() => {
                    // The subject's next delivery may go now.
                    outbox.finished(&sent);
                    ready.push(sent);
                    while let Some(Some(sent)) = futures::FutureExt::now_or_never(sends.next()) {
                        outbox.finished(&sent);
                        ready.push(sent);
                    }
                }
                outcome = in_flight(appending) => {
                    appending.take();
                    take_record(outcome, recorded)?;
                }
                _ = view.changed(), if !moved => moved = true,
                () = tokio::time::sleep(wait) => {
                    // Another process may run the view: look again.
                    moved = true;
                }
            }
        }
    }

    /// Reads up to `limit` more pending deliveries and renders their bodies.
    async fn load(
        &self,
        endpoint: &DispatchEndpoint,
        outbox: &mut Outbox,
        limit: usize,
    ) -> anyhow::Result<()> {
        let rows = view::pending_after(
            &self.db,
            &endpoint.webhook_id,
            outbox.loaded_to,
            limit as u32,
        )
        .await?;
        outbox.exhausted = rows.len() < limit;
        if rows.is_empty() {
            return Ok(());
        }
        let mut positions: Vec<i64> = rows.iter().map(|d| d.source_position).collect();
        positions.sort_unstable();
        positions.dedup();
        let events = self.log.read_positions(&positions).await?;
        let now = Utc::now();
        for row in rows {
            let body = match events.binary_search_by_key(&row.source_position, |e| e.position) {
                Ok(index) => render(&row, &events[index]).map(Bytes::from),
                Err(_) => Err(format!(
                    "event at position {} is not in the log",
                    row.source_position
                )),
            };
            outbox.push(Queued {
                attempts: row.attempts,
                due: row
                    .next_attempt_at
                    .as_deref()
                    .and_then(parse_time)
                    .unwrap_or(now),
                first_attempted_at: row.first_attempted_at.as_deref().and_then(parse_time),
                body,
                row: Arc::new(row),
            });
        }
        Ok(())
    }

    /// Appends the attempts as one batch to the endpoint's delivery log
    /// (which has one writer, the holder of the endpoint).
    fn record(&self, attempts: Vec<Sent>) -> (Vec<Sent>, Appending) {
        let Some(first) = attempts.first() else {
            unreachable!("records are never empty");
        };
        let DeliveryEvent::WebhookDeliveryAttempted { webhook_id, .. } = &first.event;
        let appends = vec![StreamAppend {
            stream_id: delivery::stream_id(&first.scope, webhook_id),
            expected: ExpectedVersion::Any,
            events: attempts
                .iter()
                .map(|sent| NewEvent {
                    event_type: sent.event.kind().to_owned(),
                    schema_version: 1,
                    payload: serde_json::to_string(&sent.event).expect("events serialise"),
                    metadata: EventMetadata::scoped(sent.scope)
                        .with_actor("system:webhooks")
                        .with_correlation_id(sent.event.delivery_id()),
                })
                .collect(),
        }];
        let log = self.log.clone();
        let count = attempts.len();
        let handle = tokio::spawn(async move {
            let started = Instant::now();
            let appended = log.append(appends).await;
            tracing::debug!(
                attempts = count,
                micros = started.elapsed().as_micros() as u64,
                "webhook attempts recorded"
            );
            appended
        });
        (attempts, handle)
    }

    /// Sends the head of a subject and decides its attempt event.
    fn send(
        self: &Arc<Self>,
        endpoint: Arc<Target>,
        secrets: Arc<Vec<String>>,
        head: &Queued,
    ) -> BoxFuture<'static, Sent> {
        let this = self.clone();
        let delivery = head.row.clone();
        let body = head.body.clone();
        let first_attempted_at = head.first_attempted_at;
        let attempt = head.attempts as u32 + 1;
        Box::pin(async move {
            let event = match body {
                Ok(body) => {
                    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
                    let result: AttemptResult = sender::send(
                        &this.client,
                        this.settings.allow_private_targets,
                        Request {
                            url: endpoint.url.as_ref().map_err(String::as_str),
                            body: &body,
                            secrets: &secrets,
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
                        &this.policy,
                        &delivery.delivery_id,
                        &endpoint.webhook_id,
                        attempt,
                        first_attempted_at,
                        result,
                    )
                }
                // Nothing can ever render it: give up at once, and say why.
                Err(reason) => DeliveryEvent::WebhookDeliveryAttempted {
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
                },
            };
            Sent {
                subject: delivery.subject.clone(),
                event,
                scope: delivery.scope,
            }
        })
    }

    async fn disable(
        &self,
        endpoint: &DispatchEndpoint,
        since: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let reason = format!(
            "every delivery failed since {}, for longer than the retry window",
            timestamp(&since)
        );
        tracing::warn!(webhook_id = %endpoint.webhook_id, reason, "disabling a failing webhook endpoint");
        self.commands
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
        Ok(())
    }
}

/// The append in flight, or never.
async fn in_flight(
    appending: &mut Option<(Vec<Sent>, Appending)>,
) -> Result<Result<Appended, AppendError>, tokio::task::JoinError> {
    match appending {
        Some((_, handle)) => handle.await,
        None => std::future::pending().await,
    }
}

/// Attempts finished and not yet in the log.
fn unrecorded(ready: &[Sent], appending: &Option<(Vec<Sent>, Appending)>) -> usize {
    ready.len() + appending.as_ref().map_or(0, |(sent, _)| sent.len())
}

/// Takes a finished append in at the end of a run: whether it recorded
/// its attempts.
fn settle(
    outcome: Result<Result<Appended, AppendError>, tokio::task::JoinError>,
    recorded: &mut Checkpoint,
) -> bool {
    match take_record(outcome, recorded) {
        Ok(()) => true,
        Err(err) => {
            tracing::warn!(error = %err, "webhook attempts not recorded; they will be sent again");
            false
        }
    }
}

/// Takes a finished append in: the checkpoint of the last attempt
/// recorded moves on, or, when it failed, the run ends (the deliveries not
/// recorded will be sent again).
fn take_record(
    outcome: Result<Result<Appended, AppendError>, tokio::task::JoinError>,
    recorded: &mut Checkpoint,
) -> anyhow::Result<()> {
    match outcome? {
        Ok(appended) => {
            *recorded = (*recorded).max(appended.last().unwrap_or_default());
            Ok(())
        }
        Err(AppendError::Conflict { stream_id, .. }) => {
            anyhow::bail!("a delivery attempt of {stream_id} was recorded elsewhere")
        }
        Err(AppendError::Store(err)) => Err(err.into()),
    }
}

/// The body of a delivery: the same bytes on every attempt, since every
/// part comes from the log and the delivery row.
pub fn render(delivery: &PendingDelivery, record: &RecordedEvent) -> Result<String, String> {
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
    /// When the session last answered.
    answered: std::sync::Mutex<Option<Instant>>,
}

/// A session that answered this recently is taken to be alive: every
/// worker checks before it sends, and they share the answer.
const ALIVE_FOR: Duration = Duration::from_millis(20);

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
        let recently = |at: &Option<Instant>| at.is_some_and(|at| at.elapsed() < ALIVE_FOR);
        if recently(&pg.answered.lock().unwrap_or_else(|p| p.into_inner())) {
            return true;
        }
        let mut session = pg.session.lock().await;
        if recently(&pg.answered.lock().unwrap_or_else(|p| p.into_inner())) {
            return !lost.is_cancelled();
        }
        match session.as_mut() {
            Some((connection, current)) if !current.is_cancelled() => {
                if sqlx::query("SELECT 1")
                    .execute(&mut *connection)
                    .await
                    .is_ok()
                {
                    *pg.answered.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use domain::tenancy::{Environment, Scope, WorkspaceId};

    fn queued(seq: i64, subject: &str, due: DateTime<Utc>) -> Queued {
        Queued {
            row: Arc::new(PendingDelivery {
                delivery_id: format!("dlv_{seq}"),
                seq,
                scope: Scope::new(
                    WorkspaceId::from_uuid(uuid::Uuid::from_u128(1)),
                    Environment::Live,
                ),
                event_id: format!("evt_{seq}"),
                event_type: "registration.completed".into(),
                source_position: seq,
                subject: subject.into(),
                api_version: "2026-11-01".into(),
                attempts: 0,
                next_attempt_at: None,
                first_attempted_at: None,
            }),
            attempts: 0,
            body: Ok(Bytes::from_static(b"{}")),
            due,
            first_attempted_at: None,
        }
    }

    fn sent(row: &PendingDelivery, outcome: Outcome, next: Option<DateTime<Utc>>) -> Sent {
        Sent {
            subject: row.subject.clone(),
            event: DeliveryEvent::WebhookDeliveryAttempted {
                delivery_id: row.delivery_id.clone(),
                webhook_id: "wh_1".into(),
                attempt: 1,
                request_id: "req_1".into(),
                status: Some(500),
                latency_ms: 1,
                error: None,
                outcome,
                next_attempt_at: next,
                attempted_at: Utc::now(),
            },
            scope: row.scope,
        }
    }

    fn seqs(plan: &Plan<'_>) -> Vec<i64> {
        plan.due.iter().map(|q| q.row.seq).collect()
    }

    #[test]
    fn a_plan_sends_each_idle_subjects_head_oldest_first_within_the_limit() {
        let now = Utc::now();
        let later = now + TimeDelta::seconds(30);
        let mut outbox = Outbox::default();
        for (seq, subject, due) in [
            (1, "a", now),
            (2, "b", now),
            (3, "a", now),
            (4, "c", later),
            (5, "d", now),
            (6, "e", now),
        ] {
            outbox.push(queued(seq, subject, due));
        }
        // One head per subject, never one behind another of its subject;
        // a head not yet due waits and says when.
        let plan = outbox.plan(now, 10);
        assert_eq!(seqs(&plan), [1, 2, 5, 6]);
        assert_eq!(plan.next_due, Some(later));
        // The limit keeps the oldest.
        assert_eq!(seqs(&outbox.plan(now, 2)), [1, 2]);
        assert!(outbox.plan(now, 0).due.is_empty());
        // Busy subjects are left out, and so is their next delivery.
        outbox.start(vec!["a".into(), "b".into()]);
        assert_eq!(seqs(&outbox.plan(now, 10)), [5, 6]);
        // Once due, the waiting head goes.
        assert_eq!(seqs(&outbox.plan(later, 10)), [4, 5, 6]);
    }

    #[test]
    fn a_finished_attempt_moves_its_subject_on_or_makes_it_wait() {
        let now = Utc::now();
        let retry_at = now + TimeDelta::seconds(20);
        let mut outbox = Outbox::default();
        for (seq, subject) in [(1, "a"), (2, "a"), (3, "b")] {
            outbox.push(queued(seq, subject, now));
        }
        let first_a = outbox.plan(now, 10).due[0].row.clone();
        let first_b = outbox.plan(now, 10).due[1].row.clone();
        outbox.start(vec!["a".into(), "b".into()]);
        assert!(outbox.plan(now, 10).due.is_empty());

        // A success: the subject's next delivery is its head now.
        outbox.finished(&sent(&first_a, Outcome::Succeeded, None));
        assert_eq!(seqs(&outbox.plan(now, 10)), [2]);
        assert_eq!(outbox.len, 2);

        // A retry: the delivery stays at its subject's head until due.
        outbox.finished(&sent(&first_b, Outcome::Retrying, Some(retry_at)));
        let plan = outbox.plan(now, 10);
        assert_eq!(seqs(&plan), [2]);
        assert_eq!(plan.next_due, Some(retry_at));
        assert_eq!(seqs(&outbox.plan(retry_at, 10)), [2, 3]);
        let retried = outbox.subjects["b"].queue.front().unwrap();
        assert_eq!(retried.attempts, 1);
        assert_eq!(outbox.len, 2);
    }
}
