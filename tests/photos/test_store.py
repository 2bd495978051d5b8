"""Photo stores: the local one on a temporary directory, the S3 one against moto's server speaking real S3 over
HTTP on 127.0.0.1 (no other network)."""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from server.config import load_settings
from server.photos import LocalPhotoStore, PhotoStore, S3PhotoStore, process_photo, store_from_settings
from tests.photos import helpers as h

DATA = b"cleaned photo bytes \x00\xff" * 100
SHA = hashlib.sha256(DATA).hexdigest()
NOT_HASHES = ["", "../../etc/passwd", SHA.upper(), SHA[:-1], SHA + "0", "g" * 64, f"{SHA[:10]}/..{SHA[14:]}"]


# --- local ----------------------------------------------------------------------------------------------------


@pytest.fixture
def local(tmp_path) -> LocalPhotoStore:
    return LocalPhotoStore(tmp_path / "photos")


def _leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p.name.startswith(".tmp-")]


def test_local_put_get_exists(local):
    assert isinstance(local, PhotoStore)
    assert not local.exists(SHA)
    local.put(SHA, DATA, "image/jpeg")
    assert local.exists(SHA) and local.get(SHA) == DATA
    path = local.root / SHA[:2] / SHA[2:4] / SHA
    assert path.read_bytes() == DATA
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # photos are readable by the app user only
    with pytest.raises(KeyError):
        local.get(hashlib.sha256(b"other").hexdigest())


def test_local_put_is_idempotent(local, monkeypatch):
    local.put(SHA, DATA, "image/jpeg")
    path = local.path(SHA)
    inode, mtime = path.stat().st_ino, path.stat().st_mtime_ns
    replaced = []
    monkeypatch.setattr(os, "replace", lambda *a: replaced.append(a))
    local.put(SHA, DATA, "image/jpeg")
    assert replaced == [] and path.stat().st_ino == inode and path.stat().st_mtime_ns == mtime
    assert [p for p in local.root.rglob("*") if p.is_file()] == [path]


def test_local_put_is_atomic_when_the_write_fails(local, monkeypatch):
    def crash(src, dst):
        assert Path(src).read_bytes() == DATA and Path(src).parent == Path(dst).parent  # complete temp, same dir
        raise OSError("disk pulled out")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk pulled out"):
        local.put(SHA, DATA, "image/jpeg")
    assert not local.exists(SHA) and _leftovers(local.root) == []


def test_local_concurrent_puts_of_the_same_photo(local):
    barrier = threading.Barrier(8)
    errors = []

    def put():
        barrier.wait()
        try:
            local.put(SHA, DATA, "image/jpeg")
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=put) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and local.get(SHA) == DATA and _leftovers(local.root) == []


def test_local_sha_mismatch_is_rejected_and_nothing_written(local):
    with pytest.raises(ValueError, match="does not match"):
        local.put(SHA, DATA + b"!", "image/jpeg")
    assert not local.root.exists() or list(local.root.rglob("*")) == []


@pytest.mark.parametrize("bad", NOT_HASHES)
def test_local_names_that_are_not_hashes(local, bad):
    with pytest.raises(ValueError):
        local.put(bad, DATA, "image/jpeg")
    with pytest.raises(KeyError):
        local.get(bad)
    assert local.exists(bad) is False


def test_local_detects_a_tampered_file(local):
    local.put(SHA, DATA, "image/jpeg")
    local.path(SHA).write_bytes(b"swapped")
    with pytest.raises(OSError, match="corrupt"):
        local.get(SHA)


def test_a_processed_photo_round_trips(local):
    photo = process_photo(h.jpeg_with_everything())
    local.put(photo.sha256, photo.data, photo.mime)
    local.put(photo.thumb_sha256, photo.thumb, "image/jpeg")
    assert local.get(photo.sha256) == photo.data and local.get(photo.thumb_sha256) == photo.thumb


# --- S3 (moto server on 127.0.0.1) ----------------------------------------------------------------------------

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    assert host == "127.0.0.1"
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_client(s3_endpoint):
    config = Config(s3={"addressing_style": "path"})
    return boto3.session.Session().client("s3", endpoint_url=s3_endpoint, config=config, **CREDENTIALS)


