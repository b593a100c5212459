//! A TCP proxy in front of a real member that can be cut and restored: a network partition
//! between a client and etcd, which etcd cannot make by itself. It forwards bytes and nothing
//! else; every answer is the member's. It keeps what clients sent, so that a test can read
//! the requests' headers as they were on the wire.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinHandle};

/// A running proxy; dropping it closes every connection through it.
pub struct Proxy {
    /// Where it listens.
    pub addr: SocketAddr,
    cut: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<AbortHandle>>>,
    sent: Arc<Mutex<Vec<u8>>>,
    /// Connections open now, and the most open at once since [`Proxy::reset_peak`].
    open: Arc<(AtomicUsize, AtomicUsize)>,
    task: JoinHandle<()>,
}

/// How much of what clients send is kept ([`Proxy::sent`]): request heads, not bulk data.
const KEPT: usize = 1 << 20;

impl Proxy {
    /// Forwards connections on a free loopback port to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let cut = Arc::new(AtomicBool::new(false));
        let links: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let sent: Arc<Mutex<Vec<u8>>> = Arc::default();
        let open: Arc<(AtomicUsize, AtomicUsize)> = Arc::default();
        let (is_cut, all, kept, counts) = (cut.clone(), links.clone(), sent.clone(), open.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if is_cut.load(Ordering::SeqCst) {
                    drop(inbound); // a partition: the connection dies at once
                    continue;
                }
                let (upstream, kept) = (upstream.clone(), kept.clone());
                let now = counts.0.fetch_add(1, Ordering::SeqCst) + 1;
                counts.1.fetch_max(now, Ordering::SeqCst);
                // Moved into the task: counted closed when it ends or is dropped unpolled.
                let closed = Closed(counts.clone());
                let link = tokio::spawn(async move {
                    let _closed = closed;
                    if let Ok(outbound) = TcpStream::connect(&upstream).await {
                        let (mut from_client, mut to_client) = inbound.split();
                        let (mut from_server, mut to_server) = outbound.into_split();
                        let requests = async {
                            let mut buf = vec![0u8; 16 * 1024];
                            while let Ok(n @ 1..) = from_client.read(&mut buf).await {
                                {
                                    let mut kept = kept.lock().unwrap();
                                    let room = KEPT.saturating_sub(kept.len()).min(n);
                                    kept.extend_from_slice(&buf[..room]);
                                }
                                if to_server.write_all(&buf[..n]).await.is_err() {
                                    break;
                                }
                            }
                            let _ = to_server.shutdown().await;
                        };
                        let answers = async {
                            let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
                            let _ = to_client.shutdown().await;
                        };
                        tokio::join!(requests, answers);
                    }
                });
                all.lock().unwrap().push(link.abort_handle());
            }
        });
        Proxy {
            addr,
            cut,
            links,
            sent,
            open,
            task,
        }
    }

    /// Its URL, as an endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What clients have sent through it so far, every connection's bytes in the order they
    /// arrived (the first MiB): the requests as they were on the wire.
    pub fn sent(&self) -> Vec<u8> {
        self.sent.lock().unwrap().clone()
    }

    /// How many connections are open through it now.
    pub fn open_connections(&self) -> usize {
        self.open.0.load(Ordering::SeqCst)
    }

    /// The most connections open at once since it started or since [`Proxy::reset_peak`].
    pub fn peak_connections(&self) -> usize {
        self.open.1.load(Ordering::SeqCst)
    }

    /// Starts counting the peak again from the connections open now.
    pub fn reset_peak(&self) {
        self.open.1.store(self.open_connections(), Ordering::SeqCst);
    }

    /// Breaks every open connection and refuses new ones until `restore`.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    /// Accepts and forwards connections again.
    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

/// Counts a connection closed when its task ends, however it ends (aborted by a cut, too).
struct Closed(Arc<(AtomicUsize, AtomicUsize)>);

impl Drop for Closed {
    fn drop(&mut self) {
        self.0 .0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }
}
