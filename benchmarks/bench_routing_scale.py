"""Routing at metro scale: k×k tilings of the demo network, 1,000 origins × all nodes, 45-min cutoff.

The demo road network (SE Beijing, off-peak profile) is copied k×k times side by side with offset
node ids; neighbouring tiles are joined at their borders (every node within ``JOIN_M`` of a shared
edge gets a two-way arc to the nearest border node of the neighbour, timed at ``JOIN_KMH`` — a
guess, it only has to make the tiles one network). k = 1 is the demo network itself.

For every k, in the same run:

- *ours, dense*: :func:`planner.routing.csr_travel_times` (engine chosen by the planner, reported)
  on the whole origin set, in origin chunks of ``CHUNK`` rows (dense float64 per chunk, like scipy
  below, so memory stays bounded at 4×4); the hierarchy build (contraction and the core table up
  to the cutoff, from an empty cache) is timed separately, median of ``--repeat`` builds, and
  reported on its own and inside a second ratio (``incl_build``).
- *ours, sparse*: :func:`planner.routing.csr_travel_times_within` on the same chunks: the same
  times, only the pairs within the cutoff stored (scipy has no such form; writing the dense
  ``inf`` rows alone costs ~1/18 of scipy's time at 4×4, so the dense ratio is bounded by it).
- *scipy*: :func:`scipy.sparse.csgraph.dijkstra` with ``limit`` = cutoff on the same chunks.
- *dense floor*: allocating the same dense float64 chunks and filling them with ``inf``, the part
  of every dense answer (scipy's included) that no engine avoids; ``scipy s / floor s`` bounds
  the dense ratio any engine could reach on this machine (``kK_dense_bound``).

Query times are the median of ``--repeat`` runs per engine. Every chunk's answers are checked:
a sample of rows of ours (both forms) equals scipy's to 1e-6 s with the same unreachable pairs.
Peak memory (max RSS of the process) is on the RESULT line; the hierarchy's own size is printed.

Usage: ``python benchmarks/run.py routing_scale [--ks 1,2,3,4] [--sources N] [--repeat R]``
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CUTOFF_S = 45 * 60
#: Origins per chunk (both engines get the same chunks).
CHUNK = 250
#: Border band joined between neighbouring tiles (m) and the speed on the joining arcs (km/h). guess
JOIN_M = 300.0
JOIN_KMH = 30.0
#: Rows per chunk compared between engines.
SAMPLE_ROWS = 16


def _network():
    os.environ.setdefault("PLANNER_DATA_DIR", str(ROOT.parent / "shared" / "data"))
    from planner.pipeline.network import network_for_scenario
    from planner.scenario import load_scenario

    return network_for_scenario(load_scenario(ROOT / "scenarios" / "yizhuang.toml"))


def tile(csr, x, y, k):
    """k×k copies of ``csr`` (node coordinates ``x``, ``y`` in metres) joined at their borders.

    Returns the tiled CSR matrix and the number of joining arcs.
    """
    import scipy.sparse as sp
    from scipy.spatial import cKDTree

    n = csr.shape[0]
    coo = csr.tocoo()
    x0, y0 = x - x.min(), y - y.min()
    w, h = x0.max(), y0.max()
    rows, cols, vals = [], [], []
    for t in range(k * k):
        rows.append(coo.row + t * n)
        cols.append(coo.col + t * n)
        vals.append(coo.data)
    east, west = np.flatnonzero(x0 > w - JOIN_M), np.flatnonzero(x0 < JOIN_M)
    north, south = np.flatnonzero(y0 > h - JOIN_M), np.flatnonzero(y0 < JOIN_M)
    # a tile's east border against the next tile's west border (shifted by w), north against south
    pairs = []
    for a_nodes, b_nodes, dx, dy in ((east, west, w, 0.0), (north, south, 0.0, h)):
        tree = cKDTree(np.column_stack([x0[b_nodes] + dx, y0[b_nodes] + dy]))
        dist, j = tree.query(np.column_stack([x0[a_nodes], y0[a_nodes]]), distance_upper_bound=2 * JOIN_M)
        ok = np.isfinite(dist)
        pairs.append((a_nodes[ok], b_nodes[j[ok]], dist[ok] / (JOIN_KMH / 3.6) + 1.0))
    n_join = 0
    for i in range(k):
        for j in range(k):
            t = i * k + j
            for (a, b, c), step in zip(pairs, ((1, 0), (0, 1))):
                i2, j2 = i + step[0], j + step[1]
                if i2 >= k or j2 >= k:
                    continue
                t2 = i2 * k + j2
                rows += [a + t * n, b + t2 * n]
                cols += [b + t2 * n, a + t * n]
                vals += [c, c]
                n_join += 2 * len(a)
    size = k * k * n
    tiled = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(size, size))
    tiled.sum_duplicates()  # parallel joins cannot occur (one arc per border node and direction)
    return tiled.tocsr(), n_join


def _median(values):
    return float(np.median(values))


def _maxdiff(a, b):
    both = np.isfinite(a) & np.isfinite(b)
    mismatch = int((np.isfinite(a) != np.isfinite(b)).sum())
    return float(np.abs(a[both] - b[both]).max(initial=0.0)) + mismatch


def _one_k(csr, n_sources, repeat, rng):
    from scipy.sparse.csgraph import dijkstra

    from planner.routing import _hierarchy
    from planner.routing import csr_travel_times, csr_travel_times_within

    n = csr.shape[0]
    src = rng.choice(n, n_sources, replace=False)
    chunks = [src[i:i + CHUNK] for i in range(0, len(src), CHUNK)]
    builds = []
    for _ in range(repeat):  # each build from scratch (cache cleared); the last one is queried
        _hierarchy._cache.clear()
        t0 = time.perf_counter()
        h, why_not = _hierarchy.hierarchy_for(csr)
        if h is not None:
            _hierarchy.prepare(h, CUTOFF_S)  # the core table up to the cutoff: part of the build
        builds.append(time.perf_counter() - t0)
    t_build = _median(builds)
    size_mb = h.nbytes / 2**20 if h is not None else np.nan
    engines = set()
    ours_t, sparse_t, sp_t, floor_t, diff = [], [], [], [], 0.0
    for r in range(repeat):
        t_o = t_p = t_s = t_f = 0.0
        for c in chunks:
            t0 = time.perf_counter()
            floor = np.full((len(c), n), np.inf)
            t_f += time.perf_counter() - t0
            del floor
            t0 = time.perf_counter()
            log = []
            ours = csr_travel_times(csr, c, cutoff_s=CUTOFF_S, engine_log=log)
            t_o += time.perf_counter() - t0
            engines.add(log[0].engine if log[0].engine == "hierarchy" else f"{log[0].engine}: {log[0].reason}")
            t0 = time.perf_counter()
            within = csr_travel_times_within(csr, c, CUTOFF_S)
            t_p += time.perf_counter() - t0
            t0 = time.perf_counter()
            ref = dijkstra(csr, indices=c, limit=CUTOFF_S)
            t_s += time.perf_counter() - t0
            if r == 0:
                rows = rng.choice(len(c), min(SAMPLE_ROWS, len(c)), replace=False)
                diff = max(diff, _maxdiff(ours[rows], ref[rows]))
                sub = within[rows]
                dense = np.full((len(rows), n), np.inf)
                dense[np.repeat(np.arange(len(rows)), np.diff(sub.indptr)), sub.indices] = sub.data
                diff = max(diff, _maxdiff(dense, ref[rows]))
            reached = float(np.isfinite(ref).mean())
            del ours, ref, within
        ours_t.append(t_o)
        sparse_t.append(t_p)
        sp_t.append(t_s)
        floor_t.append(t_f)
    return {
        "n": n, "nnz": csr.nnz, "build_s": t_build, "ours_s": _median(ours_t), "sparse_s": _median(sparse_t),
        "scipy_s": _median(sp_t), "floor_s": _median(floor_t),
        "diff": diff, "engine": "; ".join(sorted(engines)), "n_core": getattr(h, "n_core", np.nan), "size_mb": size_mb,
        "reached": reached,
    }


def main(argv) -> dict:
    ap = argparse.ArgumentParser(prog="routing_scale")
    ap.add_argument("--ks", default="1,2,3,4", help="tilings to run, e.g. 1,2")
    ap.add_argument("--sources", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3, help="query runs per engine (median reported)")
    args = ap.parse_args(argv)
    ks = [int(k) for k in args.ks.split(",")]

    import scipy.sparse as sp

    from planner.routing import csr_travel_times, csr_travel_times_within

    load0 = os.getloadavg()[0]
    net = _network()
    base = net.csr("offpeak")
    x, y = net.nodes.x.to_numpy(), net.nodes.y.to_numpy()
    # compile the engines on a toy ring first (numba caches on disk; the first run ever compiles)
    ring = sp.csr_matrix((np.ones(300), (np.arange(300), (np.arange(300) + 1) % 300)), shape=(300, 300))
    for engine in ("hierarchy", "dijkstra"):
        for cutoff in (CUTOFF_S, 10.0, None):  # bounded (handing over to the full sweep), bounded, full
            csr_travel_times(ring, np.arange(CHUNK) % 300, cutoff_s=cutoff, engine=engine)
    csr_travel_times_within(ring, np.arange(CHUNK) % 300, 10.0)
    print(f"{args.sources} origins, cutoff {CUTOFF_S // 60} min, chunks of {CHUNK}, median of {args.repeat}; "
          f"{os.cpu_count()} cores, load average {load0:.1f}")
    print(f"{'k':>2s} {'nodes':>8s} {'arcs':>9s} {'engine':>10s} {'core':>6s} {'MB':>6s} {'build s':>8s} "
          f"{'dense s':>8s} {'sparse s':>8s} {'scipy s':>8s} {'×scipy':>7s} {'×sparse':>7s} {'×incl.build':>11s} "
          f"{'max|Δ|':>9s} {'reached':>8s} {'floor s':>8s} {'bound':>6s}")
    result = {}
    rng = np.random.default_rng(42)
    for k in ks:
        csr, _ = tile(base, x, y, k)
        r = _one_k(csr, args.sources, args.repeat, rng)
        ratio = r["scipy_s"] / r["ours_s"]
        ratio_p = r["scipy_s"] / r["sparse_s"]
        ratio_b = r["scipy_s"] / (min(r["ours_s"], r["sparse_s"]) + r["build_s"])
        print(f"{k:2d} {r['n']:8d} {r['nnz']:9d} {r['engine']:>10s} {r['n_core']:6.0f} {r['size_mb']:6.0f} "
              f"{r['build_s']:8.2f} {r['ours_s']:8.3f} {r['sparse_s']:8.3f} {r['scipy_s']:8.3f} {ratio:7.1f} "
              f"{ratio_p:7.1f} {ratio_b:11.1f} {r['diff']:9.1e} {r['reached']:8.1%} {r['floor_s']:8.3f} "
              f"{r['scipy_s'] / r['floor_s']:6.1f}", flush=True)
        result.update({f"k{k}_nodes": r["n"], f"k{k}_build_s": round(r["build_s"], 2),
                       f"k{k}_ours_s": round(r["ours_s"], 3), f"k{k}_sparse_s": round(r["sparse_s"], 3),
                       f"k{k}_scipy_s": round(r["scipy_s"], 2), f"k{k}_vs_scipy": round(ratio, 1),
                       f"k{k}_vs_scipy_sparse": round(ratio_p, 1), f"k{k}_vs_scipy_incl_build": round(ratio_b, 1),
                       f"k{k}_maxdiff": f"{r['diff']:.1e}",
                       f"k{k}_dense_bound": round(r["scipy_s"] / r["floor_s"], 1)})
        del csr
    result["load"] = f"{load0:.1f}-{os.getloadavg()[0]:.1f}"
    return result
