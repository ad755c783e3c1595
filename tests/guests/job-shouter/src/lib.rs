//! Import module for the jobs tests, an alternative to job-greeter: exports
//! `worldhost-test:greet/greet@0.1.0` with `greet(name)` returning `HELLO, NAME!`, so a test
//! can tell which import module a job was composed with.

wit_bindgen::generate!({ path: "../wit/greet.wit", world: "greeter" });

struct Shouter;

impl exports::worldhost_test::greet::greet::Guest for Shouter {
    fn greet(name: String) -> String {
        format!("HELLO, {}!", name.to_uppercase())
    }
}

export!(Shouter);
