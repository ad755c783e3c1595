//! Staged file content: the private copy a handle writes before its commit.
//!
//! In memory up to a limit, then in an unnamed temporary file, or for a local store a hidden
//! `NAME#DIGITS` file beside the target (object_store's own staging name, never listed),
//! removed unless committed.

use std::io;
use std::os::unix::fs::FileExt;

use bytes::Bytes;

/// Where a file's writes are staged (see [`super::OpenFile::new`]).
pub struct SpoolPolicy {
    /// Staged bytes beyond this move from memory to disk.
    pub memory_limit: u64,
    /// For a local-directory store, the hidden file beside the target to stage in.
    pub staged_path: Option<std::path::PathBuf>,
}

pub(super) fn io_to_store(error: io::Error) -> object_store::Error {
    object_store::Error::Generic {
        store: "staging file",
        source: Box::new(error),
    }
}

pub(super) fn read_exact_at(file: &std::fs::File, offset: u64, len: u64) -> io::Result<Bytes> {
    let mut buffer = vec![0; len as usize];
    file.read_exact_at(&mut buffer, offset)?;
    Ok(Bytes::from(buffer))
}

/// Staged file content: in memory, or on disk once it grows (an unnamed temporary file, or
/// for a local store a hidden staged file beside the target, removed unless committed).
pub enum Spool {
    Memory(Vec<u8>),
    Disk {
        file: std::fs::File,
        len: u64,
        staged: Option<std::path::PathBuf>,
    },
}

impl Drop for Spool {
    fn drop(&mut self) {
        if let Spool::Disk {
            staged: Some(staged),
            ..
        } = self
            && !staged.as_os_str().is_empty()
        {
            let _ = std::fs::remove_file(staged);
        }
    }
}

impl Spool {
    pub fn len(&self) -> u64 {
        match self {
            Spool::Memory(data) => data.len() as u64,
            Spool::Disk { len, .. } => *len,
        }
    }

    pub fn read_at(&mut self, offset: u64, len: u64) -> io::Result<Bytes> {
        let end = self.len().min(offset.saturating_add(len));
        if offset >= end {
            return Ok(Bytes::new());
        }
        match self {
            Spool::Memory(data) => Ok(Bytes::copy_from_slice(&data[offset as usize..end as usize])),
            Spool::Disk { file, .. } => read_exact_at(file, offset, end - offset),
        }
    }

    /// Writes `data` at `offset`, zero-filling any gap, spilling to disk past `limit`.
    pub fn write_at(&mut self, offset: u64, data: &[u8], policy: &SpoolPolicy) -> io::Result<()> {
        let end = offset
            .checked_add(data.len() as u64)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "file offset overflow"))?;
        self.spill_if_over(end, policy)?;
        match self {
            // Appending, the common case, copies once (no zero-fill first).
            Spool::Memory(buffer) if offset as usize == buffer.len() => {
                buffer.extend_from_slice(data)
            }
            Spool::Memory(buffer) => {
                let (offset, end) = (offset as usize, end as usize);
                if buffer.len() < end {
                    buffer.resize(end, 0);
                }
                buffer[offset..end].copy_from_slice(data);
            }
            Spool::Disk { file, len, .. } => {
                file.write_all_at(data, offset)?;
                *len = (*len).max(end);
            }
        }
        Ok(())
    }

    /// Shrinks or extends (with zeros) to `size`.
    pub fn set_len(&mut self, size: u64, policy: &SpoolPolicy) -> io::Result<()> {
        self.spill_if_over(size, policy)?;
        match self {
            Spool::Memory(buffer) => buffer.resize(size as usize, 0),
            Spool::Disk { file, len, .. } => {
                file.set_len(size)?;
                *len = size;
            }
        }
        Ok(())
    }

    fn spill_if_over(&mut self, size: u64, policy: &SpoolPolicy) -> io::Result<()> {
        if let Spool::Memory(buffer) = self
            && size > policy.memory_limit
        {
            let (file, staged) = match &policy.staged_path {
                Some(path) => {
                    if let Some(parent) = path.parent() {
                        std::fs::create_dir_all(parent)?;
                    }
                    let file = std::fs::OpenOptions::new()
                        .read(true)
                        .write(true)
                        .create_new(true)
                        .open(path)?;
                    (file, Some(path.clone()))
                }
                None => (tempfile::tempfile()?, None),
            };
            file.write_all_at(buffer, 0)?;
            *self = Spool::Disk {
                file,
                len: buffer.len() as u64,
                staged,
            };
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spool_writes_reads_and_spills_alike() {
        let staging = tempfile::tempdir().unwrap();
        for (limit, staged_path) in [
            (u64::MAX, None),
            (4, None),
            (4, Some(staging.path().join("f#1"))),
        ] {
            let limit_is_small = limit == 4;
            let limit = &SpoolPolicy {
                memory_limit: limit,
                staged_path: staged_path.clone(),
            };
            let mut spool = Spool::Memory(Vec::new());
            spool.write_at(0, b"hello", limit).unwrap();
            spool.write_at(8, b"!", limit).unwrap();
            assert_eq!(spool.len(), 9);
            assert_eq!(&spool.read_at(0, 100).unwrap()[..], b"hello\0\0\0!");
            spool.set_len(4, limit).unwrap();
            assert_eq!(&spool.read_at(0, 100).unwrap()[..], b"hell");
            spool.set_len(6, limit).unwrap();
            assert_eq!(&spool.read_at(2, 100).unwrap()[..], b"ll\0\0");
            assert_eq!(spool.read_at(6, 1).unwrap().len(), 0);
            assert_eq!(matches!(spool, Spool::Disk { .. }), limit_is_small);
            assert_eq!(
                staged_path.as_ref().is_some_and(|path| path.exists()),
                staged_path.is_some()
            );
            drop(spool);
            assert!(
                !staged_path.is_some_and(|path| path.exists()),
                "an uncommitted staged file is removed"
            );
        }
    }
}
