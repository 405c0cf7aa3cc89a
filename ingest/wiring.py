"""Building the ingest's collaborators, once, into one typed ``Services`` object (no Flask).

Building starts nothing: the drainer's thread is started by ``ingest.start_background`` (from
gunicorn's worker hook or the local stack) and ``python -m ingest.drain`` runs it in the
foreground.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from camcloud.devices import DeviceRegistry
from camcloud.ratelimit import RateLimiter
from camcloud.s3 import LazyClient, lazy, make_client
from camcloud.settings import Settings
from camcloud.status import StatusRecorder, writer_name
from ingest.auth import Authenticator
from ingest.desired import DesiredState, ReleaseCache
from ingest.drainer import Drainer
from ingest.gate import FailureLimiter, Gate
from ingest.health import S3Health
from ingest.keeper import Keeper
from ingest.logs import event
from ingest.metrics import Metrics
from ingest.s3put import FastPut
from ingest.service import Clock, Ingest, Operations
from ingest.spool import Spool
from ingest.store import CaptureStore

# S3 calls on the upload path fail fast, so that during an outage an upload is spooled well
# within the 5 s an ESP32 HTTPClient waits for an answer; the spool is the real retry.
# Parameters are built by this code, never by a device: boto3 need not validate them again.
S3_CLIENT_CONFIG: dict[str, Any] = {
    "connect_timeout": 1.0,
    "read_timeout": 2.0,
    "retries": {"total_max_attempts": 2, "mode": "standard"},
    "max_pool_connections": 24,
    "parameter_validation": False,
}
# Bodies up to this size are sent without "Expect: 100-continue": waiting for S3's
# "100 Continue" costs a round trip per upload and saves nothing on a small body.
EXPECT_CONTINUE_ABOVE = 1024 * 1024


def skip_expect_for_small_bodies(request: Any, **_: Any) -> None:
    """botocore ``before-sign`` hook: no "Expect: 100-continue" on a PutObject of <= 1 MiB."""
    body = request.body
    size = len(body) if isinstance(body, bytes | bytearray) else None
    if size is None and hasattr(body, "seek") and hasattr(body, "tell"):
        position = body.tell()
        size = body.seek(0, 2) - position
        body.seek(position)
    if size is not None and size <= EXPECT_CONTINUE_ABOVE and "Expect" in request.headers:
        del request.headers["Expect"]


def make_ingest_client(settings: Settings) -> Any:
    """An S3 client with the ingest's short timeouts and no 100-continue on small bodies."""
    client = make_client(settings, **S3_CLIENT_CONFIG)
    client.meta.events.register("before-sign.s3.PutObject", skip_expect_for_small_bodies)
    return client


@dataclass(frozen=True)
class Services:
    """Everything the ingest's adapters use, built once per process."""

    settings: Settings
    s3: LazyClient
    registry: DeviceRegistry
    store: CaptureStore
    spool: Spool
    drainer: Drainer
    metrics: Metrics
    health: S3Health
    ingest: Ingest
    operations: Operations
    status: StatusRecorder

    def tick(self) -> None:
        """The background thread's periodic work: flush the metrics, write the summary if due."""
        self.metrics.flush()
        self.status.flush_if_due(self.s3.get(), self.settings.bucket)

    def flush_status(self) -> None:
        """Write the status summary now if it holds anything (at stop; S3 errors only logged)."""
        if not self.status.document()["cameras"]:
            return
        try:
            self.status.flush(self.s3.get(), self.settings.bucket)
        except Exception as exc:  # noqa: BLE001 - stopping must not fail for the summary
            event("status_flush_failed", logging.WARNING, error=str(exc)[:200])


def build_services(settings: Settings, client: Any = None, clock: Clock | None = None) -> Services:
    """Wire the ingest against ``client`` (default: its own S3 client) and ``clock``."""
    clock = clock or Clock()
    s3 = LazyClient(settings, client, build=make_ingest_client)
    store = CaptureStore(s3.get, settings.bucket, fast_put=_fast_put(settings, client, s3))
    spool = Spool(settings.spool_dir, settings.spool_max_bytes)
    usable = spool.prepare()
    root = Path(settings.spool_dir)
    metrics = Metrics(root / "metrics" if usable else None)
    health = S3Health(s3.get, settings.bucket, clock=clock.monotonic)
    registry = DeviceRegistry(s3.get, settings.bucket, cache_seconds=settings.key_cache_seconds,
                              clock=clock.monotonic, max_cached=settings.key_cache_entries)
    auth = Authenticator(registry, health, root / "devices" if usable else None)
    auth.prepare()
    wall = clock.now
    # One summary per worker process (gunicorn builds the app after forking: the pid is its own).
    status = StatusRecorder(writer_name("ingest"), clock=lambda: wall().timestamp(),
                            watch_silent=True)
    drainer = Drainer(spool, store, on_drained=lambda _capture, created: metrics.drained(created),
                      on_s3=health.record)
    desired = DesiredState(
        s3.get, settings.bucket, registry, health, status, presign_ttl=settings.presign_ttl,
        now=clock.now, releases=ReleaseCache(s3.get, settings.bucket, clock=clock.monotonic),
    )
    ingest = Ingest(
        _gate(settings, auth, clock), Keeper(store, spool, drainer, health, metrics), metrics,
        max_upload_bytes=settings.max_upload_bytes,
        # Large bodies are received into files next to the spool, so spooling one is a rename.
        tmp_dir=str(spool.tmp_dir) if usable else tempfile.gettempdir(),
        clock=clock, desired=desired, status=status,
    )
    services = Services(settings=settings, s3=s3, registry=registry, store=store, spool=spool,
                        drainer=drainer, metrics=metrics, health=health, ingest=ingest,
                        operations=Operations(health, spool, drainer, metrics), status=status)
    # The drainer's thread (started by start_background only) is the worker's timer.
    drainer.on_tick = services.tick
    return services


def _fast_put(settings: Settings, client: Any, s3: LazyClient) -> Callable[[], FastPut] | None:
    # The fast PutObject path only with a client of our own: an injected client may be a
    # mock that intercepts boto3 calls, which a plain HTTP request would bypass.
    if client is not None or not settings.s3_fast_put:
        return None
    return lazy(lambda: FastPut(s3.get(), settings.bucket))


def _gate(settings: Settings, auth: Authenticator, clock: Clock) -> Gate:
    return Gate(
        auth,
        RateLimiter(settings.rate_per_minute, settings.rate_burst, clock=clock.monotonic),
        FailureLimiter(settings.auth_failures_per_minute, settings.auth_failure_burst,
                       clock=clock.monotonic),
    )
