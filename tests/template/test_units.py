"""The systemd units in deploy/: both services come back after a reboot, each as itself."""

from __future__ import annotations

import configparser
import os
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SERVICES = {"camcloud-ingest": "127.0.0.1:8001", "camcloud-gallery": "127.0.0.1:8002"}


def unit(name: str) -> configparser.ConfigParser:
    """A unit file, parsed (repeated keys such as EnvironmentFile keep their last value)."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string((DEPLOY / "systemd" / name).read_text())
    return parser


def proxy_upstreams() -> str:
    """The site nginx runs by default (no test overrides)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PROXY_")}
    return subprocess.run(
        ["bash", str(DEPLOY / "render-proxy.sh"), "http"],
        env=environment,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_each_service_restarts_on_failure_and_starts_at_boot(service: str) -> None:
    """Given a service unit, then it is enabled for boot and restarted whenever it dies."""
    parsed = unit(f"{service}.service")

    assert parsed["Install"]["WantedBy"] == "multi-user.target"
    assert parsed["Service"]["Restart"] == "always"
    assert parsed["Service"]["User"] == "camcloud"
    assert parsed["Service"]["NoNewPrivileges"] == "yes"
    assert parsed["Service"]["ProtectSystem"] == "strict"


@pytest.mark.parametrize(("service", "address"), sorted(SERVICES.items()))
def test_each_service_listens_where_nginx_sends_its_requests(service: str, address: str) -> None:
    """Given the units and the default proxy site, then their addresses agree (loopback)."""
    exec_start = unit(f"{service}.service")["Service"]["ExecStart"]
    upstream = "camcloud_ingest" if service == "camcloud-ingest" else "camcloud_gallery"

    assert f"--bind {address} " in exec_start
    assert f"upstream {upstream} {{\n    server {address};" in proxy_upstreams()


def test_each_service_assumes_its_own_role() -> None:
    """Given the two units, then each runs with its own AWS profile from the host's config."""
    profiles = {
        service: unit(f"{service}.service")["Service"]["Environment"] for service in SERVICES
    }

    assert profiles == {
        "camcloud-ingest": "AWS_PROFILE=camcloud-ingest",
        "camcloud-gallery": "AWS_PROFILE=camcloud-gallery",
    }
    bootstrap = (DEPLOY / "bootstrap.sh").read_text()
    for profile in profiles.values():
        assert f"[profile {profile.split('=')[1]}]" in bootstrap


def test_only_the_ingest_may_write_and_only_to_its_spool() -> None:
    """Given the sandboxing, then the ingest writes the durable spool and the gallery nothing."""
    ingest = unit("camcloud-ingest.service")["Service"]
    gallery = unit("camcloud-gallery.service")["Service"]

    assert ingest["ReadWritePaths"] == "/var/lib/camcloud/spool"
    assert "ReadWritePaths" not in gallery
    assert "CAMCLOUD_SPOOL_DIR=/var/lib/camcloud/spool" in (DEPLOY / "bootstrap.sh").read_text()


def test_the_updater_runs_after_every_boot_and_every_five_minutes() -> None:
    """Given the timer, then new releases and changed parameters reach the host by themselves."""
    timer = unit("camcloud-update.timer")

    assert timer["Install"]["WantedBy"] == "timers.target"
    assert timer["Timer"]["OnBootSec"] == "2min"
    assert timer["Timer"]["OnUnitActiveSec"] == "5min"
    assert (
        unit("camcloud-update.service")["Service"]["ExecStart"] == "/usr/local/sbin/camcloud-update"
    )
