//! The example guests, run through the host as a user would.

use std::fs;
use std::path::Path;

use crate::support::harness::{EXAMPLES, RunExt, Target, guest, host, repo_root, run_host};
use crate::support::images::{self, OUTPUTS, png_size};

/// Runs image-resize in the cli world with the shipped input; returns the output directory.
fn resize_in_cli_world(target: Target) -> tempfile::TempDir {
    let inputs = repo_root().join("examples/image-resize/inputs");
    let outputs = tempfile::tempdir().unwrap();
    let wasm = guest(EXAMPLES, "image-resize", target);
    let ran = run_host([
        "run".to_owned(),
        "--dir".to_owned(),
        format!("{}::inputs:ro", inputs.display()),
        "--dir".to_owned(),
        format!("{}::outputs", outputs.path().display()),
        wasm.display().to_string(),
    ]);
    let stdout = ran.success();
    assert!(
        stdout.contains("360x200 -> 300x200"),
        "{target:?}: {stdout}"
    );
    outputs
}

#[test]
fn image_resize_shrinks_by_a_sixth_and_writes_every_image() {
    let original = fs::read(images::landscape()).unwrap();
    assert_eq!(png_size(&original), (360, 200));
    let [p1, p2] = Target::BOTH.map(resize_in_cli_world);
    for (name, size) in OUTPUTS {
        let bytes = fs::read(p2.path().join(name)).unwrap();
        assert_eq!(png_size(&bytes), size, "{name}");
        assert_eq!(
            bytes,
            fs::read(p1.path().join(name)).unwrap(),
            "{name}: wasip1 and wasip2 differ"
        );
    }
    // The original is re-encoded, not copied, so compare pixels through its size and that the
    // shrunk image really lost content (it is smaller than the original).
    assert!(fs::metadata(p2.path().join("shrunk.png")).unwrap().len() < original.len() as u64);
}

#[test]
fn image_resize_without_inputs_fails_cleanly() {
    let wasm = guest(EXAMPLES, "image-resize", Target::P2);
    let empty = tempfile::tempdir().unwrap();
    let ran = run_host([
        "run".to_owned(),
        "--dir".to_owned(),
        format!("{}::inputs", empty.path().display()),
        wasm.display().to_string(),
    ]);
    assert_eq!(ran.code, 1, "{ran:#?}");
    assert!(ran.stderr.contains("no .png image in `inputs`"), "{ran:#?}");
    assert!(!Path::new(&empty.path().join("outputs")).exists());
}

#[test]
fn the_example_job_publishes_the_images_to_the_default_store() {
    // The job file names the guest by its build path: build it first.
    guest(EXAMPLES, "image-resize", Target::P2);
    let store = images::store_with_input();
    let report = store.path().join("report.json");
    let ran = host()
        .env("WORLDHOST_STORE", store.path())
        .args(["run", "--job"])
        .arg(repo_root().join("examples/jobs/resize.toml"))
        .arg("--report")
        .arg(&report)
        .ran();
    assert!(ran.success().contains("360x200 -> 300x200"), "{ran:#?}");
    for (name, _) in OUTPUTS {
        assert!(store.path().join("outputs").join(name).exists(), "{name}");
    }
    let report: serde_json::Value = serde_json::from_slice(&fs::read(report).unwrap()).unwrap();
    assert_eq!(report["outputs"], "published");
    assert_eq!(report["objects_published"], OUTPUTS.len());
    assert_eq!(
        report["mounts"][0]["bytes_read"],
        fs::metadata(store.path().join("inputs/landscape.png"))
            .unwrap()
            .len()
    );
}
