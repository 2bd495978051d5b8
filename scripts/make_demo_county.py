#!/usr/bin/env python3
"""Generate the demo grid map grid_maps/demo_county.geojson (a fictional county, 330899 衢州示范县).

Everything is built from ONE planar partition, so the four levels tile each other exactly:

1. An irregular county outline (an ellipse modulated by a few harmonics, scaled to about
   35 km x 30 km) centred at lon 118.9, lat 28.9, in a local kilometre frame.
2. Grid seeds by dart throwing (Poisson-disc sampling): at least 0.6 km apart at the county seat,
   1.1 km in the countryside, so urban grids are small and rural ones large.
3. The Voronoi diagram of the seeds is computed from their Delaunay triangulation: every Voronoi
   vertex (a triangle's circumcentre) is computed ONCE, converted to lon/lat and quantised to
   1e-7 degree, and each cell is the ring of its triangles' circumcentres. Neighbouring cells
   therefore share bit-identical vertices. The county is the set of cells whose seed lies inside
   the outline (plus any enclosed cells, so it has no holes).
4. Townships: k-means seeds on the cell centroids, then balanced region growing on the cell
   adjacency graph (the smallest region claims its nearest free neighbouring cell), which keeps
   every township contiguous and gives them similar numbers of grids. Villages are grown the same
   way inside each township.
5. Villages, townships and the county are ``shapely.coverage_union_all`` of their cells, which
   keeps the shared vertices, so the unions are exact. Rings are oriented per RFC 7946.

Deterministic: random.Random(2019); running it twice gives byte-identical output.

    .venv/bin/python scripts/make_demo_county.py [--out grid_maps/demo_county.geojson]
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import random
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import shapely

SEED = 2019
COUNTY_CODE = "330899"
COUNTY_NAME = "衢州示范县"
CENTRE_LON, CENTRE_LAT = 118.9, 28.9
SIZE_KM = (35.0, 30.0)  # outline bounding box, east-west x north-south
TOWN_CENTRE_KM = (-3.0, 2.0)  # the county seat, where grids are small
KM_PER_DEG_LAT = 111.32
KM_PER_DEG_LON = KM_PER_DEG_LAT * math.cos(math.radians(CENTRE_LAT))
QUANTUM = 10_000_000  # 1e-7 degree

N_TOWNSHIPS = 9
GRIDS_PER_VILLAGE = (5, 12)
VILLAGES_PER_TOWNSHIP = (5, 8)

# (code suffix, name) by kind; assigned by distance of the township from the county seat.
STREETS = [("001", "城关街道"), ("002", "南湖街道"), ("003", "新城街道")]
TOWNS = [("101", "白石镇"), ("102", "青溪镇"), ("103", "黄坛镇"), ("104", "梅岭镇")]
XIANG = [("201", "云溪乡"), ("202", "桐坞乡")]

COMMUNITY_STEMS = [
    "府山", "荷花", "白云", "新安", "双港", "南湖", "信安", "花园", "书院", "天宁", "水亭", "坊门",
    "樟树", "雅园", "凤凰", "锦绣", "通衢", "鹿鸣", "杏坛", "紫薇", "文昌", "东岳", "桔海", "礼贤",
]  # fmt: skip
VILLAGE_STEMS = [
    "上方", "下坞", "石门", "大洲", "溪口", "前山", "后溪", "塘边", "高家", "叶家", "毛家", "徐家",
    "郑家", "新塘", "长林", "五圣", "横路", "芳村", "湖山", "岩头", "枫林", "石塘", "马岭", "金竹",
    "青峰", "桐村", "杨林", "茶坪", "坑口", "里源", "外陈", "下张", "上余", "庙前", "竹园", "官庄",
    "杜岭", "柘源", "洋坑", "龙潭", "深坞", "桥头", "田畈", "沙埠", "双溪", "银坑", "岭脚", "东坞",
    "西山", "南坑", "北源", "樟村", "梅林", "松坞", "柏树", "桃源", "杏坑", "李家", "王村", "周家",
    "吴坞", "何家", "汪村", "程家", "姜家", "祝家", "余东", "方村", "凤林", "金星", "联丰", "和平",
]  # fmt: skip


def outline_km(rng: random.Random) -> shapely.Polygon:
    """An irregular, smooth, star-shaped outline with a 35 km x 30 km bounding box, centred on 0."""
    harmonics = [(2, 0.10), (3, 0.09), (4, 0.05), (5, 0.04), (7, 0.025), (11, 0.015)]
    phases = [rng.uniform(0, 2 * math.pi) for _ in harmonics]
    theta = np.linspace(0, 2 * math.pi, 360, endpoint=False)
    rho = 1 + sum(a * np.sin(k * theta + ph) for (k, a), ph in zip(harmonics, phases, strict=True))
    x, y = rho * np.cos(theta), rho * np.sin(theta)
    x = (x - (x.max() + x.min()) / 2) * SIZE_KM[0] / (x.max() - x.min())
    y = (y - (y.max() + y.min()) / 2) * SIZE_KM[1] / (y.max() - y.min())
    return shapely.Polygon(np.column_stack([x, y]))


def spacing_km(x: float, y: float) -> float:
    d = math.hypot(x - TOWN_CENTRE_KM[0], y - TOWN_CENTRE_KM[1])
    return 0.6 + 0.5 * min(1.0, max(0.0, (d - 2.0) / 6.0))


def dart_throw(rng: random.Random, bounds: tuple[float, float, float, float], tries: int) -> np.ndarray:
    """Poisson-disc sampling with a spatially varying minimum distance (simple dart throwing)."""
    x0, y0, x1, y1 = bounds
    cell = 0.7
    buckets: dict[tuple[int, int], list[tuple[float, float]]] = defaultdict(list)
    points: list[tuple[float, float]] = []
    for _ in range(tries):
        x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
        r = spacing_km(x, y)
        bx, by = int(math.floor(x / cell)), int(math.floor(y / cell))
        reach = int(math.ceil(1.25 / cell))
        ok = True
        for i in range(bx - reach, bx + reach + 1):
            for j in range(by - reach, by + reach + 1):
                for px, py in buckets.get((i, j), ()):
                    if (px - x) ** 2 + (py - y) ** 2 < min(r, spacing_km(px, py)) ** 2:
                        ok = False
                        break
                if not ok:
                    break
            if not ok:
                break
        if ok:
            buckets[(bx, by)].append((x, y))
            points.append((x, y))
    return np.array(points)


def circumcentre(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> tuple[float, float]:
    ax, ay = a
    bx, by = b[0] - ax, b[1] - ay
    cx, cy = c[0] - ax, c[1] - ay
    d = 2 * (bx * cy - by * cx)
    ux = (cy * (bx * bx + by * by) - by * (cx * cx + cy * cy)) / d
    uy = (bx * (cx * cx + cy * cy) - cx * (bx * bx + by * by)) / d
    return ax + ux, ay + uy


class Partition:
    """Voronoi cells of the seeds with shared, quantised vertices (lon/lat integers of 1e-7 degree)."""

    def __init__(self, seeds: np.ndarray) -> None:
        self.seeds = seeds
        index = {(float(x), float(y)): i for i, (x, y) in enumerate(seeds.tolist())}
        tris = shapely.get_parts(shapely.delaunay_triangles(shapely.multipoints(seeds)))
        self.vertex_ids: dict[tuple[int, int], int] = {}
        self.vertices: list[tuple[int, int]] = []
        fans: dict[int, list[tuple[float, int]]] = defaultdict(list)
        self.hull_edge: set[int] = set()
        edge_tris: dict[tuple[int, int], list[int]] = defaultdict(list)
        tri_vertex: list[int] = []
        for t, tri in enumerate(tris):
            pts = shapely.get_coordinates(tri)[:3]
            ids = [index[(float(x), float(y))] for x, y in pts.tolist()]
            cx, cy = circumcentre(*seeds[ids])
            q = (
                round((CENTRE_LON + cx / KM_PER_DEG_LON) * QUANTUM),
                round((CENTRE_LAT + cy / KM_PER_DEG_LAT) * QUANTUM),
            )
            v = self.vertex_ids.setdefault(q, len(self.vertices))
            if v == len(self.vertices):
                self.vertices.append(q)
            tri_vertex.append(v)
            for s in ids:
                fans[s].append((math.atan2(cy - seeds[s][1], cx - seeds[s][0]), v))
            for e in ((ids[0], ids[1]), (ids[1], ids[2]), (ids[0], ids[2])):
                edge_tris[(min(e), max(e))].append(t)
        self.neighbours: dict[int, set[int]] = defaultdict(set)
        for (s, u), ts in edge_tris.items():
            if len(ts) == 1:
                self.hull_edge.update((s, u))  # unbounded cells
            elif tri_vertex[ts[0]] != tri_vertex[ts[1]]:  # shared Voronoi edge of non-zero length
                self.neighbours[s].add(u)
                self.neighbours[u].add(s)
        self.rings: dict[int, list[int]] = {}
        for s, fan in fans.items():
            if s in self.hull_edge:
                continue
            ring = [v for _, v in sorted(fan)]
            ring = [v for k, v in enumerate(ring) if v != ring[k - 1]]  # drop repeats (cyclic)
            self.rings[s] = [*ring, ring[0]]

    def polygon(self, s: int) -> shapely.Polygon:
        return shapely.Polygon([(x / QUANTUM, y / QUANTUM) for x, y in (self.vertices[v] for v in self.rings[s])])


def kmeans_seeds(points: np.ndarray, k: int, rng: random.Random, iters: int = 25) -> np.ndarray:
    centres = points[rng.sample(range(len(points)), k)]
    for _ in range(iters):
        label = np.argmin(((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2), axis=1)
        for c in range(k):
            if (label == c).any():
                centres[c] = points[label == c].mean(axis=0)
    return centres


def grow(cells: list[int], starts: list[int], pos: dict[int, np.ndarray], nb: dict[int, set[int]]) -> dict[int, int]:
    """Balanced region growing: the smallest region claims its nearest free neighbour cell."""
    allowed = set(cells)
    owner = {s: r for r, s in enumerate(starts)}
    sizes = [1] * len(starts)
    heaps: list[list[tuple[float, int]]] = [[] for _ in starts]

    def push(r: int, c: int) -> None:
        for n in sorted(nb[c]):
            if n in allowed and n not in owner:
                d = float(np.hypot(*(pos[n] - pos[starts[r]])))
                heapq.heappush(heaps[r], (d, n))

    for r, s in enumerate(starts):
        push(r, s)
    while len(owner) < len(allowed):
        progressed = False
        for r in sorted(range(len(starts)), key=lambda r: (sizes[r], r)):
            while heaps[r] and heaps[r][0][1] in owner:
                heapq.heappop(heaps[r])
            if heaps[r]:
                _, c = heapq.heappop(heaps[r])
                owner[c] = r
                sizes[r] += 1
                push(r, c)
                progressed = True
                break
        if not progressed:
            raise ValueError("cells are not connected")
    return owner


def partition_into(
    cells: list[int], k: int, pos: dict[int, np.ndarray], nb: dict[int, set[int]], rng: random.Random, size_range
) -> list[list[int]]:
    """Split connected ``cells`` into ``k`` contiguous regions whose sizes are within ``size_range``."""
    pts = np.array([pos[c] for c in cells])
    for _ in range(200):
        centres = kmeans_seeds(pts, k, rng)
        starts = []
        for ctr in centres:
            order = np.argsort(((pts - ctr) ** 2).sum(axis=1), kind="stable")
            starts.append(next(cells[i] for i in order if cells[i] not in starts))
        owner = grow(cells, starts, pos, nb)
        regions = [[c for c in cells if owner[c] == r] for r in range(k)]
        if all(size_range[0] <= len(g) <= size_range[1] for g in regions):
            return regions
    raise RuntimeError(f"could not split {len(cells)} cells into {k} regions of size {size_range}")


def rings_of(geom: shapely.Polygon | shapely.MultiPolygon) -> list:
    def ring(coords) -> list[list[float]]:
        return [[round(x, 7), round(y, 7)] for x, y in coords]

    polys = [geom] if geom.geom_type == "Polygon" else list(geom.geoms)
    return [[ring(p.exterior.coords), *(ring(h.coords) for h in p.interiors)] for p in polys]


def feature(code: str, name: str, level: str, parent: str | None, geom) -> str:
    geom = shapely.orient_polygons(geom)  # RFC 7946: exterior counter-clockwise, holes clockwise
    rings = rings_of(geom)
    gtype = "Polygon" if len(rings) == 1 else "MultiPolygon"
    body = {
        "type": "Feature",
        "properties": {"code": code, "name": name, "level": level, "parent_code": parent},
        "geometry": {"type": gtype, "coordinates": rings[0] if gtype == "Polygon" else rings},
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def build() -> tuple[str, dict[str, int]]:
    rng = random.Random(SEED)
    outline = outline_km(rng)
    x0, y0, x1, y1 = outline.bounds
    seeds = dart_throw(rng, (x0 - 4, y0 - 4, x1 + 4, y1 + 4), tries=40_000)
    part = Partition(seeds)
    pos = {i: seeds[i] for i in range(len(seeds))}
    nb = part.neighbours

    # County cells: seeds inside the outline, largest connected component, enclosed holes filled.
    inside = {i for i in part.rings if shapely.contains_xy(outline, *seeds[i])}
    comp: list[set[int]] = []
    seen: set[int] = set()
    for s in sorted(inside):
        if s in seen:
            continue
        stack, group = [s], {s}
        while stack:
            for n in nb[stack.pop()]:
                if n in inside and n not in group:
                    group.add(n)
                    stack.append(n)
        seen |= group
        comp.append(group)
    county_cells = max(comp, key=len)
    outer = {i for i in range(len(seeds)) if i not in county_cells and (i in part.hull_edge or i not in part.rings)}
    stack = list(outer)
    while stack:
        for n in nb[stack.pop()]:
            if n not in county_cells and n not in outer:
                outer.add(n)
                stack.append(n)
    county_cells |= {i for i in part.rings if i not in county_cells and i not in outer}
    cells = sorted(county_cells)

    # Townships: k-means seeds + balanced growth; kind by distance from the county seat.
    lo = N_TOWNSHIPS * VILLAGES_PER_TOWNSHIP[0] * GRIDS_PER_VILLAGE[0]
    if len(cells) < lo:
        raise RuntimeError(f"only {len(cells)} cells")
    townships = partition_into(cells, N_TOWNSHIPS, pos, nb, rng, (30, 80))
    seat = np.array(TOWN_CENTRE_KM)
    townships.sort(key=lambda g: float(np.hypot(*(np.mean([pos[c] for c in g], axis=0) - seat))))
    labels = [*STREETS, *TOWNS, *XIANG]
    kinds = ["街道"] * len(STREETS) + ["镇"] * len(TOWNS) + ["乡"] * len(XIANG)

    community_names = COMMUNITY_STEMS[:]
    village_names = VILLAGE_STEMS[:]
    rng.shuffle(community_names)
    rng.shuffle(village_names)

    county_polys = []
    out_t: list[tuple[str, str, str, object]] = []
    out_v: list[tuple[str, str, str, object]] = []
    out_g: list[tuple[str, str, str, object]] = []
    for (suffix, t_name), kind, t_cells in zip(labels, kinds, townships, strict=True):
        t_code = COUNTY_CODE + suffix
        lo_k, hi_k = VILLAGES_PER_TOWNSHIP
        k = rng.choice([k for k in range(lo_k, hi_k + 1) if 6.5 <= len(t_cells) / k <= 10] or [lo_k])
        villages = partition_into(sorted(t_cells), k, pos, nb, rng, GRIDS_PER_VILLAGE)
        t_centre = np.mean([pos[c] for c in t_cells], axis=0)
        villages.sort(key=lambda g: float(np.hypot(*(np.mean([pos[c] for c in g], axis=0) - t_centre))))
        n_comm = len(villages) if kind == "街道" else (1 if kind == "镇" else 0)
        for vi, v_cells in enumerate(villages):
            if vi < n_comm:
                seq = vi + 1
                stem = t_name[:-1] if (kind == "镇" and vi == 0) else community_names.pop()
                v_name = f"{stem}社区"
            else:
                seq = 201 + vi - n_comm
                v_name = f"{village_names.pop()}村"
            v_code = f"{t_code}{seq:03d}"
            polys = {c: part.polygon(c) for c in v_cells}
            # number grids north-west first
            order = sorted(v_cells, key=lambda c: (-round(pos[c][1], 3), round(pos[c][0], 3)))
            for gi, c in enumerate(order, start=1):
                out_g.append((f"{v_code}{gi:03d}", f"{v_name}第{gi}网格", v_code, polys[c]))
            out_v.append((v_code, v_name, t_code, shapely.coverage_union_all(list(polys.values()))))
        t_geom = shapely.coverage_union_all([part.polygon(c) for c in t_cells])
        out_t.append((t_code, t_name, COUNTY_CODE, t_geom))
        county_polys.extend(part.polygon(c) for c in t_cells)
    county = shapely.coverage_union_all(county_polys)
    if county.geom_type != "Polygon" or len(county.interiors):
        raise RuntimeError("county is not a single polygon without holes")

    lines = [feature(COUNTY_CODE, COUNTY_NAME, "county", None, county)]
    for level, items in (("township", out_t), ("village", out_v), ("grid", out_g)):
        for code, name, parent, geom in sorted(items, key=lambda it: it[0]):
            lines.append(feature(code, name, level, parent, geom))
    counts = {"county": 1, "township": len(out_t), "village": len(out_v), "grid": len(out_g)}
    text = '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"
    return text, counts


def main(argv: list[str] | None = None) -> int:
    default = Path(__file__).resolve().parent.parent / "grid_maps" / "demo_county.geojson"
    parser = argparse.ArgumentParser(description="Generate the demo county grid map (330899 衢州示范县, fictional).")
    parser.add_argument("--out", type=Path, default=default, help=f"output path (default {default})")
    args = parser.parse_args(argv)
    text, counts = build()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(text.encode()) / 1024:.0f} KiB)")
    for level, n in counts.items():
        print(f"  {level:9s} {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
