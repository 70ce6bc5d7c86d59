//! `kind = "system"`: which built-in collectors, each at most once.

use std::ops::Range;

use toml::Spanned;

use super::super::defaults::DEFAULT_COLLECTORS;
use super::super::error::{ConfigError, Source};
use super::super::{Collector, ProbeKind, SystemSettings, TypePattern};
use super::TypeClaim;
use super::exec::KindParts;

pub(super) fn system(
    src: &Source<'_>,
    header: &Range<usize>,
    raw: Option<Spanned<Vec<Spanned<Collector>>>>,
) -> Result<KindParts, ConfigError> {
    let claims = |collectors: &[Collector], span: &Range<usize>| -> Vec<TypeClaim> {
        collectors
            .iter()
            .map(|c| TypeClaim {
                pattern: TypePattern::Exact(c.type_name().to_owned()),
                key: "collectors",
                span: span.clone(),
            })
            .collect()
    };
    let Some(list) = raw else {
        let collectors = DEFAULT_COLLECTORS.to_vec();
        let types = claims(&collectors, header);
        return Ok((
            ProbeKind::System(SystemSettings { collectors }),
            header.clone(),
            types,
        ));
    };
    let span = list.span();
    let mut collectors: Vec<Collector> = Vec::new();
    for c in list.into_inner() {
        if collectors.contains(c.get_ref()) {
            return Err(src.invalid(
                &c.span(),
                "collectors",
                format!("\"{}\" is listed twice", c.get_ref().as_str()),
            ));
        }
        collectors.push(c.into_inner());
    }
    if collectors.is_empty() {
        return Err(src.invalid(
            &span,
            "collectors",
            "is empty: list at least one of \"host\", \"disks\", \"network\", or leave the key out for all",
        ));
    }
    let types = claims(&collectors, &span);
    Ok((
        ProbeKind::System(SystemSettings { collectors }),
        span,
        types,
    ))
}
