//! Blobs in a local directory: `<root>/<k[0..2]>/<key>`, 256 folders of
//! however many blobs (creating and syncing a folder per blob, as a
//! two-level layout does for small stores, costs more than the files).
//!
//! A put writes to `<root>/.tmp`, fsyncs, and renames into place, so a blob
//! either exists whole or not at all, even across a crash.

use std::io::SeekFrom;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt};

use super::{BlobBody, BlobInfo, BlobKey, copy_hashing};
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

    pub(super) fn temp_dir(&self) -> PathBuf {
        self.root.join(".tmp")
    }

    pub(super) fn path_of(&self, key: &BlobKey) -> PathBuf {
        let k = key.as_str();
        self.root.join(&k[0..2]).join(k)
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
            if tokio::fs::try_exists(&target).await? {
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

    /// Renames `path` (already hashed to `key`) into place, durably.
    pub(super) async fn adopt_file(&self, path: &Path, key: &BlobKey) -> Result<(), StoreError> {
        let target = self.path_of(key);
        if tokio::fs::try_exists(&target).await? {
            tokio::fs::remove_file(path).await?;
            return Ok(());
        }
        let dir = target.parent().expect("a blob path has a parent");
        tokio::fs::create_dir_all(dir).await?;
        tokio::fs::File::open(path).await?.sync_all().await?;
        match tokio::fs::rename(path, &target).await {
            Ok(()) => {}
            // Another filesystem: copy, then remove the original.
            Err(e) if e.kind() == std::io::ErrorKind::CrossesDevices => {
                tokio::fs::copy(path, &target).await?;
                tokio::fs::File::open(&target).await?.sync_all().await?;
                tokio::fs::remove_file(path).await?;
            }
            Err(e) => return Err(e.into()),
        }
        sync_dir(dir).await
    }

    /// Writes a blob from a synchronous reader, without syncing it: the
    /// caller syncs the returned path (and its directory) later. Returns no
    /// path when the blob already existed.
    pub(super) fn put_unsynced(
        &self,
        reader: &mut dyn std::io::Read,
        known_dirs: &mut std::collections::BTreeSet<PathBuf>,
    ) -> Result<(super::BlobInfo, Option<PathBuf>), StoreError> {
        use sha2::{Digest, Sha256};
        use std::io::Write;
        let temp = self.temp_dir().join(uuid::Uuid::new_v4().to_string());
        let written = (|| {
            let mut file =
                std::io::BufWriter::with_capacity(256 * 1024, std::fs::File::create(&temp)?);
            let mut hasher = Sha256::new();
            let mut buffer = vec![0u8; 128 * 1024];
            let mut size = 0u64;
            loop {
                let n = reader.read(&mut buffer)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buffer[..n]);
                file.write_all(&buffer[..n])?;
                size += n as u64;
            }
            file.flush()?;
            Ok::<_, std::io::Error>(super::BlobInfo {
                key: BlobKey(hex::encode(hasher.finalize())),
                size,
            })
        })();
        let info = match written {
            Ok(info) => info,
            Err(err) => {
                let _ = std::fs::remove_file(&temp);
                return Err(err.into());
            }
        };
        let target = self.path_of(&info.key);
        if target.exists() {
            std::fs::remove_file(&temp)?;
            return Ok((info, None));
        }
        let dir = target.parent().expect("a blob path has a parent");
        if !known_dirs.contains(dir) {
            std::fs::create_dir_all(dir)?;
            known_dirs.insert(dir.to_owned());
        }
        std::fs::rename(&temp, &target)?;
        Ok((info, Some(target)))
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
