//! What every test needs: guests built once, and the `host` binary run on them.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The two WASI targets every guest is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    P1,
    P2,
}

impl Target {
    pub const BOTH: [Target; 2] = [Target::P1, Target::P2];

    pub fn triple(self) -> &'static str {
        match self {
            Target::P1 => "wasm32-wasip1",
            Target::P2 => "wasm32-wasip2",
        }
    }
}

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// Test guests, in `tests/guests`.
pub const TEST_GUESTS: &str = "tests/guests";
/// Example guests, in `examples`.
pub const EXAMPLES: &str = "examples";

/// Builds (once per test process) the guest workspace at `workspace` for `target`, in release,
/// and returns the path of its binary `name`.
pub fn guest(workspace: &str, name: &str, target: Target) -> PathBuf {
    static BUILT: Mutex<Vec<(String, Target)>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let key = (workspace.to_owned(), target);
    if !built.contains(&key) {
        // Cargo serialises builds that share the target directory, so concurrent test
        // processes wait for one another and all but the first find nothing to do.
        let status = Command::new(env!("CARGO"))
            .args(["build", "--release", "--quiet", "--target", target.triple()])
            .current_dir(repo_root().join(workspace))
            .status()
            .expect("cannot run cargo to build the guests");
        assert!(
            status.success(),
            "building {workspace} for {} failed",
            target.triple()
        );
        built.push(key);
    }
    let path = repo_root()
        .join("target/guests")
        .join(target.triple())
        .join("release")
        .join(format!("{name}.wasm"));
    assert!(path.exists(), "guest {} was not built", path.display());
    path
}

/// The cli-probe guest for `target`.
pub fn probe(target: Target) -> PathBuf {
    guest(TEST_GUESTS, "cli-probe", target)
}

/// `host run FLAGS... cli-probe.wasm ARGS...`, the wasip2 probe.
pub fn probe_command<F, A>(flags: &[F], args: &[A]) -> Command
where
    F: AsRef<OsStr>,
    A: AsRef<OsStr>,
{
    let mut command = host();
    command
        .arg("run")
        .args(flags)
        .arg(probe(Target::P2))
        .args(args);
    command
}

/// Runs the wasip2 probe with host `flags`, then the probe's `args`.
pub fn run_probe(flags: &[&str], args: &[&str]) -> Ran {
    probe_command(flags, args).ran()
}

/// `host call FLAGS... --input - PLUGIN`: the plugin's input comes from stdin.
pub fn call_command(flags: &[&str], plugin: &Path) -> Command {
    let mut command = host();
    command
        .arg("call")
        .args(flags)
        .args(["--input", "-"])
        .arg(plugin);
    command
}

/// The `file://` URL of a local directory, a store the cloud world can mount.
pub fn file_url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

/// Writes `text` as a world file in a fresh directory; returns the directory (the file lives
/// as long as it does) and the file's path.
pub fn world_file(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("world.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path.display().to_string())
}

/// A `host` command with a clean environment: tests say everything the guest may see.
pub fn host() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_host"));
    command
        .env_remove("WORLDHOST_LOG")
        .env_remove("RUST_BACKTRACE");
    command.stdin(Stdio::null());
    command
}

