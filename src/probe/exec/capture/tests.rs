use crate::probe::ProbeError;
use crate::probe::exec::run;
use crate::probe::exec::tests::shell;

#[tokio::test]
async fn stdout_over_the_cap_kills_the_run() {
    let mut s = shell("yes");
    s.max_output_bytes = 1000;
    let e = run(&s).await.unwrap_err();
    assert!(
        matches!(e, ProbeError::OutputTooLarge { limit: 1000, .. }),
        "{e}"
    );
}

#[tokio::test]
async fn stderr_is_cut_and_says_so() {
    let out = run(&shell(
        "head -c 10000 /dev/zero | tr '\\0' x >&2; echo '{}'",
    ))
    .await
    .unwrap();
    assert!(out.stderr.starts_with("xxxx"), "{}", out.stderr);
    assert!(
        out.stderr.ends_with("(5904 more bytes not shown)"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn failure_with_empty_stderr_shows_the_head_of_stdout() {
    let e = run(&shell(
        "echo 'Error: could not mark memory executable'; exit 1",
    ))
    .await
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "probe `t`: failed with exit status 1; stdout: Error: could not mark memory executable"
    );
    let e = run(&shell("head -c 2000 /dev/zero | tr '\\0' x; exit 1"))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("; stdout: xxxx"), "{e}");
    assert!(e.ends_with("(1488 more bytes not shown)"), "{e}");
    // With stderr, stdout is not repeated.
    let e = run(&shell("echo out; echo err >&2; exit 1"))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "probe `t`: failed with exit status 1; stderr: err"
    );
}
