//! Configuration: TOML files → validated [`Settings`].
//!
//! The main file (default [`DEFAULT_CONFIG_PATH`]) holds `[agent]` and may hold `[[probe]]`
//! tables; drop-in files `probes_dir/*.toml` hold only `[[probe]]` tables, so a package or a
//! config-management tool can add a probe by dropping one file. Drop-ins are read in file
//! name order; hidden files and other extensions are ignored, which keeps editor backups and
//! `.dpkg-new` files out.
//!
//! Loading is two steps kept in separate files: [`raw`] mirrors the files key for key (unknown
//! keys refused, every value spanned), [`validate`] turns that into [`Settings`]. Every error is
//! one line `FILE:LINE: key `KEY`: message` ([`ConfigError`]). The rest of the daemon reads
//! [`Settings`] only.
//!
//! The keys, their defaults and what they are for are documented in `config/README.md`; the
//! defaults themselves are the constants in [`defaults`].

pub mod defaults;
mod error;
mod raw;
mod settings;
pub mod trust;
mod validate;

use std::path::{Path, PathBuf};

pub use defaults::DEFAULT_CONFIG_PATH;
pub use error::ConfigError;
pub use settings::{
    AgentSettings, Collector, ExecSettings, FilesSettings, FleetSettings, OnRemoved,
    ParameterVersion, ProbeKind, ProbeSettings, Settings, SystemSettings, TypePattern,
};

use error::{Role, Source};
use validate::Loader;

/// Reads the main file at `path` and every drop-in of its `probes_dir`, and validates them
/// together: the local files only, without any fleet parameter (what a node runs is
/// `fleet::load_with_stored`). A missing `probes_dir` just means no drop-ins: a fresh install
/// has none.
///
/// When running as root, every file read must pass the trust checks ([`trust::check_opened`]):
/// the main file always, since it holds `strict_permissions` and whoever could change it
/// could switch the checks off; the drop-ins unless the (checked) main file switched them off.
pub fn load_local(path: &Path) -> Result<Settings, ConfigError> {
    load_with(path, |_| Vec::new())
}

/// One version of a Parameter Store parameter holding probe definitions (the schema of a
/// drop-in file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetSource {
    pub name: String,
    pub version: i64,
    pub text: String,
}

/// Like [`load_local`], with the probes of `fleet` added after the local files. Only the parameters
/// the main file's `fleet_config` names are used, in its order; others are ignored (a
/// parameter removed from `fleet_config` stops counting at once). Each parameter's probes are
/// validated like a drop-in's and then checked against the fleet policy.
pub fn load_with_fleet(path: &Path, fleet: &[FleetSource]) -> Result<Settings, ConfigError> {
    load_with(path, |_| fleet.to_vec())
}

/// Like [`load_with_fleet`], with the fleet sources chosen once the main file's `[agent]` is
/// known (the state directory holding the last good versions is named there).
pub fn load_with(
    path: &Path,
    fleet: impl FnOnce(&AgentSettings) -> Vec<FleetSource>,
) -> Result<Settings, ConfigError> {
    let main_check = trust::enforced(true).then_some(Check::MainFile);
    let text = read(path, main_check)?;
    let mut loader = Loader::main(Source {
        path,
        text: &text,
        role: Role::Main,
    })?;
    let drop_in_check = trust::enforced(loader.strict_permissions()).then_some(Check::DropIn);
    for file in drop_in_files(loader.probes_dir())? {
        let text = read(&file, drop_in_check)?;
        loader.drop_in(Source {
            path: &file,
            text: &text,
            role: Role::DropIn,
        })?;
    }
    let sources = fleet(loader.agent());
    let wanted = loader.agent().fleet.parameters.clone();
    for name in &wanted {
        let Some(source) = sources.iter().find(|s| &s.name == name) else {
            continue;
        };
        loader.parameter(Source {
            path: Path::new(&source.name),
            text: &source.text,
            role: Role::Parameter {
                version: source.version,
            },
        })?;
    }
    Ok(loader.finish())
}

/// Validates `text` as a main file named `path_for_messages`, without reading drop-ins.
/// Relative paths are still resolved against `path_for_messages`' directory.
pub fn load_str(path_for_messages: &Path, text: &str) -> Result<Settings, ConfigError> {
    let loader = Loader::main(Source {
        path: path_for_messages,
        text,
        role: Role::Main,
    })?;
    Ok(loader.finish())
}

/// Which trust check a file read gets.
#[derive(Debug, Clone, Copy)]
enum Check {
    /// The main file: checked whatever it says, so a refusal does not suggest its opt-out.
    MainFile,
    DropIn,
}

/// Reads the file at `path`, after checking it when `check` says so. The check is of the
/// open file, so what is read is what was checked.
fn read(path: &Path, check: Option<Check>) -> Result<String, ConfigError> {
    use std::io::Read;
    let io = |source| ConfigError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    if let Some(check) = check {
        trust::check_opened(path, &file).map_err(|source| ConfigError::Untrusted {
            path: path.to_owned(),
            source: match check {
                Check::MainFile => source.for_main_file(),
                Check::DropIn => source,
            },
        })?;
    }
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(io)?;
    Ok(text)
}

/// `dir/*.toml`, hidden ones skipped, sorted by file name.
fn drop_in_files(dir: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let io = |source| ConfigError::Io {
        path: dir.to_owned(),
        source,
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(e)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let hidden = name.as_encoded_bytes().starts_with(b".");
        let toml = Path::new(&name)
            .extension()
            .is_some_and(|ext| ext == "toml");
        if hidden || !toml {
            continue;
        }
        let file = dir.join(&name);
        // `metadata` follows links, so a link to a probe file counts. Directories, FIFOs and
        // the like are skipped (reading a FIFO would block); a dangling link is kept so that
        // reading it reports the problem instead of the probe silently vanishing.
        match std::fs::metadata(&file) {
            Ok(meta) if !meta.is_file() => {}
            _ => files.push(file),
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

#[cfg(test)]
mod tests;

/// The `[agent] log_level` of the main file, read before logging starts. Any problem with
/// the file is ignored here: the full load that follows reports it properly.
pub fn peek_log_level(path: &Path) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Main {
        agent: Option<Agent>,
    }
    #[derive(serde::Deserialize)]
    struct Agent {
        log_level: Option<String>,
    }
    let text = std::fs::read_to_string(path).ok()?;
    let main: Main = toml::from_str(&text).ok()?;
    main.agent?
        .log_level
        .filter(|l| defaults::LOG_LEVELS.contains(&l.as_str()))
}
