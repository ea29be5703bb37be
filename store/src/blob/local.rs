//! Blobs in a local directory: `<root>/<k[0..2]>/<key>`, 256 folders of
//! however many blobs (creating and syncing a folder per blob, as a
//! two-level layout does for small stores, costs more than the files).
//!
//! A put writes to `<root>/.tmp`, fsyncs, and renames into place, so a blob
//! either exists whole or not at all, even across a crash. A batch
//! ([`super::BlobBatch`]) stages many blobs unsynced (small ones in a
//! dot-named temp file in their own folder, large ones in `.tmp`), makes
//! them durable together, and only then renames them into place. Temp files
//! left by a crash are never read (no key starts with a dot).

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{Read, SeekFrom, Write};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use tempfile::TempPath;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt};

use super::writeback::{Hinter, WritingBack};
use super::{BlobBody, BlobHasher, BlobInfo, BlobKey, copy_hashing};
use crate::StoreError;

#[derive(Debug, Clone)]
pub struct LocalBlobs {
    root: PathBuf,
}

impl LocalBlobs {
    pub async fn open(root: &Path) -> Result<LocalBlobs, StoreError> {
        tokio::fs::create_dir_all(root.join(".tmp"))
            .await
            .map_err(|e| {
                StoreError::Config(format!(
                    "cannot create the blob directory {}: {e}",
                    root.display()
                ))
            })?;
        Ok(LocalBlobs {
            root: root.to_owned(),
        })
    }

    pub(super) fn root(&self) -> &Path {
        &self.root
    }

    /// The folder a blob's file is in.
    pub(super) fn dir_of(&self, key: &BlobKey) -> PathBuf {
        self.root.join(&key.as_str()[0..2])
    }

    pub(super) fn temp_dir(&self) -> PathBuf {
        self.root.join(".tmp")
    }

    pub(super) fn path_of(&self, key: &BlobKey) -> PathBuf {
        self.dir_of(key).join(key.as_str())
    }

    pub(super) async fn put_stream<R: AsyncRead + Unpin + Send>(
        &self,
        reader: R,
    ) -> Result<BlobInfo, StoreError> {
        let temp = self
            .root
            .join(".tmp")
            .join(uuid::Uuid::new_v4().to_string());
        let mut file = tokio::fs::File::create(&temp).await?;
        let stored = async {
            let info = copy_hashing(reader, &mut file).await?;
            file.sync_all().await?;
            drop(file);
            let target = self.path_of(&info.key);
            let whole = match tokio::fs::metadata(&target).await {
                Ok(meta) => meta.len() == info.size,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
                Err(e) => return Err(e.into()),
            };
            if whole {
                tokio::fs::remove_file(&temp).await?;
            } else {
                let dir = target.parent().expect("a blob path has a parent");
                tokio::fs::create_dir_all(dir).await?;
                tokio::fs::rename(&temp, &target).await?;
                sync_dir(dir).await?;
            }
            Ok::<_, StoreError>(info)
        }
        .await;
        if stored.is_err() {
            let _ = tokio::fs::remove_file(&temp).await;
        }
        stored
    }

