//! A range too large for one answer, read page by page at one revision.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::GetResponse;
use crate::api::namespace::Namespace;
use crate::error::Result;
use crate::transport::{rt, Idempotency, Transport};
use crate::wire::codec::B64;
use crate::wire::kv as w;
use crate::wire::paths;

/// A paged range read: a [`Stream`] of [`GetResponse`] pages, from [`KvClient::get_pages`](crate::KvClient::get_pages).
pub struct GetPages {
    inner: rt::BoxStream<'static, Result<GetResponse>>,
}

impl std::fmt::Debug for GetPages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GetPages").finish_non_exhaustive()
    }
}

struct PageState {
    transport: Transport,
    request: w::RangeRequest,
    namespace: Option<Namespace>,
    done: bool,
    buffered: VecDeque<Result<GetResponse>>,
}

impl GetPages {
    pub(super) fn new(
        transport: Transport,
        request: w::RangeRequest,
        namespace: Option<Namespace>,
    ) -> Self {
        let state = PageState {
            transport,
            request,
            namespace,
            done: false,
            buffered: VecDeque::new(),
        };
        let stream = futures_util::stream::unfold(state, |mut st| async move {
            if let Some(item) = st.buffered.pop_front() {
                return Some((item, st));
            }
            if st.done {
                return None;
            }
            let result: Result<w::RangeResponse> = st
                .transport
                .call(paths::KV_RANGE, &st.request, Idempotency::Read)
                .await;
            match result {
                Err(e) => {
                    st.done = true;
                    Some((Err(e), st))
                }
                Ok(mut page) => {
                    // Pin every later page to this page's revision: one snapshot.
                    if st.request.revision.0 == 0 {
                        st.request.revision = page.header.revision;
                    }
                    match page.kvs.last() {
                        Some(last) if page.more => {
                            let mut next = last.key.0.clone();
                            next.push(0);
                            st.request.key = B64(next);
                        }
                        _ => st.done = true,
                    }
                    if let Some(ns) = &st.namespace {
                        ns.range_response(&mut page);
                    }
                    Some((Ok(GetResponse::from(page)), st))
                }
            }
        });
        GetPages {
            inner: Box::pin(stream),
        }
    }
}

impl Stream for GetPages {
    type Item = Result<GetResponse>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}
