//! The write side of the integrated LRS: its events, its aggregates and the rules that decide
//! them. The xAPI rules themselves (validation, comparison, rendering, documents) live in
//! [`crate::xapi`]; this module turns their answers into facts for the log.
//!
//! - [`statement`]: `StatementStored`, one event per statement, in a stream of its own
//!   (`lrs_statement:<workspace>:<environment>:<statement id>`), so the log's expected version
//!   0 is what makes a statement id unique; duplicates are judged with
//!   [`crate::xapi::compare`].
//! - [`document`]: the `LrsDocument` aggregate (State, Activity Profile, Agent Profile), one
//!   per document, deciding ETag preconditions and JSON merges.
//! - [`credential`]: LRS credentials (HTTP Basic key/secret with xAPI scopes) and what each
//!   scope allows.
//! - [`launch`]: launch-scoped tokens bound to one actor and registration.
//! - [`forwarding`]: the per-workspace forwarding target.
//! - [`objects`]: the Activities and Agents learnt from statements.
//! - [`progress`]: what statements about a course activity say about a registration's progress.
//!
//! Every LRS event belongs to one workspace environment; the environment is in the event's
//! metadata and in its stream id, never in its payload.

pub mod credential;
pub mod document;
pub mod forwarding;
pub mod launch;
pub mod objects;
pub mod progress;
pub mod statement;
