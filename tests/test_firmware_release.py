"""Signed firmware releases and staged rollout, against moto's S3 (and g++ for the key macro)."""

from __future__ import annotations

import hashlib
import json
import stat
import subprocess
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from camcloud import layout
from camcloud.device_state import (
    DeviceState,
    FirmwareState,
    load_state,
    read_state,
    record_offer,
    record_report,
)
from camcloud.devices import DeviceRegistry
from camcloud.errors import Refusal
from camcloud.firmware_release import (
    MAX_FAILURES,
    Release,
    Rollout,
    admit,
    device_status,
    hash_percent,
    in_flight,
    is_newer,
    keygen,
    load_private_key,
    load_release,
    observe,
    offer_for,
    public_key_bytes,
    public_key_c_array,
    publish,
    resume,
    sign,
    state_for_answer,
    status,
    verify_manifest,
    wave_size,
)
from camcloud.s3 import get_json, iter_keys, make_client, put_json
from camcloud.settings import Settings
from tests.support import free_port

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
TTL = 300
# An ESP-IDF app image starts with 0xE9; the rest stands in for a real build.
IMAGE = b"\xe9\x06\x02\x20" + bytes(range(256)) * 64


@pytest.fixture
def private_key(tmp_path: Path) -> Ed25519PrivateKey:
    """The owner's signing key, made by keygen."""
    keygen(tmp_path / "fw.key")
    return load_private_key(tmp_path / "fw.key")


@pytest.fixture
def image_file(tmp_path: Path) -> Path:
    """A firmware image on disk."""
    path = tmp_path / "firmware.bin"
    path.write_bytes(IMAGE)
    return path


@pytest.fixture
def cameras(registry: DeviceRegistry) -> list[str]:
    """Three registered cameras."""
    names = ["cam-1", "cam-2", "cam-3"]
    for name in names:
        registry.add(name)
    return names


def running(version: str) -> DeviceState:
    """The state of a camera that reported running ``version``."""
    return record_report(DeviceState(), {"X-Firmware": version}, now=NOW)[0]


def check_in(s3: Any, bucket: str, device: str, headers: dict[str, str], *,
             now: datetime = NOW) -> dict[str, Any]:
    """What the ingest will do for one request: record the report, answer the state."""
    record = get_json(s3, bucket, layout.device_key(device))
    return state_for_answer(s3, bucket, device, headers, record=record, now=now, ttl=TTL,
                            release=load_release(s3, bucket))


# Keys and the signed message: the firmware's side of the contract.


def test_keygen_writes_a_private_key_only_the_owner_can_read(tmp_path):
    public = keygen(tmp_path / "fw.key")
    mode = stat.S_IMODE((tmp_path / "fw.key").stat().st_mode)
    assert mode == 0o600
    assert len(public) == 32
    assert public_key_bytes(load_private_key(tmp_path / "fw.key")) == public
    assert (tmp_path / "fw.key").read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")


def test_keygen_never_overwrites_a_key(tmp_path):
    public = keygen(tmp_path / "fw.key")
    with pytest.raises(Refusal) as caught:
        keygen(tmp_path / "fw.key")
    assert caught.value.code == "key_exists"
    assert public_key_bytes(load_private_key(tmp_path / "fw.key")) == public


def test_a_file_that_is_not_an_ed25519_key_is_refused(tmp_path):
    (tmp_path / "junk.key").write_text("not a key")
    with pytest.raises(Refusal) as caught:
        load_private_key(tmp_path / "junk.key")
    assert caught.value.code == "bad_key"


def test_the_public_key_macro_compiles_to_the_key_bytes(tmp_path):
    # Given the C text keygen prints for the firmware's config.h
    public = keygen(tmp_path / "fw.key")
    source = tmp_path / "key.cpp"
    source.write_text(
        public_key_c_array(public)
        + "#include <cstdio>\n#include <cstdint>\n"
        + "static const uint8_t kKey[32] = CAMCLOUD_OTA_PUBLIC_KEY;\n"
        + "int main() { for (auto b : kKey) std::printf(\"%02x\", b); }\n"
    )
    # When g++ builds it
    subprocess.run(["g++", "-std=c++17", "-o", str(tmp_path / "key"), str(source)], check=True)
    printed = subprocess.run([str(tmp_path / "key")], check=True, capture_output=True, text=True)
    # Then the array holds exactly the public key
    assert printed.stdout == public.hex()


