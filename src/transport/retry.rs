//! What may be retried: the one place that decides. How long to wait before trying again is
//! [`rt::backoff`](crate::rt::backoff); which failures of an open stream are worth reopening it
//! is `Error::is_transient`.
//!
//! The rules follow Go's `client/v3/retry.go`: calls that only read (range, lease time-to-live
//! and list, member list, status, alarm list, hash, auth reads) are retried on another endpoint
//! whenever the member was unavailable; calls that change something (put, delete, txn, compact,
//! lease grant and revoke, member changes, auth writes) are retried only when the request
//! certainly was not applied: the connection was never made, or the member refused the call
//! before proposing it (`no leader`, `rpc not supported for learner`). A write that timed out
//! or lost its connection after being sent is never retried: it may have been applied
//! (GATEWAY.md pitfall 20), and the error says so ([`Error::is_outcome_unknown`]).

use crate::error::{Code, Delivery, Error, ServerErrorKind};

/// Whether a call may be repeated without changing the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// Reads: repeating them is harmless.
    Read,
    /// Writes: repeated only when the first attempt certainly did nothing.
    Write,
    /// Writes that may be repeated like reads: a lock or a campaign again with the same lease
    /// takes up the key the first attempt made (`<name>/<lease id>`), so a caller waiting on a
    /// member that died goes on waiting on another.
    Repeatable,
}

/// What a failed attempt means for the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// Try again (on the next healthy endpoint), if the deadline allows.
    pub(crate) retry: bool,
    /// The endpoint itself is at fault: skip it for a while.
    pub(crate) endpoint_failed: bool,
}

/// Decides what a failed attempt means.
pub(crate) fn verdict(err: &Error, idempotency: Idempotency) -> Verdict {
    let read = matches!(idempotency, Idempotency::Read | Idempotency::Repeatable);
    match err {
        Error::Transport { delivery, .. } => Verdict {
            retry: read || *delivery == Delivery::NotSent,
            endpoint_failed: true,
        },
        Error::Server(e) if e.code() == Code::Unavailable => {
            // Refused before any proposal: safe to repeat even for a write.
            let not_applied = matches!(
                e.kind(),
                ServerErrorKind::NoLeader
                    | ServerErrorKind::NotSupportedForLearner
                    | ServerErrorKind::Unhealthy
            );
            Verdict {
                retry: read || not_applied,
                endpoint_failed: true,
            }
        }
        // A lock or campaign under a lease whose proposal timed out (a leader election under
        // way, say): sending it again takes up the same key, so try again. Not when the
        // server's deadline passed: that was the caller's.
        Error::Server(e)
            if idempotency == Idempotency::Repeatable
                && e.is_outcome_unknown()
                && e.kind() != ServerErrorKind::DeadlineExceeded =>
        {
            Verdict {
                retry: true,
                endpoint_failed: false,
            }
        }
        // A proxy that could not get an answer from etcd (a 502, 503 or 504 page): as a
        // connection that failed, with the proxy's word on whether the request went through.
        Error::NotEtcd {
            status, delivery, ..
        } if crate::error::is_gateway_failure(*status) => Verdict {
            retry: read || *delivery == Delivery::NotSent,
            endpoint_failed: true,
        },
        Error::Decode { .. } => Verdict {
            retry: false,
            endpoint_failed: true,
        },
        // A lagging member, or one of another cluster: ask another member.
        Error::StaleRevision { .. } | Error::ClusterMismatch { .. } => Verdict {
            retry: read,
            endpoint_failed: true,
        },
        _ => Verdict {
            retry: false,
            endpoint_failed: false,
        },
    }
}

/// How many attempts one call may make: every endpoint at least twice, and never fewer than 3.
pub(crate) fn max_attempts(endpoints: usize) -> u32 {
    u32::try_from(endpoints.saturating_mul(2))
        .unwrap_or(u32::MAX)
        .max(3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ServerError;
    use url::Url;

    fn server(code: i32, msg: &str) -> Error {
        Error::Server(ServerError::new(
            code,
            msg.into(),
            Url::parse("http://h:1").unwrap(),
        ))
    }

    fn transport(delivery: Delivery) -> Error {
        Error::Transport {
            endpoint: Url::parse("http://h:1").unwrap().into(),
            delivery,
            source: "x".into(),
        }
    }

    #[test]
    fn a_repeatable_call_is_retried_when_its_proposal_timed_out_but_not_past_its_deadline() {
        let timed_out = server(2, "etcdserver: request timed out");
        assert!(verdict(&timed_out, Idempotency::Repeatable).retry);
        assert!(!verdict(&timed_out, Idempotency::Write).retry);
        let deadline = server(4, "context deadline exceeded");
        assert!(!verdict(&deadline, Idempotency::Repeatable).retry);
        let not_found = server(5, "etcdserver: requested lease not found");
        assert!(!verdict(&not_found, Idempotency::Repeatable).retry);
    }

    #[test]
    fn reads_are_retried_when_the_member_is_unavailable() {
        for err in [
            transport(Delivery::MaybeSent),
            transport(Delivery::NotSent),
            server(14, "etcdserver: request timed out"),
        ] {
            assert!(verdict(&err, Idempotency::Read).retry, "{err}");
        }
    }

    #[test]
    fn writes_are_retried_only_when_certainly_not_applied() {
        assert!(verdict(&transport(Delivery::NotSent), Idempotency::Write).retry);
        assert!(verdict(&server(14, "etcdserver: no leader"), Idempotency::Write).retry);
        assert!(
            verdict(
                &server(14, "etcdserver: rpc not supported for learner"),
                Idempotency::Write
            )
            .retry
        );
        assert!(!verdict(&transport(Delivery::MaybeSent), Idempotency::Write).retry);
        assert!(
            !verdict(
                &server(14, "etcdserver: request timed out"),
                Idempotency::Write
            )
            .retry
        );
        assert!(
            !verdict(
                &server(14, "etcdserver: leader changed"),
                Idempotency::Write
            )
            .retry
        );
    }

    #[test]
    fn refusals_are_never_retried() {
        for idem in [Idempotency::Read, Idempotency::Write] {
            let v = verdict(&server(3, "etcdserver: key is not provided"), idem);
            assert_eq!(
                v,
                Verdict {
                    retry: false,
                    endpoint_failed: false
                }
            );
        }
    }

    #[test]
    fn every_endpoint_gets_two_attempts_and_a_call_at_least_three() {
        assert_eq!(max_attempts(1), 3);
        assert_eq!(max_attempts(3), 6);
    }
}
