//! The event catalogue: every event type the log may hold, its schema
//! version, and the typed decoder that projections and subscribers share.
//!
//! Events are a stored format. A type name is never reused, a payload never
//! changes shape without a new schema version, and the wire format of each
//! event is pinned by a test next to the aggregate that emits it.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::course::{CourseEvent, ImportEvent};
use crate::lrs::credential::LrsCredentialEvent;
use crate::lrs::document::DocumentEvent;
use crate::lrs::forwarding::ForwardingEvent;
use crate::lrs::launch::LaunchTokenEvent;
use crate::lrs::statement::StatementEvent;
use crate::registration::RegistrationEvent;
use crate::tenancy::{Environment, Scope, WorkspaceId};
use crate::webhook::WebhookEvent;
use crate::webhook::delivery::DeliveryEvent;
use crate::workspace::WorkspaceEvent;

/// One kind of event: its type name, the aggregate whose stream holds it and
/// the newest schema version this code reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EventKind {
    pub event_type: &'static str,
    pub aggregate: &'static str,
    pub schema_version: u32,
    /// The payload has an `environment` field, and the event belongs to that
    /// environment whatever the command's metadata says (one command may
    /// emit events of both environments, like creating a workspace with a
    /// live and a test key).
    pub environment_in_payload: bool,
}

/// Every event type in the log.
pub const CATALOGUE: &[EventKind] = &[
    EventKind {
        event_type: "WorkspaceCreated",
        aggregate: "workspace",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "WorkspaceRenamed",
        aggregate: "workspace",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "ApiKeyCreated",
        aggregate: "workspace",
        schema_version: 1,
        environment_in_payload: true,
    },
    EventKind {
        event_type: "ApiKeyRevoked",
        aggregate: "workspace",
        schema_version: 1,
        environment_in_payload: true,
    },
    EventKind {
        event_type: "CourseImportStarted",
        aggregate: "import",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "CourseImportFailed",
        aggregate: "import",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "CourseImported",
        aggregate: "course",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "CourseVersionPublished",
        aggregate: "course",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "CourseUpdated",
        aggregate: "course",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "CourseDeleted",
        aggregate: "course",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "RegistrationCreated",
        aggregate: "registration",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "RegistrationDeleted",
        aggregate: "registration",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "RegistrationReset",
        aggregate: "registration",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "SessionStarted",
        aggregate: "registration",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "ActivityDelivered",
        aggregate: "registration",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "RuntimeValueSet",
        aggregate: "registration",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "RuntimeBatchCommitted",
        aggregate: "registration",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "RuntimeBatchRefused",
        aggregate: "registration",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "TimeOnTaskMeasured",
        aggregate: "registration",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "NavigationRequested",
        aggregate: "registration",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "SequencingStarted",
        aggregate: "registration",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "SequencingDecided",
        aggregate: "registration",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "LearnerGlobalsWritten",
        aggregate: "registration",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "RegistrationProgressChanged",
        aggregate: "registration",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "RegistrationCompleted",
        aggregate: "registration",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "RegistrationPassed",
        aggregate: "registration",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "RegistrationFailed",
        aggregate: "registration",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "WebhookCreated",
        aggregate: "webhook",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "WebhookUpdated",
        aggregate: "webhook",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "WebhookSecretRotated",
        aggregate: "webhook",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "WebhookDeleted",
        aggregate: "webhook",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "WebhookPingRequested",
        aggregate: "webhook",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "WebhookRedeliveryRequested",
        aggregate: "webhook",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "WebhookReplayRequested",
        aggregate: "webhook",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "WebhookEndpointDisabled",
        aggregate: "webhook",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "WebhookDeliveryAttempted",
        aggregate: "webhook_delivery",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "StatementStored",
        aggregate: "lrs_statement",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "DocumentWritten",
        aggregate: "lrs_document",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "DocumentDeleted",
        aggregate: "lrs_document",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "LrsCredentialCreated",
        aggregate: "lrs_credentials",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "LrsCredentialRevoked",
        aggregate: "lrs_credentials",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "LaunchTokenIssued",
        aggregate: "lrs_launch_token",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "LaunchTokenRevoked",
        aggregate: "lrs_launch_token",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "ForwardingConfigured",
        aggregate: "lrs_forwarding",
        schema_version: 1,
        environment_in_payload: false,
    },
    EventKind {
        event_type: "ForwardingRemoved",
        aggregate: "lrs_forwarding",
        schema_version: 1,
        environment_in_payload: false,
    },
];

