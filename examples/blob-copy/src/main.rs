//! A command written with the guest SDK: `blob-copy SOURCE DESTINATION` copies a blob with the
//! blob interface (not the filesystem), logs the copy with its fields, and prints what it did.
//! Run it in the cloud world: `host run --world cloud blob-copy.wasm inputs/a.txt copies/a.txt`.

use std::error::Error;

use worldhost::blob;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [source, destination] = args.as_slice() else {
        return Err("usage: blob-copy SOURCE DESTINATION".into());
    };
    if !blob::exists(source)? {
        return Err(format!("no blob at {source}").into());
    }
    blob::copy(source, destination)?;
    let bytes = blob::metadata(destination)?.size;
    worldhost::info!("copied", from = source, to = destination, bytes = bytes);
    println!("copied {source} to {destination} ({bytes} bytes)");
    Ok(())
}
