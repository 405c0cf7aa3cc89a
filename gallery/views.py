"""Gallery pages and their JSON helpers: parse the request, call one function, render."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from flask import (
    Blueprint,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import HTTPException

from camcloud.errors import Refusal
from gallery import health, listing, queries
from gallery.auth import check_csrf, current, login_required
from gallery.guards import safe_next

bp = Blueprint("views", __name__)

_JSON_ERRORS = {400: "bad_request", 401: "login_required", 404: "not_found",
                405: "method_not_allowed", 429: "rate_limited", 503: "storage_unavailable"}


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _error(status: int, message: str, code: str | None = None,
           headers: dict[str, str] | None = None) -> Any:
    if _wants_json():
        response = jsonify(error=code or _JSON_ERRORS.get(status, "error"), message=message)
        response.status_code = status
    else:
        response = current_app.make_response(
            (render_template("error.html", status=status, message=message), status))
    # A refusal's headers are part of its answer (Retry-After on a 429 or 503).
    response.headers.update(headers or {})
    return response


@bp.app_errorhandler(Refusal)
def refused(exc: Refusal) -> Any:
    """A cursor, date or id the gallery cannot use (400), a capture or camera that is not (404),
    a job runner that is full (429) or unavailable (503): with the refusal's headers."""
    return _error(exc.status, exc.message, exc.code, exc.headers)


@bp.app_errorhandler(ClientError)
@bp.app_errorhandler(BotoCoreError)
def storage_unavailable(exc: Exception) -> Any:
    """S3 refused or is unreachable: say so instead of a bare 500."""
    current_app.logger.exception("S3 call failed")
    return _error(503, "The photo storage did not answer. Try again in a moment.")


@bp.app_errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Any:
    """Every other HTTP error as a friendly page (or JSON for the page's scripts)."""
    return _error(exc.code or 500, exc.description or exc.name)


@bp.after_app_request
def security_headers(response: Any) -> Any:
    """A strict CSP (own scripts, images from the bucket only), no referrer for S3 links."""
    origin = current().image_origin()
    images = f"'self' data: {origin}" if origin else "'self' data:"
    response.headers.setdefault(
        "Content-Security-Policy",
        f"default-src 'none'; script-src 'self'; style-src 'self'; img-src {images}; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # Presigned URLs must not leak to other sites through the Referer header.
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if response.mimetype == "text/html" or response.mimetype == "application/json":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.get("/")
@login_required
def timeline() -> Any:
    """All cameras, newest first; ``?after=`` pages on, ``?date=`` jumps to a day."""
    page = queries.timeline(current(), None, request.args.get("after"), request.args.get("date"))
    return render_template("timeline.html", page=page)


@bp.get("/camera/<device>")
@login_required
def camera(device: str) -> Any:
    """One camera, newest first."""
    page = queries.timeline(current(), device, request.args.get("after"), request.args.get("date"))
    return render_template("timeline.html", page=page)


@bp.get("/camera/<device>/live")
@login_required
def live(device: str) -> Any:
    """One camera's newest capture, refreshing itself."""
    return render_template("live.html", latest=queries.live_page(current(), device))


@bp.get("/api/camera/<device>/latest")
@login_required
def latest_json(device: str) -> Any:
    """The newest capture of a camera with fresh URLs (the live view polls this)."""
    return jsonify(queries.latest(current(), device))


@bp.get("/cameras")
@login_required
def cameras() -> Any:
    """Every camera's health: latest image, last seen, uploads per hour, telemetry, errors."""
    return render_template("cameras.html", page=health.cameras(current()))


@bp.get("/capture/<capture_id>")
@login_required
def capture(capture_id: str) -> Any:
    """One capture on its own page (what the lightbox shows, without JavaScript)."""
    detail = queries.capture(current(), listing.parse_capture_id(capture_id))
    return render_template("capture.html", capture=detail, back=_back(), standalone=True)


@bp.get("/capture/<capture_id>/panel")
@login_required
def capture_panel(capture_id: str) -> Any:
    """The lightbox's metadata panel for one capture (an HTML fragment)."""
    detail = queries.capture(current(), listing.parse_capture_id(capture_id))
    return render_template("_panel.html", capture=detail, back=_back())


@bp.get("/capture/<capture_id>/download")
@login_required
def download(capture_id: str) -> Any:
    """Redirect to a fresh presigned URL that saves the original."""
    url = queries.download_url(current(), listing.parse_capture_id(capture_id))
    return redirect(url, code=303)


@bp.post("/capture/<capture_id>/delete")
@login_required
def delete(capture_id: str) -> Any:
    """Delete a capture: the original, its thumbnail, preview and record."""
    check_csrf()
    ref = listing.parse_capture_id(capture_id)
    queries.delete_capture(current(), ref)
    if _wants_json():
        return jsonify(deleted=ref.id)
    return redirect(_back(), code=303)


@bp.get("/api/links")
@login_required
def fresh_links() -> Any:
    """Fresh thumbnail and preview URLs for the captures on a page (``?id=…&id=…``)."""
    return jsonify(queries.fresh_links(current(), request.args.getlist("id")))


@bp.get("/api/capture/<capture_id>/check")
@login_required
def check(capture_id: str) -> Any:
    """Why an image failed to load, with fresh URLs to try again."""
    return jsonify(queries.check_capture(current(), listing.parse_capture_id(capture_id)))


@bp.app_template_filter("filesize")
def filesize(size: Any) -> str:
    """``153.2 KB``."""
    return listing.human_bytes(size)


@bp.app_template_filter("when")
def when(text: Any) -> str:
    """An ISO 8601 time from a record, in the gallery's time zone; as given if unparsable."""
    return listing.format_iso(text, current().zone)


@bp.app_template_filter("label")
def label(name: str) -> str:
    """A telemetry or EXIF field name as a person reads it: ``free_heap`` → ``Free heap``."""
    return listing.field_label(name)


def _back() -> str:
    # Only same-site paths: a crafted ?next= must not send the user elsewhere.
    return safe_next(request.values.get("next"), url_for("views.timeline"))
