//! Whole-file tests: defaults, every error's line and key, drop-ins.

use std::path::Path;
use std::time::Duration;

use super::defaults::*;
use super::*;

fn ok(text: &str) -> Settings {
    match load_str(Path::new("/etc/ssm-inventoryd/config.toml"), text) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

/// The error's one line, for a main file at `c.toml`.
fn err(text: &str) -> String {
    match load_str(Path::new("c.toml"), text) {
        Ok(s) => panic!("accepted: {s:?}"),
        Err(e) => {
            let line = e.to_string();
            assert!(!line.contains('\n'), "{line}");
            line
        }
    }
}

fn exec(p: &ProbeSettings) -> &ExecSettings {
    match &p.kind {
        ProbeKind::Exec(e) => e,
        other => panic!("not exec: {other:?}"),
    }
}

const EXEC: &str = "[[probe]]\nname = \"p\"\nkind = \"exec\"\ncommand = [\"/bin/true\"]\ntype_name = \"Custom:P\"\n";

#[test]
fn empty_file_is_every_default() {
    let s = ok("");
    let a = &s.agent;
    assert_eq!(s.config_path, Path::new("/etc/ssm-inventoryd/config.toml"));
    assert_eq!(a.instance_id, None);
    assert_eq!(a.region, None);
    assert_eq!(a.endpoint_url, None);
    assert_eq!(a.state_dir, Path::new("/var/lib/ssm-inventoryd"));
    assert_eq!(a.probes_dir, Path::new("/etc/ssm-inventoryd/probes.d"));
    assert_eq!(a.splay, Duration::from_secs(30));
    assert_eq!(a.min_push_interval, Duration::from_secs(5));
    assert_eq!(a.refresh_interval, Duration::from_secs(12 * 3600));
    assert_eq!(a.quarantine_retry, Duration::from_secs(6 * 3600));
    assert_eq!(a.max_request_bytes, 1_048_576);
    assert_eq!(a.on_removed, OnRemoved::Clear);
    assert_eq!(a.profile, None);
    assert_eq!(a.credentials_file, None);
    assert_eq!(a.retry_base, Duration::from_secs(1));
    assert_eq!(a.retry_cap, Duration::from_secs(300));
    assert!(a.strict_permissions);
    assert!(s.probes.is_empty());
    // The constants say the same as the documentation above.
    assert_eq!(DEFAULT_CONFIG_PATH, "/etc/ssm-inventoryd/config.toml");
    assert_eq!(DEFAULT_STATE_DIR, "/var/lib/ssm-inventoryd");
    assert_eq!(DEFAULT_PROBES_DIR, "probes.d");
    assert_eq!(DEFAULT_SPLAY, a.splay);
    assert_eq!(DEFAULT_MIN_PUSH_INTERVAL, a.min_push_interval);
    assert_eq!(DEFAULT_REFRESH_INTERVAL, a.refresh_interval);
    assert_eq!(DEFAULT_QUARANTINE_RETRY, a.quarantine_retry);
    assert_eq!(DEFAULT_MAX_REQUEST_BYTES, a.max_request_bytes);
    assert_eq!(DEFAULT_ON_REMOVED, a.on_removed);
    assert_eq!(DEFAULT_RETRY_BASE, a.retry_base);
    assert_eq!(DEFAULT_RETRY_CAP, a.retry_cap);
    assert_eq!(DEFAULT_STRICT_PERMISSIONS, a.strict_permissions);
}

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
fn every_key_set() {
    let s = ok(r#"
[agent]
instance_id = "mi-0123456789abcdef0"
region = "eu-central-1"
endpoint_url = "http://127.0.0.1:8080"
state_dir = "state"
probes_dir = "/srv/probes"
splay = "0s"
min_push_interval = "1s"
refresh_interval = "1h"
quarantine_retry = "30m"
max_request_bytes = 4096
on_removed = "keep"
profile = "inventory"
credentials_file = "creds"
retry_base = "250ms"
retry_cap = "1m"
log_level = "debug"
strict_permissions = false

[[probe]]
name = "pkgs"
kind = "exec"
interval = "1m"
timeout = "1m"
splay = "10s"
command = ["./probes/pkgs.sh", "--json"]
shell = false
type_name = "Custom:Packages"
types = ["Custom:Packages.Extra", "Custom:Pkg.*"]
schema_version = "2.10"
env = { LANG = "C.UTF-8", PATH = "/usr/bin:/bin" }
user = "nobody"
working_dir = "work"
max_output_bytes = 1024
keep_order = true

[[probe]]
name = "files"
kind = "files"
path = "custom"

[[probe]]
name = "sys"
kind = "system"
collectors = ["network", "host"]
"#);
    let a = &s.agent;
    assert_eq!(a.instance_id.as_deref(), Some("mi-0123456789abcdef0"));
    assert_eq!(a.region.as_deref(), Some("eu-central-1"));
    assert_eq!(a.endpoint_url.as_deref(), Some("http://127.0.0.1:8080"));
    assert_eq!(a.state_dir, Path::new("/etc/ssm-inventoryd/state"));
    assert_eq!(a.probes_dir, Path::new("/srv/probes"));
    assert_eq!(a.splay, Duration::ZERO);
    assert_eq!(a.min_push_interval, Duration::from_secs(1));
    assert_eq!(a.refresh_interval, Duration::from_secs(3600));
    assert_eq!(a.quarantine_retry, Duration::from_secs(1800));
    assert_eq!(a.max_request_bytes, 4096);
    assert_eq!(a.on_removed, OnRemoved::Keep);
    assert_eq!(a.profile.as_deref(), Some("inventory"));
    assert_eq!(
        a.credentials_file.as_deref(),
        Some(Path::new("/etc/ssm-inventoryd/creds"))
    );
    assert_eq!(a.retry_base, Duration::from_millis(250));
    assert_eq!(a.retry_cap, Duration::from_secs(60));
    assert_eq!(a.log_level, "debug");
    assert_eq!(peek_log_level(Path::new("/nonexistent")), None);
    assert!(!a.strict_permissions);

    let p = &s.probes[0];
    assert!(!p.strict_permissions, "copied from [agent]");
    assert_eq!(
        (p.interval, p.timeout, p.splay),
        (
            Duration::from_secs(60),
            Duration::from_secs(60),
            Duration::from_secs(10)
        )
    );
    let e = exec(p);
    assert_eq!(e.command, ["/etc/ssm-inventoryd/probes/pkgs.sh", "--json"]);
    assert_eq!(e.schema_version, "2.10");
    assert_eq!(e.env.get("LANG").map(String::as_str), Some("C.UTF-8"));
    assert_eq!(e.env.len(), 2);
    assert_eq!(e.user.as_deref(), Some("nobody"));
    assert!(!e.shell);
    assert_eq!(
        e.types,
        [
            TypePattern::Exact("Custom:Packages.Extra".into()),
            TypePattern::Prefix("Custom:Pkg.".into())
        ]
    );
    assert!(e.allows("Custom:Packages") && e.allows("Custom:Pkg.Deb") && !e.allows("Custom:Other"));
    assert_eq!(
        e.exact_types().collect::<Vec<_>>(),
        ["Custom:Packages", "Custom:Packages.Extra"]
    );
    assert!(e.has_prefix_types());
    assert_eq!(
        e.working_dir.as_deref(),
        Some(Path::new("/etc/ssm-inventoryd/work"))
    );
    assert_eq!(e.max_output_bytes, 1024);
    assert!(e.keep_order);
    match &s.probes[1].kind {
        ProbeKind::Files(f) => assert_eq!(f.path, Path::new("/etc/ssm-inventoryd/custom")),
        other => panic!("{other:?}"),
    }
    match &s.probes[2].kind {
        ProbeKind::System(sys) => assert_eq!(sys.collectors, [Collector::Network, Collector::Host]),
        other => panic!("{other:?}"),
    }
    let names: Vec<&str> = s.probes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["pkgs", "files", "sys"]);
}

#[test]
fn auto_means_none() {
    let s = ok("[agent]\ninstance_id = \"auto\"\nregion = \"auto\"\n");
    assert_eq!((s.agent.instance_id, s.agent.region), (None, None));
}

#[test]
fn a_short_interval_shortens_the_default_timeout() {
    let s = ok(&format!("{EXEC}interval = \"10s\"\n"));
    assert_eq!(s.probes[0].timeout, Duration::from_secs(10));
}

#[test]
fn agent_errors() {
    assert_eq!(
        err("[agent]\nsplay = \"1s\"\nintervall = \"1s\"\n"),
        "c.toml:3: key `intervall`: unknown key, expected one of `instance_id`, `region`, `endpoint_url`, `state_dir`, `probes_dir`, `splay`, `min_push_interval`, `refresh_interval`, `quarantine_retry`, `max_request_bytes`, `on_removed`, `profile`, `credentials_file`, `retry_base`, `retry_cap`, `strict_permissions`, `log_level`, `metrics_file`, `fleet_config`, `fleet_poll_interval`, `fleet_exec_dirs`, `fleet_allow_shell`, `fleet_allow_user`"
    );
    assert_eq!(
        err("[agent]\n\nregoin = \"x\"\n"),
        "c.toml:3: key `regoin`: unknown key; did you mean `region`?"
    );
    assert_eq!(
        err("[agent]\nsplay = \"5 parsecs\"\n"),
        r#"c.toml:2: key `splay`: invalid duration "5 parsecs": unknown time unit "parsecs" (use ms, s, m, h, d)"#
    );
    assert_eq!(
        err("[agent]\ninstance_id = \"i-123\"\n"),
        r#"c.toml:2: key `instance_id`: "i-123" is not an instance ID: expected "auto", i- followed by 8 or 17 letters/digits (EC2) or mi- followed by 17 (hybrid node)"#
    );
    assert!(
        err("[agent]\nregion = \"Frankfurt\"\n")
            .starts_with("c.toml:2: key `region`: \"Frankfurt\"")
    );
    assert!(
        err("[agent]\nendpoint_url = \"localhost:80\"\n")
            .starts_with("c.toml:2: key `endpoint_url`:")
    );
    assert!(err("[agent]\nstate_dir = \"\"\n").starts_with("c.toml:2: key `state_dir`: is empty"));
    assert_eq!(
        err("[agent]\nmax_request_bytes = 100\n"),
        "c.toml:2: key `max_request_bytes`: 100 is out of range: must be between 4096 and 67108864 (64 MiB)"
    );
    assert!(
        err("[agent]\nmax_request_bytes = -1\n")
            .starts_with("c.toml:2: key `max_request_bytes`: -1 is out of range")
    );
    assert!(
        err("[agent]\nmax_request_bytes = \"1M\"\n")
            .starts_with("c.toml:2: key `max_request_bytes`: invalid type: string")
    );
    assert_eq!(
        err("[agent]\non_removed = \"delete\"\n"),
        "c.toml:2: key `on_removed`: unknown variant `delete`, expected `clear` or `keep`"
    );
    assert_eq!(
        err("[agent]\nrefresh_interval = \"0s\"\n"),
        "c.toml:2: key `refresh_interval`: must be greater than zero"
    );
    assert_eq!(
        err("[agent]\nlog_level = \"loud\"\n"),
        "c.toml:2: key `log_level`: \"loud\" is not a level: expected one of error, warn, info, debug, trace"
    );
    assert!(
        err("[agent]\nretry_base = \"10s\"\nretry_cap = \"1s\"\n")
            .starts_with("c.toml:3: key `retry_cap`: 1s is shorter than retry_base (10s)")
    );
    assert!(
        err("[agent]\nquarantine_retry = \"0s\"\n")
            .starts_with("c.toml:2: key `quarantine_retry`:")
    );
    assert!(
        err("[agnet]\n").starts_with("c.toml:1: key `agnet`: unknown key; did you mean `agent`?")
    );
    assert!(err("agent = 3\n").starts_with("c.toml:1: key `agent`: invalid type"));
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
fn exec_value_errors() {
    let base = "[[probe]]\nname = \"p\"\nkind = \"exec\"\n";
    assert!(
        err(&format!("{base}type_name = \"Custom:P\"\ncommand = []\n"))
            .starts_with("c.toml:5: key `command`: is empty")
    );
    assert!(
        err(&format!(
            "{base}type_name = \"Custom:P\"\ncommand = [\"\", \"x\"]\n"
        ))
        .starts_with("c.toml:5: key `command`: the program")
    );
    assert_eq!(
        err(&format!(
            "{base}type_name = \"Custom:P\"\ncommand = \"/bin/true\"\n"
        )),
        "c.toml:5: key `command`: is a string, but without `shell = true` the command is an argv list such as [\"/usr/bin/uname\", \"-r\"]; set `shell = true` to run the string with /bin/sh -c"
    );
    assert!(
        err(&format!("{base}type_name = \"Custom:P\"\ncommand = 5\n")).starts_with(
            "c.toml:5: key `command`: invalid type: integer `5`, expected a list of strings"
        )
    );
    assert!(
        err(&format!(
            "{base}type_name = \"Custom:P\"\ncommand = [\"/bin/echo\", 1]\n"
        ))
        .starts_with("c.toml:5: key `command`: invalid type: integer")
    );
    assert_eq!(
        err(&format!("{base}command = [\"x\"]\ntype_name = \"Stage\"\n")),
        "c.toml:5: key `type_name`: TypeName `Stage` must start with `Custom:`"
    );
    assert!(
        err(&format!(
            "{base}command = [\"x\"]\ntype_name = \"AWS:Application\"\n"
        ))
        .contains("AWS: types are gathered by the SSM Agent")
    );
    assert_eq!(
        err(&format!("{EXEC}schema_version = \"1\"\n")),
        r#"c.toml:6: key `schema_version`: "1" is not a SchemaVersion: expected major.minor, 1 to 6 digits each (e.g. "1.0")"#
    );
    assert!(
        err(&format!("{EXEC}[probe.env]\nOK = \"1\"\n\"A=B\" = \"x\"\n"))
            .starts_with("c.toml:8: key `env.A=B`: an environment variable name")
    );
    assert!(
        err(&format!("{EXEC}env = {{ N = 1 }}\n"))
            .starts_with("c.toml:6: key `env.N`: invalid type: integer")
    );
    assert!(err(&format!("{EXEC}user = \"a b\"\n")).starts_with("c.toml:6: key `user`:"));
    assert!(
        err(&format!("{EXEC}keep_order = \"yes\"\n"))
            .starts_with("c.toml:6: key `keep_order`: invalid type: string")
    );
}

#[test]
fn system_and_files_errors() {
    let sys = "[[probe]]\nname = \"s\"\nkind = \"system\"\n";
    assert_eq!(
        err(&format!("{sys}collectors = [\"host\", \"gpu\"]\n")),
        "c.toml:4: key `collectors`: unknown variant `gpu`, expected one of `host`, `disks`, `network`"
    );
    assert!(
        err(&format!("{sys}collectors = []\n")).starts_with("c.toml:4: key `collectors`: is empty")
    );
    assert!(
        err(&format!("{sys}collectors = [\"host\",\n  \"host\"]\n"))
            .starts_with("c.toml:5: key `collectors`: \"host\" is listed twice")
    );
    assert!(
        err("[[probe]]\nname = \"f\"\nkind = \"files\"\npath = \"\"\n")
            .starts_with("c.toml:4: key `path`: is empty")
    );
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
fn shell_commands() {
    let base = "[[probe]]\nname = \"p\"\nkind = \"exec\"\ntype_name = \"Custom:P\"\nshell = true\n";
    let s = ok(&format!("{base}command = \"uname -r | tr a-z A-Z\"\n"));
    let e = exec(&s.probes[0]);
    assert!(e.shell);
    assert_eq!(e.command, ["uname -r | tr a-z A-Z"]);
    let s = ok(&format!("{base}command = [\"./x.sh --flag\"]\n"));
    // The line is for the shell, not a program path to resolve.
    assert_eq!(exec(&s.probes[0]).command, ["./x.sh --flag"]);
    assert_eq!(
        err(&format!("{base}command = [\"/bin/echo\", \"hi\"]\n")),
        "c.toml:6: key `command`: has 2 elements, but with `shell = true` it is one command line for /bin/sh -c: a string, or a list of one string"
    );
    assert!(
        err(&format!("{base}command = \"  \"\n")).starts_with("c.toml:6: key `command`: is empty")
    );
    assert!(
        err(&format!("{EXEC}shell = \"yes\"\n"))
            .starts_with("c.toml:6: key `shell`: invalid type: string")
    );
}

#[test]
fn types_and_prefixes() {
    let base = "[[probe]]\nname = \"p\"\nkind = \"exec\"\ncommand = [\"/bin/true\"]\n";
    // `types` alone is enough; output must then name its types.
    let s = ok(&format!("{base}types = [\"Custom:A\", \"Custom:B\"]\n"));
    let e = exec(&s.probes[0]);
    assert_eq!(e.type_name, None);
    assert_eq!(
        e.exact_types().collect::<Vec<_>>(),
        ["Custom:A", "Custom:B"]
    );
    assert!(!e.has_prefix_types());
    assert_eq!(
        err(&format!("{base}types = []\n")),
        "c.toml:5: key `types`: is empty: list the TypeNames the program may print documents for (\"Custom:A\", or \"Custom:App.*\" for a prefix), or leave the key out"
    );
    assert_eq!(
        err(&format!("{base}types = [\"Custom:A\",\n  \"Stage\"]\n")),
        "c.toml:6: key `types`: TypeName `Stage` must start with `Custom:`"
    );
    assert!(
        err(&format!("{base}types = [\"Custom:*.x\"]\n"))
            .starts_with("c.toml:5: key `types`: \"Custom:*.x\": `*` is only allowed at the end")
    );
    assert!(
        err(&format!("{base}types = [\"Custom:*\"]\n")).starts_with(
            "c.toml:5: key `types`: \"Custom:*\": TypeName `Custom:` has nothing after"
        )
    );
    assert_eq!(
        err(&format!("{base}types = [\"Custom:A\", \"Custom:A\"]\n")),
        "c.toml:5: key `types`: \"Custom:A\" is listed twice"
    );
    assert_eq!(
        err(&format!(
            "{base}type_name = \"Custom:A\"\ntypes = [\"Custom:A\"]\n"
        )),
        "c.toml:6: key `types`: \"Custom:A\" is listed twice"
    );
    assert!(
        err(&format!("{base}types = [\"Custom:A\"]\nkeep_order = 1\n"))
            .starts_with("c.toml:6: key `keep_order`")
    );
}

#[test]
fn type_claims_cover_prefixes_and_system_collectors() {
    let probe = |name: &str, keys: &str| {
        format!(
            "[[probe]]\nname = \"{name}\"\nkind = \"exec\"\ncommand = [\"/bin/true\"]\n{keys}\n"
        )
    };
    let a = probe("a", "types = [\"Custom:App.*\"]");
    assert_eq!(
        err(&format!(
            "{a}{}",
            probe("b", "type_name = \"Custom:App.Web\"")
        )),
        "c.toml:10: key `type_name`: TypeName `Custom:App.Web` falls under the prefix `Custom:App.*` claimed by probe \"a\" at c.toml:5; one TypeName, one probe"
    );
    assert_eq!(
        err(&format!(
            "{}{a}",
            probe("b", "type_name = \"Custom:App.Web\"")
        )),
        "c.toml:10: key `types`: prefix `Custom:App.*` covers TypeName `Custom:App.Web`, already claimed by probe \"b\" at c.toml:5; one TypeName, one probe"
    );
    assert_eq!(
        err(&format!("{a}{}", probe("b", "types = [\"Custom:A*\"]"))),
        "c.toml:10: key `types`: prefix `Custom:A*` overlaps the prefix `Custom:App.*` claimed by probe \"a\" at c.toml:5; one TypeName, one probe"
    );
    // Within one probe, a prefix and a TypeName under it do not clash.
    ok(&probe(
        "a",
        "type_name = \"Custom:App.Main\"\ntypes = [\"Custom:App.*\"]",
    ));
    // Unrelated names do not clash with a prefix.
    ok(&format!("{a}{}", probe("b", "type_name = \"Custom:Apps\"")));

    let sys = "[[probe]]\nname = \"sys\"\nkind = \"system\"\ncollectors = [\"disks\", \"host\"]\n";
    assert_eq!(
        err(&format!(
            "{sys}{}",
            probe("b", "type_name = \"Custom:Host\"")
        )),
        "c.toml:9: key `type_name`: TypeName `Custom:Host` is already claimed by probe \"sys\" at c.toml:4; one TypeName, one probe"
    );
    assert_eq!(
        err(&format!(
            "{}{sys}",
            probe("b", "types = [\"Custom:Disks\"]")
        )),
        "c.toml:9: key `collectors`: TypeName `Custom:Disks` (from collector \"disks\") is already claimed by probe \"b\" at c.toml:5; one TypeName, one probe"
    );
    // A collector not configured leaves its TypeName free.
    ok(&format!(
        "{sys}{}",
        probe("b", "type_name = \"Custom:NetworkInterfaces\"")
    ));
    assert_eq!(Collector::Network.type_name(), "Custom:NetworkInterfaces");
}

#[test]
fn working_dir_and_max_output_bytes() {
    assert!(
        err(&format!("{EXEC}working_dir = \"\"\n"))
            .starts_with("c.toml:6: key `working_dir`: is empty")
    );
    let s = ok(&format!(
        "{EXEC}working_dir = \"/srv\"\nmax_output_bytes = 1\n"
    ));
    assert_eq!(
        exec(&s.probes[0]).working_dir.as_deref(),
        Some(Path::new("/srv"))
    );
    assert_eq!(exec(&s.probes[0]).max_output_bytes, 1);
    assert_eq!(
        err(&format!("{EXEC}max_output_bytes = 0\n")),
        "c.toml:6: key `max_output_bytes`: 0 is out of range: must be between 1 and 268435456 (256 MiB)"
    );
    assert!(
        err(&format!("{EXEC}max_output_bytes = -5\n"))
            .starts_with("c.toml:6: key `max_output_bytes`: -5 is out of range")
    );
    assert!(
        err(&format!("{EXEC}max_output_bytes = 268435457\n"))
            .starts_with("c.toml:6: key `max_output_bytes`: 268435457 is out of range")
    );
    let files = "[[probe]]\nname = \"f\"\nkind = \"files\"\n";
    for key in [
        "shell = true",
        "types = [\"Custom:A\"]",
        "working_dir = \"/\"",
        "max_output_bytes = 5",
    ] {
        let e = err(&format!("{files}{key}\n"));
        assert!(
            e.starts_with("c.toml:4: key `") && e.contains("only for exec probes"),
            "{e}"
        );
    }
}

#[test]
fn files_path_placeholders() {
    let files = "[[probe]]\nname = \"f\"\nkind = \"files\"\n";
    let s = ok(&format!(
        "{files}path = \"/var/lib/amazon/ssm/{{instance_id}}/inventory/custom\"\n"
    ));
    match &s.probes[0].kind {
        ProbeKind::Files(f) => assert_eq!(
            f.path,
            Path::new("/var/lib/amazon/ssm/{instance_id}/inventory/custom")
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err(&format!("{files}path = \"/x/{{instanceid}}\"\n")),
        "c.toml:4: key `path`: \"/x/{instanceid}\" has a placeholder other than {instance_id}, the only one supported"
    );
    assert_eq!(INSTANCE_ID_PLACEHOLDER, "{instance_id}");
}

#[test]
fn strict_permissions_is_a_boolean() {
    assert!(
        err("[agent]\nstrict_permissions = \"no\"\n")
            .starts_with("c.toml:2: key `strict_permissions`: invalid type: string")
    );
    assert!(
        !ok("[agent]\nstrict_permissions = false\n")
            .agent
            .strict_permissions
    );
}

#[test]
fn probe_must_be_an_array_of_tables() {
    assert!(err("[probe]\nname = \"a\"\n").contains("write `[[probe]]`"));
}

#[test]
fn syntax_error() {
    assert!(err("[agent\n").starts_with("c.toml:1: invalid TOML: "));
}

mod drop_ins {
    use std::fs;

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
        let s = load(&main).unwrap();
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
        assert!(load(&main).unwrap().probes.is_empty());
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
        let e = load(&main).unwrap_err().to_string();
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
        let e = load(&main).unwrap_err().to_string();
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
        let e = load(&main).unwrap_err();
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
        assert_eq!(load(&main).unwrap().probes.len(), 1);

        // The main file is checked too, and so is the directory the drop-ins are in.
        fs::set_permissions(&drop_in, fs::Permissions::from_mode(0o644)).unwrap();
        write(tmp.path(), "config.toml", "");
        fs::set_permissions(&main, fs::Permissions::from_mode(0o666)).unwrap();
        assert!(
            load(&main)
                .unwrap_err()
                .to_string()
                .contains("writable by its group and others")
        );
        fs::set_permissions(&main, fs::Permissions::from_mode(0o644)).unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o777)).unwrap();
        let e = load(&main).unwrap_err().to_string();
        assert!(
            e.contains(&format!("refused: {} is writable", d.display())),
            "{e}"
        );
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
        load(&main).unwrap();
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
        assert!(!load(&main).unwrap().agent.strict_permissions);

        fs::set_permissions(&main, fs::Permissions::from_mode(0o666)).unwrap();
        let e = load(&main).unwrap_err();
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
        let e = load(&main).unwrap_err().to_string();
        assert!(e.contains("is owned by uid 65534, not root"), "{e}");

        // …and so is the directory it is in.
        std::os::unix::fs::chown(&main, Some(0), None).unwrap();
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let e = load(&main).unwrap_err().to_string();
        assert!(
            e.contains(&format!("refused: {} is writable", tmp.path().display())),
            "{e}"
        );
    }

    #[test]
    fn unreadable_main_file_names_it() {
        let e = load(Path::new("/nonexistent/ssm-inventoryd.toml")).unwrap_err();
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
        let s = load(&example).unwrap();
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
}
