"""Gallery users: ``users/{name}.json`` with a salted scrypt hash of the password."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from camcloud import layout
from camcloud.s3 import get_json, iter_keys, put_json

# scrypt cost: ~50 ms per check on a small instance; slows password guessing, not logins.
_N, _R, _P = 2**14, 8, 1
MIN_PASSWORD_LENGTH = 8


class UserError(ValueError):
    """A user operation was refused (unknown user, weak password, …)."""


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """The stored form of ``password``: ``scrypt$n$r$p$salt$hash``."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    encode = base64.urlsafe_b64encode
    return f"scrypt${_N}${_R}${_P}${encode(salt).decode()}${encode(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches the stored hash (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.urlsafe_b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.urlsafe_b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


class UserStore:
    """Gallery users kept in the bucket, so the gallery needs no database."""

    def __init__(self, client_factory: Callable[[], Any], bucket: str) -> None:
        self._client = client_factory
        self._bucket = bucket
        # A hash to check against when the user does not exist, so that unknown and known
        # names take the same time to refuse.
        self._decoy = hash_password(secrets.token_urlsafe(16))

    def add(self, name: str, password: str, *, replace: bool = False) -> None:
        """Create user ``name`` (or, with ``replace``, set a new password)."""
        layout.check_user_name(name)
        if len(password) < MIN_PASSWORD_LENGTH:
            raise UserError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
        record = {
            "schema": 1,
            "name": name,
            "password_hash": hash_password(password),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        written = put_json(
            self._client(), self._bucket, layout.user_key(name), record, if_absent=not replace
        )
        if not written:
            raise UserError(f"user {name!r} exists already; use --replace to set a new password")

    def remove(self, name: str) -> None:
        """Delete user ``name``."""
        if self._get(name) is None:
            raise UserError(f"no user {name!r}")
        self._client().delete_object(Bucket=self._bucket, Key=layout.user_key(name))

    def list(self) -> list[str]:
        """Every user name, sorted."""
        names = []
        for key in iter_keys(self._client(), self._bucket, layout.USERS_PREFIX):
            if key.endswith(".json"):
                names.append(key[len(layout.USERS_PREFIX) : -len(".json")])
        return sorted(names)

    def verify(self, name: str, password: str) -> bool:
        """Whether ``name`` exists and ``password`` is theirs."""
        try:
            record = self._get(name)
        except layout.LayoutError:
            record = None
        if record is None:
            check_password(password, self._decoy)
            return False
        return check_password(password, str(record.get("password_hash", "")))

    def _get(self, name: str) -> dict[str, Any] | None:
        document = get_json(self._client(), self._bucket, layout.user_key(name))
        return document if isinstance(document, dict) else None
