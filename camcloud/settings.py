"""camcloud's settings: one typed object read once from ``CAMCLOUD_*`` environment variables."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

PREFIX = "CAMCLOUD_"


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected one of on/off, true/false, yes/no, 1/0")


def _positive_int(text: str) -> int:
    value = int(text.strip())
    if value <= 0:
        raise ValueError("expected a whole number greater than 0")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text.strip())
    if value < 0:
        raise ValueError("expected a whole number, 0 or more")
    return value


def _positive_float(text: str) -> float:
    value = float(text.strip())
    if not value > 0 or value == float("inf"):
        raise ValueError("expected a number greater than 0")
    return value


def _text(text: str) -> str:
    value = text.strip()
    if not value:
        raise ValueError("must not be empty")
    return value


def _log_level(text: str) -> str:
    value = text.strip().upper()
    if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
    return value


def _cookie_secure(text: str) -> str:
    value = text.strip().lower()
    if value == "auto":
        return value
    return "on" if _bool(value) else "off"


def _timezone(text: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    value = text.strip()
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("expected an IANA time zone such as UTC or Europe/Berlin") from None
    return value


def _setting(parse: Callable[[str], Any], default: Any = None, *, required: bool = False) -> Any:
    return field(default=default, metadata={"parse": parse, "required": required})


@dataclass(frozen=True)
class Settings:
    """Everything configurable, validated at start. Field ``x`` is read from ``CAMCLOUD_X``."""

    bucket: str = _setting(_text, required=True)
    region: str = _setting(_text, "us-east-1")
    s3_endpoint: str | None = _setting(_text)
    max_upload_bytes: int = _setting(_positive_int, 8 * 1024 * 1024)
    rate_per_minute: float = _setting(_positive_float, 60.0)
    rate_burst: int = _setting(_positive_int, 10)
    presign_ttl: int = _setting(_positive_int, 900)
    key_cache_seconds: float = _setting(_positive_float, 30.0)
    # Ingest: device ids whose record (or absence) is cached, least recently used dropped.
    key_cache_entries: int = _setting(_positive_int, 10_000)
    # Ingest: failed authentications allowed per client address before it gets 429s.
    auth_failures_per_minute: float = _setting(_positive_float, 30.0)
    auth_failure_burst: int = _setting(_positive_int, 20)
    # Ingest: originals PUT by ingest/s3put.py's signer (off: plain boto3; bench/ingest.py).
    s3_fast_put: bool = _setting(_bool, True)
    spool_dir: str = _setting(_text, "/var/lib/camcloud/spool")
    spool_max_bytes: int = _setting(_positive_int, 1024 * 1024 * 1024)
    secret_key: str | None = _setting(_text)
    gallery_login: bool = _setting(_bool, True)
    gallery_page_size: int = _setting(_positive_int, 60)
    # Gallery: "auto" marks the session cookie Secure whenever the request came over HTTPS.
    gallery_cookie_secure: str = _setting(_cookie_secure, "auto")
    gallery_login_per_minute: float = _setting(_positive_float, 6.0)
    gallery_login_burst: int = _setting(_positive_int, 5)
    gallery_timezone: str = _setting(_timezone, "UTC")
    # Gallery: proxies in front of it whose X-Forwarded-For/-Proto are trusted; unset: none,
    # except for gallery.wsgi (gunicorn behind the deploy's nginx), which trusts one.
    gallery_proxy_hops: int | None = _setting(_non_negative_int)
    # Gallery: accept logins over plain HTTP from other machines (loopback always may).
    allow_http_login: bool = _setting(_bool, False)
    # Gallery: days a deleted capture can be restored (bucket versioning); 0: not said.
    undelete_days: int = _setting(_non_negative_int, 0)
    log_level: str = _setting(_log_level, "INFO")
    # Alerts: the Fernet key the target URLs are encrypted with (camcloud.notify.new_key()),
    # or the name of the SSM SecureString parameter that holds it; never stored in the bucket.
    alerts_key: str | None = _setting(_text)
    alerts_key_parameter: str | None = _setting(_text)
    # Gallery: the time-lapse Lambda that builds custom ranges (template.yaml sets it on the
    # host); unset: they are built in the gallery's own process (gallery.jobs.default_runner).
    timelapse_function: str | None = _setting(_text)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read settings from ``environ`` (default ``os.environ``); raise SettingsError if bad."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec in fields(cls):
            variable = PREFIX + spec.name.upper()
            if spec.name in overrides:
                values[spec.name] = overrides[spec.name]
                continue
            raw = env.get(variable)
            if raw is None or raw == "":
                if spec.metadata["required"]:
                    raise SettingsError(variable, "is required but not set")
                continue
            try:
                values[spec.name] = spec.metadata["parse"](raw)
            except ValueError as exc:
                raise SettingsError(variable, f"invalid value {raw!r} ({exc})") from None
        if "region" not in values and "region" not in overrides:
            region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
            if region:
                values["region"] = region
        return cls(**values)

    def with_changes(self, **changes: Any) -> Settings:
        """A copy with some fields changed (tests, the local stack)."""
        return replace(self, **changes)

    def as_env(self) -> dict[str, str]:
        """The ``CAMCLOUD_*`` variables that reproduce these settings."""
        env: dict[str, str] = {}
        for spec in fields(self):
            value = getattr(self, spec.name)
            if value is None:
                continue
            if isinstance(value, bool):
                value = "on" if value else "off"
            env[PREFIX + spec.name.upper()] = str(value)
        return env
