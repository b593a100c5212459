//! `Client`'s Watch calls (see `api::watch`).

use super::Client;
use crate::api::watch::{WatchClient, WatchOptions, WatchStream};
use crate::error::Result;

impl Client {
    /// The Watch service, sharing this client's connections.
    pub fn watch_client(&self) -> WatchClient {
        WatchClient::new(self.transport.clone())
    }

    /// Watches a key or a range; see [`WatchClient::watch`].
    pub async fn watch(
        &self,
        key: impl Into<Vec<u8>>,
        options: Option<WatchOptions>,
    ) -> Result<WatchStream> {
        self.watch_client().watch(key, options).await
    }
}
