//! Snapshots: the member's database streamed in pieces, checked against etcd's SHA-256 when
//! written out whole.

use std::fmt;
use std::io::Write;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::api::ResponseHeader;
use crate::error::{Error, Result};
use crate::rt;
use crate::transport::OpenStream;
use crate::wire::maintenance as w;

/// One piece of a snapshot.
#[derive(Debug, Clone)]
pub struct SnapshotResponse {
    header: Option<ResponseHeader>,
    remaining_bytes: u64,
    blob: Vec<u8>,
    version: String,
}

impl SnapshotResponse {
    /// The response header (on the first piece; etcd leaves it out of the others).
    pub fn header(&self) -> Option<&ResponseHeader> {
        self.header.as_ref()
    }

    /// Takes the response header out.
    pub fn take_header(&mut self) -> Option<ResponseHeader> {
        self.header.take()
    }

    /// The storage version of the snapshot (etcd 3.6 and later; empty before).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// How many bytes come after this piece (0 in the last one).
    pub fn remaining_bytes(&self) -> u64 {
        self.remaining_bytes
    }

    /// This piece's bytes.
    pub fn blob(&self) -> &[u8] {
        &self.blob
    }
}

/// A snapshot as it streams in; see [`MaintenanceClient::snapshot`](crate::MaintenanceClient::snapshot).
pub struct SnapshotStreaming {
    stream: OpenStream,
    idle_timeout: Duration,
    done: bool,
}

impl fmt::Debug for SnapshotStreaming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnapshotStreaming")
            .field("endpoint", self.stream.endpoint())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// What [`SnapshotStreaming::save_to`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The bytes written, SHA-256 included.
    pub size: u64,
    /// The SHA-256 etcd appended, which matched the data.
    pub sha256: [u8; 32],
}

impl SnapshotStreaming {
    pub(super) fn new(stream: OpenStream, idle_timeout: Duration) -> Self {
        SnapshotStreaming {
            stream,
            idle_timeout,
            done: false,
        }
    }

    /// The next piece, `None` after the last (the 32-byte SHA-256 of everything before it).
    /// Each piece must come within the client's request timeout of the one before. A stream
    /// cut short is caught by [`save_to`](Self::save_to)'s hash check.
    ///
    /// # Errors
    /// [`Error::Timeout`] if the member stalls; a transport error if the stream breaks.
    pub async fn message(&mut self) -> Result<Option<SnapshotResponse>> {
        if self.done {
            return Ok(None);
        }
        let next = rt::timeout(self.idle_timeout, self.stream.next::<w::SnapshotResponse>())
            .await
            .map_err(|_| Error::Timeout {
                tried: vec![self.stream.endpoint().clone()],
                after: self.idle_timeout,
                delivery: crate::error::Delivery::MaybeSent,
            })??;
        match next {
            Some(piece) => Ok(Some(SnapshotResponse {
                header: piece.header.map(ResponseHeader),
                remaining_bytes: piece.remaining_bytes.0,
                blob: piece.blob.0,
                version: piece.version,
            })),
            // The end of the body is the end: both the last piece of data and the SHA-256
            // after it come without `remaining_bytes`.
            None => {
                self.done = true;
                Ok(None)
            }
        }
    }

    /// Writes the whole snapshot to `writer` and checks the SHA-256 etcd appends to it, so a
    /// truncated or damaged snapshot is an error, not a file. The bytes written are exactly
    /// what `etcdctl snapshot save` writes (the hash included), ready for `etcdutl snapshot
    /// restore`.
    ///
    /// # Errors
    /// As [`message`](Self::message); [`Error::Decode`] if the hash does not match;
    /// [`Error::Io`] if writing fails.
    pub async fn save_to<W: Write>(mut self, mut writer: W) -> Result<SnapshotInfo> {
        let mut hasher = Sha256::new();
        // The last 32 bytes seen so far: the hash, if the stream ends here.
        let mut tail: Vec<u8> = Vec::with_capacity(64);
        let mut size = 0u64;
        while let Some(piece) = self.message().await? {
            writer.write_all(piece.blob()).map_err(io_error)?;
            size += piece.blob().len() as u64;
            tail.extend_from_slice(piece.blob());
            if tail.len() > 32 {
                let cut = tail.len() - 32;
                hasher.update(&tail[..cut]);
                tail.drain(..cut);
            }
        }
        writer.flush().map_err(io_error)?;
        let computed: [u8; 32] = hasher.finalize().into();
        if tail.as_slice() != computed {
            return Err(Error::Decode {
                endpoint: self.stream.endpoint().clone().into(),
                status: 200,
                reason: "the snapshot's SHA-256 does not match its data".into(),
                body_head: Box::default(),
            });
        }
        Ok(SnapshotInfo {
            size,
            sha256: computed,
        })
    }

    /// Writes the snapshot to a new file at `path` (see [`save_to`](Self::save_to)). On an
    /// error the partial file is removed.
    pub async fn save_to_file(self, path: impl AsRef<std::path::Path>) -> Result<SnapshotInfo> {
        let path = path.as_ref();
        let file = std::fs::File::create(path).map_err(io_error)?;
        let result = self.save_to(std::io::BufWriter::new(file)).await;
        if result.is_err() {
            let _ = std::fs::remove_file(path);
        }
        result
    }
}

fn io_error(source: std::io::Error) -> Error {
    Error::Io { source }
}
