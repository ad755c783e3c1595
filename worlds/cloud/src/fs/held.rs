//! Host memory a run's file buffers hold: staged copies kept in memory and read-ahead
//! windows. Each buffer asks before it grows; past the run's allowance a staged copy moves to
//! a temporary file and a read window stops growing, so however many files a guest opens,
//! the host's memory for them stays bounded (its disk is bounded by the store-write limit).

use std::sync::atomic::{AtomicU64, Ordering};

/// What a run's buffers may hold in host memory together, by default.
pub const RUN_BUFFER_MEMORY: u64 = 64 << 20;

/// The memory a run's buffers hold, and how much they may.
#[derive(Debug)]
pub struct BufferMemory {
    held: AtomicU64,
    limit: u64,
}

impl BufferMemory {
    pub fn new(limit: u64) -> BufferMemory {
        BufferMemory {
            held: AtomicU64::new(0),
            limit,
        }
    }

    /// Takes `bytes` more if they fit under the limit.
    pub fn try_hold(&self, bytes: u64) -> bool {
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                held.checked_add(bytes).filter(|total| *total <= self.limit)
            })
            .is_ok()
    }

    /// Takes `bytes` whatever the limit (memory a buffer already has back in use).
    pub fn hold(&self, bytes: u64) {
        self.held.fetch_add(bytes, Ordering::AcqRel);
    }

    /// Gives `bytes` back.
    pub fn release(&self, bytes: u64) {
        let _ = self
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                Some(held.saturating_sub(bytes))
            });
    }

    /// What the run's buffers hold now.
    pub fn held(&self) -> u64 {
        self.held.load(Ordering::Acquire)
    }

    /// The most they may hold.
    pub fn limit(&self) -> u64 {
        self.limit
    }
}

impl Default for BufferMemory {
    fn default() -> BufferMemory {
        BufferMemory::new(RUN_BUFFER_MEMORY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_up_to_the_limit_and_never_wraps() {
        let memory = BufferMemory::new(100);
        assert!(memory.try_hold(60));
        assert!(!memory.try_hold(41));
        assert!(memory.try_hold(40));
        assert!(!memory.try_hold(u64::MAX));
        memory.release(50);
        assert_eq!(memory.held(), 50);
        memory.release(u64::MAX);
        assert_eq!(memory.held(), 0);
    }
}
