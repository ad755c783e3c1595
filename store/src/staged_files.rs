//! The staged files local stores hold while a run writes (hidden `NAME#DIGITS` names beside
//! their targets, renamed into place when committed), tracked for a process that may be ended
//! at its time limit without unwinding.
//!
//! `host run` in the cloud world over local stores compiles guests without epoch checks (they
//! cost compute-bound guest code up to 30%, issue 13) and ends the whole process at the time
//! limit, as in the cli world. An in-process stop removes a run's staged files when it drops
//! them; an ended process cannot, so its watchdog calls [`remove_all`] first: the stores are
//! left as an in-process stop leaves them, with what the run committed and nothing staged.
//!
//! Tracking is off unless [`track`] was called: plugins, jobs and tests stop in-process. A
//! staged file is made with the registry locked, so [`remove_all`] sees every file made before
//! it, and none is made after it.

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::LocalRoot;

static TRACKING: AtomicBool = AtomicBool::new(false);

static STAGED: Mutex<Registry> = Mutex::new(Registry {
    closed: false,
    files: BTreeMap::new(),
});

struct Registry {
    /// Set by [`remove_all`]: no staged file may be made after it.
    closed: bool,
    /// Each staged file by its place ([`LocalRoot::place`]), with the root it is removed
    /// through and its key there.
    files: BTreeMap<(usize, String), (LocalRoot, String)>,
}

impl Registry {
    fn create<T>(
        &mut self,
        root: &LocalRoot,
        key: &str,
        create: impl FnOnce() -> io::Result<T>,
    ) -> io::Result<T> {
        if self.closed {
            return Err(io::Error::other(
                "the run is ending at its time limit: nothing more is staged",
            ));
        }
        let made = create()?;
        let entry = (root.clone(), key.to_owned());
        self.files.insert(root.place(key), entry);
        Ok(made)
    }

    fn forget(&mut self, root: &LocalRoot, key: &str) {
        self.files.remove(&root.place(key));
    }

    fn remove_all(&mut self) -> usize {
        self.closed = true;
        let files = std::mem::take(&mut self.files);
        files
            .values()
            .filter(|(root, key)| root.remove_file(key).is_ok())
            .count()
    }
}

fn registry() -> MutexGuard<'static, Registry> {
    // A panic elsewhere while the lock was held leaves the map as consistent as ever.
    STAGED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Tracks every staged file local stores make from now on, for [`remove_all`].
pub fn track() {
    TRACKING.store(true, Ordering::SeqCst);
}

fn tracking() -> bool {
    TRACKING.load(Ordering::Relaxed)
}

/// Makes the staged file `key` beneath `root` with `create`, tracking it. `key` is asked for
/// only while tracking: a local store's every publish passes here.
pub(crate) fn create<T>(
    root: &LocalRoot,
    key: impl FnOnce() -> String,
    create: impl FnOnce() -> io::Result<T>,
) -> io::Result<T> {
    if !tracking() {
        return create();
    }
    registry().create(root, &key(), create)
}

/// Stops tracking the staged file `key` beneath `root`: it was renamed into place or removed.
pub(crate) fn forget(root: &LocalRoot, key: impl FnOnce() -> String) {
    if tracking() {
        registry().forget(root, &key());
    }
}

/// Removes every tracked staged file (each beneath its root, never through a link) and refuses
/// new ones from now on; returns how many were removed. For a process about to exit.
pub fn remove_all() -> usize {
    registry().remove_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracked_staged_files_are_removed_and_no_more_are_made() {
        let dir = tempfile::tempdir().unwrap();
        let root = LocalRoot::open(dir.path()).unwrap();
        let below = root.below("p");
        // A registry of its own: the process-wide one is not tracking in tests.
        let mut staged = Registry {
            closed: false,
            files: BTreeMap::new(),
        };
        let mut make = |root: &LocalRoot, key: &str| {
            staged
                .create(root, key, || root.create_new_file(key))
                .map(drop)
        };
        make(&root, "a/b/kept#1").unwrap();
        make(&below, "kept#2").unwrap();
        make(&root, "renamed#3").unwrap();
        root.rename_file("renamed#3", "renamed").unwrap();
        staged.forget(&root, "renamed#3");
        std::fs::write(dir.path().join("a/b/kept"), "committed").unwrap();

        assert_eq!(
            staged.remove_all(),
            2,
            "a/b/kept#1 and p/kept#2 were staged"
        );
        let exists = |key: &str| dir.path().join(key).exists();
        assert!(!exists("a/b/kept#1") && !exists("p/kept#2"));
        assert!(exists("renamed") && exists("a/b/kept"));
        let refused = staged
            .create(&root, "late#4", || root.create_new_file("late#4"))
            .unwrap_err();
        assert!(refused.to_string().contains("time limit"), "{refused}");
        assert!(!exists("late#4"));
    }
}
