"""End to end: the firmware's upload code (camcloud-uploader) through the local stack."""

from __future__ import annotations

import fcntl
import json
import re
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3

from camcloud import layout
from tests.conftest import jpeg_bytes

pytestmark = pytest.mark.stack

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware"
BUILD = ROOT / "build" / "firmware"  # the directory `make test-firmware` builds in
# One token every 2 s and no burst: back-to-back uploads from the camera meet a 429.
RATE_PER_MINUTE = 30


@pytest.fixture(scope="module")
def uploader() -> Path:
    """camcloud-uploader, configured and built like `make test-firmware` does when needed."""
    BUILD.parent.mkdir(exist_ok=True)
    # This module and test_device_e2e build here; under pytest-xdist they may run at once in
    # two workers, and two builds in one directory would trip over each other's files.
    with open(BUILD.parent / ".firmware-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (BUILD / "CMakeCache.txt").exists():
            subprocess.run(
                ["cmake", "-S", str(FIRMWARE), "-B", str(BUILD), "-DCMAKE_BUILD_TYPE=Debug"],
                check=True, capture_output=True, timeout=120,
            )
        # Always build: cheap when up to date, and a stale binary would test old code.
        subprocess.run(
            ["cmake", "--build", str(BUILD), "-j2", "--target", "camcloud-uploader"],
            check=True, capture_output=True, timeout=300,
        )
    return BUILD / "camcloud-uploader"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The local stack with a strict per-device rate limit."""
    from camcloud_cli.local import LocalStack

    env = {"CAMCLOUD_RATE_PER_MINUTE": str(RATE_PER_MINUTE), "CAMCLOUD_RATE_BURST": "1"}
    with LocalStack(workdir=tmp_path_factory.mktemp("firmware-stack"), port=0, env=env) as s:
        yield s


class DroppingProxy:
    """A loopback TCP proxy that cuts the connection instead of passing on the first 201.

    The ingest has stored the capture by then; the camera sees a connection that died before
    any answer, exactly as when WiFi drops at the wrong moment.
    """

    def __init__(self, upstream_port: int, drops: int = 1) -> None:
        self.upstream_port = upstream_port
        self.drops_left = drops
        self.dropped = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closing = False
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> DroppingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing = True
        self._listener.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            with client, socket.create_connection(("127.0.0.1", self.upstream_port)) as upstream:
                pump = threading.Thread(target=self._pump, args=(client, upstream), daemon=True)
                pump.start()
                answer = b""
                while b"\r\n" not in answer:
                    chunk = upstream.recv(65536)
                    if not chunk:
                        return
                    answer += chunk
                if re.match(rb"HTTP/1\.[01] 201 ", answer) and self._take_drop():
                    # RST rather than FIN: the connection is gone, not politely closed.
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                else:
                    while answer:
                        client.sendall(answer)
                        answer = upstream.recv(65536)
                # shutdown() wakes the pump blocked in recv(); close() alone would not.
                client.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    @staticmethod
    def _pump(client: socket.socket, upstream: socket.socket) -> None:
        try:
            while chunk := client.recv(65536):
                upstream.sendall(chunk)
        except OSError:
            pass

    def _take_drop(self) -> bool:
        with self._lock:
            if self.drops_left <= 0:
                return False
            self.drops_left -= 1
            self.dropped += 1
            return True


def upload(uploader: Path, url: str, key: str, photo: Path, capture_id: str,
           captured_at: int) -> tuple[dict[str, Any], str]:
    """Run camcloud-uploader once; returns its JSON summary and its per-attempt log."""
    result = subprocess.run(
        [str(uploader), "--url", url, "--key", key, "--file", str(photo),
         "--capture-id", capture_id, "--captured-at", str(captured_at),
         "--base-ms", "200", "--cap-ms", "2000", "--max-attempts", "8", "--timeout-ms", "10000"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout), result.stderr


def raw_keys_of(stack: Any, capture_id: str) -> list[str]:
    """The originals in S3 for one capture id."""
    listing = stack.s3.list_objects_v2(Bucket=stack.bucket, Prefix=layout.RAW_PREFIX)
    return [item["Key"] for item in listing.get("Contents", [])
            if item["Key"].endswith(f"_{capture_id}.jpg")]


def records_of(stack: Any, capture_id: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The metadata records of one capture id, once the worker has made at least one."""
    deadline = time.monotonic() + timeout
    while True:
        found = [r for r in stack.records() if r.get("capture_id") == capture_id]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def gallery_page(stack: Any) -> str:
    """The gallery's first page, logged in as the stack's user."""
    with urllib3.PoolManager() as http:
        login = http.request("GET", stack.info["gallery_url"] + "login")
        cookie = login.headers["Set-Cookie"].split(";")[0]
        token = re.search(r'name="csrf_token" value="([^"]+)"', login.data.decode()).group(1)
        response = http.request(
            "POST", stack.info["gallery_url"] + "login",
            fields={"username": stack.info["gallery_user"],
                    "password": stack.info["gallery_password"], "csrf_token": token},
            encode_multipart=False, headers={"Cookie": cookie}, redirect=False,
        )
        assert response.status == 302, response.data
        session = {"Cookie": response.headers["Set-Cookie"].split(";")[0]}
        return str(http.request("GET", stack.info["gallery_url"], headers=session).data.decode())


def test_a_capture_uploaded_by_the_firmware_code_appears_in_the_gallery(uploader, stack,
                                                                        tmp_path):
    # Given a 1600x1200 JPEG as the camera's frame
    photo = tmp_path / "frame.jpg"
    photo.write_bytes(jpeg_bytes(1600, 1200, (40, 90, 160)))
    key = stack.info["devices"]["demo-cam"]
    # When camcloud-uploader sends it as capture "a0b7650c1dfe-1-0"
    summary, log = upload(uploader, stack.info["upload_url"], key, photo, "a0b7650c1dfe-1-0",
                          int(time.time()))
    # Then the ingest stored it (after waiting out a rate limit if an earlier test left one)
    assert summary["verdict"] == "stored", log
    assert summary["body"]["bytes"] == photo.stat().st_size
    # And the worker made its metadata record, and the gallery shows it
    records = records_of(stack, "a0b7650c1dfe-1-0")
    assert len(records) == 1 and records[0]["status"] == "ok", records
    ref = layout.parse_key(summary["body"]["key"])
    assert f'data-capture="{ref.id}"' in gallery_page(stack)


def test_a_retry_after_a_dropped_connection_does_not_duplicate_the_capture(uploader, stack,
                                                                           tmp_path):
    # Given a network path that drops the connection right after the ingest stored the frame
    photo = tmp_path / "frame.jpg"
    photo.write_bytes(jpeg_bytes(800, 600, (200, 120, 40)))
    key = stack.info["devices"]["demo-cam"]
    with DroppingProxy(stack.port) as proxy:
        # When the camera uploads through it and retries with the same capture id
        url = f"http://127.0.0.1:{proxy.port}/upload"
        summary, log = upload(uploader, url, key, photo, "a0b7650c1dfe-1-1", int(time.time()))
    # Then the first answer was lost, and the retry was told "duplicate"
    assert proxy.dropped == 1
    assert "no_response" in log, log
    assert summary["verdict"] == "duplicate", log
    assert summary["body"]["duplicate"] is True
    # And S3 holds exactly one original and one metadata record for the capture
    assert len(raw_keys_of(stack, "a0b7650c1dfe-1-1")) == 1
    assert len(records_of(stack, "a0b7650c1dfe-1-1")) == 1


def test_a_rate_limited_upload_waits_out_retry_after_then_succeeds(uploader, stack, tmp_path):
    # Given a camera that has just used its only token
    photo = tmp_path / "frame.jpg"
    photo.write_bytes(jpeg_bytes(640, 480, (10, 160, 90)))
    key = stack.info["devices"]["demo-cam"]
    url = stack.info["upload_url"]
    first, _ = upload(uploader, url, key, photo, "a0b7650c1dfe-1-2", int(time.time()))
    assert first["verdict"] == "stored"
    # When it uploads the next capture at once
    started = time.monotonic()
    second, log = upload(uploader, url, key, photo, "a0b7650c1dfe-1-3", int(time.time()))
    waited = time.monotonic() - started
    # Then the ingest answered 429 with Retry-After, the camera waited that long, and the
    # capture was stored on the next attempt
    match = re.search(r"attempt 1: status 429 retry-after (\d+) s", log)
    assert match, log
    assert waited >= int(match.group(1)) - 0.05
    assert second["verdict"] == "stored" and second["attempts"] == 2, log
    assert len(raw_keys_of(stack, "a0b7650c1dfe-1-3")) == 1
