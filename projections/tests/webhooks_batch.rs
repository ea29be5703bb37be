//! The `webhooks` view applies a run of delivery attempts with multi-row
//! statements: it must leave exactly the rows that applying them one at a
//! time leaves (retries, give-ups, cancelled deliveries, an endpoint's
//! `failing_since`, records of attempts already applied, a delivery twice
//! in one run).

use chrono::{DateTime, Utc};
use domain::events::{Event, EventMetadata};
use domain::tenancy::{Environment, Scope, WorkspaceId};
use domain::webhook::WebhookEvent;
use domain::webhook::delivery::{self, DeliveryEvent, Outcome};
use domain::workspace::WorkspaceEvent;
use projections::dump;
use projections::runtime::{Envelope, Projection};
use projections::webhooks::WebhooksView;
use store::db::Database;
use store::log::RecordedEvent;
use store::testing::TestDb;

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
}

struct Log {
    scope: Scope,
    events: Vec<(RecordedEvent, Event)>,
}

impl Log {
    fn push(&mut self, stream_id: &str, event: Event) -> i64 {
        let position = self.events.len() as i64 + 1;
        let record = RecordedEvent {
            position,
            tx: 0,
            stream_id: stream_id.to_owned(),
            stream_version: position,
            event_type: String::new(),
            schema_version: 1,
            payload: String::new(),
            metadata: EventMetadata::scoped(self.scope),
            recorded_at: at(position),
        };
        self.events.push((record, event));
        position
    }

    fn endpoint(&mut self, id: &str) {
        self.push(
            &format!("webhook:{id}"),
            Event::Webhook(WebhookEvent::WebhookCreated {
                webhook_id: id.into(),
                url: format!("https://example.com/{id}"),
                event_types: vec![],
                description: None,
                enabled: true,
                secret: format!("whsec_{id}"),
                at: at(0),
            }),
        );
    }

    /// A public event; returns its position (the deliveries' ids follow).
    fn key(&mut self, n: u32) -> i64 {
        self.push(
            "workspace",
            Event::Workspace(WorkspaceEvent::ApiKeyCreated {
                key_id: format!("key_{n}"),
                environment: Environment::Live,
                label: None,
                hint: "ac_live_…".into(),
                hash: format!("{n:064}"),
                at: at(n.into()),
            }),
        )
    }

    fn attempt(&mut self, webhook: &str, source: i64, attempt: u32, outcome: Outcome, t: i64) {
        let failed = outcome != Outcome::Succeeded;
        self.push(
            &format!("webhook_delivery:{webhook}"),
            Event::WebhookDelivery(DeliveryEvent::WebhookDeliveryAttempted {
                delivery_id: delivery::delivery_id(source, webhook, source),
                webhook_id: webhook.into(),
                attempt,
                request_id: format!("req_{source}_{attempt}_{t}"),
                status: Some(if failed { 500 } else { 200 }),
                latency_ms: 3,
                error: failed.then(|| "status 500".to_owned()),
                outcome,
                next_attempt_at: (outcome == Outcome::Retrying).then(|| at(t + 20)),
                attempted_at: at(t),
            }),
        );
    }
}

async fn dump_all(db: &Database) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for table in WebhooksView.tables() {
        out.push(dump::table(db, table).await.unwrap());
    }
    out
}

