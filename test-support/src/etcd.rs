//! Real etcd members for the tests: each on its own free loopback ports and temp data dir,
//! killed when dropped. The binary is `$ETCD_BIN` (the test script sets it to 3.4, then 3.5).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use std::sync::Arc;

use etcdgw::{Client, ConnectOptions};
use tempfile::TempDir;

use crate::certs::Certs;

/// The etcd binary under test.
pub fn etcd_bin() -> String {
    std::env::var("ETCD_BIN").unwrap_or_else(|_| "etcd".to_string())
}

/// The etcdctl binary of the same version.
pub fn etcdctl_bin() -> String {
    std::env::var("ETCDCTL_BIN").unwrap_or_else(|_| "etcdctl".to_string())
}

/// The etcd version under test, e.g. `(3, 5)`, read from `etcd --version`.
pub fn etcd_version() -> (u32, u32) {
    let (major, minor, _) = etcd_release();
    (major, minor)
}

/// The etcd release under test, e.g. `(3, 5, 34)`, read once from `etcd --version`.
pub fn etcd_release() -> (u32, u32, u32) {
    static RELEASE: std::sync::OnceLock<(u32, u32, u32)> = std::sync::OnceLock::new();
    *RELEASE.get_or_init(|| {
        let out = Command::new(etcd_bin())
            .arg("--version")
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {}: {e} (set ETCD_BIN; scripts/test.sh does)",
                    etcd_bin()
                )
            });
        let text = String::from_utf8_lossy(&out.stdout);
        let version = text
            .lines()
            .find_map(|l| l.strip_prefix("etcd Version: "))
            .unwrap_or_else(|| panic!("unexpected `etcd --version` output: {text}"));
        let mut parts = version
            .trim()
            .split('.')
            .map(|p| p.parse::<u32>().unwrap_or(0));
        (
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
        )
    })
}

/// Whether the gateway serves `/v3/maintenance/hashkv`: from 3.5.10 on (etcd PR 16490; before
/// it the path was Hash's).
pub fn gateway_has_hash_kv() -> bool {
    etcd_release() >= (3, 5, 10)
}

