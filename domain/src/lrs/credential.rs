//! LRS credentials: a key and secret for HTTP Basic, with the xAPI scopes that say what the
//! holder may do (Communication §4.2, the OAuth scope list, which this LRS applies to every
//! credential), and the `LrsCredentials` aggregate of one workspace environment.
//!
//! Secrets never reach this module: the server draws them, shows them once, and hands over
//! only their hash ([`crate::workspace::hash_api_key`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::tenancy::Scope;

/// Longest credential label accepted, in characters.
pub const MAX_LABEL_CHARS: usize = 200;

/// An xAPI scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LrsScope {
    /// `statements/write`: write any statement.
    StatementsWrite,
    /// `statements/read`: read any statement.
    StatementsRead,
    /// `statements/read/mine`: read the statements this credential wrote.
    StatementsReadMine,
    /// `state`: read and write State documents.
    State,
    /// `profile`: read and write Activity and Agent Profile documents.
    Profile,
    /// `all/read`: read everything.
    AllRead,
    /// `all`: everything.
    All,
}

impl LrsScope {
    pub const ALL: [LrsScope; 7] = [
        LrsScope::StatementsWrite,
        LrsScope::StatementsRead,
        LrsScope::StatementsReadMine,
        LrsScope::State,
        LrsScope::Profile,
        LrsScope::AllRead,
        LrsScope::All,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LrsScope::StatementsWrite => "statements/write",
            LrsScope::StatementsRead => "statements/read",
            LrsScope::StatementsReadMine => "statements/read/mine",
            LrsScope::State => "state",
            LrsScope::Profile => "profile",
            LrsScope::AllRead => "all/read",
            LrsScope::All => "all",
        }
    }

    pub fn parse(value: &str) -> Option<LrsScope> {
        LrsScope::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

impl fmt::Display for LrsScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something an LRS request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    WriteStatements,
    ReadState,
    WriteState,
    ReadProfiles,
    WriteProfiles,
    /// `GET /activities` and `GET /agents`.
    ReadActivitiesAndAgents,
}

/// Which statements a caller may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementReads {
    All,
    /// Only those whose `authority` is the caller's.
    Mine,
    None,
}

/// What a set of scopes allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permissions {
    scopes: BTreeSet<LrsScope>,
}

impl Permissions {
    pub fn new(scopes: impl IntoIterator<Item = LrsScope>) -> Permissions {
        Permissions {
            scopes: scopes.into_iter().collect(),
        }
    }

    /// Everything (`all`): what a workspace API key may do.
    pub fn all() -> Permissions {
        Permissions::new([LrsScope::All])
    }

    fn has(&self, scope: LrsScope) -> bool {
        self.scopes.contains(&scope)
    }

    pub fn can(&self, access: Access) -> bool {
        let all = self.has(LrsScope::All);
        let read_all = all || self.has(LrsScope::AllRead);
        match access {
            Access::WriteStatements => all || self.has(LrsScope::StatementsWrite),
            Access::ReadState => read_all || self.has(LrsScope::State),
            Access::WriteState => all || self.has(LrsScope::State),
            Access::ReadProfiles => read_all || self.has(LrsScope::Profile),
            Access::WriteProfiles => all || self.has(LrsScope::Profile),
            Access::ReadActivitiesAndAgents => {
                read_all
                    || [
                        LrsScope::StatementsRead,
                        LrsScope::StatementsReadMine,
                        LrsScope::State,
                        LrsScope::Profile,
                    ]
                    .into_iter()
                    .any(|s| self.has(s))
            }
        }
    }

    pub fn statement_reads(&self) -> StatementReads {
        if self.has(LrsScope::All)
            || self.has(LrsScope::AllRead)
            || self.has(LrsScope::StatementsRead)
        {
            StatementReads::All
        } else if self.has(LrsScope::StatementsReadMine) {
            StatementReads::Mine
        } else {
            StatementReads::None
        }
    }
}

/// The `authority` the LRS writes into statements stored with a credential: an Agent with
/// an account on the LRS (`homePage` is the LRS's public URL, `name` the credential's id).
pub fn authority(home_page: &str, account_name: &str, display_name: &str) -> Value {
    json!({
        "objectType": "Agent",
        "name": display_name,
        "account": {"homePage": home_page, "name": account_name},
    })
}

/// The id the cqrs-es framework knows the credentials of `scope` by.
pub fn aggregate_id(scope: &Scope) -> String {
    format!("{}:{}", scope.workspace_id(), scope.environment())
}

