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
mod lane;
pub mod limit;
pub mod output;
mod proc_text;
pub mod system;
mod user;

use std::collections::HashSet;

use tokio::sync::mpsc;

use crate::config::{ExecSettings, ProbeKind, ProbeSettings};
use crate::inventory::{Item, ItemHead, capture_time_now, check_type_name};

pub use error::ProbeError;
pub use files::{FileError, WatchError};
pub use limit::{RunLimiter, RunPermit};
pub use output::OutputError;

/// Exec output up to this size is turned into items on the runtime's thread: at the
/// streaming reader's speed that is well under a tenth of a millisecond, and it saves the hop
/// to the blocking pool and back. Larger output goes to the blocking pool.
const INLINE_OUTPUT_BYTES: usize = 16 * 1024;

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

    /// The output bytes a run of this probe may hold, which it reserves from the
    /// daemon-wide budget before it starts (see [`limit`]): an exec probe's
    /// `max_output_bytes`, one file's limit for a `files` probe (it reads one file at a time),
    /// [`limit::SYSTEM_RESERVE_BYTES`] for a `system` probe.
    /// Whether this is an exec probe: its items are held nowhere but in the daemon's
    /// outbox, so they can hold budget until delivered (see [`limit`]).
    pub fn is_exec(&self) -> bool {
        matches!(self.kind, Kind::Exec(_))
    }

    pub fn reserve_bytes(&self) -> usize {
        match &self.kind {
            Kind::Exec(exec) => exec.spec.max_output_bytes,
            Kind::Files(_) => files::MAX_FILE_BYTES as usize,
            Kind::System(_) => limit::SYSTEM_RESERVE_BYTES,
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
                // A few KiB are read, checked and hashed in microseconds, less than the two
                // thread switches of a hop to the blocking pool cost.
                if output.stdout.len() <= INLINE_OUTPUT_BYTES {
                    return Ok(Collection {
                        items: self.exec_output(settings, output)?,
                        errors: Vec::new(),
                    });
                }
                // Reading, checking and hashing megabytes of output is CPU work: it runs on
                // the blocking pool, so that the runtime's threads go on serving other runs'
                // pipes and timers meanwhile.
                let probe = self.clone();
                let settings = settings.clone();
                let items =
                    tokio::task::spawn_blocking(move || probe.exec_output(&settings, output))
                        .await
                        .map_err(|_| ProbeError::Crashed {
                            probe: self.name.clone(),
                        })??;
                Ok(Collection {
                    items,
                    errors: Vec::new(),
                })
            }
            Kind::Files(f) => f.collect(ctx).await,
            Kind::System(s) => s.collect().await,
        }
    }

    /// An exec probe's finished run turned into items: its output read, checked and hashed,
    /// its stderr logged.
    fn exec_output(
        &self,
        settings: &ExecSettings,
        output: exec::ExecOutput,
    ) -> Result<Vec<Item>, ProbeError> {
        let documents = match output::parse_with_type(&output.stdout, settings.type_name.as_deref())
        {
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
        // The rows are in their canonical form already: the output is not needed while they
        // are put in order.
        drop(output);
        self.exec_items(settings, documents)
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
            let head = ItemHead {
                type_name,
                schema_version: doc
                    .schema_version
                    .unwrap_or_else(|| settings.schema_version.clone()),
                capture_time: capture_time.clone(),
                context: doc.context,
                keep_order: settings.keep_order,
            };
            items.push(
                Item::from_rows(head, doc.rows).map_err(|source| ProbeError::Item {
                    probe: self.name.clone(),
                    source,
                })?,
            );
        }
        Ok(items)
    }
}

/// Runs every probe once, as many at a time as the default limits let, and returns each
/// probe's outcome in input order. Per-part problems are logged; see [`collect_all_detailed`] to get them.
pub async fn collect_all(probes: &[Probe]) -> Vec<(String, Result<Vec<Item>, ProbeError>)> {
    collect_all_detailed(probes, &CollectContext::default(), &RunLimiter::default())
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

/// Runs every probe once, as many at a time as `limiter` lets, and returns each probe's
/// whole outcome in input order. The items do not hold budget: the caller keeps them all.
pub async fn collect_all_detailed(
    probes: &[Probe],
    ctx: &CollectContext,
    limiter: &RunLimiter,
) -> Vec<(String, Result<Collection, ProbeError>)> {
    let mut all = Vec::with_capacity(probes.len());
    collect_each(probes, ctx, limiter, false, |name, outcome| {
        all.push((name, outcome))
    })
    .await;
    all
}

/// Runs every probe once, as many at a time as `limiter` lets (each run waits for its
/// permit, so none fails for lack of one), and hands each probe's outcome to `each` in input
/// order, as soon as it and those before it are done. With `hold_items` the items hold their
/// Content in the budget until `each` lets them go, so that those finished ahead of their
/// turn count too; runs are admitted in input order, so the next one to be handed over is
/// never waiting behind later ones whose items wait for it.
pub async fn collect_each(
    probes: &[Probe],
    ctx: &CollectContext,
    limiter: &RunLimiter,
    hold_items: bool,
    mut each: impl FnMut(String, Result<Collection, ProbeError>),
) {
    let mut set = tokio::task::JoinSet::new();
    let mut outcomes: Vec<Option<Result<Collection, ProbeError>>> =
        probes.iter().map(|_| None).collect();
    let mut next = 0;
    let mut hand_over = |outcomes: &mut Vec<Option<Result<Collection, ProbeError>>>,
                         next: &mut usize,
                         finished: bool| {
        while *next < probes.len() {
            let outcome = match outcomes[*next].take() {
                Some(outcome) => outcome,
                // A probe task only ends without a value if it panicked; that is a bug, and
                // the probe is reported as crashed rather than hidden.
                None if finished => Err(ProbeError::Crashed {
                    probe: probes[*next].name().to_string(),
                }),
                None => return,
            };
            each(probes[*next].name().to_string(), outcome);
            *next += 1;
        }
    };
    let mut admitted = 0;
    let mut admission = None;
    loop {
        if admission.is_none()
            && let Some(probe) = probes.get(admitted)
        {
            admission = Some(Box::pin(limiter.acquire(probe.reserve_bytes())));
        }
        tokio::select! {
            permit = async { admission.as_mut()?.await.into() }, if admission.is_some() => {
                admission = None;
                let Some(permit): Option<RunPermit> = permit else { continue };
                let probe = probes[admitted].clone();
                let ctx = ctx.clone();
                let index = admitted;
                admitted += 1;
                set.spawn(async move {
                    let mut outcome = probe.collect_detailed(&ctx).await;
                    match &mut outcome {
                        Ok(collection) if hold_items => permit.hold(&mut collection.items),
                        _ => drop(permit),
                    }
                    (index, outcome)
                });
            }
            joined = set.join_next(), if !set.is_empty() => {
                match joined {
                    Some(Ok((index, outcome))) => outcomes[index] = Some(outcome),
                    Some(Err(e)) => tracing::error!("a probe task failed: {e}"),
                    None => {}
                }
                hand_over(&mut outcomes, &mut next, false);
            }
            else => break,
        }
    }
    hand_over(&mut outcomes, &mut next, true);
}

#[cfg(test)]
mod tests;
