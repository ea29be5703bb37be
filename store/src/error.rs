//! Errors of the storage layer.

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The log or a view holds something this build cannot read.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("the event log writer has stopped")]
    Closed,
    #[error("blob storage i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("s3 error: {0}")]
    S3(String),
}
