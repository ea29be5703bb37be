//! The statement view (projection `lrs_statements`) and its queries.
//!
//! - `lrs_statements`: one row per statement, keyed by its log position (`seq`), holding the
//!   stored JSON, whether it is voided, and what it voids or refers to.
//! - `lrs_statement_index`: one row per filter key of a statement, ordered by
//!   `(stored, seq)` under each key, so that `GET /statements` with an agent, verb, activity
//!   or registration filter is a range scan of the newest (or oldest) rows of one key, with
//!   the other keys checked by primary-key lookups.
//! - `lrs_scopes`: a small integer per workspace environment, leading every index row.
//!
//! Which agents and activities a statement names is [`StatementIndex::of`]'s answer. A
//! statement whose object is a StatementRef also takes the filter keys of its target
//! (Communication §2.1.3, "Filter Conditions for StatementRefs"), also when the target is
//! stored after it, and recursively.

use std::collections::{BTreeSet, HashMap, HashSet};

use domain::events::Event;
use domain::lrs::statement::{StatementEvent, StoredAttachment};
use domain::tenancy::Scope;
use domain::xapi::XapiVersion;
use domain::xapi::agent::actor_keys;
use domain::xapi::statement::StatementIndex;
use domain::xapi::syntax::{parse_timestamp, parse_uuid};
use serde_json::Value as Json;
use store::StoreError;
use store::db::{Database, Row, Tx, Value, sql};
use uuid::Uuid;

use super::{insert_rows, placeholders, scope_of};
use crate::runtime::{Envelope, Projection, ProjectionError};

pub struct StatementsView;

/// The index key of an agent (by [`Ifi::key`](domain::xapi::agent::Ifi::key)).
pub fn agent_key(ifi_key: &str, related: bool) -> String {
    format!("{}:{ifi_key}", if related { 'A' } else { 'a' })
}

/// The index key of an activity id (normalized as [`StatementIndex`] does).
pub fn activity_key(activity: &str, related: bool) -> String {
    format!("{}:{activity}", if related { 'O' } else { 'o' })
}

/// The index key of a verb id (normalized).
pub fn verb_key(verb: &str) -> String {
    format!("v:{verb}")
}

/// The index key of a registration.
pub fn registration_key(registration: Uuid) -> String {
    format!("r:{registration}")
}

/// The index key of an authority identifier (for `statements/read/mine`).
pub fn authority_key(ifi_key: &str) -> String {
    format!("u:{ifi_key}")
}

/// The filter keys of a statement: what a targeting statement takes over.
fn filter_keys(index: &StatementIndex) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    keys.extend(index.agents.iter().map(|k| agent_key(k, false)));
    keys.extend(index.related_agents.iter().map(|k| agent_key(k, true)));
    keys.extend(index.activities.iter().map(|k| activity_key(k, false)));
    keys.extend(
        index
            .related_activities
            .iter()
            .map(|k| activity_key(k, true)),
    );
    if !index.verb.is_empty() {
        keys.insert(verb_key(&index.verb));
    }
    if let Some(registration) = index.registration {
        keys.insert(registration_key(registration));
    }
    keys
}

fn authority_keys(statement: &Json) -> Vec<String> {
    statement
        .get("authority")
        .map(actor_keys)
        .unwrap_or_default()
        .iter()
        .map(|k| authority_key(k))
        .collect()
}

/// The `stored` of a stored statement, in milliseconds.
pub fn stored_millis(statement: &Json) -> Option<i64> {
    let stored = statement.get("stored")?.as_str()?;
    parse_timestamp(stored, XapiVersion::V1_0_3)
        .or_else(|| parse_timestamp(stored, XapiVersion::V2_0_0))
        .map(|t| t.millis())
}

struct Incoming<'a> {
    seq: i64,
    id: String,
    stored_ms: i64,
    statement: &'a Json,
    attachments: Option<String>,
    index: StatementIndex,
    own: BTreeSet<String>,
}

