//! How an AWS SDK failure is told to the operator: one sentence saying what failed, against
//! which endpoint, and the underlying cause once.
//!
//! The SDK's own display of an error is its chain of causes, each layer repeating the one
//! below, followed by a debug dump of the whole value (`dispatch failure: io error: client
//! error (Connect): tcp connect error: Connection refused (os error 111) (DispatchFailure(…`).
//! That is what a developer wants in a debugger, not what an operator reads in the journal, in
//! systemd's STATUS or in `status`. Every place that shows an SDK error goes through
//! [`explain`] (or [`explain_chain`] for errors that are not an `SdkError`, such as instance
//! metadata's); the debug form is logged at debug level where the call fails.

use std::error::Error;
use std::sync::{Arc, Mutex};

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_ssm::config::http::HttpResponse;
use aws_sdk_ssm::error::{ConnectorError, ProvideErrorMetadata, SdkError};
use aws_sdk_ssm::operation::RequestId;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// The endpoint a request went to, noted while it is sent so that an error about it can name
/// it: the SDK's errors do not carry the URL, and the client's configuration does not give
/// back an `endpoint_url` it was built with. Attach it to a request with
/// `.customize().interceptor(endpoint.clone())` and read it with [`Endpoint::or_region`].
#[derive(Debug, Clone, Default)]
pub struct Endpoint(Arc<Mutex<Option<String>>>);

impl Endpoint {
    pub fn new() -> Endpoint {
        Endpoint::default()
    }

    /// The endpoint noted for the request, as `scheme://host[:port]`; before the SDK resolved
    /// one (credentials are looked up first), the service's endpoint for `region`.
    pub fn or_region(&self, region: Option<&str>) -> String {
        let noted = self.0.lock().ok().and_then(|noted| noted.clone());
        noted.unwrap_or_else(|| match region {
            Some(region) => format!("the SSM endpoint of {region}"),
            None => "the SSM endpoint".to_owned(),
        })
    }
}

impl Intercept for Endpoint {
    fn name(&self) -> &'static str {
        "Endpoint"
    }

    fn read_before_signing(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let uri = context.request().uri();
        // Scheme and authority: the path of a JSON protocol request is always `/`.
        let shown = match uri.split_once("://") {
            Some((scheme, rest)) => {
                let authority = rest.split(['/', '?']).next().unwrap_or(rest);
                format!("{scheme}://{authority}")
            }
            None => uri.to_owned(),
        };
        if let Ok(mut noted) = self.0.lock() {
            *noted = Some(shown);
        }
        Ok(())
    }
}

/// An SDK failure as one sentence, naming `endpoint`. A service error is told as
/// `Code: message (HTTP status, request ID …)`: the service answered, so where it is matters
/// less than what it said, and the text goes into quarantine reasons in the state file.
pub fn explain<E>(error: &SdkError<E, HttpResponse>, endpoint: &str) -> String
where
    E: ProvideErrorMetadata + RequestId + Error + 'static,
{
    match error {
        SdkError::ServiceError(service) => {
            let err = service.err();
            let mut text = err.code().unwrap_or("unknown service error").to_string();
            if let Some(message) = err.message() {
                text.push_str(": ");
                text.push_str(&one_line(message));
            }
            text.push_str(&format!(" (HTTP {}", service.raw().status().as_u16()));
            if let Some(id) = err.request_id() {
                text.push_str(&format!(", request ID {id}"));
            }
            text.push(')');
            text
        }
        SdkError::TimeoutError(_) => {
            format!("no answer from {endpoint} in time: {}", cause(error).text)
        }
        SdkError::ConstructionFailure(_) => match cause(error) {
            Cause {
                kind: Kind::Credentials,
                text,
            } => format!("the credentials are missing, expired or refused for {endpoint}: {text}"),
            Cause { text, .. } => format!("cannot build the request to {endpoint}: {text}"),
        },
        SdkError::ResponseError(_) => {
            format!(
                "cannot read the answer of {endpoint}: {}",
                cause(error).text
            )
        }
        SdkError::DispatchFailure(dispatch) => {
            let found = cause(error);
            let timeout = dispatch
                .as_connector_error()
                .is_some_and(ConnectorError::is_timeout);
            sentence(found, endpoint, timeout)
        }
        _ => explain_chain(error, endpoint),
    }
}

