//! `host run` in the `cli` world: what the guest sees, how runs end, and bad input refused.
//!
//! Every behaviour is checked on the wasip2 build and the wasip1 build of the same program;
//! the wasip1 module is converted to a component on load, so both take one path.

use std::fs;

use crate::support::harness::{Ran, RunExt, TEST_GUESTS, Target, guest, host, probe, run_host};

/// What the probe prints for its own argv[0], which differs between the two builds' paths.
pub(crate) fn without_argv0(stdout: &str) -> Vec<&str> {
    stdout.lines().skip(1).collect()
}

#[test]
fn guest_arguments_come_after_the_wasm_file() {
    for target in Target::BOTH {
        let wasm = probe(target);
        let ran = run_host([
            "run".as_ref(),
            wasm.as_os_str(),
            "args".as_ref(),
            "b c".as_ref(),
            "--dir".as_ref(),
            "--help".as_ref(),
        ]);
        let stdout = ran.success();
        assert_eq!(
            stdout.lines().next(),
            Some(wasm.file_name().unwrap().to_str().unwrap()),
            "argv[0] is the wasm file's name, without its directory (as under wasmtime run)"
        );
        assert_eq!(
            without_argv0(stdout),
            ["args", "b c", "--dir", "--help"],
            "{target:?}"
        );
    }
}

#[test]
fn environment_is_only_what_was_given() {
    for target in Target::BOTH {
        let wasm = probe(target);
        let ran = host()
            .env("FROM_HOST", "inherited")
            .env("NOT_PASSED", "secret")
            .args([
                "run",
                "--env",
                "SET=a=b",
                "--env",
                "FROM_HOST",
                "--env",
                "UNSET_ON_HOST",
            ])
            .arg(&wasm)
            .args([
                "env",
                "SET",
                "FROM_HOST",
                "UNSET_ON_HOST",
                "NOT_PASSED",
                "PATH",
            ])
            .ran();
        assert_eq!(
            ran.success().lines().collect::<Vec<_>>(),
            [
                "SET=a=b",
                "FROM_HOST=inherited",
                "UNSET_ON_HOST unset",
                "NOT_PASSED unset",
                "PATH unset"
            ],
            "{target:?}"
        );
    }
}

