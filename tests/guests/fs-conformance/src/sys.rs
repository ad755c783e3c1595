//! Positional reads and writes and symbolic links. std has them in `std::os::wasi::fs`
//! (`FileExt::read_at`, `symlink_path`), but that module is unstable (`wasi_ext`) on the pinned
//! stable toolchain, so these call the wasi-libc functions std itself is built on. Errors come
//! from `errno`, as they do for std's own calls.

use std::ffi::{CString, c_char, c_int, c_void};
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

unsafe extern "C" {
    fn pread(fd: c_int, buf: *mut c_void, len: usize, offset: i64) -> isize;
    fn pwrite(fd: c_int, buf: *const c_void, len: usize, offset: i64) -> isize;
    fn symlink(target: *const c_char, link: *const c_char) -> c_int;
}

/// Reads up to `buf.len()` bytes at `offset`, without moving the file position.
pub fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let offset = i64::try_from(offset).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes and the descriptor is open.
    let n = unsafe { pread(file.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), offset) };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// Writes `buf` at `offset`, without moving the file position.
pub fn write_at(file: &File, buf: &[u8], offset: u64) -> io::Result<usize> {
    let offset = i64::try_from(offset).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes and the descriptor is open.
    let n = unsafe { pwrite(file.as_raw_fd(), buf.as_ptr().cast(), buf.len(), offset) };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// Creates a symbolic link at `link` whose content is `target`.
pub fn symlink_path(target: &str, link: &str) -> io::Result<()> {
    let (target, link) = (c_string(target)?, c_string(link)?);
    // SAFETY: both are NUL-terminated strings that outlive the call.
    match unsafe { symlink(target.as_ptr(), link.as_ptr()) } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

fn c_string(text: &str) -> io::Result<CString> {
    CString::new(text).map_err(|_| io::ErrorKind::InvalidInput.into())
}
