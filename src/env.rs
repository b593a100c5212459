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
/// `Debug` shows the user's name, never the password.
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
            .finish()
    }
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

    /// Names the values given to the setters in errors as etcdctl's flags with this prefix
    /// after the dashes: `dest-` makes a bad `with_cacert` file `--dest-cacert` (make-mirror's
    /// destination), where it is `--cacert` by default.
    pub fn with_flag_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.flag_prefix = prefix.into();
        self
    }

    /// What errors call a setting: the variable it came from, or its flag.
    fn name_of<T>(&self, setting: &Setting<T>, flag: &str) -> String {
        match &setting.origin {
            Origin::Var(name) => name.clone(),
            Origin::Default | Origin::Set => format!("--{}{flag}", self.flag_prefix),
        }
    }

    /// The user name and password, as etcdctl pairs them.
    fn credentials(&self) -> Result<Option<(String, String)>> {
        let Some(user) = self.user.as_ref().filter(|u| !u.value.is_empty()) else {
            return Ok(None);
        };
        if let Some(password) = self.password.as_ref().filter(|p| !p.value.is_empty()) {
            return Ok(Some((user.value.clone(), password.value.clone())));
        }
        match user.value.split_once(':') {
            Some((name, password)) => Ok(Some((name.to_string(), password.to_string()))),
            None => {
                let name = self.name_of(user, "user");
                let password = self.name_of(
                    self.password
                        .as_ref()
                        .unwrap_or(&Setting::set(String::new())),
                    "password",
                );
                Err(invalid(
                    &name,
                    format!(
                        "names a user without a password: give {password}, or {name} as name:password"
                    ),
                ))
            }
        }
    }

    /// The options these settings describe: deadlines, liveness check, receive limit, TLS
    /// (the CA and client files read now) and the user. The endpoints are
    /// [`endpoints`](Self::endpoints); they matter here only for TLS (explicit `http://`
    /// endpoints stay plain when the only reason for TLS is skipping verification, as in
    /// etcdctl).
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] naming the setting: a certificate file that cannot be read, a
    /// certificate without its key (or the other way round), a user without a password, TLS
    /// settings in a build without the `tls` feature.
    pub fn connect_options(&self) -> Result<ConnectOptions> {
        let mut options = ConnectOptions::new()
            .with_timeout(self.command_timeout.value)
            .with_connect_timeout(self.dial_timeout.value);
        if self.keepalive_time.is_some() || self.keepalive_timeout.is_some() {
            options = options.with_keep_alive(
                self.keepalive_time().unwrap_or(DEFAULT_KEEPALIVE_TIME),
                self.keepalive_timeout()
                    .unwrap_or(DEFAULT_KEEPALIVE_TIMEOUT),
            );
        }
        if self.max_recv_bytes.value > 0 {
            options = options.with_max_message_size(self.max_recv_bytes.value);
        }
        options = self.tls(options)?;
        if let Some((name, password)) = self.credentials()? {
            options = options.with_user(name, password);
        }
        Ok(options)
    }

    /// Whether every endpoint is explicitly `http://`: then skipping verification alone does
    /// not ask for TLS, as in etcdctl.
    fn all_plain(&self) -> bool {
        self.endpoints
            .value
            .iter()
            .all(|e| e.trim().to_ascii_lowercase().starts_with("http://"))
    }

    /// The first TLS setting that asks for TLS, by name, when one does: as clientv3, TLS for
    /// endpoints without a scheme once anything asks for it.
    fn tls_asked_by(&self) -> Option<String> {
        let all_plain = self.all_plain();
        let files = [
            (&self.cacert, "cacert"),
            (&self.cert, "cert"),
            (&self.key, "key"),
        ];
        if let Some((setting, flag)) = files
            .into_iter()
            .find_map(|(s, flag)| s.as_ref().map(|s| (s, flag)))
        {
            return Some(self.name_of(setting, flag));
        }
        if self.insecure_skip_tls_verify.value && !all_plain {
            return Some(self.name_of(&self.insecure_skip_tls_verify, "insecure-skip-tls-verify"));
        }
        if !self.insecure_transport.value {
            return Some(self.name_of(&self.insecure_transport, "insecure-transport"));
        }
        self.tls_domain_name
            .as_ref()
            .map(|_| "the TLS domain name".to_string())
    }

    #[cfg(not(feature = "tls"))]
    fn tls(&self, options: ConnectOptions) -> Result<ConnectOptions> {
        match self.tls_asked_by() {
            Some(name) => Err(invalid(&name, "TLS needs etcdgw's `tls` feature")),
            None => Ok(options),
        }
    }

    #[cfg(feature = "tls")]
    fn tls(&self, options: ConnectOptions) -> Result<ConnectOptions> {
        use crate::tls::{Certificate, Identity, TlsOptions};

        if self.tls_asked_by().is_none() {
            return Ok(options);
        }
        let read = |setting: &Setting<PathBuf>, flag: &str| -> Result<Vec<u8>> {
            let name = self.name_of(setting, flag);
            if setting.value.as_os_str().is_empty() {
                return Err(invalid(&name, "names no file"));
            }
            std::fs::read(&setting.value).map_err(|e| {
                invalid(
                    &name,
                    format!("cannot read {}: {e}", setting.value.display()),
                )
            })
        };
        let mut tls = TlsOptions::new();
        if let Some(domain) = &self.tls_domain_name {
            tls = tls.domain_name(domain.trim_end_matches('.'));
        }
        let all_plain = self.all_plain();
        if self.insecure_skip_tls_verify.value && !all_plain {
            tls = tls.danger_accept_invalid_certs(true);
        }
        if let Some(cacert) = &self.cacert {
            tls = tls.ca_certificate(Certificate::from_pem(read(cacert, "cacert")?));
        }
        match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                tls = tls.identity(Identity::from_pem(read(cert, "cert")?, read(key, "key")?));
            }
            (None, None) => {}
            (Some(cert), None) => {
                return Err(invalid(
                    &self.name_of(cert, "cert"),
                    "a client certificate needs its key too (ETCDCTL_KEY, --key)",
                ))
            }
            (None, Some(key)) => {
                return Err(invalid(
                    &self.name_of(key, "key"),
                    "a client key needs its certificate too (ETCDCTL_CERT, --cert)",
                ))
            }
        }
        Ok(options.with_tls(tls))
    }
}

