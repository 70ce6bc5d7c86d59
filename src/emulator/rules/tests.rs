use super::*;
use serde_json::json;

const ID: &str = "i-0123456789abcdef0";

fn cfg() -> RuleConfig<'static> {
    RuleConfig {
        max_item_bytes: 200 * 1024,
        known_instances: None,
    }
}

fn item(type_name: &str) -> serde_json::Value {
    json!({"TypeName": type_name, "SchemaVersion": "1.0", "CaptureTime": "2026-11-27T10:00:00Z",
           "Content": [{"Stage": "PreProd"}]})
}

fn check(items: serde_json::Value) -> Result<PutInventoryRequest, ApiError> {
    check_with(items, cfg())
}

fn check_with(
    items: serde_json::Value,
    cfg: RuleConfig<'_>,
) -> Result<PutInventoryRequest, ApiError> {
    let body = json!({"InstanceId": ID, "Items": items});
    check_put_inventory(body.to_string().as_bytes(), cfg)
}

fn code(r: Result<PutInventoryRequest, ApiError>) -> ErrorCode {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.code,
    }
}

#[test]
fn accepts_a_plain_custom_item() {
    let req = check(json!([item("Custom:StageInfo")])).unwrap();
    assert_eq!(req.instance_id, ID);
    assert_eq!(req.items.len(), 1);
    assert_eq!(
        req.items[0].content.as_ref().unwrap()[0]["Stage"],
        "PreProd"
    );
    assert!(req.items[0].bytes > 50);
}

#[test]
fn instance_id_pattern() {
    for ok in [
        "i-01234567",
        "i-0123456789abcdef0",
        "mi-0123456789abcdef0",
        "i-ABCDEF_1",
    ] {
        assert!(instance_id_matches(ok), "{ok}");
    }
    for bad in [
        "i-0123",
        "i-0123456789abcdef",
        "mi-01234567",
        "x-01234567",
        "i-0123456-",
        "",
    ] {
        assert!(!instance_id_matches(bad), "{bad}");
    }
    let body = json!({"InstanceId": "i-bad", "Items": [item("Custom:A")]});
    let err = check_put_inventory(body.to_string().as_bytes(), cfg()).unwrap_err();
    assert_eq!(err.code, ErrorCode::Validation);
    assert!(err.message.contains("instanceId"), "{}", err.message);
}

#[test]
fn item_count_bounds() {
    assert_eq!(code(check(json!([]))), ErrorCode::Validation);
    let thirty: Vec<_> = (0..30).map(|i| item(&format!("Custom:T{i}"))).collect();
    assert!(check(json!(thirty)).is_ok());
    let thirty_one: Vec<_> = (0..31).map(|i| item(&format!("Custom:T{i}"))).collect();
    assert_eq!(code(check(json!(thirty_one))), ErrorCode::Validation);
    let body = json!({"InstanceId": ID});
    assert_eq!(
        check_put_inventory(body.to_string().as_bytes(), cfg())
            .unwrap_err()
            .code,
        ErrorCode::Validation
    );
}

#[test]
fn missing_members_are_validation_errors_listed_together() {
    let err = check(json!([{"TypeName": "Custom:A"}])).unwrap_err();
    assert_eq!(err.code, ErrorCode::Validation);
    assert!(
        err.message.starts_with("2 validation errors detected"),
        "{}",
        err.message
    );
    assert!(err.message.contains("items.1.member.schemaVersion"));
    assert!(err.message.contains("items.1.member.captureTime"));
}

#[test]
fn wrong_json_types_are_serialization_errors() {
    let body = br#"{"InstanceId": "i-01234567", "Items": [{"TypeName": 5}]}"#;
    assert_eq!(
        check_put_inventory(body, cfg()).unwrap_err().code,
        ErrorCode::Serialization
    );
    assert_eq!(
        check_put_inventory(b"{not json", cfg()).unwrap_err().code,
        ErrorCode::Serialization
    );
    let body = br#"{"InstanceId": "i-01234567", "Items": [{"TypeName": "Custom:A",
            "SchemaVersion": "1.0", "CaptureTime": "2026-11-27T10:00:00Z", "Content": [{"a": 1}]}]}"#;
    assert_eq!(
        check_put_inventory(body, cfg()).unwrap_err().code,
        ErrorCode::Serialization
    );
}

#[test]
fn type_name_rules() {
    for bad in ["", "Foo:Bar", "custom:lower", "Custom:", "AWS:Unknown"] {
        assert_eq!(
            code(check(json!([item(bad)]))),
            ErrorCode::InvalidTypeName,
            "{bad}"
        );
    }
    let long = format!("Custom:{}", "x".repeat(94));
    assert_eq!(
        code(check(json!([item(&long)]))),
        ErrorCode::InvalidTypeName
    );
    let exactly_100 = format!("Custom:{}", "x".repeat(93));
    assert!(check(json!([item(&exactly_100)])).is_ok());
    let mut app = item("AWS:Application");
    app["SchemaVersion"] = json!("1.1");
    assert!(check(json!([app])).is_ok());
}

