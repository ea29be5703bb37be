//! Activities and Agents known from statements (projection `lrs_objects`): the canonical
//! Activity Definitions and the agents behind Person objects.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use domain::events::Event;
use domain::lrs::objects::{activities_of, agents_of, merge_definition};
use domain::lrs::statement::StatementEvent;
use domain::tenancy::Scope;
use serde_json::Value as Json;
use store::StoreError;
use store::db::{Database, Tx, Value, sql};

use super::{insert_rows, placeholders, scope_of};
use crate::runtime::{Envelope, Projection, ProjectionError};

pub struct ObjectsView;

struct ActivityChange<'a> {
    id: &'a str,
    definitions: Vec<&'a Json>,
}

#[async_trait::async_trait]
impl Projection for ObjectsView {
    fn name(&self) -> &'static str {
        "lrs_objects"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["lrs_activities", "lrs_agents"]
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
        // Per scope: activity key → change, in log order; and agents to remember.
        let mut activities: HashMap<Scope, BTreeMap<String, ActivityChange<'_>>> = HashMap::new();
        let mut agents: BTreeMap<(String, &'static str, String, String), &Json> = BTreeMap::new();
        for envelope in envelopes {
            let Event::LrsStatement(StatementEvent::StatementStored { statement, .. }) =
                &envelope.event
            else {
                continue;
            };
            let scope = scope_of(envelope)?;
            let changes = activities.entry(scope).or_default();
            for seen in activities_of(statement) {
                let change = changes.entry(seen.key).or_insert(ActivityChange {
                    id: seen.id,
                    definitions: Vec::new(),
                });
                change.definitions.extend(seen.definition);
            }
            for seen in agents_of(statement) {
                let owner = (
                    scope.workspace_id().to_string(),
                    scope.environment().as_str(),
                );
                agents
                    .entry((owner.0, owner.1, seen.ifi_key, seen.name.to_owned()))
                    .or_insert(seen.agent);
            }
        }
        for (scope, changes) in activities {
            apply_activities(tx, &scope, changes).await?;
        }
        let rows: Vec<Vec<Value>> = agents
            .into_iter()
            .map(|((workspace, environment, ifi_key, name), agent)| {
                vec![
                    workspace.into(),
                    environment.into(),
                    ifi_key.into(),
                    name.into(),
                    agent.to_string().into(),
                ]
            })
            .collect();
        insert_rows(
            tx,
            "INSERT INTO lrs_agents (workspace_id, environment, ifi_key, name, agent)",
            5,
            rows,
            "ON CONFLICT DO NOTHING",
        )
        .await?;
        Ok(())
    }
}

async fn apply_activities(
    tx: &mut Tx,
    scope: &Scope,
    changes: BTreeMap<String, ActivityChange<'_>>,
) -> Result<(), ProjectionError> {
    if changes.is_empty() {
        return Ok(());
    }
    let workspace = scope.workspace_id().to_string();
    let environment = scope.environment().as_str();
    let mut query = sql(format!(
        "SELECT activity_key, definition FROM lrs_activities \
         WHERE workspace_id = $1 AND environment = $2 AND activity_key IN ({})",
        placeholders(3, changes.len())
    ))
    .bind(&workspace)
    .bind(environment);
    for key in changes.keys() {
        query = query.bind(key);
    }
    let mut existing: BTreeMap<String, Option<Json>> = BTreeMap::new();
    for row in tx.fetch_all(query).await? {
        let key: String = row.get(0)?;
        let definition: Option<String> = row.get(1)?;
        let definition = definition
            .map(|d| serde_json::from_str(&d))
            .transpose()
            .map_err(|e| ProjectionError::Inconsistent(format!("activity {key}: {e}")))?;
        existing.insert(key, definition);
    }
    let mut rows = Vec::new();
    for (key, change) in changes {
        let known = existing.get(&key);
        if known.is_some() && change.definitions.is_empty() {
            continue;
        }
        let mut definition = known.cloned().flatten();
        for received in change.definitions {
            definition = Some(merge_definition(definition.as_ref(), received));
        }
        if known.is_some_and(|known| *known == definition) {
            // Seen again with nothing new: most statements about an activity.
            continue;
        }
        rows.push(vec![
            workspace.clone().into(),
            environment.into(),
            key.into(),
            change.id.into(),
            definition.map(|d| d.to_string()).into(),
        ]);
    }
    insert_rows(
        tx,
        "INSERT INTO lrs_activities (workspace_id, environment, activity_key, activity_id, definition)",
        5,
        rows,
        "ON CONFLICT (workspace_id, environment, activity_key) DO UPDATE SET definition = excluded.definition",
    )
    .await?;
    Ok(())
}

/// An activity as `GET /activities` returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityRow {
    pub activity_id: String,
    pub definition: Option<Json>,
}

/// The activity whose normalized id is `key`.
pub async fn activity(
    db: &Database,
    scope: &Scope,
    key: &str,
) -> Result<Option<ActivityRow>, StoreError> {
    let row = db
        .fetch_optional(
            sql("SELECT activity_id, definition FROM lrs_activities \
                 WHERE workspace_id = $1 AND environment = $2 AND activity_key = $3")
            .bind(scope.workspace_id().to_string())
            .bind(scope.environment().as_str())
            .bind(key),
        )
        .await?;
    row.map(|row| {
        let definition: Option<String> = row.get(1)?;
        Ok(ActivityRow {
            activity_id: row.get(0)?,
            definition: definition
                .map(|d| serde_json::from_str(&d))
                .transpose()
                .map_err(|e| StoreError::Corrupt(format!("lrs_activities.definition: {e}")))?,
        })
    })
    .transpose()
}

/// The canonical definitions of the activities keyed `keys` (for `format=canonical`).
pub async fn definitions(
    db: &Database,
    scope: &Scope,
    keys: &BTreeSet<String>,
) -> Result<BTreeMap<String, Json>, StoreError> {
    let mut out = BTreeMap::new();
    if keys.is_empty() {
        return Ok(out);
    }
    let mut query = sql(format!(
        "SELECT activity_key, definition FROM lrs_activities \
         WHERE workspace_id = $1 AND environment = $2 AND definition IS NOT NULL \
         AND activity_key IN ({})",
        placeholders(3, keys.len())
    ))
    .bind(scope.workspace_id().to_string())
    .bind(scope.environment().as_str());
    for key in keys {
        query = query.bind(key);
    }
    for row in db.fetch_all(query).await? {
        let key: String = row.get(0)?;
        let definition: String = row.get(1)?;
        if let Ok(definition) = serde_json::from_str(&definition) {
            out.insert(key, definition);
        }
    }
    Ok(out)
}

/// The Agent objects seen with the identifier `ifi_key`, oldest name first.
pub async fn agents(db: &Database, scope: &Scope, ifi_key: &str) -> Result<Vec<Json>, StoreError> {
    let rows = db
        .fetch_all(
            sql(
                "SELECT agent FROM lrs_agents WHERE workspace_id = $1 AND environment = $2 \
                 AND ifi_key = $3 ORDER BY name",
            )
            .bind(scope.workspace_id().to_string())
            .bind(scope.environment().as_str())
            .bind(ifi_key),
        )
        .await?;
    rows.iter()
        .map(|row| {
            let agent: String = row.get(0)?;
            serde_json::from_str(&agent)
                .map_err(|e| StoreError::Corrupt(format!("lrs_agents.agent: {e}")))
        })
        .collect()
}
