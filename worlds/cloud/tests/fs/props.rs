//! Properties over random paths and random sequences of operations: resolution never panics
//! and matches a model of POSIX resolution; no key outside the mount's prefix (no file
//! outside a local store's directory) is ever formed; and every store gives the same answers.
//!
//! `PROPTEST_CASES=N` runs more (or fewer) cases than the defaults below.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use worldhost_world_cloud::fs::ErrorCode::{self, *};
use worldhost_world_cloud::fs::path::{RelPath, is_reserved};
use worldhost_world_cloud::fs::{FsError, Handle, Kind};

use crate::support::*;

fn runner(default_cases: u32) -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(default_cases);
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

/// Path segments of every kind: ordinary, `.`, `..`, empty, reserved, long, odd bytes.
fn wide_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just("a".to_owned()),
        4 => Just("b".to_owned()),
        2 => Just("..".to_owned()),
        2 => Just(".".to_owned()),
        1 => Just(String::new()),
        1 => Just("x".repeat(300)),
        1 => Just(".worldhost-dir".to_owned()),
        1 => Just("f#12".to_owned()),
        1 => "[\\PC]{1,3}",
        1 => any::<String>(),
    ]
}

/// Segments every store handles alike (no long names, no control bytes, no staging names).
fn tame_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => Just("a".to_owned()),
        6 => Just("b".to_owned()),
        1 => Just("..".to_owned()),
        1 => Just(".".to_owned()),
        1 => Just(String::new()),
        1 => Just("é ü".to_owned()),
        1 => Just("100%".to_owned()),
    ]
}

fn path_of(segment: impl Strategy<Value = String> + 'static) -> BoxedStrategy<String> {
    (
        prop::collection::vec(segment, 1..3),
        prop::bool::weighted(0.05),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(segments, absolute, trailing)| {
            let mut path = segments.join("/");
            if absolute {
                path.insert(0, '/');
            }
            if trailing {
                path.push('/');
            }
            path
        })
        .boxed()
}

/// One filesystem operation from the root directory.
#[derive(Debug, Clone)]
enum Op {
    Mkdir(String),
    Write(String, u8),
    Unlink(String),
    Rmdir(String),
    Rename(String, String),
    Stat(String),
    List(String),
    Read(String),
    Hash(String),
    Readlink(String),
    Link(String, String),
}

fn op(path: BoxedStrategy<String>) -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => path.clone().prop_map(Op::Mkdir),
        4 => (path.clone(), any::<u8>()).prop_map(|(p, n)| Op::Write(p, n)),
        2 => path.clone().prop_map(Op::Unlink),
        2 => path.clone().prop_map(Op::Rmdir),
        3 => (path.clone(), path.clone()).prop_map(|(a, b)| Op::Rename(a, b)),
        2 => path.clone().prop_map(Op::Stat),
        2 => path.clone().prop_map(Op::List),
        2 => path.clone().prop_map(Op::Read),
        1 => path.clone().prop_map(Op::Hash),
        1 => path.clone().prop_map(Op::Readlink),
        1 => (path.clone(), path).prop_map(|(a, b)| Op::Link(a, b)),
    ]
}

/// What an operation answered, comparable across stores: a value, an error code, or
/// (`Trap`) a failure that would stop the run.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Ok(String),
    Code(ErrorCode),
    Trap(String),
}

fn outcome<T>(result: Result<T, FsError>, show: impl FnOnce(T) -> String) -> Outcome {
    match result {
        Ok(value) => Outcome::Ok(show(value)),
        Err(FsError::Code(code)) => Outcome::Code(code),
        Err(FsError::Trap(error)) => Outcome::Trap(error.to_string()),
    }
}

async fn apply(fs: &mut Fs, op: &Op) -> Outcome {
    let root = fs.root.clone();
    let root_handle = Handle::Dir(root.clone());
    let done = |()| String::new();
    match op {
        Op::Mkdir(path) => outcome(root.create_directory_at(path).await, done),
        Op::Write(path, len) => {
            let written = async {
                let file = file_of(fs.open(path, create_write()).await?);
                file.write(&vec![b'w'; *len as usize], 0).await?;
                fs.ctx.close(file).await.map_err(FsError::Trap)
            };
            outcome(written.await, done)
        }
        Op::Unlink(path) => outcome(root.unlink_file_at(path).await, done),
        Op::Rmdir(path) => outcome(root.remove_directory_at(path).await, done),
        Op::Rename(from, to) => outcome(root.rename_at(from, &root_handle, to).await, done),
        Op::Stat(path) => outcome(root.stat_at(path).await, |stat| {
            format!("{:?} {}", stat.kind, stat.size)
        }),
        Op::List(path) => {
            let listed = async {
                let handle = fs.open(path, read_only()).await?;
                handle.as_dir()?.read_directory().await
            };
            outcome(listed.await, |entries| {
                let names: Vec<String> = entries
                    .into_iter()
                    .map(|e| format!("{}:{:?}", e.name, e.kind))
                    .collect();
                names.join(",")
            })
        }
        Op::Read(path) => outcome(fs.read_file(path).await, |data| data.len().to_string()),
        Op::Hash(path) => outcome(root.metadata_hash_at(path).await, |_| String::new()),
        Op::Readlink(path) => outcome(root.readlink_at(path).await, |target| target),
        Op::Link(from, to) => outcome(root.link_at(from, &root_handle, to).await, done),
    }
}

