//! Workspaces, environments and the [`Scope`] every read and write carries.
//!
//! A [`Scope`] names one workspace and one environment. Every query of a view
//! and every command takes one, so code cannot reach a workspace's data
//! without saying whose data it is.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The identifier of a workspace (a tenant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WorkspaceId(Uuid);

impl WorkspaceId {
    /// Wraps an identifier drawn by the caller (domain code draws no randomness).
    pub fn from_uuid(id: Uuid) -> WorkspaceId {
        WorkspaceId(id)
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for WorkspaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for WorkspaceId {
    type Err = uuid::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(WorkspaceId)
    }
}

/// Live data and sandbox data never mix: a key of one environment sees
/// nothing of the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Live,
    Test,
}

impl Environment {
    pub const ALL: [Environment; 2] = [Environment::Live, Environment::Test];

    pub fn as_str(&self) -> &'static str {
        match self {
            Environment::Live => "live",
            Environment::Test => "test",
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for an environment name that is neither `live` nor `test`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown environment {0:?}, expected \"live\" or \"test\"")]
pub struct UnknownEnvironment(pub String);

impl FromStr for Environment {
    type Err = UnknownEnvironment;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "live" => Ok(Environment::Live),
            "test" => Ok(Environment::Test),
            other => Err(UnknownEnvironment(other.to_owned())),
        }
    }
}

/// One workspace in one environment: the unit of tenancy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Scope {
    workspace_id: WorkspaceId,
    environment: Environment,
}

impl Scope {
    pub fn new(workspace_id: WorkspaceId, environment: Environment) -> Scope {
        Scope {
            workspace_id,
            environment,
        }
    }

    pub fn workspace_id(&self) -> WorkspaceId {
        self.workspace_id
    }

    pub fn environment(&self) -> Environment {
        self.environment
    }

    /// A stream id for an aggregate that lives inside this scope.
    ///
    /// Client-chosen identifiers (a course id, a registration id) are only
    /// unique inside a scope, so the stream id carries the scope too.
    pub fn stream_id(&self, aggregate_type: &str, local_id: &str) -> String {
        format!("{aggregate_type}:{}", self.aggregate_id(local_id))
    }

    /// The cqrs-es aggregate id of a scoped aggregate (its stream id without
    /// the type prefix, which cqrs-es adds).
    pub fn aggregate_id(&self, local_id: &str) -> String {
        format!("{}:{}:{local_id}", self.workspace_id, self.environment)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.workspace_id, self.environment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_names_round_trip() {
        for env in Environment::ALL {
            assert_eq!(env.as_str().parse::<Environment>(), Ok(env));
            assert_eq!(serde_json::to_string(&env).unwrap(), format!("\"{env}\""));
        }
        assert_eq!(
            "Live".parse::<Environment>(),
            Err(UnknownEnvironment("Live".into()))
        );
    }

    #[test]
    fn scoped_stream_ids_differ_by_workspace_and_environment() {
        let a = WorkspaceId::from_uuid(Uuid::from_u128(1));
        let b = WorkspaceId::from_uuid(Uuid::from_u128(2));
        let ids = [
            Scope::new(a, Environment::Live).stream_id("course", "c1"),
            Scope::new(a, Environment::Test).stream_id("course", "c1"),
            Scope::new(b, Environment::Live).stream_id("course", "c1"),
        ];
        assert_eq!(
            ids[0],
            "course:00000000-0000-0000-0000-000000000001:live:c1"
        );
        assert_ne!(ids[0], ids[1]);
        assert_ne!(ids[0], ids[2]);
    }
}
