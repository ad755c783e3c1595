//! Sharded jobs: one job split over N runs (`host run --job J --shard I/N`), each on its own
//! share of one input store, then checked together (`host job finish J --shards N`).
//!
//! The split is a pure function of the input's keys and N (see [`Split::assign`]), so every
//! shard, `host job plan` and a re-run agree on it without talking to one another: a shard
//! lists the input, keeps its own keys, and mounts the input through
//! [`worldhost_store::ShardStore`], which shows the guest those objects and nothing else.
//! Each shard writes its report to the first output store as `_reports/I.json`; `finish`
//! reads them all and writes `_SUCCESS` only when every one says the shard succeeded.

use std::path::Path;

use anyhow::{Context, Result, bail};
use object_store::path::Path as Key;
use object_store::{ObjectMeta, ObjectStoreExt};
use regex_automata::meta::Regex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use worldhost_store::{Mount, MountSpec, StoreUrl};

use super::file::{JobFile, StoreMount};

/// Where shard reports go, in the first output store.
pub const REPORTS_DIR: &str = "_reports";
/// The object `finish` writes when every shard succeeded.
pub const SUCCESS: &str = "_SUCCESS";
/// The merged report `finish` writes beside the shards' reports.
pub const MERGED_REPORT: &str = "_reports/merged.json";

/// `[shard]` in a job file: how the input is split.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ShardSection {
    /// The guest path of the `[[input]]` that is split (default: the job's only input).
    pub input: Option<String>,
    #[serde(default)]
    pub by: SplitBy,
    /// `by = "glob"`: the keys that are inputs; `by = "regex"`: the same, grouped by the
    /// pattern's first capture group.
    pub pattern: Option<String>,
    #[serde(default)]
    pub outputs: OutputLayout,
}

/// How the split input's objects are given out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SplitBy {
    /// Every object, to the shard its key hashes to.
    #[default]
    Hash,
    /// The objects whose key matches `pattern` (a glob), by the hash of their key.
    Glob,
    /// The objects whose key matches `pattern` (a regex), by the hash of its first capture
    /// group (of the whole match without one): objects of one group stay together.
    Regex,
    /// Every object, keys in order, cut into N runs of (nearly) equal length.
    Range,
}

/// Where a shard's outputs are published.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputLayout {
    /// Under `shard-I-of-N/` in each output store.
    #[default]
    PerShard,
    /// At the keys the guest wrote: the job promises no two shards write the same key.
    Merged,
}

/// Shard I of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardId {
    pub index: u32,
    pub count: u32,
}

impl ShardId {
    /// `I/N`, as `--shard` takes it.
    pub fn parse(text: &str) -> Result<ShardId> {
        let Some((index, count)) = text.split_once('/') else {
            bail!("`--shard {text}` is not I/N (shard I of N, I from 0 to N-1, like 3/8)");
        };
        let count = shard_count(count).with_context(|| format!("`--shard {text}`"))?;
        ShardId::new(index, count).with_context(|| format!("`--shard {text}`"))
    }

    /// Shard `index` (text, as an environment variable gives it) of `count`.
    pub fn new(index: &str, count: u32) -> Result<ShardId> {
        let index: u32 = index.trim().parse().map_err(|_| {
            anyhow::anyhow!(
                "the shard index `{index}` is not a whole number from 0 to {}",
                count - 1
            )
        })?;
        if index >= count {
            bail!(
                "there is no shard {index} of {count}: shards are numbered 0 to {}",
                count - 1
            );
        }
        Ok(ShardId { index, count })
    }
}

/// A number of shards, at least 1.
pub fn shard_count(text: &str) -> Result<u32> {
    match text.trim().parse::<u32>() {
        Ok(0) => bail!("a job is split into at least 1 shard, not 0"),
        Ok(count) => Ok(count),
        Err(_) => bail!("the number of shards `{text}` is not a whole number of at least 1"),
    }
}

/// A checked `[shard]` section.
pub struct Split {
    pub section: ShardSection,
    /// The index of the split input among the job's inputs.
    pub input: usize,
    matcher: Option<Regex>,
}

