"""Share links in the gallery (issue 17): the link works without login, shows only what was
shared, dies on revoke and on expiry, and slows down guessing clients."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from camcloud.shares import Share
from gallery import create_app, sharing
from tests.conftest import BUCKET, csrf_from
from tests.test_gallery import NOW_MS, log_in, put_capture

HOUR = 3600


class Clock:
    """A clock the test moves."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    """The gallery's clock."""
    return Clock(NOW_MS / 1000)


@pytest.fixture
def app(settings: Any, s3: Any, clock: Clock) -> Any:
    """The gallery on the test's clock."""
    application = create_app(settings, s3, clock=clock)
    application.config.update(TESTING=True)
    return application


@pytest.fixture
def owner(app: Any, gallery_user: Any) -> Any:
    """A logged-in client of the user who shares."""
    client = app.test_client()
    assert log_in(client, *gallery_user).status_code == 302
    return client


def share(client: Any, **what: str) -> str:
    """Create a share through the form; return the link's path."""
    form = client.get("/share/new", query_string=what).get_data(as_text=True)
    response = client.post("/shares", data={"csrf_token": csrf_from(form), **what})
    assert response.status_code == 201, response.get_data(as_text=True)
    link = re.search(r'value="(http://[^"]+/s/[^"]+)"', response.get_data(as_text=True))[1]
    return link.split("localhost", 1)[1]


def signed_keys(page: str) -> set[str]:
    """The keys of every presigned URL on a page."""
    paths = re.findall(r'https?://[^/"]+/([^?"]+)\?[^"]*X-Amz-Signature', html.unescape(page))
    # Path-style URLs (a custom endpoint) carry the bucket first; virtual-hosted ones do not.
    return {path.removeprefix(f"{BUCKET}/") for path in paths}


def test_a_shared_capture_opens_without_login_and_shows_only_that_capture(owner, app, s3,
                                                                          settings):
    # Given two captures of cam-1 and one of cam-2, and a share of the first, with download
    shared = put_capture(s3, settings.bucket, "cam-1", NOW_MS, "shared")
    put_capture(s3, settings.bucket, "cam-1", NOW_MS - 1000, "other")
    put_capture(s3, settings.bucket, "cam-2", NOW_MS, "elsewhere")
    path = share(owner, capture=shared.id, ttl_s=str(HOUR), download="on")
    # When someone without a session opens the link
    response = app.test_client().get(path)
    page = response.get_data(as_text=True)
    # Then it shows that capture: its preview and original, nothing else, no gallery link
    assert response.status_code == 200
    assert signed_keys(page) == {shared.preview_key, shared.raw_key}
    assert 'href="/' not in page.replace('href="/static/', "")
    # And link previews get a title and a presigned image
    og_image = html.unescape(re.search(r'property="og:image" content="([^"]+)"', page)[1])
    assert f"/{shared.preview_key}?" in og_image and 'name="twitter:card"' in page
    assert response.headers["X-Robots-Tag"] == "noindex"


def test_a_shared_day_shows_that_cameras_day_only(owner, app, s3, settings):
    # Given cam-1's captures today and yesterday, and cam-2's today
    today = put_capture(s3, settings.bucket, "cam-1", NOW_MS, "today")
    put_capture(s3, settings.bucket, "cam-1", NOW_MS - 86_400_000 * 2, "before")
    put_capture(s3, settings.bucket, "cam-2", NOW_MS, "neighbour")
    day = datetime.fromtimestamp(NOW_MS / 1000, UTC).date().isoformat()
    path = share(owner, device="cam-1", date=day, ttl_s=str(HOUR))
    # When it is opened without a session / Then only today's cam-1 thumbnail and preview show
    page = app.test_client().get(path).get_data(as_text=True)
    assert signed_keys(page) == {today.thumb_key, today.preview_key}


def test_a_revoked_link_is_404_at_once_and_looks_like_any_unknown_link(owner, app, s3,
                                                                       settings):
    # Given a live share link
    ref = put_capture(s3, settings.bucket, "cam-1", NOW_MS, "gone")
    path = share(owner, capture=ref.id, ttl_s=str(HOUR))
    visitor = app.test_client()
    assert visitor.get(path).status_code == 200
    # When its owner revokes it from the list of shares
    listing = owner.get("/shares").get_data(as_text=True)
    share_id = re.search(r'data-share="([0-9a-f]{16})"', listing)[1]
    assert owner.post(f"/shares/{share_id}/revoke",
                      data={"csrf_token": csrf_from(listing)}).status_code == 303
    # Then the link answers 404, with the same page as a link that never existed
    revoked = visitor.get(path)
    unknown = visitor.get("/s/" + "A" * 43)
    assert revoked.status_code == unknown.status_code == 404
    assert revoked.get_data() == unknown.get_data()
    assert "revoked" in owner.get("/shares").get_data(as_text=True)


