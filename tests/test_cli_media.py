"""``camcloud timelapse build``, ``share``, ``export`` and ``alerts``: the happy paths against a
mocked bucket, and bad input as one line with a non-zero exit."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from camcloud.devices import DeviceRegistry
from camcloud.layout import CaptureRef
from camcloud.notify import new_key
from camcloud.shares import ShareStore
from camcloud_cli import main as cli
from tests.conftest import BUCKET
from tests.support import webhook_messages
from tests.timelapse_support import decode_video, download, seed

DAY = datetime(2026, 11, 20, tzinfo=UTC)


@pytest.fixture
def runner(s3: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    """A CLI runner pointed at the mocked bucket, in an empty directory, with camera garden."""
    monkeypatch.setenv("CAMCLOUD_BUCKET", BUCKET)
    monkeypatch.setenv("CAMCLOUD_ALERTS_KEY", new_key())
    monkeypatch.delenv("CAMCLOUD_GALLERY_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    DeviceRegistry(lambda: s3, BUCKET).add("garden")
    return CliRunner()


def one_line_error(result: Any) -> str:
    """The error a failed command printed: exactly one line, and a non-zero exit."""
    assert result.exit_code != 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def day_of_captures(s3: Any, count: int = 6) -> list[CaptureRef]:
    """``count`` bright captures of garden on DAY, an hour apart."""
    return [seed(s3, BUCKET, "garden", DAY.replace(hour=8 + n), f"c{n}", level=120 + n)
            for n in range(count)]


def test_timelapse_build_of_a_day_prints_the_key_of_a_playable_video(runner, s3, tmp_path):
    day_of_captures(s3)
    result = runner.invoke(cli, ["timelapse", "build", "--device", "garden", "--date",
                                 "2026-11-20", "--fps", "10"])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert key == "timelapse/garden/2026-11-20.mp4"
    video = decode_video(download(s3, BUCKET, key, tmp_path / "day.mp4"))
    assert video["frames"] == 6
    # Off a terminal the progress comes as plain lines, ending at 100%
    assert "time-lapse garden: 6/6 frames (100%)" in result.stderr


def test_timelapse_build_of_a_range_lands_on_its_range_key(runner, s3):
    day_of_captures(s3)
    result = runner.invoke(cli, ["timelapse", "build", "--device", "garden", "--since",
                                 "2026-11-20T09:00", "--until", "2026-11-20T12:00", "--stamp"])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert key.startswith("timelapse/garden/range/20261120T090000Z_20261120T120000Z_")
    assert json.loads(s3.get_object(Bucket=BUCKET, Key=key[:-4] + ".json")["Body"].read())[
        "frames_used"] == 3


@pytest.mark.parametrize(("args", "expected"), [
    (["--date", "2026-11-31"], "is not a date"),
    (["--since", "2026-11-20T10:00"], "both --since and --until"),
    (["--date", "2026-11-20", "--since", "2026-11-20"], "not both"),
    (["--since", "2026-11-20T10:00", "--until", "2026-11-20T09:00"], "must be after"),
    (["--date", "2026-11-21"], "no usable frames"),
])
def test_timelapse_build_bad_input_is_one_line(runner, s3, args, expected):
    day_of_captures(s3, 2)
    result = runner.invoke(cli, ["timelapse", "build", "--device", "garden", *args])
    assert expected in one_line_error(result)


def test_export_streams_the_days_originals_into_a_zip_file(runner, s3, tmp_path):
    refs = day_of_captures(s3, 3)
    for ref in refs:
        s3.put_object(Bucket=BUCKET, Key=ref.raw_key, Body=b"\xff\xd8" + ref.capture_id.encode())
    result = runner.invoke(cli, ["export", "--device", "garden", "--date", "2026-11-20",
                                 "-o", "garden.zip"])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(tmp_path / "garden.zip") as archive:
        assert archive.testzip() is None
        names = sorted(archive.namelist())
    assert len(names) == 3 and names[0].startswith("2026-11-20_08-00-00_garden_c0")
    # Nothing but the archive is left in the directory
    assert sorted(path.name for path in tmp_path.iterdir()) == ["garden.zip"]


def test_export_bad_input_is_one_line_and_leaves_no_file(runner, tmp_path):
    assert "invalid device id" in one_line_error(runner.invoke(
        cli, ["export", "--device", "Bad_Id", "--date", "2026-11-20", "-o", "x.zip"]))
    assert "--date" in one_line_error(runner.invoke(
        cli, ["export", "--device", "garden", "--date", "20.11.2026", "-o", "x.zip"]))
    assert list(tmp_path.iterdir()) == []


def test_share_create_prints_a_link_that_resolves_and_revoke_kills_it(runner, s3):
    (ref,) = day_of_captures(s3, 1)
    s3.put_object(Bucket=BUCKET, Key=ref.raw_key, Body=b"\xff\xd8")
    result = runner.invoke(cli, ["share", "create", "--capture", ref.id, "--ttl", "7d",
                                 "--gallery-url", "https://photos.example.com/"])
    assert result.exit_code == 0, result.output
    link = result.stdout.strip()
    assert link.startswith("https://photos.example.com/s/")
    token = link.rsplit("/", 1)[1]
    store = ShareStore(s3, BUCKET)
    share = store.resolve(token)
    assert share is not None and share.capture == ref.id
    # And it is listed, and revoking it kills the link
    listed = runner.invoke(cli, ["share", "list"])
    assert share.id in listed.stdout
    assert runner.invoke(cli, ["share", "revoke", share.id]).exit_code == 0
    assert store.resolve(token) is None


def test_share_create_of_a_day_uses_the_local_stacks_address(runner, s3, tmp_path):
    (tmp_path / ".camcloud").mkdir()
    (tmp_path / ".camcloud" / "local.json").write_text(json.dumps(
        {"gallery_url": "http://127.0.0.1:8080/"}))
    result = runner.invoke(cli, ["share", "create", "--day", "garden/2026-11-20", "--ttl", "1h"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("http://127.0.0.1:8080/s/")


@pytest.mark.parametrize(("args", "expected"), [
    (["--ttl", "7d"], "exactly one of"),
    (["--capture", "x", "--timelapse", "y", "--ttl", "7d"], "exactly one of"),
    (["--day", "garden", "--ttl", "7d"], "DEVICE/YYYY-MM-DD"),
    (["--day", "garden/2026-11-20", "--ttl", "forever"], "expiry 'forever'"),
    (["--day", "garden/2026-11-20", "--ttl", "90d"], "between 1 hour and 30 days"),
    (["--timelapse", "timelapse/garden/2026-11-20.mp4", "--ttl", "1d"], "nothing to share"),
])
def test_share_create_bad_input_is_one_line(runner, args, expected):
    result = runner.invoke(cli, ["share", "create", *args, "--gallery-url", "https://x.test"])
    assert expected in one_line_error(result)


def test_share_without_a_gallery_address_is_one_line(runner):
    result = runner.invoke(cli, ["share", "create", "--day", "garden/2026-11-20", "--ttl", "1h"])
    assert "--gallery-url" in one_line_error(result)


def test_share_revoke_of_an_unknown_id_is_one_line(runner):
    assert "16 hex digits" in one_line_error(runner.invoke(cli, ["share", "revoke", "nope"]))
    assert "no share" in one_line_error(runner.invoke(cli, ["share", "revoke", "0" * 16]))


def test_alerts_targets_add_list_test_remove(runner, webhook):
    added = runner.invoke(cli, ["alerts", "target", "add", webhook, "--quiet-hours",
                                "22:00-07:00", "--timezone", "Europe/Berlin"])
    assert added.exit_code == 0, added.output
    target_id = added.stdout.split()[1]
    # The list never shows the URL's path
    listed = runner.invoke(cli, ["alerts", "target", "list"])
    assert target_id in listed.stdout and "secret-path" not in listed.stdout
    assert "22:00-07:00" in listed.stdout
    assert runner.invoke(cli, ["alerts", "list"]).stdout == listed.stdout
    # A test reaches the webhook
    tested = runner.invoke(cli, ["alerts", "target", "test", target_id])
    assert tested.exit_code == 0, tested.output
    assert [message["title"] for message in webhook_messages] == ["camcloud test"]
    # And remove removes it
    assert runner.invoke(cli, ["alerts", "target", "remove", target_id]).exit_code == 0
    assert target_id not in runner.invoke(cli, ["alerts", "target", "list"]).stdout


def test_alerts_bad_input_is_one_line(runner, monkeypatch):
    assert "scheme" in one_line_error(runner.invoke(cli, ["alerts", "target", "add",
                                                          "gopher://x"])).lower()
    assert "no alert target" in one_line_error(runner.invoke(cli, ["alerts", "target",
                                                                   "remove", "abc"]))
    assert "no alert target" in one_line_error(runner.invoke(cli, ["alerts", "target",
                                                                   "test", "abc"]))
    monkeypatch.delenv("CAMCLOUD_ALERTS_KEY")
    assert "no alerts key" in one_line_error(runner.invoke(
        cli, ["alerts", "target", "add", "json://127.0.0.1:9/x"]))


def test_alerts_check_runs_one_pass_and_prints_its_summary(runner):
    result = runner.invoke(cli, ["alerts", "check"])
    assert result.exit_code == 0, result.output
    assert "0 opened, 0 closed, 0 open; 0 delivered" in result.stdout
