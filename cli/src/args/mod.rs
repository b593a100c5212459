//! The command line: etcdctl's verbs and flags, as clap derives.
//!
//! Positional arguments are taken as lists and checked by the commands themselves, so that a
//! missing or extra argument is reported with etcdctl's message and exit code (128), while
//! what clap itself refuses (an unknown flag, a value that is not a number) exits with 1, as
//! etcdctl's flag parser does.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand};
use etcdgw::env::EnvConfig;

mod commands;

pub(crate) use commands::*;

const EXIT_CODES: &str = "\
Exit codes (as etcdctl's):
  0    success (a get that finds nothing succeeds and prints nothing)
  1    etcd refused the request, or it failed (Error: <etcd's message> on stderr);
       also what the flag parser refuses (unknown flag or command, a value that is not a number)
  2    no member could be reached or none answered in time; the user or password was refused
  3    unreadable input (txn or watch -i on stdin; a check's prefix already holds keys)
  4    a feature or output format the command does not support (-w table on get, say)
  5    a watch ended by the server; a snapshot that could not be saved
  6    a local file could not be read or written
  128  wrong arguments (missing, extra or conflicting)

Environment: every global flag can also be set as ETCDGW_<FLAG> (ETCDGW_ENDPOINTS,
ETCDGW_USER, ETCDGW_PASSWORD, ETCDGW_COMMAND_TIMEOUT, ETCDGW_WRITE_OUT, ...) or, as etcdctl
reads them, ETCDCTL_<FLAG> (ETCDCTL_ENDPOINTS, ETCDCTL_CACERT, ...); a flag on the command
line wins, then ETCDGW_*, then ETCDCTL_*. `watch` also reads ETCDCTL_WATCH_KEY and
ETCDCTL_WATCH_RANGE_END. ETCDGW_HEADERS holds headers for every request, one 'Name: value'
per line (as --header, which wins).";

/// The environment variables etcdctl reads that are not global flags.
const ETCDCTL_OTHER_VARS: [&str; 3] = [
    "ETCDCTL_API",
    "ETCDCTL_WATCH_KEY",
    "ETCDCTL_WATCH_RANGE_END",
];

/// The command line with each global flag's environment variable chosen: `ETCDGW_<FLAG>` when
/// it is set, else etcdctl's `ETCDCTL_<FLAG>` when that one is. Warns about `ETCDCTL_*`
/// variables etcdctl would not recognize either (by name only: values may be secrets).
pub(crate) fn command() -> clap::Command {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    let mut known: Vec<String> = ETCDCTL_OTHER_VARS
        .iter()
        .chain(etcdgw::env::VARIABLES.iter())
        .map(|v| v.to_string())
        .collect();
    let globals: Vec<(clap::Id, String)> = cmd
        .get_arguments()
        .filter_map(|a| {
            let env = a.get_env()?.to_str()?;
            let flag = env.strip_prefix("ETCDGW_")?;
            Some((a.get_id().clone(), flag.to_string()))
        })
        .collect();
    for (id, flag) in globals {
        let ours = format!("ETCDGW_{flag}");
        let theirs = format!("ETCDCTL_{flag}");
        if std::env::var_os(&ours).is_none() && std::env::var_os(&theirs).is_some() {
            let name = theirs.clone();
            cmd = cmd.mut_arg(id, |a| a.env(name));
        }
        known.push(theirs);
    }
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        if name.starts_with("ETCDCTL_") && !known.iter().any(|k| k == name) {
            crate::output::warn(&format!("etcdgw: unrecognized environment variable {name}"));
        }
    }
    cmd
}

/// etcdctl over etcd's JSON/HTTP gateway: the same commands, flags and output, without gRPC.
#[derive(Parser)]
#[command(
    name = "etcdgw",
    version,
    about = "etcdctl over etcd's JSON/HTTP gateway: the same commands, flags and output, without gRPC",
    after_help = EXIT_CODES,
    subcommand_required = true,
    arg_required_else_help = true
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Flags every command takes.
#[derive(Args, Clone)]
pub(crate) struct GlobalArgs {
    /// Endpoints, comma separated (host:port, http://host:port or https://host:port)
    #[arg(
        long,
        global = true,
        value_delimiter = ',',
        default_value = "127.0.0.1:2379"
    )]
    pub(crate) endpoints: Vec<String>,

    /// username[:password] for authentication (prompt if password is not supplied)
    #[arg(long, global = true, value_name = "USER[:PASSWORD]")]
    pub(crate) user: Option<String>,

    /// Password for authentication (if given, --user must not include one)
    #[arg(long, global = true)]
    pub(crate) password: Option<String>,

    /// Verify certificates of TLS-enabled secure servers using this CA bundle
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) cacert: Option<PathBuf>,

    /// Identify secure client using this TLS certificate file
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) cert: Option<PathBuf>,

    /// Identify secure client using this TLS key file
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) key: Option<PathBuf>,

    /// Skip server certificate verification (CAUTION: this option should be enabled only for
    /// testing purposes; anyone on the path can pose as the server)
    #[arg(long, global = true)]
    pub(crate) insecure_skip_tls_verify: bool,

    /// Disable transport security for client connections (with =false, endpoints without a
    /// scheme use https)
    #[arg(long, global = true, default_value_t = true,
          num_args = 0..=1, require_equals = true, default_missing_value = "true",
          action = ArgAction::Set, value_name = "BOOL")]
    pub(crate) insecure_transport: bool,

    /// Accept insecure SRV records describing cluster endpoints (with =false, http:// ones are
    /// ignored and certificates are checked against the --discovery-srv domain)
    #[arg(long, global = true, env = "ETCDGW_INSECURE_DISCOVERY", default_value_t = true,
          num_args = 0..=1, require_equals = true, default_missing_value = "true",
          action = ArgAction::Set, value_name = "BOOL")]
    pub(crate) insecure_discovery: bool,

    /// Domain name to query for SRV records describing cluster endpoints
    /// (_etcd-client-ssl._tcp.<domain> and _etcd-client._tcp.<domain>)
    #[arg(
        short = 'd',
        long,
        global = true,
        env = "ETCDGW_DISCOVERY_SRV",
        value_name = "DOMAIN"
    )]
    pub(crate) discovery_srv: Option<String>,

    /// Service name to query when using DNS discovery (_etcd-client-<name>._tcp.<domain>)
    #[arg(
        long,
        global = true,
        env = "ETCDGW_DISCOVERY_SRV_NAME",
        value_name = "NAME"
    )]
    pub(crate) discovery_srv_name: Option<String>,

    /// Enable client-side debug logging (the flags in use, then the client's retries,
    /// failovers and endpoint health changes, on stderr)
    #[arg(long, global = true, env = "ETCDGW_DEBUG")]
    pub(crate) debug: bool,

    /// Client-side response receive limit in bytes (0: the library's default)
    #[arg(long, global = true, default_value_t = 0, value_name = "BYTES")]
    pub(crate) max_recv_bytes: usize,

    /// Dial timeout for client connections
    #[arg(long, global = true, default_value = "2s", value_parser = duration)]
    pub(crate) dial_timeout: Duration,

    /// Timeout for short running command (excluding dial timeout)
    #[arg(long, global = true, default_value = "5s", value_parser = duration)]
    pub(crate) command_timeout: Duration,

    /// Keepalive time for client connections: how long a request or watch may go unanswered
    /// before its member is checked [default: 2s, when either keepalive flag is given]
    #[arg(long, global = true, value_parser = duration, value_name = "DURATION")]
    pub(crate) keepalive_time: Option<Duration>,

    /// Keepalive timeout for client connections: how long that check waits for the member
    /// [default: 6s, when either keepalive flag is given]
    #[arg(long, global = true, value_parser = duration, value_name = "DURATION")]
    pub(crate) keepalive_timeout: Option<Duration>,

    /// A header to send with every request, as 'Name: value' (repeatable): an API key or a
    /// token a proxy in front of etcd wants. Values are never printed. Without the flag,
    /// ETCDGW_HEADERS is read: one 'Name: value' per line (etcdctl has no such setting)
    #[arg(long = "header", global = true, value_name = "NAME: VALUE")]
    pub(crate) headers: Vec<String>,

    /// How watches and elect -l are carried: auto (streamed, or long polls through a proxy that
    /// buffers responses), stream, or long-poll
    #[arg(long, global = true, env = "ETCDGW_STREAM_MODE", default_value = "auto", value_parser = ["auto", "stream", "long-poll"])]
    pub(crate) stream_mode: String,

    /// How long each long poll lasts (an event through a buffering proxy waits about this
    /// long)
    #[arg(long, global = true, env = "ETCDGW_LONG_POLL_INTERVAL", default_value = "1s", value_parser = duration, value_name = "DURATION")]
    pub(crate) long_poll_interval: Duration,

    /// Print byte strings as hex encoded strings
    #[arg(long, global = true, env = "ETCDGW_HEX")]
    pub(crate) hex: bool,

    /// Set the output format (simple, json, fields, table)
    #[arg(
        short = 'w',
        long,
        global = true,
        env = "ETCDGW_WRITE_OUT",
        default_value = "simple",
        value_name = "FORMAT"
    )]
    pub(crate) write_out: String,

    /// The connection settings the library reads (`etcdgw::env`): the flags above where given,
    /// else their `ETCDGW_*` / `ETCDCTL_*` variables, else etcdctl's defaults; filled by
    /// [`resolve_environment`], the only reader of those variables.
    #[arg(skip)]
    pub(crate) config: EnvConfig,
}

