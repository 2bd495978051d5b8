"""The seed catalogue of tip categories (线索类别). The catalogue lives in the database (table tip_categories)
so that a county can change it with `flask tips categories load FILE.json`; these are the defaults.

Time limits: `accept_hours` are working hours from dispatch to acceptance (2 for 涉黑涉恶 and 邪教, 8 for the
rest); `resolve_days` are working days to resolution. `conflict` marks a category that by its nature
implicates officials (保护伞): such tips skip the grid chief and the village.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class CategorySeed:
    code: str
    label_zh: str
    label_en: str
    parent_code: str | None = None
    accept_hours: int = 8
    resolve_days: int = 10
    urgent: bool = False
    conflict: bool = False
    sort_order: int = 0

    def as_row(self) -> dict:
        return asdict(self)


def _gang(code: str, zh: str, en: str, order: int, conflict: bool = False) -> CategorySeed:
    return CategorySeed(f"gang.{code}", zh, en, "gang", 2, 10, True, conflict, order)


DEFAULT_CATEGORIES: tuple[CategorySeed, ...] = (
    CategorySeed("gang", "涉黑涉恶", "Organised crime and gangs", None, 2, 10, True, False, 10),
    _gang("village_bully", "村霸", "Village bully", 11),
    _gang("clan_gang", "宗族恶势力", "Clan-based gang", 12),
    _gang("grassroots_capture", "把持基层政权", "Control of grassroots government", 13),
    _gang("forced_contracting", "强揽工程", "Forced contracting of projects", 14),
    _gang("market_bullying", "欺行霸市", "Market bullying", 15),
    _gang("loan_sharking", "高利放贷/暴力讨债", "Loan sharking and violent debt collection", 16),
    _gang("protective_umbrella", "保护伞", "Officials protecting gangs", 17, conflict=True),
    CategorySeed("vice", "黄赌毒", "Pornography, gambling and drugs", None, 8, 10, False, False, 20),
    CategorySeed("vice.gambling", "赌博", "Gambling", "vice", 8, 10, False, False, 21),
    CategorySeed("vice.drugs", "毒品", "Drugs", "vice", 8, 10, False, False, 22),
    CategorySeed("vice.pornography", "色情", "Pornography", "vice", 8, 10, False, False, 23),
    CategorySeed("cult", "邪教", "Cults", None, 2, 10, True, False, 30),
    CategorySeed("other", "其他", "Other", None, 8, 15, False, False, 90),
)
