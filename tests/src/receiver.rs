//! A webhook receiver for tests and the benchmark: a real HTTP server (axum
//! on 127.0.0.1:0) that answers from a script (statuses, hangs past the
//! sender's timeout, connections broken mid-answer), records every request,
//! and verifies each signature the way the README tells receivers to.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

/// How the receiver answers one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Status(u16),
    /// Waits this long before answering 200 (past the sender's timeout).
    Hang(Duration),
    /// Sends a 200 head, then breaks the connection in the middle of the body.
    BreakConnection,
}

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    /// Lower-case header names.
    pub headers: HashMap<String, String>,
    pub body: String,
    /// How it was answered.
    pub reply: Reply,
    /// Whether the signature verified with one of the receiver's secrets
    /// (none set: not checked).
    pub verified: Option<bool>,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a webhook body is JSON")
    }

    pub fn event_id(&self) -> String {
        self.json()["id"].as_str().unwrap().to_owned()
    }

    pub fn event_type(&self) -> String {
        self.json()["type"].as_str().unwrap().to_owned()
    }

    /// Answered 2xx and completely.
    pub fn succeeded(&self) -> bool {
        matches!(self.reply, Reply::Status(s) if (200..300).contains(&s))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

#[derive(Default)]
struct Inner {
    script: VecDeque<Reply>,
    /// Replies for requests whose body contains a text, before the script.
    matching: Vec<(String, VecDeque<Reply>)>,
    default: Option<Reply>,
    requests: Vec<Received>,
    secrets: Vec<String>,
}

/// A running receiver; stops when dropped.
pub struct Receiver {
    pub address: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Receiver {
    pub async fn start() -> Receiver {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let app = Router::new()
            .route("/{*path}", post(receive))
            .route("/", post(receive))
            .with_state(inner.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            address,
            inner,
            server,
        }
    }

    /// The URL of path `path` on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next requests are answered with these replies, in order.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.lock().script.extend(replies);
    }

    /// The next requests whose body contains `text` get these replies.
    pub fn script_matching(&self, text: &str, replies: impl IntoIterator<Item = Reply>) {
        self.lock()
            .matching
            .push((text.to_owned(), replies.into_iter().collect()));
    }

    /// The answer once the script is used up (200 unless set).
    pub fn set_default(&self, reply: Reply) {
        self.lock().default = Some(reply);
    }

    /// Secrets to verify signatures with.
    pub fn set_secrets(&self, secrets: &[&str]) {
        self.lock().secrets = secrets.iter().map(|s| (*s).to_owned()).collect();
    }

    /// How many requests arrived.
    pub fn count(&self) -> usize {
        self.lock().requests.len()
    }

    pub fn requests(&self) -> Vec<Received> {
        self.lock().requests.clone()
    }

    /// Waits until `done` holds for the requests seen, or panics after
    /// `timeout` saying `what`.
    pub async fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let requests = self.requests();
            if done(&requests) {
                return requests;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting until {what}; saw {} requests: {:#?}",
                requests.len(),
                requests
                    .iter()
                    .map(|r| (r.body.clone(), r.reply.clone()))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = String::from_utf8_lossy(&body).into_owned();
    let headers: HashMap<String, String> = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let reply = {
        let mut inner = inner.lock().unwrap_or_else(|p| p.into_inner());
        let matched = inner
            .matching
            .iter_mut()
            .find(|(text, replies)| body.contains(text.as_str()) && !replies.is_empty())
            .and_then(|(_, replies)| replies.pop_front());
        let reply = matched
            .or_else(|| inner.script.pop_front())
            .or_else(|| inner.default.clone())
            .unwrap_or(Reply::Status(200));
        let verified = (!inner.secrets.is_empty()).then(|| {
            let header = headers
                .get("allureconnect-signature")
                .map(String::as_str)
                .unwrap_or("");
            inner
                .secrets
                .iter()
                .any(|secret| verify_as_the_readme_says(header, &body, secret))
        });
        inner.requests.push(Received {
            at: Instant::now(),
            headers,
            body,
            reply: reply.clone(),
            verified,
        });
        reply
    };
    match reply {
        Reply::Status(status) => StatusCode::from_u16(status).unwrap().into_response(),
        Reply::Hang(duration) => {
            tokio::time::sleep(duration).await;
            StatusCode::OK.into_response()
        }
        Reply::BreakConnection => {
            let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
                Ok(Bytes::from_static(b"partial")),
                Err(std::io::Error::other("receiver broke the connection")),
            ];
            Response::new(Body::from_stream(futures::stream::iter(chunks)))
        }
    }
}

/// The README's recipe: take `t` and every `v1` from the header, compute
/// HMAC-SHA256 with the secret over `t + "." + body`, accept when one `v1`
/// equals it and `t` is within 5 minutes of now.
pub fn verify_as_the_readme_says(header: &str, body: &str, secret: &str) -> bool {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = Some(value.to_owned()),
            Some(("v1", value)) => v1.push(value.to_ascii_lowercase()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    let Ok(seconds) = t.parse::<i64>() else {
        return false;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    if (now - seconds).abs() > 300 {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let expected = hex::encode(mac.finalize().into_bytes());
    v1.contains(&expected)
}
