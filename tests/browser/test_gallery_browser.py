"""The gallery in real Chromium (Playwright) against the local stack: what a camera owner does.

One local stack, one browser and one logged-in page for the whole module: the stack shows 4
captures per page so that paging needs only a handful of uploads.
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

from camcloud import layout
from camcloud.devices import DeviceRegistry
from camcloud.simulate import make_frame
from camcloud_cli.local import LocalStack

pytestmark = [pytest.mark.browser, pytest.mark.stack]

PAGE_SIZE = 4
# SOI, an APP0 segment of garbage, a scan of garbage, EOI: framed like a JPEG, not decodable.
CORRUPT_JPEG = (b"\xff\xd8" + b"\xff\xe0\x00\x10" + b"garbage-garbage!"[:14]
                + b"\xff\xda\x00\x08" + b"\x01\x02\x03\x04\x05\x06" + b"not an image" * 20
                + b"\xff\xd9")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def upload(stack: LocalStack, key: str, body: bytes, captured_at: float, capture_id: str) -> str:
    """Upload one capture as a camera does; return its S3 key."""
    response = urllib3.request("POST", stack.info["upload_url"], body=body, headers={
        "Content-Type": "image/jpeg", "Authorization": f"Bearer {key}",
        "X-Captured-At": f"{captured_at:.3f}", "X-Capture-Id": capture_id,
        "X-Firmware": "1.4.2", "X-RSSI": "-63", "X-Free-Heap": "81234"})
    assert response.status in (200, 201), response.data
    return str(response.json()["key"])


def forget_moto_state() -> None:
    """Empty moto's in-process buckets and queues (a mock resets them when it starts).

    A local stack stopped earlier in this pytest process leaves its bucket, devices and users in
    moto's memory, and the next stack would find them (its demo device "exists already").
    """
    with mock_aws():
        pass


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The local stack with 7 demo-cam captures, 2 yard-cam captures and 1 corrupt capture."""
    forget_moto_state()
    with LocalStack(tmp_path_factory.mktemp("browser-stack"),
                    env={"CAMCLOUD_GALLERY_PAGE_SIZE": str(PAGE_SIZE)}) as local:
        demo = local.info["devices"]["demo-cam"]
        _, yard = DeviceRegistry(lambda: local.s3, local.bucket).add("yard-cam")
        now = time.time()
        keys = {"demo": [], "yard": []}
        for i in range(7):
            keys["demo"].append(upload(local, demo, make_frame(640, 480, i), now - 600 - i * 90,
                                       f"demo-{i}"))
        for i in range(2):
            keys["yard"].append(upload(local, yard, make_frame(640, 480, 20 + i, seed=3),
                                       now - 300 - i * 120, f"yard-{i}"))
        keys["corrupt"] = [upload(local, demo, CORRUPT_JPEG, now - 30, "corrupt-1")]
        records = local.wait_for_records(10, timeout=60)
        assert len(records) == 10, records
        local.keys = keys
        local.yard_key = yard
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
        # Given the gallery URL, When opened without a session, Then the login form shows
        tab.goto(stack.info["gallery_url"])
        expect(tab).to_have_url(f"{stack.info['gallery_url']}login?next=/")
        tab.get_by_label("User name").fill(stack.info["gallery_user"])
        tab.get_by_label("Password").fill(stack.info["gallery_password"])
        tab.get_by_role("button", name="Log in").click()
        expect(tab.locator("h1")).to_have_text("All cameras")
        yield tab
        context.close()
        browser.close()


def ref_of(key: str) -> layout.CaptureRef:
    """The capture named by an S3 key."""
    return layout.parse_key(key)


def tile_ids(page: Page) -> list[str]:
    """Capture ids of the tiles on the page, in order."""
    return page.locator("li.tile").evaluate_all("tiles => tiles.map(t => t.dataset.capture)")


def all_thumbnails_loaded(page: Page) -> None:
    """Wait until every thumbnail on the page has decoded pixels."""
    # Functions, not expressions: the gallery's CSP forbids the eval Playwright uses for those.
    page.wait_for_function(
        "() => [...document.querySelectorAll('li.tile img')]"
        ".every(i => i.complete && i.naturalWidth > 0)")