def test_the_signature_covers_the_documented_message(private_key):
    # The firmware rebuilds these exact bytes from the offer and checks them.
    signature = sign(IMAGE, private_key, version="1.2.0")
    digest = hashlib.sha256(IMAGE).hexdigest()
    message = f"camcloud-fw-v1\n1.2.0\n{len(IMAGE)}\n{digest}\n0\n".encode()
    Ed25519PublicKey.from_public_bytes(public_key_bytes(private_key)).verify(
        bytes.fromhex(signature), message
    )
    assert len(signature) == 128


# The vector of docs/device-management.md, for the firmware's host tests: seed 00 01 .. 1f.
VECTOR_IMAGE = b"\xe9" + b"camcloud test image\n" * 3
VECTOR_PUBLIC_KEY = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
VECTOR_SIGNATURE = (
    "961853a1678f4739073ba81a8437158c3d208b242fd07737d3c4d1b212afb5e1"
    "f435b840e497e72a7bdcb042c8e03a260442a822ed06feee19b432b371a04c01"
)


def test_the_documented_test_vector_still_holds():
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    assert public_key_bytes(key).hex() == VECTOR_PUBLIC_KEY
    assert sign(VECTOR_IMAGE, key, version="1.2.0") == VECTOR_SIGNATURE


def test_openssl_verifies_the_signed_message_and_reads_the_key_file(tmp_path, private_key):
    # An independent Ed25519 implementation (OpenSSL's) agrees on message, key and signature.
    signature = sign(IMAGE, private_key, version="1.2.0")
    digest = hashlib.sha256(IMAGE).hexdigest()
    (tmp_path / "message").write_bytes(
        f"camcloud-fw-v1\n1.2.0\n{len(IMAGE)}\n{digest}\n0\n".encode()
    )
    (tmp_path / "signature").write_bytes(bytes.fromhex(signature))
    public_der = subprocess.run(
        ["openssl", "pkey", "-in", str(tmp_path / "fw.key"), "-pubout", "-outform", "DER"],
        check=True, capture_output=True,
    ).stdout
    assert public_der[-32:] == public_key_bytes(private_key)
    subprocess.run(
        ["openssl", "pkey", "-in", str(tmp_path / "fw.key"), "-pubout",
         "-out", str(tmp_path / "public.pem")], check=True,
    )
    verified = subprocess.run(
        ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(tmp_path / "public.pem"),
         "-rawin", "-in", str(tmp_path / "message"), "-sigfile", str(tmp_path / "signature")],
        capture_output=True, text=True,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr


@pytest.mark.parametrize(
    ("candidate", "running_version", "newer"),
    [("1.2.0", "1.1.9", True), ("1.10.0", "1.9.0", True), ("1.2", "1.2.0", False),
     ("1.2.0", "1.2.0-rc2", True), ("1.2.0-rc2", "1.2.0-rc1", True),
     ("1.2.0+build7", "1.2.0", False), ("1.0.0", "1.2.0", False), ("abc", "1.0.0", False)],
)
def test_version_order(candidate, running_version, newer):
    assert is_newer(candidate, running_version) is newer


# Publishing.


