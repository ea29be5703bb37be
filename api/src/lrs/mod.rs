//! The integrated LRS without its HTTP face: storing statements and documents as events,
//! issuing launch tokens, and the forwarder.
//!
//! Every xAPI rule is [`domain::xapi`]'s and [`domain::lrs`]'s; this module does what they
//! cannot: it draws ids and times, stores attachment bytes in the blob store, appends to the
//! log, looks up what a rule needs (an existing statement, a document's last event), and
//! waits for the views.
//!
//! Statements take the group-commit path of the log: a batch is one append of one new stream
//! per statement (expected version 0), so concurrent requests share transactions and a
//! statement id is unique by the log's own index.

pub mod auth;
pub mod forwarder;
pub mod multipart;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use domain::events::EventMetadata;
use domain::lrs::document::{DocumentCommand, DocumentError, DocumentEvent, LrsDocument};
use domain::lrs::launch::{
    LaunchRestriction, LaunchTokenCommand, LaunchTokenError, NewLaunchToken,
};
use domain::lrs::statement::{
    self as lrs_statement, Duplicate, StatementEvent, StatementEventRef, StoredAttachment,
};
use domain::tenancy::Scope;
use domain::xapi::attachment::{AttachmentPart, match_attachment_parts, sha256_hex};
use domain::xapi::signature::{RsaX5cVerifier, check_signature, signature_attachments};
use domain::xapi::statement::{PreparedStatement, StatementIndex, VoidTarget, voiding_decision};
use domain::xapi::{ValidationErrors, XapiError, XapiVersion};
use projections::Projections;
use rand::RngCore;
use serde_json::Value;
use store::StoreError;
use store::blob::BlobStore;
use store::commands::{CommandError, Commands};
use store::log::{AppendError, Checkpoint, EventLog, ExpectedVersion, NewEvent, StreamAppend};
use uuid::Uuid;

/// How often a write is decided again after losing a race for its streams.
const RETRIES: usize = 4;

/// The projections that show statements: `GET /xapi/statements`, Activities and Agents read
/// them.
pub const STATEMENT_VIEWS: [&str; 2] = ["lrs_statements", "lrs_objects"];

/// Why an LRS write or read did not happen.
#[derive(Debug, thiserror::Error)]
pub enum LrsError {
    /// 400: the statement, document or parameters break an xAPI rule.
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    /// 409: a statement with this id and different content is stored.
    #[error("statement {id} is already stored with different content (first difference at {path})")]
    StatementConflict { id: Uuid, path: String },
    /// 403: the credential may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// 412, 409, 400 or 413: the document rules refused the write.
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// 409: other writers kept changing the same streams.
    #[error("the resource changed concurrently; retry the request")]
    Concurrent,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<XapiError> for LrsError {
    fn from(error: XapiError) -> Self {
        LrsError::Invalid(error.into())
    }
}

impl From<AppendError> for LrsError {
    fn from(error: AppendError) -> Self {
        match error {
            AppendError::Conflict { .. } => LrsError::Concurrent,
            AppendError::Store(err) => LrsError::Store(err),
        }
    }
}

/// One attachment part of a multipart statement request.
#[derive(Debug, Clone)]
pub struct Part {
    pub content_type: String,
    /// `X-Experience-API-Hash`.
    pub hash: String,
    pub content: Bytes,
}

/// What a statement write stored.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The ids of the statements, in request order (also those already stored).
    pub ids: Vec<Uuid>,
    /// The checkpoint of the last event appended, if anything was.
    pub checkpoint: Option<Checkpoint>,
}

/// A launch token as issued: `auth` is what the launched content sends as its
/// `Authorization` header.
#[derive(Debug, Clone)]
pub struct IssuedLaunchToken {
    pub token_id: String,
    /// `Basic base64(token_id:secret)`.
    pub auth: String,
    pub expires_at: DateTime<Utc>,
    pub checkpoint: Option<Checkpoint>,
}

/// The LRS of every workspace.
#[derive(Clone)]
pub struct Lrs {
    log: EventLog,
    blobs: BlobStore,
    projections: Projections,
    unseen: Arc<Mutex<Unseen>>,
    /// The xAPI version each caller last sent (see [`Lrs::last_version`]).
    versions: Arc<Mutex<HashMap<String, XapiVersion>>>,
}

