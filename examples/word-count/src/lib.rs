//! A plugin written with the guest SDK: its input is a prefix (a guest path such as `docs/`).
//! It lists the blobs under the prefix, counts the words of each text blob, writes
//! `OUTPUT/counts.txt` (one `KEY WORDS` line per blob, sorted by key, then `total WORDS`; OUTPUT
//! is the world's config value `output`, default `results`), logs its progress, and returns a
//! summary such as `3 files, 42 words`. No blobs under the prefix is a `no-input` error.

use std::fmt::Write as _;

use worldhost::{Payload, Plugin, PluginError, blob, config};

/// Where the counts go without an `output` config value.
const DEFAULT_OUTPUT: &str = "results";

struct WordCount;

impl Plugin for WordCount {
    fn handle(input: Payload) -> Result<Payload, PluginError> {
        // `host call --input -` passes stdin as it is, newline included.
        let prefix = input.into_text()?.trim().to_owned();
        if prefix.is_empty() {
            return Err(PluginError::new(
                "no-input",
                "give a prefix to count the words under, such as `docs/`",
            ));
        }
        let output = config::get("output").unwrap_or_else(|| DEFAULT_OUTPUT.to_owned());
        let counts_key = format!("{}/counts.txt", output.trim_end_matches('/'));

        let mut entries = blob::list(&prefix)?;
        // A rerun over a prefix that holds the output must not count the previous counts.
        entries.retain(|entry| entry.key != counts_key);
        if entries.is_empty() {
            return Err(PluginError::new(
                "no-input",
                format!("no blobs under `{prefix}`"),
            ));
        }
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        worldhost::info!("counting words", prefix = prefix, blobs = entries.len());

        let mut counts = String::new();
        let (mut files, mut total) = (0usize, 0usize);
        for entry in &entries {
            let data = blob::get(&entry.key)?;
            let Ok(text) = std::str::from_utf8(&data) else {
                worldhost::warn!("skipped, not text", key = entry.key, bytes = entry.size);
                continue;
            };
            let words = text.split_whitespace().count();
            worldhost::info!("counted", key = entry.key, words = words);
            writeln!(counts, "{} {words}", entry.key).unwrap();
            files += 1;
            total += words;
        }
        writeln!(counts, "total {total}").unwrap();

        blob::put(&counts_key, counts.as_bytes())?;
        worldhost::info!(
            "wrote counts",
            key = counts_key,
            files = files,
            words = total
        );
        Ok(Payload::from(format!(
            "{files} {}, {total} {}",
            plural(files, "file"),
            plural(total, "word")
        )))
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_owned()
    } else {
        format!("{word}s")
    }
}

worldhost::export_plugin!(WordCount);