def test_publish_writes_image_manifest_and_rollout_and_never_the_private_key(
    s3, settings, private_key, image_file, tmp_path
):
    release = publish(s3, settings.bucket, image_file, "1.2.0", private_key, now=NOW,
                      percent=50)
    bucket = settings.bucket
    stored = s3.get_object(Bucket=bucket, Key="firmware/1.2.0/firmware.bin")["Body"].read()
    assert stored == IMAGE
    manifest = get_json(s3, bucket, "firmware/1.2.0/manifest.json")
    assert manifest == {
        "version": "1.2.0", "size": len(IMAGE), "sha256": hashlib.sha256(IMAGE).hexdigest(),
        "signature": release.manifest["signature"], "published_at": "2026-12-01T09:00:00+00:00",
        "force": False,
    }
    rollout = get_json(s3, bucket, "firmware/1.2.0/rollout.json")
    assert rollout["percent"] == 50 and rollout["halted"] is None
    assert rollout["public_key"] == public_key_bytes(private_key).hex()
    assert get_json(s3, bucket, "firmware/current.json") == {"version": "1.2.0"}
    # The private key is nowhere in the bucket, in any encoding.
    secret = (tmp_path / "fw.key").read_bytes()
    seed = private_key.private_bytes_raw()
    for key in iter_keys(s3, bucket, ""):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert secret not in body and seed not in body and seed.hex().encode() not in body


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"version": "latest"}, "bad_version"),
        ({"devices": ["cam-1"], "percent": 10}, "bad_rollout"),
        ({"percent": 0}, "bad_rollout"),
        ({"percent": 101}, "bad_rollout"),
        ({"devices": ["Not_A_Device"]}, "bad_device"),
    ],
)
def test_publish_refuses_bad_options(s3, settings, private_key, image_file, options, code):
    arguments: dict[str, Any] = {"version": "1.2.0", **options}
    version = arguments.pop("version")
    with pytest.raises(Refusal) as caught:
        publish(s3, settings.bucket, image_file, version, private_key, now=NOW, **arguments)
    assert (caught.value.status, caught.value.code) == (400, code)
    assert get_json(s3, settings.bucket, "firmware/current.json") is None


def test_publish_refuses_a_file_that_is_not_an_esp32_image(s3, settings, private_key, tmp_path):
    elf = tmp_path / "firmware.elf"
    elf.write_bytes(b"\x7fELF" + bytes(100))
    with pytest.raises(Refusal) as caught:
        publish(s3, settings.bucket, elf, "1.2.0", private_key, now=NOW)
    assert caught.value.code == "bad_image" and "firmware.bin" in caught.value.message


def test_another_image_under_a_published_version_is_refused(
    s3, settings, private_key, image_file, tmp_path
):
    publish(s3, settings.bucket, image_file, "1.2.0", private_key, now=NOW)
    other = tmp_path / "other.bin"
    other.write_bytes(IMAGE + b"\x00")
    with pytest.raises(Refusal) as caught:
        publish(s3, settings.bucket, other, "1.2.0", private_key, now=NOW)
    assert (caught.value.status, caught.value.code) == (409, "version_exists")
    manifest = get_json(s3, settings.bucket, "firmware/1.2.0/manifest.json")
    assert manifest["size"] == len(IMAGE)


# Offer rules (pure).


def release_of(private_key: Ed25519PrivateKey, version: str = "1.2.0", *, force: bool = False,
               **rollout: Any) -> Release:
    """A release as load_release would return it, without S3."""
    manifest = {"version": version, "size": len(IMAGE),
                "sha256": hashlib.sha256(IMAGE).hexdigest(),
                "signature": sign(IMAGE, private_key, version=version, force=force),
                "published_at": "2026-12-01T08:00:00+00:00", "force": force}
    settings: dict[str, Any] = {"admitted": {}, "confirmed": {}, "failed": {}, **rollout}
    return Release(manifest, Rollout(version=version,
                                     public_key=public_key_bytes(private_key).hex(),
                                     force=force, **settings))


def test_a_device_not_in_the_rollout_is_never_offered(private_key):
    release = release_of(private_key, devices=("cam-1",), percent=None)
    decision = offer_for("cam-2", running("1.0.0"), release.rollout, release.manifest, now=NOW)
    assert (decision.offer, decision.reason) == (False, "not_targeted")
    assert offer_for("cam-1", running("1.0.0"), release.rollout, release.manifest,
                     now=NOW).offer


def test_percent_rollout_is_stable_and_widening_keeps_the_first_devices(private_key):
    devices = [f"cam-{index}" for index in range(1000)]
    in_20 = {d for d in devices if hash_percent("1.2.0", d) < 20}
    in_50 = {d for d in devices if hash_percent("1.2.0", d) < 50}
    assert in_20 < in_50
    assert 150 < len(in_20) < 250 and 430 < len(in_50) < 570


