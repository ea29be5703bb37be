//! Many puts from synchronous readers, made durable together.
//!
//! Import extracts thousands of files from a ZIP on blocking threads.
//! Syncing each file on the writing thread would stall extraction on disk
//! latency, so a batch hands every new blob to a sync thread that makes it
//! durable while extraction goes on; [`BlobBatch::finish_blocking`] waits
//! for the last ones and syncs their folders. The caller records nothing
//! that refers to the blobs before that returns. On S3 a
//! put spools and hashes on the calling thread, then uploads in the
//! background, a bounded number at a time.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};
use tokio::runtime::Handle;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::{BlobInfo, BlobKey, BlobStore};
use crate::StoreError;

/// Uploads in flight at once, per batch (S3).
const UPLOADS_IN_FLIGHT: usize = 16;

pub struct BlobBatch {
    store: BlobStore,
    runtime: Option<Handle>,
    /// Local backend: the sync thread, fed the new blob files, and the
    /// folders they went to (created or found), to sync after them.
    syncer: Option<(mpsc::Sender<PathBuf>, JoinHandle<std::io::Result<()>>)>,
    dirs: BTreeSet<PathBuf>,
    /// S3 backend: uploads running.
    uploads: JoinSet<Result<(), StoreError>>,
    permits: Arc<Semaphore>,
}

impl BlobBatch {
    pub(super) fn new(store: BlobStore) -> BlobBatch {
        BlobBatch {
            store,
            runtime: Handle::try_current().ok(),
            syncer: None,
            dirs: BTreeSet::new(),
            uploads: JoinSet::new(),
            permits: Arc::new(Semaphore::new(UPLOADS_IN_FLIGHT)),
        }
    }

    fn runtime(&self) -> Result<&Handle, StoreError> {
        self.runtime
            .as_ref()
            .ok_or_else(|| StoreError::Config("a blob batch needs a tokio runtime".into()))
    }

    /// Stores everything `reader` yields. Call from a blocking thread.
    pub fn put_blocking(&mut self, reader: &mut dyn Read) -> Result<BlobInfo, StoreError> {
        match &self.store {
            BlobStore::Local(local) => {
                let (info, written) = local.put_unsynced(reader, &mut self.dirs)?;
                if let Some(path) = written {
                    let (files, _) = self.syncer.get_or_insert_with(|| {
                        let (send, receive) = mpsc::channel::<PathBuf>();
                        let thread = std::thread::spawn(move || {
                            for path in receive {
                                std::fs::File::open(&path)?.sync_all()?;
                            }
                            Ok(())
                        });
                        (send, thread)
                    });
                    if files.send(path.clone()).is_err() {
                        // The sync thread stopped on an error: finish reports it.
                        std::fs::File::open(&path)?.sync_all()?;
                    }
                }
                Ok(info)
            }
            BlobStore::S3(s3) => {
                let spool = tempfile::NamedTempFile::new_in(s3.spool_dir())?;
                let info = {
                    let mut file = std::io::BufWriter::with_capacity(256 * 1024, spool.reopen()?);
                    let mut hasher = Sha256::new();
                    let mut buffer = vec![0u8; 128 * 1024];
                    let mut size = 0u64;
                    loop {
                        let n = reader.read(&mut buffer)?;
                        if n == 0 {
                            break;
                        }
                        hasher.update(&buffer[..n]);
                        std::io::Write::write_all(&mut file, &buffer[..n])?;
                        size += n as u64;
                    }
                    std::io::Write::flush(&mut file)?;
                    BlobInfo {
                        key: BlobKey(hex::encode(hasher.finalize())),
                        size,
                    }
                };
                let runtime = self.runtime()?.clone();
                let permit = runtime
                    .block_on(self.permits.clone().acquire_owned())
                    .map_err(|_| StoreError::Closed)?;
                let s3 = s3.clone();
                let path = spool.into_temp_path();
                let uploaded = info.clone();
                self.uploads.spawn_on(
                    async move {
                        let result = s3.upload_file(&path, &uploaded).await;
                        // upload_file removed the file; the TempPath must not try again.
                        let _ = path.keep();
                        drop(permit);
                        result
                    },
                    &runtime,
                );
                // Surface a failed upload early rather than after the whole batch.
                while let Some(done) = self.uploads.try_join_next() {
                    done.map_err(|e| StoreError::S3(format!("upload task failed: {e}")))??;
                }
                Ok(info)
            }
        }
    }

    /// Makes every put of the batch durable. Call from a blocking thread.
    pub fn finish_blocking(mut self) -> Result<(), StoreError> {
        if let Some((files, thread)) = self.syncer.take() {
            drop(files);
            thread.join().map_err(|_| {
                StoreError::Io(std::io::Error::other("the blob sync thread panicked"))
            })??;
        }
        let mut parents = BTreeSet::new();
        for dir in &self.dirs {
            std::fs::File::open(dir)?.sync_all()?;
            if let Some(parent) = dir.parent() {
                parents.insert(parent.to_owned());
            }
        }
        for parent in parents {
            std::fs::File::open(parent)?.sync_all()?;
        }
        if !self.uploads.is_empty() {
            let runtime = self.runtime()?.clone();
            runtime.block_on(async {
                while let Some(done) = self.uploads.join_next().await {
                    done.map_err(|e| StoreError::S3(format!("upload task failed: {e}")))??;
                }
                Ok::<_, StoreError>(())
            })?;
        }
        Ok(())
    }
}
