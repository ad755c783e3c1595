//! `sqlite-guest DIR STEP...`: runs SQLite (bundled, through rusqlite) on databases in DIR, a
//! preopened guest directory, one step after another, and prints a transcript. The integration
//! tests run the same steps in the `cli` world (a real directory) and in the `cloud` world (blob
//! storage) and compare the transcripts, which must be identical.
//!
//! Steps, on `DIR/test.db` unless said otherwise:
//! - `env`: which SQLite, which VFS (how it locks), the journal mode, and whether the lock is
//!   visible as a directory while a transaction is open.
//! - `fill`: creates a table and inserts 1,000 rows in 10 transactions.
//! - `modify`: reopens the database, updates, deletes, runs `VACUUM`.
//! - `check`: reopens the database and prints counts, sums and `PRAGMA integrity_check`.
//! - `crash`: begins a transaction, inserts enough to spill pages into the database file, and
//!   exits with status 3 without committing (the next run must see the previous state).
//! - `unlock`: removes the lock a crashed run left behind (`test.db.lock`, see `env`).
//! - `big`: writes `DIR/big.db`, larger than 8 MiB, reads it back, changes it, checks it.
//!
//! # Transcript
//!
//! One line per check, `<step>-<check>: <value>`, then `done`. Values are deterministic:
//! counts, sums, checksums, the integrity check's answer, file names, never times. A failed
//! SQLite call prints `error <message>` and ends the step; the program still exits 0 (except
//! `crash`), so the transcript shows where a world went wrong.

use std::fs;
use std::path::Path;

use rusqlite::{Connection, OpenFlags, params};

/// The rows `fill` inserts, in transactions of `BATCH`.
const ROWS: i64 = 1_000;
const BATCH: i64 = 100;
/// `big`: rows of `BLOB_SIZE` bytes, enough for a database above 8 MiB (the host's in-memory
/// spool limit, so a cloud-world host stages it on disk).
const BIG_ROWS: i64 = 2_400;
const BLOB_SIZE: usize = 4_096;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((dir, steps)) = args.split_first().filter(|(_, steps)| !steps.is_empty()) else {
        eprintln!("usage: sqlite-guest DIR STEP... (env fill modify check crash unlock big)");
        std::process::exit(2)
    };
    let dir = Path::new(dir);
    for step in steps {
        let result = match step.as_str() {
            "env" => env(dir),
            "fill" => fill(dir),
            "modify" => modify(dir),
            "check" => check_step(dir, "check"),
            "crash" => crash(dir),
            "unlock" => unlock(dir),
            "big" => big(dir),
            other => {
                eprintln!("sqlite-guest: unknown step {other:?}");
                std::process::exit(2)
            }
        };
        if let Err(e) = result {
            line(step, "error", describe(&*e));
        }
        line(step, "files", listing(dir));
    }
    println!("done");
}

/// Prints `<step>-<id>: <value>`.
fn line(step: &str, id: &str, value: impl std::fmt::Display) {
    println!("{step}-{id}: {value}");
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// An error's message, with SQLite's extended result code when it has one (`SQLITE_IOERR_*`
/// codes say which file operation failed: 2570 is `SQLITE_IOERR_DELETE`, 1290 `_FSYNC`...).
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    match e.downcast_ref::<rusqlite::Error>() {
        Some(rusqlite::Error::SqliteFailure(code, _)) => {
            format!("{e} (extended code {})", code.extended_code)
        }
        _ => e.to_string(),
    }
}

/// Opens `DIR/name`, creating it if needed. rusqlite waits up to 5 s for a lock by default;
/// a lock held here is never released by anyone else, so fail at once. Temporary tables and
/// indices (VACUUM's copy, large sorts) stay in memory: SQLite's WASI build leaves `fchmod`
/// out of its system-call table yet calls it when it creates a temporary file whose mode
/// differs from the one asked for, which traps ("uninitialized element" in `robust_open`).
fn open(dir: &Path, name: &str) -> Result<Connection> {
    let db = Connection::open(dir.join(name))?;
    db.busy_timeout(std::time::Duration::ZERO)?;
    db.pragma_update(None, "temp_store", "MEMORY")?;
    Ok(db)
}

