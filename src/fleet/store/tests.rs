use std::os::unix::fs::PermissionsExt;

use super::*;

fn stored(name: &str, version: i64) -> Stored {
    Stored {
        name: name.into(),
        version,
        text: format!("# version {version}\n"),
        parameter_type: "SecureString".into(),
        fetched_at: time::macros::datetime!(2026-12-02 21:00:00 UTC),
    }
}

#[test]
fn names_become_safe_distinct_file_names() {
    assert_eq!(escape("/ssm-inventoryd/web"), "%2Fssm-inventoryd%2Fweb");
    assert_eq!(escape(".."), "%2E%2E");
    assert_eq!(escape("a_b-C9"), "a_b-C9");
    assert_ne!(escape("/a.b"), escape("/a/b"));
    assert!(!escape("/x/../../etc").contains('/'));
}

#[test]
fn a_saved_version_reads_back_privately_and_replaces_the_older_one() {
    let tmp = tempfile::tempdir().unwrap();
    assert_eq!(load(tmp.path(), "/p").unwrap(), None);
    save(tmp.path(), &stored("/p", 3)).unwrap();
    save(tmp.path(), &stored("/p", 4)).unwrap();
    assert_eq!(load(tmp.path(), "/p").unwrap(), Some(stored("/p", 4)));
    let path = tmp.path().join("fleet/%2Fp.json");
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // No temporary file left behind.
    let names: Vec<_> = fs::read_dir(tmp.path().join("fleet"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("%2Fp.json")]);
}

#[test]
fn load_all_keeps_order_and_reports_unreadable_copies() {
    let tmp = tempfile::tempdir().unwrap();
    save(tmp.path(), &stored("/b", 1)).unwrap();
    save(tmp.path(), &stored("/a", 2)).unwrap();
    fs::write(tmp.path().join("fleet/%2Fc.json"), "{not json").unwrap();
    let names = ["/a", "/missing", "/c", "/b"].map(String::from);
    let (found, errors) = load_all(tmp.path(), &names);
    assert_eq!(found, vec![stored("/a", 2), stored("/b", 1)]);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].to_string().contains("%2Fc.json"), "{}", errors[0]);
}

#[test]
fn a_copy_for_another_name_is_not_used() {
    let tmp = tempfile::tempdir().unwrap();
    save(tmp.path(), &stored("/a", 1)).unwrap();
    fs::rename(
        tmp.path().join("fleet/%2Fa.json"),
        tmp.path().join("fleet/%2Fb.json"),
    )
    .unwrap();
    assert!(matches!(
        load(tmp.path(), "/b"),
        Err(StoreError::Invalid { .. })
    ));
}

#[test]
fn refusals_stand_until_a_version_as_new_is_saved() {
    let tmp = tempfile::tempdir().unwrap();
    let refused = Refusal {
        name: "/p".into(),
        version: 5,
        reason: "parameter /p version 5, line 1: invalid TOML".into(),
        at: time::macros::datetime!(2026-12-02 21:00:00 UTC),
        running: None,
    };
    save_refusal(tmp.path(), &refused).unwrap();
    save(tmp.path(), &stored("/p", 4)).unwrap();
    assert_eq!(load_refusal(tmp.path(), "/p").unwrap(), Some(refused));
    save(tmp.path(), &stored("/p", 6)).unwrap();
    assert_eq!(load_refusal(tmp.path(), "/p").unwrap(), None);
}

mod power_cut;
