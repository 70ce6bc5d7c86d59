//! Finding and checking the program before anything is started: the PATH search, the trust
//! check that opens the program for the fd-exec, the working directory and the user lookup.
//! All of it may block, so it runs on the blocking pool.

use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::{DEFAULT_PATH, ExecSpec, SHELL};
use crate::config::trust;
use crate::probe::ProbeError;
use crate::probe::user::{self, RunAs};

/// The program as it will be started, found and checked before the fork.
#[derive(Debug)]
pub(super) struct Prepared {
    /// Where it was found, for messages.
    pub(super) program: PathBuf,
    /// The checked program, open, when the trust checks apply; it is executed through this
    /// descriptor so that what runs is what was checked.
    pub(super) checked: Option<OwnedFd>,
    /// What the program sees as its name: as configured, not the resolved path.
    pub(super) argv0: String,
    pub(super) args: Vec<String>,
    /// Set when the daemon runs as root and the probe names a user.
    pub(super) run_as: Option<RunAs>,
}

impl Prepared {
    /// What is handed to execve: the checked descriptor when there is one, else the path.
    pub(super) fn exec_path(&self) -> PathBuf {
        match &self.checked {
            Some(fd) => PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd())),
            None => self.program.clone(),
        }
    }
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
mod tests {
    use super::*;
    use crate::probe::exec::tests::spec;
    use crate::probe::exec::{run, run_prepared};

    #[tokio::test]
    async fn working_dir_is_used_and_checked() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = spec(&["pwd"]);
        s.working_dir = Some(tmp.path().to_owned());
        let out = run(&s).await.unwrap();
        assert_eq!(
            String::from_utf8(out.stdout).unwrap().trim(),
            tmp.path().to_str().unwrap()
        );
        s.working_dir = Some(tmp.path().join("missing"));
        let e = run(&s).await.unwrap_err().to_string();
        assert!(e.contains("working_dir") && e.contains("missing"), "{e}");
    }

    #[tokio::test]
    async fn a_missing_program_is_named() {
        let e = run(&spec(&["no-such-program-x"])).await.unwrap_err();
        assert!(matches!(e, ProbeError::ProgramNotFound { .. }), "{e}");
        assert!(e.to_string().contains("no-such-program-x"), "{e}");
        let e = run(&spec(&["/nonexistent/prog"])).await.unwrap_err();
        assert!(e.to_string().contains("/nonexistent/prog"), "{e}");
    }

    fn write_program(path: &Path, text: &str) {
        // Write a new file and rename it into place, as a swap by an attacker would.
        let new = path.with_extension("new");
        std::fs::write(&new, text).unwrap();
        std::fs::set_permissions(&new, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::rename(&new, path).unwrap();
    }

    /// What runs is the file that was checked: a program replaced between the check and the
    /// start (here by a rename, as a swapped link would do) is not the one that runs.
    #[tokio::test]
    async fn the_checked_file_runs_even_when_replaced_before_the_start() {
        if !trust::root_or_skip() {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let prog = tmp.path().join("prog");
        let s = spec(&[prog.to_str().unwrap(), "checked"]);
        let swapped = "#!/bin/sh\necho swapped\n";

        // A binary.
        std::fs::copy("/bin/echo", &prog).unwrap();
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
        let prepared = prepare(&s).unwrap();
        write_program(&prog, swapped);
        assert_eq!(
            run_prepared(&s, prepared).await.unwrap().stdout,
            b"checked\n"
        );

        // A script, whose interpreter opens it by the descriptor's path after the exec.
        write_program(&prog, "#!/bin/sh\necho \"$1\" script\n");
        let prepared = prepare(&s).unwrap();
        write_program(&prog, swapped);
        assert_eq!(
            run_prepared(&s, prepared).await.unwrap().stdout,
            b"checked script\n"
        );
    }

    /// The program's own name is as configured; a script, run through its descriptor, sees
    /// that descriptor's path as `$0`.
    #[tokio::test]
    async fn names_seen_by_a_checked_program() {
        if !trust::root_or_skip() {
            return;
        }
        let out = run(&spec(&["sh", "-c", "echo \"$0\""])).await.unwrap();
        assert_eq!(out.stdout, b"sh\n");
        let tmp = tempfile::tempdir().unwrap();
        let prog = tmp.path().join("probe.sh");
        write_program(&prog, "#!/bin/sh\necho \"$0\"\n");
        let out = run(&spec(&[prog.to_str().unwrap()])).await.unwrap();
        let zero = String::from_utf8(out.stdout).unwrap();
        assert!(zero.starts_with("/proc/self/fd/"), "{zero}");
    }

    /// As another user, through the descriptor, both a binary (`/bin/sh` of `shell = true`,
    /// in `runs_as_another_user_when_root`) and a script run.
    #[tokio::test]
    async fn a_checked_script_runs_as_another_user() {
        if !trust::root_or_skip() || user::resolve("nobody").is_err() {
            return;
        }
        let nobody = user::resolve("nobody").unwrap();
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let prog = tmp.path().join("probe.sh");
        write_program(&prog, "#!/bin/sh\nid -u\n");
        let mut s = spec(&[prog.to_str().unwrap()]);
        s.user = Some("nobody".into());
        let out = run(&s).await.unwrap();
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            format!("{}\n", nobody.uid)
        );
    }

    /// A link in a sticky directory (like /run/lock) that its non-root owner could point
    /// elsewhere after the check is refused, even though it leads to a trusted program.
    #[tokio::test]
    async fn a_link_not_owned_by_root_is_refused() {
        if !trust::root_or_skip() {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        let link = tmp.path().join("echo");
        std::os::unix::fs::symlink("/bin/echo", &link).unwrap();
        std::os::unix::fs::lchown(&link, Some(65534), Some(65534)).unwrap();
        let e = run(&spec(&[link.to_str().unwrap(), "{}"]))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("refusing to run its program")
                && e.contains(&format!(
                    "{} is a symbolic link owned by uid 65534, not root",
                    link.display()
                )),
            "{e}"
        );
    }

    #[tokio::test]
    async fn untrusted_programs_are_refused_when_root() {
        if !trust::root_or_skip() {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let prog = tmp.path().join("probe.sh");
        std::fs::write(&prog, "#!/bin/sh\necho '{}'\n").unwrap();
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o775)).unwrap();
        let mut s = spec(&[prog.to_str().unwrap()]);
        let e = run(&s).await.unwrap_err().to_string();
        assert!(
            e.contains("refusing to run its program") && e.contains("writable by its group"),
            "{e}"
        );
        s.strict_permissions = false;
        assert_eq!(run(&s).await.unwrap().stdout, b"{}\n");
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
        s.strict_permissions = true;
        assert_eq!(run(&s).await.unwrap().stdout, b"{}\n");
    }
}
