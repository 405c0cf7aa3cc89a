"""The upload path's one S3 call, PutObject of an original, without boto3's per-call machinery.

A boto3 ``put_object`` spends ~1.5 ms of CPU per call in event hooks, parameter handling,
user-agent building and header bookkeeping, more than everything else the ingest does for a
150 kB upload. This module sends the same request: SigV4 header signing (``sign_put``, ~30 µs;
a test checks it produces botocore's ``S3SigV4Auth`` signature byte for byte) with the
credentials of the boto3 client (same chain, so instance roles refresh as usual), the URL the
boto3 client itself resolves for the bucket, a urllib3 connection pool. The payload hash in
the signature is the sha256 the ingest already computed, and the same digest goes in
``x-amz-checksum-sha256``: S3 rejects the object if a byte changed.

Safety net: if S3 ever answers something this path does not expect (any 4xx other than the
412/409 of a lost put-if-absent race, say a signature or redirect problem), the fast path
switches itself off for the process, logs it, and the call is made again through boto3, so
the worst case is the old speed, never a lost or spooled-forever upload.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import threading
import time
from typing import Any
from urllib.parse import quote, urlsplit

import boto3
import urllib3
from botocore.auth import SIGNED_HEADERS_BLACKLIST
from botocore.exceptions import ClientError, HTTPClientError

from camcloud.s3 import checksum_sha256, put_if_absent
from camcloud.sigv4 import SigningKeys, host_of
from ingest.logs import event

_LOST_RACE_STATUS = {409, 412}
# S3's answers when the bytes it received do not match the checksums: damaged in transit,
# worth a retry, not a reason to doubt this path.
_DIGEST_CODES = {b"BadDigest", b"XAmzContentSHA256Mismatch", b"InvalidDigest"}
_CODE_RE = re.compile(rb"<Code>([^<]{1,64})</Code>")


# Headers botocore never signs (botocore.auth.SIGNED_HEADERS_BLACKLIST).
_UNSIGNED = frozenset(SIGNED_HEADERS_BLACKLIST)


class Signer:
    """SigV4 header signing of S3 requests, with the day's signing key cached."""

    def __init__(self, region: str) -> None:
        self.region = region
        self._keys = SigningKeys(region)

    def sign_put(self, url: str, headers: dict[str, str], payload_sha256: str,
                 credentials: Any, amz_date: str) -> dict[str, str]:
        """``headers`` plus X-Amz-Date, X-Amz-Content-SHA256, token and Authorization."""
        signed = dict(headers)
        signed["X-Amz-Date"] = amz_date
        if credentials.token:
            signed["X-Amz-Security-Token"] = credentials.token
        signed["X-Amz-Content-SHA256"] = payload_sha256
        canonical_headers = {"host": host_of(url)}
        for name, value in signed.items():
            lowered = name.lower()
            if lowered not in _UNSIGNED:
                canonical_headers[lowered] = " ".join(value.split())
        names = sorted(canonical_headers)
        signed_names = ";".join(names)
        canonical_request = "\n".join((
            "PUT",
            urlsplit(url).path,  # S3: the path as sent, not normalised
            "",
            "".join(f"{name}:{canonical_headers[name]}\n" for name in names),
            signed_names,
            payload_sha256,
        ))
        day = amz_date[:8]
        scope = f"{day}/{self.region}/s3/aws4_request"
        string_to_sign = "\n".join((
            "AWS4-HMAC-SHA256", amz_date, scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ))
        signature = hmac.new(self._keys.get(credentials.secret_key, day),
                             string_to_sign.encode(), hashlib.sha256).hexdigest()
        signed["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={signed_names}, Signature={signature}"
        )
        return signed


def _client_error(status: int, body: bytes) -> ClientError:
    found = _CODE_RE.search(body or b"")
    code = found.group(1).decode("ascii", "replace") if found else str(status)
    return ClientError(
        {"Error": {"Code": code, "Message": f"S3 answered {status}"},
         "ResponseMetadata": {"HTTPStatusCode": status}},
        "PutObject",
    )


