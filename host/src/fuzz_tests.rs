//! Property tests of the host's TOML parsers (issue 12, item 7: a fuzz target for the world and
//! job parsers; proptest, since cargo-fuzz needs nightly). On arbitrary strings, on strings from
//! a TOML-flavoured alphabet, and on mutations of the repository's own valid files, every parser
//! answers Ok or Err and never panics, and every Err is one paragraph (no line break) that starts
//! with the file it is about.
//!
//! The parsers: [`WorldFile::parse`] and [`WorldFile::load`] (world definitions), the job file
//! ([`JobFile`] through [`parse_toml`], then [`Job::load`] with its checks), and the size and
//! duration parsers of `[limits]`.
//!
//! `PROPTEST_CASES=N` runs N cases of each property instead of proptest's default 256.

use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::Config;

use crate::job::Job;
use crate::job::file::JobFile;
use crate::limits::{parse_duration, parse_size};
use crate::world::{WorldFile, parse_toml};

/// The valid files the mutations start from: the built-in worlds, the example worlds and the
/// example job.
const SEEDS: &[&str] = &[
    include_str!("../../worlds/cli/world.toml"),
    include_str!("../../worlds/cloud/world.toml"),
    include_str!("../../worlds/cli/example.toml"),
    include_str!("../../worlds/cloud/example.toml"),
    include_str!("../../examples/jobs/resize.toml"),
];

/// Keys and values that the parsers know, so random text reaches past the TOML syntax into
/// the checks of each key.
const WORDS: &[&str] = &[
    "base",
    "description",
    "world",
    "mount",
    "guest",
    "host",
    "store",
    "read-only",
    "env",
    "set",
    "pass",
    "inherit-all",
    "network",
    "allow",
    "limits",
    "memory",
    "table-elements",
    "instances",
    "tables",
    "memories",
    "fuel",
    "timeout",
    "stdout",
    "stderr",
    "store-writes",
    "config",
    "module",
    "source",
    "sha256",
    "entry",
    "args",
    "input",
    "output",
    "on-failure",
    "import",
    "name",
    "compose",
    "instantiations",
    "dependencies",
    "cli",
    "cloud",
    "default",
    "memory:",
    "s3://b/p",
    "file:///tmp",
    "http://h/",
    "1GiB",
    "10m",
    "true",
    "quarantine",
    "x.toml",
];

fn config() -> Config {
    // `Config::default()` reads PROPTEST_CASES; a failure is reported, not written to the tree.
    Config {
        failure_persistence: None,
        ..Config::default()
    }
}

/// Text from the TOML-flavoured alphabet: brackets, `=`, quotes, dots, line breaks, `#`,
/// letters and digits.
fn toml_chars() -> impl Strategy<Value = String> {
    "[\\[\\]=\".\n#a-z0-9 _-]{0,200}"
}

/// Text made of TOML tokens and the parsers' own keys and values.
fn toml_tokens() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        4 => prop::sample::select(WORDS).prop_map(str::to_owned),
        4 => prop::sample::select(&["[", "]", "[[", "]]", " = ", "\"", "'", ".", "\n", "#", ",", "{", "}", "\\n", "\\r", "\\"][..])
            .prop_map(str::to_owned),
        1 => "[a-z0-9]{1,4}",
        1 => any::<String>(),
    ];
    prop::collection::vec(token, 0..40).prop_map(|tokens| tokens.concat())
}

/// Any string, or TOML-flavoured text.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), toml_chars(), toml_tokens()]
}