/// A credential as the domain sees it: never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLrsCredential {
    /// The public key: the HTTP Basic user name.
    pub credential_id: String,
    pub label: Option<String>,
    pub scopes: Vec<String>,
    /// A recognisable, non-secret fragment of the secret.
    pub hint: String,
    /// Hash of the secret.
    pub secret_hash: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LrsCredentialCommand {
    Create {
        credential: NewLrsCredential,
        at: DateTime<Utc>,
    },
    Revoke {
        credential_id: String,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LrsCredentialEvent {
    LrsCredentialCreated {
        credential_id: String,
        label: Option<String>,
        scopes: Vec<String>,
        hint: String,
        secret_hash: String,
        at: DateTime<Utc>,
    },
    LrsCredentialRevoked {
        credential_id: String,
        at: DateTime<Utc>,
    },
}

impl LrsCredentialEvent {
    pub fn kind(&self) -> &'static str {
        match self {
            LrsCredentialEvent::LrsCredentialCreated { .. } => "LrsCredentialCreated",
            LrsCredentialEvent::LrsCredentialRevoked { .. } => "LrsCredentialRevoked",
        }
    }
}

impl DomainEvent for LrsCredentialEvent {
    fn event_type(&self) -> String {
        self.kind().to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LrsCredentialError {
    #[error("lrs credential {0} already exists")]
    Duplicate(String),
    #[error("no lrs credential {0} in this environment")]
    Unknown(String),
    #[error("lrs credential {0} is already revoked")]
    AlreadyRevoked(String),
    #[error("a credential needs at least one scope")]
    NoScopes,
    #[error(
        "unknown scope {0:?}; the scopes are statements/write, statements/read, statements/read/mine, state, profile, all/read and all"
    )]
    UnknownScope(String),
    #[error("label is longer than {MAX_LABEL_CHARS} characters")]
    LabelTooLong,
}

/// The LRS credentials of one workspace environment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LrsCredentials {
    /// Credential id → revoked.
    credentials: BTreeMap<String, bool>,
}

impl LrsCredentials {
    pub fn decide(
        &self,
        command: LrsCredentialCommand,
    ) -> Result<Vec<LrsCredentialEvent>, LrsCredentialError> {
        match command {
            LrsCredentialCommand::Create { credential, at } => {
                if self.credentials.contains_key(&credential.credential_id) {
                    return Err(LrsCredentialError::Duplicate(credential.credential_id));
                }
                let label = credential
                    .label
                    .map(|l| l.trim().to_owned())
                    .filter(|l| !l.is_empty());
                if label
                    .as_ref()
                    .is_some_and(|l| l.chars().count() > MAX_LABEL_CHARS)
                {
                    return Err(LrsCredentialError::LabelTooLong);
                }
                if credential.scopes.is_empty() {
                    return Err(LrsCredentialError::NoScopes);
                }
                let mut scopes = BTreeSet::new();
                for raw in &credential.scopes {
                    let scope = LrsScope::parse(raw)
                        .ok_or_else(|| LrsCredentialError::UnknownScope(raw.clone()))?;
                    scopes.insert(scope);
                }
                Ok(vec![LrsCredentialEvent::LrsCredentialCreated {
                    credential_id: credential.credential_id,
                    label,
                    scopes: scopes.into_iter().map(|s| s.as_str().to_owned()).collect(),
                    hint: credential.hint,
                    secret_hash: credential.secret_hash,
                    at,
                }])
            }
            LrsCredentialCommand::Revoke { credential_id, at } => {
                match self.credentials.get(&credential_id) {
                    None => Err(LrsCredentialError::Unknown(credential_id)),
                    Some(true) => Err(LrsCredentialError::AlreadyRevoked(credential_id)),
                    Some(false) => Ok(vec![LrsCredentialEvent::LrsCredentialRevoked {
                        credential_id,
                        at,
                    }]),
                }
            }
        }
    }
}

