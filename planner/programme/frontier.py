"""Budget frontier: covered demand per technology against budget, from parametric solves.

Each budget is one task on the Dask cluster; the prepared siting problem goes to each worker
once. The best plan of a smaller budget is also a plan of every larger one, so where a solve
(stopped by its gap or time limit) comes out below the point before it, that point's plan is
carried forward and marked ``carried_from``: the frontier is non-decreasing by construction
and every point is a plan that fits its budget.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from planner import outputs
from planner._charts import font_rc
from planner.maps.labels import technology_label
from planner.outputs import RunLayout
from planner.stations.plan import solve_problem

from .engine import TaskFailed, cluster_client, run_tasks

__all__ = ["budget_frontier", "frontier_table", "write_frontier"]


def _solve_budget(budget: float, problem=None, time_limit: float = 60.0, mip_gap: float = 1e-3) -> dict:
    """Solve the station plan of ``problem`` at ``budget`` (runs on a worker)."""
    plan = solve_problem(replace(problem, budget_wan=float(budget)), time_limit=time_limit, mip_gap=mip_gap)
    res = plan.result
    return {"budget_wan": float(budget), "objective": float(res.objective), "bound": float(res.bound),
            "gap": float(res.gap), "status": res.status, "budget_used_wan": float(res.capex),
            "covered_share": {k: float(v) for k, v in res.covered_share.items()},
            "stations": {t: int(len(v)) for t, v in res.selected_by_tech.items()},
            "pairs": [(str(plan.problem.candidates.candidate_id.iloc[s]), t) for s, t in res.pairs]}


def budget_frontier(problem, budgets, client=None, scheduler: str | None = None, n_workers: int | None = None,
                    time_limit: float = 60.0, mip_gap: float = 1e-3) -> tuple[pd.DataFrame, dict]:
    """Solve ``problem`` at every budget; returns ``(table, plans)``.

    ``plans`` maps each budget to its ``(candidate_id, technology)`` stations. See
    :func:`frontier_table` for the columns.
    """
    budgets = sorted({float(b) for b in budgets})
    kw = {"problem": problem}

    def solve(c):
        return run_tasks(c, _solve_one, [(b, time_limit, mip_gap) for b in budgets], shared=kw)

    if client is not None:
        results = solve(client)
    else:
        with cluster_client(scheduler, n_workers) as c:
            results = solve(c)
    weights = {t: float(spec.weight) for t, spec in problem.technologies.items()}
    return frontier_table(budgets, results, weights)


def _solve_one(item, problem=None):
    budget, time_limit, mip_gap = item
    return _solve_budget(budget, problem=problem, time_limit=time_limit, mip_gap=mip_gap)


def frontier_table(budgets, results, weights: dict) -> tuple[pd.DataFrame, dict]:
    """Frontier rows from per-budget results (made non-decreasing, marginals and knee marked).

    Columns: ``budget_wan``, ``objective`` (weighted coverage), ``bound`` (the solver's upper bound
    on the objective at this budget), ``weighted_share`` (objective over
    its maximum, the sum of technology weights), ``share_<tech>``, ``stations_<tech>``,
    ``budget_used_wan``, ``status``, ``gap``, ``carried_from``, ``marginal_per_wan`` (objective
    gained per 万元 since the previous point), ``wan_per_point`` (万元 per percentage point of
    weighted coverage since the previous point), ``knee`` (True at the knee), ``error``.
    """
    max_obj = sum(weights.values()) or 1.0
    rows, plans = [], {}
    best = None
    for b, res in zip(budgets, results):
        if isinstance(res, TaskFailed) or res is None:
            rows.append({"budget_wan": b, "status": "failed", "error": (res or {}).get("error")})
            continue
        carried, bound = None, res["bound"]
        if best is not None and res["objective"] < best["objective"] - 1e-12:
            carried = best["budget_wan"]
            res = {**best, "budget_wan": b, "status": f"carried ({best['status']})"}
        row = {"budget_wan": b, "objective": res["objective"], "bound": bound,
               "weighted_share": res["objective"] / max_obj, "budget_used_wan": res["budget_used_wan"],
               "status": res["status"], "gap": res["gap"], "carried_from": carried, "error": None}
        for t, v in res["covered_share"].items():
            row[f"share_{t}"] = v
        for t, v in res["stations"].items():
            row[f"stations_{t}"] = v
        rows.append(row)
        plans[b] = res["pairs"]
        if best is None or res["objective"] >= best["objective"]:
            best = {**res, "budget_wan": b}
    table = pd.DataFrame(rows)
    ok = table["objective"].notna() if "objective" in table else pd.Series(False, index=table.index)
    table["marginal_per_wan"] = np.nan
    table["wan_per_point"] = np.nan
    table["knee"] = False
    if ok.sum() >= 2:
        t = table[ok]
        db = t.budget_wan.diff()
        dobj = t.objective.diff()
        table.loc[ok, "marginal_per_wan"] = (dobj / db).to_numpy()
        dpts = 100 * t.weighted_share.diff()
        table.loc[ok, "wan_per_point"] = np.where(dpts > 1e-12, db / dpts.where(dpts > 1e-12), np.inf)
        table.loc[table.index[ok][0], ["marginal_per_wan", "wan_per_point"]] = np.nan
        table.loc[_knee(t.budget_wan.to_numpy(), t.objective.to_numpy(), t.index), "knee"] = True
    return table, plans


def _knee(x: np.ndarray, y: np.ndarray, index) -> list:
    """The knee of an increasing concave curve: the point farthest above the chord (Kneedle)."""
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return []
    xn = (x - x.min()) / np.ptp(x)
    yn = (y - y.min()) / np.ptp(y)
    d = yn - xn
    k = int(np.argmax(d))
    return [index[k]] if d[k] > 0 else []


def write_frontier(table: pd.DataFrame, folder, language: str = "en") -> list[Path]:
    """``frontier.csv`` and ``frontier.png`` (coverage per technology against budget, knee marked)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    outputs.write_csv(table, folder / RunLayout.FRONTIER_TABLE.name)
    ok = table[table["objective"].notna()] if "objective" in table else table.iloc[0:0]
    zh = language == "zh"
    plt.rcParams.update(font_rc())
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for c in [c for c in table.columns if c.startswith("share_")]:
        ax.plot(ok.budget_wan, 100 * ok[c], marker="o", label=technology_label(c[len("share_"):], language))
    ax.plot(ok.budget_wan, 100 * ok.weighted_share, color="black", lw=2, marker="s",
            label="加权目标" if zh else "weighted objective")
    knee = ok[ok.knee]
    if len(knee):
        kb = float(knee.budget_wan.iloc[0])
        ax.axvline(kb, color="grey", ls="--")
        ax.annotate(("拐点 " if zh else "knee ") + f"{kb:,.0f}", (kb, 100 * float(knee.weighted_share.iloc[0])),
                    textcoords="offset points", xytext=(6, -14))
    ax.set_xlabel("预算 (万元)" if zh else "budget (万元 = 10,000 CNY)")
    ax.set_ylabel("覆盖率 (%)" if zh else "demand covered (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("预算前沿" if zh else "Budget frontier")
    fig.tight_layout()
    with outputs.atomic_path(folder / RunLayout.FRONTIER_CHART.name) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return [folder / RunLayout.FRONTIER_TABLE.name, folder / RunLayout.FRONTIER_CHART.name]
