"""Snapping onto roads and point-to-point times on the demo network (needs PLANNER_DATA_DIR).

``python benchmarks/run.py snap [--points N] [--repeat R]``: N seeded random points in the Yizhuang
area are snapped onto their nearest road (:func:`planner.routing.snap_to_roads`, STRtree on the
edge lines) and routed to 3 plants (:func:`planner.routing.point_travel_times`); medians of R runs.
Every snap distance is checked against a brute-force minimum over all edges for the first 50 points,
and the times against the nearest-road-end node times (a point's time can exceed its road end's
only by the partial edges, each at most one edge's time).
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
import shapely

ROOT = Path(__file__).resolve().parents[1]


def main(argv):
    ap = argparse.ArgumentParser(prog="snap")
    ap.add_argument("--points", type=int, default=600)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    if not os.environ.get("PLANNER_DATA_DIR"):
        raise SystemExit("set PLANNER_DATA_DIR to the shared data folder")
    from pyproj import Transformer

    from planner import pipeline
    from planner.routing import point_travel_times, snap_to_roads, travel_times
    from planner.scenario import load_scenario

    sc = load_scenario(ROOT / "scenarios" / "yizhuang.toml")
    net = pipeline.load_network(sc)
    rng = np.random.default_rng(11)
    lon = rng.uniform(116.45, 116.60, args.points)
    lat = rng.uniform(39.76, 39.82, args.points)
    plon, plat = np.array([116.50, 116.53, 116.56]), np.array([39.78, 39.79, 39.80])
    snap_to_roads(net, plon, plat, None)  # builds the cached STRtree once
    t_snap, t_route = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        pts = snap_to_roads(net, lon, lat, None)
        t_snap.append(time.perf_counter() - t0)
        plants = snap_to_roads(net, plon, plat, None)
        t0 = time.perf_counter()
        times = point_travel_times(net, pts, plants, "offpeak")
        t_route.append(time.perf_counter() - t0)
    # checks: snap distance by brute force; times within the partial edges of the node times
    geoms = net.metric_geometry()
    x, y = Transformer.from_crs(4326, net.metric_crs, always_xy=True).transform(lon[:50], lat[:50])
    brute = np.array([shapely.distance(geoms, shapely.Point(a, b)).min() for a, b in zip(x, y)])
    snap_err = float(np.abs(pts.snap_m[:50] - brute).max())
    node_t = travel_times(net, plants.node, pts.node, "offpeak", "to").T
    edge_max = float(np.nanmax(np.where(np.isfinite(net.times("offpeak")), net.times("offpeak"), np.nan)))
    both = np.isfinite(times) & np.isfinite(node_t)
    bound_ok = bool((np.abs(times[both] - node_t[both]) <= 2 * edge_max + 1e-6).all())
    print(f"{args.points} points → 3 plants on {len(net.edges)} edges: snap {statistics.median(t_snap):.3f} s, "
          f"route {statistics.median(t_route):.3f} s (medians of {args.repeat})")
    print(f"snap distance vs brute force (50 points): max error {snap_err:.2e} m; "
          f"times within partial edges of node times: {bound_ok}")
    return {"points": args.points, "snap_s": round(statistics.median(t_snap), 4),
            "route_s": round(statistics.median(t_route), 4), "snap_err_m": f"{snap_err:.1e}",
            "bound_ok": bound_ok}
