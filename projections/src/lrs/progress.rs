//! Registration progress reported by statements (projection `lrs_progress`): per
//! registration and activity, what [`domain::lrs::progress`] reads from the statements with
//! that registration about that activity. The registration views take the row of their
//! course activity.

use std::collections::BTreeMap;

use domain::events::Event;
use domain::lrs::progress::{Progress, Score, progress_update};
use domain::lrs::statement::StatementEvent;
use domain::tenancy::Scope;
use store::StoreError;
use store::db::{Database, Row, Tx, Value, sql};
use uuid::Uuid;

use super::statements::stored_millis;
use super::{insert_typed_rows, placeholders, scope_of};
use crate::runtime::{Envelope, Projection, ProjectionError};

pub struct ProgressView;

type ProgressKey = (String, &'static str, String, String);

#[async_trait::async_trait]
impl Projection for ProgressView {
    fn name(&self) -> &'static str {
        "lrs_progress"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["lrs_progress"]
    }

    fn handles(&self, event_type: &str) -> bool {
        event_type == "StatementStored"
    }

    async fn apply(&self, tx: &mut Tx, envelope: &Envelope<'_>) -> Result<(), ProjectionError> {
        self.apply_batch(tx, std::slice::from_ref(envelope)).await
    }

    async fn apply_batch(
        &self,
        tx: &mut Tx,
        envelopes: &[Envelope<'_>],
    ) -> Result<(), ProjectionError> {
        // Updates per (scope, registration, activity), in log order.
        let mut updates: BTreeMap<ProgressKey, Vec<(domain::lrs::progress::ProgressUpdate, i64)>> =
            BTreeMap::new();
        for envelope in envelopes {
            let Event::LrsStatement(StatementEvent::StatementStored { statement, .. }) =
                &envelope.event
            else {
                continue;
            };
            let Some(update) = progress_update(statement) else {
                continue;
            };
            let scope = scope_of(envelope)?;
            let stored = stored_millis(statement).unwrap_or_default();
            let key = (
                scope.workspace_id().to_string(),
                scope.environment().as_str(),
                update.registration.to_string(),
                update.activity_id.clone(),
            );
            updates.entry(key).or_default().push((update, stored));
        }
        // What the view holds already for these registrations, one query per scope.
        let mut existing: BTreeMap<ProgressKey, ProgressRow> = BTreeMap::new();
        let mut registrations: BTreeMap<(String, &'static str), Vec<String>> = BTreeMap::new();
        for (workspace, environment, registration, _) in updates.keys() {
            let list = registrations
                .entry((workspace.clone(), environment))
                .or_default();
            if list.last() != Some(registration) {
                list.push(registration.clone());
            }
        }
        for ((workspace, environment), list) in registrations {
            let mut query = sql(format!(
                "SELECT registration, {COLUMNS} FROM lrs_progress WHERE workspace_id = $1 \
                 AND environment = $2 AND registration IN ({})",
                placeholders(3, list.len())
            ))
            .bind(&workspace)
            .bind(environment);
            for registration in &list {
                query = query.bind(registration);
            }
            for row in tx.fetch_all(query).await? {
                let registration: String = row.get(0)?;
                let found = progress_row(&row, 1)?;
                existing.insert(
                    (
                        workspace.clone(),
                        environment,
                        registration,
                        found.activity_id.clone(),
                    ),
                    found,
                );
            }
        }
        let mut rows = Vec::with_capacity(updates.len());
        for (key, list) in updates {
            let (mut progress, mut updated_ms) = match existing.remove(&key) {
                Some(found) => (found.progress, found.updated_ms),
                None => (Progress::default(), 0),
            };
            for (update, stored) in &list {
                progress.apply(update);
                updated_ms = updated_ms.max(*stored);
            }
            let (workspace, environment, registration, activity) = key;
            let score = progress.score.unwrap_or_default();
            rows.push(vec![
                Value::from(workspace),
                Value::from(environment),
                Value::from(registration),
                Value::from(activity),
                Value::Bool(progress.completed),
                progress.success.into(),
                score.scaled.into(),
                score.raw.into(),
                score.min.into(),
                score.max.into(),
                Value::Int(updated_ms),
            ]);
        }
        insert_typed_rows(
            tx,
            "INSERT INTO lrs_progress (workspace_id, environment, registration, activity_key, \
             completed, success, score_scaled, score_raw, score_min, score_max, updated_ms)",
            &[
                "",
                "",
                "",
                "",
                "BOOLEAN",
                "BOOLEAN",
                "DOUBLE PRECISION",
                "DOUBLE PRECISION",
                "DOUBLE PRECISION",
                "DOUBLE PRECISION",
                "",
            ],
            rows,
            "ON CONFLICT (workspace_id, environment, registration, activity_key) DO UPDATE SET \
             completed = excluded.completed, success = excluded.success, \
             score_scaled = excluded.score_scaled, score_raw = excluded.score_raw, \
             score_min = excluded.score_min, score_max = excluded.score_max, \
             updated_ms = excluded.updated_ms",
        )
        .await?;
        Ok(())
    }
}

const COLUMNS: &str =
    "activity_key, completed, success, score_scaled, score_raw, score_min, score_max, updated_ms";

/// The progress statements reported for one activity of a registration.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgressRow {
    /// The activity id, normalized.
    pub activity_id: String,
    pub progress: Progress,
    /// `stored` of the newest statement that reported, in milliseconds.
    pub updated_ms: i64,
}

/// Reads the [`COLUMNS`] of a row, starting at column `first`.
fn progress_row(row: &Row, first: usize) -> Result<ProgressRow, StoreError> {
    let scaled: Option<f64> = row.get(first + 3)?;
    let raw: Option<f64> = row.get(first + 4)?;
    let min: Option<f64> = row.get(first + 5)?;
    let max: Option<f64> = row.get(first + 6)?;
    let score = Score {
        scaled,
        raw,
        min,
        max,
    };
    Ok(ProgressRow {
        activity_id: row.get(first)?,
        progress: Progress {
            completed: row.get(first + 1)?,
            success: row.get(first + 2)?,
            score: (score != Score::default()).then_some(score),
        },
        updated_ms: row.get(first + 7)?,
    })
}

/// Everything statements reported for `registration`, by activity.
pub async fn registration_progress(
    db: &Database,
    scope: &Scope,
    registration: Uuid,
) -> Result<Vec<ProgressRow>, StoreError> {
    let rows = db
        .fetch_all(
            sql(format!(
                "SELECT {COLUMNS} FROM lrs_progress WHERE workspace_id = $1 AND environment = $2 \
                 AND registration = $3 ORDER BY activity_key"
            ))
            .bind(scope.workspace_id().to_string())
            .bind(scope.environment().as_str())
            .bind(registration.to_string()),
        )
        .await?;
    rows.iter().map(|row| progress_row(row, 0)).collect()
}
