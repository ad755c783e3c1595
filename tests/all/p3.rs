//! WASI 0.3 (p3) commands: the `p3-probe` guest (built with the `wasip3` crate for
//! wasm32-wasip2, exporting `wasi:cli/run@0.3`) run in the cli world, its limits, what
//! `host inspect` and `host worlds show` say of p3, and its files in the cloud world, served
//! from stores by the same filesystem as WASI 0.2 (limits and error codes included).

use std::fs;
use std::path::PathBuf;

use crate::cloud_world::conformance_args;
use crate::support::conformance::{
    assert_p3_conforms, cli_mounts, conformance_p3, conformance_p3_guest,
};
use crate::support::harness::{
    RunExt, TEST_GUESTS, Target, assert_stopped, file_url, guest, host, probe, probe_command,
    run_host,
};
use crate::support::per_backend;
use crate::support::stores::{Backend, StoreServer};

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
        p3_probe().file_name().unwrap().to_str().unwrap(),
        "argv[0] is the wasm file's name"
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

/// Only a guest that uses the component model's async ABI runs on an engine with wasmtime's
/// concurrency support, which every call between guest and host pays for (issue 13): the p3
/// probe does, the wasip2 and wasip1 probes do not, in either world.
#[test]
fn only_wasi_p3_commands_run_on_the_engine_with_the_async_abi() {
    let chosen = |wasm: PathBuf, world: &str| {
        let ran = host()
            .env("WORLDHOST_LOG", "worldhost::guest=debug")
            .args(["run", "--world", world])
            .arg(&wasm)
            .arg("args")
            .ran();
        ran.success();
        let line = ran
            .stderr
            .lines()
            .find(|line| line.contains("command engine chosen"))
            .unwrap_or_else(|| panic!("no engine choice logged: {ran:#?}"));
        line.contains("async_abi=On")
    };
    for world in ["cli", "cloud"] {
        assert!(chosen(p3_probe(), world), "p3 probe in {world}");
        assert!(!chosen(probe(Target::P2), world), "wasip2 probe in {world}");
        assert!(!chosen(probe(Target::P1), world), "wasip1 probe in {world}");
    }
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
fn inspect_lists_p3_imports_and_says_both_worlds_run_a_p3_filesystem_guest() {
    let ran = run_host(["inspect".as_ref(), p3_probe().as_os_str()]);
    let report = ran.success();
    assert!(report.contains("wasi:cli/run@0.3"), "{report}");
    assert!(report.contains("wasi:filesystem/types@0.3"), "{report}");
    assert!(report.contains("  cli: can run"), "{report}");
    assert!(report.contains("  cloud: can run"), "{report}");
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
    assert!(
        cloud.contains("import wasi:filesystem/types@0.3.0;"),
        "{cloud}"
    );
    assert!(
        cloud.contains("import wasi:filesystem/preopens@0.3.0;"),
        "{cloud}"
    );
    assert!(
        cloud.contains("`wasi:filesystem` served from its stores"),
        "{cloud}"
    );
}

/// `host run --world cloud --mount URL::data FLAGS... p3-probe.wasm ARGS...`, with `env` (a
/// store server's variables) set.
fn run_p3_in_cloud(
    url: &str,
    flags: &[&str],
    args: &[&str],
    env: &[(String, String)],
) -> crate::support::harness::Ran {
    let mount = format!("{url}::data");
    host()
        .envs(env.iter().map(|(key, value)| (key, value)))
        .args(["run", "--world", "cloud", "--mount", &mount])
        .args(flags)
        .arg(p3_probe())
        .args(args)
        .ran()
}

/// Every filesystem call the probe makes, through the p3 adapter, on the store at `url`:
/// what it leaves there is checked through `stored` (a key's content, or `None`).
fn p3_files_round_trip(
    url: &str,
    env: &[(String, String)],
    stored: impl Fn(&str) -> Option<String>,
) {
    let run = |args: &[&str]| run_p3_in_cloud(url, &[], args, env);
    assert_eq!(
        run(&["write", "data/a.txt", "from p3"]).success(),
        "wrote 7 bytes to data/a.txt\n"
    );
    assert_eq!(stored("a.txt").as_deref(), Some("from p3"));
    assert_eq!(run(&["read", "data/a.txt"]).success(), "from p3");
    assert_eq!(
        run(&["stat", "data/a.txt"]).success(),
        "data/a.txt: DescriptorType::RegularFile 7\n"
    );
    assert_eq!(run(&["mkdir", "data/sub"]).success(), "mkdir data/sub\n");
    assert_eq!(
        run(&["rename", "data/a.txt", "data/sub/b.txt"]).success(),
        "renamed data/a.txt to data/sub/b.txt\n"
    );
    assert_eq!(stored("a.txt"), None);
    assert_eq!(stored("sub/b.txt").as_deref(), Some("from p3"));
    assert_eq!(run(&["list", "data"]).success(), "sub\n");
    assert_eq!(run(&["list", "data/sub"]).success(), "b.txt\n");
    // What a p2 guest is told, a p3 guest is told: the same codes.
    let ran = run(&["read", "data/missing.txt"]);
    assert_eq!(ran.code, 2, "{ran:#?}");
    assert!(ran.stderr.contains("ErrorCode::NoEntry"), "{ran:#?}");
    let ran = run(&["rmdir", "data/sub"]);
    assert!(ran.stderr.contains("ErrorCode::NotEmpty"), "{ran:#?}");
    assert_eq!(
        run(&["remove", "data/sub/b.txt"]).success(),
        "remove data/sub/b.txt\n"
    );
    assert_eq!(stored("sub/b.txt"), None);
    assert_eq!(run(&["rmdir", "data/sub"]).success(), "rmdir data/sub\n");
    assert_eq!(run(&["list", "data"]).success(), "");
}

#[test]
fn a_p3_command_writes_reads_stats_lists_renames_and_removes_files_in_the_cloud_world() {
    let dir = tempfile::tempdir().unwrap();
    p3_files_round_trip(&file_url(dir.path()), &[], |key| {
        fs::read_to_string(dir.path().join(key)).ok()
    });
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

per_backend! {
    fn a_p3_command_round_trips_files_on(backend: Backend) {
        let server = StoreServer::start(backend);
        let objects = server.objects();
        p3_files_round_trip(&server.url("p3"), &server.env(), |key| {
            let key = format!("p3/{key}");
            objects.keys(None).contains(&key).then(|| objects.text(&key))
        });
    }
}

#[test]
fn a_read_only_cloud_mount_refuses_a_p3_write_with_not_permitted() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}::data:ro", file_url(dir.path()));
    let ran = host()
        .args(["run", "--world", "cloud", "--mount", &url])
        .arg(p3_probe())
        .args(["write", "data/x.txt", "no"])
        .ran();
    assert_eq!(ran.code, 2, "{ran:#?}");
    assert!(ran.stderr.contains("ErrorCode::NotPermitted"), "{ran:#?}");
    assert!(!dir.path().join("x.txt").exists());
    // Nor may it change a host file's time: tools that trust size and time would miss changes.
    let kept = dir.path().join("kept.txt");
    fs::write(&kept, "kept").unwrap();
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1 << 30);
    fs::File::options()
        .write(true)
        .open(&kept)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let ran = host()
        .args(["run", "--world", "cloud", "--mount", &url])
        .arg(p3_probe())
        .args(["touch", "data/kept.txt"])
        .ran();
    assert_eq!(ran.code, 2, "{ran:#?}");
    assert!(ran.stderr.contains("ErrorCode::NotPermitted"), "{ran:#?}");
    assert_eq!(fs::metadata(&kept).unwrap().modified().unwrap(), old);
    // On a writable mount the same call is made.
    let writable = format!("{}::data", file_url(dir.path()));
    let ran = host()
        .args(["run", "--world", "cloud", "--mount", &writable])
        .arg(p3_probe())
        .args(["touch", "data/kept.txt"])
        .ran();
    assert_eq!(ran.success(), "touched data/kept.txt\n");
    assert_ne!(fs::metadata(&kept).unwrap().modified().unwrap(), old);
}

