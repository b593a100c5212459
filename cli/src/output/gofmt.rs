//! The few Go formatting rules etcdctl's output depends on: `%q` quoting, `time.Duration`'s
//! `String`, go-humanize's `Bytes`, etcdctl's `\x` hex form, and encoding/json's string
//! escaping.

use std::fmt::Write as _;
use std::time::Duration;

/// etcdctl's `--hex` form of bytes: `\x61\x62`.
pub(crate) fn hex_prefixed(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 4);
    for b in bytes {
        let _ = write!(s, "\\x{b:02x}");
    }
    s
}

/// Whether Go's `unicode.IsPrint` would say so (near enough: letters, marks, numbers,
/// punctuation, symbols and the ASCII space are printable; controls, other spaces and the
/// format characters Rust can name are not).
fn is_go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(
        c,
        '\u{ad}'
            | '\u{600}'..='\u{605}'
            | '\u{61c}'
            | '\u{6dd}'
            | '\u{70f}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{e000}'..='\u{f8ff}'
    )
}

/// Go's `%q` (`strconv.Quote`) of bytes taken as a string: printable runes as they are,
/// `\"` and `\\`, C escapes, `\xHH` for bytes that are not UTF-8, `\u`/`\U` for the rest.
pub(crate) fn quote(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if is_go_printable(c) => out.push(c),
                '\u{7}' => out.push_str("\\a"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{b}' => out.push_str("\\v"),
                c if (c as u32) < 0x20 || c == '\u{7f}' => {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                }
                c if (c as u32) < 0x10000 => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => {
                    let _ = write!(out, "\\U{:08x}", c as u32);
                }
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out.push('"');
    out
}

/// Go's `time.Duration.String()`: `957.651µs`, `1.5s`, `1m30s`, `2h0m0s`.
pub(crate) fn duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < 1_000_000_000 {
        let (unit, digits) = match nanos {
            0..=999 => return format!("{nanos}ns"),
            1_000..=999_999 => ("µs", 3),
            _ => ("ms", 6),
        };
        return format!("{}{unit}", with_fraction(nanos, digits));
    }
    let secs = nanos / 1_000_000_000;
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    let seconds = with_fraction(s * 1_000_000_000 + nanos % 1_000_000_000, 9);
    match (h, m) {
        (0, 0) => format!("{seconds}s"),
        (0, m) => format!("{m}m{seconds}s"),
        (h, m) => format!("{h}h{m}m{seconds}s"),
    }
}

/// `value / 10^digits` with its fraction, trailing zeros (and a bare dot) dropped.
fn with_fraction(value: u128, digits: u32) -> String {
    let scale = 10u128.pow(digits);
    let (whole, frac) = (value / scale, value % scale);
    if frac == 0 {
        return whole.to_string();
    }
    let frac = format!("{frac:0width$}", width = digits as usize);
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

/// go-humanize's `Bytes` (SI units): `20 kB`, `1.2 MB`, `9 B`.
pub(crate) fn humanize_bytes(size: u64) -> String {
    const SIZES: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    if size < 10 {
        return format!("{size} B");
    }
    #[allow(clippy::cast_precision_loss)] // as go-humanize: a float of the size
    let s = size as f64;
    let e = (s.ln() / 1000f64.ln()).floor();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // 1 <= e <= 6
    let suffix = SIZES[(e as usize).min(SIZES.len() - 1)];
    let val = (s / 1000f64.powf(e) * 10.0 + 0.5).floor() / 10.0;
    if val < 10.0 {
        format!("{val:.1} {suffix}")
    } else {
        format!("{val:.0} {suffix}")
    }
}

/// Appends a JSON string as Go's encoding/json writes it (Go 1.16, which etcdctl 3.5 is built
/// with): `<`, `>` and `&` escaped for HTML, other control characters as `\u00XX`, U+2028
/// and U+2029 escaped.
pub(crate) fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_go() {
        assert_eq!(quote(b"a"), "\"a\"");
        assert_eq!(quote(b"\x00"), "\"\\x00\"");
        assert_eq!(quote(b"a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(quote(&[0xff, b'x']), "\"\\xffx\"");
        assert_eq!(quote("héllo ✓".as_bytes()), "\"héllo ✓\"");
        assert_eq!(quote("\u{a0}".as_bytes()), "\"\\u00a0\"");
    }

    #[test]
    fn durations_like_go() {
        assert_eq!(duration(Duration::ZERO), "0s");
        assert_eq!(duration(Duration::from_nanos(500)), "500ns");
        assert_eq!(duration(Duration::from_nanos(957_651)), "957.651µs");
        assert_eq!(duration(Duration::from_nanos(1_037_810)), "1.03781ms");
        assert_eq!(duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(duration(Duration::from_secs(7200)), "2h0m0s");
    }

    #[test]
    fn bytes_like_go_humanize() {
        assert_eq!(humanize_bytes(9), "9 B");
        assert_eq!(humanize_bytes(20480), "20 kB");
        assert_eq!(humanize_bytes(25 * 1024), "26 kB");
        assert_eq!(humanize_bytes(1_234_567), "1.2 MB");
        assert_eq!(humanize_bytes(999), "999 B");
    }

    #[test]
    fn json_strings_like_go() {
        let mut s = String::new();
        json_string(&mut s, "a<b>&\"\\\n\u{1}é");
        assert_eq!(s, "\"a\\u003cb\\u003e\\u0026\\\"\\\\\\n\\u0001é\"");
    }

    #[test]
    fn hex_like_etcdctl() {
        assert_eq!(hex_prefixed(b"a1"), "\\x61\\x31");
    }
}
