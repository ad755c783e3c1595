//! `read-directory` for WASI 0.2 guests, read one page at a time as the guest reads.
//!
//! wasmtime-wasi 48 reads a whole directory (with a `stat` per entry) when `read-directory` is
//! called and its stream keeps all of it, so a guest holding many listings of a large directory
//! makes the host hold them all (150 of 30,000 entries peaked at 358 MiB). Here a stream holds
//! the directory (the descriptor's own `Arc<File>`, no new file descriptor), where the next page
//! starts, and at most one page: memory is bounded by the handles limit × one page.
//!
//! The entries and errors are wasmtime-wasi's: `.` and `..` skipped, each entry's type from a
//! `stat` that does not follow links (fifos and sockets are `unknown`, as there), a stat error
//! or a name that is not UTF-8 (`illegal-byte-sequence`) reported for that entry, a failed
//! directory read ending the listing after its error. Like wasmtime-wasi, `read-directory`
//! checks no permission beyond the descriptor being a directory.
//!
//! Pages are read where the run makes its filesystem calls
//! ([`FsCalls`](worldhost_world_api::FsCalls)): in place for a command, on tokio's blocking
//! pool for a plugin.

use std::ffi::CStr;
use std::fs::File;
use std::sync::Arc;

use anyhow::Result;
use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};
use wasmtime::StoreContextMut;
use wasmtime::component::{LinkerInstance, Resource, ResourceType};
use wasmtime_wasi::filesystem::WasiFilesystemView;
use wasmtime_wasi::p2::bindings::filesystem::types::{
    Descriptor, DescriptorType, DirectoryEntry, ErrorCode,
};
use worldhost_world_api::WorldHost;
use worldhost_world_api::traced::{self, Answer};

/// A page ends after this many entries...
const PAGE_ENTRIES: usize = 256;
/// ...or once its names take this many bytes (a name is at most 255), whichever comes first:
/// a held listing costs at most about 5 KiB.
const PAGE_NAME_BYTES: usize = 4096;

/// A `directory-entry-stream`: where the listing is, and the page the guest reads from.
pub struct Listing {
    dir: Arc<File>,
    page: Page,
    /// Where the next page starts (the `d_off` of the last entry read), or `None` once the
    /// directory has been read to its end or reading it failed.
    next: Option<i64>,
}

/// Entries read from the directory and not yet given to the guest, names packed in one string.
#[derive(Default)]
struct Page {
    names: String,
    /// Each entry's end in `names`, and its type.
    entries: Vec<(u32, DescriptorType)>,
    /// How many entries the guest has taken.
    taken: usize,
    /// The error that ended the page, given after its entries.
    error: Option<ErrorCode>,
}

impl Page {
    /// This page as held until the guest reads it: no spare capacity.
    fn held(mut self, next: Option<i64>) -> (Page, Option<i64>) {
        self.names.shrink_to_fit();
        self.entries.shrink_to_fit();
        (self, next)
    }

    fn is_full(&self) -> bool {
        self.entries.len() >= PAGE_ENTRIES || self.names.len() >= PAGE_NAME_BYTES
    }

    /// The next entry, then the page's error; `None` when both are taken.
    fn take(&mut self) -> Option<Result<DirectoryEntry, ErrorCode>> {
        if let Some(&(end, type_)) = self.entries.get(self.taken) {
            let start = match self.taken {
                0 => 0,
                i => self.entries[i - 1].0,
            };
            self.taken += 1;
            let name = self.names[start as usize..end as usize].to_string();
            return Some(Ok(DirectoryEntry { type_, name }));
        }
        self.error.take().map(Err)
    }
}

impl Listing {
    /// Opens a listing of `dir` and reads its first page. Only opening the directory for
    /// reading fails here, as in wasmtime-wasi; anything else is reported by the entries.
    fn open(dir: Arc<File>) -> Result<Listing, ErrorCode> {
        let (page, next) = read_page(&dir, 0)?;
        Ok(Listing { dir, page, next })
    }

    /// The next entry (`Ok(None)` at the end), reading the next page when this one is spent.
    fn next_entry(&mut self) -> Option<Result<Option<DirectoryEntry>, ErrorCode>> {
        match self.page.take() {
            Some(entry) => Some(entry.map(Some)),
            None if self.next.is_none() => Some(Ok(None)),
            None => None,
        }
    }

