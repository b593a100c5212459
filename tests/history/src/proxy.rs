//! A fault-injecting TCP proxy, in front of each member's client port (for the clients) and
//! peer port (for the other members), as etcd's robustness suite puts one: every byte between
//! a client and a member, and between members, goes through it, and the nemesis tells it
//! what to do to them ([`Fault`]). It never reads or writes HTTP (a peer proxy reads a
//! connection's first request head only, to learn which member opened it); every answer is
//! the member's.
//!
//! It is the check's one hand-written server, and it is there only for the faults a real
//! etcd cannot be made to produce: a network that holds, loses one way, delays, or resets
//! what passes between a client and a member or between two members (network namespaces
//! with iptables and tc would do the same, but need privileges a test run does not have).
//! Everything else the nemesis does (kill -9, SIGSTOP, leader moves) is done to the real
//! members.
//!
//! Lost packets are *held*, not thrown away: a direction that is cut stops being read, so the
//! bytes wait in the sockets' buffers as unacknowledged packets wait in a real network, and
//! flow again when it heals (a request held past its caller's deadline is then applied after
//! its caller gave up, as on a real network). New connections are accepted, then held: the
//! client cannot tell whether its request was sent, the strictest case for it (a real
//! partition would time out its connect instead).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinHandle};

use crate::rng::Rng;

/// What the proxy does to the bytes it forwards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forwards everything.
    None,
    /// Both directions cut: a partition between its two sides.
    Blackhole,
    /// Requests (towards the member) cut, answers flow: one-way loss.
    DropRequests,
    /// Answers (towards the caller) cut, requests flow: one-way loss; requests are applied
    /// and their answers never arrive.
    DropAnswers,
    /// Each chunk waits up to this long, in both directions.
    Delay {
        /// The longest wait, in milliseconds.
        max_ms: u64,
    },
    /// Each chunk of an answer has this chance (per mille) of ending its connection: part
    /// of it is forwarded, then both sides are reset (RST).
    Resets {
        /// The chance per chunk, per mille.
        per_mille: u64,
    },
    /// No listener: connections are refused, as by a member that is down.
    Refuse,
    /// A peer proxy: this member is cut off from the others (every connection to it, and
    /// every connection it opened to another).
    Isolate {
        /// The member's id.
        member: u64,
    },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    /// Towards the member.
    Up,
    /// Towards the caller.
    Down,
}

struct Shared {
    upstream: Mutex<Option<SocketAddr>>,
    fault: watch::Sender<Fault>,
    /// The member behind a peer proxy (0 until known).
    own: AtomicU64,
    peek_origin: bool,
    rng: Mutex<Rng>,
    links: Mutex<Vec<AbortHandle>>,
    connections: AtomicU64,
    resets: AtomicU64,
}

