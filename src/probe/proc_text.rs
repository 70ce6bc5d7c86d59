//! Reading a `/proc` file whole, as the probes do several times a second with probes every
//! second.
//!
//! Plain `read`s until the end: `read_to_string` asks for the size first (`statx` and
//! `lseek`), which `/proc` files never give, so those two calls would be spent on every read.

use std::fs::File;
use std::io::Read;

/// The rest of `file`, from where it stands, as text.
pub(super) fn read_whole(file: &mut File) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    String::from_utf8(bytes).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}
