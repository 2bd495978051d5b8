"""Type from content, rejections (413/415/422), HEIC, orientation, colour, modes, downscaling and thumbnails."""

from __future__ import annotations

import hashlib
import io
import mimetypes
import os
import zipfile

import numpy as np
import pytest
from flask import Flask
from PIL import Image, ImageCms, ImageOps, JpegImagePlugin, features

from server.errors import PROBLEM_MIME, register_error_handlers
from server.photos import PhotoLimits, PhotoRejected, check_batch, process_photo
from tests.photos import helpers as h

RED, BLUE = (230, 20, 20), (20, 20, 230)


def _rejected(data: bytes, limits: PhotoLimits | None = None) -> PhotoRejected:
    with pytest.raises(PhotoRejected) as info:
        process_photo(data, limits or PhotoLimits())
    return info.value


def _near(pixel, colour, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


# --- the type comes from the content --------------------------------------------------------------------------


def test_png_named_jpg_is_handled_as_png(tmp_path):
    path = tmp_path / "tip.jpg"
    path.write_bytes(h.save(h.photo_like(80, 60), "PNG"))
    assert mimetypes.guess_type(path.name)[0] == "image/jpeg"  # what the name (and a careless client) claims
    photo = process_photo(path.read_bytes())  # the API takes bytes only
    assert photo.source_format == "PNG" and photo.mime == "image/png"
    assert photo.data.startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize(
    ("fmt", "source", "mime", "magic"),
    [
        ("JPEG", "JPEG", "image/jpeg", b"\xff\xd8\xff"),
        ("PNG", "PNG", "image/png", b"\x89PNG"),
        ("WEBP", "WEBP", "image/webp", b"RIFF"),
        ("HEIF", "HEIF", "image/jpeg", b"\xff\xd8\xff"),
    ],
)
def test_each_accepted_format(fmt, source, mime, magic):
    photo = process_photo(h.save(h.photo_like(80, 60), fmt))
    assert (photo.source_format, photo.mime, photo.width, photo.height) == (source, mime, 80, 60)
    assert photo.data.startswith(magic)


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("photo.jpg", h.save(h.photo_like(16, 16), "JPEG"))
    return buf.getvalue()


NOT_ACCEPTED = {
    "empty": b"",
    "text": "举报：某小区有人聚众赌博".encode(),
    "html": b"<!doctype html><html><body><img src=x onerror=alert(1)></body></html>",
    "svg": b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
    "pdf": b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF",
    "zip": _zip(),
    "gif": h.save(h.photo_like(16, 16), "GIF"),
    "bmp": h.save(h.photo_like(16, 16), "BMP"),
    "tiff": h.save(h.photo_like(16, 16), "TIFF"),
    "tiff-with-jpeg": h.save(h.photo_like(16, 16), "TIFF", compression="jpeg"),
    "ico": h.save(h.photo_like(16, 16), "ICO"),
    "jpeg-after-junk": b"JUNK" + h.save(h.photo_like(16, 16), "JPEG"),
}
if features.check("avif"):
    NOT_ACCEPTED["avif"] = h.save(h.photo_like(16, 16), "AVIF")


@pytest.mark.parametrize("name", sorted(NOT_ACCEPTED))
def test_not_an_accepted_image_is_415(name):
    rejected = _rejected(NOT_ACCEPTED[name])
    assert (rejected.status, rejected.slug) == (415, "unsupported-image-type")


def _half(data: bytes) -> bytes:
    return data[: len(data) // 2]


TRUNCATED = {
    "jpeg": _half(h.save(h.photo_like(200, 150), "JPEG")),
    "progressive-jpeg": _half(h.save(h.photo_like(200, 150), "JPEG", progressive=True)),
    "png": _half(h.save(h.photo_like(200, 150), "PNG")),
    "webp": _half(h.save(h.photo_like(200, 150), "WEBP")),
    "heic": _half(h.save(h.photo_like(200, 150), "HEIF")),
    "jpeg-magic-only": b"\xff\xd8\xff",
    "jpeg-magic-then-garbage": b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4,
    "png-magic-only": b"\x89PNG\r\n\x1a\n",
}


@pytest.mark.parametrize("name", sorted(TRUNCATED))
def test_truncated_or_corrupt_image_is_422(name):
    rejected = _rejected(TRUNCATED[name])
    assert (rejected.status, rejected.slug) == (422, "corrupt-image")


def test_too_many_bytes_is_413_before_anything_else():
    rejected = _rejected(b"\x00" * (15 * 1024 * 1024 + 1))  # zeros would be a 415 if the size were not first
    assert (rejected.status, rejected.slug) == (413, "photo-too-large")
    data = h.save(h.photo_like(200, 150), "JPEG")
    assert _rejected(data, PhotoLimits(max_bytes=len(data) - 1)).slug == "photo-too-large"
    assert process_photo(data, PhotoLimits(max_bytes=len(data))).source_format == "JPEG"


def test_batch_limits():
    limits = PhotoLimits(max_photos=2, max_request_bytes=100, max_bytes=60)
    check_batch([50, 50], limits)
    with pytest.raises(PhotoRejected) as info:
        check_batch([1, 1, 1], limits)
    assert (info.value.status, info.value.slug) == (413, "too-many-photos")
    with pytest.raises(PhotoRejected) as info:
        check_batch([60, 41], limits)
    assert (info.value.status, info.value.slug) == (413, "request-too-large")


def test_rejection_renders_as_problem_json():
    app = Flask(__name__)
    register_error_handlers(app)

    @app.post("/photos")
    def upload():
        try:
            process_photo(b"GIF89a not really")
        except PhotoRejected as rejected:
            raise rejected.to_problem() from None

    response = app.test_client().post("/photos")
    assert response.status_code == 415 and response.mimetype == PROBLEM_MIME
    body = response.get_json()
    assert body["type"] == "/problems/unsupported-image-type" and body["status"] == 415
    assert body["title"] == "Unsupported image type" and "JPEG" in body["detail"]


# --- HEIC -----------------------------------------------------------------------------------------------------


def test_heic_becomes_jpeg_without_metadata():
    data = h.heic_with_everything()
    assert data[4:12] == b"ftypheic"
    photo = process_photo(data)
    assert photo.source_format == "HEIF" and photo.mime == "image/jpeg"
    out = Image.open(io.BytesIO(photo.data))
    assert out.format == "JPEG" and out.mode == "RGB" and out.size == (240, 180)
    assert not {"exif", "xmp", "icc_profile"} & set(out.info)
    assert photo.exif.lat == pytest.approx(h.LAT, abs=1e-6)
    assert photo.exif.taken_at is not None


def test_heic_with_alpha_is_flattened_onto_white():
    img = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    img.paste((*RED, 255), (0, 0, 32, 64))
    photo = process_photo(h.save(img, "HEIF", quality=90))
    out = Image.open(io.BytesIO(photo.data)).convert("RGB")
    assert _near(out.getpixel((8, 32)), RED) and _near(out.getpixel((56, 32)), (255, 255, 255))


# --- orientation ----------------------------------------------------------------------------------------------


def _corner_card(width=400, height=200) -> Image.Image:
    img = Image.new("RGB", (width, height), BLUE)
    img.paste(RED, (0, 0, 60, 60))  # red in the top-left corner
    return img


def test_orientation_6_turns_landscape_into_portrait():
    data = h.save(_corner_card(), "JPEG", quality=95, exif=h.exif_bytes(orientation=6))
    photo = process_photo(data)
    assert (photo.width, photo.height) == (200, 400)
    out = Image.open(io.BytesIO(photo.data))
    assert out.size == (200, 400)
    # Orientation 6 = "rotate 90 degrees clockwise to display": the top-left corner goes to the top-right.
    assert _near(out.getpixel((200 - 20, 20)), RED)
    assert _near(out.getpixel((20, 20)), BLUE) and _near(out.getpixel((20, 400 - 20)), BLUE)
    thumb = Image.open(io.BytesIO(photo.thumb))
    assert thumb.size == (160, 320) and _near(thumb.getpixel((160 - 8, 8)), RED)


@pytest.mark.parametrize("value", range(1, 9))
def test_every_orientation_matches_pillow_exif_transpose(value):
    card = _corner_card()
    data = h.save(card, "PNG", exif=h.exif_bytes(orientation=value))
    expected = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))  # reference implementation
    photo = process_photo(data)
    out = Image.open(io.BytesIO(photo.data)).convert("RGB")
    assert out.size == expected.size
    assert out.tobytes() == expected.convert("RGB").tobytes()
    assert (value in (5, 6, 7, 8)) == (out.size == (200, 400))


