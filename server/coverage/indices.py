"""The three indices (三大指数) and the red/yellow/grey assessment (红黄灰). No public formula exists, so the formula
is data-driven: weights and thresholds are configuration (GRID_INDEX_WEIGHTS, GRID_INDEX_THRESHOLDS), not code.

    index = 100 x sum(w_i x s_i) / sum(w_i)      over the scores s_i (each 0..1) that are DEFINED for the area

A score is undefined when its denominator is 0 (a village with no tip due has no 按期结案率); it then drops out of
both sums, so the index is the weighted mean of what can be measured. No defined score (or only zero weights): no
index, class "none" (无数据). Classes: index >= red -> "red" (红, 先进), >= yellow -> "yellow" (黄), else "grey" (灰).

Default weights (any scale; normalised over the defined scores):
- service (服务指数, townships): link_rate .20, visit_rate .25, patrolled_grid_rate .15, on_time_close_rate .25,
  accepted_on_time_rate .15;
- fortress (堡垒指数, villages): link_rate .25, visit_rate .30, patrolled_grid_rate .20, on_time_close_rate .15,
  overdue_free_rate .10;
- vanguard (先锋指数, members): link_load_rate .30, visit_rate .50, patrol_rate .20.

Area scores (server/coverage/indicators.py computes the counts):
- link_rate: households linked to a member (primary link) / households;
- visit_rate: households visited in the window (default the last GRID_VISIT_TARGET_DAYS = 30 days) / households;
- patrolled_grid_rate: grids with at least one patrol in the window (default 7 days) / grids;
- on_time_close_rate (按期结案率): tips closed on time / (tips due - tips postponed);
- accepted_on_time_rate: tips accepted by their accept deadline / tips accepted;
- overdue_free_rate: 1 - overdue open tips / open tips.
Member scores: link_load_rate = min(households linked / GRID_MEMBER_TARGET_HOUSEHOLDS (11), 1); visit_rate =
the member's linked households visited in the window / households linked; patrol_rate = min(patrol hours in the
patrol window / GRID_MEMBER_TARGET_PATROL_HOURS (2), 1). Tips filed are deliberately NOT part of 先锋指数: counting
tips per member would tie reporters to their tips, which only an audited reveal may do.

GRID_INDEX_WEIGHTS is JSON, or the path of a JSON file, such as {"fortress": {"visit_rate": 2, "link_rate": 1}};
an index it names gets exactly those weights (any scale: they are normalised), the others keep the defaults.
GRID_INDEX_THRESHOLDS is "red,yellow" (default "85,60") or {"red": 85, "yellow": 60}, with 0 <= yellow <= red <= 100.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

INDEX_LABELS_ZH = {"service": "服务指数", "fortress": "堡垒指数", "vanguard": "先锋指数"}
INDEX_FOR_LEVEL = {"township": "service", "village": "fortress"}
AREA_SCORES = (
    "link_rate",
    "visit_rate",
    "patrolled_grid_rate",
    "on_time_close_rate",
    "accepted_on_time_rate",
    "overdue_free_rate",
)
MEMBER_SCORES = ("link_load_rate", "visit_rate", "patrol_rate")
SCORES_OF = {"service": AREA_SCORES, "fortress": AREA_SCORES, "vanguard": MEMBER_SCORES}
DEFAULT_WEIGHTS = {
    "service": {
        "link_rate": 0.20,
        "visit_rate": 0.25,
        "patrolled_grid_rate": 0.15,
        "on_time_close_rate": 0.25,
        "accepted_on_time_rate": 0.15,
    },
    "fortress": {
        "link_rate": 0.25,
        "visit_rate": 0.30,
        "patrolled_grid_rate": 0.20,
        "on_time_close_rate": 0.15,
        "overdue_free_rate": 0.10,
    },
    "vanguard": {"link_load_rate": 0.30, "visit_rate": 0.50, "patrol_rate": 0.20},
}
CLASS_LABELS_ZH = {"red": "红", "yellow": "黄", "grey": "灰", "none": "无数据"}


class IndexConfigError(ValueError):
    """GRID_INDEX_WEIGHTS or GRID_INDEX_THRESHOLDS cannot be used; the message says why."""


@dataclass(frozen=True)
class IndexConfig:
    weights: dict[str, dict[str, float]]
    red: float
    yellow: float

    def classify(self, value: float | None) -> str:
        if value is None:
            return "none"
        if value >= self.red:
            return "red"
        return "yellow" if value >= self.yellow else "grey"

    def compute(self, index: str, scores: dict[str, float | None]) -> float | None:
        """The weighted mean (0..100, one decimal) of the defined scores; None when nothing can be measured."""
        total = weight_sum = 0.0
        for name, weight in self.weights[index].items():
            score = scores.get(name)
            if score is None or weight == 0:
                continue
            total += weight * min(max(score, 0.0), 1.0)
            weight_sum += weight
        return round(100 * total / weight_sum, 1) if weight_sum > 0 else None

    def as_dict(self) -> dict:
        return {
            "formula": "100 x sum(weight x score) / sum(weight), over the scores defined for the area",
            "weights": self.weights,
            "thresholds": {"red": self.red, "yellow": self.yellow},
            "labels_zh": INDEX_LABELS_ZH,
        }


@lru_cache(maxsize=8)
def index_config(weights_raw: str = "", thresholds_raw: str = "85,60") -> IndexConfig:
    red, yellow = _thresholds(thresholds_raw)
    return IndexConfig(_weights(weights_raw), red, yellow)


def _weights(raw: str) -> dict[str, dict[str, float]]:
    weights = {k: dict(v) for k, v in DEFAULT_WEIGHTS.items()}
    raw = raw.strip()
    if not raw:
        return weights
    if not raw.startswith("{"):
        path = Path(raw)
        if not path.is_file():
            raise IndexConfigError(f"GRID_INDEX_WEIGHTS={raw!r} is neither JSON nor the path of a JSON file.")
        raw = path.read_text(encoding="utf-8")
    try:
        given = json.loads(raw)
    except ValueError as error:
        raise IndexConfigError(f"GRID_INDEX_WEIGHTS is not valid JSON: {error}.") from None
    if not isinstance(given, dict):
        raise IndexConfigError('GRID_INDEX_WEIGHTS must be an object such as {"fortress": {"visit_rate": 1}}.')
    for index, values in given.items():
        if index not in SCORES_OF:
            raise IndexConfigError(f"GRID_INDEX_WEIGHTS: unknown index {index!r}; use {', '.join(SCORES_OF)}.")
        if not isinstance(values, dict) or not values:
            raise IndexConfigError(f"GRID_INDEX_WEIGHTS: {index} must map score names to weights.")
        for name, weight in values.items():
            if name not in SCORES_OF[index]:
                raise IndexConfigError(
                    f"GRID_INDEX_WEIGHTS: {index} has no score {name!r}; use {', '.join(SCORES_OF[index])}."
                )
            if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight < 1e6:
                raise IndexConfigError(f"GRID_INDEX_WEIGHTS: {index}.{name} must be a number >= 0.")
        if sum(values.values()) <= 0:
            raise IndexConfigError(f"GRID_INDEX_WEIGHTS: the weights of {index} must not all be 0.")
        weights[index] = {name: float(w) for name, w in values.items()}
    return weights


def _thresholds(raw: str) -> tuple[float, float]:
    raw = raw.strip()
    try:
        if raw.startswith("{"):
            data = json.loads(raw)
            red, yellow = float(data["red"]), float(data["yellow"])
        else:
            red, yellow = (float(v) for v in raw.split(","))
    except (ValueError, KeyError, TypeError):
        raise IndexConfigError(
            f'GRID_INDEX_THRESHOLDS={raw!r} must be "red,yellow" such as "85,60", or {{"red": 85, "yellow": 60}}.'
        ) from None
    if not 0 <= yellow <= red <= 100:
        raise IndexConfigError(f"GRID_INDEX_THRESHOLDS: need 0 <= yellow ({yellow:g}) <= red ({red:g}) <= 100.")
    return red, yellow
