//! The emulator on a loopback port, and a real `aws-sdk-ssm` client configured explicitly (no
//! default credential chain, no instance metadata, no retries) pointed at it, for the tests
//! of the emulator itself.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use aws_sdk_ssm::Client;
use aws_sdk_ssm::config::retry::RetryConfig;
use aws_sdk_ssm::config::timeout::TimeoutConfig;
use aws_sdk_ssm::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ssm::operation::put_inventory::PutInventoryError;
use aws_sdk_ssm::types::InventoryItem;
use ssm_inventoryd::emulator::{
    DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY, Emulator, EmulatorConfig,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub use super::{CAPTURE_TIME, INSTANCE};

pub const OTHER_INSTANCE: &str = "mi-0123456789abcdef0";

/// The emulator, on loopback only.
pub async fn start(config: EmulatorConfig) -> Emulator {
    assert!(
        config.listen.ip().is_loopback(),
        "tests only ever listen on loopback"
    );
    Emulator::start(config).await.expect("emulator starts")
}

pub async fn start_default() -> Emulator {
    start(EmulatorConfig::default()).await
}

pub fn client(emu: &Emulator) -> Client {
    client_with(emu, DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY)
}

pub fn client_with(emu: &Emulator, key: &str, secret: &str) -> Client {
    let conf = aws_sdk_ssm::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(emu.endpoint_url())
        .credentials_provider(Credentials::new(key, secret, None, None, "test"))
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(30))
                .build(),
        )
        .build();
    Client::from_conf(conf)
}

/// A Custom item with one row per `(name, value)` list.
pub fn item(type_name: &str, rows: &[&[(&str, &str)]]) -> InventoryItem {
    let mut b = InventoryItem::builder()
        .type_name(type_name)
        .schema_version("1.0")
        .capture_time(CAPTURE_TIME)
        .set_content(Some(vec![]));
    for row in rows {
        let row: HashMap<String, String> = row
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        b = b.content(row);
    }
    b.build().expect("item has the required members")
}

pub fn item_with_hash(type_name: &str, rows: &[&[(&str, &str)]], hash: &str) -> InventoryItem {
    let base = item(type_name, rows);
    InventoryItem::builder()
        .type_name(base.type_name())
        .schema_version(base.schema_version())
        .capture_time(base.capture_time())
        .set_content(Some(base.content().to_vec()))
        .content_hash(hash)
        .build()
        .expect("item has the required members")
}

pub fn hash_only(type_name: &str, hash: &str, capture_time: &str) -> InventoryItem {
    InventoryItem::builder()
        .type_name(type_name)
        .schema_version("1.0")
        .capture_time(capture_time)
        .content_hash(hash)
        .build()
        .expect("item has the required members")
}

/// A raw HTTP/1.1 exchange over loopback, for what the SDK will not send (unsigned requests)
/// and for `GET /stats`. Returns status, lower-cased header block and body.
pub async fn raw_http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    tokio::time::timeout(
        Duration::from_secs(10),
        raw_request(addr, method, path, headers, body.as_bytes()),
    )
    .await
    .expect("answer within 10s")
    .expect("exchange")
}

/// [`raw_http`] without a time limit, and its I/O errors returned: for a test that sends
/// bodies of megabytes by the hundred and bounds the whole of them itself.
pub async fn raw_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<(u16, String, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, head.to_ascii_lowercase(), body.to_owned()))
}

pub async fn stats_json(emu: &Emulator) -> serde_json::Value {
    let (status, head, body) = raw_http(emu.local_addr(), "GET", "/stats", &[], "").await;
    assert_eq!(status, 200, "{head}");
    serde_json::from_str(&body).expect("stats are JSON")
}

/// One PutInventory call through the real SDK, answering the service error when it fails.
pub async fn put(
    emu: &Emulator,
    instance: &str,
    items: Vec<InventoryItem>,
) -> Result<(), PutInventoryError> {
    client(emu)
        .put_inventory()
        .instance_id(instance)
        .set_items(Some(items))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| e.into_service_error())
}
