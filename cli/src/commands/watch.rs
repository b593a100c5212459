//! `watch`: prints each event as etcdctl does, until interrupted (Ctrl-C ends the process, as
//! it ends etcdctl) or until the server cancels the watch (exit 5). `watch -i` reads
//! `watch ...` and `progress` lines from stdin, each `watch` line one more watch printing
//! beside the others, until stdin ends (exit 3, as etcdctl).

use clap::{Parser, Subcommand};
use etcdgw::{Client, Error, WatchOptions, WatchRequestSender, WatchResponse, WatchResponseStream};
use tokio::io::AsyncBufReadExt;

use super::Ctx;
use crate::args::WatchArgs;
use crate::error::{exit, message_of, CliError, CliResult};
use crate::output::{emit, gofmt, warn, Kind, Printer};

/// One line of `watch -i`, parsed with the flags of `watch` itself.
#[derive(Parser)]
#[command(
    no_binary_name = true,
    disable_help_flag = true,
    disable_version_flag = true
)]
struct WatchLine {
    #[command(subcommand)]
    op: WatchLineOp,
}

#[derive(Subcommand)]
#[command(disable_help_subcommand = true)]
enum WatchLineOp {
    Watch(WatchArgs),
}

/// etcdctl's `ETCDCTL_WATCH_KEY` and `ETCDCTL_WATCH_RANGE_END`: the key (and range end) when
/// the command line gives none.
fn env_key() -> CliResult<Option<(String, Option<String>)>> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (var("ETCDCTL_WATCH_KEY"), var("ETCDCTL_WATCH_RANGE_END")) {
        (None, Some(range)) => Err(CliError::bad_args(format!(
            "ETCDCTL_WATCH_KEY is empty but got ETCDCTL_WATCH_RANGE_END={}",
            gofmt::quote(range.as_bytes())
        ))),
        (None, None) => Ok(None),
        (Some(key), range) => Ok(Some((key, range))),
    }
}

/// The key and options of one watch, checked as etcdctl's `getWatchChan`: `Err` carries
/// etcdctl's message.
fn request(
    args: &WatchArgs,
    env: Option<&(String, Option<String>)>,
) -> Result<(Vec<u8>, WatchOptions), String> {
    let mut words: Vec<&str> = Vec::new();
    if let Some((key, range)) = env {
        words.push(key);
        if let Some(range) = range {
            words.push(range);
        }
    }
    words.extend(args.args.iter().map(String::as_str));
    if words.is_empty() || words.len() > 2 {
        return Err("bad number of arguments".to_string());
    }
    let mut options = WatchOptions::new().with_start_revision(args.rev);
    if let Some(end) = words.get(1) {
        if args.prefix {
            return Err("`range_end` and `--prefix` are mutually exclusive".to_string());
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
    Ok((words[0].as_bytes().to_vec(), options))
}

pub(crate) async fn watch(ctx: &Ctx, args: WatchArgs) -> CliResult {
    let env = env_key()?;
    if args.interactive {
        ctx.printer.check(Kind::Watch)?;
        return interactive(ctx, env).await;
    }
    if env.is_some() && !args.args.is_empty() {
        return Err(CliError::bad_args(
            "bad number of arguments (found conflicting environment key)",
        ));
    }
    if args.args.is_empty() && env.is_none() {
        return Err(CliError::bad_args("bad number of arguments"));
    }
    let (key, options) = request(&args, env.as_ref()).map_err(CliError::bad_args)?;
    ctx.printer.check(Kind::Watch)?;
    let client = ctx.client().await?;
    // The sending half stays alive while the answers are read.
    let (_sender, mut responses) = client.watch(key, Some(options)).await?.split();
    print_events(&ctx.printer, &mut responses, &args.exec).await?;
    Err(CliError::new(
        exit::INTERRUPTED,
        "watch is canceled by the server",
    ))
}

/// `watch -i`: one watch per `watch` line, all printing as their events come; `progress`
/// asks every watch for a progress notification.
async fn interactive(ctx: &Ctx, env: Option<(String, Option<String>)>) -> CliResult {
    let client: Client = ctx.client().await?;
    let mut senders: Vec<WatchRequestSender> = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    loop {
        let line = tokio::select! {
            line = lines.next_line() => line,
            // A watch command that failed ends everything, as etcdctl's os.Exit does.
            Some(done) = tasks.join_next() => {
                if let Ok(Err(e)) = done {
                    return Err(e);
                }
                continue;
            }
        };
        let line = match line {
            Ok(Some(line)) => line,
            Ok(None) => {
                return Err(CliError::invalid_input(
                    "error reading watch request line: EOF",
                ))
            }
            Err(e) => {
                return Err(CliError::invalid_input(format!(
                    "error reading watch request line: {e}"
                )))
            }
        };
        let words = crate::txn::argify(&line)?;
        match words.first().map(String::as_str) {
            None => warn(&format!(
                "Invalid command: {line} (watch and progress supported)"
            )),
            Some("watch") => {
                if words.len() < 2 && env.is_none() {
                    warn(&format!(
                        "Invalid command {line} (command type or key is not provided)"
                    ));
                    continue;
                }
                let parsed = WatchLine::try_parse_from(&words).map_err(|e| {
                    CliError::bad_args(e.to_string().lines().next().unwrap_or_default())
                })?;
                let WatchLineOp::Watch(args) = parsed.op;
                if env.is_some() && !args.args.is_empty() && args.exec.is_empty() {
                    return Err(CliError::bad_args(
                        "bad number of arguments (found conflicting environment key)",
                    ));
                }
                let (key, options) = match request(&args, env.as_ref()) {
                    Ok(r) => r,
                    Err(why) => {
                        warn(&format!("Invalid command {line} ({why})"));
                        continue;
                    }
                };
                let stream = match client.watch(key, Some(options)).await {
                    Ok(stream) => stream,
                    Err(e) => {
                        warn(&format!("Invalid command {line} ({})", message_of(&e)));
                        continue;
                    }
                };
                let (sender, mut responses) = stream.split();
                senders.push(sender);
                let printer = ctx.printer.clone();
                tasks
                    .spawn(async move { print_events(&printer, &mut responses, &args.exec).await });
            }
            Some("progress") => {
                for sender in &senders {
                    // A watch that has ended cannot be asked: skip it, as etcdctl's stream.
                    let _ = sender.request_progress().await;
                }
            }
            Some(_) => warn(&format!("Invalid command {line} (only support watch)")),
        }
    }
}

/// Prints a watch's answers until the server ends it (then says why on stderr).
async fn print_events(
    printer: &Printer,
    stream: &mut WatchResponseStream,
    exec: &[String],
) -> CliResult {
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
                emit(&printer.watch(&resp)?)?;
                if !exec.is_empty() {
                    run_exec(exec, &resp).await?;
                }
                if resp.canceled() {
                    return Ok(());
                }
            }
            Ok(None) => return Ok(()),
            Err(err) => {
                warn(&format!("watch was canceled ({})", cancel_reason(&err)));
                return Ok(());
            }
        }
    }
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
