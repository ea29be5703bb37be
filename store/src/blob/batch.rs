//! Many puts from synchronous readers, stored and made durable together.
//!
//! Import extracts thousands of files from a ZIP on blocking threads.
//! Syncing each file costs a journal commit (milliseconds on this kind of
//! disk, thousands of times), so on the local backend a batch only stages
//! each new blob: hashed and written to a temp file in the store's temp
//! area, neither synced nor visible under its key. [`BlobBatch::finish_blocking`]
//! then publishes them all:
//!
//! 1. makes every staged file durable: one `syncfs(2)` of the store's
//!    filesystem on Linux (it reports any write-back error since the batch
//!    began), elsewhere an `fsync` of every file from a pool of threads (so
//!    the filesystem can commit them together);
//! 2. renames each into place under its key (or drops it when the blob is
//!    already there, whole);
//! 3. makes the renames durable: a second `syncfs`, or an `fsync` of every
//!    folder touched.
//!
//! So a blob appears under its key only once its bytes are durable, and
//! every blob is durable when `finish_blocking` returns. The caller records
//! nothing that refers to the blobs before that. A batch dropped unfinished
//! (a failed import) removes its temp files and leaves the store as it was.
//!
//! On S3 a put spools and hashes on the calling thread, then uploads in the
//! background, a bounded number at a time; finishing waits for them.
//!
//! Several threads each fill their own batch ([`BlobBatch::fork`]); one
//! [`absorb`](BlobBatch::absorb)s the others and finishes for all.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tempfile::TempPath;
use tokio::runtime::Handle;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::writeback::Hinter;
use super::{BlobHasher, BlobInfo, BlobStore};
use crate::StoreError;

/// Uploads in flight at once, per batch (S3).
const UPLOADS_IN_FLIGHT: usize = 16;
/// Bytes read and written at a time.
const BUFFER: usize = 256 * 1024;
/// Threads that fsync a batch's files where there is no `syncfs`.
const SYNC_THREADS: usize = 32;
/// Threads that rename a batch's files into place, at most…
const PUBLISH_THREADS: usize = 4;
/// …and one per this many files.
const PUBLISH_SHARE: usize = 256;

/// How a local batch makes its files durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Durability {
    /// `syncfs(2)` on the store's filesystem (Linux).
    SyncFs,
    /// `fsync` of every file, then of every folder.
    EachFile,
}

impl Durability {
    fn native() -> Durability {
        if cfg!(target_os = "linux") {
            Durability::SyncFs
        } else {
            Durability::EachFile
        }
    }
}

/// A blob written to the temp area, waiting to be published.
struct Staged {
    temp: TempPath,
    info: BlobInfo,
}

pub struct BlobBatch {
    store: BlobStore,
    runtime: Option<Handle>,
    buffer: Vec<u8>,
    /// Local backend: the store's root, opened when the batch (or the batch
    /// it was forked from) began, for `syncfs`.
    root: Option<Arc<File>>,
    staged: Vec<Staged>,
    /// Folders of blobs found already stored (their entries must be
    /// durable too before anything refers to them).
    present: BTreeSet<PathBuf>,
    /// Blob folders known to exist.
    dirs: BTreeSet<PathBuf>,
    /// S3 backend: uploads running.
    uploads: Vec<JoinHandle<Result<(), StoreError>>>,
    permits: Arc<Semaphore>,
    /// Local backend: the thread asking for staged files' write-back,
    /// shared with forks.
    hints: Option<Arc<Hinter>>,
}

impl BlobBatch {
    pub(super) fn new(store: BlobStore) -> Result<BlobBatch, StoreError> {
        let (root, hints) = match &store {
            BlobStore::Local(local) => (
                Some(Arc::new(File::open(local.root())?)),
                Some(Arc::new(Hinter::start())),
            ),
            BlobStore::S3(_) => (None, None),
        };
        Ok(BlobBatch {
            store,
            runtime: Handle::try_current().ok(),
            buffer: Vec::new(),
            root,
            staged: Vec::new(),
            present: BTreeSet::new(),
            dirs: BTreeSet::new(),
            uploads: Vec::new(),
            permits: Arc::new(Semaphore::new(UPLOADS_IN_FLIGHT)),
            hints,
        })
    }

