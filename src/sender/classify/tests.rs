use super::*;
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_ssm::config::http::HttpResponse;
use aws_sdk_ssm::error::ConnectorError;

const E: &str = "http://127.0.0.1:1";

fn service_error(code: &str, status: u16) -> SdkError<PutInventoryError, HttpResponse> {
    let meta = aws_sdk_ssm::error::ErrorMetadata::builder()
        .code(code)
        .message("m")
        .build();
    let status = aws_smithy_runtime_api::http::StatusCode::try_from(status).unwrap();
    SdkError::service_error(
        PutInventoryError::generic(meta),
        HttpResponse::new(status, aws_smithy_types::body::SdkBody::empty()),
    )
}

/// Every code the SDK's retry classifiers call throttling or transient is retried, not
/// taken for a refused item (these once had to be listed by hand, and some were missing).
#[test]
fn the_sdks_throttling_and_transient_codes_are_transient() {
    for code in [
        "RequestThrottledException",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "ThrottlingException",
        "ServiceUnavailable",
    ] {
        assert!(
            matches!(
                classify(&service_error(code, 400), E),
                Failure::Transient(_)
            ),
            "{code}"
        );
    }
    assert!(matches!(
        classify(&service_error("ValidationException", 400), E),
        Failure::ItemRefused { .. }
    ));
}

#[test]
fn missing_credentials_are_not_a_network_blip() {
    let err: SdkError<PutInventoryError, HttpResponse> = SdkError::dispatch_failure(
        ConnectorError::other(Box::new(CredentialsError::not_loaded("no chain")), None),
    );
    assert!(
        matches!(classify(&err, E), Failure::Credentials(_)),
        "{:?}",
        classify(&err, E)
    );
    let err: SdkError<PutInventoryError, HttpResponse> =
        SdkError::dispatch_failure(ConnectorError::io(Box::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        ))));
    assert!(matches!(classify(&err, E), Failure::Transient(_)));
}
