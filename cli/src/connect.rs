//! The client the global flags describe: endpoints, deadlines, TLS files, user and password
//! (asked on the terminal, without echo, when `--user` has none, as etcdctl does).

use etcdgw::{Client, ConnectOptions};

use crate::args::GlobalArgs;
use crate::error::{exit, CliError, CliResult};

/// `--user` and `--password` as etcdctl reads them: with `--password`, the whole `--user` is
/// the name; without it, `name:password`, or a name alone and the password asked for.
fn credentials(global: &GlobalArgs) -> CliResult<Option<(String, String)>> {
    let Some(user) = global.user.as_deref().filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    if let Some(password) = global.password.as_deref().filter(|p| !p.is_empty()) {
        return Ok(Some((user.to_string(), password.to_string())));
    }
    match user.split_once(':') {
        Some((name, password)) => Ok(Some((name.to_string(), password.to_string()))),
        None => {
            let password = ask_password("Password: ")?;
            Ok(Some((user.to_string(), password)))
        }
    }
}

/// Asks for a password on the terminal without echoing it.
pub(crate) fn ask_password(prompt: &str) -> CliResult<String> {
    rpassword::prompt_password(prompt).map_err(|e| {
        CliError::new(
            exit::ERROR,
            format!("cannot read the password from the terminal: {e}"),
        )
    })
}

/// TLS from `--cacert`, `--cert` and `--key`; `None` when none is given (then `https://`
/// endpoints are checked against the system's roots, and others are plain HTTP).
#[cfg(feature = "tls")]
fn tls(global: &GlobalArgs) -> CliResult<Option<etcdgw::TlsOptions>> {
    use etcdgw::{Certificate, Identity, TlsOptions};

    let read = |flag: &str, path: &std::path::Path| -> CliResult<Vec<u8>> {
        if path.as_os_str().is_empty() {
            return Err(CliError::bad_args(format!(
                "empty string is passed to --{flag} option"
            )));
        }
        std::fs::read(path).map_err(|e| CliError::bad_args(format!("open {}: {e}", path.display())))
    };
    if global.cacert.is_none() && global.cert.is_none() && global.key.is_none() {
        return Ok(None);
    }
    let mut options = TlsOptions::new();
    if let Some(path) = &global.cacert {
        options = options.ca_certificate(Certificate::from_pem(read("cacert", path)?));
    }
    match (&global.cert, &global.key) {
        (Some(cert), Some(key)) => {
            options = options.identity(Identity::from_pem(read("cert", cert)?, read("key", key)?));
        }
        (None, None) => {}
        _ => {
            return Err(CliError::bad_args(
                "--cert and --key must be given together",
            ))
        }
    }
    Ok(Some(options))
}

/// The connection options of every client of this command.
pub(crate) fn options(global: &GlobalArgs) -> CliResult<ConnectOptions> {
    if global.insecure_skip_tls_verify {
        return Err(CliError::bad_feature(
            "--insecure-skip-tls-verify is not supported: give the server's CA with --cacert",
        ));
    }
    let mut options = ConnectOptions::new()
        .with_timeout(global.command_timeout)
        .with_connect_timeout(global.dial_timeout);
    if global.keepalive_time.is_some() || global.keepalive_timeout.is_some() {
        options = options.with_keep_alive(
            global
                .keepalive_time
                .unwrap_or(std::time::Duration::from_secs(3)),
            global
                .keepalive_timeout
                .unwrap_or(std::time::Duration::from_secs(2)),
        );
    }
    #[cfg(feature = "tls")]
    if let Some(tls) = tls(global)? {
        options = options.with_tls(tls);
    }
    #[cfg(not(feature = "tls"))]
    if global.cacert.is_some() || global.cert.is_some() || global.key.is_some() {
        return Err(CliError::bad_feature(
            "TLS needs etcdgw built with the `tls` feature",
        ));
    }
    if let Some((name, password)) = credentials(global)? {
        options = options.with_user(name, password);
    }
    Ok(options)
}

/// A client of these endpoints with these options.
pub(crate) async fn client_of(endpoints: &[String], options: ConnectOptions) -> CliResult<Client> {
    let endpoints: Vec<&str> = endpoints
        .iter()
        .map(|e| e.trim())
        .filter(|e| !e.is_empty())
        .collect();
    if endpoints.is_empty() {
        return Err(CliError::bad_args("no endpoints given (--endpoints)"));
    }
    Client::connect(&endpoints, Some(options))
        .await
        .map_err(CliError::from)
}
