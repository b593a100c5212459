//! The `table` format: the four tables etcdctl draws (member list, endpoint health, status
//! and hashkv), drawn as its table library (olekukonko/tablewriter 0.0.5) draws them: borders of
//! `+-|`, centred upper-case headers, right-aligned cells, and cells wider than 30 columns
//! wrapped at spaces with minimal raggedness.

use etcdgw::MemberListResponse;

use super::{gofmt, EpHashKv, EpHealth, EpStatus};

/// tablewriter's `MAX_ROW_WIDTH`: cells wider than this are wrapped (at spaces).
const MAX_WIDTH: usize = 30;

pub(super) fn member_rows(resp: &MemberListResponse) -> Vec<Vec<String>> {
    resp.members()
        .iter()
        .map(|m| {
            vec![
                format!("{:x}", m.id()),
                if m.name().is_empty() {
                    "unstarted"
                } else {
                    "started"
                }
                .to_string(),
                m.name().to_string(),
                m.peer_urls().join(","),
                m.client_urls().join(","),
                m.is_learner().to_string(),
            ]
        })
        .collect()
}

pub(super) fn member_list(resp: &MemberListResponse) -> String {
    render(
        &[
            "ID",
            "Status",
            "Name",
            "Peer Addrs",
            "Client Addrs",
            "Is Learner",
        ],
        &member_rows(resp),
    )
}

fn health_rows(list: &[EpHealth]) -> Vec<Vec<String>> {
    list.iter()
        .map(|h| {
            vec![
                h.endpoint.clone(),
                h.health.to_string(),
                h.took.map(gofmt::duration).unwrap_or_default(),
                h.error.clone(),
            ]
        })
        .collect()
}

pub(super) fn endpoint_health(list: &[EpHealth]) -> String {
    render(&["endpoint", "health", "took", "error"], &health_rows(list))
}

pub(super) fn status_rows(list: &[EpStatus]) -> Vec<Vec<String>> {
    list.iter()
        .map(|ep| {
            let s = &ep.status;
            let member = s.header().map(|h| h.member_id()).unwrap_or_default();
            vec![
                ep.endpoint.clone(),
                format!("{member:x}"),
                s.version().to_string(),
                gofmt::humanize_bytes(u64::try_from(s.db_size()).unwrap_or(0)),
                (s.leader() == member).to_string(),
                s.is_learner().to_string(),
                s.raft_term().to_string(),
                s.raft_index().to_string(),
                s.raft_applied_index().to_string(),
                s.errors().join(", "),
            ]
        })
        .collect()
}

pub(super) fn endpoint_status(list: &[EpStatus]) -> String {
    render(
        &[
            "endpoint",
            "ID",
            "version",
            "db size",
            "is leader",
            "is learner",
            "raft term",
            "raft index",
            "raft applied index",
            "errors",
        ],
        &status_rows(list),
    )
}

/// etcdctl 3.5's hashkv rows: the endpoint and the hash (3.6 adds the hash revision).
pub(super) fn hash_kv_rows(list: &[EpHashKv]) -> Vec<Vec<String>> {
    list.iter()
        .map(|ep| vec![ep.endpoint.clone(), ep.hash.hash().to_string()])
        .collect()
}

pub(super) fn endpoint_hash_kv(list: &[EpHashKv]) -> String {
    render(&["endpoint", "hash"], &hash_kv_rows(list))
}

/// Display width (one column per character; etcdctl's cells are ASCII).
fn width(s: &str) -> usize {
    s.chars().count()
}

/// tablewriter's `parseDimension` with auto-wrap and reflow: the cell's lines, and the widest.
fn cell_lines(cell: &str) -> (Vec<String>, usize) {
    let raw: Vec<&str> = cell.split('\n').collect();
    let widest = raw
        .iter()
        .map(|l| width(l))
        .max()
        .unwrap_or(0)
        .min(MAX_WIDTH);
    let lines = wrap_string(&raw.join(" "), widest);
    let widest = lines.iter().map(|l| width(l)).fold(widest, usize::max);
    (lines, widest)
}

