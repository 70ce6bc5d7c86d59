use super::*;

#[test]
fn renders_counters_gauges_and_labels() {
    let mut m = Metrics::default();
    m.record_probe_run("kernel", false);
    m.record_probe_run("kernel", true);
    m.record_probe_run("odd\"name", false);
    let report = PushReport {
        sent_full: vec!["Custom:A".into()],
        skipped: vec!["Custom:B".into(), "Custom:C".into()],
        pending: vec![("Custom:D".into(), "throttled".into())],
        requests: 3,
        bytes: 1200,
        errors: [("ThrottlingException".to_string(), 2)].into(),
        ..PushReport::default()
    };
    let at = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
    m.record_push(&report, 1, at);
    m.record_persistence(true, 4);
    let text = m.render();
    for line in [
        "# TYPE ssm_inventoryd_pushes_total counter",
        "ssm_inventoryd_pushes_total 1",
        "ssm_inventoryd_put_inventory_requests_total 3",
        "ssm_inventoryd_put_inventory_request_bytes_total 1200",
        "ssm_inventoryd_items_total{outcome=\"full\"} 1",
        "ssm_inventoryd_items_total{outcome=\"skipped\"} 2",
        "ssm_inventoryd_put_inventory_errors_total{code=\"ThrottlingException\"} 2",
        "ssm_inventoryd_quarantined_types 1",
        "ssm_inventoryd_pending_items 1",
        "ssm_inventoryd_probe_runs_total{probe=\"kernel\"} 2",
        "ssm_inventoryd_probe_failures_total{probe=\"kernel\"} 1",
        "ssm_inventoryd_probe_failures_total{probe=\"odd\\\"name\"} 0",
        "ssm_inventoryd_last_acknowledged_push_timestamp_seconds 1800000000",
        "ssm_inventoryd_state_persist_failing 1",
        "ssm_inventoryd_state_write_failures_total 4",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }
    assert_eq!(text.matches("# HELP ").count(), 12);
}

#[test]
fn the_file_is_replaced_whole_and_readable() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ssm_inventoryd.prom");
    let mut m = Metrics::default();
    m.write(&path).unwrap();
    m.record_probe_run("p", false);
    m.write(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("ssm_inventoryd_probe_runs_total{probe=\"p\"} 1"));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);
    // No temporary file is left beside it.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}
