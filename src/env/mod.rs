//! Connection settings from the environment, read as etcdctl reads them: [`EnvConfig`] (the
//! `ETCDCTL_*` variables, parsed into endpoints and [`ConnectOptions`]) and
//! [`parse_duration`] (Go's durations, `5s` or `1m30s`, as etcdctl's flags and variables take
//! them). The `etcdgw` command line reads its environment through this module too, so a script
//! and the command line given the same variables talk to the same cluster the same way.
//!
//! ```no_run
//! # async fn run() -> etcdgw::Result<()> {
//! // ETCDCTL_ENDPOINTS=https://10.0.0.1:2379 ETCDCTL_CACERT=ca.pem ETCDCTL_USER=app:secret
//! let client = etcdgw::Client::from_env().await?;
//! # let _ = client;
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::client::ConnectOptions;
use crate::error::{Error, Result};

mod options;
mod parse;
#[cfg(test)]
mod tests;

pub use parse::parse_duration;
use parse::{duration_var, parse_bool, split_endpoints, var};

/// The variables [`EnvConfig`] reads, by etcdctl's names. Each may also be given as
/// `ETCDGW_<NAME>` (`ETCDGW_ENDPOINTS`), which wins over `ETCDCTL_<NAME>`, as in the `etcdgw`
/// command line.
pub const VARIABLES: [&str; 13] = [
    "ETCDCTL_ENDPOINTS",
    "ETCDCTL_USER",
    "ETCDCTL_PASSWORD",
    "ETCDCTL_CACERT",
    "ETCDCTL_CERT",
    "ETCDCTL_KEY",
    "ETCDCTL_INSECURE_TRANSPORT",
    "ETCDCTL_INSECURE_SKIP_TLS_VERIFY",
    "ETCDCTL_DIAL_TIMEOUT",
    "ETCDCTL_COMMAND_TIMEOUT",
    "ETCDCTL_KEEPALIVE_TIME",
    "ETCDCTL_KEEPALIVE_TIMEOUT",
    "ETCDCTL_MAX_RECV_BYTES",
];

/// Variables of etcdctl's that the library cannot honour: DNS discovery is the command line's
/// alone. Set, they are refused rather than ignored (etcdctl would use them over
/// `ETCDCTL_ENDPOINTS`, so ignoring them would talk to another cluster than etcdctl does).
const REFUSED: [&str; 2] = ["ETCDCTL_DISCOVERY_SRV", "ETCDCTL_DISCOVERY_SRV_NAME"];

/// etcdctl's endpoint when none is given.
const DEFAULT_ENDPOINT: &str = "127.0.0.1:2379";
/// etcdctl's `--dial-timeout` default.
const DEFAULT_DIAL_TIMEOUT: Duration = Duration::from_secs(2);
/// etcdctl's `--command-timeout` default.
const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(5);
/// etcdctl's `--keepalive-time` default, used when only the timeout is given.
const DEFAULT_KEEPALIVE_TIME: Duration = Duration::from_secs(2);
/// etcdctl's `--keepalive-timeout` default, used when only the time is given.
const DEFAULT_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(6);

/// Where a setting's value came from, which its errors name.
#[derive(Clone, PartialEq, Eq)]
enum Origin {
    /// etcdctl's default.
    Default,
    /// A variable, by the name it was read under (`ETCDGW_X` or `ETCDCTL_X`).
    Var(String),
    /// A setter.
    Set,
}

/// One setting: its value and where it came from.
#[derive(Clone)]
struct Setting<T> {
    value: T,
    origin: Origin,
}

impl<T> Setting<T> {
    const fn default(value: T) -> Self {
        Setting {
            value,
            origin: Origin::Default,
        }
    }

    const fn set(value: T) -> Self {
        Setting {
            value,
            origin: Origin::Set,
        }
    }
}

