//! Streaming answers (watch, keep-alive, observe, snapshot): bytes in, whole messages out.
//!
//! The gateway writes one JSON object per message followed by `\n`, but the `\n` may arrive
//! in an HTTP chunk of its own, several messages may share a chunk, a message may be megabytes
//! long, and a stream error object has no trailing `\n` (GATEWAY.md 4.1, pitfall 3). So the
//! decoder works on the byte stream, never on chunks, and holds at most one message (plus the
//! chunk being read): past the configured maximum it fails with a clear error instead of
//! buffering without bound.

use bytes::{Bytes, BytesMut};

/// The largest stream message accepted unless configured otherwise: etcd sends a watch answer
/// above its 1.5 MiB request limit whole unless the watch asked for fragments (a 3.2 MB
/// message was captured), so the default leaves plenty of room.
pub(crate) const DEFAULT_MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// A message grew past the limit before its end was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooLarge {
    pub(crate) limit: usize,
}

/// Splits a byte stream into newline-terminated messages.
#[derive(Debug)]
pub(crate) struct MessageDecoder {
    buf: BytesMut,
    /// How far `buf` has been searched for `\n` already, so each byte is scanned once.
    scanned: usize,
    limit: usize,
}

impl MessageDecoder {
    pub(crate) fn new(limit: usize) -> Self {
        MessageDecoder {
            buf: BytesMut::new(),
            scanned: 0,
            limit,
        }
    }

    /// Adds bytes as they arrived.
    pub(crate) fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next whole message, without its `\n`; `Ok(None)` means "feed me more".
    pub(crate) fn next_message(&mut self) -> Result<Option<Bytes>, TooLarge> {
        loop {
            match self.buf[self.scanned..].iter().position(|&b| b == b'\n') {
                Some(i) => {
                    let end = self.scanned + i;
                    let mut line = self.buf.split_to(end + 1);
                    self.scanned = 0;
                    line.truncate(end);
                    if line.iter().all(u8::is_ascii_whitespace) {
                        continue; // a blank line between messages carries nothing
                    }
                    if line.len() > self.limit {
                        return Err(TooLarge { limit: self.limit });
                    }
                    return Ok(Some(line.freeze()));
                }
                None => {
                    self.scanned = self.buf.len();
                    if self.buf.len() > self.limit {
                        return Err(TooLarge { limit: self.limit });
                    }
                    return Ok(None);
                }
            }
        }
    }

