"""The camcloud command: device keys and users against a bucket; settings errors are clear."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from camcloud.devices import DeviceRegistry
from camcloud_cli import main as cli
from tests.conftest import BUCKET


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
    assert again.exit_code == 1 and "--rotate" in again.output


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
