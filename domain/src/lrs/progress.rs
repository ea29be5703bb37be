//! What statements say about a registration's progress, the way SCORM runtime data does.
//!
//! An xAPI (Tin Can) or cmi5 package reports through statements. A statement counts when its
//! object is an Activity and it carries `context.registration`; [`progress_update`] reads
//! from it:
//! - an attempt: any such statement (`attempted`, `initialized`, `experienced`…) says the
//!   learner is in the activity, as a SCORM launch does (`incomplete` until completed);
//! - completion: the `completed` verb or `result.completion: true`; `passed` and `failed`
//!   also complete the activity (as `passed`/`failed` do in SCORM 1.2's `lesson_status`);
//! - success: `passed` (true), `failed` (false), or `result.success`;
//! - score: `result.score` (the `scored` verb carries one; any statement may).
//!
//! [`Progress::apply`] folds updates: completion never goes back, success and score are the
//! latest reported. Which activity is the course is the registration's business: the
//! registrations view (`projections::registrations`) applies the statements whose
//! registration is a platform registration's xAPI UUID
//! ([`crate::lrs::launch::registration_uuid`]) and whose object is one of its launchable
//! activities, as that activity's results, and rolls them up as it does SCORM data.
//! Voiding a statement does not take back the progress it reported (SCORM data has no such
//! notion either).

use serde_json::Value;
use uuid::Uuid;

use crate::xapi::syntax::{normalize_iri, parse_uuid};

pub const COMPLETED: &str = "http://adlnet.gov/expapi/verbs/completed";
pub const PASSED: &str = "http://adlnet.gov/expapi/verbs/passed";
pub const FAILED: &str = "http://adlnet.gov/expapi/verbs/failed";
pub const SCORED: &str = "http://adlnet.gov/expapi/verbs/scored";

/// A score as a statement reports it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Score {
    pub scaled: Option<f64>,
    pub raw: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl Score {
    /// `scaled`, or `raw` placed between `min` (default 0) and `max` when there is a `max`.
    pub fn normalized(&self) -> Option<f64> {
        if let Some(scaled) = self.scaled {
            return Some(scaled);
        }
        let (raw, max) = (self.raw?, self.max?);
        let min = self.min.unwrap_or(0.0);
        (max > min).then(|| (raw - min) / (max - min))
    }
}

/// What one statement reports about one activity of one registration.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgressUpdate {
    pub registration: Uuid,
    /// The object's activity id, normalized as the statement views index it.
    pub activity_id: String,
    pub completed: bool,
    pub success: Option<bool>,
    pub score: Option<Score>,
}

/// Reads the progress a stored statement reports: `None` when it is not about an activity of
/// a registration.
pub fn progress_update(statement: &Value) -> Option<ProgressUpdate> {
    let object = statement.get("object")?;
    let object_type = object
        .get("objectType")
        .and_then(Value::as_str)
        .unwrap_or("Activity");
    if object_type != "Activity" {
        return None;
    }
    let activity_id = normalize_iri(object.get("id")?.as_str()?);
    let registration = statement
        .pointer("/context/registration")
        .and_then(Value::as_str)
        .and_then(parse_uuid)?;
    let verb = statement
        .pointer("/verb/id")
        .and_then(Value::as_str)
        .map(normalize_iri)
        .unwrap_or_default();
    let result = statement.get("result");
    let number = |key: &str| {
        result
            .and_then(|r| r.get("score"))
            .and_then(|s| s.get(key))
            .and_then(Value::as_f64)
    };
    let score = result.and_then(|r| r.get("score")).map(|_| Score {
        scaled: number("scaled"),
        raw: number("raw"),
        min: number("min"),
        max: number("max"),
    });
    let result_success = result
        .and_then(|r| r.get("success"))
        .and_then(Value::as_bool);
    let success = match verb.as_str() {
        PASSED => Some(true),
        FAILED => Some(false),
        _ => result_success,
    };
    let completed = matches!(verb.as_str(), COMPLETED | PASSED | FAILED)
        || result
            .and_then(|r| r.get("completion"))
            .and_then(Value::as_bool)
            == Some(true);
    Some(ProgressUpdate {
        registration,
        activity_id,
        completed,
        success,
        score,
    })
}

/// The progress of one activity of one registration, folded from its updates in log order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Progress {
    pub completed: bool,
    pub success: Option<bool>,
    pub score: Option<Score>,
}

impl Progress {
    pub fn apply(&mut self, update: &ProgressUpdate) {
        self.completed |= update.completed;
        if update.success.is_some() {
            self.success = update.success;
        }
        if update.score.is_some() {
            self.score = update.score;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn statement(verb: &str, result: Value) -> Value {
        json!({
            "actor": {"mbox": "mailto:ann@example.com"},
            "verb": {"id": verb},
            "object": {"id": "http://example.com/Course"},
            "result": result,
            "context": {"registration": "00000000-0000-0000-0000-000000000009"},
        })
    }

    #[test]
    fn updates() {
        let experienced = "http://adlnet.gov/expapi/verbs/experienced";
        let attempt = progress_update(&statement(experienced, json!({}))).unwrap();
        assert!(!attempt.completed && attempt.success.is_none() && attempt.score.is_none());
        let completed = progress_update(&statement(COMPLETED, json!({}))).unwrap();
        assert!(completed.completed);
        assert_eq!(completed.success, None);
        assert_eq!(completed.activity_id, "http://example.com/Course");
        assert_eq!(completed.registration, Uuid::from_u128(9));
        let passed =
            progress_update(&statement(PASSED, json!({"score": {"raw": 8, "max": 10}}))).unwrap();
        assert!(passed.completed);
        assert_eq!(passed.success, Some(true));
        assert_eq!(passed.score.unwrap().normalized(), Some(0.8));
        let failed = progress_update(&statement(FAILED, json!({"success": true}))).unwrap();
        assert_eq!(failed.success, Some(false), "the verb wins");
        let by_result = progress_update(&statement(
            experienced,
            json!({"completion": true, "success": false}),
        ))
        .unwrap();
        assert!(by_result.completed);
        assert_eq!(by_result.success, Some(false));
        let scored =
            progress_update(&statement(SCORED, json!({"score": {"scaled": 0.5}}))).unwrap();
        assert!(!scored.completed);
        assert_eq!(scored.score.unwrap().normalized(), Some(0.5));

        let mut no_registration = statement(COMPLETED, json!({}));
        no_registration["context"] = json!({});
        assert_eq!(progress_update(&no_registration), None);
        let mut about_an_agent = statement(COMPLETED, json!({}));
        about_an_agent["object"] = json!({"objectType": "Agent", "mbox": "mailto:b@example.com"});
        assert_eq!(progress_update(&about_an_agent), None);
    }

    #[test]
    fn folding() {
        let mut progress = Progress::default();
        for (verb, result) in [
            (COMPLETED, json!({})),
            (FAILED, json!({"score": {"scaled": 0.4}})),
            (
                "http://adlnet.gov/expapi/verbs/experienced",
                json!({"completion": false}),
            ),
            (PASSED, json!({"score": {"scaled": 0.9}})),
        ] {
            if let Some(update) = progress_update(&statement(verb, result)) {
                progress.apply(&update);
            }
        }
        assert!(progress.completed, "completion never goes back");
        assert_eq!(progress.success, Some(true));
        assert_eq!(progress.score.unwrap().scaled, Some(0.9));
    }
}
