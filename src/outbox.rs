//! The latest items of every probe, waiting to be pushed, and the one place where probes'
//! results are merged (the daemon's runs as they finish; `once` and `demo`'s single round).
//!
//! Inventory is state, not a log: only the newest item per TypeName matters, so a newer run
//! simply replaces what an older one left, pending or not. A failed run keeps the last good
//! items (a broken probe must never clear inventory) and records the error for `status`.
//! Two probes producing one TypeName: the first in configuration order keeps it.

use std::collections::HashSet;

use crate::inventory::Item;
use crate::probe::Probe;
use crate::scheduler::Outcome;
use crate::state::InstanceState;

/// What the probes produced, merged: everything a push is planned from.
#[derive(Debug, Default)]
pub struct Collected {
    pub items: Vec<Item>,
    /// One sentence per failed probe (or duplicate type), naming the probe.
    pub errors: Vec<String>,
    /// Types some configured probe claims, produced this time or not.
    pub declared: HashSet<String>,
    /// A probe whose types are only known from its output failed (or has not run yet):
    /// which types disappeared cannot be told, so nothing is cleared.
    pub incomplete: bool,
}

#[derive(Debug, Default)]
struct Slot {
    name: String,
    declared: Vec<String>,
    dynamic: bool,
    ran: bool,
    items: Vec<Item>,
    /// What went wrong in the last run, one sentence per problem.
    last_errors: Vec<String>,
    /// The last run succeeded only in part (a bad file next to good ones), or failed.
    partial: bool,
}

#[derive(Debug, Default)]
pub struct Outbox {
    /// In configuration order, which decides who keeps a TypeName two probes produce.
    slots: Vec<Slot>,
    /// Types the service wants in full again although their content was let go; the next
    /// run of their probe keeps the content.
    needs_content: HashSet<String>,
}

impl Outbox {
    /// Adopts a (new) probe list: slots of probes that remain keep their items until the
    /// probe runs again; slots of removed probes go, so their types count as removed.
    pub fn set_probes(&mut self, probes: &[Probe]) {
        let mut old: Vec<Slot> = std::mem::take(&mut self.slots);
        for probe in probes {
            let slot = match old.iter().position(|s| s.name == probe.name()) {
                Some(i) => old.swap_remove(i),
                None => Slot {
                    name: probe.name().to_string(),
                    ..Slot::default()
                },
            };
            self.slots.push(Slot {
                declared: probe
                    .declared_types()
                    .iter()
                    .map(|t| t.to_string())
                    .collect(),
                dynamic: probe.has_dynamic_types(),
                ..slot
            });
        }
    }

    /// Records a run. Returns true when what would be pushed changed: a type appeared,
    /// disappeared or has a new ContentHash or SchemaVersion. A failed run keeps the slot's
    /// last good items; saying so is the caller's business.
    pub fn record(&mut self, outcome: Outcome) -> bool {
        let Some(slot) = self.slots.iter_mut().find(|s| s.name == outcome.probe) else {
            return false; // a probe removed by a reload finished one last run
        };
        let first_run = !slot.ran;
        slot.ran = true;
        match outcome.result {
            Ok(collection) => {
                let items = collection.items;
                slot.partial = !collection.errors.is_empty();
                slot.last_errors = collection.errors.iter().map(ToString::to_string).collect();
                let key = |items: &[Item]| -> Vec<(String, String, String)> {
                    let mut k: Vec<_> = items
                        .iter()
                        .map(|i| {
                            (
                                i.type_name().to_string(),
                                i.content_hash().to_string(),
                                i.schema_version().to_string(),
                            )
                        })
                        .collect();
                    k.sort();
                    k
                };
                let mut changed = first_run || key(&slot.items) != key(&items);
                let needs_content = &mut self.needs_content;
                // An item identical to one whose content was already let go is let go too:
                // the service holds it, and only the new CaptureTime matters.
                let items = items
                    .into_iter()
                    .map(|item| {
                        if needs_content.remove(item.type_name()) {
                            changed = true;
                            return item;
                        }
                        let acknowledged = slot.items.iter().any(|old| {
                            !old.has_content()
                                && old.type_name() == item.type_name()
                                && old.content_hash() == item.content_hash()
                                && old.schema_version() == item.schema_version()
                        });
                        if acknowledged {
                            item.without_content()
                        } else {
                            item
                        }
                    })
                    .collect();
                slot.items = items;
                changed
            }
            Err(e) => {
                slot.last_errors = vec![e.to_string()];
                slot.partial = true;
                // A first run that fails still completes the picture of which probes ran.
                first_run
            }
        }
    }

