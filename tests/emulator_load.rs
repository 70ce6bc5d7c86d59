//! Slow and idle clients: the emulator bounds the connections it serves at once and how long
//! it waits for a request's headers and body, so a few stalled connections cannot hold it (or
//! the bodies it buffers) for ever. Raw TCP throughout: no real client stalls on purpose.

mod common;

use std::time::{Duration, Instant};

use common::emulator::*;
use ssm_inventoryd::emulator::{Emulator, EmulatorConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest a test waits for something that should happen within a short timeout: generous,
/// as the machine running the tests may be busy.
const PATIENCE: Duration = Duration::from_secs(5);

/// How a connection ended while a test waited on it.
#[derive(Debug)]
enum Ending {
    /// The emulator closed it (EOF or reset), after sending these bytes.
    Closed(Vec<u8>),
    /// Still open after the wait.
    Open,
}

/// Reads until the emulator closes the connection or `wait` passes.
async fn read_until_closed(stream: &mut TcpStream, wait: Duration) -> Ending {
    let mut received = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_elapsed) => return Ending::Open,
            Ok(Ok(0)) | Ok(Err(_)) => return Ending::Closed(received),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
        }
    }
}

/// Reads one response on a kept-alive connection: status and lower-cased header block, or
/// `None` if none arrived within `wait`.
async fn read_response(stream: &mut TcpStream, wait: Duration) -> Option<(u16, String)> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => received.extend_from_slice(&buf[..n]),
            Ok(Ok(_)) | Ok(Err(_)) => panic!("connection closed before a response head"),
            Err(_elapsed) => return None,
        }
    };
    let head = String::from_utf8_lossy(&received[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("the emulator sends a Content-Length");
    while received.len() < head_end + length {
        let n = tokio::time::timeout_at(deadline, stream.read(&mut buf))
            .await
            .expect("the body follows its head")
            .expect("read");
        assert!(n > 0, "connection closed inside a response body");
        received.extend_from_slice(&buf[..n]);
    }
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, head))
}

/// A `GET /stats` that leaves the connection open afterwards.
async fn kept_alive_stats(emu: &Emulator) -> TcpStream {
    let mut stream = TcpStream::connect(emu.local_addr()).await.expect("connect");
    stream
        .write_all(b"GET /stats HTTP/1.1\r\nHost: emulator\r\n\r\n")
        .await
        .expect("write");
    let (status, head) = read_response(&mut stream, PATIENCE)
        .await
        .expect("an answer while under the bound");
    assert_eq!(status, 200, "{head}");
    stream
}

