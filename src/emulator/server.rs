//! HTTP/1.1 transport: the accept loop, routing, signature check and fault injection in front
//! of [`Service`].
//!
//! Order per API request, chosen to match the real endpoint: read the body, verify the
//! signature, then faults (latency, drop, throttle, 5xx), then the operation's own rules.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Serialize;
use time::OffsetDateTime;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::budget::Reservation;
use super::error::{ApiError, ErrorCode};
use super::faults::Fault;
use super::service::Service;
use super::sigv4::{self, SignedRequest, VerifyConfig};

/// The signing name of Systems Manager.
const SIGNING_SERVICE: &str = "ssm";
const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// Far above any valid PutInventory (30 items); only a guard against unbounded buffering.
pub const MAX_REQUEST_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Returned by the request handler to make hyper close the connection without answering
/// (hyper drops a connection whose service fails, writing nothing).
#[derive(Debug, thiserror::Error)]
enum Abort {
    #[error("connection dropped by fault injection")]
    Injected,
    #[error("could not read the request body: {0}")]
    Body(String),
}

type HttpResponse = Response<Full<Bytes>>;

/// Accepts connections until `token` is cancelled, then lets every open connection finish its
/// in-flight request before returning.
///
/// At most `max_connections` are served at once: at the bound the listener is simply not
/// polled, so further clients wait in the kernel's accept backlog (and, once that is full,
/// retry their SYNs) instead of being refused. The header and body timeouts make sure a served
/// connection gives its slot back in bounded time whatever its client does.
pub async fn accept_loop(listener: TcpListener, service: Arc<Service>, token: CancellationToken) {
    let max_connections = service.config.max_connections;
    // Finished connections are reaped by the `join_next` branch as soon as they end, so the
    // set's length is the number of connections being served.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            () = token.cancelled() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept(), if connections.len() < max_connections => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(serve_connection(stream, service.clone(), token.clone()));
                }
                Err(e) => {
                    // Typically EMFILE: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "emulator: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

async fn serve_connection(stream: TcpStream, service: Arc<Service>, token: CancellationToken) {
    let handler = {
        let service = service.clone();
        service_fn(move |req| handle(service.clone(), req))
    };
    // hyper only enforces the header timeout with a timer; it starts it whenever it waits for
    // a request head, so it also closes a connection that sends nothing or stays idle.
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(service.config.header_read_timeout);
    let conn = builder.serve_connection(TokioIo::new(stream), handler);
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = token.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        if e.is_timeout() {
            service.stats.header_timeout();
        }
        tracing::debug!(error = %e, "emulator: connection ended");
    }
}

async fn handle(service: Arc<Service>, req: Request<Incoming>) -> Result<HttpResponse, Abort> {
    let request_id = new_request_id();
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/stats") => {
            return Ok(json_response(StatusCode::OK, &service.stats(), &request_id));
        }
        (&Method::POST, "/") => {}
        _ => {
            let body = serde_json::json!({"message": "Not Found: the emulator serves POST / and GET /stats"});
            return Ok(json_response(StatusCode::NOT_FOUND, &body, &request_id));
        }
    }

    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    // A deadline for the whole body, not for each read: a client trickling a byte at a time
    // would otherwise hold the connection and its buffer for as long as it likes.
    let body_read_timeout = service.config.body_read_timeout;
    let mut reservation = Reservation::new(&service.buffers);
    let read = tokio::time::timeout(
        body_read_timeout,
        read_body(body, declared, &mut reservation),
    )
    .await;
    let Ok(read) = read else {
        service.stats.body_timeout();
        tracing::debug!(request_id, "emulator: request body timed out");
        return Ok(request_timeout_response(body_read_timeout, &request_id));
    };
    let body = match read {
        Ok(Body::Kept(body)) => body,
        Ok(Body::TooLarge) => {
            service.stats.request(MAX_REQUEST_BODY_BYTES);
            let err = ApiError::new(
                ErrorCode::RequestEntityTooLarge,
                format!("Request body is larger than {MAX_REQUEST_BODY_BYTES} bytes"),
            );
            return Ok(error_response(&service, &err, &request_id));
        }
        Ok(Body::OverBudget) => {
            service.stats.slowed_down();
            let err = ApiError::new(
                ErrorCode::SlowDown,
                format!(
                    "Please reduce your request rate: the emulator holds {} bytes of request bodies at most",
                    service.buffers.max()
                ),
            );
            return Ok(error_response(&service, &err, &request_id));
        }
        Err(e) => return Err(Abort::Body(e)),
    };
    service.stats.request(body.len());

    let signed = SignedRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        headers: &parts.headers,
        body: &body,
    };
    let verify = VerifyConfig {
        service: SIGNING_SERVICE,
        credentials: &service.credentials,
        now: OffsetDateTime::now_utc(),
        max_skew: service.config.max_clock_skew,
    };
    let region = match sigv4::verify(&signed, &verify) {
        Err(err) => return Ok(error_response(&service, &err, &request_id)),
        Ok(verified) => {
            if let Some(err) = service.check_revoked(&verified.access_key_id) {
                return Ok(error_response(&service, &err, &request_id));
            }
            verified.region
        }
    };

    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match target {
        "AmazonSSM.PutInventory" => service.stats.put_inventory(body.len()),
        "AmazonSSM.ListInventoryEntries" => service.stats.list_inventory_entries(),
        _ => {}
    }

    let latency = service.faults.latency();
    if !latency.is_zero() {
        service.stats.delayed();
        tokio::time::sleep(latency).await;
    }
    let is_put = target == "AmazonSSM.PutInventory";
    let parameter_read = match target {
        "AmazonSSM.GetParameter" => Some(false),
        "AmazonSSM.GetParameters" => Some(true),
        _ => None,
    };
    if let Some(batch) = parameter_read {
        service.stats.parameter_read(batch);
    }
    let mut fault = service.faults.decide(Instant::now());
    if fault.is_none()
        && parameter_read.is_some()
        && !service.faults.parameter_read_allowed(Instant::now())
    {
        fault = Some(Fault::Throttle);
    }
    if parameter_read.is_some() && fault == Some(Fault::Throttle) {
        service.stats.parameter_read_throttled();
    }
    if let Some(fault) = fault {
        service.stats.fault(fault);
        let err = match fault {
            Fault::Drop => {
                if is_put {
                    service.log_put(&body, Some("dropped".to_owned()));
                }
                return Err(Abort::Injected);
            }
            Fault::Throttle => ApiError::new(ErrorCode::Throttling, "Rate exceeded"),
            Fault::Fail => ApiError::new(
                ErrorCode::InternalServerError,
                "An internal error occurred (injected by the emulator's fail_rate)",
            ),
        };
        if is_put {
            service.log_put(&body, Some(err.code.name().to_owned()));
        }
        return Ok(error_response(&service, &err, &request_id));
    }

    let result = match target {
        "AmazonSSM.PutInventory" => service.put_inventory(&body),
        "AmazonSSM.ListInventoryEntries" => service.list_inventory_entries(&body),
        "AmazonSSM.GetParameter" => service.get_parameter(&body, &region),
        "AmazonSSM.GetParameters" => service.get_parameters(&body, &region),
        "AmazonSSM.PutParameter" => service.put_parameter(&body),
        other => Err(ApiError::new(
            ErrorCode::UnknownOperation,
            format!("The emulator does not implement X-Amz-Target '{other}'"),
        )),
    };
    if is_put {
        let error = result.as_ref().err().map(|e| e.code.name().to_owned());
        service.log_put(&body, error);
    }
    Ok(match result {
        Ok(out) => json_response(StatusCode::OK, &out, &request_id),
        Err(err) => error_response(&service, &err, &request_id),
    })
}

