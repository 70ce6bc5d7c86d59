//! The latest items of every probe, waiting to be pushed.
//!
//! Inventory is state, not a log: only the newest item per TypeName matters, so a newer run
//! simply replaces what an older one left, pending or not. A failed run keeps the last good
//! items (a broken probe must never clear inventory) and records the error for `status`.

use std::collections::HashSet;

use crate::cycle::Collected;
use crate::inventory::Item;
use crate::probe::Probe;
use crate::scheduler::Outcome;

#[derive(Debug, Default)]
struct Slot {
    name: String,
    declared: Vec<String>,
    dynamic: bool,
    ran: bool,
    items: Vec<Item>,
    last_error: Option<String>,
    /// The last run succeeded only in part (a bad file next to good ones).
    partial: bool,
}

#[derive(Debug, Default)]
pub struct Outbox {
    /// In configuration order, which decides who keeps a TypeName two probes produce.
    slots: Vec<Slot>,
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
    /// disappeared or has a new ContentHash or SchemaVersion.
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
                slot.last_error = slot.partial.then(|| {
                    collection
                        .errors
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                });
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
                let changed = first_run || key(&slot.items) != key(&items);
                slot.items = items;
                changed
            }
            Err(e) => {
                tracing::warn!(probe = %slot.name, "{e}; keeping its last good items");
                slot.last_error = Some(e.to_string());
                slot.partial = true;
                // A first run that fails still completes the picture of which probes ran.
                first_run
            }
        }
    }

    /// Whether every probe has run at least once.
    pub fn all_ran(&self) -> bool {
        self.slots.iter().all(|s| s.ran)
    }

    /// Probe names with their last error, for `status`.
    pub fn errors(&self) -> Vec<(String, String)> {
        self.slots
            .iter()
            .filter_map(|s| s.last_error.clone().map(|e| (s.name.clone(), e)))
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
            if let Some(e) = &slot.last_error {
                collected.errors.push(e.clone());
            }
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