@pytest.mark.parametrize(
    "tamper",
    [
        {"size": len(IMAGE) + 1},
        {"sha256": hashlib.sha256(b"evil").hexdigest()},
        {"signature": "00" * 64},
        {"signature": "not hex"},
        {"size": "many"},
    ],
)
def test_a_manifest_whose_signature_does_not_verify_is_never_offered(private_key, tamper):
    release = release_of(private_key)
    manifest = {**release.manifest, **tamper}
    decision = offer_for("cam-1", running("1.0.0"), release.rollout, manifest, now=NOW)
    assert (decision.offer, decision.reason) == (False, "bad_signature")


def test_a_manifest_signed_by_another_key_is_never_offered(private_key):
    release = release_of(private_key)
    stranger = release_of(Ed25519PrivateKey.generate())
    decision = offer_for("cam-1", running("1.0.0"), release.rollout, stranger.manifest, now=NOW)
    assert decision.reason == "bad_signature"
    assert not verify_manifest(stranger.manifest, release.rollout.public_key)


def test_an_old_image_relabelled_as_new_does_not_verify(private_key):
    old = release_of(private_key, "1.0.0")
    relabelled = {**old.manifest, "version": "9.0.0"}
    assert not verify_manifest(relabelled, old.rollout.public_key)


def test_an_older_version_is_not_offered_unless_forced(private_key):
    older = release_of(private_key, "1.1.0")
    decision = offer_for("cam-1", running("1.2.0"), older.rollout, older.manifest, now=NOW)
    assert (decision.offer, decision.reason) == (False, "not_newer")
    forced = release_of(private_key, "1.1.0", force=True)
    assert offer_for("cam-1", running("1.2.0"), forced.rollout, forced.manifest, now=NOW).offer


def test_an_unforced_signature_cannot_be_marked_forced(private_key):
    # The force flag is signed: flipping it in the manifest and rollout breaks the signature.
    older = release_of(private_key, "1.1.0")
    manifest = {**older.manifest, "force": True}
    rollout = Rollout(**{**older.rollout.__dict__, "force": True})
    decision = offer_for("cam-1", running("1.2.0"), rollout, manifest, now=NOW)
    assert decision.reason == "bad_signature"


def test_the_same_version_is_not_offered_again(private_key):
    release = release_of(private_key)
    decision = offer_for("cam-1", running("1.2.0"), release.rollout, release.manifest, now=NOW)
    assert decision.reason == "up_to_date"


def test_three_failed_attempts_stop_the_offer(private_key):
    release = release_of(private_key)
    state = running("1.0.0")
    for attempt in range(1, MAX_FAILURES + 1):
        assert offer_for("cam-1", state, release.rollout, release.manifest, now=NOW).offer
        state, _ = record_offer(state, "1.2.0", now=NOW)
        state, _ = record_report(state, {"X-Ota-Result": f"failed:attempt {attempt}"}, now=NOW)
    decision = offer_for("cam-1", state, release.rollout, release.manifest, now=NOW)
    assert (decision.offer, decision.reason) == (False, "too_many_failures")


def test_a_halted_rollout_offers_nothing(private_key):
    release = release_of(private_key, halted={"at": "x", "device": "cam-1", "reason": "failed"})
    decision = offer_for("cam-2", running("1.0.0"), release.rollout, release.manifest, now=NOW)
    assert decision.reason == "halted"


def test_a_camera_that_never_said_its_version_is_not_offered(private_key):
    release = release_of(private_key)
    decision = offer_for("cam-1", DeviceState(), release.rollout, release.manifest, now=NOW)
    assert decision.reason == "unknown_version"


# The rollout through the report-back path (moto).


def test_the_firmware_offer_is_a_short_lived_presigned_get_of_the_image(
    s3, settings, private_key, image_file, cameras
):
    publish(s3, settings.bucket, image_file, "1.2.0", private_key, now=NOW,
            devices=["cam-1"])
    state = check_in(s3, settings.bucket, "cam-1", {"X-Firmware": "1.0.0"})
    offer = state["firmware"]
    assert set(offer) == {"version", "url", "size", "sha256", "signature", "force"}
    query = parse_qs(urlparse(offer["url"]).query)
    assert query["X-Amz-Expires"] == [str(TTL)]
    assert requests.get(offer["url"], timeout=10).content == IMAGE
    assert read_state(s3, settings.bucket, "cam-1").firmware.delivered_at is not None


