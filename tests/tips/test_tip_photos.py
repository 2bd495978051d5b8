"""Photos sent with tips, end to end through the API: content-sniffed, cleaned, stored, served only to triagers."""

from __future__ import annotations

import dataclasses
import hashlib
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from server.extensions import db
from server.photos import process_photo
from server.tips import photos as tip_photos
from server.tips.models import Tip, TipPhoto
from server.tips.photos import upload_digest
from tests.areas.helpers import assert_problem
from tests.photos.helpers import (
    MARK_COM,
    MARK_EXIF,
    MARK_XMP,
    XMP_NS,
    jpeg_with_everything,
    png_claiming,
)
from tests.tips.helpers import grid_point, jpeg_bytes, payload, png_bytes, post_tip


@pytest.fixture
def people(make_user, demo_areas):
    return (
        make_user("member", demo_areas["grid"]),
        make_user("grid_chief", demo_areas["village"], grids=[demo_areas["grid"]]),
    )


def test_stored_and_served_photos_carry_no_metadata(app, client, people, auth_headers, demo_areas):
    member, chief = people
    planted = jpeg_with_everything()
    assert MARK_EXIF.encode() in planted and MARK_COM.encode() in planted and XMP_NS in planted
    body = post_tip(
        client, auth_headers(member), payload(*grid_point(demo_areas["grid"])), photos=[("IMG_0001.jpg", planted)]
    ).get_json()
    photo = body["photos"][0]
    served = [client.get(photo[k], headers=auth_headers(chief)).get_data() for k in ("url", "thumb_url")]
    row = db.session.get(TipPhoto, photo["id"])
    root = Path(app.config["GRID"].photo_dir)
    stored = [p.read_bytes() for p in root.rglob("*") if p.is_file() and p.name in (row.sha256, row.thumb_sha256)]
    assert len(stored) == 2
    for blob in served + stored:
        for marker in (MARK_EXIF.encode(), MARK_COM.encode(), MARK_XMP.encode(), XMP_NS, b"Exif", b"GPS"):
            assert marker not in blob
    assert row.exif_distance_m is not None  # kept privately for corroboration...
    assert "exif" not in str(body).lower()  # ...never shown


def test_a_png_named_jpg_is_handled_by_its_content(client, people, auth_headers, demo_areas):
    body = post_tip(
        client, auth_headers(people[0]), payload(*grid_point(demo_areas["grid"])), photos=[("photo.jpg", png_bytes())]
    ).get_json()
    assert body["photos"][0]["mime"] == "image/png"


def test_a_file_that_is_not_an_image_is_415_and_nothing_is_saved(client, people, auth_headers, demo_areas):
    before = db.session.scalar(select(func.count(Tip.id)))
    response = post_tip(
        client,
        auth_headers(people[0]),
        payload(*grid_point(demo_areas["grid"])),
        photos=[("evil.jpg", b"#!/bin/sh\nrm -rf /\n" * 10)],
    )
    assert_problem(response, 415, "unsupported-image-type")
    assert db.session.scalar(select(func.count(Tip.id))) == before


def test_a_header_claiming_20000_by_20000_is_rejected_quickly(client, people, auth_headers, demo_areas):
    started = time.perf_counter()
    response = post_tip(
        client,
        auth_headers(people[0]),
        payload(*grid_point(demo_areas["grid"])),
        photos=[("bomb.png", png_claiming(20000, 20000))],
    )
    assert time.perf_counter() - started < 1.0
    assert_problem(response, 413, "too-many-pixels")


def test_resending_with_one_more_photo_attaches_it_and_changes_nothing_else(client, people, auth_headers, demo_areas):
    key, body = str(uuid.uuid4()), payload(*grid_point(demo_areas["grid"]))
    h = auth_headers(people[0])
    first = post_tip(client, h, body, key=key, photos=[("a.jpg", jpeg_bytes())]).get_json()
    tips_before = db.session.scalar(select(func.count(Tip.id)))
    again = post_tip(
        client, h, body, key=key, photos=[("a.jpg", jpeg_bytes()), ("b.jpg", jpeg_bytes(color=(0, 90, 0)))]
    ).get_json()
    assert again["id"] == first["id"] and len(again["photos"]) == 2
    assert {k: v for k, v in again.items() if k != "photos"} == {k: v for k, v in first.items() if k != "photos"}
    assert db.session.scalar(select(func.count(Tip.id))) == tips_before
    replay = post_tip(client, h, body, key=key).get_json()
    assert replay == again


def test_a_resent_photo_is_known_by_its_bytes_even_when_the_stored_size_changed(
    app, client, people, auth_headers, demo_areas, monkeypatch
):
    """A re-send that crosses a deploy which changed GRID_PHOTO_MAX_STORED_PX (so the photo would clean to other
    bytes) still attaches the photo once, and the photo already there is not cleaned again."""
    key, body, h = str(uuid.uuid4()), payload(*grid_point(demo_areas["grid"])), auth_headers(people[0])
    original = jpeg_bytes()
    first = post_tip(client, h, body, key=key, photos=[("a.jpg", original)]).get_json()
    assert (first["photos"][0]["width"], first["photos"][0]["height"]) == (640, 480)
    monkeypatch.setitem(app.config, "GRID", dataclasses.replace(app.config["GRID"], photo_max_stored_px=320))
    cleaned = []
    monkeypatch.setattr(
        tip_photos, "process_photo", lambda blob, limits: cleaned.append(blob) or process_photo(blob, limits)
    )
    added = jpeg_bytes(color=(0, 90, 0))
    again = post_tip(client, h, body, key=key, photos=[("a.jpg", original), ("b.jpg", added)]).get_json()
    assert cleaned == [added]
    assert [(p["width"], p["height"]) for p in again["photos"]] == [(640, 480), (320, 240)]
    rows = db.session.scalars(select(TipPhoto).where(TipPhoto.tip_id == first["id"]).order_by(TipPhoto.id)).all()
    assert [r.sha256 for r in rows][0] == db.session.get(TipPhoto, first["photos"][0]["id"]).sha256
    secret = app.config["GRID"].secret_key
    assert [r.upload_digest for r in rows] == [upload_digest(original, secret), upload_digest(added, secret)]
    assert rows[0].upload_digest != hashlib.sha256(original).hexdigest()  # keyed: not the file's plain hash


def test_the_same_file_twice_in_one_request_is_attached_once(client, people, auth_headers, demo_areas):
    body = post_tip(
        client,
        auth_headers(people[0]),
        payload(*grid_point(demo_areas["grid"])),
        photos=[("a.jpg", jpeg_bytes()), ("copy of a.jpg", jpeg_bytes())],
    ).get_json()
    assert len(body["photos"]) == 1


def test_too_many_photos_is_413(client, people, auth_headers, demo_areas):
    photos = [(f"{i}.jpg", jpeg_bytes(color=(i * 30, 0, 0))) for i in range(7)]
    response = post_tip(client, auth_headers(people[0]), payload(*grid_point(demo_areas["grid"])), photos=photos)
    assert_problem(response, 413, "too-many-photos")


def test_photos_are_not_served_to_members(client, people, auth_headers, demo_areas):
    member, _ = people
    body = post_tip(
        client, auth_headers(member), payload(*grid_point(demo_areas["grid"])), photos=[("a.jpg", jpeg_bytes())]
    ).get_json()
    assert client.get(body["photos"][0]["url"], headers=auth_headers(member)).status_code == 403
    assert client.get(body["photos"][0]["url"]).status_code == 401
