//! Configurations with fleet parameters: the `fleet_*` keys, errors that name the parameter
//! and its version, clashes between local and fleet probes, and the fleet policy in context.

use std::path::PathBuf;
use std::time::Duration;

use super::*;

struct Node {
    _dir: tempfile::TempDir,
    config: PathBuf,
}

/// A main file with `agent` under `[agent]`, `probes` after it, and one drop-in.
fn node(agent: &str, probes: &str, drop_in: &str) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, format!("[agent]\n{agent}\n{probes}")).unwrap();
    std::fs::create_dir(dir.path().join("probes.d")).unwrap();
    std::fs::write(dir.path().join("probes.d/10-local.toml"), drop_in).unwrap();
    Node { _dir: dir, config }
}

fn param(name: &str, version: i64, text: &str) -> FleetSource {
    FleetSource {
        name: name.into(),
        version,
        text: text.into(),
    }
}

const AGENT: &str =
    "fleet_config = [\"/fleet/base\", \"/fleet/web\"]\nfleet_exec_dirs = [\"/opt/probes\"]";

fn exec(name: &str, type_name: &str, program: &str) -> String {
    format!(
        "[[probe]]\nname = \"{name}\"\nkind = \"exec\"\ntype_name = \"{type_name}\"\ncommand = [\"{program}\"]\n"
    )
}

fn refused(node: &Node, fleet: &[FleetSource]) -> String {
    match load_with_fleet(&node.config, fleet) {
        Ok(s) => panic!("accepted: {:?}", s.probes),
        Err(e) => {
            let line = e.to_string();
            assert!(!line.contains('\n'), "{line}");
            line
        }
    }
}

#[test]
fn fleet_keys_have_defaults_and_are_checked() {
    let s = load_str(std::path::Path::new("c.toml"), "").unwrap();
    assert_eq!(s.agent.fleet, FleetSettings::default());
    assert_eq!(s.agent.fleet.poll_interval, Duration::from_secs(1200));
    assert_eq!(s.agent.fleet.size_hint, 0);
    assert_eq!(s.agent.fleet.expected_read_rate(), None);
    assert!(!s.agent.fleet.allow_shell && !s.agent.fleet.allow_user);
    let s = load_str(
        std::path::Path::new("c.toml"),
        &format!(
            "[agent]\n{AGENT}\nfleet_poll_interval = \"1m\"\nfleet_allow_shell = true\nfleet_size_hint = 1200\n"
        ),
    )
    .unwrap();
    assert_eq!(s.agent.fleet.parameters, ["/fleet/base", "/fleet/web"]);
    assert_eq!(s.agent.fleet.poll_interval, Duration::from_secs(60));
    assert_eq!(s.agent.fleet.exec_dirs, [PathBuf::from("/opt/probes")]);
    assert!(s.agent.fleet.allow_shell);
    // 1,200 nodes, two parameters (one call), every minute: 20 calls a second.
    assert_eq!(s.agent.fleet.expected_read_rate(), Some(20.0));
    assert_eq!(FleetSettings::read_budget(), 10.0);
    for (text, line) in [
        (
            "fleet_size_hint = -1",
            "c.toml:2: key `fleet_size_hint`: -1 is not a number of nodes: 0 (unknown) or more",
        ),
        (
            "fleet_config = [\"/a\", \"/a\"]",
            "c.toml:2: key `fleet_config`: parameter /a is listed twice",
        ),
        (
            "fleet_config = [\"a/b\"]",
            "c.toml:2: key `fleet_config`: \"a/b\" is not a parameter name: a name with a hierarchy starts with `/`",
        ),
        (
            "fleet_poll_interval = \"0s\"",
            "c.toml:2: key `fleet_poll_interval`: must be greater than zero",
        ),
        (
            "fleet_exec_dirs = [\"probes\"]",
            "c.toml:2: key `fleet_exec_dirs`: \"probes\" is not an absolute path",
        ),
    ] {
        let e = load_str(
            std::path::Path::new("c.toml"),
            &format!("[agent]\n{text}\n"),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(e, line);
    }
}

#[test]
fn parameters_add_probes_after_the_local_files_in_fleet_config_order() {
    let n = node(
        AGENT,
        &exec("main", "Custom:Main", "/bin/true"),
        &exec("dropin", "Custom:DropIn", "/bin/true"),
    );
    let fleet = [
        param(
            "/fleet/web",
            7,
            &exec("web", "Custom:Web", "/opt/probes/web"),
        ),
        param(
            "/fleet/base",
            3,
            "[[probe]]\nname = \"host\"\nkind = \"system\"\ncollectors = [\"host\"]\n",
        ),
        param(
            "/fleet/other",
            1,
            &exec("other", "Custom:Other", "/opt/probes/x"),
        ),
    ];
    let s = load_with_fleet(&n.config, &fleet).unwrap();
    let names: Vec<&str> = s.probes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["main", "dropin", "host", "web"]);
    assert_eq!(
        s.parameters,
        [
            ParameterVersion {
                name: "/fleet/base".into(),
                version: 3
            },
            ParameterVersion {
                name: "/fleet/web".into(),
                version: 7
            },
        ]
    );
    let web = s.probe("web").unwrap();
    assert_eq!(web.source, PathBuf::from("/fleet/web"));
    assert!(
        web.strict_permissions,
        "a parameter's probes are always checked"
    );
    // Without fleet sources, the local files alone.
    assert_eq!(load_local(&n.config).unwrap().probes.len(), 2);
}

