"""Content-addressed photo storage: a photo is stored under the SHA-256 of its cleaned bytes, once.

Only cleaned bytes (from :func:`server.photos.process_photo`) belong here. The store keeps no MIME type for the
local backend; the caller keeps ``mime`` next to the hash in the database (S3 also gets it as Content-Type).

* :class:`LocalPhotoStore` - files at ``root/ab/cd/<sha256>`` (mode 0600, the app user only), written atomically
  (a temporary file in the same directory, fsync, ``os.replace``), so a reader never sees half a photo and a crash
  leaves at most a ``.tmp-*`` file behind.
* :class:`S3PhotoStore` - any S3-compatible service (AWS, MinIO, Aliyun OSS, Tencent COS) via boto3; key
  ``prefix + sha256``. ``put`` HEADs first so that a photo already stored is not uploaded again, and sends
  Content-MD5 so the server rejects a damaged upload. A missing object only answers 404 (not 403) to HEAD when the
  credentials may ``s3:ListBucket``.

Both verify the SHA-256 of what they are given (``ValueError`` on mismatch) and of what they read back
(``OSError`` if the stored bytes were altered). ``get`` raises ``KeyError`` for a missing photo, and for a string
that is not a SHA-256 at all (so a hash taken from a URL can never address another path); ``exists`` is False then.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Protocol, runtime_checkable

from server.config import INSTANCE_DIR

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
DEFAULT_PHOTO_DIR = INSTANCE_DIR / "photos"


@runtime_checkable
class PhotoStore(Protocol):
    def put(self, sha256: str, data: bytes, mime: str) -> None:
        """Store ``data`` under ``sha256``; idempotent (the same hash is stored once)."""

    def get(self, sha256: str) -> bytes:
        """The stored bytes; KeyError if missing."""

    def exists(self, sha256: str) -> bool: ...


def _valid(sha256: str) -> bool:
    return isinstance(sha256, str) and bool(_SHA256.match(sha256))


def _check_put(sha256: str, data: bytes) -> None:
    if not _valid(sha256):
        raise ValueError(f"{sha256!r} is not a lowercase hex SHA-256")
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise ValueError(f"data does not match its name: SHA-256 is {actual}, not {sha256}")


def _check_read(sha256: str, data: bytes, where: str) -> bytes:
    if hashlib.sha256(data).hexdigest() != sha256:
        raise OSError(f"stored photo {where} is corrupt: its SHA-256 no longer matches")
    return data


class LocalPhotoStore:
    def __init__(self, root: Path | str = DEFAULT_PHOTO_DIR):
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, sha256: str, data: bytes, mime: str) -> None:
        _check_put(sha256, data)
        target = self.path(sha256)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)

    def get(self, sha256: str) -> bytes:
        if not _valid(sha256):
            raise KeyError(sha256)
        target = self.path(sha256)
        try:
            data = target.read_bytes()
        except FileNotFoundError:
            raise KeyError(sha256) from None
        return _check_read(sha256, data, str(target))

    def exists(self, sha256: str) -> bool:
        return _valid(sha256) and self.path(sha256).is_file()


def _fsync_dir(path: Path) -> None:
    """Make the rename durable; best effort (not every filesystem lets a directory be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class S3PhotoStore:
    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "photos/",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        client=None,
    ):
        if not bucket:
            raise ValueError("S3PhotoStore needs a bucket")
        self.bucket, self.prefix = bucket, prefix
        self.client = client or _s3_client(endpoint_url, region, access_key_id, secret_access_key)

    def key(self, sha256: str) -> str:
        return f"{self.prefix}{sha256}"

    def put(self, sha256: str, data: bytes, mime: str) -> None:
        _check_put(sha256, data)
        if self.exists(sha256):
            return
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        self.client.put_object(Bucket=self.bucket, Key=self.key(sha256), Body=data, ContentType=mime, ContentMD5=md5)

    def get(self, sha256: str) -> bytes:
        if not _valid(sha256):
            raise KeyError(sha256)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.key(sha256))
        except self.client.exceptions.NoSuchKey:
            raise KeyError(sha256) from None
        with response["Body"] as body:
            data = body.read()
        return _check_read(sha256, data, f"s3://{self.bucket}/{self.key(sha256)}")

    def exists(self, sha256: str) -> bool:
        if not _valid(sha256):
            return False
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(sha256))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True


def _s3_client(endpoint_url, region, access_key_id, secret_access_key):
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=5,
        read_timeout=30,
        retries={"max_attempts": 3, "mode": "standard"},
        # Path-style URLs work with every S3-compatible server on a custom endpoint; AWS picks its own style.
        s3={"addressing_style": "path" if endpoint_url else "auto"},
        # botocore >= 1.36 adds CRC checksums to every upload, which several S3-compatible services reject;
        # Content-MD5 (sent by put) covers integrity everywhere.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    session = boto3.session.Session()  # a session per store: boto3's default session is not thread-safe
    return session.client(
        "s3",
        endpoint_url=endpoint_url or None,
        region_name=region or None,
        aws_access_key_id=access_key_id or None,
        aws_secret_access_key=secret_access_key or None,
        config=config,
    )


def store_from_settings(settings) -> PhotoStore:
    """GRID_PHOTO_STORE=local (GRID_PHOTO_DIR) or s3 (GRID_S3_*). Empty S3 keys use boto3's usual credential chain.

    Cached: the same configuration gets the same store (and so one boto3 client, which is thread-safe and slow to
    create), so callers may call this on every request.
    """
    return _store(
        settings.photo_store,
        str(settings.photo_dir),
        settings.s3_bucket,
        settings.s3_prefix,
        settings.s3_endpoint_url,
        settings.s3_region,
        settings.s3_access_key_id,
        settings.s3_secret_access_key,
    )


@lru_cache(maxsize=8)
def _store(kind, photo_dir, bucket, prefix, endpoint_url, region, access_key_id, secret_access_key) -> PhotoStore:
    if kind == "s3":
        return S3PhotoStore(
            bucket,
            prefix=prefix,
            endpoint_url=endpoint_url,
            region=region,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
        )
    if kind == "local":
        return LocalPhotoStore(photo_dir)
    raise ValueError(f"GRID_PHOTO_STORE={kind!r} must be local or s3")
