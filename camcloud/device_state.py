"""A camera's desired state and what it reported back (protocol v1.1). Service: no Flask.

The state lives in four extra top-level fields of ``devices/{device}.json`` beside the
registry's own fields, which every function here preserves:

- ``config``: the desired settings (``camcloud.device_config``), with their version;
- ``applied``: the config version the camera last reported (``X-Config-Version``) and when;
- ``commands``: capture-now commands, pending and the most recent done ones;
- ``firmware``: what the camera runs (``X-Firmware``), the update offered to it, and results.

The ingest reads the record it already has, calls ``record_report`` and writes only when it
says something changed, so an upload costs no extra S3 write; writes go through
``update_state``, a conditional (``If-Match``) read-modify-write that loses no concurrent change.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from camcloud import layout
from camcloud.device_config import VERSION_MAX, DeviceConfig, apply_changes
from camcloud.errors import Refusal
from camcloud.s3 import error_code, is_missing

# A command id goes into a comma-separated header: short, lower-case letters and digits.
COMMAND_ID_RE = re.compile(r"[a-z0-9]{1,16}")
FIRMWARE_VERSION_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+_-]{0,31}")
MAX_PENDING = 8  # capture-now requests waiting for a camera; more is a stuck button
MAX_DONE = 20  # done commands kept so the page can link "done" to its capture
MAX_DONE_ITEMS = 16  # ids read from one X-Commands-Done header
MAX_REASON = 64
MAX_FAILURE_VERSIONS = 8
STATE_FIELDS = ("config", "applied", "commands", "firmware")
_CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}
_UNPRINTABLE = re.compile(r"[^ -~]")


def _stamp(now: datetime) -> str:
    return now.isoformat(timespec="seconds")


def _text(value: Any, pattern: re.Pattern[str]) -> str | None:
    return value if isinstance(value, str) and pattern.fullmatch(value) else None


@dataclass(frozen=True)
class Command:
    """One command for a camera; ``done_at`` and ``capture_id`` are set when it reports it."""

    id: str
    type: str
    queued_at: str
    done_at: str | None = None
    capture_id: str | None = None

    @property
    def pending(self) -> bool:
        """Whether the camera has not reported this command done yet."""
        return self.done_at is None

    def to_json(self) -> dict[str, Any]:
        """The command as stored."""
        return {"id": self.id, "type": self.type, "queued_at": self.queued_at,
                "done_at": self.done_at, "capture_id": self.capture_id}

    @classmethod
    def from_json(cls, document: Any) -> Command | None:
        """A stored command, or None if it is not one."""
        if not isinstance(document, Mapping):
            return None
        command_id = _text(document.get("id"), COMMAND_ID_RE)
        if command_id is None or document.get("type") != "capture":
            return None
        queued_at = document.get("queued_at")
        done_at = document.get("done_at")
        return cls(
            id=command_id,
            type="capture",
            queued_at=queued_at if isinstance(queued_at, str) else "",
            done_at=done_at if isinstance(done_at, str) else None,
            capture_id=_text(document.get("capture_id"), layout.CAPTURE_ID_RE),
        )


@dataclass(frozen=True)
class Applied:
    """The config version the camera last said it applied (None: it never said)."""

    config_version: int | None = None
    at: str | None = None

    def to_json(self) -> dict[str, Any]:
        """As stored."""
        return {"config_version": self.config_version, "at": self.at}

    @classmethod
    def from_json(cls, document: Any) -> Applied:
        """A stored ``applied``, leniently."""
        if not isinstance(document, Mapping):
            return cls()
        version = _config_version(document.get("config_version"))
        at = document.get("at")
        return cls(config_version=version, at=at if isinstance(at, str) else None)


@dataclass(frozen=True)
class FirmwareState:
    """What one camera runs and how the update offered to it went.

    ``version`` is the update last offered; ``delivered_at`` is set when an answer first
    carried that offer and cleared by the camera's result, so a result repeated on a retry is
    counted once. ``result`` is ``ok``, ``failed`` or ``rolled_back``; ``failures`` counts
    failed attempts per version (three stop the offer).
    """

    running: str | None = None
    version: str | None = None
    delivered_at: str | None = None
    result: str | None = None
    reason: str | None = None
    result_at: str | None = None
    failures: Mapping[str, int] = field(default_factory=dict)

    def failures_of(self, version: str) -> int:
        """Failed update attempts of ``version`` on this camera."""
        return int(self.failures.get(version, 0))

    def to_json(self) -> dict[str, Any]:
        """As stored."""
        return {"running": self.running, "version": self.version,
                "delivered_at": self.delivered_at, "result": self.result,
                "reason": self.reason, "result_at": self.result_at,
                "failures": dict(self.failures)}

    @classmethod
    def from_json(cls, document: Any) -> FirmwareState:
        """A stored ``firmware``, leniently."""
        if not isinstance(document, Mapping):
            return cls()

        def text(name: str) -> str | None:
            value = document.get(name)
            return value if isinstance(value, str) else None

        failures = document.get("failures")
        return cls(
            running=_text(document.get("running"), FIRMWARE_VERSION_RE),
            version=_text(document.get("version"), FIRMWARE_VERSION_RE),
            delivered_at=text("delivered_at"),
            result=text("result"),
            reason=text("reason"),
            result_at=text("result_at"),
            failures={
                str(k): v for k, v in (failures.items() if isinstance(failures, Mapping) else ())
                if isinstance(v, int) and not isinstance(v, bool) and v > 0
            },
        )


@dataclass(frozen=True)
class DeviceState:
    """The management state of one camera (kept out of DeviceRecord until phase 2)."""

    config: DeviceConfig = DeviceConfig()
    applied: Applied = Applied()
    commands: tuple[Command, ...] = ()
    firmware: FirmwareState = FirmwareState()

    @property
    def pending(self) -> list[Command]:
        """Commands the camera has not reported done, oldest first."""
        return [command for command in self.commands if command.pending]

    @property
    def config_drift(self) -> bool:
        """Whether a config was set that the camera has not reported applying yet."""
        return self.config.version > 0 and self.applied.config_version != self.config.version

    def to_fields(self) -> dict[str, Any]:
        """The four top-level fields of ``devices/{device}.json``."""
        return {
            "config": self.config.to_json(),
            "applied": self.applied.to_json(),
            "commands": [command.to_json() for command in self.commands],
            "firmware": self.firmware.to_json(),
        }


def load_state(record: Any) -> DeviceState:
    """The state held in a device record (defaults for a record that has none)."""
    if not isinstance(record, Mapping):
        return DeviceState()
    raw_commands = record.get("commands")
    commands = [
        command
        for command in (
            Command.from_json(item) for item in (raw_commands if isinstance(raw_commands, list)
                                                 else [])
        )
        if command is not None
    ]
    return DeviceState(
        config=DeviceConfig.from_json(record.get("config")),
        applied=Applied.from_json(record.get("applied")),
        commands=tuple(commands),
        firmware=FirmwareState.from_json(record.get("firmware")),
    )


def merge_state(record: Mapping[str, Any], state: DeviceState) -> dict[str, Any]:
    """``record`` with its state fields replaced by ``state``; every other field kept."""
    return {**record, **state.to_fields()}


def desired_state(record: Any, *, firmware_offer: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``state`` object of an upload answer or ``GET /device/state`` for this record.

    ``firmware_offer`` is ``firmware_release.offer_json(...)`` or None.
    """
    state = load_state(record)
    return {
        "config": state.config.to_json(),
        "commands": [{"id": command.id, "type": command.type} for command in state.pending],
        "firmware": dict(firmware_offer) if firmware_offer is not None else None,
    }


