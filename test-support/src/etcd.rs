//! Real etcd members for the tests: each on its own free loopback ports and temp data dir,
//! killed when dropped. The binary is `$ETCD_BIN` (`scripts/test.sh` sets it to each etcd of
//! its matrix in turn).
//!
//! # Ports
//! A member's ports are probed free ([`free_port`]) and bound by etcd a moment later; when
//! something took one in between, etcd exits ("bind: address already in use"). Every way a
//! member starts deals with that by starting again on fresh ports: [`EtcdBuilder::start`] and
//! [`Etcd::start`], [`Cluster::start_with`] and [`Cluster::start`] (the whole cluster, since
//! each member's peer URL is in every other's `--initial-cluster`), and [`Cluster::join`] (a
//! taken peer port is replaced in the cluster's membership first). A restart
//! ([`Etcd::restart`], [`Cluster::restart`], [`Member::start_again`]) cannot: the member's
//! peer URL is in the cluster's membership and its client URL in its clients' endpoints, so it
//! comes back on the same ports, and fails, saying so, if one was taken meanwhile.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use etcdgw::{Client, ConnectOptions};
use tempfile::TempDir;

use crate::certs::Certs;
use crate::ports::free_port;
use crate::wait::wait_until;

/// How many times a start tries fresh ports after a clash before giving up.
const ATTEMPTS: usize = 5;

/// How long a member may take to become healthy (a loaded machine is slow, not broken).
const HEALTHY_WITHIN: Duration = Duration::from_secs(60);

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
    /// Where the current run's lines start in the log (earlier runs' lines precede them).
    log_start: u64,
    /// For the harness's own requests (health, metrics); a member lives in one test's runtime,
    /// which its pooled connections belong to.
    http: reqwest::Client,
}

/// What a member needs to know to start.
struct MemberSpec {
    name: String,
    client_port: u16,
    peer_port: u16,
    /// `--initial-cluster`: every member's `name=peer URL`, this one's included.
    initial_cluster: String,
    /// `new`, or `existing` for a member added to a running cluster.
    initial_state: &'static str,
    token: String,
    /// More flags (`--experimental-*` ones as the version under test spells them).
    extra: Vec<String>,
    /// Serve clients over TLS with these certificates (and require client certificates).
    tls: Option<Arc<Certs>>,
    /// A snapshot to restore into the data dir before the first start.
    restore_from: Option<PathBuf>,
}

/// How a start ended.
enum Started {
    /// `/health` says true.
    Healthy,
    /// etcd exited because this port was taken: try again on fresh ports.
    PortTaken(u16),
    /// etcd exited for another reason (its log says which).
    Exited,
}

