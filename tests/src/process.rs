//! The real binary as a child process: started, killed with SIGKILL,
//! restarted, over a data directory and database that outlive it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Settings shared by every run of the binary in one test.
pub struct ProcessEnv {
    /// The binary: `env!("CARGO_BIN_EXE_ac-e2e-server")` in this crate's tests.
    pub binary: PathBuf,
    pub data_dir: PathBuf,
    pub database_url: String,
}

impl ProcessEnv {
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .args(args)
            .env("ALLURECONNECT_DATA_DIR", &self.data_dir)
            .env("ALLURECONNECT_DATABASE_URL", &self.database_url)
            .env("ALLURECONNECT_LOG", "warn")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    }

    /// Runs a command to completion; returns its standard output.
    pub async fn run(&self, args: &[&str]) -> String {
        let output = self
            .command(args)
            .output()
            .await
            .expect("failed to run the binary");
        assert!(
            output.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Starts `serve` on a free port and waits for `/healthz`.
    pub async fn serve(&self, log: &Path) -> Server {
        self.serve_with(log, &[]).await
    }

    /// Like [`serve`](Self::serve), with more environment variables.
    pub async fn serve_with(&self, log: &Path, vars: &[(&str, &str)]) -> Server {
        let port = free_port();
        let content_port = free_port();
        let log_file = std::fs::File::create(log).unwrap();
        let mut command = self.command(&["serve"]);
        command.envs(vars.iter().copied());
        let child = command
            .env("ALLURECONNECT_LISTEN", format!("127.0.0.1:{port}"))
            .env(
                "ALLURECONNECT_CONTENT_LISTEN",
                format!("127.0.0.1:{content_port}"),
            )
            .env("ALLURECONNECT_RATE_LIMIT", "0")
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("failed to start the server");
        let address = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client.get(format!("{address}/healthz")).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "server did not start: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Server {
            child,
            address,
            content: format!("http://127.0.0.1:{content_port}"),
        }
    }
}

pub struct Server {
    pub child: Child,
    pub address: String,
    /// The content origin (player, runtime, course files).
    pub content: String,
}

impl Server {
    /// SIGKILL: no shutdown, no flush, nothing.
    pub async fn kill_9(mut self) {
        self.child.start_kill().expect("failed to kill the server");
        let _ = self.child.wait().await;
    }

    /// SIGTERM, then waits for a clean exit.
    #[cfg(unix)]
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("the server is running");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("failed to send SIGTERM");
        assert!(status.success());
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("server did not stop after SIGTERM")
            .unwrap()
    }
}
