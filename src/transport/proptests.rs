//! Property tests: the decoders take arbitrary bytes (and damaged real answers) without
//! panicking, without unbounded memory, and always with a typed result.

use proptest::prelude::*;
use url::Url;

use super::decode::{decode_response, decode_stream_message};
use super::framing::MessageDecoder;
use crate::error::Error;
use crate::wire::{fixtures, kv, lease, maintenance, watch};

fn url() -> Url {
    Url::parse("http://127.0.0.1:2379").unwrap()
}

/// Every error the decoders may give for bytes that are not a good answer.
fn typed(err: &Error) -> bool {
    matches!(
        err,
        Error::Decode { .. }
            | Error::NotEtcd { .. }
            | Error::Server(_)
            | Error::Unsupported { .. }
            | Error::ClusterMismatch { .. }
    )
}

fn decode_all(status: u16, body: &[u8]) {
    let url = url();
    macro_rules! check {
        ($($t:ty),*) => {$(
            if let Err(e) = decode_response::<$t>(&url, "/v3/kv/range", status, body) {
                assert!(typed(&e), "{e:?}");
            }
            if let Err(e) = decode_stream_message::<$t>(&url, body) {
                assert!(typed(&e), "{e:?}");
            }
        )*};
    }
    check!(
        kv::RangeResponse,
        kv::TxnResponse,
        kv::PutResponse,
        watch::WatchResponse,
        lease::LeaseKeepAliveResponse,
        maintenance::StatusResponse,
        maintenance::SnapshotResponse
    );
}

/// Real answers to damage: a few of each shape.
fn samples() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for name in [
        "11-path-kv-range",
        "22-kv-txn-all-targets",
        "42-watch-basic-events",
        "30-err-empty-key-put",
        "90-hdr-grpc-timeout-watch",
        "13-path-maintenance-status",
    ] {
        for (_, body) in fixtures::bodies(name) {
            out.push(body);
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic_the_answer_decoders(body in proptest::collection::vec(any::<u8>(), 0..2048), status in prop::sample::select(vec![200u16, 400, 404, 412, 500, 503])) {
        decode_all(status, &body);
    }

    #[test]
    fn damaged_real_answers_decode_or_fail_typed(pick in 0usize..12, cut in 0usize..4096, flips in proptest::collection::vec((0usize..4096, any::<u8>()), 0..8)) {
        let samples = samples();
        let mut body = samples[pick % samples.len()].clone();
        for (at, byte) in flips {
            if !body.is_empty() {
                let i = at % body.len();
                body[i] = byte;
            }
        }
        body.truncate(cut.min(body.len()));
        decode_all(200, &body);
        decode_all(400, &body);
    }

    #[test]
    fn the_stream_decoder_stays_bounded_on_arbitrary_input(data in proptest::collection::vec(any::<u8>(), 0..8192), sizes in proptest::collection::vec(1usize..512, 1..64), limit in 1usize..1024) {
        let mut decoder = MessageDecoder::new(limit);
        let mut at = 0;
        let mut k = 0;
        while at < data.len() {
            let n = sizes[k % sizes.len()].min(data.len() - at);
            k += 1;
            decoder.push(&data[at..at + n]);
            at += n;
            loop {
                match decoder.next_message() {
                    Ok(Some(message)) => {
                        prop_assert!(message.len() <= limit);
                        let _ = decode_stream_message::<watch::WatchResponse>(&url(), &message);
                    }
                    Ok(None) => break,
                    Err(too_large) => {
                        prop_assert_eq!(too_large.limit, limit);
                        // A caller stops reading here: the bound held up to this chunk.
                        return Ok(());
                    }
                }
            }
            // Whatever is buffered is less than one message plus the chunk being read.
            prop_assert!(decoder.buffered() <= limit + 512);
        }
        if let Some(rest) = decoder.finish() {
            let _ = decode_stream_message::<watch::WatchResponse>(&url(), &rest);
        }
    }
}
