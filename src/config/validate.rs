//! Raw TOML structs → [`Settings`]: defaults filled in, values checked, relative paths
//! resolved, and the rules that span probes and files (unique names, one probe per TypeName)
//! enforced. Stops at the first error, in file order, because the binary prints exactly one.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::defaults::*;
use super::error::{ConfigError, Source};
use super::raw::{DurationValue, RawAgent, RawCommand, RawDropIn, RawKind, RawMain, RawProbe};
use super::{
    AgentSettings, Collector, ExecSettings, FilesSettings, ProbeKind, ProbeSettings, Settings,
    SystemSettings, TypePattern,
};
use crate::identity::{is_instance_id, is_region};
use crate::inventory::check_type_name;
use crate::inventory::validate::is_schema_version;

/// Builds [`Settings`] one file at a time, remembering what earlier probes claimed so that a
/// clash names both places.
pub(super) struct Loader {
    config_path: PathBuf,
    agent: AgentSettings,
    probes: Vec<ProbeSettings>,
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
        }
    }

    fn add_probes(
        &mut self,
        src: &Source<'_>,
        raws: Vec<Spanned<RawProbe>>,
    ) -> Result<(), ConfigError> {
        for raw in raws {
            let (probe, places) = probe(src, raw, self.agent.strict_permissions)?;
            self.claims.claim(src, &probe, &places)?;
            self.probes.push(probe);
        }
        Ok(())
    }
}

fn agent(src: &Source<'_>, raw: RawAgent) -> Result<AgentSettings, ConfigError> {
    let instance_id = auto_or(src, raw.instance_id, "instance_id", |id| {
        is_instance_id(id).then_some(()).ok_or_else(|| {
            format!(
                "{id:?} is not an instance ID: expected \"auto\", i- followed by 8 or 17 \
                 letters/digits (EC2) or mi- followed by 17 (hybrid node)"
            )
        })
    })?;
    let region = auto_or(src, raw.region, "region", |region| {
        is_region(region).then_some(()).ok_or_else(|| {
            format!("{region:?} is not a region: expected \"auto\" or a name such as \"us-east-1\"")
        })
    })?;
    let endpoint_url = match raw.endpoint_url {
        None => None,
        Some(url) => {
            if !is_http_url(url.get_ref()) {
                return Err(src.invalid(
                    &url.span(),
                    "endpoint_url",
                    format!(
                        "{:?} is not an http(s) URL such as \"https://ssm.us-east-1.amazonaws.com\"",
                        url.get_ref()
                    ),
                ));
            }
            Some(url.into_inner())
        }
    };
    let state_dir = path_or(src, raw.state_dir, "state_dir", DEFAULT_STATE_DIR)?;
    let probes_dir = path_or(src, raw.probes_dir, "probes_dir", DEFAULT_PROBES_DIR)?;

    let splay = duration_or(raw.splay, DEFAULT_SPLAY);
    let min_push_interval = duration_or(raw.min_push_interval, DEFAULT_MIN_PUSH_INTERVAL);
    let refresh_interval = nonzero_duration_or(
        src,
        raw.refresh_interval,
        "refresh_interval",
        DEFAULT_REFRESH_INTERVAL,
    )?;
    let quarantine_retry = nonzero_duration_or(
        src,
        raw.quarantine_retry,
        "quarantine_retry",
        DEFAULT_QUARANTINE_RETRY,
    )?;

    let max_request_bytes = match raw.max_request_bytes {
        None => DEFAULT_MAX_REQUEST_BYTES,
        Some(bytes) => usize::try_from(*bytes.get_ref())
            .ok()
            .filter(|b| (MIN_REQUEST_BYTES..=MAX_REQUEST_BYTES).contains(b))
            .ok_or_else(|| {
                src.invalid(
                    &bytes.span(),
                    "max_request_bytes",
                    format!(
                        "{} is out of range: must be between {MIN_REQUEST_BYTES} and \
                         {MAX_REQUEST_BYTES} (64 MiB)",
                        bytes.get_ref()
                    ),
                )
            })?,
    };
    let on_removed = raw
        .on_removed
        .map_or(DEFAULT_ON_REMOVED, Spanned::into_inner);

    let profile = match raw.profile {
        Some(p) if p.get_ref().trim().is_empty() => {
            return Err(src.invalid(
                &p.span(),
                "profile",
                "is empty; give a profile name or leave the key out",
            ));
        }
        other => other.map(Spanned::into_inner),
    };
    let credentials_file = match raw.credentials_file {
        None => None,
        Some(p) => Some(path_or(src, Some(p), "credentials_file", "")?),
    };
    let retry_base = nonzero_duration_or(src, raw.retry_base, "retry_base", DEFAULT_RETRY_BASE)?;
    let retry_cap = match raw.retry_cap {
        None => DEFAULT_RETRY_CAP,
        Some(cap) if cap.get_ref().0 < retry_base => {
            return Err(src.invalid(
                &cap.span(),
                "retry_cap",
                format!(
                    "{} is shorter than retry_base ({})",
                    humantime::format_duration(cap.get_ref().0),
                    humantime::format_duration(retry_base)
                ),
            ));
        }
        Some(cap) => cap.into_inner().0,
    };
    let metrics_file = match raw.metrics_file {
        None => None,
        Some(p) => Some(path_or(src, Some(p), "metrics_file", "")?),
    };
    let strict_permissions = raw
        .strict_permissions
        .map_or(DEFAULT_STRICT_PERMISSIONS, Spanned::into_inner);
    let log_level = match raw.log_level {
        None => DEFAULT_LOG_LEVEL.to_string(),
        Some(level) if LOG_LEVELS.contains(&level.get_ref().as_str()) => level.into_inner(),
        Some(level) => {
            return Err(src.invalid(
                &level.span(),
                "log_level",
                format!(
                    "{:?} is not a level: expected one of {}",
                    level.get_ref(),
                    LOG_LEVELS.join(", ")
                ),
            ));
        }
    };

    Ok(AgentSettings {
        instance_id,
        region,
        endpoint_url,
        state_dir,
        probes_dir,
        splay,
        min_push_interval,
        refresh_interval,
        quarantine_retry,
        max_request_bytes,
        on_removed,
        profile,
        credentials_file,
        retry_base,
        retry_cap,
        strict_permissions,
        log_level,
        metrics_file,
    })
}

