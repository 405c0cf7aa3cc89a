"""camcloud.imaging: thumbnails and previews of every camera mode, upright, and bad originals.

Pure functions on bytes: no S3, no mocks.
"""

from __future__ import annotations

import io
import struct

import pytest
from PIL import ExifTags, Image, ImageDraw, ImageFilter, ImageOps, ImageStat, JpegImagePlugin

from camcloud import imaging

# Every Arducam Mega capture mode (3MP, plus the 5MP model's largest).
ARDUCAM_MODES = [
    (96, 96), (128, 128), (160, 120), (320, 240), (320, 320), (640, 480), (800, 600),
    (1280, 720), (1280, 960), (1600, 1200), (1920, 1080), (2048, 1536), (2592, 1944),
]
RED, GREEN, BLUE, WHITE = (230, 20, 20), (20, 200, 20), (20, 20, 230), (245, 245, 245)


def encode(image: Image.Image, **save: object) -> bytes:
    """``image`` as JPEG bytes."""
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, **save)
    return out.getvalue()


def quadrants(width: int = 400, height: int = 300) -> Image.Image:
    """A frame whose corners can be told apart: red, green / blue, white."""
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    half_w, half_h = width // 2, height // 2
    draw.rectangle((0, 0, half_w - 1, half_h - 1), fill=RED)
    draw.rectangle((half_w, 0, width - 1, half_h - 1), fill=GREEN)
    draw.rectangle((0, half_h, half_w - 1, height - 1), fill=BLUE)
    draw.rectangle((half_w, half_h, width - 1, height - 1), fill=WHITE)
    return image


