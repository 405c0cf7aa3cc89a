"""Settings: one typed object, failing at start with a message naming the bad variable."""

from __future__ import annotations

import pytest

from camcloud.settings import Settings, SettingsError


def test_defaults_need_only_a_bucket():
    settings = Settings.from_env({"CAMCLOUD_BUCKET": "photos"})
    assert settings.bucket == "photos"
    assert settings.max_upload_bytes == 8 * 1024 * 1024
    assert settings.presign_ttl == 900
    assert settings.gallery_login is True
    assert settings.s3_endpoint is None


def test_missing_bucket_names_the_variable():
    with pytest.raises(SettingsError, match="CAMCLOUD_BUCKET.*required") as caught:
        Settings.from_env({})
    assert caught.value.variable == "CAMCLOUD_BUCKET"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CAMCLOUD_MAX_UPLOAD_BYTES", "lots"),
        ("CAMCLOUD_MAX_UPLOAD_BYTES", "0"),
        ("CAMCLOUD_PRESIGN_TTL", "-5"),
        ("CAMCLOUD_RATE_PER_MINUTE", "inf"),
        ("CAMCLOUD_GALLERY_LOGIN", "maybe"),
        ("CAMCLOUD_LOG_LEVEL", "LOUD"),
    ],
)
def test_bad_values_name_the_variable(variable, value):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"CAMCLOUD_BUCKET": "photos", variable: value})
    assert caught.value.variable == variable
    assert variable in str(caught.value)


def test_values_are_parsed_to_their_types():
    settings = Settings.from_env(
        {
            "CAMCLOUD_BUCKET": "photos",
            "CAMCLOUD_MAX_UPLOAD_BYTES": "1048576",
            "CAMCLOUD_RATE_PER_MINUTE": "2.5",
            "CAMCLOUD_GALLERY_LOGIN": "off",
            "CAMCLOUD_S3_ENDPOINT": "http://127.0.0.1:5000",
        }
    )
    assert settings.max_upload_bytes == 1_048_576
    assert settings.rate_per_minute == 2.5
    assert settings.gallery_login is False
    assert settings.s3_endpoint == "http://127.0.0.1:5000"


def test_region_falls_back_to_the_aws_variables():
    settings = Settings.from_env({"CAMCLOUD_BUCKET": "photos", "AWS_REGION": "eu-west-1"})
    assert settings.region == "eu-west-1"


def test_as_env_round_trips():
    settings = Settings.from_env({"CAMCLOUD_BUCKET": "photos", "CAMCLOUD_GALLERY_LOGIN": "off"})
    assert Settings.from_env(settings.as_env()) == settings
