//! Every default and bound of the configuration, in one place, so the docs, the example file
//! and the code cannot drift apart (the unit tests compare them).

use std::time::Duration;

use super::{Collector, OnRemoved};

/// Where the daemon looks for its main file when `--config` is not given; the package
/// installs the example there.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/ssm-inventoryd/config.toml";

/// The value of `instance_id` and `region` that asks the daemon to find them itself (hybrid
/// registration, then EC2 instance metadata).
pub const AUTO: &str = "auto";

/// Beside the package's other writable data, where systemd's `StateDirectory=` puts it.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/ssm-inventoryd";

/// Relative to the directory of the main file, like systemd's and zincati's drop-ins.
pub const DEFAULT_PROBES_DIR: &str = "probes.d";

/// Spreads a fleet's pushes over half a minute so that a fleet-wide restart does not arrive
/// at the SSM endpoint as one burst.
pub const DEFAULT_SPLAY: Duration = Duration::from_secs(30);

/// Lets probes that finish close together share one PutInventory call.
pub const DEFAULT_MIN_PUSH_INTERVAL: Duration = Duration::from_secs(5);

/// Well inside the 30 days the service keeps inventory, and frequent enough that
/// CaptureTime shows the node is alive.
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(12 * 3600);

/// A refused type is retried at the latest this long after it was quarantined (sooner when
/// its content changes).
pub const DEFAULT_QUARANTINE_RETRY: Duration = Duration::from_secs(6 * 3600);

/// First backoff ceiling after a transient PutInventory failure (throttling, 5xx, network);
/// the ceiling doubles per attempt and each wait is drawn uniformly below it (full jitter).
pub const DEFAULT_RETRY_BASE: Duration = Duration::from_secs(1);

/// Longest wait between two attempts: long enough to ride out a regional hiccup without
/// hammering it, short enough that a change still arrives within minutes after it.
pub const DEFAULT_RETRY_CAP: Duration = Duration::from_secs(300);

/// The service's byte limit per request is not published; 1 MiB is far above what custom
/// inventory usually needs and below every request limit seen in practice.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// Below 4 KiB the request envelope and one modest item no longer fit.
pub const MIN_REQUEST_BYTES: usize = 4096;

/// Above 64 MiB a setting is a mistake rather than a budget: no AWS JSON API takes requests
/// that large.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024 * 1024;

/// A removed type is cleared in SSM by default, so that inventory never shows data no probe
/// produces any more.
pub const DEFAULT_ON_REMOVED: OnRemoved = OnRemoved::Clear;

/// How often a probe runs when it does not say.
pub const DEFAULT_PROBE_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// A probe's run is killed after this long; when `interval` is shorter, the timeout defaults
/// to the interval instead, so that a short interval alone is a valid probe.
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// Probes run on their interval without extra delay unless they ask for one.
pub const DEFAULT_PROBE_SPLAY: Duration = Duration::ZERO;

/// The SchemaVersion the SSM Agent writes for custom inventory.
pub const DEFAULT_SCHEMA_VERSION: &str = "1.0";

/// Rows are sorted before hashing, so a probe that prints them in another order does not
/// cause a push.
pub const DEFAULT_KEEP_ORDER: bool = false;

/// Programs are run directly, not through a shell, unless the probe asks for one.
pub const DEFAULT_SHELL: bool = false;

/// Cap on an exec probe's stdout: inventory of a few thousand rows is well under 1 MiB, so
/// 8 MiB leaves room while keeping a runaway program from filling memory.
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 8 * 1024 * 1024;

/// Bounds of `max_output_bytes`: at least one byte, and at most 256 MiB, beyond which a
/// setting is a mistake rather than a budget (the whole output is held in memory).
pub const MIN_OUTPUT_BYTES: usize = 1;
pub const MAX_OUTPUT_BYTES: usize = 256 * 1024 * 1024;

/// Probe runs in flight at once, daemon-wide: enough that a slow program does not hold up
/// the rest, few enough that a reload (every probe due together) does not start a process
/// per probe on a small node. More runs wait their turn.
pub const DEFAULT_MAX_CONCURRENT_PROBES: usize = 4;
pub const MIN_CONCURRENT_PROBES: usize = 1;
pub const MAX_CONCURRENT_PROBES: usize = 1024;

/// Bytes the probe runs in flight and the items waiting for delivery may hold together,
/// daemon-wide (`probe::limit`): a run reserves what it may hold (an exec probe its
/// `max_output_bytes`) before it starts and waits while that is more than is left; its items
/// then hold their Content's bytes until the service has them. Four default exec probes
/// (8 MiB each) fit at once, so they do not take turns, and a probe that hangs holds only its
/// own share. The worst case is [`DAEMON_BASELINE_BYTES`] + 32 MiB × [`PEAK_PER_OUTPUT_BYTE`] +
/// [`PUSH_PEAK_PER_REQUEST_BYTE`] × the default 1 MiB `max_request_bytes` = 40 + 96 + 1 =
/// 137 MiB, 119 MiB (46 %) under the unit's `MemoryMax=256M`.
pub const DEFAULT_PROBE_OUTPUT_BUDGET: usize = 32 * 1024 * 1024;
/// Bounds of `probe_output_budget`: 1 MiB (a `system` probe's reservation) to 4 GiB.
pub const MIN_PROBE_OUTPUT_BUDGET: usize = 1024 * 1024;
pub const MAX_PROBE_OUTPUT_BUDGET: usize = 4 * 1024 * 1024 * 1024;

