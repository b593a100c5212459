//! What an [`EnvConfig`] describes: the credentials etcdctl pairs, and the [`ConnectOptions`]
//! (deadlines, keep-alives, TLS) it builds.

use super::*;

impl EnvConfig {
    /// What errors call a setting: the variable it came from, or its flag.
    pub(super) fn name_of<T>(&self, setting: &Setting<T>, flag: &str) -> String {
        match &setting.origin {
            Origin::Var(name) => name.clone(),
            Origin::Default | Origin::Set => format!("--{}{flag}", self.flag_prefix),
        }
    }

    /// The user name and password, as etcdctl pairs them.
    pub(super) fn credentials(&self) -> Result<Option<(String, String)>> {
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
    /// (the CA and client files read now), the user and the headers. The endpoints are
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
        Ok(options.with_headers(self.headers.iter().cloned()))
    }

    /// Whether every endpoint is explicitly `http://`: then skipping verification alone does
    /// not ask for TLS, as in etcdctl.
    pub(super) fn all_plain(&self) -> bool {
        self.endpoints
            .value
            .iter()
            .all(|e| e.trim().to_ascii_lowercase().starts_with("http://"))
    }

    /// The first TLS setting that asks for TLS, by name, when one does: as clientv3, TLS for
    /// endpoints without a scheme once anything asks for it.
    pub(super) fn tls_asked_by(&self) -> Option<String> {
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

    #[cfg(not(feature = "__tls"))]
    fn tls(&self, options: ConnectOptions) -> Result<ConnectOptions> {
        match self.tls_asked_by() {
            Some(name) => Err(invalid(
                &name,
                "TLS needs one of etcdgw's TLS features (`tls` or `tls-ring`)",
            )),
            None => Ok(options),
        }
    }

    #[cfg(feature = "__tls")]
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
