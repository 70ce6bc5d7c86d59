//! Where log records go and how they look: journald natively under systemd (see
//! its `journal` module), otherwise text or JSON lines on stderr.
//!
//! Probes and files put text of their own into log records (a failed run's stderr, a bad
//! file's content in a parse error). Every record therefore has its control characters
//! escaped — a newline becomes `\n` — so that a probe cannot print a line that looks like a
//! record of the daemon's: one record is always one line.

mod journal;

use std::borrow::Cow;
use std::fmt::Write as _;

use tracing_subscriber::field::MakeExt;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The `--log-format` choices.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// Sets up logging for the process. `RUST_LOG` wins over `configured` (`[agent] log_level`),
/// which wins over `info`.
///
/// Filtering is by level, optionally per target (`RUST_LOG=info,aws_smithy_runtime=debug`):
/// `tracing_subscriber`'s `Targets`, not its `EnvFilter`, whose span and field matching
/// brings a regular-expression engine into the binary for nothing the daemon needs (see the
/// binary-size notes in BENCHMARKS.md).
pub fn init(format: Format, configured: Option<&str>) {
    use std::io::IsTerminal;

    let filter = filter(std::env::var("RUST_LOG").ok().as_deref(), configured);
    let under_journald = journal::stderr_is_journal();
    if under_journald && format == Format::Text {
        match journal::JournalLayer::connect() {
            Ok(layer) => {
                tracing_subscriber::registry()
                    .with(filter)
                    .with(layer)
                    .init();
                return;
            }
            Err(e) => eprintln!("cannot reach journald ({e}); logging to stderr"),
        }
    }
    let builder = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match (format, under_journald) {
        // JSON strings escape control characters already.
        (Format::Json, _) => builder.json().finish().with(filter).init(),
        // journald stamps each line itself.
        (Format::Text, true) => builder
            .without_time()
            .fmt_fields(escaped_fields())
            .finish()
            .with(filter)
            .init(),
        (Format::Text, false) => builder
            .fmt_fields(escaped_fields())
            .finish()
            .with(filter)
            .init(),
    }
}

/// The filter from `RUST_LOG` (when set and valid), else from `configured`, else `info`. A
/// `RUST_LOG` that is not a filter is said once on stderr rather than silently ignored.
fn filter(rust_log: Option<&str>, configured: Option<&str>) -> Targets {
    let fallback = || {
        configured
            .and_then(|level| level.parse().ok())
            .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO))
    };
    match rust_log.map(str::trim).filter(|s| !s.is_empty()) {
        None => fallback(),
        Some(directives) => directives.parse().unwrap_or_else(|e| {
            eprintln!(
                "RUST_LOG={directives:?} is not a log filter ({e}); using the configured level"
            );
            fallback()
        }),
    }
}

/// The text format's fields, `message` first as it is and the rest as `name=value`, each
/// with control characters escaped.
fn escaped_fields() -> impl for<'w> tracing_subscriber::fmt::FormatFields<'w> + 'static {
    tracing_subscriber::fmt::format::debug_fn(|writer, field, value| {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        if field.name() == "message" {
            write!(writer, "{}", escape(&text))
        } else {
            write!(writer, "{}={}", field.name(), escape(&text))
        }
    })
    .delimited(" ")
}

/// Control characters as escapes: `\n`, `\r`, `\t`, `\\u{1b}` and so on; everything else as it
/// is. Borrowed when there is nothing to escape, which is nearly always.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests;
