//! Plain command (no wit-bindgen) for the jobs tests: `main` prints `main entry`; the exported
//! core function `alt` prints `alt entry` and writes `/out/alt.txt`, so a test can pick an
//! entry point other than `_start` in a core module.

#[unsafe(no_mangle)]
pub extern "C" fn alt() {
    println!("alt entry");
    std::fs::write("/out/alt.txt", "alt entry").unwrap();
}

fn main() {
    println!("main entry");
}
