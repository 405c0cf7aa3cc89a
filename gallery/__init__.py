"""The gallery: a timeline of every camera, built from one S3 listing per page."""

from __future__ import annotations

from typing import Any

from flask import Flask

from camcloud.s3 import LazyClient
from camcloud.settings import Settings, SettingsError
from camcloud.users import UserStore


def create_app(settings: Settings | None = None, client: Any = None) -> Flask:
    """Build the gallery app; settings default to the ``CAMCLOUD_*`` environment."""
    settings = settings or Settings.from_env()
    if settings.gallery_login and not settings.secret_key:
        raise SettingsError(
            "CAMCLOUD_SECRET_KEY", "is required for the gallery login (a long random string)"
        )
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key or "login-disabled",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="camcloud_session",
    )
    s3 = LazyClient(settings, client)
    app.extensions["camcloud"] = {
        "settings": settings,
        "s3": s3,
        "users": UserStore(s3.get, settings.bucket),
    }

    from gallery import auth, views

    app.register_blueprint(auth.bp)
    app.register_blueprint(views.bp)
    return app
