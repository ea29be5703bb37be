//! Reading an uploaded ZIP safely, on a blocking thread.
//!
//! Nothing in a ZIP is trusted: names are checked with [`PackagePath`]
//! (no `..`, no absolute paths or drive letters, backslashes read as `/`),
//! symlink and encrypted entries are refused, and sizes are counted while
//! inflating; the sizes in the headers are used only to refuse early.

use std::cell::Cell;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use domain::course::{ArchiveProblem, FileEntry};
use domain::package::{Finding, PackageFiles, PackagePath, ReadError};
use store::blob::BlobBatch;
use zip::CompressionMethod;
use zip::ZipArchive;
use zip::result::ZipError;

/// Bounds on what an upload may contain.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_entries: usize,
    /// Largest single file, inflated.
    pub max_entry_size: u64,
    /// Largest package, inflated.
    pub max_total_size: u64,
    /// Largest inflated/compressed ratio of an entry above `ratio_floor`.
    pub max_ratio: u64,
    /// Entries smaller than this are never called bombs.
    pub ratio_floor: u64,
    /// Largest manifest read.
    pub manifest_size_limit: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 50_000,
            max_entry_size: 2 * 1024 * 1024 * 1024,
            max_total_size: 8 * 1024 * 1024 * 1024,
            max_ratio: 200,
            ratio_floor: 32 * 1024 * 1024,
            manifest_size_limit: domain::package::DEFAULT_MANIFEST_SIZE_LIMIT,
        }
    }
}

/// Why an import failed: a stable code, a sentence, and the findings.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub code: String,
    pub message: String,
    pub findings: Vec<Finding>,
}

impl Failure {
    pub fn archive(problem: ArchiveProblem, message: impl Into<String>) -> Failure {
        Failure {
            code: problem.code().to_owned(),
            message: message.into(),
            findings: Vec::new(),
        }
    }
}

/// How far an import is, shared with whoever asks.
#[derive(Debug, Default)]
pub struct Progress {
    pub files_total: AtomicU64,
    pub files_done: AtomicU64,
    pub bytes_total: AtomicU64,
    pub bytes_done: AtomicU64,
}

struct Entry {
    index: usize,
    path: PackagePath,
    declared_size: u64,
    compressed_size: u64,
}

/// What one extraction worker staged (with each file's place in the
/// archive) and the batch holding it.
type WorkerOutput = (Vec<(usize, FileEntry)>, BlobBatch);

/// An opened, checked ZIP.
pub struct Archive {
    path: PathBuf,
    /// The reader the manifest parser uses (workers open their own).
    zip: Mutex<ZipArchive<File>>,
    entries: Vec<Entry>,
    by_path: HashMap<PackagePath, usize>,
    limits: Limits,
    /// Inflated bytes read so far, across entries and workers.
    inflated: AtomicU64,
}

fn is_noise(path: &PackagePath) -> bool {
    path.segments().any(|segment| segment == "__MACOSX")
        || matches!(
            path.file_name().to_ascii_lowercase().as_str(),
            ".ds_store" | "thumbs.db" | "desktop.ini"
        )
}