#[test]
fn stdout_stderr_and_stdin_are_the_processes_own() {
    for target in Target::BOTH {
        let wasm = probe(target);
        let out = run_host([
            "run".as_ref(),
            wasm.as_os_str(),
            "stdout".as_ref(),
            "to stdout".as_ref(),
        ]);
        assert_eq!((out.success(), out.stderr.as_str()), ("to stdout", ""));
        let err = run_host([
            "run".as_ref(),
            wasm.as_os_str(),
            "stderr".as_ref(),
            "to stderr".as_ref(),
        ]);
        assert_eq!((err.success(), err.stderr.as_str()), ("", "to stderr"));

        let mut child = host()
            .args(["run".as_ref(), wasm.as_os_str(), "cat".as_ref()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        let input: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        child.stdin.take().unwrap().write_all(&input).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success());
        assert_eq!(
            output.stdout, input,
            "{target:?}: stdin copied to stdout byte for byte"
        );
    }
}

/// A guest's exit code comes through as under `wasmtime run`. The wasip1 build's `proc_exit`
/// carries its code (0-125; 126 and up exit 1, as wasmtime's own p1 does). WASI 0.2.6, which
/// Rust 1.95's wasm32-wasip2 std imports, can only say success or failure
/// (`wasi:cli/exit.exit(result)`): every non-zero code arrives as 1. This test pins that down
/// so a toolchain that starts using `exit-with-code` (WASI 0.2.12) is noticed.
#[test]
fn exit_codes_as_wasmtime_run_gives_them() {
    for target in Target::BOTH {
        let wasm = probe(target);
        for asked in [0, 1, 3, 33, 125, 126, 255] {
            let expected = match (target, asked) {
                (_, 0) => 0,
                (Target::P1, code) if code < 126 => code,
                _ => 1,
            };
            let ran = run_host([
                "run".as_ref(),
                wasm.as_os_str(),
                "exit".as_ref(),
                asked.to_string().as_ref(),
            ]);
            assert_eq!(ran.code, expected, "{target:?} exit {asked}: {ran:#?}");
            if target == Target::P1 && asked >= 126 {
                // wasmtime's p1 fails the run, saying why, as `wasmtime run` does.
                assert!(
                    ran.stderr
                        .contains("exit with invalid exit status outside of [0..126)"),
                    "{ran:#?}"
                );
            } else {
                assert_eq!(ran.stderr, "", "a plain exit prints nothing of the host's");
            }
        }
    }
}

/// A hand-written wasip1 module calling `proc_exit(33)` exits 33 in both worlds, as under
/// `wasmtime run`; one that calls it with 200 exits 1 (wasmtime's p1 refuses codes past 125).
#[test]
fn proc_exit_codes_come_through_in_both_worlds() {
    let dir = tempfile::tempdir().unwrap();
    for (code, expected) in [(33, 33), (0, 0), (125, 125), (200, 1)] {
        let path = dir.path().join(format!("exit-{code}.wasm"));
        let text = format!(
            r#"(module
                 (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
                 (memory (export "memory") 1)
                 (func (export "_start") (call $exit (i32.const {code})) unreachable))"#
        );
        fs::write(&path, wat::parse_str(text).unwrap()).unwrap();
        for world in ["cli", "cloud"] {
            let ran = run_host([
                "run".as_ref(),
                "--world".as_ref(),
                world.as_ref(),
                path.as_os_str(),
            ]);
            assert_eq!(ran.code, expected, "{world} proc_exit({code}): {ran:#?}");
        }
    }
}

#[test]
fn a_trap_prints_the_wasm_backtrace_and_exits_134() {
    for target in Target::BOTH {
        let wasm = probe(target);
        for command in ["trap", "panic"] {
            let ran = run_host(["run".as_ref(), wasm.as_os_str(), command.as_ref()]);
            assert_eq!(ran.code, 134, "{target:?} {command}: {ran:#?}");
            assert!(
                ran.stderr
                    .contains("trapped: wasm trap: wasm `unreachable` instruction executed"),
                "{ran:#?}"
            );
            assert!(ran.stderr.contains("wasm backtrace:"), "{ran:#?}");
            assert!(
                ran.stderr.contains("cli_probe::main"),
                "names the guest's frames: {ran:#?}"
            );
            assert!(
                !ran.stderr.contains("Stack backtrace"),
                "no host backtrace: {ran:#?}"
            );
        }
        let panicked = run_host(["run".as_ref(), wasm.as_os_str(), "panic".as_ref()]);
        assert!(
            panicked.stderr.contains("the probe was asked to panic"),
            "the guest's own message"
        );
    }
}

#[test]
fn files_written_land_in_the_mounted_directory() {
    for target in Target::BOTH {
        let dir = tempfile::tempdir().unwrap();
        let wasm = probe(target);
        let mount = format!("{}::out", dir.path().display());
        let ran = run_host([
            "run",
            "--dir",
            &mount,
            wasm.to_str().unwrap(),
            "write",
            "out/note.txt",
            "hello",
        ]);
        assert_eq!(ran.success(), "wrote 5 bytes to out/note.txt\n");
        assert_eq!(
            fs::read_to_string(dir.path().join("note.txt")).unwrap(),
            "hello"
        );

        let ran = run_host([
            "run",
            "--dir",
            &mount,
            wasm.to_str().unwrap(),
            "read",
            "out/note.txt",
        ]);
        assert_eq!(ran.success(), "hello", "{target:?}");
        let ran = run_host(["run", "--dir", &mount, wasm.to_str().unwrap(), "ls", "out"]);
        assert_eq!(ran.success(), "note.txt\n", "{target:?}");
    }
}

#[test]
fn a_read_only_mount_refuses_writes() {
    for target in Target::BOTH {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("kept.txt"), "original").unwrap();
        let wasm = probe(target);
        let mount = format!("{}::in:ro", dir.path().display());
        let guest_args = |args: &[&str]| {
            let mut all = vec!["run", "--dir", &mount, wasm.to_str().unwrap()];
            all.extend_from_slice(args);
            run_host(all)
        };
        assert_eq!(guest_args(&["read", "in/kept.txt"]).success(), "original");
        for path in ["in/new.txt", "in/kept.txt"] {
            let ran = guest_args(&["write", path, "changed"]);
            assert_ne!(
                ran.code, 0,
                "{target:?}: a write to {path} succeeded: {ran:#?}"
            );
            assert!(
                ran.stderr.contains("cli-probe: "),
                "the guest saw an error: {ran:#?}"
            );
        }
        assert!(!dir.path().join("new.txt").exists(), "no file created");
        assert_eq!(
            fs::read_to_string(dir.path().join("kept.txt")).unwrap(),
            "original"
        );
    }
}

