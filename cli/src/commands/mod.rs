//! The verbs: each a few calls to the library and a printer.

mod alarm;
mod auth;
mod check;
mod cluster;
mod concurrency;
mod docs;
mod kv;
mod lease;
mod maintenance;
mod mirror;
mod watch;

use etcdgw::{Client, ConnectOptions};

use crate::args::{Cli, Command, GlobalArgs};
use crate::connect;
use crate::error::{CliError, CliResult};
use crate::output::{Format, Printer};

/// What every command gets: the global flags, the endpoints they name and the printer they
/// chose.
pub(crate) struct Ctx {
    pub(crate) global: GlobalArgs,
    /// `--endpoints`, or those `--discovery-srv` found.
    pub(crate) endpoints: Vec<String>,
    pub(crate) printer: Printer,
}

impl Ctx {
    /// The connection options (asks for the password now, if it must).
    pub(crate) fn options(&self) -> CliResult<ConnectOptions> {
        connect::options(&self.global, &self.endpoints)
    }

    /// A client of the endpoints.
    pub(crate) async fn client(&self) -> CliResult<Client> {
        connect::client_of(&self.endpoints, self.options()?).await
    }

    /// The endpoints to visit one by one: the given ones, or with `--cluster` the client URLs
    /// of every member.
    pub(crate) async fn endpoints(&self, cluster: bool) -> CliResult<Vec<String>> {
        if !cluster {
            return Ok(self.endpoints.clone());
        }
        let client = self.client().await?;
        let members = client.member_list().await.map_err(|e| {
            CliError::wrap(
                &e,
                "failed to fetch endpoints from etcd cluster member list",
            )
            .with_code(crate::error::exit::ERROR)
        })?;
        Ok(members
            .members()
            .iter()
            .flat_map(|m| m.client_urls().iter().cloned())
            .collect())
    }
}

/// Runs the command the command line names.
pub(crate) async fn run(cli: Cli) -> CliResult {
    if let Command::Version = cli.command {
        return crate::output::emit(
            format!(
                "etcdgw version: {}\nAPI version: 3.5\n",
                env!("CARGO_PKG_VERSION")
            )
            .as_bytes(),
        );
    }
    match cli.command {
        Command::Completion { shell } => return docs::completion(shell),
        Command::Man { dir } => return docs::man(dir.as_deref()),
        _ => {}
    }
    let format = Format::parse(&cli.global.write_out)?;
    if cli.global.debug {
        crate::output::warn_bytes(connect::debug_flags(&cli.global).as_bytes());
        debug_logging();
    }
    if cli.global.insecure_skip_tls_verify {
        crate::output::warn(
            "WARNING: --insecure-skip-tls-verify: server certificates are not checked; anyone on the path can pose as the server",
        );
    }
    let endpoints = connect::endpoints(&cli.global).await?;
    let ctx = Ctx {
        printer: Printer::new(format, cli.global.hex),
        global: cli.global,
        endpoints,
    };
    match cli.command {
        Command::Get(args) => kv::get(&ctx, args).await,
        Command::Put(args) => kv::put(&ctx, args).await,
        Command::Del(args) => kv::del(&ctx, args).await,
        Command::Txn(args) => kv::txn(&ctx, args).await,
        Command::Compaction(args) => kv::compaction(&ctx, args).await,
        Command::Watch(args) => watch::watch(&ctx, args).await,
        Command::MakeMirror(args) => mirror::make_mirror(&ctx, args).await,
        Command::Lease(cmd) => lease::run(&ctx, cmd).await,
        Command::Lock(args) => concurrency::lock(&ctx, args).await,
        Command::Elect(args) => concurrency::elect(&ctx, args).await,
        Command::Member(cmd) => cluster::member(&ctx, cmd).await,
        Command::Alarm(cmd) => alarm::alarm(&ctx, cmd).await,
        Command::MoveLeader { args } => cluster::move_leader(&ctx, &args).await,
        Command::Downgrade(cmd) => cluster::downgrade(&ctx, cmd).await,
        Command::Check(cmd) => check::check(&ctx, cmd).await,
        Command::Endpoint(args) => cluster::endpoint(&ctx, args).await,
        Command::Snapshot(cmd) => maintenance::snapshot(&ctx, cmd).await,
        Command::Defrag(args) => maintenance::defrag(&ctx, args).await,
        Command::Auth(cmd) => auth::auth(&ctx, cmd).await,
        Command::User(cmd) => auth::user(&ctx, cmd).await,
        Command::Role(cmd) => auth::role(&ctx, cmd).await,
        Command::Version | Command::Completion { .. } | Command::Man { .. } => Ok(()),
    }
}

/// `--debug`: the library's events (requests, retries, failovers, watch resumes; never keys,
/// values or secrets) on stderr.
fn debug_logging() {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(false),
        )
        .with(Targets::new().with_target("etcdgw", LevelFilter::TRACE))
        .try_init();
}

/// Resolves on SIGINT or SIGTERM. Once called, these signals no longer end the process.
pub(crate) async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