    /// An empty batch for another thread, to be [`absorb`](Self::absorb)ed
    /// back into this one before it finishes.
    pub fn fork(&self) -> BlobBatch {
        BlobBatch {
            store: self.store.clone(),
            runtime: self.runtime.clone(),
            buffer: Vec::new(),
            root: self.root.clone(),
            staged: Vec::new(),
            present: BTreeSet::new(),
            dirs: BTreeSet::new(),
            uploads: Vec::new(),
            permits: self.permits.clone(),
            hints: self.hints.clone(),
        }
    }

    /// Takes over everything `other` stored, to be finished with this batch.
    pub fn absorb(&mut self, mut other: BlobBatch) {
        self.staged.append(&mut other.staged);
        self.present.append(&mut other.present);
        self.dirs.append(&mut other.dirs);
        self.uploads.append(&mut other.uploads);
    }

    fn runtime(&self) -> Result<&Handle, StoreError> {
        self.runtime
            .as_ref()
            .ok_or_else(|| StoreError::Config("a blob batch needs a tokio runtime".into()))
    }

    /// Stores everything `reader` yields. Call from a blocking thread.
    pub fn put_blocking(&mut self, reader: &mut dyn Read) -> Result<BlobInfo, StoreError> {
        if self.buffer.is_empty() {
            self.buffer = vec![0u8; BUFFER];
        }
        match &self.store {
            BlobStore::Local(local) => {
                let hints = self
                    .hints
                    .as_ref()
                    .expect("a local batch has its hint thread");
                let (info, temp) = local.stage(reader, &mut self.buffer, &mut self.dirs, hints)?;
                match temp {
                    Some(temp) => self.staged.push(Staged {
                        temp,
                        info: info.clone(),
                    }),
                    None => {
                        self.present.insert(local.dir_of(&info.key));
                    }
                }
                Ok(info)
            }
            BlobStore::S3(s3) => {
                let spool = tempfile::NamedTempFile::new_in(s3.spool_dir())?;
                let info = {
                    let mut file = spool.reopen()?;
                    let mut hasher = BlobHasher::new();
                    let mut size = 0u64;
                    loop {
                        let n = reader.read(&mut self.buffer)?;
                        if n == 0 {
                            break;
                        }
                        hasher.update(&self.buffer[..n]);
                        std::io::Write::write_all(&mut file, &self.buffer[..n])?;
                        size += n as u64;
                    }
                    BlobInfo {
                        key: hasher.finish(),
                        size,
                    }
                };
                self.upload(spool.into_temp_path(), info.clone())?;
                Ok(info)
            }
        }
    }

    /// Stores the file at `file`, already hashed to `info`, moving it rather
    /// than copying it where it can (the local store's temp area is on the
    /// same filesystem as [`BlobStore::spool_dir`]). Call from a blocking
    /// thread.
    pub fn adopt_blocking(&mut self, file: TempPath, info: &BlobInfo) -> Result<(), StoreError> {
        match &self.store {
            BlobStore::Local(local) => {
                let temp = if file.parent() == Some(local.temp_dir().as_path()) {
                    file
                } else {
                    // Elsewhere (perhaps another filesystem): a copy in the temp area.
                    let copy = tempfile::Builder::new()
                        .prefix("blob-")
                        .tempfile_in(local.temp_dir())?
                        .into_temp_path();
                    std::fs::copy(&file, &copy)?;
                    copy
                };
                self.staged.push(Staged {
                    temp,
                    info: info.clone(),
                });
                Ok(())
            }
            BlobStore::S3(_) => self.upload(file, info.clone()),
        }
    }

    /// Uploads a spooled file in the background (S3).
    fn upload(&mut self, path: TempPath, info: BlobInfo) -> Result<(), StoreError> {
        let BlobStore::S3(s3) = &self.store else {
            unreachable!("uploads are for S3 only");
        };
        let runtime = self.runtime()?.clone();
        let permit = runtime
            .block_on(self.permits.clone().acquire_owned())
            .map_err(|_| StoreError::Closed)?;
        let s3 = s3.clone();
        self.uploads.push(runtime.spawn(async move {
            let result = s3.upload_file(&path, &info).await;
            if result.is_ok() {
                // upload_file removed the file; the TempPath must not try again.
                let _ = path.keep();
            }
            drop(permit);
            result
        }));
        // Surface a failed upload early rather than after the whole batch.
        let mut at = 0;
        while at < self.uploads.len() {
            if self.uploads[at].is_finished() {
                let done = self.uploads.swap_remove(at);
                runtime
                    .block_on(done)
                    .map_err(|e| StoreError::S3(format!("upload task failed: {e}")))??;
            } else {
                at += 1;
            }
        }
        Ok(())
    }

