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
