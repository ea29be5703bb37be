//! The blob store contract, run against the local directory and against a
//! real S3-protocol server (SeaweedFS, started by tests/run).

use std::time::Duration;

use store::blob::{BlobConfig, BlobKey, BlobStore};
use store::testing::{local_blob_config, s3_config};
use tokio::io::AsyncReadExt;

/// Deterministic bytes that do not compress to nothing.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    store::testing::noise(len, u32::from(seed).wrapping_mul(2_654_435_761))
}

async fn contract(config: BlobConfig) {
    let blobs = BlobStore::open(&config)
        .await
        .expect("failed to open the blob store");

    let small = b"<html>hello</html>".to_vec();
    let info = blobs.put_bytes(&small).await.unwrap();
    assert_eq!(info.key, BlobKey::of(&small));
    assert_eq!(info.size, small.len() as u64);
    assert!(blobs.exists(&info.key).await.unwrap());
    assert_eq!(
        blobs.size(&info.key).await.unwrap(),
        Some(small.len() as u64)
    );
    assert_eq!(
        blobs
            .get(&info.key)
            .await
            .unwrap()
            .unwrap()
            .bytes()
            .await
            .unwrap(),
        small
    );

    // The same content is one blob.
    let again = blobs.put_stream(&small[..]).await.unwrap();
    assert_eq!(again, info);

    // Ranged reads, including ranges that run past the end.
    let cases: &[(u64, u64, &[u8])] = &[
        (0, 5, b"<html>"),
        (6, 10, b"hello"),
        (11, 1000, b"</html>"),
        (17, 17, b">"),
    ];
    for (start, end, expected) in cases {
        let body = blobs
            .get_range(&info.key, *start..=*end)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(body.total_size, small.len() as u64);
        assert_eq!(body.length, expected.len() as u64, "{start}..={end}");
        assert_eq!(body.bytes().await.unwrap(), *expected, "{start}..={end}");
    }
    let past_end = blobs
        .get_range(&info.key, 100..=200)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(past_end.length, 0);

    // A large object streams through (and crosses the S3 multipart threshold).
    let large = pattern(70 * 1024 * 1024, 7);
    let large_info = blobs.put_stream(&large[..]).await.unwrap();
    assert_eq!(large_info.key, BlobKey::of(&large));
    let mut body = blobs.get(&large_info.key).await.unwrap().unwrap();
    assert_eq!(body.length, large.len() as u64);
    let mut read_back = Vec::new();
    body.reader.read_to_end(&mut read_back).await.unwrap();
    assert!(read_back == large, "large blob read back differs");
    let tail = blobs
        .get_range(&large_info.key, (large.len() as u64 - 10)..=u64::MAX)
        .await
        .unwrap()
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(tail, large[large.len() - 10..]);

    // Presigned URLs where the backend has them.
    let url = blobs
        .presigned_get(&info.key, Duration::from_secs(60), Some("text/html"))
        .await
        .unwrap();
    match (&config, url) {
        (BlobConfig::Local { .. }, None) => {}
        (BlobConfig::S3(_), Some(url)) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let response = reqwest::get(&url).await.unwrap();
            assert_eq!(response.status(), 200, "presigned GET of {url}");
            assert_eq!(response.headers()["content-type"], "text/html");
            assert_eq!(response.bytes().await.unwrap().to_vec(), small);
            let tampered = url.replace("X-Amz-Signature=", "X-Amz-Signature=0");
            assert_eq!(
                reqwest::get(&tampered).await.unwrap().status(),
                403,
                "tampered signature accepted"
            );
        }
        (config, url) => panic!("unexpected presigned url {url:?} for {config:?}"),
    }

    // Deleting is idempotent and final.
    blobs.delete(&info.key).await.unwrap();
    blobs.delete(&info.key).await.unwrap();
    assert!(!blobs.exists(&info.key).await.unwrap());
    assert!(blobs.get(&info.key).await.unwrap().is_none());
    assert!(blobs.get_range(&info.key, 0..=1).await.unwrap().is_none());
    blobs.delete(&large_info.key).await.unwrap();
}

#[tokio::test]
async fn local_directory() {
    let (config, _dir) = local_blob_config();
    contract(config).await;
}

#[tokio::test]
async fn s3_compatible_server() {
    let Some(config) = s3_config() else { return };
    contract(config).await;
}

#[tokio::test]
async fn s3_with_wrong_credentials_is_refused_at_open() {
    let Some(BlobConfig::S3(mut config)) = s3_config() else {
        return;
    };
    config.bucket = "no-such-bucket-allureconnect".into();
    let err = BlobStore::open(&BlobConfig::S3(config)).await.unwrap_err();
    assert!(
        err.to_string().contains("no-such-bucket-allureconnect"),
        "{err}"
    );
}
