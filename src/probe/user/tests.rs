use super::*;

#[test]
fn root_and_nobody_resolve() {
    let root = resolve("root").unwrap();
    assert_eq!((root.uid, root.gid), (0, 0));
    assert!(root.groups.contains(&0));
    let by_uid = resolve("0").unwrap();
    assert_eq!(by_uid.name, "root");
    if let Ok(nobody) = resolve("nobody") {
        assert_ne!(nobody.uid, 0);
        assert!(nobody.groups.contains(&nobody.gid));
    }
}

#[test]
fn unknown_users_are_errors() {
    assert_eq!(
        resolve("no-such-user-ssm-inventoryd").unwrap_err(),
        "no such user"
    );
    assert!(
        resolve("4000000000")
            .unwrap_err()
            .contains("no passwd entry")
    );
}