/// etcdctl's connection settings: endpoints, user and password, TLS files and flags,
/// timeouts, keep-alives and the receive limit, from the `ETCDCTL_*` variables
/// ([`VARIABLES`]), with etcdctl's defaults for those not set, and setters for the rest.
/// [`connect_options`](Self::connect_options) turns them into [`ConnectOptions`] (reading the
/// certificate files), [`endpoints`](Self::endpoints) gives the endpoints.
///
/// | Variable | Meaning | Default |
/// |---|---|---|
/// | `ETCDCTL_ENDPOINTS` | endpoints, comma separated | `127.0.0.1:2379` |
/// | `ETCDCTL_USER` | `name:password`, or a name with `ETCDCTL_PASSWORD` | none |
/// | `ETCDCTL_PASSWORD` | the password (then `ETCDCTL_USER` is the name, colons and all) | none |
/// | `ETCDCTL_CACERT` | a PEM file of CA certificates to check the servers with | the system's roots |
/// | `ETCDCTL_CERT`, `ETCDCTL_KEY` | PEM files of a client certificate and its key | none |
/// | `ETCDCTL_INSECURE_TRANSPORT` | `false`: endpoints without a scheme use `https://` | `true` |
/// | `ETCDCTL_INSECURE_SKIP_TLS_VERIFY` | accept any server certificate (tests only) | `false` |
/// | `ETCDCTL_DIAL_TIMEOUT` | connect deadline, a Go duration (`2s`) | `2s` |
/// | `ETCDCTL_COMMAND_TIMEOUT` | each request's deadline (`5s`) | `5s` |
/// | `ETCDCTL_KEEPALIVE_TIME`, `ETCDCTL_KEEPALIVE_TIMEOUT` | liveness check of a silent member | off; `2s` and `6s` when either is set |
/// | `ETCDCTL_MAX_RECV_BYTES` | the largest stream message, in bytes (`0`: the library's) | `0` |
/// | `ETCDGW_HEADERS` | etcdgw's own (no `ETCDCTL_` form): headers for every request, one `Name: value` per line (a proxy's API key; [`ConnectOptions::with_header`]) | none |
///
/// As in etcdctl, an empty variable counts as unset, and TLS is used for endpoints without a
/// scheme as soon as a CA, a client certificate, `ETCDCTL_INSECURE_SKIP_TLS_VERIFY` or
/// `ETCDCTL_INSECURE_TRANSPORT=false` asks for it. Booleans are Go's (`true`, `1`, `t`,
/// `false`, `0`, `f`, ...). `ETCDGW_<NAME>` wins over `ETCDCTL_<NAME>`. A value that cannot
/// be used is an [`Error::InvalidSetting`] naming its variable, never a silent default; so is
/// `ETCDCTL_DISCOVERY_SRV`, since DNS discovery is the command line's alone.
///
/// The defaults are etcdctl's, which differ from [`ConnectOptions::new`]'s: a 5 s request
/// deadline (not 10 s) and a 2 s connect deadline (not 3 s).
///
/// `Debug` shows the user's name, never the password, and the headers' names, never their
/// values.
///
/// # Examples
/// Tests and programs that keep their settings elsewhere pass the variables themselves:
/// ```
/// use std::time::Duration;
/// use etcdgw::env::EnvConfig;
///
/// let config = EnvConfig::from_vars([
///     ("ETCDCTL_ENDPOINTS", "http://10.0.0.1:2379,http://10.0.0.2:2379"),
///     ("ETCDCTL_COMMAND_TIMEOUT", "1m30s"),
/// ])?;
/// assert_eq!(config.endpoints(), ["http://10.0.0.1:2379", "http://10.0.0.2:2379"]);
/// assert_eq!(config.command_timeout(), Duration::from_secs(90));
///
/// let bad = EnvConfig::from_vars([("ETCDCTL_DIAL_TIMEOUT", "5")]).unwrap_err();
/// assert!(matches!(&bad, etcdgw::Error::InvalidSetting { name, .. } if &**name == "ETCDCTL_DIAL_TIMEOUT"));
/// # Ok::<(), etcdgw::Error>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct EnvConfig {
    endpoints: Setting<Vec<String>>,
    user: Option<Setting<String>>,
    password: Option<Setting<String>>,
    cacert: Option<Setting<PathBuf>>,
    cert: Option<Setting<PathBuf>>,
    key: Option<Setting<PathBuf>>,
    insecure_transport: Setting<bool>,
    insecure_skip_tls_verify: Setting<bool>,
    dial_timeout: Setting<Duration>,
    command_timeout: Setting<Duration>,
    keepalive_time: Option<Setting<Duration>>,
    keepalive_timeout: Option<Setting<Duration>>,
    max_recv_bytes: Setting<usize>,
    tls_domain_name: Option<String>,
    /// Headers for every request (`ETCDGW_HEADERS`), in order; values never shown.
    headers: Vec<(String, String)>,
    flag_prefix: String,
}

