//! Course files on the content origin: `GET /content/{token}/{path}`.
//!
//! The token names one course version; the path is looked up in that
//! version's file index and served from the blob store with its MIME type,
//! a strong `ETag` (the content's SHA-256), `Range` (one range) and
//! `If-None-Match`. Small files are kept in memory (the files of a course
//! are read again and again by every learner): tower-http's `ServeDir` is
//! far slower than this on small files, and the blobs may be on S3.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::Utc;
use store::blob::BlobKey;

use crate::PlayerState;
use crate::tokens::ContentClaims;

/// Small files in memory, least recently used out first.
pub struct FileCache {
    budget: usize,
    max_file: usize,
    inner: Mutex<CacheInner>,
}

struct CacheInner {
    used: usize,
    tick: u64,
    files: HashMap<String, (u64, Bytes)>,
}

impl FileCache {
    pub fn new(budget: usize, max_file: usize) -> FileCache {
        FileCache {
            budget,
            max_file,
            inner: Mutex::new(CacheInner {
                used: 0,
                tick: 0,
                files: HashMap::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn get(&self, key: &str) -> Option<Bytes> {
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        inner.files.get_mut(key).map(|(used, bytes)| {
            *used = tick;
            bytes.clone()
        })
    }

    fn put(&self, key: &str, bytes: Bytes) {
        if bytes.len() > self.max_file {
            return;
        }
        let mut inner = self.lock();
        while inner.used + bytes.len() > self.budget && !inner.files.is_empty() {
            let oldest = inner
                .files
                .iter()
                .min_by_key(|(_, (used, _))| *used)
                .map(|(k, _)| k.clone())
                .expect("not empty");
            if let Some((_, dropped)) = inner.files.remove(&oldest) {
                inner.used -= dropped.len();
            }
        }
        inner.tick += 1;
        let tick = inner.tick;
        inner.used += bytes.len();
        if let Some((_, old)) = inner.files.insert(key.to_owned(), (tick, bytes)) {
            inner.used -= old.len();
        }
    }
}

fn plain(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text.to_owned(),
    )
        .into_response()
}

/// What a `Range` header asks of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ranged {
    /// No range, or one this server answers with the whole file (several).
    Whole,
    /// Bytes `start..=end`.
    Part(u64, u64),
    /// Outside the file: 416.
    Unsatisfiable,
}

/// The range `value` asks of a file of `size` bytes.
fn parse_range(value: Option<&str>, size: u64) -> Ranged {
    let Some(spec) = value.and_then(|v| v.strip_prefix("bytes=")) else {
        return Ranged::Whole;
    };
    if spec.contains(',') {
        return Ranged::Whole;
    }
    let Some((start, end)) = spec.split_once('-') else {
        return Ranged::Whole;
    };
    let parse = |v: &str| v.parse::<u64>().ok();
    let range = match (start.trim(), end.trim()) {
        ("", suffix) => match parse(suffix) {
            Some(0) => return Ranged::Unsatisfiable,
            Some(n) => (size.saturating_sub(n), size.saturating_sub(1)),
            None => return Ranged::Whole,
        },
        (start, "") => match parse(start) {
            Some(start) => (start, size.saturating_sub(1)),
            None => return Ranged::Whole,
        },
        (start, end) => match (parse(start), parse(end)) {
            (Some(start), Some(end)) => (start, end.min(size.saturating_sub(1))),
            _ => return Ranged::Whole,
        },
    };
    if size == 0 || range.0 >= size || range.0 > range.1 {
        return Ranged::Unsatisfiable;
    }
    Ranged::Part(range.0, range.1)
}

pub async fn file(
    State(state): State<PlayerState>,
    Path((token, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let Ok(claims) = state.signer.verify::<ContentClaims>(&token, Utc::now()) else {
        return plain(
            StatusCode::FORBIDDEN,
            "This content link is not valid or has expired.",
        );
    };
    let row = match projections::courses::file(
        &state.db,
        &claims.scope,
        &claims.course,
        claims.version,
        &path,
    )
    .await
    {
        Ok(Some(row)) => row,
        Ok(None) => return plain(StatusCode::NOT_FOUND, "No such file in this course."),
        Err(err) => {
            tracing::error!(error = %err, "content lookup failed");
            return plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The file could not be read.",
            );
        }
    };
    let etag = format!("\"{}\"", row.blob);
    let size = row.size.max(0) as u64;
    let mut base = HeaderMap::new();
    base.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&content_type(&row.content_type))
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    base.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).expect("hex is a header value"),
    );
    base.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    base.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    base.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        response.headers_mut().extend(base);
        return response;
    }
    let Ok(key) = row.blob.parse::<BlobKey>() else {
        return plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The file could not be read.",
        );
    };
    let range = parse_range(
        headers.get(header::RANGE).and_then(|v| v.to_str().ok()),
        size,
    );
    match range {
        Ranged::Unsatisfiable => {
            let mut response = plain(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "The requested range is outside the file.",
            );
            response.headers_mut().insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{size}")).expect("a valid header"),
            );
            response
        }
        Ranged::Part(start, end) => {
            let body = match state.files.get(key.as_str()) {
                Some(bytes) => Body::from(bytes.slice(start as usize..=end as usize)),
                None => match state.blobs.get_range(&key, start..=end).await {
                    Ok(Some(blob)) => {
                        Body::from_stream(tokio_util::io::ReaderStream::new(blob.reader))
                    }
                    _ => {
                        return plain(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "The file could not be read.",
                        );
                    }
                },
            };
            let mut response = (StatusCode::PARTIAL_CONTENT, body).into_response();
            let headers = response.headers_mut();
            headers.extend(base);
            headers.insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes {start}-{end}/{size}"))
                    .expect("a valid header"),
            );
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start + 1));
            response
        }
        Ranged::Whole => {
            let body = match state.files.get(key.as_str()) {
                Some(bytes) => Body::from(bytes),
                None if (size as usize) <= 1024 * 1024 => match state.blobs.get(&key).await {
                    Ok(Some(blob)) => match blob.bytes().await {
                        Ok(bytes) => {
                            let bytes = Bytes::from(bytes);
                            state.files.put(key.as_str(), bytes.clone());
                            Body::from(bytes)
                        }
                        Err(_) => {
                            return plain(
                                StatusCode::INTERNAL_SERVER_ERROR,
                                "The file could not be read.",
                            );
                        }
                    },
                    _ => {
                        return plain(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "The file could not be read.",
                        );
                    }
                },
                None => match state.blobs.get(&key).await {
                    Ok(Some(blob)) => Body::from_stream(
                        tokio_util::io::ReaderStream::with_capacity(blob.reader, 256 * 1024),
                    ),
                    _ => {
                        return plain(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "The file could not be read.",
                        );
                    }
                },
            };
            let mut response = (StatusCode::OK, body).into_response();
            response.headers_mut().extend(base);
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(size));
            response
        }
    }
}

