"""Idempotency under concurrency: many cameras at once, and concurrent retries of one capture."""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from camcloud import layout
from camcloud.simulate import CameraSimulator
from tests.conftest import jpeg_bytes
from tests.ingest_support import Bucket, LiveIngest


@pytest.fixture
def live(ingest_bucket: Bucket) -> Iterator[LiveIngest]:
    """The ingest over HTTP."""
    with LiveIngest(ingest_bucket.settings) as server:
        yield server


def concurrently(count: int, send: Any) -> list[Any]:
    """Call ``send()`` from ``count`` threads released at the same instant."""
    barrier = threading.Barrier(count)
    answers: list[Any] = [None] * count

    def worker(index: int) -> None:
        barrier.wait()
        answers[index] = send()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Capture-Id": "same-1", "X-Captured-At": "2025-06-01T08:00:00.250Z"},
        {"X-Capture-Id": "same-2"},  # no clock: the key is reserved under ids/
        {},  # no capture id: the sha256 stands in
    ],
    ids=["device-clock", "server-clock", "no-capture-id"],
)
def test_concurrent_retries_store_one_original(ingest_bucket: Bucket, live: LiveIngest,
                                               headers: dict[str, str]) -> None:
    # Given one capture sent by 16 connections at the same instant
    key = ingest_bucket.add_device("cam-1")
    image = jpeg_bytes(colour=(200, 10, 10))
    http = urllib3.PoolManager(maxsize=16, retries=False, timeout=20.0)
    sent = {"Authorization": f"Bearer {key}", "Content-Type": "image/jpeg", **headers}
    # When they race
    answers = concurrently(16, lambda: http.request("POST", live.url + "/upload", body=image,
                                                    headers=sent))
    # Then one created it, the others were told it is a duplicate of the same key
    statuses = Counter(answer.status for answer in answers)
    assert statuses == {201: 1, 200: 15}, statuses
    keys = {json.loads(answer.data)["key"] for answer in answers}
    assert len(keys) == 1
    assert ingest_bucket.raw_keys() == list(keys)


def test_32_cameras_x_50_uploads_with_retries(ingest_bucket: Bucket, live: LiveIngest) -> None:
    # Given 32 cameras that each send 50 tiny frames and resend a fifth of them
    cameras = []
    for number in range(32):
        key = ingest_bucket.add_device(f"cam-{number}")
        cameras.append(CameraSimulator(
            url=live.url + "/upload", key=key, count=50, width=32, height=24, retries=6,
            seed=number, resend_probability=0.2,
            sleep=lambda seconds: None,
        ))
    results: dict[int, Any] = {}

    def run(number: int) -> None:
        results[number] = cameras[number].run()

    # When they all upload at once
    threads = [threading.Thread(target=run, args=(n,)) for n in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then nothing failed, nothing is missing and nothing is stored twice
    errors = [error for result in results.values() for error in result.errors]
    assert errors == []
    assert all(result.stored == 50 for result in results.values())
    assert sum(result.duplicates for result in results.values()) > 0  # resends were answered
    for number in range(32):
        boot = f"{random.Random(number).getrandbits(32):08x}"
        keys = ingest_bucket.raw_keys(layout.device_raw_prefix(f"cam-{number}"))
        ids = Counter(layout.parse_key(key).capture_id for key in keys)
        assert set(ids) == {f"sim-{boot}-{i}" for i in range(50)}
        assert set(ids.values()) == {1}
