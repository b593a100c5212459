//! The client the global flags describe: endpoints (given, or discovered through DNS SRV
//! records), deadlines, TLS, user and password (asked on the terminal, without echo, when
//! `--user` has none, as etcdctl does).

use etcdgw::{Client, ConnectOptions};

use crate::args::GlobalArgs;
use crate::error::{exit, CliError, CliResult};

/// Which flags describe a connection: the global ones (the cluster every command talks to) or
/// make-mirror's `--dest-*` ones (its destination), for the password prompt and the messages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Flags {
    /// What the password prompt says.
    prompt: &'static str,
    /// What the TLS flags' names start with after `--`.
    prefix: &'static str,
}

impl Flags {
    /// The global flags: `--user`, `--cacert`, ...
    pub(crate) const GLOBAL: Flags = Flags {
        prompt: "Password: ",
        prefix: "",
    };
    /// make-mirror's destination: `--dest-user`, `--dest-cacert`, ... (etcdctl's prompt).
    pub(crate) const DESTINATION: Flags = Flags {
        prompt: "Destination Password: ",
        prefix: "dest-",
    };
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

/// The connection options of every client of this command, for these endpoints.
pub(crate) fn options(global: &GlobalArgs, endpoints: &[String]) -> CliResult<ConnectOptions> {
    options_of(global, endpoints, Flags::GLOBAL)
}

/// The connection options `global` describes, for these endpoints, with `flags` naming the
/// flags (make-mirror passes its destination's flags in a copy of the global ones).
///
/// The library builds them from `global.config` (`etcdgw::env::EnvConfig`: timeouts,
/// keep-alives, receive limit, TLS files and flags, user), as it does for a program's
/// `Client::from_env`; here come what only a command line does: the flags' own checks, named
/// as etcdctl names them, the endpoints (perhaps discovered), the domain a secure SRV
/// discovery checks certificates against, and the password prompt.
pub(crate) fn options_of(
    global: &GlobalArgs,
    endpoints: &[String],
    flags: Flags,
) -> CliResult<ConnectOptions> {
    let prefix = flags.prefix;
    for (flag, path) in [
        ("cacert", &global.cacert),
        ("cert", &global.cert),
        ("key", &global.key),
    ] {
        if path.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
            return Err(CliError::bad_args(format!(
                "empty string is passed to --{prefix}{flag} option"
            )));
        }
    }
    if global.cert.is_some() != global.key.is_some() {
        return Err(CliError::bad_args(format!(
            "--{prefix}cert and --{prefix}key must be given together"
        )));
    }
    #[cfg(not(feature = "tls"))]
    if global.cacert.is_some()
        || global.cert.is_some()
        || global.key.is_some()
        || global.insecure_skip_tls_verify
        || !global.insecure_transport
    {
        return Err(CliError::bad_feature(
            "TLS needs etcdgw built with the `tls` feature",
        ));
    }
    let mut config = global.config.clone().with_endpoints(endpoints);
    if let Some(domain) = global
        .discovery_srv
        .as_deref()
        .filter(|d| !d.is_empty() && !global.insecure_discovery)
    {
        // As etcdctl: the servers' certificates must name the domain the records came from.
        config = config.with_tls_domain_name(domain);
    }
    if config.user().is_some() && !config.has_password() {
        config = config.with_password(ask_password(flags.prompt)?);
    }
    // --header wins over ETCDGW_HEADERS (which the library's EnvConfig read), as every flag
    // over its variable.
    if !global.headers.is_empty() {
        config = config.with_headers(flag_headers(global)?);
    }
    let options = config.connect_options().map_err(CliError::from)?;
    let mode = match global.stream_mode.as_str() {
        "stream" => etcdgw::StreamMode::Stream,
        "long-poll" => etcdgw::StreamMode::LongPoll,
        _ => etcdgw::StreamMode::Auto,
    };
    Ok(options
        .with_stream_mode(mode)
        .with_long_poll_interval(global.long_poll_interval))
}

