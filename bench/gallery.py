"""Gallery benchmark: S3 calls and server time per page at 100, 10,000 and 100,000 captures.

Fills an in-process moto bucket with captures across 20 cameras (metadata records and
thumbnails, written straight into moto's backend because 200,000 boto3 puts would take minutes)
and serves, through the Flask test client with a logged-in session, the first page of the
timeline, a page from the middle, and one camera's first page. For each it prints the S3 calls
(counted with botocore's ``before-call`` event), the listing round trip (from the call's
parameter building to its parsed response) and the server time without that round trip.
The session check (a GET of the user's record, at most once per user every
``camcloud.users.SESSION_CHECK_SECONDS``) is not part of any page: it is counted apart.

Goal (docs/benchmarks.md, "Gallery"): the same S3 calls at every size; server time <= 15 ms
per 60-image page plus the listing round trip.

    .venv/bin/python bench/gallery.py [--sizes 100,10000,100000] [--repeat 15]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CAMERAS = 20
BUCKET = "camcloud-bench"
START_MS = 1_767_225_600_000  # 2026-01-01T00:00Z
STEP_MS = 37_000  # one capture every 37 s across the fleet
USER, PASSWORD = "bench", "bench-password-123"


class Meter:
    """Counts S3 calls and times ListObjectsV2 round trips through botocore events."""

    def __init__(self, client: Any) -> None:
        self.calls: list[str] = []
        self.session_checks = 0
        self.listing_s = 0.0
        self.listing_cpu_s = 0.0
        self._started = 0.0
        self._started_cpu = 0.0
        events = client.meta.events
        events.register("before-call.s3", self._call)
        events.register("before-parameter-build.s3.ListObjectsV2", self._start)
        events.register("after-call.s3.ListObjectsV2", self._stop)

    def reset(self) -> None:
        """Forget what was counted so far."""
        self.calls.clear()
        self.listing_s = 0.0
        self.listing_cpu_s = 0.0

    def _call(self, model: Any, params: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if "/users/" in str((params or {}).get("url_path", "")):
            self.session_checks += 1
            return
        self.calls.append(model.name)

    def _start(self, **kwargs: Any) -> None:
        self._started = time.perf_counter()
        self._started_cpu = time.process_time()

    def _stop(self, **kwargs: Any) -> None:
        self.listing_s += time.perf_counter() - self._started
        self.listing_cpu_s += time.process_time() - self._started_cpu


def fill(backend: Any, start: int, stop: int) -> list[str]:
    """Write captures ``start``..``stop`` (record + thumbnail); return their metadata keys."""
    from camcloud.layout import CaptureRef

    meta_keys = []
    record = b'{"schema":1,"status":"ok"}'
    thumb = b"\xff\xd8thumb\xff\xd9"
    for index in range(start, stop):
        ref = CaptureRef.new(f"cam-{index % CAMERAS:02d}", START_MS + index * STEP_MS,
                             f"c{index:07d}")
        backend.put_object(BUCKET, ref.meta_key, record, disable_notification=True)
        backend.put_object(BUCKET, ref.thumb_key, thumb, disable_notification=True)
        meta_keys.append(ref.meta_key)
    return meta_keys


def measure(client: Any, meter: Meter, path: str, repeat: int) -> dict[str, Any]:
    """Serve ``path`` ``repeat`` times; the median total, listing and server-only times."""
    totals, listings, calls, cpus = [], [], [], []
    for _ in range(repeat):
        meter.reset()
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(path)
        total = time.perf_counter() - started
        cpus.append(time.process_time() - started_cpu - meter.listing_cpu_s)
        assert response.status_code == 200, (path, response.status_code)
        tiles = response.get_data(as_text=True).count('<li class="tile"')
        totals.append(total)
        listings.append(meter.listing_s)
        calls.append(tuple(meter.calls))
    servers = [t - listing for t, listing in zip(totals, listings, strict=True)]
    assert len(set(calls)) == 1, calls
    return {
        "tiles": tiles,
        "calls": calls[0],
        "total_ms": statistics.median(totals) * 1000,
        "listing_ms": statistics.median(listings) * 1000,
        "server_ms": statistics.median(servers) * 1000,
        "server_p90_ms": sorted(servers)[int(len(servers) * 0.9) - 1] * 1000,
        # CPU time of the server part: what a loaded machine's wall clock hides.
        "server_cpu_ms": statistics.median(cpus) * 1000,
    }


def main() -> None:
    """Fill, serve, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100,10000,100000")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))

    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                      AWS_DEFAULT_REGION="us-east-1")
    from moto import mock_aws
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    from camcloud.s3 import make_client
    from camcloud.settings import Settings
    from camcloud.users import UserStore
    from gallery import create_app

    with mock_aws():
        settings = Settings.from_env({"CAMCLOUD_BUCKET": BUCKET,
                                      "CAMCLOUD_SECRET_KEY": "bench-secret"})
        s3 = make_client(settings)
        s3.create_bucket(Bucket=BUCKET)
        UserStore(lambda: s3, BUCKET).add(USER, PASSWORD)
        backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
        app = create_app(settings, s3)
        client = app.test_client()
        login = client.get("/login").get_data(as_text=True)
        token = login.split('name="csrf_token" value="')[1].split('"')[0]
        assert client.post("/login", data={"username": USER, "password": PASSWORD,
                                           "csrf_token": token}).status_code == 302
        meter = Meter(s3)
        client.get("/")  # warm up: templates compiled, presigner made

        print(f"gallery benchmark: {CAMERAS} cameras, page size {settings.gallery_page_size}, "
              f"median of {args.repeat} requests (moto in-process; Flask test client)")
        header = (f"{'captures':>9}  {'page':<11} {'images':>6}  {'S3 calls':<18} "
                  f"{'listing ms':>10}  "
                  f"{'server ms':>9}  {'p90':>6}  {'cpu ms':>6}  {'total ms':>8}")
        print(header)
        print("-" * len(header))
        keys: list[str] = []
        for size in sizes:
            filled = time.perf_counter()
            keys += fill(backend, len(keys), size)
            fill_s = time.perf_counter() - filled
            # moto keeps the whole bucket as Python objects in this process; without freezing
            # them, the cyclic GC's full passes over 200,000 of them would be billed to the
            # gallery, which on AWS holds none of them.
            gc.collect()
            gc.freeze()
            ordered = sorted(keys)
            pages = {
                "first": "/",
                "middle": "/?after=" + ordered[len(ordered) // 2 - 1],
                "one camera": "/camera/cam-07",
            }
            for label, path in pages.items():
                result = measure(client, meter, path, args.repeat)
                calls = f"{len(result['calls'])} ({','.join(sorted(set(result['calls'])))})"
                print(f"{size:>9}  {label:<11} {result['tiles']:>6}  {calls:<18} "
                      f"{result['listing_ms']:>10.1f}  "
                      f"{result['server_ms']:>9.2f}  {result['server_p90_ms']:>6.2f}  "
                      f"{result['server_cpu_ms']:>6.2f}  "
                      f"{result['total_ms']:>8.1f}")
            print(f"{'':>9}  (filled in {fill_s:.1f} s)")
        print(f"session checks (GET users/{USER}.json, apart from the pages): "
              f"{meter.session_checks} in the whole run")


if __name__ == "__main__":
    main()
