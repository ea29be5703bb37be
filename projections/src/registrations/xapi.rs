//! xAPI progress of registrations: statements whose `context.registration`
//! is a registration's xAPI UUID ([`domain::lrs::launch::registration_uuid`])
//! and whose object is one of its launchable activities (the Tin Can course
//! activity) are that activity's results, as a SCORM runtime batch's summary
//! is, and roll up by the same rule ([`domain::registration::roll_up`]).
//!
//! What a statement says is [`domain::lrs::progress`]'s rule: any statement
//! about the activity is an attempt (`incomplete`), `completed`/`passed`/
//! `failed` (or `result.completion`) complete it and never go back,
//! `passed`/`failed`/`result.success` and `result.score` are the latest
//! reported. Time comes from the statement's `stored`, never the clock.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use domain::cmi::{RuntimeSummary, SessionState};
use domain::events::Event;
use domain::lrs::launch::registration_uuid;
use domain::lrs::progress::{Progress, Score, progress_update};
use domain::lrs::statement::StatementEvent;
use domain::xapi::syntax::{normalize_iri, parse_uuid};
use serde_json::Value;
use store::StoreError;
use store::db::{Tx, sql};

use super::{Key, json, progress_from_results, roll_up, touch};
use crate::runtime::{Envelope, ProjectionError};

/// Remembers the xAPI UUID of a new registration.
pub(super) async fn created(tx: &mut Tx, k: &Key) -> Result<(), StoreError> {
    tx.execute(
        sql("INSERT INTO registration_xapi (workspace_id, environment, xapi_registration, registration_id) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (workspace_id, environment, xapi_registration) DO NOTHING")
        .bind(&k.workspace)
        .bind(&k.environment)
        .bind(registration_uuid(&k.registration).to_string())
        .bind(&k.registration),
    )
    .await?;
    Ok(())
}

