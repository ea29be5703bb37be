//! Launch-scoped LRS tokens: what the player hands to launched xAPI/cmi5 content as its
//! `auth`, instead of any workspace credential.
//!
//! A token is bound to one workspace environment, one actor and one registration, and
//! expires. With it, content may write statements whose actor is that actor and whose
//! `context.registration` is that registration, read back the statements it wrote, read and
//! write that actor's State documents of that registration, read that actor's Agent Profile
//! documents, and read Activity Profiles, Activities and Agents. Nothing else.
//!
//! The `LaunchToken` aggregate is one token: `lrs_launch_token:<workspace>:<environment>:<id>`.
//!
//! The player launches a Tin Can package with the parameters of the Rustici launch
//! convention: `endpoint`, `auth` ([`NewLaunchToken::auth`]), `actor` ([`learner_actor`]),
//! `registration` ([`registration_uuid`] of the platform registration) and `activity_id`.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha1::{Digest, Sha1};
use uuid::Uuid;

use crate::tenancy::Scope;
use crate::workspace::hash_api_key;
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

/// A token before it is issued: its id, its secret (shown once, inside [`auth`]) and the
/// hash the log keeps.
///
/// [`auth`]: NewLaunchToken::auth
#[derive(Clone, PartialEq, Eq)]
pub struct NewLaunchToken {
    /// `launch_<base64url of 12 random bytes>`: the Basic user name.
    pub token_id: String,
    pub secret_hash: String,
    /// The whole `Authorization` header value: `Basic base64(token_id:secret)`.
    pub auth: String,
}

impl std::fmt::Debug for NewLaunchToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewLaunchToken")
            .field("token_id", &self.token_id)
            .finish_non_exhaustive()
    }
}

impl NewLaunchToken {
    /// A token from random bytes the caller drew (this crate draws none).
    pub fn from_random(id: [u8; 12], secret: [u8; 32]) -> NewLaunchToken {
        let token_id = format!("launch_{}", URL_SAFE_NO_PAD.encode(id));
        let secret = URL_SAFE_NO_PAD.encode(secret);
        NewLaunchToken {
            auth: format!("Basic {}", STANDARD.encode(format!("{token_id}:{secret}"))),
            secret_hash: hash_api_key(&secret),
            token_id,
        }
    }
}

/// The namespace of [`registration_uuid`]'s name-based UUIDs.
const REGISTRATION_NAMESPACE: Uuid = Uuid::from_u128(0x6b1c_2f0e_9d4a_4e57_8a43_6c1f_0e2b_7d95);

/// The xAPI `registration` (a UUID) of a platform registration: the id itself when it is a
/// UUID (the default ids are), else the name-based (version 5) UUID of the id. The player
/// launches with it, launch tokens are bound to it, and the registrations view reads the
/// statements that carry it as that registration's progress.
pub fn registration_uuid(registration_id: &str) -> Uuid {
    if let Some(uuid) = parse_uuid(registration_id) {
        return uuid;
    }
    let mut hasher = Sha1::new();
    hasher.update(REGISTRATION_NAMESPACE.as_bytes());
    hasher.update(registration_id.as_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_sha1_bytes(bytes).into_uuid()
}

/// The xAPI actor of a learner of the platform: an Agent identified by an account on
/// `home_page` (the platform's public URL) named by the learner id, with the learner's name.
pub fn learner_actor(home_page: &str, learner_id: &str, name: Option<&str>) -> Value {
    let mut actor = serde_json::json!({
        "objectType": "Agent",
        "account": {"homePage": home_page, "name": learner_id},
    });
    if let Some(name) = name.filter(|n| !n.trim().is_empty()) {
        actor["name"] = Value::from(name);
    }
    actor
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
            DocumentResource::AgentProfile => agent == Some(&self.actor) && !write,
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
            false
        ));
        assert!(
            !restriction.allows_document(DocumentResource::AgentProfile, Some(&ann), None, true),
            "content writes State only"
        );
        assert!(!restriction.allows_document(
            DocumentResource::AgentProfile,
            Some(&bob),
            None,
            false
        ));
        assert!(restriction.allows_document(DocumentResource::ActivityProfile, None, None, false));
        assert!(!restriction.allows_document(DocumentResource::ActivityProfile, None, None, true));
    }

    #[test]
    fn registrations_are_uuids_and_learners_accounts() {
        let uuid = "0193a1f2-7c4d-7e8f-9a0b-1c2d3e4f5a6b";
        assert_eq!(registration_uuid(uuid).to_string(), uuid);
        assert_eq!(
            registration_uuid(&uuid.to_uppercase()).to_string(),
            uuid,
            "a UUID in capitals is the same registration"
        );
        let named = registration_uuid("enrolment-42");
        assert_eq!(named.get_version_num(), 5);
        assert_eq!(named, registration_uuid("enrolment-42"), "stable");
        assert_ne!(named, registration_uuid("enrolment-43"));
        // RFC 4122 version 5 (Python: uuid.uuid5(namespace, "enrolment-42")).
        expect!["c02fd73e-3515-536c-9e8b-a0c0b8a7da8f"].assert_eq(&named.to_string());

        let actor = learner_actor("https://lms.example.com", "learner-1", Some("Ann Lee"));
        assert_eq!(
            actor,
            json!({"objectType": "Agent", "name": "Ann Lee",
                "account": {"homePage": "https://lms.example.com", "name": "learner-1"}})
        );
        assert!(
            LaunchToken::default().decide(issue(actor.clone())).is_ok(),
            "a launch token can be issued for it"
        );
        assert!(
            learner_actor("https://lms.example.com", "l", Some(" "))
                .get("name")
                .is_none()
        );
    }

    #[test]
    fn new_tokens_keep_only_a_hash() {
        let token = NewLaunchToken::from_random([1; 12], [2; 32]);
        assert!(token.token_id.starts_with("launch_"));
        let basic = token.auth.strip_prefix("Basic ").unwrap();
        let decoded = String::from_utf8(STANDARD.decode(basic).unwrap()).unwrap();
        let (user, secret) = decoded.split_once(':').unwrap();
        assert_eq!(user, token.token_id);
        assert_eq!(hash_api_key(secret), token.secret_hash);
        assert!(
            !format!("{token:?}").contains(secret),
            "Debug hides the secret"
        );
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