def test_the_rollout_widens_only_while_devices_confirm(
    s3, settings, private_key, image_file, cameras
):
    bucket = settings.bucket
    publish(s3, bucket, image_file, "1.2.0", private_key, now=NOW, devices=cameras)
    # Given the first camera took the offer (a wave of one)
    assert check_in(s3, bucket, "cam-1", {"X-Firmware": "1.0.0"})["firmware"]
    # Then the others wait while it has not confirmed
    assert check_in(s3, bucket, "cam-2", {"X-Firmware": "1.0.0"})["firmware"] is None
    # When it comes back on the new version
    check_in(s3, bucket, "cam-1", {"X-Firmware": "1.2.0", "X-Ota-Result": "ok"})
    # Then the next camera gets it
    assert check_in(s3, bucket, "cam-2", {"X-Firmware": "1.0.0"})["firmware"]
    assert check_in(s3, bucket, "cam-3", {"X-Firmware": "1.0.0"})["firmware"] is None
    rollout = get_json(s3, bucket, "firmware/1.2.0/rollout.json")
    assert set(rollout["confirmed"]) == {"cam-1"} and set(rollout["admitted"]) == {"cam-1",
                                                                                   "cam-2"}


def test_a_confirmation_counts_when_the_ingest_holds_a_release_read_before_the_offer(
    s3, settings, private_key, image_file, cameras
):
    # Regression: the ingest caches the release for seconds; with a copy read before the
    # camera was admitted, its "ok" was shown in status but never reached rollout.confirmed,
    # so the rollout could never widen.
    bucket = settings.bucket
    publish(s3, bucket, image_file, "1.2.0", private_key, now=NOW, devices=cameras)
    cached = load_release(s3, bucket)
    # Given cam-1 was offered (and admitted) the update
    record = get_json(s3, bucket, layout.device_key("cam-1"))
    assert state_for_answer(s3, bucket, "cam-1", {"X-Firmware": "1.0.0"}, record=record,
                            now=NOW, ttl=TTL, release=cached)["firmware"]
    # When it comes back on the new version, answered with the same cached release
    record = get_json(s3, bucket, layout.device_key("cam-1"))
    state_for_answer(s3, bucket, "cam-1", {"X-Firmware": "1.2.0", "X-Ota-Result": "ok"},
                     record=record, now=NOW, ttl=TTL, release=cached)
    # Then the rollout records the confirmation
    rollout = get_json(s3, bucket, "firmware/1.2.0/rollout.json")
    assert set(rollout["confirmed"]) == {"cam-1"}


def test_a_camera_stuck_for_a_day_does_not_hold_the_wave_back(
    s3, settings, private_key, image_file, cameras
):
    bucket = settings.bucket
    publish(s3, bucket, image_file, "1.2.0", private_key, now=NOW, devices=cameras)
    assert check_in(s3, bucket, "cam-1", {"X-Firmware": "1.0.0"})["firmware"]
    later = NOW + timedelta(hours=25)
    assert check_in(s3, bucket, "cam-2", {"X-Firmware": "1.0.0"}, now=later)["firmware"]


def test_a_reported_failure_halts_the_rollout(s3, settings, private_key, image_file, cameras,
                                              caplog):
    bucket = settings.bucket
    publish(s3, bucket, image_file, "1.2.0", private_key, now=NOW, devices=cameras)
    check_in(s3, bucket, "cam-1", {"X-Firmware": "1.0.0"})
    # When the camera says the update failed
    answer = check_in(s3, bucket, "cam-1",
                      {"X-Firmware": "1.0.0", "X-Ota-Result": "failed:signature"})
    # Then the rollout is halted, with an alarm, and nobody is offered it
    rollout = get_json(s3, bucket, "firmware/1.2.0/rollout.json")
    assert rollout["halted"]["device"] == "cam-1"
    assert "failed: signature" in rollout["halted"]["reason"]
    assert "HALTED" in caplog.text
    assert answer["firmware"] is None
    assert check_in(s3, bucket, "cam-2", {"X-Firmware": "1.0.0"})["firmware"] is None