/// A server flag as the etcd under test spells it: 3.6 renamed the `--experimental-*` flags
/// the tests use (`--experimental-watch-progress-notify-interval` is
/// `--watch-progress-notify-interval`), and 3.7 no longer accepts the old names.
pub fn flag_for_this_version(flag: &str) -> String {
    match flag.strip_prefix("--experimental-") {
        Some(rest) if etcd_version() >= (3, 6) => format!("--{rest}"),
        _ => flag.to_string(),
    }
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A fast place for data dirs: tmpfs when there is one (etcd 3.4 has no `--unsafe-no-fsync`).
fn temp_root() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() && tempfile::tempdir_in(shm).is_ok() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// One etcd member.
pub struct Member {
    /// Its `--name`.
    pub name: String,
    /// The port of its client URL.
    pub client_port: u16,
    /// The port of its peer URL.
    pub peer_port: u16,
    args: Vec<String>,
    dir: TempDir,
    child: Option<Child>,
    tls: Option<Arc<Certs>>,
}

/// What a member needs to know to start.
pub struct MemberSpec {
    /// Its `--name`.
    pub name: String,
    /// The port of its client URL.
    pub client_port: u16,
    /// The port of its peer URL.
    pub peer_port: u16,
    /// `--initial-cluster`: every member's `name=peer URL`, this one's included.
    pub initial_cluster: String,
    /// `new`, or `existing` for a member added to a running cluster.
    pub initial_state: &'static str,
    /// `--initial-cluster-token`.
    pub token: String,
    /// More flags (`--experimental-*` ones as the version under test spells them).
    pub extra: Vec<String>,
    /// Serve clients over TLS with these certificates (and require client certificates).
    pub tls: Option<Arc<Certs>>,
    /// A snapshot to restore into the data dir before the first start.
    pub restore_from: Option<PathBuf>,
}

impl Member {
    /// Starts the process in a fresh data dir (restored from the snapshot, if any); does not
    /// wait for it to be healthy.
    pub fn spawn(spec: MemberSpec) -> Member {
        let dir = tempfile::Builder::new()
            .prefix("etcdgw-test-")
            .tempdir_in(temp_root())
            .expect("a temp dir");
        let scheme = if spec.tls.is_some() { "https" } else { "http" };
        let client = format!("{scheme}://127.0.0.1:{}", spec.client_port);
        let peer = format!("http://127.0.0.1:{}", spec.peer_port);
        if let Some(snapshot) = &spec.restore_from {
            restore(
                snapshot,
                &dir.path().join("data"),
                &spec.name,
                &spec.initial_cluster,
                &peer,
                &spec.token,
            );
        }
        let mut args = vec![
            format!("--name={}", spec.name),
            format!("--data-dir={}", dir.path().join("data").display()),
            format!("--listen-client-urls={client}"),
            format!("--advertise-client-urls={client}"),
            format!("--listen-peer-urls={peer}"),
            format!("--initial-advertise-peer-urls={peer}"),
            format!("--initial-cluster={}", spec.initial_cluster),
            format!("--initial-cluster-token={}", spec.token),
            format!("--initial-cluster-state={}", spec.initial_state),
            "--logger=zap".to_string(),
            "--log-level=error".to_string(),
        ];
        if let Some(certs) = &spec.tls {
            args.push(format!("--cert-file={}", certs.server_cert.display()));
            args.push(format!("--key-file={}", certs.server_key.display()));
            args.push(format!("--trusted-ca-file={}", certs.ca_file.display()));
            args.push("--client-cert-auth".to_string());
        }
        args.extend(spec.extra.iter().map(|a| flag_for_this_version(a)));
        let mut member = Member {
            name: spec.name,
            client_port: spec.client_port,
            peer_port: spec.peer_port,
            args,
            dir,
            child: None,
            tls: spec.tls,
        };
        member.launch();
        member
    }

    fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("the member's log file");
        let child = Command::new(etcd_bin())
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {}: {e} (set ETCD_BIN; scripts/test.sh does)",
                    etcd_bin()
                )
            });
        self.child = Some(child);
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("etcd.log")
    }

    /// The last lines of the member's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// The member's client URL.
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.client_port)
    }

    /// Options that reach this member (TLS ones for a TLS member).
    pub fn connect_options(&self) -> ConnectOptions {
        match &self.tls {
            Some(certs) => ConnectOptions::new().with_tls(certs.client_tls()),
            None => ConnectOptions::new(),
        }
    }

    /// Whether the process is running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Waits until `/health` says true (a leader exists), or panics with the log.
    pub async fn wait_healthy(&mut self, within: Duration) {
        match tokio::time::timeout(within, wait_or_exit(self)).await {
            Ok(true) => {}
            Ok(false) => panic!(
                "etcd member {} exited while starting:\n{}",
                self.name,
                self.log_tail()
            ),
            Err(_) => panic!(
                "etcd member {} not healthy after {within:?}:\n{}",
                self.name,
                self.log_tail()
            ),
        }
    }

    /// Kills the process (SIGKILL) and waits for it to go.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends a signal (e.g. "STOP", "CONT", "TERM") to the process.
    pub fn signal(&self, signal: &str) {
        if let Some(child) = self.child.as_ref() {
            let status = Command::new("kill")
                .arg(format!("-{signal}"))
                .arg(child.id().to_string())
                .status()
                .expect("kill(1)");
            assert!(status.success(), "kill -{signal} failed");
        }
    }

    /// Starts the process again on the same ports and data dir.
    pub fn start_again(&mut self) {
        assert!(
            self.child.is_none(),
            "member {} is still running",
            self.name
        );
        self.launch();
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_ref() {
            // A stopped (SIGSTOP) process must be continued to die cleanly.
            let _ = Command::new("kill")
                .arg("-CONT")
                .arg(child.id().to_string())
                .status();
        }
        self.kill();
    }
}

/// A single-member etcd, the usual fixture.
pub struct Etcd {
    /// The member.
    pub member: Member,
}

