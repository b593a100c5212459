//! Real reverse proxies in front of a member: nginx, HAProxy and Caddy from Debian's packages
//! (`scripts/proxy-env.sh` installs them), each run from a configuration committed in
//! `test-support/proxies/` (the README's "Behind a proxy" shows the same files), on a free
//! loopback port, in a temp dir of its own (pid file, logs, buffers), as `nobody` when the
//! tests run as root. Dropping one stops it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use etcdgw::{Client, ConnectOptions};
use tempfile::TempDir;

use crate::certs::Certs;
use crate::ports::free_port;
use crate::wait::wait_until;

/// The API key `nginx-prefix-key.conf` wants in `X-Api-Key`.
pub const API_KEY: &str = "test-api-key-7f3a";

/// A proxy configuration of `test-support/proxies/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// nginx at its defaults: buffers streamed answers, HTTP/1.0 to etcd, 60 s read timeout.
    NginxDefaults,
    /// nginx set up for the gateway: no buffering, HTTP/1.1 kept alive, 1 h read timeout.
    NginxStreaming,
    /// nginx without buffering and with a 2 s read timeout: cuts idle watches, 504s long locks.
    NginxShortTimeout,
    /// nginx at its defaults over TLS and HTTP/2 to the client.
    NginxTlsH2,
    /// nginx at its defaults under the path prefix `/etcd/`, wanting `X-Api-Key`.
    NginxPrefixKey,
    /// HAProxy with a 2 s `timeout server`.
    HaproxyShortTimeout,
    /// HAProxy over TLS and HTTP/2 to the client.
    HaproxyH2,
    /// Caddy's reverse proxy at its defaults.
    Caddy,
}

impl Kind {
    /// The configuration file in `test-support/proxies/`.
    pub fn file(self) -> &'static str {
        match self {
            Kind::NginxDefaults => "nginx-defaults.conf",
            Kind::NginxStreaming => "nginx-streaming.conf",
            Kind::NginxShortTimeout => "nginx-short-timeout.conf",
            Kind::NginxTlsH2 => "nginx-tls-h2.conf",
            Kind::NginxPrefixKey => "nginx-prefix-key.conf",
            Kind::HaproxyShortTimeout => "haproxy-short-timeout.cfg",
            Kind::HaproxyH2 => "haproxy-h2.cfg",
            Kind::Caddy => "Caddyfile",
        }
    }

    /// Whether it holds a streamed answer back until the answer ends (so watches go as long
    /// polls through it).
    pub fn buffers(self) -> bool {
        matches!(
            self,
            Kind::NginxDefaults | Kind::NginxTlsH2 | Kind::NginxPrefixKey
        )
    }

    /// How long it lets a request go without an answer from etcd before cutting it (an idle
    /// watch, a waiting lock), if that is short enough for a test to outlast.
    pub fn idle_timeout(self) -> Option<Duration> {
        match self {
            Kind::NginxShortTimeout | Kind::HaproxyShortTimeout => Some(Duration::from_secs(2)),
            _ => None,
        }
    }

    fn tls(self) -> bool {
        matches!(self, Kind::NginxTlsH2 | Kind::HaproxyH2)
    }

    fn program(self) -> &'static str {
        match self {
            Kind::HaproxyShortTimeout | Kind::HaproxyH2 => "haproxy",
            Kind::Caddy => "caddy",
            _ => "nginx",
        }
    }
}

/// The directory of the configurations.
pub fn configs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("proxies")
}

/// A running proxy in front of one member.
pub struct ReverseProxy {
    /// Which configuration it runs.
    pub kind: Kind,
    /// The port it listens on.
    pub port: u16,
    certs: Option<Arc<Certs>>,
    child: Child,
    dir: TempDir,
}

/// How many times a start tries a fresh port after the proxy could not bind one.
const ATTEMPTS: usize = 5;

impl ReverseProxy {
    /// Starts `kind` in front of the member whose client port is `upstream`, and waits until
    /// a request through it reaches etcd.
    pub async fn start(kind: Kind, upstream: u16) -> ReverseProxy {
        let certs = kind.tls().then(|| Arc::new(Certs::generate()));
        for _ in 0..ATTEMPTS {
            let mut proxy = ReverseProxy::spawn(kind, upstream, certs.clone());
            if proxy.wait_ready().await {
                return proxy;
            }
        }
        panic!("{kind:?} could not start on a free port in {ATTEMPTS} tries");
    }

