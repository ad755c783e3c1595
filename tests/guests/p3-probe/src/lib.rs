//! `p3-probe COMMAND [ARGS]`: a WASI 0.3 command that does one thing a test asks and reports
//! it, using only the `wasip3` bindings (no `std` I/O, which is WASI 0.2). Errors go to stderr
//! with exit code 2.
//!
//! Commands: `args`; `env NAME...`; `stdout TEXT...`; `stderr TEXT...`; `exit CODE`; `fail`
//! (returns an error from `run`); `clocks`; `random`; `write PATH TEXT`; `read PATH`;
//! `list DIR`; `symlink DIR` (tries links out of DIR and inside it, one line each); `spew BYTES`
//! (writes BYTES bytes to stdout, for the output cap); `sleep`; `stat PATH`; `mkdir PATH`;
//! `rmdir PATH`; `rename FROM TO`; `remove PATH`; `create DIR N` (N empty files `DIR/file-I`);
//! `count DIR` (counts a directory's entries one at a time, holding none); `touch PATH` (sets
//! its modification time to now); `http URL` (GETs
//! URL with `wasi:http/client@0.3`, prints `status N` and `body N bytes`, reading the body in
//! 64 KiB reads; a refused request prints `error: CODE` and exits 1).

use std::future::IntoFuture;
use wasip3::cli::{environment, exit, stderr, stdout};
use wasip3::clocks::{monotonic_clock, system_clock};
use wasip3::filesystem::preopens;
use wasip3::filesystem::types::{Descriptor, DescriptorFlags, OpenFlags, PathFlags};

use wasip3::wit_stream;

wasip3::cli::command::export!(Probe);

struct Probe;

