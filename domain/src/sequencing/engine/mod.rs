//! The SCORM 2004 4th edition sequencing and navigation engine.
//!
//! An [`Engine`] holds one registration's activity tree (built from a
//! [`Course`]) and its tracking state. Everything that happens to it arrives
//! as a [`SequencingInput`] — a navigation request, the runtime data a SCO
//! reported at Commit or Terminate, the learner's shared global objectives —
//! and every input yields a serde-serialisable [`Decision`]: the activity
//! delivered or the exception raised, and the tracking data that changed.
//! Replaying the recorded inputs in order on a fresh engine rebuilds the same
//! state ([`Engine::replay`]); [`Engine::snapshot`] and [`Engine::restore`]
//! store and reload it directly.
//!
//! The processes follow the SN book's pseudo code and keep its names in their
//! doc comments: the Overall Sequencing Process (OP.1) in [`Engine::apply`];
//! the Navigation Request Process (NB.2.1) in `navigation`; the Termination
//! Request Process (TB.2.x), End Attempt (UP.4) and Terminate Descendent
//! Attempts (UP.3) in `termination`; the Sequencing Request Process (SB.2.x)
//! with flow and choice traversal in `sequencing`; delivery (DB.1.1, DB.2) and
//! selection and randomization (SR.1, SR.2) in `delivery`; rollup (RB.1.x) in
//! `rollup`; rule, limit and activity checks (UP.1, UP.2, UP.5) in `rules`.
//! Where the book leaves a choice open, the engine follows ADL's sample RTE,
//! which the ADL conformance test suite was written against.
//!
//! The engine is pure: time arrives in the inputs, and selection and
//! randomization draw from the seed in [`EngineOptions`].
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use domain::package::{import_package, ImportOptions, MemoryPackage};
//! use domain::sequencing::engine::{
//!     Engine, EngineOptions, NavigationRequest, RuntimeReport, SequencingInput,
//! };
//!
//! let manifest = r#"<manifest identifier="M" xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"
//!     xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3" xmlns:imsss="http://www.imsglobal.org/xsd/imsss">
//!   <metadata><schema>ADL SCORM</schema><schemaversion>2004 4th Edition</schemaversion></metadata>
//!   <organizations default="O"><organization identifier="O"><title>Course</title>
//!     <item identifier="one" identifierref="R"><title>One</title></item>
//!     <item identifier="two" identifierref="R"><title>Two</title></item>
//!     <imsss:sequencing><imsss:controlMode flow="true"/></imsss:sequencing>
//!   </organization></organizations>
//!   <resources><resource identifier="R" type="webcontent" adlcp:scormType="sco" href="sco.html"/></resources>
//! </manifest>"#;
//! let package = MemoryPackage::new().with("imsmanifest.xml", manifest).with("sco.html", "");
//! let course = import_package(&package, &ImportOptions::default()).unwrap().course;
//!
//! let mut engine = Engine::new(&course, EngineOptions::default()).unwrap();
//! let at = Utc.with_ymd_and_hms(2024, 1, 1, 9, 0, 0).unwrap();
//! let start = SequencingInput::Navigate { request: NavigationRequest::Start, at };
//! let decision = engine.apply(&start).unwrap();
//! assert_eq!(decision.outcome.delivered(), Some("one"));
//!
//! // SCO "one" terminates with adl.nav.request=continue.
//! let report = RuntimeReport { nav_request: Some("continue".into()), ..RuntimeReport::default() };
//! let terminate = SequencingInput::Terminate { activity: "one".into(), report, request: None, at };
//! let decision = engine.apply(&terminate).unwrap();
//! assert_eq!(decision.outcome.delivered(), Some("two"));
//! assert!(matches!(engine.apply(&terminate), Err(_)), "\"one\" is no longer current");
//!
//! // The same inputs give the same state.
//! let replayed = Engine::replay(&course, EngineOptions::default(), [&start, &terminate]).unwrap();
//! assert_eq!(replayed.snapshot(), engine.snapshot());
//! ```

