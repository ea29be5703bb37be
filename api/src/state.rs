//! Shared state of the HTTP handlers.

use std::ops::Deref;
use std::sync::Arc;

use store::log::Checkpoint;

use crate::auth::RateLimiter;
use crate::config::Settings;
use crate::import::Importer;
use crate::platform::Platform;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub platform: Platform,
    pub importer: Importer,
    pub player: player::PlayerState,
    pub settings: Settings,
    pub limiter: RateLimiter,
}

impl Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(platform: Platform, settings: Settings, signer: player::Signer) -> AppState {
        let limiter = RateLimiter::new(settings.rate_limit);
        let importer = Importer::new(platform.clone(), settings.import.clone());
        let player = player::PlayerState::new(
            platform.db.clone(),
            platform.blobs.clone(),
            platform.projections.clone(),
            platform.commands.clone(),
            signer,
            settings.player.clone(),
        );
        AppState(Arc::new(Inner {
            importer,
            player,
            platform,
            settings,
            limiter,
        }))
    }

    /// After a write: waits (bounded) until `projection` shows it, so the
    /// caller's next read sees its own write. A slow view delays the answer
    /// but never fails the write, which has already happened.
    pub async fn settle(&self, projection: &str, checkpoint: Option<Checkpoint>) {
        let Some(checkpoint) = checkpoint else { return };
        if let Err(err) = self
            .platform
            .projections
            .wait_for(projection, checkpoint, self.settings.consistency_timeout)
            .await
        {
            tracing::warn!(projection, position = checkpoint.position, error = %err, "write answered before its view caught up");
        }
    }
}
