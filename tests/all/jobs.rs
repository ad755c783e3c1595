//! Jobs (`host run --job`): modules and inputs from stores, import modules linked in, outputs
//! published only on success, run reports, digests, and every bad field refused.
//!
//! The guests: `job-entry` imports `worldhost-test:greet/greet` and greets every name in its
//! inputs (`--fail` makes it fail after writing); `job-greeter` and `job-shouter` export that
//! interface; `job-core` is a plain wasip1 command with a second entry point `alt`.

use crate::support::harness::{RunExt, Target, file_url};
use crate::support::jobs::{Workspace, entry_job, job_guest, sha256};
use crate::support::per_backend;
use crate::support::stores::{Backend, StoreServer};

const GREET: &str = "worldhost-test:greet/greet@0.1.0";

per_backend! {
    fn a_job_whose_module_and_inputs_come_from_a_store(backend: Backend) {
        let server = StoreServer::start(backend);
        let objects = server.objects();
        let entry = job_guest("job-entry", Target::P2);
        let greeter = job_guest("job_greeter", Target::P2);
        for (key, path) in [
            ("bin/job-entry.wasm", &entry),
            ("bin/greeter.wasm", &greeter),
        ] {
            objects.put(key, std::fs::read(path).unwrap());
        }
        let names = "ada\ngrace\nlin\n";
        objects.put("in/names.txt", names);
        // An object from an earlier run the job does not write stays as it is.
        objects.put("out/old.txt", "old");

        let work = Workspace::new();
        work.write_job(&format!(
            "description = \"greet everyone\"\n\n[module]\nsource = \"{}\"\nsha256 = \"{}\"\n\n\
             [[import]]\nsource = \"{}\"\n\n\
             [[input]]\nguest = \"/in\"\nstore = \"{}\"\n\n[[output]]\nguest = \"/out\"\nstore = \"{}\"\n",
            server.url("bin/job-entry.wasm"),
            sha256(&entry),
            server.url("bin/greeter.wasm"),
            server.url("in"),
            server.url("out"),
        ));
        let (ran, report) = work.run(|command| {
            server.set_env(command);
        });
        assert_eq!(ran.code, 0, "{ran:#?}");
        assert_eq!(ran.stdout, "hello, ada\nhello, grace\nhello, lin\n");
        assert_eq!(
            objects.text("out/greetings.txt"),
            "hello, ada\nhello, grace\nhello, lin\n"
        );
        assert_eq!(objects.text("out/sub/count.txt"), "3");
        assert_eq!(objects.text("out/old.txt"), "old");
        let listed = objects.keys(Some("out"));
        assert!(
            listed
                .iter()
                .all(|key| !key.contains(".worldhost-staging")),
            "staging left behind: {listed:?}"
        );

        assert_eq!(report["exit_code"], 0);
        assert_eq!(report["outcome"], "exited");
        assert_eq!(report["outputs"], "published");
        assert_eq!(report["module"]["sha256"], sha256(&entry));
        assert_eq!(report["module"]["fetched"], true);
        assert_eq!(report["imports"][0]["fetched"], true);
        assert_eq!(report["compiled"], true);
        let mounts = report["mounts"].as_array().unwrap();
        assert_eq!(mounts[0]["role"], "input");
        assert_eq!(mounts[0]["bytes_read"], names.len());
        assert_eq!(mounts[1]["role"], "output");
        assert_eq!(mounts[1]["objects_written"], 2);
        assert_eq!(
            mounts[1]["bytes_written"],
            "hello, ada\nhello, grace\nhello, lin\n".len() + 1
        );
        assert!(report["duration_seconds"].as_f64().unwrap() > 0.0);
        eprintln!(
            "first run (fetch, compose, compile): {}s",
            report["duration_seconds"]
        );

        // Again: the entry module (named by digest) is not even asked for, the import (no digest)
        // is checked by a HEAD, and nothing is compiled.
        let (ran, report) = work.run(|command| {
            server.set_env(command);
        });
        assert_eq!(ran.code, 0, "{ran:#?}");
        assert_eq!(report["module"]["fetched"], false);
        assert_eq!(report["imports"][0]["fetched"], false);
        assert_eq!(report["compiled"], false);
        eprintln!("second run (cached): {}s", report["duration_seconds"]);

        // A changed import module is fetched again.
        let shouter = std::fs::read(job_guest("job_shouter", Target::P2)).unwrap();
        objects.put("bin/greeter.wasm", shouter);
        let (ran, report) = work.run(|command| {
            server.set_env(command);
        });
        assert_eq!(ran.code, 0, "{ran:#?}");
        assert_eq!(report["imports"][0]["fetched"], true);
        assert!(ran.stdout.starts_with("HELLO, ADA!"), "{ran:#?}");
    }
}

