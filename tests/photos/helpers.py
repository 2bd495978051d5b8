"""Builders for test photos, made with Pillow (and pillow-heif for HEIC) at test time: no binary fixtures.

Every privacy test plants markers in all the places metadata can hide and then proves the markers were really in
the input (a positive control), so a test cannot pass merely because the planting failed.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import ExifTags, Image, PngImagePlugin
from PIL.TiffImagePlugin import IFDRational

MARK_EXIF = "PLANTED-EXIF-7731"
MARK_XMP = "PLANTED-XMP-7731"
MARK_COM = "PLANTED-COM-7731"
MARK_TEXT = "PLANTED-TEXT-7731"
MARK_ZTXT = "PLANTED-ZTXT-7731"
MARK_ICC = "PLANTED-ICC-7731"
MARK_MAKE = "PLANTED-MAKE-7731"
XMP_NS = b"http://ns.adobe.com/xap"

# 31 deg 13' 45.67" N, 121 deg 28' 12.34" E (central Shanghai), as a phone writes it: three rationals each.
LAT_DMS = (IFDRational(31, 1), IFDRational(13, 1), IFDRational(4567, 100))
LON_DMS = (IFDRational(121, 1), IFDRational(28, 1), IFDRational(1234, 100))
LAT = 31 + 13 / 60 + 45.67 / 3600
LON = 121 + 28 / 60 + 12.34 / 3600

XMP_PACKET = (
    b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>"
    b"<rdf:Description xmlns:xmp='http://ns.adobe.com/xap/1.0/' xmp:CreatorTool='" + MARK_XMP.encode() + b"'"
    b" xmlns:exif='http://ns.adobe.com/exif/1.0/' exif:GPSLatitude='31,13.76N'/>"
    b"</rdf:RDF></x:xmpmeta><?xpacket end='w'?>"
)


def photo_like(width: int, height: int, seed: int = 7) -> Image.Image:
    """Smooth gradients plus noise: compresses like a photo, not like a flat test card."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r = 128 + 90 * np.sin(x / (width / 5 + 1)) * np.cos(y / (height / 4 + 1))
    g = 110 + 80 * np.cos((x + y) / (width / 3 + 1))
    b = 100 + 70 * np.sin(np.hypot(x - width / 2, y - height / 2) / (width / 10 + 1))
    arr = np.stack([r, g, b], -1) + rng.normal(0, 8, (height, width, 3)).astype(np.float32)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def exif_bytes(
    *,
    orientation: int | None = None,
    gps: dict | None = None,
    when: str | None = "2026:11:28 14:03:05",
    offset: str | None = "+08:00",
    subsec: str | None = None,
    markers: bool = True,
) -> bytes:
    """An EXIF block as phones write it: IFD0 (orientation, make, model), Exif IFD (time), GPS IFD."""
    exif = Image.Exif()
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if markers:
        exif[ExifTags.Base.ImageDescription] = MARK_EXIF
        exif[ExifTags.Base.Make] = MARK_MAKE
        exif[ExifTags.Base.Model] = "Phone 15 Pro"
        exif[ExifTags.Base.BodySerialNumber] = "SN-0042-" + MARK_EXIF
    sub = {}
    if when is not None:
        sub[ExifTags.Base.DateTimeOriginal] = when
    if offset is not None:
        sub[ExifTags.Base.OffsetTimeOriginal] = offset
    if subsec is not None:
        sub[ExifTags.Base.SubsecTimeOriginal] = subsec
    if markers:
        sub[ExifTags.Base.UserComment] = b"ASCII\x00\x00\x00" + MARK_EXIF.encode()
    if sub:
        exif[ExifTags.IFD.Exif] = sub
    if gps is None:
        gps = {1: "N", 2: LAT_DMS, 3: "E", 4: LON_DMS}
    if gps:
        gps = dict(gps)
        if markers:
            gps[ExifTags.GPS.GPSProcessingMethod] = b"ASCII\x00\x00\x00GPS"
        exif[ExifTags.IFD.GPSInfo] = gps
    return exif.tobytes()