/// The store-objects limit fails the creation past it with `quota` for a p3 guest, as for a
/// p2 guest (`limits.rs`), and the run goes on (the guest reports it and exits 2).
#[test]
fn a_p3_guest_past_the_object_limit_gets_quota_as_a_p2_guest_does() {
    let dir = tempfile::tempdir().unwrap();
    let url = file_url(dir.path());
    let limit = ["--max-store-objects", "3"];
    let ran = run_p3_in_cloud(&url, &limit, &["create", "data", "5"], &[]);
    assert_eq!(ran.code, 2, "{ran:#?}");
    assert!(
        ran.stderr
            .contains("created 3, then data/file-3: ErrorCode::Quota"),
        "{ran:#?}"
    );
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 3);
    // The p2 probe, under the same limit on a fresh store, is told the same code (std's
    // name for it).
    let fresh = tempfile::tempdir().unwrap();
    let mount = format!("{}::data", file_url(fresh.path()));
    let flags = [
        "--world",
        "cloud",
        "--mount",
        &mount,
        "--max-store-objects",
        "3",
    ];
    let ran = probe_command(&flags, &["hoard", "data", "5", "0"]).ran();
    assert!(ran.stderr.contains("Quota exceeded"), "{ran:#?}");
    // Within the default the same p3 guest runs.
    let ran = run_p3_in_cloud(
        &file_url(fresh.path()),
        &[],
        &["create", "data/more", "0"],
        &[],
    );
    assert_eq!(ran.success(), "created 0\n");
}

