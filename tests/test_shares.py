"""Share links: unguessable, stored hashed, dead on revoke and expiry, and never reaching any key
beyond what was shared."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from camcloud import shares
from camcloud.errors import Refusal
from camcloud.layout import CaptureRef
from camcloud.s3 import iter_keys, put_json
from tests.conftest import BUCKET, jpeg_bytes
from tests.test_export import at, put_capture
from tests.test_status import Clock, RequestCounter

DAY = 86400


@pytest.fixture
def clock() -> Clock:
    """Now: 2026-11-30 18:00 UTC."""
    return Clock(at(30, 18) / 1000)


@pytest.fixture
def store(s3: Any, clock: Clock) -> shares.ShareStore:
    """The share store of the test bucket on the injected clock."""
    return shares.ShareStore(s3, BUCKET, clock=clock)


@pytest.fixture
def bucket(s3: Any) -> dict[str, CaptureRef]:
    """A bucket with two cameras' captures on two days, their derived keys, a time-lapse, and
    the private objects no share may ever reach."""
    refs = {
        "noon": put_capture(s3, "cam-1", at(30, 12), "noon", jpeg_bytes()),
        "evening": put_capture(s3, "cam-1", at(30, 17), "evening", jpeg_bytes()),
        "yesterday": put_capture(s3, "cam-1", at(29, 12), "noon", jpeg_bytes()),
        "other": put_capture(s3, "cam-2", at(30, 12), "noon", jpeg_bytes()),
    }
    for ref in refs.values():
        for key in (ref.thumb_key, ref.preview_key, ref.meta_key):
            s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    for key in ("timelapse/cam-1/2026-11-30.mp4", "timelapse/cam-1/2026-11-30.json",
                "timelapse/cam-2/2026-11-30.mp4", "users/alice.json", "devices/cam-1.json",
                "firmware/1.5.0/firmware.bin", "alerts/targets.json"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"private")
    return refs


def every_key(s3: Any) -> list[str]:
    return list(iter_keys(s3, BUCKET, ""))


def test_token_is_random_and_only_its_hash_is_stored(
    s3: Any, store: shares.ShareStore, bucket: dict[str, CaptureRef]
) -> None:
    # When a capture is shared twice
    token, share = store.create(user="alice", capture=bucket["noon"].id, ttl_s=DAY)
    other, _ = store.create(user="alice", capture=bucket["noon"].id, ttl_s=DAY)
    # Then the tokens are 256-bit and different, and the share is named by the token's hash
    assert len(token) == 43 and token != other
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert f"shares/{digest}.json" in every_key(s3)
    # And the token itself is nowhere in the bucket
    for key in every_key(s3):
        assert token not in key
        assert token.encode() not in s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert share.id == digest[:16]


def test_share_opens_without_login_and_dies_on_revoke(
    store: shares.ShareStore, bucket: dict[str, CaptureRef]
) -> None:
    token, share = store.create(user="alice", capture=bucket["noon"].id, ttl_s=DAY)
    # Given a link anyone may open: it shows the capture
    opened = store.resolve(token)
    assert opened is not None and opened.capture == bucket["noon"].id
    # When it is revoked
    store.revoke(share.id, user="alice")
    # Then it opens nothing, at once
    assert store.resolve(token) is None


def test_share_dies_on_expiry(clock: Clock, store: shares.ShareStore,
                              bucket: dict[str, CaptureRef]) -> None:
    token, _ = store.create(user="alice", capture=bucket["noon"].id, ttl_s=3600)
    clock.advance(3599)
    assert store.resolve(token) is not None
    clock.advance(1)
    assert store.resolve(token) is None


def test_revoked_expired_and_unknown_look_the_same(
    s3: Any, clock: Clock, store: shares.ShareStore, bucket: dict[str, CaptureRef]
) -> None:
    revoked, share = store.create(user="alice", capture=bucket["noon"].id, ttl_s=DAY)
    store.revoke(share.id)
    expired, _ = store.create(user="alice", capture=bucket["noon"].id, ttl_s=3600)
    clock.advance(2 * 3600)
    unknown = "A" * 43
    assert [store.resolve(t) for t in (revoked, expired, unknown)] == [None, None, None]


@pytest.mark.parametrize("token", ["", "short", "A" * 44, "../users/alice", "A" * 42 + "/",
                                   "A" * 42 + "\u00e9", "A" * 10_000])
def test_malformed_token_costs_no_s3_request(s3: Any, store: shares.ShareStore,
                                             token: str) -> None:
    counter = RequestCounter(s3)
    assert store.resolve(token) is None
    assert counter.calls == {}


def test_record_stored_under_another_hash_opens_nothing(
    s3: Any, store: shares.ShareStore, bucket: dict[str, CaptureRef]
) -> None:
    # Given a share record copied under the hash of a different token
    _, share = store.create(user="alice", capture=bucket["noon"].id, ttl_s=DAY)
    forged = "B" * 43
    put_json(s3, BUCKET, shares.share_key(shares.token_hash(forged)), share.to_json())
    # Then that token opens nothing (the stored hash is compared, in constant time)
    assert store.resolve(forged) is None


def test_capture_share_presigns_its_thumbnail_and_preview_only(
    s3: Any, store: shares.ShareStore, bucket: dict[str, CaptureRef]
) -> None:
    _, share = store.create(user="alice", capture=bucket["noon"].id, ttl_s=DAY)
    noon = bucket["noon"]
    assert shares.allowed_keys(share, s3, BUCKET) == [noon.thumb_key, noon.preview_key]
    # Every other key in the bucket is refused: the original (no download permission), the
    # metadata, other captures, the same capture id on another camera or day, private objects
    allowed = {noon.thumb_key, noon.preview_key}
    for key in every_key(s3):
        assert shares.may_presign(share, key) == (key in allowed), key


def test_download_permission_adds_the_original(
    s3: Any, store: shares.ShareStore, bucket: dict[str, CaptureRef]
) -> None:
    _, share = store.create(user="alice", capture=bucket["noon"].id, ttl_s=DAY, download=True)
    assert bucket["noon"].raw_key in shares.allowed_keys(share, s3, BUCKET)
    assert shares.may_presign(share, bucket["noon"].raw_key)
    assert not shares.may_presign(share, bucket["other"].raw_key)


def test_day_share_reaches_that_camera_on_that_day_only(
    s3: Any, store: shares.ShareStore, bucket: dict[str, CaptureRef]
) -> None:
    _, share = store.create(user="alice", device="cam-1", date="2026-11-30", ttl_s=DAY)
    allowed = shares.allowed_keys(share, s3, BUCKET)
    assert sorted(allowed) == sorted([bucket["noon"].thumb_key, bucket["noon"].preview_key,
                                      bucket["evening"].thumb_key, bucket["evening"].preview_key])
    for key in every_key(s3):
        assert shares.may_presign(share, key) == (key in allowed), key


def test_timelapse_share_reaches_that_video_only(
    s3: Any, store: shares.ShareStore, bucket: dict[str, CaptureRef]
) -> None:
    _, share = store.create(user="alice", timelapse="timelapse/cam-1/2026-11-30.mp4",
                            ttl_s=7 * DAY)
    assert shares.allowed_keys(share, s3, BUCKET) == ["timelapse/cam-1/2026-11-30.mp4"]
    for key in every_key(s3):
        assert shares.may_presign(share, key) == (key == "timelapse/cam-1/2026-11-30.mp4"), key


@pytest.mark.parametrize("arguments", [
    {},
    {"capture": "cam-1_0000000000001_x", "timelapse": "timelapse/cam-1/2026-11-30.mp4"},
    {"capture": "../users/alice"},
    {"timelapse": "users/alice.json"},
    {"timelapse": "timelapse/../users/alice.mp4"},
    {"device": "cam-1"},
    {"device": "../users", "date": "2026-11-30"},
    {"device": "cam-1", "date": "2026-11-31"},
])
def test_bad_share_requests_are_refused(store: shares.ShareStore,
                                        arguments: dict[str, Any]) -> None:
    with pytest.raises(Refusal) as refused:
        store.create(user="alice", ttl_s=DAY, **arguments)
    assert refused.value.status == 400


def test_sharing_what_does_not_exist_is_a_404(store: shares.ShareStore,
                                              bucket: dict[str, CaptureRef]) -> None:
    missing = CaptureRef.new("cam-1", at(30, 9), "ghost").id
    with pytest.raises(Refusal) as refused:
        store.create(user="alice", capture=missing, ttl_s=DAY)
    assert refused.value.status == 404
    with pytest.raises(Refusal):
        store.create(user="alice", timelapse="timelapse/cam-1/2026-11-29.mp4", ttl_s=DAY)


@pytest.mark.parametrize("ttl", [3599, 30 * DAY + 1, 0, -5])
def test_expiry_outside_one_hour_to_thirty_days_is_refused(store: shares.ShareStore,
                                                           bucket: dict[str, CaptureRef],
                                                           ttl: int) -> None:
    with pytest.raises(Refusal, match="between 1 hour and 30 days"):
        store.create(user="alice", capture=bucket["noon"].id, ttl_s=ttl)


@pytest.mark.parametrize(("text", "seconds"), [("1h", 3600), ("90m", 5400), ("7d", 7 * DAY),
                                               ("1d12h", 36 * 3600), ("30d", 30 * DAY)])
def test_ttl_text(text: str, seconds: int) -> None:
    assert shares.parse_ttl(text) == seconds


@pytest.mark.parametrize("text", ["", "1", "31d", "59m", "1w", "h", "1h 2x", "-1h"])
def test_bad_ttl_text_is_refused(text: str) -> None:
    with pytest.raises(Refusal):
        shares.parse_ttl(text)


def test_shares_are_listed_per_user_and_only_the_creator_revokes(
    store: shares.ShareStore, clock: Clock, bucket: dict[str, CaptureRef]
) -> None:
    _, first = store.create(user="alice", capture=bucket["noon"].id, ttl_s=DAY)
    clock.advance(10)
    _, second = store.create(user="alice", device="cam-1", date="2026-11-30", ttl_s=DAY)
    _, bobs = store.create(user="bob", capture=bucket["noon"].id, ttl_s=DAY)
    assert [s.id for s in store.list_shares("alice")] == [second.id, first.id]
    assert [s.id for s in store.list_shares("bob")] == [bobs.id]
    with pytest.raises(Refusal) as refused:
        store.revoke(bobs.id, user="alice")
    assert refused.value.status == 404
    with pytest.raises(Refusal) as refused:
        store.revoke("not-an-id")
    assert refused.value.status == 400
    assert "revoked" in shares.describe(store.revoke(bobs.id, user="bob"))


def test_guessing_client_is_limited_and_a_good_link_from_elsewhere_still_works(
    store: shares.ShareStore, bucket: dict[str, CaptureRef]
) -> None:
    # Given a guess limiter of 10 misses a minute with a burst of 20
    monotonic = Clock(1000.0)
    limiter = shares.GuessLimiter(10, 20, clock=monotonic)
    token, _ = store.create(user="alice", capture=bucket["noon"].id, ttl_s=DAY)
    # When one address tries made-up tokens: the burst, and one more that is looked up and
    # found wanting
    for n in range(21):
        assert shares.open_share(store, limiter, "203.0.113.9", f"{n:043d}") is None
    # Then the next try is refused with a Retry-After, whatever the token
    with pytest.raises(Refusal) as refused:
        shares.open_share(store, limiter, "203.0.113.9", token)
    assert refused.value.status == 429 and int(refused.value.headers["Retry-After"]) >= 1
    # And another address opens the real link
    assert shares.open_share(store, limiter, "198.51.100.7", token) is not None
    # And after waiting, the first address may try again
    monotonic.advance(6)
    assert shares.open_share(store, limiter, "203.0.113.9", token) is not None


def test_good_links_never_count_as_guesses(store: shares.ShareStore,
                                           bucket: dict[str, CaptureRef]) -> None:
    limiter = shares.GuessLimiter(10, 20, clock=Clock(1000.0))
    token, _ = store.create(user="alice", capture=bucket["noon"].id, ttl_s=DAY)
    for _ in range(100):
        assert shares.open_share(store, limiter, "203.0.113.9", token) is not None
