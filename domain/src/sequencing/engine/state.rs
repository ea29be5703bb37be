//! The tracking state of one registration (SN book 4.2, the tracking model):
//! plain serde data, so a snapshot can be stored, compared and restored.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Everything the sequencer knows about one learner's progress in one course.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackingState {
    /// One entry per activity, in tree preorder (root first).
    pub activities: Vec<ActivityState>,
    /// The Current Activity, if a sequencing session is under way.
    pub current: Option<String>,
    /// The Suspended Activity, after a Suspend All.
    pub suspended: Option<String>,
    /// Global objectives the course maps to, by target objective ID. With
    /// `objectivesGlobalToSystem=true` the server shares them across the
    /// learner's registrations ([`SequencingInput::LoadGlobalObjectives`](super::SequencingInput)).
    pub global_objectives: BTreeMap<String, GlobalObjective>,
}

/// The tracking data of one activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityState {
    /// Activity identifier.
    pub id: String,
    /// Activity is Active.
    pub active: bool,
    /// Activity is Suspended.
    pub suspended: bool,
    /// Activity Attempt Count (0 means Activity Progress Status is false).
    pub attempt_count: u32,
    /// Objective progress, primary objective first, in definition order. The
    /// primary objective's completion and progress measure are the activity's
    /// Attempt Completion Status and Attempt Completion Amount.
    pub objectives: Vec<ObjectiveState>,
    /// The available children after selection and randomization, as
    /// positions in the activity's manifest children; `None` is all of them
    /// in manifest order.
    pub available_children: Option<Vec<u32>>,
    /// Whether a selection (SR.1) has been applied.
    pub selection_done: bool,
    /// Whether a randomization (SR.2) has been applied.
    pub randomization_done: bool,
    /// Attempt Absolute Duration of the current or last attempt, in milliseconds.
    pub attempt_absolute_ms: u64,
    /// Attempt Experienced Duration (reported session times), in milliseconds.
    pub attempt_experienced_ms: u64,
    /// Activity Absolute Duration over all attempts, in milliseconds.
    pub activity_absolute_ms: u64,
    /// Activity Experienced Duration over all attempts, in milliseconds.
    pub activity_experienced_ms: u64,
    /// When the current attempt started (or resumed), while it is active.
    pub attempt_started_at: Option<DateTime<Utc>>,
    /// The content set the completion status in this attempt, if only to
    /// `unknown`: End Attempt then leaves it alone (as ADL's sample RTE does).
    pub completion_set_by_content: bool,
    /// The content set the success status in this attempt.
    pub success_set_by_content: bool,
    /// The objective data is from before the parent's current attempt, and
    /// the parent uses only current-attempt objective information
    /// (`useCurrentAttemptObjectiveInfo`): rollup conditions ignore it.
    pub stale_objectives: bool,
    /// The same for progress data (`useCurrentAttemptProgressInfo`).
    pub stale_progress: bool,
}

impl ActivityState {
    pub(crate) fn new(id: String, objectives: usize) -> ActivityState {
        ActivityState {
            id,
            active: false,
            suspended: false,
            attempt_count: 0,
            objectives: vec![ObjectiveState::default(); objectives],
            available_children: None,
            selection_done: false,
            randomization_done: false,
            attempt_absolute_ms: 0,
            attempt_experienced_ms: 0,
            activity_absolute_ms: 0,
            activity_experienced_ms: 0,
            attempt_started_at: None,
            completion_set_by_content: false,
            success_set_by_content: false,
            stale_objectives: false,
            stale_progress: false,
        }
    }
}

/// The tracking data of one objective, local or global (`None` is unknown).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ObjectiveState {
    /// Objective Satisfied Status (`None`: Objective Progress Status false).
    pub satisfied: Option<bool>,
    /// Objective Normalized Measure, −1..1.
    pub measure: Option<f64>,
    /// Raw score (4th edition).
    pub raw: Option<f64>,
    /// Minimum score (4th edition).
    pub min: Option<f64>,
    /// Maximum score (4th edition).
    pub max: Option<f64>,
    /// Completion status (4th edition; for the primary objective, the
    /// activity's Attempt Completion Status).
    pub completed: Option<bool>,
    /// Progress measure, 0..1 (for the primary objective, the Attempt
    /// Completion Amount).
    pub progress_measure: Option<f64>,
}

/// A global (shared) objective, keyed by its target objective ID: the same
/// data as a local objective.
pub type GlobalObjective = ObjectiveState;

/// Global objectives by target objective ID: what the server persists per
/// learner (`objectivesGlobalToSystem=true`) or per registration.
pub type GlobalObjectiveStore = BTreeMap<String, GlobalObjective>;

impl ObjectiveState {
    /// A numeric value.
    pub(crate) fn number(&self, value: Value) -> Option<f64> {
        match value {
            Value::Measure => self.measure,
            Value::Raw => self.raw,
            Value::Min => self.min,
            Value::Max => self.max,
            Value::Progress => self.progress_measure,
        }
    }

    /// A numeric value, for writing.
    pub(crate) fn number_mut(&mut self, value: Value) -> &mut Option<f64> {
        match value {
            Value::Measure => &mut self.measure,
            Value::Raw => &mut self.raw,
            Value::Min => &mut self.min,
            Value::Max => &mut self.max,
            Value::Progress => &mut self.progress_measure,
        }
    }
}

/// Which numeric value of an objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Value {
    Measure,
    Raw,
    Min,
    Max,
    Progress,
}
