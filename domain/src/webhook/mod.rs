//! Webhooks: the `Webhook` aggregate (an endpoint subscription), the public
//! catalogue of webhook event types, deliveries and their retry schedule,
//! signatures, and which targets may be reached.
//!
//! Secrets are drawn by the server and passed in commands; they are stored
//! in the endpoint's events (the dispatcher needs them to sign) and never
//! shown again after the answer that created them: `/api/v1/events` redacts
//! them ([`redact_secrets`]).

pub mod catalogue;
pub mod delivery;
pub mod signature;
pub mod target;

use chrono::{DateTime, Duration, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

/// Longest URL accepted, in bytes.
pub const MAX_URL_BYTES: usize = 2048;
/// Longest description accepted, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 500;
/// Longest grace period of a secret rotation.
pub const MAX_ROTATION_GRACE: Duration = Duration::days(7);
/// Grace period of a rotation when the request names none.
pub const DEFAULT_ROTATION_GRACE: Duration = Duration::hours(24);
/// Most events one replay may resend.
pub const MAX_REPLAY_EVENTS: usize = 10_000;
/// What `event_types` holds to mean every (non-opt-in) type.
pub const ALL_TYPES: &str = "*";

/// One event of a replay: what to resend, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayItem {
    /// Log position of the event to resend.
    pub position: i64,
    /// Its public webhook type.
    pub event_type: String,
    /// Its ordering subject (the stream it belongs to).
    pub subject: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum WebhookCommand {
    Create {
        webhook_id: String,
        url: String,
        /// Public types, or `["*"]`/empty for every non-opt-in type.
        event_types: Vec<String>,
        description: Option<String>,
        enabled: bool,
        secret: String,
        at: DateTime<Utc>,
    },
    /// Changes the fields that are `Some`.
    Update {
        url: Option<String>,
        event_types: Option<Vec<String>>,
        description: Option<Option<String>>,
        enabled: Option<bool>,
        at: DateTime<Utc>,
    },
    /// The old secret keeps signing beside the new one for `grace`.
    RotateSecret {
        secret: String,
        grace: Duration,
        at: DateTime<Utc>,
    },
    Delete {
        at: DateTime<Utc>,
    },
    /// Sends `webhook.ping` to this endpoint, enabled or not.
    Ping {
        ping_id: String,
        at: DateTime<Utc>,
    },
    /// Sends an earlier delivery's event again, as a new delivery.
    Redeliver {
        delivery_id: String,
        at: DateTime<Utc>,
    },
    /// Resends the events of a time window, read from the log by the caller.
    Replay {
        replay_id: String,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        events: Vec<ReplayItem>,
        at: DateTime<Utc>,
    },
    /// The dispatcher's: the endpoint has failed since `failing_since`.
    Disable {
        reason: String,
        failing_since: DateTime<Utc>,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WebhookEvent {
    WebhookCreated {
        webhook_id: String,
        url: String,
        /// Empty: every non-opt-in type.
        event_types: Vec<String>,
        description: Option<String>,
        enabled: bool,
        secret: String,
        at: DateTime<Utc>,
    },
    /// The endpoint's settings after the update, in full.
    WebhookUpdated {
        webhook_id: String,
        url: String,
        event_types: Vec<String>,
        description: Option<String>,
        enabled: bool,
        at: DateTime<Utc>,
    },
    WebhookSecretRotated {
        webhook_id: String,
        secret: String,
        /// Until then the previous secret signs too.
        previous_secret_expires_at: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    WebhookDeleted {
        webhook_id: String,
        at: DateTime<Utc>,
    },
    WebhookPingRequested {
        webhook_id: String,
        ping_id: String,
        at: DateTime<Utc>,
    },
    WebhookRedeliveryRequested {
        webhook_id: String,
        delivery_id: String,
        at: DateTime<Utc>,
    },
    WebhookReplayRequested {
        webhook_id: String,
        replay_id: String,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        events: Vec<ReplayItem>,
        at: DateTime<Utc>,
    },
    WebhookEndpointDisabled {
        webhook_id: String,
        reason: String,
        failing_since: DateTime<Utc>,
        at: DateTime<Utc>,
    },
}

impl WebhookEvent {
    /// The catalogue name of this event.
    pub fn kind(&self) -> &'static str {
        match self {
            WebhookEvent::WebhookCreated { .. } => "WebhookCreated",
            WebhookEvent::WebhookUpdated { .. } => "WebhookUpdated",
            WebhookEvent::WebhookSecretRotated { .. } => "WebhookSecretRotated",
            WebhookEvent::WebhookDeleted { .. } => "WebhookDeleted",
            WebhookEvent::WebhookPingRequested { .. } => "WebhookPingRequested",
            WebhookEvent::WebhookRedeliveryRequested { .. } => "WebhookRedeliveryRequested",
            WebhookEvent::WebhookReplayRequested { .. } => "WebhookReplayRequested",
            WebhookEvent::WebhookEndpointDisabled { .. } => "WebhookEndpointDisabled",
        }
    }

    pub fn webhook_id(&self) -> &str {
        match self {
            WebhookEvent::WebhookCreated { webhook_id, .. }
            | WebhookEvent::WebhookUpdated { webhook_id, .. }
            | WebhookEvent::WebhookSecretRotated { webhook_id, .. }
            | WebhookEvent::WebhookDeleted { webhook_id, .. }
            | WebhookEvent::WebhookPingRequested { webhook_id, .. }
            | WebhookEvent::WebhookRedeliveryRequested { webhook_id, .. }
            | WebhookEvent::WebhookReplayRequested { webhook_id, .. }
            | WebhookEvent::WebhookEndpointDisabled { webhook_id, .. } => webhook_id,
        }
    }
}

impl DomainEvent for WebhookEvent {
    fn event_type(&self) -> String {
        self.kind().to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Replaces secrets in a stored payload (`{"<Type>": {...}}`) with
/// `"[redacted]"`, for any view that shows events to people.
pub fn redact_secrets(event_type: &str, payload: &mut serde_json::Value) {
    if matches!(event_type, "WebhookCreated" | "WebhookSecretRotated")
        && let Some(secret) = payload
            .get_mut(event_type)
            .and_then(|inner| inner.get_mut("secret"))
    {
        *secret = serde_json::Value::String("[redacted]".into());
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("webhook already exists")]
    AlreadyCreated,
    #[error("no such webhook")]
    NotFound,
    #[error("invalid url: {0}")]
    InvalidUrl(String),
    #[error("unknown webhook event type {0:?}; see GET /api/v1/webhook-event-types")]
    UnknownEventType(String),
    #[error("description is longer than {MAX_DESCRIPTION_CHARS} characters")]
    DescriptionTooLong,
    #[error("the grace period must be between 0 seconds and 7 days")]
    InvalidGrace,
    #[error("the replay window must have from before to")]
    InvalidWindow,
    #[error("the replay window holds {0} events, more than {MAX_REPLAY_EVENTS}; narrow it")]
    ReplayTooLarge(usize),
}

/// The write model of a webhook endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    id: Option<String>,
    deleted: bool,
    url: String,
    event_types: Vec<String>,
    description: Option<String>,
    enabled: bool,
}

impl Webhook {
    /// Returns the events `command` produces, or why it is refused.
    pub fn decide(&self, command: WebhookCommand) -> Result<Vec<WebhookEvent>, WebhookError> {
        if let WebhookCommand::Create {
            webhook_id,
            url,
            event_types,
            description,
            enabled,
            secret,
            at,
        } = command
        {
            if self.id.is_some() {
                return Err(WebhookError::AlreadyCreated);
            }
            return Ok(vec![WebhookEvent::WebhookCreated {
                webhook_id,
                url: valid_url(url)?,
                event_types: valid_types(event_types)?,
                description: valid_description(description)?,
                enabled,
                secret,
                at,
            }]);
        }
        let webhook_id = match &self.id {
            Some(id) if !self.deleted => id.clone(),
            _ => return Err(WebhookError::NotFound),
        };
        Ok(match command {
            WebhookCommand::Create { .. } => unreachable!("handled above"),
            WebhookCommand::Update {
                url,
                event_types,
                description,
                enabled,
                at,
            } => {
                let updated = WebhookEvent::WebhookUpdated {
                    webhook_id,
                    url: url.map_or_else(|| Ok(self.url.clone()), valid_url)?,
                    event_types: event_types
                        .map_or_else(|| Ok(self.event_types.clone()), valid_types)?,
                    description: description
                        .map_or_else(|| Ok(self.description.clone()), valid_description)?,
                    enabled: enabled.unwrap_or(self.enabled),
                    at,
                };
                match &updated {
                    WebhookEvent::WebhookUpdated {
                        url,
                        event_types,
                        description,
                        enabled,
                        ..
                    } if *url == self.url
                        && *event_types == self.event_types
                        && *description == self.description
                        && *enabled == self.enabled =>
                    {
                        vec![]
                    }
                    _ => vec![updated],
                }
            }
            WebhookCommand::RotateSecret { secret, grace, at } => {
                if grace < Duration::zero() || grace > MAX_ROTATION_GRACE {
                    return Err(WebhookError::InvalidGrace);
                }
                vec![WebhookEvent::WebhookSecretRotated {
                    webhook_id,
                    secret,
                    previous_secret_expires_at: at + grace,
                    at,
                }]
            }
            WebhookCommand::Delete { at } => vec![WebhookEvent::WebhookDeleted { webhook_id, at }],
            WebhookCommand::Ping { ping_id, at } => vec![WebhookEvent::WebhookPingRequested {
                webhook_id,
                ping_id,
                at,
            }],
            WebhookCommand::Redeliver { delivery_id, at } => {
                vec![WebhookEvent::WebhookRedeliveryRequested {
                    webhook_id,
                    delivery_id,
                    at,
                }]
            }
            WebhookCommand::Replay {
                replay_id,
                from,
                to,
                events,
                at,
            } => {
                if from >= to {
                    return Err(WebhookError::InvalidWindow);
                }
                if events.len() > MAX_REPLAY_EVENTS {
                    return Err(WebhookError::ReplayTooLarge(events.len()));
                }
                vec![WebhookEvent::WebhookReplayRequested {
                    webhook_id,
                    replay_id,
                    from,
                    to,
                    events,
                    at,
                }]
            }
            WebhookCommand::Disable {
                reason,
                failing_since,
                at,
            } => {
                if !self.enabled {
                    return Ok(vec![]);
                }
                vec![WebhookEvent::WebhookEndpointDisabled {
                    webhook_id,
                    reason,
                    failing_since,
                    at,
                }]
            }
        })
    }
}

fn valid_url(url: String) -> Result<String, WebhookError> {
    let url = url.trim().to_owned();
    if url.len() > MAX_URL_BYTES {
        return Err(WebhookError::InvalidUrl(format!(
            "longer than {MAX_URL_BYTES} bytes"
        )));
    }
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(WebhookError::InvalidUrl(
            "the scheme must be http or https".into(),
        ));
    }
    Ok(url)
}

fn valid_types(types: Vec<String>) -> Result<Vec<String>, WebhookError> {
    let mut out: Vec<String> = Vec::new();
    for name in types {
        let name = name.trim().to_owned();
        if name == ALL_TYPES {
            return Ok(vec![]);
        }
        if !catalogue::WEBHOOK_TYPES
            .iter()
            .any(|t| t.name == name && t.subscribable)
        {
            return Err(WebhookError::UnknownEventType(name));
        }
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

fn valid_description(description: Option<String>) -> Result<Option<String>, WebhookError> {
    let description = description
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty());
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_CHARS)
    {
        return Err(WebhookError::DescriptionTooLong);
    }
    Ok(description)
}

impl Aggregate for Webhook {
    const TYPE: &'static str = "webhook";
    type Command = WebhookCommand;
    type Event = WebhookEvent;
    type Error = WebhookError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            WebhookEvent::WebhookCreated {
                webhook_id,
                url,
                event_types,
                description,
                enabled,
                ..
            } => {
                self.id = Some(webhook_id);
                self.url = url;
                self.event_types = event_types;
                self.description = description;
                self.enabled = enabled;
            }
            WebhookEvent::WebhookUpdated {
                url,
                event_types,
                description,
                enabled,
                ..
            } => {
                self.url = url;
                self.event_types = event_types;
                self.description = description;
                self.enabled = enabled;
            }
            WebhookEvent::WebhookDeleted { .. } => self.deleted = true,
            WebhookEvent::WebhookEndpointDisabled { .. } => self.enabled = false,
            WebhookEvent::WebhookSecretRotated { .. }
            | WebhookEvent::WebhookPingRequested { .. }
            | WebhookEvent::WebhookRedeliveryRequested { .. }
            | WebhookEvent::WebhookReplayRequested { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;
    use expect_test::expect;

    type WebhookTest = TestFramework<Webhook>;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn create(types: &[&str]) -> WebhookCommand {
        WebhookCommand::Create {
            webhook_id: "wh_1".into(),
            url: " https://example.com/hook ".into(),
            event_types: types.iter().map(|t| (*t).to_owned()).collect(),
            description: Some("  ".into()),
            enabled: true,
            secret: "whsec_s".into(),
            at: at(),
        }
    }

    fn create_with(url: &str, description: Option<String>) -> WebhookCommand {
        WebhookCommand::Create {
            webhook_id: "wh_1".into(),
            url: url.into(),
            event_types: vec![],
            description,
            enabled: true,
            secret: "whsec_s".into(),
            at: at(),
        }
    }

    fn created() -> WebhookEvent {
        WebhookEvent::WebhookCreated {
            webhook_id: "wh_1".into(),
            url: "https://example.com/hook".into(),
            event_types: vec![],
            description: None,
            enabled: true,
            secret: "whsec_s".into(),
            at: at(),
        }
    }

    #[test]
    fn create_normalises_its_fields() {
        WebhookTest::with(())
            .given_no_previous_events()
            .when(create(&["*"]))
            .then_expect_events(vec![created()]);
        let WebhookEvent::WebhookCreated {
            webhook_id,
            url,
            description,
            enabled,
            secret,
            at,
            ..
        } = created()
        else {
            unreachable!()
        };
        WebhookTest::with(())
            .given_no_previous_events()
            .when(create(&[
                "webhook.disabled",
                "api_key.created",
                "webhook.disabled",
            ]))
            .then_expect_events(vec![WebhookEvent::WebhookCreated {
                webhook_id,
                url,
                event_types: vec!["api_key.created".into(), "webhook.disabled".into()],
                description,
                enabled,
                secret,
                at,
            }]);
    }

    #[test]
    fn refusals() {
        let cases: Vec<(Vec<WebhookEvent>, WebhookCommand, WebhookError)> = vec![
            (vec![created()], create(&[]), WebhookError::AlreadyCreated),
            (
                vec![],
                WebhookCommand::Delete { at: at() },
                WebhookError::NotFound,
            ),
            (
                vec![
                    created(),
                    WebhookEvent::WebhookDeleted {
                        webhook_id: "wh_1".into(),
                        at: at(),
                    },
                ],
                WebhookCommand::Ping {
                    ping_id: "p".into(),
                    at: at(),
                },
                WebhookError::NotFound,
            ),
            (
                vec![],
                create_with("ftp://example.com", None),
                WebhookError::InvalidUrl("the scheme must be http or https".into()),
            ),
            (
                vec![],
                create(&["course.teleported"]),
                WebhookError::UnknownEventType("course.teleported".into()),
            ),
            (
                vec![],
                create(&["webhook.ping"]),
                WebhookError::UnknownEventType("webhook.ping".into()),
            ),
            (
                vec![],
                create_with(
                    "https://example.com",
                    Some("d".repeat(MAX_DESCRIPTION_CHARS + 1)),
                ),
                WebhookError::DescriptionTooLong,
            ),
            (
                vec![created()],
                WebhookCommand::RotateSecret {
                    secret: "whsec_2".into(),
                    grace: Duration::days(8),
                    at: at(),
                },
                WebhookError::InvalidGrace,
            ),
            (
                vec![created()],
                WebhookCommand::Replay {
                    replay_id: "r".into(),
                    from: at(),
                    to: at(),
                    events: vec![],
                    at: at(),
                },
                WebhookError::InvalidWindow,
            ),
        ];
        for (given, when, error) in cases {
            WebhookTest::with(())
                .given(given)
                .when(when)
                .then_expect_error(error);
        }
    }

    #[test]
    fn updates_carry_the_whole_new_state_and_no_op_updates_emit_nothing() {
        WebhookTest::with(())
            .given(vec![created()])
            .when(WebhookCommand::Update {
                url: None,
                event_types: None,
                description: None,
                enabled: Some(false),
                at: at(),
            })
            .then_expect_events(vec![WebhookEvent::WebhookUpdated {
                webhook_id: "wh_1".into(),
                url: "https://example.com/hook".into(),
                event_types: vec![],
                description: None,
                enabled: false,
                at: at(),
            }]);
        WebhookTest::with(())
            .given(vec![created()])
            .when(WebhookCommand::Update {
                url: Some("https://example.com/hook".into()),
                event_types: Some(vec!["*".into()]),
                description: None,
                enabled: Some(true),
                at: at(),
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_disabled_endpoint_is_not_disabled_twice() {
        let disabled = WebhookEvent::WebhookEndpointDisabled {
            webhook_id: "wh_1".into(),
            reason: "failing".into(),
            failing_since: at(),
            at: at(),
        };
        let disable = WebhookCommand::Disable {
            reason: "failing".into(),
            failing_since: at(),
            at: at(),
        };
        WebhookTest::with(())
            .given(vec![created()])
            .when(disable.clone())
            .then_expect_events(vec![disabled.clone()]);
        WebhookTest::with(())
            .given(vec![created(), disabled])
            .when(disable)
            .then_expect_events(vec![]);
    }

    #[test]
    fn rotation_sets_the_end_of_the_grace_period() {
        WebhookTest::with(())
            .given(vec![created()])
            .when(WebhookCommand::RotateSecret {
                secret: "whsec_2".into(),
                grace: Duration::hours(1),
                at: at(),
            })
            .then_expect_events(vec![WebhookEvent::WebhookSecretRotated {
                webhook_id: "wh_1".into(),
                secret: "whsec_2".into(),
                previous_secret_expires_at: at() + Duration::hours(1),
                at: at(),
            }]);
    }

    #[test]
    fn secrets_are_redacted_for_display() {
        let mut payload = serde_json::to_value(created()).unwrap();
        redact_secrets("WebhookCreated", &mut payload);
        assert_eq!(payload["WebhookCreated"]["secret"], "[redacted]");
        let mut other = serde_json::json!({"WebhookUpdated": {"secret": "x"}});
        redact_secrets("WebhookUpdated", &mut other);
        assert_eq!(other["WebhookUpdated"]["secret"], "x");
    }

    #[test]
    fn wire_format_is_stable() {
        let events = [
            created(),
            WebhookEvent::WebhookReplayRequested {
                webhook_id: "wh_1".into(),
                replay_id: "rpl_1".into(),
                from: at(),
                to: at() + Duration::hours(1),
                events: vec![ReplayItem {
                    position: 7,
                    event_type: "api_key.created".into(),
                    subject: "workspace:w".into(),
                }],
                at: at(),
            },
        ];
        let json: Vec<String> = events
            .iter()
            .map(|e| serde_json::to_string(e).unwrap())
            .collect();
        expect![[r#"
            [
                "{\"WebhookCreated\":{\"webhook_id\":\"wh_1\",\"url\":\"https://example.com/hook\",\"event_types\":[],\"description\":null,\"enabled\":true,\"secret\":\"whsec_s\",\"at\":\"2027-01-15T08:00:00Z\"}}",
                "{\"WebhookReplayRequested\":{\"webhook_id\":\"wh_1\",\"replay_id\":\"rpl_1\",\"from\":\"2027-01-15T08:00:00Z\",\"to\":\"2027-01-15T09:00:00Z\",\"events\":[{\"position\":7,\"event_type\":\"api_key.created\",\"subject\":\"workspace:w\"}],\"at\":\"2027-01-15T08:00:00Z\"}}",
            ]
        "#]]
        .assert_debug_eq(&json);
        for event in events {
            let decoded = crate::events::Event::decode(
                event.kind(),
                1,
                &serde_json::to_string(&event).unwrap(),
            )
            .unwrap();
            assert_eq!(decoded, crate::events::Event::Webhook(event));
        }
    }
}
