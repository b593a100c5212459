//! `make-mirror [options] <destination>`: etcdctl's mirror of the source cluster (the global
//! flags) into a destination cluster (the argument and the `--dest-*` flags), on the library's
//! [`Mirror`] with etcdctl's behaviour on compaction (it ends with etcd's error). The count of
//! keys written so far is printed every 30 s, as etcdctl prints it (a bare number); SIGINT or
//! SIGTERM prints it once more and exits with 0.

use std::path::PathBuf;
use std::time::Duration;

use etcdgw::env::EnvConfig;
use etcdgw::mirror::{Mirror, MirrorOptions, MirrorProgress};
use etcdgw::Error;

use super::{interrupted, Ctx};
use crate::args::{GlobalArgs, MakeMirrorArgs};
use crate::connect::{self, Flags};
use crate::error::{exit, message_of, CliError, CliResult};
use crate::output::{emit, warn};

/// How often the count is printed (etcdctl's 30 s).
const PROGRESS_EVERY: Duration = Duration::from_secs(30);

/// etcd's text for a compacted revision, which etcdctl prints when the mirror falls behind one.
const COMPACTED: &str = "etcdserver: mvcc: required revision has been compacted";

pub(crate) async fn make_mirror(ctx: &Ctx, args: MakeMirrorArgs) -> CliResult {
    let [destination] = args.args.as_slice() else {
        return Err(CliError::bad_args(
            "make-mirror takes one destination argument",
        ));
    };
    // As etcdctl: an empty --dest-prefix is no --dest-prefix.
    if args.no_dest_prefix && !args.dest_prefix.is_empty() {
        return Err(CliError::bad_args(
            "`--dest-prefix` and `--no-dest-prefix` cannot be set at the same time, choose one",
        ));
    }
    if args.max_txn_ops == 0 {
        return Err(CliError::bad_args("--max-txn-ops must be at least 1"));
    }
    if args.rev < 0 {
        return Err(CliError::bad_args(format!(
            "--rev must not be negative (got {})",
            args.rev
        )));
    }
    let dest_endpoints: Vec<String> = destination
        .split(',')
        .map(|e| e.trim().to_string())
        .filter(|e| !e.is_empty())
        .collect();
    if dest_endpoints.is_empty() {
        return Err(CliError::bad_args(
            "make-mirror takes one destination argument (an endpoint, not an empty string)",
        ));
    }

    // The destination's password is asked for first, as etcdctl does.
    let dest_flags = destination_flags(&ctx.global, &args);
    let dest_options = connect::options_of(&dest_flags, &dest_endpoints, Flags::DESTINATION)?;
    let dest = connect::client_of(&dest_endpoints, dest_options).await?;
    let source = ctx.client().await?;
    // etcdctl's clients connect and log in before anything is read: a wrong address, TLS
    // setting or password fails now, not at the first change to copy, which may be far off.
    // A member's status needs no permission beyond a valid login.
    dest.status().await?;
    source.status().await?;

    let mut options = MirrorOptions::new()
        .with_prefix(args.prefix.as_bytes())
        .with_max_txn_ops(args.max_txn_ops)
        .with_start_revision(args.rev)
        .with_resync_on_compaction(false);
    if args.no_dest_prefix {
        options = options.with_dest_prefix(Vec::new());
    } else if !args.dest_prefix.is_empty() {
        options = options.with_dest_prefix(args.dest_prefix.as_bytes());
    }
    let mirror =
        Mirror::new(&source, &dest, options).map_err(|e| CliError::bad_args(message_of(&e)))?;
    let progress = mirror.progress();
    let counter = progress.clone();

    let ended = tokio::select! {
        ended = mirror.run() => ended,
        failed = report_every(PROGRESS_EVERY, move || counter.keys(), emit) => return Err(failed),
        () = interrupted() => {
            // Whatever write was in flight is abandoned: its transaction was applied whole or
            // not at all, and the revision said below is one whose changes all arrived.
            emit(count_line(progress.keys()).as_bytes())?;
            say_where_to_resume(&progress);
            return Ok(());
        }
    };
    Err(match ended {
        Err(Error::Compacted { .. }) => CliError::new(exit::ERROR, COMPACTED),
        Err(Error::StreamClosed) | Ok(()) => {
            say_where_to_resume(&progress);
            CliError::new(exit::ERROR, "the watch on the source was canceled")
        }
        Err(err) => {
            say_where_to_resume(&progress);
            CliError::from(err)
        }
    })
}

