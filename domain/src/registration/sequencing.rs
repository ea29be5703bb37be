//! A registration's SCORM 2004 sequencing: the SN engine's tracking state,
//! folded from the registration's own events, and the inputs its commands
//! give the engine.
//!
//! The aggregate never keeps an [`Engine`]: building one needs the course,
//! which commands carry ([`Sequencing`], `RegistrationCommand::Sequence`)
//! and events do not. A command restores the engine from the folded
//! [`TrackingState`], applies one input and records the input with the
//! engine's [`Decision`] (`SequencingDecided`); `apply` folds the decision's
//! changed activities back into the state. Replaying the recorded inputs
//! on a fresh engine gives the same state (tested below and in the
//! sequencing benchmark).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::cmi::RuntimeData;
use crate::package::Course;
use crate::sequencing::engine::{
    ActivityStatus, CompletionStatus, Decision, Engine, EngineError, EngineOptions, Entry,
    ExitMode, GlobalObjectiveStore, ObjectiveReport, Outcome, RuntimeReport, ScoreReport,
    SequencingInput, SuccessStatus, TrackingState,
};

/// What starting a session of a sequenced course needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Sequencing {
    /// The pinned course version.
    pub course: Arc<Course>,
    /// Seed of selection and randomization, used when a new attempt's
    /// tracking state is created (recorded in `SequencingStarted`).
    pub seed: u64,
    /// Start at this activity (a Choice) instead of the course's start.
    pub start: Option<String>,
    /// The learner's shared global objectives as other registrations left
    /// them (`objectivesGlobalToSystem`); `None` when not shared.
    pub learner_objectives: Option<GlobalObjectiveStore>,
}

/// The sequencing state of the registration's current attempt.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct SeqState {
    pub options: EngineOptions,
    pub tracking: TrackingState,
    /// Activity id to its position in `tracking.activities`.
    #[serde(skip)]
    index: HashMap<String, usize>,
    /// The current activity's runtime data went to the engine at its
    /// termination; later requests are plain navigation.
    pub handed_over: bool,
    /// What the current activity reported at its last transfer.
    pub last_report: Option<RuntimeReport>,
    /// The activity the last delivery decision chose, and its entry.
    pub delivering: Option<(String, Entry)>,
    /// A batch of that delivery has been committed.
    pub reported: bool,
    /// The outcome of the last navigation or termination.
    pub last_outcome: Option<Outcome>,
}

impl SeqState {
    /// The root activity's status among `statuses`, if it is there.
    pub fn root_status<'a>(&self, statuses: &'a [ActivityStatus]) -> Option<&'a ActivityStatus> {
        let root = &self.tracking.activities.first()?.id;
        statuses.iter().find(|status| status.id == *root)
    }

    pub fn new(options: EngineOptions, tracking: TrackingState) -> SeqState {
        SeqState {
            options,
            index: index_of(&tracking),
            tracking,
            handed_over: false,
            last_report: None,
            delivering: None,
            reported: false,
            last_outcome: None,
        }
    }

    /// The engine of this state for `course`.
    pub fn engine(&self, course: &Course) -> Result<Engine, EngineError> {
        Engine::restore(course, self.options, &self.tracking)
    }

    /// Folds a decision into the tracking state.
    pub fn fold(&mut self, input: &SequencingInput, decision: &Decision) {
        if self.index.is_empty() {
            // Deserialised state: the index is not stored.
            self.index = index_of(&self.tracking);
        }
        for changed in &decision.changed_activities {
            if let Some(&i) = self.index.get(&changed.id) {
                self.tracking.activities[i] = changed.clone();
            }
        }
        self.tracking.current = decision.current_activity.clone();
        self.tracking.suspended = decision.suspended_activity.clone();
        for (id, objective) in &decision.changed_global_objectives {
            self.tracking
                .global_objectives
                .insert(id.clone(), objective.clone());
        }
        match input {
            SequencingInput::Terminate { .. } => {
                self.handed_over = true;
                self.last_report = None;
            }
            SequencingInput::Commit { report, .. } => self.last_report = Some(report.clone()),
            _ => {}
        }
        if matches!(
            input,
            SequencingInput::Navigate { .. } | SequencingInput::Terminate { .. }
        ) {
            self.last_outcome = Some(decision.outcome.clone());
        }
        if let Outcome::Delivered {
            activity, entry, ..
        } = &decision.outcome
        {
            self.delivering = Some((activity.clone(), *entry));
            self.reported = false;
            self.handed_over = false;
            self.last_report = None;
        }
    }
}

