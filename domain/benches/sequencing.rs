//! Timing of navigation requests on a generated course of 500 activities
//! (root, 5 modules, 45 lessons, 450 SCOs) where every cluster rolls up
//! objectives by rules and by measure, every SCO carries a precondition rule
//! and every lesson writes a global objective.
//!
//! `cargo bench -p domain --bench sequencing` prints p50/p99/max per
//! operation, next to a baseline measured in the same run: cloning the
//! engine (copying the tracking state of all 500 activities once), and
//! restoring it from a JSON snapshot. It checks the behaviour it times, but
//! asserts no timing: speed is measured here, not tested.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use cqrs_es::Aggregate;
use domain::course::CourseId;
use domain::package::{Course, ImportOptions, MemoryPackage, import_package};
use domain::registration::{Learner, Registration, RegistrationEvent};
use domain::sequencing::engine::{
    CompletionStatus, Engine, EngineOptions, NavigationRequest, Outcome, RuntimeReport,
    ScoreReport, SequencingInput, SuccessStatus,
};

const MODULES: usize = 5;
const LESSONS: usize = 9;
const SCOS: usize = 10;

fn sco_id(module: usize, lesson: usize, sco: usize) -> String {
    format!("m{module}_l{lesson}_s{sco}")
}

/// The manifest of the generated course.
fn manifest() -> String {
    let mut items = String::new();
    for module in 0..MODULES {
        writeln!(
            items,
            r#"<item identifier="m{module}"><title>Module {module}</title>"#
        )
        .unwrap();
        for lesson in 0..LESSONS {
            writeln!(
                items,
                r#"<item identifier="m{module}_l{lesson}"><title>Lesson {lesson}</title>"#
            )
            .unwrap();
            for sco in 0..SCOS {
                let id = sco_id(module, lesson, sco);
                writeln!(
                    items,
                    r#"<item identifier="{id}" identifierref="R"><title>{id}</title>
  <imsss:sequencing>
    <imsss:sequencingRules>
      <imsss:preConditionRule>
        <imsss:ruleConditions conditionCombination="all">
          <imsss:ruleCondition condition="satisfied"/>
          <imsss:ruleCondition condition="attemptLimitExceeded" operator="not"/>
        </imsss:ruleConditions>
        <imsss:ruleAction action="skip"/>
      </imsss:preConditionRule>
    </imsss:sequencingRules>
    <imsss:limitConditions attemptLimit="5"/>
    <imsss:rollupRules objectiveMeasureWeight="{weight}"/>
    <imsss:objectives>
      <imsss:primaryObjective objectiveID="{id}_o" satisfiedByMeasure="true">
        <imsss:minNormalizedMeasure>0.5</imsss:minNormalizedMeasure>
      </imsss:primaryObjective>
    </imsss:objectives>
  </imsss:sequencing>
</item>"#,
                    weight = 1 + sco % 3
                )
                .unwrap();
            }
            writeln!(
                items,
                r#"<imsss:sequencing>
  <imsss:controlMode choice="true" flow="true"/>
  <imsss:rollupRules>
    <imsss:rollupRule childActivitySet="atLeastPercent" minimumPercent="0.8">
      <imsss:rollupConditions><imsss:rollupCondition condition="satisfied"/></imsss:rollupConditions>
      <imsss:rollupAction action="satisfied"/>
    </imsss:rollupRule>
    <imsss:rollupRule childActivitySet="atLeastCount" minimumCount="3">
      <imsss:rollupConditions><imsss:rollupCondition condition="satisfied" operator="not"/></imsss:rollupConditions>
      <imsss:rollupAction action="notSatisfied"/>
    </imsss:rollupRule>
  </imsss:rollupRules>
  <imsss:objectives>
    <imsss:primaryObjective objectiveID="m{module}_l{lesson}_o">
      <imsss:mapInfo targetObjectiveID="global_m{module}_l{lesson}" writeSatisfiedStatus="true" writeNormalizedMeasure="true"/>
    </imsss:primaryObjective>
  </imsss:objectives>
</imsss:sequencing>
</item>"#
            )
            .unwrap();
        }
        writeln!(
            items,
            r#"<imsss:sequencing>
  <imsss:controlMode choice="true" flow="true"/>
  <imsss:objectives>
    <imsss:primaryObjective objectiveID="m{module}_o" satisfiedByMeasure="true">
      <imsss:minNormalizedMeasure>0.6</imsss:minNormalizedMeasure>
    </imsss:primaryObjective>
  </imsss:objectives>
  <adlseq:rollupConsiderations requiredForSatisfied="ifAttempted"/>
</imsss:sequencing>
</item>"#
        )
        .unwrap();
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="perf" version="1"
    xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"
    xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3"
    xmlns:adlseq="http://www.adlnet.org/xsd/adlseq_v1p3"
    xmlns:adlnav="http://www.adlnet.org/xsd/adlnav_v1p3"
    xmlns:imsss="http://www.imsglobal.org/xsd/imsss">
  <metadata><schema>ADL SCORM</schema><schemaversion>2004 4th Edition</schemaversion></metadata>
  <organizations default="O">
    <organization identifier="O"><title>500 activities</title>
{items}
      <imsss:sequencing><imsss:controlMode choice="true" flow="true"/></imsss:sequencing>
    </organization>
  </organizations>
  <resources>
    <resource identifier="R" type="webcontent" adlcp:scormType="sco" href="sco.html">
      <file href="sco.html"/>
    </resource>
  </resources>
</manifest>"#
    )
}

