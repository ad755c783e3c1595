//! `cli-probe COMMAND [ARGS]`: does one thing and reports it, so tests can check what the host
//! gave the guest. Errors go to stderr with exit code 2.

use std::io::{Read, Write};
use std::process::exit;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let command = args.get(1).map(String::as_str).unwrap_or("");
    let rest = &args[args.len().min(2)..];
    match command {
        // Every argument, argv[0] included, one per line.
        "args" => args.iter().for_each(|arg| println!("{arg}")),
        // `NAME=value` or `NAME unset` for each name asked for.
        "env" => {
            for name in rest {
                match std::env::var(name) {
                    Ok(value) => println!("{name}={value}"),
                    Err(_) => println!("{name} unset"),
                }
            }
        }
        "stdout" => print!("{}", rest.join(" ")),
        "stderr" => eprint!("{}", rest.join(" ")),
        "cat" => {
            let mut input = Vec::new();
            std::io::stdin()
                .read_to_end(&mut input)
                .unwrap_or_else(|e| fail(&e));
            std::io::stdout()
                .write_all(&input)
                .unwrap_or_else(|e| fail(&e));
        }
        "exit" => exit(rest.first().and_then(|code| code.parse().ok()).unwrap_or(0)),
        "trap" => core::arch::wasm32::unreachable(),
        "panic" => panic!("the probe was asked to panic"),
        "write" => {
            let (path, text) = (arg(rest, 0), arg(rest, 1));
            std::fs::write(path, text).unwrap_or_else(|e| fail(&e));
            println!("wrote {} bytes to {path}", text.len());
        }
        // Writes and exits without closing: the host must still store the content.
        "leak" => {
            let (path, text) = (arg(rest, 0), arg(rest, 1));
            let mut file = std::fs::File::create(path).unwrap_or_else(|e| fail(&e));
            file.write_all(text.as_bytes()).unwrap_or_else(|e| fail(&e));
            std::mem::forget(file);
            exit(0)
        }
        // Writes BYTES bytes, says so, and closes the file only after a line on stdin: lets a
        // test act (cut the store) while a write is staged.
        "write-wait" => {
            let (path, size) = (arg(rest, 0), arg(rest, 1));
            let size: usize = size.parse().unwrap_or_else(|e| fail(&e));
            let mut file = std::fs::File::create(path).unwrap_or_else(|e| fail(&e));
            file.write_all(&vec![b'x'; size])
                .unwrap_or_else(|e| fail(&e));
            println!("written");
            std::io::stdout().flush().unwrap_or_else(|e| fail(&e));
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .unwrap_or_else(|e| fail(&e));
            drop(file);
            println!("closed");
        }
        // MIB MiB, a sync, MIB MiB more, then close: a synced handle goes on writing.
        "write-sync" => {
            let (path, mib) = (arg(rest, 0), arg(rest, 1));
            let mib: usize = mib.parse().unwrap_or_else(|e| fail(&e));
            let mut file = std::fs::File::create(path).unwrap_or_else(|e| fail(&e));
            file.write_all(&vec![b'a'; mib << 20])
                .unwrap_or_else(|e| fail(&e));
            file.sync_all().unwrap_or_else(|e| fail(&e));
            file.write_all(&vec![b'b'; mib << 20])
                .unwrap_or_else(|e| fail(&e));
            drop(file);
            println!("wrote {} MiB", 2 * mib);
        }
        // Opens FILES files in DIR and writes MIB MiB to each, all open at once, then closes
        // them: staged content the host must not hold in memory all together.
        "hoard" => {
            let (dir, files, mib) = (arg(rest, 0), arg(rest, 1), arg(rest, 2));
            let files: usize = files.parse().unwrap_or_else(|e| fail(&e));
            let mib: usize = mib.parse().unwrap_or_else(|e| fail(&e));
            let block = vec![b'h'; 1 << 20];
            let mut open = Vec::new();
            for i in 0..files {
                let path = format!("{dir}/hoard-{i}");
                let mut file = std::fs::File::create(path).unwrap_or_else(|e| fail(&e));
                for _ in 0..mib {
                    file.write_all(&block).unwrap_or_else(|e| fail(&e));
                }
                open.push(file);
            }
            drop(open);
            println!("hoarded {files} files of {mib} MiB");
        }
        // Makes DIR, writes N small files in it, checks their size, reads them back, removes
        // them and DIR: the requests a cloud store sees for the commonest small-file work.
        "small-files" => {
            let (dir, files) = (arg(rest, 0), arg(rest, 1));
            let files: usize = files.parse().unwrap_or_else(|e| fail(&e));
            let name = |i: usize| format!("{dir}/small-{i}");
            // 100 bytes, different in each file.
            let content = |i: usize| format!("{i:>100}").into_bytes();
            std::fs::create_dir(dir).unwrap_or_else(|e| fail(&e));
            for i in 0..files {
                std::fs::write(name(i), content(i)).unwrap_or_else(|e| fail(&e));
            }
            let listed = std::fs::read_dir(dir).unwrap_or_else(|e| fail(&e)).count();
            if listed != files {
                fail(&format!("{dir}: {listed} entries listed"));
            }
            for i in 0..files {
                let size = std::fs::metadata(name(i))
                    .unwrap_or_else(|e| fail(&e))
                    .len();
                let read = std::fs::read(name(i)).unwrap_or_else(|e| fail(&e));
                if (size, &read) != (100, &content(i)) {
                    fail(&format!("{}: size {size}, read {read:?}", name(i)));
                }
            }
            for i in 0..files {
                std::fs::remove_file(name(i)).unwrap_or_else(|e| fail(&e));
            }
            std::fs::remove_dir(dir).unwrap_or_else(|e| fail(&e));
            println!("{files} files written, listed, checked, read and removed");
        }
        // Grows a new file to SIZE bytes without writing them.
        "grow" => {
            let size: u64 = arg(rest, 1).parse().unwrap_or_else(|e| fail(&e));
            let file = std::fs::File::create(arg(rest, 0)).unwrap_or_else(|e| fail(&e));
            file.set_len(size).unwrap_or_else(|e| fail(&e));
            println!("grew to {size}");
        }
        // Guests that break a limit.
        "spin" => loop {
            std::hint::black_box(());
        },
        // Writes MIB MiB to PATH and spins with the file still open (never closed, so never
        // committed): what the time limit must leave behind is nothing.
        "write-spin" => {
            let (path, mib) = (arg(rest, 0), arg(rest, 1));
            let mib: usize = mib.parse().unwrap_or_else(|e| fail(&e));
            let mut file = std::fs::File::create(path).unwrap_or_else(|e| fail(&e));
            file.write_all(&vec![b's'; mib << 20])
                .unwrap_or_else(|e| fail(&e));
            println!("written");
            std::io::stdout().flush().unwrap_or_else(|e| fail(&e));
            loop {
                std::hint::black_box(&file);
            }
        }
        "alloc" => {
            let mib: usize = arg(rest, 0).parse().unwrap_or_else(|e| fail(&e));
            let mut blocks = Vec::new();
            for _ in 0..mib {
                blocks.push(std::hint::black_box(vec![1u8; 1 << 20]));
            }
            println!("allocated {} MiB", blocks.len());
        }
        "flood" => {
            let line = [b'y'; 1023];
            let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
            let to_stderr = rest.first().is_some_and(|target| target == "stderr");
            loop {
                let result = if to_stderr {
                    err.write_all(&line)
                } else {
                    out.write_all(&line)
                };
                result.unwrap_or_else(|e| fail(&e));
            }
        }
        "fill" => {
            let mut file = std::fs::File::create(arg(rest, 0)).unwrap_or_else(|e| fail(&e));
            let block = vec![0u8; 1 << 20];
            loop {
                file.write_all(&block).unwrap_or_else(|e| fail(&e));
            }
        }
        "read" => {
            let text = std::fs::read_to_string(arg(rest, 0)).unwrap_or_else(|e| fail(&e));
            print!("{text}");
        }
        "ls" => {
            let mut names: Vec<String> = std::fs::read_dir(arg(rest, 0))
                .unwrap_or_else(|e| fail(&e))
                .map(|entry| {
                    entry
                        .unwrap_or_else(|e| fail(&e))
                        .file_name()
                        .to_string_lossy()
                        .into_owned()
                })
                .collect();
            names.sort();
            names.iter().for_each(|name| println!("{name}"));
        }
        "rm" => {
            std::fs::remove_file(arg(rest, 0)).unwrap_or_else(|e| fail(&e));
            println!("removed {}", arg(rest, 0));
        }
        "rmdir" => {
            std::fs::remove_dir(arg(rest, 0)).unwrap_or_else(|e| fail(&e));
            println!("removed {}", arg(rest, 0));
        }
        "mv" => {
            let (from, to) = (arg(rest, 0), arg(rest, 1));
            std::fs::rename(from, to).unwrap_or_else(|e| fail(&e));
            println!("moved {from} to {to}");
        }
        // `file`, `dir` or the error, for what PATH names (not following a link).
        "stat" => match std::fs::symlink_metadata(arg(rest, 0)) {
            Ok(meta) if meta.is_dir() => println!("dir"),
            Ok(meta) if meta.is_file() => println!("file {}", meta.len()),
            Ok(_) => println!("other"),
            Err(e) => fail(&e),
        },
        // A symbolic link at LINK whose content is TARGET.
        "symlink" => {
            let (target, link) = (arg(rest, 0), arg(rest, 1));
            symlink_path(target, link).unwrap_or_else(|e| fail(&e));
            println!("linked {link} -> {target}");
        }
        "connect" => match std::net::TcpStream::connect(arg(rest, 0)) {
            Ok(_) => println!("connected"),
            Err(e) => fail(&e),
        },
        other => {
            eprintln!("cli-probe: unknown command `{other}`");
            exit(2)
        }
    }
}

/// `symlink(2)` through wasi-libc (std's `symlink_path` is unstable on the pinned toolchain).
fn symlink_path(target: &str, link: &str) -> std::io::Result<()> {
    unsafe extern "C" {
        fn symlink(target: *const std::ffi::c_char, link: *const std::ffi::c_char) -> i32;
    }
    let c_string = |text: &str| {
        std::ffi::CString::new(text)
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))
    };
    let (target, link) = (c_string(target)?, c_string(link)?);
    // SAFETY: both are NUL-terminated strings that outlive the call.
    match unsafe { symlink(target.as_ptr(), link.as_ptr()) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

fn arg(rest: &[String], index: usize) -> &str {
    rest.get(index).map(String::as_str).unwrap_or_else(|| {
        eprintln!("cli-probe: missing argument {}", index + 1);
        exit(2)
    })
}

fn fail(error: &dyn std::fmt::Display) -> ! {
    eprintln!("cli-probe: {error}");
    exit(2)
}
