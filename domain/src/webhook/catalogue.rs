//! The public catalogue of webhook event types, and the mapping from log
//! events to them.
//!
//! The catalogue is a public contract, versioned by [`API_VERSION`]: a type
//! name is never reused, and a `data` object only gains fields within one
//! version. [`public_event`] has one match arm per domain event and no
//! wildcard, so a new domain event does not compile until it says whether
//! (and as what) receivers see it.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use crate::course::{CourseEvent, ImportEvent};
use crate::events::Event;
use crate::lrs::credential::LrsCredentialEvent;
use crate::lrs::document::DocumentEvent;
use crate::lrs::forwarding::ForwardingEvent;
use crate::lrs::launch::LaunchTokenEvent;
use crate::lrs::statement::StatementEvent;
use crate::registration::RegistrationEvent;
use crate::tenancy::{Environment, WorkspaceId};
use crate::webhook::WebhookEvent;
use crate::webhook::delivery::DeliveryEvent;
use crate::workspace::WorkspaceEvent;

/// The version of the payload format and of the catalogue, sent in every
/// payload as `api_version`.
pub const API_VERSION: &str = "2026-11-28";

/// One public webhook event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WebhookType {
    pub name: &'static str,
    pub description: &'static str,
    /// Endpoints may name it in `event_types`. Types sent to one endpoint
    /// on request (`webhook.ping`) are not.
    pub subscribable: bool,
    /// Not included by `["*"]`: an endpoint receives it only when it names
    /// it (high-volume types such as `statement.stored`).
    pub opt_in: bool,
}

const fn subscribable(name: &'static str, description: &'static str) -> WebhookType {
    WebhookType {
        name,
        description,
        subscribable: true,
        opt_in: false,
    }
}

/// Every public webhook type, in the order the documentation lists them.
pub const WEBHOOK_TYPES: &[WebhookType] = &[
    subscribable(
        "course.import_started",
        "An import of a course package began. data: import_id, course_id, title, source.",
    ),
    subscribable(
        "course.imported",
        "A package was imported as a new version of a course. data: import_id, course_id, version, title, standard, authoring_tool, warnings.",
    ),
    subscribable(
        "course.import_failed",
        "An import was refused or failed. data: import_id, course_id, code, message.",
    ),
    subscribable(
        "course.version_published",
        "A course version became the one new registrations use. data: course_id, version.",
    ),
    subscribable(
        "course.updated",
        "A course's title or tags changed. data: course_id, title, tags.",
    ),
    subscribable("course.deleted", "A course was deleted. data: course_id."),
    subscribable(
        "registration.created",
        "A learner was registered on a course. data: registration_id, course_id, course_version, learner, tags.",
    ),
    subscribable(
        "registration.launched",
        "A registration was launched (a player session began). data: registration_id, session_id, attempt, resumed.",
    ),
    subscribable(
        "registration.reset",
        "A registration began a new attempt. data: registration_id, attempt.",
    ),
    subscribable(
        "registration.deleted",
        "A registration was deleted. data: registration_id.",
    ),
    subscribable(
        "registration.progress_changed",
        "A registration's course status changed (completion, success or score). data: registration_id, attempt, progress, previous; progress and previous are {completion, success, score_scaled?, score_raw?, score_min?, score_max?}.",
    ),
    subscribable(
        "registration.completed",
        "A registration's course became completed in this attempt. data: registration_id, attempt, progress.",
    ),
    subscribable(
        "registration.passed",
        "A registration's course became passed in this attempt. data: registration_id, attempt, progress.",
    ),
    subscribable(
        "registration.failed",
        "A registration's course became failed in this attempt. data: registration_id, attempt, progress.",
    ),
    subscribable(
        "api_key.created",
        "An API key was created in this environment. data: key_id, label, hint, environment.",
    ),
    subscribable(
        "api_key.revoked",
        "An API key of this environment was revoked. data: key_id, environment.",
    ),
    subscribable(
        "webhook.created",
        "A webhook endpoint was created. data: webhook_id, url, event_types, description, enabled.",
    ),
    subscribable(
        "webhook.updated",
        "A webhook endpoint's settings changed. data: webhook_id, url, event_types, description, enabled.",
    ),
    subscribable(
        "webhook.secret_rotated",
        "A webhook endpoint's secret was rotated. data: webhook_id, previous_secret_expires_at.",
    ),
    subscribable(
        "webhook.deleted",
        "A webhook endpoint was deleted. data: webhook_id.",
    ),
    subscribable(
        "webhook.disabled",
        "A webhook endpoint was disabled after failing for 3 days. data: webhook_id, url, reason, failing_since.",
    ),
    WebhookType {
        name: "statement.stored",
        description: "The LRS stored a statement (one delivery per statement; a voiding statement too). \
            Opt-in: name it in event_types. Statements of one xAPI registration arrive in log order. \
            data: statement_id, registration (or null), statement (as stored, attachments by sha2 only).",
        subscribable: true,
        opt_in: true,
    },
    subscribable(
        "lrs_credential.created",
        "An LRS credential was created in this environment. data: credential_id, label, scopes, hint.",
    ),
    subscribable(
        "lrs_credential.revoked",
        "An LRS credential of this environment was revoked. data: credential_id.",
    ),
    WebhookType {
        name: "webhook.ping",
        description: "Sent to one endpoint by POST /api/v1/webhooks/{id}/test. data: webhook_id, ping_id.",
        subscribable: false,
        opt_in: false,
    },
];

