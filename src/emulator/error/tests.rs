use super::*;

#[test]
fn type_name_only_on_modelled_shapes() {
    let with = ApiError::new(ErrorCode::ItemSizeLimitExceeded, "big").with_type_name("Custom:A");
    assert_eq!(with.body()["TypeName"], "Custom:A");
    let without = ApiError::new(ErrorCode::InvalidTypeName, "bad").with_type_name("Custom:A");
    assert!(without.body().get("TypeName").is_none());
    assert_eq!(without.body()["__type"], "InvalidTypeNameException");
}

#[test]
fn names_round_trip() {
    for &code in ErrorCode::ALL {
        assert_eq!(ErrorCode::from_name(code.name()), Some(code));
    }
    assert_eq!(ErrorCode::from_name("NoSuchException"), None);
}

#[test]
fn statuses() {
    assert_eq!(ErrorCode::InternalServerError.status(), 500);
    assert_eq!(ErrorCode::Throttling.status(), 400);
    assert_eq!(ErrorCode::InvalidSignature.status(), 400);
}