/// Looks an event type up in the catalogue.
pub fn kind_of(event_type: &str) -> Option<&'static EventKind> {
    CATALOGUE.iter().find(|kind| kind.event_type == event_type)
}

/// The environment an event belongs to when its payload says so: the
/// payload is the stored form, `{"<EventType>": {..., "environment": "live"}}`.
pub fn environment_in_payload(
    event_type: &str,
    payload: &serde_json::Value,
) -> Result<Option<Environment>, MetadataError> {
    let Some(kind) = kind_of(event_type).filter(|k| k.environment_in_payload) else {
        return Ok(None);
    };
    let field = &payload[kind.event_type]["environment"];
    let raw = field.as_str().ok_or_else(|| MetadataError {
        field: "environment",
        value: field.to_string(),
    })?;
    raw.parse().map(Some).map_err(|_| MetadataError {
        field: "environment",
        value: raw.to_owned(),
    })
}

/// Any event of the catalogue, decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Workspace(WorkspaceEvent),
    Import(ImportEvent),
    Course(CourseEvent),
    Registration(Box<RegistrationEvent>),
    Webhook(WebhookEvent),
    WebhookDelivery(DeliveryEvent),
    LrsStatement(StatementEvent),
    LrsDocument(DocumentEvent),
    LrsCredential(LrsCredentialEvent),
    LrsLaunchToken(LaunchTokenEvent),
    LrsForwarding(ForwardingEvent),
}

/// Why a stored event could not be read. A projection that meets one stops
/// rather than skip the event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("unknown event type {0:?}")]
    UnknownType(String),
    #[error("{event_type} has schema version {found}, this build reads up to {supported}")]
    UnsupportedSchemaVersion {
        event_type: String,
        found: i64,
        supported: u32,
    },
    #[error("{event_type} payload does not match its schema: {reason}")]
    Malformed { event_type: String, reason: String },
}

impl Event {
    /// Decodes a stored event from its type, schema version and JSON payload.
    pub fn decode(
        event_type: &str,
        schema_version: i64,
        payload: &str,
    ) -> Result<Event, DecodeError> {
        let kind =
            kind_of(event_type).ok_or_else(|| DecodeError::UnknownType(event_type.to_owned()))?;
        if schema_version < 1 || schema_version > i64::from(kind.schema_version) {
            return Err(DecodeError::UnsupportedSchemaVersion {
                event_type: event_type.to_owned(),
                found: schema_version,
                supported: kind.schema_version,
            });
        }
        let malformed = |reason: String| DecodeError::Malformed {
            event_type: event_type.to_owned(),
            reason,
        };
        let event = match kind.aggregate {
            "workspace" => Event::Workspace(
                serde_json::from_str(payload).map_err(|e| malformed(e.to_string()))?,
            ),
            "import" => {
                Event::Import(serde_json::from_str(payload).map_err(|e| malformed(e.to_string()))?)
            }
            "course" => {
                Event::Course(serde_json::from_str(payload).map_err(|e| malformed(e.to_string()))?)
            }
            "registration" => Event::Registration(Box::new(
                serde_json::from_str(payload).map_err(|e| malformed(e.to_string()))?,
            )),
            "webhook" => {
                Event::Webhook(serde_json::from_str(payload).map_err(|e| malformed(e.to_string()))?)
            }
            "webhook_delivery" => Event::WebhookDelivery(
                serde_json::from_str(payload).map_err(|e| malformed(e.to_string()))?,
            ),
            "lrs_statement" => Event::LrsStatement(
                serde_json::from_str(payload).map_err(|e| malformed(e.to_string()))?,
            ),
            "lrs_document" => Event::LrsDocument(
                serde_json::from_str(payload).map_err(|e| malformed(e.to_string()))?,
            ),
            "lrs_credentials" => Event::LrsCredential(
                serde_json::from_str(payload).map_err(|e| malformed(e.to_string()))?,
            ),
            "lrs_launch_token" => Event::LrsLaunchToken(
                serde_json::from_str(payload).map_err(|e| malformed(e.to_string()))?,
            ),
            "lrs_forwarding" => Event::LrsForwarding(
                serde_json::from_str(payload).map_err(|e| malformed(e.to_string()))?,
            ),
            other => return Err(malformed(format!("no decoder for aggregate {other}"))),
        };
        if event.event_type() != event_type {
            return Err(malformed(format!("payload holds a {}", event.event_type())));
        }
        Ok(event)
    }

