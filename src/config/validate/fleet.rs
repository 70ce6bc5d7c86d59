//! The `fleet_*` keys of `[agent]`, and the fleet policy applied to a parameter's probes with
//! the line of the key it refuses.

use std::ops::Range;
use std::path::PathBuf;

use toml::Spanned;

use super::super::defaults::*;
use super::super::error::{ConfigError, Source};
use super::super::raw::{DurationValue, RawProbe};
use super::super::{FleetSettings, ProbeSettings};
use super::{Places, nonzero_duration_or};

/// The `fleet_*` keys as written.
pub(super) struct RawFleet {
    pub parameters: Option<Spanned<Vec<Spanned<String>>>>,
    pub poll_interval: Option<Spanned<DurationValue>>,
    pub size_hint: Option<Spanned<i64>>,
    pub exec_dirs: Option<Spanned<Vec<Spanned<String>>>>,
    pub allow_shell: Option<Spanned<bool>>,
    pub allow_user: Option<Spanned<bool>>,
}

pub(super) fn settings(src: &Source<'_>, raw: RawFleet) -> Result<FleetSettings, ConfigError> {
    let mut parameters: Vec<String> = Vec::new();
    for name in raw.parameters.map(Spanned::into_inner).unwrap_or_default() {
        let span = name.span();
        let name = name.into_inner();
        check_parameter_name(&name).map_err(|why| src.invalid(&span, "fleet_config", why))?;
        if parameters.contains(&name) {
            return Err(src.invalid(
                &span,
                "fleet_config",
                format!("parameter {name} is listed twice"),
            ));
        }
        parameters.push(name);
    }
    let poll_interval = nonzero_duration_or(
        src,
        raw.poll_interval,
        "fleet_poll_interval",
        DEFAULT_FLEET_POLL_INTERVAL,
    )?;
    let size_hint = match raw.size_hint {
        None => DEFAULT_FLEET_SIZE_HINT,
        Some(n) => u64::try_from(*n.get_ref()).map_err(|_| {
            src.invalid(
                &n.span(),
                "fleet_size_hint",
                format!(
                    "{} is not a number of nodes: 0 (unknown) or more",
                    n.get_ref()
                ),
            )
        })?,
    };
    let mut exec_dirs: Vec<PathBuf> = Vec::new();
    for dir in raw.exec_dirs.map(Spanned::into_inner).unwrap_or_default() {
        let span = dir.span();
        let path = PathBuf::from(dir.into_inner());
        check_exec_dir(&path).map_err(|why| src.invalid(&span, "fleet_exec_dirs", why))?;
        exec_dirs.push(path);
    }
    Ok(FleetSettings {
        parameters,
        poll_interval,
        size_hint,
        exec_dirs,
        allow_shell: raw
            .allow_shell
            .map_or(DEFAULT_FLEET_ALLOW_SHELL, Spanned::into_inner),
        allow_user: raw
            .allow_user
            .map_or(DEFAULT_FLEET_ALLOW_USER, Spanned::into_inner),
    })
}

/// Parameter Store's naming rules: letters, digits, `_ . - /`; a hierarchical name starts
/// with `/` and has at most 15 levels. A version or label selector (`name:3`) is refused: the
/// node follows the newest version, and refuses bad ones itself.
fn check_parameter_name(name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/');
    if name.is_empty() || name.chars().count() > MAX_PARAMETER_NAME_CHARS {
        return Err(format!(
            "{name:?} is not a parameter name: 1 to {MAX_PARAMETER_NAME_CHARS} characters"
        ));
    }
    if !name.chars().all(allowed) {
        return Err(format!(
            "{name:?} is not a parameter name: use letters, digits and _ . - / (a name, not an ARN or a name:version selector)"
        ));
    }
    if name.contains('/') && !name.starts_with('/') {
        return Err(format!(
            "{name:?} is not a parameter name: a name with a hierarchy starts with `/`"
        ));
    }
    if name.matches('/').count() > 15 || name.ends_with('/') || name.contains("//") {
        return Err(format!(
            "{name:?} is not a parameter name: at most 15 levels, no empty level"
        ));
    }
    Ok(())
}

/// An allowed directory is absolute and plain, and not `/` (which would allow every program).
fn check_exec_dir(path: &std::path::Path) -> Result<(), String> {
    let shown = path.display();
    if !path.is_absolute() {
        return Err(format!("{shown:?} is not an absolute path"));
    }
    // Not `components()`: it drops `.` silently, and the path must be plain as written.
    if path
        .to_str()
        .is_none_or(|p| p.split('/').any(|part| part == "." || part == ".."))
    {
        return Err(format!(
            "{shown:?} has `.` or `..` in it; give the plain path"
        ));
    }
    if path.parent().is_none() {
        return Err(
            "\"/\" would let a parameter run any program on the node; name the directory that holds the vetted probe programs"
                .to_owned(),
        );
    }
    Ok(())
}

/// Where each key the policy may refuse stands, taken before the raw probe is consumed.
pub(super) fn key_spans(raw: &RawProbe) -> Vec<(String, Range<usize>)> {
    let mut keys: Vec<(String, Range<usize>)> = Vec::new();
    let mut add = |key: &str, span: Option<Range<usize>>| {
        if let Some(span) = span {
            keys.push((key.to_owned(), span));
        }
    };
    add("command", raw.command.as_ref().map(Spanned::span));
    add("shell", raw.shell.as_ref().map(Spanned::span));
    add("user", raw.user.as_ref().map(Spanned::span));
    add("working_dir", raw.working_dir.as_ref().map(Spanned::span));
    add("path", raw.path.as_ref().map(Spanned::span));
    if let Some(env) = &raw.env {
        for key in env.get_ref().keys() {
            keys.push((format!("env.{}", key.get_ref()), key.span()));
        }
    }
    keys
}

/// Applies [`super::policy`] to a probe of a parameter, blaming the line of the
/// refused key (or the probe's header when the key was left at its default).
pub(super) fn check_policy(
    src: &Source<'_>,
    probe: &ProbeSettings,
    places: &Places,
    fleet: &FleetSettings,
) -> Result<(), ConfigError> {
    super::policy::check(probe, fleet).map_err(|violation| {
        let span = places
            .keys
            .iter()
            .find(|(key, _)| *key == violation.key)
            .map_or(&places.header, |(_, span)| span);
        src.invalid(
            span,
            violation.key,
            format!("probe {:?}: {}", probe.name, violation.message),
        )
    })
}

#[cfg(test)]
mod tests;
