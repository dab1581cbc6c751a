"""Generate the ILLUSTRATIVE plant and supplier lists of the Yizhuang demo scenario.

These are not real supplier locations. Plants are placed from public evidence, each row keeping
its evidence point, the evidence, an uncertainty radius and how far it was moved onto the road
data (``evidence_lon``, ``evidence_lat``, ``evidence``, ``uncertainty_m``, ``moved_to_road_m``):

* Beijing Benz (BBAC): street address NOT FOUND (shared/reference/parameters.md §7); the OSM bus
  stops 北京奔驰西 (116.5015 E, 39.7547 N) and 北京奔驰东 (116.5127 E, 39.7472 N) of the shared
  POI layer (Geofabrik ``transport``, 2026-06-07) flank the site: the evidence point is their
  midpoint, ±1 km (the campus spans the two stops).
* Xiaomi EV: the published address is 景盛南四街19号 in the Majuqiao intelligent-manufacturing base
  (§7 row "Xiaomi location and size", conf. L/M), a street absent from the OSM extract: the
  evidence point is the OSM place node 马驹桥镇 (116.5549 E, 39.7483 N), ±3 km (guess: the
  extent of the Majuqiao built-up area).
* One generic plant without evidence.

The road data ends at lat 39.756, south of both car plants: each plant is moved to the nearest
junction of the network (``moved_to_road_m`` says how far), so trips start at the closest
covered road. All rows stay ILLUSTRATIVE.
Suppliers are 200 random junctions of the shared SE-Beijing road layer (seeded), drawn with a
preference for places near the plants, nudged up to ~80 m off the road, with made-up categories,
tiers and daily deliveries.

Run:  PLANNER_DATA_DIR=../shared/data python scripts/make_demo_sites.py
Writes scenarios/data/yizhuang_plants_illustrative.csv and yizhuang_suppliers_illustrative.csv.

The steps are importable (``junctions``, ``demo_plants``, ``demo_suppliers``): the load benchmark
(``benchmarks/bench_load.py``) draws its thousands of suppliers with the same functions.
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
#: metric CRS in which distances and offsets are drawn (UTM 50N)
METRIC_CRS = 32650
#: the road layer inside the shared data folder
ROADS = Path("beijing-se-roads") / "beijing_se_drive_edges_osm2025.gpkg"

#: (id, name, evidence lon, lat, evidence, uncertainty in metres); see the module docstring.
PLANTS = [
    ("P1", "Beijing Benz area (approx.) 北京奔驰（示意）", 116.5071, 39.7510,
     "midpoint of the OSM bus stops 北京奔驰西 (116.5015, 39.7547) and 北京奔驰东 (116.5127, 39.7472); "
     "street address NOT FOUND (parameters.md §7)", 1000),
    ("P2", "Xiaomi EV Majuqiao area (approx.) 小米汽车（示意）", 116.5549, 39.7483,
     "published address 景盛南四街19号, Majuqiao base (parameters.md §7, conf. L/M), street not in the "
     "OSM extract: OSM place node 马驹桥镇", 3000),
    ("P3", "Illustrative plant C 示意工厂C", 116.545, 39.805, "none: a generic illustrative plant", 0),
]
CATEGORIES = ["body", "chassis", "powertrain", "battery", "electronics", "interior", "logistics"]


def roads_path(data_dir=None) -> Path:
    """The shared road layer (``data_dir`` or ``$PLANNER_DATA_DIR``, default ``data/raw``)."""
    data = Path(data_dir) if data_dir is not None else Path(os.environ.get("PLANNER_DATA_DIR", ROOT / "data" / "raw"))
    return data / ROADS


def junctions(roads) -> pd.DataFrame:
    """Junctions of the road layer's giant strongly connected component.

    Parameters
    ----------
    roads : str or Path
        The shared ``beijing_se_drive_edges_osm2025.gpkg`` (layer ``edges``).

    Returns
    -------
    DataFrame
        ``node_id``, ``lon``, ``lat`` (WGS-84), ``x``, ``y`` (metres, EPSG:32650), sorted by
        ``node_id``, index 0..n-1.

    Notes
    -----
    Coordinates come from the edge geometry: the layer's own ``junctions`` table is
    mis-georeferenced (its points sit in a ~5 km box near 116.14–116.19 E, 40.05–40.08 N).
    """
    import shapely

    e = pyogrio.read_dataframe(roads, layer="edges", columns=["from_node", "in_giant_scc"])
    e = e[e.in_giant_scc.astype(bool)]
    start = shapely.get_coordinates(shapely.get_point(e.geometry.values, 0))
    j = pd.DataFrame({"node_id": e.from_node.to_numpy(), "lon": start[:, 0], "lat": start[:, 1]})
    j = j.drop_duplicates("node_id").sort_values("node_id").reset_index(drop=True)
    j["x"], j["y"] = Transformer.from_crs(4326, METRIC_CRS, always_xy=True).transform(j.lon.to_numpy(), j.lat.to_numpy())
    return j


def demo_plants(j: pd.DataFrame) -> pd.DataFrame:
    """The illustrative plants (:data:`PLANTS`), each moved to its nearest junction of ``j``.

    Returns
    -------
    DataFrame
        ``plant_id``, ``name``, ``lon``, ``lat`` (the junction, 6 decimals), ``evidence_lon``,
        ``evidence_lat``, ``evidence``, ``uncertainty_m``, ``moved_to_road_m`` (evidence point to
        junction, metres) and ``note``.
    """
    tr = Transformer.from_crs(4326, METRIC_CRS, always_xy=True)
    ex, ey = np.array([p[2] for p in PLANTS]), np.array([p[3] for p in PLANTS])
    px, py = tr.transform(ex, ey)
    x, y = j.x.to_numpy(), j.y.to_numpy()
    d2 = (x[:, None] - px[None]) ** 2 + (y[:, None] - py[None]) ** 2
    k = np.argmin(d2, axis=0)
    return pd.DataFrame({
        "plant_id": [p[0] for p in PLANTS],
        "name": [p[1] for p in PLANTS],
        "lon": np.round(j.lon.to_numpy()[k], 6),
        "lat": np.round(j.lat.to_numpy()[k], 6),
        "evidence_lon": ex,
        "evidence_lat": ey,
        "evidence": [p[4] for p in PLANTS],
        "uncertainty_m": [p[5] for p in PLANTS],
        "moved_to_road_m": np.round(np.sqrt(d2[k, np.arange(len(PLANTS))])).astype(int),
        "note": "illustrative location",
    })


def demo_suppliers(j: pd.DataFrame, plants: pd.DataFrame, n: int = 200, rng=None) -> pd.DataFrame:
    """``n`` illustrative suppliers at junctions of ``j``, preferring places near the plants.

    Parameters
    ----------
    j : DataFrame
        From :func:`junctions`.
    plants : DataFrame
        From :func:`demo_plants` (``plant_id``, ``lon``, ``lat``).
    n : int
        Number of suppliers (at most ``len(j)``: junctions are drawn without replacement).
    rng : numpy.random.Generator, optional
        Default ``default_rng(SEED)`` (the demo list).

    Returns
    -------
    DataFrame
        ``supplier_id`` (``S001``...), ``name``, ``lon``, ``lat``, ``plants`` (``;``-separated
        ids), ``category``, ``tier``, ``daily_deliveries``, ``note``. The sampling weight of a
        junction decays as ``exp(-d / 8 km)`` with its distance to the nearest plant; each
        supplier is nudged 5–80 m off its junction in a random direction (not out of the
        junctions' bounding box: such a supplier stays on its junction).
    """
    rng = np.random.default_rng(SEED) if rng is None else rng
    tr = Transformer.from_crs(4326, METRIC_CRS, always_xy=True)
    x, y = j.x.to_numpy(), j.y.to_numpy()
    # distance to the nearest plant, km; sampling weight decays with it (most within ~20 km)
    px, py = tr.transform(plants.lon.to_numpy(), plants.lat.to_numpy())
    d = np.sqrt((x[:, None] - px[None]) ** 2 + (y[:, None] - py[None]) ** 2).min(axis=1) / 1000
    w = np.exp(-d / 8.0)
    pick = rng.choice(len(j), size=n, replace=False, p=w / w.sum())
    ang = rng.uniform(0, 2 * np.pi, n)
    off = rng.uniform(5, 80, n)
    sx, sy = x[pick] + off * np.cos(ang), y[pick] + off * np.sin(ang)
    lon, lat = Transformer.from_crs(METRIC_CRS, 4326, always_xy=True).transform(sx, sy)
    # a nudge must not push a supplier out of the road data's box (e.g. south of lat 39.756)
    out = (lon < j.lon.min()) | (lon > j.lon.max()) | (lat < j.lat.min()) | (lat > j.lat.max())
    lon = np.where(out, j.lon.to_numpy()[pick], lon)
    lat = np.where(out, j.lat.to_numpy()[pick], lat)
    n_served = rng.choice([1, 1, 1, 2, 3], n)
    # one draw per supplier, in order: keeps the seeded demo list reproducible
    served = [";".join(sorted(rng.choice(plants.plant_id, k, replace=False))) for k in n_served]
    width = max(3, len(str(n)))
    num = [f"{i:0{width}d}" for i in range(1, n + 1)]
    return pd.DataFrame({
        "supplier_id": [f"S{s}" for s in num],
        "name": [f"Illustrative supplier {s} 示意供应商{s}" for s in num],
        "lon": np.round(lon, 6),
        "lat": np.round(lat, 6),
        "plants": served,
        "category": rng.choice(CATEGORIES, n),
        "tier": rng.choice([1, 1, 2, 2, 3], n),
        "daily_deliveries": np.round(rng.lognormal(1.5, 0.7, n), 1),
        "note": "illustrative",
    })


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]) if argv else ROOT / "scenarios" / "data"
    roads = roads_path()
    if not roads.exists():
        print(f"road layer not found: {roads} (set PLANNER_DATA_DIR)", file=sys.stderr)
        return 2
    j = junctions(roads)
    plants = demo_plants(j)
    suppliers = demo_suppliers(j, plants, 200, np.random.default_rng(SEED))
    out.mkdir(parents=True, exist_ok=True)
    plants.to_csv(out / "yizhuang_plants_illustrative.csv", index=False)
    suppliers.to_csv(out / "yizhuang_suppliers_illustrative.csv", index=False)
    print(f"wrote {len(plants)} plants and {len(suppliers)} suppliers to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