fn index_of(tracking: &TrackingState) -> HashMap<String, usize> {
    tracking
        .activities
        .iter()
        .enumerate()
        .map(|(i, a)| (a.id.clone(), i))
        .collect()
}

/// The effective status of every activity a decision changed, and of the
/// root (the course) always: what progress reports read.
pub(super) fn statuses(engine: &Engine, decision: &Decision, root: &str) -> Vec<ActivityStatus> {
    let mut ids: Vec<&str> = decision
        .changed_activities
        .iter()
        .map(|a| a.id.as_str())
        .collect();
    if !ids.contains(&root) {
        ids.push(root);
    }
    ids.into_iter()
        .filter_map(|id| engine.activity_status(id))
        .collect()
}

fn number(data: &RuntimeData, element: &str) -> Option<f64> {
    data.get(element).and_then(|v| v.parse().ok())
}

fn score(data: &RuntimeData, prefix: &str) -> ScoreReport {
    ScoreReport {
        scaled: number(data, &format!("{prefix}.scaled")),
        raw: number(data, &format!("{prefix}.raw")),
        min: number(data, &format!("{prefix}.min")),
        max: number(data, &format!("{prefix}.max")),
    }
}

/// What a SCORM 2004 SCO's runtime data tells the sequencer (RTE 4.2 to
/// SN 4.2). `terminated` adds what only counts at Terminate: `cmi.exit`,
/// `cmi.session_time` and `adl.nav.request`.
pub fn runtime_report(data: &RuntimeData, terminated: bool) -> RuntimeReport {
    let objectives = (0..data.count("cmi.objectives"))
        .filter_map(|n| {
            let prefix = format!("cmi.objectives.{n}");
            let id = data.get(&format!("{prefix}.id"))?.to_owned();
            Some(ObjectiveReport {
                id,
                success_status: data
                    .get(&format!("{prefix}.success_status"))
                    .and_then(SuccessStatus::from_cmi),
                completion_status: data
                    .get(&format!("{prefix}.completion_status"))
                    .and_then(CompletionStatus::from_cmi),
                score: score(data, &format!("{prefix}.score")),
                progress_measure: number(data, &format!("{prefix}.progress_measure")),
            })
        })
        .collect();
    let mut report = RuntimeReport {
        completion_status: data
            .get("cmi.completion_status")
            .and_then(CompletionStatus::from_cmi),
        success_status: data
            .get("cmi.success_status")
            .and_then(SuccessStatus::from_cmi),
        score: score(data, "cmi.score"),
        progress_measure: number(data, "cmi.progress_measure"),
        objectives,
        ..RuntimeReport::default()
    };
    if terminated {
        report.exit = data.get("cmi.exit").and_then(ExitMode::from_cmi);
        report.session_time = data.get("cmi.session_time").map(str::to_owned);
        report.nav_request = data
            .get("adl.nav.request")
            .filter(|v| *v != "_none_")
            .map(str::to_owned);
    }
    report
}

/// The learner's shared values a decision or a batch wrote, for
/// `LearnerGlobalsWritten`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LearnerGlobals {
    /// Global objectives by target objective ID.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub objectives: GlobalObjectiveStore,
    /// Shared data (`adl.data`) by target ID.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub shared_data: BTreeMap<String, String>,
}