/// Options for starting members.
#[derive(Default, Clone)]
pub struct EtcdBuilder {
    extra: Vec<String>,
    tls: Option<Arc<Certs>>,
    restore_from: Option<PathBuf>,
}

impl EtcdBuilder {
    /// Adds a command-line flag, e.g. `--max-txn-ops=4`.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.extra.push(arg.into());
        self
    }

    /// Serves clients over TLS with client-certificate authentication.
    pub fn tls(mut self, certs: Arc<Certs>) -> Self {
        self.tls = Some(certs);
        self
    }

    /// Starts from this snapshot (restored with etcdctl on 3.4, etcdutl on 3.5).
    pub fn restore_from(mut self, snapshot: impl Into<PathBuf>) -> Self {
        self.restore_from = Some(snapshot.into());
        self
    }

    /// Starts the member and waits until it is healthy.
    pub async fn start(self) -> Etcd {
        // A port taken between our probe and etcd's bind makes etcd exit; try fresh ports.
        let mut last = String::new();
        for _ in 0..3 {
            let (client_port, peer_port) = (free_port(), free_port());
            let name = format!("m{client_port}");
            let mut member = Member::spawn(MemberSpec {
                initial_cluster: format!("{name}=http://127.0.0.1:{peer_port}"),
                initial_state: "new",
                token: format!("t{client_port}"),
                name,
                client_port,
                peer_port,
                extra: self.extra.clone(),
                tls: self.tls.clone(),
                restore_from: self.restore_from.clone(),
            });
            match tokio::time::timeout(Duration::from_secs(30), wait_or_exit(&mut member)).await {
                Ok(true) => return Etcd { member },
                Ok(false) => last = member.log_tail(),
                Err(_) => panic!("etcd not healthy after 30 s:\n{}", member.log_tail()),
            }
        }
        panic!("etcd failed to start three times:\n{last}");
    }
}

