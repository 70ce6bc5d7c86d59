//! Probes: where inventory comes from.
//!
//! A probe turns something on the node into [`Item`]s. It knows nothing about batching,
//! hashing state or AWS; a failing probe produces an error naming itself and leaves the
//! decision about its last good items to the caller.
//!
//! Three kinds: [`exec`] runs an operator's program (hardened: own process group, capped
//! output, cleared environment, optional user), [`files`] reads a folder of SSM Agent
//! documents (and can be watched), [`system`] runs built-in collectors. All three check what
//! they produce against the PutInventory limits through [`Item::new`], and all blocking work
//! (file reads, NSS lookups, `/proc`) runs on the blocking pool.
//!
//! A run either fails as a whole (`Err`: keep the last good items) or returns a
//! [`Collection`]: items plus problems with single parts (one bad file among good ones),
//! which do not hold back the rest. [`Probe::collect`] is the short form that logs those
//! problems; [`Probe::collect_detailed`] returns them and takes a [`CollectContext`].

mod error;
pub mod exec;
pub mod files;
pub mod output;
pub mod system;
mod user;

use std::collections::HashSet;

use tokio::sync::mpsc;

use crate::config::{ExecSettings, ProbeKind, ProbeSettings};
use crate::inventory::{Item, RawItem, capture_time_now, check_type_name};

pub use error::ProbeError;
pub use files::{FileError, WatchError};
pub use output::OutputError;

/// What the caller knows that a probe may need while it runs.
#[derive(Debug, Clone, Default)]
pub struct CollectContext {
    /// The node's instance ID, for a `files` path with `{instance_id}` (the SSM Agent's own
    /// folder is `/var/lib/amazon/ssm/{instance_id}/inventory/custom`). Identity is the
    /// caller's business: probes never look it up themselves.
    pub instance_id: Option<String>,
}

impl CollectContext {
    pub fn with_instance_id(instance_id: impl Into<String>) -> CollectContext {
        CollectContext {
            instance_id: Some(instance_id.into()),
        }
    }
}

/// What one run of a probe produced when it did not fail as a whole: its items, and the
/// problems with parts of it (a bad file in a `files` folder, a failed `system` collector)
/// that did not stop the rest. Exec probes never have partial errors: their output is one
/// answer, good or bad.
#[derive(Debug, Default)]
pub struct Collection {
    pub items: Vec<Item>,
    pub errors: Vec<ProbeError>,
}

/// A configured probe, ready to run. Cheap to clone; clones of a `files` probe share the
/// memory of each file's last good content.
#[derive(Debug, Clone)]
pub struct Probe {
    name: String,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    /// Boxed: its settings dwarf the other kinds'.
    Exec(Box<ExecKind>),
    Files(files::FilesProbe),
    System(system::SystemProbe),
}

#[derive(Debug, Clone)]
struct ExecKind {
    spec: exec::ExecSpec,
    /// For the TypeName rules, SchemaVersion and row order of the output.
    settings: ExecSettings,
}

impl Probe {
    pub fn from_settings(settings: &ProbeSettings) -> Probe {
        let kind = match &settings.kind {
            ProbeKind::Exec(exec) => Kind::Exec(Box::new(ExecKind {
                spec: exec::ExecSpec {
                    probe: settings.name.clone(),
                    command: exec.command.clone(),
                    shell: exec.shell,
                    env: exec.env.clone(),
                    user: exec.user.clone(),
                    working_dir: exec.working_dir.clone(),
                    timeout: settings.timeout,
                    max_output_bytes: exec.max_output_bytes,
                    strict_permissions: settings.strict_permissions,
                },
                settings: exec.clone(),
            })),
            ProbeKind::Files(f) => Kind::Files(files::FilesProbe::new(
                &settings.name,
                &f.path,
                settings.strict_permissions,
            )),
            ProbeKind::System(s) => {
                Kind::System(system::SystemProbe::new(&settings.name, &s.collectors))
            }
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
            Kind::Exec(exec) => exec.settings.exact_types().collect(),
            Kind::Files(_) => Vec::new(),
            Kind::System(system) => system.declared_types(),
        }
    }

    /// Whether the types this probe produces are only known from its output (a folder of
    /// files, an exec probe with a prefix in `types`), so a failed run leaves the set of its
    /// types unknown.
    pub fn has_dynamic_types(&self) -> bool {
        match &self.kind {
            Kind::Exec(exec) => exec.settings.has_prefix_types(),
            Kind::Files(_) => true,
            Kind::System(_) => false,
        }
    }

    /// Whether running this probe needs [`CollectContext::instance_id`] (a `files` path with
    /// `{instance_id}`).
    pub fn needs_instance_id(&self) -> bool {
        matches!(&self.kind, Kind::Files(f) if f.needs_instance_id())
    }

    /// For a `files` probe, starts watching its folder (see [`crate::watch`]): the receiver
    /// gets `()` as soon as the folder changes (one pending message at most), and the probe
    /// should then run again. `Ok(None)` for other kinds. Call again after the instance ID
    /// changes.
    pub fn watch(&self, ctx: &CollectContext) -> Result<Option<mpsc::Receiver<()>>, ProbeError> {
        let Kind::Files(f) = &self.kind else {
            return Ok(None);
        };
        let folder = f.folder(ctx)?;
        crate::watch::watch(&folder, files::is_document_name)
            .map(Some)
            .map_err(|source| ProbeError::Watch {
                probe: self.name.clone(),
                source,
            })
    }

