//! The `LrsDocument` aggregate: one State, Activity Profile or Agent Profile document.
//!
//! Its stream is `lrs_document:<workspace>:<environment>:<key hash>`, where the key hash names
//! the resource, activity, agent, registration and document id ([`DocumentKey::local_id`]).
//! Every `DocumentWritten` event carries the whole document, so the state after an event is
//! that event alone: the server loads only a stream's last event, decides, and appends with
//! the stream's version (the cqrs-es [`Aggregate`] impl gives the same answers, and the tests
//! use it).
//!
//! The rules are those of [`crate::xapi::document`]: ETag preconditions, 409 for a `PUT` over
//! an existing profile without a precondition, and the JSON merge of `POST`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::tenancy::Scope;
use crate::xapi::XapiVersion;
use crate::xapi::agent::Ifi;
use crate::xapi::document::{
    DocumentMethod, DocumentResource, MergeError, PreconditionError, Preconditions,
    check_preconditions, etag, merge_post,
};
use crate::xapi::syntax::normalize_iri;

/// The aggregate-type part of a document's stream id.
pub const STREAM_TYPE: &str = "lrs_document";

/// The largest document the LRS keeps, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// Which document resource a document belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    /// `activities/state`.
    State,
    /// `activities/profile`.
    ActivityProfile,
    /// `agents/profile`.
    AgentProfile,
}

impl Resource {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::State => "state",
            Resource::ActivityProfile => "activity_profile",
            Resource::AgentProfile => "agent_profile",
        }
    }

    /// The resource as the xAPI rules name it.
    pub fn xapi(self) -> DocumentResource {
        match self {
            Resource::State => DocumentResource::State,
            Resource::ActivityProfile => DocumentResource::ActivityProfile,
            Resource::AgentProfile => DocumentResource::AgentProfile,
        }
    }
}

/// What names one document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentKey {
    pub resource: Resource,
    /// `activityId` (State and Activity Profile).
    pub activity_id: Option<String>,
    /// `agent` as sent (State and Agent Profile).
    pub agent: Option<Value>,
    /// `registration` (State only).
    pub registration: Option<Uuid>,
    /// `stateId` or `profileId`.
    pub document_id: String,
}

impl DocumentKey {
    /// The key of the agent (its IFI), as the document views index it.
    pub fn agent_key(&self) -> Option<String> {
        self.agent.as_ref().and_then(Ifi::of).map(|ifi| ifi.key())
    }

    /// The activity id as the document views index it.
    pub fn activity_key(&self) -> Option<String> {
        self.activity_id.as_deref().map(normalize_iri)
    }

    /// The document's id inside its scope: the SHA-256 of its identifying parts. Two
    /// requests naming the same document (the same agent written differently, the same
    /// activity IRI with another host case) get the same id.
    pub fn local_id(&self) -> String {
        let canonical = format!(
            "{}\n{}\n{}\n{}\n{}",
            self.resource.as_str(),
            self.activity_key().unwrap_or_default(),
            self.agent_key().unwrap_or_default(),
            self.registration.map(|r| r.to_string()).unwrap_or_default(),
            self.document_id
        );
        hex::encode(Sha256::digest(canonical.as_bytes()))
    }

    /// The id the cqrs-es framework knows the aggregate by (`<workspace>:<environment>:<hash>`).
    pub fn aggregate_id(&self, scope: &Scope) -> String {
        format!(
            "{}:{}:{}",
            scope.workspace_id(),
            scope.environment(),
            self.local_id()
        )
    }

    /// The document's stream.
    pub fn stream_id(&self, scope: &Scope) -> String {
        scope.stream_id(STREAM_TYPE, &self.local_id())
    }
}

/// Document bytes as an event carries them: UTF-8 text as is, anything else in base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "encoding", rename_all = "snake_case")]
pub enum DocumentContent {
    Utf8 { text: String },
    Base64 { data: String },
}

impl DocumentContent {
    pub fn from_bytes(bytes: Vec<u8>) -> DocumentContent {
        match String::from_utf8(bytes) {
            Ok(text) => DocumentContent::Utf8 { text },
            Err(err) => DocumentContent::Base64 {
                data: STANDARD.encode(err.into_bytes()),
            },
        }
    }

    /// The bytes. Base64 that does not decode (never written by this code) gives no bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            DocumentContent::Utf8 { text } => text.as_bytes().to_vec(),
            DocumentContent::Base64 { data } => STANDARD.decode(data).unwrap_or_default(),
        }
    }
}

/// `If-Match` / `If-None-Match` of a request, owned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
}

