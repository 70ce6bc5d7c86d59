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
mod tests;
