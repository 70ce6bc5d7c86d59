use super::*;
use std::sync::{Arc, Mutex};
use tracing_subscriber::layer::SubscriberExt;

/// Captures what would be sent, instead of sending it.
struct Capture(Arc<Mutex<Vec<Vec<u8>>>>);

impl<S: Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        self.0.lock().unwrap().push(encode(event));
    }
}

fn capture(f: impl FnOnce()) -> Vec<Vec<u8>> {
    let records = Arc::new(Mutex::new(Vec::new()));
    let subscriber = tracing_subscriber::registry().with(Capture(records.clone()));
    tracing::subscriber::with_default(subscriber, f);
    // The subscriber, and with it the layer's clone, is gone once `with_default` returns.
    Arc::try_unwrap(records).unwrap().into_inner().unwrap()
}

#[test]
fn records_carry_priority_and_fields() {
    let records = capture(|| {
        tracing::warn!(
            probe = "kernel",
            type_name = "Custom:Kernel",
            "probe failed"
        );
        tracing::info!("started");
        tracing::error!("broken");
        tracing::debug!("detail");
    });
    let text = String::from_utf8(records[0].clone()).unwrap();
    assert!(text.contains("PRIORITY=4\n"), "{text}");
    assert!(
        text.contains("MESSAGE=probe failed probe=kernel type_name=Custom:Kernel\n"),
        "{text}"
    );
    assert!(text.contains("PROBE=kernel\n"), "{text}");
    assert!(text.contains("TYPE_NAME=Custom:Kernel\n"), "{text}");
    assert!(
        text.contains("SYSLOG_IDENTIFIER=ssm-inventoryd\n"),
        "{text}"
    );
    let priorities: Vec<&str> = records
        .iter()
        .map(|r| {
            let t = std::str::from_utf8(r).unwrap();
            &t[t.find("PRIORITY=").unwrap() + 9..][..1]
        })
        .collect();
    assert_eq!(priorities, ["4", "6", "3", "7"]);
}

/// What a probe printed is escaped in MESSAGE and in its own field alike: a record is one
/// line in every view of the journal.
#[test]
fn newlines_from_probes_are_escaped() {
    let records = capture(|| tracing::warn!(stderr = "a\nb", "x\ny"));
    let text = String::from_utf8(records[0].clone()).unwrap();
    assert!(text.contains("MESSAGE=x\\ny stderr=a\\nb\n"), "{text}");
    assert!(text.contains("STDERR=a\\nb\n"), "{text}");
}

/// A value with a newline would be sent in the binary form, never as two fields.
#[test]
fn multi_line_values_use_the_binary_form() {
    let mut record = Vec::new();
    put(&mut record, "STDERR", "a\nb");
    assert_eq!(record, b"STDERR\n\x03\0\0\0\0\0\0\0a\nb\n");
}

#[test]
fn field_names_follow_journald_rules() {
    assert_eq!(field_name("type_name").as_deref(), Some("TYPE_NAME"));
    assert_eq!(field_name("probe").as_deref(), Some("PROBE"));
    assert_eq!(field_name("_pid").as_deref(), Some("PID"));
    assert_eq!(field_name("message"), None);
    assert_eq!(field_name("priority"), None);
    assert_eq!(field_name("1x"), None);
    assert_eq!(field_name("a.b").as_deref(), Some("A_B"));
}

#[test]
fn long_values_are_cut_on_a_character_boundary() {
    let long = "é".repeat(MAX_FIELD_BYTES);
    let cut = cut(&long);
    assert!(cut.len() <= MAX_FIELD_BYTES);
    assert!(cut.len() > MAX_FIELD_BYTES - 2);
}