def corners(image: Image.Image) -> list[tuple[int, ...]]:
    """Colours a few pixels inside each corner: top-left, top-right, bottom-left, bottom-right."""
    rgb = image.convert("RGB")
    width, height = rgb.size
    inset_x, inset_y = max(2, width // 10), max(2, height // 10)
    points = [(inset_x, inset_y), (width - inset_x, inset_y), (inset_x, height - inset_y),
              (width - inset_x, height - inset_y)]
    return [rgb.getpixel(point) for point in points]  # type: ignore[misc]


def nearest(colour: tuple[int, ...]) -> tuple[int, int, int]:
    """The marker colour ``colour`` is (JPEG moves colours a little)."""
    return min((RED, GREEN, BLUE, WHITE),
               key=lambda ref: sum((a - b) ** 2 for a, b in zip(ref, colour, strict=False)))


def opened(data: bytes) -> Image.Image:
    """Decode JPEG bytes made by the thumbnailer."""
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    return image


def with_sof_size(original: bytes, width: int, height: int) -> bytes:
    """``original`` with its frame header claiming ``width`` x ``height`` (a crafted file)."""
    at = original.index(b"\xff\xc0")
    return original[: at + 5] + struct.pack(">HH", height, width) + original[at + 9 :]


@pytest.mark.parametrize(("width", "height"), ARDUCAM_MODES)
def test_every_camera_mode_gets_a_320_thumbnail_and_1024_preview(width: int, height: int) -> None:
    """Given an Arducam Mega mode's capture, when rendered, then sizes follow docs/protocol.md."""
    original = encode(Image.new("RGB", (width, height), (120, 150, 90)))

    rendition = imaging.render(original)

    thumb, preview = opened(rendition.thumb), opened(rendition.preview)
    long_side = max(width, height)
    assert max(preview.size) == min(long_side, imaging.PREVIEW_EDGE)
    assert max(thumb.size) == min(long_side, imaging.THUMB_EDGE)
    for made in (thumb, preview):
        # Same shape as the frame, to the pixel.
        assert abs(made.size[0] / made.size[1] - width / height) < 2 / min(made.size)
        assert made.info.get("progressive") == 1
    assert (rendition.width, rendition.height) == (width, height)


def test_a_3mp_frame_is_decoded_at_half_scale_never_in_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Given a 2048x1536 capture, when rendered, then the decoder is asked for 1/2 scale."""
    requested = []
    real_draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self: Image.Image, mode: str | None, size: tuple[int, int] | None) -> object:
        result = real_draft(self, mode, size)  # type: ignore[arg-type]
        requested.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)

    imaging.render(encode(Image.new("RGB", (2048, 1536), (10, 20, 30))))

    assert requested == [(1024, 768)]


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_comes_out_upright(orientation: int) -> None:
    """Given a frame tagged with EXIF orientation 1-8, when rendered, then thumbnail and preview
    show it as Pillow's exif_transpose (the reference) does, with no tag left to re-apply."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    original = encode(quadrants(), exif=exif)
    upright = ImageOps.exif_transpose(Image.open(io.BytesIO(original)))

    rendition = imaging.render(original)

    assert rendition.orientation == orientation
    assert (rendition.width, rendition.height) == (400, 300)
    for data, edge in ((rendition.thumb, 320), (rendition.preview, 400)):
        made = opened(data)
        assert made.size == imaging.fit(*upright.size, edge)
        assert [nearest(c) for c in corners(made)] == [nearest(c) for c in corners(upright)]
        assert ExifTags.Base.Orientation not in made.getexif()


@pytest.mark.parametrize(("rotation", "expected"), [
    (0, [RED, GREEN, BLUE, WHITE]),
    (90, [BLUE, RED, WHITE, GREEN]),
    (180, [WHITE, BLUE, GREEN, RED]),
    (270, [GREEN, WHITE, RED, BLUE]),
])
def test_device_rotation_turns_thumbnail_and_preview_clockwise(
    rotation: int, expected: list[tuple[int, int, int]]
) -> None:
    """Given a camera mounted turned, when its frame is rendered with its rotation, then both
    images are turned clockwise by that much."""
    rendition = imaging.render(encode(quadrants(640, 480)), rotation=rotation)

    for data in (rendition.thumb, rendition.preview):
        made = opened(data)
        assert made.size[0] > made.size[1] if rotation in (0, 180) else made.size[0] < made.size[1]
        assert [nearest(c) for c in corners(made)] == expected


def test_exif_orientation_and_device_rotation_combine() -> None:
    """Given a frame tagged 'rotate 90 CW' from a camera set to 180, when rendered, then the
    upright frame is turned a further 180 degrees."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    original = encode(quadrants(), exif=exif)
    upright = ImageOps.exif_transpose(Image.open(io.BytesIO(original)))
    expected = upright.transpose(Image.Transpose.ROTATE_180)

    thumb = opened(imaging.render(original, rotation=180).thumb)

    assert thumb.size == (240, 320)
    assert [nearest(c) for c in corners(thumb)] == [nearest(c) for c in corners(expected)]


def test_record_fields_carry_the_exif_subset() -> None:
    """Given a capture with camera EXIF, when rendered, then make, model and times are kept."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Arducam"
    exif[ExifTags.Base.Model] = "Mega 3MP"
    exif[ExifTags.Base.Software] = "camcloud-fw 1.4.0"
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2026:11:21 09:30:00"
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.ISOSpeedRatings] = 200

    rendition = imaging.render(encode(quadrants(), exif=exif))

    assert rendition.exif == {
        "make": "Arducam", "model": "Mega 3MP", "software": "camcloud-fw 1.4.0",
        "datetime_original": "2026:11:21 09:30:00", "iso": 200,
    }