    /// What reading the next page needs, off the guest's thread.
    fn page_source(&self) -> (Arc<File>, i64) {
        (Arc::clone(&self.dir), self.next.unwrap_or(0))
    }

    fn set_page(&mut self, (page, next): (Page, Option<i64>)) {
        self.page = page;
        self.next = next;
    }
}

/// Reads one page of `dir` from `cookie` (0: the start). Returns the page and where the next
/// one starts (`None`: the end, or the read failed and the page carries its error). Fails only
/// when the directory cannot be opened for reading.
fn read_page(dir: &File, cookie: i64) -> Result<(Page, Option<i64>), ErrorCode> {
    // A descriptor of its own, so that its read position is not the guest's descriptor's
    // (as wasmtime-wasi does), closed again when this page is read.
    let fd = rustix::fs::openat(
        dir,
        c".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
    )
    .map_err(io_error)?;
    let mut page = Page::default();
    let mut reader = match Dir::new(fd) {
        Ok(reader) => reader,
        Err(e) => return Ok(failed(page, e)),
    };
    if cookie != 0
        && let Err(e) = reader.seek(cookie)
    {
        return Ok(failed(page, e));
    }
    let mut cookie = cookie;
    while !page.is_full() {
        let entry = match reader.read() {
            None => return Ok(page.held(None)),
            Some(Err(e)) => return Ok(failed(page, e)),
            Some(Ok(entry)) => entry,
        };
        cookie = entry.offset();
        let name = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        // The stat first, then the name, in wasmtime-wasi's order; either error ends the page
        // (the next one starts after this entry).
        match entry_type(dir, name).and_then(|type_| {
            let name =
                std::str::from_utf8(name.to_bytes()).map_err(|_| ErrorCode::IllegalByteSequence)?;
            Ok((type_, name))
        }) {
            Ok((type_, name)) => {
                page.names.push_str(name);
                // At most PAGE_NAME_BYTES + 255.
                let end = u32::try_from(page.names.len()).expect("a page's names fit in u32");
                page.entries.push((end, type_));
            }
            Err(code) => {
                page.error = Some(code);
                return Ok(page.held(Some(cookie)));
            }
        }
    }
    Ok(page.held(Some(cookie)))
}

/// The page so far, ended by a failed read of the directory (which ends the listing, as
/// rustix's `Dir` reads nothing more after an error in wasmtime-wasi).
fn failed(mut page: Page, e: rustix::io::Errno) -> (Page, Option<i64>) {
    page.error = Some(io_error(e));
    page.held(None)
}

/// wasmtime-wasi's `descriptortype_from` of the entry's metadata, links not followed.
fn entry_type(dir: &File, name: &CStr) -> Result<DescriptorType, ErrorCode> {
    let stat = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).map_err(io_error)?;
    Ok(match FileType::from_raw_mode(stat.st_mode) {
        FileType::Directory => DescriptorType::Directory,
        FileType::Symlink => DescriptorType::SymbolicLink,
        FileType::RegularFile => DescriptorType::RegularFile,
        FileType::BlockDevice => DescriptorType::BlockDevice,
        FileType::CharacterDevice => DescriptorType::CharacterDevice,
        _ => DescriptorType::Unknown,
    })
}

/// wasmtime-wasi's mapping of an OS error to an error code.
fn io_error(e: rustix::io::Errno) -> ErrorCode {
    ErrorCode::from(std::io::Error::from(e))
}

