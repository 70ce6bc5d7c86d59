//! The isolation state machine against a scripted service: every PutInventory refusal, named
//! and unnamed, at every position of a full request, without HTTP.

use std::sync::Mutex;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::*;
use crate::batch::Budget;
use crate::inventory::RawItem;

/// A service that answers each request with `answer`, given the request's items and what it
/// has stored so far, and keeps every request's TypeNames.
type Request<'a> = [(&'a Item, Payload)];

struct Scripted<F> {
    answer: F,
    stored: Mutex<Vec<String>>,
    requests: Mutex<Vec<Vec<String>>>,
}

impl<F> Scripted<F>
where
    F: Fn(&Request<'_>, &[String]) -> Result<(), Rejection> + Sync,
{
    fn new(answer: F) -> Scripted<F> {
        Scripted {
            answer,
            stored: Mutex::new(Vec::new()),
            requests: Mutex::new(Vec::new()),
        }
    }
}

impl<F> PutInventory for Scripted<F>
where
    F: Fn(&Request<'_>, &[String]) -> Result<(), Rejection> + Sync,
{
    async fn put_inventory(
        &self,
        _instance_id: &str,
        items: &Request<'_>,
    ) -> Result<(), Rejection> {
        let names: Vec<String> = items
            .iter()
            .map(|(i, _)| i.type_name().to_string())
            .collect();
        self.requests.lock().unwrap().push(names.clone());
        let mut stored = self.stored.lock().unwrap();
        let answer = (self.answer)(items, &stored);
        if answer.is_ok() {
            stored.extend(names);
        }
        answer
    }
}

fn item(i: usize) -> Item {
    Item::new(RawItem {
        type_name: name(i),
        schema_version: "1.0".into(),
        capture_time: "2026-12-01T10:00:00Z".into(),
        rows: vec![[("Value".to_string(), format!("v{i}"))].into()],
        ..RawItem::default()
    })
    .unwrap()
}

fn name(i: usize) -> String {
    format!("Custom:T{i:02}")
}

fn thirty() -> Vec<Item> {
    (0..30).map(item).collect()
}

fn outgoing(items: &[Item], payload: Payload) -> Vec<Outgoing<'_>> {
    items
        .iter()
        .map(|item| Outgoing {
            item,
            payload,
            new_type: false,
        })
        .collect()
}

async fn deliver<A: PutInventory>(client: &A, items: &[Outgoing<'_>]) -> Report {
    deliver_with(client, items, RetryPolicy::DEFAULT_BASE, Some(1)).await
}

async fn deliver_with<A: PutInventory>(
    client: &A,
    items: &[Outgoing<'_>],
    base: Duration,
    max_attempts: Option<u32>,
) -> Report {
    let deliverer = Deliverer {
        client,
        instance_id: "i-0123456789abcdef0",
        budget: Budget::new(1024 * 1024),
        retry: RetryPolicy {
            base,
            cap: Duration::from_secs(1),
            max_attempts,
        },
    };
    deliverer.deliver(items, &CancellationToken::new()).await
}

fn has(items: &Request<'_>, type_name: &str) -> bool {
    items.iter().any(|(i, _)| i.type_name() == type_name)
}

fn refusal(failure: Failure) -> Rejection {
    Rejection {
        failure,
        code: Some("Refused".into()),
    }
}

fn acknowledged(payload: Payload) -> Option<Fate> {
    Some(Fate::Acknowledged { payload })
}

/// Every refusal that names no culprit, for each of the 30 positions: the culprit alone is
/// quarantined, the 29 others are acknowledged, and finding it costs at most
/// ceil(log2(30)) + 1 = 6 requests more than a clean delivery.
#[tokio::test]
async fn an_unnamed_culprit_is_found_at_every_position() {
    let kinds: Vec<(&str, Failure)> = vec![
        (
            "ItemRefused",
            Failure::ItemRefused {
                type_name: None,
                reason: "bad".into(),
            },
        ),
        (
            "InvalidContent (full items)",
            Failure::InvalidContent {
                type_name: None,
                reason: "bad".into(),
            },
        ),
        (
            "NodeTotalTooLarge",
            Failure::NodeTotalTooLarge("big".into()),
        ),
        (
            "CustomTypeLimit (all types known here)",
            Failure::CustomTypeLimit("full".into()),
        ),
    ];
    for (kind, failure) in kinds {
        let mut worst = 0;
        for culprit in 0..30 {
            let bad = name(culprit);
            let service = Scripted::new(|items: &Request<'_>, _: &[String]| {
                if has(items, &bad) {
                    Err(refusal(failure.clone()))
                } else {
                    Ok(())
                }
            });
            let items = thirty();
            let report = deliver(&service, &outgoing(&items, Payload::Full)).await;
            for (i, fate) in report.fates.iter().enumerate() {
                if i == culprit {
                    assert!(
                        matches!(fate, Some(Fate::Quarantined { .. })),
                        "{kind} at {culprit}: {fate:?}"
                    );
                } else {
                    assert_eq!(
                        fate,
                        &acknowledged(Payload::Full),
                        "{kind} at {culprit}, item {i}"
                    );
                }
            }
            let extra = report.requests - 1;
            assert!(extra <= 6, "{kind} at {culprit}: {extra} extra requests");
            assert_eq!(report.requests, service.requests.lock().unwrap().len());
            worst = worst.max(extra);
        }
        assert!(worst >= 5, "{kind}: bisecting 30 takes at least 5 halvings");
    }
}

/// A refusal that names its culprit costs exactly one more request, wherever the culprit is.
#[tokio::test]
async fn a_named_culprit_costs_one_request_at_every_position() {
    for culprit in 0..30 {
        for failure in [
            Failure::ItemRefused {
                type_name: Some(name(culprit)),
                reason: "InvalidTypeNameException".into(),
            },
            Failure::InvalidContent {
                type_name: Some(name(culprit)),
                reason: "InvalidItemContentException".into(),
            },
        ] {
            let bad = name(culprit);
            let service = Scripted::new(|items: &Request<'_>, _: &[String]| {
                if has(items, &bad) {
                    Err(refusal(failure.clone()))
                } else {
                    Ok(())
                }
            });
            let items = thirty();
            let report = deliver(&service, &outgoing(&items, Payload::Full)).await;
            assert_eq!(report.requests, 2, "{failure:?}");
            assert!(matches!(
                report.fates[culprit],
                Some(Fate::Quarantined { .. })
            ));
            let acked = report
                .fates
                .iter()
                .filter(|f| **f == acknowledged(Payload::Full))
                .count();
            assert_eq!(acked, 29);
            assert_eq!(report.errors.get("Refused"), Some(&1));
        }
    }
}

/// Hash-only items the service no longer holds: the first mismatch resends the named item in
/// full; a second one in the same delivery resends every hash-only item at once.
#[tokio::test]
async fn hash_mismatches_resend_in_full() {
    let lost = |lost: Vec<usize>| {
        move |items: &Request<'_>, _: &[String]| {
            let first_lost = items.iter().find(|(i, payload)| {
                lost.iter().any(|&l| i.type_name() == name(l)) && *payload == Payload::HashOnly
            });
            match first_lost {
                Some((i, _)) => Err(refusal(Failure::HashMismatch {
                    type_name: Some(i.type_name().to_string()),
                })),
                None => Ok(()),
            }
        }
    };
    let items = thirty();

    for one in [0, 13, 29] {
        let service = Scripted::new(lost(vec![one]));
        let report = deliver(&service, &outgoing(&items, Payload::HashOnly)).await;
        assert_eq!(report.requests, 2);
        for (i, fate) in report.fates.iter().enumerate() {
            let expected = if i == one {
                Payload::Full
            } else {
                Payload::HashOnly
            };
            assert_eq!(fate, &acknowledged(expected), "item {i}");
        }
    }

    let service = Scripted::new(lost(vec![3, 7, 11, 20]));
    let report = deliver(&service, &outgoing(&items, Payload::HashOnly)).await;
    assert_eq!(report.requests, 3, "{:?}", service.requests.lock().unwrap());
    assert!(report.fates.iter().all(|f| matches!(
        f,
        Some(Fate::Acknowledged {
            payload: Payload::Full
        })
    ) || acknowledged_hash_only(f)));
    assert_eq!(report.fates[3], acknowledged(Payload::Full));
    assert_eq!(report.fates[20], acknowledged(Payload::Full));
}