    /// Runs the probe once and returns its items, all validated and hashed. Problems with
    /// parts of a run (a bad file next to good ones) are logged, not returned: use
    /// [`Probe::collect_detailed`] to get them, and to pass the instance ID.
    pub async fn collect(&self) -> Result<Vec<Item>, ProbeError> {
        let collection = self.collect_detailed(&CollectContext::default()).await?;
        for e in &collection.errors {
            tracing::warn!(probe = %self.name, "{e}");
        }
        Ok(collection.items)
    }

    /// Runs the probe once. `Err` means the run failed as a whole (keep the last good
    /// items); `Ok` carries the items and the problems with single parts, whose last good
    /// content the probe has already kept where it had one.
    pub async fn collect_detailed(&self, ctx: &CollectContext) -> Result<Collection, ProbeError> {
        match &self.kind {
            Kind::Exec(kind) => {
                let ExecKind { spec, settings } = kind.as_ref();
                let output = exec::run(spec).await?;
                let documents = match output::parse_with_type(
                    &output.stdout,
                    settings.type_name.as_deref(),
                ) {
                    Ok(documents) => documents,
                    Err(source) => {
                        if !output.stderr.is_empty() {
                            tracing::warn!(probe = %self.name, stderr = %output.stderr, "the probe's output is unusable; its stderr may say why");
                        }
                        return Err(ProbeError::Output {
                            probe: self.name.clone(),
                            source,
                        });
                    }
                };
                if !output.stderr.is_empty() {
                    tracing::info!(probe = %self.name, stderr = %output.stderr, "the probe wrote to stderr");
                }
                let items = self.exec_items(settings, documents)?;
                Ok(Collection {
                    items,
                    errors: Vec::new(),
                })
            }
            Kind::Files(f) => f.collect(ctx).await,
            Kind::System(s) => s.collect().await,
        }
    }

    /// Turns an exec probe's documents into items: each TypeName valid, declared, and there
    /// once. One bad document fails the run, keeping the last good items of all of them.
    fn exec_items(
        &self,
        settings: &ExecSettings,
        documents: Vec<output::Document>,
    ) -> Result<Vec<Item>, ProbeError> {
        let capture_time = capture_time_now();
        let mut seen: HashSet<String> = HashSet::new();
        let mut items = Vec::with_capacity(documents.len());
        for doc in documents {
            let type_name = match doc.type_name.or_else(|| settings.type_name.clone()) {
                Some(t) => t,
                None => {
                    return Err(ProbeError::NoTypeName {
                        probe: self.name.clone(),
                    });
                }
            };
            check_type_name(&type_name).map_err(|source| ProbeError::Item {
                probe: self.name.clone(),
                source,
            })?;
            if !settings.allows(&type_name) {
                let allowed: Vec<String> = settings
                    .type_name
                    .iter()
                    .map(|t| format!("`{t}`"))
                    .chain(settings.types.iter().map(|t| format!("`{t}`")))
                    .collect();
                return Err(ProbeError::UndeclaredType {
                    probe: self.name.clone(),
                    found: type_name,
                    allowed: allowed.join(", "),
                });
            }
            if !seen.insert(type_name.clone()) {
                return Err(ProbeError::DuplicateType {
                    probe: self.name.clone(),
                    type_name,
                });
            }
            let raw = RawItem {
                type_name,
                schema_version: doc
                    .schema_version
                    .unwrap_or_else(|| settings.schema_version.clone()),
                capture_time: capture_time.clone(),
                rows: doc.rows,
                context: doc.context,
                keep_order: settings.keep_order,
            };
            items.push(Item::new(raw).map_err(|source| ProbeError::Item {
                probe: self.name.clone(),
                source,
            })?);
        }
        Ok(items)
    }
}

/// Runs every probe once, concurrently, and returns each probe's outcome in input order.
/// Per-part problems are logged; see [`collect_all_detailed`] to get them.
pub async fn collect_all(probes: &[Probe]) -> Vec<(String, Result<Vec<Item>, ProbeError>)> {
    collect_all_detailed(probes, &CollectContext::default())
        .await
        .into_iter()
        .map(|(name, outcome)| {
            let outcome = outcome.map(|collection| {
                for e in &collection.errors {
                    tracing::warn!(probe = %name, "{e}");
                }
                collection.items
            });
            (name, outcome)
        })
        .collect()
}

/// Runs every probe once, concurrently, and returns each probe's whole outcome in input
/// order.
pub async fn collect_all_detailed(
    probes: &[Probe],
    ctx: &CollectContext,
) -> Vec<(String, Result<Collection, ProbeError>)> {
    let mut set = tokio::task::JoinSet::new();
    for (index, probe) in probes.iter().enumerate() {
        let probe = probe.clone();
        let ctx = ctx.clone();
        set.spawn(async move { (index, probe.collect_detailed(&ctx).await) });
    }
    let mut outcomes: Vec<Option<Result<Collection, ProbeError>>> =
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

#[cfg(test)]
mod tests;
