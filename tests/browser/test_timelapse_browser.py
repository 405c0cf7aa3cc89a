"""A time-lapse the builder made, played by Debian's Chromium from a local HTTP server.

Finding (Chromium 156 on Debian 12): Debian builds Chromium with its proprietary codecs, so it
decodes H.264 in MP4: ``canPlayType('video/mp4; codecs="avc1.64001F"')`` answers "probably" and
the builder's MP4 reaches ready state 4. H.264 MP4 therefore stays the format (it also plays in
Safari, Firefox and every phone).
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, sync_playwright

from camcloud.timelapse import Options, build_timelapse
from tests.conftest import BUCKET
from tests.timelapse_support import download, seed

pytestmark = [pytest.mark.browser]

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a directory (with Range support from the base class) without logging."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        """Say nothing: the test's output is the assertions."""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A loopback HTTP server for ``tmp_path``: (base URL, directory)."""
    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless."""
    executable = shutil.which("chromium")
    assert executable, "chromium is not installed: apt-get install chromium (make system-deps)"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def test_chromium_plays_the_builders_h264_mp4(s3: Any, served: tuple[str, Path],
                                              browser: Browser) -> None:
    """Given a stamped 45-frame time-lapse built from previews, when Chromium loads it in a
    <video>, then it can play it: ready state at least 2, duration 1.5 s, the frame size."""
    for i in range(45):
        seed(s3, BUCKET, "cam-1", START + timedelta(minutes=i), f"c{i}", level=80 + 3 * i,
             width=320, height=240)
    result = build_timelapse(s3, BUCKET, "cam-1", START, START + timedelta(hours=1),
                             Options(stamp=True), clock=lambda: START)
    base, directory = served
    download(s3, BUCKET, result.key, directory / "day.mp4")
    page = browser.new_page()
    try:
        page.goto(f"{base}/")
        support = page.evaluate(
            """() => document.createElement('video')
                 .canPlayType('video/mp4; codecs="avc1.64001F"')""")
        page.set_content(f'<video id="v" src="{base}/day.mp4" muted preload="auto"></video>')
        page.wait_for_function(
            "() => { const v = document.getElementById('v'); return v.readyState >= 2 || v.error }",
            timeout=20_000)
        state = page.evaluate(
            """() => { const v = document.getElementById('v');
                       return {ready: v.readyState, duration: v.duration, error: v.error &&
                               v.error.code, width: v.videoWidth, height: v.videoHeight}; }""")
    finally:
        page.close()

    assert support == "probably"
    assert state["error"] is None
    assert state["ready"] >= 2
    assert state["duration"] == pytest.approx(45 / 30, abs=0.05)
    assert (state["width"], state["height"]) == (320, 240)
