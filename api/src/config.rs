//! Configuration: command-line flags, each with an `ALLURECONNECT_*`
//! environment variable. With nothing set, `serve` listens on
//! 127.0.0.1:8080 and keeps a SQLite file and a blob directory under
//! `./allureconnect-data`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use store::blob::{BlobConfig, S3Config};
use store::db::{DbOptions, SqliteDurability};

#[derive(Debug, Parser)]
#[command(
    name = "allureconnect",
    version,
    about = "Self-hostable SCORM, xAPI, cmi5 and AICC hosting"
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Manage workspaces.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Rebuild projections from the start of the event log.
    Replay(ReplayArgs),
    /// Import a course package from a file, with a progress bar.
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The package (a ZIP).
    pub file: std::path::PathBuf,
    /// The workspace to import into.
    #[arg(long)]
    pub workspace: String,
    /// `live` or `test`.
    #[arg(long, default_value = "live")]
    pub environment: String,
    /// The course id (a new version when it exists); drawn when absent.
    #[arg(long)]
    pub course_id: Option<String>,
    /// The course title; the manifest's otherwise.
    #[arg(long)]
    pub title: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Create a workspace; prints its id and its first live and test keys
    /// as one JSON object (the keys are shown only this once).
    Create {
        /// The workspace's name.
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The projection to rebuild.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub name: Option<String>,
    /// Rebuild every projection.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Settings every command shares: where the data lives, how to log.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Directory for the embedded defaults (SQLite file and blob directory).
    #[arg(
        long,
        env = "ALLURECONNECT_DATA_DIR",
        default_value = "./allureconnect-data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// `sqlite://path` or `postgres://user:password@host/db`
    /// [default: sqlite://<data dir>/allureconnect.db]
    #[arg(long, env = "ALLURECONNECT_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Connections to PostgreSQL (or SQLite readers).
    #[arg(
        long,
        env = "ALLURECONNECT_DATABASE_MAX_CONNECTIONS",
        default_value_t = 32,
        global = true
    )]
    pub database_max_connections: u32,
    /// SQLite commit durability: `full` (survives power loss) or `normal`
    /// (survives a crash of the process).
    #[arg(
        long,
        env = "ALLURECONNECT_SQLITE_DURABILITY",
        default_value = "full",
        global = true
    )]
    pub sqlite_durability: String,
    /// `file://path`, a path, or `s3://bucket[/prefix]`
    /// [default: <data dir>/blobs]
    #[arg(long, env = "ALLURECONNECT_BLOB_STORE", global = true)]
    pub blob_store: Option<String>,
    /// S3 endpoint for S3-compatible stores (R2, MinIO, SeaweedFS).
    #[arg(long, env = "ALLURECONNECT_S3_ENDPOINT", global = true)]
    pub s3_endpoint: Option<String>,
    /// S3 region (`auto` for R2); the standard AWS chain otherwise.
    #[arg(long, env = "ALLURECONNECT_S3_REGION", global = true)]
    pub s3_region: Option<String>,
    /// Path-style S3 addressing, which most S3-compatible servers need.
    #[arg(
        long,
        env = "ALLURECONNECT_S3_PATH_STYLE",
        default_value_t = false,
        global = true
    )]
    pub s3_path_style: bool,
    /// Largest upload accepted, in bytes.
    #[arg(long, env = "ALLURECONNECT_MAX_UPLOAD_BYTES", default_value_t = 4 * 1024 * 1024 * 1024, global = true)]
    pub max_upload_bytes: u64,
    /// Most entries in an uploaded ZIP.
    #[arg(
        long,
        env = "ALLURECONNECT_IMPORT_MAX_ENTRIES",
        default_value_t = 50_000,
        global = true
    )]
    pub import_max_entries: usize,
    /// Largest file in a package, inflated, in bytes.
    #[arg(long, env = "ALLURECONNECT_IMPORT_MAX_FILE_BYTES", default_value_t = 2 * 1024 * 1024 * 1024, global = true)]
    pub import_max_file_bytes: u64,
    /// Largest package, inflated, in bytes.
    #[arg(long, env = "ALLURECONNECT_IMPORT_MAX_TOTAL_BYTES", default_value_t = 8 * 1024 * 1024 * 1024, global = true)]
    pub import_max_total_bytes: u64,
    /// Largest inflated/compressed ratio of a file above 32 MiB.
    #[arg(
        long,
        env = "ALLURECONNECT_IMPORT_MAX_RATIO",
        default_value_t = 200,
        global = true
    )]
    pub import_max_ratio: u64,
    /// An import running longer than this many seconds is failed.
    #[arg(
        long,
        env = "ALLURECONNECT_IMPORT_TIMEOUT_SECS",
        default_value_t = 3600,
        global = true
    )]
    pub import_timeout_secs: u64,
    /// Let `courses/import-url` fetch from private, loopback and link-local addresses.
    #[arg(
        long,
        env = "ALLURECONNECT_IMPORT_ALLOW_PRIVATE_URLS",
        default_value_t = false,
        global = true
    )]
    pub import_allow_private_urls: bool,
    /// Log format.
    #[arg(long, env = "ALLURECONNECT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// Log filter, e.g. `info` or `api=debug,info`.
    #[arg(long, env = "ALLURECONNECT_LOG", default_value = "info", global = true)]
    pub log: String,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address of the API and dashboard.
    #[arg(long, env = "ALLURECONNECT_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Public URL of the API, as clients reach it [default: http://<listen>].
    #[arg(long, env = "ALLURECONNECT_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Address of the content origin: the player and course files, apart
    /// from the API so course JavaScript never reaches API credentials.
    #[arg(
        long,
        env = "ALLURECONNECT_CONTENT_LISTEN",
        default_value = "127.0.0.1:8081"
    )]
    pub content_listen: SocketAddr,
    /// Public URL of the content origin [default: http://<content-listen>].
    #[arg(long, env = "ALLURECONNECT_CONTENT_URL")]
    pub content_url: Option<String>,
    /// Keys that sign launch links, `id:base64url-secret,…` (the first
    /// signs; all verify, for rotation) [default: a key kept in
    /// <data dir>/launch-keys]. Set it when several processes serve.
    #[arg(long, env = "ALLURECONNECT_LAUNCH_KEYS", hide_env_values = true)]
    pub launch_keys: Option<String>,
    /// How often the player reports time on task, in seconds.
    #[arg(long, env = "ALLURECONNECT_HEARTBEAT_SECONDS", default_value_t = 30)]
    pub heartbeat_seconds: u64,
    /// Longest `cmi.suspend_data` kept, in characters [default: the
    /// standard's smallest permitted maximum: 4,096 in SCORM 1.2, 64,000 in
    /// SCORM 2004 4th edition].
    #[arg(long, env = "ALLURECONNECT_SUSPEND_DATA_LIMIT")]
    pub suspend_data_limit: Option<usize>,
    /// Requests per second allowed per API key (0: no limit).
    #[arg(long, env = "ALLURECONNECT_RATE_LIMIT", default_value_t = 1000)]
    pub rate_limit: u32,
    /// Requests an API key may send at once above the rate.
    #[arg(long, env = "ALLURECONNECT_RATE_LIMIT_BURST", default_value_t = 2000)]
    pub rate_limit_burst: u32,
    /// How long a write waits for the views to show it, and the longest a
    /// read may wait for a position, in milliseconds.
    #[arg(
        long,
        env = "ALLURECONNECT_CONSISTENCY_TIMEOUT_MS",
        default_value_t = 5000
    )]
    pub consistency_timeout_ms: u64,
    /// Let webhooks reach private, loopback and link-local addresses (for
    /// tests and closed networks; never on a multi-tenant server).
    #[arg(
        long,
        env = "ALLURECONNECT_WEBHOOKS_ALLOW_PRIVATE_TARGETS",
        default_value_t = false,
        action = clap::ArgAction::Set
    )]
    pub webhooks_allow_private_targets: bool,
    /// Multiplies every webhook retry delay and the 3-day retry window
    /// (tests shrink it; 1 is the production schedule).
    #[arg(
        long,
        env = "ALLURECONNECT_WEBHOOKS_RETRY_SCALE",
        default_value_t = 1.0
    )]
    pub webhooks_retry_scale: f64,
    /// How long one webhook request may take, connection included, in
    /// milliseconds.
    #[arg(
        long,
        env = "ALLURECONNECT_WEBHOOKS_TIMEOUT_MS",
        default_value_t = 10_000
    )]
    pub webhooks_timeout_ms: u64,
    /// Requests in flight at once per endpoint (each for a different subject).
    #[arg(long, env = "ALLURECONNECT_WEBHOOKS_CONCURRENCY", default_value_t = 16)]
    pub webhooks_concurrency: u32,
}

