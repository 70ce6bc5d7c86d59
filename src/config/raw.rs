//! The TOML files exactly as written: every key optional and wrapped in [`Spanned`], so that
//! validation can say on which line a value it refuses stands.
//!
//! Every struct denies unknown keys, because a misspelt key silently falling back to its
//! default is the worst kind of config bug. The probe struct is flat, with the keys of every
//! kind side by side: `#[serde(flatten)]` would switch `deny_unknown_fields` off. Which keys
//! belong to which kind is checked in `validate`.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Visitor};
use toml::Spanned;

use super::{Collector, OnRemoved};

/// The main file: `[agent]` and any number of `[[probe]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMain {
    pub agent: Option<RawAgent>,
    #[serde(default)]
    pub probe: Vec<Spanned<RawProbe>>,
}

/// A drop-in file: only `[[probe]]`, so that the agent's settings live in one place.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDropIn {
    #[serde(default)]
    pub probe: Vec<Spanned<RawProbe>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAgent {
    pub instance_id: Option<Spanned<String>>,
    pub region: Option<Spanned<String>>,
    pub endpoint_url: Option<Spanned<String>>,
    pub state_dir: Option<Spanned<String>>,
    pub probes_dir: Option<Spanned<String>>,
    pub splay: Option<Spanned<DurationValue>>,
    pub min_push_interval: Option<Spanned<DurationValue>>,
    pub refresh_interval: Option<Spanned<DurationValue>>,
    pub quarantine_retry: Option<Spanned<DurationValue>>,
    /// Signed, so that a negative number gets the range message rather than a type error.
    pub max_request_bytes: Option<Spanned<i64>>,
    /// Signed, so that a negative number gets the range message rather than a type error.
    pub max_concurrent_probes: Option<Spanned<i64>>,
    /// Signed, so that a negative number gets the range message rather than a type error.
    pub probe_output_budget: Option<Spanned<i64>>,
    pub on_removed: Option<Spanned<OnRemoved>>,
    pub profile: Option<Spanned<String>>,
    pub credentials_file: Option<Spanned<String>>,
    pub retry_base: Option<Spanned<DurationValue>>,
    pub retry_cap: Option<Spanned<DurationValue>>,
    pub strict_permissions: Option<Spanned<bool>>,
    pub log_level: Option<Spanned<String>>,
    pub metrics_file: Option<Spanned<String>>,
    pub fleet_config: Option<Spanned<Vec<Spanned<String>>>>,
    pub fleet_poll_interval: Option<Spanned<DurationValue>>,
    /// Signed, so that a negative number gets the range message rather than a type error.
    pub fleet_size_hint: Option<Spanned<i64>>,
    pub fleet_exec_dirs: Option<Spanned<Vec<Spanned<String>>>>,
    pub fleet_allow_shell: Option<Spanned<bool>>,
    pub fleet_allow_user: Option<Spanned<bool>>,
}

/// One `[[probe]]`; the span of the `Spanned` around it is its `[[probe]]` header, which is
/// where a missing key is reported.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProbe {
    pub name: Option<Spanned<String>>,
    pub kind: Option<Spanned<RawKind>>,
    pub interval: Option<Spanned<DurationValue>>,
    pub timeout: Option<Spanned<DurationValue>>,
    pub splay: Option<Spanned<DurationValue>>,
    // exec
    pub command: Option<Spanned<RawCommand>>,
    pub shell: Option<Spanned<bool>>,
    pub type_name: Option<Spanned<String>>,
    pub types: Option<Spanned<Vec<Spanned<String>>>>,
    pub schema_version: Option<Spanned<String>>,
    pub env: Option<Spanned<BTreeMap<Spanned<String>, Spanned<String>>>>,
    pub user: Option<Spanned<String>>,
    pub working_dir: Option<Spanned<String>>,
    /// Signed, so that a negative number gets the range message rather than a type error.
    pub max_output_bytes: Option<Spanned<i64>>,
    pub keep_order: Option<Spanned<bool>>,
    // files
    pub path: Option<Spanned<String>>,
    // system
    pub collectors: Option<Spanned<Vec<Spanned<Collector>>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum RawKind {
    Exec,
    Files,
    System,
}

impl RawKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RawKind::Exec => "exec",
            RawKind::Files => "files",
            RawKind::System => "system",
        }
    }
}

/// `command`: an argv list, or one string (a command line, only with `shell = true`).
/// Validation decides which is allowed, so that a string without `shell` gets a message that
/// says what to do rather than a type error.
#[derive(Debug)]
pub(super) enum RawCommand {
    Argv(Vec<Spanned<String>>),
    Line(String),
}

impl<'de> Deserialize<'de> for RawCommand {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CommandVisitor)
    }
}

struct CommandVisitor;

impl<'de> Visitor<'de> for CommandVisitor {
    type Value = RawCommand;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of strings (program and arguments) or, with shell = true, a string")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<RawCommand, E> {
        Ok(RawCommand::Line(text.to_owned()))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<RawCommand, A::Error> {
        let mut argv = Vec::new();
        while let Some(arg) = seq.next_element::<Spanned<String>>()? {
            argv.push(arg);
        }
        Ok(RawCommand::Argv(argv))
    }
}

/// A humantime duration (`"30s"`, `"15m"`, `"1h 30m"`), parsed while deserializing so that a
/// bad one is reported by toml with its key and span like any other bad value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DurationValue(pub Duration);

impl<'de> Deserialize<'de> for DurationValue {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(DurationVisitor)
    }
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = DurationValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration string such as \"30s\", \"15m\" or \"12h\"")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<DurationValue, E> {
        parse_duration(text).map(DurationValue).map_err(E::custom)
    }
}

/// The longest duration any setting takes. Nothing the daemon schedules needs more than a
/// year (the service keeps inventory for 30 days), and a bound keeps every deadline computed
/// from a setting far inside what clocks and dates can represent.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 86_400);

/// humantime's own messages list every unit on one long line; these say what is wrong with
/// this value, in the shape `invalid duration "5 parsecs": unknown time unit "parsecs"`.
pub(super) fn parse_duration(text: &str) -> Result<Duration, String> {
    use humantime::DurationError as E;
    let parsed = humantime::parse_duration(text).map_err(|e| {
        let why = match e {
            E::Empty => "it is empty".to_owned(),
            E::InvalidCharacter(at) => match text.get(at..).and_then(|s| s.chars().next()) {
                Some(c) => format!("unexpected character {c:?}"),
                None => "unexpected character".to_owned(),
            },
            E::NumberExpected(_) => "expected a number before each unit".to_owned(),
            E::UnknownUnit { unit, .. } if unit.is_empty() => {
                "a unit is needed (ms, s, m, h, d)".to_owned()
            }
            E::UnknownUnit { unit, .. } => {
                format!("unknown time unit {unit:?} (use ms, s, m, h, d)")
            }
            E::NumberOverflow => "the number is too large".to_owned(),
        };
        format!("invalid duration {text:?}: {why}")
    })?;
    if parsed > MAX_DURATION {
        return Err(format!(
            "invalid duration {text:?}: at most 365d (one year)"
        ));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests;
