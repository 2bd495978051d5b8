"""Tip statuses with their Chinese labels (the closed loop of GB/T 30428; the workflow issue adds the moves)."""

STATUS_LABELS_ZH = {
    "submitted": "已上报",
    "dispatched": "已派遣",
    "accepted": "已受理",
    "in_progress": "处置中",
    "resolved": "已办结",
    "closed": "已结案",
    "returned": "已回退",
    "escalated": "已上报上级",
    "referred": "已移送",
    "dismissed": "不予立案",
    "postpone_requested": "延期待批",
    "postponed": "已延期",
    "merged": "已合并",
}
OPEN_STATUSES = frozenset(
    {"submitted", "dispatched", "accepted", "in_progress", "returned", "escalated", "postponed", "postpone_requested"}
)

QUEUE_LABELS_ZH = {
    "grid_chief": "网格长",
    "grid_deputy": "副网格长",
    "township": "乡镇(街道)队列",
    "township_discipline": "乡镇纪检队列",
    "county": "县级队列",
    "county_discipline": "县纪委队列",
}
