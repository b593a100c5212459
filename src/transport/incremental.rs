//! Reading an answer while it arrives: the elements of its one large array (a range's `kvs`, a
//! txn's `responses`) are decoded chunk by chunk as the body comes in, so that a large answer
//! is never held whole beside its decoded form (BENCHMARKS.md, W6). Everything outside that
//! array (the header, `count`, `more`, or an error object) is kept as text and decoded at the
//! end, through the same [`decode_response`] as any other answer.
//!
//! An answer that arrives in one chunk (any small one) is decoded from that chunk directly.

use bytes::Bytes;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use url::Url;

use super::decode::{body_head, decode_response, read_body};
use crate::error::{Delivery, Error, Result};

/// Reads an answer whose field `field` (at the top level) is an array of `Elem`: on 2xx the
/// array's elements are decoded as they arrive, the rest of the answer at the end, and `put`
/// hands the elements to the decoded answer; any other status is read whole and decoded as an
/// error (`decode_response`).
pub(super) async fn read_answer<Outer, Elem>(
    endpoint: &Url,
    path: &str,
    response: reqwest::Response,
    field: &'static [u8],
    put: fn(&mut Outer, Vec<Elem>),
    limit: Option<usize>,
) -> Result<Outer>
where
    Outer: DeserializeOwned,
    Elem: DeserializeOwned,
{
    let status = response.status().as_u16();
    let cut_short = |e: reqwest::Error| Error::Transport {
        endpoint: endpoint.clone().into(),
        delivery: Delivery::MaybeSent,
        source: Box::new(e),
    };
    if !(200..300).contains(&status) {
        // An error body, read whole whatever the limit: the error is what the caller needs.
        let body = read_body(endpoint, response, None).await?;
        return decode_response(endpoint, path, status, &body);
    }
    let mut left = Budget::new(endpoint, limit);
    left.spend(response.content_length().unwrap_or(0))?;
    let mut chunks = response.bytes_stream();
    let first = match chunks.next().await {
        Some(chunk) => left.take(chunk.map_err(cut_short)?)?,
        None => Bytes::new(),
    };
    let second = match chunks.next().await {
        // The whole answer in one chunk: nothing to gain from decoding it piecewise.
        None => return decode_response(endpoint, path, status, &first),
        Some(chunk) => left.take(chunk.map_err(cut_short)?)?,
    };
    let mut decoder = ArrayDecoder::<Elem>::new(field);
    let bad = |reason: String, head: &[u8]| Error::Decode {
        endpoint: endpoint.clone().into(),
        status,
        reason: format!("not an etcd answer: {reason}").into(),
        body_head: body_head(head).into(),
    };
    for chunk in [first, second] {
        decoder.feed(&chunk).map_err(|(r, h)| bad(r, &h))?;
    }
    while let Some(chunk) = chunks.next().await {
        let chunk = left.take(chunk.map_err(cut_short)?)?;
        decoder.feed(&chunk).map_err(|(r, h)| bad(r, &h))?;
    }
    let (rest, items) = decoder.finish();
    let mut outer: Outer = decode_response(endpoint, path, status, &rest)?;
    put(&mut outer, items);
    Ok(outer)
}

/// What is left of a caller's limit on an answer's size (etcd-client's
/// `max_decoding_message_size`), counted as the chunks arrive.
struct Budget<'a> {
    endpoint: &'a Url,
    limit: Option<usize>,
    read: u64,
}

impl<'a> Budget<'a> {
    fn new(endpoint: &'a Url, limit: Option<usize>) -> Self {
        Budget {
            endpoint,
            limit,
            read: 0,
        }
    }

    /// Fails once `more` bytes would take the answer past the limit; a `Content-Length` is
    /// checked before anything is read.
    fn spend(&mut self, more: u64) -> Result<()> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        if more > u64::try_from(limit).unwrap_or(u64::MAX) {
            return Err(Error::MessageTooLarge {
                endpoint: self.endpoint.clone().into(),
                limit,
            });
        }
        Ok(())
    }

    /// Counts a chunk against the limit.
    fn take(&mut self, chunk: Bytes) -> Result<Bytes> {
        let len = u64::try_from(chunk.len()).unwrap_or(u64::MAX);
        self.read = self.read.saturating_add(len);
        self.spend(self.read)?;
        Ok(chunk)
    }
}

/// Where the scan of the text outside the array stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Nothing in particular.
    Any,
    /// The field's name was just read as a key: its `:` comes next.
    Colon,
    /// `"field":` was read: a `[` now opens the array.
    Bracket,
}

/// Splits a JSON object's text as it arrives: the elements of the array under `field` (at
/// depth 1) are decoded one by one; everything else is kept, with the array left empty, to be
/// decoded at the end.
pub(super) struct ArrayDecoder<T> {
    field: &'static [u8],
    /// The answer's text without the array's elements.
    rest: Vec<u8>,
    /// The start of an element split between two chunks.
    pending: Vec<u8>,
    items: Vec<T>,
    in_array: bool,
    /// The array was read: the rest is plain text.
    done: bool,
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// While in a key at depth 1: how much of `field` it matched so far (`None`: it differs).
    matched: Option<usize>,
    expect: Expect,
}