    /// Lets go of the content of every item the service has acknowledged with the same hash
    /// and SchemaVersion: pending items are the only content held (docs/ARCHITECTURE.md,
    /// "State and hashing"); and takes items the service refused out of the probe budget.
    pub fn drop_acknowledged(&mut self, acknowledged: Option<&InstanceState>) {
        let Some(acknowledged) = acknowledged else {
            return;
        };
        for item in self.slots.iter_mut().flat_map(|s| s.items.iter_mut()) {
            let held = acknowledged.types.get(item.type_name()).is_some_and(|ack| {
                ack.content_hash == item.content_hash()
                    && ack.schema_version == item.schema_version()
            });
            if held && item.has_content() {
                *item = item.without_content();
            }
        }
        self.release_refused(Some(acknowledged));
    }

    /// Takes the items the service refused with their present content out of the probe
    /// budget: each waits for `quarantine_retry` (or a newer run) with its content, but must
    /// not fill the budget for every other probe meanwhile. Done after every run as well as
    /// after every push, so that a run that produced a refused item again does not hold its
    /// share until the next push.
    pub fn release_refused(&mut self, acknowledged: Option<&InstanceState>) {
        let Some(acknowledged) = acknowledged else {
            return;
        };
        for item in self.slots.iter_mut().flat_map(|s| s.items.iter_mut()) {
            let refused = acknowledged
                .quarantine
                .get(item.type_name())
                .is_some_and(|q| q.content_hash == item.content_hash());
            if refused {
                item.release_hold();
            }
        }
    }

    /// Marks `types` as wanted in full again and returns the probes that produce them, to
    /// run again.
    pub fn request_content(&mut self, types: &[String]) -> Vec<String> {
        self.needs_content.extend(types.iter().cloned());
        self.probes_of(types)
    }

    /// The probes that produce any of `types`.
    pub fn probes_of(&self, types: &[String]) -> Vec<String> {
        self.slots
            .iter()
            .filter(|s| {
                s.items
                    .iter()
                    .any(|i| types.iter().any(|t| t == i.type_name()))
            })
            .map(|s| s.name.clone())
            .collect()
    }

    /// Whether every probe has run at least once.
    pub fn all_ran(&self) -> bool {
        self.slots.iter().all(|s| s.ran)
    }

    /// Probe names with their last error, for `status`.
    pub fn errors(&self) -> Vec<(String, String)> {
        self.slots
            .iter()
            .filter(|s| !s.last_errors.is_empty())
            .map(|s| (s.name.clone(), s.last_errors.join("; ")))
            .collect()
    }

    /// Everything to plan a push from. Until every probe has run, or while a probe whose
    /// types are only known from its output is failing, the set is incomplete and nothing
    /// is treated as removed.
    pub fn collected(&self) -> Collected {
        let mut collected = Collected::default();
        let mut seen: HashSet<&str> = HashSet::new();
        for slot in &self.slots {
            collected.declared.extend(slot.declared.iter().cloned());
            collected.incomplete |= !slot.ran || (slot.dynamic && slot.partial);
            collected.errors.extend(slot.last_errors.iter().cloned());
            for item in &slot.items {
                if seen.insert(item.type_name()) {
                    collected.items.push(item.clone());
                } else {
                    collected.errors.push(format!(
                        "probe `{}`: TypeName `{}` is also produced by an earlier probe; this one is ignored",
                        slot.name,
                        item.type_name()
                    ));
                }
            }
        }
        collected
    }
}

#[cfg(test)]
mod tests;