impl Default for EnvConfig {
    fn default() -> Self {
        EnvConfig::new()
    }
}

impl fmt::Debug for EnvConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvConfig")
            .field("endpoints", &self.endpoints.value)
            .field("user", &self.user())
            .field("password", &self.has_password().then_some("<redacted>"))
            .field("cacert", &self.cacert())
            .field("cert", &self.cert())
            .field("key", &self.key())
            .field("insecure_transport", &self.insecure_transport.value)
            .field(
                "insecure_skip_tls_verify",
                &self.insecure_skip_tls_verify.value,
            )
            .field("dial_timeout", &self.dial_timeout.value)
            .field("command_timeout", &self.command_timeout.value)
            .field("keepalive_time", &self.keepalive_time())
            .field("keepalive_timeout", &self.keepalive_timeout())
            .field("max_recv_bytes", &self.max_recv_bytes.value)
            .field("tls_domain_name", &self.tls_domain_name)
            .field("headers", &self.header_names().collect::<Vec<_>>())
            .finish()
    }
}

/// The variable of etcdgw's own (etcdctl has none) holding headers for every request.
const HEADERS: &str = "ETCDGW_HEADERS";

/// The headers of `ETCDGW_HEADERS`: one `Name: value` per line, blank lines skipped. A
/// malformed line is refused by its number, never by its text, which may hold a secret.
fn parse_headers(text: &str) -> Result<Vec<(String, String)>> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .enumerate()
        .map(|(i, line)| match line.split_once(':') {
            Some((name, value)) if !name.trim().is_empty() => {
                Ok((name.trim().to_string(), value.trim().to_string()))
            }
            _ => Err(invalid(
                HEADERS,
                format!(
                    "header number {}: expected 'Name: value' (the line is not shown)",
                    i + 1
                ),
            )),
        })
        .collect()
}

/// A variable's value as text.
fn text(name: &str, value: &OsStr) -> Result<String> {
    value
        .to_str()
        .map(str::to_string)
        .ok_or_else(|| invalid(name, "is not UTF-8"))
}

fn invalid(name: &str, reason: impl Into<String>) -> Error {
    Error::InvalidSetting {
        name: name.into(),
        reason: reason.into().into(),
    }
}

impl EnvConfig {
    /// etcdctl's defaults, nothing read: `127.0.0.1:2379`, a 2 s dial timeout, a 5 s command
    /// timeout, no user, no TLS.
    pub fn new() -> Self {
        EnvConfig {
            endpoints: Setting::default(vec![DEFAULT_ENDPOINT.to_string()]),
            user: None,
            password: None,
            cacert: None,
            cert: None,
            key: None,
            insecure_transport: Setting::default(true),
            insecure_skip_tls_verify: Setting::default(false),
            dial_timeout: Setting::default(DEFAULT_DIAL_TIMEOUT),
            command_timeout: Setting::default(DEFAULT_COMMAND_TIMEOUT),
            keepalive_time: None,
            keepalive_timeout: None,
            max_recv_bytes: Setting::default(0),
            tls_domain_name: None,
            headers: Vec::new(),
            flag_prefix: String::new(),
        }
    }

