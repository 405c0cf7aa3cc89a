"""Nothing lost when S3 fails: the spool (202), its drainer, restarts, and a faulty network."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import urllib3

from camcloud import layout
from camcloud.simulate import CameraSimulator, make_frame
from tests.conftest import jpeg_bytes
from tests.ingest_support import (
    FAKE_CREDENTIALS,
    ROOT,
    Bucket,
    FaultProxy,
    GunicornIngest,
    LiveIngest,
    post,
    wait_for,
)


def through(bucket: Bucket, fault_proxy: FaultProxy, **changes: Any) -> Any:
    """The bucket's settings with S3 reached through the proxy."""
    return bucket.settings.with_changes(s3_endpoint=fault_proxy.url, **changes)


def fast_drainer(live: LiveIngest) -> None:
    """Retry S3 every half second at most (the default backs off to 15 s)."""
    drainer = live.services.drainer
    drainer.backoff_max = 0.5
    drainer.idle_poll = 0.2


def queued(spool_dir: Path) -> list[str]:
    """Names of the entries waiting in the spool."""
    queue = spool_dir / "queue"
    return sorted(p.name for p in queue.iterdir()) if queue.exists() else []


def capture_ids(bucket: Bucket, device: str) -> Counter[str]:
    """How many originals each capture id of ``device`` has in S3."""
    return Counter(layout.parse_key(key).capture_id
                   for key in bucket.raw_keys(layout.device_raw_prefix(device)))


def test_upload_while_s3_is_down_is_spooled_then_drained(ingest_bucket: Bucket,
                                                         fault_proxy: FaultProxy) -> None:
    # Given a running ingest that has seen the camera while S3 was up
    key = ingest_bucket.add_device("cam-1")
    spool_dir = Path(ingest_bucket.settings.spool_dir)
    http = urllib3.PoolManager(retries=False, timeout=10.0)
    with LiveIngest(through(ingest_bucket, fault_proxy), background=True) as live:
        fast_drainer(live)
        assert post(http, live.url, key, jpeg_bytes(), {"X-Capture-Id": "up-0"}).status == 201
        # When S3 becomes unreachable
        fault_proxy.set_mode("refuse")
        answers = [post(http, live.url, key, jpeg_bytes(colour=(i, 0, 0)),
                        {"X-Capture-Id": f"down-{i}"}) for i in range(3)]
        retry = post(http, live.url, key, jpeg_bytes(colour=(0, 0, 0)), {"X-Capture-Id": "down-0"})
        no_clock = post(http, live.url, key, jpeg_bytes(colour=(9, 9, 9)))
        # Then every upload is accepted into the spool, once per capture
        assert [a.status for a in answers] == [202, 202, 202]
        assert all(json.loads(a.data)["queued"] is True for a in answers)
        assert retry.status == 202 and json.loads(retry.data)["duplicate"] is True
        assert no_clock.status == 202
        assert len(queued(spool_dir)) == 4
        ready = http.request("GET", live.url + "/readyz")
        assert ready.status == 503
        assert json.loads(ready.data)["spool"]["entries"] == 4
        assert set(capture_ids(ingest_bucket, "cam-1")) == {"up-0"}
        # When S3 is back
        fault_proxy.set_mode("pass")
        # Then the drainer uploads the spool and empties it
        assert wait_for(lambda: not queued(spool_dir), timeout=20)
        ids = capture_ids(ingest_bucket, "cam-1")
        assert set(ids) >= {"up-0", "down-0", "down-1", "down-2"}
        assert len(ids) == 5 and set(ids.values()) == {1}
        metrics = http.request("GET", live.url + "/metrics").data.decode()
        assert 'camcloud_ingest_uploads_total{outcome="queued"} 5' in metrics
        assert 'camcloud_ingest_spool_drained_total{result="created"} 4' in metrics
        assert "camcloud_ingest_spool_entries 0" in metrics


