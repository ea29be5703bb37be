//! Test harness: [`TestApp`] runs the real router on a random port over a
//! fresh database (SQLite file, or a PostgreSQL schema when
//! `TEST_DATABASE_URL` says so) and a fresh blob directory, with one helper
//! per endpoint. [`Process`] runs the real binary, for tests that kill it.

use std::net::SocketAddr;
use std::time::Duration;

use api::app::Application;
use api::config::{RateLimit, Settings, StorageSettings, WebhookSettings};
use api::state::AppState;
use reqwest::{Client, Response};
use serde_json::Value;
use store::blob::BlobConfig;
use store::db::DbOptions;
use store::testing::TestDb;
use tokio::sync::oneshot;

pub mod browser;
pub mod packages;
pub mod process;
pub mod receiver;

/// Installs the TLS crypto provider reqwest needs (once per process).
pub fn init() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    api::telemetry::init_for_tests();
}

/// A running server for one test.
pub struct TestApp {
    pub address: String,
    /// The content origin (player, course files).
    pub content: String,
    pub client: Client,
    pub state: AppState,
    pub db: TestDb,
    settings: Settings,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _blobs: tempfile::TempDir,
}

/// The settings of a test server on `database_url`, with its blobs and data
/// under `dir`: loopback listeners on port 0, no rate limit, private
/// webhook targets allowed.
pub fn test_settings(database_url: &str, dir: &std::path::Path) -> Settings {
    Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        // Both origins are their bound addresses.
        public_url: String::new(),
        content_listen: "127.0.0.1:0".parse().unwrap(),
        player: player::PlayerSettings {
            content_url: String::new(),
            consistency_timeout: Duration::from_secs(10),
            ..player::PlayerSettings::default()
        },
        launch_keys: Some(format!("test:{}", "A".repeat(43))),
        data_dir: dir.join("data"),
        storage: StorageSettings {
            database_url: database_url.to_owned(),
            db: DbOptions {
                max_connections: 8,
                ..DbOptions::default()
            },
            blobs: BlobConfig::Local {
                root: dir.join("blobs"),
            },
        },
        import: api::import::ImportSettings {
            allow_private_urls: true,
            ..api::import::ImportSettings::default()
        },
        rate_limit: RateLimit {
            per_second: 0,
            burst: 1,
        },
        consistency_timeout: Duration::from_secs(10),
        // Tests send webhooks to receivers on 127.0.0.1.
        webhooks: WebhookSettings {
            allow_private_targets: true,
            ..WebhookSettings::default()
        },
    }
}

