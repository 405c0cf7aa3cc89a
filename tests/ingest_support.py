"""Helpers for the ingest tests: a moto server, a live ingest over real HTTP, a faulty network.

The ingest tests talk to moto's *server* mode over TCP (never the in-process ``mock_aws``: the
two share moto's global state, and a fault-injecting proxy needs a real socket to break).
"""

from __future__ import annotations

import io
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import urllib3
from werkzeug.datastructures import Headers
from werkzeug.serving import WSGIRequestHandler, make_server

from camcloud.devices import DeviceRegistry
from camcloud.s3 import make_client
from camcloud.settings import Settings
from ingest.service import Clock, Request
from ingest.wiring import Services
from tests.support import free_port

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's S3 in server mode on loopback; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    saved = {name: os.environ.get(name) for name in (*FAKE_CREDENTIALS, "AWS_SESSION_TOKEN",
                                                     "AWS_PROFILE", "AWS_ENDPOINT_URL")}
    os.environ.update(FAKE_CREDENTIALS)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass
class Bucket:
    """A fresh bucket on the moto server, with a registered device."""

    settings: Settings
    client: Any
    registry: DeviceRegistry

    def add_device(self, device: str) -> str:
        """Register ``device``; its key."""
        return self.registry.add(device)[1]

    def raw_keys(self, prefix: str = "raw/") -> list[str]:
        """Every key under ``prefix``."""
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.settings.bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return keys

    def get(self, key: str) -> Any:
        """GetObject of ``key``."""
        return self.client.get_object(Bucket=self.settings.bucket, Key=key)


def new_bucket(endpoint: str, spool_dir: Path, **overrides: Any) -> Bucket:
    """A new bucket on ``endpoint`` and settings pointing at it."""
    name = f"cc-{uuid.uuid4().hex[:12]}"
    env = {
        "CAMCLOUD_BUCKET": name,
        "CAMCLOUD_REGION": "us-east-1",
        "CAMCLOUD_S3_ENDPOINT": endpoint,
        "CAMCLOUD_SPOOL_DIR": str(spool_dir),
        "CAMCLOUD_RATE_PER_MINUTE": "6000",
        "CAMCLOUD_RATE_BURST": "1000",
    }
    settings = Settings.from_env(env, **overrides)
    client = make_client(settings)
    client.create_bucket(Bucket=name)
    return Bucket(settings, client, DeviceRegistry(lambda: client, name))


class QuietHandler(WSGIRequestHandler):
    """The development server's handler without a log line per request."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Say nothing: the ingest logs every upload itself."""


class LiveIngest:
    """The ingest app served over real HTTP (werkzeug, threaded) on a free loopback port.

    ``background=True`` starts the spool drainer, as gunicorn's worker hook does in production;
    ``clock`` replaces the service's wall and monotonic time.
    """

    def __init__(self, settings: Settings, client: Any = None, *, background: bool = False,
                 clock: Clock | None = None) -> None:
        from ingest import create_app, services_of, start_background

        self.app = create_app(settings, client, clock)
        self.services: Services = services_of(self.app)
        self._stop_background = start_background(self.app) if background else None
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True,
                                  request_handler=QuietHandler)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        # A short poll: stopping waits for it, and the fuzz test starts a server per example.
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop serving and stop the drainer (as a process exit would)."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)
        if self._stop_background is not None:
            self._stop_background()

    def __enter__(self) -> LiveIngest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class FakeClock:
    """A clock the test moves: wall time for capture times, monotonic time for caches."""

    def __init__(self, start: datetime | None = None) -> None:
        self.wall = start or datetime.now(UTC)
        self.mono = 1000.0

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass."""
        self.wall += timedelta(seconds=seconds)
        self.mono += seconds

    def clock(self) -> Clock:
        """The service's view of this clock."""
        return Clock(now=lambda: self.wall, monotonic=lambda: self.mono)


def post(http: urllib3.PoolManager, url: str, key: str, body: Any,
         headers: dict[str, str | None] | None = None, **kwargs: Any) -> Any:
    """POST /upload to the ingest at ``url`` with the device ``key`` (a None header is left out)."""
    sent: dict[str, str | None] = {"Authorization": f"Bearer {key}", "Content-Type": "image/jpeg"}
    sent.update(headers or {})
    present = {name: value for name, value in sent.items() if value is not None}
    return http.request("POST", url + "/upload", body=body, headers=present, **kwargs)


