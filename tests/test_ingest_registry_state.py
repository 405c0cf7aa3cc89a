"""The registry keeps a camera's device state: renaming, revoking or rotating never erases it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from camcloud import device_state
from camcloud.devices import DeviceRecord, DeviceRegistry
from tests.conftest import BUCKET

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def stored(s3: Any, device: str) -> dict[str, Any]:
    """The raw ``devices/{device}.json``."""
    body = s3.get_object(Bucket=BUCKET, Key=f"devices/{device}.json")["Body"].read()
    return dict(json.loads(body))


@pytest.fixture
def configured(s3: Any, registry: DeviceRegistry) -> str:
    """A camera with a config (version 1), a pending capture-now and an unknown field."""
    registry.add("garden", name="Garden")
    device_state.set_config(s3, BUCKET, "garden", interval_s=60)
    device_state.request_capture(s3, BUCKET, "garden", now=NOW, new_id=lambda: "cap1")
    document = stored(s3, "garden")
    document["added_by_a_newer_version"] = {"keep": True}
    s3.put_object(Bucket=BUCKET, Key="devices/garden.json", Body=json.dumps(document).encode())
    return "garden"


def assert_state_kept(s3: Any, device: str) -> None:
    state = device_state.read_state(s3, BUCKET, device)
    assert state.config.version == 1 and state.config.interval_s == 60
    assert [command.id for command in state.pending] == ["cap1"]
    assert stored(s3, device)["added_by_a_newer_version"] == {"keep": True}


def test_renaming_a_camera_keeps_its_config_and_pending_commands(
        s3: Any, registry: DeviceRegistry, configured: str) -> None:
    # When the owner renames the camera and turns it
    registry.update(configured, name="Back garden", rotation=90)
    # Then the name changed and the settings, the capture-now and unknown fields are still there
    assert stored(s3, configured)["name"] == "Back garden"
    assert_state_kept(s3, configured)


def test_revoking_a_camera_keeps_its_config_and_pending_commands(
        s3: Any, registry: DeviceRegistry, configured: str) -> None:
    registry.revoke(configured)
    assert stored(s3, configured)["revoked_at"] is not None
    assert_state_kept(s3, configured)


def test_rotating_a_key_keeps_its_config_and_pending_commands(
        s3: Any, registry: DeviceRegistry, configured: str) -> None:
    # When the camera's key is replaced
    _, key = registry.add(configured, replace=True)
    # Then the new key works and the state survived
    assert registry.authenticate(key).device == configured
    assert_state_kept(s3, configured)


def test_the_record_carries_the_raw_document_for_the_answer(
        s3: Any, registry: DeviceRegistry, configured: str) -> None:
    # The ingest answers from the record it holds: its document has the state fields
    record = registry.get(configured, fresh=True)
    assert record is not None
    assert device_state.load_state(record.to_json()).config.interval_s == 60


def test_a_cached_record_is_dropped_when_forgotten(s3: Any) -> None:
    # Given an ingest-side registry that cached a record
    now = [1000.0]
    cached = DeviceRegistry(lambda: s3, BUCKET, cache_seconds=30, clock=lambda: now[0])
    DeviceRegistry(lambda: s3, BUCKET).add("garden")
    assert cached.get("garden") is not None
    device_state.set_config(s3, BUCKET, "garden", interval_s=90)
    # When the state was written, the next read after forget() is fresh
    assert config_version(cached.get("garden")) == 0
    cached.forget("garden")
    assert config_version(cached.get("garden")) == 1
    # ...and max_age bounds how old a cached record may be
    device_state.set_config(s3, BUCKET, "garden", interval_s=120)
    now[0] += 5
    assert config_version(cached.get("garden", max_age=10)) == 1
    now[0] += 6
    assert config_version(cached.get("garden", max_age=10)) == 2


def config_version(record: DeviceRecord | None) -> int:
    """The desired config version in a record's document."""
    assert record is not None
    return device_state.load_state(record.to_json()).config.version