mod delivery;
mod exception;
mod lookahead;
mod navigation;
mod random;
mod request;
mod rollup;
mod rules;
mod runtime;
mod sequencing;
mod state;
mod termination;
mod time;
mod tracking;
mod tree;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::package::Course;
use request::SequencingRequest;

pub use exception::SequencingException;
pub use lookahead::{ControlState, NavigationControls, NavigationState, RequestValid, TreeItem};
pub use request::{InvalidNavigationRequest, NavigationRequest};
pub use runtime::{
    ActivityStatus, CompletionStatus, ExitMode, LaunchData, ObjectiveInit, ObjectiveReport,
    RuntimeReport, ScoreReport, SuccessStatus,
};
pub use state::{
    ActivityState, GlobalObjective, GlobalObjectiveStore, ObjectiveState, TrackingState,
};

use tree::Tree;

/// Settings fixed for the life of a registration; record them with it, since
/// replay needs the same values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineOptions {
    /// Seed of every selection and randomization (SR.1, SR.2).
    pub seed: u64,
    /// Read `attemptLimit="0"` as "no limit", as several commercial LMSs do.
    /// The default (false) follows ADL's sample RTE: an explicit 0 is a
    /// limit of zero attempts.
    pub attempt_limit_zero_is_unlimited: bool,
}

/// Why the engine refused an input or a course. Unlike a
/// [`SequencingException`], an error changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The course is not SCORM 2004, so it has no sequencing.
    #[error("course is not scorm 2004; it has no sequencing")]
    NotScorm2004,
    /// Two activities share an identifier.
    #[error("activity identifier {0:?} is used twice")]
    DuplicateActivity(String),
    /// Runtime data was reported for an activity that is not the current one.
    #[error("runtime data reported for {reported:?}, but the current activity is {current:?}")]
    NotCurrentActivity {
        /// The activity named in the input.
        reported: String,
        /// The current activity.
        current: Option<String>,
    },
    /// The SCO's `adl.nav.request` is not a navigation request.
    #[error(transparent)]
    InvalidNavigationRequest(#[from] InvalidNavigationRequest),
    /// A snapshot does not belong to this course.
    #[error("snapshot does not match the course: {0}")]
    SnapshotMismatch(String),
}

/// One input to the engine, as the server records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "input", rename_all = "snake_case")]
pub enum SequencingInput {
    /// A navigation request from the player (button, table of contents,
    /// launch, closing the window).
    Navigate {
        /// The request.
        request: NavigationRequest,
        /// When it was made.
        at: DateTime<Utc>,
    },
    /// The SCO committed: its runtime data so far updates the tracking
    /// state; the attempt goes on.
    Commit {
        /// The SCO's activity; must be the current activity.
        activity: String,
        /// Its runtime data.
        report: RuntimeReport,
        /// When it was committed.
        at: DateTime<Utc>,
    },
    /// The SCO terminated: its runtime data (including `cmi.exit` and the
    /// session time) is transferred, then the navigation request is
    /// processed: the player's request if the learner's use of the player's
    /// controls unloaded the SCO, else the SCO's `adl.nav.request` (ADL's
    /// conformance tests CM-09 require the learner's request to win).
    Terminate {
        /// The SCO's activity; must be the current activity.
        activity: String,
        /// Its runtime data and navigation request.
        report: RuntimeReport,
        /// The request of the player control that unloaded the SCO, if any.
        #[serde(default)]
        request: Option<NavigationRequest>,
        /// When it terminated.
        at: DateTime<Utc>,
    },
    /// The learner's shared global objectives as the server holds them now
    /// (only needed with `objectivesGlobalToSystem=true`, at the start of
    /// each sequencing session). Objectives the course does not map are
    /// ignored.
    LoadGlobalObjectives {
        /// The shared objectives.
        objectives: GlobalObjectiveStore,
    },
}

