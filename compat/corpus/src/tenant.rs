//! Each tenant's data under a prefix of its own, through etcd-client's namespaced KV client: the
//! code reads and writes plain keys, and never sees another tenant's.

use etcd_client::{Client, DeleteOptions, Error, GetOptions, KvClientPrefix};

/// A tenant's view of the key space.
pub struct TenantStore {
    kv: KvClientPrefix,
}

impl TenantStore {
    /// The keys of `tenant`, under `tenants/<tenant>/`.
    pub fn new(client: &Client, tenant: &str) -> TenantStore {
        let prefix = format!("tenants/{tenant}/").into_bytes();
        TenantStore {
            kv: KvClientPrefix::new(client.kv_client(), prefix),
        }
    }

    /// Writes a key.
    pub async fn put(&mut self, key: &str, value: &str) -> Result<(), Error> {
        self.kv.put(key, value, None).await?;
        Ok(())
    }

    /// Every key of the tenant (as the tenant names them) and its value.
    pub async fn list(&mut self) -> Result<Vec<(String, String)>, Error> {
        let resp = self
            .kv
            .get("", Some(GetOptions::new().with_all_keys()))
            .await?;
        let mut out = Vec::new();
        for kv in resp.kvs() {
            out.push((kv.key_str()?.to_string(), kv.value_str()?.to_string()));
        }
        Ok(out)
    }

    /// Deletes everything the tenant has; returns how many keys.
    pub async fn clear(&mut self) -> Result<i64, Error> {
        let resp = self
            .kv
            .delete("", Some(DeleteOptions::new().with_all_keys()))
            .await?;
        Ok(resp.deleted())
    }
}
