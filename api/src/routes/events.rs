//! `GET /api/v1/events`: the workspace environment's own events, in log
//! order, for audits and replays.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use store::log::{Checkpoint, RecordedEvent};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::routes::ApiQuery;
use crate::state::AppState;

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Return events after this position (the `position` of the last event
    /// seen; 0 for the beginning).
    pub after: Option<i64>,
    /// At most this many events (default 100, at most 1000).
    pub limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct EventBody {
    pub position: i64,
    pub stream_id: String,
    pub stream_version: i64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub schema_version: i64,
    /// The event's payload.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub metadata: EventMetadataBody,
    pub recorded_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct EventMetadataBody {
    /// `live`, `test`, or null for workspace-wide events.
    pub environment: Option<String>,
    pub actor: Option<String>,
    pub request_id: Option<String>,
    pub correlation_id: Option<String>,
    pub causation_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct EventPage {
    pub events: Vec<EventBody>,
    /// Pass as `after` to read on.
    pub next_after: i64,
}

fn body(event: RecordedEvent) -> Result<EventBody, ApiError> {
    let mut data: serde_json::Value = serde_json::from_str(&event.payload).map_err(|e| {
        ApiError::internal(anyhow::anyhow!("event {} payload: {e}", event.position))
    })?;
    // Webhook secrets are shown once, in the answer that made them.
    domain::webhook::redact_secrets(&event.event_type, &mut data);
    // Payloads are stored tagged with their type ({"ApiKeyCreated": {...}});
    // the type is already in `type`.
    let data = match data {
        serde_json::Value::Object(mut map)
            if map.len() == 1 && map.contains_key(&event.event_type) =>
        {
            map.remove(&event.event_type).unwrap_or_default()
        }
        other => other,
    };
    Ok(EventBody {
        position: event.position,
        stream_id: event.stream_id,
        stream_version: event.stream_version,
        event_type: event.event_type,
        schema_version: event.schema_version,
        data,
        metadata: EventMetadataBody {
            environment: event.metadata.environment.map(|e| e.to_string()),
            actor: event.metadata.actor,
            request_id: event.metadata.request_id,
            correlation_id: event.metadata.correlation_id,
            causation_id: event.metadata.causation_id,
        },
        recorded_at: event.recorded_at.to_rfc3339(),
    })
}

/// The events of the caller's workspace and environment (and the
/// workspace-wide ones), in log order.
#[utoipa::path(get, path = "/events", tag = "events", params(EventsQuery),
    responses((status = 200, body = EventPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_events(
    caller: Caller,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> Result<Json<EventPage>, ApiError> {
    let after = query.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::bad_request(
            "invalid_cursor",
            "after must not be negative",
        ));
    }
    let limit = super::page_limit(query.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let log = &state.platform.log;
    let checkpoint = if after == 0 {
        Checkpoint::START
    } else {
        log.checkpoint_of(after).await?.ok_or_else(|| {
            ApiError::bad_request(
                "invalid_cursor",
                format!("no event at position {after}; pass the position of an event you read"),
            )
        })?
    };
    let events = log.read_scope(&caller.scope, checkpoint, limit).await?;
    let next_after = events.last().map_or(after, |e| e.position);
    Ok(Json(EventPage {
        events: events.into_iter().map(body).collect::<Result<_, _>>()?,
        next_after,
    }))
}
