//! Peak memory of `collect` when a probe prints hostile output of up to `max_output_bytes`
//! (8 MiB, the default): the daemon runs under a MemoryMax, so output it will refuse must be
//! refused without first costing a multiple of its size, and a valid item must cost about
//! what the item is.
//!
//! Each shape runs the real binary on its own, with an exec probe that `cat`s a generated
//! file, and its peak resident set is the `ru_maxrss` that `wait4` returns for that one child.
//! That figure includes this test's own memory at the time of the spawn (see
//! `reset_own_peak`), printed as "test kB", so it can only overstate the binary's peak.
//! Only memory and the outcome are asserted, never time: the figures printed are for reading
//! (the release figures are in BENCHMARKS.md, from `benches/output-shapes.sh`).

mod common;

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use common::peak::{self, reset_own_peak};

/// The default `max_output_bytes`; every shape fits under it.
const MAX_OUTPUT_BYTES: usize = 8 * 1024 * 1024;

/// Peak a debug build may reach on output it refuses, or on a small item: its code and
/// runtime take about 25 MB before any output is read.
const DEBUG_BOUND_KB: u64 = 96 * 1024;

struct Shape {
    name: &'static str,
    make: fn() -> String,
    /// `Some(text)`: refused, with `text` in the error line; `None`: accepted.
    refused_with: Option<&'static str>,
    bound_kb: u64,
}

const SHAPES: &[Shape] = &[
    Shape {
        name: "tiny rows",
        make: tiny_rows,
        refused_with: Some("for Custom:Shape: 10001 rows, over the limit of 10000"),
        bound_kb: DEBUG_BOUND_KB,
    },
    Shape {
        name: "tiny rows, Content first",
        make: tiny_rows_document,
        refused_with: Some("for Custom:Shape: 10001 rows, over the limit of 10000"),
        bound_kb: DEBUG_BOUND_KB,
    },
    Shape {
        name: "10,000 rows x 50 attributes",
        make: wide_rows,
        refused_with: None,
        // A valid item at both limits: its 500,000 attributes, as `inventory::Row` maps of
        // `String`s, take about 66 MB whatever reads them (see BENCHMARKS.md).
        bound_kb: 160 * 1024,
    },
    Shape {
        name: "one 8 MB string",
        make: long_value,
        refused_with: Some("row 0 attribute `V` has a value of 8388598 characters"),
        bound_kb: DEBUG_BOUND_KB,
    },
    Shape {
        name: "nesting 100,000 deep",
        make: deep,
        refused_with: Some("output is not valid JSON at line 1, column 128: recursion limit"),
        bound_kb: DEBUG_BOUND_KB,
    },
    Shape {
        name: "1M keys in one object",
        make: many_keys,
        refused_with: Some("for Custom:Shape: row 0 has 51 attributes, over the limit of 50"),
        bound_kb: DEBUG_BOUND_KB,
    },
    Shape {
        name: "valid 10,000-row item",
        make: valid_item,
        refused_with: None,
        bound_kb: DEBUG_BOUND_KB,
    },
];