/// The global flags whose variables the library reads (`etcdgw::env::VARIABLES`), by clap id:
/// the variable is `ETCDCTL_<ID in upper case>`.
const LIBRARY_FLAGS: [&str; 13] = [
    "endpoints",
    "user",
    "password",
    "cacert",
    "cert",
    "key",
    "insecure_transport",
    "insecure_skip_tls_verify",
    "dial_timeout",
    "command_timeout",
    "keepalive_time",
    "keepalive_timeout",
    "max_recv_bytes",
];

/// A Go duration, as etcdctl's flags take them (the library's parser).
fn duration(text: &str) -> Result<Duration, String> {
    etcdgw::env::parse_duration(text).map_err(|e| match e {
        etcdgw::Error::InvalidArgument { reason, .. } => reason,
        other => other.to_string(),
    })
}

/// Reads the connection settings of the environment through the library, as etcdctl does: a
/// flag given on the command line wins (its variables are not even read), then `ETCDGW_*`,
/// then `ETCDCTL_*`, then etcdctl's defaults. The result is `global.config`, and the flags'
/// fields hold the values in use.
///
/// # Errors
/// The library's [`etcdgw::Error::InvalidSetting`] naming a variable that cannot be used.
pub(crate) fn resolve_environment(
    matches: &clap::ArgMatches,
    global: &mut GlobalArgs,
) -> Result<(), etcdgw::Error> {
    let given = |id: &str| matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine);
    let mut skipped: Vec<String> = LIBRARY_FLAGS
        .iter()
        .filter(|id| given(id))
        .flat_map(|id| {
            let name = id.to_ascii_uppercase();
            [format!("ETCDGW_{name}"), format!("ETCDCTL_{name}")]
        })
        .collect();
    // DNS discovery is ours (the library refuses its variables); clap reads them.
    for name in ["DISCOVERY_SRV", "DISCOVERY_SRV_NAME"] {
        skipped.push(format!("ETCDGW_{name}"));
        skipped.push(format!("ETCDCTL_{name}"));
    }
    let vars = std::env::vars_os().filter(|(name, _)| {
        name.to_str()
            .is_none_or(|n| !skipped.iter().any(|s| s == n))
    });
    let mut config = EnvConfig::from_vars(vars)?;
    if given("endpoints") {
        config = config.with_endpoints(&global.endpoints);
    } else {
        global.endpoints = config.endpoints().to_vec();
    }
    if let Some(user) = global.user.as_ref().filter(|_| given("user")) {
        config = config.with_user(user);
    }
    if let Some(password) = global.password.as_ref().filter(|_| given("password")) {
        config = config.with_password(password);
    }
    match global.cacert.clone().filter(|_| given("cacert")) {
        Some(path) => config = config.with_cacert(path),
        None => global.cacert = config.cacert().map(PathBuf::from),
    }
    match global.cert.clone().filter(|_| given("cert")) {
        Some(path) => config = config.with_cert(path),
        None => global.cert = config.cert().map(PathBuf::from),
    }
    match global.key.clone().filter(|_| given("key")) {
        Some(path) => config = config.with_key(path),
        None => global.key = config.key().map(PathBuf::from),
    }
    if given("insecure_transport") {
        config = config.with_insecure_transport(global.insecure_transport);
    } else {
        global.insecure_transport = config.insecure_transport();
    }
    if given("insecure_skip_tls_verify") {
        config = config.with_insecure_skip_tls_verify(global.insecure_skip_tls_verify);
    } else {
        global.insecure_skip_tls_verify = config.insecure_skip_tls_verify();
    }
    if given("dial_timeout") {
        config = config.with_dial_timeout(global.dial_timeout);
    } else {
        global.dial_timeout = config.dial_timeout();
    }
    if given("command_timeout") {
        config = config.with_command_timeout(global.command_timeout);
    } else {
        global.command_timeout = config.command_timeout();
    }
    match global.keepalive_time.filter(|_| given("keepalive_time")) {
        Some(time) => config = config.with_keepalive_time(time),
        None => global.keepalive_time = config.keepalive_time(),
    }
    match global
        .keepalive_timeout
        .filter(|_| given("keepalive_timeout"))
    {
        Some(timeout) => config = config.with_keepalive_timeout(timeout),
        None => global.keepalive_timeout = config.keepalive_timeout(),
    }
    if given("max_recv_bytes") {
        config = config.with_max_recv_bytes(global.max_recv_bytes);
    } else {
        global.max_recv_bytes = config.max_recv_bytes();
    }
    global.config = config;
    Ok(())
}