    /// Whether the blob `info` is in place, whole: its file exists with the
    /// size the key was computed over (a file cut short by a crash is not).
    pub(super) fn holds(&self, info: &BlobInfo) -> std::io::Result<bool> {
        match std::fs::metadata(self.path_of(&info.key)) {
            Ok(meta) => Ok(meta.len() == info.size),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Writes a blob from a synchronous reader to a temp file, hashing it,
    /// through `buffer` (its length is the write size); neither synced nor
    /// visible under its key until a batch publishes it. A blob that fits in
    /// `buffer` is hashed before it is written: when it is already stored it
    /// is not written at all (then there is no temp file), otherwise its
    /// temp file goes in its own folder, so a batch's files spread over 256
    /// folders (ext4 allocates a file's inode near its folder's, and one
    /// folder takes thousands of new files several times slower). Larger
    /// blobs go to the temp area. `dirs` are the folders known to exist.
    /// Each file is handed to `hints` once written, for its write-back to
    /// start (large ones also ask every [`WRITEBACK_EVERY`](super::WRITEBACK_EVERY) bytes).
    pub(super) fn stage(
        &self,
        reader: &mut dyn Read,
        buffer: &mut [u8],
        dirs: &mut BTreeSet<PathBuf>,
        hints: &Hinter,
    ) -> Result<(BlobInfo, Option<TempPath>), StoreError> {
        let mut hasher = BlobHasher::new();
        let mut n = fill(reader, buffer)?;
        if n < buffer.len() {
            hasher.update(&buffer[..n]);
            let info = BlobInfo {
                key: hasher.finish(),
                size: n as u64,
            };
            if self.holds(&info)? {
                return Ok((info, None));
            }
            let dir = self.dir_of(&info.key);
            if !dirs.contains(&dir) {
                std::fs::create_dir_all(&dir)?;
                dirs.insert(dir.clone());
            }
            let (mut file, temp) = temp_file(&dir)?;
            file.write_all(&buffer[..n])?;
            hints.submit(file, 0, n as u64);
            return Ok((info, Some(temp)));
        }
        let (file, temp) = temp_file(&self.temp_dir())?;
        let mut file = WritingBack::new(file);
        while n > 0 {
            hasher.update(&buffer[..n]);
            file.write(&buffer[..n])?;
            n = fill(reader, buffer)?;
        }
        let size = file.written();
        file.hand_over(hints);
        let info = BlobInfo {
            key: hasher.finish(),
            size,
        };
        Ok((info, Some(temp)))
    }

    pub(super) async fn get(
        &self,
        key: &BlobKey,
        range: Option<RangeInclusive<u64>>,
    ) -> Result<Option<BlobBody>, StoreError> {
        let mut file = match tokio::fs::File::open(self.path_of(key)).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let total_size = file.metadata().await?.len();
        let (start, length) = match range {
            None => (0, total_size),
            Some(range) => clamp(range, total_size),
        };
        if start > 0 {
            file.seek(SeekFrom::Start(start)).await?;
        }
        Ok(Some(BlobBody {
            length,
            total_size,
            reader: Box::pin(file.take(length)),
        }))
    }

    pub(super) async fn size(&self, key: &BlobKey) -> Result<Option<u64>, StoreError> {
        match tokio::fs::metadata(self.path_of(key)).await {
            Ok(meta) => Ok(Some(meta.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn delete(&self, key: &BlobKey) -> Result<(), StoreError> {
        match tokio::fs::remove_file(self.path_of(key)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// A new temp file in `dir`, removed when its path is dropped. Its name
/// starts with a dot, which no key does.
fn temp_file(dir: &Path) -> std::io::Result<(File, TempPath)> {
    Ok(tempfile::Builder::new()
        .prefix(".blob-")
        .tempfile_in(dir)?
        .into_parts())
}

/// Reads into `buffer` until it is full or `reader` ends; returns the bytes read.
fn fill(reader: &mut dyn Read, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buffer.len() {
        match reader.read(&mut buffer[n..]) {
            Ok(0) => break,
            Ok(read) => n += read,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The start and length of `range` inside a blob of `size` bytes.
pub(super) fn clamp(range: RangeInclusive<u64>, size: u64) -> (u64, u64) {
    let start = (*range.start()).min(size);
    let end_exclusive = range.end().saturating_add(1).min(size);
    (start, end_exclusive.saturating_sub(start))
}

pub(super) async fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || std::fs::File::open(&dir)?.sync_all())
        .await
        .map_err(|e| StoreError::Io(std::io::Error::other(e)))??;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::clamp;

    #[test]
    fn ranges_clamp_to_the_blob() {
        let cases = [
            (0..=9, 100, (0, 10)),
            (90..=200, 100, (90, 10)),
            (100..=200, 100, (100, 0)),
            (5..=5, 100, (5, 1)),
            (0..=u64::MAX, 7, (0, 7)),
        ];
        for (range, size, expected) in cases {
            assert_eq!(clamp(range.clone(), size), expected, "{range:?} of {size}");
        }
    }
}
