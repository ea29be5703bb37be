//! The command side: aggregates run through cqrs-es over the event log.
//!
//! Every command carries [`EventMetadata`] (who, which request) and returns
//! the log checkpoint of its last event, so the caller can wait for the
//! views to show it. A command that loses a race for its stream is decided
//! again on the new state, a few times, before the conflict is reported.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use cqrs_es::persist::{EventStoreAggregateContext, PersistedEventRepository, PersistedEventStore};
use cqrs_es::{Aggregate, AggregateError, CqrsFramework, EventEnvelope, EventStore};
use domain::course::{Course, CourseCommand, CourseError, Import, ImportCommand, ImportError};
use domain::events::EventMetadata;
use domain::lrs::credential::{LrsCredentialCommand, LrsCredentialError, LrsCredentials};
use domain::lrs::forwarding::{Forwarding, ForwardingCommand, ForwardingError};
use domain::lrs::launch::{LaunchToken, LaunchTokenCommand, LaunchTokenError};
use domain::registration::{Registration, RegistrationCommand, RegistrationError};
use domain::webhook::{Webhook, WebhookCommand, WebhookError};
use domain::workspace::{Workspace, WorkspaceCommand, WorkspaceError};

use crate::log::{Checkpoint, EventLog};
use crate::repository::{LogRepository, capture_checkpoint};

type Framework<A> = CqrsFramework<A, PersistedEventStore<LogRepository, A>>;
type CachedFramework<A> = CqrsFramework<A, CachedEventStore<A>>;

/// Aggregates kept in memory by a [`CachedEventStore`] at most.
pub const DEFAULT_CACHE_CAPACITY: usize = 2_000;

/// How often a command is decided again after losing a race.
const CONFLICT_RETRIES: usize = 3;

/// Why a command did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CommandError<E: std::error::Error> {
    /// The aggregate refused it; the message is safe to show.
    #[error(transparent)]
    Rejected(E),
    /// Other writers kept changing the aggregate.
    #[error("the resource changed concurrently; retry the request")]
    Conflict,
    #[error(transparent)]
    Internal(anyhow::Error),
}

fn framework<A: Aggregate<Services = ()>>(log: &EventLog) -> Framework<A> {
    let store = PersistedEventStore::new_event_store(LogRepository::new(log.clone()));
    CqrsFramework::new(store, vec![], ())
}

/// The aggregates of the platform, ready to take commands.
#[derive(Clone)]
pub struct Commands {
    workspaces: Arc<Framework<Workspace>>,
    imports: Arc<Framework<Import>>,
    courses: Arc<Framework<Course>>,
    webhooks: Arc<Framework<Webhook>>,
    registrations: Arc<CachedFramework<Registration>>,
    registration_store: CachedEventStore<Registration>,
    lrs_credentials: Arc<Framework<LrsCredentials>>,
    launch_tokens: Arc<Framework<LaunchToken>>,
    forwarding: Arc<Framework<Forwarding>>,
    log: EventLog,
}

impl Commands {
    pub fn new(log: EventLog) -> Commands {
        let registration_store = CachedEventStore::new(log.clone(), DEFAULT_CACHE_CAPACITY);
        Commands {
            workspaces: Arc::new(framework(&log)),
            imports: Arc::new(framework(&log)),
            courses: Arc::new(framework(&log)),
            webhooks: Arc::new(framework(&log)),
            registrations: Arc::new(CqrsFramework::new(registration_store.clone(), vec![], ())),
            registration_store,
            lrs_credentials: Arc::new(framework(&log)),
            launch_tokens: Arc::new(framework(&log)),
            forwarding: Arc::new(framework(&log)),
            log,
        }
    }

    /// The event log the commands append to.
    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// Runs a command on workspace `id`.
    pub async fn workspace(
        &self,
        id: &str,
        command: WorkspaceCommand,
        metadata: &EventMetadata,
    ) -> Result<Option<Checkpoint>, CommandError<WorkspaceError>> {
        execute(&self.workspaces, id, command, metadata).await
    }

    /// Runs a command on import `id` (`Scope::aggregate_id(import_id)`).
    pub async fn import(
        &self,
        id: &str,
        command: ImportCommand,
        metadata: &EventMetadata,
    ) -> Result<Option<Checkpoint>, CommandError<ImportError>> {
        execute(&self.imports, id, command, metadata).await
    }

