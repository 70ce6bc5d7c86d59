//! The one call the sender makes, behind a trait.
//!
//! Delivery decides what to do about each kind of refusal (isolate, resend, retry, give up);
//! the call itself only has to say which kind it got. Keeping the two apart lets the
//! isolation state machine be driven by a scripted service in unit tests, every error at every
//! position, without HTTP; the SDK client is the implementation the daemon uses.
//!
//! The SDK is given the items without their Content and the request body is rendered here
//! ([`wire::request_pieces`]) and put in place before the request is signed. Handing the SDK
//! the Content would make it copy every row into `HashMap`s of its own first: for a 10,000-row
//! item that copy is 10 MB against the 2.6 MB body it becomes (BENCHMARKS.md, Latest figures),
//! and building it was much of a push's CPU. The body is not one buffer either: it is the
//! items' own Content between the few bytes around them, so a request copies no Content at
//! all, and its SHA-256 for the signature is computed here over those pieces.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use aws_runtime::auth::PayloadSigningOverride;
use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::InventoryItem;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use sha2::{Digest, Sha256};

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
        let body = RenderedBody::new(wire::request_pieces(instance_id, items));
        let endpoint = Endpoint::new();
        match self
            .put_inventory()
            .instance_id(instance_id)
            .set_items(Some(headers))
            .customize()
            .interceptor(body)
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

/// Puts the body rendered by [`wire::request_pieces`] in place of the one the SDK serialised
/// from Content-less items, before signing, with its SHA-256 computed over the pieces, so the
/// signature covers what is sent.
#[derive(Debug)]
struct RenderedBody {
    pieces: Arc<[Bytes]>,
    len: usize,
    /// Lowercase hex, as SigV4 writes a payload hash.
    sha256: String,
}

impl RenderedBody {
    fn new(pieces: Vec<Bytes>) -> Self {
        let mut hasher = Sha256::new();
        for piece in &pieces {
            hasher.update(piece);
        }
        let sha256 = hasher
            .finalize()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        RenderedBody {
            len: pieces.iter().map(Bytes::len).sum(),
            pieces: pieces.into(),
            sha256,
        }
    }
}

impl Intercept for RenderedBody {
    fn name(&self) -> &'static str {
        "RenderedBody"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        let pieces = Arc::clone(&self.pieces);
        *request.body_mut() = SdkBody::retryable(move || {
            SdkBody::from_body_1_x(Pieces {
                left: pieces.iter().cloned().collect(),
            })
        });
        request
            .headers_mut()
            .insert("content-length", self.len.to_string());
        // The signer hashes a body it can see whole; this one it cannot, so it is told.
        cfg.interceptor_state()
            .store_put(PayloadSigningOverride::Precomputed(self.sha256.clone()));
        Ok(())
    }
}

/// A request body handed to the HTTP client piece by piece, each piece a shared buffer: the
/// client writes them out as they are.
struct Pieces {
    left: VecDeque<Bytes>,
}

impl http_body::Body for Pieces {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.left.pop_front().map(|piece| Ok(Frame::data(piece))))
    }

    fn is_end_stream(&self) -> bool {
        self.left.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left.iter().map(|piece| piece.len() as u64).sum())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The pieces' hash is the SHA-256 of the body they make, in SigV4's lowercase hex, and
    /// the body handed to the client is the pieces in order.
    #[tokio::test]
    async fn the_body_is_its_pieces_and_its_hash_is_theirs() {
        use http_body_util::BodyExt;
        let rendered = RenderedBody::new(vec![Bytes::from_static(b"a"), Bytes::from_static(b"bc")]);
        assert_eq!(rendered.len, 3);
        // SHA-256("abc"), FIPS 180-2's first example.
        assert_eq!(
            rendered.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let body = Pieces {
            left: rendered.pieces.iter().cloned().collect(),
        };
        assert_eq!(http_body::Body::size_hint(&body).exact(), Some(3));
        let sent = body.collect().await.unwrap().to_bytes();
        assert_eq!(&sent[..], b"abc");
    }
}