impl<'a> Incoming<'a> {
    fn new(
        envelope: &Envelope<'_>,
        statement: &'a Json,
        attachments: &[StoredAttachment],
    ) -> Result<Incoming<'a>, ProjectionError> {
        let bad = |what: &str| {
            ProjectionError::Inconsistent(format!(
                "statement at position {} has no {what}",
                envelope.record.position
            ))
        };
        let id = statement
            .get("id")
            .and_then(Json::as_str)
            .and_then(parse_uuid)
            .ok_or_else(|| bad("id"))?;
        let stored_ms = stored_millis(statement).ok_or_else(|| bad("stored time"))?;
        let index = StatementIndex::of(statement);
        let own = filter_keys(&index);
        let attachments = (!attachments.is_empty())
            .then(|| serde_json::to_string(attachments).expect("attachments serialize"));
        Ok(Incoming {
            seq: envelope.record.position,
            id: id.to_string(),
            stored_ms,
            statement,
            attachments,
            index,
            own,
        })
    }
}

/// A statement already in the view that statements of a batch refer to.
struct Known {
    keys: BTreeSet<String>,
    voiding: bool,
}

#[async_trait::async_trait]
impl Projection for StatementsView {
    fn name(&self) -> &'static str {
        "lrs_statements"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["lrs_scopes", "lrs_statements", "lrs_statement_index"]
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
        let mut groups: Vec<(Scope, Vec<Incoming<'_>>)> = Vec::new();
        for envelope in envelopes {
            let Event::LrsStatement(StatementEvent::StatementStored {
                statement,
                attachments,
            }) = &envelope.event
            else {
                continue;
            };
            let scope = scope_of(envelope)?;
            let item = Incoming::new(envelope, statement, attachments)?;
            match groups.iter_mut().find(|(s, _)| *s == scope) {
                Some((_, items)) => items.push(item),
                None => groups.push((scope, vec![item])),
            }
        }
        for (scope, items) in groups {
            apply_scope(tx, &scope, items).await?;
        }
        Ok(())
    }
}

async fn scope_id(tx: &mut Tx, scope: &Scope, first_seq: i64) -> Result<i64, StoreError> {
    let workspace = scope.workspace_id().to_string();
    let environment = scope.environment().as_str();
    let found = tx
        .fetch_optional(
            sql("SELECT scope_id FROM lrs_scopes WHERE workspace_id = $1 AND environment = $2")
                .bind(&workspace)
                .bind(environment),
        )
        .await?;
    if let Some(row) = found {
        return row.get(0);
    }
    tx.execute(
        sql("INSERT INTO lrs_scopes (scope_id, workspace_id, environment) VALUES ($1, $2, $3)")
            .bind(first_seq)
            .bind(workspace)
            .bind(environment),
    )
    .await?;
    Ok(first_seq)
}

/// The statements of `ids` already in the view, with their filter keys.
async fn load_known(
    tx: &mut Tx,
    scope_id: i64,
    ids: &BTreeSet<String>,
) -> Result<HashMap<String, Known>, ProjectionError> {
    let mut known = HashMap::new();
    if ids.is_empty() {
        return Ok(known);
    }
    let mut query = sql(format!(
        "SELECT statement_id, statement, inherited, voids FROM lrs_statements \
         WHERE scope_id = $1 AND statement_id IN ({})",
        placeholders(2, ids.len())
    ))
    .bind(scope_id);
    for id in ids {
        query = query.bind(id);
    }
    for row in tx.fetch_all(query).await? {
        let id: String = row.get(0)?;
        let statement: String = row.get(1)?;
        let inherited: Option<String> = row.get(2)?;
        let voids: Option<String> = row.get(3)?;
        let statement: Json = serde_json::from_str(&statement).map_err(|e| {
            ProjectionError::Inconsistent(format!("stored statement {id} is not json: {e}"))
        })?;
        let mut keys = filter_keys(&StatementIndex::of(&statement));
        keys.extend(lines(inherited.as_deref()));
        known.insert(
            id,
            Known {
                keys,
                voiding: voids.is_some(),
            },
        );
    }
    Ok(known)
}

fn lines(text: Option<&str>) -> impl Iterator<Item = String> + '_ {
    text.unwrap_or("")
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
}

fn joined(keys: &BTreeSet<String>) -> Option<String> {
    (!keys.is_empty()).then(|| keys.iter().cloned().collect::<Vec<_>>().join("\n"))
}

