//! `snapshot save` (with a progress bar on a terminal) and `defrag`.

use std::io::{BufWriter, IsTerminal, Write};
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};

use super::Ctx;
use crate::args::{DefragArgs, SnapshotCommand};
use crate::error::{exit, message_of, CliError, CliResult};
use crate::output::{emit, warn};

/// A writer that moves a progress bar along.
struct Progress<W> {
    inner: W,
    bar: Option<ProgressBar>,
}

impl<W: Write> Write for Progress<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        if let Some(bar) = &self.bar {
            bar.inc(n as u64);
            if bar.length().is_some_and(|len| bar.position() > len) {
                bar.set_length(bar.position());
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A bar for about `total` bytes, or a byte counter when the size is unknown.
fn progress_bar(total: Option<u64>) -> ProgressBar {
    match total {
        Some(total) => {
            let bar = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(
                "{bytes}/{total_bytes} [{wide_bar}] {bytes_per_sec}, {eta} left",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        }
        None => {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {bytes} {bytes_per_sec}") {
                bar.set_style(style);
            }
            bar
        }
    }
}

pub(crate) async fn snapshot(ctx: &Ctx, cmd: SnapshotCommand) -> CliResult {
    let SnapshotCommand::Save { args } = cmd;
    let [path] = args.as_slice() else {
        return Err(CliError::bad_args("snapshot save expects one argument"));
    };
    // etcdctl's errors while saving are all ExitInterrupted.
    let interrupted = |message: String| CliError::new(exit::INTERRUPTED, message);
    if ctx.endpoints.len() != 1 {
        return Err(interrupted(format!(
            "snapshot must be requested to one selected node, not multiple {:?}",
            ctx.endpoints
        )));
    }
    let client = ctx.client().await?;
    let bar = if std::io::stderr().is_terminal() {
        // The snapshot is the member's database file (and a 32-byte hash): its size is the
        // bar's length, near enough.
        let total = client
            .status()
            .await
            .ok()
            .and_then(|s| u64::try_from(s.db_size()).ok())
            .map(|size| size + 32);
        Some(progress_bar(total))
    } else {
        None
    };
    let stream = client
        .snapshot()
        .await
        .map_err(|e| interrupted(message_of(&e)))?;

    // Written next to the target and renamed once complete and checked, as etcdctl does.
    let part = format!("{path}.part");
    // A snapshot holds every key and the users' password hashes: readable by its owner only.
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    let file = open
        .open(&part)
        .map_err(|e| interrupted(format!("could not open {part} ({e})")))?;
    let mut writer = Progress {
        inner: BufWriter::new(file),
        bar: bar.clone(),
    };
    let saved = stream.save_to(&mut writer).await;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let finish = |saved: etcdgw::Result<etcdgw::SnapshotInfo>| -> CliResult {
        saved.map_err(|e| interrupted(message_of(&e)))?;
        let file = writer
            .inner
            .into_inner()
            .map_err(|e| interrupted(format!("could not write {part} ({})", e.error())))?;
        file.sync_all()
            .map_err(|e| interrupted(format!("could not fsync {part} ({e})")))?;
        std::fs::rename(&part, Path::new(path))
            .map_err(|e| interrupted(format!("could not rename {part} to {path} ({e})")))?;
        Ok(())
    };
    if let Err(e) = finish(saved) {
        let _ = std::fs::remove_file(&part);
        return Err(e);
    }
    emit(format!("Snapshot saved at {path}\n").as_bytes())
}

pub(crate) async fn defrag(ctx: &Ctx, args: DefragArgs) -> CliResult {
    let endpoints = ctx.endpoints(args.cluster).await?;
    let client = ctx.client().await?;
    let maintenance = client.maintenance_client();
    let mut failures = 0;
    for endpoint in endpoints {
        let done = match maintenance.at(&endpoint) {
            Ok(at) => at.defragment().await,
            Err(e) => Err(e),
        };
        match done {
            Ok(_) => emit(format!("Finished defragmenting etcd member[{endpoint}]\n").as_bytes())?,
            Err(e) => {
                failures += 1;
                warn(&format!(
                    "Failed to defragment etcd member[{endpoint}] ({})",
                    message_of(&e)
                ));
            }
        }
    }
    if failures > 0 {
        return Err(CliError::silent(exit::ERROR));
    }
    Ok(())
}
