"""The device's desired ``state`` in every answer (protocol v1.1), without Flask.

``DesiredState.answer`` records what the camera reported back (``X-Config-Version``,
``X-Commands-Done``, ``X-Ota-Result``, ``X-Firmware``) and returns the ``state`` object through
``firmware_release.state_for_answer``. It writes S3 only when the report changed something
(compared against the record the ingest already holds), reads the current firmware release at
most every ``release_seconds``, and never raises: with S3 unreachable the state is built from
the cached record, with no firmware offer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from camcloud import device_state, firmware_release
from camcloud.device_state import DeviceState
from camcloud.devices import DeviceRecord, DeviceRegistry
from camcloud.firmware_release import Release
from camcloud.status import StatusRecorder
from ingest.health import S3Health
from ingest.logs import event

# How long a worker reuses the current release (3 GETs to load): a new publish or a halt
# reaches cameras within this.
RELEASE_SECONDS = 30.0
# A failed release read is retried after this, not on every request (S3 may be down).
RELEASE_RETRY_SECONDS = 5.0


class ReleaseCache:
    """``firmware_release.load_release`` for the current release, kept ``seconds`` per worker."""

    def __init__(self, client: Callable[[], Any], bucket: str, *,
                 clock: Callable[[], float] = time.monotonic,
                 seconds: float = RELEASE_SECONDS) -> None:
        self._client = client
        self._bucket = bucket
        self._clock = clock
        self._seconds = seconds
        self._lock = threading.Lock()
        self._value: Release | None = None
        self._until: float | None = None

    def get(self) -> Release | None:
        """The current release (None: none published, or S3 could not be read)."""
        now = self._clock()
        with self._lock:
            if self._until is not None and now < self._until:
                return self._value
        try:
            value = firmware_release.load_release(self._client(), self._bucket)
            seconds = self._seconds
        except (BotoCoreError, ClientError) as exc:
            event("release_read_failed", logging.WARNING, error=str(exc)[:200])
            with self._lock:
                value = self._value
            seconds = min(self._seconds, RELEASE_RETRY_SECONDS)
        with self._lock:
            self._value, self._until = value, now + seconds
        return value


def ota_result(before: DeviceState, after: DeviceState) -> str | None:
    """The update result a report just settled (``ok``, ``failed:<reason>``), else None."""
    firmware = after.firmware
    if firmware.result_at is None or firmware.result_at == before.firmware.result_at:
        return None
    if firmware.result == "ok":
        return "ok"
    if firmware.result == "failed":
        return f"failed:{firmware.reason or 'unknown'}"
    if firmware.result == "rolled_back":
        return f"failed:rolled back ({firmware.reason or 'unknown'})"
    return None


class DesiredState:
    """Builds the answers' ``state`` and notes check-ins and update results for the alerts."""

    def __init__(self, client: Callable[[], Any], bucket: str, registry: DeviceRegistry,
                 health: S3Health, status: StatusRecorder, *, presign_ttl: int,
                 now: Callable[[], datetime], releases: ReleaseCache) -> None:
        self._client = client
        self._bucket = bucket
        self._registry = registry
        self._health = health
        self._status = status
        self._ttl = presign_ttl
        self._now = now
        self._releases = releases

    def answer(self, record: DeviceRecord, headers: Any) -> dict[str, Any] | None:
        """The ``state`` for ``record``'s camera after recording its report; None if unknown."""
        document = record.to_json()
        try:
            return self._answer(record.device, document, headers)
        except Exception:  # noqa: BLE001 - a state problem must never cost an upload
            event("state_failed", logging.ERROR, device=record.device, exc_info=True)
            try:
                return device_state.desired_state(document, firmware_offer=None)
            except Exception:  # noqa: BLE001 - a record too broken to read: state null
                return None

    def _answer(self, device: str, document: Mapping[str, Any],
                headers: Any) -> dict[str, Any]:
        now = self._now()
        before = device_state.load_state(document)
        if self._health.open:
            # S3 is failing (the upload is being spooled): answer from the record we hold,
            # offer nothing, record nothing; the camera reports again on its next request.
            return device_state.desired_state(document, firmware_offer=None)
        after, reported = device_state.record_report(before, headers, now=now)
        state = firmware_release.state_for_answer(
            self._client(), self._bucket, device, headers, record=document, now=now,
            ttl=self._ttl, release=self._releases.get(),
        )
        offer = state.get("firmware")
        offered = isinstance(offer, Mapping) and device_state.record_offer(
            after, str(offer.get("version")), now=now)[1]
        if reported or offered:
            # The record in S3 changed: the next request must not compare against the old one.
            self._registry.forget(device)
        result = ota_result(before, after) if reported else None
        if result is not None:
            self._status.note_ota(device, at=now.timestamp(), result=result,
                                  version=after.firmware.version)
        return state