#[test]
fn import_modules_satisfy_the_entry_modules_imports() {
    // Components, and wasip1 core modules (with wit-bindgen's metadata) converted on load.
    for target in Target::BOTH {
        let work = Workspace::new();
        let entry = job_guest("job-entry", target);
        let greeter = job_guest("job_greeter", target);
        work.write_job(&entry_job(
            "",
            &entry,
            "",
            &[&greeter],
            &work.local_mounts(),
        ));
        let (ran, report) = work.run(|_| {});
        assert_eq!(ran.code, 0, "{target:?}: {ran:#?}");
        assert_eq!(ran.stdout, "hello, ada\nhello, grace\n", "{target:?}");
        assert_eq!(
            std::fs::read_to_string(work.path("out/greetings.txt")).unwrap(),
            "hello, ada\nhello, grace\n"
        );
        assert_eq!(report["outputs"], "published");
    }
}

#[test]
fn the_entry_module_alone_cannot_run() {
    let work = Workspace::new();
    let entry = job_guest("job-entry", Target::P2);
    work.write_job(&entry_job("", &entry, "", &[], &work.local_mounts()));
    let (ran, report) = work.run(|_| {});
    ran.refused_with(&["cannot run in the `cloud` world", GREET]);
    assert_eq!(report["outcome"], "error");
    assert!(work.outputs().is_empty());
}

#[test]
fn compose_wiring_picks_the_instance_for_an_import() {
    let work = Workspace::new();
    let entry = job_guest("job-entry", Target::P2);
    let greeter = job_guest("job_greeter", Target::P2);
    let shouter = job_guest("job_shouter", Target::P2);
    let wiring =
        format!("[compose.instantiations.root.arguments]\n\"{GREET}\" = \"job-shouter\"\n");
    work.write_job(&entry_job(
        "",
        &entry,
        "",
        &[&greeter, &shouter],
        &format!("{}\n{wiring}", work.local_mounts()),
    ));
    let (ran, _) = work.run(|_| {});
    assert_eq!(ran.code, 0, "{ran:#?}");
    assert_eq!(ran.stdout, "HELLO, ADA!\nHELLO, GRACE!\n");

    // The same wiring in wasm-compose's own YAML, through `host compose`; the result runs
    // anywhere the world's imports are offered.
    let yaml = work.path("wiring.yml");
    std::fs::write(
        &yaml,
        format!("instantiations:\n  root:\n    arguments:\n      {GREET}: loud\n"),
    )
    .unwrap();
    let composed = work.path("composed.wasm");
    let ran = work
        .command()
        .arg("compose")
        .arg(&entry)
        .arg("--import")
        .arg(&greeter)
        .arg("--import")
        .arg(format!("loud={}", shouter.display()))
        .arg("--config")
        .arg(&yaml)
        .arg("-o")
        .arg(&composed)
        .ran();
    assert_eq!(ran.code, 0, "{ran:#?}");
    let ran = work
        .command()
        .args(["run", "--world", "cloud", "--mount"])
        .arg(format!("{}::/in:ro", file_url(&work.path("in"))))
        .arg("--mount")
        .arg(format!("{}::/out", file_url(&work.path("elsewhere"))))
        .arg(&composed)
        .ran();
    assert_eq!(ran.code, 0, "{ran:#?}");
    assert_eq!(ran.stdout, "HELLO, ADA!\nHELLO, GRACE!\n");
    assert!(work.path("elsewhere/greetings.txt").exists());
}

