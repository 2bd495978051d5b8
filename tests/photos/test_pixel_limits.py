"""Decompression bombs: a header that claims too many pixels is rejected from the header, fast, before decoding."""

from __future__ import annotations

import io
import time
import warnings

import pytest
from PIL import Image, ImageFile

from server.config import PHOTO_PIXELS_CEILING
from server.photos import PhotoLimits, PhotoRejected, process_photo
from tests.photos import helpers as h


def _timed_rejection(data: bytes, limits: PhotoLimits | None = None) -> tuple[PhotoRejected, float]:
    started = time.perf_counter()
    with pytest.raises(PhotoRejected) as info:
        process_photo(data, limits or PhotoLimits())
    return info.value, time.perf_counter() - started


@pytest.mark.parametrize("make", [h.png_claiming, h.jpeg_claiming], ids=["png-ihdr", "jpeg-sof"])
def test_header_claiming_20000_by_20000_is_rejected_fast(make):
    data = make(20000, 20000)
    with pytest.MonkeyPatch.context() as patch:  # positive control: the header really claims 20000x20000
        patch.setattr(Image, "MAX_IMAGE_PIXELS", None)
        assert Image.open(io.BytesIO(data)).size == (20000, 20000)
    process_photo(make(1, 1) if make is h.png_claiming else make(16, 16))  # the unpatched image is accepted
    rejected, seconds = _timed_rejection(data)
    print(f"\n{make.__name__}(20000, 20000): rejected in {seconds * 1000:.2f} ms ({len(data)} bytes)")
    assert (rejected.status, rejected.slug) == (413, "too-many-pixels")
    assert seconds < 0.5


@pytest.mark.parametrize("make", [h.png_claiming, h.jpeg_claiming], ids=["png-ihdr", "jpeg-sof"])
def test_explicit_header_check_runs_before_decoding(make, monkeypatch):
    """7000x7000 is under Pillow's backstop, so only our check can stop it, and it must do so without decoding."""
    decoded = []

    def no_decoding(self):
        decoded.append(self.size)
        raise AssertionError("pixels were decoded")

    data = make(7000, 7000)
    with monkeypatch.context() as patch:
        patch.setattr(ImageFile.ImageFile, "load", no_decoding)
        rejected, seconds = _timed_rejection(data, PhotoLimits(max_pixels=1_000_000))
    assert decoded == []
    assert (rejected.status, rejected.slug) == (413, "too-many-pixels")
    assert "7000x7000" in rejected.detail
    assert seconds < 0.5
    # Positive control for the spy: with a limit that lets the header through, decoding is attempted.
    with monkeypatch.context() as patch:
        patch.setattr(ImageFile.ImageFile, "load", no_decoding)
        with pytest.raises(AssertionError, match="pixels were decoded"):
            process_photo(data)
    assert decoded == [(7000, 7000) if make is h.png_claiming else (1750, 1750)]  # a JPEG at its 1/4 draft scale


def test_header_lying_about_size_fails_at_decoding():
    """A PNG whose IHDR claims more rows than its data holds is corrupt (422). (libjpeg, by contrast, pads a
    JPEG that ends early with grey and only warns, so such a JPEG is stored with grey rows.)"""
    rejected, _ = _timed_rejection(h.png_claiming(300, 200))
    assert (rejected.status, rejected.slug) == (422, "corrupt-image")


def test_exactly_max_pixels_is_accepted_one_more_is_not():
    data = h.save(h.photo_like(100, 50), "PNG")
    assert process_photo(data, PhotoLimits(max_pixels=5000)).width == 100
    assert _timed_rejection(data, PhotoLimits(max_pixels=4999))[0].slug == "too-many-pixels"


def test_pillow_backstop_is_lowered_at_import():
    assert Image.MAX_IMAGE_PIXELS == PHOTO_PIXELS_CEILING == PhotoLimits().max_pixels
    with pytest.raises(ValueError, match="backstop"):
        PhotoLimits(max_pixels=PHOTO_PIXELS_CEILING + 1)


@pytest.mark.parametrize(
    ("side", "raised_by_pillow"), [(40, "DecompressionBombWarning"), (50, "DecompressionBombError")]
)
def test_pillow_backstop_becomes_the_same_rejection(monkeypatch, side, raised_by_pillow):
    """With the backstop at 1000 pixels, 40x40 (1600) makes Pillow warn and 50x50 (2500 > 2x1000) makes it raise.
    The caller's warning filters ignore the warning, so only the pipeline's local filter can turn it into an
    error; the filters are the same afterwards."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    data = h.save(h.photo_like(side, side), "PNG")
    with warnings.catch_warnings():  # positive control: this is what Pillow itself does with these bytes
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with pytest.raises(getattr(Image, raised_by_pillow)):
            Image.open(io.BytesIO(data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        before = list(warnings.filters)
        rejected, _ = _timed_rejection(data)  # default limits: 50 MP, so the explicit check passes
        assert warnings.filters == before
    assert (rejected.status, rejected.slug) == (413, "too-many-pixels")


def test_global_warning_filters_are_untouched():
    before = list(warnings.filters)
    process_photo(h.save(h.photo_like(32, 32), "JPEG"))
    with pytest.raises(PhotoRejected):
        process_photo(h.png_claiming(20000, 20000))
    assert warnings.filters == before
