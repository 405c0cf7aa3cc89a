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
from pathlib import Path
from typing import IO, Any

from werkzeug.datastructures import Headers
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from camcloud.errors import Refusal
from camcloud.files import file_sha256
from camcloud.validation import JpegError, jpeg_length

READ_CHUNK = 64 * 1024
MEMORY_LIMIT = 1024 * 1024
# What a multipart envelope may add around the image: boundaries, part headers, small fields.
MULTIPART_OVERHEAD = 64 * 1024
RAW_TYPES = {"", "image/jpeg", "image/jpg", "image/pjpeg", "application/octet-stream"}


def too_large(limit: int) -> Refusal:
    """The 413 for an image over ``limit`` bytes."""
    return Refusal(413, "too_large", f"the image is larger than {limit} bytes")


def incomplete() -> Refusal:
    """The 400 for a body that ended early (the client gave up or the connection broke)."""
    return Refusal(400, "incomplete", "the body ended before all of it arrived")


def bad_multipart(message: str) -> Refusal:
    """The 400 for a multipart envelope the protocol cannot use."""
    return Refusal(400, "bad_multipart", message)


def declared_length(headers: Headers) -> int | None:
    """Content-Length as sent; a malformed value is a 400, not a missing one.

    ASCII digits only: ``str.isdigit`` also accepts digits such as "²" that ``int`` refuses.
    """
    raw = headers.get("Content-Length")
    if raw is None:
        return None
    text = raw.strip(" \t")  # HTTP's optional whitespace, not every Unicode space
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise Refusal(400, "bad_content_length", "Content-Length must be a whole number")
    return int(text)


def read_body(headers: Headers, stream: IO[bytes], body: Body, limit: int) -> None:
    """Read the request body (raw, chunked or multipart) into ``body``, within ``limit``."""
    declared = declared_length(headers)
    chunked = "chunked" in headers.get("Transfer-Encoding", "").lower()
    if declared is None and not chunked:
        raise Refusal(411, "length_required", "send Content-Length or chunked encoding")
    content_type = headers.get("Content-Type", "")
    multipart = mimetype(content_type) == "multipart/form-data"
    allowed = limit + (MULTIPART_OVERHEAD if multipart else 0)
    if declared is not None and declared > allowed:
        raise too_large(limit)
    if multipart:
        read_multipart(stream, content_type, declared, body, limit)
    else:
        read_raw(stream, declared, body)
    validate(body)


def mimetype(content_type: str) -> str:
    """The media type of a Content-Type header, lower case, without parameters."""
    return parse_options_header(content_type)[0].lower()


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
            self._file.close()
            self.size = length
            self.sha256 = file_sha256(Path(str(self.path)))
            return
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
        except Refusal:
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
        raise bad_multipart("multipart/form-data needs a boundary")
    reader = _MultipartReader(boundary, body, limit)
    _pump(stream.read, reader.feed)
    if declared is not None and reader.received < declared:
        raise incomplete()
    reader.feed(None)
    if reader.files == 0:
        raise bad_multipart("the multipart body has no file part")
    if not reader.done:
        raise bad_multipart("the multipart body has no closing boundary")


class _MultipartReader:
    """Feeds werkzeug's multipart decoder and copies the one file part into the body."""

    def __init__(self, boundary: bytes, body: Body, limit: int) -> None:
        self._decoder = MultipartDecoder(
            boundary, max_form_memory_size=MULTIPART_OVERHEAD + READ_CHUNK * 2, max_parts=16
        )
        self._body = body
        self._limit = limit
        self.files = 0
        self.in_file = False
        self.received = 0
        self.done = False

    def feed(self, chunk: bytes | None) -> None:
        """Decode ``chunk`` (None: the end of the stream)."""
        if chunk is not None:
            self.received += len(chunk)
            if self.received > self._limit + MULTIPART_OVERHEAD:
                raise too_large(self._limit)
        try:
            self._decoder.receive_data(chunk)
            self._handle_events()
        except Refusal:
            raise
        except Exception:  # noqa: BLE001 - werkzeug raises ValueError/413 on bad framing
            raise bad_multipart("the multipart body is malformed") from None

    def _handle_events(self) -> None:
        while True:
            event = self._decoder.next_event()
            if isinstance(event, NeedData):
                return
            if isinstance(event, File):
                self.files += 1
                if self.files > 1:
                    raise bad_multipart("send exactly one file part")
                _check_part_type(event.headers)
                self.in_file = True
            elif isinstance(event, Field):
                self.in_file = False
            elif isinstance(event, Data) and self.in_file:
                self._body.write(event.data)
                self.in_file = event.more_data
            elif isinstance(event, Epilogue):
                self.done = True
                return


def _check_part_type(headers: Headers) -> None:
    content_type = parse_options_header(headers.get("Content-Type", ""))[0].lower()
    if content_type not in RAW_TYPES:
        raise Refusal(415, "unsupported_media_type", "the file part must be image/jpeg")


def validate(body: Body) -> None:
    """Check the JPEG framing of a fully read body (400 empty / not_jpeg / truncated)."""
    try:
        body.finish()
    except JpegError as exc:
        raise Refusal(400, exc.code, str(exc)) from None
