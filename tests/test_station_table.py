"""Sized capex, the station_sizes table, plan-table sizing, candidate capex and the defaults note."""
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from planner.errors import InputError
from planner.stations.costs import sized_capex, station_capex
from planner.stations.defaults import DEFAULTS, defaults_table
from planner.stations.table import (
    STATION_SIZE_COLUMNS,
    budget_check,
    candidate_capex,
    could_serve,
    size_station,
    size_stations,
)

ROOT = Path(__file__).resolve().parents[1]
D = replace(DEFAULTS, ev_sessions_per_day=4000.0)
# a flat PV shape (kW per kWp) so the table tests need no pvlib run: 12 days × 24 h, sun 8–16 h
PV_DAYS = (np.where((np.arange(24) >= 8) & (np.arange(24) < 16), 1010 / (365 * 8), 0.0)[None].repeat(12, 0),
           np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], float))


def test_sized_capex_by_component_from_cited_rates():
    hpc = sized_capex("ev", {"plugs": 6, "charger_kw": 600.0, "transformer_kva": 3200})
    # §4: 0.8 yuan/W → 48 万 per 600 kW plug; 3,200 kVA ≈ 48 万 installed; fixed 100 万 (guess)
    assert hpc["chargers"] == pytest.approx(6 * 48) and hpc["transformer"] == pytest.approx(48) and hpc["fixed"] == 100
    pv = sized_capex("pv", {"plugs": 2, "charger_kw": 600.0, "transformer_kva": 1000, "pv_kwp": 200, "storage_kwh": 1000})
    assert pv["pv"] == pytest.approx(200 * 0.3304) and pv["storage"] == pytest.approx(46.46)  # 3.304 元/W; 0.4646 元/Wh
    h2 = sized_capex("freight", {"h2_class_kg_day": 500})
    assert sum(h2.values()) == pytest.approx(1000)  # §3: a 500 kg/d fixed station ≈ 1,000 万
    flat = station_capex("ev", {}, "flat", 500.0)
    assert flat["capex_wan"] == 500 and np.isnan(flat["capex_chargers_wan"])
    with pytest.raises(InputError, match="capex_model"):
        station_capex("ev", {}, "lumpy", 500.0)
    with pytest.raises(InputError, match="unknown station kind"):
        sized_capex("tram", {})


def test_size_station_rows_and_energy_cost():
    row, warns, _ = size_station("ev", "p1", "hpc", daily_sessions=400.0, headroom_kva=2000, d=D)
    load_kwh_day = 400 * 40 / 0.95
    prof = np.asarray(D.arrival_profile)
    price = np.full(24, D.price_flat)
    price[list(D.peak_hours)] = D.price_peak
    price[list(D.valley_hours)] = D.price_valley
    crit = dict(D.critical_hours)
    # annual bill by hand: 365 days at the hourly price, critical hours in their months at 1.057777
    by_month = []
    for m, days in enumerate(PV_DAYS[1], start=1):
        p = price.copy()
        p[list(crit.get(m, ()))] = D.price_critical
        by_month.append(days * (p * prof).sum() * load_kwh_day)
    assert row["energy_cost_wan_year"] == pytest.approx(sum(by_month) / 1e4)
    assert row["peak_grid_kw_smart"] < row["peak_grid_kw_without_storage"]
    assert row["transformer_kva_smart"] <= row["transformer_kva_hourly_peak"]
    assert any("headroom" in w for w in warns) == (row["transformer_kva"] > 2000)


def test_pv_station_uses_canopy_kwp_and_reports_operation():
    row, _, res = size_station("pv", "k1", "pv_storage", daily_sessions=100.0, area_m2=2000.0, lat=39.8,
                               lon=116.5, d=D, pv_days=PV_DAYS)
    assert row["pv_kwp"] == pytest.approx(2000 * 0.20)
    assert row["pv_kwh_year"] == pytest.approx(400 * 1010, rel=1e-9)
    assert 0 <= row["self_consumption_share"] <= 1
    assert row["energy_cost_wan_year"] <= res.cost_without_storage_yuan / 1e4 + 1e-9
    assert row["capex_wan"] == pytest.approx(sum(row[f"capex_{c}_wan"] for c in
                                                 ("chargers", "transformer", "h2", "pv", "storage", "fixed")))
    _, warns, _ = size_station("pv", "k2", "pv_storage", daily_sessions=100.0, d=D, pv_days=PV_DAYS)
    assert any("k2" in w and "no lot area" in w for w in warns)


def test_size_stations_from_plan_tables():
    selected = pd.DataFrame({"site_id": ["a", "b", "c"], "technology": ["h2", "hpc", "pv_storage"],
                             "lon": [116.5, 116.52, 116.51], "lat": [39.8, 39.79, 39.81], "share": [0.4, 0.1, 0.05]})
    freight = pd.DataFrame({"site_id": ["a", "a"], "technology": ["h2", "h2"], "trucks_per_day": [12.0, 3.0],
                            "route_km": [25.0, 40.0]})
    cands = pd.DataFrame({"candidate_id": ["a", "b", "c"], "area_m2": [np.nan, 900.0, 3000.0],
                          "headroom_kva": [np.nan, 800.0, np.nan]})
    kinds = {"h2": "freight", "hpc": "ev", "pv_storage": "pv"}
    table, warns, disp = size_stations(selected, kinds, {"h2": 1000, "hpc": 500, "pv_storage": 1500}, freight,
                                       cands, "sized", D)
    assert list(table.columns) == list(STATION_SIZE_COLUMNS)
    a, b, c = (table.set_index("site_id").loc[x] for x in "abc")
    assert a.h2_kg_day == pytest.approx((12 * 25 + 3 * 40) * 2 * 9.1 / 100)
    assert b.daily_sessions == pytest.approx(0.1 * 4000) and c.pv_kwp == pytest.approx(600)
    assert any("site b" in w and "headroom 800" in w for w in warns)
    assert set(disp) == {"c"}
    flat, _, _ = size_stations(selected, kinds, {"h2": 1000, "hpc": 500, "pv_storage": 1500}, freight, cands, "flat", D)
    assert flat.capex_wan.tolist() == [1000, 500, 1500]
    assert budget_check(table, 10.0) and not budget_check(table, 1e6)
    with pytest.raises(InputError, match="technology 'tram'"):
        size_stations(selected.assign(technology="tram"), kinds, d=D)


