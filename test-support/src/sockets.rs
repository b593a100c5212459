//! The TCP connections this process holds, read from its own socket table (Linux `/proc`):
//! how many sockets a client really opened, whatever it says about itself.

use std::collections::HashSet;

/// How many established TCP connections this process holds to `endpoint` (`http://host:port`
/// or `host:port`; compared by port, on loopback every member has its own).
///
/// # Panics
/// Where `/proc/self` cannot be read (not Linux): the tests that count sockets need it.
pub fn connections_to(endpoint: &str) -> usize {
    let port: u16 = endpoint
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .unwrap_or_else(|| panic!("no port in {endpoint}"));
    let mine = own_socket_inodes();
    ["/proc/self/net/tcp", "/proc/self/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|table| {
            table
                .lines()
                .skip(1)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            let (Some(remote), Some(state), Some(inode)) =
                (fields.get(2), fields.get(3), fields.get(9))
            else {
                return false;
            };
            let remote_port = remote
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            *state == "01" // ESTABLISHED
                && remote_port == Some(port)
                && inode.parse::<u64>().is_ok_and(|i| mine.contains(&i))
        })
        .count()
}

/// The inodes of the sockets among this process's open files.
fn own_socket_inodes() -> HashSet<u64> {
    let dir = std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd (Linux) to count sockets");
    dir.filter_map(Result::ok)
        .filter_map(|entry| std::fs::read_link(entry.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy().into_owned();
            target
                .strip_prefix("socket:[")
                .and_then(|rest| rest.strip_suffix(']'))
                .and_then(|inode| inode.parse().ok())
        })
        .collect()
}
