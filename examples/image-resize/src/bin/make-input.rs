//! `make-input [PATH]` draws the example's input image (default `inputs/landscape.png`):
//! a landscape with a flat sky and detailed objects, where seam carving has something to
//! keep and something to remove. Deterministic, so the shipped file can be made again.

use image::{Rgb, RgbImage};

const WIDTH: u32 = 360;
const HEIGHT: u32 = 200;

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "inputs/landscape.png".to_owned());
    let image = RgbImage::from_fn(WIDTH, HEIGHT, pixel);
    if let Err(e) = image.save(&path) {
        eprintln!("make-input: cannot write `{path}`: {e}");
        std::process::exit(1);
    }
    println!("wrote {path} ({WIDTH}x{HEIGHT})");
}

fn pixel(x: u32, y: u32) -> Rgb<u8> {
    let (fx, fy) = (x as f32, y as f32);
    // A sun on the left, a house and two trees on the hills; the sky between is empty.
    if (fx - 60.0).powi(2) + (fy - 45.0).powi(2) < 22.0f32.powi(2) {
        return Rgb([250, 210, 60]);
    }
    let hill = 135.0 + 14.0 * (fx / 37.0).sin() + 6.0 * (fx / 11.0).cos();
    let roof = (220.0..=300.0).contains(&fx) && fy > 70.0 + (fx - 260.0).abs() * 0.6 && fy < 100.0;
    if roof {
        return Rgb([150, 40, 30]);
    }
    if (230.0..=290.0).contains(&fx) && (100.0..hill + 5.0).contains(&fy) {
        let window = ((240.0..=255.0).contains(&fx) || (265.0..=280.0).contains(&fx))
            && (108.0..=122.0).contains(&fy);
        return if window {
            Rgb([90, 140, 200])
        } else {
            Rgb([220, 200, 160])
        };
    }
    for trunk_x in [140.0f32, 175.0] {
        let crown = fy > 60.0 && fy < 115.0 && (fx - trunk_x).abs() < (fy - 60.0) * 0.35;
        if crown {
            let shade = ((x * 7 + y * 13) % 40) as u8;
            return Rgb([20 + shade, 100 + shade, 30]);
        }
        if (fx - trunk_x).abs() < 4.0 && (115.0..hill).contains(&fy) {
            return Rgb([90, 60, 30]);
        }
    }
    if fy >= hill {
        // Grass with a little texture, darker towards the bottom.
        let texture = ((x * 31 + y * 17) % 23) as u8;
        let depth = ((fy - hill) * 0.5) as u8;
        return Rgb([40 + texture, 150u8.saturating_sub(depth) + texture, 50]);
    }
    // Sky: a smooth vertical gradient, cheap to carve away.
    let t = fy / HEIGHT as f32;
    Rgb([(110.0 + 80.0 * t) as u8, (170.0 + 60.0 * t) as u8, 235])
}
