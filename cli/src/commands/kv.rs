//! `get`, `put`, `del`, `txn`, `compaction`.

use etcdgw::CompactionOptions;

use super::Ctx;
use crate::args::{CompactionArgs, DelArgs, GetArgs, PutArgs, TxnArgs};
use crate::error::{exit, CliError, CliResult};
use crate::output::{emit, Format, Kind};
use crate::parse::parse_int;
use crate::requests::{del_request, get_request, put_request};

pub(crate) async fn get(ctx: &Ctx, args: GetArgs) -> CliResult {
    let (key, options) = get_request(&args)?;
    let mut printer = ctx.printer.clone();
    // etcdctl 3.5 prints a count only in the `fields` format.
    if args.count_only && printer.format != Format::Fields {
        return Err(CliError::bad_args(
            "--count-only is only for `--write-out=fields`",
        ));
    }
    if args.print_value_only {
        if printer.format != Format::Simple {
            return Err(CliError::bad_args(
                "print-value-only is only for `--write-out=simple`",
            ));
        }
        printer.value_only = true;
    }
    printer.check(Kind::Get)?;
    let resp = ctx.client().await?.get(key, Some(options)).await?;
    emit(&printer.get(&resp)?)
}

pub(crate) async fn put(ctx: &Ctx, args: PutArgs) -> CliResult {
    let mut stdin = std::io::stdin();
    let (key, value, options) = put_request(&args, Some(&mut stdin))?;
    ctx.printer.check(Kind::Put)?;
    let resp = ctx.client().await?.put(key, value, Some(options)).await?;
    emit(&ctx.printer.put(&resp)?)
}

pub(crate) async fn del(ctx: &Ctx, args: DelArgs) -> CliResult {
    let (key, options) = del_request(&args)?;
    ctx.printer.check(Kind::Del)?;
    let resp = ctx.client().await?.delete(key, Some(options)).await?;
    emit(&ctx.printer.del(&resp)?)
}

pub(crate) async fn txn(ctx: &Ctx, args: TxnArgs) -> CliResult {
    if !args.args.is_empty() {
        return Err(CliError::bad_args("txn command does not accept argument"));
    }
    ctx.printer.check(Kind::Txn)?;
    let interactive = args.interactive;
    let mut input = std::io::stdin().lock();
    let txn = crate::txn::read(&mut input, |prompt| {
        if interactive {
            emit(format!("{prompt}\n").as_bytes())
        } else {
            Ok(())
        }
    })?;
    let resp = ctx.client().await?.txn(txn).await?;
    emit(&ctx.printer.txn(&resp)?)
}

pub(crate) async fn compaction(ctx: &Ctx, args: CompactionArgs) -> CliResult {
    if args.args.len() != 1 {
        return Err(CliError::bad_args("compaction command needs 1 argument"));
    }
    let rev = parse_int(&args.args[0], 10).map_err(|e| CliError::new(exit::ERROR, e))?;
    let mut options = CompactionOptions::new();
    if args.physical {
        options = options.with_physical();
    }
    ctx.client().await?.compact(rev, Some(options)).await?;
    emit(format!("compacted revision {rev}\n").as_bytes())
}
