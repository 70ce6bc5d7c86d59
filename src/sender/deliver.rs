//! Sends planned items to PutInventory and works out what became of each one.
//!
//! A request fails as a whole when one item is bad, so one poisoned item must never hold back
//! the others: an error that names a type removes that item, an item-level error that names
//! none splits the request in halves until the culprit is alone, and everything else goes on.
//! Transient failures keep the whole request and retry it with backoff.

use std::collections::{HashMap, VecDeque};

use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::InventoryItem;
use tokio_util::sync::CancellationToken;

use super::classify::{Failure, classify};
use super::retry::RetryPolicy;
use crate::batch::{self, Budget};
use crate::inventory::Item;
use crate::wire::{self, Payload};

/// One item to send.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub item: &'a Item,
    pub payload: Payload,
    /// Never acknowledged on this node: the type may be new to the account, which matters
    /// when the account's custom type limit is reached.
    pub new_type: bool,
}

/// What became of one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// The service took it; `payload` says whether content or only the hash went.
    Acknowledged { payload: Payload },
    /// The service refused this item for good; it is not retried until its content changes
    /// or `quarantine_retry` passes.
    Quarantined { reason: String },
    /// Not delivered this time; it stays pending.
    Pending { reason: String },
}

/// The outcome of one delivery.
#[derive(Debug, Default)]
pub struct Report {
    /// Per input item, in input order.
    pub fates: Vec<Option<Fate>>,
    pub requests: usize,
    pub bytes: usize,
    /// Set when the service does not know this node; nothing more should be pushed for a while.
    pub instance_invalid: Option<String>,
}

pub struct Deliverer<'c> {
    pub client: &'c Client,
    pub instance_id: &'c str,
    pub budget: Budget,
    pub retry: RetryPolicy,
}

