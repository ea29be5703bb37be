//! The database schema, embedded in the binary: `sqlite/` and `postgres/`
//! hold the same tables in each dialect. The `events` table is the log;
//! every other table is a view that `allureconnect replay` can rebuild from
//! it.

use sqlx::migrate::Migrator;

/// Migrations of the SQLite backend.
pub static SQLITE: Migrator = sqlx::migrate!("./sqlite");

/// Migrations of the PostgreSQL backend.
pub static POSTGRES: Migrator = sqlx::migrate!("./postgres");
