//! Test support shared by every crate's tests: a database that exists for
//! one test only, and the settings of the outside services the test command
//! starts.
//!
//! Environment:
//! - `TEST_DATABASE_URL`: unset runs the suite on a fresh SQLite file per
//!   test; `postgres://…` runs it on PostgreSQL, a fresh schema per test.
//! - `TEST_POSTGRES_URL`: PostgreSQL for tests that are about PostgreSQL
//!   itself (ordering under concurrent writers), whatever the suite runs on.
//! - `TEST_S3_ENDPOINT`, `TEST_S3_BUCKET` (+ the standard AWS credential
//!   variables): a real S3-protocol server.
//! - `ALLURECONNECT_TESTS_REQUIRE_SERVICES=1` (set by `tests/run`) or
//!   `CI=true`: a missing service fails the test instead of skipping it.

use std::path::PathBuf;

use uuid::Uuid;

use crate::blob::{BlobConfig, S3Config};
use crate::db::{Database, DbOptions};

/// Whether a test must fail rather than skip when its service is missing.
pub fn services_required() -> bool {
    let set = |name: &str| {
        std::env::var(name)
            .map(|v| matches!(v.as_str(), "1" | "true" | "yes"))
            .unwrap_or(false)
    };
    set("ALLURECONNECT_TESTS_REQUIRE_SERVICES") || set("CI")
}

/// Returns the variable's value, or `None` after printing why the test is
/// skipped; panics instead when services are required.
pub fn service_env(name: &str, what: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => Some(value),
        _ if services_required() => panic!("{what} is required here but {name} is not set"),
        _ => {
            eprintln!("skipped: {what} not configured ({name} unset; tests/run starts it)");
            None
        }
    }
}

/// A database that exists for one test only.
pub struct TestDb {
    url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh SQLite file, or a fresh schema when `TEST_DATABASE_URL` is
    /// PostgreSQL.
    pub async fn new() -> TestDb {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(base) if base.starts_with("postgres") => TestDb::postgres(&base).await,
            _ => TestDb::sqlite(),
        }
    }

    /// A fresh SQLite file, whatever the suite runs on.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("failed to create a temp dir");
        let url = format!("sqlite://{}", dir.path().join("allureconnect.db").display());
        TestDb {
            url,
            _dir: Some(dir),
        }
    }

    /// A fresh schema on the PostgreSQL server at `base`.
    pub async fn postgres(base: &str) -> TestDb {
        let admin = sqlx::PgPool::connect(base)
            .await
            .expect("failed to connect to the test PostgreSQL server");
        let schema = format!("t_{}", Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!(r#"CREATE SCHEMA "{schema}""#)))
            .execute(&admin)
            .await
            .expect("failed to create the test schema");
        admin.close().await;
        let separator = if base.contains('?') { '&' } else { '?' };
        // Every connection opened on this URL resolves unqualified names in `schema`.
        let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
        TestDb { url, _dir: None }
    }

    /// Another handle on an existing test database (a second server on the
    /// same database); it deletes nothing when dropped.
    pub fn shared(url: &str) -> TestDb {
        TestDb {
            url: url.to_owned(),
            _dir: None,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn is_postgres(&self) -> bool {
        self.url.starts_with("postgres")
    }

    /// Connects and applies the migrations.
    pub async fn connect(&self) -> Database {
        let db = Database::connect(&self.url, &DbOptions::default())
            .await
            .expect("failed to connect to the test database");
        db.migrate()
            .await
            .expect("failed to migrate the test database");
        db
    }
}

/// S3 settings of the test server, under a prefix unique to this test, or
/// `None` (skipped) when no server is configured.
pub fn s3_config() -> Option<BlobConfig> {
    let endpoint = service_env("TEST_S3_ENDPOINT", "an S3-protocol server")?;
    let bucket = std::env::var("TEST_S3_BUCKET").unwrap_or_else(|_| "allureconnect".into());
    Some(BlobConfig::S3(S3Config {
        bucket,
        prefix: format!("test-{}", Uuid::new_v4().simple()),
        endpoint: Some(endpoint),
        region: Some(std::env::var("TEST_S3_REGION").unwrap_or_else(|_| "us-east-1".into())),
        path_style: true,
        spool_dir: None,
    }))
}

/// A local blob directory that exists for one test only.
pub fn local_blob_config() -> (BlobConfig, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("failed to create a temp dir");
    let root: PathBuf = dir.path().join("blobs");
    (BlobConfig::Local { root }, dir)
}

/// `len` bytes that do not compress, the same for the same `seed`
/// (xorshift32), for test packages and blobs.
pub fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect()
}
