//! Who is calling: `Authorization: Bearer ac_live_…` / `ac_test_…` gives a
//! [`Caller`], whose [`Scope`] every handler passes to every query and
//! command. A handler without a `Caller` cannot name a workspace.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use domain::events::EventMetadata;
use domain::tenancy::Scope;
use domain::workspace::hash_api_key;
use store::log::Checkpoint;
use tower_http::request_id::RequestId;

use crate::config::RateLimit;
use crate::error::ApiError;
use crate::keys::claimed_environment;
use crate::state::AppState;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub scope: Scope,
    pub key_id: String,
    pub request_id: String,
}

impl Caller {
    /// Metadata for the events this caller's request appends.
    pub fn metadata(&self) -> EventMetadata {
        EventMetadata::scoped(self.scope)
            .with_actor(format!("key:{}", self.key_id))
            .with_request_id(&self.request_id)
            .with_correlation_id(&self.request_id)
    }

    /// Metadata for workspace-wide events (no environment).
    pub fn workspace_metadata(&self) -> EventMetadata {
        EventMetadata::workspace(self.scope.workspace_id())
            .with_actor(format!("key:{}", self.key_id))
            .with_request_id(&self.request_id)
            .with_correlation_id(&self.request_id)
    }
}

/// The request id set by the request-id layer.
pub fn request_id(parts: &Parts) -> String {
    parts
        .extensions
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("-")
        .to_owned()
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            ApiError::unauthorized(
                "missing_credentials",
                "send an API key as Authorization: Bearer <key>",
            )
        })?;
        let secret = header
            .to_str()
            .ok()
            .and_then(|value| {
                value
                    .strip_prefix("Bearer ")
                    .or_else(|| value.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "invalid_credentials",
                    "the Authorization header must be Bearer <key>",
                )
            })?;
        let invalid = || {
            ApiError::unauthorized(
                "invalid_api_key",
                "the API key is not valid or has been revoked",
            )
        };
        let claimed = claimed_environment(secret).ok_or_else(invalid)?;
        let grant =
            projections::workspaces::find_active_key(&state.platform.db, &hash_api_key(secret))
                .await?
                .filter(|grant| grant.scope.environment() == claimed)
                .ok_or_else(invalid)?;
        state.limiter.check(&grant.key_id)?;
        Ok(Caller {
            scope: grant.scope,
            key_id: grant.key_id,
            request_id: request_id(parts),
        })
    }
}

/// `?min_position=N` or `X-AllureConnect-Min-Position: N` on a read: waits
/// (bounded) until every view has applied the event at position N, so a
/// client reads its own writes.
pub struct Consistent;

pub const MIN_POSITION_HEADER: &str = "x-allureconnect-min-position";

impl FromRequestParts<AppState> for Consistent {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let from_query = parts.uri.query().and_then(|query| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix("min_position="))
                .map(str::to_owned)
        });
        let from_header = parts
            .headers
            .get(MIN_POSITION_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let Some(raw) = from_query.or(from_header) else {
            return Ok(Consistent);
        };
        let position: i64 = raw.parse().ok().filter(|p: &i64| *p >= 0).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_min_position",
                "min_position must be a log position (a non-negative integer)",
            )
        })?;
        if position == 0 {
            return Ok(Consistent);
        }
        let checkpoint: Checkpoint = state
            .platform
            .log
            .checkpoint_of(position)
            .await?
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_min_position",
                    format!("there is no event at position {position}"),
                )
            })?;
        state
            .platform
            .projections
            .wait_all(checkpoint, state.settings.consistency_timeout)
            .await?;
        Ok(Consistent)
    }
}

/// A token bucket per API key.
pub struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> RateLimiter {
        RateLimiter {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`, or says how many seconds to wait.
    pub fn check(&self, key: &str) -> Result<(), ApiError> {
        if self.limit.per_second == 0 {
            return Ok(());
        }
        let rate = f64::from(self.limit.per_second);
        let burst = f64::from(self.limit.burst);
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() > 100_000 {
            // Forget keys that have been idle long enough to be full again.
            let full_after = Duration::from_secs_f64(burst / rate);
            buckets.retain(|_, b| now.duration_since(b.updated) < full_after);
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        bucket.tokens =
            (bucket.tokens + now.duration_since(bucket.updated).as_secs_f64() * rate).min(burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - bucket.tokens) / rate).ceil().max(1.0) as u64;
            Err(ApiError::rate_limited(wait))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_allows_a_burst_then_the_rate() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 1,
            burst: 3,
        });
        for _ in 0..3 {
            assert!(limiter.check("k").is_ok());
        }
        let refused = limiter.check("k").unwrap_err();
        assert_eq!(refused.status, 429);
        assert_eq!(refused.retry_after, Some(1));
        assert!(limiter.check("other").is_ok(), "keys have separate buckets");
        let off = RateLimiter::new(RateLimit {
            per_second: 0,
            burst: 1,
        });
        assert!((0..100).all(|_| off.check("k").is_ok()));
    }
}
