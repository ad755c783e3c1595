//! Printing transcript lines, and turning results into the text that follows a check id.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt::Display;
use std::io;

thread_local! {
    static SEEN: RefCell<BTreeSet<String>> = const { RefCell::new(BTreeSet::new()) };
}

/// Prints `<id>: <result>`. Ids must be unique: a repeated id is a bug in this program.
pub fn check(id: &str, result: impl Display) {
    let fresh = SEEN.with(|seen| seen.borrow_mut().insert(id.to_owned()));
    assert!(fresh, "check id `{id}` printed twice");
    crate::print_line(&format!("{id}: {result}"));
}

/// `error <ErrorKind>` plus ` (os N)` when the error carries an OS code (a wasi-libc errno).
/// The message is left out: it is the host's wording, not part of the contract.
pub fn error(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => format!("error {:?} (os {code})", e.kind()),
        None => format!("error {:?}", e.kind()),
    }
}

/// `ok` or the error.
pub fn unit<T>(result: io::Result<T>) -> String {
    show(result, |_| "ok".to_owned())
}

/// The success text `describe` gives, or the error.
pub fn show<T>(result: io::Result<T>, describe: impl FnOnce(T) -> String) -> String {
    match result {
        Ok(value) => describe(value),
        Err(e) => error(&e),
    }
}

/// Bytes as a quoted, escaped string (`"ab\0c"`), so zero-filled gaps are visible.
pub fn text(bytes: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(bytes))
}

/// FNV-1a, 64 bits: a checksum of content the guest wrote itself, so it is deterministic.
pub struct Fnv1a(u64);

impl Fnv1a {
    pub fn new() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }

    pub fn update(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    pub fn finish(&self) -> String {
        format!("fnv1a64 {:016x}", self.0)
    }
}

/// For the steps that prepare checks rather than being checks (writing a file a check reads).
/// A failed step prints `setup failed (<what>): <error>`, which makes the transcript differ, and
/// gives `None` so the section skips what needed it. The program still exits 0.
pub trait Setup<T> {
    fn setup(self, what: &str) -> Option<T>;
}

impl<T> Setup<T> for io::Result<T> {
    fn setup(self, what: &str) -> Option<T> {
        self.map_err(|e| crate::print_line(&format!("setup failed ({what}): {}", error(&e))))
            .ok()
    }
}
