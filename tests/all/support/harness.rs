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

/// The SQLite guest's workspace: a workspace of its own, since bundled SQLite is C and needs
/// [`wasi_clang`], which the guests in [`TEST_GUESTS`] do not.
pub const SQLITE_GUESTS: &str = "tests/guests-sqlite";
/// C guests, one source file each, built for wasm32-wasip1 by [`c_guest`].
pub const C_GUESTS: &str = "tests/guests-c";

/// Builds (once per test process) the guest workspace at `workspace` for `target`, in release,
/// and returns the path of its binary `name`.
pub fn guest(workspace: &str, name: &str, target: Target) -> PathBuf {
    build_guest(workspace, name, target, &[])
}

/// The SQLite guest (`rusqlite` with bundled SQLite) for `target`, its C built by
/// [`wasi_clang`].
pub fn sqlite_guest(target: Target) -> PathBuf {
    let clang = wasi_clang();
    let triple = target.triple().replace('-', "_");
    let env = [
        (format!("CC_{triple}"), "clang".into()),
        (format!("CFLAGS_{triple}"), "--target=wasm32-wasi".into()),
        (format!("AR_{triple}"), clang.ar.display().to_string()),
    ];
    build_guest(SQLITE_GUESTS, "sqlite-guest", target, &env)
}

