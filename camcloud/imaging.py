"""Thumbnail and preview rendering with Pillow, plus the quality signals of a frame.

The JPEG decoder is asked for the smallest DCT scale (1/2, 1/4, 1/8) that still covers the
preview, so a 3MP frame is never decoded at full size when half serves.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from typing import Any

from PIL import ExifTags, Image, ImageFilter, ImageOps, ImageStat, UnidentifiedImageError

THUMB_EDGE = 320
PREVIEW_EDGE = 1024
THUMB_QUALITY = 78
PREVIEW_QUALITY = 82
# Arducam Mega's largest mode is 2592x1944 (5 MP); anything far beyond it is not a camera frame.
MAX_PIXELS = 24_000_000
MAX_EDGE = 12_000
DARK_BRIGHTNESS = 40.0

_EXIF_FIELDS = {
    ExifTags.Base.Make: "make",
    ExifTags.Base.Model: "model",
    ExifTags.Base.Software: "software",
    ExifTags.Base.DateTime: "datetime",
    ExifTags.Base.DateTimeOriginal: "datetime_original",
    ExifTags.Base.ExposureTime: "exposure_time",
    ExifTags.Base.FNumber: "f_number",
    ExifTags.Base.ISOSpeedRatings: "iso",
    ExifTags.Base.Orientation: "orientation",
}
_ROTATE = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180,
           270: Image.Transpose.ROTATE_90}


class ImageError(ValueError):
    """The original cannot be rendered; ``code`` names why (``corrupt``, ``too_large``, …)."""

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


def _draft_size(width: int, height: int, edge: int) -> tuple[int, int]:
    """The size to ask ``draft`` for so the decoded image still covers ``edge`` on its long side."""
    long_side = max(width, height)
    if long_side <= edge:
        return width, height
    return max(1, -(-width * edge // long_side)), max(1, -(-height * edge // long_side))


def _exif_subset(exif: Image.Exif) -> dict[str, Any]:
    merged: dict[int, Any] = dict(exif)
    try:
        merged.update(exif.get_ifd(ExifTags.IFD.Exif))
    except (KeyError, ValueError, TypeError):
        pass
    subset: dict[str, Any] = {}
    for tag, name in _EXIF_FIELDS.items():
        value = merged.get(tag)
        if value is None:
            continue
        if isinstance(value, bytes):
            value = value.decode("ascii", "replace")
        if isinstance(value, str):
            value = value.strip("\x00 ")[:64]
        elif not isinstance(value, int):
            try:
                value = round(float(value), 6)
            except (TypeError, ValueError, ZeroDivisionError):
                continue
        subset[name] = value
    return subset


def quality_signals(image: Image.Image) -> dict[str, Any]:
    """Mean brightness (0-255), a sharpness score (edge variance) and a ``dark`` flag."""
    gray = image.convert("L")
    brightness = ImageStat.Stat(gray).mean[0]
    edges = gray.filter(ImageFilter.FIND_EDGES)
    sharpness = ImageStat.Stat(edges).var[0]
    return {
        "brightness": round(brightness, 1),
        "sharpness": round(sharpness, 1),
        "dark": brightness < DARK_BRIGHTNESS,
    }


def _encode(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, progressive=True, optimize=False)
    return out.getvalue()


def render(original: bytes, *, rotation: int = 0) -> Rendition:
    """Make the thumbnail and preview of a JPEG original; raise ImageError if it is unusable."""
    if not original:
        raise ImageError("empty", "the original is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            # Pillow warns, then raises, on decompression bombs; make both one clear error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(original))
            if image.format != "JPEG":
                raise ImageError("not_jpeg", f"the original is {image.format}, not a JPEG")
            width, height = image.size
            if width * height > MAX_PIXELS or max(width, height) > MAX_EDGE:
                raise ImageError(
                    "too_large", f"{width}x{height} is larger than any camera frame camcloud takes"
                )
            exif = image.getexif()
            orientation = int(exif.get(ExifTags.Base.Orientation, 1) or 1)
            image.draft("RGB", _draft_size(width, height, PREVIEW_EDGE))
            image.load()
    except ImageError:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise ImageError("too_large", f"decompression bomb refused: {exc}") from None
    except UnidentifiedImageError:
        raise ImageError("not_jpeg", "the original is not an image Pillow can read") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError("corrupt", f"the original cannot be decoded: {exc}") from None

    if image.mode != "RGB":
        image = image.convert("RGB")
    if orientation != 1:
        image = ImageOps.exif_transpose(image)
    if rotation:
        image = image.transpose(_ROTATE[rotation])
    preview = image
    if max(preview.size) > PREVIEW_EDGE:
        preview = preview.copy()
        preview.thumbnail((PREVIEW_EDGE, PREVIEW_EDGE), Image.Resampling.BICUBIC)
    thumb = preview.copy()
    thumb.thumbnail((THUMB_EDGE, THUMB_EDGE), Image.Resampling.BICUBIC, reducing_gap=2.0)
    return Rendition(
        thumb=_encode(thumb, THUMB_QUALITY),
        preview=_encode(preview, PREVIEW_QUALITY),
        width=width,
        height=height,
        orientation=orientation,
        exif=_exif_subset(exif),
        quality=quality_signals(thumb),
    )
