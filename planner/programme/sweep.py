"""Scenario sweeps: every combination of a grid of scenario settings, run on Dask.

``planner sweep SCENARIO --grid siting.budget_wan=5000:30000:2500 --grid ...`` runs each
combination as a full scenario run into ``OUT/scenarios/<key>/``, writes one row per scenario
into ``OUT/results.csv`` (the varied inputs and the key figures) and a chart per varied key.
A finished scenario leaves ``sweep_result.json`` beside its outputs, written last: a sweep
started again skips those (resume), so an interrupted sweep never redoes finished work.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib
import pandas as pd

from planner import outputs, pipeline
from planner._charts import font_rc
from planner.scenario import Scenario, scenario_from_dict

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .engine import TaskFailed, cluster_client, run_tasks
from .grid import apply_overrides, combinations, scenario_key

__all__ = ["run_sweep", "key_figures", "RESULT_FILE"]

#: written last into each scenario's folder; its presence means "finished"
RESULT_FILE = "sweep_result.json"

#: keys that change the road network (a sweep over them cannot share one network)
_NETWORK_KEYS = ("network.", "profiles.", "restrictions")


def key_figures(run_dir: Path) -> dict:
    """The figures a sweep compares, read from a finished run folder."""
    run_dir = Path(run_dir)
    out: dict = {}
    manifest = run_dir / "run.json"
    if manifest.exists():
        m = json.loads(manifest.read_text(encoding="utf-8"))
        out["run_s"] = m.get("total_s")
        out["warnings"] = len(m.get("warnings", []))
    ps = run_dir / "coverage" / "plant_summary.csv"
    if ps.exists():
        df = pd.read_csv(ps, encoding="utf-8-sig")
        share = "share_covered" if "share_covered" in df.columns else None
        if share and "profile" in df.columns:
            for prof, g in df.groupby("profile"):
                out[f"coverage_share_{prof}"] = float(g[share].mean())
    summary = run_dir / "siting" / "summary.json"
    if summary.exists():
        s = json.loads(summary.read_text(encoding="utf-8"))
        for k in ("objective", "bound", "gap", "status", "budget", "budget_used"):
            out[f"siting_{k}"] = s.get(k)
        for t, n in (s.get("stations") or {}).items():
            out[f"stations_{t}"] = n
        for t, v in (s.get("covered_share") or {}).items():
            out[f"share_{t}"] = v
    return out


def _run_one(task: dict, net=None) -> dict:
    """One scenario of the sweep (runs on a worker)."""
    base = scenario_from_dict(task["scenario"], base_dir=task["base_dir"], source_path=task["source_path"])
    sc = apply_overrides(base, task["overrides"])
    folder = Path(task["folder"])
    sc.scenario.output = str(folder)
    run_dir = pipeline.run(sc, quiet=True, net=net)
    row = {"status": "ok", **key_figures(run_dir)}
    outputs.write_json(outputs.clean_for_json({"overrides": task["overrides"], **row}), folder / RESULT_FILE)
    return row


def _done(folder: Path, overrides: dict) -> dict | None:
    f = folder / RESULT_FILE
    if not f.exists():
        return None
    try:
        data = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if data.get("overrides") != json.loads(json.dumps(overrides)):
        return None
    data.pop("overrides")
    return data


def run_sweep(sc: Scenario, grid: dict[str, list], out_dir, scheduler: str | None = None,
              n_workers: int | None = None, resume: bool = True, quiet: bool = True, client=None) -> pd.DataFrame:
    """Run every combination of ``grid`` over ``sc``; returns (and writes) the results table.

    Parameters
    ----------
    sc : Scenario
        The base scenario.
    grid : dict
        Dotted scenario key -> values (see :func:`planner.programme.grid.parse_grid`).
    out_dir : path
        Sweep folder: ``results.csv``, ``sweep.json``, charts, ``scenarios/<key>/``.
    scheduler : str, optional
        Address of an existing Dask scheduler; a local cluster when ``None``.
    n_workers : int, optional
        Workers of the local cluster (one per core when ``None``).
    client : distributed.Client, optional
        Run on this client instead (``scheduler`` and ``n_workers`` are then unused).
    resume : bool
        Skip combinations whose folder already holds a finished result.
    """
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    combos = combinations(grid)
    for c in combos:  # refuse bad keys before any work starts
        apply_overrides(sc, c)
    base = sc.model_dump(mode="json")
    tasks, rows = [], [None] * len(combos)
    for i, c in enumerate(combos):
        key = scenario_key(c)
        folder = out_dir / "scenarios" / key
        done = _done(folder, c) if resume else None
        if done is not None:
            rows[i] = {"scenario": key, **c, **done, "resumed": True}
        else:
            tasks.append((i, {"scenario": base, "base_dir": str(sc.base_dir),
                              "source_path": str(sc.source_path) if sc.source_path else None,
                              "overrides": c, "folder": str(folder)}))
    outputs.write_json(outputs.clean_for_json({"scenario": sc.scenario.name, "grid": grid,
                                               "combinations": len(combos)}), out_dir / "sweep.json")
    if not quiet:
        print(f"sweep: {len(combos)} scenario(s), {len(combos) - len(tasks)} already done", flush=True)
    if tasks:
        shared = {}
        if not any(k.startswith(_NETWORK_KEYS) for k in grid):
            shared["net"] = pipeline.load_network(sc)  # read once, sent to each worker once

        def record(j: int, res):
            i, task = tasks[j]
            c = task["overrides"]
            row = {"scenario": scenario_key(c), **c, **dict(res), "resumed": False}
            rows[i] = row
            if not quiet:
                state = res.get("error") if isinstance(res, TaskFailed) else "ok"
                print(f"  {row['scenario']} {c}: {state}", flush=True)

        todo = [t for _, t in tasks]
        if client is not None:
            run_tasks(client, _run_one, todo, shared=shared, on_result=record)
        else:
            with cluster_client(scheduler, n_workers) as c:
                run_tasks(c, _run_one, todo, shared=shared, on_result=record)
    table = pd.DataFrame(rows)
    if "error" not in table.columns:
        table["error"] = None
    outputs.write_csv(table, out_dir / "results.csv")
    _charts(table, list(grid), out_dir)
    return table


def _charts(table: pd.DataFrame, keys: list[str], out_dir: Path) -> None:
    """One chart per varied numeric key: the key figures against it (other keys as lines)."""
    figures = [c for c in table.columns if c.startswith(("share_", "coverage_share_"))] or \
        [c for c in ("siting_objective",) if c in table.columns]
    ok = table[table.get("status") == "ok"] if "status" in table.columns else table
    for key in keys:
        vals = pd.to_numeric(ok[key], errors="coerce") if key in ok.columns else None
        if vals is None or vals.isna().all() or not figures:
            continue
        plt.rcParams.update(font_rc())
        fig, ax = plt.subplots(figsize=(7, 4))
        others = [k for k in keys if k != key]
        groups = ok.groupby(others, dropna=False) if others else [((), ok)]
        for gkey, g in groups:
            g = g.sort_values(key)
            for f in figures:
                values = gkey if isinstance(gkey, tuple) else (gkey,)
                label = f if not others else f"{f} ({', '.join(map(str, values))})"
                ax.plot(pd.to_numeric(g[key]), pd.to_numeric(g[f], errors="coerce"), marker="o", label=label)
        ax.set_xlabel(key)
        ax.set_ylabel("share covered")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=max(1, math.ceil(len(figures) / 6)))
        ax.set_title(f"Sweep over {key}")
        fig.tight_layout()
        with outputs.atomic_path(out_dir / f"sweep_{key.replace('.', '_')}.png") as tmp:
            fig.savefig(tmp, dpi=120, format="png")
        plt.close(fig)
