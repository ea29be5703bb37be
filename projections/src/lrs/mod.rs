//! Views of the integrated LRS.
//!
//! | projection | tables | built from |
//! |---|---|---|
//! | `lrs_statements` | `lrs_scopes`, `lrs_statements`, `lrs_statement_index` | `StatementStored` |
//! | `lrs_objects` | `lrs_activities`, `lrs_agents` | `StatementStored` |
//! | `lrs_documents` | `lrs_documents` | `DocumentWritten`, `DocumentDeleted` |
//! | `lrs_credentials` | `lrs_credentials`, `lrs_launch_tokens` | credential and launch token events |
//! | `lrs_forwarding` | `lrs_forwarding` | forwarding events |
//!
//! The xAPI rules (which agents and activities a statement names, how definitions and
//! documents behave) come from [`domain::xapi`] and [`domain::lrs`]; these modules only
//! store their answers and look them up.

pub mod credentials;
pub mod documents;
pub mod forwarding;
pub mod objects;
pub mod statements;

use domain::tenancy::Scope;
use store::StoreError;
use store::db::{Tx, Value, sql};

use crate::runtime::{Envelope, ProjectionError};

/// The aggregate of a catalogue event type.
pub(crate) fn aggregate_of(event_type: &str) -> Option<&'static str> {
    domain::events::kind_of(event_type).map(|k| k.aggregate)
}

/// The scope an LRS event belongs to, from its metadata.
pub(crate) fn scope_of(envelope: &Envelope<'_>) -> Result<Scope, ProjectionError> {
    let metadata = &envelope.record.metadata;
    match (metadata.workspace_id, metadata.environment) {
        (Some(workspace), Some(environment)) => Ok(Scope::new(workspace, environment)),
        _ => Err(ProjectionError::Inconsistent(format!(
            "{} at position {} has no workspace environment",
            envelope.record.event_type, envelope.record.position
        ))),
    }
}

/// Runs `INSERT … VALUES ($1, …), (…)` for `rows` (each of `columns` values) in as few
/// statements as the placeholder limits allow, each followed by `tail` (`ON CONFLICT …`).
pub(crate) async fn insert_rows(
    tx: &mut Tx,
    head: &str,
    columns: usize,
    rows: Vec<Vec<Value>>,
    tail: &str,
) -> Result<(), StoreError> {
    insert_typed_rows(tx, head, &vec![""; columns], rows, tail).await
}

/// [`insert_rows`] with a SQL type per column (`""` for none) that each placeholder is cast
/// to: PostgreSQL types a bound NULL as text, which a BOOLEAN or DOUBLE PRECISION column
/// refuses.
pub(crate) async fn insert_typed_rows(
    tx: &mut Tx,
    head: &str,
    types: &[&str],
    rows: Vec<Vec<Value>>,
    tail: &str,
) -> Result<(), StoreError> {
    let columns = types.len();
    let per_statement = (8000 / columns).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Value>> = rows.by_ref().take(per_statement).collect();
        let mut text = String::with_capacity(head.len() + chunk.len() * columns * 6 + tail.len());
        text.push_str(head);
        text.push_str(" VALUES ");
        let mut n = 0;
        for (r, row) in chunk.iter().enumerate() {
            debug_assert_eq!(row.len(), columns);
            if r > 0 {
                text.push(',');
            }
            text.push('(');
            for (c, ty) in types.iter().enumerate() {
                if c > 0 {
                    text.push(',');
                }
                n += 1;
                if ty.is_empty() {
                    text.push('$');
                    text.push_str(&n.to_string());
                } else {
                    text.push_str(&format!("CAST(${n} AS {ty})"));
                }
            }
            text.push(')');
        }
        text.push(' ');
        text.push_str(tail);
        let mut query = sql(text);
        for value in chunk.into_iter().flatten() {
            query = query.bind(value);
        }
        tx.execute(query).await?;
    }
    Ok(())
}

/// `$first, $first+1, …` for an `IN (…)` list of `count` values.
pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(",")
}