#[test]
fn a_failing_job_leaves_no_outputs() {
    let work = Workspace::new();
    let entry = job_guest("job-entry", Target::P2);
    let greeter = job_guest("job_greeter", Target::P2);
    std::fs::create_dir_all(work.path("out")).unwrap();
    std::fs::write(work.path("out/greetings.txt"), "from the last good run\n").unwrap();
    let job = entry_job(
        "args = [\"--fail\"]\n",
        &entry,
        "",
        &[&greeter],
        &work.local_mounts(),
    );
    work.write_job(&job);
    let (ran, report) = work.run(|_| {});
    assert_eq!(ran.code, 1, "{ran:#?}");
    assert!(ran.stderr.contains("failing on purpose"), "{ran:#?}");
    assert_eq!(report["outputs"], "discarded");
    assert_eq!(report["exit_code"], 1);
    // The guest wrote two files before failing; neither was published, the old one is intact.
    assert_eq!(work.outputs(), ["greetings.txt"]);
    assert_eq!(
        std::fs::read_to_string(work.path("out/greetings.txt")).unwrap(),
        "from the last good run\n"
    );
    let written = &report["mounts"][1];
    assert_eq!(written["objects_written"], 2, "{report:#}");

    // Asked to, the failed run's outputs are kept aside.
    work.write_job(&format!("on-failure = \"quarantine\"\n{job}"));
    let (ran, report) = work.run(|_| {});
    assert_eq!(ran.code, 1, "{ran:#?}");
    assert_eq!(report["outputs"], "quarantined");
    let run_id = report["run_id"].as_str().unwrap();
    let quarantined = format!(".worldhost-quarantine/{run_id}");
    assert_eq!(
        report["quarantine"][0],
        format!("{}/{quarantined}", file_url(&work.path("out")))
    );
    assert_eq!(
        std::fs::read_to_string(work.path("out").join(&quarantined).join("greetings.txt")).unwrap(),
        "hello, ada\nhello, grace\n"
    );
    assert_eq!(
        std::fs::read_to_string(work.path("out/greetings.txt")).unwrap(),
        "from the last good run\n"
    );

    // A run stopped at a limit publishes nothing either.
    work.write_job(&entry_job(
        "",
        &entry,
        "",
        &[&greeter],
        &format!("[limits]\nfuel = 1000\n\n{}", work.local_mounts()),
    ));
    let (ran, report) = work.run(|_| {});
    assert_eq!(ran.code, 207, "{ran:#?}");
    assert_eq!(report["outcome"], "limit");
    assert_eq!(report["limit_hit"]["limit"], "fuel");
    // Worded as `host run` words it.
    assert!(
        ran.stderr
            .contains("error: stopped: the guest hit its CPU limit of 1000 fuel units"),
        "{ran:#?}"
    );
    assert_eq!(report["outputs"], "discarded");
}

#[test]
fn a_digest_mismatch_is_refused() {
    let work = Workspace::new();
    let entry = job_guest("job-entry", Target::P2);
    let wrong = "0".repeat(64);
    work.write_job(&format!(
        "[module]\nsource = \"{}\"\nsha256 = \"{wrong}\"\n\n{}",
        entry.display(),
        work.local_mounts()
    ));
    let (ran, report) = work.run(|_| {});
    ran.refused_with(&["SHA-256", &sha256(&entry), &wrong, "refusing to run it"]);
    assert!(ran.stdout.is_empty());
    assert_eq!(report["outcome"], "error");
    assert!(work.outputs().is_empty());
}

