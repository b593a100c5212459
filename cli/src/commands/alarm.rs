//! `alarm list` and `alarm disarm`: the NOSPACE runbook's last step.

use etcdgw::{AlarmAction, AlarmOptions, AlarmType};

use super::Ctx;
use crate::args::AlarmCommand;
use crate::error::{CliError, CliResult};
use crate::output::{emit, Kind};

pub(crate) async fn alarm(ctx: &Ctx, cmd: AlarmCommand) -> CliResult {
    match cmd {
        AlarmCommand::List { args } => {
            if !args.is_empty() {
                return Err(CliError::bad_args(
                    "alarm list command accepts no arguments",
                ));
            }
            ctx.printer.check(Kind::Alarm)?;
            let resp = ctx
                .client()
                .await?
                .alarm(AlarmAction::Get, AlarmType::None, None)
                .await?;
            emit(&ctx.printer.alarms(resp.header(), resp.alarms())?)
        }
        AlarmCommand::Disarm { args } => {
            if !args.is_empty() {
                return Err(CliError::bad_args(
                    "alarm disarm command accepts no arguments",
                ));
            }
            ctx.printer.check(Kind::Alarm)?;
            // As clientv3's AlarmDisarm with no member and no alarm: list the alarms, disarm
            // each one on its member, and answer with what was disarmed (no header).
            let client = ctx.client().await?;
            let active = client
                .alarm(AlarmAction::Get, AlarmType::None, None)
                .await?;
            let mut disarmed = Vec::new();
            for alarm in active.alarms() {
                let mut options = AlarmOptions::new();
                options.with_member(alarm.member_id());
                let resp = client
                    .alarm(AlarmAction::Deactivate, alarm.alarm(), Some(options))
                    .await?;
                disarmed.extend(resp.alarms().iter().cloned());
            }
            emit(&ctx.printer.alarms(None, &disarmed)?)
        }
    }
}
