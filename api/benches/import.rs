//! Import throughput and memory, next to plain extraction, same run.
//!
//! `cargo bench -p api --bench import` generates a package of about 200 MB
//! (3,000 small text files and 7 large media files), then:
//! - baseline: extracts it to disk with the zip crate, file by file;
//! - ours: uploads it to the real `allureconnect` server (SQLite, local
//!   blobs) over HTTP and waits until the import is complete: spool, checks,
//!   manifest parse, hashing, content-addressed storage, fsync, events, views.
//!
//! It prints MB/s for both (MB of inflated content), the ratio, and the
//! server's peak resident memory during the import. The package is on disk
//! before either is timed, and the baseline's files are written out and kept
//! until the import is done, so that neither measurement pays for the other's
//! writes or deletions.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

const SMALL_FILES: usize = 3_000;
const SMALL_SIZE: usize = 20_000;
const MEDIA_FILES: usize = 7;
const MEDIA_SIZE: usize = 20 * 1024 * 1024;

fn text(seed: usize, size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size);
    let mut n = seed as u64 * 2_654_435_761 + 7;
    while out.len() < size {
        n ^= n << 13;
        n ^= n >> 7;
        n ^= n << 17;
        writeln!(
            out,
            "<p class=\"c{}\">Lesson text {} for slide {}.</p>",
            n % 97,
            n % 10_007,
            seed
        )
        .unwrap();
    }
    out.truncate(size);
    out
}

fn media(seed: usize, size: usize) -> Vec<u8> {
    store::testing::noise(size, (seed as u32).wrapping_mul(2_654_435_761))
}

/// Writes the package; returns its inflated size.
fn generate(path: &Path) -> u64 {
    let file = std::fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let manifest = r#"<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="bench" version="1" xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
 xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2">
 <metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>
 <organizations default="o"><organization identifier="o"><title>Benchmark Course</title>
  <item identifier="i" identifierref="r"><title>Lesson</title></item></organization></organizations>
 <resources><resource identifier="r" type="webcontent" adlcp:scormtype="sco" href="index.html"><file href="index.html"/></resource></resources>
</manifest>"#;
    let mut total = 0u64;
    zip.start_file("imsmanifest.xml", deflated).unwrap();
    zip.write_all(manifest.as_bytes()).unwrap();
    zip.start_file("index.html", deflated).unwrap();
    zip.write_all(b"<html><body>bench</body></html>").unwrap();
    total += (manifest.len() + 31) as u64;
    for i in 0..SMALL_FILES {
        let ext = ["html", "js", "css", "json"][i % 4];
        zip.start_file(format!("content/part{}/slide{i}.{ext}", i % 30), deflated)
            .unwrap();
        let body = text(i, SMALL_SIZE);
        zip.write_all(&body).unwrap();
        total += body.len() as u64;
    }
    for i in 0..MEDIA_FILES {
        zip.start_file(format!("media/video{i}.mp4"), stored)
            .unwrap();
        let body = media(i, MEDIA_SIZE);
        zip.write_all(&body).unwrap();
        total += body.len() as u64;
    }
    zip.finish().unwrap();
    total
}

/// Plain extraction with the zip crate: the baseline.
fn extract(package: &Path, into: &Path) {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(package).unwrap()).unwrap();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let Some(relative) = entry.enclosed_name() else {
            continue;
        };
        let target = into.join(relative);
        if entry.is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            continue;
        }
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        let mut out = std::fs::File::create(&target).unwrap();
        let mut buffer = vec![0u8; 128 * 1024];
        loop {
            let n = entry.read(&mut buffer).unwrap();
            if n == 0 {
                break;
            }
            out.write_all(&buffer[..n]).unwrap();
        }
    }
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let work =
        tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| "/tmp".into())).unwrap();
    let package = work.path().join("package.zip");
    let started = Instant::now();
    let inflated = generate(&package);
    // On disk before either measurement starts: otherwise the import's `syncfs` would write
    // the package out too.
    std::fs::File::open(&package).unwrap().sync_all().unwrap();
    let zipped = std::fs::metadata(&package).unwrap().len();
    let mb = inflated as f64 / 1e6;
    println!(
        "# import benchmark: {} files, {:.0} MB inflated, {:.0} MB zipped (generated in {:.1} s)\n",
        SMALL_FILES + MEDIA_FILES + 2,
        mb,
        zipped as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    // Baseline: plain extraction.
    let out = work.path().join("extracted");
    let started = Instant::now();
    extract(&package, &out);
    let baseline = started.elapsed();
    // Kept until the import is done: deleting 3,000 files just before it would slow the
    // file creations of the import (ext4 without a journal skips recently freed inodes).
    // Written out first, for the same reason as the package.
    let synced = std::process::Command::new("sync").status().unwrap();
    assert!(synced.success(), "sync failed");

    // Ours: the real server, over HTTP.
    let binary = env!("CARGO_BIN_EXE_allureconnect");
    let data = work.path().join("data");
    let run = |args: &[&str]| {
        let output = std::process::Command::new(binary)
            .args(args)
            .env("ALLURECONNECT_DATA_DIR", &data)
            .env("ALLURECONNECT_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let created: serde_json::Value =
        serde_json::from_str(run(&["workspace", "create", "bench"]).trim()).unwrap();
    let key = created["live_key"].as_str().unwrap().to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = std::process::Command::new(binary)
        .arg("serve")
        .env("ALLURECONNECT_DATA_DIR", &data)
        .env("ALLURECONNECT_LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "ALLURECONNECT_LOG",
            std::env::var("BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (ours, rss) = runtime.block_on(async {
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if let Ok(r) = client
                .get(format!("{base}/api/v1/workspace"))
                .bearer_auth(&key)
                .send()
                .await
                && r.status() == 200
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let rss_before = peak_rss_kib(server.id());
        let started = Instant::now();
        let file = tokio::fs::File::open(&package).await.unwrap();
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(
            file,
            256 * 1024,
        ));
        let answer: serde_json::Value = client
            .post(format!("{base}/api/v1/courses?course_id=bench"))
            .bearer_auth(&key)
            .header("content-type", "application/zip")
            .body(body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let import_id = answer["import_id"].as_str().unwrap().to_owned();
        let mut status = answer["status"].as_str().unwrap().to_owned();
        while status == "running" {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let import: serde_json::Value = client
                .get(format!("{base}/api/v1/imports/{import_id}"))
                .bearer_auth(&key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            status = import["status"].as_str().unwrap().to_owned();
        }
        assert_eq!(status, "complete", "the benchmark import failed: {answer}");
        let elapsed = started.elapsed();
        (elapsed, (rss_before, peak_rss_kib(server.id())))
    });
    let _ = server.kill();
    let _ = server.wait();
    std::fs::remove_dir_all(&out).unwrap();

    let baseline_rate = mb / baseline.as_secs_f64();
    let ours_rate = mb / ours.as_secs_f64();
    println!("| measurement | MB/s | seconds |");
    println!("|---|---:|---:|");
    println!(
        "| baseline: plain extraction with the zip crate | {baseline_rate:.0} | {:.2} |",
        baseline.as_secs_f64()
    );
    println!(
        "| import through the server (upload, checks, parse, hash, store, fsync, events) | {ours_rate:.0} | {:.2} |",
        ours.as_secs_f64()
    );
    println!(
        "\nratio: {:.0}% of plain extraction",
        100.0 * ours_rate / baseline_rate
    );
    println!(
        "server peak RSS: {:.1} MB before the upload, {:.1} MB after the import",
        rss.0 as f64 / 1024.0,
        rss.1 as f64 / 1024.0
    );
}