/// The verbs.
#[derive(Subcommand)]
pub(crate) enum Command {
    /// Gets the key or a range of keys
    Get(GetArgs),
    /// Puts the given key into the store (the value may come from stdin)
    Put(PutArgs),
    /// Removes the specified key or range of keys [key, range_end)
    Del(DelArgs),
    /// Txn processes all the requests in one transaction (read from stdin)
    Txn(TxnArgs),
    /// Watches events stream on keys or prefixes (until interrupted)
    Watch(WatchArgs),
    /// Compacts the event history in etcd
    Compaction(CompactionArgs),
    /// Makes a mirror at the destination etcd cluster (the global flags name the source; runs
    /// until interrupted or an error)
    MakeMirror(MakeMirrorArgs),
    /// Lease related commands
    #[command(subcommand)]
    Lease(LeaseCommand),
    /// Acquires a named lock (held until interrupted, or while a command runs)
    Lock(LockArgs),
    /// Observes and participates in leader election
    Elect(ElectArgs),
    /// Membership related commands
    #[command(subcommand)]
    Member(MemberCommand),
    /// Alarm related commands
    #[command(subcommand)]
    Alarm(AlarmCommand),
    /// Transfers leadership to another etcd cluster member
    MoveLeader {
        /// <transferee-member-id> in hexadecimal
        #[arg(value_name = "TRANSFEREE_MEMBER_ID")]
        args: Vec<String>,
    },
    /// Endpoint related commands
    Endpoint(EndpointArgs),
    /// Downgrade related commands (etcd 3.6 and later)
    #[command(subcommand)]
    Downgrade(DowngradeCommand),
    /// Commands for checking properties of the etcd cluster
    #[command(subcommand)]
    Check(CheckCommand),
    /// Prints a shell completion script (bash, zsh, fish, powershell, elvish)
    Completion {
        /// The shell
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Prints the man page (roff), or writes one page per command into a directory
    Man {
        /// Write etcdgw.1 and etcdgw-<command>.1 pages into this directory
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Manages etcd node snapshots
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
    /// Defragments the storage of the etcd members with given endpoints
    Defrag(DefragArgs),
    /// Enable or disable authentication
    #[command(subcommand)]
    Auth(AuthCommand),
    /// User related commands
    #[command(subcommand)]
    User(UserCommand),
    /// Role related commands
    #[command(subcommand)]
    Role(RoleCommand),
    /// Prints the version of etcdgw
    Version,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches};

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
        TxnOpLine::command().debug_assert();
    }

