//! Packs items into PutInventory requests: at most 30 items and at most `max_request_bytes` of
//! request body each.
//!
//! Pure and deterministic: it sees sizes and names, never AWS. First-fit decreasing keeps the
//! request count near the minimum (fewer requests means fewer chances to be throttled across a
//! fleet), and ties are broken by TypeName so the same inputs always give the same requests —
//! which keeps dry-run output and logs comparable from one run to the next.

use crate::inventory::limits::MAX_ITEMS_PER_REQUEST;

/// What one request may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Most items in one request (the service allows 30).
    pub max_items: usize,
    /// Most bytes of serialized request body, overhead included.
    pub max_bytes: usize,
}

impl Budget {
    pub fn new(max_bytes: usize) -> Budget {
        Budget {
            max_items: MAX_ITEMS_PER_REQUEST,
            max_bytes,
        }
    }
}

/// One item as the batcher sees it.
#[derive(Debug, Clone, Copy)]
pub struct Sized<'a> {
    /// Serialized bytes of the item inside the request body.
    pub bytes: usize,
    /// Tie-breaker for equal sizes, so packing does not depend on input order.
    pub key: &'a str,
}

/// A packed request: indices into the input slice, and its body size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub items: Vec<usize>,
    /// Body bytes: the fixed overhead, the items and the commas between them.
    pub bytes: usize,
    /// True when this request holds one item that alone is over the byte budget. It is still
    /// sent: the service's real limits are unpublished, so only it can say no.
    pub oversized: bool,
}

/// Packs `items` given the bytes every request spends outside its items (`overhead`).
///
/// First-fit decreasing alone can open two requests more than the lower bound when both the
/// item count and the byte budget bind (it fills early requests with large items, leaving
/// small ones nothing but new requests to go to). So a balanced packing into exactly `k`
/// requests is tried as well, for `k` from the lower bound up, and the one with fewer
/// requests wins; FFD's on a tie.
pub fn pack(items: &[Sized<'_>], overhead: usize, budget: Budget) -> Vec<Request> {
    let budget = Budget {
        max_items: budget.max_items.max(1),
        ..budget
    };
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| {
        items[b]
            .bytes
            .cmp(&items[a].bytes)
            .then_with(|| items[a].key.cmp(items[b].key))
            .then_with(|| a.cmp(&b))
    });
    // Items that alone exceed the budget go alone; the service, not us, has the last word.
    let (oversized, fitting): (Vec<usize>, Vec<usize>) = order
        .into_iter()
        .partition(|&i| overhead + items[i].bytes > budget.max_bytes);

    let mut packed = first_fit(items, &fitting, overhead, budget);
    let lower_bound = fitting.len().div_ceil(budget.max_items).max(
        fitting
            .iter()
            .map(|&i| items[i].bytes)
            .sum::<usize>()
            .div_ceil(budget.max_bytes),
    );
    for k in lower_bound..packed.len() {
        if let Some(balanced) = balanced(items, &fitting, overhead, budget, k) {
            packed = balanced;
            break;
        }
    }

    let mut requests: Vec<Request> = oversized
        .into_iter()
        .map(|i| Request {
            items: vec![i],
            bytes: overhead + items[i].bytes,
            oversized: true,
        })
        .collect();
    requests.extend(packed);
    requests
}

fn fits(request: &Request, size: usize, budget: Budget) -> bool {
    request.items.len() < budget.max_items && request.bytes + 1 + size <= budget.max_bytes
}

fn add(request: &mut Request, index: usize, size: usize) {
    request.bytes += if request.items.is_empty() {
        size
    } else {
        1 + size
    };
    request.items.push(index);
}

fn empty(overhead: usize) -> Request {
    Request {
        items: Vec::new(),
        bytes: overhead,
        oversized: false,
    }
}

/// Each item, largest first, into the first request with room.
fn first_fit(
    items: &[Sized<'_>],
    order: &[usize],
    overhead: usize,
    budget: Budget,
) -> Vec<Request> {
    let mut requests: Vec<Request> = Vec::new();
    for &index in order {
        let size = items[index].bytes;
        match requests.iter_mut().find(|r| fits(r, size, budget)) {
            Some(request) => add(request, index, size),
            None => {
                let mut request = empty(overhead);
                add(&mut request, index, size);
                requests.push(request);
            }
        }
    }
    requests
}

/// Each item, largest first, into the emptiest of exactly `k` requests (fewest bytes, then
/// fewest items, then lowest index), so both bytes and counts spread evenly. `None` when
/// some item finds no room.
fn balanced(
    items: &[Sized<'_>],
    order: &[usize],
    overhead: usize,
    budget: Budget,
    k: usize,
) -> Option<Vec<Request>> {
    let mut requests: Vec<Request> = (0..k).map(|_| empty(overhead)).collect();
    for &index in order {
        let size = items[index].bytes;
        let target = requests
            .iter_mut()
            .filter(|r| r.items.is_empty() || fits(r, size, budget))
            .min_by_key(|r| (r.bytes, r.items.len()))?;
        add(target, index, size);
    }
    requests.retain(|r| !r.items.is_empty());
    Some(requests)
}

#[cfg(test)]
mod tests;
