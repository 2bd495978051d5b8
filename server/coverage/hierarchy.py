"""The area tree of one map generation, loaded once and kept per generation (a generation never changes).

Roll-ups follow `parent_code`, never digit ranges (DOMAIN.md: codes are reissued and villages merge). A code that
is not in the tree (a household or tip routed with an older generation's grid) belongs to the deepest area of the
tree whose code is a prefix of it: area codes extend their parent's code, which is what server.scope relies on too.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sqlalchemy import select

from server.areas.models import LEVEL_LABELS_ZH, LEVELS, Area
from server.extensions import db


@dataclass(frozen=True, slots=True)
class Node:
    code: str
    name: str
    level: str
    parent_code: str | None

    def ref(self) -> dict:
        return {
            "code": self.code,
            "name": self.name,
            "level": self.level,
            "level_zh": LEVEL_LABELS_ZH[self.level],
            "parent_code": self.parent_code,
        }


@dataclass
class Hierarchy:
    generation_id: int
    nodes: dict[str, Node]
    children: dict[str, list[str]] = field(default_factory=dict)
    _owners: dict[str, str | None] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, generation_id: int) -> Hierarchy:
        rows = db.session.execute(
            select(Area.code, Area.name, Area.level, Area.parent_code).where(Area.generation_id == generation_id)
        ).all()
        tree = cls(generation_id, {code: Node(code, name, level, parent) for code, name, level, parent in rows})
        for node in sorted(tree.nodes.values(), key=lambda n: n.code):
            tree.children.setdefault(node.code, [])
            if node.parent_code is not None:
                tree.children.setdefault(node.parent_code, []).append(node.code)
        return tree

    def subtree(self, code: str) -> list[str]:
        """The codes of an area and everything below it, deepest level first (the order roll-ups need)."""
        out, stack = [], [code]
        while stack:
            current = stack.pop()
            out.append(current)
            stack.extend(self.children.get(current, ()))
        return sorted(out, key=lambda c: -LEVELS.index(self.nodes[c].level))

    def chain(self, code: str) -> list[str]:
        """The area and its ancestors, nearest first."""
        out = []
        node = self.nodes.get(code)
        while node is not None:
            out.append(node.code)
            node = self.nodes.get(node.parent_code) if node.parent_code else None
        return out

    def owner(self, code: str | None) -> str | None:
        """The area a row with this grid/area code belongs to: the code itself, else its deepest known prefix."""
        if code is None:
            return None
        if code in self.nodes:
            return code
        if code not in self._owners:
            found = None
            for length in range(len(code) - 1, 0, -1):
                if code[:length] in self.nodes:
                    found = code[:length]
                    break
            self._owners[code] = found
        return self._owners[code]


class HierarchyCache:
    """One Hierarchy per generation id, per app (tests run several apps on several databases in one process)."""

    def __init__(self):
        self._trees: dict[int, Hierarchy] = {}
        self._lock = threading.Lock()

    def get(self, generation_id: int) -> Hierarchy:
        tree = self._trees.get(generation_id)
        if tree is None:
            tree = Hierarchy.load(generation_id)
            with self._lock:
                if len(self._trees) > 4:
                    self._trees.clear()
                self._trees[generation_id] = tree
        return tree
