"""camcloud-uploader's device management (protocol v1.1) against a scripted ingest.

The binary is the firmware's host build: it reads the answer's ``state``, applies the config,
runs capture-now, and installs a signed update into a file standing in for the OTA partition.
Offers are signed with the server's own code (``camcloud.firmware_release.sign``), so the
camera's check is tested against what ``camcloud firmware publish`` really produces.
Run by ctest (``uploader_device_management``); CAMCLOUD_UPLOADER names the binary.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from camcloud import device_config, device_state, firmware_release

UPLOADER = os.environ.get("CAMCLOUD_UPLOADER", "")
JPEG = b"\xff\xd8" + bytes(range(256)) * 8 + b"\xff\xd9"


@dataclass
class Ingest:
    """What the scripted ingest answers, and every request it saw."""

    config: dict[str, Any] = field(default_factory=lambda: {"version": 0})
    commands: list[dict[str, str]] = field(default_factory=list)
    firmware: dict[str, Any] | None = None
    image: bytes = b""
    serve_bytes: int | None = None  # cut the image after this many bytes
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    base: str = ""
    # When set, the server's own state logic runs instead of the script: every request's
    # report-back headers go through device_state.record_report, every answer is desired_state.
    server: device_state.DeviceState | None = None

    def state(self, headers: Any) -> dict[str, Any]:
        """The state object of the answer to a request with these headers."""
        if self.server is not None:
            self.server, _ = device_state.record_report(self.server, headers, now=datetime.now(UTC))
            record = device_state.merge_state({}, self.server)
            return device_state.desired_state(record, firmware_offer=self.firmware)
        return {"config": self.config, "commands": self.commands, "firmware": self.firmware}

    def headers_of(self, method: str, prefix: str) -> list[dict[str, str]]:
        """Headers of the requests with this method whose path starts with prefix."""
        return [h for m, p, h in self.requests if m == method and p.startswith(prefix)]


def _handler(ingest: Ingest) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: bytes, length: int | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            ingest.requests.append(("POST", self.path, dict(self.headers)))
            done = self.headers.get("X-Commands-Done", "")
            for item in filter(None, done.split(",")):
                ingest.commands = [c for c in ingest.commands if c["id"] != item.split("=")[0]]
            body = {"id": self.headers["X-Capture-Id"], "state": ingest.state(self.headers)}
            self._answer(201, json.dumps(body).encode())

        def do_GET(self) -> None:
            ingest.requests.append(("GET", self.path, dict(self.headers)))
            if self.path.startswith("/device/state"):
                self._answer(200, json.dumps({"state": ingest.state(self.headers)}).encode())
            elif self.path.startswith("/firmware/"):
                cut = ingest.image[: ingest.serve_bytes] if ingest.serve_bytes else ingest.image
                self._answer(200, cut, len(ingest.image))
            else:
                self._answer(404, b"{}")

    return Handler


@pytest.fixture
def ingest() -> Iterator[Ingest]:
    """A scripted ingest on a free port."""
    state = Ingest()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def owner() -> Ed25519PrivateKey:
    """The owner's signing key (camcloud firmware keygen)."""
    return Ed25519PrivateKey.generate()


def public_hex(key: Ed25519PrivateKey) -> str:
    """The key as --public-key takes it."""
    return firmware_release.public_key_bytes(key).hex()


def offer(ingest: Ingest, key: Ed25519PrivateKey, image: bytes, version: str,
          force: bool = False) -> None:
    """Publish image as version: the offer the ingest's answers carry."""
    ingest.image = image
    ingest.firmware = {
        "version": version,
        "url": f"{ingest.base}/firmware/{version}/firmware.bin?X-Amz-Signature=" + "f" * 700,
        "size": len(image),
        "sha256": hashlib.sha256(image).hexdigest(),
        "signature": firmware_release.sign(image, key, version=version, force=force),
        "force": force,
    }