async fn apply_scope(
    tx: &mut Tx,
    scope: &Scope,
    items: Vec<Incoming<'_>>,
) -> Result<(), ProjectionError> {
    let scope_id = scope_id(tx, scope, items[0].seq).await?;
    let batch_ids: BTreeSet<String> = items.iter().map(|i| i.id.clone()).collect();

    // What the batch refers to, and which of its statements were voided before they came.
    let targets: BTreeSet<String> = items
        .iter()
        .filter_map(|i| i.index.references.map(|r| r.to_string()))
        .collect();
    let mut known = load_known(tx, scope_id, &targets).await?;
    let mut voided_ids: HashSet<String> = HashSet::new();
    {
        let mut query = sql(format!(
            "SELECT voids FROM lrs_statements WHERE scope_id = $1 AND voids IN ({})",
            placeholders(2, batch_ids.len())
        ))
        .bind(scope_id);
        for id in &batch_ids {
            query = query.bind(id);
        }
        for row in tx.fetch_all(query).await? {
            voided_ids.insert(row.get::<String>(0)?);
        }
    }

    let mut statement_rows = Vec::with_capacity(items.len());
    let mut index_rows = Vec::with_capacity(items.len() * 12);
    let mut void_targets: Vec<String> = Vec::new();
    let mut effective: HashMap<String, BTreeSet<String>> = HashMap::new();
    for item in &items {
        let mut inherited = BTreeSet::new();
        if let Some(target) = item.index.references.map(|r| r.to_string())
            && let Some(found) = known.get(&target)
        {
            // All of the target's keys, own ones included: the same whichever of the two
            // statements a batch applies first (replay applies them together).
            inherited = found.keys.clone();
            if item.index.voids.is_some() && !found.voiding {
                void_targets.push(target);
            }
        }
        if let Some(target) = item.index.voids {
            voided_ids.insert(target.to_string());
        }
        let voided = item.index.voids.is_none() && voided_ids.contains(&item.id);
        let keys: BTreeSet<String> = item.own.union(&inherited).cloned().collect();
        for key in keys.iter().cloned().chain(authority_keys(item.statement)) {
            index_rows.push(vec![
                Value::Int(scope_id),
                Value::Text(key),
                Value::Int(item.stored_ms),
                Value::Int(item.seq),
            ]);
        }
        if targets.contains(&item.id) {
            known.insert(
                item.id.clone(),
                Known {
                    keys: keys.clone(),
                    voiding: item.index.voids.is_some(),
                },
            );
        }
        statement_rows.push(vec![
            Value::Int(item.seq),
            Value::Int(scope_id),
            Value::Text(item.id.clone()),
            Value::Int(item.stored_ms),
            Value::Bool(voided),
            item.index.voids.map(|v| v.to_string()).into(),
            item.index.references.map(|r| r.to_string()).into(),
            joined(&inherited).into(),
            Value::Text(item.statement.to_string()),
            item.attachments.clone().into(),
        ]);
        effective.insert(item.id.clone(), keys);
    }
    insert_rows(
        tx,
        "INSERT INTO lrs_statements (seq, scope_id, statement_id, stored_ms, voided, voids, refers, \
         inherited, statement, attachments)",
        10,
        statement_rows,
        "",
    )
    .await?;
    insert_rows(
        tx,
        "INSERT INTO lrs_statement_index (scope_id, fkey, stored_ms, seq)",
        4,
        index_rows,
        "ON CONFLICT DO NOTHING",
    )
    .await?;
    if !void_targets.is_empty() {
        let mut query = sql(format!(
            "UPDATE lrs_statements SET voided = TRUE WHERE scope_id = $1 AND statement_id IN ({}) \
             AND voids IS NULL",
            placeholders(2, void_targets.len())
        ))
        .bind(scope_id);
        for id in &void_targets {
            query = query.bind(id);
        }
        tx.execute(query).await?;
    }
    propagate_to_referrers(tx, scope_id, &batch_ids, &effective).await
}

