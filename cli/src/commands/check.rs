//! `check perf` and `check datascale`: etcdctl's load models, pass/fail criteria and messages.
//!
//! perf writes for 60 s at the model's rate (150 writes/s from 50 clients for `s`), then
//! passes when the throughput reached 90 % of the rate, the slowest write took at most 0.5 s
//! and the standard deviation of the latencies is at most 0.1 s. datascale writes the model's
//! number of 1 KiB key-values and reports how much resident memory the first endpoint grew.
//! Both refuse to run on a prefix that holds keys, and delete what they wrote.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use etcdgw::{Client, CompactionOptions, DeleteOptions, GetOptions};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::Semaphore;

use super::Ctx;
use crate::args::{CheckArgs, CheckCommand};
use crate::connect;
use crate::error::{exit, message_of, CliError, CliResult};
use crate::output::emit;

/// A perf model: the write rate, the number of clients, the duration in seconds.
struct PerfModel {
    limit: u32,
    clients: usize,
    duration: u64,
}

/// A datascale model: the number of key-values, their size, the number of clients.
struct DatascaleModel {
    limit: usize,
    kv_size: usize,
    clients: usize,
}

/// etcdctl's load names and their aliases.
fn model_name(load: &str) -> CliResult<&'static str> {
    match load {
        "s" | "small" => Ok("s"),
        "m" | "medium" => Ok("m"),
        "l" | "large" => Ok("l"),
        "xl" | "xLarge" => Ok("xl"),
        _ => Err(CliError::bad_feature(format!("unknown load option {load}"))),
    }
}

fn perf_model(load: &str) -> CliResult<PerfModel> {
    let (limit, clients) = match model_name(load)? {
        "s" => (150, 50),
        "m" => (1000, 200),
        "l" => (8000, 500),
        _ => (15000, 1000),
    };
    Ok(PerfModel {
        limit,
        clients,
        duration: 60,
    })
}

fn datascale_model(load: &str) -> CliResult<DatascaleModel> {
    let (limit, clients) = match model_name(load)? {
        "s" => (10_000, 50),
        "m" => (100_000, 200),
        "l" => (1_000_000, 500),
        // xl: three versions of a million objects is the upper bound it aims for.
        _ => (3_000_000, 1000),
    };
    Ok(DatascaleModel {
        limit,
        kv_size: 1024,
        clients,
    })
}

pub(crate) async fn check(ctx: &Ctx, cmd: CheckCommand) -> CliResult {
    match cmd {
        CheckCommand::Perf(args) => perf(ctx, args).await,
        CheckCommand::Datascale(args) => datascale(ctx, args).await,
    }
}

/// What etcd's `pkg/report` computes from the writes: latencies of the successes, errors by
/// message, and the time from the first result awaited to the last.
#[derive(Default)]
struct Report {
    latencies: Vec<f64>,
    errors: BTreeMap<String, usize>,
}

struct Stats {
    rps: f64,
    slowest: f64,
    stddev: f64,
    errors: BTreeMap<String, usize>,
}

impl Report {
    fn record(&mut self, result: Result<Duration, String>) {
        match result {
            Ok(took) => self.latencies.push(took.as_secs_f64()),
            Err(e) => *self.errors.entry(e).or_default() += 1,
        }
    }

    fn stats(self, total: Duration) -> Stats {
        let n = self.latencies.len();
        #[allow(clippy::cast_precision_loss)] // counts far below 2^52
        let count = n as f64;
        let secs = total.as_secs_f64();
        let rps = if secs > 0.0 { count / secs } else { 0.0 };
        let average = if n > 0 {
            self.latencies.iter().sum::<f64>() / count
        } else {
            0.0
        };
        let stddev = if n > 0 {
            (self
                .latencies
                .iter()
                .map(|l| (l - average) * (l - average))
                .sum::<f64>()
                / count)
                .sqrt()
        } else {
            0.0
        };
        let slowest = self.latencies.iter().copied().fold(0.0, f64::max);
        Stats {
            rps,
            slowest,
            stddev,
            errors: self.errors,
        }
    }
}

/// A fast, good enough random source for key names (as etcdctl's `math/rand`), seeded by the
/// standard library's per-process random hasher keys.
struct Rng(u64);

impl Rng {
    fn new() -> Self {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(0x9e37_79b9_7f4a_7c15);
        Rng(h.finish() | 1)
    }

    /// A non-negative 63-bit number (xorshift64*).
    fn next_i63(&mut self) -> i64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let n = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 1;
        i64::try_from(n).unwrap_or(i64::MAX)
    }
}

