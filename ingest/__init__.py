"""The ingest service: cameras POST JPEGs to ``/upload``; each lands once under ``raw/``."""

from __future__ import annotations

import logging
import tempfile
from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from camcloud.devices import DeviceRegistry
from camcloud.ratelimit import RateLimiter
from camcloud.s3 import LazyClient, lazy, make_client
from camcloud.settings import Settings
from ingest import logs
from ingest.auth import Authenticator
from ingest.health import S3Health
from ingest.metrics import Metrics
from ingest.s3put import FastPut
from ingest.spool import Drainer, Spool
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


def create_app(settings: Settings | None = None, client: Any = None) -> Flask:
    """Build the ingest app; settings default to the ``CAMCLOUD_*`` environment."""
    settings = settings or Settings.from_env()
    logs.configure(settings.log_level)
    app = Flask(__name__)
    s3 = LazyClient(settings, client, build=make_ingest_client)
    # The fast PutObject path only with a client of our own: an injected client may be a
    # mock that intercepts boto3 calls, which a plain HTTP request would bypass.
    fast_put = None if client is not None else lazy(lambda: FastPut(s3.get(), settings.bucket))
    store = CaptureStore(s3.get, settings.bucket, fast_put=fast_put)
    spool = Spool(settings.spool_dir, settings.spool_max_bytes)
    usable = spool.prepare()
    metrics = Metrics(spool.metrics_dir if usable else None)
    health = S3Health(s3.get, settings.bucket)
    registry = DeviceRegistry(s3.get, settings.bucket, cache_seconds=settings.key_cache_seconds)

    def drained(capture: Any, created: bool) -> None:
        metrics.drained(created)

    drainer = Drainer(spool, store, on_drained=drained, on_tick=metrics.flush,
                      on_s3=health.record)
    app.extensions["camcloud"] = {
        "settings": settings,
        "s3": s3,
        "registry": registry,
        "auth": Authenticator(registry, health, spool.devices_dir if usable else None),
        "store": store,
        "limiter": RateLimiter(settings.rate_per_minute, settings.rate_burst),
        "spool": spool,
        "drainer": drainer,
        "metrics": metrics,
        "health": health,
        # Large bodies are received into files next to the spool, so spooling one is a rename.
        "tmp_dir": str(spool.tmp_dir) if usable else tempfile.gettempdir(),
    }

    from ingest.ops import bp as ops_bp
    from ingest.upload import bp as upload_bp

    app.register_blueprint(upload_bp)
    app.register_blueprint(ops_bp)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        """Every error a device can see is JSON."""
        code = (exc.name or "error").lower().replace(" ", "_")
        response = jsonify(error=code, message=exc.description or exc.name)
        return response, exc.code or 500

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception) -> Any:
        """A bug, never the request's fault: logged with its traceback, answered as JSON."""
        logs.event("internal_error", logging.ERROR, exc_info=True, error=repr(exc)[:300])
        return jsonify(error="internal", message="internal error; retry later"), 500

    drainer.start()
    return app