/// At most this many appended writes are remembered one by one while the statement views
/// are behind; beyond it they are remembered together (see [`Unseen::overflow`]).
const UNSEEN_WRITES: usize = 100_000;

/// The statement writes of this process that the statement views may not show yet: what
/// [`Lrs::consistent_through`] and [`Lrs::see_own_writes`] are computed from.
#[derive(Default)]
struct Unseen {
    /// Writes between their `stored` time and their append: stored time (ms) → how many.
    appending: BTreeMap<i64, usize>,
    /// Appended writes, by the checkpoint of their last event → their stored time (ms).
    appended: BTreeMap<Checkpoint, i64>,
    /// Appended writes beyond [`UNSEEN_WRITES`]: the oldest stored time and the last
    /// checkpoint among them.
    overflow: Option<(i64, Checkpoint)>,
    /// Each caller's last appended write.
    callers: HashMap<String, Checkpoint>,
    /// Where the statement views were last seen.
    seen: Checkpoint,
}

impl Unseen {
    fn appended(&mut self, stored_ms: i64, checkpoint: Checkpoint, caller: &str) {
        if self.appended.len() < UNSEEN_WRITES {
            let oldest = self.appended.entry(checkpoint).or_insert(stored_ms);
            *oldest = (*oldest).min(stored_ms);
        } else {
            let (oldest, last) = self.overflow.unwrap_or((stored_ms, checkpoint));
            self.overflow = Some((oldest.min(stored_ms), last.max(checkpoint)));
        }
        if self.callers.len() >= UNSEEN_WRITES {
            let seen = self.seen;
            self.callers.retain(|_, at| *at > seen);
            if self.callers.len() >= UNSEEN_WRITES {
                // Read-your-writes is then only as good as the views' lag.
                self.callers.clear();
            }
        }
        let last = self.callers.entry(caller.to_owned()).or_insert(checkpoint);
        *last = (*last).max(checkpoint);
    }

    /// Forgets the writes the views show, now that they are at `seen`.
    fn seen(&mut self, seen: Checkpoint) {
        self.seen = self.seen.max(seen);
        let after = Checkpoint {
            tx: self.seen.tx,
            position: self.seen.position + 1,
        };
        self.appended = self.appended.split_off(&after);
        if self.overflow.is_some_and(|(_, last)| last <= self.seen) {
            self.overflow = None;
        }
    }

    /// The stored time (ms) of the oldest write the views may not show.
    fn oldest(&self) -> Option<i64> {
        let appending = self.appending.keys().next().copied();
        let appended = self.appended.values().min().copied();
        let overflow = self.overflow.map(|(oldest, _)| oldest);
        [appending, appended, overflow].into_iter().flatten().min()
    }
}

/// A statement write from its `stored` time until its append; see
/// [`Lrs::consistent_through`].
pub struct InFlight {
    lrs: Lrs,
    stored_ms: i64,
    caller: String,
}

impl InFlight {
    /// The write is in the log up to `checkpoint`: it stays unseen until the statement views
    /// reach it.
    fn appended(self, checkpoint: Checkpoint) {
        self.lrs
            .unseen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .appended(self.stored_ms, checkpoint, &self.caller);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut unseen = self.lrs.unseen.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = unseen.appending.get_mut(&self.stored_ms) {
            *count -= 1;
            if *count == 0 {
                unseen.appending.remove(&self.stored_ms);
            }
        }
    }
}

fn new_event<E: serde::Serialize>(kind: &str, event: &E, metadata: &EventMetadata) -> NewEvent {
    NewEvent {
        event_type: kind.to_owned(),
        schema_version: 1,
        payload: serde_json::to_string(event).expect("events serialize"),
        metadata: metadata.clone(),
    }
}

