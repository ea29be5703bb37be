//! Headless Chromium for browser tests: [`Browser`] starts `chromedriver` on
//! a free loopback port and drives a fresh Chromium profile through WebDriver
//! (fantoccini); [`Site`] serves an axum router on `127.0.0.1:0` for the
//! pages and fakes a test needs, and can be stopped and started again on the
//! same address.
//!
//! `TEST_CHROMEDRIVER` and `TEST_CHROMIUM` name the binaries; by default they
//! are looked up on `PATH` (Debian's `chromium-driver` and `chromium`).
//! When they are missing the test is skipped, or fails under
//! `ALLURECONNECT_TESTS_REQUIRE_SERVICES=1` or `CI=true`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use fantoccini::{Client, ClientBuilder};
use futures::FutureExt;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, SemaphorePermit, oneshot};

/// At most this many browsers at once: each is several processes, and the
/// suite shares two cores with everything else.
static BROWSERS: Semaphore = Semaphore::const_new(2);

/// A chromedriver process and one WebDriver session on a fresh profile.
pub struct Browser {
    client: Option<Client>,
    driver: tokio::process::Child,
    profile: tempfile::TempDir,
    _permit: SemaphorePermit<'static>,
}

fn find_binary(variable: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(variable).filter(|p| !p.is_empty()) {
        // A path that names nothing counts as a missing browser.
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("failed to find a free port")
        .port()
}

impl Browser {
    /// Starts chromedriver and a headless Chromium. Returns `None` after
    /// saying why when they are not installed and services are optional.
    pub async fn start() -> Option<Browser> {
        let driver_binary = find_binary("TEST_CHROMEDRIVER", &["chromedriver"]);
        let chromium = find_binary("TEST_CHROMIUM", &["chromium", "chromium-browser"]);
        let (Some(driver_binary), Some(chromium)) = (driver_binary, chromium) else {
            let what = "chromium and chromedriver (Debian: chromium chromium-driver)";
            if store::testing::services_required() {
                panic!("{what} are required here but were not found; tests/run installs them");
            }
            eprintln!("skipped: {what} not installed (tests/run installs them)");
            return None;
        };
        let permit = BROWSERS
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let profile = tempfile::tempdir().expect("failed to create the browser profile dir");
        let port = free_port();
        let driver = tokio::process::Command::new(&driver_binary)
            .arg(format!("--port={port}"))
            .arg(format!(
                "--log-path={}",
                profile.path().join("chromedriver.log").display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so that Drop can end Chromium with it.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("failed to start {}: {e}", driver_binary.display()));
        let mut browser = Browser {
            client: None,
            driver,
            profile,
            _permit: permit,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on port {port}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Chromium now and then exits while it starts on a loaded machine
        // ("Chrome instance exited"): one more try, on a fresh profile.
        let mut tries = 0;
        let client = loop {
            tries += 1;
            let user_data = browser.profile.path().join(format!("profile-{tries}"));
            let capabilities = json!({
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": [
                        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                        "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync",
                        "--disable-dev-shm-usage", "--window-size=1280,900",
                        format!("--user-data-dir={}", user_data.display()),
                    ],
                },
            });
            let Value::Object(capabilities) = capabilities else {
                unreachable!("capabilities are an object")
            };
            let connected =
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(capabilities)
                    .connect(&format!("http://127.0.0.1:{port}"))
                    .await;
            match connected {
                Ok(client) => break client,
                Err(e) if tries < 2 => {
                    eprintln!("chromium did not start ({e}); trying again");
                }
                Err(e) => {
                    let log =
                        std::fs::read_to_string(browser.profile.path().join("chromedriver.log"))
                            .unwrap_or_default();
                    let tail: Vec<&str> = log.lines().rev().take(20).collect();
                    panic!(
                        "failed to start a chromium session: {e}\nchromedriver log, last lines:\n{}",
                        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                    );
                }
            }
        };
        browser.client = Some(client);
        Some(browser)
    }

    /// The WebDriver client.
    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("the session is open")
    }

    /// Runs `test`, then closes the browser whether or not it panicked.
    pub async fn run(mut self, test: impl AsyncFnOnce(&Client)) {
        let outcome = std::panic::AssertUnwindSafe(test(self.client()))
            .catch_unwind()
            .await;
        if let Some(client) = self.client.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), client.close()).await;
        }
        let _ = self.driver.start_kill();
        let _ = self.driver.wait().await;
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A test that did not get to `run`'s cleanup: end chromedriver and
        // the Chromium processes it started (its process group).
        if let Some(pid) = self.driver.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Evaluates `condition` (a JavaScript expression) in the current page
/// every 50 ms until it is truthy, and returns its value; panics with
/// `what` after `timeout`.
pub async fn wait_for(client: &Client, condition: &str, what: &str, timeout: Duration) -> Value {
    let script = format!("try {{ return ({condition}) || null; }} catch (e) {{ return null; }}");
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(value) = client.execute(&script, vec![]).await
            && !value.is_null()
        {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `check` returns `Some`, polling every 50 ms; panics with
/// `what` after `timeout`.
pub async fn eventually<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An axum router served on loopback for one test.
pub struct Site {
    addr: SocketAddr,
    router: Router,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl Site {
    /// Serves `router` on `127.0.0.1:0`.
    pub async fn start(router: Router) -> Site {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("failed to bind the test site");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let mut site = Site {
            addr,
            router,
            stop: None,
            server: None,
        };
        site.serve(listener);
        site
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let (stop, stopped) = oneshot::channel::<()>();
        let router = self.router.clone();
        self.stop = Some(stop);
        self.server = Some(tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    stopped.await.ok();
                })
                .await
                .expect("the test site failed");
        }));
    }

    /// `http://127.0.0.1:<port>` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops answering: the address refuses connections until [`Site::resume`].
    pub async fn pause(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
        }
    }

    /// Serves again on the same address.
    pub async fn resume(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(listener) => break listener,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("rebinding {}: {e}", self.addr);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("failed to rebind {}: {e}", self.addr),
            }
        };
        self.serve(listener);
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The directory of the player's static files.
pub fn player_static_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../player/static")
}

/// Answers with the file at `root/relative` (read now, so edits show
/// without a rebuild), typed by its extension; 404 for anything outside
/// `root` or missing.
pub fn static_file(root: &Path, relative: &str) -> Response {
    let escapes = relative
        .split('/')
        .any(|segment| segment == ".." || segment.is_empty());
    if escapes {
        return StatusCode::NOT_FOUND.into_response();
    }
    let path = root.join(relative);
    let Ok(bytes) = std::fs::read(&path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let content_type = match path.extension().and_then(|e| e.to_str()) {
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
        ],
        bytes,
    )
        .into_response()
}
