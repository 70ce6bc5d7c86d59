use super::*;

fn write_config(dir: &Path, share_file: &Path, profile: &str, expires: &str) -> PathBuf {
    let path = dir.join("identity_config.json");
    let text = format!(
        r#"{{"SchemaVersion":"1.1","InstanceId":"i-0123456789abcdef0","IdentityType":"EC2","ShareFile":"{}","ShareProfile":"{profile}","CredentialsExpiresAt":"{expires}","CredentialsRetrievedAt":"2026-12-01T10:00:00.123456789Z","CredentialSource":"SSM"}}"#,
        share_file.display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn write_keys(path: &Path, profile: &str, id: &str) {
    std::fs::write(
        path,
        format!(
            "[other]\naws_access_key_id = NOPE\naws_secret_access_key = nope\n\n[{profile}]\n# rotated by the agent\naws_access_key_id = {id}\naws_secret_access_key = secret-{id}\naws_session_token = token-{id}\n"
        ),
    )
    .unwrap();
}

#[test]
fn reads_the_named_profile_with_the_agents_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let share = dir.path().join("credentials");
    write_keys(&share, "SSM", "AKIAONE");
    let config = write_config(dir.path(), &share, "SSM", "2099-01-01T00:00:00Z");
    let provider = AgentCredentials::new(&config);
    let creds = provider.load(SystemTime::now()).unwrap();
    assert_eq!(creds.access_key_id(), "AKIAONE");
    assert_eq!(creds.secret_access_key(), "secret-AKIAONE");
    assert_eq!(creds.session_token(), Some("token-AKIAONE"));
    let expected: SystemTime = OffsetDateTime::parse("2099-01-01T00:00:00Z", &Rfc3339)
        .unwrap()
        .into();
    assert_eq!(creds.expiry(), Some(expected));
}

#[test]
fn an_empty_share_profile_means_default() {
    let dir = tempfile::tempdir().unwrap();
    let share = dir.path().join("credentials");
    write_keys(&share, "default", "AKIADEF");
    let config = write_config(dir.path(), &share, "", "2099-01-01T00:00:00Z");
    let creds = AgentCredentials::new(&config)
        .load(SystemTime::now())
        .unwrap();
    assert_eq!(creds.access_key_id(), "AKIADEF");
}

#[test]
fn a_rewritten_share_file_is_read_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let share = dir.path().join("credentials");
    write_keys(&share, "default", "AKIAOLD");
    let config = write_config(dir.path(), &share, "default", "2099-01-01T00:00:00Z");
    let provider = AgentCredentials::new(&config);
    assert_eq!(
        provider.load(SystemTime::now()).unwrap().access_key_id(),
        "AKIAOLD"
    );
    // Same length, same second: the inode of an atomic replace tells them apart.
    let next = dir.path().join("credentials.new");
    write_keys(&next, "default", "AKIANEW");
    std::fs::rename(&next, &share).unwrap();
    assert_eq!(
        provider.load(SystemTime::now()).unwrap().access_key_id(),
        "AKIANEW"
    );
}

#[test]
fn keys_are_read_again_at_the_refresh_point() {
    let dir = tempfile::tempdir().unwrap();
    let share = dir.path().join("credentials");
    write_keys(&share, "default", "AKIAOLD");
    let config = write_config(dir.path(), &share, "default", "2099-01-01T00:00:00Z");
    let provider = AgentCredentials::new(&config);
    provider.load(SystemTime::now()).unwrap();
    let refresh_at = provider.cached.lock().unwrap().as_ref().unwrap().refresh_at;
    let expiry: SystemTime = OffsetDateTime::parse("2099-01-01T00:00:00Z", &Rfc3339)
        .unwrap()
        .into();
    let early = expiry.duration_since(refresh_at).unwrap();
    assert!(
        early >= REFRESH_BEFORE_EXPIRY
            && early < REFRESH_BEFORE_EXPIRY + Duration::from_secs(REFRESH_JITTER_SECS),
        "{early:?}"
    );
}

#[test]
fn expired_credentials_name_the_file_and_the_time() {
    let dir = tempfile::tempdir().unwrap();
    let share = dir.path().join("credentials");
    write_keys(&share, "default", "AKIAOLD");
    let config = write_config(dir.path(), &share, "default", "2026-01-01T00:00:00Z");
    let e = AgentCredentials::new(&config)
        .load(SystemTime::now())
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!(
            "the SSM Agent's shared credentials in {} expired at 2026-01-01T00:00:00Z (retrieved at 2026-12-01T10:00:00.123456789Z, per {}); the agent has not renewed them",
            share.display(),
            config.display()
        )
    );
}

#[test]
fn missing_pieces_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let share = dir.path().join("credentials");
    let config = write_config(dir.path(), &share, "default", "2099-01-01T00:00:00Z");
    let provider = AgentCredentials::new(&config);
    let e = provider.load(SystemTime::now()).unwrap_err().to_string();
    assert!(
        e.starts_with("cannot read the SSM Agent's shared credentials"),
        "{e}"
    );
    write_keys(&share, "other-profile", "AKIAX");
    let e = provider.load(SystemTime::now()).unwrap_err().to_string();
    assert!(e.contains("have no profile [default]"), "{e}");
    let e = AgentCredentials::new(dir.path().join("absent.json"))
        .load(SystemTime::now())
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("cannot read the SSM Agent's identity runtime configuration"));
}
