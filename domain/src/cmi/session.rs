//! The run-time API state machine for one SCO attempt.
//!
//! A [`RuntimeSession`] is built from a [`LaunchContext`], answers the eight
//! API functions exactly as the content's version requires, records every
//! call that changes data or fails, and exposes the data to persist as a
//! [`RuntimeData`] that the next launch takes back as its prior data.

use std::collections::BTreeMap;

use imbl::OrdMap;
use serde::{Deserialize, Serialize};

use super::error::{CmiError, LaunchError, error_string};
use super::model::{self, Access, Address, Collection, Element, Model, Source};
use super::time::{IsoDuration, Timespan12};
use super::types::{InteractionType, PatternUniqueness, ValidationContext, ValueType};
use super::{ApiFamily, ScormVersion};

/// Whether the attempt counts towards the learner's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Credit {
    /// `credit`: the attempt is tracked for credit.
    #[default]
    #[serde(rename = "credit")]
    Credit,
    /// `no-credit`: tracked for information only.
    #[serde(rename = "no-credit")]
    NoCredit,
}

impl Credit {
    /// The vocabulary word.
    pub fn as_str(self) -> &'static str {
        match self {
            Credit::Credit => "credit",
            Credit::NoCredit => "no-credit",
        }
    }
}

/// How the content is presented to the learner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Mode {
    /// `normal`
    #[default]
    #[serde(rename = "normal")]
    Normal,
    /// `browse`: the learner looks without being tracked.
    #[serde(rename = "browse")]
    Browse,
    /// `review`: the learner looks back at a finished attempt.
    #[serde(rename = "review")]
    Review,
}

impl Mode {
    /// The vocabulary word.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Normal => "normal",
            Mode::Browse => "browse",
            Mode::Review => "review",
        }
    }
}

/// `true`, `false` or `unknown`, for `adl.nav.request_valid.*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Tristate {
    /// `true`
    #[serde(rename = "true")]
    True,
    /// `false`
    #[serde(rename = "false")]
    False,
    /// `unknown`
    #[default]
    #[serde(rename = "unknown")]
    Unknown,
}

impl Tristate {
    /// The vocabulary word.
    pub fn as_str(self) -> &'static str {
        match self {
            Tristate::True => "true",
            Tristate::False => "false",
            Tristate::Unknown => "unknown",
        }
    }
}

/// Which navigation requests the sequencer would honour now; the host keeps
/// it up to date with [`RuntimeSession::set_nav_validity`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NavValidity {
    /// `adl.nav.request_valid.continue`
    #[serde(rename = "continue", default)]
    pub continue_request: Tristate,
    /// `adl.nav.request_valid.previous`
    #[serde(default)]
    pub previous: Tristate,
    /// `adl.nav.request_valid.choice.{target=ID}`, by target; absent is `unknown`.
    #[serde(default)]
    pub choice: BTreeMap<String, Tristate>,
    /// `adl.nav.request_valid.jump.{target=ID}`, by target; absent is `unknown`.
    #[serde(default)]
    pub jump: BTreeMap<String, Tristate>,
}

/// The starting values of a `cmi.objectives.n` record the LMS creates from
/// the manifest, in the data model's vocabulary; `None` leaves the
/// element's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectiveSeed {
    /// The objective's id.
    pub id: String,
    /// `success_status`: `passed` or `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_status: Option<String>,
    /// `completion_status`: `completed` or `incomplete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_status: Option<String>,
    /// `score.scaled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_scaled: Option<String>,
    /// `score.raw`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_raw: Option<String>,
    /// `score.min`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_min: Option<String>,
    /// `score.max`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_max: Option<String>,
    /// `progress_measure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_measure: Option<String>,
}

/// A comment the LMS shows the learner (`cmi.comments_from_lms`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LmsComment {
    /// The text, optionally starting with `{lang=…}`.
    pub comment: String,
    /// Where in the content it applies.
    #[serde(default)]
    pub location: Option<String>,
    /// When it was written (SCORM 2004 timestamp).
    #[serde(default)]
    pub timestamp: Option<String>,
}

/// A SCORM 2004 4th edition shared data bucket (`adl.data.n`), mapped by the
/// manifest's `adlcp:data/adlcp:map`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedDataBucket {
    /// The bucket's `targetID`.
    pub id: String,
    /// The bucket's current content, `None` if never written.
    #[serde(default)]
    pub store: Option<String>,
    /// `readSharedData`; the host should pass the manifest's value.
    #[serde(default = "yes")]
    pub readable: bool,
    /// `writeSharedData`; the host should pass the manifest's value.
    #[serde(default = "yes")]
    pub writable: bool,
}

fn yes() -> bool {
    true
}

/// What SCORM 1.2 `LMSFinish` does with `cmi.core.lesson_status`, where the
/// spec leaves the LMS a choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Scorm12Policy {
    /// The status given to a SCO that never set one (in normal mode, without
    /// a mastery score to judge a raw score by).
    #[serde(default)]
    pub unset_status_at_finish: UnsetStatusAtFinish,
    /// Judge `passed`/`failed` from the mastery score even when the SCO set
    /// a status itself (normal mode, credit, raw score set).
    #[serde(default)]
    pub mastery_override: bool,
}

/// The status an unset SCORM 1.2 `lesson_status` gets at `LMSFinish`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum UnsetStatusAtFinish {
    /// `completed`, as RTE 1.2 describes.
    #[default]
    #[serde(rename = "completed")]
    Completed,
    /// `incomplete`, the cautious choice some LMSs make.
    #[serde(rename = "incomplete")]
    Incomplete,
}

/// Everything a session needs to know about its launch.
///
/// Numbers from the manifest stay strings, so that `GetValue` returns them
/// exactly as written. In JSON every field but `version`, `learner_id` and
/// `learner_name` may be left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LaunchContext {
    /// The content's SCORM version.
    pub version: ScormVersion,
    /// `cmi.core.student_id` / `cmi.learner_id`.
    pub learner_id: String,
    /// `cmi.core.student_name` / `cmi.learner_name` (`Last, First` in 1.2).
    pub learner_name: String,
    /// `credit` or `no-credit`.
    #[serde(default)]
    pub credit: Credit,
    /// `normal`, `browse` or `review`.
    #[serde(default)]
    pub mode: Mode,
    /// `adlcp:datafromlms` / `adlcp:dataFromLMS`.
    #[serde(default)]
    pub launch_data: Option<String>,
    /// SCORM 1.2 `adlcp:masteryscore` (0–100).
    #[serde(default)]
    pub mastery_score: Option<String>,
    /// SCORM 2004 `cmi.scaled_passing_score` (−1–1).
    #[serde(default)]
    pub scaled_passing_score: Option<String>,
    /// SCORM 2004 `adlcp:completionThreshold` (0–1).
    #[serde(default)]
    pub completion_threshold: Option<String>,
    /// `adlcp:maxtimeallowed` (1.2 `CMITimespan`) or
    /// `attemptAbsoluteDurationLimit` (2004 duration).
    #[serde(default)]
    pub max_time_allowed: Option<String>,
    /// `adlcp:timelimitaction`.
    #[serde(default)]
    pub time_limit_action: Option<String>,
    /// Objective ids from the manifest; each becomes a `cmi.objectives.n`
    /// record unless the prior data has it already.
    #[serde(default)]
    pub objective_ids: Vec<String>,
    /// What the sequencer knows of those objectives when the record is
    /// created (SCORM 2004: local objectives read through their objective
    /// maps, so a SCO sees a shared objective another SCO satisfied).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objective_status: Vec<ObjectiveSeed>,
    /// The learner's stored preferences, by element name inside
    /// `cmi.student_preference` (1.2) or `cmi.learner_preference` (2004):
    /// `audio`, `language`, `speed`, `text` / `audio_level`, `language`,
    /// `delivery_speed`, `audio_captioning`.
    #[serde(default)]
    pub learner_preferences: BTreeMap<String, String>,
    /// Comments from the LMS (SCORM 1.2 shows their texts joined by newlines).
    #[serde(default)]
    pub comments_from_lms: Vec<LmsComment>,
    /// Shared data buckets (SCORM 2004 4th edition only).
    #[serde(default)]
    pub shared_data: Vec<SharedDataBucket>,
    /// Navigation requests the sequencer would honour.
    #[serde(default)]
    pub nav_validity: NavValidity,
    /// The data the previous session of this attempt left, if any.
    #[serde(default)]
    pub prior: Option<RuntimeData>,
    /// The longest `cmi.suspend_data` accepted; at least, and by default,
    /// the SPM (4,096 in 1.2, 4,000 in 2004 2nd/3rd, 64,000 in 4th edition).
    #[serde(default)]
    pub suspend_data_limit: Option<usize>,
    /// The longest value of any other SCORM 2004 element; by default
    /// [`DEFAULT_VALUE_LIMIT`].
    #[serde(default)]
    pub value_limit: Option<usize>,
    /// The most records any collection may hold; by default
    /// [`DEFAULT_RECORDS_LIMIT`].
    #[serde(default)]
    pub records_limit: Option<usize>,
    /// SCORM 1.2 `LMSFinish` choices.
    #[serde(default)]
    pub scorm12: Scorm12Policy,
}

/// The default longest value of a SCORM 2004 element other than
/// `cmi.suspend_data`, in characters.
pub const DEFAULT_VALUE_LIMIT: usize = 1_000_000;

/// The default most records of one collection.
pub const DEFAULT_RECORDS_LIMIT: usize = 5_000;

impl LaunchContext {
    /// A context with the required values and every option at its default.
    pub fn new(version: ScormVersion, learner_id: &str, learner_name: &str) -> LaunchContext {
        LaunchContext {
            version,
            learner_id: learner_id.to_owned(),
            learner_name: learner_name.to_owned(),
            credit: Credit::default(),
            mode: Mode::default(),
            launch_data: None,
            mastery_score: None,
            scaled_passing_score: None,
            completion_threshold: None,
            max_time_allowed: None,
            time_limit_action: None,
            objective_ids: Vec::new(),
            objective_status: Vec::new(),
            learner_preferences: BTreeMap::new(),
            comments_from_lms: Vec::new(),
            shared_data: Vec::new(),
            nav_validity: NavValidity::default(),
            prior: None,
            suspend_data_limit: None,
            value_limit: None,
            records_limit: None,
            scorm12: Scorm12Policy::default(),
        }
    }
}

/// The run-time data of an attempt, to persist after `Commit`/`Terminate`
/// and give back as [`LaunchContext::prior`].
///
/// Values are keyed by concrete element name (`cmi.interactions.0.id`);
/// `counts` holds the number of records of each collection that has any.
/// Only data the SCO wrote and data the LMS keeps across sessions
/// (`total_time`, a SCORM 1.2 status decided at `LMSFinish`) is here; what
/// the launch context provides is not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeData {
    /// The version the data was written under.
    pub version: ScormVersion,
    /// Element name to value. A persistent map: a copy shares the nodes it
    /// does not change, so the copy a commit is judged on, and the state
    /// each commit leaves, cost what the commit changes, not the size of
    /// the learner's data.
    #[serde(default)]
    pub values: OrdMap<String, String>,
    /// Collection name to number of records.
    #[serde(default)]
    pub counts: BTreeMap<String, usize>,
}

