#!/usr/bin/env python3
"""Records raw gateway exchanges with a live etcd, in the format of tests/fixtures/captures/.

    scripts/capture.py TAG ETCD_BIN [NAME-PREFIX ...]

starts one member of ETCD_BIN on free loopback ports (a temp data dir, removed after), runs
every scenario below (or those whose name starts with a NAME-PREFIX), and writes each to
tests/fixtures/captures/NAME.TAG.txt: the exact bytes sent, and the answer as it arrived, chunk
by chunk with arrival times (the unit tests read these files; GATEWAY.md cites them).
TAG names the version: v34 (3.4.23), v35 (3.5.1), v3534, v36, v37.

The WebSocket scenarios (49/50/52/53-watch-websocket-*, 77-auth-websocket,
99-watch-websocket-member-stops) use a small RFC 6455 client of their own (class WebSocket) and
write a timeline instead: `[t= S.SSS] who: what`, one line per frame sent or received.

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
        for t, size_line, data, *note in chunks:  # a note: chunks left out before this one
            out.append(f"-- chunk at t={t:.3f}, {len(data)} bytes (chunk-size line '{size_line}') --"
                       + "".join(f" {n}" for n in note))
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


class WsLog:
    """The timeline of one or more WebSocket sessions, in the text format of the 50/53/77 captures:
    `[t= S.SSS] who: what`, t in seconds since the log (or the last restart) began."""

    def __init__(self):
        import threading
        self.lines = []
        self.lock = threading.Lock()
        self.t0 = time.monotonic()

    def restart(self, banner=None):
        with self.lock:
            if banner:
                self.lines.append(banner)
            self.t0 = time.monotonic()

    def add(self, text, block=()):
        with self.lock:
            self.lines.append(f"[t={time.monotonic() - self.t0:6.3f}] {text}")
            self.lines.extend("    " + line for line in block)

    def note(self, text):
        with self.lock:
            self.lines.append(text)

    def text(self):
        with self.lock:
            return "\n".join(self.lines) + "\n"


def show_message(data, keep=300):
    """A message as text, LF/CR written as \\n / \\r; a long one keeps its first and last `keep` bytes."""
    text = data.decode("utf-8", "replace").replace("\n", "\\n").replace("\r", "\\r")
    if len(data) > 4 * keep:
        head = data[:keep].decode("utf-8", "replace")
        tail = data[-keep:].decode("utf-8", "replace")
        return f"{head}...[{len(data) - 2 * keep} bytes omitted]...{tail}"
    return text


class WebSocket:
    """A minimal RFC 6455 client on a raw socket. A reader thread records every frame the server
    sends as it arrives (messages with their frame count, continuation frames joined; PING, PONG,
    CLOSE frames; the end of the TCP stream); pings are answered with a pong, a server CLOSE with
    a CLOSE echoing its code."""

    def __init__(self, log, port, path="/v3/watch", headers=(), wait=5.0):
        import threading
        self.log = log
        self.messages = []           # (t, bytes) of every complete data message
        self.frames = 0              # every frame received, control frames included
        self.closed = threading.Event()
        self.sent_close = False
        key = b64(os.urandom(16))
        lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket", "Connection: Upgrade",
                 f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13", *headers]
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=wait)
        log.add("client: upgrade request:", lines)
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = self.sock.recv(65536)
            if not data:
                break
            buf += data
        head, _, self.buf = buf.partition(b"\r\n\r\n")
        head = head.decode("latin-1")
        log.add("server: upgrade response:", head.split("\r\n") if head else ["(connection closed, no response)"])
        self.status = int(head.split()[1]) if head else 0
        if self.status != 101:
            # Whatever body follows (a refused upgrade is plain HTTP).
            self.sock.settimeout(1.0)
            try:
                while True:
                    data = self.sock.recv(65536)
                    if not data:
                        break
                    self.buf += data
            except OSError:
                pass
            if self.buf:
                log.add(f"server: response body: {show_message(self.buf)}")
            self.sock.close()
            self.closed.set()
            return
        self.sock.settimeout(None)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _recv_exact(self, n):
        while len(self.buf) < n:
            data = self.sock.recv(1 << 20)
            if not data:
                raise EOFError
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _frame(self):
        b0, b1 = self._recv_exact(2)
        fin, opcode, masked, n = b0 >> 7, b0 & 0x0F, b1 >> 7, b1 & 0x7F
        if n == 126:
            n = int.from_bytes(self._recv_exact(2), "big")
        elif n == 127:
            n = int.from_bytes(self._recv_exact(8), "big")
        mask = self._recv_exact(4) if masked else None
        payload = self._recv_exact(n)
        if mask:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return fin, opcode, bool(masked), payload

    def _read(self):
        parts, kind, frames = [], None, 0
        try:
            while True:
                fin, opcode, masked, payload = self._frame()
                self.frames += 1
                note = " (MASKED by the server!)" if masked else ""
                if opcode in (0, 1, 2):
                    if opcode != 0:
                        parts, kind, frames = [], opcode, 0
                    parts.append(payload)
                    frames += 1
                    if not fin:
                        continue
                    data = b"".join(parts)
                    self.messages.append((time.monotonic(), data))
                    what = "message" if kind == 1 else "BINARY message"
                    self.log.add(f"server->client: {what} ({len(data)} bytes, {frames} frame{'s' if frames > 1 else ''}){note}: "
                                 f"{show_message(data)}")
                elif opcode == 9:
                    self.log.add(f"server->client: PING frame payload={payload!r}{note}")
                    self._send(10, payload)
                    self.log.add(f"client->server: PONG frame payload={payload!r}")
                elif opcode == 10:
                    self.log.add(f"server->client: PONG frame payload={payload!r}{note}")
                elif opcode == 8:
                    code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
                    self.log.add(f"server->client: CLOSE frame code={code} reason={payload[2:]!r}{note}")
                    if not self.sent_close:
                        self.close(code or 1000)
                    self.log.add(self._drain())
                    return
                else:
                    self.log.add(f"server->client: frame with opcode {opcode} ({len(payload)} bytes){note}")
        except EOFError:
            if not self.closed.is_set():
                self.log.add("server->client: end of the TCP stream (EOF) without a CLOSE frame")
        except OSError as e:
            if not self.closed.is_set():
                self.log.add(f"server->client: connection error {e.__class__.__name__}: {e}")
        finally:
            self.closed.set()

    def _drain(self):
        # After the closing handshake the server closes the TCP connection.
        self.sock.settimeout(2.0)
        start = time.monotonic()
        try:
            while self.sock.recv(65536):
                pass
            return f"server: closed the TCP connection {time.monotonic() - start:.3f}s after the closing handshake"
        except socket.timeout:
            return "server: TCP connection still open 2 s after the closing handshake"
        except OSError as e:
            return f"server: TCP connection ended with {e.__class__.__name__}"

    def _send(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
        else:
            head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def send(self, obj):
        """One text message: a JSON object, or a string sent as it is."""
        text = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))
        self.log.add(f"client->server: text message: {show_message(text.encode())}")
        self._send(1, text.encode())

    def close(self, code=1000):
        self.sent_close = True
        self.log.add(f"client->server: CLOSE frame code={code}")
        try:
            self._send(8, code.to_bytes(2, "big"))
        except OSError as e:
            self.log.add(f"client: could not send the CLOSE frame: {e.__class__.__name__}")

    def wait_closed(self, timeout):
        return self.closed.wait(timeout)

    def drop(self):
        """Closes the TCP connection without a CLOSE frame."""
        self.log.add("client: closes the TCP connection without a CLOSE frame")
        self.closed.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def watch_gauges(port):
    """The two server-side watch gauges from GET /metrics."""
    _, _, body, _ = exchange("GET", "/metrics", None, port)
    out = {}
    for line in body.decode("utf-8", "replace").splitlines():
        for name in ("etcd_debugging_mvcc_watch_stream_total", "etcd_debugging_mvcc_watcher_total"):
            if line.startswith(name + " "):
                out[name] = line.split()[1]
    return out


class Capture:
    def __init__(self, member, tag):
        self.m = member
        self.tag = tag

    def call(self, path, body, headers=()):
        status, _, data, _ = exchange("POST", path, json.dumps(body), self.m.client, headers)
        if not 200 <= status < 300:
            raise RuntimeError(f"{path}: {status} {data!r}")
        return json.loads(data) if data else {}

    def write(self, name, title, records, comments=()):
        text = (f"# etcd {self.m.version}: {title}\n" + "".join(f"# {c}\n" for c in comments) + "\n"
                + "\n".join(render(r) for r in records))
        path = os.path.join(OUT, f"{name}.{self.tag}.txt")
        with open(path, "w") as f:
            f.write(text)
        print(f"wrote {os.path.relpath(path, ROOT)}", file=sys.stderr)

    def write_ws(self, name, title, log, comments=()):
        text = f"# etcd {self.m.version}: {title}\n" + "".join(f"# {c}\n" for c in comments) + "\n" + log.text()
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

    # WebSocket: GET /v3/watch with Upgrade: websocket (the gateway's grpc-websocket-proxy).
    ws_note = ("Minimal RFC 6455 client on a raw socket (scripts/capture.py WebSocket): each request is one "
               "text message (masked, as a client must); every frame the server sent is listed as it arrived.")

    def side_put(log, k, v):
        rev = put(k, v)["header"]["revision"]
        log.add(f"side channel: put {k}={v} -> revision {rev}")

    def ws_multiplex():
        time.sleep(1.0)  # the server drops the watchers of an earlier socket within a second
        before = watch_gauges(c.m.client)
        log = WsLog()
        ws = WebSocket(log, c.m.client)
        ws.send({"create_request": {"key": b64("w/a")}})
        time.sleep(1.0)
        side_put(log, "w/a", "1")
        time.sleep(0.5)
        ws.send({"create_request": {"key": b64("w/b"), "prev_kv": True}})
        time.sleep(1.0)
        side_put(log, "w/b", "1")
        time.sleep(0.5)
        ws.send({"cancel_request": {"watch_id": "0"}})
        time.sleep(0.5)
        ws.send({"progress_request": {}})
        time.sleep(0.5)
        side_put(log, "w/a", "2")
        side_put(log, "w/b", "2")
        time.sleep(0.5)
        ws.send(json.dumps({"create_request": {"key": b64("w/c")}}, separators=(",", ":")) + "\n"
                + json.dumps({"create_request": {"key": b64("w/d")}}, separators=(",", ":")))
        time.sleep(1.0)
        side_put(log, "w/c", "1")
        side_put(log, "w/d", "1")
        time.sleep(0.5)
        log.add(f"server gauges while open (GET /metrics): {watch_gauges(c.m.client)}")
        ws.close()
        ws.wait_closed(3.0)
        time.sleep(1.0)
        log.add(f"server gauges 1 s after the client's CLOSE frame: {watch_gauges(c.m.client)}")
        side_put(log, "w/b", "3")
        time.sleep(1.0)
        log.add(f"server gauges after one more put on a watched key: {watch_gauges(c.m.client)}")
        log.restart("---- second connection: one watch, then the TCP connection closed without a CLOSE frame ----")
        ws = WebSocket(log, c.m.client)
        ws.send({"create_request": {"key": b64("w/e")}})
        time.sleep(0.5)
        log.add(f"server gauges while open: {watch_gauges(c.m.client)}")
        ws.drop()
        time.sleep(1.0)
        log.add(f"server gauges 1 s after the TCP close: {watch_gauges(c.m.client)}")
        c.write_ws("50-watch-websocket-multiplex",
                   "several watches on ONE WebSocket connection to GET /v3/watch (the gateway's built-in WebSocket proxy)",
                   log, [ws_note, f"Before the session the server gauges were: {before}"])

    def ws_explicit_ids():
        log = WsLog()
        ws = WebSocket(log, c.m.client)
        for key, wid in [("e/1", "1"), ("e/2", "2"), ("e/3", "1"), ("e/4", None), ("e/5", None)]:
            req = {"key": b64(key)}
            if wid is not None:
                req["watch_id"] = wid
            ws.send({"create_request": req})
            time.sleep(0.5)
        for key in ["e/1", "e/2", "e/3", "e/4", "e/5"]:
            side_put(log, key, "1")
            time.sleep(0.3)
        ws.send({"cancel_request": {"watch_id": "1"}})
        time.sleep(0.5)
        ws.send({"create_request": {"key": b64("e/3"), "watch_id": "1"}})
        time.sleep(0.5)
        for key in ["e/1", "e/3"]:
            side_put(log, key, "2")
            time.sleep(0.3)
        ws.send({"create_request": {"key": b64("e/6"), "watch_id": "-1"}})
        time.sleep(0.5)
        side_put(log, "e/6", "1")
        time.sleep(0.5)
        ws.close()
        ws.wait_closed(3.0)
        c.write_ws("49-watch-websocket-explicit-ids",
                   "explicit watch_id 1, 2, then 1 again (duplicate) on one WebSocket; two auto ids; puts to each; "
                   "cancel of 1 and 1 reused; a create with watch_id -1",
                   log, [ws_note])

    def ws_idle():
        log = WsLog()
        ws = WebSocket(log, c.m.client)
        ws.send({"create_request": {"key": b64("idle/k")}})
        time.sleep(12.0)
        log.add(f"frames received in all during 12 s (the created message included): {ws.frames}")
        ws.close()
        ws.wait_closed(3.0)
        c.write_ws("52-watch-websocket-idle", "one watch on an idle WebSocket for 12 s: does the server send pings?",
                   log, [ws_note])

    def ws_large():
        first = None
        for i in range(4):
            rev = put(f"w/fr/{i}", "z" * (600 * 1024))["header"]["revision"]
            first = first or rev
        for fragment, name, title in [
                (False, "53-watch-websocket-large-message",
                 "WebSocket: a watch replaying 4 puts of 600 KiB values (one 3.2 MB watch response)"),
                (True, "53-watch-websocket-large-message-fragment",
                 "WebSocket: the same replay with fragment: true")]:
            log = WsLog()
            ws = WebSocket(log, c.m.client)
            req = {"key": b64("w/fr/"), "range_end": b64("w/fr0"), "start_revision": first}
            if fragment:
                req["fragment"] = True
            ws.send({"create_request": req})
            time.sleep(2.0)
            log.add(f"messages received in all: {len(ws.messages)}; frames: {ws.frames}")
            ws.close()
            ws.wait_closed(3.0)
            c.write_ws(name, title, log,
                       [ws_note, "A message over 1200 bytes is shown by its first and last 300 bytes.",
                        f"Setup: 4 puts of a 600 KiB value to w/fr/0..3, the first at revision {first}."])

    def ws_auth():
        for path, body in [("/v3/auth/user/add", {"name": "root", "password": "rootpw"}),
                           ("/v3/auth/user/grant", {"user": "root", "role": "root"}),
                           ("/v3/auth/enable", {})]:
            exchange("POST", path, json.dumps(body), c.m.client)
        token = c.call("/v3/auth/authenticate", {"name": "root", "password": "rootpw"})["token"]
        hdr = [f"Authorization: {token}"]
        log = WsLog()
        # Controls over plain HTTP: the token works; how the server takes "Bearer <token>" (what the
        # proxy makes of the subprotocol and of the cookie).
        for label, path, body, headers in [
                ("Authorization: <token>", "/v3/watch", {"create_request": {"key": b64("data/x")}}, hdr),
                ("Authorization: <token>", "/v3/kv/range", {"key": b64("data/x")}, hdr),
                ("Authorization: Bearer <token>", "/v3/kv/range", {"key": b64("data/x")},
                 [f"Authorization: Bearer {token}"]),
                ("Authorization: Bearer garbage", "/v3/kv/range", {"key": b64("data/x")},
                 ["Authorization: Bearer garbage"])]:
            status, _, body, _ = exchange("POST", path, json.dumps(body), c.m.client, headers, wait=1.0)
            log.note(f"control over plain HTTP: POST {path} with {label}: {status} "
                     f"{body.decode('utf-8', 'replace').strip()}")
        attempts = [
            ("Authorization: <token> on the upgrade", "/v3/watch", [f"Authorization: {token}"]),
            ("Sec-WebSocket-Protocol: Bearer, <token>", "/v3/watch", [f"Sec-WebSocket-Protocol: Bearer, {token}"]),
            ("Grpc-Metadata-Token: <token>", "/v3/watch", [f"Grpc-Metadata-Token: {token}"]),
            ("Grpc-Metadata-Authorization: <token>", "/v3/watch", [f"Grpc-Metadata-Authorization: {token}"]),
            ("Sec-WebSocket-Protocol: <token> (no Bearer)", "/v3/watch", [f"Sec-WebSocket-Protocol: {token}"]),
            ("Cookie: token=<token>", "/v3/watch", [f"Cookie: token={token}"]),
            ("Cookie: authorization=<token>", "/v3/watch", [f"Cookie: authorization={token}"]),
            ("query ?token=<token>", f"/v3/watch?token={token}", []),
            ("query ?authorization=<token>", f"/v3/watch?authorization={token}", []),
            ("Sec-WebSocket-Protocol: Bearer, garbage", "/v3/watch", ["Sec-WebSocket-Protocol: Bearer, garbage"]),
            ("Cookie: token=garbage", "/v3/watch", ["Cookie: token=garbage"]),
            ("no token at all", "/v3/watch", []),
        ]
        for i, (label, path, headers) in enumerate(attempts, 1):
            log.restart(f"---- attempt {i}: {label} ----")
            ws = WebSocket(log, c.m.client, path=path, headers=headers)
            if ws.status == 101:
                ws.send({"create_request": {"key": b64("data/x")}})
                time.sleep(0.5)
                rev = c.call("/v3/kv/put", {"key": b64("data/x"), "value": b64(str(i))}, hdr)["header"]["revision"]
                log.add(f"side channel: put data/x={i} (with the token) -> revision {rev}")
                time.sleep(0.5)
                ws.close()
                ws.wait_closed(3.0)
        exchange("POST", "/v3/auth/disable", "{}", c.m.client, hdr)
        c.write_ws("77-auth-websocket", "WebSocket watch with auth enabled (root user, root role): every channel "
                   "a token could ride on the upgrade", log,
                   [ws_note, "Each attempt is a new connection (a create on data/x, then a put to it); "
                    "t restarts at 0."])

    def ws_progress():
        for i in range(5):
            put("wp/k", str(i))
        rev = int(c.call("/v3/kv/range", {"key": b64("wp/k")})["header"]["revision"])
        log = WsLog()
        ws = WebSocket(log, c.m.client)
        ws.send({"progress_request": {}})
        time.sleep(1.0)
        ws.send(json.dumps({"create_request": {"key": b64("wp/k"), "start_revision": str(rev - 4)}},
                           separators=(",", ":")) + '\n{"progress_request":{}}')
        time.sleep(1.0)
        ws.send({"progress_request": {}})
        time.sleep(1.0)
        ws.send(json.dumps({"create_request": {"key": b64("wp/f"), "start_revision": str(rev + 2)}},
                           separators=(",", ":")) + '\n{"progress_request":{}}')
        time.sleep(1.0)
        side_put(log, "wp/k", "5")
        time.sleep(0.5)
        ws.send({"progress_request": {}})
        time.sleep(1.0)
        side_put(log, "wp/f", "1")
        time.sleep(0.5)
        ws.send({"progress_request": {}})
        time.sleep(1.0)
        ws.close()
        ws.wait_closed(3.0)
        c.write_ws("50-watch-websocket-progress",
                   "progress_request on one WebSocket: alone; with a watcher replaying history; after it caught up; "
                   "with a watcher from a future revision, before and after the store reaches it",
                   log, [ws_note, f"Setup: 5 puts to wp/k, the store at revision {rev}."])

    def ws_member_stops():
        # Each round on a member of its own (twice: the error text varies from run to run), so
        # that the capture can also run next to 99-watch-member-stops.
        import threading
        log = WsLog()
        for round in (1, 2):
            m = Member(c.m.binary)
            try:
                log.restart(f"---- round {round}: a fresh member ----")
                ws = WebSocket(log, m.client)
                ws.send({"create_request": {"key": b64("stop/k")}})
                time.sleep(0.5)

                def reap():
                    code = m.proc.wait()
                    log.add(f"member: process exited with code {code}")
                log.add("member: SIGTERM sent")
                m.proc.send_signal(signal.SIGTERM)
                reaper = threading.Thread(target=reap)
                reaper.start()
                if not ws.wait_closed(20.0):
                    log.add("client: socket still open 20 s after the SIGTERM")
                    ws.drop()
                reaper.join(20.0)
            finally:
                m.stop()
        c.write_ws("99-watch-websocket-member-stops",
                   "a watch open on a WebSocket while the member is stopped (SIGTERM)", log,
                   [ws_note, "Two rounds, each on a fresh member; t restarts at 0."])

    def many_creates(variants):
        # GATEWAY.md 4.2, "Many creates in one HTTP/1.1 body": N creates with explicit watch ids
        # 1..N in one body sent whole (Content-Length). Go's server discards the unread rest of a
        # body (< 256 KiB) when the handler writes the response head; padding the body with more
        # than 256 KiB of spaces keeps it. Each variant runs CAPTURE_RUNS times (10 by default; it
        # is a race), each on a new connection; the file holds a line per run and one run (the
        # one with the fewest creates answered, preferring one answered `Connection: close`),
        # abridged: the middle creates of the request and the middle `created` chunks left out.
        import threading
        runs = int(os.environ.get("CAPTURE_RUNS", "10"))
        pad = 256 * 1024 + 1
        for name, n, padding, title in variants:
            padding = pad if padding else 0
            keys = [f"mc/{i:03d}" for i in range(1, n + 1)]
            lines = [json.dumps({"create_request": {"key": b64(k), "watch_id": str(i)}}, separators=(",", ":"))
                     for i, k in enumerate(keys, 1)]
            body = "\n".join(lines) + " " * padding
            summary, shown_run = [], None
            for run in range(1, runs + 1):
                time.sleep(1.0)  # the watchers of the previous run's connection are gone by then
                side = {}

                def later():
                    side["gauges"] = watch_gauges(c.m.client)
                    side["puts"] = [(k, put(k, str(run))["header"]["revision"]) for k in (keys[0], keys[-1])]
                timer = threading.Timer(2.0, later)
                timer.start()
                _, head, data, record = exchange("POST", "/v3/watch", body, c.m.client, (), wait=3.5)
                timer.join()
                created, events, other = [], {}, 0
                for line in data.decode("utf-8", "replace").splitlines():
                    if line.strip():
                        result = json.loads(line).get("result", {})
                        wid = int(result.get("watch_id", "0"))
                        if result.get("created"):
                            created.append(wid)
                        elif result.get("events"):
                            for ev in result["events"]:
                                events[base64.b64decode(ev["kv"]["key"]).decode()] = wid
                        else:
                            other += 1
                last_at = None
                for t, _, chunk in record[4]:
                    if b'"created":true' in chunk:
                        last_at = t
                conn = next((l.split(":", 1)[1].strip() for l in (head or "").split("\r\n")
                             if l.lower().startswith("connection:")), "absent")
                ids = sorted(created)
                spans, start = [], None
                for i, w in enumerate(ids):
                    if start is None:
                        start = w
                    if i + 1 == len(ids) or ids[i + 1] != w + 1:
                        spans.append(f"{start}" if start == w else f"{start}-{w}")
                        start = None
                puts = "; ".join(f"put {k} (rev {rev}) -> "
                                 + (f"event with watch_id {events[k]}" if k in events else "no event")
                                 for k, rev in side.get("puts", []))
                line = (f"run {run}: {len(created)} of {n} created (watch_id {','.join(spans) or 'none'}"
                        f"{'' if created == ids else ', NOT in order'}), last at t={last_at or 0:.3f}; "
                        f"Connection: {conn}; watchers on the server at t=2.0 s: "
                        f"{side.get('gauges', {}).get('etcd_debugging_mvcc_watcher_total', '?')}; {puts}"
                        f"{f'; {other} other messages' if other else ''}")
                print(f"{name}.{c.tag}: {line}", file=sys.stderr)
                summary.append(line)
                rank = (len(created), conn != "close", run)
                if shown_run is None or rank < shown_run[0]:
                    shown_run = (rank, record)
            # The request as sent, abridged: the first and last creates, the padding described.
            request, head_at, head, chunked, chunks, data, end = shown_run[1]
            head_bytes = request[:request.index(b"\r\n\r\n") + 4]
            made = [i for i, (_, _, chunk) in enumerate(chunks) if chunk.count(b'"created":true') == 1]
            cut = ""
            if len(made) > 10:
                gone = made[5:-5]
                wids = [json.loads(chunks[i][2])["result"]["watch_id"] for i in gone]
                order = "in order" if wids == [str(w) for w in range(int(wids[0]), int(wids[0]) + len(wids))] else "NOT in order"
                note = (f"[{len(gone)} chunks before this one left out, each one `created` message: watch_id "
                        f"{wids[0]}..{wids[-1]} {order}, t={chunks[gone[0]][0]:.3f}..{chunks[gone[-1]][0]:.3f}]")
                chunks = [ch if i != made[-5] else (*ch, note) for i, ch in enumerate(chunks) if i not in set(gone)]
                cut = " (the middle `created` chunks left out)"
            shown = lines if n <= 6 else lines[:3] + [
                f"...[{n - 6} lines omitted: the same create for mc/004..mc/{n - 3:03d}, watch_id 4..{n - 3}]..."] + lines[-3:]
            text = "\n".join(shown) + (f"\n...[then {padding} spaces (0x20), omitted here]..." if padding else "")
            comments = [f"Body: {len(body)} bytes ({len(body) - padding} of creates, newline-separated"
                        f"{f', then {padding} spaces' if padding else ''}), sent whole with one sendall; the "
                        "request below is abridged. At t=2.0 s a side connection reads the watcher gauge "
                        f"(GET /metrics) and puts {keys[0]} and {keys[-1]}.",
                        f"{runs} runs, each on a new connection, the member kept; run {shown_run[0][2]} "
                        f"is shown below{cut}:"] + summary
            c.write(name, title, [(head_bytes + text.encode(), head_at, head, chunked, chunks, data, end)], comments)

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
        ("48-watch", watch_errors),
        ("44-watch-many-creates-one-body", lambda: many_creates([
            ("44-watch-many-creates-one-body", 250, False,
             "250 creates (explicit watch_id 1..250) in one HTTP/1.1 body sent whole, no padding"),
            ("44-watch-many-creates-one-body-padded", 250, True,
             "the same 250 creates followed by 256 KiB + 1 spaces (262145 bytes of 0x20)"),
            ("44-watch-many-creates-small-body", 3, False,
             "3 creates (explicit watch_id 1..3) in one HTTP/1.1 body, no padding")])),
        ("44-watch-many-creates-1000", lambda: many_creates([
            ("44-watch-many-creates-1000", 1000, False,
             "1000 creates (explicit watch_id 1..1000) in one HTTP/1.1 body sent whole, no padding")])),
        ("85-watch-progress", progress), ("90-hdr-grpc-timeout-lock", deadline_lock), ("90-hdr-grpc-timeout-watch", deadline_watch),
        ("90-hdr-grpc-timeout-streams", deadline_streams), ("95-proxy", proxies),
        ("49-watch-websocket-explicit-ids", ws_explicit_ids), ("50-watch-websocket-multiplex", ws_multiplex),
        ("50-watch-websocket-progress", ws_progress),
        ("52-watch-websocket-idle", ws_idle), ("53-watch-websocket-large-message", ws_large),
        ("7x-87-auth", nonadmin), ("77-auth-websocket", ws_auth),
        ("99-watch-websocket-member-stops", ws_member_stops), ("99-watch-member-stops", server_stops),
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
