//! `lock` and `elect`: held until SIGINT or SIGTERM (then released), or while a command runs,
//! on a lease this process keeps alive, as etcdctl's concurrency sessions.

use std::time::Duration;

use etcdgw::{Client, GetResponse, LockOptions, ManagedLease, ResignOptions};

use super::{interrupted, Ctx};
use crate::args::{ElectArgs, LockArgs};
use crate::error::{exit, message_of, CliError, CliResult};
use crate::output::{emit, Kind};

/// How long a lock or a campaign may wait: as good as forever for a command line.
const WAIT_FOREVER: Duration = Duration::from_secs(30 * 24 * 3600);

/// etcd's concurrency sessions' TTL when none is given (`concurrency.NewSession`).
const SESSION_TTL: i64 = 60;

/// The error of a wait cut short by a signal (Go's cancelled context).
fn canceled() -> CliError {
    CliError::new(exit::ERROR, "context canceled")
}

async fn print_key(ctx: &Ctx, client: &Client, key: &[u8]) -> CliResult<GetResponse> {
    let resp = client.get(key, None).await?;
    emit(&ctx.printer.get(&resp)?)?;
    Ok(resp)
}

pub(crate) async fn lock(ctx: &Ctx, args: LockArgs) -> CliResult {
    let Some((name, mut command)) = args.args.split_first() else {
        return Err(CliError::bad_args(
            "lock takes a lock name argument and an optional command to execute",
        ));
    };
    // `lock name -- cmd args`: the separator is not part of the command.
    if command.first().is_some_and(|c| c == "--") {
        command = &command[1..];
    }
    if command.is_empty() {
        ctx.printer.check(Kind::Get)?;
    }
    let client = ctx.client().await?;
    let mut lease = client.lease_client().grant_managed(args.ttl, None).await?;
    let options = LockOptions::new()
        .with_lease(lease.id())
        .with_timeout(WAIT_FOREVER);
    let locked = tokio::select! {
        locked = client.lock(name.as_bytes(), Some(options)) => locked,
        () = interrupted() => {
            let _ = lease.revoke().await;
            return Err(canceled());
        }
    };
    let locked = match locked {
        Ok(locked) => locked,
        Err(e) => {
            let _ = lease.revoke().await;
            return Err(e.into());
        }
    };
    let key = locked.key().to_vec();
    let release = |lease: ManagedLease| {
        let client = client.clone();
        let key = key.clone();
        async move {
            let unlocked = client.unlock(key).await;
            let _ = lease.revoke().await;
            unlocked.map(|_| ()).map_err(CliError::from)
        }
    };

    if let Some((program, program_args)) = command.split_first() {
        let revision = locked.header().map(|h| h.revision()).unwrap_or_default();
        let status = tokio::process::Command::new(program)
            .args(program_args)
            .env("ETCD_LOCK_KEY", String::from_utf8_lossy(&key).as_ref())
            .env("ETCD_LOCK_REV", revision.to_string())
            .status()
            .await;
        let unlocked = release(lease).await;
        return match status {
            Ok(s) if s.success() => unlocked,
            Ok(s) => Err(CliError::new(
                s.code().unwrap_or(exit::ERROR),
                s.to_string(),
            )),
            Err(e) => Err(CliError::new(exit::ERROR, format!("{program}: {e}"))),
        };
    }

    let resp = client.get(key.clone(), None).await?;
    if resp.kvs().is_empty() {
        let _ = release(lease).await;
        return Err(CliError::new(exit::ERROR, "lock lost on init"));
    }
    emit(&ctx.printer.get(&resp)?)?;
    tokio::select! {
        () = interrupted() => {}
        lost = lease.lost() => {
            return Err(CliError::new(exit::ERROR, format!("session expired ({})", message_of(lost))));
        }
    }
    release(lease).await
}

pub(crate) async fn elect(ctx: &Ctx, args: ElectArgs) -> CliResult {
    if args.args.is_empty() || args.args.len() > 2 {
        return Err(CliError::bad_args(
            "elect takes one election name argument and an optional proposal argument",
        ));
    }
    let name = &args.args[0];
    match (args.args.get(1), args.listen) {
        (None, false) => Err(CliError::bad_args("no proposal argument but -l not set")),
        (Some(_), true) => Err(CliError::bad_args("proposal given but -l is set")),
        (None, true) => observe(ctx, name).await,
        (Some(proposal), false) => campaign(ctx, name, proposal).await,
    }
}

/// Prints each new leader (its key and value) until interrupted.
async fn observe(ctx: &Ctx, name: &str) -> CliResult {
    ctx.printer.check(Kind::Get)?;
    let client = ctx.client().await?;
    let mut leaders = client.observe(name.as_bytes()).await?;
    loop {
        tokio::select! {
            next = leaders.message() => match next? {
                Some(leader) => emit(&ctx.printer.leader(leader.header(), leader.kv())?)?,
                None => return Err(CliError::new(exit::ERROR, "elect: observer lost")),
            },
            () = interrupted() => return Ok(()),
        }
    }
}

/// Campaigns until elected, prints the leader key, and resigns when interrupted.
async fn campaign(ctx: &Ctx, name: &str, proposal: &str) -> CliResult {
    ctx.printer.check(Kind::Get)?;
    let client = ctx.client().await?;
    let mut lease = client
        .lease_client()
        .grant_managed(SESSION_TTL, None)
        .await?;
    let elections = client.election_client();
    let campaign = tokio::select! {
        won = elections.campaign_with_timeout(name.as_bytes(), proposal.as_bytes(), lease.id(), WAIT_FOREVER) => won,
        () = interrupted() => {
            let _ = lease.revoke().await;
            return Err(canceled());
        }
    };
    let leader = match campaign.map(|mut c| c.take_leader()) {
        Ok(Some(leader)) => leader,
        Ok(None) => {
            let _ = lease.revoke().await;
            return Err(CliError::new(
                exit::ERROR,
                "elect: the campaign's answer has no leader key",
            ));
        }
        Err(e) => {
            let _ = lease.revoke().await;
            return Err(e.into());
        }
    };
    print_key(ctx, &client, leader.key()).await?;
    let lost = tokio::select! {
        () = interrupted() => None,
        lost = lease.lost() => Some(message_of(lost)),
    };
    if let Some(reason) = lost {
        return Err(CliError::new(
            exit::ERROR,
            format!("elect: session expired ({reason})"),
        ));
    }
    let resigned = elections
        .resign(Some(ResignOptions::new().with_leader(leader)))
        .await;
    let _ = lease.revoke().await;
    resigned.map(|_| ()).map_err(CliError::from)
}
