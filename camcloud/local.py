"""The local stack: S3 + SQS (moto server), the event worker, ingest + gallery on one port.

Everything listens on loopback only. ``camcloud local`` / ``make run`` runs it until Ctrl-C;
tests use :class:`LocalStack` as a context manager.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from camcloud import layout
from camcloud.devices import DeviceRegistry
from camcloud.s3 import get_json, make_client
from camcloud.settings import Settings
from camcloud.users import UserStore
from camcloud.worker import EventWorker

log = logging.getLogger("camcloud.local")

LOCAL_BUCKET = "camcloud-local"
LOCAL_REGION = "us-east-1"
DEMO_DEVICE = "demo-cam"
DEMO_USER = "admin"
QUEUE_NAME = "camcloud-events"
DLQ_NAME = "camcloud-events-dlq"
# moto's fixed account id: queue ARNs in the bucket notification must use it.
MOTO_ACCOUNT = "123456789012"
MAX_RECEIVES = 3
# Paths the reverse proxy sends to the ingest on EC2; the local stack routes the same way.
INGEST_PATHS = ("/upload", "/healthz", "/readyz", "/metrics")

_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "camcloud-local",
    "AWS_SECRET_ACCESS_KEY": "camcloud-local",
}


def use_fake_credentials() -> None:
    """moto accepts any credentials; make sure boto3 finds some (and never real ones)."""
    for name, value in _FAKE_CREDENTIALS.items():
        os.environ[name] = value
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _reset_moto(endpoint: str) -> None:
    """Empty every moto backend of this process (buckets, queues, …)."""
    import urllib3

    urllib3.request("POST", f"{endpoint}/moto-api/reset", timeout=10.0, retries=2)


def split_by_path(
    ingest_app: Callable[..., Any], gallery_app: Callable[..., Any]
) -> Callable[..., Any]:
    """One WSGI app: device paths to the ingest, everything else to the gallery."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path in INGEST_PATHS:
            return ingest_app(environ, start_response)  # type: ignore[no-any-return]
        return gallery_app(environ, start_response)  # type: ignore[no-any-return]

    return app


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
        self._moto: Any = None
        self._http: Any = None
        self._http_thread: threading.Thread | None = None
        self.worker: EventWorker | None = None
        self.s3: Any = None
        self.sqs: Any = None
        self.queue_url = ""
        self.dlq_url = ""

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
        from moto.server import ThreadedMotoServer
        from werkzeug.serving import make_server

        from gallery import create_app as create_gallery
        from ingest import create_app as create_ingest
        from lambdas.thumbnailer.app import make_handler

        use_fake_credentials()
        self.workdir.mkdir(parents=True, exist_ok=True)
        moto_port = free_port(self.host)
        self._moto = ThreadedMotoServer(ip_address=self.host, port=moto_port, verbose=False)
        self._moto.start()
        endpoint = f"http://{self.host}:{moto_port}"
        # moto keeps its state per process, not per server: start from an empty account even
        # when an earlier stack (or a test's mock) ran in this process.
        _reset_moto(endpoint)

        environ = {
            "CAMCLOUD_BUCKET": LOCAL_BUCKET,
            "CAMCLOUD_REGION": LOCAL_REGION,
            "CAMCLOUD_SPOOL_DIR": str(self.workdir / "spool"),
            "CAMCLOUD_SECRET_KEY": secrets.token_urlsafe(32),
            # A developer's simulator bursts far beyond a real camera's pace.
            "CAMCLOUD_RATE_PER_MINUTE": "1200",
            "CAMCLOUD_RATE_BURST": "200",
            **self._env,
            "CAMCLOUD_S3_ENDPOINT": endpoint,
        }
        self.settings = Settings.from_env(environ)
        self.s3 = make_client(self.settings)
        self.sqs = boto3.session.Session().client(
            "sqs", region_name=self.settings.region, endpoint_url=endpoint,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}),
        )
        self._create_resources()

        handler = make_handler(self.settings, self.s3)
        self.worker = EventWorker(self.sqs, self.queue_url, handler)
        self.worker.start()

        registry = DeviceRegistry(lambda: self.s3, self.bucket)
        _, device_key = registry.add(DEMO_DEVICE, name="Demo camera")
        password = secrets.token_urlsafe(12)
        UserStore(lambda: self.s3, self.bucket).add(DEMO_USER, password)

        web = split_by_path(
            create_ingest(self.settings, self.s3), create_gallery(self.settings, self.s3)
        )
        self._http = make_server(self.host, self.port, web, threaded=True)
        self.port = self._http.server_port
        self._http_thread = threading.Thread(
            target=self._http.serve_forever, name="camcloud-http", daemon=True
        )
        self._http_thread.start()

        base = f"http://{self.host}:{self.port}"
        self.info = {
            "gallery_url": f"{base}/",
            "upload_url": f"{base}/upload",
            "s3_endpoint": endpoint,
            "bucket": self.bucket,
            "region": self.settings.region,
            "devices": {DEMO_DEVICE: device_key},
            "gallery_user": DEMO_USER,
            "gallery_password": password,
        }
        info_path = self.workdir / "local.json"
        info_path.write_text(json.dumps(self.info, indent=2) + "\n")
        info_path.chmod(0o600)

    def _create_resources(self) -> None:
        assert self.settings is not None
        self.s3.create_bucket(Bucket=self.bucket)
        self.s3.put_public_access_block(
            Bucket=self.bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True, "IgnorePublicAcls": True,
                "BlockPublicPolicy": True, "RestrictPublicBuckets": True,
            },
        )
        self.dlq_url = self.sqs.create_queue(QueueName=DLQ_NAME)["QueueUrl"]
        dlq_arn = f"arn:aws:sqs:{self.settings.region}:{MOTO_ACCOUNT}:{DLQ_NAME}"
        self.queue_url = self.sqs.create_queue(
            QueueName=QUEUE_NAME,
            Attributes={
                "VisibilityTimeout": "5",
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVES)}
                ),
            },
        )["QueueUrl"]
        queue_arn = f"arn:aws:sqs:{self.settings.region}:{MOTO_ACCOUNT}:{QUEUE_NAME}"
        # The same trigger as template.yaml: originals only, so outputs never re-trigger.
        self.s3.put_bucket_notification_configuration(
            Bucket=self.bucket,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {
                        "QueueArn": queue_arn,
                        "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                        "Filter": {
                            "Key": {"FilterRules": [{"Name": "prefix", "Value": layout.RAW_PREFIX}]}
                        },
                    }
                ]
            },
        )

    def stop(self) -> None:
        """Stop the web server, the worker and moto, in that order."""
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        if self._moto is not None:
            if self.settings is not None and self.settings.s3_endpoint:
                _reset_moto(self.settings.s3_endpoint)
            self._moto.stop()
            self._moto = None

    def records(self) -> list[dict[str, Any]]:
        """Every metadata record, newest first."""
        paginator = self.s3.get_paginator("list_objects_v2")
        records = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=layout.META_PREFIX):
            for item in page.get("Contents", []):
                document = get_json(self.s3, self.bucket, item["Key"])
                if isinstance(document, dict):
                    records.append(document)
        return records

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
        info = self.info
        key = info["devices"][DEMO_DEVICE]
        return "\n".join(
            [
                "camcloud local stack is running (Ctrl-C stops it)",
                "",
                f"  gallery   {info['gallery_url']}",
                f"  login     {info['gallery_user']} / {info['gallery_password']}",
                f"  upload    {info['upload_url']}",
                f"  device    {DEMO_DEVICE}  key {key}",
                f"  s3        {info['s3_endpoint']}  bucket {info['bucket']}",
                "",
                "  upload a JPEG:",
                f"    curl -sS -H 'Authorization: Bearer {key}' -H 'Content-Type: image/jpeg' \\",
                f"         --data-binary @photo.jpg {info['upload_url']}",
                "  or simulate a camera:",
                "    camcloud simulate --count 20",
                "",
                f"  these facts are also in {self.workdir / 'local.json'}",
            ]
        )


def run_forever(stack: LocalStack) -> None:
    """Run ``stack`` until Ctrl-C or SIGTERM, then stop every part."""
    import signal

    stopping = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stopping.set()

    previous = signal.signal(signal.SIGTERM, request_stop)
    try:
        stack.start()
        print(stack.banner(), flush=True)
        while not stopping.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C while stopping must not leave a half-stopped stack behind.
        previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        print("\nstopping camcloud local stack…", flush=True)
        stack.stop()
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
