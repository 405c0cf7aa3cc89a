"""The ingest service: cameras POST JPEGs to ``/upload``; each lands once under ``raw/``."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from camcloud.devices import DeviceRegistry
from camcloud.ratelimit import RateLimiter
from camcloud.s3 import LazyClient
from camcloud.settings import Settings
from ingest.store import CaptureStore


def create_app(settings: Settings | None = None, client: Any = None) -> Flask:
    """Build the ingest app; settings default to the ``CAMCLOUD_*`` environment."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    s3 = LazyClient(settings, client)
    app.extensions["camcloud"] = {
        "settings": settings,
        "s3": s3,
        "registry": DeviceRegistry(
            s3.get, settings.bucket, cache_seconds=settings.key_cache_seconds
        ),
        "store": CaptureStore(s3.get, settings.bucket),
        "limiter": RateLimiter(settings.rate_per_minute, settings.rate_burst),
    }

    from ingest.upload import bp

    app.register_blueprint(bp)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        """Every error a device can see is JSON."""
        code = (exc.name or "error").lower().replace(" ", "_")
        response = jsonify(error=code, message=exc.description or exc.name)
        return response, exc.code or 500

    return app
