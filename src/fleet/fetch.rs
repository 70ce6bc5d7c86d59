//! Reading one parameter: GetParameter with decryption, through the same client, credentials
//! and endpoint as PutInventory.
//!
//! The poller sees parameters through [`ParameterSource`] only, so that its decisions (what is
//! new, what to refuse, what to keep) are tested without the SDK; [`SdkSource`] is the real
//! one. Failures are sorted into what an operator must fix (permissions, a missing parameter, a
//! wrong type) and what passes by itself (throttling, the network), because the first deserve
//! one clear line naming the permission and the second only a retry.

use std::future::Future;

use aws_sdk_ssm::Client;
use aws_sdk_ssm::config::http::HttpResponse;
use aws_sdk_ssm::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ssm::operation::RequestId;
use aws_sdk_ssm::types::ParameterType;

use crate::aws::error::{self, Endpoint};
use time::OffsetDateTime;

/// One version of a parameter, as the service answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub name: String,
    pub version: i64,
    /// Decrypted, for a SecureString.
    pub text: String,
    /// `String` or `SecureString`.
    pub parameter_type: String,
    pub last_modified: Option<OffsetDateTime>,
}

/// Why a parameter could not be read. Each message is one line naming the parameter and,
/// where the operator can act, what to grant or create.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error(
        "parameter {name}: not found (ParameterNotFound); create it, or remove it from `[agent] fleet_config`"
    )]
    NotFound { name: String },
    #[error(
        "parameter {name}: access denied ({code}): the node's identity needs ssm:GetParameter on {name}: {message}"
    )]
    AccessDenied {
        name: String,
        code: String,
        message: String,
    },
    #[error(
        "parameter {name}: cannot be decrypted ({code}): the node's identity needs kms:Decrypt on the parameter's KMS key: {message}"
    )]
    Decrypt {
        name: String,
        code: String,
        message: String,
    },
    #[error(
        "parameter {name}: is a {parameter_type}; probe definitions are a String or a SecureString"
    )]
    WrongType {
        name: String,
        parameter_type: String,
    },
    /// Throttling, a server error, an unreachable endpoint: tried again at the next poll.
    #[error("parameter {name}: {detail}")]
    Transient { name: String, detail: String },
}

impl FetchError {
    /// Whether this passes by itself; anything else needs the operator.
    pub fn is_transient(&self) -> bool {
        matches!(self, FetchError::Transient { .. })
    }
}

/// Where parameters are read from.
pub trait ParameterSource: Send + Sync {
    /// The newest version of `name`, decrypted.
    fn get(&self, name: &str) -> impl Future<Output = Result<Fetched, FetchError>> + Send;
}

/// Parameter Store through the daemon's SSM client.
#[derive(Debug, Clone)]
pub struct SdkSource {
    client: Client,
}

impl SdkSource {
    pub fn new(client: Client) -> SdkSource {
        SdkSource { client }
    }
}

impl ParameterSource for SdkSource {
    async fn get(&self, name: &str) -> Result<Fetched, FetchError> {
        let endpoint = Endpoint::new();
        let out = self
            .client
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .customize()
            .interceptor(endpoint.clone())
            .send()
            .await
            .map_err(|e| {
                let endpoint =
                    endpoint.or_region(self.client.config().region().map(|r| r.as_ref()));
                tracing::debug!(%endpoint, error = ?e, "GetParameter failed");
                classify(name, &e, &endpoint)
            })?;
        let Some(parameter) = out.parameter else {
            return Err(FetchError::Transient {
                name: name.to_owned(),
                detail: "the answer held no parameter".to_owned(),
            });
        };
        let parameter_type = parameter
            .r#type
            .as_ref()
            .map_or_else(|| "String".to_owned(), |t| t.as_str().to_owned());
        if !matches!(
            parameter.r#type,
            None | Some(ParameterType::String) | Some(ParameterType::SecureString)
        ) {
            return Err(FetchError::WrongType {
                name: name.to_owned(),
                parameter_type,
            });
        }
        let last_modified = parameter
            .last_modified_date
            .and_then(|d| OffsetDateTime::from_unix_timestamp(d.secs()).ok());
        Ok(Fetched {
            name: name.to_owned(),
            version: parameter.version,
            text: parameter.value.unwrap_or_default(),
            parameter_type,
            last_modified,
        })
    }
}

/// Sorts an SDK failure. KMS refusals arrive as `AccessDeniedException` or a KMS error code;
/// their message is what tells them apart from a refused `ssm:GetParameter`.
fn classify<E>(name: &str, error: &SdkError<E, HttpResponse>, endpoint: &str) -> FetchError
where
    E: ProvideErrorMetadata + RequestId + std::error::Error + 'static,
{
    let name = name.to_owned();
    let SdkError::ServiceError(service) = error else {
        let detail = error::explain(error, endpoint);
        return FetchError::Transient { name, detail };
    };
    let err = service.err();
    let code = err.code().unwrap_or("UnknownServiceError").to_owned();
    let message = err.message().unwrap_or("").replace(['\n', '\r'], " ");
    sort(name, code, message)
}

/// The decision of [`classify`], on the code and message alone.
fn sort(name: String, code: String, message: String) -> FetchError {
    let kms = code.starts_with("KMS")
        || code == "InvalidKeyId"
        || message.contains("kms:")
        || message.contains("KMS")
        || message.contains("ciphertext");
    match code.as_str() {
        "ParameterNotFound" => FetchError::NotFound { name },
        _ if kms => FetchError::Decrypt {
            name,
            code,
            message,
        },
        "AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation" => {
            FetchError::AccessDenied {
                name,
                code,
                message,
            }
        }
        _ => FetchError::Transient {
            name,
            detail: if message.is_empty() {
                code
            } else {
                format!("{code}: {message}")
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(code: &str, message: &str) -> FetchError {
        sort("/p".into(), code.into(), message.into())
    }

    #[test]
    fn failures_are_sorted_by_what_the_operator_can_do() {
        assert_eq!(
            sorted("ParameterNotFound", ""),
            FetchError::NotFound { name: "/p".into() }
        );
        let denied = sorted(
            "AccessDeniedException",
            "User: arn:aws:sts::1:assumed-role/x is not authorized to perform: ssm:GetParameter",
        );
        assert!(matches!(denied, FetchError::AccessDenied { .. }));
        assert!(
            denied
                .to_string()
                .starts_with("parameter /p: access denied (AccessDeniedException): the node's identity needs ssm:GetParameter on /p")
        );
        let kms = sorted(
            "AccessDeniedException",
            "The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access.",
        );
        assert!(matches!(kms, FetchError::Decrypt { .. }), "{kms}");
        assert!(kms.to_string().contains("kms:Decrypt"));
        assert!(matches!(
            sorted("InvalidKeyId", ""),
            FetchError::Decrypt { .. }
        ));
        let throttled = sorted("ThrottlingException", "Rate exceeded");
        assert!(throttled.is_transient());
        assert_eq!(
            throttled.to_string(),
            "parameter /p: ThrottlingException: Rate exceeded"
        );
    }
}