impl Split {
    /// Checks `[shard]` (or its defaults) against the job.
    pub fn new(file: &JobFile) -> Result<Split> {
        let section = file.shard.clone().unwrap_or_default();
        if file.inputs.is_empty() {
            bail!("the job has no `[[input]]`, so there is nothing to split into shards");
        }
        if file.outputs.is_empty() {
            bail!(
                "a sharded job needs an `[[output]]`: each shard's report goes to the first output store"
            );
        }
        let input = match &section.input {
            Some(guest) => file
                .inputs
                .iter()
                .position(|input| input.guest.trim_end_matches('/') == guest.trim_end_matches('/'))
                .with_context(|| {
                    format!("`[shard] input = \"{guest}\"` names no `[[input]]`'s guest path")
                })?,
            None if file.inputs.len() == 1 => 0,
            None => bail!(
                "the job has {} inputs: say which one is split with `[shard] input = \"GUEST PATH\"`",
                file.inputs.len()
            ),
        };
        let matcher = match (section.by, &section.pattern) {
            (SplitBy::Glob, Some(glob)) => Some(compile(&glob_regex(glob), glob)?),
            (SplitBy::Regex, Some(regex)) => Some(compile(regex, regex)?),
            (SplitBy::Glob | SplitBy::Regex, None) => {
                bail!(
                    "`[shard] by = \"{}\"` needs a `pattern`",
                    by_name(section.by)
                )
            }
            (SplitBy::Hash | SplitBy::Range, Some(_)) => bail!(
                "`[shard] pattern` is for `by = \"glob\"` or `by = \"regex\"`, not `by = \"{}\"`",
                by_name(section.by)
            ),
            (SplitBy::Hash | SplitBy::Range, None) => None,
        };
        Ok(Split {
            section,
            input,
            matcher,
        })
    }

    /// The keys each of `count` shards gets, from every key of the input (sorted): a pure
    /// function of the two, so every process computes the same split. Keys the pattern does
    /// not match go to no shard.
    pub fn assign(&self, keys: &[String], count: u32) -> Vec<Vec<String>> {
        let mut shards = vec![Vec::new(); count as usize];
        if self.section.by == SplitBy::Range {
            let total = keys.len();
            for (position, key) in keys.iter().enumerate() {
                // Runs of total/N or total/N + 1 keys, in key order.
                let shard = position * count as usize / total.max(1);
                shards[shard].push(key.clone());
            }
            return shards;
        }
        for key in keys {
            let hashed = match &self.matcher {
                None => Some(key.as_str()),
                Some(regex) => {
                    let mut captures = regex.create_captures();
                    regex.captures(key.as_str(), &mut captures);
                    let group = captures.get_group(1).or_else(|| captures.get_group(0));
                    group.map(|span| &key[span.range()])
                }
            };
            if let Some(text) = hashed {
                shards[(key_hash(text) % u64::from(count)) as usize].push(key.clone());
            }
        }
        shards
    }

    /// The split input (mounted whole), its objects, and how their keys are given out to
    /// `count` shards; refuses a split that gives out nothing.
    pub async fn plan(&self, file: &JobFile, count: u32) -> Result<Plan> {
        let input = &file.inputs[self.input];
        let mount = open(input, true)?;
        let objects = mount
            .all_objects()
            .await
            .with_context(|| format!("cannot list the input `{}`", input.store))?;
        let keys: Vec<String> = objects.iter().map(|o| o.location.to_string()).collect();
        if keys.is_empty() {
            bail!(
                "the input at `{}` (`{}`) holds no objects: there is nothing to split",
                input.guest,
                input.store
            );
        }
        let shards = self.assign(&keys, count);
        if shards.iter().all(Vec::is_empty) {
            bail!(
                "the split matches none of the {} objects in `{}` (`[shard] pattern = \"{}\"`)",
                keys.len(),
                input.store,
                self.section.pattern.as_deref().unwrap_or_default()
            );
        }
        Ok(Plan {
            input: mount,
            objects,
            shards,
        })
    }
}

/// How a split input is given out ([`Split::plan`]).
pub struct Plan {
    pub input: Mount,
    /// Every object of the input, by key.
    pub objects: Vec<ObjectMeta>,
    /// The keys of each shard, in key order.
    pub shards: Vec<Vec<String>>,
}

impl Plan {
    /// Shard `index`'s view of the input, and what its report says it was given.
    pub fn share(&self, shard: ShardId) -> (Mount, ShardReport) {
        let mine: std::collections::HashSet<&str> = self.shards[shard.index as usize]
            .iter()
            .map(String::as_str)
            .collect();
        let given: Vec<&ObjectMeta> = self
            .objects
            .iter()
            .filter(|meta| mine.contains(meta.location.as_ref()))
            .collect();
        let report = ShardReport {
            index: shard.index,
            count: shard.count,
            inputs: given.len() as u64,
            input_bytes: given.iter().map(|meta| meta.size).sum(),
        };
        let view = self
            .input
            .only(given.iter().map(|meta| meta.location.clone()));
        (view, report)
    }
}

