"""Desired state and report-back (protocol v1.1) against moto's S3."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from camcloud import layout
from camcloud.device_state import (
    MAX_PENDING,
    DeviceState,
    FirmwareState,
    desired_state,
    load_state,
    queue_capture,
    read_state,
    record_offer,
    record_report,
    report,
    request_capture,
    set_config,
    update_json,
)
from camcloud.devices import DeviceRegistry
from camcloud.errors import Refusal
from camcloud.s3 import get_json, put_json
from tests.conftest import DEVICE

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def record_of(s3: Any, bucket: str, device: str = DEVICE) -> dict[str, Any]:
    """The stored device record."""
    document = get_json(s3, bucket, layout.device_key(device))
    assert isinstance(document, dict)
    return document


def count_puts(s3: Any) -> list[str]:
    """A list that collects the key of every PutObject ``s3`` sends from now on."""
    puts: list[str] = []
    s3.meta.events.register(
        "before-call.s3.PutObject", lambda params, **_: puts.append(params["url_path"])
    )
    return puts


def test_a_camera_without_settings_gets_version_0_and_nothing_to_do(s3, settings, device_key):
    state = desired_state(record_of(s3, settings.bucket), firmware_offer=None)
    assert state == {
        "config": {"version": 0, "interval_s": 300, "image_mode": "qxga",
                   "jpeg_quality": "default", "pir": False, "battery_mode": False,
                   "active_hours": None, "checkin_s": 60},
        "commands": [],
        "firmware": None,
    }


def test_a_config_change_is_stored_beside_the_registry_fields(s3, settings, registry, device_key):
    # Given a registered camera
    # When its owner changes two settings
    config = set_config(s3, settings.bucket, DEVICE, interval_s=60, image_mode="vga")
    # Then the desired state carries them with version 1
    record = record_of(s3, settings.bucket)
    assert desired_state(record, firmware_offer=None)["config"]["version"] == 1
    assert (config.interval_s, config.image_mode) == (60, "vga")
    # And the registry's own fields are untouched: the key still authenticates
    fresh = DeviceRegistry(lambda: s3, settings.bucket)
    assert fresh.authenticate(device_key).device == DEVICE
    assert record["schema"] == 1 and record["key_hash"]


def test_unknown_setting_is_refused_before_anything_is_written(s3, settings, device_key):
    before = record_of(s3, settings.bucket)
    puts = count_puts(s3)
    with pytest.raises(Refusal) as caught:
        set_config(s3, settings.bucket, DEVICE, interval_s=60, flash="on")
    assert caught.value.code == "unknown_setting"
    assert puts == [] and record_of(s3, settings.bucket) == before


def test_settings_for_an_unknown_device_are_refused_with_404(s3, settings):
    with pytest.raises(Refusal) as caught:
        set_config(s3, settings.bucket, "nobody", interval_s=60)
    assert (caught.value.status, caught.value.code) == (404, "unknown_device")
    assert get_json(s3, settings.bucket, layout.device_key("nobody")) is None


def test_capture_now_goes_pending_then_done_with_its_capture(s3, settings, device_key):
    # Given a capture-now queued from the CLI or the gallery
    command = request_capture(s3, settings.bucket, DEVICE, now=NOW)
    state = desired_state(record_of(s3, settings.bucket), firmware_offer=None)
    assert state["commands"] == [{"id": command.id, "type": "capture"}]
    # When the camera uploads the capture it took and reports the command done with it
    headers = {"X-Commands-Done": f"{command.id}=CAM-7-12", "X-Capture-Id": "CAM-7-12"}
    _, changed = report(s3, settings.bucket, DEVICE, headers, now=NOW + timedelta(seconds=30))
    # Then no command is pending any more, and the done one links to the capture
    assert changed
    record = record_of(s3, settings.bucket)
    assert desired_state(record, firmware_offer=None)["commands"] == []
    (done,) = load_state(record).commands
    assert (done.capture_id, done.done_at) == ("CAM-7-12", "2026-12-01T09:00:30+00:00")


def test_a_retried_report_changes_nothing_and_writes_nothing(s3, settings, device_key):
    command = request_capture(s3, settings.bucket, DEVICE, now=NOW)
    headers = {"X-Commands-Done": command.id, "X-Config-Version": "0", "X-Firmware": "1.0.0"}
    report(s3, settings.bucket, DEVICE, headers, now=NOW)
    puts = count_puts(s3)
    # When the camera's retry sends the same headers again
    state, changed = report(s3, settings.bucket, DEVICE, headers, now=NOW + timedelta(seconds=5))
    # Then it is not a change and costs no write
    assert not changed and puts == []
    assert state.commands[0].done_at == "2026-12-01T09:00:00+00:00"


def test_uploads_that_report_nothing_new_cost_no_s3_call(s3, settings, device_key):
    # Given the record the ingest already holds for an up-to-date camera
    set_config(s3, settings.bucket, DEVICE, interval_s=60)
    report(s3, settings.bucket, DEVICE, {"X-Config-Version": "1", "X-Firmware": "1.0.0"}, now=NOW)
    known = record_of(s3, settings.bucket)
    calls: list[str] = []
    s3.meta.events.register("before-call.s3", lambda model, **_: calls.append(model.name))
    # When 20 uploads report the same version and firmware (and one v1 camera reports nothing)
    for second in range(20):
        headers = {"X-Config-Version": "1", "X-Firmware": "1.0.0", "X-RSSI": str(-60 - second)}
        report(s3, settings.bucket, DEVICE, headers, now=NOW + timedelta(seconds=second),
               known=known)
    _, changed = report(s3, settings.bucket, DEVICE, {}, now=NOW, known=known)
    # Then not one S3 call was made
    assert calls == [] and not changed


def test_applied_version_clears_the_drift(s3, settings, device_key):
    set_config(s3, settings.bucket, DEVICE, pir=True)
    assert read_state(s3, settings.bucket, DEVICE).config_drift
    state, changed = report(s3, settings.bucket, DEVICE, {"x-config-version": "1"}, now=NOW)
    assert changed and not state.config_drift
    assert state.applied.at == "2026-12-01T09:00:00+00:00"


def test_capture_queue_is_bounded(s3, settings, device_key):
    for _ in range(MAX_PENDING):
        request_capture(s3, settings.bucket, DEVICE, now=NOW)
    with pytest.raises(Refusal) as caught:
        request_capture(s3, settings.bucket, DEVICE, now=NOW)
    assert (caught.value.status, caught.value.code) == (409, "too_many_commands")
    assert len(read_state(s3, settings.bucket, DEVICE).pending) == MAX_PENDING


def test_command_ids_stay_unique_when_the_generator_repeats_itself():
    state = DeviceState()
    ids = set()
    for _ in range(5):
        state, command = queue_capture(state, now=NOW, new_id=lambda: "aaaa")
        ids.add(command.id)
    assert len(ids) == 5


def test_done_commands_are_kept_bounded():
    state = DeviceState()
    for index in range(40):
        state, command = queue_capture(state, now=NOW)
        state, _ = record_report(state, {"X-Commands-Done": f"{command.id}=c-{index}"}, now=NOW)
    assert 0 < len(state.commands) <= 20
    assert state.commands[-1].capture_id == "c-39"


def test_a_config_change_racing_a_report_loses_neither(s3, settings, device_key):
    # Given a camera report whose read-modify-write is overtaken by a config change
    bucket, key = settings.bucket, layout.device_key(DEVICE)
    overtaken = []

    def report_version(record: Any) -> tuple[Any, bool]:
        if not overtaken:
            overtaken.append(True)
            set_config(s3, bucket, DEVICE, interval_s=42)  # lands between our read and write
        state, changed = record_report(load_state(record), {"X-Config-Version": "0"}, now=NOW)
        return {**record, **state.to_fields()}, changed

    # When both finish
    update_json(s3, bucket, key, report_version)
    # Then the stored record has both the new config and the report
    state = read_state(s3, bucket, DEVICE)
    assert (state.config.interval_s, state.applied.config_version) == (42, 0)


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Config-Version": "abc"},
        {"X-Config-Version": "-1"},
        {"X-Config-Version": "99999999999999"},
        {"X-Config-Version": "٣"},
        {"X-Commands-Done": ",,=,!!,a=b=c,ZZZ"},
        {"X-Ota-Result": "maybe"},
        {"X-Ota-Result": "failed"},
        {"X-Firmware": "../../etc/passwd"},
        {"X-Firmware": ""},
    ],
)
def test_bad_report_headers_are_ignored(headers):
    state, changed = record_report(DeviceState(), headers, now=NOW)
    assert state == DeviceState() and not changed


@hypothesis_settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(
    st.sampled_from(["X-Config-Version", "X-Commands-Done", "X-Ota-Result", "X-Firmware"]),
    st.text(max_size=80),
))
def test_no_header_value_makes_a_report_fail(headers: dict[str, str]):
    state, _ = queue_capture(DeviceState(), now=NOW, new_id=lambda: "abc")
    state, _ = record_offer(state, "1.1.0", now=NOW)
    updated, changed = record_report(state, headers, now=NOW)
    assert changed == (updated != state)


def test_a_hand_broken_record_still_gets_an_answer():
    record = {"device": DEVICE, "config": [1, 2], "commands": "capture!",
              "applied": None, "firmware": {"failures": {"1.1.0": "x"}, "running": 5}}
    assert desired_state(record, firmware_offer=None)["config"]["version"] == 0
    assert load_state(record).firmware == FirmwareState()


def test_an_update_is_ok_when_the_camera_comes_back_on_the_new_version():
    state, _ = record_offer(DeviceState(), "1.1.0", now=NOW)
    state, _ = record_report(state, {"X-Firmware": "1.1.0", "X-Ota-Result": "ok"}, now=NOW)
    assert (state.firmware.result, state.firmware.running) == ("ok", "1.1.0")
    assert state.firmware.delivered_at is None


def test_a_failed_update_is_counted_once_however_often_it_is_repeated():
    state, _ = record_report(DeviceState(), {"X-Firmware": "1.0.0"}, now=NOW)
    state, changed = record_offer(state, "1.1.0", now=NOW)
    assert changed
    _, changed_again = record_offer(state, "1.1.0", now=NOW)
    assert not changed_again  # one write per attempt, not per answer
    failed = {"X-Firmware": "1.0.0", "X-Ota-Result": "failed:sha256 mismatch\x00"}
    state, _ = record_report(state, failed, now=NOW)
    state, changed = record_report(state, failed, now=NOW)
    assert not changed
    assert (state.firmware.result, state.firmware.reason) == ("failed", "sha256 mismatch")
    assert state.firmware.failures_of("1.1.0") == 1


def test_coming_back_on_the_old_version_after_ok_is_a_rollback():
    state, _ = record_report(DeviceState(), {"X-Firmware": "1.0.0"}, now=NOW)
    state, _ = record_offer(state, "1.1.0", now=NOW)
    state, _ = record_report(state, {"X-Firmware": "1.1.0", "X-Ota-Result": "ok"}, now=NOW)
    state, changed = record_report(state, {"X-Firmware": "1.0.0"}, now=NOW)
    assert changed
    assert state.firmware.result == "rolled_back"
    assert state.firmware.failures_of("1.1.0") == 1


def test_state_fields_survive_a_registry_record_written_by_put_json(s3, settings, device_key):
    # The extra fields are plain JSON: another writer that keeps unknown fields keeps them.
    set_config(s3, settings.bucket, DEVICE, checkin_s=30)
    record = record_of(s3, settings.bucket)
    put_json(s3, settings.bucket, layout.device_key(DEVICE), {**record, "name": "Garden"})
    assert read_state(s3, settings.bucket, DEVICE).config.checkin_s == 30
