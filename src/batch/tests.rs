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
        let body = OVERHEAD + r.items.iter().map(|&i| sizes[i]).sum::<usize>() + r.items.len() - 1;
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