def open_timeline(page: Page, stack: Any, path: str = "") -> None:
    """Go to a gallery page and wait for its thumbnails."""
    page.goto(stack.info["gallery_url"] + path)
    all_thumbnails_loaded(page)


def test_after_login_the_newest_thumbnails_load(stack, page):
    # Given the logged-in gallery / When the timeline is open
    open_timeline(page, stack)
    # Then the newest page of captures shows, every thumbnail with real pixels
    newest = [ref_of(stack.keys["corrupt"][0]).id, ref_of(stack.keys["yard"][0]).id,
              ref_of(stack.keys["yard"][1]).id, ref_of(stack.keys["demo"][0]).id]
    assert tile_ids(page) == newest
    widths = page.locator("li.tile img").evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
    assert len(widths) == PAGE_SIZE and all(width > 0 for width in widths)
    expect(page.locator("section.day h2").first).to_be_visible()


def test_paging_reaches_every_older_capture_once(stack, page):
    # Given the first page
    open_timeline(page, stack)
    seen = tile_ids(page)
    # When the user follows "Older" until there is none
    while page.locator("a.older").count():
        page.locator("a.older").click()
        all_thumbnails_loaded(page)
        seen += tile_ids(page)
    # Then every stored capture was shown exactly once, newest first
    every_key = [key for keys in stack.keys.values() for key in keys]
    assert seen == [ref.id for ref in sorted((ref_of(key) for key in every_key),
                                             key=lambda ref: ref.meta_key)]


def test_the_lightbox_steps_with_keys_and_swipes_and_closes_with_escape(stack, page):
    # Given the timeline
    open_timeline(page, stack)
    ids = tile_ids(page)
    dialog = page.locator("dialog#lightbox")
    # When the second tile is opened
    page.locator("li.tile a.tile-link").nth(1).click()
    # Then the lightbox shows its preview and its facts
    expect(dialog).to_be_visible()
    expect(dialog).to_have_attribute("data-capture", ids[1])
    page.wait_for_function(
        "() => { const i = document.querySelector('.lb-image'); return i && i.naturalWidth > 0 }")
    expect(dialog.locator(".panel")).to_contain_text("yard-cam")
    expect(dialog.locator(".panel")).to_contain_text("camera clock (NTP)")
    expect(dialog.locator(".panel")).to_contain_text("-63 dBm")
    # When → and ← are pressed
    page.keyboard.press("ArrowRight")
    expect(dialog).to_have_attribute("data-capture", ids[2])
    expect(dialog.locator(".panel")).to_have_attribute("data-capture", ids[2])
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    # Then it steps newer and older through the grid
    expect(dialog).to_have_attribute("data-capture", ids[0])
    # When a finger swipes right to left across the preview, Then the next capture shows
    dialog.evaluate("""d => {
        const touch = x => [new Touch({identifier: 1, target: d, clientX: x, clientY: 300})];
        d.dispatchEvent(new TouchEvent('touchstart', {changedTouches: touch(600), bubbles: true}));
        d.dispatchEvent(new TouchEvent('touchend', {changedTouches: touch(400), bubbles: true}));
    }""")
    expect(dialog).to_have_attribute("data-capture", ids[1])
    page.keyboard.press("ArrowLeft")
    expect(dialog).to_have_attribute("data-capture", ids[0])
    # When Escape is pressed, Then it closes and focus returns to the tile
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    page.wait_for_function(
        "id => document.activeElement?.closest('li.tile')?.dataset.capture === id", arg=ids[0])


def test_the_lightbox_carries_on_into_the_older_page(stack, page):
    # Given the lightbox open on the last capture of the first page
    open_timeline(page, stack)
    page.locator("li.tile a.tile-link").last.click()
    dialog = page.locator("dialog#lightbox")
    expect(dialog).to_be_visible()
    # When → is pressed
    page.keyboard.press("ArrowRight")
    # Then the older page opens with its first capture in the lightbox
    expect(page).to_have_url(re.compile(r"\?after=meta/"))
    expect(dialog).to_be_visible()
    expect(dialog).to_have_attribute("data-capture", tile_ids(page)[0])
    page.keyboard.press("Escape")


