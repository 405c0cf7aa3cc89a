"""Gallery users: werkzeug password hashes, hashes of the first format, revocable sessions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from camcloud import layout
from camcloud.users import UserError, UserStore

# Made by the first version of camcloud/users.py (hash_password of commit 772bb60) for the
# password below: a record written before werkzeug hashed the passwords.
OLD_PASSWORD = "correct horse battery"
OLD_HASH = ("scrypt$16384$8$1$oczu4WrFFHhz_pygdSNnGA==$"
            "Rs7Skk8C1TRPakOtBsvNO2ZeXBj97brFMNuXmyDdEZE=")


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record_of(s3: Any, bucket: str, name: str) -> dict[str, Any]:
    """The stored user record."""
    body = s3.get_object(Bucket=bucket, Key=layout.user_key(name))["Body"].read()
    return dict(json.loads(body))


@pytest.fixture
def clock() -> FakeClock:
    """The user store's clock."""
    return FakeClock()


@pytest.fixture
def store(s3: Any, settings: Any, clock: FakeClock) -> UserStore:
    """The test bucket's users, with a clock of the test's own."""
    return UserStore(lambda: s3, settings.bucket, clock=clock)


def test_a_password_hash_of_the_first_format_still_logs_in_and_is_rehashed(store, s3, settings):
    # Given a user record written by the first version (no session version, old hash form)
    s3.put_object(Bucket=settings.bucket, Key=layout.user_key("olga"), Body=json.dumps({
        "schema": 1, "name": "olga", "password_hash": OLD_HASH,
        "created_at": "2026-01-01T00:00:00+00:00"}).encode())
    # When a wrong password and then the right one are tried
    wrong = store.login("olga", "wrong horse battery")
    right = store.login("olga", OLD_PASSWORD)
    # Then only the right one logs in, and the stored hash is now werkzeug's
    assert wrong is None and right == 0
    rehashed = record_of(s3, settings.bucket, "olga")["password_hash"]
    assert rehashed.startswith("scrypt:") and rehashed != OLD_HASH
    # And the rehashed record keeps working, for the same password only
    assert store.login("olga", OLD_PASSWORD) == 0
    assert store.login("olga", "wrong horse battery") is None


def test_new_passwords_are_hashed_by_werkzeug(store, s3, settings):
    # Given a new user / Then the record holds a werkzeug hash and a session version
    store.add("neo", "a long password")
    record = record_of(s3, settings.bucket, "neo")
    assert record["password_hash"].startswith("scrypt:")
    assert store.login("neo", "a long password") == record["session_version"]


def test_a_replaced_password_ends_the_sessions_started_before(store):
    # Given a session of alice
    store.add("alice", "first password")
    version = store.login("alice", "first password")
    assert store.session_alive("alice", version, fresh=True)
    # When her password is replaced (camcloud users add alice --replace)
    store.add("alice", "second password", replace=True)
    # Then the old session is dead, and a new login gets a new, living session
    assert not store.session_alive("alice", version, fresh=True)
    new = store.login("alice", "second password")
    assert new is not None and new != version and store.session_alive("alice", new, fresh=True)


def test_logout_all_ends_every_session_of_that_user_only(store):
    # Given sessions of alice and bob
    store.add("alice", "alice password")
    store.add("bob", "bob password!")
    alice, bob = store.login("alice", "alice password"), store.login("bob", "bob password!")
    # When alice's sessions are all logged out (a lost phone)
    store.logout_all("alice")
    # Then hers are dead and bob's lives
    assert not store.session_alive("alice", alice, fresh=True)
    assert store.session_alive("bob", bob, fresh=True)
    with pytest.raises(UserError, match="no user"):
        store.logout_all("nobody")


def test_a_user_removed_and_added_again_does_not_revive_old_sessions(store):
    # Given a session of alice, then alice removed and added again with the same password
    store.add("alice", "same password")
    version = store.login("alice", "same password")
    store.remove("alice")
    assert not store.session_alive("alice", version, fresh=True)
    store.add("alice", "same password")
    # Then the old session stays dead
    assert not store.session_alive("alice", version, fresh=True)


def test_another_process_revoking_is_seen_within_the_check_interval(s3, settings, clock, store):
    # Given a session checked by the gallery's store, and the CLI's store in another process
    store.add("alice", "alice password")
    version = store.login("alice", "alice password")
    cli = UserStore(lambda: s3, settings.bucket)
    # When the CLI logs alice out everywhere
    cli.logout_all("alice")
    # Then the gallery trusts what it read for a few seconds, and no longer after that
    clock.now += 1
    assert store.session_alive("alice", version)
    clock.now += 15
    assert not store.session_alive("alice", version)


@pytest.mark.parametrize("version", [None, "0", True, 1.0])
def test_a_session_without_a_whole_number_version_is_dead(store, version):
    # Given an old record without a session version (version 0)
    store.add("alice", "alice password")
    # Then a session carrying no version, or not an int, never counts
    assert not store.session_alive("alice", version, fresh=True)