def test_an_expired_link_is_404(owner, app, s3, settings, clock):
    # Given a one-hour share
    ref = put_capture(s3, settings.bucket, "cam-1", NOW_MS, "brief")
    path = share(owner, capture=ref.id, ttl_s=str(HOUR))
    visitor = app.test_client()
    clock.now += HOUR - 1
    assert visitor.get(path).status_code == 200
    # When the hour is over / Then the link is dead
    clock.now += 1
    assert visitor.get(path).status_code == 404


def test_another_users_share_cannot_be_revoked(owner, app, s3, settings):
    # Given alice's share and bob logged in
    ref = put_capture(s3, settings.bucket, "cam-1", NOW_MS, "mine")
    path = share(owner, capture=ref.id, ttl_s=str(HOUR))
    share_id = re.search(r'data-share="([0-9a-f]{16})"',
                         owner.get("/shares").get_data(as_text=True))[1]
    from camcloud.users import UserStore
    UserStore(lambda: s3, settings.bucket).add("bob", "another long password")
    bob = app.test_client()
    log_in(bob, "bob", "another long password")
    page = bob.get("/shares").get_data(as_text=True)
    # When bob tries to revoke it / Then 404 and the link still works
    assert share_id not in page
    assert bob.post(f"/shares/{share_id}/revoke",
                    data={"csrf_token": csrf_from(page)}).status_code == 404
    assert app.test_client().get(path).status_code == 200


def test_the_shared_page_refuses_to_presign_any_other_key(app, s3, settings):
    # Given a capture share with download, and the bucket's other kinds of keys
    ref = put_capture(s3, settings.bucket, "cam-1", NOW_MS, "only")
    other = put_capture(s3, settings.bucket, "cam-2", NOW_MS, "another-camera")
    sibling = put_capture(s3, settings.bucket, "cam-1", NOW_MS - 1, "same-camera")
    with app.app_context():
        gallery = app.extensions["camcloud"]
        _, given = sharing.store(gallery).create(user="alice", ttl_s=HOUR, capture=ref.id,
                                                 download=True)
        forbidden = ["users/alice.json", "devices/cam-1.json", "alerts/targets.json",
                     "shares/" + given.token_sha256 + ".json", ref.meta_key, other.thumb_key,
                     other.preview_key, other.raw_key, sibling.preview_key,
                     "timelapse/cam-1/2026-11-20.mp4", "firmware/1.0.0.bin"]
        # When the page's one gate is asked for each / Then every one is refused
        for key in forbidden:
            with pytest.raises(Exception) as refused:
                sharing.presign_shared(gallery, given, key)
            assert getattr(refused.value, "status", None) == 404, key
        # And what was shared is signed
        assert "X-Amz-Signature" in sharing.presign_shared(gallery, given, ref.raw_key)


def test_a_time_lapse_share_shows_the_video_only(owner, app, s3, settings):
    # Given a stored time-lapse and a share of it
    key = "timelapse/cam-1/2026-11-20.mp4"
    s3.put_object(Bucket=settings.bucket, Key=key, Body=b"\x00\x00\x00\x18ftypmp42")
    path = share(owner, timelapse=key, ttl_s=str(7 * 86400))
    # When opened without a session / Then the page plays exactly that video
    page = app.test_client().get(path).get_data(as_text=True)
    assert signed_keys(page) == {key} and "<video" in page and 'property="og:video"' in page


def test_a_client_guessing_links_gets_429_with_retry_after(app):
    # Given a client trying made-up tokens
    guesser = app.test_client()
    answers = [guesser.get("/s/" + f"{i:043d}").status_code for i in range(22)]
    # Then its burst of 20 misses (and the one that empties it) are plain 404s, then it waits
    assert answers == [404] * 21 + [429]
    response = guesser.get("/s/" + "B" * 43)
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1


def test_a_share_with_a_bad_ttl_is_refused(owner, s3, settings):
    # Given a capture / When a share of 10 minutes is asked for / Then 400
    ref = put_capture(s3, settings.bucket, "cam-1", NOW_MS, "ttl")
    form = owner.get("/share/new", query_string={"capture": ref.id}).get_data(as_text=True)
    response = owner.post("/shares", data={"csrf_token": csrf_from(form), "capture": ref.id,
                                           "ttl_s": "600"})
    assert response.status_code == 400 and "1 hour and 30 days" in response.get_data(
        as_text=True)


def test_share_records_carry_the_creator(owner, app, s3, settings):
    # Given / When alice shares / Then the stored share names her (the list is per user)
    ref = put_capture(s3, settings.bucket, "cam-1", NOW_MS, "who")
    share(owner, capture=ref.id, ttl_s=str(HOUR))
    with app.app_context():
        [made] = sharing.mine(app.extensions["camcloud"], "alice")
    assert isinstance(made, Share) and made.created_by == "alice"