#[test]
fn directories_not_mounted_are_invisible() {
    for target in Target::BOTH {
        let ran = run_host([
            "run".as_ref(),
            probe(target).as_os_str(),
            "ls".as_ref(),
            "/".as_ref(),
        ]);
        assert_ne!(
            ran.code, 0,
            "{target:?}: listing / without a mount worked: {ran:#?}"
        );
        let ran = run_host([
            "run".as_ref(),
            probe(target).as_os_str(),
            "read".as_ref(),
            "/etc/hostname".as_ref(),
        ]);
        assert_ne!(
            ran.code, 0,
            "{target:?}: read a host file without a mount: {ran:#?}"
        );
    }
}

#[test]
fn network_access_is_denied() {
    // A real listener on loopback, so a refused connection is the host's doing, not a closed port.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    for target in Target::BOTH {
        let ran = run_host(["run", probe(target).to_str().unwrap(), "connect", &address]);
        assert_ne!(ran.code, 0, "{target:?} connected: {ran:#?}");
        assert!(!ran.stdout.contains("connected"));
    }
    listener.set_nonblocking(true).unwrap();
    assert!(
        listener.accept().is_err(),
        "no connection reached the listener"
    );
}

#[test]
fn wasip1_and_wasip2_builds_give_the_same_results() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("data.txt"), "some data\n").unwrap();
    let mount = format!("{}::d", dir.path().display());
    let runs: [&[&str]; 5] = [
        &["args", "x", "--y"],
        &["read", "d/data.txt"],
        &["ls", "d"],
        &["read", "d/missing.txt"],
        &["stderr", "err"],
    ];
    for args in runs {
        let [p1, p2] = Target::BOTH.map(|target| {
            let wasm = probe(target);
            let mut all = vec!["run", "--dir", &mount, wasm.to_str().unwrap()];
            all.extend_from_slice(args);
            let ran = run_host(all);
            // The probe's error exit (2) reaches the host from wasip1 only; wasip2's std
            // carries it as 1 (`exit_codes_as_wasmtime_run_gives_them`).
            (
                ran.code != 0,
                without_argv0(&ran.stdout).join("\n"),
                ran.stderr,
            )
        });
        assert_eq!(p1, p2, "wasip1 and wasip2 differ on {args:?}");
    }
}

mod bad_input {
    use super::*;

    fn run_file(path: &std::path::Path) -> Ran {
        run_host(["run".as_ref(), path.as_os_str()])
    }

    #[test]
    fn a_missing_file() {
        run_file("no/such/app.wasm".as_ref())
            .refused_with(&["cannot read `no/such/app.wasm`", "No such file"]);
    }

    #[test]
    fn a_file_that_is_not_wasm() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.wasm");
        fs::write(&path, "#!/bin/sh\necho hello\n").unwrap();
        run_file(&path).refused_with(&["is not a WebAssembly file", "magic"]);
        fs::write(&path, "").unwrap();
        run_file(&path).refused_with(&["is not a WebAssembly file"]);
    }

    #[test]
    fn truncated_and_corrupt_components_and_modules() {
        let dir = tempfile::tempdir().unwrap();
        for target in Target::BOTH {
            let bytes = fs::read(probe(target)).unwrap();
            let truncated = dir.path().join("truncated.wasm");
            fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
            run_file(&truncated).refused_with(&["truncated.wasm", "truncated or corrupt"]);

            // Overwrite a stretch in the middle (the code section) with 0xff bytes.
            let mut corrupt = bytes.clone();
            let middle = corrupt.len() / 2;
            corrupt[middle..middle + 64].fill(0xff);
            let path = dir.path().join("corrupt.wasm");
            fs::write(&path, &corrupt).unwrap();
            run_file(&path).refused_with(&["corrupt.wasm"]);

            // A header with an unknown version.
            let path = dir.path().join("version.wasm");
            fs::write(&path, b"\0asm\x63\0\0\0").unwrap();
            run_file(&path).refused_with(&["version.wasm"]);
        }
    }

    #[test]
    fn a_component_without_wasi_cli_run() {
        let wasm = guest(TEST_GUESTS, "no_run", Target::P2);
        run_file(&wasm).refused_with(&[
            "no_run.wasm",
            "cannot be run as a command",
            "must export `wasi:cli/run`",
        ]);
    }

    #[test]
    fn a_core_module_that_is_not_a_wasi_command() {
        let wasm = guest(TEST_GUESTS, "no_run", Target::P1);
        run_file(&wasm).refused_with(&[
            "no_run.wasm",
            "without a `_start` export",
            "not a WASI command",
        ]);
    }

    #[test]
    fn a_dir_whose_host_directory_does_not_exist() {
        let wasm = probe(Target::P2);
        let ran = run_host([
            "run",
            "--dir",
            "/no/such/dir::d",
            wasm.to_str().unwrap(),
            "ls",
            "d",
        ]);
        ran.refused_with(&["/no/such/dir", "cannot be opened"]);
        let file = tempfile::NamedTempFile::new().unwrap();
        let spec = format!("{}::d", file.path().display());
        run_host(["run", "--dir", &spec, wasm.to_str().unwrap()])
            .refused_with(&["not a directory"]);
    }

    #[test]
    fn an_unknown_world() {
        let wasm = probe(Target::P2);
        run_host(["run", "--world", "mars", wasm.to_str().unwrap()])
            .refused_with(&["no world called `mars`", "`cli`"]);
    }
}

