//! Sharded jobs (`host run --job J --shard I/N`, `host job plan`, `host job finish`) on a local
//! store and on S3 (moto): 100 inputs in 8 shards publish every output exactly once, a re-run
//! shard changes nothing, and `finish` refuses, naming them, missing and failed shards.
//!
//! The guest is `job-entry` with `job-greeter`: it greets every name in the files it sees under
//! `/in` and writes `/out/greetings.txt`, so a shard's greetings show exactly which inputs it
//! was given. A file that is not UTF-8 makes it panic: the shard holding one fails.

use std::collections::BTreeMap;
use std::process::Command;

use crate::support::harness::{Ran, RunExt, Target, file_url};
use crate::support::jobs::{Workspace, entry_job, job_guest};
use crate::support::stores::{Backend, Objects, StoreServer};

const SHARDS: u32 = 8;

/// A sharded job's input (`in`) and output (`out`) stores: local folders, or prefixes of a
/// bucket on moto.
struct Sharded {
    work: Workspace,
    s3: Option<(StoreServer, Objects)>,
}

impl Sharded {
    fn local() -> Sharded {
        let work = Workspace::new();
        // The workspace's own `in/` holds a names file; this job reads `data/`.
        std::fs::create_dir_all(work.path("data")).unwrap();
        Sharded { work, s3: None }
    }

    fn s3() -> Sharded {
        let server = StoreServer::start(Backend::S3);
        let objects = server.objects();
        Sharded {
            work: Workspace::new(),
            s3: Some((server, objects)),
        }
    }

    fn put_input(&self, key: &str, bytes: &[u8]) {
        match &self.s3 {
            Some((_, objects)) => objects.put(&format!("in/{key}"), bytes),
            None => std::fs::write(self.work.path("data").join(key), bytes).unwrap(),
        }
    }

    fn url(&self, prefix: &str) -> String {
        match &self.s3 {
            Some((server, _)) => server.url(prefix),
            None => file_url(&self.work.path(if prefix == "in" { "data" } else { prefix })),
        }
    }

    /// The job over `in` and `out`, with `shard` (a `[shard]` section, or nothing).
    fn write_job(&self, shard: &str) {
        let mounts = format!(
            "[[input]]\nguest = \"/in\"\nstore = \"{}\"\n\n[[output]]\nguest = \"/out\"\nstore = \"{}\"\n\n{shard}",
            self.url("in"),
            self.url("out")
        );
        let entry = job_guest("job-entry", Target::P2);
        let greeter = job_guest("job_greeter", Target::P2);
        self.work
            .write_job(&entry_job("", &entry, "", &[&greeter], &mounts));
    }

    fn command(&self) -> Command {
        let mut command = self.work.command();
        if let Some((server, _)) = &self.s3 {
            server.set_env(&mut command);
        }
        command
    }

    fn host(&self, args: &[&str]) -> Ran {
        let mut command = self.command();
        for arg in args {
            if *arg == "JOB" {
                command.arg(self.work.path("job.toml"));
            } else {
                command.arg(arg);
            }
        }
        command.ran()
    }

    fn run_shard(&self, index: u32) -> Ran {
        self.host(&[
            "run",
            "--job",
            "JOB",
            "--shard",
            &format!("{index}/{SHARDS}"),
        ])
    }

    /// Shard → its keys, from `host job plan`.
    fn plan(&self) -> BTreeMap<u32, Vec<String>> {
        let ran = self.host(&["job", "plan", "JOB", "--shards", &SHARDS.to_string()]);
        let mut plan: BTreeMap<u32, Vec<String>> = BTreeMap::new();
        for line in ran.success().lines() {
            let (shard, key) = line.split_once('\t').expect("SHARD<TAB>KEY");
            plan.entry(shard.parse().unwrap())
                .or_default()
                .push(key.to_owned());
        }
        plan
    }