/// Go's `binary.PutVarint` into the start of `buf` (zig-zag, then 7 bits a byte).
fn put_varint(buf: &mut [u8], x: i64) {
    #[allow(clippy::cast_sign_loss)] // zig-zag encoding reinterprets the bits
    let mut ux = ((x << 1) ^ (x >> 63)) as u64;
    let mut i = 0;
    while ux >= 0x80 && i < buf.len() {
        buf[i] = (ux as u8) | 0x80;
        ux >>= 7;
        i += 1;
    }
    if i < buf.len() {
        buf[i] = ux as u8;
    }
}

/// The next key: the prefix, then `size` bytes starting with a random varint (the buffer is
/// kept between keys, as etcdctl keeps its own).
fn next_key(prefix: &[u8], buf: &mut [u8], rng: &mut Rng) -> Vec<u8> {
    put_varint(buf, rng.next_i63());
    let mut key = prefix.to_vec();
    key.extend_from_slice(buf);
    key
}

/// One client per etcdctl client: each has its own connections.
async fn clients(ctx: &Ctx, n: usize) -> CliResult<Vec<Client>> {
    let options = ctx.options()?;
    let mut list = Vec::with_capacity(n);
    for _ in 0..n {
        list.push(connect::client_of(&ctx.endpoints, options.clone()).await?);
    }
    Ok(list)
}

/// Refuses a prefix that already holds keys (they would be deleted afterwards).
async fn refuse_used_prefix(client: &Client, prefix: &str) -> CliResult {
    let resp = client
        .get(
            prefix,
            Some(
                GetOptions::new()
                    .with_prefix()
                    .with_limit(1)
                    .with_keys_only(),
            ),
        )
        .await?;
    if !resp.kvs().is_empty() {
        return Err(CliError::invalid_input(format!(
            "prefix {prefix:?} has keys. Delete with 'etcdgw del --prefix {prefix}' first"
        )));
    }
    Ok(())
}

/// Deletes what the check wrote and, with `--auto-compact`, compacts (physically) at the
/// deletion's revision.
async fn cleanup(client: &Client, prefix: &str, auto_compact: bool) -> CliResult {
    let deleted = tokio::time::timeout(
        Duration::from_secs(30),
        client.delete(prefix, Some(DeleteOptions::new().with_prefix())),
    )
    .await;
    let resp = match deleted {
        Ok(Ok(resp)) => resp,
        Ok(Err(e)) => return cleanup_failed(&message_of(&e)),
        Err(_) => return cleanup_failed("context deadline exceeded"),
    };
    if auto_compact {
        let rev = resp.header().map(|h| h.revision()).unwrap_or_default();
        emit(format!("Compacting with revision {rev}\n").as_bytes())?;
        client
            .compact(rev, Some(CompactionOptions::new().with_physical()))
            .await?;
        emit(format!("Compacted with revision {rev}\n").as_bytes())?;
    }
    Ok(())
}

fn cleanup_failed(why: &str) -> CliResult {
    emit(format!("FAIL: Cleanup failed during key deletion: ERROR({why})\n").as_bytes())
}

/// `--auto-defrag`: defragments each endpoint, as etcdctl's `defrag` helper says it.
async fn defrag_all(ctx: &Ctx, client: &Client) -> CliResult {
    let maintenance = client.maintenance_client();
    for endpoint in &ctx.endpoints {
        let quoted = crate::output::gofmt::quote(endpoint.as_bytes());
        emit(format!("Defragmenting {quoted}\n").as_bytes())?;
        maintenance.at(endpoint)?.defragment().await?;
        emit(format!("Defragmented {quoted}\n").as_bytes())?;
    }
    Ok(())
}

/// A progress bar on stderr when it is a terminal, as etcdctl's.
fn bar(len: u64) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template("{pos} / {len} [{wide_bar}] {percent}% {elapsed}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    Some(bar)
}

/// Resolves on Ctrl-C; pending forever where signals cannot be watched.
async fn interrupt() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

