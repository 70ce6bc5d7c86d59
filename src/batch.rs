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
mod tests {
    use super::*;
    use proptest::prelude::*;

    const OVERHEAD: usize = 50;

    fn keys(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("Custom:T{i:04}")).collect()
    }

    fn sized<'a>(sizes: &[usize], keys: &'a [String]) -> Vec<Sized<'a>> {
        sizes
            .iter()
            .zip(keys)
            .map(|(&bytes, key)| Sized { bytes, key })
            .collect()
    }

    /// Checks everything that must hold for any input and returns nothing on success.
    fn check_invariants(sizes: &[usize], budget: Budget, requests: &[Request]) {
        let mut seen = vec![0u32; sizes.len()];
        for r in requests {
            assert!(!r.items.is_empty());
            assert!(r.items.len() <= budget.max_items, "{} items", r.items.len());
            let body =
                OVERHEAD + r.items.iter().map(|&i| sizes[i]).sum::<usize>() + r.items.len() - 1;
            assert_eq!(body, r.bytes);
            if r.oversized {
                assert_eq!(r.items.len(), 1, "an oversized item goes alone");
                assert!(body > budget.max_bytes);
            } else {
                assert!(body <= budget.max_bytes, "{body} > {}", budget.max_bytes);
            }
            for &i in &r.items {
                seen[i] += 1;
            }
        }
        assert!(seen.iter().all(|&n| n == 1), "every item exactly once");
    }

    fn lower_bound(sizes: &[usize], budget: Budget) -> usize {
        let n = sizes.len();
        let total: usize = sizes.iter().sum();
        let by_count = n.div_ceil(budget.max_items);
        // The smallest body that can hold everything: one overhead per request is the least.
        let by_bytes = total.div_ceil(budget.max_bytes);
        by_count.max(by_bytes)
    }

    #[test]
    fn empty_input_gives_no_requests() {
        assert!(pack(&[], OVERHEAD, Budget::new(1000)).is_empty());
    }

    #[test]
    fn thirty_one_small_items_need_two_requests() {
        let k = keys(31);
        let sizes = vec![10; 31];
        let requests = pack(&sized(&sizes, &k), OVERHEAD, Budget::new(1 << 20));
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].items.len(), 30);
    }

    #[test]
    fn oversized_item_goes_alone_and_is_flagged() {
        let k = keys(3);
        let sizes = vec![5_000, 10, 10];
        let requests = pack(&sized(&sizes, &k), OVERHEAD, Budget::new(1_000));
        assert_eq!(requests.len(), 2);
        assert!(requests[0].oversized);
        assert_eq!(requests[0].items, vec![0]);
        assert_eq!(requests[1].items.len(), 2);
    }

    #[test]
    fn packing_ignores_input_order() {
        let k = keys(5);
        let sizes = [300, 200, 300, 100, 250];
        let budget = Budget::new(700);
        let a = pack(&sized(&sizes, &k), OVERHEAD, budget);
        // Same items, reversed: the same TypeNames land in the same requests.
        let rk: Vec<String> = k.iter().rev().cloned().collect();
        let rs: Vec<usize> = sizes.iter().rev().copied().collect();
        let b = pack(&sized(&rs, &rk), OVERHEAD, budget);
        let names = |reqs: &[Request], ks: &[String]| -> Vec<Vec<String>> {
            reqs.iter()
                .map(|r| r.items.iter().map(|&i| ks[i].clone()).collect())
                .collect()
        };
        assert_eq!(names(&a, &k), names(&b, &rk));
    }

    proptest! {
        // PROPTEST_CASES raises the count for a long run; CI uses the default.
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(4000)
        ))]

        /// Any sizes at all, including items over the budget: the hard invariants hold.
        #[test]
        fn invariants_hold_for_any_sizes(
            sizes in prop::collection::vec(1usize..300_000, 0..200),
            max_bytes in 1_000usize..1_100_000,
        ) {
            let budget = Budget::new(max_bytes);
            let k = keys(sizes.len());
            let requests = pack(&sized(&sizes, &k), OVERHEAD, budget);
            check_invariants(&sizes, budget, &requests);
        }

        /// Inventory as fleets produce it: many small types, some large ones, rarely one over
        /// the budget. The request count stays within one of the lower bound, counting each
        /// oversized item as the request it must be.
        #[test]
        fn request_count_is_near_the_lower_bound(
            small in prop::collection::vec(100usize..4_000, 0..150),
            large_fraction in prop::collection::vec(1u32..1_000, 0..12),
            oversized in prop::collection::vec(1usize..3, 0..2),
            max_bytes in 64_000usize..1_100_000,
        ) {
            let budget = Budget::new(max_bytes);
            // Large items are up to a tenth of the budget each.
            let mut sizes: Vec<usize> = small;
            sizes.extend(large_fraction.iter().map(|&f| (max_bytes / 10) * f as usize / 1_000 + 1));
            let fitting = sizes.clone();
            sizes.extend(oversized.iter().map(|&m| max_bytes * m + 1));
            let k = keys(sizes.len());
            let requests = pack(&sized(&sizes, &k), OVERHEAD, budget);
            check_invariants(&sizes, budget, &requests);
            let bound = lower_bound(&fitting, budget) + oversized.len();
            prop_assert!(
                requests.len() <= bound + 1,
                "{} requests, lower bound {}", requests.len(), bound
            );
        }
    }
}
