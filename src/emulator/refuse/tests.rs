use super::*;
use crate::emulator::rules::Item;

fn req(items: &[(&str, bool)]) -> PutInventoryRequest {
    PutInventoryRequest {
        instance_id: "i-0123456789abcdef0".into(),
        items: items
            .iter()
            .map(|&(t, full)| Item {
                type_name: t.into(),
                schema_version: "1.0".into(),
                capture_time: "2026-11-27T10:00:00Z".into(),
                content_hash: Some("h".into()),
                content: full.then(Vec::new),
                bytes: 10,
            })
            .collect(),
    }
}

#[test]
fn parses_the_flag_form() {
    let r: Refusal = "Custom:Bad=InvalidTypeNameException".parse().unwrap();
    assert_eq!(
        r,
        Refusal::unnamed("Custom:Bad", ErrorCode::InvalidTypeName)
    );
    let r: Refusal = "Custom:A=InvalidItemContentException:named:hash-only"
        .parse()
        .unwrap();
    assert!(r.name_type);
    assert_eq!(r.when, RefuseWhen::HashOnly);
    assert!("Custom:A".parse::<Refusal>().is_err());
    assert!("Custom:A=NoSuchError".parse::<Refusal>().is_err());
    assert!(
        "Custom:A=InvalidTypeNameException:loud"
            .parse::<Refusal>()
            .is_err()
    );
}

#[test]
fn first_refused_item_decides_and_names_only_where_modelled() {
    let refusals = vec![
        Refusal::named("Custom:B", ErrorCode::InvalidTypeName),
        Refusal::named("Custom:C", ErrorCode::ItemSizeLimitExceeded),
    ];
    assert!(check(&refusals, &req(&[("Custom:A", true)])).is_ok());
    let err = check(&refusals, &req(&[("Custom:A", true), ("Custom:B", true)])).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidTypeName);
    assert_eq!(err.type_name, None);
    let err = check(&refusals, &req(&[("Custom:C", true), ("Custom:B", true)])).unwrap_err();
    assert_eq!(err.code, ErrorCode::ItemSizeLimitExceeded);
    assert_eq!(err.type_name.as_deref(), Some("Custom:C"));
}

#[test]
fn forms() {
    let hash_only = vec![Refusal {
        when: RefuseWhen::HashOnly,
        ..Refusal::named("Custom:A", ErrorCode::InvalidItemContent)
    }];
    assert!(check(&hash_only, &req(&[("Custom:A", true)])).is_ok());
    assert!(check(&hash_only, &req(&[("Custom:A", false)])).is_err());
    let full = vec![Refusal {
        when: RefuseWhen::Full,
        ..Refusal::named("Custom:A", ErrorCode::InvalidItemContent)
    }];
    assert!(check(&full, &req(&[("Custom:A", true)])).is_err());
    assert!(check(&full, &req(&[("Custom:A", false)])).is_ok());
}
