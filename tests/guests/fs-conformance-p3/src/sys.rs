//! The p3 build's `sys` (see `fs-conformance/src/sys.rs`): positional reads and writes and
//! symbolic links, over the std-like layer in [`crate::fs`].

use std::io;
use std::path::Path;

use crate::fs::{self, File};

/// Reads up to `buf.len()` bytes at `offset`, without moving the file position.
pub fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    file.read_at(buf, offset)
}

/// Writes `buf` at `offset`, without moving the file position.
pub fn write_at(file: &File, buf: &[u8], offset: u64) -> io::Result<usize> {
    file.write_at(buf, offset)
}

/// Creates a symbolic link at `link` whose content is `target`.
pub fn symlink_path(target: &str, link: &str) -> io::Result<()> {
    fs::symlink(target, Path::new(link))
}
