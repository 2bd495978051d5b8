"""Photos sent with tips and visit logs: validation, EXIF facts, metadata stripping, thumbnails and storage.

A pure pipeline (no Flask request objects). Typical use by an intake route::

    limits = limits_from_settings(settings)
    check_batch([len(b) for b in uploads], limits)          # count and total size, 413
    for data in uploads:
        try:
            photo = process_photo(data, limits)               # bytes only: the type comes from the content
        except PhotoRejected as rejected:
            raise rejected.to_problem() from None
        store.put(photo.sha256, photo.data, photo.mime)
        store.put(photo.thumb_sha256, photo.thumb, "image/jpeg")
        distance = corroboration_distance_m(photo.exif, lon_wgs84, lat_wgs84)  # private to the tip's handlers

See :mod:`server.photos.pipeline` for the order of checks and the encoding choices, and
:mod:`server.photos.store` for the storage backends.
"""

from server.photos.exif import ExifFacts
from server.photos.pipeline import (
    DEFAULT_LIMITS,
    CleanPhoto,
    PhotoLimits,
    PhotoRejected,
    check_batch,
    corroboration_distance_m,
    limits_from_settings,
    process_photo,
)
from server.photos.store import LocalPhotoStore, PhotoStore, S3PhotoStore, store_from_settings

__all__ = [
    "DEFAULT_LIMITS",
    "CleanPhoto",
    "ExifFacts",
    "LocalPhotoStore",
    "PhotoLimits",
    "PhotoRejected",
    "PhotoStore",
    "S3PhotoStore",
    "check_batch",
    "corroboration_distance_m",
    "limits_from_settings",
    "process_photo",
    "store_from_settings",
]