impl Lrs {
    pub fn new(log: EventLog, blobs: BlobStore, projections: Projections) -> Lrs {
        Lrs {
            log,
            blobs,
            projections,
            unseen: Arc::new(Mutex::new(Unseen::default())),
            versions: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Remembers the version `caller` (a [`auth::LrsCaller::actor`]) spoke.
    pub fn remember_version(&self, caller: &str, version: XapiVersion) {
        let mut versions = self.versions.lock().unwrap_or_else(|p| p.into_inner());
        if versions.get(caller) != Some(&version) {
            if versions.len() >= 100_000 {
                versions.clear();
            }
            versions.insert(caller.to_owned(), version);
        }
    }

    /// The version `caller` last spoke in this process: how a request without the version
    /// header is answered (in memory only; it is a courtesy, not a fact).
    pub fn last_version(&self, caller: &str) -> Option<XapiVersion> {
        self.versions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(caller)
            .copied()
    }

    /// Marks a statement write by `caller` (a [`auth::LrsCaller::actor`]) with `stored` time
    /// `at` as under way: take it before preparing the statements, and hand it to
    /// [`Lrs::store_statements`].
    pub fn in_flight(&self, at: DateTime<Utc>, caller: &str) -> InFlight {
        let stored_ms = at.timestamp_millis();
        *self
            .unseen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .appending
            .entry(stored_ms)
            .or_insert(0) += 1;
        InFlight {
            lrs: self.clone(),
            stored_ms,
            caller: caller.to_owned(),
        }
    }

    /// Where both statement views are, or `None` when one of them is stopped.
    async fn statement_views_reached(&self) -> Option<Checkpoint> {
        let mut reached: Option<Checkpoint> = None;
        for view in STATEMENT_VIEWS {
            match self.projections.reached(view).await {
                Ok(Some(at)) => reached = Some(reached.map_or(at, |r| r.min(at))),
                Ok(None) => return None,
                Err(err) => {
                    tracing::warn!(view, error = %err, "could not read where a statement view is");
                    return None;
                }
            }
        }
        reached
    }

    /// `X-Experience-API-Consistent-Through`: every statement stored before this instant is
    /// visible to queries. Statement writes answer once they are in the log, before their
    /// views show them, so the instant is just before the oldest write of this process that
    /// the views may not show yet (under way, or appended past where the views are), or
    /// `now`. (With several processes on one PostgreSQL database, another process's writes
    /// are not seen here.)
    pub async fn consistent_through(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let reached = self.statement_views_reached().await;
        let oldest = {
            let mut unseen = self.unseen.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(reached) = reached {
                unseen.seen(reached);
            }
            unseen.oldest()
        };
        match oldest.and_then(|ms| DateTime::from_timestamp_millis(ms - 1)) {
            Some(before) if before < now => before,
            _ => now,
        }
    }

    /// Waits (up to `timeout`) until the statement views show every statement `caller` has
    /// written through this process: a client reads its own writes, while writers never
    /// wait for the views. Says whether the views show them.
    pub async fn see_own_writes(&self, caller: &str, timeout: Duration) -> bool {
        let last = self
            .unseen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .callers
            .get(caller)
            .copied();
        let Some(last) = last else { return true };
        let seen = self.settle(&STATEMENT_VIEWS, Some(last), timeout).await;
        if seen {
            let mut unseen = self.unseen.lock().unwrap_or_else(|p| p.into_inner());
            if unseen.callers.get(caller) == Some(&last) {
                unseen.callers.remove(caller);
            }
        }
        seen
    }

    /// Stores prepared statements (all or none), with their attachment parts, and answers
    /// once they are in the log; the statement views show them a little later (see
    /// [`Lrs::consistent_through`] and [`Lrs::see_own_writes`]).
    ///
    /// Statements whose id is already stored with the same content are left out and still
    /// reported in [`Stored::ids`]; one with different content refuses the whole request.
    pub async fn store_statements(
        &self,
        scope: &Scope,
        statements: Vec<PreparedStatement>,
        parts: Vec<Part>,
        restriction: Option<&LaunchRestriction>,
        metadata: &EventMetadata,
        write: InFlight,
    ) -> Result<Stored, LrsError> {
        if let Some(restriction) = restriction {
            for statement in &statements {
                restriction
                    .check_statement(&statement.statement)
                    .map_err(LrsError::Forbidden)?;
            }
        }
        let received: Vec<&Value> = statements.iter().map(|s| &s.received).collect();
        let views: Vec<AttachmentPart<'_>> = parts
            .iter()
            .map(|p| AttachmentPart {
                hash: &p.hash,
                content: &p.content,
            })
            .collect();
        match_attachment_parts(&received, &views)?;
        self.check_signatures(&statements, &parts)?;
        self.check_voiding(scope, &statements).await?;
        let attachments = self.keep_parts(&parts).await?;

        let ids: Vec<Uuid> = statements.iter().map(|s| s.id).collect();
        let mut pending = statements;
        let mut attempt = 0;
        loop {
            attempt += 1;
            if pending.is_empty() {
                return Ok(Stored {
                    ids,
                    checkpoint: None,
                });
            }
            let appends: Vec<StreamAppend> = pending
                .iter()
                .map(|statement| {
                    let attachments = attachments_of(&statement.received, &attachments);
                    let event = StatementEventRef::StatementStored {
                        statement: &statement.statement,
                        attachments: &attachments,
                    };
                    StreamAppend {
                        stream_id: lrs_statement::stream_id(scope, statement.id),
                        expected: ExpectedVersion::Exact(0),
                        events: vec![new_event(event.kind(), &event, metadata)],
                    }
                })
                .collect();
            match self.log.append(appends).await {
                Ok(appended) => {
                    let checkpoint = appended.last();
                    if let Some(checkpoint) = checkpoint {
                        write.appended(checkpoint);
                    }
                    return Ok(Stored { ids, checkpoint });
                }
                Err(AppendError::Conflict { .. }) if attempt < RETRIES => {
                    pending = self.without_duplicates(scope, pending).await?;
                }
                Err(AppendError::Conflict { .. }) => return Err(LrsError::Concurrent),
                Err(AppendError::Store(err)) => return Err(err.into()),
            }
        }
    }

    /// Leaves out the statements already stored with the same content; refuses a changed one.
    async fn without_duplicates(
        &self,
        scope: &Scope,
        statements: Vec<PreparedStatement>,
    ) -> Result<Vec<PreparedStatement>, LrsError> {
        let mut kept = Vec::with_capacity(statements.len());
        for statement in statements {
            match self.stored_statement(scope, statement.id).await? {
                None => kept.push(statement),
                Some(stored) => match lrs_statement::duplicate(&stored, &statement.received) {
                    Duplicate::Same => {}
                    Duplicate::Conflict(path) => {
                        return Err(LrsError::StatementConflict {
                            id: statement.id,
                            path,
                        });
                    }
                },
            }
        }
        Ok(kept)
    }

    /// The stored form of statement `id`, read from its stream (not a view, so it is never
    /// behind).
    async fn stored_statement(&self, scope: &Scope, id: Uuid) -> Result<Option<Value>, LrsError> {
        let Some(event) = self
            .log
            .last_event(&lrs_statement::stream_id(scope, id))
            .await?
        else {
            return Ok(None);
        };
        let event: StatementEvent = serde_json::from_str(&event.payload).map_err(|e| {
            LrsError::Internal(anyhow::anyhow!("statement {id} event is unreadable: {e}"))
        })?;
        Ok(Some(event.statement().clone()))
    }

    fn check_signatures(
        &self,
        statements: &[PreparedStatement],
        parts: &[Part],
    ) -> Result<(), LrsError> {
        for (s, statement) in statements.iter().enumerate() {
            for (index, attachment) in signature_attachments(&statement.received) {
                let sha2 = attachment.get("sha2").and_then(Value::as_str).unwrap_or("");
                let part = parts
                    .iter()
                    .find(|p| p.hash.eq_ignore_ascii_case(sha2))
                    .ok_or_else(|| {
                        XapiError::new(
                            domain::xapi::ErrorCode::InvalidSignature,
                            format!("$[{s}].attachments[{index}]"),
                            "the signature attachment has no part",
                        )
                    })?;
                check_signature(&statement.received, index, &part.content, &RsaX5cVerifier)?;
            }
        }
        Ok(())
    }

    /// Refuses to void a voiding statement (in the log or earlier in the batch).
    async fn check_voiding(
        &self,
        scope: &Scope,
        statements: &[PreparedStatement],
    ) -> Result<(), LrsError> {
        for statement in statements {
            let Some(target) = statement.index.voids else {
                continue;
            };
            let in_batch = statements.iter().find(|s| s.id == target);
            let target_kind = match in_batch {
                Some(found) => kind_of(&found.index),
                None => match self.stored_statement(scope, target).await? {
                    Some(stored) => kind_of(&StatementIndex::of(&stored)),
                    None => VoidTarget::Unknown,
                },
            };
            if let Some(Err(error)) = voiding_decision(&statement.index, target_kind) {
                return Err(error.into());
            }
        }
        Ok(())
    }

    /// Stores attachment bytes in the blob store, once per distinct part.
    async fn keep_parts(&self, parts: &[Part]) -> Result<Vec<StoredAttachment>, LrsError> {
        let mut kept = Vec::with_capacity(parts.len());
        let mut seen = HashSet::new();
        for part in parts {
            let sha2 = part.hash.to_ascii_lowercase();
            if !seen.insert(sha2.clone()) {
                continue;
            }
            let info = self.blobs.put_bytes(&part.content).await?;
            kept.push(StoredAttachment {
                sha2,
                blob: info.key.to_string(),
                content_type: part.content_type.clone(),
                length: info.size,
            });
        }
        Ok(kept)
    }

    /// Waits (bounded) until `views` show `checkpoint`, and says whether they do; a slow
    /// view delays the answer but never fails the request (a write has happened).
    pub async fn settle(
        &self,
        views: &[&str],
        checkpoint: Option<Checkpoint>,
        timeout: Duration,
    ) -> bool {
        let Some(checkpoint) = checkpoint else {
            return true;
        };
        for view in views {
            if let Err(err) = self.projections.wait_for(view, checkpoint, timeout).await {
                tracing::warn!(view, position = checkpoint.position, error = %err, "lrs request answered before a view caught up");
                return false;
            }
        }
        true
    }

    /// Runs a document command against the document's current state (its stream's last
    /// event) and appends what it decides, deciding again if another writer got there first.
    pub async fn document(
        &self,
        scope: &Scope,
        local_id: &str,
        command: DocumentCommand,
        metadata: &EventMetadata,
        settle: Duration,
    ) -> Result<Option<Checkpoint>, LrsError> {
        let stream = scope.stream_id(domain::lrs::document::STREAM_TYPE, local_id);
        for _ in 0..RETRIES {
            let last = self.log.last_event(&stream).await?;
            let (version, state) = match &last {
                Some(event) => {
                    let decoded: DocumentEvent =
                        serde_json::from_str(&event.payload).map_err(|e| {
                            LrsError::Internal(anyhow::anyhow!("document event is unreadable: {e}"))
                        })?;
                    (
                        event.stream_version as u64,
                        LrsDocument::after(Some(&decoded)),
                    )
                }
                None => (0, LrsDocument::default()),
            };
            let events = state.decide(command.clone())?;
            if events.is_empty() {
                return Ok(None);
            }
            let new: Vec<NewEvent> = events
                .iter()
                .map(|e| new_event(e.kind(), e, metadata))
                .collect();
            match self
                .log
                .append_to(&stream, ExpectedVersion::Exact(version), new)
                .await
            {
                Ok(appended) => {
                    let checkpoint = appended.last();
                    self.settle(&["lrs_documents"], checkpoint, settle).await;
                    return Ok(checkpoint);
                }
                Err(AppendError::Conflict { .. }) => continue,
                Err(AppendError::Store(err)) => return Err(err.into()),
            }
        }
        Err(LrsError::Concurrent)
    }

    /// Issues a launch token for `actor` and `registration` in `scope`, valid for `ttl`.
    ///
    /// This is what the player calls when it launches xAPI or cmi5 content: the content gets
    /// [`IssuedLaunchToken::auth`] as its `auth` launch parameter and can do nothing with
    /// it beyond what [`LaunchRestriction`] allows.
    #[allow(clippy::too_many_arguments)]
    pub async fn issue_launch_token(
        &self,
        commands: &Commands,
        scope: &Scope,
        actor: Value,
        registration: Uuid,
        activity_id: &str,
        ttl: Duration,
        metadata: &EventMetadata,
    ) -> Result<IssuedLaunchToken, CommandError<LaunchTokenError>> {
        let mut id = [0u8; 12];
        rand::rng().fill_bytes(&mut id);
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        let token = NewLaunchToken::from_random(id, secret);
        let at = Utc::now();
        let expires_at =
            at + chrono::Duration::from_std(ttl).map_err(|e| CommandError::Internal(e.into()))?;
        let checkpoint = commands
            .launch_token(
                &domain::lrs::launch::aggregate_id(scope, &token.token_id),
                LaunchTokenCommand::Issue {
                    token_id: token.token_id.clone(),
                    secret_hash: token.secret_hash.clone(),
                    actor,
                    registration,
                    activity_id: activity_id.to_owned(),
                    expires_at,
                    at,
                },
                metadata,
            )
            .await?;
        self.settle(&["lrs_credentials"], checkpoint, Duration::from_secs(10))
            .await;
        Ok(IssuedLaunchToken {
            auth: token.auth,
            token_id: token.token_id,
            expires_at,
            checkpoint,
        })
    }

    /// The blob store holding attachment contents.
    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }
}

fn kind_of(index: &StatementIndex) -> VoidTarget {
    if index.voids.is_some() {
        VoidTarget::Voiding
    } else {
        VoidTarget::Ordinary
    }
}

/// The kept attachments a received statement refers to by `sha2`.
fn attachments_of(received: &Value, kept: &[StoredAttachment]) -> Vec<StoredAttachment> {
    let mut out: Vec<StoredAttachment> = Vec::new();
    for attachment in received
        .get("attachments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let sha2 = attachment
            .get("sha2")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase();
        if let Some(found) = kept.iter().find(|k| k.sha2 == sha2)
            && !out.iter().any(|o| o.sha2 == sha2)
        {
            out.push(found.clone());
        }
    }
    out
}

/// The SHA-256 hex of `bytes` (what the LRS writes as `sha2` of parts it builds).
pub fn sha2_of(bytes: &[u8]) -> String {
    sha256_hex(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(position: i64) -> Checkpoint {
        Checkpoint { tx: 0, position }
    }

    #[test]
    fn the_oldest_unseen_write_is_under_way_or_appended_past_the_views() {
        let mut unseen = Unseen::default();
        assert_eq!(unseen.oldest(), None);
        unseen.appending.insert(1_000, 1);
        unseen.appended(900, at(10), "a");
        unseen.appended(950, at(12), "b");
        assert_eq!(unseen.oldest(), Some(900));
        unseen.seen(at(10));
        assert_eq!(unseen.oldest(), Some(950), "the views show position 10");
        unseen.seen(at(11));
        assert_eq!(unseen.oldest(), Some(950), "but not 12");
        unseen.seen(at(12));
        assert_eq!(
            unseen.oldest(),
            Some(1_000),
            "only the write under way is left"
        );
        unseen.appending.clear();
        assert_eq!(unseen.oldest(), None);
        unseen.seen(at(5));
        assert_eq!(unseen.seen, at(12), "views never go back");
    }

    #[test]
    fn writes_are_forgotten_in_the_order_the_views_apply_them() {
        // PostgreSQL checkpoints order by transaction first.
        let mut unseen = Unseen::default();
        unseen.appended(100, Checkpoint { tx: 7, position: 3 }, "a");
        unseen.appended(200, Checkpoint { tx: 8, position: 2 }, "a");
        unseen.seen(Checkpoint { tx: 7, position: 9 });
        assert_eq!(unseen.oldest(), Some(200));
        unseen.seen(Checkpoint { tx: 8, position: 2 });
        assert_eq!(unseen.oldest(), None);
        assert_eq!(
            unseen.callers.get("a"),
            Some(&Checkpoint { tx: 8, position: 2 }),
            "a caller's last write is its latest"
        );
    }

    #[test]
    fn writes_beyond_the_limit_are_remembered_together_until_the_views_pass_them_all() {
        let mut unseen = Unseen::default();
        for i in 0..UNSEEN_WRITES as i64 {
            unseen.appended(10_000 + i, at(i + 1), "a");
        }
        unseen.appended(500, at(UNSEEN_WRITES as i64 + 5), "a");
        unseen.appended(9_000, at(UNSEEN_WRITES as i64 + 9), "a");
        assert_eq!(unseen.appended.len(), UNSEEN_WRITES);
        assert_eq!(unseen.oldest(), Some(500));
        unseen.seen(at(UNSEEN_WRITES as i64 + 8));
        assert_eq!(
            unseen.oldest(),
            Some(500),
            "the overflow's last write is unseen"
        );
        unseen.seen(at(UNSEEN_WRITES as i64 + 9));
        assert_eq!(unseen.oldest(), None);
    }

    #[test]
    fn callers_whose_writes_the_views_show_make_room_for_others() {
        let mut unseen = Unseen::default();
        for i in 0..UNSEEN_WRITES as i64 {
            unseen.appended(1, at(i + 1), &format!("caller {i}"));
        }
        unseen.seen(at(UNSEEN_WRITES as i64 - 10));
        unseen.appended(1, at(UNSEEN_WRITES as i64 + 1), "newcomer");
        assert_eq!(
            unseen.callers.len(),
            11,
            "ten unseen callers and the newcomer"
        );
        assert!(
            unseen
                .callers
                .contains_key(&format!("caller {}", UNSEEN_WRITES - 1))
        );
    }
}
