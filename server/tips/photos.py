"""Photos on tips: through the photo pipeline (content-sniffed, EXIF read then stripped), stored by sha256."""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app
from sqlalchemy import select

from server.errors import Problem
from server.extensions import db
from server.photos import (
    PhotoRejected,
    check_batch,
    corroboration_distance_m,
    limits_from_settings,
    process_photo,
    store_from_settings,
)
from server.tips.models import Tip, TipPhoto


def attach_photos(tip: Tip, blobs: list[bytes], lon: float, lat: float) -> list[TipPhoto]:
    """Clean and store each photo not already on the tip. All or nothing.

    A photo is already on the tip when the same bytes were sent before (its upload digest), which is known without
    cleaning it again, or when it cleans to the same bytes as one there (rows from before migration 0013, or the same
    picture sent twice as different files). The first holds even if GRID_PHOTO_MAX_STORED_PX or the encoder changed
    between a send and its re-send, when the cleaned bytes would differ."""
    if not blobs:
        return []
    settings = current_app.config["GRID"]
    limits = limits_from_settings(settings)
    on_tip = db.session.execute(select(TipPhoto.sha256, TipPhoto.upload_digest).where(TipPhoto.tip_id == tip.id))
    existing, sent_before = set(), set()
    for sha256, digest in on_tip:
        existing.add(sha256)
        sent_before.add(digest)
    try:
        check_batch([len(b) for b in blobs], limits)
        fresh = _not_sent_before(blobs, sent_before, settings.secret_key)
        cleaned = [(digest, process_photo(blob, limits)) for digest, blob in fresh]
    except PhotoRejected as rejected:
        raise rejected.to_problem() from None
    new = {p.sha256 for _, p in cleaned} - existing
    if len(existing) + len(new) > limits.max_photos:
        raise Problem(413, "too-many-photos", f"A tip may carry at most {limits.max_photos} photos.")
    store = store_from_settings(settings)
    added = []
    for digest, photo in cleaned:
        if photo.sha256 in existing:
            continue
        existing.add(photo.sha256)
        store.put(photo.sha256, photo.data, photo.mime)
        store.put(photo.thumb_sha256, photo.thumb, "image/jpeg")
        added.append(_row(tip, photo, digest, lon, lat))
    db.session.add_all(added)
    db.session.flush()
    return added


def upload_digest(blob: bytes, secret_key: str) -> str:
    """HMAC-SHA256 of a photo's bytes as sent, keyed by the server's secret: it recognises a re-send, but the
    database alone cannot say which tip a copy of the original file (left on the reporter's phone) came with."""
    key = hashlib.sha256(b"tip-photo-upload:" + secret_key.encode()).digest()
    return hmac.new(key, blob, hashlib.sha256).hexdigest()


def _not_sent_before(blobs: list[bytes], sent_before: set, secret_key: str) -> list[tuple[str, bytes]]:
    """(digest, bytes) of each photo whose bytes are not on the tip yet, the first of any sent twice at once."""
    fresh, seen = [], set(sent_before)
    for blob in blobs:
        digest = upload_digest(blob, secret_key)
        if digest not in seen:
            seen.add(digest)
            fresh.append((digest, blob))
    return fresh


def _row(tip: Tip, photo, digest: str, lon: float, lat: float) -> TipPhoto:
    return TipPhoto(
        tip_id=tip.id,
        sha256=photo.sha256,
        thumb_sha256=photo.thumb_sha256,
        upload_digest=digest,
        mime=photo.mime,
        width=photo.width,
        height=photo.height,
        exif_distance_m=corroboration_distance_m(photo.exif, lon, lat),
        exif_taken_at=photo.exif.taken_at,
    )


def photos_of(tip_id: int) -> list[TipPhoto]:
    return list(db.session.scalars(select(TipPhoto).where(TipPhoto.tip_id == tip_id).order_by(TipPhoto.id)))


def photo_bytes(photo: TipPhoto, thumb: bool) -> bytes:
    store = store_from_settings(current_app.config["GRID"])
    return store.get(photo.thumb_sha256 if thumb else photo.sha256)


def visible_photo(user, tip_id: int, photo_id: int) -> TipPhoto:
    """A photo of a tip this account may see; otherwise the one 404."""
    from server.errors import NotFound
    from server.tips.visibility import get_visible_tip

    tip = get_visible_tip(user, tip_id)
    photo = db.session.scalar(select(TipPhoto).where(TipPhoto.id == photo_id, TipPhoto.tip_id == tip.id))
    if photo is None:
        raise NotFound("photo")
    return photo