    fn finish(&self) -> Ran {
        self.host(&["job", "finish", "JOB", "--shards", &SHARDS.to_string()])
    }

    /// Every object under `out`, by key relative to it, host staging areas included.
    fn outputs(&self) -> BTreeMap<String, Vec<u8>> {
        match &self.s3 {
            Some((_, objects)) => objects
                .keys(Some("out"))
                .into_iter()
                .map(|key| (key["out/".len()..].to_owned(), objects.get(&key)))
                .collect(),
            None => self
                .work
                .outputs()
                .into_iter()
                .map(|key| {
                    let bytes = std::fs::read(self.work.path("out").join(&key)).unwrap();
                    (key, bytes)
                })
                .collect(),
        }
    }
}

fn name(index: usize) -> String {
    format!("name{index:03}")
}

/// Each shard greeted exactly its planned inputs (`nNNN.txt` holding `nameNNN`): every name
/// once, none twice.
fn each_input_greeted_once(outputs: &BTreeMap<String, Vec<u8>>, plan: &BTreeMap<u32, Vec<String>>) {
    let mut greeted = Vec::new();
    for (index, keys) in plan {
        let key = format!("shard-{index}-of-{SHARDS}/greetings.txt");
        let text = String::from_utf8(outputs[&key].clone()).unwrap();
        let expected: Vec<String> = keys
            .iter()
            .map(|key| format!("hello, name{}", &key[1..4]))
            .collect();
        assert_eq!(text.lines().collect::<Vec<_>>(), expected, "shard {index}");
        greeted.extend(text.lines().map(str::to_owned));
    }
    greeted.sort();
    let everyone: Vec<String> = (0..100).map(|i| format!("hello, {}", name(i))).collect();
    assert_eq!(greeted, everyone);
}