/// Waits (briefly) for the emulator's counters to catch up with a connection it closed.
async fn eventually(emu: &Emulator, what: &str, done: impl Fn(&Emulator) -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done(emu) {
        assert!(Instant::now() < deadline, "{what}: {:?}", emu.stats());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn partial_header_then_stall_is_disconnected_within_the_header_timeout() {
    let timeout = Duration::from_millis(300);
    let emu = start(EmulatorConfig {
        header_read_timeout: timeout,
        ..Default::default()
    })
    .await;
    let mut stream = TcpStream::connect(emu.local_addr()).await.unwrap();
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: emulator\r\nContent-Ty")
        .await
        .unwrap();
    let started = Instant::now();
    let ending = read_until_closed(&mut stream, PATIENCE).await;
    let took = started.elapsed();
    eprintln!("half a header block, then nothing: {ending:?} after {took:?} (timeout {timeout:?})");
    assert!(
        matches!(&ending, Ending::Closed(bytes) if bytes.is_empty()),
        "closed without an answer: {ending:?}"
    );
    assert!(took < PATIENCE, "{took:?}");
    eventually(&emu, "one header timeout counted", |e| {
        e.stats().timeouts.header == 1
    })
    .await;
    // The emulator itself is unaffected.
    let (status, head, _) = raw_http(emu.local_addr(), "GET", "/stats", &[], "").await;
    assert_eq!(status, 200, "{head}");
}

#[tokio::test]
async fn kept_alive_connection_left_idle_is_closed_within_the_header_timeout() {
    let timeout = Duration::from_millis(300);
    let emu = start(EmulatorConfig {
        header_read_timeout: timeout,
        ..Default::default()
    })
    .await;
    let mut stream = kept_alive_stats(&emu).await;
    let started = Instant::now();
    let ending = read_until_closed(&mut stream, PATIENCE).await;
    let took = started.elapsed();
    eprintln!("idle after one answer: {ending:?} after {took:?} (timeout {timeout:?})");
    assert!(
        matches!(&ending, Ending::Closed(bytes) if bytes.is_empty()),
        "{ending:?}"
    );
}

#[tokio::test]
async fn stalled_body_is_answered_408_within_the_body_timeout() {
    let timeout = Duration::from_millis(300);
    let emu = start(EmulatorConfig {
        body_read_timeout: timeout,
        ..Default::default()
    })
    .await;
    let mut stream = TcpStream::connect(emu.local_addr()).await.unwrap();
    stream
        .write_all(
            b"POST / HTTP/1.1\r\nHost: emulator\r\n\
              Content-Type: application/x-amz-json-1.1\r\n\
              X-Amz-Target: AmazonSSM.PutInventory\r\n\
              Content-Length: 1000\r\n\r\n{\"InstanceId\":",
        )
        .await
        .unwrap();
    let started = Instant::now();
    let ending = read_until_closed(&mut stream, PATIENCE).await;
    let took = started.elapsed();
    let Ending::Closed(bytes) = &ending else {
        panic!("still open after {PATIENCE:?}: {ending:?}");
    };
    let text = String::from_utf8_lossy(bytes).to_ascii_lowercase();
    eprintln!(
        "14 of 1000 body bytes, then nothing: closed after {took:?} (timeout {timeout:?}), \
         answer:\n{text}"
    );
    assert!(took >= timeout, "not before the timeout: {took:?}");
    assert!(text.starts_with("http/1.1 408"), "{text}");
    assert!(text.contains("connection: close"), "{text}");
    assert!(text.contains("x-amzn-requestid:"), "{text}");
    let stats = emu.stats();
    assert_eq!(stats.timeouts.body, 1);
    assert_eq!(stats.requests, 0, "a body never read is not a request");
}

#[tokio::test]
async fn trickled_body_is_cut_off_at_the_body_timeout() {
    // A deadline per read would never fire for a client sending a byte every 50ms.
    let timeout = Duration::from_millis(400);
    let emu = start(EmulatorConfig {
        body_read_timeout: timeout,
        ..Default::default()
    })
    .await;
    let stream = TcpStream::connect(emu.local_addr()).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    writer
        .write_all(b"POST / HTTP/1.1\r\nHost: emulator\r\nContent-Length: 100000\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let trickle = tokio::spawn(async move {
        let mut sent = 0u32;
        while writer.write_all(b"x").await.is_ok() && sent < 1000 {
            sent += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        sent
    });
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, reader.read_to_end(&mut answer))
        .await
        .expect("the emulator closes the connection")
        .ok();
    let took = started.elapsed();
    trickle.abort();
    let text = String::from_utf8_lossy(&answer).to_ascii_lowercase();
    eprintln!("a byte every 50ms: cut off after {took:?} (timeout {timeout:?}): {text:?}");
    assert!(text.starts_with("http/1.1 408"), "{text}");
    assert!(took >= timeout && took < PATIENCE, "{took:?}");
    assert_eq!(emu.stats().timeouts.body, 1);
}

#[tokio::test]
async fn connections_over_the_bound_wait_until_one_closes() {
    let emu = start(EmulatorConfig {
        max_connections: 2,
        // Long enough that nothing times out on its own here.
        header_read_timeout: Duration::from_secs(30),
        ..Default::default()
    })
    .await;
    let first = kept_alive_stats(&emu).await;
    let _second = kept_alive_stats(&emu).await;

    let mut third = TcpStream::connect(emu.local_addr())
        .await
        .expect("the kernel completes the handshake: the third waits in the backlog");
    third
        .write_all(b"GET /stats HTTP/1.1\r\nHost: emulator\r\n\r\n")
        .await
        .unwrap();
    let held = Duration::from_millis(500);
    assert!(
        read_response(&mut third, held).await.is_none(),
        "a third connection is not served while two are held"
    );

    let released = Instant::now();
    drop(first);
    let (status, head) = read_response(&mut third, PATIENCE)
        .await
        .expect("served once a slot is free");
    eprintln!(
        "bound 2: third connection unanswered for {held:?} while two were held, then answered \
         {:?} after one closed",
        released.elapsed()
    );
    assert_eq!(status, 200, "{head}");
}

#[tokio::test]
async fn idle_connections_at_the_bound_time_out_and_free_their_slots() {
    let timeout = Duration::from_millis(500);
    let emu = start(EmulatorConfig {
        max_connections: 2,
        header_read_timeout: timeout,
        ..Default::default()
    })
    .await;
    // Connected, never a byte sent: they take both slots (the backlog is first come, first
    // accepted).
    let mut idle = [
        TcpStream::connect(emu.local_addr()).await.unwrap(),
        TcpStream::connect(emu.local_addr()).await.unwrap(),
    ];
    let started = Instant::now();
    let (status, head, _) = raw_http(emu.local_addr(), "GET", "/stats", &[], "").await;
    let took = started.elapsed();
    eprintln!(
        "bound 2, two silent connections: GET /stats on a third answered after {took:?} \
         (header timeout {timeout:?})"
    );
    assert_eq!(status, 200, "{head}");
    assert!(
        took >= timeout - Duration::from_millis(100),
        "the third waited for a slot: {took:?}"
    );
    assert!(took < PATIENCE, "{took:?}");
    for stream in &mut idle {
        let ending = read_until_closed(stream, PATIENCE).await;
        assert!(
            matches!(&ending, Ending::Closed(bytes) if bytes.is_empty()),
            "{ending:?}"
        );
    }
    eventually(&emu, "both silent connections timed out", |e| {
        e.stats().timeouts.header == 2
    })
    .await;
}