class FastPut:
    """Put-if-absent of an original over a pooled connection, signed with botocore's signer."""

    def __init__(self, client: Any, bucket: str, *, pool_size: int = 16,
                 connect_timeout: float = 1.0, read_timeout: float = 2.0) -> None:
        self._client = client
        self._bucket = bucket
        self._region = client.meta.region_name
        # The client's own credentials (same chain, refreshed the same way); a session's
        # otherwise.
        signer = getattr(client, "_request_signer", None)
        self._credentials = getattr(signer, "_credentials", None) or (
            boto3.session.Session().get_credentials()
        )
        # The URL boto3 would use for this bucket (endpoint, addressing style, partition),
        # computed locally once: everything before the key in a presigned URL.
        probe = client.generate_presigned_url(
            "put_object", Params={"Bucket": bucket, "Key": "camcloud-probe"}, ExpiresIn=60
        )
        self._base = probe.split("?", 1)[0][: -len("camcloud-probe")]
        self._http = urllib3.PoolManager(
            maxsize=pool_size, block=False, retries=False,
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
        )
        self.enabled = self._credentials is not None
        self._signer = Signer(self._region)
        self._lock = threading.Lock()

    def put_if_absent(self, key: str, body: Any, size: int, sha256: str,
                      metadata: dict[str, str], content_type: str = "image/jpeg") -> bool:
        """Write ``key`` unless it exists: True if created, False if it was there already."""
        if not self.enabled:
            return self._boto3_put(key, body, sha256, metadata, content_type)
        try:
            status, answer = self._send(key, body, size, sha256, metadata, content_type)
        except urllib3.exceptions.HTTPError as exc:
            raise HTTPClientError(error=exc) from exc
        if status == 200:
            return True
        if status in _LOST_RACE_STATUS:
            return False
        found = _CODE_RE.search(answer or b"")
        if status >= 500 or status in {429, 408} or (found and found.group(1) in _DIGEST_CODES):
            raise _client_error(status, answer)
        # Anything else is this path's problem, not S3's health: fall back for good.
        with self._lock:
            was_enabled, self.enabled = self.enabled, False
        if was_enabled:
            event("s3_fast_path_disabled", logging.ERROR, status=status,
                  answer=answer[:300].decode("utf-8", "replace"))
        return self._boto3_put(key, body, sha256, metadata, content_type)

    def _send(self, key: str, body: Any, size: int, sha256: str,
              metadata: dict[str, str], content_type: str) -> tuple[int, bytes]:
        url = self._base + quote(key, safe="/~")
        headers = {
            "Content-Type": content_type,
            "Content-Length": str(size),
            "If-None-Match": "*",
            "x-amz-checksum-sha256": checksum_sha256(sha256),
        }
        for name, value in metadata.items():
            headers["x-amz-meta-" + name] = value
        credentials = self._credentials.get_frozen_credentials()
        last_error: Exception | None = None
        # Two attempts, like the boto3 client: a pooled keep-alive connection that S3 closed
        # while idle fails at once and the second attempt opens a fresh one.
        for _attempt in range(2):
            amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            signed = self._signer.sign_put(url, headers, sha256, credentials, amz_date)
            if hasattr(body, "seek"):
                body.seek(0)
            try:
                response = self._http.urlopen(
                    "PUT", url, body=body, headers=signed, preload_content=True, redirect=False,
                )
            except (urllib3.exceptions.ProtocolError, urllib3.exceptions.NewConnectionError,
                    urllib3.exceptions.ConnectTimeoutError) as exc:
                last_error = exc
                continue
            return response.status, response.data
        assert last_error is not None
        raise last_error

    def _boto3_put(self, key: str, body: Any, sha256: str, metadata: dict[str, str],
                   content_type: str) -> bool:
        """The same write through boto3 and the S3 adapter's put-if-absent."""
        if hasattr(body, "seek"):
            body.seek(0)
        return put_if_absent(self._client, self._bucket, key, body, content_type=content_type,
                             metadata=metadata, ChecksumSHA256=checksum_sha256(sha256))
