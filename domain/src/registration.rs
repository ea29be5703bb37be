//! The `Registration` aggregate: one learner on one pinned course version,
//! with its attempts, launch sessions, activity deliveries and every runtime
//! call the content made.
//!
//! A runtime commit arrives as a numbered batch of the calls the player
//! answered. `decide` replays each call on the delivery's
//! [`RuntimeSession`] (the server validates everything again with the same
//! data model), and emits one `RuntimeValueSet` per accepted `SetValue`
//! plus one `RuntimeBatchCommitted` holding the other calls, the refusals
//! and the summary after the batch. `apply` replays the same calls, in `seq`
//! order, so the state a later launch sees is a function of the log.

mod progress;
mod sequencing;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::cmi::{
    ApiCall, LaunchContext, RecordedCall, RuntimeData, RuntimeSession, RuntimeSummary,
};
use crate::course::CourseId;
use crate::package::Course;
use crate::sequencing::engine::{
    ActivityStatus, Decision, Engine, EngineError, EngineOptions, Entry, NavigationRequest,
    Outcome, SequencingInput, TrackingState,
};
pub use progress::{ActivityResult, Progress, completion_of, roll_up, success_of};
use sequencing::SeqState;
pub use sequencing::{LearnerGlobals, Sequencing, runtime_report};

/// Most characters in a learner id, a registration id or a tag.
pub const MAX_ID_CHARS: usize = 255;

/// The learner of a registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Learner {
    pub id: String,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

impl Learner {
    /// `Last, First` as SCORM 1.2 writes `cmi.core.student_name`.
    pub fn scorm_name(&self) -> String {
        match (&self.last_name, &self.first_name) {
            (Some(last), Some(first)) => format!("{last}, {first}"),
            (Some(last), None) => last.clone(),
            (None, Some(first)) => first.clone(),
            (None, None) => self.id.clone(),
        }
    }
}

/// A runtime call as the player sent it: the call, its outcome in the
/// browser, and the client's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientCall {
    #[serde(flatten)]
    pub recorded: RecordedCall,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
}

/// The server's outcome of a call, when it differs from the browser's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerVerdict {
    pub result: String,
    pub error: u16,
}

