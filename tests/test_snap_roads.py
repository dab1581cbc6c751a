"""Points snap onto the nearest road and are routed along their partial edges.

Known answers on a straight 3 km road, and an independent reference: networkx on a graph where
every snapped point is inserted as a real node (its road split there, the pieces timed by their
share of the line), the projection found by brute force over all edges.
"""
from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import shapely
from pyproj import Transformer

from planner.errors import SnapError
from planner.network.graph import build_network
from planner.network.speeds import Profile
from planner.routing import point_node_times, point_travel_times, snap, snap_to_roads
from tests._helpers import LAT0, LON0, inserted_point_times, raw_tables

UTM = "EPSG:32650"
KMH = 36.0  # 10 m/s
_to_utm = Transformer.from_crs(4326, UTM, always_xy=True)
_to_wgs = Transformer.from_crs(UTM, 4326, always_xy=True)
X0, Y0 = _to_utm.transform(LON0, LAT0)


def _lonlat(x, y):
    """WGS-84 of metric offsets (m) from the origin."""
    return _to_wgs.transform(X0 + np.asarray(x, float), Y0 + np.asarray(y, float))


def _road(two_way=True, length=3000.0):
    """A straight road A(0) -> B(length m east), 10 m/s, plus a far loop B -> C -> A back."""
    xy = {0: _lonlat(0, 0), 1: _lonlat(length, 0), 2: _lonlat(length / 2, 2000)}
    arcs = [(0, 1, length)] + ([(1, 0, length)] if two_way else [])
    arcs += [(1, 2), (2, 0)]  # one-way loop back, lengths measured
    nodes, edges = raw_tables(xy, arcs)
    prof = {"offpeak": Profile("offpeak", speeds_kmh={}, fallback_kmh=KMH)}
    return build_network(nodes, edges, prof, metric_crs=UTM, keep_largest=False)


def test_supplier_a_few_metres_off_a_long_road_gets_the_partial_edge_time():
    """The issue's case: 5 m from a 3 km road, plant 1.2 km further along it."""
    net = _road()
    lon, lat = _lonlat([600.0, 1800.0], [5.0, 0.0])
    pts = snap_to_roads(net, lon, lat, max_snap_m=500.0, ids=["S1", "P1"])
    assert pts.snap_m == pytest.approx([5.0, 0.0], abs=1e-6)
    t = point_travel_times(net, pts.subset([0]), pts.subset([1]))
    assert t[0, 0] == pytest.approx(1200.0 / 10.0, abs=1e-6)  # 1,200 m at 10 m/s = 2.00 min
    # back, on the two-way road: the reverse edge, also 1,200 m
    assert point_travel_times(net, pts.subset([1]), pts.subset([0]))[0, 0] == pytest.approx(120.0, abs=1e-6)
    # the old node snapping refused it at 500 m (nearest junction 600 m away): now it is kept
    nodes, d = snap(net, lon, lat, max_snap_m=500.0)
    assert d[0] == pytest.approx(5.0, abs=1e-6)


def test_one_way_road_is_respected():
    net = _road(two_way=False)
    lon, lat = _lonlat([600.0, 1800.0], [5.0, -3.0])
    pts = snap_to_roads(net, lon, lat)
    ahead = point_travel_times(net, pts.subset([0]), pts.subset([1]))[0, 0]
    assert ahead == pytest.approx(120.0, abs=1e-6)
    # backwards: on to B (1,200 m), round the loop B -> C -> A, then A to the point (600 m)
    loop = net.times("offpeak")[1:].sum()  # edges B -> C and C -> A
    back = point_travel_times(net, pts.subset([1]), pts.subset([0]))[0, 0]
    assert back == pytest.approx(120.0 + loop + 60.0, abs=1e-6)
    # node times from the point: B after the rest of the edge, A only round the loop
    nt = point_node_times(net, pts.subset([1]), direction="from")[0]
    assert nt[1] == pytest.approx(120.0, abs=1e-6)
    assert nt[0] == pytest.approx(120.0 + loop, abs=1e-6)


def test_snap_limit_applies_to_the_distance_to_the_road():
    net = _road()
    lon, lat = _lonlat([600.0, 1500.0], [5.0, 700.0])
    with pytest.raises(SnapError, match=r"1 point\(s\).*far \(7\d\d m\)"):
        snap_to_roads(net, lon, lat, max_snap_m=500.0, ids=["near", "far"])


