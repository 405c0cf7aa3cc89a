"""What a fresh local stack holds: a demo camera with its key and a gallery login."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from camcloud.devices import DeviceRegistry
from camcloud.users import UserStore

DEMO_DEVICE = "demo-cam"
DEMO_USER = "admin"


@dataclass(frozen=True)
class Seed:
    """The demo camera's key and the gallery login's password (both shown in the banner)."""

    device_key: str
    password: str


def seed(s3: Any, bucket: str) -> Seed:
    """Register the demo camera and create the gallery login, with fresh secrets."""
    _, device_key = DeviceRegistry(lambda: s3, bucket).add(DEMO_DEVICE, name="Demo camera")
    password = secrets.token_urlsafe(12)
    UserStore(lambda: s3, bucket).add(DEMO_USER, password)
    return Seed(device_key=device_key, password=password)