    /// How many bytes are buffered (for the memory bound's tests).
    #[cfg(test)]
    pub(crate) fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// At the end of the stream: what is left, if it is more than white space (a stream error
    /// object has no trailing `\n`). A truncated message comes out here too, and fails to decode.
    pub(crate) fn finish(&mut self) -> Option<Bytes> {
        let rest = self.buf.split().freeze();
        self.scanned = 0;
        if rest.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            Some(rest)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fixtures;

    /// Feeds `body` in the given chunk sizes (cycled) and returns every message, then the rest.
    fn run(
        body: &[u8],
        sizes: &mut dyn FnMut() -> usize,
        limit: usize,
    ) -> Result<Vec<Bytes>, TooLarge> {
        let mut decoder = MessageDecoder::new(limit);
        let mut out = Vec::new();
        let mut at = 0;
        while at < body.len() {
            let n = sizes().max(1).min(body.len() - at);
            decoder.push(&body[at..at + n]);
            at += n;
            while let Some(m) = decoder.next_message()? {
                out.push(m);
            }
        }
        out.extend(decoder.finish());
        Ok(out)
    }

    /// A small xorshift generator: reproducible random chunkings without a dependency.
    fn rng(seed: u64) -> impl FnMut() -> u64 {
        let mut state = seed | 1;
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    fn captured_streams() -> Vec<(String, Vec<u8>, Vec<Vec<u8>>)> {
        let mut out = Vec::new();
        for name in [
            "42-watch-basic-events",
            "43-watch-progress-notify",
            "44-watch-start-revision-replay",
            "45-watch-compacted-start-revision",
            "46-watch-filter-noput",
            "49-watch-explicit-watch-id",
            "63-election-observe-stream",
            "60-lease-keepalive-three-lines",
            "90-hdr-grpc-timeout-watch",
            "99-quorum-lost-watch-plain",
        ] {
            for (v, exchanges) in fixtures::both(name) {
                let body = exchanges[0].body();
                // The messages as the server meant them: split on '\n', error object last.
                let expected: Vec<Vec<u8>> = body
                    .split(|&b| b == b'\n')
                    .filter(|m| !m.is_empty())
                    .map(<[u8]>::to_vec)
                    .collect();
                out.push((format!("{name}.{v}"), body, expected));
            }
        }
        out
    }

    #[test]
    fn captured_streams_decode_the_same_in_every_chunking() {
        for (name, body, expected) in captured_streams() {
            assert!(!expected.is_empty(), "{name}");
            for fixed in [1usize, 2, 3, 7, 64, 141, 4096, body.len()] {
                let got = run(&body, &mut || fixed, DEFAULT_MAX_MESSAGE).unwrap();
                assert_eq!(got, expected, "{name} in chunks of {fixed}");
            }
            let mut next = rng(body.len() as u64);
            for round in 0..50 {
                let got = run(
                    &body,
                    &mut || (next() % 300) as usize + 1,
                    DEFAULT_MAX_MESSAGE,
                )
                .unwrap();
                assert_eq!(got, expected, "{name}, random chunking {round}");
            }
            for m in &expected {
                let _: serde_json::Value =
                    serde_json::from_slice(m).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }
    }

    #[test]
    fn a_newline_alone_in_its_chunk_ends_the_message() {
        let mut d = MessageDecoder::new(1024);
        d.push(b"{\"result\":{}}");
        assert_eq!(d.next_message(), Ok(None));
        d.push(b"\n");
        assert_eq!(
            d.next_message().unwrap().as_deref(),
            Some(&b"{\"result\":{}}"[..])
        );
        assert_eq!(d.next_message(), Ok(None));
        assert_eq!(d.finish(), None);
    }

    #[test]
    fn several_messages_in_one_chunk_come_out_one_by_one() {
        let mut d = MessageDecoder::new(1024);
        d.push(b"{\"a\":1}\n\n{\"b\":2}\n{\"error\":{\"grpc_code\":14}}");
        assert_eq!(
            d.next_message().unwrap().as_deref(),
            Some(&b"{\"a\":1}"[..])
        );
        assert_eq!(
            d.next_message().unwrap().as_deref(),
            Some(&b"{\"b\":2}"[..])
        );
        assert_eq!(d.next_message(), Ok(None));
        assert_eq!(
            d.finish().as_deref(),
            Some(&b"{\"error\":{\"grpc_code\":14}}"[..])
        );
    }

    #[test]
    fn a_message_past_the_limit_is_refused_without_buffering_more() {
        let mut d = MessageDecoder::new(100);
        d.push(&[b'x'; 60]);
        assert_eq!(d.next_message(), Ok(None));
        d.push(&[b'x'; 60]);
        assert_eq!(d.next_message(), Err(TooLarge { limit: 100 }));
        // A whole line over the limit is refused too, even when it arrives at once.
        let mut d = MessageDecoder::new(10);
        d.push(b"0123456789ABC\n");
        assert_eq!(d.next_message(), Err(TooLarge { limit: 10 }));
    }

    #[test]
    fn a_very_large_message_in_many_small_chunks_is_scanned_once() {
        let mut body = b"{\"result\":{\"v\":\"".to_vec();
        body.extend(std::iter::repeat_n(b'z', 4 * 1024 * 1024));
        body.extend(b"\"}}\n");
        let got = run(&body, &mut || 1000, DEFAULT_MAX_MESSAGE).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].len(), body.len() - 1);
    }

    #[test]
    fn garbage_and_truncated_input_never_panic() {
        let mut next = rng(7);
        for _ in 0..200 {
            let len = (next() % 2000) as usize;
            let garbage: Vec<u8> = (0..len).map(|_| (next() % 256) as u8).collect();
            let _ = run(&garbage, &mut || (next() % 50) as usize + 1, 512);
        }
        // A message cut in the middle comes out of finish() and is not valid JSON.
        let got = run(b"{\"result\":{\"header\":{\"rev", &mut || 5, 1024).unwrap();
        assert_eq!(got.len(), 1);
        assert!(serde_json::from_slice::<serde_json::Value>(&got[0]).is_err());
    }
}
