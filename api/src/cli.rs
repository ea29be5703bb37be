//! The commands of the `allureconnect` binary other than `serve`.

use std::io::Write;

use anyhow::Context;
use chrono::Utc;
use domain::events::EventMetadata;
use domain::tenancy::{Environment, WorkspaceId};
use domain::workspace::WorkspaceCommand;
use serde_json::json;
use uuid::Uuid;

use crate::config::{ImportArgs, ReplayArgs, StorageSettings};
use crate::import::{ImportSettings, Importer, Outcome};
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

/// `allureconnect import FILE.zip --workspace ID`: the same import as the
/// API, with a progress bar on standard error and the import as JSON on
/// standard output.
pub async fn import(
    storage: &StorageSettings,
    settings: ImportSettings,
    args: &ImportArgs,
) -> anyhow::Result<()> {
    use std::sync::atomic::Ordering;

    let workspace_id: WorkspaceId = args
        .workspace
        .parse()
        .map_err(|_| anyhow::anyhow!("workspace {:?} is not a workspace id", args.workspace))?;
    let environment: Environment = args.environment.parse()?;
    let scope = domain::tenancy::Scope::new(workspace_id, environment);
    let course_id = match &args.course_id {
        Some(raw) => domain::course::CourseId::parse(raw)?,
        None => domain::course::CourseId::parse(&Uuid::now_v7().simple().to_string())?,
    };
    let platform = Platform::open(storage).await?;
    if projections::workspaces::workspace(&platform.db, &scope)
        .await?
        .is_none()
    {
        // The workspace may be new and its view not caught up yet.
        platform.projections.catch_up("workspaces").await?;
        if projections::workspaces::workspace(&platform.db, &scope)
            .await?
            .is_none()
        {
            anyhow::bail!("no workspace {workspace_id}");
        }
    }
    let file = tokio::fs::File::open(&args.file)
        .await
        .with_context(|| format!("cannot open {}", args.file.display()))?;
    let size = file.metadata().await?.len();
    let bar = indicatif::ProgressBar::new(size);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg:>10} [{bar:40}] {bytes}/{total_bytes} {elapsed}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.set_message("uploading");
    let importer = Importer::new(platform.clone(), settings);
    let reader = bar.wrap_async_read(file);
    let spooled = importer
        .spool(tokio_util::io::ReaderStream::with_capacity(
            reader,
            256 * 1024,
        ))
        .await
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e:?}", args.file.display()))?;
    let metadata = EventMetadata::scoped(scope).with_actor("cli");
    let file_name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let started = importer
        .begin(
            &scope,
            &metadata,
            course_id,
            args.title.clone(),
            domain::course::ImportSource::Cli { file_name },
        )
        .await
        .map_err(|e| anyhow::anyhow!("cannot start the import: {e}"))?;
    let import_id = started.import_id.clone();
    let course_id = started.course_id.clone();
    let mut job = importer.run(scope, metadata, started, spooled);
    bar.set_message("importing");
    bar.set_position(0);
    let outcome = loop {
        tokio::select! {
            done = &mut job => break done?,
            () = tokio::time::sleep(std::time::Duration::from_millis(100)) => {
                if let Some(progress) = importer.progress(&import_id) {
                    bar.set_length(progress.bytes_total.load(Ordering::Relaxed).max(1));
                    bar.set_position(progress.bytes_done.load(Ordering::Relaxed));
                }
            }
        }
    };
    bar.finish_and_clear();
    let out = match &outcome {
        Outcome::Complete { version, .. } => json!({
            "import_id": import_id, "course_id": course_id, "status": "complete", "version": version,
        }),
        Outcome::Failed { failure, .. } => json!({
            "import_id": import_id, "course_id": course_id, "status": "failed",
            "error": {"code": failure.code, "message": failure.message}, "findings": failure.findings,
        }),
    };
    writeln!(std::io::stdout().lock(), "{out}").context("cannot write to standard output")?;
    platform.db.close().await;
    match outcome {
        Outcome::Complete { .. } => Ok(()),
        Outcome::Failed { failure, .. } => {
            anyhow::bail!("the import failed: {} ({})", failure.message, failure.code)
        }
    }
}
