"""The time-lapse page and a share link in real Chromium (Playwright) against the local stack:
the camera's video plays from its presigned URL, and the shared page opens without login."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto import mock_aws
from playwright.sync_api import Browser, Page, expect, sync_playwright

from camcloud.timelapse import Options, build_timelapse
from camcloud_cli.local import LocalStack
from tests.timelapse_support import seed

pytestmark = [pytest.mark.browser, pytest.mark.stack]

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--autoplay-policy=no-user-gesture-required"]
START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
DEVICE = "yard-cam"
# Functions, not expressions: the gallery's CSP forbids the eval Playwright uses for those.
PLAYABLE = ("() => { const v = document.querySelector('video');"
            " return v && v.readyState >= 2 && v.duration > 0; }")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The local stack holding one time-lapse of yard-cam built by the service."""
    with mock_aws():
        pass  # forget the buckets an earlier stack of this process left in moto's memory
    with LocalStack(tmp_path_factory.mktemp("media-stack")) as local:
        for i in range(45):
            seed(local.s3, local.bucket, DEVICE, START + timedelta(minutes=i), f"c{i}",
                 level=80 + 3 * i, width=320, height=240)
        local.video = build_timelapse(local.s3, local.bucket, DEVICE, START,
                                      START + timedelta(hours=1), Options(stamp=True),
                                      clock=lambda: START)
        yield local
    with mock_aws():
        pass


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=shutil.which("chromium"),
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def logged_in(browser: Browser, stack: Any) -> Page:
    """A new page of a new context, logged in through the form."""
    page = browser.new_context().new_page()
    page.set_default_timeout(15_000)
    page.goto(stack.info["gallery_url"] + "login")
    page.get_by_label("User name").fill(stack.info["gallery_user"])
    page.get_by_label("Password").fill(stack.info["gallery_password"])
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("h1")).to_have_text("All cameras")
    return page


def test_the_camera_time_lapse_plays_and_its_share_link_opens_without_login(stack, browser):
    # Given a logged-in owner on the camera's time-lapse page
    page = logged_in(browser, stack)
    page.goto(f"{stack.info['gallery_url']}camera/{DEVICE}/timelapse")
    # When the page loads / Then its <video> (a presigned URL into the bucket) can play
    page.wait_for_function(PLAYABLE)
    duration = page.locator("video").evaluate("v => v.duration")
    assert duration == pytest.approx(stack.video.sidecar["duration_s"], abs=0.1)
    # When the owner shares the video for a day
    page.get_by_role("link", name="Share…").first.click()
    page.get_by_label("Valid for").select_option(label="1 day")
    page.get_by_role("button", name="Create link").click()
    link = page.get_by_label("Share link").input_value()
    assert "/s/" in link
    # Then someone with no session opens it: the video plays, and no login is asked for
    visitor = browser.new_context().new_page()
    visitor.set_default_timeout(15_000)
    visitor.goto(link)
    assert visitor.url == link
    expect(visitor.locator("h1")).to_contain_text("Time-lapse of")
    visitor.wait_for_function(PLAYABLE)
    assert visitor.locator("a[href^='/']").count() == 0  # nothing leads into the gallery


def test_a_custom_range_shows_its_progress_and_lands_in_the_list(stack, browser):
    # Given the owner on the time-lapse page, with one video listed
    page = logged_in(browser, stack)
    page.goto(f"{stack.info['gallery_url']}camera/{DEVICE}/timelapse")
    before = page.locator("li.video").count()
    # When a range is built with 10 fps and no stamp (the gallery's own background runner)
    page.get_by_label("From").fill("2026-11-20T09:00")
    page.get_by_label("To").fill("2026-11-20T10:00")
    page.get_by_label("Frames per second").fill("10")
    with page.expect_response(lambda response: "/api/jobs/" in response.url) as polled:
        page.get_by_role("button", name="Build").click()
    # Then the page follows the job (gallery/static/jobs.js polling its JSON) and, once it is
    # done, reloads without the job: the new range is in the list
    assert polled.value.json()["kind"] == "timelapse"
    page.wait_for_url(lambda url: "job=" not in url, timeout=60_000)
    expect(page.locator("li.video")).to_have_count(before + 1)
    assert page.locator("li.video h3", has_text="2026-11-20 09:00 – 2026-11-20 10:00").count() == 2
