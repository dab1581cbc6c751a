"""Helpers shared by the tests (imported as ``tests._helpers``; fixtures live in conftest.py):
tiny synthetic road networks with known answers, the tiny CLI scenario, the shared data folder."""
from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra
from shapely.geometry import LineString

from planner.errors import PlannerError
from planner.maps.offline import find_chromium

ROOT = Path(__file__).resolve().parents[1]

# Grid origin near Yizhuang; ~111 m per 0.001° of latitude, ~85 m per 0.001° of longitude here.
LON0, LAT0 = 116.50, 39.78


def shared_data_dir() -> Path | None:
    """The shared OSM-derived data folder, or None when absent."""
    env = os.environ.get("PLANNER_DATA_DIR")
    for cand in ([Path(env)] if env else []) + [ROOT.parent / "shared" / "data"]:
        if (cand / "beijing-se-roads").is_dir():
            return cand.resolve()
    return None


def raw_tables(node_xy: dict, arcs: list[tuple], classes=None, speeds=None):
    """Raw road tables from node coordinates (lon, lat) and directed arcs (a, b[, length_m])."""
    nodes = pd.DataFrame(
        {"node_id": list(node_xy), "lon": [p[0] for p in node_xy.values()], "lat": [p[1] for p in node_xy.values()]}
    )
    rows = []
    pairs = {(a[0], a[1]) for a in arcs}
    for i, arc in enumerate(arcs):
        a, b = arc[0], arc[1]
        length = arc[2] if len(arc) > 2 else None
        geom = LineString([node_xy[a], node_xy[b]])
        rows.append(
            {
                "from_node": a,
                "to_node": b,
                "length_m": length,
                "road_class": classes[i] if classes else None,
                "maxspeed_kmh": speeds[i] if speeds else np.nan,
                "name": None,
                "oneway": (b, a) not in pairs,
                "hgv": None,
                "geometry": geom,
            }
        )
    edges = gpd.GeoDataFrame(rows, geometry="geometry", crs=4326)
    if edges["length_m"].isna().any():
        metric = edges.to_crs(32650).length
        edges["length_m"] = edges["length_m"].fillna(metric)
    return nodes, edges


def grid_tables(n: int = 5, step: float = 0.001, two_way: bool = True, length_m: float = 100.0):
    """An n×n grid whose every edge is ``length_m`` long (lengths given, not measured)."""
    xy = {r * n + c: (LON0 + c * step, LAT0 + r * step) for r in range(n) for c in range(n)}
    arcs = []
    for r in range(n):
        for c in range(n):
            i = r * n + c
            if c + 1 < n:
                arcs.append((i, i + 1, length_m))
                if two_way:
                    arcs.append((i + 1, i, length_m))
            if r + 1 < n:
                arcs.append((i, i + n, length_m))
                if two_way:
                    arcs.append((i + n, i, length_m))
    return raw_tables(xy, arcs)


def write_grid_roads(folder, n: int, step: float, length_m: float, max_snap_m: float) -> str:
    """Write :func:`grid_tables` as ``folder/roads.gpkg``; return the scenario's matching
    ``[network]`` section (layer source, column mapping, ``max_snap_m``, ``cache`` folder)."""
    _, edges = grid_tables(n=n, step=step, length_m=length_m)
    edges[["from_node", "to_node", "length_m", "geometry"]].to_file(Path(folder) / "roads.gpkg", layer="edges")
    return f"""
[network]
source = "layer"
path = "roads.gpkg"
max_snap_m = {max_snap_m:g}
cache_dir = "cache"

[network.columns]
from_node = "from_node"
to_node = "to_node"
length = "length_m"
directed = true
"""


SCENARIO = """
[scenario]
name = "tiny"
language = "en"
output = "out/{name}"

[profiles.offpeak]
fallback_kmh = 36
[profiles.peak]
fallback_kmh = 36
factors = { default = 0.5 }

[sites.plants]
path = "plants.csv"
[sites.suppliers]
path = "suppliers.csv"
weight_column = "deliveries"

[coverage]
threshold_min = 1
bands_min = [0.5, 1]
profiles = ["offpeak", "peak"]
isochrone_profiles = ["offpeak"]
speed_scales = [0.5, 1.0]
buffer_m = 20

[maps]
offline = true
"""