    /// Runs a command on registration `id` (`Scope::aggregate_id(registration_id)`).
    pub async fn registration(
        &self,
        id: &str,
        command: RegistrationCommand,
        metadata: &EventMetadata,
    ) -> Result<Option<Checkpoint>, CommandError<RegistrationError>> {
        execute(&self.registrations, id, command, metadata).await
    }

    /// The current state of registration `id`, for reads the write side
    /// must answer (is this batch already stored? which activity is live?).
    pub async fn load_registration(
        &self,
        id: &str,
    ) -> Result<Registration, CommandError<RegistrationError>> {
        self.registration_store
            .read(id)
            .await
            .map_err(|e| CommandError::Internal(anyhow::anyhow!("registration {id}: {e}")))
    }

    /// Reads what `read` takes from registration `id` as this process last
    /// knew it: without a copy and without reading the log when it is
    /// cached (a command decides again on the current state, so this is
    /// for answering early, never for deciding); loaded otherwise.
    pub async fn peek_registration<R>(
        &self,
        id: &str,
        read: impl Fn(&Registration) -> R,
    ) -> Result<R, CommandError<RegistrationError>> {
        if let Some(answer) = self.registration_store.peek(id, &read) {
            return Ok(answer);
        }
        Ok(read(&self.load_registration(id).await?))
    }

    /// Runs a command on webhook `id` (`Scope::aggregate_id(webhook_id)`).
    pub async fn webhook(
        &self,
        id: &str,
        command: WebhookCommand,
        metadata: &EventMetadata,
    ) -> Result<Option<Checkpoint>, CommandError<WebhookError>> {
        execute(&self.webhooks, id, command, metadata).await
    }

    /// Runs a command on course `id` (`Scope::aggregate_id(course_id)`).
    pub async fn course(
        &self,
        id: &str,
        command: CourseCommand,
        metadata: &EventMetadata,
    ) -> Result<Option<Checkpoint>, CommandError<CourseError>> {
        execute(&self.courses, id, command, metadata).await
    }

    /// Runs a command on the LRS credentials of a workspace environment
    /// ([`domain::lrs::credential::aggregate_id`]).
    pub async fn lrs_credentials(
        &self,
        id: &str,
        command: LrsCredentialCommand,
        metadata: &EventMetadata,
    ) -> Result<Option<Checkpoint>, CommandError<LrsCredentialError>> {
        execute(&self.lrs_credentials, id, command, metadata).await
    }

    /// Runs a command on a launch token ([`domain::lrs::launch::aggregate_id`]).
    pub async fn launch_token(
        &self,
        id: &str,
        command: LaunchTokenCommand,
        metadata: &EventMetadata,
    ) -> Result<Option<Checkpoint>, CommandError<LaunchTokenError>> {
        execute(&self.launch_tokens, id, command, metadata).await
    }

    /// Runs a command on the forwarding of a workspace environment
    /// ([`domain::lrs::forwarding::aggregate_id`]).
    pub async fn forwarding(
        &self,
        id: &str,
        command: ForwardingCommand,
        metadata: &EventMetadata,
    ) -> Result<Option<Checkpoint>, CommandError<ForwardingError>> {
        execute(&self.forwarding, id, command, metadata).await
    }
}

async fn execute<A, ES>(
    framework: &CqrsFramework<A, ES>,
    id: &str,
    command: A::Command,
    metadata: &EventMetadata,
) -> Result<Option<Checkpoint>, CommandError<A::Error>>
where
    A: Aggregate,
    ES: EventStore<A>,
    A::Command: Clone,
    A::Error: Send + Sync + 'static,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (result, checkpoint) = capture_checkpoint(framework.execute_with_metadata(
            id,
            command.clone(),
            metadata.to_map(),
        ))
        .await;
        match result {
            Ok(()) => return Ok(checkpoint),
            Err(AggregateError::UserError(err)) => return Err(CommandError::Rejected(err)),
            Err(AggregateError::AggregateConflict) if attempt < CONFLICT_RETRIES => {
                tracing::debug!(
                    aggregate = A::TYPE,
                    id,
                    attempt,
                    "command lost a race, deciding again"
                );
            }
            Err(AggregateError::AggregateConflict) => return Err(CommandError::Conflict),
            Err(other) => {
                return Err(CommandError::Internal(anyhow::anyhow!(
                    "{} {id}: {other}",
                    A::TYPE
                )));
            }
        }
    }
}

/// An aggregate and the stream version it is at.
type Cached<A> = (A, usize);

