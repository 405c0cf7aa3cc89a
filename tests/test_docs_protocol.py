"""docs/protocol.md is the device protocol's reference: what the code answers and reads is in it.

Everything compared here is found by reading the code (or asking the running app), never from a
list kept in this file: a new error code or header without its line in the doc fails a test.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROTOCOL = ROOT / "docs" / "protocol.md"

# Where the ingest's refusals are raised, and how each names its status and error code.
_REFUSAL = re.compile(r"\bRefusal\(\s*(\d{3}),\s*\"([a-z_]+)\"")
_AUTH_ERROR = re.compile(r"\bAuthError\(\s*\"([a-z_]+)\",\s*(\d{3})")
_INPUT_ERROR = re.compile(r"\b(?:JpegError|HeaderError)\(\s*\"([a-z_]+)\"")
_UNEXPECTED = re.compile(r"jsonify\(error=\"([a-z_]+)\"[^)]*\),\s*(\d{3})")
_PROXY = re.compile(r"return (\d{3}) '\{\"error\": \"([a-z_]+)\"")
# A row of the doc's error table: | 400 | `code` | when |
_DOC_ROW = re.compile(r"^\| (\d{3}) \| `([a-z_]+)` \|", re.M)
_HEADER = re.compile(r"\"(X-[A-Za-z-]+)\"")


def _read(*paths: str) -> str:
    return "\n".join((ROOT / path).read_text() for path in paths)


def _ingest_sources() -> str:
    return "\n".join(path.read_text() for path in sorted((ROOT / "ingest").glob("*.py")))


def _codes_in_code() -> set[tuple[int, str]]:
    """(status, code) of every error the ingest, or nginx in front of it, can answer."""
    ingest = _ingest_sources()
    found = {(int(status), code) for status, code in _REFUSAL.findall(ingest)}
    found |= {(int(status), code) for code, status in _AUTH_ERROR.findall(
        _read("camcloud/devices.py"))}
    # The ingest answers the body's and the headers' input errors as 400 with their code.
    assert ingest.count("Refusal(400, exc.code") == 2
    found |= {(400, code) for code in _INPUT_ERROR.findall(_read("camcloud/validation.py"))}
    found |= {(int(status), code) for code, status in _UNEXPECTED.findall(
        _read("ingest/app.py"))}
    found |= {(int(status), code) for status, code in _PROXY.findall(
        _read("deploy/render-proxy.sh"))}
    return found


def _codes_in_doc() -> set[tuple[int, str]]:
    return {(int(status), code) for status, code in _DOC_ROW.findall(PROTOCOL.read_text())}


def _answered(client: Any, method: str, path: str) -> tuple[int, str]:
    response = client.open(path, method=method)
    return response.status_code, response.get_json()["error"]


def test_every_error_code_the_ingest_can_answer_is_in_the_protocol_doc(ingest_client: Any) -> None:
    # Given the codes raised in the ingest's code, and those the framework answers for it
    in_code = _codes_in_code()
    assert len({code for _, code in in_code}) >= 10, "the scan found too few codes to be right"
    framework = {_answered(ingest_client, "GET", "/upload"),
                 _answered(ingest_client, "POST", "/device/state"),
                 _answered(ingest_client, "GET", "/no-such-path")}
    # When the doc's error table is read
    in_doc = _codes_in_doc()
    # Then each of them has its row, with its status
    assert sorted(in_code - in_doc) == []
    assert sorted(framework - in_doc) == []
    # And the table names no code the ingest cannot answer (a stale row misleads firmware authors)
    assert sorted(in_doc - in_code - framework) == []


def test_every_header_the_ingest_reads_is_in_the_protocol_doc() -> None:
    # Given the X- headers the ingest and the modules it reads them with name
    sources = _ingest_sources() + _read("camcloud/validation.py", "camcloud/device_state.py",
                                        "camcloud/firmware_release.py", "camcloud/devices.py")
    headers = {name for name in _HEADER.findall(sources) if not name.startswith("X-Amz-")}
    assert "X-Captured-At" in headers, "the scan found none of the protocol's headers"
    # Then the doc names each of them
    doc = PROTOCOL.read_text()
    assert sorted(name for name in headers if f"`{name}`" not in doc) == []


def test_every_header_the_firmware_sends_is_in_the_protocol_doc() -> None:
    # Given the headers the camera's request builder writes
    builder = _read("firmware/lib/camcloud_core/src/camcloud/request.cpp")
    headers = set(re.findall(r"\"(X-[A-Za-z-]+): ", builder))
    assert "X-Capture-Id" in headers, "the scan found none of the firmware's headers"
    # Then the doc names each of them
    doc = PROTOCOL.read_text()
    assert sorted(name for name in headers if f"`{name}`" not in doc) == []


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors for the headings of ``page``."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(), re.M)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_every_link_in_the_protocol_doc_reaches_a_page_and_heading() -> None:
    # Given the relative links of the protocol doc
    links = re.findall(r"\]\(([^)#:]*)(?:#([^)]+))?\)", PROTOCOL.read_text())
    assert links, "the scan found no links"
    # Then each names a page that exists, and a heading on it
    broken = []
    for path, anchor in links:
        page = (PROTOCOL.parent / path).resolve() if path else PROTOCOL
        if not page.is_file() or (anchor and anchor not in _anchors(page)):
            broken.append(f"{path}#{anchor}")
    assert broken == []


# A module constant naming a top-level S3 prefix: RAW_PREFIX = "raw/", JOBS_PREFIX = "jobs/".
_S3_PREFIX = re.compile(r"^[A-Z_]*PREFIX = \"([a-z]+/)\"", re.M)
# The first key of a row of the doc's S3 layout table: | `jobs/{id}.json` | ...
_LAYOUT_ROW = re.compile(r"^\| `([a-z]+/)", re.M)


def test_every_prefix_the_code_writes_is_in_the_protocol_docs_s3_layout() -> None:
    # Given the top-level S3 prefixes the code names (every key is built from one of them)
    sources = "\n".join(path.read_text() for package in ("camcloud", "gallery", "ingest",
                                                         "lambdas", "camcloud_cli")
                        for path in sorted((ROOT / package).rglob("*.py")))
    in_code = set(_S3_PREFIX.findall(sources))
    assert {"raw/", "meta/", "jobs/", "exports/"} <= in_code, "the scan found too few prefixes"
    # When the doc's S3 layout table is read
    in_doc = set(_LAYOUT_ROW.findall(PROTOCOL.read_text()))
    # Then each prefix has its row (a bucket's reader must not meet a key nobody described)
    assert sorted(in_code - in_doc) == []