/// What the engine decided for one input: serde data for the event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// The navigation request processed, if the input carried one.
    pub request: Option<NavigationRequest>,
    /// What came of it.
    pub outcome: Outcome,
    /// The Current Activity afterwards.
    pub current_activity: Option<String>,
    /// The Suspended Activity afterwards.
    pub suspended_activity: Option<String>,
    /// The new tracking data of every activity the input changed.
    pub changed_activities: Vec<ActivityState>,
    /// The new values of every global objective the input changed; the server
    /// persists these per learner or per registration.
    pub changed_global_objectives: GlobalObjectiveStore,
}

/// The result of an input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Launch this activity.
    Delivered {
        /// The activity to launch.
        activity: String,
        /// `cmi.entry` for the launch.
        entry: Entry,
        /// The activity's attempt count (this attempt's number).
        attempt: u32,
    },
    /// The sequencing session ended (course finished, exited or suspended).
    SessionEnded,
    /// The request was processed but nothing is to be launched; the learner
    /// picks the next activity (table of contents).
    NothingDelivered,
    /// The request could not be honoured.
    Exception {
        /// Which process refused, and why.
        exception: SequencingException,
    },
    /// Runtime data or global objectives were recorded; no request was made.
    Recorded,
}

impl Outcome {
    /// The activity to launch, if any.
    pub fn delivered(&self) -> Option<&str> {
        match self {
            Outcome::Delivered { activity, .. } => Some(activity),
            _ => None,
        }
    }

    /// The exception raised, if any.
    pub fn exception(&self) -> Option<SequencingException> {
        match self {
            Outcome::Exception { exception } => Some(*exception),
            _ => None,
        }
    }
}

/// `cmi.entry` for a delivered activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Entry {
    /// A new attempt: fresh runtime data.
    AbInitio,
    /// A suspended attempt resumes: restore the runtime data.
    Resume,
}

/// The sequencing engine of one registration.
#[derive(Debug, Clone)]
pub struct Engine {
    tree: Tree,
    options: EngineOptions,
    acts: Vec<ActivityState>,
    current: Option<usize>,
    suspended: Option<usize>,
    globals: Vec<GlobalObjective>,
    /// Derived from `acts[..].available_children`: available children as
    /// activity indices.
    avail: Vec<Vec<usize>>,
    /// Derived: each activity's position among its parent's available
    /// children (`None` when not available, and for the root).
    avail_pos: Vec<Option<usize>>,
    /// The time of the input being processed (or the last one).
    now: Option<DateTime<Utc>>,
    journal: Journal,
}

/// What one input changed, for [`Decision`]: activity states and global
/// objectives as they were before their first change.
#[derive(Debug, Clone)]
struct Journal {
    touched: Vec<bool>,
    activities: Vec<(usize, ActivityState)>,
    globals_touched: Vec<bool>,
    globals: Vec<(usize, GlobalObjective)>,
}

impl Engine {
    /// Builds the engine of a new registration: the activity tree of `course`
    /// with empty tracking data, and the children selected and ordered for
    /// every cluster whose selection or randomization timing is not `never`.
    pub fn new(course: &Course, options: EngineOptions) -> Result<Engine, EngineError> {
        let tree = Tree::build(course)?;
        let acts = tree
            .nodes
            .iter()
            .map(|node| ActivityState::new(node.id.clone(), node.objectives.len()))
            .collect();
        let globals = vec![GlobalObjective::default(); tree.global_ids.len()];
        let mut engine = Engine::assemble(tree, options, acts, None, None, globals);
        engine.prepare_clusters();
        engine.journal.reset();
        Ok(engine)
    }

