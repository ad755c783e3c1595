//! `http-get URL [print]`: GETs `URL` (`http://` or `https://`) with
//! `wasi:http/outgoing-handler`, as a plugin author on any WASI 0.2 host writes it (the
//! `wasip2` crate's bindings), and prints `status N`, then `body N bytes`, reading the body
//! in 64 KiB reads as it streams. With `print`, the body follows as text. A request the host
//! refuses prints `error: ErrorCode::CODE` (the WIT `error-code`, as the bindings spell it) and exits 1.

use wasip2::http::outgoing_handler;
use wasip2::http::types::{Fields, OutgoingRequest, Scheme};
use wasip2::io::streams::StreamError;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(url) = args.first() else {
        eprintln!("usage: http-get URL [print]");
        std::process::exit(2);
    };
    let print = args.get(1).is_some_and(|a| a == "print");
    if let Err(error) = get(url, print) {
        println!("error: {error}");
        std::process::exit(1);
    }
}

fn get(url: &str, print: bool) -> Result<(), String> {
    let (scheme, rest) = match url.split_once("://") {
        Some(("http", rest)) => (Scheme::Http, rest),
        Some(("https", rest)) => (Scheme::Https, rest),
        _ => return Err(format!("`{url}` is not an http:// or https:// URL")),
    };
    let (authority, path) = rest.find('/').map_or((rest, "/"), |at| rest.split_at(at));
    let request = OutgoingRequest::new(Fields::new());
    request
        .set_scheme(Some(&scheme))
        .map_err(|()| "bad scheme")?;
    request
        .set_authority(Some(authority))
        .map_err(|()| "bad authority")?;
    request
        .set_path_with_query(Some(path))
        .map_err(|()| "bad path")?;
    let response = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
    response.subscribe().block();
    let response = match response.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(code))) => return Err(format!("{code:?}")),
        Some(Err(())) | None => return Err("the response was not ready".into()),
    };
    println!("status {}", response.status());
    let body = response.consume().map_err(|()| "no body")?;
    let stream = body.stream().map_err(|()| "no body stream")?;
    let mut length = 0u64;
    let mut text = Vec::new();
    loop {
        match stream.blocking_read(64 << 10) {
            Ok(chunk) => {
                length += chunk.len() as u64;
                if print {
                    text.extend_from_slice(&chunk);
                }
            }
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => return Err(e.to_debug_string()),
        }
    }
    println!("body {length} bytes");
    if print {
        println!("{}", String::from_utf8_lossy(&text));
    }
    Ok(())
}