def run(ingest: Ingest, tmp_path: Path, *args: str) -> dict[str, Any]:
    """One run of the host camera; returns its JSON summary."""
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(JPEG)
    (tmp_path / "flash").mkdir(exist_ok=True)
    done = subprocess.run(
        [UPLOADER, "--url", f"{ingest.base}/upload", "--key", "k", "--file", str(photo),
         "--state-dir", str(tmp_path / "flash"), "--max-attempts", "1", *args],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    summary: dict[str, Any] = json.loads(done.stdout)
    return summary


def firmware_image(size: int) -> bytes:
    """An ESP-IDF-looking app image (first byte 0xE9) of size bytes."""
    return b"\xe9" + bytes((i * 131 >> 3) & 0xFF for i in range(size - 1))


def ota_args(tmp_path: Path, key: Ed25519PrivateKey, running: str) -> list[str]:
    """The OTA flags for a camera running this version."""
    return ["--ota-partition", str(tmp_path / "ota.bin"), "--public-key", public_hex(key),
            "--firmware-version", running]


def test_a_check_in_applies_the_config_runs_capture_now_and_reports_both(ingest, tmp_path):
    # Given the owner changed the settings and pressed "capture now"
    ingest.config = {"version": 2, "interval_s": 30, "image_mode": "vga", "jpeg_quality": "low",
                     "pir": True, "battery_mode": False, "active_hours": "22:00-06:00",
                     "checkin_s": 15, "future_setting": {"x": 1}}
    ingest.commands = [{"id": "3f9a0c11d2", "type": "capture"}]
    # When the camera checks in
    summary = run(ingest, tmp_path, "--check-in", "--sequence", "5")
    # Then it applied every setting, uploaded a capture for the command and reported it done
    device = summary["device"]
    assert device["config"] == {"version": 2, "interval_s": 30, "image_mode": "vga",
                                "jpeg_quality": "low", "pir": True, "battery_mode": False,
                                "active_hours": "22:00-06:00", "checkin_s": 15}
    assert device["config_refused"] == ""
    capture = "020000000001-1-6"
    assert device["commands_done"] == [f"3f9a0c11d2={capture}"]
    upload = ingest.headers_of("POST", "/upload")
    assert [h["X-Capture-Id"] for h in upload] == [capture]
    assert upload[0]["X-Commands-Done"] == f"3f9a0c11d2={capture}"
    assert upload[0]["X-Config-Version"] == "2"
    # And the next request (a later run: the config is in flash) reports the version again
    run(ingest, tmp_path, "--check-in")
    assert ingest.headers_of("GET", "/device/state")[-1]["X-Config-Version"] == "2"
    assert "X-Commands-Done" not in ingest.headers_of("GET", "/device/state")[-1]
    # And a later capture-now (another run, same flash) gets a new capture id, never a reused one
    ingest.commands = [{"id": "77aa", "type": "capture"}]
    summary = run(ingest, tmp_path, "--check-in", "--sequence", "5")
    assert summary["device"]["commands_done"] == ["77aa=020000000001-1-7"]


def test_regression_a_config_that_would_brick_the_camera_keeps_the_last_good_values(
        ingest, tmp_path):
    # Given a good config applied earlier
    ingest.config = {"version": 1, "interval_s": 60, "checkin_s": 20, "image_mode": "hd"}
    run(ingest, tmp_path, "--check-in")
    # When the next one has an interval of 0, a check-in of 0 and a mode the sensor lacks
    ingest.config = {"version": 2, "interval_s": 0, "checkin_s": 0, "image_mode": "wqxga2",
                     "jpeg_quality": "high"}
    summary = run(ingest, tmp_path, "--check-in")
    # Then those fields keep their last good values; the valid one is applied
    config = summary["device"]["config"]
    assert (config["interval_s"], config["checkin_s"], config["image_mode"]) == (60, 20, "hd")
    assert config["jpeg_quality"] == "high"
    assert summary["device"]["config_refused"] == "interval_s,image_mode,checkin_s"


def test_a_signed_update_is_installed_then_confirmed_by_its_first_upload(ingest, tmp_path, owner):
    # Given release 1.2.0 (100 KB) offered to a camera running 1.0.0
    (tmp_path / "ota.bin").write_bytes(b"\xe9old")
    image = firmware_image(100_000)
    offer(ingest, owner, image, "1.2.0")
    # When it checks in
    summary = run(ingest, tmp_path, "--check-in", *ota_args(tmp_path, owner, "1.0.0"))
    # Then the image is in the partition, byte for byte
    assert summary["device"]["ota"]["result"] == "ok"
    assert (tmp_path / "ota.bin").read_bytes() == image
    assert not (tmp_path / "ota.bin.partial").exists()
    # And the new image's first upload sends X-Firmware 1.2.0 and X-Ota-Result: ok
    ingest.firmware = None
    summary = run(ingest, tmp_path, *ota_args(tmp_path, owner, "1.2.0"))
    last = ingest.headers_of("POST", "/upload")[-1]
    assert (last["X-Firmware"], last["X-Ota-Result"]) == ("1.2.0", "ok")
    assert summary["device"]["update_confirmed"] == "1.2.0"
    # And only once
    run(ingest, tmp_path, "--check-in", *ota_args(tmp_path, owner, "1.2.0"))
    assert "X-Ota-Result" not in ingest.headers_of("GET", "/device/state")[-1]


@pytest.mark.parametrize(("damage", "result"), [("truncated", "failed:size"),
                                                ("sha256", "failed:sha256"),
                                                ("signature", "failed:signature")])
def test_regression_a_damaged_update_is_refused_and_the_old_image_kept(
        ingest, tmp_path, owner, damage, result):
    # Given a damaged offer of 1.2.0 to a camera running 1.0.0
    (tmp_path / "ota.bin").write_bytes(b"\xe9old")
    image = firmware_image(50_000)
    offer(ingest, owner, image, "1.2.0")
    if damage == "truncated":
        ingest.serve_bytes = 20_000
    elif damage == "sha256":
        ingest.image = image[:-1] + b"\x00"  # same size, another image in the bucket
    else:
        offer(ingest, Ed25519PrivateKey.generate(), image, "1.2.0")  # someone else's key
    # When it checks in
    summary = run(ingest, tmp_path, "--check-in", *ota_args(tmp_path, owner, "1.0.0"))
    # Then the update fails with the reason, reported to the ingest, and the old image stays
    assert summary["device"]["ota"]["result"] == result
    assert ingest.headers_of("GET", "/device/state")[-1]["X-Ota-Result"] == result
    assert (tmp_path / "ota.bin").read_bytes() == b"\xe9old"
    downloads = ingest.headers_of("GET", "/firmware/")
    assert len(downloads) == (0 if damage == "signature" else 1)  # checked before downloading


def test_an_older_version_is_ignored_unless_forced(ingest, tmp_path, owner):
    (tmp_path / "ota.bin").write_bytes(b"\xe9old")
    image = firmware_image(4096)
    # Given 0.9.0 offered to a camera running 1.0.0
    offer(ingest, owner, image, "0.9.0")
    summary = run(ingest, tmp_path, "--check-in", *ota_args(tmp_path, owner, "1.0.0"))
    # Then it is ignored, nothing downloaded, nothing reported
    assert summary["device"]["ota"]["result"] == "ignored"
    assert ingest.headers_of("GET", "/firmware/") == []
    # When the owner publishes it with --force (the flag is signed)
    offer(ingest, owner, image, "0.9.0", force=True)
    summary = run(ingest, tmp_path, "--check-in", *ota_args(tmp_path, owner, "1.0.0"))
    # Then the downgrade is installed
    assert summary["device"]["ota"]["result"] == "ok"
    assert (tmp_path / "ota.bin").read_bytes() == image


def test_an_update_that_never_confirmed_reports_the_rollback(ingest, tmp_path, owner):
    # Given 1.2.0 installed, but the bootloader went back to 1.0.0 (it never confirmed)
    (tmp_path / "ota.bin").write_bytes(b"\xe9old")
    offer(ingest, owner, firmware_image(4096), "1.2.0")
    run(ingest, tmp_path, "--check-in", *ota_args(tmp_path, owner, "1.0.0"))
    ingest.firmware = None
    # When the old image checks in
    run(ingest, tmp_path, "--check-in", *ota_args(tmp_path, owner, "1.0.0"))
    # Then it reports the rollback
    assert ingest.headers_of("GET", "/device/state")[-1]["X-Ota-Result"] == "failed:rollback"


def test_the_servers_own_state_logic_sees_the_config_applied_and_the_capture_done(ingest, tmp_path):
    # Given the owner's changes made with the server's own functions (as the CLI and gallery do)
    now = datetime.now(UTC)
    state = device_state.DeviceState()
    config = device_config.apply_changes(state.config, interval_s="30", image_mode="1920x1080",
                                         active_hours="22:00-06:00", pir="on")
    state, command = device_state.queue_capture(device_state.DeviceState(config=config), now=now)
    ingest.server = state
    assert ingest.server.config_drift
    # When the camera checks in
    summary = run(ingest, tmp_path, "--check-in", "--sequence", "9")
    # Then the server's record shows the config applied (no drift) and the command done with
    # the capture it made
    assert summary["device"]["config"]["image_mode"] == "fhd"
    run(ingest, tmp_path, "--check-in")  # the next request reports the version again: no change
    server = ingest.server
    assert server.applied.config_version == config.version
    assert not server.config_drift
    assert server.pending == []
    done = [c for c in server.commands if c.id == command.id]
    assert done[0].capture_id == "020000000001-1-10"


def test_a_release_published_to_s3_installs_from_its_presigned_url(ingest, tmp_path, owner,
                                                                   monkeypatch):
    # Given 1.2.0 published with the server's own publish() into S3 (moto server), and the
    # offer built as the ingest builds it: offer_json with a presigned GET
    from moto.server import ThreadedMotoServer

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}",
                              region_name="us-east-1")
        client.create_bucket(Bucket="camcloud-fw")
        image = firmware_image(300_000)
        (tmp_path / "firmware.bin").write_bytes(image)
        release = firmware_release.publish(client, "camcloud-fw", tmp_path / "firmware.bin",
                                           "1.2.0", owner, now=datetime.now(UTC))
        ingest.firmware = firmware_release.offer_json(client, "camcloud-fw", release, ttl=900)
        assert "Signature=" in ingest.firmware["url"]  # presigned
        (tmp_path / "ota.bin").write_bytes(b"\xe9old")
        # When a camera running 1.0.0 checks in
        summary = run(ingest, tmp_path, "--check-in", *ota_args(tmp_path, owner, "1.0.0"))
    finally:
        server.stop()
    # Then it downloaded the image from S3, verified it and "flashed" it
    assert summary["device"]["ota"] == {"result": "ok", "version": "1.2.0", "received": 300_000,
                                        "http_status": 200}
    assert (tmp_path / "ota.bin").read_bytes() == image