    /// Stores every put of the batch (and of the batches it absorbed) under
    /// its key, durably. Call from a blocking thread.
    pub fn finish_blocking(self) -> Result<(), StoreError> {
        self.finish_with(Durability::native())
    }

    fn finish_with(mut self, durability: Durability) -> Result<(), StoreError> {
        if let BlobStore::Local(local) = &self.store {
            let local = local.clone();
            let root = self.root.clone().expect("a local batch has its root open");
            let staged = std::mem::take(&mut self.staged);
            let mut dirs = std::mem::take(&mut self.present);
            dirs.append(&mut self.dirs);
            publish(&local, &root, staged, dirs, durability)?;
        }
        let uploads = std::mem::take(&mut self.uploads);
        if !uploads.is_empty() {
            let runtime = self.runtime()?.clone();
            runtime.block_on(async {
                for upload in uploads {
                    upload
                        .await
                        .map_err(|e| StoreError::S3(format!("upload task failed: {e}")))??;
                }
                Ok::<_, StoreError>(())
            })?;
        }
        Ok(())
    }
}

impl Drop for BlobBatch {
    fn drop(&mut self) {
        // Unfinished: nothing refers to these blobs. Staged temp files go
        // with their `TempPath`s; uploads still running stop.
        for upload in &self.uploads {
            upload.abort();
        }
    }
}

/// Makes staged blobs durable, renames them into place, and makes the
/// renames durable. `dirs`: the blob folders the batch created or found
/// its blobs in.
fn publish(
    local: &super::LocalBlobs,
    root: &File,
    staged: Vec<Staged>,
    mut dirs: BTreeSet<PathBuf>,
    durability: Durability,
) -> Result<(), StoreError> {
    if staged.is_empty() && dirs.is_empty() {
        return Ok(());
    }
    let durability = match durability {
        Durability::SyncFs => match syncfs(root) {
            Ok(()) => Durability::SyncFs,
            Err(e) if e.kind() == std::io::ErrorKind::Unsupported => {
                sync_each(staged.iter().map(|s| s.temp.as_ref()))?;
                Durability::EachFile
            }
            Err(e) => return Err(e.into()),
        },
        Durability::EachFile => {
            sync_each(staged.iter().map(|s| s.temp.as_ref()))?;
            Durability::EachFile
        }
    };
    // Renamed on a few threads: thousands of renames and `stat`s are
    // thousands of system calls, each mostly the kernel's CPU.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(PUBLISH_THREADS)
        .min(staged.len().div_ceil(PUBLISH_SHARE))
        .max(1);
    let share = staged.len().div_ceil(threads).max(1);
    let mut parts = Vec::with_capacity(threads);
    let mut rest = staged;
    while rest.len() > share {
        let tail = rest.split_off(share);
        parts.push(rest);
        rest = tail;
    }
    parts.push(rest);
    let touched: Vec<Result<BTreeSet<PathBuf>, StoreError>> = std::thread::scope(|scope| {
        let known = &dirs;
        let workers: Vec<_> = parts
            .into_iter()
            .map(|part| scope.spawn(move || put_in_place(local, part, known)))
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker.join().unwrap_or_else(|_| {
                    Err(StoreError::Io(std::io::Error::other(
                        "a thread publishing blobs panicked",
                    )))
                })
            })
            .collect()
    });
    for part in touched {
        dirs.extend(part?);
    }
    match durability {
        Durability::SyncFs => syncfs(root)?,
        // The root too: it may hold new folders.
        Durability::EachFile => sync_each(dirs.iter().map(PathBuf::as_path).chain([local.root()]))?,
    }
    Ok(())
}

/// Renames staged blobs under their keys (dropping those already stored
/// whole); returns the folders they are in. `known`: folders known to exist.
fn put_in_place(
    local: &super::LocalBlobs,
    staged: Vec<Staged>,
    known: &BTreeSet<PathBuf>,
) -> Result<BTreeSet<PathBuf>, StoreError> {
    let mut touched = BTreeSet::new();
    for Staged { temp, info } in staged {
        let dir = local.dir_of(&info.key);
        if local.holds(&info)? {
            // Already stored whole (another version, or another import).
            drop(temp);
            touched.insert(dir);
            continue;
        }
        if !known.contains(&dir) && !touched.contains(&dir) {
            std::fs::create_dir_all(&dir)?;
        }
        temp.persist(local.path_of(&info.key))
            .map_err(|e| StoreError::Io(e.error))?;
        touched.insert(dir);
    }
    Ok(touched)
}

