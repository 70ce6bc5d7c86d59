//! The keys every probe has, and the rules across probes.

use std::time::Duration;

use super::super::defaults::*;
use super::*;

#[test]
fn probe_defaults() {
    let text = format!(
        "{EXEC}\n[[probe]]\nname = \"f\"\nkind = \"files\"\n\n[[probe]]\nname = \"s\"\nkind = \"system\"\n"
    );
    let s = ok(&text);
    let p = s.probe("p").unwrap();
    assert_eq!(p.interval, Duration::from_secs(300));
    assert_eq!(p.timeout, Duration::from_secs(30));
    assert_eq!(p.splay, Duration::ZERO);
    assert_eq!(p.source, Path::new("/etc/ssm-inventoryd/config.toml"));
    assert!(p.strict_permissions);
    let e = exec(p);
    assert_eq!(e.command, ["/bin/true"]);
    assert!(!e.shell);
    assert_eq!(e.type_name.as_deref(), Some("Custom:P"));
    assert!(e.types.is_empty());
    assert_eq!(e.schema_version, "1.0");
    assert!(e.env.is_empty());
    assert_eq!(e.user, None);
    assert_eq!(e.working_dir, None);
    assert_eq!(e.max_output_bytes, 8 * 1024 * 1024);
    assert!(!e.keep_order);
    match &s.probe("f").unwrap().kind {
        ProbeKind::Files(f) => assert_eq!(f.path, Path::new("/var/lib/ssm-inventoryd/custom.d")),
        other => panic!("{other:?}"),
    }
    match &s.probe("s").unwrap().kind {
        ProbeKind::System(sys) => {
            assert_eq!(
                sys.collectors,
                [Collector::Host, Collector::Disks, Collector::Network]
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(s.probe("nope").is_none());
    assert_eq!(DEFAULT_PROBE_INTERVAL, p.interval);
    assert_eq!(DEFAULT_PROBE_TIMEOUT, p.timeout);
    assert_eq!(DEFAULT_PROBE_SPLAY, p.splay);
    assert_eq!(DEFAULT_SCHEMA_VERSION, e.schema_version);
    assert_eq!(DEFAULT_KEEP_ORDER, e.keep_order);
    assert_eq!(DEFAULT_SHELL, e.shell);
    assert_eq!(DEFAULT_MAX_OUTPUT_BYTES, e.max_output_bytes);
    assert_eq!(DEFAULT_FILES_PATH, "/var/lib/ssm-inventoryd/custom.d");
}

#[test]
fn a_short_interval_shortens_the_default_timeout() {
    let s = ok(&format!("{EXEC}interval = \"10s\"\n"));
    assert_eq!(s.probes[0].timeout, Duration::from_secs(10));
}

#[test]
fn probe_errors() {
    assert_eq!(
        err("\n[[probe]]\nkind = \"exec\"\n"),
        "c.toml:2: key `name`: required key is missing: every probe needs a unique name"
    );
    assert_eq!(
        err("[[probe]]\nname = \"a\"\n"),
        "c.toml:1: key `kind`: required key is missing: set `kind` to \"exec\", \"files\" or \"system\""
    );
    assert_eq!(
        err("[[probe]]\nname = \"a\"\nkind = \"script\"\n"),
        "c.toml:3: key `kind`: unknown variant `script`, expected one of `exec`, `files`, `system`"
    );
    assert!(
        err("[[probe]]\nname = \"a b\"\nkind = \"files\"\n")
            .starts_with("c.toml:2: key `name`: \"a b\" is not a probe name")
    );
    assert!(
        err("[[probe]]\nname = \"a\"\nkind = \"exec\"\ntype_name = \"Custom:A\"\n")
            .starts_with("c.toml:1: key `command`: required key is missing")
    );
    assert!(
        err("[[probe]]\nname = \"a\"\nkind = \"exec\"\ncommand = [\"x\"]\n")
            .starts_with("c.toml:1: key `type_name`: required key is missing")
    );
    assert!(
        err(&format!("{EXEC}timeoutt = \"1s\"\n"))
            .starts_with("c.toml:6: key `timeoutt`: unknown key; did you mean `timeout`?")
    );
    assert_eq!(
        err(&format!("{EXEC}path = \"/x\"\n")),
        "c.toml:6: key `path`: only for files probes; probe \"p\" is kind \"exec\""
    );
    assert_eq!(
        err("[[probe]]\nname = \"f\"\nkind = \"files\"\ncollectors = [\"host\"]\n"),
        "c.toml:4: key `collectors`: only for system probes; probe \"f\" is kind \"files\""
    );
    assert!(
        err("[[probe]]\nname = \"s\"\nkind = \"system\"\ncommand = [\"x\"]\n")
            .starts_with("c.toml:4: key `command`: only for exec probes")
    );
    assert_eq!(
        err(&format!("{EXEC}interval = \"1m\"\ntimeout = \"2m\"\n")),
        "c.toml:7: key `timeout`: 2m is longer than the interval 1m; a run must end before the next is due"
    );
    assert_eq!(
        err(&format!("{EXEC}interval = \"0s\"\n")),
        "c.toml:6: key `interval`: must be greater than zero"
    );
    assert_eq!(
        err(&format!("{EXEC}timeout = \"0s\"\n")),
        "c.toml:6: key `timeout`: must be greater than zero"
    );
    assert!(err(&format!("{EXEC}interval = 5\n")).starts_with(
        "c.toml:6: key `interval`: invalid type: integer `5`, expected a duration string"
    ));
}

#[test]
fn cross_probe_errors_name_both_places() {
    assert_eq!(
        err(&format!(
            "{EXEC}\n[[probe]]\nname = \"p\"\nkind = \"files\"\n"
        )),
        "c.toml:8: key `name`: probe name \"p\" is already used by the probe at c.toml:1"
    );
    assert_eq!(
        err(&format!(
            "{EXEC}\n[[probe]]\nname = \"q\"\nkind = \"exec\"\ncommand = [\"/bin/false\"]\ntype_name = \"Custom:P\"\n"
        )),
        "c.toml:11: key `type_name`: TypeName `Custom:P` is already claimed by probe \"p\" at c.toml:5; one TypeName, one probe"
    );
    let two_systems = "[[probe]]\nname = \"a\"\nkind = \"system\"\ncollectors = [\"host\"]\n[[probe]]\nname = \"b\"\nkind = \"system\"\n";
    assert_eq!(
        err(two_systems),
        "c.toml:5: key `collectors`: collector \"host\" is already run by probe \"a\" at c.toml:4; its TypeNames would come from two probes"
    );
    let two_folders = "[[probe]]\nname = \"a\"\nkind = \"files\"\n[[probe]]\nname = \"b\"\nkind = \"files\"\npath = \"/var/lib/ssm-inventoryd/custom.d\"\n";
    assert!(err(two_folders).starts_with("c.toml:7: key `path`: folder /var/lib/ssm-inventoryd/custom.d is already read by probe \"a\" at c.toml:1"));
}

#[test]
fn probe_must_be_an_array_of_tables() {
    assert!(err("[probe]\nname = \"a\"\n").contains("write `[[probe]]`"));
}

#[test]
fn syntax_error() {
    assert!(err("[agent\n").starts_with("c.toml:1: invalid TOML: "));
}