def test_coming_back_on_the_old_version_halts_the_rollout(
    s3, settings, private_key, image_file, cameras
):
    bucket = settings.bucket
    publish(s3, bucket, image_file, "1.2.0", private_key, now=NOW, devices=cameras)
    check_in(s3, bucket, "cam-1", {"X-Firmware": "1.0.0"})
    check_in(s3, bucket, "cam-1", {"X-Firmware": "1.2.0", "X-Ota-Result": "ok"})
    # When the bootloader rolled the camera back to its old image
    check_in(s3, bucket, "cam-1", {"X-Firmware": "1.0.0"})
    rollout = get_json(s3, bucket, "firmware/1.2.0/rollout.json")
    assert rollout["halted"]["reason"].startswith("rolled_back: came back on 1.0.0")
    assert rollout["confirmed"] == {}
    assert check_in(s3, bucket, "cam-2", {"X-Firmware": "1.0.0"})["firmware"] is None


def test_a_resumed_rollout_is_not_halted_again_by_the_old_failure(
    s3, settings, private_key, image_file, cameras
):
    bucket = settings.bucket
    publish(s3, bucket, image_file, "1.2.0", private_key, now=NOW, devices=cameras)
    check_in(s3, bucket, "cam-1", {"X-Firmware": "1.0.0"})
    check_in(s3, bucket, "cam-1", {"X-Firmware": "1.0.0", "X-Ota-Result": "failed:flash"})
    resume(s3, bucket, "1.2.0")
    # The camera reports something else (a config version): the old failure is not news
    answer = check_in(s3, bucket, "cam-1", {"X-Firmware": "1.0.0", "X-Config-Version": "0"})
    assert get_json(s3, bucket, "firmware/1.2.0/rollout.json")["halted"] is None
    assert answer["firmware"] is not None  # its second attempt


def test_status_per_device(s3, settings, private_key, image_file, cameras, registry):
    bucket = settings.bucket
    registry.add("cam-4")
    publish(s3, bucket, image_file, "1.2.0", private_key, now=NOW,
            devices=["cam-1", "cam-2", "cam-3"])
    check_in(s3, bucket, "cam-1", {"X-Firmware": "1.0.0"})
    check_in(s3, bucket, "cam-1", {"X-Firmware": "1.2.0"})  # ok without the header too
    check_in(s3, bucket, "cam-2", {"X-Firmware": "1.0.0"})  # admitted, downloading
    check_in(s3, bucket, "cam-3", {"X-Firmware": "1.0.0"})  # waits for cam-2
    check_in(s3, bucket, "cam-4", {"X-Firmware": "1.0.0"})
    release, rows = status(s3, bucket, now=NOW)
    assert release is not None and release.version == "1.2.0"
    assert {row.device: row.status for row in rows} == {
        "cam-1": "ok", "cam-2": "downloading", "cam-3": "waiting", "cam-4": "not_targeted",
    }
    check_in(s3, bucket, "cam-2", {"X-Firmware": "1.0.0", "X-Ota-Result": "failed:sha256"})
    _, rows = status(s3, bucket, now=NOW)
    by_device = {row.device: row for row in rows}
    assert (by_device["cam-2"].status, by_device["cam-2"].failures) == ("failed", 1)
    assert by_device["cam-3"].status == "halted"


def test_status_shows_a_rollback(private_key):
    release = release_of(private_key, admitted={"cam-1": NOW.isoformat()})
    state, _ = record_offer(running("1.0.0"), "1.2.0", now=NOW)
    state, _ = record_report(state, {"X-Firmware": "1.2.0"}, now=NOW)
    state, _ = record_report(state, {"X-Firmware": "1.0.0"}, now=NOW)
    row = device_status("cam-1", state, release, now=NOW)
    assert (row.status, row.running, row.failures) == ("rolled_back", "1.0.0", 1)


def test_a_broken_rollout_file_offers_nothing(s3, settings, private_key, image_file, cameras):
    bucket = settings.bucket
    publish(s3, bucket, image_file, "1.2.0", private_key, now=NOW)
    put_json(s3, bucket, "firmware/1.2.0/rollout.json", {"version": "1.2.0"})
    assert load_release(s3, bucket) is None
    assert check_in(s3, bucket, "cam-1", {"X-Firmware": "1.0.0"})["firmware"] is None