/// A server [`TestApp::start`] started.
struct Started {
    address: String,
    content: String,
    state: AppState,
    stop: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// A workspace and its first keys.
#[derive(Debug, Clone)]
pub struct TestWorkspace {
    pub id: String,
    pub live_key: String,
    pub test_key: String,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {}).await
    }

    /// Spawns with settings adjusted by `adjust`.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
        init();
        TestApp::spawn_on(TestDb::new().await, adjust).await
    }

    /// Spawns on `db` (for instance a second server on another's database).
    pub async fn spawn_on(db: TestDb, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        init();
        let blobs = tempfile::tempdir().expect("failed to create the blob dir");
        let mut settings = test_settings(db.url(), blobs.path());
        adjust(&mut settings);
        let started = TestApp::start(settings.clone()).await;
        TestApp {
            address: started.address,
            content: started.content,
            client: Client::new(),
            state: started.state,
            db,
            settings,
            stop: Some(started.stop),
            server: Some(started.server),
            _blobs: blobs,
        }
    }

    async fn start(settings: Settings) -> Started {
        let app = Application::build(settings)
            .await
            .expect("failed to build the application");
        let address = format!("http://{}", app.local_addr());
        let content = format!("http://{}", app.content_addr());
        let state = app.state().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        Started {
            address,
            content,
            state,
            stop,
            server,
        }
    }

    /// Stops the server gracefully, keeping its database and blobs (for work
    /// that must not run beside it, like a replay on PostgreSQL, whose
    /// projection locks the running server holds).
    pub async fn halt(&mut self) {
        self.shutdown().await;
    }

    /// Where the server keeps its data.
    pub fn storage(&self) -> StorageSettings {
        self.settings.storage.clone()
    }

    /// Stops the server gracefully (if it runs) and starts it again on the
    /// same database and blob store (on a new port).
    pub async fn restart(mut self) -> TestApp {
        self.halt().await;
        let started = TestApp::start(self.settings.clone()).await;
        self.address = started.address;
        self.content = started.content;
        self.state = started.state;
        self.stop = Some(started.stop);
        self.server = Some(started.server);
        self
    }

    pub fn addr(&self) -> SocketAddr {
        self.address.trim_start_matches("http://").parse().unwrap()
    }

    /// Stops the server and hands back its database, for a look at what it
    /// left behind.
    pub async fn stop_keeping_db(mut self) -> TestDb {
        self.shutdown().await;
        std::mem::replace(&mut self.db, TestDb::shared(""))
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        self.shutdown().await;
    }

    async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task panicked")
                .expect("server failed");
        }
    }

    /// Creates a workspace the way `allureconnect workspace create` does,
    /// and waits until its keys work.
    pub async fn create_workspace(&self, name: &str) -> TestWorkspace {
        let created = api::cli::create_workspace(&self.state.platform, name, "test")
            .await
            .expect("failed to create a workspace");
        let checkpoint = self
            .state
            .platform
            .log
            .checkpoint_of(created.position)
            .await
            .unwrap()
            .expect("the workspace's events are in the log");
        self.state
            .platform
            .projections
            .wait_all(checkpoint, Duration::from_secs(20))
            .await
            .expect("views did not catch up");
        TestWorkspace {
            id: created.workspace_id.to_string(),
            live_key: created.live_key,
            test_key: created.test_key,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, key: &str, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .expect("request failed")
    }

    pub async fn post(&self, key: &str, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .expect("request failed")
    }

    pub async fn delete(&self, key: &str, path: &str) -> Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .expect("request failed")
    }

    // ---- one helper per endpoint ----

    pub async fn workspace(&self, key: &str) -> Response {
        self.get(key, "/api/v1/workspace").await
    }

    pub async fn api_keys(&self, key: &str) -> Response {
        self.get(key, "/api/v1/api-keys").await
    }

    pub async fn api_key(&self, key: &str, id: &str) -> Response {
        self.get(key, &format!("/api/v1/api-keys/{id}")).await
    }

    pub async fn create_api_key(&self, key: &str, label: &str) -> Response {
        self.post(
            key,
            "/api/v1/api-keys",
            &serde_json::json!({ "label": label }),
        )
        .await
    }

    pub async fn revoke_api_key(&self, key: &str, id: &str) -> Response {
        self.delete(key, &format!("/api/v1/api-keys/{id}")).await
    }

    /// `POST /api/v1/courses` with a ZIP body.
    pub async fn upload(&self, key: &str, course_id: &str, zip: Vec<u8>) -> Response {
        self.client
            .post(self.url(&format!("/api/v1/courses?course_id={course_id}")))
            .bearer_auth(key)
            .header("content-type", "application/zip")
            .body(zip)
            .send()
            .await
            .expect("request failed")
    }

    /// Uploads and waits for the import to end; returns the import.
    pub async fn import(&self, key: &str, course_id: &str, zip: Vec<u8>) -> Value {
        let response = self.upload(key, course_id, zip).await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("the upload answer is JSON");
        assert!(
            matches!(status, 201 | 202 | 422),
            "upload answered {status}: {body}"
        );
        self.wait_import(key, body["import_id"].as_str().expect("an import id"))
            .await
    }

    /// Polls an import until it is complete or failed.
    pub async fn wait_import(&self, key: &str, import_id: &str) -> Value {
        for _ in 0..600 {
            let import = json(
                self.get(key, &format!("/api/v1/imports/{import_id}")).await,
                200,
            )
            .await;
            if import["status"] != "running" {
                return import;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("import {import_id} never ended");
    }

    /// GETs `path` until `ready` holds for its JSON (views catch up with
    /// writes that return no position), for 10 s at most.
    pub async fn eventually(&self, key: &str, path: &str, ready: impl Fn(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        for _ in 0..200 {
            last = json(self.get(key, path).await, 200).await;
            if ready(&last) {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{path} never got there: {last}");
    }

    pub async fn course(&self, key: &str, id: &str) -> Response {
        self.get(key, &format!("/api/v1/courses/{id}")).await
    }

    pub async fn events(&self, key: &str, after: i64, limit: u32) -> Response {
        self.get(key, &format!("/api/v1/events?after={after}&limit={limit}"))
            .await
    }

    pub async fn patch(&self, key: &str, path: &str, body: &Value) -> Response {
        self.client
            .patch(self.url(path))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .expect("request failed")
    }

    /// `POST` without a body.
    pub async fn post_empty(&self, key: &str, path: &str) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .expect("request failed")
    }

    pub async fn create_webhook(&self, key: &str, body: &Value) -> Response {
        self.post(key, "/api/v1/webhooks", body).await
    }

    pub async fn webhooks(&self, key: &str) -> Response {
        self.get(key, "/api/v1/webhooks").await
    }

    pub async fn webhook(&self, key: &str, id: &str) -> Response {
        self.get(key, &format!("/api/v1/webhooks/{id}")).await
    }

    pub async fn update_webhook(&self, key: &str, id: &str, body: &Value) -> Response {
        self.patch(key, &format!("/api/v1/webhooks/{id}"), body)
            .await
    }

    pub async fn delete_webhook(&self, key: &str, id: &str) -> Response {
        self.delete(key, &format!("/api/v1/webhooks/{id}")).await
    }

    pub async fn rotate_webhook_secret(&self, key: &str, id: &str, body: &Value) -> Response {
        self.post(key, &format!("/api/v1/webhooks/{id}/rotate-secret"), body)
            .await
    }

    pub async fn test_webhook(&self, key: &str, id: &str) -> Response {
        self.post_empty(key, &format!("/api/v1/webhooks/{id}/test"))
            .await
    }

    pub async fn webhook_deliveries(&self, key: &str, id: &str) -> Response {
        self.get(key, &format!("/api/v1/webhooks/{id}/deliveries?limit=500"))
            .await
    }

    pub async fn redeliver(&self, key: &str, delivery_id: &str) -> Response {
        self.post_empty(
            key,
            &format!("/api/v1/webhooks/deliveries/{delivery_id}/redeliver"),
        )
        .await
    }

    pub async fn replay_webhook(&self, key: &str, id: &str, from: &str, to: &str) -> Response {
        let query = format!(
            "from={}&to={}",
            from.replace('+', "%2B"),
            to.replace('+', "%2B")
        );
        self.post_empty(key, &format!("/api/v1/webhooks/{id}/replay?{query}"))
            .await
    }

    /// Every event the key can read, following `next_after`.
    pub async fn all_events(&self, key: &str) -> Vec<Value> {
        all_events(&self.client, &self.address, key).await
    }
}

/// A client of the LRS at `/xapi` with one `Authorization` header value and one
/// `X-Experience-API-Version`.
#[derive(Clone)]
pub struct XapiClient {
    pub client: Client,
    pub address: String,
    pub auth: String,
    pub version: String,
}

impl TestApp {
    /// An LRS client authenticating with `authorization` (a whole header value).
    pub fn xapi(&self, authorization: &str, version: &str) -> XapiClient {
        XapiClient {
            client: self.client.clone(),
            address: self.address.clone(),
            auth: authorization.to_owned(),
            version: version.to_owned(),
        }
    }

    /// An LRS client with a workspace API key as Bearer, speaking 2.0.0.
    pub fn xapi_key(&self, key: &str) -> XapiClient {
        self.xapi(&format!("Bearer {key}"), "2.0.0")
    }

    pub async fn create_lrs_credential(&self, key: &str, scopes: &[&str]) -> Response {
        self.post(
            key,
            "/api/v1/lrs-credentials",
            &serde_json::json!({ "label": "test", "scopes": scopes }),
        )
        .await
    }

    /// An LRS client with a new credential of `scopes`, speaking `version`.
    pub async fn lrs_client(&self, key: &str, scopes: &[&str], version: &str) -> XapiClient {
        let created = json(self.create_lrs_credential(key, scopes).await, 201).await;
        self.xapi(created["authorization"].as_str().unwrap(), version)
    }

    pub async fn lrs_credentials(&self, key: &str) -> Response {
        self.get(key, "/api/v1/lrs-credentials").await
    }

    pub async fn lrs_credential(&self, key: &str, id: &str) -> Response {
        self.get(key, &format!("/api/v1/lrs-credentials/{id}"))
            .await
    }

    pub async fn revoke_lrs_credential(&self, key: &str, id: &str) -> Response {
        self.delete(key, &format!("/api/v1/lrs-credentials/{id}"))
            .await
    }

    pub async fn create_launch_token(&self, key: &str, body: &Value) -> Response {
        self.post(key, "/api/v1/lrs-launch-tokens", body).await
    }

    pub async fn lrs_forwarding(&self, key: &str) -> Response {
        self.get(key, "/api/v1/lrs-forwarding").await
    }

    pub async fn configure_lrs_forwarding(&self, key: &str, body: &Value) -> Response {
        self.client
            .put(self.url("/api/v1/lrs-forwarding"))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .expect("request failed")
    }

    pub async fn remove_lrs_forwarding(&self, key: &str) -> Response {
        self.delete(key, "/api/v1/lrs-forwarding").await
    }
}

impl XapiClient {
    /// The same client speaking another version.
    pub fn version(&self, version: &str) -> XapiClient {
        XapiClient {
            version: version.to_owned(),
            ..self.clone()
        }
    }

    /// A request to `/xapi{path}` with the client's headers.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}/xapi{path}", self.address))
            .header("Authorization", &self.auth)
            .header("X-Experience-API-Version", &self.version)
    }

    pub async fn put_statement(&self, id: &str, statement: &Value) -> Response {
        self.request(reqwest::Method::PUT, "/statements")
            .query(&[("statementId", id)])
            .json(statement)
            .send()
            .await
            .expect("request failed")
    }

    pub async fn post_statements(&self, body: &Value) -> Response {
        self.request(reqwest::Method::POST, "/statements")
            .json(body)
            .send()
            .await
            .expect("request failed")
    }

    /// Posts statements and returns their ids (asserting 200).
    pub async fn store(&self, body: &Value) -> Vec<String> {
        let ids = json(self.post_statements(body).await, 200).await;
        ids.as_array()
            .unwrap()
            .iter()
            .map(|id| id.as_str().unwrap().to_owned())
            .collect()
    }

    pub async fn get_statements(&self, query: &[(&str, &str)]) -> Response {
        self.request(reqwest::Method::GET, "/statements")
            .query(query)
            .send()
            .await
            .expect("request failed")
    }

    /// One statement by id (asserting 200).
    pub async fn statement(&self, id: &str) -> Value {
        json(self.get_statements(&[("statementId", id)]).await, 200).await
    }

    /// The ids a query returns, following `more` links to the end.
    pub async fn ids(&self, query: &[(&str, &str)]) -> Vec<String> {
        let mut page = json(self.get_statements(query).await, 200).await;
        let mut ids = Vec::new();
        loop {
            for statement in page["statements"].as_array().unwrap() {
                ids.push(statement["id"].as_str().unwrap().to_owned());
            }
            let more = page["more"].as_str().unwrap_or("").to_owned();
            if more.is_empty() {
                return ids;
            }
            let response = self
                .client
                .get(format!("{}{more}", self.address))
                .header("Authorization", &self.auth)
                .header("X-Experience-API-Version", &self.version)
                .send()
                .await
                .expect("request failed");
            page = json(response, 200).await;
        }
    }

    /// A document request to `path` (`/activities/state`, …) with query parameters.
    pub fn document(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
    ) -> reqwest::RequestBuilder {
        self.request(method, path).query(query)
    }
}

/// Every event `key` can read from the server at `address`.
pub async fn all_events(client: &Client, address: &str, key: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page: Value = client
            .get(format!("{address}/api/v1/events?after={after}&limit=1000"))
            .bearer_auth(key)
            .send()
            .await
            .expect("request failed")
            .error_for_status()
            .expect("events request failed")
            .json()
            .await
            .unwrap();
        let events = page["events"].as_array().unwrap().clone();
        if events.is_empty() {
            return out;
        }
        after = page["next_after"].as_i64().unwrap();
        out.extend(events);
    }
}

/// Reads a JSON body, asserting the status first.
pub async fn json(response: Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "unexpected status; body: {text}");
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("body is not JSON ({e}): {text}"))
    }
}

/// Asserts an error response: its status, its stable code, and a message.
pub async fn error(response: Response, status: u16, code: &str) -> Value {
    let body = json(response, status).await;
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "error without a message: {body}"
    );
    body
}