def upload_request(body: bytes, headers: dict[str, str] | None = None, *,
                   key: str | None = None, address: str | None = "192.0.2.10") -> Request:
    """A service-level upload (what the Flask adapter builds from a request)."""
    sent = Headers({"Content-Type": "image/jpeg", "Content-Length": str(len(body))})
    if key is not None:
        sent["Authorization"] = f"Bearer {key}"
    for name, value in (headers or {}).items():
        sent[name] = value
    return Request(sent, io.BytesIO(body), address)


def raw_request(port: int, data: bytes, *, timeout: float = 10.0) -> bytes:
    """Send ``data`` as is on a new connection; everything the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


class FaultProxy:
    """A TCP proxy to ``target`` that can pass, refuse, stall or reset connections.

    ``refuse``: new connections are reset at once; ``stall``: bytes stop flowing both ways
    (and new connections hang); ``reset``: every connection, open or new, is reset. Switching
    back to ``pass`` lets new connections through again.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.mode = "pass"
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._connections: list[tuple[socket.socket, socket.socket | None]] = []
        self._lock = threading.Lock()
        self.counts = {"accepted": 0, "refused": 0, "reset": 0}
        threading.Thread(target=self._accept, daemon=True).start()

    def set_mode(self, mode: str) -> None:
        """``pass``, ``refuse``, ``stall`` or ``reset``."""
        assert mode in {"pass", "refuse", "stall", "reset"}
        self.mode = mode
        if mode in {"reset", "refuse"}:
            with self._lock:
                connections, self._connections = self._connections, []
            for client, upstream in connections:
                _reset(client)
                if upstream is not None:
                    _reset(upstream)

    def close(self) -> None:
        """Stop accepting and drop every connection."""
        self._stop.set()
        self._listener.close()
        self.set_mode("reset")

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.counts["accepted"] += 1
            if self.mode in {"refuse", "reset"}:
                self.counts["refused"] += 1
                _reset(client)
                continue
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        while self.mode == "stall" and not self._stop.is_set():
            time.sleep(0.05)
        if self.mode != "pass":
            _reset(client)
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
        except OSError:
            _reset(client)
            return
        with self._lock:
            self._connections.append((client, upstream))
        sockets = [client, upstream]
        try:
            while not self._stop.is_set():
                if self.mode == "stall":
                    time.sleep(0.05)
                    continue
                if self.mode != "pass":
                    break
                readable, _, _ = select.select(sockets, [], [], 0.1)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        raise EOFError
                    (upstream if sock is client else client).sendall(data)
        except (OSError, EOFError):
            pass
        finally:
            with self._lock:
                if (client, upstream) in self._connections:
                    self._connections.remove((client, upstream))
            if self.mode == "pass":
                for sock in sockets:
                    try:
                        sock.close()
                    except OSError:
                        pass
            else:
                _reset(client)
                _reset(upstream)


def _reset(sock: socket.socket) -> None:
    """Close with an RST rather than a FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


def wait_for(predicate: Any, timeout: float = 30.0, interval: float = 0.1) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


ROOT = Path(__file__).resolve().parent.parent


class GunicornIngest:
    """The ingest under gunicorn with the production config (deploy/gunicorn.conf.py)."""

    def __init__(self, settings: Settings, log_path: Path, *, workers: int = 2,
                 threads: int = 4) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAMCLOUD_")}
        env.update(settings.as_env())
        env.update(FAKE_CREDENTIALS)
        env.update({"GUNICORN_WORKERS": str(workers), "GUNICORN_THREADS": str(threads)})
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
             "--bind", f"127.0.0.1:{self.port}", "ingest.wsgi:app"],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        http = urllib3.PoolManager(retries=False, timeout=2.0)

        def up() -> bool:
            try:
                return bool(http.request("GET", self.url + "/healthz").status == 200)
            except urllib3.exceptions.HTTPError:
                return False

        if not wait_for(up, timeout=30):
            self.stop()
            raise RuntimeError(f"gunicorn did not start; see {log_path}")

    def stop(self) -> None:
        """SIGTERM, as systemd stops it, and wait for the exit."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()
