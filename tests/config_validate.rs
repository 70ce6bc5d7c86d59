//! `ssm-inventoryd validate --config PATH` against the shipped example and against one broken
//! config per kind of mistake: exit code 2 and exactly one line on stderr naming the file, the
//! line and the key, because that line is all an operator gets.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn validate(config: &Path) -> Outcome {
    let out = Command::new(env!("CARGO_BIN_EXE_ssm-inventoryd"))
        .args(["validate", "--config"])
        .arg(config)
        // Validation must not need AWS; make sure nothing tries instance metadata.
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run ssm-inventoryd");
    Outcome {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A config directory: `config.toml` plus optional `probes.d/` files.
struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    fn new(main: &str) -> Dir {
        let tmp = tempfile::tempdir().expect("temp dir");
        fs::write(tmp.path().join("config.toml"), main).expect("write config.toml");
        Dir { tmp }
    }

    fn main(&self) -> PathBuf {
        self.tmp.path().join("config.toml")
    }

    fn drop_in(&self, name: &str, text: &str) -> PathBuf {
        let dir = self.tmp.path().join("probes.d");
        fs::create_dir_all(&dir).expect("create probes.d");
        let path = dir.join(name);
        fs::write(&path, text).expect("write drop-in");
        path
    }
}

/// Runs validate and checks the one-line error: exit 2, `FILE:LINE:`, the key in backticks.
/// Returns the line for further checks.
fn expect_error(config: &Path, file: &Path, line: usize, key: &str) -> String {
    let out = validate(config);
    let err = out.stderr.trim();
    assert_eq!(
        out.code,
        Some(2),
        "exit code; stdout: {}; stderr: {err}",
        out.stdout
    );
    assert_eq!(err.lines().count(), 1, "stderr must be one line: {err:?}");
    let place = format!("{}:{line}:", file.display());
    assert!(err.contains(&place), "{err:?} should contain {place:?}");
    assert!(
        err.contains(&format!("`{key}`")),
        "{err:?} should name key `{key}`"
    );
    err.to_owned()
}

fn expect_main_error(main: &str, line: usize, key: &str) -> String {
    let dir = Dir::new(main);
    expect_error(&dir.main(), &dir.main(), line, key)
}

const PROBE: &str = r#"
[[probe]]
name = "stage"
kind = "exec"
command = ["/bin/echo", "{}"]
type_name = "Custom:StageInfo"
"#;

#[test]
fn shipped_example_is_valid() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/ssm-inventoryd.toml");
    let out = validate(&example);
    assert_eq!(
        out.code,
        Some(0),
        "stdout: {}\nstderr: {}",
        out.stdout,
        out.stderr
    );
    assert!(out.stderr.trim().is_empty(), "stderr: {}", out.stderr);
}

#[test]
fn minimal_config_is_valid() {
    let dir = Dir::new(PROBE);
    let out = validate(&dir.main());
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
}

#[test]
fn unknown_key_in_agent() {
    let err = expect_main_error(
        "[agent]\nregion = \"auto\"\nregoin = \"us-east-1\"\n",
        3,
        "regoin",
    );
    assert!(err.contains("did you mean `region`"), "{err}");
}

#[test]
fn unknown_key_in_probe() {
    expect_main_error(&format!("{PROBE}colour = \"blue\"\n"), 7, "colour");
}

