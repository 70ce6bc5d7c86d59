//! Why a probe, or part of it, produced nothing: one error type for every kind, each
//! variant naming the probe, with messages written for the operator's log.

use std::path::PathBuf;
use std::time::Duration;

use super::{FileError, OutputError, WatchError};
use crate::config::trust::TrustError;
use crate::inventory::ItemError;

/// Why a probe, or part of it, produced nothing this time. Every variant names the probe.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("probe `{probe}`: command is empty")]
    EmptyCommand { probe: String },
    #[error("probe `{probe}`: cannot start `{program}`: {source}")]
    Spawn {
        probe: String,
        program: String,
        source: std::io::Error,
    },
    #[error("probe `{probe}`: program `{program}` not found in PATH ({path})")]
    ProgramNotFound {
        probe: String,
        program: String,
        path: String,
    },
    #[error("probe `{probe}`: refusing to {}: {source}", untrusted_verb(what))]
    Untrusted {
        probe: String,
        /// `"program"` or `"folder"`.
        what: &'static str,
        source: TrustError,
    },
    #[error("probe `{probe}`: working_dir {} is not a directory", path.display())]
    WorkingDir { probe: String, path: PathBuf },
    #[error("probe `{probe}`: cannot run as user `{user}`: {reason}")]
    User {
        probe: String,
        user: String,
        reason: String,
    },
    #[error("probe `{probe}`: waiting for the program failed: {source}")]
    Wait {
        probe: String,
        source: std::io::Error,
    },
    #[error("probe `{probe}`: did not finish within its timeout of {}; its processes were killed", humantime::format_duration(*timeout))]
    Timeout { probe: String, timeout: Duration },
    #[error(
        "probe `{probe}`: the program exited but a child kept its stdout open; the child was killed"
    )]
    StdoutHeldOpen { probe: String },
    #[error(
        "probe `{probe}`: printed more than {limit} bytes (max_output_bytes); the run was killed"
    )]
    OutputTooLarge { probe: String, limit: usize },
    #[error(
        "probe `{probe}`: failed with {status}{}",
        output_suffix(stderr, stdout_head)
    )]
    Exit {
        probe: String,
        status: String,
        stderr: String,
        /// The start of stdout, kept only when stderr is empty.
        stdout_head: String,
    },
    #[error("probe `{probe}`: output {source}")]
    Output { probe: String, source: OutputError },
    #[error("probe `{probe}`: {source}")]
    Item { probe: String, source: ItemError },
    #[error(
        "probe `{probe}`: printed rows without a TypeName, but the probe has no `type_name` to give them"
    )]
    NoTypeName { probe: String },
    #[error(
        "probe `{probe}`: printed TypeName `{found}`, which the probe does not declare (it may print {allowed}); add it to `types`"
    )]
    UndeclaredType {
        probe: String,
        found: String,
        allowed: String,
    },
    #[error("probe `{probe}`: printed TypeName `{type_name}` twice; one document per type")]
    DuplicateType { probe: String, type_name: String },
    #[error(
        "probe `{probe}`: its path {} needs the node's instance ID, which is not known here",
        path.display()
    )]
    InstanceIdUnknown { probe: String, path: PathBuf },
    #[error("probe `{probe}`: cannot read folder {}: {source}", path.display())]
    Folder {
        probe: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("probe `{probe}`: {}: {source}", path.display())]
    File {
        probe: String,
        path: PathBuf,
        /// Boxed: it carries an item error, and this enum travels in every probe's result.
        source: Box<FileError>,
    },
    #[error("probe `{probe}`: collector \"{collector}\": {message}")]
    Collector {
        probe: String,
        collector: &'static str,
        message: String,
    },
    #[error("probe `{probe}`: {source}")]
    Watch { probe: String, source: WatchError },
    #[error("probe `{probe}`: the collection task stopped unexpectedly")]
    Crashed { probe: String },
}

impl ProbeError {
    /// The probe the error is about.
    pub fn probe(&self) -> &str {
        match self {
            ProbeError::EmptyCommand { probe }
            | ProbeError::Spawn { probe, .. }
            | ProbeError::ProgramNotFound { probe, .. }
            | ProbeError::Untrusted { probe, .. }
            | ProbeError::WorkingDir { probe, .. }
            | ProbeError::User { probe, .. }
            | ProbeError::Wait { probe, .. }
            | ProbeError::Timeout { probe, .. }
            | ProbeError::StdoutHeldOpen { probe }
            | ProbeError::OutputTooLarge { probe, .. }
            | ProbeError::Exit { probe, .. }
            | ProbeError::Output { probe, .. }
            | ProbeError::Item { probe, .. }
            | ProbeError::NoTypeName { probe }
            | ProbeError::UndeclaredType { probe, .. }
            | ProbeError::DuplicateType { probe, .. }
            | ProbeError::InstanceIdUnknown { probe, .. }
            | ProbeError::Folder { probe, .. }
            | ProbeError::File { probe, .. }
            | ProbeError::Collector { probe, .. }
            | ProbeError::Watch { probe, .. }
            | ProbeError::Crashed { probe } => probe,
        }
    }
}

fn untrusted_verb(what: &str) -> String {
    match what {
        "program" => "run its program".to_owned(),
        "folder" => "read its folder".to_owned(),
        other => format!("use its {other}"),
    }
}

fn output_suffix(stderr: &str, stdout_head: &str) -> String {
    match (stderr.is_empty(), stdout_head.is_empty()) {
        (false, _) => format!("; stderr: {}", stderr.replace('\n', " | ")),
        (true, false) => format!("; stdout: {}", stdout_head.replace('\n', " | ")),
        (true, true) => String::new(),
    }
}