/// Replaces wasmtime-wasi's `directory-entry-stream`, its destructor, and the two functions
/// that use it in `types` (`wasi:filesystem/types`, shadowing allowed).
pub fn shadow<T: WorldHost<()>>(types: &mut LinkerInstance<'_, T>) -> Result<()> {
    types.resource(
        "directory-entry-stream",
        ResourceType::host::<Listing>(),
        |mut store, rep| {
            let stream = Resource::<Listing>::new_own(rep);
            store.data_mut().filesystem().table.delete(stream)?;
            Ok(())
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.read-directory",
        |store, (fd,): (Resource<Descriptor>,)| {
            let span = traced::span("types", "[method]descriptor.read-directory");
            span.in_scope(|| tracing::trace!(self_ = ?fd, "call"));
            Box::new(traced::later(span, read_directory(store, fd)))
        },
    )?;
    types.func_wrap_async(
        "[method]directory-entry-stream.read-directory-entry",
        |store, (stream,): (Resource<Listing>,)| {
            let span = traced::span(
                "types",
                "[method]directory-entry-stream.read-directory-entry",
            );
            span.in_scope(|| tracing::trace!(self_ = ?stream, "call"));
            Box::new(traced::later(span, read_directory_entry(store, stream)))
        },
    )?;
    Ok(())
}

/// `read-directory`: a listing of the directory `fd` names, opened as the run's `fs_calls`
/// says (in place or on tokio's blocking pool).
async fn read_directory<T: WorldHost<()>>(
    mut store: StoreContextMut<'_, T>,
    fd: Resource<Descriptor>,
) -> Answer<Resource<Listing>, ErrorCode> {
    let dir = match store.data_mut().filesystem().table.get(&fd)? {
        Descriptor::Dir(d) => Arc::clone(&d.dir),
        Descriptor::File(_) => return Ok((Err(ErrorCode::NotDirectory),)),
    };
    let fs_calls = store.data_mut().guest().fs_calls;
    let listing = match fs_calls.run(move || Listing::open(dir)).await {
        Ok(listing) => listing,
        Err(code) => return Ok((Err(code),)),
    };
    let stream = store.data_mut().filesystem().table.push(listing)?;
    Ok((Ok(stream),))
}

/// `read-directory-entry`: the listing's next entry, reading its next page when the last is
/// spent.
async fn read_directory_entry<T: WorldHost<()>>(
    mut store: StoreContextMut<'_, T>,
    stream: Resource<Listing>,
) -> Answer<Option<DirectoryEntry>, ErrorCode> {
    loop {
        let listing = store.data_mut().filesystem().table.get_mut(&stream)?;
        if let Some(entry) = listing.next_entry() {
            return Ok((entry,));
        }
        let (dir, cookie) = listing.page_source();
        let fs_calls = store.data_mut().guest().fs_calls;
        let page = fs_calls
            .run(move || {
                read_page(&dir, cookie).unwrap_or_else(|code| {
                    let page = Page {
                        error: Some(code),
                        ..Page::default()
                    };
                    (page, None)
                })
            })
            .await;
        let listing = store.data_mut().filesystem().table.get_mut(&stream)?;
        listing.set_page(page);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every entry of a listing read page by page, in order.
    fn read_all(dir: &Arc<File>) -> Vec<Result<(String, DescriptorType), ErrorCode>> {
        let mut listing = Listing::open(Arc::clone(dir)).unwrap();
        let mut all = Vec::new();
        loop {
            match listing.next_entry() {
                Some(Ok(Some(e))) => all.push(Ok((e.name, e.type_))),
                Some(Ok(None)) => return all,
                Some(Err(code)) => all.push(Err(code)),
                None => {
                    let (dir, cookie) = listing.page_source();
                    listing.set_page(read_page(&dir, cookie).unwrap());
                }
            }
        }
    }

    #[test]
    fn pages_list_every_entry_once_with_its_type() {
        let tmp = std::env::temp_dir().join(format!("worldhost-listing-{}", std::process::id()));
        std::fs::create_dir_all(tmp.join("sub")).unwrap();
        // More than a page by count, and a page that ends on name bytes.
        let mut expected = vec![("sub".to_string(), DescriptorType::Directory)];
        for i in 0..700 {
            let name = if i % 7 == 0 {
                format!("{i:0>200}")
            } else {
                format!("f{i}")
            };
            std::fs::write(tmp.join(&name), b"").unwrap();
            expected.push((name, DescriptorType::RegularFile));
        }
        std::os::unix::fs::symlink("sub", tmp.join("link")).unwrap();
        expected.push(("link".to_string(), DescriptorType::SymbolicLink));
        expected.sort_by(|a, b| a.0.cmp(&b.0));

        let dir = Arc::new(File::open(&tmp).unwrap());
        let mut got: Vec<_> = read_all(&dir).into_iter().map(Result::unwrap).collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        std::fs::remove_dir_all(&tmp).unwrap();
        assert_eq!(got.len(), expected.len());
        for (g, e) in got.iter().zip(&expected) {
            assert_eq!(g.0, e.0);
            assert_eq!(format!("{:?}", g.1), format!("{:?}", e.1), "{}", g.0);
        }
    }

    /// wasmtime-wasi's own listing of `path`, in order, as its `read-directory` gives it.
    fn wasmtime_wasi_listing(
        path: &std::path::Path,
    ) -> Vec<Result<(String, DescriptorType), ErrorCode>> {
        use wasmtime::component::ResourceTable;
        use wasmtime_wasi::p2::bindings::filesystem::preopens::Host as _;
        use wasmtime_wasi::p2::bindings::filesystem::types::{
            HostDescriptor, HostDirectoryEntryStream,
        };
        use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

        struct State(WasiCtx, ResourceTable);
        impl WasiView for State {
            fn ctx(&mut self) -> WasiCtxView<'_> {
                WasiCtxView {
                    ctx: &mut self.0,
                    table: &mut self.1,
                }
            }
        }
        let ctx = WasiCtxBuilder::new()
            .preopened_dir(path, ".", FsPerms::ReadOnly)
            .unwrap()
            .build();
        let mut state = State(ctx, ResourceTable::new());
        let mut view = state.filesystem();
        let (fd, _) = view.get_directories().unwrap().remove(0);
        wasmtime_wasi::runtime::in_tokio(async {
            let stream = view.read_directory(fd).await.unwrap();
            let mut all = Vec::new();
            loop {
                match view
                    .read_directory_entry(Resource::new_borrow(stream.rep()))
                    .await
                {
                    Ok(Some(e)) => all.push(Ok((e.name, e.type_))),
                    Ok(None) => return all,
                    Err(e) => all.push(Err(e.downcast().unwrap())),
                }
            }
        })
    }

    /// Every kind of entry wasmtime-wasi tells apart (fifos and sockets are `unknown` there),
    /// a name that is not UTF-8, and enough entries for several pages: the same listing, in
    /// the same order, with the same errors, as wasmtime-wasi's.
    #[test]
    fn listings_are_wasmtime_wasis() {
        use std::os::unix::ffi::OsStrExt;
        let tmp = std::env::temp_dir().join(format!("worldhost-listing-ww-{}", std::process::id()));
        std::fs::create_dir_all(tmp.join("sub")).unwrap();
        for i in 0..600 {
            std::fs::write(tmp.join(format!("file-{i}")), b"").unwrap();
        }
        std::fs::write(tmp.join(std::ffi::OsStr::from_bytes(b"bad\xff")), b"").unwrap();
        std::os::unix::fs::symlink("../../nowhere", tmp.join("dangling")).unwrap();
        std::os::unix::fs::symlink("sub", tmp.join("to-sub")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            tmp.join("fifo").as_path(),
            FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let _socket = std::os::unix::net::UnixListener::bind(tmp.join("socket")).unwrap();

        let ours = read_all(&Arc::new(File::open(&tmp).unwrap()));
        let theirs = wasmtime_wasi_listing(&tmp);
        std::fs::remove_dir_all(&tmp).unwrap();
        assert_eq!(ours.len(), 606);
        assert_eq!(format!("{ours:?}"), format!("{theirs:?}"));
    }

    #[test]
    fn a_name_that_is_not_utf8_is_an_error_and_the_listing_goes_on() {
        use std::os::unix::ffi::OsStrExt;
        let tmp = std::env::temp_dir().join(format!("worldhost-listing-u8-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        std::fs::write(tmp.join(std::ffi::OsStr::from_bytes(b"bad\xff")), b"").unwrap();
        std::fs::write(tmp.join("good"), b"").unwrap();
        let dir = Arc::new(File::open(&tmp).unwrap());
        let all = read_all(&dir);
        std::fs::remove_dir_all(&tmp).unwrap();
        assert_eq!(all.len(), 2, "{all:?}");
        assert!(
            all.iter()
                .any(|e| matches!(e, Err(ErrorCode::IllegalByteSequence)))
        );
        assert!(all.iter().any(|e| matches!(e, Ok((n, _)) if n == "good")));
    }
}
