//! End-to-end tests: the real router or the real binary, a fresh database
//! per test (SQLite, or PostgreSQL when `TEST_DATABASE_URL` is set).

mod api_keys;
mod browser_cmi;
mod browser_player;
mod browser_server;
mod browser_xapi;
mod errors;
mod events;
mod health;
mod import;
mod lrs;
mod lrs_access;
mod lrs_documents;
mod lrs_forwarding;
mod lrs_launch;
mod lrs_views;
mod openapi;
mod process;
mod runtime;
mod tenancy;
mod webhooks;