/// Looks a public type up.
pub fn webhook_type(name: &str) -> Option<&'static WebhookType> {
    WEBHOOK_TYPES.iter().find(|t| t.name == name)
}

/// Who receives a public event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// Every enabled endpoint of the event's scope subscribed to its type.
    Subscribers,
    /// Only this endpoint of the event's scope, enabled or not.
    Endpoint(String),
}

/// A log event as receivers see it.
#[derive(Debug, Clone, PartialEq)]
pub struct PublicEvent {
    pub event_type: &'static str,
    pub data: Value,
    pub audience: Audience,
    /// Orders deliveries when it differs from the event's stream (a ping is
    /// ordered by itself, never behind the endpoint's other events).
    pub subject: Option<String>,
}

fn to_subscribers(event_type: &'static str, data: Value) -> Option<PublicEvent> {
    debug_assert!(
        webhook_type(event_type).is_some(),
        "{event_type} is not in the catalogue"
    );
    Some(PublicEvent {
        event_type,
        data,
        audience: Audience::Subscribers,
        subject: None,
    })
}

/// One course's import and course events share a subject, so that
/// `course.import_started` comes before its `course.imported`.
fn course_subject(
    event_type: &'static str,
    course_id: &impl std::fmt::Display,
    data: Value,
) -> Option<PublicEvent> {
    to_subscribers(event_type, data).map(|public| PublicEvent {
        subject: Some(format!("course:{course_id}")),
        ..public
    })
}

/// The local id of a scoped aggregate from its stream id
/// (`<type>:<workspace>:<environment>:<id>`; ids may hold colons).
fn local_id(stream_id: &str) -> &str {
    stream_id.splitn(4, ':').nth(3).unwrap_or(stream_id)
}

/// The log event types that never have a public form, whatever they hold
/// ([`public_event`] is `None` for each). They are the runtime's and the
/// LRS documents' own traffic, so most of the log: the webhook outbox does
/// not even open a transaction for a batch made only of them.
pub const NEVER_PUBLIC: &[&str] = &[
    "WorkspaceCreated",
    "WorkspaceRenamed",
    "ActivityDelivered",
    "RuntimeValueSet",
    "RuntimeBatchCommitted",
    "RuntimeBatchRefused",
    "TimeOnTaskMeasured",
    "NavigationRequested",
    "SequencingStarted",
    "SequencingDecided",
    "LearnerGlobalsWritten",
    "DocumentWritten",
    "DocumentDeleted",
    "LaunchTokenIssued",
    "LaunchTokenRevoked",
    "ForwardingConfigured",
    "ForwardingRemoved",
];