fn var<T>(name: String, value: T) -> Setting<T> {
    Setting {
        value,
        origin: Origin::Var(name),
    }
}

/// etcdctl's endpoint list: comma separated, blanks around each ignored.
fn split_endpoints(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_string)
        .collect()
}

fn duration_var(name: &str, value: &OsStr) -> Result<Duration> {
    let value = text(name, value)?;
    parse_duration(&value).map_err(|e| match e {
        Error::InvalidArgument { reason } => invalid(name, reason),
        other => other,
    })
}

/// Go's `strconv.ParseBool`, as etcdctl's boolean flags and variables take them.
fn parse_bool(value: &str) -> std::result::Result<bool, String> {
    match value.trim() {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        other => Err(format!(
            "invalid value {other:?}: expected true or false (or 1, 0, t, f)"
        )),
    }
}

/// Parses a duration as Go's `time.ParseDuration` does, which etcdctl's flags and variables
/// use: a sequence of decimal numbers, each with an optional fraction and a unit (`ns`, `us`,
/// `µs`, `ms`, `s`, `m`, `h`), such as `5s`, `500ms` or `1m30s`; `0` alone is allowed.
///
/// # Errors
/// [`Error::InvalidArgument`] for anything else, negative durations included (no etcdctl
/// setting takes one) and a number without a unit.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use etcdgw::env::parse_duration;
///
/// assert_eq!(parse_duration("1m30s")?, Duration::from_secs(90));
/// assert_eq!(parse_duration("1.5s")?, Duration::from_millis(1500));
/// assert!(parse_duration("5").is_err());
/// # Ok::<(), etcdgw::Error>(())
/// ```
pub fn parse_duration(text: &str) -> Result<Duration> {
    let invalid = || {
        Error::invalid(format!(
            "invalid duration {text:?} (expected e.g. 5s, 500ms, 1m30s)"
        ))
    };
    let s = text.trim();
    let s = s.strip_prefix('+').unwrap_or(s);
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .ok_or_else(invalid)?;
        let (number, after) = rest.split_at(digits_end);
        if number.is_empty() || number == "." {
            return Err(invalid());
        }
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        let nanos_per_unit: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(invalid()),
        };
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        if frac.contains('.') {
            return Err(invalid());
        }
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| invalid())?
        };
        let mut value = whole.checked_mul(nanos_per_unit).ok_or_else(invalid)?;
        let mut scale = nanos_per_unit;
        for digit in frac.bytes() {
            scale /= 10;
            value = value
                .checked_add(u128::from(digit.saturating_sub(b'0')).saturating_mul(scale))
                .ok_or_else(invalid)?;
        }
        total = total.checked_add(value).ok_or_else(invalid)?;
        rest = next;
    }
    let secs = u64::try_from(total / 1_000_000_000).map_err(|_| invalid())?;
    // The remainder is below 10^9: it fits in a u32.
    let nanos = u32::try_from(total % 1_000_000_000).map_err(|_| invalid())?;
    Ok(Duration::new(secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting_error(result: Result<EnvConfig>) -> (String, String) {
        match result {
            Err(Error::InvalidSetting { name, reason }) => (name.into(), reason.into()),
            other => panic!("expected InvalidSetting, got {other:?}"),
        }
    }

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("10µs").unwrap(), Duration::from_micros(10));
        assert_eq!(parse_duration("+3ns").unwrap(), Duration::from_nanos(3));
        for bad in [
            "",
            "5",
            "s",
            "5x",
            "-1s",
            "1..5s",
            ".",
            "99999999999999999999999999999999999999h",
        ] {
            assert!(
                matches!(parse_duration(bad), Err(Error::InvalidArgument { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn nothing_set_is_etcdctls_defaults() {
        let config = EnvConfig::from_vars(Vec::<(String, String)>::new()).unwrap();
        assert_eq!(config.endpoints(), ["127.0.0.1:2379"]);
        assert_eq!(config.dial_timeout(), Duration::from_secs(2));
        assert_eq!(config.command_timeout(), Duration::from_secs(5));
        assert_eq!(config.user(), None);
        assert!(!config.has_password());
        assert!(config.insecure_transport() && !config.insecure_skip_tls_verify());
        assert_eq!(
            (config.keepalive_time(), config.keepalive_timeout()),
            (None, None)
        );
        assert_eq!(config.max_recv_bytes(), 0);
        assert!(config.connect_options().is_ok());
    }

    #[test]
    fn every_variable_is_read() {
        let config = EnvConfig::from_vars([
            ("ETCDCTL_ENDPOINTS", " a:1 , http://b:2,, "),
            ("ETCDCTL_USER", "alice"),
            ("ETCDCTL_PASSWORD", "pw:with:colons"),
            ("ETCDCTL_CACERT", "/ca.pem"),
            ("ETCDCTL_CERT", "/c.pem"),
            ("ETCDCTL_KEY", "/k.pem"),
            ("ETCDCTL_INSECURE_TRANSPORT", "false"),
            ("ETCDCTL_INSECURE_SKIP_TLS_VERIFY", "1"),
            ("ETCDCTL_DIAL_TIMEOUT", "750ms"),
            ("ETCDCTL_COMMAND_TIMEOUT", "1m"),
            ("ETCDCTL_KEEPALIVE_TIME", "3s"),
            ("ETCDCTL_KEEPALIVE_TIMEOUT", "4s"),
            ("ETCDCTL_MAX_RECV_BYTES", "1048576"),
            ("ETCDCTL_API", "3"),
            ("HOME", "/root"),
        ])
        .unwrap();
        assert_eq!(config.endpoints(), ["a:1", "http://b:2"]);
        assert_eq!(config.user(), Some("alice"));
        assert!(config.has_password());
        assert_eq!(config.cacert(), Some(Path::new("/ca.pem")));
        assert_eq!(config.cert(), Some(Path::new("/c.pem")));
        assert_eq!(config.key(), Some(Path::new("/k.pem")));
        assert!(!config.insecure_transport());
        assert!(config.insecure_skip_tls_verify());
        assert_eq!(config.dial_timeout(), Duration::from_millis(750));
        assert_eq!(config.command_timeout(), Duration::from_secs(60));
        assert_eq!(config.keepalive_time(), Some(Duration::from_secs(3)));
        assert_eq!(config.keepalive_timeout(), Some(Duration::from_secs(4)));
        assert_eq!(config.max_recv_bytes(), 1 << 20);
    }

    #[test]
    fn etcdgw_names_win_and_empty_values_are_unset() {
        let config = EnvConfig::from_vars([
            ("ETCDCTL_ENDPOINTS", "theirs:1"),
            ("ETCDGW_ENDPOINTS", "ours:1"),
            ("ETCDCTL_DIAL_TIMEOUT", ""),
            ("ETCDGW_COMMAND_TIMEOUT", ""),
            ("ETCDCTL_COMMAND_TIMEOUT", "9s"),
        ])
        .unwrap();
        assert_eq!(config.endpoints(), ["ours:1"]);
        assert_eq!(config.dial_timeout(), Duration::from_secs(2));
        assert_eq!(config.command_timeout(), Duration::from_secs(9));
        let (name, _) = setting_error(EnvConfig::from_vars([
            ("ETCDCTL_DIAL_TIMEOUT", "1s"),
            ("ETCDGW_DIAL_TIMEOUT", "soon"),
        ]));
        assert_eq!(name, "ETCDGW_DIAL_TIMEOUT");
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (name, value, says) in [
            ("ETCDCTL_DIAL_TIMEOUT", "5", "invalid duration \"5\""),
            ("ETCDCTL_COMMAND_TIMEOUT", "-1s", "invalid duration"),
            ("ETCDCTL_KEEPALIVE_TIME", "x", "invalid duration"),
            ("ETCDCTL_KEEPALIVE_TIMEOUT", "1y", "invalid duration"),
            (
                "ETCDCTL_INSECURE_TRANSPORT",
                "yes",
                "expected true or false",
            ),
            (
                "ETCDCTL_INSECURE_SKIP_TLS_VERIFY",
                "2",
                "expected true or false",
            ),
            ("ETCDCTL_MAX_RECV_BYTES", "-1", "a number of bytes"),
            ("ETCDCTL_ENDPOINTS", " , ", "names no endpoint"),
            ("ETCDCTL_DISCOVERY_SRV", "example.com", "DNS discovery"),
            ("ETCDGW_DISCOVERY_SRV_NAME", "x", "DNS discovery"),
        ] {
            let (named, reason) = setting_error(EnvConfig::from_vars([(name, value)]));
            assert_eq!(named, name);
            assert!(reason.contains(says), "{name}: {reason}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_value_that_is_not_utf8_is_refused_except_for_paths() {
        use std::os::unix::ffi::OsStrExt;
        let bad = OsStr::from_bytes(b"\xff5s");
        let (name, reason) = setting_error(EnvConfig::from_vars([(
            OsStr::new("ETCDCTL_COMMAND_TIMEOUT"),
            bad,
        )]));
        assert_eq!(
            (name.as_str(), reason.as_str()),
            ("ETCDCTL_COMMAND_TIMEOUT", "is not UTF-8")
        );
        let path =
            EnvConfig::from_vars([(OsStr::new("ETCDCTL_CACERT"), OsStr::from_bytes(b"/\xff"))])
                .unwrap();
        assert_eq!(path.cacert().unwrap().as_os_str().as_bytes(), b"/\xff");
    }

    #[test]
    fn users_and_passwords_pair_as_in_etcdctl_and_stay_hidden() {
        let split = EnvConfig::from_vars([("ETCDCTL_USER", "root:s3cret:x")]).unwrap();
        assert_eq!(split.user(), Some("root"));
        assert_eq!(
            split.credentials().unwrap(),
            Some(("root".into(), "s3cret:x".into()))
        );
        let separate =
            EnvConfig::from_vars([("ETCDCTL_USER", "we:ird"), ("ETCDCTL_PASSWORD", "s3cret")])
                .unwrap();
        assert_eq!(separate.user(), Some("we:ird"));
        assert_eq!(
            separate.credentials().unwrap(),
            Some(("we:ird".into(), "s3cret".into()))
        );
        for config in [split, separate] {
            let shown = format!("{config:?} {:?}", config.connect_options().unwrap());
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
        }
        let err = EnvConfig::from_vars([("ETCDCTL_USER", "alice")])
            .unwrap()
            .connect_options()
            .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidSetting { name, reason } if &**name == "ETCDCTL_USER" && reason.contains("--password")),
            "{err}"
        );
        // A password in an invalid variable is never quoted.
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let err = EnvConfig::from_vars([(
                OsStr::new("ETCDCTL_PASSWORD"),
                OsStr::from_bytes(b"s3cret\xff"),
            )])
            .unwrap_err();
            assert!(!format!("{err} {err:?}").contains("s3cret"));
        }
    }

    #[test]
    fn setters_are_named_as_flags_in_errors() {
        let err = EnvConfig::new()
            .with_user("bob")
            .connect_options()
            .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidSetting { name, .. } if &**name == "--user"),
            "{err}"
        );
        let err = EnvConfig::new()
            .with_flag_prefix("dest-")
            .with_cacert("/nonexistent/ca.pem")
            .connect_options()
            .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidSetting { name, reason } if &**name == "--dest-cacert" && reason.contains("/nonexistent/ca.pem")),
            "{err}"
        );
    }

    #[cfg(feature = "tls")]
    #[test]
    fn tls_files_are_read_and_checked_in_pairs() {
        let dir = std::env::temp_dir().join(format!("etcdgw-env-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("some.pem");
        std::fs::write(&file, b"-----BEGIN CERTIFICATE-----\n").unwrap();
        let file = file.to_str().unwrap();
        let (name, reason) = setting_error(
            EnvConfig::from_vars([("ETCDCTL_CERT", file)])
                .unwrap()
                .connect_options()
                .map(|_| EnvConfig::new()),
        );
        assert_eq!(name, "ETCDCTL_CERT");
        assert!(reason.contains("needs its key"), "{reason}");
        let (name, reason) = setting_error(
            EnvConfig::from_vars([("ETCDCTL_CACERT", "/nonexistent/ca.pem")])
                .unwrap()
                .connect_options()
                .map(|_| EnvConfig::new()),
        );
        assert_eq!(name, "ETCDCTL_CACERT");
        assert!(
            reason.starts_with("cannot read /nonexistent/ca.pem"),
            "{reason}"
        );
        let both = EnvConfig::from_vars([
            ("ETCDCTL_CACERT", file),
            ("ETCDCTL_CERT", file),
            ("ETCDCTL_KEY", file),
        ])
        .unwrap()
        .connect_options();
        assert!(both.is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn timeouts_and_keepalives_reach_the_options() {
        let options = EnvConfig::from_vars([
            ("ETCDCTL_KEEPALIVE_TIMEOUT", "9s"),
            ("ETCDCTL_COMMAND_TIMEOUT", "7s"),
        ])
        .unwrap()
        .connect_options()
        .unwrap();
        let shown = format!("{options:?}");
        assert!(shown.contains("timeout: 7s"), "{shown}");
        assert!(shown.contains("connect_timeout: 2s"), "{shown}");
        assert!(shown.contains("keep_alive: Some((2s, 9s))"), "{shown}");
    }
}