impl RuntimeData {
    /// Empty data for a new attempt.
    pub fn new(version: ScormVersion) -> RuntimeData {
        RuntimeData {
            version,
            values: OrdMap::new(),
            counts: BTreeMap::new(),
        }
    }

    /// The value stored for a concrete element name.
    pub fn get(&self, element: &str) -> Option<&str> {
        self.values.get(element).map(String::as_str)
    }

    /// The number of records of a concrete collection name.
    pub fn count(&self, collection: &str) -> usize {
        self.counts.get(collection).copied().unwrap_or(0)
    }
}

/// Where the session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SessionState {
    /// Before `Initialize`.
    NotInitialized,
    /// Between `Initialize` and `Terminate`.
    Running,
    /// After `Terminate`; final.
    Terminated,
}

/// One call of the run-time API, named as in SCORM 2004 (the SCORM 1.2
/// `LMS…` names are accepted as aliases in JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fn")]
pub enum ApiCall {
    /// `Initialize("")` / `LMSInitialize("")`.
    #[serde(alias = "LMSInitialize")]
    Initialize {
        /// Must be `""`.
        #[serde(default)]
        arg: String,
    },
    /// `Terminate("")` / `LMSFinish("")`.
    #[serde(alias = "LMSFinish")]
    Terminate {
        /// Must be `""`.
        #[serde(default)]
        arg: String,
    },
    /// `Commit("")` / `LMSCommit("")`.
    #[serde(alias = "LMSCommit")]
    Commit {
        /// Must be `""`.
        #[serde(default)]
        arg: String,
    },
    /// `GetValue(element)` / `LMSGetValue(element)`.
    #[serde(alias = "LMSGetValue")]
    GetValue {
        /// The element name.
        element: String,
    },
    /// `SetValue(element, value)` / `LMSSetValue(element, value)`.
    #[serde(alias = "LMSSetValue")]
    SetValue {
        /// The element name.
        element: String,
        /// The value.
        value: String,
    },
    /// `GetLastError()` / `LMSGetLastError()`.
    #[serde(alias = "LMSGetLastError")]
    GetLastError,
    /// `GetErrorString(code)` / `LMSGetErrorString(code)`.
    #[serde(alias = "LMSGetErrorString")]
    GetErrorString {
        /// The error code.
        #[serde(default)]
        arg: String,
    },
    /// `GetDiagnostic(code)` / `LMSGetDiagnostic(code)`.
    #[serde(alias = "LMSGetDiagnostic")]
    GetDiagnostic {
        /// The error code, or `""` for the last error.
        #[serde(default)]
        arg: String,
    },
}

/// What the content sees for one call: the return value and what
/// `GetLastError()` says afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallOutcome {
    /// The string the API function returns.
    pub result: String,
    /// The error code after the call, as `GetLastError()` writes it.
    pub error: String,
}

/// A call the session recorded: every `Initialize`, `Terminate`, `Commit`
/// and `SetValue`, and every `GetValue` that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedCall {
    /// Position of the call among the recorded calls of the session, from 0.
    pub seq: u64,
    /// The call.
    #[serde(flatten)]
    pub call: ApiCall,
    /// What the function returned.
    pub result: String,
    /// The error code the call left (0 on success).
    pub error: u16,
    /// Why the call failed, for the audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnostic: Option<String>,
    /// The value was kept although it exceeds a smallest permitted maximum.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub spm_exceeded: bool,
    /// The host failed this call (a `Commit` or `Terminate` whose data could
    /// not reach the server): replay it under [`RuntimeSession::set_host_failure`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub host_failure: bool,
}

impl RecordedCall {
    /// An accepted `SetValue`, as its `RuntimeValueSet` event keeps it
    /// (the event holds only the element and the value).
    pub fn accepted_set_value(seq: u64, element: String, value: String) -> RecordedCall {
        RecordedCall {
            seq,
            call: ApiCall::SetValue { element, value },
            result: "true".into(),
            error: 0,
            diagnostic: None,
            spm_exceeded: false,
            host_failure: false,
        }
    }
}

/// A replayed call whose outcome differs from the recorded one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("call {seq} gave error {actual_error} on replay where it gave {expected_error}")]
pub struct ReplayMismatch {
    /// The recorded call's `seq`.
    pub seq: u64,
    /// The error code recorded.
    pub expected_error: u16,
    /// The error code on replay.
    pub actual_error: u16,
    /// The result recorded.
    pub expected_result: String,
    /// The result on replay.
    pub actual_result: String,
}

/// The attempt's state in the terms reports use, for either version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeSummary {
    /// The session's state.
    pub state: SessionState,
    /// `cmi.entry` / `cmi.core.entry` of this session.
    pub entry: String,
    /// The exit the SCO set (`""` if none).
    pub exit: String,
    /// `completed`, `incomplete`, `not attempted` or `unknown` (SCORM 1.2:
    /// derived from `lesson_status`).
    pub completion_status: String,
    /// `passed`, `failed` or `unknown` (SCORM 1.2: derived from `lesson_status`).
    pub success_status: String,
    /// SCORM 1.2 `cmi.core.lesson_status`.
    pub lesson_status: Option<String>,
    /// `score.scaled` (2004 only).
    pub score_scaled: Option<String>,
    /// `score.raw`.
    pub score_raw: Option<String>,
    /// `score.min`.
    pub score_min: Option<String>,
    /// `score.max`.
    pub score_max: Option<String>,
    /// `cmi.progress_measure` (2004 only).
    pub progress_measure: Option<String>,
    /// `total_time` as the data model writes it.
    pub total_time: String,
    /// `total_time` in centiseconds, when it does not use years or months.
    pub total_time_centiseconds: Option<u64>,
    /// `adl.nav.request` (2004 only): processed by the host after `Terminate`;
    /// after `abandon`/`abandonAll` the host discards this session's data.
    pub nav_request: Option<String>,
    /// The SCO left with `suspend`, so the next launch resumes.
    pub suspended: bool,
}

/// A refusal inside the session: the rule, and text for `GetDiagnostic`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fail {
    error: CmiError,
    detail: String,
}

impl Fail {
    fn new(error: CmiError, detail: impl Into<String>) -> Fail {
        Fail {
            error,
            detail: detail.into(),
        }
    }
}

impl From<CmiError> for Fail {
    fn from(error: CmiError) -> Fail {
        Fail {
            error,
            detail: String::new(),
        }
    }
}

/// The error state `GetLastError`, `GetErrorString` and `GetDiagnostic` read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LastError {
    error: Option<CmiError>,
    diagnostic: String,
}

/// A successful `SetValue` check: where to write and what changes.
struct Write {
    key: String,
    /// Collections that gain a record, by concrete name.
    new_records: Vec<String>,
    spm_exceeded: bool,
}

/// The run-time API for one SCO attempt.
///
/// ```
/// use domain::cmi::{LaunchContext, RuntimeSession, ScormVersion};
///
/// let context = LaunchContext::new(ScormVersion::Scorm2004Fourth, "learner-1", "Jane Doe");
/// let mut session = RuntimeSession::new(context).unwrap();
/// session.initialize("").unwrap();
/// session.set_value("cmi.location", "page-3").unwrap();
/// session.set_value("cmi.exit", "suspend").unwrap();
/// session.terminate("").unwrap();
/// assert_eq!(session.data().get("cmi.location"), Some("page-3"));
/// assert_eq!(session.calls().len(), 4);
/// ```
#[derive(Debug, Clone)]
pub struct RuntimeSession {
    version: ScormVersion,
    model: &'static Model,
    credit: Credit,
    mode: Mode,
    policy: Scorm12Policy,
    mastery_score: Option<String>,
    completion_threshold: Option<String>,
    scaled_passing_score: Option<String>,
    max_time_allowed: Option<String>,
    suspend_data_limit: usize,
    value_limit: usize,
    records_limit: usize,
    /// Values and counts of `Source::Launch` elements and collections.
    launch: LaunchProvided,
    shared: Vec<SharedDataBucket>,
    nav_validity: NavValidity,
    data: RuntimeData,
    entry: String,
    state: SessionState,
    last: LastError,
    calls: Vec<RecordedCall>,
    next_seq: u64,
    host_failure: bool,
}

impl RuntimeSession {
    /// Starts a session: checks the launch context, decides `entry`, and
    /// restores or resets the prior data.
    ///
    /// SCORM 2004: a prior session that exited with `suspend` is resumed
    /// (`entry` = `resume`, all data restored); anything else starts a new
    /// attempt (`ab-initio`, fresh data). SCORM 1.2: after `suspend` the data
    /// is restored and `entry` is `resume`; after any other exit `entry` is
    /// `""` and everything but `lesson_location` and `suspend_data` is kept.
    /// Without prior data, `entry` is `ab-initio`.
    ///
    /// # Errors
    ///
    /// A [`LaunchError`] when a launch value does not have the type of the
    /// element it feeds, an id repeats, a limit is below its SPM, or the prior
    /// data does not fit the data model.
    pub fn new(mut context: LaunchContext) -> Result<RuntimeSession, LaunchError> {
        // An empty manifest value means the manifest gave none.
        for value in [
            &mut context.mastery_score,
            &mut context.scaled_passing_score,
            &mut context.completion_threshold,
            &mut context.max_time_allowed,
            &mut context.time_limit_action,
        ] {
            if value.as_deref() == Some("") {
                *value = None;
            }
        }
        let version = context.version;
        let model = model::model(version);
        let checker = Checker { model, version };
        let names = LaunchNames::of(version.family());
        if version.family() == ApiFamily::Scorm12 {
            context.scaled_passing_score = None;
            context.completion_threshold = None;
        } else {
            context.mastery_score = None;
        }
        let suspend_spm = match version.family() {
            ApiFamily::Scorm12 => 4096,
            ApiFamily::Scorm2004 => super::types::suspend_data_spm_2004(checker.validation()),
        };
        let suspend_data_limit =
            at_least(context.suspend_data_limit, suspend_spm, names.suspend_data)?;
        let value_limit = at_least(
            Some(context.value_limit.unwrap_or(DEFAULT_VALUE_LIMIT)),
            64_000,
            "value_limit",
        )?;
        let records_limit = at_least(
            Some(context.records_limit.unwrap_or(DEFAULT_RECORDS_LIMIT)),
            250,
            "records_limit",
        )?;
        let mut launch = launch_values(&context, &checker)?;
        let shared = shared_data(&context, &checker)?;
        let (mut data, entry) = restore(&context, model)?;
        add_manifest_objectives(
            &mut data,
            &context.objective_ids,
            &context.objective_status,
            &checker,
        )?;
        for (name, value) in &context.learner_preferences {
            let path = format!("{}.{name}", names.preferences);
            if model.element(&path, version).is_none() {
                return Err(LaunchError::UnknownPreference(name.clone()));
            }
            checker.check(&path, value)?;
            data.values.insert(path, value.clone());
        }
        launch.values.insert(names.entry.to_owned(), entry.clone());

        Ok(RuntimeSession {
            version,
            model,
            credit: context.credit,
            mode: context.mode,
            policy: context.scorm12,
            mastery_score: context.mastery_score.clone(),
            completion_threshold: context.completion_threshold.clone(),
            scaled_passing_score: context.scaled_passing_score.clone(),
            max_time_allowed: context.max_time_allowed.clone(),
            suspend_data_limit,
            value_limit,
            records_limit,
            launch,
            shared,
            nav_validity: context.nav_validity.clone(),
            data,
            entry,
            state: SessionState::NotInitialized,
            last: LastError {
                error: None,
                diagnostic: String::new(),
            },
            calls: Vec::new(),
            next_seq: 0,
            host_failure: false,
        })
    }

