//! What starting a probe's program costs the daemon, and whether that grows with the daemon's
//! address space (the page-table copy of `fork` does; `clone(CLONE_VM | CLONE_VFORK)` copies
//! nothing). Runs `/bin/true` RUNS times in each of two ways, first with the heap as it is,
//! then with HEAP_MB of heap allocated and touched (every page present, so there are page
//! tables to copy):
//!
//! - `fork`: `tokio::process::Command` with a `pre_exec` closure (`setsid`), stdin from
//!   /dev/null and piped stdout and stderr, as probe runs were started before; a `pre_exec`
//!   makes the standard library `fork`. Start and wait only, no run guard.
//! - `probe`: the daemon's own `probe::exec::run`: the trust check, the start, the run guard's
//!   record and stop, the capture; everything a probe run costs.
//!
//! Prints, per run: wall time, this process's CPU time (user + system, all threads; the
//! children's own CPU is not in it) and minor page faults (a `fork` write-protects the
//! daemon's pages, and each later write to one faults).
//!
//!   cargo run --release --example spawn_cost -- [RUNS] [HEAP_MB]     (default 200 runs, 200 MB)

use std::process::Stdio;
use std::time::{Duration, Instant};

use ssm_inventoryd::probe::exec::{DEFAULT_MAX_OUTPUT_BYTES, ExecSpec, run};

#[derive(Clone, Copy)]
struct Usage {
    cpu: Duration,
    minor_faults: i64,
}

fn usage() -> Usage {
    // SAFETY: getrusage fills the struct it is given; all-zero is a valid starting value.
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut r) };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    Usage {
        cpu: tv(r.ru_utime) + tv(r.ru_stime),
        minor_faults: r.ru_minflt,
    }
}

async fn fork_once() {
    let mut command = tokio::process::Command::new("/bin/true");
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_clear()
        .env("PATH", "/usr/bin:/bin");
    // SAFETY: setsid is async-signal-safe and nothing here allocates.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let output = command
        .spawn()
        .expect("start /bin/true")
        .wait_with_output()
        .await
        .expect("wait for /bin/true");
    assert!(output.status.success());
}

async fn probe_once() {
    let spec = ExecSpec {
        probe: "bench".into(),
        command: vec!["/bin/true".into()],
        shell: false,
        env: Default::default(),
        user: None,
        working_dir: None,
        timeout: Duration::from_secs(10),
        max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
        strict_permissions: true,
    };
    run(&spec).await.expect("probe run of /bin/true");
}

async fn measure(label: &str, heap_mb: usize, runs: u32) {
    for mode in ["fork", "probe"] {
        // One untimed run: first-use costs (the blocking pool, the signal driver).
        match mode {
            "fork" => fork_once().await,
            _ => probe_once().await,
        }
        let (wall0, use0) = (Instant::now(), usage());
        for _ in 0..runs {
            match mode {
                "fork" => fork_once().await,
                _ => probe_once().await,
            }
        }
        let (wall, use1) = (wall0.elapsed(), usage());
        let per = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(runs);
        println!(
            "{label:<12} heap {heap_mb:>4} MB  {mode:<5}  {runs} runs: wall {:>8.1} us/run, CPU {:>8.1} us/run, minor faults {:>7.1}/run",
            per(wall),
            per(use1.cpu - use0.cpu),
            (use1.minor_faults - use0.minor_faults) as f64 / f64::from(runs),
        );
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let runs: u32 = args.next().map_or(200, |a| a.parse().expect("RUNS"));
    let heap_mb: usize = args.next().map_or(200, |a| a.parse().expect("HEAP_MB"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let vm = |k: &str| {
            std::fs::read_to_string("/proc/self/status")
                .unwrap_or_default()
                .lines()
                .find(|l| l.starts_with(k))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_string())
                .unwrap_or_default()
        };
        println!("VmRSS {} kB, VmPTE {} kB", vm("VmRSS:"), vm("VmPTE:"));
        measure("as started", 0, runs).await;
        // Touched page by page, so that every page is present.
        let mut heap = vec![0u8; heap_mb * 1024 * 1024];
        for page in heap.chunks_mut(4096) {
            page[0] = 1;
        }
        println!("VmRSS {} kB, VmPTE {} kB", vm("VmRSS:"), vm("VmPTE:"));
        measure("inflated", heap_mb, runs).await;
        std::hint::black_box(&heap);
    });
}