/// What a finished `host` process did.
#[derive(Debug)]
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Ran {
    fn from(output: Output) -> Ran {
        Ran {
            code: output.status.code().expect("host was killed by a signal"),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// `command.ran()` runs a command built up in a test to its end and returns what it did.
pub trait RunExt {
    fn ran(&mut self) -> Ran;
}

impl RunExt for Command {
    fn ran(&mut self) -> Ran {
        self.output()
            .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", self.get_program()))
            .into()
    }
}

/// Runs `host` with `args` and returns what it did.
pub fn run_host<I, S>(args: I) -> Ran
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    host().args(args).ran()
}

impl Ran {
    /// Asserts a clean exit 0 and returns stdout.
    #[track_caller]
    pub fn success(&self) -> &str {
        assert_eq!(self.code, 0, "host failed: {self:#?}");
        &self.stdout
    }

    /// Asserts the host refused with a one-paragraph message (exit 1, no panic) containing
    /// every one of `words`.
    #[track_caller]
    pub fn refused_with(&self, words: &[&str]) {
        assert_eq!(self.code, 1, "expected exit 1: {self:#?}");
        assert!(
            self.stderr.starts_with("error: "),
            "no error line: {self:#?}"
        );
        assert!(
            !self.stderr.contains("panicked"),
            "the host panicked: {self:#?}"
        );
        assert_eq!(
            self.stderr.trim_end().lines().count(),
            1,
            "not one paragraph: {self:#?}"
        );
        for word in words {
            assert!(
                self.stderr.contains(word),
                "stderr lacks {word:?}: {self:#?}"
            );
        }
    }
}

/// Runs `command` with `stdin` (or none), killing it after `timeout`.
pub fn run_bounded(
    mut command: Command,
    stdin: Option<&[u8]>,
    timeout: Duration,
    what: &str,
) -> Ran {
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    if let Some(input) = stdin {
        // Dropping the handle closes the pipe, so the reader sees end of input. A process that
        // exits without reading all of it (refusing its arguments) is judged by what it says.
        match child.stdin.take().unwrap().write_all(input) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            written => written.unwrap(),
        }
    }
    let mut pipe_out = child.stdout.take().unwrap();
    let mut pipe_err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        pipe_out.read_to_end(&mut bytes).map(|_| bytes)
    });
    let err = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        pipe_err.read_to_end(&mut bytes).map(|_| bytes)
    });
    let Some(status) = wait_bounded(&mut child, timeout) else {
        panic!("{what} took longer than {timeout:?} and was killed");
    };
    let stdout = out.join().unwrap().unwrap();
    let stderr = err.join().unwrap().unwrap();
    Ran {
        code: status
            .code()
            .unwrap_or_else(|| panic!("{what} was killed by a signal")),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Waits for `child` at most `timeout`; past that, kills it and returns `None`.
pub fn wait_bounded(
    child: &mut std::process::Child,
    timeout: std::time::Duration,
) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// How long a `host` run fed through stdin may take in a test.
pub const RUN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(180);

/// Runs `command` (a `host` command) with `input` as its stdin.
pub fn run_with_stdin(command: Command, input: &[u8]) -> Ran {
    run_bounded(command, Some(input), RUN_TIMEOUT, "host")
}

/// What one `host` process did, measured from outside.
pub struct Measured {
    pub ran: Ran,
    pub wall: Duration,
    /// The process's peak resident set (ru_maxrss), in KiB.
    pub peak_rss_kib: u64,
}

/// Runs `command` (a `host` command) to the end, at most `timeout` (then kills it and fails),
/// and reaps it with `wait4`, which is what gives the child's own peak RSS (not the caller's,
/// nor a test server's). A child killed by a signal has code -1.
// The child is reaped by `wait4` below (std's `wait` could not report its RSS).
#[allow(clippy::zombie_processes)]
pub fn run_measured(mut command: Command, timeout: Duration) -> Measured {
    let started = Instant::now();
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start host");
    // Read both pipes on threads so a chatty child never blocks on a full pipe.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let pid = child.id() as libc::pid_t;
    let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
    loop {
        // SAFETY: `pid` is our unreaped child; status and usage are valid for writes.
        let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        assert!(reaped >= 0, "wait4: {}", std::io::Error::last_os_error());
        if reaped == pid {
            break;
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let wall = started.elapsed();
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    Measured {
        ran: Ran {
            code,
            stdout: stdout.join().unwrap(),
            stderr: stderr.join().unwrap(),
        },
        wall,
        peak_rss_kib: usage.ru_maxrss as u64, // KiB on Linux
    }
}
