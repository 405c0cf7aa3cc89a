"""The S3 adapter: one lazily created client, put-if-absent, listings, JSON documents.

Functions take the client as an argument so that the logic above them can be tested against
moto and run unchanged on AWS.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from camcloud.settings import Settings

T = TypeVar("T")

# Errors S3 returns when a conditional write loses: the key exists (412), or a concurrent
# conditional write to the same key is in flight (409).
_PRECONDITION_CODES = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}
_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}


def make_client(settings: Settings, **config: Any) -> Any:
    """Create an S3 client for ``settings``: SigV4 (required for presigned URLs), path style
    when an endpoint override is set (moto, MinIO), bounded timeouts and standard retries."""
    options: dict[str, Any] = {
        "signature_version": "s3v4",
        "connect_timeout": 5,
        "read_timeout": 30,
        "retries": {"max_attempts": 3, "mode": "standard"},
        "max_pool_connections": 32,
    }
    if settings.s3_endpoint:
        options["s3"] = {"addressing_style": "path"}
    options.update(config)
    session = boto3.session.Session()
    return session.client(
        "s3",
        region_name=settings.region,
        endpoint_url=settings.s3_endpoint,
        config=Config(**options),
    )


def lazy(build: Callable[[], T]) -> Callable[[], T]:
    """``build()`` on the first call, the same object on every later one (thread-safe)."""
    built: list[T] = []
    lock = threading.Lock()

    def get() -> T:
        if not built:
            with lock:
                if not built:
                    built.append(build())
        return built[0]

    return get


class LazyClient:
    """Creates the S3 client on first use (creating one costs ~90 ms), once, thread-safely.

    ``client`` is used as is (tests, the local stack); ``build`` makes one from the settings
    when none is given (a service with its own timeouts or event hooks).
    """

    def __init__(
        self,
        settings: Settings,
        client: Any = None,
        *,
        build: Callable[[Settings], Any] | None = None,
    ) -> None:
        # make_client is looked up when the client is made, not when this is defined.
        self.get: Callable[[], Any] = (
            (lambda: client)
            if client is not None
            else lazy(lambda: (build or make_client)(settings))
        )


def error_code(exc: ClientError) -> str:
    """The S3 error code of ``exc`` (``NoSuchKey``, ``PreconditionFailed``, …)."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def is_missing(exc: ClientError) -> bool:
    """Whether ``exc`` says the key does not exist."""
    return error_code(exc) in _MISSING_CODES


def exists(client: Any, bucket: str, key: str) -> bool:
    """Whether ``key`` exists (one HEAD request)."""
    try:
        client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if is_missing(exc):
            return False
        raise
    return True


def delete_keys(client: Any, bucket: str, keys: list[str]) -> None:
    """Delete ``keys`` in one DeleteObjects call; raise ClientError if any key failed.

    DeleteObjects answers 200 even when single keys fail, so the errors are read here.
    """
    response = client.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True}
    )
    errors = response.get("Errors") or []
    if errors:
        first = errors[0]
        raise ClientError(
            {"Error": {"Code": str(first.get("Code", "")),
                       "Message": f"could not delete {first.get('Key')}: {first.get('Message')}"}},
            "DeleteObjects",
        )


def put_if_absent(
    client: Any,
    bucket: str,
    key: str,
    body: Any,
    *,
    content_type: str = "application/octet-stream",
    metadata: dict[str, str] | None = None,
    **params: Any,
) -> bool:
    """Write ``key`` only if it does not exist yet (``If-None-Match: *``).

    ``body`` is bytes or a binary file; ``params`` are further PutObject parameters
    (``ChecksumSHA256``, …). Returns True when this call created the object, False when it
    already existed.
    """
    try:
        client.put_object(
            Bucket=bucket,
            Key=key,
            Body=body,
            ContentType=content_type,
            Metadata=metadata or {},
            IfNoneMatch="*",
            **params,
        )
    except ClientError as exc:
        if error_code(exc) in _PRECONDITION_CODES:
            return False
        raise
    return True


