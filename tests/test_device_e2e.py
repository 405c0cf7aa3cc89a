"""End to end (issue 16 item 7): the camera's own code (the host build, camcloud-uploader)
against the local stack, driven by the ``camcloud`` command: a config change and a capture-now
reach the camera at its check-in, and a published, signed image is downloaded, verified and
"flashed" into a file standing in for the OTA partition, then confirmed."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from camcloud import device_state, firmware_release
from camcloud_cli import main as cli
from ingest.desired import RELEASE_SECONDS
from tests.conftest import jpeg_bytes
from tests.test_firmware_e2e import uploader  # noqa: F401 - the built binary, a fixture

pytestmark = pytest.mark.stack

DEVICE = "demo-cam"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory the stack and the commands run in (the stack's ``.camcloud`` is here)."""
    return tmp_path_factory.mktemp("device-e2e")


@pytest.fixture(scope="module")
def stack(home: Path) -> Iterator[Any]:
    """The local stack, its facts in ``home/.camcloud/local.json`` as ``camcloud local``."""
    from camcloud_cli.local import LocalStack

    with LocalStack(workdir=home / ".camcloud", port=0) as running:
        yield running


@pytest.fixture
def camcloud(stack: Any, home: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run a ``camcloud`` command as a user in ``home`` would (it finds the local stack)."""
    monkeypatch.chdir(home)
    for name in ("CAMCLOUD_BUCKET", "CAMCLOUD_S3_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)

    def run(*args: str) -> str:
        result = CliRunner().invoke(cli, list(args))
        assert result.exit_code == 0, result.output
        return str(result.stdout)

    return run


def camera(binary: Path, stack: Any, state_dir: Path, photo: Path, version: str,
           *extra: str) -> dict[str, Any]:
    """One check-in of the camera (camcloud-uploader --check-in); its JSON summary."""
    result = subprocess.run(
        [str(binary), "--check-in", "--url", stack.info["upload_url"],
         "--key", stack.info["devices"][DEVICE], "--file", str(photo),
         "--state-dir", str(state_dir), "--firmware-version", version,
         "--base-ms", "200", "--cap-ms", "2000", "--max-attempts", "5", "--timeout-ms", "10000",
         *extra],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary: dict[str, Any] = json.loads(result.stdout)
    summary["log"] = result.stderr
    return summary


def test_the_camera_takes_a_config_change_and_a_capture_now_at_its_check_in(
        uploader: Path, stack: Any, camcloud: Any, tmp_path: Path) -> None:  # noqa: F811
    photo = tmp_path / "frame.jpg"
    photo.write_bytes(jpeg_bytes(640, 480, (30, 120, 200)))
    state_dir = tmp_path / "flash"
    state_dir.mkdir()
    # Given the owner changed the camera's settings and asked for a capture now
    desired = json.loads(camcloud("devices", "config", DEVICE, "--interval", "120",
                                  "--image-mode", "vga", "--active-hours", "06:30-20:00"))
    assert desired["version"] == 1
    command_id = camcloud("devices", "capture", DEVICE).strip()
    # When the camera checks in
    first = camera(uploader, stack, state_dir, photo, "1.0.0")
    # Then it applied the config and ran the capture-now, uploading a capture for it
    config = first["device"]["config"]
    assert config["version"] == 1 and config["interval_s"] == 120, first["log"]
    assert config["image_mode"] == "vga" and config["active_hours"] == "06:30-20:00"
    done = first["device"]["commands_done"]
    assert len(done) == 1 and done[0].startswith(f"{command_id}="), first["log"]
    capture_id = done[0].split("=", 1)[1]
    # And after its next check-in the server knows both: no drift, the command done with its
    # capture, which is stored
    camera(uploader, stack, state_dir, photo, "1.0.0")
    state = device_state.read_state(stack.s3, stack.bucket, DEVICE)
    assert state.applied.config_version == 1 and not state.config_drift
    (command,) = [c for c in state.commands if c.id == command_id]
    assert not command.pending and command.capture_id == capture_id
    raw = stack.s3.list_objects_v2(Bucket=stack.bucket, Prefix=f"raw/{DEVICE}/")
    assert any(item["Key"].endswith(f"_{capture_id}.jpg") for item in raw.get("Contents", []))


def test_a_published_image_is_downloaded_verified_flashed_and_confirmed(
        uploader: Path, stack: Any, camcloud: Any, home: Path, tmp_path: Path) -> None:  # noqa: F811
    photo = tmp_path / "frame.jpg"
    photo.write_bytes(jpeg_bytes(320, 240, (200, 90, 40)))
    state_dir = tmp_path / "flash"
    state_dir.mkdir()
    partition = tmp_path / "ota_0.bin"
    # Given a signing key (its public key built into the camera) and a 100 KB image
    c_array = camcloud("firmware", "keygen", "ota.pem")
    public_key = firmware_release.public_key_bytes(
        firmware_release.load_private_key(home / "ota.pem"))
    assert f"0x{public_key[0]:02x}" in c_array
    image = b"\xe9" + os.urandom(100_000)
    (home / "firmware.bin").write_bytes(image)
    # And the camera reported its running version 1.0.0
    camera(uploader, stack, state_dir, photo, "1.0.0")
    # When 1.1.0 is published for it
    camcloud("firmware", "publish", "firmware.bin", "--version", "1.1.0", "--devices", DEVICE,
             "--key", "ota.pem")
    published = time.monotonic()
    # Then within the ingest's release cache (a publish reaches cameras within 30 s) a
    # check-in downloads the image, verifies it and flashes it
    while True:
        flashed = camera(uploader, stack, state_dir, photo, "1.0.0", "--ota-partition",
                         str(partition), "--public-key", public_key.hex())
        ota = flashed["device"]["ota"]
        if ota is not None or time.monotonic() - published > RELEASE_SECONDS + 15:
            break
        time.sleep(2)  # the camera's check-in period, shortened
    assert ota is not None and ota["result"] == "ok", flashed["log"]
    assert partition.read_bytes() == image
    assert camcloud("firmware", "status").count("downloading") == 1
    # And once it runs the new image, it confirms it and the device record shows ok
    confirmed = camera(uploader, stack, state_dir, photo, "1.1.0")
    assert confirmed["device"].get("update_confirmed") == "1.1.0", confirmed["log"]
    firmware = device_state.read_state(stack.s3, stack.bucket, DEVICE).firmware
    assert firmware.running == "1.1.0" and firmware.result == "ok"
    row = next(line for line in camcloud("firmware", "status").splitlines()
               if line.startswith(DEVICE))
    assert row.split()[1:3] == ["1.1.0", "ok"]


def test_the_stack_runs_its_schedules_until_it_stops(stack: Any) -> None:
    # The daily time-lapse and the alert check run beside the ingest and the gallery
    assert sorted(timer.name for timer in stack.timers) == ["alerts-check", "daily-timelapse"]
    deadline = time.monotonic() + 30
    daily = next(timer for timer in stack.timers if timer.name == "daily-timelapse")
    while daily.runs == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert daily.runs >= 1 and daily.failures == 0
