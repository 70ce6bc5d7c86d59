use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::config::{
    Collector, ExecSettings, FilesSettings, ProbeKind, ProbeSettings, SystemSettings,
};

fn probe(kind: ProbeKind) -> ProbeSettings {
    ProbeSettings {
        name: "p".into(),
        source: PathBuf::from("/fleet/p"),
        interval: Duration::from_secs(60),
        timeout: Duration::from_secs(10),
        splay: Duration::ZERO,
        strict_permissions: true,
        kind,
    }
}

fn exec(command: &[&str]) -> ExecSettings {
    ExecSettings {
        command: command.iter().map(|s| s.to_string()).collect(),
        shell: false,
        type_name: Some("Custom:X".into()),
        types: Vec::new(),
        schema_version: "1.0".into(),
        env: BTreeMap::new(),
        user: None,
        working_dir: None,
        max_output_bytes: 1024,
        keep_order: false,
    }
}

fn allowing(dirs: &[&str]) -> FleetSettings {
    FleetSettings {
        exec_dirs: dirs.iter().map(PathBuf::from).collect(),
        ..FleetSettings::default()
    }
}

fn key_of(result: Result<(), Violation>) -> String {
    result.expect_err("refused").key
}

#[test]
fn files_and_system_probes_pass_with_absolute_paths() {
    let fleet = FleetSettings::default();
    let system = probe(ProbeKind::System(SystemSettings {
        collectors: vec![Collector::Host],
    }));
    assert_eq!(check(&system, &fleet), Ok(()));
    let files = |p: &str| {
        probe(ProbeKind::Files(FilesSettings {
            path: PathBuf::from(p),
        }))
    };
    assert_eq!(check(&files("/var/lib/x"), &fleet), Ok(()));
    assert_eq!(key_of(check(&files("custom.d"), &fleet)), "path");
}

#[test]
fn exec_programs_must_lie_in_an_allowed_directory() {
    let fleet = allowing(&["/usr/local/lib/ssm-inventoryd/probes"]);
    let run = |cmd: &[&str]| check(&probe(ProbeKind::Exec(exec(cmd))), &fleet);
    assert_eq!(
        run(&["/usr/local/lib/ssm-inventoryd/probes/pkgs", "-a"]),
        Ok(())
    );
    assert_eq!(run(&["/usr/local/lib/ssm-inventoryd/probes/sub/x"]), Ok(()));
    for bad in [
        "/bin/sh",
        "/usr/local/lib/ssm-inventoryd/probes",
        "/usr/local/lib/ssm-inventoryd/probes/../../../../bin/sh",
        "/usr/local/lib/ssm-inventoryd/probes/./x",
        "/usr/local/lib/ssm-inventoryd/probesX/x",
        "pkgs",
        "./pkgs",
    ] {
        let refusal = run(&[bad]).expect_err(bad);
        assert_eq!(refusal.key, "command", "{bad}");
        assert!(!refusal.message.contains('\n'));
    }
    let err = run(&["/bin/cat"]).unwrap_err();
    assert_eq!(
        err.message,
        "the program /bin/cat is outside `[agent] fleet_exec_dirs` (/usr/local/lib/ssm-inventoryd/probes); a probe from a parameter runs only programs the node's administrator put there"
    );
}

#[test]
fn no_allowed_directory_means_no_exec_probe() {
    let p = probe(ProbeKind::Exec(exec(&["/usr/bin/uname"])));
    let err = check(&p, &FleetSettings::default()).unwrap_err();
    assert_eq!(err.key, "command");
    assert!(err.message.contains("lists none"), "{}", err.message);
}

#[test]
fn shell_user_and_code_environment_need_the_nodes_consent() {
    let dir = "/opt/probes";
    let mut shell = exec(&["uname -r | tr a-z A-Z"]);
    shell.shell = true;
    let shell = probe(ProbeKind::Exec(shell));
    assert_eq!(key_of(check(&shell, &allowing(&[dir]))), "shell");
    let consenting = FleetSettings {
        allow_shell: true,
        ..allowing(&[])
    };
    assert_eq!(check(&shell, &consenting), Ok(()));

    let mut user = exec(&["/opt/probes/x"]);
    user.user = Some("nobody".into());
    let user = probe(ProbeKind::Exec(user));
    assert_eq!(key_of(check(&user, &allowing(&[dir]))), "user");
    let consenting = FleetSettings {
        allow_user: true,
        ..allowing(&[dir])
    };
    assert_eq!(check(&user, &consenting), Ok(()));

    for key in [
        "LD_PRELOAD",
        "LD_LIBRARY_PATH",
        "PYTHONPATH",
        "BASH_ENV",
        "PATH",
    ] {
        let mut e = exec(&["/opt/probes/x"]);
        e.env.insert(key.into(), "/tmp/x".into());
        let p = probe(ProbeKind::Exec(e));
        assert_eq!(key_of(check(&p, &allowing(&[dir]))), format!("env.{key}"));
    }
    let mut e = exec(&["/opt/probes/x"]);
    e.env.insert("LC_ALL".into(), "C".into());
    assert_eq!(check(&probe(ProbeKind::Exec(e)), &allowing(&[dir])), Ok(()));
}

#[test]
fn relative_working_directories_are_refused() {
    let mut e = exec(&["/opt/probes/x"]);
    e.working_dir = Some(PathBuf::from("data"));
    let p = probe(ProbeKind::Exec(e));
    assert_eq!(
        key_of(check(&p, &allowing(&["/opt/probes"]))),
        "working_dir"
    );
}
