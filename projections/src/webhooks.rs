//! Webhook endpoints, the delivery outbox and the attempt log (projection
//! `webhooks`).
//!
//! The outbox is a function of the log: each log event with a public form
//! ([`domain::webhook::catalogue::public_event`]) queues one delivery per
//! endpoint that receives it; pings, redeliveries and replays queue theirs
//! from the request events; each `WebhookDeliveryAttempted` moves its
//! delivery on (`pending` → `succeeded`, `failed` when given up). Endpoint
//! changes apply before the fan-out of the event that made them, so the
//! endpoint's state after an event decides who receives it (a new endpoint
//! receives its own `webhook.created`; a disabled one not its
//! `webhook.disabled`).
//!
//! Queries take a [`Scope`], except the dispatcher's, which work across
//! workspaces and hand back each row's scope.

use chrono::{DateTime, Utc};
use domain::events::Event;
use domain::tenancy::{Environment, Scope};
use domain::webhook::WebhookEvent;
use domain::webhook::catalogue::{self, Audience, public_event};
use domain::webhook::delivery::{self, DeliveryEvent, Outcome};
use store::StoreError;
use store::db::{Database, Row, Tx, sql};

use crate::runtime::{Envelope, Projection, ProjectionError};
use crate::workspaces::timestamp;

pub struct WebhooksView;

/// Delivery states.
pub const PENDING: &str = "pending";
pub const SUCCEEDED: &str = "succeeded";
pub const FAILED: &str = "failed";
pub const CANCELLED: &str = "cancelled";

#[async_trait::async_trait]
impl Projection for WebhooksView {
    fn name(&self) -> &'static str {
        "webhooks"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["webhooks", "webhook_deliveries", "webhook_attempts"]
    }

    fn handles(&self, event_type: &str) -> bool {
        !catalogue::NEVER_PUBLIC.contains(&event_type)
    }

    /// Stored statements are many and `statement.stored` is opt-in: a run
    /// of them is looked at only in the workspaces where an enabled
    /// endpoint names that type (one query per workspace and batch).
    async fn apply_batch(
        &self,
        tx: &mut Tx,
        envelopes: &[Envelope<'_>],
    ) -> Result<(), ProjectionError> {
        let mut subscribed: std::collections::HashMap<String, bool> =
            std::collections::HashMap::new();
        // Consecutive attempts are applied together (they have no public
        // form and change no endpoint's subscriptions).
        let mut attempts: Vec<&DeliveryEvent> = Vec::new();
        for envelope in envelopes {
            if let Event::WebhookDelivery(event) = &envelope.event {
                attempts.push(event);
                continue;
            }
            apply_attempts(tx, &attempts).await?;
            attempts.clear();
            if let Event::LrsStatement(_) = &envelope.event {
                let Some(workspace_id) = envelope.record.metadata.workspace_id else {
                    continue;
                };
                let workspace_id = workspace_id.to_string();
                let wanted = match subscribed.get(&workspace_id) {
                    Some(wanted) => *wanted,
                    None => {
                        let wanted = tx
                            .fetch_optional(
                                sql("SELECT 1 FROM webhooks WHERE workspace_id = $1 AND enabled = TRUE \
                                     AND event_types LIKE $2")
                                .bind(&workspace_id)
                                .bind("%\"statement.stored\"%"),
                            )
                            .await?
                            .is_some();
                        subscribed.insert(workspace_id, wanted);
                        wanted
                    }
                };
                if !wanted {
                    continue;
                }
            } else {
                // An endpoint may change: ask again after it.
                subscribed.clear();
            }
            self.apply(tx, envelope).await?;
        }
        apply_attempts(tx, &attempts).await?;
        Ok(())
    }

    async fn apply(&self, tx: &mut Tx, envelope: &Envelope<'_>) -> Result<(), ProjectionError> {
        let record = envelope.record;
        match &envelope.event {
            Event::Webhook(event) => apply_endpoint_change(tx, envelope, event).await?,
            Event::WebhookDelivery(event) => apply_attempt(tx, event).await?,
            Event::Workspace(_)
            | Event::Import(_)
            | Event::Course(_)
            | Event::Registration(_)
            | Event::LrsStatement(_)
            | Event::LrsDocument(_)
            | Event::LrsCredential(_)
            | Event::LrsLaunchToken(_)
            | Event::LrsForwarding(_) => {}
        }
        let Some(public) = public_event(&envelope.event, &record.stream_id) else {
            return Ok(());
        };
        let Some(workspace_id) = record.metadata.workspace_id else {
            return Ok(());
        };
        let environment = record.metadata.environment;
        let receivers: Vec<String> = match &public.audience {
            Audience::Subscribers => {
                let rows = tx
                    .fetch_all(
                        sql("SELECT webhook_id, event_types, environment FROM webhooks \
                             WHERE workspace_id = $1 AND enabled = TRUE ORDER BY webhook_id")
                        .bind(workspace_id.to_string()),
                    )
                    .await?;
                let mut out = Vec::new();
                for row in rows {
                    let id: String = row.get(0)?;
                    let types: String = row.get(1)?;
                    let endpoint_env: String = row.get(2)?;
                    // Workspace-wide events reach endpoints of both environments.
                    if environment.is_some_and(|e| e.as_str() != endpoint_env) {
                        continue;
                    }
                    if catalogue::subscribed(&parse_types(&types)?, public.event_type) {
                        out.push(id);
                    }
                }
                out
            }
            Audience::Endpoint(id) => vec![id.clone()],
        };
        let subject = public
            .subject
            .clone()
            .unwrap_or_else(|| record.stream_id.clone());
        for webhook_id in receivers {
            queue(
                tx,
                NewDelivery {
                    webhook_id: &webhook_id,
                    event_id: delivery::event_id(record.position, &webhook_id),
                    event_type: public.event_type,
                    source_position: record.position,
                    origin_position: record.position,
                    subject: &subject,
                    origin: if matches!(public.audience, Audience::Endpoint(_)) {
                        "ping"
                    } else {
                        "event"
                    },
                    api_version: catalogue::API_VERSION,
                    created_at: &record.recorded_at,
                },
            )
            .await?;
        }
        Ok(())
    }
}

