//! A 3 MiB file written in 64 KiB chunks and read back in odd-sized chunks, so a backend that
//! stores data in parts or ranges is exercised across part boundaries.

use crate::fs::{self, File};
use std::io::{self, Read, Write};

use crate::report::{Fnv1a, check, error, show, unit};
use crate::root::Root;
use crate::sys;

const SIZE: usize = 3 * 1024 * 1024;
const WRITE_CHUNK: usize = 64 * 1024;
const READ_CHUNK: usize = 12_345;

/// The byte at `index`: a pattern that does not repeat at any power-of-two period.
fn pattern(index: usize) -> u8 {
    ((index % 251) ^ (index / 4099 % 256)) as u8
}

pub fn run(root: &Root) {
    let path = root.path("large.bin");
    check("large-write", unit(write(&path)));
    check(
        "large-size",
        show(fs::metadata(&path), |meta| meta.len().to_string()),
    );

    let mut expected = Fnv1a::new();
    expected.update(&(0..SIZE).map(pattern).collect::<Vec<u8>>());
    let (size, checksum, matches) = match read(&path) {
        Ok((len, sum)) => {
            let matches = len == SIZE && sum.finish() == expected.finish();
            (len.to_string(), sum.finish(), matches.to_string())
        }
        Err(e) => (error(&e), error(&e), error(&e)),
    };
    check("large-read-size", size);
    check("large-read-checksum", checksum);
    check("large-read-matches-pattern", matches);

    let tail = File::open(&path).and_then(|file| {
        let mut buffer = [0; 8];
        let n = sys::read_at(&file, &mut buffer, (SIZE - 5) as u64)?;
        Ok(buffer[..n].to_vec())
    });
    let expected_tail: Vec<u8> = (SIZE - 5..SIZE).map(pattern).collect();
    check(
        "large-read-at-tail",
        show(tail, |bytes| (bytes == expected_tail).to_string()),
    );
    let boundary = File::open(&path).and_then(|file| {
        let mut buffer = vec![0; 10];
        sys::read_at(&file, &mut buffer, (WRITE_CHUNK * 7 - 5) as u64)?;
        Ok(buffer)
    });
    let expected_boundary: Vec<u8> = (WRITE_CHUNK * 7 - 5..WRITE_CHUNK * 7 + 5)
        .map(pattern)
        .collect();
    check(
        "large-read-at-chunk-boundary",
        show(boundary, |bytes| (bytes == expected_boundary).to_string()),
    );
    check("large-remove", unit(fs::remove_file(&path)));
}

fn write(path: &str) -> io::Result<()> {
    let mut file = File::create(path)?;
    for start in (0..SIZE).step_by(WRITE_CHUNK) {
        let chunk: Vec<u8> = (start..start + WRITE_CHUNK).map(pattern).collect();
        file.write_all(&chunk)?;
    }
    Ok(())
}

/// The length read and the checksum of the bytes, read in chunks of an odd size.
fn read(path: &str) -> io::Result<(usize, Fnv1a)> {
    let mut file = File::open(path)?;
    let (mut len, mut sum, mut buffer) = (0, Fnv1a::new(), vec![0; READ_CHUNK]);
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            return Ok((len, sum));
        }
        len += n;
        sum.update(&buffer[..n]);
    }
}
