"""Phasing to 2028: a station programme year by year (nested by construction), the myopic
year-by-year comparison, and robustness over demand-growth scenarios on Dask."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from planner import outputs
from planner.errors import SolverError
from planner.maps import save_map
from planner.maps.programme import phasing_map
from planner.outputs import RunLayout
from planner.siting.phased import PhasedMix, PhasedPlan

from .engine import TaskFailed, cluster_client, run_tasks

__all__ = ["phase_programme", "robustness", "growth_matrix", "plan_tables", "write_phasing"]


def growth_matrix(years: list, technologies: list[str], growth: dict) -> np.ndarray:
    """Demand multipliers (years x technologies) from ``{tech: [factor per year]}`` or
    ``{tech: annual_rate}`` (compounded from the first year); 1 where a technology is absent."""
    G = np.ones((len(years), len(technologies)))
    for k, t in enumerate(technologies):
        g = growth.get(t)
        if g is None:
            continue
        if np.ndim(g) == 0:
            G[:, k] = (1.0 + float(g)) ** np.arange(len(years))
        else:
            g = np.asarray(g, float)
            if g.size != len(years):
                raise ValueError(f"growth of '{t}' has {g.size} values for {len(years)} years")
            G[:, k] = g
    return G


def _model(problem, years, budgets, growth: dict, carry_over: bool) -> PhasedMix:
    mix = problem.model()
    G = growth_matrix(years, [t.name for t in mix.techs], growth)
    return PhasedMix(mix, budgets, growth=G, periods=years, carry_over=carry_over)


def phase_programme(problem, years, budgets, growth: dict, carry_over: bool = False,
                    time_limit: float = 120.0, mip_gap: float = 1e-3) -> tuple[PhasedPlan, PhasedPlan, PhasedMix]:
    """Solve the programme and the myopic one; returns ``(programme, myopic, model)``."""
    model = _model(problem, years, budgets, growth, carry_over)
    myopic = model.myopic(time_limit=time_limit / 3, mip_gap=mip_gap)
    plan = model.solve(time_limit=time_limit, mip_gap=mip_gap, start=myopic)
    return plan, myopic, model


def _solve_scenario(item, problem=None):
    name, years, budgets, growth, carry_over, time_limit, mip_gap = item
    plan, _myopic, _model_ = phase_programme(problem, years, budgets, growth, carry_over, time_limit, mip_gap)
    return {"name": name, "open_pairs": plan.open_pairs, "objective": plan.objective, "status": plan.status}


def robustness(problem, years, budgets, scenarios: dict, carry_over: bool = False, client=None,
               scheduler: str | None = None, n_workers: int | None = None, time_limit: float = 120.0,
               mip_gap: float = 1e-3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One programme per growth scenario (on the cluster), each evaluated under every scenario.

    ``scenarios``: ``{name: {"growth": {...}, "weight": w}}``. Returns ``(plans, sites)``:
    per plan its value under each scenario, the expected value (scenario weights), and its
    regret (best value of a scenario minus the plan's, maximum and expected); per station
    (site, technology) the weighted share of scenario plans that open it by the last year.
    """
    names = list(scenarios)
    items = [(n, list(years), list(budgets), scenarios[n].get("growth", {}), carry_over, time_limit, mip_gap)
             for n in names]

    def go(c):
        return run_tasks(c, _solve_scenario, items, shared={"problem": problem})

    if client is not None:
        results = go(client)
    else:
        with cluster_client(scheduler, n_workers) as c:
            results = go(c)
    failed = [f"{n}: {r.get('error')}" for n, r in zip(names, results) if isinstance(r, TaskFailed)]
    if failed:
        raise SolverError("robustness: scenario programme(s) failed: " + "; ".join(failed))
    w = np.array([float(scenarios[n].get("weight", 1.0)) for n in names])
    w = w / w.sum()
    models = {n: _model(problem, years, budgets, scenarios[n].get("growth", {}), carry_over) for n in names}
    V = np.array([[models[s].evaluate(r["open_pairs"]).sum() for s in names] for r in results])
    best = V.max(axis=0)  # each scenario's best value among the plans (its own plan is optimal)
    regret = best[None, :] - V
    plans = pd.DataFrame({"plan": names, "expected_value": V @ w, "max_regret": regret.max(axis=1),
                          "expected_regret": regret @ w})
    for j, s in enumerate(names):
        plans[f"value_{s}"] = V[:, j]
    mix = models[names[0]].mix
    last = np.array([r["open_pairs"][-1] for r in results])  # (scenarios, pairs)
    freq = w @ last
    used = np.flatnonzero(freq > 0)
    ids = mix.site_ids
    sites = pd.DataFrame({"site_id": [ids[mix.pair_site[p]] for p in used],
                          "technology": [mix.techs[mix.pair_tech[p]].name for p in used],
                          "chosen_share": freq[used]}).sort_values(["chosen_share", "site_id"], ascending=[False, True])
    return plans, sites.reset_index(drop=True)


def plan_tables(plan: PhasedPlan, myopic: PhasedPlan, problem) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(stations, years)``: the programme's stations with the year they open (name, lon, lat),
    and per year the programme's and the myopic plan's coverage, spend and stations."""
    c = problem.candidates.set_index("candidate_id")
    st = pd.DataFrame(plan.stations)
    if len(st):
        st["name"] = c.loc[st.site_id, "name"].to_numpy()
        st["lon"] = c.loc[st.site_id, "lon"].to_numpy()
        st["lat"] = c.loc[st.site_id, "lat"].to_numpy()
        st = st.drop(columns="site").sort_values(["opened", "technology", "site_id"]).reset_index(drop=True)
    rows = []
    for kind, p in (("programme", plan), ("myopic", myopic)):
        acc = 0.0
        for per in p.by_period:
            acc += per["objective"]
            row = {"plan": kind, "year": per["period"], "budget_wan": per["budget"], "spent_wan": per["spent"],
                   "objective": per["objective"], "accumulated": acc}
            row.update({f"share_{t}": v for t, v in per["covered_share"].items()})
            row.update({f"stations_{t}": v for t, v in per["stations"].items()})
            rows.append(row)
    return st, pd.DataFrame(rows)


def write_phasing(plan: PhasedPlan, myopic: PhasedPlan, problem, folder, language: str = "en") -> list[Path]:
    """``phasing/stations.csv``, ``phasing/years.csv`` and ``phasing/map.html`` (a layer per year)."""

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    st, years = plan_tables(plan, myopic, problem)
    files = [folder / p.name for p in (RunLayout.PHASING_STATIONS, RunLayout.PHASING_YEARS, RunLayout.PHASING_MAP)]
    outputs.write_csv(st, files[0])
    outputs.write_csv(years, files[1])
    save_map(phasing_map(st, language=language), files[2])
    return files
