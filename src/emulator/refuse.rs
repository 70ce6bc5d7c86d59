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
mod tests {
    use super::*;
    use crate::emulator::rules::Item;

    fn req(items: &[(&str, bool)]) -> PutInventoryRequest {
        PutInventoryRequest {
            instance_id: "i-0123456789abcdef0".into(),
            items: items
                .iter()
                .map(|&(t, full)| Item {
                    type_name: t.into(),
                    schema_version: "1.0".into(),
                    capture_time: "2026-11-27T10:00:00Z".into(),
                    content_hash: Some("h".into()),
                    content: full.then(Vec::new),
                    bytes: 10,
                })
                .collect(),
        }
    }

    #[test]
    fn parses_the_flag_form() {
        let r: Refusal = "Custom:Bad=InvalidTypeNameException".parse().unwrap();
        assert_eq!(
            r,
            Refusal::unnamed("Custom:Bad", ErrorCode::InvalidTypeName)
        );
        let r: Refusal = "Custom:A=InvalidItemContentException:named:hash-only"
            .parse()
            .unwrap();
        assert!(r.name_type);
        assert_eq!(r.when, RefuseWhen::HashOnly);
        assert!("Custom:A".parse::<Refusal>().is_err());
        assert!("Custom:A=NoSuchError".parse::<Refusal>().is_err());
        assert!(
            "Custom:A=InvalidTypeNameException:loud"
                .parse::<Refusal>()
                .is_err()
        );
    }

    #[test]
    fn first_refused_item_decides_and_names_only_where_modelled() {
        let refusals = vec![
            Refusal::named("Custom:B", ErrorCode::InvalidTypeName),
            Refusal::named("Custom:C", ErrorCode::ItemSizeLimitExceeded),
        ];
        assert!(check(&refusals, &req(&[("Custom:A", true)])).is_ok());
        let err = check(&refusals, &req(&[("Custom:A", true), ("Custom:B", true)])).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidTypeName);
        assert_eq!(err.type_name, None);
        let err = check(&refusals, &req(&[("Custom:C", true), ("Custom:B", true)])).unwrap_err();
        assert_eq!(err.code, ErrorCode::ItemSizeLimitExceeded);
        assert_eq!(err.type_name.as_deref(), Some("Custom:C"));
    }

    #[test]
    fn forms() {
        let hash_only = vec![Refusal {
            when: RefuseWhen::HashOnly,
            ..Refusal::named("Custom:A", ErrorCode::InvalidItemContent)
        }];
        assert!(check(&hash_only, &req(&[("Custom:A", true)])).is_ok());
        assert!(check(&hash_only, &req(&[("Custom:A", false)])).is_err());
        let full = vec![Refusal {
            when: RefuseWhen::Full,
            ..Refusal::named("Custom:A", ErrorCode::InvalidItemContent)
        }];
        assert!(check(&full, &req(&[("Custom:A", true)])).is_err());
        assert!(check(&full, &req(&[("Custom:A", false)])).is_ok());
    }
}
