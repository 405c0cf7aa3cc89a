"""Gallery users: ``users/{name}.json`` with a password hash and a session version.

Passwords are hashed with ``werkzeug.security`` (scrypt). Records written by earlier versions
hold a hash of the form ``scrypt$n$r$p$salt$hash``: they are still accepted, and rewritten in
werkzeug's form at the user's next login.

Every session carries the session version its user had when it started; a session whose version
no longer matches is dead. The version changes when the password is replaced, when the user logs
out, and on ``logout_all`` (a lost phone); removing the user kills every session too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from werkzeug.security import check_password_hash, generate_password_hash

from camcloud import layout
from camcloud.bounded import BoundedDict
from camcloud.s3 import delete_keys, get_json, iter_keys, put_json

MIN_PASSWORD_LENGTH = 8
# How long a process trusts the session version it last read. A gallery page costs one S3 call,
# so the check cannot read the record on every view; a removed user or a replaced password stops
# working on every page within this many seconds, and at once for anything that changes data.
SESSION_CHECK_SECONDS = 15.0
_LEGACY_PREFIX = "scrypt$"
_VERSIONS_CACHED = 10_000


class UserError(ValueError):
    """A user operation was refused (unknown user, weak password, …)."""


def _check_legacy(password: str, stored: str) -> bool:
    """Whether ``password`` matches a hash of the first format, ``scrypt$n$r$p$salt$hash``."""
    try:
        _, n, r, p, salt, digest = stored.split("$")
        expected = base64.urlsafe_b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(), salt=base64.urlsafe_b64decode(salt),
            n=int(n), r=int(r), p=int(p), dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def hash_password(password: str) -> str:
    """The stored form of ``password`` (werkzeug's salted scrypt)."""
    return generate_password_hash(password)


def check_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches the stored hash (werkzeug's form or the first one)."""
    if stored.startswith(_LEGACY_PREFIX):
        return _check_legacy(password, stored)
    try:
        return check_password_hash(stored, password)
    except (ValueError, TypeError):
        return False


class UserStore:
    """Gallery users kept in the bucket, so the gallery needs no database."""

    def __init__(
        self,
        client_factory: Callable[[], Any],
        bucket: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        check_seconds: float = SESSION_CHECK_SECONDS,
    ) -> None:
        self._client = client_factory
        self._bucket = bucket
        self._clock = clock
        self._check_seconds = check_seconds
        # name -> (session version, or None for no such user; when it was read)
        self._versions: BoundedDict[str, tuple[int | None, float]] = BoundedDict(
            _VERSIONS_CACHED
        )
        # A hash to check against when the user does not exist, so that unknown and known
        # names take the same time to refuse. Made at the first login, not here: a scrypt
        # (0.15 s of CPU) per store made the local stack's start and every command slower.
        self._decoy: str | None = None

    def add(self, name: str, password: str, *, replace: bool = False) -> None:
        """Create user ``name`` (or, with ``replace``, set a new password: sessions end)."""
        layout.check_user_name(name)
        if len(password) < MIN_PASSWORD_LENGTH:
            raise UserError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
        version = self._next_version(self._get(name) if replace else None)
        record = {
            "schema": 1,
            "name": name,
            "password_hash": hash_password(password),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "session_version": version,
        }
        written = put_json(
            self._client(), self._bucket, layout.user_key(name), record, if_absent=not replace
        )
        if not written:
            raise UserError(f"user {name!r} exists already; use --replace to set a new password")
        self._remember(name, version)

    def remove(self, name: str) -> None:
        """Delete user ``name`` (every session of theirs ends)."""
        if self._get(name) is None:
            raise UserError(f"no user {name!r}")
        delete_keys(self._client(), self._bucket, [layout.user_key(name)])
        self._remember(name, None)

    def list(self) -> list[str]:
        """Every user name, sorted."""
        names = []
        for key in iter_keys(self._client(), self._bucket, layout.USERS_PREFIX):
            if key.endswith(".json"):
                names.append(key[len(layout.USERS_PREFIX) : -len(".json")])
        return sorted(names)

    def logout_all(self, name: str) -> None:
        """End every session of user ``name`` (a lost phone, a shared computer)."""
        record = self._get(name)
        if record is None:
            raise UserError(f"no user {name!r}")
        version = self._next_version(record)
        record["session_version"] = version
        put_json(self._client(), self._bucket, layout.user_key(name), record)
        self._remember(name, version)

    def login(self, name: str, password: str) -> int | None:
        """The session version to start a session with, or None if the password is wrong.

        A hash of the first format is rewritten in werkzeug's form on success.
        """
        if self._decoy is None:
            # Before the name is looked up: the first login pays for it whatever the name.
            self._decoy = hash_password(secrets.token_urlsafe(16))
        try:
            record = self._get(name)
        except layout.LayoutError:
            record = None
        if record is None:
            check_password(password, self._decoy)
            return None
        stored = str(record.get("password_hash", ""))
        if not check_password(password, stored):
            return None
        if stored.startswith(_LEGACY_PREFIX):
            # A password replaced from the command line during this one check would be undone
            # here; that window is one login long and happens once per user.
            record["password_hash"] = hash_password(password)
            put_json(self._client(), self._bucket, layout.user_key(name), record)
        version = _version_of(record)
        self._remember(name, version)
        return version

    def verify(self, name: str, password: str) -> bool:
        """Whether ``name`` exists and ``password`` is theirs."""
        return self.login(name, password) is not None

    def session_alive(self, name: str, version: Any, *, fresh: bool = False) -> bool:
        """Whether a session of ``name`` started at ``version`` still counts.

        The version read last is trusted for ``check_seconds``; ``fresh`` reads it again.
        """
        cached = self._versions.get(name)
        now = self._clock()
        if fresh or cached is None or now - cached[1] >= self._check_seconds:
            try:
                record = self._get(name)
            except layout.LayoutError:
                return False
            current = None if record is None else _version_of(record)
            self._versions.put(name, (current, now))
        else:
            current = cached[0]
        return current is not None and isinstance(version, int) and version == current

    def _remember(self, name: str, version: int | None) -> None:
        self._versions.put(name, (version, self._clock()))

    def _next_version(self, previous: dict[str, Any] | None) -> int:
        # Wall-clock milliseconds, and always more than before: a user removed and added again
        # must not bring the sessions of the removed one back to life.
        now_ms = time.time_ns() // 1_000_000
        return now_ms if previous is None else max(_version_of(previous) + 1, now_ms)

    def _get(self, name: str) -> dict[str, Any] | None:
        document = get_json(self._client(), self._bucket, layout.user_key(name))
        return document if isinstance(document, dict) else None


def _version_of(record: dict[str, Any]) -> int:
    """A record's session version (records of earlier versions have none: 0)."""
    version = record.get("session_version", 0)
    return version if isinstance(version, int) and not isinstance(version, bool) else 0