/// Any error on the way to `endpoint` (instance metadata's, a credentials provider's) as one
/// sentence, in the same words as [`explain`].
pub fn explain_chain(error: &(dyn Error + 'static), endpoint: &str) -> String {
    sentence(cause(error), endpoint, false)
}

/// Whether the failure is missing or refused credentials: the SDK reports those as a
/// dispatch failure whose cause is a [`CredentialsError`], which must not pass for a network
/// blip.
pub fn is_credentials<E, R>(error: &SdkError<E, R>) -> bool
where
    E: Error + 'static,
    R: std::fmt::Debug + 'static,
{
    chain_of(error)
        .iter()
        .any(|e| e.downcast_ref::<CredentialsError>().is_some())
}

fn sentence(found: Cause, endpoint: &str, timeout: bool) -> String {
    let text = found.text;
    match found.kind {
        Kind::Credentials => {
            format!("the credentials are missing, expired or refused for {endpoint}: {text}")
        }
        Kind::Dns => format!("cannot resolve the host name of {endpoint}: {text}"),
        Kind::Tls => format!("no trusted TLS connection to {endpoint}: {text}"),
        Kind::Proxy => format!("cannot reach {endpoint} through the proxy: {text}"),
        Kind::Other if timeout => format!("cannot reach {endpoint}: {text} (connect timeout)"),
        Kind::Other => format!("cannot reach {endpoint}: {text}"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Credentials,
    Dns,
    Tls,
    Proxy,
    Other,
}

/// What went wrong underneath the SDK's layers, and in what words.
#[derive(Debug)]
struct Cause {
    kind: Kind,
    text: String,
}

fn chain_of<'a>(error: &'a (dyn Error + 'static)) -> Vec<&'a (dyn Error + 'static)> {
    let mut chain = vec![error];
    let mut next = error.source();
    while let Some(e) = next {
        chain.push(e);
        next = e.source();
    }
    chain
}

/// Reads the chain of causes. Credentials errors are told from the credentials error down
/// (a provider chain's own list of what it tried); anything else by its innermost cause,
/// which is the one that says what happened (`connection refused`), the layers above it only
/// saying where in the SDK it was noticed.
fn cause(error: &(dyn Error + 'static)) -> Cause {
    let chain = chain_of(error);
    if let Some(position) = chain
        .iter()
        .position(|e| e.downcast_ref::<CredentialsError>().is_some())
    {
        return Cause {
            kind: Kind::Credentials,
            text: joined(&chain[position..]),
        };
    }
    let texts: Vec<String> = chain.iter().map(|e| e.to_string().to_lowercase()).collect();
    let innermost = chain
        .last()
        .map_or_else(String::new, |e| innermost_text(*e));
    let any = |needles: &[&str]| {
        texts
            .iter()
            .chain(std::iter::once(&innermost.to_lowercase()))
            .any(|t| needles.iter().any(|n| t.contains(n)))
    };
    let kind = if any(&[
        "dns error",
        "failed to lookup address",
        "name or service not known",
    ]) {
        Kind::Dns
    } else if any(&["certificate", "tls", "handshake", "unknownissuer"]) {
        Kind::Tls
    } else if any(&["proxy"]) {
        Kind::Proxy
    } else {
        Kind::Other
    };
    Cause {
        kind,
        text: innermost,
    }
}

/// An I/O error from the system is told by its kind (`connection refused`) rather than its
/// message with the `(os error 111)` suffix; one carrying another error (TLS's inside the
/// socket's) by that error's words.
fn innermost_text(error: &(dyn Error + 'static)) -> String {
    use std::io::ErrorKind as K;
    if let Some(io) = error.downcast_ref::<std::io::Error>()
        && io.get_ref().is_none()
        && io.kind() != K::Other
    {
        let kind = io.kind().to_string();
        if kind != "uncategorized error" {
            return kind;
        }
    }
    let text = one_line(&error.to_string());
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_owned(),
        _ => text,
    }
}

/// Errors and their causes on one line, each said once.
fn joined(chain: &[&(dyn Error + 'static)]) -> String {
    let mut text = String::new();
    for e in chain {
        let part = one_line(&e.to_string());
        if part.is_empty() || text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ssm::operation::put_inventory::PutInventoryError;
    use aws_smithy_types::body::SdkBody;

    type Failure = SdkError<PutInventoryError, HttpResponse>;

    const ENDPOINT: &str = "https://ssm.us-east-2.amazonaws.com";

    fn io(kind: std::io::ErrorKind) -> BoxError {
        Box::new(std::io::Error::from(kind))
    }

    /// An error with a message and a cause, the shape of the HTTP client's layers.
    #[derive(Debug)]
    struct Layer(&'static str, Option<BoxError>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for Layer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|e| e as &(dyn Error + 'static))
        }
    }

    fn layer(text: &'static str, cause: BoxError) -> BoxError {
        Box::new(Layer(text, Some(cause)))
    }

    fn service(code: &str, message: &str, status: u16) -> Failure {
        let meta = aws_sdk_ssm::error::ErrorMetadata::builder()
            .code(code)
            .message(message)
            .build();
        let status =
            aws_smithy_runtime_api::http::StatusCode::try_from(status).expect("a valid status");
        SdkError::service_error(
            PutInventoryError::generic(meta),
            HttpResponse::new(status, SdkBody::empty()),
        )
    }

    /// Each kind of failure the SDK can report, as the operator reads it: one line, the
    /// endpoint named, the cause said once, no debug dump.
    #[test]
    fn each_kind_of_failure_is_one_sentence() {
        let refused = ConnectorError::io(layer(
            "client error (Connect)",
            layer(
                "tcp connect error",
                io(std::io::ErrorKind::ConnectionRefused),
            ),
        ));
        let dns = ConnectorError::io(layer(
            "client error (Connect)",
            layer(
                "dns error",
                Box::new(std::io::Error::other(
                    "failed to lookup address information: Name or service not known",
                )),
            ),
        ));
        let tls = ConnectorError::io(layer(
            "client error (Connect)",
            Box::new(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "invalid peer certificate: UnknownIssuer",
            )),
        ));
        let proxy = ConnectorError::io(layer(
            "client error (Connect)",
            layer(
                "proxy connect failed",
                io(std::io::ErrorKind::ConnectionRefused),
            ),
        ));
        let timeout = ConnectorError::timeout(Box::new(Layer("timed out", None)));
        let credentials = ConnectorError::other(
            Box::new(CredentialsError::not_loaded(
                "no providers in chain provided credentials",
            )),
            None,
        );
        let cases: Vec<(&str, Failure, &str)> = vec![
            (
                "refused",
                SdkError::dispatch_failure(refused),
                "cannot reach https://ssm.us-east-2.amazonaws.com: connection refused",
            ),
            (
                "dns",
                SdkError::dispatch_failure(dns),
                "cannot resolve the host name of https://ssm.us-east-2.amazonaws.com: failed to lookup address information: Name or service not known",
            ),
            (
                "tls",
                SdkError::dispatch_failure(tls),
                "no trusted TLS connection to https://ssm.us-east-2.amazonaws.com: invalid peer certificate: UnknownIssuer",
            ),
            (
                "proxy",
                SdkError::dispatch_failure(proxy),
                "cannot reach https://ssm.us-east-2.amazonaws.com through the proxy: connection refused",
            ),
            (
                "connect timeout",
                SdkError::dispatch_failure(timeout),
                "cannot reach https://ssm.us-east-2.amazonaws.com: timed out (connect timeout)",
            ),
            (
                "attempt timeout",
                SdkError::timeout_error(Box::new(Layer("timeout occurred after 30s", None))),
                "no answer from https://ssm.us-east-2.amazonaws.com in time: timeout occurred after 30s",
            ),
            (
                "credentials",
                SdkError::dispatch_failure(credentials),
                "the credentials are missing, expired or refused for https://ssm.us-east-2.amazonaws.com: the credential provider was not enabled: no providers in chain provided credentials",
            ),
            (
                "construction",
                SdkError::construction_failure(Box::new(Layer("no endpoint URL", None))),
                "cannot build the request to https://ssm.us-east-2.amazonaws.com: no endpoint URL",
            ),
            (
                "service",
                service("ThrottlingException", "Rate exceeded", 400),
                "ThrottlingException: Rate exceeded (HTTP 400)",
            ),
        ];
        for (name, error, expected) in cases {
            let told = explain(&error, ENDPOINT);
            assert_eq!(told, expected, "{name}");
            assert!(
                !told.contains('\n') && !told.contains("DispatchFailure"),
                "{name}"
            );
        }
    }

    #[test]
    fn the_endpoint_falls_back_to_the_region_before_one_is_resolved() {
        let endpoint = Endpoint::new();
        assert_eq!(
            endpoint.or_region(Some("us-east-2")),
            "the SSM endpoint of us-east-2"
        );
    }

    #[test]
    fn credentials_failures_are_recognised() {
        let error: Failure = SdkError::dispatch_failure(ConnectorError::other(
            Box::new(CredentialsError::not_loaded("none")),
            None,
        ));
        assert!(is_credentials(&error));
        let error: Failure = SdkError::dispatch_failure(ConnectorError::io(io(
            std::io::ErrorKind::ConnectionRefused,
        )));
        assert!(!is_credentials(&error));
    }
}
