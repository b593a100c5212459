//! The verbs: each a few calls to the library and a printer.

mod auth;
mod cluster;
mod concurrency;
pub(crate) mod kv;
mod lease;
mod maintenance;
mod watch;

use etcdgw::{Client, ConnectOptions};

use crate::args::{Cli, Command, GlobalArgs};
use crate::connect;
use crate::error::{CliError, CliResult};
use crate::output::{Format, Printer};

/// What every command gets: the global flags and the printer they chose.
pub(crate) struct Ctx {
    pub(crate) global: GlobalArgs,
    pub(crate) printer: Printer,
}

impl Ctx {
    /// The connection options (asks for the password now, if it must).
    pub(crate) fn options(&self) -> CliResult<ConnectOptions> {
        connect::options(&self.global)
    }

    /// A client of `--endpoints`.
    pub(crate) async fn client(&self) -> CliResult<Client> {
        connect::client_of(&self.global.endpoints, self.options()?).await
    }

    /// The endpoints to visit one by one: `--endpoints`, or with `--cluster` the client URLs
    /// of every member.
    pub(crate) async fn endpoints(&self, cluster: bool) -> CliResult<Vec<String>> {
        if !cluster {
            return Ok(self
                .global
                .endpoints
                .iter()
                .map(|e| e.trim().to_string())
                .collect());
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
    let format = Format::parse(&cli.global.write_out)?;
    let ctx = Ctx {
        printer: Printer::new(format, cli.global.hex),
        global: cli.global,
    };
    match cli.command {
        Command::Get(args) => kv::get(&ctx, args).await,
        Command::Put(args) => kv::put(&ctx, args).await,
        Command::Del(args) => kv::del(&ctx, args).await,
        Command::Txn(args) => kv::txn(&ctx, args).await,
        Command::Compaction(args) => kv::compaction(&ctx, args).await,
        Command::Watch(args) => watch::watch(&ctx, args).await,
        Command::Lease(cmd) => lease::run(&ctx, cmd).await,
        Command::Lock(args) => concurrency::lock(&ctx, args).await,
        Command::Elect(args) => concurrency::elect(&ctx, args).await,
        Command::Member(cmd) => cluster::member(&ctx, cmd).await,
        Command::Endpoint(args) => cluster::endpoint(&ctx, args).await,
        Command::Snapshot(cmd) => maintenance::snapshot(&ctx, cmd).await,
        Command::Defrag(args) => maintenance::defrag(&ctx, args).await,
        Command::Auth(cmd) => auth::auth(&ctx, cmd).await,
        Command::User(cmd) => auth::user(&ctx, cmd).await,
        Command::Role(cmd) => auth::role(&ctx, cmd).await,
        Command::Version => Ok(()),
    }
}

/// Go's `strconv.ParseInt`, with its error text, which etcdctl puts in its messages.
pub(crate) fn parse_int(text: &str, radix: u32) -> Result<i64, String> {
    i64::from_str_radix(text, radix).map_err(|e| {
        let why = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                "value out of range"
            }
            _ => "invalid syntax",
        };
        format!("strconv.ParseInt: parsing {text:?}: {why}")
    })
}

/// Hexadecimal lease ID arguments, as etcdctl takes them (`what` is etcdctl's name for the
/// argument in its message).
pub(crate) fn parse_lease_id(text: &str, what: &str) -> CliResult<i64> {
    parse_int(text, 16)
        .map_err(|e| CliError::bad_args(format!("bad {what} ({e}), expecting ID in Hex")))
}
