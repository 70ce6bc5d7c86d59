//! Unit tests of the single-value checks.

use super::agent::is_http_url;
use super::check_probe_name;
use super::exec::{is_user_name, resolve_program};
use crate::identity::{is_instance_id, is_region};
use std::path::Path;

#[test]
fn instance_ids() {
    assert!(is_instance_id("i-0123abcd"));
    assert!(is_instance_id("i-0123456789abcdef0"));
    assert!(is_instance_id("mi-0123456789abcdef0"));
    assert!(!is_instance_id("i-0123abc"));
    assert!(!is_instance_id("i-0123456789abcdef"));
    assert!(!is_instance_id("mi-0123abcd"));
    assert!(!is_instance_id("i-0123abc!"));
    assert!(!is_instance_id("x-0123abcd"));
    assert!(!is_instance_id(""));
}

#[test]
fn regions() {
    for ok in [
        "us-east-1",
        "us-gov-west-1",
        "ap-southeast-2",
        "cn-north-1",
        "il-central-1",
    ] {
        assert!(is_region(ok), "{ok}");
    }
    for bad in [
        "us-east",
        "US-EAST-1",
        "useast1",
        "us--1",
        "us-east-1a",
        "",
        "-1",
    ] {
        assert!(!is_region(bad), "{bad}");
    }
}

#[test]
fn urls() {
    assert!(is_http_url("https://ssm.us-east-1.amazonaws.com"));
    assert!(is_http_url("http://127.0.0.1:4566/"));
    assert!(!is_http_url("ssm.us-east-1.amazonaws.com"));
    assert!(!is_http_url("https://"));
    assert!(!is_http_url("https:///x"));
    assert!(!is_http_url("https://a b"));
    assert!(!is_http_url("ftp://x"));
}

#[test]
fn probe_names() {
    assert!(check_probe_name("pkgs").is_ok());
    assert!(check_probe_name("a.b-c_D9").is_ok());
    assert!(check_probe_name(&"x".repeat(64)).is_ok());
    assert!(check_probe_name(&"x".repeat(65)).is_err());
    assert!(check_probe_name("").is_err());
    assert!(check_probe_name("a b").is_err());
    assert!(check_probe_name("a/b").is_err());
    assert!(check_probe_name("..").is_err());
}

#[test]
fn programs_resolve_against_the_file() {
    let dir = Path::new("/etc/x/probes.d");
    assert_eq!(resolve_program(dir, "uname"), None);
    assert_eq!(resolve_program(dir, "/bin/sh"), None);
    assert_eq!(
        resolve_program(dir, "./probe.sh"),
        Some(Some("/etc/x/probes.d/probe.sh".to_owned()))
    );
    assert_eq!(
        resolve_program(dir, "bin/probe"),
        Some(Some("/etc/x/probes.d/bin/probe".to_owned()))
    );
    // A file in the working directory: `./x` must keep its `./`, or it becomes a PATH lookup.
    assert_eq!(resolve_program(Path::new(""), "./probe.sh"), None);
}

#[test]
fn user_names() {
    assert!(is_user_name("nobody"));
    assert!(is_user_name("65534"));
    assert!(!is_user_name(""));
    assert!(!is_user_name("a b"));
    assert!(!is_user_name("-x"));
    assert!(!is_user_name("a:b"));
}
