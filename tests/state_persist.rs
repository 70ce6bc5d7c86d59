//! A state directory that refuses writes (full, read-only): the daemon goes on collecting and
//! pushing, holds the state in memory, says so once in the log, in STATUS, in `status` and in
//! the metrics file, never leaves a truncated file, and writes everything once it can.
//!
//! Both tests mount file systems (a 64 KiB tmpfs, a read-only bind mount), so they need root:
//! without it they print `SKIP` and pass, unless `SSM_INVENTORYD_REQUIRE_ROOT=1`, when they
//! fail. The mounts are undone by a guard whatever happens. Everything else is on loopback:
//! the in-process emulator on 127.0.0.1, explicit keys, region and instance ID.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ssm_inventoryd::emulator::{
    DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY, Emulator, EmulatorConfig,
};

const BIN: &str = env!("CARGO_BIN_EXE_ssm-inventoryd");
const INSTANCE: &str = "i-0123456789abcdef0";
const TYPE: &str = "Custom:Stage";
/// Hang-catcher; never a timing target.
const PATIENCE: Duration = Duration::from_secs(60);

/// Whether the test may mount; prints `SKIP` when it may not and root is not required.
fn root_or_skip(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    if std::env::var("SSM_INVENTORYD_REQUIRE_ROOT").as_deref() == Ok("1") {
        panic!("{test} needs root and SSM_INVENTORYD_REQUIRE_ROOT=1");
    }
    println!("SKIP {test}: needs root to mount file systems");
    false
}

fn sh(program: &str, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(status.success(), "{program} {args:?}: {status}");
}

/// Unmounts `path` when dropped, lazily if it is still busy.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let path = self.0.to_string_lossy().into_owned();
        let done = Command::new("umount").arg(&path).status();
        if !done.is_ok_and(|s| s.success()) {
            let _ = Command::new("umount").args(["-l", &path]).status();
        }
    }
}

/// A node: configuration, the probe's output file, state and runtime folders.
struct Node {
    dir: tempfile::TempDir,
}

