"""Alert targets and incidents in the gallery (issue 17): add, list redacted, send a test to a
loopback JSON webhook, remove; open incidents on the cameras page; a camera's history."""

from __future__ import annotations

import re
from typing import Any

import pytest

from camcloud import alerts
from camcloud.notify import new_key
from camcloud.s3 import put_json
from gallery import create_app
from tests.conftest import csrf_from
from tests.support import webhook_messages
from tests.test_gallery import NOW_MS, log_in, put_capture


@pytest.fixture
def client(settings: Any, s3: Any, gallery_user: Any) -> Any:
    """A logged-in client of a gallery with an alerts key."""
    app = create_app(settings.with_changes(alerts_key=new_key()), s3)
    app.config.update(TESTING=True)
    test_client = app.test_client()
    assert log_in(test_client, *gallery_user).status_code == 302
    return test_client


def post(client: Any, path: str, **data: str) -> Any:
    """Post a form of the alerts page with its CSRF token."""
    token = csrf_from(client.get("/settings/alerts").get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **data})


def target_ids(page: str) -> list[str]:
    """The targets listed on the alerts page."""
    return re.findall(r'data-target="([0-9a-f]+)"', page)


def test_a_target_is_added_listed_redacted_tested_and_removed(client, webhook, s3, settings):
    # Given the alerts page / When a JSON webhook is added
    added = post(client, "/settings/alerts", url=webhook, quiet_hours="", timezone="UTC")
    page = added.get_data(as_text=True)
    # Then it is listed without its path (where tokens live), and stored encrypted
    assert added.status_code == 200 and "Added json://127.0.0.1:" in page
    assert "secret-path" not in page
    stored = s3.get_object(Bucket=settings.bucket, Key="alerts/targets.json")["Body"].read()
    assert b"secret-path" not in stored
    [target_id] = target_ids(page)
    # When "send a test" is pressed / Then the webhook gets the test message and the page says so
    tested = post(client, f"/settings/alerts/{target_id}/test").get_data(as_text=True)
    assert "Test message delivered." in tested
    assert [message["title"] for message in webhook_messages] == ["camcloud test"]
    # When it is removed / Then the list is empty
    assert post(client, f"/settings/alerts/{target_id}/remove").status_code == 303
    assert target_ids(client.get("/settings/alerts").get_data(as_text=True)) == []


def test_a_failing_target_shows_why_the_test_did_not_arrive(client, settings):
    # Given a webhook at a port nothing listens on
    from tests.support import free_port

    page = post(client, "/settings/alerts", url=f"json://127.0.0.1:{free_port()}/x")
    [target_id] = target_ids(page.get_data(as_text=True))
    # When it is tested / Then the page says it was not delivered, and why
    tested = post(client, f"/settings/alerts/{target_id}/test").get_data(as_text=True)
    assert "The test message was not delivered" in tested


def test_a_url_apprise_does_not_know_is_refused_with_the_scheme(client):
    # Given / When a made-up scheme is added / Then 400 names it
    response = post(client, "/settings/alerts", url="nosuch://host/path")
    assert response.status_code == 400 and "nosuch" in response.get_data(as_text=True)


def test_without_an_alerts_key_no_target_can_be_added(settings, s3, gallery_user, webhook):
    # Given a gallery without CAMCLOUD_ALERTS_KEY
    app = create_app(settings, s3)
    app.config.update(TESTING=True)
    client = app.test_client()
    log_in(client, *gallery_user)
    # When a target is added / Then it is refused, and the page says which setting is missing
    response = post(client, "/settings/alerts", url=webhook)
    assert response.status_code == 409
    assert "CAMCLOUD_ALERTS_KEY" in response.get_data(as_text=True)


def test_open_incidents_show_on_the_cameras_page_and_in_the_history(client, s3, settings):
    # Given cam-1 with a capture, an open "silent" incident and its history
    put_capture(s3, settings.bucket, "cam-1", NOW_MS - 3_600_000, "c")
    incident = {"id": "cam-1:silent", "kind": "silent", "device": "cam-1",
                "opened_at": NOW_MS - 600_000, "title": "cam-1 is silent",
                "detail": "nothing for 30 min"}
    put_json(s3, settings.bucket, alerts.OPEN_KEY, {"incidents": [incident]})
    put_json(s3, settings.bucket, alerts.history_key("cam-1", NOW_MS - 600_000, "silent"),
             incident)
    # When the cameras page is opened / Then cam-1's card shows the incident
    page = client.get("/cameras").get_data(as_text=True)
    card = dict(re.findall(r'data-device="([^"]+)">(.*?)</li>', page, re.S))["cam-1"]
    assert 'data-kind="silent"' in card and "cam-1 is silent" in card
    # And the camera's history lists it, still open
    history = client.get("/camera/cam-1/alerts").get_data(as_text=True)
    assert "cam-1 is silent" in history and "still open" in history


def test_the_alerts_key_can_come_from_an_ssm_parameter(settings, s3, gallery_user, webhook):
    # Given the key in an SSM SecureString and only its name in the settings
    import boto3

    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name="/camcloud/alerts-key", Value=new_key(), Type="SecureString")
    app = create_app(settings.with_changes(alerts_key_parameter="/camcloud/alerts-key"), s3)
    app.config.update(TESTING=True)
    client = app.test_client()
    log_in(client, *gallery_user)
    # When a target is added and tested / Then both work with that key
    page = post(client, "/settings/alerts", url=webhook).get_data(as_text=True)
    [target_id] = target_ids(page)
    assert "Test message delivered." in post(
        client, f"/settings/alerts/{target_id}/test").get_data(as_text=True)