def test_heic_orientation_is_applied_once():
    data = h.save(_corner_card(), "HEIF", quality=90, exif=h.exif_bytes(orientation=6))
    photo = process_photo(data)
    out = Image.open(io.BytesIO(photo.data))
    assert out.size == (200, 400)
    assert _near(out.getpixel((200 - 20, 20)), RED) and _near(out.getpixel((20, 20)), BLUE)


# --- colour and modes -----------------------------------------------------------------------------------------


def test_wide_gamut_icc_is_converted_to_srgb_and_dropped():
    icc = h.rgb_icc()
    source = Image.new("RGB", (32, 32), (200, 100, 50))
    photo = process_photo(h.save(source, "PNG", icc_profile=icc))
    out = Image.open(io.BytesIO(photo.data))
    assert "icc_profile" not in out.info and b"iCCP" not in photo.data
    expected = ImageCms.profileToProfile(
        source, ImageCms.ImageCmsProfile(io.BytesIO(icc)), ImageCms.createProfile("sRGB")
    )
    got, want = out.getpixel((16, 16)), expected.getpixel((16, 16))
    assert all(abs(a - b) <= 1 for a, b in zip(got, want, strict=True)), (got, want)
    assert max(abs(a - b) for a, b in zip(got, (200, 100, 50), strict=True)) > 10  # it really changed


