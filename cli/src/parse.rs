//! etcdctl's number arguments (member IDs, lease IDs, revisions, TTLs), read as Go reads them,
//! with the error texts etcdctl puts in its messages.

use crate::error::{CliError, CliResult};

/// Go's `strconv.ParseUint(text, 16, 64)` for member IDs, with etcdctl's message.
pub(crate) fn parse_member_id(text: &str) -> CliResult<u64> {
    u64::from_str_radix(text, 16).map_err(|e| {
        let why = match e.kind() {
            std::num::IntErrorKind::PosOverflow => "value out of range",
            _ => "invalid syntax",
        };
        CliError::bad_args(format!(
            "bad member ID arg (strconv.ParseUint: parsing {text:?}: {why}), expecting ID in Hex"
        ))
    })
}

/// Go's `strconv.ParseInt`, with its error text, which etcdctl puts in its messages.
pub(crate) fn parse_int(text: &str, radix: u32) -> Result<i64, String> {
    i64::from_str_radix(text, radix).map_err(|e| {
        let why = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                "value out of range"
            }
            _ => "invalid syntax",
        };
        format!("strconv.ParseInt: parsing {text:?}: {why}")
    })
}

/// Hexadecimal lease ID arguments, as etcdctl takes them (`what` is etcdctl's name for the
/// argument in its message).
pub(crate) fn parse_lease_id(text: &str, what: &str) -> CliResult<i64> {
    parse_int(text, 16)
        .map_err(|e| CliError::bad_args(format!("bad {what} ({e}), expecting ID in Hex")))
}
