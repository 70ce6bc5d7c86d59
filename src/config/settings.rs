//! The validated configuration the rest of the daemon reads. Nothing here can hold a value
//! that `validate` would refuse, so downstream code does not re-check it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// The whole configuration: the main file plus every drop-in.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The main file as it was named on the command line, kept so reload reads the same file
    /// and messages name it as the operator wrote it.
    pub config_path: PathBuf,
    pub agent: AgentSettings,
    /// Main file first, then drop-ins by file name, then the fleet parameters in the order
    /// `fleet_config` names them, each in file order: the order operators read them in.
    pub probes: Vec<ProbeSettings>,
    /// The parameter versions whose probes are part of `probes`, in `fleet_config` order.
    /// Empty when the node runs its local files alone.
    pub parameters: Vec<ParameterVersion>,
}

/// One parameter version a configuration was built from, so that status and logs can say
/// what a node runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterVersion {
    pub name: String,
    pub version: i64,
}

impl Settings {
    /// Probe names are unique, so a name identifies one probe.
    pub fn probe(&self, name: &str) -> Option<&ProbeSettings> {
        self.probes.iter().find(|p| p.name == name)
    }
}

/// `[agent]`: everything that is not one probe.
#[derive(Debug, Clone)]
pub struct AgentSettings {
    /// `None` means `"auto"`: found from the hybrid registration or instance metadata.
    /// Default: [`AUTO`](super::defaults::AUTO).
    pub instance_id: Option<String>,
    /// `None` means `"auto"`: found like the instance ID, or from the AWS environment.
    /// Default: [`AUTO`](super::defaults::AUTO).
    pub region: Option<String>,
    /// Sends PutInventory somewhere other than the regional endpoint: a VPC endpoint, or the
    /// emulator in tests. Default: none.
    pub endpoint_url: Option<String>,
    /// Holds the acknowledged hashes and quarantine.
    /// Default: [`DEFAULT_STATE_DIR`](super::defaults::DEFAULT_STATE_DIR).
    pub state_dir: PathBuf,
    /// Drop-in probe files (`*.toml`).
    /// Default: [`DEFAULT_PROBES_DIR`](super::defaults::DEFAULT_PROBES_DIR) beside the main file.
    pub probes_dir: PathBuf,
    /// Random delay before a push, spreading a fleet's calls.
    /// Default: [`DEFAULT_SPLAY`](super::defaults::DEFAULT_SPLAY) (30 s).
    pub splay: Duration,
    /// Debounce between pushes so that probes finishing together share a call.
    /// Default: [`DEFAULT_MIN_PUSH_INTERVAL`](super::defaults::DEFAULT_MIN_PUSH_INTERVAL) (5 s).
    pub min_push_interval: Duration,
    /// Unchanged items are re-sent hash-only this often to keep CaptureTime current.
    /// Default: [`DEFAULT_REFRESH_INTERVAL`](super::defaults::DEFAULT_REFRESH_INTERVAL) (12 h).
    pub refresh_interval: Duration,
    /// A quarantined type is retried after this long even if its content did not change.
    /// Default: [`DEFAULT_QUARANTINE_RETRY`](super::defaults::DEFAULT_QUARANTINE_RETRY) (6 h).
    pub quarantine_retry: Duration,
    /// Byte budget of one PutInventory request body, between
    /// [`MIN_REQUEST_BYTES`](super::defaults::MIN_REQUEST_BYTES) and
    /// [`MAX_REQUEST_BYTES`](super::defaults::MAX_REQUEST_BYTES).
    /// Default: [`DEFAULT_MAX_REQUEST_BYTES`](super::defaults::DEFAULT_MAX_REQUEST_BYTES) (1 MiB).
    pub max_request_bytes: usize,
    /// What happens in SSM to a type no probe produces any more.
    /// Default: [`DEFAULT_ON_REMOVED`](super::defaults::DEFAULT_ON_REMOVED) (clear).
    pub on_removed: OnRemoved,
    /// Probe runs in flight at once, daemon-wide; more wait their turn.
    /// Default: [`DEFAULT_MAX_CONCURRENT_PROBES`](super::defaults::DEFAULT_MAX_CONCURRENT_PROBES) (4).
    pub max_concurrent_probes: usize,
    /// Bytes the probe runs in flight and the items waiting for delivery may hold together:
    /// each run reserves what it may hold before it starts, its items then hold their
    /// Content until the service has it. No exec probe's `max_output_bytes` is larger.
    /// Default: [`DEFAULT_PROBE_OUTPUT_BUDGET`](super::defaults::DEFAULT_PROBE_OUTPUT_BUDGET) (32 MiB).
    pub probe_output_budget: usize,
    /// A named profile of the shared AWS config and credentials files. Default: none (the
    /// SDK's default chain, which honours `AWS_PROFILE`).
    pub profile: Option<String>,
    /// A credentials file other than `~/.aws/credentials`. Default: none.
    pub credentials_file: Option<PathBuf>,
    /// First backoff ceiling after a transient failure; it doubles per attempt.
    /// Default: [`DEFAULT_RETRY_BASE`](super::defaults::DEFAULT_RETRY_BASE) (1 s).
    pub retry_base: Duration,
    /// Longest wait between two attempts.
    /// Default: [`DEFAULT_RETRY_CAP`](super::defaults::DEFAULT_RETRY_CAP) (5 min).
    pub retry_cap: Duration,
    /// When the daemon runs as root, refuse probe definition files, `files` folders and exec
    /// programs that someone other than root could change (like sshd's StrictModes): whoever
    /// can edit them could otherwise run code as root or forge inventory.
    /// Default: [`DEFAULT_STRICT_PERMISSIONS`](super::defaults::DEFAULT_STRICT_PERMISSIONS) (true).
    pub strict_permissions: bool,
    /// Log level when `RUST_LOG` is not set: error, warn, info, debug or trace.
    /// Default: [`DEFAULT_LOG_LEVEL`](super::defaults::DEFAULT_LOG_LEVEL) (info).
    pub log_level: String,
    /// Where to write Prometheus metrics for node_exporter's textfile collector, after each
    /// push and probe run. Default: none (no metrics file).
    pub metrics_file: Option<PathBuf>,
    /// Probe definitions from Parameter Store, and what the local configuration lets them do.
    pub fleet: FleetSettings,
}

