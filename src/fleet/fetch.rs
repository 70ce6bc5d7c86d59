//! Reading parameters: GetParameters with decryption, up to [`NAMES_PER_CALL`] names a call,
//! through the same client, credentials and endpoint as PutInventory.
//!
//! One call per poll rather than one per parameter, because Parameter Store's read throughput
//! (40 calls a second per account and region by default) is shared by GetParameter,
//! GetParameters and GetParametersByPath with every application of the account that reads
//! its configuration there: a fleet's polls must cost as few of those calls as they can.
//!
//! The poller sees parameters through [`ParameterSource`] only, so that its decisions (what is
//! new, what to refuse, what to keep) are tested without the SDK; [`SdkSource`] is the real
//! one. Failures are sorted into what an operator must fix (permissions, a missing parameter, a
//! wrong type), what says the service is overloaded (throttling, 5xx: the poller backs off)
//! and what passes by itself (the network), because the first deserve one clear line naming
//! the permission, the second a longer wait, and the third only a retry.
//!
//! The client is the push client, built with the SDK's retries off (`aws::client`): a
//! throttled GetParameters is one request, never three, and the poller backs off instead
//! (`fleet::interval`).

use std::future::Future;

use aws_sdk_ssm::Client;
use aws_sdk_ssm::config::http::HttpResponse;
use aws_sdk_ssm::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ssm::operation::RequestId;
use aws_sdk_ssm::types::{Parameter, ParameterType};

use crate::aws::error::{self, Endpoint};
use time::OffsetDateTime;

/// Names one GetParameters call may carry: the service's limit.
pub const NAMES_PER_CALL: usize = 10;

/// GetParameters calls a poll of `parameters` names makes: one per [`NAMES_PER_CALL`].
pub fn calls_per_poll(parameters: usize) -> usize {
    parameters.div_ceil(NAMES_PER_CALL)
}

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
        "parameter {name}: access denied ({code}): the node's identity needs ssm:GetParameters on {name}: {message}"
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
    /// Throttling or a server error (HTTP 5xx): Parameter Store is overloaded, and the
    /// poller waits longer before it asks again.
    #[error("parameter {name}: {detail}")]
    Busy { name: String, detail: String },
    /// An unreachable endpoint, a timeout, an unreadable answer: tried again at the next poll.
    #[error("parameter {name}: {detail}")]
    Transient { name: String, detail: String },
}

impl FetchError {
    /// Whether this passes by itself; anything else needs the operator.
    pub fn is_transient(&self) -> bool {
        matches!(self, FetchError::Transient { .. } | FetchError::Busy { .. })
    }

    /// Whether the service said it is overloaded (throttling, 5xx).
    pub fn is_busy(&self) -> bool {
        matches!(self, FetchError::Busy { .. })
    }
}

/// Where parameters are read from.
pub trait ParameterSource: Send + Sync {
    /// The newest versions of `names` (at most [`NAMES_PER_CALL`]), decrypted, in one call:
    /// one answer per name, in the order asked.
    fn get_batch(
        &self,
        names: &[String],
    ) -> impl Future<Output = Vec<Result<Fetched, FetchError>>> + Send;
}

/// Reads every name in [`calls_per_poll`] calls, one after the other (never in parallel, so
/// a node is at most one call at a time against the shared budget); one answer per name, in
/// the order given.
pub async fn fetch_all<S: ParameterSource>(
    source: &S,
    names: &[String],
) -> Vec<(String, Result<Fetched, FetchError>)> {
    let mut answers = Vec::with_capacity(names.len());
    for batch in names.chunks(NAMES_PER_CALL) {
        let got = source.get_batch(batch).await;
        let mut got = got.into_iter();
        for name in batch {
            let answer = got.next().unwrap_or_else(|| {
                Err(FetchError::Transient {
                    name: name.clone(),
                    detail: "the answer held nothing for it".to_owned(),
                })
            });
            answers.push((name.clone(), answer));
        }
    }
    answers
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
    async fn get_batch(&self, names: &[String]) -> Vec<Result<Fetched, FetchError>> {
        let endpoint = Endpoint::new();
        let answer = self
            .client
            .get_parameters()
            .set_names(Some(names.to_vec()))
            .with_decryption(true)
            .customize()
            .interceptor(endpoint.clone())
            .send()
            .await;
        let out = match answer {
            Ok(out) => out,
            // The whole call failed: every name it asked for says so, by name.
            Err(e) => {
                let endpoint =
                    endpoint.or_region(self.client.config().region().map(|r| r.as_ref()));
                tracing::debug!(%endpoint, error = ?e, "GetParameters failed");
                return names
                    .iter()
                    .map(|name| Err(classify(name, &e, &endpoint)))
                    .collect();
            }
        };
        names
            .iter()
            .map(|name| {
                if let Some(parameter) = out.parameters().iter().find(|p| p.name() == Some(name)) {
                    return fetched(name, parameter);
                }
                if out.invalid_parameters().iter().any(|n| n == name) {
                    return Err(FetchError::NotFound { name: name.clone() });
                }
                Err(FetchError::Transient {
                    name: name.clone(),
                    detail:
                        "the answer held neither the parameter nor its name in InvalidParameters"
                            .to_owned(),
                })
            })
            .collect()
    }
}

/// One parameter of an answer, if it is of a type that holds probe definitions.
fn fetched(name: &str, parameter: &Parameter) -> Result<Fetched, FetchError> {
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
        text: parameter.value.clone().unwrap_or_default(),
        parameter_type,
        last_modified,
    })
}

/// Sorts an SDK failure. KMS refusals arrive as `AccessDeniedException` or a KMS error code;
/// their message is what tells them apart from a refused `ssm:GetParameters`.
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
    sort(name, code, message, service.raw().status().as_u16())
}

/// Codes that say the service is overloaded, besides any HTTP 5xx: the SDK's own list of
/// throttling codes (used as it is, so that a code the SDK learns is known here too).
fn is_busy(code: &str, status: u16) -> bool {
    use aws_runtime::retries::classifiers::THROTTLING_ERRORS;
    status >= 500 || THROTTLING_ERRORS.contains(&code)
}

/// The decision of [`classify`], on the code, message and HTTP status alone.
fn sort(name: String, code: String, message: String, status: u16) -> FetchError {
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
        _ => {
            let detail = if message.is_empty() {
                code.clone()
            } else {
                format!("{code}: {message}")
            };
            if is_busy(&code, status) {
                FetchError::Busy { name, detail }
            } else {
                FetchError::Transient { name, detail }
            }
        }
    }
}

#[cfg(test)]
mod tests;