#[test]
fn version_and_help() {
    let version = run_host(["--version"]);
    assert_eq!(
        version.success().trim(),
        format!("host {}", env!("CARGO_PKG_VERSION"))
    );
    let help = run_host(["run", "--help"]);
    for word in ["--dir", "--env", "--world", "Examples:", "134"] {
        assert!(
            help.success().contains(word),
            "`host run --help` lacks {word}"
        );
    }
}

/// A guest may link inside its directories, but not out of them: a link such as
/// `esc -> ../../..` would lead whoever follows it later (another program, or a cloud-world
/// run over the same directory as a `file://` store) out of what the guest was given.
#[test]
fn symlinks_out_of_a_preopened_directory_are_refused() {
    for target in Target::BOTH {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("target.txt"), "inside").unwrap();
        let wasm = probe(target);
        let mount = format!("{}::.", dir.path().display());
        let link = |target_path: &str, link_path: &str| {
            run_host([
                "run",
                "--dir",
                &mount,
                wasm.to_str().unwrap(),
                "symlink",
                target_path,
                link_path,
            ])
        };
        for (target_path, link_path) in [("../../..", "esc"), ("..", "esc"), ("../../x", "sub/esc")]
        {
            let ran = link(target_path, link_path);
            if target == Target::P1 {
                // wasmtime's own p1 (README, "wasip1 modules") makes the link, as under
                // `wasmtime run`; following it out of the directory is refused.
                ran.success();
                fs::remove_file(dir.path().join(link_path)).unwrap();
                continue;
            }
            // The probe exits 2 on an error, which WASI 0.2.6 carries as 1.
            assert_eq!(
                ran.code, 1,
                "{target:?} {link_path} -> {target_path}: {ran:#?}"
            );
            assert!(
                ran.stderr.contains("not permitted"),
                "{target:?} {link_path} -> {target_path}: {ran:#?}"
            );
            assert!(
                fs::symlink_metadata(dir.path().join(link_path)).is_err(),
                "{target:?}: the link {link_path} was created"
            );
        }
        // Links that stay inside work as on a real directory.
        for (target_path, link_path) in [("target.txt", "ok"), ("../target.txt", "sub/ok")] {
            link(target_path, link_path).success();
            assert_eq!(
                fs::read_link(dir.path().join(link_path)).unwrap(),
                std::path::Path::new(target_path),
                "{target:?}"
            );
            assert_eq!(
                fs::read_to_string(dir.path().join(link_path)).unwrap(),
                "inside"
            );
            fs::remove_file(dir.path().join(link_path)).unwrap();
        }
    }
}

/// `WORLDHOST_LOG=trace` shows the filesystem calls this world defines over wasmtime-wasi's
/// (its in-place streams and listings), as wasmtime-wasi's bindings trace their own.
#[test]
fn trace_logging_shows_the_calls_this_world_defines() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("note.txt"), "hello").unwrap();
    let mount = format!("{}::out", dir.path().display());
    let wasm = probe(Target::P2);
    let traced = |args: &[&str]| {
        let mut command = host();
        command.env("WORLDHOST_LOG", "trace");
        command.args(["run", "--dir", &mount]).arg(&wasm).args(args);
        command.ran()
    };
    let ran = traced(&["read", "out/note.txt"]);
    assert_eq!(ran.success(), "hello");
    ran.traced("[method]descriptor.read-via-stream");
    let ran = traced(&["ls", "out"]);
    assert_eq!(ran.success(), "note.txt\n");
    ran.traced("[method]descriptor.read-directory");
    ran.traced("[method]directory-entry-stream.read-directory-entry");
}
