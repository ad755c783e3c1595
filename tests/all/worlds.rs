//! Worlds chosen by configuration: built-in definitions, user world files that extend them,
//! strict parsing, `host worlds`, `host inspect`, and the import check before a run.

use std::fs;

use crate::support::harness::{
    Ran, RunExt, TEST_GUESTS, Target, guest, host, probe, repo_root, run_host, run_probe,
    world_file,
};

/// Runs the wasip2 probe in `world` with host `flags`, then the probe's `args`.
fn run_probe_in(world: &str, flags: &[&str], args: &[&str]) -> Ran {
    run_probe(&[&["--world", world], flags].concat(), args)
}

#[test]
fn host_worlds_lists_and_shows_the_built_in_worlds() {
    let listed = run_host(["worlds"]);
    let lines: Vec<&str> = listed.success().lines().collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("cli ") && lines[1].starts_with("cloud "),
        "{lines:?}"
    );

    let shown = run_host(["worlds", "show", "cloud"]);
    let text = shown.success();
    assert!(
        text.contains("base = \"cloud\"") && text.contains("store = \"default\""),
        "{text}"
    );
    assert!(
        text.contains("import wasi:filesystem/types@0.2.12;"),
        "{text}"
    );
    assert!(text.contains("export wasi:cli/run@0.2.12;"), "{text}");
    run_host(["worlds", "show", "mars"]).refused_with(&["no world called `mars`"]);
}

#[test]
fn the_example_world_files_are_valid() {
    for example in ["worlds/cli/example.toml", "worlds/cloud/example.toml"] {
        let path = repo_root().join(example);
        let shown = run_host(["worlds".as_ref(), "show".as_ref(), path.as_os_str()]);
        assert!(shown.success().contains("[limits]"), "{example}");
    }
}

#[test]
fn a_world_file_extends_a_built_in_world_and_flags_override_it() {
    let (_dir, path) = world_file(
        r#"
description = "cloud on a memory store with an environment and small memory"
base = "cloud"

[[mount]]
guest = "."
store = "memory:"

[env]
set = { MODE = "fast", LEVEL = "3" }
pass = ["FROM_HOST"]

[limits]
memory = "32MiB"
"#,
    );
    let ran = host()
        .env("FROM_HOST", "passed")
        .env("NOT_PASSED", "secret")
        .args(["run", "--world", &path, "--env", "LEVEL=4"])
        .arg(probe(Target::P2))
        .args(["env", "MODE", "LEVEL", "FROM_HOST", "NOT_PASSED"])
        .ran();
    assert_eq!(
        ran.success(),
        "MODE=fast\nLEVEL=4\nFROM_HOST=passed\nNOT_PASSED unset\n"
    );

    // The file's memory limit applies, and a flag overrides it.
    assert_eq!(run_probe_in(&path, &[], &["alloc", "64"]).code, 206);
    let ran = run_probe_in(&path, &["--max-memory", "256MiB"], &["alloc", "64"]);
    assert_eq!(ran.success(), "allocated 64 MiB\n");

    // The memory store at `.` replaced the default store: nothing written persists.
    assert_eq!(run_probe_in(&path, &[], &["write", "x.txt", "x"]).code, 0);
    assert_ne!(run_probe_in(&path, &[], &["read", "x.txt"]).code, 0);
}

#[test]
fn a_cli_world_file_mounts_host_directories_relative_to_itself() {
    let (dir, path) = world_file(
        "base = \"cli\"\n[[mount]]\nguest = \"data\"\nhost = \"data\"\nread-only = true\n",
    );
    fs::create_dir(dir.path().join("data")).unwrap();
    fs::write(dir.path().join("data/hello.txt"), "from the file's folder").unwrap();
    assert_eq!(
        run_probe_in(&path, &[], &["read", "data/hello.txt"]).success(),
        "from the file's folder"
    );
    assert_ne!(
        run_probe_in(&path, &[], &["write", "data/new.txt", "x"]).code,
        0,
        "read-only"
    );
}

