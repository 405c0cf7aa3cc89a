"""Thumbnail and preview rendering with Pillow, plus the quality signals of a frame.

The work per capture is one decode, two resizes and two encodes, in the cheapest order:

- the JPEG decoder is asked for the smallest DCT scale (1/2, 1/4, 1/8) that still covers the
  preview, so a 3MP frame is decoded at half size and never in full;
- the preview is resized first and the orientation (EXIF and the device's rotation) is applied
  to that smaller image, not to the decoded frame;
- the thumbnail is made from the preview (box-reduce by an integer factor, then bicubic), and
  the quality signals are measured on the thumbnail, where they cost almost nothing.

``bench/thumbnail.py`` measures this against ``vipsthumbnail``.
"""

from __future__ import annotations

import functools
import io
import textwrap
import warnings
from dataclasses import dataclass, field
from typing import Any

from PIL import (
    ExifTags,
    Image,
    ImageDraw,
    ImageFilter,
    ImageFont,
    ImageStat,
    UnidentifiedImageError,
)

THUMB_EDGE = 320
PREVIEW_EDGE = 1024
THUMB_QUALITY = 78
PREVIEW_QUALITY = 82
# Arducam Mega's largest mode is 2592x1944 (5 MP); a phone photo being imported may reach
# 12 MP. Beyond 16 MP the decoder's buffers alone would break the thumbnailer's memory budget.
MAX_PIXELS = 16_000_000
MAX_EDGE = 8192
# No camera mode is wider than 16:9; a strip of 50:1 is a crafted file, not a capture.
MAX_ASPECT = 8
DARK_BRIGHTNESS = 40.0
# The preview is less than 2x smaller than the decoded frame (1280 -> 1024, 1920 -> 1024, or
# 2592 -> 1296 -> 1024 after the 1/2 DCT scale). At such factors an area average differs from
# Lanczos by 1-2/255 RMS, half of what the JPEG encoder then changes, at 2/3 of bilinear's cost.
_PREVIEW_FILTER = Image.Resampling.BOX
_THUMB_FILTER = Image.Resampling.BICUBIC
# Box-reduce by an integer factor while at least 1.5x the target remains, then resample: close
# to a full bicubic at a third of the cost.
_REDUCING_GAP = 1.5

_EXIF_FIELDS = {
    ExifTags.Base.Make: "make",
    ExifTags.Base.Model: "model",
    ExifTags.Base.Software: "software",
    ExifTags.Base.DateTime: "datetime",
    ExifTags.Base.DateTimeOriginal: "datetime_original",
    ExifTags.Base.OffsetTimeOriginal: "offset_time_original",
    ExifTags.Base.ExposureTime: "exposure_time",
    ExifTags.Base.FNumber: "f_number",
    ExifTags.Base.ISOSpeedRatings: "iso",
    ExifTags.Base.Orientation: "orientation",
}
# EXIF orientation -> the transpose that makes the image upright (as ImageOps.exif_transpose).
_ORIENT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# A device's rotation is clockwise; Pillow's ROTATE_* turn counter-clockwise.
_ROTATE = {
    90: Image.Transpose.ROTATE_270,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_90,
}


class ImageError(ValueError):
    """The original cannot be rendered; ``code`` names why.

    Codes: ``empty``, ``not_jpeg``, ``truncated``, ``corrupt``, ``decompression_bomb``,
    ``absurd_size``, ``too_large`` (the file, before decoding).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Rendition:
    """What the thumbnailer makes of one original."""

    thumb: bytes
    preview: bytes
    width: int
    height: int
    orientation: int
    exif: dict[str, Any] = field(default_factory=dict)
    quality: dict[str, Any] = field(default_factory=dict)


def fit(width: int, height: int, edge: int) -> tuple[int, int]:
    """``width x height`` scaled down so the long side is at most ``edge`` (never up)."""
    long_side = max(width, height)
    if long_side <= edge:
        return width, height
    scale = edge / long_side
    return max(1, round(width * scale)), max(1, round(height * scale))


def _exif_value(value: Any) -> Any:
    if isinstance(value, tuple):
        value = value[0] if value else None
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if isinstance(value, str):
        return value.strip("\x00 ")[:64] or None
    if isinstance(value, int):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    # JSON has no NaN; a zero-denominator rational reads as NaN.
    return round(number, 6) if number == number and abs(number) != float("inf") else None


def exif_subset(exif: Image.Exif) -> dict[str, Any]:
    """The EXIF fields a camera owner cares about, as JSON-safe values."""
    merged: dict[int, Any] = dict(exif)
    try:
        merged.update(exif.get_ifd(ExifTags.IFD.Exif))
    except Exception:  # noqa: BLE001 - a mangled EXIF sub-IFD loses its fields, nothing more
        pass
    subset: dict[str, Any] = {}
    for tag, name in _EXIF_FIELDS.items():
        value = _exif_value(merged.get(tag))
        if value is not None:
            subset[name] = value
    return subset


def quality_signals(image: Image.Image) -> dict[str, Any]:
    """Mean brightness (0-255), a sharpness score (edge variance) and a ``dark`` flag.

    Measured at thumbnail scale, so scores of different capture sizes compare.
    """
    gray = image if image.mode == "L" else image.convert("L")
    brightness = ImageStat.Stat(gray).mean[0]
    sharpness = ImageStat.Stat(gray.filter(ImageFilter.FIND_EDGES)).var[0]
    return {
        "brightness": round(brightness, 1),
        "sharpness": round(sharpness, 1),
        "dark": brightness < DARK_BRIGHTNESS,
    }


def _encode(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    # Progressive: a phone on a slow link sees the whole frame early. No EXIF is copied, so
    # the upright pixels never meet a stale orientation tag.
    image.save(out, "JPEG", quality=quality, progressive=True)
    return out.getvalue()


def _open(original: bytes) -> tuple[Image.Image, Image.Exif]:
    """Open and check the header; nothing is decoded yet."""
    with warnings.catch_warnings():
        # Pillow warns, then raises, on decompression bombs; make both one clear error.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(original), formats=["JPEG"])
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise ImageError("decompression_bomb", f"decompression bomb refused: {exc}") from None
        except UnidentifiedImageError:
            raise ImageError("not_jpeg", "the original is not a JPEG") from None
        except MemoryError:
            raise
        except Exception as exc:
            # Whatever a crafted header makes Pillow raise, retrying will not change it.
            raise ImageError("corrupt", f"the original's header cannot be read: {exc}") from None
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageError("absurd_size", f"the original claims a size of {width}x{height}")
    if width * height > MAX_PIXELS:
        raise ImageError(
            "decompression_bomb",
            f"{width}x{height} ({width * height / 1e6:.0f} MP) is more than camcloud decodes "
            f"({MAX_PIXELS / 1e6:.0f} MP)",
        )
    if max(width, height) > MAX_EDGE or max(width, height) > MAX_ASPECT * min(width, height):
        raise ImageError("absurd_size", f"{width}x{height} is not the size of a camera frame")
    try:
        exif = image.getexif()
    except Exception:  # noqa: BLE001 - a mangled EXIF block costs the metadata, not the picture
        exif = Image.Exif()
    return image, exif


def _decode(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Decode at the smallest DCT scale that still covers ``size``."""
    try:
        image.draft("RGB", size)
        image.load()
    except OSError as exc:
        text = str(exc)
        if "truncated" in text or "premature end" in text.lower():
            raise ImageError("truncated", f"the original is truncated: {text}") from None
        raise ImageError("corrupt", f"the original cannot be decoded: {text}") from None
    except MemoryError:
        raise
    except Exception as exc:
        raise ImageError("corrupt", f"the original cannot be decoded: {exc}") from None
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    return image


