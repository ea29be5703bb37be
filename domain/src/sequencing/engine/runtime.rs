//! The runtime interface: what a SCO reports at Commit and Terminate, how it
//! reaches the tracking model (RTE 4.2 → SN 4.2 mapping, honouring the
//! delivery controls), and the objective data a SCO is launched with.

use serde::{Deserialize, Serialize};

use super::Engine;
use super::request::{InvalidNavigationRequest, NavigationRequest};
use super::state::Value;
use super::time::parse_duration_ms;
use super::tracking::Read;

/// The runtime data of a SCO relevant to sequencing, as the player read it
/// from the CMI data model at Commit or Terminate. `None` means the SCO did
/// not set the element.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuntimeReport {
    /// `cmi.completion_status`.
    pub completion_status: Option<CompletionStatus>,
    /// `cmi.success_status`.
    pub success_status: Option<SuccessStatus>,
    /// `cmi.score.*`.
    pub score: ScoreReport,
    /// `cmi.progress_measure`.
    pub progress_measure: Option<f64>,
    /// `cmi.objectives.n.*`.
    pub objectives: Vec<ObjectiveReport>,
    /// `cmi.exit` (Terminate only).
    pub exit: Option<ExitMode>,
    /// `cmi.session_time` as reported (`PT1M30S`; Terminate only).
    pub session_time: Option<String>,
    /// `adl.nav.request` (Terminate only), e.g. `continue` or
    /// `{target=intro}choice`.
    pub nav_request: Option<String>,
}

impl RuntimeReport {
    /// The navigation request to process after Terminate: the SCO's
    /// `adl.nav.request`, else Exit All when `cmi.exit` is `time-out` or
    /// `logout` (as ADL's sample RTE does), else none.
    pub fn navigation_request(
        &self,
    ) -> Result<Option<NavigationRequest>, InvalidNavigationRequest> {
        let requested = match &self.nav_request {
            Some(value) => NavigationRequest::from_adl(value)?,
            None => None,
        };
        Ok(requested.or(match self.exit {
            Some(ExitMode::TimeOut | ExitMode::Logout) => Some(NavigationRequest::ExitAll),
            _ => None,
        }))
    }
}

/// `cmi.score.*` or `cmi.objectives.n.score.*`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScoreReport {
    /// `scaled`, −1..1.
    pub scaled: Option<f64>,
    /// `raw`.
    pub raw: Option<f64>,
    /// `min`.
    pub min: Option<f64>,
    /// `max`.
    pub max: Option<f64>,
}

/// One `cmi.objectives.n` entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ObjectiveReport {
    /// `id`.
    pub id: String,
    /// `success_status`.
    pub success_status: Option<SuccessStatus>,
    /// `completion_status`.
    pub completion_status: Option<CompletionStatus>,
    /// `score.*`.
    pub score: ScoreReport,
    /// `progress_measure`.
    pub progress_measure: Option<f64>,
}

/// `cmi.completion_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompletionStatus {
    /// `completed`.
    Completed,
    /// `incomplete`.
    Incomplete,
    /// `not attempted` (counts as incomplete for sequencing).
    NotAttempted,
    /// `unknown`.
    Unknown,
}

impl CompletionStatus {
    /// Parses the CMI vocabulary.
    pub fn from_cmi(value: &str) -> Option<CompletionStatus> {
        match value {
            "completed" => Some(CompletionStatus::Completed),
            "incomplete" => Some(CompletionStatus::Incomplete),
            "not attempted" => Some(CompletionStatus::NotAttempted),
            "unknown" => Some(CompletionStatus::Unknown),
            _ => None,
        }
    }

    fn completed(self) -> Option<bool> {
        match self {
            CompletionStatus::Completed => Some(true),
            CompletionStatus::Incomplete | CompletionStatus::NotAttempted => Some(false),
            CompletionStatus::Unknown => None,
        }
    }

    fn from_completed(completed: Option<bool>) -> CompletionStatus {
        match completed {
            Some(true) => CompletionStatus::Completed,
            Some(false) => CompletionStatus::Incomplete,
            None => CompletionStatus::Unknown,
        }
    }
}

/// `cmi.success_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuccessStatus {
    /// `passed`.
    Passed,
    /// `failed`.
    Failed,
    /// `unknown`.
    Unknown,
}

impl SuccessStatus {
    /// Parses the CMI vocabulary.
    pub fn from_cmi(value: &str) -> Option<SuccessStatus> {
        match value {
            "passed" => Some(SuccessStatus::Passed),
            "failed" => Some(SuccessStatus::Failed),
            "unknown" => Some(SuccessStatus::Unknown),
            _ => None,
        }
    }

