"""Share links: the form, the created link, the user's list with revoke, the public page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, redirect, render_template, request, url_for

from camcloud.errors import Refusal
from camcloud.shares import describe
from gallery import sharing
from gallery.auth import check_csrf, current, login_required
from gallery.timelapse_pages import media_csp, user

bp = Blueprint("shares", __name__)
bp.after_request(media_csp)


@bp.get("/share/new")
@login_required
def new() -> Any:
    """The share form for a capture, a camera's day or a time-lapse (named in the query)."""
    what = {name: request.args.get(name, "")[:200]
            for name in ("capture", "device", "date", "timelapse")}
    return render_template("share_new.html", what=what, ttls=sharing.TTL_CHOICES)


@bp.post("/shares")
@login_required
def create() -> Any:
    """Create a share and show its link (once: only its hash is stored)."""
    check_csrf()
    token, share = sharing.create(current(), user(), request.form)
    link = url_for("shares.shared", token=token, _external=True)
    if request.accept_mimetypes.best == "application/json":
        return jsonify(url=link, id=share.id, expires_at=share.expires_at), 201
    return render_template("share_created.html", link=link, share=share,
                           summary=describe(share)), 201


@bp.get("/shares")
@login_required
def mine() -> Any:
    """The user's shares, with revoke buttons."""
    listed = [(share, describe(share), share.live(current().clock()))
              for share in sharing.mine(current(), user())]
    return render_template("shares.html", shares=listed)


@bp.post("/shares/<share_id>/revoke")
@login_required
def revoke(share_id: str) -> Any:
    """Revoke a share: its link answers 404 from now on."""
    check_csrf()
    sharing.revoke(current(), user(), share_id[:40])
    return redirect(url_for("shares.mine"), code=303)


@bp.get("/s/<token>")
def shared(token: str) -> Any:
    """The public page of a share link: no login, only what was shared."""
    try:
        page = sharing.shared_page(current(), request.remote_addr or "", token[:100])
    except Refusal as refusal:
        # Revoked, expired and never-existing links look the same: no hint either way.
        headers = {**(refusal.headers or {}), "X-Robots-Tag": "noindex"}
        return render_template("shared_missing.html", status=refusal.status), \
            refusal.status, headers
    response = render_template("shared.html", page=page,
                               expires_at=current().presigner.window().expires_at)
    return response, 200, {"X-Robots-Tag": "noindex"}