/// `syncfs(2)` on the filesystem holding `file`.
#[cfg(target_os = "linux")]
fn syncfs(file: &File) -> std::io::Result<()> {
    rustix::fs::syncfs(file).map_err(std::io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn syncfs(_file: &File) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// `fsync`s every path (files or folders), from a pool of threads: the
/// filesystem commits concurrent syncs together.
fn sync_each<'a>(paths: impl Iterator<Item = &'a Path>) -> std::io::Result<()> {
    let paths: Vec<&Path> = paths.collect();
    let next = AtomicUsize::new(0);
    let threads = SYNC_THREADS.min(paths.len());
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    loop {
                        let at = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = paths.get(at) else {
                            return Ok(());
                        };
                        File::open(path)?.sync_all()?;
                    }
                })
            })
            .collect();
        workers.into_iter().try_for_each(|worker| {
            worker
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("a sync thread panicked")))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::{BlobConfig, BlobKey};
    use crate::testing::noise;

    /// Every blob file under the root (not the temp area).
    fn stored(root: &Path) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for dir in std::fs::read_dir(root).unwrap() {
            let dir = dir.unwrap();
            if dir.file_name() == ".tmp" || !dir.file_type().unwrap().is_dir() {
                continue;
            }
            for file in std::fs::read_dir(dir.path()).unwrap() {
                let name = file.unwrap().file_name().to_string_lossy().into_owned();
                if !name.starts_with('.') {
                    out.insert(name);
                }
            }
        }
        out
    }

    /// Temp files: in the temp area, and dot-named in the blob folders.
    fn temp_files(root: &Path) -> usize {
        let mut count = std::fs::read_dir(root.join(".tmp")).unwrap().count();
        for dir in std::fs::read_dir(root).unwrap() {
            let dir = dir.unwrap();
            if dir.file_name() != ".tmp" && dir.file_type().unwrap().is_dir() {
                count += std::fs::read_dir(dir.path())
                    .unwrap()
                    .filter(|f| {
                        f.as_ref()
                            .unwrap()
                            .file_name()
                            .to_string_lossy()
                            .starts_with('.')
                    })
                    .count();
            }
        }
        count
    }

    async fn open(root: &Path) -> BlobStore {
        BlobStore::open(&BlobConfig::Local {
            root: root.to_owned(),
        })
        .await
        .unwrap()
    }

    /// Blobs appear under their keys only when the batch finishes, whole,
    /// with either way of making them durable; sizes on both sides of the
    /// buffer and past the write-back hints, empty content, content stored
    /// twice, content already stored, and enough small blobs to be put in
    /// place by several threads (`PUBLISH_SHARE`), some of them twice.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn blobs_appear_when_the_batch_finishes() {
        for durability in [Durability::SyncFs, Durability::EachFile] {
            let dir = tempfile::tempdir().unwrap();
            let blobs = open(dir.path()).await;
            let already = blobs.put_bytes(b"stored before").await.unwrap();
            let mut contents: Vec<Vec<u8>> = vec![
                Vec::new(),
                b"stored before".to_vec(),
                noise(100, 1),
                noise(BUFFER - 1, 2),
                noise(BUFFER, 3),
                noise(BUFFER + 1, 4),
                noise(3 * BUFFER + 17, 5),
                noise(100, 1),
                // Past two write-back requests (`WritingBack`).
                noise(2 * crate::blob::WRITEBACK_EVERY as usize + 17, 6),
            ];
            contents.extend((0..3 * PUBLISH_SHARE).map(|n| noise(200, 100 + (n % 700) as u32)));
            let (blobs2, contents2) = (blobs.clone(), contents.clone());
            let infos = tokio::task::spawn_blocking(move || {
                let mut batch = blobs2.batch().unwrap();
                let mut fork = batch.fork();
                let mut infos = Vec::new();
                for (i, content) in contents2.iter().enumerate() {
                    let target = if i % 2 == 0 { &mut batch } else { &mut fork };
                    infos.push(target.put_blocking(&mut content.as_slice()).unwrap());
                }
                batch.absorb(fork);
                (batch, infos)
            })
            .await
            .unwrap();
            let (batch, infos) = infos;
            for (info, content) in infos.iter().zip(&contents) {
                assert_eq!(info.key, BlobKey::of(content));
                assert_eq!(info.size, content.len() as u64);
            }
            // Nothing new is visible yet.
            assert_eq!(
                stored(dir.path()),
                BTreeSet::from([already.key.to_string()]),
                "{durability:?}"
            );
            tokio::task::spawn_blocking(move || batch.finish_with(durability))
                .await
                .unwrap()
                .unwrap();
            let expected: BTreeSet<String> = contents
                .iter()
                .map(|c| BlobKey::of(c).to_string())
                .collect();
            assert_eq!(stored(dir.path()), expected, "{durability:?}");
            for content in &contents {
                let body = blobs.get(&BlobKey::of(content)).await.unwrap().unwrap();
                assert_eq!(&body.bytes().await.unwrap(), content);
            }
            assert_eq!(temp_files(dir.path()), 0, "{durability:?}");
        }
    }

    /// A batch dropped unfinished leaves no blob and no temp file behind,
    /// and takes nothing that was stored before.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unfinished_batch_leaves_the_store_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = open(dir.path()).await;
        let already = blobs.put_bytes(&noise(5000, 9)).await.unwrap();
        let spool = tempfile::Builder::new()
            .tempfile_in(blobs.spool_dir())
            .unwrap();
        std::fs::write(spool.path(), b"the package").unwrap();
        let spool = spool.into_temp_path();
        let blobs2 = blobs.clone();
        let already_key = already.key.to_string();
        let root = dir.path().to_owned();
        tokio::task::spawn_blocking(move || {
            let mut batch = blobs2.batch().unwrap();
            batch.put_blocking(&mut &noise(5000, 9)[..]).unwrap();
            batch.put_blocking(&mut &noise(BUFFER * 2, 10)[..]).unwrap();
            batch
                .adopt_blocking(
                    spool,
                    &BlobInfo {
                        key: BlobKey::of(b"the package"),
                        size: 11,
                    },
                )
                .unwrap();
            let mut fork = batch.fork();
            fork.put_blocking(&mut &b"small"[..]).unwrap();
            batch.absorb(fork);
            assert!(temp_files(&root) >= 3);
            drop(batch);
            assert_eq!(temp_files(&root), 0);
            assert_eq!(stored(&root), BTreeSet::from([already_key]));
        })
        .await
        .unwrap();
        let body = blobs.get(&already.key).await.unwrap().unwrap();
        assert_eq!(body.bytes().await.unwrap(), noise(5000, 9));
    }

    /// An adopted file is moved into place under its key.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn adopted_files_are_moved_into_place() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = open(dir.path()).await;
        let outside = tempfile::tempdir().unwrap();
        for place in [blobs.spool_dir(), outside.path().to_owned()] {
            let content = noise(70_000, place.as_os_str().len() as u32);
            let file = tempfile::Builder::new().tempfile_in(&place).unwrap();
            std::fs::write(file.path(), &content).unwrap();
            let file = file.into_temp_path();
            let moved = file.to_path_buf();
            let info = BlobInfo {
                key: BlobKey::of(&content),
                size: content.len() as u64,
            };
            let blobs2 = blobs.clone();
            let info2 = info.clone();
            tokio::task::spawn_blocking(move || {
                let mut batch = blobs2.batch().unwrap();
                batch.adopt_blocking(file, &info2).unwrap();
                batch.finish_blocking().unwrap();
            })
            .await
            .unwrap();
            assert!(!moved.exists());
            let body = blobs.get(&info.key).await.unwrap().unwrap();
            assert_eq!(body.bytes().await.unwrap(), content);
        }
        assert_eq!(temp_files(dir.path()), 0);
    }

    /// A blob file cut short (a crash before its bytes were durable, under
    /// an older build) is replaced, not trusted.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_truncated_blob_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = open(dir.path()).await;
        let content = noise(10_000, 3);
        let key = BlobKey::of(&content);
        let BlobStore::Local(local) = &blobs else {
            unreachable!()
        };
        std::fs::create_dir_all(local.dir_of(&key)).unwrap();
        std::fs::write(local.path_of(&key), &content[..100]).unwrap();
        let blobs2 = blobs.clone();
        let content2 = content.clone();
        tokio::task::spawn_blocking(move || {
            let mut batch = blobs2.batch().unwrap();
            batch.put_blocking(&mut content2.as_slice()).unwrap();
            batch.finish_blocking().unwrap();
        })
        .await
        .unwrap();
        let body = blobs.get(&key).await.unwrap().unwrap();
        assert_eq!(body.bytes().await.unwrap(), content);
    }
}