impl Node {
    fn new(endpoint: &str) -> Node {
        let node = Node {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        for sub in ["state", "run"] {
            std::fs::create_dir(node.path(sub)).expect("make a folder");
        }
        node.set_stage("one");
        std::fs::write(
            node.path("config.toml"),
            format!(
                "[agent]\ninstance_id = \"{INSTANCE}\"\nregion = \"us-east-1\"\nendpoint_url = \"{endpoint}\"\n\
                 state_dir = \"{}\"\nmetrics_file = \"{}\"\nsplay = \"0s\"\n\
                 min_push_interval = \"100ms\"\nretry_base = \"100ms\"\nretry_cap = \"400ms\"\n\n\
                 [[probe]]\nname = \"stage\"\nkind = \"exec\"\ntype_name = \"{TYPE}\"\n\
                 command = [\"/bin/cat\", \"{}\"]\ninterval = \"200ms\"\n",
                node.path("state").display(),
                node.path("metrics.prom").display(),
                node.path("stage.json").display(),
            ),
        )
        .expect("write the configuration");
        node
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn set_stage(&self, stage: &str) {
        let temp = self.path(".stage.tmp");
        std::fs::write(&temp, format!(r#"[{{"Stage":"{stage}"}}]"#)).expect("write output");
        std::fs::rename(&temp, self.path("stage.json")).expect("rename output");
    }

    fn command(&self, args: &[&str]) -> Command {
        let empty = self.path("empty");
        std::fs::write(&empty, "").expect("empty AWS file");
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .arg("--config")
            .arg(self.path("config.toml"))
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", self.dir.path())
            .env("SSM_INVENTORYD_SSM_AGENT_DIR", self.path("no-ssm-agent"))
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .env("AWS_ACCESS_KEY_ID", DEMO_ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", DEMO_SECRET_ACCESS_KEY)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", &empty)
            .env("AWS_SHARED_CREDENTIALS_FILE", &empty)
            .env("RUNTIME_DIRECTORY", self.path("run"));
        cmd
    }

    /// The hash state.json holds for the type, if the file is there; a file that does not
    /// parse fails the test (it must never be truncated or corrupt).
    fn acknowledged_hash(&self) -> Option<String> {
        let bytes = std::fs::read(self.path("state/state.json")).ok()?;
        let state: serde_json::Value =
            serde_json::from_slice(&bytes).expect("state.json is always whole JSON");
        state["instances"][INSTANCE]["types"][TYPE]["content_hash"]
            .as_str()
            .map(str::to_owned)
    }

    fn metric(&self, name: &str) -> Option<u64> {
        let text = std::fs::read_to_string(self.path("metrics.prom")).ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse().ok())
    }

    fn status(&self) -> String {
        let out = self.command(&["status"]).output().expect("run status");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// The daemon, its stderr lines as they come, and its STATUS lines.
struct Daemon {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    notify: UnixDatagram,
    last_status: String,
}

impl Daemon {
    fn start(node: &Node) -> Daemon {
        let socket = node.path("notify");
        let notify = UnixDatagram::bind(&socket).expect("bind the notify socket");
        notify
            .set_nonblocking(true)
            .expect("non-blocking notify socket");
        let mut child = node
            .command(&["run"])
            .env("NOTIFY_SOCKET", &socket)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the daemon");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let lines = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("{line}");
                lines.lock().expect("log lock").push(line);
            }
        });
        Daemon {
            child,
            log,
            notify,
            last_status: String::new(),
        }
    }

    fn drain_status(&mut self) {
        let mut buf = [0u8; 4096];
        while let Ok(n) = self.notify.recv(&mut buf) {
            let message = String::from_utf8_lossy(&buf[..n]).into_owned();
            for line in message.lines() {
                if let Some(status) = line.strip_prefix("STATUS=") {
                    self.last_status = status.to_owned();
                }
            }
        }
    }

    fn log_count(&self, text: &str) -> usize {
        let log = self.log.lock().expect("log lock");
        log.iter().filter(|l| l.contains(text)).count()
    }

    /// Waits until `ready` holds, draining STATUS meanwhile.
    fn until(&mut self, what: &str, mut ready: impl FnMut(&mut Daemon) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            self.drain_status();
            if ready(self) {
                return;
            }
            assert!(Instant::now() < deadline, "waited too long for {what}");
            assert!(
                self.child.try_wait().expect("wait").is_none(),
                "the daemon exited while waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap_or(0);
        if pid > 0 {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let _ = self.child.wait();
    }
}

fn stored_hash(emu: &Emulator) -> Option<String> {
    emu.stored(INSTANCE, TYPE).and_then(|s| s.content_hash)
}

/// The course of both tests: a first acknowledgement on disk, `refuse` makes the state
/// folder refuse writes, a change is pushed anyway, `allow` lets writes through again.
/// `cause` is how the refusal reads.
async fn course(cause: &str, refuse: impl FnOnce(&Path), allow: impl FnOnce(&Path)) {
    let emu = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator starts");
    let node = Node::new(&emu.endpoint_url());
    let state_dir = node.path("state");
    let mut daemon = Daemon::start(&node);

    daemon.until("the first acknowledgement on disk", |_| {
        node.acknowledged_hash().is_some() && stored_hash(&emu).is_some()
    });
    let first = node.acknowledged_hash();

    refuse(&state_dir);
    node.set_stage("two");
    daemon.until("the change pushed and the refusal told", |d| {
        stored_hash(&emu) != first
            && d.log_count("cannot write state file") > 0
            && node.metric("ssm_inventoryd_state_persist_failing") == Some(1)
            && d.last_status.contains("state kept in memory only")
    });
    let pushed = stored_hash(&emu);
    println!("STATUS while refused: {}", daemon.last_status);
    assert!(daemon.last_status.contains(cause), "{}", daemon.last_status);
    // More attempts fail, with backoff, and are counted, but told once.
    daemon.until("a few failed writes", |_| {
        node.metric("ssm_inventoryd_state_write_failures_total")
            .is_some_and(|n| n >= 3)
    });
    assert_eq!(daemon.log_count("cannot write state file"), 1);
    let status = node.status();
    println!("status while refused:\n{status}");
    assert!(status.contains("STATE NOT PERSISTED"), "{status}");
    assert!(status.contains(cause), "{status}");
    // The file on disk is the old one, whole; no temporary file is left behind.
    assert_eq!(node.acknowledged_hash(), first);
    assert!(!state_dir.join(".state.json.tmp").exists());

    allow(&state_dir);
    daemon.until("the state written again", |d| {
        d.log_count("the state is persisted again") == 1
            && node.metric("ssm_inventoryd_state_persist_failing") == Some(0)
    });
    assert_eq!(node.acknowledged_hash(), pushed, "what was held in memory");
    daemon.until("STATUS clear", |d| {
        !d.last_status.contains("state kept in memory")
    });
    let status = node.status();
    assert!(!status.contains("STATE NOT PERSISTED"), "{status}");
    println!(
        "after: {} failed writes; STATUS {}",
        node.metric("ssm_inventoryd_state_write_failures_total")
            .unwrap_or(0),
        daemon.last_status
    );
    drop(daemon);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_state_folder_is_survived() {
    if !root_or_skip("a_full_state_folder_is_survived") {
        return;
    }
    let guard: Arc<Mutex<Option<Mounted>>> = Arc::default();
    let mounted = Arc::clone(&guard);
    let filler = Arc::new(Mutex::new(None::<PathBuf>));
    let (fill, unfill) = (Arc::clone(&filler), Arc::clone(&filler));
    course(
        "no storage space",
        move |dir| {
            // A 64 KiB tmpfs over the folder, the state copied in, then filled up.
            let saved = std::fs::read(dir.join("state.json")).expect("read state");
            sh(
                "mount",
                &[
                    "-t",
                    "tmpfs",
                    "-o",
                    "size=64k",
                    "tmpfs",
                    &dir.to_string_lossy(),
                ],
            );
            *mounted.lock().expect("guard") = Some(Mounted(dir.to_path_buf()));
            std::fs::write(dir.join("state.json"), saved).expect("state into the tmpfs");
            let path = dir.join("filler");
            let mut file = std::fs::File::create(&path).expect("filler");
            let chunk = [0u8; 1024];
            while file
                .write_all(&chunk)
                .and_then(|()| file.sync_all())
                .is_ok()
            {}
            *fill.lock().expect("filler") = Some(path);
        },
        move |_| {
            if let Some(path) = unfill.lock().expect("filler").take() {
                std::fs::remove_file(path).expect("remove the filler");
            }
        },
    )
    .await;
    drop(guard);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_state_folder_is_survived() {
    if !root_or_skip("a_read_only_state_folder_is_survived") {
        return;
    }
    let guard: Arc<Mutex<Option<Mounted>>> = Arc::default();
    let mounted = Arc::clone(&guard);
    course(
        "read-only",
        move |dir| {
            let dir = dir.to_string_lossy().into_owned();
            sh("mount", &["--bind", &dir, &dir]);
            *mounted.lock().expect("guard") = Some(Mounted(PathBuf::from(&dir)));
            sh("mount", &["-o", "remount,bind,ro", &dir]);
        },
        |dir| {
            let dir = dir.to_string_lossy().into_owned();
            sh("mount", &["-o", "remount,bind,rw", &dir]);
        },
    )
    .await;
    drop(guard);
}
