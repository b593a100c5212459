//! Reading values as etcdctl does: endpoint lists, booleans and Go's durations.

use super::*;

pub(super) fn var<T>(name: String, value: T) -> Setting<T> {
    Setting {
        value,
        origin: Origin::Var(name),
    }
}

/// etcdctl's endpoint list: comma separated, blanks around each ignored.
pub(super) fn split_endpoints(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_string)
        .collect()
}

pub(super) fn duration_var(name: &str, value: &OsStr) -> Result<Duration> {
    let value = text(name, value)?;
    parse_duration(&value).map_err(|e| match e {
        Error::InvalidArgument { reason } => invalid(name, reason),
        other => other,
    })
}

/// Go's `strconv.ParseBool`, as etcdctl's boolean flags and variables take them.
pub(super) fn parse_bool(value: &str) -> std::result::Result<bool, String> {
    match value.trim() {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        other => Err(format!(
            "invalid value {other:?}: expected true or false (or 1, 0, t, f)"
        )),
    }
}

/// Parses a duration as Go's `time.ParseDuration` does, which etcdctl's flags and variables
/// use: a sequence of decimal numbers, each with an optional fraction and a unit (`ns`, `us`,
/// `µs`, `ms`, `s`, `m`, `h`), such as `5s`, `500ms` or `1m30s`; `0` alone is allowed.
///
/// # Errors
/// [`Error::InvalidArgument`] for anything else, negative durations included (no etcdctl
/// setting takes one) and a number without a unit.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use etcdgw::env::parse_duration;
///
/// assert_eq!(parse_duration("1m30s")?, Duration::from_secs(90));
/// assert_eq!(parse_duration("1.5s")?, Duration::from_millis(1500));
/// assert!(parse_duration("5").is_err());
/// # Ok::<(), etcdgw::Error>(())
/// ```
pub fn parse_duration(text: &str) -> Result<Duration> {
    let invalid = || {
        Error::invalid(format!(
            "invalid duration {text:?} (expected e.g. 5s, 500ms, 1m30s)"
        ))
    };
    let s = text.trim();
    let s = s.strip_prefix('+').unwrap_or(s);
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .ok_or_else(invalid)?;
        let (number, after) = rest.split_at(digits_end);
        if number.is_empty() || number == "." {
            return Err(invalid());
        }
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        let nanos_per_unit: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(invalid()),
        };
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        if frac.contains('.') {
            return Err(invalid());
        }
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| invalid())?
        };
        let mut value = whole.checked_mul(nanos_per_unit).ok_or_else(invalid)?;
        let mut scale = nanos_per_unit;
        for digit in frac.bytes() {
            scale /= 10;
            value = value
                .checked_add(u128::from(digit.saturating_sub(b'0')).saturating_mul(scale))
                .ok_or_else(invalid)?;
        }
        total = total.checked_add(value).ok_or_else(invalid)?;
        rest = next;
    }
    let secs = u64::try_from(total / 1_000_000_000).map_err(|_| invalid())?;
    // The remainder is below 10^9: it fits in a u32.
    let nanos = u32::try_from(total % 1_000_000_000).map_err(|_| invalid())?;
    Ok(Duration::new(secs, nanos))
}
