//! The root certificates the HTTPS client trusts, read by the daemon itself, and the HTTP
//! client built on them.
//!
//! The SDK's default HTTPS client reads the system's roots once per process
//! (`aws-smithy-http-client`, `NATIVE_ROOTS`, a `LazyLock`) and, when there are none, only
//! logs `no native root CA certificates found!`: every request then fails with a TLS error
//! the operator has to decode, a bundle installed later is never seen, and a debug build
//! panics on a `debug_assert!` while it builds the client. It would also panic
//! (`expect("cert parsable")`) on a certificate webpki refuses, were one handed to it.
//!
//! So the roots are read here with the same `rustls-native-certs` (same environment
//! variables, same distribution paths), each checked the way rustls will check it, and the
//! client is given them as an explicit trust store with the platform's roots turned off:
//! the SDK's loader never runs, nothing in it can panic, a missing bundle is one sentence
//! ([`NoRootCertificates`]), and reading again later finds a bundle installed since.

use std::sync::Arc;

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use base64::Engine;
use hyper_util::client::proxy::matcher::Matcher;

/// Where `rustls-native-certs` 0.8 looks on Linux when neither `SSL_CERT_FILE` nor
/// `SSL_CERT_DIR` is set: `openssl-probe`'s lists of bundle files (first found wins) and
/// certificate folders, in its order.
const BUNDLE_FILES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/ssl/cert.pem",
    "/opt/etc/ssl/certs/ca-certificates.crt",
    "/etc/ssl/certs/cacert.pem",
];
const CERTIFICATE_DIRS: &[&str] = &[
    "/etc/ssl/certs",
    "/etc/pki/tls/certs",
    "/etc/security/certificates",
];

/// No usable root certificate anywhere the TLS library looks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no root certificates were found, so no HTTPS endpoint can be trusted: looked in {looked}; install the system's CA bundle (the ca-certificates package) or point SSL_CERT_FILE at one"
)]
pub struct NoRootCertificates {
    looked: String,
}

/// Root certificates that rustls accepts, as PEM for the SDK's trust store.
#[derive(Debug, Clone)]
pub struct Roots {
    pem: Vec<Vec<u8>>,
    /// Where they were read from, for the log.
    pub source: String,
}

impl Roots {
    pub fn len(&self) -> usize {
        self.pem.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pem.is_empty()
    }
}

/// Reads the root certificates now. Cheap when there are none (a few failed `stat`s and
/// `open`s), so it may be called at every push attempt while they are missing.
pub fn load() -> Result<Roots, NoRootCertificates> {
    let told =
        std::env::var_os("SSL_CERT_FILE").is_some() || std::env::var_os("SSL_CERT_DIR").is_some();
    let (found, bundle) = read_native(told);
    for error in &found.errors {
        tracing::debug!("reading root certificates: {error}");
    }
    let mut checker = rustls::RootCertStore::empty();
    let mut pem = Vec::new();
    let mut refused = 0usize;
    for cert in found.certs {
        // The SDK parses these again and panics on one webpki refuses: only those rustls
        // accepts go on.
        if checker.add(cert.clone()).is_err() {
            refused += 1;
            continue;
        }
        pem.push(to_pem(cert.as_ref()));
    }
    if refused > 0 {
        tracing::debug!(refused, "root certificates rustls cannot use were left out");
    }
    if pem.is_empty() {
        return Err(NoRootCertificates { looked: looked() });
    }
    Ok(Roots {
        pem,
        source: bundle.map_or_else(looked, str::to_owned),
    })
}

/// The system's roots: the distribution's bundle file alone when there is one and it holds a
/// certificate, everything `rustls-native-certs` finds otherwise (or when `SSL_CERT_FILE` or
/// `SSL_CERT_DIR` says where to look: `told`), with the bundle's path when it was read alone.
///
/// The crate reads the bundle *and* every file in the certificate folders, which on the
/// usual distributions hold the same certificates again (one file each, plus hash links):
/// twice the parsing, a few hundred `stat`s and opens, and about a tenth of a `once`'s CPU
/// (BENCHMARKS.md, "Root certificates"). `update-ca-certificates` and `update-ca-trust`
/// write every trusted certificate, locally added ones included, into the bundle, so it is
/// the whole set; a folder without a bundle is still read.
fn read_native(told: bool) -> (rustls_native_certs::CertificateResult, Option<&'static str>) {
    if !told {
        let bundle = BUNDLE_FILES
            .iter()
            .find(|path| std::path::Path::new(path).exists());
        if let Some(&bundle) = bundle {
            let found = rustls_native_certs::load_certs_from_paths(
                Some(std::path::Path::new(bundle)),
                None,
            );
            if !found.certs.is_empty() {
                return (found, Some(bundle));
            }
        }
    }
    (rustls_native_certs::load_native_certs(), None)
}

