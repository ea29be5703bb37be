//! Deliveries: one pending request per (event, endpoint), its attempts, and
//! the retry schedule.
//!
//! Every attempt is a `WebhookDeliveryAttempted` event in its endpoint's
//! delivery log (`webhook_delivery:<workspace>:<environment>:<webhook id>`,
//! appended by the one dispatcher that holds the endpoint, a batch at a
//! time). Each attempt event records the decision taken with it: succeeded,
//! retry at `next_attempt_at`, or given up. The schedule
//! is a pure function of the delivery id, the attempt number and the times
//! in the log, so the log alone says what was and will be sent.

use chrono::{DateTime, Duration, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::tenancy::Scope;

/// The aggregate type of delivery-log streams.
pub const AGGREGATE: &str = "webhook_delivery";

/// Retries go on for this long after a delivery's first attempt, and an
/// endpoint failing for this long without a success is disabled (both
/// multiplied by [`RetryPolicy::scale`]).
pub const RETRY_WINDOW: Duration = Duration::days(3);
/// The delay before the first retry, before jitter.
pub const FIRST_RETRY: Duration = Duration::seconds(20);
/// Each retry waits this many times longer than the one before…
pub const GROWTH: i32 = 3;
/// …up to this delay, before jitter.
pub const MAX_DELAY: Duration = Duration::hours(6);
/// Jitter multiplies a delay by a factor in `[1 - JITTER, 1 + JITTER)`.
pub const JITTER: f64 = 0.25;

/// The retry schedule in force: production numbers times `scale`
/// (`ALLURECONNECT_WEBHOOKS_RETRY_SCALE`, 1 by default; tests shrink it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub scale: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { scale: 1.0 }
    }
}

impl RetryPolicy {
    fn scaled(&self, d: Duration) -> Duration {
        let millis = (d.num_milliseconds() as f64 * self.scale).round() as i64;
        Duration::milliseconds(millis.max(1))
    }

    /// How long retries of one delivery go on, and how long an endpoint may
    /// fail before it is disabled.
    pub fn window(&self) -> Duration {
        self.scaled(RETRY_WINDOW)
    }

    /// The wait after failed attempt `attempt` (1 = the first send) of
    /// `delivery_id`: `FIRST_RETRY × GROWTH^(attempt-1)`, capped at
    /// `MAX_DELAY`, times a jitter factor drawn from a hash of the delivery
    /// id and attempt (the same on every replay, different across
    /// deliveries, so retries of many deliveries spread out).
    pub fn delay(&self, delivery_id: &str, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(20) as i32;
        let base = FIRST_RETRY.num_milliseconds() as f64 * f64::from(GROWTH).powi(exponent);
        let base = base.min(MAX_DELAY.num_milliseconds() as f64);
        let factor = 1.0 - JITTER + 2.0 * JITTER * unit_hash(delivery_id, attempt);
        self.scaled(Duration::milliseconds((base * factor).round() as i64))
    }

    /// What follows a failed attempt made at `attempted_at` when the first
    /// attempt was at `first_attempted_at`: the next attempt time, or `None`
    /// when the retry window is over. The last retry is clamped to the end
    /// of the window, so a delivery is tried at its very end once more.
    pub fn next_attempt(
        &self,
        delivery_id: &str,
        attempt: u32,
        first_attempted_at: DateTime<Utc>,
        attempted_at: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let deadline = first_attempted_at + self.window();
        if attempted_at >= deadline {
            return None;
        }
        Some((attempted_at + self.delay(delivery_id, attempt)).min(deadline))
    }
}