    /// The content's version.
    pub fn version(&self) -> ScormVersion {
        self.version
    }

    /// Where the session is in its life.
    pub fn state(&self) -> SessionState {
        self.state
    }

    /// This session's `entry` value.
    pub fn entry(&self) -> &str {
        &self.entry
    }

    /// The data to persist; after `Terminate` it includes the new
    /// `total_time` and the evaluated statuses.
    pub fn data(&self) -> &RuntimeData {
        &self.data
    }

    /// The shared data buckets with the SCO's writes applied, for the host to
    /// store back.
    pub fn shared_data(&self) -> &[SharedDataBucket] {
        &self.shared
    }

    /// The calls recorded so far.
    pub fn calls(&self) -> &[RecordedCall] {
        &self.calls
    }

    /// Removes and returns the calls recorded so far (their `seq` keeps
    /// counting).
    pub fn take_calls(&mut self) -> Vec<RecordedCall> {
        std::mem::take(&mut self.calls)
    }

    /// Replaces the navigation validity the `adl.nav.request_valid.*`
    /// elements report.
    pub fn set_nav_validity(&mut self, validity: NavValidity) {
        self.nav_validity = validity;
    }

    /// Makes the host-dependent steps fail (`Initialize` → 102, `Commit` →
    /// 391, `Terminate` → 111; 101 in SCORM 1.2), e.g. when the browser can
    /// no longer keep unsent data. A failed `Terminate` leaves the session
    /// running so the content may try again.
    pub fn set_host_failure(&mut self, failing: bool) {
        self.host_failure = failing;
    }

    /// `Initialize("")` / `LMSInitialize("")`: starts the communication
    /// session.
    ///
    /// # Errors
    ///
    /// After `Terminate` [`CmiError::InitializeAfterTerminate`]; with an
    /// argument [`CmiError::NonEmptyArgument`]; while running
    /// [`CmiError::AlreadyInitialized`]; on a host failure
    /// [`CmiError::InitializationFailed`]. The error is also what
    /// `GetLastError` reports next, and the call is recorded.
    pub fn initialize(&mut self, arg: &str) -> Result<(), CmiError> {
        let outcome = self.initialize_inner(arg);
        self.finish_call(
            ApiCall::Initialize {
                arg: arg.to_owned(),
            },
            outcome,
            "true",
            true,
        )
        .map(|_| ())
    }

    /// `Terminate("")` / `LMSFinish("")`: ends the session and settles the
    /// data to persist.
    ///
    /// Both versions add the last `session_time` set to `total_time`.
    /// SCORM 2004 then forces `cmi.exit` to `suspend` after a `suspendAll`
    /// request and stores the evaluated `completion_status` (with a
    /// completion threshold) and `success_status` (with a scaled passing
    /// score). SCORM 1.2 decides `lesson_status`: `browsed` for an untouched
    /// status in browse mode; in normal mode `passed`/`failed` from the
    /// mastery score when credit and a raw score allow (for an untouched
    /// status, or any status with [`Scorm12Policy::mastery_override`]), else
    /// the policy's status for an untouched one; review mode changes nothing.
    ///
    /// # Errors
    ///
    /// After `Terminate` [`CmiError::TerminateAfterTerminate`]; before
    /// `Initialize` [`CmiError::TerminateBeforeInitialize`]; with an argument
    /// [`CmiError::NonEmptyArgument`]; on a host failure
    /// [`CmiError::TerminationFailed`] (the session keeps running).
    pub fn terminate(&mut self, arg: &str) -> Result<(), CmiError> {
        let outcome = self.terminate_inner(arg);
        self.finish_call(
            ApiCall::Terminate {
                arg: arg.to_owned(),
            },
            outcome,
            "true",
            true,
        )
        .map(|_| ())
    }

    /// `Commit("")` / `LMSCommit("")`: the host persists [`Self::data`].
    ///
    /// # Errors
    ///
    /// After `Terminate` [`CmiError::CommitAfterTerminate`]; with an argument
    /// [`CmiError::NonEmptyArgument`]; before `Initialize`
    /// [`CmiError::CommitBeforeInitialize`]; on a host failure
    /// [`CmiError::CommitFailed`].
    pub fn commit(&mut self, arg: &str) -> Result<(), CmiError> {
        let outcome = self.commit_inner(arg);
        self.finish_call(
            ApiCall::Commit {
                arg: arg.to_owned(),
            },
            outcome,
            "true",
            true,
        )
        .map(|_| ())
    }

    /// `GetValue(element)` / `LMSGetValue(element)`. SCORM 2004 answers
    /// `cmi.completion_status` and `cmi.success_status` as evaluated from the
    /// completion threshold and scaled passing score when the launch gives
    /// them. Successful reads are not recorded.
    ///
    /// # Errors
    ///
    /// The state errors, then the name, index, access and initialization
    /// rules of the data model; the content sees `""` and the error's code.
    pub fn get_value(&mut self, element: &str) -> Result<String, CmiError> {
        let outcome = self.get_inner(element);
        let value = outcome.clone().unwrap_or_default();
        self.finish_call(
            ApiCall::GetValue {
                element: element.to_owned(),
            },
            outcome.map(|_| false),
            &value,
            false,
        )
        .map(|_| value)
    }

    /// `SetValue(element, value)` / `LMSSetValue(element, value)`. The value
    /// is stored exactly as given; a value or record above a smallest
    /// permitted maximum is kept and its recorded call flagged.
    ///
    /// # Errors
    ///
    /// The state errors, then in order: the name, the access, each index
    /// (appending at `_count` only) and the prerequisite (`id`, `type`),
    /// uniqueness and write-once ids, the value's type and range, and the
    /// host's limits. A refused call changes nothing.
    pub fn set_value(&mut self, element: &str, value: &str) -> Result<(), CmiError> {
        let outcome = self.set_inner(element, value);
        self.finish_call(
            ApiCall::SetValue {
                element: element.to_owned(),
                value: value.to_owned(),
            },
            outcome,
            "true",
            true,
        )
        .map(|_| ())
    }

    /// `GetLastError()`: the code of the last call's error, `"0"` if none.
    pub fn get_last_error(&self) -> String {
        self.last_code().to_string()
    }

    /// `GetErrorString(code)`: the standard text of a code of this version,
    /// `""` for anything else.
    pub fn get_error_string(&self, code: &str) -> String {
        error_string(self.version, code).to_owned()
    }

    /// `GetDiagnostic(code)`: for `""` or the last error's code, what went
    /// wrong in the last call; for another code of this version, its text;
    /// otherwise `""`. At most 255 characters.
    pub fn get_diagnostic(&self, code: &str) -> String {
        let current = self.last_code().to_string();
        let text = if (code.is_empty() || code == current) && self.last.error.is_some() {
            self.last.diagnostic.clone()
        } else if code.is_empty() {
            error_string(self.version, "0").to_owned()
        } else {
            error_string(self.version, code).to_owned()
        };
        text.chars().take(255).collect()
    }

    /// Runs one API call and returns what the content would see.
    pub fn apply(&mut self, call: &ApiCall) -> CallOutcome {
        let boolean = |r: Result<(), CmiError>| if r.is_ok() { "true" } else { "false" }.to_owned();
        let result = match call {
            ApiCall::Initialize { arg } => boolean(self.initialize(arg)),
            ApiCall::Terminate { arg } => boolean(self.terminate(arg)),
            ApiCall::Commit { arg } => boolean(self.commit(arg)),
            ApiCall::GetValue { element } => self.get_value(element).unwrap_or_default(),
            ApiCall::SetValue { element, value } => boolean(self.set_value(element, value)),
            ApiCall::GetLastError => self.get_last_error(),
            ApiCall::GetErrorString { arg } => self.get_error_string(arg),
            ApiCall::GetDiagnostic { arg } => self.get_diagnostic(arg),
        };
        CallOutcome {
            result,
            error: self.get_last_error(),
        }
    }

    /// Runs a call another runtime recorded (the browser's, sent in a batch)
    /// and checks that it has the same outcome here. Replaying every
    /// recorded call of a session, in order, rebuilds its data exactly:
    /// only recorded calls change data.
    ///
    /// # Errors
    ///
    /// A [`ReplayMismatch`] when the result or error code differs; the call
    /// has still been applied here.
    pub fn replay(&mut self, recorded: &RecordedCall) -> Result<(), ReplayMismatch> {
        let failing = self.host_failure;
        self.host_failure = recorded.host_failure;
        let outcome = self.apply(&recorded.call);
        self.host_failure = failing;
        let error = self.last_code();
        if outcome.result == recorded.result && error == recorded.error {
            Ok(())
        } else {
            Err(ReplayMismatch {
                seq: recorded.seq,
                expected_error: recorded.error,
                actual_error: error,
                expected_result: recorded.result.clone(),
                actual_result: outcome.result,
            })
        }
    }

    /// `adl.nav.request` as last set (`_none_` by default; SCORM 2004 only).
    pub fn nav_request(&self) -> Option<&str> {
        match self.version.family() {
            ApiFamily::Scorm12 => None,
            ApiFamily::Scorm2004 => Some(self.data.get("adl.nav.request").unwrap_or("_none_")),
        }
    }

    /// When the learner has spent `elapsed_centiseconds` in this session,
    /// returns the `time_limit_action` to apply if `total_time` plus that
    /// reaches `max_time_allowed` (`continue,no message` when the manifest
    /// gives none), and `None` while within the limit or when no exact limit
    /// is known.
    pub fn time_limit_reached(&self, elapsed_centiseconds: u64) -> Option<&str> {
        let max = self.max_time_allowed.as_deref()?;
        let names = LaunchNames::of(self.version.family());
        let (limit, total) = match self.version.family() {
            ApiFamily::Scorm12 => (
                Timespan12::parse(max).ok()?.centiseconds(),
                Timespan12::parse(self.stored_or_default(names.total_time))
                    .ok()?
                    .centiseconds(),
            ),
            ApiFamily::Scorm2004 => (
                IsoDuration::parse(max).ok()?.exact_centiseconds()?,
                IsoDuration::parse(self.stored_or_default(names.total_time))
                    .ok()?
                    .exact_centiseconds()?,
            ),
        };
        if total.saturating_add(elapsed_centiseconds) < limit {
            return None;
        }
        Some(
            self.launch
                .values
                .get(names.time_limit_action)
                .map_or("continue,no message", String::as_str),
        )
    }

