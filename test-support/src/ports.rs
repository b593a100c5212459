//! Loopback ports for members and test servers.
//!
//! A port is probed free, then handed to etcd, which binds it a moment later; in between,
//! something else may take it, and etcd then exits ("bind: address already in use"). Two
//! things keep that rare, and the starts in [`crate::etcd`] deal with the rest (they start
//! again on fresh ports):
//!
//! - ports come from below the range the kernel hands out for outgoing connections
//!   (`/proc/sys/net/ipv4/ip_local_port_range`), so no client connection on the machine (and
//!   the tests make thousands) can take one; only another process's probe can;
//! - a process never hands out the same port twice, and picks at random, so concurrent test
//!   processes (nextest runs each test in its own) seldom probe the same one.

use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};
use std::net::TcpListener;
use std::sync::Mutex;

/// The lowest port handed out (below it are well-known and registered services' ports).
const LOWEST: u16 = 10_000;

/// A loopback port nobody listens on right now, not handed out before by this process.
///
/// Between this probe and a bind, another process may still take it: whoever binds it must
/// be ready to try again elsewhere (every member start in this crate is).
pub fn free_port() -> u16 {
    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let given = given.get_or_insert_with(HashSet::new);
    let highest = ephemeral_low();
    if highest > LOWEST + 1000 {
        for _ in 0..1000 {
            let port = LOWEST + (random() % u64::from(highest - LOWEST)) as u16;
            if given.contains(&port) {
                continue;
            }
            if TcpListener::bind(("127.0.0.1", port)).is_ok() {
                given.insert(port);
                return port;
            }
        }
    }
    // No room below the ephemeral range (an unusual machine): let the kernel choose.
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free loopback port");
        if given.insert(port) {
            return port;
        }
    }
}

/// The first port of the kernel's range for outgoing connections (32768 unless configured).
fn ephemeral_low() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768)
}

/// A random number: the standard library's per-process random hasher keys, stirred.
fn random() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(N.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_free_below_the_ephemeral_range_and_never_handed_out_twice() {
        let ports: Vec<u16> = (0..200).map(|_| free_port()).collect();
        let distinct: HashSet<u16> = ports.iter().copied().collect();
        assert_eq!(distinct.len(), ports.len());
        let low = ephemeral_low();
        if low > LOWEST + 1000 {
            for port in ports {
                assert!((LOWEST..low).contains(&port), "{port}");
            }
        }
    }
}
