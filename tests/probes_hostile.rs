//! Hostile exec probes against the real binary: each must fail with one error line that names
//! the probe and the cause, while a well-behaved probe next to it is still collected, and
//! nothing the hostile probe started may be left running afterwards.
//!
//! Every hostile script carries a marker (a number unique to this test run and case) in its
//! command line, and the processes it leaves behind (`sleep`) carry it in their arguments, so
//! survivors can be found by scanning `/proc/*/cmdline`.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

struct Case {
    name: &'static str,
    /// A `/bin/sh -c` line; `{M}` is replaced by the marker.
    script: &'static str,
    /// Substrings the error line must contain.
    expect: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        name: "invalid-json",
        script: r#": {M}; printf '{"a":'"#,
        expect: &["output is not valid JSON at line 1"],
    },
    Case {
        name: "empty",
        script: ": {M}; true",
        expect: &["output is empty; expected JSON"],
    },
    Case {
        name: "fifty-megabytes",
        script: r": {M}; head -c 52428800 /dev/zero | tr '\0' a",
        expect: &["printed more than 8388608 bytes (max_output_bytes); the run was killed"],
    },
    Case {
        name: "not-utf8",
        script: r#": {M}; printf '{"a":"\377\376"}'"#,
        expect: &["output is not valid UTF-8 (first bad byte at offset 6)"],
    },
    Case {
        name: "nested",
        script: r#": {M}; echo '[{"a":"1"},{"b":{"c":"d"}}]'"#,
        expect: &[
            "output $[1].b holds an object; attribute values must be strings, numbers or booleans, not nested values",
        ],
    },
    Case {
        name: "too-many-rows",
        script: r#": {M}; printf '['; i=0; while [ $i -lt 10000 ]; do printf '{"N":"%d"},' $i; i=$((i+1)); done; printf '{"N":"last"}]'"#,
        expect: &["Custom:Hostile: 10001 rows, over the limit of 10000"],
    },
    Case {
        name: "too-many-attributes",
        script: r#": {M}; printf '{'; i=0; while [ $i -lt 50 ]; do printf '"A%d":"v",' $i; i=$((i+1)); done; printf '"Last":"v"}'"#,
        expect: &["Custom:Hostile: row 0 has 51 attributes, over the limit of 50"],
    },
    Case {
        name: "long-attribute-name",
        script: r#": {M}; printf '{"%s":"v"}' "$(head -c 65 /dev/zero | tr '\0' n)""#,
        expect: &["is 65 characters long, over the limit of 64"],
    },
    Case {
        name: "long-value",
        script: r#": {M}; printf '{"Value":"%s"}' "$(head -c 4097 /dev/zero | tr '\0' v)""#,
        expect: &["attribute `Value` has a value of 4097 characters, over the limit of 4096"],
    },
    Case {
        name: "two-spellings",
        script: r#": {M}; echo '[{"Vendor":"a"},{"vendor":"b"}]'"#,
        expect: &["row 1 spells attribute `vendor` differently from `Vendor`"],
    },
    Case {
        name: "not-custom",
        script: r#": {M}; echo '{"SchemaVersion":"1.0","TypeName":"Hostile","Content":[]}'"#,
        expect: &["TypeName `Hostile` must start with `Custom:`"],
    },
    Case {
        name: "context",
        script: r#": {M}; echo '{"TypeName":"Custom:Hostile","Content":[],"Context":{"a":"b"}}'"#,
        expect: &["Custom:Hostile: Context is only allowed on AWS types"],
    },
    Case {
        name: "undeclared-type",
        script: r#": {M}; echo '{"TypeName":"Custom:Elsewhere","Content":[]}'"#,
        expect: &["printed TypeName `Custom:Elsewhere`, which the probe does not declare"],
    },
    Case {
        name: "never-exits",
        script: ": {M}; sleep 36{M}",
        expect: &["did not finish within its timeout of 2s; its processes were killed"],
    },
    Case {
        name: "ignores-sigterm",
        script: ": {M}; trap '' TERM; sleep 36{M}",
        expect: &["did not finish within its timeout of 2s; its processes were killed"],
    },
    Case {
        name: "child-holds-stdout",
        script: r#": {M}; sleep 36{M} & echo '{"a":"b"}'"#,
        expect: &["the program exited but a child kept its stdout open; the child was killed"],
    },
    Case {
        name: "exit-1",
        script: ": {M}; echo 'cannot reach the database' >&2; exit 1",
        expect: &["failed with exit status 1; stderr: cannot reach the database"],
    },
];

