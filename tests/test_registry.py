"""Device keys and gallery users: random keys stored hashed, revocable; scrypt passwords."""

from __future__ import annotations

import json

import pytest

from camcloud.devices import AuthError, DeviceError, DeviceRegistry, hash_key
from camcloud.users import UserError, UserStore, check_password, hash_password
from tests.conftest import BUCKET


def test_a_new_key_authenticates_its_device_and_only_its_hash_is_stored(s3, registry):
    # Given a registered camera
    record, key = registry.add("garden", name="Garden")
    # When it presents its key
    authenticated = registry.authenticate(key)
    # Then the key identifies the device, and S3 holds only a hash of it
    assert authenticated.device == "garden"
    stored = s3.get_object(Bucket=BUCKET, Key="devices/garden.json")["Body"].read().decode()
    assert key not in stored
    assert json.loads(stored)["key_hash"] == hash_key(key)
    assert len(key.split("_", 2)[2]) >= 32  # >= 192 bits, URL-safe base64


@pytest.mark.parametrize("key", [None, "", "nonsense", "cc1_garden_wrong", "cc1_nobody_abc",
                                 "cc1_GARDEN_x", "cc1__x"])
def test_missing_or_wrong_keys_are_401(registry, key):
    registry.add("garden")
    with pytest.raises(AuthError) as caught:
        registry.authenticate(key)
    assert caught.value.status == 401


def test_a_revoked_key_is_403_once_the_cache_expires(s3):
    # Given an ingest-side registry with a 30 s cache and a registered camera
    now = [1000.0]
    ingest_view = DeviceRegistry(lambda: s3, BUCKET, cache_seconds=30, clock=lambda: now[0])
    admin_view = DeviceRegistry(lambda: s3, BUCKET)
    _, key = admin_view.add("garden")
    assert ingest_view.authenticate(key).device == "garden"
    # When the owner revokes it
    admin_view.revoke("garden")
    # Then the key keeps working at most until the cache expires, and is refused after
    now[0] += 31
    with pytest.raises(AuthError) as caught:
        ingest_view.authenticate(key)
    assert (caught.value.status, caught.value.code) == (403, "revoked")


def test_a_device_id_header_must_match_the_key(registry):
    _, key = registry.add("garden")
    with pytest.raises(AuthError) as caught:
        registry.authenticate(key, claimed_device="porch")
    assert caught.value.status == 403


def test_adding_an_existing_device_needs_an_explicit_rotation(registry):
    _, old_key = registry.add("garden")
    with pytest.raises(DeviceError, match="exists"):
        registry.add("garden")
    _, new_key = registry.add("garden", replace=True)
    assert registry.authenticate(new_key).device == "garden"
    with pytest.raises(AuthError):
        registry.authenticate(old_key)


def test_rotation_setting_is_validated_and_listed(registry):
    registry.add("porch", rotation=90)
    registry.add("garden")
    with pytest.raises(DeviceError):
        registry.update("garden", rotation=45)
    assert [(r.device, r.rotation) for r in registry.list()] == [("garden", 0), ("porch", 90)]


def test_password_hashes_are_salted_and_verifiable():
    first, second = hash_password("hunter22"), hash_password("hunter22")
    assert first != second
    assert check_password("hunter22", first)
    assert not check_password("hunter23", first)
    assert not check_password("hunter22", "garbage")


def test_gallery_users_can_be_added_listed_verified_and_removed(s3):
    users = UserStore(lambda: s3, BUCKET)
    users.add("alice", "correct horse")
    assert users.list() == ["alice"]
    assert users.verify("alice", "correct horse")
    assert not users.verify("alice", "wrong horse")
    assert not users.verify("mallory", "correct horse")
    assert not users.verify("../etc", "x" * 10)
    with pytest.raises(UserError, match="exists"):
        users.add("alice", "another password")
    with pytest.raises(UserError, match="at least"):
        users.add("bob", "short")
    users.remove("alice")
    assert users.list() == []