    /// Rebuilds an engine from a snapshot taken with [`Engine::snapshot`].
    pub fn restore(
        course: &Course,
        options: EngineOptions,
        snapshot: &TrackingState,
    ) -> Result<Engine, EngineError> {
        let tree = Tree::build(course)?;
        if snapshot.activities.len() != tree.nodes.len() {
            return Err(EngineError::SnapshotMismatch(format!(
                "{} activities in the snapshot, {} in the course",
                snapshot.activities.len(),
                tree.nodes.len()
            )));
        }
        for (state, node) in snapshot.activities.iter().zip(&tree.nodes) {
            if state.id != node.id || state.objectives.len() != node.objectives.len() {
                return Err(EngineError::SnapshotMismatch(format!(
                    "activity {:?} does not match {:?}",
                    state.id, node.id
                )));
            }
            if let Some(children) = &state.available_children
                && children.iter().any(|&p| p as usize >= node.children.len())
            {
                return Err(EngineError::SnapshotMismatch(format!(
                    "activity {:?} lists a child it does not have",
                    node.id
                )));
            }
        }
        let find = |id: &Option<String>| -> Result<Option<usize>, EngineError> {
            match id {
                None => Ok(None),
                Some(id) => tree.by_id.get(id).copied().map(Some).ok_or_else(|| {
                    EngineError::SnapshotMismatch(format!("unknown activity {id:?}"))
                }),
            }
        };
        let current = find(&snapshot.current)?;
        let suspended = find(&snapshot.suspended)?;
        let globals = tree
            .global_ids
            .iter()
            .map(|id| {
                snapshot
                    .global_objectives
                    .get(id)
                    .cloned()
                    .unwrap_or_default()
            })
            .collect();
        let acts = snapshot.activities.clone();
        Ok(Engine::assemble(
            tree, options, acts, current, suspended, globals,
        ))
    }