/// A number in `[0, 1)` from SHA-256 of the delivery id and attempt.
fn unit_hash(delivery_id: &str, attempt: u32) -> f64 {
    let digest = Sha256::digest(format!("{delivery_id}/{attempt}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// The id a receiver de-duplicates by: one per (log event, endpoint),
/// the same on every retry, redelivery and replay of that event.
pub fn event_id(source_position: i64, webhook_id: &str) -> String {
    format!(
        "evt_{}",
        short_hash(&format!("evt/{source_position}/{webhook_id}"))
    )
}

/// The id of one delivery: the event that created it (`origin_position`:
/// the event itself, or the redelivery, replay or ping request), the
/// endpoint and the event delivered.
pub fn delivery_id(origin_position: i64, webhook_id: &str, source_position: i64) -> String {
    format!(
        "dlv_{}",
        short_hash(&format!(
            "dlv/{origin_position}/{webhook_id}/{source_position}"
        ))
    )
}

fn short_hash(text: &str) -> String {
    hex::encode(&Sha256::digest(text.as_bytes())[..12])
}

/// The stream of an endpoint's delivery attempts.
pub fn stream_id(scope: &Scope, webhook_id: &str) -> String {
    format!(
        "{AGGREGATE}:{}:{}:{webhook_id}",
        scope.workspace_id(),
        scope.environment()
    )
}

/// What an attempt decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// 2xx: delivered.
    Succeeded,
    /// Failed; tried again at `next_attempt_at`.
    Retrying,
    /// Failed, and the retry window is over (or the endpoint was disabled).
    GaveUp,
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Retrying => "retrying",
            Outcome::GaveUp => "gave_up",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryEvent {
    WebhookDeliveryAttempted {
        delivery_id: String,
        webhook_id: String,
        /// 1 for the first send of this delivery.
        attempt: u32,
        /// Sent as `AllureConnect-Request-Id`.
        request_id: String,
        /// The HTTP status, if a response came back.
        status: Option<u16>,
        latency_ms: u64,
        /// Why it failed, when it did: status, timeout, refused target…
        error: Option<String>,
        outcome: Outcome,
        next_attempt_at: Option<DateTime<Utc>>,
        attempted_at: DateTime<Utc>,
    },
}

impl DeliveryEvent {
    pub fn kind(&self) -> &'static str {
        match self {
            DeliveryEvent::WebhookDeliveryAttempted { .. } => "WebhookDeliveryAttempted",
        }
    }

    /// The delivery the attempt belongs to.
    pub fn delivery_id(&self) -> &str {
        match self {
            DeliveryEvent::WebhookDeliveryAttempted { delivery_id, .. } => delivery_id,
        }
    }
}

impl DomainEvent for DeliveryEvent {
    fn event_type(&self) -> String {
        self.kind().to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// What one HTTP attempt gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptResult {
    pub request_id: String,
    pub status: Option<u16>,
    pub latency_ms: u64,
    /// Set for every failure (a non-2xx status included).
    pub error: Option<String>,
    pub attempted_at: DateTime<Utc>,
}

impl AttemptResult {
    pub fn succeeded(&self) -> bool {
        self.error.is_none() && self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Decides the event that records attempt `attempt` of a delivery.
pub fn record_attempt(
    policy: &RetryPolicy,
    delivery_id: &str,
    webhook_id: &str,
    attempt: u32,
    first_attempted_at: Option<DateTime<Utc>>,
    result: AttemptResult,
) -> DeliveryEvent {
    let (outcome, next_attempt_at) = if result.succeeded() {
        (Outcome::Succeeded, None)
    } else {
        let first = first_attempted_at.unwrap_or(result.attempted_at);
        match policy.next_attempt(delivery_id, attempt, first, result.attempted_at) {
            Some(next) => (Outcome::Retrying, Some(next)),
            None => (Outcome::GaveUp, None),
        }
    };
    DeliveryEvent::WebhookDeliveryAttempted {
        delivery_id: delivery_id.to_owned(),
        webhook_id: webhook_id.to_owned(),
        attempt,
        request_id: result.request_id,
        status: result.status,
        latency_ms: result.latency_ms,
        error: result.error,
        outcome,
        next_attempt_at,
        attempted_at: result.attempted_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    fn t(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    /// The production schedule of one delivery that always fails: when each
    /// attempt happens, counted from the first.
    fn schedule(policy: &RetryPolicy, delivery_id: &str) -> Vec<(u32, i64)> {
        let first = t(0);
        let mut at = first;
        let mut out = vec![(1, 0)];
        for attempt in 1.. {
            match policy.next_attempt(delivery_id, attempt, first, at) {
                Some(next) => {
                    at = next;
                    out.push((attempt + 1, (at - first).num_seconds()));
                }
                None => break,
            }
        }
        out
    }

    #[test]
    fn the_production_schedule() {
        let policy = RetryPolicy::default();
        let times = schedule(&policy, "dlv_example");
        // First retry within 30 s, then growing ×3 up to 6 h, until 3 days.
        assert!(times[1].1 <= 30 && times[1].1 >= 15, "{times:?}");
        for pair in times.windows(2).take(7) {
            assert!(pair[1].1 > pair[0].1);
        }
        assert_eq!(
            times.last().unwrap().1,
            3 * 24 * 3600,
            "last try at the window's end"
        );
        expect![[r#"
            [
                (
                    1,
                    0,
                ),
                (
                    2,
                    20,
                ),
                (
                    3,
                    80,
                ),
                (
                    4,
                    224,
                ),
                (
                    5,
                    818,
                ),
                (
                    6,
                    2497,
                ),
                (
                    7,
                    7352,
                ),
                (
                    8,
                    24218,
                ),
                (
                    9,
                    47311,
                ),
                (
                    10,
                    68023,
                ),
                (
                    11,
                    90356,
                ),
                (
                    12,
                    111551,
                ),
                (
                    13,
                    135434,
                ),
                (
                    14,
                    159870,
                ),
                (
                    15,
                    178492,
                ),
                (
                    16,
                    199887,
                ),
                (
                    17,
                    221459,
                ),
                (
                    18,
                    246258,
                ),
                (
                    19,
                    259200,
                ),
            ]
        "#]]
        .assert_debug_eq(&times);
        // Every delivery's schedule stays within the bounds, whatever its jitter.
        for n in 0..200 {
            let id = format!("dlv_{n}");
            let first_retry = policy.delay(&id, 1);
            assert!(first_retry >= Duration::seconds(15) && first_retry < Duration::seconds(25));
            assert!(policy.delay(&id, 30) <= Duration::minutes(450));
            assert_eq!(schedule(&policy, &id).last().unwrap().1, 259_200);
        }
        // Same id and attempt, same delay: a replay computes the same schedule.
        assert_eq!(policy.delay("dlv_x", 3), policy.delay("dlv_x", 3));
        assert_ne!(policy.delay("dlv_x", 3), policy.delay("dlv_y", 3));
    }

    #[test]
    fn the_scale_shrinks_every_wait() {
        let fast = RetryPolicy { scale: 0.001 };
        assert_eq!(fast.window(), Duration::milliseconds(259_200));
        let slow = RetryPolicy::default().delay("dlv_a", 2).num_milliseconds() as f64;
        let quick = fast.delay("dlv_a", 2).num_milliseconds() as f64;
        assert!((quick - slow * 0.001).abs() <= 1.0);
    }

    #[test]
    fn attempts_record_their_decision() {
        let policy = RetryPolicy::default();
        let result = |status: Option<u16>, error: Option<&str>, at| AttemptResult {
            request_id: "r".into(),
            status,
            latency_ms: 5,
            error: error.map(str::to_owned),
            attempted_at: at,
        };
        let ok = record_attempt(&policy, "d", "w", 1, None, result(Some(204), None, t(0)));
        assert!(matches!(
            ok,
            DeliveryEvent::WebhookDeliveryAttempted {
                outcome: Outcome::Succeeded,
                next_attempt_at: None,
                ..
            }
        ));
        let failed = record_attempt(
            &policy,
            "d",
            "w",
            1,
            None,
            result(Some(500), Some("status 500"), t(0)),
        );
        let DeliveryEvent::WebhookDeliveryAttempted {
            outcome,
            next_attempt_at,
            ..
        } = failed;
        assert_eq!(outcome, Outcome::Retrying);
        assert_eq!(next_attempt_at, Some(t(0) + policy.delay("d", 1)));
        let late = record_attempt(
            &policy,
            "d",
            "w",
            20,
            Some(t(0)),
            result(None, Some("timed out"), t(259_200)),
        );
        assert!(matches!(
            late,
            DeliveryEvent::WebhookDeliveryAttempted {
                outcome: Outcome::GaveUp,
                ..
            }
        ));
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        assert_eq!(event_id(42, "wh_a"), event_id(42, "wh_a"));
        assert_ne!(event_id(42, "wh_a"), event_id(42, "wh_b"));
        assert_ne!(event_id(42, "wh_a"), event_id(43, "wh_a"));
        assert_ne!(delivery_id(42, "wh_a", 42), delivery_id(50, "wh_a", 42));
        expect!["evt_82905b52d79cce3bc7f69289"].assert_eq(&event_id(1, "wh_a"));
    }

    #[test]
    fn wire_format_is_stable() {
        let event = DeliveryEvent::WebhookDeliveryAttempted {
            delivery_id: "dlv_1".into(),
            webhook_id: "wh_1".into(),
            attempt: 2,
            request_id: "req_1".into(),
            status: Some(500),
            latency_ms: 12,
            error: Some("status 500".into()),
            outcome: Outcome::Retrying,
            next_attempt_at: Some(t(60)),
            attempted_at: t(0),
        };
        expect![[r#"{"WebhookDeliveryAttempted":{"delivery_id":"dlv_1","webhook_id":"wh_1","attempt":2,"request_id":"req_1","status":500,"latency_ms":12,"error":"status 500","outcome":"retrying","next_attempt_at":"2027-01-15T08:01:00Z","attempted_at":"2027-01-15T08:00:00Z"}}"#]]
        .assert_eq(&serde_json::to_string(&event).unwrap());
    }
}