/// A decoding failure: the reason, and the bytes it happened at.
type Failure = (String, Vec<u8>);

impl<T: DeserializeOwned> ArrayDecoder<T> {
    pub(super) fn new(field: &'static [u8]) -> Self {
        ArrayDecoder {
            field,
            rest: Vec::new(),
            pending: Vec::new(),
            items: Vec::new(),
            in_array: false,
            done: false,
            depth: 0,
            in_string: false,
            escaped: false,
            matched: None,
            expect: Expect::Any,
        }
    }

    /// Takes the next chunk of the body.
    pub(super) fn feed(&mut self, mut chunk: &[u8]) -> std::result::Result<(), Failure> {
        if !self.pending.is_empty() {
            // An element began in an earlier chunk: complete it with the bytes up to its end
            // (not the whole chunk: copying every chunk would cost as much as the body).
            let Some(end) = element_end(&self.pending, chunk) else {
                self.pending.extend_from_slice(chunk);
                return Ok(());
            };
            let mut pending = std::mem::take(&mut self.pending);
            pending.extend_from_slice(&chunk[..end]);
            chunk = &chunk[end..];
            let used = self.process(&pending)?;
            if used < pending.len() {
                pending.drain(..used);
                pending.extend_from_slice(chunk);
                let used = self.process(&pending)?;
                pending.drain(..used);
                self.pending = pending;
                return Ok(());
            }
        }
        let used = self.process(chunk)?;
        self.pending.extend_from_slice(&chunk[used..]);
        Ok(())
    }

    /// The answer's text with the array emptied, and the array's elements.
    pub(super) fn finish(mut self) -> (Vec<u8>, Vec<T>) {
        // A body cut short inside the array leaves the text unclosed: decoding it then fails.
        self.rest.append(&mut self.pending);
        (self.rest, self.items)
    }

    /// Consumes what it can of `data`; returns how many bytes it used (the rest is the start
    /// of an element that continues in the next chunk).
    fn process(&mut self, data: &[u8]) -> std::result::Result<usize, Failure> {
        let mut at = 0;
        while at < data.len() {
            if self.in_array {
                match self.elements(&data[at..])? {
                    (used, true) => at += used,
                    (used, false) => return Ok(at + used),
                }
            } else {
                at += self.outside(&data[at..]);
            }
        }
        Ok(at)
    }

    /// Decodes the array's elements from `data`: returns the bytes used and whether the array
    /// ended (`false`: more is needed).
    fn elements(&mut self, data: &[u8]) -> std::result::Result<(usize, bool), Failure> {
        let mut at = 0;
        loop {
            while at < data.len() && matches!(data[at], b' ' | b'\t' | b'\n' | b'\r' | b',') {
                at += 1;
            }
            match data.get(at) {
                None => return Ok((at, false)),
                Some(b']') => {
                    self.rest.push(b']');
                    self.in_array = false;
                    self.done = true;
                    self.depth = self.depth.saturating_sub(1);
                    return Ok((at + 1, true));
                }
                Some(_) => {}
            }
            let mut values = serde_json::Deserializer::from_slice(&data[at..]).into_iter::<T>();
            match values.next() {
                Some(Ok(item)) => {
                    self.items.push(item);
                    at += values.byte_offset();
                }
                Some(Err(e)) if e.is_eof() => return Ok((at, false)),
                Some(Err(e)) => return Err((e.to_string(), data[at..].to_vec())),
                None => return Ok((at, false)),
            }
        }
    }

    /// Scans text outside the array, keeping it, until the array opens or `data` ends; returns
    /// the bytes used.
    fn outside(&mut self, data: &[u8]) -> usize {
        for (i, &b) in data.iter().enumerate() {
            self.rest.push(b);
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                    self.matched = None;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                    if self.matched == Some(self.field.len()) {
                        self.expect = Expect::Colon;
                    }
                    self.matched = None;
                } else if let Some(n) = self.matched {
                    self.matched = (self.field.get(n) == Some(&b)).then_some(n + 1);
                }
                continue;
            }
            if b.is_ascii_whitespace() {
                continue;
            }
            let expect = std::mem::replace(&mut self.expect, Expect::Any);
            match b {
                b'"' => {
                    self.in_string = true;
                    // Only a key of the top-level object can name the array.
                    self.matched = (self.depth == 1 && !self.done).then_some(0);
                }
                b':' if expect == Expect::Colon => self.expect = Expect::Bracket,
                b'[' if expect == Expect::Bracket => {
                    self.depth += 1;
                    self.in_array = true;
                    return i + 1;
                }
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
        }
        data.len()
    }
}

