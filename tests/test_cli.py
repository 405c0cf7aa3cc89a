"""The camcloud command: device keys and users against a bucket; settings errors are clear."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from camcloud.devices import AuthError, DeviceRegistry
from camcloud.users import UserStore
from camcloud_cli import main as cli
from tests.conftest import BUCKET
from tests.support import free_port


@pytest.fixture
def runner(s3, monkeypatch, tmp_path):
    """A CLI runner pointed at the mocked bucket, in an empty directory."""
    monkeypatch.setenv("CAMCLOUD_BUCKET", BUCKET)
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def test_devices_add_prints_the_key_once_and_list_and_revoke_work(runner, s3):
    # When a device is added
    added = runner.invoke(cli, ["devices", "add", "garden", "--name", "Garden", "--rotation",
                                "180"])
    # Then its key is printed, and it authenticates
    assert added.exit_code == 0, added.output
    key = re.search(r"cc1_garden_\S+", added.output).group(0)
    registry = DeviceRegistry(lambda: s3, BUCKET)
    assert registry.authenticate(key).rotation == 180
    # And list shows it without the key
    listed = runner.invoke(cli, ["devices", "list"])
    assert "garden" in listed.output and "active" in listed.output and key not in listed.output
    # And revoke revokes it
    assert runner.invoke(cli, ["devices", "revoke", "garden"]).exit_code == 0
    assert "revoked" in runner.invoke(cli, ["devices", "list"]).output


def test_bad_device_ids_and_duplicates_are_clear_errors(runner):
    bad = runner.invoke(cli, ["devices", "add", "Garden_1"])
    assert bad.exit_code == 1 and "invalid device id" in bad.output
    runner.invoke(cli, ["devices", "add", "garden"])
    again = runner.invoke(cli, ["devices", "add", "garden"])
    assert again.exit_code == 1 and "devices set garden" in again.output
    assert "devices rotate-key garden" in again.output


def test_users_add_list_remove(runner):
    added = runner.invoke(cli, ["users", "add", "alice"], input="s3cret-pass\ns3cret-pass\n")
    assert added.exit_code == 0, added.output
    assert runner.invoke(cli, ["users", "list"]).output.split() == ["alice"]
    assert runner.invoke(cli, ["users", "remove", "alice"]).exit_code == 0
    assert runner.invoke(cli, ["users", "list"]).output.split() == []


def test_missing_bucket_names_the_variable(monkeypatch, tmp_path):
    # Given no CAMCLOUD_BUCKET and no local stack in this directory
    monkeypatch.delenv("CAMCLOUD_BUCKET", raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["devices", "list"])
    assert result.exit_code == 1
    assert "CAMCLOUD_BUCKET" in result.output


def test_simulate_without_a_local_stack_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["simulate", "--count", "1"])
    assert result.exit_code == 1 and "camcloud local" in result.output


TERMINAL_ATTACK = "\x1b]0;pwned\x07Garden\nfake-cam                        active"


def test_terminal_escape_in_a_device_name_is_refused(runner, s3):
    # Regression (issue 13): an escape sequence and a newline in --name were stored and then
    # printed raw by `devices list` (a retitled terminal and a forged "active" line).
    added = runner.invoke(cli, ["devices", "add", "x", "--name", TERMINAL_ATTACK])
    assert added.exit_code == 1 and "control characters" in added.output
    too_long = runner.invoke(cli, ["devices", "add", "x", "--name", "n" * 65])
    assert too_long.exit_code == 1 and "at most 64" in too_long.output
    assert DeviceRegistry(lambda: s3, BUCKET).list() == []
    # A name with letters of any script is fine.
    assert runner.invoke(cli, ["devices", "add", "x", "--name", "Gartenhäuschen"]).exit_code == 0


def test_devices_list_escapes_a_hand_edited_name_with_control_characters(runner, s3):
    # Regression (issue 13): a record edited in the bucket reached the terminal raw.
    registry = DeviceRegistry(lambda: s3, BUCKET)
    record, _ = registry.add("x")
    document = record.to_json() | {"name": TERMINAL_ATTACK}
    s3.put_object(Bucket=BUCKET, Key="devices/x.json", Body=json.dumps(document).encode())

    listed = runner.invoke(cli, ["devices", "list"])

    assert listed.exit_code == 0
    assert "\x1b" not in listed.output and "\x07" not in listed.output
    assert listed.output.count("\n") == 1
    assert "\\x1b]0;pwned\\x07Garden\\nfake-cam" in listed.output


def test_users_logout_all_ends_every_session_of_the_user(runner, s3):
    # Given alice logged in on a phone that is now lost
    runner.invoke(cli, ["users", "add", "alice"], input="s3cret-pass\ns3cret-pass\n")
    users = UserStore(lambda: s3, BUCKET)
    session = users.login("alice", "s3cret-pass")
    assert users.session_alive("alice", session, fresh=True)
    # When she logs out everywhere from the command line
    result = runner.invoke(cli, ["users", "logout-all", "alice"])
    # Then that session is dead, and a new login works
    assert result.exit_code == 0, result.output
    assert not users.session_alive("alice", session, fresh=True)
    assert users.session_alive("alice", users.login("alice", "s3cret-pass"), fresh=True)
    # And an unknown user is a clear error
    unknown = runner.invoke(cli, ["users", "logout-all", "bob"])
    assert unknown.exit_code == 1 and "no user 'bob'" in unknown.output


def stale_local_info(tmp_path, port: int) -> None:
    """A .camcloud/local.json left behind by a stack that has stopped (nothing on ``port``)."""
    (tmp_path / ".camcloud").mkdir()
    (tmp_path / ".camcloud" / "local.json").write_text(json.dumps({
        "s3_endpoint": f"http://127.0.0.1:{port}", "bucket": "camcloud-local",
        "region": "us-east-1", "upload_url": f"http://127.0.0.1:{port}/upload",
        "devices": {"demo-cam": "cc1_demo-cam_x"},
    }))


@pytest.mark.parametrize("command", [["devices", "list"], ["users", "list"],
                                     ["simulate", "--count", "1"]])
def test_commands_after_the_stack_stopped_print_one_line_not_a_botocore_traceback(
    command, monkeypatch, tmp_path
):
    # Given the local stack stopped, its local.json left behind
    monkeypatch.delenv("CAMCLOUD_BUCKET", raising=False)
    monkeypatch.chdir(tmp_path)
    stale_local_info(tmp_path, free_port())
    # When a command that needs it runs
    result = CliRunner().invoke(cli, command)
    # Then it says in one line that the stack is not running and how to start it
    assert result.exit_code == 1
    assert "the local stack is not running: start it with make run" in result.output
    assert "Traceback" not in result.output and len(result.output.splitlines()) == 1


def test_simulate_says_what_it_waits_for_and_prints_a_new_seed_each_run():
    # Given an upload URL where nothing answers
    url = f"http://127.0.0.1:{free_port()}/upload"
    # When simulate runs twice with the default seed
    runs = [CliRunner().invoke(cli, ["simulate", "--url", url, "--key", "cc1_x_y", "--count",
                                     "1", "--retries", "1"]) for _ in range(2)]
    # Then each retry says what it is waiting for, and the run fails in the end
    for run in runs:
        assert run.exit_code == 1
        assert run.output.count(f"waiting for {url} to answer") == 1, run.output
    # And each run printed its own seed, which --seed repeats
    seeds = [re.search(r"seed (\d+) \(--seed \1 ", run.output).group(1) for run in runs]
    assert seeds[0] != seeds[1]


def test_devices_set_changes_name_and_rotation_and_the_key_keeps_working(runner, s3):
    # Given a registered camera and its key
    added = runner.invoke(cli, ["devices", "add", "garden", "--name", "Garden"])
    key = re.search(r"cc1_garden_\S+", added.output).group(0)
    # When its name and rotation change
    changed = runner.invoke(cli, ["devices", "set", "garden", "--name", "Back garden",
                                  "--rotation", "180"])
    # Then the same key still authenticates, with the new settings
    assert changed.exit_code == 0, changed.output
    record = DeviceRegistry(lambda: s3, BUCKET).authenticate(key)
    assert (record.name, record.rotation) == ("Back garden", 180)
    # And it offers the command that re-renders the thumbnails it already has
    assert "reprocess --device garden" in changed.output
    # And a name-only change does not offer it
    renamed = runner.invoke(cli, ["devices", "set", "garden", "--name", "Garden"])
    assert renamed.exit_code == 0 and "reprocess" not in renamed.output


def test_rotation_next_to_the_old_rotate_flag_no_longer_replaces_the_key(runner, s3):
    # Given a registered camera
    added = runner.invoke(cli, ["devices", "add", "garden"])
    key = re.search(r"cc1_garden_\S+", added.output).group(0)
    # When the old `--rotate --rotation 180` is typed
    mistaken = runner.invoke(cli, ["devices", "add", "garden", "--rotate", "--rotation", "180"])
    # Then nothing changes and it names the two commands that say what they do
    assert mistaken.exit_code == 1
    assert "rotate-key garden" in mistaken.output and "set garden --rotation 180" in mistaken.output
    assert DeviceRegistry(lambda: s3, BUCKET).authenticate(key) is not None


def test_devices_rotate_key_gives_a_new_key_and_the_old_one_stops(runner, s3):
    added = runner.invoke(cli, ["devices", "add", "garden", "--rotation", "90"])
    old = re.search(r"cc1_garden_\S+", added.output).group(0)
    rotated = runner.invoke(cli, ["devices", "rotate-key", "garden"])
    assert rotated.exit_code == 0, rotated.output
    new = re.search(r"cc1_garden_\S+", rotated.output).group(0)
    registry = DeviceRegistry(lambda: s3, BUCKET)
    assert registry.authenticate(new).rotation == 90
    with pytest.raises(AuthError):
        registry.authenticate(old)
    unknown = runner.invoke(cli, ["devices", "rotate-key", "nosuch"])
    assert unknown.exit_code == 1 and "unknown device" in unknown.output


def test_users_add_says_the_password_rule_before_asking(runner):
    # When a user is added with a too-short password
    result = runner.invoke(cli, ["users", "add", "bob"], input="short\nshort\n")
    # Then the prompt said the rule before the password was typed
    prompt_end = result.output.index(":")
    assert "at least 8 characters" in result.output[:prompt_end]


def test_camcloud_local_on_a_busy_port_names_the_port_setting(tmp_path, monkeypatch):
    # Given another program listening on the port
    import socket

    monkeypatch.chdir(tmp_path)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        # When the local stack is started on it
        result = CliRunner().invoke(cli, ["local", "--port", str(port)])
    # Then it says so in one line, with how to pick another port
    assert result.exit_code == 1
    assert f"port {port} is in use" in result.output and "PORT=" in result.output


def test_the_local_stack_log_is_json_lines_and_capture_rendered_names_the_capture():
    # Given the local stack's log format
    import logging

    from camcloud_cli.jsonlog import JsonLines

    record = logging.LogRecord("camcloud.thumbnailer", logging.INFO, __file__, 1,
                               "capture rendered", None, None)
    record.key = "raw/garden/8204746599999_abc.jpg"
    # When the thumbnailer's "capture rendered" is logged
    line = JsonLines().format(record)
    # Then it is one JSON object on one line that says which capture
    assert "\n" not in line
    document = json.loads(line)
    assert document["message"] == "capture rendered"
    assert document["key"] == "raw/garden/8204746599999_abc.jpg"
    assert document["level"] == "INFO" and document["logger"] == "camcloud.thumbnailer"
