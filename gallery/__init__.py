"""The gallery: a timeline of every camera, built from one S3 listing per page."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from camcloud.s3 import LazyClient
from camcloud.settings import Settings, SettingsError
from gallery.jobs import JobRunner
from gallery.services import Gallery

_CONFIG = {
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_NAME": "camcloud_session",
    "PERMANENT_SESSION_LIFETIME": timedelta(days=30),
    # The gallery's forms are a few hundred bytes; refuse anything near a megabyte (413).
    "MAX_CONTENT_LENGTH": 64 * 1024,
    # Static files change only with the code; an hour of caching is plenty.
    "SEND_FILE_MAX_AGE_DEFAULT": timedelta(hours=1),
}


class _SessionInterface(SecureCookieSessionInterface):
    """The signed session cookie, marked Secure as CAMCLOUD_GALLERY_COOKIE_SECURE says."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """``on``/``off`` as set; ``auto``: Secure whenever the browser reached us over HTTPS."""
        mode = app.extensions["camcloud"].settings.gallery_cookie_secure
        if mode in ("on", "off"):
            return bool(mode == "on")
        # Behind the reverse proxy the request is plain HTTP; its X-Forwarded-Proto tells.
        # Trusting it is harmless here: it can only make the cookie stricter.
        forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        return bool(request.is_secure or forwarded == "https")


def create_app(
    settings: Settings | None = None,
    client: Any = None,
    *,
    clock: Callable[[], float] = time.time,
    jobs: JobRunner | None = None,
) -> Flask:
    """Build the gallery app; settings default to the ``CAMCLOUD_*`` environment."""
    settings = settings or Settings.from_env()
    if settings.gallery_login and not settings.secret_key:
        raise SettingsError(
            "CAMCLOUD_SECRET_KEY", "is required for the gallery login (a long random string)"
        )
    app = Flask(__name__)
    app.config.update(_CONFIG, SECRET_KEY=settings.secret_key or "login-disabled")
    app.session_interface = _SessionInterface()
    app.extensions["camcloud"] = Gallery(settings, LazyClient(settings, client).get, clock=clock,
                                             jobs=jobs)
    hops = settings.gallery_proxy_hops
    if hops:
        # Only then are X-Forwarded-For/-Proto believed: the client's address for the login
        # limit, and HTTPS for the login and the Secure cookie.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    from gallery import auth, device_pages, views

    app.register_blueprint(auth.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(device_pages.bp)
    from gallery import alert_pages, share_pages, timelapse_pages

    app.register_blueprint(timelapse_pages.bp)
    app.register_blueprint(share_pages.bp)
    app.register_blueprint(alert_pages.bp)
    return app
