"""The ingest services of a Flask app: one typed accessor for the app and its blueprints."""

from __future__ import annotations

from typing import cast

from flask import Flask, current_app

from ingest.wiring import Services

EXTENSION = "camcloud.ingest"


def services_of(app: Flask | None = None) -> Services:
    """The ingest services of ``app`` (default: the app handling the current request)."""
    return cast(Services, (app or current_app).extensions[EXTENSION])
