"""The ingest's Flask app: builds the services, registers the blueprints, starts nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from camcloud.settings import Settings
from ingest import logs
from ingest.current import EXTENSION, services_of
from ingest.ops import bp as ops_bp
from ingest.service import Clock
from ingest.upload import bp as upload_bp
from ingest.wiring import build_services


def create_app(settings: Settings | None = None, client: Any = None,
               clock: Clock | None = None) -> Flask:
    """Build the ingest app; settings default to the ``CAMCLOUD_*`` environment."""
    settings = settings or Settings.from_env()
    logs.configure(settings.log_level)
    app = Flask(__name__)
    app.extensions[EXTENSION] = build_services(settings, client, clock)
    app.register_blueprint(upload_bp)
    app.register_blueprint(ops_bp)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    return app


def start_background(app: Flask) -> Callable[[], None]:
    """Start the spool drainer (and with it the periodic metrics and status summary flushes);
    returns its stop, which also writes the status summary one last time."""
    services = services_of(app)
    services.drainer.start()

    def stop() -> None:
        services.drainer.stop()
        services.flush_status()

    return stop


def _http_error(exc: HTTPException) -> Any:
    """Every error a device can see is JSON."""
    code = (exc.name or "error").lower().replace(" ", "_")
    response = jsonify(error=code, message=exc.description or exc.name)
    return response, exc.code or 500


def _unexpected_error(exc: Exception) -> Any:
    """A bug, never the request's fault: logged with its traceback, answered as JSON."""
    logs.event("internal_error", logging.ERROR, exc_info=True, error=repr(exc)[:300])
    return jsonify(error="internal", message="internal error; retry later"), 500
