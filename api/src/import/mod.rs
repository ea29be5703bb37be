//! Course import: an upload is spooled to disk while it is hashed (memory
//! stays flat whatever its size), checked and parsed on a blocking thread,
//! its files stored content-addressed, and the result recorded as events:
//! `CourseImportStarted`, then `CourseImported` + `CourseVersionPublished`
//! (the course version exists exactly when the import is complete) or
//! `CourseImportFailed`.

pub mod archive;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use domain::course::{
    ArchiveProblem, CourseCommand, CourseId, ImportCommand, ImportSource, ImportedVersion,
    PackageBlob,
};
use domain::events::EventMetadata;
use domain::package::{ImportOptions, ValidationReport, import_package};
use domain::tenancy::Scope;
use futures::{Stream, StreamExt};
use store::blob::{BlobHasher, BlobInfo, WritingBack};
use store::log::Checkpoint;
use tokio::task::JoinHandle;

use crate::platform::Platform;
pub use archive::{Failure, Limits, Progress};
use store::commands::CommandError;

/// Body chunks read ahead of the spool writer.
const SPOOL_CHUNKS_AHEAD: usize = 32;
/// The spool writer's write size.
const SPOOL_WRITE: usize = 256 * 1024;

/// Import settings.
#[derive(Debug, Clone)]
pub struct ImportSettings {
    pub limits: Limits,
    /// Largest upload accepted, in bytes (the ZIP as sent).
    pub max_upload: u64,
    /// How long `POST /courses` waits for an import before answering 202.
    pub inline_wait: Duration,
    /// An import running longer than this has lost its process: it is failed.
    pub timeout: Duration,
    /// Whether `import-url` may fetch from private, loopback or link-local addresses.
    pub allow_private_urls: bool,
}

impl Default for ImportSettings {
    fn default() -> Self {
        ImportSettings {
            limits: Limits::default(),
            max_upload: 4 * 1024 * 1024 * 1024,
            inline_wait: Duration::from_secs(10),
            timeout: Duration::from_secs(3600),
            allow_private_urls: false,
        }
    }
}

/// An upload on disk, with its hash.
pub struct Spooled {
    pub path: tempfile::TempPath,
    pub info: BlobInfo,
}

/// A started import.
#[derive(Debug, Clone)]
pub struct Started {
    pub import_id: String,
    pub course_id: CourseId,
    pub title: Option<String>,
    pub checkpoint: Option<Checkpoint>,
}

/// How an import ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    Complete {
        version: u32,
        checkpoint: Option<Checkpoint>,
    },
    Failed {
        failure: Failure,
        checkpoint: Option<Checkpoint>,
    },
}

/// Runs imports for one process.
#[derive(Clone)]
pub struct Importer {
    platform: Platform,
    settings: Arc<ImportSettings>,
    running: Arc<Mutex<HashMap<String, Arc<Progress>>>>,
}

/// A failed spool: the upload was refused or could not be read.
#[derive(Debug)]
pub enum SpoolError {
    TooLarge { limit: u64 },
    Read(String),
    Io(std::io::Error),
}

