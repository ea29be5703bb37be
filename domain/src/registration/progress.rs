//! A registration's rolled-up progress: the course's status for the
//! learner in the current attempt, from its activities' runtime summaries
//! (or, for a sequenced SCORM 2004 course, from the sequencer's root
//! activity). The one definition: the aggregate records it in
//! `RegistrationProgressChanged` and the progress view shows what it says.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::cmi::RuntimeSummary;
use crate::sequencing::engine::{ActivityStatus, CompletionStatus, SuccessStatus};

/// The course's status for the learner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// `completed`, `incomplete`, `not_attempted` or `unknown`.
    pub completion: String,
    /// `passed`, `failed` or `unknown`.
    pub success: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_scaled: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_raw: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_max: Option<f64>,
}

impl Default for Progress {
    /// A registration nobody has launched.
    fn default() -> Progress {
        Progress {
            completion: "not_attempted".into(),
            success: "unknown".into(),
            score_scaled: None,
            score_raw: None,
            score_min: None,
            score_max: None,
        }
    }
}

/// The completion an activity's sequencing status shows as.
pub fn completion_of(status: &ActivityStatus) -> &'static str {
    match (status.completion_status, status.attempt_count) {
        (CompletionStatus::Completed, _) => "completed",
        (CompletionStatus::Incomplete | CompletionStatus::NotAttempted, _) => "incomplete",
        (CompletionStatus::Unknown, 0) => "not_attempted",
        (CompletionStatus::Unknown, _) => "incomplete",
    }
}

/// The success an activity's sequencing status shows as.
pub fn success_of(status: &ActivityStatus) -> &'static str {
    match status.success_status {
        SuccessStatus::Passed => "passed",
        SuccessStatus::Failed => "failed",
        SuccessStatus::Unknown => "unknown",
    }
}

/// One activity's result as the roll-up reads it: from a SCO's runtime
/// summary, or from what xAPI statements said of an activity.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityResult {
    /// `completed`, `incomplete`, `not_attempted` or `unknown`.
    pub completion: String,
    /// `passed`, `failed` or `unknown`.
    pub success: String,
    pub scaled: Option<f64>,
    pub raw: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

fn number(value: &Option<String>) -> Option<f64> {
    value.as_deref().and_then(|v| v.parse().ok())
}

impl ActivityResult {
    pub fn of(summary: &RuntimeSummary) -> ActivityResult {
        ActivityResult {
            completion: summary.completion_status.replace(' ', "_"),
            success: summary.success_status.clone(),
            scaled: number(&summary.score_scaled),
            raw: number(&summary.score_raw),
            min: number(&summary.score_min),
            max: number(&summary.score_max),
        }
    }
}