fn build_guest(workspace: &str, name: &str, target: Target, env: &[(String, String)]) -> PathBuf {
    static BUILT: Mutex<Vec<(String, Target)>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let key = (workspace.to_owned(), target);
    if !built.contains(&key) {
        // Cargo serialises builds that share the target directory, so concurrent test
        // processes wait for one another and all but the first find nothing to do.
        let status = Command::new(env!("CARGO"))
            .args(["build", "--release", "--quiet", "--target", target.triple()])
            .envs(env.iter().map(|(key, value)| (key, value)))
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

/// Builds (once per test process) `tests/guests-c/NAME.c` for wasm32-wasip1 with
/// [`wasi_clang`] into `target/guests/wasm32-wasip1/release/NAME.wasm`.
pub fn c_guest(name: &str) -> PathBuf {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let dir = repo_root().join("target/guests/wasm32-wasip1/release");
    let path = dir.join(format!("{name}.wasm"));
    if !built.iter().any(|done| done == name) {
        wasi_clang();
        std::fs::create_dir_all(&dir).unwrap();
        // Written beside the result and renamed into place, so a test process running at the
        // same time never runs a half-written module.
        let partial = tempfile::Builder::new()
            .suffix(".wasm")
            .tempfile_in(&dir)
            .unwrap()
            .into_temp_path();
        let ran: Ran = Command::new("clang")
            .args([
                "--target=wasm32-wasi",
                "-O2",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-o",
            ])
            .arg(&partial)
            .arg(repo_root().join(C_GUESTS).join(format!("{name}.c")))
            .output()
            .expect("cannot run clang")
            .into();
        assert_eq!(
            ran.code, 0,
            "building {C_GUESTS}/{name}.c failed: {}",
            ran.stderr
        );
        partial.persist(&path).unwrap();
        built.push(name.to_owned());
    }
    path
}

/// WAT test guests (what Rust cannot express), one `NAME.wat` file each.
pub const WAT_GUESTS: &str = "tests/guests/wat";

/// The text of `tests/guests/wat/NAME.wat`.
pub fn wat_source(name: &str) -> String {
    let path = repo_root().join(WAT_GUESTS).join(format!("{name}.wat"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// `tests/guests/wat/NAME.wat` compiled (once per test process) into
/// `target/guests/wat/NAME.wasm`.
pub fn wat_guest(name: &str) -> PathBuf {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let dir = repo_root().join("target/guests/wat");
    if !built.iter().any(|done| done == name) {
        std::fs::create_dir_all(&dir).unwrap();
        wat_command(&dir, name, &wat_source(name));
        built.push(name.to_owned());
    }
    dir.join(format!("{name}.wasm"))
}

/// `text` (a core module or a component, as WAT) compiled into `dir/NAME.wasm`. A core module
/// that imports nothing and exports `memory` and `_start` is a wasip1 command, which the host
/// runs through the preview1 adapter like any module.
pub fn wat_command(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(format!("{name}.wasm"));
    let wasm = wat::parse_str(text).unwrap_or_else(|e| panic!("{name}.wat: {e}"));
    // Written beside the result and renamed into place, so a test process running at the
    // same time never runs a half-written module.
    let mut partial = tempfile::Builder::new()
        .suffix(".wasm")
        .tempfile_in(dir)
        .unwrap();
    partial.write_all(&wasm).unwrap();
    partial.into_temp_path().persist(&path).unwrap();
    path
}

/// The C toolchain for WASI guests: `clang --target=wasm32-wasi` and an archiver for it.
pub struct WasiClang {
    pub ar: PathBuf,
}

/// Checks (once per test process) that `clang --target=wasm32-wasi` links a program, and finds
/// `llvm-ar`. Without them the C guests cannot be built: the panic says what to install.
pub fn wasi_clang() -> &'static WasiClang {
    static CLANG: std::sync::OnceLock<WasiClang> = std::sync::OnceLock::new();
    CLANG.get_or_init(|| {
        const INSTALL: &str = "tests/run installs them: apt-get install clang lld wasi-libc \
                               libclang-rt-dev-wasm32 (Debian)";
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("probe.c");
        std::fs::write(&source, "int main(void) { return 0; }\n").unwrap();
        let linked = Command::new("clang")
            .args(["--target=wasm32-wasi", "-o"])
            .arg(dir.path().join("probe.wasm"))
            .arg(&source)
            .output();
        match linked {
            Ok(output) if output.status.success() => {}
            Ok(output) => panic!(
                "clang --target=wasm32-wasi cannot link a program ({}); {INSTALL}",
                String::from_utf8_lossy(&output.stderr).trim()
            ),
            Err(e) => panic!("cannot run clang ({e}); {INSTALL}"),
        }
        let ar = ["llvm-ar", "llvm-ar-14"]
            .iter()
            .find_map(|name| on_path(name))
            .unwrap_or_else(|| panic!("no llvm-ar on PATH; {INSTALL}"));
        WasiClang { ar }
    })
}

/// The first `name` in a directory on `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
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
    /// Asserts that the host's trace (`WORLDHOST_LOG=trace`) shows a call of `function` and
    /// its successful return, as every binding traces them.
    #[track_caller]
    pub fn traced(&self, function: &str) {
        let span = format!("function=\"{function}\"");
        let lines: Vec<_> = self
            .stderr
            .lines()
            .filter(|line| line.contains(&span))
            .collect();
        assert!(
            lines.iter().any(|line| line.contains(" call"))
                && lines
                    .iter()
                    .any(|line| line.contains(" return result=Ok(Ok(")),
            "no call and return of {function} in the trace:\n{}",
            self.stderr
        );
    }

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

/// Asserts a run was stopped at a limit: exit `code`, the last stderr line ending with
/// `message` (the limit's one line), and no panic.
#[track_caller]
pub fn assert_stopped(ran: &Ran, code: i32, message: &str) {
    assert_eq!(ran.code, code, "{ran:#?}");
    let last = ran.stderr.lines().last().unwrap_or_default();
    assert!(
        last.ends_with(message),
        "last stderr line {last:?} lacks {message:?}"
    );
    assert!(
        !ran.stderr.contains("panicked") && !ran.stderr.contains("Stack backtrace"),
        "{ran:#?}"
    );
}

/// Runs `command` (a `host` command) with `input` as its stdin.
pub fn run_with_stdin(command: Command, input: &[u8]) -> Ran {
    run_bounded(command, Some(input), RUN_TIMEOUT, "host")
}

/// What one `host` process did, measured from outside.
pub struct Measured {
    pub ran: Ran,
    pub wall: Duration,
    /// The process's peak resident set, in KiB: the highest `VmHWM` read while it ran.
    pub peak_rss_kib: u64,
}

/// The peak resident set of the running process `pid` so far (`VmHWM`), in KiB.
fn high_water_kib(pid: libc::pid_t) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `command` (a `host` command) to the end, at most `timeout` (then kills it and fails),
/// and measures its own peak RSS from `/proc/PID/status` (`VmHWM`, read every few
/// milliseconds while it runs). Not `wait4`'s `ru_maxrss`: Linux carries the memory the
/// spawning process had (this test binary, with its other tests' data) into the child's
/// figure at `exec`, which made the figure the test binary's, not the host's. A child killed
/// by a signal has code -1.
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
    let mut peak = None;
    loop {
        // Before the reap: a reaped (or exited) process has no memory left to read. The
        // first reads may still see the test binary's image before `exec`: those are not
        // the host's, so only reads naming the host count.
        if std::fs::read_link(format!("/proc/{pid}/exe"))
            .is_ok_and(|exe| exe.file_name() == Some(std::ffi::OsStr::new("host")))
            && let Some(kib) = high_water_kib(pid)
        {
            peak = peak.max(Some(kib));
        }
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
        std::thread::sleep(Duration::from_millis(2));
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
        // A run too short to be read at all: `ru_maxrss` (KiB on Linux), an upper bound.
        peak_rss_kib: peak.unwrap_or(usage.ru_maxrss as u64),
    }
}
