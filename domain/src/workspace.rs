//! The `Workspace` aggregate: a tenant, its name and its API keys.
//!
//! Key secrets never reach this module: the server draws a key, shows it
//! once, and hands the domain only its id, a display hint and its hash.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::tenancy::{Environment, WorkspaceId};

/// Longest workspace name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest API key label accepted, in characters.
pub const MAX_LABEL_CHARS: usize = 200;

/// The stored hash of an API key: lowercase hex SHA-256 of the whole key.
///
/// Keys carry at least 256 random bits, so a fast hash is enough: nothing
/// can be learnt by guessing.
pub fn hash_api_key(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// An API key as the domain sees it: never the secret itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewApiKey {
    pub key_id: String,
    pub environment: Environment,
    pub label: Option<String>,
    /// A recognisable, non-secret fragment such as `ac_live_Xy3k…9fQa`.
    pub hint: String,
    /// [`hash_api_key`] of the secret.
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum WorkspaceCommand {
    Create {
        workspace_id: WorkspaceId,
        name: String,
        keys: Vec<NewApiKey>,
        at: DateTime<Utc>,
    },
    Rename {
        name: String,
        at: DateTime<Utc>,
    },
    CreateApiKey {
        key: NewApiKey,
        at: DateTime<Utc>,
    },
    /// Revokes a key of `environment`; keys of the other environment are not
    /// visible to the caller and answer as unknown.
    RevokeApiKey {
        key_id: String,
        environment: Environment,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorkspaceEvent {
    WorkspaceCreated {
        workspace_id: WorkspaceId,
        name: String,
        at: DateTime<Utc>,
    },
    WorkspaceRenamed {
        name: String,
        at: DateTime<Utc>,
    },
    ApiKeyCreated {
        key_id: String,
        environment: Environment,
        label: Option<String>,
        hint: String,
        hash: String,
        at: DateTime<Utc>,
    },
    ApiKeyRevoked {
        key_id: String,
        environment: Environment,
        at: DateTime<Utc>,
    },
}

impl WorkspaceEvent {
    /// The catalogue name of this event.
    pub fn kind(&self) -> &'static str {
        match self {
            WorkspaceEvent::WorkspaceCreated { .. } => "WorkspaceCreated",
            WorkspaceEvent::WorkspaceRenamed { .. } => "WorkspaceRenamed",
            WorkspaceEvent::ApiKeyCreated { .. } => "ApiKeyCreated",
            WorkspaceEvent::ApiKeyRevoked { .. } => "ApiKeyRevoked",
        }
    }

    /// The environment an event belongs to, or `None` for workspace-wide events.
    pub fn environment(&self) -> Option<Environment> {
        match self {
            WorkspaceEvent::WorkspaceCreated { .. } | WorkspaceEvent::WorkspaceRenamed { .. } => {
                None
            }
            WorkspaceEvent::ApiKeyCreated { environment, .. }
            | WorkspaceEvent::ApiKeyRevoked { environment, .. } => Some(*environment),
        }
    }
}

impl DomainEvent for WorkspaceEvent {
    fn event_type(&self) -> String {
        self.kind().to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkspaceError {
    #[error("workspace already exists")]
    AlreadyCreated,
    #[error("workspace does not exist")]
    NotCreated,
    #[error("workspace name must not be empty")]
    EmptyName,
    #[error("workspace name is longer than {MAX_NAME_CHARS} characters")]
    NameTooLong,
    #[error("api key label is longer than {MAX_LABEL_CHARS} characters")]
    LabelTooLong,
    #[error("api key {0} already exists")]
    DuplicateKey(String),
    #[error("no api key {0} in this environment")]
    UnknownKey(String),
    #[error("api key {0} is already revoked")]
    AlreadyRevoked(String),
    #[error("api key {0} is the last active key of its environment; create another one first")]
    LastActiveKey(String),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct KeyState {
    environment: Option<Environment>,
    revoked: bool,
}

/// The write model of a workspace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workspace {
    id: Option<WorkspaceId>,
    name: String,
    keys: BTreeMap<String, KeyState>,
}

impl Workspace {
    /// Returns the events `command` produces, or why it is refused.
    pub fn decide(&self, command: WorkspaceCommand) -> Result<Vec<WorkspaceEvent>, WorkspaceError> {
        match command {
            WorkspaceCommand::Create {
                workspace_id,
                name,
                keys,
                at,
            } => {
                if self.id.is_some() {
                    return Err(WorkspaceError::AlreadyCreated);
                }
                let name = valid_name(&name)?;
                let mut events = vec![WorkspaceEvent::WorkspaceCreated {
                    workspace_id,
                    name,
                    at,
                }];
                let mut seen = BTreeMap::new();
                for key in keys {
                    if seen.insert(key.key_id.clone(), ()).is_some() {
                        return Err(WorkspaceError::DuplicateKey(key.key_id));
                    }
                    events.push(key_created(key, at)?);
                }
                Ok(events)
            }
            WorkspaceCommand::Rename { name, at } => {
                self.require_created()?;
                let name = valid_name(&name)?;
                if name == self.name {
                    return Ok(vec![]);
                }
                Ok(vec![WorkspaceEvent::WorkspaceRenamed { name, at }])
            }
            WorkspaceCommand::CreateApiKey { key, at } => {
                self.require_created()?;
                if self.keys.contains_key(&key.key_id) {
                    return Err(WorkspaceError::DuplicateKey(key.key_id));
                }
                Ok(vec![key_created(key, at)?])
            }
            WorkspaceCommand::RevokeApiKey {
                key_id,
                environment,
                at,
            } => {
                self.require_created()?;
                let key = self
                    .keys
                    .get(&key_id)
                    .filter(|key| key.environment == Some(environment))
                    .ok_or_else(|| WorkspaceError::UnknownKey(key_id.clone()))?;
                if key.revoked {
                    return Err(WorkspaceError::AlreadyRevoked(key_id));
                }
                let others_active = self.keys.iter().any(|(id, k)| {
                    *id != key_id && k.environment == Some(environment) && !k.revoked
                });
                if !others_active {
                    return Err(WorkspaceError::LastActiveKey(key_id));
                }
                Ok(vec![WorkspaceEvent::ApiKeyRevoked {
                    key_id,
                    environment,
                    at,
                }])
            }
        }
    }

    fn require_created(&self) -> Result<(), WorkspaceError> {
        match self.id {
            Some(_) => Ok(()),
            None => Err(WorkspaceError::NotCreated),
        }
    }
}

fn valid_name(name: &str) -> Result<String, WorkspaceError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(WorkspaceError::EmptyName);
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(WorkspaceError::NameTooLong);
    }
    Ok(name.to_owned())
}

fn key_created(key: NewApiKey, at: DateTime<Utc>) -> Result<WorkspaceEvent, WorkspaceError> {
    let label = key
        .label
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty());
    if label
        .as_ref()
        .is_some_and(|l| l.chars().count() > MAX_LABEL_CHARS)
    {
        return Err(WorkspaceError::LabelTooLong);
    }
    Ok(WorkspaceEvent::ApiKeyCreated {
        key_id: key.key_id,
        environment: key.environment,
        label,
        hint: key.hint,
        hash: key.hash,
        at,
    })
}

impl Aggregate for Workspace {
    const TYPE: &'static str = "workspace";
    type Command = WorkspaceCommand;
    type Event = WorkspaceEvent;
    type Error = WorkspaceError;
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
            WorkspaceEvent::WorkspaceCreated {
                workspace_id, name, ..
            } => {
                self.id = Some(workspace_id);
                self.name = name;
            }
            WorkspaceEvent::WorkspaceRenamed { name, .. } => self.name = name,
            WorkspaceEvent::ApiKeyCreated {
                key_id,
                environment,
                ..
            } => {
                self.keys.insert(
                    key_id,
                    KeyState {
                        environment: Some(environment),
                        revoked: false,
                    },
                );
            }
            WorkspaceEvent::ApiKeyRevoked { key_id, .. } => {
                if let Some(key) = self.keys.get_mut(&key_id) {
                    key.revoked = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;
    use expect_test::expect;
    use uuid::Uuid;

    type WorkspaceTest = TestFramework<Workspace>;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn id() -> WorkspaceId {
        WorkspaceId::from_uuid(Uuid::from_u128(42))
    }

    fn key(key_id: &str, environment: Environment) -> NewApiKey {
        NewApiKey {
            key_id: key_id.into(),
            environment,
            label: None,
            hint: format!("ac_{environment}_…"),
            hash: hash_api_key(key_id),
        }
    }

    fn created() -> WorkspaceEvent {
        WorkspaceEvent::WorkspaceCreated {
            workspace_id: id(),
            name: "Acme".into(),
            at: at(),
        }
    }

    fn key_created_event(key_id: &str, environment: Environment) -> WorkspaceEvent {
        key_created(key(key_id, environment), at()).unwrap()
    }

    #[test]
    fn create_emits_the_workspace_and_its_keys() {
        WorkspaceTest::with(())
            .given_no_previous_events()
            .when(WorkspaceCommand::Create {
                workspace_id: id(),
                name: "  Acme ".into(),
                keys: vec![key("k1", Environment::Live), key("k2", Environment::Test)],
                at: at(),
            })
            .then_expect_events(vec![
                created(),
                key_created_event("k1", Environment::Live),
                key_created_event("k2", Environment::Test),
            ]);
    }

    #[test]
    fn refusals() {
        let cases: Vec<(Vec<WorkspaceEvent>, WorkspaceCommand, WorkspaceError)> = vec![
            (
                vec![created()],
                WorkspaceCommand::Create {
                    workspace_id: id(),
                    name: "Again".into(),
                    keys: vec![],
                    at: at(),
                },
                WorkspaceError::AlreadyCreated,
            ),
            (
                vec![],
                WorkspaceCommand::Create {
                    workspace_id: id(),
                    name: " ".into(),
                    keys: vec![],
                    at: at(),
                },
                WorkspaceError::EmptyName,
            ),
            (
                vec![],
                WorkspaceCommand::Create {
                    workspace_id: id(),
                    name: "x".repeat(MAX_NAME_CHARS + 1),
                    keys: vec![],
                    at: at(),
                },
                WorkspaceError::NameTooLong,
            ),
            (
                vec![],
                WorkspaceCommand::Create {
                    workspace_id: id(),
                    name: "Acme".into(),
                    keys: vec![key("k1", Environment::Live), key("k1", Environment::Test)],
                    at: at(),
                },
                WorkspaceError::DuplicateKey("k1".into()),
            ),
            (
                vec![],
                WorkspaceCommand::CreateApiKey {
                    key: key("k1", Environment::Live),
                    at: at(),
                },
                WorkspaceError::NotCreated,
            ),
            (
                vec![created(), key_created_event("k1", Environment::Live)],
                WorkspaceCommand::CreateApiKey {
                    key: key("k1", Environment::Test),
                    at: at(),
                },
                WorkspaceError::DuplicateKey("k1".into()),
            ),
            (
                vec![created(), key_created_event("k1", Environment::Live)],
                WorkspaceCommand::CreateApiKey {
                    key: NewApiKey {
                        label: Some("l".repeat(MAX_LABEL_CHARS + 1)),
                        ..key("k2", Environment::Live)
                    },
                    at: at(),
                },
                WorkspaceError::LabelTooLong,
            ),
            (
                vec![
                    created(),
                    key_created_event("k1", Environment::Live),
                    key_created_event("k2", Environment::Test),
                ],
                WorkspaceCommand::RevokeApiKey {
                    key_id: "k2".into(),
                    environment: Environment::Live,
                    at: at(),
                },
                WorkspaceError::UnknownKey("k2".into()),
            ),
            (
                vec![created(), key_created_event("k1", Environment::Live)],
                WorkspaceCommand::RevokeApiKey {
                    key_id: "k1".into(),
                    environment: Environment::Live,
                    at: at(),
                },
                WorkspaceError::LastActiveKey("k1".into()),
            ),
            (
                vec![
                    created(),
                    key_created_event("k1", Environment::Live),
                    key_created_event("k2", Environment::Live),
                    WorkspaceEvent::ApiKeyRevoked {
                        key_id: "k1".into(),
                        environment: Environment::Live,
                        at: at(),
                    },
                ],
                WorkspaceCommand::RevokeApiKey {
                    key_id: "k1".into(),
                    environment: Environment::Live,
                    at: at(),
                },
                WorkspaceError::AlreadyRevoked("k1".into()),
            ),
        ];
        for (given, when, error) in cases {
            WorkspaceTest::with(())
                .given(given)
                .when(when)
                .then_expect_error(error);
        }
    }

    #[test]
    fn revoke_leaves_another_active_key() {
        WorkspaceTest::with(())
            .given(vec![
                created(),
                key_created_event("k1", Environment::Live),
                key_created_event("k2", Environment::Live),
            ])
            .when(WorkspaceCommand::RevokeApiKey {
                key_id: "k1".into(),
                environment: Environment::Live,
                at: at(),
            })
            .then_expect_events(vec![WorkspaceEvent::ApiKeyRevoked {
                key_id: "k1".into(),
                environment: Environment::Live,
                at: at(),
            }]);
    }

    #[test]
    fn renaming_to_the_same_name_emits_nothing() {
        WorkspaceTest::with(())
            .given(vec![created()])
            .when(WorkspaceCommand::Rename {
                name: "Acme".into(),
                at: at(),
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn wire_format_is_stable() {
        let events = [created(), key_created_event("k1", Environment::Live)];
        let json: Vec<String> = events
            .iter()
            .map(|e| serde_json::to_string(e).unwrap())
            .collect();
        expect![[r#"
            [
                "{\"WorkspaceCreated\":{\"workspace_id\":\"00000000-0000-0000-0000-00000000002a\",\"name\":\"Acme\",\"at\":\"2027-01-15T08:00:00Z\"}}",
                "{\"ApiKeyCreated\":{\"key_id\":\"k1\",\"environment\":\"live\",\"label\":null,\"hint\":\"ac_live_…\",\"hash\":\"6ab9f1eb8f7d3388f4f9d586f66e99fd54080df2c446f0e58668b09c08a16dd0\",\"at\":\"2027-01-15T08:00:00Z\"}}",
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
            assert_eq!(decoded, crate::events::Event::Workspace(event));
        }
    }
}
