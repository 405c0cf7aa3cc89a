"""Issue 13 at the ingest: each attack that broke it, as the regression test named after it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from camcloud.devices import new_key
from camcloud.validation import JpegError, jpeg_length
from ingest.wiring import Services, build_services
from tests.conftest import jpeg_bytes
from tests.hostile_jpegs import fill_flood, scan_bomb
from tests.ingest_support import (
    Bucket,
    FakeClock,
    LiveIngest,
    post,
    raw_request,
    upload_request,
)

DEVICE = "cam-1"


class GetCounter:
    """Counts the S3 GetObject calls a client makes (a botocore event hook, no mock)."""

    def __init__(self, client: Any) -> None:
        self.count = 0
        client.meta.events.register("before-call.s3.GetObject", self._seen)

    def _seen(self, **_: Any) -> None:
        self.count += 1


def services_for(bucket: Bucket, clock: FakeClock, **changes: Any) -> Services:
    """The ingest services (no HTTP) on ``bucket`` with settings ``changes``."""
    return build_services(bucket.settings.with_changes(**changes), bucket.client, clock.clock())


@pytest.fixture
def live(ingest_bucket: Bucket) -> Iterator[tuple[LiveIngest, str]]:
    """The ingest over HTTP with a registered camera: (server, its key)."""
    key = ingest_bucket.add_device(DEVICE)
    settings = ingest_bucket.settings.with_changes(auth_failure_burst=3)
    with LiveIngest(settings) as server:
        yield server, key


def parse_status(raw: bytes) -> tuple[int, dict[str, Any]]:
    """Status and JSON body of a raw HTTP/1.1 response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


# --- item 5: "Content-Length: ²" gave a 500 ---------------------------------------------------


def test_content_length_with_a_non_ascii_digit_is_400_not_500(
    live: tuple[LiveIngest, str],
) -> None:
    # Given a request whose Content-Length is "²" (a digit to str.isdigit, not to int)
    server, key = live
    head = (f"POST /upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
            "Content-Type: image/jpeg\r\nConnection: close\r\nContent-Length: ").encode()
    # When it arrives
    status, document = parse_status(raw_request(server.port, head + b"\xb2\r\n\r\n\xff\xd8"))
    # Then it is refused as a malformed length, not answered with an internal error
    assert (status, document["error"]) == (400, "bad_content_length")


def test_content_length_with_a_non_ascii_digit_is_refused_by_the_service(
    ingest_bucket: Bucket,
) -> None:
    key = ingest_bucket.add_device(DEVICE)
    services = services_for(ingest_bucket, FakeClock())
    for value in ("²", "١٢", "12\u00a0"):
        request = upload_request(b"\xff\xd8\xff\xd9", key=key)
        request.headers["Content-Length"] = value
        outcome = services.ingest.accept(request)
        assert (outcome.status, outcome.body["error"]) == (400, "bad_content_length"), value


# --- items 2 and 4 at the door: refused before anything is stored ------------------------------


@pytest.mark.parametrize(
    "body",
    [scan_bomb(10_000), fill_flood(8 * 1024 * 1024)],
    ids=["progressive_scan_bomb_4000x4000_10000_scans", "fill_byte_flood_8MiB"],
)
def test_hostile_jpeg_is_refused_at_the_door(live: tuple[LiveIngest, str],
                                             ingest_bucket: Bucket, body: bytes) -> None:
    # Given a JPEG that costs seconds of CPU to decode (or to walk byte by byte)
    server, key = live
    with pytest.raises(JpegError) as refused:
        jpeg_length(body)
    # When a camera uploads it
    http = urllib3.PoolManager(retries=False, timeout=30.0)
    response = post(http, server.url, key, body, {"X-Capture-Id": "hostile-1"})
    # Then the ingest answers 400 with the validation's code and stores nothing
    assert response.status == 400, response.data
    assert json.loads(response.data)["error"] == refused.value.code
    assert ingest_bucket.raw_keys() == []


# --- item 7: unbounded device cache -------------------------------------------------------------


