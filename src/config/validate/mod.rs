//! Raw TOML structs → [`Settings`]: defaults filled in, values checked, relative paths
//! resolved, and the rules that span probes and files (unique names, one probe per TypeName)
//! enforced. Stops at the first error, in file order, because the binary prints exactly one.
//!
//! One file per job: [`agent`] checks `[agent]`, [`exec`] and [`system`] the keys of their
//! probe kinds, [`claims`] what may be claimed by one probe only, [`fleet`] the `fleet_*` keys
//! and, with [`policy`], what a parameter's probes may do; this file reads a file's probes and
//! the keys every kind has.

mod agent;
mod claims;
mod exec;
mod fleet;
mod policy;
mod system;
#[cfg(test)]
mod tests;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::defaults::*;
use super::error::{ConfigError, Role, Source};
use super::raw::{DurationValue, RawDropIn, RawKind, RawMain, RawProbe};
use super::{
    AgentSettings, FilesSettings, ParameterVersion, ProbeKind, ProbeSettings, Settings, TypePattern,
};
use agent::agent;
use claims::Claims;
use exec::exec;
use system::system;

/// Builds [`Settings`] one file at a time, remembering what earlier probes claimed so that a
/// clash names both places.
pub(super) struct Loader {
    config_path: PathBuf,
    agent: AgentSettings,
    probes: Vec<ProbeSettings>,
    parameters: Vec<ParameterVersion>,
    claims: Claims,
}

impl Loader {
    /// Reads the main file: `[agent]` and its own probes.
    pub fn main(src: Source<'_>) -> Result<Loader, ConfigError> {
        let raw: RawMain = toml::from_str(src.text).map_err(|e| src.toml_error(&e))?;
        let agent = agent(&src, raw.agent.unwrap_or_default())?;
        let mut loader = Loader {
            config_path: src.path.to_owned(),
            agent,
            probes: Vec::new(),
            parameters: Vec::new(),
            claims: Claims::default(),
        };
        loader.add_probes(&src, raw.probe)?;
        Ok(loader)
    }

    /// Adds the probes of one drop-in file.
    pub fn drop_in(&mut self, src: Source<'_>) -> Result<(), ConfigError> {
        let raw: RawDropIn = toml::from_str(src.text).map_err(|e| src.toml_error(&e))?;
        self.add_probes(&src, raw.probe)
    }

    pub fn probes_dir(&self) -> &Path {
        &self.agent.probes_dir
    }

    pub fn strict_permissions(&self) -> bool {
        self.agent.strict_permissions
    }

    pub fn finish(self) -> Settings {
        Settings {
            config_path: self.config_path,
            agent: self.agent,
            probes: self.probes,
            parameters: self.parameters,
        }
    }

    /// Adds the probes of one version of a fleet parameter, after checking each against
    /// the node's fleet policy.
    pub fn parameter(&mut self, src: Source<'_>) -> Result<(), ConfigError> {
        let raw: RawDropIn = toml::from_str(src.text).map_err(|e| src.toml_error(&e))?;
        self.add_probes(&src, raw.probe)?;
        self.parameters.push(ParameterVersion {
            name: src.path.display().to_string(),
            version: match src.role {
                Role::Parameter { version } => version,
                Role::Main | Role::DropIn => 0,
            },
        });
        Ok(())
    }

    pub fn agent(&self) -> &AgentSettings {
        &self.agent
    }

    fn add_probes(
        &mut self,
        src: &Source<'_>,
        raws: Vec<Spanned<RawProbe>>,
    ) -> Result<(), ConfigError> {
        for raw in raws {
            // A parameter's probes get the trust checks whatever the local opt-out says: the
            // opt-out is for files the node's own administrator wrote.
            let strict = self.agent.strict_permissions || src.is_parameter();
            let (probe, places) = probe(src, raw, strict)?;
            if let ProbeKind::Exec(exec) = &probe.kind {
                let budget = self.agent.probe_output_budget;
                if exec.max_output_bytes > budget {
                    return Err(src.invalid(
                        places.output.as_ref().unwrap_or(&places.header),
                        "max_output_bytes",
                        format!(
                            "probe {:?} may print {} bytes, more than the whole \
                             probe_output_budget of {budget} bytes in [agent]: raise the budget \
                             or lower the probe's max_output_bytes",
                            probe.name, exec.max_output_bytes
                        ),
                    ));
                }
            }
            if src.is_parameter() {
                fleet::check_policy(src, &probe, &places, &self.agent.fleet)?;
            }
            self.claims.claim(src, &probe, &places)?;
            self.probes.push(probe);
        }
        Ok(())
    }
}

