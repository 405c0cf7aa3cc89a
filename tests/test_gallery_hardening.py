"""What an attack on the gallery broke (issue 13 items 1 and 3) and logins over plain HTTP."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.test import Client

from camcloud.users import SESSION_CHECK_SECONDS, UserStore
from gallery import create_app
from gallery.guards import is_loopback_request, safe_next
from tests.conftest import csrf_from
from tests.test_gallery import NOW_MS, keys_of, log_in, put_capture

COOKIE = "camcloud_session"


class FakeClock:
    """Wall-clock seconds the test moves by hand."""

    def __init__(self) -> None:
        self.now = NOW_MS / 1000

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    """The gallery's clock."""
    return FakeClock()


@pytest.fixture
def app(settings: Any, s3: Any, clock: FakeClock) -> Any:
    """The gallery with a clock of the test's own."""
    return create_app(settings, s3, clock=clock)


@pytest.fixture
def cli_users(s3: Any, settings: Any) -> UserStore:
    """The users as ``camcloud users`` sees them (another process)."""
    return UserStore(lambda: s3, settings.bucket)


def logged_in_client(app: Any, user: tuple[str, str]) -> Any:
    """A test client of ``app`` with a fresh session."""
    client = app.test_client()
    assert log_in(client, *user).status_code == 302
    return client


def kept_cookie(browser: Any) -> str:
    """The value of a browser's session cookie, kept by someone (a stolen cookie)."""
    return str(browser.get_cookie(COOKIE).value)


def browser_with(app: Any, cookie: str) -> Any:
    """A browser of ``app`` presenting ``cookie`` as its session."""
    browser = app.test_client()
    browser.set_cookie(COOKIE, cookie)
    return browser


# --- issue 13, item 1: sessions can be revoked ------------------------------------------------

@pytest.mark.parametrize("revoke", ["replace", "remove"])
def test_a_kept_cookie_stops_working_when_the_user_is_replaced_or_removed(
        app, s3, settings, clock, cli_users, gallery_user, revoke):
    # Given a logged-in browser, a capture, and the delete form's token
    browser = logged_in_client(app, gallery_user)
    ref = put_capture(s3, settings.bucket, "cam-1", NOW_MS, "keep")
    token = csrf_from(browser.get("/").get_data(as_text=True))
    assert browser.get("/cameras").status_code == 200
    cookie = kept_cookie(browser)
    # When the owner gives the user a new password, or removes the user, from the command line
    if revoke == "replace":
        cli_users.add(gallery_user[0], "a brand new password", replace=True)
    else:
        cli_users.remove(gallery_user[0])
    before = keys_of(s3, settings.bucket)
    # Then the old cookie cannot delete anything, at once
    delete = browser_with(app, cookie).post(f"/capture/{ref.id}/delete",
                                            data={"csrf_token": token})
    assert delete.status_code == 401
    assert keys_of(s3, settings.bucket) == before
    # And within the check interval no page opens with it either
    clock.now += SESSION_CHECK_SECONDS
    cameras = browser_with(app, cookie).get("/cameras")
    assert cameras.status_code == 302 and cameras.headers["Location"].startswith("/login")
    assert browser_with(app, cookie).get("/api/links?id=" + ref.id).status_code == 401


def test_a_copied_cookie_dies_when_its_session_logs_out(app, gallery_user):
    # Given a logged-in browser and a copy of its cookie
    browser = logged_in_client(app, gallery_user)
    cookie = kept_cookie(browser)
    assert browser_with(app, cookie).get("/cameras").status_code == 200
    # When the browser logs out
    token = csrf_from(browser.get("/").get_data(as_text=True))
    assert browser.post("/logout", data={"csrf_token": token}).status_code == 302
    # Then the copy opens nothing either
    assert browser_with(app, cookie).get("/cameras").status_code == 302


def test_logout_all_from_the_command_line_ends_a_lost_phones_session(
        app, clock, cli_users, gallery_user):
    # Given a phone logged in to the gallery
    phone = logged_in_client(app, gallery_user)
    assert phone.get("/").status_code == 200
    # When the owner runs `camcloud users logout-all` for that user
    cli_users.logout_all(gallery_user[0])
    clock.now += SESSION_CHECK_SECONDS
    # Then the phone is sent to the login page, and logging in again works
    assert phone.get("/").status_code == 302
    assert log_in(phone, *gallery_user).status_code == 302
    assert phone.get("/").status_code == 200


