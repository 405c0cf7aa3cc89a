"""Gallery login: users from ``users/``, a signed session cookie, CSRF tokens on forms."""

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

bp = Blueprint("auth", __name__)


def _ctx() -> dict[str, Any]:
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


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Redirect to the login page unless a user is logged in (or login is turned off)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if _ctx()["settings"].gallery_login and not session.get("user"):
            if request.path.startswith("/api/") or request.method != "GET":
                response = jsonify(error="login_required", message="log in to the gallery")
                response.status_code = 401
                return response
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


@bp.app_context_processor
def inject() -> dict[str, Any]:
    """Make the CSRF token and the user available to every template."""
    return {
        "csrf_token": csrf_token,
        "current_user": session.get("user"),
        "login_enabled": _ctx()["settings"].gallery_login,
    }


def _safe_next(target: str | None) -> str:
    # Only same-site paths: never redirect a fresh login to another host.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("views.timeline")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Show the login form; on POST check the password and start a session."""
    error = None
    if request.method == "POST":
        check_csrf()
        name = request.form.get("username", "").strip()[:64]
        password = request.form.get("password", "")[:1024]
        wait = _login_wait(name)
        if wait:
            seconds = _ctx()["login_limiter"].retry_after(wait)
            error = f"Too many login attempts. Try again in {seconds} s."
            page = render_template("login.html", error=error)
            return page, 429, {"Retry-After": str(seconds)}
        if _ctx()["users"].verify(name, password):
            session.clear()
            session.permanent = True
            session["user"] = name
            return redirect(_safe_next(request.args.get("next")))
        error = "Wrong user name or password."
    return render_template("login.html", error=error), (401 if error else 200)


def _login_wait(name: str) -> float:
    """Seconds to wait before another attempt: limited per client address and per user name.

    Per name stops guessing one account from many addresses; per address stops one client
    trying many names. Behind a reverse proxy every client shares one address, and the per-name
    limit still holds.
    """
    limiter = _ctx()["login_limiter"]
    by_address = limiter.acquire(f"addr:{request.remote_addr}")
    by_name = limiter.acquire(f"user:{name.lower()}")
    return max(by_address, by_name)


@bp.post("/logout")
def logout() -> Any:
    """End the session."""
    check_csrf()
    session.clear()
    return redirect(url_for("auth.login"))
