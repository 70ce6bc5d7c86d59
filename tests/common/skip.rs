//! The one rule for tests that need something a machine may lack: root, the AWS CLI, Python's
//! Prometheus text-format parser.
//!
//! Without it a test says so on stderr, `SKIP <test>: <why>`, and returns (passing). Where the
//! thing is required, as in CI, the variable named for it is set to `1` and its absence fails
//! the test instead, so that nothing is skipped there unnoticed.
//!
//! This file is shared: the integration tests have it as `common::skip`, the crate's unit
//! tests as `crate::skip` (declared in `src/lib.rs` with `#[path]`). It uses only `std` and
//! `libc`.

#![allow(dead_code)] // two crates include this file, and each uses a part of it

use std::io::Write;

/// Set to `1`: tests that need root, or a system tool or account a Linux node has (`setpriv`,
/// `perl`, a `nobody` user), fail without it.
pub const ROOT: &str = "SSM_INVENTORYD_REQUIRE_ROOT";
/// Set to `1`: tests that need `aws` fail when it is not on PATH.
pub const AWSCLI: &str = "SSM_INVENTORYD_REQUIRE_AWSCLI";
/// Set to `1`: tests that need Python's `prometheus_client` fail without it.
pub const PROMETHEUS_PARSER: &str = "SSM_INVENTORYD_REQUIRE_PROMETHEUS_PARSER";

/// Whether the test can go on: `present`. When it cannot, the skip line names the test and
/// `why`, or, when `require` is set to `1`, the test fails with the same words.
#[track_caller]
pub fn can_run(present: bool, require: &str, why: &str) -> bool {
    if present {
        return true;
    }
    // libtest names each test's thread after the test.
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    if std::env::var(require).as_deref() == Ok("1") {
        panic!("{test}: {why}, and {require}=1");
    }
    // Straight to the process's stderr: libtest captures `eprintln!` of passing tests, and
    // a skip must show.
    let _ = writeln!(std::io::stderr(), "SKIP {test}: {why}");
    false
}

/// Whether the test runs as root; see [`can_run`].
#[track_caller]
pub fn as_root(why: &str) -> bool {
    can_run(is_root(), ROOT, why)
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}
