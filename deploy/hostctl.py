"""The ingest host's AWS chores, run as root by camcloud-update and its units.

Runs with the system python3 and Ubuntu's python3-boto3 (before any release virtualenv
exists). Every call uses the instance role. State that must outlive a host lives in SSM
Parameter Store under /camcloud/STACK/ or in the bucket under state/:

  gallery-secret   SecureString  the gallery's session key (every host, every replacement)
  settings         String        the owner's CAMCLOUD_* lines (optional)
  tls/ca-key       SecureString  the stack's TLS authority (no domain): firmware pins its cert
  tls/ca-cert      String        that authority's certificate
  state/letsencrypt.tar.gz       the Let's Encrypt account and certificate (with a domain)

CAMCLOUD_AWS_ENDPOINT_URL (empty in production) points every client at one endpoint, which is
how the host test runs all of this against a local moto server.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pwd
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

STACK_ENV = Path(os.environ.get("CAMCLOUD_STACK_ENV", "/etc/camcloud/stack.env"))
RELEASE_KEY = "releases/camcloud-release.tar.gz"
SETTING_LINE = re.compile(r"^CAMCLOUD_[A-Z0-9_]+=[^\n\r]*$")
METADATA = "http://169.254.169.254/latest"


def stack_facts(path: Path = STACK_ENV) -> dict[str, str]:
    """The KEY=value lines the first boot wrote from the template."""
    facts = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            facts[key.strip()] = value.strip()
    return facts


def client(service: str, facts: dict[str, str]) -> Any:
    """A boto3 client in the stack's region (or the test endpoint)."""
    endpoint = os.environ.get("CAMCLOUD_AWS_ENDPOINT_URL") or None
    return boto3.client(service, region_name=facts["CAMCLOUD_REGION"], endpoint_url=endpoint)


def parameter_name(facts: dict[str, str], name: str) -> str:
    """The full SSM name of one of this stack's parameters."""
    return f"/camcloud/{facts['CAMCLOUD_STACK']}/{name}"