/// The scenario every store runs.
fn hundred_inputs_in_eight_shards(store: Sharded) {
    for index in 0..100 {
        store.put_input(
            &format!("n{index:03}.txt"),
            format!("{}\n", name(index)).as_bytes(),
        );
    }
    store.write_job("[shard]\nby = \"hash\"\n");

    // The plan gives every input to exactly one shard, and every shard some.
    let plan = store.plan();
    let mut planned: Vec<&String> = plan.values().flatten().collect();
    planned.sort();
    let expected: Vec<String> = (0..100).map(|i| format!("n{i:03}.txt")).collect();
    assert_eq!(planned, expected.iter().collect::<Vec<_>>());
    assert_eq!(plan.len(), SHARDS as usize, "an empty shard: {plan:?}");

    // Every shard but 5; then `finish` names it and writes no `_SUCCESS`.
    for index in (0..SHARDS).filter(|i| *i != 5) {
        let ran = store.run_shard(index);
        assert_eq!(ran.code, 0, "shard {index}: {ran:#?}");
    }
    let ran = store.finish();
    ran.refused_with(&["no report from shard 5", "1 of 8 shards"]);
    assert!(!store.outputs().contains_key("_SUCCESS"));

    // Shard 5 from the environment, as a Kubernetes Indexed Job gives it.
    let ran = store
        .command()
        .env("SHARD_INDEX", "5")
        .args(["run", "--job"])
        .arg(store.work.path("job.toml"))
        .args(["--shard-from-env", "SHARD_INDEX", "--shards", "8"])
        .ran();
    assert_eq!(ran.code, 0, "{ran:#?}");
    let ran = store.finish();
    assert_eq!(ran.code, 0, "{ran:#?}");
    assert!(ran.stderr.contains("all 8 shards succeeded"), "{ran:#?}");

    let outputs = store.outputs();
    each_input_greeted_once(&outputs, &plan);
    let mut keys: Vec<&str> = outputs.keys().map(String::as_str).collect();
    keys.retain(|key| !key.starts_with("shard-"));
    let reports: Vec<String> = (0..SHARDS).map(|i| format!("_reports/{i}.json")).collect();
    let mut expected_keys: Vec<&str> = reports.iter().map(String::as_str).collect();
    expected_keys.extend(["_SUCCESS", "_reports/merged.json"]);
    expected_keys.sort();
    assert_eq!(keys, expected_keys);
    assert!(
        outputs
            .keys()
            .all(|key| !key.contains(".worldhost-staging")),
        "{:?}",
        outputs.keys()
    );
    let merged: serde_json::Value =
        serde_json::from_slice(&outputs["_reports/merged.json"]).unwrap();
    assert_eq!(merged["inputs"], 100);
    // Per shard: greetings.txt, sub/count.txt and the marker keeping `sub/` a directory.
    assert_eq!(merged["objects_published"], 24);
    assert_eq!(merged["per_shard"].as_array().unwrap().len(), 8);
    let report: serde_json::Value = serde_json::from_slice(&outputs["_reports/3.json"]).unwrap();
    assert_eq!(report["shard"]["inputs"], plan[&3].len());
    assert_eq!(report["outputs"], "published");

    // A shard run again republishes the same keys with the same bytes: nothing new, nothing
    // twice. Its run takes `_SUCCESS` away until `finish` checks again.
    let ran = store.run_shard(3);
    assert_eq!(ran.code, 0, "{ran:#?}");
    let mut again = store.outputs();
    assert!(!again.contains_key("_SUCCESS"));
    let mut before = outputs.clone();
    for changed in ["_SUCCESS", "_reports/3.json"] {
        before.remove(changed);
        again.remove(changed);
    }
    assert_eq!(again, before);
    store.finish().success();

    // An input the guest cannot read fails the shard it goes to; `finish` names that shard
    // and its error, and writes no `_SUCCESS`.
    store.put_input("zz-bad.txt", &[0xff, 0xfe, 0x00]);
    let plan = store.plan();
    let (&bad, _) = plan
        .iter()
        .find(|(_, keys)| keys.contains(&"zz-bad.txt".to_owned()))
        .unwrap();
    let ran = store.run_shard(bad);
    assert_eq!(ran.code, 134, "{ran:#?}");
    let ran = store.finish();
    ran.refused_with(&[&format!("failed: shard {bad} (exit code 134"), "trapped"]);
    assert!(!store.outputs().contains_key("_SUCCESS"));
}

#[test]
fn sharded_job_on_a_local_store() {
    hundred_inputs_in_eight_shards(Sharded::local());
}

#[test]
fn sharded_job_on_s3() {
    hundred_inputs_in_eight_shards(Sharded::s3());
}

/// A shard's guest cannot speak for other shards: in a merged output, `_SUCCESS` and
/// `_reports/...` are `finish`'s, so a shard that writes one publishes nothing and fails,
/// naming it. In per-shard outputs the same names are the shard's own files.
#[test]
fn a_shard_writing_finish_names_to_a_merged_output_publishes_nothing() {
    let store = Sharded::local();
    store.put_input("a.txt", b"ada\n");
    // A file through the filesystem, and an object with a parent through the blobstore.
    let probe = job_guest("p3_probe", Target::P2);
    let copier = job_guest("blobstore-copier", Target::P2);
    let cases = [
        (
            "merged",
            &probe,
            r#""write", "/out/_SUCCESS", "forged""#,
            "_SUCCESS",
        ),
        (
            "merged",
            &copier,
            r#""put:/out:_reports/1.json:forged""#,
            "_reports/1.json",
        ),
        (
            "per-shard",
            &probe,
            r#""write", "/out/_SUCCESS", "forged""#,
            "_SUCCESS",
        ),
    ];
    for (layout, guest, args, forged) in cases {
        let job = format!(
            "args = [{args}]\n[module]\nsource = \"{}\"\n\n\
             [[input]]\nguest = \"/in\"\nstore = \"{}\"\n\n[[output]]\nguest = \"/out\"\n\
             store = \"{}\"\n\n[shard]\nby = \"hash\"\noutputs = \"{layout}\"\n",
            guest.display(),
            store.url("in"),
            store.url("out")
        );
        store.work.write_job(&job);
        let ran = store.host(&["run", "--job", "JOB", "--shard", "0/2"]);
        let outputs = store.outputs();
        if layout == "per-shard" {
            assert_eq!(ran.code, 0, "{ran:#?}");
            assert_eq!(outputs[&format!("shard-0-of-2/{forged}")], b"forged");
            continue;
        }
        assert_eq!(ran.code, 1, "{layout} {forged}: {ran:#?}");
        assert!(
            ran.stderr.contains(&format!("the guest wrote `{forged}`")),
            "{ran:#?}"
        );
        assert!(!outputs.contains_key(forged), "{forged} was published");
        let report: serde_json::Value =
            serde_json::from_slice(&outputs["_reports/0.json"]).unwrap();
        assert_eq!(report["exit_code"], 1, "{report:#}");
    }
}