    /// Rebuilds an engine by applying recorded inputs in order to a new one.
    /// Inputs that were refused with an [`EngineError`] when first applied
    /// are refused again and change nothing, so they may stay in the log.
    pub fn replay<'a>(
        course: &Course,
        options: EngineOptions,
        inputs: impl IntoIterator<Item = &'a SequencingInput>,
    ) -> Result<Engine, EngineError> {
        let mut engine = Engine::new(course, options)?;
        for input in inputs {
            // A refused input changed nothing the first time either.
            let _ = engine.apply(input);
        }
        Ok(engine)
    }

    fn assemble(
        tree: Tree,
        options: EngineOptions,
        acts: Vec<ActivityState>,
        current: Option<usize>,
        suspended: Option<usize>,
        globals: Vec<GlobalObjective>,
    ) -> Engine {
        let count = tree.nodes.len();
        let journal = Journal::new(count, globals.len());
        let mut engine = Engine {
            tree,
            options,
            acts,
            current,
            suspended,
            globals,
            avail: vec![Vec::new(); count],
            avail_pos: vec![None; count],
            now: None,
            journal,
        };
        for activity in 0..count {
            engine.refresh_available(activity);
        }
        engine
    }

    /// The tracking state, for storage and comparison.
    pub fn snapshot(&self) -> TrackingState {
        TrackingState {
            activities: self.acts.clone(),
            current: self.current.map(|a| self.tree.nodes[a].id.clone()),
            suspended: self.suspended.map(|a| self.tree.nodes[a].id.clone()),
            global_objectives: self.global_objectives(),
        }
    }

    /// The global objectives the course maps to, by target objective ID.
    pub fn global_objectives(&self) -> GlobalObjectiveStore {
        self.tree
            .global_ids
            .iter()
            .cloned()
            .zip(self.globals.iter().cloned())
            .collect()
    }

    /// The Current Activity.
    pub fn current_activity(&self) -> Option<&str> {
        self.current.map(|a| self.tree.nodes[a].id.as_str())
    }

    /// The Suspended Activity.
    pub fn suspended_activity(&self) -> Option<&str> {
        self.suspended.map(|a| self.tree.nodes[a].id.as_str())
    }

    /// The tracking data of one activity.
    pub fn activity_state(&self, id: &str) -> Option<&ActivityState> {
        self.tree.by_id.get(id).map(|&a| &self.acts[a])
    }

    /// Applies one input (the Overall Sequencing Process, OP.1, for
    /// navigation requests) and returns what was decided.
    pub fn apply(&mut self, input: &SequencingInput) -> Result<Decision, EngineError> {
        self.journal.reset();
        let (request, outcome) = match input {
            SequencingInput::Navigate { request, at } => {
                self.now = Some(*at);
                (Some(request.clone()), self.overall_sequencing(request))
            }
            SequencingInput::Commit {
                activity,
                report,
                at,
            } => {
                let activity = self.reported_activity(activity)?;
                self.now = Some(*at);
                self.transfer_runtime_data(activity, report, false);
                (None, Outcome::Recorded)
            }
            SequencingInput::Terminate {
                activity,
                report,
                request,
                at,
            } => {
                let index = self.reported_activity(activity)?;
                let request = match request {
                    Some(request) => Some(request.clone()),
                    None => report.navigation_request()?,
                };
                self.now = Some(*at);
                let discard = matches!(
                    request,
                    Some(NavigationRequest::Abandon | NavigationRequest::AbandonAll)
                );
                if !discard {
                    self.transfer_runtime_data(index, report, true);
                }
                match request {
                    Some(request) => {
                        let outcome = self.overall_sequencing(&request);
                        (Some(request), outcome)
                    }
                    None => (None, Outcome::Recorded),
                }
            }
            SequencingInput::LoadGlobalObjectives { objectives } => {
                self.load_global_objectives(objectives);
                (None, Outcome::Recorded)
            }
        };
        Ok(self.decision(request, outcome))
    }

    fn reported_activity(&self, id: &str) -> Result<usize, EngineError> {
        match self.tree.by_id.get(id) {
            Some(&a) if Some(a) == self.current => Ok(a),
            _ => Err(EngineError::NotCurrentActivity {
                reported: id.to_owned(),
                current: self.current_activity().map(str::to_owned),
            }),
        }
    }

    fn load_global_objectives(&mut self, objectives: &GlobalObjectiveStore) {
        for g in 0..self.globals.len() {
            let value = objectives
                .get(&self.tree.global_ids[g])
                .cloned()
                .unwrap_or_default();
            if self.globals[g] != value {
                *self.global_mut(g) = value;
            }
        }
        // Reads go through to the global objectives; rolled-up clusters catch
        // up at the next rollup, as in ADL's sample RTE.
    }

    fn decision(&mut self, request: Option<NavigationRequest>, outcome: Outcome) -> Decision {
        let mut before = std::mem::take(&mut self.journal.activities);
        before.sort_by_key(|(index, _)| *index);
        let mut changed_activities = Vec::new();
        for (index, old) in before.drain(..) {
            self.journal.touched[index] = false;
            if old != self.acts[index] {
                changed_activities.push(self.acts[index].clone());
            }
        }
        self.journal.activities = before;
        let mut globals = std::mem::take(&mut self.journal.globals);
        let mut changed_global_objectives = GlobalObjectiveStore::new();
        for (g, old) in globals.drain(..) {
            self.journal.globals_touched[g] = false;
            if old != self.globals[g] {
                changed_global_objectives
                    .insert(self.tree.global_ids[g].clone(), self.globals[g].clone());
            }
        }
        self.journal.globals = globals;
        Decision {
            request,
            outcome,
            current_activity: self.current_activity().map(str::to_owned),
            suspended_activity: self.suspended_activity().map(str::to_owned),
            changed_activities,
            changed_global_objectives,
        }
    }

    /// The tracking state of `activity`, recorded in the journal before its
    /// first change. Every mutation of `acts` goes through here.
    fn act_mut(&mut self, activity: usize) -> &mut ActivityState {
        if !self.journal.touched[activity] {
            self.journal.touched[activity] = true;
            self.journal
                .activities
                .push((activity, self.acts[activity].clone()));
        }
        &mut self.acts[activity]
    }

    /// A global objective, recorded in the journal before its first change.
    fn global_mut(&mut self, g: usize) -> &mut GlobalObjective {
        if !self.journal.globals_touched[g] {
            self.journal.globals_touched[g] = true;
            self.journal.globals.push((g, self.globals[g].clone()));
        }
        &mut self.globals[g]
    }

    fn index(&self, id: &str) -> Option<usize> {
        self.tree.by_id.get(id).copied()
    }

    fn parent(&self, activity: usize) -> Option<usize> {
        self.tree.nodes[activity].parent
    }

    fn is_leaf(&self, activity: usize) -> bool {
        self.tree.is_leaf(activity)
    }

    fn id(&self, activity: usize) -> &str {
        &self.tree.nodes[activity].id
    }
}

