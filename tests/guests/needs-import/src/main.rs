//! Imports `test:missing/clock`, which no worldhost world provides: `host run` must refuse it
//! by name before instantiating, and `host inspect` must list it as missing.

wit_bindgen::generate!({
    inline: "
        package test:missing;
        interface clock { now: func() -> u64; }
        world needs { import clock; }
    ",
});

fn main() {
    println!("{}", test::missing::clock::now());
}