    /// The attempt's state in version-neutral terms.
    pub fn summary(&self) -> RuntimeSummary {
        let names = LaunchNames::of(self.version.family());
        let owned = |key: &str| self.data.get(key).map(str::to_owned);
        let total_time = self.stored_or_default(names.total_time).to_owned();
        let exit = self.data.get(names.exit).unwrap_or("").to_owned();
        match self.version.family() {
            ApiFamily::Scorm12 => {
                let status = self.stored_or_default("cmi.core.lesson_status").to_owned();
                let (completion, success) = match status.as_str() {
                    "passed" => ("completed", "passed"),
                    "failed" => ("completed", "failed"),
                    "completed" => ("completed", "unknown"),
                    "incomplete" => ("incomplete", "unknown"),
                    "not attempted" => ("not attempted", "unknown"),
                    _ => ("unknown", "unknown"),
                };
                RuntimeSummary {
                    state: self.state,
                    entry: self.entry.clone(),
                    suspended: exit == "suspend",
                    exit,
                    completion_status: completion.to_owned(),
                    success_status: success.to_owned(),
                    lesson_status: Some(status),
                    score_scaled: None,
                    score_raw: owned("cmi.core.score.raw").filter(|s| !s.is_empty()),
                    score_min: owned("cmi.core.score.min").filter(|s| !s.is_empty()),
                    score_max: owned("cmi.core.score.max").filter(|s| !s.is_empty()),
                    progress_measure: None,
                    total_time_centiseconds: Timespan12::parse(&total_time)
                        .ok()
                        .map(Timespan12::centiseconds),
                    total_time,
                    nav_request: None,
                }
            }
            ApiFamily::Scorm2004 => RuntimeSummary {
                state: self.state,
                entry: self.entry.clone(),
                suspended: exit == "suspend",
                exit,
                completion_status: self.evaluated_completion(),
                success_status: self.evaluated_success(),
                lesson_status: None,
                score_scaled: owned("cmi.score.scaled"),
                score_raw: owned("cmi.score.raw"),
                score_min: owned("cmi.score.min"),
                score_max: owned("cmi.score.max"),
                progress_measure: owned("cmi.progress_measure"),
                total_time_centiseconds: IsoDuration::parse(&total_time)
                    .ok()
                    .and_then(|d| d.exact_centiseconds()),
                total_time,
                nav_request: self.nav_request().map(str::to_owned),
            },
        }
    }

    fn last_code(&self) -> u16 {
        self.last.error.map_or(0, |e| e.code(self.version))
    }

