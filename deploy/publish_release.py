"""Upload dist/camcloud-release.tar.gz to the deployed stack's bucket; the EC2 host installs it.

Reads the stack name and region from samconfig.toml (written by `sam deploy --guided`), or
from --stack-name/--region. The updater goes first and the tarball last, so the host never
finds a release without the script that installs it.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[1]
RELEASE = ROOT / "dist" / "camcloud-release.tar.gz"
UPDATER = ROOT / "deploy" / "camcloud-update.sh"


def saved_deploy_settings(path: Path) -> dict[str, str]:
    """stack_name and region from samconfig.toml's default deploy section, if present."""
    if not path.is_file():
        return {}
    config = tomllib.loads(path.read_text())
    section = config.get("default", {})
    found: dict[str, str] = {}
    for part in ("global", "deploy"):
        found.update(section.get(part, {}).get("parameters", {}))
    return {key: str(found[key]) for key in ("stack_name", "region") if key in found}


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    """The stack's outputs by key."""
    (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def main(argv: list[str] | None = None, samconfig: Path = ROOT / "samconfig.toml") -> int:
    """Upload the release and print what the cameras need."""
    saved = saved_deploy_settings(samconfig)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack-name", default=saved.get("stack_name"))
    parser.add_argument("--region", default=saved.get("region"))
    parser.add_argument("--release", type=Path, default=RELEASE)
    args = parser.parse_args(argv)
    if not args.stack_name:
        parser.error("no stack name in samconfig.toml: pass --stack-name (and --region)")
    if not args.release.is_file():
        parser.error(f"{args.release} is missing: run deploy/make-release.sh")

    session = boto3.session.Session(region_name=args.region)
    outputs = stack_outputs(session.client("cloudformation"), args.stack_name)
    bucket = outputs["BucketName"]
    s3 = session.client("s3")
    for path, key in ((UPDATER, "camcloud-update.sh"), (args.release, "camcloud-release.tar.gz")):
        s3.upload_file(
            str(path), bucket, f"releases/{key}", ExtraArgs={"ChecksumAlgorithm": "SHA256"}
        )
        print(f"uploaded s3://{bucket}/releases/{key}")
    print(
        "\nThe host installs this release within about five minutes"
        " (journalctl -u camcloud-update on the host shows it).\n"
        f"  gallery:   {outputs.get('GalleryUrl')}\n"
        f"  upload:    {outputs.get('UploadUrl')}\n"
        f"  firmware:  {outputs.get('FirmwareConfig')}\n"
        f"  devices:   CAMCLOUD_BUCKET={bucket} camcloud devices add <name>"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
