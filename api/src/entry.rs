//! The `allureconnect` command line, as a function, so that test crates can
//! build the same binary.

use std::process::ExitCode;

use crate::app::{Application, shutdown_signal};
use crate::config::{Cli, Command, Settings, StorageSettings, WorkspaceCommand};
use clap::Parser;

/// Parses the arguments, runs the command, and says how it ended.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => err.exit(),
        Err(err) => {
            // One line: the reason, without the usage block.
            let rendered = err.render().to_string();
            let first = rendered.lines().next().unwrap_or("invalid arguments");
            eprintln!("allureconnect: {}", first.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    crate::telemetry::init(cli.common.log_format, &cli.common.log);
    // Webhooks and the statement forwarder reach https:// endpoints through
    // reqwest, built with rustls and no default crypto provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("allureconnect: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let line = format!("{err:#}").replace('\n', " ");
            tracing::error!(error = %line, "exiting");
            eprintln!("allureconnect: {line}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Serve(serve) => {
            let settings = Settings::from_args(&cli.common, serve)?;
            let app = Application::build(settings).await?;
            app.run_until_stopped(shutdown_signal()).await
        }
        Command::Workspace(WorkspaceCommand::Create { name }) => {
            crate::cli::workspace_create(&StorageSettings::from_args(&cli.common)?, name).await
        }
        Command::Replay(args) => {
            crate::cli::replay(&StorageSettings::from_args(&cli.common)?, args).await
        }
        Command::Import(args) => {
            let storage = StorageSettings::from_args(&cli.common)?;
            crate::cli::import(&storage, cli.common.import_settings(), args).await
        }
    }
}