impl Importer {
    pub fn new(platform: Platform, settings: ImportSettings) -> Importer {
        Importer {
            platform,
            settings: Arc::new(settings),
            running: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    pub fn settings(&self) -> &ImportSettings {
        &self.settings
    }

    /// Writes a body to a spool file next to the blobs, hashing it; refuses
    /// it past `max_upload` bytes. The body is read here while two blocking
    /// threads, one writing and one hashing, take what was read (a few chunks
    /// behind, so memory stays flat; the chunks are shared, not copied).
    pub async fn spool<S, E>(&self, mut body: S) -> Result<Spooled, SpoolError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let started = std::time::Instant::now();
        let dir = self.platform.blobs.spool_dir();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(SpoolError::Io)?;
        let temp = tempfile::Builder::new()
            .prefix("upload-")
            .tempfile_in(&dir)
            .map_err(SpoolError::Io)?;
        let (file, path) = temp.into_parts();
        let (chunks, mut received) = tokio::sync::mpsc::channel::<Bytes>(SPOOL_CHUNKS_AHEAD);
        let (to_hash, mut hashed) = tokio::sync::mpsc::channel::<Bytes>(SPOOL_CHUNKS_AHEAD);
        let hasher = tokio::task::spawn_blocking(move || {
            let mut hasher = BlobHasher::new();
            while let Some(chunk) = hashed.blocking_recv() {
                hasher.update(&chunk);
            }
            hasher.finish()
        });
        let writer = tokio::task::spawn_blocking(move || {
            // Asking for its write-back as it goes, so the import's final
            // sync finds the upload mostly on disk already.
            let mut spool = WritingBack::new(file);
            let mut pending = Vec::with_capacity(SPOOL_WRITE);
            while let Some(chunk) = received.blocking_recv() {
                if pending.is_empty() && chunk.len() >= SPOOL_WRITE {
                    spool.write(&chunk)?;
                    continue;
                }
                pending.extend_from_slice(&chunk);
                if pending.len() >= SPOOL_WRITE {
                    spool.write(&pending)?;
                    pending.clear();
                }
            }
            spool.write(&pending)?;
            spool.finish();
            Ok::<_, std::io::Error>(())
        });
        let mut size = 0u64;
        let read = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| SpoolError::Read(e.to_string()))?;
                size += chunk.len() as u64;
                if size > self.settings.max_upload {
                    return Err(SpoolError::TooLarge {
                        limit: self.settings.max_upload,
                    });
                }
                if to_hash.send(chunk.clone()).await.is_err() || chunks.send(chunk).await.is_err() {
                    // The writer stopped on an error, reported below.
                    break;
                }
            }
            Ok(())
        }
        .await;
        drop(chunks);
        drop(to_hash);
        let written = writer
            .await
            .map_err(|e| SpoolError::Io(std::io::Error::other(e)))?;
        let key = hasher
            .await
            .map_err(|e| SpoolError::Io(std::io::Error::other(e)))?;
        read?;
        written.map_err(SpoolError::Io)?;
        tracing::info!(
            bytes = size,
            spool_ms = started.elapsed().as_millis() as u64,
            "upload spooled"
        );
        Ok(Spooled {
            path,
            info: BlobInfo { key, size },
        })
    }

    /// Records the start of an import.
    pub async fn begin(
        &self,
        scope: &Scope,
        metadata: &EventMetadata,
        course_id: CourseId,
        title: Option<String>,
        source: ImportSource,
    ) -> Result<Started, CommandError<domain::course::ImportError>> {
        let import_id = uuid::Uuid::now_v7().to_string();
        let checkpoint = self
            .platform
            .commands
            .import(
                &scope.aggregate_id(&import_id),
                ImportCommand::Start {
                    import_id: import_id.clone(),
                    course_id: course_id.clone(),
                    title: title.clone(),
                    source,
                    at: Utc::now(),
                },
                metadata,
            )
            .await?;
        Ok(Started {
            import_id,
            course_id,
            title,
            checkpoint,
        })
    }

    /// Runs a started import in the background; the handle says how it ended.
    pub fn run(
        &self,
        scope: Scope,
        metadata: EventMetadata,
        started: Started,
        spooled: Spooled,
    ) -> JoinHandle<Outcome> {
        let progress = Arc::new(Progress::default());
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(started.import_id.clone(), progress.clone());
        let this = self.clone();
        tokio::spawn(async move {
            let import_id = started.import_id.clone();
            let span = tracing::info_span!("import", import_id = %import_id, course_id = %started.course_id);
            let outcome = tracing::Instrument::instrument(
                this.execute(scope, metadata, started, spooled, progress),
                span,
            )
            .await;
            this.running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&import_id);
            outcome
        })
    }

    /// Progress of an import running in this process.
    pub fn progress(&self, import_id: &str) -> Option<Arc<Progress>> {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(import_id)
            .cloned()
    }

    async fn execute(
        &self,
        scope: Scope,
        metadata: EventMetadata,
        started: Started,
        spooled: Spooled,
        progress: Arc<Progress>,
    ) -> Outcome {
        let metadata = match started.checkpoint {
            Some(_) => metadata.with_causation_id(&started.import_id),
            None => metadata,
        };
        let deadline = self.settings.timeout;
        let result = match tokio::time::timeout(deadline, self.process(spooled, progress)).await {
            Ok(result) => result,
            Err(_) => Err(Failure::archive(
                ArchiveProblem::Interrupted,
                format!("the import took longer than {} s", deadline.as_secs()),
            )),
        };
        let version = match result {
            Ok(version) => version,
            Err(failure) => {
                return self
                    .fail(&scope, &metadata, &started.import_id, failure)
                    .await;
            }
        };
        let recorded = self
            .platform
            .commands
            .course(
                &scope.aggregate_id(started.course_id.as_str()),
                CourseCommand::Import {
                    import_id: started.import_id.clone(),
                    course_id: started.course_id.clone(),
                    title: started.title.clone(),
                    version: Box::new(version),
                    at: Utc::now(),
                },
                &metadata,
            )
            .await;
        match recorded {
            Ok(checkpoint) => {
                let number = match &checkpoint {
                    Some(_) => self.version_number(&scope, &started).await,
                    None => 0,
                };
                tracing::info!(version = number, "course imported");
                Outcome::Complete {
                    version: number,
                    checkpoint,
                }
            }
            Err(err) => {
                let failure = Failure {
                    code: "course_refused".into(),
                    message: err.to_string(),
                    findings: Vec::new(),
                };
                self.fail(&scope, &metadata, &started.import_id, failure)
                    .await
            }
        }
    }

    async fn version_number(&self, scope: &Scope, started: &Started) -> u32 {
        // The version the Course aggregate gave this import.
        let events = self
            .platform
            .log
            .read_stream(&scope.stream_id("course", started.course_id.as_str()), 0)
            .await
            .unwrap_or_default();
        events
            .iter()
            .rev()
            .find_map(|e| {
                match domain::events::Event::decode(&e.event_type, e.schema_version, &e.payload) {
                    Ok(domain::events::Event::Course(
                        domain::course::CourseEvent::CourseImported {
                            import_id, version, ..
                        },
                    )) if import_id == started.import_id => Some(version),
                    _ => None,
                }
            })
            .unwrap_or(0)
    }

    /// The blocking part: open, check, parse, stage the files and the
    /// upload itself (kept, for download) in one batch, and store them all
    /// durably. Nothing is stored unless everything is.
    async fn process(
        &self,
        spooled: Spooled,
        progress: Arc<Progress>,
    ) -> Result<ImportedVersion, Failure> {
        let limits = self.settings.limits.clone();
        let blobs = self.platform.blobs.clone();
        let package = PackageBlob {
            blob: spooled.info.key.to_string(),
            size: spooled.info.size,
        };
        tokio::task::spawn_blocking(move || {
            let unstored = |e: store::StoreError| {
                tracing::error!(error = %e, "storing the course files failed");
                Failure::archive(
                    ArchiveProblem::CorruptZip,
                    "the course files could not be stored",
                )
            };
            let mut batch = blobs.batch().map_err(unstored)?;
            let path: PathBuf = spooled.path.to_path_buf();
            if let Some(xml) = bare_xml(&path, limits.manifest_size_limit)? {
                // A bare cmi5.xml: every AU URL is absolute, there are no files.
                let options = ImportOptions {
                    manifest_size_limit: limits.manifest_size_limit,
                    ..ImportOptions::default()
                };
                let imported = domain::package::import_cmi5_xml(&xml, &options)
                    .map_err(|rejected| rejected_failure(&rejected.report))?;
                batch
                    .adopt_blocking(spooled.path, &spooled.info)
                    .map_err(unstored)?;
                batch.finish_blocking().map_err(unstored)?;
                return Ok(ImportedVersion {
                    structure: imported.course,
                    warnings: imported.report.findings,
                    files: Vec::new(),
                    package,
                });
            }
            let phase = std::time::Instant::now();
            let archive = archive::Archive::open(&path, &limits)?;
            let options = ImportOptions {
                manifest_size_limit: limits.manifest_size_limit,
                ..ImportOptions::default()
            };
            let imported = import_package(&archive, &options)
                .map_err(|rejected| rejected_failure(&rejected.report))?;
            let root = imported.course.package_root.clone();
            let parsed = phase.elapsed();
            let (files_total, bytes_total) = archive.announced(root.as_ref());
            progress.files_total.store(files_total, Ordering::Relaxed);
            progress.bytes_total.store(bytes_total, Ordering::Relaxed);
            let workers = std::thread::available_parallelism()
                .map_or(2, |n| n.get())
                .min(4);
            let files = archive.store_files(root.as_ref(), &mut batch, workers, &progress)?;
            drop(archive);
            batch
                .adopt_blocking(spooled.path, &spooled.info)
                .map_err(unstored)?;
            let staged = phase.elapsed();
            batch.finish_blocking().map_err(unstored)?;
            tracing::info!(
                files = files.len(),
                parse_ms = parsed.as_millis(),
                stage_ms = (staged - parsed).as_millis(),
                sync_ms = (phase.elapsed() - staged).as_millis(),
                "course files stored"
            );
            Ok(ImportedVersion {
                structure: imported.course,
                warnings: imported.report.findings,
                files,
                package,
            })
        })
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "the import task failed");
            Err(Failure::archive(
                ArchiveProblem::CorruptZip,
                "the import failed unexpectedly",
            ))
        })
    }

    async fn fail(
        &self,
        scope: &Scope,
        metadata: &EventMetadata,
        import_id: &str,
        failure: Failure,
    ) -> Outcome {
        tracing::info!(code = %failure.code, message = %failure.message, "import failed");
        let checkpoint = self
            .platform
            .commands
            .import(
                &scope.aggregate_id(import_id),
                ImportCommand::Fail {
                    code: failure.code.clone(),
                    message: failure.message.clone(),
                    findings: failure.findings.clone(),
                    at: Utc::now(),
                },
                metadata,
            )
            .await
            .unwrap_or_else(|err| {
                tracing::error!(error = %err, "recording the import failure failed");
                None
            });
        Outcome::Failed {
            failure,
            checkpoint,
        }
    }

    /// Fails imports whose process died: running longer than the timeout
    /// and not running here.
    pub async fn sweep(&self) -> Result<usize, store::StoreError> {
        let before =
            Utc::now() - chrono::Duration::from_std(self.settings.timeout).unwrap_or_default();
        let stale = projections::courses::imports_running_since(
            &self.platform.db,
            &projections::workspaces::timestamp(&before),
        )
        .await?;
        let mut failed = 0;
        for import in stale {
            if self.progress(&import.import_id).is_some() {
                continue;
            }
            let metadata = EventMetadata::scoped(import.scope).with_actor("system");
            let failure = Failure::archive(
                ArchiveProblem::Interrupted,
                "the import was interrupted (the server stopped while it ran); upload the package again",
            );
            self.fail(&import.scope, &metadata, &import.import_id, failure)
                .await;
            failed += 1;
        }
        Ok(failed)
    }
}