/// Where the JSON object or array that `start` begins ends in `next`: the index just past its
/// closing bracket, or `None` if it does not end there (or `start` does not open one).
fn element_end(start: &[u8], next: &[u8]) -> Option<usize> {
    if !matches!(start.first(), Some(b'{' | b'[')) {
        return None;
    }
    let (mut depth, mut in_string, mut escaped) = (0u32, false, false);
    for (i, &b) in start.iter().chain(next).enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return (i + 1).checked_sub(start.len()).filter(|&n| n > 0);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::kv::RangeResponse;
    use crate::wire::{fixtures, KeyValue};

    /// Feeds `body` in chunks of `size` bytes and puts the answer together.
    fn split(body: &[u8], size: usize) -> RangeResponse {
        let mut decoder = ArrayDecoder::<KeyValue>::new(b"kvs");
        for chunk in body.chunks(size) {
            decoder.feed(chunk).unwrap();
        }
        let (rest, kvs) = decoder.finish();
        let mut answer: RangeResponse = serde_json::from_slice(&rest)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&rest)));
        answer.kvs = kvs;
        answer
    }

    #[test]
    fn every_chunking_of_captured_ranges_decodes_as_the_whole_body() {
        for name in [
            "11-path-kv-range",
            "20-kv-range-limit-more",
            "21-kv-range-empty-value",
            "23-enc-binary-range",
            "20-kv-range-missing-key",
        ] {
            for (v, body) in fixtures::bodies(name) {
                let whole: RangeResponse = serde_json::from_slice(&body).unwrap();
                for size in [1, 2, 3, 7, 16, 64, body.len().max(1)] {
                    assert_eq!(split(&body, size), whole, "{name} {v} in chunks of {size}");
                }
            }
        }
    }

    #[test]
    fn a_large_made_up_answer_decodes_in_any_chunking() {
        let mut body = String::from(
            r#"{"header":{"cluster_id":"1","member_id":"2","revision":"30","raft_term":"3"},"kvs":["#,
        );
        for i in 0..500 {
            if i > 0 {
                body.push_str(" ,\n ");
            }
            body.push_str(&format!(
                r#"{{"key":"{}","create_revision":"{i}","mod_revision":{i},"version":"1","value":"dmFsdWU="}}"#,
                base64_of(&format!("k{i:05}"))
            ));
        }
        body.push_str(r#"],"more":true,"count":"900"}"#);
        let whole: RangeResponse = serde_json::from_slice(body.as_bytes()).unwrap();
        assert_eq!(whole.kvs.len(), 500);
        for size in [1, 5, 13, 100, 4096, body.len()] {
            assert_eq!(split(body.as_bytes(), size), whole, "chunks of {size}");
        }
    }

    #[test]
    fn a_key_named_like_the_field_elsewhere_is_left_alone() {
        // "kvs" as a value and as a key of a nested object: neither is the array.
        let body = br#"{"header":{"kvs":"x","revision":"5"},"note":"kvs","kvs":[{"key":"YQ=="}],"count":"1"}"#;
        let mut decoder = ArrayDecoder::<KeyValue>::new(b"kvs");
        for chunk in body.chunks(4) {
            decoder.feed(chunk).unwrap();
        }
        let (rest, kvs) = decoder.finish();
        assert_eq!(kvs.len(), 1);
        assert_eq!(kvs[0].key.0, b"a");
        assert_eq!(
            std::str::from_utf8(&rest).unwrap(),
            r#"{"header":{"kvs":"x","revision":"5"},"note":"kvs","kvs":[],"count":"1"}"#
        );
    }

    #[test]
    fn escapes_in_strings_do_not_confuse_the_scan() {
        let body = br#"{"error":"a \"kvs\": [ \\","x":"]}","kvs":[]}"#;
        let mut decoder = ArrayDecoder::<KeyValue>::new(b"kvs");
        for chunk in body.chunks(3) {
            decoder.feed(chunk).unwrap();
        }
        let (rest, kvs) = decoder.finish();
        assert!(kvs.is_empty());
        assert_eq!(rest, body);
    }

    #[test]
    fn an_error_body_passes_through_whole() {
        let body = br#"{"error":"etcdserver: permission denied","code":7,"message":"etcdserver: permission denied"}"#;
        let mut decoder = ArrayDecoder::<KeyValue>::new(b"kvs");
        for chunk in body.chunks(10) {
            decoder.feed(chunk).unwrap();
        }
        let (rest, kvs) = decoder.finish();
        assert!(kvs.is_empty());
        assert_eq!(rest, body);
    }

    #[test]
    fn a_bad_element_is_an_error_and_a_cut_body_does_not_decode() {
        let mut decoder = ArrayDecoder::<KeyValue>::new(b"kvs");
        let err = decoder
            .feed(br#"{"kvs":[{"key":"not base64!"}]}"#)
            .unwrap_err();
        assert!(!err.0.is_empty());

        let mut decoder = ArrayDecoder::<KeyValue>::new(b"kvs");
        decoder
            .feed(br#"{"header":{},"kvs":[{"key":"YQ=="},{"key":"Y"#)
            .unwrap();
        let (rest, _) = decoder.finish();
        assert!(serde_json::from_slice::<RangeResponse>(&rest).is_err());
    }

    fn base64_of(s: &str) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(s)
    }
}