def test_a_camera_without_v11_headers_gets_an_answer_and_costs_no_write(
    s3, settings, private_key, image_file, cameras
):
    publish(s3, settings.bucket, image_file, "1.2.0", private_key, now=NOW)
    puts: list[str] = []
    s3.meta.events.register("before-call.s3.PutObject",
                            lambda params, **_: puts.append(params["url_path"]))
    answer = check_in(s3, settings.bucket, "cam-1", {})
    assert answer["firmware"] is None and answer["commands"] == []
    assert puts == []
    assert load_state(get_json(s3, settings.bucket, "devices/cam-1.json")).firmware == (
        FirmwareState()
    )
    json.dumps(answer)  # the answer is plain JSON


def test_an_answer_never_fails_when_s3_is_down(s3, settings, private_key, image_file, cameras,
                                               caplog):
    # Given the record the ingest holds and a camera reporting a new config version
    record = get_json(s3, settings.bucket, "devices/cam-1.json")
    release = publish(s3, settings.bucket, image_file, "1.2.0", private_key, now=NOW)
    # When S3 cannot be reached (nothing listens on the endpoint's port)
    down = make_client(
        Settings.from_env({"CAMCLOUD_BUCKET": settings.bucket,
                           "CAMCLOUD_S3_ENDPOINT": f"http://127.0.0.1:{free_port()}"}),
        retries={"max_attempts": 1}, connect_timeout=1,
    )
    answer = state_for_answer(down, settings.bucket, "cam-1",
                              {"X-Config-Version": "1", "X-Firmware": "1.0.0"},
                              record=record, now=NOW, ttl=TTL, release=release)
    # Then the camera still gets its state from the record, without an offer
    assert answer == {"config": DeviceState().config.to_json(), "commands": [],
                      "firmware": None}
    assert "state not recorded" in caplog.text


# The rollout rules as properties, over random sequences of camera requests (pure: no S3).

_FLEET = ("cam-0", "cam-1", "cam-2", "cam-3", "cam-4")
_REQUESTS = {
    "old": {"X-Firmware": "1.0.0"},
    "ok": {"X-Firmware": "1.2.0", "X-Ota-Result": "ok"},
    "failed": {"X-Firmware": "1.0.0", "X-Ota-Result": "failed:flash"},
    "quiet": {},
}


@hypothesis_settings(deadline=None, max_examples=60,
                     suppress_health_check=[HealthCheck.too_slow,
                                            HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from([*_FLEET, "owner"]), st.sampled_from(list(_REQUESTS))),
                max_size=40))
def test_rollout_rules_hold_for_any_sequence_of_requests(private_key, steps):
    release = release_of(private_key, devices=_FLEET[:4], percent=None)
    rollout, manifest = release.rollout, release.manifest
    states = {device: running("1.0.0") for device in _FLEET}
    for device, request in steps:
        if device == "owner":
            rollout = replace(rollout, halted=None, failed={})  # resume
            continue
        # What the ingest does for one request (state_for_answer without S3)
        before = states[device]
        after, _ = record_report(before, _REQUESTS[request], now=NOW)
        rollout, _ = observe(rollout, device, before, after, now=NOW)
        news = (after.firmware.result, after.firmware.result_at) != (
            before.firmware.result, before.firmware.result_at)
        if news and after.firmware.result in ("failed", "rolled_back") and (
                device in (rollout.admitted or {})):
            assert rollout.halted  # a failure or a rollback halts the rollout
            event("halted")
        flying = in_flight(rollout, NOW)
        wave = wave_size(rollout)
        decision = offer_for(device, after, rollout, manifest, now=NOW)
        if decision.admit:
            rollout, admitted = admit(rollout, device, now=NOW)
            assert admitted and flying < wave  # widening only while cameras confirm
            event(f"admitted with {len(rollout.confirmed or {})} confirmed")
        if decision.offer:
            assert device in _FLEET[:4] and not rollout.halted
            assert after.firmware.failures_of("1.2.0") < MAX_FAILURES
            assert after.firmware.running != "1.2.0"
            after, _ = record_offer(after, "1.2.0", now=NOW)
        states[device] = after
        assert set(rollout.confirmed or {}) <= set(rollout.admitted or {}) <= set(_FLEET[:4])