/// cqrs-es's [`PersistedEventStore`] with the aggregates it loaded or wrote
/// kept in memory: loading one reads only the events appended after the
/// cached version (usually none), so an aggregate with a long stream
/// (a registration with thousands of runtime events) costs no more to load
/// than a short one. Any process may still write the stream: the newer
/// events are read and applied, and a commit that lost a race is refused
/// by the log as usual (and evicts the entry).
///
/// A command takes its aggregate out of the cache and its commit puts the
/// decided state back, so a registration's runtime data is never copied on
/// the way. While a command holds it, another load of the same aggregate
/// reads the stream again (and the later commit of the two loses the race);
/// a command that is refused leaves it out, to be read again when next
/// needed.
#[derive(Clone)]
pub struct CachedEventStore<A: Aggregate + Clone> {
    inner: Arc<PersistedEventStore<LogRepository, A>>,
    repository: LogRepository,
    cache: Arc<Mutex<Lru<A>>>,
}

/// A small least-recently-used map.
struct Lru<A> {
    capacity: usize,
    tick: u64,
    entries: HashMap<String, (u64, Cached<A>)>,
}

impl<A> Lru<A> {
    fn take(&mut self, id: &str) -> Option<Cached<A>> {
        self.entries.remove(id).map(|(_, cached)| cached)
    }

    fn put(&mut self, id: String, cached: Cached<A>) {
        self.tick += 1;
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&id) {
            // Evict the least recently used tenth, in one pass.
            let mut used: Vec<u64> = self.entries.values().map(|(u, _)| *u).collect();
            used.sort_unstable();
            let cut = used[(self.capacity / 10).min(used.len() - 1)];
            self.entries.retain(|_, (u, _)| *u > cut);
        }
        self.entries.insert(id, (self.tick, cached));
    }

    fn remove(&mut self, id: &str) {
        self.entries.remove(id);
    }
}

impl<A: Aggregate + Clone> CachedEventStore<A> {
    pub fn new(log: EventLog, capacity: usize) -> CachedEventStore<A> {
        let repository = LogRepository::new(log);
        CachedEventStore {
            inner: Arc::new(PersistedEventStore::new_event_store(repository.clone())),
            repository,
            cache: Arc::new(Mutex::new(Lru {
                capacity: NonZeroUsize::new(capacity).map_or(1, NonZeroUsize::get),
                tick: 0,
                entries: HashMap::new(),
            })),
        }
    }

    /// Runs `read` on the cached aggregate `id`, if there is one.
    pub fn peek<R>(&self, id: &str, read: impl FnOnce(&A) -> R) -> Option<R> {
        let mut cache = self.cache();
        cache.tick += 1;
        let tick = cache.tick;
        let (used, (aggregate, _)) = cache.entries.get_mut(id)?;
        *used = tick;
        Some(read(aggregate))
    }