#[test]
fn bad_duration() {
    let err = expect_main_error(&format!("{PROBE}interval = \"5 parsecs\"\n"), 7, "interval");
    assert!(
        err.contains(r#"invalid duration "5 parsecs": unknown time unit "parsecs""#),
        "{err}"
    );
}

/// `validate` once accepted this and `run` then panicked after its first push.
#[test]
fn durations_past_a_year_are_refused() {
    let err = expect_main_error(
        "[agent]\nrefresh_interval = \"10000y\"\n",
        2,
        "refresh_interval",
    );
    assert!(
        err.contains(r#"invalid duration "10000y": at most 365d (one year)"#),
        "{err}"
    );
    let err = expect_main_error(&format!("{PROBE}interval = \"400d\"\n"), 7, "interval");
    assert!(err.contains("at most 365d"), "{err}");
}

#[test]
fn missing_name() {
    expect_main_error("# probes\n\n[[probe]]\nkind = \"system\"\n", 3, "name");
}

#[test]
fn missing_kind() {
    expect_main_error("[[probe]]\nname = \"x\"\n", 1, "kind");
}

#[test]
fn missing_command() {
    expect_main_error(
        "\n[[probe]]\nname = \"x\"\nkind = \"exec\"\ntype_name = \"Custom:X\"\n",
        2,
        "command",
    );
}

#[test]
fn missing_type_name() {
    expect_main_error(
        "\n\n[[probe]]\nname = \"x\"\nkind = \"exec\"\ncommand = [\"/bin/true\"]\n",
        3,
        "type_name",
    );
}

#[test]
fn wrong_kind_value() {
    expect_main_error("[[probe]]\nname = \"x\"\nkind = \"script\"\n", 3, "kind");
}

#[test]
fn key_of_another_kind() {
    let err = expect_main_error(&format!("{PROBE}path = \"/srv/inventory\"\n"), 7, "path");
    assert!(err.contains("only for files probes"), "{err}");
}

#[test]
fn type_name_claimed_in_main_file_and_drop_in() {
    let dir = Dir::new(PROBE);
    let drop_in = dir.drop_in(
        "10-stage.toml",
        "# a second stage probe\n[[probe]]\nname = \"stage2\"\nkind = \"exec\"\ncommand = [\"/bin/true\"]\ntype_name = \"Custom:StageInfo\"\n",
    );
    let err = expect_error(&dir.main(), &drop_in, 6, "type_name");
    // Both places: the earlier claim is the main file's line 6.
    let earlier = format!("{}:6", dir.main().display());
    assert!(err.contains(&earlier), "{err:?} should name {earlier:?}");
}

#[test]
fn bad_type_name() {
    let text = PROBE.replace("Custom:StageInfo", "StageInfo");
    let err = expect_main_error(&text, 6, "type_name");
    assert!(err.contains("Custom:"), "{err}");
}

#[test]
fn bad_schema_version() {
    expect_main_error(
        &format!("{PROBE}schema_version = \"v1\"\n"),
        7,
        "schema_version",
    );
}

#[test]
fn duplicate_probe_name() {
    let second = "\n[[probe]]\nname = \"stage\"\nkind = \"system\"\n";
    expect_main_error(&format!("{PROBE}{second}"), 9, "name");
}

#[test]
fn bad_instance_id() {
    expect_main_error("[agent]\n\ninstance_id = \"i-12345\"\n", 3, "instance_id");
}

#[test]
fn timeout_longer_than_interval() {
    expect_main_error(
        &format!("{PROBE}interval = \"30s\"\ntimeout = \"1m\"\n"),
        8,
        "timeout",
    );
}

#[test]
fn agent_table_in_a_drop_in() {
    let dir = Dir::new("");
    let drop_in = dir.drop_in("x.toml", "[agent]\nsplay = \"1s\"\n");
    expect_error(&dir.main(), &drop_in, 1, "agent");
}

/// As root, `strict_permissions = false` in the main file does not exempt the main file
/// itself: whoever could change the file could switch the checks off. The same file, owned
/// by root and writable by root only, is accepted and switches them off for the drop-ins.
#[test]
fn main_file_that_others_could_change_cannot_switch_the_checks_off() {
    use std::os::unix::fs::PermissionsExt;
    if !common::skip::as_root("needs root: the trust checks apply only to root") {
        return;
    }
    let dir = Dir::new(&format!("[agent]\nstrict_permissions = false\n{PROBE}"));
    let main = dir.main();
    let drop_in = dir.drop_in("group.toml", "");
    let chmod = |path: &Path, mode: u32| {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod")
    };
    chmod(&drop_in, 0o664);

    for (mode, owner, problem) in [
        (0o664, 0, "is writable by its group (mode 0664)".to_owned()),
        (0o646, 0, "is writable by others (mode 0646)".to_owned()),
        (0o644, 65534, "is owned by uid 65534, not root".to_owned()),
    ] {
        chmod(&main, mode);
        std::os::unix::fs::chown(&main, Some(owner), None).expect("chown");
        let out = validate(&main);
        let err = out.stderr.trim();
        assert_eq!(
            out.code,
            Some(2),
            "mode {mode:o}, uid {owner}: stderr: {err}"
        );
        assert_eq!(err.lines().count(), 1, "stderr must be one line: {err:?}");
        let refused = format!("{0}: refused: {0} {problem}", main.display());
        assert!(err.contains(&refused), "{err:?} should contain {refused:?}");
        assert!(
            err.contains("the main config file is checked whatever its `strict_permissions` says"),
            "{err}"
        );
    }

    chmod(&main, 0o644);
    std::os::unix::fs::chown(&main, Some(0), None).expect("chown");
    let out = validate(&main);
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert!(out.stdout.contains("valid; 1 probes"), "{}", out.stdout);
}

#[test]
fn a_probe_output_budget_over_the_unit_memory_max_is_one_warning() {
    // 75,147,946 bytes: 40 MiB + 75,147,946 × 3 + a push of the default 1 MiB × 1, 2 bytes
    // under 256 MiB, still within MemoryMax.
    let fits = Dir::new("[agent]\nprobe_output_budget = 75147946\n");
    let out = validate(&fits.main());
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert!(out.stderr.trim().is_empty(), "stderr: {}", out.stderr);

    let over = Dir::new(&format!(
        "[agent]\nprobe_output_budget = 268435456\n{PROBE}max_output_bytes = 268435456\n"
    ));
    let out = validate(&over.main());
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert_eq!(
        out.stderr.trim(),
        "warning: memory: probe_output_budget 268435456 bytes × 3 (peak per byte of it) + \
         max_request_bytes 1048576 × 1 (a push's peak) + 40 MiB (the daemon's own) = 809 MiB, \
         over the unit's MemoryMax of 256 MiB: the kernel would stop the service; lower \
         probe_output_budget to at most 75147946 bytes (or max_request_bytes) or raise MemoryMax"
    );
}

#[test]
fn an_exec_probe_larger_than_the_budget_is_refused() {
    let dir = Dir::new(&format!("{PROBE}max_output_bytes = 67108864\n"));
    let line = expect_error(&dir.main(), &dir.main(), 7, "max_output_bytes");
    assert!(
        line.contains(
            "may print 67108864 bytes, more than the whole probe_output_budget of 33554432 bytes"
        ),
        "{line}"
    );
}
