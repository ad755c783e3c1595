//! WASI 0.3 (p3) commands: the `p3-probe` guest (built with the `wasip3` crate for
//! wasm32-wasip2, exporting `wasi:cli/run@0.3`) run in the cli world, its limits, what
//! `host inspect` and `host worlds show` say of p3, and the cloud world's refusal of the p3
//! filesystem it does not serve yet.

use std::fs;
use std::path::PathBuf;

use crate::support::harness::{RunExt, TEST_GUESTS, Target, guest, host, run_host};

/// The p3 probe: a library crate (`cdylib`), so its file name has an underscore.
fn p3_probe() -> PathBuf {
    guest(TEST_GUESTS, "p3_probe", Target::P2)
}

/// `host run FLAGS... p3-probe.wasm ARGS...`.
fn run_p3(flags: &[&str], args: &[&str]) -> crate::support::harness::Ran {
    host()
        .arg("run")
        .args(flags)
        .arg(p3_probe())
        .args(args)
        .ran()
}

#[test]
fn a_p3_command_gets_its_arguments_and_only_the_environment_given() {
    let ran = run_p3(&[], &["args", "b c", "--dir"]);
    let lines: Vec<&str> = ran.success().lines().collect();
    assert_eq!(
        lines[0],
        p3_probe().to_str().unwrap(),
        "argv[0] is the wasm path"
    );
    assert_eq!(lines[1..], ["args", "b c", "--dir"]);

    let ran = host()
        .env("NOT_PASSED", "secret")
        .args(["run", "--env", "SET=a=b"])
        .arg(p3_probe())
        .args(["env", "SET", "NOT_PASSED"])
        .ran();
    assert_eq!(ran.success(), "SET=a=b\nNOT_PASSED unset\n");
}

#[test]
fn a_p3_command_writes_stdout_and_stderr_and_its_exit_code_comes_through() {
    let ran = run_p3(&[], &["stdout", "hello", "p3"]);
    assert_eq!(
        (ran.code, ran.stdout.as_str(), ran.stderr.as_str()),
        (0, "hello p3", "")
    );
    let ran = run_p3(&[], &["stderr", "to", "stderr"]);
    assert_eq!(
        (ran.code, ran.stdout.as_str(), ran.stderr.as_str()),
        (0, "", "to stderr")
    );
    // `exit-with-code` after a write: the write arrived, and the code is the guest's.
    for code in ["0", "7", "42"] {
        let ran = run_p3(&[], &["exit", code]);
        assert_eq!(ran.stdout, "exiting\n", "{ran:#?}");
        assert_eq!(ran.code.to_string(), code, "{ran:#?}");
    }
    // `run` returning an error is exit 1, as for a 0.2 command.
    assert_eq!(run_p3(&[], &["fail"]).code, 1);
}

#[test]
fn a_p3_command_reads_clocks_and_random() {
    assert_eq!(
        run_p3(&[], &["clocks"]).success(),
        "resolution>0 true\nwaited>=20ms true\nwall-after-2020 true\n"
    );
    assert_eq!(
        run_p3(&[], &["random"]).success(),
        "lengths 32 32\ndiffer true\n"
    );
}

#[test]
fn a_p3_command_writes_reads_and_lists_files_in_a_preopen() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("sub")).unwrap();
    fs::write(dir.path().join("sub/old.txt"), "from the host").unwrap();
    let mount = format!("{}::/data", dir.path().display());
    let ran = run_p3(
        &["--dir", &mount],
        &["write", "/data/sub/new.txt", "from p3"],
    );
    assert_eq!(ran.success(), "wrote 7 bytes to /data/sub/new.txt\n");
    assert_eq!(
        fs::read_to_string(dir.path().join("sub/new.txt")).unwrap(),
        "from p3"
    );
    let ran = run_p3(&["--dir", &mount], &["read", "/data/sub/old.txt"]);
    assert_eq!(ran.success(), "from the host");
    let ran = run_p3(&["--dir", &mount], &["list", "/data/sub"]);
    assert_eq!(ran.success(), "new.txt\nold.txt\n");
    // A read-only mount refuses the write: the guest reports the error code.
    let read_only = format!("{mount}:ro");
    let ran = run_p3(&["--dir", &read_only], &["write", "/data/x.txt", "no"]);
    assert_eq!(ran.code, 2, "{ran:#?}");
    assert!(ran.stderr.contains("open /data/x.txt"), "{ran:#?}");
    assert!(!dir.path().join("x.txt").exists());
}

