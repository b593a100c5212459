//! `member add|remove|update|promote|list`, `move-leader`, `endpoint health|status|hashkv`,
//! `downgrade validate|enable|cancel`.

use std::time::Instant;

use etcdgw::{
    AlarmAction, AlarmType, DowngradeOptions, MemberAddOptions, MemberListOptions, ServerErrorKind,
};

use super::Ctx;
use crate::args::{DowngradeCommand, EndpointArgs, EndpointCommand, MemberCommand};
use crate::connect;
use crate::error::{exit, message_of, CliError, CliResult};
use crate::output::{emit, warn, warn_bytes, EpHashKv, EpHealth, EpStatus, Kind, MemberChange};
use crate::parse::parse_member_id;

/// The one member ID argument of `member remove|update|promote`.
fn member_id(args: &[String]) -> CliResult<u64> {
    match args {
        [id] => parse_member_id(id),
        _ => Err(CliError::bad_args("member ID is not provided")),
    }
}

/// `--peer-urls` split at commas, as etcdctl does (an empty flag is refused).
fn peer_urls(flag: &str) -> CliResult<Vec<String>> {
    if flag.is_empty() {
        return Err(CliError::bad_args("member peer urls not provided"));
    }
    Ok(flag.split(',').map(str::to_string).collect())
}

pub(crate) async fn member(ctx: &Ctx, cmd: MemberCommand) -> CliResult {
    let p = &ctx.printer;
    match cmd {
        MemberCommand::List { consistency, .. } => {
            p.check(Kind::MemberList)?;
            let mut options = MemberListOptions::new();
            // etcdctl's IsSerializable: "s" is serializable, anything else linearizable.
            if consistency == "s" {
                options = options.with_serializable();
            }
            let resp = ctx
                .client()
                .await?
                .cluster_client()
                .member_list_with(Some(options))
                .await?;
            emit(&p.member_list(&resp)?)
        }
        MemberCommand::Add {
            peer_urls: urls,
            learner,
            args,
        } => {
            let name = match args.as_slice() {
                [] => return Err(CliError::bad_args("member name not provided")),
                [name] => name,
                _ => {
                    let mut message = String::from("too many arguments");
                    for arg in &args {
                        if arg.to_lowercase().starts_with("http") {
                            message.push_str(&format!(", did you mean --peer-urls={arg}"));
                        }
                    }
                    return Err(CliError::bad_args(message));
                }
            };
            let list = peer_urls(&urls)?;
            p.check(Kind::MemberAdd)?;
            let mut options = MemberAddOptions::new();
            if learner {
                options = options.with_is_learner();
            }
            let resp = ctx
                .client()
                .await?
                .cluster_client()
                .member_add(list, Some(options))
                .await?;
            emit(&p.member_add(&resp, name, &urls)?)
        }
        MemberCommand::Remove { args } => {
            let id = member_id(&args)?;
            p.check(Kind::MemberChange)?;
            let resp = ctx.client().await?.member_remove(id).await?;
            emit(&p.member_change(&MemberChange {
                verb: "removed from",
                id,
                header: resp.header(),
                members: resp.members(),
            })?)
        }
        MemberCommand::Update {
            peer_urls: urls,
            args,
        } => {
            let id = member_id(&args)?;
            let list = peer_urls(&urls)?;
            p.check(Kind::MemberChange)?;
            let resp = ctx.client().await?.member_update(id, list).await?;
            emit(&p.member_change(&MemberChange {
                verb: "updated in",
                id,
                header: resp.header(),
                members: resp.members(),
            })?)
        }
        MemberCommand::Promote { args } => {
            let id = member_id(&args)?;
            p.check(Kind::MemberChange)?;
            let resp = ctx.client().await?.member_promote(id).await?;
            emit(&p.member_change(&MemberChange {
                verb: "promoted in",
                id,
                header: resp.header(),
                members: resp.members(),
            })?)
        }
    }
}

