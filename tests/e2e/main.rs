//! End-to-end tests: the real router or the real binary, a fresh database
//! per test (SQLite, or PostgreSQL when `TEST_DATABASE_URL` is set).

mod api_keys;
mod errors;
mod events;
mod health;
mod openapi;
mod process;
mod tenancy;
mod webhooks;