impl wasip3::exports::cli::run::Guest for Probe {
    async fn run() -> Result<(), ()> {
        let args = environment::get_arguments();
        let command = args.get(1).map(String::as_str).unwrap_or("");
        let rest = &args[args.len().min(2)..];
        match command {
            "args" => print(&lines(args.iter())).await,
            "env" => {
                let env = environment::get_environment();
                let report =
                    rest.iter()
                        .map(|name| match env.iter().find(|(key, _)| key == name) {
                            Some((_, value)) => format!("{name}={value}"),
                            None => format!("{name} unset"),
                        });
                print(&lines(report)).await
            }
            "stdout" => print(&rest.join(" ")).await,
            "stderr" => eprint(&rest.join(" ")).await,
            "exit" => {
                print("exiting\n").await;
                exit::exit_with_code(rest.first().and_then(|c| c.parse().ok()).unwrap_or(0))
            }
            "fail" => return Err(()),
            // Waits a minute on the p3 clock: for the time limit.
            "sleep" => monotonic_clock::wait_for(60_000_000_000).await,
            "clocks" => {
                let resolution = monotonic_clock::get_resolution();
                let start = monotonic_clock::now();
                monotonic_clock::wait_for(20_000_000).await;
                let waited = monotonic_clock::now() - start;
                let wall = system_clock::now();
                print(&format!(
                    "resolution>0 {}\nwaited>=20ms {}\nwall-after-2020 {}\n",
                    resolution > 0,
                    waited >= 20_000_000,
                    wall.seconds > 1_577_836_800
                ))
                .await
            }
            "random" => {
                let (a, b) = (
                    wasip3::random::random::get_random_bytes(32),
                    wasip3::random::random::get_random_bytes(32),
                );
                print(&format!(
                    "lengths {} {}\ndiffer {}\n",
                    a.len(),
                    b.len(),
                    a != b
                ))
                .await
            }
            "write" => {
                let (path, text) = (arg(rest, 0).await, arg(rest, 1).await);
                let file = open(&path, OpenFlags::CREATE | OpenFlags::TRUNCATE, true).await;
                let (mut tx, rx) = wit_stream::new();
                let (written, ()) =
                    futures::join!(file.write_via_stream(rx, 0).into_future(), async {
                        let left = tx.write_all(text.as_bytes().to_vec()).await;
                        assert!(left.is_empty(), "the host stopped reading");
                        drop(tx);
                    });
                if let Err(e) = written {
                    fail(&format!("write {path}: {e:?}")).await;
                }
                print(&format!("wrote {} bytes to {path}\n", text.len())).await
            }
            "read" => {
                let path = arg(rest, 0).await;
                let file = open(&path, OpenFlags::empty(), false).await;
                let (rx, result) = file.read_via_stream(0);
                let bytes = rx.collect().await;
                if let Err(e) = result.await {
                    fail(&format!("read {path}: {e:?}")).await;
                }
                print(&String::from_utf8_lossy(&bytes)).await
            }
            "list" => {
                let path = arg(rest, 0).await;
                let dir = open_dir(&path).await;
                let (rx, result) = dir.read_directory();
                let mut names: Vec<String> =
                    rx.collect().await.into_iter().map(|e| e.name).collect();
                if let Err(e) = result.await {
                    fail(&format!("list {path}: {e:?}")).await;
                }
                names.sort();
                print(&lines(names.iter())).await
            }
            "symlink" => {
                let path = arg(rest, 0).await;
                let (dir, inner) = preopen_for(&path).await;
                let inner = if inner.is_empty() {
                    inner
                } else {
                    format!("{inner}/")
                };
                // (link, target): four that leave DIR, two that stay inside it.
                let links = [
                    ("up", ".."),
                    ("up3", "../../.."),
                    ("absolute", "/etc"),
                    ("sub/esc", "../.."),
                    ("inside", "inside.txt"),
                    ("sub/inside", "../inside.txt"),
                ];
                let mut report = String::new();
                for (link, target) in links {
                    let made = dir
                        .symlink_at(target.to_owned(), format!("{inner}{link}"))
                        .await;
                    let result = match made {
                        Ok(()) => "ok".to_owned(),
                        Err(e) => format!("{e:?}"),
                    };
                    report.push_str(&format!("{link} -> {target}: {result}\n"));
                }
                print(&report).await
            }
            "spew" => {
                let size: usize = arg(rest, 0).await.parse().unwrap_or(0);
                print(&"x".repeat(size)).await
            }
            "stat" => {
                let path = arg(rest, 0).await;
                let (dir, inner) = preopen_for(&path).await;
                match dir.stat_at(PathFlags::SYMLINK_FOLLOW, inner).await {
                    Ok(stat) => print(&format!("{path}: {:?} {}\n", stat.type_, stat.size)).await,
                    Err(e) => fail(&format!("stat {path}: {e:?}")).await,
                }
            }
            "touch" => {
                use wasip3::filesystem::types::NewTimestamp;
                let path = arg(rest, 0).await;
                let (dir, inner) = preopen_for(&path).await;
                let (accessed, modified) = (NewTimestamp::NoChange, NewTimestamp::Now);
                match dir
                    .set_times_at(PathFlags::empty(), inner, accessed, modified)
                    .await
                {
                    Ok(()) => print(&format!("touched {path}\n")).await,
                    Err(e) => fail(&format!("touch {path}: {e:?}")).await,
                }
            }
            "mkdir" | "rmdir" | "remove" => {
                let path = arg(rest, 0).await;
                let (dir, inner) = preopen_for(&path).await;
                let done = match command {
                    "mkdir" => dir.create_directory_at(inner).await,
                    "rmdir" => dir.remove_directory_at(inner).await,
                    _ => dir.unlink_file_at(inner).await,
                };
                match done {
                    Ok(()) => print(&format!("{command} {path}\n")).await,
                    Err(e) => fail(&format!("{command} {path}: {e:?}")).await,
                }
            }
            "rename" => {
                let (from, to) = (arg(rest, 0).await, arg(rest, 1).await);
                let (dir, old) = preopen_for(&from).await;
                let (new_dir, new) = preopen_for(&to).await;
                match dir.rename_at(old, &new_dir, new).await {
                    Ok(()) => print(&format!("renamed {from} to {to}\n")).await,
                    Err(e) => fail(&format!("rename {from}: {e:?}")).await,
                }
            }
            "create" => {
                let path = arg(rest, 0).await;
                let count: usize = arg(rest, 1).await.parse().unwrap_or(0);
                for i in 0..count {
                    let file = format!("{path}/file-{i}");
                    let (dir, inner) = preopen_for(&file).await;
                    let flags = OpenFlags::CREATE | OpenFlags::EXCLUSIVE;
                    match dir
                        .open_at(PathFlags::empty(), inner, flags, DescriptorFlags::WRITE)
                        .await
                    {
                        Ok(file) => drop(file),
                        Err(e) => fail(&format!("created {i}, then {file}: {e:?}")).await,
                    }
                }
                print(&format!("created {count}\n")).await
            }
            "count" => {
                let path = arg(rest, 0).await;
                let dir = open_dir(&path).await;
                let (mut rx, result) = dir.read_directory();
                let mut count = 0usize;
                while rx.next().await.is_some() {
                    count += 1;
                }
                if let Err(e) = result.await {
                    fail(&format!("count {path}: after {count}, {e:?}")).await;
                }
                print(&format!("{count} entries\n")).await
            }
            "http" => http_get(&arg(rest, 0).await).await,
            other => fail(&format!("unknown command `{other}`")).await,
        }
        Ok(())
    }
}

fn lines<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    items.map(|item| format!("{item}\n")).collect()
}