/// Where [`load`] looked, as `rustls-native-certs` decides: the environment variables when
/// either is set, the distribution paths otherwise.
fn looked() -> String {
    let file = std::env::var_os("SSL_CERT_FILE");
    let dir = std::env::var_os("SSL_CERT_DIR");
    if file.is_some() || dir.is_some() {
        let shown = |name: &str, value: Option<std::ffi::OsString>| match value {
            Some(v) => format!("{name}={}", v.to_string_lossy()),
            None => format!("{name} (unset)"),
        };
        return format!(
            "{} and {}",
            shown("SSL_CERT_FILE", file),
            shown("SSL_CERT_DIR", dir)
        );
    }
    format!(
        "{} and the folders {}",
        BUNDLE_FILES.join(", "),
        CERTIFICATE_DIRS.join(", ")
    )
}

fn to_pem(der: &[u8]) -> Vec<u8> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = Vec::with_capacity(encoded.len() + encoded.len() / 64 + 64);
    pem.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
    for line in encoded.as_bytes().chunks(64) {
        pem.extend_from_slice(line);
        pem.push(b'\n');
    }
    pem.extend_from_slice(b"-----END CERTIFICATE-----\n");
    pem
}

/// The TLS library refused the trust store.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up TLS for the SSM client: {0}")]
pub struct TlsSetupError(#[from] aws_smithy_http_client::HttpClientError);

/// The HTTP(S) client of every SDK call: the SDK's own defaults (rustls with aws-lc, its
/// connector settings and sleep, proxies from `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY`),
/// trusting exactly the roots `trust` names. Without roots it still speaks plain HTTP (the
/// emulator, instance metadata); HTTPS then fails at the handshake.
///
/// The SDK builds a connector for each set of connector settings it meets and parses the
/// trust store's PEM into a store of its own each time; the PEM itself would stay resident
/// for the client's whole life (about 200 KB for a distribution's bundle, of the roughly
/// 580 KB the roots cost the idle daemon: BENCHMARKS.md, "Idle CPU and threads"). So the
/// first connector takes the roots given here, and a later one, rare, reads them again.
///
/// With `Trust::WhenNeeded` nothing is read until a request needs TLS: one to an `https://`
/// address, or one that a proxy from the environment takes. Plain `http://` requests go
/// through a connector without TLS, so a client whose endpoint is plain HTTP (the emulator,
/// instance metadata) reads no roots at all (BENCHMARKS.md, "`once` without copies").
pub fn http_client(trust: Trust) -> Result<SharedHttpClient, TlsSetupError> {
    let first = match trust {
        Trust::Roots(roots) => Some(trusting(Some(roots))?),
        Trust::WhenNeeded => None,
    };
    let first = std::sync::Mutex::new(first);
    let tls = Builder::new().build_with_connector_fn(move |settings, components| {
        let given = first
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        // Roots that cannot be read now mean no roots: HTTPS fails at the handshake,
        // as it would for a client built without them.
        let context = given
            .or_else(|| trusting(load().ok()).ok())
            .or_else(|| trusting(None).ok());
        let mut connector =
            ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::AwsLc));
        if let Some(context) = context {
            connector = connector.tls_context(context);
        }
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    });
    let plain = Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector = ConnectorBuilder::default();
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.build_http()
    });
    Ok(SharedHttpClient::new(ByScheme {
        proxies: Arc::new(Matcher::from_env()),
        plain,
        tls,
    }))
}