/// The global flags with the destination's in their place: `--dest-cacert`, `--dest-cert`,
/// `--dest-key`, `--dest-insecure-transport`, `--dest-user`, `--dest-password`. The timeouts,
/// keepalives and receive limit are the global ones, as etcdctl's; no SRV discovery and no
/// `--insecure-skip-tls-verify` for the destination (etcdctl has neither for it). An empty
/// file flag is no file, as in etcdctl.
fn destination_flags(global: &GlobalArgs, args: &MakeMirrorArgs) -> GlobalArgs {
    let file = |path: &Option<PathBuf>| path.clone().filter(|p| !p.as_os_str().is_empty());
    // The destination's settings are its flags alone (etcdctl reads no variable for them),
    // named `--dest-*` in errors, with the source's timeouts, keep-alives and limit.
    let mut config = EnvConfig::new()
        .with_flag_prefix("dest-")
        .with_dial_timeout(global.dial_timeout)
        .with_command_timeout(global.command_timeout)
        .with_max_recv_bytes(global.max_recv_bytes)
        .with_insecure_transport(args.dest_insecure_transport);
    if let Some(time) = global.keepalive_time {
        config = config.with_keepalive_time(time);
    }
    if let Some(timeout) = global.keepalive_timeout {
        config = config.with_keepalive_timeout(timeout);
    }
    if let Some(path) = file(&args.dest_cacert) {
        config = config.with_cacert(path);
    }
    if let Some(path) = file(&args.dest_cert) {
        config = config.with_cert(path);
    }
    if let Some(path) = file(&args.dest_key) {
        config = config.with_key(path);
    }
    if let Some(user) = &args.dest_user {
        config = config.with_user(user);
    }
    if let Some(password) = &args.dest_password {
        config = config.with_password(password);
    }
    GlobalArgs {
        config,
        cacert: file(&args.dest_cacert),
        cert: file(&args.dest_cert),
        key: file(&args.dest_key),
        insecure_transport: args.dest_insecure_transport,
        insecure_skip_tls_verify: false,
        discovery_srv: None,
        discovery_srv_name: None,
        insecure_discovery: true,
        user: args.dest_user.clone(),
        password: args.dest_password.clone(),
        ..global.clone()
    }
}

/// etcdctl's progress line: the count alone (Go's `fmt.Println` of an integer).
fn count_line(count: u64) -> String {
    format!("{count}\n")
}

/// Prints `count()` every `period`, the first time one period from now (etcdctl's loop of
/// sleep and print), until printing fails, which it returns.
async fn report_every(
    period: Duration,
    count: impl Fn() -> u64,
    mut print: impl FnMut(&[u8]) -> CliResult,
) -> CliError {
    let start = tokio::time::Instant::now() + period;
    let mut ticks = tokio::time::interval_at(start, period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(failed) = print(count_line(count()).as_bytes()) {
            return failed;
        }
    }
}

/// Says on stderr up to which source revision the destination is complete, once the first copy
/// is done: `--rev` with the next revision resumes from there.
fn say_where_to_resume(progress: &MirrorProgress) {
    let revision = progress.revision();
    if revision > 0 {
        warn(&format!(
            "make-mirror: the destination has the source's changes up to revision {revision}; --rev {} resumes from there",
            revision.saturating_add(1)
        ));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    use super::*;

    /// The count every 30 s, the first after 30 s, as bare numbers (on the paused clock of
    /// tokio's test runtime, which jumps ahead when every task waits).
    #[tokio::test(start_paused = true)]
    async fn the_count_is_printed_every_30_seconds_as_etcdctl_prints_it() {
        let start = tokio::time::Instant::now();
        let printed: Arc<Mutex<Vec<(Duration, String)>>> = Arc::default();
        let calls = AtomicU64::new(0);
        let record = {
            let printed = printed.clone();
            move |line: &[u8]| {
                printed
                    .lock()
                    .unwrap()
                    .push((start.elapsed(), String::from_utf8_lossy(line).into_owned()));
                Ok(())
            }
        };
        let count = || 1000 * calls.fetch_add(1, Ordering::Relaxed);
        let cut = tokio::time::timeout(
            Duration::from_secs(100),
            report_every(PROGRESS_EVERY, count, record),
        );
        assert!(cut.await.is_err(), "it prints until stopped");
        let printed = printed.lock().unwrap().clone();
        let expected: Vec<(Duration, String)> = [(30, "0\n"), (60, "1000\n"), (90, "2000\n")]
            .iter()
            .map(|(s, line)| (Duration::from_secs(*s), line.to_string()))
            .collect();
        assert_eq!(printed, expected);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_to_print_ends_the_report_with_its_error() {
        let failed = report_every(PROGRESS_EVERY, || 7, |_| Err(CliError::silent(exit::IO)));
        assert_eq!(failed.await.code, exit::IO);
    }

    #[test]
    fn the_destination_gets_the_dest_flags_and_keeps_the_timeouts() {
        use clap::Parser;
        let cli = crate::args::Cli::try_parse_from([
            "etcdgw",
            "--cacert=/src/ca.pem",
            "--user=alice:pw",
            "--insecure-skip-tls-verify",
            "--command-timeout=9s",
            "make-mirror",
            "--dest-cacert=/dst/ca.pem",
            "--dest-cert=",
            "--dest-user=bob",
            "--dest-password=secret",
            "--dest-insecure-transport=false",
            "dst:2379",
        ])
        .unwrap();
        let crate::args::Command::MakeMirror(args) = cli.command else {
            panic!("not make-mirror");
        };
        let dest = destination_flags(&cli.global, &args);
        assert_eq!(dest.cacert, Some(PathBuf::from("/dst/ca.pem")));
        assert_eq!(dest.cert, None);
        assert_eq!(dest.user.as_deref(), Some("bob"));
        assert_eq!(dest.password.as_deref(), Some("secret"));
        assert!(!dest.insecure_transport && !dest.insecure_skip_tls_verify);
        assert_eq!(dest.command_timeout, Duration::from_secs(9));
        assert_eq!(dest.config.command_timeout(), Duration::from_secs(9));
        assert_eq!(
            dest.config.cacert(),
            Some(std::path::Path::new("/dst/ca.pem"))
        );
        assert_eq!(dest.config.cert(), None);
        assert_eq!(dest.config.user(), Some("bob"));
        assert!(!dest.config.insecure_transport() && !dest.config.insecure_skip_tls_verify());
        assert_eq!(args.max_txn_ops, etcdgw::mirror::DEFAULT_MAX_TXN_OPS);
    }
}