/// Peak memory per byte of the budget, measured (BENCHMARKS.md, "Probe budget", release
/// build): one run of a valid 10,000 × 50 output of 7,520,001 bytes (7,344 kB; the densest
/// valid shape, one-character-wide values, gives the same factor) peaked at 30,440 kB in
/// `collect` against 8,956 kB for a run refused at once: (30,440 − 8,956) / 7,344 = 2.93,
/// rounded up. That is the output read, the rows written from it in their canonical form,
/// and `collect`'s printed line; in the daemon a run's items stay in the budget as their
/// Content (1 byte per byte) once the run's output is gone.
pub const PEAK_PER_OUTPUT_BYTE: usize = 3;

/// Peak memory of a push per byte of `max_request_bytes`: the request body the daemon renders
/// and what the SDK holds while it signs and sends it. Measured (BENCHMARKS.md, "Probe
/// budget", `benches/probe-budget.sh`): the same four 7,520,001-byte items sent one a request
/// and all in one request peaked at 56,784 and 69,044 kB, 12,260 kB more for 22,032 kB more
/// request: 0.56 a byte, rounded up.
pub const PUSH_PEAK_PER_REQUEST_BYTE: usize = 1;

/// The daemon's own peak without any probe run: 37,024 kB measured during a 10,000-row push
/// (BENCHMARKS.md, `benches/footprint.sh`), rounded up.
pub const DAEMON_BASELINE_BYTES: usize = 40 * 1024 * 1024;

/// The unit's `MemoryMax=` (systemd/ssm-inventoryd.service), against which `validate`
/// measures a configuration's worst case.
pub const UNIT_MEMORY_MAX: usize = 256 * 1024 * 1024;

/// Trust checks are on: a root daemon refuses definitions, programs and folders that
/// someone other than root could change.
pub const DEFAULT_STRICT_PERMISSIONS: bool = true;

/// The placeholder a `files` probe's `path` may hold for the node's instance ID.
pub const INSTANCE_ID_PLACEHOLDER: &str = "{instance_id}";

/// Where a `files` probe reads `*.json` documents when it does not name a folder.
pub const DEFAULT_FILES_PATH: &str = "/var/lib/ssm-inventoryd/custom.d";

/// A `system` probe runs every built-in collector unless it lists some.
pub const DEFAULT_COLLECTORS: [Collector; 3] =
    [Collector::Host, Collector::Disks, Collector::Network];

/// Probe names appear in logs, status output and state; 64 characters is plenty.
pub const MAX_PROBE_NAME_CHARS: usize = 64;

/// Log level when `RUST_LOG` is not set. `RUST_LOG` wins so that an operator can turn on
/// debug output for one run without editing the configuration.
pub const DEFAULT_LOG_LEVEL: &str = "info";

/// The levels `log_level` takes.
pub const LOG_LEVELS: &[&str] = &["error", "warn", "info", "debug", "trace"];

/// Fleet parameters are fetched this often (plus the node's splay). Parameter Store's reads
/// (40 a second per account and region by default) are shared with every application of the
/// account that reads its configuration there, so the default keeps a fleet of 10,000 nodes
/// with up to 10 parameters (one GetParameters call a poll) to a quarter of that budget:
/// 10,000 calls per interval / interval ≤ 10 a second needs an interval of at least 1,000 s,
/// and 20 minutes makes 8.3 a second. A change still reaches the fleet within two intervals
/// by polling alone, and at once with the ApplyFleetConfig Command document.
pub const DEFAULT_FLEET_POLL_INTERVAL: Duration = Duration::from_secs(20 * 60);

/// How many nodes read the same parameters, as the operator tells `validate`; 0 is unknown.
pub const DEFAULT_FLEET_SIZE_HINT: u64 = 0;

/// Parameter Store's default read throughput per account and region (GetParameter,
/// GetParameters and GetParametersByPath together).
pub const PARAMETER_STORE_READ_TPS: f64 = 40.0;

/// The share of [`PARAMETER_STORE_READ_TPS`] a fleet's polls may use, leaving the rest to the
/// applications that read their configuration from Parameter Store.
pub const FLEET_READ_BUDGET_SHARE: f64 = 0.25;

/// A parameter's exec probe may not use a shell unless the node's own configuration says so.
pub const DEFAULT_FLEET_ALLOW_SHELL: bool = false;

/// A parameter's exec probe may not choose the user it runs as unless the node's own
/// configuration says so.
pub const DEFAULT_FLEET_ALLOW_USER: bool = false;

/// Parameter Store's limit on a parameter name (a full ARN included).
pub const MAX_PARAMETER_NAME_CHARS: usize = 2048;
