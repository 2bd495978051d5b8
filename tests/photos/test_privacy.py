"""Stored photos and thumbnails carry no EXIF, GPS, XMP, comment, text chunk or ICC profile, whatever the input.

Each input has markers planted in every place metadata can hide. The test first proves the markers are in the
input (bytes or what Pillow reads), then scans the stored bytes and the thumbnail for them, walks the container
structure, and re-opens both with Pillow.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from server.photos import containers, process_photo
from tests.photos import helpers as h

BYTE_MARKERS = [
    h.MARK_EXIF.encode(),
    h.MARK_XMP.encode(),
    h.MARK_COM.encode(),
    h.MARK_TEXT.encode(),
    h.MARK_ZTXT.encode(),
    h.MARK_ICC.encode(),
    h.MARK_MAKE.encode(),
    b"Exif",
    b"GPS",
    h.XMP_NS,
    b"ICC_PROFILE",
]
PIL_METADATA_KEYS = {"exif", "xmp", "XML:com.adobe.xmp", "comment", "icc_profile", "Comment", "Software"}


def _jpeg_app_and_com_markers(data: bytes) -> list[int]:
    """Markers before the first scan, walked independently of server.photos.containers."""
    assert data[:2] == b"\xff\xd8"
    i, found = 2, []
    while data[i] == 0xFF and data[i + 1] != 0xDA:
        found.append(data[i + 1])
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return found


def _png_chunk_types(data: bytes) -> set[bytes]:
    i, found = 8, set()
    while i < len(data):
        length = int.from_bytes(data[i : i + 4], "big")
        found.add(data[i + 4 : i + 8])
        i += 12 + length
    return found


def _assert_clean(data: bytes, expected_format: str) -> None:
    for marker in BYTE_MARKERS:
        assert marker not in data, f"{marker!r} survived into the output"
    img = Image.open(io.BytesIO(data))
    assert img.format == expected_format
    img.load()
    assert not PIL_METADATA_KEYS & set(img.info), img.info.keys()
    assert len(img.getexif()) == 0
    if expected_format == "JPEG":
        assert [m for m in _jpeg_app_and_com_markers(data) if 0xE1 <= m <= 0xEF or m == 0xFE] == []
        assert [app for app, _ in img.applist] == ["APP0"]  # the JFIF header only
    elif expected_format == "PNG":
        assert _png_chunk_types(data) <= {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}
        assert img.text == {}
    elif expected_format == "WEBP":
        assert b"EXIF" not in data and b"XMP " not in data and b"ICCP" not in data


def _assert_input_planted(data: bytes, fmt: str) -> None:
    """Positive control: what the test claims to strip really is in the input."""
    for marker in (h.MARK_EXIF.encode(), h.XMP_NS, b"GPS"):
        assert marker in data, f"{marker!r} was not planted"
    assert h.MARK_ICC.encode() in Image.open(io.BytesIO(data)).info["icc_profile"]  # PNG's iCCP is compressed
    if fmt == "JPEG":
        assert h.MARK_COM.encode() in data and b"Exif" in data
    if fmt == "PNG":
        text = Image.open(io.BytesIO(data)).text
        assert text["Comment"] == h.MARK_TEXT and text["Software"] == h.MARK_ZTXT


@pytest.mark.parametrize(
    ("make", "fmt", "out_format", "mime"),
    [
        (h.jpeg_with_everything, "JPEG", "JPEG", "image/jpeg"),
        (h.png_with_everything, "PNG", "PNG", "image/png"),
        (h.webp_with_everything, "WEBP", "WEBP", "image/webp"),
        (h.heic_with_everything, "HEIF", "JPEG", "image/jpeg"),
    ],
)
def test_no_metadata_survives(make, fmt, out_format, mime):
    data = make()
    _assert_input_planted(data, fmt)
    photo = process_photo(data)
    assert photo.source_format == fmt and photo.mime == mime
    _assert_clean(photo.data, out_format)
    _assert_clean(photo.thumb, "JPEG")
    # The facts were read before stripping, so the privacy of the output is not bought by ignoring the input.
    assert photo.exif.lat == pytest.approx(h.LAT, abs=1e-6) and photo.exif.lon == pytest.approx(h.LON, abs=1e-6)


def test_mpo_keeps_only_the_first_image():
    """Phones write MPO: a JPEG followed by more JPEGs (previews, depth maps, the other lens)."""
    first, second = h.photo_like(160, 120, seed=1), h.photo_like(160, 120, seed=2)
    data = h.save(first, "MPO", save_all=True, append_images=[second], exif=h.exif_bytes())
    source = Image.open(io.BytesIO(data))
    assert source.format == "MPO" and source.n_frames == 2
    photo = process_photo(data)
    assert photo.source_format == "JPEG" and photo.mime == "image/jpeg"
    assert photo.data.count(b"\xff\xd8\xff") == 1 and b"MPF" not in photo.data
    out = Image.open(io.BytesIO(photo.data))
    assert out.format == "JPEG" and getattr(out, "n_frames", 1) == 1
    _assert_clean(photo.data, "JPEG")


def test_data_after_the_image_is_not_copied():
    hidden = h.save(h.photo_like(64, 48, seed=3), "JPEG", comment=b"PLANTED-SECOND-IMAGE")
    photo = process_photo(h.jpeg_with_everything() + hidden + b"PLANTED-TRAILER")
    assert b"PLANTED-SECOND-IMAGE" not in photo.data and b"PLANTED-TRAILER" not in photo.data
    assert photo.data.count(b"\xff\xd8") == 1 and photo.data.endswith(b"\xff\xd9")
    _assert_clean(photo.data, "JPEG")


def test_corrupt_exif_block_is_dropped_and_does_not_crash():
    img = h.photo_like(120, 90)
    junk = b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\xff\xff" + b"\xde\xad" * 40 + h.MARK_EXIF.encode()
    data = h.save(img, "JPEG", exif=junk)
    assert h.MARK_EXIF.encode() in data
    photo = process_photo(data)
    assert photo.exif.lon is None and photo.exif.lat is None and photo.exif.taken_at is None
    _assert_clean(photo.data, "JPEG")


def test_container_walk_sees_metadata_in_inputs_and_none_in_outputs():
    for make, fmt, out_fmt in [
        (h.jpeg_with_everything, "JPEG", "JPEG"),
        (h.png_with_everything, "PNG", "PNG"),
        (h.webp_with_everything, "WEBP", "WEBP"),
    ]:
        data = make()
        assert containers.metadata_found(data, fmt) != []
        assert containers.metadata_found(process_photo(data).data, out_fmt) == []


def test_pipeline_fails_closed_if_an_encoder_writes_metadata(monkeypatch):
    """If a future Pillow carried metadata into a saved file, nothing must be returned (hence nothing stored)."""
    real_save = Image.Image.save

    def leaky_save(self, fp, format=None, **params):
        if format == "JPEG":
            params["comment"] = b"LEAK"
        return real_save(self, fp, format, **params)

    monkeypatch.setattr(Image.Image, "save", leaky_save)
    with pytest.raises(RuntimeError, match="metadata survived"):
        process_photo(h.jpeg_with_everything())


def test_stored_jpeg_does_not_carry_the_cameras_quantisation_tables():
    """A camera's quantisation tables name its maker and often its model (a standard forensic check), so copying
    the compressed data through with only the metadata cut out would still say what took the photo: the stored file
    and the thumbnail must carry the encoder's own tables."""
    camera = [[2 + (i % 7) for i in range(64)], [3 + (i % 5) for i in range(64)]]  # no libjpeg quality gives these
    data = h.save(h.photo_like(900, 600), "JPEG", qtables=camera)
    assert [list(table) for table in Image.open(io.BytesIO(data)).quantization.values()] == camera  # planted
    photo = process_photo(data)
    ours = Image.open(io.BytesIO(h.save(h.photo_like(64, 64), "JPEG", quality=85))).quantization
    stored = Image.open(io.BytesIO(photo.data)).quantization
    assert stored == ours
    thumb = Image.open(io.BytesIO(photo.thumb)).quantization
    assert all(list(table) not in camera for table in [*stored.values(), *thumb.values()])