def make_scenario(folder: Path, scenario_text: str = SCENARIO) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    network = write_grid_roads(folder, n=6, step=0.001, length_m=100.0, max_snap_m=300)  # 10 s per edge at 36 km/h
    pd.DataFrame({"id": ["P1"], "name": ["Plant one"], "lon": [LON0], "lat": [LAT0]}).to_csv(folder / "plants.csv", index=False)
    pd.DataFrame({
        "id": ["S1", "S2", "S3"],
        "name": ["near", "<script>alert('x')</script>", "far"],
        "lon": [LON0 + 0.002, LON0 + 0.004, LON0 + 0.005],
        "lat": [LAT0 + 0.001, LAT0 + 0.003, LAT0 + 0.005],
        "plants": ["P1", "P1", "P1"],
        "deliveries": [5, 3, 2],
    }).to_csv(folder / "suppliers.csv", index=False)
    path = folder / "scenario.toml"
    path.write_text(scenario_text + network)
    return path


def points_inserted_graph(net, lon, lat, profile: str):
    """networkx graph of ``net`` with every point inserted as a node ``("p", j)`` on its road.

    An independent reference for point-to-point routing: the point's road is found by brute force
    over all edge lines (every edge within 1 mm of the nearest distance: both directions of a
    two-way road, every edge of a junction the point is at), each such edge is split at the
    projected point and the pieces get the edge's time in proportion to their share of the line.
    """
    import networkx as nx
    import shapely
    from pyproj import Transformer

    geoms = np.asarray(net.edges.geometry.to_crs(net.metric_crs).values)
    x, y = Transformer.from_crs(4326, net.metric_crs, always_xy=True).transform(
        np.asarray(lon, float), np.asarray(lat, float))
    u, v, t = net.edges.u.to_numpy(), net.edges.v.to_numpy(), net.times(profile)
    g = nx.MultiDiGraph()
    ok = np.isfinite(t)
    for i in np.flatnonzero(ok):
        g.add_edge(int(u[i]), int(v[i]), key=("e", int(i)), w=float(t[i]))
    on_edge: dict = {}
    for j, (px, py) in enumerate(zip(x, y)):
        p = shapely.Point(px, py)
        d = shapely.distance(geoms, p)
        near = int(np.argmin(d))
        g.add_node(("p", j))
        for i in np.flatnonzero(d <= d[near] + 1e-3):
            if ok[i]:
                on_edge.setdefault(int(i), []).append((geoms[i].project(p, normalized=True), ("p", j)))
    for i, pts in on_edge.items():
        g.remove_edge(int(u[i]), int(v[i]), key=("e", i))
        chain = [(0.0, int(u[i]))] + sorted(pts) + [(1.0, int(v[i]))]
        for (f1, a), (f2, b) in zip(chain[:-1], chain[1:]):
            g.add_edge(a, b, w=(f2 - f1) * float(t[i]))
    return g


def inserted_point_times(net, lon, lat, profile: str) -> np.ndarray:
    """Seconds between every pair of points (rows → columns; ``inf`` when unreachable), by networkx
    Dijkstra on :func:`points_inserted_graph` — the brute-force reference for point routing."""
    import networkx as nx

    g = points_inserted_graph(net, lon, lat, profile)
    out = np.full((len(lon), len(lon)), np.inf)
    for j in range(len(lon)):
        dist = nx.single_source_dijkstra_path_length(g, ("p", j), weight="w")
        for k in range(len(lon)):
            out[j, k] = dist.get(("p", k), np.inf)
    return out


# ------------------------------------------------------------------ a tiny siting scenario
STEP = 0.001  # grid spacing in degrees; every edge is 100 m = 10 s at 36 km/h

SITING = """
[siting]
budget_wan = 300
time_limit_s = 20
ev_clusters = 6

[siting.candidates.lots]
path = "lots.csv"
kind = "parking"

[siting.candidates.rivals]
path = "rivals.csv"
kind = "rival"
competitor = true

[[siting.ev_demand]]
path = "pois.gpkg"
layer = "pois"
fclass_weights = { mall = 2, cafe = 1 }

[siting.technologies.h2]
demand = "freight"
profile = "offpeak"
capex_wan = 100
radius_min = 0.05                    # 3 s: only stations on a shortest supplier → plant path
{h2_extra}
[siting.technologies.hpc]
demand = "ev"
profile = "offpeak"
capex_wan = 50
radius_min = 0.34                    # 20.4 s: two blocks
{hpc_extra}
"""


def _xy(c, r):
    return LON0 + c * STEP, LAT0 + r * STEP


def _grid_points(cells, **cols):
    lon, lat = zip(*(_xy(c, r) for c, r in cells))
    return pd.DataFrame({**cols, "lon": lon, "lat": lat})


