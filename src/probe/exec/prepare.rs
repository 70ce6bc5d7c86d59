//! Finding and checking the program before anything is started: the PATH search, the trust
//! check that opens the program for the fd-exec, the working directory and the user lookup.
//! All of it may block, so it runs on the blocking pool.

use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::{DEFAULT_PATH, ExecSpec, SHELL};
use crate::config::trust;
use crate::probe::ProbeError;
use crate::probe::user::{self, RunAs};

/// The program as it will be started, found and checked before it is started.
#[derive(Debug)]
pub(super) struct Prepared {
    /// Where it was found, for messages.
    pub(super) program: PathBuf,
    /// The checked program, open, when the trust checks apply; it is executed through this
    /// descriptor (`/proc/self/fd/N`, see `spawn`) so that what runs is what was checked.
    pub(super) checked: Option<OwnedFd>,
    /// What the program sees as its name: as configured, not the resolved path.
    pub(super) argv0: String,
    pub(super) args: Vec<String>,
    /// Set when the daemon runs as root and the probe names a user.
    pub(super) run_as: Option<RunAs>,
}

/// PATH search, trust check, working directory and user lookup: everything that can block
/// or fail before anything is started.
pub(super) fn prepare(spec: &ExecSpec) -> Result<Prepared, ProbeError> {
    let probe = || spec.probe.clone();
    let (argv0, args): (String, Vec<String>) = if spec.shell {
        let line = spec.command.first().cloned().unwrap_or_default();
        (SHELL.to_string(), vec!["-c".to_string(), line])
    } else {
        match spec.command.split_first() {
            Some((program, args)) => (program.clone(), args.to_vec()),
            None => return Err(ProbeError::EmptyCommand { probe: probe() }),
        }
    };
    let search_path: OsString = spec
        .env
        .get("PATH")
        .map(OsString::from)
        .or_else(|| std::env::var_os("PATH"))
        .unwrap_or_else(|| DEFAULT_PATH.into());
    let program = find_program(&argv0, &search_path).ok_or_else(|| {
        if argv0.contains('/') {
            ProbeError::Spawn {
                probe: probe(),
                program: argv0.clone(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            }
        } else {
            ProbeError::ProgramNotFound {
                probe: probe(),
                program: argv0.clone(),
                path: search_path.to_string_lossy().into_owned(),
            }
        }
    })?;
    // Opened here and executed through this descriptor, so that what runs is what was checked.
    let checked = if trust::enforced(spec.strict_permissions) {
        Some(
            trust::open_program(&program).map_err(|source| ProbeError::Untrusted {
                probe: probe(),
                what: "program",
                source,
            })?,
        )
    } else {
        None
    };
    if let Some(dir) = &spec.working_dir
        && !dir.is_dir()
    {
        return Err(ProbeError::WorkingDir {
            probe: probe(),
            path: dir.clone(),
        });
    }
    let run_as = match &spec.user {
        None => None,
        Some(name) => {
            let run_as = user::resolve(name).map_err(|reason| ProbeError::User {
                probe: probe(),
                user: name.clone(),
                reason,
            })?;
            // SAFETY: geteuid has no preconditions and cannot fail.
            let euid = unsafe { libc::geteuid() };
            if euid == 0 {
                Some(run_as)
            } else if run_as.uid == euid {
                None // already that user
            } else {
                return Err(ProbeError::User {
                    probe: probe(),
                    user: name.clone(),
                    reason: format!(
                        "the daemon runs as uid {euid}, not root, so it cannot switch users"
                    ),
                });
            }
        }
    };
    Ok(Prepared {
        program,
        checked,
        argv0,
        args,
        run_as,
    })
}

/// A program with a `/` is taken as it is (relative ones were resolved by the config); a
/// bare name is looked up in `search_path`, skipping empty and relative entries, which would
/// mean the daemon's working directory.
fn find_program(program: &str, search_path: &OsString) -> Option<PathBuf> {
    if program.contains('/') {
        let path = PathBuf::from(program);
        return path.is_file().then_some(path);
    }
    std::env::split_paths(search_path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests;
