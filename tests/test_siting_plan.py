"""The scenario station plan (planner.stations.plan) on a tiny synthetic scenario: the station cap
of a technology, the exported problem, the demand used by site-list comparison and the shares
a comparison reports for the run's own stations."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from planner import compare as C
from planner.errors import InputError, SolverError
from planner.pipeline import stations as glue
from planner.pipeline.write import write_problem, write_station_plan
from planner.stations import plan
from planner.stations.problem import FLOW_DEMAND_COLUMNS
from planner.technology import Technology
from tests._helpers import LAT0, LON0, STEP
from tests._helpers import load_siting as _load
from tests._helpers import siting_scenario as _siting_scenario


@pytest.fixture
def tiny_siting(tmp_path):
    return _load(_siting_scenario(tmp_path / "s"))


def _frame(df):
    return pd.DataFrame(df.drop(columns="geometry", errors="ignore")).reset_index(drop=True)


# ------------------------------------------------------------------------------ problem_demand
def test_problem_demand_equals_the_problem_s_demand_without_building_it(tiny_siting, monkeypatch):
    sc, net, plants, suppliers = tiny_siting
    problem = glue.build_problem(sc, net, plants, suppliers)
    # the competitor at (5,0) lies on a shortest path of S3 (5,5) → P1 (0,0) and within two
    # blocks of the mall at (5,1): both leave the demand, the rest is renormalised
    assert problem.info["h2_demand_served_by_competitors"] == 1
    assert problem.info["hpc_demand_served_by_competitors"] == 1

    read = []
    real_load = glue.load_candidates
    monkeypatch.setattr(glue, "load_candidates", lambda sc_, sources=None: read.append(sources) or real_load(sc_, sources))
    monkeypatch.setattr(glue, "score_for_scenario", lambda *a, **k: pytest.fail("problem_demand scored candidates"))
    demand = glue.problem_demand(sc, net, plants, suppliers)
    assert read == [["rivals"]]  # only the competitor source is read (and routed)

    assert list(demand) == list(problem.demand)
    for t, g in demand.items():
        want = problem.demand[t]
        cols = ["demand_id", "weight"] + (FLOW_DEMAND_COLUMNS if t == "h2" else [])
        assert list(g.columns) == cols + ["geometry"]
        pd.testing.assert_frame_equal(_frame(g), _frame(want[cols]))
        assert g.geometry.geom_equals(want.geometry).all()
        assert g.weight.sum() == pytest.approx(1.0)
        assert (g.weight == 0).sum() == 1  # the competitor's
    assert demand["h2"].attrs["profile"] == "offpeak"


# ------------------------------------------------------------------------------ compare = run
def test_compare_of_the_run_s_own_stations_reports_the_run_s_shares(tiny_siting, tmp_path):
    sc, net, plants, suppliers = tiny_siting
    stations = plan.solve_problem(glue.build_problem(sc, net, plants, suppliers), time_limit=20)
    res = stations.result
    sel = stations.selected_sites()
    run_share = res.covered_share
    assert run_share["h2"] > 0 and run_share["hpc"] > 0 and len(sel[sel.technology == "h2"])

    demand = glue.problem_demand(sc, net, plants, suppliers)
    ev = C.evaluate_list(net, sel, demand, sc.siting.technologies, max_snap_m=sc.network.max_snap_m)
    share = ev.summary.set_index("technology").share
    for t in ("h2", "hpc"):
        assert share[t] == pytest.approx(run_share[t], abs=1e-12), t
    # per flow: served by the station the detour rule picks, covered exactly as in the run
    a = ev.assignment[ev.assignment.technology == "h2"].set_index("demand_id")
    cov = pd.Series(res.covered_by_tech["h2"] > 0.5, index=stations.problem.demand["h2"].demand_id.to_numpy())
    assert a.covered.to_dict() == cov.to_dict()

    # the old rule (drive from the flow's origin to the station) reports less: this test
    # tells the two apart
    points_only = {t: g.drop(columns=FLOW_DEMAND_COLUMNS, errors="ignore") for t, g in demand.items()}
    old = C.evaluate_list(net, sel, points_only, sc.siting.technologies).summary.set_index("technology").share
    assert old["h2"] < run_share["h2"] - 1e-9

    # the run's list against itself (lon/lat as written to selected_sites.csv): the same shares
    # on both sides
    d = write_station_plan(stations, tmp_path / "run")
    listed = pd.read_csv(d / "selected_sites.csv", encoding="utf-8-sig", dtype={"site_id": str})
    cmp = C.compare_site_lists(net, listed, listed, demand, sc.siting.technologies,
                               max_snap_m=sc.network.max_snap_m)
    s = cmp.summary.set_index("technology")
    for t in ("h2", "hpc"):
        assert s.loc[t, "share_a"] == pytest.approx(run_share[t], abs=1e-12)
        assert s.loc[t, "share_b"] == pytest.approx(run_share[t], abs=1e-12)
    assert cmp.reassigned.empty


def test_flow_demand_timed_with_another_profile_is_refused(tiny_siting):
    sc, net, plants, suppliers = tiny_siting
    demand = glue.problem_demand(sc, net, plants, suppliers)
    sites = pd.DataFrame({"site_id": ["K1"], "technology": ["h2"], "lon": [LON0 + STEP], "lat": [LAT0]})
    techs = {"h2": Technology(capex_wan=100, radius_min=0.05, profile="peak")}
    with pytest.raises(InputError, match="timed with profile 'offpeak', not 'peak'"):
        C.evaluate_list(net, sites, {"h2": demand["h2"]}, techs)


# ------------------------------------------------------------------------------ max_stations
def _n(res, t):
    return len(res.selected_by_tech[t])


def test_scenario_max_stations_caps_the_plan_and_the_exported_problem(tmp_path):
    free = _load(_siting_scenario(tmp_path / "free", hpc_extra="min_spacing_m = 0"))
    res_free = plan.solve_problem(glue.build_problem(*free), time_limit=20).result
    assert _n(res_free, "hpc") > 1  # the budget (300) buys more than one charging station

    sc, net, plants, suppliers = _load(_siting_scenario(tmp_path / "cap", hpc_extra="max_stations = 1"))
    assert sc.siting.technologies["hpc"].max_stations == 1
    problem = glue.build_problem(sc, net, plants, suppliers)
    assert problem.technologies["hpc"].max_stations == 1
    for method in ("exact", "heuristic"):
        res = plan.solve_problem(problem, time_limit=20, method=method).result
        assert _n(res, "hpc") == 1, method
        assert res.capex <= 300 + 1e-9
    res = plan.solve_problem(problem, time_limit=20).result
    assert res.objective < res_free.objective - 1e-9
    # the exported problem keeps the cap and re-solves to the same objective
    write_problem(problem, tmp_path / "problem")
    meta = json.loads((tmp_path / "problem" / "problem.json").read_text(encoding="utf-8"))
    assert meta["technologies"]["hpc"]["max_stations"] == 1
    again = glue.solve_exported(tmp_path / "problem", time_limit=20)
    assert again.objective == pytest.approx(res.objective, abs=1e-9)
    assert len(again.selected_by_tech["hpc"]) == 1


def test_scenario_max_stations_zero_opens_none(tmp_path):
    sc, net, plants, suppliers = _load(_siting_scenario(tmp_path / "s", h2_extra="max_stations = 0"))
    problem = glue.build_problem(sc, net, plants, suppliers)
    res = plan.solve_problem(problem, time_limit=20).result
    assert _n(res, "h2") == 0 and res.covered_share["h2"] == 0.0
    assert _n(res, "hpc") >= 1
    write_problem(problem, tmp_path / "problem")
    again = glue.solve_exported(tmp_path / "problem", time_limit=20)
    assert len(again.selected_by_tech["h2"]) == 0
    assert again.objective == pytest.approx(res.objective, abs=1e-9)


def test_scenario_max_stations_against_a_target_is_a_clear_error(tmp_path):
    # all lots together cover 75 % of the charging demand, which the budget can buy ...
    free = _load(_siting_scenario(tmp_path / "free", hpc_extra="target_share = 0.75"))
    assert plan.solve_problem(glue.build_problem(*free), time_limit=20).result.covered_share["hpc"] >= 0.75
    # ... but one station cannot
    sc, net, plants, suppliers = _load(_siting_scenario(
        tmp_path / "s", hpc_extra="max_stations = 1\ntarget_share = 0.75"))
    problem = glue.build_problem(sc, net, plants, suppliers)
    for method in ("auto", "exact", "heuristic"):
        with pytest.raises(SolverError, match=r"coverage targets \(hpc >= 75 %\).*max_stations: hpc <= 1"):
            plan.solve_problem(problem, time_limit=20, method=method)
