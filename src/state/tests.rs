use super::*;

fn ack(hash: &str) -> Ack {
    Ack {
        content_hash: hash.into(),
        schema_version: "1.0".into(),
        acknowledged_at: time::macros::datetime!(2026-11-27 10:00:00 UTC),
    }
}

#[test]
fn round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (mut state, loaded) = State::load(dir.path());
    assert!(matches!(loaded, Loaded::Fresh));
    state.acknowledge("i-0123456789abcdef0", "Custom:A", ack("h1"));
    state.save(dir.path()).unwrap();
    let (again, loaded) = State::load(dir.path());
    assert!(matches!(loaded, Loaded::Read));
    assert_eq!(again, state);
    assert!(!dir.path().join(".state.json.tmp").exists());
}

/// A write that fails (here: the temporary file's name is taken by a folder) leaves
/// the file as it was and no temporary file.
#[test]
fn a_failed_write_leaves_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = State::default();
    state.acknowledge("i-0123456789abcdef0", "Custom:A", ack("h1"));
    state.save(dir.path()).unwrap();
    let before = fs::read(dir.path().join(STATE_FILE)).unwrap();
    fs::create_dir(dir.path().join(".state.json.tmp")).unwrap();
    state.acknowledge("i-0123456789abcdef0", "Custom:B", ack("h2"));
    let error = state.save(dir.path()).unwrap_err().to_string();
    assert!(error.starts_with("cannot write state file"), "{error}");
    assert!(!error.contains("os error"), "{error}");
    assert_eq!(fs::read(dir.path().join(STATE_FILE)).unwrap(), before);
}

#[test]
fn corrupt_file_is_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join(STATE_FILE),
        b"{\"version\":1,\"instances\":{",
    )
    .unwrap();
    let (state, loaded) = State::load(dir.path());
    assert_eq!(state, State::default());
    let Loaded::Recovered {
        set_aside: Some(aside),
        ..
    } = loaded
    else {
        panic!("expected recovery, got {loaded:?}");
    };
    assert!(aside.exists());
    assert!(!dir.path().join(STATE_FILE).exists());

    // A second bad file right away keeps the first one.
    fs::write(dir.path().join(STATE_FILE), b"").unwrap();
    let (_, loaded) = State::load(dir.path());
    let Loaded::Recovered {
        set_aside: Some(second),
        ..
    } = loaded
    else {
        panic!("expected recovery, got {loaded:?}");
    };
    assert_ne!(second, aside);
    assert!(aside.exists() && second.exists());
}

mod power_cut;