impl Member {
    /// Starts the process in a fresh data dir (restored from the snapshot, if any); does not
    /// wait for it to be healthy.
    fn spawn(spec: MemberSpec) -> Member {
        let dir = tempfile::Builder::new()
            .prefix("etcdgw-test-")
            .tempdir_in(temp_root())
            .expect("a temp dir");
        let scheme = if spec.tls.is_some() { "https" } else { "http" };
        let client = format!("{scheme}://127.0.0.1:{}", spec.client_port);
        let peer = peer_url(spec.peer_port);
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
            log_start: 0,
            http: reqwest::Client::new(),
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
        self.log_start = log.metadata().map(|m| m.len()).unwrap_or(0);
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

    /// What the current run logged (etcd logs errors only here).
    fn this_run_log(&self) -> String {
        let bytes = std::fs::read(self.log_path()).unwrap_or_default();
        let start = usize::try_from(self.log_start)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        String::from_utf8_lossy(&bytes[start..]).into_owned()
    }

    /// The port etcd found taken, if that is why the current run ended: every version logs
    /// `listen tcp 127.0.0.1:PORT: bind: address already in use`.
    fn taken_port(&self) -> Option<u16> {
        let log = self.this_run_log();
        let (before, _) = log.split_once(": bind: address already in use")?;
        before.rsplit_once("127.0.0.1:")?.1.parse().ok()
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

    /// Whether the member answers and has a leader: `/health` says true (a TLS member, which
    /// wants a client certificate, is asked for its status through etcdgw instead).
    pub async fn is_healthy(&self) -> bool {
        HealthProbe::new(self).await.healthy().await
    }

    /// Waits until `/health` says true (a leader exists), or panics with the log; says so
    /// when the member exited because one of its ports was taken (after a restart, which
    /// keeps the ports).
    pub async fn wait_healthy(&mut self, within: Duration) {
        match self.wait_started(within).await {
            Started::Healthy => {}
            Started::PortTaken(port) => panic!(
                "etcd member {} exited: port {port} was taken while it was down (a restart \
                 keeps its ports: its peer URL is in the cluster's membership, its client URL \
                 in its clients' endpoints):\n{}",
                self.name,
                self.log_tail()
            ),
            Started::Exited => panic!(
                "etcd member {} exited while starting:\n{}",
                self.name,
                self.log_tail()
            ),
        }
    }

    /// Waits until the member is healthy or has exited (why, from its log); panics with its
    /// log if it is neither within `within`.
    async fn wait_started(&mut self, within: Duration) -> Started {
        let probe = HealthProbe::new(self).await;
        let what = format!("etcd member {} to be healthy", self.name);
        wait_until(&what, within, || {
            let exited = self.why_exited();
            let log = Shown(self.log_tail());
            let probe = &probe;
            async move {
                if probe.healthy().await {
                    return Ok(Started::Healthy);
                }
                exited.ok_or(log)
            }
        })
        .await
    }

    /// Why the process is no longer running, if it is not.
    fn why_exited(&mut self) -> Option<Started> {
        if self.is_running() {
            return None;
        }
        Some(match self.taken_port() {
            Some(port) => Started::PortTaken(port),
            None => Started::Exited,
        })
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

    /// Starts the process again on the same ports and data dir; [`Member::wait_healthy`]
    /// waits for it. It cannot move to other ports if one was taken meanwhile (see the
    /// module's docs): it then exits, and `wait_healthy` says so.
    pub fn start_again(&mut self) {
        assert!(
            self.child.is_none(),
            "member {} is still running",
            self.name
        );
        self.launch();
    }

    /// The member's Prometheus metrics (`/metrics` on a plain-HTTP member's client URL).
    pub async fn metrics(&self) -> String {
        assert!(
            self.tls.is_none(),
            "metrics of a TLS member are not read here"
        );
        let url = format!("{}/metrics", self.endpoint());
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        resp.text().await.unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    /// How many watchers the member holds (`etcd_debugging_mvcc_watcher_total`): every open
    /// watch, once the server has registered it, until its request is gone.
    pub async fn watchers(&self) -> u64 {
        let text = self.metrics().await;
        text.lines()
            .find_map(|l| l.strip_prefix("etcd_debugging_mvcc_watcher_total "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(|v| v as u64)
            .expect("etcd_debugging_mvcc_watcher_total in /metrics")
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

/// Asks a member whether it is healthy, on one connection from one ask to the next.
enum HealthProbe {
    /// `GET /health` on a plain-HTTP member.
    Http(reqwest::Client, String),
    /// A TLS member (which wants a client certificate): its status through etcdgw, which
    /// answers with a leader once there is one.
    Tls(Client),
}

impl HealthProbe {
    async fn new(member: &Member) -> HealthProbe {
        if member.tls.is_none() {
            let url = format!("{}/health", member.endpoint());
            return HealthProbe::Http(member.http.clone(), url);
        }
        let options = member
            .connect_options()
            .with_timeout(Duration::from_secs(1));
        HealthProbe::Tls(
            Client::connect([member.endpoint()], Some(options))
                .await
                .expect("connect"),
        )
    }

    async fn healthy(&self) -> bool {
        match self {
            HealthProbe::Http(http, url) => {
                match http.get(url).timeout(Duration::from_secs(1)).send().await {
                    Ok(resp) => resp
                        .text()
                        .await
                        .is_ok_and(|t| t.contains("\"health\":\"true\"")),
                    Err(_) => false,
                }
            }
            HealthProbe::Tls(client) => client.status().await.is_ok_and(|s| s.leader() != 0),
        }
    }
}

fn peer_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
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
    first_ports: Option<(u16, u16)>,
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

    /// Starts from this snapshot (restored with etcdctl on 3.4, etcdutl from 3.5).
    pub fn restore_from(mut self, snapshot: impl Into<PathBuf>) -> Self {
        self.restore_from = Some(snapshot.into());
        self
    }

    /// Tries these client and peer ports first (fresh ones after a clash, as always); for
    /// the harness's own tests of that.
    #[doc(hidden)]
    pub fn first_ports(mut self, client: u16, peer: u16) -> Self {
        self.first_ports = Some((client, peer));
        self
    }

    /// Starts the member and waits until it is healthy, on fresh ports after a clash.
    pub async fn start(self) -> Etcd {
        let mut taken = Vec::new();
        for attempt in 0..ATTEMPTS {
            let (client_port, peer_port) = match self.first_ports {
                Some(ports) if attempt == 0 => ports,
                _ => (free_port(), free_port()),
            };
            let name = format!("m{client_port}");
            let mut member = Member::spawn(MemberSpec {
                initial_cluster: format!("{name}={}", peer_url(peer_port)),
                initial_state: "new",
                token: format!("t{client_port}"),
                name,
                client_port,
                peer_port,
                extra: self.extra.clone(),
                tls: self.tls.clone(),
                restore_from: self.restore_from.clone(),
            });
            match member.wait_started(HEALTHY_WITHIN).await {
                Started::Healthy => return Etcd { member },
                Started::PortTaken(port) => taken.push(port),
                Started::Exited => panic!("etcd exited while starting:\n{}", member.log_tail()),
            }
        }
        panic!("etcd found a port taken at each of {ATTEMPTS} starts: {taken:?}");
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

    /// Kills the member and starts it again on the same ports and data dir, waiting until
    /// healthy (it cannot move to fresh ports: see the module's docs).
    pub async fn restart(&mut self) {
        self.member.kill();
        self.member.start_again();
        self.member.wait_healthy(HEALTHY_WITHIN).await;
    }

    /// How many watchers the member holds; see [`Member::watchers`].
    pub async fn watchers(&self) -> u64 {
        self.member.watchers().await
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
        etcdctl_output(&self.endpoint(), args, stdin)
    }
}

/// Runs etcdctl against `endpoints` (comma separated) with optional stdin, and returns its
/// whole output.
pub fn etcdctl_output(
    endpoints: &str,
    args: &[&str],
    stdin: Option<&[u8]>,
) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(etcdctl_bin())
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={endpoints}"))
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

/// A three-member (or n-member) cluster.
pub struct Cluster {
    /// The members, in the order they were started (`n0`, `n1`, ...), joined ones last.
    pub members: Vec<Member>,
    token: String,
    tls: Option<Arc<Certs>>,
}

impl Cluster {
    /// Starts `n` members with the default flags and waits until each is healthy.
    pub async fn start(n: usize) -> Cluster {
        Cluster::start_with(n, EtcdBuilder::default()).await
    }

    /// Starts `n` members with the builder's flags and TLS (not its snapshot) and waits until
    /// each is healthy. When etcd finds one of the ports taken, the whole cluster starts again
    /// on fresh ports (each member's peer URL is in every other's `--initial-cluster`).
    pub async fn start_with(n: usize, builder: EtcdBuilder) -> Cluster {
        let mut taken = Vec::new();
        for attempt in 0..ATTEMPTS {
            let ports: Vec<(u16, u16)> = (0..n)
                .map(|i| match builder.first_ports {
                    Some(ports) if attempt == 0 && i == 0 => ports,
                    _ => (free_port(), free_port()),
                })
                .collect();
            let token = format!("c{}", ports[0].0);
            let initial_cluster = ports
                .iter()
                .enumerate()
                .map(|(i, (_, peer))| format!("n{i}={}", peer_url(*peer)))
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
            match wait_all_started(&mut members).await {
                Ok(()) => {
                    return Cluster {
                        members,
                        token,
                        tls: builder.tls.clone(),
                    }
                }
                Err(port) => taken.push(port), // dropping `members` kills the others
            }
        }
        panic!("a cluster member found a port taken at each of {ATTEMPTS} starts: {taken:?}");
    }

    /// Starts a member that was added with `member_add` (as a learner or not) on these ports,
    /// joining the running cluster, and waits until it is healthy; `initial_cluster` lists
    /// every member including it. Returns its index in [`Cluster::members`].
    ///
    /// When etcd finds a port taken, it starts again on a fresh one: a taken peer port is
    /// first replaced by `member_update` (so the member's [`Member::peer_port`] may differ from
    /// the one given), a taken client port just replaced.
    pub async fn join(
        &mut self,
        name: &str,
        mut client_port: u16,
        mut peer_port: u16,
        mut initial_cluster: String,
    ) -> usize {
        let mut taken = Vec::new();
        for _ in 0..ATTEMPTS {
            let mut member = Member::spawn(MemberSpec {
                name: name.to_string(),
                client_port,
                peer_port,
                initial_cluster: initial_cluster.clone(),
                initial_state: "existing",
                token: self.token.clone(),
                extra: Vec::new(),
                tls: self.tls.clone(),
                restore_from: None,
            });
            match member.wait_started(HEALTHY_WITHIN).await {
                Started::Healthy => {
                    self.members.push(member);
                    return self.members.len() - 1;
                }
                Started::PortTaken(port) => {
                    drop(member);
                    taken.push(port);
                    if port == peer_port {
                        let fresh = free_port();
                        self.move_peer_url(&peer_url(peer_port), &peer_url(fresh))
                            .await;
                        initial_cluster =
                            with_peer_url(&initial_cluster, &peer_url(peer_port), &peer_url(fresh));
                        peer_port = fresh;
                    } else {
                        client_port = free_port();
                    }
                }
                Started::Exited => panic!(
                    "etcd member {name} exited while joining:\n{}",
                    member.log_tail()
                ),
            }
        }
        panic!("etcd member {name} found a port taken at each of {ATTEMPTS} starts: {taken:?}");
    }

    /// Changes the peer URL of the member that has `from` to `to` (`member_update`, through
    /// the running members).
    async fn move_peer_url(&mut self, from: &str, to: &str) {
        let mut endpoints = Vec::new();
        for member in &mut self.members {
            if member.is_running() {
                endpoints.push(member.endpoint());
            }
        }
        let options = self.members[0].connect_options();
        let client = Client::connect(endpoints, Some(options))
            .await
            .expect("connect");
        let list = client.member_list().await.expect("member list");
        let id = list
            .members()
            .iter()
            .find(|m| m.peer_urls().iter().any(|u| u == from))
            .map(|m| m.id())
            .unwrap_or_else(|| panic!("no member has the peer URL {from}"));
        client
            .member_update(id, vec![to.to_string()])
            .await
            .expect("member update");
    }

    /// Every member's client URL.
    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(Member::endpoint).collect()
    }

    /// Restarts member `i` on its ports and data dir and waits until it is healthy (it
    /// cannot move to fresh ports: see the module's docs).
    pub async fn restart(&mut self, i: usize) {
        self.members[i].kill();
        self.members[i].start_again();
        self.members[i].wait_healthy(HEALTHY_WITHIN).await;
    }
}

/// `initial_cluster` (`name=url,...`) with the entry whose URL is `from` given `to` instead.
fn with_peer_url(initial_cluster: &str, from: &str, to: &str) -> String {
    initial_cluster
        .split(',')
        .map(|entry| match entry.split_once('=') {
            Some((name, url)) if url == from => format!("{name}={to}"),
            _ => entry.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Waits until every member is healthy; `Err(port)` as soon as one exited because a port was
/// taken. Any other exit, or a member not healthy in time, panics with its log.
async fn wait_all_started(members: &mut [Member]) -> Result<(), u16> {
    let mut probes = Vec::with_capacity(members.len());
    for member in members.iter() {
        probes.push(HealthProbe::new(member).await);
    }
    let healthy = std::cell::RefCell::new(vec![false; members.len()]);
    wait_until("every member to be healthy", HEALTHY_WITHIN, || {
        // Each member's name, why it exited (if it did) and its log, as of this poll.
        let seen: Vec<(String, Option<Started>, String)> = members
            .iter_mut()
            .map(|m| (m.name.clone(), m.why_exited(), m.log_tail()))
            .collect();
        let (probes, healthy) = (&probes, &healthy);
        async move {
            for (i, probe) in probes.iter().enumerate() {
                let done = healthy.borrow()[i];
                if !done && probe.healthy().await {
                    healthy.borrow_mut()[i] = true;
                }
            }
            let healthy = healthy.borrow();
            for ((name, exited, log), healthy) in seen.iter().zip(healthy.iter()) {
                match exited {
                    _ if *healthy => {}
                    Some(Started::PortTaken(port)) => return Ok(Err(*port)),
                    Some(_) => panic!("etcd member {name} exited while starting:\n{log}"),
                    None => {}
                }
            }
            match healthy.iter().position(|h| !*h) {
                None => Ok(Ok(())),
                Some(i) => Err(Shown(format!(
                    "{} not healthy yet:\n{}",
                    seen[i].0, seen[i].2
                ))),
            }
        }
    })
    .await
}

/// Text shown as it is in a failure message (a member's log, not quoted and escaped).
struct Shown(String);

impl std::fmt::Debug for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Restores a snapshot into `data_dir`, with the tool of the version under test: `etcdctl
/// snapshot restore` on 3.4, `etcdutl snapshot restore` from 3.5 (`$ETCDUTL_BIN`).
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

#[cfg(test)]
mod tests {
    use super::with_peer_url;

    #[test]
    fn only_the_entry_with_that_exact_url_changes() {
        let list = "n0=http://127.0.0.1:23801,n1=http://127.0.0.1:2380,n3=http://127.0.0.1:1";
        assert_eq!(
            with_peer_url(list, "http://127.0.0.1:2380", "http://127.0.0.1:4000"),
            "n0=http://127.0.0.1:23801,n1=http://127.0.0.1:4000,n3=http://127.0.0.1:1"
        );
    }
}
