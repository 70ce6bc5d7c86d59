//! Fleet simulation: N agents in one process against one emulator throttled at 50 TPS.
//!
//! ```sh
//! cargo run --release --example fleet -- --agents 2000
//! cargo run --release --example fleet -- --agents 10000
//! ```
//!
//! Each agent has its own instance ID, its own [`State`] and state directory, and four small
//! items. Round 1 delivers everything (all items are new); then some of every agent's items
//! change (`Custom:FleetRelease` on every agent, `Custom:FleetUsers` on every third) and round
//! 2 delivers the changes. Agents push exactly as `ssm-inventoryd run` does: through
//! [`cycle::push`] (planner, batcher, the real aws-sdk-ssm client over real HTTP on loopback,
//! one attempt per push), after the daemon's own fleet splay ([`splay::fleet_splay`]), and
//! after a push that left items pending they wait the daemon's jittered backoff
//! (`retry_base` 1 s, `retry_cap` 5 min, full jitter) and push again. One SDK client is
//! shared; the instance ID is per request.
//!
//! The splay is what an operator sets for a fleet; `--splay auto` (the default) sizes it to
//! the ideal makespan of a round, agents × requests per agent / TPS.
//!
//! Reported: items delivered (checked against the emulator's store, item by item: stored hash
//! and content equal to the agent's latest item), total PutInventory requests against the
//! minimum (one per agent per round), throttled requests, makespan of each round (change to
//! the last acknowledgement) against the ideal, and p50/p99 time from change to
//! acknowledgement. Exits 1 when any item was lost.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use ssm_inventoryd::aws as sdk_client;
use ssm_inventoryd::batch::Budget;
use ssm_inventoryd::config::OnRemoved;
use ssm_inventoryd::config::defaults::{
    DEFAULT_MAX_REQUEST_BYTES, DEFAULT_QUARANTINE_RETRY, DEFAULT_REFRESH_INTERVAL,
    DEFAULT_RETRY_BASE, DEFAULT_RETRY_CAP,
};
use ssm_inventoryd::cycle::{self, Collected, PushOptions};
use ssm_inventoryd::emulator::{
    DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY, Emulator, EmulatorConfig,
};
use ssm_inventoryd::inventory::{Item, RawItem, Row, capture_time_now};
use ssm_inventoryd::plan::Intervals;
use ssm_inventoryd::sender::RetryPolicy;
use ssm_inventoryd::splay::fleet_splay;
use ssm_inventoryd::state::State;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

#[derive(Parser, Debug)]
struct Args {
    /// Number of agents (nodes).
    #[arg(long, default_value_t = 2000)]
    agents: usize,
    /// The emulator's token bucket rate (and burst), requests per second.
    #[arg(long, default_value_t = 50.0)]
    tps: f64,
    /// The agents' `splay`, e.g. "40s", or "auto" for agents / TPS (one request per agent).
    #[arg(long, default_value = "auto")]
    splay: String,
    /// Where the agents' state directories go (default: a temporary directory).
    #[arg(long)]
    state_root: Option<PathBuf>,
}

const TYPES: [&str; 4] = [
    "Custom:FleetHost",
    "Custom:FleetRelease",
    "Custom:FleetUsers",
    "Custom:FleetStage",
];

