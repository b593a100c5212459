//! Ordering: after a failover, a lagging member must not take the caller back in time, and a
//! member of another cluster must not answer at all (Go's `ordering` package).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::endpoints::Endpoint;
use super::{Idempotency, Transport};
use crate::error::{Error, Result};
use crate::wire;

impl Transport {
    /// Checks an answer against what was seen before: the same cluster, and for reads no
    /// older revision than one already seen from another endpoint (Go's `ordering` package):
    /// after a failover, a lagging member must not take the caller back in time.
    pub(crate) fn check_answer(
        &self,
        endpoint: &Arc<Endpoint>,
        header: Option<&wire::ResponseHeader>,
        idempotency: Idempotency,
    ) -> Result<()> {
        let Some(header) = header else { return Ok(()) };
        let cluster = header.cluster_id.0;
        if cluster != 0 {
            if let Err(known) = self.inner.cluster_id.compare_exchange(
                0,
                cluster,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                if known != cluster {
                    return Err(Error::ClusterMismatch {
                        endpoint: endpoint.url().clone().into(),
                        expected: known,
                        got: cluster,
                    });
                }
            }
        }
        let revision = header.revision.0;
        if revision > 0 {
            let mut seen = self.inner.seen.lock().unwrap_or_else(|e| e.into_inner());
            let (max, from) = *seen;
            let same_member = from == endpoint.id();
            if revision < max && !same_member && idempotency == Idempotency::Read {
                return Err(Error::StaleRevision {
                    endpoint: endpoint.url().clone().into(),
                    seen: max,
                    got: revision,
                });
            }
            if revision >= max {
                *seen = (revision, endpoint.id());
            }
        }
        Ok(())
    }
}
