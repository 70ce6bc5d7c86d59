//! Fleet quota simulation: 100,000 nodes in virtual time against the emulator's throttling
//! rules, PutInventory at 50 TPS and Parameter Store at 40 TPS shared with an application.
//!
//! ```sh
//! cargo run --release --example fleet_quota
//! cargo run --release --example fleet_quota -- --nodes 100000 --interval 3h --max-concurrency 50
//! ```
//!
//! A discrete-event loop, not real HTTP (`examples/fleet.rs` is the real-HTTP one, for up to
//! 10,000 agents): what is simulated is when each node calls and what the service answers, so
//! 100,000 nodes take seconds. The service side is the emulator's own token bucket
//! ([`TokenBucket`], capacity = rate, starting full), fed virtual instants. The node side is
//! the daemon's own code, not a copy of it:
//!
//! * the splay before every push and every poll: [`fleet_splay`];
//! * PutInventory: the batcher ([`batch::pack`]) decides the requests of a push, and a
//!   throttled push is tried again after the daemon's backoff ([`Backoff`], `retry_base` 1 s,
//!   `retry_cap` 5 min, full jitter);
//! * Parameter Store: [`calls_per_poll`] GetParameters calls a poll (10 names a call), and the
//!   interval policy [`PollInterval`] (a throttled poll lengthens the interval, polls that go
//!   through bring it back); `reload --fleet` (the Command document) is refused while
//!   [`PollInterval::backed_off`], and otherwise polls now and counts as a poll.
//!
//! Parameter Store phases, after two periods of warm-up (the fleet has been running: each
//! node's first poll falls anywhere in its first interval plus splay):
//!
//! 1. steady state over one interval: the fleet's calls a second, the share throttled, and the
//!    application's reads (Poisson, 10 a second) that went through;
//! 2. a new version, by polling alone: time until the last node has applied it;
//! 3. another version, sent with the Command document at a rate control (`--max-concurrency`
//!    invocations at once, each taking the SSM Agent's overhead before and after the fetch):
//!    time until the last node has it (by the command or by its own poll, whichever first),
//!    the invocations that failed, and the application's reads during it.
//!
//! Exits 1 when a target is missed.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::{Duration, Instant};

use clap::Parser;
use rand::{Rng, SeedableRng};
use ssm_inventoryd::backoff::Backoff;
use ssm_inventoryd::batch::{self, Budget};
use ssm_inventoryd::config::defaults::{
    DEFAULT_MAX_REQUEST_BYTES, DEFAULT_RETRY_BASE, DEFAULT_RETRY_CAP,
};
use ssm_inventoryd::emulator::TokenBucket;
use ssm_inventoryd::fleet::fetch::calls_per_poll;
use ssm_inventoryd::fleet::interval::PollInterval;
use ssm_inventoryd::splay::fleet_splay;

#[derive(Parser, Debug)]
struct Args {
    #[arg(long, default_value_t = 100_000)]
    nodes: usize,
    /// PutInventory's rate (and burst), requests a second.
    #[arg(long, default_value_t = 50.0)]
    put_tps: f64,
    /// Parameter Store's read rate (and burst), calls a second, shared with the application.
    #[arg(long, default_value_t = 40.0)]
    parameter_tps: f64,
    /// The application's reads a second (Poisson).
    #[arg(long, default_value_t = 10.0)]
    app_tps: f64,
    /// Fleet parameters per node (10 names per GetParameters call).
    #[arg(long, default_value_t = 2)]
    parameters: usize,
    /// `fleet_poll_interval`; "auto" sizes it as config/README.md says: nodes × calls per
    /// poll / 10 a second, rounded up to whole hours past an hour.
    #[arg(long, default_value = "auto")]
    interval: String,
    /// `splay`; "auto" is 1.1 × the ideal PutInventory round (nodes × requests per push /
    /// TPS): pushes then arrive at 91 % of the limit, which leaves room for the random part of
    /// each node's place in the window. At exactly the ideal, the bursts that random part
    /// makes are throttled, and the retries throttle more (1.6× the minimum requests at
    /// 10,000 nodes).
    #[arg(long, default_value = "auto")]
    splay: String,
    /// Command document invocations at once (send-command --max-concurrency).
    /// 30 with the default overhead is 15 reads a second on top of the fleet's own and the
    /// application's, within the 40.
    #[arg(long, default_value_t = 30)]
    max_concurrency: usize,
    /// Failed invocations after which the rollout stops (send-command --max-errors).
    #[arg(long, default_value_t = 1000)]
    max_errors: usize,
    /// The SSM Agent's time from picking an invocation up to running the script, and from the
    /// script's end to reporting it, in seconds each.
    #[arg(long, default_value_t = 1.0)]
    agent_overhead: f64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Virtual time in microseconds, for ordering events exactly.
type Micros = u64;

fn micros(seconds: f64) -> Micros {
    (seconds * 1e6).round() as Micros
}

fn seconds(t: Micros) -> f64 {
    t as f64 / 1e6
}

/// The emulator's bucket, fed virtual instants.
struct Bucket {
    bucket: TokenBucket,
    origin: Instant,
}

impl Bucket {
    fn new(tps: f64) -> Bucket {
        let origin = Instant::now();
        Bucket {
            bucket: TokenBucket::new(tps, origin),
            origin,
        }
    }

