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
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[test]
    fn rust_log_wins_then_the_configured_level_then_info() {
        use tracing::Level;
        use tracing_subscriber::filter::LevelFilter;
        let level = |f: Targets, target: &str| {
            [
                Level::TRACE,
                Level::DEBUG,
                Level::INFO,
                Level::WARN,
                Level::ERROR,
            ]
            .into_iter()
            .find(|l| f.would_enable(target, l))
            .map_or(LevelFilter::OFF, LevelFilter::from_level)
        };
        assert_eq!(level(filter(None, None), "x"), LevelFilter::INFO);
        assert_eq!(level(filter(None, Some("warn")), "x"), LevelFilter::WARN);
        assert_eq!(
            level(filter(Some("debug"), Some("warn")), "x"),
            LevelFilter::DEBUG
        );
        assert_eq!(
            level(filter(Some(" "), Some("error")), "x"),
            LevelFilter::ERROR
        );
        let per_target = filter(Some("warn,aws_smithy_runtime=trace"), None);
        assert_eq!(
            level(per_target.clone(), "ssm_inventoryd"),
            LevelFilter::WARN
        );
        assert_eq!(
            level(per_target, "aws_smithy_runtime::client"),
            LevelFilter::TRACE
        );
        // Not a filter: the configured level, not silence.
        assert_eq!(
            level(filter(Some("a=b=c"), Some("error")), "x"),
            LevelFilter::ERROR
        );
    }

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape("plain text é"), "plain text é");
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
        assert_eq!(
            escape("a\nb\r\tc\u{1b}[31md\u{7}\u{85}"),
            "a\\nb\\r\\tc\\u{1b}[31md\\u{7}\\u{85}"
        );
    }

    /// A probe's stderr holding a whole fake record stays inside one line of the real one.
    #[test]
    fn a_forged_line_stays_on_the_real_records_line() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .without_time()
            .fmt_fields(escaped_fields())
            .finish();
        let forged = "oops\nERROR ssm_inventoryd: credentials stolen";
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(probe = "evil", stderr = %forged, "probe failed: {forged}");
        });
        let out = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert_eq!(out.lines().count(), 1, "{out}");
        assert!(
            out.contains(
                "probe failed: oops\\nERROR ssm_inventoryd: credentials stolen probe=\"evil\" stderr=oops\\nERROR"
            ),
            "{out}"
        );
    }
}