/// One change to a file.
#[derive(Debug, Clone)]
enum Mutation {
    /// Delete bytes `start..start + len` (at character boundaries).
    Delete { start: usize, len: usize },
    /// Write a line twice.
    DuplicateLine(usize),
    /// Replace the value of a `key = value` line with this text, raw or as a TOML string.
    ReplaceValue {
        line: usize,
        text: String,
        quoted: bool,
    },
    /// Insert `key = value` before a line.
    InsertKey {
        line: usize,
        key: String,
        value: String,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let index = 0..10_000usize;
    let value = prop_oneof![
        any::<String>(),
        toml_chars(),
        prop::sample::select(WORDS).prop_map(str::to_owned),
        any::<i64>().prop_map(|n| n.to_string()),
        // Line breaks inside a value, which a message that shows it must not pass on.
        "[a-z:/.]{0,6}[\r\n\t][a-z/]{0,4}",
    ];
    let key = prop_oneof![
        prop::sample::select(WORDS).prop_map(str::to_owned),
        "[a-z-]{1,8}",
        any::<String>(),
    ];
    prop_oneof![
        (index.clone(), 0..64usize).prop_map(|(start, len)| Mutation::Delete { start, len }),
        index.clone().prop_map(Mutation::DuplicateLine),
        (index.clone(), value.clone(), any::<bool>())
            .prop_map(|(line, text, quoted)| Mutation::ReplaceValue { line, text, quoted }),
        (index, key, value).prop_map(|(line, key, value)| Mutation::InsertKey { line, key, value }),
    ]
}

/// `text` with `mutation` applied; indices wrap around the file's bytes or lines.
fn mutate(text: &str, mutation: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    match mutation {
        Mutation::Delete { start, len } => {
            let floor = |mut at: usize| {
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                at
            };
            let start = floor(start % (text.len() + 1));
            let end = floor((start + len).min(text.len()));
            return format!("{}{}", &text[..start], &text[end..]);
        }
        Mutation::DuplicateLine(line) if !lines.is_empty() => {
            let line = line % lines.len();
            lines.insert(line, lines[line].clone());
        }
        Mutation::ReplaceValue { line, text, quoted } => {
            let assignments: Vec<usize> = (0..lines.len())
                .filter(|&at| lines[at].contains('='))
                .collect();
            if !assignments.is_empty() {
                let at = assignments[line % assignments.len()];
                let key = lines[at].split('=').next().unwrap_or_default().to_owned();
                let value = if *quoted {
                    toml::Value::String(text.clone()).to_string()
                } else {
                    text.clone()
                };
                lines[at] = format!("{key}= {value}");
            }
        }
        Mutation::InsertKey { line, key, value } => {
            let at = line % (lines.len() + 1);
            lines.insert(at, format!("{key} = {value}"));
        }
        Mutation::DuplicateLine(_) => {}
    }
    lines.join("\n") + "\n"
}

/// A valid file with one to four mutations.
fn mutant() -> impl Strategy<Value = String> {
    (
        prop::sample::select(SEEDS),
        prop::collection::vec(mutation(), 1..5),
    )
        .prop_map(|(seed, mutations)| {
            mutations
                .iter()
                .fold(seed.to_owned(), |text, mutation| mutate(&text, mutation))
        })
}

/// An error as the host prints it (`error: {error:#}`) must start with `origin` and be one
/// paragraph.
fn check_error(error: &anyhow::Error, origin: &str) -> Result<(), TestCaseError> {
    let message = format!("{error:#}");
    prop_assert!(
        message.starts_with(&format!("{origin}: ")),
        "does not start with `{origin}: `: {message:?}"
    );
    prop_assert!(
        !message.contains(['\n', '\r']),
        "not one paragraph: {message:?}"
    );
    Ok(())
}

const WORLD_ORIGIN: &str = "fuzz/world.toml";
const JOB_ORIGIN: &str = "fuzz/job.toml";

/// Every parser over `text`: the world and job parsers on the text itself, and the loaders
/// (with their checks after parsing) on the text written to a file.
fn check_all(text: &str) -> Result<(), TestCaseError> {
    if let Err(error) = WorldFile::parse(text, WORLD_ORIGIN) {
        check_error(&error, WORLD_ORIGIN)?;
    }
    if let Err(error) = parse_toml::<JobFile>(text, JOB_ORIGIN) {
        check_error(&error, JOB_ORIGIN)?;
    }
    let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let path = dir.path().join("file.toml");
    std::fs::write(&path, text).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let shown = path.display().to_string();
    if let Err(error) = WorldFile::load(&shown) {
        check_error(&error, &shown)?;
    }
    if let Err(error) = Job::load(Path::new(&shown)) {
        check_error(&error, &shown)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// Properties 1 and 2: any text is parsed or refused in one paragraph naming the file.
    #[test]
    fn any_text_is_parsed_or_refused_in_one_paragraph(text in any_text()) {
        check_all(&text)?;
    }

    /// Property 3: so is a mutation of a valid file.
    #[test]
    fn mutated_files_are_parsed_or_refused_in_one_paragraph(text in mutant()) {
        check_all(&text)?;
    }

    /// Property 4 (host side): the size and duration parsers never panic, and their refusals
    /// are one paragraph naming the text when the text is one line.
    #[test]
    fn sizes_and_durations_never_panic(text in prop_oneof![
        any::<String>(),
        "[0-9 .eE+-]{0,30}[a-zA-Z ]{0,6}",
        "[0-9]{1,30} ?(B|KiB|MiB|GiB|TiB|PiB|EiB|KB|MB|GB|TB|PB|EB|s|m|h|d|w|ms|us|ns|y)",
    ]) {
        for message in [parse_size(&text).err(), parse_duration(&text).err()].into_iter().flatten() {
            prop_assert!(message.contains(&format!("`{text}`")), "{message:?}");
        }
    }
}

/// The seeds themselves parse: the mutations start from valid files.
#[test]
fn the_seeds_parse() {
    for seed in SEEDS {
        let as_world = WorldFile::parse(seed, "seed").is_ok();
        let as_job = parse_toml::<JobFile>(seed, "seed").is_ok();
        assert!(as_world || as_job, "{seed}");
    }
}
