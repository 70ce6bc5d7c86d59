//! Live heap bytes of one item at each stage of its way to PutInventory, to see where a push's
//! memory goes:
//!
//! ```sh
//! cargo run --release --example memory_breakdown -- FILE [TYPE_NAME]
//! ```
//!
//! FILE is probe output or an SSM Agent custom inventory document. The stages are the text as
//! read, the rows read from it (already in their canonical form), the validated item (rows in
//! canonical order plus hash), and the request body
//! (rendered by the daemon; the SDK is given the items without their Content). Counted by a wrapping global
//! allocator, so the figures are exact and do not depend on the build profile; the process's
//! code and the allocator's own overhead are not in them.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use ssm_inventoryd::inventory::{Item, ItemHead};
use ssm_inventoryd::probe::output;
use ssm_inventoryd::wire::{self, Payload};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed to the system allocator unchanged; only a counter is kept.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

fn show(stage: &str, bytes: usize, note: &str) {
    println!("{stage:<34} {:>10} kB  {note}", bytes / 1024);
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: memory_breakdown FILE [TYPE_NAME]")?;
    let type_name = args.next().unwrap_or_else(|| "Custom:Measured".into());

    let start = live();
    let text = std::fs::read(&path)?;
    let text_bytes = live() - start;
    show(
        "probe output (text)",
        text_bytes,
        &format!("{} bytes", text.len()),
    );

    let before = live();
    let mut documents = output::parse(&text)?;
    let rows_bytes = live() - before;
    let document = documents.pop().ok_or("no document in the file")?;
    let rows: usize = document.rows.len();
    show(
        "rows as read",
        rows_bytes,
        &format!(
            "{rows} rows: {:.0} bytes per row, in their canonical form",
            rows_bytes as f64 / rows.max(1) as f64
        ),
    );
    drop(text);

    let head = ItemHead {
        type_name: document.type_name.unwrap_or(type_name),
        schema_version: document.schema_version.unwrap_or_else(|| "1.0".into()),
        capture_time: "2026-12-01T10:00:00Z".into(),
        ..ItemHead::default()
    };
    let item = Item::from_rows(head, document.rows)?;
    show(
        "validated item (all it holds)",
        live() - start,
        &format!("{} bytes of canonical content", item.content_bytes()),
    );

    let before = live();
    let body = wire::request_body("i-0123456789abcdef0", &[(&item, Payload::Full)]);
    show(
        "request body",
        live() - before,
        &format!("{} bytes", body.len()),
    );
    drop(body);
    show("held after the push", live() - start, "the item alone");
    Ok(())
}