def test_one_camera_can_be_picked_from_a_tile(stack, page):
    # Given the timeline with captures of two cameras
    open_timeline(page, stack)
    # When the camera name under a yard-cam tile is clicked
    page.locator("li.tile .caption a", has_text="yard-cam").first.click()
    all_thumbnails_loaded(page)
    # Then only yard-cam's captures show
    expect(page).to_have_url(f"{stack.info['gallery_url']}camera/yard-cam")
    ids = tile_ids(page)
    assert ids == [ref_of(key).id for key in stack.keys["yard"]]


def test_a_corrupt_capture_is_shown_as_an_error(stack, page):
    # Given the timeline, whose newest capture is a corrupt original
    open_timeline(page, stack)
    corrupt = ref_of(stack.keys["corrupt"][0]).id
    tile = page.locator(f'li.tile[data-capture="{corrupt}"]')
    # Then its tile is no broken image (a placeholder saying so, or an error note)
    assert tile.evaluate(
        "t => { const i = t.querySelector('img'); return i ? i.naturalWidth > 0"
        " : !!t.querySelector('.image-problem') }")
    # When it is opened, Then the panel says it could not be read, and why
    tile.locator("a.tile-link").click()
    alert = page.locator("dialog#lightbox .capture-error")
    expect(alert).to_contain_text("could not be read")
    page.keyboard.press("Escape")


def test_an_expired_link_heals_itself(stack, page):
    # Given the timeline with its thumbnails loaded
    open_timeline(page, stack)
    first = page.locator("li.tile img").first
    good = first.get_attribute("src")
    # When a thumbnail's URL stops working (as an expired presigned URL does)
    broken = f"{stack.info['s3_endpoint']}/{stack.bucket}/thumbs/expired.jpg?X-Amz-Expires=1"
    with page.expect_response(lambda r: "/api/capture/" in r.url and r.url.endswith("/check")):
        first.evaluate("(img, url) => { img.src = url }", broken)
    # Then the page asks for a fresh URL and the image shows again
    page.wait_for_function(
        "() => { const i = document.querySelector('li.tile img');"
        " return i.complete && i.naturalWidth > 0 && !i.src.includes('expired') }")
    assert first.get_attribute("src").split("?")[0] == good.split("?")[0]


def test_links_are_refreshed_before_they_expire(stack, page):
    # Given the timeline
    open_timeline(page, stack)
    # When its links are about to expire and the phone wakes the page
    with page.expect_response(lambda r: "/api/links?" in r.url) as answer:
        page.evaluate("() => { document.body.dataset.expires ="
                      " String(Math.floor(Date.now() / 1000) + 30);"
                      " document.dispatchEvent(new Event('visibilitychange')) }")
    # Then fresh URLs for every capture on the page arrive and the expiry moves forward
    fresh = answer.value.json()
    assert set(fresh["captures"]) == set(tile_ids(page))
    page.wait_for_function(
        f"() => Number(document.body.dataset.expires) === {fresh['expires_at']}")
    all_thumbnails_loaded(page)


def test_cameras_page_and_live_view(stack, page):
    # Given the cameras page
    page.goto(stack.info["gallery_url"] + "cameras")
    # Then both cameras show with their latest image and the uploads chart
    cards = page.locator("li.camera-card")
    expect(cards).to_have_count(2)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.camera-card img')].every(i => i.naturalWidth > 0)")
    expect(page.locator('li[data-device="demo-cam"] svg.chart')).to_be_visible()
    expect(page.locator('li[data-device="demo-cam"]')).to_contain_text("1.4.2")
    # When the live view of demo-cam is opened
    page.locator('li[data-device="demo-cam"]').get_by_role("link", name="Live view").click()
    # Then its newest capture shows
    newest = ref_of(stack.keys["corrupt"][0]).id
    expect(page.locator("img.live-image")).to_have_attribute("data-capture", newest)