fn parse_types(raw: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(raw).map_err(|_| StoreError::Corrupt("webhooks.event_types".into()))
}

struct NewDelivery<'a> {
    webhook_id: &'a str,
    event_id: String,
    event_type: &'a str,
    source_position: i64,
    origin_position: i64,
    subject: &'a str,
    origin: &'static str,
    api_version: &'a str,
    created_at: &'a DateTime<Utc>,
}

/// Queues a delivery behind every other one (`seq`), for an endpoint that
/// exists; the scope comes from the endpoint's row.
async fn queue(tx: &mut Tx, new: NewDelivery<'_>) -> Result<(), StoreError> {
    let delivery_id =
        delivery::delivery_id(new.origin_position, new.webhook_id, new.source_position);
    let created_at = timestamp(new.created_at);
    tx.execute(
        sql("INSERT INTO webhook_deliveries (delivery_id, seq, webhook_id, workspace_id, environment, \
             event_id, event_type, source_position, origin_position, subject, origin, api_version, state, \
             attempts, next_attempt_at, created_at) \
             SELECT $1, (SELECT coalesce(max(seq), 0) + 1 FROM webhook_deliveries), webhook_id, workspace_id, \
             environment, $2, $3, $4, $5, $6, $7, $8, 'pending', 0, $9, $9 \
             FROM webhooks WHERE webhook_id = $10 \
             ON CONFLICT (delivery_id) DO NOTHING")
        .bind(delivery_id)
        .bind(new.event_id)
        .bind(new.event_type)
        .bind(new.source_position)
        .bind(new.origin_position)
        .bind(new.subject)
        .bind(new.origin)
        .bind(new.api_version)
        .bind(created_at)
        .bind(new.webhook_id),
    )
    .await?;
    Ok(())
}