/// etcdctl's `move-leader`: the leader must be one of the endpoints (each is asked for its
/// status; the first that says it leads sends the request), as in etcdctl.
pub(crate) async fn move_leader(ctx: &Ctx, args: &[String]) -> CliResult {
    let [target] = args else {
        return Err(CliError::bad_args("move-leader command needs 1 argument"));
    };
    let target = u64::from_str_radix(target, 16).map_err(|e| {
        let why = match e.kind() {
            std::num::IntErrorKind::PosOverflow => "value out of range",
            _ => "invalid syntax",
        };
        CliError::bad_args(format!("strconv.ParseUint: parsing {target:?}: {why}"))
    })?;
    ctx.printer.check(Kind::MoveLeader)?;
    let client = ctx.client().await?;
    let maintenance = client.maintenance_client();
    let mut leader = None;
    for endpoint in &ctx.endpoints {
        let at = maintenance.at(endpoint)?;
        let status = at.status().await?;
        let member = status.header().map(|h| h.member_id()).unwrap_or_default();
        if member != 0 && member == status.leader() {
            leader = Some((at, member));
            break;
        }
    }
    let Some((at_leader, leader_id)) = leader else {
        return Err(CliError::bad_args(format!(
            "no leader endpoint given at [{}]",
            ctx.endpoints.join(" ")
        )));
    };
    let resp = at_leader.move_leader(target).await?;
    emit(&ctx.printer.move_leader(resp.header(), leader_id, target)?)
}

pub(crate) async fn downgrade(ctx: &Ctx, cmd: DowngradeCommand) -> CliResult {
    let version = |args: &[String]| -> CliResult<String> {
        match args {
            [] => Err(CliError::bad_args("TARGET_VERSION not provided")),
            [v] if v.is_empty() => Err(CliError::bad_args("target version not provided")),
            [v] => Ok(v.clone()),
            _ => Err(CliError::bad_args("too many arguments")),
        }
    };
    let (action, options) = match cmd {
        DowngradeCommand::Validate { args } => {
            ("validate", DowngradeOptions::Validate(version(&args)?))
        }
        DowngradeCommand::Enable { args } => ("enable", DowngradeOptions::Enable(version(&args)?)),
        // etcdctl 3.6 ignores arguments to cancel.
        DowngradeCommand::Cancel { .. } => ("cancel", DowngradeOptions::Cancel),
    };
    ctx.printer.check(Kind::Downgrade)?;
    let resp = ctx
        .client()
        .await?
        .maintenance_client()
        .downgrade(options)
        .await?;
    emit(&ctx.printer.downgrade(action, &resp)?)
}

pub(crate) async fn endpoint(ctx: &Ctx, args: EndpointArgs) -> CliResult {
    match args.command {
        EndpointCommand::Health => health(ctx, args.cluster).await,
        EndpointCommand::Status => status(ctx, args.cluster).await,
        EndpointCommand::Hashkv { rev } => hash_kv(ctx, args.cluster, rev).await,
    }
}

/// Each endpoint's KV hash, one by one; a failure is reported and the others still printed.
/// The gateway reaches HashKV from etcd 3.5.10 on: before, every endpoint fails with a
/// message that says so (exit 4).
async fn hash_kv(ctx: &Ctx, cluster: bool, rev: i64) -> CliResult {
    ctx.printer.check(Kind::EndpointHashKv)?;
    let endpoints = ctx.endpoints(cluster).await?;
    let client = ctx.client().await?;
    let maintenance = client.maintenance_client();
    let mut list = Vec::new();
    let mut last_error = None;
    for endpoint in endpoints {
        let answer = match maintenance.at(&endpoint) {
            Ok(at) => at.hash_kv(rev).await,
            Err(e) => Err(e),
        };
        match answer {
            Ok(hash) => list.push(EpHashKv { endpoint, hash }),
            Err(e) => {
                warn(&format!(
                    "Failed to get the hash of endpoint {endpoint} ({})",
                    message_of(&e)
                ));
                last_error = Some(e);
            }
        }
    }
    emit(&ctx.printer.endpoint_hash_kv(&list)?)?;
    match last_error {
        Some(e @ etcdgw::Error::Unsupported { .. }) => Err(CliError::new(
            exit::BAD_FEATURE,
            format!(
                "{} (endpoint hashkv needs etcd 3.5.10 or later: its gateway serves HashKV)",
                message_of(&e)
            ),
        )),
        Some(e) => Err(CliError::from(&e).with_code(exit::ERROR)),
        None => Ok(()),
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
