//! The AllureConnect server: REST `/api/v1`, health, OpenAPI, and the
//! commands of the `allureconnect` binary.
//!
//! HTTP handlers extract a [`auth::Caller`] (whose scope names the
//! workspace), call a command or a view query, and map errors in one place
//! ([`error`]). They write no SQL.

pub mod allocator;
pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod entry;
pub mod error;
pub mod import;
pub mod keys;
pub mod lrs;
pub mod openapi;
pub mod platform;
pub mod routes;
pub mod state;
pub mod telemetry;
pub mod webhooks;