#[test]
fn errors_name_the_parameter_its_version_and_line() {
    let n = node(AGENT, "", "");
    let e = refused(
        &n,
        &[param(
            "/fleet/web",
            7,
            "[[probe]]\nname = \"w\"\nkind = \"exec\"\ninterval = \"5 parsecs\"\n",
        )],
    );
    assert_eq!(
        e,
        "parameter /fleet/web version 7, line 4: key `interval`: invalid duration \"5 parsecs\": unknown time unit \"parsecs\" (use ms, s, m, h, d)"
    );
    let e = refused(&n, &[param("/fleet/web", 2, "[[probe]\n")]);
    assert!(
        e.starts_with("parameter /fleet/web version 2, line 1: invalid TOML"),
        "{e}"
    );
    let e = refused(&n, &[param("/fleet/base", 4, "[agent]\nsplay = \"0s\"\n")]);
    assert_eq!(
        e,
        "parameter /fleet/base version 4, line 1: key `agent`: `[agent]` belongs in the node's main config file; a parameter holds only `[[probe]]` tables"
    );
    let err = load_with_fleet(&n.config, &[param("/fleet/base", 4, "[agent]\n")]).unwrap_err();
    assert_eq!(err.parameter(), Some(("/fleet/base", 4)));
}

#[test]
fn clashes_with_local_probes_name_both_places() {
    let n = node(AGENT, "", &exec("pkgs", "Custom:Packages", "/bin/true"));
    let dropin = n.config.parent().unwrap().join("probes.d/10-local.toml");
    let e = refused(
        &n,
        &[param(
            "/fleet/web",
            7,
            &exec("fleetpkgs", "Custom:Packages", "/opt/probes/p"),
        )],
    );
    assert_eq!(
        e,
        format!(
            "parameter /fleet/web version 7, line 4: key `type_name`: TypeName `Custom:Packages` is already claimed by probe \"pkgs\" at {}:4; one TypeName, one probe",
            dropin.display()
        )
    );
    let e = refused(
        &n,
        &[param(
            "/fleet/web",
            7,
            &exec("pkgs", "Custom:Other", "/opt/probes/p"),
        )],
    );
    assert_eq!(
        e,
        format!(
            "parameter /fleet/web version 7, line 2: key `name`: probe name \"pkgs\" is already used by the probe at {}:1",
            dropin.display()
        )
    );
    // Between two parameters, the later one is blamed and the earlier one named.
    let e = refused(
        &n,
        &[
            param("/fleet/base", 3, &exec("a", "Custom:A", "/opt/probes/a")),
            param("/fleet/web", 7, &exec("b", "Custom:A", "/opt/probes/b")),
        ],
    );
    assert_eq!(
        e,
        "parameter /fleet/web version 7, line 4: key `type_name`: TypeName `Custom:A` is already claimed by probe \"a\" at parameter /fleet/base version 3, line 4; one TypeName, one probe"
    );
}