/// The names in DIR with their sizes, sorted: shows leftover journals and lock directories.
fn listing(dir: &Path) -> String {
    let names = fs::read_dir(dir).and_then(|entries| {
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry?;
            let meta = entry.metadata()?;
            let name = entry.file_name().to_string_lossy().into_owned();
            names.push(if meta.is_dir() {
                format!("{name}/")
            } else {
                format!("{name}={}", meta.len())
            });
        }
        names.sort();
        Ok(names)
    });
    match names {
        Ok(names) if names.is_empty() => "(empty)".to_owned(),
        Ok(names) => names.join(" "),
        Err(e) => format!("error {e}"),
    }
}

fn env(dir: &Path) -> Result<()> {
    line("env", "sqlite-version", rusqlite::version());
    // SAFETY: a null name asks for the default VFS, which lives as long as the library.
    let vfs = unsafe {
        let vfs = rusqlite::ffi::sqlite3_vfs_find(std::ptr::null());
        std::ffi::CStr::from_ptr((*vfs).zName).to_string_lossy()
    };
    line("env", "default-vfs", vfs);
    let db = open(dir, "env.db")?;
    let options: Vec<String> = db
        .prepare("PRAGMA compile_options")?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let wanted = [
        "THREADSAFE",
        "OMIT_WAL",
        "OMIT_LOAD_EXTENSION",
        "TEMP_STORE",
    ];
    let shown: Vec<&String> = options
        .iter()
        .filter(|option| wanted.iter().any(|w| option.starts_with(w)))
        .collect();
    line("env", "compile-options", format!("{shown:?}"));
    let mode: String = db.query_row("PRAGMA journal_mode", [], |row| row.get(0))?;
    line("env", "journal-mode", mode);
    let wal: String = db.query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))?;
    line("env", "journal-mode-wal-asked", wal);
    db.execute_batch("CREATE TABLE IF NOT EXISTS t(x); BEGIN IMMEDIATE; INSERT INTO t VALUES (1)")?;
    line("env", "files-during-transaction", listing(dir));
    // A second connection while the first holds the lock: what two writers would see.
    let second = open(dir, "env.db")
        .and_then(|db| Ok(db.execute("INSERT INTO t VALUES (2)", [])?))
        .map_or_else(
            |e| format!("error {}", describe(&*e)),
            |n| format!("inserted {n}"),
        );
    line("env", "second-writer-during-transaction", second);
    db.execute_batch("COMMIT")?;
    drop(db);
    fs::remove_file(dir.join("env.db"))?;
    Ok(())
}

/// The deterministic name and payload of row `id`.
fn row(id: i64) -> (String, Vec<u8>) {
    let payload = (0..64).map(|i| ((id * 31 + i) % 251) as u8).collect();
    (format!("row-{id:04}"), payload)
}

fn fill(dir: &Path) -> Result<()> {
    let mut db = open(dir, "test.db")?;
    db.execute_batch(
        "CREATE TABLE items(
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            value INTEGER NOT NULL,
            payload BLOB NOT NULL
        );
        CREATE INDEX items_value ON items(value);",
    )?;
    for batch in 0..ROWS / BATCH {
        let tx = db.transaction()?;
        {
            let mut insert =
                tx.prepare("INSERT INTO items(id, name, value, payload) VALUES (?1, ?2, ?3, ?4)")?;
            for id in batch * BATCH + 1..=(batch + 1) * BATCH {
                let (name, payload) = row(id);
                insert.execute(params![id, name, id * id % 1009, payload])?;
            }
        }
        tx.commit()?;
    }
    drop(db);
    summary(dir, "fill")
}

fn modify(dir: &Path) -> Result<()> {
    let db = open(dir, "test.db")?;
    let updated = db.execute(
        "UPDATE items SET value = value * 2, name = name || '-x' WHERE id % 3 = 0",
        [],
    )?;
    line("modify", "updated", updated);
    let deleted = db.execute("DELETE FROM items WHERE id % 7 = 0", [])?;
    line("modify", "deleted", deleted);
    db.execute_batch("VACUUM")?;
    line("modify", "vacuum", "ok");
    drop(db);
    summary(dir, "modify")
}

