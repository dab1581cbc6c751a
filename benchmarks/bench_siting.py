"""MCLP on a seeded synthetic road grid: planner (HiGHS via highspy) vs spopt.MCLP (PuLP).

``python benchmarks/run.py siting [--solver cbc|highs] [--demand N] [--candidates M] [--p P]
[--radius MIN] [--repeat K]``

Both are timed end to end from the same travel-minute matrix (model build + solve + reading
the selection); the objective values must be equal.
"""
from __future__ import annotations

import sys
import time

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

SEED = 20281231


def grid_network(side: int, rng) -> sp.csr_matrix:
    """Undirected grid road graph, travel minutes per edge drawn between 0.3 and 1.2."""
    idx = np.arange(side * side).reshape(side, side)
    a = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    b = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    t = rng.uniform(0.3, 1.2, a.size)
    # a few fast arterials: every 10th row and column is twice as fast
    fast = np.concatenate([(idx[:, :-1] % side % 10 == 0).ravel(), (idx[:-1, :] // side % 10 == 0).ravel()])
    t[fast] *= 0.5
    n = side * side
    return sp.coo_matrix((np.concatenate([t, t]), (np.concatenate([a, b]), np.concatenate([b, a]))),
                         shape=(n, n)).tocsr()


def instance(n_demand=200, n_cand=2000, side=70, seed=SEED):
    rng = np.random.default_rng(seed)
    G = grid_network(side, rng)
    nodes = rng.permutation(side * side)
    dem = nodes[:n_demand]
    cand = nodes[n_demand:n_demand + n_cand]
    D = dijkstra(G, directed=False, indices=dem)[:, cand]
    w = rng.integers(1, 100, n_demand).astype(float)
    return D, w


def run_ours(D, w, radius, p, method):
    from planner.siting import MCLP

    t = time.perf_counter()
    res = MCLP.from_cost_matrix(D, w, radius=radius, p=p).solve(time_limit=300, method=method)
    return time.perf_counter() - t, res.objective, res


def run_spopt(D, w, radius, p, solver):
    import pulp
    from spopt.locate import MCLP as SpMCLP

    s = pulp.PULP_CBC_CMD(msg=False) if solver == "cbc" else pulp.HiGHS(msg=False)
    t = time.perf_counter()
    model = SpMCLP.from_cost_matrix(D, w, service_radius=radius, p_facilities=p)
    model = model.solve(s)
    sel = [j for j, v in enumerate(model.fac_vars) if v.value() is not None and v.value() > 0.5]
    secs = time.perf_counter() - t
    obj = float(pulp.value(model.problem.objective))
    return secs, obj, sel


def main(argv):
    opts = {"--solver": "cbc", "--demand": "200", "--candidates": "2000", "--p": "10",
            "--radius": "8", "--repeat": "3", "--method": "auto"}
    it = iter(argv)
    for a in it:
        if a in opts:
            opts[a] = next(it)
        else:
            raise SystemExit(f"unknown argument {a}")
    nd, nc, p = int(opts["--demand"]), int(opts["--candidates"]), int(opts["--p"])
    radius, rep = float(opts["--radius"]), int(opts["--repeat"])
    D, w = instance(nd, nc)
    print(f"MCLP {nd} demand x {nc} candidates, p={p}, radius={radius} min, "
          f"{int((D <= radius).sum())} coverage pairs; spopt solver: {opts['--solver']}")
    # warm-up (imports, numba) outside the timing
    run_ours(D[:20, :50], w[:20], radius, 2, opts["--method"])
    ours = [run_ours(D, w, radius, p, opts["--method"]) for _ in range(rep)]
    ours_s = min(o[0] for o in ours)
    res = ours[0][2]
    sp_runs = [run_spopt(D, w, radius, p, opts["--solver"]) for _ in range(rep)]
    sp_s = min(s[0] for s in sp_runs)
    sp_obj = sp_runs[0][1]
    equal = abs(res.objective - sp_obj) <= 1e-6 * max(1.0, abs(sp_obj))
    print(f"{'':10s} {'seconds':>9s} {'objective':>12s}")
    print(f"{'planner':10s} {ours_s:9.3f} {res.objective:12.1f}   ({res.status}, {res.solver}, "
          f"bound {res.bound:.1f})")
    print(f"{'spopt':10s} {sp_s:9.3f} {sp_obj:12.1f}")
    return {"ours_s": round(ours_s, 3), "spopt_s": round(sp_s, 3),
            "ratio": round(sp_s / ours_s, 1), "objective": res.objective, "equal": bool(equal)}


if __name__ == "__main__":
    print(main(sys.argv[1:]))
