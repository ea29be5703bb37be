//! Blobs in an S3-compatible bucket (AWS S3, Cloudflare R2, MinIO,
//! SeaweedFS): `<prefix>/<key>`.
//!
//! Credentials come from the standard AWS chain (environment, profile, web
//! identity, container and instance metadata). A put first spools the
//! stream to a local file while hashing (the key must be known before the
//! upload), skips the upload when the object already exists, and uploads in
//! parts above [`MULTIPART_THRESHOLD`].

use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use tokio::io::AsyncRead;

use super::local::clamp;
use super::{BlobBody, BlobInfo, BlobKey, copy_hashing};
use crate::StoreError;

/// Objects above this size are uploaded in parts.
pub const MULTIPART_THRESHOLD: u64 = 64 * 1024 * 1024;
const PART_SIZE: u64 = 16 * 1024 * 1024;

/// How to reach the bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Config {
    pub bucket: String,
    /// Key prefix inside the bucket, without slashes at either end.
    pub prefix: String,
    /// A custom endpoint (R2, MinIO, SeaweedFS); `None` for AWS.
    pub endpoint: Option<String>,
    /// `None` takes the region from the standard chain; R2 wants `auto`.
    pub region: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), which most
    /// S3-compatible servers need.
    pub path_style: bool,
    /// Where puts spool before upload; the system temp directory by default.
    pub spool_dir: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct S3Blobs {
    client: Client,
    bucket: String,
    prefix: String,
    spool_dir: Option<PathBuf>,
}

fn s3_error(context: &str, err: impl std::error::Error) -> StoreError {
    let mut message = format!("{context}: {err}");
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    StoreError::S3(message)
}

impl S3Blobs {
    pub async fn open(config: &S3Config) -> Result<S3Blobs, StoreError> {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
        if let Some(region) = &config.region {
            loader = loader.region(Region::new(region.clone()));
        }
        let shared = loader.load().await;
        let mut builder = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(config.path_style)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if shared.region().is_none() {
            builder = builder.region(Region::new("us-east-1"));
        }
        if let Some(endpoint) = &config.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        let blobs = S3Blobs {
            client: Client::from_conf(builder.build()),
            bucket: config.bucket.clone(),
            prefix: config.prefix.clone(),
            spool_dir: config.spool_dir.clone(),
        };
        blobs
            .client
            .head_bucket()
            .bucket(&blobs.bucket)
            .send()
            .await
            .map_err(|e| s3_error(&format!("bucket {:?} is not reachable", blobs.bucket), e))?;
        Ok(blobs)
    }

    fn object_key(&self, key: &BlobKey) -> String {
        if self.prefix.is_empty() {
            key.as_str().to_owned()
        } else {
            format!("{}/{}", self.prefix, key)
        }
    }

    pub(super) fn spool_dir(&self) -> PathBuf {
        self.spool_dir.clone().unwrap_or_else(std::env::temp_dir)
    }

