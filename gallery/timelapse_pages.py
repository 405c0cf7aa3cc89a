"""A camera's time-lapse and export page: videos, the custom-range form, ZIP downloads, jobs."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)

from gallery import timelapses
from gallery.auth import check_csrf, current, login_required

bp = Blueprint("timelapse", __name__)


def media_csp(response: Any) -> Any:
    """The gallery's CSP, plus videos from the bucket (the app-wide one allows images only)."""
    origin = current().image_origin()
    sources = f"'self' data: {origin}" if origin else "'self' data:"
    media = f"'self' {origin}" if origin else "'self'"
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'self'; style-src 'self'; img-src {sources}; "
        f"media-src {media}; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'")
    return response


bp.after_request(media_csp)


def user() -> str:
    """The logged-in user ('' with the login off): owner of jobs and shares."""
    name = session.get("user")
    return name if isinstance(name, str) else ""


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


@bp.get("/camera/<device>/timelapse")
@login_required
def page(device: str) -> Any:
    """The camera's videos (player and download), the range form, exports, a running job."""
    videos = timelapses.videos(current(), device)
    now = datetime.fromtimestamp(current().clock(), current().zone).replace(second=0,
                                                                            microsecond=0)
    job = request.args.get("job", "")[:40]
    return render_template(
        "timelapse.html", device=device, name=current().camera_name(device), videos=videos,
        job=job, default_from=(now - timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M"),
        default_to=now.strftime("%Y-%m-%dT%H:%M"), today=now.date().isoformat(),
        expires_at=current().presigner.window().expires_at)


@bp.post("/camera/<device>/timelapse")
@login_required
def build_range(device: str) -> Any:
    """Start a custom range in the background; the page then shows its progress."""
    check_csrf()
    params = timelapses.range_request(request.form, current().zone, device)
    job_id = current().jobs.submit("timelapse", {**params, "owner": user()})
    return _started(device, job_id)


@bp.post("/camera/<device>/export")
@login_required
def export_range(device: str) -> Any:
    """Start a date-range export (a ZIP in ``exports/``); the page links it when ready."""
    check_csrf()
    params = timelapses.export_request(request.form, current().settings.gallery_timezone,
                                       device)
    job_id = current().jobs.submit("export", {**params, "owner": user()})
    return _started(device, job_id)


def _started(device: str, job_id: str) -> Any:
    if _wants_json():
        return jsonify(job=job_id, status=url_for("timelapse.job", job_id=job_id)), 202
    return redirect(url_for("timelapse.page", device=device, job=job_id), code=303)


@bp.get("/api/jobs/<job_id>")
@login_required
def job(job_id: str) -> Any:
    """A background job's progress (the page polls this while it is visible)."""
    return jsonify(timelapses.job_view(current(), job_id[:40], user()))


@bp.get("/camera/<device>/export.zip")
@login_required
def export_day(device: str) -> Any:
    """One day of a camera's originals as a ZIP, streamed while it is built."""
    name, chunks = timelapses.day_export(current(), device, request.args.get("date", ""))
    return Response(stream_with_context(chunks), mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})
