"""`make deploy`'s helper: the host image, the release upload, and what the cameras need.

  publish_release.py                 upload dist/camcloud-release.tar.gz (the stack exists)
  publish_release.py --wait-for-stack  wait for the stack's bucket (a first deploy), upload
  publish_release.py --image keep|latest  print the parameter overrides for a new image ("": keep)
  publish_release.py --summary       print the URLs, the firmware lines and the TLS trust

Uploading also makes the alert targets' key once: an SSM SecureString parameter
/camcloud/STACK/alerts-key holding a Fernet key, which the gallery and the alert check read
(kept as it is on every later deploy: the stored targets are encrypted with it).

Reads the stack name and region from samconfig.toml (written by `sam deploy --guided`), or
from --stack-name/--region. The host's helper and updater go first and the tarball last, so a
host never finds a release without the scripts that install it.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parents[1]
RELEASE = ROOT / "dist" / "camcloud-release.tar.gz"
HOST_FILES = (
    (ROOT / "deploy" / "hostctl.py", "hostctl.py"),
    (ROOT / "deploy" / "camcloud-update.sh", "camcloud-update.sh"),
)
UBUNTU = "/aws/service/canonical/ubuntu/server/24.04/stable/current/{arch}/hvm/ebs-gp3/ami-id"


def saved_deploy_settings(path: Path) -> dict[str, str]:
    """stack_name, region and parameter_overrides from samconfig.toml, if present."""
    if not path.is_file():
        return {}
    config = tomllib.loads(path.read_text())
    section = config.get("default", {})
    found: dict[str, Any] = {}
    for part in ("global", "deploy"):
        found.update(section.get(part, {}).get("parameters", {}))
    keys = ("stack_name", "region", "parameter_overrides")
    return {key: _as_text(found[key]) for key in keys if key in found}


def _as_text(value: Any) -> str:
    return " ".join(value) if isinstance(value, list) else str(value)


def saved_parameter(settings: dict[str, str], name: str) -> str | None:
    """One parameter's value from samconfig's parameter_overrides ('Name=value' or Name="v")."""
    match = re.search(rf'(?:^|\s){name}=("?)([^"\s]*)\1', settings.get("parameter_overrides", ""))
    return match.group(2) if match else None


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    """The stack's outputs by key."""
    (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def stack_bucket(cloudformation: Any, stack_name: str, wait: bool) -> str:
    """The stack's bucket: its output, or while the stack is being created its resource."""
    while True:
        try:
            outputs = stack_outputs(cloudformation, stack_name)
            if "BucketName" in outputs:
                return outputs["BucketName"]
            resource = cloudformation.describe_stack_resource(
                StackName=stack_name, LogicalResourceId="MediaBucket"
            )["StackResourceDetail"]
            if resource["ResourceStatus"] == "CREATE_COMPLETE" or not wait:
                return str(resource["PhysicalResourceId"])
        except ClientError:
            if not wait:
                raise
        time.sleep(5)


def upload(session: Any, bucket: str, release: Path) -> None:
    """Put the host's helper, its updater and then the release under releases/."""
    account = session.client("sts").get_caller_identity()["Account"]
    s3 = session.client("s3")
    for path, key in (*HOST_FILES, (release, "camcloud-release.tar.gz")):
        s3.upload_file(
            str(path),
            bucket,
            f"releases/{key}",
            ExtraArgs={"ChecksumAlgorithm": "SHA256", "ExpectedBucketOwner": account},
        )
        print(f"uploaded s3://{bucket}/releases/{key}")


def image_overrides(session: Any, settings: dict[str, str], wanted: str) -> str:
    """'' to keep samconfig.toml's image; else its parameter overrides with the current image.

    `sam deploy --parameter-overrides` replaces the saved overrides as a whole, so the saved
    ones are repeated with only ImageId changed.
    """
    if wanted == "keep" and saved_parameter(settings, "ImageId"):
        return ""
    instance_type = saved_parameter(settings, "InstanceType") or "t4g.micro"
    arch = "arm64" if instance_type.startswith("t4g") else "amd64"
    found = session.client("ssm").get_parameter(Name=UBUNTU.format(arch=arch))
    saved = settings.get("parameter_overrides", "")
    kept = re.sub(r'(?:^|\s)ImageId=("?)[^"\s]*\1', "", saved).strip()
    return f'{kept} ImageId="{found["Parameter"]["Value"]}"'.strip()


def alerts_key_parameter(stack_name: str) -> str:
    """The SSM parameter the template's AlertsKeyParameter output names."""
    return f"/camcloud/{stack_name}/alerts-key"


def ensure_alerts_key(ssm: Any, stack_name: str) -> bool:
    """Create the alert targets' key as a SecureString unless it exists; True if created."""
    import base64
    import os

    # A Fernet key (camcloud.notify.new_key): 32 random bytes, url-safe base64.
    key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    try:
        ssm.put_parameter(Name=alerts_key_parameter(stack_name), Value=key, Type="SecureString",
                          Overwrite=False,
                          Description="camcloud alert targets' Fernet key (never rotate in "
                                      "place: stored targets would no longer decrypt)")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ParameterAlreadyExists":
            return False
        raise
    return True


def summary(session: Any, stack_name: str) -> None:
    """Print what the cameras and the owner need, with the TLS authority's fingerprint."""
    outputs = stack_outputs(session.client("cloudformation"), stack_name)
    print(
        "\n"
        f"  gallery:   {outputs.get('GalleryUrl')}\n"
        f"  upload:    {outputs.get('UploadUrl')}\n"
        f"  firmware:  {outputs.get('FirmwareConfig')}\n"
        f"  trust:     {outputs.get('FirmwareTrust')}\n"
        f"  devices:   CAMCLOUD_BUCKET={outputs.get('BucketName')} camcloud devices add <name>"
    )
    parameter = outputs.get("TlsCaParameter")
    if not parameter:
        return
    try:
        pem = session.client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"]
    except ClientError:
        print("  (the host has not made its certificate authority yet: run make deploy again)")
        return
    target = ROOT / "dist" / "camcloud-ca.pem"
    target.write_text(pem)
    body = "".join(line for line in pem.splitlines() if "-----" not in line)
    import base64

    digest = hashlib.sha256(base64.b64decode(body)).hexdigest().upper()
    fingerprint = ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))
    print(
        f"  CA cert:   {target} (CAMCLOUD_ROOT_CA in config.h)\n"
        f"  SHA-256:   {fingerprint}\n"
        "             your browser shows this fingerprint for the gallery's issuer: compare once"
    )


