"""Operations endpoints: ``/healthz``, ``/readyz``, ``/metrics``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify

bp = Blueprint("ops", __name__)


def _ctx() -> dict[str, Any]:
    return current_app.extensions["camcloud"]  # type: ignore[no-any-return]


@bp.get("/healthz")
def healthz() -> Any:
    """The process is up (no S3 call: a liveness check must not depend on S3)."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Any:
    """Ready when S3 answers (probe cached a few seconds); reports the spool either way."""
    ctx = _ctx()
    reachable, detail = ctx["health"].probe()
    spool = ctx["spool"].state()
    document = {
        "status": "ready" if reachable else "degraded",
        "s3": detail,
        "spool": {
            "available": spool.available,
            "entries": spool.entries,
            "bytes": spool.bytes,
            "max_bytes": spool.max_bytes,
            "draining_here": ctx["drainer"].holds_lock,
        },
    }
    return jsonify(document), 200 if reachable else 503


@bp.get("/metrics")
def metrics() -> Any:
    """Prometheus text: uploads, rejects by reason, bytes, latency histogram, spool depth."""
    ctx = _ctx()

    def gauges() -> dict[str, float]:
        spool = ctx["spool"].state()
        return {
            "spool_entries": spool.entries,
            "spool_bytes": spool.bytes,
            "spool_max_bytes": spool.max_bytes,
            "s3_breaker_open": 1.0 if ctx["health"].open else 0.0,
        }

    text = ctx["metrics"].render(gauges)
    return Response(text, mimetype="text/plain", headers={"Content-Type":
                    "text/plain; version=0.0.4; charset=utf-8"})
