"""Isochrone benchmark: 10 plants x 3 bands (10/20/30 min) x 2 profiles on the SE-Beijing layer.

Suppliers drive **to** the plant, so node times come from a reverse-graph search
(``direction="to"``). The times come from :func:`planner.routing.csr_travel_times`, the
planner's engine, or from ``scipy.sparse.csgraph.dijkstra`` if that is not importable. The same
run times four ways of turning reached road into polygons:

* **ours** (``method="grid"``, the planner's default): distance from grid nodes (``buffer / 3``
  apart) to the reached road, cut at the remaining time, traced by marching squares.
* **cells** (``method="cells"``): the exact union of buffered pieces, with the quadtree cell
  cache and coverage unions.
* **direct** (``method="direct"``): buffer each reached piece, then one ``union_all`` per
  polygon.
* **naive**: union all reached pieces into one line set, then buffer it. This is slow, so it is
  timed on whole plants (3 bands each) until ``--naive-budget`` seconds are spent. The time for
  all plants is then extrapolated, and the table says so. The same plants are also timed with
  ``direct`` for a like-for-like ratio.

Quality: ``reached_length_share`` on every "ours" polygon gives the minimum share of reached
length inside (it must be >= 0.99) and the largest share of area farther than buffer + 1 m (and
buffer + one grid cell) from any reached piece. The symmetric difference between ours and the
exact cells polygons, as a share of the exact area, shows how closely the grid traces the exact
set; invalid polygons are counted.

Network (``--network``):

* ``layer`` (the default): read ``beijing-se-roads/beijing_se_drive_edges_osm2025.gpkg`` from
  ``$PLANNER_DATA_DIR`` (by default ``../shared/data`` beside the repository root), project it to
  EPSG:32650, and take node positions from edge endpoints. The layer's ``junctions`` coordinates
  do not match its edges, so they are not used. Off-peak speeds come from a small class table
  (30 km/h where there is no class), and peak is off-peak x 0.6.
* ``project``: use the demo scenario's cached RoadNetwork and its ``offpeak``/``peak`` profiles.

Plants: 10 seeded random points in lon 116.45-116.60, lat 39.76-39.82, each snapped to the
nearest node of the largest strongly connected component.

Wall times depend on machine load, so the load average is printed. CPU seconds of this process
are shown beside them.

Vertices: the RESULT line gives the vertex count of our polygons (both profiles) and its ratio
to the exact (cells) polygons'; ``--simplify 0`` gives the raw marching-squares contours.

Usage: ``python benchmarks/run.py isochrones [--plants N] [--buffer M] [--cell M] [--simplify M]
[--naive-budget S] [--network layer|project] [--no-direct]``
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LAYER = Path("beijing-se-roads") / "beijing_se_drive_edges_osm2025.gpkg"
BANDS_S = np.array([600.0, 1200.0, 1800.0])
BOX = (116.45, 39.76, 116.60, 39.82)          # lon/lat box the plants are drawn from
METRIC_CRS = "EPSG:32650"
#: Off-peak speeds (km/h) for the few classified edges; everything else uses the fallback.
CLASS_KMH = {"primary": 50.0, "secondary": 40.0, "tertiary": 35.0, "residential": 25.0,
             "unclassified": 25.0, "unknown_sumo_edited": 30.0}
FALLBACK_KMH = 30.0
PEAK_FACTOR = 0.6


def _data_dir() -> Path:
    return Path(os.environ.get("PLANNER_DATA_DIR", ROOT.parent / "shared" / "data"))


def _csr_min(a, b, w, n):
    """CSR a -> b keeping the fastest of parallel edges; closed (inf) edges dropped."""
    import scipy.sparse as sp

    ok = np.isfinite(w)
    a, b, w = a[ok], b[ok], np.maximum(w[ok], 1e-6)   # explicit zeros would vanish in CSR
    o = np.lexsort((w, b, a))
    a, b, w = a[o], b[o], w[o]
    first = np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1])]
    return sp.csr_matrix((w[first], (a[first], b[first])), shape=(n, n))


def _times_engine():
    try:
        from planner.routing import csr_travel_times

        return "planner.routing.csr_travel_times", csr_travel_times
    except Exception:                                   # pragma: no cover - fallback
        from scipy.sparse.csgraph import dijkstra

        def run(csr, sources, targets=None, cutoff_s=None):
            return dijkstra(csr, indices=sources, limit=np.inf if cutoff_s is None else cutoff_s)

        return "scipy.sparse.csgraph.dijkstra", run


def _plant_points(n_plants):
    from planner.vocab import RANDOM_SEED

    rng = np.random.default_rng(RANDOM_SEED)
    lon = rng.uniform(BOX[0], BOX[2], n_plants)
    lat = rng.uniform(BOX[1], BOX[3], n_plants)
    return lon, lat


def _layer_network(n_plants):
    """u, v, metric geometry, per-profile edge times and reverse-graph node times from the layer."""
    import geopandas as gpd
    from pyproj import Transformer
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree
    import shapely

    path = _data_dir() / LAYER
    t0 = time.perf_counter()
    e = gpd.read_file(path, layer="edges").to_crs(METRIC_CRS)
    ids = np.unique(np.r_[e["from_node"].to_numpy(), e["to_node"].to_numpy()])
    u = np.searchsorted(ids, e["from_node"].to_numpy())
    v = np.searchsorted(ids, e["to_node"].to_numpy())
    geoms = np.asarray(e.geometry.values)
    n = len(ids)
    xy = np.zeros((n, 2))
    xy[u] = shapely.get_coordinates(shapely.get_point(geoms, 0))
    xy[v] = shapely.get_coordinates(shapely.get_point(geoms, -1))
    kmh = e["road_class"].map(CLASS_KMH).fillna(FALLBACK_KMH).to_numpy(float)
    length = e["length_m"].to_numpy(float)
    times = {"offpeak": length / (kmh / 3.6)}
    times["peak"] = times["offpeak"] / PEAK_FACTOR
    fwd = _csr_min(u, v, times["offpeak"], n)
    _, lab = connected_components(fwd, directed=True, connection="strong")
    giant = np.flatnonzero(lab == np.bincount(lab).argmax())
    lon, lat = _plant_points(n_plants)
    px, py = Transformer.from_crs(4326, METRIC_CRS, always_xy=True).transform(lon, lat)
    snap_m, k = cKDTree(xy[giant]).query(np.c_[px, py])
    plants = giant[k]
    load_s = time.perf_counter() - t0
    rev = {p: _csr_min(v, u, times[p], n) for p in times}
    info = (f"layer {path.name}: {len(u)} edges, {n} nodes, giant SCC {len(giant)} nodes; "
            f"speeds: class table, fallback {FALLBACK_KMH:g} km/h, peak = x{PEAK_FACTOR}")
    return u, v, geoms, times, rev, plants, snap_m, load_s, info


def _project_network(n_plants):
    from planner.pipeline.network import network_for_scenario
    from planner.routing import snap
    from planner.scenario import load_scenario

    os.environ.setdefault("PLANNER_DATA_DIR", str(_data_dir()))
    t0 = time.perf_counter()
    net = network_for_scenario(load_scenario(ROOT / "scenarios" / "yizhuang.toml"))
    lon, lat = _plant_points(n_plants)
    plants, snap_m = snap(net, lon, lat, max_snap_m=None)
    load_s = time.perf_counter() - t0
    u, v = net.edges["u"].to_numpy(), net.edges["v"].to_numpy()
    times = {p: net.times(p) for p in ("offpeak", "peak")}
    rev = {p: net.csr(p, reverse=True) for p in times}
    info = f"project network (scenario yizhuang): {len(u)} edges, {net.n_nodes} nodes"
    return u, v, net.metric_geometry(), times, rev, plants, snap_m, load_s, info


def _clock():
    return time.perf_counter(), time.process_time()


def _since(c):
    return time.perf_counter() - c[0], time.process_time() - c[1]


def main(argv) -> dict:
    ap = argparse.ArgumentParser(prog="isochrones")
    ap.add_argument("--plants", type=int, default=10)
    ap.add_argument("--buffer", type=float, default=75.0, help="corridor half-width, m")
    ap.add_argument("--cell", type=float, default=None, help="grid spacing, m (buffer / 3)")
    ap.add_argument("--naive-budget", type=float, default=120.0,
                    help="wall seconds the naive method may take before extrapolating")
    ap.add_argument("--network", choices=["layer", "project"], default="layer")
    ap.add_argument("--no-direct", action="store_true", help="skip the direct engine")
    ap.add_argument("--samples", type=int, default=5000, help="points per polygon, far-area share")
    ap.add_argument("--simplify", type=float, default=None,
                    help="grid contour simplification, m (default cell / 2; 0 = raw contours)")
    args = ap.parse_args(argv)
    cell = args.cell or args.buffer / 3.0

    import shapely

    from planner.isochrones import (isochrones_for_sources, reached_length_share,
                                    reached_pieces, union_then_buffer)

    load0 = os.getloadavg()[0]
    build = _layer_network if args.network == "layer" else _project_network
    u, v, geoms, times, rev, plants, snap_m, load_s, info = build(args.plants)
    engine_name, engine = _times_engine()
    print(info)
    print(f"{len(plants)} plants, snapped {snap_m.min():.0f}-{snap_m.max():.0f} m; bands "
          f"{(BANDS_S / 60).astype(int).tolist()} min; buffer {args.buffer:g} m, grid {cell:g} m; "
          f"{os.cpu_count()} cores, load average {load0:.1f}; network load {load_s:.1f} s")
    engine(rev["offpeak"], plants[:1], cutoff_s=BANDS_S[-1])     # numba compile / warm-up
    ids = [f"P{i:02d}" for i in range(len(plants))]
    nt0 = engine(rev["offpeak"], plants[:1], cutoff_s=BANDS_S[-1])
    isochrones_for_sources(u, v, geoms, times["offpeak"], nt0, BANDS_S, direction="to",
                           buffer_m=args.buffer, cell_m=cell)       # compile the grid kernel

    rows, res = [], {}
    for prof in ("offpeak", "peak"):
        c = _clock()
        nt = engine(rev[prof], plants, cutoff_s=BANDS_S[-1])
        t_times = _since(c)[0]
        kw = dict(direction="to", source_ids=ids, buffer_m=args.buffer)
        c = _clock()
        ours = isochrones_for_sources(u, v, geoms, times[prof], nt, BANDS_S, **kw, cell_m=cell,
                                      simplify_m=args.simplify)
        w_ours, c_ours = _since(c)
        st = ours.attrs["isochrone_stats"]
        rows.append((prof, "ours (grid)", len(ours), w_ours, c_ours,
                     f"{st['grid_nodes'] / 1e6:.1f} M grid nodes; node times {t_times:.2f} s "
                     f"({engine_name})"))
        c = _clock()
        cells = isochrones_for_sources(u, v, geoms, times[prof], nt, BANDS_S, **kw,
                                       method="cells")
        w_cells, c_cells = _since(c)
        sc = cells.attrs["isochrone_stats"]
        rows.append((prof, "cells (exact union, cached)", len(cells), w_cells, c_cells,
                     f"pieces {sc['pieces']}, coverage fallbacks {sc['coverage_fallbacks']}"))
        exact = cells.geometry.values
        sym = shapely.area(shapely.symmetric_difference(ours.geometry.values, exact))
        res[prof] = dict(ours=ours, w=w_ours, c=c_ours, nt=nt, w_cells=w_cells, c_cells=c_cells,
                         vertices=int(shapely.get_num_coordinates(ours.geometry.values).sum()),
                         vertices_exact=int(shapely.get_num_coordinates(exact).sum()),
                         sym_share=sym / np.maximum(shapely.area(exact), 1e-9),
                         invalid=int((~shapely.is_valid(ours.geometry.values)).sum()))
        if not args.no_direct:
            c = _clock()
            isochrones_for_sources(u, v, geoms, times[prof], nt, BANDS_S, **kw, method="direct")
            w_d, c_d = _since(c)
            rows.append((prof, "direct (buffer each, union_all)", len(ours), w_d, c_d, ""))
            res[prof].update(w_direct=w_d, c_direct=c_d)

    # naive union-then-buffer on whole plants of the off-peak profile, within the budget
    rp = reached_pieces(u, v, geoms, times["offpeak"], res["offpeak"]["nt"], BANDS_S, "to")
    groups = rp.split()
    naive_w, naive_c, direct_w, direct_c, done = 0.0, 0.0, 0.0, 0.0, 0
    for p in range(len(plants)):
        c = _clock()
        for b in range(len(BANDS_S)):
            union_then_buffer(groups[p * len(BANDS_S) + b], args.buffer)
        w, cpu = _since(c)
        naive_w, naive_c, done = naive_w + w, naive_c + cpu, done + 1
        c = _clock()
        for b in range(len(BANDS_S)):
            g = groups[p * len(BANDS_S) + b]
            shapely.union_all(shapely.buffer(g, args.buffer, quad_segs=2))
        w, cpu = _since(c)
        direct_w, direct_c = direct_w + w, direct_c + cpu
        if naive_w >= args.naive_budget:
            break
    scale = len(plants) / done
    note = "" if done == len(plants) else \
        f"measured on {done} of {len(plants)} plants, times x{scale:.1f} extrapolated"
    rows.append(("offpeak", "naive (union, then buffer)", 3 * done, naive_w, naive_c,
                 note or "all plants"))
    rows.append(("offpeak", "direct on the same plants", 3 * done, direct_w, direct_c, ""))

    # quality of our polygons (both profiles)
    c = _clock()
    shares, fars, fars_cell = [], [], []
    for prof in ("offpeak", "peak"):
        rpp = rp if prof == "offpeak" else reached_pieces(u, v, geoms, times[prof],
                                                          res[prof]["nt"], BANDS_S, "to")
        polys = res[prof]["ours"].geometry.values
        s, f = reached_length_share(polys, rpp, args.buffer, n_samples=args.samples)
        _, fc = reached_length_share(polys, rpp, args.buffer, tolerance_m=cell,
                                     n_samples=args.samples)
        shares.append(s)
        fars.append(f)
        fars_cell.append(fc)
    q_w = _since(c)[0]
    shares, fars, fars_cell = map(np.concatenate, (shares, fars, fars_cell))
    sym_share = np.concatenate([res[p]["sym_share"] for p in res])

    print()
    print(f"{'profile':8s} {'method':34s} {'polys':>5s} {'wall s':>8s} {'cpu s':>8s}  note")
    for prof, meth, npoly, w, cpu, note in rows:
        print(f"{prof:8s} {meth:34s} {npoly:5d} {w:8.2f} {cpu:8.2f}  {note}")
    off = res["offpeak"]
    areas = shapely.area(off["ours"].geometry.values) / 1e6
    print(f"\noff-peak polygon area km2 by band (mean over plants): "
          f"{np.round(areas.reshape(-1, 3).mean(0), 1).tolist()}")
    print(f"reached length inside polygons: min {shares.min():.5f}; area farther than buffer+1 m "
          f"from reached road: max {np.nanmax(fars):.4f}, farther than buffer+{cell:g} m: max "
          f"{np.nanmax(fars_cell):.4f} ({args.samples} samples/polygon; quality check "
          f"{q_w:.1f} s)")
    print(f"grid vs exact (cells): symmetric difference max {sym_share.max():.2%} of the exact "
          f"area (mean {sym_share.mean():.2%}); invalid grid polygons "
          f"{sum(r['invalid'] for r in res.values())}")
    naive_est = naive_w * scale
    out = {
        "ours_s": round(sum(r["w"] for r in res.values()), 2),
        "ours_cpu_s": round(sum(r["c"] for r in res.values()), 2),
        "per_3x10_s": round(off["w"], 2),
        "per_3x10_cpu_s": round(off["c"], 2),
        "per_3x10_peak_s": round(res["peak"]["w"], 2),
        "target_s": 3,
        "cells_s": round(sum(r["w_cells"] for r in res.values()), 2),
        "cells_over_ours_cpu": round(sum(r["c_cells"] for r in res.values())
                                     / sum(r["c"] for r in res.values()), 1),
    }
    if not args.no_direct:
        out["direct_s"] = round(sum(r["w_direct"] for r in res.values()), 2)
        out["direct_over_ours_cpu"] = round(sum(r["c_direct"] for r in res.values())
                                            / sum(r["c"] for r in res.values()), 1)
    out.update({
        "naive_s": round(naive_w, 2),
        "naive_plants": done,
        "naive_est_s": round(naive_est, 1),
        "ratio": round(naive_est / off["w"], 1),
        "naive_over_direct_same_plants": round(naive_c / max(direct_c, 1e-9), 1),
        "min_length_share": round(float(shares.min()), 5),
        "max_far_share": round(float(np.nanmax(fars)), 4),
        "max_far_share_cell": round(float(np.nanmax(fars_cell)), 4),
        "max_symdiff_share": round(float(sym_share.max()), 4),
        "vertices": sum(r["vertices"] for r in res.values()),
        "vertices_over_exact": round(sum(r["vertices"] for r in res.values())
                                     / sum(r["vertices_exact"] for r in res.values()), 2),
        "invalid": sum(r["invalid"] for r in res.values()),
        "load_avg": round(load0, 1),
        "load_avg_end": round(os.getloadavg()[0], 1),
        "network": args.network,
    })
    return out
