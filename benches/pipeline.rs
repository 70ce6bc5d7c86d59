//! Pipeline benchmark: canonicalise + hash + validate (`Item::new`) and batch
//! (`wire::item_bytes` + `batch::pack`) for 20 types × 10,000 rows × 8 attributes.
//!
//! Run: `cargo bench --bench pipeline` (or `benches/run-pipeline.sh`, which also runs the
//! Python reference on the same data and prints the ratio).
//!
//! The data set comes from a tiny seeded generator (splitmix64) that
//! `benches/pipeline_reference.py` implements identically, so both sides see the same rows
//! without a file in between; both print a digest of the 20 ContentHashes and of the packing,
//! and the script refuses to print a ratio when they differ (different data or a different
//! pipeline would make the ratio meaningless).
//!
//! It then runs the daemon's own path on the same rows: printed as a probe prints them (one SSM
//! Agent document per type, each row's attributes in the order generated, not sorted), read
//! straight into canonical rows (`probe::output::parse`), checked, put in order and hashed
//! (`Item::from_rows`), and packed. It must give the same items and requests (the same
//! digest); its throughput is printed as `output_mbps`. Rows as maps exist only in tools and
//! tests, so this is the figure for what a probe's output costs the daemon.
//!
//! "Content bytes" are the canonical JSON bytes of every item's Content (`[row,row,…]`), the
//! bytes that are hashed. Throughput is content bytes / median wall time of one whole pass.
//!
//! Environment: `PIPELINE_RUNS` (default 7) passes; `PIPELINE_ROWS` (default 10000) rows per
//! type, for a quick look; `PIPELINE_VERBOSE` prints every hash and request.

use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use ssm_inventoryd::batch::{self, Budget};
use ssm_inventoryd::inventory::canonical::canonical_content;
use ssm_inventoryd::inventory::{Item, ItemHead, RawItem, Row, validate};
use ssm_inventoryd::probe::output;
use ssm_inventoryd::wire::{self, Payload};

const TYPES: usize = 20;
const ATTRIBUTES: [&str; 8] = [
    "Name",
    "Version",
    "Architecture",
    "Publisher",
    "InstalledTime",
    "Summary",
    "PackageId",
    "Release",
];
const SEED: u64 = 0x5353_4d49_6e76_656e; // "SSMInven"
const INSTANCE_ID: &str = "i-0123456789abcdef0";
const CAPTURE_TIME: &str = "2026-11-27T10:00:00Z";
/// The daemon's default `max_request_bytes`.
const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// splitmix64, as in `pipeline_reference.py`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._";

/// 4096 words of 3 to 10 characters (six bits of one draw per character).
fn word_pool(rng: &mut Rng) -> Vec<String> {
    (0..4096)
        .map(|_| {
            let x = rng.next();
            let len = 3 + (x % 8) as usize;
            (0..len)
                .map(|i| ALPHABET[((x >> (4 + 6 * i)) & 63) as usize] as char)
                .collect()
        })
        .collect()
}

/// One attribute value: 1 to 4 words joined by `-` or a space; one value in 61 carries the
/// characters JSON has to escape (quote, backslash, tab) and non-ASCII text.
fn value(rng: &mut Rng, words: &[String]) -> String {
    let x = rng.next();
    let n = 1 + (x & 3) as usize;
    let sep = if (x >> 62) & 1 == 1 { " " } else { "-" };
    let mut out = String::new();
    for i in 0..n {
        if i > 0 {
            out.push_str(sep);
        }
        out.push_str(&words[((x >> (2 + 12 * i)) & 4095) as usize]);
    }
    if x.is_multiple_of(61) {
        out.push_str(" say \"hi\"\\\tÜnïcode €");
    }
    out
}

fn generate(rows_per_type: usize) -> Vec<RawItem> {
    let mut rng = Rng(SEED);
    let words = word_pool(&mut rng);
    (0..TYPES)
        .map(|t| RawItem {
            type_name: format!("Custom:Bench{t:02}"),
            schema_version: "1.0".into(),
            capture_time: CAPTURE_TIME.into(),
            rows: (0..rows_per_type)
                .map(|_| {
                    ATTRIBUTES
                        .iter()
                        .map(|a| ((*a).to_owned(), value(&mut rng, &words)))
                        .collect::<Row>()
                })
                .collect(),
            ..RawItem::default()
        })
        .collect()
}