def test_srgb_icc_is_dropped_without_changing_pixels():
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    source = Image.new("RGB", (32, 32), (200, 100, 50))
    photo = process_photo(h.save(source, "PNG", icc_profile=srgb))
    out = Image.open(io.BytesIO(photo.data))
    assert "icc_profile" not in out.info and out.getpixel((16, 16)) == (200, 100, 50)


def test_unusable_icc_profile_is_dropped():
    photo = process_photo(h.save(Image.new("RGB", (32, 32), (200, 100, 50)), "PNG", icc_profile=b"not a profile"))
    assert Image.open(io.BytesIO(photo.data)).getpixel((16, 16)) == (200, 100, 50)


def test_cmyk_jpeg_becomes_rgb():
    photo = process_photo(h.save(Image.new("CMYK", (64, 48), (0, 255, 255, 0)), "JPEG"))
    out = Image.open(io.BytesIO(photo.data))
    assert out.mode == "RGB" and _near(out.getpixel((32, 24)), (255, 0, 0))


def test_greyscale_jpeg_becomes_rgb_jpeg():
    photo = process_photo(h.save(h.photo_like(64, 48).convert("L"), "JPEG"))
    assert Image.open(io.BytesIO(photo.data)).mode == "RGB"


def test_png_alpha_is_kept_and_palette_transparency_too():
    rgba = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    rgba.paste((*RED, 255), (0, 0, 32, 64))
    out = Image.open(io.BytesIO(process_photo(h.save(rgba, "PNG")).data))
    assert out.mode == "RGBA" and out.getpixel((56, 32))[3] == 0 and out.getpixel((8, 32)) == (*RED, 255)

    palette = rgba.convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    palette.info["transparency"] = palette.getpixel((56, 32))
    out = Image.open(io.BytesIO(process_photo(h.save(palette, "PNG", transparency=palette.info["transparency"])).data))
    assert out.mode == "RGBA" and out.getpixel((56, 32))[3] == 0 and out.getpixel((8, 32))[3] == 255


def test_la_png_becomes_rgba():
    la = Image.new("LA", (16, 16), (128, 0))
    out = Image.open(io.BytesIO(process_photo(h.save(la, "PNG")).data))
    assert out.mode == "RGBA" and out.getpixel((4, 4)) == (128, 128, 128, 0)