/// Where a probe's claims stand in its file, for the messages of a later clash.
pub(super) struct Places {
    header: Range<usize>,
    name: Range<usize>,
    /// Exec: `type_name` (or `types`); files: `path` (or the header when defaulted); system:
    /// `collectors` (or the header).
    claim: Range<usize>,
    /// The TypeNames (or prefixes) the probe claims, each with the key and place naming it.
    types: Vec<TypeClaim>,
    /// Where the keys the fleet policy may refuse stand.
    keys: Vec<(String, Range<usize>)>,
    /// Exec: `max_output_bytes`, when set.
    output: Option<Range<usize>>,
}

/// One TypeName or prefix a probe claims, and where.
pub(super) struct TypeClaim {
    pattern: TypePattern,
    key: &'static str,
    span: Range<usize>,
}

fn probe(
    src: &Source<'_>,
    raw: Spanned<RawProbe>,
    strict_permissions: bool,
) -> Result<(ProbeSettings, Places), ConfigError> {
    let header = raw.span();
    let mut raw = raw.into_inner();
    let keys = fleet::key_spans(&raw);
    let output = raw.max_output_bytes.as_ref().map(Spanned::span);

    let name = raw.name.take().ok_or_else(|| {
        src.invalid(
            &header,
            "name",
            "required key is missing: every probe needs a unique name",
        )
    })?;
    let name_span = name.span();
    let name = name.into_inner();
    check_probe_name(&name).map_err(|why| src.invalid(&name_span, "name", why))?;

    let kind = raw.kind.take().ok_or_else(|| {
        src.invalid(
            &header,
            "kind",
            "required key is missing: set `kind` to \"exec\", \"files\" or \"system\"",
        )
    })?;
    let kind = *kind.get_ref();
    let foreign = [
        (
            "command",
            RawKind::Exec,
            raw.command.as_ref().map(Spanned::span),
        ),
        (
            "shell",
            RawKind::Exec,
            raw.shell.as_ref().map(Spanned::span),
        ),
        (
            "type_name",
            RawKind::Exec,
            raw.type_name.as_ref().map(Spanned::span),
        ),
        (
            "types",
            RawKind::Exec,
            raw.types.as_ref().map(Spanned::span),
        ),
        (
            "schema_version",
            RawKind::Exec,
            raw.schema_version.as_ref().map(Spanned::span),
        ),
        ("env", RawKind::Exec, raw.env.as_ref().map(Spanned::span)),
        ("user", RawKind::Exec, raw.user.as_ref().map(Spanned::span)),
        (
            "working_dir",
            RawKind::Exec,
            raw.working_dir.as_ref().map(Spanned::span),
        ),
        (
            "max_output_bytes",
            RawKind::Exec,
            raw.max_output_bytes.as_ref().map(Spanned::span),
        ),
        (
            "keep_order",
            RawKind::Exec,
            raw.keep_order.as_ref().map(Spanned::span),
        ),
        ("path", RawKind::Files, raw.path.as_ref().map(Spanned::span)),
        (
            "collectors",
            RawKind::System,
            raw.collectors.as_ref().map(Spanned::span),
        ),
    ];
    for (key, owner, span) in foreign {
        if let Some(span) = span.filter(|_| owner != kind) {
            return Err(src.invalid(
                &span,
                key,
                format!(
                    "only for {} probes; probe {name:?} is kind \"{}\"",
                    owner.as_str(),
                    kind.as_str()
                ),
            ));
        }
    }

    let interval =
        nonzero_duration_or(src, raw.interval.take(), "interval", DEFAULT_PROBE_INTERVAL)?;
    let timeout = match raw.timeout.take() {
        None => DEFAULT_PROBE_TIMEOUT.min(interval),
        Some(t) => {
            let (span, timeout) = (t.span(), t.into_inner().0);
            if timeout.is_zero() {
                return Err(src.invalid(&span, "timeout", "must be greater than zero"));
            }
            if timeout > interval {
                return Err(src.invalid(
                    &span,
                    "timeout",
                    format!(
                        "{} is longer than the interval {}; a run must end before the next is due",
                        humantime::format_duration(timeout),
                        humantime::format_duration(interval)
                    ),
                ));
            }
            timeout
        }
    };
    let splay = duration_or(raw.splay.take(), DEFAULT_PROBE_SPLAY);

    let (kind, claim, types) = match kind {
        RawKind::Exec => exec(src, &header, raw)?,
        RawKind::Files => {
            let claim = raw.path.as_ref().map_or(header.clone(), Spanned::span);
            if let Some(path) = &raw.path {
                check_placeholders(path.get_ref())
                    .map_err(|why| src.invalid(&path.span(), "path", why))?;
            }
            let path = path_or(src, raw.path, "path", DEFAULT_FILES_PATH)?;
            (ProbeKind::Files(FilesSettings { path }), claim, Vec::new())
        }
        RawKind::System => system(src, &header, raw.collectors)?,
    };

    let probe = ProbeSettings {
        name,
        source: src.path.to_owned(),
        interval,
        timeout,
        splay,
        strict_permissions,
        kind,
    };
    let places = Places {
        header,
        name: name_span,
        claim,
        types,
        keys,
        output,
    };
    Ok((probe, places))
}