    fn satisfied(self) -> Option<bool> {
        match self {
            SuccessStatus::Passed => Some(true),
            SuccessStatus::Failed => Some(false),
            SuccessStatus::Unknown => None,
        }
    }

    fn from_satisfied(satisfied: Option<bool>) -> SuccessStatus {
        match satisfied {
            Some(true) => SuccessStatus::Passed,
            Some(false) => SuccessStatus::Failed,
            None => SuccessStatus::Unknown,
        }
    }
}

/// `cmi.exit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExitMode {
    /// `normal` (or the empty string).
    Normal,
    /// `suspend`: the activity is suspended; its next launch resumes.
    Suspend,
    /// `logout` (deprecated): treated as an Exit All request.
    Logout,
    /// `time-out`: treated as an Exit All request.
    TimeOut,
}

impl ExitMode {
    /// Parses the CMI vocabulary (`""` is normal).
    pub fn from_cmi(value: &str) -> Option<ExitMode> {
        match value {
            "" | "normal" => Some(ExitMode::Normal),
            "suspend" => Some(ExitMode::Suspend),
            "logout" => Some(ExitMode::Logout),
            "time-out" => Some(ExitMode::TimeOut),
            _ => None,
        }
    }
}

/// What a SCO's `cmi.objectives.n` starts with at launch: the tracking data
/// of the activity's objectives, read through their objective maps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectiveInit {
    /// `cmi.objectives.n.id`.
    pub id: String,
    /// `success_status`.
    pub success_status: SuccessStatus,
    /// `completion_status`.
    pub completion_status: CompletionStatus,
    /// `score.*`.
    pub score: ScoreReport,
    /// `progress_measure`.
    pub progress_measure: Option<f64>,
}

/// The sequencing data a SCO is launched with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LaunchData {
    /// The activity.
    pub activity: String,
    /// Its attempt count (the attempt being launched).
    pub attempt: u32,
    /// Initial `cmi.objectives`, one per objective with an ID.
    pub objectives: Vec<ObjectiveInit>,
}

/// The effective status of an activity (read through objective maps), for
/// reports and the table of contents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityStatus {
    /// The activity.
    pub id: String,
    /// Activity Attempt Count.
    pub attempt_count: u32,
    /// Activity is Active.
    pub active: bool,
    /// Activity is Suspended.
    pub suspended: bool,
    /// Attempt Completion Status.
    pub completion_status: CompletionStatus,
    /// Primary objective satisfied status.
    pub success_status: SuccessStatus,
    /// Primary objective normalized measure.
    pub measure: Option<f64>,
    /// Attempt Completion Amount.
    pub progress_measure: Option<f64>,
    /// Every objective with an ID.
    pub objectives: Vec<ObjectiveInit>,
}

