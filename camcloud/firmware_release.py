"""Signed firmware releases and their staged rollout (protocol v1.1). Service: no Flask.

What is signed (the camera checks exactly this, see ``docs/device-management.md``): Ed25519
over the ASCII bytes of ::

    camcloud-fw-v1\\n{version}\\n{size}\\n{sha256}\\n{force}\\n

``size`` in decimal bytes, ``sha256`` the image's digest in lower-case hex, ``force`` ``1`` when
the owner allows installing it over a newer version, else ``0``. The message is short, so a
small Ed25519 implementation verifies it without the image in memory; the image is then
streamed, hashed and counted, and must match ``size`` and ``sha256``. Binding the version and
the force flag means nobody who can write the bucket can relabel an old signed image as new.

The private key stays in the owner's file (PEM PKCS#8, mode 0600); the bucket holds the image,
``manifest.json``, and ``rollout.json`` with the public key, under ``firmware/{version}/``, and
``firmware/current.json`` naming the release cameras are offered.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from camcloud import layout
from camcloud.device_state import (
    DeviceState,
    desired_state,
    load_state,
    record_offer,
    report,
    update_json,
    update_state,
)
from camcloud.errors import Refusal
from camcloud.s3 import checksum_sha256, get_json, iter_keys, put_json

log = logging.getLogger("camcloud.firmware")

FIRMWARE_PREFIX = "firmware/"
CURRENT_KEY = "firmware/current.json"
SIGNED_MAGIC = "camcloud-fw-v1"
MAX_FAILURES = 3  # failed attempts of one version on one camera stop its offer
MAX_IMAGE_BYTES = 16 * 1024 * 1024  # the largest ESP32 flash; an OTA slot is smaller still
ESP_IMAGE_MAGIC = 0xE9  # first byte of every ESP-IDF app image (firmware.bin, not .elf)
# An admitted camera that has not reported within this time stops holding the wave back
# (it may be asleep for a week); it still gets the offer when it wakes.
STALL_AFTER = timedelta(hours=24)

VERSION_RE = re.compile(
    r"(?P<core>[0-9]{1,9}(?:\.[0-9]{1,9}){0,3})(?:-(?P<pre>[0-9A-Za-z.-]{1,16}))?"
    r"(?:\+[0-9A-Za-z.-]{1,16})?"
)
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX128 = re.compile(r"[0-9a-f]{128}")


def _stamp(now: datetime) -> str:
    return now.isoformat(timespec="seconds")


# Versions.


def check_version(version: str) -> str:
    """``version`` if it is a firmware version (``1.2.3``, ``1.2.3-rc1``); else raise Refusal."""
    if not isinstance(version, str) or len(version) > 32 or not VERSION_RE.fullmatch(version):
        raise Refusal(400, "bad_version",
                      f"firmware version {version!r}: use numbers like 1.2.3 (optionally -rc1)")
    return version


def version_key(version: str) -> tuple[tuple[int, ...], int, str] | None:
    """A sort key: numeric parts (missing ones are 0), then a release above its pre-releases.

    Build metadata after ``+`` is ignored. None when ``version`` does not parse.
    """
    match = VERSION_RE.fullmatch(version) if isinstance(version, str) else None
    if match is None:
        return None
    core = [int(part) for part in match["core"].split(".")]
    core += [0] * (4 - len(core))
    pre = match["pre"]
    return tuple(core), 0 if pre else 1, pre or ""


def is_newer(candidate: str, running: str) -> bool:
    """Whether ``candidate`` is later than ``running`` (False if either does not parse)."""
    new, old = version_key(candidate), version_key(running)
    return new is not None and old is not None and new > old


# Keys and signatures.


def public_key_c_array(public_key: bytes) -> str:
    """The 32-byte public key as the macro the firmware's ``config.h`` takes."""
    rows = [
        ", ".join(f"0x{byte:02x}" for byte in public_key[start:start + 8])
        for start in range(0, len(public_key), 8)
    ]
    body = ", \\\n    ".join(rows)
    return (
        "// Ed25519 public key for signed firmware updates (camcloud firmware keygen)\n"
        f"#define CAMCLOUD_OTA_PUBLIC_KEY {{ \\\n    {body} }}\n"
    )