def new_command_id() -> str:
    """A fresh random command id (40 bits: unique among a device's few commands)."""
    return secrets.token_hex(5)


def queue_capture(
    state: DeviceState, *, now: datetime, new_id: Callable[[], str] = new_command_id
) -> tuple[DeviceState, Command]:
    """``state`` with a capture-now command queued, and the command.

    Raises Refusal(409, ``too_many_commands``) when ``MAX_PENDING`` are already waiting.
    """
    if len(state.pending) >= MAX_PENDING:
        raise Refusal(
            409,
            "too_many_commands",
            f"{MAX_PENDING} captures are already waiting for the camera; it takes them at its "
            "next check-in",
        )
    taken = {command.id for command in state.commands}
    command_id = new_id()
    while command_id in taken or not COMMAND_ID_RE.fullmatch(command_id):
        command_id = new_command_id()
    command = Command(id=command_id, type="capture", queued_at=_stamp(now))
    return replace(state, commands=(*state.commands, command)), command


def _config_version(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if not (value.isascii() and value.isdigit() and len(value) <= 10):
            return None
        value = int(value)
    return value if isinstance(value, int) and 0 <= value <= VERSION_MAX else None


def parse_commands_done(value: str) -> dict[str, str | None]:
    """``X-Commands-Done`` as {command id: capture id or None}; malformed items are skipped.

    The header is comma-separated items ``<command id>`` or ``<command id>=<capture id>``.
    """
    done: dict[str, str | None] = {}
    for item in value.split(",")[:MAX_DONE_ITEMS]:
        command_id, _, capture_id = item.strip().partition("=")
        if not COMMAND_ID_RE.fullmatch(command_id):
            continue
        done[command_id] = capture_id if layout.CAPTURE_ID_RE.fullmatch(capture_id) else None
    return done


def parse_ota_result(value: str) -> tuple[str, str | None] | None:
    """``X-Ota-Result`` as (``ok``, None) or (``failed``, reason); None if it is neither."""
    text = value.strip()
    if text.lower() == "ok":
        return "ok", None
    head, colon, reason = text.partition(":")
    if head.lower() != "failed" or not colon:
        return None
    reason = _UNPRINTABLE.sub("", reason).strip()[:MAX_REASON]
    return "failed", reason or "unspecified"


def _header(headers: Any, name: str) -> str | None:
    value = headers.get(name) if hasattr(headers, "get") else None
    if value is None and isinstance(headers, Mapping):
        # A plain dict is case-sensitive; Flask's headers are not.
        wanted = name.lower()
        value = next((v for k, v in headers.items() if str(k).lower() == wanted), None)
    return value if isinstance(value, str) else None


def _with_failure(firmware: FirmwareState, version: str) -> Mapping[str, int]:
    failures = dict(firmware.failures)
    failures[version] = failures.get(version, 0) + 1
    # Keep the newest few versions' counts: a camera's record must not grow without bound.
    while len(failures) > MAX_FAILURE_VERSIONS:
        failures.pop(next(iter(failures)))
    return failures


def _report_firmware(
    firmware: FirmwareState, running: str | None, ota: tuple[str, str | None] | None, now: str
) -> FirmwareState:
    previous_running = firmware.running
    if running is not None:
        firmware = replace(firmware, running=running)
    version = firmware.version
    if version is None:
        return firmware
    awaiting = firmware.delivered_at is not None
    if running == version and (awaiting or firmware.result != "ok"):
        # The new image booted and got a request through: whatever the header says, it is ok.
        return replace(firmware, delivered_at=None, result="ok", reason=None, result_at=now)
    if awaiting and ota is not None and ota[0] == "failed":
        return replace(firmware, delivered_at=None, result="failed", reason=ota[1],
                       result_at=now, failures=_with_failure(firmware, version))
    if (
        firmware.result == "ok"
        and running is not None
        and previous_running == version
        and running != version
    ):
        # It ran the new image and came back on another: the bootloader rolled it back.
        return replace(firmware, result="rolled_back", reason=f"came back on {running}",
                       result_at=now, failures=_with_failure(firmware, version))
    return firmware


def record_report(
    state: DeviceState, headers: Any, *, now: datetime
) -> tuple[DeviceState, bool]:
    """Apply what a camera reported in its request headers; (new state, whether it changed).

    Reads ``X-Config-Version``, ``X-Commands-Done``, ``X-Ota-Result`` and ``X-Firmware``.
    Missing or malformed values are ignored: a camera never gets an error for them. When the
    state did not change, the caller skips the S3 write.
    """
    stamp = _stamp(now)
    updated = state

    version_header = _header(headers, "X-Config-Version")
    version = _config_version(version_header) if version_header is not None else None
    if version is not None and version != state.applied.config_version:
        updated = replace(updated, applied=Applied(config_version=version, at=stamp))

    done_header = _header(headers, "X-Commands-Done")
    if done_header:
        done = parse_commands_done(done_header)
        commands = tuple(
            replace(command, done_at=stamp, capture_id=done[command.id])
            if command.pending and command.id in done
            else command
            for command in updated.commands
        )
        if commands != updated.commands:
            updated = replace(updated, commands=_trim_done(commands))

    running = _text((_header(headers, "X-Firmware") or "").strip(), FIRMWARE_VERSION_RE)
    ota_header = _header(headers, "X-Ota-Result")
    ota = parse_ota_result(ota_header) if ota_header else None
    firmware = _report_firmware(updated.firmware, running, ota, stamp)
    if firmware != updated.firmware:
        updated = replace(updated, firmware=firmware)
    return updated, updated != state


def _trim_done(commands: tuple[Command, ...]) -> tuple[Command, ...]:
    done = [command for command in commands if not command.pending]
    drop = {command.id for command in done[: max(0, len(done) - MAX_DONE)]}
    return tuple(command for command in commands if command.id not in drop)


def record_offer(state: DeviceState, version: str, *, now: datetime) -> tuple[DeviceState, bool]:
    """Note that an answer carried the offer of ``version``; (new state, whether it changed).

    Changes only at the first answer of an attempt, so a camera that checks in often costs
    one write per attempt, not one per answer.
    """
    firmware = state.firmware
    if firmware.version == version and firmware.delivered_at is not None:
        return state, False
    firmware = replace(firmware, version=version, delivered_at=_stamp(now))
    if state.firmware.version != version:
        firmware = replace(firmware, result=None, reason=None, result_at=None)
    return replace(state, firmware=firmware), True


# The S3 side: a conditional read-modify-write of devices/{device}.json.


def read_json_with_etag(client: Any, bucket: str, key: str) -> tuple[Any, str | None]:
    """The JSON document at ``key`` and its ETag, or (None, None) if it does not exist."""
    try:
        response = client.get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if is_missing(exc):
            return None, None
        raise
    return json.loads(response["Body"].read()), str(response["ETag"])


def write_json_if_match(client: Any, bucket: str, key: str, document: Any, etag: str) -> bool:
    """Write ``document`` only if ``key`` still has ``etag``; False if someone wrote first."""
    body = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    try:
        client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json",
                          IfMatch=etag)
    except ClientError as exc:
        if error_code(exc) in _CONFLICT_CODES:
            return False
        raise
    return True


