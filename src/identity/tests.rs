use super::*;

#[test]
fn instance_id_pattern() {
    for good in ["i-0123abcd", "i-0123456789abcdef0", "mi-0123456789abcdef0"] {
        assert!(is_instance_id(good), "{good}");
    }
    for bad in [
        "i-0123abc",
        "i-0123456789abcdef",
        "mi-0123abcd",
        "x-0123abcd",
        "i-0123-abc",
        "",
    ] {
        assert!(!is_instance_id(bad), "{bad}");
    }
}

#[test]
fn region_shape() {
    assert!(is_region("us-east-1"));
    assert!(is_region("ap-southeast-5"));
    assert!(!is_region("US-EAST-1"));
    assert!(!is_region("us east"));
    assert!(!is_region(""));
}
