//! The one call the sender makes, behind a trait.
//!
//! Delivery decides what to do about each kind of refusal (isolate, resend, retry, give up);
//! the call itself only has to say which kind it got. Keeping the two apart lets the
//! isolation state machine be driven by a scripted service in unit tests, every error at every
//! position, without HTTP; the SDK client is the implementation the daemon uses.

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::InventoryItem;

use super::classify::{self, Failure};
use crate::inventory::Item;
use crate::wire::Payload;

/// A failed PutInventory call: what it means for the items, and the error code it is counted
/// under (see [`classify::error_code`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub failure: Failure,
    pub code: String,
}

/// Something that takes a PutInventory request.
pub trait PutInventory: Sync {
    fn put_inventory(
        &self,
        instance_id: &str,
        items: Vec<InventoryItem>,
    ) -> impl Future<Output = Result<(), Rejection>> + Send;
}

impl PutInventory for Client {
    async fn put_inventory(
        &self,
        instance_id: &str,
        items: Vec<InventoryItem>,
    ) -> Result<(), Rejection> {
        match self
            .put_inventory()
            .instance_id(instance_id)
            .set_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(Rejection {
                failure: classify::classify(&e),
                code: classify::error_code(&e),
            }),
        }
    }
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
