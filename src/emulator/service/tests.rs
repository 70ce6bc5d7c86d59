use super::*;

const ID: &str = "i-0123456789abcdef0";

fn service() -> Service {
    Service::new(EmulatorConfig::default())
}

fn put(s: &Service, items: Value) -> Result<Value, ApiError> {
    s.put_inventory(
        json!({"InstanceId": ID, "Items": items})
            .to_string()
            .as_bytes(),
    )
}

fn list(s: &Service, extra: Value) -> Result<Value, ApiError> {
    let mut body = json!({"InstanceId": ID, "TypeName": "Custom:Rows"});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    s.list_inventory_entries(body.to_string().as_bytes())
}

#[test]
fn list_pages_through_entries() {
    let s = service();
    let rows: Vec<Value> = (0..5).map(|i| json!({"n": i.to_string()})).collect();
    put(
        &s,
        json!([{"TypeName": "Custom:Rows", "SchemaVersion": "1.0",
                "CaptureTime": "2026-11-27T10:00:00Z", "Content": rows}]),
    )
    .unwrap();
    let first = list(&s, json!({"MaxResults": 2})).unwrap();
    assert_eq!(first["Entries"], json!([{"n": "0"}, {"n": "1"}]));
    assert_eq!(first["SchemaVersion"], "1.0");
    assert_eq!(first["CaptureTime"], "2026-11-27T10:00:00Z");
    let token = first["NextToken"].as_str().unwrap().to_owned();
    let second = list(&s, json!({"MaxResults": 3, "NextToken": token})).unwrap();
    assert_eq!(
        second["Entries"],
        json!([{"n": "2"}, {"n": "3"}, {"n": "4"}])
    );
    assert!(second.get("NextToken").is_none());
    let all = list(&s, json!({})).unwrap();
    assert_eq!(all["Entries"].as_array().unwrap().len(), 5);
    let err = list(&s, json!({"NextToken": "garbage"})).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidNextToken);
}

#[test]
fn list_of_nothing_is_empty() {
    let s = service();
    let out = list(&s, json!({})).unwrap();
    assert_eq!(out["Entries"], json!([]));
    assert_eq!(out["InstanceId"], ID);
}

#[test]
fn stats_follow_requests() {
    let s = service();
    put(
        &s,
        json!([{"TypeName": "Custom:A", "SchemaVersion": "1.0",
                "CaptureTime": "2026-11-27T10:00:00Z", "Content": []}]),
    )
    .unwrap();
    put(&s, json!([])).unwrap_err();
    let st = s.stats();
    assert_eq!(st.put_inventory_accepted, 1);
    assert_eq!(st.items, 1);
    assert_eq!(st.instances[ID].requests, 2);
    assert_eq!(st.instances[ID].items, 1);
    assert_eq!(st.custom_types, 1);
}