/// The public form of a log event of stream `stream_id`, or `None` for
/// events receivers never see.
pub fn public_event(event: &Event, stream_id: &str) -> Option<PublicEvent> {
    match event {
        Event::Workspace(event) => match event {
            WorkspaceEvent::WorkspaceCreated { .. } | WorkspaceEvent::WorkspaceRenamed { .. } => {
                None
            }
            WorkspaceEvent::ApiKeyCreated {
                key_id,
                environment,
                label,
                hint,
                ..
            } => to_subscribers(
                "api_key.created",
                json!({"key_id": key_id, "label": label, "hint": hint, "environment": environment}),
            ),
            WorkspaceEvent::ApiKeyRevoked {
                key_id,
                environment,
                ..
            } => to_subscribers(
                "api_key.revoked",
                json!({"key_id": key_id, "environment": environment}),
            ),
        },
        Event::Import(event) => match event {
            ImportEvent::CourseImportStarted {
                import_id,
                course_id,
                title,
                source,
                ..
            } => course_subject(
                "course.import_started",
                course_id,
                json!({"import_id": import_id, "course_id": course_id, "title": title, "source": source}),
            ),
            ImportEvent::CourseImportFailed {
                import_id,
                course_id,
                code,
                message,
                ..
            } => course_subject(
                "course.import_failed",
                course_id,
                json!({"import_id": import_id, "course_id": course_id, "code": code, "message": message}),
            ),
        },
        Event::Course(event) => match event {
            CourseEvent::CourseImported {
                import_id,
                course_id,
                version,
                title,
                standard,
                authoring_tool,
                warnings,
                ..
            } => course_subject(
                "course.imported",
                course_id,
                json!({
                    "import_id": import_id,
                    "course_id": course_id,
                    "version": version,
                    "title": title,
                    "standard": standard,
                    "authoring_tool": authoring_tool,
                    "warnings": warnings,
                }),
            ),
            CourseEvent::CourseVersionPublished {
                course_id, version, ..
            } => course_subject(
                "course.version_published",
                course_id,
                json!({"course_id": course_id, "version": version}),
            ),
            CourseEvent::CourseUpdated {
                course_id,
                title,
                tags,
                ..
            } => course_subject(
                "course.updated",
                course_id,
                json!({"course_id": course_id, "title": title, "tags": tags}),
            ),
            CourseEvent::CourseDeleted { course_id, .. } => {
                course_subject("course.deleted", course_id, json!({"course_id": course_id}))
            }
        },
        Event::Registration(event) => match event.as_ref() {
            RegistrationEvent::RegistrationCreated {
                registration_id,
                course_id,
                course_version,
                learner,
                tags,
                ..
            } => to_subscribers(
                "registration.created",
                json!({
                    "registration_id": registration_id,
                    "course_id": course_id,
                    "course_version": course_version,
                    "learner": learner,
                    "tags": tags,
                }),
            ),
            RegistrationEvent::SessionStarted {
                session_id,
                attempt,
                resumed,
                ..
            } => to_subscribers(
                "registration.launched",
                json!({
                    "registration_id": local_id(stream_id),
                    "session_id": session_id,
                    "attempt": attempt,
                    "resumed": resumed,
                }),
            ),
            RegistrationEvent::RegistrationReset {
                registration_id,
                attempt,
                ..
            } => to_subscribers(
                "registration.reset",
                json!({"registration_id": registration_id, "attempt": attempt}),
            ),
            RegistrationEvent::RegistrationDeleted {
                registration_id, ..
            } => to_subscribers(
                "registration.deleted",
                json!({"registration_id": registration_id}),
            ),
            RegistrationEvent::RegistrationProgressChanged {
                attempt,
                progress,
                previous,
                ..
            } => to_subscribers(
                "registration.progress_changed",
                json!({
                    "registration_id": local_id(stream_id),
                    "attempt": attempt,
                    "progress": progress,
                    "previous": previous,
                }),
            ),
            RegistrationEvent::RegistrationCompleted {
                attempt, progress, ..
            } => to_subscribers(
                "registration.completed",
                json!({"registration_id": local_id(stream_id), "attempt": attempt, "progress": progress}),
            ),
            RegistrationEvent::RegistrationPassed {
                attempt, progress, ..
            } => to_subscribers(
                "registration.passed",
                json!({"registration_id": local_id(stream_id), "attempt": attempt, "progress": progress}),
            ),
            RegistrationEvent::RegistrationFailed {
                attempt, progress, ..
            } => to_subscribers(
                "registration.failed",
                json!({"registration_id": local_id(stream_id), "attempt": attempt, "progress": progress}),
            ),
            // The runtime's own traffic: receivers hear of its effect on
            // the course's progress, above.
            RegistrationEvent::ActivityDelivered { .. }
            | RegistrationEvent::RuntimeValueSet { .. }
            | RegistrationEvent::RuntimeBatchCommitted { .. }
            | RegistrationEvent::RuntimeBatchRefused { .. }
            | RegistrationEvent::TimeOnTaskMeasured { .. }
            | RegistrationEvent::NavigationRequested { .. }
            | RegistrationEvent::SequencingStarted { .. }
            | RegistrationEvent::SequencingDecided { .. }
            | RegistrationEvent::LearnerGlobalsWritten { .. } => None,
        },
        Event::Webhook(event) => match event {
            WebhookEvent::WebhookCreated {
                webhook_id,
                url,
                event_types,
                description,
                enabled,
                ..
            } => to_subscribers(
                "webhook.created",
                settings(webhook_id, url, event_types, description, *enabled),
            ),
            WebhookEvent::WebhookUpdated {
                webhook_id,
                url,
                event_types,
                description,
                enabled,
                ..
            } => to_subscribers(
                "webhook.updated",
                settings(webhook_id, url, event_types, description, *enabled),
            ),
            WebhookEvent::WebhookSecretRotated {
                webhook_id,
                previous_secret_expires_at,
                ..
            } => to_subscribers(
                "webhook.secret_rotated",
                json!({"webhook_id": webhook_id, "previous_secret_expires_at": timestamp(previous_secret_expires_at)}),
            ),
            WebhookEvent::WebhookDeleted { webhook_id, .. } => {
                to_subscribers("webhook.deleted", json!({"webhook_id": webhook_id}))
            }
            WebhookEvent::WebhookEndpointDisabled {
                webhook_id,
                reason,
                failing_since,
                ..
            } => to_subscribers(
                "webhook.disabled",
                json!({"webhook_id": webhook_id, "reason": reason, "failing_since": timestamp(failing_since)}),
            ),
            WebhookEvent::WebhookPingRequested {
                webhook_id,
                ping_id,
                ..
            } => Some(PublicEvent {
                event_type: "webhook.ping",
                data: json!({"webhook_id": webhook_id, "ping_id": ping_id}),
                audience: Audience::Endpoint(webhook_id.clone()),
                subject: Some(format!("ping:{ping_id}")),
            }),
            // Requests to the delivery machinery itself.
            WebhookEvent::WebhookRedeliveryRequested { .. }
            | WebhookEvent::WebhookReplayRequested { .. } => None,
        },
        // Delivery attempts are never delivered: that would never end.
        Event::WebhookDelivery(DeliveryEvent::WebhookDeliveryAttempted { .. }) => None,
        Event::LrsStatement(StatementEvent::StatementStored { statement, .. }) => {
            // One delivery per statement: the outbox queues one delivery
            // per log event, and each statement is an event of its own.
            let registration = statement
                .pointer("/context/registration")
                .and_then(Value::as_str);
            to_subscribers(
                "statement.stored",
                json!({
                    "statement_id": statement.get("id"),
                    "registration": registration,
                    "statement": statement,
                }),
            )
            .map(|public| PublicEvent {
                subject: registration.map(|r| format!("xapi_registration:{r}")),
                ..public
            })
        }
        Event::LrsCredential(event) => match event {
            LrsCredentialEvent::LrsCredentialCreated {
                credential_id,
                label,
                scopes,
                hint,
                ..
            } => to_subscribers(
                "lrs_credential.created",
                json!({"credential_id": credential_id, "label": label, "scopes": scopes, "hint": hint}),
            ),
            LrsCredentialEvent::LrsCredentialRevoked { credential_id, .. } => to_subscribers(
                "lrs_credential.revoked",
                json!({"credential_id": credential_id}),
            ),
        },
        // Documents are the content's own runtime traffic (State is
        // written on every bookmark); launch tokens are issued on every
        // launch and hold secrets' hashes; forwarding holds the external
        // LRS's authorization.
        Event::LrsDocument(
            DocumentEvent::DocumentWritten { .. } | DocumentEvent::DocumentDeleted { .. },
        ) => None,
        Event::LrsLaunchToken(
            LaunchTokenEvent::LaunchTokenIssued { .. }
            | LaunchTokenEvent::LaunchTokenRevoked { .. },
        ) => None,
        Event::LrsForwarding(
            ForwardingEvent::ForwardingConfigured { .. }
            | ForwardingEvent::ForwardingRemoved { .. },
        ) => None,
    }
}

