"""Scenario sweep on Dask: the demo's budget frontier with 1 worker and with 2, in one run.

``python benchmarks/run.py sweep [--n N] [--time-limit S] [--repeat K]``

The demo's siting problem is built once; N budgets (2,500 … 2,500·N 万元) are solved as N tasks
on a fresh local cluster of 1 worker, then of 2 workers (cluster start-up and sending the
problem to the workers counted in the time), then one after the other in this process (the
serial reference). Each budget's objective must agree with the serial solve of that budget (to
the MIP gap) and the frontier must not decrease. RESULT: seconds of each (median of K runs),
the ratio, and the checks.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main(argv) -> dict:
    ap = argparse.ArgumentParser(prog="sweep")
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--time-limit", type=float, default=30.0)
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args(argv)
    from planner import pipeline
    from planner.programme.frontier import budget_frontier
    from planner.scenario import load_scenario
    from planner.pipeline.stations import build_problem
    from planner.stations.plan import solve_problem

    sc = load_scenario(ROOT / "scenarios" / "yizhuang.toml")
    net = pipeline.load_network(sc)
    plants, suppliers = pipeline.load_sites(sc, net)
    t0 = time.perf_counter()
    problem = build_problem(sc, net, plants, suppliers)
    print(f"problem built in {time.perf_counter() - t0:.1f} s: {len(problem.candidates)} candidates")
    budgets = [2500.0 * (k + 1) for k in range(a.n)]
    times, tables = {1: [], 2: []}, {}
    for _ in range(a.repeat):
        for w in (1, 2):
            t0 = time.perf_counter()
            table, _plans = budget_frontier(problem, budgets, n_workers=w, time_limit=a.time_limit,
                                            mip_gap=sc.siting.mip_gap)
            times[w].append(time.perf_counter() - t0)
            tables[w] = table
    from dataclasses import replace

    t0 = time.perf_counter()
    serial = np.array([solve_problem(replace(problem, budget_wan=b), time_limit=a.time_limit,
                                          mip_gap=sc.siting.mip_gap).result.objective for b in budgets])
    serial_s = time.perf_counter() - t0
    one, two = tables[1], tables[2]
    print(one[["budget_wan", "objective", "status", "gap"]].to_string(index=False))
    tol = np.maximum(one.gap.fillna(0), two.gap.fillna(0)) * np.abs(one.objective) + 1e-9
    same = bool(np.all(np.abs(one.objective - two.objective) <= tol + sc.siting.mip_gap * np.abs(one.objective)))
    # the frontier may carry a smaller budget's better plan forward: at least the serial solve
    gap = np.maximum(two.gap.fillna(0).to_numpy(), sc.siting.mip_gap)
    as_serial = bool(np.all(two.objective.to_numpy() >= serial * (1 - 2 * gap) - 1e-9))
    print("serial objectives:", np.round(serial, 6).tolist())
    nondecreasing = bool(np.all(np.diff(two.objective) >= -1e-12))
    s1, s2 = statistics.median(times[1]), statistics.median(times[2])
    return {"scenarios": a.n, "workers1_s": round(s1, 1), "workers2_s": round(s2, 1),
            "ratio": round(s1 / s2, 2), "serial_s": round(serial_s, 1), "same_objectives": same,
            "matches_serial": as_serial, "nondecreasing": nondecreasing,
            "cores": __import__("os").cpu_count()}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