    /// The settings the process's environment holds ([`VARIABLES`]).
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] naming the first variable whose value cannot be used.
    pub fn from_env() -> Result<Self> {
        EnvConfig::from_vars(std::env::vars_os())
    }

    /// The settings these variables hold, as if they were the environment: pairs of a name
    /// and a value (a `HashMap`, an array of pairs, [`std::env::vars_os`]). Variables that are
    /// not etcdctl's connection settings are ignored.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] naming the first variable whose value cannot be used.
    pub fn from_vars<I, K, V>(vars: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        let vars: HashMap<OsString, OsString> = vars
            .into_iter()
            .filter(|(_, v)| !v.as_ref().is_empty())
            .map(|(k, v)| (k.as_ref().to_os_string(), v.as_ref().to_os_string()))
            .collect();
        for refused in REFUSED {
            let ours = refused.replacen("ETCDCTL_", "ETCDGW_", 1);
            for name in [refused, ours.as_str()] {
                if vars.contains_key(OsStr::new(name)) {
                    return Err(invalid(
                        name,
                        "DNS discovery is done by the etcdgw command line only; set ETCDCTL_ENDPOINTS instead",
                    ));
                }
            }
        }
        // ETCDGW_<NAME> wins over ETCDCTL_<NAME>.
        let get = |suffix: &str| -> Option<(String, &OsString)> {
            [format!("ETCDGW_{suffix}"), format!("ETCDCTL_{suffix}")]
                .into_iter()
                .find_map(|name| vars.get(OsStr::new(&name)).map(|v| (name, v)))
        };
        let mut config = EnvConfig::new();
        if let Some((name, value)) = get("ENDPOINTS") {
            let endpoints = split_endpoints(&text(&name, value)?);
            if endpoints.is_empty() {
                return Err(invalid(&name, "names no endpoint"));
            }
            config.endpoints = var(name, endpoints);
        }
        if let Some((name, value)) = get("USER") {
            config.user = Some(var(name.clone(), text(&name, value)?));
        }
        if let Some((name, value)) = get("PASSWORD") {
            // Never quoted: the reason is the only thing said about a password.
            let password = value
                .to_str()
                .ok_or_else(|| invalid(&name, "is not UTF-8"))?;
            config.password = Some(var(name, password.to_string()));
        }
        for (suffix, slot) in [
            ("CACERT", &mut config.cacert),
            ("CERT", &mut config.cert),
            ("KEY", &mut config.key),
        ] {
            if let Some((name, value)) = get(suffix) {
                *slot = Some(var(name, PathBuf::from(value)));
            }
        }
        for (suffix, slot) in [
            ("INSECURE_TRANSPORT", &mut config.insecure_transport),
            (
                "INSECURE_SKIP_TLS_VERIFY",
                &mut config.insecure_skip_tls_verify,
            ),
        ] {
            if let Some((name, value)) = get(suffix) {
                let parsed =
                    parse_bool(&text(&name, value)?).map_err(|reason| invalid(&name, reason))?;
                *slot = var(name, parsed);
            }
        }
        for (suffix, slot) in [
            ("DIAL_TIMEOUT", &mut config.dial_timeout),
            ("COMMAND_TIMEOUT", &mut config.command_timeout),
        ] {
            if let Some((name, value)) = get(suffix) {
                *slot = var(name.clone(), duration_var(&name, value)?);
            }
        }
        for (suffix, slot) in [
            ("KEEPALIVE_TIME", &mut config.keepalive_time),
            ("KEEPALIVE_TIMEOUT", &mut config.keepalive_timeout),
        ] {
            if let Some((name, value)) = get(suffix) {
                *slot = Some(var(name.clone(), duration_var(&name, value)?));
            }
        }
        if let Some((name, value)) = get("MAX_RECV_BYTES") {
            let value = text(&name, value)?;
            let bytes = value.trim().parse::<usize>().map_err(|_| {
                invalid(
                    &name,
                    format!("invalid value {value:?}: expected a number of bytes"),
                )
            })?;
            config.max_recv_bytes = var(name, bytes);
        }
        if let Some(value) = vars.get(OsStr::new(HEADERS)) {
            config.headers = parse_headers(&text(HEADERS, value)?)?;
        }
        Ok(config)
    }

    /// The endpoints (`ETCDCTL_ENDPOINTS`, or `127.0.0.1:2379`).
    pub fn endpoints(&self) -> &[String] {
        &self.endpoints.value
    }

    /// The user's name: all of `ETCDCTL_USER` when there is a separate password, else the
    /// part before its first colon.
    pub fn user(&self) -> Option<&str> {
        let user = self.user.as_ref()?.value.as_str();
        if user.is_empty() {
            return None;
        }
        if self.password_set() {
            return Some(user);
        }
        Some(user.split_once(':').map_or(user, |(name, _)| name))
    }

    /// Whether a non-empty password was given on its own.
    fn password_set(&self) -> bool {
        self.password.as_ref().is_some_and(|p| !p.value.is_empty())
    }

    /// Whether there is a password, from `ETCDCTL_PASSWORD` or after a colon in
    /// `ETCDCTL_USER`. The password itself is never shown.
    pub fn has_password(&self) -> bool {
        self.user().is_some()
            && (self.password_set() || self.user.as_ref().is_some_and(|u| u.value.contains(':')))
    }

    /// The CA file (`ETCDCTL_CACERT`).
    pub fn cacert(&self) -> Option<&Path> {
        self.cacert.as_ref().map(|s| s.value.as_path())
    }

    /// The client certificate file (`ETCDCTL_CERT`).
    pub fn cert(&self) -> Option<&Path> {
        self.cert.as_ref().map(|s| s.value.as_path())
    }

    /// The client key file (`ETCDCTL_KEY`).
    pub fn key(&self) -> Option<&Path> {
        self.key.as_ref().map(|s| s.value.as_path())
    }

    /// Whether endpoints without a scheme may use plain HTTP (`ETCDCTL_INSECURE_TRANSPORT`,
    /// default true).
    pub fn insecure_transport(&self) -> bool {
        self.insecure_transport.value
    }

    /// Whether server certificates go unchecked (`ETCDCTL_INSECURE_SKIP_TLS_VERIFY`).
    pub fn insecure_skip_tls_verify(&self) -> bool {
        self.insecure_skip_tls_verify.value
    }

    /// The connect deadline (`ETCDCTL_DIAL_TIMEOUT`, default 2 s).
    pub fn dial_timeout(&self) -> Duration {
        self.dial_timeout.value
    }

    /// Each request's deadline (`ETCDCTL_COMMAND_TIMEOUT`, default 5 s).
    pub fn command_timeout(&self) -> Duration {
        self.command_timeout.value
    }

    /// How long a request may go unanswered before its member is checked
    /// (`ETCDCTL_KEEPALIVE_TIME`).
    pub fn keepalive_time(&self) -> Option<Duration> {
        self.keepalive_time.as_ref().map(|s| s.value)
    }

    /// How long that check waits (`ETCDCTL_KEEPALIVE_TIMEOUT`).
    pub fn keepalive_timeout(&self) -> Option<Duration> {
        self.keepalive_timeout.as_ref().map(|s| s.value)
    }

    /// The largest stream message, in bytes; 0 for the library's default
    /// (`ETCDCTL_MAX_RECV_BYTES`).
    pub fn max_recv_bytes(&self) -> usize {
        self.max_recv_bytes.value
    }

    /// Replaces the endpoints (`--endpoints`); blank entries are dropped.
    pub fn with_endpoints<E: AsRef<str>>(mut self, endpoints: impl IntoIterator<Item = E>) -> Self {
        let endpoints = endpoints
            .into_iter()
            .map(|e| e.as_ref().trim().to_string())
            .filter(|e| !e.is_empty())
            .collect();
        self.endpoints = Setting::set(endpoints);
        self
    }

    /// Sets the user, `name` or `name:password` (`--user`).
    pub fn with_user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(Setting::set(user.into()));
        self
    }

    /// Sets the password (`--password`); the user is then taken whole as the name.
    pub fn with_password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(Setting::set(password.into()));
        self
    }

    /// Sets the CA file (`--cacert`).
    pub fn with_cacert(mut self, path: impl Into<PathBuf>) -> Self {
        self.cacert = Some(Setting::set(path.into()));
        self
    }

    /// Sets the client certificate file (`--cert`).
    pub fn with_cert(mut self, path: impl Into<PathBuf>) -> Self {
        self.cert = Some(Setting::set(path.into()));
        self
    }

    /// Sets the client key file (`--key`).
    pub fn with_key(mut self, path: impl Into<PathBuf>) -> Self {
        self.key = Some(Setting::set(path.into()));
        self
    }

    /// Whether endpoints without a scheme may use plain HTTP (`--insecure-transport`).
    pub fn with_insecure_transport(mut self, insecure: bool) -> Self {
        self.insecure_transport = Setting::set(insecure);
        self
    }

    /// Whether server certificates go unchecked (`--insecure-skip-tls-verify`; tests only:
    /// anyone on the path can pose as the server).
    pub fn with_insecure_skip_tls_verify(mut self, skip: bool) -> Self {
        self.insecure_skip_tls_verify = Setting::set(skip);
        self
    }

    /// Sets the connect deadline (`--dial-timeout`).
    pub fn with_dial_timeout(mut self, timeout: Duration) -> Self {
        self.dial_timeout = Setting::set(timeout);
        self
    }

    /// Sets each request's deadline (`--command-timeout`).
    pub fn with_command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = Setting::set(timeout);
        self
    }

    /// Sets the liveness check's interval (`--keepalive-time`).
    pub fn with_keepalive_time(mut self, time: Duration) -> Self {
        self.keepalive_time = Some(Setting::set(time));
        self
    }

    /// Sets the liveness check's timeout (`--keepalive-timeout`).
    pub fn with_keepalive_timeout(mut self, timeout: Duration) -> Self {
        self.keepalive_timeout = Some(Setting::set(timeout));
        self
    }

    /// Sets the largest stream message, in bytes; 0 for the library's default
    /// (`--max-recv-bytes`).
    pub fn with_max_recv_bytes(mut self, bytes: usize) -> Self {
        self.max_recv_bytes = Setting::set(bytes);
        self
    }

    /// Checks server certificates against this name instead of each endpoint's host, and uses
    /// TLS for endpoints without a scheme (the command line's secure DNS discovery sets the
    /// domain it queried).
    pub fn with_tls_domain_name(mut self, domain: impl Into<String>) -> Self {
        self.tls_domain_name = Some(domain.into());
        self
    }

    /// The names of the headers sent with every request (`ETCDGW_HEADERS`), in order.
    pub fn header_names(&self) -> impl Iterator<Item = &str> {
        self.headers.iter().map(|(name, _)| name.as_str())
    }

    /// Replaces the headers sent with every request (those of `ETCDGW_HEADERS`) with these,
    /// as a command line's own flag would. [`connect_options`](Self::connect_options) passes
    /// them to [`ConnectOptions::with_header`], which `connect` checks.
    pub fn with_headers<N, V>(mut self, headers: impl IntoIterator<Item = (N, V)>) -> Self
    where
        N: Into<String>,
        V: Into<String>,
    {
        self.headers = headers
            .into_iter()
            .map(|(name, value)| (name.into(), value.into()))
            .collect();
        self
    }

    /// Names the values given to the setters in errors as etcdctl's flags with this prefix
    /// after the dashes: `dest-` makes a bad `with_cacert` file `--dest-cacert` (make-mirror's
    /// destination), where it is `--cacert` by default.
    pub fn with_flag_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.flag_prefix = prefix.into();
        self
    }
}
