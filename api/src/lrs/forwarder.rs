//! Statement forwarding: a subscriber that follows the log and posts each workspace
//! environment's statements to its external LRS.
//!
//! - Per target, a durable checkpoint (`lrs_forwarder_status`): a batch is posted, and only
//!   then is the checkpoint moved past it. A crash between the two posts the batch again;
//!   the target answers a repeated identical statement with 200/204, so delivery is
//!   at-least-once and nothing is lost.
//! - In order: a target's next batch waits for the previous one.
//! - A failure (network, 4xx, 5xx) is recorded as the target's last error and retried with
//!   exponential backoff (1 s doubling to 5 min); other targets go on.
//! - On PostgreSQL the forwarder runs on one process at a time (advisory lock).

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use domain::events::Event;
use domain::lrs::statement::{StatementEvent, StoredAttachment};
use domain::tenancy::Scope;
use projections::lrs::forwarding::{
    ForwarderStatus, Target, all_targets, forwarder_status, save_forwarder_status,
};
use serde_json::Value;
use store::StoreError;
use store::blob::{BlobKey, BlobStore};
use store::db::Database;
use store::log::EventLog;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::multipart::{self, OutPart};

/// Events read per batch; a batch is one POST.
const BATCH: u32 = 100;
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How often the forwarder looks for work when nothing woke it.
const POLL: Duration = Duration::from_millis(500);
/// How long after a wake-up the forwarder waits for the rest of a burst.
const SETTLE: Duration = Duration::from_millis(50);

/// The forwarder of one process.
pub struct Forwarder {
    db: Database,
    log: EventLog,
    blobs: BlobStore,
    client: reqwest::Client,
    /// Per target: when to try again, after failures.
    retry_at: HashMap<Scope, Instant>,
}

impl Forwarder {
    pub fn new(db: Database, log: EventLog, blobs: BlobStore) -> Forwarder {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("the http client builds");
        Forwarder {
            db,
            log,
            blobs,
            client,
            retry_at: HashMap::new(),
        }
    }