def test_16_bit_greyscale_png_is_scaled_not_clipped():
    img = Image.new("I;16", (16, 16), 40000)
    out = Image.open(io.BytesIO(process_photo(h.save(img, "PNG")).data))
    assert out.mode == "RGB" and out.getpixel((4, 4)) == (155, 155, 155)  # 40000 / 257, not 255


def test_webp_alpha_is_kept():
    rgba = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    rgba.paste((*RED, 255), (0, 0, 32, 64))
    photo = process_photo(h.save(rgba, "WEBP", lossless=True))
    out = Image.open(io.BytesIO(photo.data))
    assert photo.mime == "image/webp" and out.mode == "RGBA" and out.getpixel((56, 32))[3] == 0


# --- sizes and thumbnails -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "thumb_size"),
    [((1000, 500), (320, 160)), ((500, 1000), (160, 320)), ((320, 320), (320, 320)), ((200, 100), (200, 100))],
)
def test_thumbnail_longest_side_is_thumb_px_and_never_upscaled(size, thumb_size):
    photo = process_photo(h.save(h.photo_like(*size), "JPEG"))
    thumb = Image.open(io.BytesIO(photo.thumb))
    assert thumb.format == "JPEG" and thumb.size == thumb_size and thumb.mode == "RGB"
    assert photo.thumb_sha256 == hashlib.sha256(photo.thumb).hexdigest()
    assert photo.sha256 == hashlib.sha256(photo.data).hexdigest()


def test_thumbnail_of_transparent_png_is_jpeg_on_white():
    rgba = Image.new("RGBA", (640, 320), (0, 0, 0, 0))
    rgba.paste((*RED, 255), (0, 0, 320, 320))
    photo = process_photo(h.save(rgba, "PNG"))
    thumb = Image.open(io.BytesIO(photo.thumb))
    assert thumb.format == "JPEG" and thumb.size == (320, 160)
    assert _near(thumb.getpixel((40, 80)), RED) and _near(thumb.getpixel((280, 80)), (255, 255, 255))


def test_thumb_px_is_configurable():
    photo = process_photo(h.save(h.photo_like(400, 300), "JPEG"), PhotoLimits(thumb_px=100))
    assert Image.open(io.BytesIO(photo.thumb)).size == (100, 75)


@pytest.mark.parametrize(
    ("longest", "stored"),
    [
        (500, (400, 200)),  # 1/3 leaves 400, at least 3/4 of 500: an integer reduction
        (700, (600, 300)),  # 1/2 leaves 600 of 700
        (1000, (1000, 500)),  # 1/2 would leave 600, less than 3/4 of 1000: Lanczos to the limit
        (1200, (1200, 600)),  # within the limit: as it is
    ],
)
def test_big_photo_is_downscaled_within_max_stored_px(longest, stored):
    original = h.photo_like(1200, 600)
    photo = process_photo(h.save(original, "PNG"), PhotoLimits(max_stored_px=longest))
    assert (photo.width, photo.height) == stored
    out = Image.open(io.BytesIO(photo.data))
    assert out.size == stored
    expected = original.resize(stored, Image.Resampling.BOX)  # the same picture, scaled
    assert np.abs(np.asarray(out, np.int16) - np.asarray(expected, np.int16)).mean() < 4


def test_big_jpeg_is_decoded_once_at_a_reduced_scale(monkeypatch):
    """A JPEG at least twice the stored size is decoded by libjpeg at 1/2 (or less), not in full."""
    calls = []
    real_draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        result = real_draft(self, mode, size)
        calls.append((size, self.size))
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    arr = np.zeros((900, 1800, 3), np.uint8)
    arr[:, :900] = RED
    arr[:, 900:] = BLUE
    photo = process_photo(h.save(Image.fromarray(arr), "JPEG", quality=90), PhotoLimits(max_stored_px=800))
    assert calls == [((800, 400), (900, 450))]  # asked for 800x400, libjpeg decoded at 1/2
    assert (photo.width, photo.height) == (800, 400)
    out = Image.open(io.BytesIO(photo.data))
    assert _near(out.getpixel((100, 200)), RED) and _near(out.getpixel((700, 200)), BLUE)


