//! State, Activity Profile and Agent Profile documents (projection `lrs_documents`).

use chrono::{DateTime, Utc};
use domain::events::Event;
use domain::lrs::document::{DocumentContent, DocumentEvent, Resource};
use domain::tenancy::Scope;
use store::StoreError;
use store::db::{Database, Row, Tx, sql};
use uuid::Uuid;

use super::{aggregate_of, scope_of};
use crate::runtime::{Envelope, Projection, ProjectionError};
use crate::workspaces::timestamp;

pub struct DocumentsView;

/// The document id part of a document stream id (`lrs_document:<ws>:<env>:<local id>`).
fn local_id(stream_id: &str) -> &str {
    stream_id.rsplit(':').next().unwrap_or(stream_id)
}

#[async_trait::async_trait]
impl Projection for DocumentsView {
    fn name(&self) -> &'static str {
        "lrs_documents"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["lrs_documents"]
    }

    fn handles(&self, event_type: &str) -> bool {
        aggregate_of(event_type) == Some("lrs_document")
    }

    async fn apply(&self, tx: &mut Tx, envelope: &Envelope<'_>) -> Result<(), ProjectionError> {
        let Event::LrsDocument(event) = &envelope.event else {
            return Ok(());
        };
        let scope = scope_of(envelope)?;
        let doc_key = local_id(&envelope.record.stream_id);
        match event {
            DocumentEvent::DocumentWritten {
                key,
                content_type,
                content,
                etag,
                at,
            } => {
                let (encoding, text) = match content {
                    DocumentContent::Utf8 { text } => ("utf8", text),
                    DocumentContent::Base64 { data } => ("base64", data),
                };
                tx.execute(
                    sql("INSERT INTO lrs_documents (workspace_id, environment, doc_key, resource, \
                         activity_key, agent_key, registration, document_id, content_type, encoding, \
                         content, etag, updated, updated_ms) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                         ON CONFLICT (workspace_id, environment, doc_key) DO UPDATE SET \
                         content_type = excluded.content_type, encoding = excluded.encoding, \
                         content = excluded.content, etag = excluded.etag, updated = excluded.updated, \
                         updated_ms = excluded.updated_ms")
                    .bind(scope.workspace_id().to_string())
                    .bind(scope.environment().as_str())
                    .bind(doc_key)
                    .bind(key.resource.as_str())
                    .bind(key.activity_key().unwrap_or_default())
                    .bind(key.agent_key().unwrap_or_default())
                    .bind(key.registration.map(|r| r.to_string()).unwrap_or_default())
                    .bind(&key.document_id)
                    .bind(content_type)
                    .bind(encoding)
                    .bind(text)
                    .bind(etag)
                    .bind(timestamp(at))
                    .bind(at.timestamp_millis()),
                )
                .await?;
            }
            DocumentEvent::DocumentDeleted { .. } => {
                tx.execute(
                    sql(
                        "DELETE FROM lrs_documents WHERE workspace_id = $1 AND environment = $2 \
                         AND doc_key = $3",
                    )
                    .bind(scope.workspace_id().to_string())
                    .bind(scope.environment().as_str())
                    .bind(doc_key),
                )
                .await?;
            }
        }
        Ok(())
    }
}

/// A stored document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentRow {
    pub doc_key: String,
    pub document_id: String,
    pub content_type: String,
    pub content: Vec<u8>,
    pub etag: String,
    /// RFC 3339, milliseconds.
    pub updated: String,
}

fn document_row(row: &Row) -> Result<DocumentRow, StoreError> {
    let encoding: String = row.get(3)?;
    let content: String = row.get(4)?;
    let content = match encoding.as_str() {
        "utf8" => DocumentContent::Utf8 { text: content },
        _ => DocumentContent::Base64 { data: content },
    };
    Ok(DocumentRow {
        doc_key: row.get(0)?,
        document_id: row.get(1)?,
        content_type: row.get(2)?,
        content: content.to_bytes(),
        etag: row.get(5)?,
        updated: row.get(6)?,
    })
}

const COLUMNS: &str = "doc_key, document_id, content_type, encoding, content, etag, updated";

/// The document whose [`DocumentKey::local_id`](domain::lrs::document::DocumentKey::local_id)
/// is `doc_key`.
pub async fn document(
    db: &Database,
    scope: &Scope,
    doc_key: &str,
) -> Result<Option<DocumentRow>, StoreError> {
    let row = db
        .fetch_optional(
            sql(format!(
                "SELECT {COLUMNS} FROM lrs_documents WHERE workspace_id = $1 AND environment = $2 \
                 AND doc_key = $3"
            ))
            .bind(scope.workspace_id().to_string())
            .bind(scope.environment().as_str())
            .bind(doc_key),
        )
        .await?;
    row.as_ref().map(document_row).transpose()
}

/// Which documents of a resource a multi-document request addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentSet<'a> {
    pub resource: Resource,
    /// Normalized activity id (State, Activity Profile).
    pub activity_key: Option<&'a str>,
    /// Agent IFI key (State, Agent Profile).
    pub agent_key: Option<&'a str>,
    /// State only; `None` addresses the documents without a registration.
    pub registration: Option<Uuid>,
    /// Updated strictly after.
    pub since: Option<DateTime<Utc>>,
}

/// The documents of `set`, oldest update first.
pub async fn documents(
    db: &Database,
    scope: &Scope,
    set: &DocumentSet<'_>,
) -> Result<Vec<DocumentRow>, StoreError> {
    let rows = db
        .fetch_all(
            sql(format!(
                "SELECT {COLUMNS} FROM lrs_documents WHERE workspace_id = $1 AND environment = $2 \
                 AND resource = $3 AND activity_key = $4 AND agent_key = $5 AND registration = $6 \
                 AND updated_ms > $7 ORDER BY updated_ms, document_id"
            ))
            .bind(scope.workspace_id().to_string())
            .bind(scope.environment().as_str())
            .bind(set.resource.as_str())
            .bind(set.activity_key.unwrap_or_default())
            .bind(set.agent_key.unwrap_or_default())
            .bind(set.registration.map(|r| r.to_string()).unwrap_or_default())
            .bind(set.since.map_or(i64::MIN, |s| s.timestamp_millis())),
        )
        .await?;
    rows.iter().map(document_row).collect()
}