impl Deliverer<'_> {
    /// Delivers `items`, returning each one's fate. Stops early (leaving items pending) when
    /// `cancel` fires.
    pub async fn deliver(&self, items: &[Outgoing<'_>], cancel: &CancellationToken) -> Report {
        let mut payloads: Vec<Payload> = items.iter().map(|o| o.payload).collect();
        let mut report = Report {
            fates: vec![None; items.len()],
            ..Report::default()
        };
        let all: Vec<usize> = (0..items.len()).collect();
        let mut queue: VecDeque<Vec<usize>> = self.pack(items, &payloads, &all).into();

        while let Some(batch) = queue.pop_front() {
            if let Some(reason) = report.instance_invalid.clone() {
                set(&mut report, &batch, Fate::Pending { reason });
                continue;
            }
            let mut attempts = 0u32;
            loop {
                if cancel.is_cancelled() {
                    set(&mut report, &batch, pending("the daemon is stopping"));
                    break;
                }
                let (result, bytes) = self.put(items, &payloads, &batch).await;
                report.requests += 1;
                report.bytes += bytes;
                let failure = match result {
                    Ok(()) => {
                        for &i in &batch {
                            report.fates[i] = Some(Fate::Acknowledged {
                                payload: payloads[i],
                            });
                        }
                        break;
                    }
                    Err(failure) => failure,
                };
                match failure {
                    Failure::Transient(reason) | Failure::Credentials(reason) => {
                        attempts += 1;
                        if !self.retry.allows(attempts) {
                            tracing::warn!(
                                items = batch.len(),
                                attempts,
                                "giving up for now: {reason}"
                            );
                            set(&mut report, &batch, pending(&reason));
                            break;
                        }
                        let wait = self.retry.jittered(attempts);
                        tracing::info!(
                            items = batch.len(),
                            attempts,
                            wait_ms = wait.as_millis() as u64,
                            "will retry: {reason}"
                        );
                        tokio::select! {
                            _ = cancel.cancelled() => {}
                            _ = tokio::time::sleep(wait) => {}
                        }
                    }
                    Failure::InstanceInvalid(reason) => {
                        let reason = format!(
                            "the service does not accept instance ID {}: the node may not be registered, its SSM Agent may not be running or registered, or the node may be in a bad state ({reason})",
                            self.instance_id
                        );
                        tracing::error!("{reason}");
                        set(&mut report, &batch, pending(&reason));
                        report.instance_invalid = Some(reason);
                        break;
                    }
                    Failure::HashMismatch { type_name } => {
                        let resend = hash_only(items, &payloads, &batch, type_name.as_deref());
                        if resend.is_empty() {
                            // A mismatch about an item that carried content makes no sense;
                            // isolate it like any refused item rather than loop.
                            self.isolate(
                                items,
                                &mut report,
                                &mut queue,
                                batch,
                                type_name.as_deref(),
                                "the service reported a content hash mismatch".into(),
                            );
                        } else {
                            tracing::info!(
                                items = resend.len(),
                                "service lacks the acknowledged content; resending in full"
                            );
                            for &i in &resend {
                                payloads[i] = Payload::Full;
                            }
                            self.requeue(items, &payloads, &mut queue, &batch);
                        }
                        break;
                    }
                    Failure::InvalidContent { type_name, reason } => {
                        let resend = hash_only(items, &payloads, &batch, type_name.as_deref());
                        if resend.is_empty() {
                            self.isolate(
                                items,
                                &mut report,
                                &mut queue,
                                batch,
                                type_name.as_deref(),
                                reason,
                            );
                        } else {
                            for &i in &resend {
                                payloads[i] = Payload::Full;
                            }
                            self.requeue(items, &payloads, &mut queue, &batch);
                        }
                        break;
                    }
                    Failure::ItemRefused { type_name, reason } => {
                        self.isolate(
                            items,
                            &mut report,
                            &mut queue,
                            batch,
                            type_name.as_deref(),
                            reason,
                        );
                        break;
                    }
                    Failure::CustomTypeLimit(reason) => {
                        let (new, known): (Vec<usize>, Vec<usize>) =
                            batch.iter().partition(|&&i| items[i].new_type);
                        if new.is_empty() {
                            self.isolate(items, &mut report, &mut queue, batch, None, reason);
                        } else {
                            let reason = format!(
                                "the account already has its maximum of custom inventory types, and this type is new ({reason})"
                            );
                            set(&mut report, &new, Fate::Quarantined { reason });
                            if !known.is_empty() {
                                queue.push_front(known);
                            }
                        }
                        break;
                    }
                    Failure::NodeTotalTooLarge(reason) => {
                        let reason = format!(
                            "the node's total inventory would exceed the service's limit ({reason})"
                        );
                        self.isolate(items, &mut report, &mut queue, batch, None, reason);
                        break;
                    }
                }
            }
        }
        report
    }

    fn pack(
        &self,
        items: &[Outgoing<'_>],
        payloads: &[Payload],
        members: &[usize],
    ) -> Vec<Vec<usize>> {
        let sizes: Vec<batch::Sized<'_>> = members
            .iter()
            .map(|&i| batch::Sized {
                bytes: wire::item_bytes(items[i].item, payloads[i]),
                key: items[i].item.type_name(),
            })
            .collect();
        batch::pack(
            &sizes,
            wire::request_overhead(self.instance_id),
            self.budget,
        )
        .into_iter()
        .map(|request| {
            if request.oversized {
                let item = items[members[request.items[0]]].item;
                tracing::warn!(
                    type_name = item.type_name(),
                    bytes = request.bytes,
                    max_request_bytes = self.budget.max_bytes,
                    "item alone is over max_request_bytes; sending it by itself"
                );
            }
            request.items.into_iter().map(|k| members[k]).collect()
        })
        .collect()
    }

    /// Puts the batch back at the front, re-packed because payloads may have grown.
    fn requeue(
        &self,
        items: &[Outgoing<'_>],
        payloads: &[Payload],
        queue: &mut VecDeque<Vec<usize>>,
        batch: &[usize],
    ) {
        for part in self.pack(items, payloads, batch).into_iter().rev() {
            queue.push_front(part);
        }
    }

    /// Removes the culprit: by name when the service named one in this batch, else by
    /// splitting the batch in halves; a culprit found alone is quarantined.
    fn isolate(
        &self,
        items: &[Outgoing<'_>],
        report: &mut Report,
        queue: &mut VecDeque<Vec<usize>>,
        batch: Vec<usize>,
        type_name: Option<&str>,
        reason: String,
    ) {
        let named = type_name.and_then(|name| {
            batch
                .iter()
                .position(|&i| items[i].item.type_name() == name)
        });
        if let Some(position) = named {
            let mut rest = batch;
            let culprit = rest.remove(position);
            tracing::warn!(
                type_name = items[culprit].item.type_name(),
                "quarantined: {reason}"
            );
            report.fates[culprit] = Some(Fate::Quarantined { reason });
            if !rest.is_empty() {
                queue.push_front(rest);
            }
        } else if batch.len() == 1 {
            tracing::warn!(
                type_name = items[batch[0]].item.type_name(),
                "quarantined: {reason}"
            );
            report.fates[batch[0]] = Some(Fate::Quarantined { reason });
        } else {
            let mut first = batch;
            let second = first.split_off(first.len() / 2);
            queue.push_front(second);
            queue.push_front(first);
        }
    }

    async fn put(
        &self,
        items: &[Outgoing<'_>],
        payloads: &[Payload],
        batch: &[usize],
    ) -> (Result<(), Failure>, usize) {
        let bytes = wire::request_overhead(self.instance_id)
            + batch
                .iter()
                .map(|&i| wire::item_bytes(items[i].item, payloads[i]))
                .sum::<usize>()
            + batch.len().saturating_sub(1);
        let sdk_items: Result<Vec<InventoryItem>, String> = batch
            .iter()
            .map(|&i| to_sdk(items[i].item, payloads[i]))
            .collect();
        let sdk_items = match sdk_items {
            Ok(v) => v,
            Err(e) => {
                return (
                    Err(Failure::ItemRefused {
                        type_name: None,
                        reason: e,
                    }),
                    0,
                );
            }
        };
        let result = self
            .client
            .put_inventory()
            .instance_id(self.instance_id)
            .set_items(Some(sdk_items))
            .send()
            .await;
        (result.map(|_| ()).map_err(|e| classify(&e)), bytes)
    }
}

fn pending(reason: &str) -> Fate {
    Fate::Pending {
        reason: reason.to_string(),
    }
}

fn set(report: &mut Report, members: &[usize], fate: Fate) {
    for &i in members {
        report.fates[i] = Some(fate.clone());
    }
}

/// The hash-only items of `batch` an error is about: the named one, or all when unnamed.
fn hash_only(
    items: &[Outgoing<'_>],
    payloads: &[Payload],
    batch: &[usize],
    type_name: Option<&str>,
) -> Vec<usize> {
    batch
        .iter()
        .copied()
        .filter(|&i| payloads[i] == Payload::HashOnly)
        .filter(|&i| type_name.is_none_or(|name| items[i].item.type_name() == name))
        .collect()
}

/// The SDK's form of an item.
pub fn to_sdk(item: &Item, payload: Payload) -> Result<InventoryItem, String> {
    let mut builder = InventoryItem::builder()
        .type_name(item.type_name())
        .schema_version(item.schema_version())
        .capture_time(item.capture_time())
        .content_hash(item.content_hash());
    if payload == Payload::Full {
        let rows: Vec<HashMap<String, String>> = item
            .content()
            .iter()
            .map(|row| row.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .collect();
        builder = builder.set_content(Some(rows));
    }
    builder
        .build()
        .map_err(|e| format!("{}: cannot build the request item: {e}", item.type_name()))
}