/// Checks that nothing lies outside the mount: every key of the underlying store under the
/// prefix, every file of a local store in its directory.
async fn check_contained(fs: &Fs) -> Result<(), TestCaseError> {
    match fs.backend {
        Backend::PrefixedMemory => {
            for key in fs.base_keys().await {
                prop_assert!(key.starts_with(&format!("{PREFIX}/")), "key outside: {key}");
            }
        }
        Backend::Local => {
            let local = fs.local.as_ref().unwrap();
            let beside: Vec<_> = std::fs::read_dir(local.parent().unwrap())
                .unwrap()
                .map(|entry| entry.unwrap().file_name())
                .collect();
            prop_assert_eq!(beside, vec![std::ffi::OsString::from("mnt")]);
        }
        Backend::Memory => {}
    }
    Ok(())
}

#[test]
fn no_key_is_ever_formed_outside_the_mount() {
    let rt = runtime();
    let ops = prop::collection::vec(op(path_of(wide_segment())), 1..24);
    runner(256)
        .run(&ops, |ops| {
            rt.block_on(async {
                for backend in [Backend::PrefixedMemory, Backend::Local] {
                    let mut fs = Fs::new(backend);
                    for op in &ops {
                        // Any answer will do, traps included: a local store cannot store
                        // a name ending in `:` or `|` (object_store maps the key to a path
                        // ending in `/`), so closing such a file fails the run.
                        apply(&mut fs, op).await;
                        check_contained(&fs).await?;
                    }
                }
                Ok(())
            })
        })
        .unwrap();
}

#[test]
fn every_store_answers_alike() {
    let rt = runtime();
    let ops = prop::collection::vec(op(path_of(tame_segment())), 1..32);
    runner(256)
        .run(&ops, |ops| {
            rt.block_on(async {
                let mut stores: Vec<Fs> = BACKENDS.into_iter().map(Fs::new).collect();
                for op in &ops {
                    let mut answers = Vec::new();
                    for fs in &mut stores {
                        answers.push(apply(fs, op).await);
                    }
                    prop_assert!(
                        !matches!(answers[0], Outcome::Trap(_)),
                        "{:?}: {:?}",
                        op,
                        answers[0]
                    );
                    for (fs, answer) in stores.iter().zip(&answers).skip(1) {
                        prop_assert_eq!(
                            answer,
                            &answers[0],
                            "{:?} answers {:?} differently from memory",
                            fs.backend,
                            op
                        );
                    }
                }
                Ok(())
            })
        })
        .unwrap();
}

/// POSIX resolution, as a model: the first error wins.
fn model(base: &[String], path: &str) -> Result<Vec<String>, ErrorCode> {
    if path.len() > 4095 {
        return Err(NameTooLong);
    }
    if path.starts_with('/') {
        return Err(NotPermitted);
    }
    let mut segments = base.to_vec();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop().ok_or(NotPermitted)?;
            }
            name if name.len() > 255 => return Err(NameTooLong),
            name if name.chars().any(|c| c.is_ascii_control()) => {
                return Err(IllegalByteSequence);
            }
            name if [
                ".worldhost-dir",
                ".worldhost-staging",
                ".worldhost-quarantine",
            ]
            .iter()
            .any(|reserved| name.eq_ignore_ascii_case(reserved)) =>
            {
                return Err(Access);
            }
            name => segments.push(name.to_owned()),
        }
    }
    Ok(segments)
}

#[test]
fn resolution_never_panics_and_matches_the_model() {
    let base_and_path = (
        prop::collection::vec(path_of(wide_segment()), 0..3),
        prop_oneof![path_of(wide_segment()), any::<String>()],
    );
    runner(4096)
        .run(&base_and_path, |(bases, path)| {
            // A base reached by resolving paths one after another, as descriptors are.
            let mut base = RelPath::root();
            for step in &bases {
                if let Ok(next) = base.join(step) {
                    base = next;
                }
            }
            let base_segments: Vec<String> = base
                .key()
                .parts()
                .map(|part| part.as_ref().to_owned())
                .collect();
            let resolved = base.join_checked(&path);
            let expected = model(&base_segments, &path);
            match (&resolved, &expected) {
                (Ok(resolved), Ok(segments)) => {
                    prop_assert_eq!(resolved.path.key().to_string(), segments.join("/"));
                    prop_assert!(resolved.path.starts_with(&RelPath::root()));
                    prop_assert_eq!(
                        resolved.names_dir,
                        path.ends_with('/') || path.ends_with("/.")
                    );
                    // Every `..` that left a directory below the base asks for it to exist.
                    for dir in &resolved.must_be_dirs {
                        prop_assert!(dir.starts_with(&base) && *dir != base);
                    }
                    for segment in resolved.path.key().parts() {
                        prop_assert!(!matches!(segment.as_ref(), "" | "." | ".."));
                        prop_assert!(
                            !is_reserved(segment.as_ref()) || segment.as_ref().contains('#')
                        );
                    }
                }
                (Err(code), Err(expected)) => prop_assert_eq!(code, expected),
                _ => prop_assert!(
                    false,
                    "{path:?} from {base}: {resolved:?}, model {expected:?}"
                ),
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn stat_of_any_string_never_panics() {
    let rt = runtime();
    let mut fs = Fs::new(Backend::Local);
    rt.block_on(async {
        fs.mkdir("a").await.unwrap();
        fs.write_file("a/f", b"x").await.unwrap();
    });
    runner(1024)
        .run(&any::<String>(), |path| {
            rt.block_on(async {
                match fs.root.stat_at(&path).await {
                    Ok(stat) => prop_assert!(matches!(stat.kind, Kind::File | Kind::Dir)),
                    Err(FsError::Code(_)) => {}
                    Err(FsError::Trap(error)) => prop_assert!(false, "trap: {error}"),
                }
                Ok(())
            })
        })
        .unwrap();
}
