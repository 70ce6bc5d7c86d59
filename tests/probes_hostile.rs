//! Hostile exec probes against the real binary: each must fail with one error line that names
//! the probe and the cause, while a well-behaved probe next to it is still collected, and
//! nothing the hostile probe started may be left running afterwards.
//!
//! Every hostile script carries a marker (a number unique to this test run and case) in its
//! command line, and the processes it leaves behind (`sleep`) carry it in their arguments, so
//! survivors can be found by scanning `/proc/*/cmdline`.

mod common;

use common::procs::marked as survivors;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

struct Case {
    name: &'static str,
    /// A `/bin/sh -c` line; `{M}` is replaced by the marker.
    script: &'static str,
    /// Substrings the error line must contain.
    expect: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        name: "invalid-json",
        script: r#": {M}; printf '{"a":'"#,
        expect: &["output is not valid JSON at line 1"],
    },
    Case {
        name: "empty",
        script: ": {M}; true",
        expect: &["output is empty; expected JSON"],
    },
    Case {
        name: "fifty-megabytes",
        script: r": {M}; head -c 52428800 /dev/zero | tr '\0' a",
        expect: &["printed more than 8388608 bytes (max_output_bytes); the run was killed"],
    },
    Case {
        name: "not-utf8",
        script: r#": {M}; printf '{"a":"\377\376"}'"#,
        expect: &["output is not valid UTF-8 (first bad byte at offset 6)"],
    },
    Case {
        name: "nested",
        script: r#": {M}; echo '[{"a":"1"},{"b":{"c":"d"}}]'"#,
        expect: &[
            "output $[1].b holds an object; attribute values must be strings, numbers or booleans, not nested values",
        ],
    },
    Case {
        name: "too-many-rows",
        script: r#": {M}; printf '['; i=0; while [ $i -lt 10000 ]; do printf '{"N":"%d"},' $i; i=$((i+1)); done; printf '{"N":"last"}]'"#,
        expect: &["Custom:Hostile: 10001 rows, over the limit of 10000"],
    },
    Case {
        name: "too-many-attributes",
        script: r#": {M}; printf '{'; i=0; while [ $i -lt 50 ]; do printf '"A%d":"v",' $i; i=$((i+1)); done; printf '"Last":"v"}'"#,
        expect: &["Custom:Hostile: row 0 has 51 attributes, over the limit of 50"],
    },
    Case {
        name: "long-attribute-name",
        script: r#": {M}; printf '{"%s":"v"}' "$(head -c 65 /dev/zero | tr '\0' n)""#,
        expect: &["is 65 characters long, over the limit of 64"],
    },
    Case {
        name: "long-value",
        script: r#": {M}; printf '{"Value":"%s"}' "$(head -c 4097 /dev/zero | tr '\0' v)""#,
        expect: &["attribute `Value` has a value of 4097 characters, over the limit of 4096"],
    },
    Case {
        name: "two-spellings",
        script: r#": {M}; echo '[{"Vendor":"a"},{"vendor":"b"}]'"#,
        expect: &["row 1 spells attribute `vendor` differently from `Vendor`"],
    },
    Case {
        name: "not-custom",
        script: r#": {M}; echo '{"SchemaVersion":"1.0","TypeName":"Hostile","Content":[]}'"#,
        expect: &["TypeName `Hostile` must start with `Custom:`"],
    },
    Case {
        name: "context",
        script: r#": {M}; echo '{"TypeName":"Custom:Hostile","Content":[],"Context":{"a":"b"}}'"#,
        expect: &["Custom:Hostile: Context is only allowed on AWS types"],
    },
    Case {
        name: "undeclared-type",
        script: r#": {M}; echo '{"TypeName":"Custom:Elsewhere","Content":[]}'"#,
        expect: &["printed TypeName `Custom:Elsewhere`, which the probe does not declare"],
    },
    Case {
        name: "never-exits",
        script: ": {M}; sleep 36{M}",
        expect: &["did not finish within its timeout of 2s; its processes were killed"],
    },
    Case {
        name: "ignores-sigterm",
        script: ": {M}; trap '' TERM; sleep 36{M}",
        expect: &["did not finish within its timeout of 2s; its processes were killed"],
    },
    Case {
        name: "child-holds-stdout",
        script: r#": {M}; sleep 36{M} & echo '{"a":"b"}'"#,
        expect: &["the program exited but a child kept its stdout open; the child was killed"],
    },
    Case {
        name: "exit-1",
        script: ": {M}; echo 'cannot reach the database' >&2; exit 1",
        expect: &["failed with exit status 1; stderr: cannot reach the database"],
    },
];

