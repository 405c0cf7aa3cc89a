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
    assert parsed["Service"]["NoNewPrivileges"] == "yes"
    assert parsed["Service"]["ProtectSystem"] == "strict"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_regression_each_service_runs_as_its_own_user_and_cannot_see_the_other(
    service: str,
) -> None:
    """Given both units, then each has its own user, a private /proc view and no metadata."""
    parsed = unit(f"{service}.service")["Service"]

    assert parsed["User"] == service
    assert parsed["Group"] == service
    assert parsed["ProtectProc"] == "invisible"
    assert parsed["ProcSubset"] == "pid"
    # The instance role's credentials are one metadata request away; not for the services.
    assert "169.254.169.254/32" in parsed["IPAddressDeny"].split()
    assert parsed["CapabilityBoundingSet"] == ""


def test_each_service_runs_the_current_release() -> None:
    """Given both units, then they run whatever release /opt/camcloud/current points at."""
    for service in SERVICES:
        exec_start = unit(f"{service}.service")["Service"]["ExecStart"]
        assert exec_start.startswith("/opt/camcloud/current/venv/bin/gunicorn ")
        assert "--config /opt/camcloud/current/deploy/gunicorn.conf.py" in exec_start


def test_regression_the_ingest_drains_its_spool_when_the_host_goes_away() -> None:
    """Given the ingest unit, then stopping it for a shutdown drains the spool (bounded)."""
    service = unit("camcloud-ingest.service")
    drain = (DEPLOY / "camcloud-drain.sh").read_text()

    assert service["Service"]["ExecStopPost"] == "/usr/local/lib/camcloud/camcloud-drain"
    assert service["Unit"]["RequiresMountsFor"] == "/var/lib/camcloud"
    assert "python -m ingest.drain --timeout" in drain
    timeout = int(service["Service"]["Environment"].split("CAMCLOUD_DRAIN_TIMEOUT=")[1])
    assert int(service["Service"]["TimeoutStopSec"]) > timeout


@pytest.mark.parametrize(("service", "address"), sorted(SERVICES.items()))
def test_each_service_listens_where_nginx_sends_its_requests(service: str, address: str) -> None:
    """Given the units and the default proxy site, then their addresses agree (loopback)."""
    exec_start = unit(f"{service}.service")["Service"]["ExecStart"]
    upstream = "camcloud_ingest" if service == "camcloud-ingest" else "camcloud_gallery"

    assert f"--bind {address} " in exec_start
    assert f"upstream {upstream} {{\n    server {address};" in proxy_upstreams()


def test_each_service_assumes_its_own_role_from_a_file_only_it_can_read() -> None:
    """Given the units and the AWS config, then each profile reads its own credential file."""
    environments = {
        service: unit(f"{service}.service")["Service"]["Environment"] for service in SERVICES
    }
    bootstrap = (DEPLOY / "bootstrap.sh").read_text()
    hostctl = (DEPLOY / "hostctl.py").read_text()

    assert "AWS_PROFILE=camcloud-ingest" in environments["camcloud-ingest"]
    assert environments["camcloud-gallery"] == "AWS_PROFILE=camcloud-gallery"
    for service in SERVICES:
        assert (
            f"[profile {service}]\n"
            f"credential_process = /bin/cat /run/camcloud-credentials/{service}.json"
        ) in bootstrap
    # hostctl writes each file owned by that service's user, mode 0400.
    owned = 'write_private(directory / f"{user}.json", json.dumps(document), user, user, 0o400)'
    assert owned in hostctl


def test_only_the_ingest_may_write_and_only_to_its_spool() -> None:
    """Given the sandboxing, then the ingest writes the durable spool and the gallery nothing."""
    ingest = unit("camcloud-ingest.service")["Service"]
    gallery = unit("camcloud-gallery.service")["Service"]

    assert ingest["ReadWritePaths"] == "/var/lib/camcloud/spool"
    assert "ReadWritePaths" not in gallery
    assert "CAMCLOUD_SPOOL_DIR=/var/lib/camcloud/spool" in (DEPLOY / "bootstrap.sh").read_text()


def test_the_gallery_alone_gets_the_session_key() -> None:
    """Given the units, then only the gallery loads secret.env (made readable to its group)."""
    assert "secret.env" in (DEPLOY / "systemd" / "camcloud-gallery.service").read_text()
    assert "secret.env" not in (DEPLOY / "systemd" / "camcloud-ingest.service").read_text()


def test_the_updater_runs_after_every_boot_and_every_five_minutes() -> None:
    """Given the timer, then new releases and changed parameters reach the host by themselves."""
    timer = unit("camcloud-update.timer")

    assert timer["Install"]["WantedBy"] == "timers.target"
    assert timer["Timer"]["OnBootSec"] == "2min"
    assert timer["Timer"]["OnUnitActiveSec"] == "5min"
    assert (
        unit("camcloud-update.service")["Service"]["ExecStart"] == "/usr/local/sbin/camcloud-update"
    )