impl Archive {
    /// Opens `path` and checks every entry's name, kind and declared size.
    pub fn open(path: &Path, limits: &Limits) -> Result<Archive, Failure> {
        let mut file = File::open(path).map_err(|e| {
            Failure::archive(
                ArchiveProblem::CorruptZip,
                format!("the upload cannot be read: {e}"),
            )
        })?;
        let mut magic = [0u8; 4];
        let looks_like_zip = file.read_exact(&mut magic).is_ok() && magic[..2] == *b"PK";
        let file = File::open(path).map_err(|e| {
            Failure::archive(
                ArchiveProblem::CorruptZip,
                format!("the upload cannot be read: {e}"),
            )
        })?;
        let mut zip = ZipArchive::new(file).map_err(|e| {
            if looks_like_zip {
                Failure::archive(
                    ArchiveProblem::CorruptZip,
                    format!("the ZIP archive is damaged: {e}"),
                )
            } else {
                Failure::archive(ArchiveProblem::NotAZip, "the upload is not a ZIP archive")
            }
        })?;
        if zip.len() > limits.max_entries {
            return Err(Failure::archive(
                ArchiveProblem::TooManyEntries,
                format!(
                    "the archive has {} entries; at most {} are accepted",
                    zip.len(),
                    limits.max_entries
                ),
            ));
        }
        let mut entries = Vec::new();
        let mut by_path = HashMap::new();
        let mut declared_total = 0u64;
        for index in 0..zip.len() {
            let entry = zip.by_index_raw(index).map_err(|e| {
                Failure::archive(
                    ArchiveProblem::CorruptZip,
                    format!("entry {index} cannot be read: {e}"),
                )
            })?;
            let raw = String::from_utf8_lossy(entry.name_raw()).into_owned();
            let name = entry.name().map_err(|_| {
                Failure::archive(
                    ArchiveProblem::InvalidFileName,
                    format!("entry {raw:?} has a name that is neither valid UTF-8 nor CP437"),
                )
            })?;
            let name = name.into_owned();
            if entry.encrypted() {
                return Err(Failure::archive(
                    ArchiveProblem::EncryptedZip,
                    format!("{name} is encrypted; upload the package without a password"),
                ));
            }
            if entry.is_symlink() {
                return Err(Failure::archive(
                    ArchiveProblem::SymlinkEntry,
                    format!(
                        "{name} is a symbolic link; packages may contain only files and folders"
                    ),
                ));
            }
            let trimmed = name.trim_end_matches(['/', '\\']);
            let path = PackagePath::parse(trimmed).map_err(|e| {
                Failure::archive(
                    ArchiveProblem::UnsafePath,
                    format!("{name:?} is not a safe path inside the package: {e}"),
                )
            })?;
            if entry.is_dir() {
                continue;
            }
            if !matches!(
                entry.compression(),
                CompressionMethod::Stored
                    | CompressionMethod::Deflated
                    | CompressionMethod::Deflate64
            ) {
                return Err(Failure::archive(
                    ArchiveProblem::UnsupportedCompression,
                    format!(
                        "{name} uses {:?} compression; use deflate or no compression",
                        entry.compression()
                    ),
                ));
            }
            let declared_size = entry.size();
            let compressed_size = entry.compressed_size();
            check_sizes(&name, declared_size, compressed_size, limits)?;
            declared_total = declared_total.saturating_add(declared_size);
            if declared_total > limits.max_total_size {
                return Err(too_large_total(limits));
            }
            if by_path.insert(path.clone(), entries.len()).is_some() {
                return Err(Failure::archive(
                    ArchiveProblem::DuplicateEntry,
                    format!("{path} appears twice in the archive"),
                ));
            }
            entries.push(Entry {
                index,
                path,
                declared_size,
                compressed_size,
            });
        }
        Ok(Archive {
            path: path.to_owned(),
            zip: Mutex::new(zip),
            entries,
            by_path,
            limits: limits.clone(),
            inflated: AtomicU64::new(0),
        })
    }

    /// Files and inflated bytes the headers announce under `root`.
    pub fn announced(&self, root: Option<&PackagePath>) -> (u64, u64) {
        self.entries
            .iter()
            .filter(|e| relative(root, &e.path).is_some() && !is_noise(&e.path))
            .fold((0, 0), |(files, bytes), e| {
                (files + 1, bytes + e.declared_size)
            })
    }

