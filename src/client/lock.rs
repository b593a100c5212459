//! `Client`'s Lock calls (see `api::lock`).

use super::Client;
use crate::api::lock::{LockClient, LockOptions, LockResponse, UnlockResponse};
use crate::error::Result;

impl Client {
    /// The Lock service, sharing this client's connections.
    pub fn lock_client(&self) -> LockClient {
        LockClient::new(self.transport.clone())
    }

    /// Takes a lock; see [`LockClient::lock`].
    pub async fn lock(
        &self,
        name: impl Into<Vec<u8>>,
        options: Option<LockOptions>,
    ) -> Result<LockResponse> {
        self.lock_client().lock(name, options).await
    }

    /// Releases a lock; see [`LockClient::unlock`].
    pub async fn unlock(&self, key: impl Into<Vec<u8>>) -> Result<UnlockResponse> {
        self.lock_client().unlock(key).await
    }
}
