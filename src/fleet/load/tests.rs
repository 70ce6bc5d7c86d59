use super::*;

fn source(name: &str, version: i64, probe: &str, type_name: &str) -> FleetSource {
    FleetSource {
        name: name.into(),
        version,
        text: format!(
            "[[probe]]\nname = \"{probe}\"\nkind = \"exec\"\ntype_name = \"{type_name}\"\ncommand = [\"/opt/p/{probe}\"]\n"
        ),
    }
}

#[test]
fn versions_that_do_not_fit_are_left_out_and_the_rest_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("config.toml");
    std::fs::write(
        &config,
        "[agent]\nfleet_config = [\"/a\", \"/b\", \"/c\"]\nfleet_exec_dirs = [\"/opt/p\"]\n\
         [[probe]]\nname = \"local\"\nkind = \"exec\"\ntype_name = \"Custom:Local\"\ncommand = [\"/bin/true\"]\n",
    )
    .unwrap();
    let sources = [
        source("/a", 1, "a", "Custom:A"),
        source("/b", 2, "b", "Custom:Local"),
        source("/c", 3, "c", "Custom:A"),
    ];
    let (settings, kept, left_out) = fit(&config, &sources).unwrap();
    let names: Vec<&str> = settings.probes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["local", "a"]);
    assert_eq!(kept, sources[..1]);
    let left: Vec<(&str, i64)> = left_out
        .iter()
        .map(|l| (l.name.as_str(), l.version))
        .collect();
    assert_eq!(left, [("/b", 2), ("/c", 3)]);
    assert!(
        left_out[0].line().starts_with(
            "parameter /b version 2 (the last good version) is left out until a version that passes is fetched: parameter /b version 2, line 4: key `type_name`: TypeName `Custom:Local` is already claimed by probe \"local\""
        ),
        "{}",
        left_out[0].line()
    );

    // An error in the local files is not papered over.
    std::fs::write(&config, "[agent]\nsplay = 3\n").unwrap();
    assert!(fit(&config, &sources).is_err());
}