/// A `files` path may name the node's instance ID, and nothing else in braces: a typo such
/// as `{instanceid}` must not become a literal folder name that never exists.
fn check_placeholders(path: &str) -> Result<(), String> {
    let rest = path.replace(INSTANCE_ID_PLACEHOLDER, "");
    if rest.contains(['{', '}']) {
        return Err(format!(
            "{path:?} has a placeholder other than {INSTANCE_ID_PLACEHOLDER}, the only one supported"
        ));
    }
    Ok(())
}

/// `None` for `"auto"`, the checked value otherwise.
pub(super) fn auto_or(
    src: &Source<'_>,
    raw: Option<Spanned<String>>,
    key: &str,
    check: impl Fn(&str) -> Result<(), String>,
) -> Result<Option<String>, ConfigError> {
    match raw {
        None => Ok(None),
        Some(v) if v.get_ref() == AUTO => Ok(None),
        Some(v) => {
            check(v.get_ref()).map_err(|why| src.invalid(&v.span(), key, why))?;
            Ok(Some(v.into_inner()))
        }
    }
}

/// A path from the file (resolved against the file's directory) or the default (resolved the
/// same way, which leaves absolute defaults alone).
pub(super) fn path_or(
    src: &Source<'_>,
    raw: Option<Spanned<String>>,
    key: &str,
    default: &str,
) -> Result<PathBuf, ConfigError> {
    let text = match &raw {
        None => default,
        Some(v) if v.get_ref().is_empty() => {
            return Err(src.invalid(&v.span(), key, "is empty; give a path"));
        }
        Some(v) => v.get_ref().as_str(),
    };
    Ok(src.dir().join(text))
}

/// A byte count from the file within `range`, or the default. `largest` names the upper
/// bound in the unit an operator thinks in ("64 MiB").
pub(super) fn bytes_or(
    src: &Source<'_>,
    raw: Option<Spanned<i64>>,
    key: &str,
    default: usize,
    range: std::ops::RangeInclusive<usize>,
    largest: &str,
) -> Result<usize, ConfigError> {
    let Some(bytes) = raw else {
        return Ok(default);
    };
    usize::try_from(*bytes.get_ref())
        .ok()
        .filter(|b| range.contains(b))
        .ok_or_else(|| {
            src.invalid(
                &bytes.span(),
                key,
                format!(
                    "{} is out of range: must be between {} and {} ({largest})",
                    bytes.get_ref(),
                    range.start(),
                    range.end()
                ),
            )
        })
}

/// A count in `range`, or `default` when not set.
pub(super) fn count_or(
    src: &Source<'_>,
    raw: Option<Spanned<i64>>,
    key: &str,
    default: usize,
    range: std::ops::RangeInclusive<usize>,
) -> Result<usize, ConfigError> {
    let Some(count) = raw else {
        return Ok(default);
    };
    usize::try_from(*count.get_ref())
        .ok()
        .filter(|c| range.contains(c))
        .ok_or_else(|| {
            src.invalid(
                &count.span(),
                key,
                format!(
                    "{} is out of range: must be between {} and {}",
                    count.get_ref(),
                    range.start(),
                    range.end()
                ),
            )
        })
}

pub(super) fn duration_or(raw: Option<Spanned<DurationValue>>, default: Duration) -> Duration {
    raw.map_or(default, |d| d.into_inner().0)
}

pub(super) fn nonzero_duration_or(
    src: &Source<'_>,
    raw: Option<Spanned<DurationValue>>,
    key: &str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match raw {
        None => Ok(default),
        Some(d) if d.get_ref().0.is_zero() => {
            Err(src.invalid(&d.span(), key, "must be greater than zero"))
        }
        Some(d) => Ok(d.into_inner().0),
    }
}

pub(super) fn check_probe_name(name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    if name.is_empty() || name.chars().count() > MAX_PROBE_NAME_CHARS || !name.chars().all(allowed)
    {
        return Err(format!(
            "{name:?} is not a probe name: use 1 to {MAX_PROBE_NAME_CHARS} of A-Z a-z 0-9 _ . -"
        ));
    }
    // Names may end up in file names and log fields, where `.` and `..` mean something else.
    if name.chars().all(|c| c == '.') {
        return Err(format!(
            "{name:?} is not a probe name: it must not be only dots"
        ));
    }
    Ok(())
}
