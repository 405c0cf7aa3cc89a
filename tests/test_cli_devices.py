"""``camcloud devices config | capture`` and ``camcloud firmware``: the happy paths against a
mocked bucket, and bad input as one line with a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from camcloud import device_state, firmware_release
from camcloud.devices import DeviceRegistry
from camcloud_cli import main as cli
from tests.conftest import BUCKET

IMAGE = b"\xe9" + b"camcloud test image\n" * 3


@pytest.fixture
def runner(s3: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    """A CLI runner pointed at the mocked bucket, in an empty directory, with camera garden."""
    monkeypatch.setenv("CAMCLOUD_BUCKET", BUCKET)
    monkeypatch.chdir(tmp_path)
    DeviceRegistry(lambda: s3, BUCKET).add("garden")
    return CliRunner()


def one_line_error(result: Any) -> str:
    """The error a failed command printed: exactly one line, and a non-zero exit."""
    assert result.exit_code != 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_devices_config_bumps_the_version_and_prints_the_desired_config(runner, s3):
    # When the owner changes the interval, mode, PIR and active hours
    result = runner.invoke(cli, ["devices", "config", "garden", "--interval", "120",
                                 "--image-mode", "VGA", "--pir", "--active-hours",
                                 "06:30-20:00"])
    # Then the desired config is printed as JSON with version 1 and stored for the camera
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["version"] == 1 and printed["interval_s"] == 120
    assert printed["image_mode"] == "vga" and printed["pir"] is True
    assert printed["active_hours"] == "06:30-20:00"
    assert device_state.read_state(s3, BUCKET, "garden").config.to_json() == printed
    # And the same values again do not bump it; with no option it only prints
    again = runner.invoke(cli, ["devices", "config", "garden", "--interval", "120"])
    assert json.loads(again.stdout)["version"] == 1
    assert json.loads(runner.invoke(cli, ["devices", "config", "garden"]).stdout) == printed


def test_devices_config_refuses_a_bad_value_in_one_line_and_writes_nothing(runner, s3):
    result = runner.invoke(cli, ["devices", "config", "garden", "--interval", "0"])
    assert "interval_s: must be from 5 to 86400" in one_line_error(result)
    assert device_state.read_state(s3, BUCKET, "garden").config.version == 0


def test_devices_config_and_capture_of_an_unknown_camera_are_one_line_errors(runner):
    assert "nowhere" in one_line_error(
        runner.invoke(cli, ["devices", "config", "nowhere", "--pir"]))
    assert "nowhere" in one_line_error(runner.invoke(cli, ["devices", "capture", "nowhere"]))
    assert "invalid device id" in one_line_error(
        runner.invoke(cli, ["devices", "capture", "Bad_Id"]))


def test_devices_capture_queues_a_capture_now_and_prints_its_id(runner, s3):
    result = runner.invoke(cli, ["devices", "capture", "garden"])
    assert result.exit_code == 0, result.output
    command_id = result.stdout.strip()
    pending = device_state.read_state(s3, BUCKET, "garden").pending
    assert [command.id for command in pending] == [command_id]


def test_devices_capture_refuses_the_ninth_waiting_request(runner):
    for _ in range(8):
        assert runner.invoke(cli, ["devices", "capture", "garden"]).exit_code == 0
    assert "8" in one_line_error(runner.invoke(cli, ["devices", "capture", "garden"]))


def test_firmware_keygen_prints_the_c_array_and_never_overwrites_the_key(runner, tmp_path):
    result = runner.invoke(cli, ["firmware", "keygen", "ota.pem"])
    assert result.exit_code == 0, result.output
    key = firmware_release.load_private_key(tmp_path / "ota.pem")
    expected = firmware_release.public_key_c_array(firmware_release.public_key_bytes(key))
    assert result.stdout == expected
    assert (tmp_path / "ota.pem").stat().st_mode & 0o777 == 0o600
    assert "never overwritten" in one_line_error(runner.invoke(cli, ["firmware", "keygen",
                                                                     "ota.pem"]))


def test_firmware_publish_status_and_resume(runner, s3, tmp_path):
    # Given a key and an image
    runner.invoke(cli, ["firmware", "keygen", "ota.pem"])
    (tmp_path / "firmware.bin").write_bytes(IMAGE)
    # When it is published for one camera
    published = runner.invoke(cli, ["firmware", "publish", "firmware.bin", "--version", "1.2.0",
                                    "--devices", "garden", "--key", "ota.pem"])
    # Then the release is in the bucket, signed, targeting that camera
    assert published.exit_code == 0, published.output
    assert "1.2.0" in published.stdout and "garden" in published.stdout
    release = firmware_release.load_release(s3, BUCKET)
    assert release is not None and release.version == "1.2.0"
    assert release.rollout.devices == ("garden",)
    # And the status has a row for the camera (it never reported a version)
    status = runner.invoke(cli, ["firmware", "status"])
    assert status.exit_code == 0, status.output
    row = next(line for line in status.stdout.splitlines() if line.startswith("garden"))
    assert "unknown_version" in row
    # And resume answers for the published version
    resumed = runner.invoke(cli, ["firmware", "resume", "1.2.0"])
    assert resumed.exit_code == 0 and "resumed" in resumed.stdout


@pytest.mark.parametrize(("args", "expected"), [
    (["--version", "1.2.0", "--key", "missing.pem"], "cannot read a private key"),
    (["--version", "one", "--key", "ota.pem"], "firmware version 'one'"),
    (["--version", "1.2.0", "--key", "ota.pem", "--devices", "a", "--percent", "5"],
     "not both"),
    (["--version", "1.2.0", "--key", "ota.pem", "--percent", "0"], "--percent"),
])
def test_firmware_publish_bad_input_is_one_line(runner, tmp_path, args, expected):
    runner.invoke(cli, ["firmware", "keygen", "ota.pem"])
    (tmp_path / "firmware.bin").write_bytes(IMAGE)
    result = runner.invoke(cli, ["firmware", "publish", "firmware.bin", *args])
    assert result.exit_code != 0
    assert expected in result.stderr


def test_firmware_publish_of_an_elf_file_is_refused(runner, tmp_path):
    runner.invoke(cli, ["firmware", "keygen", "ota.pem"])
    (tmp_path / "firmware.elf").write_bytes(b"\x7fELF" + bytes(60))
    result = runner.invoke(cli, ["firmware", "publish", "firmware.elf", "--version", "1.0.0",
                                 "--key", "ota.pem"])
    assert "not an ESP32 app image" in one_line_error(result)


def test_firmware_status_and_resume_without_a_release_are_one_line_errors(runner):
    assert "no firmware published" in one_line_error(runner.invoke(cli, ["firmware", "status"]))
    assert "no firmware 9.9.9" in one_line_error(
        runner.invoke(cli, ["firmware", "resume", "9.9.9"]))
