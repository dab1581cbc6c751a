"""Proportionate outputs: the display version of area polygons, the demo fit area and isochrones.

Reached road is cut by :func:`planner.isochrones.reached_pieces` and measured against the
polygons with :func:`planner.isochrones.reached_length_share` (exact clipping); for the demo
isochrones it is also computed without the planner's routing: scipy Dijkstra on the reversed
edge list and shapely substrings of the edge lines.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from shapely.ops import substring

from planner import isochrones
from planner import supply_circle as coverage
from planner.routing import snap, travel_times
from tests._helpers import B, three_sources

ROOT = Path(__file__).resolve().parents[1]


def _holes(polys):
    """Areas of every interior ring."""
    parts = shapely.get_parts(np.asarray(polys, dtype=object))
    rings, owner = shapely.get_rings(parts, return_index=True)
    hole = np.r_[False, owner[1:] == owner[:-1]]
    return shapely.area(shapely.polygons(rings[hole]))


def test_display_polygons_by_hand():
    frame = shapely.box(0, 0, 1000, 1000)
    small, large = shapely.box(100, 100, 150, 150), shapely.box(300, 300, 700, 700)
    holed = shapely.Polygon(frame.exterior.coords, [small.exterior.coords, large.exterior.coords])
    sliver = shapely.box(2000, 0, 2010, 10)
    out = isochrones.display_polygons(
        [shapely.MultiPolygon([holed, sliver]), shapely.Polygon(), shapely.box(5e3, 0, 5100, 100)],
        buffer_m=60.0)
    assert len(out) == 3
    # the 0.25 ha hole is filled, the 16 ha one kept; the 100 m2 sliver is gone
    assert out[0].equals(shapely.difference(frame, large))
    assert out[1].is_empty
    assert out[2].equals(shapely.box(5e3, 0, 5100, 100))  # 1 ha >= buffer**2: kept


@pytest.mark.parametrize("seed,direction", [(0, "from"), (1, "to")])
def test_display_version_keeps_reached_road_and_drops_small_holes(seed, direction):
    u, v, g, te, times, bands, kw = three_sources(seed, direction)
    exact = isochrones.isochrones_for_sources(u, v, g, te, times, bands, **kw).geometry.values
    min_hole = (4 * B) ** 2
    light = isochrones.display_polygons(exact, B)
    assert shapely.is_valid(light).all()
    rp = isochrones.reached_pieces(u, v, g, te, times, bands, direction)
    share, _ = isochrones.reached_length_share(light, rp, B, n_samples=200)
    assert np.nanmin(share) >= 0.99
    # small holes go (the kept ones may shrink a little in the simplification)
    assert (_holes(exact) < min_hole / 2).any()
    assert (_holes(light) >= min_hole / 2).all()
    # what is left moved by at most the tolerance (B / 4)
    assert np.all(shapely.area(shapely.difference(exact, shapely.buffer(light, B / 4))) < 1e-6)
    assert shapely.get_num_coordinates(light).sum() < shapely.get_num_coordinates(exact).sum()


def test_demo_fit_area_exact_and_display_cover_reached_road(demo):
    sc, net, plants, _ = demo
    cov = sc.coverage
    prof, limit_s = cov.profiles[0], cov.threshold_min * 60.0
    fit = coverage.fit_area(net, plants, prof, cov.threshold_min, cov.buffer_m)
    light = coverage.display_version(fit, cov.buffer_m, net.metric_crs)
    assert list(light.columns[:-1]) == list(fit.columns) and light["display"].all()
    # the reached road of the same times, cut independently of the polygons
    p_nodes, _ = snap(net, plants.lon, plants.lat, None)
    t = travel_times(net, p_nodes, None, profile=prof, direction="to", cutoff_s=limit_s)
    times = np.vstack([t.max(axis=0)[None, :], t])
    pieces = isochrones.reached_pieces(net.edges.u.to_numpy(), net.edges.v.to_numpy(),
                                       net.metric_geometry(), net.times(prof), times, [limit_s],
                                       direction="to")
    exact_m = fit.to_crs(net.metric_crs).geometry.values
    light_m = light.to_crs(net.metric_crs).geometry.values
    for polys in (exact_m, light_m):
        share, _ = isochrones.reached_length_share(polys, pieces, cov.buffer_m, n_samples=500)
        assert np.nanmin(share) >= 0.99
    n_exact = shapely.get_num_coordinates(exact_m).sum()
    n_light = shapely.get_num_coordinates(light_m).sum()
    print("fit area vertices: exact", n_exact, "display", n_light)
    assert n_light < n_exact / 2


def _times_to(net, lon, lat, profile, limit_s):
    """Seconds from every node to the point (lon, lat), by scipy Dijkstra on the reversed edges.

    The point is projected onto its nearest edge line(s) (every edge within 1 mm of the nearest:
    both directions of a two-way road); a node at an edge's tail reaches it after the edge's time
    times the share of the edge before the point. Parallel edges keep their fastest time.
    """
    geoms, te = net.metric_geometry(), net.times(profile)
    x, y = Transformer.from_crs(4326, net.metric_crs, always_xy=True).transform(lon, lat)
    pt = shapely.Point(x, y)
    dist = shapely.distance(geoms, pt)
    near = np.flatnonzero((dist <= dist.min() + 1e-3) & np.isfinite(te))
    n = net.n_nodes
    u, v = net.edges.u.to_numpy(), net.edges.v.to_numpy()
    ok = np.isfinite(te)
    frac = shapely.line_locate_point(geoms[near], pt) / shapely.length(geoms[near])
    # reversed graph plus a sink node n: edge v -> u for u -> v, and tail -> sink at the snap offset
    e = pd.DataFrame({"a": np.r_[v[ok], np.full(len(near), n)], "b": np.r_[u[ok], u[near]],
                      "w": np.r_[te[ok], te[near] * frac]}).groupby(["a", "b"], as_index=False).w.min()
    g = csr_matrix((np.maximum(e.w, 1e-9), (e.a, e.b)), shape=(n + 1, n + 1))
    return dijkstra(g, indices=n, limit=limit_s)[:n]


def _reached_road(net, times, profile, limit_s):
    """Reached part of every directed edge: the stretch before its head node whose time to the
    point (head node's time plus the rest of the edge at the edge's own speed) is within limit."""
    geoms, te = net.metric_geometry(), net.times(profile)
    tv = times[net.edges.v.to_numpy()]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.clip((limit_s - tv) / te, 0.0, 1.0)
    share[~np.isfinite(tv) | ~np.isfinite(te)] = 0.0
    whole = geoms[share >= 1.0]
    part = [substring(g, (1 - s) * g.length, g.length) for g, s in
            zip(geoms[(share > 0) & (share < 1)], share[(share > 0) & (share < 1)])]
    return np.r_[whole, np.asarray(part, dtype=object)]


def _inside_share(poly, lines, step_m: float = 2.0) -> float:
    """Share of the lines' length inside ``poly``: lines cut into pieces of at most ``step_m``,
    each piece counted by its midpoint."""
    xy, part = shapely.get_coordinates(shapely.segmentize(lines, step_m), return_index=True)
    same = part[1:] == part[:-1]
    a, b = xy[:-1][same], xy[1:][same]
    seg = np.hypot(*(b - a).T)
    mid = (a + b) / 2
    shapely.prepare(poly)
    inside = shapely.contains_xy(poly, mid[:, 0], mid[:, 1])
    return float(seg[inside].sum() / seg.sum())


def _n_holes(polys) -> int:
    return int(sum(shapely.get_num_interior_rings(shapely.get_parts(np.asarray(polys, dtype=object)))))


@pytest.mark.slow
def test_demo_isochrones_exact_and_display_hold_reached_road(demo):
    """Both versions hold >= 99 % of the road reached (scipy Dijkstra, not the planner's
    routing), the display one without small holes and with far fewer vertices and holes."""
    sc, net, plants, _ = demo
    cov = sc.coverage
    profiles = cov.isochrone_profiles[:2]
    exact = coverage.plant_isochrones(net, plants, profiles, cov.bands_min, cov.buffer_m,
                                      max_snap_m=sc.network.max_snap_m)
    light = coverage.display_version(exact, cov.buffer_m, net.metric_crs)
    assert light.crs == exact.crs and len(light) == len(exact) and light["display"].all()
    assert (light[["plant_id", "profile", "minutes"]].to_numpy() ==
            exact[["plant_id", "profile", "minutes"]].to_numpy()).all()
    exact_m = exact.to_crs(net.metric_crs).geometry.values
    light_m = light.to_crs(net.metric_crs).geometry.values
    assert shapely.is_valid(light_m).all()
    xy = dict(zip(plants["site_id"].astype(str), zip(plants["lon"], plants["lat"])))
    shares = []
    for prof in profiles:
        for pid, (lon, lat) in xy.items():
            times = _times_to(net, lon, lat, prof, max(cov.bands_min) * 60.0)
            for minutes in cov.bands_min:
                k = np.flatnonzero((exact.plant_id == pid) & (exact.profile == prof) &
                                   np.isclose(exact.minutes, minutes))
                assert len(k) == 1
                lines = _reached_road(net, times, prof, minutes * 60.0)
                shares.append((_inside_share(exact_m[k[0]], lines), _inside_share(light_m[k[0]], lines)))
    shares = np.asarray(shares)
    print("reached road inside, min over", len(shares), "polygons: exact", shares[:, 0].min(),
          "display", shares[:, 1].min())
    assert shares.min() >= 0.99
    # the display version: no hole under half the fill size left, far fewer holes and vertices
    min_hole = (4 * cov.buffer_m) ** 2
    assert (_holes(light_m) >= min_hole / 2).all()
    n_exact, n_light = shapely.get_num_coordinates(exact_m).sum(), shapely.get_num_coordinates(light_m).sum()
    h_exact, h_light = _n_holes(exact_m), _n_holes(light_m)
    print(f"isochrones: vertices {n_exact} -> {n_light}, holes {h_exact} -> {h_light}")
    # demo (2026-12): vertices 109,414 -> 55,967, holes 13,635 -> 3,888 (those left are >= 5.8 ha)
    assert n_light < 0.6 * n_exact and h_light < h_exact / 3


# ------------------------------------------------------------------ exported siting problem
def _hand_problem(rng):
    """A small siting problem built by hand: 2 technologies, minutes with unreachable pairs."""
    import geopandas as gpd

    from planner.stations.problem import SitingProblem
    from planner.technology import Technology

    n_cand = 7
    cands = gpd.GeoDataFrame({
        "candidate_id": [f"c{i}" for i in range(n_cand)], "name": [f"lot {i} 停车场{i}" for i in range(n_cand)],
        "kind": "parking", "source": "parking", "lon": 116.5 + 0.01 * np.arange(n_cand), "lat": 39.8,
        "existing": False, "competitor": False,
        **{f"{c}_{t}": np.full(n_cand, c == "eligible") for t in ("h2", "hpc") for c in ("eligible", "required")},
    }, geometry=gpd.points_from_xy(116.5 + 0.01 * np.arange(n_cand), np.full(n_cand, 39.8)), crs=4326)
    techs = {"h2": Technology(capex_wan=100, radius_min=5.0, profile="offpeak"),
             "hpc": Technology(capex_wan=50, radius_min=10.0, profile="offpeak")}
    demand, minutes = {}, {}
    for t, n in (("h2", 11), ("hpc", 9)):
        demand[t] = gpd.GeoDataFrame({"demand_id": [f"{t}-d{i}" for i in range(n)], "weight": np.full(n, 1 / n),
                                      "raw_weight": np.ones(n)},
                                     geometry=gpd.points_from_xy(np.full(n, 116.55), np.full(n, 39.81)), crs=4326)
        m = rng.uniform(0, 2 * techs[t].radius_min, (n, n_cand))
        m[rng.random((n, n_cand)) < 0.2] = np.inf
        m[0, 0] = techs[t].radius_min  # on the radius: a pair
        minutes[t] = m
    return SitingProblem(cands, demand, minutes, techs, 500.0, {t: np.empty((0, 2), int) for t in techs})


def test_exported_coverage_pairs_hold_every_pair_within_the_radius(tmp_path):
    """``coverage_pairs.csv.gz`` against the minute matrices read cell by cell: every pair within the
    radius once, with its minutes; nothing else; and the problem read back is the same."""
    import csv
    import gzip

    from planner.pipeline.stations import read_problem
    from planner.pipeline.write import write_problem

    problem = _hand_problem(np.random.default_rng(7))
    write_problem(problem, tmp_path)
    assert not (tmp_path / "coverage_pairs.csv").exists()
    with gzip.open(tmp_path / "coverage_pairs.csv.gz", "rt", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    got = {(r["technology"], r["demand_id"], r["candidate_id"]): float(r["minutes"]) for r in rows}
    assert len(got) == len(rows)  # no pair twice
    want = {}
    for t, m in problem.minutes.items():
        ids = list(problem.demand[t]["demand_id"])
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                if m[i, j] <= problem.technologies[t].radius_min:
                    want[(t, ids[i], f"c{j}")] = float(m[i, j])
    assert ("h2", "h2-d0", "c0") in want and len(want) < sum(m.size for m in problem.minutes.values())
    assert got.keys() == want.keys()
    assert all(got[k] == pytest.approx(v, rel=1e-9) for k, v in want.items())

    back = read_problem(tmp_path)
    for t, m in problem.minutes.items():
        within = m <= problem.technologies[t].radius_min
        np.testing.assert_allclose(back.minutes[t][within], m[within], rtol=1e-9)
        assert np.isinf(back.minutes[t][~within]).all()


def test_a_problem_exported_as_plain_csv_still_reads(tmp_path):
    """Problems exported before the pairs were compressed (``coverage_pairs.csv``) read the same."""
    from planner.pipeline.stations import read_problem
    from planner.pipeline.write import write_problem

    problem = _hand_problem(np.random.default_rng(8))
    write_problem(problem, tmp_path)
    gz = read_problem(tmp_path)
    pd.read_csv(tmp_path / "coverage_pairs.csv.gz", encoding="utf-8-sig").to_csv(
        tmp_path / "coverage_pairs.csv", index=False, encoding="utf-8-sig", float_format="%.10g")
    (tmp_path / "coverage_pairs.csv.gz").unlink()
    plain = read_problem(tmp_path)
    for t in problem.minutes:
        np.testing.assert_array_equal(plain.minutes[t], gz.minutes[t])
