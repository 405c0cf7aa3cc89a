"""The nginx site the EC2 host runs (deploy/render-proxy.sh), live on loopback ports.

Two stub upstreams stand in for the ingest and the gallery and record what reaches them.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]
RENDER = ROOT / "deploy" / "render-proxy.sh"
DOMAIN = "cam.example.org"


@dataclass
class Seen:
    """One request as an upstream received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Upstream:
    """A stub app server on loopback that records requests and answers as ``name``."""

    name: str
    seen: list[Seen] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def address(self) -> str:
        """host:port to proxy to."""
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> Upstream:
        """Serve in a thread until stop()."""
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {key.lower(): value for key, value in self.headers.items()}
                upstream.seen.append(Seen(self.command, self.path, headers, body))
                reply = json.dumps({"service": upstream.name}).encode()
                self.send_response(201 if self.path == "/upload" else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_GET = do_POST = answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()



@dataclass
class Proxy:
    """nginx running the rendered camcloud site."""

    http_port: int
    https_port: int
    ingest: Upstream
    gallery: Upstream
    acme_root: Path

    def request(
        self,
        method: str,
        path: str,
        body: bytes | list[bytes] | None = None,
        headers: dict[str, str] | None = None,
        *,
        tls: bool = False,
        source: str | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """One request to the proxy; returns status, headers (lower-case names) and body."""
        if tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                "127.0.0.1",
                self.https_port,
                timeout=10,
                context=context,
                source_address=(source, 0) if source else None,
            )
        else:
            connection = http.client.HTTPConnection(
                "127.0.0.1",
                self.http_port,
                timeout=10,
                source_address=(source, 0) if source else None,
            )
        try:
            chunked = isinstance(body, list)
            connection.request(
                method,
                path,
                body=iter(body) if chunked else body,
                headers={"Host": DOMAIN, **(headers or {})},
                encode_chunked=chunked,
            )
            response = connection.getresponse()
            return (
                response.status,
                {key.lower(): value for key, value in response.getheaders()},
                response.read(),
            )
        finally:
            connection.close()


def start_proxy(
    tmp_path: Path, mode: str, max_mb: int = 1, extra: dict[str, str] | None = None
) -> Iterator[Proxy]:
    """Render the site in ``mode``, start nginx on it, stop everything afterwards."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(nginx).exists(), "nginx is missing: scripts/system-deps.sh installs nginx-light"
    ingest, gallery = Upstream("ingest").start(), Upstream("gallery").start()
    http_port = free_port()
    https_port = free_port()
    while https_port == http_port:
        https_port = free_port()
    proxy = Proxy(http_port, https_port, ingest, gallery, tmp_path / "acme")
    proxy.acme_root.mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", f"/CN={DOMAIN}", "-keyout", str(tmp_path / "privkey.pem")]
        + ["-out", str(tmp_path / "fullchain.pem")],
        check=True,
        capture_output=True,
    )
    environment = {
        **os.environ,
        "CAMCLOUD_DOMAIN": DOMAIN,
        "CAMCLOUD_MAX_UPLOAD_MB": str(max_mb),
        "PROXY_HTTP_LISTEN": f"127.0.0.1:{proxy.http_port}",
        "PROXY_HTTPS_LISTEN": f"127.0.0.1:{proxy.https_port}",
        "PROXY_INGEST": ingest.address,
        "PROXY_GALLERY": gallery.address,
        "PROXY_ACME_ROOT": str(proxy.acme_root),
        "PROXY_CERT_DIR": str(tmp_path),
        **(extra or {}),
    }
    site = subprocess.run(
        ["bash", str(RENDER), mode], env=environment, check=True, capture_output=True, text=True
    ).stdout
    (tmp_path / "camcloud.conf").write_text(site)
    # As root, nginx's workers would drop to "nobody", who cannot write the test's temp dirs.
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp_paths = "".join(
        f"    {kind}_temp_path {tmp_path / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (tmp_path / "nginx.conf").write_text(
        f"{user}worker_processes 1;\npid {tmp_path / 'nginx.pid'};\nerror_log stderr;\n"
        f"events {{}}\nhttp {{\n    access_log off;\n{temp_paths}"
        f"    include {tmp_path / 'camcloud.conf'};\n}}\n"
    )
    process = subprocess.Popen(
        [nginx, "-e", "stderr", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")]
        + ["-g", "daemon off;"],
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", proxy.http_port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, process.stderr.read().decode()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "nginx did not start listening"
                time.sleep(0.05)
        yield proxy
    finally:
        process.terminate()
        process.wait(timeout=10)
        assert process.stderr is not None
        process.stderr.close()
        ingest.stop()
        gallery.stop()


@pytest.fixture
def http_proxy(tmp_path: Path) -> Iterator[Proxy]:
    """The plain-HTTP site (no domain yet), with a 1 MiB upload limit."""
    yield from start_proxy(tmp_path, "http")


@pytest.fixture
def https_proxy(tmp_path: Path) -> Iterator[Proxy]:
    """The HTTPS site with a (self-signed) certificate for the domain."""
    yield from start_proxy(tmp_path, "https")


def test_uploads_reach_the_ingest_with_their_size_and_the_camera_address(
    http_proxy: Proxy,
) -> None:
    """Given a 300 KB frame, when a camera POSTs it, then the ingest gets it whole."""
    frame = b"\xff\xd8" + os.urandom(300_000) + b"\xff\xd9"

    status, _, body = http_proxy.request(
        "POST", "/upload", frame, {"Content-Type": "image/jpeg", "X-Api-Key": "k"}
    )

    assert (status, json.loads(body)) == (201, {"service": "ingest"})
    (seen,) = http_proxy.ingest.seen
    assert seen.body == frame
    assert seen.headers["x-api-key"] == "k"
    assert seen.headers["x-forwarded-for"] == "127.0.0.1"
    assert seen.headers["x-forwarded-proto"] == "http"
    assert http_proxy.gallery.seen == []


def test_device_check_ins_reach_the_ingest_not_the_gallery(https_proxy: Proxy) -> None:
    """Given a camera checking in (protocol v1.1), when it GETs /device/state, the ingest answers.

    Regression: the site sent /device/state to the gallery (404), so no camera could check in.
    """
    status, _, body = https_proxy.request(
        "GET", "/device/state", None, {"X-Api-Key": "k"}, tls=True
    )

    assert (status, json.loads(body)) == (200, {"service": "ingest"})
    (seen,) = https_proxy.ingest.seen
    assert seen.headers["x-api-key"] == "k"
    assert https_proxy.gallery.seen == []


def test_a_chunked_upload_reaches_the_ingest_with_a_content_length(http_proxy: Proxy) -> None:
    """Given a chunked body, when it is proxied, then the ingest sees one sized body."""
    chunks = [b"\xff\xd8", os.urandom(200_000), os.urandom(50_000), b"\xff\xd9"]

    status, _, _ = http_proxy.request("POST", "/upload", chunks, {"Content-Type": "image/jpeg"})

    assert status == 201
    (seen,) = http_proxy.ingest.seen
    assert seen.headers["content-length"] == str(len(b"".join(chunks)))
    assert "transfer-encoding" not in seen.headers
    assert seen.body == b"".join(chunks)


def test_an_upload_over_the_limit_is_refused_at_the_proxy_in_json(http_proxy: Proxy) -> None:
    """Given a 1 MiB limit (+1 MiB multipart room), when 3 MiB arrive, then 413 in JSON."""
    status, headers, body = http_proxy.request(
        "POST", "/upload", os.urandom(3 * 1024 * 1024), {"Content-Type": "image/jpeg"}
    )

    assert status == 413
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["error"] == "too_large"
    assert http_proxy.ingest.seen == []


def test_health_and_metrics_go_to_the_ingest_and_everything_else_to_the_gallery(
    http_proxy: Proxy,
) -> None:
    """Given the routes, when each is requested, then the right service answers."""
    answers = {
        path: json.loads(http_proxy.request("GET", path)[2])["service"]
        for path in ("/healthz", "/readyz", "/metrics", "/", "/login", "/cameras", "/upload-help")
    }

    assert answers == {
        "/healthz": "ingest",
        "/readyz": "ingest",
        "/metrics": "ingest",  # loopback may read metrics; the internet may not
        "/": "gallery",
        "/login": "gallery",
        "/cameras": "gallery",
        "/upload-help": "gallery",
    }


def test_when_the_ingest_is_down_cameras_are_told_to_retry_later(http_proxy: Proxy) -> None:
    """Given the ingest stopped, when a camera uploads, then 503 JSON with Retry-After."""
    http_proxy.ingest.stop()

    status, headers, body = http_proxy.request("POST", "/upload", b"\xff\xd8\xff\xd9")

    assert status == 503
    assert headers["retry-after"] == "30"
    assert json.loads(body)["error"] == "unavailable"


def test_with_https_plain_http_redirects_and_serves_only_acme_challenges(
    https_proxy: Proxy,
) -> None:
    """Given the HTTPS site, then port 80 answers challenges and redirects everything else."""
    (https_proxy.acme_root / ".well-known" / "acme-challenge").mkdir(parents=True)
    (https_proxy.acme_root / ".well-known" / "acme-challenge" / "token123").write_text("proof")

    challenge = https_proxy.request("GET", "/.well-known/acme-challenge/token123")
    upload = https_proxy.request("POST", "/upload", b"\xff\xd8\xff\xd9")

    assert (challenge[0], challenge[2]) == (200, b"proof")
    assert upload[0] == 308
    assert upload[1]["location"] == f"https://{DOMAIN}/upload"
    assert https_proxy.ingest.seen == []


def test_with_https_the_app_is_served_over_tls(https_proxy: Proxy) -> None:
    """Given the HTTPS site, when the gallery and an upload go over TLS, then both arrive."""
    gallery = https_proxy.request("GET", "/", tls=True)
    upload = https_proxy.request("POST", "/upload", b"\xff\xd8\xff\xd9", tls=True)

    assert json.loads(gallery[2]) == {"service": "gallery"}
    assert gallery[1]["strict-transport-security"].startswith("max-age=")
    assert upload[0] == 201
    assert https_proxy.gallery.seen[0].headers["x-forwarded-proto"] == "https"


def test_a_multipart_upload_of_a_full_size_image_reaches_the_ingest(http_proxy: Proxy) -> None:
    """Given a 1 MiB limit, a 1 MiB image wrapped in multipart framing is not refused early."""
    image = b"\xff\xd8" + os.urandom(1024 * 1024 - 4) + b"\xff\xd9"
    boundary = "camcloudboundary"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"imageFile\"; "
        f"filename=\"capture.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
    ).encode() + image + f"\r\n--{boundary}--\r\n".encode()

    status, _, _ = http_proxy.request(
        "POST", "/upload", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )

    assert status != 413
    assert len(http_proxy.ingest.seen) == 1
    assert http_proxy.ingest.seen[0].body == body


@pytest.fixture
def https_ip_proxy(tmp_path: Path) -> Iterator[Proxy]:
    """The default site: HTTPS without a domain, cameras not yet reflashed still on port 80."""
    own = tmp_path / "no-domain"
    own.mkdir()
    yield from start_proxy(
        own, "https", extra={"CAMCLOUD_DOMAIN": "", "PROXY_HTTP_UPLOADS": "true"}
    )


@pytest.mark.parametrize("path", ["/readyz", "/metrics"])
def test_regression_readyz_and_metrics_answer_only_the_host_itself(
    http_proxy: Proxy, path: str
) -> None:
    """Given a client that is not the host (127.0.0.2), then /readyz and /metrics are 403."""
    from_elsewhere = http_proxy.request("GET", path, source="127.0.0.2")
    from_the_host = http_proxy.request("GET", path)

    assert from_elsewhere[0] == 403
    assert from_the_host[0] == 200
    assert len(http_proxy.ingest.seen) == 1


def test_without_a_domain_the_app_is_https_and_port_80_answers_only_health_and_redirects(
    https_ip_proxy: Proxy,
) -> None:
    """Given no domain, then TLS serves the app; port 80 has /healthz and a 308 for the rest."""
    health = https_ip_proxy.request("GET", "/healthz", source="127.0.0.2")
    login = https_ip_proxy.request("POST", "/login", b"user=a&password=b")
    gallery = https_ip_proxy.request("GET", "/", tls=True)

    assert health[0] == 200 and json.loads(health[2]) == {"service": "ingest"}
    assert login[0] == 308
    assert login[1]["location"] == f"https://{DOMAIN}/login"
    assert json.loads(gallery[2]) == {"service": "gallery"}
    assert [seen.path for seen in https_ip_proxy.gallery.seen] == ["/"]


def test_plain_http_uploads_reach_the_ingest_only_when_the_owner_keeps_them_on(
    https_ip_proxy: Proxy, https_proxy: Proxy
) -> None:
    """Given PlainHttpUploads, then port 80 takes uploads; by default it redirects them."""
    kept = https_ip_proxy.request("POST", "/upload", b"\xff\xd8\xff\xd9")
    default = https_proxy.request("POST", "/upload", b"\xff\xd8\xff\xd9")

    assert kept[0] == 201
    assert https_ip_proxy.ingest.seen[0].headers["x-forwarded-proto"] == "http"
    assert default[0] == 308