fn course() -> Course {
    let package = MemoryPackage::new()
        .with("imsmanifest.xml", manifest())
        .with("sco.html", "<html></html>");
    let course = import_package(&package, &ImportOptions::default())
        .unwrap()
        .course;
    assert_eq!(
        course.activities().len(),
        1 + MODULES * (1 + LESSONS * (1 + SCOS))
    );
    course
}

fn at(step: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(step)
}

/// A SCO's data at Terminate: completed, passed or failed by measure.
fn report(index: usize) -> RuntimeReport {
    RuntimeReport {
        completion_status: Some(CompletionStatus::Completed),
        success_status: Some(if index.is_multiple_of(4) {
            SuccessStatus::Failed
        } else {
            SuccessStatus::Passed
        }),
        score: ScoreReport {
            scaled: Some(if index.is_multiple_of(4) { 0.3 } else { 0.9 }),
            ..ScoreReport::default()
        },
        session_time: Some("PT2M".to_owned()),
        ..RuntimeReport::default()
    }
}

struct Timings {
    name: &'static str,
    samples: Vec<Duration>,
}

impl Timings {
    fn new(name: &'static str) -> Timings {
        Timings {
            name,
            samples: Vec::new(),
        }
    }

    fn time<T>(&mut self, run: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let value = run();
        self.samples.push(start.elapsed());
        value
    }

    fn percentile(&self, fraction: f64) -> Duration {
        let mut sorted = self.samples.clone();
        sorted.sort();
        let index = ((sorted.len() - 1) as f64 * fraction).round() as usize;
        sorted[index]
    }

    fn table_row(&self) -> String {
        format!(
            "| {} | {} | {:.1?} | {:.1?} | {:.1?} |",
            self.name,
            self.samples.len(),
            self.percentile(0.5),
            self.percentile(0.99),
            self.samples.iter().max().unwrap()
        )
    }
}

