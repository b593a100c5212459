//! Liveness: a request or stream whose member stops answering (stopped, black-holed) is given
//! up on after one failed check instead of at its deadline; a member that failed is taken out
//! of rotation and probed in the background until it answers again.

use std::sync::Arc;
use std::time::Duration;

use super::decode::not_etcd;
use super::endpoints::Endpoint;
use super::unary::{json_content_type, transport_error, upgrade_delivery};
use super::{metrics, Transport};
use crate::error::{is_gateway_failure, Delivery, Error, Result};
use crate::rt;
use crate::wire;

/// How often a down endpoint is probed in the background.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);

impl Transport {
    /// Runs `work` against `endpoint` while checking, every liveness interval without an
    /// answer, that the endpoint still answers at all: a member that accepts connections but
    /// never answers (stopped, black-holed) is given up on after one check, not at the
    /// deadline, so the request can move on.
    pub(crate) async fn watched<T>(
        &self,
        endpoint: &Arc<Endpoint>,
        work: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        use futures_util::future::{select, Either};
        let work = std::pin::pin!(work);
        let watchdog = std::pin::pin!(self.watchdog(endpoint));
        match select(work, watchdog).await {
            Either::Left((outcome, _)) => outcome,
            Either::Right((dead, _)) => Err(dead),
        }
    }

    /// Resolves with an error once `endpoint` fails a liveness check; never otherwise.
    async fn watchdog(&self, endpoint: &Arc<Endpoint>) -> Error {
        let (interval, timeout) = self.inner.config.liveness;
        loop {
            rt::sleep(interval).await;
            if self.inner.endpoints.answered_within(endpoint, interval) {
                continue; // another request just got an answer from it
            }
            if let Err(err) = self.probe(endpoint, timeout).await {
                event!(
                    warn,
                    "endpoint {} does not answer a liveness check: {}",
                    endpoint.url(),
                    err
                );
                // The request in flight reached the member: it may still be applied.
                return upgrade_delivery(err, true);
            }
        }
    }

    /// Whether `endpoint` answers a status request within `timeout`: any HTTP answer counts but
    /// a proxy's 502, 503 or 504, which says that etcd behind it does not answer.
    /// Status needs no token, answers at once even without quorum, and goes where every
    /// gateway call goes (so a proxy in front and a browser's CORS rules let it through).
    pub(super) async fn probe(&self, endpoint: &Endpoint, timeout: Duration) -> Result<()> {
        let request = self
            .inner
            .http
            .post(endpoint.parsed_url_for(wire::paths::STATUS))
            .body("{}");
        let request = self.inner.headers.apply(json_content_type(request), false);
        let answer = rt::timeout(timeout, async {
            let response = request.send().await?;
            let status = response.status().as_u16();
            // A proxy's "bad gateway" or "gateway timeout" page says that etcd behind it does
            // not answer; any other answer (etcd's, or a refusal of the proxy's) is alive.
            let page = match is_gateway_failure(status) {
                true => response.bytes().await.unwrap_or_default(),
                false => Default::default(),
            };
            Ok::<_, reqwest::Error>((status, page))
        })
        .await;
        let alive = matches!(&answer, Ok(Ok((status, _))) if !is_gateway_failure(*status));
        metrics::liveness_check(endpoint, alive);
        match answer {
            Ok(Ok((status, page))) if is_gateway_failure(status) => {
                Err(not_etcd(endpoint.url(), status, &page))
            }
            Ok(Ok(_)) => {
                self.inner.endpoints.report_alive(endpoint);
                Ok(())
            }
            // Refused, a TLS failure, a reset: the error says which.
            Ok(Err(e)) => Err(transport_error(endpoint, e)),
            Err(rt::Elapsed) => Err(Error::Transport {
                endpoint: endpoint.url().clone().into(),
                delivery: Delivery::NotSent,
                source: format!(
                    "no answer to a liveness check within {timeout:?}: the member does not answer"
                )
                .into(),
            }),
        }
    }

    /// Takes an endpoint out of rotation and probes it in the background until it answers.
    pub(crate) fn endpoint_failed(&self, failed: &Arc<Endpoint>, err: &Error) {
        let failure = self.inner.endpoints.report_failure(failed);
        if failure.newly_down {
            event!(warn, "endpoint {} is down: {}", failed.url(), err);
            metrics::endpoint_down(failed);
        }
        let _ = err;
        if failure.start_probe {
            let weak = Arc::downgrade(&self.inner);
            let endpoint = failed.clone();
            let started = rt::try_spawn(async move {
                loop {
                    rt::sleep(PROBE_INTERVAL).await;
                    let Some(inner) = weak.upgrade() else { return };
                    if !inner.endpoints.contains(&endpoint) {
                        return;
                    }
                    let transport = Transport {
                        inner,
                        overrides: Default::default(),
                    };
                    let timeout = transport.inner.config.liveness.1;
                    if transport.probe(&endpoint, timeout).await.is_ok() {
                        transport.inner.endpoints.report_success(&endpoint);
                        transport.inner.endpoints.probe_done(&endpoint);
                        event!(info, "endpoint {} answers again", endpoint.url());
                        return;
                    }
                    transport.inner.endpoints.still_down(&endpoint);
                }
            });
            if !started {
                self.inner.endpoints.probe_done(failed);
            }
        }
    }
}