#[test]
fn duplicate_type_name_names_the_type() {
    let err = check(json!([
        item("Custom:A"),
        item("Custom:B"),
        item("Custom:A")
    ]))
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidItemContent);
    assert_eq!(err.type_name.as_deref(), Some("Custom:A"));
}

#[test]
fn schema_version_rules() {
    for ok in ["1.0", "123456.654321", "0.0"] {
        assert!(schema_version_matches(ok), "{ok}");
    }
    for bad in ["1", "1.", ".1", "1.0.0", "1234567.0", "a.b", "1.0 "] {
        assert!(!schema_version_matches(bad), "{bad}");
    }
    let mut it = item("Custom:A");
    it["SchemaVersion"] = json!("1");
    assert_eq!(code(check(json!([it]))), ErrorCode::Validation);
    let mut app = item("AWS:Application");
    app["SchemaVersion"] = json!("1.0");
    assert_eq!(
        code(check(json!([app]))),
        ErrorCode::UnsupportedInventorySchemaVersion
    );
}

#[test]
fn capture_time_rules() {
    for ok in [
        "2026-11-27T10:00:00Z",
        "2000-01-01T00:00:00Z",
        "2099-12-31T23:59:59Z",
    ] {
        assert!(capture_time_matches(ok), "{ok}");
    }
    for bad in [
        "1999-11-27T10:00:00Z",
        "2026-13-27T10:00:00Z",
        "2026-00-27T10:00:00Z",
        "2026-11-00T10:00:00Z",
        "2026-11-32T10:00:00Z",
        "2026-11-27T24:00:00Z",
        "2026-11-27T10:60:00Z",
        "2026-11-27T10:00:00.000Z",
        "2026-11-27T10:00:00+00:00",
        "2026-11-27 10:00:00Z",
        "2026-11-27T10:00:00z",
    ] {
        assert!(!capture_time_matches(bad), "{bad}");
    }
    let mut it = item("Custom:A");
    it["CaptureTime"] = json!("2026-11-27T10:00:00.123Z");
    assert_eq!(code(check(json!([it]))), ErrorCode::Validation);
}

#[test]
fn content_limits() {
    let mut it = item("Custom:A");
    it["Content"] = json!(vec![json!({"a": "b"}); 10_001]);
    assert_eq!(
        code(check(json!([it.clone()]))),
        ErrorCode::InvalidItemContent
    );
    it["Content"] = json!(vec![json!({"a": "b"}); 10_000]);
    assert!(
        check_with(
            json!([it]),
            RuleConfig {
                max_item_bytes: usize::MAX,
                known_instances: None
            }
        )
        .is_ok()
    );

    let wide: serde_json::Map<_, _> = (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
    let mut it = item("Custom:A");
    it["Content"] = json!([wide]);
    assert_eq!(code(check(json!([it]))), ErrorCode::InvalidItemContent);

    let mut it = item("Custom:A");
    it["Content"] = json!([{ "x".repeat(65): "v" }]);
    assert_eq!(code(check(json!([it]))), ErrorCode::InvalidItemContent);
    it["Content"] = json!([{ "": "v" }]);
    assert_eq!(code(check(json!([it]))), ErrorCode::InvalidItemContent);
    it["Content"] = json!([{ "x".repeat(64): "v" }]);
    assert!(check(json!([it])).is_ok());
}

#[test]
fn value_length_counts_characters_not_bytes() {
    let mut it = item("Custom:A");
    // 4,096 two-byte characters: 8,192 bytes, but within the limit.
    it["Content"] = json!([{ "v": "é".repeat(4096) }]);
    assert!(check(json!([it.clone()])).is_ok());
    it["Content"] = json!([{ "v": "é".repeat(4097) }]);
    let err = check(json!([it])).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidItemContent);
    assert_eq!(err.type_name.as_deref(), Some("Custom:A"));
}

#[test]
fn one_spelling_per_attribute_name() {
    let mut it = item("Custom:A");
    it["Content"] = json!([{"Vendor": "a"}, {"vendor": "b"}]);
    let err = check(json!([it])).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidItemContent);
    assert!(err.message.contains("Vendor"), "{}", err.message);
    // Different types may spell it differently.
    let mut a = item("Custom:A");
    a["Content"] = json!([{"Vendor": "a"}]);
    let mut b = item("Custom:B");
    b["Content"] = json!([{"vendor": "b"}]);
    assert!(check(json!([a, b])).is_ok());
}

