//! The `ssm-inventoryd` binary: argument parsing and exit codes. Everything else lives in the
//! library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use ssm_inventoryd::commands::{self, CommandError};
use ssm_inventoryd::config::DEFAULT_CONFIG_PATH;
use ssm_inventoryd::logging;

#[derive(Parser, Debug)]
#[command(
    name = "ssm-inventoryd",
    version,
    about = "Keeps this node's custom inventory in AWS Systems Manager current"
)]
struct Cli {
    /// Main configuration file; probe drop-ins are read from its `probes_dir`.
    #[arg(long, global = true, env = "SSM_INVENTORYD_CONFIG", default_value = DEFAULT_CONFIG_PATH)]
    config: PathBuf,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check the configuration and probe definitions (with the stored fleet parameters), then exit.
    Validate {
        /// Also fetch the fleet parameters (`[agent] fleet_config`) and check their newest
        /// versions together with the local files; needs the node's identity and credentials.
        #[arg(long)]
        fleet: bool,
    },
    /// Run probes and print their items as JSON, one per line; sends nothing.
    Collect {
        /// Only this probe.
        #[arg(long)]
        probe: Option<String>,
    },
    /// One collect-and-push cycle.
    Once {
        /// Print the PutInventory request bodies instead of sending them.
        #[arg(long)]
        dry_run: bool,
        /// Send every item in full, whatever was acknowledged before.
        #[arg(long)]
        force: bool,
        /// Instance ID to use instead of the configured or discovered one.
        #[arg(long)]
        instance_id: Option<String>,
    },
    /// Run as a daemon (as systemd starts it).
    Run,
    /// Make the running daemon re-read its configuration, and wait until it has: exits 0 when
    /// the new configuration is in use, 1 when it was refused (the old one keeps running).
    Reload {
        /// The daemon's process ID (systemd's `$MAINPID`) [default: the one the daemon
        /// leaves in its runtime directory].
        #[arg(long, env = "MAINPID")]
        pid: Option<u32>,
        /// Also fetch the fleet parameters now, instead of at the next poll, and wait until
        /// their new versions are applied (exit 0) or refused (exit 1). Refused without a
        /// fetch while Parameter Store's throttling has lengthened the node's poll interval.
        #[arg(long)]
        fleet: bool,
        /// Where the daemon reports the outcome: its runtime directory.
        #[arg(long, env = "RUNTIME_DIRECTORY", default_value = "/run/ssm-inventoryd")]
        runtime_dir: PathBuf,
        /// How long to wait for the daemon's answer.
        #[arg(long, default_value = "90s", value_parser = humantime::parse_duration)]
        timeout: std::time::Duration,
    },
    /// Show acknowledged state, quarantine, pending items and last errors.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Where the daemon writes its status while the state directory refuses writes.
        #[arg(long, env = "RUNTIME_DIRECTORY", default_value = "/run/ssm-inventoryd")]
        runtime_dir: PathBuf,
    },
    /// Run the local PutInventory emulator.
    // Boxed: its many flags would make every other command as large as it is.
    #[cfg(feature = "emulator")]
    Emulator(Box<ssm_inventoryd::emulator::cli::EmulatorArgs>),
    /// Push the example configuration to a built-in emulator and report what happened.
    #[cfg(feature = "emulator")]
    Demo,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let format = match cli.log_format {
        LogFormat::Text => logging::Format::Text,
        LogFormat::Json => logging::Format::Json,
    };
    logging::init(
        format,
        ssm_inventoryd::config::peek_log_level(&cli.config).as_deref(),
    );
    log_panics();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// A panic is a bug: it is logged as one error line, where the operator reads everything else
/// (the journal), instead of the standard library's multi-line message on stderr. What
/// happens next is docs/ARCHITECTURE.md, "Panics".
fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map_or_else(String::new, |l| format!(" at {}:{}", l.file(), l.line()));
        let message = info.payload_as_str().unwrap_or("(no message)");
        let message = message.lines().collect::<Vec<_>>().join(" ");
        tracing::error!("internal error (a bug){location}: {message}");
    }));
}

fn run(cli: Cli) -> Result<(), CommandError> {
    // The agent's commands share one malloc arena and run their async work on the thread
    // that started them (a current-thread runtime): their heavy work (probe runs, parsing,
    // files) is on the blocking pool, and with a separate worker every probe's outcome was
    // a wake-up of the other thread, every wake-up two context switches (BENCHMARKS.md,
    // "Idle CPU by probe kind"). The emulator serves many connections at once and keeps the
    // defaults. The arena limit is set before the runtime's threads exist (see the
    // function).
    #[cfg(feature = "emulator")]
    let serving = matches!(cli.command, Command::Emulator(_));
    #[cfg(not(feature = "emulator"))]
    let serving = false;
    let mut builder = if serving {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        ssm_inventoryd::daemon::allocator::limit_arenas();
        tokio::runtime::Builder::new_current_thread()
    };
    let runtime = builder
        .enable_all()
        .build()
        .map_err(|e| CommandError::Runtime(format!("cannot start the async runtime: {e}")))?;
    match cli.command {
        Command::Validate { fleet } => {
            runtime.block_on(commands::validate::run(&cli.config, fleet))
        }
        Command::Collect { probe } => {
            runtime.block_on(commands::collect::run(&cli.config, probe.as_deref()))
        }
        Command::Once {
            dry_run,
            force,
            instance_id,
        } => runtime.block_on(commands::once::run(
            &cli.config,
            commands::once::OnceOptions {
                dry_run,
                force,
                instance_id: instance_id.as_deref(),
            },
        )),
        Command::Run => runtime.block_on(commands::run::run(&cli.config)),
        Command::Reload {
            pid,
            fleet,
            runtime_dir,
            timeout,
        } => commands::reload::run(pid, &runtime_dir, timeout, fleet),
        Command::Status { json, runtime_dir } => {
            commands::status::run(&cli.config, json, &runtime_dir)
        }
        #[cfg(feature = "emulator")]
        Command::Emulator(args) => runtime.block_on(commands::emulator::run(*args)),
        #[cfg(feature = "emulator")]
        Command::Demo => runtime.block_on(commands::demo::run()),
    }
}
