"""Generate the ILLUSTRATIVE plant and supplier lists of the Yizhuang demo scenario.

These are not real supplier locations. Plants are placed at network junctions near the publicly
reported areas of the Yizhuang car plants (shared/reference/parameters.md §7: Beijing Benz in
E-Town — street address NOT FOUND, so the point is approximate; Xiaomi EV's Majuqiao base — the
network ends at lat 39.756, so the point is the nearest covered junction) plus one generic plant.
Suppliers are 200 random junctions of the shared SE-Beijing road layer (seeded), drawn with a
preference for places near the plants, nudged up to ~80 m off the road, with made-up categories,
tiers and daily deliveries.

Run:  PLANNER_DATA_DIR=../shared/data python scripts/make_demo_sites.py
Writes scenarios/data/yizhuang_plants_illustrative.csv and yizhuang_suppliers_illustrative.csv.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
from pyproj import Transformer

ROOT = Path(__file__).resolve().parents[1]
SEED = 20281231

#: (id, name, approximate lon, lat) — locations are approximate; see the module docstring.
PLANTS = [
    ("P1", "Beijing Benz area (approx.) 北京奔驰（示意）", 116.512, 39.792),
    ("P2", "Xiaomi EV Majuqiao area (approx.) 小米汽车（示意）", 116.560, 39.770),
    ("P3", "Illustrative plant C 示意工厂C", 116.545, 39.805),
]
CATEGORIES = ["body", "chassis", "powertrain", "battery", "electronics", "interior", "logistics"]


def main() -> int:
    data = Path(os.environ.get("PLANNER_DATA_DIR", ROOT / "data" / "raw"))
    roads = data / "beijing-se-roads" / "beijing_se_drive_edges_osm2025.gpkg"
    if not roads.exists():
        print(f"road layer not found: {roads} (set PLANNER_DATA_DIR)", file=sys.stderr)
        return 2
    # junction coordinates come from the edge geometry: the layer's own `junctions` table is
    # mis-georeferenced (its points sit in a ~5 km box near 116.14–116.19 E, 40.05–40.08 N)
    import shapely

    e = pyogrio.read_dataframe(roads, layer="edges", columns=["from_node", "in_giant_scc"])
    e = e[e.in_giant_scc.astype(bool)]
    start = shapely.get_coordinates(shapely.get_point(e.geometry.values, 0))
    j = pd.DataFrame({"node_id": e.from_node.to_numpy(), "lon": start[:, 0], "lat": start[:, 1]})
    j = j.drop_duplicates("node_id").sort_values("node_id").reset_index(drop=True)
    tr = Transformer.from_crs(4326, 32650, always_xy=True)
    x, y = tr.transform(j.lon.to_numpy(), j.lat.to_numpy())
    rng = np.random.default_rng(SEED)

    plants = []
    for pid, name, lon, lat in PLANTS:
        px, py = tr.transform(lon, lat)
        k = int(np.argmin((x - px) ** 2 + (y - py) ** 2))
        plants.append({"plant_id": pid, "name": name, "lon": round(j.lon[k], 6), "lat": round(j.lat[k], 6),
                       "note": "illustrative location"})
    plants = pd.DataFrame(plants)

    # distance to the nearest plant, km; sampling weight decays with it (most within ~20 km)
    px, py = tr.transform(plants.lon.to_numpy(), plants.lat.to_numpy())
    d = np.sqrt((x[:, None] - px[None]) ** 2 + (y[:, None] - py[None]) ** 2).min(axis=1) / 1000
    w = np.exp(-d / 8.0)
    pick = rng.choice(len(j), size=200, replace=False, p=w / w.sum())
    ang = rng.uniform(0, 2 * np.pi, 200)
    off = rng.uniform(5, 80, 200)
    sx, sy = x[pick] + off * np.cos(ang), y[pick] + off * np.sin(ang)
    lon, lat = Transformer.from_crs(32650, 4326, always_xy=True).transform(sx, sy)
    n_served = rng.choice([1, 1, 1, 2, 3], 200)
    served = [";".join(sorted(rng.choice(plants.plant_id, k, replace=False))) for k in n_served]
    suppliers = pd.DataFrame({
        "supplier_id": [f"S{i:03d}" for i in range(1, 201)],
        "name": [f"Illustrative supplier {i:03d} 示意供应商{i:03d}" for i in range(1, 201)],
        "lon": np.round(lon, 6),
        "lat": np.round(lat, 6),
        "plants": served,
        "category": rng.choice(CATEGORIES, 200),
        "tier": rng.choice([1, 1, 2, 2, 3], 200),
        "daily_deliveries": np.round(rng.lognormal(1.5, 0.7, 200), 1),
        "note": "illustrative",
    })
    out = ROOT / "scenarios" / "data"
    out.mkdir(parents=True, exist_ok=True)
    plants.to_csv(out / "yizhuang_plants_illustrative.csv", index=False)
    suppliers.to_csv(out / "yizhuang_suppliers_illustrative.csv", index=False)
    print(f"wrote {len(plants)} plants and {len(suppliers)} suppliers to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
