"""Scenario sweep on Dask: the demo's budget frontier with 1 worker and with 2, in one run.

``python benchmarks/run.py sweep [--n N] [--time-limit S] [--repeat K]``

The demo's siting problem is prepared once, with the capex ``planner run`` uses
(:func:`planner.pipeline.stations.siting_problem`: ``capex_model = "sized"`` in the demo). N budgets
(2,500 … 2,500·N 万元) are solved as N tasks on a fresh local cluster of 1 worker, then of 2
workers (cluster start-up and sending the problem to the workers counted in the time), then one
after the other in this process (the serial reference).

Checks (each a RESULT field): ``same_objectives`` — 1 and 2 workers agree to the MIP gap;
``matches_serial`` — every budget's frontier objective equals the serial solve of that budget to
the gap (a point carried forward from a smaller budget may only be higher), and no serial
objective exceeds the frontier's upper bound; ``within_budget`` — every point's capex fits its
budget; ``nondecreasing``. RESULT: seconds of each (median of K runs), the ratio, the checks.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main(argv) -> dict:
    ap = argparse.ArgumentParser(prog="sweep")
    ap.add_argument("--n", type=int, default=12, help="budgets (2,500 万元 apart)")
    ap.add_argument("--time-limit", type=float, default=30.0, help="solver time limit per budget (s)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each cluster size (the median is reported)")
    a = ap.parse_args(argv)
    from planner import pipeline
    from planner.pipeline.stations import siting_problem
    from planner.programme.frontier import budget_frontier
    from planner.scenario import load_scenario
    from planner.stations.plan import solve_problem

    sc = load_scenario(ROOT / "scenarios" / "yizhuang.toml")
    net = pipeline.load_network(sc)
    plants, suppliers = pipeline.load_sites(sc, net)
    t0 = time.perf_counter()
    problem, _info = siting_problem(sc, net, plants, suppliers)
    print(f"problem prepared in {time.perf_counter() - t0:.1f} s: {len(problem.candidates)} candidates, "
          f"capex_model = {sc.siting.capex_model}")
    budgets = [2500.0 * (k + 1) for k in range(a.n)]
    gap = sc.siting.mip_gap
    times: dict[int, list[float]] = {1: [], 2: []}
    tables = {}
    for _ in range(a.repeat):
        for w in (1, 2):
            t0 = time.perf_counter()
            table, _plans = budget_frontier(problem, budgets, n_workers=w, time_limit=a.time_limit, mip_gap=gap)
            times[w].append(time.perf_counter() - t0)
            tables[w] = table
    t0 = time.perf_counter()
    serial = [solve_problem(replace(problem, budget_wan=b), time_limit=a.time_limit, mip_gap=gap).result
              for b in budgets]
    serial_s = time.perf_counter() - t0
    one, two = tables[1], tables[2]
    s_obj = np.array([r.objective for r in serial])
    s_gap = np.array([r.gap for r in serial])
    print(two[["budget_wan", "objective", "bound", "status", "gap", "budget_used_wan"]].assign(serial=s_obj)
          .to_string(index=False))
    obj1, obj2 = one.objective.to_numpy(float), two.objective.to_numpy(float)
    tol = np.maximum.reduce([one.gap.fillna(0).to_numpy(), two.gap.fillna(0).to_numpy(), s_gap,
                             np.full(len(budgets), gap)]) * np.abs(s_obj) + 1e-9
    same = bool(np.all(np.abs(obj1 - obj2) <= tol))
    carried = two.carried_from.notna().to_numpy()
    solved_equal = np.abs(obj2 - s_obj) <= tol
    carried_ok = obj2 >= s_obj - tol
    bound = two.bound.to_numpy(float) if "bound" in two else np.full(len(budgets), np.inf)
    as_serial = bool(np.all(np.where(carried, carried_ok, solved_equal)) and np.all(s_obj <= bound + tol))
    within = bool(np.all(two.budget_used_wan.to_numpy(float) <= two.budget_wan.to_numpy(float) + 1e-6))
    nondecreasing = bool(np.all(np.diff(obj2) >= -1e-12))
    s1, s2 = statistics.median(times[1]), statistics.median(times[2])
    return {"scenarios": a.n, "capex_model": sc.siting.capex_model, "workers1_s": round(s1, 1),
            "workers2_s": round(s2, 1), "ratio": round(s1 / s2, 2), "serial_s": round(serial_s, 1),
            "same_objectives": same, "matches_serial": as_serial, "carried": int(carried.sum()),
            "within_budget": within, "nondecreasing": nondecreasing, "cores": os.cpu_count()}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
