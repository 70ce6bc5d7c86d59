use super::*;

#[test]
fn parameter_names() {
    for ok in ["/ssm-inventoryd/base", "probes", "/a/b_c.d-e"] {
        assert!(check_parameter_name(ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "a/b",
        "/a/",
        "/a//b",
        "/a:3",
        "arn:aws:ssm:us-east-1:123456789012:parameter/x",
        "/a b",
        &"/x".repeat(16),
    ] {
        assert!(check_parameter_name(bad).is_err(), "{bad}");
    }
}

#[test]
fn exec_dirs() {
    assert!(check_exec_dir(std::path::Path::new("/usr/local/lib/p")).is_ok());
    for bad in ["/", "probes", "/usr/../bin", "/usr/./bin"] {
        assert!(check_exec_dir(std::path::Path::new(bad)).is_err(), "{bad}");
    }
}