#[test]
fn the_fleet_policy_blames_the_refused_key() {
    let n = node(AGENT, "", "");
    let e = refused(
        &n,
        &[param("/fleet/web", 7, &exec("sh", "Custom:Sh", "/bin/sh"))],
    );
    assert_eq!(
        e,
        "parameter /fleet/web version 7, line 5: key `command`: probe \"sh\": the program /bin/sh is outside `[agent] fleet_exec_dirs` (/opt/probes); a probe from a parameter runs only programs the node's administrator put there"
    );
    let e = refused(
        &n,
        &[param(
            "/fleet/web",
            7,
            "[[probe]]\nname = \"k\"\nkind = \"exec\"\ntype_name = \"Custom:K\"\nshell = true\ncommand = \"uname -r\"\n",
        )],
    );
    assert!(e.starts_with("parameter /fleet/web version 7, line 5: key `shell`: probe \"k\": a probe from a parameter may not use `shell = true`"), "{e}");
    let e = refused(
        &n,
        &[param(
            "/fleet/web",
            7,
            &format!(
                "{}user = \"nobody\"\n",
                exec("u", "Custom:U", "/opt/probes/u")
            ),
        )],
    );
    assert!(
        e.starts_with("parameter /fleet/web version 7, line 6: key `user`:"),
        "{e}"
    );
    let e = refused(
        &n,
        &[param(
            "/fleet/web",
            7,
            &format!(
                "{}env = {{ LD_PRELOAD = \"/tmp/x.so\" }}\n",
                exec("e", "Custom:E", "/opt/probes/e")
            ),
        )],
    );
    assert!(
        e.starts_with("parameter /fleet/web version 7, line 6: key `env.LD_PRELOAD`:"),
        "{e}"
    );
    let e = refused(
        &n,
        &[param(
            "/fleet/web",
            7,
            "[[probe]]\nname = \"f\"\nkind = \"files\"\npath = \"custom.d\"\n",
        )],
    );
    assert!(
        e.starts_with("parameter /fleet/web version 7, line 4: key `path`:"),
        "{e}"
    );

    // The same probes are fine in a local file: the policy is for parameters only.
    let local = node(
        "",
        "",
        "[[probe]]\nname = \"k\"\nkind = \"exec\"\ntype_name = \"Custom:K\"\nshell = true\ncommand = \"uname -r\"\n",
    );
    assert!(load_local(&local.config).is_ok());
}

#[test]
fn the_shipped_example_states_the_fleet_defaults() {
    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/ssm-inventoryd.toml");
    let s = load_local(&example).unwrap();
    assert_eq!(s.agent.fleet, FleetSettings::default());
    let text = std::fs::read_to_string(&example).unwrap();
    for line in [
        "fleet_config = []",
        "fleet_poll_interval = \"20m\"",
        "fleet_size_hint = 0",
        "fleet_exec_dirs = []",
        "fleet_allow_shell = false",
        "fleet_allow_user = false",
    ] {
        assert!(text.lines().any(|l| l == line), "{line}");
    }
    assert_eq!(
        defaults::DEFAULT_FLEET_POLL_INTERVAL,
        Duration::from_secs(20 * 60)
    );
    // The arithmetic of config/README.md: 10,000 nodes, one call a poll, within a quarter of
    // Parameter Store's 40 reads a second.
    assert!(10_000.0 / defaults::DEFAULT_FLEET_POLL_INTERVAL.as_secs_f64() <= 10.0);
}
