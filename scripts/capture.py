#!/usr/bin/env python3
"""Records raw gateway exchanges with a live etcd, in the format of tests/fixtures/captures/.

    scripts/capture.py TAG ETCD_BIN [NAME-PREFIX ...]

starts one member of ETCD_BIN on free loopback ports (a temp data dir, removed after), runs
every scenario below (or those whose name starts with a NAME-PREFIX), and writes each to
tests/fixtures/captures/NAME.TAG.txt: the exact bytes sent, and the answer as it arrived, chunk
by chunk with arrival times (the unit tests read these files; GATEWAY.md cites them).
TAG names the version: v34 (3.4.23), v35 (3.5.1), v3534, v36, v37.

Each scenario is a function that sets up state with plain requests and captures the exchanges
it is about. Nothing here is a mock: every byte comes from the server.
"""

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "captures")


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Member:
    def __init__(self, binary, extra=()):
        self.binary = binary
        self.client = free_port()
        self.peer = free_port()
        self.dir = tempfile.mkdtemp(prefix="etcdgw-capture-")
        version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
        self.version = version.split("etcd Version: ")[1].split()[0]
        minor = tuple(int(x) for x in self.version.split(".")[:2])
        interval = "--watch-progress-notify-interval" if minor >= (3, 7) else "--experimental-watch-progress-notify-interval"
        args = [
            binary, "--name", "capture", "--data-dir", os.path.join(self.dir, "data"),
            "--listen-client-urls", f"http://127.0.0.1:{self.client}",
            "--advertise-client-urls", f"http://127.0.0.1:{self.client}",
            "--listen-peer-urls", f"http://127.0.0.1:{self.peer}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{self.peer}",
            "--initial-cluster", f"capture=http://127.0.0.1:{self.peer}",
            "--logger", "zap", "--log-level", "error", f"{interval}=2s", *extra,
        ]
        self.log = open(os.path.join(self.dir, "etcd.log"), "wb")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log)
        for _ in range(200):
            try:
                if b'"true"' in exchange("GET", "/health", None, port=self.client)[2]:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise SystemExit(f"etcd {binary} did not start; log in {self.dir}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


def raw_request(method, path, body, port, headers=()):
    data = b"" if body is None else (body if isinstance(body, bytes) else body.encode())
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    if body is not None:
        lines.append("Content-Type: application/json")
    lines += list(headers)
    if body is not None:
        lines.append(f"Content-Length: {len(data)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


def exchange(method, path, body, port, headers=(), wait=5.0):
    """One request on a fresh connection; returns (status, head text, body, record)."""
    request = raw_request(method, path, body, port, headers)
    sock = socket.create_connection(("127.0.0.1", port), timeout=wait)
    start = time.monotonic()
    sock.sendall(request)
    buf = b""
    head_at = None
    chunks = []
    end = None
    deadline = start + wait
    sock.settimeout(0.05)
    head = None
    body_bytes = b""
    content_length = None
    chunked = False
    while True:
        now = time.monotonic()
        if now >= deadline:
            end = f"still open after {wait:.1f}s (client stopped reading)" if head else f"no response (timeout)"
            break
        try:
            data = sock.recv(1 << 20)
        except socket.timeout:
            continue
        if not data:
            end = "connection closed by the server"
            break
        buf += data
        if head is None and b"\r\n\r\n" in buf:
            head_at = time.monotonic() - start
            head, buf = buf.split(b"\r\n\r\n", 1)
            head = head.decode("latin-1")
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.lower() == "content-length":
                    content_length = int(value.strip())
                if name.lower() == "transfer-encoding" and "chunked" in value.lower():
                    chunked = True
        if head is None:
            continue
        if chunked:
            while True:
                if b"\r\n" not in buf:
                    break
                size_line, rest = buf.split(b"\r\n", 1)
                size = int(size_line.split(b";")[0], 16)
                if len(rest) < size + 2:
                    break
                t = time.monotonic() - start
                if size == 0:
                    end = f"terminating zero-length chunk at {t:.3f}s"
                    buf = b""
                    break
                chunks.append((t, size_line.decode(), rest[:size]))
                body_bytes += rest[:size]
                buf = rest[size + 2:]
            if end:
                break
        elif content_length is not None and len(buf) >= content_length:
            body_bytes = buf[:content_length]
            end = f"content-length body complete; {time.monotonic() - start:.3f}s total"
            break
        elif content_length is None and not chunked:
            continue
    sock.close()
    status = int(head.split()[1]) if head else 0
    return status, head, body_bytes, (request, head_at, head, chunked, chunks, body_bytes, end)


def render(record):
    request, head_at, head, chunked, chunks, body, end = record
    out = [">>> request (exact bytes sent)"]
    out.append(request.decode("latin-1").replace("\r\n", "\n").rstrip("\n"))
    out.append("")
    if head is None:
        out.append("<<< response (as received, after 0.000s for the head)")
        out.append(f"({end})")
        return "\n".join(out) + "\n"
    out.append(f"<<< response (as received, after {head_at:.3f}s for the head)")
    # The date changes every run; it is kept (as in the older captures) for honesty.
    out.append(head.replace("\r\n", "\n"))
    out.append("")
    if chunked:
        out.append("[chunked body as received: one block per HTTP chunk; t = seconds since the request was sent;")
        out.append(" chunk data shown verbatim except that LF/CR bytes are written as the two characters \\n / \\r]")
        for t, size_line, data in chunks:
            out.append(f"-- chunk at t={t:.3f}, {len(data)} bytes (chunk-size line '{size_line}') --")
            out.append(data.decode("utf-8", "replace").replace("\n", "\\n").replace("\r", "\\r"))
    else:
        out.append(body.decode("utf-8", "replace"))
    out.append(f"-- end: {end} --")
    return "\n".join(out) + "\n"


class Proxy:
    """A reverse proxy of test-support/proxies/ in front of `upstream` (a port), in a temp dir."""

    PROGRAMS = {"nginx": "nginx", "haproxy": "haproxy", "Caddyfile": "caddy"}

    def __init__(self, config, upstream):
        program = next(p for k, p in self.PROGRAMS.items() if config.startswith(k))
        binary = shutil.which(program) or shutil.which(program, path="/usr/sbin")
        if binary is None:
            raise FileNotFoundError(program)
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="etcdgw-capture-proxy-")
        os.chmod(self.dir, 0o755)  # nginx's workers run as nobody under root
        text = open(os.path.join(ROOT, "test-support", "proxies", config)).read()
        for k, v in {"@LISTEN@": f"127.0.0.1:{self.port}", "@HOST@": "127.0.0.1",
                     "@UPSTREAM@": f"127.0.0.1:{upstream}", "@DIR@": self.dir, "@API_KEY@": "capture"}.items():
            text = text.replace(k, v)
        path = os.path.join(self.dir, config)
        with open(path, "w") as f:
            f.write(text)
        args = {"nginx": [binary, "-p", self.dir, "-e", f"{self.dir}/error.log", "-c", path],
                "haproxy": [binary, "-db", "-f", path],
                "caddy": [binary, "run", "--adapter", "caddyfile", "--config", path]}[program]
        env = dict(os.environ, HOME=self.dir, XDG_DATA_HOME=self.dir, XDG_CONFIG_HOME=self.dir)
        self.log = open(os.path.join(self.dir, "output.log"), "wb")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log, cwd=self.dir, env=env)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit(f"{config} did not start; output in {self.dir}")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


