"""deploy/hostctl.py: the host's state outside the host, against moto (SSM, S3, CloudWatch).

Two calls with fresh directories stand for two hosts, or a host and its replacement.
"""

from __future__ import annotations

import grp
import importlib.util
import json
import os
import pwd
import re
import stat
import subprocess
from argparse import Namespace
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]
FACTS = {
    "CAMCLOUD_STACK": "camcloud",
    "CAMCLOUD_REGION": "eu-central-1",
    "CAMCLOUD_BUCKET": "camcloud-123456789012-eu-central-1",
    "CAMCLOUD_ACCOUNT": "123456789012",
}
ME = pwd.getpwuid(os.getuid()).pw_name
MY_GROUP = grp.getgrgid(os.getgid()).gr_name


def load_hostctl() -> ModuleType:
    """deploy/hostctl.py as a module (deploy/ is not a package)."""
    spec = importlib.util.spec_from_file_location("hostctl", ROOT / "deploy/hostctl.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def hostctl(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The module, with moto standing in for AWS."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "CAMCLOUD_AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield load_hostctl()


def ssm() -> object:
    """An SSM client in the stack's region."""
    return boto3.client("ssm", region_name=FACTS["CAMCLOUD_REGION"])


def test_regression_a_replacement_host_keeps_the_gallery_secret(
    hostctl: ModuleType, tmp_path: Path
) -> None:
    """Given a first host made the key, when its replacement asks, then it gets the same key."""
    first, second = tmp_path / "first.env", tmp_path / "second.env"

    hostctl.secret(FACTS, Namespace(out=str(first), group=MY_GROUP))
    hostctl.secret(FACTS, Namespace(out=str(second), group=MY_GROUP))

    assert first.read_text() == second.read_text()
    assert len(first.read_text().strip().split("=", 1)[1]) == 64
    assert stat.S_IMODE(first.stat().st_mode) == 0o440
    stored = ssm().get_parameter(Name="/camcloud/camcloud/gallery-secret")["Parameter"]  # type: ignore[attr-defined]
    assert stored["Type"] == "SecureString"


def test_settings_keep_only_camcloud_lines_from_parameter_store(
    hostctl: ModuleType, tmp_path: Path
) -> None:
    """Given the owner's parameter, then only CAMCLOUD_NAME=value lines reach the services."""
    ssm().put_parameter(  # type: ignore[attr-defined]
        Name="/camcloud/camcloud/settings",
        Type="String",
        Value="CAMCLOUD_RATE_BURST=20\nLD_PRELOAD=/tmp/x.so\n# a comment\nCAMCLOUD_PRESIGN_TTL=600",
    )
    out = tmp_path / "local.env"

    hostctl.settings(FACTS, Namespace(out=str(out), group=MY_GROUP))

    lines = [line for line in out.read_text().splitlines() if not line.startswith("#")]
    assert lines == ["CAMCLOUD_RATE_BURST=20", "CAMCLOUD_PRESIGN_TTL=600"]


def test_no_settings_parameter_means_no_settings(hostctl: ModuleType, tmp_path: Path) -> None:
    """Given no parameter yet, then local.env holds only its header."""
    out = tmp_path / "local.env"

    hostctl.settings(FACTS, Namespace(out=str(out), group=MY_GROUP))

    assert all(line.startswith("#") for line in out.read_text().splitlines())


def certificate_names(path: Path) -> str:
    """The subjectAltName text of a PEM certificate."""
    return subprocess.run(
        ["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_regression_https_without_a_domain_uses_one_stack_authority_for_every_host(
    hostctl: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given two hosts, then both serve certificates for the addresses from the same CA."""
    monkeypatch.setattr(hostctl, "write_private", _write_as_me(hostctl.write_private))
    first, second = tmp_path / "first", tmp_path / "second"

    hostctl.tls(FACTS, Namespace(dir=str(first), ips="198.51.100.23,203.0.113.9"))
    hostctl.tls(FACTS, Namespace(dir=str(second), ips="198.51.100.23,203.0.113.9"))

    ca = ssm().get_parameter(Name="/camcloud/camcloud/tls/ca-cert")["Parameter"]["Value"]  # type: ignore[attr-defined]
    (tmp_path / "ca.pem").write_text(ca)
    for host in (first, second):
        verified = subprocess.run(
            ["openssl", "verify", "-CAfile", str(tmp_path / "ca.pem"), str(host / "fullchain.pem")],
            capture_output=True,
            text=True,
        )
        assert verified.returncode == 0, verified.stderr
        names = certificate_names(host / "fullchain.pem")
        assert "IP Address:198.51.100.23" in names and "IP Address:203.0.113.9" in names
        assert not (host / "ca.key").exists()  # the CA key stays in Parameter Store
        assert stat.S_IMODE((host / "privkey.pem").stat().st_mode) == 0o400


def test_the_server_certificate_is_kept_until_the_addresses_change(
    hostctl: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a current certificate it is reused; given a new address set, a new one is made."""
    monkeypatch.setattr(hostctl, "write_private", _write_as_me(hostctl.write_private))
    hostctl.tls(FACTS, Namespace(dir=str(tmp_path), ips="198.51.100.23"))
    issued = (tmp_path / "fullchain.pem").read_bytes()

    hostctl.tls(FACTS, Namespace(dir=str(tmp_path), ips="198.51.100.23"))
    assert (tmp_path / "fullchain.pem").read_bytes() == issued

    hostctl.tls(FACTS, Namespace(dir=str(tmp_path), ips="198.51.100.23,203.0.113.9"))
    assert (tmp_path / "fullchain.pem").read_bytes() != issued
    assert "IP Address:203.0.113.9" in certificate_names(tmp_path / "fullchain.pem")


def test_a_failed_update_is_a_metric_the_alarm_watches(hostctl: ModuleType) -> None:
    """Given a failed update, then UpdateFailed=1 lands in camcloud/host for this stack."""
    hostctl.metric(FACTS, Namespace(name="UpdateFailed", value=1.0))

    (found,) = boto3.client("cloudwatch", region_name="eu-central-1").list_metrics(
        Namespace="camcloud/host"
    )["Metrics"]
    assert found["MetricName"] == "UpdateFailed"
    assert found["Dimensions"] == [{"Name": "Stack", "Value": "camcloud"}]


def _write_as_me(write: object) -> object:
    """write_private, but owned by the test's user (the host writes as root)."""

    def as_me(
        path: Path, text: str, owner: str = ME, group: str = MY_GROUP, mode: int = 0o400
    ) -> None:
        write(path, text, ME, MY_GROUP, mode)  # type: ignore[operator]

    return as_me


def test_each_service_gets_its_own_role_credentials_in_credential_process_form(
    hostctl: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given both roles, then each user's file holds that role's session, as botocore reads it."""
    written: dict[str, tuple[str, str, int]] = {}

    def record(path: Path, text: str, owner: str, group: str, mode: int) -> None:
        written[path.name] = (owner, text, mode)

    monkeypatch.setattr(hostctl, "write_private", record)
    facts = {
        **FACTS,
        "CAMCLOUD_INGEST_ROLE_ARN": "arn:aws:iam::123456789012:role/camcloud-ingest",
        "CAMCLOUD_GALLERY_ROLE_ARN": "arn:aws:iam::123456789012:role/camcloud-gallery",
    }

    hostctl.credentials(facts, Namespace(dir=str(tmp_path)))

    assert set(written) == {"camcloud-ingest.json", "camcloud-gallery.json"}
    for name, (owner, text, mode) in written.items():
        document = json.loads(text)
        assert owner == name.removesuffix(".json") and mode == 0o400
        assert document["Version"] == 1
        assert {"AccessKeyId", "SecretAccessKey", "SessionToken"} <= set(document)
        # botocore's credential_process provider parses exactly this timestamp form.
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", document["Expiration"])
    ingest = json.loads(written["camcloud-ingest.json"][1])["AccessKeyId"]
    assert ingest != json.loads(written["camcloud-gallery.json"][1])["AccessKeyId"]