/// The upload's bytes when it is an XML document rather than a ZIP (a bare
/// `cmi5.xml`), refused past the manifest size limit.
fn bare_xml(path: &std::path::Path, limit: u64) -> Result<Option<Vec<u8>>, Failure> {
    use std::io::Read;
    let unreadable = |e: std::io::Error| {
        Failure::archive(
            ArchiveProblem::CorruptZip,
            format!("the upload cannot be read: {e}"),
        )
    };
    let mut file = std::fs::File::open(path).map_err(unreadable)?;
    let mut head = [0u8; 64];
    let n = file.read(&mut head).map_err(unreadable)?;
    let head = &head[..n];
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    if text
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_none_or(|b| *b != b'<')
    {
        return Ok(None);
    }
    let size = file.metadata().map_err(unreadable)?.len();
    if size > limit {
        return Err(Failure::archive(
            ArchiveProblem::PackageTooLarge,
            format!("the XML upload is larger than {limit} bytes"),
        ));
    }
    std::fs::read(path).map(Some).map_err(unreadable)
}

fn rejected_failure(report: &ValidationReport) -> Failure {
    let first = report.errors().next();
    Failure {
        code: first.map_or_else(
            || "package_rejected".to_owned(),
            |f| f.code.as_str().to_owned(),
        ),
        message: first.map_or_else(
            || "the package was refused".to_owned(),
            |f| f.message.clone(),
        ),
        findings: report.findings.clone(),
    }
}
