//! Logging straight to journald, in its native protocol, when systemd runs the daemon.
//!
//! Lines written to stderr under systemd all land at the unit's default priority, so
//! `journalctl -p warning` would never show a failing probe, and an operator could only grep
//! text. Sent natively, each record carries its `PRIORITY` (error 3, warning 4, info 6,
//! debug 7) and every field of the event as a journal field of its own — `PROBE`,
//! `TYPE_NAME`, … — so `journalctl -u ssm-inventoryd PROBE=kernel` works. `MESSAGE` keeps the
//! fields too (`… probe=kernel`), as the text format prints them, so the default journal view
//! loses nothing.

use std::fmt::{self, Write as _};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;

/// Where journald listens for native records.
const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";
/// Bigger records are cut: a datagram over the socket's buffer would be refused whole, and
/// nothing the daemon logs needs more.
const MAX_FIELD_BYTES: usize = 48 * 1024;
const SYSLOG_IDENTIFIER: &str = "ssm-inventoryd";

/// True when stderr is the journal stream systemd connected (`JOURNAL_STREAM` holds its
/// device and inode), not merely inherited by a child started from a unit.
pub fn stderr_is_journal() -> bool {
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = stream.to_str().and_then(|s| s.split_once(':')) else {
        return false;
    };
    let Ok(meta) = std::fs::metadata("/proc/self/fd/2") else {
        return false;
    };
    dev.parse() == Ok(meta.dev()) && ino.parse() == Ok(meta.ino())
}

/// A `tracing` layer that sends each event to journald.
pub struct JournalLayer {
    socket: UnixDatagram,
}

impl JournalLayer {
    /// Fails when journald does not answer, so the caller can fall back to stderr.
    pub fn connect() -> std::io::Result<JournalLayer> {
        let socket = UnixDatagram::unbound()?;
        // journald discards an empty datagram; sending one proves someone listens.
        socket.send_to(&[], JOURNAL_SOCKET)?;
        Ok(JournalLayer { socket })
    }
}

impl<S: Subscriber> tracing_subscriber::Layer<S> for JournalLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let record = encode(event);
        if let Err(e) = self.socket.send_to(&record, JOURNAL_SOCKET) {
            // The journal is gone (journald restarting); stderr still reaches it once it is back.
            eprintln!(
                "journald refused a log record ({e}): {}",
                lossy_message(&record)
            );
        }
    }
}

/// journald's priorities: error 3, warning 4, info 6, debug and trace 7.
fn priority(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "3",
        Level::WARN => "4",
        Level::INFO => "6",
        _ => "7",
    }
}

/// Builds one native record: `NAME=value\n` per field, or the binary form
/// (`NAME\n`, 64-bit little-endian length, bytes, `\n`) for values with a newline.
fn encode(event: &Event<'_>) -> Vec<u8> {
    let meta = event.metadata();
    let mut visitor = Fields::default();
    event.record(&mut visitor);
    // Escaped like every other record (see `logging`): one record, one line.
    let mut message = super::escape(&visitor.message).into_owned();
    for (name, value) in &visitor.fields {
        let _ = write!(message, " {name}={}", super::escape(value));
    }
    let mut record = Vec::with_capacity(message.len() + 128);
    put(&mut record, "PRIORITY", priority(meta.level()));
    put(&mut record, "SYSLOG_IDENTIFIER", SYSLOG_IDENTIFIER);
    put(&mut record, "TARGET", meta.target());
    put(&mut record, "MESSAGE", &message);
    for (name, value) in &visitor.fields {
        if let Some(name) = field_name(name) {
            put(&mut record, &name, &super::escape(value));
        }
    }
    record
}

fn put(record: &mut Vec<u8>, name: &str, value: &str) {
    let value = cut(value);
    record.extend_from_slice(name.as_bytes());
    if value.contains('\n') {
        record.push(b'\n');
        record.extend_from_slice(&(value.len() as u64).to_le_bytes());
    } else {
        record.push(b'=');
    }
    record.extend_from_slice(value.as_bytes());
    record.push(b'\n');
}

fn cut(value: &str) -> &str {
    if value.len() <= MAX_FIELD_BYTES {
        return value;
    }
    let mut end = MAX_FIELD_BYTES;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

/// journald accepts `[A-Z0-9_]`, not starting with `_` (reserved for trusted fields) or a
/// digit, at most 64 characters; `type_name` becomes `TYPE_NAME`. Names that cannot be made
/// valid stay in `MESSAGE` only.
fn field_name(name: &str) -> Option<String> {
    let upper: String = name
        .chars()
        .map(|c| match c {
            'a'..='z' => c.to_ascii_uppercase(),
            'A'..='Z' | '0'..='9' | '_' => c,
            _ => '_',
        })
        .collect();
    let trimmed = upper.trim_start_matches('_');
    let reserved = ["MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "TARGET"];
    if trimmed.is_empty()
        || trimmed.len() > 64
        || trimmed.starts_with(|c: char| c.is_ascii_digit())
        || reserved.contains(&trimmed)
    {
        return None;
    }
    Some(trimmed.to_string())
}

fn lossy_message(record: &[u8]) -> String {
    String::from_utf8_lossy(record)
        .lines()
        .find_map(|l| l.strip_prefix("MESSAGE="))
        .unwrap_or("")
        .to_string()
}

#[derive(Default)]
struct Fields {
    message: String,
    fields: Vec<(&'static str, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.fields.push((field.name(), value.to_string()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.fields.push((field.name(), format!("{value:?}")));
        }
    }
}

#[cfg(test)]
mod tests;
