"""`make deploy`'s last step: the release lands where the EC2 host looks for it."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "camcloud-123456789012-eu-central-1"


def load_publisher() -> ModuleType:
    """deploy/publish_release.py as a module (deploy/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "publish_release", ROOT / "deploy/publish_release.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def deployed_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A stack named camcloud in eu-central-1 whose outputs name its bucket (moto)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        region = "eu-central-1"
        boto3.client("s3", region_name=region).create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": region}
        )
        template = {
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {
                "BucketName": {"Value": BUCKET},
                "GalleryUrl": {"Value": "http://198.51.100.23/"},
                "UploadUrl": {"Value": "http://198.51.100.23/upload"},
                "FirmwareConfig": {
                    "Value": '#define CAMCLOUD_UPLOAD_URL "http://198.51.100.23/upload"'
                },
            },
        }
        boto3.client("cloudformation", region_name=region).create_stack(
            StackName="camcloud", TemplateBody=json.dumps(template)
        )
        yield


def test_the_release_and_its_updater_are_uploaded_to_the_stacks_bucket(
    deployed_stack: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given samconfig.toml from a guided deploy, then both objects land under releases/."""
    samconfig = tmp_path / "samconfig.toml"
    samconfig.write_text(
        'version = 0.1\n[default.global.parameters]\nstack_name = "camcloud"\n'
        '[default.deploy.parameters]\nregion = "eu-central-1"\nconfirm_changeset = true\n'
    )
    release = tmp_path / "camcloud-release.tar.gz"
    release.write_bytes(b"release bytes")

    load_publisher().main(["--release", str(release)], samconfig=samconfig)

    s3 = boto3.client("s3", region_name="eu-central-1")
    stored = s3.get_object(Bucket=BUCKET, Key="releases/camcloud-release.tar.gz")["Body"].read()
    updater = s3.get_object(Bucket=BUCKET, Key="releases/camcloud-update.sh")["Body"].read()
    assert stored == b"release bytes"
    assert updater == (ROOT / "deploy/camcloud-update.sh").read_bytes()
    printed = capsys.readouterr().out
    assert '#define CAMCLOUD_UPLOAD_URL "http://198.51.100.23/upload"' in printed
    assert f"CAMCLOUD_BUCKET={BUCKET} camcloud devices add" in printed


def test_regression_a_new_image_keeps_every_other_saved_parameter(
    deployed_stack: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given saved overrides, when IMAGE=latest, then only ImageId changes in what is passed."""
    publisher = load_publisher()
    # moto refuses the reserved /aws/ names AWS publishes Canonical's images under.
    publisher.UBUNTU = "/test/canonical/{arch}/ami-id"
    boto3.client("ssm", region_name="eu-central-1").put_parameter(
        Name="/test/canonical/arm64/ami-id", Value="ami-0newer", Type="String"
    )
    samconfig = tmp_path / "samconfig.toml"
    samconfig.write_text(
        'version = 0.1\n[default.global.parameters]\nstack_name = "camcloud"\n'
        '[default.deploy.parameters]\nregion = "eu-central-1"\n'
        'parameter_overrides = "AlarmEmail=\\"me@example.org\\" ImageId=\\"ami-0old\\" '
        'UndeleteDays=\\"14\\""\n'
    )

    publisher.main(["--image", "keep"], samconfig=samconfig)
    kept = capsys.readouterr().out
    publisher.main(["--image", "latest"], samconfig=samconfig)
    latest = capsys.readouterr().out

    assert kept.strip() == ""
    assert latest.split() == [
        'AlarmEmail="me@example.org"',
        'UndeleteDays="14"',
        'ImageId="ami-0newer"',
    ]


def test_deploy_makes_the_alert_targets_key_once_and_never_replaces_it(
    deployed_stack: None, tmp_path: Path
) -> None:
    """Given a first deploy, then a SecureString Fernet key is made at the parameter the
    template names; given a second deploy, then the same key is kept (targets stored with it
    must still decrypt)."""
    from cryptography.fernet import Fernet

    samconfig = tmp_path / "samconfig.toml"
    samconfig.write_text(
        'version = 0.1\n[default.global.parameters]\nstack_name = "camcloud"\n'
        '[default.deploy.parameters]\nregion = "eu-central-1"\n'
    )
    release = tmp_path / "camcloud-release.tar.gz"
    release.write_bytes(b"release bytes")
    ssm = boto3.client("ssm", region_name="eu-central-1")
    publisher = load_publisher()

    publisher.main(["--release", str(release)], samconfig=samconfig)
    first = ssm.get_parameter(Name="/camcloud/camcloud/alerts-key", WithDecryption=True)
    publisher.main(["--release", str(release)], samconfig=samconfig)
    second = ssm.get_parameter(Name="/camcloud/camcloud/alerts-key", WithDecryption=True)

    assert first["Parameter"]["Type"] == "SecureString"
    Fernet(first["Parameter"]["Value"])  # a valid key
    assert second["Parameter"]["Value"] == first["Parameter"]["Value"]
