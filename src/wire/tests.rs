use super::*;
use crate::inventory::Row;

/// The body as serde_json writes it from rows, the SDK's member order: the independent
/// rendering the daemon's must equal byte for byte.
fn oracle_body(instance_id: &str, item: &Item, payload: Payload) -> Vec<u8> {
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Full<'a> {
        type_name: &'a str,
        schema_version: &'a str,
        capture_time: &'a str,
        content_hash: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        content: Option<Vec<Row>>,
    }
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Request<'a> {
        instance_id: &'a str,
        items: [Full<'a>; 1],
    }
    serde_json::to_vec(&Request {
        instance_id,
        items: [Full {
            type_name: item.type_name(),
            schema_version: item.schema_version(),
            capture_time: item.capture_time(),
            content_hash: item.content_hash(),
            content: (payload == Payload::Full).then(|| item.content()),
        }],
    })
    .unwrap()
}
use crate::inventory::RawItem;

fn item(type_name: &str, rows: &[&[(&str, &str)]]) -> Item {
    Item::new(RawItem {
        type_name: type_name.into(),
        schema_version: "1.0".into(),
        capture_time: "2026-11-27T10:00:00Z".into(),
        rows: rows
            .iter()
            .map(|r| {
                r.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .collect(),
        ..RawItem::default()
    })
    .unwrap()
}

#[test]
fn body_is_overhead_plus_items_plus_commas() {
    let a = item("Custom:A", &[&[("Stage", "PreProd")]]);
    let b = item(
        "Custom:B",
        &[&[("Quote", "say \"hi\"\n\u{1}"), ("Ünïcode", "€")]],
    );
    let id = "i-0123456789abcdef0";
    let body = request_body(id, &[(&a, Payload::Full), (&b, Payload::HashOnly)]);
    assert_eq!(
        body.len(),
        request_overhead(id)
            + item_bytes(&a, Payload::Full)
            + 1
            + item_bytes(&b, Payload::HashOnly)
    );
    let text = String::from_utf8(body).unwrap();
    assert!(text.starts_with(r#"{"InstanceId":"i-0123456789abcdef0","Items":[{"TypeName":"Custom:A","SchemaVersion":"1.0","CaptureTime":"2026-11-27T10:00:00Z","ContentHash":"Rj1EYYBMiRLsd5ATYE2hUw==","Content":[{"Stage":"PreProd"}]}"#), "{text}");
    assert!(!text[text.find("Custom:B").unwrap()..].contains("Content\""));
}

proptest::proptest! {
    /// The size taken from the item's canonical length is the size of what is serialised,
    /// whatever the rows hold (escapes, multi-byte text, empty content, kept order).
    #[test]
    fn item_bytes_is_the_serialised_length(
        rows in proptest::collection::vec(
            proptest::collection::btree_map("[a-zA-Z\"\\\\\u{0}-\u{1f}é€]{1,6}", "\\PC{0,12}", 0..5),
            0..6,
        ),
        keep_order in proptest::bool::ANY,
    ) {
        let item = Item::new(RawItem {
            type_name: "Custom:P".into(),
            schema_version: "1.0".into(),
            capture_time: "2026-11-27T10:00:00Z".into(),
            rows,
            keep_order,
            ..RawItem::default()
        });
        // Names that differ only in case are refused; those inputs say nothing here.
        if let Ok(item) = item {
            for payload in [Payload::Full, Payload::HashOnly] {
                let body = request_body("i-0123456789abcdef0", &[(&item, payload)]);
                proptest::prop_assert_eq!(&body, &oracle_body("i-0123456789abcdef0", &item, payload));
                proptest::prop_assert_eq!(
                    item_bytes(&item, payload),
                    body.len() - request_overhead("i-0123456789abcdef0")
                );
            }
        }
    }
}
