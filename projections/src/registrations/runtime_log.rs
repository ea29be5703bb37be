//! The runtime log of a registration: every call of every session, read
//! straight from the registration's stream in the log. The log holds each
//! call already (a `RuntimeValueSet` per accepted `SetValue`, every other
//! call in its batch's `RuntimeBatchCommitted`), so no view copies them.
//!
//! Calls come in the order the server received their batches; within a
//! batch, in the order the browser made them (`seq`). A batch's
//! `SetValue` events are appended right before its batch event, in the
//! same transaction, so a batch is a run of the stream: its **group**,
//! named by the version of its first event. A page's cursor is the last
//! call's (group, seq), and the next page starts reading at that group.

use domain::cmi::ApiCall;
use domain::events::Event;
use domain::registration::{LoggedCall, RegistrationEvent};
use domain::tenancy::Scope;
use store::StoreError;
use store::log::EventLog;

use crate::workspaces::timestamp;

/// One runtime call in the audit trail.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    pub session_id: String,
    pub activity_id: String,
    pub batch: Option<i64>,
    pub seq: i64,
    pub call_fn: String,
    pub element: Option<String>,
    pub value: Option<String>,
    pub result: String,
    pub error: i64,
    pub server_result: Option<String>,
    pub server_error: Option<i64>,
    pub client_at: Option<String>,
    pub server_at: String,
}

/// Events read from the stream per round trip.
const PAGE: u32 = 1000;

/// Every runtime call of registration `id`, in order, at most `limit`
/// after the `(group, seq)` cursor (`(-1, -1)`: from the start). Each call
/// comes with its own cursor.
pub async fn runtime_log(
    log: &EventLog,
    scope: &Scope,
    id: &str,
    after: (i64, i64),
    limit: u32,
) -> Result<Vec<((i64, i64), LogEntry)>, StoreError> {
    let stream = scope.stream_id("registration", id);
    let mut read_after = u64::try_from(after.0 - 1).unwrap_or(0);
    let mut groups = Groups::default();
    let mut out = Vec::new();
    loop {
        let events = log.read_stream_page(&stream, read_after, PAGE).await?;
        let done = events.len() < PAGE as usize;
        for record in &events {
            read_after = record.stream_version as u64;
            let event = Event::decode(&record.event_type, record.schema_version, &record.payload)
                .map_err(|e| StoreError::Corrupt(format!("{stream}: {e}")))?;
            let Event::Registration(event) = event else {
                continue;
            };
            groups.push(record.stream_version, *event, &mut out, after);
            if out.len() >= limit as usize {
                out.truncate(limit as usize);
                return Ok(out);
            }
        }
        if done {
            // Values with no batch after them (never appended so): shown
            // as they are rather than dropped.
            groups.flush(&mut out, after);
            out.truncate(limit as usize);
            return Ok(out);
        }
    }
}

/// The `SetValue`s read since the last batch event, waiting for it.
#[derive(Default)]
struct Groups {
    /// The version of the first of them.
    start: Option<i64>,
    values: Vec<LogEntry>,
}

impl Groups {
    fn push(
        &mut self,
        version: i64,
        event: RegistrationEvent,
        out: &mut Vec<((i64, i64), LogEntry)>,
        after: (i64, i64),
    ) {
        match event {
            RegistrationEvent::RuntimeValueSet {
                session_id,
                activity_id,
                seq,
                element,
                value,
                client_at,
                at,
            } => {
                self.start.get_or_insert(version);
                self.values.push(LogEntry {
                    session_id,
                    activity_id,
                    batch: None,
                    seq: seq as i64,
                    call_fn: "SetValue".into(),
                    element: Some(element),
                    value: Some(value),
                    result: "true".into(),
                    error: 0,
                    server_result: None,
                    server_error: None,
                    client_at: client_at.as_ref().map(timestamp),
                    server_at: timestamp(&at),
                });
            }
            RegistrationEvent::RuntimeBatchCommitted {
                session_id,
                activity_id,
                batch,
                calls,
                at,
                ..
            } => {
                let group = self.start.take().unwrap_or(version);
                let server_at = timestamp(&at);
                let mut entries: Vec<LogEntry> = std::mem::take(&mut self.values)
                    .into_iter()
                    .map(|value| LogEntry {
                        batch: Some(batch as i64),
                        ..value
                    })
                    .collect();
                entries.extend(calls.into_iter().map(|logged| {
                    logged_entry(&session_id, &activity_id, batch, logged, &server_at)
                }));
                emit(group, entries, out, after);
            }
            _ => self.flush(out, after),
        }
    }

    fn flush(&mut self, out: &mut Vec<((i64, i64), LogEntry)>, after: (i64, i64)) {
        if let Some(group) = self.start.take() {
            emit(group, std::mem::take(&mut self.values), out, after);
        }
    }
}

/// A group's calls in `seq` order, those after the cursor.
fn emit(
    group: i64,
    mut entries: Vec<LogEntry>,
    out: &mut Vec<((i64, i64), LogEntry)>,
    after: (i64, i64),
) {
    entries.sort_by_key(|e| e.seq);
    out.extend(
        entries
            .into_iter()
            .map(|e| ((group, e.seq), e))
            .filter(|(cursor, _)| *cursor > after),
    );
}

/// A call its batch event keeps (every call but an accepted `SetValue`).
fn logged_entry(
    session_id: &str,
    activity_id: &str,
    batch: u64,
    logged: LoggedCall,
    server_at: &str,
) -> LogEntry {
    let recorded = logged.call.recorded;
    let (call_fn, element, value) = match recorded.call {
        ApiCall::Initialize { arg } => ("Initialize", None, Some(arg)),
        ApiCall::Terminate { arg } => ("Terminate", None, Some(arg)),
        ApiCall::Commit { arg } => ("Commit", None, Some(arg)),
        ApiCall::GetValue { element } => ("GetValue", Some(element), None),
        ApiCall::SetValue { element, value } => ("SetValue", Some(element), Some(value)),
        ApiCall::GetLastError => ("GetLastError", None, None),
        ApiCall::GetErrorString { arg } => ("GetErrorString", None, Some(arg)),
        ApiCall::GetDiagnostic { arg } => ("GetDiagnostic", None, Some(arg)),
    };
    LogEntry {
        session_id: session_id.to_owned(),
        activity_id: activity_id.to_owned(),
        batch: Some(batch as i64),
        seq: recorded.seq as i64,
        call_fn: call_fn.into(),
        element,
        value,
        result: recorded.result,
        error: i64::from(recorded.error),
        server_result: logged.server.as_ref().map(|s| s.result.clone()),
        server_error: logged.server.as_ref().map(|s| i64::from(s.error)),
        client_at: logged.call.at.as_ref().map(timestamp),
        server_at: server_at.to_owned(),
    }
}
