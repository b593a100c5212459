//! Metrics through the [`metrics`](https://docs.rs/metrics) facade, with feature `metrics`:
//! whatever recorder the program installs (Prometheus, StatsD, ...) receives them. The feature
//! picks one of two modules here, once: `on.rs` records, `off.rs` has the same functions doing
//! nothing, which compile away. Callers call them the same way either way.
//!
//! Every name, label and meaning is listed in `docs/METRICS.md`; keep the two in step. Labels
//! carry gateway methods, endpoint URLs (which never hold credentials: `Endpoint::parse`
//! refuses them), outcomes and error kinds: never a key, a value, a user name or a token.

#[cfg(not(feature = "metrics"))]
mod off;
#[cfg(feature = "metrics")]
mod on;

#[cfg(not(feature = "metrics"))]
pub(crate) use off::*;
#[cfg(feature = "metrics")]
pub(crate) use on::*;
