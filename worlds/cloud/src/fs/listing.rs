//! `read-directory`: a directory's entries, listed a page at a time as the guest reads them.
//!
//! A directory may hold millions of objects, and a guest may hold thousands of listings open
//! at once, so a listing never holds a whole directory: it keeps one page ([`LIST_PAGE`]
//! entries: one request to a cloud store, a part of one `readdir` on a local one) and fetches
//! the next when the guest has read it. Each page's memory is taken from the run's buffer
//! allowance ([`BufferMemory`]); past it the guest gets `insufficient-memory`.
//!
//! The run's own files come first (created files exist from their `open`, published or not),
//! then the stored entries not already given, each page sorted by name. On stores other than
//! local directories and cloud buckets (memory, http), the whole directory is one page.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use worldhost_store::{EntryKind, LIST_PAGE, LocalDir, names_nothing};

use super::error::{ErrorCode, FsResult, spool_error, store_error};
use super::held::BufferMemory;
use super::path::{RelPath, is_reserved, key_name};
use super::volume::Volume;
use super::{Dir, DirEntry, Kind};

/// The entries of one directory, read in order by [`Listing::next`].
pub struct Listing {
    volume: Arc<Volume>,
    path: RelPath,
    /// The page being read.
    ready: VecDeque<DirEntry>,
    /// The memory `ready` was charged, given back when the next page comes or on drop.
    held: u64,
    memory: Arc<BufferMemory>,
    /// The names the run's own files gave: skipped when the store lists them too.
    given: HashSet<String>,
    source: Source,
}

/// Where the next page comes from.
enum Source {
    Local(LocalDir),
    /// A store's listing; `next` says where its next page starts (`None`: the first page).
    Store {
        next: Option<String>,
    },
    Done,
}

impl Listing {
    /// Starts listing `dir`, fetching the first page (so a store that fails says so here),
    /// with pages charged to `memory`.
    pub async fn open(dir: &Dir, memory: Arc<BufferMemory>) -> FsResult<Listing> {
        let volume = dir.volume().clone();
        let path = dir.path().clone();
        // The run's files below `dir` (a file deeper down gives its directory, once).
        let mut given = HashSet::new();
        let mut live: Vec<DirEntry> = volume
            .live_entries(&path)
            .into_iter()
            .filter(|(name, _)| given.insert(name.clone()))
            .map(|(name, kind)| DirEntry { name, kind })
            .collect();
        live.sort_by(|a, b| a.name.cmp(&b.name));
        let source = match volume.local_root() {
            Some(root) => match root.open_dir(path.key_ref().as_ref()) {
                Ok(listing) => Source::Local(listing),
                // A directory known only to this run (its marker not yet stored), or gone.
                Err(e) if names_nothing(&e) => Source::Done,
                Err(e) => return Err(spool_error(e)),
            },
            None => Source::Store { next: None },
        };
        let mut listing = Listing {
            volume,
            path,
            ready: VecDeque::new(),
            held: 0,
            memory,
            given,
            source,
        };
        if live.is_empty() {
            listing.fill().await?;
        } else {
            listing.hold(live)?;
        }
        Ok(listing)
    }

    /// The next entry; `None` once every one was given.
    pub async fn next(&mut self) -> FsResult<Option<DirEntry>> {
        if let Some(next) = self.next_now() {
            return next;
        }
        self.fill().await?;
        Ok(self.ready.pop_front())
    }

    /// [`Listing::next`] with no wait: `None` if the next page needs a store request.
    pub fn next_now(&mut self) -> Option<FsResult<Option<DirEntry>>> {
        now!(self.fill_now());
        Some(Ok(self.ready.pop_front()))
    }

    /// Fetches pages until one has an entry to give, or the listing ends.
    async fn fill(&mut self) -> FsResult<()> {
        loop {
            let next = match (self.fill_now(), &mut self.source) {
                (Some(filled), _) => return filled,
                (None, Source::Store { next }) => next.take(),
                // `fill_now` waits for nothing else.
                (None, _) => return Ok(()),
            };
            let (page, more) = store_page(&self.volume, &self.path, next).await?;
            self.source = match more {
                Some(token) => Source::Store { next: Some(token) },
                None => Source::Done,
            };
            let page = page
                .into_iter()
                .filter(|entry| !self.given.contains(&entry.name))
                .collect();
            self.hold(page)?;
        }
    }

