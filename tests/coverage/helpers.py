"""Viewers for calling the coverage services directly (the routes build the same from the request)."""

from __future__ import annotations

from server.coverage.services import Viewer
from server.scope import scope_for
from server.tips.visibility import visible_tips


def viewer_for(user) -> Viewer:
    scope = scope_for(user)
    return Viewer(scope, (user.id, scope.everything, scope.prefixes), visible_tips(user, scope))
