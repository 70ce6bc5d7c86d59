//! `kind = "exec"`: the argv, the TypeNames the program may print, and how it runs.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use toml::Spanned;

use super::super::defaults::*;
use super::super::error::{ConfigError, Source};
use super::super::raw::{RawCommand, RawProbe};
use super::super::{ExecSettings, ProbeKind, TypePattern};
use super::{TypeClaim, bytes_or, path_or};
use crate::inventory::check_type_name;
use crate::inventory::validate::is_schema_version;

pub(super) type KindParts = (ProbeKind, Range<usize>, Vec<TypeClaim>);

pub(super) fn exec(
    src: &Source<'_>,
    header: &Range<usize>,
    raw: RawProbe,
) -> Result<KindParts, ConfigError> {
    let command = raw.command.ok_or_else(|| {
        src.invalid(
            header,
            "command",
            "required key is missing: exec probes need a command (argv list, e.g. [\"/usr/bin/uname\", \"-r\"])",
        )
    })?;
    let shell = raw.shell.map_or(DEFAULT_SHELL, Spanned::into_inner);
    let command_span = command.span();
    let mut argv: Vec<String> = Vec::new();
    match command.into_inner() {
        RawCommand::Line(_) if !shell => {
            return Err(src.invalid(
                &command_span,
                "command",
                "is a string, but without `shell = true` the command is an argv list such as [\"/usr/bin/uname\", \"-r\"]; set `shell = true` to run the string with /bin/sh -c",
            ));
        }
        RawCommand::Line(line) => {
            if line.contains('\0') {
                return Err(src.invalid(&command_span, "command", "contains a NUL byte"));
            }
            argv.push(line);
        }
        RawCommand::Argv(list) => {
            if shell && list.len() > 1 {
                return Err(src.invalid(
                    &command_span,
                    "command",
                    format!(
                        "has {} elements, but with `shell = true` it is one command line for /bin/sh -c: a string, or a list of one string",
                        list.len()
                    ),
                ));
            }
            for arg in list {
                if arg.get_ref().contains('\0') {
                    return Err(src.invalid(
                        &arg.span(),
                        "command",
                        "an argument contains a NUL byte",
                    ));
                }
                argv.push(arg.into_inner());
            }
        }
    }
    match argv.first_mut() {
        None => {
            return Err(src.invalid(
                &command_span,
                "command",
                "is empty: list the program and its arguments, e.g. [\"/usr/bin/uname\", \"-r\"]",
            ));
        }
        Some(line) if shell && line.trim().is_empty() => {
            return Err(src.invalid(
                &command_span,
                "command",
                "is empty: give the command line for /bin/sh -c",
            ));
        }
        Some(program) if program.is_empty() => {
            return Err(src.invalid(
                &command_span,
                "command",
                "the program (first element) is empty",
            ));
        }
        Some(_) if shell => {}
        Some(program) => {
            if let Some(resolved) = resolve_program(src.dir(), program) {
                *program = resolved.ok_or_else(|| {
                    src.invalid(
                        &command_span,
                        "command",
                        "the program is a relative path but this file's directory is not UTF-8; use an absolute path",
                    )
                })?;
            }
        }
    }

    let mut claims: Vec<TypeClaim> = Vec::new();
    let type_name = match raw.type_name {
        None => None,
        Some(type_name) => {
            let span = type_name.span();
            let type_name = type_name.into_inner();
            check_type_name(&type_name)
                .map_err(|e| src.invalid(&span, "type_name", e.to_string()))?;
            claims.push(TypeClaim {
                pattern: TypePattern::Exact(type_name.clone()),
                key: "type_name",
                span,
            });
            Some(type_name)
        }
    };
    let mut types: Vec<TypePattern> = Vec::new();
    if let Some(list) = raw.types {
        let list_span = list.span();
        let list = list.into_inner();
        if list.is_empty() {
            return Err(src.invalid(
                &list_span,
                "types",
                "is empty: list the TypeNames the program may print documents for (\"Custom:A\", or \"Custom:App.*\" for a prefix), or leave the key out",
            ));
        }
        for entry in list {
            let span = entry.span();
            let pattern =
                type_pattern(entry.get_ref()).map_err(|why| src.invalid(&span, "types", why))?;
            if types.contains(&pattern)
                || type_name
                    .as_deref()
                    .is_some_and(|t| pattern.matches(t) && matches!(pattern, TypePattern::Exact(_)))
            {
                return Err(src.invalid(&span, "types", format!("\"{pattern}\" is listed twice")));
            }
            claims.push(TypeClaim {
                pattern: pattern.clone(),
                key: "types",
                span,
            });
            types.push(pattern);
        }
    }
    let Some(first_claim) = claims.first().map(|c| c.span.clone()) else {
        return Err(src.invalid(
            header,
            "type_name",
            "required key is missing: exec probes need a TypeName such as \"Custom:Packages\" (or `types` when the program prints SSM Agent documents of several types)",
        ));
    };

    let schema_version = match raw.schema_version {
        None => DEFAULT_SCHEMA_VERSION.to_owned(),
        Some(v) if is_schema_version(v.get_ref()) => v.into_inner(),
        Some(v) => {
            return Err(src.invalid(
                &v.span(),
                "schema_version",
                format!(
                    "{:?} is not a SchemaVersion: expected major.minor, 1 to 6 digits each (e.g. \"1.0\")",
                    v.get_ref()
                ),
            ));
        }
    };

    let mut env = BTreeMap::new();
    for (key, value) in raw.env.map(Spanned::into_inner).unwrap_or_default() {
        let shown = format!("env.{}", key.get_ref());
        if key.get_ref().is_empty() || key.get_ref().contains(['=', '\0']) {
            return Err(src.invalid(
                &key.span(),
                shown,
                "an environment variable name must be non-empty, without `=` or NUL",
            ));
        }
        if value.get_ref().contains('\0') {
            return Err(src.invalid(&value.span(), shown, "the value contains a NUL byte"));
        }
        env.insert(key.into_inner(), value.into_inner());
    }

    let user = match raw.user {
        None => None,
        Some(u) if is_user_name(u.get_ref()) => Some(u.into_inner()),
        Some(u) => {
            return Err(src.invalid(
                &u.span(),
                "user",
                format!("{:?} is not a user name", u.get_ref()),
            ));
        }
    };
    let working_dir = match raw.working_dir {
        None => None,
        Some(dir) => Some(path_or(src, Some(dir), "working_dir", "")?),
    };
    let max_output_bytes = bytes_or(
        src,
        raw.max_output_bytes,
        "max_output_bytes",
        DEFAULT_MAX_OUTPUT_BYTES,
        MIN_OUTPUT_BYTES..=MAX_OUTPUT_BYTES,
        "256 MiB",
    )?;
    let keep_order = raw
        .keep_order
        .map_or(DEFAULT_KEEP_ORDER, Spanned::into_inner);

    let settings = ExecSettings {
        command: argv,
        shell,
        type_name,
        types,
        schema_version,
        env,
        user,
        working_dir,
        max_output_bytes,
        keep_order,
    };
    Ok((ProbeKind::Exec(settings), first_claim, claims))
}