#[tokio::test]
async fn a_run_of_attempts_applied_together_equals_one_at_a_time() {
    let mut log = Log {
        scope: Scope::new(
            WorkspaceId::from_uuid(uuid::Uuid::from_u128(7)),
            Environment::Live,
        ),
        events: Vec::new(),
    };
    log.endpoint("wh_a");
    log.endpoint("wh_b");
    let keys: Vec<i64> = (1..=6).map(|n| log.key(n)).collect();
    // A run: retries, a success between failures, a give-up, two endpoints.
    log.attempt("wh_a", keys[0], 1, Outcome::Retrying, 100);
    log.attempt("wh_a", keys[1], 1, Outcome::Succeeded, 101);
    log.attempt("wh_b", keys[0], 1, Outcome::Succeeded, 101);
    log.attempt("wh_a", keys[2], 1, Outcome::Retrying, 102);
    log.attempt("wh_a", keys[3], 1, Outcome::GaveUp, 103);
    log.attempt("wh_b", keys[1], 1, Outcome::Retrying, 104);
    // wh_b is disabled: its pending event deliveries are cancelled; a
    // failure keeps one cancelled, a success settles the other.
    log.push(
        "webhook:wh_b",
        Event::Webhook(WebhookEvent::WebhookEndpointDisabled {
            webhook_id: "wh_b".into(),
            reason: "failing".into(),
            failing_since: at(104),
            at: at(105),
        }),
    );
    log.attempt("wh_b", keys[2], 1, Outcome::Retrying, 106);
    log.attempt("wh_b", keys[3], 1, Outcome::Succeeded, 107);
    // Records of attempts already applied, beside new ones; only failures
    // on wh_a from here (its failing_since stays the earlier one).
    log.attempt("wh_a", keys[1], 1, Outcome::Retrying, 108);
    log.attempt("wh_a", keys[0], 2, Outcome::Retrying, 109);
    log.attempt("wh_a", keys[4], 1, Outcome::Retrying, 110);
    // Then a delivery twice in one run (a double record of one attempt).
    log.key(7);
    log.attempt("wh_a", keys[0], 3, Outcome::Succeeded, 111);
    log.attempt("wh_a", keys[0], 3, Outcome::Succeeded, 112);
    log.attempt("wh_a", keys[5], 1, Outcome::Retrying, 113);

    let together = TestDb::new().await;
    let together_db = together.connect().await;
    let envelopes: Vec<Envelope<'_>> = log
        .events
        .iter()
        .map(|(record, event)| Envelope {
            record,
            event: event.clone(),
        })
        .collect();
    let mut tx = together_db.begin().await.unwrap();
    WebhooksView.apply_batch(&mut tx, &envelopes).await.unwrap();
    tx.commit().await.unwrap();

    let one_by_one = TestDb::new().await;
    let one_by_one_db = one_by_one.connect().await;
    for envelope in &envelopes {
        let mut tx = one_by_one_db.begin().await.unwrap();
        WebhooksView.apply(&mut tx, envelope).await.unwrap();
        tx.commit().await.unwrap();
    }
    let expected = dump_all(&one_by_one_db).await;
    assert_eq!(dump_all(&together_db).await, expected);

    // And what one at a time leaves is what the rules say.
    let state = |source: i64, webhook: &str| {
        let db = one_by_one_db.clone();
        let id = delivery::delivery_id(source, webhook, source);
        async move {
            let row = db
                .fetch_optional(
                    store::db::sql(
                        "SELECT state, attempts, first_attempted_at FROM webhook_deliveries \
                         WHERE delivery_id = $1",
                    )
                    .bind(id),
                )
                .await
                .unwrap()
                .unwrap();
            (
                row.get::<String>(0).unwrap(),
                row.get::<i64>(1).unwrap(),
                row.get::<Option<String>>(2).unwrap(),
            )
        }
    };
    let first = state(keys[0], "wh_a").await;
    assert_eq!((first.0.as_str(), first.1), ("succeeded", 3));
    assert_eq!(first.2.as_deref(), Some("2027-01-15T08:01:40.000Z"));
    assert_eq!(state(keys[1], "wh_a").await.0, "succeeded");
    assert_eq!(state(keys[3], "wh_a").await.0, "failed");
    assert_eq!(state(keys[2], "wh_b").await.0, "cancelled");
    assert_eq!(state(keys[3], "wh_b").await.0, "succeeded");
    let failing_since = |webhook: &'static str| {
        let db = one_by_one_db.clone();
        async move {
            db.fetch_optional(
                store::db::sql("SELECT failing_since FROM webhooks WHERE webhook_id = $1")
                    .bind(webhook),
            )
            .await
            .unwrap()
            .unwrap()
            .get::<Option<String>>(0)
            .unwrap()
        }
    };
    // wh_a: a success at 111, then a failure at 113.
    assert_eq!(
        failing_since("wh_a").await.as_deref(),
        Some("2027-01-15T08:01:53.000Z")
    );
    // wh_b: a success last.
    assert_eq!(failing_since("wh_b").await, None);
}
