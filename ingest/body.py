"""Reading an upload's body: raw (Content-Length or chunked) or one multipart file part.

Memory stays bounded whatever the size and the number of uploads in flight: a body lives in
memory up to ``memory_limit`` bytes and in a temporary file under the spool's ``tmp/`` beyond,
and reading stops as soon as it passes the size limit.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import tempfile
from collections.abc import Callable
from typing import IO, Any

from werkzeug.datastructures import Headers
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from camcloud.validation import JpegError, jpeg_length

READ_CHUNK = 64 * 1024
MEMORY_LIMIT = 1024 * 1024
# What a multipart envelope may add around the image: boundaries, part headers, small fields.
MULTIPART_OVERHEAD = 64 * 1024
RAW_TYPES = {"", "image/jpeg", "image/jpg", "image/pjpeg", "application/octet-stream"}


class BodyError(Exception):
    """A body the protocol refuses: HTTP status, error code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def too_large(limit: int) -> BodyError:
    """The 413 for an image over ``limit`` bytes."""
    return BodyError(413, "too_large", f"the image is larger than {limit} bytes")


def incomplete() -> BodyError:
    """The 400 for a body that ended early (the client gave up or the connection broke)."""
    return BodyError(400, "incomplete", "the body ended before all of it arrived")


class Body:
    """The bytes of one upload, in memory when small and in a file when large."""

    def __init__(self, tmp_dir: str, limit: int, memory_limit: int = MEMORY_LIMIT) -> None:
        self._tmp_dir = tmp_dir
        self._limit = limit
        self._memory_limit = memory_limit
        self._buffer = bytearray()
        self._file: IO[bytes] | None = None
        self.path: str | None = None
        self.size = 0
        self.sha256 = ""
        self._digest: Any = None  # sha256 of what went to the file, as it arrives

    def write(self, chunk: bytes) -> None:
        """Append ``chunk``; raise 413 as soon as the body passes the limit."""
        if not chunk:
            return
        self.size += len(chunk)
        if self.size > self._limit:
            raise too_large(self._limit)
        if self._file is None and self.size > self._memory_limit:
            descriptor, self.path = tempfile.mkstemp(
                prefix="upload-", suffix=".jpg", dir=self._tmp_dir
            )
            self._file = os.fdopen(descriptor, "wb")
            self._file.write(self._buffer)
            self._digest = hashlib.sha256(self._buffer)
            self._buffer = bytearray()
        if self._file is not None:
            self._file.write(chunk)
            self._digest.update(chunk)
        else:
            self._buffer += chunk

    def finish(self) -> None:
        """Check the JPEG framing, trim the bytes after its end marker, compute the sha256."""
        if self._file is None:
            length = jpeg_length(self._buffer)
            del self._buffer[length:]
            self.size = length
            self.sha256 = hashlib.sha256(self._buffer).hexdigest()
            return
        self._file.flush()
        # The framing walk reads the file through a mapping, without copying it into memory.
        with mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            length = jpeg_length(mapped)
        digest = self._digest
        if length < self.size:
            # Padding after the end marker: hash again, only the image, in small reads.
            self._file.truncate(length)
            digest = hashlib.sha256()
            with open(self.path, "rb") as handle:  # type: ignore[arg-type]
                for block in iter(lambda: handle.read(READ_CHUNK), b""):
                    digest.update(block)
        self._file.close()
        self.size = length
        self.sha256 = digest.hexdigest()

    @property
    def in_memory(self) -> bool:
        """Whether the bytes are in memory (else in the file at ``path``)."""
        return self.path is None

    def read_all(self) -> bytes:
        """The whole body."""
        if self.path is None:
            return bytes(self._buffer)
        with open(self.path, "rb") as handle:
            return handle.read()

    def detach_file(self) -> str | None:
        """Hand the temporary file over to the caller (the spool renames it); None if in memory."""
        path, self.path = self.path, None
        return path

    def close(self) -> None:
        """Delete the temporary file, if any, and drop the buffer."""
        if self._file is not None and not self._file.closed:
            self._file.close()
        if self.path is not None:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            self.path = None
        self._buffer = bytearray()


def _pump(read: Callable[[int], bytes], sink: Callable[[bytes], None]) -> None:
    """Copy the request stream into ``sink``; a broken read means the client went away."""
    while True:
        try:
            chunk = read(READ_CHUNK)
        except BodyError:
            raise
        except Exception:  # noqa: BLE001 - any failure to read the request is the client's
            raise incomplete() from None
        if not chunk:
            return
        sink(chunk)


def read_raw(stream: IO[bytes], declared: int | None, body: Body) -> None:
    """Read a raw JPEG body; with ``declared`` (Content-Length), all of it must arrive."""
    _pump(stream.read, body.write)
    if declared is not None and body.size < declared:
        raise incomplete()


def read_multipart(
    stream: IO[bytes], content_type: str, declared: int | None, body: Body, limit: int
) -> None:
    """Stream the one file part of a multipart/form-data body into ``body``."""
    _, options = parse_options_header(content_type)
    boundary = options.get("boundary", "").encode("latin-1", "replace")
    if not boundary or len(boundary) > 200:
        raise BodyError(400, "bad_multipart", "multipart/form-data needs a boundary")
    decoder = MultipartDecoder(boundary, max_form_memory_size=MULTIPART_OVERHEAD + READ_CHUNK * 2,
                               max_parts=16)
    state = {"files": 0, "in_file": False, "received": 0, "done": False}

    def feed(chunk: bytes | None) -> None:
        if chunk is not None:
            state["received"] += len(chunk)
            if state["received"] > limit + MULTIPART_OVERHEAD:
                raise too_large(limit)
        try:
            decoder.receive_data(chunk)
            while True:
                event = decoder.next_event()
                if isinstance(event, NeedData):
                    return
                if isinstance(event, File):
                    state["files"] += 1
                    if state["files"] > 1:
                        raise BodyError(400, "bad_multipart", "send exactly one file part")
                    _check_part_type(event.headers)
                    state["in_file"] = True
                elif isinstance(event, Field):
                    state["in_file"] = False
                elif isinstance(event, Data):
                    if state["in_file"]:
                        body.write(event.data)
                        if not event.more_data:
                            state["in_file"] = False
                elif isinstance(event, Epilogue):
                    state["done"] = True
                    return
        except BodyError:
            raise
        except Exception:  # noqa: BLE001 - werkzeug raises ValueError/413 on bad framing
            raise BodyError(400, "bad_multipart", "the multipart body is malformed") from None

    _pump(stream.read, feed)
    if declared is not None and state["received"] < declared:
        raise incomplete()
    feed(None)
    if state["files"] == 0:
        raise BodyError(400, "bad_multipart", "the multipart body has no file part")
    if not state["done"]:
        raise BodyError(400, "bad_multipart", "the multipart body has no closing boundary")


def _check_part_type(headers: Headers) -> None:
    content_type = parse_options_header(headers.get("Content-Type", ""))[0].lower()
    if content_type not in RAW_TYPES:
        raise BodyError(415, "unsupported_media_type", "the file part must be image/jpeg")


def validate(body: Body) -> None:
    """Check the JPEG framing of a fully read body (400 empty / not_jpeg / truncated)."""
    try:
        body.finish()
    except JpegError as exc:
        raise BodyError(400, exc.code, str(exc)) from None