#[test]
fn bad_shard_requests_are_refused_in_one_line() {
    let store = Sharded::local();
    store.put_input("a.txt", b"ada\n");
    store.write_job("");
    for (shard, says) in [
        ("3/2", "no shard 3 of 2: shards are numbered 0 to 1"),
        ("0/0", "at least 1 shard, not 0"),
        ("two/4", "not a whole number"),
    ] {
        store
            .host(&["run", "--job", "JOB", "--shard", shard])
            .refused_with(&[says]);
    }
    store
        .command()
        .env("INDEX", "8")
        .args(["run", "--job"])
        .arg(store.work.path("job.toml"))
        .args(["--shard-from-env", "INDEX", "--shards", "8"])
        .ran()
        .refused_with(&["--shard-from-env INDEX", "no shard 8 of 8"]);
    store
        .host(&[
            "run",
            "--job",
            "JOB",
            "--shard-from-env",
            "UNSET_SHARD_VAR",
            "--shards",
            "2",
        ])
        .refused_with(&["`UNSET_SHARD_VAR` is not set"]);
    store
        .host(&["job", "plan", "JOB", "--shards", "0"])
        .refused_with(&["at least 1 shard"]);

    // A split that matches nothing refuses to plan or run, and says why.
    store.write_job("[shard]\nby = \"glob\"\npattern = \"**/*.csv\"\n");
    store
        .host(&["job", "plan", "JOB", "--shards", "2"])
        .refused_with(&["matches none of the 1 objects", "**/*.csv"]);
    let ran = store.host(&["run", "--job", "JOB", "--shard", "0/2"]);
    ran.refused_with(&["matches none of the 1 objects"]);

    // Mistakes in `[shard]` show when the job is loaded.
    for (section, says) in [
        ("[shard]\nby = \"regex\"\n", "needs a `pattern`"),
        (
            "[shard]\nby = \"regex\"\npattern = \"(\"\n",
            "not a valid pattern",
        ),
        ("[shard]\npattern = \"*\"\n", "`[shard] pattern` is for"),
        ("[shard]\ninput = \"/nope\"\n", "names no `[[input]]`"),
        ("[shard]\nby = \"date\"\n", "unknown variant `date`"),
    ] {
        store.write_job(section);
        store
            .host(&["job", "plan", "JOB", "--shards", "2"])
            .refused_with(&[says]);
    }

    // A job with no input has nothing to split.
    let entry = job_guest("job-entry", Target::P2);
    let greeter = job_guest("job_greeter", Target::P2);
    let out = format!(
        "[[output]]\nguest = \"/out\"\nstore = \"{}\"\n",
        store.url("out")
    );
    store
        .work
        .write_job(&entry_job("", &entry, "", &[&greeter], &out));
    store
        .host(&["run", "--job", "JOB", "--shard", "0/2"])
        .refused_with(&["no `[[input]]`", "nothing to split"]);
}

