"""Programmes on Dask: grids, scenario sweeps (resume, failures), the budget frontier against
serial solves, phasing against the myopic plan, on a local cluster and on a scheduler and two
workers started here as separate processes on 127.0.0.1."""
from __future__ import annotations

import json
import socket
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from planner import pipeline
from planner.errors import ScenarioError
from planner.pipeline.stations import build_problem
from planner.programme import frontier as F
from planner.programme import phasing as P
from planner.programme.engine import TaskFailed, cluster_client, run_tasks
from planner.programme.grid import apply_overrides, combinations, parse_grid, parse_values
from planner.programme.sweep import RESULT_FILE, run_sweep
from planner.scenario import load_scenario
from planner.stations import plan
from tests._helpers import load_siting as _load
from tests._helpers import siting_scenario as _siting_scenario


# ------------------------------------------------------------------------------ grids
def test_values_ranges_and_lists():
    assert parse_values("5000:30000:2500") == list(range(5000, 30001, 2500))
    assert parse_values("0.5:0.8:0.15") == [0.5, 0.65, 0.8]
    assert parse_values("0.5,0.65,0.8") == [0.5, 0.65, 0.8]
    assert parse_values("true,false") == [True, False]
    for bad in ("", "5:1:1", "1:5:0", "a:b:c"):
        with pytest.raises(ValueError):
            parse_values(bad)
    grid = parse_grid(["siting.budget_wan=100:300:100", "profiles.peak.factors.default=0.5,0.7"])
    assert combinations(grid) == [{"siting.budget_wan": b, "profiles.peak.factors.default": f}
                                  for b in (100, 200, 300) for f in (0.5, 0.7)]
    with pytest.raises(ScenarioError, match="KEY=VALUES"):
        parse_grid(["siting.budget_wan"])


def test_overrides_are_validated_like_a_scenario_file(tmp_path):
    sc = load_scenario(_siting_scenario(tmp_path / "s"))
    new = apply_overrides(sc, {"siting.budget_wan": 150, "profiles.peak.factors.default": 0.7})
    assert new.siting.budget_wan == 150 and new.profiles["peak"].factors["default"] == 0.7
    assert sc.siting.budget_wan == 300  # the base is untouched
    with pytest.raises(ScenarioError, match="siting.budget_wan"):
        apply_overrides(sc, {"siting.budget_wan": -1})
    with pytest.raises(ScenarioError, match="nosuch"):
        apply_overrides(sc, {"nosuch.key": 1})
    with pytest.raises(ScenarioError, match="unknown key"):
        apply_overrides(sc, {"siting.budget_typo": 1})


# ------------------------------------------------------------------------------ clusters
@pytest.fixture(scope="module")
def local_client():
    with cluster_client(n_workers=2, memory_limit="2GB") as client:
        yield client


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def scheduler_address():
    """A scheduler and two workers as separate processes on 127.0.0.1 (stopped afterwards)."""
    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    common = ["--no-dashboard"]
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", str(port), *common], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for _ in range(2):
            procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", addr,
                                           "--nthreads", "1", "--nworkers", "1", "--host", "127.0.0.1",
                                           "--memory-limit", "2GB", *common],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(addr, timeout="30s") as c:
            c.wait_for_workers(2, timeout=60)
        yield addr
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def _boom(x, scale=None):
    if x == 2:
        raise ValueError("bad  input\nrow 2")
    return x * scale


def test_tasks_share_objects_and_failures_do_not_stop_the_rest(local_client):
    seen = []
    out = run_tasks(local_client, _boom, [1, 2, 3], shared={"scale": 10}, on_result=lambda i, r: seen.append(i))
    assert out[0] == 10 and out[2] == 30
    assert isinstance(out[1], TaskFailed) and out[1]["error"] == "ValueError: bad input row 2"
    assert sorted(seen) == [0, 1, 2]