/// `fleet_*` keys of `[agent]`. A parameter is writable by whoever holds `ssm:PutParameter`
/// on it, and an exec probe runs as root on every node that reads it, so the node's own
/// (root-owned) configuration decides what a parameter may ask for: everything that could run
/// arbitrary code is off until named here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetSettings {
    /// Parameter names whose values hold probe drop-in TOML, applied after the local files in
    /// this order. Default: empty (no fleet configuration).
    pub parameters: Vec<String>,
    /// Time between two fetches of the parameters, plus the node's splay. Default:
    /// [`DEFAULT_FLEET_POLL_INTERVAL`](super::defaults::DEFAULT_FLEET_POLL_INTERVAL) (20 min).
    pub poll_interval: Duration,
    /// How many nodes poll the same parameters, so that `validate` can tell the fleet's
    /// Parameter Store read rate against the account's budget. Default:
    /// [`DEFAULT_FLEET_SIZE_HINT`](super::defaults::DEFAULT_FLEET_SIZE_HINT) (0, unknown).
    pub size_hint: u64,
    /// Absolute directories an exec probe from a parameter may run a program from; the
    /// program must be named by an absolute path inside one of them. Default: empty (exec
    /// probes from parameters are refused).
    pub exec_dirs: Vec<PathBuf>,
    /// Whether a parameter's exec probe may use `shell = true` (a command line for
    /// `/bin/sh -c`, which can run anything, so `exec_dirs` cannot constrain it).
    /// Default: [`DEFAULT_FLEET_ALLOW_SHELL`](super::defaults::DEFAULT_FLEET_ALLOW_SHELL) (false).
    pub allow_shell: bool,
    /// Whether a parameter's exec probe may set `user`.
    /// Default: [`DEFAULT_FLEET_ALLOW_USER`](super::defaults::DEFAULT_FLEET_ALLOW_USER) (false).
    pub allow_user: bool,
}

impl AgentSettings {
    /// The most memory the daemon may use under this configuration: its baseline, the
    /// probe budget (runs in flight and items waiting for delivery) times the measured peak
    /// per byte of it, and a push of `max_request_bytes` times its measured peak per byte.
    pub fn worst_case_bytes(&self) -> usize {
        use super::defaults::{
            DAEMON_BASELINE_BYTES, PEAK_PER_OUTPUT_BYTE, PUSH_PEAK_PER_REQUEST_BYTE,
        };
        DAEMON_BASELINE_BYTES
            .saturating_add(
                self.probe_output_budget
                    .saturating_mul(PEAK_PER_OUTPUT_BYTE),
            )
            .saturating_add(
                self.max_request_bytes
                    .saturating_mul(PUSH_PEAK_PER_REQUEST_BYTE),
            )
    }
}