    /// The catalogue name of this event.
    pub fn event_type(&self) -> &'static str {
        match self {
            Event::Workspace(event) => event.kind(),
            Event::Import(event) => event.kind(),
            Event::Course(event) => event.kind(),
            Event::Registration(event) => event.kind(),
            Event::Webhook(event) => event.kind(),
            Event::WebhookDelivery(event) => event.kind(),
            Event::LrsStatement(event) => event.kind(),
            Event::LrsDocument(event) => event.kind(),
            Event::LrsCredential(event) => event.kind(),
            Event::LrsLaunchToken(event) => event.kind(),
            Event::LrsForwarding(event) => event.kind(),
        }
    }
}

/// Who and what caused an event; stored beside each event in the log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMetadata {
    pub workspace_id: Option<WorkspaceId>,
    /// `None` for workspace-wide events that belong to neither environment.
    pub environment: Option<Environment>,
    /// `key:<id>`, `cli`, `learner:<id>`, `system`…
    pub actor: Option<String>,
    pub correlation_id: Option<String>,
    pub causation_id: Option<String>,
    pub request_id: Option<String>,
}

/// Metadata that does not parse back from its stored form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid event metadata {field}: {value:?}")]
pub struct MetadataError {
    pub field: &'static str,
    pub value: String,
}

const WORKSPACE_ID: &str = "workspace_id";
const ENVIRONMENT: &str = "environment";
const ACTOR: &str = "actor";
const CORRELATION_ID: &str = "correlation_id";
const CAUSATION_ID: &str = "causation_id";
const REQUEST_ID: &str = "request_id";

impl EventMetadata {
    /// Metadata of an event inside one workspace environment.
    pub fn scoped(scope: Scope) -> EventMetadata {
        EventMetadata {
            workspace_id: Some(scope.workspace_id()),
            environment: Some(scope.environment()),
            ..EventMetadata::default()
        }
    }

    /// Metadata of a workspace-wide event.
    pub fn workspace(workspace_id: WorkspaceId) -> EventMetadata {
        EventMetadata {
            workspace_id: Some(workspace_id),
            ..EventMetadata::default()
        }
    }

    pub fn with_actor(mut self, actor: impl Into<String>) -> EventMetadata {
        self.actor = Some(actor.into());
        self
    }

    pub fn with_request_id(mut self, request_id: impl Into<String>) -> EventMetadata {
        self.request_id = Some(request_id.into());
        self
    }

    pub fn with_correlation_id(mut self, id: impl Into<String>) -> EventMetadata {
        self.correlation_id = Some(id.into());
        self
    }

    pub fn with_causation_id(mut self, id: impl Into<String>) -> EventMetadata {
        self.causation_id = Some(id.into());
        self
    }

    /// The form cqrs-es carries metadata in.
    pub fn to_map(&self) -> HashMap<String, String> {
        let mut map = HashMap::new();
        let mut put = |key: &str, value: Option<String>| {
            if let Some(value) = value {
                map.insert(key.to_owned(), value);
            }
        };
        put(WORKSPACE_ID, self.workspace_id.map(|w| w.to_string()));
        put(ENVIRONMENT, self.environment.map(|e| e.to_string()));
        put(ACTOR, self.actor.clone());
        put(CORRELATION_ID, self.correlation_id.clone());
        put(CAUSATION_ID, self.causation_id.clone());
        put(REQUEST_ID, self.request_id.clone());
        map
    }

