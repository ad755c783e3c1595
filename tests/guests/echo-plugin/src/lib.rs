//! Echoes its input. Text `count` returns how many calls this instance has seen (1 on a
//! fresh instance), `fail` returns a typed error, `trap` traps, `config KEY` returns a
//! config value, `log` logs a line, `put KEY VALUE` writes a blob, `get KEY` reads one and
//! `list PREFIX` lists them, a `KEY SIZE` line each.
//! Written against the raw bindings (no SDK) so it tests the WIT itself.

wit_bindgen::generate!({
    path: "../../../wit",
    world: "worldhost:host/plugin",
    generate_all,
});

use exports::worldhost::host::handler::{Error, Guest, Payload};
use worldhost::host::{blob, config, logging};

struct Echo;

fn failed(code: &str, message: impl ToString) -> Error {
    Error {
        code: code.to_owned(),
        message: message.to_string(),
    }
}

impl Guest for Echo {
    fn handle(input: Payload) -> Result<Payload, Error> {
        let Payload::Text(text) = &input else {
            return Ok(input);
        };
        let words: Vec<&str> = text.split_whitespace().collect();
        match words.as_slice() {
            ["count"] => {
                static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let calls = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                Ok(Payload::Text(calls.to_string()))
            }
            ["fail"] => Err(failed("asked-to-fail", "the input said fail")),
            ["trap"] => panic!("the input said trap"),
            ["config", key] => config::get(key)
                .map(Payload::Text)
                .ok_or_else(|| failed("no-config", key)),
            ["log"] => {
                logging::log(
                    logging::Level::Info,
                    "echo says hello",
                    &[("answer".into(), "42".into())],
                );
                Ok(Payload::Text("logged".into()))
            }
            // `log N`: N log lines, to try the host's cap on them.
            ["log", count] => {
                let count: u32 = count.parse().map_err(|_| failed("bad-count", count))?;
                for i in 0..count {
                    logging::log(
                        logging::Level::Info,
                        "echo logs a lot",
                        &[("line".into(), i.to_string())],
                    );
                }
                Ok(Payload::Text("logged".into()))
            }
            ["put", key, value] => blob::put(key, value.as_bytes())
                .map(|()| Payload::Text("stored".into()))
                .map_err(|e| failed("blob", format!("{e:?}"))),
            ["get", key] => blob::get(key)
                .map(Payload::Bytes)
                .map_err(|e| failed("blob", format!("{e:?}"))),
            ["copy", from, to] => blob::copy(from, to)
                .map(|()| Payload::Text("copied".into()))
                .map_err(|e| failed("blob", format!("{e:?}"))),
            ["delete", key] => blob::delete(key)
                .map(|()| Payload::Text("deleted".into()))
                .map_err(|e| failed("blob", format!("{e:?}"))),
            // `list` alone lists the mount at `.`.
            ["list", prefix @ ..] if prefix.len() <= 1 => blob::list(prefix.first().unwrap_or(&""))
                .map(|entries| {
                    let lines: Vec<String> = entries
                        .iter()
                        .map(|entry| format!("{} {}", entry.key, entry.size))
                        .collect();
                    Payload::Text(lines.join("\n"))
                })
                .map_err(|e| failed("blob", format!("{e:?}"))),
            _ => Ok(input),
        }
    }
}

export!(Echo);