def test_candidate_capex_bounds_the_served_capex():
    # 3 demand points × 2 candidates; candidate 0 reaches all, candidate 1 only the first
    minutes = np.array([[2.0, 3.0], [4.0, np.inf], [9.0, 20.0]])
    w = np.array([0.5, 0.3, 0.2])
    could = could_serve(minutes, 10.0, w)
    assert could.tolist() == [1.0, 0.5]
    cap, _ = candidate_capex("ev", could, d=D)
    served, _, _ = size_station("ev", "x", "hpc", daily_sessions=0.5 * D.ev_sessions_per_day, d=D)
    assert cap[1] == pytest.approx(served["capex_wan"]) and cap[0] >= cap[1]
    capf, _ = candidate_capex("freight", np.array([50.0, 5000.0]), d=D, eligible=np.array([True, False]))
    assert capf[0] == pytest.approx(1000) and np.isnan(capf[1])


def test_docs_list_every_default_with_its_source():
    text = (ROOT / "docs" / "station_sizing.md").read_text(encoding="utf-8")
    for r in defaults_table().itertuples():
        line = next((ln for ln in text.splitlines() if re.search(rf"\|\s*`{r.name}`\s*\|", ln)), None)
        assert line is not None, r.name
        assert ("§" in line) or ("guess" in line) or ("issue 13" in line), r.name


@pytest.mark.slow
def test_size_stations_on_a_solved_plan_recomputes_h2_from_covered_flows(tmp_path):
    from planner.pipeline.stations import build_problem
    from planner.stations import plan
    from planner.stations.table import inputs_from_plan
    from tests._helpers import load_siting as _load
    from tests._helpers import siting_scenario as _siting_scenario

    sc, net, plants, suppliers = _load(_siting_scenario(tmp_path / "s"))
    p = plan.solve_problem(build_problem(sc, net, plants, suppliers), time_limit=20)
    inp = inputs_from_plan(p, D)
    table, _, _ = size_stations(capex_model="sized", d=D, **inp)
    sel = p.selected_sites()
    assert sorted(table.site_id) == sorted(sel.site_id)
    # independent: every flow the solver marks covered burns trucks × minutes × speed × 2 legs × 9.1 kg/100 km
    dem = p.problem.demand["h2"]
    covered = p.result.covered_by_tech["h2"] > 0.5
    km = dem.flow_minutes.to_numpy() * D.h2_truck_speed_kmh / 60
    expect = float((dem.raw_weight.to_numpy() * km * 2 * 9.1 / 100)[covered].sum())
    assert expect > 0
    assert table[table.technology == "h2"].h2_kg_day.sum() == pytest.approx(expect)
    hpc = table[table.technology == "hpc"].set_index("site_id")
    share = sel[sel.technology == "hpc"].set_index("site_id").share
    assert np.allclose(hpc.daily_sessions, share.reindex(hpc.index) * D.ev_sessions_per_day)


@pytest.mark.slow
def test_candidate_capex_from_problem_keeps_the_sized_plan_in_budget(tmp_path):
    from planner.pipeline.stations import build_problem
    from planner.siting.mix import TechnologyData, TechnologyMix
    from planner.stations import plan
    from planner.stations.table import candidate_capex_from_problem, inputs_from_plan
    from tests._helpers import load_siting as _load
    from tests._helpers import siting_scenario as _siting_scenario

    sc, net, plants, suppliers = _load(_siting_scenario(tmp_path / "s"))
    prob = build_problem(sc, net, plants, suppliers)
    caps, _ = candidate_capex_from_problem(prob, D)
    c = prob.candidates
    techs = [TechnologyData(name=t, capex=caps[t], radius=spec.radius_min, weights=prob.demand[t]["weight"].to_numpy(float),
                            weight=spec.weight, target=spec.target_share, eligible=c[f"eligible_{t}"].to_numpy(bool),
                            required=c[f"required_{t}"].to_numpy(bool), cost=prob.minutes[t])
             for t, spec in prob.technologies.items()]
    budget = 0.6 * sum(np.sort(caps[t][c[f"eligible_{t}"].to_numpy(bool)])[:2].sum() for t in caps)
    res = TechnologyMix(None, techs, budget, site_ids=c.candidate_id.to_numpy()).solve(time_limit=20)
    assert res.capex <= budget + 1e-6
    solved = plan.StationPlan(prob, res)
    table, _, _ = size_stations(capex_model="sized", d=D, **inputs_from_plan(solved, D))
    # sized on the demand actually served, every station costs at most its could-serve capex
    assert table.capex_wan.sum() <= res.capex + 1e-6
    assert not budget_check(table, budget)