@pytest.mark.parametrize("cells", [None, 50])
def test_agrees_with_networkx_on_points_inserted_as_nodes(cells, monkeypatch):
    """Random points on a grid with one-way streets and uneven speeds, several per road.

    ``cells``: a tiny block limit, so the origins are routed a few at a time.
    """
    if cells is not None:
        monkeypatch.setattr("planner.routing._POINT_CELLS", cells)
    rng = np.random.default_rng(7)
    n, step = 6, 250.0
    xy = {r * n + c: _lonlat(c * step, r * step) for r in range(n) for c in range(n)}
    arcs, speeds = [], []
    for r in range(n):
        for c in range(n):
            i = r * n + c
            for j in ([i + 1] if c + 1 < n else []) + ([i + n] if r + 1 < n else []):
                kind = rng.integers(3)  # 0 two-way, 1 one-way i->j, 2 one-way j->i
                if kind in (0, 1):
                    arcs.append((i, j))
                    speeds.append(float(rng.choice([20, 40, 60])))
                if kind in (0, 2):
                    arcs.append((j, i))
                    speeds.append(float(rng.choice([20, 40, 60])))
    nodes, edges = raw_tables(xy, arcs, speeds=speeds)
    prof = {"offpeak": Profile("offpeak", speeds_kmh={}, fallback_kmh=30.0, maxspeed_factor=1.0,
                               maxspeed_cap_kmh={})}
    net = build_network(nodes, edges, prof, metric_crs=UTM, keep_largest=False)
    m = 40
    px = rng.uniform(-30, (n - 1) * step + 30, m)
    py = rng.uniform(-30, (n - 1) * step + 30, m)
    # two points on one road segment, in both orders (the same-edge case)
    px[:2], py[:2] = [40.0, 180.0], [3.0, -4.0]
    lon, lat = _lonlat(px, py)
    pts = snap_to_roads(net, lon, lat, max_snap_m=None)
    got = point_travel_times(net, pts, pts)
    ref = inserted_point_times(net, lon, lat, "offpeak")
    assert np.array_equal(np.isinf(got), np.isinf(ref))
    fin = np.isfinite(ref)
    assert np.abs(got[fin] - ref[fin]).max() < 1e-6
    # few destinations (searched from on the reverse graph) or few origins: the same times, in
    # blocks of the few
    import planner.routing

    searched: list[int] = []
    plain = planner.routing.travel_times
    monkeypatch.setattr(planner.routing, "travel_times",
                        lambda net_, s, *a, **k: searched.append(len(s)) or plain(net_, s, *a, **k))
    few = np.arange(6)
    for o, d, rows, cols in ((pts, pts.subset(few), slice(None), few), (pts.subset(few), pts, few, slice(None))):
        searched.clear()
        sub = point_travel_times(net, o, d)
        if cells is not None:
            # searches start from the few points' road ends only (at most one per point and edge
            # slot), not from them again in every block of the many
            assert len(searched) > 1 and sum(searched) <= min(o.edge.size, d.edge.size)
        exp = ref[rows][:, cols]
        assert np.array_equal(np.isinf(sub), np.isinf(exp))
        assert np.abs(sub[np.isfinite(exp)] - exp[np.isfinite(exp)]).max() < 1e-6
    # snap distance: brute force over every edge
    geoms = net.metric_geometry()
    x, y = Transformer.from_crs(4326, UTM, always_xy=True).transform(lon, lat)
    brute = np.array([shapely.distance(geoms, shapely.Point(a, b)).min() for a, b in zip(x, y)])
    assert np.abs(pts.snap_m - brute).max() < 1e-6
    # node times agree with the point matrix: a point's time to itself via nodes is never lower
    nt = point_node_times(net, pts.subset(np.arange(5)), direction="from")
    g = nx.DiGraph()
    for a, b, w in zip(net.edges.u, net.edges.v, net.times("offpeak")):
        if not g.has_edge(a, b) or g[a][b]["w"] > w:
            g.add_edge(int(a), int(b), w=float(w))
    for i in range(5):
        e, f = pts.edge[i], pts.frac[i]
        ref_nt = np.full(net.n_nodes, np.inf)
        for k in range(len(e)):
            if e[k] < 0:
                continue
            head = int(net.edges.v[e[k]])
            off = (1 - f[k]) * net.times("offpeak")[e[k]]
            for node, d in nx.single_source_dijkstra_path_length(g, head, weight="w").items():
                ref_nt[node] = min(ref_nt[node], off + d)
        assert np.allclose(nt[i], ref_nt, atol=1e-6, rtol=0)