#[test]
fn splits_by_range_and_by_regex_groups() {
    let store = Sharded::local();
    for month in ["2024-01", "2024-02", "2024-03"] {
        std::fs::create_dir_all(store.work.path("data").join(month)).unwrap();
        for day in 1..=5 {
            store.put_input(&format!("{month}/{day:02}.txt"), b"x\n");
        }
    }
    store.put_input("README.md", b"not an input\n");

    // A month's objects stay together; the README matches no group and goes nowhere.
    store.write_job("[shard]\nby = \"regex\"\npattern = '^(\\d{4}-\\d{2})/'\n");
    let plan = store.plan();
    let given: usize = plan.values().map(Vec::len).sum();
    assert_eq!(given, 15, "{plan:?}");
    for keys in plan.values() {
        let months: std::collections::BTreeSet<&str> = keys.iter().map(|k| &k[..7]).collect();
        assert_eq!(
            keys.len(),
            months.len() * 5,
            "a month split across shards: {plan:?}"
        );
    }

    // Keys in order, cut in runs of 16/8 = 2.
    store.write_job("[shard]\nby = \"range\"\n");
    let plan = store.plan();
    assert_eq!(plan[&0], ["2024-01/01.txt", "2024-01/02.txt"]);
    assert_eq!(plan[&7], ["2024-03/05.txt", "README.md"]);
}

