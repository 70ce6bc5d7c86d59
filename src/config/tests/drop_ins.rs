//! Drop-in files: order, clashes across files, trust checks, and the shipped example.

use std::fs;

use super::super::defaults::*;
use super::*;

fn write(dir: &Path, name: &str, text: &str) {
    fs::write(dir.join(name), text).unwrap();
}

fn probe(name: &str, type_name: &str) -> String {
    format!(
        "[[probe]]\nname = \"{name}\"\nkind = \"exec\"\ncommand = [\"/bin/true\"]\ntype_name = \"{type_name}\"\n"
    )
}

#[test]
fn read_in_name_order_after_the_main_file() {
    let tmp = tempfile::tempdir().unwrap();
    let main = tmp.path().join("config.toml");
    write(tmp.path(), "config.toml", &probe("main", "Custom:Main"));
    let d = tmp.path().join("probes.d");
    fs::create_dir(&d).unwrap();
    write(&d, "20-b.toml", &probe("b", "Custom:B"));
    write(&d, "10-a.toml", &probe("a", "Custom:A"));
    write(&d, ".hidden.toml", "garbage [");
    write(&d, "notes.txt", "garbage [");
    write(&d, "30-c.toml.bak", "garbage [");
    fs::create_dir(d.join("sub.toml")).unwrap();
    let s = load_local(&main).unwrap();
    let names: Vec<&str> = s.probes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["main", "a", "b"]);
    assert_eq!(s.probe("a").unwrap().source, d.join("10-a.toml"));
    assert_eq!(s.config_path, main);
}

#[test]
fn missing_probes_dir_is_no_drop_ins() {
    let tmp = tempfile::tempdir().unwrap();
    let main = tmp.path().join("config.toml");
    write(
        tmp.path(),
        "config.toml",
        "[agent]\nprobes_dir = \"nowhere\"\n",
    );
    assert!(load_local(&main).unwrap().probes.is_empty());
}

#[test]
fn clash_across_files_names_both() {
    let tmp = tempfile::tempdir().unwrap();
    let main = tmp.path().join("config.toml");
    write(tmp.path(), "config.toml", &probe("main", "Custom:Same"));
    let d = tmp.path().join("probes.d");
    fs::create_dir(&d).unwrap();
    write(
        &d,
        "x.toml",
        &format!("# comment\n{}", probe("x", "Custom:Same")),
    );
    let e = load_local(&main).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "{}:6: key `type_name`: TypeName `Custom:Same` is already claimed by probe \"main\" at {}:5; one TypeName, one probe",
            d.join("x.toml").display(),
            main.display()
        )
    );
}

#[test]
fn agent_in_a_drop_in_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let main = tmp.path().join("config.toml");
    write(tmp.path(), "config.toml", "");
    let d = tmp.path().join("probes.d");
    fs::create_dir(&d).unwrap();
    write(&d, "x.toml", "\n[agent]\nsplay = \"1s\"\n");
    let e = load_local(&main).unwrap_err().to_string();
    assert!(e.ends_with("x.toml:2: key `agent`: `[agent]` belongs in the main config file; drop-in files hold only `[[probe]]` tables"), "{e}");
}

/// sshd-style trust checks: as root, a probe file others may change is refused, and
/// `strict_permissions = false` allows it.
#[test]
fn group_writable_probe_files_are_refused_as_root() {
    use std::os::unix::fs::PermissionsExt;
    if !trust::root_or_skip() {
        return; // not root: the check does not apply
    }
    let tmp = tempfile::tempdir().unwrap();
    let main = tmp.path().join("config.toml");
    write(tmp.path(), "config.toml", "");
    let d = tmp.path().join("probes.d");
    fs::create_dir(&d).unwrap();
    write(&d, "10-a.toml", &probe("a", "Custom:A"));
    let drop_in = d.join("10-a.toml");
    fs::set_permissions(&drop_in, fs::Permissions::from_mode(0o664)).unwrap();
    let e = load_local(&main).unwrap_err();
    assert!(matches!(e, ConfigError::Untrusted { .. }), "{e}");
    let line = e.to_string();
    assert_eq!(
        line,
        format!(
            "{0}: refused: {0} is writable by its group (mode 0664); a root daemon only trusts what only root can change (fix the owner or mode, or set `[agent] strict_permissions = false`)",
            drop_in.display()
        )
    );
    assert_eq!(e.path(), drop_in);

    write(
        tmp.path(),
        "config.toml",
        "[agent]
strict_permissions = false
",
    );
    assert_eq!(load_local(&main).unwrap().probes.len(), 1);

    // The main file is checked too, and so is the directory the drop-ins are in.
    fs::set_permissions(&drop_in, fs::Permissions::from_mode(0o644)).unwrap();
    write(tmp.path(), "config.toml", "");
    fs::set_permissions(&main, fs::Permissions::from_mode(0o666)).unwrap();
    assert!(
        load_local(&main)
            .unwrap_err()
            .to_string()
            .contains("writable by its group and others")
    );
    fs::set_permissions(&main, fs::Permissions::from_mode(0o644)).unwrap();
    fs::set_permissions(&d, fs::Permissions::from_mode(0o777)).unwrap();
    let e = load_local(&main).unwrap_err().to_string();
    assert!(
        e.contains(&format!("refused: {} is writable", d.display())),
        "{e}"
    );
    fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
    load_local(&main).unwrap();
}