fn acknowledged_hash_only(fate: &Option<Fate>) -> bool {
    *fate == acknowledged(Payload::HashOnly)
}

/// A hash-only item whose content was let go cannot be resent from here: it needs its probe
/// to run again, and the rest of the request still goes.
#[tokio::test]
async fn content_let_go_needs_collecting_again() {
    let items: Vec<Item> = thirty().iter().map(Item::without_content).collect();
    let service = Scripted::new(|items: &Request<'_>, _: &[String]| {
        if has(items, &name(5)) {
            Err(refusal(Failure::InvalidContent {
                type_name: Some(name(5)),
                reason: "InvalidItemContentException".into(),
            }))
        } else {
            Ok(())
        }
    });
    let report = deliver(&service, &outgoing(&items, Payload::HashOnly)).await;
    assert_eq!(report.fates[5], Some(Fate::NeedsContent));
    assert_eq!(report.requests, 2);
    let acked = report
        .fates
        .iter()
        .filter(|f| acknowledged_hash_only(f))
        .count();
    assert_eq!(acked, 29);
}

/// An unknown instance stops the delivery: one request, every item pending, the reason kept.
#[tokio::test]
async fn an_unknown_instance_stops_after_one_request() {
    let service = Scripted::new(|_: &Request<'_>, _: &[String]| {
        Err(refusal(Failure::InstanceInvalid(
            "InvalidInstanceId".into(),
        )))
    });
    // 60 items: two requests' worth, the second never sent.
    let items: Vec<Item> = (0..60).map(item).collect();
    let report = deliver(&service, &outgoing(&items, Payload::Full)).await;
    assert_eq!(report.requests, 1);
    let reason = report.instance_invalid.clone().unwrap();
    assert!(reason.contains("i-0123456789abcdef0"), "{reason}");
    assert!(
        report
            .fates
            .iter()
            .all(|f| matches!(f, Some(Fate::Pending { reason: r }) if *r == reason))
    );
}