fn main() {
    let course = course();
    let leaves: Vec<String> = (0..MODULES)
        .flat_map(|m| (0..LESSONS).flat_map(move |l| (0..SCOS).map(move |s| sco_id(m, l, s))))
        .collect();
    let last = leaves.last().unwrap().clone();

    let mut build = Timings::new("Engine::new");
    let mut engine = build.time(|| Engine::new(&course, EngineOptions::default()).unwrap());
    let start = engine
        .apply(&SequencingInput::Navigate {
            request: NavigationRequest::Start,
            at: at(0),
        })
        .unwrap();
    assert_eq!(start.outcome.delivered(), Some(leaves[0].as_str()));

    // The first leaf is current: choosing the last leaf ends its attempt,
    // rolls up and walks the tree from the root. Timed on copies.
    let mut choice_last = Timings::new("navigate choice of the last leaf");
    let choose_last = SequencingInput::Navigate {
        request: NavigationRequest::Choice {
            target: last.clone(),
        },
        at: at(1),
    };
    for _ in 0..300 {
        let mut copy = engine.clone();
        let decision = choice_last.time(|| copy.apply(&choose_last).unwrap());
        assert_eq!(decision.outcome.delivered(), Some(last.as_str()));
    }

    // Walk the whole course: each SCO terminates (runtime data transfer,
    // end attempt, rollup, global objective writes), then the learner
    // presses Continue.
    let mut terminate = Timings::new("terminate with runtime data (rollup)");
    let mut continue_ = Timings::new("navigate continue");
    let mut valid_continue = Timings::new("request_valid continue");
    let mut valid_choice = Timings::new("request_valid choice of the last leaf");
    let mut state = Timings::new("navigation_state (controls + 500-item toc)");
    let mut step = 2;
    for (index, leaf) in leaves.iter().enumerate() {
        assert_eq!(engine.current_activity(), Some(leaf.as_str()));
        let decision = terminate.time(|| {
            engine
                .apply(&SequencingInput::Terminate {
                    activity: leaf.clone(),
                    report: report(index),
                    request: None,
                    at: at(step),
                })
                .unwrap()
        });
        assert_eq!(decision.outcome, Outcome::Recorded);
        assert!(valid_continue.time(|| engine.request_valid(&NavigationRequest::Continue)));
        valid_choice.time(|| {
            engine.request_valid(&NavigationRequest::Choice {
                target: last.clone(),
            })
        });
        let toc = state.time(|| engine.navigation_state());
        assert_eq!(toc.tree.len(), course.activities().len());
        let decision = continue_.time(|| {
            engine
                .apply(&SequencingInput::Navigate {
                    request: NavigationRequest::Continue,
                    at: at(step + 1),
                })
                .unwrap()
        });
        step += 2;
        match leaves.get(index + 1) {
            Some(next) => assert_eq!(decision.outcome.delivered(), Some(next.as_str())),
            None => assert_eq!(decision.outcome, Outcome::SessionEnded),
        }
    }
    let root = engine.activity_status(&course.root.id).unwrap();
    assert_eq!(root.completion_status, CompletionStatus::Completed);

    let all = [
        &build,
        &choice_last,
        &terminate,
        &continue_,
        &valid_continue,
        &valid_choice,
        &state,
    ];
    // Baselines, same run: copying the whole tracking state, and restoring
    // it from its JSON snapshot.
    let mut clone = Timings::new("baseline: clone the engine (500 activities)");
    for _ in 0..300 {
        let copy = clone.time(|| engine.clone());
        drop(copy);
    }
    let snapshot = engine.snapshot();
    let json = serde_json::to_string(&snapshot).unwrap();
    let mut restore = Timings::new("baseline: restore from a JSON snapshot");
    for _ in 0..100 {
        restore.time(|| {
            let snapshot = serde_json::from_str(&json).unwrap();
            Engine::restore(&course, EngineOptions::default(), &snapshot).unwrap()
        });
    }
    let (rebuild, rebuild_rows) = rebuild_from_events(&course, &leaves);
    println!(
        "# sequencing engine, generated course of {} activities\n",
        course.activities().len()
    );
    println!("| operation | samples | p50 | p99 | max |");
    println!("|---|---:|---:|---:|---:|");
    for timings in all.iter().copied().chain([&clone, &restore]) {
        println!("{}", timings.table_row());
    }
    println!(
        "\n# tracking state rebuilt from a registration's log: {rebuild} events (JSON as stored)\n"
    );
    println!("| operation | samples | p50 | p99 | max |");
    println!("|---|---:|---:|---:|---:|");
    for timings in &rebuild_rows {
        println!("{}", timings.table_row());
    }
}