/// Which roots [`http_client`] trusts.
#[derive(Debug)]
pub enum Trust {
    /// These, read by the caller.
    Roots(Roots),
    /// Those read at the first request that needs TLS.
    WhenNeeded,
}

/// An HTTP client that sends a plain `http://` request that no proxy takes through `plain`,
/// and every other through `tls`, whose connector, and so its roots, is built at its first
/// request. Which requests a proxy takes is decided by the same matcher, read from the same
/// environment, as the TLS connector's.
///
/// The SDK's own client builds a connector as each SDK client's configuration is checked, to
/// read the roots before the first request (`validate_base_client_config`); a `once` checks
/// three configurations, so the roots were read and parsed three times. This client checks
/// nothing there: `client::connect` has already refused to start without roots when the
/// endpoint needs them.
#[derive(Debug)]
struct ByScheme {
    proxies: Arc<Matcher>,
    plain: SharedHttpClient,
    tls: SharedHttpClient,
}

impl HttpClient for ByScheme {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(SchemeConnector {
            proxies: Arc::clone(&self.proxies),
            plain: self.plain.http_connector(settings, components),
            tls: self.tls.clone(),
            settings: settings.clone(),
            components: components.clone(),
        })
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.tls.connector_metadata()
    }
}

/// One request's connector of [`ByScheme`]: the TLS one is asked for only when needed.
#[derive(Debug)]
struct SchemeConnector {
    proxies: Arc<Matcher>,
    plain: SharedHttpConnector,
    tls: SharedHttpClient,
    settings: HttpConnectorSettings,
    components: RuntimeComponents,
}

/// Whether a request to `uri` goes out as plain HTTP, straight to its host: `http://`, and no
/// proxy of `proxies` takes it. An address that does not parse goes to the TLS connector,
/// which reports it.
fn goes_plain(proxies: &Matcher, uri: &str) -> bool {
    uri.parse::<http::Uri>()
        .is_ok_and(|uri| uri.scheme_str() == Some("http") && proxies.intercept(&uri).is_none())
}

impl HttpConnector for SchemeConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        if goes_plain(&self.proxies, request.uri()) {
            self.plain.call(request)
        } else {
            self.tls
                .http_connector(&self.settings, &self.components)
                .call(request)
        }
    }
}