class Capture:
    def __init__(self, member, tag):
        self.m = member
        self.tag = tag

    def call(self, path, body, headers=()):
        status, _, data, _ = exchange("POST", path, json.dumps(body), self.m.client, headers)
        if not 200 <= status < 300:
            raise RuntimeError(f"{path}: {status} {data!r}")
        return json.loads(data) if data else {}

    def write(self, name, title, records):
        text = f"# etcd {self.m.version}: {title}\n\n" + "\n".join(render(r) for r in records)
        path = os.path.join(OUT, f"{name}.{self.tag}.txt")
        with open(path, "w") as f:
            f.write(text)
        print(f"wrote {os.path.relpath(path, ROOT)}", file=sys.stderr)

    def one(self, name, title, path, body, headers=(), wait=5.0, method="POST"):
        raw = body if isinstance(body, (str, bytes)) or body is None else json.dumps(body, separators=(",", ":"))
        _, _, _, record = exchange(method, path, raw, self.m.client, headers, wait)
        self.write(name, title, [record])
        return record


def scenarios(c):
    """(name, function) in the order they run; auth ones last, the server-stop one at the end."""
    put = lambda k, v: c.call("/v3/kv/put", {"key": b64(k), "value": b64(v)})

    def compacted():
        for i in range(3):
            put("err/c", str(i))
        rev = int(c.call("/v3/kv/range", {"key": b64("err/c")})["header"]["revision"])
        c.call("/v3/kv/compaction", {"revision": str(rev)})
        c.one("30-err-compacted-range", "range at a compacted revision", "/v3/kv/range",
              {"key": b64("err/c"), "revision": str(rev - 1)})

    def empty_key():
        c.one("30-err-empty-key-put", "put with an empty key", "/v3/kv/put", {"value": b64("v")})

    def too_many_ops():
        ops = [{"request_put": {"key": b64(f"ops/{i}"), "value": b64("v")}} for i in range(129)]
        c.one("31-err-txn-too-many-ops", "txn with 129 operations (limit 128)", "/v3/kv/txn", {"success": ops})

    def lease_not_found():
        c.one("33-err-lease-not-found-revoke", "revoke of a lease that does not exist", "/v3/lease/revoke", {"ID": "12345"})
        c.one("33-err-lease-not-found-keepalive", "keepalive of a lease that does not exist", "/v3/lease/keepalive",
              {"ID": "12345"}, wait=2.0)

    def duplicate_lease():
        c.call("/v3/lease/grant", {"TTL": "60", "ID": "777"})
        c.one("33-err-lease-grant-duplicate-id", "grant with an ID already in use", "/v3/lease/grant", {"TTL": "60", "ID": "777"})

    def wrong_path():
        c.one("34-err-wrong-path", "unknown path under /v3/", "/v3/kv/nosuch", {"key": b64("a")})

    def invalid_json():
        c.one("34-err-invalid-json", "body that is not JSON", "/v3/kv/range", "{not json")

    def hashkv():
        c.one("13-path-maintenance-hashkv", "hashkv", "/v3/maintenance/hashkv", {"revision": "0"})

    def watch_errors():
        c.one("48-watch-error-bad-base64", "watch request with invalid base64", "/v3/watch",
              {"create_request": {"key": "!!"}}, wait=3.0)
        c.one("48-watch-error-invalid-json", "watch request that is not JSON", "/v3/watch", "{nope", wait=3.0)
        c.one("48-watch-empty-request", "watch body {} (no request in it)", "/v3/watch", {}, wait=3.0)

    def progress():
        for i in range(5):
            put("pg/k", str(i))
        rev = int(c.call("/v3/kv/range", {"key": b64("pg/k")})["header"]["revision"])
        c.one("85-watch-progress-alone", "a progress_request alone in a watch body (no watcher on the stream)",
              "/v3/watch", {"progress_request": {}}, wait=3.0)
        body = json.dumps({"create_request": {"key": b64("pg/k")}}) + "\n" + json.dumps({"progress_request": {}})
        c.one("85-watch-progress-after-create", "create, then progress_request, in one body (the watcher is synced)",
              "/v3/watch", body, wait=2.0)
        body = (json.dumps({"create_request": {"key": b64("pg/k"), "start_revision": str(rev - 4)}}) + "\n"
                + json.dumps({"progress_request": {}}))
        c.one("85-watch-progress-unsynced", "create from an old revision (4 events to replay), then progress_request, in one body",
              "/v3/watch", body, wait=2.0)

    def nonadmin():
        # A user with a role on one prefix only; root with the root role; auth on.
        c.call("/v3/auth/user/add", {"name": "root", "password": "rootpw"})
        c.call("/v3/auth/user/grant", {"user": "root", "role": "root"})
        c.call("/v3/auth/role/add", {"name": "app"})
        c.call("/v3/auth/role/grant", {"name": "app", "perm": {"permType": "READWRITE", "key": b64("app/"), "range_end": b64("app0")}})
        c.call("/v3/auth/user/add", {"name": "alice", "password": "alicepw"})
        c.call("/v3/auth/user/grant", {"user": "alice", "role": "app"})
        c.call("/v3/auth/enable", {})
        c.one("73-auth-wrong-password", "authenticate with a wrong password", "/v3/auth/authenticate",
              {"name": "alice", "password": "nope"})
        c.one("72-auth-no-token-range", "range without a token, auth on", "/v3/kv/range", {"key": b64("app/a")})
        c.one("72-auth-no-token-status", "status without a token, auth on", "/v3/maintenance/status", {})
        c.one("74-auth-token-garbage", "range with a token that is not one", "/v3/kv/range", {"key": b64("app/a")},
              headers=["Authorization: garbage"])
        token = c.call("/v3/auth/authenticate", {"name": "alice", "password": "alicepw"})["token"]
        hdr = [f"Authorization: {token}"]
        c.one("76-auth-nonadmin-range-denied", "range outside the user's permission", "/v3/kv/range",
              {"key": b64("other")}, headers=hdr)
        c.one("87-auth-nonadmin-member-list", "member list by a non-admin user", "/v3/cluster/member/list", {}, headers=hdr)
        c.one("87-auth-nonadmin-status", "status by a non-admin user", "/v3/maintenance/status", {}, headers=hdr)
        c.one("87-auth-nonadmin-alarm-list", "alarm list by a non-admin user", "/v3/maintenance/alarm", {"action": "GET"}, headers=hdr)
        c.one("87-auth-nonadmin-hashkv", "hashkv by a non-admin user", "/v3/maintenance/hashkv", {}, headers=hdr)
        c.one("76-auth-watch-permission-denied", "watch outside the user's permission", "/v3/watch",
              {"create_request": {"key": b64("other")}}, headers=hdr, wait=2.0)
        root = c.call("/v3/auth/authenticate", {"name": "root", "password": "rootpw"})["token"]
        exchange("POST", "/v3/auth/disable", "{}", c.m.client, [f"Authorization: {root}"])

    def deadline_lock():
        # A lock held under one lease, and a second lock call (another lease) that the server
        # gives up on (Grpc-Timeout).
        holder = c.call("/v3/lease/grant", {"TTL": "60"})["ID"]
        waiter = c.call("/v3/lease/grant", {"TTL": "60"})["ID"]
        c.call("/v3/lock/lock", {"name": b64("dl"), "lease": holder})
        c.one("90-hdr-grpc-timeout-lock", "lock held elsewhere, asked with Grpc-Timeout: 300m", "/v3/lock/lock",
              {"name": b64("dl"), "lease": waiter}, headers=["Grpc-Timeout: 300m"], wait=3.0)

    def deadline_watch():
        c.one("90-hdr-grpc-timeout-watch", "watch with Grpc-Timeout: 500m", "/v3/watch",
              {"create_request": {"key": b64("dl/w")}}, headers=["Grpc-Timeout: 500m"], wait=2.0)

    def deadline_streams():
        # Streams the server ends at their Grpc-Timeout: what a long poll is (GATEWAY.md 8).
        import threading
        later = lambda delay, f: threading.Timer(delay, f).start()
        later(0.5, lambda: put("dl/e", "1"))
        later(1.0, lambda: put("dl/e", "2"))
        c.one("90-hdr-grpc-timeout-watch-2s", "watch with Grpc-Timeout: 2S, two puts during it", "/v3/watch",
              {"create_request": {"key": b64("dl/e")}}, headers=["Grpc-Timeout: 2S"], wait=4.0)
        c.one("90-hdr-grpc-timeout-observe-no-leader", "election observe with Grpc-Timeout: 1S, nobody elected",
              "/v3/election/observe", {"name": b64("dl-elect")}, headers=["Grpc-Timeout: 1S"], wait=3.0)
        lease = c.call("/v3/lease/grant", {"TTL": "60"})["ID"]
        leader = c.call("/v3/election/campaign", {"name": b64("dl-elect"), "lease": lease, "value": b64("one")})["leader"]
        later(0.5, lambda: c.call("/v3/election/proclaim", {"leader": leader, "value": b64("two")}))
        c.one("90-hdr-grpc-timeout-observe", "election observe with Grpc-Timeout: 2S, a leader, a proclaim during it",
              "/v3/election/observe", {"name": b64("dl-elect")}, headers=["Grpc-Timeout: 2S"], wait=4.0)

    def proxies():
        # The gateway's streams through the proxies of test-support/proxies/, as each is
        # configured there (skipped for a proxy that is not installed: scripts/proxy-env.sh).
        import threading
        later = lambda delay, f: threading.Timer(delay, f).start()
        for config in ["nginx-defaults.conf", "nginx-streaming.conf", "nginx-short-timeout.conf",
                       "haproxy-short-timeout.cfg", "Caddyfile"]:
            name = config.split(".")[0].lower()
            try:
                proxy = Proxy(config, c.m.client)
            except FileNotFoundError:
                print(f"{config}: proxy not installed, skipped", file=sys.stderr)
                continue
            try:
                def via(cap, title, path, body, headers=(), wait=5.0):
                    _, _, _, record = exchange("POST", path, json.dumps(body), proxy.port, headers, wait)
                    c.write(f"95-proxy-{name}-{cap}", f"through {config}: {title}", [record])
                later(0.5, lambda: put("px/w", "1"))
                via("watch", "watch, a put after 0.5 s", "/v3/watch", {"create_request": {"key": b64("px/w")}}, wait=4.0)
                later(0.3, lambda: put("px/w", "2"))
                via("watch-grpc-timeout", "watch with Grpc-Timeout: 1S (a long poll), a put after 0.3 s", "/v3/watch",
                    {"create_request": {"key": b64("px/w")}}, headers=["Grpc-Timeout: 1S"], wait=3.0)
                if "short-timeout" in config:
                    holder = c.call("/v3/lease/grant", {"TTL": "60"})["ID"]
                    waiter = c.call("/v3/lease/grant", {"TTL": "60"})["ID"]
                    c.call("/v3/lock/lock", {"name": b64(f"px-{name}"), "lease": holder})
                    via("lock-held", "lock held elsewhere, waited on longer than the proxy's timeout", "/v3/lock/lock",
                        {"name": b64(f"px-{name}"), "lease": waiter}, wait=4.0)
                if config == "nginx-defaults.conf":
                    big = b64("x" * (900 * 1024))
                    via("put-over-body-limit", "put of 1.2 MB of JSON (client_max_body_size 1m)", "/v3/kv/put",
                        {"key": b64("px/big"), "value": big}, wait=3.0)
            finally:
                proxy.stop()
            dead = Proxy(config, free_port())
            try:
                _, _, _, record = exchange("POST", "/v3/kv/range", json.dumps({"key": b64("k")}), dead.port, (), 5.0)
                c.write(f"95-proxy-{name}-etcd-down", f"through {config}: a range while nothing listens behind it",
                        [record])
            finally:
                dead.stop()

    def server_stops():
        # A watch open when the member shuts down: the stream's error object, then the end.
        sock_rec = {}
        import threading

        def run():
            sock_rec["r"] = exchange("POST", "/v3/watch", json.dumps({"create_request": {"key": b64("stop/k")}}),
                                     c.m.client, (), wait=15.0)[3]

        t = threading.Thread(target=run)
        t.start()
        time.sleep(0.5)
        c.m.proc.send_signal(signal.SIGTERM)
        t.join()
        c.write("99-watch-member-stops", "a watch open while the member is stopped (SIGTERM)", [sock_rec["r"]])

    return [
        ("30-err-compacted-range", compacted), ("30-err-empty-key-put", empty_key),
        ("31-err-txn-too-many-ops", too_many_ops), ("33-err-lease", lease_not_found),
        ("33-err-lease-grant-duplicate-id", duplicate_lease), ("34-err-wrong-path", wrong_path),
        ("34-err-invalid-json", invalid_json), ("13-path-maintenance-hashkv", hashkv),
        ("48-watch", watch_errors), ("85-watch-progress", progress), ("90-hdr-grpc-timeout-lock", deadline_lock), ("90-hdr-grpc-timeout-watch", deadline_watch),
        ("90-hdr-grpc-timeout-streams", deadline_streams), ("95-proxy", proxies),
        ("7x-87-auth", nonadmin), ("99-watch-member-stops", server_stops),
    ]


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    tag, binary, prefixes = sys.argv[1], sys.argv[2], sys.argv[3:]
    member = Member(binary)
    try:
        c = Capture(member, tag)
        for name, run in scenarios(c):
            if prefixes and not any(name.startswith(p) or p in name for p in prefixes):
                continue
            run()
    finally:
        member.stop()


if __name__ == "__main__":
    main()