def test_spool_full_answers_503_with_retry_after(
    ingest_bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    # Given a spool with room for about one small image
    key = ingest_bucket.add_device("cam-1")
    image = jpeg_bytes()
    settings = through(ingest_bucket, fault_proxy, spool_max_bytes=len(image) + 1000)
    http = urllib3.PoolManager(retries=False, timeout=10.0)
    with LiveIngest(settings, background=True) as live:
        fast_drainer(live)
        assert post(http, live.url, key, image, {"X-Capture-Id": "warm"}).status == 201
        fault_proxy.set_mode("refuse")
        # When two captures arrive while S3 is down
        first = post(http, live.url, key, image, {"X-Capture-Id": "s-1"})
        second = post(http, live.url, key, jpeg_bytes(colour=(1, 1, 1)), {"X-Capture-Id": "s-2"})
        # Then the first is spooled and the second refused with a time to come back
        assert first.status == 202
        assert second.status == 503
        assert json.loads(second.data)["error"] == "spool_full"
        assert int(second.headers["Retry-After"]) > 0
        fault_proxy.set_mode("pass")
        assert wait_for(lambda: not queued(Path(settings.spool_dir)), timeout=20)
        assert set(capture_ids(ingest_bucket, "cam-1")) == {"warm", "s-1"}


def test_unknown_device_while_s3_is_down_gets_503(
    ingest_bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    key = ingest_bucket.add_device("cam-1")
    fault_proxy.set_mode("refuse")
    http = urllib3.PoolManager(retries=False, timeout=10.0)
    with LiveIngest(through(ingest_bucket, fault_proxy)) as live:
        response = post(http, live.url, key, jpeg_bytes())
    assert response.status == 503
    assert json.loads(response.data)["error"] == "storage_unavailable"
    assert "Retry-After" in response.headers


def test_restart_with_a_non_empty_spool_drains_it(ingest_bucket: Bucket, fault_proxy: FaultProxy,
                                                  tmp_path: Path) -> None:
    # Given the production server (gunicorn, two workers) that spooled uploads during an outage
    key = ingest_bucket.add_device("cam-1")
    settings = through(ingest_bucket, fault_proxy)
    spool_dir = Path(settings.spool_dir)
    http = urllib3.PoolManager(retries=False, timeout=10.0)
    first = GunicornIngest(settings, tmp_path / "gunicorn-1.log")
    try:
        assert post(http, first.url, key, jpeg_bytes(), {"X-Capture-Id": "w-0"}).status == 201
        fault_proxy.set_mode("refuse")
        statuses = [post(http, first.url, key, make_frame(96, 72, i), {"X-Capture-Id": f"r-{i}"})
                    .status for i in range(5)]
        assert statuses == [202] * 5, (tmp_path / "gunicorn-1.log").read_text()[-3000:]
    finally:
        first.stop()
    assert len(queued(spool_dir)) == 5
    # When the service starts again, S3 still down: the camera is still recognised
    second = GunicornIngest(settings, tmp_path / "gunicorn-2.log")
    try:
        http = urllib3.PoolManager(retries=False, timeout=10.0)
        statuses = [post(http, second.url, key, make_frame(96, 72, i), {"X-Capture-Id": f"s-{i}"})
                    .status for i in range(10, 13)]
        assert statuses == [202] * 3, (tmp_path / "gunicorn-2.log").read_text()[-3000:]
        # ...and then S3 comes back
        fault_proxy.set_mode("pass")
        # Then the spool is drained: every capture in S3 exactly once
        assert wait_for(lambda: not queued(spool_dir), timeout=40), (
            (tmp_path / "gunicorn-2.log").read_text()[-3000:])
        ids = capture_ids(ingest_bucket, "cam-1")
        assert set(ids) == ({"w-0"} | {f"r-{i}" for i in range(5)}
                            | {f"s-{i}" for i in range(10, 13)})
        assert set(ids.values()) == {1}
        assert wait_for(lambda: http.request("GET", second.url + "/readyz").status == 200)
        ready = json.loads(http.request("GET", second.url + "/readyz").data)
        assert ready["spool"]["entries"] == 0
    finally:
        second.stop()
    assert list((spool_dir / "tmp").iterdir()) == []


class ServerClockCamera:
    """A camera without NTP: no X-Captured-At, so the ingest reserves its keys under ids/."""

    def __init__(self, url: str, key: str, device: str, count: int) -> None:
        self.url, self.key, self.device, self.count = url, key, device, count
        self.outcomes: Counter[str] = Counter()

    def run(self) -> None:
        """Upload every frame until it is accepted (201, 200 or 202)."""
        http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2, read=30))
        for index in range(self.count):
            frame = make_frame(48, 32, index, seed=hash(self.device) % 1000)
            for _attempt in range(20):
                try:
                    status = post(http, self.url, self.key, frame,
                                  {"X-Capture-Id": f"{self.device}-{index}"}).status
                except urllib3.exceptions.HTTPError:
                    status = 0
                self.outcomes[str(status)] += 1
                if status in (200, 201, 202):
                    break
                time.sleep(0.1)
            else:
                self.outcomes["gave_up"] += 1


