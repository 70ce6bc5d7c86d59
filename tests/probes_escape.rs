//! Every way a probe's process can leave its run, against the real binary: a background child
//! that calls `setsid`, one that moves itself into a new process group, a double fork, and a
//! child that clears its environment (so no run token is left in it) and then calls `setsid`.
//! Each leaves a long `sleep` carrying a marker unique to the test and case in its argv, and
//! none of them may still be running once its run is over: (a) it ended normally, (b) it timed
//! out, (c) a reload (SIGHUP to `run`) cancelled it, (d) the daemon was stopped (SIGTERM).

mod common;

use std::path::Path;
use std::time::Duration;

use common::procs::{kill_marked, marked, zombies_of};
use common::{Node, skip};

/// How the probe's process leaves the run.
#[derive(Clone, Copy, Debug)]
enum Route {
    /// `setsid` in a background child: a session of its own, its parent still the probe.
    SetsidChild,
    /// `setpgid(0, 0)` in a background child: a new process group in the run's session.
    NewGroup,
    /// A double fork: the orphan stays in the run's group and session.
    DoubleFork,
    /// `env -i` then `setsid` in a double fork: no run token and a session of its own.
    ClearedEnvSetsid,
}

impl Route {
    /// The shell line that starts `sleep 1<marker>` this way; the process writes its pid to
    /// `$pidfile` once it is where it means to be.
    fn line(self, marker: &str) -> String {
        let sleep = format!(r#"echo \$\$ > \"$pidfile\"; exec sleep 1{marker}"#);
        match self {
            Route::SetsidChild => {
                format!(r#"setsid /bin/sh -c "{sleep}" </dev/null >/dev/null 2>&1 &"#)
            }
            Route::NewGroup => format!(
                r#"/usr/bin/perl -e 'setpgrp(0, 0) or die "setpgrp: $!"; open(my $f, ">", $ARGV[0]) or die; print $f "$$\n"; close $f; exec "sleep", $ARGV[1]' "$pidfile" 1{marker} </dev/null >/dev/null 2>&1 &"#
            ),
            Route::DoubleFork => {
                format!(r#"(/bin/sh -c "{sleep}" </dev/null >/dev/null 2>&1 &)"#)
            }
            Route::ClearedEnvSetsid => format!(
                r#"(/usr/bin/env -i /usr/bin/setsid /bin/sh -c "{sleep}" </dev/null >/dev/null 2>&1 &)"#
            ),
        }
    }
}

/// How the run goes on once its process has left.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Then {
    /// Prints an item and exits 0.
    Ends,
    /// Runs until it is stopped (`sleep 2<marker>`).
    Hangs,
}

/// A marker unique to this test process, `route` and `case`.
fn marker(route: Route, case: u32) -> String {
    format!(
        "9{:06}{}{case}",
        std::process::id() % 1_000_000,
        route as u32
    )
}

/// A node whose one exec probe runs a script that leaves by `route` on its first run and goes
/// on as `then` says; later runs print an item and exit, so that a reload starts nothing new.
fn node(route: Route, marker: &str, then: Then, timeout: &str) -> Node {
    let node = Node::new(&format!("http://127.0.0.1:{}", common::closed_port()));
    let dir = node.dir.path();
    let then = match then {
        Then::Ends => r#"echo '{"Escaped":"yes"}'"#.to_string(),
        Then::Hangs => format!("exec sleep 2{marker}"),
    };
    let script = format!(
        r#"here='{dir}'
pidfile="$here/escapee.pid"
if [ -e "$here/escapee.ran" ]; then echo '{{"Again":"yes"}}'; exit 0; fi
: > "$here/escapee.ran"
{line}
while [ ! -s "$pidfile" ]; do sleep 0.02; done
{then}
"#,
        dir = dir.display(),
        line = route.line(marker),
    );
    let path = dir.join("escapee.sh");
    std::fs::write(&path, script).expect("write the probe's script");
    node.write_config_with(&format!(
        "\n[[probe]]\nname = \"escapee\"\nkind = \"exec\"\ntype_name = \"Custom:Escapee\"\n\
         command = [\"/bin/sh\", \"{}\"]\ninterval = \"1h\"\ntimeout = \"{timeout}\"\n",
        path.display()
    ));
    node
}

fn started(node: &Node) -> bool {
    node.dir.path().join("escapee.pid").exists()
}

/// Polls `check` on real time until it holds or `within` has passed; says whether it held.
async fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while !check() {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

/// (a) `collect`, the run ending normally.
async fn ends_normally(route: Route) -> Result<(), String> {
    let marker = marker(route, 1);
    let node = node(route, &marker, Then::Ends, "10s");
    let (code, _, stderr) = node.output(&["collect"]).await;
    let left = marked(&marker);
    println!(
        "{route:?} (a) normal end: collect exit {code:?}, escaped {}, left running {left:?}",
        started(&node)
    );
    kill_marked(&[&marker]);
    (code == Some(0) && started(&node) && left.is_empty())
        .then_some(())
        .ok_or_else(|| format!("{route:?} (a): exit {code:?}, left {left:?}\n{stderr}"))
}

/// (b) `collect`, the run timing out after 1 s.
async fn times_out(route: Route) -> Result<(), String> {
    let marker = marker(route, 2);
    let node = node(route, &marker, Then::Hangs, "1s");
    let (code, _, stderr) = node.output(&["collect"]).await;
    let timed_out = stderr.contains("did not finish within its timeout of 1s");
    let left = marked(&marker);
    println!(
        "{route:?} (b) timeout: collect exit {code:?}, timed out {timed_out}, escaped {}, left running {left:?}",
        started(&node)
    );
    kill_marked(&[&marker]);
    (code == Some(1) && timed_out && started(&node) && left.is_empty())
        .then_some(())
        .ok_or_else(|| format!("{route:?} (b): exit {code:?}, left {left:?}\n{stderr}"))
}

/// (c) `run`, the hanging run cancelled by a reload (SIGHUP); the daemon keeps running and
/// has no zombie child. Then (d) in the same daemon would find nothing to stop, so (d) has a
/// daemon of its own.
async fn reload(route: Route) -> Result<(), String> {
    let marker = marker(route, 3);
    let node = node(route, &marker, Then::Hangs, "50s");
    let mut daemon = node.spawn(&[]);
    let pid = daemon.id().unwrap_or_default();
    let escaped = eventually(Duration::from_secs(15), || started(&node)).await;
    let running = !marked(&marker).is_empty();
    common::signal(&daemon, libc::SIGHUP);
    let gone = eventually(Duration::from_secs(10), || marked(&marker).is_empty()).await;
    let no_zombie = eventually(Duration::from_secs(5), || zombies_of(pid).is_empty()).await;
    let alive = matches!(daemon.try_wait(), Ok(None));
    let left = marked(&marker);
    println!(
        "{route:?} (c) reload: escaped {escaped}, running before {running}; after SIGHUP gone {gone}, \
         no zombie {no_zombie}, daemon running {alive}, left running {left:?}"
    );
    let (code, log) = common::stop(daemon).await;
    kill_marked(&[&marker]);
    (escaped && running && gone && no_zombie && alive && code == Some(0))
        .then_some(())
        .ok_or_else(|| format!("{route:?} (c): exit {code:?}, left {left:?}\n{log}"))
}

/// (d) `run` stopped by SIGTERM while the run hangs.
async fn daemon_stop(route: Route) -> Result<(), String> {
    let marker = marker(route, 4);
    let node = node(route, &marker, Then::Hangs, "50s");
    let daemon = node.spawn(&[]);
    let escaped = eventually(Duration::from_secs(15), || started(&node)).await;
    let running = !marked(&marker).is_empty();
    let (code, log) = common::stop(daemon).await;
    let left = marked(&marker);
    println!(
        "{route:?} (d) stop: escaped {escaped}, running before {running}; after SIGTERM exit {code:?}, \
         left running {left:?}"
    );
    kill_marked(&[&marker]);
    (escaped && running && code == Some(0) && left.is_empty())
        .then_some(())
        .ok_or_else(|| format!("{route:?} (d): exit {code:?}, left {left:?}\n{log}"))
}

/// The four ends of a run for `route`, side by side; fails naming each that left something.
async fn no_escape(route: Route) {
    let results = tokio::join!(
        ends_normally(route),
        times_out(route),
        reload(route),
        daemon_stop(route)
    );
    let failures: Vec<String> = [results.0, results.1, results.2, results.3]
        .into_iter()
        .filter_map(Result::err)
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setsid_in_a_background_child_ends_with_its_run() {
    no_escape(Route::SetsidChild).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setpgid_into_a_new_group_ends_with_its_run() {
    if !skip::can_run(
        Path::new("/usr/bin/perl").exists(),
        skip::ROOT,
        "needs /usr/bin/perl to call setpgid",
    ) {
        return;
    }
    no_escape(Route::NewGroup).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_double_fork_ends_with_its_run() {
    no_escape(Route::DoubleFork).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cleared_environment_then_setsid_ends_with_its_run() {
    no_escape(Route::ClearedEnvSetsid).await;
}