# ------------------------------------------------------------------------------ frontier
@pytest.fixture(scope="module")
def tiny_problem(tmp_path_factory):
    sc, net, plants, suppliers = _load(_siting_scenario(tmp_path_factory.mktemp("frontier") / "s",
                                                        hpc_extra="min_spacing_m = 0"))
    return build_problem(sc, net, plants, suppliers)


BUDGETS = [50, 100, 150, 200, 250, 300, 350, 400, 450, 500, 550, 600]


def test_frontier_equals_serial_solves_and_never_decreases(tiny_problem, local_client, tmp_path):
    from dataclasses import replace

    table, plans = F.budget_frontier(tiny_problem, BUDGETS, client=local_client, time_limit=20, mip_gap=0)
    assert len(table) == 12 and table.status.str.startswith("optimal").all()
    serial = [plan.solve_problem(replace(tiny_problem, budget_wan=b), time_limit=20, mip_gap=0).result.objective
              for b in BUDGETS]
    assert table.objective.to_numpy() == pytest.approx(serial, abs=1e-9)
    assert np.all(np.diff(table.objective) >= -1e-12)
    assert (table.budget_used_wan <= table.budget_wan + 1e-9).all()
    assert table.knee.sum() <= 1
    files = F.write_frontier(table, tmp_path, language="zh")
    back = pd.read_csv(files[0], encoding="utf-8-sig")
    assert back.objective.to_numpy() == pytest.approx(table.objective.to_numpy())
    assert files[1].stat().st_size > 10_000


def test_frontier_carries_a_smaller_budget_s_better_plan():
    w = {"a": 1.0}

    def res(obj, status="time_limit"):
        return {"objective": obj, "bound": obj + 0.2, "budget_used_wan": 1.0, "status": status, "gap": 0.01,
                "covered_share": {"a": obj}, "stations": {"a": 1}, "pairs": [("K1", "a")]}

    table, plans = F.frontier_table([1, 2, 3], [res(0.5), res(0.4), res(0.7)], w)
    assert table.objective.tolist() == [0.5, 0.5, 0.7]
    assert table.carried_from.tolist()[1] == 1 and plans[2] == plans[1]
    assert table.bound.tolist() == pytest.approx([0.7, 0.6, 0.9])  # each budget's own bound


def test_frontier_on_a_scheduler_and_two_worker_processes(tiny_problem, scheduler_address):
    table, _ = F.budget_frontier(tiny_problem, BUDGETS[:4], scheduler=scheduler_address, time_limit=20, mip_gap=0)
    local, _ = F.budget_frontier(tiny_problem, BUDGETS[:4], n_workers=1, time_limit=20, mip_gap=0)
    assert table.objective.to_numpy() == pytest.approx(local.objective.to_numpy(), abs=1e-9)


# ------------------------------------------------------------------------------ phasing
def test_phases_are_nested_and_beat_the_myopic_plan(tiny_problem, tmp_path):
    years = [2026, 2027, 2028]
    growth = {"h2": 0.5, "hpc": [1.0, 1.25, 1.56]}
    prog, myopic, model = P.phase_programme(tiny_problem, years, [100, 100, 100], growth, time_limit=30, mip_gap=0)
    assert prog.is_nested() and myopic.is_nested()
    assert prog.objective >= myopic.objective - 1e-9
    assert np.all(model.spent(prog.open_pairs) <= 100 + 1e-9)
    files = P.write_phasing(prog, myopic, tiny_problem, tmp_path / "phasing", language="en")
    st = pd.read_csv(files[0], encoding="utf-8-sig")
    assert set(st.opened) <= set(years) and len(st) == int(prog.open_pairs[-1].sum())
    yrs = pd.read_csv(files[1], encoding="utf-8-sig")
    acc = yrs.groupby("plan").accumulated.max()
    assert acc["programme"] >= acc["myopic"] - 1e-9
    html = files[2].read_text(encoding="utf-8")
    assert "OpenStreetMap contributors" in html
    for y, n in st.groupby("opened").size().items():
        assert json.dumps(f"{y} \u00b7 {n}") in html  # one layer per year in the layer control