@pytest.fixture
def bucket(s3_client, request) -> str:
    name = "tips-" + hashlib.sha1(request.node.name.encode(), usedforsecurity=False).hexdigest()[:16]
    s3_client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3(s3_endpoint, bucket) -> S3PhotoStore:
    return S3PhotoStore(
        bucket,
        prefix="grid/photos/",
        endpoint_url=s3_endpoint,
        region="us-east-1",
        access_key_id="testing",
        secret_access_key="testing",
    )


def test_s3_put_get_exists(s3, s3_client, bucket):
    assert isinstance(s3, PhotoStore)
    assert not s3.exists(SHA)
    s3.put(SHA, DATA, "image/webp")
    assert s3.exists(SHA) and s3.get(SHA) == DATA
    head = s3_client.head_object(Bucket=bucket, Key="grid/photos/" + SHA)
    assert head["ContentType"] == "image/webp" and head["ContentLength"] == len(DATA)
    keys = [o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["grid/photos/" + SHA]
    with pytest.raises(KeyError):
        s3.get(hashlib.sha256(b"other").hexdigest())


def test_s3_put_is_idempotent(s3):
    calls = []
    s3.client.meta.events.register("before-call.s3.PutObject", lambda **kw: calls.append("put"))
    s3.client.meta.events.register("before-call.s3.HeadObject", lambda **kw: calls.append("head"))
    s3.put(SHA, DATA, "image/jpeg")
    s3.put(SHA, DATA, "image/jpeg")
    assert calls == ["head", "put", "head"]  # the second put found the photo and did not upload it again
    assert s3.get(SHA) == DATA


def test_s3_sha_mismatch_is_rejected_before_upload(s3, s3_client, bucket):
    with pytest.raises(ValueError, match="does not match"):
        s3.put(SHA, DATA + b"!", "image/jpeg")
    assert s3_client.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


@pytest.mark.parametrize("bad", NOT_HASHES[:3])
def test_s3_names_that_are_not_hashes(s3, bad):
    with pytest.raises(ValueError):
        s3.put(bad, DATA, "image/jpeg")
    with pytest.raises(KeyError):
        s3.get(bad)
    assert s3.exists(bad) is False


def test_s3_detects_a_tampered_object(s3, s3_client, bucket):
    s3.put(SHA, DATA, "image/jpeg")
    s3_client.put_object(Bucket=bucket, Key="grid/photos/" + SHA, Body=b"swapped")
    with pytest.raises(OSError, match="corrupt"):
        s3.get(SHA)


def test_s3_missing_bucket_is_an_error_not_a_missing_photo(s3_endpoint):
    store = S3PhotoStore(
        "no-such-bucket", endpoint_url=s3_endpoint, region="us-east-1", access_key_id="k", secret_access_key="s"
    )
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError):
        store.put(SHA, DATA, "image/jpeg")


def test_store_from_settings(monkeypatch, tmp_path, s3_endpoint, bucket):
    monkeypatch.setenv("GRID_ENV", "test")
    monkeypatch.setenv("GRID_PHOTO_STORE", "local")
    monkeypatch.setenv("GRID_PHOTO_DIR", str(tmp_path / "p"))
    store = store_from_settings(load_settings())
    assert isinstance(store, LocalPhotoStore) and store.root == tmp_path / "p"
    assert store_from_settings(load_settings()) is store  # cached per configuration

    for name, value in {
        "PHOTO_STORE": "s3",
        "S3_BUCKET": bucket,
        "S3_ENDPOINT_URL": s3_endpoint,
        "S3_REGION": "us-east-1",
        "S3_PREFIX": "t/",
        "S3_ACCESS_KEY_ID": "testing",
        "S3_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(f"GRID_{name}", value)
    store = store_from_settings(load_settings())
    assert isinstance(store, S3PhotoStore) and store.bucket == bucket and store.prefix == "t/"
    assert store_from_settings(load_settings()) is store  # one boto3 client, not one per request
    store.put(SHA, DATA, "image/png")
    assert store.get(SHA) == DATA and store.client.meta.endpoint_url == s3_endpoint
