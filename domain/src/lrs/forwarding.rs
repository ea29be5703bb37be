//! Statement forwarding: the external LRS a workspace environment sends its statements to.
//!
//! The `Forwarding` aggregate (`lrs_forwarding:<workspace>:<environment>`) holds the target.
//! The server's forwarder follows the log and posts each statement stored after the target
//! was configured, in log order, at least once.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::tenancy::Scope;
use crate::xapi::XapiVersion;

/// The id the cqrs-es framework knows the forwarding of `scope` by.
pub fn aggregate_id(scope: &Scope) -> String {
    format!("{}:{}", scope.workspace_id(), scope.environment())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardingCommand {
    /// Sets (or changes) the target. Statements not yet forwarded go to the new target.
    Configure {
        /// The external LRS's xAPI endpoint (`https://lrs.example.com/xapi`).
        endpoint: String,
        /// The `Authorization` header to send, e.g. `Basic …`.
        authorization: Option<String>,
        /// The `X-Experience-API-Version` to send.
        xapi_version: String,
        at: DateTime<Utc>,
    },
    /// Stops forwarding; a later `Configure` starts again from that point of the log.
    Remove { at: DateTime<Utc> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ForwardingEvent {
    ForwardingConfigured {
        endpoint: String,
        /// A secret of the external LRS, kept so that the forwarder can send it; never shown
        /// by the API.
        authorization: Option<String>,
        xapi_version: String,
        at: DateTime<Utc>,
    },
    ForwardingRemoved {
        at: DateTime<Utc>,
    },
}

impl ForwardingEvent {
    pub fn kind(&self) -> &'static str {
        match self {
            ForwardingEvent::ForwardingConfigured { .. } => "ForwardingConfigured",
            ForwardingEvent::ForwardingRemoved { .. } => "ForwardingRemoved",
        }
    }
}

impl DomainEvent for ForwardingEvent {
    fn event_type(&self) -> String {
        self.kind().to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForwardingError {
    #[error("the endpoint must be an absolute http or https url without a query, got {0:?}")]
    InvalidEndpoint(String),
    #[error("xapi version {0:?} is not one this lrs sends (1.0.3 or 2.0.0)")]
    InvalidVersion(String),
    #[error("the authorization value must be one line of visible characters")]
    InvalidAuthorization,
    #[error("forwarding is not configured")]
    NotConfigured,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forwarding {
    configured: Option<(String, Option<String>, String)>,
}

fn valid_endpoint(endpoint: &str) -> Option<String> {
    let endpoint = endpoint.trim().trim_end_matches('/');
    let rest = endpoint
        .strip_prefix("https://")
        .or_else(|| endpoint.strip_prefix("http://"))?;
    let host = rest.split('/').next().unwrap_or("");
    let ok = !host.is_empty()
        && !endpoint.contains(['?', '#', ' '])
        && endpoint.chars().all(|c| c.is_ascii_graphic());
    ok.then(|| endpoint.to_owned())
}

impl Forwarding {
    pub fn decide(
        &self,
        command: ForwardingCommand,
    ) -> Result<Vec<ForwardingEvent>, ForwardingError> {
        match command {
            ForwardingCommand::Configure {
                endpoint,
                authorization,
                xapi_version,
                at,
            } => {
                let endpoint = valid_endpoint(&endpoint)
                    .ok_or_else(|| ForwardingError::InvalidEndpoint(endpoint.clone()))?;
                let version = XapiVersion::parse_header(&xapi_version)
                    .map_err(|_| ForwardingError::InvalidVersion(xapi_version.clone()))?
                    .response_header()
                    .to_owned();
                let authorization = authorization
                    .map(|a| a.trim().to_owned())
                    .filter(|a| !a.is_empty());
                if authorization
                    .as_ref()
                    .is_some_and(|a| !a.chars().all(|c| c == ' ' || c.is_ascii_graphic()))
                {
                    return Err(ForwardingError::InvalidAuthorization);
                }
                let target = (endpoint, authorization, version);
                if self.configured.as_ref() == Some(&target) {
                    return Ok(vec![]);
                }
                let (endpoint, authorization, xapi_version) = target;
                Ok(vec![ForwardingEvent::ForwardingConfigured {
                    endpoint,
                    authorization,
                    xapi_version,
                    at,
                }])
            }
            ForwardingCommand::Remove { at } => {
                if self.configured.is_none() {
                    return Err(ForwardingError::NotConfigured);
                }
                Ok(vec![ForwardingEvent::ForwardingRemoved { at }])
            }
        }
    }
}

impl Aggregate for Forwarding {
    const TYPE: &'static str = "lrs_forwarding";
    type Command = ForwardingCommand;
    type Event = ForwardingEvent;
    type Error = ForwardingError;
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
            ForwardingEvent::ForwardingConfigured {
                endpoint,
                authorization,
                xapi_version,
                ..
            } => self.configured = Some((endpoint, authorization, xapi_version)),
            ForwardingEvent::ForwardingRemoved { .. } => self.configured = None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;
    use expect_test::expect;

    type ForwardingTest = TestFramework<Forwarding>;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn configure(endpoint: &str, version: &str) -> ForwardingCommand {
        ForwardingCommand::Configure {
            endpoint: endpoint.into(),
            authorization: Some("Basic abc=".into()),
            xapi_version: version.into(),
            at: at(),
        }
    }

    fn configured() -> ForwardingEvent {
        ForwardingEvent::ForwardingConfigured {
            endpoint: "https://lrs.example.com/xapi".into(),
            authorization: Some("Basic abc=".into()),
            xapi_version: "1.0.3".into(),
            at: at(),
        }
    }

    #[test]
    fn configure_normalises_and_is_idempotent() {
        ForwardingTest::with(())
            .given_no_previous_events()
            .when(configure("https://lrs.example.com/xapi/", "1.0.2"))
            .then_expect_events(vec![configured()]);
        ForwardingTest::with(())
            .given(vec![configured()])
            .when(configure("https://lrs.example.com/xapi", "1.0.3"))
            .then_expect_events(vec![]);
    }

    #[test]
    fn refusals() {
        for endpoint in [
            "ftp://x/y",
            "https://",
            "lrs.example.com",
            "https://a/b?c=1",
        ] {
            ForwardingTest::with(())
                .given_no_previous_events()
                .when(configure(endpoint, "1.0.3"))
                .then_expect_error(ForwardingError::InvalidEndpoint(endpoint.into()));
        }
        ForwardingTest::with(())
            .given_no_previous_events()
            .when(configure("https://lrs.example.com/xapi", "0.95"))
            .then_expect_error(ForwardingError::InvalidVersion("0.95".into()));
        ForwardingTest::with(())
            .given_no_previous_events()
            .when(ForwardingCommand::Remove { at: at() })
            .then_expect_error(ForwardingError::NotConfigured);
    }

    #[test]
    fn wire_format_is_stable() {
        let events = [
            configured(),
            ForwardingEvent::ForwardingRemoved { at: at() },
        ];
        let json: Vec<String> = events
            .iter()
            .map(|e| serde_json::to_string(e).unwrap())
            .collect();
        expect![[r#"
            [
                "{\"ForwardingConfigured\":{\"endpoint\":\"https://lrs.example.com/xapi\",\"authorization\":\"Basic abc=\",\"xapi_version\":\"1.0.3\",\"at\":\"2027-01-15T08:00:00Z\"}}",
                "{\"ForwardingRemoved\":{\"at\":\"2027-01-15T08:00:00Z\"}}",
            ]
        "#]].assert_debug_eq(&json);
        for event in events {
            let decoded = crate::events::Event::decode(
                event.kind(),
                1,
                &serde_json::to_string(&event).unwrap(),
            )
            .unwrap();
            assert_eq!(decoded, crate::events::Event::LrsForwarding(event));
        }
    }
}
