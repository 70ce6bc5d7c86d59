use super::*;

#[test]
fn only_visible_toml_files_are_configuration() {
    let is = |n: &str| is_config_name(std::ffi::OsStr::new(n));
    assert!(is("80-web.toml"));
    assert!(!is(".80-web.toml.swp"));
    assert!(!is("80-web.toml.dpkg-new"));
    assert!(!is("README"));
}