/// Each type's rows as a probe prints them: an SSM Agent document, the attributes of each row
/// in the order they were generated (not sorted), compact JSON.
fn probe_outputs(raws: &[RawItem]) -> Vec<Vec<u8>> {
    raws.iter()
        .map(|raw| {
            let mut out = format!(
                "{{\"SchemaVersion\":\"{}\",\"TypeName\":\"{}\",\"Content\":[",
                raw.schema_version, raw.type_name
            )
            .into_bytes();
            for (i, row) in raw.rows.iter().enumerate() {
                out.extend_from_slice(if i > 0 { b",{" } else { b"{" });
                for (j, name) in ATTRIBUTES.iter().enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    serde_json::to_writer(&mut out, name).expect("a string");
                    out.push(b':');
                    serde_json::to_writer(&mut out, &row[*name]).expect("a string");
                }
                out.push(b'}');
            }
            out.extend_from_slice(b"]}");
            out
        })
        .collect()
}

/// A document read from a probe's output, with the CaptureTime the daemon gives it, as an item.
fn item_of(doc: output::Document) -> Item {
    let head = ItemHead {
        type_name: doc.type_name.expect("a document names its type"),
        schema_version: doc.schema_version.expect("a document has a SchemaVersion"),
        capture_time: CAPTURE_TIME.into(),
        context: None,
        keep_order: false,
    };
    Item::from_rows(head, doc.rows).expect("generated items are valid")
}

/// The pipeline under test: everything from raw rows to packed requests.
fn pipeline(raws: Vec<RawItem>) -> (Vec<Item>, Vec<batch::Request>) {
    let items: Vec<Item> = raws
        .into_iter()
        .map(|raw| Item::new(raw).expect("generated items are valid"))
        .collect();
    let requests = pack(&items);
    (items, requests)
}

/// The items packed into requests as the daemon packs them (`wire::item_bytes` +
/// `batch::pack`).
fn pack(items: &[Item]) -> Vec<batch::Request> {
    let sized: Vec<batch::Sized<'_>> = items
        .iter()
        .map(|item| batch::Sized {
            bytes: wire::item_bytes(item, Payload::Full),
            key: item.type_name(),
        })
        .collect();
    batch::pack(
        &sized,
        wire::request_overhead(INSTANCE_ID),
        Budget::new(MAX_REQUEST_BYTES),
    )
}

