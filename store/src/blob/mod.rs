//! The content-addressed blob store: objects are named by the SHA-256 of
//! their bytes, so identical files across course versions and courses are
//! stored once.
//!
//! Puts stream: bytes are hashed while they are written (to the final
//! directory's temp area on the local backend, to a spool file for S3), never
//! held in memory whole.

mod batch;
mod local;
mod s3;
mod writeback;

use std::fmt;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub use batch::BlobBatch;
pub use local::LocalBlobs;
pub use s3::{S3Blobs, S3Config};
pub use writeback::{WRITEBACK_EVERY, WritingBack};

use crate::StoreError;

/// The BLAKE3 hash of a blob's bytes, lowercase hex: 64 characters, the
/// blob's name in every store. Keys are names; nothing recomputes one to
/// find a blob, so keys written under an earlier hash (SHA-256, before
/// 2026-11-29) stay valid, only never shared with a new blob of the same
/// bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BlobKey(String);

/// A string that is not a 256-bit hex digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("blob key must be 64 lowercase hex characters, got {0:?}")]
pub struct InvalidBlobKey(pub String);

impl BlobKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key of `bytes` (for small in-memory content and tests).
    pub fn of(bytes: &[u8]) -> BlobKey {
        let mut hasher = BlobHasher::new();
        hasher.update(bytes);
        hasher.finish()
    }
}

/// Hashes content into its [`BlobKey`], piece by piece. BLAKE3 rather than
/// SHA-256: importing a package hashes the upload and every file in it,
/// and BLAKE3 hashes 3-4 times as many bytes per second on one core (7.6
/// against 2.1 GB/s with SHA-NI on the 2-core machine the benchmarks run
/// on), best in pieces of a power of two of at least 16 KiB.
#[derive(Default, Clone)]
pub struct BlobHasher(blake3::Hasher);

impl BlobHasher {
    pub fn new() -> BlobHasher {
        BlobHasher::default()
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The key of everything hashed so far.
    pub fn finish(&self) -> BlobKey {
        BlobKey(self.0.finalize().to_hex().to_string())
    }
}

impl FromStr for BlobKey {
    type Err = InvalidBlobKey;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let valid = s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if valid {
            Ok(BlobKey(s.to_owned()))
        } else {
            Err(InvalidBlobKey(s.to_owned()))
        }
    }
}

impl TryFrom<String> for BlobKey {
    type Error = InvalidBlobKey;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<BlobKey> for String {
    fn from(key: BlobKey) -> String {
        key.0
    }
}

impl fmt::Display for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a put stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobInfo {
    pub key: BlobKey,
    pub size: u64,
}

/// A readable blob (or a range of one).
pub struct BlobBody {
    /// Bytes in this body (the range's length for ranged gets).
    pub length: u64,
    /// The whole blob's size.
    pub total_size: u64,
    pub reader: Pin<Box<dyn AsyncRead + Send>>,
}

impl BlobBody {
    /// Reads the whole body into memory (tests and small objects only).
    pub async fn bytes(mut self) -> Result<Vec<u8>, StoreError> {
        let mut out = Vec::with_capacity(self.length as usize);
        self.reader.read_to_end(&mut out).await?;
        Ok(out)
    }
}

/// Where blobs live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobConfig {
    Local { root: PathBuf },
    S3(S3Config),
}

impl BlobConfig {
    /// Parses `file:///path`, a bare path, or `s3://bucket[/prefix]`; S3
    /// connection settings (endpoint, region, path style) come separately.
    pub fn parse(url: &str, s3: S3Config) -> Result<BlobConfig, StoreError> {
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(StoreError::Config(format!(
                    "blob store url {url:?} names no bucket"
                )));
            }
            Ok(BlobConfig::S3(S3Config {
                bucket: bucket.to_owned(),
                prefix: prefix.trim_matches('/').to_owned(),
                ..s3
            }))
        } else if let Some(path) = url.strip_prefix("file://") {
            Ok(BlobConfig::Local {
                root: PathBuf::from(path),
            })
        } else if url.contains("://") {
            Err(StoreError::Config(format!(
                "blob store url must be file://… or s3://…, got {url:?}"
            )))
        } else {
            Ok(BlobConfig::Local {
                root: PathBuf::from(url),
            })
        }
    }
}

/// The blob store of one deployment.
#[derive(Clone, Debug)]
pub enum BlobStore {
    Local(LocalBlobs),
    S3(S3Blobs),
}

impl BlobStore {
    pub async fn open(config: &BlobConfig) -> Result<BlobStore, StoreError> {
        Ok(match config {
            BlobConfig::Local { root } => BlobStore::Local(LocalBlobs::open(root).await?),
            BlobConfig::S3(s3) => BlobStore::S3(S3Blobs::open(s3).await?),
        })
    }

    /// Stores everything `reader` yields.
    pub async fn put_stream<R: AsyncRead + Unpin + Send>(
        &self,
        reader: R,
    ) -> Result<BlobInfo, StoreError> {
        match self {
            BlobStore::Local(local) => local.put_stream(reader).await,
            BlobStore::S3(s3) => s3.put_stream(reader).await,
        }
    }

    /// Stores a file's content (the file is left in place).
    pub async fn put_file(&self, path: &Path) -> Result<BlobInfo, StoreError> {
        let file = tokio::fs::File::open(path).await?;
        self.put_stream(file).await
    }

