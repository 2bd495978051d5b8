"""Photos on tips: through the photo pipeline (content-sniffed, EXIF read then stripped), stored by sha256."""

from __future__ import annotations

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
    """Clean and store each photo not already on the tip (same cleaned bytes = same photo). All or nothing."""
    if not blobs:
        return []
    settings = current_app.config["GRID"]
    limits = limits_from_settings(settings)
    existing = set(db.session.scalars(select(TipPhoto.sha256).where(TipPhoto.tip_id == tip.id)))
    try:
        check_batch([len(b) for b in blobs], limits)
        cleaned = [process_photo(blob, limits) for blob in blobs]
    except PhotoRejected as rejected:
        raise rejected.to_problem() from None
    new = {p.sha256 for p in cleaned} - existing
    if len(existing) + len(new) > limits.max_photos:
        raise Problem(413, "too-many-photos", f"A tip may carry at most {limits.max_photos} photos.")
    store = store_from_settings(settings)
    added = []
    for photo in cleaned:
        if photo.sha256 in existing:
            continue
        existing.add(photo.sha256)
        store.put(photo.sha256, photo.data, photo.mime)
        store.put(photo.thumb_sha256, photo.thumb, "image/jpeg")
        added.append(_row(tip, photo, lon, lat))
    db.session.add_all(added)
    db.session.flush()
    return added


def _row(tip: Tip, photo, lon: float, lat: float) -> TipPhoto:
    return TipPhoto(
        tip_id=tip.id,
        sha256=photo.sha256,
        thumb_sha256=photo.thumb_sha256,
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