/// One entry of `types`: a TypeName, or a prefix ending in `*`.
pub(super) fn type_pattern(entry: &str) -> Result<TypePattern, String> {
    match entry.strip_suffix('*') {
        Some(prefix) => {
            if prefix.contains('*') {
                return Err(format!(
                    "{entry:?}: `*` is only allowed once, at the end (a prefix rule such as \"Custom:App.*\")"
                ));
            }
            // A prefix is a TypeName cut short: it must itself be a valid TypeName.
            check_type_name(prefix).map_err(|e| format!("{entry:?}: {e}"))?;
            Ok(TypePattern::Prefix(prefix.to_owned()))
        }
        None => {
            if entry.contains('*') {
                return Err(format!(
                    "{entry:?}: `*` is only allowed at the end (a prefix rule such as \"Custom:App.*\")"
                ));
            }
            check_type_name(entry).map_err(|e| e.to_string())?;
            Ok(TypePattern::Exact(entry.to_owned()))
        }
    }
}

/// A program given with a directory part but not absolute (`./probe.sh`, `bin/x`) is meant
/// relative to the file that names it, not to the daemon's working directory. Bare names are
/// left for the exec probe to look up. `Some(None)` when the result is not UTF-8.
pub(super) fn resolve_program(dir: &Path, program: &str) -> Option<Option<String>> {
    if !program.contains('/') || program.starts_with('/') || dir.as_os_str().is_empty() {
        return None;
    }
    let rest = program.strip_prefix("./").unwrap_or(program);
    Some(dir.join(rest).into_os_string().into_string().ok())
}

/// A login name or numeric uid as passwd(5) allows it; whether it exists is checked when the
/// probe runs, since accounts can appear after the config is written.
pub(super) fn is_user_name(user: &str) -> bool {
    !user.is_empty()
        && !user.starts_with('-')
        && !user.contains(|c: char| c.is_whitespace() || c.is_control() || c == ':' || c == '/')
}