    fn take(&mut self, t: Micros) -> bool {
        self.bucket.try_take(self.origin + Duration::from_micros(t))
    }
}

struct Events<E> {
    heap: BinaryHeap<Reverse<(Micros, u64, usize)>>,
    payloads: Vec<Option<E>>,
    seq: u64,
}

impl<E> Events<E> {
    fn new() -> Self {
        Events {
            heap: BinaryHeap::new(),
            payloads: Vec::new(),
            seq: 0,
        }
    }

    fn at(&mut self, t: Micros, event: E) {
        self.payloads.push(Some(event));
        self.seq += 1;
        self.heap
            .push(Reverse((t, self.seq, self.payloads.len() - 1)));
    }

    fn next(&mut self) -> Option<(Micros, E)> {
        let Reverse((t, _, i)) = self.heap.pop()?;
        self.payloads[i].take().map(|e| (t, e))
    }
}

fn instance_id(n: usize) -> String {
    format!("i-{:017x}", 0x5eed_0000_0000u64 + n as u64)
}

fn duration_arg(text: &str, auto: Duration) -> Duration {
    if text == "auto" {
        auto
    } else {
        humantime::parse_duration(text).unwrap_or_else(|e| {
            eprintln!("error: {text:?} is not a duration: {e}");
            std::process::exit(2)
        })
    }
}

struct PutResult {
    requests: u64,
    throttled: u64,
    delivered_items: u64,
    expected_items: u64,
    makespan: f64,
    ideal: f64,
}

/// One PutInventory round: every node's items are new and go in one push.
fn simulate_puts(args: &Args, ids: &[String], splay: Duration, per_push: usize) -> PutResult {
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
    let mut bucket = Bucket::new(args.put_tps);
    let backoff = Backoff::new(DEFAULT_RETRY_BASE, DEFAULT_RETRY_CAP);
    // (node, consecutive failures, requests of its push still to send)
    let mut events: Events<(usize, u32, usize)> = Events::new();
    for (n, id) in ids.iter().enumerate() {
        events.at(
            micros(fleet_splay(id, splay).as_secs_f64()),
            (n, 0, per_push),
        );
    }
    let (mut requests, mut throttled, mut delivered, mut last) = (0u64, 0u64, 0u64, 0);
    while let Some((t, (n, failures, left))) = events.next() {
        // One push sends its requests one after the other; a throttled one leaves the rest
        // pending for the next push, after the backoff.
        let mut left = left;
        let mut ok = true;
        while left > 0 {
            requests += 1;
            if bucket.take(t) {
                left -= 1;
            } else {
                throttled += 1;
                ok = false;
                break;
            }
        }
        if ok {
            delivered += 1;
            last = t;
        } else {
            let failures = failures + 1;
            let wait = backoff.jittered_with(failures, rng.random::<f64>());
            events.at(t + micros(wait.as_secs_f64()), (n, failures, left));
        }
    }
    let items_per_node = 4;
    PutResult {
        requests,
        throttled,
        delivered_items: delivered * items_per_node,
        expected_items: ids.len() as u64 * items_per_node,
        makespan: seconds(last),
        ideal: (ids.len() * per_push) as f64 / args.put_tps,
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ev {
    /// A node's scheduled poll; stale when its generation moved on (a command polled it).
    Poll {
        node: usize,
        generation: u32,
    },
    App,
    /// A Command invocation reaches the node's script.
    Fetch {
        node: usize,
    },
    /// An invocation is reported; the next one may start.
    Done,
    Publish,
}

#[derive(Default, Clone, Copy)]
struct Window {
    fleet_calls: u64,
    fleet_throttled: u64,
    app: u64,
    app_ok: u64,
}

impl Window {
    fn app_share(&self) -> f64 {
        if self.app == 0 {
            1.0
        } else {
            self.app_ok as f64 / self.app as f64
        }
    }
    fn throttled_share(&self) -> f64 {
        if self.fleet_calls == 0 {
            0.0
        } else {
            self.fleet_throttled as f64 / self.fleet_calls as f64
        }
    }
}

struct Node {
    interval: PollInterval,
    generation: u32,
    version: u32,
}

struct ParamResult {
    steady: Window,
    steady_seconds: f64,
    poll_rollout: f64,
    poll_window: Window,
    cmd_rollout: f64,
    cmd_window: Window,
    cmd_invocations: u64,
    cmd_errors: u64,
    cmd_by_command: u64,
    cmd_stopped: bool,
}

fn simulate_parameters(
    args: &Args,
    ids: &[String],
    interval: Duration,
    splay: Duration,
) -> ParamResult {
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed + 1);
    let mut bucket = Bucket::new(args.parameter_tps);
    let calls = calls_per_poll(args.parameters);
    let n_nodes = ids.len();
    let mut nodes: Vec<Node> = (0..n_nodes)
        .map(|_| Node {
            interval: PollInterval::new(interval),
            generation: 0,
            version: 1,
        })
        .collect();
    let period = interval.as_secs_f64() + splay.as_secs_f64();
    let mut events: Events<Ev> = Events::new();
    for node in 0..n_nodes {
        events.at(
            micros(rng.random::<f64>() * period),
            Ev::Poll {
                node,
                generation: 0,
            },
        );
    }
    let app_gap =
        |rng: &mut rand::rngs::StdRng| -> f64 { -(1.0 - rng.random::<f64>()).ln() / args.app_tps };
    events.at(micros(app_gap(&mut rng)), Ev::App);

    // Phase boundaries.
    // Two periods of warm-up: the polls' phases have spread like a fleet that has run a while.
    let steady_start = micros(2.0 * period);
    let steady_end = steady_start + micros(interval.as_secs_f64());
    events.at(steady_end, Ev::Publish);
    let mut published: u32 = 1;
    let mut published_at: Micros = 0;
    let mut on_version = n_nodes; // nodes on the newest version
    let mut steady = Window::default();
    let mut poll_window = Window::default();
    let mut cmd_window = Window::default();
    let mut poll_rollout = f64::NAN;
    let mut cmd_rollout = f64::NAN;
    // The Command rollout: nodes in tag order, so many at once.
    let mut queue: VecDeque<usize> = VecDeque::new();
    let (mut invocations, mut errors, mut by_command) = (0u64, 0u64, 0u64);
    let mut stopped = false;
    let overhead = micros(args.agent_overhead);

    // One poll of `node` at `t` (scheduled or asked for): `true` when it went through.
    let poll = |node: &mut Node,
                t: Micros,
                bucket: &mut Bucket,
                window: &mut Window,
                rng: &mut rand::rngs::StdRng,
                published: u32|
     -> (bool, Duration) {
        let mut busy = false;
        for _ in 0..calls {
            window.fleet_calls += 1;
            if !bucket.take(t) {
                window.fleet_throttled += 1;
                busy = true;
            }
        }
        if !busy {
            node.version = published;
        }
        (!busy, node.interval.after_poll(busy, rng.random::<f64>()))
    };

    while let Some((t, event)) = events.next() {
        let window = if t < steady_start {
            &mut Window::default()
        } else if t < steady_end {
            &mut steady
        } else if published == 2 {
            &mut poll_window
        } else {
            &mut cmd_window
        };
        match event {
            Ev::App => {
                window.app += 1;
                if bucket.take(t) {
                    window.app_ok += 1;
                }
                if published < 3 || on_version < n_nodes {
                    events.at(t + micros(app_gap(&mut rng)), Ev::App);
                }
            }
            Ev::Poll { node, generation } => {
                if nodes[node].generation != generation {
                    continue;
                }
                let before = nodes[node].version;
                let (_, wait) = poll(
                    &mut nodes[node],
                    t,
                    &mut bucket,
                    window,
                    &mut rng,
                    published,
                );
                if before < published && nodes[node].version == published {
                    on_version += 1;
                }
                if on_version == n_nodes && published_at > 0 {
                    let took = seconds(t - published_at);
                    if published == 2 && poll_rollout.is_nan() {
                        poll_rollout = took;
                        // The next version, sent with the Command document a while later.
                        events.at(t + micros(600.0), Ev::Publish);
                    } else if published == 3 && cmd_rollout.is_nan() {
                        cmd_rollout = took;
                    }
                }
                if published < 3 || on_version < n_nodes {
                    let next = wait + fleet_splay(&ids[node], splay);
                    events.at(
                        t + micros(next.as_secs_f64()),
                        Ev::Poll { node, generation },
                    );
                }
            }
            Ev::Publish => {
                published += 1;
                published_at = t;
                on_version = 0;
                if published == 3 {
                    queue.extend(0..n_nodes);
                    for _ in 0..args.max_concurrency {
                        if let Some(node) = queue.pop_front() {
                            invocations += 1;
                            events.at(t + overhead, Ev::Fetch { node });
                        }
                    }
                }
            }
            Ev::Fetch { node } => {
                let state = &mut nodes[node];
                let failed = if state.interval.backed_off() {
                    true
                } else {
                    let before = state.version;
                    let (ok, wait) = poll(state, t, &mut bucket, window, &mut rng, published);
                    if before < published && state.version == published {
                        on_version += 1;
                        by_command += 1;
                    }
                    // It counts as a poll: the next one is an interval (and splay) from now.
                    state.generation += 1;
                    let generation = state.generation;
                    let next = wait + fleet_splay(&ids[node], splay);
                    events.at(
                        t + micros(next.as_secs_f64()),
                        Ev::Poll { node, generation },
                    );
                    !ok
                };
                if failed {
                    errors += 1;
                }
                if on_version == n_nodes && cmd_rollout.is_nan() {
                    cmd_rollout = seconds(t - published_at);
                }
                events.at(t + overhead, Ev::Done);
            }
            Ev::Done => {
                if errors as usize > args.max_errors {
                    stopped = true;
                    queue.clear();
                }
                if let Some(node) = queue.pop_front() {
                    invocations += 1;
                    events.at(t + overhead, Ev::Fetch { node });
                }
            }
        }
    }
    ParamResult {
        steady,
        steady_seconds: interval.as_secs_f64(),
        poll_rollout,
        poll_window,
        cmd_rollout,
        cmd_window,
        cmd_invocations: invocations,
        cmd_errors: errors,
        cmd_by_command: by_command,
        cmd_stopped: stopped,
    }
}

fn check(met: bool, failures: &mut u32) -> &'static str {
    if met {
        "met"
    } else {
        *failures += 1;
        "MISSED"
    }
}

fn main() {
    let args = Args::parse();
    let started = Instant::now();
    let ids: Vec<String> = (0..args.nodes).map(instance_id).collect();

    // Four small items, as in examples/fleet.rs: what the batcher makes of one push.
    let sizes = [180usize, 140, 420, 90];
    let keys = [
        "Custom:FleetHost",
        "Custom:FleetRelease",
        "Custom:FleetUsers",
        "Custom:FleetStage",
    ];
    let sized: Vec<batch::Sized<'_>> = sizes
        .iter()
        .zip(keys)
        .map(|(&bytes, key)| batch::Sized { bytes, key })
        .collect();
    let per_push = batch::pack(&sized, 64, Budget::new(DEFAULT_MAX_REQUEST_BYTES)).len();

    let ideal_round = Duration::from_secs_f64((args.nodes * per_push) as f64 / args.put_tps);
    let splay = duration_arg(&args.splay, ideal_round.mul_f64(1.1));
    let calls = calls_per_poll(args.parameters);
    let needed = (args.nodes * calls) as f64 / 10.0;
    let auto_interval = Duration::from_secs(if needed <= 3600.0 {
        (needed / 600.0).ceil() as u64 * 600
    } else {
        (needed / 3600.0).ceil() as u64 * 3600
    });
    let interval = duration_arg(&args.interval, auto_interval);
    println!(
        "fleet_quota: {} nodes; PutInventory {} TPS, splay {} ({} request a push); Parameter Store {} TPS shared with an application reading {}/s; {} parameters ({} GetParameters call a poll) every {}",
        args.nodes,
        args.put_tps,
        humantime::format_duration(splay),
        per_push,
        args.parameter_tps,
        args.app_tps,
        args.parameters,
        calls,
        humantime::format_duration(interval)
    );

    let mut failures = 0;
    let put = simulate_puts(&args, &ids, splay, per_push);
    let min_requests = (args.nodes * per_push) as u64;
    let lost = put.expected_items - put.delivered_items;
    let req_ratio = put.requests as f64 / min_requests as f64;
    let span_ratio = put.makespan / put.ideal;
    println!("PutInventory:");
    println!(
        "  items delivered {}/{}, lost {lost} (target 0: {})",
        put.delivered_items,
        put.expected_items,
        check(lost == 0, &mut failures)
    );
    println!(
        "  requests {} vs minimum {min_requests}: {req_ratio:.3}x, {} throttled (target <= 1.2x: {})",
        put.requests,
        put.throttled,
        check(req_ratio <= 1.2, &mut failures)
    );
    println!(
        "  makespan {:.0}s vs ideal {:.0}s: {span_ratio:.3}x (target <= 1.2x: {})",
        put.makespan,
        put.ideal,
        check(span_ratio <= 1.2, &mut failures)
    );

    let p = simulate_parameters(&args, &ids, interval, splay);
    println!("Parameter Store:");
    println!(
        "  steady state ({:.0}s): fleet {:.2} calls/s, {:.3}% throttled; application {:.3}% of {} reads through (target >= 99%: {})",
        p.steady_seconds,
        p.steady.fleet_calls as f64 / p.steady_seconds,
        100.0 * p.steady.throttled_share(),
        100.0 * p.steady.app_share(),
        p.steady.app,
        check(p.steady.app_share() >= 0.99, &mut failures)
    );
    let bound = 2.0 * interval.as_secs_f64() + splay.as_secs_f64();
    println!(
        "  new version by polling alone: last node after {:.0}s ({:.2} intervals; target <= 2 intervals + splay = {bound:.0}s: {}); fleet {:.3}% throttled, application {:.3}% through",
        p.poll_rollout,
        p.poll_rollout / interval.as_secs_f64(),
        check(p.poll_rollout <= bound, &mut failures),
        100.0 * p.poll_window.throttled_share(),
        100.0 * p.poll_window.app_share()
    );
    let rollout_seconds = if p.cmd_rollout.is_nan() {
        f64::INFINITY
    } else {
        p.cmd_rollout
    };
    println!(
        "  new version with the Command document (max-concurrency {}, max-errors {}, agent overhead {}s each side): last node after {:.0}s, {} invocations, {} by the command, {} failed{}; fleet {:.3}% throttled, application {:.3}% of {} reads through (target >= 95%: {})",
        args.max_concurrency,
        args.max_errors,
        args.agent_overhead,
        rollout_seconds,
        p.cmd_invocations,
        p.cmd_by_command,
        p.cmd_errors,
        if p.cmd_stopped {
            " (stopped at max-errors)"
        } else {
            ""
        },
        100.0 * p.cmd_window.throttled_share(),
        100.0 * p.cmd_window.app_share(),
        p.cmd_window.app,
        check(p.cmd_window.app_share() >= 0.95, &mut failures)
    );
    println!(
        "RESULT nodes={} lost={lost} requests={} min_requests={min_requests} makespan={:.0} ideal={:.0} steady_fleet_tps={:.2} steady_throttled={:.5} steady_app={:.5} poll_rollout={:.0} cmd_rollout={:.0} cmd_app={:.5} wall={:.1}s",
        args.nodes,
        put.requests,
        put.makespan,
        put.ideal,
        p.steady.fleet_calls as f64 / p.steady_seconds,
        p.steady.throttled_share(),
        p.steady.app_share(),
        p.poll_rollout,
        rollout_seconds,
        p.cmd_window.app_share(),
        started.elapsed().as_secs_f64()
    );
    if failures > 0 {
        std::process::exit(1);
    }
}