async fn perf(ctx: &Ctx, args: CheckArgs) -> CliResult {
    if !args.args.is_empty() {
        return Err(CliError::bad_args(
            "check perf command accepts no arguments",
        ));
    }
    let model = perf_model(&args.load)?;
    let prefix = args
        .prefix
        .clone()
        .unwrap_or_else(|| "/etcdctl-check-perf/".to_string());
    let clients = clients(ctx, model.clients).await?;
    let first = clients[0].clone();
    refuse_used_prefix(&first, &prefix).await?;

    let bar = bar(model.duration);
    let report = Arc::new(Mutex::new(Report::default()));
    let slots = Arc::new(Semaphore::new(model.clients));
    let value = vec![0u8; 1024];
    let mut key_buf = vec![0u8; 256];
    let mut rng = Rng::new();
    let mut tasks = tokio::task::JoinSet::new();

    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(model.duration);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(model.limit)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seconds = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_secs(1),
        Duration::from_secs(1),
    );
    let interrupted = interrupt();
    tokio::pin!(interrupted);
    let mut next_client = 0usize;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = seconds.tick() => {
                if let Some(bar) = &bar { bar.inc(1); }
                continue;
            }
            () = tokio::time::sleep_until(deadline) => break,
            () = &mut interrupted => break,
        }
        // A free client, as etcdctl's requests channel waits for one.
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            () = tokio::time::sleep_until(deadline) => break,
        };
        let client = clients[next_client % clients.len()].clone();
        next_client = next_client.wrapping_add(1);
        let key = next_key(prefix.as_bytes(), &mut key_buf, &mut rng);
        let value = value.clone();
        let report = report.clone();
        tasks.spawn(async move {
            let start = Instant::now();
            let result = client
                .put(key, value, None)
                .await
                .map(|_| start.elapsed())
                .map_err(|e| message_of(&e));
            if let Ok(mut r) = report.lock() {
                r.record(result);
            }
            drop(permit);
        });
    }
    while tasks.join_next().await.is_some() {}
    let total = started.elapsed();
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = std::mem::take(&mut *report.lock().map_err(|_| {
        CliError::new(
            exit::ERROR,
            "the check's results were lost (a writer panicked)",
        )
    })?);
    let stats = report.stats(total);

    cleanup(&first, &prefix, args.auto_compact).await?;
    if args.auto_defrag {
        defrag_all(ctx, &first).await?;
    }

    let mut out = String::new();
    let mut ok = true;
    if !stats.errors.is_empty() {
        out.push_str("FAIL: too many errors\n");
        for (error, count) in &stats.errors {
            out.push_str(&format!("FAIL: ERROR({error}) -> {count}\n"));
        }
        ok = false;
    }
    #[allow(clippy::cast_possible_truncation)] // rates far below i64::MAX
    let rate = stats.rps as i64 + 1;
    if stats.rps / f64::from(model.limit) <= 0.9 {
        out.push_str(&format!("FAIL: Throughput too low: {rate} writes/s\n"));
        ok = false;
    } else {
        out.push_str(&format!("PASS: Throughput is {rate} writes/s\n"));
    }
    if stats.slowest > 0.5 {
        out.push_str(&format!(
            "Slowest request took too long: {:.6}s\n",
            stats.slowest
        ));
        ok = false;
    } else {
        out.push_str(&format!(
            "PASS: Slowest request took {:.6}s\n",
            stats.slowest
        ));
    }
    if stats.stddev > 0.1 {
        out.push_str(&format!("Stddev too high: {:.6}s\n", stats.stddev));
        ok = false;
    } else {
        out.push_str(&format!("PASS: Stddev is {:.6}s\n", stats.stddev));
    }
    out.push_str(if ok { "PASS\n" } else { "FAIL\n" });
    emit(out.as_bytes())?;
    if ok {
        Ok(())
    } else {
        Err(CliError::silent(exit::ERROR))
    }
}

/// The first endpoint's `process_resident_memory_bytes`, from its `/metrics` (etcdctl's
/// `endpointMemoryMetrics`); problems are printed and give 0, as there.
async fn resident_memory(ctx: &Ctx, endpoint: &str) -> f64 {
    let base = if endpoint.starts_with("http://") || endpoint.starts_with("https://") {
        endpoint.trim_end_matches('/').to_string()
    } else {
        format!("http://{endpoint}")
    };
    let url = format!("{base}/metrics");
    let client = match metrics_client(ctx, base.starts_with("https://")) {
        Ok(c) => c,
        Err(e) => {
            println_out(&format!("client certificate error: {e}"));
            return 0.0;
        }
    };
    let body = match client.get(&url).send().await {
        Ok(resp) => match resp.text().await {
            Ok(body) => body,
            Err(e) => {
                println_out(&format!("fetch error: reading {url}: {e}"));
                return 0.0;
            }
        },
        Err(e) => {
            println_out(&format!("fetch error: {e}"));
            return 0.0;
        }
    };
    const KEY: &str = "process_resident_memory_bytes";
    let Some(value) = body
        .lines()
        .find_map(|l| l.strip_prefix(KEY))
        .map(str::trim)
    else {
        println_out(&format!("could not find: {KEY}"));
        return 0.0;
    };
    match value.parse::<f64>() {
        Ok(v) => v,
        Err(e) => {
            println_out(&format!("parse error: {e}"));
            0.0
        }
    }
}

fn println_out(line: &str) {
    let _ = emit(format!("{line}\n").as_bytes());
}