    /// [`Listing::fill`] as far as it goes with no wait: done if an entry is ready or the
    /// listing ended, `None` when a store's page must be fetched.
    fn fill_now(&mut self) -> Option<FsResult<()>> {
        while self.ready.is_empty() {
            let page = match &mut self.source {
                Source::Done => break,
                Source::Store { .. } => return None,
                Source::Local(dir) => match local_page(dir, &self.given) {
                    Ok(page) => page,
                    Err(error) => return Some(Err(error)),
                },
            };
            if page.len() < LIST_PAGE {
                self.source = Source::Done;
            }
            now!(Some(self.hold(page)));
        }
        Some(Ok(()))
    }

    /// Makes `page` the page being read (sorted), charging its memory in place of the last's.
    fn hold(&mut self, mut page: Vec<DirEntry>) -> FsResult<()> {
        let bytes = page
            .iter()
            .map(|entry| (entry.name.len() + std::mem::size_of::<DirEntry>()) as u64)
            .sum();
        self.memory.release(std::mem::take(&mut self.held));
        if !self.memory.try_hold(bytes) {
            tracing::warn!(
                directory = %self.path,
                "a page of a directory listing does not fit in the run's buffer memory: the \
                 guest gets insufficient-memory (raise it with --max-buffer-memory)"
            );
            return Err(ErrorCode::InsufficientMemory.into());
        }
        self.held = bytes;
        page.sort_by(|a, b| a.name.cmp(&b.name));
        self.ready = page.into();
        Ok(())
    }
}

impl std::fmt::Debug for Listing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listing")
            .field("path", &self.path)
            .field("ready", &self.ready.len())
            .field("held", &self.held)
            .finish()
    }
}

impl Drop for Listing {
    fn drop(&mut self) {
        self.memory.release(self.held);
    }
}

/// Up to [`LIST_PAGE`] entries of a local directory (markers, staged uploads, links and
/// names that are not UTF-8 hidden, as the store's listing hides them), skipping `given`.
fn local_page(dir: &mut LocalDir, given: &HashSet<String>) -> FsResult<Vec<DirEntry>> {
    let mut page = Vec::new();
    while page.len() < LIST_PAGE {
        let Some((name, kind)) = dir.next_entry().map_err(spool_error)? else {
            break;
        };
        let kind = match kind {
            EntryKind::Dir => Kind::Dir,
            EntryKind::File => Kind::File,
            EntryKind::Other => continue,
        };
        match name.into_string() {
            Ok(name) if !is_reserved(&name) && !given.contains(&name) => {
                page.push(DirEntry { name, kind })
            }
            _ => {}
        }
    }
    Ok(page)
}

/// One page of a store's delimiter listing of `path`, markers and other reserved names
/// hidden, and where the next page starts.
async fn store_page(
    volume: &Volume,
    path: &RelPath,
    token: Option<String>,
) -> FsResult<(Vec<DirEntry>, Option<String>)> {
    let prefix = path.dir_prefix();
    let page = volume.mount().list_dir_page(prefix.as_ref(), token).await;
    let page = page.map_err(|e| store_error(e, path))?;
    let dirs = page
        .listed
        .common_prefixes
        .iter()
        .map(key_name)
        .filter(|name| !is_reserved(name))
        .map(|name| DirEntry {
            name: name.to_owned(),
            kind: Kind::Dir,
        });
    let files: Vec<_> = page
        .listed
        .objects
        .iter()
        .filter(|meta| !is_reserved(key_name(&meta.location)))
        // A console's `dir/` placeholder is the directory itself, not a file in it.
        .filter(|meta| prefix.as_ref() != Some(&meta.location))
        .collect();
    // Listed: a lookup of any of them in this run needs no request.
    volume.listed_files(&files);
    let files = files.iter().map(|meta| DirEntry {
        name: key_name(&meta.location).to_owned(),
        kind: Kind::File,
    });
    Ok((dirs.chain(files).collect(), page.next))
}
