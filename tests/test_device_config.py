"""Remote camera settings: ranges, defaults, versioning. Pure: no moto, no Flask."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from camcloud.device_config import (
    IMAGE_MODES,
    SETTINGS,
    DeviceConfig,
    apply_changes,
    check_setting,
    in_active_hours,
    limits,
)
from camcloud.errors import Refusal


def test_defaults_match_the_firmware_built_in_config():
    config = DeviceConfig()
    assert config.version == 0
    assert config.interval_s == 300  # CAMCLOUD_CAPTURE_INTERVAL_S
    assert config.image_mode == "qxga"  # CAM_IMAGE_MODE_QXGA
    assert config.jpeg_quality == "default"
    assert config.active_hours is None
    assert set(config.to_json()) == {"version", *SETTINGS}


def test_image_modes_are_the_3mp_sensor_modes_only():
    # Given the CAM_IMAGE_MODE values ArducamCamera.c lists as supported by the 3MP sensor
    assert {mode.value for mode in IMAGE_MODES.values()} == {
        0x01, 0x02, 0x04, 0x06, 0x07, 0x08, 0x0A, 0x0B, 0x0C
    }
    # Then the 5MP-only full frame is refused with the list of valid modes
    with pytest.raises(Refusal) as caught:
        apply_changes(DeviceConfig(), image_mode="wqxga2")
    assert caught.value.code == "bad_setting"
    assert "qxga" in caught.value.message and "fhd" in caught.value.message


def test_a_change_bumps_the_version_and_keeps_the_other_settings():
    config = apply_changes(DeviceConfig(), interval_s=60, image_mode="VGA")
    assert (config.version, config.interval_s, config.image_mode) == (1, 60, "vga")
    assert config.checkin_s == DeviceConfig().checkin_s
    again = apply_changes(config, pir=True)
    assert (again.version, again.pir, again.interval_s) == (2, True, 60)


def test_a_change_to_the_same_values_does_not_bump_the_version():
    config = apply_changes(DeviceConfig(), interval_s=60)
    assert apply_changes(config, interval_s=60) is config
    assert apply_changes(config) is config


def test_form_and_command_line_strings_are_accepted():
    config = apply_changes(
        DeviceConfig(),
        interval_s="120",
        pir="on",
        battery_mode="false",
        image_mode="1920x1080",
        jpeg_quality="HIGH",
        active_hours=" 22:00-06:00 ",
        checkin_s="30",
    )
    assert config.to_json() == {
        "version": 1, "interval_s": 120, "pir": True, "battery_mode": False,
        "image_mode": "fhd", "jpeg_quality": "high", "active_hours": "22:00-06:00",
        "checkin_s": 30,
    }
    assert apply_changes(config, active_hours="").active_hours is None


def test_unknown_setting_is_refused_by_the_server():
    with pytest.raises(Refusal) as caught:
        apply_changes(DeviceConfig(), interval_s=60, resolution="vga")
    assert (caught.value.status, caught.value.code) == (400, "unknown_setting")
    assert "resolution" in caught.value.message and "interval_s" in caught.value.message


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("interval_s", 0, "from 5 to 86400"),  # the config that would brick a camera
        ("interval_s", -1, "from 5 to 86400"),
        ("interval_s", 86_401, "from 5 to 86400"),
        ("interval_s", 2.5, "whole number"),
        ("interval_s", True, "whole number"),
        ("interval_s", "²", "whole number"),
        ("checkin_s", 5, "from 10 to 86400"),
        ("jpeg_quality", 80, "high, default, low"),
        ("pir", "maybe", "true or false"),
        ("active_hours", "25:00-06:00", "HH:MM-HH:MM"),
        ("active_hours", "6:00-20:00", "HH:MM-HH:MM"),
        ("active_hours", "08:00-08:00", "leave it empty"),
        ("version", 7, "set by the server"),
    ],
)
def test_bad_values_are_refused_with_the_field_and_its_range(name, value, says):
    with pytest.raises(Refusal) as caught:
        apply_changes(DeviceConfig(), **{name: value})
    assert (caught.value.status, caught.value.code) == (400, "bad_setting")
    assert caught.value.message.startswith(f"{name}:")
    assert says in caught.value.message


def test_a_refused_change_applies_nothing():
    config = apply_changes(DeviceConfig(), interval_s=60)
    with pytest.raises(Refusal):
        apply_changes(config, interval_s=30, checkin_s=0)
    assert config.interval_s == 60 and config.version == 1


def test_active_hours_that_wrap_midnight():
    assert in_active_hours("22:00-06:00", 23 * 60)
    assert in_active_hours("22:00-06:00", 0)
    assert not in_active_hours("22:00-06:00", 6 * 60)
    assert not in_active_hours("22:00-06:00", 12 * 60)
    assert in_active_hours("06:30-20:00", 6 * 60 + 30)
    assert not in_active_hours("06:30-20:00", 20 * 60)
    assert in_active_hours(None, 3)


def test_a_hand_edited_stored_config_falls_back_to_defaults_field_by_field():
    stored = {"version": 4, "interval_s": 0, "image_mode": "vga", "colour": "sepia", "pir": 1}
    config = DeviceConfig.from_json(stored)
    assert (config.version, config.interval_s, config.image_mode) == (4, 300, "vga")
    assert config.pir is DeviceConfig().pir
    assert DeviceConfig.from_json("not a dict") == DeviceConfig()
    assert DeviceConfig.from_json({"version": True}).version == 0


def test_limits_name_every_setting():
    assert set(limits()) == set(SETTINGS)


_TIME = st.tuples(st.integers(0, 23), st.integers(0, 59)).map(lambda t: f"{t[0]:02d}:{t[1]:02d}")
_VALID = {
    "interval_s": st.integers(5, 86_400),
    "checkin_s": st.integers(10, 86_400),
    "image_mode": st.sampled_from(list(IMAGE_MODES)),
    "jpeg_quality": st.sampled_from(["high", "default", "low"]),
    "pir": st.booleans(),
    "battery_mode": st.booleans(),
    "active_hours": st.none() | st.tuples(_TIME, _TIME).filter(lambda t: t[0] != t[1]).map(
        lambda t: f"{t[0]}-{t[1]}"
    ),
}
# The machine is shared: generation time says nothing about the code under test.
_SHARED_MACHINE = hypothesis_settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
_ANYTHING = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)


@_SHARED_MACHINE
@given(st.fixed_dictionaries({}, optional=_VALID))
def test_valid_changes_round_trip_and_bump_once(changes: dict[str, Any]):
    before = DeviceConfig()
    after = apply_changes(before, **changes)
    assert DeviceConfig.from_json(after.to_json()) == after
    differs = any(getattr(before, name) != value for name, value in changes.items())
    assert after.version == (1 if differs else 0)


@_SHARED_MACHINE
@given(st.dictionaries(st.sampled_from([*SETTINGS, "version", "bogus"]), _ANYTHING, max_size=4))
def test_any_input_is_either_a_valid_config_or_a_refusal(changes: dict[str, Any]):
    try:
        config = apply_changes(DeviceConfig(), **changes)
    except Refusal as refusal:
        assert refusal.status == 400 and refusal.code in {"bad_setting", "unknown_setting"}
        return
    for name in SETTINGS:
        assert check_setting(name, getattr(config, name)) == getattr(config, name)


@_SHARED_MACHINE
@given(_TIME, _TIME, st.integers(0, 1439))
def test_a_window_and_its_reverse_split_the_day(start: str, end: str, minute: int):
    if start == end:
        return
    assert in_active_hours(f"{start}-{end}", minute) != in_active_hours(f"{end}-{start}", minute)