/// A TLS context that trusts exactly `roots`, the platform's own turned off.
fn trusting(roots: Option<Roots>) -> Result<TlsContext, TlsSetupError> {
    let mut store = TrustStore::empty().with_native_roots(false);
    for pem in roots.map_or_else(Vec::new, |r| r.pem) {
        store = store.with_pem_certificate(pem);
    }
    Ok(TlsContext::builder().with_trust_store(store).build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the first byte a client sends to `scheme://127.0.0.1:PORT` is, through
    /// `http_client(Trust::WhenNeeded)` and the SDK: the request fails once that byte is in.
    async fn first_byte_sent(scheme: &str) -> u8 {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            socket.read_u8().await.unwrap()
        });
        let config = aws_sdk_ssm::Config::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_sdk_ssm::config::Region::new("us-east-1"))
            .credentials_provider(aws_credential_types::Credentials::new(
                "AKIDEXAMPLE",
                "secret",
                None,
                None,
                "test",
            ))
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .http_client(http_client(Trust::WhenNeeded).unwrap())
            .endpoint_url(format!("{scheme}://127.0.0.1:{port}"))
            .build();
        let client = aws_sdk_ssm::Client::from_conf(config);
        let call = client.get_inventory().send();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), call).await;
        seen.await.unwrap()
    }

    /// Without roots read up front, `http://` goes out as plain HTTP and `https://` still
    /// starts a TLS handshake (a ClientHello record begins with 0x16).
    #[tokio::test]
    async fn plain_http_goes_without_tls_and_https_with_it() {
        let proxied = [
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "http_proxy",
            "https_proxy",
        ]
        .iter()
        .any(|name| std::env::var_os(name).is_some());
        if proxied {
            eprintln!("a proxy is set in the environment: every request takes the TLS connector");
            return;
        }
        assert_eq!(first_byte_sent("http").await, b'P', "POST, in plain text");
        assert_eq!(
            first_byte_sent("https").await,
            0x16,
            "a TLS handshake record"
        );
    }

    /// Only `http://` that no proxy takes skips TLS: `https://`, a proxied `http://` and an
    /// address that does not parse all take the TLS connector, which knows proxies.
    #[test]
    fn only_unproxied_plain_http_skips_tls() {
        let none = Matcher::builder().build();
        assert!(goes_plain(&none, "http://127.0.0.1:8080/"));
        assert!(goes_plain(&none, "HTTP://169.254.169.254/latest/api/token"));
        assert!(!goes_plain(&none, "https://ssm.us-east-1.amazonaws.com/"));
        assert!(!goes_plain(&none, "not an address"));

        let proxied = Matcher::builder()
            .http("http://proxy.internal:3128")
            .no("169.254.169.254")
            .build();
        assert!(!goes_plain(&proxied, "http://127.0.0.1:8080/"));
        assert!(goes_plain(
            &proxied,
            "http://169.254.169.254/latest/api/token"
        ));
        assert!(!goes_plain(
            &proxied,
            "https://ssm.us-east-1.amazonaws.com/"
        ));
    }

    /// The bundle read alone holds every certificate authority that the bundle and the
    /// folders together hold on this machine, so reading it alone loses none here. What the
    /// folders add may only be certificates that say they are no authority (Debian's
    /// `ssl-cert-snakeoil.pem`, a server's own self-signed certificate, sits there), which
    /// reading the folders wrongly trusted as roots.
    #[test]
    fn the_bundle_alone_holds_every_authority_the_folders_hold() {
        let (alone, bundle) = read_native(false);
        let der = |certs: &[rustls::pki_types::CertificateDer<'_>]| {
            let mut certs: Vec<Vec<u8>> = certs.iter().map(|c| c.to_vec()).collect();
            certs.sort();
            certs.dedup();
            certs
        };
        let alone = der(&alone.certs);
        assert!(!alone.is_empty(), "this machine has no root certificates");
        let mut everything = Vec::new();
        for dir in CERTIFICATE_DIRS {
            let found = rustls_native_certs::load_certs_from_paths(
                bundle.map(std::path::Path::new),
                Some(std::path::Path::new(dir)).filter(|d| d.is_dir()),
            );
            everything.extend(found.certs);
        }
        let everything = der(&everything);
        let missing: Vec<&Vec<u8>> = everything.iter().filter(|c| !alone.contains(c)).collect();
        let authorities = missing.iter().filter(|c| !says_no_authority(c)).count();
        assert_eq!(
            authorities,
            0,
            "{} certificates in the folders are not in {bundle:?}, {authorities} of them authorities",
            missing.len()
        );
        assert!(alone.iter().all(|c| everything.contains(c)));
        // The check itself: the test suite's own root is an authority.
        let root = std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/test-root.pem"
        ));
        let root = rustls_native_certs::load_certs_from_paths(Some(root), None).certs;
        assert!(!root.is_empty() && !says_no_authority(&root[0]));
    }

    /// Whether a DER certificate's basicConstraints extension (2.5.29.19) leaves out `cA`
    /// or sets it false. A certificate without the extension may be an authority.
    fn says_no_authority(der: &[u8]) -> bool {
        const BASIC_CONSTRAINTS: [u8; 5] = [0x06, 0x03, 0x55, 0x1d, 0x13];
        let Some(at) = der.windows(5).position(|w| w == BASIC_CONSTRAINTS) else {
            return false;
        };
        let mut rest = &der[at + 5..];
        // An optional `critical` BOOLEAN, then the OCTET STRING holding the SEQUENCE.
        if rest.starts_with(&[0x01, 0x01]) {
            rest = &rest[3..];
        }
        match rest {
            // OCTET STRING, SEQUENCE, then either nothing or the cA BOOLEAN first.
            [0x04, _, 0x30, 0x00, ..] => true,
            [0x04, _, 0x30, _, 0x01, 0x01, ca, ..] => *ca == 0,
            _ => false,
        }
    }

    #[test]
    fn pem_round_trips() {
        let der = vec![0x30u8; 100];
        let pem = to_pem(&der);
        let text = String::from_utf8(pem).expect("ASCII");
        assert!(text.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(text.lines().all(|l| l.len() <= 64));
    }
}
