//! `watch`: prints each event as etcdctl does, until interrupted (Ctrl-C ends the process, as
//! it ends etcdctl) or until the server cancels the watch (exit 5).

use etcdgw::{Error, WatchOptions, WatchResponse};

use super::Ctx;
use crate::args::WatchArgs;
use crate::error::{exit, message_of, CliError, CliResult};
use crate::output::{emit, gofmt, warn, Kind};

pub(crate) async fn watch(ctx: &Ctx, args: WatchArgs) -> CliResult {
    if args.interactive {
        return Err(CliError::bad_feature(
            "interactive watch (-i) is not supported by etcdgw; run one watch per process",
        ));
    }
    if args.args.is_empty() || args.args.len() > 2 {
        return Err(CliError::bad_args("bad number of arguments"));
    }
    ctx.printer.check(Kind::Watch)?;
    let key = args.args[0].as_bytes().to_vec();
    let mut options = WatchOptions::new().with_start_revision(args.rev);
    if let Some(end) = args.args.get(1) {
        if args.prefix {
            return Err(CliError::bad_args(
                "`range_end` and `--prefix` are mutually exclusive",
            ));
        }
        options = options.with_range(end.as_bytes());
    }
    if args.prefix {
        options = options.with_prefix();
    }
    if args.prev_kv {
        options = options.with_prev_key();
    }
    if args.progress_notify {
        options = options.with_progress_notify();
    }
    let client = ctx.client().await?;
    let mut stream = client.watch(key, Some(options)).await?;
    loop {
        match stream.message().await {
            Ok(Some(resp)) => {
                if resp.created() && resp.events().is_empty() {
                    // clientv3 does not pass the `created` answer on; neither does etcdctl.
                    continue;
                }
                if resp.canceled() {
                    let reason = if resp.compact_revision() != 0 {
                        "etcdserver: mvcc: required revision has been compacted".to_string()
                    } else {
                        resp.cancel_reason().to_string()
                    };
                    warn(&format!("watch was canceled ({reason})"));
                }
                if resp.is_progress_notify() {
                    let revision = resp.header().map(|h| h.revision()).unwrap_or_default();
                    emit(format!("progress notify: {revision}\n").as_bytes())?;
                }
                emit(&ctx.printer.watch(&resp)?)?;
                if !args.exec.is_empty() {
                    run_exec(&args.exec, &resp).await?;
                }
                if resp.canceled() {
                    break;
                }
            }
            Ok(None) => break,
            Err(err) => {
                warn(&format!("watch was canceled ({})", cancel_reason(&err)));
                break;
            }
        }
    }
    Err(CliError::new(
        exit::INTERRUPTED,
        "watch is canceled by the server",
    ))
}

fn cancel_reason(err: &Error) -> String {
    match err {
        Error::Compacted { .. } => {
            "etcdserver: mvcc: required revision has been compacted".to_string()
        }
        other => message_of(other),
    }
}

/// Runs the `--` command once per event, with etcdctl's `ETCD_WATCH_*` variables.
async fn run_exec(command: &[String], resp: &WatchResponse) -> CliResult {
    let revision = resp.header().map(|h| h.revision()).unwrap_or_default();
    for event in resp.events() {
        let (key, value) = event
            .kv()
            .map(|kv| (kv.key().to_vec(), kv.value().to_vec()))
            .unwrap_or_default();
        let status = tokio::process::Command::new(&command[0])
            .args(&command[1..])
            .env("ETCD_WATCH_REVISION", revision.to_string())
            .env(
                "ETCD_WATCH_EVENT_TYPE",
                gofmt::quote(event.event_type().as_str_name().as_bytes()),
            )
            .env("ETCD_WATCH_KEY", gofmt::quote(&key))
            .env("ETCD_WATCH_VALUE", gofmt::quote(&value))
            .status()
            .await;
        let failure = match status {
            Ok(s) if s.success() => continue,
            Ok(s) => s.to_string(),
            Err(e) => e.to_string(),
        };
        warn(&format!("command {command:?} error ({failure})"));
        return Err(CliError::silent(exit::ERROR));
    }
    Ok(())
}