def main(argv: list[str] | None = None, samconfig: Path = ROOT / "samconfig.toml") -> int:
    """Upload the release, pick the image, or print the summary (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack-name")
    parser.add_argument("--region")
    parser.add_argument("--release", type=Path, default=RELEASE)
    parser.add_argument("--wait-for-stack", action="store_true")
    parser.add_argument("--image", choices=["keep", "latest"])
    parser.add_argument("--summary", action="store_true")
    args = parser.parse_args(argv)
    if args.wait_for_stack:
        # A guided first deploy writes samconfig.toml after its questions.
        while not samconfig.is_file() and not args.stack_name:
            time.sleep(2)
    saved = saved_deploy_settings(samconfig)
    stack_name = args.stack_name or saved.get("stack_name")
    session = boto3.session.Session(region_name=args.region or saved.get("region"))
    if args.image:
        print(image_overrides(session, saved, args.image))
        return 0
    if not stack_name:
        parser.error("no stack name in samconfig.toml: pass --stack-name (and --region)")
    if args.summary:
        summary(session, stack_name)
        return 0
    if not args.release.is_file():
        parser.error(f"{args.release} is missing: run deploy/make-release.sh")
    bucket = stack_bucket(session.client("cloudformation"), stack_name, args.wait_for_stack)
    upload(session, bucket, args.release)
    if ensure_alerts_key(session.client("ssm"), stack_name):
        print(f"made the alert targets' key: {alerts_key_parameter(stack_name)}")
    if not args.wait_for_stack:
        summary(session, stack_name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