/// Transient failures are retried with growing waits until the policy gives up; the items
/// stay pending with the last reason.
#[tokio::test(start_paused = true)]
async fn transient_failures_back_off_until_the_policy_gives_up() {
    let service = Scripted::new(|_: &Request<'_>, _: &[String]| {
        Err(refusal(Failure::Transient("ThrottlingException".into())))
    });
    let items = thirty();
    let report = deliver_with(
        &service,
        &outgoing(&items, Payload::Full),
        Duration::from_millis(100),
        Some(5),
    )
    .await;
    assert_eq!(report.requests, 5);
    assert_eq!(
        report.ceilings,
        [100, 200, 400, 800].map(Duration::from_millis)
    );
    for (wait, ceiling) in report.waits.iter().zip(&report.ceilings) {
        assert!(wait <= ceiling);
    }
    assert!(
        report.fates.iter().all(
            |f| matches!(f, Some(Fate::Pending { reason }) if reason == "ThrottlingException")
        )
    );
}

/// Refused credentials get one immediate retry (they may have just been rotated); refused
/// again, the items stay pending and the caller is told to choose credentials anew.
#[tokio::test(start_paused = true)]
async fn refused_credentials_are_retried_once_at_once() {
    let calls = Mutex::new(0);
    let service = Scripted::new(|_: &Request<'_>, _: &[String]| {
        let mut n = calls.lock().unwrap();
        *n += 1;
        if *n == 1 {
            Err(refusal(Failure::Credentials(
                "ExpiredTokenException".into(),
            )))
        } else {
            Ok(())
        }
    });
    let items = thirty();
    let report = deliver(&service, &outgoing(&items, Payload::Full)).await;
    assert_eq!(report.requests, 2);
    assert!(report.waits.is_empty(), "no backoff before the retry");
    assert!(!report.credentials_refused);
    assert!(
        report
            .fates
            .iter()
            .all(|f| *f == acknowledged(Payload::Full))
    );

    let service = Scripted::new(|_: &Request<'_>, _: &[String]| {
        Err(refusal(Failure::Credentials(
            "ExpiredTokenException".into(),
        )))
    });
    let report = deliver(&service, &outgoing(&items, Payload::Full)).await;
    assert_eq!(report.requests, 2);
    assert!(report.credentials_refused);
    assert!(
        report
            .fates
            .iter()
            .all(|f| matches!(f, Some(Fate::Pending { .. })))
    );
}

/// The account's custom type limit with room for two more: types known here go through
/// first, two of the five new ones are stored and the other three quarantined.
#[tokio::test]
async fn the_custom_type_limit_keeps_known_types_and_fills_the_room() {
    let room = 2;
    let items: Vec<Item> = (0..10).map(item).collect();
    let mut out = outgoing(&items, Payload::Full);
    for o in &mut out[5..] {
        o.new_type = true;
    }
    let known: Vec<String> = (0..5).map(name).collect();
    let service = Scripted::new(|request: &Request<'_>, stored: &[String]| {
        let created = stored.iter().filter(|t| !known.contains(t)).count();
        let new = request
            .iter()
            .filter(|(i, _)| !known.iter().any(|k| k == i.type_name()))
            .count();
        if created + new > room {
            Err(refusal(Failure::CustomTypeLimit("limit 20".into())))
        } else {
            Ok(())
        }
    });
    let report = deliver(&service, &out).await;
    for fate in &report.fates[..5] {
        assert_eq!(fate, &acknowledged(Payload::Full));
    }
    let new_stored = report.fates[5..]
        .iter()
        .filter(|f| **f == acknowledged(Payload::Full))
        .count();
    let new_quarantined = report.fates[5..]
        .iter()
        .filter(|f| matches!(f, Some(Fate::Quarantined { .. })))
        .count();
    assert_eq!((new_stored, new_quarantined), (room, 5 - room));
}

/// A delivery asked to stop sends nothing more and leaves everything pending.
#[tokio::test]
async fn a_cancelled_delivery_leaves_everything_pending() {
    let service = Scripted::new(|_: &Request<'_>, _: &[String]| Ok(()));
    let items = thirty();
    let deliverer = Deliverer {
        client: &service,
        instance_id: "i-0123456789abcdef0",
        budget: Budget::new(1024 * 1024),
        retry: RetryPolicy {
            base: RetryPolicy::DEFAULT_BASE,
            cap: RetryPolicy::DEFAULT_CAP,
            max_attempts: None,
        },
    };
    let cancel = CancellationToken::new();
    cancel.cancel();
    let report = deliverer
        .deliver(&outgoing(&items, Payload::Full), &cancel)
        .await;
    assert_eq!(report.requests, 0);
    assert!(report.fates.iter().all(
        |f| matches!(f, Some(Fate::Pending { reason }) if reason == "the daemon is stopping")
    ));
}
