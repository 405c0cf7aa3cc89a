"""The S3 adapter: put-if-absent, one-call listing pages."""

from __future__ import annotations

from camcloud.s3 import list_page, put_if_absent
from tests.conftest import BUCKET


def test_put_if_absent_writes_once(s3):
    assert put_if_absent(s3, BUCKET, "raw/cam/x.jpg", b"first")
    assert not put_if_absent(s3, BUCKET, "raw/cam/x.jpg", b"second")
    assert s3.get_object(Bucket=BUCKET, Key="raw/cam/x.jpg")["Body"].read() == b"first"


def test_list_page_is_one_call_and_pages_with_a_cursor(s3):
    # Given 7 objects under a prefix
    for i in range(7):
        s3.put_object(Bucket=BUCKET, Key=f"meta/{i:013d}_cam_x.json", Body=b"{}")
    calls = []
    s3.meta.events.register("before-call.s3.ListObjectsV2", lambda **kw: calls.append(1))
    # When it is read in pages of 3
    first = list_page(s3, BUCKET, "meta/", max_keys=3)
    second = list_page(s3, BUCKET, "meta/", start_after=first.next_start_after, max_keys=3)
    last = list_page(s3, BUCKET, "meta/", start_after=second.next_start_after, max_keys=3)
    # Then each page is one call, in key order, and the last page has no cursor
    assert len(calls) == 3
    assert [k[5:18] for k in first.keys] == [f"{i:013d}" for i in range(3)]
    assert len(last.keys) == 1 and last.next_start_after is None

