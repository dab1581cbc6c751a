"""MCLP on a seeded synthetic road grid: planner (HiGHS via highspy) vs spopt.MCLP (PuLP).

``python benchmarks/run.py siting [--solver cbc|highs] [--demand N] [--candidates M] [--p P]
[--radius MIN] [--repeat K] [--method auto|exact|heuristic]``

One 200 demand x 2,000 candidate travel-minute matrix (Dijkstra on a seeded 70 x 70 road grid)
is solved for radius 5 / 8 / 12 min and p = 5 / 10 / 20 (nine MCLP instances; ``--radius`` and
``--p`` pick one). Both solvers are timed end to end from the same matrix (model build + solve +
reading the selection); objectives must be equal. Every engine is run ``--repeat`` times (default 3)
and its median time is used. spopt's time is also split: ``cbc_s`` is PuLP's own timing of the
solver call (``LpProblem.solutionTime``: writing the model file, the CBC process, reading the
solution back), so ``ratio_solve`` compares our whole call with CBC's solve alone, while
``ratio`` compares it with spopt's model building + solve. RESULT gives the totals of the medians
over the instances.
"""
from __future__ import annotations

import statistics
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
    return secs, obj, sel, float(model.problem.solutionTime)


def main(argv):
    opts = {"--solver": "cbc", "--demand": "200", "--candidates": "2000", "--p": None,
            "--radius": None, "--repeat": "3", "--method": "auto"}
    it = iter(argv)
    for a in it:
        if a in opts:
            opts[a] = next(it)
        else:
            raise SystemExit(f"unknown argument {a}")
    nd, nc, rep = int(opts["--demand"]), int(opts["--candidates"]), int(opts["--repeat"])
    radii = [float(opts["--radius"])] if opts["--radius"] else [5.0, 8.0, 12.0]
    ps = [int(opts["--p"])] if opts["--p"] else [5, 10, 20]
    D, w = instance(nd, nc)
    print(f"MCLP on a seeded {nd} demand x {nc} candidate travel-minute matrix (70 x 70 road grid); "
          f"spopt solver: {opts['--solver']}; median of {rep} run(s) of each engine")
    run_ours(D[:20, :50], w[:20], 8.0, 2, opts["--method"])  # warm-up (imports, numba)
    print(f"{'radius':>6s} {'p':>3s} {'pairs':>6s} {'ours_s':>8s} {'spopt_s':>8s} {'cbc_s':>8s} {'ratio':>6s} "
          f"{'r_solve':>7s} {'objective':>10s} {'spopt_obj':>10s} {'status':>8s}")
    tot_o = tot_s = tot_c = obj_sum = 0.0
    all_equal = True
    for r in radii:
        for p in ps:
            ours = [run_ours(D, w, r, p, opts["--method"]) for _ in range(rep)]
            o_s = statistics.median(o[0] for o in ours)
            res = ours[0][2]
            sp_runs = [run_spopt(D, w, r, p, opts["--solver"]) for _ in range(rep)]
            s_s = statistics.median(x[0] for x in sp_runs)
            c_s = statistics.median(x[3] for x in sp_runs)
            s_obj = sp_runs[0][1]
            # every run of every engine is checked, not only the first
            tol = 1e-6 * max(1.0, abs(s_obj))
            eq = all(abs(o[1] - s_obj) <= tol for o in ours) and all(abs(x[1] - s_obj) <= tol for x in sp_runs)
            all_equal &= eq
            tot_o += o_s
            tot_s += s_s
            tot_c += c_s
            obj_sum += res.objective
            print(f"{r:6.1f} {p:3d} {int((D <= r).sum()):6d} {o_s:8.3f} {s_s:8.3f} {c_s:8.3f} {s_s / o_s:6.1f} "
                  f"{c_s / o_s:7.1f} {res.objective:10.1f} {s_obj:10.1f} {res.status:>8s}" + ("" if eq else "  <-- differ"),
                  flush=True)
    print(f"total (medians): planner {tot_o:.2f} s, spopt {tot_s:.2f} s, of which CBC's solve call {tot_c:.2f} s")
    return {"ours_s": round(tot_o, 3), "spopt_s": round(tot_s, 3), "cbc_s": round(tot_c, 3),
            "ratio": round(tot_s / tot_o, 1), "ratio_solve": round(tot_c / tot_o, 1),
            "objective": obj_sum, "equal": bool(all_equal), "instances": len(radii) * len(ps), "repeat": rep}


if __name__ == "__main__":
    print(main(sys.argv[1:]))