fn settings(
    webhook_id: &str,
    url: &str,
    event_types: &[String],
    description: &Option<String>,
    enabled: bool,
) -> Value {
    json!({
        "webhook_id": webhook_id,
        "url": url,
        "event_types": shown_types(event_types),
        "description": description,
        "enabled": enabled,
    })
}

/// An endpoint's filter as the API shows it: `["*"]` for every type.
pub fn shown_types(event_types: &[String]) -> Vec<String> {
    if event_types.is_empty() {
        vec![super::ALL_TYPES.to_owned()]
    } else {
        event_types.to_vec()
    }
}

/// Whether an endpoint whose filter is `event_types` (empty: every
/// non-opt-in type) receives `event_type` when sent to subscribers.
pub fn subscribed(event_types: &[String], event_type: &str) -> bool {
    if event_types.is_empty() {
        webhook_type(event_type).is_some_and(|t| t.subscribable && !t.opt_in)
    } else {
        event_types.iter().any(|t| t == event_type)
    }
}

/// Timestamps in payloads: RFC 3339, UTC, milliseconds.
pub fn timestamp(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The JSON body of a delivery, fields in this order.
#[derive(Debug, Serialize)]
pub struct Payload<'a> {
    /// Stable per (log event, endpoint): de-duplicate by it.
    pub id: &'a str,
    #[serde(rename = "type")]
    pub event_type: &'a str,
    pub api_version: &'a str,
    /// When the event entered the log.
    pub created_at: String,
    pub workspace_id: WorkspaceId,
    /// `live`, `test`, or null for workspace-wide events.
    pub environment: Option<Environment>,
    pub data: &'a Value,
}

