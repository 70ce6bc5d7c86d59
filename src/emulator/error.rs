//! Service errors as the awsJson1.1 protocol carries them.
//!
//! The names and HTTP statuses are the ones the real SSM endpoint answers with, because the
//! whole point of the emulator is that a client's error classification can be tested against
//! it. The SDK picks the typed `PutInventoryError` variant from `__type` alone, and fills
//! `type_name()` from a `TypeName` member only for the four shapes that model one, so
//! [`ApiError::with_type_name`] attaches it to exactly those and no others.

use serde_json::{Map, Value};

/// Every error name the emulator can answer with.
///
/// `SubTypeCountLimitExceededException` is never produced by the emulator's own rules: it has no
/// notion of sub-types (they are about `AWS:` types with nested schemas, which this daemon never
/// sends). It exists only so a test [`Refusal`](super::Refusal) can answer it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorCode {
    // Protocol and authentication (the common errors of every AWS JSON service).
    MissingAuthenticationToken,
    IncompleteSignature,
    UnrecognizedClient,
    ExpiredToken,
    InvalidSignature,
    Serialization,
    UnknownOperation,
    RequestEntityTooLarge,
    Validation,
    Throttling,
    InternalServerError,
    /// The emulator's own: too many request bodies in memory at once (HTTP 503).
    SlowDown,
    // PutInventory / ListInventoryEntries modelled errors.
    InvalidInstanceId,
    InvalidTypeName,
    InvalidItemContent,
    ItemContentMismatch,
    ItemSizeLimitExceeded,
    TotalSizeLimitExceeded,
    CustomSchemaCountLimitExceeded,
    UnsupportedInventoryItemContext,
    InvalidInventoryItemContext,
    UnsupportedInventorySchemaVersion,
    SubTypeCountLimitExceeded,
    InvalidNextToken,
    // Parameter Store (GetParameter / PutParameter).
    AccessDenied,
    ParameterNotFound,
    ParameterVersionNotFound,
    ParameterVersionLabelNotFound,
    ParameterAlreadyExists,
    HierarchyLevelLimitExceeded,
}

impl ErrorCode {
    /// Every code, so a name can be looked up (the `--refuse` flag of the `emulator` command).
    pub const ALL: &'static [ErrorCode] = &[
        Self::MissingAuthenticationToken,
        Self::IncompleteSignature,
        Self::UnrecognizedClient,
        Self::ExpiredToken,
        Self::InvalidSignature,
        Self::Serialization,
        Self::UnknownOperation,
        Self::RequestEntityTooLarge,
        Self::Validation,
        Self::Throttling,
        Self::InternalServerError,
        Self::SlowDown,
        Self::InvalidInstanceId,
        Self::InvalidTypeName,
        Self::InvalidItemContent,
        Self::ItemContentMismatch,
        Self::ItemSizeLimitExceeded,
        Self::TotalSizeLimitExceeded,
        Self::CustomSchemaCountLimitExceeded,
        Self::UnsupportedInventoryItemContext,
        Self::InvalidInventoryItemContext,
        Self::UnsupportedInventorySchemaVersion,
        Self::SubTypeCountLimitExceeded,
        Self::InvalidNextToken,
        Self::AccessDenied,
        Self::ParameterNotFound,
        Self::ParameterVersionNotFound,
        Self::ParameterVersionLabelNotFound,
        Self::ParameterAlreadyExists,
        Self::HierarchyLevelLimitExceeded,
    ];

    /// The code whose [`name`](Self::name) is `name`.
    pub fn from_name(name: &str) -> Option<ErrorCode> {
        Self::ALL.iter().copied().find(|c| c.name() == name)
    }

    /// The `__type` the service puts in the body (the SDK strips any namespace anyway, so the
    /// bare name is what every client ends up comparing against).
    pub fn name(self) -> &'static str {
        match self {
            Self::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            Self::IncompleteSignature => "IncompleteSignatureException",
            Self::UnrecognizedClient => "UnrecognizedClientException",
            Self::ExpiredToken => "ExpiredTokenException",
            Self::InvalidSignature => "InvalidSignatureException",
            Self::Serialization => "SerializationException",
            Self::UnknownOperation => "UnknownOperationException",
            Self::RequestEntityTooLarge => "RequestEntityTooLargeException",
            Self::Validation => "ValidationException",
            Self::Throttling => "ThrottlingException",
            Self::InternalServerError => "InternalServerError",
            Self::SlowDown => "SlowDown",
            Self::InvalidInstanceId => "InvalidInstanceId",
            Self::InvalidTypeName => "InvalidTypeNameException",
            Self::InvalidItemContent => "InvalidItemContentException",
            Self::ItemContentMismatch => "ItemContentMismatchException",
            Self::ItemSizeLimitExceeded => "ItemSizeLimitExceededException",
            Self::TotalSizeLimitExceeded => "TotalSizeLimitExceededException",
            Self::CustomSchemaCountLimitExceeded => "CustomSchemaCountLimitExceededException",
            Self::UnsupportedInventoryItemContext => "UnsupportedInventoryItemContextException",
            Self::InvalidInventoryItemContext => "InvalidInventoryItemContextException",
            Self::UnsupportedInventorySchemaVersion => "UnsupportedInventorySchemaVersionException",
            Self::SubTypeCountLimitExceeded => "SubTypeCountLimitExceededException",
            Self::InvalidNextToken => "InvalidNextToken",
            Self::AccessDenied => "AccessDeniedException",
            Self::ParameterNotFound => "ParameterNotFound",
            Self::ParameterVersionNotFound => "ParameterVersionNotFound",
            Self::ParameterVersionLabelNotFound => "ParameterVersionLabelNotFound",
            Self::ParameterAlreadyExists => "ParameterAlreadyExists",
            Self::HierarchyLevelLimitExceeded => "HierarchyLevelLimitExceededException",
        }
    }

    /// HTTP status: every client fault is 400 on AWS JSON services (including the
    /// authentication errors and throttling); only a server fault is 500.
    pub fn status(self) -> u16 {
        match self {
            Self::InternalServerError => 500,
            Self::SlowDown => 503,
            Self::RequestEntityTooLarge => 413,
            _ => 400,
        }
    }

    /// Whether the service model gives this error a `TypeName` member.
    pub fn carries_type_name(self) -> bool {
        matches!(
            self,
            Self::InvalidItemContent
                | Self::ItemContentMismatch
                | Self::ItemSizeLimitExceeded
                | Self::UnsupportedInventoryItemContext
        )
    }
}

/// One error answer: what the client sees in the body of a non-2xx response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub type_name: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            type_name: None,
        }
    }

    /// Attaches the offending TypeName where the model has room for it; elsewhere the name
    /// only appears in the message, as on the real service.
    pub fn with_type_name(mut self, type_name: &str) -> Self {
        if self.code.carries_type_name() {
            self.type_name = Some(type_name.to_owned());
        }
        self
    }

    pub fn body(&self) -> Value {
        let mut map = Map::new();
        map.insert("__type".into(), Value::String(self.code.name().into()));
        map.insert("Message".into(), Value::String(self.message.clone()));
        if let Some(type_name) = &self.type_name {
            map.insert("TypeName".into(), Value::String(type_name.clone()));
        }
        Value::Object(map)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.name(), self.message)
    }
}

#[cfg(test)]
mod tests;
