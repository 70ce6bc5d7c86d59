//! Sends planned items to PutInventory and works out what became of each one.
//!
//! A request fails as a whole when one item is bad, so one poisoned item must never hold back
//! the others: an error that names a type removes that item, an item-level error that names
//! none splits the request in halves until the culprit is alone, and everything else goes on.
//! Transient failures keep the whole request and retry it with backoff.

mod isolate;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use aws_sdk_ssm::Client;
use tokio_util::sync::CancellationToken;

use self::isolate::{Work, hash_only, isolate, pending, quarantine, set};
use super::classify::Failure;
use super::put::{PutInventory, Rejection};
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
    /// The service wants it in full, but its content was let go after an earlier
    /// acknowledgement; it must be collected again.
    NeedsContent,
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
    /// Credentials were missing or refused (after one immediate retry with freshly read ones).
    pub credentials_refused: bool,
    /// Failed requests by error code (see [`classify::error_code`]).
    pub errors: std::collections::BTreeMap<String, u64>,
    /// Every backoff wait taken, in order; the log and tests read them.
    pub waits: Vec<std::time::Duration>,
    /// The ceiling each wait of `waits` was drawn below (same index). With full jitter the
    /// waits themselves go up and down; their ceilings are what grows and stays under the cap.
    pub ceilings: Vec<std::time::Duration>,
}

/// Delivers through `client`: the SDK's in the daemon, a scripted one in unit tests.
pub struct Deliverer<'c, A = Client> {
    pub client: &'c A,
    pub instance_id: &'c str,
    pub budget: Budget,
    pub retry: RetryPolicy,
}