def public_key_bytes(private_key: Ed25519PrivateKey) -> bytes:
    """The raw 32-byte public key of ``private_key``."""
    return private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def keygen(path: Path) -> bytes:
    """Write a new Ed25519 private key to ``path`` (PEM, mode 0600); return its public key.

    Refuses to overwrite a key: cameras trust only the public key they were built with.
    """
    private_key = Ed25519PrivateKey.generate()
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        # O_EXCL: never replace a key; 0o600 from the first byte on, not chmod afterwards.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise Refusal(409, "key_exists",
                      f"{path} exists; cameras trust the key they were built with, so it is "
                      "never overwritten (move it away to make a new one)") from None
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return public_key_bytes(private_key)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in ``path``; Refusal(400, ``bad_key``) if it is not one."""
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise Refusal(400, "bad_key", f"cannot read a private key from {path}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise Refusal(400, "bad_key", f"{path} is not an Ed25519 key (make one with keygen)")
    return key


def signed_message(version: str, size: int, sha256: str, force: bool) -> bytes:
    """The exact bytes the signature covers (see the module docstring)."""
    return f"{SIGNED_MAGIC}\n{version}\n{size}\n{sha256}\n{1 if force else 0}\n".encode("ascii")


def sign(
    image: bytes, private_key: Ed25519PrivateKey, *, version: str, force: bool = False
) -> str:
    """The hex Ed25519 signature of ``image`` released as ``version``."""
    message = signed_message(check_version(version), len(image),
                             hashlib.sha256(image).hexdigest(), force)
    return private_key.sign(message).hex()


def verify_manifest(manifest: Mapping[str, Any], public_key_hex: str) -> bool:
    """Whether ``manifest``'s signature verifies against the public key (hex); never raises."""
    try:
        version = check_version(manifest["version"])
        size, sha256, signature = manifest["size"], manifest["sha256"], manifest["signature"]
        force = manifest.get("force", False)
        if isinstance(size, bool) or not isinstance(size, int) or not isinstance(force, bool):
            return False
        if not (_HEX64.fullmatch(sha256) and _HEX128.fullmatch(signature)):
            return False
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))
        key.verify(bytes.fromhex(signature), signed_message(version, size, sha256, force))
    except (InvalidSignature, KeyError, TypeError, ValueError, Refusal):
        return False
    return True


# Releases in S3.


def release_prefix(version: str) -> str:
    """``firmware/{version}/``."""
    return f"{FIRMWARE_PREFIX}{check_version(version)}/"