def update_json(
    client: Any,
    bucket: str,
    key: str,
    change: Callable[[Any], tuple[Any, bool]],
    *,
    attempts: int = 8,
) -> tuple[Any, bool]:
    """Read ``key``, ``change`` it, write it back only if changed and only if nobody wrote since.

    ``change(document)`` returns (new document, changed); it is called again on a fresh read
    when a concurrent writer won. Returns the final document and whether this call wrote it.
    A missing key is passed as None and must be refused by ``change`` (it is never created).
    """
    for _ in range(attempts):
        document, etag = read_json_with_etag(client, bucket, key)
        updated, changed = change(document)
        if not changed:
            return updated, False
        if etag is None:
            raise Refusal(404, "not_found", f"{key} does not exist")
        if write_json_if_match(client, bucket, key, updated, etag):
            return updated, True
    raise Refusal(503, "busy", f"{key} kept changing under us; try again",
                  {"Retry-After": "1"})


def _require(record: Any, device: str) -> Mapping[str, Any]:
    if not isinstance(record, Mapping):
        raise Refusal(404, "unknown_device", f"no device {device!r}")
    return record


def update_state(
    client: Any,
    bucket: str,
    device: str,
    change: Callable[[DeviceState], tuple[DeviceState, bool]],
) -> tuple[DeviceState, bool]:
    """Apply ``change`` to ``device``'s state in S3 (conditional write, retried on a race).

    Raises Refusal(404, ``unknown_device``) when the device is not registered.
    """
    key = layout.device_key(layout.check_device_id(device))

    def on_record(record: Any) -> tuple[Any, bool]:
        record = _require(record, device)
        state, changed = change(load_state(record))
        return merge_state(record, state), changed

    record, changed = update_json(client, bucket, key, on_record)
    return load_state(record), changed


