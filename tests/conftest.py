"""Shared fixtures: aws_credentials -> aws (moto) -> s3 -> apps -> clients; the local stack.

moto's in-process mock (``aws``) and the local stack's moto server share moto's global state,
so a test uses one or the other, never both; the local stack is module-scoped so that it is
stopped before the next module's mocks start.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws
from PIL import Image

from camcloud.devices import DeviceRegistry
from camcloud.s3 import make_client
from camcloud.settings import Settings
from camcloud.users import UserStore

BUCKET = "camcloud-test"
DEVICE = "cam-1"
USER = "alice"
PASSWORD = "correct horse battery"


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials, so that no test can ever reach a real AWS account."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def aws(aws_credentials: None) -> Iterator[None]:
    """moto's in-process mock of every AWS service."""
    with mock_aws():
        yield


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for a test bucket, with a spool directory of the test's own."""
    return Settings.from_env(
        {
            "CAMCLOUD_BUCKET": BUCKET,
            "CAMCLOUD_REGION": "us-east-1",
            "CAMCLOUD_SECRET_KEY": "test-secret-key",
            "CAMCLOUD_SPOOL_DIR": str(tmp_path / "spool"),
        }
    )


@pytest.fixture
def s3(aws: None, settings: Settings) -> Any:
    """An S3 client with the test bucket created (client made after the mock started)."""
    client = make_client(settings)
    client.create_bucket(Bucket=settings.bucket)
    return client


@pytest.fixture
def registry(s3: Any, settings: Settings) -> DeviceRegistry:
    """The device registry of the test bucket."""
    return DeviceRegistry(lambda: s3, settings.bucket)


@pytest.fixture
def device_key(registry: DeviceRegistry) -> str:
    """The key of a registered camera named ``cam-1``."""
    _, key = registry.add(DEVICE)
    return key


@pytest.fixture
def ingest_app(settings: Settings, s3: Any) -> Any:
    """The ingest app against the mocked bucket."""
    from ingest import create_app

    app = create_app(settings, s3)
    app.config.update(TESTING=True)
    return app


@pytest.fixture
def ingest_client(ingest_app: Any) -> Any:
    """A Flask test client of the ingest."""
    return ingest_app.test_client()


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 in server mode for the module (the ingest tests: never together with ``aws``)."""
    from tests.ingest_support import moto_server

    with moto_server() as url:
        yield url


@pytest.fixture
def ingest_bucket(moto_endpoint: str, tmp_path: Path) -> Any:
    """A fresh bucket on the module's moto server, with a spool in the test's directory."""
    from tests.ingest_support import new_bucket

    return new_bucket(moto_endpoint, tmp_path / "spool")


@pytest.fixture
def fault_proxy(moto_endpoint: str) -> Iterator[Any]:
    """A fault-injecting TCP proxy in front of the module's moto server."""
    from tests.ingest_support import FaultProxy

    fault = FaultProxy(int(moto_endpoint.rsplit(":", 1)[1]))
    yield fault
    fault.close()


@pytest.fixture
def gallery_user(s3: Any, settings: Settings) -> tuple[str, str]:
    """A gallery login: (user name, password)."""
    UserStore(lambda: s3, settings.bucket).add(USER, PASSWORD)
    return USER, PASSWORD


@pytest.fixture
def gallery_app(settings: Settings, s3: Any) -> Any:
    """The gallery app against the mocked bucket."""
    from gallery import create_app

    app = create_app(settings, s3)
    app.config.update(TESTING=True)
    return app


@pytest.fixture
def gallery_client(gallery_app: Any) -> Any:
    """A Flask test client of the gallery (not logged in)."""
    return gallery_app.test_client()


def csrf_from(html: str) -> str:
    """The CSRF token embedded in a page's form."""
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


@pytest.fixture
def logged_in(gallery_client: Any, gallery_user: tuple[str, str]) -> Any:
    """A gallery test client with a logged-in session."""
    page = gallery_client.get("/login").get_data(as_text=True)
    response = gallery_client.post(
        "/login",
        data={"username": gallery_user[0], "password": gallery_user[1],
              "csrf_token": csrf_from(page)},
    )
    assert response.status_code == 302
    return gallery_client


def jpeg_bytes(width: int = 320, height: int = 240, colour: tuple[int, int, int] = (90, 140, 200),
               **save: Any) -> bytes:
    """A small valid JPEG."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "JPEG", **save)
    return out.getvalue()


@pytest.fixture
def jpeg() -> bytes:
    """A small valid JPEG."""
    return jpeg_bytes()


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The whole local stack (moto server, worker, ingest + gallery) on free loopback ports."""
    from camcloud_cli.local import LocalStack

    with LocalStack(tmp_path_factory.mktemp("stack")) as stack:
        yield stack


@pytest.fixture
def webhook() -> Iterator[str]:
    """A loopback JSON webhook (``tests.support.webhook_messages``): its Apprise URL."""
    from tests.support import json_webhook

    with json_webhook() as url:
        yield url
