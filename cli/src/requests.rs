//! How the key-value commands' arguments become the library's requests: shared by `get`, `put`
//! and `del` and by the lines of a `txn`, checked as etcdctl checks them.

use std::io::Read;

use etcdgw::{DeleteOptions, GetOptions, PutOptions, SortOrder, SortTarget};

use crate::args::{DelArgs, GetArgs, PutArgs};
use crate::error::{CliError, CliResult};
use crate::parse::parse_lease_id;

/// The key and options of a get, checked as etcdctl's `getGetOp` checks them.
pub(crate) fn get_request(args: &GetArgs) -> CliResult<(Vec<u8>, GetOptions)> {
    let Some(key) = args.args.first() else {
        return Err(CliError::bad_args(
            "get command needs one argument as key and an optional argument as range_end",
        ));
    };
    if args.prefix && args.from_key {
        return Err(CliError::bad_args(
            "`--prefix` and `--from-key` cannot be set at the same time, choose one",
        ));
    }
    if args.keys_only && args.count_only {
        return Err(CliError::bad_args(
            "`--keys-only` and `--count-only` cannot be set at the same time, choose one",
        ));
    }
    let mut options = GetOptions::new();
    match args.consistency.as_str() {
        "s" => options = options.with_serializable(),
        "l" => {}
        other => {
            return Err(CliError::bad_feature(format!(
                "unknown consistency flag {other:?}"
            )))
        }
    }
    if let Some(end) = args.args.get(1) {
        if args.prefix || args.from_key {
            return Err(CliError::bad_args(
                "too many arguments, only accept one argument when `--prefix` or `--from-key` is set",
            ));
        }
        options = options.with_range(end.as_bytes());
    }
    options = options.with_limit(args.limit);
    if args.rev > 0 {
        options = options.with_revision(args.rev);
    }
    let order = match args.order.as_deref().map(str::to_uppercase).as_deref() {
        None | Some("") => SortOrder::None,
        Some("ASCEND") => SortOrder::Ascend,
        Some("DESCEND") => SortOrder::Descend,
        Some(_) => {
            return Err(CliError::bad_feature(format!(
                "bad sort order {}",
                args.order.as_deref().unwrap_or_default()
            )))
        }
    };
    let target = match args.sort_by.as_deref().map(str::to_uppercase).as_deref() {
        None | Some("" | "KEY") => SortTarget::Key,
        Some("CREATE") => SortTarget::Create,
        Some("MODIFY") => SortTarget::Mod,
        Some("VALUE") => SortTarget::Value,
        Some("VERSION") => SortTarget::Version,
        Some(_) => {
            return Err(CliError::bad_feature(format!(
                "bad sort target {}",
                args.sort_by.as_deref().unwrap_or_default()
            )))
        }
    };
    options = options.with_sort(target, order);
    // An empty key with --prefix or --from-key means every key (etcdctl's "\x00" from-key).
    if args.prefix {
        options = options.with_prefix();
    }
    if args.from_key {
        options = options.with_from_key();
    }
    if args.keys_only {
        options = options.with_keys_only();
    }
    if args.count_only {
        options = options.with_count_only();
    }
    Ok((key.as_bytes().to_vec(), options))
}

/// The key, value and options of a put, checked as etcdctl's `getPutOp` checks them. The
/// value is read from `stdin` when it is not an argument (never inside a transaction).
pub(crate) fn put_request(
    args: &PutArgs,
    stdin: Option<&mut dyn Read>,
) -> CliResult<(Vec<u8>, Vec<u8>, PutOptions)> {
    const USAGE: &str = "put command needs 1 argument and input from stdin or 2 arguments";
    let Some(key) = args.args.first() else {
        return Err(CliError::bad_args(USAGE));
    };
    if args.ignore_value && args.args.len() > 1 {
        return Err(CliError::bad_args(
            "put command needs only 1 argument when 'ignore-value' is set",
        ));
    }
    let value = if args.ignore_value {
        Vec::new()
    } else if let Some(value) = args.args.get(1) {
        value.as_bytes().to_vec()
    } else {
        let mut value = Vec::new();
        if let Some(stdin) = stdin {
            stdin
                .read_to_end(&mut value)
                .map_err(|_| CliError::bad_args(USAGE))?;
        }
        if value.is_empty() {
            return Err(CliError::bad_args(USAGE));
        }
        value
    };
    let lease = parse_lease_id(&args.lease, "lease ID")?;
    let mut options = PutOptions::new();
    if lease != 0 {
        options = options.with_lease(lease);
    }
    if args.prev_kv {
        options = options.with_prev_key();
    }
    if args.ignore_value {
        options = options.with_ignore_value();
    }
    if args.ignore_lease {
        options = options.with_ignore_lease();
    }
    Ok((key.as_bytes().to_vec(), value, options))
}

/// The key and options of a delete, checked as etcdctl's `getDelOp` checks them.
pub(crate) fn del_request(args: &DelArgs) -> CliResult<(Vec<u8>, DeleteOptions)> {
    if args.args.is_empty() || args.args.len() > 2 {
        return Err(CliError::bad_args(
            "del command needs one argument as key and an optional argument as range_end",
        ));
    }
    if args.prefix && args.from_key {
        return Err(CliError::bad_args(
            "`--prefix` and `--from-key` cannot be set at the same time, choose one",
        ));
    }
    let key = &args.args[0];
    let mut options = DeleteOptions::new();
    if let Some(end) = args.args.get(1) {
        if args.prefix || args.from_key {
            return Err(CliError::bad_args(
                "too many arguments, only accept one argument when `--prefix` or `--from-key` is set",
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
    if args.from_key {
        options = options.with_from_key();
    }
    Ok((key.as_bytes().to_vec(), options))
}
