//! Launch-scoped LRS tokens: what the player hands to launched xAPI/cmi5 content as its
//! `auth`, instead of any workspace credential.
//!
//! A token is bound to one workspace environment, one actor and one registration, and
//! expires. With it, content may write statements whose actor is that actor and whose
//! `context.registration` is that registration, read back the statements it wrote, read and
//! write that actor's State documents of that registration and its Agent Profile documents,
//! and read Activity Profiles, Activities and Agents. Nothing else.
//!
//! The `LaunchToken` aggregate is one token: `lrs_launch_token:<workspace>:<environment>:<id>`.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::tenancy::Scope;
use crate::xapi::XapiVersion;
use crate::xapi::agent::Ifi;
use crate::xapi::document::DocumentResource;
use crate::xapi::syntax::{is_iri, parse_uuid};
use crate::xapi::validate::validate_agent_parameter;

/// The aggregate-type part of a token's stream id.
pub const STREAM_TYPE: &str = "lrs_launch_token";

/// The id the cqrs-es framework knows token `token_id` of `scope` by.
pub fn aggregate_id(scope: &Scope, token_id: &str) -> String {
    format!(
        "{}:{}:{token_id}",
        scope.workspace_id(),
        scope.environment()
    )
}

#[derive(Debug, Clone, PartialEq)]
pub enum LaunchTokenCommand {
    Issue {
        token_id: String,
        /// Hash of the token's secret.
        secret_hash: String,
        /// The learner: an Agent with exactly one IFI.
        actor: Value,
        registration: Uuid,
        /// The launched activity (the course or AU).
        activity_id: String,
        expires_at: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    Revoke {
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LaunchTokenEvent {
    LaunchTokenIssued {
        token_id: String,
        secret_hash: String,
        actor: Value,
        registration: Uuid,
        activity_id: String,
        expires_at: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    LaunchTokenRevoked {
        at: DateTime<Utc>,
    },
}

impl LaunchTokenEvent {
    pub fn kind(&self) -> &'static str {
        match self {
            LaunchTokenEvent::LaunchTokenIssued { .. } => "LaunchTokenIssued",
            LaunchTokenEvent::LaunchTokenRevoked { .. } => "LaunchTokenRevoked",
        }
    }
}

impl DomainEvent for LaunchTokenEvent {
    fn event_type(&self) -> String {
        self.kind().to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LaunchTokenError {
    #[error("launch token already issued")]
    AlreadyIssued,
    #[error("no such launch token")]
    NotIssued,
    #[error("launch token already revoked")]
    AlreadyRevoked,
    #[error("the actor must be an agent with exactly one identifier: {0}")]
    InvalidActor(String),
    #[error("the activity id must be an iri")]
    InvalidActivity,
    #[error("a launch token must expire after it is issued")]
    ExpiresBeforeIssued,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchToken {
    issued: bool,
    revoked: bool,
}

impl LaunchToken {
    pub fn decide(
        &self,
        command: LaunchTokenCommand,
    ) -> Result<Vec<LaunchTokenEvent>, LaunchTokenError> {
        match command {
            LaunchTokenCommand::Issue {
                token_id,
                secret_hash,
                actor,
                registration,
                activity_id,
                expires_at,
                at,
            } => {
                if self.issued {
                    return Err(LaunchTokenError::AlreadyIssued);
                }
                validate_agent_parameter(&actor, XapiVersion::V1_0_3, "actor", false)
                    .map_err(|e| LaunchTokenError::InvalidActor(e.first().message.clone()))?;
                if actor.get("objectType").and_then(Value::as_str) == Some("Group") {
                    return Err(LaunchTokenError::InvalidActor("a group".into()));
                }
                if Ifi::of(&actor).is_none() {
                    return Err(LaunchTokenError::InvalidActor(
                        "it has no single identifier".into(),
                    ));
                }
                if !is_iri(&activity_id) {
                    return Err(LaunchTokenError::InvalidActivity);
                }
                if expires_at <= at {
                    return Err(LaunchTokenError::ExpiresBeforeIssued);
                }
                Ok(vec![LaunchTokenEvent::LaunchTokenIssued {
                    token_id,
                    secret_hash,
                    actor,
                    registration,
                    activity_id,
                    expires_at,
                    at,
                }])
            }
            LaunchTokenCommand::Revoke { at } => {
                if !self.issued {
                    return Err(LaunchTokenError::NotIssued);
                }
                if self.revoked {
                    return Err(LaunchTokenError::AlreadyRevoked);
                }
                Ok(vec![LaunchTokenEvent::LaunchTokenRevoked { at }])
            }
        }
    }
}

impl Aggregate for LaunchToken {
    const TYPE: &'static str = STREAM_TYPE;
    type Command = LaunchTokenCommand;
    type Event = LaunchTokenEvent;
    type Error = LaunchTokenError;
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
            LaunchTokenEvent::LaunchTokenIssued { .. } => self.issued = true,
            LaunchTokenEvent::LaunchTokenRevoked { .. } => self.revoked = true,
        }
    }
}

/// What a launch token confines its holder to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchRestriction {
    pub actor: Ifi,
    pub registration: Uuid,
}

impl LaunchRestriction {
    /// Whether a statement may be written with the token: its actor is the token's agent and
    /// its `context.registration` the token's registration. Returns the reason otherwise.
    pub fn check_statement(&self, statement: &Value) -> Result<(), String> {
        let actor = statement.get("actor");
        let is_group = actor
            .and_then(|a| a.get("objectType"))
            .and_then(Value::as_str)
            == Some("Group");
        if is_group || actor.and_then(Ifi::of).as_ref() != Some(&self.actor) {
            return Err(format!(
                "this launch token may only write statements whose actor is {}",
                self.actor
            ));
        }
        let registration = statement
            .pointer("/context/registration")
            .and_then(Value::as_str)
            .and_then(parse_uuid);
        if registration != Some(self.registration) {
            return Err(format!(
                "this launch token may only write statements with context.registration {}",
                self.registration
            ));
        }
        Ok(())
    }

    /// Whether a document request (read or write as `write` says) is inside the token.
    pub fn allows_document(
        &self,
        resource: DocumentResource,
        agent: Option<&Ifi>,
        registration: Option<Uuid>,
        write: bool,
    ) -> bool {
        match resource {
            DocumentResource::State => {
                agent == Some(&self.actor) && registration == Some(self.registration)
            }
            DocumentResource::AgentProfile => agent == Some(&self.actor),
            DocumentResource::ActivityProfile => !write,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;
    use expect_test::expect;
    use serde_json::json;

    type TokenTest = TestFramework<LaunchToken>;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn issue(actor: Value) -> LaunchTokenCommand {
        LaunchTokenCommand::Issue {
            token_id: "t1".into(),
            secret_hash: "00".into(),
            actor,
            registration: Uuid::from_u128(9),
            activity_id: "http://example.com/course".into(),
            expires_at: at() + chrono::Duration::hours(8),
            at: at(),
        }
    }

    fn issued() -> LaunchTokenEvent {
        LaunchTokenEvent::LaunchTokenIssued {
            token_id: "t1".into(),
            secret_hash: "00".into(),
            actor: json!({"mbox": "mailto:ann@example.com"}),
            registration: Uuid::from_u128(9),
            activity_id: "http://example.com/course".into(),
            expires_at: at() + chrono::Duration::hours(8),
            at: at(),
        }
    }

    #[test]
    fn issue_and_revoke() {
        TokenTest::with(())
            .given_no_previous_events()
            .when(issue(json!({"mbox": "mailto:ann@example.com"})))
            .then_expect_events(vec![issued()]);
        TokenTest::with(())
            .given(vec![issued()])
            .when(LaunchTokenCommand::Revoke { at: at() })
            .then_expect_events(vec![LaunchTokenEvent::LaunchTokenRevoked { at: at() }]);
    }

    #[test]
    fn refusals() {
        let group = json!({"objectType": "Group", "mbox": "mailto:g@example.com"});
        let two_ifis = json!({"mbox": "mailto:a@example.com", "openid": "http://a.example.com/"});
        for actor in [group, two_ifis, json!({"name": "no ifi"})] {
            let refused = LaunchToken::default().decide(issue(actor.clone()));
            assert!(
                matches!(refused, Err(LaunchTokenError::InvalidActor(_))),
                "{actor}: {refused:?}"
            );
        }
        TokenTest::with(())
            .given(vec![issued()])
            .when(issue(json!({"mbox": "mailto:ann@example.com"})))
            .then_expect_error(LaunchTokenError::AlreadyIssued);
        TokenTest::with(())
            .given_no_previous_events()
            .when(LaunchTokenCommand::Revoke { at: at() })
            .then_expect_error(LaunchTokenError::NotIssued);
        let mut expired = issue(json!({"mbox": "mailto:ann@example.com"}));
        if let LaunchTokenCommand::Issue { expires_at, .. } = &mut expired {
            *expires_at = at();
        }
        TokenTest::with(())
            .given_no_previous_events()
            .when(expired)
            .then_expect_error(LaunchTokenError::ExpiresBeforeIssued);
    }

    #[test]
    fn restriction() {
        let restriction = LaunchRestriction {
            actor: Ifi::of(&json!({"mbox": "mailto:ann@example.com"})).unwrap(),
            registration: Uuid::from_u128(9),
        };
        let registration = Uuid::from_u128(9).to_string();
        let ok = json!({"actor": {"mbox": "mailto:ann@EXAMPLE.com", "name": "Ann"},
            "context": {"registration": registration}});
        assert_eq!(restriction.check_statement(&ok), Ok(()));
        let other_actor = json!({"actor": {"mbox": "mailto:bob@example.com"},
            "context": {"registration": registration}});
        assert!(restriction.check_statement(&other_actor).is_err());
        let no_registration = json!({"actor": {"mbox": "mailto:ann@example.com"}});
        assert!(restriction.check_statement(&no_registration).is_err());
        let group = json!({"actor": {"objectType": "Group", "mbox": "mailto:ann@example.com"},
            "context": {"registration": registration}});
        assert!(restriction.check_statement(&group).is_err());

        let ann = restriction.actor.clone();
        let bob = Ifi::of(&json!({"mbox": "mailto:bob@example.com"})).unwrap();
        let r = Some(Uuid::from_u128(9));
        assert!(restriction.allows_document(DocumentResource::State, Some(&ann), r, true));
        assert!(!restriction.allows_document(DocumentResource::State, Some(&bob), r, false));
        assert!(!restriction.allows_document(DocumentResource::State, Some(&ann), None, true));
        assert!(restriction.allows_document(
            DocumentResource::AgentProfile,
            Some(&ann),
            None,
            true
        ));
        assert!(restriction.allows_document(DocumentResource::ActivityProfile, None, None, false));
        assert!(!restriction.allows_document(DocumentResource::ActivityProfile, None, None, true));
    }

    #[test]
    fn wire_format_is_stable() {
        let events = [issued(), LaunchTokenEvent::LaunchTokenRevoked { at: at() }];
        let json: Vec<String> = events
            .iter()
            .map(|e| serde_json::to_string(e).unwrap())
            .collect();
        expect![[r#"
            [
                "{\"LaunchTokenIssued\":{\"token_id\":\"t1\",\"secret_hash\":\"00\",\"actor\":{\"mbox\":\"mailto:ann@example.com\"},\"registration\":\"00000000-0000-0000-0000-000000000009\",\"activity_id\":\"http://example.com/course\",\"expires_at\":\"2027-01-15T16:00:00Z\",\"at\":\"2027-01-15T08:00:00Z\"}}",
                "{\"LaunchTokenRevoked\":{\"at\":\"2027-01-15T08:00:00Z\"}}",
            ]
        "#]].assert_debug_eq(&json);
        for event in events {
            let decoded = crate::events::Event::decode(
                event.kind(),
                1,
                &serde_json::to_string(&event).unwrap(),
            )
            .unwrap();
            assert_eq!(decoded, crate::events::Event::LrsLaunchToken(event));
        }
    }
}