/// Reopens test.db and prints what it holds.
fn summary(dir: &Path, step: &str) -> Result<()> {
    let db = open(dir, "test.db")?;
    let (count, sum, names): (i64, i64, i64) = db.query_row(
        "SELECT count(*), total(value), total(length(name)) FROM items",
        [],
        |row| {
            Ok((
                row.get(0)?,
                row.get::<_, f64>(1)? as i64,
                row.get::<_, f64>(2)? as i64,
            ))
        },
    )?;
    line(step, "count", count);
    line(step, "value-sum", sum);
    line(step, "name-length-sum", names);
    let checksum: i64 = db.query_row(
        "SELECT total(unicode(substr(payload, 1 + id % 64, 1)) * id) FROM items",
        [],
        |row| Ok(row.get::<_, f64>(0)? as i64),
    )?;
    line(step, "payload-checksum", checksum);
    let integrity: String = db.query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
    line(step, "integrity-check", integrity);
    let pages: i64 = db.query_row("PRAGMA page_count", [], |row| row.get(0))?;
    line(step, "page-count", pages);
    Ok(())
}

fn check_step(dir: &Path, step: &str) -> Result<()> {
    // Read-only: checking must not create a database that is not there.
    let db = Connection::open_with_flags(dir.join("test.db"), OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    drop(db);
    summary(dir, step)
}

fn crash(dir: &Path) -> Result<()> {
    let db = open(dir, "test.db")?;
    // A tiny page cache makes SQLite write changed pages into the database file before the
    // commit (having saved the originals in the journal), so a crash leaves a changed file.
    db.execute_batch("PRAGMA cache_size = 2; BEGIN")?;
    let mut insert =
        db.prepare("INSERT INTO items(id, name, value, payload) VALUES (?1, ?2, ?3, ?4)")?;
    for id in 10_001..=12_000 {
        let (name, payload) = row(id);
        insert.execute(params![id, name, 1, payload])?;
    }
    db.execute("DELETE FROM items WHERE id < 500", [])?;
    line("crash", "files-before-exit", listing(dir));
    line("crash", "exiting", "3");
    std::process::exit(3)
}

fn unlock(dir: &Path) -> Result<()> {
    fs::remove_dir(dir.join("test.db.lock"))?;
    line("unlock", "removed", "test.db.lock");
    Ok(())
}

/// The deterministic blob of row `id` in big.db.
fn blob(id: i64) -> Vec<u8> {
    (0..BLOB_SIZE as i64)
        .map(|i| ((i * 7 + id * 13 + i / 97) % 256) as u8)
        .collect()
}

fn big(dir: &Path) -> Result<()> {
    let mut db = open(dir, "big.db")?;
    db.execute_batch("CREATE TABLE blobs(id INTEGER PRIMARY KEY, data BLOB NOT NULL)")?;
    for batch in 0..BIG_ROWS / 400 {
        let tx = db.transaction()?;
        {
            let mut insert = tx.prepare("INSERT INTO blobs(id, data) VALUES (?1, ?2)")?;
            for id in batch * 400 + 1..=(batch + 1) * 400 {
                insert.execute(params![id, blob(id)])?;
            }
        }
        tx.commit()?;
    }
    drop(db);
    let size = fs::metadata(dir.join("big.db"))?.len();
    line("big", "larger-than-8-mib", size > 8 << 20);
    let db = open(dir, "big.db")?;
    let mut matching = 0;
    let mut read = db.prepare("SELECT id, data FROM blobs ORDER BY id")?;
    let mut rows = read.query([])?;
    while let Some(row) = rows.next()? {
        let (id, data): (i64, Vec<u8>) = (row.get(0)?, row.get(1)?);
        matching += i64::from(data == blob(id));
    }
    drop(rows);
    drop(read);
    line("big", "rows-read-back-intact", matching);
    let deleted = db.execute("DELETE FROM blobs WHERE id % 2 = 0", [])?;
    line("big", "deleted", deleted);
    db.execute("UPDATE blobs SET data = zeroblob(100) WHERE id % 5 = 0", [])?;
    db.execute_batch("VACUUM")?;
    let (count, bytes): (i64, i64) =
        db.query_row("SELECT count(*), sum(length(data)) FROM blobs", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
    line("big", "count", count);
    line("big", "bytes", bytes);
    let integrity: String = db.query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
    line("big", "integrity-check", integrity);
    drop(db);
    let size = fs::metadata(dir.join("big.db"))?.len();
    line("big", "size-after-vacuum", size);
    Ok(())
}