    /// A copy of the current state of aggregate `id`, which stays cached.
    pub async fn read(&self, id: &str) -> Result<A, AggregateError<A::Error>> {
        let context = self.load_aggregate(id).await?;
        let kept = context.aggregate.clone();
        self.cache()
            .put(id.to_owned(), (context.aggregate, context.current_sequence));
        Ok(kept)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Lru<A>> {
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<A: Aggregate + Clone> EventStore<A> for CachedEventStore<A> {
    type AC = EventStoreAggregateContext<A>;

    async fn load_events(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        self.inner.load_events(aggregate_id).await
    }

    async fn load_aggregate(
        &self,
        aggregate_id: &str,
    ) -> Result<Self::AC, AggregateError<A::Error>> {
        let cached = self.cache().take(aggregate_id);
        let Some((mut aggregate, mut sequence)) = cached else {
            return self.inner.load_aggregate(aggregate_id).await;
        };
        let newer = self
            .repository
            .get_last_events::<A>(aggregate_id, sequence)
            .await?;
        for serialized in newer {
            let event: A::Event = serde_json::from_value(serialized.payload)?;
            aggregate.apply(event);
            sequence = serialized.sequence;
        }
        Ok(EventStoreAggregateContext {
            aggregate_id: aggregate_id.to_owned(),
            aggregate,
            current_sequence: sequence,
            current_snapshot: None,
        })
    }

    async fn commit(
        &self,
        events: Vec<A::Event>,
        context: Self::AC,
        metadata: HashMap<String, String>,
    ) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        let EventStoreAggregateContext {
            aggregate_id: id,
            aggregate,
            current_sequence,
            current_snapshot: _,
        } = context;
        // The framework applied the events to the aggregate as it decided.
        let after = (aggregate, current_sequence + events.len());
        // The log is the source of truth: committing needs the stream
        // version, not the aggregate.
        match self
            .repository
            .append_events::<A>(&id, current_sequence, &events, &metadata)
            .await
        {
            Ok(()) => {
                self.cache().put(id.clone(), after);
                Ok(events
                    .into_iter()
                    .zip(current_sequence + 1..)
                    .map(|(payload, sequence)| EventEnvelope {
                        aggregate_id: id.clone(),
                        sequence,
                        payload,
                        metadata: metadata.clone(),
                    })
                    .collect())
            }
            Err(err) => {
                self.cache().remove(&id);
                Err(err.into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::DomainEvent;
    use cqrs_es::event_sink::EventSink;
    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::testing::TestDb;

    /// Adds numbers, refusing a command that would pass 100 after writing
    /// the additions before it (so a refused command leaves a changed
    /// aggregate behind in the framework's hands).
    #[derive(Debug, Default, Clone, Serialize, Deserialize)]
    struct Counter {
        total: u64,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    enum Counted {
        Added(u64),
    }

    impl DomainEvent for Counted {
        fn event_type(&self) -> String {
            "Added".into()
        }
        fn event_version(&self) -> String {
            "1".into()
        }
    }

    #[derive(Debug, thiserror::Error)]
    #[error("over the limit")]
    struct OverLimit;

    impl Aggregate for Counter {
        const TYPE: &'static str = "counter";
        type Command = Vec<u64>;
        type Event = Counted;
        type Error = OverLimit;
        type Services = ();

        async fn handle(
            &mut self,
            adds: Vec<u64>,
            _: &(),
            sink: &EventSink<Self>,
        ) -> Result<(), OverLimit> {
            for add in adds {
                if self.total + add > 100 {
                    return Err(OverLimit);
                }
                sink.write(Counted::Added(add), self).await;
            }
            Ok(())
        }

        fn apply(&mut self, event: Counted) {
            let Counted::Added(n) = event;
            self.total += n;
        }
    }

    async fn run(
        store: &CachedEventStore<Counter>,
        adds: Vec<u64>,
    ) -> Result<(), AggregateError<OverLimit>> {
        CqrsFramework::new(store.clone(), vec![], ())
            .execute_with_metadata("c", adds, HashMap::new())
            .await
    }

    async fn total(store: &CachedEventStore<Counter>) -> u64 {
        store.read("c").await.unwrap().total
    }

    /// Commands take the cached aggregate and put the decided state back:
    /// the cache follows another writer's events, and a refused command's
    /// half-changed aggregate is never kept.
    #[tokio::test]
    async fn a_cached_aggregate_follows_the_log_through_refusals_and_other_writers() {
        let test_db = TestDb::sqlite();
        let db = test_db.connect().await;
        let log = EventLog::open(&db).await.unwrap();
        let one = CachedEventStore::<Counter>::new(log.clone(), 10);
        // Another process's cache over the same log.
        let other = CachedEventStore::<Counter>::new(log.clone(), 10);

        run(&one, vec![1, 2]).await.unwrap();
        assert_eq!(one.peek("c", |c| c.total), Some(3));
        run(&other, vec![10]).await.unwrap();
        assert_eq!(total(&other).await, 13);

        // `one` still holds 3; its next command reads the newer event first.
        assert_eq!(one.peek("c", |c| c.total), Some(3));
        run(&one, vec![5]).await.unwrap();
        assert_eq!(one.peek("c", |c| c.total), Some(18));

        // Refused after adding 50 to the aggregate in hand: nothing is
        // appended and nothing of it stays cached.
        let refused = run(&one, vec![50, 40]).await;
        assert!(matches!(refused, Err(AggregateError::UserError(OverLimit))));
        assert_eq!(one.peek("c", |c| c.total), None, "read again when needed");
        assert_eq!(total(&one).await, 18);
        assert_eq!(
            one.peek("c", |c| c.total),
            Some(18),
            "a read keeps it cached"
        );

        run(&other, vec![1]).await.unwrap();
        assert_eq!(total(&other).await, 19);
        run(&one, vec![1]).await.unwrap();
        assert_eq!(total(&one).await, 20);
        assert_eq!(total(&other).await, 20);
    }
}