#[test]
fn content_hash_rules() {
    let mut it = item("Custom:A");
    it["ContentHash"] = json!("h".repeat(257));
    assert_eq!(code(check(json!([it.clone()]))), ErrorCode::Validation);
    it["ContentHash"] = json!("h".repeat(256));
    assert!(check(json!([it.clone()])).is_ok());
    // hash-only is fine here (the store decides whether it matches) ...
    it.as_object_mut().unwrap().remove("Content");
    let req = check(json!([it.clone()])).unwrap();
    assert!(req.items[0].content.is_none());
    // ... but neither Content nor hash is not.
    it.as_object_mut().unwrap().remove("ContentHash");
    assert_eq!(code(check(json!([it]))), ErrorCode::InvalidItemContent);
}

#[test]
fn empty_content_is_allowed() {
    let mut it = item("Custom:A");
    it["Content"] = json!([]);
    let req = check(json!([it])).unwrap();
    assert_eq!(req.items[0].content, Some(vec![]));
}

#[test]
fn context_rules() {
    let mut it = item("Custom:A");
    it["Context"] = json!({"k": "v"});
    let err = check(json!([it.clone()])).unwrap_err();
    assert_eq!(err.code, ErrorCode::UnsupportedInventoryItemContext);
    assert_eq!(err.type_name.as_deref(), Some("Custom:A"));
    it["Context"] = json!({});
    assert!(check(json!([it])).is_ok());

    let mut ci = item(COMPLIANCE_TYPE);
    ci["Context"] = json!({"ExecutionId": "abc", "ExecutionType": "Command"});
    assert!(check(json!([ci.clone()])).is_ok());
    let many: serde_json::Map<_, _> = (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
    ci["Context"] = json!(many);
    assert_eq!(
        code(check(json!([ci.clone()]))),
        ErrorCode::InvalidInventoryItemContext
    );
    ci["Context"] = json!({"": "v"});
    assert_eq!(
        code(check(json!([ci]))),
        ErrorCode::InvalidInventoryItemContext
    );
}

#[test]
fn item_size_limit() {
    let mut it = item("Custom:Big");
    it["Content"] = json!([{ "v": "x".repeat(1000) }]);
    let small = RuleConfig {
        max_item_bytes: 500,
        known_instances: None,
    };
    let err = check_with(json!([item("Custom:A"), it]), small).unwrap_err();
    assert_eq!(err.code, ErrorCode::ItemSizeLimitExceeded);
    assert_eq!(err.type_name.as_deref(), Some("Custom:Big"));
}

#[test]
fn item_bytes_is_compact_json_length() {
    let req = check(json!([item("Custom:StageInfo")])).unwrap();
    let expected = r#"{"TypeName":"Custom:StageInfo","SchemaVersion":"1.0","CaptureTime":"2026-11-27T10:00:00Z","Content":[{"Stage":"PreProd"}]}"#;
    assert_eq!(req.items[0].bytes, expected.len());
}

#[test]
fn known_instances() {
    let known = vec!["i-01234567".to_owned()];
    let c = RuleConfig {
        max_item_bytes: 1 << 20,
        known_instances: Some(&known),
    };
    assert_eq!(
        code(check_with(json!([item("Custom:A")]), c)),
        ErrorCode::InvalidInstanceId
    );
    let body = json!({"InstanceId": "i-01234567", "Items": [item("Custom:A")]});
    assert!(check_put_inventory(body.to_string().as_bytes(), c).is_ok());
}

#[test]
fn list_inventory_entries_rules() {
    let ok = json!({"InstanceId": ID, "TypeName": "Custom:A", "MaxResults": 10});
    let req = check_list_inventory_entries(ok.to_string().as_bytes(), None).unwrap();
    assert_eq!(req.max_results, Some(10));
    let bad = json!({"InstanceId": ID, "TypeName": "Custom:A", "MaxResults": 51});
    assert_eq!(
        check_list_inventory_entries(bad.to_string().as_bytes(), None)
            .unwrap_err()
            .code,
        ErrorCode::Validation
    );
    let bad = json!({"InstanceId": ID, "TypeName": "Nope"});
    assert_eq!(
        check_list_inventory_entries(bad.to_string().as_bytes(), None)
            .unwrap_err()
            .code,
        ErrorCode::Validation
    );
}

#[test]
fn peek_finds_instance_id_even_in_bad_requests() {
    assert_eq!(
        peek_instance_id(br#"{"InstanceId":"i-x","Items":5}"#).as_deref(),
        Some("i-x")
    );
    assert_eq!(peek_instance_id(b"nope"), None);
}