async fn apply_endpoint_change(
    tx: &mut Tx,
    envelope: &Envelope<'_>,
    event: &WebhookEvent,
) -> Result<(), ProjectionError> {
    let record = envelope.record;
    match event {
        WebhookEvent::WebhookCreated {
            webhook_id,
            url,
            event_types,
            description,
            enabled,
            secret,
            at,
        } => {
            let (Some(workspace_id), Some(environment)) =
                (record.metadata.workspace_id, record.metadata.environment)
            else {
                return Err(ProjectionError::Inconsistent(
                    "webhook created without a workspace environment".into(),
                ));
            };
            tx.execute(
                sql("INSERT INTO webhooks (webhook_id, workspace_id, environment, url, description, \
                     event_types, enabled, secret, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)")
                .bind(webhook_id)
                .bind(workspace_id.to_string())
                .bind(environment.as_str())
                .bind(url)
                .bind(description.clone())
                .bind(types_json(event_types))
                .bind(*enabled)
                .bind(secret)
                .bind(timestamp(at)),
            )
            .await?;
        }
        WebhookEvent::WebhookUpdated {
            webhook_id,
            url,
            event_types,
            description,
            enabled,
            at,
        } => {
            // Enabling again starts from a clean slate.
            tx.execute(
                sql("UPDATE webhooks SET url = $2, event_types = $3, description = $4, enabled = $5, \
                     updated_at = $6, \
                     disabled_reason = CASE WHEN $5 THEN NULL ELSE disabled_reason END, \
                     disabled_at = CASE WHEN $5 THEN NULL ELSE disabled_at END, \
                     failing_since = CASE WHEN $5 AND NOT enabled THEN NULL ELSE failing_since END \
                     WHERE webhook_id = $1")
                .bind(webhook_id)
                .bind(url)
                .bind(types_json(event_types))
                .bind(description.clone())
                .bind(*enabled)
                .bind(timestamp(at)),
            )
            .await?;
            if !enabled {
                cancel_pending(tx, webhook_id, false).await?;
            }
        }
        WebhookEvent::WebhookSecretRotated {
            webhook_id,
            secret,
            previous_secret_expires_at,
            at,
        } => {
            tx.execute(
                sql("UPDATE webhooks SET previous_secret = secret, previous_secret_expires_at = $3, \
                     secret = $2, updated_at = $4 WHERE webhook_id = $1")
                .bind(webhook_id)
                .bind(secret)
                .bind(timestamp(previous_secret_expires_at))
                .bind(timestamp(at)),
            )
            .await?;
        }
        WebhookEvent::WebhookDeleted { webhook_id, .. } => {
            cancel_pending(tx, webhook_id, true).await?;
            tx.execute(sql("DELETE FROM webhooks WHERE webhook_id = $1").bind(webhook_id))
                .await?;
        }
        WebhookEvent::WebhookEndpointDisabled {
            webhook_id,
            reason,
            at,
            ..
        } => {
            tx.execute(
                sql(
                    "UPDATE webhooks SET enabled = FALSE, disabled_reason = $2, disabled_at = $3, \
                     updated_at = $3 WHERE webhook_id = $1",
                )
                .bind(webhook_id)
                .bind(reason)
                .bind(timestamp(at)),
            )
            .await?;
            cancel_pending(tx, webhook_id, false).await?;
        }
        WebhookEvent::WebhookPingRequested { .. } => {}
        WebhookEvent::WebhookRedeliveryRequested {
            webhook_id,
            delivery_id,
            ..
        } => {
            let original = tx
                .fetch_optional(
                    sql("SELECT event_id, event_type, source_position, api_version \
                         FROM webhook_deliveries WHERE delivery_id = $1 AND webhook_id = $2")
                    .bind(delivery_id)
                    .bind(webhook_id),
                )
                .await?
                .ok_or_else(|| {
                    ProjectionError::Inconsistent(format!(
                        "redelivery of {delivery_id}, which {webhook_id} never had"
                    ))
                })?;
            let event_type: String = original.get(1)?;
            let api_version: String = original.get(3)?;
            queue(
                tx,
                NewDelivery {
                    webhook_id,
                    event_id: original.get(0)?,
                    event_type: &event_type,
                    source_position: original.get(2)?,
                    origin_position: record.position,
                    subject: &format!("redelivery:{}", record.position),
                    origin: "redelivery",
                    api_version: &api_version,
                    created_at: &record.recorded_at,
                },
            )
            .await?;
        }
        WebhookEvent::WebhookReplayRequested {
            webhook_id,
            replay_id,
            events,
            ..
        } => {
            for item in events {
                queue(
                    tx,
                    NewDelivery {
                        webhook_id,
                        event_id: delivery::event_id(item.position, webhook_id),
                        event_type: &item.event_type,
                        source_position: item.position,
                        origin_position: record.position,
                        subject: &format!("replay:{replay_id}:{}", item.subject),
                        origin: "replay",
                        api_version: catalogue::API_VERSION,
                        created_at: &record.recorded_at,
                    },
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// Cancels an endpoint's pending deliveries: all of them (deleted), or
/// those of the event stream, leaving explicit requests (pings,
/// redeliveries, replays) to be tried (disabled).
async fn cancel_pending(tx: &mut Tx, webhook_id: &str, all: bool) -> Result<(), StoreError> {
    tx.execute(
        sql(
            "UPDATE webhook_deliveries SET state = 'cancelled', next_attempt_at = NULL \
             WHERE webhook_id = $1 AND state = 'pending' AND ($2 OR origin = 'event')",
        )
        .bind(webhook_id)
        .bind(all),
    )
    .await?;
    Ok(())
}

async fn apply_attempt(tx: &mut Tx, event: &DeliveryEvent) -> Result<(), StoreError> {
    let DeliveryEvent::WebhookDeliveryAttempted {
        delivery_id,
        webhook_id,
        attempt,
        request_id,
        status,
        latency_ms,
        error,
        outcome,
        next_attempt_at,
        attempted_at,
    } = event;
    let attempted_at = timestamp(attempted_at);
    let next = next_attempt_at.as_ref().map(timestamp);
    let state = state_after(*outcome);
    // One statement (SQLite runs the three in one call, PostgreSQL as one
    // statement with data-modifying CTEs): this is the hot path of a
    // dispatcher. A record of an attempt already applied (a double send
    // after a lost lock) changes nothing. An endpoint fails from its first
    // failure after its last success. NULL is bound as text on
    // PostgreSQL: the casts give it its type.
    const DELIVERY: &str = "UPDATE webhook_deliveries SET attempts = $2, \
         state = CASE WHEN state = 'cancelled' AND $3 <> 'succeeded' THEN state ELSE $3 END, \
         next_attempt_at = CASE WHEN state = 'cancelled' AND $3 <> 'succeeded' THEN NULL ELSE $4 END, \
         first_attempted_at = coalesce(first_attempted_at, $5), last_attempted_at = $5, \
         last_status = CAST($6 AS BIGINT), last_error = $7 WHERE delivery_id = $1 AND attempts < $2";
    const ATTEMPT: &str = "INSERT INTO webhook_attempts (delivery_id, attempt, webhook_id, request_id, \
         status, latency_ms, error, outcome, next_attempt_at, attempted_at) \
         VALUES ($1, $2, $8, $9, CAST($6 AS BIGINT), $10, $7, $11, $4, $5) \
         ON CONFLICT (delivery_id, attempt) DO NOTHING";
    const ENDPOINT: &str = "UPDATE webhooks SET failing_since = \
         CASE WHEN $3 = 'succeeded' THEN NULL ELSE $5 END \
         WHERE webhook_id = $8 AND (CASE WHEN $3 = 'succeeded' THEN failing_since IS NOT NULL \
         ELSE failing_since IS NULL END)";
    let statement = match tx {
        Tx::Sqlite(_) => format!("{DELIVERY}; {ATTEMPT}; {ENDPOINT}"),
        Tx::Postgres(_) => format!(
            "WITH delivery AS ({DELIVERY} RETURNING 1), attempt AS ({ATTEMPT} RETURNING 1) {ENDPOINT}"
        ),
    };
    tx.execute(
        sql(statement)
            .bind(delivery_id)
            .bind(i64::from(*attempt))
            .bind(state)
            .bind(next)
            .bind(attempted_at)
            .bind(status.map(i64::from))
            .bind(error.clone())
            .bind(webhook_id)
            .bind(request_id)
            .bind(*latency_ms as i64)
            .bind(outcome.as_str()),
    )
    .await?;
    Ok(())
}

/// Attempts per multi-row statement.
const ATTEMPT_ROWS: usize = 200;

/// Applies a run of consecutive attempt events with a few multi-row
/// statements (an `INSERT` of the attempts and an `UPDATE … FROM (VALUES …)`
/// of their deliveries per [`ATTEMPT_ROWS`], one endpoint update per
/// endpoint), leaving the rows [`apply_attempt`] one at a time would. A run
/// in which a delivery appears twice (a double record after a lost lock) is
/// applied one at a time.
async fn apply_attempts(tx: &mut Tx, run: &[&DeliveryEvent]) -> Result<(), StoreError> {
    match run {
        [] => return Ok(()),
        [one] => return apply_attempt(tx, one).await,
        _ => {}
    }
    let mut seen = std::collections::HashSet::with_capacity(run.len());
    if !run.iter().all(|event| seen.insert(event.delivery_id())) {
        for event in run {
            apply_attempt(tx, event).await?;
        }
        return Ok(());
    }
    for chunk in run.chunks(ATTEMPT_ROWS) {
        let mut insert = String::from(
            "INSERT INTO webhook_attempts (delivery_id, attempt, webhook_id, request_id, status, \
             latency_ms, error, outcome, next_attempt_at, attempted_at) VALUES ",
        );
        let mut update_rows = String::new();
        let mut inserted = Vec::with_capacity(chunk.len() * 10);
        let mut updated = Vec::with_capacity(chunk.len() * 7);
        for (i, event) in chunk.iter().enumerate() {
            let DeliveryEvent::WebhookDeliveryAttempted {
                delivery_id,
                webhook_id,
                attempt,
                request_id,
                status,
                latency_ms,
                error,
                outcome,
                next_attempt_at,
                attempted_at,
            } = event;
            let attempted_at = timestamp(attempted_at);
            let next = next_attempt_at.as_ref().map(timestamp);
            let status = status.map(i64::from);
            if i > 0 {
                insert.push_str(", ");
                update_rows.push_str(", ");
            }
            let base = i * 10;
            insert.push('(');
            insert.push_str(
                &(1..=10)
                    .map(|n| format!("${}", base + n))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            insert.push(')');
            inserted.extend([
                store::db::Value::from(delivery_id),
                i64::from(*attempt).into(),
                webhook_id.into(),
                request_id.into(),
                status.into(),
                (*latency_ms as i64).into(),
                error.clone().into(),
                outcome.as_str().into(),
                next.clone().into(),
                attempted_at.clone().into(),
            ]);
            let base = i * 7;
            update_rows.push('(');
            update_rows.push_str(
                &(1..=7)
                    .map(|n| format!("${}", base + n))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            update_rows.push(')');
            updated.extend([
                store::db::Value::from(delivery_id),
                i64::from(*attempt).into(),
                state_after(*outcome).into(),
                next.into(),
                attempted_at.into(),
                status.into(),
                error.clone().into(),
            ]);
        }
        insert.push_str(" ON CONFLICT (delivery_id, attempt) DO NOTHING");
        let mut query = sql(insert);
        for value in inserted {
            query = query.bind(value);
        }
        tx.execute(query).await?;
        // The same rules as `apply_attempt`'s, a row of `v` per attempt
        // (VALUES columns are `column1`… on both backends).
        let mut query = sql(format!(
            "UPDATE webhook_deliveries SET attempts = v.column2, \
             state = CASE WHEN webhook_deliveries.state = 'cancelled' AND v.column3 <> 'succeeded' \
               THEN webhook_deliveries.state ELSE v.column3 END, \
             next_attempt_at = CASE WHEN webhook_deliveries.state = 'cancelled' AND v.column3 <> 'succeeded' \
               THEN NULL ELSE v.column4 END, \
             first_attempted_at = coalesce(webhook_deliveries.first_attempted_at, v.column5), \
             last_attempted_at = v.column5, last_status = v.column6, last_error = v.column7 \
             FROM (VALUES {update_rows}) AS v \
             WHERE webhook_deliveries.delivery_id = v.column1 AND webhook_deliveries.attempts < v.column2"
        ));
        for value in updated {
            query = query.bind(value);
        }
        tx.execute(query).await?;
    }
    // Each endpoint's `failing_since` after the run, in one statement.
    for (webhook_id, after) in failing_since_after(run) {
        let query = match after {
            FailingSince::Cleared => sql(
                "UPDATE webhooks SET failing_since = NULL \
                 WHERE webhook_id = $1 AND failing_since IS NOT NULL",
            )
            .bind(webhook_id),
            FailingSince::Since(at) => {
                sql("UPDATE webhooks SET failing_since = $2 WHERE webhook_id = $1")
                    .bind(webhook_id)
                    .bind(at)
            }
            FailingSince::SinceIfNone(at) => sql(
                "UPDATE webhooks SET failing_since = $2 WHERE webhook_id = $1 AND failing_since IS NULL",
            )
            .bind(webhook_id)
            .bind(at),
        };
        tx.execute(query).await?;
    }
    Ok(())
}

/// What a run of attempts does to an endpoint's `failing_since`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum FailingSince {
    /// It ended with a success: none.
    Cleared,
    /// A success, then failures from this time.
    Since(String),
    /// Only failures, from this time: kept if the endpoint failed already.
    SinceIfNone(String),
}

/// Each endpoint of the run (in order of appearance) and its
/// `failing_since` after the run, as applying the attempts one by one
/// leaves it: a success clears it, the first failure after sets it.
fn failing_since_after(run: &[&DeliveryEvent]) -> Vec<(String, FailingSince)> {
    let mut out: Vec<(String, bool, Option<String>)> = Vec::new();
    for event in run {
        let DeliveryEvent::WebhookDeliveryAttempted {
            webhook_id,
            outcome,
            attempted_at,
            ..
        } = event;
        let index = match out.iter().position(|(id, ..)| id == webhook_id) {
            Some(index) => index,
            None => {
                out.push((webhook_id.clone(), false, None));
                out.len() - 1
            }
        };
        let (_, succeeded, since) = &mut out[index];
        if *outcome == Outcome::Succeeded {
            *succeeded = true;
            *since = None;
        } else if since.is_none() {
            *since = Some(timestamp(attempted_at));
        }
    }
    out.into_iter()
        .filter_map(|(id, succeeded, since)| {
            let after = match (succeeded, since) {
                (true, None) => FailingSince::Cleared,
                (true, Some(at)) => FailingSince::Since(at),
                (false, Some(at)) => FailingSince::SinceIfNone(at),
                (false, None) => return None,
            };
            Some((id, after))
        })
        .collect()
}

fn state_after(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Succeeded => SUCCEEDED,
        Outcome::Retrying => PENDING,
        Outcome::GaveUp => FAILED,
    }
}

fn types_json(types: &[String]) -> String {
    serde_json::to_string(types).expect("strings serialise")
}

// ---- queries ----

/// An endpoint as the API shows it (never its secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRow {
    pub webhook_id: String,
    pub url: String,
    pub description: Option<String>,
    /// Empty: every non-opt-in type.
    pub event_types: Vec<String>,
    pub enabled: bool,
    pub previous_secret_expires_at: Option<String>,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<String>,
    pub failing_since: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

const WEBHOOK_COLUMNS: &str = "webhook_id, url, description, event_types, enabled, \
    previous_secret_expires_at, disabled_reason, disabled_at, failing_since, created_at, updated_at";

fn webhook_row(row: &Row) -> Result<WebhookRow, StoreError> {
    let types: String = row.get(3)?;
    Ok(WebhookRow {
        webhook_id: row.get(0)?,
        url: row.get(1)?,
        description: row.get(2)?,
        event_types: parse_types(&types)?,
        enabled: row.get(4)?,
        previous_secret_expires_at: row.get(5)?,
        disabled_reason: row.get(6)?,
        disabled_at: row.get(7)?,
        failing_since: row.get(8)?,
        created_at: row.get(9)?,
        updated_at: row.get(10)?,
    })
}

/// The endpoints of the scope, oldest first.
pub async fn webhooks(db: &Database, scope: &Scope) -> Result<Vec<WebhookRow>, StoreError> {
    let rows = db
        .fetch_all(
            sql(format!(
                "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE workspace_id = $1 AND environment = $2 \
                 ORDER BY created_at, webhook_id"
            ))
            .bind(scope.workspace_id().to_string())
            .bind(scope.environment().as_str()),
        )
        .await?;
    rows.iter().map(webhook_row).collect()
}

/// One endpoint of the scope.
pub async fn webhook(
    db: &Database,
    scope: &Scope,
    webhook_id: &str,
) -> Result<Option<WebhookRow>, StoreError> {
    let row = db
        .fetch_optional(
            sql(format!(
                "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE workspace_id = $1 AND environment = $2 \
                 AND webhook_id = $3"
            ))
            .bind(scope.workspace_id().to_string())
            .bind(scope.environment().as_str())
            .bind(webhook_id),
        )
        .await?;
    row.as_ref().map(webhook_row).transpose()
}

/// One delivery and its attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRow {
    pub delivery_id: String,
    pub seq: i64,
    pub webhook_id: String,
    pub scope: Scope,
    pub event_id: String,
    pub event_type: String,
    pub source_position: i64,
    pub subject: String,
    pub origin: String,
    pub api_version: String,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: Option<String>,
    pub first_attempted_at: Option<String>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: String,
}

const DELIVERY_COLUMNS: &str = "delivery_id, seq, webhook_id, workspace_id, environment, event_id, \
    event_type, source_position, subject, origin, api_version, state, attempts, next_attempt_at, \
    first_attempted_at, last_status, last_error, created_at";

/// The scope in columns `at` (workspace) and `at + 1` (environment) of a
/// row of `table`.
fn scope_at(row: &Row, at: usize, table: &str) -> Result<Scope, StoreError> {
    let workspace_id: String = row.get(at)?;
    let environment: String = row.get(at + 1)?;
    Ok(Scope::new(
        workspace_id
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("{table}.workspace_id")))?,
        environment
            .parse::<Environment>()
            .map_err(|_| StoreError::Corrupt(format!("{table}.environment")))?,
    ))
}

fn delivery_row(row: &Row) -> Result<DeliveryRow, StoreError> {
    Ok(DeliveryRow {
        delivery_id: row.get(0)?,
        seq: row.get(1)?,
        webhook_id: row.get(2)?,
        scope: scope_at(row, 3, "webhook_deliveries")?,
        event_id: row.get(5)?,
        event_type: row.get(6)?,
        source_position: row.get(7)?,
        subject: row.get(8)?,
        origin: row.get(9)?,
        api_version: row.get(10)?,
        state: row.get(11)?,
        attempts: row.get(12)?,
        next_attempt_at: row.get(13)?,
        first_attempted_at: row.get(14)?,
        last_status: row.get(15)?,
        last_error: row.get(16)?,
        created_at: row.get(17)?,
    })
}

/// An endpoint's deliveries after outbox position `after_seq`, oldest
/// first, optionally of one state.
pub async fn deliveries(
    db: &Database,
    scope: &Scope,
    webhook_id: &str,
    after_seq: i64,
    state: Option<&str>,
    limit: u32,
) -> Result<Vec<DeliveryRow>, StoreError> {
    let rows = db
        .fetch_all(
            sql(format!(
                "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE workspace_id = $1 \
                 AND environment = $2 AND webhook_id = $3 AND seq > $4 AND ($5 IS NULL OR state = $5) \
                 ORDER BY seq LIMIT $6"
            ))
            .bind(scope.workspace_id().to_string())
            .bind(scope.environment().as_str())
            .bind(webhook_id)
            .bind(after_seq)
            .bind(state.map(str::to_owned))
            .bind(i64::from(limit)),
        )
        .await?;
    rows.iter().map(delivery_row).collect()
}

/// One delivery of the scope.
pub async fn delivery(
    db: &Database,
    scope: &Scope,
    delivery_id: &str,
) -> Result<Option<DeliveryRow>, StoreError> {
    let row = db
        .fetch_optional(
            sql(format!(
                "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE workspace_id = $1 \
                 AND environment = $2 AND delivery_id = $3"
            ))
            .bind(scope.workspace_id().to_string())
            .bind(scope.environment().as_str())
            .bind(delivery_id),
        )
        .await?;
    row.as_ref().map(delivery_row).transpose()
}

/// One recorded attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRow {
    pub delivery_id: String,
    pub attempt: i64,
    pub request_id: String,
    pub status: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
    pub outcome: String,
    pub next_attempt_at: Option<String>,
    pub attempted_at: String,
}

/// The attempts of the scope's deliveries `delivery_ids`, by delivery and
/// attempt number.
pub async fn attempts(
    db: &Database,
    scope: &Scope,
    delivery_ids: &[String],
) -> Result<Vec<AttemptRow>, StoreError> {
    if delivery_ids.is_empty() {
        return Ok(vec![]);
    }
    let placeholders: Vec<String> = (0..delivery_ids.len())
        .map(|i| format!("${}", i + 3))
        .collect();
    let mut query = sql(format!(
        "SELECT a.delivery_id, a.attempt, a.request_id, a.status, a.latency_ms, a.error, a.outcome, \
         a.next_attempt_at, a.attempted_at FROM webhook_attempts a \
         JOIN webhook_deliveries d ON d.delivery_id = a.delivery_id \
         WHERE d.workspace_id = $1 AND d.environment = $2 AND a.delivery_id IN ({}) \
         ORDER BY a.delivery_id, a.attempt",
        placeholders.join(", ")
    ))
    .bind(scope.workspace_id().to_string())
    .bind(scope.environment().as_str());
    for id in delivery_ids {
        query = query.bind(id);
    }
    let rows = db.fetch_all(query).await?;
    rows.iter()
        .map(|row| {
            Ok(AttemptRow {
                delivery_id: row.get(0)?,
                attempt: row.get(1)?,
                request_id: row.get(2)?,
                status: row.get(3)?,
                latency_ms: row.get(4)?,
                error: row.get(5)?,
                outcome: row.get(6)?,
                next_attempt_at: row.get(7)?,
                attempted_at: row.get(8)?,
            })
        })
        .collect()
}

// ---- the dispatcher's queries (across workspaces) ----

/// What the dispatcher needs to send to an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchEndpoint {
    pub webhook_id: String,
    pub scope: Scope,
    pub url: String,
    pub enabled: bool,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<String>,
    pub failing_since: Option<String>,
    /// Changes with every change of the endpoint (not with its
    /// `failing_since`).
    pub updated_at: String,
}

