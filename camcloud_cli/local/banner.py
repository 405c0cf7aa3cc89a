"""What ``camcloud local`` prints at start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from camcloud_cli.config import camcloud_command
from camcloud_cli.local.seed import DEMO_DEVICE


def banner(info: dict[str, Any], workdir: Path) -> str:
    """The stack's URLs, login, demo key and a curl command that uploads a JPEG."""
    key = info["devices"][DEMO_DEVICE]
    return "\n".join(
        [
            "camcloud local stack is running (Ctrl-C stops it)",
            "",
            f"  gallery   {info['gallery_url']}",
            f"  login     {info['gallery_user']} / {info['gallery_password']}",
            f"  upload    {info['upload_url']}",
            f"  device    {DEMO_DEVICE}  key {key}",
            f"  s3        {info['s3_endpoint']}  bucket {info['bucket']}",
            "",
            "  upload a JPEG:",
            f"    curl -sS -H 'Authorization: Bearer {key}' -H 'Content-Type: image/jpeg' \\",
            f"         --data-binary @photo.jpg {info['upload_url']}",
            "  or simulate a camera:",
            f"    {camcloud_command()} simulate --count 20",
            "",
            f"  these facts are also in {workdir / 'local.json'}",
        ]
    )