impl FleetSettings {
    /// GetParameters calls a second that `size_hint` nodes polling these parameters every
    /// `poll_interval` make: nodes × ⌈parameters / 10⌉ / interval. `None` when the size or
    /// the parameters are unknown.
    pub fn expected_read_rate(&self) -> Option<f64> {
        if self.size_hint == 0 || self.parameters.is_empty() {
            return None;
        }
        let calls_per_poll = self.parameters.len().div_ceil(10) as f64;
        Some(self.size_hint as f64 * calls_per_poll / self.poll_interval.as_secs_f64())
    }

    /// The read rate a fleet may use: a quarter of Parameter Store's default 40 a second.
    pub fn read_budget() -> f64 {
        super::defaults::PARAMETER_STORE_READ_TPS * super::defaults::FLEET_READ_BUDGET_SHARE
    }
}

impl Default for FleetSettings {
    fn default() -> Self {
        FleetSettings {
            parameters: Vec::new(),
            poll_interval: super::defaults::DEFAULT_FLEET_POLL_INTERVAL,
            size_hint: super::defaults::DEFAULT_FLEET_SIZE_HINT,
            exec_dirs: Vec::new(),
            allow_shell: super::defaults::DEFAULT_FLEET_ALLOW_SHELL,
            allow_user: super::defaults::DEFAULT_FLEET_ALLOW_USER,
        }
    }
}

/// What to do with a TypeName that disappeared (probe removed, file deleted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnRemoved {
    /// Send it once with empty Content, then forget it.
    Clear,
    /// Leave the last content in SSM; it ages out after the service's 30 days.
    Keep,
}

impl OnRemoved {
    /// The spelling used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            OnRemoved::Clear => "clear",
            OnRemoved::Keep => "keep",
        }
    }
}

/// One `[[probe]]`.
#[derive(Debug, Clone)]
pub struct ProbeSettings {
    /// Unique across all files; names the probe in logs, status and errors.
    pub name: String,
    /// The file that defined it, so runtime errors can point there.
    pub source: PathBuf,
    /// Time between runs. Never zero.
    /// Default: [`DEFAULT_PROBE_INTERVAL`](super::defaults::DEFAULT_PROBE_INTERVAL) (5 min).
    pub interval: Duration,
    /// A run is killed after this long. Never zero, never longer than `interval`.
    /// Default: [`DEFAULT_PROBE_TIMEOUT`](super::defaults::DEFAULT_PROBE_TIMEOUT) (30 s), or
    /// `interval` when that is shorter.
    pub timeout: Duration,
    /// Random extra delay before each run.
    /// Default: [`DEFAULT_PROBE_SPLAY`](super::defaults::DEFAULT_PROBE_SPLAY) (none).
    pub splay: Duration,
    /// `[agent] strict_permissions`, copied here so a probe can enforce the trust checks on
    /// its program or folder without the agent settings.
    pub strict_permissions: bool,
    pub kind: ProbeKind,
}

/// What a probe runs, with the settings only that kind has.
#[derive(Debug, Clone)]
pub enum ProbeKind {
    Exec(ExecSettings),
    Files(FilesSettings),
    System(SystemSettings),
}

impl ProbeKind {
    /// The spelling used in the config file.
    pub fn as_str(&self) -> &'static str {
        match self {
            ProbeKind::Exec(_) => "exec",
            ProbeKind::Files(_) => "files",
            ProbeKind::System(_) => "system",
        }
    }
}