def read_state(client: Any, bucket: str, device: str) -> DeviceState:
    """``device``'s state from S3; Refusal(404, ``unknown_device``) if it is not registered."""
    key = layout.device_key(layout.check_device_id(device))
    record, _ = read_json_with_etag(client, bucket, key)
    return load_state(_require(record, device))


def set_config(client: Any, bucket: str, device: str, **changes: Any) -> DeviceConfig:
    """Validate ``changes`` and store them as ``device``'s desired config (version bumped)."""
    apply_changes(DeviceConfig(), **changes)  # refuse bad input before any S3 call

    def change(state: DeviceState) -> tuple[DeviceState, bool]:
        config = apply_changes(state.config, **changes)
        return replace(state, config=config), config != state.config

    state, _ = update_state(client, bucket, device, change)
    return state.config


def request_capture(
    client: Any, bucket: str, device: str, *, now: datetime,
    new_id: Callable[[], str] = new_command_id,
) -> Command:
    """Queue a capture-now for ``device``; the camera takes it at its next check-in."""
    queued: list[Command] = []

    def change(state: DeviceState) -> tuple[DeviceState, bool]:
        updated, command = queue_capture(state, now=now, new_id=new_id)
        queued[:] = [command]
        return updated, True

    update_state(client, bucket, device, change)
    return queued[0]


def report(
    client: Any, bucket: str, device: str, headers: Any, *, now: datetime,
    known: Any = None,
) -> tuple[DeviceState, bool]:
    """Record a camera's report-back headers; writes S3 only when something changed.

    ``known`` is the record the caller already holds (the ingest's cached one): when the
    headers change nothing against it, no S3 call is made at all.
    """
    if known is not None:
        _, changed = record_report(load_state(known), headers, now=now)
        if not changed:
            return load_state(known), False
    return update_state(
        client, bucket, device, lambda state: record_report(state, headers, now=now)
    )
