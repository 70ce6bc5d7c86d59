//! The one call the sender makes, behind a trait.
//!
//! Delivery decides what to do about each kind of refusal (isolate, resend, retry, give up);
//! the call itself only has to say which kind it got. Keeping the two apart lets the
//! isolation state machine be driven by a scripted service in unit tests, every error at every
//! position, without HTTP; the SDK client is the implementation the daemon uses.
//!
//! The SDK is given the items without their Content and the request body is rendered here
//! ([`wire::request_body`]) and put in place before the request is signed. Handing the SDK
//! the Content would make it copy every row into `HashMap`s of its own first: for a 10,000-row
//! item that copy is 10 MB against the 2.6 MB body it becomes (BENCHMARKS.md, Latest figures),
//! and building it was much of a push's CPU.

use std::future::Future;

use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::InventoryItem;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;

use super::classify::{self, Failure};
use crate::aws::error::Endpoint;
use crate::inventory::Item;
use crate::wire::{self, Payload};

/// A failed PutInventory call: what it means for the items, and the error code it is counted
/// under (see [`classify::error_code`]; `None` when no request was made).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub failure: Failure,
    pub code: Option<String>,
}

/// Something that takes a PutInventory request: `items` with what of each to send.
pub trait PutInventory: Sync {
    fn put_inventory(
        &self,
        instance_id: &str,
        items: &[(&Item, Payload)],
    ) -> impl Future<Output = Result<(), Rejection>> + Send;
}

impl PutInventory for Client {
    async fn put_inventory(
        &self,
        instance_id: &str,
        items: &[(&Item, Payload)],
    ) -> Result<(), Rejection> {
        let headers: Result<Vec<InventoryItem>, String> = items
            .iter()
            .map(|&(item, _)| without_content(item))
            .collect();
        let headers = headers.map_err(|reason| Rejection {
            failure: Failure::ItemRefused {
                type_name: None,
                reason,
            },
            code: None,
        })?;
        let body = bytes::Bytes::from(wire::request_body(instance_id, items));
        let endpoint = Endpoint::new();
        match self
            .put_inventory()
            .instance_id(instance_id)
            .set_items(Some(headers))
            .customize()
            .interceptor(RenderedBody(body))
            .interceptor(endpoint.clone())
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let endpoint = endpoint.or_region(self.config().region().map(|r| r.as_ref()));
                // The SDK's whole error value, for a developer; the operator reads the
                // sentence `classify` makes of it.
                tracing::debug!(%endpoint, error = ?e, "PutInventory failed");
                Err(Rejection {
                    failure: classify::classify(&e, &endpoint),
                    code: Some(classify::error_code(&e)),
                })
            }
        }
    }
}

/// Puts the body rendered by [`wire::request_body`] in place of the one the SDK serialised
/// from Content-less items, before signing, so the signature covers what is sent.
#[derive(Debug)]
struct RenderedBody(bytes::Bytes);

impl Intercept for RenderedBody {
    fn name(&self) -> &'static str {
        "RenderedBody"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        *request.body_mut() = SdkBody::from(self.0.clone());
        request
            .headers_mut()
            .insert("content-length", self.0.len().to_string());
        Ok(())
    }
}

/// The SDK's form of an item without its Content: what the SDK validates and serialises
/// before [`RenderedBody`] replaces the body.
pub fn without_content(item: &Item) -> Result<InventoryItem, String> {
    InventoryItem::builder()
        .type_name(item.type_name())
        .schema_version(item.schema_version())
        .capture_time(item.capture_time())
        .content_hash(item.content_hash())
        .build()
        .map_err(|e| format!("{}: cannot build the request item: {e}", item.type_name()))
}