/// The xAPI registrations that the statements of `run` carry and that are
/// registrations of this platform, as `(workspace, environment, uuid)`.
pub(super) async fn known_registrations(
    tx: &mut Tx,
    run: &[Envelope<'_>],
) -> Result<HashSet<(String, String, String)>, StoreError> {
    let mut wanted: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for envelope in run {
        if let Some(key) = registration_of(envelope) {
            wanted.entry((key.0, key.1)).or_default().insert(key.2);
        }
    }
    let mut known = HashSet::new();
    for ((workspace, environment), uuids) in wanted {
        let uuids: Vec<String> = uuids.into_iter().collect();
        for chunk in uuids.chunks(500) {
            let list = (0..chunk.len())
                .map(|i| format!("${}", i + 3))
                .collect::<Vec<_>>()
                .join(",");
            let mut query = sql(format!(
                "SELECT xapi_registration FROM registration_xapi WHERE workspace_id = $1 \
                 AND environment = $2 AND xapi_registration IN ({list})"
            ))
            .bind(&workspace)
            .bind(&environment);
            for uuid in chunk {
                query = query.bind(uuid);
            }
            for row in tx.fetch_all(query).await? {
                known.insert((workspace.clone(), environment.clone(), row.get(0)?));
            }
        }
    }
    Ok(known)
}

/// Whether a statement of a run carries one of the `known` registrations.
pub(super) fn reports_on(
    envelope: &Envelope<'_>,
    known: &HashSet<(String, String, String)>,
) -> bool {
    registration_of(envelope).is_some_and(|key| known.contains(&key))
}

/// The scope and `context.registration` of a stored statement.
fn registration_of(envelope: &Envelope<'_>) -> Option<(String, String, String)> {
    let Event::LrsStatement(StatementEvent::StatementStored { statement, .. }) = &envelope.event
    else {
        return None;
    };
    let registration = statement
        .pointer("/context/registration")
        .and_then(Value::as_str)
        .and_then(parse_uuid)?;
    let metadata = &envelope.record.metadata;
    Some((
        metadata.workspace_id?.to_string(),
        metadata.environment?.as_str().to_owned(),
        registration.to_string(),
    ))
}

/// Applies a stored statement to the registration it reports on, if any.
pub(super) async fn statement(
    tx: &mut Tx,
    envelope: &Envelope<'_>,
    statement: &Value,
) -> Result<(), ProjectionError> {
    let Some(update) = progress_update(statement) else {
        return Ok(());
    };
    let metadata = &envelope.record.metadata;
    let (Some(workspace), Some(environment)) = (metadata.workspace_id, metadata.environment) else {
        return Err(ProjectionError::Inconsistent(
            "statement without a scope".into(),
        ));
    };
    let (workspace, environment) = (workspace.to_string(), environment.as_str().to_owned());
    let Some(found) = tx
        .fetch_optional(
            sql("SELECT x.registration_id, r.activities, r.attempt FROM registration_xapi x \
                 JOIN registrations r ON r.workspace_id = x.workspace_id AND r.environment = x.environment \
                 AND r.registration_id = x.registration_id \
                 WHERE x.workspace_id = $1 AND x.environment = $2 AND x.xapi_registration = $3")
            .bind(&workspace)
            .bind(&environment)
            .bind(update.registration.to_string()),
        )
        .await?
    else {
        return Ok(());
    };
    let k = Key {
        workspace,
        environment,
        registration: found.get(0)?,
    };
    let launchable: Vec<String> = serde_json::from_str(&found.get::<String>(1)?)
        .map_err(|e| StoreError::Corrupt(format!("registrations.activities: {e}")))?;
    let attempt: i64 = found.get(2)?;
    let Some(activity_id) = launchable
        .into_iter()
        .find(|id| normalize_iri(id) == update.activity_id)
    else {
        return Ok(());
    };
    let at = statement
        .get("stored")
        .and_then(Value::as_str)
        .ok_or_else(|| ProjectionError::Inconsistent("a stored statement without stored".into()))?
        .to_owned();

    let mut progress = earlier(tx, &k, &activity_id).await?;
    progress.apply(&update);
    let summary = summary(&progress);
    tx.execute(
        sql("INSERT INTO activity_results (workspace_id, environment, registration_id, activity_id, attempt, \
             completion, success, score_scaled, score_raw, score_min, score_max, total_time_seconds, summary, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, CAST(NULL AS DOUBLE PRECISION), \
             $12, $13) \
             ON CONFLICT (workspace_id, environment, registration_id, activity_id) DO UPDATE SET \
             attempt = excluded.attempt, completion = excluded.completion, success = excluded.success, \
             score_scaled = excluded.score_scaled, score_raw = excluded.score_raw, score_min = excluded.score_min, \
             score_max = excluded.score_max, summary = excluded.summary, updated_at = excluded.updated_at")
        .bind(&k.workspace)
        .bind(&k.environment)
        .bind(&k.registration)
        .bind(&activity_id)
        .bind(attempt)
        .bind(summary.completion_status.clone())
        .bind(summary.success_status.clone())
        .bind(progress.score.and_then(|s| s.normalized()))
        .bind(progress.score.and_then(|s| s.raw))
        .bind(progress.score.and_then(|s| s.min))
        .bind(progress.score.and_then(|s| s.max))
        .bind(json(&summary))
        .bind(&at),
    )
    .await?;
    touch(tx, &k, &at).await?;
    roll_up(tx, &k, &at).await?;
    progress_from_results(tx, &k, &at).await?;
    Ok(())
}

/// What the activity's results of this attempt say so far.
async fn earlier(tx: &mut Tx, k: &Key, activity_id: &str) -> Result<Progress, StoreError> {
    let row = tx
        .fetch_optional(
            sql(
                "SELECT completion, success, score_scaled, score_raw, score_min, score_max \
                 FROM activity_results WHERE workspace_id = $1 AND environment = $2 \
                 AND registration_id = $3 AND activity_id = $4",
            )
            .bind(&k.workspace)
            .bind(&k.environment)
            .bind(&k.registration)
            .bind(activity_id),
        )
        .await?;
    let Some(row) = row else {
        return Ok(Progress::default());
    };
    let completion: String = row.get(0)?;
    let success: String = row.get(1)?;
    let score = Score {
        scaled: row.get(2)?,
        raw: row.get(3)?,
        min: row.get(4)?,
        max: row.get(5)?,
    };
    let reported = score.scaled.is_some() || score.raw.is_some();
    Ok(Progress {
        completed: completion == "completed",
        success: match success.as_str() {
            "passed" => Some(true),
            "failed" => Some(false),
            _ => None,
        },
        score: reported.then_some(score),
    })
}

/// The activity's results in the terms of a SCORM runtime summary, which
/// the progress answer reads for every activity.
fn summary(progress: &Progress) -> RuntimeSummary {
    let text = |n: Option<f64>| n.map(|n| n.to_string());
    let score = progress.score.unwrap_or_default();
    RuntimeSummary {
        state: SessionState::Running,
        entry: String::new(),
        exit: String::new(),
        completion_status: if progress.completed {
            "completed"
        } else {
            "incomplete"
        }
        .to_owned(),
        success_status: match progress.success {
            Some(true) => "passed",
            Some(false) => "failed",
            None => "unknown",
        }
        .to_owned(),
        lesson_status: None,
        score_scaled: text(score.normalized()),
        score_raw: text(score.raw),
        score_min: text(score.min),
        score_max: text(score.max),
        progress_measure: None,
        total_time: String::new(),
        total_time_centiseconds: None,
        nav_request: None,
        suspended: false,
    }
}
