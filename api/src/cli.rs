//! The commands of the `allureconnect` binary other than `serve`.

use std::io::Write;

use anyhow::Context;
use chrono::Utc;
use domain::events::EventMetadata;
use domain::tenancy::{Environment, WorkspaceId};
use domain::workspace::WorkspaceCommand;
use serde_json::json;
use uuid::Uuid;

use crate::config::{ReplayArgs, StorageSettings};
use crate::keys;
use crate::platform::Platform;

/// What `workspace create` prints.
pub struct CreatedWorkspace {
    pub workspace_id: WorkspaceId,
    pub live_key: String,
    pub test_key: String,
    pub position: i64,
}

/// Creates a workspace with one live and one test key.
pub async fn create_workspace(
    platform: &Platform,
    name: &str,
    actor: &str,
) -> anyhow::Result<CreatedWorkspace> {
    let workspace_id = WorkspaceId::from_uuid(Uuid::now_v7());
    let live = keys::issue(Environment::Live, Some("created with the workspace".into()));
    let test = keys::issue(Environment::Test, Some("created with the workspace".into()));
    let metadata = EventMetadata::workspace(workspace_id).with_actor(actor);
    let checkpoint = platform
        .commands
        .workspace(
            &workspace_id.to_string(),
            WorkspaceCommand::Create {
                workspace_id,
                name: name.to_owned(),
                keys: vec![live.key, test.key],
                at: Utc::now(),
            },
            &metadata,
        )
        .await
        .map_err(|e| anyhow::anyhow!("cannot create the workspace: {e}"))?;
    Ok(CreatedWorkspace {
        workspace_id,
        live_key: live.secret,
        test_key: test.secret,
        position: checkpoint.map_or(0, |c| c.position),
    })
}

pub async fn workspace_create(storage: &StorageSettings, name: &str) -> anyhow::Result<()> {
    let platform = Platform::open(storage).await?;
    let created = create_workspace(&platform, name, "cli").await?;
    let out = json!({
        "workspace_id": created.workspace_id.to_string(),
        "name": name.trim(),
        "live_key": created.live_key,
        "test_key": created.test_key,
        "position": created.position,
    });
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{out}").context("cannot write to standard output")?;
    platform.db.close().await;
    Ok(())
}

pub async fn replay(storage: &StorageSettings, args: &ReplayArgs) -> anyhow::Result<()> {
    let platform = Platform::open(storage).await?;
    let names: Vec<String> = match &args.name {
        Some(name) => vec![name.clone()],
        None => platform
            .projections
            .names()
            .into_iter()
            .map(str::to_owned)
            .collect(),
    };
    let known = platform.projections.names();
    if let Some(unknown) = names.iter().find(|n| !known.contains(&n.as_str())) {
        anyhow::bail!(
            "no projection named {unknown:?}; the projections are {}",
            known.join(", ")
        );
    }
    let mut stdout = std::io::stdout().lock();
    for name in names {
        let report = platform
            .projections
            .replay(&name)
            .await
            .with_context(|| format!("replay of {name} failed"))?;
        writeln!(stdout, "{}", serde_json::to_string(&report)?)
            .context("cannot write to standard output")?;
    }
    platform.db.close().await;
    Ok(())
}
