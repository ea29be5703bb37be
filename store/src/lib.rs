//! Storage adapters of AllureConnect: the event log on SQLite and
//! PostgreSQL, its cqrs-es repository, and the content-addressed blob store
//! on a local directory or S3.
//!
//! This crate owns every byte written to disk or sent to a database; the
//! crates above it never write SQL for the log, and views write only their
//! own tables through [`db`].

pub mod blob;
pub mod commands;
pub mod db;
mod error;
pub mod log;
pub mod repository;
pub mod testing;

pub use error::StoreError;