fn by_name(by: SplitBy) -> &'static str {
    match by {
        SplitBy::Hash => "hash",
        SplitBy::Glob => "glob",
        SplitBy::Regex => "regex",
        SplitBy::Range => "range",
    }
}

fn compile(regex: &str, written: &str) -> Result<Regex> {
    Regex::new(regex).map_err(|error| {
        anyhow::anyhow!("`[shard] pattern = \"{written}\"` is not a valid pattern: {error}")
    })
}

/// The shard hash of a key: the first 8 bytes of its SHA-256, big-endian (then taken mod N).
/// Fixed and documented, so a split never changes between hosts, versions or runs.
pub fn key_hash(key: &str) -> u64 {
    let digest = Sha256::digest(key.as_bytes());
    u64::from_be_bytes(digest[..8].try_into().expect("SHA-256 has 32 bytes"))
}

/// A glob over whole keys as a regex: `**` any run of characters, `*` any run without `/`,
/// `?` one character but `/`; everything else stands for itself.
fn glob_regex(glob: &str) -> String {
    let mut regex = String::from("^");
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                // `**/` also matches no directory at all.
                if chars.peek() == Some(&'/') {
                    chars.next();
                    regex.push_str("(?:.*/)?");
                } else {
                    regex.push_str(".*");
                }
            }
            '*' => regex.push_str("[^/]*"),
            '?' => regex.push_str("[^/]"),
            c => {
                let mut buffer = [0; 4];
                regex.push_str(&regex_syntax_escape(c.encode_utf8(&mut buffer)));
            }
        }
    }
    regex.push('$');
    regex
}

fn regex_syntax_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$#&-~".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

pub(crate) fn open(mount: &StoreMount, read_only: bool) -> Result<Mount> {
    Mount::open(&MountSpec {
        url: mount.store.clone(),
        guest: mount.guest.clone(),
        read_only,
    })
}

/// The store a shard's outputs are published to: `shard-I-of-N/` in the output store for
/// per-shard outputs.
pub fn output_url(store: &StoreUrl, layout: OutputLayout, shard: ShardId) -> Result<StoreUrl> {
    match layout {
        OutputLayout::Merged => Ok(store.clone()),
        OutputLayout::PerShard => {
            let url = format!(
                "{}/shard-{}-of-{}",
                store.as_str().trim_end_matches('/'),
                shard.index,
                shard.count
            );
            StoreUrl::parse(&url).map_err(anyhow::Error::msg)
        }
    }
}

fn report_key(index: u32) -> Key {
    Key::from(format!("{REPORTS_DIR}/{index}.json"))
}

/// The first of the names `finish` keeps for itself (`_SUCCESS`, `_reports/...`) that a
/// shard's guest wrote to the root of a merged output, if any: published, it could speak for
/// other shards (a forged report, or `_SUCCESS` before `finish`).
pub async fn reserved_written(staged: &Mount) -> Result<Option<String>> {
    use futures::StreamExt;
    match staged.store.head(&Key::from(SUCCESS)).await {
        Ok(_) => return Ok(Some(SUCCESS.to_owned())),
        Err(object_store::Error::NotFound { .. }) => {}
        Err(error) => return Err(error).context("cannot check the staged outputs"),
    }
    let reports = Key::from(REPORTS_DIR);
    match staged.store.list(Some(&reports)).next().await {
        Some(Ok(meta)) => Ok(Some(meta.location.to_string())),
        Some(Err(error)) => Err(error).context("cannot check the staged outputs"),
        None => Ok(None),
    }
}

/// Before a shard runs: its old report and `_SUCCESS` go, so neither can speak for this run.
pub async fn forget_previous(file: &JobFile, shard: ShardId) -> Result<()> {
    let reports = open(&file.outputs[0], false)?;
    for key in [report_key(shard.index), Key::from(SUCCESS)] {
        match reports.store.delete(&key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => {
                return Err(error).with_context(|| {
                    format!("cannot remove `{key}` from `{}`", file.outputs[0].store)
                });
            }
        }
    }
    Ok(())
}

