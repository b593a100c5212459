//! Test-only reader of the raw gateway captures in `tests/fixtures/captures/` (copied from the
//! protocol notes): each exchange's request body, response status and body chunks.

use std::path::PathBuf;

/// One HTTP exchange of a capture.
#[derive(Debug, Clone)]
pub(crate) struct Exchange {
    pub(crate) request_line: String,
    pub(crate) request_body: String,
    pub(crate) status: u16,
    /// Body bytes as they arrived, one entry per HTTP chunk (one entry for a sized body).
    pub(crate) chunks: Vec<Vec<u8>>,
}

impl Exchange {
    /// The whole response body.
    pub(crate) fn body(&self) -> Vec<u8> {
        self.chunks.concat()
    }

    /// The request body parsed as JSON.
    pub(crate) fn request_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.request_body)
            .unwrap_or_else(|e| panic!("request body of {} is not JSON: {e}", self.request_line))
    }
}

pub(crate) fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/captures")
        .join(name)
}

/// Reads `NAME.v34.txt` / `NAME.v35.txt` (or a full file name) and returns its exchanges.
pub(crate) fn capture(name: &str) -> Vec<Exchange> {
    let text =
        std::fs::read_to_string(path(name)).unwrap_or_else(|e| panic!("capture {name}: {e}"));
    parse(&text)
}

/// The versions captures are named after: `v34` is etcd 3.4.23, `v35` 3.5.1, `v3534` 3.5.34,
/// `v36` 3.6.15, `v37` 3.7.2 (`scripts/capture.py` records them).
pub(crate) const VERSIONS: [&str; 5] = ["v34", "v35", "v3534", "v36", "v37"];

/// Every version of a capture that exists: `[(version, exchanges)]`; at least one.
pub(crate) fn every(name: &str) -> Vec<(&'static str, Vec<Exchange>)> {
    let found: Vec<_> = VERSIONS
        .into_iter()
        .filter(|v| path(&format!("{name}.{v}.txt")).exists())
        .map(|v| (v, capture(&format!("{name}.{v}.txt"))))
        .collect();
    assert!(!found.is_empty(), "no capture named {name}");
    found
}

/// The first exchange's response body of every version there is.
pub(crate) fn every_body(name: &str) -> Vec<(&'static str, Vec<u8>)> {
    every(name)
        .into_iter()
        .map(|(v, ex)| (v, ex[0].body()))
        .collect()
}

/// Both versions of a capture: `[(version, exchanges)]`.
pub(crate) fn both(name: &str) -> Vec<(&'static str, Vec<Exchange>)> {
    ["v34", "v35"]
        .into_iter()
        .map(|v| (v, capture(&format!("{name}.{v}.txt"))))
        .collect()
}

/// The first exchange's response body of both versions.
pub(crate) fn bodies(name: &str) -> Vec<(&'static str, Vec<u8>)> {
    both(name)
        .into_iter()
        .map(|(v, ex)| (v, ex[0].body()))
        .collect()
}

fn unescape_chunk(line: &str) -> Vec<u8> {
    line.replace("\\n", "\n").replace("\\r", "\r").into_bytes()
}

fn parse(text: &str) -> Vec<Exchange> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if !lines[i].starts_with(">>> request") {
            i += 1;
            continue;
        }
        i += 1;
        let request_line = lines[i].to_string();
        while i < lines.len() && !lines[i].is_empty() {
            i += 1;
        }
        i += 1;
        let mut body = Vec::new();
        while i < lines.len() && !lines[i].starts_with("<<< response") {
            body.push(lines[i]);
            i += 1;
        }
        let request_body = body.join("\n").trim().to_string();
        i += 1;
        let status = lines
            .get(i)
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        while i < lines.len() && !lines[i].is_empty() {
            i += 1;
        }
        i += 1;
        let mut chunks = Vec::new();
        if lines.get(i).is_some_and(|l| l.starts_with("[chunked body")) {
            while i < lines.len() && !lines[i].starts_with("-- end") {
                if lines[i].starts_with("-- chunk at") {
                    i += 1;
                    let mut data = Vec::new();
                    while i < lines.len()
                        && !lines[i].starts_with("-- chunk at")
                        && !lines[i].starts_with("-- end")
                    {
                        data.extend(unescape_chunk(lines[i]));
                        i += 1;
                    }
                    chunks.push(data);
                } else {
                    i += 1;
                }
            }
        } else {
            let mut data = Vec::new();
            while i < lines.len() && !lines[i].starts_with("-- end") {
                data.push(lines[i]);
                i += 1;
            }
            chunks.push(data.join("\n").into_bytes());
        }
        out.push(Exchange {
            request_line,
            request_body,
            status,
            chunks,
        });
    }
    out
}