#[test]
fn entry_points_other_than_run() {
    let work = Workspace::new();
    // A component's exported function.
    let entry = job_guest("job-entry", Target::P2);
    let greeter = job_guest("job_greeter", Target::P2);
    work.write_job(&entry_job(
        "",
        &entry,
        "entry = \"batch\"\n",
        &[&greeter],
        &work.local_mounts(),
    ));
    let (ran, _) = work.run(|_| {});
    assert_eq!(ran.code, 0, "{ran:#?}");
    assert!(ran.stdout.is_empty(), "main ran: {ran:#?}");
    assert_eq!(work.outputs(), ["batch.txt"]);
    assert_eq!(
        std::fs::read_to_string(work.path("out/batch.txt")).unwrap(),
        "hello, batch"
    );

    // A core module's exported function.
    let core = job_guest("job-core", Target::P1);
    work.write_job(&format!(
        "[module]\nsource = \"{}\"\nentry = \"alt\"\n\n{}",
        core.display(),
        work.local_mounts()
    ));
    let (ran, _) = work.run(|_| {});
    assert_eq!(ran.code, 0, "{ran:#?}");
    assert_eq!(ran.stdout, "alt entry\n");
    assert!(work.path("out/alt.txt").exists());

    // One that is not there is named, with what there is.
    work.write_job(&entry_job(
        "",
        &entry,
        "entry = \"nope\"\n",
        &[&greeter],
        &work.local_mounts(),
    ));
    let (ran, _) = work.run(|_| {});
    ran.refused_with(&["no entry point `nope`", "batch"]);
}

#[test]
fn every_bad_job_field_is_refused_clearly() {
    let work = Workspace::new();
    let entry = job_guest("job-entry", Target::P2);
    let module = format!("[module]\nsource = \"{}\"\n", entry.display());
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            "description = \"no module\"\n".into(),
            vec!["missing field `module`"],
        ),
        (
            format!("{module}colour = \"blue\"\n"),
            vec!["line 3", "unknown field `colour`", "`entry`"],
        ),
        (
            format!("wrold = \"cloud\"\n{module}"),
            vec!["line 1", "unknown field `wrold`", "`world`"],
        ),
        (
            format!("{module}sha256 = \"abc\"\n"),
            vec!["line 3", "not a SHA-256 digest"],
        ),
        (
            "[module]\nentry = \"x\"\n".into(),
            vec!["missing field `source`"],
        ),
        (
            format!("{module}[[input]]\nguest = \"/in\"\nstore = \"ftp://x\"\n"),
            vec!["line 5", "is not a store URL"],
        ),
        (
            format!("{module}[[output]]\nstore = \"memory:\"\n"),
            vec!["missing field `guest`"],
        ),
        (
            format!("{module}[limits]\nmemory = \"lots\"\n"),
            vec!["line 4", "is not a size"],
        ),
        (
            format!("on-failure = \"keep\"\n{module}"),
            vec!["line 1", "unknown variant `keep`", "`quarantine`"],
        ),
        (
            format!("world = \"cli\"\n{module}"),
            vec!["jobs run in the `cloud` world"],
        ),
        (
            format!("world = \"nowhere\"\n{module}"),
            vec!["there is no world called `nowhere`"],
        ),
        (
            format!("args = \"--fail\"\n{module}"),
            vec!["line 1", "invalid type"],
        ),
        (
            format!(
                "{module}[[input]]\nguest = \"/d\"\nstore = \"s3://b/in\"\n[[output]]\nguest = \"/d/\"\nstore = \"s3://b/out\"\n"
            ),
            vec!["two mounts at the guest path `/d/`"],
        ),
        (
            format!(
                "{module}[[import]]\nsource = \"a/g.wasm\"\n[[import]]\nsource = \"b/g.wasm\"\n"
            ),
            vec!["two import modules are called `g`"],
        ),
        (
            format!("{module}[[import]]\nsource = \"g.wasm\"\nname = \"My_Greeter\"\n"),
            vec!["line 5", "not a kebab-case name", "`my-greeter`"],
        ),
        (
            format!("{module}[compose]\nsearch-pahts = []\n"),
            vec!["line 4", "unknown field `search-pahts`"],
        ),
        (
            format!("{module}[compose.dependencies]\nx = \"x.wasm\"\n"),
            vec!["list every module as an `[[import]]`"],
        ),
        (
            format!("{module}[[output]]\nguest = \"/o\"\nstore = \"memory:\"\n"),
            vec!["`memory:`, which is empty at start"],
        ),
        (
            format!("{module}[[output]]\nguest = \"/o\"\nstore = \"https://example.com/x\"\n"),
            vec!["http(s) stores are read-only"],
        ),
        (
            format!(
                "{module}[[output]]\nguest = \"/a\"\nstore = \"s3://b/out\"\n[[output]]\nguest = \"/b\"\nstore = \"s3://b/out/sub\"\n"
            ),
            vec!["one is inside the other"],
        ),
        (
            format!("{module}[[input]]\nguest = \"/i\"\nstore = \"file:///no/such/dir\"\n"),
            vec!["`file:///no/such/dir`, which is not a directory"],
        ),
        (
            "[module]\nsource = \"missing.wasm\"\n".into(),
            vec!["cannot read the module", "missing.wasm"],
        ),
        (
            "[module]\nsource = \"s3://bucket-only\"\n".into(),
            vec!["names no object"],
        ),
        (
            format!("{module}[[import]]\nsource = \"nothing-here.wasm\"\n"),
            vec!["import module `nothing-here`", "cannot read the module"],
        ),
        ("[module\n".into(), vec!["line 1"]),
    ];
    for (text, words) in cases {
        work.write_job(&text);
        let ran = work
            .command()
            .args(["run", "--job"])
            .arg(work.path("job.toml"))
            .ran();
        let mut words = words;
        words.push("job.toml");
        if !text.contains("missing.wasm")
            && !text.contains("bucket-only")
            && !text.contains("nothing-here")
        {
            ran.refused_with(&words);
        } else {
            // Found when the job runs rather than when it is read; the file is still named.
            words.pop();
            ran.refused_with(&words);
        }
    }
    // A job file that does not exist, and flags that the job file replaces.
    let ran = work
        .command()
        .args(["run", "--job", "no-such-job.toml"])
        .ran();
    ran.refused_with(&["cannot read job file `no-such-job.toml`"]);
    let ran = work
        .command()
        .args(["run", "--job", "job.toml", "--mount", "memory:"])
        .ran();
    assert_eq!(ran.code, 2, "{ran:#?}");
    assert!(ran.stderr.contains("cannot be used with"), "{ran:#?}");
}