/// Text types are served as UTF-8.
fn content_type(stored: &str) -> String {
    if (stored.starts_with("text/")
        || stored == "application/javascript"
        || stored == "application/json")
        && !stored.contains("charset")
    {
        format!("{stored}; charset=utf-8")
    } else {
        stored.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::{Ranged, parse_range};

    #[test]
    fn ranges() {
        let cases = [
            (Some("bytes=0-9"), 100, Ranged::Part(0, 9)),
            (Some("bytes=90-"), 100, Ranged::Part(90, 99)),
            (Some("bytes=-10"), 100, Ranged::Part(90, 99)),
            (Some("bytes=50-500"), 100, Ranged::Part(50, 99)),
            (Some("bytes=100-"), 100, Ranged::Unsatisfiable),
            (Some("bytes=9-1"), 100, Ranged::Unsatisfiable),
            (Some("bytes=-0"), 100, Ranged::Unsatisfiable),
            (Some("bytes=0-1,5-6"), 100, Ranged::Whole),
            (Some("items=0-1"), 100, Ranged::Whole),
            (Some("bytes=x-1"), 100, Ranged::Whole),
            (None, 100, Ranged::Whole),
        ];
        for (value, size, expected) in cases {
            assert_eq!(parse_range(value, size), expected, "{value:?}");
        }
    }
}