    /// Sets the error state and records the call; `record_success` says
    /// whether a successful call is recorded (`GetValue` successes are not).
    fn finish_call(
        &mut self,
        call: ApiCall,
        outcome: Result<bool, Fail>,
        success_result: &str,
        record_success: bool,
    ) -> Result<bool, CmiError> {
        let (result, error, diagnostic, spm_exceeded) = match &outcome {
            Ok(spm_exceeded) => (success_result.to_owned(), None, None, *spm_exceeded),
            Err(fail) => {
                let name = match &call {
                    ApiCall::GetValue { element } | ApiCall::SetValue { element, .. } => {
                        format!("{element}: ")
                    }
                    _ => String::new(),
                };
                let detail = if fail.detail.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", fail.detail)
                };
                let failure = if matches!(call, ApiCall::GetValue { .. }) {
                    String::new()
                } else {
                    "false".to_owned()
                };
                (
                    failure,
                    Some(fail.error),
                    Some(format!("{name}{}{detail}", fail.error)),
                    false,
                )
            }
        };
        // Diagnostics are for GetDiagnostic, which answers at most 255 characters.
        let diagnostic = diagnostic.map(|text| text.chars().take(255).collect::<String>());
        self.last = LastError {
            error,
            diagnostic: diagnostic.clone().unwrap_or_default(),
        };
        if record_success || error.is_some() {
            self.calls.push(RecordedCall {
                seq: self.next_seq,
                call,
                result,
                error: error.map_or(0, |e| e.code(self.version)),
                diagnostic,
                spm_exceeded,
                host_failure: self.host_failure,
            });
            self.next_seq += 1;
        }
        outcome.map_err(|fail| fail.error)
    }

    fn initialize_inner(&mut self, arg: &str) -> Result<bool, Fail> {
        match self.state {
            SessionState::Terminated => Err(CmiError::InitializeAfterTerminate.into()),
            _ if !arg.is_empty() => Err(Fail::new(
                CmiError::NonEmptyArgument,
                format!("got {arg:?}"),
            )),
            SessionState::Running => Err(CmiError::AlreadyInitialized.into()),
            SessionState::NotInitialized if self.host_failure => {
                Err(CmiError::InitializationFailed.into())
            }
            SessionState::NotInitialized => {
                self.state = SessionState::Running;
                Ok(false)
            }
        }
    }

    fn terminate_inner(&mut self, arg: &str) -> Result<bool, Fail> {
        match self.state {
            SessionState::Terminated => Err(CmiError::TerminateAfterTerminate.into()),
            SessionState::NotInitialized => Err(CmiError::TerminateBeforeInitialize.into()),
            SessionState::Running if !arg.is_empty() => Err(Fail::new(
                CmiError::NonEmptyArgument,
                format!("got {arg:?}"),
            )),
            SessionState::Running if self.host_failure => Err(CmiError::TerminationFailed.into()),
            SessionState::Running => {
                match self.version.family() {
                    ApiFamily::Scorm12 => self.finish_scorm12(),
                    ApiFamily::Scorm2004 => self.finish_scorm2004(),
                }
                self.state = SessionState::Terminated;
                Ok(false)
            }
        }
    }

    fn commit_inner(&mut self, arg: &str) -> Result<bool, Fail> {
        match self.state {
            SessionState::Terminated => Err(CmiError::CommitAfterTerminate.into()),
            _ if !arg.is_empty() => Err(Fail::new(
                CmiError::NonEmptyArgument,
                format!("got {arg:?}"),
            )),
            SessionState::NotInitialized => Err(CmiError::CommitBeforeInitialize.into()),
            SessionState::Running if self.host_failure => Err(CmiError::CommitFailed.into()),
            SessionState::Running => Ok(false),
        }
    }

    fn get_inner(&self, name: &str) -> Result<String, Fail> {
        let family = self.version.family();
        match self.state {
            SessionState::Terminated => return Err(CmiError::GetAfterTerminate.into()),
            // ADL's sample RTE answers `GetValue("")` before looking at the state.
            SessionState::NotInitialized if name.is_empty() && family == ApiFamily::Scorm2004 => {
                return Err(CmiError::GetWithoutElement.into());
            }
            SessionState::NotInitialized => return Err(CmiError::GetBeforeInitialize.into()),
            SessionState::Running => {}
        }
        if name.is_empty() {
            return Err(CmiError::GetWithoutElement.into());
        }
        match self.model.resolve(name, self.version)? {
            Address::Version => Ok(self.version.data_model_version().to_owned()),
            Address::Children(children) => Ok(children.to_owned()),
            Address::Count {
                collection,
                indices,
            } => {
                self.check_read_indices(collection.path, &indices)?;
                let key = model::instantiate(collection.path, &indices);
                Ok(self.count_of(collection, &key).to_string())
            }
            Address::NavTarget { element, target } => {
                let map = if element.path.ends_with("jump") {
                    &self.nav_validity.jump
                } else {
                    &self.nav_validity.choice
                };
                Ok(map
                    .get(&target)
                    .copied()
                    .unwrap_or_default()
                    .as_str()
                    .to_owned())
            }
            Address::Leaf { element, indices } => self.read_leaf(element, &indices),
        }
    }

    fn read_leaf(&self, element: &'static Element, indices: &[usize]) -> Result<String, Fail> {
        self.check_read_indices(element.path, indices)?;
        if !element.access.readable() {
            return Err(CmiError::WriteOnly.into());
        }
        let key = model::instantiate(element.path, indices);
        match element.source {
            Source::Navigation => {
                return match element.path.rsplit('.').next() {
                    Some("continue") => Ok(self.nav_validity.continue_request.as_str().to_owned()),
                    Some("previous") => Ok(self.nav_validity.previous.as_str().to_owned()),
                    _ => Err(Fail::new(CmiError::MissingTarget, "use .{target=ID}")),
                };
            }
            Source::SharedData => {
                let bucket = &self.shared[indices[0]];
                return if element.path.ends_with(".id") {
                    Ok(bucket.id.clone())
                } else if !bucket.readable {
                    Err(Fail::new(CmiError::WriteOnly, "readSharedData is false"))
                } else {
                    bucket
                        .store
                        .clone()
                        .ok_or_else(|| CmiError::NotInitialized.into())
                };
            }
            Source::Data | Source::Launch => {}
        }
        if self.version.family() == ApiFamily::Scorm2004 {
            match element.path {
                "cmi.completion_status" => return Ok(self.evaluated_completion()),
                "cmi.success_status" => return Ok(self.evaluated_success()),
                _ => {}
            }
        }
        let stored = match element.source {
            Source::Launch => self.launch.values.get(&key),
            _ => self.data.values.get(&key),
        };
        stored
            .cloned()
            .or_else(|| element.default.map(str::to_owned))
            .ok_or_else(|| CmiError::NotInitialized.into())
    }

    /// Checks that every record `path` (an element or a collection) sits in
    /// exists.
    fn check_read_indices(&self, path: &str, indices: &[usize]) -> Result<(), Fail> {
        for (level, outer) in model::collections_along(path).into_iter().enumerate() {
            let key = model::instantiate(outer, &indices[..level]);
            let count = self.count_at(outer, &key);
            if indices[level] >= count {
                return Err(Fail::new(
                    CmiError::IndexOutOfRange,
                    format!("{key} has {count} records"),
                ));
            }
        }
        Ok(())
    }

    fn count_at(&self, collection_path: &str, key: &str) -> usize {
        let collection = self
            .model
            .collection(collection_path, self.version)
            .expect("paths come from the table");
        self.count_of(collection, key)
    }

    fn count_of(&self, collection: &Collection, key: &str) -> usize {
        match collection.source {
            Source::Launch => self.launch.counts.get(key).copied().unwrap_or(0),
            Source::SharedData => self.shared.len(),
            Source::Data | Source::Navigation => self.data.count(key),
        }
    }

    fn set_inner(&mut self, name: &str, value: &str) -> Result<bool, Fail> {
        match self.state {
            SessionState::Terminated => return Err(CmiError::SetAfterTerminate.into()),
            SessionState::NotInitialized => return Err(CmiError::SetBeforeInitialize.into()),
            SessionState::Running => {}
        }
        if name.is_empty() {
            return Err(CmiError::SetWithoutElement.into());
        }
        let address = match self.model.resolve(name, self.version) {
            // Every keyword is read-only, whether or not the element has it.
            Err(CmiError::NoChildren | CmiError::NoCount | CmiError::NoVersion) => {
                return Err(CmiError::KeywordIsReadOnly.into());
            }
            // `adl.nav.request_valid.choice.{…}` is read-only, target or not.
            Err(CmiError::MissingTarget) => return Err(CmiError::ReadOnly.into()),
            other => other?,
        };
        let (element, indices) = match address {
            Address::Version | Address::Children(_) | Address::Count { .. } => {
                return Err(CmiError::KeywordIsReadOnly.into());
            }
            Address::NavTarget { .. } => return Err(CmiError::ReadOnly.into()),
            Address::Leaf { element, indices } => (element, indices),
        };
        if !element.access.writable() {
            return Err(CmiError::ReadOnly.into());
        }
        let write = self.check_write(element, &indices, value)?;
        self.apply_write(element, &indices, write, value)
    }

    /// Every check of `SetValue` after the name resolved to a writable element.
    fn check_write(
        &self,
        element: &'static Element,
        indices: &[usize],
        value: &str,
    ) -> Result<Write, Fail> {
        let collections = model::collections_along(element.path);
        let dependency_depth = element.depends_on.map(model::depth);
        let mut new_records: Vec<String> = Vec::new();
        let mut records_above_spm = false;
        for (level, collection_path) in collections.iter().enumerate() {
            let key = model::instantiate(collection_path, &indices[..level]);
            let collection = self
                .model
                .collection(collection_path, self.version)
                .expect("paths come from the table");
            let count = if new_records.is_empty() {
                self.count_of(collection, &key)
            } else {
                0
            };
            let index = indices[level];
            if index > count {
                return Err(Fail::new(
                    CmiError::IndexOutOfOrder,
                    format!("{key} has {count} records; the next is {count}"),
                ));
            }
            if index == count {
                if collection.source != Source::Data {
                    return Err(Fail::new(
                        CmiError::NotAppendable,
                        format!("{key} is provided by the lms"),
                    ));
                }
                if collection_path.ends_with("correct_responses")
                    && let Some(kind) = self.interaction_type(&indices[..level])
                    && kind.format().patterns_max
                    && count >= kind.format().patterns_spm
                {
                    return Err(Fail::new(
                        CmiError::CollectionFull,
                        format!("a {} interaction has one correct response", kind.as_str()),
                    ));
                }
                if count >= self.records_limit {
                    return Err(Fail::new(
                        CmiError::TooManyRecords,
                        format!("{key} is limited to {} records", self.records_limit),
                    ));
                }
                let spm = match self.interaction_type(&indices[..level]) {
                    Some(kind) if collection_path.ends_with("correct_responses") => {
                        kind.format().patterns_spm
                    }
                    _ => collection.spm,
                };
                records_above_spm |= count >= spm;
                new_records.push(key);
            }
            if dependency_depth == Some(level + 1) {
                self.check_dependency(element, indices, &new_records, level)?;
            }
        }
        if element.source == Source::SharedData && !self.shared[indices[0]].writable {
            return Err(Fail::new(CmiError::ReadOnly, "writeSharedData is false"));
        }
        let key = model::instantiate(element.path, indices);
        self.check_unique(element, indices, &key, value, !new_records.is_empty())?;
        let context = ValidationContext {
            fourth_edition: self.version.is_fourth_edition(),
            interaction_type: if matches!(
                element.ty,
                ValueType::LearnerResponse | ValueType::CorrectResponsePattern
            ) {
                self.interaction_type(&indices[..1])
            } else {
                None
            },
        };
        let accepted = element
            .ty
            .validate(value, context)
            .map_err(|refused| Fail::new(refused.error, refused.reason))?;
        let limit = match element.ty {
            ValueType::SuspendData12 | ValueType::SuspendData2004 => Some(self.suspend_data_limit),
            _ if self.version.family() == ApiFamily::Scorm2004 => Some(self.value_limit),
            _ => None,
        };
        if let Some(limit) = limit
            && value.chars().count() > limit
        {
            return Err(Fail::new(
                CmiError::ValueTooLong,
                format!("longer than the limit of {limit} characters"),
            ));
        }
        Ok(Write {
            key,
            new_records,
            spm_exceeded: accepted.spm_exceeded || records_above_spm,
        })
    }

    /// The element's prerequisite must hold a value; it cannot if it lives
    /// in a record this call would create.
    fn check_dependency(
        &self,
        element: &Element,
        indices: &[usize],
        new_records: &[String],
        level: usize,
    ) -> Result<(), Fail> {
        let Some(dependency) = element.depends_on else {
            return Ok(());
        };
        let dependency_key = model::instantiate(dependency, &indices[..=level]);
        let missing = !new_records.is_empty() || !self.data.values.contains_key(&dependency_key);
        if missing {
            return Err(Fail::new(
                CmiError::DependencyNotEstablished,
                format!("{dependency_key} must be set first"),
            ));
        }
        Ok(())
    }

    /// Uniqueness within the innermost collection and write-once ids.
    fn check_unique(
        &self,
        element: &Element,
        indices: &[usize],
        key: &str,
        value: &str,
        creating: bool,
    ) -> Result<(), Fail> {
        if element.write_once
            && !creating
            && let Some(current) = self.data.values.get(key)
            && current != value
        {
            return Err(Fail::new(
                CmiError::IdentifierOverwrite,
                format!("already {current:?}"),
            ));
        }
        let pattern_rule = if element.ty == ValueType::CorrectResponsePattern {
            self.interaction_type(&indices[..1])
                .map_or(PatternUniqueness::None, |kind| {
                    kind.format().unique_patterns
                })
        } else if element.unique {
            PatternUniqueness::Exact
        } else {
            PatternUniqueness::None
        };
        if pattern_rule == PatternUniqueness::None {
            return Ok(());
        }
        let Some(collection) = model::collections_along(element.path).last().copied() else {
            return Ok(());
        };
        let depth = indices.len();
        let collection_key = model::instantiate(collection, &indices[..depth - 1]);
        let count = self.data.count(&collection_key);
        for other in (0..count).filter(|i| *i != indices[depth - 1]) {
            let mut other_indices = indices.to_vec();
            other_indices[depth - 1] = other;
            let other_key = model::instantiate(element.path, &other_indices);
            if let Some(existing) = self.data.values.get(&other_key)
                && pattern_rule.same(existing, value)
            {
                return Err(Fail::new(
                    CmiError::NotUnique,
                    format!("{other_key} already holds it"),
                ));
            }
        }
        Ok(())
    }

    fn apply_write(
        &mut self,
        element: &Element,
        indices: &[usize],
        write: Write,
        value: &str,
    ) -> Result<bool, Fail> {
        for collection in &write.new_records {
            *self.data.counts.entry(collection.clone()).or_insert(0) += 1;
        }
        if element.source == Source::SharedData {
            self.shared[indices[0]].store = Some(value.to_owned());
            return Ok(write.spm_exceeded);
        }
        if element.path == "cmi.interactions.n.type"
            && self.version.family() == ApiFamily::Scorm2004
        {
            let previous = self.data.values.get(&write.key).cloned();
            if previous.as_deref().is_some_and(|p| p != value) {
                self.clear_responses(indices[0]);
            }
        }
        self.data.values.insert(write.key, value.to_owned());
        Ok(write.spm_exceeded)
    }

    /// A new interaction type invalidates the responses written for the old
    /// one (ADL's sample RTE does the same).
    fn clear_responses(&mut self, interaction: usize) {
        let prefix = format!("cmi.interactions.{interaction}.");
        let responses = format!("{prefix}correct_responses");
        self.data
            .values
            .remove(&format!("{prefix}learner_response"));
        let patterns = self.data.counts.remove(&responses).unwrap_or(0);
        for index in 0..patterns {
            self.data
                .values
                .remove(&format!("{responses}.{index}.pattern"));
        }
    }

    /// The SCORM 2004 type of the interaction at `indices[0]`, if set.
    fn interaction_type(&self, indices: &[usize]) -> Option<InteractionType> {
        if self.version.family() != ApiFamily::Scorm2004 {
            return None;
        }
        let interaction = indices.first()?;
        self.data
            .get(&format!("cmi.interactions.{interaction}.type"))
            .and_then(InteractionType::parse)
    }

    fn stored_or_default(&self, path: &'static str) -> &str {
        self.data.get(path).unwrap_or_else(|| {
            self.model
                .element(path, self.version)
                .and_then(|e| e.default)
                .unwrap_or("")
        })
    }

    /// RTE 4th ed. §4.2.4: with a completion threshold, progress decides.
    fn evaluated_completion(&self) -> String {
        match &self.completion_threshold {
            Some(threshold) => match self.data.get("cmi.progress_measure") {
                Some(progress) => {
                    if number(progress) >= number(threshold) {
                        "completed".to_owned()
                    } else {
                        "incomplete".to_owned()
                    }
                }
                None => "unknown".to_owned(),
            },
            None => self.stored_or_default("cmi.completion_status").to_owned(),
        }
    }

    /// RTE 4th ed. §4.2.22: with a scaled passing score, the scaled score decides.
    fn evaluated_success(&self) -> String {
        match &self.scaled_passing_score {
            Some(passing) => match self.data.get("cmi.score.scaled") {
                Some(scaled) => {
                    if number(scaled) >= number(passing) {
                        "passed".to_owned()
                    } else {
                        "failed".to_owned()
                    }
                }
                None => "unknown".to_owned(),
            },
            None => self.stored_or_default("cmi.success_status").to_owned(),
        }
    }

    /// SCORM 2004 `Terminate`: a `suspendAll` request forces `suspend`;
    /// `session_time` is added to `total_time`; the evaluated statuses are
    /// stored.
    fn finish_scorm2004(&mut self) {
        if self.data.get("adl.nav.request") == Some("suspendAll") {
            self.data
                .values
                .insert("cmi.exit".to_owned(), "suspend".to_owned());
        }
        if let Some(session) = self.data.get("cmi.session_time") {
            let session = IsoDuration::parse(session).unwrap_or(IsoDuration::ZERO);
            let total = IsoDuration::parse(self.stored_or_default("cmi.total_time"))
                .unwrap_or(IsoDuration::ZERO);
            self.data
                .values
                .insert("cmi.total_time".to_owned(), (total + session).to_string());
        }
        if self.completion_threshold.is_some() {
            let status = self.evaluated_completion();
            self.data
                .values
                .insert("cmi.completion_status".to_owned(), status);
        }
        if self.scaled_passing_score.is_some() {
            let status = self.evaluated_success();
            self.data
                .values
                .insert("cmi.success_status".to_owned(), status);
        }
    }

    /// SCORM 1.2 `LMSFinish` (RTE 1.2 §3.4.4 "additional behavior"):
    /// `session_time` is added to `total_time`; in browse mode an untouched
    /// status becomes `browsed`; in normal mode an untouched status becomes
    /// `passed`/`failed` when credit, a mastery score and a raw score allow
    /// judging, else the policy's status; with `mastery_override` a status
    /// the SCO set is judged too. Review mode changes no status.
    fn finish_scorm12(&mut self) {
        if let Some(session) = self.data.get("cmi.core.session_time") {
            let session = Timespan12::parse(session).unwrap_or(Timespan12::ZERO);
            let total = Timespan12::parse(self.stored_or_default("cmi.core.total_time"))
                .unwrap_or(Timespan12::ZERO);
            self.data.values.insert(
                "cmi.core.total_time".to_owned(),
                (total + session).to_string(),
            );
        }
        let status = self.stored_or_default("cmi.core.lesson_status").to_owned();
        let untouched = status == "not attempted";
        let raw = self
            .data
            .get("cmi.core.score.raw")
            .filter(|raw| !raw.is_empty());
        let judged = match (&self.mastery_score, raw, self.credit) {
            (Some(mastery), Some(raw), Credit::Credit) => Some(if number(raw) >= number(mastery) {
                "passed"
            } else {
                "failed"
            }),
            _ => None,
        };
        let new_status = match self.mode {
            Mode::Browse if untouched => Some("browsed"),
            Mode::Normal if untouched => {
                Some(judged.unwrap_or(match self.policy.unset_status_at_finish {
                    UnsetStatusAtFinish::Completed => "completed",
                    UnsetStatusAtFinish::Incomplete => "incomplete",
                }))
            }
            Mode::Normal if self.policy.mastery_override => judged,
            Mode::Browse | Mode::Normal | Mode::Review => None,
        };
        if let Some(new_status) = new_status {
            self.data
                .values
                .insert("cmi.core.lesson_status".to_owned(), new_status.to_owned());
        }
    }
}

