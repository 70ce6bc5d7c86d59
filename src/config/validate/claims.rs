//! What earlier probes took, so that a clash names both places.

use std::collections::HashMap;
use std::ops::Range;
use std::path::PathBuf;

use super::super::defaults::DEFAULT_COLLECTORS;
use super::super::error::{ConfigError, Source};
use super::super::{Collector, ProbeKind, ProbeSettings, TypePattern};
use super::Places;

/// A place already taken by an earlier probe: a line of a file, or of a parameter's version.
pub(super) struct Claim {
    probe: String,
    /// `FILE:LINE`, or `parameter NAME version N, line L`.
    place: String,
}

impl Claim {
    fn new(src: &Source<'_>, probe: &str, span: &Range<usize>) -> Claim {
        Claim {
            probe: probe.to_owned(),
            place: src.place(src.line(span)),
        }
    }

    fn by(&self) -> String {
        format!("probe {:?} at {}", self.probe, self.place)
    }
}

/// What earlier probes took: names, and the TypeNames (exact, or prefixes from an exec
/// probe's `types`) and sources of TypeNames that only one probe may feed, since two writers
/// of one type would overwrite each other in SSM.
#[derive(Default)]
pub(super) struct Claims {
    names: HashMap<String, Claim>,
    type_names: HashMap<String, Claim>,
    prefixes: Vec<(String, Claim)>,
    collectors: HashMap<Collector, Claim>,
    folders: HashMap<PathBuf, Claim>,
}

impl Claims {
    pub(super) fn claim(
        &mut self,
        src: &Source<'_>,
        probe: &ProbeSettings,
        at: &Places,
    ) -> Result<(), ConfigError> {
        let name = &probe.name;
        if let Some(earlier) = self.names.get(name) {
            return Err(src.invalid(
                &at.name,
                "name",
                format!(
                    "probe name {name:?} is already used by the probe at {}",
                    earlier.place
                ),
            ));
        }
        match &probe.kind {
            ProbeKind::Exec(_) => {}
            ProbeKind::Files(files) => {
                if let Some(earlier) = self.folders.get(&files.path) {
                    return Err(src.invalid(
                        &at.claim,
                        "path",
                        format!(
                            "folder {} is already read by {}; one folder, one probe",
                            files.path.display(),
                            earlier.by()
                        ),
                    ));
                }
                self.folders
                    .insert(files.path.clone(), Claim::new(src, name, &at.claim));
            }
            ProbeKind::System(system) => {
                for c in &system.collectors {
                    if let Some(earlier) = self.collectors.get(c) {
                        return Err(src.invalid(
                            &at.claim,
                            "collectors",
                            format!(
                                "collector \"{}\" is already run by {}; its TypeNames would come from two probes",
                                c.as_str(),
                                earlier.by()
                            ),
                        ));
                    }
                }
                for c in &system.collectors {
                    self.collectors.insert(*c, Claim::new(src, name, &at.claim));
                }
            }
        }
        for claim in &at.types {
            if let Some(clash) = self.type_clash(&claim.pattern) {
                let subject = match &claim.pattern {
                    TypePattern::Exact(t) if claim.key == "collectors" => {
                        let collector = DEFAULT_COLLECTORS
                            .iter()
                            .find(|c| c.type_name() == t)
                            .map_or("", |c| c.as_str());
                        format!("TypeName `{t}` (from collector \"{collector}\")")
                    }
                    TypePattern::Exact(t) => format!("TypeName `{t}`"),
                    TypePattern::Prefix(_) => format!("prefix `{}`", claim.pattern),
                };
                return Err(src.invalid(
                    &claim.span,
                    claim.key,
                    format!("{subject} {clash}; one TypeName, one probe"),
                ));
            }
        }
        for claim in &at.types {
            let taken = Claim::new(src, name, &claim.span);
            match &claim.pattern {
                TypePattern::Exact(t) => {
                    self.type_names.insert(t.clone(), taken);
                }
                TypePattern::Prefix(p) => self.prefixes.push((p.clone(), taken)),
            }
        }
        self.names
            .insert(name.clone(), Claim::new(src, name, &at.header));
        Ok(())
    }

    /// How `pattern` collides with an earlier probe's claim, as the end of a sentence.
    fn type_clash(&self, pattern: &TypePattern) -> Option<String> {
        match pattern {
            TypePattern::Exact(t) => {
                if let Some(earlier) = self.type_names.get(t) {
                    return Some(format!("is already claimed by {}", earlier.by()));
                }
                self.prefixes
                    .iter()
                    .find(|(p, _)| t.starts_with(p.as_str()))
                    .map(|(p, earlier)| {
                        format!("falls under the prefix `{p}*` claimed by {}", earlier.by())
                    })
            }
            TypePattern::Prefix(p) => {
                let mut exact: Vec<(&String, &Claim)> = self
                    .type_names
                    .iter()
                    .filter(|(t, _)| t.starts_with(p.as_str()))
                    .collect();
                // Name the same clash every time, whatever the map's order.
                exact.sort_by_key(|(t, _)| *t);
                if let Some((t, earlier)) = exact.first() {
                    return Some(format!(
                        "covers TypeName `{t}`, already claimed by {}",
                        earlier.by()
                    ));
                }
                self.prefixes
                    .iter()
                    .find(|(q, _)| p.starts_with(q.as_str()) || q.starts_with(p.as_str()))
                    .map(|(q, earlier)| {
                        format!("overlaps the prefix `{q}*` claimed by {}", earlier.by())
                    })
            }
        }
    }
}