def test_quality_signals_flag_a_dark_frame_and_score_sharpness() -> None:
    """Given a night frame, a sharp frame and the same frame blurred, when rendered, then the
    night frame is dark and the sharp frame scores higher than the blurred one."""
    sharp = quadrants(640, 480)
    ImageDraw.Draw(sharp).text((200, 200), "camcloud " * 4, fill=(0, 0, 0))
    for x in range(0, 640, 8):
        ImageDraw.Draw(sharp).line((x, 0, x, 479), fill=(0, 0, 0))
    blurred = sharp.filter(ImageFilter.GaussianBlur(6))
    night = Image.new("RGB", (640, 480), (12, 12, 18))

    sharp_q = imaging.render(encode(sharp)).quality
    blurred_q = imaging.render(encode(blurred)).quality
    night_q = imaging.render(encode(night)).quality

    assert night_q["dark"] is True and night_q["brightness"] < 20
    assert sharp_q["dark"] is False and blurred_q["dark"] is False
    assert sharp_q["sharpness"] > 2 * blurred_q["sharpness"]


def test_grayscale_cmyk_and_progressive_captures_render() -> None:
    """Given a grayscale, a CMYK and a progressive JPEG, when rendered, then all three give
    usable images."""
    gray = encode(Image.new("L", (800, 600), 128))
    cmyk = encode(Image.new("CMYK", (800, 600), (0, 50, 100, 0)))
    progressive = encode(quadrants(800, 600), progressive=True)

    for original in (gray, cmyk, progressive):
        rendition = imaging.render(original)
        assert opened(rendition.preview).size == (800, 600)
        assert opened(rendition.thumb).size == (320, 240)


def small_jpeg() -> bytes:
    """A valid 640x480 capture."""
    return encode(quadrants(640, 480))


BAD_ORIGINALS = {
    "zero bytes": (lambda: b"", "empty"),
    "a PNG": (lambda: _png(), "not_jpeg"),
    "text": (lambda: b"<html>502 Bad Gateway</html>", "not_jpeg"),
    "start marker then noise": (lambda: b"\xff\xd8" + bytes(range(256)) * 8, "not_jpeg"),
    "cut in half": (lambda: small_jpeg()[: len(small_jpeg()) // 2], "truncated"),
    "headers only": (lambda: small_jpeg()[: small_jpeg().index(b"\xff\xda") + 20], "truncated"),
    "broken Huffman table": (lambda: _patched(b"\xff\xc4", 4, 0x7F), "corrupt"),
    "bad scan header": (lambda: _patched(b"\xff\xda", 4, 0x09), "corrupt"),
    "decompression bomb 60000x60000": (
        lambda: with_sof_size(small_jpeg(), 60000, 60000), "decompression_bomb"),
    "25 MP claimed in 20 KB": (lambda: with_sof_size(small_jpeg(), 5000, 5000),
                               "decompression_bomb"),
    "absurd 8000x16": (lambda: with_sof_size(small_jpeg(), 8000, 16), "absurd_size"),
    "absurd 10000x1000": (lambda: with_sof_size(small_jpeg(), 10000, 1000), "absurd_size"),
}


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48)).save(out, "PNG")
    return out.getvalue()


def _patched(marker: bytes, offset: int, value: int) -> bytes:
    data = bytearray(small_jpeg())
    data[data.index(marker) + offset] = value
    return bytes(data)


@pytest.mark.parametrize("name", BAD_ORIGINALS)
def test_bad_originals_raise_image_error_with_a_reason(name: str) -> None:
    """Given a bad original, when rendered, then ImageError names why, in words and a code."""
    make, code = BAD_ORIGINALS[name]

    with pytest.raises(imaging.ImageError) as raised:
        imaging.render(make())

    assert raised.value.code == code
    assert str(raised.value)


def test_placeholder_tiles_are_dark_jpegs_of_the_usual_sizes() -> None:
    """Given a reason, when placeholders are made, then they are 4:3 progressive dark JPEGs."""
    thumb = opened(imaging.placeholder("truncated", "the original is truncated", 320))
    preview = opened(imaging.placeholder("truncated", "the original is truncated", 1024))

    assert thumb.size == (320, 240) and preview.size == (1024, 768)
    assert thumb.info.get("progressive") == 1
    assert ImageStat.Stat(thumb.convert("L")).mean[0] < 80
