"""OR-Library p-median instances pmed1..pmed40 (Beasley): prove optimality with PMedian.

``python benchmarks/run.py orlib [pmed1 pmed2 ...] [--time-limit S]``. Instances are read from
``$PLANNER_BENCH_DIR/orlib-pmed`` (default ``../shared/benchmarks`` next to the repo root).
Distances: all-pairs shortest paths over the undirected edge list; a duplicated edge takes the
cost of its last occurrence (OR-Library convention).
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import shortest_path

ROOT = Path(__file__).resolve().parent.parent


def bench_dir() -> Path:
    base = os.environ.get("PLANNER_BENCH_DIR")
    base = Path(base) if base else (ROOT.parent / "shared" / "benchmarks")
    return base / "orlib-pmed" if (base / "orlib-pmed").is_dir() else base


def read_instance(path: Path):
    """Return (distance matrix n x n, p) of one pmed file."""
    tokens = Path(path).read_text().split()
    n, m, p = int(tokens[0]), int(tokens[1]), int(tokens[2])
    e = np.array(tokens[3:3 + 3 * m], dtype=np.int64).reshape(m, 3)
    i, j, c = e[:, 0] - 1, e[:, 1] - 1, e[:, 2].astype(float)
    # last occurrence wins for duplicated (undirected) edges
    a, b = np.minimum(i, j), np.maximum(i, j)
    key = a * n + b
    _, last_rev = np.unique(key[::-1], return_index=True)
    keep = m - 1 - last_rev
    a, b, c = a[keep], b[keep], c[keep]
    G = sp.coo_matrix((np.concatenate([c, c]), (np.concatenate([a, b]), np.concatenate([b, a]))),
                      shape=(n, n)).tocsr()
    D = shortest_path(G, method="D", directed=False)
    return D, p


def read_optima(directory: Path) -> dict:
    out = {}
    for line in (directory / "pmedopt.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].startswith("pmed"):
            out[parts[0]] = float(parts[1])
    return out


def main(argv):
    from planner.siting import PMedian

    time_limit = 600.0
    names = []
    it = iter(argv)
    for a in it:
        if a == "--time-limit":
            time_limit = float(next(it))
        else:
            names.append(a)
    d = bench_dir()
    if not (d / "pmedopt.txt").exists():
        print(f"no OR-Library instances in {d} (set PLANNER_BENCH_DIR)", file=sys.stderr)
        return {"optimal": 0, "of": 0}
    opt = read_optima(d)
    names = names or [f"pmed{k}" for k in range(1, 41)]
    print(f"{'inst':7s} {'n':>4s} {'p':>4s} {'opt':>7s} {'ours':>8s} {'bound':>9s} {'status':>10s} "
          f"{'it':>3s} {'sec':>7s}")
    n_opt, secs = 0, []
    for name in names:
        D, p = read_instance(d / f"{name}.txt")
        t = time.perf_counter()
        res = PMedian.from_cost_matrix(D, p=p).solve(time_limit=time_limit, method="auto")
        s = time.perf_counter() - t
        secs.append(s)
        ok = res.status == "optimal" and abs(res.objective - opt[name]) < 0.5
        n_opt += ok
        print(f"{name:7s} {D.shape[0]:4d} {p:4d} {opt[name]:7.0f} {res.objective:8.0f} "
              f"{res.bound:9.1f} {res.status:>10s} {res.details['iterations']:3d} {s:7.2f}"
              + ("" if ok else "  <-- not proven / mismatch"), flush=True)
    return {"optimal": n_opt, "of": len(names), "total_s": round(sum(secs), 2),
            "max_s": round(max(secs), 2)}


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    print(main(sys.argv[1:]))