fn config(dir: &Path, hostile: &str, script: &str) -> std::path::PathBuf {
    let path = dir.join("config.toml");
    let text = format!(
        r#"[agent]
probes_dir = "none"

[[probe]]
name = "good"
kind = "exec"
type_name = "Custom:Good"
command = ["/bin/echo", '{{"Stage":"ok"}}']

[[probe]]
name = "hostile-{hostile}"
kind = "exec"
type_name = "Custom:Hostile"
shell = true
command = '''{script}'''
interval = "1m"
timeout = "2s"
"#
    );
    fs::write(&path, text).expect("write config");
    path
}

#[test]
fn hostile_probes_fail_alone_and_leave_nothing_running() {
    let mut failures = Vec::new();
    for (index, case) in CASES.iter().enumerate() {
        let marker = format!("9{:07}{index:02}", std::process::id() % 10_000_000);
        let tmp = tempfile::tempdir().expect("temp dir");
        let script = case.script.replace("{M}", &marker);
        let config = config(tmp.path(), case.name, &script);
        let out = Command::new(env!("CARGO_BIN_EXE_ssm-inventoryd"))
            .args(["collect", "--config"])
            .arg(&config)
            .env("NO_COLOR", "1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .expect("run ssm-inventoryd");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);

        // The good probe's item, and nothing else.
        let lines: Vec<&str> = stdout.lines().collect();
        let good = lines.len() == 1 && lines[0].contains(r#""TypeName":"Custom:Good""#);
        // One error line naming the probe and the cause.
        let probe = format!("probe `hostile-{}`", case.name);
        let error_lines: Vec<&str> = stderr.lines().filter(|l| l.contains(&probe)).collect();
        let named = error_lines
            .iter()
            .any(|l| case.expect.iter().all(|e| l.contains(e)));
        let code_ok = out.status.code() == Some(1);

        // Killed processes may take a moment to be gone from /proc; wait for that rather
        // than for any particular speed.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut left = survivors(&marker);
        while !left.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
            left = survivors(&marker);
        }

        if !(good && named && code_ok && left.is_empty()) {
            failures.push(format!(
                "case {}: exit {:?}, good item {good}, error named {named}, survivors {left:?}\nstdout: {stdout}\nstderr: {stderr}",
                case.name,
                out.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The same hostile outputs, printed by a probe run through the library: the error is
/// typed, and a failed run returns no items at all (the caller keeps the last good ones).
#[tokio::test]
async fn a_failed_run_returns_no_items() {
    use ssm_inventoryd::config;
    use ssm_inventoryd::probe::{Probe, ProbeError};

    let tmp = tempfile::tempdir().expect("temp dir");
    let path = config(
        tmp.path(),
        "partial",
        r#"echo '[{"TypeName":"Custom:Hostile","Content":[{"ok":"1"}]},{"TypeName":"Custom:Hostile2","Content":[]}]'"#,
    );
    let settings = config::load_local(&path).expect("config loads");
    let probe = Probe::from_settings(settings.probe("hostile-partial").expect("probe"));
    let e = probe.collect().await.expect_err("undeclared second type");
    assert!(matches!(e, ProbeError::UndeclaredType { .. }), "{e}");
    assert_eq!(e.probe(), "hostile-partial");
}

/// Processes a probe detaches from its process group (a double fork into a session of their
/// own) end with the run that started them, whichever way it ends.
mod detached {
    use crate::common::procs::{marked as survivors, zombies_of};
    use std::fs;
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Output, Stdio};
    use std::time::{Duration, Instant};

    /// How a detaching probe goes on after its detached process runs.
    #[derive(Clone, Copy)]
    enum Then {
        /// Prints an item and exits 0.
        Ends,
        /// Runs until it is stopped.
        Hangs,
        /// Waits 1.5 s (other runs end meanwhile), then prints whether its detached
        /// process is still there, and exits 0.
        ChecksLater,
    }

    /// A marker unique to this test process and `case`, for `/proc/*/cmdline` scans.
    fn marker(case: u32) -> String {
        format!("8{:07}{case:02}", std::process::id() % 10_000_000)
    }

    /// Writes `<dir>/<name>.sh`. On its first run it detaches `sleep 1<marker>` by a double
    /// fork and `setsid`, waits until that process has written its pid to `<name>.pid`, then
    /// goes on as `then` says (hanging in `sleep 2<marker>`); later runs print an item and
    /// exit, so that a daemon's next runs start nothing.
    fn script(dir: &Path, name: &str, marker: &str, then: Then) {
        let detach = format!(
            r#"(setsid sh -c "echo \$\$ > '$here/{name}.pid'; exec sleep 1{marker}" </dev/null >/dev/null 2>&1 &)"#
        );
        script_detaching(dir, name, &detach, then, marker);
    }

    /// [`script`] with another way to detach: `detach` is the shell line that starts the
    /// detached process, which writes its pid to `$here/<name>.pid` once it is where it
    /// means to be.
    fn script_detaching(dir: &Path, name: &str, detach: &str, then: Then, marker: &str) {
        let then = match then {
            Then::Ends => r#"echo '{"Detached":"yes"}'"#.to_string(),
            Then::Hangs => format!("exec sleep 2{marker}"),
            Then::ChecksLater => format!(
                r#"sleep 1.5
if kill -0 "$(cat "$here/{name}.pid")" 2>/dev/null; then echo '{{"Helper":"alive"}}'; else echo '{{"Helper":"gone"}}'; fi"#
            ),
        };
        let text = format!(
            r#"here='{dir}'
if [ -e "$here/{name}.ran" ]; then echo '{{"Again":"yes"}}'; exit 0; fi
: > "$here/{name}.ran"
{detach}
while [ ! -s "$here/{name}.pid" ]; do sleep 0.02; done
{then}
"#,
            dir = dir.display()
        );
        fs::write(dir.join(format!("{name}.sh")), text).expect("write probe script");
    }

    /// A configuration in `dir` of exec probes running `<scripts>/<name>.sh`, each with its
    /// timeout. The identity is given and the endpoint is a closed port on loopback, so `run`
    /// never goes further than this machine.
    fn config(dir: &Path, scripts: &Path, probes: &[(&str, &str)]) -> PathBuf {
        let mut text = format!(
            "[agent]\nprobes_dir = \"none\"\nstate_dir = \"{}\"\ninstance_id = \"i-0123456789abcdef0\"\n\
             region = \"us-east-1\"\nendpoint_url = \"http://127.0.0.1:9\"\n",
            dir.join("state").display()
        );
        for (index, (name, timeout)) in probes.iter().enumerate() {
            text.push_str(&format!(
                "\n[[probe]]\nname = \"{name}\"\nkind = \"exec\"\ntype_name = \"Custom:Detach{index}\"\n\
                 command = [\"/bin/sh\", \"{}\"]\ninterval = \"1h\"\ntimeout = \"{timeout}\"\n",
                scripts.join(format!("{name}.sh")).display()
            ));
        }
        let path = dir.join("config.toml");
        fs::write(&path, text).expect("write config");
        path
    }

    fn command(config: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ssm-inventoryd"));
        cmd.arg("--config").arg(config).args(args);
        hermetic(&mut cmd, config.parent().expect("config dir"));
        cmd
    }

    /// Only what the binary needs, and nothing that could reach AWS.
    fn hermetic(cmd: &mut Command, home: &Path) {
        let empty = home.join("empty");
        fs::write(&empty, "").expect("empty AWS config file");
        cmd.env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", home)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
            .env("AWS_SECRET_ACCESS_KEY", "secret")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", &empty)
            .env("AWS_SHARED_CREDENTIALS_FILE", &empty);
    }

    fn describe(out: &Output) -> String {
        format!(
            "exit {:?}\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// Polls `check` until it holds or `within` has passed; says whether it held.
    fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if check() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills what a failed test left running (the markers' `sleep`s would otherwise run for
    /// years), then fails with `message` if there is one.
    fn clean_up_and_assert(markers: &[&str], message: Option<String>) {
        for marker in markers {
            for line in survivors(marker) {
                if let Some(pid) = line.split(':').next().and_then(|p| p.parse::<i32>().ok()) {
                    // SAFETY: only sends a signal, to a process carrying this test's marker.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        if let Some(message) = message {
            panic!("{message}");
        }
    }

    /// The daemon under test, killed if the test fails before stopping it.
    struct Daemon {
        child: Child,
        log: PathBuf,
    }

    impl Daemon {
        fn start(config: &Path) -> Daemon {
            let log = config.with_file_name("daemon.log");
            let child = command(config, &["run"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(fs::File::create(&log).expect("daemon log"))
                .spawn()
                .expect("start the daemon");
            Daemon { child, log }
        }

        fn pid(&self) -> u32 {
            self.child.id()
        }

        fn signal(&self, signal: libc::c_int) {
            // SAFETY: sends a signal to our own child process.
            assert_eq!(unsafe { libc::kill(self.pid() as libc::pid_t, signal) }, 0);
        }

        fn running(&mut self) -> bool {
            matches!(self.child.try_wait(), Ok(None))
        }

        /// SIGTERM, and the exit status once it has stopped.
        fn stop(&mut self) -> Option<i32> {
            self.signal(libc::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if let Ok(Some(status)) = self.child.try_wait() {
                    return status.code();
                }
                assert!(Instant::now() < deadline, "the daemon did not stop");
                std::thread::sleep(Duration::from_millis(20));
            }
        }

        fn log(&self) -> String {
            fs::read_to_string(&self.log).unwrap_or_default()
        }
    }

    impl Drop for Daemon {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// (a) The probe detaches a process and ends normally: `collect` and `once --dry-run`
    /// succeed, and the detached process is gone by the time they exit.
    #[test]
    fn a_detached_process_ends_with_a_run_that_ends_normally() {
        let mut failures = Vec::new();
        let mut markers = Vec::new();
        for (case, args) in [
            vec!["collect"],
            vec!["once", "--dry-run", "--instance-id", "i-0123456789abcdef0"],
        ]
        .into_iter()
        .enumerate()
        {
            let tmp = tempfile::tempdir().expect("temp dir");
            let marker = marker(10 + case as u32);
            script(tmp.path(), "detacher", &marker, Then::Ends);
            let config = config(tmp.path(), tmp.path(), &[("detacher", "10s")]);
            let out = command(&config, &args)
                .output()
                .expect("run ssm-inventoryd");
            let started = tmp.path().join("detacher.pid").exists();
            let left = survivors(&marker);
            println!(
                "{}: exit {:?}, detached process started {started}, left running {left:?}",
                args[0],
                out.status.code()
            );
            if !(out.status.success() && started && left.is_empty()) {
                failures.push(format!(
                    "{}: started {started}, survivors {left:?}\n{}",
                    args[0],
                    describe(&out)
                ));
            }
            markers.push(marker);
        }
        let markers: Vec<&str> = markers.iter().map(String::as_str).collect();
        clean_up_and_assert(
            &markers,
            (!failures.is_empty()).then(|| failures.join("\n\n")),
        );
    }

    /// A probe runs in a session of its own, so a process of it that tries to move into the
    /// daemon's own process group is refused (`setpgid` reaches only groups of the caller's
    /// session), and it ends with its run all the same.
    #[test]
    fn a_process_cannot_join_the_daemons_group_and_ends_with_its_run() {
        if !crate::common::skip::can_run(
            Path::new("/usr/bin/perl").exists(),
            crate::common::skip::ROOT,
            "needs /usr/bin/perl to call setpgid",
        ) {
            return;
        }
        let tmp = tempfile::tempdir().expect("temp dir");
        let marker = marker(70);
        // The lead's parent is the daemon; field 5 of its stat is the daemon's group.
        let detach = format!(
            r#"group=$(cut -d' ' -f5 /proc/$PPID/stat)
(/usr/bin/perl -e 'my $how = setpgrp(0, $ARGV[0]) ? "joined" : "refused: $!"; open(my $h, ">", $ARGV[3]) or die; print $h $how; close $h; open(my $f, ">", $ARGV[1]) or die; print $f "$$\n"; close $f; exec "sleep", $ARGV[2]' "$group" "$here/joiner.pid" 1{marker} "$here/joiner.how" </dev/null >/dev/null 2>&1 &)"#
        );
        script_detaching(tmp.path(), "joiner", &detach, Then::Ends, &marker);
        let config = config(tmp.path(), tmp.path(), &[("joiner", "10s")]);
        let out = command(&config, &["collect"])
            .output()
            .expect("run ssm-inventoryd");
        let how = fs::read_to_string(tmp.path().join("joiner.how")).unwrap_or_default();
        let left = survivors(&marker);
        println!(
            "collect: exit {:?}, joining the daemon's group: {how}, left running {left:?}",
            out.status.code()
        );
        let ok = out.status.success() && how.starts_with("refused") && left.is_empty();
        clean_up_and_assert(
            &[&marker],
            (!ok).then(|| format!("{how}; survivors {left:?}\n{}", describe(&out))),
        );
    }

    /// (b) The probe detaches a process and hangs past its timeout.
    #[test]
    fn a_detached_process_ends_with_a_run_that_times_out() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let marker = marker(20);
        script(tmp.path(), "detacher", &marker, Then::Hangs);
        let config = config(tmp.path(), tmp.path(), &[("detacher", "1s")]);
        let out = command(&config, &["collect"])
            .output()
            .expect("run ssm-inventoryd");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let timed_out = stderr.contains("did not finish within its timeout of 1s");
        let started = tmp.path().join("detacher.pid").exists();
        let left = survivors(&marker);
        println!(
            "collect: exit {:?}, timed out {timed_out}, detached process started {started}, left running {left:?}",
            out.status.code()
        );
        let ok = out.status.code() == Some(1) && timed_out && started && left.is_empty();
        clean_up_and_assert(
            &[&marker],
            (!ok).then(|| format!("survivors {left:?}\n{}", describe(&out))),
        );
    }

    /// Two runs at once: the end of one leaves alone what the other detached, which still
    /// runs (a helper it talks to, say), and that goes at the end of its own run.
    #[test]
    fn the_end_of_a_run_leaves_another_runs_detached_process_alone() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let (quick, slow) = (marker(60), marker(61));
        script(tmp.path(), "quick", &quick, Then::Ends);
        script(tmp.path(), "slow", &slow, Then::ChecksLater);
        let config = config(tmp.path(), tmp.path(), &[("quick", "10s"), ("slow", "10s")]);
        let out = command(&config, &["collect"])
            .output()
            .expect("run ssm-inventoryd");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let alive = stdout.contains(r#""Helper":"alive""#);
        let left = [survivors(&quick), survivors(&slow)].concat();
        println!(
            "collect: exit {:?}, the slow run's helper outlived the quick run {alive}, left running {left:?}",
            out.status.code()
        );
        let ok = out.status.success() && alive && left.is_empty();
        clean_up_and_assert(
            &[&quick, &slow],
            (!ok).then(|| format!("survivors {left:?}\n{}", describe(&out))),
        );
    }

    /// `run`: a detached process ends with a run that ends normally (a), that times out (b)
    /// and that a reload cancels half-way (c), and the daemon is left with no zombie child.
    #[test]
    fn run_stops_detached_processes_however_the_run_ends_and_leaves_no_zombie() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let (ends, times_out, hangs) = (marker(30), marker(31), marker(32));
        script(tmp.path(), "ends", &ends, Then::Ends);
        script(tmp.path(), "times-out", &times_out, Then::Hangs);
        script(tmp.path(), "hangs", &hangs, Then::Hangs);
        let config = config(
            tmp.path(),
            tmp.path(),
            &[("ends", "10s"), ("times-out", "1s"), ("hangs", "50s")],
        );
        let mut daemon = Daemon::start(&config);
        let markers = [ends.as_str(), times_out.as_str(), hangs.as_str()];
        let mut failures = Vec::new();

        let started = eventually(Duration::from_secs(15), || {
            ["ends", "times-out", "hangs"]
                .iter()
                .all(|name| tmp.path().join(format!("{name}.pid")).exists())
        });
        let ended = eventually(Duration::from_secs(10), || {
            survivors(&ends).is_empty() && survivors(&times_out).is_empty()
        });
        let hanging = !survivors(&hangs).is_empty();
        let zombies_before = eventually(Duration::from_secs(5), || {
            zombies_of(daemon.pid()).is_empty()
        });
        println!(
            "run: all three detached {started}; gone after a normal end and a timeout {ended}; \
             the hanging probe's still there {hanging}; no zombie {zombies_before}"
        );
        if !(started && ended && hanging && zombies_before) {
            failures.push(format!(
                "before the reload: started {started}, ended {ended} (left: {:?} {:?}), \
                 hanging {hanging}, zombies {:?}",
                survivors(&ends),
                survivors(&times_out),
                zombies_of(daemon.pid())
            ));
        }

        daemon.signal(libc::SIGHUP);
        let cancelled = eventually(Duration::from_secs(10), || survivors(&hangs).is_empty());
        let no_zombie = eventually(Duration::from_secs(5), || {
            zombies_of(daemon.pid()).is_empty()
        });
        let still_running = daemon.running();
        println!(
            "run: after SIGHUP, the cancelled run's processes gone {cancelled}; no zombie {no_zombie}; \
             daemon running {still_running}"
        );
        if !(cancelled && no_zombie && still_running) {
            failures.push(format!(
                "after the reload: gone {cancelled} (left: {:?}), zombies {:?}, running {still_running}",
                survivors(&hangs),
                zombies_of(daemon.pid())
            ));
        }
        let code = daemon.stop();
        if code != Some(0) {
            failures.push(format!("the daemon exited with {code:?}"));
        }
        clean_up_and_assert(
            &markers,
            (!failures.is_empty()).then(|| format!("{}\n{}", failures.join("\n"), daemon.log())),
        );
    }

    /// (d) `run` stopped by SIGTERM while a probe that detached a process still runs.
    #[test]
    fn sigterm_stops_the_processes_a_running_probe_detached() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let marker = marker(40);
        script(tmp.path(), "hangs", &marker, Then::Hangs);
        let config = config(tmp.path(), tmp.path(), &[("hangs", "50s")]);
        let mut daemon = Daemon::start(&config);
        let started = eventually(Duration::from_secs(15), || {
            tmp.path().join("hangs.pid").exists()
        });
        let running = !survivors(&marker).is_empty();
        let code = daemon.stop();
        let left = survivors(&marker);
        println!(
            "run: detached {started}, running {running}; after SIGTERM exit {code:?}, left running {left:?}"
        );
        let ok = started && running && code == Some(0) && left.is_empty();
        clean_up_and_assert(
            &[&marker],
            (!ok).then(|| format!("survivors {left:?}\n{}", daemon.log())),
        );
    }

    /// A `user` probe's detached process, with the daemon lacking CAP_KILL as under the unit:
    /// it is signalled as the probe's user. Root only (it switches users and drops a
    /// capability), with `setpriv` and a `nobody` user.
    #[test]
    fn a_user_probe_s_detached_process_is_stopped_without_cap_kill() {
        use crate::common::skip;
        if !skip::as_root("needs root: no other user can run a probe as another user") {
            return;
        }
        let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
            .into_iter()
            .find(|p| Path::new(p).exists());
        let has_nobody = fs::read_to_string("/etc/passwd")
            .is_ok_and(|p| p.lines().any(|l| l.starts_with("nobody:")));
        let (Some(setpriv), true) = (setpriv, has_nobody) else {
            skip::can_run(false, skip::ROOT, "needs setpriv and a `nobody` user");
            return;
        };
        let tmp = tempfile::tempdir().expect("temp dir");
        // The probe, as nobody, reads its script and writes its files in `work`; the
        // configuration stays where only root may change it.
        let work = tmp.path().join("work");
        {
            use std::os::unix::fs::PermissionsExt;
            fs::create_dir(&work).expect("work dir");
            fs::set_permissions(&work, fs::Permissions::from_mode(0o777)).expect("chmod");
            fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let marker = marker(50);
        script(&work, "detacher", &marker, Then::Ends);
        let config = config(tmp.path(), &work, &[("detacher", "10s")]);
        let mut text = fs::read_to_string(&config).expect("read config");
        text.push_str("user = \"nobody\"\n");
        fs::write(&config, text).expect("write config");

        let mut cmd = Command::new(setpriv);
        cmd.args(["--bounding-set", "-kill", "--"])
            .arg(env!("CARGO_BIN_EXE_ssm-inventoryd"))
            .arg("--config")
            .arg(&config)
            .arg("collect");
        hermetic(&mut cmd, tmp.path());
        let out = cmd.output().expect("run ssm-inventoryd under setpriv");
        let started = work.join("detacher.pid").exists();
        let left = survivors(&marker);
        println!(
            "collect without CAP_KILL: exit {:?}, detached process started {started}, left running {left:?}",
            out.status.code()
        );
        let ok = out.status.success() && started && left.is_empty();
        clean_up_and_assert(
            &[&marker],
            (!ok).then(|| format!("survivors {left:?}\n{}", describe(&out))),
        );
    }
}