@pytest.mark.parametrize("mode", ["P", "1", "I;16", "LA", "CMYK"])
def test_a_big_photo_in_any_mode_is_downscaled_with_its_colours(mode):
    """Palette, 1-bit and 16-bit images cannot be averaged by an integer reduction: they take the other path."""
    arr = np.zeros((600, 1200, 3), np.uint8)
    arr[:, :600] = RED
    arr[:, 600:] = BLUE
    rgb = Image.fromarray(arr)
    if mode == "1":
        source = rgb.convert("L").point(lambda v: 255 if v > 60 else 0).convert("1")
    elif mode == "I;16":
        source = Image.fromarray(np.full((600, 1200), 40000, np.uint16))
    else:
        source = rgb.quantize(4) if mode == "P" else rgb.convert(mode)
    photo = process_photo(h.save(source, "JPEG" if mode == "CMYK" else "PNG"), PhotoLimits(max_stored_px=700))
    assert (photo.width, photo.height) == (600, 300) or max(photo.width, photo.height) == 700
    out = Image.open(io.BytesIO(photo.data)).convert("RGB")
    if mode not in ("1", "I;16"):
        expected = source.convert("RGB")
        assert _near(out.getpixel((50, 100)), expected.getpixel((100, 200)))
        assert _near(out.getpixel((out.width - 50, 100)), expected.getpixel((1100, 200)))


@pytest.mark.parametrize(
    ("source", "longest", "asked", "stored"),
    [
        ((1600, 1200), 820, (800, 600), (800, 600)),  # 1/2 fits and keeps >= 3/4 of the limit: no resize after
        ((1200, 1600), 820, (600, 800), (600, 800)),  # portrait likewise
        ((1601, 1201), 820, (800, 600), (801, 601)),  # libjpeg rounds up: 801 px, still within the limit
        ((1600, 1200), 1100, (1100, 825), (1100, 825)),  # 1/2 would leave 800 (< 3/4 of 1100): full, then resize
        ((3300, 1650), 820, (820, 410), (820, 410)),  # 1/4 leaves 825 > 820, 1/8 too little: 1/4, then resize
        ((1640, 1), 820, (820, 1), (820, 1)),  # a sliver: never asks draft for 0 rows
    ],
)
def test_jpeg_decode_scale_lands_within_the_limit(monkeypatch, source, longest, asked, stored):
    calls = []
    real_draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        calls.append(size)
        return real_draft(self, mode, size)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    photo = process_photo(h.save(h.photo_like(*source), "JPEG"), PhotoLimits(max_stored_px=longest))
    assert calls == [asked]
    assert (photo.width, photo.height) == stored and max(stored) <= longest
    assert Image.open(io.BytesIO(photo.data)).size == stored


def test_small_jpeg_is_not_drafted(monkeypatch):
    calls = []
    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", lambda self, *a: calls.append(a))
    photo = process_photo(h.save(h.photo_like(640, 480), "JPEG"))
    assert calls == [] and (photo.width, photo.height) == (640, 480)


def test_jpeg_written_through_an_in_memory_file_is_the_same_as_through_bytesio(monkeypatch):
    """Both outputs are encoded through a memfd on Linux (so that Pillow releases the GIL); without one, BytesIO."""
    assert hasattr(os, "memfd_create")  # this machine is Linux: the first result below takes the memfd path
    data = h.save(h.photo_like(900, 600), "JPEG")
    through_memfd = process_photo(data)
    monkeypatch.delattr(os, "memfd_create")
    through_bytesio = process_photo(data)
    assert through_memfd.data == through_bytesio.data and through_memfd.thumb == through_bytesio.thumb

    def refused(*_args):
        raise PermissionError(1, "Operation not permitted")  # as a seccomp filter answers

    monkeypatch.setattr(os, "memfd_create", refused, raising=False)
    assert process_photo(data).data == through_bytesio.data
    assert Image.open(io.BytesIO(through_memfd.data)).size == (900, 600)
