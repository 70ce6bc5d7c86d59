//! The fleet policy: what a probe from a Parameter Store parameter may do. Part of validation,
//! since it reads only the configuration: a parameter's probe that breaks it is an error on
//! the line of the key it blames, like any other invalid key.
//!
//! A parameter is writable by whoever holds `ssm:PutParameter` on it, usually far more
//! people and roles than can log in as root on the nodes; yet an exec probe runs as root on
//! every node that reads it. So a parameter may describe `files` and `system` probes freely,
//! but an exec probe only runs a program that the node's own root already put in a directory
//! the node's configuration names (`[agent] fleet_exec_dirs`): the parameter chooses *which*
//! vetted program runs and with what arguments, never *what code*. Everything that would let
//! it choose the code — a shell command line, another user, an environment variable that a
//! loader or interpreter reads code from — is refused unless the local configuration allows
//! it. The program itself is then checked at every run like every program is
//! ([`crate::config::trust`]), whatever the local `strict_permissions` says.

use std::path::Path;

use crate::config::{FleetSettings, ProbeKind, ProbeSettings};

/// What the policy does not allow in a parameter's probe: the key to blame and what to do
/// about it. Turned into a [`crate::config::ConfigError`] on that key's line by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Violation {
    /// As the key is written in the probe (`command`, `shell`, `env.LD_PRELOAD`).
    pub key: String,
    pub message: String,
}

impl Violation {
    fn new(key: impl Into<String>, message: impl Into<String>) -> Violation {
        Violation {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// Environment variables through which a loader or an interpreter takes code or a search
/// path for code: set by a parameter, they would turn a vetted program into any program.
const CODE_ENV: &[&str] = &[
    "BASH_ENV",
    "ENV",
    "GCONV_PATH",
    "GLIBC_TUNABLES",
    "HOSTALIASES",
    "IFS",
    "JAVA_TOOL_OPTIONS",
    "LOCALDOMAIN",
    "NODE_OPTIONS",
    "NODE_PATH",
    "PATH",
    "PERL5DB",
    "PERL5LIB",
    "PERL5OPT",
    "PERLLIB",
    "PS4",
    "PYTHONHOME",
    "PYTHONINSPECT",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PYTHONWARNINGS",
    "RES_OPTIONS",
    "RUBYLIB",
    "RUBYOPT",
    "SHELLOPTS",
    "TMPDIR",
];

fn is_code_env(key: &str) -> bool {
    key.starts_with("LD_") || key.starts_with("_JAVA_") || CODE_ENV.contains(&key)
}

/// Checks a validated probe that came from a parameter against the node's fleet settings.
pub(super) fn check(probe: &ProbeSettings, fleet: &FleetSettings) -> Result<(), Violation> {
    match &probe.kind {
        ProbeKind::System(_) => Ok(()),
        ProbeKind::Files(files) => {
            if files.path.is_relative() {
                return Err(Violation::new(
                    "path",
                    format!(
                        "{:?} is relative, and a parameter has no folder to be relative to; give an absolute path",
                        files.path.display().to_string()
                    ),
                ));
            }
            Ok(())
        }
        ProbeKind::Exec(exec) => {
            if exec.shell && !fleet.allow_shell {
                return Err(Violation::new(
                    "shell",
                    "a probe from a parameter may not use `shell = true` (a command line can run anything) unless the node's configuration sets `[agent] fleet_allow_shell = true`",
                ));
            }
            if exec.user.is_some() && !fleet.allow_user {
                return Err(Violation::new(
                    "user",
                    "a probe from a parameter may not choose the user it runs as unless the node's configuration sets `[agent] fleet_allow_user = true`",
                ));
            }
            if let Some(key) = exec.env.keys().find(|k| is_code_env(k)) {
                return Err(Violation::new(
                    format!("env.{key}"),
                    format!(
                        "a probe from a parameter may not set {key}: through it a loader or interpreter takes code from elsewhere than the vetted program"
                    ),
                ));
            }
            if let Some(dir) = exec.working_dir.as_ref().filter(|d| d.is_relative()) {
                return Err(Violation::new(
                    "working_dir",
                    format!(
                        "{:?} is relative, and a parameter has no folder to be relative to; give an absolute path",
                        dir.display().to_string()
                    ),
                ));
            }
            if exec.shell {
                // Allowed by the node: the command line is for /bin/sh, which is checked as
                // the program at every run.
                return Ok(());
            }
            let program = exec.command.first().map_or("", String::as_str);
            check_program(Path::new(program), &fleet.exec_dirs)
        }
    }
}

/// An exec program from a parameter: an absolute, plain path (no `.` or `..` that could
/// climb out) inside one of the allowed directories.
fn check_program(program: &Path, allowed: &[std::path::PathBuf]) -> Result<(), Violation> {
    let refuse = |why: String| Err(Violation::new("command", why));
    if allowed.is_empty() {
        return refuse(format!(
            "exec probes from a parameter may only run programs inside a directory listed in `[agent] fleet_exec_dirs`, and this node's configuration lists none (program {})",
            program.display()
        ));
    }
    let listed = || {
        allowed
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !program.is_absolute() {
        return refuse(format!(
            "the program {:?} is not an absolute path; a probe from a parameter names its program by absolute path inside `[agent] fleet_exec_dirs` ({})",
            program.display().to_string(),
            listed()
        ));
    }
    // Not `components()`: it drops `.` silently, and the path must be plain as written.
    if program
        .to_str()
        .is_none_or(|p| p.split('/').any(|part| part == "." || part == ".."))
    {
        return refuse(format!(
            "the program {} has `.` or `..` in its path; name it by its plain absolute path",
            program.display()
        ));
    }
    if !allowed
        .iter()
        .any(|dir| program.starts_with(dir) && program != dir)
    {
        return refuse(format!(
            "the program {} is outside `[agent] fleet_exec_dirs` ({}); a probe from a parameter runs only programs the node's administrator put there",
            program.display(),
            listed()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
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
}