/// How webhooks are sent.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookSettings {
    pub allow_private_targets: bool,
    pub retry_scale: f64,
    pub timeout: Duration,
    pub concurrency: usize,
    /// Run the dispatcher in this process (tests and benchmarks may hold it).
    pub dispatch: bool,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            allow_private_targets: false,
            retry_scale: 1.0,
            timeout: Duration::from_secs(10),
            concurrency: 16,
            dispatch: true,
        }
    }
}

impl WebhookSettings {
    pub fn from_args(serve: &ServeArgs) -> anyhow::Result<WebhookSettings> {
        let scale = serve.webhooks_retry_scale;
        if !(scale.is_finite() && scale > 0.0 && scale <= 1.0) {
            anyhow::bail!("webhooks retry scale must be above 0 and at most 1, got {scale}");
        }
        if serve.webhooks_timeout_ms == 0 || serve.webhooks_timeout_ms > 60_000 {
            anyhow::bail!("webhooks timeout must be between 1 and 60000 ms");
        }
        if serve.webhooks_concurrency == 0 || serve.webhooks_concurrency > 256 {
            anyhow::bail!("webhooks concurrency must be between 1 and 256");
        }
        Ok(WebhookSettings {
            allow_private_targets: serve.webhooks_allow_private_targets,
            retry_scale: scale,
            timeout: Duration::from_millis(serve.webhooks_timeout_ms),
            concurrency: serve.webhooks_concurrency as usize,
            dispatch: true,
        })
    }
}