/// Statements stored before their StatementRef target take the target's filter keys when
/// it arrives, and so do the statements that refer to them, recursively.
async fn propagate_to_referrers(
    tx: &mut Tx,
    scope_id: i64,
    batch_ids: &BTreeSet<String>,
    effective: &HashMap<String, BTreeSet<String>>,
) -> Result<(), ProjectionError> {
    // Which keys flow to which statements: start from the batch's statements.
    let mut frontier: Vec<(String, BTreeSet<String>)> = batch_ids
        .iter()
        .map(|id| (id.clone(), effective[id].clone()))
        .collect();
    let mut visited: HashSet<String> = HashSet::new();
    while !frontier.is_empty() {
        let ids: Vec<&String> = frontier.iter().map(|(id, _)| id).collect();
        let mut query = sql(format!(
            "SELECT seq, stored_ms, statement_id, refers, inherited FROM lrs_statements \
             WHERE scope_id = $1 AND refers IN ({})",
            placeholders(2, ids.len())
        ))
        .bind(scope_id);
        for id in &ids {
            query = query.bind(*id);
        }
        let rows = tx.fetch_all(query).await?;
        let keys_of: HashMap<String, BTreeSet<String>> = frontier.into_iter().collect();
        let mut next = Vec::new();
        for row in rows {
            let seq: i64 = row.get(0)?;
            let stored_ms: i64 = row.get(1)?;
            let id: String = row.get(2)?;
            let refers: String = row.get(3)?;
            let inherited: Option<String> = row.get(4)?;
            let Some(flowing) = keys_of.get(&refers) else {
                continue;
            };
            let mut all: BTreeSet<String> = lines(inherited.as_deref()).collect();
            let before = all.len();
            all.extend(flowing.iter().cloned());
            if all.len() != before {
                tx.execute(
                    sql("UPDATE lrs_statements SET inherited = $1 WHERE seq = $2")
                        .bind(joined(&all))
                        .bind(seq),
                )
                .await?;
                let rows = flowing
                    .iter()
                    .map(|key| {
                        vec![
                            Value::Int(scope_id),
                            Value::Text(key.clone()),
                            Value::Int(stored_ms),
                            Value::Int(seq),
                        ]
                    })
                    .collect();
                insert_rows(
                    tx,
                    "INSERT INTO lrs_statement_index (scope_id, fkey, stored_ms, seq)",
                    4,
                    rows,
                    "ON CONFLICT DO NOTHING",
                )
                .await?;
            }
            if visited.insert(id.clone()) {
                next.push((id, flowing.clone()));
            }
        }
        frontier = next;
    }
    Ok(())
}

/// Where a page of statements ends: the next page starts after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub stored_ms: i64,
    pub seq: i64,
}

/// A statement query as the view answers it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatementFilter {
    /// Index keys a statement must all have; the first one drives the scan, so put the most
    /// selective first.
    pub keys: Vec<String>,
    /// `since`: stored strictly after, in milliseconds.
    pub since_ms: Option<i64>,
    /// `until`: stored at or before, in milliseconds.
    pub until_ms: Option<i64>,
    pub ascending: bool,
    pub after: Option<Cursor>,
    /// Rows to return at most.
    pub limit: u32,
}

/// A statement as a query returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementRow {
    pub seq: i64,
    pub stored_ms: i64,
    /// The stored JSON.
    pub statement: String,
    /// The stored attachments (JSON of [`StoredAttachment`]s), if any.
    pub attachments: Option<String>,
}

impl StatementRow {
    pub fn cursor(&self) -> Cursor {
        Cursor {
            stored_ms: self.stored_ms,
            seq: self.seq,
        }
    }

    /// The attachment contents kept with this statement.
    pub fn stored_attachments(&self) -> Vec<StoredAttachment> {
        self.attachments
            .as_deref()
            .and_then(|a| serde_json::from_str(a).ok())
            .unwrap_or_default()
    }
}

const SCOPE: &str =
    "(SELECT scope_id FROM lrs_scopes WHERE workspace_id = $1 AND environment = $2)";

fn row(row: &Row) -> Result<StatementRow, StoreError> {
    Ok(StatementRow {
        seq: row.get(0)?,
        stored_ms: row.get(1)?,
        statement: row.get(2)?,
        attachments: row.get(3)?,
    })
}