    /// Uploads a local file already hashed to `info` (and removes it).
    pub(super) async fn upload_file(
        &self,
        path: &std::path::Path,
        info: &BlobInfo,
    ) -> Result<(), StoreError> {
        if self.size(&info.key).await?.is_none() {
            let object = self.object_key(&info.key);
            if info.size <= MULTIPART_THRESHOLD {
                let body = ByteStream::read_from()
                    .path(path)
                    .build()
                    .await
                    .map_err(|e| s3_error("reading the spool file", e))?;
                self.client
                    .put_object()
                    .bucket(&self.bucket)
                    .key(&object)
                    .content_length(info.size as i64)
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| s3_error("put_object", e))?;
            } else {
                self.put_multipart(&object, path, info.size).await?;
            }
        }
        tokio::fs::remove_file(path).await?;
        Ok(())
    }

    pub(super) async fn put_stream<R: AsyncRead + Unpin + Send>(
        &self,
        reader: R,
    ) -> Result<BlobInfo, StoreError> {
        let spool = match &self.spool_dir {
            Some(dir) => tempfile::NamedTempFile::new_in(dir)?,
            None => tempfile::NamedTempFile::new()?,
        };
        let mut file = tokio::fs::File::from_std(spool.reopen()?);
        let info = copy_hashing(reader, &mut file).await?;
        drop(file);
        if self.size(&info.key).await?.is_some() {
            return Ok(info);
        }
        let object = self.object_key(&info.key);
        if info.size <= MULTIPART_THRESHOLD {
            let body = ByteStream::read_from()
                .path(spool.path())
                .build()
                .await
                .map_err(|e| s3_error("reading the spool file", e))?;
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(&object)
                .content_length(info.size as i64)
                .body(body)
                .send()
                .await
                .map_err(|e| s3_error("put_object", e))?;
        } else {
            self.put_multipart(&object, spool.path(), info.size).await?;
        }
        Ok(info)
    }

    async fn put_multipart(
        &self,
        object: &str,
        path: &std::path::Path,
        size: u64,
    ) -> Result<(), StoreError> {
        let upload = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(object)
            .send()
            .await
            .map_err(|e| s3_error("create_multipart_upload", e))?;
        let upload_id = upload
            .upload_id()
            .ok_or_else(|| StoreError::S3("create_multipart_upload returned no upload id".into()))?
            .to_owned();
        let uploaded = async {
            let mut parts = Vec::new();
            let mut offset = 0;
            let mut number = 1;
            while offset < size {
                let length = PART_SIZE.min(size - offset);
                let body = ByteStream::read_from()
                    .path(path)
                    .offset(offset)
                    .length(Length::Exact(length))
                    .build()
                    .await
                    .map_err(|e| s3_error("reading the spool file", e))?;
                let part = self
                    .client
                    .upload_part()
                    .bucket(&self.bucket)
                    .key(object)
                    .upload_id(&upload_id)
                    .part_number(number)
                    .content_length(length as i64)
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| s3_error("upload_part", e))?;
                parts.push(
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(part.e_tag().map(str::to_owned))
                        .build(),
                );
                offset += length;
                number += 1;
            }
            self.client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(object)
                .upload_id(&upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| s3_error("complete_multipart_upload", e))?;
            Ok::<_, StoreError>(())
        }
        .await;
        if uploaded.is_err() {
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(object)
                .upload_id(&upload_id)
                .send()
                .await;
        }
        uploaded
    }

    pub(super) async fn get(
        &self,
        key: &BlobKey,
        range: Option<RangeInclusive<u64>>,
    ) -> Result<Option<BlobBody>, StoreError> {
        let Some(total_size) = self.size(key).await? else {
            return Ok(None);
        };
        let (start, length) = match range {
            None => (0, total_size),
            Some(range) => clamp(range, total_size),
        };
        if length == 0 {
            return Ok(Some(BlobBody {
                length: 0,
                total_size,
                reader: Box::pin(tokio::io::empty()),
            }));
        }
        let mut request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.object_key(key));
        if start > 0 || length < total_size {
            request = request.range(format!("bytes={}-{}", start, start + length - 1));
        }
        match request.send().await {
            Ok(output) => Ok(Some(BlobBody {
                length,
                total_size,
                reader: Box::pin(output.body.into_async_read()),
            })),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => Ok(None),
            Err(err) => Err(s3_error("get_object", err)),
        }
    }

    pub(super) async fn size(&self, key: &BlobKey) -> Result<Option<u64>, StoreError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .send()
            .await
        {
            Ok(head) => Ok(Some(head.content_length().unwrap_or(0).max(0) as u64)),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
            Err(err) => Err(s3_error("head_object", err)),
        }
    }

    pub(super) async fn delete(&self, key: &BlobKey) -> Result<(), StoreError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .send()
            .await
            .map_err(|e| s3_error("delete_object", e))?;
        Ok(())
    }

    pub(super) async fn presigned_get(
        &self,
        key: &BlobKey,
        expires_in: Duration,
        content_type: Option<&str>,
    ) -> Result<String, StoreError> {
        let config =
            PresigningConfig::expires_in(expires_in).map_err(|e| s3_error("presigning", e))?;
        let mut request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.object_key(key));
        if let Some(content_type) = content_type {
            request = request.response_content_type(content_type);
        }
        let presigned = request
            .presigned(config)
            .await
            .map_err(|e| s3_error("presigning", e))?;
        Ok(presigned.uri().to_owned())
    }
}