/// Checks launch values against the elements they feed.
struct Checker {
    model: &'static Model,
    version: ScormVersion,
}

impl Checker {
    fn validation(&self) -> ValidationContext {
        ValidationContext {
            fourth_edition: self.version.is_fourth_edition(),
            interaction_type: None,
        }
    }

    /// A launch value for an element this version lacks (an objective
    /// seed's `success_status` in SCORM 1.2) is invalid like a mistyped one.
    fn check(&self, path: &str, value: &str) -> Result<(), LaunchError> {
        let invalid = || LaunchError::InvalidValue {
            element: path.to_owned(),
            value: value.to_owned(),
        };
        let element = self.model.element(path, self.version).ok_or_else(invalid)?;
        element
            .ty
            .validate(value, self.validation())
            .map(|_| ())
            .map_err(|_| invalid())
    }
}

/// The values and record counts of the elements the launch context
/// provides, by concrete name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LaunchProvided {
    values: BTreeMap<String, String>,
    counts: BTreeMap<String, usize>,
}

/// The values and counts of the elements the launch context provides.
fn launch_values(
    context: &LaunchContext,
    checker: &Checker,
) -> Result<LaunchProvided, LaunchError> {
    let names = LaunchNames::of(context.version.family());
    let mut values = BTreeMap::new();
    let mut counts = BTreeMap::new();
    let optional = [
        (names.launch_data, &context.launch_data),
        (names.max_time_allowed, &context.max_time_allowed),
        (names.time_limit_action, &context.time_limit_action),
        ("cmi.student_data.mastery_score", &context.mastery_score),
        ("cmi.scaled_passing_score", &context.scaled_passing_score),
        ("cmi.completion_threshold", &context.completion_threshold),
    ];
    let required = [
        (names.learner_id, &context.learner_id),
        (names.learner_name, &context.learner_name),
    ];
    for (name, value) in optional
        .into_iter()
        .filter_map(|(name, value)| value.as_ref().map(|v| (name, v)))
        .chain(required)
    {
        checker.check(name, value)?;
        values.insert(name.to_owned(), value.clone());
    }
    values.insert(names.credit.to_owned(), context.credit.as_str().to_owned());
    values.insert(names.mode.to_owned(), context.mode.as_str().to_owned());
    if context.comments_from_lms.is_empty() {
        return Ok(LaunchProvided { values, counts });
    }
    match context.version.family() {
        ApiFamily::Scorm12 => {
            let texts: Vec<&str> = context
                .comments_from_lms
                .iter()
                .map(|c| c.comment.as_str())
                .collect();
            let joined = texts.join("\n");
            checker.check("cmi.comments_from_lms", &joined)?;
            values.insert("cmi.comments_from_lms".to_owned(), joined);
        }
        ApiFamily::Scorm2004 => {
            for (index, comment) in context.comments_from_lms.iter().enumerate() {
                let fields = [
                    ("comment", Some(&comment.comment)),
                    ("location", comment.location.as_ref()),
                    ("timestamp", comment.timestamp.as_ref()),
                ];
                for (field, value) in fields {
                    if let Some(value) = value {
                        checker.check(&format!("cmi.comments_from_lms.n.{field}"), value)?;
                        values.insert(
                            format!("cmi.comments_from_lms.{index}.{field}"),
                            value.clone(),
                        );
                    }
                }
            }
            counts.insert(
                "cmi.comments_from_lms".to_owned(),
                context.comments_from_lms.len(),
            );
        }
    }
    Ok(LaunchProvided { values, counts })
}

/// The shared data buckets of a SCORM 2004 4th edition launch (none before).
fn shared_data(
    context: &LaunchContext,
    checker: &Checker,
) -> Result<Vec<SharedDataBucket>, LaunchError> {
    if !context.version.is_fourth_edition() {
        return Ok(Vec::new());
    }
    for (position, bucket) in context.shared_data.iter().enumerate() {
        checker.check("adl.data.n.id", &bucket.id)?;
        if context.shared_data[..position]
            .iter()
            .any(|other| other.id == bucket.id)
        {
            return Err(LaunchError::DuplicateId {
                element: "adl.data".to_owned(),
                id: bucket.id.clone(),
            });
        }
    }
    Ok(context.shared_data.clone())
}

/// Appends a `cmi.objectives` record for each manifest objective the data
/// does not have yet.
fn add_manifest_objectives(
    data: &mut RuntimeData,
    ids: &[String],
    seeds: &[ObjectiveSeed],
    checker: &Checker,
) -> Result<(), LaunchError> {
    for (position, id) in ids.iter().enumerate() {
        checker.check("cmi.objectives.n.id", id)?;
        if ids[..position].contains(id) {
            return Err(LaunchError::DuplicateId {
                element: "cmi.objectives".to_owned(),
                id: id.clone(),
            });
        }
        let count = data.count("cmi.objectives");
        let present = (0..count).any(|i| data.get(&format!("cmi.objectives.{i}.id")) == Some(id));
        if !present {
            data.values
                .insert(format!("cmi.objectives.{count}.id"), id.clone());
            data.counts.insert("cmi.objectives".to_owned(), count + 1);
            if let Some(seed) = seeds.iter().find(|seed| seed.id == *id) {
                let values = [
                    ("success_status", &seed.success_status),
                    ("completion_status", &seed.completion_status),
                    ("score.scaled", &seed.score_scaled),
                    ("score.raw", &seed.score_raw),
                    ("score.min", &seed.score_min),
                    ("score.max", &seed.score_max),
                    ("progress_measure", &seed.progress_measure),
                ];
                for (element, value) in values {
                    if let Some(value) = value {
                        checker.check(&format!("cmi.objectives.n.{element}"), value)?;
                        data.values
                            .insert(format!("cmi.objectives.{count}.{element}"), value.clone());
                    }
                }
            }
        }
    }
    Ok(())
}

/// Reads a number the validators accepted.
fn number(text: &str) -> f64 {
    text.parse().unwrap_or(f64::NAN)
}

fn at_least(limit: Option<usize>, minimum: usize, element: &str) -> Result<usize, LaunchError> {
    match limit {
        None => Ok(minimum),
        Some(limit) if limit >= minimum => Ok(limit),
        Some(limit) => Err(LaunchError::LimitTooLow {
            element: element.to_owned(),
            limit,
            minimum,
        }),
    }
}

/// The names of the launch-provided and LMS-kept elements of a family.
struct LaunchNames {
    learner_id: &'static str,
    learner_name: &'static str,
    credit: &'static str,
    mode: &'static str,
    entry: &'static str,
    exit: &'static str,
    session_time: &'static str,
    total_time: &'static str,
    launch_data: &'static str,
    max_time_allowed: &'static str,
    time_limit_action: &'static str,
    suspend_data: &'static str,
    location: &'static str,
    preferences: &'static str,
}

impl LaunchNames {
    fn of(family: ApiFamily) -> LaunchNames {
        match family {
            ApiFamily::Scorm12 => LaunchNames {
                learner_id: "cmi.core.student_id",
                learner_name: "cmi.core.student_name",
                credit: "cmi.core.credit",
                mode: "cmi.core.lesson_mode",
                entry: "cmi.core.entry",
                exit: "cmi.core.exit",
                session_time: "cmi.core.session_time",
                total_time: "cmi.core.total_time",
                launch_data: "cmi.launch_data",
                max_time_allowed: "cmi.student_data.max_time_allowed",
                time_limit_action: "cmi.student_data.time_limit_action",
                suspend_data: "cmi.suspend_data",
                location: "cmi.core.lesson_location",
                preferences: "cmi.student_preference",
            },
            ApiFamily::Scorm2004 => LaunchNames {
                learner_id: "cmi.learner_id",
                learner_name: "cmi.learner_name",
                credit: "cmi.credit",
                mode: "cmi.mode",
                entry: "cmi.entry",
                exit: "cmi.exit",
                session_time: "cmi.session_time",
                total_time: "cmi.total_time",
                launch_data: "cmi.launch_data",
                max_time_allowed: "cmi.max_time_allowed",
                time_limit_action: "cmi.time_limit_action",
                suspend_data: "cmi.suspend_data",
                location: "cmi.location",
                preferences: "cmi.learner_preference",
            },
        }
    }
}

/// Decides `entry` and the starting data from the prior data.
fn restore(context: &LaunchContext, model: &Model) -> Result<(RuntimeData, String), LaunchError> {
    let version = context.version;
    let names = LaunchNames::of(version.family());
    let Some(prior) = &context.prior else {
        return Ok((RuntimeData::new(version), "ab-initio".to_owned()));
    };
    if prior.version != version {
        return Err(LaunchError::PriorVersionMismatch {
            expected: version,
            found: prior.version,
        });
    }
    check_prior(prior, model, version)?;
    let suspended = prior.get(names.exit) == Some("suspend");
    let (mut data, entry) = match (version.family(), suspended) {
        (_, true) => (prior.clone(), "resume"),
        (ApiFamily::Scorm2004, false) => (RuntimeData::new(version), "ab-initio"),
        (ApiFamily::Scorm12, false) => {
            let mut data = prior.clone();
            data.values.remove(names.suspend_data);
            data.values.remove(names.location);
            (data, "")
        }
    };
    data.values.remove(names.exit);
    data.values.remove(names.session_time);
    data.values.remove("adl.nav.request");
    Ok((data, entry.to_owned()))
}

