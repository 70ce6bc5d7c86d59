use crate::probe::exec::run;
use crate::probe::exec::tests::shell;

#[tokio::test]
async fn runs_as_another_user_when_root() {
    let Some(nobody) =
        crate::probe::exec::tests::nobody_as_root("needs root to run a probe as another user")
    else {
        return;
    };
    let mut s = shell("id -u; id -g");
    s.user = Some("nobody".into());
    let out = run(&s).await.unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("{}\n{}\n", nobody.uid, nobody.gid)
    );
    s.user = Some("no-such-user-ssm-inventoryd".into());
    let e = run(&s).await.unwrap_err().to_string();
    assert!(
        e.contains("no-such-user-ssm-inventoryd") && e.contains("no such user"),
        "{e}"
    );
}
