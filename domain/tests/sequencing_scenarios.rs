//! Data-driven sequencing scenarios: each folder under
//! `tests/data/sequencing/` holds an `imsmanifest.xml` and a `script`. The
//! script is a list of steps (navigation requests, runtime data at commit or
//! terminate, global objectives loaded from elsewhere); the indented lines
//! under a step are what must hold after it. Every input and decision must
//! survive a JSON round trip. After the last step the (JSON round-tripped)
//! inputs are replayed on a fresh engine, the decisions' tracking changes are
//! folded into the initial state, and the state is restored from a JSON
//! snapshot: all three must give the same state.
//!
//! Steps:
//! - `nav start|resumeAll|continue|previous|forward|backward|exit|exitAll|abandon|abandonAll|suspendAll`,
//!   `nav choice ID`, `nav jump ID`
//! - `terminate KEY=VALUE…` / `commit KEY=VALUE…`: runtime data of the current
//!   activity. Keys: `completion`, `success`, `scaled`, `raw`, `min`, `max`,
//!   `progress`, `exit`, `session`, `nav` (its `adl.nav.request`), `request`
//!   (the player's request that unloaded it, e.g. `request=choice:ID`), and
//!   `OBJID.success|completion|scaled|raw|min|max|progress` for `cmi.objectives`.
//! - `load GLOBALID KEY=VALUE…`: the learner's shared objective as another
//!   course left it (keys as for `global`).
//! - `time RFC3339`: the clock (it otherwise advances a minute per step).
//!
//! Expectations: `delivered ID [resume] [attempt=N]`, `ended`, `nothing`,
//! `recorded`, `exception CODE`, `current ID|none`, `suspended ID|none`,
//! `status ID KEY=VALUE…` (`completion`, `success`, `measure`, `progress`,
//! `attempts`, `active`, `suspended`), `objective ID OBJID KEY=VALUE…` (the
//! launch data), `global ID KEY=VALUE…` (`satisfied`, `measure`, `raw`,
//! `min`, `max`, `completed`, `progress`), `valid REQ…`, `invalid REQ…` (REQ:
//! `start`, `resumeAll`, `continue`, `previous`, `exit`, `exitAll`,
//! `abandon`, `abandonAll`, `suspendAll`, `choice:ID`, `jump:ID`),
//! `controls NAME=enabled|disabled|hidden…`, `toc ID [!]selectable|[!]hidden|[!]disabled…`,
//! `children ID CHILD…` (available children in order), `launch REQ|none`
//! (the request a launch would issue).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, TimeZone, Utc};
use domain::package::{Course, ImportOptions, MemoryPackage, import_package};
use domain::sequencing::engine::{
    CompletionStatus, ControlState, Decision, Engine, EngineOptions, Entry, ExitMode,
    GlobalObjective, NavigationRequest, ObjectiveReport, Outcome, RuntimeReport, ScoreReport,
    SequencingException, SequencingInput, SuccessStatus,
};

#[test]
fn scenarios() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sequencing");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("scenario folder exists")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("script").exists())
        .collect();
    dirs.sort();
    let only = std::env::var("SCENARIO").ok();
    for dir in &dirs {
        if only.as_ref().is_none_or(|only| dir.ends_with(only)) {
            check(dir);
        }
    }
    assert!(dirs.len() >= 25, "scenarios went missing: {}", dirs.len());
}

/// Runs one scenario folder; panics with the scenario, line and reason on the
/// first expectation that does not hold.
fn check(dir: &Path) {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let manifest = std::fs::read_to_string(dir.join("imsmanifest.xml"))
        .unwrap_or_else(|err| panic!("{name}: no manifest: {err}"));
    let script = std::fs::read_to_string(dir.join("script")).unwrap();
    let package = MemoryPackage::new()
        .with("imsmanifest.xml", manifest)
        .with("sco.html", "<html></html>");
    let course = import_package(&package, &ImportOptions::default())
        .unwrap_or_else(|err| panic!("{name}: manifest refused: {err}"))
        .course;
    let mut runner = Runner::new(&name, course, &script);
    runner.run(&script);
    runner.check_replay();
}

struct Runner {
    name: String,
    course: Course,
    options: EngineOptions,
    engine: Engine,
    clock: DateTime<Utc>,
    inputs: Vec<SequencingInput>,
    decisions: Vec<Decision>,
    last: Option<Decision>,
    line: usize,
}