def test_robustness_each_scenario_s_own_plan_has_no_regret(tiny_problem, local_client):
    scen = {"low": {"growth": {"hpc": 0.0, "h2": 0.0}, "weight": 1},
            "high": {"growth": {"hpc": 1.0, "h2": 0.0}, "weight": 3}}
    plans, sites = P.robustness(tiny_problem, [2026, 2027], [100, 100], scen, client=local_client,
                                time_limit=20, mip_gap=0)
    v = plans.set_index("plan")
    assert v.loc["low", "value_low"] >= v.loc["high", "value_low"] - 1e-9
    assert v.loc["high", "value_high"] >= v.loc["low", "value_high"] - 1e-9
    assert (plans.max_regret >= -1e-12).all()
    assert sites.chosen_share.between(0, 1 + 1e-12).all()


# ------------------------------------------------------------------------------ sweeps
def test_sweep_runs_every_combination_resumes_and_reports_failures(tmp_path, local_client):
    path = _siting_scenario(tmp_path / "s", hpc_extra="min_spacing_m = 0")
    sc = apply_overrides(load_scenario(path), {"coverage.enabled": False})  # siting only: a lighter run
    grid = {"siting.budget_wan": [10, 150, 300], "siting.technologies.hpc.radius_min": [0.34]}
    out = tmp_path / "sweep"
    table = run_sweep(sc, grid, out, client=local_client)
    assert len(table) == 3
    failed = table[table.status == "failed"]
    assert set(failed["siting.budget_wan"]) == {10} and failed.error.str.contains("fits no station").all()
    ok = table[table.status == "ok"]
    assert len(ok) == 2 and ok.siting_objective.notna().all()
    assert ok.iloc[0].siting_objective < ok.iloc[1].siting_objective  # the budget matters here
    # a scenario equals a serial run with the same settings
    row = ok[ok["siting.budget_wan"] == 150].iloc[0]
    one = apply_overrides(sc, {"siting.budget_wan": 150, "siting.technologies.hpc.radius_min": 0.34})
    one.scenario.output = str(tmp_path / "serial")
    summary = json.loads((pipeline.run(one, quiet=True) / "siting" / "summary.json").read_text(encoding="utf-8"))
    assert row.siting_objective == pytest.approx(summary["objective"], abs=1e-9)
    assert (out / "results.csv").exists() and (out / "sweep_siting_budget_wan.png").exists()
    # resume: only the unfinished scenarios run again (failed ones are retried)
    first = row.scenario
    (out / "scenarios" / first / RESULT_FILE).unlink()
    again = run_sweep(sc, grid, out, client=local_client)
    ran = again[~again.resumed.astype(bool)]
    assert set(ran.scenario) == {first} | set(failed.scenario)
    assert again.set_index("scenario").loc[first, "siting_objective"] == pytest.approx(row.siting_objective)


def test_phase_command_writes_the_programme(tmp_path, capsys):
    from planner.cli import main

    path = _siting_scenario(tmp_path / "s", hpc_extra="min_spacing_m = 0")
    path.write_text(path.read_text() + '''
[programme]
years = [2026, 2027]
budgets_wan = [100, 150]
growth = { hpc = 0.25 }
time_limit_s = 20
''')
    assert main(["phase", str(path), "--out", str(tmp_path / "ph"), "--quiet"]) == 0
    summary = json.loads((tmp_path / "ph" / "summary.json").read_text(encoding="utf-8"))
    assert summary["programme"]["objective"] >= summary["myopic"]["objective"] - 1e-9
    assert [y["period"] for y in summary["programme"]["by_year"]] == [2026, 2027]
    assert all(y["spent"] <= b + 1e-9 for y, b in zip(summary["programme"]["by_year"], [100, 150]))
    path.write_text(path.read_text().replace("budgets_wan = [100, 150]", "budgets_wan = [100]"))
    assert main(["phase", str(path), "--quiet"]) == 2
    assert "budgets_wan has 1 values for 2 years" in capsys.readouterr().err
