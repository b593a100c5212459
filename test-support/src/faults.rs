//! Hand-written servers for faults a real etcd cannot produce. Each says which fault it stands
//! for; nothing here imitates etcd's answers.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A socket that accepts connections and never answers: a black-holed endpoint (a hung host or
/// a firewall that drops replies). etcd always answers or closes, so this cannot be real etcd.
pub struct BlackHole {
    /// Where it listens.
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl BlackHole {
    /// Listens on a free loopback port.
    pub async fn start() -> BlackHole {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                held.push(socket); // keep it open, read nothing, write nothing
            }
        });
        BlackHole {
            addr,
            accepted,
            task,
        }
    }

    /// How many connections were made to it.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Its URL, as an endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An HTTP server that is not etcd: it reads a request and answers every one with the same
/// fixed response (e.g. a web server's HTML 404, or some other service's JSON).
pub struct NotEtcd {
    /// Where it listens.
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl NotEtcd {
    /// Listens on a free loopback port and answers every request with this status line
    /// (`HTTP/1.1 404 Not Found`), content type and body.
    pub async fn start(
        status_line: &'static str,
        content_type: &'static str,
        body: &'static str,
    ) -> NotEtcd {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let _ = read_request(&mut socket).await;
                    let response = format!(
                        "{status_line}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        NotEtcd { addr, task }
    }

    /// Its URL, as an endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for NotEtcd {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a [`ScriptedStream`] does after writing a connection's chunks.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// Drop the connection without the terminating chunk: the body is cut.
    Cut,
    /// Keep the connection open (the stream goes quiet).
    Hold,
}

/// A streaming HTTP server that answers its n-th connection with the n-th script: a `200`
/// chunked response made of the given chunks, then a cut or silence. It stands for faults etcd
/// does not produce on demand: a stream cut in the middle of a message. It records each
/// request body so a test can check how the client resumed.
pub struct ScriptedStream {
    /// Where it listens.
    pub addr: SocketAddr,
    bodies: Arc<std::sync::Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl ScriptedStream {
    /// Listens on a free loopback port; the n-th connection (liveness checks aside) gets the
    /// n-th script, later ones are held without an answer.
    pub async fn start(scripts: Vec<(Vec<Vec<u8>>, After)>) -> ScriptedStream {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let bodies = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = bodies.clone();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            for (chunks, after) in scripts {
                let (mut socket, body) = loop {
                    let Ok((mut socket, _)) = listener.accept().await else {
                        return;
                    };
                    let (head, body) = read_request(&mut socket).await;
                    if head.starts_with("POST /v3/maintenance/status ") {
                        // The client's liveness check: answer it, and keep the script.
                        let answer =
                            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
                        let _ = socket.write_all(answer).await;
                        continue;
                    }
                    break (socket, body);
                };
                seen.lock().unwrap().push(body);
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
                let _ = socket.write_all(head.as_bytes()).await;
                for chunk in chunks {
                    let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
                    framed.extend_from_slice(&chunk);
                    framed.extend_from_slice(b"\r\n");
                    let _ = socket.write_all(&framed).await;
                    let _ = socket.flush().await;
                }
                match after {
                    After::Cut => drop(socket),
                    After::Hold => held.push(socket),
                }
            }
            // Further connections are held without an answer.
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        ScriptedStream { addr, bodies, task }
    }

    /// Its URL, as an endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The request bodies received so far, in order.
    pub fn bodies(&self) -> Vec<String> {
        self.bodies.lock().unwrap().clone()
    }
}

impl Drop for ScriptedStream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one request's head and its `Content-Length` body; returns both.
async fn read_request(socket: &mut tokio::net::TcpStream) -> (String, String) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut seen = Vec::new();
    loop {
        let n = match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return (String::new(), String::new()),
            Ok(n) => n,
        };
        seen.extend_from_slice(&buf[..n]);
        if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if seen.len() >= end + 4 + len {
                let head = String::from_utf8_lossy(&seen[..end]).into_owned();
                let body = String::from_utf8_lossy(&seen[end + 4..end + 4 + len]).into_owned();
                return (head, body);
            }
        }
    }
}

/// A member that answers liveness checks but never answers a watch: what etcd 3.6 and 3.7 do
/// with a watch request they cannot read (no response at all, not even the head: captures
/// `48-watch-error-*.v36`). etcdgw never sends such a request, so a real etcd cannot be made to
/// do this to it; this stands in, to show that waiting for `created` has a deadline.
pub struct MuteWatch {
    /// Where it listens.
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl MuteWatch {
    /// Listens on a free loopback port.
    pub async fn start() -> MuteWatch {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((mut socket, _)) = listener.accept().await {
                let (head, _) = read_request(&mut socket).await;
                if head.starts_with("POST /v3/maintenance/status ") {
                    let answer =
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
                    let _ = socket.write_all(answer).await;
                } else {
                    held.push(socket); // read, never answered
                }
            }
        });
        MuteWatch { addr, task }
    }

    /// Its URL, as an endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for MuteWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}
