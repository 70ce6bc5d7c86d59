//! Without root certificates: `once` says so in one sentence and exits 1, never panics; the
//! daemon keeps running, says so in STATUS, and uses a CA bundle that appears later without
//! a restart.
//!
//! The endpoint is `https://` on a closed loopback port: nothing needs to listen, because
//! the roots are missing before any connection is tried (and once they are found the
//! connection is refused, on loopback). `SSL_CERT_FILE` and `SSL_CERT_DIR` point where the
//! test says, so the machine's own bundle is never read.

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ssm-inventoryd");
const INSTANCE: &str = "i-0123456789abcdef0";
/// A self-signed root made with openssl (see the comment at its top).
const TEST_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/test-root.pem");
/// Hang-catcher for the daemon test; never a timing target.
const PATIENCE: Duration = Duration::from_secs(60);

fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = listener.local_addr().expect("its address").port();
    drop(listener);
    port
}

fn node(dir: &Path) -> PathBuf {
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[agent]\ninstance_id = \"{INSTANCE}\"\nregion = \"us-east-2\"\n\
             endpoint_url = \"https://127.0.0.1:{}\"\nstate_dir = \"{}\"\nsplay = \"0s\"\n\
             min_push_interval = \"100ms\"\nretry_base = \"100ms\"\nretry_cap = \"300ms\"\n\n\
             [[probe]]\nname = \"x\"\nkind = \"exec\"\ntype_name = \"Custom:X\"\n\
             command = [\"/bin/echo\", \"[{{\\\"A\\\":\\\"b\\\"}}]\"]\n",
            closed_port(),
            dir.join("state").display()
        ),
    )
    .expect("write the configuration");
    config
}

fn command(dir: &Path, args: &[&str], cert_file: &Path) -> Command {
    let empty = dir.join("empty");
    std::fs::write(&empty, "").expect("empty AWS file");
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", dir)
        .env("SSM_INVENTORYD_SSM_AGENT_DIR", dir.join("no-ssm-agent"))
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", &empty)
        .env("AWS_SHARED_CREDENTIALS_FILE", &empty)
        .env("SSL_CERT_FILE", cert_file)
        .env("SSL_CERT_DIR", "/nonexistent");
    cmd
}

#[test]
fn once_without_roots_says_so_and_exits_1() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = node(dir.path());
    let out: Output = command(
        dir.path(),
        &["once", "--config", config.to_str().expect("utf-8 path")],
        Path::new("/nonexistent"),
    )
    .output()
    .expect("run the binary");
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let error = stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .expect("an error line");
    assert!(error.contains("no root certificates were found"), "{error}");
    assert!(
        error.contains("SSL_CERT_FILE=/nonexistent and SSL_CERT_DIR=/nonexistent"),
        "{error}"
    );
    // The SDK's own loader never ran.
    assert!(
        !stderr.contains("no native root CA certificates found"),
        "{stderr}"
    );
}

/// The daemon, its stderr lines as they come, and its STATUS lines.
struct Daemon {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    notify: UnixDatagram,
    statuses: Vec<String>,
}

impl Daemon {
    fn start(mut cmd: Command, notify_path: &Path) -> Daemon {
        let notify = UnixDatagram::bind(notify_path).expect("bind the notify socket");
        notify
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("socket timeout");
        let mut child = cmd
            .env("NOTIFY_SOCKET", notify_path)
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
            statuses: Vec::new(),
        }
    }

    /// Waits until a STATUS line contains `text`, returning it.
    fn status_with(&mut self, text: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            if let Ok(n) = self.notify.recv(&mut buf) {
                let message = String::from_utf8_lossy(&buf[..n]).into_owned();
                for line in message.lines() {
                    if let Some(status) = line.strip_prefix("STATUS=") {
                        eprintln!("STATUS={status}");
                        self.statuses.push(status.to_owned());
                        if status.contains(text) {
                            return status.to_owned();
                        }
                    }
                }
            }
        }
        panic!("no STATUS with {text:?}; saw {:?}", self.statuses);
    }

    fn log_with(&self, text: &str) -> Vec<String> {
        let log = self.log.lock().expect("log lock");
        log.iter().filter(|l| l.contains(text)).cloned().collect()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SIGTERM to the daemon this test started, then reap it.
        let pid = libc::pid_t::try_from(self.child.id()).unwrap_or(0);
        if pid > 0 {
            // SAFETY: kill(2) on our own child's pid; no memory is involved.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let _ = self.child.wait();
    }
}

#[test]
fn the_daemon_waits_for_roots_and_uses_them_when_they_appear() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = node(dir.path());
    let bundle = dir.path().join("ca.pem");
    let cmd = command(
        dir.path(),
        &["run", "--config", config.to_str().expect("utf-8 path")],
        &bundle,
    );
    let mut daemon = Daemon::start(cmd, &dir.path().join("notify"));

    let status = daemon.status_with("no root certificates were found");
    assert!(status.starts_with("cannot push: "), "{status}");
    assert!(status.contains(&format!("SSL_CERT_FILE={}", bundle.display())));
    // Said once in the log however many push attempts find the roots still missing.
    daemon.status_with("no root certificates were found");
    assert_eq!(daemon.log_with("no root certificates were found").len(), 1);
    assert!(
        daemon.child.try_wait().expect("wait").is_none(),
        "still running"
    );

    // The bundle appears, written whole and renamed into place.
    let partial = dir.path().join(".ca.pem.tmp");
    std::fs::copy(TEST_ROOT, &partial).expect("copy the test root");
    std::fs::rename(&partial, &bundle).expect("rename the bundle into place");

    let status = daemon.status_with("root certificates found");
    eprintln!("after the bundle appeared: {status}");
    let deadline = Instant::now() + PATIENCE;
    while daemon.log_with("root certificates found").is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(daemon.log_with("root certificates found").len(), 1);
    // The push then goes ahead and meets the closed port: a connection failure, not a TLS
    // or roots one.
    let deadline = Instant::now() + PATIENCE;
    while daemon.log_with("connection refused").is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !daemon.log_with("connection refused").is_empty(),
        "the push went ahead after the roots appeared"
    );
    assert!(daemon.log_with("panicked").is_empty());
}
