//! The directory every check works under, and small helpers over paths in it.

use crate::fs;
use std::io::{self, Read};

/// ROOT as given on the command line (a preopened guest directory such as `data` or `.`).
/// Transcript lines never print it, so the transcript does not depend on where ROOT is.
pub struct Root(String);

impl Root {
    pub fn new(root: String) -> Self {
        Root(root.trim_end_matches('/').to_owned())
    }

    /// The guest path of `relative` under ROOT.
    pub fn path(&self, relative: &str) -> String {
        format!("{}/{relative}", self.0)
    }

    /// ROOT itself.
    pub fn dir(&self) -> &str {
        &self.0
    }

    /// Writes a whole file, creating or truncating it.
    pub fn write(&self, relative: &str, content: &[u8]) -> io::Result<()> {
        fs::write(self.path(relative), content)
    }

    /// The whole content of a file, shown as text or as the error.
    pub fn content(&self, relative: &str) -> String {
        content_of(&self.path(relative))
    }

    /// Whether something (a file, directory or link) exists at `relative`.
    pub fn exists(&self, relative: &str) -> String {
        match fs::symlink_metadata(self.path(relative)) {
            Ok(_) => "true".to_owned(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => "false".to_owned(),
            Err(e) => crate::report::error(&e),
        }
    }
}

/// The whole content of the file at `path`, read through a fresh handle.
pub fn content_of(path: &str) -> String {
    let mut bytes = Vec::new();
    let read = fs::File::open(path).and_then(|mut file| file.read_to_end(&mut bytes));
    crate::report::show(read, |_| crate::report::text(&bytes))
}