/// `[{"a":"1"},…]`, as many rows as fit (838,860).
fn tiny_rows() -> String {
    let rows = (MAX_OUTPUT_BYTES - 2) / 10;
    let mut text = String::with_capacity(MAX_OUTPUT_BYTES);
    text.push('[');
    for i in 0..rows {
        if i > 0 {
            text.push(',');
        }
        text.push_str(r#"{"a":"1"}"#);
    }
    text.push(']');
    text
}

/// The same rows as a document whose `Content` comes before its `TypeName`: the first
/// object, read as both a document and a row until its end.
fn tiny_rows_document() -> String {
    let prefix = r#"{"Content":"#;
    let suffix = r#","TypeName":"Custom:Shape"}"#;
    let rows = (MAX_OUTPUT_BYTES - prefix.len() - suffix.len() - 2) / 10;
    let mut text = String::with_capacity(MAX_OUTPUT_BYTES);
    text.push_str(prefix);
    text.push('[');
    for i in 0..rows {
        if i > 0 {
            text.push(',');
        }
        text.push_str(r#"{"a":"1"}"#);
    }
    text.push(']');
    text.push_str(suffix);
    text
}

fn wide_rows() -> String {
    let attributes: Vec<String> = (0..50).map(|i| format!(r#""A{i:02}":"v""#)).collect();
    let row = format!("{{{}}}", attributes.join(","));
    format!("[{}]", vec![row; 10_000].join(","))
}

fn long_value() -> String {
    format!(r#"{{"V":"{}"}}"#, "x".repeat(MAX_OUTPUT_BYTES - 10))
}

fn deep() -> String {
    format!("{}{}", "[".repeat(100_000), "]".repeat(100_000))
}

/// One object with distinct short keys (printable ASCII), as many as fit (1,020,499).
fn many_keys() -> String {
    let alphabet: Vec<char> = (33u8..127)
        .map(char::from)
        .filter(|c| *c != '"' && *c != '\\')
        .collect();
    let mut text = String::with_capacity(MAX_OUTPUT_BYTES);
    text.push('{');
    let mut key = String::new();
    'lengths: for length in 1..=4u32 {
        let count = alphabet.len().pow(length);
        for mut n in 0..count {
            key.clear();
            for _ in 0..length {
                key.push(alphabet[n % alphabet.len()]);
                n /= alphabet.len();
            }
            // `,"key":0` and the closing brace.
            if text.len() + key.len() + 6 > MAX_OUTPUT_BYTES {
                break 'lengths;
            }
            if text.len() > 1 {
                text.push(',');
            }
            let _ = write!(text, r#""{key}":0"#);
        }
    }
    text.push('}');
    text
}

fn valid_item() -> String {
    let rows: Vec<String> = (0..10_000)
        .map(|i| {
            format!(
                r#"{{"Name":"pkg-{i:05}","Version":"1.2.{}","Arch":"x86_64"}}"#,
                i % 7
            )
        })
        .collect();
    format!("[{}]", rows.join(","))
}

struct Run {
    peak_kb: u64,
    exit: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `collect` on a probe that prints the file `data`, and returns its own peak RSS.
fn collect(dir: &Path, data: &Path) -> Run {
    let config = dir.join("config.toml");
    fs::write(
        &config,
        format!(
            "[agent]\nprobes_dir = \"none\"\n\n[[probe]]\nname = \"shape\"\nkind = \"exec\"\n\
             type_name = \"Custom:Shape\"\ncommand = [\"/bin/cat\", \"{}\"]\ntimeout = \"60s\"\n",
            data.display()
        ),
    )
    .expect("write config");
    let run = peak::collect_peak(&config, dir);
    Run {
        peak_kb: run.peak_kb,
        exit: run.exit,
        stdout: fs::read_to_string(&run.stdout_path).expect("read stdout"),
        stderr: run.stderr,
    }
}

#[test]
fn hostile_output_is_refused_in_bounded_memory() {
    let mut failures = Vec::new();
    println!(
        "{:<30} {:>10} {:>9} {:>8}  outcome",
        "shape", "bytes", "peak kB", "test kB"
    );
    for shape in SHAPES {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("output.json");
        {
            let output = (shape.make)();
            assert!(
                output.len() <= MAX_OUTPUT_BYTES,
                "{} is too large",
                shape.name
            );
            fs::write(&data, output).expect("write output");
        }
        let own = reset_own_peak();
        let run = collect(dir.path(), &data);
        // The error line from where it names the probe, without the log prefix.
        let error_line = run
            .stderr
            .lines()
            .find_map(|l| l.find("probe `shape`").map(|at| &l[at..]))
            .unwrap_or_default();
        let outcome_ok = match shape.refused_with {
            Some(text) => run.exit == Some(1) && error_line.contains(text) && run.stdout.is_empty(),
            None => {
                run.exit == Some(0)
                    && run.stdout.lines().count() == 1
                    && run.stdout.contains(r#""TypeName":"Custom:Shape""#)
            }
        };
        let outcome = match shape.refused_with {
            Some(_) => format!(
                "refused: {}",
                error_line.chars().take(160).collect::<String>()
            ),
            None => format!("accepted: {} bytes of item", run.stdout.len()),
        };
        println!(
            "{:<30} {:>10} {:>9} {:>8}  {outcome}",
            shape.name,
            fs::metadata(&data).map_or(0, |m| m.len()),
            run.peak_kb,
            own.map_or_else(|| "?".to_owned(), |kb| kb.to_string())
        );
        if !outcome_ok {
            failures.push(format!(
                "{}: exit {:?}, expected {:?}\nstderr: {}",
                shape.name,
                run.exit,
                shape.refused_with.unwrap_or("acceptance"),
                run.stderr.chars().take(2000).collect::<String>()
            ));
        }
        if run.peak_kb > shape.bound_kb {
            failures.push(format!(
                "{}: peak RSS {} KB, over the bound of {} KB",
                shape.name, run.peak_kb, shape.bound_kb
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