impl Journal {
    fn new(activities: usize, globals: usize) -> Journal {
        Journal {
            touched: vec![false; activities],
            activities: Vec::new(),
            globals_touched: vec![false; globals],
            globals: Vec::new(),
        }
    }

    fn reset(&mut self) {
        for (index, _) in self.activities.drain(..) {
            self.touched[index] = false;
        }
        for (g, _) in self.globals.drain(..) {
            self.globals_touched[g] = false;
        }
    }
}

impl Engine {
    /// Overall Sequencing Process (OP.1) for one navigation request: the
    /// Navigation Request Process, then the Termination Request Process (its
    /// sequencing request replaces the pending one), the Sequencing Request
    /// Process, the Delivery Request Process and the Content Delivery
    /// Environment Process.
    fn overall_sequencing(&mut self, request: &NavigationRequest) -> Outcome {
        let (termination, mut sequencing) = match self.navigation_request(request) {
            Ok(requests) => requests,
            Err(exception) => return Outcome::Exception { exception },
        };
        if let Some(termination) = termination {
            match self.termination_request(termination) {
                Ok(Some(replacement)) => sequencing = Some(replacement),
                Ok(None) => {}
                Err(exception) => return Outcome::Exception { exception },
            }
            if sequencing == Some(SequencingRequest::Retry) && self.current == Some(0) {
                // A new attempt on the whole course.
                self.clear_course_scoped_objectives();
            }
        }
        let Some(sequencing) = sequencing else {
            return Outcome::NothingDelivered;
        };
        match self.sequencing_request(sequencing) {
            Err(exception) => Outcome::Exception { exception },
            Ok(sequencing::SequencingOutcome::Nothing) => Outcome::NothingDelivered,
            Ok(sequencing::SequencingOutcome::EndSession) => {
                self.end_sequencing_session();
                Outcome::SessionEnded
            }
            Ok(sequencing::SequencingOutcome::ChoiceIntoEmptyCluster { common, target }) => {
                self.terminate_descendent_attempts(common);
                self.end_attempt(common);
                self.current = Some(target);
                Outcome::Exception {
                    exception: SequencingException::ChoiceNothingToDeliver,
                }
            }
            Ok(sequencing::SequencingOutcome::Deliver(activity)) => {
                match self.delivery_request(activity) {
                    Ok(()) => self.content_delivery(activity),
                    Err(exception) => Outcome::Exception { exception },
                }
            }
        }
    }

    /// Ends the sequencing session: every attempt still open ends (the 4th
    /// edition's Terminate Descendent Attempts Process on the root when a
    /// flow leaves the tree; ADL's sample RTE also ends the root's attempt),
    /// and the Current Activity is cleared so the next session starts with
    /// Start or Resume All.
    fn end_sequencing_session(&mut self) {
        if self.current.is_some() {
            self.terminate_descendent_attempts(0);
            if self.acts[0].active {
                self.end_attempt(0);
            }
        }
        self.current = None;
        if !self.acts[0].suspended {
            self.clear_course_scoped_objectives();
        }
    }

    /// With `objectivesGlobalToSystem=false` the global objectives belong to
    /// one attempt on the course: they are cleared when it ends (as ADL's
    /// sample RTE does at the end of a session that was not suspended, and
    /// when the root is retried).
    fn clear_course_scoped_objectives(&mut self) {
        if self.tree.objectives_global_to_system {
            return;
        }
        for g in 0..self.globals.len() {
            if self.globals[g] != GlobalObjective::default() {
                *self.global_mut(g) = GlobalObjective::default();
            }
        }
    }
}