/// Ray (`contrib/ray`) on a local cluster of three nodes, against S3: every shard runs as a
/// Ray task; shard 3's first attempt is killed, and the retry leaves the same result; a job
/// whose shard fails on every attempt gets no `_SUCCESS`.
///
/// `tests/run` installs Ray into `target/test-tools/ray-venv` (an 80 MB wheel; a cluster takes
/// about ten seconds to start); `WORLDHOST_RAY=0` skips both, for a quick run.
#[test]
fn ray_runs_every_shard_retries_a_killed_one_and_withholds_success_from_a_failed_one() {
    if std::env::var_os("WORLDHOST_RAY").is_some_and(|v| v == "0") {
        eprintln!("skipped: WORLDHOST_RAY=0 (unset it, and run tests/run, to test the Ray engine)");
        return;
    }
    let python = crate::support::server::tool("ray-venv/bin/python", "Ray");
    let store = Sharded::s3();
    let (_, objects) = store.s3.as_ref().unwrap();
    for index in 0..100 {
        let text = format!("{}\n", name(index));
        objects.put(&format!("in/n{index:03}.txt"), text.as_bytes());
        objects.put(&format!("in-bad/n{index:03}.txt"), text.as_bytes());
    }
    objects.put("in-bad/zz-bad.txt", [0xffu8, 0xfe, 0x00]);
    store.write_job("");
    let good = store.work.path("job.toml");
    let bad = store.work.path("bad.toml");
    let text = std::fs::read_to_string(&good)
        .unwrap()
        .replace(&store.url("in"), &store.url("in-bad"))
        .replace(&store.url("out"), &store.url("out-bad"));
    std::fs::write(&bad, text).unwrap();

    // The host the tasks run: shard 3's first attempt is killed with SIGKILL shortly after it
    // starts (or, if it was quicker, reported killed anyway, as a node lost after the run).
    let real = crate::support::harness::host().get_program().to_owned();
    let wrapper = store.work.path("host-killing-shard-3");
    let marker = store.work.path("killed-3");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\ncase \" $* \" in *\" --shard 3/8 \"*)\n  if mkdir '{marker}' 2>/dev/null; then\n    \
             '{real}' \"$@\" & pid=$!\n    sleep 0.05\n    kill -9 $pid && echo killed > '{marker}/how' || echo finished > '{marker}/how'\n    \
             wait $pid\n    exit 137\n  fi;;\nesac\nexec '{real}' \"$@\"\n",
            marker = marker.display(),
            real = real.display(),
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();

    let driver = crate::support::harness::repo_root().join("contrib/ray/tests/cluster_run.py");
    // The python driver gets the environment the host would (the store's credentials).
    let mut command = Command::new(&python);
    for (name, value) in store.command().get_envs() {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    let ran = command
        .env_remove("RAY_ADDRESS")
        .arg(&driver)
        .arg(&wrapper)
        .args([SHARDS.to_string(), "2".into(), "3".into()])
        .arg(&good)
        .arg(&bad)
        .ran();
    assert_eq!(ran.code, 0, "{ran:#?}");
    // Ray logs to stdout too: the driver's lines are the JSON objects.
    let lines: Vec<serde_json::Value> = ran
        .stdout
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    eprintln!("{}", ran.stdout);
    assert_eq!(lines[0]["nodes"], 3, "{ran:#?}");
    assert!(
        std::fs::read_to_string(marker.join("how")).is_ok(),
        "shard 3 was never killed"
    );

    // The good job: every shard in, every input greeted once, `_SUCCESS` written.
    assert_eq!(lines[1]["succeeded"], true, "{ran:#?}");
    let plan = store.plan();
    let outputs = store.outputs();
    each_input_greeted_once(&outputs, &plan);
    assert!(outputs.contains_key("_SUCCESS"));
    let report: serde_json::Value = serde_json::from_slice(&outputs["_reports/3.json"]).unwrap();
    assert_eq!(report["outputs"], "published");

    // The bad job: the shard holding the bad input failed all 3 attempts; no `_SUCCESS`.
    assert_eq!(lines[2]["succeeded"], false, "{ran:#?}");
    let failed = lines[2]["failed"].as_object().unwrap();
    assert_eq!(failed.len(), 1, "{ran:#?}");
    let (bad_shard, error) = failed.iter().next().unwrap();
    assert!(error.as_str().unwrap().contains("exit code 134"), "{error}");
    let finish = lines[2]["finish_output"].as_str().unwrap();
    assert!(
        finish.contains(&format!("failed: shard {bad_shard}")),
        "{finish}"
    );
    assert!(
        objects
            .keys(Some("out-bad"))
            .iter()
            .all(|key| !key.ends_with("_SUCCESS"))
    );
}

/// The Kubernetes manifest passes `kubernetes-validate --strict` (PyPI; the API's OpenAPI
/// schemas, offline): every resource against Kubernetes 1.37, no unknown field. A copy with
/// one unknown field fails, so the check is a real one.
#[test]
fn the_kubernetes_manifest_validates_against_the_api_schema() {
    let validate =
        crate::support::server::tool("venv/bin/kubernetes-validate", "kubernetes-validate");
    let path = crate::support::harness::repo_root().join("deploy/k8s/indexed-job.yaml");
    let run = |file: &std::path::Path| {
        Command::new(&validate)
            .args(["--strict", "--kubernetes-version", "1.37"])
            .arg(file)
            .output()
            .unwrap()
    };
    let good = run(&path);
    let said =
        String::from_utf8_lossy(&good.stdout).into_owned() + &String::from_utf8_lossy(&good.stderr);
    assert!(good.status.success(), "{said}");
    assert_eq!(said.matches(" passed for resource ").count(), 2, "{said}");

    let text = std::fs::read_to_string(&path).unwrap();
    let broken = text.replacen(
        "completionMode: Indexed",
        "completionMode: Indexed\n  completionModes: 1",
        1,
    );
    assert_ne!(
        broken, text,
        "the manifest no longer says `completionMode: Indexed`"
    );
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("broken.yaml");
    std::fs::write(&copy, broken).unwrap();
    let bad = run(&copy);
    let said =
        String::from_utf8_lossy(&bad.stdout).into_owned() + &String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success(), "{said}");
    assert!(said.contains("'completionModes' was unexpected"), "{said}");
}