/// MD5 over the hashes and the packing: equal on both sides only if both computed the same.
fn digest(items: &[Item], requests: &[batch::Request]) -> String {
    let mut h = Md5::new();
    for item in items {
        h.update(item.type_name().as_bytes());
        h.update(b"=");
        h.update(item.content_hash().as_bytes());
        h.update(b"\n");
    }
    for r in requests {
        let names: Vec<&str> = r.items.iter().map(|&i| items[i].type_name()).collect();
        h.update(format!("{}:{}\n", names.join(","), r.bytes).as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let runs = env_usize("PIPELINE_RUNS", 7).max(1);
    let rows = env_usize("PIPELINE_ROWS", 10_000);
    let started = Instant::now();
    let data = generate(rows);
    eprintln!(
        "generated {TYPES} types × {rows} rows × {} attributes in {:.2?}",
        ATTRIBUTES.len(),
        started.elapsed()
    );

    // One untimed pass for the reference figures: content bytes, digest, request count.
    let (items, requests) = pipeline(data.clone());
    let content_bytes: usize = items.iter().map(|i| i.content_json().len()).sum();
    let digest = digest(&items, &requests);
    if std::env::var_os("PIPELINE_VERBOSE").is_some() {
        for item in &items {
            println!("{} {}", item.type_name(), item.content_hash());
        }
        for r in &requests {
            let names: Vec<&str> = r.items.iter().map(|&i| items[i].type_name()).collect();
            println!("{names:?} {} {}", r.bytes, r.oversized);
        }
    }
    let request_count = requests.len();
    drop((items, requests));

    let mut totals = Vec::with_capacity(runs);
    let mut item_new = Vec::with_capacity(runs);
    let mut batching = Vec::with_capacity(runs);
    for _ in 0..runs {
        let input = data.clone();
        let start = Instant::now();
        let items: Vec<Item> = input
            .into_iter()
            .map(|raw| Item::new(raw).expect("valid"))
            .collect();
        let mid = Instant::now();
        let requests = pack(&items);
        let end = Instant::now();
        assert_eq!(requests.len(), request_count);
        std::hint::black_box(&requests);
        totals.push(end - start);
        item_new.push(mid - start);
        batching.push(end - mid);
        drop(items);
    }
    // Where the time goes: the stages of Item::new timed on their own (medians over the runs).
    let (mut check, mut serialise, mut hash) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let start = Instant::now();
        for raw in &data {
            validate::check_rows(&raw.type_name, &raw.rows).expect("valid");
        }
        check.push(start.elapsed());
        let start = Instant::now();
        let bodies: Vec<Vec<u8>> = data
            .iter()
            .map(|raw| canonical_content(&raw.rows))
            .collect();
        serialise.push(start.elapsed());
        let start = Instant::now();
        for body in &bodies {
            std::hint::black_box(Md5::digest(body));
        }
        hash.push(start.elapsed());
    }
    let (check, serialise, hash) = (median(check), median(serialise), median(hash));

    // The daemon's own path: the same rows as a probe prints them, read straight into their
    // canonical form (`probe::output::parse`), then checked, put in order and hashed
    // (`Item::from_rows`), then packed. Same items and requests (same digest) as from rows.
    let outputs = probe_outputs(&data);
    let output_bytes: usize = outputs.iter().map(Vec::len).sum();
    let (mut from_output, mut reading) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    for _ in 0..runs {
        let start = Instant::now();
        let documents: Vec<output::Document> = outputs
            .iter()
            .flat_map(|text| output::parse(text).expect("generated output is valid"))
            .collect();
        let read = Instant::now();
        let items: Vec<Item> = documents.into_iter().map(item_of).collect();
        let requests = pack(&items);
        let end = Instant::now();
        from_output.push(end - start);
        reading.push(read - start);
        assert_eq!(
            self::digest(&items, &requests),
            digest,
            "the same items and requests from the output as from rows"
        );
    }
    let output_total = median(from_output.clone());
    let output_all: Vec<String> = from_output
        .iter()
        .map(|d| format!("{:.1}", d.as_secs_f64() * 1e3))
        .collect();

    let total = median(totals.clone());
    let mbps = content_bytes as f64 / total.as_secs_f64() / 1e6;
    let all: Vec<String> = totals
        .iter()
        .map(|d| format!("{:.1}", d.as_secs_f64() * 1e3))
        .collect();
    println!(
        "rust pipeline: {TYPES} types x {rows} rows x {} attributes, {content_bytes} content bytes, {request_count} requests",
        ATTRIBUTES.len()
    );
    println!(
        "rust pipeline: median of {runs} runs {:.1} ms ({} ms) = {mbps:.1} MB/s",
        total.as_secs_f64() * 1e3,
        all.join(" ")
    );
    println!(
        "rust pipeline: of which Item::new (validate + canonicalise + hash) {:.1} ms, item_bytes + pack {:.1} ms",
        median(item_new.clone()).as_secs_f64() * 1e3,
        median(batching).as_secs_f64() * 1e3
    );
    let item_new_ms = median(item_new.clone()).as_secs_f64() * 1e3;
    let parts_ms = (check + serialise + hash).as_secs_f64() * 1e3;
    println!(
        "rust pipeline: stages on their own: check_rows {:.1} ms, serialise rows {:.1} ms, MD5 {:.1} ms ({:.0} MB/s); Item::new minus these ~{:.1} ms (it checks and serialises in one pass, then sorts)",
        check.as_secs_f64() * 1e3,
        serialise.as_secs_f64() * 1e3,
        hash.as_secs_f64() * 1e3,
        content_bytes as f64 / hash.as_secs_f64() / 1e6,
        (item_new_ms - parts_ms).max(0.0)
    );
    let output_mbps = content_bytes as f64 / output_total.as_secs_f64() / 1e6;
    println!(
        "rust pipeline from probe output ({output_bytes} bytes of SSM Agent documents): median of {runs} runs {:.1} ms ({} ms) = {output_mbps:.1} MB/s",
        output_total.as_secs_f64() * 1e3,
        output_all.join(" ")
    );
    println!(
        "rust pipeline from probe output: of which reading into canonical rows {:.1} ms, order + MD5 + pack {:.1} ms",
        median(reading.clone()).as_secs_f64() * 1e3,
        (output_total.as_secs_f64() - median(reading).as_secs_f64()).max(0.0) * 1e3
    );
    println!(
        "RESULT impl=rust seconds={:.6} content_bytes={content_bytes} mbps={mbps:.2} output_mbps={output_mbps:.2} requests={request_count} digest={digest}",
        total.as_secs_f64()
    );
}