impl LearnerGlobals {
    pub fn is_empty(&self) -> bool {
        self.objectives.is_empty() && self.shared_data.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{DateTime, Utc};
    use cqrs_es::Aggregate;

    use super::super::{
        ClientCall, Learner, Registration, RegistrationCommand as C, RegistrationError,
        RegistrationEvent as E, Sequencing,
    };
    use crate::cmi::{ApiCall, LaunchContext, RecordedCall, ScormVersion};
    use crate::course::CourseId;
    use crate::package::{Course, ImportOptions, MemoryPackage, import_package};
    use crate::sequencing::engine::{
        CompletionStatus, Engine, Entry, NavigationRequest, Outcome, SequencingInput, SuccessStatus,
    };

    /// Two SCOs, flow only and forward only, with a shared global objective
    /// written by the first and read by the second.
    fn course(global_to_system: bool) -> Arc<Course> {
        let manifest = format!(
            r#"<manifest identifier="M" xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"
    xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3" xmlns:imsss="http://www.imsglobal.org/xsd/imsss"
    xmlns:adlseq="http://www.adlnet.org/xsd/adlseq_v1p3">
  <metadata><schema>ADL SCORM</schema><schemaversion>2004 4th Edition</schemaversion></metadata>
  <organizations default="O"><organization identifier="O" adlseq:objectivesGlobalToSystem="{global_to_system}"><title>Course</title>
    <item identifier="i1" identifierref="R1"><title>One</title>
      <imsss:sequencing><imsss:objectives>
        <imsss:primaryObjective objectiveID="p1">
          <imsss:mapInfo targetObjectiveID="g.shared" writeSatisfiedStatus="true"/>
        </imsss:primaryObjective></imsss:objectives></imsss:sequencing>
    </item>
    <item identifier="i2" identifierref="R2"><title>Two</title></item>
    <imsss:sequencing><imsss:controlMode choice="false" flow="true" forwardOnly="true"/></imsss:sequencing>
  </organization></organizations>
  <resources>
    <resource identifier="R1" type="webcontent" adlcp:scormType="sco" href="one.html"/>
    <resource identifier="R2" type="webcontent" adlcp:scormType="sco" href="two.html"/>
  </resources>
</manifest>"#
        );
        let package = MemoryPackage::new()
            .with("imsmanifest.xml", manifest.as_str())
            .with("one.html", "")
            .with("two.html", "");
        Arc::new(
            import_package(&package, &ImportOptions::default())
                .unwrap()
                .course,
        )
    }

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn sequencing(course: &Arc<Course>) -> Sequencing {
        Sequencing {
            course: course.clone(),
            seed: 7,
            start: None,
            learner_objectives: None,
        }
    }

    /// Runs a command and applies its events; returns them.
    fn run(registration: &mut Registration, command: C) -> Vec<E> {
        let events = registration.decide(command).expect("command accepted");
        for event in &events {
            registration.apply(event.clone());
        }
        events
    }

    fn created() -> Registration {
        created_with(&["i1", "i2"])
    }

    fn created_with(activities: &[&str]) -> Registration {
        let mut registration = Registration::default();
        run(
            &mut registration,
            C::Create {
                registration_id: "r1".into(),
                course_id: CourseId::parse("c1").unwrap(),
                course_version: 1,
                activities: activities.iter().map(|a| (*a).to_owned()).collect(),
                learner: Learner {
                    id: "l1".into(),
                    first_name: None,
                    last_name: None,
                    email: None,
                },
                tags: vec![],
                at: at(0),
            },
        );
        registration
    }

    fn start(registration: &mut Registration, session: &str, sequencing: Sequencing) -> Vec<E> {
        run(
            registration,
            C::StartSession {
                session_id: session.into(),
                user_agent: None,
                ip: None,
                sequencing: Some(sequencing),
                at: at(1),
            },
        )
    }

    fn deliver(registration: &mut Registration, session: &str, activity: &str) {
        let mut context = LaunchContext::new(ScormVersion::Scorm2004Fourth, "l1", "l1");
        context.prior = registration.prior_for(activity);
        run(
            registration,
            C::Deliver {
                session_id: session.into(),
                activity_id: activity.into(),
                context: Box::new(context),
                at: at(2),
            },
        );
    }

    fn call(seq: u64, call: ApiCall) -> ClientCall {
        ClientCall {
            recorded: RecordedCall {
                seq,
                call,
                result: "true".into(),
                error: 0,
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
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn commit(
        registration: &mut Registration,
        course: &Arc<Course>,
        session: &str,
        batch: u64,
        activity: &str,
        calls: Vec<ClientCall>,
    ) -> Vec<E> {
        run(
            registration,
            C::Commit {
                session_id: session.into(),
                batch,
                activity_id: activity.into(),
                calls,
                final_batch: false,
                page_hide: false,
                course: Some(course.clone()),
                at: at(3 + batch as i64),
            },
        )
    }

    fn sequence(
        registration: &mut Registration,
        course: &Arc<Course>,
        session: &str,
        request: Option<NavigationRequest>,
    ) -> Vec<E> {
        run(
            registration,
            C::Sequence {
                session_id: session.into(),
                request,
                course: course.clone(),
                at: at(20),
            },
        )
    }

    fn decisions(events: &[E]) -> Vec<&Outcome> {
        events
            .iter()
            .filter_map(|e| match e {
                E::SequencingDecided { decision, .. } => Some(&decision.outcome),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_session_starts_sequencing_and_delivers_the_first_activity() {
        let course = course(true);
        let mut registration = created();
        let events = start(&mut registration, "s1", sequencing(&course));
        let kinds: Vec<&str> = events.iter().map(|e| e.kind()).collect();
        assert_eq!(
            kinds,
            ["SessionStarted", "SequencingStarted", "SequencingDecided"]
        );
        assert_eq!(
            decisions(&events)[0].delivered(),
            Some("i1"),
            "flow starts at the first leaf"
        );
        assert_eq!(registration.delivering(), Some(("i1", Entry::AbInitio)));
        // Only what the sequencer chose may be delivered.
        let mut context = LaunchContext::new(ScormVersion::Scorm2004Fourth, "l1", "l1");
        context.prior = None;
        let refused = registration.decide(C::Deliver {
            session_id: "s1".into(),
            activity_id: "i2".into(),
            context: Box::new(context),
            at: at(2),
        });
        assert_eq!(
            refused,
            Err(RegistrationError::NotCurrentActivity("i2".into()))
        );
        deliver(&mut registration, "s1", "i1");
    }

    #[test]
    fn the_scos_data_and_nav_request_drive_delivery_and_rollup() {
        let course = course(true);
        let mut registration = created();
        start(&mut registration, "s1", sequencing(&course));
        deliver(&mut registration, "s1", "i1");
        let events = commit(
            &mut registration,
            &course,
            "s1",
            1,
            "i1",
            vec![
                call(1, ApiCall::Initialize { arg: String::new() }),
                set(2, "cmi.completion_status", "completed"),
                set(3, "cmi.success_status", "passed"),
                set(4, "adl.nav.request", "continue"),
                call(5, ApiCall::Terminate { arg: String::new() }),
            ],
        );
        // The commit hands the data over (not the request: that waits for
        // the navigation after Terminate).
        assert!(matches!(decisions(&events)[..], [Outcome::Recorded]));
        let kinds: Vec<&str> = events.iter().map(|e| e.kind()).collect();
        assert!(
            kinds.contains(&"LearnerGlobalsWritten"),
            "i1's satisfaction is written to the shared objective: {kinds:?}"
        );
        // A batch that changes nothing the sequencer knows is not sent again.
        let again = commit(
            &mut registration,
            &course,
            "s1",
            2,
            "i1",
            vec![call(6, ApiCall::GetLastError)],
        );
        assert!(decisions(&again).is_empty());

        let events = sequence(&mut registration, &course, "s1", None);
        let E::SequencingDecided {
            input, decision, ..
        } = &events[0]
        else {
            panic!("{events:?}")
        };
        assert!(matches!(**input, SequencingInput::Terminate { .. }));
        assert_eq!(decision.outcome.delivered(), Some("i2"));
        deliver(&mut registration, "s1", "i2");
        commit(
            &mut registration,
            &course,
            "s1",
            3,
            "i2",
            vec![
                call(1, ApiCall::Initialize { arg: String::new() }),
                set(2, "cmi.completion_status", "completed"),
                set(3, "cmi.success_status", "passed"),
                call(4, ApiCall::Terminate { arg: String::new() }),
            ],
        );
        // No adl.nav.request: the data is handed over and the learner
        // decides; the attempt on i2 goes on until then.
        let events = sequence(&mut registration, &course, "s1", None);
        assert_eq!(*decisions(&events)[0], Outcome::Recorded);
        // "auto" again: nothing left to hand over, nothing happens.
        assert!(sequence(&mut registration, &course, "s1", None).is_empty());
        // Continue past the last activity ends the attempts and rolls up.
        let events = sequence(
            &mut registration,
            &course,
            "s1",
            Some(NavigationRequest::Continue),
        );
        let E::SequencingDecided {
            decision, statuses, ..
        } = &events[0]
        else {
            panic!("{events:?}")
        };
        assert_eq!(decision.outcome, Outcome::SessionEnded);
        let root = statuses
            .iter()
            .find(|s| s.id == "O")
            .expect("course status");
        assert_eq!(root.completion_status, CompletionStatus::Completed);
        assert_eq!(root.success_status, SuccessStatus::Passed);
        // Forward only: previous was never possible.
        let engine = registration.engine(&course).unwrap().unwrap();
        assert!(!engine.request_valid(&NavigationRequest::Previous));
    }

    /// One SCO: its own Terminate ends (or suspends) the course, so the
    /// course's status rolls up without the learner asking.
    fn single_sco() -> Arc<Course> {
        let manifest = r#"<manifest identifier="M" xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"
    xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3">
  <metadata><schema>ADL SCORM</schema><schemaversion>2004 4th Edition</schemaversion></metadata>
  <organizations default="O"><organization identifier="O"><title>Course</title>
    <item identifier="i1" identifierref="R1"><title>One</title></item>
  </organization></organizations>
  <resources><resource identifier="R1" type="webcontent" adlcp:scormType="sco" href="one.html"/></resources>
</manifest>"#;
        let package = MemoryPackage::new()
            .with("imsmanifest.xml", manifest)
            .with("one.html", "");
        Arc::new(
            import_package(&package, &ImportOptions::default())
                .unwrap()
                .course,
        )
    }

    #[test]
    fn a_single_sco_that_terminates_ends_or_suspends_the_course() {
        for (exit, completion) in [("normal", "completed"), ("suspend", "incomplete")] {
            let course = single_sco();
            let mut registration = created_with(&["i1"]);
            start(&mut registration, "s1", sequencing(&course));
            deliver(&mut registration, "s1", "i1");
            let status = if exit == "normal" {
                "completed"
            } else {
                "incomplete"
            };
            commit(
                &mut registration,
                &course,
                "s1",
                1,
                "i1",
                vec![
                    call(1, ApiCall::Initialize { arg: String::new() }),
                    set(2, "cmi.completion_status", status),
                    set(3, "cmi.exit", exit),
                    call(4, ApiCall::Terminate { arg: String::new() }),
                ],
            );
            let events = sequence(&mut registration, &course, "s1", None);
            let E::SequencingDecided {
                input, decision, ..
            } = &events[0]
            else {
                panic!("{events:?}")
            };
            let SequencingInput::Terminate { request, .. } = &**input else {
                panic!("{input:?}")
            };
            let expected = if exit == "normal" {
                NavigationRequest::ExitAll
            } else {
                NavigationRequest::SuspendAll
            };
            assert_eq!(request.as_ref(), Some(&expected), "{exit}");
            assert_eq!(decision.outcome, Outcome::SessionEnded, "{exit}");
            assert_eq!(registration.progress().completion, completion, "{exit}");
        }
    }

    /// A 4th edition course that sequences off completion through global
    /// objectives (adlseq completion maps, rules on a referenced objective's
    /// completion), its SCOs weighted for progress, as the public "post-test
    /// rollup, 4th edition" sample does. `progressWeight` alone still makes
    /// cmi.completion_threshold the default 1.0 (RTE 4.2.4): the SCO reports
    /// its progress measure, and completion follows it.
    #[test]
    fn completion_written_to_a_global_objective_unlocks_the_next_sco() {
        let manifest = r#"<manifest identifier="M" xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"
    xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3" xmlns:imsss="http://www.imsglobal.org/xsd/imsss"
    xmlns:adlseq="http://www.adlnet.org/xsd/adlseq_v1p3">
  <metadata><schema>ADL SCORM</schema><schemaversion>2004 4th Edition</schemaversion></metadata>
  <organizations default="O"><organization identifier="O"><title>Course</title>
    <item identifier="i1" identifierref="R1"><title>One</title>
      <adlcp:completionThreshold progressWeight="0.5"/>
      <imsss:sequencing>
        <imsss:objectives><imsss:primaryObjective objectiveID="one_done"/></imsss:objectives>
        <imsss:deliveryControls completionSetByContent="true" objectiveSetByContent="true"/>
        <adlseq:objectives><adlseq:objective objectiveID="one_done">
          <adlseq:mapInfo targetObjectiveID="g.one_done" readCompletionStatus="true" writeCompletionStatus="true"/>
        </adlseq:objective></adlseq:objectives>
      </imsss:sequencing>
    </item>
    <item identifier="i2" identifierref="R2"><title>Two</title>
      <adlcp:completionThreshold progressWeight="0.5"/>
      <imsss:sequencing>
        <imsss:sequencingRules><imsss:preConditionRule>
          <imsss:ruleConditions conditionCombination="any">
            <imsss:ruleCondition referencedObjective="previous" operator="not" condition="completed"/>
            <imsss:ruleCondition referencedObjective="previous" operator="not" condition="activityProgressKnown"/>
          </imsss:ruleConditions>
          <imsss:ruleAction action="disabled"/>
        </imsss:preConditionRule></imsss:sequencingRules>
        <imsss:objectives><imsss:primaryObjective objectiveID="two_done"/><imsss:objective objectiveID="previous"/></imsss:objectives>
        <adlseq:objectives><adlseq:objective objectiveID="previous">
          <adlseq:mapInfo targetObjectiveID="g.one_done" readCompletionStatus="true" writeCompletionStatus="false"/>
        </adlseq:objective></adlseq:objectives>
      </imsss:sequencing>
    </item>
    <imsss:sequencing><imsss:controlMode choice="true" flow="true"/></imsss:sequencing>
  </organization></organizations>
  <resources>
    <resource identifier="R1" type="webcontent" adlcp:scormType="sco" href="one.html"/>
    <resource identifier="R2" type="webcontent" adlcp:scormType="sco" href="two.html"/>
  </resources>
</manifest>"#;
        let package = MemoryPackage::new()
            .with("imsmanifest.xml", manifest)
            .with("one.html", "")
            .with("two.html", "");
        let course = Arc::new(
            import_package(&package, &ImportOptions::default())
                .unwrap()
                .course,
        );
        let one = course
            .activities()
            .into_iter()
            .find(|a| a.id == "i1")
            .unwrap();
        assert_eq!(
            one.launch
                .as_ref()
                .and_then(|l| l.runtime.completion_threshold),
            Some(1.0)
        );
        let mut registration = created();
        start(&mut registration, "s1", sequencing(&course));
        deliver(&mut registration, "s1", "i1");
        commit(
            &mut registration,
            &course,
            "s1",
            1,
            "i1",
            vec![
                call(1, ApiCall::Initialize { arg: String::new() }),
                set(2, "cmi.completion_status", "completed"),
                set(3, "cmi.progress_measure", "1"),
                call(4, ApiCall::Terminate { arg: String::new() }),
            ],
        );
        let events = sequence(
            &mut registration,
            &course,
            "s1",
            Some(NavigationRequest::Continue),
        );
        assert_eq!(decisions(&events)[0].delivered(), Some("i2"), "{events:?}");
    }

    #[test]
    fn the_folded_state_equals_a_replay_of_the_recorded_inputs() {
        let course = course(true);
        let mut registration = created();
        let mut log = start(&mut registration, "s1", sequencing(&course));
        deliver(&mut registration, "s1", "i1");
        log.extend(commit(
            &mut registration,
            &course,
            "s1",
            1,
            "i1",
            vec![
                set(1, "cmi.completion_status", "incomplete"),
                set(2, "cmi.exit", "suspend"),
            ],
        ));
        log.extend(sequence(
            &mut registration,
            &course,
            "s1",
            Some(NavigationRequest::SuspendAll),
        ));
        // A new session resumes the suspended activity with its data.
        log.extend(start(&mut registration, "s2", sequencing(&course)));
        assert_eq!(registration.delivering(), Some(("i1", Entry::Resume)));
        let prior = registration.prior_for("i1").expect("resumed data");
        assert_eq!(prior.get("cmi.exit"), Some("suspend"));
        deliver(&mut registration, "s2", "i1");

        let E::SequencingStarted { options, .. } = &log[1] else {
            panic!("{log:?}")
        };
        let inputs: Vec<SequencingInput> = log
            .iter()
            .filter_map(|e| match e {
                E::SequencingDecided { input, .. } => Some((**input).clone()),
                _ => None,
            })
            .collect();
        let replayed = Engine::replay(&course, *options, inputs.iter()).unwrap();
        assert_eq!(
            &replayed.snapshot(),
            registration.tracking().unwrap(),
            "folding decisions and replaying inputs agree"
        );
    }

    #[test]
    fn a_session_left_open_is_suspended_and_resumed_by_the_next() {
        let course = course(true);
        let mut registration = created();
        start(&mut registration, "s1", sequencing(&course));
        deliver(&mut registration, "s1", "i1");
        commit(
            &mut registration,
            &course,
            "s1",
            1,
            "i1",
            vec![
                call(1, ApiCall::Initialize { arg: String::new() }),
                set(2, "cmi.location", "page 3"),
            ],
        );
        // The tab closed; a new launch.
        let events = start(&mut registration, "s2", sequencing(&course));
        let inputs: Vec<&SequencingInput> = events
            .iter()
            .filter_map(|e| match e {
                E::SequencingDecided { input, .. } => Some(&**input),
                _ => None,
            })
            .collect();
        assert!(matches!(
            inputs[0],
            SequencingInput::Terminate {
                request: Some(NavigationRequest::SuspendAll),
                ..
            }
        ));
        assert!(matches!(
            inputs[1],
            SequencingInput::Navigate {
                request: NavigationRequest::ResumeAll,
                ..
            }
        ));
        assert_eq!(registration.delivering(), Some(("i1", Entry::Resume)));
        let prior = registration.prior_for("i1").unwrap();
        assert_eq!(prior.get("cmi.location"), Some("page 3"));
    }

    #[test]
    fn shared_objectives_come_from_the_learner_and_course_scoped_ones_do_not_leave() {
        let course = course(true);
        let mut registration = created();
        let mut shared = super::GlobalObjectiveStore::new();
        shared.insert(
            "g.shared".into(),
            crate::sequencing::engine::GlobalObjective {
                satisfied: Some(true),
                ..Default::default()
            },
        );
        let events = start(
            &mut registration,
            "s1",
            Sequencing {
                learner_objectives: Some(shared.clone()),
                ..sequencing(&course)
            },
        );
        assert!(events.iter().any(|e| matches!(e,
            E::SequencingDecided { input, .. } if matches!(**input, SequencingInput::LoadGlobalObjectives { .. }))));
        assert_eq!(
            registration.tracking().unwrap().global_objectives["g.shared"].satisfied,
            Some(true)
        );
        // Loading the same values again records nothing.
        let again = start(
            &mut registration,
            "s2",
            Sequencing {
                learner_objectives: Some(shared),
                ..sequencing(&course)
            },
        );
        assert!(!again.iter().any(|e| matches!(e,
            E::SequencingDecided { input, .. } if matches!(**input, SequencingInput::LoadGlobalObjectives { .. }))));

        // objectivesGlobalToSystem="false": nothing is written for the learner.
        let course = self::course(false);
        let mut registration = created();
        start(&mut registration, "s1", sequencing(&course));
        deliver(&mut registration, "s1", "i1");
        let events = commit(
            &mut registration,
            &course,
            "s1",
            1,
            "i1",
            vec![set(1, "cmi.success_status", "passed")],
        );
        assert!(!events.iter().any(|e| e.kind() == "LearnerGlobalsWritten"));
    }

    #[test]
    fn a_reset_starts_sequencing_over() {
        let course = course(true);
        let mut registration = created();
        start(&mut registration, "s1", sequencing(&course));
        run(&mut registration, C::Reset { at: at(5) });
        assert!(!registration.is_sequenced());
        let events = start(&mut registration, "s2", sequencing(&course));
        assert!(events.iter().any(|e| e.kind() == "SequencingStarted"));
    }
}
