use super::*;

#[test]
fn durations_parse_in_humantime_form() {
    assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
    assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
    assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
    assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    assert_eq!(parse_duration("365d"), Ok(MAX_DURATION));
}

#[test]
fn durations_are_bounded_by_a_year() {
    for text in ["10000y", "366d", "365d 1s", "2y"] {
        assert_eq!(
            parse_duration(text).unwrap_err(),
            format!("invalid duration {text:?}: at most 365d (one year)")
        );
    }
}

#[test]
fn duration_errors_are_short_and_name_the_value() {
    assert_eq!(
        parse_duration("5 parsecs").unwrap_err(),
        r#"invalid duration "5 parsecs": unknown time unit "parsecs" (use ms, s, m, h, d)"#
    );
    assert_eq!(
        parse_duration("5").unwrap_err(),
        r#"invalid duration "5": a unit is needed (ms, s, m, h, d)"#
    );
    assert_eq!(
        parse_duration("").unwrap_err(),
        r#"invalid duration "": it is empty"#
    );
    assert!(
        parse_duration("5s!")
            .unwrap_err()
            .contains("unexpected character '!'")
    );
}

#[test]
fn unknown_keys_are_refused_despite_spanned_fields() {
    let err = toml::from_str::<RawMain>("[agent]\nsplay = \"1s\"\nbogus = 1\n").unwrap_err();
    assert!(err.message().starts_with("unknown field `bogus`"), "{err}");
    let err = toml::from_str::<RawMain>("[[probe]]\nname = \"a\"\nbogus = 1\n").unwrap_err();
    assert!(err.message().starts_with("unknown field `bogus`"), "{err}");
    let err = toml::from_str::<RawDropIn>("[agent]\n").unwrap_err();
    assert!(err.message().starts_with("unknown field `agent`"), "{err}");
}

#[test]
fn probe_span_is_its_header() {
    let text = "# c\n\n[[probe]]\nname = \"a\"\n";
    let raw: RawMain = toml::from_str(text).unwrap();
    assert_eq!(&text[raw.probe[0].span()], "[[probe]]");
}

#[test]
fn a_duration_of_the_wrong_type_says_what_is_expected() {
    let err = toml::from_str::<RawMain>("[agent]\nsplay = 30\n").unwrap_err();
    assert_eq!(
        err.message(),
        "invalid type: integer `30`, expected a duration string such as \"30s\", \"15m\" or \"12h\""
    );
}
