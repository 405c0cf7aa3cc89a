"""Operations endpoints: ``/healthz`` (load balancer), ``/readyz`` (host only), ``/metrics``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from ingest.current import services_of

bp = Blueprint("ops", __name__)

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@bp.get("/healthz")
def healthz() -> Any:
    """The process is up, and nothing more (no S3 call, no detail: the load balancer's check)."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Any:
    """Ready when S3 answers; the S3 and spool detail (nginx keeps it to the host)."""
    outcome = services_of().operations.readiness()
    return jsonify(outcome.body), outcome.status


@bp.get("/metrics")
def metrics() -> Any:
    """Prometheus text: uploads, rejects by reason, bytes, latency histogram, spool depth."""
    text = services_of().operations.metrics_text()
    return Response(text, headers={"Content-Type": METRICS_CONTENT_TYPE})