def siting_scenario(folder, h2_extra="", hpc_extra=""):
    """The CLI tests' 6×6 grid (plant P1 at (0,0); suppliers S1 (2,1), S2 (4,3), S3 (5,5)) with
    six parking lots, one competitor station at (5,0) and six EV demand POIs."""
    path = make_scenario(folder, SCENARIO + SITING.replace("{h2_extra}", h2_extra).replace("{hpc_extra}", hpc_extra))
    lots = [(1, 0), (3, 2), (3, 3), (0, 5), (2, 4), (4, 0)]
    _grid_points(lots, id=[f"K{i + 1}" for i in range(len(lots))],
            name=[f"lot {i + 1}" for i in range(len(lots))]).to_csv(folder / "lots.csv", index=False)
    _grid_points([(5, 0)], id=["R1"], name=["rival"]).to_csv(folder / "rivals.csv", index=False)
    pois = [(0, 0), (1, 1), (5, 1), (3, 3), (0, 4), (4, 5)]
    p = _grid_points(pois, osm_id=[str(100 + i) for i in range(len(pois))],
                fclass=["mall", "cafe", "mall", "mall", "cafe", "mall"])
    gpd.GeoDataFrame(p, geometry=gpd.points_from_xy(p.lon, p.lat), crs=4326).to_file(folder / "pois.gpkg", layer="pois")
    return path


def load_siting(path):
    """Scenario, network, plants and suppliers of a scenario file."""
    from planner import pipeline
    from planner.scenario import load_scenario

    sc = load_scenario(path)
    net = pipeline.load_network(sc)
    plants, suppliers = pipeline.load_sites(sc, net)
    return sc, net, plants, suppliers


# ------------------------------------------------------------------ isochrone test networks
B = 20.0  # corridor half-width used in most isochrone tests, metres


def node_times(u, v, te, n, source, direction):
    """Dijkstra node times; "to" runs on the reversed graph."""
    w = np.where(np.isfinite(te), np.maximum(te, 1e-9), 0.0)
    keep = np.isfinite(te)
    a, b = (u, v) if direction == "from" else (v, u)
    g = sp.csr_matrix((w[keep], (a[keep], b[keep])), shape=(n, n))
    return dijkstra(g, indices=source)


def grid_network(n=12, spacing=50.0, seed=0, one_way_share=0.2, closed_share=0.05):
    """Square grid, random speeds, some one-way streets and some closed edges."""
    rng = np.random.default_rng(seed)
    idx = np.arange(n * n).reshape(n, n)
    xy = np.stack(np.meshgrid(np.arange(n) * spacing, np.arange(n) * spacing), -1).reshape(-1, 2)
    a = np.r_[idx[:, :-1].ravel(), idx[:-1, :].ravel()]
    b = np.r_[idx[:, 1:].ravel(), idx[1:, :].ravel()]
    # a gentle bend in every street so geometries have interior vertices
    mid = (xy[a] + xy[b]) / 2 + rng.normal(scale=3.0, size=(len(a), 2))
    fwd = shapely.linestrings(np.stack([xy[a], mid, xy[b]], 1))
    rev = shapely.linestrings(np.stack([xy[b], mid, xy[a]], 1))
    speed = rng.uniform(5.0, 15.0, len(a))                 # m/s
    t = shapely.length(fwd) / speed
    one_way = rng.random(len(a)) < one_way_share
    u = np.r_[a, b[~one_way]]
    v = np.r_[b, a[~one_way]]
    geoms = np.r_[fwd, rev[~one_way]]
    te = np.r_[t, t[~one_way]]
    te[rng.random(len(te)) < closed_share] = np.inf
    return u, v, geoms, te, n * n


def three_sources(seed, direction):
    """A random grid with node times of three sources and three bands, and the common kwargs."""
    u, v, g, te, n = grid_network(seed=seed)
    sources = [0, n // 2 + 5, n - 1]
    times = np.vstack([node_times(u, v, te, n, s, direction) for s in sources])
    kw = dict(direction=direction, source_ids=["a", "b", "c"], buffer_m=B)
    return u, v, g, te, times, [20.0, 45.0, 70.0], kw


# ---------------------------------------------------------------------------------------- browser
def _chromium_or_none() -> str | None:
    try:
        return find_chromium()
    except PlannerError:
        return None


#: Path of the headless Chromium the browser tests drive, or None when it is not installed.
CHROMIUM = _chromium_or_none()


def open_offline(browser, path, width=1400, height=900):
    """Open ``path`` offline; return (context, page, console errors, web requests)."""
    ctx = browser.new_context(viewport={"width": width, "height": height}, offline=True)
    page = ctx.new_page()
    errors, requests = [], []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("request", lambda req: requests.append(req.url)
            if not req.url.startswith(("file:", "data:", "about:")) else None)
    page.goto(path.resolve().as_uri(), wait_until="load")
    # every map fitted to the data (set by the deferred fit, after legend + layer control)
    page.wait_for_function(
        "() => { const c = document.querySelectorAll('.leaflet-container');"
        " return c.length > 0 && [...c].every(e => e.dataset.plannerReady === '1'); }",
        timeout=30_000)
    return ctx, page, errors, requests
