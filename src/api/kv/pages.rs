//! A range too large for one answer, read page by page at one revision: [`GetPages`] (pages of
//! a size the caller picks, each a whole `GetResponse`) and [`GetStreamResponse`] (etcd-client's
//! `get_stream`: the chunks of one range answer, sized to stay small).
//!
//! etcd 3.7's `RangeStream` is gRPC-only; over the gateway the same answer is read as pages: the
//! first page pins the revision, each next page starts after the last key of the one before, so
//! together they are one consistent snapshot, on every etcd version.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::GetResponse;
use crate::api::namespace::Namespace;
use crate::error::Result;
use crate::rt;
use crate::transport::{Idempotency, Transport};
use crate::wire::codec::{B64, I64};
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

impl GetPages {
    pub(super) fn new(
        transport: Transport,
        request: w::RangeRequest,
        namespace: Option<Namespace>,
    ) -> Self {
        let page_size = request.limit.0;
        let reader = PageReader::new(transport, request, namespace, PageSize::Fixed(page_size));
        let stream = futures_util::stream::unfold(reader, |mut reader| async move {
            let page = reader.next_page().await?;
            Some((page.map(|(page, _)| GetResponse::from(page)), reader))
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

/// The chunks of one range answer, from [`KvClient::get_stream`](crate::KvClient::get_stream)
/// (etcd-client's name): together the keys of one `get`, at one revision; the header, `more`
/// and `count` are on the last chunk only, as with etcd 3.7's `RangeStream`.
pub struct GetStreamResponse {
    inner: rt::BoxStream<'static, Result<GetResponse>>,
}

impl std::fmt::Debug for GetStreamResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GetStreamResponse").finish_non_exhaustive()
    }
}

impl GetStreamResponse {
    /// Chunks of the answer to `request`: pages of a size that keeps each near
    /// [`CHUNK_BYTES`], up to the request's limit. A sorted or count-only request cannot be
    /// read in key-ordered pages and comes as one chunk.
    pub(super) fn new(
        transport: Transport,
        request: w::RangeRequest,
        namespace: Option<Namespace>,
    ) -> Self {
        let pageable = !request.count_only
            && matches!(request.sort_target, w::SortTarget::Key)
            && !matches!(request.sort_order, w::SortOrder::Descend);
        let limit = request.limit.0;
        let size = if pageable {
            PageSize::Adaptive { keys: FIRST_CHUNK }
        } else {
            PageSize::Whole
        };
        let reader = PageReader::new(transport, request, namespace, size);
        let state = Chunks {
            reader,
            limit,
            total: None,
            delivered: 0,
        };
        let stream = futures_util::stream::unfold(state, |mut st| async move {
            let (mut page, last) = match st.reader.next_page().await? {
                Ok(page) => page,
                Err(err) => return Some((Err(err), st)),
            };
            // The first page counts the whole range at the pinned revision.
            let total = *st.total.get_or_insert(page.count.0);
            st.delivered = st.delivered.saturating_add(len_i64(page.kvs.len()));
            let last = last || (st.limit > 0 && st.delivered >= st.limit);
            if last {
                st.reader.finish();
                page.count = I64(total);
                page.more = total > st.delivered;
            } else {
                page.count = I64(0);
                page.more = false;
            }
            let mut chunk = GetResponse::from(page);
            if !last {
                chunk.take_header();
            }
            Some((Ok(chunk), st))
        });
        GetStreamResponse {
            inner: Box::pin(stream),
        }
    }

    /// The next chunk; `None` after the last.
    ///
    /// # Errors
    /// As [`KvClient::get`](crate::KvClient::get); after an error the stream ends.
    pub async fn message(&mut self) -> Result<Option<GetResponse>> {
        use futures_util::StreamExt;
        self.inner.next().await.transpose()
    }
}

impl Stream for GetStreamResponse {
    type Item = Result<GetResponse>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// How many keys the first chunk of a `get_stream` holds.
const FIRST_CHUNK: i64 = 128;
/// The size a chunk aims at: later chunks take as many keys as fit, at the sizes seen so far.
const CHUNK_BYTES: usize = 1024 * 1024;
/// The most keys in one chunk, however small they are.
const LARGEST_CHUNK: i64 = 10_000;

fn len_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

struct Chunks {
    reader: PageReader,
    /// The caller's limit on keys in all (0: none).
    limit: i64,
    /// The count of the whole range, from the first page.
    total: Option<i64>,
    delivered: i64,
}

/// How many keys a page asks for.
#[derive(Debug, Clone, Copy)]
enum PageSize {
    /// This many, every page.
    Fixed(i64),
    /// As many as fit in [`CHUNK_BYTES`] at the sizes seen so far, starting with `keys`.
    Adaptive { keys: i64 },
    /// The whole answer in one request.
    Whole,
}

/// Reads a range page by page: the first page pins the revision, each next one starts after the
/// last key of the one before.
struct PageReader {
    transport: Transport,
    request: w::RangeRequest,
    namespace: Option<Namespace>,
    size: PageSize,
    /// The caller's limit on keys in all (0: none), for the pages' own limits.
    remaining: i64,
    done: bool,
}

impl PageReader {
    fn new(
        transport: Transport,
        request: w::RangeRequest,
        namespace: Option<Namespace>,
        size: PageSize,
    ) -> Self {
        let remaining = match size {
            PageSize::Fixed(_) => 0,
            _ => request.limit.0,
        };
        PageReader {
            transport,
            request,
            namespace,
            size,
            remaining,
            done: false,
        }
    }

    fn finish(&mut self) {
        self.done = true;
    }

    /// The next page and whether it is the last; `None` once done.
    async fn next_page(&mut self) -> Option<Result<(w::RangeResponse, bool)>> {
        if self.done {
            return None;
        }
        let mut limit = match self.size {
            PageSize::Fixed(keys) | PageSize::Adaptive { keys } => keys,
            PageSize::Whole => self.request.limit.0,
        };
        if self.remaining > 0 {
            limit = if limit > 0 {
                limit.min(self.remaining)
            } else {
                self.remaining
            };
        }
        self.request.limit = I64(limit);
        let answer: Result<w::RangeResponse> = self
            .transport
            .call(paths::KV_RANGE, &self.request, Idempotency::Read)
            .await;
        let mut page = match answer {
            Ok(page) => page,
            Err(err) => {
                self.done = true;
                return Some(Err(err));
            }
        };
        // Pin every later page to this page's revision: one snapshot.
        if self.request.revision.0 == 0 {
            self.request.revision = page.header.revision;
        }
        if self.remaining > 0 {
            self.remaining = self.remaining.saturating_sub(len_i64(page.kvs.len()));
        }
        let last = match page.kvs.last() {
            Some(last) if page.more && !matches!(self.size, PageSize::Whole) => {
                let mut next = last.key.0.clone();
                next.push(0);
                self.request.key = B64(next);
                false
            }
            _ => true,
        };
        if let PageSize::Adaptive { keys } = &mut self.size {
            let bytes: usize = page
                .kvs
                .iter()
                .map(|kv| kv.key.0.len() + kv.value.0.len() + 64)
                .sum();
            if let Some(per_key) = bytes.checked_div(page.kvs.len()) {
                let fit = i64::try_from(CHUNK_BYTES / per_key.max(1)).unwrap_or(LARGEST_CHUNK);
                *keys = fit.clamp(1, LARGEST_CHUNK);
            }
        }
        self.done = last;
        if let Some(ns) = &self.namespace {
            ns.range_response(&mut page);
        }
        Some(Ok((page, last)))
    }
}
