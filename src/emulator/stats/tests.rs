use super::*;

#[test]
fn recent_sizes_keep_the_last_n() {
    let r = Recorder::default();
    for n in 0..(RECENT_BODY_SIZES + 5) {
        r.put_inventory(n);
    }
    let s = r.snapshot(0, std::iter::empty());
    assert_eq!(s.recent_put_body_sizes.len(), RECENT_BODY_SIZES);
    assert_eq!(s.recent_put_body_sizes[0], 5);
    assert_eq!(s.put_inventory_requests, (RECENT_BODY_SIZES + 5) as u64);
}

#[test]
fn counts_per_instance_and_errors() {
    let r = Recorder::default();
    r.instance_request("i-01234567", 100);
    r.accepted("i-01234567", 2, 1);
    r.error("ThrottlingException");
    r.error("ThrottlingException");
    r.fault(Fault::Throttle);
    let s = r.snapshot(3, [("i-01234567", 42)].into_iter());
    assert_eq!(
        s.instances["i-01234567"],
        InstanceStats {
            requests: 1,
            items: 3,
            bytes: 100,
            stored_bytes: 42
        }
    );
    assert_eq!(s.errors["ThrottlingException"], 2);
    assert_eq!(s.faults.throttled, 1);
    assert_eq!(s.items_stored, 2);
    assert_eq!(s.custom_types, 3);
}