impl<A: PutInventory> Deliverer<'_, A> {
    /// Delivers `items`, returning each one's fate. Stops early (leaving items pending) when
    /// `cancel` fires.
    ///
    /// Isolating a culprit the service does not name costs one request per halving plus one
    /// for everything set aside on the way: with one bad item among 30, at most
    /// ceil(log2(30)) + 1 = 6 requests more than if it had been good.
    pub async fn deliver(&self, items: &[Outgoing<'_>], cancel: &CancellationToken) -> Report {
        let mut delivery = Delivery::new(items);
        let all: Vec<usize> = (0..items.len()).collect();
        delivery.queue = self
            .pack(items, &delivery.payloads, &all)
            .into_iter()
            .map(Work::plain)
            .collect();

        loop {
            let Some(work) = delivery.queue.pop_front() else {
                if delivery.aside.is_empty() {
                    break;
                }
                let members = std::mem::take(&mut delivery.aside);
                delivery.queue.extend(
                    self.pack(items, &delivery.payloads, &members)
                        .into_iter()
                        .map(Work::plain),
                );
                continue;
            };
            if let Some(reason) = delivery.report.instance_invalid.clone() {
                set(&mut delivery.report, &work.members, pending(&reason));
                if let Some((sibling, _)) = work.sibling {
                    set(&mut delivery.report, &sibling, pending(&reason));
                }
                continue;
            }
            if let Some(reason) = work.known_bad {
                if let [culprit] = work.members[..] {
                    quarantine(items, &mut delivery.report, culprit, reason);
                } else {
                    let mut left = work.members;
                    let right = left.split_off(left.len() / 2);
                    delivery.queue.push_front(Work {
                        members: left,
                        known_bad: None,
                        sibling: Some((right, reason)),
                    });
                }
                continue;
            }

            let batch = work.members;
            let Some(outcome) = self
                .put_with_retries(
                    items,
                    &delivery.payloads,
                    &batch,
                    &mut delivery.report,
                    cancel,
                )
                .await
            else {
                set(
                    &mut delivery.report,
                    &batch,
                    pending("the daemon is stopping"),
                );
                if let Some((sibling, _)) = work.sibling {
                    set(
                        &mut delivery.report,
                        &sibling,
                        pending("the daemon is stopping"),
                    );
                }
                continue;
            };
            let failure = match outcome {
                Ok(()) => {
                    for &i in &batch {
                        delivery.report.fates[i] = Some(Fate::Acknowledged {
                            payload: delivery.payloads[i],
                        });
                    }
                    if let Some((sibling, reason)) = work.sibling {
                        // This half was fine, so the culprit is in the other one.
                        delivery.queue.push_front(Work {
                            members: sibling,
                            known_bad: Some(reason),
                            sibling: None,
                        });
                    }
                    continue;
                }
                Err(failure) => failure,
            };
            // This half failed: the other half is not known to be bad.
            if let Some((sibling, _)) = work.sibling {
                delivery.aside.extend(sibling);
            }

            match failure {
                Failure::Transient(reason) => {
                    set(&mut delivery.report, &batch, pending(&reason));
                }
                Failure::Credentials(reason) => {
                    delivery.report.credentials_refused = true;
                    set(&mut delivery.report, &batch, pending(&reason));
                }
                Failure::InstanceInvalid(reason) => {
                    let reason = format!(
                        "the service does not accept instance ID {}: the node may not be registered, its SSM Agent may not be running or registered, or the node may be in a bad state ({reason})",
                        self.instance_id
                    );
                    tracing::error!("{reason}");
                    set(&mut delivery.report, &batch, pending(&reason));
                    delivery.report.instance_invalid = Some(reason);
                }
                Failure::HashMismatch { type_name } => {
                    // The service names the first item it lacks. The first time, only that
                    // one is resent in full (one item deleted on the service costs no extra
                    // bytes). A second mismatch in the same delivery means it lost more than
                    // one (expired or wiped inventory): every hash-only item of the batch then
                    // goes in full at once, so a loss of N items costs two extra requests, not N.
                    delivery.mismatches += 1;
                    let type_name = if delivery.mismatches > 1 {
                        None
                    } else {
                        type_name
                    };
                    let reason =
                        "the service reported a content hash mismatch for an item sent in full";
                    delivery.resend_or_isolate(self, batch, type_name, reason.into());
                }
                Failure::InvalidContent { type_name, reason } => {
                    delivery.resend_or_isolate(self, batch, type_name, reason);
                }
                Failure::ItemRefused { type_name, reason } => {
                    isolate(
                        items,
                        &mut delivery.report,
                        &mut delivery.queue,
                        batch,
                        type_name.as_deref(),
                        reason,
                    );
                }
                Failure::CustomTypeLimit(reason) => {
                    let (new, known): (Vec<usize>, Vec<usize>) =
                        batch.iter().partition(|&&i| items[i].new_type);
                    if new.is_empty() {
                        // Every type was acknowledged here before, yet the service counts one
                        // as new (it expired there, say): find which, like any refusal.
                        let reason = format!(
                            "the account already has its maximum of custom inventory types ({reason})"
                        );
                        isolate(
                            items,
                            &mut delivery.report,
                            &mut delivery.queue,
                            batch,
                            None,
                            reason,
                        );
                    } else {
                        let reason = format!(
                            "the account already has its maximum of custom inventory types and this type is new to it ({reason})"
                        );
                        // "New" only means this node never had the type acknowledged: other
                        // nodes may have created it in the account already (a fresh node of
                        // a fleet), and a few may still fit. So the new ones are not all
                        // quarantined: a lone one is, several are halved like an unnamed
                        // culprit. That is exact for a limit: once one half went through,
                        // the other half alone is still over what is left.
                        isolate(
                            items,
                            &mut delivery.report,
                            &mut delivery.queue,
                            new,
                            None,
                            reason,
                        );
                        // Types acknowledged before go through first.
                        if !known.is_empty() {
                            delivery.queue.push_front(Work::plain(known));
                        }
                    }
                }
                Failure::NodeTotalTooLarge(reason) => {
                    let reason = format!(
                        "the node's total inventory would exceed the service's limit ({reason})"
                    );
                    isolate(
                        items,
                        &mut delivery.report,
                        &mut delivery.queue,
                        batch,
                        None,
                        reason,
                    );
                }
            }
        }
        delivery.report
    }

    /// Sends one batch, retrying transient failures with backoff. `None` when cancelled.
    async fn put_with_retries(
        &self,
        items: &[Outgoing<'_>],
        payloads: &[Payload],
        batch: &[usize],
        report: &mut Report,
        cancel: &CancellationToken,
    ) -> Option<Result<(), Failure>> {
        let mut attempts = 0u32;
        let mut credentials_retried = false;
        loop {
            if cancel.is_cancelled() {
                return None;
            }
            let (result, bytes, code) = self.put(items, payloads, batch).await;
            report.requests += 1;
            report.bytes += bytes;
            if let Some(code) = code {
                *report.errors.entry(code).or_default() += 1;
            }
            // Refused credentials may have been rotated a moment ago: the next call reads
            // them again (the SSM Agent's file is watched, the SDK's chain runs anew), so one
            // immediate retry comes before this counts as a failure.
            if let Err(Failure::Credentials(reason)) = &result
                && !credentials_retried
            {
                credentials_retried = true;
                tracing::info!(
                    items = batch.len(),
                    "credentials refused ({reason}); trying once more with freshly read ones"
                );
                continue;
            }
            let Err(Failure::Transient(reason) | Failure::Credentials(reason)) = &result else {
                return Some(result);
            };
            let reason = reason.clone();
            attempts += 1;
            if !self.retry.allows(attempts) {
                tracing::warn!(items = batch.len(), attempts, "giving up for now: {reason}");
                // Still what it was: refused credentials must reach the caller as such.
                return Some(result);
            }
            let wait = self.retry.jittered(attempts);
            report.waits.push(wait);
            report.ceilings.push(self.retry.ceiling(attempts));
            // Each attempt at debug level: the operator hears of the failure once, when this
            // request gives up for the push ("giving up for now").
            tracing::debug!(
                items = batch.len(),
                attempts,
                wait_ms = wait.as_millis() as u64,
                "will retry: {reason}"
            );
            tokio::select! {
                _ = cancel.cancelled() => return None,
                _ = tokio::time::sleep(wait) => {}
            }
        }
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

    async fn put(
        &self,
        items: &[Outgoing<'_>],
        payloads: &[Payload],
        batch: &[usize],
    ) -> (Result<(), Failure>, usize, Option<String>) {
        let bytes = wire::request_overhead(self.instance_id)
            + batch
                .iter()
                .map(|&i| wire::item_bytes(items[i].item, payloads[i]))
                .sum::<usize>()
            + batch.len().saturating_sub(1);
        let request: Vec<(&Item, Payload)> = batch
            .iter()
            .map(|&i| (items[i].item, payloads[i]))
            .collect();
        match self.client.put_inventory(self.instance_id, &request).await {
            Ok(()) => (Ok(()), bytes, None),
            // Nothing was sent when there is no code: no bytes went out.
            Err(Rejection { failure, code }) => {
                let sent = if code.is_some() { bytes } else { 0 };
                (Err(failure), sent, code)
            }
        }
    }
}

/// One delivery in progress: what became of each item so far and what is left to send. The
/// state of [`Deliverer::deliver`]'s loop, kept together so that the steps acting on it take
/// it whole rather than piece by piece.
struct Delivery<'d, 'o> {
    items: &'d [Outgoing<'o>],
    /// How each item goes: a hash-only item the service turns out to lack goes in full.
    payloads: Vec<Payload>,
    report: Report,
    /// Requests still to send, in order.
    queue: VecDeque<Work>,
    /// Items set aside while isolating a culprit; sent together once the queue is empty.
    aside: Vec<usize>,
    /// Hash mismatches answered so far in this delivery.
    mismatches: usize,
}

impl<'d, 'o> Delivery<'d, 'o> {
    fn new(items: &'d [Outgoing<'o>]) -> Delivery<'d, 'o> {
        Delivery {
            items,
            payloads: items.iter().map(|o| o.payload).collect(),
            report: Report {
                fates: vec![None; items.len()],
                ..Report::default()
            },
            queue: VecDeque::new(),
            aside: Vec::new(),
            mismatches: 0,
        }
    }

    /// A content error about hash-only items means the service lacks what we think it holds:
    /// send those in full at once. About full items, it means the item is bad: isolate it.
    fn resend_or_isolate<A: PutInventory>(
        &mut self,
        deliverer: &Deliverer<'_, A>,
        batch: Vec<usize>,
        type_name: Option<String>,
        reason: String,
    ) {
        let items = self.items;
        let resend = hash_only(items, &self.payloads, &batch, type_name.as_deref());
        if resend.is_empty() {
            isolate(
                items,
                &mut self.report,
                &mut self.queue,
                batch,
                type_name.as_deref(),
                reason,
            );
            return;
        }
        // Items whose content was let go cannot be resent from here; they leave the batch
        // and their probes run again.
        let (resend, without): (Vec<usize>, Vec<usize>) = resend
            .into_iter()
            .partition(|&i| items[i].item.has_content());
        for &i in &without {
            self.report.fates[i] = Some(Fate::NeedsContent);
        }
        let batch: Vec<usize> = batch.into_iter().filter(|i| !without.contains(i)).collect();
        if batch.is_empty() {
            return;
        }
        tracing::info!(
            items = resend.len(),
            "the service lacks the acknowledged content; resending in full"
        );
        for &i in &resend {
            self.payloads[i] = Payload::Full;
        }
        // Payloads grew, so the batch is packed again.
        for part in deliverer
            .pack(items, &self.payloads, &batch)
            .into_iter()
            .rev()
        {
            self.queue.push_front(Work::plain(part));
        }
    }
}
