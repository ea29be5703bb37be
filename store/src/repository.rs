//! The event log seen through cqrs-es: aggregates run through
//! `PersistedEventStore`/`CqrsFramework` over this repository.
//!
//! No snapshots and no inline queries: views are projections that follow the
//! log by checkpoint. An aggregate's stream id is `{Aggregate::TYPE}:{id}`.

use std::cell::Cell;
use std::collections::HashMap;
use std::future::Future;

use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use cqrs_es::{Aggregate, DomainEvent};
use domain::events::{EventMetadata, environment_in_payload};
use serde_json::Value;

use crate::log::{
    AppendError, Checkpoint, EventLog, ExpectedVersion, NewEvent, RecordedEvent, StreamAppend,
};

tokio::task_local! {
    static LAST_APPEND: Cell<Option<Checkpoint>>;
}

/// Runs `work` and returns, with its output, the checkpoint of the last
/// event it appended through a [`LogRepository`] (cqrs-es does not pass it
/// back), so the caller can wait for views to catch up with its write.
pub async fn capture_checkpoint<F: Future>(work: F) -> (F::Output, Option<Checkpoint>) {
    LAST_APPEND
        .scope(Cell::new(None), async move {
            let output = work.await;
            (output, LAST_APPEND.with(Cell::get))
        })
        .await
}

/// The stream that holds the events of aggregate `id` of type `A`.
pub fn stream_id<A: Aggregate>(id: &str) -> String {
    format!("{}:{id}", A::TYPE)
}

/// cqrs-es's persistence trait over the [`EventLog`].
#[derive(Clone)]
pub struct LogRepository {
    log: EventLog,
}

impl LogRepository {
    pub fn new(log: EventLog) -> LogRepository {
        LogRepository { log }
    }

    async fn stream<A: Aggregate>(
        &self,
        aggregate_id: &str,
        after: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let events = self
            .log
            .read_stream(&stream_id::<A>(aggregate_id), after as u64)
            .await
            .map_err(|e| PersistenceError::ConnectionError(Box::new(e)))?;
        events
            .into_iter()
            .map(|event| serialized::<A>(aggregate_id, event))
            .collect()
    }
}

fn serialized<A: Aggregate>(
    aggregate_id: &str,
    event: RecordedEvent,
) -> Result<SerializedEvent, PersistenceError> {
    let payload: Value = serde_json::from_str(&event.payload)?;
    let metadata = serde_json::to_value(event.metadata.to_map())?;
    Ok(SerializedEvent {
        aggregate_id: aggregate_id.to_owned(),
        sequence: event.stream_version as usize,
        aggregate_type: A::TYPE.to_owned(),
        event_type: event.event_type,
        event_version: event.schema_version.to_string(),
        payload,
        metadata,
    })
}

/// An event as the log stores it, from its serialized payload and the
/// command's metadata. An event that names its environment is filed under
/// it, whatever the metadata says (its payload is parsed only for the
/// event types that can).
fn new_event(
    event_type: String,
    version: &str,
    payload: String,
    metadata: &EventMetadata,
) -> Result<NewEvent, PersistenceError> {
    let schema_version = version.parse::<i32>().map_err(|_| {
        PersistenceError::UnknownError(
            format!("event version {version:?} is not an integer").into(),
        )
    })?;
    let mut metadata = metadata.clone();
    if domain::events::kind_of(&event_type).is_some_and(|k| k.environment_in_payload) {
        let parsed: Value = serde_json::from_str(&payload)?;
        if let Some(environment) = environment_in_payload(&event_type, &parsed)
            .map_err(|e| PersistenceError::UnknownError(Box::new(e)))?
        {
            metadata.environment = Some(environment);
        }
    }
    Ok(NewEvent {
        event_type,
        schema_version,
        payload,
        metadata,
    })
}

fn metadata_of(map: &HashMap<String, String>) -> Result<EventMetadata, PersistenceError> {
    EventMetadata::from_map(map).map_err(|e| PersistenceError::UnknownError(Box::new(e)))
}

impl LogRepository {
    /// Appends `events` to aggregate `aggregate_id` of type `A`, after
    /// version `after`, in one transaction: what cqrs-es's
    /// `PersistedEventStore` does through [`PersistedEventRepository::persist`],
    /// without its intermediate forms (a `serde_json::Value` of every
    /// payload and of the metadata, per event). Each event is serialized
    /// once, to the JSON the log stores, and the metadata read once.
    pub async fn append_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        after: usize,
        events: &[A::Event],
        metadata: &HashMap<String, String>,
    ) -> Result<(), PersistenceError> {
        let metadata = metadata_of(metadata)?;
        let new = events
            .iter()
            .map(|event| {
                let payload = serde_json::to_string(event)?;
                new_event(
                    event.event_type(),
                    &event.event_version(),
                    payload,
                    &metadata,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.append(vec![StreamAppend {
            stream_id: stream_id::<A>(aggregate_id),
            expected: ExpectedVersion::Exact(after as u64),
            events: new,
        }])
        .await
    }

    async fn append(&self, appends: Vec<StreamAppend>) -> Result<(), PersistenceError> {
        match self.log.append(appends).await {
            Ok(appended) => {
                let _ = LAST_APPEND.try_with(|cell| cell.set(appended.last()));
                Ok(())
            }
            Err(AppendError::Conflict { .. }) => Err(PersistenceError::OptimisticLockError),
            Err(AppendError::Store(err)) => Err(PersistenceError::ConnectionError(Box::new(err))),
        }
    }
}

/// [`new_event`] for an event cqrs-es serialized.
fn from_serialized(event: &SerializedEvent) -> Result<NewEvent, PersistenceError> {
    let map: HashMap<String, String> = serde_json::from_value(event.metadata.clone())?;
    new_event(
        event.event_type.clone(),
        &event.event_version,
        serde_json::to_string(&event.payload)?,
        &metadata_of(&map)?,
    )
}

impl PersistedEventRepository for LogRepository {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.stream::<A>(aggregate_id, 0).await
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.stream::<A>(aggregate_id, last_sequence).await
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        _aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        Ok(None)
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        if snapshot_update.is_some() {
            return Err(PersistenceError::UnknownError(
                "snapshots are not stored: use PersistedEventStore::new_event_store".into(),
            ));
        }
        let mut appends: Vec<StreamAppend> = Vec::new();
        for event in events {
            let stream = stream_id::<A>(&event.aggregate_id);
            match appends.last_mut() {
                Some(append) if append.stream_id == stream => {
                    append.events.push(from_serialized(event)?)
                }
                _ => appends.push(StreamAppend {
                    stream_id: stream,
                    expected: ExpectedVersion::Exact(event.sequence.saturating_sub(1) as u64),
                    events: vec![from_serialized(event)?],
                }),
            }
        }
        self.append(appends).await
    }

    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        let events = self.stream::<A>(aggregate_id, 0).await?;
        let (mut feed, stream) = ReplayStream::new(events.len().max(1));
        for event in events {
            feed.push(Ok(event)).await?;
        }
        Ok(stream)
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        // Projections follow the log by checkpoint instead; replaying every
        // stream of a type through an in-memory channel would not scale.
        Err(PersistenceError::UnknownError(
            "replay runs through projections (allureconnect replay), not cqrs-es queries".into(),
        ))
    }
}