/// Waits until healthy (true) or exited (false).
async fn wait_or_exit(member: &mut Member) -> bool {
    let http = reqwest::Client::new();
    let url = format!("{}/health", member.endpoint());
    // A TLS member is asked through etcdgw itself: status answers once there is a leader.
    let tls_client = match member.tls {
        Some(_) => {
            let options = member
                .connect_options()
                .with_timeout(Duration::from_secs(1));
            Some(
                Client::connect([member.endpoint()], Some(options))
                    .await
                    .expect("connect"),
            )
        }
        None => None,
    };
    loop {
        let healthy = match &tls_client {
            Some(client) => client.status().await.is_ok_and(|s| s.leader() != 0),
            None => match http.get(&url).timeout(Duration::from_secs(1)).send().await {
                Ok(resp) => resp
                    .text()
                    .await
                    .is_ok_and(|t| t.contains("\"health\":\"true\"")),
                Err(_) => false,
            },
        };
        if healthy {
            return true;
        }
        if !member.is_running() {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

impl Etcd {
    /// Options for a member other than the default one.
    pub fn builder() -> EtcdBuilder {
        EtcdBuilder::default()
    }

    /// Starts a single member with the default flags.
    pub async fn start() -> Etcd {
        Etcd::builder().start().await
    }

    /// The member's client URL.
    pub fn endpoint(&self) -> String {
        self.member.endpoint()
    }

    /// A client of this member with default options (TLS ones for a TLS member).
    pub async fn client(&self) -> Client {
        Client::connect([self.endpoint()], Some(self.member.connect_options()))
            .await
            .expect("connect")
    }

    /// A client of this member with the given options.
    pub async fn client_with(&self, options: ConnectOptions) -> Client {
        Client::connect([self.endpoint()], Some(options))
            .await
            .expect("connect")
    }

    /// Kills the member and starts it again on the same data dir, waiting until healthy.
    pub async fn restart(&mut self) {
        self.member.kill();
        self.member.start_again();
        self.member.wait_healthy(Duration::from_secs(30)).await;
    }

    /// Runs etcdctl against this member and returns its stdout; panics on failure.
    pub fn etcdctl(&self, args: &[&str]) -> Vec<u8> {
        let out = self.etcdctl_raw(args, None);
        assert!(
            out.status.success(),
            "etcdctl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Runs etcdctl with optional stdin and returns its whole output.
    pub fn etcdctl_raw(&self, args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
        use std::io::Write;
        let mut child = Command::new(etcdctl_bin())
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", self.endpoint()))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", etcdctl_bin()));
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input)
                .expect("write stdin");
        }
        drop(child.stdin.take());
        child.wait_with_output().expect("etcdctl output")
    }
}

/// A three-member (or n-member) cluster.
pub struct Cluster {
    /// The members, in the order they were started (`n0`, `n1`, ...), joined ones last.
    pub members: Vec<Member>,
    token: String,
}

impl Cluster {
    /// Starts `n` members with the default flags and waits until each is healthy.
    pub async fn start(n: usize) -> Cluster {
        Cluster::start_with(n, EtcdBuilder::default()).await
    }

    /// Starts `n` members with the builder's flags and TLS (its snapshot is not used).
    pub async fn start_with(n: usize, builder: EtcdBuilder) -> Cluster {
        let ports: Vec<(u16, u16)> = (0..n).map(|_| (free_port(), free_port())).collect();
        let token = format!("c{}", ports[0].0);
        let initial_cluster = ports
            .iter()
            .enumerate()
            .map(|(i, (_, peer))| format!("n{i}=http://127.0.0.1:{peer}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut members: Vec<Member> = ports
            .iter()
            .enumerate()
            .map(|(i, &(client_port, peer_port))| {
                Member::spawn(MemberSpec {
                    name: format!("n{i}"),
                    client_port,
                    peer_port,
                    initial_cluster: initial_cluster.clone(),
                    initial_state: "new",
                    token: token.clone(),
                    extra: builder.extra.clone(),
                    tls: builder.tls.clone(),
                    restore_from: None,
                })
            })
            .collect();
        for m in members.iter_mut() {
            m.wait_healthy(Duration::from_secs(60)).await;
        }
        Cluster { members, token }
    }

    /// Starts a member that was added with `member_add` (as a learner or not), joining the
    /// running cluster; `initial_cluster` lists every member including it.
    pub async fn join(
        &mut self,
        name: &str,
        client_port: u16,
        peer_port: u16,
        initial_cluster: String,
    ) -> usize {
        let member = Member::spawn(MemberSpec {
            name: name.to_string(),
            client_port,
            peer_port,
            initial_cluster,
            initial_state: "existing",
            token: self.token.clone(),
            extra: Vec::new(),
            tls: None,
            restore_from: None,
        });
        self.members.push(member);
        self.members.len() - 1
    }

    /// Every member's client URL.
    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(Member::endpoint).collect()
    }

    /// Restarts member `i` on its data dir and waits until it is healthy.
    pub async fn restart(&mut self, i: usize) {
        self.members[i].kill();
        self.members[i].start_again();
        self.members[i].wait_healthy(Duration::from_secs(60)).await;
    }
}

/// Restores a snapshot into `data_dir`, with the tool of the version under test: `etcdctl
/// snapshot restore` on 3.4, `etcdutl snapshot restore` on 3.5 (`$ETCDUTL_BIN`).
fn restore(
    snapshot: &Path,
    data_dir: &Path,
    name: &str,
    initial_cluster: &str,
    peer: &str,
    token: &str,
) {
    let (tool, api) = match etcd_version() {
        (3, 4) => (etcdctl_bin(), true),
        _ => (
            std::env::var("ETCDUTL_BIN").unwrap_or_else(|_| "etcdutl".to_string()),
            false,
        ),
    };
    let mut cmd = Command::new(&tool);
    if api {
        cmd.env("ETCDCTL_API", "3");
    }
    let out = cmd
        .arg("snapshot")
        .arg("restore")
        .arg(snapshot)
        .arg(format!("--data-dir={}", data_dir.display()))
        .arg(format!("--name={name}"))
        .arg(format!("--initial-cluster={initial_cluster}"))
        .arg(format!("--initial-advertise-peer-urls={peer}"))
        .arg(format!("--initial-cluster-token={token}"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
    assert!(
        out.status.success(),
        "{tool} snapshot restore failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