/// `kind = "exec"`: a program whose stdout is JSON.
#[derive(Debug, Clone)]
pub struct ExecSettings {
    /// argv; no shell unless `shell` is set or the program is one. A first element with a `/`
    /// that is not absolute has been resolved against the directory of the file that defined
    /// the probe. With `shell`, exactly one element: the command line for `/bin/sh -c`.
    pub command: Vec<String>,
    /// Run `command` with `/bin/sh -c`, for pipelines and redirections.
    /// Default: [`DEFAULT_SHELL`](super::defaults::DEFAULT_SHELL) (false).
    pub shell: bool,
    /// The `Custom:` TypeName of output that does not name its own type (rows, or documents
    /// without `TypeName`); checked with [`crate::inventory::check_type_name`]. `None` only
    /// when `types` is not empty.
    pub type_name: Option<String>,
    /// Further TypeNames the program may print SSM Agent documents for, exact or as a prefix
    /// (`"Custom:App.*"`). Default: empty.
    pub types: Vec<TypePattern>,
    /// Default: [`DEFAULT_SCHEMA_VERSION`](super::defaults::DEFAULT_SCHEMA_VERSION) (`1.0`).
    pub schema_version: String,
    /// Added to the program's environment, which otherwise holds only the daemon's `PATH` and
    /// `LANG`. Default: empty.
    pub env: BTreeMap<String, String>,
    /// Run as this user (name or numeric uid) instead of the daemon's. Default: none.
    pub user: Option<String>,
    /// The program's working directory; resolved against the directory of the defining file.
    /// Default: none (the daemon's own, `/` under systemd).
    pub working_dir: Option<PathBuf>,
    /// Stdout beyond this many bytes kills the run and fails it.
    /// Default: [`DEFAULT_MAX_OUTPUT_BYTES`](super::defaults::DEFAULT_MAX_OUTPUT_BYTES) (8 MiB).
    pub max_output_bytes: usize,
    /// Keep rows in the printed order instead of sorting them before hashing.
    /// Default: [`DEFAULT_KEEP_ORDER`](super::defaults::DEFAULT_KEEP_ORDER) (false).
    pub keep_order: bool,
}

impl ExecSettings {
    /// Whether `type_name` is one this probe may produce.
    pub fn allows(&self, type_name: &str) -> bool {
        self.type_name.as_deref() == Some(type_name)
            || self.types.iter().any(|t| t.matches(type_name))
    }

    /// The TypeNames known before the program runs: `type_name` and the exact `types`.
    pub fn exact_types(&self) -> impl Iterator<Item = &str> {
        self.type_name
            .as_deref()
            .into_iter()
            .chain(self.types.iter().filter_map(|t| match t {
                TypePattern::Exact(name) => Some(name.as_str()),
                TypePattern::Prefix(_) => None,
            }))
    }

    /// Whether some TypeNames are only known from the output (a prefix rule).
    pub fn has_prefix_types(&self) -> bool {
        self.types
            .iter()
            .any(|t| matches!(t, TypePattern::Prefix(_)))
    }
}

/// One entry of an exec probe's `types`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypePattern {
    /// `"Custom:Packages"`: this TypeName.
    Exact(String),
    /// `"Custom:App.*"` (stored without the `*`): every TypeName starting with it.
    Prefix(String),
}

impl TypePattern {
    pub fn matches(&self, type_name: &str) -> bool {
        match self {
            TypePattern::Exact(name) => name == type_name,
            TypePattern::Prefix(prefix) => type_name.starts_with(prefix.as_str()),
        }
    }
}

impl std::fmt::Display for TypePattern {
    /// As written in the config file.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TypePattern::Exact(name) => f.write_str(name),
            TypePattern::Prefix(prefix) => write!(f, "{prefix}*"),
        }
    }
}

/// `kind = "files"`: a folder of SSM Agent custom inventory documents.
#[derive(Debug, Clone)]
pub struct FilesSettings {
    /// Default: [`DEFAULT_FILES_PATH`](super::defaults::DEFAULT_FILES_PATH); a relative path
    /// has been resolved against the directory of the file that defined the probe. May hold
    /// [`INSTANCE_ID_PLACEHOLDER`](super::defaults::INSTANCE_ID_PLACEHOLDER), replaced by the
    /// node's instance ID when the probe runs (the SSM Agent's own folder is
    /// `/var/lib/amazon/ssm/{instance_id}/inventory/custom`); no other `{…}` placeholder.
    pub path: PathBuf,
}

/// `kind = "system"`: built-in collectors.
#[derive(Debug, Clone)]
pub struct SystemSettings {
    /// Never empty, no duplicates.
    /// Default: [`DEFAULT_COLLECTORS`](super::defaults::DEFAULT_COLLECTORS) (all three).
    pub collectors: Vec<Collector>,
}

/// A built-in collector of the `system` probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Collector {
    Host,
    Disks,
    Network,
}

impl Collector {
    /// The spelling used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Collector::Host => "host",
            Collector::Disks => "disks",
            Collector::Network => "network",
        }
    }

    /// The TypeName this collector produces. Known to the configuration so that an exec
    /// probe claiming the same TypeName is refused when both are configured.
    pub fn type_name(self) -> &'static str {
        match self {
            Collector::Host => "Custom:Host",
            Collector::Disks => "Custom:Disks",
            Collector::Network => "Custom:NetworkInterfaces",
        }
    }
}