/// Writes a shard's report (JSON) as `_reports/I.json` in the first output store.
pub async fn write_report(file: &JobFile, shard: ShardId, json: Vec<u8>) -> Result<()> {
    let reports = open(&file.outputs[0], false)?;
    reports
        .store
        .put(&report_key(shard.index), json.into())
        .await
        .with_context(|| {
            format!(
                "cannot write the shard report `{}` to `{}`",
                report_key(shard.index),
                file.outputs[0].store
            )
        })?;
    Ok(())
}

/// What a shard's report says about the shard (the `shard` key of its report).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShardReport {
    pub index: u32,
    pub count: u32,
    /// How many objects of the split input it was given, and their bytes.
    pub inputs: u64,
    pub input_bytes: u64,
}

/// `host job finish`: every shard's report says it succeeded, or the error names those that
/// did not. Then the merged report and `_SUCCESS` are written, and what killed runs left in
/// the staging areas is removed.
pub async fn finish(path: &Path, file: &JobFile, count: u32) -> Result<serde_json::Value> {
    let reports = open(&file.outputs[0], false)?;
    let mut missing = Vec::new();
    let mut failed = Vec::new();
    let mut shards = Vec::new();
    for index in 0..count {
        let key = report_key(index);
        let bytes = match reports.store.get(&key).await {
            Ok(got) => got.bytes().await,
            Err(error) => Err(error),
        };
        let bytes = match bytes {
            Ok(bytes) => bytes,
            Err(object_store::Error::NotFound { .. }) => {
                missing.push(index.to_string());
                continue;
            }
            Err(error) => {
                return Err(error).with_context(|| {
                    format!("cannot read `{key}` from `{}`", file.outputs[0].store)
                });
            }
        };
        let report: serde_json::Value = match serde_json::from_slice(&bytes) {
            Ok(report) => report,
            Err(error) => {
                failed.push(format!("{index} (its report is not JSON: {error})"));
                continue;
            }
        };
        let of = report["shard"]["count"].as_u64();
        if of != Some(u64::from(count)) {
            failed.push(format!(
                "{index} (its report is from a run of {} shards)",
                of.map_or("no".to_owned(), |n| n.to_string())
            ));
        } else if report["exit_code"] != 0 || report["outputs"] != "published" {
            // The first line of the error: a trap's backtrace would drown the others.
            let why = report["error"].as_str().unwrap_or("no error given");
            let first = why.lines().next().unwrap_or_default();
            failed.push(format!(
                "{index} (exit code {}, {}: {})",
                report["exit_code"],
                report["outcome"].as_str().unwrap_or("failed"),
                crate::world::definition::one_line(first)
            ));
        } else {
            shards.push(report);
        }
    }
    if !missing.is_empty() || !failed.is_empty() {
        let mut why = Vec::new();
        if !missing.is_empty() {
            why.push(format!(
                "no report from shard {} (not run, still running, or killed)",
                missing.join(", ")
            ));
        }
        if !failed.is_empty() {
            why.push(format!("failed: shard {}", failed.join("; shard ")));
        }
        bail!(
            "{}: {} of {count} shards did not succeed, so `{SUCCESS}` was not written: {}",
            path.display(),
            missing.len() + failed.len(),
            why.join("; ")
        );
    }
    let sum = |field: &dyn Fn(&serde_json::Value) -> u64| -> u64 { shards.iter().map(field).sum() };
    let mount_sum = |report: &serde_json::Value, key: &str| -> u64 {
        report["mounts"].as_array().map_or(0, |mounts| {
            mounts.iter().filter_map(|m| m[key].as_u64()).sum()
        })
    };
    let merged = serde_json::json!({
        "job": path.display().to_string(),
        "shards": count,
        "inputs": sum(&|r| r["shard"]["inputs"].as_u64().unwrap_or(0)),
        "bytes_read": sum(&|r| mount_sum(r, "bytes_read")),
        "bytes_written": sum(&|r| mount_sum(r, "bytes_written")),
        "objects_published": sum(&|r| r["objects_published"].as_u64().unwrap_or(0)),
        "per_shard": shards.iter().map(|r| serde_json::json!({
            "index": r["shard"]["index"],
            "run_id": r["run_id"],
            "inputs": r["shard"]["inputs"],
            "input_bytes": r["shard"]["input_bytes"],
            "bytes_read": mount_sum(r, "bytes_read"),
            "bytes_written": mount_sum(r, "bytes_written"),
            "objects_published": r["objects_published"],
            "duration_seconds": r["duration_seconds"],
        })).collect::<Vec<_>>(),
    });
    for output in &file.outputs {
        remove_leftover_staging(output).await?;
    }
    let json = serde_json::to_vec_pretty(&merged).context("cannot encode the merged report")?;
    let store = &file.outputs[0].store;
    reports
        .store
        .put(&Key::from(MERGED_REPORT), json.into())
        .await
        .with_context(|| format!("cannot write `{MERGED_REPORT}` to `{store}`"))?;
    // Last: its presence says everything before it is in place.
    reports
        .store
        .put(&Key::from(SUCCESS), Vec::new().into())
        .await
        .with_context(|| format!("cannot write `{SUCCESS}` to `{store}`"))?;
    Ok(merged)
}