def get_parameter(ssm: Any, name: str) -> str | None:
    """A parameter's (decrypted) value, or None when it does not exist."""
    try:
        return str(ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
    except ClientError as error:
        if error.response["Error"]["Code"] == "ParameterNotFound":
            return None
        raise


def ensure_parameter(ssm: Any, name: str, make: Any, secure: bool) -> str:
    """The parameter's value, created by ``make()`` if absent; the first host to write wins."""
    value = get_parameter(ssm, name)
    if value is not None:
        return value
    try:
        ssm.put_parameter(
            Name=name,
            Value=make(),
            Type="SecureString" if secure else "String",
            Overwrite=False,
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ParameterAlreadyExists":
            raise
    # Read back: another host may have won the race, and everyone must use its value.
    value = get_parameter(ssm, name)
    assert value is not None
    return value


def write_private(
    path: Path, text: str, owner: str = "root", group: str = "root", mode: int = 0o400
) -> None:
    """Write ``text`` atomically with this owner, group and mode (never readable in between)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(handle, mode)
        os.fchown(handle, pwd.getpwnam(owner).pw_uid, _gid(group))
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _gid(group: str) -> int:
    import grp

    return grp.getgrnam(group).gr_gid


# ------------------------------------------------------------------ commands


def release_etag(facts: dict[str, str], _: argparse.Namespace) -> int:
    """Print the ETag of the uploaded release (its identity), from this account's bucket."""
    head = client("s3", facts).head_object(
        Bucket=facts["CAMCLOUD_BUCKET"],
        Key=RELEASE_KEY,
        ExpectedBucketOwner=facts["CAMCLOUD_ACCOUNT"],
    )
    print(head["ETag"].strip('"'))
    return 0


def fetch_release(facts: dict[str, str], args: argparse.Namespace) -> int:
    """Download exactly the release whose ETag was read (If-Match), from this account only."""
    body = client("s3", facts).get_object(
        Bucket=facts["CAMCLOUD_BUCKET"],
        Key=RELEASE_KEY,
        IfMatch=f'"{args.etag}"',
        ExpectedBucketOwner=facts["CAMCLOUD_ACCOUNT"],
    )["Body"]
    with open(args.dest, "wb") as out:
        for chunk in iter(lambda: body.read(1 << 20), b""):
            out.write(chunk)
    return 0


def secret(facts: dict[str, str], args: argparse.Namespace) -> int:
    """Write the gallery's session key (made once per stack) for the gallery user alone."""
    value = ensure_parameter(
        client("ssm", facts),
        parameter_name(facts, "gallery-secret"),
        lambda: os.urandom(32).hex(),
        secure=True,
    )
    write_private(Path(args.out), f"CAMCLOUD_SECRET_KEY={value}\n", "root", args.group, 0o440)
    return 0


def settings(facts: dict[str, str], args: argparse.Namespace) -> int:
    """Write the owner's CAMCLOUD_* settings from Parameter Store (absent: none)."""
    text = get_parameter(client("ssm", facts), parameter_name(facts, "settings")) or ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    bad = [line for line in lines if not line.startswith("#") and not SETTING_LINE.match(line)]
    if bad:
        print(
            f"hostctl: ignoring settings that are not CAMCLOUD_NAME=value: {bad}", file=sys.stderr
        )
    kept = [line for line in lines if SETTING_LINE.match(line)]
    header = f"# From SSM {parameter_name(facts, 'settings')}; edit it there, not here.\n"
    write_private(
        Path(args.out), header + "".join(f"{line}\n" for line in kept), "root", args.group, 0o440
    )
    return 0


def _openssl(*arguments: str, stdin: str | None = None) -> str:
    return subprocess.run(
        ["openssl", *arguments], input=stdin, capture_output=True, text=True, check=True
    ).stdout


def tls(facts: dict[str, str], args: argparse.Namespace) -> int:
    """Make sure this host has a server certificate from the stack's authority for its IPs."""
    ssm = client("ssm", facts)
    directory = Path(args.dir)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    ca_key = ensure_parameter(
        ssm,
        parameter_name(facts, "tls/ca-key"),
        lambda: _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"),
        secure=True,
    )
    key_file = directory / "ca.key"
    write_private(key_file, ca_key)

    def make_ca_cert() -> str:
        return _openssl(
            "req",
            "-x509",
            "-new",
            "-key",
            str(key_file),
            "-sha256",
            "-days",
            "3650",
            "-subj",
            f"/CN=camcloud {facts['CAMCLOUD_STACK']} CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE,pathlen:0",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        )

    ca_cert = ensure_parameter(ssm, parameter_name(facts, "tls/ca-cert"), make_ca_cert, False)
    (directory / "ca.pem").write_text(ca_cert)
    ips = [ip for ip in args.ips.split(",") if ip]
    # The names nginx's site expects in any certificate directory (as Let's Encrypt's).
    server_cert = directory / "fullchain.pem"
    server_key = directory / "privkey.pem"
    if not _server_cert_current(server_cert, directory / "ca.pem", ips):
        # EC P-256 (the ESP32's mbedTLS verifies it fast); the IP is both an IP SAN (browsers)
        # and the CN (mbedTLS 2.x on the camera matches the host name against the CN).
        new_key = _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
        write_private(server_key, new_key)
        names = ",".join(f"IP:{ip}" for ip in ips)
        request = _openssl(
            "req", "-new", "-key", str(server_key), "-subj", f"/CN={ips[0] if ips else 'camcloud'}"
        )
        extensions = directory / "server.ext"
        extensions.write_text(
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
            "extendedKeyUsage=serverAuth\n" + (f"subjectAltName={names}\n" if names else "")
        )
        certificate = _openssl(
            "x509",
            "-req",
            "-CA",
            str(directory / "ca.pem"),
            "-CAkey",
            str(key_file),
            "-CAcreateserial",
            "-days",
            "397",
            "-sha256",
            "-extfile",
            str(extensions),
            stdin=request,
        )
        server_cert.write_text(certificate + ca_cert)
        print(f"hostctl: new server certificate for {names or 'no address'}")
    key_file.unlink()
    fingerprint = _openssl(
        "x509", "-noout", "-fingerprint", "-sha256", "-in", str(directory / "ca.pem")
    ).strip()
    print(f"hostctl: TLS authority {fingerprint}")
    return 0


def _server_cert_current(certificate: Path, ca: Path, ips: list[str]) -> bool:
    """Whether the certificate exists, comes from this CA, names these IPs, has 30+ days."""
    if not certificate.exists() or not (certificate.parent / "privkey.pem").exists():
        return False
    check = subprocess.run(
        ["openssl", "verify", "-CAfile", str(ca), str(certificate)], capture_output=True
    )
    if check.returncode != 0:
        return False
    expiring = subprocess.run(
        ["openssl", "x509", "-checkend", str(30 * 86400), "-noout", "-in", str(certificate)],
        capture_output=True,
    )
    text = _openssl("x509", "-noout", "-ext", "subjectAltName", "-in", str(certificate))
    named = set(re.findall(r"IP Address:([0-9a-fA-F.:]+)", text))
    return expiring.returncode == 0 and named == set(ips)


def credentials(facts: dict[str, str], args: argparse.Namespace) -> int:
    """Refresh each service's role credentials into a file only that service's user can read.

    The services cannot reach the instance metadata endpoint (IPAddressDeny in their units):
    these files are the only AWS credentials they have, each for its own role.
    """
    sts = client("sts", facts)
    directory = Path(args.dir)
    directory.mkdir(mode=0o755, parents=True, exist_ok=True)
    for user, role in (
        ("camcloud-ingest", facts["CAMCLOUD_INGEST_ROLE_ARN"]),
        ("camcloud-gallery", facts["CAMCLOUD_GALLERY_ROLE_ARN"]),
    ):
        issued = sts.assume_role(RoleArn=role, RoleSessionName=user, DurationSeconds=3600)
        found = issued["Credentials"]
        expiration = found["Expiration"]
        if isinstance(expiration, dt.datetime):
            expiration = expiration.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        document = {
            "Version": 1,
            "AccessKeyId": found["AccessKeyId"],
            "SecretAccessKey": found["SecretAccessKey"],
            "SessionToken": found["SessionToken"],
            "Expiration": expiration,
        }
        write_private(directory / f"{user}.json", json.dumps(document), user, user, 0o400)
    return 0


def _instance_id(args: argparse.Namespace) -> str:
    if getattr(args, "instance_id", None):
        return str(args.instance_id)
    # Set only where there is no instance metadata (the host test's container).
    return os.environ.get("CAMCLOUD_INSTANCE_ID") or _metadata("meta-data/instance-id")


def _metadata(path: str) -> str:
    token_request = urllib.request.Request(
        f"{METADATA}/api/token",
        method="PUT",
        headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"},
    )
    with urllib.request.urlopen(token_request, timeout=2) as answer:
        token = answer.read().decode()
    request = urllib.request.Request(
        f"{METADATA}/{path}", headers={"X-aws-ec2-metadata-token": token}
    )
    with urllib.request.urlopen(request, timeout=2) as answer:
        return str(answer.read().decode())


def signal(facts: dict[str, str], args: argparse.Namespace) -> int:
    """Tell CloudFormation this host is ready (or failed) for its creation or rolling update."""
    client("cloudformation", facts).signal_resource(
        StackName=facts["CAMCLOUD_STACK_ID"] or facts["CAMCLOUD_STACK"],
        LogicalResourceId=facts["CAMCLOUD_SIGNAL_RESOURCE"],
        UniqueId=_instance_id(args),
        Status=args.status,
    )
    print(f"hostctl: signalled {args.status} to {facts['CAMCLOUD_SIGNAL_RESOURCE']}")
    return 0


def metric(facts: dict[str, str], args: argparse.Namespace) -> int:
    """Publish one host metric (UpdateFailed 1 or 0): the stack's alarm watches it."""
    client("cloudwatch", facts).put_metric_data(
        Namespace="camcloud/host",
        MetricData=[
            {
                "MetricName": args.name,
                "Dimensions": [{"Name": "Stack", "Value": facts["CAMCLOUD_STACK"]}],
                "Value": float(args.value),
                "Unit": "Count",
            }
        ],
    )
    return 0


def state_put(facts: dict[str, str], args: argparse.Namespace) -> int:
    """Keep a host file in the bucket's state/ prefix (the Let's Encrypt archive)."""
    client("s3", facts).upload_file(
        args.file,
        facts["CAMCLOUD_BUCKET"],
        f"state/{args.name}",
        ExtraArgs={"ExpectedBucketOwner": facts["CAMCLOUD_ACCOUNT"]},
    )
    return 0


def state_get(facts: dict[str, str], args: argparse.Namespace) -> int:
    """Fetch a kept host file from state/; exit 1 when there is none yet."""
    try:
        client("s3", facts).download_file(
            facts["CAMCLOUD_BUCKET"],
            f"state/{args.name}",
            args.file,
            ExtraArgs={"ExpectedBucketOwner": facts["CAMCLOUD_ACCOUNT"]},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] in {"404", "NoSuchKey", "403"}:
            return 1
        raise
    return 0


def spare_volumes(facts: dict[str, str], _: argparse.Namespace) -> int:
    """Print the ids of this stack's detached data volumes (left by replaced hosts)."""
    pages = (
        client("ec2", facts)
        .get_paginator("describe_volumes")
        .paginate(
            Filters=[
                {"Name": "tag:camcloud-stack", "Values": [facts["CAMCLOUD_STACK"]]},
                {"Name": "status", "Values": ["available"]},
            ]
        )
    )
    for page in pages:
        for volume in page["Volumes"]:
            print(volume["VolumeId"])
    return 0


def volume(facts: dict[str, str], args: argparse.Namespace) -> int:
    """attach (to this host, as /dev/sdg), detach or delete one of this stack's volumes."""
    ec2 = client("ec2", facts)
    if args.action == "attach":
        ec2.attach_volume(VolumeId=args.volume, InstanceId=_instance_id(args), Device="/dev/sdg")
        ec2.get_waiter("volume_in_use").wait(VolumeIds=[args.volume])
    elif args.action == "detach":
        ec2.detach_volume(VolumeId=args.volume)
        ec2.get_waiter("volume_available").wait(VolumeIds=[args.volume])
    else:
        ec2.delete_volume(VolumeId=args.volume)
    return 0


def lifecycle_watch(facts: dict[str, str], args: argparse.Namespace) -> int:
    """Wait for the group to terminate this host, stop the ingest (it drains), then let go."""
    while True:
        try:
            state = _metadata("meta-data/autoscaling/target-lifecycle-state")
        except OSError:
            state = ""
        if state == "Terminated":
            break
        time.sleep(args.interval)
    print("hostctl: terminating: stopping the ingest so its spool drains to S3", flush=True)
    # The unit's ExecStopPost drains the spool (bounded) when this flag or a shutdown says the
    # host is going away; what is left stays on the data volume for the next host to drain.
    Path("/run/camcloud-terminating").touch()
    subprocess.run(["systemctl", "stop", "camcloud-ingest.service"], check=False)
    client("autoscaling", facts).complete_lifecycle_action(
        LifecycleHookName=facts["CAMCLOUD_LIFECYCLE_HOOK"],
        AutoScalingGroupName=facts["CAMCLOUD_AUTOSCALING_GROUP"],
        LifecycleActionResult="CONTINUE",
        InstanceId=_instance_id(args),
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run one chore; exits non-zero with the AWS error when it fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("release-etag").set_defaults(run=release_etag)
    fetch = commands.add_parser("fetch-release")
    fetch.add_argument("etag")
    fetch.add_argument("dest")
    fetch.set_defaults(run=fetch_release)
    for name, run in (("secret", secret), ("settings", settings)):
        command = commands.add_parser(name)
        command.add_argument("out")
        command.add_argument("--group", required=True)
        command.set_defaults(run=run)
    certificate = commands.add_parser("tls")
    certificate.add_argument("dir")
    certificate.add_argument("--ips", default="")
    certificate.set_defaults(run=tls)
    refresh = commands.add_parser("credentials")
    refresh.add_argument("dir")
    refresh.set_defaults(run=credentials)
    ready = commands.add_parser("signal")
    ready.add_argument("status", choices=["SUCCESS", "FAILURE"])
    ready.add_argument("--instance-id")
    ready.set_defaults(run=signal)
    gauge = commands.add_parser("metric")
    gauge.add_argument("name")
    gauge.add_argument("value", type=float)
    gauge.set_defaults(run=metric)
    for name, run in (("state-put", state_put), ("state-get", state_get)):
        command = commands.add_parser(name)
        command.add_argument("name")
        command.add_argument("file")
        command.set_defaults(run=run)
    commands.add_parser("spare-volumes").set_defaults(run=spare_volumes)
    disk = commands.add_parser("volume")
    disk.add_argument("action", choices=["attach", "detach", "delete"])
    disk.add_argument("volume")
    disk.add_argument("--instance-id")
    disk.set_defaults(run=volume)
    watch = commands.add_parser("lifecycle-watch")
    watch.add_argument("--interval", type=float, default=5.0)
    watch.add_argument("--instance-id")
    watch.set_defaults(run=lifecycle_watch)
    args = parser.parse_args(argv)
    try:
        return int(args.run(stack_facts(), args))
    except Exception as error:  # noqa: BLE001 - any failure: one line, exit 1
        # One line for the journal; the caller decides what a failure means.
        print(f"hostctl {args.command}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
