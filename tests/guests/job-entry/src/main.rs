//! Entry module for the jobs tests: imports `worldhost-test:greet/greet@0.1.0` (satisfied by
//! job-greeter or job-shouter) and exports `batch` besides `wasi:cli/run`.
//!
//! `job-entry [--fail] [--in DIR] [--out DIR]` (defaults `/in`, `/out`): reads every file in
//! DIR sorted by name, one name a line, prints and collects `greet(name)` for each, writes
//! `OUT/greetings.txt` and `OUT/sub/count.txt`, then with `--fail` exits with code 1 after
//! writing them (outputs of a failing job must never be published). `batch()` writes
//! `/out/batch.txt` containing `greet("batch")`.

use std::fs;

wit_bindgen::generate!({ path: "../wit/greet.wit", world: "job-entry" });

use worldhost_test::greet::greet::greet;

struct Entry;

impl Guest for Entry {
    fn batch() {
        fs::write("/out/batch.txt", greet("batch")).unwrap();
    }
}

export!(Entry);

fn main() {
    let (mut fail, mut input, mut output) = (false, "/in".to_string(), "/out".to_string());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--fail" => fail = true,
            "--in" => input = args.next().expect("--in needs a directory"),
            "--out" => output = args.next().expect("--out needs a directory"),
            other => panic!("unknown argument {other}"),
        }
    }
    let mut files: Vec<_> = fs::read_dir(&input)
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.file_type().unwrap().is_file())
        .map(|entry| entry.path())
        .collect();
    files.sort();
    let mut greetings = Vec::new();
    for file in files {
        for name in fs::read_to_string(file).unwrap().lines() {
            if name.is_empty() {
                continue;
            }
            let greeting = greet(name);
            println!("{greeting}");
            greetings.push(greeting);
        }
    }
    let text: String = greetings.iter().map(|g| format!("{g}\n")).collect();
    fs::write(format!("{output}/greetings.txt"), text).unwrap();
    fs::create_dir_all(format!("{output}/sub")).unwrap();
    fs::write(
        format!("{output}/sub/count.txt"),
        greetings.len().to_string(),
    )
    .unwrap();
    if fail {
        eprintln!("failing on purpose");
        std::process::exit(1);
    }
}