impl Engine {
    /// Transfers a SCO's runtime data to its activity's tracking data (RTE
    /// 4.2 to SN 4.2): completion from `cmi.completion_status` (or from the
    /// progress measure and `cmi.completion_threshold`), satisfaction from
    /// `cmi.success_status` (or the scaled score and
    /// `cmi.scaled_passing_score`), measure and scores, and each
    /// `cmi.objectives.n` to the activity objective with the same ID. At
    /// Terminate, `cmi.exit=suspend` suspends the activity and the session
    /// time adds to the experienced durations. Untracked activities keep no
    /// tracking data.
    pub(crate) fn transfer_runtime_data(
        &mut self,
        activity: usize,
        report: &RuntimeReport,
        terminating: bool,
    ) {
        if terminating {
            let suspend = report.exit == Some(ExitMode::Suspend);
            if self.acts[activity].suspended != suspend {
                self.act_mut(activity).suspended = suspend;
            }
            if let Some(session) = report.session_time.as_deref().and_then(parse_duration_ms) {
                let mut walk = Some(activity);
                while let Some(on_path) = walk {
                    let state = self.act_mut(on_path);
                    state.attempt_experienced_ms += session;
                    state.activity_experienced_ms += session;
                    walk = self.parent(on_path);
                }
            }
        }
        if !self.tree.tracked(activity) {
            return;
        }
        let node = &self.tree.nodes[activity];
        let primary = node.objectives[0]
            .id
            .as_deref()
            .and_then(|id| report.objectives.iter().find(|entry| entry.id == id));
        let progress = report
            .progress_measure
            .or_else(|| primary.and_then(|entry| entry.progress_measure));
        let completed = match (node.completion_threshold, progress) {
            (Some(threshold), Some(progress)) => Some(progress >= threshold),
            (Some(_), None) => None,
            // cmi.completion_status, even set to unknown, wins over the
            // primary objective's entry (ADL's conformance test CO-13a).
            (None, _) => report
                .completion_status
                .or_else(|| primary.and_then(|entry| entry.completion_status))
                .and_then(CompletionStatus::completed),
        };
        let score = |pick: fn(&ScoreReport) -> Option<f64>| {
            pick(&report.score).or_else(|| primary.and_then(|entry| pick(&entry.score)))
        };
        let scaled = score(|s| s.scaled);
        let satisfied = match (node.scaled_passing_score, scaled) {
            (Some(passing), Some(scaled)) => Some(Some(scaled >= passing)),
            (Some(_), None) => None,
            // A passed or failed primary objective entry wins over
            // cmi.success_status (as in ADL's sample RTE).
            (None, _) => primary
                .and_then(|entry| entry.success_status)
                .filter(|status| *status != SuccessStatus::Unknown)
                .or(report.success_status)
                .or_else(|| primary.and_then(|entry| entry.success_status))
                .map(SuccessStatus::satisfied),
        };
        let numbers = [
            (Value::Raw, score(|s| s.raw)),
            (Value::Min, score(|s| s.min)),
            (Value::Max, score(|s| s.max)),
        ];
        let completion_reported = report.completion_status.is_some()
            || primary.is_some_and(|entry| entry.completion_status.is_some());
        let success_reported = report.success_status.is_some()
            || primary.is_some_and(|entry| entry.success_status.is_some());
        let state = &self.acts[activity];
        if state.completion_set_by_content != completion_reported
            || state.success_set_by_content != success_reported
        {
            let state = self.act_mut(activity);
            state.completion_set_by_content = completion_reported;
            state.success_set_by_content = success_reported;
        }
        // The SCO's completion status is written even when unknown, as ADL's
        // sample RTE does.
        self.write_completed(activity, 0, completed, true);
        self.write_number(activity, 0, Value::Progress, progress);
        if let Some(satisfied) = satisfied {
            self.write_satisfied(activity, 0, satisfied, true);
        }
        self.write_number(activity, 0, Value::Measure, scaled);
        for (value, number) in numbers {
            self.write_number(activity, 0, value, number);
        }
        for objective in 1..self.tree.nodes[activity].objectives.len() {
            let Some(entry) = self.tree.nodes[activity].objectives[objective]
                .id
                .as_deref()
                .and_then(|id| report.objectives.iter().find(|entry| entry.id == id))
            else {
                continue;
            };
            if let Some(status) = entry.success_status {
                self.write_satisfied(activity, objective, status.satisfied(), true);
            }
            if let Some(status) = entry.completion_status {
                self.write_completed(activity, objective, status.completed(), true);
            }
            let numbers = [
                (Value::Measure, entry.score.scaled),
                (Value::Raw, entry.score.raw),
                (Value::Min, entry.score.min),
                (Value::Max, entry.score.max),
                (Value::Progress, entry.progress_measure),
            ];
            for (value, number) in numbers {
                self.write_number(activity, objective, value, number);
            }
        }
    }

    /// The objective data a SCO is launched with (`cmi.objectives.n`),
    /// read through the objective maps.
    pub fn launch_data(&self, activity: &str) -> Option<LaunchData> {
        let index = self.index(activity)?;
        Some(LaunchData {
            activity: activity.to_owned(),
            attempt: self.acts[index].attempt_count,
            objectives: self.objective_inits(index),
        })
    }

    /// The effective status of an activity; the root's is the course's.
    pub fn activity_status(&self, activity: &str) -> Option<ActivityStatus> {
        let index = self.index(activity)?;
        let state = &self.acts[index];
        Some(ActivityStatus {
            id: activity.to_owned(),
            attempt_count: state.attempt_count,
            active: state.active,
            suspended: state.suspended,
            completion_status: CompletionStatus::from_completed(self.attempt_completed(index)),
            success_status: SuccessStatus::from_satisfied(self.objective_satisfied(index, 0)),
            measure: self.objective_value(index, 0, Value::Measure),
            progress_measure: self.attempt_progress(index),
            objectives: self.objective_inits(index),
        })
    }

    fn objective_inits(&self, activity: usize) -> Vec<ObjectiveInit> {
        let node = &self.tree.nodes[activity];
        let read = Read::Launch;
        node.objectives
            .iter()
            .enumerate()
            .filter_map(|(objective, definition)| {
                let id = definition.id.clone()?;
                let value = |value| self.value_read(activity, objective, value, read);
                Some(ObjectiveInit {
                    id,
                    success_status: SuccessStatus::from_satisfied(
                        self.satisfied_read(activity, objective, read),
                    ),
                    completion_status: CompletionStatus::from_completed(
                        self.completed_read(activity, objective, read),
                    ),
                    score: ScoreReport {
                        scaled: value(Value::Measure),
                        raw: value(Value::Raw),
                        min: value(Value::Min),
                        max: value(Value::Max),
                    },
                    progress_measure: value(Value::Progress),
                })
            })
            .collect()
    }
}