@dataclass(frozen=True)
class StoredObject:
    """An object as read: its bytes (None when over the reader's cap), size and metadata."""

    body: bytes | None
    size: int
    metadata: dict[str, str]


def read_object(
    client: Any, bucket: str, key: str, *, max_bytes: int | None = None
) -> StoredObject | None:
    """The object at ``key``, or None if it does not exist.

    Over ``max_bytes`` (by its Content-Length) the body is closed unread: a huge object costs
    one request, not its download.
    """
    try:
        response = client.get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if is_missing(exc):
            return None
        raise
    metadata = dict(response.get("Metadata") or {})
    size = int(response.get("ContentLength") or 0)
    if max_bytes is not None and size > max_bytes:
        response["Body"].close()
        return StoredObject(body=None, size=size, metadata=metadata)
    body = bytes(response["Body"].read())
    return StoredObject(body=body, size=len(body), metadata=metadata)


def get_bytes(client: Any, bucket: str, key: str) -> bytes | None:
    """The object's bytes, or None if it does not exist."""
    stored = read_object(client, bucket, key)
    return None if stored is None else stored.body


def put_bytes(client: Any, bucket: str, key: str, body: bytes, *, content_type: str,
              cache_control: str | None = None) -> None:
    """Write ``body`` to ``key`` (overwriting it)."""
    params = {"CacheControl": cache_control} if cache_control else {}
    client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type, **params)


def get_json(client: Any, bucket: str, key: str) -> Any:
    """The JSON document at ``key``, or None if it does not exist."""
    body = get_bytes(client, bucket, key)
    return None if body is None else json.loads(body)


def put_json(
    client: Any, bucket: str, key: str, document: Any, *, if_absent: bool = False
) -> bool:
    """Write ``document`` as JSON to ``key``; with ``if_absent``, only if the key is new.

    Returns False when ``if_absent`` and the key existed, else True.
    """
    body = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    if if_absent:
        return put_if_absent(client, bucket, key, body, content_type="application/json")
    put_bytes(client, bucket, key, body, content_type="application/json")
    return True


@dataclass(frozen=True)
class Page:
    """One ListObjectsV2 page: its keys in S3 order and the key to start the next page after."""

    keys: list[str]
    next_start_after: str | None


def list_page(
    client: Any,
    bucket: str,
    prefix: str,
    *,
    start_after: str | None = None,
    max_keys: int = 60,
) -> Page:
    """List at most ``max_keys`` keys under ``prefix`` after ``start_after``: one S3 call."""
    params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": max_keys}
    if start_after:
        params["StartAfter"] = start_after
    response = client.list_objects_v2(**params)
    keys = [item["Key"] for item in response.get("Contents", [])]
    more = bool(response.get("IsTruncated")) and bool(keys)
    return Page(keys=keys, next_start_after=keys[-1] if more else None)


def checksum_sha256(sha256_hex: str) -> str:
    """The ``ChecksumSHA256`` value S3 expects for a hex SHA-256: base64 of the raw digest."""
    return base64.b64encode(bytes.fromhex(sha256_hex)).decode()


def list_prefixes(client: Any, bucket: str, prefix: str) -> list[str]:
    """The next path segment of every key under ``prefix`` (``raw/`` -> device ids), all pages."""
    names = []
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        for common in page.get("CommonPrefixes", []):
            names.append(common["Prefix"][len(prefix):].rstrip("/"))
    return names


def iter_keys(
    client: Any, bucket: str, prefix: str, *, start_after: str | None = None
) -> Iterator[str]:
    """Every key under ``prefix`` (after ``start_after``), across as many pages as it takes."""
    params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    if start_after:
        params["StartAfter"] = start_after
    for page in client.get_paginator("list_objects_v2").paginate(**params):
        for item in page.get("Contents", []):
            yield item["Key"]