/// What became of a request body.
enum Body {
    /// Read whole and held within the budget.
    Kept(Bytes),
    /// Over [`MAX_REQUEST_BODY_BYTES`]; reading stopped there.
    TooLarge,
    /// Read to its end but not kept: the budget had no room for it.
    OverBudget,
}

/// Reads a request body, holding it only while `reservation` covers it: all of a declared
/// length is reserved before the first byte, and room for what arrives beyond it as it
/// arrives. A body that does not fit is read on and thrown away, so that the client gets its
/// answer rather than a reset connection in the middle of its upload.
async fn read_body(
    mut body: Incoming,
    declared: Option<usize>,
    reservation: &mut Reservation,
) -> Result<Body, String> {
    let mut kept: Option<Vec<u8>> = Some(Vec::new());
    let mut total = 0usize;
    if let Some(n) = declared {
        if n > MAX_REQUEST_BODY_BYTES {
            return Ok(Body::TooLarge);
        }
        if reservation.cover(n) {
            kept = Some(Vec::with_capacity(n));
        } else {
            kept = None;
        }
    }
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| e.to_string())?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total += data.len();
        if total > MAX_REQUEST_BODY_BYTES {
            return Ok(Body::TooLarge);
        }
        if let Some(buffer) = kept.as_mut() {
            // The reservation covers the buffer's capacity, which is what is allocated: it
            // grows here, by doubling, only once the budget has room for the new capacity.
            let needed = buffer.len() + data.len();
            let capacity = if needed <= buffer.capacity() {
                buffer.capacity()
            } else {
                needed.max(buffer.capacity().saturating_mul(2))
            };
            if reservation.cover(capacity) {
                buffer.reserve_exact(capacity - buffer.len());
                buffer.extend_from_slice(&data);
            } else {
                kept = None;
                reservation.release();
            }
        }
    }
    Ok(match kept {
        Some(buffer) => Body::Kept(Bytes::from(buffer)),
        None => Body::OverBudget,
    })
}

fn error_response(service: &Service, err: &ApiError, request_id: &str) -> HttpResponse {
    service.stats.error(err.code.name());
    tracing::debug!(request_id, error = %err, "emulator: error answer");
    let status = StatusCode::from_u16(err.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
    json_response(status, &err.body(), request_id)
}

/// HTTP 408 for a body that did not arrive in time. Not an AWS error shape: none of the
/// modelled errors means a stalled upload. The connection is closed after it rather than
/// kept alive: the rest of that body may still be on its way.
fn request_timeout_response(timeout: Duration, request_id: &str) -> HttpResponse {
    let body = serde_json::json!({
        "message": format!(
            "Request Timeout: the request body did not arrive within {}",
            humantime::format_duration(timeout)
        )
    });
    let mut response = json_response(StatusCode::REQUEST_TIMEOUT, &body, request_id);
    response.headers_mut().insert(
        hyper::header::CONNECTION,
        hyper::header::HeaderValue::from_static("close"),
    );
    response
}

fn json_response<T: Serialize>(status: StatusCode, body: &T, request_id: &str) -> HttpResponse {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = Response::new(Full::new(Bytes::from(bytes)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(JSON_CONTENT_TYPE),
    );
    if let Ok(v) = hyper::header::HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", v);
    }
    response
}

/// A random id in the UUID v4 layout, as the service's `x-amzn-RequestId`.
fn new_request_id() -> String {
    let r: u128 = rand::random();
    let hex = format!(
        "{:032x}",
        (r & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62)
    );
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests;
