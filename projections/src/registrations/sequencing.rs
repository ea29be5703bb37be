//! The sequencing views: the sequencer's state per registration, each
//! activity's effective status, the decision log, and what learners share
//! across registrations.

use domain::registration::{LearnerGlobals, completion_of, success_of};
use domain::sequencing::engine::{
    ActivityStatus, Decision, EngineOptions, Outcome, SequencingInput, TrackingState,
};
use domain::tenancy::Scope;
use store::StoreError;
use store::db::{Database, Tx, sql};

use super::{Key, corrupt, json};

pub(super) async fn started(
    tx: &mut Tx,
    k: &Key,
    attempt: u32,
    options: &EngineOptions,
    tracking: &TrackingState,
    at: &str,
) -> Result<(), StoreError> {
    tx.execute(
        sql("INSERT INTO registration_sequencing (workspace_id, environment, registration_id, attempt, seed, \
             current_activity, suspended_activity, decisions, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8) \
             ON CONFLICT (workspace_id, environment, registration_id) DO UPDATE SET attempt = excluded.attempt, \
             seed = excluded.seed, current_activity = excluded.current_activity, \
             suspended_activity = excluded.suspended_activity, decisions = 0, updated_at = excluded.updated_at")
        .bind(&k.workspace)
        .bind(&k.environment)
        .bind(&k.registration)
        .bind(i64::from(attempt))
        .bind(options.seed.to_string())
        .bind(tracking.current.clone())
        .bind(tracking.suspended.clone())
        .bind(at),
    )
    .await?;
    tx.execute(
        sql(
            "DELETE FROM sequencing_activities WHERE workspace_id = $1 AND environment = $2 \
             AND registration_id = $3",
        )
        .bind(&k.workspace)
        .bind(&k.environment)
        .bind(&k.registration),
    )
    .await?;
    for (ordinal, activity) in tracking.activities.iter().enumerate() {
        tx.execute(
            sql("INSERT INTO sequencing_activities (workspace_id, environment, registration_id, activity_id, \
                 ordinal, attempt_count, active, suspended, completion, success, measure, progress_measure, \
                 objectives) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'unknown', NULL, NULL, '[]')")
            .bind(&k.workspace)
            .bind(&k.environment)
            .bind(&k.registration)
            .bind(&activity.id)
            .bind(ordinal as i64)
            .bind(i64::from(activity.attempt_count))
            .bind(activity.active)
            .bind(activity.suspended)
            .bind(if activity.attempt_count > 0 {
                "incomplete"
            } else {
                "not_attempted"
            }),
        )
        .await?;
    }
    Ok(())
}

fn input_kind(input: &SequencingInput) -> (&'static str, Option<&str>) {
    match input {
        SequencingInput::Navigate { .. } => ("navigate", None),
        SequencingInput::Commit { activity, .. } => ("commit", Some(activity)),
        SequencingInput::Terminate { activity, .. } => ("terminate", Some(activity)),
        SequencingInput::LoadGlobalObjectives { .. } => ("load_global_objectives", None),
    }
}

fn outcome_kind(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Delivered { .. } => "delivered",
        Outcome::SessionEnded => "session_ended",
        Outcome::NothingDelivered => "nothing_delivered",
        Outcome::Exception { .. } => "exception",
        Outcome::Recorded => "recorded",
    }
}