impl Runner {
    fn new(name: &str, course: Course, script: &str) -> Runner {
        let mut options = EngineOptions::default();
        for line in script.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["seed", seed] => options.seed = seed.parse().unwrap(),
                ["option", "attempt-limit-zero-is-unlimited"] => {
                    options.attempt_limit_zero_is_unlimited = true
                }
                _ => {}
            }
        }
        let engine = Engine::new(&course, options)
            .unwrap_or_else(|err| panic!("{name}: engine refused the course: {err}"));
        Runner {
            name: name.to_owned(),
            course,
            options,
            engine,
            clock: Utc.with_ymd_and_hms(2024, 3, 1, 9, 0, 0).unwrap(),
            inputs: Vec::new(),
            decisions: Vec::new(),
            last: None,
            line: 0,
        }
    }

    fn fail(&self, message: impl std::fmt::Display) -> ! {
        panic!("{}:{}: {message}", self.name, self.line)
    }

    fn run(&mut self, script: &str) {
        for (index, raw) in script.lines().enumerate() {
            self.line = index + 1;
            let line = raw.split('#').next().unwrap().trim_end();
            if line.trim().is_empty() {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            if raw.starts_with(char::is_whitespace) {
                self.expect(&words);
            } else {
                self.step(&words);
            }
        }
    }

    fn step(&mut self, words: &[&str]) {
        match words[0] {
            "seed" | "option" => {}
            "time" => {
                self.clock = DateTime::parse_from_rfc3339(words[1])
                    .unwrap_or_else(|err| self.fail(err))
                    .with_timezone(&Utc);
            }
            "nav" => {
                let request = self.request(&words[1..].join(":"));
                self.clock += Duration::minutes(1);
                self.apply(SequencingInput::Navigate {
                    request,
                    at: self.clock,
                });
            }
            "terminate" | "commit" => {
                let (report, request) = self.report(&words[1..]);
                let activity = self
                    .engine
                    .current_activity()
                    .unwrap_or_else(|| self.fail("no current activity to report for"))
                    .to_owned();
                self.clock += Duration::minutes(1);
                let input = if words[0] == "terminate" {
                    SequencingInput::Terminate {
                        activity,
                        report,
                        request,
                        at: self.clock,
                    }
                } else {
                    SequencingInput::Commit {
                        activity,
                        report,
                        at: self.clock,
                    }
                };
                self.apply(input);
            }
            "load" => {
                let mut objectives = self.engine.global_objectives();
                let mut objective = GlobalObjective::default();
                for pair in &words[2..] {
                    let (key, value) = pair.split_once('=').unwrap();
                    self.set_global(&mut objective, key, value);
                }
                objectives.insert(words[1].to_owned(), objective);
                self.apply(SequencingInput::LoadGlobalObjectives { objectives });
            }
            other => self.fail(format!("unknown step {other:?}")),
        }
    }

    fn apply(&mut self, input: SequencingInput) {
        let decision = self
            .engine
            .apply(&input)
            .unwrap_or_else(|err| self.fail(format!("input refused: {err}")));
        // Every decision is stored data: it must survive a JSON round trip.
        let json = serde_json::to_string(&decision).unwrap();
        let back: Decision = serde_json::from_str(&json).unwrap();
        assert_eq!(back, decision);
        // So is every input: replay runs on what the event log gives back.
        let json = serde_json::to_string(&input).unwrap();
        let input: SequencingInput = serde_json::from_str(&json).unwrap();
        self.inputs.push(input);
        self.decisions.push(decision.clone());
        self.last = Some(decision);
    }

    fn request(&self, text: &str) -> NavigationRequest {
        match text.split_once(':') {
            Some(("choice", target)) => NavigationRequest::Choice {
                target: target.to_owned(),
            },
            Some(("jump", target)) => NavigationRequest::Jump {
                target: target.to_owned(),
            },
            _ => match text {
                "forward" => NavigationRequest::Forward,
                "backward" => NavigationRequest::Backward,
                other => NavigationRequest::from_adl(other)
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| self.fail(format!("unknown request {other:?}"))),
            },
        }
    }

    fn report(&self, pairs: &[&str]) -> (RuntimeReport, Option<NavigationRequest>) {
        let mut report = RuntimeReport::default();
        let mut request = None;
        for pair in pairs {
            let (key, value) = pair
                .split_once('=')
                .unwrap_or_else(|| self.fail(format!("{pair:?} is not KEY=VALUE")));
            let number = || value.parse::<f64>().unwrap_or_else(|err| self.fail(err));
            match key.split_once('.') {
                Some((id, field)) => {
                    let position = match report.objectives.iter().position(|o| o.id == id) {
                        Some(position) => position,
                        None => {
                            report.objectives.push(ObjectiveReport {
                                id: id.to_owned(),
                                ..ObjectiveReport::default()
                            });
                            report.objectives.len() - 1
                        }
                    };
                    let objective = &mut report.objectives[position];
                    match field {
                        "success" => objective.success_status = Some(self.success(value)),
                        "completion" => objective.completion_status = Some(self.completion(value)),
                        "progress" => objective.progress_measure = Some(number()),
                        score => self.score(&mut objective.score, score, number()),
                    }
                }
                None => match key {
                    "completion" => report.completion_status = Some(self.completion(value)),
                    "success" => report.success_status = Some(self.success(value)),
                    "progress" => report.progress_measure = Some(number()),
                    "exit" => {
                        report.exit = Some(
                            ExitMode::from_cmi(value)
                                .unwrap_or_else(|| self.fail(format!("exit {value:?}"))),
                        )
                    }
                    "session" => report.session_time = Some(value.to_owned()),
                    "nav" => report.nav_request = Some(value.to_owned()),
                    "request" => request = Some(self.request(value)),
                    score => self.score(&mut report.score, score, number()),
                },
            }
        }
        (report, request)
    }

    fn score(&self, score: &mut ScoreReport, key: &str, value: f64) {
        match key {
            "scaled" => score.scaled = Some(value),
            "raw" => score.raw = Some(value),
            "min" => score.min = Some(value),
            "max" => score.max = Some(value),
            other => self.fail(format!("unknown runtime key {other:?}")),
        }
    }

    fn success(&self, value: &str) -> SuccessStatus {
        SuccessStatus::from_cmi(value).unwrap_or_else(|| self.fail(format!("success {value:?}")))
    }

    fn completion(&self, value: &str) -> CompletionStatus {
        CompletionStatus::from_cmi(&value.replace('_', " "))
            .unwrap_or_else(|| self.fail(format!("completion {value:?}")))
    }

    fn set_global(&self, objective: &mut GlobalObjective, key: &str, value: &str) {
        let number = || option_number(value).unwrap_or_else(|| self.fail(value));
        match key {
            "satisfied" => objective.satisfied = option_bool(value),
            "completed" => objective.completed = option_bool(value),
            "measure" => objective.measure = number(),
            "raw" => objective.raw = number(),
            "min" => objective.min = number(),
            "max" => objective.max = number(),
            "progress" => objective.progress_measure = number(),
            other => self.fail(format!("unknown global key {other:?}")),
        }
    }

    fn expect(&self, words: &[&str]) {
        let decision = self.last.as_ref();
        let outcome = decision.map(|d| &d.outcome);
        match words[0] {
            "delivered" => {
                let Some(Outcome::Delivered {
                    activity,
                    entry,
                    attempt,
                }) = outcome
                else {
                    self.fail(format!("expected {} delivered, got {outcome:?}", words[1]))
                };
                if activity != words[1] {
                    self.fail(format!("expected {} delivered, got {activity}", words[1]));
                }
                for word in &words[2..] {
                    match word.split_once('=') {
                        Some(("attempt", n)) if attempt.to_string() != n => {
                            self.fail(format!("expected attempt {n}, got {attempt}"))
                        }
                        None if *word == "resume" && *entry != Entry::Resume => {
                            self.fail(format!("expected a resume, got {entry:?}"))
                        }
                        _ => {}
                    }
                }
                if !words.contains(&"resume") && *entry != Entry::AbInitio {
                    self.fail(format!("expected a new attempt, got {entry:?}"));
                }
            }
            "ended" => self.outcome(outcome, &Outcome::SessionEnded),
            "nothing" => self.outcome(outcome, &Outcome::NothingDelivered),
            "recorded" => self.outcome(outcome, &Outcome::Recorded),
            "exception" => {
                let expected = SequencingException::from_code(words[1])
                    .unwrap_or_else(|| self.fail(format!("no exception {}", words[1])));
                self.outcome(
                    outcome,
                    &Outcome::Exception {
                        exception: expected,
                    },
                );
            }
            "current" => self.same("current activity", self.engine.current_activity(), words[1]),
            "suspended" => self.same(
                "suspended activity",
                self.engine.suspended_activity(),
                words[1],
            ),
            "status" => self.status(words),
            "objective" => self.objective(words),
            "global" => self.global(words),
            "valid" | "invalid" => {
                for word in &words[1..] {
                    let request = self.request(word);
                    let valid = self.engine.request_valid(&request);
                    if valid != (words[0] == "valid") {
                        self.fail(format!("{word} valid is {valid}"));
                    }
                }
            }
            "controls" => {
                let controls = self.engine.navigation_state().controls;
                for pair in &words[1..] {
                    let (name, state) = pair.split_once('=').unwrap();
                    let actual = match name {
                        "continue" => controls.continue_,
                        "previous" => controls.previous,
                        "exit" => controls.exit,
                        "exitAll" => controls.exit_all,
                        "suspendAll" => controls.suspend_all,
                        "abandon" => controls.abandon,
                        "abandonAll" => controls.abandon_all,
                        other => self.fail(format!("unknown control {other}")),
                    };
                    let expected = match state {
                        "enabled" => ControlState::Enabled,
                        "disabled" => ControlState::Disabled,
                        "hidden" => ControlState::Hidden,
                        other => self.fail(format!("unknown control state {other}")),
                    };
                    if actual != expected {
                        self.fail(format!("control {name} is {actual:?}"));
                    }
                }
            }
            "toc" => {
                let state = self.engine.navigation_state();
                let item = state
                    .tree
                    .iter()
                    .find(|item| item.id == words[1])
                    .unwrap_or_else(|| self.fail(format!("no toc entry {}", words[1])));
                for flag in &words[2..] {
                    let (negated, name) = match flag.strip_prefix('!') {
                        Some(name) => (true, name),
                        None => (false, *flag),
                    };
                    let value = match name {
                        "selectable" => item.selectable,
                        "hidden" => item.hidden,
                        "disabled" => item.disabled,
                        other => self.fail(format!("unknown toc flag {other}")),
                    };
                    if value == negated {
                        self.fail(format!("toc {} {name} is {value}", words[1]));
                    }
                }
            }
            "children" => {
                let snapshot = self.engine.snapshot();
                let state = snapshot
                    .activities
                    .iter()
                    .find(|a| a.id == words[1])
                    .unwrap_or_else(|| self.fail(format!("no activity {}", words[1])));
                let node = self.course.activity(words[1]).unwrap();
                let actual: Vec<&str> = match &state.available_children {
                    None => node.children.iter().map(|c| c.id.as_str()).collect(),
                    Some(positions) => positions
                        .iter()
                        .map(|&p| node.children[p as usize].id.as_str())
                        .collect(),
                };
                if actual != words[2..] {
                    self.fail(format!("children of {} are {actual:?}", words[1]));
                }
            }
            "launch" => {
                let actual = self.engine.launch_request();
                let expected = (words[1] != "none").then(|| self.request(words[1]));
                if actual != expected {
                    self.fail(format!("launch request is {actual:?}"));
                }
            }
            other => self.fail(format!("unknown expectation {other:?}")),
        }
    }

    fn outcome(&self, actual: Option<&Outcome>, expected: &Outcome) {
        if actual != Some(expected) {
            self.fail(format!("expected {expected:?}, got {actual:?}"));
        }
    }

    fn same(&self, what: &str, actual: Option<&str>, expected: &str) {
        let expected = (expected != "none").then_some(expected);
        if actual != expected {
            self.fail(format!("{what} is {actual:?}, expected {expected:?}"));
        }
    }

    fn status(&self, words: &[&str]) {
        let status = self
            .engine
            .activity_status(words[1])
            .unwrap_or_else(|| self.fail(format!("no activity {}", words[1])));
        for pair in &words[2..] {
            let (key, value) = pair.split_once('=').unwrap();
            let actual = match key {
                "completion" => completion_text(status.completion_status).to_owned(),
                "success" => success_text(status.success_status).to_owned(),
                "measure" => number_text(status.measure),
                "progress" => number_text(status.progress_measure),
                "attempts" => status.attempt_count.to_string(),
                "active" => status.active.to_string(),
                "suspended" => status.suspended.to_string(),
                other => self.fail(format!("unknown status key {other}")),
            };
            if !same_value(&actual, value) {
                self.fail(format!("{} {key} is {actual}, expected {value}", words[1]));
            }
        }
    }

    fn objective(&self, words: &[&str]) {
        let launch = self
            .engine
            .launch_data(words[1])
            .unwrap_or_else(|| self.fail(format!("no activity {}", words[1])));
        let objective = launch
            .objectives
            .iter()
            .find(|o| o.id == words[2])
            .unwrap_or_else(|| self.fail(format!("{} has no objective {}", words[1], words[2])));
        for pair in &words[3..] {
            let (key, value) = pair.split_once('=').unwrap();
            let actual = match key {
                "success" => success_text(objective.success_status).to_owned(),
                "completion" => completion_text(objective.completion_status).to_owned(),
                "scaled" => number_text(objective.score.scaled),
                "raw" => number_text(objective.score.raw),
                "min" => number_text(objective.score.min),
                "max" => number_text(objective.score.max),
                "progress" => number_text(objective.progress_measure),
                other => self.fail(format!("unknown objective key {other}")),
            };
            if !same_value(&actual, value) {
                self.fail(format!(
                    "{} {} {key} is {actual}, expected {value}",
                    words[1], words[2]
                ));
            }
        }
    }

    fn global(&self, words: &[&str]) {
        let globals = self.engine.global_objectives();
        let objective = globals
            .get(words[1])
            .unwrap_or_else(|| self.fail(format!("the course maps no global {}", words[1])));
        for pair in &words[2..] {
            let (key, value) = pair.split_once('=').unwrap();
            let actual = match key {
                "satisfied" => bool_text(objective.satisfied),
                "completed" => bool_text(objective.completed),
                "measure" => number_text(objective.measure),
                "raw" => number_text(objective.raw),
                "min" => number_text(objective.min),
                "max" => number_text(objective.max),
                "progress" => number_text(objective.progress_measure),
                other => self.fail(format!("unknown global key {other}")),
            };
            if !same_value(&actual, value) {
                self.fail(format!(
                    "global {} {key} is {actual}, expected {value}",
                    words[1]
                ));
            }
        }
    }

    /// Replaying the inputs and restoring the final snapshot must both give
    /// the state the live engine has.
    fn check_replay(&self) {
        let replayed = Engine::replay(&self.course, self.options, &self.inputs)
            .unwrap_or_else(|err| panic!("{}: replay failed: {err}", self.name));
        assert_eq!(
            replayed.snapshot(),
            self.engine.snapshot(),
            "{}: replay gives another state",
            self.name
        );
        // The decisions carry every tracking change: folding them into the
        // initial state gives the final one.
        let mut folded = Engine::new(&self.course, self.options).unwrap().snapshot();
        for decision in &self.decisions {
            for changed in &decision.changed_activities {
                let slot = folded
                    .activities
                    .iter_mut()
                    .find(|state| state.id == changed.id)
                    .unwrap();
                *slot = changed.clone();
            }
            for (id, objective) in &decision.changed_global_objectives {
                folded
                    .global_objectives
                    .insert(id.clone(), objective.clone());
            }
            folded.current = decision.current_activity.clone();
            folded.suspended = decision.suspended_activity.clone();
        }
        assert_eq!(
            folded,
            self.engine.snapshot(),
            "{}: the decisions' changes do not add up to the state",
            self.name
        );
        let snapshot = self.engine.snapshot();
        let json = serde_json::to_string(&snapshot).unwrap();
        let restored = Engine::restore(
            &self.course,
            self.options,
            &serde_json::from_str(&json).unwrap(),
        )
        .unwrap_or_else(|err| panic!("{}: restore failed: {err}", self.name));
        assert_eq!(
            restored.snapshot(),
            snapshot,
            "{}: restore changed the state",
            self.name
        );
        assert_eq!(
            restored.navigation_state(),
            self.engine.navigation_state(),
            "{}: restored navigation differs",
            self.name
        );
    }
}

fn option_bool(value: &str) -> Option<bool> {
    match value {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

fn option_number(value: &str) -> Option<Option<f64>> {
    if value == "none" {
        return Some(None);
    }
    value.parse().ok().map(Some)
}

fn bool_text(value: Option<bool>) -> String {
    value.map_or_else(|| "none".to_owned(), |v| v.to_string())
}

fn number_text(value: Option<f64>) -> String {
    value.map_or_else(|| "none".to_owned(), |v| v.to_string())
}

fn same_value(actual: &str, expected: &str) -> bool {
    match (actual.parse::<f64>(), expected.parse::<f64>()) {
        (Ok(a), Ok(b)) => (a - b).abs() < 1e-9,
        _ => actual == expected,
    }
}

fn completion_text(status: CompletionStatus) -> &'static str {
    match status {
        CompletionStatus::Completed => "completed",
        CompletionStatus::Incomplete => "incomplete",
        CompletionStatus::NotAttempted => "not_attempted",
        CompletionStatus::Unknown => "unknown",
    }
}

fn success_text(status: SuccessStatus) -> &'static str {
    match status {
        SuccessStatus::Passed => "passed",
        SuccessStatus::Failed => "failed",
        SuccessStatus::Unknown => "unknown",
    }
}
