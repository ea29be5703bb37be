//! The platform without its HTTP face: storage, the log, projections and
//! the command side, as `serve` and the other commands share them.

use anyhow::Context;
use projections::Projections;
use store::blob::BlobStore;
use store::db::{Database, redact_url};
use store::log::EventLog;

use crate::config::StorageSettings;
use crate::lrs::Lrs;
use store::commands::Commands;

/// Everything a command of the binary needs.
#[derive(Clone)]
pub struct Platform {
    pub db: Database,
    pub log: EventLog,
    pub blobs: BlobStore,
    pub projections: Projections,
    pub commands: Commands,
    pub lrs: Lrs,
}

impl Platform {
    /// Connects, applies migrations and opens the blob store.
    pub async fn open(settings: &StorageSettings) -> anyhow::Result<Platform> {
        let db = Database::connect(&settings.database_url, &settings.db)
            .await
            .with_context(|| {
                format!(
                    "cannot open the database {}",
                    redact_url(&settings.database_url)
                )
            })?;
        db.migrate()
            .await
            .context("cannot apply the database migrations")?;
        let log = EventLog::open(&db)
            .await
            .context("cannot open the event log")?;
        let blobs = BlobStore::open(&settings.blobs)
            .await
            .context("cannot open the blob store")?;
        let projections = Projections::new(db.clone(), log.clone(), projections::all());
        let commands = Commands::new(log.clone());
        let lrs = Lrs::new(log.clone(), blobs.clone(), projections.clone());
        Ok(Platform {
            db,
            log,
            blobs,
            projections,
            commands,
            lrs,
        })
    }
}