/// Prior data must name elements of the model that live in the data, in
/// records its counts cover.
fn check_prior(
    prior: &RuntimeData,
    model: &Model,
    version: ScormVersion,
) -> Result<(), LaunchError> {
    let inconsistent = |key: &str| LaunchError::PriorData(key.to_owned());
    for key in prior.values.keys() {
        let Ok(Address::Leaf { element, indices }) = model.resolve(key, version) else {
            return Err(inconsistent(key));
        };
        if element.source != Source::Data
            || (element.access == Access::ReadOnly && !is_lms_kept(element))
        {
            return Err(inconsistent(key));
        }
        for (level, collection) in model::collections_along(element.path)
            .into_iter()
            .enumerate()
        {
            let collection_key = model::instantiate(collection, &indices[..level]);
            if indices[level] >= prior.count(&collection_key) {
                return Err(inconsistent(key));
            }
        }
    }
    for (key, count) in &prior.counts {
        let Ok(Address::Count { collection, .. }) =
            model.resolve(&format!("{key}._count"), version)
        else {
            return Err(inconsistent(key));
        };
        if collection.source != Source::Data || *count == 0 {
            return Err(inconsistent(key));
        }
    }
    Ok(())
}

/// Read-only elements the LMS keeps in the run-time data.
fn is_lms_kept(element: &Element) -> bool {
    matches!(element.path, "cmi.total_time" | "cmi.core.total_time")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(version: ScormVersion) -> RuntimeSession {
        let mut session =
            RuntimeSession::new(LaunchContext::new(version, "learner-1", "Doe, Jane")).unwrap();
        session.initialize("").unwrap();
        session
    }

    /// Runtime data is kept in events and views as JSON: the persistent map
    /// writes the object a `BTreeMap` wrote (keys in order) and reads it
    /// back, and a copy changed after it was taken leaves the original be.
    #[test]
    fn runtime_data_keeps_its_json_form_and_copies_are_independent() {
        let mut data = RuntimeData::new(ScormVersion::Scorm12);
        for (key, value) in [
            ("cmi.suspend_data", "s"),
            ("cmi.core.lesson_location", "p2"),
            ("cmi.interactions.0.id", "q1"),
        ] {
            data.values.insert(key.to_owned(), value.to_owned());
        }
        data.counts.insert("cmi.interactions".to_owned(), 1);
        let json = serde_json::to_string(&data).unwrap();
        assert_eq!(
            json,
            r#"{"version":"1.2","values":{"cmi.core.lesson_location":"p2","cmi.interactions.0.id":"q1","cmi.suspend_data":"s"},"counts":{"cmi.interactions":1}}"#
        );
        let back: RuntimeData = serde_json::from_str(&json).unwrap();
        assert_eq!(back, data);

        let mut copy = data.clone();
        copy.values
            .insert("cmi.suspend_data".to_owned(), "changed".to_owned());
        copy.values.remove("cmi.core.lesson_location");
        assert_eq!(data.get("cmi.suspend_data"), Some("s"));
        assert_eq!(data.get("cmi.core.lesson_location"), Some("p2"));
        assert_eq!(copy.get("cmi.suspend_data"), Some("changed"));
        assert_eq!(copy.get("cmi.core.lesson_location"), None);
    }

    #[test]
    fn new_attempt_starts_ab_initio_with_defaults() {
        let mut s = session(ScormVersion::Scorm2004Fourth);
        assert_eq!(s.get_value("cmi.entry"), Ok("ab-initio".to_owned()));
        assert_eq!(s.get_value("cmi.total_time"), Ok("PT0H0M0S".to_owned()));
        assert_eq!(s.get_value("cmi.location"), Err(CmiError::NotInitialized));
        assert_eq!(s.get_last_error(), "403");
        let mut s = session(ScormVersion::Scorm12);
        assert_eq!(s.get_value("cmi.core.entry"), Ok("ab-initio".to_owned()));
        assert_eq!(
            s.get_value("cmi.core.lesson_status"),
            Ok("not attempted".to_owned())
        );
        assert_eq!(s.get_value("cmi.core.lesson_location"), Ok(String::new()));
    }

    #[test]
    fn suspend_and_resume_restore_everything_in_2004() {
        let mut first = session(ScormVersion::Scorm2004Fourth);
        let big = "x".repeat(64_000);
        first.set_value("cmi.suspend_data", &big).unwrap();
        first.set_value("cmi.interactions.0.id", "q1").unwrap();
        first.set_value("cmi.session_time", "PT1M30S").unwrap();
        first.set_value("cmi.exit", "suspend").unwrap();
        first.terminate("").unwrap();
        let mut context =
            LaunchContext::new(ScormVersion::Scorm2004Fourth, "learner-1", "Doe, Jane");
        context.prior = Some(first.data().clone());
        let mut second = RuntimeSession::new(context.clone()).unwrap();
        second.initialize("").unwrap();
        assert_eq!(second.get_value("cmi.entry"), Ok("resume".to_owned()));
        assert_eq!(second.get_value("cmi.suspend_data"), Ok(big));
        assert_eq!(
            second.get_value("cmi.interactions._count"),
            Ok("1".to_owned())
        );
        assert_eq!(second.get_value("cmi.total_time"), Ok("PT1M30S".to_owned()));
        // Exit and session time belong to the session that set them.
        second.terminate("").unwrap();
        context.prior = Some(second.data().clone());
        let mut third = RuntimeSession::new(context).unwrap();
        third.initialize("").unwrap();
        assert_eq!(third.get_value("cmi.entry"), Ok("ab-initio".to_owned()));
        assert_eq!(
            third.get_value("cmi.interactions._count"),
            Ok("0".to_owned())
        );
    }

    #[test]
    fn an_objective_seed_for_an_element_the_version_lacks_is_refused() {
        let mut context = LaunchContext::new(ScormVersion::Scorm12, "learner-1", "Doe, Jane");
        context.objective_ids = vec!["m1".to_owned()];
        context.objective_status = vec![ObjectiveSeed {
            id: "m1".to_owned(),
            success_status: Some("passed".to_owned()),
            ..ObjectiveSeed::default()
        }];
        let refused = RuntimeSession::new(context.clone()).map(|_| ());
        assert_eq!(
            refused,
            Err(LaunchError::InvalidValue {
                element: "cmi.objectives.n.success_status".to_owned(),
                value: "passed".to_owned(),
            })
        );
        // A score seed is a SCORM 1.2 element too.
        context.objective_status[0].success_status = None;
        context.objective_status[0].score_raw = Some("80".to_owned());
        let mut session = RuntimeSession::new(context).unwrap();
        session.initialize("").unwrap();
        assert_eq!(
            session.get_value("cmi.objectives.0.score.raw"),
            Ok("80".to_owned())
        );
    }

    #[test]
    fn suspend_data_limit_refuses_without_truncating() {
        let mut context = LaunchContext::new(ScormVersion::Scorm12, "learner-1", "Doe, Jane");
        context.suspend_data_limit = Some(10_000);
        let mut s = RuntimeSession::new(context).unwrap();
        s.initialize("").unwrap();
        let fits = "s".repeat(10_000);
        assert_eq!(s.set_value("cmi.suspend_data", &fits), Ok(()));
        assert!(s.calls().last().unwrap().spm_exceeded);
        assert_eq!(
            s.set_value("cmi.suspend_data", &"s".repeat(10_001)),
            Err(CmiError::ValueTooLong)
        );
        assert_eq!(s.get_last_error(), "405");
        assert_eq!(s.get_value("cmi.suspend_data"), Ok(fits));
        let mut default = session(ScormVersion::Scorm12);
        assert_eq!(
            default.set_value("cmi.suspend_data", &"s".repeat(4097)),
            Err(CmiError::ValueTooLong)
        );
        let low = LaunchContext {
            suspend_data_limit: Some(100),
            ..LaunchContext::new(ScormVersion::Scorm12, "l", "n")
        };
        assert!(matches!(
            RuntimeSession::new(low),
            Err(LaunchError::LimitTooLow { minimum: 4096, .. })
        ));
    }

    #[test]
    fn scorm12_finish_judges_status_from_mastery_score() {
        // (mode, credit, status set, raw set, override) → status after finish
        type Case<'a> = (
            Mode,
            Credit,
            Option<&'a str>,
            Option<&'a str>,
            bool,
            &'a str,
        );
        let cases: &[Case] = &[
            (Mode::Normal, Credit::Credit, None, None, false, "completed"),
            (
                Mode::Normal,
                Credit::Credit,
                None,
                Some("85"),
                false,
                "passed",
            ),
            (
                Mode::Normal,
                Credit::Credit,
                None,
                Some("79.9"),
                false,
                "failed",
            ),
            (
                Mode::Normal,
                Credit::NoCredit,
                None,
                Some("85"),
                false,
                "completed",
            ),
            (
                Mode::Normal,
                Credit::Credit,
                Some("incomplete"),
                Some("85"),
                false,
                "incomplete",
            ),
            (
                Mode::Normal,
                Credit::Credit,
                Some("incomplete"),
                Some("85"),
                true,
                "passed",
            ),
            (
                Mode::Normal,
                Credit::Credit,
                Some("passed"),
                Some("10"),
                true,
                "failed",
            ),
            (
                Mode::Browse,
                Credit::Credit,
                None,
                Some("85"),
                false,
                "browsed",
            ),
            (
                Mode::Browse,
                Credit::Credit,
                Some("completed"),
                None,
                false,
                "completed",
            ),
            (
                Mode::Review,
                Credit::Credit,
                None,
                Some("85"),
                false,
                "not attempted",
            ),
        ];
        for (mode, credit, status, raw, mastery_override, expected) in cases {
            let mut context = LaunchContext::new(ScormVersion::Scorm12, "l1", "Doe, Jane");
            context.mode = *mode;
            context.credit = *credit;
            context.mastery_score = Some("80".to_owned());
            context.scorm12.mastery_override = *mastery_override;
            let mut s = RuntimeSession::new(context).unwrap();
            s.initialize("").unwrap();
            if let Some(status) = status {
                s.set_value("cmi.core.lesson_status", status).unwrap();
            }
            if let Some(raw) = raw {
                s.set_value("cmi.core.score.raw", raw).unwrap();
            }
            s.terminate("").unwrap();
            assert_eq!(
                s.data()
                    .get("cmi.core.lesson_status")
                    .unwrap_or("not attempted"),
                *expected,
                "{mode:?} {credit:?} {status:?} {raw:?} {mastery_override}"
            );
        }
    }

    #[test]
    fn scorm12_total_time_accumulates_across_sessions() {
        let mut context = LaunchContext::new(ScormVersion::Scorm12, "l1", "Doe, Jane");
        let mut s = RuntimeSession::new(context.clone()).unwrap();
        s.initialize("").unwrap();
        s.set_value("cmi.core.session_time", "01:30:00.5").unwrap();
        s.set_value("cmi.core.lesson_location", "p9").unwrap();
        s.terminate("").unwrap();
        context.prior = Some(s.data().clone());
        let mut s = RuntimeSession::new(context.clone()).unwrap();
        s.initialize("").unwrap();
        assert_eq!(s.get_value("cmi.core.entry"), Ok(String::new()));
        assert_eq!(s.get_value("cmi.core.lesson_location"), Ok(String::new()));
        assert_eq!(
            s.get_value("cmi.core.lesson_status"),
            Ok("completed".to_owned())
        );
        s.set_value("cmi.core.session_time", "0000:29:59.50")
            .unwrap();
        s.terminate("").unwrap();
        assert_eq!(s.data().get("cmi.core.total_time"), Some("0002:00:00.00"));
        assert_eq!(s.summary().total_time_centiseconds, Some(720_000));
    }

    #[test]
    fn recorded_calls_keep_order_and_failures() {
        let mut s = session(ScormVersion::Scorm2004Fourth);
        s.set_value("cmi.location", "a").unwrap();
        assert_eq!(s.get_value("cmi.exit"), Err(CmiError::WriteOnly));
        assert_eq!(s.get_value("cmi.location"), Ok("a".to_owned()));
        assert_eq!(
            s.set_value("cmi.score.scaled", "2"),
            Err(CmiError::OutOfRange)
        );
        let calls = s.take_calls();
        let summary: Vec<(u64, u16)> = calls.iter().map(|c| (c.seq, c.error)).collect();
        assert_eq!(summary, vec![(0, 0), (1, 0), (2, 405), (3, 407)]);
        assert_eq!(
            calls[3].diagnostic.as_deref(),
            Some("cmi.score.scaled: the value is out of range (outside -1..1)")
        );
        s.commit("").unwrap();
        assert_eq!(s.calls()[0].seq, 4);
        let json = serde_json::to_value(&calls[1]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"seq": 1, "fn": "SetValue", "element": "cmi.location", "value": "a", "result": "true", "error": 0})
        );
    }

    #[test]
    fn host_failures_have_their_own_codes() {
        for (version, init, commit, terminate) in [
            (ScormVersion::Scorm2004Fourth, "102", "391", "111"),
            (ScormVersion::Scorm12, "101", "101", "101"),
        ] {
            let mut s = RuntimeSession::new(LaunchContext::new(version, "l1", "n")).unwrap();
            s.set_host_failure(true);
            assert_eq!(s.initialize(""), Err(CmiError::InitializationFailed));
            assert_eq!(s.get_last_error(), init);
            s.set_host_failure(false);
            s.initialize("").unwrap();
            s.set_host_failure(true);
            assert_eq!(s.commit(""), Err(CmiError::CommitFailed));
            assert_eq!(s.get_last_error(), commit);
            assert_eq!(s.terminate(""), Err(CmiError::TerminationFailed));
            assert_eq!(s.get_last_error(), terminate);
            assert_eq!(s.state(), SessionState::Running);
            s.set_host_failure(false);
            assert_eq!(s.terminate(""), Ok(()));
        }
    }

    #[test]
    fn recorded_calls_read_back_from_json() {
        let mut s = session(ScormVersion::Scorm2004Fourth);
        s.set_value("cmi.suspend_data", &"x".repeat(64_001))
            .unwrap_err();
        s.set_value("cmi.location", &"x".repeat(1_001)).unwrap();
        s.get_value("cmi.bogus").unwrap_err();
        let calls = s.take_calls();
        let json = serde_json::to_string(&calls).unwrap();
        let back: Vec<RecordedCall> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, calls);
        assert_eq!(calls[1].error, 351);
        assert!(calls[2].spm_exceeded);
        assert_eq!(
            calls[3].call,
            ApiCall::GetValue {
                element: "cmi.bogus".to_owned()
            }
        );
        assert_eq!(calls[3].result, "");
    }

    #[test]
    fn diagnostics_explain_the_last_error() {
        let mut s = session(ScormVersion::Scorm2004Fourth);
        assert_eq!(s.get_diagnostic(""), "No Error");
        s.set_value("cmi.objectives.0.score.raw", "1").unwrap_err();
        assert_eq!(
            s.get_diagnostic(""),
            "cmi.objectives.0.score.raw: a prerequisite element is not set \
             (cmi.objectives.0.id must be set first)"
        );
        assert_eq!(s.get_diagnostic("408"), s.get_diagnostic(""));
        assert_eq!(s.get_diagnostic("406"), "Data Model Element Type Mismatch");
        assert_eq!(s.get_diagnostic("999"), "");
        s.set_value("cmi.location", &"é".repeat(300)).unwrap();
        s.set_value(&format!("cmi.{}", "x".repeat(300)), "v")
            .unwrap_err();
        assert_eq!(s.get_diagnostic("").chars().count(), 255);
    }

    #[test]
    fn apply_returns_what_the_content_sees() {
        let mut s =
            RuntimeSession::new(LaunchContext::new(ScormVersion::Scorm12, "l1", "Doe, Jane"))
                .unwrap();
        let outcome = |result: &str, error: &str| CallOutcome {
            result: result.to_owned(),
            error: error.to_owned(),
        };
        let steps = [
            (
                ApiCall::GetValue {
                    element: "cmi.core.student_id".to_owned(),
                },
                outcome("", "301"),
            ),
            (ApiCall::GetLastError, outcome("301", "301")),
            (
                ApiCall::Initialize { arg: String::new() },
                outcome("true", "0"),
            ),
            (
                ApiCall::GetValue {
                    element: "cmi.core.student_id".to_owned(),
                },
                outcome("l1", "0"),
            ),
            (
                ApiCall::SetValue {
                    element: "cmi.core.student_id".to_owned(),
                    value: "x".to_owned(),
                },
                outcome("false", "403"),
            ),
            (
                ApiCall::GetErrorString {
                    arg: "403".to_owned(),
                },
                outcome("Element is read only", "403"),
            ),
            (
                ApiCall::Terminate { arg: String::new() },
                outcome("true", "0"),
            ),
        ];
        for (call, expected) in steps {
            assert_eq!(s.apply(&call), expected, "{call:?}");
        }
    }

    #[test]
    fn records_above_the_spm_are_kept_and_flagged() {
        let mut s = session(ScormVersion::Scorm2004Fourth);
        for index in 0..=100 {
            s.set_value(&format!("cmi.objectives.{index}.id"), &format!("o{index}"))
                .unwrap();
        }
        let flags: Vec<bool> = s.calls().iter().map(|c| c.spm_exceeded).collect();
        assert_eq!(flags.iter().filter(|f| **f).count(), 1);
        assert!(flags[101], "the 101st objective is beyond the spm of 100");
        assert_eq!(s.get_value("cmi.objectives._count"), Ok("101".to_owned()));
        let mut limited = RuntimeSession::new(LaunchContext {
            records_limit: Some(250),
            ..LaunchContext::new(ScormVersion::Scorm2004Fourth, "l1", "n")
        })
        .unwrap();
        limited.initialize("").unwrap();
        for index in 0..250 {
            limited
                .set_value(&format!("cmi.interactions.{index}.id"), "q")
                .unwrap();
        }
        assert_eq!(
            limited.set_value("cmi.interactions.250.id", "q"),
            Err(CmiError::TooManyRecords)
        );
        assert_eq!(limited.get_last_error(), "351");
    }

    #[test]
    fn replaying_recorded_calls_rebuilds_the_data() {
        let context = LaunchContext {
            objective_ids: vec!["primary".to_owned()],
            ..LaunchContext::new(ScormVersion::Scorm2004Fourth, "l1", "n")
        };
        let mut browser = RuntimeSession::new(context.clone()).unwrap();
        browser.initialize("").unwrap();
        browser.set_value("cmi.interactions.0.id", "q1").unwrap();
        browser
            .set_value("cmi.interactions.0.type", "choice")
            .unwrap();
        browser
            .set_value("cmi.interactions.0.learner_response", "a[,]b")
            .unwrap();
        browser
            .set_value("cmi.objectives.0.id", "other")
            .unwrap_err();
        browser.set_value("cmi.session_time", "PT3M").unwrap();
        browser.commit("").unwrap();
        browser.set_value("cmi.exit", "suspend").unwrap();
        browser.terminate("").unwrap();
        let batch = serde_json::to_string(&browser.take_calls()).unwrap();

        let mut server = RuntimeSession::new(context).unwrap();
        for call in serde_json::from_str::<Vec<RecordedCall>>(&batch).unwrap() {
            server.replay(&call).unwrap();
        }
        assert_eq!(server.data(), browser.data());
        assert_eq!(server.data().get("cmi.total_time"), Some("PT3M"));

        let forged = RecordedCall {
            seq: 99,
            call: ApiCall::SetValue {
                element: "cmi.location".to_owned(),
                value: "x".to_owned(),
            },
            result: "true".to_owned(),
            error: 0,
            diagnostic: None,
            spm_exceeded: false,
            host_failure: false,
        };
        let mismatch = server.replay(&forged).unwrap_err();
        assert_eq!((mismatch.seq, mismatch.actual_error), (99, 133));
    }

    #[test]
    fn time_limit_uses_total_time_and_elapsed_time() {
        let mut context = LaunchContext::new(ScormVersion::Scorm2004Fourth, "l1", "n");
        context.max_time_allowed = Some("PT1H".to_owned());
        context.time_limit_action = Some("exit,message".to_owned());
        let s = RuntimeSession::new(context).unwrap();
        assert_eq!(s.time_limit_reached(359_999), None);
        assert_eq!(s.time_limit_reached(360_000), Some("exit,message"));
    }

    #[test]
    fn launch_values_are_checked() {
        let bad = [
            LaunchContext {
                mastery_score: Some("101".to_owned()),
                ..LaunchContext::new(ScormVersion::Scorm12, "l1", "n")
            },
            LaunchContext::new(ScormVersion::Scorm12, "has space", "n"),
            LaunchContext {
                completion_threshold: Some("1.5".to_owned()),
                ..LaunchContext::new(ScormVersion::Scorm2004Third, "l1", "n")
            },
            LaunchContext {
                max_time_allowed: Some("01:00:00".to_owned()),
                ..LaunchContext::new(ScormVersion::Scorm2004Third, "l1", "n")
            },
        ];
        for context in bad {
            assert!(
                matches!(
                    RuntimeSession::new(context.clone()),
                    Err(LaunchError::InvalidValue { .. })
                ),
                "{context:?}"
            );
        }
        let duplicate = LaunchContext {
            objective_ids: vec!["a".to_owned(), "a".to_owned()],
            ..LaunchContext::new(ScormVersion::Scorm2004Fourth, "l1", "n")
        };
        assert!(matches!(
            RuntimeSession::new(duplicate),
            Err(LaunchError::DuplicateId { .. })
        ));
        let mut prior = RuntimeData::new(ScormVersion::Scorm2004Fourth);
        prior
            .values
            .insert("cmi.objectives.0.id".to_owned(), "x".to_owned());
        let inconsistent = LaunchContext {
            prior: Some(prior),
            ..LaunchContext::new(ScormVersion::Scorm2004Fourth, "l1", "n")
        };
        assert_eq!(
            RuntimeSession::new(inconsistent).err(),
            Some(LaunchError::PriorData("cmi.objectives.0.id".to_owned()))
        );
    }
}
