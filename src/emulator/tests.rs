use super::*;

#[test]
fn config_checks() {
    assert!(EmulatorConfig::default().check().is_ok());
    let c = EmulatorConfig {
        fail_rate: 1.5,
        ..Default::default()
    };
    assert_eq!(c.check().unwrap_err().exit_code(), 2);
    let c = EmulatorConfig {
        throttle_tps: Some(0.0),
        ..Default::default()
    };
    assert!(c.check().is_err());
    let c = EmulatorConfig {
        parameter_tps: Some(f64::NAN),
        ..Default::default()
    };
    assert!(c.check().is_err());
    let c = EmulatorConfig {
        credentials: vec![],
        ..Default::default()
    };
    assert!(c.check().is_err());
    let c = EmulatorConfig {
        max_connections: 0,
        ..Default::default()
    };
    assert_eq!(c.check().unwrap_err().exit_code(), 2);
    let c = EmulatorConfig {
        header_read_timeout: Duration::ZERO,
        ..Default::default()
    };
    assert!(c.check().is_err());
    let c = EmulatorConfig {
        body_read_timeout: Duration::ZERO,
        ..Default::default()
    };
    assert!(c.check().is_err());
}

#[tokio::test]
async fn start_reports_the_bound_address_and_stops() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    assert!(emu.local_addr().ip().is_loopback());
    assert_ne!(emu.local_addr().port(), 0);
    assert_eq!(
        emu.endpoint_url(),
        format!("http://127.0.0.1:{}", emu.local_addr().port())
    );
    let addr = emu.local_addr();
    emu.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn bind_errors_name_the_address() {
    let first = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let taken = EmulatorConfig {
        listen: first.local_addr(),
        ..Default::default()
    };
    let err = Emulator::start(taken).await.unwrap_err();
    assert!(
        err.to_string().contains(&first.local_addr().to_string()),
        "{err}"
    );
    assert_eq!(err.exit_code(), 1);
}
