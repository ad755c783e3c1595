//! Staged file content: the private copy a handle writes before its commit.
//!
//! In memory up to a limit, then in an unnamed temporary file, or for a local store a hidden
//! `NAME#DIGITS` file beside the target (object_store's own staging name, never listed),
//! removed unless committed.

use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::held::BufferMemory;

use bytes::Bytes;

/// Where a file's writes are staged (see [`super::OpenFile::new`]).
pub struct SpoolPolicy {
    /// Staged bytes beyond this move from memory to disk.
    pub memory_limit: u64,
    /// For a local-directory store, the root and the target's key: a spool that spills
    /// stages in a hidden file beside it (named then, so opening a file that never spills
    /// names nothing), made beneath the root.
    pub stage_beside: Option<StagedAt>,
    /// The run's allowance of memory for buffers: a memory spool that cannot grow within it
    /// moves to disk (`None`: no allowance, for in-memory stores).
    pub run_memory: Option<Arc<BufferMemory>>,
    /// What this file's memory spool holds of that allowance.
    pub holding: AtomicU64,
}

impl SpoolPolicy {
    /// Whether a memory spool may grow to `size` bytes, taking the memory if so.
    fn hold(&self, size: u64) -> bool {
        if size > self.memory_limit {
            return false;
        }
        let holding = self.holding.load(Ordering::Acquire);
        if size <= holding {
            return true;
        }
        let fits = match &self.run_memory {
            Some(memory) => memory.try_hold(size - holding),
            None => true,
        };
        if fits {
            self.holding.store(size, Ordering::Release);
        }
        fits
    }

    /// Gives back what the memory spool held (it moved to disk, or was consumed).
    pub fn release_all(&self) {
        let holding = self.holding.swap(0, Ordering::AcqRel);
        if let Some(memory) = &self.run_memory {
            memory.release(holding);
        }
    }

    /// Takes back memory for a spool restored after a failed upload.
    pub fn hold_again(&self, size: u64) {
        self.release_all();
        self.holding.store(size, Ordering::Release);
        if let Some(memory) = &self.run_memory {
            memory.hold(size);
        }
    }
}

impl Drop for SpoolPolicy {
    fn drop(&mut self) {
        self.release_all();
    }
}

pub(super) fn io_to_store(error: io::Error) -> object_store::Error {
    object_store::Error::Generic {
        store: "staging file",
        source: Box::new(error),
    }
}

/// Exactly `len` bytes of `file` at `offset` (an error if the file is shorter).
pub(super) fn read_exact_at(file: &std::fs::File, offset: u64, len: u64) -> io::Result<Bytes> {
    let buffer = worldhost_store::LocalRoot::read_file_at(file, offset, len as usize)?;
    if (buffer.len() as u64) < len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(Bytes::from(buffer))
}

/// Appends of at least this much have the pages they will fill made present in one call
/// (`MADV_POPULATE_WRITE`) instead of one page fault each: a 64 MiB file staged in memory took
/// 16,000 faults as it grew; one call per 64 KiB write took its write from 45 to 35 ms
/// (issue 13).
const POPULATE_FROM: usize = 64 << 10;

/// Reserves room for `more` bytes after `buffer`'s end and, for a large append, has the kernel
/// make those pages present at once. Best effort: a kernel without `MADV_POPULATE_WRITE`
/// (before Linux 5.14) faults them in as they are written, as before.
fn reserve_present(buffer: &mut Vec<u8>, more: usize) {
    buffer.reserve(more);
    if more < POPULATE_FROM {
        return;
    }
    let page = rustix::param::page_size();
    let start = buffer.as_ptr() as usize + buffer.len();
    // Whole pages, each holding some of the appended bytes: within the allocation's mapping.
    let (first, end) = (start / page * page, (start + more).next_multiple_of(page));
    // SAFETY: the range lies within pages that hold part of `buffer`'s allocation, which is
    // mapped and writable; populating a page does not change its contents.
    let _ = unsafe {
        rustix::mm::madvise(
            first as *mut std::ffi::c_void,
            end - first,
            rustix::mm::Advice::LinuxPopulateWrite,
        )
    };
}

/// Staged file content: in memory, or on disk once it grows (an unnamed temporary file, or
/// for a local store a hidden staged file beside the target, removed unless committed).
pub enum Spool {
    Memory(Vec<u8>),
    Disk {
        file: std::fs::File,
        len: u64,
        staged: Option<StagedAt>,
    },
}