fn row(pairs: &[(&str, String)]) -> Row {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// Agent `n`'s items in `round` (1 or 2).
fn items(n: usize, round: usize) -> Vec<Item> {
    let release_round = round; // changes for every agent
    let users_round = if n.is_multiple_of(3) { round } else { 1 }; // changes for every third agent
    let contents: [Vec<Row>; 4] = [
        vec![row(&[
            ("HostName", format!("node-{n:05}.fleet.internal")),
            ("OSName", "Amazon Linux".into()),
            ("OSVersion", "2023".into()),
        ])],
        vec![row(&[
            ("Service", "checkout".into()),
            ("Release", format!("2026.11.{release_round}")),
        ])],
        (0..5)
            .map(|u| {
                row(&[
                    ("User", format!("user{u}")),
                    ("Groups", format!("wheel,ops-r{users_round}")),
                ])
            })
            .collect(),
        vec![row(&[("Stage", ["prod", "staging"][n % 2].into())])],
    ];
    let capture_time = capture_time_now();
    TYPES
        .iter()
        .zip(contents)
        .map(|(type_name, rows)| {
            Item::new(RawItem {
                type_name: (*type_name).into(),
                schema_version: "1.0".into(),
                capture_time: capture_time.clone(),
                rows,
                ..RawItem::default()
            })
            .expect("fleet items are valid")
        })
        .collect()
}

struct Agent {
    n: usize,
    instance_id: String,
    dir: PathBuf,
    state: State,
    items: Vec<Item>,
}

/// What one agent did in one round.
#[derive(Default)]
struct AgentRound {
    requests: usize,
    pushes: usize,
    /// Seconds from the round's change to the acknowledgement, per changed item.
    latencies: Vec<f64>,
    last_ack: f64,
    failure: Option<String>,
}

async fn run_agent(
    agent: &mut Agent,
    client: &aws_sdk_ssm::Client,
    changed: &[String],
    round_start: Instant,
    splay: Duration,
) -> AgentRound {
    let mut out = AgentRound::default();
    let options = PushOptions {
        instance_id: agent.instance_id.clone(),
        intervals: Intervals {
            refresh: DEFAULT_REFRESH_INTERVAL,
            quarantine_retry: DEFAULT_QUARANTINE_RETRY,
        },
        on_removed: OnRemoved::Clear,
        force: false,
        budget: Budget::new(DEFAULT_MAX_REQUEST_BYTES),
        // As the daemon: one attempt per push; the daemon's own backoff is below.
        retry: RetryPolicy {
            base: DEFAULT_RETRY_BASE,
            cap: DEFAULT_RETRY_CAP,
            max_attempts: Some(1),
        },
    };
    let backoff = RetryPolicy {
        base: DEFAULT_RETRY_BASE,
        cap: DEFAULT_RETRY_CAP,
        max_attempts: None,
    };
    let collected = Collected {
        items: agent.items.clone(),
        declared: TYPES.iter().map(|t| (*t).to_owned()).collect(),
        ..Collected::default()
    };
    tokio::time::sleep(fleet_splay(&agent.instance_id, splay)).await;
    let cancel = CancellationToken::new();
    let mut failures = 0u32;
    loop {
        let report = cycle::push(
            client,
            &collected,
            &mut agent.state,
            &agent.dir,
            &options,
            time::OffsetDateTime::now_utc(),
            &cancel,
        )
        .await;
        let now = round_start.elapsed().as_secs_f64();
        out.pushes += 1;
        out.requests += report.requests;
        for t in &report.sent_full {
            if changed.contains(t) {
                out.latencies.push(now);
                out.last_ack = out.last_ack.max(now);
            }
        }
        if report.complete() {
            break;
        }
        if !report.quarantined.is_empty()
            || report.instance_invalid.is_some()
            || report.state_error.is_some()
        {
            out.failure = Some(format!(
                "agent {}: quarantined {:?}, instance {:?}, state {:?}",
                agent.n, report.quarantined, report.instance_invalid, report.state_error
            ));
            break;
        }
        failures += 1;
        tokio::time::sleep(backoff.jittered(failures)).await;
    }
    out
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

struct RoundSummary {
    requests: usize,
    min_requests: usize,
    makespan: f64,
    ideal: f64,
    latencies: Vec<f64>,
    failures: Vec<String>,
}

async fn round(
    agents: Vec<Agent>,
    client: &aws_sdk_ssm::Client,
    round: usize,
    splay: Duration,
    tps: f64,
) -> (Vec<Agent>, RoundSummary) {
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    let mut min_requests = 0;
    for mut agent in agents {
        let before: Vec<Item> = std::mem::take(&mut agent.items);
        agent.items = items(agent.n, round);
        let changed: Vec<String> = agent
            .items
            .iter()
            .filter(|i| {
                !before
                    .iter()
                    .any(|b| b.type_name() == i.type_name() && b.content_hash() == i.content_hash())
            })
            .map(|i| i.type_name().to_owned())
            .collect();
        if !changed.is_empty() {
            min_requests += 1; // a few small items: one request holds them all
        }
        let client = client.clone();
        set.spawn(async move {
            let r = run_agent(&mut agent, &client, &changed, start, splay).await;
            (agent, r)
        });
    }
    let mut agents = Vec::new();
    let mut summary = RoundSummary {
        requests: 0,
        min_requests,
        makespan: 0.0,
        ideal: min_requests as f64 / tps,
        latencies: Vec::new(),
        failures: Vec::new(),
    };
    while let Some(joined) = set.join_next().await {
        let (agent, r) = joined.expect("agent task");
        summary.requests += r.requests;
        summary.makespan = summary.makespan.max(r.last_ack);
        summary.latencies.extend(r.latencies);
        summary.failures.extend(r.failure);
        agents.push(agent);
    }
    agents.sort_by_key(|a| a.n);
    summary
        .latencies
        .sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    (agents, summary)
}

fn parse_splay(s: &str, agents: usize, tps: f64) -> Duration {
    if s == "auto" {
        Duration::from_secs_f64(agents as f64 / tps)
    } else {
        humantime::parse_duration(s).expect("--splay: a duration such as 40s, or auto")
    }
}

fn main() {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let lost = runtime.block_on(simulate(args));
    std::process::exit(if lost == 0 { 0 } else { 1 });
}

async fn simulate(args: Args) -> usize {
    let splay = parse_splay(&args.splay, args.agents, args.tps);
    let emu = Emulator::start(EmulatorConfig {
        throttle_tps: Some(args.tps),
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator starts");
    let client = sdk_client::build(&sdk_client::ClientOptions {
        region: "us-east-1".into(),
        endpoint_url: Some(emu.endpoint_url()),
        static_credentials: Some((DEMO_ACCESS_KEY_ID.into(), DEMO_SECRET_ACCESS_KEY.into())),
        ..Default::default()
    })
    .await;
    let temp = tempfile::tempdir().expect("temp dir");
    let root = args
        .state_root
        .clone()
        .unwrap_or_else(|| temp.path().to_owned());
    let agents: Vec<Agent> = (0..args.agents)
        .map(|n| Agent {
            n,
            instance_id: format!("i-{:017x}", 0x000f_1ee7_0000_0000_u64 + n as u64),
            dir: root.join(format!("agent-{n:05}")),
            state: State::default(),
            items: Vec::new(),
        })
        .collect();
    println!(
        "fleet: {} agents, {} types each, emulator throttled at {} TPS, splay {}",
        args.agents,
        TYPES.len(),
        args.tps,
        humantime::format_duration(Duration::from_millis(splay.as_millis() as u64))
    );

    let (agents, r1) = round(agents, &client, 1, splay, args.tps).await;
    let after_round1 = emu.stats();
    let (agents, r2) = round(agents, &client, 2, splay, args.tps).await;
    let stats = emu.stats();

    // Delivered: the emulator holds every agent's latest item, hash and content.
    let mut delivered = 0usize;
    let mut lost = Vec::new();
    for agent in &agents {
        for item in &agent.items {
            let ok = emu
                .stored(&agent.instance_id, item.type_name())
                .is_some_and(|s| {
                    let mut stored: Vec<Row> = s.content.clone();
                    stored.sort();
                    let mut mine = item.content().to_vec();
                    mine.sort();
                    s.content_hash.as_deref() == Some(item.content_hash()) && stored == mine
                });
            if ok {
                delivered += 1;
            } else {
                lost.push(format!("{} {}", agent.instance_id, item.type_name()));
            }
        }
    }
    let expected = agents.len() * TYPES.len();

    let throttled_r1 = after_round1.faults.throttled;
    let throttled = stats.faults.throttled;
    let requests = r1.requests + r2.requests;
    let min_requests = r1.min_requests + r2.min_requests;
    let ideal = r1.ideal + r2.ideal;
    let makespan = r1.makespan + r2.makespan;
    let mut all: Vec<f64> = r1.latencies.iter().chain(&r2.latencies).copied().collect();
    all.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));

    println!(
        "round 1 (all items new): {} requests (min {}), {} throttled, makespan {:.1}s (ideal {:.1}s, {:.2}x), change->ack p50 {:.1}s p99 {:.1}s",
        r1.requests,
        r1.min_requests,
        throttled_r1,
        r1.makespan,
        r1.ideal,
        r1.makespan / r1.ideal,
        percentile(&r1.latencies, 50.0),
        percentile(&r1.latencies, 99.0)
    );
    println!(
        "round 2 (changes only):  {} requests (min {}), {} throttled, makespan {:.1}s (ideal {:.1}s, {:.2}x), change->ack p50 {:.1}s p99 {:.1}s",
        r2.requests,
        r2.min_requests,
        throttled - throttled_r1,
        r2.makespan,
        r2.ideal,
        r2.makespan / r2.ideal,
        percentile(&r2.latencies, 50.0),
        percentile(&r2.latencies, 99.0)
    );
    println!(
        "emulator: {} PutInventory requests signed, {} accepted, {} throttled, errors {:?}",
        stats.put_inventory_requests, stats.put_inventory_accepted, throttled, stats.errors
    );
    println!(
        "delivered {delivered}/{expected} items (checked against the emulator's store), lost {}",
        lost.len()
    );
    println!(
        "requests {requests} vs minimum {min_requests}: {:.3}x (target <= 1.3x: {})",
        requests as f64 / min_requests as f64,
        verdict(requests as f64 <= 1.3 * min_requests as f64)
    );
    println!(
        "makespan {makespan:.1}s vs ideal {ideal:.1}s: {:.3}x (target <= 1.5x: {})",
        makespan / ideal,
        verdict(makespan <= 1.5 * ideal)
    );
    println!(
        "change->ack over both rounds: p50 {:.2}s, p99 {:.2}s ({} changes)",
        percentile(&all, 50.0),
        percentile(&all, 99.0),
        all.len()
    );
    for f in r1.failures.iter().chain(&r2.failures).take(10) {
        println!("failure: {f}");
    }
    for l in lost.iter().take(10) {
        println!("lost: {l}");
    }
    println!(
        "RESULT agents={} delivered={delivered} expected={expected} lost={} requests={requests} min_requests={min_requests} throttled={throttled} makespan={makespan:.2} ideal={ideal:.2} p50={:.2} p99={:.2}",
        args.agents,
        lost.len(),
        percentile(&all, 50.0),
        percentile(&all, 99.0)
    );
    emu.shutdown().await;
    drop(temp);
    lost.len()
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}
