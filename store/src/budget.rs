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

    /// Counts `bytes` more, failing once the total would pass the limit. The count never
    /// wraps, whatever `bytes` a guest asks for, and a refused amount is not counted.
    pub fn spend(&self, bytes: u64) -> Result<(), WriteLimitExceeded> {
        let exceeded = WriteLimitExceeded { limit: self.limit };
        self.written
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |written| {
                written
                    .checked_add(bytes)
                    .filter(|total| *total <= self.limit)
            })
            .map(drop)
            .map_err(|_| exceeded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_holds_and_never_wraps() {
        let budget = WriteBudget::new(100);
        budget.spend(60).unwrap();
        budget.spend(40).unwrap();
        assert!(budget.spend(1).is_err());
        // A hostile size that would wrap the count back to zero is refused, and so is
        // everything after it.
        let budget = WriteBudget::new(1 << 30);
        budget.spend(10).unwrap();
        assert!(budget.spend(u64::MAX - 9).is_err());
        assert!(budget.spend(u64::MAX).is_err());
        assert!(budget.spend(1 << 30).is_err());
        budget.spend((1 << 30) - 10).unwrap();
        // No limit at all: still no wrap.
        let unlimited = WriteBudget::new(u64::MAX);
        unlimited.spend(u64::MAX).unwrap();
        assert!(unlimited.spend(1).is_err());
    }
}