def rgb_icc(description: str = MARK_ICC + " wide-gamut RGB") -> bytes:
    """A minimal ICC v2 RGB display profile (Adobe RGB 1998 primaries adapted to D50, gamma 2.2), built by hand so
    that the tests need no profile file. Its description and device fields carry markers."""

    def s15(v: float) -> bytes:
        return struct.pack(">i", round(v * 65536))

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ \x00\x00\x00\x00" + s15(x) + s15(y) + s15(z)

    ascii_desc = description.encode() + b"\x00"
    desc = b"desc\x00\x00\x00\x00" + struct.pack(">I", len(ascii_desc)) + ascii_desc
    desc += struct.pack(">II", 0, 0) + struct.pack(">HB", 0, 0) + b"\x00" * 67
    curve = b"curv\x00\x00\x00\x00" + struct.pack(">IH", 1, round(2.2 * 256)) + b"\x00\x00"
    tags = [
        (b"desc", desc),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.6097, 0.3111, 0.0195)),
        (b"gXYZ", xyz(0.2053, 0.6257, 0.0609)),
        (b"bXYZ", xyz(0.1492, 0.0632, 0.7446)),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
        (b"cprt", b"text\x00\x00\x00\x00" + MARK_ICC.encode() + b"\x00"),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, blob = b"", b""
    for sig, data in tags:
        while (offset + len(blob)) % 4:
            blob += b"\x00"
        table += sig + struct.pack(">II", offset + len(blob), len(data))
        blob += data
    body = struct.pack(">I", len(tags)) + table + blob
    header = struct.pack(">I", 128 + len(body)) + b"lcms" + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ "
    header += struct.pack(">6H", 2026, 11, 28, 0, 0, 0) + b"acspAPPL" + struct.pack(">I", 0)
    header += b"PLNT" + b"7731" + b"\x00" * 8 + struct.pack(">I", 0) + s15(0.9642) + s15(1.0) + s15(0.8249)
    header += b"lcms" + b"\x00" * 44
    assert len(header) == 128
    return header + body


def save(img: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **params)
    return buf.getvalue()


def jpeg_with_everything(img: Image.Image | None = None, **exif_kwargs) -> bytes:
    img = img or photo_like(480, 360)
    return save(
        img,
        "JPEG",
        quality=92,
        exif=exif_bytes(**exif_kwargs),
        comment=MARK_COM.encode(),
        xmp=XMP_PACKET,
        icc_profile=rgb_icc(),
    )


def png_with_everything(img: Image.Image | None = None) -> bytes:
    img = img or photo_like(240, 180)
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", MARK_TEXT)  # tEXt
    info.add_text("Software", MARK_ZTXT, zip=True)  # zTXt
    info.add_itxt("XML:com.adobe.xmp", XMP_PACKET.decode())  # iTXt, where PNG keeps XMP
    info.add_itxt("Description", MARK_TEXT, lang="zh", tkey="描述")  # iTXt
    return save(img, "PNG", pnginfo=info, exif=exif_bytes(), icc_profile=rgb_icc())


def webp_with_everything(img: Image.Image | None = None) -> bytes:
    img = img or photo_like(240, 180)
    return save(img, "WEBP", quality=90, exif=exif_bytes(), xmp=XMP_PACKET, icc_profile=rgb_icc())


def heic_with_everything(img: Image.Image | None = None, **exif_kwargs) -> bytes:
    import pillow_heif  # noqa: F401 - the pipeline registers the opener/saver; imported for clarity

    img = img or photo_like(240, 180)
    return save(img, "HEIF", quality=85, exif=exif_bytes(**exif_kwargs), xmp=XMP_PACKET, icc_profile=rgb_icc())


def png_claiming(width: int, height: int) -> bytes:
    """A valid 1x1 PNG whose IHDR is patched to claim width x height, with the CRC recomputed."""
    data = bytearray(save(Image.new("RGB", (1, 1), "red"), "PNG"))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def jpeg_claiming(width: int, height: int) -> bytes:
    """A valid 16x16 baseline JPEG whose SOF0 is patched to claim width x height."""
    data = bytearray(save(Image.new("RGB", (16, 16), "red"), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)