def test_faulty_network_during_200_uploads_loses_and_duplicates_nothing(
    ingest_bucket: Bucket, fault_proxy: FaultProxy
) -> None:
    # Given four NTP cameras (40 frames each) and two without a clock (20 frames each)
    settings = through(ingest_bucket, fault_proxy)
    http = urllib3.PoolManager(retries=False, timeout=10.0)
    with LiveIngest(settings, background=True) as live:
        fast_drainer(live)
        cameras: list[Any] = []
        for number in range(4):
            device = f"ntp-{number}"
            key = ingest_bucket.add_device(device)
            assert post(http, live.url, key, jpeg_bytes(), {"X-Capture-Id": "warm"}).status == 201
            cameras.append(CameraSimulator(
                url=live.url + "/upload", key=key, count=40, width=48, height=32,
                retries=8, seed=number, resend_probability=0.1,
                # Paced like a camera: 40 frames take at least 4 s, longer than one round of
                # the three faults below (at most 3 s), so every fault meets uploads in flight.
                # Unpaced, a quiet machine finished before the third fault (flaky on main).
                interval=0.1,
                sleep=lambda seconds: time.sleep(min(seconds, 0.2)),
            ))
        for number in range(2):
            device = f"rtc-{number}"
            key = ingest_bucket.add_device(device)
            assert post(http, live.url, key, jpeg_bytes(), {"X-Capture-Id": "warm"}).status == 201
            cameras.append(ServerClockCamera(live.url, key, device, 20))
        results: dict[int, Any] = {}

        def run(index: int) -> None:
            results[index] = cameras[index].run()

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(cameras))]
        # When S3 refuses, stalls and resets connections while they upload
        for thread in threads:
            thread.start()
        rng = random.Random(7)
        modes: Counter[str] = Counter()
        schedule = ["refuse", "stall", "reset"]
        while any(thread.is_alive() for thread in threads):
            mode = schedule[sum(modes.values()) % len(schedule)]
            modes[mode] += 1
            fault_proxy.set_mode(mode)
            time.sleep(rng.uniform(0.2, 0.8))
            fault_proxy.set_mode("pass")
            time.sleep(0.2)
        for thread in threads:
            thread.join()
        # ...and then is restored
        fault_proxy.set_mode("pass")
        assert wait_for(lambda: not queued(Path(settings.spool_dir)), timeout=60)
        metrics = http.request("GET", live.url + "/metrics").data.decode()
    # Then some uploads went through the spool...
    assert 'camcloud_ingest_uploads_total{outcome="queued"} 0' not in metrics
    assert 'camcloud_ingest_spool_drained_total{result="created"} 0' not in metrics
    # ...and every image is in S3 exactly once and no camera gave up
    for index in range(4):
        result = results[index]
        assert result.failed == 0, result.errors
        ids = capture_ids(ingest_bucket, f"ntp-{index}")
        boot = f"{random.Random(index).getrandbits(32):08x}"
        assert set(ids) == {"warm"} | {f"sim-{boot}-{i}" for i in range(40)}
        assert set(ids.values()) == {1}
    for number, camera in enumerate(cameras[4:]):
        assert camera.outcomes["gave_up"] == 0
        ids = capture_ids(ingest_bucket, f"rtc-{number}")
        assert set(ids) == {"warm"} | {f"rtc-{number}-{i}" for i in range(20)}
        assert set(ids.values()) == {1}
    assert min(modes["refuse"], modes["stall"], modes["reset"]) >= 1
    assert fault_proxy.counts["refused"] > 0