/// The non-voided statements of `scope` that match `filter`, newest first unless
/// `filter.ascending`.
pub async fn query(
    db: &Database,
    scope: &Scope,
    filter: &StatementFilter,
) -> Result<Vec<StatementRow>, StoreError> {
    // `t` is the table whose (stored_ms, seq) order the scan follows.
    let (from, t) = match filter.keys.first() {
        Some(_) => (
            "lrs_statement_index i JOIN lrs_statements s ON s.seq = i.seq",
            "i",
        ),
        None => ("lrs_statements s", "s"),
    };
    let mut text = format!(
        "SELECT s.seq, s.stored_ms, s.statement, s.attachments FROM {from} WHERE {t}.scope_id = {SCOPE}"
    );
    let mut args: Vec<Value> = vec![
        scope.workspace_id().to_string().into(),
        scope.environment().as_str().into(),
    ];
    let next = |value: Value, args: &mut Vec<Value>| {
        args.push(value);
        format!("${}", args.len())
    };
    if let Some(key) = filter.keys.first() {
        let p = next(key.clone().into(), &mut args);
        text.push_str(&format!(" AND i.fkey = {p}"));
    }
    let (cmp, order) = if filter.ascending {
        (">", "ASC")
    } else {
        ("<", "DESC")
    };
    if let Some(after) = filter.after {
        let a = next(after.stored_ms.into(), &mut args);
        let b = next(after.seq.into(), &mut args);
        text.push_str(&format!(" AND ({t}.stored_ms, {t}.seq) {cmp} ({a}, {b})"));
    }
    if let Some(since) = filter.since_ms {
        let p = next(since.into(), &mut args);
        text.push_str(&format!(" AND {t}.stored_ms > {p}"));
    }
    if let Some(until) = filter.until_ms {
        let p = next(until.into(), &mut args);
        text.push_str(&format!(" AND {t}.stored_ms <= {p}"));
    }
    text.push_str(" AND s.voided = FALSE");
    for key in filter.keys.iter().skip(1) {
        let p = next(key.clone().into(), &mut args);
        text.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM lrs_statement_index j WHERE j.scope_id = i.scope_id \
             AND j.fkey = {p} AND j.stored_ms = i.stored_ms AND j.seq = i.seq)"
        ));
    }
    let p = next(i64::from(filter.limit).into(), &mut args);
    text.push_str(&format!(
        " ORDER BY {t}.stored_ms {order}, {t}.seq {order} LIMIT {p}"
    ));
    let mut query = sql(text);
    for arg in args {
        query = query.bind(arg);
    }
    db.fetch_all(query).await?.iter().map(row).collect()
}

/// One statement of `scope` by id, voided or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SingleStatement {
    pub row: StatementRow,
    pub voided: bool,
}

pub async fn by_id(
    db: &Database,
    scope: &Scope,
    id: Uuid,
) -> Result<Option<SingleStatement>, StoreError> {
    let found = db
        .fetch_optional(
            sql(format!(
                "SELECT seq, stored_ms, statement, attachments, voided FROM lrs_statements \
                 WHERE scope_id = {SCOPE} AND statement_id = $3"
            ))
            .bind(scope.workspace_id().to_string())
            .bind(scope.environment().as_str())
            .bind(id.to_string()),
        )
        .await?;
    found
        .map(|r| {
            Ok(SingleStatement {
                row: row(&r)?,
                voided: r.get(4)?,
            })
        })
        .transpose()
}

/// The newest `stored` time of `scope`'s statements, in milliseconds.
pub async fn latest_stored(db: &Database, scope: &Scope) -> Result<Option<i64>, StoreError> {
    let found = db
        .fetch_optional(
            sql(format!(
                "SELECT stored_ms FROM lrs_statements WHERE scope_id = {SCOPE} \
                 ORDER BY stored_ms DESC, seq DESC LIMIT 1"
            ))
            .bind(scope.workspace_id().to_string())
            .bind(scope.environment().as_str()),
        )
        .await?;
    found.map(|r| r.get(0)).transpose()
}