/// Where a probe's claims stand in its file, for the messages of a later clash.
struct Places {
    header: Range<usize>,
    name: Range<usize>,
    /// Exec: `type_name` (or `types`); files: `path` (or the header when defaulted); system:
    /// `collectors` (or the header).
    claim: Range<usize>,
    /// The TypeNames (or prefixes) the probe claims, each with the key and place naming it.
    types: Vec<TypeClaim>,
}

/// One TypeName or prefix a probe claims, and where.
struct TypeClaim {
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

type KindParts = (ProbeKind, Range<usize>, Vec<TypeClaim>);

fn exec(src: &Source<'_>, header: &Range<usize>, raw: RawProbe) -> Result<KindParts, ConfigError> {
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
    let max_output_bytes = match raw.max_output_bytes {
        None => DEFAULT_MAX_OUTPUT_BYTES,
        Some(bytes) => usize::try_from(*bytes.get_ref())
            .ok()
            .filter(|b| (MIN_OUTPUT_BYTES..=MAX_OUTPUT_BYTES).contains(b))
            .ok_or_else(|| {
                src.invalid(
                    &bytes.span(),
                    "max_output_bytes",
                    format!(
                        "{} is out of range: must be between {MIN_OUTPUT_BYTES} and \
                         {MAX_OUTPUT_BYTES} (256 MiB)",
                        bytes.get_ref()
                    ),
                )
            })?,
    };
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
fn type_pattern(entry: &str) -> Result<TypePattern, String> {
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

fn system(
    src: &Source<'_>,
    header: &Range<usize>,
    raw: Option<Spanned<Vec<Spanned<Collector>>>>,
) -> Result<KindParts, ConfigError> {
    let claims = |collectors: &[Collector], span: &Range<usize>| -> Vec<TypeClaim> {
        collectors
            .iter()
            .map(|c| TypeClaim {
                pattern: TypePattern::Exact(c.type_name().to_owned()),
                key: "collectors",
                span: span.clone(),
            })
            .collect()
    };
    let Some(list) = raw else {
        let collectors = DEFAULT_COLLECTORS.to_vec();
        let types = claims(&collectors, header);
        return Ok((
            ProbeKind::System(SystemSettings { collectors }),
            header.clone(),
            types,
        ));
    };
    let span = list.span();
    let mut collectors: Vec<Collector> = Vec::new();
    for c in list.into_inner() {
        if collectors.contains(c.get_ref()) {
            return Err(src.invalid(
                &c.span(),
                "collectors",
                format!("\"{}\" is listed twice", c.get_ref().as_str()),
            ));
        }
        collectors.push(c.into_inner());
    }
    if collectors.is_empty() {
        return Err(src.invalid(
            &span,
            "collectors",
            "is empty: list at least one of \"host\", \"disks\", \"network\", or leave the key out for all",
        ));
    }
    let types = claims(&collectors, &span);
    Ok((
        ProbeKind::System(SystemSettings { collectors }),
        span,
        types,
    ))
}

/// A place in a file already taken by an earlier probe.
struct Claim {
    probe: String,
    path: PathBuf,
    line: usize,
}

impl Claim {
    fn new(src: &Source<'_>, probe: &str, span: &Range<usize>) -> Claim {
        Claim {
            probe: probe.to_owned(),
            path: src.path.to_owned(),
            line: src.line(span),
        }
    }

    fn by(&self) -> String {
        format!(
            "probe {:?} at {}:{}",
            self.probe,
            self.path.display(),
            self.line
        )
    }
}

/// What earlier probes took: names, and the TypeNames (exact, or prefixes from an exec
/// probe's `types`) and sources of TypeNames that only one probe may feed, since two writers
/// of one type would overwrite each other in SSM.
#[derive(Default)]
struct Claims {
    names: HashMap<String, Claim>,
    type_names: HashMap<String, Claim>,
    prefixes: Vec<(String, Claim)>,
    collectors: HashMap<Collector, Claim>,
    folders: HashMap<PathBuf, Claim>,
}

impl Claims {
    fn claim(
        &mut self,
        src: &Source<'_>,
        probe: &ProbeSettings,
        at: &Places,
    ) -> Result<(), ConfigError> {
        let name = &probe.name;
        if let Some(earlier) = self.names.get(name) {
            return Err(src.invalid(
                &at.name,
                "name",
                format!(
                    "probe name {name:?} is already used by the probe at {}:{}",
                    earlier.path.display(),
                    earlier.line
                ),
            ));
        }
        match &probe.kind {
            ProbeKind::Exec(_) => {}
            ProbeKind::Files(files) => {
                if let Some(earlier) = self.folders.get(&files.path) {
                    return Err(src.invalid(
                        &at.claim,
                        "path",
                        format!(
                            "folder {} is already read by {}; one folder, one probe",
                            files.path.display(),
                            earlier.by()
                        ),
                    ));
                }
                self.folders
                    .insert(files.path.clone(), Claim::new(src, name, &at.claim));
            }
            ProbeKind::System(system) => {
                for c in &system.collectors {
                    if let Some(earlier) = self.collectors.get(c) {
                        return Err(src.invalid(
                            &at.claim,
                            "collectors",
                            format!(
                                "collector \"{}\" is already run by {}; its TypeNames would come from two probes",
                                c.as_str(),
                                earlier.by()
                            ),
                        ));
                    }
                }
                for c in &system.collectors {
                    self.collectors.insert(*c, Claim::new(src, name, &at.claim));
                }
            }
        }
        for claim in &at.types {
            if let Some(clash) = self.type_clash(&claim.pattern) {
                let subject = match &claim.pattern {
                    TypePattern::Exact(t) if claim.key == "collectors" => {
                        let collector = DEFAULT_COLLECTORS
                            .iter()
                            .find(|c| c.type_name() == t)
                            .map_or("", |c| c.as_str());
                        format!("TypeName `{t}` (from collector \"{collector}\")")
                    }
                    TypePattern::Exact(t) => format!("TypeName `{t}`"),
                    TypePattern::Prefix(_) => format!("prefix `{}`", claim.pattern),
                };
                return Err(src.invalid(
                    &claim.span,
                    claim.key,
                    format!("{subject} {clash}; one TypeName, one probe"),
                ));
            }
        }
        for claim in &at.types {
            let taken = Claim::new(src, name, &claim.span);
            match &claim.pattern {
                TypePattern::Exact(t) => {
                    self.type_names.insert(t.clone(), taken);
                }
                TypePattern::Prefix(p) => self.prefixes.push((p.clone(), taken)),
            }
        }
        self.names
            .insert(name.clone(), Claim::new(src, name, &at.header));
        Ok(())
    }

    /// How `pattern` collides with an earlier probe's claim, as the end of a sentence.
    fn type_clash(&self, pattern: &TypePattern) -> Option<String> {
        match pattern {
            TypePattern::Exact(t) => {
                if let Some(earlier) = self.type_names.get(t) {
                    return Some(format!("is already claimed by {}", earlier.by()));
                }
                self.prefixes
                    .iter()
                    .find(|(p, _)| t.starts_with(p.as_str()))
                    .map(|(p, earlier)| {
                        format!("falls under the prefix `{p}*` claimed by {}", earlier.by())
                    })
            }
            TypePattern::Prefix(p) => {
                let mut exact: Vec<(&String, &Claim)> = self
                    .type_names
                    .iter()
                    .filter(|(t, _)| t.starts_with(p.as_str()))
                    .collect();
                // Name the same clash every time, whatever the map's order.
                exact.sort_by_key(|(t, _)| *t);
                if let Some((t, earlier)) = exact.first() {
                    return Some(format!(
                        "covers TypeName `{t}`, already claimed by {}",
                        earlier.by()
                    ));
                }
                self.prefixes
                    .iter()
                    .find(|(q, _)| p.starts_with(q.as_str()) || q.starts_with(p.as_str()))
                    .map(|(q, earlier)| {
                        format!("overlaps the prefix `{q}*` claimed by {}", earlier.by())
                    })
            }
        }
    }
}

/// `None` for `"auto"`, the checked value otherwise.
fn auto_or(
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
fn path_or(
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

/// A program given with a directory part but not absolute (`./probe.sh`, `bin/x`) is meant
/// relative to the file that names it, not to the daemon's working directory. Bare names are
/// left for the exec probe to look up. `Some(None)` when the result is not UTF-8.
fn resolve_program(dir: &Path, program: &str) -> Option<Option<String>> {
    if !program.contains('/') || program.starts_with('/') || dir.as_os_str().is_empty() {
        return None;
    }
    let rest = program.strip_prefix("./").unwrap_or(program);
    Some(dir.join(rest).into_os_string().into_string().ok())
}

fn duration_or(raw: Option<Spanned<DurationValue>>, default: Duration) -> Duration {
    raw.map_or(default, |d| d.into_inner().0)
}

fn nonzero_duration_or(
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

fn check_probe_name(name: &str) -> Result<(), String> {
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

fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(rest) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty() && !url.contains(|c: char| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

/// A login name or numeric uid as passwd(5) allows it; whether it exists is checked when the
/// probe runs, since accounts can appear after the config is written.
fn is_user_name(user: &str) -> bool {
    !user.is_empty()
        && !user.starts_with('-')
        && !user.contains(|c: char| c.is_whitespace() || c.is_control() || c == ':' || c == '/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_ids() {
        assert!(is_instance_id("i-0123abcd"));
        assert!(is_instance_id("i-0123456789abcdef0"));
        assert!(is_instance_id("mi-0123456789abcdef0"));
        assert!(!is_instance_id("i-0123abc"));
        assert!(!is_instance_id("i-0123456789abcdef"));
        assert!(!is_instance_id("mi-0123abcd"));
        assert!(!is_instance_id("i-0123abc!"));
        assert!(!is_instance_id("x-0123abcd"));
        assert!(!is_instance_id(""));
    }

    #[test]
    fn regions() {
        for ok in [
            "us-east-1",
            "us-gov-west-1",
            "ap-southeast-2",
            "cn-north-1",
            "il-central-1",
        ] {
            assert!(is_region(ok), "{ok}");
        }
        for bad in [
            "us-east",
            "US-EAST-1",
            "useast1",
            "us--1",
            "us-east-1a",
            "",
            "-1",
        ] {
            assert!(!is_region(bad), "{bad}");
        }
    }

    #[test]
    fn urls() {
        assert!(is_http_url("https://ssm.us-east-1.amazonaws.com"));
        assert!(is_http_url("http://127.0.0.1:4566/"));
        assert!(!is_http_url("ssm.us-east-1.amazonaws.com"));
        assert!(!is_http_url("https://"));
        assert!(!is_http_url("https:///x"));
        assert!(!is_http_url("https://a b"));
        assert!(!is_http_url("ftp://x"));
    }

    #[test]
    fn probe_names() {
        assert!(check_probe_name("pkgs").is_ok());
        assert!(check_probe_name("a.b-c_D9").is_ok());
        assert!(check_probe_name(&"x".repeat(64)).is_ok());
        assert!(check_probe_name(&"x".repeat(65)).is_err());
        assert!(check_probe_name("").is_err());
        assert!(check_probe_name("a b").is_err());
        assert!(check_probe_name("a/b").is_err());
        assert!(check_probe_name("..").is_err());
    }

    #[test]
    fn programs_resolve_against_the_file() {
        let dir = Path::new("/etc/x/probes.d");
        assert_eq!(resolve_program(dir, "uname"), None);
        assert_eq!(resolve_program(dir, "/bin/sh"), None);
        assert_eq!(
            resolve_program(dir, "./probe.sh"),
            Some(Some("/etc/x/probes.d/probe.sh".to_owned()))
        );
        assert_eq!(
            resolve_program(dir, "bin/probe"),
            Some(Some("/etc/x/probes.d/bin/probe".to_owned()))
        );
        // A file in the working directory: `./x` must keep its `./`, or it becomes a PATH lookup.
        assert_eq!(resolve_program(Path::new(""), "./probe.sh"), None);
    }

    #[test]
    fn user_names() {
        assert!(is_user_name("nobody"));
        assert!(is_user_name("65534"));
        assert!(!is_user_name(""));
        assert!(!is_user_name("a b"));
        assert!(!is_user_name("-x"));
        assert!(!is_user_name("a:b"));
    }
}
