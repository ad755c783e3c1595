//! The bytes a run may write to stores, shared by everything that writes in it (files,
//! blob puts), so one limit holds across every mount.

use std::sync::atomic::{AtomicU64, Ordering};

/// The error that stops a run whose guest wrote more to stores than it may.
#[derive(Debug, Clone)]
pub struct WriteLimitExceeded {
    pub limit: u64,
}

impl std::fmt::Display for WriteLimitExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the guest wrote more than {} bytes to stores",
            self.limit
        )
    }
}

impl std::error::Error for WriteLimitExceeded {}

/// The bytes a run may still write to stores.
#[derive(Debug)]
pub struct WriteBudget {
    limit: u64,
    written: AtomicU64,
}

impl WriteBudget {
    pub fn new(limit: u64) -> WriteBudget {
        WriteBudget {
            limit,
            written: AtomicU64::new(0),
        }
    }

    /// Counts `bytes` more, failing once the total passes the limit.
    pub fn spend(&self, bytes: u64) -> Result<(), WriteLimitExceeded> {
        let total = self.written.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if total > self.limit {
            Err(WriteLimitExceeded { limit: self.limit })
        } else {
            Ok(())
        }
    }
}
