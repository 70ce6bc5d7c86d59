//! Parameter Store's GetParameter, GetParameters and PutParameter, as the API reference
//! describes them, so that fleet configuration can be exercised through the real SDK and the
//! AWS CLI.
//!
//! What is modelled: versions counted per name from 1, `Overwrite` (without it an existing
//! name answers `ParameterAlreadyExists`), `String`, `StringList` and `SecureString` (the
//! value is kept as given; GetParameter returns a SecureString decrypted only with
//! `WithDecryption`, otherwise as an opaque base64 string standing in for the ciphertext),
//! `name:version` selectors, the Standard tier's 4 KB and the Advanced tier's 8 KB value
//! limits, the naming rules, and the answer's `Type`, `Version`, `LastModifiedDate`, `ARN` and
//! `DataType`. Not modelled: labels, policies, tags beyond refusing them with `Overwrite`, KMS
//! key IDs (accepted and ignored), and the 100-version history limit. Access can be denied
//! per name ([`Parameters::deny`]), as IAM would, to test what a node does without
//! `ssm:GetParameter`.
//!
//! GetParameters reads 1 to 10 names in one call: the names it cannot find (or whose version
//! selector names no version) come back in `InvalidParameters` while the others are answered,
//! but one name the caller may not read refuses the whole call with AccessDeniedException, as
//! IAM authorises a request against every resource it names.

use std::collections::{HashMap, HashSet};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use serde_json::{Value, json};

use super::error::{ApiError, ErrorCode};

/// The account the emulator's ARNs name: AWS's documentation example.
pub const ACCOUNT_ID: &str = "123456789012";
/// Standard tier: 4 KB per value; Advanced: 8 KB.
const STANDARD_MAX_VALUE: usize = 4096;
const ADVANCED_MAX_VALUE: usize = 8192;
const MAX_NAME_CHARS: usize = 2048;
const MAX_LEVELS: usize = 15;
/// Names one GetParameters call may ask for.
pub const MAX_NAMES_PER_GET: usize = 10;

#[derive(Debug, Clone)]
struct Version {
    value: String,
    parameter_type: String,
    modified: f64,
}

#[derive(Debug, Clone)]
struct Parameter {
    tier: String,
    versions: Vec<Version>,
}

#[derive(Debug, Default)]
pub struct Parameters {
    by_name: HashMap<String, Parameter>,
    denied: HashSet<String>,
    gets: u64,
}

/// Why one name of a read could not be answered.
enum Miss {
    /// Not there, or no such version: `ParameterNotFound`, or `InvalidParameters` in a batch.
    Invalid(ApiError),
    /// Refuses the whole call.
    Fatal(ApiError),
}

fn validation(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::Validation, message)
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| (d.as_millis() as f64) / 1000.0)
}

fn field<'a>(body: &'a Value, key: &str) -> Option<&'a Value> {
    body.get(key).filter(|v| !v.is_null())
}

fn string_field(body: &Value, key: &str) -> Result<Option<String>, ApiError> {
    match field(body, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::new(
            ErrorCode::Serialization,
            format!("{key} must be a string"),
        )),
    }
}

fn bool_field(body: &Value, key: &str) -> Result<bool, ApiError> {
    match field(body, key) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::new(
            ErrorCode::Serialization,
            format!("{key} must be a boolean"),
        )),
    }
}

/// The naming rules of PutParameter.
fn check_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(validation(format!(
            "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must have length less than or equal to {MAX_NAME_CHARS} and greater than or equal to 1"
        )));
    }
    // The prefix rule is about the name as written: `/ssm-inventoryd/x` is a fine name,
    // `ssm-x` is not; the first level `/aws` or `/ssm` is reserved as a whole.
    let lower = name.to_ascii_lowercase();
    let first_level = lower
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("");
    if name.starts_with('/') && name[1..].contains('/') && matches!(first_level, "aws" | "ssm") {
        return Err(validation(format!(
            "No access to reserved parameter name: {name}."
        )));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/');
    let parts_ok = !name.contains("//")
        && !name.ends_with('/')
        && (!name.contains('/') || name.starts_with('/'));
    if !name.chars().all(allowed)
        || !parts_ok
        || lower.starts_with("aws")
        || lower.starts_with("ssm")
    {
        return Err(validation(
            "Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_",
        ));
    }
    if name.matches('/').count() > MAX_LEVELS {
        return Err(ApiError::new(
            ErrorCode::HierarchyLevelLimitExceeded,
            format!("A hierarchy can have a maximum of {MAX_LEVELS} levels."),
        ));
    }
    Ok(())
}