impl Aggregate for LrsCredentials {
    const TYPE: &'static str = "lrs_credentials";
    type Command = LrsCredentialCommand;
    type Event = LrsCredentialEvent;
    type Error = LrsCredentialError;
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
            LrsCredentialEvent::LrsCredentialCreated { credential_id, .. } => {
                self.credentials.insert(credential_id, false);
            }
            LrsCredentialEvent::LrsCredentialRevoked { credential_id, .. } => {
                self.credentials.insert(credential_id, true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;
    use expect_test::expect;

    type CredentialTest = TestFramework<LrsCredentials>;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn new(id: &str, scopes: &[&str]) -> NewLrsCredential {
        NewLrsCredential {
            credential_id: id.into(),
            label: Some(" player ".into()),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            hint: "…abcd".into(),
            secret_hash: "00".into(),
        }
    }

    fn created(id: &str, scopes: &[&str]) -> LrsCredentialEvent {
        LrsCredentialEvent::LrsCredentialCreated {
            credential_id: id.into(),
            label: Some("player".into()),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            hint: "…abcd".into(),
            secret_hash: "00".into(),
            at: at(),
        }
    }

    #[test]
    fn scopes_are_kept_sorted_and_unique() {
        CredentialTest::with(())
            .given_no_previous_events()
            .when(LrsCredentialCommand::Create {
                credential: new("c1", &["state", "statements/write", "state"]),
                at: at(),
            })
            .then_expect_events(vec![created("c1", &["statements/write", "state"])]);
    }

    #[test]
    fn refusals() {
        let cases = vec![
            (
                vec![created("c1", &["all"])],
                LrsCredentialCommand::Create {
                    credential: new("c1", &["all"]),
                    at: at(),
                },
                LrsCredentialError::Duplicate("c1".into()),
            ),
            (
                vec![],
                LrsCredentialCommand::Create {
                    credential: new("c1", &[]),
                    at: at(),
                },
                LrsCredentialError::NoScopes,
            ),
            (
                vec![],
                LrsCredentialCommand::Create {
                    credential: new("c1", &["statements/delete"]),
                    at: at(),
                },
                LrsCredentialError::UnknownScope("statements/delete".into()),
            ),
            (
                vec![],
                LrsCredentialCommand::Revoke {
                    credential_id: "c1".into(),
                    at: at(),
                },
                LrsCredentialError::Unknown("c1".into()),
            ),
            (
                vec![
                    created("c1", &["all"]),
                    LrsCredentialEvent::LrsCredentialRevoked {
                        credential_id: "c1".into(),
                        at: at(),
                    },
                ],
                LrsCredentialCommand::Revoke {
                    credential_id: "c1".into(),
                    at: at(),
                },
                LrsCredentialError::AlreadyRevoked("c1".into()),
            ),
        ];
        for (given, when, error) in cases {
            CredentialTest::with(())
                .given(given)
                .when(when)
                .then_expect_error(error);
        }
    }

    #[test]
    fn what_scopes_allow() {
        use Access::*;
        let accesses = [
            WriteStatements,
            ReadState,
            WriteState,
            ReadProfiles,
            WriteProfiles,
            ReadActivitiesAndAgents,
        ];
        let table: Vec<String> = LrsScope::ALL
            .iter()
            .map(|scope| {
                let p = Permissions::new([*scope]);
                let allowed: Vec<String> = accesses
                    .iter()
                    .filter(|a| p.can(**a))
                    .map(|a| format!("{a:?}"))
                    .collect();
                format!(
                    "{scope}: reads {:?}; {}",
                    p.statement_reads(),
                    allowed.join(" ")
                )
            })
            .collect();
        expect![[r#"
            [
                "statements/write: reads None; WriteStatements",
                "statements/read: reads All; ReadActivitiesAndAgents",
                "statements/read/mine: reads Mine; ReadActivitiesAndAgents",
                "state: reads None; ReadState WriteState ReadActivitiesAndAgents",
                "profile: reads None; ReadProfiles WriteProfiles ReadActivitiesAndAgents",
                "all/read: reads All; ReadState ReadProfiles ReadActivitiesAndAgents",
                "all: reads All; WriteStatements ReadState WriteState ReadProfiles WriteProfiles ReadActivitiesAndAgents",
            ]
        "#]]
        .assert_debug_eq(&table);
    }

    #[test]
    fn wire_format_is_stable() {
        let events = [
            created("c1", &["all"]),
            LrsCredentialEvent::LrsCredentialRevoked {
                credential_id: "c1".into(),
                at: at(),
            },
        ];
        let json: Vec<String> = events
            .iter()
            .map(|e| serde_json::to_string(e).unwrap())
            .collect();
        expect![[r#"
            [
                "{\"LrsCredentialCreated\":{\"credential_id\":\"c1\",\"label\":\"player\",\"scopes\":[\"all\"],\"hint\":\"…abcd\",\"secret_hash\":\"00\",\"at\":\"2027-01-15T08:00:00Z\"}}",
                "{\"LrsCredentialRevoked\":{\"credential_id\":\"c1\",\"at\":\"2027-01-15T08:00:00Z\"}}",
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
            assert_eq!(decoded, crate::events::Event::LrsCredential(event));
        }
    }
}
