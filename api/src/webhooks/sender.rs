//! One HTTP attempt of one delivery: signed, bounded in time and in the
//! response read, never following a redirect, never through a proxy.

use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use domain::webhook::delivery::AttemptResult;
use domain::webhook::signature;
use futures::StreamExt;
use reqwest::header::HeaderName;
use reqwest::{Client, Url};
use uuid::Uuid;

use super::target::{self, PublicResolver};

/// Most response bytes read (then the connection is dropped): receivers
/// answer with a status, not a document.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// The `User-Agent` of every webhook request.
pub const USER_AGENT: &str = concat!("AllureConnect-Webhooks/", env!("CARGO_PKG_VERSION"));

// The headers of every delivery, parsed at compile time rather than on every
// send (lower case, as HTTP/1.1 writes every name; the README spells them
// `AllureConnect-Event-Id` and so on).
pub const EVENT_ID_HEADER: HeaderName = HeaderName::from_static("allureconnect-event-id");
pub const EVENT_TYPE_HEADER: HeaderName = HeaderName::from_static("allureconnect-event-type");
pub const DELIVERY_ID_HEADER: HeaderName = HeaderName::from_static("allureconnect-delivery-id");
pub const ATTEMPT_HEADER: HeaderName = HeaderName::from_static("allureconnect-delivery-attempt");
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("allureconnect-request-id");
/// [`signature::SIGNATURE_HEADER`] (the pure domain has no header types).
const SIGNATURE_HEADER: HeaderName = HeaderName::from_static("allureconnect-signature");

/// Builds the client every delivery goes through.
pub fn client(timeout: Duration, allow_private: bool) -> reqwest::Result<Client> {
    let builder = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(64)
        .tcp_nodelay(true)
        .user_agent(USER_AGENT);
    let builder = if allow_private {
        builder
    } else {
        builder.dns_resolver(PublicResolver)
    };
    builder.build()
}

/// What to send.
pub struct Request<'a> {
    /// The endpoint's URL, parsed once by [`target::parse`], or why it does
    /// not parse.
    pub url: Result<&'a Url, &'a str>,
    /// The body; shared, not copied, into the request.
    pub body: &'a Bytes,
    /// Every secret valid now: the current one first.
    pub secrets: &'a [&'a str],
    pub event_id: &'a str,
    pub event_type: &'a str,
    pub delivery_id: &'a str,
    pub attempt: u32,
}

/// Sends one attempt and says how it went; never fails otherwise.
pub async fn send(client: &Client, allow_private: bool, request: Request<'_>) -> AttemptResult {
    let request_id = format!("req_{}", Uuid::new_v4().simple());
    let attempted_at = Utc::now();
    let started = Instant::now();
    let outcome = attempt(client, allow_private, &request, &request_id, attempted_at).await;
    let latency_ms = started.elapsed().as_millis() as u64;
    let (status, error) = match outcome {
        Ok(status) if (200..300).contains(&status) => (Some(status), None),
        Ok(status) if (300..400).contains(&status) => (
            Some(status),
            Some(format!("status {status} (redirects are not followed)")),
        ),
        Ok(status) => (Some(status), Some(format!("status {status}"))),
        Err((status, error)) => (status, Some(error)),
    };
    AttemptResult {
        request_id,
        status,
        latency_ms,
        error,
        attempted_at,
    }
}

async fn attempt(
    client: &Client,
    allow_private: bool,
    request: &Request<'_>,
    request_id: &str,
    at: DateTime<Utc>,
) -> Result<u16, (Option<u16>, String)> {
    let url = request.url.map_err(|e| (None, e.to_owned()))?;
    // IP literals do not go through the resolver: check them here.
    if url
        .host()
        .is_some_and(|h| !matches!(h, url::Host::Domain(_)))
    {
        target::check(url, allow_private)
            .await
            .map_err(|e| (None, format!("refused: {e}")))?;
    }
    let timestamp = at.timestamp();
    let response = client
        .post(url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(
            SIGNATURE_HEADER,
            signature::header(timestamp, request.secrets, request.body),
        )
        .header(EVENT_ID_HEADER, request.event_id)
        .header(EVENT_TYPE_HEADER, request.event_type)
        .header(DELIVERY_ID_HEADER, request.delivery_id)
        .header(ATTEMPT_HEADER, request.attempt.to_string())
        .header(REQUEST_ID_HEADER, request_id)
        .body(request.body.clone())
        .send()
        .await
        .map_err(|e| (None, describe(&e)))?;
    let status = response.status().as_u16();
    // Read (a bounded part of) the answer, so the connection can be reused.
    let mut read = 0usize;
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(chunk) => {
                read += chunk.len();
                if read > MAX_RESPONSE_BYTES {
                    break;
                }
            }
            Err(e) => return Err((Some(status), describe(&e))),
        }
    }
    Ok(status)
}

/// A one-line reason: the kind of failure and its innermost cause.
fn describe(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "connection failed"
    } else if err.is_body() || err.is_decode() {
        "the response broke off"
    } else {
        "request failed"
    };
    let mut cause: &dyn std::error::Error = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    if let Some(refused) = find::<target::TargetError>(err) {
        return format!("refused: {refused}");
    }
    format!("{kind}: {cause}")
}

fn find<E: std::error::Error + 'static>(err: &reqwest::Error) -> Option<&E> {
    let mut cause: Option<&dyn std::error::Error> = Some(err);
    while let Some(current) = cause {
        if let Some(found) = current.downcast_ref::<E>() {
            return Some(found);
        }
        cause = current.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_header_is_the_documented_one() {
        assert_eq!(
            SIGNATURE_HEADER.as_str(),
            signature::SIGNATURE_HEADER.to_ascii_lowercase()
        );
    }
}
