//! The image-resize example's files: its shipped input and the five images it writes.

use std::path::PathBuf;

use super::harness::repo_root;

/// The images the example writes into `outputs/`, with their sizes: only `shrunk.png` is
/// smaller than the input.
pub const OUTPUTS: [(&str, (u32, u32)); 5] = [
    ("original.png", (360, 200)),
    ("shrunk.png", (300, 200)),
    ("annotated.png", (360, 200)),
    ("gradients.png", (360, 200)),
    ("annotated_gradients.png", (360, 200)),
];

/// The example's input, a 360x200 PNG.
pub fn landscape() -> PathBuf {
    repo_root().join("examples/image-resize/inputs/landscape.png")
}

/// A store directory holding the input at `inputs/landscape.png`.
pub fn store_with_input() -> tempfile::TempDir {
    let store = tempfile::tempdir().unwrap();
    std::fs::create_dir(store.path().join("inputs")).unwrap();
    std::fs::copy(landscape(), store.path().join("inputs/landscape.png")).unwrap();
    store
}

/// Checks every output, read by its name with `read`, for its size.
#[track_caller]
pub fn check_outputs(read: impl Fn(&str) -> Vec<u8>) {
    for (name, size) in OUTPUTS {
        assert_eq!(png_size(&read(name)), size, "{name}");
    }
}

/// Width and height from a PNG's IHDR chunk, checking the signature.
pub fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}
