//! `allureconnect`: serve, manage workspaces, replay projections.

use std::process::ExitCode;

use api::app::{Application, shutdown_signal};
use api::config::{Cli, Command, Settings, StorageSettings, WorkspaceCommand};
use clap::Parser;

fn main() -> ExitCode {
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
    api::telemetry::init(cli.common.log_format, &cli.common.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
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
            api::cli::workspace_create(&StorageSettings::from_args(&cli.common)?, name).await
        }
        Command::Replay(args) => api::cli::replay(&StorageSettings::from_args(&cli.common)?, args).await,
    }
}