    /// Runs until `shutdown` is cancelled.
    pub fn spawn(self, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.run(shutdown))
    }

    async fn run(mut self, shutdown: CancellationToken) {
        let mut woken = self.log.subscribe();
        loop {
            let _lock = match &self.db {
                Database::Postgres { pool, schema } => {
                    match projections::runtime::try_advisory_lock(pool, schema, "lrs-forwarder")
                        .await
                    {
                        Ok(Some(lock)) => Some(lock),
                        Ok(None) | Err(_) => {
                            tokio::select! {
                                () = shutdown.cancelled() => return,
                                () = tokio::time::sleep(Duration::from_secs(2)) => continue,
                            }
                        }
                    }
                }
                Database::Sqlite { .. } => None,
            };
            loop {
                let progressed = match self.round().await {
                    Ok(progressed) => progressed,
                    Err(err) => {
                        tracing::warn!(error = %err, "forwarder round failed");
                        false
                    }
                };
                if progressed {
                    if shutdown.is_cancelled() {
                        return;
                    }
                    continue;
                }
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    _ = woken.changed() => {
                        // Appends come in bursts: take them together
                        // rather than look at every target after each.
                        tokio::select! {
                            () = shutdown.cancelled() => return,
                            () = tokio::time::sleep(SETTLE) => {}
                        }
                    }
                    () = tokio::time::sleep(POLL) => {}
                }
            }
        }
    }

    /// One batch for every target that is due; whether any moved.
    async fn round(&mut self) -> Result<bool, StoreError> {
        let mut progressed = false;
        for target in all_targets(&self.db).await? {
            if self
                .retry_at
                .get(&target.scope)
                .is_some_and(|at| *at > Instant::now())
            {
                continue;
            }
            progressed |= self.step(&target).await?;
        }
        Ok(progressed)
    }

    /// Forwards the next batch of `target`; whether its checkpoint moved.
    async fn step(&mut self, target: &Target) -> Result<bool, StoreError> {
        let mut status = match forwarder_status(&self.db, &target.scope).await? {
            Some(status) if status.start_position == target.start.position => status,
            _ => ForwarderStatus::start(target),
        };
        let events = self
            .log
            .read_scope(&target.scope, status.checkpoint, BATCH)
            .await?;
        let Some(last) = events.last().map(|e| e.checkpoint()) else {
            return Ok(false);
        };
        let mut statements = Vec::new();
        for record in &events {
            if let Ok(Event::LrsStatement(StatementEvent::StatementStored {
                statement,
                attachments,
            })) = Event::decode(&record.event_type, record.schema_version, &record.payload)
            {
                statements.push((statement, attachments));
            }
        }
        let sent = if statements.is_empty() {
            Ok(())
        } else {
            self.post(target, &statements).await
        };
        let now = domain::xapi::syntax::format_utc(Utc::now());
        match sent {
            Ok(()) => {
                status.checkpoint = last;
                status.forwarded += statements.len() as i64;
                status.failures = 0;
                if !statements.is_empty() {
                    status.last_success_at = Some(now);
                }
                self.retry_at.remove(&target.scope);
                save_forwarder_status(&self.db, &target.scope, &status).await?;
                Ok(true)
            }
            Err(error) => {
                status.failures += 1;
                status.last_error = Some(error.clone());
                status.last_error_at = Some(now);
                let backoff = Duration::from_secs(1)
                    .saturating_mul(2u32.saturating_pow(status.failures.min(16) as u32 - 1))
                    .min(MAX_BACKOFF);
                self.retry_at.insert(target.scope, Instant::now() + backoff);
                tracing::warn!(scope = %target.scope, endpoint = %target.endpoint, failures = status.failures, ?backoff, error, "statement forwarding failed");
                save_forwarder_status(&self.db, &target.scope, &status).await?;
                Ok(false)
            }
        }
    }

    /// Posts statements to the target, with their attachments when they have any.
    async fn post(
        &self,
        target: &Target,
        statements: &[(Value, Vec<StoredAttachment>)],
    ) -> Result<(), String> {
        // The target sets its own `stored` and `authority`. A 1.0.3 target cannot take a
        // 2.0 `version`: the statement goes without one (and the target refuses it if it uses
        // what only 2.0 has; the status then shows why).
        let one_target = !target.xapi_version.starts_with("2.");
        let body: Vec<Value> = statements
            .iter()
            .map(|(statement, _)| {
                let mut statement = statement.clone();
                if let Value::Object(map) = &mut statement {
                    map.remove("stored");
                    map.remove("authority");
                    let two = map
                        .get("version")
                        .and_then(Value::as_str)
                        .is_some_and(|v| v.starts_with("2."));
                    if one_target && two {
                        map.remove("version");
                    }
                }
                statement
            })
            .collect();
        let json = serde_json::to_vec(&body).expect("json serializes");
        let mut attachments: Vec<(StoredAttachment, Vec<u8>)> = Vec::new();
        for attachment in statements.iter().flat_map(|(_, a)| a) {
            if attachments.iter().any(|(a, _)| a.sha2 == attachment.sha2) {
                continue;
            }
            let key: BlobKey = attachment.blob.parse().map_err(|e| format!("{e}"))?;
            let bytes = match self.blobs.get(&key).await {
                Ok(Some(blob)) => blob.bytes().await.map_err(|e| e.to_string())?,
                Ok(None) => return Err(format!("attachment blob {key} is missing")),
                Err(err) => return Err(err.to_string()),
            };
            attachments.push((attachment.clone(), bytes));
        }
        let url = format!("{}/statements", target.endpoint);
        let mut request = self
            .client
            .post(&url)
            .header("X-Experience-API-Version", &target.xapi_version);
        if let Some(authorization) = &target.authorization {
            request = request.header("Authorization", authorization);
        }
        request = if attachments.is_empty() {
            request
                .header("Content-Type", "application/json")
                .body(json)
        } else {
            let parts: Vec<OutPart<'_>> = attachments
                .iter()
                .map(|(a, bytes)| OutPart {
                    content_type: &a.content_type,
                    sha2: &a.sha2,
                    content: bytes,
                })
                .collect();
            let boundary = format!("forward-{}", uuid::Uuid::new_v4().simple());
            request
                .header(
                    "Content-Type",
                    format!("multipart/mixed; boundary={boundary}"),
                )
                .body(multipart::build(&boundary, &json, &parts))
        };
        let response = request
            .send()
            .await
            .map_err(|e| format!("POST {url}: {e}"))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let text = response.text().await.unwrap_or_default();
        let text: String = text.chars().take(500).collect();
        Err(format!("POST {url} answered {status}: {text}"))
    }
}