/// As for 0.2 guests (`hostile.rs`): a link whose target leaves the directory it is made in
/// is refused with `not-permitted` (wasmtime-wasi's p3 `symlink-at` alone refuses only
/// absolute ones), and links that stay inside are made.
#[test]
fn a_p3_symlink_out_of_the_preopen_is_refused_and_one_inside_is_made() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("sub")).unwrap();
    fs::write(dir.path().join("inside.txt"), "in").unwrap();
    let mount = format!("{}::/data", dir.path().display());
    let ran = run_p3(&["--dir", &mount], &["symlink", "/data"]);
    let refused = "ErrorCode::NotPermitted";
    assert_eq!(
        ran.success(),
        format!(
            "up -> ..: {refused}\nup3 -> ../../..: {refused}\nabsolute -> /etc: {refused}\n\
             sub/esc -> ../..: {refused}\ninside -> inside.txt: ok\nsub/inside -> ../inside.txt: ok\n"
        )
    );
    let links = |dir: &std::path::Path| -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap())
            .filter(|entry| entry.file_type().unwrap().is_symlink())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        links(dir.path()),
        ["inside"],
        "only the links inside were made"
    );
    assert_eq!(links(&dir.path().join("sub")), ["inside"]);
    assert_eq!(
        fs::read_to_string(dir.path().join("sub/inside")).unwrap(),
        "in"
    );
}

#[test]
fn a_p3_command_is_held_to_the_stdout_limit_and_the_time_limit() {
    let ran = run_p3(&["--max-stdout", "1KiB"], &["spew", "4096"]);
    assert_eq!(ran.code, 208, "{ran:#?}");
    assert!(ran.stderr.contains("stdout limit of 1.0 KiB"), "{ran:#?}");
    assert!(
        ran.stdout.len() <= 1024,
        "{} bytes passed",
        ran.stdout.len()
    );
    // Within the limit, the same run succeeds.
    assert_eq!(
        run_p3(&["--max-stdout", "8KiB"], &["spew", "4096"])
            .success()
            .len(),
        4096
    );
    // A guest waiting on a p3 clock is stopped at the wall-clock limit (the cli world's
    // watchdog).
    let started = std::time::Instant::now();
    let ran = run_p3(&["--timeout", "1s"], &["sleep"]);
    assert_eq!(ran.code, 209, "{ran:#?}");
    assert!(ran.stderr.contains("time limit of 1s"), "{ran:#?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
fn inspect_lists_p3_imports_and_says_the_cloud_world_lacks_the_p3_filesystem() {
    let ran = run_host(["inspect".as_ref(), p3_probe().as_os_str()]);
    let report = ran.success();
    assert!(report.contains("wasi:cli/run@0.3"), "{report}");
    assert!(report.contains("wasi:filesystem/types@0.3"), "{report}");
    assert!(report.contains("  cli: can run"), "{report}");
    let cloud = report
        .lines()
        .find(|line| line.starts_with("  cloud:"))
        .unwrap();
    assert!(
        cloud.contains("cannot run: missing") && cloud.contains("wasi:filesystem/preopens@0.3"),
        "{report}"
    );
    assert!(
        !cloud.contains("wasi:cli/stdout"),
        "cloud serves p3 stdio: {report}"
    );
}

#[test]
fn the_cloud_world_refuses_a_p3_guest_that_imports_the_p3_filesystem_by_name() {
    let ran = run_p3(&["--world", "cloud"], &["args"]);
    ran.refused_with(&[
        "cannot run in the `cloud` world",
        "wasi:filesystem/types@0.3",
        "wasi:filesystem/preopens@0.3",
    ]);
}

#[test]
fn worlds_show_lists_p3_imports_and_says_whether_p3_guests_run() {
    let cli = run_host(["worlds", "show", "cli"]);
    let cli = cli.success();
    assert!(cli.contains("import wasi:cli/stdout@0.3.0;"), "{cli}");
    assert!(cli.contains("import wasi:filesystem/types@0.3.0;"), "{cli}");
    assert!(cli.contains("WASI 0.3 (p3) guests:"), "{cli}");
    let cloud = run_host(["worlds", "show", "cloud"]);
    let cloud = cloud.success();
    assert!(cloud.contains("import wasi:cli/stdout@0.3.0;"), "{cloud}");
    assert!(!cloud.contains("wasi:filesystem/types@0.3.0"), "{cloud}");
    assert!(cloud.contains("without `wasi:filesystem`"), "{cloud}");
}

#[test]
fn a_guest_needing_a_wasm_feature_the_host_lacks_is_refused_naming_the_feature() {
    let dir = tempfile::tempdir().unwrap();
    // A shared memory needs the threads proposal, which this host does not enable.
    let cases = [
        (
            "component.wasm",
            "(component (core module (memory 1 1 shared)))",
        ),
        (
            "module.wasm",
            "(module (memory 1 1 shared) (func (export \"_start\")))",
        ),
    ];
    for (name, text) in cases {
        let path = dir.path().join(name);
        fs::write(&path, wat::parse_str(text).unwrap()).unwrap();
        for command in ["run", "inspect"] {
            let ran = run_host([command.as_ref(), path.as_os_str()]);
            ran.refused_with(&["uses the WebAssembly feature threads", "does not enable"]);
            assert!(!ran.stderr.contains("corrupt"), "{ran:#?}");
        }
    }
}