def test_never_seen_device_ids_do_not_grow_the_device_cache_without_bound(
    ingest_bucket: Bucket,
) -> None:
    # Given an ingest whose device cache holds 8 ids, and a generous failure budget
    clock = FakeClock()
    services = services_for(ingest_bucket, clock, key_cache_entries=8, auth_failure_burst=1000)
    gets = GetCounter(ingest_bucket.client)
    # When 9 never-seen device ids are tried, then the first one again
    for number in range(9):
        request = upload_request(jpeg_bytes(), key=f"cc1_ghost-{number}_secret")
        assert services.ingest.accept(request).status == 401
    before = gets.count
    services.ingest.accept(upload_request(jpeg_bytes(), key="cc1_ghost-0_secret"))
    # Then the first id was forgotten to make room (looked up again): memory stays bounded
    assert gets.count == before + 1


def test_an_unknown_device_is_remembered_as_unknown_for_seconds_only(
    ingest_bucket: Bucket,
) -> None:
    # Given a camera that uploads before it is registered
    clock = FakeClock()
    services = services_for(ingest_bucket, clock, key_cache_seconds=30.0)
    early_key = new_key(DEVICE)
    assert services.ingest.accept(upload_request(jpeg_bytes(), key=early_key)).status == 401
    gets = GetCounter(ingest_bucket.client)
    # When it retries at once, the miss is cached: no S3 read
    assert services.ingest.accept(upload_request(jpeg_bytes(), key=early_key)).status == 401
    assert gets.count == 0
    # When it is registered and retries a few seconds later (well within the record cache time)
    _, key = ingest_bucket.registry.add(DEVICE)
    clock.advance(6.0)
    # Then it is recognised
    outcome = services.ingest.accept(upload_request(jpeg_bytes(), key=key))
    assert outcome.status == 201, outcome.body


def test_repeated_bad_keys_from_one_address_get_429_with_retry_after(
    ingest_bucket: Bucket,
) -> None:
    # Given an ingest that allows 3 failed authentications per address, then 1 a minute
    clock = FakeClock()
    key = ingest_bucket.add_device(DEVICE)
    services = services_for(ingest_bucket, clock, auth_failure_burst=3,
                            auth_failures_per_minute=1.0)
    attacker, camera = "198.51.100.7", "192.0.2.10"

    def guess(number: int) -> Any:
        return services.ingest.accept(
            upload_request(jpeg_bytes(), key=f"cc1_guess-{number}_x", address=attacker))

    # When one address keeps guessing device ids
    statuses = [guess(number).status for number in range(3)]
    limited = guess(3)
    # Then after its budget it gets 429 with a time to come back...
    assert statuses == [401, 401, 401]
    assert (limited.status, limited.body["error"]) == (429, "rate_limited")
    assert int(limited.headers["Retry-After"]) >= 1
    # ...its further guesses cost no S3 read, even with a valid key
    gets = GetCounter(ingest_bucket.client)
    assert guess(4).status == 429
    assert services.ingest.accept(
        upload_request(jpeg_bytes(), key=key, address=attacker)).status == 429
    assert gets.count == 0
    # ...a camera at another address is not affected
    assert services.ingest.accept(
        upload_request(jpeg_bytes(), key=key, address=camera)).status == 201
    # ...and once the wait has passed, the address is heard again
    clock.advance(int(limited.headers["Retry-After"]))
    assert guess(5).status == 401


def test_failure_budget_behind_nginx_is_per_real_client_address(
    live: tuple[LiveIngest, str],
) -> None:
    # Given the ingest behind the local nginx, which names the client in X-Real-IP
    server, _ = live
    http = urllib3.PoolManager(retries=False, timeout=10.0)

    def guess(address: str) -> int:
        response = post(http, server.url, "cc1_nobody_x", jpeg_bytes(),
                        {"X-Real-IP": address})
        return int(response.status)

    # When one client spends its budget of 3 failures
    statuses = [guess("203.0.113.5") for _ in range(4)]
    # Then it is limited, and another client behind the same nginx is not
    assert statuses == [401, 401, 401, 429]
    assert guess("203.0.113.6") == 401
