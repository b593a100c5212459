//! The auth token: fetched on first use, attached to every request as the raw `Authorization`
//! header (no `Bearer `: GATEWAY.md 6), and fetched again, once, when the server says it is
//! invalid or expired or that the auth store moved on. Concurrent requests that find the token
//! stale share one re-authentication.
//!
//! The password and the token live here and in the one request that carries each; `Debug`
//! shows neither, and no error carries them.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{CallOptions, Idempotency, Transport};
use crate::error::{Error, Result, ServerErrorKind};
use crate::rt;
use crate::wire;

/// A user name and password.
#[derive(Clone)]
pub(crate) struct Credentials {
    pub(crate) name: String,
    pub(crate) password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("name", &self.name)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The token state a client and its clones share.
pub(crate) struct Auth {
    credentials: Mutex<Option<Credentials>>,
    token: Mutex<Option<Arc<str>>>,
    /// Held while authenticating, so that one request does it for all.
    pub(crate) refreshing: tokio::sync::Mutex<()>,
    refreshes: AtomicU64,
    pub(crate) auto_refresh: bool,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("user", &self.credentials().map(|c| c.name))
            .field("token", &self.token().map(|_| "<redacted>"))
            .field("refreshes", &self.refreshes())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Auth {
    pub(crate) fn new(credentials: Option<Credentials>, auto_refresh: bool) -> Self {
        Auth {
            credentials: Mutex::new(credentials),
            token: Mutex::new(None),
            refreshing: tokio::sync::Mutex::new(()),
            refreshes: AtomicU64::new(0),
            auto_refresh,
        }
    }

    pub(crate) fn has_credentials(&self) -> bool {
        lock(&self.credentials).is_some()
    }

    pub(crate) fn credentials(&self) -> Option<Credentials> {
        lock(&self.credentials).clone()
    }

    pub(crate) fn set_credentials(&self, credentials: Option<Credentials>) {
        *lock(&self.credentials) = credentials;
        *lock(&self.token) = None;
    }

    pub(crate) fn token(&self) -> Option<Arc<str>> {
        lock(&self.token).clone()
    }

    /// Stores a new token (or none, when the server says auth is off).
    pub(crate) fn set_token(&self, token: Option<Arc<str>>) {
        if token.is_some() {
            self.refreshes.fetch_add(1, Ordering::Relaxed);
            super::metrics::token_refreshed();
        }
        *lock(&self.token) = token;
    }

    /// How many times a token was fetched.
    pub(crate) fn refreshes(&self) -> u64 {
        self.refreshes.load(Ordering::Relaxed)
    }

    /// Whether `current` differs from the token a failed request used, i.e. another request
    /// already fetched a new one.
    pub(crate) fn changed_since(current: &Option<Arc<str>>, used: Option<&Arc<str>>) -> bool {
        match (current, used) {
            (Some(now), Some(then)) => !Arc::ptr_eq(now, then),
            (Some(_), None) => true,
            (None, _) => false,
        }
    }
}

/// Whether an error means the token must be fetched again: invalid or expired (also after a
/// member restart, which forgets simple tokens), or issued before the auth store changed.
pub(crate) fn is_stale_token(err: &Error) -> bool {
    matches!(
        err.server_kind(),
        Some(ServerErrorKind::InvalidAuthToken | ServerErrorKind::AuthOldRevision)
    )
}

/// Whether a watch refused at creation may have been refused for a stale token: 3.4 says so,
/// 3.5 reports an expired token as "permission denied" (GATEWAY.md pitfall 13).
pub(crate) fn is_auth_cancel(reason: &str) -> bool {
    [
        "invalid auth token",
        "permission denied",
        "user name is empty",
        "revision of auth store is old",
    ]
    .iter()
    .any(|m| reason.contains(m))
}

impl Transport {
    /// The token to send: none without credentials, the current one, or a new one.
    pub(super) async fn token(&self) -> Result<Option<Arc<str>>> {
        let auth = &self.inner.auth;
        if !auth.has_credentials() {
            return Ok(None);
        }
        match auth.token() {
            Some(token) => Ok(Some(token)),
            None => self.refresh_token_after(None).await,
        }
    }

    /// Fetches a new token because `stale` (the one a request used, if any) failed; if another
    /// request already fetched a newer one meanwhile, that one is used instead.
    pub(crate) fn refresh_token_after<'a>(
        &'a self,
        stale: Option<&'a Arc<str>>,
    ) -> rt::BoxFuture<'a, Result<Option<Arc<str>>>> {
        // Boxed: authenticating is itself a call through `with_retries`.
        Box::pin(async move {
            let auth = &self.inner.auth;
            let _one_at_a_time = auth.refreshing.lock().await;
            let current = auth.token();
            if Auth::changed_since(&current, stale) {
                return Ok(current);
            }
            let Some(credentials) = auth.credentials() else {
                auth.set_token(None);
                return Ok(None);
            };
            let request = wire::auth::AuthenticateRequest {
                name: credentials.name,
                password: credentials.password,
            };
            let options = CallOptions {
                anonymous: true,
                ..CallOptions::new(Idempotency::Read)
            };
            let answer: Result<wire::auth::AuthenticateResponse> = self
                .call_with(wire::paths::AUTH_AUTHENTICATE, &request, options)
                .await;
            match answer {
                Ok(answer) => {
                    let token: Arc<str> = Arc::from(answer.token);
                    auth.set_token(Some(token.clone()));
                    Ok(Some(token))
                }
                // Auth was turned off: send no token at all (a stale one is refused).
                Err(err) if err.server_kind() == Some(ServerErrorKind::AuthNotEnabled) => {
                    auth.set_token(None);
                    Ok(None)
                }
                Err(err) => Err(err),
            }
        })
    }

    /// Replaces the credentials and fetches a token for them now (none: no token at all).
    pub(crate) async fn set_credentials(&self, credentials: Option<Credentials>) -> Result<()> {
        self.inner.auth.set_credentials(credentials);
        self.refresh_token_after(None).await.map(|_| ())
    }

    /// Fetches a new token with the stored credentials, or drops the token if there are none.
    pub(crate) async fn refresh_token(&self) -> Result<()> {
        let current = self.inner.auth.token();
        self.refresh_token_after(current.as_ref()).await.map(|_| ())
    }

    /// Whether this client has credentials (and so may fix an auth refusal by re-authenticating).
    pub(crate) fn has_credentials(&self) -> bool {
        self.inner.auth.has_credentials()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_stay_out_of_debug() {
        let auth = Auth::new(
            Some(Credentials {
                name: "root".into(),
                password: "hunter2".into(),
            }),
            true,
        );
        auth.set_token(Some(Arc::from("tok.123")));
        let text = format!("{auth:?}");
        assert!(
            text.contains("root") && !text.contains("hunter2") && !text.contains("tok.123"),
            "{text}"
        );
        assert_eq!(auth.refreshes(), 1);
    }

    #[test]
    fn a_token_fetched_meanwhile_is_recognised() {
        let a: Arc<str> = Arc::from("a");
        let b: Arc<str> = Arc::from("a");
        assert!(!Auth::changed_since(&Some(a.clone()), Some(&a)));
        assert!(Auth::changed_since(&Some(b), Some(&a)));
        assert!(Auth::changed_since(&Some(a.clone()), None));
        assert!(!Auth::changed_since(&None, Some(&a)));
    }
}
