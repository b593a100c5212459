//! `lease grant|revoke|timetolive|list|keep-alive`.

use std::time::{Duration, Instant};

use etcdgw::{Error, LeaseTimeToLiveOptions, ServerErrorKind};

use super::Ctx;
use crate::args::LeaseCommand;
use crate::error::{exit, CliError, CliResult};
use crate::output::{emit, Format, Kind};
use crate::parse::{parse_int, parse_lease_id};

fn one_id(args: &[String], usage: &str) -> CliResult<i64> {
    match args {
        [id] => parse_lease_id(id, "lease ID arg"),
        _ => Err(CliError::bad_args(usage)),
    }
}

pub(crate) async fn run(ctx: &Ctx, cmd: LeaseCommand) -> CliResult {
    match cmd {
        LeaseCommand::Grant { args } => {
            let [ttl] = args.as_slice() else {
                return Err(CliError::bad_args("lease grant command needs TTL argument"));
            };
            let ttl =
                parse_int(ttl, 10).map_err(|e| CliError::bad_args(format!("bad TTL ({e})")))?;
            ctx.printer.check(Kind::Grant)?;
            let resp = ctx
                .client()
                .await?
                .lease_grant(ttl, None)
                .await
                .map_err(|e| CliError::wrap(&e, "failed to grant lease"))?;
            emit(&ctx.printer.grant(&resp)?)
        }
        LeaseCommand::Revoke { args } => {
            let id = one_id(&args, "lease revoke command needs 1 argument")?;
            ctx.printer.check(Kind::Revoke)?;
            let resp = ctx
                .client()
                .await?
                .lease_revoke(id)
                .await
                .map_err(|e| CliError::wrap(&e, "failed to revoke lease"))?;
            emit(&ctx.printer.header_only(
                Kind::Revoke,
                resp.header(),
                format!("lease {id:016x} revoked\n"),
            )?)
        }
        LeaseCommand::Timetolive { keys, args } => {
            let id = one_id(&args, "lease timetolive command needs lease ID as argument")?;
            ctx.printer.check(Kind::TimeToLive)?;
            let mut options = LeaseTimeToLiveOptions::new();
            if keys {
                options = options.with_keys();
            }
            // etcdctl reports every failure of these lease reads as ExitBadConnection.
            let resp = ctx
                .client()
                .await?
                .lease_time_to_live(id, Some(options))
                .await
                .map_err(|e| CliError::from(&e).with_code(exit::BAD_CONNECTION))?;
            emit(&ctx.printer.time_to_live(&resp, keys)?)
        }
        LeaseCommand::List { .. } => {
            ctx.printer.check(Kind::Leases)?;
            let resp = ctx
                .client()
                .await?
                .leases()
                .await
                .map_err(|e| CliError::from(&e).with_code(exit::BAD_CONNECTION))?;
            emit(&ctx.printer.leases(&resp)?)
        }
        LeaseCommand::KeepAlive { once, args } => {
            let id = one_id(&args, "lease keep-alive command needs lease ID as argument")?;
            ctx.printer.check(Kind::KeepAlive)?;
            keep_alive(ctx, id, once).await
        }
    }
}

/// Refreshes the lease once, or every third of its TTL until it is gone (then says so in the
/// simple format and exits 0, as etcdctl does) or the process is interrupted.
async fn keep_alive(ctx: &Ctx, id: i64, once: bool) -> CliResult {
    let client = ctx.client().await?;
    let bad_connection = |e: &Error| CliError::from(e).with_code(exit::BAD_CONNECTION);
    let (mut keeper, mut answers) = match client.lease_keep_alive(id).await {
        Ok(pair) => pair,
        Err(e) if !once && e.server_kind() == Some(ServerErrorKind::LeaseNotFound) => {
            return expired(ctx, id);
        }
        Err(e) => return Err(bad_connection(&e)),
    };
    let mut last_ok = Instant::now();
    let mut ttl = 0i64;
    loop {
        let refreshed = match keeper.keep_alive().await {
            Ok(()) => answers.message().await,
            Err(e) => Err(e),
        };
        match refreshed {
            Ok(Some(resp)) => {
                emit(&ctx.printer.keep_alive(&resp)?)?;
                if once {
                    return Ok(());
                }
                ttl = resp.ttl();
                last_ok = Instant::now();
                let period = u64::try_from(ttl / 3).unwrap_or(0).max(1);
                tokio::time::sleep(Duration::from_secs(period)).await;
            }
            Ok(None) => break,
            Err(e) if e.server_kind() == Some(ServerErrorKind::LeaseNotFound) => {
                if once {
                    return Err(bad_connection(&e));
                }
                break;
            }
            Err(e) => {
                // Unanswered: try again until the lease must have expired.
                let expired =
                    last_ok.elapsed() > Duration::from_secs(u64::try_from(ttl).unwrap_or(0));
                if once || expired {
                    return Err(bad_connection(&e));
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    expired(ctx, id)
}

/// etcdctl's last words when a kept-alive lease is gone (in the simple format only).
fn expired(ctx: &Ctx, id: i64) -> CliResult {
    if ctx.printer.format == Format::Simple {
        emit(format!("lease {id:016x} expired or revoked.\n").as_bytes())?;
    }
    Ok(())
}