    /// Stores bytes already in memory.
    pub async fn put_bytes(&self, bytes: &[u8]) -> Result<BlobInfo, StoreError> {
        self.put_stream(bytes).await
    }

    /// Starts a batch of puts from synchronous readers (for code running on
    /// a blocking thread, such as ZIP extraction), stored and made durable
    /// together by [`BlobBatch::finish_blocking`].
    pub fn batch(&self) -> Result<BlobBatch, StoreError> {
        BlobBatch::new(self.clone())
    }

    /// A directory for temporary files next to the blobs (on the local
    /// backend: the store's own temp area, so [`BlobBatch::adopt_blocking`]
    /// can rename instead of copy).
    pub fn spool_dir(&self) -> PathBuf {
        match self {
            BlobStore::Local(local) => local.temp_dir(),
            BlobStore::S3(s3) => s3.spool_dir(),
        }
    }

    /// The whole blob, or `None` when there is no such blob.
    pub async fn get(&self, key: &BlobKey) -> Result<Option<BlobBody>, StoreError> {
        match self {
            BlobStore::Local(local) => local.get(key, None).await,
            BlobStore::S3(s3) => s3.get(key, None).await,
        }
    }

    /// Bytes `range` (inclusive, clamped to the blob's end) of a blob.
    pub async fn get_range(
        &self,
        key: &BlobKey,
        range: RangeInclusive<u64>,
    ) -> Result<Option<BlobBody>, StoreError> {
        match self {
            BlobStore::Local(local) => local.get(key, Some(range)).await,
            BlobStore::S3(s3) => s3.get(key, Some(range)).await,
        }
    }

    /// The blob's size, or `None` when there is no such blob.
    pub async fn size(&self, key: &BlobKey) -> Result<Option<u64>, StoreError> {
        match self {
            BlobStore::Local(local) => local.size(key).await,
            BlobStore::S3(s3) => s3.size(key).await,
        }
    }

    pub async fn exists(&self, key: &BlobKey) -> Result<bool, StoreError> {
        Ok(self.size(key).await?.is_some())
    }

    /// Removes a blob; removing a missing blob is not an error.
    pub async fn delete(&self, key: &BlobKey) -> Result<(), StoreError> {
        match self {
            BlobStore::Local(local) => local.delete(key).await,
            BlobStore::S3(s3) => s3.delete(key).await,
        }
    }

    /// A URL that reads the blob without credentials until `expires_in`
    /// passes, where the backend has such URLs (S3 does, a local directory
    /// does not).
    pub async fn presigned_get(
        &self,
        key: &BlobKey,
        expires_in: Duration,
        content_type: Option<&str>,
    ) -> Result<Option<String>, StoreError> {
        match self {
            BlobStore::Local(_) => Ok(None),
            BlobStore::S3(s3) => s3
                .presigned_get(key, expires_in, content_type)
                .await
                .map(Some),
        }
    }
}

/// Copies `reader` into `writer`, hashing as it goes; returns the key and size.
async fn copy_hashing<R, W>(mut reader: R, writer: &mut W) -> Result<BlobInfo, StoreError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut hasher = BlobHasher::new();
    let mut buffer = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = reader.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        writer.write_all(&buffer[..n]).await?;
        size += n as u64;
    }
    writer.flush().await?;
    Ok(BlobInfo {
        key: hasher.finish(),
        size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_blake3_hex() {
        // The BLAKE3 test vectors' hash of the empty input, and of "abc".
        assert_eq!(
            BlobKey::of(b"").as_str(),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
        assert_eq!(
            BlobKey::of(b"abc").as_str(),
            "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
        );
        // Pieces hash as the whole.
        let bytes = store_bytes();
        let mut hasher = BlobHasher::new();
        for piece in bytes.chunks(7_001) {
            hasher.update(piece);
        }
        assert_eq!(hasher.finish(), BlobKey::of(&bytes));
        // A key written under SHA-256 is still a key.
        assert!(
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
                .parse::<BlobKey>()
                .is_ok()
        );
        for bad in [
            "",
            "abc",
            &"A".repeat(64),
            &"g".repeat(64),
            "../../etc/passwd",
        ] {
            assert!(bad.parse::<BlobKey>().is_err(), "{bad:?} accepted");
        }
    }

    fn store_bytes() -> Vec<u8> {
        (0..100_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
            .collect()
    }

    #[test]
    fn config_urls() {
        let s3 = S3Config::default();
        assert_eq!(
            BlobConfig::parse("./data/blobs", s3.clone()).unwrap(),
            BlobConfig::Local {
                root: "./data/blobs".into()
            }
        );
        assert_eq!(
            BlobConfig::parse("file:///var/blobs", s3.clone()).unwrap(),
            BlobConfig::Local {
                root: "/var/blobs".into()
            }
        );
        match BlobConfig::parse("s3://bucket/a/b/", s3.clone()).unwrap() {
            BlobConfig::S3(c) => {
                assert_eq!((c.bucket.as_str(), c.prefix.as_str()), ("bucket", "a/b"))
            }
            other => panic!("{other:?}"),
        }
        assert!(BlobConfig::parse("s3://", s3.clone()).is_err());
        assert!(BlobConfig::parse("gs://bucket", s3).is_err());
    }
}