/// A call kept in `RuntimeBatchCommitted`: every call but the accepted
/// `SetValue`s, which have events of their own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedCall {
    #[serde(flatten)]
    pub call: ClientCall,
    /// Present when the server's replay disagreed with the browser.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerVerdict>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RegistrationCommand {
    Create {
        registration_id: String,
        course_id: CourseId,
        course_version: u32,
        /// The launchable activities of the pinned version, in tree order:
        /// what progress rolls up over.
        activities: Vec<String>,
        learner: Learner,
        tags: Vec<String>,
        at: DateTime<Utc>,
    },
    Delete {
        at: DateTime<Utc>,
    },
    /// Starts a new attempt; the history stays.
    Reset {
        at: DateTime<Utc>,
    },
    /// Starts a launch session. For a SCORM 2004 course `sequencing` is
    /// set: the session then also starts (or resumes) sequencing and
    /// decides what is delivered first.
    StartSession {
        session_id: String,
        user_agent: Option<String>,
        ip: Option<String>,
        sequencing: Option<Sequencing>,
        at: DateTime<Utc>,
    },
    /// Delivers an activity. `context.prior` must be what
    /// [`Registration::prior_for`] gives: the player answers with this very
    /// context, so the browser and the log start from the same data.
    Deliver {
        session_id: String,
        activity_id: String,
        context: Box<LaunchContext>,
        at: DateTime<Utc>,
    },
    Commit {
        session_id: String,
        batch: u64,
        activity_id: String,
        calls: Vec<ClientCall>,
        final_batch: bool,
        page_hide: bool,
        /// The pinned course, for a sequenced registration: the batch's
        /// data goes to the sequencer as it is committed.
        course: Option<Arc<Course>>,
        at: DateTime<Utc>,
    },
    /// Records a batch that was refused (a superseded session's, say).
    RecordRefusal {
        session_id: String,
        batch: u64,
        code: String,
        at: DateTime<Utc>,
    },
    Heartbeat {
        session_id: String,
        activity_id: Option<String>,
        /// Gaps longer than this are not time on task (the tab slept).
        max_gap_seconds: i64,
        at: DateTime<Utc>,
    },
    /// Records a navigation decided without a sequencer (SCORM 1.2).
    Navigate {
        session_id: String,
        request: String,
        target: Option<String>,
        delivered: Option<String>,
        exception: Option<String>,
        ended: bool,
        at: DateTime<Utc>,
    },
    /// A navigation request to the sequencer of a SCORM 2004 registration.
    /// `None` (the player's "auto") hands the terminated SCO's data over and
    /// applies its `adl.nav.request`, if any.
    Sequence {
        session_id: String,
        request: Option<NavigationRequest>,
        course: Arc<Course>,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RegistrationEvent {
    RegistrationCreated {
        registration_id: String,
        course_id: CourseId,
        course_version: u32,
        activities: Vec<String>,
        learner: Learner,
        tags: Vec<String>,
        at: DateTime<Utc>,
    },
    RegistrationDeleted {
        registration_id: String,
        at: DateTime<Utc>,
    },
    RegistrationReset {
        registration_id: String,
        attempt: u32,
        at: DateTime<Utc>,
    },
    SessionStarted {
        session_id: String,
        attempt: u32,
        resumed: bool,
        supersedes: Option<String>,
        user_agent: Option<String>,
        ip: Option<String>,
        at: DateTime<Utc>,
    },
    ActivityDelivered {
        session_id: String,
        activity_id: String,
        context: Box<LaunchContext>,
        at: DateTime<Utc>,
    },
    RuntimeValueSet {
        session_id: String,
        activity_id: String,
        seq: u64,
        element: String,
        value: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_at: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    },
    RuntimeBatchCommitted {
        session_id: String,
        activity_id: String,
        batch: u64,
        calls: Vec<LoggedCall>,
        summary: RuntimeSummary,
        final_batch: bool,
        page_hide: bool,
        at: DateTime<Utc>,
    },
    RuntimeBatchRefused {
        session_id: String,
        batch: u64,
        code: String,
        at: DateTime<Utc>,
    },
    TimeOnTaskMeasured {
        session_id: String,
        activity_id: Option<String>,
        seconds: i64,
        at: DateTime<Utc>,
    },
    NavigationRequested {
        session_id: String,
        request: String,
        target: Option<String>,
        delivered: Option<String>,
        exception: Option<String>,
        ended: bool,
        at: DateTime<Utc>,
    },
    /// A new attempt's sequencing begins: the engine options and the
    /// initial tracking state (children already selected and randomized).
    SequencingStarted {
        session_id: String,
        attempt: u32,
        options: EngineOptions,
        tracking: Box<TrackingState>,
        at: DateTime<Utc>,
    },
    /// One input to the sequencer and what it decided: a navigation
    /// request, a SCO's data at commit or termination, shared objectives
    /// loaded. `statuses` are the effective statuses after it of the
    /// activities it changed, and of the course (the root) always.
    SequencingDecided {
        session_id: String,
        input: Box<SequencingInput>,
        decision: Box<Decision>,
        statuses: Vec<ActivityStatus>,
        at: DateTime<Utc>,
    },
    /// Values this registration wrote that the learner shares across
    /// registrations: global objectives of a course with
    /// `objectivesGlobalToSystem`, shared data of one with
    /// `sharedDataGlobalToSystem`.
    LearnerGlobalsWritten {
        learner_id: String,
        globals: LearnerGlobals,
        at: DateTime<Utc>,
    },
    /// The course's rolled-up status for the learner changed (after a
    /// commit or a sequencing decision): completion, success, score.
    RegistrationProgressChanged {
        attempt: u32,
        progress: Progress,
        previous: Progress,
        at: DateTime<Utc>,
    },
    /// The course became completed in this attempt.
    RegistrationCompleted {
        attempt: u32,
        progress: Progress,
        at: DateTime<Utc>,
    },
    /// The course became passed in this attempt.
    RegistrationPassed {
        attempt: u32,
        progress: Progress,
        at: DateTime<Utc>,
    },
    /// The course became failed in this attempt.
    RegistrationFailed {
        attempt: u32,
        progress: Progress,
        at: DateTime<Utc>,
    },
}

impl RegistrationEvent {
    /// When it happened (server time).
    pub fn at(&self) -> DateTime<Utc> {
        use RegistrationEvent as E;
        match self {
            E::RegistrationCreated { at, .. }
            | E::RegistrationDeleted { at, .. }
            | E::RegistrationReset { at, .. }
            | E::SessionStarted { at, .. }
            | E::ActivityDelivered { at, .. }
            | E::RuntimeValueSet { at, .. }
            | E::RuntimeBatchCommitted { at, .. }
            | E::RuntimeBatchRefused { at, .. }
            | E::TimeOnTaskMeasured { at, .. }
            | E::NavigationRequested { at, .. }
            | E::SequencingStarted { at, .. }
            | E::SequencingDecided { at, .. }
            | E::LearnerGlobalsWritten { at, .. }
            | E::RegistrationProgressChanged { at, .. }
            | E::RegistrationCompleted { at, .. }
            | E::RegistrationPassed { at, .. }
            | E::RegistrationFailed { at, .. } => *at,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            RegistrationEvent::RegistrationCreated { .. } => "RegistrationCreated",
            RegistrationEvent::RegistrationDeleted { .. } => "RegistrationDeleted",
            RegistrationEvent::RegistrationReset { .. } => "RegistrationReset",
            RegistrationEvent::SessionStarted { .. } => "SessionStarted",
            RegistrationEvent::ActivityDelivered { .. } => "ActivityDelivered",
            RegistrationEvent::RuntimeValueSet { .. } => "RuntimeValueSet",
            RegistrationEvent::RuntimeBatchCommitted { .. } => "RuntimeBatchCommitted",
            RegistrationEvent::RuntimeBatchRefused { .. } => "RuntimeBatchRefused",
            RegistrationEvent::TimeOnTaskMeasured { .. } => "TimeOnTaskMeasured",
            RegistrationEvent::NavigationRequested { .. } => "NavigationRequested",
            RegistrationEvent::SequencingStarted { .. } => "SequencingStarted",
            RegistrationEvent::SequencingDecided { .. } => "SequencingDecided",
            RegistrationEvent::LearnerGlobalsWritten { .. } => "LearnerGlobalsWritten",
            RegistrationEvent::RegistrationProgressChanged { .. } => "RegistrationProgressChanged",
            RegistrationEvent::RegistrationCompleted { .. } => "RegistrationCompleted",
            RegistrationEvent::RegistrationPassed { .. } => "RegistrationPassed",
            RegistrationEvent::RegistrationFailed { .. } => "RegistrationFailed",
        }
    }
}

impl DomainEvent for RegistrationEvent {
    fn event_type(&self) -> String {
        self.kind().to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Why a registration command is refused. The `code` of each is stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationError {
    #[error("no such registration")]
    NotFound,
    #[error("registration {0} exists for another course or learner")]
    Conflicting(String),
    #[error("registration ids must be 1 to {MAX_ID_CHARS} characters of A-Z a-z 0-9 . _ - : @")]
    InvalidId,
    #[error("the learner id must be 1 to {MAX_ID_CHARS} characters")]
    InvalidLearner,
    #[error("no session {0} in this registration")]
    UnknownSession(String),
    #[error("session {0} was superseded by a newer launch of this registration")]
    SessionSuperseded(String),
    #[error("session {0} belongs to an attempt that was reset")]
    SessionEnded(String),
    #[error("batch {got} came before batch {expected}")]
    BatchOutOfOrder { expected: u64, got: u64 },
    #[error("activity {0} is not delivered in this session")]
    NotDelivered(String),
    #[error("the launch context of {activity} is not valid: {reason}")]
    InvalidContext { activity: String, reason: String },
    #[error("the data of {0} changed while it was being delivered; deliver it again")]
    StaleDelivery(String),
    #[error("the sequencer did not deliver {0}; navigate to it first")]
    NotCurrentActivity(String),
    #[error("this registration has no sequencing session; start a session first")]
    NotSequenced,
    #[error("the sequencer refused: {0}")]
    Sequencing(String),
}

impl RegistrationError {
    /// A stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            RegistrationError::NotFound => "registration_not_found",
            RegistrationError::Conflicting(_) => "registration_exists",
            RegistrationError::InvalidId => "invalid_registration_id",
            RegistrationError::InvalidLearner => "invalid_learner",
            RegistrationError::UnknownSession(_) => "unknown_session",
            RegistrationError::SessionSuperseded(_) => "session_superseded",
            RegistrationError::SessionEnded(_) => "session_ended",
            RegistrationError::BatchOutOfOrder { .. } => "batch_out_of_order",
            RegistrationError::NotDelivered(_) => "activity_not_delivered",
            RegistrationError::InvalidContext { .. } => "invalid_launch_context",
            RegistrationError::StaleDelivery(_) => "stale_delivery",
            RegistrationError::NotCurrentActivity(_) => "activity_not_current",
            RegistrationError::NotSequenced => "not_sequenced",
            RegistrationError::Sequencing(_) => "sequencing_refused",
        }
    }

    /// Whether a commit refused with this error is recorded as refused.
    pub fn is_recorded_refusal(&self) -> bool {
        matches!(
            self,
            RegistrationError::SessionSuperseded(_)
                | RegistrationError::SessionEnded(_)
                | RegistrationError::BatchOutOfOrder { .. }
        )
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct SessionState {
    attempt: u32,
    last_batch: u64,
    superseded: bool,
    last_beat: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct ActivityState {
    data: Option<RuntimeData>,
    summary: Option<RuntimeSummary>,
}

/// A delivery in progress: the runtime session the server replays calls on.
#[derive(Debug, Clone)]
struct Live {
    activity_id: String,
    runtime: RuntimeSession,
    /// `SetValue`s of the batch being applied, until its commit event.
    pending: Vec<(u64, String, String)>,
}

/// The write model of a registration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Registration {
    id: Option<String>,
    course_id: Option<CourseId>,
    course_version: u32,
    learner_id: String,
    deleted: bool,
    attempt: u32,
    current_session: Option<String>,
    sessions: BTreeMap<String, SessionState>,
    activities: BTreeMap<String, ActivityState>,
    /// SCORM 2004: the sequencing state of the current attempt.
    seq: Option<SeqState>,
    /// Shared data (`adl.data`) written in this registration, by target ID.
    shared_data: BTreeMap<String, String>,
    /// The launchable activities, whose results make the course's.
    launchable: Vec<String>,
    /// SCORM 2004 sequenced: the root activity's status in this attempt.
    root_status: Option<ActivityStatus>,
    /// The course's status as last recorded in this attempt.
    progress: Progress,
    /// Rebuilt by `apply` from the deliveries and batches; never stored.
    #[serde(skip)]
    live: BTreeMap<String, Live>,
}

fn refused(err: EngineError) -> RegistrationError {
    RegistrationError::Sequencing(err.to_string())
}

fn valid_id(id: &str) -> bool {
    (1..=MAX_ID_CHARS).contains(&id.chars().count())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':' | b'@'))
}

impl Registration {
    /// The course version this registration is pinned to.
    pub fn course(&self) -> Option<(&CourseId, u32)> {
        self.course_id.as_ref().map(|c| (c, self.course_version))
    }

    pub fn exists(&self) -> bool {
        self.id.is_some() && !self.deleted
    }

    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    pub fn current_session(&self) -> Option<&str> {
        self.current_session.as_deref()
    }

    /// The last batch number stored for a session.
    pub fn last_batch(&self, session_id: &str) -> Option<u64> {
        self.sessions.get(session_id).map(|s| s.last_batch)
    }

    /// The summary of an activity's data in the current attempt.
    pub fn activity_summary(&self, activity_id: &str) -> Option<&RuntimeSummary> {
        self.activities
            .get(activity_id)
            .and_then(|a| a.summary.as_ref())
    }

    /// The data a new delivery of `activity_id` starts from: what the
    /// previous sessions of this attempt left. With sequencing, the
    /// sequencer's entry decides: a new attempt on the activity starts
    /// empty, and a resumed one resumes even if the SCO did not set
    /// `cmi.exit` to `suspend` (the learner suspended from the player).
    pub fn prior_for(&self, activity_id: &str) -> Option<RuntimeData> {
        let data = self
            .activities
            .get(activity_id)
            .and_then(|a| a.data.clone());
        match self.seq.as_ref().and_then(|s| s.delivering.as_ref()) {
            Some((activity, Entry::AbInitio)) if activity == activity_id => None,
            Some((activity, Entry::Resume)) if activity == activity_id => data.map(|mut data| {
                data.values
                    .insert("cmi.exit".to_owned(), "suspend".to_owned());
                data
            }),
            _ => data,
        }
    }

    /// Whether this registration is sequenced (SCORM 2004) in its current
    /// attempt.
    pub fn is_sequenced(&self) -> bool {
        self.seq.is_some()
    }

    /// The sequencing engine of the current attempt, restored for `course`.
    pub fn engine(&self, course: &Course) -> Option<Result<Engine, EngineError>> {
        self.seq.as_ref().map(|s| s.engine(course))
    }

    /// The tracking state of the current attempt's sequencing.
    pub fn tracking(&self) -> Option<&TrackingState> {
        self.seq.as_ref().map(|s| &s.tracking)
    }

    /// The outcome of the last navigation request to the sequencer.
    pub fn last_outcome(&self) -> Option<&Outcome> {
        self.seq.as_ref().and_then(|s| s.last_outcome.as_ref())
    }

    /// The activity the sequencer last chose to deliver, and its entry.
    pub fn delivering(&self) -> Option<(&str, Entry)> {
        self.seq
            .as_ref()
            .and_then(|s| s.delivering.as_ref())
            .map(|(a, e)| (a.as_str(), *e))
    }

    /// Shared data (`adl.data`) this registration wrote, by target ID.
    pub fn shared_data(&self) -> &BTreeMap<String, String> {
        &self.shared_data
    }

    /// The activity summaries of the current attempt.
    pub fn summaries(&self) -> impl Iterator<Item = (&str, &RuntimeSummary)> {
        self.activities
            .iter()
            .filter_map(|(id, a)| a.summary.as_ref().map(|s| (id.as_str(), s)))
    }

    /// The activity delivered in a session, if any.
    pub fn delivered(&self, session_id: &str) -> Option<&str> {
        self.live.get(session_id).map(|l| l.activity_id.as_str())
    }

    /// Why a commit of `batch` in `session_id` would be refused, if it would.
    pub fn commit_refusal(&self, session_id: &str, batch: u64) -> Option<RegistrationError> {
        let session = match self.sessions.get(session_id) {
            Some(session) => session,
            None => return Some(RegistrationError::UnknownSession(session_id.to_owned())),
        };
        if batch <= session.last_batch {
            return None;
        }
        if session.superseded {
            return Some(RegistrationError::SessionSuperseded(session_id.to_owned()));
        }
        if session.attempt != self.attempt || self.deleted {
            return Some(RegistrationError::SessionEnded(session_id.to_owned()));
        }
        if batch != session.last_batch + 1 {
            return Some(RegistrationError::BatchOutOfOrder {
                expected: session.last_batch + 1,
                got: batch,
            });
        }
        None
    }

    fn live_session(&self, session_id: &str) -> Result<&SessionState, RegistrationError> {
        let session = self
            .sessions
            .get(session_id)
            .ok_or_else(|| RegistrationError::UnknownSession(session_id.to_owned()))?;
        if session.superseded {
            return Err(RegistrationError::SessionSuperseded(session_id.to_owned()));
        }
        if session.attempt != self.attempt || self.deleted {
            return Err(RegistrationError::SessionEnded(session_id.to_owned()));
        }
        Ok(session)
    }

    /// Returns the events `command` produces, or why it is refused: what
    /// the command did, then how the course's progress changed by it.
    pub fn decide(
        &self,
        command: RegistrationCommand,
    ) -> Result<Vec<RegistrationEvent>, RegistrationError> {
        let mut events = self.decide_command(command)?;
        self.progress_after(&mut events);
        Ok(events)
    }

    /// The course's progress in this attempt, as last recorded.
    pub fn progress(&self) -> &Progress {
        &self.progress
    }

    /// Appends the progress events `events` bring about: the course's
    /// rolled-up status after them, when it differs from the recorded one,
    /// and the moments it became completed, passed or failed.
    fn progress_after(&self, events: &mut Vec<RegistrationEvent>) {
        use RegistrationEvent as E;
        let mut results: BTreeMap<&str, ActivityResult> = self
            .activities
            .iter()
            .filter_map(|(id, state)| {
                Some((id.as_str(), ActivityResult::of(state.summary.as_ref()?)))
            })
            .collect();
        let mut root = self.root_status.as_ref();
        let mut touched = false;
        for event in events.iter() {
            match event {
                E::RuntimeBatchCommitted {
                    activity_id,
                    summary,
                    ..
                } => {
                    results.insert(activity_id, ActivityResult::of(summary));
                    touched = true;
                }
                E::SequencingDecided { statuses, .. } => {
                    if let Some(status) = self.seq.as_ref().and_then(|s| s.root_status(statuses)) {
                        root = Some(status);
                    }
                    touched = true;
                }
                _ => {}
            }
        }
        if !touched {
            return;
        }
        let progress = roll_up(&self.launchable, &results, root);
        let previous = &self.progress;
        if progress == *previous {
            return;
        }
        let at = events.last().map(RegistrationEvent::at).unwrap_or_default();
        let attempt = self.attempt;
        let became = |field: fn(&Progress) -> &str, value: &str| {
            field(&progress) == value && field(previous) != value
        };
        let mut more = vec![E::RegistrationProgressChanged {
            attempt,
            progress: progress.clone(),
            previous: previous.clone(),
            at,
        }];
        type Field = fn(&Progress) -> &str;
        type Outcome = fn(u32, Progress, DateTime<Utc>) -> RegistrationEvent;
        let outcomes: [(Field, &str, Outcome); 3] = [
            (
                |p| &p.completion,
                "completed",
                |attempt, progress, at| E::RegistrationCompleted {
                    attempt,
                    progress,
                    at,
                },
            ),
            (
                |p| &p.success,
                "passed",
                |attempt, progress, at| E::RegistrationPassed {
                    attempt,
                    progress,
                    at,
                },
            ),
            (
                |p| &p.success,
                "failed",
                |attempt, progress, at| E::RegistrationFailed {
                    attempt,
                    progress,
                    at,
                },
            ),
        ];
        for (field, value, event) in outcomes {
            if became(field, value) {
                more.push(event(attempt, progress.clone(), at));
            }
        }
        events.extend(more);
    }

    fn decide_command(
        &self,
        command: RegistrationCommand,
    ) -> Result<Vec<RegistrationEvent>, RegistrationError> {
        use RegistrationCommand as C;
        use RegistrationEvent as E;
        match command {
            C::Create {
                registration_id,
                course_id,
                course_version,
                activities,
                learner,
                tags,
                at,
            } => {
                if !valid_id(&registration_id) {
                    return Err(RegistrationError::InvalidId);
                }
                let learner_id = learner.id.trim();
                if learner_id.is_empty() || learner_id.chars().count() > MAX_ID_CHARS {
                    return Err(RegistrationError::InvalidLearner);
                }
                if let Some(existing) = &self.id {
                    // Idempotent by id: the same course and learner is the
                    // same registration.
                    return if !self.deleted
                        && self.course_id.as_ref() == Some(&course_id)
                        && self.learner_id == learner_id
                    {
                        Ok(vec![])
                    } else {
                        Err(RegistrationError::Conflicting(existing.clone()))
                    };
                }
                Ok(vec![E::RegistrationCreated {
                    registration_id,
                    course_id,
                    course_version,
                    activities,
                    learner: Learner {
                        id: learner_id.to_owned(),
                        ..learner
                    },
                    tags,
                    at,
                }])
            }
            C::Delete { at } => {
                let id = self.live_id()?;
                Ok(vec![E::RegistrationDeleted {
                    registration_id: id,
                    at,
                }])
            }
            C::Reset { at } => {
                let id = self.live_id()?;
                Ok(vec![E::RegistrationReset {
                    registration_id: id,
                    attempt: self.attempt + 1,
                    at,
                }])
            }
            C::StartSession {
                session_id,
                user_agent,
                ip,
                sequencing,
                at,
            } => {
                self.live_id()?;
                let resumed = self.activities.values().any(|a| a.data.is_some());
                let mut events = vec![E::SessionStarted {
                    session_id: session_id.clone(),
                    attempt: self.attempt,
                    resumed,
                    supersedes: self.current_session.clone(),
                    user_agent,
                    ip,
                    at,
                }];
                if let Some(sequencing) = sequencing {
                    self.start_sequencing(sequencing, &session_id, at, &mut events)?;
                }
                Ok(events)
            }
            C::Deliver {
                session_id,
                activity_id,
                context,
                at,
            } => {
                self.live_session(&session_id)?;
                if let Some(state) = &self.seq {
                    let chosen = state
                        .delivering
                        .as_ref()
                        .is_some_and(|(activity, _)| *activity == activity_id);
                    if !chosen
                        || state.handed_over
                        || state.tracking.current.as_deref() != Some(activity_id.as_str())
                    {
                        return Err(RegistrationError::NotCurrentActivity(activity_id));
                    }
                }
                if context.prior != self.prior_for(&activity_id) {
                    return Err(RegistrationError::StaleDelivery(activity_id));
                }
                RuntimeSession::new((*context).clone()).map_err(|e| {
                    RegistrationError::InvalidContext {
                        activity: activity_id.clone(),
                        reason: e.to_string(),
                    }
                })?;
                Ok(vec![E::ActivityDelivered {
                    session_id,
                    activity_id,
                    context,
                    at,
                }])
            }
            C::Commit {
                session_id,
                batch,
                activity_id,
                mut calls,
                final_batch,
                page_hide,
                course,
                at,
            } => {
                if let Some(refusal) = self.commit_refusal(&session_id, batch) {
                    return Err(refusal);
                }
                if self
                    .sessions
                    .get(&session_id)
                    .is_some_and(|s| batch <= s.last_batch)
                {
                    return Ok(vec![]);
                }
                let live = self
                    .live
                    .get(&session_id)
                    .filter(|l| l.activity_id == activity_id)
                    .ok_or_else(|| RegistrationError::NotDelivered(activity_id.clone()))?;
                let mut runtime = live.runtime.clone();
                calls.sort_by_key(|c| c.recorded.seq);
                let mut events = Vec::new();
                let mut logged = Vec::new();
                for call in calls {
                    let verdict = runtime.replay(&call.recorded).err().map(|m| ServerVerdict {
                        result: m.actual_result,
                        error: m.actual_error,
                    });
                    let accepted_set = verdict.is_none()
                        && call.recorded.error == 0
                        && matches!(call.recorded.call, ApiCall::SetValue { .. });
                    match (&call.recorded.call, accepted_set) {
                        (ApiCall::SetValue { element, value }, true) => {
                            events.push(E::RuntimeValueSet {
                                session_id: session_id.clone(),
                                activity_id: activity_id.clone(),
                                seq: call.recorded.seq,
                                element: element.clone(),
                                value: value.clone(),
                                client_at: call.at,
                                at,
                            })
                        }
                        _ => logged.push(LoggedCall {
                            call,
                            server: verdict,
                        }),
                    }
                }
                events.push(E::RuntimeBatchCommitted {
                    session_id: session_id.clone(),
                    activity_id: activity_id.clone(),
                    batch,
                    calls: logged,
                    summary: runtime.summary(),
                    final_batch,
                    page_hide,
                    at,
                });
                if let Some(course) = course {
                    self.committed_to_sequencer(
                        &course,
                        &session_id,
                        &activity_id,
                        &live.runtime,
                        &runtime,
                        at,
                        &mut events,
                    )?;
                }
                Ok(events)
            }
            C::RecordRefusal {
                session_id,
                batch,
                code,
                at,
            } => {
                if !self.sessions.contains_key(&session_id) {
                    return Err(RegistrationError::UnknownSession(session_id));
                }
                Ok(vec![E::RuntimeBatchRefused {
                    session_id,
                    batch,
                    code,
                    at,
                }])
            }
            C::Heartbeat {
                session_id,
                activity_id,
                max_gap_seconds,
                at,
            } => {
                let session = self.live_session(&session_id)?;
                let Some(last) = session.last_beat else {
                    return Ok(vec![]);
                };
                let seconds = (at - last).num_seconds().clamp(0, max_gap_seconds.max(0));
                if seconds == 0 {
                    return Ok(vec![]);
                }
                Ok(vec![E::TimeOnTaskMeasured {
                    session_id,
                    activity_id,
                    seconds,
                    at,
                }])
            }
            C::Navigate {
                session_id,
                request,
                target,
                delivered,
                exception,
                ended,
                at,
            } => {
                self.live_session(&session_id)?;
                Ok(vec![E::NavigationRequested {
                    session_id,
                    request,
                    target,
                    delivered,
                    exception,
                    ended,
                    at,
                }])
            }
            C::Sequence {
                session_id,
                request,
                course,
                at,
            } => {
                self.live_session(&session_id)?;
                let state = self.seq.as_ref().ok_or(RegistrationError::NotSequenced)?;
                let mut engine = state.engine(&course).map_err(refused)?;
                let current = engine.current_activity().map(str::to_owned);
                let live = self
                    .live
                    .get(&session_id)
                    .filter(|live| Some(&live.activity_id) == current.as_ref());
                let input = match (current, live) {
                    (Some(activity), Some(live)) if !state.handed_over => {
                        let report = runtime_report(live.runtime.data(), true);
                        let request = request.or_else(|| {
                            self.single_sco_end(&live.runtime, report.nav_request.as_deref())
                        });
                        SequencingInput::Terminate {
                            activity,
                            report,
                            request,
                            at,
                        }
                    }
                    _ => match request {
                        Some(request) => SequencingInput::Navigate { request, at },
                        // "auto" with nothing to hand over: nothing happens.
                        None => return Ok(vec![]),
                    },
                };
                let mut events = Vec::new();
                self.decided(&mut engine, &course, &session_id, input, at, &mut events)?;
                Ok(events)
            }
        }
    }

    /// What a course of one SCO does when its SCO terminates without a
    /// navigation request of its own: it suspends the course when the SCO
    /// left with `suspend`, and exits it otherwise, so the course's status
    /// rolls up and the player ends, as learners (and SCORM Cloud's
    /// defaults) expect. A course of several SCOs waits for the learner's
    /// next request, as the SN book says.
    fn single_sco_end(
        &self,
        runtime: &RuntimeSession,
        nav_request: Option<&str>,
    ) -> Option<NavigationRequest> {
        let ended = runtime.state() == crate::cmi::SessionState::Terminated;
        if !ended || nav_request.is_some_and(|r| r != "_none_") || self.launchable.len() != 1 {
            return None;
        }
        Some(if runtime.data().get("cmi.exit") == Some("suspend") {
            NavigationRequest::SuspendAll
        } else {
            NavigationRequest::ExitAll
        })
    }

    /// Starts sequencing in a new session: the attempt's tracking state if
    /// it has none, the learner's shared objectives, the end of a session
    /// that was left open (its current activity is suspended, so the
    /// learner comes back to it), then the launch request.
    fn start_sequencing(
        &self,
        sequencing: Sequencing,
        session_id: &str,
        at: DateTime<Utc>,
        events: &mut Vec<RegistrationEvent>,
    ) -> Result<(), RegistrationError> {
        let course = &sequencing.course;
        let mut engine = match &self.seq {
            Some(state) => state.engine(course).map_err(refused)?,
            None => {
                let options = EngineOptions {
                    seed: sequencing.seed,
                    ..EngineOptions::default()
                };
                let engine = Engine::new(course, options).map_err(refused)?;
                events.push(RegistrationEvent::SequencingStarted {
                    session_id: session_id.to_owned(),
                    attempt: self.attempt,
                    options,
                    tracking: Box::new(engine.snapshot()),
                    at,
                });
                engine
            }
        };
        if let Some(objectives) = &sequencing.learner_objectives {
            let differs = engine
                .global_objectives()
                .iter()
                .any(|(id, value)| objectives.get(id).cloned().unwrap_or_default() != *value);
            if differs {
                let input = SequencingInput::LoadGlobalObjectives {
                    objectives: objectives.clone(),
                };
                self.decided(&mut engine, course, session_id, input, at, events)?;
            }
        }
        if let Some(current) = engine.current_activity().map(str::to_owned) {
            let state = self.seq.as_ref();
            let open = state.is_some_and(|s| !s.handed_over && s.reported);
            let data = self.activities.get(&current).and_then(|a| a.data.as_ref());
            let input = match data {
                Some(data) if open => SequencingInput::Terminate {
                    activity: current,
                    report: runtime_report(data, true),
                    request: Some(NavigationRequest::SuspendAll),
                    at,
                },
                _ => SequencingInput::Navigate {
                    request: NavigationRequest::SuspendAll,
                    at,
                },
            };
            self.decided(&mut engine, course, session_id, input, at, events)?;
        }
        let chosen = match &sequencing.start {
            Some(target) => {
                let input = SequencingInput::Navigate {
                    request: NavigationRequest::Choice {
                        target: target.clone(),
                    },
                    at,
                };
                let decision = self.decided(&mut engine, course, session_id, input, at, events)?;
                decision.outcome.delivered().is_some()
            }
            None => false,
        };
        if !chosen && let Some(request) = engine.launch_request() {
            let input = SequencingInput::Navigate { request, at };
            self.decided(&mut engine, course, session_id, input, at, events)?;
        }
        Ok(())
    }

    /// A committed batch's data goes to the sequencer (when it changed what
    /// the sequencer knows), and shared data the batch wrote is recorded
    /// for the learner when the course shares it.
    #[allow(clippy::too_many_arguments)]
    fn committed_to_sequencer(
        &self,
        course: &Course,
        session_id: &str,
        activity_id: &str,
        before: &RuntimeSession,
        after: &RuntimeSession,
        at: DateTime<Utc>,
        events: &mut Vec<RegistrationEvent>,
    ) -> Result<(), RegistrationError> {
        if let Some(state) = &self.seq {
            let current = state.tracking.current.as_deref() == Some(activity_id)
                && state
                    .delivering
                    .as_ref()
                    .is_some_and(|(a, _)| a == activity_id);
            let report = runtime_report(after.data(), false);
            if current && !state.handed_over && state.last_report.as_ref() != Some(&report) {
                let mut engine = state.engine(course).map_err(refused)?;
                let input = SequencingInput::Commit {
                    activity: activity_id.to_owned(),
                    report,
                    at,
                };
                self.decided(&mut engine, course, session_id, input, at, events)?;
            }
        }
        if course.scopes.shared_data_global_to_system {
            let shared_data: BTreeMap<String, String> = after
                .shared_data()
                .iter()
                .filter(|bucket| bucket.writable)
                .filter(|bucket| {
                    let old = before.shared_data().iter().find(|b| b.id == bucket.id);
                    bucket.store.is_some()
                        && old.and_then(|b| b.store.as_ref()) != bucket.store.as_ref()
                })
                .filter_map(|bucket| Some((bucket.id.clone(), bucket.store.clone()?)))
                .collect();
            if !shared_data.is_empty() {
                events.push(RegistrationEvent::LearnerGlobalsWritten {
                    learner_id: self.learner_id.clone(),
                    globals: LearnerGlobals {
                        objectives: BTreeMap::new(),
                        shared_data,
                    },
                    at,
                });
            }
        }
        Ok(())
    }

    /// Applies one input on `engine` and records it with the decision (and
    /// the learner's shared objectives it wrote).
    fn decided(
        &self,
        engine: &mut Engine,
        course: &Course,
        session_id: &str,
        input: SequencingInput,
        at: DateTime<Utc>,
        events: &mut Vec<RegistrationEvent>,
    ) -> Result<Decision, RegistrationError> {
        let decision = engine.apply(&input).map_err(refused)?;
        let statuses = sequencing::statuses(engine, &decision, &course.root.id);
        let shared = (course.scopes.objectives_global_to_system
            && !decision.changed_global_objectives.is_empty())
        .then(|| decision.changed_global_objectives.clone());
        events.push(RegistrationEvent::SequencingDecided {
            session_id: session_id.to_owned(),
            input: Box::new(input),
            decision: Box::new(decision.clone()),
            statuses,
            at,
        });
        if let Some(objectives) = shared {
            events.push(RegistrationEvent::LearnerGlobalsWritten {
                learner_id: self.learner_id.clone(),
                globals: LearnerGlobals {
                    objectives,
                    shared_data: BTreeMap::new(),
                },
                at,
            });
        }
        Ok(decision)
    }

    fn live_id(&self) -> Result<String, RegistrationError> {
        match &self.id {
            Some(id) if !self.deleted => Ok(id.clone()),
            _ => Err(RegistrationError::NotFound),
        }
    }
}

impl Aggregate for Registration {
    const TYPE: &'static str = "registration";
    type Command = RegistrationCommand;
    type Event = RegistrationEvent;
    type Error = RegistrationError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        use RegistrationEvent as E;
        match event {
            E::RegistrationCreated {
                registration_id,
                course_id,
                course_version,
                learner,
                activities,
                ..
            } => {
                self.id = Some(registration_id);
                self.course_id = Some(course_id);
                self.course_version = course_version;
                self.learner_id = learner.id;
                self.launchable = activities;
                self.attempt = 1;
            }
            E::RegistrationDeleted { .. } => {
                self.deleted = true;
                self.live.clear();
            }
            E::RegistrationReset { attempt, .. } => {
                self.attempt = attempt;
                self.activities.clear();
                self.seq = None;
                self.root_status = None;
                self.progress = Progress::default();
                self.shared_data.clear();
                self.live.clear();
                self.current_session = None;
            }
            E::SessionStarted {
                session_id,
                attempt,
                supersedes,
                at,
                ..
            } => {
                if let Some(old) = supersedes.and_then(|old| self.sessions.get_mut(&old)) {
                    old.superseded = true;
                }
                self.live.retain(|session, _| *session == session_id);
                self.sessions.insert(
                    session_id.clone(),
                    SessionState {
                        attempt,
                        last_batch: 0,
                        superseded: false,
                        last_beat: Some(at),
                    },
                );
                self.current_session = Some(session_id);
            }
            E::ActivityDelivered {
                session_id,
                activity_id,
                context,
                ..
            } => {
                // decide() checked that the context starts a session.
                if let Ok(runtime) = RuntimeSession::new(*context) {
                    self.live.insert(
                        session_id,
                        Live {
                            activity_id,
                            runtime,
                            pending: Vec::new(),
                        },
                    );
                }
            }
            E::RuntimeValueSet {
                session_id,
                seq,
                element,
                value,
                ..
            } => {
                if let Some(live) = self.live.get_mut(&session_id) {
                    live.pending.push((seq, element, value));
                }
            }
            E::RuntimeBatchCommitted {
                session_id,
                activity_id,
                batch,
                calls,
                summary,
                ..
            } => {
                if let Some(live) = self.live.get_mut(&session_id) {
                    let mut all: Vec<RecordedCall> = live
                        .pending
                        .drain(..)
                        .map(|(seq, element, value)| {
                            RecordedCall::accepted_set_value(seq, element, value)
                        })
                        .chain(calls.into_iter().map(|c| c.call.recorded))
                        .collect();
                    all.sort_by_key(|c| c.seq);
                    for call in &all {
                        // Outcomes were judged in decide(); replay for state.
                        let _ = live.runtime.replay(call);
                    }
                    live.runtime.take_calls();
                    for bucket in live.runtime.shared_data() {
                        if let (true, Some(store)) = (bucket.writable, &bucket.store) {
                            self.shared_data.insert(bucket.id.clone(), store.clone());
                        }
                    }
                    if let Some(seq) = &mut self.seq
                        && seq
                            .delivering
                            .as_ref()
                            .is_some_and(|(a, _)| *a == activity_id)
                    {
                        seq.reported = true;
                    }
                    let state = self.activities.entry(activity_id).or_default();
                    state.data = Some(live.runtime.data().clone());
                    state.summary = Some(summary);
                }
                if let Some(session) = self.sessions.get_mut(&session_id) {
                    session.last_batch = session.last_batch.max(batch);
                }
            }
            E::RuntimeBatchRefused { .. }
            | E::NavigationRequested { .. }
            | E::LearnerGlobalsWritten { .. } => {}
            E::SequencingStarted {
                options, tracking, ..
            } => {
                self.seq = Some(SeqState::new(options, *tracking));
            }
            E::SequencingDecided {
                input,
                decision,
                statuses,
                ..
            } => {
                if let Some(seq) = &mut self.seq {
                    seq.fold(&input, &decision);
                    if let Some(root) = seq.root_status(&statuses) {
                        self.root_status = Some(root.clone());
                    }
                }
            }
            E::RegistrationProgressChanged { progress, .. } => self.progress = progress,
            E::RegistrationCompleted { .. }
            | E::RegistrationPassed { .. }
            | E::RegistrationFailed { .. } => {}
            E::TimeOnTaskMeasured { session_id, at, .. } => {
                if let Some(session) = self.sessions.get_mut(&session_id) {
                    session.last_beat = Some(at);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmi::ScormVersion;
    use cqrs_es::test::TestFramework;

    type Test = TestFramework<Registration>;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn learner() -> Learner {
        Learner {
            id: "l1".into(),
            first_name: Some("Ada".into()),
            last_name: Some("Lovelace".into()),
            email: None,
        }
    }

    fn created() -> RegistrationEvent {
        RegistrationEvent::RegistrationCreated {
            registration_id: "r1".into(),
            course_id: CourseId::parse("c1").unwrap(),
            course_version: 1,
            activities: vec!["i1".into()],
            learner: learner(),
            tags: vec![],
            at: at(0),
        }
    }

    fn started(session: &str, supersedes: Option<&str>) -> RegistrationEvent {
        RegistrationEvent::SessionStarted {
            session_id: session.into(),
            attempt: 1,
            resumed: false,
            supersedes: supersedes.map(str::to_owned),
            user_agent: None,
            ip: None,
            at: at(1),
        }
    }

    fn context() -> Box<LaunchContext> {
        let mut context = LaunchContext::new(ScormVersion::Scorm12, "l1", "Lovelace, Ada");
        context.mastery_score = Some("80".into());
        Box::new(context)
    }

    fn delivered(session: &str) -> RegistrationEvent {
        RegistrationEvent::ActivityDelivered {
            session_id: session.into(),
            activity_id: "i1".into(),
            context: context(),
            at: at(2),
        }
    }

    fn call(seq: u64, call: ApiCall, result: &str, error: u16) -> ClientCall {
        ClientCall {
            recorded: RecordedCall {
                seq,
                call,
                result: result.into(),
                error,
                diagnostic: None,
                spm_exceeded: false,
                host_failure: false,
            },
            at: None,
        }
    }

    fn set(seq: u64, element: &str, value: &str) -> ClientCall {
        call(
            seq,
            ApiCall::SetValue {
                element: element.into(),
                value: value.into(),
            },
            "true",
            0,
        )
    }

    fn init(seq: u64) -> ClientCall {
        call(seq, ApiCall::Initialize { arg: String::new() }, "true", 0)
    }

    fn commit(session: &str, batch: u64, calls: Vec<ClientCall>) -> RegistrationCommand {
        RegistrationCommand::Commit {
            session_id: session.into(),
            batch,
            activity_id: "i1".into(),
            calls,
            final_batch: false,
            page_hide: false,
            course: None,
            at: at(3),
        }
    }

    /// Runs `events` through a fresh aggregate.
    fn state(events: Vec<RegistrationEvent>) -> Registration {
        let mut registration = Registration::default();
        for event in events {
            registration.apply(event);
        }
        registration
    }

    #[test]
    fn creating_is_idempotent_by_id_and_refuses_a_different_registration() {
        let create = |course: &str, learner_id: &str| RegistrationCommand::Create {
            registration_id: "r1".into(),
            course_id: CourseId::parse(course).unwrap(),
            course_version: 1,
            activities: vec!["i1".into()],
            learner: Learner {
                id: learner_id.into(),
                ..learner()
            },
            tags: vec![],
            at: at(0),
        };
        Test::with(())
            .given_no_previous_events()
            .when(create("c1", "l1"))
            .then_expect_events(vec![created()]);
        Test::with(())
            .given(vec![created()])
            .when(create("c1", "l1"))
            .then_expect_events(vec![]);
        Test::with(())
            .given(vec![created()])
            .when(create("c2", "l1"))
            .then_expect_error(RegistrationError::Conflicting("r1".into()));
        Test::with(())
            .given_no_previous_events()
            .when(RegistrationCommand::Create {
                registration_id: "r 1".into(),
                course_id: CourseId::parse("c1").unwrap(),
                course_version: 1,
                activities: vec!["i1".into()],
                learner: learner(),
                tags: vec![],
                at: at(0),
            })
            .then_expect_error(RegistrationError::InvalidId);
    }

    #[test]
    fn a_commit_makes_one_event_per_accepted_set_value_and_a_commit_event() {
        let events = state(vec![created(), started("s1", None), delivered("s1")])
            .decide(commit(
                "s1",
                1,
                vec![
                    init(0),
                    set(1, "cmi.core.score.raw", "87"),
                    call(
                        2,
                        ApiCall::GetValue {
                            element: "cmi.core.score.raw".into(),
                        },
                        "87",
                        0,
                    ),
                    call(
                        3,
                        ApiCall::SetValue {
                            element: "cmi.core.student_id".into(),
                            value: "x".into(),
                        },
                        "false",
                        403,
                    ),
                ],
            ))
            .unwrap();
        assert_eq!(events.len(), 3, "{events:#?}");
        assert!(
            matches!(&events[2], RegistrationEvent::RegistrationProgressChanged { progress, .. }
            if progress.score_raw == Some(87.0)),
            "the score changed the course's progress: {events:#?}"
        );
        assert!(
            matches!(&events[0], RegistrationEvent::RuntimeValueSet { seq: 1, element, value, .. }
            if element == "cmi.core.score.raw" && value == "87")
        );
        let RegistrationEvent::RuntimeBatchCommitted { calls, summary, .. } = &events[1] else {
            panic!("{events:#?}")
        };
        let seqs: Vec<u64> = calls.iter().map(|c| c.call.recorded.seq).collect();
        assert_eq!(
            seqs,
            vec![0, 2, 3],
            "every call but the accepted SetValue is logged"
        );
        assert!(
            calls.iter().all(|c| c.server.is_none()),
            "the server agreed with the browser"
        );
        assert_eq!(summary.score_raw.as_deref(), Some("87"));
    }

    #[test]
    fn the_server_records_where_it_disagrees_and_does_not_store_the_value() {
        let events = state(vec![created(), started("s1", None), delivered("s1")])
            .decide(commit(
                "s1",
                1,
                // The browser claims it accepted a read-only element.
                vec![init(0), set(1, "cmi.core.student_id", "x")],
            ))
            .unwrap();
        assert_eq!(events.len(), 2, "{events:#?}");
        assert!(matches!(
            events[1],
            RegistrationEvent::RegistrationProgressChanged { .. }
        ));
        let RegistrationEvent::RuntimeBatchCommitted { calls, .. } = &events[0] else {
            panic!()
        };
        assert_eq!(
            calls[1].server,
            Some(ServerVerdict {
                result: "false".into(),
                error: 403
            })
        );
    }

    #[test]
    fn progress_events_mark_each_change_and_each_outcome_once() {
        let kinds = |events: &[RegistrationEvent]| -> Vec<&'static str> {
            events
                .iter()
                .map(RegistrationEvent::kind)
                .filter(|k| k.starts_with("Registration"))
                .collect()
        };
        let mut history = vec![created(), started("s1", None), delivered("s1")];
        let first = state(history.clone())
            .decide(commit(
                "s1",
                1,
                vec![init(0), set(1, "cmi.core.lesson_status", "incomplete")],
            ))
            .unwrap();
        assert_eq!(kinds(&first), ["RegistrationProgressChanged"]);
        history.extend(first);
        let passed = state(history.clone())
            .decide(commit(
                "s1",
                2,
                vec![
                    set(2, "cmi.core.score.raw", "90"),
                    set(3, "cmi.core.lesson_status", "passed"),
                ],
            ))
            .unwrap();
        assert_eq!(
            kinds(&passed),
            [
                "RegistrationProgressChanged",
                "RegistrationCompleted",
                "RegistrationPassed"
            ]
        );
        let RegistrationEvent::RegistrationProgressChanged {
            progress, previous, ..
        } = &passed[passed.len() - 3]
        else {
            panic!("{passed:#?}")
        };
        assert_eq!(
            (progress.completion.as_str(), progress.success.as_str()),
            ("completed", "passed")
        );
        assert_eq!(progress.score_scaled, Some(0.9));
        assert_eq!(previous.completion, "incomplete");
        history.extend(passed);
        let registration = state(history.clone());
        assert_eq!(registration.progress().success, "passed");
        // The same status again changes nothing.
        let again = registration
            .decide(commit(
                "s1",
                3,
                vec![set(4, "cmi.core.lesson_location", "p9")],
            ))
            .unwrap();
        assert_eq!(kinds(&again), Vec::<&str>::new());
        // A new attempt starts from nothing: no progress events of its own.
        let reset = registration
            .decide(RegistrationCommand::Reset { at: at(9) })
            .unwrap();
        assert_eq!(kinds(&reset), ["RegistrationReset"]);
        history.extend(reset);
        assert_eq!(*state(history).progress(), Progress::default());
    }

    #[test]
    fn batches_are_idempotent_and_in_order() {
        let mut history = vec![created(), started("s1", None), delivered("s1")];
        let registration = state(history.clone());
        history.extend(
            registration
                .decide(commit(
                    "s1",
                    1,
                    vec![init(0), set(1, "cmi.core.lesson_location", "p1")],
                ))
                .unwrap(),
        );
        let registration = state(history.clone());
        // The same batch again: nothing.
        assert_eq!(
            registration.decide(commit("s1", 1, vec![init(0)])).unwrap(),
            vec![]
        );
        // A gap: refused, to be recorded.
        let err = registration.decide(commit("s1", 3, vec![])).unwrap_err();
        assert_eq!(
            err,
            RegistrationError::BatchOutOfOrder {
                expected: 2,
                got: 3
            }
        );
        assert!(err.is_recorded_refusal());
        assert_eq!(err.code(), "batch_out_of_order");
    }

    #[test]
    fn a_newer_session_supersedes_the_older_one() {
        let registration = state(vec![
            created(),
            started("s1", None),
            delivered("s1"),
            started("s2", Some("s1")),
        ]);
        let err = registration
            .decide(commit("s1", 1, vec![init(0)]))
            .unwrap_err();
        assert_eq!(err, RegistrationError::SessionSuperseded("s1".into()));
        assert_eq!(registration.current_session(), Some("s2"));
        assert_eq!(
            registration
                .decide(RegistrationCommand::RecordRefusal {
                    session_id: "s1".into(),
                    batch: 1,
                    code: err.code().into(),
                    at: at(4),
                })
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn the_next_delivery_resumes_from_the_log() {
        let mut history = vec![created(), started("s1", None), delivered("s1")];
        let batch = vec![
            init(0),
            set(1, "cmi.core.lesson_location", "page-7"),
            set(2, "cmi.suspend_data", "state-1"),
            set(3, "cmi.core.exit", "suspend"),
            call(4, ApiCall::Terminate { arg: String::new() }, "true", 0),
        ];
        history.extend(
            state(history.clone())
                .decide(commit("s1", 1, batch))
                .unwrap(),
        );
        history.push(started("s2", Some("s1")));
        let resumed = state(history.clone());
        let stale = resumed.decide(RegistrationCommand::Deliver {
            session_id: "s2".into(),
            activity_id: "i1".into(),
            context: context(),
            at: at(9),
        });
        assert_eq!(stale, Err(RegistrationError::StaleDelivery("i1".into())));
        let mut full = context();
        full.prior = resumed.prior_for("i1");
        let next = resumed
            .decide(RegistrationCommand::Deliver {
                session_id: "s2".into(),
                activity_id: "i1".into(),
                context: full,
                at: at(9),
            })
            .unwrap();
        let RegistrationEvent::ActivityDelivered { context, .. } = &next[0] else {
            panic!()
        };
        let prior = context
            .prior
            .as_ref()
            .expect("the prior data comes from the log");
        assert_eq!(prior.get("cmi.core.lesson_location"), Some("page-7"));
        assert_eq!(prior.get("cmi.suspend_data"), Some("state-1"));
        let session = RuntimeSession::new((**context).clone()).unwrap();
        assert_eq!(session.entry(), "resume");
        // A reset starts the next attempt with nothing.
        history.push(RegistrationEvent::RegistrationReset {
            registration_id: "r1".into(),
            attempt: 2,
            at: at(10),
        });
        let after_reset = state(history);
        assert_eq!(after_reset.attempt(), 2);
        assert!(after_reset.activity_summary("i1").is_none());
    }

    #[test]
    fn heartbeats_measure_time_between_them_bounded() {
        let registration = state(vec![created(), started("s1", None)]);
        let beat = |s: i64| RegistrationCommand::Heartbeat {
            session_id: "s1".into(),
            activity_id: None,
            max_gap_seconds: 60,
            at: at(1 + s),
        };
        let events = registration.decide(beat(30)).unwrap();
        assert!(matches!(
            &events[0],
            RegistrationEvent::TimeOnTaskMeasured { seconds: 30, .. }
        ));
        let events = registration.decide(beat(3600)).unwrap();
        assert!(
            matches!(
                &events[0],
                RegistrationEvent::TimeOnTaskMeasured { seconds: 60, .. }
            ),
            "a long gap counts as 60 s"
        );
    }
}