/// Endpoints with pending deliveries, due at `now` or not (one index
/// probe per endpoint).
pub async fn endpoints_with_pending(db: &Database) -> Result<Vec<String>, StoreError> {
    let rows = db
        .fetch_all(sql(
            "SELECT w.webhook_id FROM webhooks w WHERE EXISTS (SELECT 1 FROM webhook_deliveries d \
             WHERE d.state = 'pending' AND d.webhook_id = w.webhook_id) ORDER BY w.webhook_id",
        ))
        .await?;
    rows.iter().map(|row| row.get(0)).collect()
}

/// The endpoint's sending settings, if it exists.
pub async fn dispatch_endpoint(
    db: &Database,
    webhook_id: &str,
) -> Result<Option<DispatchEndpoint>, StoreError> {
    let row = db
        .fetch_optional(
            sql("SELECT webhook_id, workspace_id, environment, url, enabled, secret, previous_secret, \
                 previous_secret_expires_at, failing_since, updated_at FROM webhooks WHERE webhook_id = $1")
            .bind(webhook_id),
        )
        .await?;
    row.map(|row| {
        Ok(DispatchEndpoint {
            webhook_id: row.get(0)?,
            scope: scope_at(&row, 1, "webhooks")?,
            url: row.get(3)?,
            enabled: row.get(4)?,
            secret: row.get(5)?,
            previous_secret: row.get(6)?,
            previous_secret_expires_at: row.get(7)?,
            failing_since: row.get(8)?,
            updated_at: row.get(9)?,
        })
    })
    .transpose()
}