pub(super) async fn decided(
    tx: &mut Tx,
    k: &Key,
    position: i64,
    session_id: &str,
    input: &SequencingInput,
    decision: &Decision,
    at: &str,
) -> Result<(), StoreError> {
    let (input, activity) = input_kind(input);
    tx.execute(
        sql("INSERT INTO sequencing_log (workspace_id, environment, registration_id, position, attempt, \
             session_id, input, request, activity_id, outcome, delivered, exception, current_activity, changed, at) \
             SELECT $1, $2, $3, $4, attempt, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 FROM registration_sequencing \
             WHERE workspace_id = $1 AND environment = $2 AND registration_id = $3 \
             ON CONFLICT (workspace_id, environment, registration_id, position) DO NOTHING")
        .bind(&k.workspace)
        .bind(&k.environment)
        .bind(&k.registration)
        .bind(position)
        .bind(session_id)
        .bind(input)
        .bind(decision.request.as_ref().map(|r| r.to_adl()))
        .bind(activity)
        .bind(outcome_kind(&decision.outcome))
        .bind(decision.outcome.delivered())
        .bind(decision.outcome.exception().map(|e| e.code()))
        .bind(decision.current_activity.clone())
        .bind(decision.changed_activities.len() as i64)
        .bind(at),
    )
    .await?;
    tx.execute(
        sql(
            "UPDATE registration_sequencing SET current_activity = $4, suspended_activity = $5, \
             decisions = decisions + 1, updated_at = $6 \
             WHERE workspace_id = $1 AND environment = $2 AND registration_id = $3",
        )
        .bind(&k.workspace)
        .bind(&k.environment)
        .bind(&k.registration)
        .bind(decision.current_activity.clone())
        .bind(decision.suspended_activity.clone())
        .bind(at),
    )
    .await?;
    Ok(())
}

/// The view's spelling of an activity's completion: `unknown` once
/// attempted reads as `incomplete`, as for SCORM 1.2 courses.
pub(super) async fn statuses(
    tx: &mut Tx,
    k: &Key,
    statuses: &[ActivityStatus],
) -> Result<(), StoreError> {
    for status in statuses {
        tx.execute(
            sql("UPDATE sequencing_activities SET attempt_count = $5, active = $6, suspended = $7, \
                 completion = $8, success = $9, measure = $10, progress_measure = $11, objectives = $12 \
                 WHERE workspace_id = $1 AND environment = $2 AND registration_id = $3 AND activity_id = $4")
            .bind(&k.workspace)
            .bind(&k.environment)
            .bind(&k.registration)
            .bind(&status.id)
            .bind(i64::from(status.attempt_count))
            .bind(status.active)
            .bind(status.suspended)
            .bind(completion_of(status))
            .bind(success_of(status))
            .bind(status.measure)
            .bind(status.progress_measure)
            .bind(json(&status.objectives)),
        )
        .await?;
    }
    Ok(())
}

pub(super) async fn learner_globals(
    tx: &mut Tx,
    k: &Key,
    learner_id: &str,
    globals: &LearnerGlobals,
    at: &str,
) -> Result<(), StoreError> {
    let objectives = globals
        .objectives
        .iter()
        .map(|(id, objective)| ("objective", id, json(objective)));
    let shared = globals
        .shared_data
        .iter()
        .map(|(id, value)| ("shared_data", id, value.clone()));
    for (kind, target, value) in objectives.chain(shared) {
        tx.execute(
            sql("INSERT INTO learner_globals (workspace_id, environment, learner_id, kind, target_id, value, \
                 registration_id, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (workspace_id, environment, learner_id, kind, target_id) DO UPDATE \
                 SET value = excluded.value, registration_id = excluded.registration_id, \
                 updated_at = excluded.updated_at")
            .bind(&k.workspace)
            .bind(&k.environment)
            .bind(learner_id)
            .bind(kind)
            .bind(target)
            .bind(value)
            .bind(&k.registration)
            .bind(at),
        )
        .await?;
    }
    Ok(())
}

// ---------------------------------------------------------------- queries

/// What a learner shares across registrations.
pub async fn learner(
    db: &Database,
    scope: &Scope,
    learner_id: &str,
) -> Result<LearnerGlobals, StoreError> {
    let rows = db
        .fetch_all(
            sql(
                "SELECT kind, target_id, value FROM learner_globals WHERE workspace_id = $1 \
                 AND environment = $2 AND learner_id = $3",
            )
            .bind(scope.workspace_id().to_string())
            .bind(scope.environment().as_str())
            .bind(learner_id),
        )
        .await?;
    let mut globals = LearnerGlobals::default();
    for row in rows {
        let kind: String = row.get(0)?;
        let target: String = row.get(1)?;
        let value: String = row.get(2)?;
        match kind.as_str() {
            "objective" => {
                let objective = serde_json::from_str(&value)
                    .map_err(|e| corrupt(format!("learner_globals.value: {e}")))?;
                globals.objectives.insert(target, objective);
            }
            _ => {
                globals.shared_data.insert(target, value);
            }
        }
    }
    Ok(globals)
}