def _orientation(exif: Image.Exif) -> int:
    try:
        value = int(exif.get(ExifTags.Base.Orientation, 1) or 1)
    except (TypeError, ValueError):
        return 1
    return value if value in range(1, 9) else 1


def render(original: bytes, *, rotation: int = 0) -> Rendition:
    """Make the thumbnail and preview of a JPEG original; raise ImageError if it is unusable."""
    if not original:
        raise ImageError("empty", "the original is empty (0 bytes)")
    if rotation not in (0, *_ROTATE):
        raise ValueError(f"rotation must be 0, 90, 180 or 270, not {rotation}")
    image, exif = _open(original)
    width, height = image.size
    orientation = _orientation(exif)
    preview_size = fit(width, height, PREVIEW_EDGE)
    frame = _decode(image, preview_size)

    preview = frame
    if frame.size != preview_size:
        preview = frame.resize(preview_size, _PREVIEW_FILTER)
    del frame, image
    # Orientation and rotation on the preview-sized image: up to 6x fewer pixels to move.
    if orientation in _ORIENT:
        preview = preview.transpose(_ORIENT[orientation])
    if rotation:
        preview = preview.transpose(_ROTATE[rotation])

    preview_jpeg = _encode(preview, PREVIEW_QUALITY)
    thumb_size = fit(*preview.size, THUMB_EDGE)
    if thumb_size != preview.size:
        thumb = preview.resize(thumb_size, _THUMB_FILTER, reducing_gap=_REDUCING_GAP)
        thumb_jpeg = _encode(thumb, THUMB_QUALITY)
    else:
        # A frame no larger than a thumbnail (96x96 ... 320x320): one image, one encode.
        thumb, thumb_jpeg = preview, preview_jpeg
    return Rendition(
        thumb=thumb_jpeg,
        preview=preview_jpeg,
        width=width,
        height=height,
        orientation=orientation,
        exif=exif_subset(exif),
        quality=quality_signals(thumb),
    )


@functools.lru_cache(maxsize=32)
def placeholder(code: str, reason: str, edge: int) -> bytes:
    """A dark 4:3 tile saying the capture could not be read and why (for the grid/lightbox)."""
    width, height = edge, edge * 3 // 4
    tile = Image.new("RGB", (width, height), (38, 38, 44))
    draw = ImageDraw.Draw(tile)
    title_size, body_size = max(12, edge // 16), max(10, edge // 26)
    title = ImageFont.load_default(size=title_size)
    body = ImageFont.load_default(size=body_size)
    margin = edge // 16
    draw.rectangle((0, 0, width - 1, height - 1), outline=(120, 60, 60), width=max(2, edge // 160))
    draw.text((margin, margin), "capture could not be read", font=title, fill=(235, 235, 235))
    chars = max(16, int(width / (body_size * 0.55)) - 4)
    lines = textwrap.wrap(reason, chars)[:6] or [code]
    y = margin * 2 + title_size
    for line in lines:
        draw.text((margin, y), line, font=body, fill=(200, 200, 200))
        y += int(body_size * 1.3)
    draw.text((margin, height - margin - body_size), f"[{code}]", font=body, fill=(220, 120, 120))
    return _encode(tile, THUMB_QUALITY)