impl Parameters {
    /// From now on GetParameter of `name` answers AccessDeniedException.
    pub fn deny(&mut self, name: &str) {
        self.denied.insert(name.to_owned());
    }

    /// GetParameter and GetParameters calls answered so far (any outcome but a throttled one,
    /// which never reaches the store).
    pub fn gets(&self) -> u64 {
        self.gets
    }

    pub fn put(&mut self, body: &Value) -> Result<Value, ApiError> {
        let name = string_field(body, "Name")?.ok_or_else(|| {
            validation("1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null")
        })?;
        let value = string_field(body, "Value")?.ok_or_else(|| {
            validation("1 validation error detected: Value null at 'value' failed to satisfy constraint: Member must not be null")
        })?;
        check_name(&name)?;
        if value.is_empty() {
            return Err(validation(
                "1 validation error detected: Value at 'value' failed to satisfy constraint: Member must have length greater than or equal to 1",
            ));
        }
        let parameter_type = string_field(body, "Type")?;
        if let Some(t) = &parameter_type
            && !matches!(t.as_str(), "String" | "StringList" | "SecureString")
        {
            return Err(validation(format!(
                "1 validation error detected: Value '{t}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [SecureString, StringList, String]"
            )));
        }
        let overwrite = bool_field(body, "Overwrite")?;
        if overwrite && field(body, "Tags").is_some() {
            return Err(validation(
                "Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.",
            ));
        }
        let tier = match string_field(body, "Tier")?.as_deref() {
            None | Some("Standard") => None,
            Some("Advanced") => Some("Advanced"),
            // Intelligent-Tiering picks Standard when the value fits it.
            Some("Intelligent-Tiering") => Some(if value.chars().count() > STANDARD_MAX_VALUE {
                "Advanced"
            } else {
                "Standard"
            }),
            Some(other) => {
                return Err(validation(format!(
                    "1 validation error detected: Value '{other}' at 'tier' failed to satisfy constraint: Member must satisfy enum value set: [Advanced, Intelligent-Tiering, Standard]"
                )));
            }
        };
        let existing = self.by_name.get(&name);
        if existing.is_some() && !overwrite {
            return Err(ApiError::new(
                ErrorCode::ParameterAlreadyExists,
                "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.",
            ));
        }
        // A parameter stays Advanced once it is (the service cannot downgrade it).
        let tier = match (tier, existing.map(|p| p.tier.as_str())) {
            (_, Some("Advanced")) => "Advanced",
            (Some(t), _) => t,
            (None, _) => "Standard",
        };
        let limit = if tier == "Advanced" {
            ADVANCED_MAX_VALUE
        } else {
            STANDARD_MAX_VALUE
        };
        if value.chars().count() > limit {
            return Err(validation(if tier == "Advanced" {
                format!(
                    "Advanced tier parameters support a maximum parameter value of {ADVANCED_MAX_VALUE} characters."
                )
            } else {
                format!(
                    "Standard tier parameters support a maximum parameter value of {STANDARD_MAX_VALUE} characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier."
                )
            }));
        }
        let parameter_type = match (parameter_type, existing) {
            (Some(t), _) => t,
            (None, Some(p)) => p
                .versions
                .last()
                .map_or_else(|| "String".to_owned(), |v| v.parameter_type.clone()),
            (None, None) => {
                return Err(validation(
                    "A parameter type is required when you create a parameter.",
                ));
            }
        };
        let entry = self.by_name.entry(name).or_insert_with(|| Parameter {
            tier: tier.to_owned(),
            versions: Vec::new(),
        });
        entry.tier = tier.to_owned();
        entry.versions.push(Version {
            value,
            parameter_type,
            modified: now(),
        });
        Ok(json!({"Version": entry.versions.len(), "Tier": entry.tier}))
    }

    pub fn get(&mut self, body: &Value, region: &str) -> Result<Value, ApiError> {
        self.gets += 1;
        let requested = string_field(body, "Name")?.ok_or_else(|| {
            validation("1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null")
        })?;
        let decrypt = bool_field(body, "WithDecryption")?;
        match self.lookup(&requested, decrypt, region, "ssm:GetParameter") {
            Ok(answer) => Ok(json!({ "Parameter": answer })),
            Err(Miss::Invalid(e) | Miss::Fatal(e)) => Err(e),
        }
    }

