"""What every command needs: the settings (or the running local stack's), registry, users."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from camcloud.devices import DeviceError, DeviceRegistry
from camcloud.layout import LayoutError
from camcloud.s3 import make_client
from camcloud.settings import Settings, SettingsError
from camcloud.users import UserError, UserStore

LOCAL_INFO = Path(".camcloud") / "local.json"
_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "camcloud-local",
    "AWS_SECRET_ACCESS_KEY": "camcloud-local",
}


def use_fake_credentials() -> None:
    """moto accepts any credentials; make sure boto3 finds some (and never real ones)."""
    for name, value in _FAKE_CREDENTIALS.items():
        os.environ[name] = value
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)


def local_info(path: Path = LOCAL_INFO) -> dict[str, Any] | None:
    """The facts the running local stack wrote (``.camcloud/local.json``), or None."""
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


NOT_RUNNING = "the local stack is not running: start it with make run"


def camcloud_command() -> str:
    """How to run ``camcloud`` from here: on PATH, else this venv's script (relative if inside)."""
    script = Path(sys.executable).parent / "camcloud"
    if shutil.which("camcloud") == str(script):
        return "camcloud"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)


def local_stack_running(info: dict[str, Any], timeout: float = 1.0) -> bool:
    """Whether the local stack that wrote ``info`` still answers on its S3 port."""
    address = urlsplit(str(info.get("s3_endpoint", "")))
    if not address.hostname or not address.port:
        return False
    try:
        with socket.create_connection((address.hostname, address.port), timeout=timeout):
            return True
    except OSError:
        return False


def require_local_stack(info: dict[str, Any]) -> None:
    """One line instead of a botocore traceback when local.json outlived its stack."""
    if not local_stack_running(info):
        raise click.ClickException(f"{NOT_RUNNING} ({LOCAL_INFO} is from a stopped stack)")


def load_settings() -> Settings:
    """Settings from ``CAMCLOUD_*``; without a bucket, the running local stack's."""
    if not os.environ.get("CAMCLOUD_BUCKET"):
        info = local_info()
        if info is not None:
            require_local_stack(info)
            use_fake_credentials()
            click.echo(f"(using the local stack at {info['s3_endpoint']})", err=True)
            return Settings.from_env(
                {
                    "CAMCLOUD_BUCKET": info["bucket"],
                    "CAMCLOUD_REGION": info["region"],
                    "CAMCLOUD_S3_ENDPOINT": info["s3_endpoint"],
                }
            )
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(
            f"{exc}\n(set CAMCLOUD_BUCKET to your bucket, or start the local stack with "
            "`camcloud local`)"
        ) from None


def open_bucket() -> tuple[Settings, Any]:
    """The configured settings and an S3 client for them."""
    settings = load_settings()
    return settings, make_client(settings)


def open_registry() -> DeviceRegistry:
    """The device registry of the configured bucket."""
    settings, client = open_bucket()
    return DeviceRegistry(lambda: client, settings.bucket)


def open_users() -> UserStore:
    """The gallery users of the configured bucket."""
    settings, client = open_bucket()
    return UserStore(lambda: client, settings.bucket)


@contextlib.contextmanager
def refused_as_errors() -> Iterator[None]:
    """Turn a refused registry or user operation into a one-line CLI error."""
    try:
        yield
    except (DeviceError, UserError, LayoutError) as exc:
        raise click.ClickException(str(exc)) from None
