//! Probes: where inventory comes from.
//!
//! A probe turns something on the node into [`Item`]s. It knows nothing about batching,
//! hashing state or AWS; a failing probe produces an error naming itself and leaves the
//! decision about its last good items to the caller.

pub mod exec;
pub mod output;

use std::time::Duration;

use crate::config::{ProbeKind, ProbeSettings};
use crate::inventory::{Item, ItemError, RawItem, capture_time_now};

pub use output::OutputError;

/// Why a probe produced nothing this time. Every variant names the probe.
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
    #[error("probe `{probe}`: failed with {status}{}", stderr_suffix(stderr))]
    Exit {
        probe: String,
        status: String,
        stderr: String,
    },
    #[error("probe `{probe}`: {source}")]
    Output { probe: String, source: OutputError },
    #[error("probe `{probe}`: {source}")]
    Item { probe: String, source: ItemError },
    #[error(
        "probe `{probe}`: printed TypeName `{found}`, but the probe is configured for `{expected}`"
    )]
    UndeclaredType {
        probe: String,
        found: String,
        expected: String,
    },
    #[error("probe `{probe}`: the collection task stopped unexpectedly")]
    Crashed { probe: String },
    #[error("probe `{probe}`: kind `{kind}` is not available in this version of ssm-inventoryd")]
    KindNotAvailable { probe: String, kind: &'static str },
}

fn stderr_suffix(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!("; stderr: {}", stderr.replace('\n', " | "))
    }
}

/// A configured probe, ready to run.
#[derive(Debug, Clone)]
pub struct Probe {
    name: String,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Exec {
        spec: exec::ExecSpec,
        type_name: String,
        schema_version: String,
        keep_order: bool,
    },
    NotAvailable(&'static str),
}

impl Probe {
    pub fn from_settings(settings: &ProbeSettings) -> Probe {
        let kind = match &settings.kind {
            ProbeKind::Exec(exec) => Kind::Exec {
                spec: exec::ExecSpec {
                    probe: settings.name.clone(),
                    command: exec.command.clone(),
                    env: exec.env.clone(),
                    timeout: settings.timeout,
                    max_output_bytes: exec::DEFAULT_MAX_OUTPUT_BYTES,
                },
                type_name: exec.type_name.clone(),
                schema_version: exec.schema_version.clone(),
                keep_order: exec.keep_order,
            },
            ProbeKind::Files(_) => Kind::NotAvailable("files"),
            ProbeKind::System(_) => Kind::NotAvailable("system"),
        };
        Probe {
            name: settings.name.clone(),
            kind,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The TypeNames this probe is configured to produce, known before it runs. A type in
    /// this list is never treated as removed just because the probe failed this time.
    pub fn declared_types(&self) -> Vec<&str> {
        match &self.kind {
            Kind::Exec { type_name, .. } => vec![type_name.as_str()],
            Kind::NotAvailable(_) => Vec::new(),
        }
    }

    /// Whether the types this probe produces are only known from its output (a folder of
    /// files), so a failed run leaves the set of its types unknown.
    pub fn has_dynamic_types(&self) -> bool {
        matches!(self.kind, Kind::NotAvailable(_))
    }

    /// Runs the probe once and returns its items, all validated and hashed.
    pub async fn collect(&self) -> Result<Vec<Item>, ProbeError> {
        match &self.kind {
            Kind::Exec {
                spec,
                type_name,
                schema_version,
                keep_order,
            } => {
                let output = exec::run(spec).await?;
                if !output.stderr.is_empty() {
                    tracing::debug!(probe = %self.name, stderr = %output.stderr, "probe wrote to stderr");
                }
                let documents =
                    output::parse(&output.stdout).map_err(|source| ProbeError::Output {
                        probe: self.name.clone(),
                        source,
                    })?;
                let capture_time = capture_time_now();
                let mut items = Vec::with_capacity(documents.len());
                for doc in documents {
                    let doc_type = doc.type_name.unwrap_or_else(|| type_name.clone());
                    if &doc_type != type_name {
                        return Err(ProbeError::UndeclaredType {
                            probe: self.name.clone(),
                            found: doc_type,
                            expected: type_name.clone(),
                        });
                    }
                    let raw = RawItem {
                        type_name: doc_type,
                        schema_version: doc
                            .schema_version
                            .unwrap_or_else(|| schema_version.clone()),
                        capture_time: capture_time.clone(),
                        rows: doc.rows,
                        context: doc.context,
                        keep_order: *keep_order,
                    };
                    items.push(Item::new(raw).map_err(|source| ProbeError::Item {
                        probe: self.name.clone(),
                        source,
                    })?);
                }
                Ok(items)
            }
            Kind::NotAvailable(kind) => Err(ProbeError::KindNotAvailable {
                probe: self.name.clone(),
                kind,
            }),
        }
    }
}

/// Runs every probe once, concurrently, and returns each probe's outcome in input order.
pub async fn collect_all(probes: &[Probe]) -> Vec<(String, Result<Vec<Item>, ProbeError>)> {
    let mut set = tokio::task::JoinSet::new();
    for (index, probe) in probes.iter().enumerate() {
        let probe = probe.clone();
        set.spawn(async move { (index, probe.collect().await) });
    }
    let mut outcomes: Vec<Option<Result<Vec<Item>, ProbeError>>> =
        probes.iter().map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((index, outcome)) => outcomes[index] = Some(outcome),
            // A probe task only ends without a value if it panicked; that is a bug, and the
            // probe's slot stays empty so it is reported below rather than hidden.
            Err(e) => tracing::error!("a probe task failed: {e}"),
        }
    }
    probes
        .iter()
        .zip(outcomes)
        .map(|(probe, outcome)| {
            let outcome = outcome.unwrap_or_else(|| {
                Err(ProbeError::Crashed {
                    probe: probe.name().to_string(),
                })
            });
            (probe.name().to_string(), outcome)
        })
        .collect()
}