impl Conditions {
    fn headers(&self) -> Preconditions<'_> {
        Preconditions {
            if_match: self.if_match.as_deref(),
            if_none_match: self.if_none_match.as_deref(),
        }
    }
}

/// How a write treats an existing document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMethod {
    /// Replace it.
    Put,
    /// Merge into it (JSON objects), or create it.
    Post,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DocumentCommand {
    Write {
        key: DocumentKey,
        method: WriteMethod,
        content_type: String,
        content: Vec<u8>,
        conditions: Conditions,
        /// The request's version: its concurrency rules differ.
        version: XapiVersion,
        at: DateTime<Utc>,
    },
    /// Deletes the document; deleting one that does not exist changes nothing.
    Delete {
        conditions: Conditions,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DocumentEvent {
    DocumentWritten {
        #[serde(flatten)]
        key: DocumentKey,
        content_type: String,
        #[serde(flatten)]
        content: DocumentContent,
        /// The quoted ETag of the bytes.
        etag: String,
        at: DateTime<Utc>,
    },
    DocumentDeleted {
        at: DateTime<Utc>,
    },
}

impl DocumentEvent {
    pub fn kind(&self) -> &'static str {
        match self {
            DocumentEvent::DocumentWritten { .. } => "DocumentWritten",
            DocumentEvent::DocumentDeleted { .. } => "DocumentDeleted",
        }
    }
}

impl DomainEvent for DocumentEvent {
    fn event_type(&self) -> String {
        self.kind().to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// 412 or 409.
    #[error(transparent)]
    Precondition(#[from] PreconditionError),
    /// 400.
    #[error(transparent)]
    Merge(#[from] MergeError),
    /// 413.
    #[error("the document is larger than {MAX_DOCUMENT_BYTES} bytes")]
    TooLarge,
    /// 400: a 1.0.x `PUT` creating a profile document without `If-Match`/`If-None-Match`.
    #[error(
        "a PUT of an Activity or Agent Profile document needs If-Match or If-None-Match; send If-None-Match: * to create it"
    )]
    PreconditionRequired,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
struct Current {
    content_type: String,
    content: Vec<u8>,
    etag: String,
}

/// The write model of one document: what it holds now, if it exists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LrsDocument {
    current: Option<Current>,
}

impl LrsDocument {
    /// The document as its stream's last event leaves it.
    pub fn after(last: Option<&DocumentEvent>) -> LrsDocument {
        let mut document = LrsDocument::default();
        if let Some(event) = last {
            document.apply_event(event.clone());
        }
        document
    }

    /// The current ETag, if the document exists.
    pub fn etag(&self) -> Option<&str> {
        self.current.as_ref().map(|c| c.etag.as_str())
    }

    /// Returns the events `command` produces, or why it is refused.
    pub fn decide(&self, command: DocumentCommand) -> Result<Vec<DocumentEvent>, DocumentError> {
        match command {
            DocumentCommand::Write {
                key,
                method,
                content_type,
                content,
                conditions,
                version,
                at,
            } => {
                let profile = key.resource != Resource::State;
                if profile
                    && method == WriteMethod::Put
                    && self.current.is_none()
                    && conditions.if_match.is_none()
                    && conditions.if_none_match.is_none()
                    && version.requires_precondition_to_create_profile()
                {
                    return Err(DocumentError::PreconditionRequired);
                }
                let xapi_method = match method {
                    WriteMethod::Put => DocumentMethod::Put,
                    WriteMethod::Post => DocumentMethod::Post,
                };
                check_preconditions(
                    xapi_method,
                    key.resource.xapi(),
                    conditions.headers(),
                    self.etag(),
                    version.requires_precondition_for_state(),
                )?;
                let (content_type, bytes) = match (method, &self.current) {
                    (WriteMethod::Post, Some(current)) => (
                        current.content_type.clone(),
                        merge_post(
                            Some((&current.content_type, &current.content)),
                            &content_type,
                            &content,
                        )?,
                    ),
                    (WriteMethod::Post, None) => {
                        let bytes = merge_post(None, &content_type, &content)?;
                        (content_type, bytes)
                    }
                    (WriteMethod::Put, _) => (content_type, content),
                };
                if bytes.len() > MAX_DOCUMENT_BYTES {
                    return Err(DocumentError::TooLarge);
                }
                Ok(vec![DocumentEvent::DocumentWritten {
                    key,
                    content_type,
                    etag: etag(&bytes),
                    content: DocumentContent::from_bytes(bytes),
                    at,
                }])
            }
            DocumentCommand::Delete { conditions, at } => {
                // The resource only matters for the PUT-without-precondition rule.
                check_preconditions(
                    DocumentMethod::Delete,
                    DocumentResource::State,
                    conditions.headers(),
                    self.etag(),
                    false,
                )?;
                if self.current.is_none() {
                    return Ok(vec![]);
                }
                Ok(vec![DocumentEvent::DocumentDeleted { at }])
            }
        }
    }

    fn apply_event(&mut self, event: DocumentEvent) {
        match event {
            DocumentEvent::DocumentWritten {
                content_type,
                content,
                etag,
                ..
            } => {
                self.current = Some(Current {
                    content_type,
                    content: content.to_bytes(),
                    etag,
                });
            }
            DocumentEvent::DocumentDeleted { .. } => self.current = None,
        }
    }
}

impl Aggregate for LrsDocument {
    const TYPE: &'static str = STREAM_TYPE;
    type Command = DocumentCommand;
    type Event = DocumentEvent;
    type Error = DocumentError;
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
        self.apply_event(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;
    use expect_test::expect;
    use serde_json::json;

    type DocumentTest = TestFramework<LrsDocument>;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn key(resource: Resource) -> DocumentKey {
        DocumentKey {
            resource,
            activity_id: Some("http://example.com/a".into()),
            agent: Some(json!({"mbox": "mailto:a@example.com"})),
            registration: None,
            document_id: "d1".into(),
        }
    }

    fn write(
        resource: Resource,
        method: WriteMethod,
        body: &str,
        conditions: Conditions,
    ) -> DocumentCommand {
        DocumentCommand::Write {
            key: key(resource),
            method,
            content_type: "application/json".into(),
            content: body.as_bytes().to_vec(),
            conditions,
            version: XapiVersion::V2_0_0,
            at: at(),
        }
    }

    fn written(resource: Resource, body: &str) -> DocumentEvent {
        DocumentEvent::DocumentWritten {
            key: key(resource),
            content_type: "application/json".into(),
            content: DocumentContent::Utf8 { text: body.into() },
            etag: etag(body.as_bytes()),
            at: at(),
        }
    }

    #[test]
    fn keys_ignore_how_the_agent_and_activity_are_written() {
        let a = key(Resource::State);
        let mut b = a.clone();
        b.agent = Some(json!({"objectType": "Agent", "mbox": "mailto:a@EXAMPLE.com", "name": "A"}));
        b.activity_id = Some("HTTP://Example.com/a".into());
        assert_eq!(a.local_id(), b.local_id());
        let mut c = a.clone();
        c.resource = Resource::AgentProfile;
        assert_ne!(a.local_id(), c.local_id());
        let mut d = a.clone();
        d.registration = Some(Uuid::from_u128(1));
        assert_ne!(a.local_id(), d.local_id());
    }

    #[test]
    fn post_merges_into_an_existing_json_document() {
        DocumentTest::with(())
            .given(vec![written(Resource::State, r#"{"a":1,"b":2}"#)])
            .when(write(
                Resource::State,
                WriteMethod::Post,
                r#"{"b":3,"c":4}"#,
                Conditions::default(),
            ))
            .then_expect_events(vec![written(Resource::State, r#"{"a":1,"b":3,"c":4}"#)]);
    }

    #[test]
    fn preconditions() {
        let existing = written(Resource::ActivityProfile, "{}");
        let current = etag(b"{}");
        let cases: Vec<(Vec<DocumentEvent>, DocumentCommand, DocumentError)> = vec![
            (
                vec![existing.clone()],
                write(
                    Resource::ActivityProfile,
                    WriteMethod::Put,
                    "{}",
                    Conditions::default(),
                ),
                PreconditionError::MissingPrecondition.into(),
            ),
            (
                vec![existing.clone()],
                write(
                    Resource::ActivityProfile,
                    WriteMethod::Put,
                    "{}",
                    Conditions {
                        if_match: Some("\"0000\"".into()),
                        if_none_match: None,
                    },
                ),
                PreconditionError::Failed(
                    "If-Match \"0000\" does not match the current document".into(),
                )
                .into(),
            ),
            (
                vec![existing.clone()],
                write(
                    Resource::ActivityProfile,
                    WriteMethod::Put,
                    "{}",
                    Conditions {
                        if_match: None,
                        if_none_match: Some("*".into()),
                    },
                ),
                PreconditionError::Failed("If-None-Match * matches the existing document".into())
                    .into(),
            ),
            (
                vec![],
                DocumentCommand::Delete {
                    conditions: Conditions {
                        if_match: Some(current.clone()),
                        if_none_match: None,
                    },
                    at: at(),
                },
                PreconditionError::Failed(format!(
                    "If-Match {current} does not match the current document"
                ))
                .into(),
            ),
            (
                vec![DocumentEvent::DocumentWritten {
                    key: key(Resource::ActivityProfile),
                    content_type: "text/plain".into(),
                    content: DocumentContent::Utf8 {
                        text: "hello".into(),
                    },
                    etag: etag(b"hello"),
                    at: at(),
                }],
                write(
                    Resource::ActivityProfile,
                    WriteMethod::Post,
                    "{}",
                    Conditions::default(),
                ),
                MergeError::NotJson.into(),
            ),
        ];
        for (given, when, error) in cases {
            DocumentTest::with(())
                .given(given)
                .when(when)
                .then_expect_error(error);
        }
        // State documents can be replaced without a precondition in 1.0.x, not in 2.0.
        let mut replace = write(
            Resource::State,
            WriteMethod::Put,
            r#"{"x":1}"#,
            Conditions::default(),
        );
        DocumentTest::with(())
            .given(vec![written(Resource::State, "{}")])
            .when(replace.clone())
            .then_expect_error(PreconditionError::MissingPrecondition.into());
        if let DocumentCommand::Write { version, .. } = &mut replace {
            *version = XapiVersion::V1_0_3;
        }
        DocumentTest::with(())
            .given(vec![written(Resource::State, "{}")])
            .when(replace)
            .then_expect_events(vec![written(Resource::State, r#"{"x":1}"#)]);
    }

    #[test]
    fn creating_a_profile_without_a_precondition() {
        let mut command = write(
            Resource::AgentProfile,
            WriteMethod::Put,
            "{}",
            Conditions::default(),
        );
        DocumentTest::with(())
            .given_no_previous_events()
            .when(command.clone())
            .then_expect_events(vec![written(Resource::AgentProfile, "{}")]);
        if let DocumentCommand::Write { version, .. } = &mut command {
            *version = XapiVersion::V1_0_3;
        }
        DocumentTest::with(())
            .given_no_previous_events()
            .when(command)
            .then_expect_error(DocumentError::PreconditionRequired);
    }

    #[test]
    fn deleting_a_missing_document_changes_nothing() {
        DocumentTest::with(())
            .given_no_previous_events()
            .when(DocumentCommand::Delete {
                conditions: Conditions::default(),
                at: at(),
            })
            .then_expect_events(vec![]);
        DocumentTest::with(())
            .given(vec![written(Resource::State, "{}")])
            .when(DocumentCommand::Delete {
                conditions: Conditions::default(),
                at: at(),
            })
            .then_expect_events(vec![DocumentEvent::DocumentDeleted { at: at() }]);
    }

    #[test]
    fn binary_documents_round_trip() {
        let bytes = vec![0u8, 159, 146, 150];
        let content = DocumentContent::from_bytes(bytes.clone());
        assert!(matches!(content, DocumentContent::Base64 { .. }));
        assert_eq!(content.to_bytes(), bytes);
        let last = DocumentEvent::DocumentWritten {
            key: key(Resource::AgentProfile),
            content_type: "application/octet-stream".into(),
            content,
            etag: etag(&bytes),
            at: at(),
        };
        assert_eq!(
            LrsDocument::after(Some(&last)).etag(),
            Some(etag(&bytes).as_str())
        );
    }

    #[test]
    fn wire_format_is_stable() {
        let events = [
            written(Resource::State, r#"{"a":1}"#),
            DocumentEvent::DocumentDeleted { at: at() },
        ];
        let json: Vec<String> = events
            .iter()
            .map(|e| serde_json::to_string(e).unwrap())
            .collect();
        expect![[r#"
            [
                "{\"DocumentWritten\":{\"resource\":\"state\",\"activity_id\":\"http://example.com/a\",\"agent\":{\"mbox\":\"mailto:a@example.com\"},\"registration\":null,\"document_id\":\"d1\",\"content_type\":\"application/json\",\"encoding\":\"utf8\",\"text\":\"{\\\"a\\\":1}\",\"etag\":\"\\\"9f89c740ceb46d7418c924a78ac57941d5e96520\\\"\",\"at\":\"2027-01-15T08:00:00Z\"}}",
                "{\"DocumentDeleted\":{\"at\":\"2027-01-15T08:00:00Z\"}}",
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
            assert_eq!(decoded, crate::events::Event::LrsDocument(event));
        }
    }
}
