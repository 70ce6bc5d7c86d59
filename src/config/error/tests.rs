use super::*;

fn source(text: &str) -> Source<'_> {
    Source {
        path: Path::new("dir/c.toml"),
        text,
        role: Role::Main,
    }
}

#[test]
fn lines_are_one_based() {
    let s = source("a\nb\n\nc");
    assert_eq!(s.line(&(0..1)), 1);
    assert_eq!(s.line(&(2..3)), 2);
    assert_eq!(s.line(&(5..6)), 4);
    assert_eq!(s.line(&(99..99)), 4);
}

#[test]
fn toml_still_reports_the_key_path() {
    // Guards `key_path`, which reads toml's Display output.
    #[derive(serde::Deserialize)]
    struct Top {
        #[allow(dead_code)]
        agent: Agent,
    }
    #[derive(serde::Deserialize)]
    struct Agent {
        #[allow(dead_code)]
        region: String,
    }
    let text = "[agent]\nregion = 5\n";
    let Err(err) = toml::from_str::<Top>(text) else {
        panic!("an integer is not a string");
    };
    assert_eq!(key_path(&err).as_deref(), Some("agent.region"));
    assert_eq!(
        source(text).toml_error(&err).to_string(),
        "dir/c.toml:2: key `region`: invalid type: integer `5`, expected a string"
    );
}

#[test]
fn suggestions_for_misspelt_keys() {
    assert_eq!(
        closest("intervall", &["interval", "timeout"]),
        Some("interval")
    );
    assert_eq!(
        closest("Timeout", &["interval", "timeout"]),
        Some("timeout")
    );
    assert_eq!(closest("colour", &["interval", "timeout"]), None);
    assert_eq!(closest("nam", &["name", "kind"]), Some("name"));
    assert_eq!(closest("xy", &["name", "kind"]), None);
}

#[test]
fn syntax_errors_have_a_line_but_no_key() {
    let text = "[agent]\nregion = \"x\n";
    let err = toml::from_str::<toml::Table>(text).unwrap_err();
    let e = source(text).toml_error(&err);
    assert!(matches!(e, ConfigError::Syntax { line: 2, .. }), "{e}");
    assert!(!e.to_string().contains('\n'));
}

#[test]
fn duplicate_keys_are_named() {
    let text = "[agent]\nsplay = \"1s\"\nsplay = \"2s\"\n";
    let err = toml::from_str::<toml::Table>(text).unwrap_err();
    assert_eq!(
        source(text).toml_error(&err).to_string(),
        "dir/c.toml:3: key `splay`: set twice in the same table"
    );
}
