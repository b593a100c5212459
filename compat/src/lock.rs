//! The Lock service: [`LockClient`].

use crate::{LockOptions, LockResponse, Result, UnlockResponse};

/// The Lock service's client.
#[derive(Debug, Clone)]
pub struct LockClient(etcdgw::LockClient);

impl LockClient {
    pub(crate) fn new(inner: etcdgw::LockClient) -> Self {
        LockClient(inner)
    }

    /// Takes the lock `name`, waiting while another holder has it (bounded by
    /// `ConnectOptions::with_timeout`, if set, as in etcd-client). The answer's key is what
    /// [`unlock`](Self::unlock) takes.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`](crate::Error::GRpcStatus);
    /// `GRpcStatus(Cancelled, "Timeout expired")` past the timeout.
    pub async fn lock(
        &mut self,
        name: impl Into<Vec<u8>>,
        options: Option<LockOptions>,
    ) -> Result<LockResponse> {
        Ok(self.0.lock(name, options).await?)
    }

    /// Releases a lock by the key [`lock`](Self::lock) returned.
    ///
    /// # Errors
    /// What etcd answered, as [`Error::GRpcStatus`](crate::Error::GRpcStatus).
    pub async fn unlock(&mut self, key: impl Into<Vec<u8>>) -> Result<UnlockResponse> {
        Ok(self.0.unlock(key).await?)
    }
}
