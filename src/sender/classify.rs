//! What a PutInventory failure means for the items in the request (the table in
//! docs/ARCHITECTURE.md, "PutInventory errors").
//!
//! Only "what kind of failure" is decided here; what to do about it lives in `deliver`.

use aws_sdk_ssm::config::http::HttpResponse;
use aws_sdk_ssm::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ssm::operation::put_inventory::PutInventoryError;

use crate::aws;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Throttling, 5xx, timeouts, connection errors: the items stay pending.
    Transient(String),
    /// Missing, expired or refused credentials: retried later, items stay pending.
    Credentials(String),
    /// The node is not a managed instance the service knows: stop pushing.
    InstanceInvalid(String),
    /// The service's stored hash differs from a hash-only item's (it names the type when it can).
    HashMismatch { type_name: Option<String> },
    /// Bad content. If it names a hash-only item, that item goes again in full; otherwise the
    /// named (or bisected) item is refused.
    InvalidContent {
        type_name: Option<String>,
        reason: String,
    },
    /// One item refused for good; isolate it by name, or by bisecting when unnamed.
    ItemRefused {
        type_name: Option<String>,
        reason: String,
    },
    /// The account already has its 20 custom types: new types cannot be added.
    CustomTypeLimit(String),
    /// The node's total inventory is too large.
    NodeTotalTooLarge(String),
}

/// Error codes that mean "try again later", beyond the AWS SDK's own lists of throttling and
/// transient codes (`aws_runtime`'s retry classifiers, used as they are so that a code the SDK
/// learns is known here too).
const ALSO_TRANSIENT: &[&str] = &["ServiceUnavailable"];

fn is_transient_code(code: &str) -> bool {
    use aws_runtime::retries::classifiers::{THROTTLING_ERRORS, TRANSIENT_ERRORS};
    THROTTLING_ERRORS.contains(&code)
        || TRANSIENT_ERRORS.contains(&code)
        || ALSO_TRANSIENT.contains(&code)
}
const CREDENTIALS: &[&str] = &[
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "MissingAuthenticationTokenException",
    "AccessDeniedException",
    "IncompleteSignature",
];

/// The error's code for counting: the service's error code (`ThrottlingException`), or the
/// kind of failure when the service said nothing (`DispatchFailure`, `TimeoutError`, …).
pub fn error_code(error: &SdkError<PutInventoryError, HttpResponse>) -> String {
    match error {
        SdkError::ServiceError(service) => service
            .err()
            .code()
            .unwrap_or("UnknownServiceError")
            .to_string(),
        SdkError::ConstructionFailure(_) => "ConstructionFailure".into(),
        SdkError::TimeoutError(_) => "TimeoutError".into(),
        SdkError::DispatchFailure(_) => "DispatchFailure".into(),
        SdkError::ResponseError(_) => "ResponseError".into(),
        _ => "UnknownError".into(),
    }
}

/// Sorts a failure of a request to `endpoint` (see [`aws::error::Endpoint`]); the reason
/// each kind carries is [`aws::error::explain`]'s sentence.
pub fn classify(error: &SdkError<PutInventoryError, HttpResponse>, endpoint: &str) -> Failure {
    let text = aws::error::explain(error, endpoint);
    if aws::error::is_credentials(error) {
        return Failure::Credentials(text);
    }
    let credentials = |text: String| {
        Failure::Credentials(format!(
            "the credentials are missing, expired or refused: {text}"
        ))
    };
    let (service, status) = match error {
        SdkError::ServiceError(service) => (service.err(), service.raw().status().as_u16()),
        // The request could not even be built (signing setup, endpoint): nothing the service
        // said, so nothing to isolate; retried later like credentials.
        SdkError::ConstructionFailure(_) => return Failure::Credentials(text),
        // Dispatch failures (connection refused or dropped, timeouts) and responses that could
        // not be read are worth another try.
        _ => return Failure::Transient(text),
    };
    use PutInventoryError as E;
    match service {
        E::InternalServerError(_) => Failure::Transient(text),
        E::InvalidInstanceId(_) => Failure::InstanceInvalid(text),
        E::ItemContentMismatchException(e) => Failure::HashMismatch {
            type_name: e.type_name().map(str::to_string),
        },
        E::InvalidItemContentException(e) => Failure::InvalidContent {
            type_name: e.type_name().map(str::to_string),
            reason: text,
        },
        E::ItemSizeLimitExceededException(e) => Failure::ItemRefused {
            type_name: e.type_name().map(str::to_string),
            reason: text,
        },
        E::UnsupportedInventoryItemContextException(e) => Failure::ItemRefused {
            type_name: e.type_name().map(str::to_string),
            reason: text,
        },
        E::InvalidTypeNameException(_)
        | E::UnsupportedInventorySchemaVersionException(_)
        | E::InvalidInventoryItemContextException(_)
        | E::SubTypeCountLimitExceededException(_) => Failure::ItemRefused {
            type_name: None,
            reason: text,
        },
        E::CustomSchemaCountLimitExceededException(_) => Failure::CustomTypeLimit(text),
        E::TotalSizeLimitExceededException(_) => Failure::NodeTotalTooLarge(text),
        other => {
            let code = other.code().unwrap_or_default();
            if is_transient_code(code) || status >= 500 || status == 429 {
                Failure::Transient(text)
            } else if CREDENTIALS.contains(&code) || status == 403 {
                credentials(text)
            } else if code.is_empty() {
                Failure::Transient(text)
            } else {
                // Unmodelled client errors (ValidationException and the like) are about the
                // request's content: isolate rather than retry the same bytes forever.
                Failure::ItemRefused {
                    type_name: None,
                    reason: text,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