def test_a_session_cookie_of_the_previous_version_is_not_accepted(app, settings, gallery_user):
    # Given a cookie signed with the app's key that names the user but no session version
    # (what the gallery issued before sessions had versions)
    forger = app.test_client()
    with forger.session_transaction() as session:
        session["user"] = gallery_user[0]
    # Then it opens nothing
    assert forger.get("/cameras").status_code == 302


# --- issue 13, item 3: no open redirect through ?next= ----------------------------------------

HOSTILE_NEXT = [
    "/%09/evil.example:1/c",  # the report's case: a tab, dropped by browsers
    "/%0a/evil.example",
    "/%0d%0a/evil.example",
    "/%00/evil.example",
    "/%7f/evil.example",
    "/%20/evil.example",
    "/%5Cevil.example",  # a backslash, read as a slash
    "/%5C%5Cevil.example",
    "//evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "/%E2%80%8B/evil.example",  # a zero-width space
]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_login_never_redirects_off_site_through_control_characters(gallery_client, gallery_user,
                                                                  target):
    # Given the login form / When the right password is posted with a crafted next=
    token = csrf_from(gallery_client.get("/login").get_data(as_text=True))
    response = gallery_client.post(f"/login?next={target}", data={
        "username": gallery_user[0], "password": gallery_user[1], "csrf_token": token})
    # Then the user lands on the timeline of this site
    assert response.status_code == 302 and response.headers["Location"] == "/"


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_delete_and_the_back_link_never_lead_off_site(logged_in, s3, settings, target):
    # Given a capture
    ref = put_capture(s3, settings.bucket, "cam-1", NOW_MS, "evil")
    # When its page is opened with a crafted next=, Then Back leads to the timeline
    page = logged_in.get(f"/capture/{ref.id}?next={target}").get_data(as_text=True)
    assert re.search(r'<a href="([^"]*)">← Back</a>', page).group(1) == "/"
    # When it is deleted with a crafted next=, Then the user lands on the timeline
    token = csrf_from(page)
    response = logged_in.post(f"/capture/{ref.id}/delete?next={target}",
                              data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == "/"


def test_a_path_on_this_site_is_kept_as_the_way_back(gallery_client, gallery_user):
    # Given a page of one camera with a cursor, as the login form's next=
    target = "/camera/cam-1?after=thumbs%2Fcam-1%2F8204741645565_c2.jpg&date=2026-01-02"
    token = csrf_from(gallery_client.get("/login").get_data(as_text=True))
    response = gallery_client.post("/login?next=" + target.replace("%", "%25").replace(
        "&", "%26").replace("?", "%3F"), data={"username": gallery_user[0],
                                               "password": gallery_user[1], "csrf_token": token})
    # Then the login returns there
    assert response.headers["Location"] == target


@pytest.mark.parametrize("target", ["/\t/evil", "/\\evil", "//evil", "/\u2028/x", "", None,
                                    "evil.example", "/" + "a" * 3000, "/ok\x1b[31m"])
def test_safe_next_refuses_what_a_browser_could_read_as_another_host(target):
    assert safe_next(target, "/fallback") == "/fallback"


def as_a_browser_reads_it(target: str) -> str:
    """What a browser makes of a Location: tabs and newlines dropped, C0 and spaces trimmed at
    the ends, backslashes read as slashes (the WHATWG URL parser, for http(s) URLs)."""
    cleaned = re.sub(r"[\t\n\r]", "", target).strip("".join(map(chr, range(0x21))))
    return cleaned.replace("\\", "/")


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
       | st.builds(lambda a, b: a + b, st.sampled_from(["/", "//", "/\t/", "\\", "/%09/"]),
                   st.text(max_size=20)))
def test_wherever_next_points_the_browser_stays_on_this_site(target):
    # Given any next= at all / When it is checked and a browser follows the result
    followed = urljoin("https://gallery.example/login", as_a_browser_reads_it(
        safe_next(target, "/")))
    # Then the browser is still on the gallery
    assert urlsplit(followed).netloc == "gallery.example"


def test_safe_next_keeps_paths_of_this_site():
    assert safe_next("/camera/cam-1?date=2026-01-02", "/") == "/camera/cam-1?date=2026-01-02"


# --- logins over plain HTTP (CAMCLOUD_ALLOW_HTTP_LOGIN) ---------------------------------------

