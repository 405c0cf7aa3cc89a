"""Frames in, H.264 MP4 out (PyAV), one frame at a time; plus the per-frame image work.

The encoder holds one frame and libx264's lookahead, never the whole video, so memory does not
grow with the number of frames. The image work (decode, gain, date stamp, conversion to the
encoder's pixel format) runs in the builder's worker threads: FFmpeg's MJPEG decoder and
libswscale release the GIL, so it overlaps with encoding. JPEGs are decoded the way the ffmpeg
command line decodes them (straight to YCbCr); Pillow is used only to stamp or letterbox.
"""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo

import av
from av.video.reformatter import ColorRange, VideoReformatter
from PIL import Image, ImageDraw, ImageFont, ImageOps

from camcloud.timelapse.plan import Options

PIX_FMT = "yuv420p"


class Unreadable(Exception):
    """A preview that could not be decoded."""


def decode(body: bytes) -> av.VideoFrame:
    """The preview JPEG decoded by FFmpeg's MJPEG decoder, as the ffmpeg command line does it
    (straight to YCbCr: no RGB round trip); Unreadable if it is not a whole, decodable JPEG."""
    codec: Any = av.CodecContext.create("mjpeg", "r")
    # Refuse a truncated JPEG instead of concealing the missing half with grey.
    codec.options = {"err_detect": "explode"}
    try:
        frames = [*codec.decode(av.Packet(body)), *codec.decode(None)]
    except (av.FFmpegError, EOFError, ValueError) as exc:
        raise Unreadable(f"{type(exc).__name__}: {exc}") from None
    if not frames:
        raise Unreadable("no picture in the preview")
    frame: av.VideoFrame = frames[0]
    return frame


def even_size(width: int, height: int) -> tuple[int, int]:
    """The largest even dimensions not above ``width x height`` (yuv420p halves chroma)."""
    return max(2, width - width % 2), max(2, height - height % 2)


def fit_to(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``image`` at exactly ``size``: cropped by a pixel to even, or scaled and padded."""
    if image.size == size:
        return image
    width, height = image.size
    if width - size[0] in (0, 1) and height - size[1] in (0, 1):
        return image.crop((0, 0, *size))
    # A capture of another mode or rotation: letterbox it rather than distort it.
    return ImageOps.pad(image, size, color=(0, 0, 0))


def apply_gain(image: Image.Image, gain: float) -> Image.Image:
    """``image`` with every channel scaled by ``gain`` (a lookup table: one pass, no numpy)."""
    if abs(gain - 1.0) < 0.005:
        return image
    table = [min(255, round(i * gain)) for i in range(256)]
    return image.point(table * len(image.getbands()))


def _font(height: int) -> Any:
    size = max(12, height // 28)
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow built without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def stamp(image: Image.Image, captured_at_ms: int, tz: str) -> Image.Image:
    """``image`` with its capture date and time burned into the lower left corner."""
    moment = datetime.fromtimestamp(captured_at_ms / 1000, UTC).astimezone(ZoneInfo(tz))
    text = moment.strftime("%Y-%m-%d %H:%M")
    font = _font(image.height)
    draw = ImageDraw.Draw(image)
    margin = max(4, image.height // 60)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    x, y = margin, image.height - margin - (bottom - top) - top
    # A dark box under the text keeps it legible on snow and on night frames alike.
    draw.rectangle((x - margin // 2, y + top - margin // 2, x + right + margin // 2,
                    y + bottom + margin // 2), fill=(0, 0, 0))
    draw.text((x, y), text, font=font, fill=(255, 255, 255))
    return image


def luma_gain(frame: av.VideoFrame, gain: float) -> av.VideoFrame:
    """``frame`` (yuv420p, limited range) with its luma scaled by ``gain`` above black."""
    if abs(gain - 1.0) < 0.005:
        return frame
    # bytes.translate: one C pass over the plane, no numpy.
    table = bytes(min(235, max(16, 16 + round((y - 16) * gain))) for y in range(256))
    plane = frame.planes[0]
    plane.update(bytes(plane).translate(table))
    return frame


def prepare(frame: av.VideoFrame, size: tuple[int, int], gain: float,
            stamp_at_ms: int | None, tz: str) -> av.VideoFrame:
    """A decoded preview as an encoder-ready yuv420p frame of ``size``, gain and stamp applied.

    The common case stays in YCbCr (scale by at most a pixel to even, gain on luma); a stamp or
    a preview of another size goes through Pillow.
    """
    width, height = frame.width, frame.height
    if stamp_at_ms is None and 0 <= width - size[0] <= 1 and 0 <= height - size[1] <= 1:
        # JPEG luma is full range (0-255), H.264 in MP4 is played as limited (16-235): say so,
        # or every video comes out too contrasty. One scaler thread: the pool is the threading.
        converted: av.VideoFrame = VideoReformatter().reformat(
            frame, size[0], size[1], PIX_FMT, src_color_range=ColorRange.JPEG,
            dst_color_range=ColorRange.MPEG, threads=1)
        return luma_gain(converted, gain)
    image = fit_to(frame.to_image(), size)  # type: ignore[no-untyped-call]
    image = apply_gain(image, gain)
    if stamp_at_ms is not None:
        image = stamp(image, stamp_at_ms, tz)
    return to_video_frame(image, size)


def to_video_frame(image: Image.Image, size: tuple[int, int]) -> av.VideoFrame:
    """``image`` as an encoder-ready yuv420p frame of ``size`` (done off the encoding thread)."""
    frame: av.VideoFrame = av.VideoFrame.from_image(fit_to(image, size))  # type: ignore[no-untyped-call]
    converted: av.VideoFrame = frame.reformat(format=PIX_FMT)
    return converted


class Encoder:
    """Writes frames to an MP4 file as they come; ``close()`` finishes the file."""

    def __init__(self, path: Path, size: tuple[int, int], options: Options) -> None:
        self.path = path
        self.size = size
        self.frames = 0
        self._container: Any = av.open(
            str(path), mode="w", format=options.container,
            # faststart moves the index to the front, so a browser plays before the download ends.
            options={"movflags": "+faststart"},
        )
        stream: Any = self._container.add_stream(
            options.codec, rate=options.fps,
            options={"crf": str(options.crf), "preset": options.preset},
        )
        stream.width, stream.height = size
        stream.pix_fmt = PIX_FMT
        # Frame threads, as the ffmpeg command line uses (PyAV's default is slice threads,
        # which cost throughput and compression).
        stream.codec_context.thread_type = "AUTO"
        stream.codec_context.time_base = Fraction(1, options.fps)
        self._stream = stream

    def add(self, frame: av.VideoFrame) -> None:
        """Encode one frame (its timestamp is its position: one frame per 1/fps second)."""
        frame.pts = self.frames
        frame.time_base = self._stream.codec_context.time_base
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        """Flush the encoder and write the index (the file is complete after this)."""
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()

    def abort(self) -> None:
        """Close the file without finishing it (it is deleted by the caller)."""
        try:
            self._container.close()
        except Exception:  # noqa: BLE001 - an aborted build reports its first error, not this
            pass

    def __enter__(self) -> Encoder:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()