    fn spawn(kind: Kind, upstream: u16, certs: Option<Arc<Certs>>) -> ReverseProxy {
        let dir = tempfile::Builder::new()
            .prefix("etcdgw-proxy-")
            .tempdir()
            .expect("a temp dir");
        let port = free_port();
        let path = dir.path().display().to_string();
        let template = std::fs::read_to_string(configs_dir().join(kind.file()))
            .unwrap_or_else(|e| panic!("{}: {e}", kind.file()));
        let config = template
            .replace("@LISTEN@", &format!("127.0.0.1:{port}"))
            .replace("@HOST@", "127.0.0.1")
            .replace("@UPSTREAM@", &format!("127.0.0.1:{upstream}"))
            .replace("@DIR@", &path)
            .replace("@API_KEY@", API_KEY);
        let config_path = dir.path().join(kind.file());
        std::fs::write(&config_path, config).expect("write the proxy's configuration");
        if let Some(certs) = &certs {
            let cert = std::fs::read_to_string(&certs.server_cert).expect("server cert");
            let key = std::fs::read_to_string(&certs.server_key).expect("server key");
            std::fs::write(dir.path().join("cert.pem"), &cert).expect("write cert");
            std::fs::write(dir.path().join("key.pem"), &key).expect("write key");
            std::fs::write(dir.path().join("cert-and-key.pem"), format!("{cert}{key}"))
                .expect("write cert and key");
        }
        let unprivileged = run_as_nobody(dir.path());
        let mut command = match unprivileged {
            true => {
                let mut c = Command::new("setpriv");
                c.args([
                    "--reuid=nobody",
                    "--regid=nogroup",
                    "--clear-groups",
                    "--",
                    kind.program(),
                ]);
                c
            }
            false => Command::new(kind.program()),
        };
        match kind.program() {
            "nginx" => command.args([
                "-p",
                &path,
                "-e",
                &format!("{path}/error.log"),
                "-c",
                &config_path.display().to_string(),
            ]),
            "haproxy" => command.args(["-db", "-f", &config_path.display().to_string()]),
            _ => command
                .args([
                    "run",
                    "--adapter",
                    "caddyfile",
                    "--config",
                    &config_path.display().to_string(),
                ])
                .env("HOME", &path)
                .env("XDG_DATA_HOME", &path)
                .env("XDG_CONFIG_HOME", &path),
        };
        let log = std::fs::File::create(dir.path().join("output.log")).expect("log file");
        let child = command
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {}: {e} (scripts/proxy-env.sh installs nginx, haproxy and caddy)",
                    kind.program()
                )
            });
        ReverseProxy {
            kind,
            port,
            certs,
            child,
            dir,
        }
    }

    /// Waits until a request through the proxy gets etcd's answer; false if the proxy exited
    /// (its port was taken: try another).
    async fn wait_ready(&mut self) -> bool {
        let client = Client::connect(
            [self.endpoint()],
            Some(self.connect_options().with_timeout(Duration::from_secs(1))),
        )
        .await
        .expect("connect");
        let what = format!("{:?} to pass a request to etcd", self.kind);
        let log = self.dir.path().join("output.log");
        let child = &mut self.child;
        wait_until(&what, Duration::from_secs(30), || {
            let exited = !matches!(child.try_wait(), Ok(None));
            let client = &client;
            let log = &log;
            async move {
                if exited {
                    return Ok(false);
                }
                match client.status().await {
                    Ok(_) => Ok(true),
                    Err(e) => Err(format!(
                        "{e}; its output:\n{}",
                        std::fs::read_to_string(log).unwrap_or_default()
                    )),
                }
            }
        })
        .await
    }

    /// Its URL as an endpoint (with the path prefix, for the configuration that has one).
    pub fn endpoint(&self) -> String {
        let scheme = if self.kind.tls() { "https" } else { "http" };
        let prefix = if self.kind == Kind::NginxPrefixKey {
            "/etcd"
        } else {
            ""
        };
        format!("{scheme}://127.0.0.1:{}{prefix}", self.port)
    }

    /// Options that reach etcd through it: the test CA for a TLS one, the API key for the one
    /// that wants it.
    pub fn connect_options(&self) -> ConnectOptions {
        let mut options = ConnectOptions::new();
        if let Some(certs) = &self.certs {
            options = options.with_tls(
                etcdgw::TlsOptions::new()
                    .ca_certificate(etcdgw::Certificate::from_pem(&certs.ca_pem)),
            );
        }
        if self.kind == Kind::NginxPrefixKey {
            options = options.with_header("X-Api-Key", API_KEY);
        }
        options
    }

    /// The test CA's certificate (PEM) of a TLS proxy.
    pub fn ca_pem(&self) -> Option<&str> {
        self.certs.as_ref().map(|c| c.ca_pem.as_str())
    }

    /// What the proxy wrote to its logs, for failure messages.
    pub fn logs(&self) -> String {
        ["output.log", "error.log"]
            .iter()
            .map(|f| std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for ReverseProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether to run the proxy as `nobody` (the tests run as root, and `setpriv` is there); the
/// temp dir is then handed to `nobody`, who writes its pid file, logs and buffers there.
fn run_as_nobody(dir: &Path) -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false);
    if !root || !Path::new("/usr/bin/setpriv").exists() {
        return false;
    }
    let entries = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let mut paths = vec![dir.to_path_buf()];
    paths.extend(entries);
    paths
        .iter()
        .all(|p| std::os::unix::fs::chown(p, Some(65534), Some(65534)).is_ok())
}