/// The headers of `--header` (each 'Name: value'). A malformed one is refused by its
/// position, never by its value, which may be a secret.
fn flag_headers(global: &GlobalArgs) -> CliResult<Vec<(String, String)>> {
    global
        .headers
        .iter()
        .enumerate()
        .map(|(i, header)| match header.split_once(':') {
            Some((name, value)) if !name.trim().is_empty() => {
                Ok((name.trim().to_string(), value.trim().to_string()))
            }
            _ => Err(CliError::bad_args(format!(
                "--header number {}: expected 'Name: value' (the value is not shown)",
                i + 1
            ))),
        })
        .collect()
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

/// The endpoints to use: those the SRV records of `--discovery-srv` name (etcdctl's
/// `_etcd-client-ssl._tcp.<domain>` as https and `_etcd-client._tcp.<domain>` as http, with
/// `--discovery-srv-name` appended to the service), or `--endpoints` when there is no domain or
/// the records name none. Without `--insecure-discovery`, http:// ones are dropped.
pub(crate) async fn endpoints(global: &GlobalArgs) -> CliResult<Vec<String>> {
    let given = || -> Vec<String> {
        global
            .endpoints
            .iter()
            .map(|e| e.trim().to_string())
            .collect()
    };
    let Some(domain) = global.discovery_srv.as_deref().filter(|d| !d.is_empty()) else {
        return Ok(given());
    };
    let service_name = global.discovery_srv_name.as_deref().unwrap_or_default();
    let found = crate::srv::client_endpoints(domain, service_name, global.dial_timeout)
        .await
        .map_err(|e| CliError::new(exit::ERROR, e))?;
    let mut endpoints = Vec::with_capacity(found.len());
    for endpoint in found {
        if !global.insecure_discovery && endpoint.starts_with("http://") {
            crate::output::warn(&format!(
                "ignoring discovered insecure endpoint {endpoint:?}"
            ));
            continue;
        }
        endpoints.push(endpoint);
    }
    if endpoints.is_empty() {
        return Ok(given());
    }
    Ok(endpoints)
}

/// What `--debug` prints first: every global flag as the `ETCDCTL_*` variable that sets it,
/// as etcdctl does, passwords hidden.
pub(crate) fn debug_flags(global: &GlobalArgs) -> String {
    let duration = |d: std::time::Duration| crate::output::gofmt::duration(d);
    let opt = |v: &Option<std::path::PathBuf>| {
        v.as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    };
    let config = &global.config;
    let user = match config.user() {
        Some(name) if config.has_password() => format!("{name}:<hidden>"),
        Some(name) => name.to_string(),
        None => String::new(),
    };
    let password = if config.has_password() {
        "<hidden>"
    } else {
        ""
    };
    let lines = [
        ("CACERT", opt(&global.cacert)),
        ("CERT", opt(&global.cert)),
        ("COMMAND_TIMEOUT", duration(global.command_timeout)),
        ("DEBUG", global.debug.to_string()),
        ("DIAL_TIMEOUT", duration(global.dial_timeout)),
        (
            "DISCOVERY_SRV",
            global.discovery_srv.clone().unwrap_or_default(),
        ),
        (
            "DISCOVERY_SRV_NAME",
            global.discovery_srv_name.clone().unwrap_or_default(),
        ),
        ("ENDPOINTS", format!("[{}]", global.endpoints.join(","))),
        ("HEX", global.hex.to_string()),
        ("INSECURE_DISCOVERY", global.insecure_discovery.to_string()),
        (
            "INSECURE_SKIP_TLS_VERIFY",
            global.insecure_skip_tls_verify.to_string(),
        ),
        ("INSECURE_TRANSPORT", global.insecure_transport.to_string()),
        (
            "KEEPALIVE_TIME",
            duration(
                global
                    .keepalive_time
                    .unwrap_or(std::time::Duration::from_secs(2)),
            ),
        ),
        (
            "KEEPALIVE_TIMEOUT",
            duration(
                global
                    .keepalive_timeout
                    .unwrap_or(std::time::Duration::from_secs(6)),
            ),
        ),
        ("KEY", opt(&global.key)),
        ("MAX_RECV_BYTES", global.max_recv_bytes.to_string()),
        ("PASSWORD", password.to_string()),
        ("USER", user),
        ("WRITE_OUT", global.write_out.clone()),
    ];
    let mut out: String = lines
        .iter()
        .map(|(name, value)| format!("ETCDCTL_{name}={value}\n"))
        .collect();
    // etcdgw's own: the headers by name only (their values may be secrets), the stream mode.
    let names: Vec<String> = if global.headers.is_empty() {
        global.config.header_names().map(str::to_string).collect()
    } else {
        flag_headers(global)
            .unwrap_or_default()
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    };
    for name in names {
        out.push_str(&format!("ETCDGW_HEADER={name}: <hidden>\n"));
    }
    out.push_str(&format!("ETCDGW_STREAM_MODE={}\n", global.stream_mode));
    out
}
