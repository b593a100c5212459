//! Ordering: after a failover, a lagging member must not take the caller back in time, and a
//! member of another cluster must not answer at all (Go's `ordering` package).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::endpoints::Endpoint;
use super::{Idempotency, Transport};
use crate::error::{Error, Result};
use crate::wire;

impl Transport {
    /// The highest revision this client has seen so far: what a read sent from now on must
    /// not go below. Taken when a call starts, before its first attempt, as Go's `ordering`
    /// package takes it: a bound taken when the answer arrives would also hold it to answers
    /// that came in meanwhile, to calls it ran beside.
    pub(crate) fn revision_floor(&self) -> i64 {
        *self.inner.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Checks an answer against what was seen before: the same cluster, and for a read no
    /// older revision than `floor`, the highest seen when its call started (Go's `ordering`
    /// package): after a failover, a lagging member must not take the caller back in time.
    /// Whichever member answers: the member that gave the floor cannot answer below it, but
    /// another one could, even one that answered another call higher while this call was on
    /// its way (a serializable read served before a linearizable one it overtakes).
    pub(crate) fn check_answer(
        &self,
        endpoint: &Arc<Endpoint>,
        header: Option<&wire::ResponseHeader>,
        idempotency: Idempotency,
        floor: i64,
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
            if revision < floor && idempotency == Idempotency::Read {
                return Err(Error::StaleRevision {
                    endpoint: endpoint.url().clone().into(),
                    seen: floor,
                    got: revision,
                });
            }
            let mut seen = self.inner.seen.lock().unwrap_or_else(|e| e.into_inner());
            *seen = (*seen).max(revision);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(revision: i64) -> wire::ResponseHeader {
        wire::ResponseHeader {
            revision: crate::wire::codec::I64(revision),
            ..Default::default()
        }
    }

    #[test]
    fn a_read_below_the_floor_its_call_started_with_is_refused_whichever_member_answers() {
        let transport = Transport::for_tests();
        let (a, b) = match (
            transport.endpoint("http://a:2379"),
            transport.endpoint("http://b:2379"),
        ) {
            (Ok(a), Ok(b)) => (a, b),
            _ => panic!("endpoints"),
        };
        // A write answered by `a` at 20; then a read starts (floor 20).
        assert!(transport
            .check_answer(&a, Some(&header(20)), Idempotency::Write, 0)
            .is_ok());
        let floor = transport.revision_floor();
        assert_eq!(floor, 20);
        // Meanwhile `b` answers another read at 25 (it is the highest now)...
        assert!(transport
            .check_answer(&b, Some(&header(25)), Idempotency::Read, 20)
            .is_ok());
        // ...and the read, served by `b` before it got there, comes back at 18: refused,
        // though `b` gave the highest revision seen.
        let stale = transport.check_answer(&b, Some(&header(18)), Idempotency::Read, floor);
        assert!(
            matches!(
                stale,
                Err(Error::StaleRevision {
                    seen: 20,
                    got: 18,
                    ..
                })
            ),
            "{stale:?}"
        );
        // A read that started before the write (floor 0) may be answered below it: it ran
        // beside it. So may a write.
        assert!(transport
            .check_answer(&b, Some(&header(18)), Idempotency::Read, 0)
            .is_ok());
        assert!(transport
            .check_answer(&b, Some(&header(18)), Idempotency::Write, floor)
            .is_ok());
        assert_eq!(transport.revision_floor(), 25);
    }
}
