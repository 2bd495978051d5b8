"""Byte-level knowledge of the four accepted containers: sniffing the type from content, and listing the chunks of
an encoded file so that the pipeline can prove (fail closed) that no metadata survived re-encoding.

Sniffing looks only at magic bytes, never at a file name or a declared content type:

* JPEG ``FF D8 FF``; PNG ``89 50 4E 47 0D 0A 1A 0A``; WebP ``RIFF <size> WEBP``;
* HEIF/HEIC: an ISO-BMFF ``ftyp`` box whose major brand is an HEVC brand (heic, heix, heim, heis, hevc, hevx,
  hevm, hevs), or a generic image brand (mif1, msf1, mif2) unless its compatible brands say AVIF without HEVC
  (AVIF is not accepted: pillow-heif 1.x has no AV1 decoder).

Everything else (GIF, BMP, TIFF, SVG/XML, PDF, ZIP, text, empty input) is None.
"""

from __future__ import annotations

import struct

JPEG, PNG, WEBP, HEIF = "JPEG", "PNG", "WEBP", "HEIF"

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_HEVC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
_GENERIC_BRANDS = frozenset({b"mif1", b"msf1", b"mif2"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})

# What our own encoders may write. Anything else in an output file (APPn other than JFIF, COM, tEXt/iTXt/zTXt,
# eXIf, iCCP, tIME, WebP EXIF/XMP/ICCP chunks) means metadata got through.
JPEG_ALLOWED_MARKERS = frozenset({0xE0, 0xDB, 0xC0, 0xC1, 0xC2, 0xC4, 0xDD, 0xDA})
PNG_ALLOWED_CHUNKS = frozenset({"IHDR", "PLTE", "tRNS", "IDAT", "IEND"})
WEBP_ALLOWED_CHUNKS = frozenset({"VP8 ", "VP8L", "VP8X", "ALPH"})
_VP8X_METADATA_FLAGS = 0x20 | 0x08 | 0x04  # ICC, EXIF, XMP


def sniff_format(data: bytes) -> str | None:
    """The container type from the first bytes, or None if it is not one we accept."""
    if data[:3] == b"\xff\xd8\xff":
        return JPEG
    if data[:8] == _PNG_MAGIC:
        return PNG
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if len(data) >= 16 and data[4:8] == b"ftyp":
        box_end = min(int.from_bytes(data[:4], "big"), len(data), 4096)
        major = data[8:12]
        compatible = {data[i : i + 4] for i in range(16, box_end - 3, 4)}
        if major in _HEVC_BRANDS:
            return HEIF
        if major in _GENERIC_BRANDS and (compatible & _HEVC_BRANDS or not compatible & _AVIF_BRANDS):
            return HEIF
    return None


def jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, payload) of the segments before the first scan, SOS included: [(0xE0, b"JFIF\\0..."), ...]."""
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG")
    segments, i = [], 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise ValueError(f"JPEG segment expected at byte {i}")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        segments.append((marker, data[i + 4 : i + 2 + length]))
        if marker == 0xDA:
            break
        i += 2 + length
    return segments


def png_chunks(data: bytes) -> list[str]:
    if data[:8] != _PNG_MAGIC:
        raise ValueError("not a PNG")
    chunks, i = [], 8
    while i + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[i : i + 8])
        chunks.append(kind.decode("latin-1"))
        i += 12 + length
    return chunks


def webp_chunks(data: bytes) -> list[str]:
    """Chunk fourccs; a VP8X chunk that announces ICC/EXIF/XMP is reported as "VP8X+metadata"."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("not a WebP")
    chunks, i = [], 12
    while i + 8 <= len(data):
        kind, length = struct.unpack("<4sI", data[i : i + 8])
        name = kind.decode("latin-1")
        if name == "VP8X" and data[i + 8] & _VP8X_METADATA_FLAGS:
            name = "VP8X+metadata"
        chunks.append(name)
        i += 8 + length + (length & 1)
    return chunks


def metadata_found(data: bytes, fmt: str) -> list[str]:
    """Segments/chunks of an encoded JPEG/PNG/WebP that are not on the allow-list (empty = clean)."""
    if fmt == JPEG:
        bad = []
        for marker, payload in jpeg_segments(data):
            if marker not in JPEG_ALLOWED_MARKERS:
                bad.append(f"0x{marker:02X}")
            elif marker == 0xE0 and not (payload[:5] == b"JFIF\x00" and len(payload) == 14):
                bad.append("APP0 other than a plain JFIF header")  # JFXX thumbnails and the like
        if data[-2:] != b"\xff\xd9":
            bad.append("data after EOI")
        return bad
    if fmt == PNG:
        return [c for c in png_chunks(data) if c not in PNG_ALLOWED_CHUNKS]
    if fmt == WEBP:
        return [c for c in webp_chunks(data) if c not in WEBP_ALLOWED_CHUNKS]
    raise ValueError(f"unknown output format {fmt!r}")
