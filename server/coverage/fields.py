"""The indicator fields, in output order, with their Chinese and English labels: the one list that the CSV headers,
the map page's legend and selector, the vector-tile attributes and the OGC properties all follow."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    name: str
    zh: str
    en: str
    kind: str  # count | rate (0..1) | number | time | text | index
    choropleth: bool = False  # offered as a colour on the map page
    higher_is_better: bool = True


AREA_FIELDS: tuple[Field, ...] = (
    Field("code", "区划编码", "Area code", "text"),
    Field("name", "名称", "Name", "text"),
    Field("level_zh", "层级", "Level", "text"),
    Field("parent_code", "上级编码", "Parent code", "text"),
)
INDICATOR_FIELDS: tuple[Field, ...] = (
    Field("grids", "网格数", "Grids", "count"),
    Field("households", "住户数", "Households", "count", True),
    Field("households_linked", "党员联户数", "Households linked to a member", "count"),
    Field("link_rate", "联户率", "Share of households linked (primary link)", "rate", True),
    Field("households_visited", "近期走访户数", "Households visited in the window", "count"),
    Field("visit_rate", "走访覆盖率", "Share of households visited in the window", "rate", True),
    Field("patrols", "巡查次数", "Patrols in the window", "count", True),
    Field("patrol_km", "巡查里程(公里)", "Patrol distance (km)", "number", True),
    Field("patrol_hours", "巡查时长(小时)", "Patrol time (hours)", "number", True),
    Field("patrolled_grids", "已巡查网格数", "Grids patrolled in the window", "count"),
    Field("patrolled_grid_rate", "网格巡查覆盖率", "Share of grids patrolled in the window", "rate", True),
    Field("last_patrol_at", "最近巡查时间", "Last patrol (UTC)", "time"),
    Field("tips", "线索数", "Tips", "count"),
    Field("tips_open", "在办线索", "Open tips", "count", True, False),
    Field("tips_overdue", "超期线索", "Overdue tips", "count", True, False),
    Field("tips_due", "应结案数", "Tips due", "count"),
    Field("tips_postponed", "延期数", "Tips postponed", "count"),
    Field("tips_closed_on_time", "按期结案数", "Tips closed on time", "count"),
    Field("on_time_close_rate", "按期结案率", "Closed on time / (due - postponed)", "rate", True),
    Field("tips_accepted", "已受理数", "Tips accepted", "count"),
    Field("tips_accepted_on_time", "按时受理数", "Tips accepted on time", "count"),
    Field("accepted_on_time_rate", "按时受理率", "Share of accepted tips accepted on time", "rate", True),
    Field("overdue_free_rate", "未超期率", "1 - overdue / open", "rate"),
    Field("median_accept_minutes", "受理时长中位数(分钟)", "Median time to accept (minutes)", "number", True, False),
)
INDEX_FIELDS: tuple[Field, ...] = (
    Field("index_zh", "指数", "Index", "text"),
    Field("index_value", "指数值", "Index value (0-100)", "index", True),
    Field("index_class_zh", "红黄灰", "Red / yellow / grey", "text"),
)
ALL_FIELDS = AREA_FIELDS + INDICATOR_FIELDS + INDEX_FIELDS
INDICATOR_NAMES = tuple(f.name for f in INDICATOR_FIELDS)


def definitions() -> list[dict]:
    return [
        {
            "name": f.name,
            "zh": f.zh,
            "en": f.en,
            "kind": f.kind,
            "choropleth": f.choropleth,
            "higher_is_better": f.higher_is_better,
        }
        for f in INDICATOR_FIELDS + INDEX_FIELDS
    ]
