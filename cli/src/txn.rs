//! etcdctl's transaction syntax: compares, then the operations on success, then those on
//! failure, each section ended by a blank line.
//!
//! ```text
//! value("k") = "v"
//! mod("counter") > "10"
//!
//! put k "new value"
//! get k --prefix
//!
//! del k
//!
//! ```
//!
//! A compare is `target("key") op "value"` as Go's `fmt.Sscanf("%q) %s %q")` reads it; an
//! operation is a `put`, `get` or `del` line with the commands' own flags, split into words
//! as etcdctl's `argify` splits it (double-quoted words with Go escapes, single-quoted words
//! verbatim).

use std::io::BufRead;

use clap::Parser;
use etcdgw::{Compare, CompareOp, Txn, TxnOp};

use crate::args::{TxnOpCommand, TxnOpLine};
use crate::error::{CliError, CliResult};
use crate::requests;

/// The syntax, for `txn --help`.
pub(crate) const SYNTAX_HELP: &str = "\
Transaction syntax (etcdctl's), read from stdin; each section ends with a blank line:
  <compares, one per line>
  <blank line>
  <operations run if every compare holds, one per line>
  <blank line>
  <operations run otherwise, one per line>
  <blank line>

Compares: value(\"k\") = \"v\"   mod(\"k\") > \"0\"   create(\"k\") < \"3\"   version(\"k\") = \"0\"
          lease(\"k\") = \"<lease ID in hex>\"
          operators =, !=, <, >; targets may be written val, m, c, ver
Operations: put <key> <value> [--lease=<hex>] [--prev-kv] [--ignore-value] [--ignore-lease]
            get <key> [range_end] [--prefix] [--from-key] [--limit=N] [--rev=N] [--keys-only]
            del <key> [range_end] [--prefix] [--from-key] [--prev-kv]
Words with spaces are quoted: put k \"hello world\" or put k 'hello world'.";

/// Reads a whole transaction; `prompt` is called before each section (interactive mode).
pub(crate) fn read(
    input: &mut impl BufRead,
    mut prompt: impl FnMut(&str) -> CliResult,
) -> CliResult<Txn> {
    prompt("compares:")?;
    let compares = read_section(input)?
        .iter()
        .map(|l| parse_compare(l))
        .collect::<CliResult<Vec<_>>>()?;
    prompt("success requests (get, put, del):")?;
    let success = read_ops(input)?;
    prompt("failure requests (get, put, del):")?;
    let failure = read_ops(input)?;
    Ok(Txn::new().when(compares).and_then(success).or_else(failure))
}

fn read_ops(input: &mut impl BufRead) -> CliResult<Vec<TxnOp>> {
    read_section(input)?.iter().map(|l| parse_op(l)).collect()
}

/// The lines up to the next blank one, trimmed. Input that ends before that blank line is an
/// error, as in etcdctl (`Error: EOF`).
fn read_section(input: &mut impl BufRead) -> CliResult<Vec<String>> {
    let mut lines = Vec::new();
    loop {
        let mut raw = Vec::new();
        let n = input
            .read_until(b'\n', &mut raw)
            .map_err(|e| CliError::invalid_input(e.to_string()))?;
        if n == 0 || raw.last() != Some(&b'\n') {
            return Err(CliError::invalid_input("EOF"));
        }
        let line = String::from_utf8(raw)
            .map_err(|_| CliError::invalid_input("the transaction is not UTF-8 text"))?;
        let line = line.trim();
        if line.is_empty() {
            return Ok(lines);
        }
        lines.push(line.to_string());
    }
}

/// Reads a Go quoted string (`"..."` with escapes, or `` `...` `` raw) at the start of `s`,
/// after spaces; returns its bytes and what follows.
fn scan_quoted(s: &str) -> Option<(Vec<u8>, &str)> {
    let s = s.trim_start();
    let mut chars = s.char_indices();
    match chars.next()?.1 {
        '`' => {
            let end = s[1..].find('`')? + 1;
            Some((s.as_bytes()[1..end].to_vec(), &s[end + 1..]))
        }
        '"' => {
            let mut escaped = false;
            for (i, c) in chars {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    return Some((unquote(&s[1..i])?, &s[i + 1..]));
                }
            }
            None
        }
        _ => None,
    }
}

/// The bytes of the inside of a Go double-quoted string (`strconv.Unquote`'s escapes:
/// `\a \b \f \n \r \t \v \\ \"`, `\xHH`, `\OOO`, `\uHHHH`, `\UHHHHHHHH`).
fn unquote(inner: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            if c == '"' || c == '\n' {
                return None;
            }
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let esc = chars.next()?;
        let simple = match esc {
            'a' => Some(7),
            'b' => Some(8),
            'f' => Some(12),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(11),
            '\\' => Some(b'\\'),
            '"' => Some(b'"'),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            continue;
        }
        let mut digits = |n: usize, radix: u32| -> Option<u32> {
            let mut v = 0u32;
            for _ in 0..n {
                v = v * radix + chars.next()?.to_digit(radix)?;
            }
            Some(v)
        };
        match esc {
            'x' => out.push(u8::try_from(digits(2, 16)?).ok()?),
            '0'..='7' => {
                let rest = digits(2, 8)?;
                let v = esc.to_digit(8)? * 64 + rest;
                out.push(u8::try_from(v).ok()?);
            }
            'u' | 'U' => {
                let v = digits(if esc == 'u' { 4 } else { 8 }, 16)?;
                let c = char::from_u32(v)?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Parses a compare: `target("key") op "value"`.
pub(crate) fn parse_compare(line: &str) -> CliResult<Compare> {
    let malformed =
        |why: &str| CliError::invalid_input(format!("malformed comparison: {line}{why}"));
    let (target, rest) = line.split_once('(').ok_or_else(|| malformed(""))?;
    let (key, rest) = scan_quoted(rest).ok_or_else(|| malformed(""))?;
    let rest = rest
        .strip_prefix(')')
        .ok_or_else(|| malformed(""))?
        .trim_start();
    let op_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let (op, rest) = rest.split_at(op_end);
    let (value, _) = scan_quoted(rest).ok_or_else(|| malformed(""))?;
    let op = match op {
        "=" => CompareOp::Equal,
        "!=" => CompareOp::NotEqual,
        "<" => CompareOp::Less,
        ">" => CompareOp::Greater,
        other => return Err(malformed(&format!(" (unknown operator {other})"))),
    };
    let invalid = || CliError::invalid_input(format!("invalid txn compare request: {line}"));
    let number = || -> CliResult<i64> {
        std::str::from_utf8(&value)
            .ok()
            .and_then(|v| v.parse().ok())
            .ok_or_else(invalid)
    };
    Ok(match target {
        "ver" | "version" => Compare::version(key, op, number()?),
        "c" | "create" => Compare::create_revision(key, op, number()?),
        "m" | "mod" => Compare::mod_revision(key, op, number()?),
        "val" | "value" => Compare::value(key, op, value),
        // Lease IDs are hexadecimal everywhere in etcdctl's output and flags.
        "lease" => {
            let id = std::str::from_utf8(&value)
                .ok()
                .and_then(|v| i64::from_str_radix(v, 16).ok())
                .ok_or_else(invalid)?;
            Compare::lease(key, op, id)
        }
        other => return Err(malformed(&format!(" (unknown target {other})"))),
    })
}

/// Splits an operation line into words as etcdctl's `argify` does (its regular expression
/// `"(?:[^"\\]|\\.)*"|'[^']*'|[^'"\s]\S*[^'"\s]?`): double-quoted words unquoted with Go's
/// escapes, single-quoted words taken verbatim, other words up to the next space. A quote
/// that is never closed is skipped.
pub(crate) fn argify(line: &str) -> CliResult<Vec<String>> {
    let mut words = Vec::new();
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        if c.is_whitespace() {
            rest = &rest[c.len_utf8()..];
            continue;
        }
        match c {
            '"' => {
                // The closing quote: the first one not escaped.
                let mut end = None;
                let mut escaped = false;
                for (i, ch) in rest.char_indices().skip(1) {
                    if escaped {
                        escaped = false;
                    } else if ch == '\\' {
                        escaped = true;
                    } else if ch == '"' {
                        end = Some(i);
                        break;
                    }
                }
                match end {
                    Some(end) => {
                        let bytes = unquote(&rest[1..end]).ok_or_else(|| {
                            CliError::invalid_input(format!("bad quoted string in: {line}"))
                        })?;
                        let word = String::from_utf8(bytes).map_err(|_| {
                            CliError::invalid_input(format!("not UTF-8 once unquoted: {line}"))
                        })?;
                        words.push(word);
                        rest = &rest[end + 1..];
                    }
                    None => rest = &rest[1..],
                }
            }
            '\'' => match rest[1..].find('\'') {
                Some(end) => {
                    words.push(rest[1..end + 1].to_string());
                    rest = &rest[end + 2..];
                }
                None => rest = &rest[1..],
            },
            _ => {
                let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                words.push(rest[..end].to_string());
                rest = &rest[end..];
            }
        }
    }
    Ok(words)
}

/// Parses an operation line: `put`, `get` or `del` with their flags.
pub(crate) fn parse_op(line: &str) -> CliResult<TxnOp> {
    let words = argify(line)?;
    if words.len() < 2 {
        return Err(CliError::invalid_input(format!(
            "invalid txn compare request: {line}"
        )));
    }
    let parsed = TxnOpLine::try_parse_from(&words)
        .map_err(|_| CliError::invalid_input(format!("invalid txn request: {line}")))?;
    Ok(match parsed.op {
        TxnOpCommand::Get(args) => {
            let (key, options) = requests::get_request(&args)?;
            TxnOp::get(key, Some(options))
        }
        TxnOpCommand::Put(args) => {
            let (key, value, options) = requests::put_request(&args, None)?;
            TxnOp::put(key, value, Some(options))
        }
        TxnOpCommand::Del(args) => {
            let (key, options) = requests::del_request(&args)?;
            TxnOp::delete(key, Some(options))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argify_splits_like_etcdctl() {
        assert_eq!(argify("put k v").unwrap(), ["put", "k", "v"]);
        assert_eq!(
            argify(r#"put k "hello world\t!""#).unwrap(),
            ["put", "k", "hello world\t!"]
        );
        assert_eq!(
            argify("put k 'hello world'").unwrap(),
            ["put", "k", "hello world"]
        );
        assert_eq!(
            argify("  get   a --prefix ").unwrap(),
            ["get", "a", "--prefix"]
        );
        assert_eq!(argify(r#"put "k"v x"#).unwrap(), ["put", "k", "v", "x"]);
        assert_eq!(
            argify(r#"put k "unclosed"#).unwrap(),
            ["put", "k", "unclosed"]
        );
    }

    #[test]
    fn unquotes_go_escapes() {
        assert_eq!(unquote(r"a\x00\101\u00e9\n").unwrap(), b"a\x00A\xc3\xa9\n");
        assert!(unquote(r"\q").is_none());
        assert!(unquote(r"\x0").is_none());
        assert_eq!(
            scan_quoted(" `raw\\n` rest").unwrap(),
            (b"raw\\n".to_vec(), " rest")
        );
    }

    #[test]
    fn compares_parse() {
        for line in [
            r#"value("k") = "v""#,
            r#"mod("k") > "0""#,
            r#"create("k") < "3""#,
            r#"version("k") = "0""#,
            r#"ver("k") != "2""#,
            r#"lease("k") = "694d77aa9e38260f""#,
        ] {
            assert!(parse_compare(line).is_ok(), "{line}");
        }
        for line in [
            r#"value("k") == "v""#,
            r#"mod("k") > "x""#,
            r#"bogus("k") = "1""#,
            r#"value(k) = "v""#,
            r#"value("k" = "v""#,
            r#"value("k") ="#,
        ] {
            let err = parse_compare(line).unwrap_err();
            assert_eq!(err.code, 3, "{line}");
        }
    }

    #[test]
    fn sections_end_with_blank_lines() {
        let mut input: &[u8] = b"value(\"a\") = \"1\"\n\nput a 2\n\nget a\n\n";
        assert!(read(&mut input, |_| Ok(())).is_ok());
        let mut cut: &[u8] = b"value(\"a\") = \"1\"\n\nput a 2\n\nget a\n";
        let err = read(&mut cut, |_| Ok(())).unwrap_err();
        assert_eq!((err.code, err.message.as_str()), (3, "EOF"));
        let mut bad_op: &[u8] = b"\nbogus a\n\n\n";
        assert_eq!(read(&mut bad_op, |_| Ok(())).unwrap_err().code, 3);
        let mut no_value: &[u8] = b"\nput a\n\n\n";
        assert_eq!(read(&mut no_value, |_| Ok(())).unwrap_err().code, 128);
    }
}
