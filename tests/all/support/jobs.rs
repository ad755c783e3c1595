//! Job files and a folder to run them in, for `jobs.rs`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::harness::{Ran, RunExt, TEST_GUESTS, Target, file_url, guest, host};

/// A test guest for jobs, built for `target`.
pub fn job_guest(name: &str, target: Target) -> PathBuf {
    guest(TEST_GUESTS, name, target)
}

/// The SHA-256 digest of the file at `path`, in hex, as job files give it.
pub fn sha256(path: &Path) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(std::fs::read(path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A folder with a job file, an `in/` store holding two names and an `out/` store.
pub struct Workspace {
    dir: tempfile::TempDir,
    /// A private module and compiled-code cache.
    cache: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("in")).unwrap();
        std::fs::write(dir.path().join("in/names.txt"), "ada\ngrace\n").unwrap();
        Workspace {
            dir,
            cache: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// `[[input]]` at /in and `[[output]]` at /out, both local stores in the workspace.
    pub fn local_mounts(&self) -> String {
        format!(
            "[[input]]\nguest = \"/in\"\nstore = \"{}\"\n\n[[output]]\nguest = \"/out\"\nstore = \"{}\"\n",
            file_url(&self.path("in")),
            file_url(&self.path("out"))
        )
    }

    pub fn write_job(&self, text: &str) -> PathBuf {
        let path = self.path("job.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn command(&self) -> Command {
        let mut command = host();
        command.env("WORLDHOST_CACHE", self.cache.path());
        command
    }

    /// Runs the job with a report; returns what the host did and the report.
    pub fn run(&self, configure: impl FnOnce(&mut Command)) -> (Ran, Value) {
        let report = self.path("report.json");
        let _ = std::fs::remove_file(&report);
        let mut command = self.command();
        command
            .args(["run", "--job"])
            .arg(self.path("job.toml"))
            .arg("--report")
            .arg(&report);
        configure(&mut command);
        let ran = command.ran();
        let text = std::fs::read_to_string(&report)
            .unwrap_or_else(|e| panic!("no report ({e}): {ran:#?}"));
        (ran, serde_json::from_str(&text).unwrap())
    }

    /// Every file under `out/`, relative, sorted.
    pub fn outputs(&self) -> Vec<String> {
        let root = self.path("out");
        let mut files: Vec<String> = walk(&root)
            .into_iter()
            .map(|p| p.strip_prefix(&root).unwrap().display().to_string())
            .collect();
        files.sort();
        files
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// A job file: top-level keys `top`, the module `entry` with `module_keys`, `imports`, `rest`.
pub fn entry_job(
    top: &str,
    entry: &Path,
    module_keys: &str,
    imports: &[&Path],
    rest: &str,
) -> String {
    let mut job = format!(
        "{top}[module]\nsource = \"{}\"\n{module_keys}",
        entry.display()
    );
    for import in imports {
        job.push_str(&format!(
            "\n[[import]]\nsource = \"{}\"\n",
            import.display()
        ));
    }
    job.push('\n');
    job.push_str(rest);
    job
}
