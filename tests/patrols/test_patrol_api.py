"""The patrol API: batches (out of order, retried, conflicting), finish, storage, visibility, grid lists."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from server.patrols.models import Patrol, PatrolBatch
from server.patrols.track import unpack_points, unpack_times
from tests.areas.helpers import assert_problem
from tests.patrols.helpers import T0, find_crossing, walk

PATROLS = "/api/v1/patrols"


@pytest.fixture
def crossing(db_session):
    return find_crossing()


@pytest.fixture
def patroller(make_user, crossing):
    return make_user("member", crossing.a)


def open_patrol(client, headers) -> int:
    response = client.post(PATROLS, json={"note": "夜间巡查"}, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["status_zh"] == "进行中"
    return response.get_json()["id"]


def send(client, headers, patrol_id, seq, points, datum="wgs84"):
    return client.post(
        f"{PATROLS}/{patrol_id}/points", json={"seq": seq, "datum": datum, "points": points}, headers=headers
    )


def test_batches_out_of_order_and_duplicated_then_finish(client, db_session, auth_headers, patroller, crossing):
    headers = auth_headers(patroller)
    pid = open_patrol(client, headers)
    points = walk([(-130, 0), (-80, 50), (-30, 100), (20, 150), (70, 200), (120, 250), (170, 300)], crossing)
    batches = {0: points[:2], 1: points[2:4], 2: points[4:]}
    for seq in (2, 0, 1):
        answer = send(client, headers, pid, seq, batches[seq])
        assert answer.status_code == 200 and answer.get_json()["duplicate"] is False
    retry = send(client, headers, pid, 0, batches[0])
    assert retry.status_code == 200 and retry.get_json() == {
        "patrol_id": pid,
        "seq": 0,
        "points": 2,
        "duplicate": True,
        "points_received": 7,
    }
    assert db_session.scalar(select(func.count()).where(PatrolBatch.patrol_id == pid)) == 3

    finished = client.post(f"{PATROLS}/{pid}/finish", headers=headers)
    assert finished.status_code == 200, finished.get_data(as_text=True)
    result = finished.get_json()
    assert result["status"] == "finished" and result["duration_s"] == 300.0
    assert result["distance_m"] == pytest.approx(300.0, abs=0.5)
    assert [(g["code"], g["seconds"]) for g in result["grids"]] == [(crossing.b, 170.0), (crossing.a, 130.0)]
    assert result["points"] == {
        "received": 7,
        "kept": 7,
        "dropped_inaccurate": 0,
        "dropped_duplicate": 0,
        "dropped_too_fast": 0,
    }
    again = client.post(f"{PATROLS}/{pid}/finish", headers=headers).get_json()
    assert again == result  # finishing twice changes nothing


def test_same_seq_with_other_points_is_a_conflict(client, db_session, auth_headers, patroller, crossing):
    headers = auth_headers(patroller)
    pid = open_patrol(client, headers)
    points = walk([(-130, 0), (-80, 50)], crossing)
    assert send(client, headers, pid, 5, points).status_code == 200
    changed = [list(p) for p in points]
    changed[1][2] += 1
    problem = assert_problem(send(client, headers, pid, 5, changed), 409, "batch-conflict")
    assert "seq" in problem["detail"]
    assert_problem(send(client, headers, pid, 5, points, datum="gcj02"), 409, "batch-conflict")
    stored = db_session.scalar(select(PatrolBatch).where(PatrolBatch.patrol_id == pid))
    assert unpack_points(stored.packed).tolist() == [list(map(float, p)) for p in points]  # the first one, losslessly
    assert stored.point_count == len(points)


def test_after_finish_new_batches_are_refused_but_retries_still_answer(client, auth_headers, patroller, crossing):
    headers = auth_headers(patroller)
    pid = open_patrol(client, headers)
    points = walk([(-130, 0), (-80, 50)], crossing)
    send(client, headers, pid, 0, points)
    client.post(f"{PATROLS}/{pid}/finish", headers=headers)
    assert send(client, headers, pid, 0, points).get_json()["duplicate"] is True
    assert_problem(send(client, headers, pid, 1, points), 409, "patrol-finished")


def test_malformed_points_and_coordinates_are_422(client, auth_headers, patroller, crossing):
    headers = auth_headers(patroller)
    pid = open_patrol(client, headers)
    lon, lat = crossing.at(-50)
    assert_problem(send(client, headers, pid, 0, [[lon, lat]]), 422, "bad-points")
    assert_problem(send(client, headers, pid, 0, [[lon, lat, "noon", 5]]), 422, "bad-points")
    assert_problem(send(client, headers, pid, 0, [[lon, lat, T0, -3]]), 422, "bad-points")
    assert_problem(send(client, headers, pid, 0, [[lat, lon, T0, 5]]), 422, "coordinates-swapped")
    assert_problem(send(client, headers, pid, 0, [[lon, lat, T0, 5]], datum="mars"), 422, "unknown-datum")
    assert send(client, headers, pid, 0, [[lon, lat, T0, None], [lon, lat, T0 + 5]]).status_code == 200


def test_track_is_stored_as_linestrings_with_times(client, db_session, auth_headers, patroller, crossing):
    headers = auth_headers(patroller)
    pid = open_patrol(client, headers)
    points = walk([(-130 + 2 * k, 2 * k) for k in range(150)], crossing)  # 1 m/s, a point every 2 s
    points[40][0] += 0.02  # a GPS outlier
    send(client, headers, pid, 0, points)
    client.post(f"{PATROLS}/{pid}/finish", headers=headers)
    db_session.expire_all()
    patrol = db_session.get(Patrol, pid)
    n_points = func.ST_NumPoints
    kind, srid, n, n_simple = db_session.execute(
        select(
            func.ST_GeometryType(Patrol.track),
            func.ST_SRID(Patrol.track),
            n_points(Patrol.track),
            n_points(Patrol.track_simplified),
        ).where(Patrol.id == pid)
    ).one()
    assert kind.upper().replace("ST_", "") == "LINESTRING" and srid == 4326
    times = unpack_times(patrol.point_times)
    assert n == 149 == patrol.points_kept and len(times) == 149
    assert times == sorted(times) and T0 + 80 not in times
    assert 2 <= n_simple < 10  # a straight walk simplifies to a handful of vertices
    detail = client.get(f"{PATROLS}/{pid}?full=true", headers=headers).get_json()
    assert len(detail["track"]["coordinates"]) == 149 and len(detail["point_times"]) == 149
    simple = client.get(f"{PATROLS}/{pid}", headers=headers).get_json()
    assert len(simple["track"]["coordinates"]) == n_simple and "point_times" not in simple


def test_who_sees_a_patrol_and_the_grid_lists(client, make_user, auth_headers, patroller, crossing):
    headers = auth_headers(patroller)
    pid = open_patrol(client, headers)
    send(client, headers, pid, 0, walk([(-130, 0), (-30, 100), (70, 200), (170, 300)], crossing))
    client.post(f"{PATROLS}/{pid}/finish", headers=headers)

    chief_b = make_user("grid_chief", crossing.b[:12], grids=[crossing.b])
    listed = client.get(f"/api/v1/grids/{crossing.b}/patrols", headers=auth_headers(chief_b)).get_json()
    assert listed["total"] == 1
    item = listed["items"][0]
    assert item["patrol_id"] == pid and item["seconds"] == 170.0 and item["patroller"]["id"] == patroller.id
    assert client.get(f"{PATROLS}/{pid}", headers=auth_headers(chief_b)).status_code == 200  # went through b

    stranger = make_user("member", _far_grid(crossing))
    assert_problem(client.get(f"{PATROLS}/{pid}", headers=auth_headers(stranger)), 404, "not-found")
    assert_problem(client.post(f"{PATROLS}/{pid}/finish", headers=auth_headers(stranger)), 404, "not-found")
    assert_problem(send(client, auth_headers(stranger), pid, 9, []), 404, "not-found")
    mine = client.get("/api/v1/me/patrols", headers=headers).get_json()
    assert [p["id"] for p in mine["items"]] == [pid]
    since = client.get(
        f"/api/v1/grids/{crossing.b}/patrols",
        query_string={"since": "2030-01-01T00:00:00+08:00"},
        headers=auth_headers(chief_b),
    ).get_json()
    assert since["total"] == 0


def _far_grid(crossing) -> str:
    from server.areas.index_cache import current_index

    return next(c for c in current_index().grid_codes if c[:9] != crossing.a[:9] and c[:9] != crossing.b[:9])


def test_only_patrollers_open_patrols(client, make_user, auth_headers):
    assert_problem(client.post(PATROLS, json={}, headers=auth_headers(make_user("custodian"))), 403, "forbidden")