/// Bytes written past the store-writes limit through a p3 stream stop the run with the
/// limit's code, as a p2 guest's do, and nothing is stored.
#[test]
fn a_p3_write_past_the_store_write_limit_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let text = "x".repeat(2048);
    let limit = ["--max-store-writes", "1KiB"];
    let args = ["write", "data/big.txt", text.as_str()];
    let ran = run_p3_in_cloud(&file_url(dir.path()), &limit, &args, &[]);
    assert_stopped(
        &ran,
        205,
        "limit on bytes written to stores of 1.0 KiB (raise it with --max-store-writes)",
    );
    assert!(!dir.path().join("big.txt").exists());
}

/// A listing holds one page (1,000 entries) at a time: 2,500 entries list within a buffer
/// allowance that holds one page but not the whole directory, and one that cannot hold a
/// page gives `insufficient-memory`, as for a p2 guest.
#[test]
fn a_p3_listing_of_a_large_directory_holds_a_page_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..2500 {
        fs::write(dir.path().join(format!("file-{i:04}")), "").unwrap();
    }
    let url = file_url(dir.path());
    // A page of 1,000 names of 9 bytes costs about 41 KB; the directory about 100 KB.
    let ran = run_p3_in_cloud(
        &url,
        &["--max-buffer-memory", "64KiB"],
        &["count", "data"],
        &[],
    );
    assert_eq!(ran.success(), "2500 entries\n");
    let ran = run_p3_in_cloud(
        &url,
        &["--max-buffer-memory", "4KiB"],
        &["count", "data"],
        &[],
    );
    assert_eq!(ran.code, 2, "{ran:#?}");
    assert!(
        ran.stderr
            .contains("after 0, ErrorCode::InsufficientMemory"),
        "{ran:#?}"
    );
    assert!(ran.stderr.contains("--max-buffer-memory"), "{ran:#?}");
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

/// The p3 build of the conformance guest in the cli world (wasmtime-wasi's p3 filesystem on a
/// host directory) prints the wasip2 build's transcript there, apart from `P3_DIFFERENCES`.
#[test]
fn p3_conformance_in_the_cli_world_matches_the_wasip2_build() {
    // Every file call goes through 0.3: the build imports no 0.2 filesystem (std's would).
    let inspected = run_host(["inspect".as_ref(), conformance_p3_guest().as_os_str()]);
    let imports = inspected.success();
    assert!(imports.contains("wasi:filesystem/types@0.3"), "{imports}");
    assert!(!imports.contains("wasi:filesystem/types@0.2"), "{imports}");
    assert!(
        !imports.contains("wasi:filesystem/preopens@0.2"),
        "{imports}"
    );
    let (data, cwd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let ran = conformance_p3(&cli_mounts(data.path(), cwd.path()), |_| {});
    assert_p3_conforms("the cli world", &ran, false);
    assert_eq!(fs::read_dir(data.path()).unwrap().count(), 0);
}

#[test]
fn p3_conformance_on_the_memory_store() {
    let ran = conformance_p3(&conformance_args("memory:"), |_| {});
    assert_p3_conforms("memory:", &ran, true);
}

#[test]
fn p3_conformance_on_a_local_directory_store() {
    let store = tempfile::tempdir().unwrap();
    let ran = conformance_p3(&conformance_args(&file_url(store.path())), |_| {});
    assert_p3_conforms("file://", &ran, true);
    assert_eq!(
        fs::read_dir(store.path()).unwrap().count(),
        0,
        "the guest cleaned up after itself"
    );
}

per_backend! {
    fn p3_conformance_on(backend: Backend) {
        let server = StoreServer::start(backend);
        let args = conformance_args(&server.url("conformance"));
        let ran = conformance_p3(&args, |command| {
            server.set_env(command);
        });
        assert_p3_conforms(&format!("{}://", backend.scheme()), &ran, true);
    }
}