/// Where the log, the views and the blobs live.
#[derive(Debug, Clone)]
pub struct StorageSettings {
    pub database_url: String,
    pub db: DbOptions,
    pub blobs: BlobConfig,
}

impl StorageSettings {
    pub fn from_args(args: &CommonArgs) -> anyhow::Result<StorageSettings> {
        let database_url = args.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}",
                args.data_dir.join("allureconnect.db").display()
            )
        });
        let sqlite_durability: SqliteDurability = args.sqlite_durability.parse()?;
        let s3 = S3Config {
            endpoint: args.s3_endpoint.clone(),
            region: args.s3_region.clone(),
            path_style: args.s3_path_style,
            ..S3Config::default()
        };
        let blobs = match &args.blob_store {
            Some(url) => BlobConfig::parse(url, s3)?,
            None => BlobConfig::Local {
                root: args.data_dir.join("blobs"),
            },
        };
        Ok(StorageSettings {
            database_url,
            db: DbOptions {
                max_connections: args.database_max_connections,
                sqlite_durability,
                ..DbOptions::default()
            },
            blobs,
        })
    }
}

impl CommonArgs {
    /// The import settings these arguments give.
    pub fn import_settings(&self) -> crate::import::ImportSettings {
        crate::import::ImportSettings {
            limits: crate::import::Limits {
                max_entries: self.import_max_entries,
                max_entry_size: self.import_max_file_bytes,
                max_total_size: self.import_max_total_bytes,
                max_ratio: self.import_max_ratio,
                ..crate::import::Limits::default()
            },
            max_upload: self.max_upload_bytes,
            timeout: Duration::from_secs(self.import_timeout_secs),
            allow_private_urls: self.import_allow_private_urls,
            ..crate::import::ImportSettings::default()
        }
    }
}

/// Per-key request rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests per second; 0 turns the limit off.
    pub per_second: u32,
    pub burst: u32,
}

/// Everything `serve` needs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub public_url: String,
    pub content_listen: SocketAddr,
    pub player: player::PlayerSettings,
    /// `None`: the key file in the data directory.
    pub launch_keys: Option<String>,
    pub data_dir: PathBuf,
    pub storage: StorageSettings,
    pub import: crate::import::ImportSettings,
    pub rate_limit: RateLimit,
    pub consistency_timeout: Duration,
    pub webhooks: WebhookSettings,
}

impl Settings {
    pub fn from_args(common: &CommonArgs, serve: &ServeArgs) -> anyhow::Result<Settings> {
        let public_url = serve
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", serve.listen))
            .trim_end_matches('/')
            .to_owned();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            anyhow::bail!("public url must start with http:// or https://, got {public_url:?}");
        }
        let content_url = serve
            .content_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", serve.content_listen))
            .trim_end_matches('/')
            .to_owned();
        if !(content_url.starts_with("http://") || content_url.starts_with("https://")) {
            anyhow::bail!("content url must start with http:// or https://, got {content_url:?}");
        }
        Ok(Settings {
            listen: serve.listen,
            public_url,
            content_listen: serve.content_listen,
            player: player::PlayerSettings {
                content_url,
                heartbeat_seconds: serve.heartbeat_seconds.max(5),
                consistency_timeout: Duration::from_millis(serve.consistency_timeout_ms),
                suspend_data_limit: serve.suspend_data_limit,
                ..player::PlayerSettings::default()
            },
            launch_keys: serve.launch_keys.clone(),
            data_dir: common.data_dir.clone(),
            storage: StorageSettings::from_args(common)?,
            import: common.import_settings(),
            rate_limit: RateLimit {
                per_second: serve.rate_limit,
                burst: serve.rate_limit_burst.max(1),
            },
            consistency_timeout: Duration::from_millis(serve.consistency_timeout_ms),
            webhooks: WebhookSettings::from_args(serve)?,
        })
    }
}