    /// Stages every file under `root` (the folder holding the manifest) in
    /// `batch`, on `workers` threads (inflating and hashing are CPU-bound);
    /// paths in the result are relative to `root`, in archive order. The
    /// files are stored when the caller finishes the batch; when this fails,
    /// dropping the batch leaves the store as it was.
    pub fn store_files(
        &self,
        root: Option<&PackagePath>,
        batch: &mut BlobBatch,
        workers: usize,
        progress: &Progress,
    ) -> Result<Vec<FileEntry>, Failure> {
        let mut wanted: Vec<(usize, String)> = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| !is_noise(&e.path))
            .filter_map(|(at, e)| relative(root, &e.path).map(|path| (at, path)))
            .collect();
        // Largest first, taken one at a time by whichever worker is free,
        // so the workers end together.
        wanted.sort_by_key(|(at, _)| std::cmp::Reverse(self.entries[*at].compressed_size));
        let workers = workers.clamp(1, 8).min(wanted.len().max(1));
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let results: Vec<Result<WorkerOutput, Failure>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    let runtime = tokio::runtime::Handle::try_current().ok();
                    let fork = batch.fork();
                    let (wanted, next, failed) = (&wanted, &next, &failed);
                    scope.spawn(move || {
                        let _entered = runtime.as_ref().map(|r| r.enter());
                        let result = self.store_some(wanted, next, failed, fork, progress);
                        if result.is_err() {
                            failed.store(true, Ordering::Relaxed);
                        }
                        result
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(Failure::archive(
                            ArchiveProblem::CorruptZip,
                            "a file could not be extracted",
                        ))
                    })
                })
                .collect()
        });
        let mut files = Vec::with_capacity(wanted.len());
        let mut failure = None;
        for result in results {
            match result {
                Ok((stored, fork)) => {
                    files.extend(stored);
                    batch.absorb(fork);
                }
                Err(err) => failure = failure.or(Some(err)),
            }
        }
        if let Some(failure) = failure {
            return Err(failure);
        }
        files.sort_unstable_by_key(|(at, _)| *at);
        Ok(files.into_iter().map(|(_, f)| f).collect())
    }

    /// One worker: takes the next entry of `wanted` until there is none
    /// left or another worker failed.
    fn store_some(
        &self,
        wanted: &[(usize, String)],
        next: &AtomicUsize,
        failed: &AtomicBool,
        mut batch: BlobBatch,
        progress: &Progress,
    ) -> Result<WorkerOutput, Failure> {
        let file = File::open(&self.path).map_err(|e| {
            Failure::archive(
                ArchiveProblem::CorruptZip,
                format!("the upload cannot be read: {e}"),
            )
        })?;
        let mut zip = ZipArchive::new(file).map_err(|e| {
            Failure::archive(
                ArchiveProblem::CorruptZip,
                format!("the ZIP archive is damaged: {e}"),
            )
        })?;
        let mut stored = Vec::new();
        loop {
            if failed.load(Ordering::Relaxed) {
                break;
            }
            let Some((at, path)) = wanted.get(next.fetch_add(1, Ordering::Relaxed)) else {
                break;
            };
            let entry = &self.entries[*at];
            let file = zip
                .by_index(entry.index)
                .map_err(|e| zip_failure(&entry.path, e))?;
            let problem = Cell::new(None);
            let mut reader = Bounded {
                inner: file,
                entry,
                limits: &self.limits,
                read: 0,
                total: &self.inflated,
                problem: &problem,
                progress,
            };
            let put = batch.put_blocking(&mut reader);
            drop(reader);
            let info = match put {
                Ok(info) => info,
                Err(err) => {
                    if let Some(failure) = problem.take() {
                        return Err(failure);
                    }
                    return Err(Failure::archive(
                        ArchiveProblem::CorruptZip,
                        format!("{} cannot be extracted: {err}", entry.path),
                    ));
                }
            };
            progress.files_done.fetch_add(1, Ordering::Relaxed);
            stored.push((
                *at,
                FileEntry {
                    content_type: content_type(path),
                    path: path.clone(),
                    blob: info.key.to_string(),
                    size: info.size,
                },
            ));
        }
        Ok((stored, batch))
    }
}

