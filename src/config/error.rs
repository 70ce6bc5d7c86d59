//! Configuration errors: each one line, `FILE:LINE: key `KEY`: what is wrong`, because that
//! is what an operator (and an editor's jump-to-error) can act on. Probe definitions fetched
//! from Parameter Store have no file: their errors name the parameter and its version instead
//! (`parameter /ssm-inventoryd/web version 7, line 3: key `KEY`: …`), which is what the
//! operator finds again with `aws ssm get-parameter --name NAME:VERSION`.

use std::ops::Range;
use std::path::{Path, PathBuf};

/// Why the configuration cannot be used. `Display` is the whole message, on one line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file or the drop-in directory could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not TOML at all, so there is no key to name.
    #[error("{}:{line}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// A config file someone other than root could change, while running as root: the main
    /// file whatever its `strict_permissions`, a drop-in when that is on; see [`super::trust`].
    #[error("{}: refused: {source}", path.display())]
    Untrusted {
        path: PathBuf,
        #[source]
        source: super::trust::TrustError,
    },
    /// A key is unknown, missing, of the wrong type or has a value the daemon refuses.
    #[error("{}:{line}: key `{key}`: {message}", path.display())]
    Invalid {
        path: PathBuf,
        /// 1-based.
        line: usize,
        /// As written in the file, without its table (`interval`, `env.PATH`).
        key: String,
        message: String,
    },
    /// A parameter's text is not TOML at all.
    #[error("parameter {parameter} version {version}, line {line}: {message}")]
    ParameterSyntax {
        parameter: String,
        version: i64,
        line: usize,
        message: String,
    },
    /// A key of a parameter's text is unknown, missing, of the wrong type, has a value the
    /// daemon refuses, or is refused by the fleet policy.
    #[error("parameter {parameter} version {version}, line {line}: key `{key}`: {message}")]
    ParameterInvalid {
        parameter: String,
        version: i64,
        /// 1-based.
        line: usize,
        key: String,
        message: String,
    },
}

impl ConfigError {
    /// The file the error is in; for a parameter's text, the parameter's name.
    pub fn path(&self) -> &Path {
        match self {
            ConfigError::Io { path, .. }
            | ConfigError::Untrusted { path, .. }
            | ConfigError::Syntax { path, .. }
            | ConfigError::Invalid { path, .. } => path,
            ConfigError::ParameterSyntax { parameter, .. }
            | ConfigError::ParameterInvalid { parameter, .. } => Path::new(parameter),
        }
    }

    /// The 1-based line, when the error is about a place in a file or a parameter's text.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Io { .. } | ConfigError::Untrusted { .. } => None,
            ConfigError::Syntax { line, .. }
            | ConfigError::Invalid { line, .. }
            | ConfigError::ParameterSyntax { line, .. }
            | ConfigError::ParameterInvalid { line, .. } => Some(*line),
        }
    }

    /// The parameter and version the error is in, when it is in a fetched one.
    pub fn parameter(&self) -> Option<(&str, i64)> {
        match self {
            ConfigError::ParameterSyntax {
                parameter, version, ..
            }
            | ConfigError::ParameterInvalid {
                parameter, version, ..
            } => Some((parameter, *version)),
            _ => None,
        }
    }
}

/// Which kind of source is being read; drop-ins and parameters may hold only probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Main,
    DropIn,
    /// A version of a Parameter Store parameter; `path` is then the parameter's name.
    Parameter {
        version: i64,
    },
}

/// One config file's (or parameter's) name and text: turns byte spans into `FILE:LINE`
/// errors.
#[derive(Debug, Clone, Copy)]
pub(super) struct Source<'a> {
    pub path: &'a Path,
    pub text: &'a str,
    pub role: Role,
}