REMOTE = {"REMOTE_ADDR": "203.0.113.5"}


def login_attempt(client: Any, user: tuple[str, str], **request: Any) -> Any:
    """Open the login page and post the form as the same browser; (page, response)."""
    page = client.get("/login", **request)
    text = page.get_data(as_text=True)
    # No form, no token: the post below then shows what a script posting anyway gets.
    token = csrf_from(text) if 'name="csrf_token"' in text else "none"
    response = client.post("/login", data={"username": user[0], "password": user[1],
                                           "csrf_token": token}, **request)
    return page, response


def test_a_password_is_never_taken_over_plain_http_from_another_machine(settings, s3,
                                                                       gallery_user):
    # Given the gallery with default settings, reached over plain HTTP from another machine
    client = create_app(settings, s3).test_client()
    page, response = login_attempt(client, gallery_user, environ_base=REMOTE,
                                   base_url="http://gallery.example")
    # Then the login page asks for HTTPS and shows no password field
    text = page.get_data(as_text=True)
    assert "HTTPS only" in text and 'type="password"' not in text
    # And a posted password is refused without starting a session
    assert response.status_code == 403
    assert client.get("/cameras", environ_base=REMOTE,
                      base_url="https://gallery.example").status_code == 302


def test_over_https_or_when_allowed_the_login_works(settings, s3, gallery_user):
    # Given a browser on another machine, over HTTPS, and over HTTP with the option on
    https = create_app(settings, s3).test_client()
    allowed = create_app(settings.with_changes(allow_http_login=True), s3).test_client()
    # When each logs in / Then both succeed
    assert login_attempt(https, gallery_user, environ_base=REMOTE,
                         base_url="https://gallery.example")[1].status_code == 302
    assert login_attempt(allowed, gallery_user, environ_base=REMOTE,
                         base_url="http://gallery.example")[1].status_code == 302


def test_the_local_stack_on_loopback_logs_in_over_http(settings, s3, gallery_user):
    # Given a browser on this machine opening http://127.0.0.1:8080/ (the local stack)
    client = create_app(settings, s3).test_client()
    _, response = login_attempt(client, gallery_user, base_url="http://127.0.0.1:8080",
                                environ_base={"REMOTE_ADDR": "127.0.0.1"})
    # Then the login works without HTTPS
    assert response.status_code == 302


def test_a_forwarded_proto_header_counts_only_behind_a_declared_proxy(settings, s3,
                                                                    gallery_user):
    # Given a plain-HTTP request that claims HTTPS in X-Forwarded-Proto, with and without a
    # declared proxy; and a proxy on loopback forwarding a remote browser's plain HTTP
    spoofed = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5"}
    direct = create_app(settings, s3).test_client()
    proxied = Client(create_app(settings.with_changes(gallery_proxy_hops=1), s3))
    behind_nginx = {"environ_base": {"REMOTE_ADDR": "127.0.0.1"},
                    "base_url": "http://gallery.example"}
    # When each logs in
    spoofing = login_attempt(direct, gallery_user, headers=spoofed, environ_base=REMOTE,
                             base_url="http://gallery.example")[1]
    forwarded = login_attempt(proxied, gallery_user, headers=spoofed, **behind_nginx)[1]
    plain = login_attempt(Client(create_app(settings.with_changes(gallery_proxy_hops=1), s3)),
                          gallery_user, headers={"X-Forwarded-Proto": "http",
                                                 "X-Forwarded-For": "203.0.113.5"},
                          **behind_nginx)[1]
    undeclared = login_attempt(create_app(settings, s3).test_client(), gallery_user,
                               **behind_nginx)[1]
    # Then only the declared proxy's HTTPS counts; nginx's loopback address does not make a
    # remote browser local
    assert spoofing.status_code == 403
    assert forwarded.status_code == 302
    assert plain.status_code == 403
    assert undeclared.status_code == 403


@pytest.mark.parametrize(("remote", "host", "local"), [
    ("127.0.0.1", "127.0.0.1:8080", True),
    ("::1", "[::1]:8080", True),
    ("127.0.0.1", "localhost", True),
    ("127.0.0.1", "gallery.example", False),
    ("203.0.113.5", "127.0.0.1:8080", False),
    (None, None, False),
])
def test_only_a_browser_on_this_machine_asking_for_this_machine_is_local(remote, host, local):
    assert is_loopback_request(remote, host) is local
