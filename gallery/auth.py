"""Gallery login: users from ``users/``, a signed session cookie, CSRF tokens on forms.

A session holds its user and the user's session version (``camcloud.users``): it ends when the
user is removed, gets a new password, logs out, or is logged out everywhere.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from camcloud.users import UserError
from gallery.guards import is_loopback_request, safe_next
from gallery.services import Gallery

bp = Blueprint("auth", __name__)


def current() -> Gallery:
    """The app's :class:`Gallery`."""
    return current_app.extensions["camcloud"]  # type: ignore[no-any-return]


def csrf_token() -> str:
    """The session's CSRF token (created on first use)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return str(session["csrf"])


def check_csrf() -> None:
    """Abort with 400 unless the form (or the X-CSRF-Token header) carries the session's token."""
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token", "")
    expected = session.get("csrf", "")
    if not expected or not hmac.compare_digest(str(sent), str(expected)):
        abort(400, "the form expired; reload the page and try again")


def session_alive() -> bool:
    """Whether the request's session belongs to a user whose sessions still count.

    Anything but a GET changes data, so it checks the user's record afresh.
    """
    user = session.get("user")
    if not isinstance(user, str) or not user:
        return False
    return current().users.session_alive(user, session.get("sv"), fresh=request.method != "GET")


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Send to the login page (401 for scripts and forms) unless the session is alive."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current().settings.gallery_login and not session_alive():
            session.clear()
            if request.path.startswith("/api/") or request.method != "GET":
                response = jsonify(error="login_required", message="log in to the gallery")
                response.status_code = 401
                return response
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


@bp.app_context_processor
def inject() -> dict[str, Any]:
    """Make the CSRF token, the user and the delete wording available to every template."""
    settings = current().settings
    return {
        "csrf_token": csrf_token,
        "current_user": session.get("user"),
        "login_enabled": settings.gallery_login,
        "undelete_days": settings.undelete_days,
    }


def login_over_this_connection() -> bool:
    """Whether a password may be sent over this request's connection.

    HTTPS always; plain HTTP from a browser on this machine (the local stack), or anywhere when
    CAMCLOUD_ALLOW_HTTP_LOGIN is on.
    """
    return (request.is_secure or current().settings.allow_http_login
            or is_loopback_request(request.remote_addr, request.host))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Show the login form; on POST check the password and start a session."""
    if not login_over_this_connection():
        status = 403 if request.method == "POST" else 200
        return render_template("login.html", insecure=True), status
    if request.method == "GET":
        return render_template("login.html")
    check_csrf()
    return _log_in(request.form.get("username", "").strip()[:64],
                   request.form.get("password", "")[:1024])


def _log_in(name: str, password: str) -> Any:
    """Start a session for ``name`` if the password is right and no limit is hit."""
    wait = _login_wait(name)
    if wait:
        seconds = current().login_limiter.retry_after(wait)
        error = f"Too many login attempts. Try again in {seconds} s."
        return render_template("login.html", error=error), 429, {"Retry-After": str(seconds)}
    version = current().users.login(name, password)
    if version is None:
        return render_template("login.html", error="Wrong user name or password."), 401
    session.clear()
    session.permanent = True
    session["user"] = name
    session["sv"] = version
    return redirect(safe_next(request.args.get("next"), url_for("views.timeline")))


def _login_wait(name: str) -> float:
    """Seconds to wait before another attempt: limited per client address and per user name.

    Per name stops guessing one account from many addresses; per address stops one client
    trying many names. Behind a reverse proxy every client shares one address, and the per-name
    limit still holds.
    """
    limiter = current().login_limiter
    by_address = limiter.acquire(f"addr:{request.remote_addr}")
    by_name = limiter.acquire(f"user:{name.lower()}")
    return max(by_address, by_name)


@bp.post("/logout")
def logout() -> Any:
    """End the session, and with it every copy of its cookie (every session of the user)."""
    check_csrf()
    user = session.get("user")
    if session_alive() and isinstance(user, str):
        try:
            current().users.logout_all(user)
        except UserError:
            pass  # removed meanwhile: its sessions are dead already
    session.clear()
    return redirect(url_for("auth.login"))