impl Payload<'_> {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a payload always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::CATALOGUE;
    use expect_test::expect;
    use uuid::Uuid;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[test]
    fn names_are_unique_and_shaped_like_noun_dot_verb() {
        let mut names: Vec<_> = WEBHOOK_TYPES.iter().map(|t| t.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
        for name in names {
            let (noun, verb) = name.split_once('.').expect(name);
            let snake =
                |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
            assert!(snake(noun) && snake(verb), "{name}");
        }
    }

    /// One sample of every domain event type: each maps to a catalogue
    /// type, or to nothing on purpose.
    #[test]
    fn every_domain_event_maps_to_the_catalogue_or_nothing() {
        let ws = WorkspaceId::from_uuid(Uuid::from_u128(1));
        let samples: Vec<(Event, Option<&str>)> = vec![
            (
                Event::Workspace(WorkspaceEvent::WorkspaceCreated {
                    workspace_id: ws,
                    name: "n".into(),
                    at: at(),
                }),
                None,
            ),
            (
                Event::Workspace(WorkspaceEvent::WorkspaceRenamed {
                    name: "n".into(),
                    at: at(),
                }),
                None,
            ),
            (
                Event::Workspace(WorkspaceEvent::ApiKeyCreated {
                    key_id: "k".into(),
                    environment: Environment::Live,
                    label: None,
                    hint: "h".into(),
                    hash: "secret hash".into(),
                    at: at(),
                }),
                Some("api_key.created"),
            ),
            (
                Event::Workspace(WorkspaceEvent::ApiKeyRevoked {
                    key_id: "k".into(),
                    environment: Environment::Live,
                    at: at(),
                }),
                Some("api_key.revoked"),
            ),
            (
                Event::Webhook(WebhookEvent::WebhookCreated {
                    webhook_id: "w".into(),
                    url: "https://x".into(),
                    event_types: vec![],
                    description: None,
                    enabled: true,
                    secret: "whsec_never_shown".into(),
                    at: at(),
                }),
                Some("webhook.created"),
            ),
            (
                Event::Webhook(WebhookEvent::WebhookUpdated {
                    webhook_id: "w".into(),
                    url: "https://x".into(),
                    event_types: vec![],
                    description: None,
                    enabled: true,
                    at: at(),
                }),
                Some("webhook.updated"),
            ),
            (
                Event::Webhook(WebhookEvent::WebhookSecretRotated {
                    webhook_id: "w".into(),
                    secret: "whsec_never_shown".into(),
                    previous_secret_expires_at: at(),
                    at: at(),
                }),
                Some("webhook.secret_rotated"),
            ),
            (
                Event::Webhook(WebhookEvent::WebhookDeleted {
                    webhook_id: "w".into(),
                    at: at(),
                }),
                Some("webhook.deleted"),
            ),
            (
                Event::Webhook(WebhookEvent::WebhookPingRequested {
                    webhook_id: "w".into(),
                    ping_id: "p".into(),
                    at: at(),
                }),
                Some("webhook.ping"),
            ),
            (
                Event::Webhook(WebhookEvent::WebhookRedeliveryRequested {
                    webhook_id: "w".into(),
                    delivery_id: "d".into(),
                    at: at(),
                }),
                None,
            ),
            (
                Event::Webhook(WebhookEvent::WebhookReplayRequested {
                    webhook_id: "w".into(),
                    replay_id: "r".into(),
                    from: at(),
                    to: at(),
                    events: vec![],
                    at: at(),
                }),
                None,
            ),
            (
                Event::Webhook(WebhookEvent::WebhookEndpointDisabled {
                    webhook_id: "w".into(),
                    reason: "r".into(),
                    failing_since: at(),
                    at: at(),
                }),
                Some("webhook.disabled"),
            ),
            (
                Event::WebhookDelivery(DeliveryEvent::WebhookDeliveryAttempted {
                    delivery_id: "d".into(),
                    webhook_id: "w".into(),
                    attempt: 1,
                    request_id: "r".into(),
                    status: None,
                    latency_ms: 0,
                    error: None,
                    outcome: crate::webhook::delivery::Outcome::Succeeded,
                    next_attempt_at: None,
                    attempted_at: at(),
                }),
                None,
            ),
        ];
        let course = || crate::course::CourseId::parse("c1").unwrap();
        let passed = || crate::registration::Progress {
            completion: "completed".into(),
            success: "passed".into(),
            score_scaled: Some(0.87),
            score_raw: Some(87.0),
            score_min: None,
            score_max: None,
        };
        let more: Vec<(Event, Option<&str>)> = vec![
            (
                Event::Import(ImportEvent::CourseImportStarted {
                    import_id: "i".into(),
                    course_id: course(),
                    title: None,
                    source: crate::course::ImportSource::Upload { file_name: None },
                    at: at(),
                }),
                Some("course.import_started"),
            ),
            (
                Event::Import(ImportEvent::CourseImportFailed {
                    import_id: "i".into(),
                    course_id: course(),
                    code: "not_a_zip".into(),
                    message: "m".into(),
                    findings: vec![],
                    at: at(),
                }),
                Some("course.import_failed"),
            ),
            (
                Event::Course(CourseEvent::CourseVersionPublished {
                    course_id: course(),
                    version: 1,
                    at: at(),
                }),
                Some("course.version_published"),
            ),
            (
                Event::Course(CourseEvent::CourseUpdated {
                    course_id: course(),
                    title: "t".into(),
                    tags: vec![],
                    at: at(),
                }),
                Some("course.updated"),
            ),
            (
                Event::Course(CourseEvent::CourseDeleted {
                    course_id: course(),
                    at: at(),
                }),
                Some("course.deleted"),
            ),
            (
                Event::Registration(Box::new(RegistrationEvent::RegistrationCreated {
                    registration_id: "r:1".into(),
                    course_id: course(),
                    course_version: 1,
                    activities: vec![],
                    learner: crate::registration::Learner {
                        id: "l".into(),
                        first_name: None,
                        last_name: None,
                        email: None,
                    },
                    tags: vec![],
                    at: at(),
                })),
                Some("registration.created"),
            ),
            (
                Event::Registration(Box::new(RegistrationEvent::RegistrationDeleted {
                    registration_id: "r:1".into(),
                    at: at(),
                })),
                Some("registration.deleted"),
            ),
            (
                Event::Registration(Box::new(RegistrationEvent::RegistrationReset {
                    registration_id: "r:1".into(),
                    attempt: 2,
                    at: at(),
                })),
                Some("registration.reset"),
            ),
            (
                Event::Registration(Box::new(RegistrationEvent::SessionStarted {
                    session_id: "s".into(),
                    attempt: 1,
                    resumed: false,
                    supersedes: None,
                    user_agent: None,
                    ip: None,
                    at: at(),
                })),
                Some("registration.launched"),
            ),
            (
                Event::Registration(Box::new(RegistrationEvent::RuntimeValueSet {
                    session_id: "s".into(),
                    activity_id: "a".into(),
                    seq: 1,
                    element: "cmi.core.lesson_location".into(),
                    value: "p1".into(),
                    client_at: None,
                    at: at(),
                })),
                None,
            ),
            (
                Event::Registration(Box::new(RegistrationEvent::RuntimeBatchRefused {
                    session_id: "s".into(),
                    batch: 1,
                    code: "c".into(),
                    at: at(),
                })),
                None,
            ),
            (
                Event::Registration(Box::new(RegistrationEvent::TimeOnTaskMeasured {
                    session_id: "s".into(),
                    activity_id: None,
                    seconds: 1,
                    at: at(),
                })),
                None,
            ),
            (
                Event::Registration(Box::new(RegistrationEvent::NavigationRequested {
                    session_id: "s".into(),
                    request: "continue".into(),
                    target: None,
                    delivered: None,
                    exception: None,
                    ended: false,
                    at: at(),
                })),
                None,
            ),
            (
                Event::Registration(Box::new(RegistrationEvent::RegistrationProgressChanged {
                    attempt: 1,
                    progress: passed(),
                    previous: Default::default(),
                    at: at(),
                })),
                Some("registration.progress_changed"),
            ),
            (
                Event::Registration(Box::new(RegistrationEvent::RegistrationCompleted {
                    attempt: 1,
                    progress: passed(),
                    at: at(),
                })),
                Some("registration.completed"),
            ),
            (
                Event::Registration(Box::new(RegistrationEvent::RegistrationPassed {
                    attempt: 1,
                    progress: passed(),
                    at: at(),
                })),
                Some("registration.passed"),
            ),
            (
                Event::Registration(Box::new(RegistrationEvent::RegistrationFailed {
                    attempt: 1,
                    progress: passed(),
                    at: at(),
                })),
                Some("registration.failed"),
            ),
            (
                Event::Registration(Box::new(RegistrationEvent::LearnerGlobalsWritten {
                    learner_id: "l".into(),
                    globals: Default::default(),
                    at: at(),
                })),
                None,
            ),
        ];
        let lrs: Vec<(Event, Option<&str>)> = vec![
            (
                Event::LrsStatement(StatementEvent::StatementStored {
                    statement: json!({
                        "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee",
                        "actor": {"mbox": "mailto:a@example.com"},
                        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
                        "object": {"id": "http://example.com/course"},
                        "context": {"registration": "ec531277-b57b-4c15-8d91-d292c5b2b8f7"},
                    }),
                    attachments: vec![],
                }),
                Some("statement.stored"),
            ),
            (
                Event::LrsDocument(DocumentEvent::DocumentWritten {
                    key: crate::lrs::document::DocumentKey {
                        resource: crate::lrs::document::Resource::State,
                        activity_id: Some("http://example.com/course".into()),
                        agent: Some(json!({"mbox": "mailto:a@example.com"})),
                        registration: None,
                        document_id: "bookmark".into(),
                    },
                    content_type: "text/plain".into(),
                    content: crate::lrs::document::DocumentContent::Utf8 { text: "p1".into() },
                    etag: "\"e\"".into(),
                    at: at(),
                }),
                None,
            ),
            (
                Event::LrsDocument(DocumentEvent::DocumentDeleted { at: at() }),
                None,
            ),
            (
                Event::LrsCredential(LrsCredentialEvent::LrsCredentialCreated {
                    credential_id: "c".into(),
                    label: None,
                    scopes: vec!["all".into()],
                    hint: "h".into(),
                    secret_hash: "secret hash".into(),
                    at: at(),
                }),
                Some("lrs_credential.created"),
            ),
            (
                Event::LrsCredential(LrsCredentialEvent::LrsCredentialRevoked {
                    credential_id: "c".into(),
                    at: at(),
                }),
                Some("lrs_credential.revoked"),
            ),
            (
                Event::LrsLaunchToken(LaunchTokenEvent::LaunchTokenIssued {
                    token_id: "t".into(),
                    secret_hash: "secret hash".into(),
                    actor: json!({"mbox": "mailto:a@example.com"}),
                    registration: Uuid::from_u128(7),
                    activity_id: "http://example.com/course".into(),
                    expires_at: at(),
                    at: at(),
                }),
                None,
            ),
            (
                Event::LrsLaunchToken(LaunchTokenEvent::LaunchTokenRevoked { at: at() }),
                None,
            ),
            (
                Event::LrsForwarding(ForwardingEvent::ForwardingConfigured {
                    endpoint: "https://lrs.example.com/xapi".into(),
                    authorization: Some("Basic whsec_never_shown".into()),
                    xapi_version: "1.0.3".into(),
                    at: at(),
                }),
                None,
            ),
            (
                Event::LrsForwarding(ForwardingEvent::ForwardingRemoved { at: at() }),
                None,
            ),
        ];
        let samples: Vec<(Event, Option<&str>)> =
            samples.into_iter().chain(more).chain(lrs).collect();
        // Events too large to build here; their arms are checked by the
        // compiler (no wildcard) and the import and runtime tests.
        let unsampled = [
            "CourseImported",
            "ActivityDelivered",
            "RuntimeBatchCommitted",
            "SequencingStarted",
            "SequencingDecided",
        ];
        let mut sampled: Vec<&str> = samples
            .iter()
            .map(|(e, _)| e.event_type())
            .chain(unsampled)
            .collect();
        sampled.sort_unstable();
        let mut all: Vec<&str> = CATALOGUE.iter().map(|k| k.event_type).collect();
        all.sort_unstable();
        assert_eq!(sampled, all, "add a sample of each new domain event here");
        for never in NEVER_PUBLIC {
            let kind = crate::events::kind_of(never).expect(never);
            assert!(
                !kind.aggregate.starts_with("webhook"),
                "the outbox applies every webhook event: {never}"
            );
        }
        for (event, expected) in samples {
            if NEVER_PUBLIC.contains(&event.event_type()) {
                assert_eq!(
                    expected,
                    None,
                    "{} is listed in NEVER_PUBLIC",
                    event.event_type()
                );
            }
            let public = public_event(&event, "sample:w:live:r:1");
            assert_eq!(public.as_ref().map(|p| p.event_type), expected, "{event:?}");
            if let Some(public) = public {
                assert!(webhook_type(public.event_type).is_some());
                if public.event_type.starts_with("registration.") {
                    assert_eq!(public.data["registration_id"], "r:1", "ids may hold colons");
                }
                if public.event_type == "statement.stored" {
                    assert_eq!(
                        public.subject.as_deref(),
                        Some("xapi_registration:ec531277-b57b-4c15-8d91-d292c5b2b8f7"),
                        "one registration's statements arrive in order"
                    );
                    assert_eq!(
                        public.data["statement"]["verb"]["id"],
                        "http://adlnet.gov/expapi/verbs/completed"
                    );
                    assert!(webhook_type("statement.stored").unwrap().opt_in);
                    assert!(!subscribed(&[], "statement.stored"), "opt-in: never in all");
                }
                let data = public.data.to_string();
                assert!(
                    !data.contains("whsec_never_shown") && !data.contains("secret hash"),
                    "{} shows a secret: {data}",
                    public.event_type
                );
            }
        }
    }

    #[test]
    fn filters() {
        assert!(subscribed(&[], "api_key.created"));
        assert!(
            !subscribed(&[], "webhook.ping"),
            "directed types are never broadcast"
        );
        let only = vec!["webhook.disabled".to_owned()];
        assert!(subscribed(&only, "webhook.disabled"));
        assert!(!subscribed(&only, "api_key.created"));
    }

    #[test]
    fn payload_shape_is_stable() {
        let data = json!({"key_id": "k"});
        let payload = Payload {
            id: "evt_1",
            event_type: "api_key.created",
            api_version: API_VERSION,
            created_at: timestamp(&at()),
            workspace_id: WorkspaceId::from_uuid(Uuid::from_u128(1)),
            environment: Some(Environment::Live),
            data: &data,
        };
        expect![[r#"{"id":"evt_1","type":"api_key.created","api_version":"2026-11-28","created_at":"2027-01-15T08:00:00.000Z","workspace_id":"00000000-0000-0000-0000-000000000001","environment":"live","data":{"key_id":"k"}}"#]]
            .assert_eq(&payload.to_json());
    }
}