#[test]
fn world_files_are_parsed_strictly() {
    for (text, expected) in [
        (
            "base = \"cloud\"\n[limits]\nmemroy = \"1GiB\"\n",
            vec![
                "line 3, column 1",
                "unknown field `memroy`",
                "`memory`",
                "`store-writes`",
            ],
        ),
        (
            "base = \"cloud\"\n[[mount]]\nguest = \"x\"\nstore = \"ftp://nope\"\n",
            vec!["line 4", "`ftp://nope` is not a store URL"],
        ),
        (
            "base = \"cli\"\n[limits]\ntimeout = 30\n",
            vec!["line 3", "invalid type"],
        ),
        (
            "base = \"venus\"\n",
            vec!["`base = \"venus\"` names no built-in world", "cli, cloud"],
        ),
        (
            "base = \"cli\"\n[[mount]]\nguest = \"x\"\nstore = \"memory:\"\n",
            vec!["names a store, which the `cli` world cannot mount"],
        ),
        ("[oops\n", vec!["line 1"]),
    ] {
        let (_dir, path) = world_file(text);
        let mut words = vec![path.as_str()];
        words.extend(expected);
        run_probe_in(&path, &[], &["args"]).refused_with(&words);
    }
    run_host(["run", "--world", "./missing.toml", "x.wasm"])
        .refused_with(&["cannot read world file `./missing.toml`"]);
}

#[test]
fn inspect_names_imports_exports_and_what_each_world_lacks() {
    let needs = guest(TEST_GUESTS, "needs-import", Target::P2);
    let report = run_host(["inspect".as_ref(), needs.as_os_str()]);
    let text = report.success();
    assert!(text.contains("a WebAssembly component"), "{text}");
    assert!(text.contains("\n  test:missing/clock\n"), "{text}");
    assert!(
        text.contains("cli: cannot run: missing test:missing/clock"),
        "{text}"
    );
    assert!(
        text.contains("cloud: cannot run: missing test:missing/clock"),
        "{text}"
    );

    let report = run_host(["inspect".as_ref(), probe(Target::P1).as_os_str()]);
    let text = report.success();
    assert!(text.contains("wasip1 core module"), "{text}");
    assert!(text.contains("wasi_snapshot_preview1::fd_write"), "{text}");
    assert!(
        text.contains("cli: can run") && text.contains("cloud: can run"),
        "{text}"
    );

    let no_run = guest(TEST_GUESTS, "no_run", Target::P2);
    let text = run_host(["inspect".as_ref(), no_run.as_os_str()])
        .success()
        .to_owned();
    assert!(
        text.contains("exports neither `wasi:cli/run` nor `worldhost:host/handler`"),
        "{text}"
    );
}

#[test]
fn run_refuses_a_component_whose_imports_the_world_lacks_in_plain_words() {
    let needs = guest(TEST_GUESTS, "needs-import", Target::P2);
    for world in ["cli", "cloud"] {
        let ran = run_host([
            "run".as_ref(),
            "--world".as_ref(),
            world.as_ref(),
            needs.as_os_str(),
        ]);
        ran.refused_with(&[
            &format!("cannot run in the `{world}` world"),
            "test:missing/clock",
            "host inspect",
        ]);
    }
}

#[test]
fn the_network_allow_list_lets_through_only_what_it_names() {
    let allowed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let denied = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (allowed_address, denied_address) = (
        allowed.local_addr().unwrap().to_string(),
        denied.local_addr().unwrap().to_string(),
    );
    let (_dir, path) = world_file(&format!(
        "base = \"cli\"\n[network]\nallow = [\"{allowed_address}\"]\n"
    ));
    assert_eq!(
        run_probe_in(&path, &[], &["connect", &allowed_address]).success(),
        "connected\n"
    );
    let ran = run_probe_in(&path, &[], &["connect", &denied_address]);
    assert_ne!(ran.code, 0, "{ran:#?}");
    denied.set_nonblocking(true).unwrap();
    assert!(
        denied.accept().is_err(),
        "the denied listener got a connection"
    );
}
