//! `/api/v1/webhooks`: endpoints of the caller's environment, their
//! deliveries, tests, redeliveries and replays; `/api/v1/webhook-event-types`:
//! the public catalogue.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use domain::webhook::catalogue::{self, API_VERSION, Audience, WEBHOOK_TYPES, public_event};
use domain::webhook::delivery;
use domain::webhook::{DEFAULT_ROTATION_GRACE, ReplayItem, WebhookCommand, WebhookError};
use projections::webhooks::{self as view, AttemptRow, DeliveryRow, WebhookRow};
use serde::{Deserialize, Serialize};
use store::log::Checkpoint;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Caller, Consistent};
use crate::error::{ApiError, ErrorBody};
use crate::keys;
use crate::routes::{ApiJson, ApiQuery, MaybeJson, Written};
use crate::state::AppState;
use crate::webhooks::target;
use store::commands::CommandError;

const VIEW: &str = "webhooks";
const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;

#[derive(Serialize, ToSchema)]
pub struct WebhookTypeBody {
    #[serde(rename = "type")]
    pub name: &'static str,
    pub description: &'static str,
    /// Can be named in a webhook's `event_types`.
    pub subscribable: bool,
    /// Not included by `["*"]`.
    pub opt_in: bool,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookTypeList {
    /// The payload and catalogue version, sent in every payload.
    pub api_version: &'static str,
    pub event_types: Vec<WebhookTypeBody>,
}

/// The public catalogue of webhook event types.
#[utoipa::path(get, path = "/webhook-event-types", tag = "webhooks",
    responses((status = 200, body = WebhookTypeList)))]
pub async fn list_event_types() -> Json<WebhookTypeList> {
    Json(WebhookTypeList {
        api_version: API_VERSION,
        event_types: WEBHOOK_TYPES
            .iter()
            .map(|t| WebhookTypeBody {
                name: t.name,
                description: t.description,
                subscribable: t.subscribable,
                opt_in: t.opt_in,
            })
            .collect(),
    })
}