def test_deleting_a_capture_removes_it_everywhere(stack, page):
    # Given the timeline and a capture on it
    open_timeline(page, stack)
    victim = ref_of(stack.keys["demo"][0])
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator(f'li.tile[data-capture="{victim.id}"] a.tile-link').click()
    dialog = page.locator("dialog#lightbox")
    expect(dialog.locator(".panel")).to_have_attribute("data-capture", victim.id)
    # When the user deletes it and confirms
    dialog.get_by_role("button", name="Delete").click()
    # Then its tile disappears at once, and stays gone after a reload
    expect(page.locator(f'li.tile[data-capture="{victim.id}"]')).to_have_count(0)
    page.keyboard.press("Escape")
    open_timeline(page, stack)
    assert victim.id not in tile_ids(page)
    # And the original, thumbnail, preview and record are gone from the bucket
    for key in (victim.raw_key, victim.thumb_key, victim.preview_key, victim.meta_key):
        listed = stack.s3.list_objects_v2(Bucket=stack.bucket, Prefix=key)
        assert listed.get("KeyCount", 0) == 0, key


def test_the_live_view_shows_a_new_capture_by_itself(stack, page):
    # Given yard-cam's live view showing its newest capture
    page.goto(stack.info["gallery_url"] + "camera/yard-cam/live")
    live = page.locator("img.live-image")
    expect(live).to_have_attribute("data-capture", ref_of(stack.keys["yard"][0]).id)
    # When the camera uploads a new capture
    frame = make_frame(640, 480, 99, seed=3)
    new = ref_of(upload(stack, stack.yard_key, frame, time.time(), "yard-new"))
    # Then the page shows it without a reload (it polls every 10 s)
    expect(live).to_have_attribute("data-capture", new.id, timeout=40_000)
    page.wait_for_function("() => document.querySelector('img.live-image').naturalWidth > 0")


# WCAG 2 contrast ratio of an element's text against what is behind it (its own background,
# else its ancestors', blended), computed by Chromium from the styles it applied.
CONTRAST = """el => {
    const parse = text => {
        const [r, g, b, a = 1] = text.match(/[\\d.]+/g).map(Number);
        return {r, g, b, a};
    };
    const channel = v => (v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    const luminance = c => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
    const layers = [];
    for (let node = el; node; node = node.parentElement) {
        const colour = parse(getComputedStyle(node).backgroundColor);
        if (colour.a > 0) layers.push(colour);
        if (colour.a >= 1) break;
    }
    let behind = {r: 255, g: 255, b: 255};
    for (const c of layers.reverse()) {
        behind = {r: c.r * c.a + behind.r * (1 - c.a), g: c.g * c.a + behind.g * (1 - c.a),
                  b: c.b * c.a + behind.b * (1 - c.a)};
    }
    const [high, low] = [luminance(parse(getComputedStyle(el).color)), luminance(behind)]
        .sort((x, y) => y - x);
    return (high + 0.05) / (low + 0.05);
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_download_original_is_readable_in_either_colour_scheme(stack, page, scheme):
    # Given the phone or computer set to a light (or dark) colour scheme
    page.emulate_media(color_scheme=scheme)
    try:
        # When a capture is opened in the lightbox, and on its own page
        open_timeline(page, stack)
        page.locator("li.tile a.tile-link").first.click()
        dialog = page.locator("dialog#lightbox")
        download = dialog.get_by_role("link", name="Download original")
        expect(download).to_be_visible()
        in_lightbox = download.evaluate(CONTRAST)
        page.keyboard.press("Escape")
        page.goto(stack.info["gallery_url"] + "capture/" + tile_ids(page)[0])
        on_page = page.get_by_role("link", name="Download original").evaluate(CONTRAST)
    finally:
        page.emulate_media(color_scheme="light")
    # Then its text stands out from its button by at least WCAG's 4.5:1
    assert in_lightbox >= 4.5 and on_page >= 4.5, (in_lightbox, on_page)


def test_the_capture_page_shows_an_image_no_larger_than_it_is(stack, page):
    # Given a capture whose preview (640 px wide) is narrower than the page's image column
    capture = ref_of(stack.keys["yard"][1]).id
    # When its own page is opened in a wide window
    page.goto(stack.info["gallery_url"] + "capture/" + capture)
    page.wait_for_function(
        "() => document.querySelector('img.capture-image').naturalWidth > 0")
    shown, natural = page.locator("img.capture-image").evaluate(
        "img => [img.getBoundingClientRect().width, img.naturalWidth]")
    # Then it is shown at its natural size, not blown up, and the page does not offer itself
    assert 0 < shown <= natural, (shown, natural)
    expect(page.get_by_role("link", name="Open on its own page")).to_have_count(0)
    expect(page.get_by_role("link", name="Download original")).to_be_visible()