/// A local store's staged file: a hidden `NAME#DIGITS` key beside the target, made, renamed
/// and removed only beneath the store's root (never through a link, even one planted while
/// the file is open).
#[derive(Debug, Clone)]
pub struct StagedAt {
    pub root: worldhost_store::LocalRoot,
    /// Its key in the store; empty once it was renamed into place.
    pub key: String,
}

impl Drop for Spool {
    fn drop(&mut self) {
        if let Spool::Disk {
            staged: Some(staged),
            ..
        } = self
            && !staged.key.is_empty()
        {
            let _ = staged.root.remove_staged(&staged.key);
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
                reserve_present(buffer, data.len());
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
            && !policy.hold(size)
        {
            let (file, staged) = match &policy.stage_beside {
                Some(target) => {
                    let key = super::file::staged_name(&target.key);
                    let file = target.root.create_staged(&key)?;
                    let root = target.root.clone();
                    (file, Some(StagedAt { root, key }))
                }
                None => (tempfile::tempfile()?, None),
            };
            file.write_all_at(buffer, 0)?;
            *self = Spool::Disk {
                file,
                len: buffer.len() as u64,
                staged,
            };
            policy.release_all();
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
        let root = worldhost_store::LocalRoot::open(staging.path()).unwrap();
        let staged_files = || std::fs::read_dir(staging.path().join("d")).map_or(0, |d| d.count());
        let beside = StagedAt {
            root,
            key: "d/f".to_owned(),
        };
        for (limit, stage_beside) in [(u64::MAX, None), (4, None), (4, Some(beside))] {
            let limit_is_small = limit == 4;
            let staged_here = stage_beside.is_some();
            let limit = &SpoolPolicy {
                memory_limit: limit,
                stage_beside,
                run_memory: None,
                holding: AtomicU64::new(0),
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
            assert_eq!(staged_files(), usize::from(staged_here));
            if let Spool::Disk {
                staged: Some(staged),
                ..
            } = &spool
            {
                assert!(
                    staged.key.starts_with("d/f#"),
                    "staged as NAME#DIGITS: {staged:?}"
                );
            }
            drop(spool);
            assert_eq!(staged_files(), 0, "an uncommitted staged file is removed");
        }
    }
}

#[cfg(test)]
mod populate_tests {
    use super::*;

    #[test]
    fn large_appends_keep_every_byte() {
        let policy = SpoolPolicy {
            memory_limit: u64::MAX,
            stage_beside: None,
            run_memory: None,
            holding: AtomicU64::new(0),
        };
        // Appends past POPULATE_FROM (pages made present first), some not page-aligned.
        let chunks: Vec<Vec<u8>> = (0..5u8)
            .map(|i| vec![i + 1; POPULATE_FROM + 1000 * usize::from(i)])
            .collect();
        let mut spool = Spool::Memory(Vec::new());
        spool.write_at(0, b"head", &policy).unwrap();
        let mut expected = b"head".to_vec();
        for chunk in &chunks {
            spool.write_at(spool.len(), chunk, &policy).unwrap();
            expected.extend_from_slice(chunk);
        }
        assert_eq!(spool.len(), expected.len() as u64);
        assert_eq!(spool.read_at(0, u64::MAX).unwrap(), expected);
    }
}

#[cfg(test)]
mod run_memory_tests {
    use super::*;

    #[test]
    fn spools_past_the_runs_memory_move_to_disk_and_give_it_back() {
        let memory = Arc::new(BufferMemory::new(10));
        let policy = |memory: &Arc<BufferMemory>| SpoolPolicy {
            memory_limit: u64::MAX,
            stage_beside: None,
            run_memory: Some(memory.clone()),
            holding: AtomicU64::new(0),
        };
        let (first_policy, second_policy) = (policy(&memory), policy(&memory));
        let mut first = Spool::Memory(Vec::new());
        first.write_at(0, b"12345678", &first_policy).unwrap();
        assert_eq!(memory.held(), 8);
        let mut second = Spool::Memory(Vec::new());
        second.write_at(0, b"1234", &second_policy).unwrap();
        assert!(
            matches!(second, Spool::Disk { .. }),
            "over the run's memory"
        );
        assert_eq!(&second.read_at(0, 10).unwrap()[..], b"1234");
        assert_eq!(memory.held(), 8);
        drop(first_policy);
        assert_eq!(memory.held(), 0);
    }
}