fn config(dir: &Path, hostile: &str, script: &str) -> std::path::PathBuf {
    let path = dir.join("config.toml");
    let text = format!(
        r#"[agent]
probes_dir = "none"

[[probe]]
name = "good"
kind = "exec"
type_name = "Custom:Good"
command = ["/bin/echo", '{{"Stage":"ok"}}']

[[probe]]
name = "hostile-{hostile}"
kind = "exec"
type_name = "Custom:Hostile"
shell = true
command = '''{script}'''
interval = "1m"
timeout = "2s"
"#
    );
    fs::write(&path, text).expect("write config");
    path
}

/// Live processes whose command line contains `marker` (zombies have none and are skipped).
fn survivors(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(marker) {
            found.push(format!("{pid}: {cmdline}"));
        }
    }
    found
}

#[test]
fn hostile_probes_fail_alone_and_leave_nothing_running() {
    let mut failures = Vec::new();
    for (index, case) in CASES.iter().enumerate() {
        let marker = format!("9{:07}{index:02}", std::process::id() % 10_000_000);
        let tmp = tempfile::tempdir().expect("temp dir");
        let script = case.script.replace("{M}", &marker);
        let config = config(tmp.path(), case.name, &script);
        let out = Command::new(env!("CARGO_BIN_EXE_ssm-inventoryd"))
            .args(["collect", "--config"])
            .arg(&config)
            .env("NO_COLOR", "1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .expect("run ssm-inventoryd");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);

        // The good probe's item, and nothing else.
        let lines: Vec<&str> = stdout.lines().collect();
        let good = lines.len() == 1 && lines[0].contains(r#""TypeName":"Custom:Good""#);
        // One error line naming the probe and the cause.
        let probe = format!("probe `hostile-{}`", case.name);
        let error_lines: Vec<&str> = stderr.lines().filter(|l| l.contains(&probe)).collect();
        let named = error_lines
            .iter()
            .any(|l| case.expect.iter().all(|e| l.contains(e)));
        let code_ok = out.status.code() == Some(1);

        // Killed processes may take a moment to be gone from /proc; wait for that rather
        // than for any particular speed.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut left = survivors(&marker);
        while !left.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
            left = survivors(&marker);
        }

        if !(good && named && code_ok && left.is_empty()) {
            failures.push(format!(
                "case {}: exit {:?}, good item {good}, error named {named}, survivors {left:?}\nstdout: {stdout}\nstderr: {stderr}",
                case.name,
                out.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The same hostile outputs, printed by a probe run through the library: the error is
/// typed, and a failed run returns no items at all (the caller keeps the last good ones).
#[tokio::test]
async fn a_failed_run_returns_no_items() {
    use ssm_inventoryd::config;
    use ssm_inventoryd::probe::{Probe, ProbeError};

    let tmp = tempfile::tempdir().expect("temp dir");
    let path = config(
        tmp.path(),
        "partial",
        r#"echo '[{"TypeName":"Custom:Hostile","Content":[{"ok":"1"}]},{"TypeName":"Custom:Hostile2","Content":[]}]'"#,
    );
    let settings = config::load(&path).expect("config loads");
    let probe = Probe::from_settings(settings.probe("hostile-partial").expect("probe"));
    let e = probe.collect().await.expect_err("undeclared second type");
    assert!(matches!(e, ProbeError::UndeclaredType { .. }), "{e}");
    assert_eq!(e.probe(), "hostile-partial");
}
