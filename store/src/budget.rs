//! The bytes a run may write to stores, and the objects it may create there, shared by
//! everything that writes in it (files, directories, blob puts), so one limit holds across
//! every mount.

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

/// Why an object could not be created: the run made as many as it may. The guest is told
/// (`quota`) and may go on; it is not a reason to stop the run.
#[derive(Debug, Clone)]
pub struct ObjectLimitExceeded {
    pub limit: u64,
}

impl std::fmt::Display for ObjectLimitExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the guest hit its limit on objects created in stores of {} objects \
             (raise it with --max-store-objects)",
            self.limit
        )
    }
}

impl std::error::Error for ObjectLimitExceeded {}

/// The bytes a run may still write to stores, and the objects it may still create.
#[derive(Debug)]
pub struct WriteBudget {
    limit: u64,
    written: AtomicU64,
    object_limit: u64,
    objects: AtomicU64,
}

impl WriteBudget {
    /// A budget of `limit` bytes, with no limit on objects.
    pub fn new(limit: u64) -> WriteBudget {
        WriteBudget::with_objects(limit, u64::MAX)
    }

    /// A budget of `limit` bytes and `object_limit` objects created.
    pub fn with_objects(limit: u64, object_limit: u64) -> WriteBudget {
        WriteBudget {
            limit,
            written: AtomicU64::new(0),
            object_limit,
            objects: AtomicU64::new(0),
        }
    }

    /// Counts one object created (a new file, a directory marker, a blob put or copy),
    /// failing once the run has created as many as it may. The first refusal is logged.
    pub fn create_object(&self) -> Result<(), ObjectLimitExceeded> {
        let created = self
            .objects
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |objects| {
                (objects < self.object_limit).then_some(objects + 1)
            });
        created.map(drop).map_err(|objects| {
            let exceeded = ObjectLimitExceeded {
                limit: self.object_limit,
            };
            if objects == self.object_limit {
                // Logged once: later refusals leave the count one past the limit.
                self.objects.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("{exceeded}; further creations fail with `quota`");
            }
            exceeded
        })
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

    #[test]
    fn objects_are_counted_up_to_their_limit() {
        let budget = WriteBudget::with_objects(u64::MAX, 2);
        budget.create_object().unwrap();
        budget.create_object().unwrap();
        for _ in 0..3 {
            assert_eq!(budget.create_object().unwrap_err().limit, 2);
        }
        assert!(WriteBudget::new(10).create_object().is_ok());
    }
}