/// Rolls the activities' latest summaries up into the course's progress.
///
/// - completion: `completed` when every launchable activity is (every
///   reported one when `launchable` is empty), `incomplete` when any was
///   begun, `not_attempted` when none reported;
/// - success: `failed` when any launchable activity failed, `passed` when
///   every one passed;
/// - score: the single activity's score (scaled, or derived from raw
///   within min..max, or raw/100 without a range), or the mean of the
///   scaled scores of several;
/// - a sequenced course (`root`) takes completion, success and measure
///   from its root activity, as the sequencer rolled them up.
pub fn roll_up(
    launchable: &[String],
    results: &BTreeMap<&str, ActivityResult>,
    root: Option<&ActivityStatus>,
) -> Progress {
    let wanted: Vec<&str> = if launchable.is_empty() {
        results.keys().copied().collect()
    } else {
        launchable.iter().map(String::as_str).collect()
    };
    let of = |id: &str| results.get(id);
    let completion = if !wanted.is_empty()
        && wanted
            .iter()
            .all(|id| of(id).is_some_and(|r| r.completion == "completed"))
    {
        "completed"
    } else if results
        .values()
        .any(|r| r.completion != "not_attempted" && r.completion != "unknown")
    {
        "incomplete"
    } else if results.is_empty() {
        "not_attempted"
    } else {
        "unknown"
    };
    let success = if wanted
        .iter()
        .any(|id| of(id).is_some_and(|r| r.success == "failed"))
    {
        "failed"
    } else if !wanted.is_empty()
        && wanted
            .iter()
            .all(|id| of(id).is_some_and(|r| r.success == "passed"))
    {
        "passed"
    } else {
        "unknown"
    };
    let (scaled, raw, min, max) = if results.len() == 1 {
        let r = results.values().next().expect("one result");
        let scaled = r.scaled.or(match (r.raw, r.min, r.max) {
            (Some(raw), Some(min), Some(max)) if max > min => Some((raw - min) / (max - min)),
            (Some(raw), None, None) => Some(raw / 100.0),
            _ => None,
        });
        (scaled, r.raw, r.min, r.max)
    } else {
        let scaled: Vec<f64> = results.values().filter_map(|r| r.scaled).collect();
        let mean = (!scaled.is_empty()).then(|| scaled.iter().sum::<f64>() / scaled.len() as f64);
        (mean, None, None, None)
    };
    let (completion, success, scaled) = match root {
        Some(root) => (
            completion_of(root),
            success_of(root),
            root.measure.or(scaled),
        ),
        None => (completion, success, scaled),
    };
    Progress {
        completion: completion.into(),
        success: success.into(),
        score_scaled: scaled,
        score_raw: raw,
        score_min: min,
        score_max: max,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmi::SessionState;

    fn summary(completion: &str, success: &str, raw: Option<&str>) -> RuntimeSummary {
        RuntimeSummary {
            state: SessionState::Running,
            entry: "ab-initio".into(),
            exit: String::new(),
            completion_status: completion.into(),
            success_status: success.into(),
            lesson_status: None,
            score_scaled: None,
            score_raw: raw.map(str::to_owned),
            score_min: None,
            score_max: None,
            progress_measure: None,
            total_time: "PT0S".into(),
            total_time_centiseconds: Some(0),
            nav_request: None,
            suspended: false,
        }
    }

    fn root(completion: CompletionStatus, success: SuccessStatus, attempts: u32) -> ActivityStatus {
        ActivityStatus {
            id: "root".into(),
            attempt_count: attempts,
            active: false,
            suspended: false,
            completion_status: completion,
            success_status: success,
            measure: Some(0.9),
            progress_measure: None,
            objectives: vec![],
        }
    }

    /// (launchable, reported activities, expected completion, success, scaled)
    #[test]
    fn activities_roll_up_into_the_course() {
        let a = || vec!["a".to_owned(), "b".to_owned()];
        type Row = (
            Vec<String>,
            Vec<(&'static str, RuntimeSummary)>,
            &'static str,
            &'static str,
            Option<f64>,
        );
        let rows: Vec<Row> = vec![
            (a(), vec![], "not_attempted", "unknown", None),
            (
                a(),
                vec![("a", summary("not attempted", "unknown", None))],
                "unknown",
                "unknown",
                None,
            ),
            (
                a(),
                vec![("a", summary("completed", "passed", Some("80")))],
                "incomplete",
                "unknown",
                Some(0.8),
            ),
            (
                a(),
                vec![
                    ("a", summary("completed", "passed", None)),
                    ("b", summary("completed", "passed", None)),
                ],
                "completed",
                "passed",
                None,
            ),
            (
                a(),
                vec![
                    ("a", summary("completed", "passed", None)),
                    ("b", summary("incomplete", "failed", None)),
                ],
                "incomplete",
                "failed",
                None,
            ),
            // Without a launchable list, what reported is what counts.
            (
                vec![],
                vec![("a", summary("completed", "passed", Some("87")))],
                "completed",
                "passed",
                Some(0.87),
            ),
        ];
        for (launchable, reported, completion, success, scaled) in rows {
            let results: BTreeMap<&str, ActivityResult> = reported
                .iter()
                .map(|(id, s)| (*id, ActivityResult::of(s)))
                .collect();
            let progress = roll_up(&launchable, &results, None);
            assert_eq!(
                (progress.completion.as_str(), progress.success.as_str()),
                (completion, success),
                "{reported:?}"
            );
            assert_eq!(progress.score_scaled, scaled, "{reported:?}");
        }
    }

    #[test]
    fn a_sequenced_course_is_its_root() {
        let reported = [("a", summary("completed", "passed", Some("10")))];
        let summaries: BTreeMap<&str, ActivityResult> = reported
            .iter()
            .map(|(id, s)| (*id, ActivityResult::of(s)))
            .collect();
        let launchable = vec!["a".to_owned(), "b".to_owned()];
        let status = root(CompletionStatus::Completed, SuccessStatus::Failed, 1);
        let progress = roll_up(&launchable, &summaries, Some(&status));
        assert_eq!(progress.completion, "completed");
        assert_eq!(progress.success, "failed");
        assert_eq!(progress.score_scaled, Some(0.9), "the root's measure wins");
        let untouched = root(CompletionStatus::Unknown, SuccessStatus::Unknown, 0);
        assert_eq!(
            roll_up(&launchable, &BTreeMap::new(), Some(&untouched)).completion,
            "not_attempted"
        );
    }
}
