//! Content-aware image resize by seam carving, after Bacalhau's Rust WASM example.
//!
//! `image-resize [INPUT]` reads INPUT (default: the first `.png` in `inputs/`), removes
//! width / 6 vertical seams one at a time, and writes to `outputs/`:
//! `original.png`, `shrunk.png`, `annotated.png` (the removed seams drawn on the original),
//! `gradients.png` (the Sobel gradient magnitudes that seam carving minimises) and
//! `annotated_gradients.png` (the seams drawn on those).
//!
//! It uses nothing but `std::fs`, so the same binary reads and writes a host directory in the
//! `cli` world and a bucket in the `cloud` world.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use image::{GrayImage, Luma, Pixel, RgbImage};
use imageproc::definitions::Clamp;
use imageproc::gradients::sobel_gradient_map;
use imageproc::map::map_pixels;
use imageproc::seam_carving::{draw_vertical_seams, find_vertical_seam, remove_vertical_seam};

const INPUT_DIR: &str = "inputs";
const OUTPUT_DIR: &str = "outputs";

fn main() -> ExitCode {
    match resize(std::env::args().nth(1).map(PathBuf::from)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("image-resize: {message}");
            ExitCode::FAILURE
        }
    }
}

fn resize(input: Option<PathBuf>) -> Result<(), String> {
    let input = match input {
        Some(path) => path,
        None => first_png(Path::new(INPUT_DIR))?,
    };
    let original: RgbImage = image::open(&input)
        .map_err(|e| format!("cannot read image `{}`: {e}", input.display()))?
        .to_rgb8();
    let output_dir = Path::new(OUTPUT_DIR);
    std::fs::create_dir_all(output_dir)
        .map_err(|e| format!("cannot create `{}`: {e}", output_dir.display()))?;
    let save = |image: &dyn Fn(&Path) -> image::ImageResult<()>, name: &str| {
        let path = output_dir.join(name);
        image(&path).map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
        println!("wrote {}", path.display());
        Ok::<(), String>(())
    };
    save(&|path| original.save(path), "original.png")?;

    // Remove one seam at a time, keeping each so they can be drawn on the original.
    let seams_to_remove = original.width() / 6;
    println!(
        "{}: {}x{}, removing {seams_to_remove} seams",
        input.display(),
        original.width(),
        original.height()
    );
    let mut shrunk = original.clone();
    let mut seams = Vec::with_capacity(seams_to_remove as usize);
    for _ in 0..seams_to_remove {
        let seam = find_vertical_seam(&shrunk);
        shrunk = remove_vertical_seam(&shrunk, &seam);
        seams.push(seam);
    }
    save(&|path| shrunk.save(path), "shrunk.png")?;

    let gray = map_pixels(&original, |p| p.to_luma());
    let annotated = draw_vertical_seams(&gray, &seams);
    save(&|path| annotated.save(path), "annotated.png")?;

    let gradients = sobel_gradient_map(&original, |p| {
        let mean = (u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2])) / 3;
        Luma([mean])
    });
    let gradients: GrayImage = map_pixels(&gradients, |p| Luma([<u8 as Clamp<u32>>::clamp(p[0])]));
    save(&|path| gradients.save(path), "gradients.png")?;
    let annotated_gradients = draw_vertical_seams(&gradients, &seams);
    save(
        &|path| annotated_gradients.save(path),
        "annotated_gradients.png",
    )?;
    println!(
        "{}x{} -> {}x{}",
        original.width(),
        original.height(),
        shrunk.width(),
        shrunk.height()
    );
    Ok(())
}

/// The first `.png` in `dir`, by name, so runs are repeatable.
fn first_png(dir: &Path) -> Result<PathBuf, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        format!(
            "cannot list `{}`: {e} (pass an image path instead)",
            dir.display()
        )
    })?;
    let mut pngs: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.extension()
                .is_some_and(|ext| ext.eq_ignore_ascii_case("png"))
        })
        .collect();
    pngs.sort();
    pngs.into_iter()
        .next()
        .ok_or_else(|| format!("no .png image in `{}`", dir.display()))
}
