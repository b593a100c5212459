//! `member list`, `endpoint health`, `endpoint status`.

use std::time::Instant;

use etcdgw::{AlarmAction, AlarmType, ServerErrorKind};

use super::Ctx;
use crate::args::{EndpointArgs, EndpointCommand, MemberCommand};
use crate::connect;
use crate::error::{exit, message_of, CliError, CliResult};
use crate::output::{emit, warn, warn_bytes, EpHealth, EpStatus, Kind};

pub(crate) async fn member(ctx: &Ctx, cmd: MemberCommand) -> CliResult {
    match cmd {
        MemberCommand::List { .. } => {
            ctx.printer.check(Kind::MemberList)?;
            let resp = ctx.client().await?.member_list().await?;
            emit(&ctx.printer.member_list(&resp)?)
        }
    }
}

pub(crate) async fn endpoint(ctx: &Ctx, args: EndpointArgs) -> CliResult {
    match args.command {
        EndpointCommand::Health => health(ctx, args.cluster).await,
        EndpointCommand::Status => status(ctx, args.cluster).await,
    }
}

/// One endpoint's health, as etcdctl checks it: a read of the key `health` (refused for lack
/// of permission still means healthy), then no alarm raised.
async fn check(endpoint: String, options: etcdgw::ConnectOptions) -> EpHealth {
    let mut health = EpHealth {
        endpoint,
        health: false,
        took: None,
        error: String::new(),
    };
    let client = match connect::client_of(std::slice::from_ref(&health.endpoint), options).await {
        Ok(client) => client,
        Err(e) => {
            health.error = e.message;
            return health;
        }
    };
    let start = Instant::now();
    let read = client.get("health", None).await;
    health.took = Some(start.elapsed());
    match read {
        Ok(_) => health.health = true,
        Err(e) if e.server_kind() == Some(ServerErrorKind::PermissionDenied) => {
            health.health = true;
        }
        Err(e) => health.error = message_of(&e),
    }
    if health.health {
        match client.alarm(AlarmAction::Get, AlarmType::None, None).await {
            Ok(resp) if !resp.alarms().is_empty() => {
                health.health = false;
                health.error = String::from("Active Alarm(s): ");
                for alarm in resp.alarms() {
                    health.error.push_str(match alarm.alarm() {
                        AlarmType::Nospace => "NOSPACE ",
                        AlarmType::Corrupt => "CORRUPT ",
                        _ => "UNKNOWN ",
                    });
                }
            }
            Ok(_) => {}
            Err(_) => {
                health.health = false;
                health.error = String::from("Unable to fetch the alarm list");
            }
        }
    }
    health
}

async fn health(ctx: &Ctx, cluster: bool) -> CliResult {
    ctx.printer.check(Kind::EndpointHealth)?;
    let endpoints = ctx.endpoints(cluster).await?;
    let options = ctx.options()?;
    // Every endpoint at once, each with a client of its own, as etcdctl checks them.
    let checks: Vec<_> = endpoints
        .into_iter()
        .map(|ep| tokio::spawn(check(ep, options.clone())))
        .collect();
    let mut list = Vec::with_capacity(checks.len());
    for task in checks {
        match task.await {
            Ok(h) => list.push(h),
            Err(e) => return Err(CliError::new(exit::ERROR, e.to_string())),
        }
    }
    let (out, err) = ctx.printer.endpoint_health(&list)?;
    emit(&out)?;
    warn_bytes(&err);
    if list.iter().any(|h| !h.error.is_empty()) {
        return Err(CliError::new(exit::ERROR, "unhealthy cluster"));
    }
    Ok(())
}

async fn status(ctx: &Ctx, cluster: bool) -> CliResult {
    ctx.printer.check(Kind::EndpointStatus)?;
    let endpoints = ctx.endpoints(cluster).await?;
    let client = ctx.client().await?;
    let maintenance = client.maintenance_client();
    let mut list = Vec::new();
    let mut failed = false;
    for endpoint in endpoints {
        let answer = match maintenance.at(&endpoint) {
            Ok(at) => at.status().await,
            Err(e) => Err(e),
        };
        match answer {
            Ok(status) => list.push(EpStatus { endpoint, status }),
            Err(e) => {
                failed = true;
                warn(&format!(
                    "Failed to get the status of endpoint {endpoint} ({})",
                    message_of(&e)
                ));
            }
        }
    }
    emit(&ctx.printer.endpoint_status(&list)?)?;
    if failed {
        return Err(CliError::silent(exit::ERROR));
    }
    Ok(())
}
