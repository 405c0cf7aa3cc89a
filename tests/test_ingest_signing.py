"""The fast path's SigV4 signature is botocore's, byte for byte (pure: no S3, no network)."""

from __future__ import annotations

import datetime
import hashlib
from unittest import mock

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from camcloud.sigv4 import host_of
from ingest.s3put import Signer

SHA = hashlib.sha256(b"a capture").hexdigest()


def botocore_headers(url: str, headers: dict[str, str], credentials: Credentials,
                     region: str, when: datetime.datetime) -> dict[str, str]:
    """What botocore's S3SigV4Auth adds to the same request at the same instant."""

    class Precomputed(S3SigV4Auth):
        def payload(self, request: AWSRequest) -> str:
            return SHA

    request = AWSRequest(method="PUT", url=url, headers=dict(headers))
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        Precomputed(credentials, "s3", region).add_auth(request)
    return dict(request.headers.items())


@pytest.mark.parametrize(
    ("url", "region", "token"),
    [
        ("http://127.0.0.1:4566/camcloud/raw/cam-1/8204741563259_a-1.jpg", "us-east-1", None),
        ("https://my-bucket.s3.eu-west-1.amazonaws.com/raw/cam-7/8204741563259_x-9.jpg",
         "eu-west-1", "session-token/with+odd=chars"),
        ("https://s3.ap-south-1.amazonaws.com:443/b/raw/d/0000000000001_"
         + "f" * 64 + ".jpg", "ap-south-1", None),
    ],
)
def test_signature_matches_botocore(url: str, region: str, token: str | None) -> None:
    # Given the headers of an original's put-if-absent, with telemetry metadata
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    headers = {
        "Content-Type": "image/jpeg",
        "Content-Length": "1828",
        "If-None-Match": "*",
        "x-amz-checksum-sha256": "FPzxHTC96ktWgfbvsrUxTdmTEBGo7uo+u3AcZqS5CVo=",
        "x-amz-meta-capture-id": "a-1",
        "x-amz-meta-captured-at": "2026-11-21T10:53:56.740+00:00",
        "x-amz-meta-t-firmware": "cam  fw   1.2",  # runs of spaces are trimmed when signed
        "x-amz-meta-t-rssi": "-67",
    }
    when = datetime.datetime(2026, 11, 21, 23, 59, 58, tzinfo=datetime.UTC)
    # When both sign it at the same instant
    ours = Signer(region).sign_put(url, headers, SHA, credentials, when.strftime("%Y%m%dT%H%M%SZ"))
    theirs = botocore_headers(url, headers, credentials, region, when)
    # Then every header, the signature included, is the same
    assert ours == theirs


def test_signing_key_follows_the_day_and_the_secret() -> None:
    signer = Signer("us-east-1")
    url = "http://127.0.0.1:9/b/k.jpg"
    first = Credentials("AKID", "secret-one")
    second = Credentials("AKID", "secret-two")
    day_one = signer.sign_put(url, {}, SHA, first, "20261121T235959Z")["Authorization"]
    day_two = signer.sign_put(url, {}, SHA, first, "20261122T000001Z")["Authorization"]
    rotated = signer.sign_put(url, {}, SHA, second, "20261122T000001Z")["Authorization"]
    assert len({day_one.rsplit("=", 1)[1], day_two.rsplit("=", 1)[1],
                rotated.rsplit("=", 1)[1]}) == 3
    when = datetime.datetime(2026, 11, 22, 0, 0, 1, tzinfo=datetime.UTC)
    assert rotated == botocore_headers(url, {}, second, "us-east-1", when)["Authorization"]


def test_host_leaves_out_default_ports() -> None:
    assert host_of("https://b.s3.amazonaws.com:443/k") == "b.s3.amazonaws.com"
    assert host_of("http://127.0.0.1:80/k") == "127.0.0.1"
    assert host_of("http://127.0.0.1:9000/k") == "127.0.0.1:9000"
    assert host_of("http://[::1]:9000/k") == "[::1]:9000"