/// A pending delivery as the dispatcher needs it: what it sends, orders and
/// schedules by (the view's other columns say how it went).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingDelivery {
    pub delivery_id: String,
    pub seq: i64,
    pub scope: Scope,
    pub event_id: String,
    pub event_type: String,
    pub source_position: i64,
    pub subject: String,
    pub api_version: String,
    pub attempts: i64,
    pub next_attempt_at: Option<String>,
    pub first_attempted_at: Option<String>,
}

/// The endpoint's pending deliveries after outbox position `after_seq`, in
/// outbox order (the partial index of pending rows): the dispatcher reads
/// its outbox a window at a time and keeps each subject's order itself.
pub async fn pending_after(
    db: &Database,
    webhook_id: &str,
    after_seq: i64,
    limit: u32,
) -> Result<Vec<PendingDelivery>, StoreError> {
    let rows = db
        .fetch_all(
            sql(
                "SELECT delivery_id, seq, workspace_id, environment, event_id, event_type, \
                 source_position, subject, api_version, attempts, next_attempt_at, \
                 first_attempted_at FROM webhook_deliveries \
                 WHERE webhook_id = $1 AND state = 'pending' AND seq > $2 ORDER BY seq LIMIT $3",
            )
            .bind(webhook_id)
            .bind(after_seq)
            .bind(i64::from(limit)),
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(PendingDelivery {
                delivery_id: row.get(0)?,
                seq: row.get(1)?,
                scope: scope_at(row, 2, "webhook_deliveries")?,
                event_id: row.get(4)?,
                event_type: row.get(5)?,
                source_position: row.get(6)?,
                subject: row.get(7)?,
                api_version: row.get(8)?,
                attempts: row.get(9)?,
                next_attempt_at: row.get(10)?,
                first_attempted_at: row.get(11)?,
            })
        })
        .collect()
}