@dataclass(frozen=True)
class Rollout:
    """Who is offered a release, and how far it got.

    Targets ``devices`` (a list) or ``percent`` of all cameras (a stable hash of version and
    device id, so widening keeps the cameras already in). ``admitted`` cameras have been
    offered it; ``confirmed`` came back on it; a failure or a rollback sets ``halted``.
    """

    version: str
    public_key: str
    devices: tuple[str, ...] | None = None
    percent: int | None = 100
    force: bool = False
    created_at: str = ""
    halted: Mapping[str, str] | None = None
    admitted: Mapping[str, str] | None = None
    confirmed: Mapping[str, str] | None = None
    failed: Mapping[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        """As stored in ``rollout.json``."""
        return {
            "version": self.version, "public_key": self.public_key,
            "devices": list(self.devices) if self.devices is not None else None,
            "percent": self.percent, "force": self.force, "created_at": self.created_at,
            "halted": dict(self.halted) if self.halted else None,
            "admitted": dict(self.admitted or {}), "confirmed": dict(self.confirmed or {}),
            "failed": dict(self.failed or {}),
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Rollout:
        """Parse a stored rollout; raises KeyError/TypeError/ValueError if it is broken."""
        devices = document.get("devices")
        percent = document.get("percent")
        if devices is not None and not isinstance(devices, list):
            raise ValueError("rollout devices must be a list")

        def mapping(name: str) -> dict[str, str]:
            value = document.get(name) or {}
            return {str(k): str(v) for k, v in dict(value).items()}

        return cls(
            version=check_version(document["version"]),
            public_key=str(document["public_key"]),
            devices=tuple(str(d) for d in devices) if devices is not None else None,
            percent=int(percent) if percent is not None else None,
            force=bool(document.get("force", False)),
            created_at=str(document.get("created_at", "")),
            halted=mapping("halted") or None,
            admitted=mapping("admitted"),
            confirmed=mapping("confirmed"),
            failed=mapping("failed"),
        )


@dataclass(frozen=True)
class Release:
    """A published image: its manifest and its rollout."""

    manifest: Mapping[str, Any]
    rollout: Rollout

    @property
    def version(self) -> str:
        """The release's version."""
        return self.rollout.version

    @property
    def image_key(self) -> str:
        """Where the signed image is."""
        return release_prefix(self.version) + "firmware.bin"


def _check_targets(devices: Iterable[str] | None, percent: int | None) -> tuple[
    tuple[str, ...] | None, int | None
]:
    if devices is not None and percent is not None:
        raise Refusal(400, "bad_rollout", "give --devices or --percent, not both")
    if devices is not None:
        try:
            listed = tuple(dict.fromkeys(layout.check_device_id(d.strip()) for d in devices))
        except (layout.LayoutError, AttributeError) as exc:
            raise Refusal(400, "bad_device", str(exc)) from None
        if not listed:
            raise Refusal(400, "bad_rollout", "--devices names no device")
        return listed, None
    if percent is None:
        return None, 100
    if isinstance(percent, bool) or not isinstance(percent, int) or not 1 <= percent <= 100:
        raise Refusal(400, "bad_rollout", f"--percent must be from 1 to 100, not {percent!r}")
    return None, percent


def publish(
    client: Any,
    bucket: str,
    image_path: Path,
    version: str,
    private_key: Ed25519PrivateKey,
    *,
    now: datetime,
    devices: Iterable[str] | None = None,
    percent: int | None = None,
    force: bool = False,
) -> Release:
    """Sign ``image_path`` as ``version``, upload it with its manifest and rollout, offer it.

    Publishing the same image again changes its targeting and resumes a halted rollout;
    another image under a published version is refused (cameras may be downloading it).
    """
    check_version(version)
    listed, share = _check_targets(devices, percent)
    try:
        image = Path(image_path).read_bytes()
    except OSError as exc:
        raise Refusal(400, "bad_image", f"cannot read {image_path}: {exc.strerror}") from None
    if not image or len(image) > MAX_IMAGE_BYTES:
        raise Refusal(400, "bad_image",
                      f"{image_path} has {len(image)} bytes; an image has 1 to {MAX_IMAGE_BYTES}")
    if image[0] != ESP_IMAGE_MAGIC:
        raise Refusal(400, "bad_image",
                      f"{image_path} is not an ESP32 app image (it must start with 0xE9): publish "
                      "the build's firmware.bin, not firmware.elf")
    sha256 = hashlib.sha256(image).hexdigest()
    prefix = release_prefix(version)
    existing = get_json(client, bucket, prefix + "manifest.json")
    if existing is not None and existing.get("sha256") != sha256:
        raise Refusal(409, "version_exists",
                      f"firmware {version} was published with another image; use a new version")
    public_key = public_key_bytes(private_key).hex()
    manifest = {
        "version": version, "size": len(image), "sha256": sha256,
        "signature": sign(image, private_key, version=version, force=force),
        "published_at": _stamp(now), "force": force,
    }
    client.put_object(Bucket=bucket, Key=prefix + "firmware.bin", Body=image,
                      ContentType="application/octet-stream",
                      ChecksumSHA256=checksum_sha256(sha256))
    put_json(client, bucket, prefix + "manifest.json", manifest)
    previous = get_json(client, bucket, prefix + "rollout.json")
    history = Rollout.from_json(previous) if isinstance(previous, Mapping) else None
    rollout = Rollout(
        version=version, public_key=public_key, devices=listed, percent=share, force=force,
        created_at=history.created_at if history else _stamp(now), halted=None,
        admitted=history.admitted if history else {},
        confirmed=history.confirmed if history else {},
        failed=history.failed if history else {},
    )
    put_json(client, bucket, prefix + "rollout.json", rollout.to_json())
    # Last: the pointer never names a release whose files are not all there.
    put_json(client, bucket, CURRENT_KEY, {"version": version})
    return Release(manifest=manifest, rollout=rollout)


def load_release(client: Any, bucket: str, version: str | None = None) -> Release | None:
    """The release ``version`` (default: the one ``firmware/current.json`` names), or None.

    A release whose files are missing or broken is None: nothing is offered from it.
    """
    if version is None:
        current = get_json(client, bucket, CURRENT_KEY)
        version = current.get("version") if isinstance(current, Mapping) else None
        if not isinstance(version, str):
            return None
    prefix = release_prefix(version)
    manifest = get_json(client, bucket, prefix + "manifest.json")
    rollout = get_json(client, bucket, prefix + "rollout.json")
    if not isinstance(manifest, Mapping) or not isinstance(rollout, Mapping):
        return None
    try:
        return Release(manifest=dict(manifest), rollout=Rollout.from_json(rollout))
    except (KeyError, TypeError, ValueError, Refusal):
        log.error("firmware %s: rollout.json is broken; nothing is offered from it", version)
        return None


# Deciding an offer (pure).


def hash_percent(version: str, device: str) -> float:
    """Where ``device`` falls (0 <= x < 100) in ``version``'s percentage rollout; stable."""
    digest = hashlib.sha256(f"{version}/{device}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10_000 / 100


def is_targeted(device: str, rollout: Rollout) -> bool:
    """Whether the rollout includes ``device`` (its list, or its hash below the percentage)."""
    if rollout.devices is not None:
        return device in rollout.devices
    return rollout.percent is not None and hash_percent(rollout.version, device) < rollout.percent


def in_flight(rollout: Rollout, now: datetime) -> int:
    """Cameras admitted in the last ``STALL_AFTER`` that have neither confirmed nor failed."""
    done = set(rollout.confirmed or {}) | set(rollout.failed or {})
    count = 0
    for device, admitted_at in (rollout.admitted or {}).items():
        try:
            stalled = now - datetime.fromisoformat(admitted_at) > STALL_AFTER
        except (TypeError, ValueError):
            stalled = True
        if device not in done and not stalled:
            count += 1
    return count


def wave_size(rollout: Rollout) -> int:
    """How many cameras may be updating at once: one, then as many as have confirmed."""
    return max(1, len(rollout.confirmed or {}))


@dataclass(frozen=True)
class Decision:
    """Whether a camera is offered a release: ``offer`` or the ``reason`` it is not.

    ``admit`` says the camera joins the rollout with this offer (the rollout must record it).
    """

    offer: bool
    reason: str
    admit: bool = False


def offer_for(
    device: str, state: DeviceState, rollout: Rollout, manifest: Mapping[str, Any],
    *, now: datetime,
) -> Decision:
    """Decide whether ``device`` is offered the release now; every rule of the issue, in order."""
    version = rollout.version
    if rollout.halted:
        return Decision(False, "halted")
    if not is_targeted(device, rollout):
        return Decision(False, "not_targeted")
    if manifest.get("version") != version or bool(manifest.get("force", False)) != rollout.force:
        return Decision(False, "bad_manifest")
    if not verify_manifest(manifest, rollout.public_key):
        return Decision(False, "bad_signature")
    running = state.firmware.running
    if running == version:
        return Decision(False, "up_to_date")
    if running is None and not rollout.force:
        # A camera that never said what it runs may not speak v1.1 at all.
        return Decision(False, "unknown_version")
    if running is not None and not rollout.force and not is_newer(version, running):
        return Decision(False, "not_newer")
    if state.firmware.failures_of(version) >= MAX_FAILURES:
        return Decision(False, "too_many_failures")
    if device in (rollout.admitted or {}):
        return Decision(True, "offered")
    if in_flight(rollout, now) >= wave_size(rollout):
        return Decision(False, "waiting")
    return Decision(True, "offered", admit=True)


def offer_json(
    client: Any, bucket: str, release: Release, ttl: int
) -> dict[str, Any]:
    """The ``firmware`` object of the state: the manifest's fields and a presigned URL."""
    manifest = release.manifest
    return {
        "version": release.version,
        # Presigning is local (no S3 call); the URL dies after ttl seconds.
        "url": str(client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": release.image_key}, ExpiresIn=ttl
        )),
        "size": manifest["size"],
        "sha256": manifest["sha256"],
        "signature": manifest["signature"],
        "force": bool(manifest.get("force", False)),
    }


def admit(rollout: Rollout, device: str, *, now: datetime) -> tuple[Rollout, bool]:
    """``rollout`` with ``device`` admitted, if the wave still has room; (rollout, changed)."""
    if device in (rollout.admitted or {}):
        return rollout, False
    if rollout.halted or in_flight(rollout, now) >= wave_size(rollout):
        return rollout, False
    return replace(rollout, admitted={**(rollout.admitted or {}), device: _stamp(now)}), True


def observe(
    rollout: Rollout, device: str, before: DeviceState, after: DeviceState, *, now: datetime
) -> tuple[Rollout, bool]:
    """Fold a camera's new update result into the rollout: confirm it, or halt (with an alarm).

    Only a result that changed from ``before`` to ``after`` counts, so an old failure never
    halts a rollout the owner resumed.
    """
    firmware = after.firmware
    if firmware.version != rollout.version or device not in (rollout.admitted or {}):
        return rollout, False
    stamp = _stamp(now)
    if firmware.result == "ok" and firmware.running == rollout.version:
        if device in (rollout.confirmed or {}):
            return rollout, False
        failed = {k: v for k, v in (rollout.failed or {}).items() if k != device}
        return replace(rollout, confirmed={**(rollout.confirmed or {}), device: stamp},
                       failed=failed), True
    new_result = (firmware.result, firmware.result_at) != (
        before.firmware.result, before.firmware.result_at
    )
    if new_result and firmware.result in ("failed", "rolled_back"):
        reason = f"{firmware.result}: {firmware.reason or 'no reason given'}"
        if not rollout.halted:
            # The alarm: one ERROR line with a stable text for log alerts (alerts: phase 2).
            log.error("firmware rollout %s HALTED: %s %s", rollout.version, device, reason)
        halted = rollout.halted or {"at": stamp, "device": device, "reason": reason}
        confirmed = {k: v for k, v in (rollout.confirmed or {}).items() if k != device}
        return replace(rollout, halted=halted, confirmed=confirmed,
                       failed={**(rollout.failed or {}), device: reason}), True
    return rollout, False


def _rollout_key(version: str) -> str:
    return release_prefix(version) + "rollout.json"


def _update_rollout(client: Any, bucket: str, version: str, change: Any) -> tuple[Rollout, bool]:
    def on_document(document: Any) -> tuple[Any, bool]:
        if not isinstance(document, Mapping):
            raise Refusal(404, "unknown_release", f"no firmware release {version}")
        rollout, changed = change(Rollout.from_json(document))
        return rollout.to_json(), changed

    document, changed = update_json(client, bucket, _rollout_key(version), on_document)
    return Rollout.from_json(document), changed


def offer_device(
    client: Any, bucket: str, device: str, state: DeviceState, *,
    now: datetime, ttl: int, release: Release | None,
) -> dict[str, Any] | None:
    """The firmware offer for ``device``'s answer (None for none), admitting it if it is new.

    ``release`` is ``load_release(...)``, which the ingest may cache for a few seconds.
    """
    if release is None:
        return None
    decision = offer_for(device, state, release.rollout, release.manifest, now=now)
    if not decision.offer:
        return None
    if decision.admit:
        rollout, admitted = _update_rollout(
            client, bucket, release.version, lambda r: admit(r, device, now=now)
        )
        if not admitted and device not in (rollout.admitted or {}):
            return None  # another worker filled the wave first
    return offer_json(client, bucket, release, ttl)


def observe_report(
    client: Any, bucket: str, device: str, before: DeviceState, after: DeviceState, *,
    now: datetime, release: Release | None,
) -> Rollout | None:
    """After a report changed a camera's firmware state: confirm or halt the rollout in S3."""
    if release is None:
        return None
    # Decide on a fresh read, never on ``release.rollout``: the ingest caches the release for
    # seconds, and a camera admitted after that read would look unknown and never confirm.
    # Only a changed firmware state gets here, so this read is rare.
    rollout, _ = _update_rollout(
        client, bucket, release.version, lambda r: observe(r, device, before, after, now=now)
    )
    return rollout


def resume(client: Any, bucket: str, version: str) -> Rollout:
    """Resume a halted rollout: its failed cameras may try again (three attempts in all)."""
    return _update_rollout(
        client, bucket, version,
        lambda r: (replace(r, halted=None, failed={}), bool(r.halted or r.failed)),
    )[0]


# Status.


@dataclass(frozen=True)
class DeviceStatus:
    """Where one camera stands in a rollout."""

    device: str
    running: str | None
    status: str
    failures: int
    reason: str | None = None


def device_status(
    device: str, state: DeviceState, release: Release, *, now: datetime
) -> DeviceStatus:
    """One camera's status: ``ok``, ``failed``, ``rolled_back``, ``downloading``, ``offered``,
    ``waiting``, ``up_to_date``, ``not_targeted`` (or why it is not offered)."""
    firmware = state.firmware
    version = release.version
    failures = firmware.failures_of(version)
    if firmware.version == version:
        if firmware.delivered_at is not None:
            return DeviceStatus(device, firmware.running, "downloading", failures)
        if firmware.result in ("ok", "failed", "rolled_back"):
            return DeviceStatus(device, firmware.running, firmware.result, failures,
                                firmware.reason)
    decision = offer_for(device, state, release.rollout, release.manifest, now=now)
    status = "offered" if decision.offer else decision.reason
    return DeviceStatus(device, firmware.running, status, failures)


def status(
    client: Any, bucket: str, version: str | None = None, *, now: datetime
) -> tuple[Release | None, list[DeviceStatus]]:
    """The release (default: current) and every registered camera's status in its rollout."""
    release = load_release(client, bucket, version)
    if release is None:
        return None, []
    rows = []
    for key in iter_keys(client, bucket, layout.DEVICES_PREFIX):
        record = get_json(client, bucket, key) if key.endswith(".json") else None
        if not isinstance(record, Mapping) or not isinstance(record.get("device"), str):
            continue
        rows.append(device_status(record["device"], load_state(record), release, now=now))
    return release, sorted(rows, key=lambda row: row.device)


# The one call of the ingest (phase 2): report-back, rollout bookkeeping, the answer's state.


def state_for_answer(
    client: Any, bucket: str, device: str, headers: Any, *,
    record: Mapping[str, Any], now: datetime, ttl: int, release: Release | None,
) -> dict[str, Any]:
    """The ``state`` of an upload answer or check-in, after recording what the camera reported.

    ``record`` is the device record the ingest already holds; ``release`` is the (cached)
    ``load_release``. S3 is written only when something changed: a report, a rollout
    confirmation or halt, or the first answer of an update attempt.
    """
    try:
        before = load_state(record)
        after, changed = report(client, bucket, device, headers, now=now, known=record)
        if changed and release is not None and after.firmware != before.firmware:
            rollout = observe_report(client, bucket, device, before, after, now=now,
                                     release=release)
            if rollout is not None:
                release = replace(release, rollout=rollout)
        offer = offer_device(client, bucket, device, after, now=now, ttl=ttl, release=release)
        if offer is not None and record_offer(after, offer["version"], now=now)[1]:
            after, _ = update_state(
                client, bucket, device,
                lambda state: record_offer(state, offer["version"], now=now),
            )
        return desired_state(after.to_fields(), firmware_offer=offer)
    except (ClientError, BotoCoreError, Refusal, KeyError, TypeError, ValueError):
        # S3 down (the upload went to the spool) or a broken document: the upload answer must
        # not fail for it. Answer the record's state, offer nothing; the camera reports again.
        log.warning("device %s: state not recorded; answering from the cached record", device,
                    exc_info=True)
        return desired_state(record, firmware_offer=None)
