//! `[agent]`: defaults, every key set, and its errors.

use std::time::Duration;

use super::super::defaults::*;
use super::*;

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
    assert_eq!(a.max_concurrent_probes, 4);
    assert_eq!(a.probe_output_budget, 32 * 1024 * 1024);
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
    assert_eq!(DEFAULT_MAX_CONCURRENT_PROBES, a.max_concurrent_probes);
    assert_eq!(DEFAULT_PROBE_OUTPUT_BUDGET, a.probe_output_budget);
    // The documented worst case of the defaults: 40 MiB + 32 MiB × 3 + 1 MiB × 1 = 137 MiB,
    // under the unit's 256 MiB.
    assert_eq!(a.worst_case_bytes(), 137 * 1024 * 1024);
    assert!(a.worst_case_bytes() < UNIT_MEMORY_MAX);
    assert_eq!(DEFAULT_ON_REMOVED, a.on_removed);
    assert_eq!(DEFAULT_RETRY_BASE, a.retry_base);
    assert_eq!(DEFAULT_RETRY_CAP, a.retry_cap);
    assert_eq!(DEFAULT_STRICT_PERMISSIONS, a.strict_permissions);
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
fn agent_errors() {
    assert_eq!(
        err("[agent]\nsplay = \"1s\"\nintervall = \"1s\"\n"),
        "c.toml:3: key `intervall`: unknown key, expected one of `instance_id`, `region`, `endpoint_url`, `state_dir`, `probes_dir`, `splay`, `min_push_interval`, `refresh_interval`, `quarantine_retry`, `max_request_bytes`, `max_concurrent_probes`, `probe_output_budget`, `on_removed`, `profile`, `credentials_file`, `retry_base`, `retry_cap`, `strict_permissions`, `log_level`, `metrics_file`, `fleet_config`, `fleet_poll_interval`, `fleet_size_hint`, `fleet_exec_dirs`, `fleet_allow_shell`, `fleet_allow_user`"
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
fn probe_run_limits() {
    let s = ok("[agent]\nmax_concurrent_probes = 1\nprobe_output_budget = 1048576\n");
    assert_eq!(s.agent.max_concurrent_probes, 1);
    assert_eq!(s.agent.probe_output_budget, 1024 * 1024);
    assert_eq!(
        err("[agent]\nmax_concurrent_probes = 0\n"),
        "c.toml:2: key `max_concurrent_probes`: 0 is out of range: must be between 1 and 1024"
    );
    assert!(
        err("[agent]\nmax_concurrent_probes = -1\n")
            .starts_with("c.toml:2: key `max_concurrent_probes`: -1 is out of range")
    );
    assert_eq!(
        err("[agent]\nprobe_output_budget = 1048575\n"),
        "c.toml:2: key `probe_output_budget`: 1048575 is out of range: must be between \
         1048576 and 4294967296 (4 GiB)"
    );
    // With the default max_request_bytes, 75,147,946 bytes is the largest budget whose worst
    // case fits the unit's MemoryMax: (256 − 40 − 1) MiB / 3, rounded down.
    let fits = ok("[agent]\nprobe_output_budget = 75147946\n");
    assert!(fits.agent.worst_case_bytes() <= UNIT_MEMORY_MAX);
    let over = ok("[agent]\nprobe_output_budget = 75147947\n");
    assert!(over.agent.worst_case_bytes() > UNIT_MEMORY_MAX);
}

#[test]
fn an_exec_probe_may_not_print_more_than_the_whole_budget() {
    let probe = "[[probe]]\nname = \"big\"\nkind = \"exec\"\ncommand = [\"/bin/true\"]\n\
                 type_name = \"Custom:Big\"\n";
    // The default max_output_bytes is a quarter of the default budget; the whole fits.
    ok(probe);
    ok(&format!("{probe}max_output_bytes = 33554432\n"));
    assert_eq!(
        err(&format!("{probe}max_output_bytes = 33554433\n")),
        "c.toml:6: key `max_output_bytes`: probe \"big\" may print 33554433 bytes, more than \
         the whole probe_output_budget of 33554432 bytes in [agent]: raise the budget or lower \
         the probe's max_output_bytes"
    );
    // Without its own key, the probe's default is measured against a smaller budget, at its
    // header.
    assert!(
        err(&format!("[agent]\nprobe_output_budget = 1048576\n{probe}"))
            .starts_with("c.toml:3: key `max_output_bytes`: probe \"big\" may print 8388608 bytes")
    );
    let s = ok(&format!(
        "[agent]\nprobe_output_budget = 268435456\n{probe}max_output_bytes = 268435456\n"
    ));
    assert_eq!(s.agent.probe_output_budget, 268_435_456);
}