/// tablewriter's `WrapString`: words split at single spaces, lines of at most `limit` columns
/// (or the longest word), chosen to minimise the sum of squared shortfalls.
fn wrap_string(s: &str, limit: usize) -> Vec<String> {
    let words: Vec<&str> = s.split(' ').collect();
    let limit = words.iter().map(|w| width(w)).fold(limit, usize::max);
    let n = words.len();
    let lengths: Vec<usize> = words.iter().map(|w| width(w)).collect();
    // length(i, j): words i..=j joined by single spaces.
    let length = |i: usize, j: usize| lengths[i..=j].iter().sum::<usize>() + (j - i);
    let mut cost = vec![i64::from(i32::MAX); n];
    let mut brk = vec![n; n];
    for i in (0..n).rev() {
        if length(i, n - 1) <= limit {
            cost[i] = 0;
            brk[i] = n;
            continue;
        }
        for j in i + 1..n {
            let line = length(i, j - 1);
            #[allow(clippy::cast_possible_wrap)] // widths are small
            let d = limit as i64 - line as i64;
            let mut c = d * d + cost[j];
            if line > limit {
                c += 100_000; // tablewriter's penalty for a line too long
            }
            if c < cost[i] {
                cost[i] = c;
                brk[i] = j;
            }
        }
    }
    let mut lines = Vec::new();
    let mut i = 0;
    while i < n {
        lines.push(words[i..brk[i]].join(" "));
        i = brk[i];
    }
    lines
}

fn pad_left(s: &str, w: usize) -> String {
    format!("{}{s}", " ".repeat(w.saturating_sub(width(s))))
}

fn pad_center(s: &str, w: usize) -> String {
    let gap = w.saturating_sub(width(s));
    let left = gap / 2;
    format!("{}{s}{}", " ".repeat(left), " ".repeat(gap - left))
}

/// Draws the table as tablewriter does with etcdctl's settings (right-aligned cells).
pub(super) fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let columns = headers.len();
    let mut widths = vec![0usize; columns];
    let mut header_cells = Vec::with_capacity(columns);
    for (i, h) in headers.iter().enumerate() {
        let (lines, w) = cell_lines(h);
        widths[i] = widths[i].max(w);
        header_cells.push(lines);
    }
    let mut body: Vec<Vec<Vec<String>>> = Vec::with_capacity(rows.len());
    for row in rows {
        let mut cells = Vec::with_capacity(columns);
        for (i, width) in widths.iter_mut().enumerate() {
            let (lines, w) = cell_lines(row.get(i).map(String::as_str).unwrap_or(""));
            *width = (*width).max(w);
            cells.push(lines);
        }
        body.push(cells);
    }

    let mut rule = String::from("+");
    for w in &widths {
        rule.push_str(&"-".repeat(w + 2));
        rule.push('+');
    }
    rule.push('\n');

    let mut out = rule.clone();
    let header_height = header_cells.iter().map(Vec::len).max().unwrap_or(0);
    for line in 0..header_height {
        out.push('|');
        for (i, cell) in header_cells.iter().enumerate() {
            let text = cell.get(line).map(|t| t.to_uppercase()).unwrap_or_default();
            out.push(' ');
            out.push_str(&pad_center(&text, widths[i]));
            out.push_str(" |");
        }
        out.push('\n');
    }
    out.push_str(&rule);
    for cells in &body {
        let height = cells.iter().map(Vec::len).max().unwrap_or(0);
        for line in 0..height {
            out.push('|');
            for (i, cell) in cells.iter().enumerate() {
                // tablewriter fills a shorter cell with lines of two spaces.
                let text = cell.get(line).map_or("  ", String::as_str);
                out.push(' ');
                out.push_str(&pad_left(text, widths[i]));
                out.push_str(" |");
            }
            out.push('\n');
        }
    }
    out.push_str(&rule);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_like_etcdctl() {
        let table = render(
            &["endpoint", "health", "took", "error"],
            &[vec![
                "127.0.0.1:23790".into(),
                "true".into(),
                "894.185µs".into(),
                String::new(),
            ]],
        );
        assert_eq!(
            table,
            "\
+-----------------+--------+-----------+-------+
|    ENDPOINT     | HEALTH |   TOOK    | ERROR |
+-----------------+--------+-----------+-------+
| 127.0.0.1:23790 |   true | 894.185µs |       |
+-----------------+--------+-----------+-------+
"
        );
    }

    #[test]
    fn wraps_long_cells_at_spaces() {
        let lines = wrap_string(
            "could not connect to http://127.0.0.1:1/: Connection refused (os error 111)",
            30,
        );
        assert!(lines.iter().all(|l| width(l) <= 30), "{lines:?}");
        assert_eq!(
            lines.join(" "),
            "could not connect to http://127.0.0.1:1/: Connection refused (os error 111)"
        );
        assert_eq!(wrap_string("short", 30), ["short"]);
        assert_eq!(wrap_string("", 0), [""]);
    }
}