/// The main file holds `strict_permissions`, so its own `false` cannot exempt it: whoever
/// could change it could switch the checks off.
#[test]
fn the_main_file_is_checked_whatever_it_says() {
    use std::os::unix::fs::PermissionsExt;
    if !trust::root_or_skip() {
        return; // not root: the check does not apply
    }
    let tmp = tempfile::tempdir().unwrap();
    let main = tmp.path().join("config.toml");
    write(
        tmp.path(),
        "config.toml",
        "[agent]\nstrict_permissions = false\n",
    );
    fs::set_permissions(&main, fs::Permissions::from_mode(0o644)).unwrap();
    assert!(!load_local(&main).unwrap().agent.strict_permissions);

    fs::set_permissions(&main, fs::Permissions::from_mode(0o666)).unwrap();
    let e = load_local(&main).unwrap_err();
    assert!(matches!(e, ConfigError::Untrusted { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "{0}: refused: {0} is writable by its group and others (mode 0666); a root daemon only trusts what only root can change (fix the owner or mode; the main config file is checked whatever its `strict_permissions` says)",
            main.display()
        )
    );

    fs::set_permissions(&main, fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::chown(&main, Some(65534), None).unwrap();
    let e = load_local(&main).unwrap_err().to_string();
    assert!(e.contains("is owned by uid 65534, not root"), "{e}");

    // …and so is the directory it is in.
    std::os::unix::fs::chown(&main, Some(0), None).unwrap();
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let e = load_local(&main).unwrap_err().to_string();
    assert!(
        e.contains(&format!("refused: {} is writable", tmp.path().display())),
        "{e}"
    );
}

#[test]
fn unreadable_main_file_names_it() {
    let e = load_local(Path::new("/nonexistent/ssm-inventoryd.toml")).unwrap_err();
    assert!(matches!(e, ConfigError::Io { .. }));
    assert!(
        e.to_string()
            .starts_with("/nonexistent/ssm-inventoryd.toml: cannot read: "),
        "{e}"
    );
    assert_eq!(e.line(), None);
}

#[test]
fn the_shipped_example_is_valid_and_states_the_defaults() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/ssm-inventoryd.toml");
    let s = load_local(&example).unwrap();
    let a = &s.agent;
    let dir = example.parent().unwrap();
    assert_eq!(a.instance_id, None);
    assert_eq!(a.region, None);
    assert_eq!(a.endpoint_url, None);
    assert_eq!(a.state_dir, Path::new(DEFAULT_STATE_DIR));
    assert_eq!(a.probes_dir, dir.join(DEFAULT_PROBES_DIR));
    assert_eq!(a.splay, DEFAULT_SPLAY);
    assert_eq!(a.min_push_interval, DEFAULT_MIN_PUSH_INTERVAL);
    assert_eq!(a.refresh_interval, DEFAULT_REFRESH_INTERVAL);
    assert_eq!(a.quarantine_retry, DEFAULT_QUARANTINE_RETRY);
    assert_eq!(a.max_request_bytes, DEFAULT_MAX_REQUEST_BYTES);
    assert_eq!(a.on_removed, DEFAULT_ON_REMOVED);
    assert_eq!(a.retry_base, DEFAULT_RETRY_BASE);
    assert_eq!(a.retry_cap, DEFAULT_RETRY_CAP);
    assert_eq!(a.strict_permissions, DEFAULT_STRICT_PERMISSIONS);
    // Every kind of probe is shown working.
    let kinds: std::collections::BTreeSet<&str> =
        s.probes.iter().map(|p| p.kind.as_str()).collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["exec", "files", "system"]
    );
    for p in &s.probes {
        if let ProbeKind::Files(f) = &p.kind {
            assert_eq!(f.path, Path::new(DEFAULT_FILES_PATH));
        }
    }
}