    /// GetParameters: 1 to [`MAX_NAMES_PER_GET`] names, answered in the order asked, the ones
    /// that do not exist listed in `InvalidParameters`.
    pub fn get_many(&mut self, body: &Value, region: &str) -> Result<Value, ApiError> {
        self.gets += 1;
        let names = match field(body, "Names") {
            None => {
                return Err(validation(
                    "1 validation error detected: Value null at 'names' failed to satisfy constraint: Member must not be null",
                ));
            }
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<String>>>()
                .ok_or_else(|| {
                    ApiError::new(ErrorCode::Serialization, "Names must be a list of strings")
                })?,
            Some(_) => {
                return Err(ApiError::new(
                    ErrorCode::Serialization,
                    "Names must be a list of strings",
                ));
            }
        };
        if names.is_empty() || names.len() > MAX_NAMES_PER_GET {
            return Err(validation(format!(
                "1 validation error detected: Value '[{}]' at 'names' failed to satisfy constraint: Member must have length less than or equal to {MAX_NAMES_PER_GET} and Member must have length greater than or equal to 1",
                names.join(", ")
            )));
        }
        let decrypt = bool_field(body, "WithDecryption")?;
        let mut found = Vec::new();
        let mut invalid: Vec<String> = Vec::new();
        for requested in &names {
            match self.lookup(requested, decrypt, region, "ssm:GetParameters") {
                Ok(answer) => {
                    if !found.contains(&answer) {
                        found.push(answer);
                    }
                }
                Err(Miss::Invalid(_)) => {
                    if !invalid.contains(requested) {
                        invalid.push(requested.clone());
                    }
                }
                Err(Miss::Fatal(e)) => return Err(e),
            }
        }
        Ok(json!({ "Parameters": found, "InvalidParameters": invalid }))
    }

    /// One name (with an optional `:version` selector) as GetParameter answers it.
    fn lookup(
        &self,
        requested: &str,
        decrypt: bool,
        region: &str,
        action: &str,
    ) -> Result<Value, Miss> {
        let (name, selector) = match requested.rsplit_once(':') {
            Some((name, selector)) => (name.to_owned(), Some(selector.to_owned())),
            None => (requested.to_owned(), None),
        };
        let arn = format!(
            "arn:aws:ssm:{region}:{ACCOUNT_ID}:parameter{}{name}",
            if name.starts_with('/') { "" } else { "/" }
        );
        if self.denied.contains(&name) {
            return Err(Miss::Fatal(ApiError::new(
                ErrorCode::AccessDenied,
                format!(
                    "User: arn:aws:sts::{ACCOUNT_ID}:assumed-role/emulator-node/i-emulator is not authorized to perform: {action} on resource: {arn} because no identity-based policy allows the {action} action"
                ),
            )));
        }
        let Some(parameter) = self.by_name.get(&name) else {
            return Err(Miss::Invalid(ApiError::new(
                ErrorCode::ParameterNotFound,
                "",
            )));
        };
        let (number, version) = match &selector {
            None => (parameter.versions.len(), parameter.versions.last()),
            Some(s) => match s.parse::<usize>() {
                Ok(n) => (n, n.checked_sub(1).and_then(|i| parameter.versions.get(i))),
                Err(_) => {
                    return Err(Miss::Invalid(ApiError::new(
                        ErrorCode::ParameterVersionLabelNotFound,
                        format!("The specified parameter version label {s} was not found."),
                    )));
                }
            },
        };
        let Some(version) = version else {
            return Err(Miss::Invalid(ApiError::new(
                ErrorCode::ParameterVersionNotFound,
                format!(
                    "Systems Manager could not find version {number} of {name}. Verify the version and try again."
                ),
            )));
        };
        let value = if version.parameter_type == "SecureString" && !decrypt {
            // Stands in for the KMS ciphertext the service would return.
            base64::engine::general_purpose::STANDARD
                .encode(format!("emulator-kms-ciphertext:{}", version.value))
        } else {
            version.value.clone()
        };
        let mut answer = json!({
            "Name": name,
            "Type": version.parameter_type,
            "Value": value,
            "Version": number,
            "LastModifiedDate": version.modified,
            "ARN": arn,
            "DataType": "text",
        });
        if let Some(s) = selector {
            answer["Selector"] = Value::String(format!(":{s}"));
        }
        Ok(answer)
    }
}

#[cfg(test)]
mod tests;