    fn resolved(args: &[&str]) -> GlobalArgs {
        let matches = Cli::command().try_get_matches_from(args).unwrap();
        let mut cli = Cli::from_arg_matches(&matches).unwrap();
        resolve_environment(&matches, &mut cli.global).unwrap();
        cli.global
    }

    #[test]
    fn flags_given_after_the_command_are_seen_as_given() {
        let global = resolved(&[
            "etcdgw",
            "get",
            "k",
            "--dial-timeout=750ms",
            "--command-timeout",
            "1m",
            "--endpoints=a:1,b:2",
            "--user=alice:pw",
            "--insecure-transport=false",
        ]);
        assert_eq!(global.dial_timeout, Duration::from_millis(750));
        assert_eq!(global.config.dial_timeout(), Duration::from_millis(750));
        assert_eq!(global.config.command_timeout(), Duration::from_secs(60));
        assert_eq!(global.config.endpoints(), ["a:1", "b:2"]);
        assert_eq!(global.config.user(), Some("alice"));
        assert!(global.config.has_password());
        assert!(!global.config.insecure_transport());
    }

    #[test]
    fn global_flags_go_anywhere() {
        let cli =
            Cli::try_parse_from(["etcdgw", "get", "k", "-w", "json", "--endpoints", "a:1,b:2"])
                .unwrap();
        assert_eq!(cli.global.endpoints, ["a:1", "b:2"]);
        assert_eq!(cli.global.write_out, "json");
    }
}
