"""The local stack's parts, started and stopped in order."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from werkzeug.serving import BaseWSGIServer, make_server

import ingest
from camcloud import layout
from camcloud.s3 import get_json, iter_keys, make_client
from camcloud.settings import Settings
from camcloud.worker import EventWorker
from camcloud_cli.alerts_commands import run_alerts_pass
from camcloud_cli.config import use_fake_credentials
from camcloud_cli.local import banner as banners
from camcloud_cli.local.aws import MotoServer, create_resources
from camcloud_cli.local.router import split_by_path
from camcloud_cli.local.seed import DEMO_DEVICE, DEMO_USER, seed
from camcloud_cli.local.timers import (
    ALERTS_TICK_S,
    DAILY_TICK_S,
    AlertsTimer,
    DailyTimelapse,
    Periodic,
    queue_depth,
)
from gallery import create_app as create_gallery
from gallery.jobs import JobRouter, default_runner
from lambdas.thumbnailer.app import make_handler

LOCAL_BUCKET = "camcloud-local"
LOCAL_REGION = "us-east-1"

__all__ = ["DEMO_DEVICE", "DEMO_USER", "LocalStack"]


class LocalStack:
    """Starts and stops every part of the local stack; ``info`` is what ``local.json`` holds."""

    def __init__(
        self,
        workdir: str | Path = ".camcloud",
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        env: dict[str, str] | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.host = host
        self.port = port
        self._env = dict(env or {})
        self.info: dict[str, Any] = {}
        self.settings: Settings | None = None
        self._moto: MotoServer | None = None
        self._http: BaseWSGIServer | None = None
        self._stop_drainer: Callable[[], None] | None = None
        self.worker: EventWorker | None = None
        self.s3: Any = None
        self.sqs: Any = None
        self.queue_url = ""
        self.dlq_url = ""
        # The schedules (daily time-lapse, alert check) and the gallery's background jobs.
        self.timers: list[Periodic] = []
        self._jobs: JobRouter | None = None

    @property
    def bucket(self) -> str:
        """The local bucket's name."""
        assert self.settings is not None
        return self.settings.bucket

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start moto, create bucket/queues/notification, the worker and the web server."""
        use_fake_credentials()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._moto = MotoServer(self.host)
        self.settings = self._settings(self._moto.endpoint)
        self.s3 = make_client(self.settings)
        self.sqs = boto3.session.Session().client(
            "sqs", region_name=self.settings.region, endpoint_url=self._moto.endpoint,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}),
        )
        queues = create_resources(self.s3, self.sqs, self.bucket, self.settings.region)
        self.queue_url, self.dlq_url = queues.url, queues.dlq_url

        self.worker = EventWorker(self.sqs, self.queue_url, make_handler(self.settings, self.s3))
        self.worker.start()
        seeded = seed(self.s3, self.bucket)
        self._serve()
        self._start_timers()
        self._write_info(seeded.device_key, seeded.password)

    def _settings(self, endpoint: str) -> Settings:
        return Settings.from_env({
            "CAMCLOUD_BUCKET": LOCAL_BUCKET,
            "CAMCLOUD_REGION": LOCAL_REGION,
            "CAMCLOUD_SPOOL_DIR": str(self.workdir / "spool"),
            "CAMCLOUD_SECRET_KEY": secrets.token_urlsafe(32),
            # A developer's simulator bursts far beyond a real camera's pace.
            "CAMCLOUD_RATE_PER_MINUTE": "1200",
            "CAMCLOUD_RATE_BURST": "200",
            **self._env,
            "CAMCLOUD_S3_ENDPOINT": endpoint,
        })

    def _serve(self) -> None:
        """The ingest (with its spool drainer) and the gallery on one loopback port."""
        assert self.settings is not None
        ingest_app = ingest.create_app(self.settings, self.s3)
        # The ingest's drainer runs where the process model lives: here, or gunicorn's hook.
        self._stop_drainer = ingest.start_background(ingest_app)
        # No time-lapse function here: ranges run in this process, as the Lambda runs them.
        self._jobs = default_runner(self.settings.with_changes(timelapse_function=None),
                                    lambda: self.s3, time.time)
        gallery_app = create_gallery(self.settings, self.s3, jobs=self._jobs)
        web = split_by_path(ingest_app, gallery_app)
        self._http = make_server(self.host, self.port, web, threaded=True)
        self.port = self._http.server_port
        threading.Thread(target=self._http.serve_forever, name="camcloud-http",
                         daemon=True).start()

    def _start_timers(self) -> None:
        """The daily time-lapse (checked every minute) and the alert check (every 5 min)."""
        assert self.settings is not None
        settings, s3, sqs, dlq_url = self.settings, self.s3, self.sqs, self.dlq_url
        daily = DailyTimelapse(s3, self.bucket, settings.gallery_timezone,
                               self.workdir / "timelapse.json", clock=lambda: datetime.now(UTC))
        checks = AlertsTimer(lambda **kw: run_alerts_pass(settings, s3, **kw),
                             lambda: queue_depth(sqs, dlq_url))
        self.timers = [Periodic("daily-timelapse", daily.tick, DAILY_TICK_S),
                       # Like the AWS schedule: the first check one period after the start.
                       Periodic("alerts-check", checks.tick, ALERTS_TICK_S,
                                first_delay=ALERTS_TICK_S)]
        for timer in self.timers:
            timer.start()

    def _write_info(self, device_key: str, password: str) -> None:
        assert self.settings is not None and self._moto is not None
        base = f"http://{self.host}:{self.port}"
        self.info = {
            "gallery_url": f"{base}/",
            "upload_url": f"{base}/upload",
            "s3_endpoint": self._moto.endpoint,
            "bucket": self.bucket,
            "region": self.settings.region,
            "devices": {DEMO_DEVICE: device_key},
            "gallery_user": DEMO_USER,
            "gallery_password": password,
        }
        info_path = self.workdir / "local.json"
        info_path.write_text(json.dumps(self.info, indent=2) + "\n")
        info_path.chmod(0o600)

    def stop(self) -> None:
        """Stop the schedules, the web server, the jobs, the drainer, the worker and moto."""
        for timer in self.timers:
            timer.stop()
        self.timers = []
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._jobs is not None:
            self._jobs.close()
            self._jobs = None
        if self._stop_drainer is not None:
            self._stop_drainer()
            self._stop_drainer = None
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None

    def records(self) -> list[dict[str, Any]]:
        """Every metadata record, newest first."""
        documents = (get_json(self.s3, self.bucket, key)
                     for key in iter_keys(self.s3, self.bucket, layout.META_PREFIX))
        return [document for document in documents if isinstance(document, dict)]

    def wait_for_records(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until at least ``count`` metadata records exist; return them."""
        deadline = time.monotonic() + timeout
        while True:
            records = self.records()
            if len(records) >= count or time.monotonic() > deadline:
                return records
            time.sleep(0.1)

    def banner(self) -> str:
        """What ``camcloud local`` prints at start."""
        return banners.banner(self.info, self.workdir)