/// A registration's log with about 10,000 `SequencingDecided` events: the
/// learner walks the whole course (terminate, continue) again and again,
/// each walk a new attempt. Times what loading the registration does
/// (decode every stored event, fold it into the tracking state) next to
/// decoding alone and to running every input through the engine again.
fn rebuild_from_events(course: &Course, leaves: &[String]) -> (usize, Vec<Timings>) {
    const EVENTS: usize = 10_000;
    let options = EngineOptions::default();
    let mut engine = Engine::new(course, options).unwrap();
    let at0 = at(0);
    let mut log = vec![
        RegistrationEvent::RegistrationCreated {
            registration_id: "r".into(),
            course_id: CourseId::parse("bench").unwrap(),
            course_version: 1,
            activities: leaves.to_vec(),
            learner: Learner {
                id: "l".into(),
                first_name: None,
                last_name: None,
                email: None,
            },
            tags: vec![],
            at: at0,
        },
        RegistrationEvent::SessionStarted {
            session_id: "s".into(),
            attempt: 1,
            resumed: false,
            supersedes: None,
            user_agent: None,
            ip: None,
            at: at0,
        },
        RegistrationEvent::SequencingStarted {
            session_id: "s".into(),
            attempt: 1,
            options,
            tracking: Box::new(engine.snapshot()),
            at: at0,
        },
    ];
    let mut inputs = Vec::new();
    let mut step = 0;
    let mut decide = |engine: &mut Engine, input: SequencingInput, log: &mut Vec<_>| {
        let decision = engine.apply(&input).unwrap();
        inputs.push(input.clone());
        log.push(RegistrationEvent::SequencingDecided {
            session_id: "s".into(),
            input: Box::new(input),
            decision: Box::new(decision),
            statuses: vec![],
            at: at0,
        });
    };
    // One walk through the course; each SCO commits its progress 21 times
    // before it terminates (a long session), then the learner continues.
    let start = SequencingInput::Navigate {
        request: NavigationRequest::Start,
        at: at(step),
    };
    decide(&mut engine, start, &mut log);
    for (index, leaf) in leaves.iter().enumerate() {
        if log.len() >= EVENTS + 3 {
            break;
        }
        for commit in 1..=21 {
            step += 1;
            let progress = SequencingInput::Commit {
                activity: leaf.clone(),
                report: RuntimeReport {
                    completion_status: Some(CompletionStatus::Incomplete),
                    progress_measure: Some(f64::from(commit) / 22.0),
                    ..RuntimeReport::default()
                },
                at: at(step),
            };
            decide(&mut engine, progress, &mut log);
        }
        step += 2;
        let terminate = SequencingInput::Terminate {
            activity: leaf.clone(),
            report: report(index),
            request: None,
            at: at(step),
        };
        decide(&mut engine, terminate, &mut log);
        let next = SequencingInput::Navigate {
            request: NavigationRequest::Continue,
            at: at(step + 1),
        };
        decide(&mut engine, next, &mut log);
    }
    let stored: Vec<String> = log
        .iter()
        .map(|event| serde_json::to_string(event).unwrap())
        .collect();
    let expected = serde_json::to_string(&engine.snapshot()).unwrap();

    let mut fold = Timings::new("load: decode + fold every event");
    let mut decode = Timings::new("baseline: decode every event only");
    let mut rerun = Timings::new("baseline: run every input through the engine again");
    for _ in 0..5 {
        let registration = fold.time(|| {
            let mut registration = Registration::default();
            for json in &stored {
                let event: RegistrationEvent = serde_json::from_str(json).unwrap();
                registration.apply(event);
            }
            registration
        });
        let rebuilt = registration.engine(course).unwrap().unwrap();
        assert_eq!(
            serde_json::to_string(&rebuilt.snapshot()).unwrap(),
            expected,
            "the folded state is the live one"
        );
        let decoded: Vec<RegistrationEvent> = decode.time(|| {
            stored
                .iter()
                .map(|json| serde_json::from_str(json).unwrap())
                .collect()
        });
        assert_eq!(decoded.len(), stored.len());
        let replayed = rerun.time(|| Engine::replay(course, options, &inputs).unwrap());
        assert_eq!(
            serde_json::to_string(&replayed.snapshot()).unwrap(),
            expected
        );
    }
    (stored.len(), vec![fold, decode, rerun])
}