#[derive(Serialize, ToSchema)]
pub struct WebhookBody {
    pub id: String,
    pub url: String,
    /// Types received; `["*"]` for every type that is not opt-in.
    pub event_types: Vec<String>,
    pub description: Option<String>,
    pub enabled: bool,
    /// Why the endpoint was disabled, when the dispatcher disabled it.
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<String>,
    /// The first failure since the last success, while it keeps failing.
    pub failing_since: Option<String>,
    /// During a rotation's grace period, when the previous secret stops signing.
    pub previous_secret_expires_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<WebhookRow> for WebhookBody {
    fn from(row: WebhookRow) -> Self {
        WebhookBody {
            id: row.webhook_id,
            url: row.url,
            event_types: catalogue::shown_types(&row.event_types),
            description: row.description,
            enabled: row.enabled,
            disabled_reason: row.disabled_reason,
            disabled_at: row.disabled_at,
            failing_since: row.failing_since,
            previous_secret_expires_at: row.previous_secret_expires_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct WebhookList {
    pub webhooks: Vec<WebhookBody>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// `https://…` (or `http://…`); private addresses are refused.
    pub url: String,
    /// Types to receive; omitted or `["*"]`: every type that is not opt-in.
    pub event_types: Option<Vec<String>>,
    pub description: Option<String>,
    /// Default true.
    pub enabled: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: WebhookBody,
    /// The signing secret: shown in this answer only.
    pub secret: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    /// An empty string removes the description.
    pub description: Option<String>,
    /// `true` enables a disabled endpoint again.
    pub enabled: Option<bool>,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// How long the previous secret keeps signing beside the new one
    /// (default 86400, at most 604800).
    pub grace_period_seconds: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct RotatedSecret {
    pub id: String,
    /// The new signing secret: shown in this answer only.
    pub secret: String,
    pub previous_secret_expires_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct AttemptBody {
    pub attempt: i64,
    /// Sent as `AllureConnect-Request-Id`.
    pub request_id: String,
    /// The receiver's HTTP status, when it answered.
    pub status: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
    /// `succeeded`, `retrying` or `gave_up`.
    pub outcome: String,
    pub next_attempt_at: Option<String>,
    pub attempted_at: String,
}

impl From<AttemptRow> for AttemptBody {
    fn from(row: AttemptRow) -> Self {
        AttemptBody {
            attempt: row.attempt,
            request_id: row.request_id,
            status: row.status,
            latency_ms: row.latency_ms,
            error: row.error,
            outcome: row.outcome,
            next_attempt_at: row.next_attempt_at,
            attempted_at: row.attempted_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryBody {
    pub id: String,
    pub webhook_id: String,
    /// The payload's `id`.
    pub event_id: String,
    pub event_type: String,
    /// `event`, `ping`, `redelivery` or `replay`.
    pub origin: String,
    /// `pending`, `succeeded`, `failed` (given up) or `cancelled`.
    pub state: String,
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    /// Outbox position: pass as `after` to page on.
    pub seq: i64,
    /// Every attempt, oldest first.
    pub attempts: Vec<AttemptBody>,
}

fn delivery_body(row: DeliveryRow, attempts: &mut Vec<AttemptRow>) -> DeliveryBody {
    let (mine, rest): (Vec<AttemptRow>, Vec<AttemptRow>) = std::mem::take(attempts)
        .into_iter()
        .partition(|a| a.delivery_id == row.delivery_id);
    *attempts = rest;
    DeliveryBody {
        id: row.delivery_id,
        webhook_id: row.webhook_id,
        event_id: row.event_id,
        event_type: row.event_type,
        origin: row.origin,
        state: row.state,
        next_attempt_at: row.next_attempt_at,
        created_at: row.created_at,
        seq: row.seq,
        attempts: mine.into_iter().map(AttemptBody::from).collect(),
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryPage {
    pub deliveries: Vec<DeliveryBody>,
    /// Pass as `after` to read on.
    pub next_after: i64,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// Deliveries after this outbox position (`seq`; 0 for the first).
    pub after: Option<i64>,
    /// At most this many (default 50, at most 500).
    pub limit: Option<u32>,
    /// Only deliveries in this state.
    pub state: Option<String>,
    /// Wait until the views show this log position.
    pub min_position: Option<i64>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReplayQuery {
    /// Start of the window (RFC 3339), inclusive.
    pub from: String,
    /// End of the window (RFC 3339), exclusive; default now.
    pub to: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct QueuedDelivery {
    /// The new delivery.
    pub delivery_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct QueuedReplay {
    pub replay_id: String,
    /// How many events are queued again.
    pub events: usize,
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(
        "webhook_not_found",
        format!("no webhook {id} in this environment"),
    )
}

async fn checked_url(state: &AppState, raw: &str) -> Result<String, ApiError> {
    let url = target::parse(raw)?;
    target::check(&url, state.settings.webhooks.allow_private_targets).await?;
    Ok(url.to_string())
}

async fn read_webhook(state: &AppState, caller: &Caller, id: &str) -> Result<WebhookRow, ApiError> {
    view::webhook(&state.platform.db, &caller.scope, id)
        .await?
        .ok_or_else(|| not_found(id))
}

fn position(checkpoint: Option<Checkpoint>) -> i64 {
    checkpoint.map_or(0, |c| c.position)
}

/// The endpoints of the caller's environment.
#[utoipa::path(get, path = "/webhooks", tag = "webhooks",
    params(("min_position" = Option<i64>, Query, description = "wait until the views show this log position")),
    responses((status = 200, body = WebhookList), (status = 401, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_webhooks(
    caller: Caller,
    _: Consistent,
    State(state): State<AppState>,
) -> Result<Json<WebhookList>, ApiError> {
    let rows = view::webhooks(&state.platform.db, &caller.scope).await?;
    Ok(Json(WebhookList {
        webhooks: rows.into_iter().map(WebhookBody::from).collect(),
    }))
}

/// Creates an endpoint. Its signing secret is in the answer and never shown again.
#[utoipa::path(post, path = "/webhooks", tag = "webhooks", request_body = CreateWebhook,
    responses(
        (status = 201, body = inline(Written<CreatedWebhook>)),
        (status = 401, body = ErrorBody),
        (status = 422, description = "invalid url, refused target, unknown event type", body = ErrorBody),
    ),
    security(("api_key" = [])))]
pub async fn create_webhook(
    caller: Caller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> Result<(StatusCode, Json<Written<CreatedWebhook>>), ApiError> {
    let url = checked_url(&state, &body.url).await?;
    let id = keys::random_id("wh_", 12);
    let secret = keys::webhook_secret();
    let checkpoint = state
        .platform
        .commands
        .webhook(
            &caller.scope.aggregate_id(&id),
            WebhookCommand::Create {
                webhook_id: id.clone(),
                url,
                event_types: body.event_types.unwrap_or_default(),
                description: body.description,
                enabled: body.enabled.unwrap_or(true),
                secret: secret.clone(),
                at: Utc::now(),
            },
            &caller.metadata(),
        )
        .await?;
    state.settle(VIEW, checkpoint).await;
    let webhook = read_webhook(&state, &caller, &id).await?;
    Ok((
        StatusCode::CREATED,
        Json(Written {
            data: CreatedWebhook {
                webhook: webhook.into(),
                secret,
            },
            position: position(checkpoint),
        }),
    ))
}

/// One endpoint of the caller's environment.
#[utoipa::path(get, path = "/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "webhook id"),
        ("min_position" = Option<i64>, Query, description = "wait until the views show this log position")),
    responses((status = 200, body = WebhookBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn get_webhook(
    caller: Caller,
    _: Consistent,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<WebhookBody>, ApiError> {
    Ok(Json(read_webhook(&state, &caller, &id).await?.into()))
}

/// Changes an endpoint's URL, event types, description or enabled flag.
#[utoipa::path(patch, path = "/webhooks/{id}", tag = "webhooks", request_body = UpdateWebhook,
    params(("id" = String, Path, description = "webhook id")),
    responses(
        (status = 200, body = inline(Written<WebhookBody>)),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("api_key" = [])))]
pub async fn update_webhook(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateWebhook>,
) -> Result<Json<Written<WebhookBody>>, ApiError> {
    let url = match &body.url {
        Some(raw) => Some(checked_url(&state, raw).await?),
        None => None,
    };
    let checkpoint = state
        .platform
        .commands
        .webhook(
            &caller.scope.aggregate_id(&id),
            WebhookCommand::Update {
                url,
                event_types: body.event_types,
                description: body.description.map(Some),
                enabled: body.enabled,
                at: Utc::now(),
            },
            &caller.metadata(),
        )
        .await
        .map_err(|e| not_found_or(e, &id))?;
    state.settle(VIEW, checkpoint).await;
    Ok(Json(Written {
        data: read_webhook(&state, &caller, &id).await?.into(),
        position: position(checkpoint),
    }))
}

fn not_found_or(err: CommandError<WebhookError>, id: &str) -> ApiError {
    match err {
        CommandError::Rejected(WebhookError::NotFound) => not_found(id),
        other => other.into(),
    }
}

/// Deletes an endpoint; its pending deliveries are cancelled.
#[utoipa::path(delete, path = "/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "webhook id")),
    responses((status = 204, description = "deleted"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn delete_webhook(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let checkpoint = state
        .platform
        .commands
        .webhook(
            &caller.scope.aggregate_id(&id),
            WebhookCommand::Delete { at: Utc::now() },
            &caller.metadata(),
        )
        .await
        .map_err(|e| not_found_or(e, &id))?;
    state.settle(VIEW, checkpoint).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Draws a new signing secret. The previous one keeps signing beside it
/// (two `v1=` in the signature header) for the grace period.
#[utoipa::path(post, path = "/webhooks/{id}/rotate-secret", tag = "webhooks", request_body = RotateSecret,
    params(("id" = String, Path, description = "webhook id")),
    responses(
        (status = 200, body = inline(Written<RotatedSecret>)),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("api_key" = [])))]
pub async fn rotate_secret(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    MaybeJson(body): MaybeJson<RotateSecret>,
) -> Result<Json<Written<RotatedSecret>>, ApiError> {
    let grace = match body.and_then(|b| b.grace_period_seconds) {
        Some(seconds) if !(0..=7 * 86_400).contains(&seconds) => {
            return Err(CommandError::Rejected(WebhookError::InvalidGrace).into());
        }
        Some(seconds) => chrono::Duration::seconds(seconds),
        None => DEFAULT_ROTATION_GRACE,
    };
    let secret = keys::webhook_secret();
    let at = Utc::now();
    let checkpoint = state
        .platform
        .commands
        .webhook(
            &caller.scope.aggregate_id(&id),
            WebhookCommand::RotateSecret {
                secret: secret.clone(),
                grace,
                at,
            },
            &caller.metadata(),
        )
        .await
        .map_err(|e| not_found_or(e, &id))?;
    state.settle(VIEW, checkpoint).await;
    Ok(Json(Written {
        data: RotatedSecret {
            id,
            secret,
            previous_secret_expires_at: catalogue::timestamp(&(at + grace)),
        },
        position: position(checkpoint),
    }))
}

/// Sends `webhook.ping` to the endpoint at once (enabled or not) and answers
/// with the attempt; 202 when it has not been attempted within the request
/// timeout.
#[utoipa::path(post, path = "/webhooks/{id}/test", tag = "webhooks",
    params(("id" = String, Path, description = "webhook id")),
    responses(
        (status = 200, description = "attempted", body = inline(Written<DeliveryBody>)),
        (status = 202, description = "queued, not yet attempted", body = inline(Written<DeliveryBody>)),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("api_key" = [])))]
pub async fn test_webhook(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Written<DeliveryBody>>), ApiError> {
    let checkpoint = state
        .platform
        .commands
        .webhook(
            &caller.scope.aggregate_id(&id),
            WebhookCommand::Ping {
                ping_id: keys::random_id("ping_", 12),
                at: Utc::now(),
            },
            &caller.metadata(),
        )
        .await
        .map_err(|e| not_found_or(e, &id))?;
    let at = position(checkpoint);
    let delivery_id = delivery::delivery_id(at, &id, at);
    let deadline = tokio::time::Instant::now()
        + state.settings.webhooks.timeout
        + state.settings.consistency_timeout;
    let db = &state.platform.db;
    loop {
        if let Some(row) = view::delivery(db, &caller.scope, &delivery_id).await?
            && (row.attempts > 0 || tokio::time::Instant::now() >= deadline)
        {
            let status = if row.attempts > 0 {
                StatusCode::OK
            } else {
                StatusCode::ACCEPTED
            };
            let mut attempts =
                view::attempts(db, &caller.scope, std::slice::from_ref(&delivery_id)).await?;
            return Ok((
                status,
                Json(Written {
                    data: delivery_body(row, &mut attempts),
                    position: at,
                }),
            ));
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ApiError::from(projections::WaitError::Timeout {
                name: VIEW,
                timeout: state.settings.consistency_timeout,
            }));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Every delivery of an endpoint, each with every attempt, oldest first.
#[utoipa::path(get, path = "/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path, description = "webhook id"), DeliveriesQuery),
    responses((status = 200, body = DeliveryPage), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_deliveries(
    caller: Caller,
    _: Consistent,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<DeliveriesQuery>,
) -> Result<Json<DeliveryPage>, ApiError> {
    read_webhook(&state, &caller, &id).await?;
    let after = query.after.unwrap_or(0);
    let limit = super::page_limit(query.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    if let Some(s) = &query.state
        && ![
            view::PENDING,
            view::SUCCEEDED,
            view::FAILED,
            view::CANCELLED,
        ]
        .contains(&s.as_str())
    {
        return Err(ApiError::bad_request(
            "invalid_state",
            "state must be pending, succeeded, failed or cancelled",
        ));
    }
    let db = &state.platform.db;
    let rows =
        view::deliveries(db, &caller.scope, &id, after, query.state.as_deref(), limit).await?;
    let ids: Vec<String> = rows.iter().map(|r| r.delivery_id.clone()).collect();
    let mut attempts = view::attempts(db, &caller.scope, &ids).await?;
    let next_after = rows.last().map_or(after, |r| r.seq);
    Ok(Json(DeliveryPage {
        deliveries: rows
            .into_iter()
            .map(|row| delivery_body(row, &mut attempts))
            .collect(),
        next_after,
    }))
}

/// Sends a delivery's event again, as a new delivery with the same event id.
#[utoipa::path(post, path = "/webhooks/deliveries/{id}/redeliver", tag = "webhooks",
    params(("id" = String, Path, description = "delivery id")),
    responses((status = 202, body = inline(Written<QueuedDelivery>)), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn redeliver(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Written<QueuedDelivery>>), ApiError> {
    let original = view::delivery(&state.platform.db, &caller.scope, &id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "delivery_not_found",
                format!("no delivery {id} in this environment"),
            )
        })?;
    let webhook_id = original.webhook_id.clone();
    let checkpoint = state
        .platform
        .commands
        .webhook(
            &caller.scope.aggregate_id(&webhook_id),
            WebhookCommand::Redeliver {
                delivery_id: id,
                at: Utc::now(),
            },
            &caller.metadata(),
        )
        .await
        .map_err(|e| not_found_or(e, &webhook_id))?;
    state.settle(VIEW, checkpoint).await;
    let at = position(checkpoint);
    Ok((
        StatusCode::ACCEPTED,
        Json(Written {
            data: QueuedDelivery {
                delivery_id: delivery::delivery_id(at, &webhook_id, original.source_position),
            },
            position: at,
        }),
    ))
}

fn parse_time(name: &'static str, raw: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            ApiError::bad_request(
                "invalid_time",
                format!("{name} must be an RFC 3339 time such as 2026-11-28T10:00:00Z"),
            )
        })
}

/// Resends, in log order, the caller's events of a time window that the
/// endpoint receives now, whether or not they were delivered before. Their
/// ids are the original ones.
#[utoipa::path(post, path = "/webhooks/{id}/replay", tag = "webhooks",
    params(("id" = String, Path, description = "webhook id"), ReplayQuery),
    responses((status = 202, body = inline(Written<QueuedReplay>)), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn replay(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ReplayQuery>,
) -> Result<(StatusCode, Json<Written<QueuedReplay>>), ApiError> {
    let from = parse_time("from", &query.from)?;
    let to = match &query.to {
        Some(raw) => parse_time("to", raw)?,
        None => Utc::now(),
    };
    if from >= to {
        return Err(CommandError::Rejected(WebhookError::InvalidWindow).into());
    }
    let webhook = read_webhook(&state, &caller, &id).await?;
    let log = &state.platform.log;
    let mut events = Vec::new();
    let mut after = Checkpoint::START;
    loop {
        let page = log.read_scope(&caller.scope, after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = last.checkpoint();
        for record in &page {
            if record.recorded_at < from || record.recorded_at >= to {
                continue;
            }
            let Ok(event) = domain::events::Event::decode(
                &record.event_type,
                record.schema_version,
                &record.payload,
            ) else {
                continue;
            };
            let Some(public) = public_event(&event, &record.stream_id) else {
                continue;
            };
            if public.audience != Audience::Subscribers
                || !catalogue::subscribed(&webhook.event_types, public.event_type)
            {
                continue;
            }
            events.push(ReplayItem {
                position: record.position,
                event_type: public.event_type.to_owned(),
                subject: public.subject.unwrap_or_else(|| record.stream_id.clone()),
            });
        }
    }
    let count = events.len();
    let replay_id = keys::random_id("rpl_", 12);
    let checkpoint = state
        .platform
        .commands
        .webhook(
            &caller.scope.aggregate_id(&id),
            WebhookCommand::Replay {
                replay_id: replay_id.clone(),
                from,
                to,
                events,
                at: Utc::now(),
            },
            &caller.metadata(),
        )
        .await
        .map_err(|e| not_found_or(e, &id))?;
    state.settle(VIEW, checkpoint).await;
    Ok((
        StatusCode::ACCEPTED,
        Json(Written {
            data: QueuedReplay {
                replay_id,
                events: count,
            },
            position: position(checkpoint),
        }),
    ))
}