/// The sequencer's state of a registration.
#[derive(Debug, Clone, PartialEq)]
pub struct SequencingRow {
    pub attempt: i64,
    pub current_activity: Option<String>,
    pub suspended_activity: Option<String>,
    pub decisions: i64,
    pub updated_at: String,
    pub activities: Vec<SequencingActivityRow>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SequencingActivityRow {
    pub activity_id: String,
    pub attempt_count: i64,
    pub active: bool,
    pub suspended: bool,
    pub completion: String,
    pub success: String,
    pub measure: Option<f64>,
    pub progress_measure: Option<f64>,
    pub objectives: serde_json::Value,
}

/// The registration's sequencing state and its activities, read in one
/// [`Database::snapshot`] so they are of the same decision.
pub async fn state(
    db: &Database,
    scope: &Scope,
    id: &str,
) -> Result<Option<SequencingRow>, StoreError> {
    let mut db = db.snapshot().await?;
    let bind = |query: &'static str| {
        sql(query)
            .bind(scope.workspace_id().to_string())
            .bind(scope.environment().as_str())
            .bind(id.to_owned())
    };
    let Some(row) = db
        .fetch_optional(bind(
            "SELECT attempt, current_activity, suspended_activity, decisions, updated_at FROM registration_sequencing \
             WHERE workspace_id = $1 AND environment = $2 AND registration_id = $3",
        ))
        .await?
    else {
        return Ok(None);
    };
    let activities = db
        .fetch_all(bind(
            "SELECT activity_id, attempt_count, active, suspended, completion, success, measure, progress_measure, \
             objectives FROM sequencing_activities WHERE workspace_id = $1 AND environment = $2 \
             AND registration_id = $3 ORDER BY ordinal",
        ))
        .await?
        .iter()
        .map(|r| {
            Ok(SequencingActivityRow {
                activity_id: r.get(0)?,
                attempt_count: r.get(1)?,
                active: r.get(2)?,
                suspended: r.get(3)?,
                completion: r.get(4)?,
                success: r.get(5)?,
                measure: r.get(6)?,
                progress_measure: r.get(7)?,
                objectives: serde_json::from_str(&r.get::<String>(8)?)
                    .map_err(|e| corrupt(format!("sequencing_activities.objectives: {e}")))?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(Some(SequencingRow {
        attempt: row.get(0)?,
        current_activity: row.get(1)?,
        suspended_activity: row.get(2)?,
        decisions: row.get(3)?,
        updated_at: row.get(4)?,
        activities,
    }))
}

/// One sequencing decision.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionRow {
    pub position: i64,
    pub attempt: i64,
    pub session_id: String,
    pub input: String,
    pub request: Option<String>,
    pub activity_id: Option<String>,
    pub outcome: String,
    pub delivered: Option<String>,
    pub exception: Option<String>,
    pub current_activity: Option<String>,
    pub changed: i64,
    pub at: String,
}

/// Decisions after `after` (a position), oldest first, at most `limit`.
pub async fn log(
    db: &Database,
    scope: &Scope,
    id: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<DecisionRow>, StoreError> {
    let rows = db
        .fetch_all(
            sql("SELECT position, attempt, session_id, input, request, activity_id, outcome, delivered, exception, \
                 current_activity, changed, at FROM sequencing_log WHERE workspace_id = $1 AND environment = $2 \
                 AND registration_id = $3 AND position > $4 ORDER BY position LIMIT $5")
            .bind(scope.workspace_id().to_string())
            .bind(scope.environment().as_str())
            .bind(id)
            .bind(after)
            .bind(limit),
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(DecisionRow {
                position: r.get(0)?,
                attempt: r.get(1)?,
                session_id: r.get(2)?,
                input: r.get(3)?,
                request: r.get(4)?,
                activity_id: r.get(5)?,
                outcome: r.get(6)?,
                delivered: r.get(7)?,
                exception: r.get(8)?,
                current_activity: r.get(9)?,
                changed: r.get(10)?,
                at: r.get(11)?,
            })
        })
        .collect()
}