    /// Reads metadata back from the cqrs-es map form.
    pub fn from_map(map: &HashMap<String, String>) -> Result<EventMetadata, MetadataError> {
        let workspace_id = match map.get(WORKSPACE_ID) {
            Some(raw) => Some(raw.parse().map_err(|_| MetadataError {
                field: WORKSPACE_ID,
                value: raw.clone(),
            })?),
            None => None,
        };
        let environment = match map.get(ENVIRONMENT) {
            Some(raw) => Some(raw.parse().map_err(|_| MetadataError {
                field: ENVIRONMENT,
                value: raw.clone(),
            })?),
            None => None,
        };
        Ok(EventMetadata {
            workspace_id,
            environment,
            actor: map.get(ACTOR).cloned(),
            correlation_id: map.get(CORRELATION_ID).cloned(),
            causation_id: map.get(CAUSATION_ID).cloned(),
            request_id: map.get(REQUEST_ID).cloned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn catalogue_names_are_unique() {
        let mut names: Vec<_> = CATALOGUE.iter().map(|k| k.event_type).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "an event type name appears twice");
    }

    #[test]
    fn decode_refuses_what_it_cannot_read() {
        let cases: &[(&str, i64, &str, &str)] = &[
            (
                "CourseTeleported",
                1,
                "{}",
                "unknown event type \"CourseTeleported\"",
            ),
            (
                "WorkspaceCreated",
                2,
                "{}",
                "WorkspaceCreated has schema version 2, this build reads up to 1",
            ),
            (
                "WorkspaceCreated",
                0,
                "{}",
                "WorkspaceCreated has schema version 0, this build reads up to 1",
            ),
            (
                "WorkspaceCreated",
                1,
                r#"{"WorkspaceRenamed":{"name":"x","at":"2026-01-01T00:00:00Z"}}"#,
                "WorkspaceCreated payload does not match its schema: payload holds a WorkspaceRenamed",
            ),
        ];
        for (event_type, version, payload, expected) in cases {
            let err = Event::decode(event_type, *version, payload).unwrap_err();
            assert_eq!(
                err.to_string(),
                *expected,
                "decoding {event_type} v{version}"
            );
        }
    }

    #[test]
    fn events_that_name_an_environment_belong_to_it() {
        let key = serde_json::json!({"ApiKeyCreated": {"environment": "test"}});
        assert_eq!(
            environment_in_payload("ApiKeyCreated", &key),
            Ok(Some(Environment::Test))
        );
        let created = serde_json::json!({"WorkspaceCreated": {"name": "x"}});
        assert_eq!(
            environment_in_payload("WorkspaceCreated", &created),
            Ok(None)
        );
        let bad = serde_json::json!({"ApiKeyRevoked": {"environment": "prod"}});
        assert!(environment_in_payload("ApiKeyRevoked", &bad).is_err());
        // Every workspace event that carries an environment is flagged so.
        for kind in CATALOGUE {
            let flagged = matches!(kind.event_type, "ApiKeyCreated" | "ApiKeyRevoked");
            assert_eq!(kind.environment_in_payload, flagged, "{}", kind.event_type);
        }
    }

    #[test]
    fn metadata_round_trips_through_the_cqrs_map() {
        let scope = Scope::new(
            WorkspaceId::from_uuid(Uuid::from_u128(7)),
            Environment::Test,
        );
        let metadata = EventMetadata::scoped(scope)
            .with_actor("key:k1")
            .with_request_id("r1")
            .with_correlation_id("c1")
            .with_causation_id("x1");
        assert_eq!(EventMetadata::from_map(&metadata.to_map()), Ok(metadata));
        let bad = HashMap::from([(ENVIRONMENT.to_owned(), "prod".to_owned())]);
        assert_eq!(
            EventMetadata::from_map(&bad).unwrap_err().to_string(),
            "invalid event metadata environment: \"prod\""
        );
    }
}
