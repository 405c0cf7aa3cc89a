"""The ingest service without HTTP: Ingest.accept(Request) -> Outcome, on a clock the test moves."""

from __future__ import annotations

import threading

from ingest import create_app, start_background
from ingest.wiring import Services, build_services, make_ingest_client
from tests.conftest import jpeg_bytes
from tests.ingest_support import Bucket, FakeClock, FaultProxy, upload_request

DEVICE = "cam-1"


def through_proxy(bucket: Bucket, fault_proxy: FaultProxy, clock: FakeClock) -> Services:
    """The services with S3 reached through ``proxy`` (the ingest's own short timeouts)."""
    settings = bucket.settings.with_changes(s3_endpoint=fault_proxy.url)
    return build_services(settings, make_ingest_client(settings), clock.clock())


def queued(services: Services) -> int:
    """Entries waiting in the spool."""
    return len(services.spool.names())


def test_breaker_sends_uploads_to_the_spool_until_it_half_opens(ingest_bucket: Bucket,
                                                                fault_proxy: FaultProxy) -> None:
    # Given a camera the ingest has seen while S3 was up
    clock = FakeClock()
    key = ingest_bucket.add_device(DEVICE)
    services = through_proxy(ingest_bucket, fault_proxy, clock)

    def upload(capture_id: str) -> int:
        request = upload_request(jpeg_bytes(colour=(len(capture_id), 2, 3)),
                                 {"X-Capture-Id": capture_id}, key=key)
        return services.ingest.accept(request).status

    assert upload("up-1") == 201
    # When S3 starts refusing connections, the first upload tries it and is spooled
    fault_proxy.set_mode("refuse")
    assert upload("down-1") == 202
    tried = fault_proxy.counts["refused"]
    assert tried > 0
    # Then, while the breaker is open, uploads go straight to the spool: no S3 attempt
    clock.advance(services.health.open_seconds / 2)
    assert upload("down-2") == 202
    assert fault_proxy.counts["refused"] == tried
    # ...once it half-opens, one upload tries S3 again
    clock.advance(services.health.open_seconds)
    assert upload("down-3") == 202
    assert fault_proxy.counts["refused"] > tried
    # ...and when S3 is back, the next try closes it: stored directly again
    fault_proxy.set_mode("pass")
    clock.advance(services.health.open_seconds + 0.1)
    assert upload("up-2") == 201
    assert services.health.open is False
    assert queued(services) == 3


def test_drain_within_uploads_the_spool_once_s3_is_back(ingest_bucket: Bucket,
                                                        fault_proxy: FaultProxy) -> None:
    # Given two captures spooled while S3 was down
    clock = FakeClock()
    key = ingest_bucket.add_device(DEVICE)
    services = through_proxy(ingest_bucket, fault_proxy, clock)
    assert services.ingest.accept(upload_request(jpeg_bytes(), key=key)).status == 201
    fault_proxy.set_mode("refuse")
    for index in range(2):
        request = upload_request(jpeg_bytes(colour=(index, 0, 0)), {"X-Capture-Id": f"q-{index}"},
                                 key=key)
        assert services.ingest.accept(request).status == 202
    # When S3 is back and the drainer runs in the foreground (no thread was started)
    fault_proxy.set_mode("pass")
    assert services.drainer.drain_within(30.0) is True
    # Then the spool is empty and both captures are in S3
    assert queued(services) == 0
    assert len(ingest_bucket.raw_keys(f"raw/{DEVICE}/")) == 3


def drainer_threads() -> list[threading.Thread]:
    """The spool drainer threads running in this process."""
    return [thread for thread in threading.enumerate()
            if thread.name == "camcloud-spool-drainer" and thread.is_alive()]


def test_building_the_app_starts_no_thread_start_background_does(ingest_bucket: Bucket) -> None:
    # Given the ingest app built as a test or the WSGI module builds it
    before = drainer_threads()
    app = create_app(ingest_bucket.settings, ingest_bucket.client)
    # Then building it started nothing
    assert drainer_threads() == before
    # When the worker hook starts its background work
    stop = start_background(app)
    # Then the drainer runs until the returned function stops it
    assert len(drainer_threads()) == len(before) + 1
    stop()
    assert drainer_threads() == before
