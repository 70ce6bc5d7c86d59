//! Test-only refusals: answer a chosen error for any PutInventory request that holds a chosen
//! TypeName.
//!
//! A well-behaved client validates items before they leave, so most of the service's
//! item-level errors (`InvalidTypeNameException`, `UnsupportedInventorySchemaVersionException`,
//! context errors, content errors) can never be provoked by sending real items. Yet those are
//! exactly the paths where one poisoned item must not hold back the others. A refusal makes
//! the emulator answer such an error on purpose, with or without the `TypeName` member, so a
//! client's isolation by name and by bisection can both be exercised.
//!
//! Refusals are checked after the stateless rules (a malformed request is still answered as
//! such) and before the stored state is touched (a refused request stores nothing).

use std::str::FromStr;

use super::error::{ApiError, ErrorCode};
use super::rules::PutInventoryRequest;

/// Which form of the item a refusal applies to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RefuseWhen {
    /// Whether it carries Content or not.
    #[default]
    Always,
    /// Only when sent without Content (a hash-only refresh).
    HashOnly,
    /// Only when sent with Content.
    Full,
}

/// Answer `error` for every PutInventory request holding an item of `type_name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub type_name: String,
    pub error: ErrorCode,
    /// Put `TypeName` in the answer, so the client can isolate by name. Only honoured for the
    /// error shapes the service model gives that member (see [`ErrorCode::carries_type_name`]);
    /// elsewhere the name appears in the message only, as on the real service.
    pub name_type: bool,
    pub when: RefuseWhen,
}

impl Refusal {
    /// A refusal of every form of `type_name`, without naming it in the answer.
    pub fn unnamed(type_name: &str, error: ErrorCode) -> Refusal {
        Refusal {
            type_name: type_name.to_owned(),
            error,
            name_type: false,
            when: RefuseWhen::Always,
        }
    }

    /// A refusal of every form of `type_name` that names it where the model allows.
    pub fn named(type_name: &str, error: ErrorCode) -> Refusal {
        Refusal {
            name_type: true,
            ..Refusal::unnamed(type_name, error)
        }
    }

    fn applies(&self, type_name: &str, has_content: bool) -> bool {
        self.type_name == type_name
            && match self.when {
                RefuseWhen::Always => true,
                RefuseWhen::HashOnly => !has_content,
                RefuseWhen::Full => has_content,
            }
    }
}

/// `TYPE=ERROR[:named][:hash-only|:full]`, e.g.
/// `Custom:Bad=InvalidTypeNameException` or `Custom:Big=ItemSizeLimitExceededException:named`.
impl FromStr for Refusal {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (type_name, rest) = s
            .rsplit_once('=')
            .ok_or_else(|| format!("'{s}' is not TYPE=ERROR[:named][:hash-only|:full]"))?;
        if type_name.is_empty() {
            return Err(format!("'{s}' names no TypeName"));
        }
        let mut parts = rest.split(':');
        let name = parts.next().unwrap_or_default();
        let error = ErrorCode::from_name(name)
            .ok_or_else(|| format!("'{name}' is not an error the emulator knows"))?;
        let mut refusal = Refusal::unnamed(type_name, error);
        for flag in parts {
            match flag {
                "named" => refusal.name_type = true,
                "hash-only" => refusal.when = RefuseWhen::HashOnly,
                "full" => refusal.when = RefuseWhen::Full,
                other => {
                    return Err(format!(
                        "unknown refusal flag '{other}' (use named, hash-only or full)"
                    ));
                }
            }
        }
        Ok(refusal)
    }
}

/// The answer for `req` if one of `refusals` applies to one of its items (the first item, in
/// request order, that any refusal applies to decides).
pub fn check(refusals: &[Refusal], req: &PutInventoryRequest) -> Result<(), ApiError> {
    for item in &req.items {
        let has_content = item.content.is_some();
        if let Some(r) = refusals
            .iter()
            .find(|r| r.applies(&item.type_name, has_content))
        {
            let err = ApiError::new(
                r.error,
                format!(
                    "Item {} refused (injected by the emulator's refuse setting)",
                    item.type_name
                ),
            );
            return Err(if r.name_type {
                err.with_type_name(&item.type_name)
            } else {
                err
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
