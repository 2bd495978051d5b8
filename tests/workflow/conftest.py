"""Fixtures for the workflow tests (and the notification tests, which import them)."""

from __future__ import annotations

import pytest


@pytest.fixture
def cast(make_user, demo_areas):
    """Everyone around demo_areas['grid']: its chief and deputy, a neighbour's chief, staff above, a member."""
    g = demo_areas
    return {
        "member": make_user("member", g["grid"], name="举报人乙", phone="13912340000"),
        "chief": make_user("grid_chief", g["village"], grids=[g["grid"]], name="王网格长"),
        "deputy": make_user("grid_chief", g["village"], grids=[g["grid"]], kind="deputy", name="李副网格长"),
        "other_chief": make_user("grid_chief", g["village"], grids=[g["sibling_grid"]], name="赵网格长"),
        "township": make_user("township_staff", g["township"], name="乡镇干部"),
        "township2": make_user("township_staff", g["township"], name="乡镇干部二"),
        "other_township": make_user("township_staff", g["other_township"], name="外乡镇干部"),
        "county": make_user("county_staff", g["county"], name="县级干部"),
        "custodian": make_user("custodian", g["county"], name="纪检员"),
    }


@pytest.fixture
def headers(cast, auth_headers):
    return {name: auth_headers(user) for name, user in cast.items()}