/// A running proxy; dropping it closes every connection through it.
pub struct FaultProxy {
    /// The port it listens on (on 127.0.0.1).
    pub port: u16,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream` (set later with
    /// [`set_upstream`](Self::set_upstream) if `None`). A peer proxy (`peek_origin`) reads
    /// each connection's first request head for rafthttp's `X-Server-From`, the member that
    /// opened it. `rng` decides delays and resets.
    pub async fn start(upstream: Option<SocketAddr>, peek_origin: bool, rng: Rng) -> FaultProxy {
        let (listener, port) = loop {
            let port = etcdgw_test_support::free_port();
            if let Ok(listener) = bind(port) {
                break (listener, port);
            }
        };
        let shared = Arc::new(Shared {
            upstream: Mutex::new(upstream),
            fault: watch::Sender::new(Fault::None),
            own: AtomicU64::new(0),
            peek_origin,
            rng: Mutex::new(rng),
            links: Mutex::default(),
            connections: AtomicU64::new(0),
            resets: AtomicU64::new(0),
        });
        let task = tokio::spawn(accept_loop(shared.clone(), listener, port));
        FaultProxy { port, shared, task }
    }

    /// Its URL, as an endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Where it forwards to.
    pub fn set_upstream(&self, upstream: SocketAddr) {
        self.upstream_setter()(upstream);
    }

    /// Sets where it forwards to, from anywhere (a member's start, which picks the port).
    pub fn upstream_setter(&self) -> impl Fn(SocketAddr) + Send + Sync + 'static {
        let shared = self.shared.clone();
        move |upstream| *shared.upstream.lock().unwrap() = Some(upstream)
    }

    /// The member behind it, for [`Fault::Isolate`].
    pub fn set_member(&self, id: u64) {
        self.shared.own.store(id, Ordering::SeqCst);
    }

    /// Starts a fault (the one before ends).
    pub fn set(&self, fault: Fault) {
        self.shared.fault.send_replace(fault);
    }

    /// Ends the fault.
    pub fn heal(&self) {
        self.set(Fault::None);
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// Connections reset by [`Fault::Resets`] so far.
    pub fn resets(&self) -> u64 {
        self.shared.resets.load(Ordering::Relaxed)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
        for link in self.shared.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }
}

/// A listener that can be closed and opened again on the same port (a refusing proxy).
fn bind(port: u16) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
    socket.listen(1024)
}

async fn accept_loop(shared: Arc<Shared>, first: TcpListener, port: u16) {
    let mut fault = shared.fault.subscribe();
    let mut listener = Some(first);
    loop {
        let Some(open) = listener.as_ref() else {
            // Refusing: wait for the fault to end, then listen again on the same port.
            if fault.changed().await.is_err() {
                return;
            }
            if *fault.borrow_and_update() != Fault::Refuse {
                while listener.is_none() {
                    match bind(port) {
                        Ok(l) => listener = Some(l),
                        Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                    }
                }
            }
            continue;
        };
        tokio::select! {
            accepted = open.accept() => {
                let Ok((socket, _)) = accepted else { continue };
                shared.connections.fetch_add(1, Ordering::Relaxed);
                let link = tokio::spawn(serve(shared.clone(), socket));
                let mut links = shared.links.lock().unwrap();
                links.retain(|l| !l.is_finished());
                links.push(link.abort_handle());
            }
            changed = fault.changed() => {
                if changed.is_err() {
                    return;
                }
                if *fault.borrow_and_update() == Fault::Refuse {
                    listener = None;
                }
            }
        }
    }
}

/// The member that opened a peer connection, from its first request head (rafthttp sends
/// `X-Server-From: <member id in hex>` on every stream and message request); the bytes read
/// are returned to be forwarded.
async fn peek_origin(socket: &mut TcpStream) -> (Option<u64>, Vec<u8>) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") && seen.len() < 64 * 1024 {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&seen).to_ascii_lowercase();
    let origin = head
        .lines()
        .find_map(|l| l.strip_prefix("x-server-from:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok());
    (origin, seen)
}

async fn serve(shared: Arc<Shared>, mut inbound: TcpStream) {
    let (origin, head) = if shared.peek_origin {
        peek_origin(&mut inbound).await
    } else {
        (None, Vec::new())
    };
    let upstream = *shared.upstream.lock().unwrap();
    let outbound = match upstream {
        Some(addr) => TcpStream::connect(addr).await,
        None => Err(std::io::Error::other("no upstream yet")),
    };
    let Ok(outbound) = outbound else {
        // The member is not there: the caller's connection is reset, as the member's port
        // would have.
        let _ = inbound.set_zero_linger();
        return;
    };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (ci, co) = inbound.into_split();
    let (mi, mo) = outbound.into_split();
    let up = pump(ci, mo, Dir::Up, &shared, origin, head);
    let down = pump(mi, co, Dir::Down, &shared, origin, Vec::new());
    tokio::pin!(up, down);
    let (mut up_done, mut down_done) = (false, false);
    while !(up_done && down_done) {
        let clean = tokio::select! {
            clean = &mut up, if !up_done => { up_done = true; clean }
            clean = &mut down, if !down_done => { down_done = true; clean }
        };
        if !clean {
            break; // a reset or a failure ends both directions
        }
    }
}

/// Whether a fault holds this direction of a connection (`own`: the member behind a peer
/// proxy; `origin`: the member that opened the connection, if known).
fn held(fault: &Fault, dir: Dir, own: u64, origin: Option<u64>) -> bool {
    match fault {
        Fault::Blackhole => true,
        Fault::DropRequests => dir == Dir::Up,
        Fault::DropAnswers => dir == Dir::Down,
        Fault::Isolate { member } => *member == own || origin == Some(*member),
        _ => false,
    }
}

/// Forwards one direction, `first` (bytes already read) first; `true` when it ended cleanly
/// (end of stream, passed on).
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    dir: Dir,
    shared: &Shared,
    origin: Option<u64>,
    first: Vec<u8>,
) -> bool {
    let mut fault = shared.fault.subscribe();
    let mut buf = vec![0u8; 16 * 1024];
    let mut first = Some(first).filter(|f| !f.is_empty());
    loop {
        let read = match first.take() {
            Some(bytes) => {
                buf = bytes;
                Ok(buf.len())
            }
            None => {
                if buf.len() < 16 * 1024 {
                    buf.resize(16 * 1024, 0);
                }
                from.read(&mut buf).await
            }
        };
        let n = match read {
            Ok(0) => {
                let _ = to.shutdown().await;
                return true;
            }
            Ok(n) => n,
            Err(_) => {
                let _ = to.as_ref().set_zero_linger();
                return false;
            }
        };
        // Held while the fault cuts this direction: nothing more is read meanwhile.
        loop {
            let now = fault.borrow_and_update().clone();
            if !held(&now, dir, shared.own.load(Ordering::SeqCst), origin) {
                break;
            }
            if fault.changed().await.is_err() {
                return false;
            }
        }
        let now = fault.borrow().clone();
        match now {
            Fault::Delay { max_ms } => {
                let wait = shared.rng.lock().unwrap().below(max_ms + 1);
                tokio::time::sleep(Duration::from_millis(wait)).await;
            }
            Fault::Resets { per_mille }
                if dir == Dir::Down && shared.rng.lock().unwrap().chance(per_mille) =>
            {
                let cut = shared.rng.lock().unwrap().below(n as u64) as usize;
                let _ = to.write_all(&buf[..cut]).await;
                let _ = to.as_ref().set_zero_linger();
                let _ = from.as_ref().set_zero_linger();
                shared.resets.fetch_add(1, Ordering::Relaxed);
                return false;
            }
            _ => {}
        }
        if to.write_all(&buf[..n]).await.is_err() {
            let _ = from.as_ref().set_zero_linger();
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server: what the proxy forwards comes back.
    async fn echo() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    async fn roundtrip(s: &mut TcpStream, msg: &[u8]) -> Vec<u8> {
        s.write_all(msg).await.unwrap();
        let mut got = vec![0u8; msg.len()];
        s.read_exact(&mut got).await.unwrap();
        got
    }

    #[tokio::test]
    async fn held_bytes_flow_again_when_the_fault_heals_and_a_refusing_proxy_refuses() {
        let proxy = FaultProxy::start(Some(echo().await), false, Rng::new(1)).await;
        let mut s = TcpStream::connect(("127.0.0.1", proxy.port)).await.unwrap();
        assert_eq!(roundtrip(&mut s, b"one").await, b"one");
        proxy.set(Fault::DropAnswers);
        s.write_all(b"two").await.unwrap();
        let mut got = [0u8; 3];
        // A negative, so time is the point: nothing may come back while answers are cut.
        let early = tokio::time::timeout(Duration::from_millis(200), s.read_exact(&mut got)).await;
        assert!(early.is_err(), "an answer got through a cut");
        proxy.heal();
        s.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"two");

        proxy.set(Fault::Refuse);
        etcdgw_test_support::wait_until("the port to refuse", Duration::from_secs(10), || async {
            TcpStream::connect(("127.0.0.1", proxy.port)).await.is_err()
        })
        .await;
        proxy.heal();
        let mut again = etcdgw_test_support::wait_until(
            "the port to accept again",
            Duration::from_secs(10),
            || async { TcpStream::connect(("127.0.0.1", proxy.port)).await.ok() },
        )
        .await;
        assert_eq!(roundtrip(&mut again, b"three").await, b"three");
    }

    #[tokio::test]
    async fn resets_cut_an_answer_and_isolation_holds_only_the_member_s_connections() {
        let proxy = FaultProxy::start(Some(echo().await), false, Rng::new(2)).await;
        proxy.set(Fault::Resets { per_mille: 1000 });
        let mut s = TcpStream::connect(("127.0.0.1", proxy.port)).await.unwrap();
        s.write_all(b"0123456789").await.unwrap();
        let mut all = Vec::new();
        let end = s.read_to_end(&mut all).await;
        assert!(end.is_err() || all.len() < 10, "{end:?} {all:?}");
        assert_eq!(proxy.resets(), 1);

        let peers = FaultProxy::start(Some(echo().await), true, Rng::new(3)).await;
        peers.set_member(0xa);
        peers.set(Fault::Isolate { member: 0xb });
        let head =
            |from: &str| format!("GET /raft/stream HTTP/1.1\r\nX-Server-From: {from}\r\n\r\n");
        let mut from_c = TcpStream::connect(("127.0.0.1", peers.port)).await.unwrap();
        let msg = head("c");
        assert_eq!(roundtrip(&mut from_c, msg.as_bytes()).await, msg.as_bytes());
        let mut from_b = TcpStream::connect(("127.0.0.1", peers.port)).await.unwrap();
        from_b.write_all(head("b").as_bytes()).await.unwrap();
        let mut got = [0u8; 8];
        // A negative, so time is the point: the isolated member's connection stays silent.
        let early =
            tokio::time::timeout(Duration::from_millis(200), from_b.read_exact(&mut got)).await;
        assert!(early.is_err(), "the isolated member got through");
        peers.heal();
        from_b.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"GET /raf");
    }
}