/// An HTTP client for `/metrics` with the TLS flags of the command.
fn metrics_client(ctx: &Ctx, https: bool) -> Result<reqwest::Client, String> {
    #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
    let mut builder = reqwest::Client::builder()
        .timeout(ctx.global.command_timeout)
        .connect_timeout(ctx.global.dial_timeout);
    #[cfg(feature = "tls")]
    if https {
        let read =
            |p: &std::path::Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
        if let Some(ca) = &ctx.global.cacert {
            let certs =
                reqwest::Certificate::from_pem_bundle(&read(ca)?).map_err(|e| e.to_string())?;
            builder = builder.tls_certs_only(certs);
        }
        if let (Some(cert), Some(key)) = (&ctx.global.cert, &ctx.global.key) {
            let mut pem = read(cert)?;
            pem.push(b'\n');
            pem.extend(read(key)?);
            builder =
                builder.identity(reqwest::Identity::from_pem(&pem).map_err(|e| e.to_string())?);
        }
        if ctx.global.insecure_skip_tls_verify {
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
    }
    #[cfg(not(feature = "tls"))]
    let _ = https;
    builder.build().map_err(|e| e.to_string())
}

async fn datascale(ctx: &Ctx, args: CheckArgs) -> CliResult {
    if !args.args.is_empty() {
        return Err(CliError::bad_args(
            "check datascale command accepts no arguments",
        ));
    }
    let model = datascale_model(&args.load)?;
    let prefix = args
        .prefix
        .clone()
        .unwrap_or_else(|| "/etcdctl-check-datascale/".to_string());
    let clients = clients(ctx, model.clients).await?;
    let first = clients[0].clone();
    refuse_used_prefix(&first, &prefix).await?;
    let Some(endpoint) = ctx.endpoints.first() else {
        return Err(CliError::bad_args("no endpoints given (--endpoints)"));
    };

    let before = resident_memory(ctx, endpoint).await;
    if before == 0.0 {
        emit(b"FAIL: Could not read process_resident_memory_bytes before the put operations.\n")?;
        return Err(CliError::silent(exit::ERROR));
    }
    emit(
        format!(
            "Start data scale check for work load [{} key-value pairs, {} bytes per key-value, {} concurrent clients].\n",
            model.limit, model.kv_size, model.clients
        )
        .as_bytes(),
    )?;
    let bar = bar(model.limit as u64);
    let report = Arc::new(Mutex::new(Report::default()));
    let slots = Arc::new(Semaphore::new(model.clients));
    // etcdctl writes 512-byte keys and 512-byte values: 1 KiB per key-value.
    let value = vec![0u8; 512];
    let mut key_buf = vec![0u8; 512];
    let mut rng = Rng::new();
    let mut tasks = tokio::task::JoinSet::new();
    let started = Instant::now();
    for i in 0..model.limit {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
        };
        let client = clients[i % clients.len()].clone();
        let key = next_key(prefix.as_bytes(), &mut key_buf, &mut rng);
        let value = value.clone();
        let report = report.clone();
        let bar = bar.clone();
        tasks.spawn(async move {
            let start = Instant::now();
            let result = client
                .put(key, value, None)
                .await
                .map(|_| start.elapsed())
                .map_err(|e| message_of(&e));
            if let Ok(mut r) = report.lock() {
                r.record(result);
            }
            if let Some(bar) = bar {
                bar.inc(1);
            }
            drop(permit);
        });
    }
    while tasks.join_next().await.is_some() {}
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = std::mem::take(&mut *report.lock().map_err(|_| {
        CliError::new(
            exit::ERROR,
            "the check's results were lost (a writer panicked)",
        )
    })?);
    let stats = report.stats(started.elapsed());

    let after = resident_memory(ctx, endpoint).await;
    if after == 0.0 {
        emit(b"FAIL: Could not read process_resident_memory_bytes after the put operations.\n")?;
        return Err(CliError::silent(exit::ERROR));
    }
    let deleted = first
        .delete(prefix.as_str(), Some(DeleteOptions::new().with_prefix()))
        .await?;
    if args.auto_compact {
        let rev = deleted.header().map(|h| h.revision()).unwrap_or_default();
        emit(format!("Compacting with revision {rev}\n").as_bytes())?;
        first
            .compact(rev, Some(CompactionOptions::new().with_physical()))
            .await?;
        emit(format!("Compacted with revision {rev}\n").as_bytes())?;
    }
    if args.auto_defrag {
        defrag_all(ctx, &first).await?;
    }
    if !stats.errors.is_empty() {
        let mut out = String::from("FAIL: too many errors\n");
        for (error, count) in &stats.errors {
            out.push_str(&format!("FAIL: ERROR({error}) -> {count}\n"));
        }
        emit(out.as_bytes())?;
        return Err(CliError::silent(exit::ERROR));
    }
    let mb_used = (after - before) / (1024.0 * 1024.0);
    emit(format!("PASS: Approximate system memory used : {mb_used:.2} MB.\n").as_bytes())?;
    Ok(())
}