/// The Kubernetes manifest (`deploy/k8s/indexed-job.yaml`): an Indexed Job whose pods run
/// `--shard-from-env JOB_COMPLETION_INDEX` with as many shards as completions, credentials from
/// a Secret, and a finish Job. Its exact commands then run here, one per index with the
/// variable set as Kubernetes sets it, with only the job file's mount path mapped to a local
/// job: every shard succeeds and the finish step writes `_SUCCESS`.
#[test]
fn the_kubernetes_indexed_job_runs_as_written() {
    use yaml_rust2::{Yaml, YamlLoader};
    let path = crate::support::harness::repo_root().join("deploy/k8s/indexed-job.yaml");
    let docs = YamlLoader::load_from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let job = |component: &str| -> &Yaml {
        docs.iter()
            .find(|doc| {
                doc["metadata"]["labels"]["app.kubernetes.io/component"].as_str() == Some(component)
            })
            .unwrap_or_else(|| panic!("no `{component}` Job in {}", path.display()))
    };
    let strings = |yaml: &Yaml| -> Vec<String> {
        yaml.as_vec()
            .expect("a list")
            .iter()
            .map(|item| item.as_str().expect("a string").to_owned())
            .collect()
    };
    let (shards, finish) = (job("shard"), job("finish"));
    for doc in [shards, finish] {
        assert_eq!(doc["apiVersion"].as_str(), Some("batch/v1"));
        assert_eq!(doc["kind"].as_str(), Some("Job"));
        let pod = &doc["spec"]["template"]["spec"];
        assert_eq!(pod["restartPolicy"].as_str(), Some("Never"));
        let container = &pod["containers"][0];
        assert!(
            container["envFrom"][0]["secretRef"]["name"]
                .as_str()
                .is_some(),
            "{container:?}"
        );
        let mount = container["volumeMounts"][0]["mountPath"].as_str().unwrap();
        assert_eq!(mount, "/etc/worldhost");
    }
    assert_eq!(shards["spec"]["completionMode"].as_str(), Some("Indexed"));
    let completions = shards["spec"]["completions"].as_i64().unwrap();
    let shard_command = strings(&shards["spec"]["template"]["spec"]["containers"][0]["command"]);
    let finish_command = strings(&finish["spec"]["template"]["spec"]["containers"][0]["command"]);
    let count_in = |command: &[String]| -> i64 {
        let at = command.iter().position(|arg| arg == "--shards").unwrap();
        command[at + 1].parse().unwrap()
    };
    assert_eq!(count_in(&shard_command), completions);
    assert_eq!(count_in(&finish_command), completions);
    assert!(
        shard_command
            .windows(2)
            .any(|w| w == ["--shard-from-env", "JOB_COMPLETION_INDEX"])
    );

    // The commands as written, `host` being this build and /etc/worldhost the local job's folder.
    let store = Sharded::local();
    for index in 0..100 {
        store.put_input(
            &format!("n{index:03}.txt"),
            format!("{}\n", name(index)).as_bytes(),
        );
    }
    store.write_job("");
    let folder = store.work.path("").display().to_string();
    let local = |command: &[String]| -> Command {
        let mut local = store.command();
        for arg in &command[1..] {
            local.arg(arg.replace("/etc/worldhost", folder.trim_end_matches('/')));
        }
        local
    };
    assert_eq!(shard_command[0], "host");
    for index in 0..completions {
        let ran = local(&shard_command)
            .env("JOB_COMPLETION_INDEX", index.to_string())
            .ran();
        assert_eq!(ran.code, 0, "index {index}: {ran:#?}");
    }
    let ran = local(&finish_command).ran();
    assert_eq!(ran.code, 0, "{ran:#?}");
    assert!(store.outputs().contains_key("_SUCCESS"));
    let merged: serde_json::Value =
        serde_json::from_slice(&store.outputs()["_reports/merged.json"]).unwrap();
    assert_eq!(merged["inputs"], 100);
    assert_eq!(merged["shards"], completions);
}