impl Source<'_> {
    /// The directory that relative paths in this file are resolved against. A parameter has
    /// none: its name looks like a path but says nothing about the node's folders, so its
    /// relative paths stay relative (and the fleet policy refuses them).
    pub fn dir(&self) -> &Path {
        match self.role {
            Role::Parameter { .. } => Path::new(""),
            Role::Main | Role::DropIn => self.path.parent().unwrap_or(Path::new("")),
        }
    }

    /// Where line `line` of this source is, as messages name it.
    pub fn place(&self, line: usize) -> String {
        match self.role {
            Role::Parameter { version } => {
                format!(
                    "parameter {} version {version}, line {line}",
                    self.path.display()
                )
            }
            Role::Main | Role::DropIn => format!("{}:{line}", self.path.display()),
        }
    }

    pub fn is_parameter(&self) -> bool {
        matches!(self.role, Role::Parameter { .. })
    }

    /// 1-based line of the start of `span`.
    pub fn line(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        1 + self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
    }

    pub fn invalid(
        &self,
        span: &Range<usize>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ConfigError {
        let (line, key, message) = (self.line(span), key.into(), one_line(message.into()));
        match self.role {
            Role::Parameter { version } => ConfigError::ParameterInvalid {
                parameter: self.path.display().to_string(),
                version,
                line,
                key,
                message,
            },
            Role::Main | Role::DropIn => ConfigError::Invalid {
                path: self.path.to_owned(),
                line,
                key,
                message,
            },
        }
    }

    /// Names the key toml's message is about: the unknown or missing field it quotes, the
    /// duplicated key at its span, or else the key path toml records for value errors.
    pub fn toml_error(&self, err: &toml::de::Error) -> ConfigError {
        let span = err.span().unwrap_or(0..0);
        let message = err.message();
        if let Some(field) = quoted_after(message, "unknown field `") {
            return self.invalid(&span, field, self.unknown_key(field, message));
        }
        if let Some(field) = quoted_after(message, "missing field `") {
            return self.invalid(&span, field, "required key is missing");
        }
        if message == "duplicate key" {
            let key = self
                .text
                .get(span.clone())
                .unwrap_or("")
                .trim_matches(['"', '\'']);
            if !key.is_empty() {
                return self.invalid(&span, key, "set twice in the same table");
            }
        }
        if let Some(path) = key_path(err) {
            let key = path
                .strip_prefix("agent.")
                .or_else(|| path.strip_prefix("probe."))
                .unwrap_or(&path);
            let mut message = message.to_owned();
            if path == "probe" && message.starts_with("invalid type: map") {
                message
                    .push_str("; write `[[probe]]` (two brackets): probes are an array of tables");
            }
            return self.invalid(&span, key, message);
        }
        let (line, message) = (
            self.line(&span),
            one_line(format!("invalid TOML: {message}")),
        );
        match self.role {
            Role::Parameter { version } => ConfigError::ParameterSyntax {
                parameter: self.path.display().to_string(),
                version,
                line,
                message,
            },
            Role::Main | Role::DropIn => ConfigError::Syntax {
                path: self.path.to_owned(),
                line,
                message,
            },
        }
    }

    fn unknown_key(&self, field: &str, message: &str) -> String {
        if field == "agent" {
            match self.role {
                Role::DropIn => {
                    return "`[agent]` belongs in the main config file; drop-in files hold only `[[probe]]` tables"
                        .to_owned();
                }
                Role::Parameter { .. } => {
                    return "`[agent]` belongs in the node's main config file; a parameter holds only `[[probe]]` tables"
                        .to_owned();
                }
                Role::Main => {}
            }
        }
        let expected = message.split_once(", expected ").map_or("", |(_, e)| e);
        let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        match closest(field, &candidates) {
            Some(near) => format!("unknown key; did you mean `{near}`?"),
            None if expected.is_empty() => "unknown key".to_owned(),
            None => format!("unknown key, expected {expected}"),
        }
    }
}

/// toml keeps the dotted path of the key whose value failed (`agent.splay`) but exposes it
/// only through `Display`, and only when the error carries no input text. Returns `None` if
/// that output ever changes shape; the key is then simply not named (a unit test notices).
fn key_path(err: &toml::de::Error) -> Option<String> {
    let mut bare = err.clone();
    bare.set_input(None);
    let shown = bare.to_string();
    let keys = shown
        .strip_prefix(err.message())?
        .trim()
        .strip_prefix("in `")?
        .strip_suffix('`')?;
    (!keys.is_empty()).then(|| keys.to_owned())
}

fn quoted_after<'m>(message: &'m str, prefix: &str) -> Option<&'m str> {
    let rest = message.strip_prefix(prefix)?;
    rest.split_once('`').map(|(name, _)| name)
}

/// The known key a misspelt one most likely meant: same letters ignoring case, or at most two
/// edits away (one for very short keys).
fn closest<'c>(field: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let limit = if field.chars().count() <= 4 { 1 } else { 2 };
    candidates
        .iter()
        .map(|c| (edit_distance(&field.to_lowercase(), &c.to_lowercase()), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The binary prints an error as one line; a stray newline in a message would break that.
fn one_line(message: String) -> String {
    if message.contains(['\n', '\r']) {
        message.replace(['\n', '\r'], " ")
    } else {
        message
    }
}

#[cfg(test)]
mod tests;