/// Deletes the staging areas (at the root or under a shard's prefix) that runs killed before
/// publishing left behind: once every shard has succeeded, none of them is in use.
async fn remove_leftover_staging(output: &StoreMount) -> Result<()> {
    use futures::StreamExt;
    let mount = open(output, false)?;
    let staging = worldhost_store::names::STAGING_DIR;
    let mut leftovers = Vec::new();
    let mut listing = mount.store.list(None);
    while let Some(meta) = listing.next().await {
        let meta = meta.with_context(|| format!("cannot list `{}`", output.store))?;
        if meta.location.parts().any(|part| part.as_ref() == staging) {
            leftovers.push(meta.location);
        }
    }
    for key in leftovers {
        match mount.store.delete(&key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => {
                return Err(error)
                    .with_context(|| format!("cannot remove `{key}` from `{}`", output.store));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(by: SplitBy, pattern: Option<&str>) -> Split {
        let matcher = pattern.map(|p| {
            let regex = if by == SplitBy::Glob {
                glob_regex(p)
            } else {
                p.to_owned()
            };
            Regex::new(&regex).unwrap()
        });
        Split {
            section: ShardSection {
                by,
                pattern: pattern.map(str::to_owned),
                ..ShardSection::default()
            },
            input: 0,
            matcher,
        }
    }

    fn keys(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("dir/n{i:03}.txt")).collect()
    }

    #[test]
    fn every_key_goes_to_exactly_one_shard_and_the_split_is_fixed() {
        let all = keys(100);
        for by in [SplitBy::Hash, SplitBy::Range] {
            let shards = split(by, None).assign(&all, 8);
            let mut given: Vec<_> = shards.concat();
            given.sort();
            assert_eq!(given, all, "{by:?}");
            assert!(shards.iter().all(|s| !s.is_empty()), "{by:?}: {shards:?}");
        }
        // The hash is SHA-256's first 8 bytes: a fixed value, whatever the host.
        assert_eq!(key_hash("a"), 0xca978112ca1bbdca);
        let ranges = split(SplitBy::Range, None).assign(&all, 8);
        assert_eq!(ranges[0].first().unwrap(), "dir/n000.txt");
        assert_eq!(
            ranges.iter().map(Vec::len).collect::<Vec<_>>(),
            [13, 12, 13, 12, 13, 12, 13, 12]
        );
    }

    #[test]
    fn patterns_choose_the_inputs_and_groups_stay_together() {
        let all = vec![
            "2024-01/a.csv",
            "2024-01/b.csv",
            "2024-02/c.csv",
            "notes.md",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
        let glob = split(SplitBy::Glob, Some("**/*.csv"))
            .assign(&all, 3)
            .concat();
        assert_eq!(glob.len(), 3, "{glob:?}");
        assert!(!glob.contains(&"notes.md".to_owned()));
        let by_month = split(SplitBy::Regex, Some(r"^(\d{4}-\d{2})/")).assign(&all, 50);
        let january = by_month.iter().find(|s| s.contains(&all[0])).unwrap();
        assert!(january.contains(&all[1]), "{by_month:?}");
        assert!(
            split(SplitBy::Glob, Some("*.txt"))
                .assign(&all, 2)
                .concat()
                .is_empty()
        );
    }

    #[test]
    fn shard_ids_are_checked() {
        assert_eq!(
            ShardId::parse("3/8").unwrap(),
            ShardId { index: 3, count: 8 }
        );
        for (bad, says) in [
            ("3/2", "no shard 3 of 2"),
            ("0/0", "at least 1"),
            ("x/2", "not a whole number"),
            ("3", "not I/N"),
        ] {
            let error = format!("{:#}", ShardId::parse(bad).unwrap_err());
            assert!(error.contains(says), "{bad}: {error}");
        }
    }
}
