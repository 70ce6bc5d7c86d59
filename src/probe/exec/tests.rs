use super::*;

pub(super) fn spec(command: &[&str]) -> ExecSpec {
    ExecSpec {
        probe: "t".into(),
        command: command.iter().map(|s| s.to_string()).collect(),
        shell: false,
        env: BTreeMap::new(),
        user: None,
        working_dir: None,
        timeout: Duration::from_secs(10),
        max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
        strict_permissions: true,
    }
}

pub(super) fn shell(line: &str) -> ExecSpec {
    ExecSpec {
        shell: true,
        ..spec(&[line])
    }
}

/// `nobody`, for a test that runs a probe as another user: only as root and where that account
/// exists; otherwise the skip rule's line (a failure under `SSM_INVENTORYD_REQUIRE_ROOT=1`).
pub(super) fn nobody_as_root(why: &str) -> Option<crate::probe::user::RunAs> {
    if !crate::skip::as_root(why) {
        return None;
    }
    let nobody = crate::probe::user::resolve("nobody");
    crate::skip::can_run(
        nobody.is_ok(),
        crate::skip::ROOT,
        "needs a `nobody` account",
    )
    .then(|| nobody.ok())
    .flatten()
}

#[tokio::test]
async fn argv_runs_without_a_shell_and_with_a_clean_environment() {
    let out = run(&spec(&["/bin/echo", "$HOME", "*"])).await.unwrap();
    assert_eq!(out.stdout, b"$HOME *\n");
    let mut s = spec(&["env"]);
    s.env.insert("ONLY".into(), "this".into());
    let out = run(&s).await.unwrap();
    let env = String::from_utf8(out.stdout).unwrap();
    let mut names: Vec<&str> = env.lines().filter_map(|l| l.split('=').next()).collect();
    names.sort();
    names.retain(|n| *n != "LANG");
    assert_eq!(names, ["ONLY", "PATH", RUN_VARIABLE], "{env}");
}

#[tokio::test]
async fn shell_true_runs_the_line_with_bin_sh() {
    let out = run(&shell(
        "printf '%s' \"$0\" | tr a-z A-Z; echo; echo err >&2",
    ))
    .await
    .unwrap();
    assert_eq!(out.stdout, b"/BIN/SH\n");
    assert_eq!(out.stderr, "err");
}

#[tokio::test]
async fn failure_carries_status_and_stderr() {
    let e = run(&shell("echo broken >&2; exit 3")).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "probe `t`: failed with exit status 3; stderr: broken"
    );
}