fn relative(root: Option<&PackagePath>, path: &PackagePath) -> Option<String> {
    match root {
        None => Some(path.as_str().to_owned()),
        Some(root) => path
            .as_str()
            .strip_prefix(root.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            .map(str::to_owned),
    }
}

/// The MIME type a file is served with.
pub fn content_type(path: &str) -> String {
    mime_guess::from_path(path)
        .first_or_octet_stream()
        .essence_str()
        .to_owned()
}

fn too_large_total(limits: &Limits) -> Failure {
    Failure::archive(
        ArchiveProblem::PackageTooLarge,
        format!(
            "the package inflates to more than {} bytes",
            limits.max_total_size
        ),
    )
}

fn check_sizes(name: &str, size: u64, compressed: u64, limits: &Limits) -> Result<(), Failure> {
    if size > limits.ratio_floor && size > compressed.saturating_mul(limits.max_ratio) {
        return Err(Failure::archive(
            ArchiveProblem::ZipBomb,
            format!(
                "{name} inflates {size} bytes from {compressed}: a ratio above {} looks like a ZIP bomb",
                limits.max_ratio
            ),
        ));
    }
    if size > limits.max_entry_size {
        return Err(Failure::archive(
            ArchiveProblem::EntryTooLarge,
            format!(
                "{name} inflates to {size} bytes; at most {} are accepted",
                limits.max_entry_size
            ),
        ));
    }
    Ok(())
}

fn zip_failure(path: &PackagePath, err: ZipError) -> Failure {
    match err {
        ZipError::UnsupportedArchive(reason) => Failure::archive(
            ArchiveProblem::UnsupportedCompression,
            format!("{path} cannot be extracted: {reason}"),
        ),
        other => Failure::archive(
            ArchiveProblem::CorruptZip,
            format!("{path} cannot be extracted: {other}"),
        ),
    }
}

/// Inflates one entry, counting: refuses as soon as the entry, the package
/// or the entry's ratio goes over its limit, whatever the headers said.
struct Bounded<'a, R> {
    inner: R,
    entry: &'a Entry,
    limits: &'a Limits,
    read: u64,
    total: &'a AtomicU64,
    problem: &'a Cell<Option<Failure>>,
    progress: &'a Progress,
}

impl<R: Read> Read for Bounded<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        let total = self.total.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        self.progress
            .bytes_done
            .fetch_add(n as u64, Ordering::Relaxed);
        let name = self.entry.path.as_str();
        let failure = if total > self.limits.max_total_size {
            Some(too_large_total(self.limits))
        } else {
            check_sizes(name, self.read, self.entry.compressed_size, self.limits).err()
        };
        if let Some(failure) = failure {
            self.problem.set(Some(failure));
            return Err(io::Error::other("limit exceeded"));
        }
        Ok(n)
    }
}

impl PackageFiles for Archive {
    fn list(&self) -> Vec<PackagePath> {
        self.entries.iter().map(|e| e.path.clone()).collect()
    }

    fn exists(&self, path: &PackagePath) -> bool {
        self.by_path.contains_key(path)
    }

    fn read(&self, path: &PackagePath, limit: u64) -> Result<Option<Vec<u8>>, ReadError> {
        let Some(&at) = self.by_path.get(path) else {
            return Ok(None);
        };
        let entry = &self.entries[at];
        if entry.declared_size > limit {
            return Err(ReadError::TooLarge { limit });
        }
        let mut zip = self
            .zip
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let file = zip
            .by_index(entry.index)
            .map_err(|e| ReadError::Unreadable {
                reason: e.to_string().to_lowercase(),
            })?;
        let mut out = Vec::with_capacity(entry.declared_size.min(limit) as usize);
        file.take(limit.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(|e| ReadError::Unreadable {
                reason: e.to_string().to_lowercase(),
            })?;
        if out.len() as u64 > limit {
            return Err(ReadError::TooLarge { limit });
        }
        Ok(Some(out))
    }
}