def test_a_damaged_spool_entry_is_set_aside_and_the_rest_drained(ingest_bucket: Bucket,
                                                                  fault_proxy: FaultProxy) -> None:
    # Given three captures spooled during an outage, one of whose files gets damaged on disk
    key = ingest_bucket.add_device("cam-1")
    spool_dir = Path(ingest_bucket.settings.spool_dir)
    http = urllib3.PoolManager(retries=False, timeout=10.0)
    with LiveIngest(through(ingest_bucket, fault_proxy), background=True) as live:
        fast_drainer(live)
        assert post(http, live.url, key, jpeg_bytes(), {"X-Capture-Id": "ok-0"}).status == 201
        fault_proxy.set_mode("refuse")
        for index in range(3):
            answer = post(http, live.url, key, jpeg_bytes(colour=(index, 9, 9)),
                          {"X-Capture-Id": f"sp-{index}"})
            assert answer.status == 202
        damaged = spool_dir / "queue" / "cam-1_sp-1" / "body.jpg"
        data = bytearray(damaged.read_bytes())
        data[200] ^= 0xFF
        damaged.write_bytes(bytes(data))
        # When S3 is back
        fault_proxy.set_mode("pass")
        assert wait_for(lambda: not queued(spool_dir), timeout=20)
    # Then the intact ones are stored, the damaged one kept aside for a person, not uploaded
    assert set(capture_ids(ingest_bucket, "cam-1")) == {"ok-0", "sp-0", "sp-2"}
    kept = [path.name for path in (spool_dir / "failed").iterdir()]
    assert len(kept) == 1 and kept[0].startswith("cam-1_sp-1")


def drain_command(settings: Any, timeout: float) -> int:
    """Run ``python -m ingest.drain --timeout`` as the host's stop hook does; its exit status."""
    env = {"PATH": "/usr/bin:/bin", **settings.as_env(), **FAKE_CREDENTIALS}
    done = subprocess.run([sys.executable, "-m", "ingest.drain", "--timeout", str(timeout)],
                          cwd=ROOT, env=env, capture_output=True, timeout=120)
    return done.returncode


def test_drain_command_empties_the_spool_before_the_host_stops(ingest_bucket: Bucket,
                                                               fault_proxy: FaultProxy) -> None:
    # Given three captures spooled during an outage by an ingest that has since stopped
    key = ingest_bucket.add_device("cam-1")
    settings = through(ingest_bucket, fault_proxy)
    spool_dir = Path(settings.spool_dir)
    http = urllib3.PoolManager(retries=False, timeout=10.0)
    with LiveIngest(settings) as live:
        assert post(http, live.url, key, jpeg_bytes(), {"X-Capture-Id": "d-0"}).status == 201
        fault_proxy.set_mode("refuse")
        for index in range(1, 4):
            answer = post(http, live.url, key, jpeg_bytes(colour=(index, 1, 1)),
                          {"X-Capture-Id": f"d-{index}"})
            assert answer.status == 202
    # When the stop hook drains while S3 is still down, it gives up in time: status 1
    assert drain_command(settings, 1.0) == 1
    assert len(queued(spool_dir)) == 3
    # When S3 is back, the drain empties the spool: status 0, every capture in S3 once
    fault_proxy.set_mode("pass")
    assert drain_command(settings, 30.0) == 0
    assert queued(spool_dir) == []
    ids = capture_ids(ingest_bucket, "cam-1")
    assert set(ids) == {"d-0", "d-1", "d-2", "d-3"} and set(ids.values()) == {1}


def test_healthz_says_only_ok_while_readyz_reports_s3_down(ingest_bucket: Bucket,
                                                           fault_proxy: FaultProxy) -> None:
    # Given S3 unreachable
    fault_proxy.set_mode("refuse")
    http = urllib3.PoolManager(retries=False, timeout=10.0)
    with LiveIngest(through(ingest_bucket, fault_proxy)) as live:
        health = http.request("GET", live.url + "/healthz")
        ready = http.request("GET", live.url + "/readyz")
    # Then the load balancer's check says "ok" and nothing else; the host's check has detail
    assert health.status == 200 and json.loads(health.data) == {"status": "ok"}
    assert ready.status == 503
    assert set(json.loads(ready.data)) == {"status", "s3", "spool"}
