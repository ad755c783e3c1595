//! Import module for the jobs tests: exports `worldhost-test:greet/greet@0.1.0`, which
//! job-entry imports. `greet(name)` returns `hello, NAME`.

wit_bindgen::generate!({ path: "../wit/greet.wit", world: "greeter" });

struct Greeter;

impl exports::worldhost_test::greet::greet::Guest for Greeter {
    fn greet(name: String) -> String {
        format!("hello, {name}")
    }
}

export!(Greeter);
