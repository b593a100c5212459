//! A backup: the member's snapshot, read piece by piece into memory.

use etcd_client::{Client, Error};

/// The snapshot's bytes (etcd's last piece is the SHA-256 of the ones before).
pub async fn snapshot(client: &mut Client) -> Result<Vec<u8>, Error> {
    let mut stream = client.snapshot().await?;
    let mut data = Vec::new();
    while let Some(piece) = stream.message().await? {
        data.extend_from_slice(piece.blob());
    }
    Ok(data)
}