/// `http URL`, as a plugin author on any WASI 0.3 host writes it.
async fn http_get(url: &str) {
    use wasip3::http::client;
    use wasip3::http::types::{Fields, Request, Response, Scheme};
    let (scheme, rest) = match url.split_once("://") {
        Some(("http", rest)) => (Scheme::Http, rest),
        Some(("https", rest)) => (Scheme::Https, rest),
        _ => fail(&format!("`{url}` is not an http:// or https:// URL")).await,
    };
    let (authority, path) = rest.find('/').map_or((rest, "/"), |at| rest.split_at(at));
    // No body and no trailers: the writers are dropped, which sends the defaults.
    let (_, trailers) = wasip3::wit_future::new(|| Ok(None));
    let (request, _) = Request::new(Fields::new(), None, trailers, None);
    let set = request.set_scheme(Some(&scheme)).is_ok()
        && request.set_authority(Some(authority)).is_ok()
        && request.set_path_with_query(Some(path)).is_ok();
    if !set {
        fail(&format!(
            "`{url}`: the request refused its scheme, authority or path"
        ))
        .await;
    }
    let response = match client::send(request).await {
        Ok(response) => response,
        Err(code) => {
            print(&format!("error: {code:?}\n")).await;
            exit::exit_with_code(1);
            unreachable!("exit returned")
        }
    };
    print(&format!("status {}\n", response.get_status_code())).await;
    let (_, handled) = wasip3::wit_future::new(|| Ok(()));
    let (mut body, _trailers) = Response::consume_body(response, handled);
    let mut length = 0usize;
    loop {
        let (result, chunk) = body.read(Vec::with_capacity(64 << 10)).await;
        length += chunk.len();
        if !matches!(result, wasip3::wit_bindgen::StreamResult::Complete(_)) {
            break;
        }
    }
    print(&format!("body {length} bytes\n")).await
}

/// Writes `text` to stdout through a p3 stream; a refused write exits 3.
async fn print(text: &str) {
    let (mut tx, rx) = wit_stream::new();
    let (result, ()) = futures::join!(stdout::write_via_stream(rx).into_future(), async {
        tx.write_all(text.as_bytes().to_vec()).await;
        drop(tx);
    });
    if result.is_err() {
        exit::exit_with_code(3);
    }
}

async fn eprint(text: &str) {
    let (mut tx, rx) = wit_stream::new();
    let (_, ()) = futures::join!(stderr::write_via_stream(rx).into_future(), async {
        tx.write_all(text.as_bytes().to_vec()).await;
        drop(tx);
    });
}

async fn fail(message: &str) -> ! {
    eprint(&format!("p3-probe: {message}\n")).await;
    exit::exit_with_code(2);
    unreachable!("exit returned")
}

async fn arg(rest: &[String], index: usize) -> String {
    match rest.get(index) {
        Some(value) => value.clone(),
        None => fail(&format!("argument {} is missing", index + 1)).await,
    }
}

/// The preopen that holds `path`, and the path inside it.
async fn preopen_for(path: &str) -> (Descriptor, String) {
    let mut best: Option<(Descriptor, String)> = None;
    for (dir, name) in preopens::get_directories() {
        let inner = if name == "." || name.is_empty() {
            Some(path.trim_start_matches("./").to_owned())
        } else if path == name {
            Some(String::new())
        } else {
            path.strip_prefix(&format!("{}/", name.trim_end_matches('/')))
                .map(str::to_owned)
        };
        if let Some(inner) = inner {
            let inner = if inner == "." { String::new() } else { inner };
            if best.as_ref().is_none_or(|(_, b)| inner.len() < b.len()) {
                best = Some((dir, inner));
            }
        }
    }
    match best {
        Some(found) => found,
        None => fail(&format!("no preopened directory holds `{path}`")).await,
    }
}

/// Opens `path` for reading, or for writing with `flags`.
async fn open(path: &str, flags: OpenFlags, write: bool) -> Descriptor {
    let (dir, inner) = preopen_for(path).await;
    let access = if write {
        DescriptorFlags::WRITE
    } else {
        DescriptorFlags::READ
    };
    match dir.open_at(PathFlags::empty(), inner, flags, access).await {
        Ok(file) => file,
        Err(e) => fail(&format!("open {path}: {e:?}")).await,
    }
}

/// Opens the directory `path` for reading (a preopen itself as it is).
async fn open_dir(path: &str) -> Descriptor {
    let (dir, inner) = preopen_for(path).await;
    if inner.is_empty() {
        return dir;
    }
    let flags = DescriptorFlags::READ;
    match dir
        .open_at(PathFlags::empty(), inner, OpenFlags::DIRECTORY, flags)
        .await
    {
        Ok(dir) => dir,
        Err(e) => fail(&format!("open {path}: {e:?}")).await,
    }
}
