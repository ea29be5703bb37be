//! Stored statements: the `StatementStored` event and the rule for a statement id that is
//! already taken.
//!
//! Each statement is a stream of exactly one event,
//! `lrs_statement:<workspace>:<environment>:<statement id>`. The server appends a batch of
//! statements in one transaction, each with expected version 0: either all of them are new and
//! all are stored, or the log refuses the whole append and the server looks at the streams
//! that exist ([`duplicate`]) before it answers 204 (the same statement again) or 409.
//!
//! Voiding needs no event of its own: a voiding statement is stored like any other, and the
//! statement view marks its target voided (also when the target arrives later).

use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::tenancy::Scope;
use crate::xapi::compare::first_difference;

/// The aggregate-type part of a statement's stream id.
pub const STREAM_TYPE: &str = "lrs_statement";

/// The stream that holds statement `id` of `scope`.
pub fn stream_id(scope: &Scope, id: Uuid) -> String {
    scope.stream_id(STREAM_TYPE, &id.to_string())
}

/// An attachment whose content the LRS keeps (received as a multipart part).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAttachment {
    /// The `sha2` of the attachment object, lowercase.
    pub sha2: String,
    /// The blob store key (SHA-256 of the bytes) under which the content is kept.
    pub blob: String,
    /// The part's content type.
    pub content_type: String,
    /// The content length in bytes.
    pub length: u64,
}

/// Events of statement streams.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StatementEvent {
    /// A statement accepted by the LRS.
    StatementStored {
        /// The statement as stored: what `format=exact` returns, with `id`, `stored`,
        /// `authority`, `version` and `timestamp` set by the LRS.
        statement: Value,
        /// The attachment contents received with it, by `sha2`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<StoredAttachment>,
    },
}

impl StatementEvent {
    /// The catalogue name of this event.
    pub fn kind(&self) -> &'static str {
        match self {
            StatementEvent::StatementStored { .. } => "StatementStored",
        }
    }

    /// The stored statement.
    pub fn statement(&self) -> &Value {
        match self {
            StatementEvent::StatementStored { statement, .. } => statement,
        }
    }
}

/// [`StatementEvent::StatementStored`] by reference: serializes exactly as the owned event
/// does, so a write need not copy each statement to append it.
#[derive(Debug, Serialize)]
pub enum StatementEventRef<'a> {
    StatementStored {
        statement: &'a Value,
        #[serde(skip_serializing_if = "<[_]>::is_empty")]
        attachments: &'a [StoredAttachment],
    },
}

impl StatementEventRef<'_> {
    /// The catalogue name of this event.
    pub fn kind(&self) -> &'static str {
        match self {
            StatementEventRef::StatementStored { .. } => "StatementStored",
        }
    }
}

impl DomainEvent for StatementEvent {
    fn event_type(&self) -> String {
        self.kind().to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// What an incoming statement whose id is already stored amounts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Duplicate {
    /// The same statement again: nothing to store, and not an error (204 on `PUT`, its id
    /// in the answer of `POST`).
    Same,
    /// A different statement with the same id: 409, with the JSON path of the first
    /// difference.
    Conflict(String),
}

/// Judges `received` (as sent by the client) against the `stored` statement with its id
/// (Data §2.3.1 and Communication §2.1.1: statements are immutable).
pub fn duplicate(stored: &Value, received: &Value) -> Duplicate {
    match first_difference(stored, received) {
        None => Duplicate::Same,
        Some(path) => Duplicate::Conflict(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenancy::{Environment, WorkspaceId};
    use expect_test::expect;
    use serde_json::json;

    #[test]
    fn stream_ids_carry_the_scope() {
        let scope = Scope::new(
            WorkspaceId::from_uuid(Uuid::from_u128(1)),
            Environment::Live,
        );
        assert_eq!(
            stream_id(&scope, Uuid::from_u128(2)),
            "lrs_statement:00000000-0000-0000-0000-000000000001:live:00000000-0000-0000-0000-000000000002"
        );
    }

    #[test]
    fn duplicates() {
        let stored = json!({
            "id": "00000000-0000-0000-0000-000000000002",
            "actor": {"mbox": "mailto:a@example.com"},
            "verb": {"id": "http://example.com/v", "display": {"en-US": "v"}},
            "object": {"id": "http://example.com/o"},
            "stored": "2026-01-01T00:00:00.000Z",
            "authority": {"mbox": "mailto:lrs@example.com"},
        });
        let mut same = stored.clone();
        same.as_object_mut().unwrap().remove("stored");
        same["verb"]["display"] = json!({"fr": "v"});
        assert_eq!(duplicate(&stored, &same), Duplicate::Same);
        let mut other = same.clone();
        other["verb"]["id"] = json!("http://example.com/w");
        assert_eq!(
            duplicate(&stored, &other),
            Duplicate::Conflict("$.verb.id".into())
        );
    }

    #[test]
    fn wire_format_is_stable() {
        let event = StatementEvent::StatementStored {
            statement: json!({"id": "00000000-0000-0000-0000-000000000002"}),
            attachments: vec![StoredAttachment {
                sha2: "ab".into(),
                blob: "cd".into(),
                content_type: "text/plain".into(),
                length: 2,
            }],
        };
        let bare = StatementEvent::StatementStored {
            statement: json!({}),
            attachments: vec![],
        };
        let json: Vec<String> = [&event, &bare]
            .iter()
            .map(|e| serde_json::to_string(e).unwrap())
            .collect();
        expect![[r#"
            [
                "{\"StatementStored\":{\"statement\":{\"id\":\"00000000-0000-0000-0000-000000000002\"},\"attachments\":[{\"sha2\":\"ab\",\"blob\":\"cd\",\"content_type\":\"text/plain\",\"length\":2}]}}",
                "{\"StatementStored\":{\"statement\":{}}}",
            ]
        "#]]
        .assert_debug_eq(&json);
        for event in [event, bare] {
            let decoded = crate::events::Event::decode(
                event.kind(),
                1,
                &serde_json::to_string(&event).unwrap(),
            )
            .unwrap();
            assert_eq!(decoded, crate::events::Event::LrsStatement(event));
        }
    }

    #[test]
    fn the_borrowed_event_serializes_as_the_owned_one() {
        let attachment = StoredAttachment {
            sha2: "ab".into(),
            blob: "cd".into(),
            content_type: "text/plain".into(),
            length: 2,
        };
        let statement = json!({"id": "00000000-0000-0000-0000-000000000002", "verb": {"id": "v"}});
        for attachments in [vec![], vec![attachment]] {
            let owned = StatementEvent::StatementStored {
                statement: statement.clone(),
                attachments: attachments.clone(),
            };
            let borrowed = StatementEventRef::StatementStored {
                statement: &statement,
                attachments: &attachments,
            };
            assert_eq!(borrowed.kind(), owned.kind());
            assert_eq!(
                serde_json::to_string(&borrowed).unwrap(),
                serde_json::to_string(&owned).unwrap()
            );
        }
    }
}
