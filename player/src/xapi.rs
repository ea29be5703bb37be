//! xAPI (Tin Can) launches: the content of a `tincan.xml` course opens
//! with the launch parameters of the Rustici convention, and reports to the
//! workspace's LRS with a token issued for this launch only.
//!
//! - `endpoint`: the LRS, `{api_url}/xapi/` on the API origin (it answers
//!   CORS, so content on the content origin can call it);
//! - `auth`: `Basic …` of a launch token bound to the learner's actor and
//!   the registration ([`domain::lrs::launch`]), expiring with the player
//!   session; never a workspace credential;
//! - `actor`: the learner as an xAPI Agent (an account on `api_url`);
//! - `registration`: the registration's xAPI UUID
//!   ([`domain::lrs::launch::registration_uuid`]);
//! - `activity_id`: the course activity's IRI.
//!
//! A preview (`tracking: false`) gets no `endpoint` nor `auth`: nothing it
//! does is recorded.

use chrono::{DateTime, Utc};
use domain::events::EventMetadata;
use domain::lrs::launch::{
    LaunchTokenCommand, LaunchTokenError, NewLaunchToken, learner_actor, registration_uuid,
};
use domain::tenancy::Scope;
use projections::registrations::RegistrationRow;
use rand::RngCore;
use serde_json::Value;
use store::commands::CommandError;

use crate::{PlayerError, PlayerState};

/// The learner of `row` as an xAPI Agent.
pub fn actor(api_url: &str, row: &RegistrationRow) -> Value {
    let name = [row.first_name.as_deref(), row.last_name.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    learner_actor(api_url, &row.learner_id, Some(&name))
}

/// The launch parameters, in the order the convention lists them.
pub struct LaunchParameters<'a> {
    pub endpoint: Option<&'a str>,
    pub auth: Option<&'a str>,
    pub actor: &'a Value,
    pub registration: uuid::Uuid,
    pub activity_id: &'a str,
}

/// `url` with the launch parameters appended to its query (before any
/// fragment). Values are percent-encoded byte by byte (a space is `%20`,
/// never `+`: content decodes with `decodeURIComponent`).
pub fn launch_url(url: &str, parameters: &LaunchParameters<'_>) -> String {
    let (base, fragment) = match url.split_once('#') {
        Some((base, fragment)) => (base, Some(fragment)),
        None => (url, None),
    };
    let actor = parameters.actor.to_string();
    let registration = parameters.registration.to_string();
    let pairs = [
        ("endpoint", parameters.endpoint),
        ("auth", parameters.auth),
        ("actor", Some(actor.as_str())),
        ("registration", Some(registration.as_str())),
        ("activity_id", Some(parameters.activity_id)),
    ];
    let mut out = base.to_owned();
    let mut separator = if base.contains('?') {
        if base.ends_with('?') || base.ends_with('&') {
            ""
        } else {
            "&"
        }
    } else {
        "?"
    };
    for (name, value) in pairs {
        let Some(value) = value else { continue };
        out.push_str(separator);
        out.push_str(name);
        out.push('=');
        out.push_str(&percent_encode(value));
        separator = "&";
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// Every byte but the unreserved ones (RFC 3986 §2.3) as `%XX`.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Issues the launch token of one delivery: bound to the learner's actor
/// and the registration, valid until `expires_at`. Answers once the token
/// works (the credentials view has it).
pub async fn issue_token(
    state: &PlayerState,
    scope: &Scope,
    actor: Value,
    registration_id: &str,
    activity_id: &str,
    expires_at: DateTime<Utc>,
    metadata: &EventMetadata,
) -> Result<NewLaunchToken, PlayerError> {
    let mut id = [0u8; 12];
    rand::rng().fill_bytes(&mut id);
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let token = NewLaunchToken::from_random(id, secret);
    let checkpoint = state
        .commands
        .launch_token(
            &domain::lrs::launch::aggregate_id(scope, &token.token_id),
            LaunchTokenCommand::Issue {
                token_id: token.token_id.clone(),
                secret_hash: token.secret_hash.clone(),
                actor,
                registration: registration_uuid(registration_id),
                activity_id: activity_id.to_owned(),
                expires_at,
                at: Utc::now(),
            },
            metadata,
        )
        .await
        .map_err(|err| match err {
            CommandError::Rejected(
                err @ (LaunchTokenError::InvalidActor(_) | LaunchTokenError::InvalidActivity),
            ) => PlayerError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_xapi_launch",
                format!("this course cannot report to the LRS: {err}"),
            ),
            other => PlayerError::internal(other),
        })?;
    if let Some(checkpoint) = checkpoint
        && let Err(err) = state
            .projections
            .wait_for(
                "lrs_credentials",
                checkpoint,
                state.settings.consistency_timeout,
            )
            .await
    {
        tracing::warn!(error = %err, "launch token handed out before its view caught up");
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parameters_are_appended_and_percent_encoded() {
        let actor = json!({"objectType": "Agent", "name": "Ann Lee",
            "account": {"homePage": "https://lms.example.com", "name": "l-1"}});
        let parameters = LaunchParameters {
            endpoint: Some("https://lms.example.com/xapi/"),
            auth: Some("Basic bGF1bmNoXzE6cw=="),
            actor: &actor,
            registration: uuid::Uuid::from_u128(7),
            activity_id: "http://example.com/course?x=1&y=2",
        };
        let url = launch_url("/content/t/index.html?lang=en#start", &parameters);
        assert_eq!(
            url,
            "/content/t/index.html?lang=en&endpoint=https%3A%2F%2Flms.example.com%2Fxapi%2F\
             &auth=Basic%20bGF1bmNoXzE6cw%3D%3D\
             &actor=%7B%22account%22%3A%7B%22homePage%22%3A%22https%3A%2F%2Flms.example.com%22%2C%22name%22%3A%22l-1%22%7D%2C%22name%22%3A%22Ann%20Lee%22%2C%22objectType%22%3A%22Agent%22%7D\
             &registration=00000000-0000-0000-0000-000000000007\
             &activity_id=http%3A%2F%2Fexample.com%2Fcourse%3Fx%3D1%26y%3D2#start"
        );
        let preview = LaunchParameters {
            endpoint: None,
            auth: None,
            ..parameters
        };
        let url = launch_url("index.html", &preview);
        assert!(url.starts_with("index.html?actor="), "{url}");
        assert!(!url.contains("auth=") && !url.contains("endpoint="));
    }

    #[test]
    fn the_learner_is_an_account_on_the_api_origin() {
        let row = RegistrationRow {
            registration_id: "r1".into(),
            course_id: "c".into(),
            course_version: 1,
            learner_id: "learner-7".into(),
            first_name: Some("Ann".into()),
            last_name: None,
            email: Some("ann@example.com".into()),
            tags: vec![],
            attempt: 1,
            created_at: String::new(),
            updated_at: String::new(),
        };
        assert_eq!(
            actor("https://ac.example.com", &row),
            json!({"objectType": "Agent", "name": "Ann",
                "account": {"homePage": "https://ac.example.com", "name": "learner-7"}})
        );
    }
}