#[test]
fn outputs_keep_their_names_and_reserved_names_stay_hidden() {
    let work = Workspace::new();
    let probe = crate::support::harness::probe(Target::P2);
    let job = |args: &str| {
        format!(
            "args = {args}\n[module]\nsource = \"{}\"\n\n{}",
            probe.display(),
            work.local_mounts()
        )
    };
    // A name with characters object_store would percent-encode if a key were rebuilt from text.
    let name = "100% [a]#~.txt";
    work.write_job(&job(&format!("[\"write\", \"/out/{name}\", \"kept\"]")));
    let (ran, report) = work.run(|_| {});
    assert_eq!(ran.code, 0, "{ran:#?}");
    assert_eq!(report["outputs"], "published");
    assert_eq!(work.outputs(), [name]);

    // Quarantined and staged outputs in a store the next job reads are not shown to it, and
    // no guest can write there.
    std::fs::create_dir_all(work.path("in/.worldhost-quarantine/1")).unwrap();
    std::fs::write(work.path("in/.worldhost-quarantine/1/x.txt"), "failed").unwrap();
    work.write_job(&job("[\"ls\", \"/in\"]"));
    let (ran, _) = work.run(|_| {});
    assert_eq!(ran.stdout, "names.txt\n", "{ran:#?}");
    work.write_job(&job(
        "[\"write\", \"/out/.worldhost-staging/x\", \"sneaky\"]",
    ));
    let (ran, report) = work.run(|_| {});
    assert_ne!(ran.code, 0, "{ran:#?}");
    assert_eq!(report["outputs"], "discarded");
    assert_eq!(work.outputs(), [name]);
}
