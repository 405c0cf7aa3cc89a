"""A camera's settings changed through the gallery's form in real Chromium, on the local stack.

The page follows the camera's report (pending -> done, drift -> in sync) without a reload, and
the done request links to the capture the camera uploaded through the ingest.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3
from moto import mock_aws
from playwright.sync_api import Page, expect, sync_playwright

from camcloud import device_state
from camcloud.simulate import make_frame
from camcloud_cli.local import LocalStack

pytestmark = [pytest.mark.browser, pytest.mark.stack]

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def forget_moto_state() -> None:
    """Empty moto's in-process buckets (a stack stopped earlier leaves its devices there)."""
    with mock_aws():
        pass


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The local stack with its demo camera, ``demo-cam``."""
    forget_moto_state()
    with LocalStack(tmp_path_factory.mktemp("devices-stack")) as local:
        yield local
    forget_moto_state()


@pytest.fixture(scope="module")
def page(stack: Any) -> Iterator[Page]:
    """One Chromium page, logged in through the login form."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"),
                                             args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        tab = context.new_page()
        tab.goto(stack.info["gallery_url"] + "login")
        tab.get_by_label("User name").fill(stack.info["gallery_user"])
        tab.get_by_label("Password").fill(stack.info["gallery_password"])
        tab.get_by_role("button", name="Log in").click()
        expect(tab.locator("h1")).to_have_text("All cameras")
        yield tab
        context.close()
        browser.close()


def test_a_setting_changed_through_the_form_reaches_the_cameras_desired_state(stack, page):
    # Given the demo camera's page, and its settings linked from there
    page.goto(stack.info["gallery_url"] + "camera/demo-cam")
    page.get_by_role("link", name="Settings & capture now").click()
    expect(page.locator("h1")).to_have_text("Settings of Demo camera")
    # When an interval of 0 is saved
    page.get_by_label("Capture interval (seconds)").fill("0")
    page.get_by_role("button", name="Save settings").click()
    # Then the message shows next to the field, and the typed value stays
    expect(page.locator("#interval_s-error")).to_contain_text(
        "interval_s: must be from 5 to 86400 seconds, not 0")
    expect(page.get_by_label("Capture interval (seconds)")).to_have_value("0")
    # When a valid interval and another image mode are saved
    page.get_by_label("Capture interval (seconds)").fill("600")
    page.get_by_label("Image mode").select_option("vga")
    page.get_by_label("Capture on motion (PIR)").check()
    page.get_by_role("button", name="Save settings").click()
    # Then the page says so, and shows version 1 waiting for the camera
    expect(page.get_by_role("status")).to_contain_text("Saved.")
    expect(page.locator(".sync")).to_have_attribute("data-drift", "yes")
    expect(page.locator(".sync-status")).to_contain_text("has not applied version 1")
    expect(page.get_by_label("Image mode")).to_have_value("vga")
    # And the camera's desired state holds the new settings
    config = device_state.read_state(stack.s3, stack.bucket, "demo-cam").config
    assert (config.version, config.interval_s, config.image_mode, config.pir) == (
        1, 600, "vga", True)
    # When "Capture now" is pressed, Then a pending request shows
    page.get_by_role("button", name="Capture now").click()
    pending = page.locator("li.command.pending")
    expect(pending).to_have_count(1)
    command_id = pending.get_attribute("data-command")
    # When the camera uploads the capture through the ingest, reporting the settings applied
    # and the command done with that capture, while the page is open
    page.get_by_label("Capture interval (seconds)").fill("900")  # half-typed, not saved
    key = stack.info["devices"]["demo-cam"]
    response = urllib3.request("POST", stack.info["upload_url"], body=make_frame(640, 480, 1),
                               headers={
        "Content-Type": "image/jpeg", "Authorization": f"Bearer {key}",
        "X-Captured-At": f"{time.time():.3f}", "X-Capture-Id": "now-1",
        "X-Config-Version": "1", "X-Commands-Done": f"{command_id}=now-1"})
    assert response.status == 201, response.data
    # Then, without a reload, the request turns done with a link and the settings in sync
    done = page.locator(f'li.command[data-command="{command_id}"]')
    expect(done).to_have_attribute("data-status", "done", timeout=20_000)
    expect(page.locator(".sync")).to_have_attribute("data-drift", "no")
    # And what the user was typing is left alone
    expect(page.get_by_label("Capture interval (seconds)")).to_have_value("900")
    # When the link is followed (once the thumbnailer made the capture's record)
    stack.wait_for_records(1, timeout=60)
    done.get_by_role("link", name="see capture now-1").click()
    # Then the capture's own page opens, showing its image
    expect(page).to_have_url(re.compile(r"/capture/demo-cam_[0-9]{13}_now-1\?next="))
    page.wait_for_function(
        "() => [...document.querySelectorAll('img')].some(i => i.complete && i.naturalWidth > 0)")
