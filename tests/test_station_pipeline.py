"""Station sizing wired into a run (issue 13): ``siting/station_sizes.csv``, the budget on sized
capex, H2 kg/day from the served flows, for ``capex_model = "flat"`` and ``"sized"``.

The tiny grid of ``tests._helpers``: 100 m edges driven at 36 km/h (10 s each); plant P1 at
(0, 0); suppliers S1 (2, 1) with 5 deliveries/day, S2 (4, 3) with 3, S3 (5, 5) with 2. The H2
radius (3 s of detour) means a station serves a flow only when it lies on one of the flow's
shortest paths, i.e. inside the lattice box between supplier and plant.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from planner import pipeline
from planner.outputs import RunLayout
from planner.scenario import load_scenario
from tests._helpers import siting_scenario

SESSIONS = 800.0  # [siting.sizing] ev_sessions_per_day of the test scenario
BUDGET = 1500.0
#: (column, row) of the suppliers and their deliveries per day; lots (candidate sites) by id
SUPPLIERS = {(2, 1): 5.0, (4, 3): 3.0, (5, 5): 2.0}
LOTS = {"K1": (1, 0), "K2": (3, 2), "K3": (3, 3), "K4": (0, 5), "K5": (2, 4), "K6": (4, 0)}
RIVAL = (5, 0)  # a competitor's station: the flows it lies on are served already
#: the issue's columns of siting/station_sizes.csv
ISSUE_COLUMNS = ["site_id", "technology", "peak_arrivals_per_h", "mean_session_min", "plugs", "charger_kw",
                 "p_wait", "transformer_kva", "h2_kg_day", "h2_storage_kg", "pv_kwp", "pv_kwh_year", "storage_kwh",
                 "storage_kw", "self_consumption_share", "peak_grid_kw_without_storage",
                 "peak_grid_kw_with_storage", "energy_cost_wan_year", "capex_chargers_wan",
                 "capex_transformer_wan", "capex_h2_wan", "capex_pv_wan", "capex_storage_wan", "capex_fixed_wan",
                 "capex_wan"]


@pytest.fixture(scope="module", params=["flat", "sized"])
def run_folder(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    path = siting_scenario(folder / "s", hpc_extra=f"\n[siting.sizing]\nev_sessions_per_day = {SESSIONS:g}\n")
    text = path.read_text(encoding="utf-8").replace(
        "budget_wan = 300", f'budget_wan = {BUDGET:g}\ncapex_model = "{request.param}"')
    path.write_text(text, encoding="utf-8")
    sc = load_scenario(path)
    out = pipeline.run(sc, quiet=True, only="siting", out=folder / "out")
    return request.param, sc, out


def test_station_sizes_written_with_the_issue_columns(run_folder):
    model, _, out = run_folder
    sizes = pd.read_csv(out / RunLayout.STATION_SIZES, dtype={"site_id": str})
    sel = pd.read_csv(out / RunLayout.SELECTED_SITES, dtype={"site_id": str})
    assert set(ISSUE_COLUMNS) <= set(sizes.columns)
    assert len(sel) > 0
    assert sorted(zip(sizes.site_id, sizes.technology)) == sorted(zip(sel.site_id, sel.technology))
    assert (sizes.capex_model == model).all()
    hpc = sizes[sizes.technology == "hpc"]
    assert (hpc.plugs >= 1).all() and (hpc.transformer_kva > 0).all()
    summary = json.loads((out / RunLayout.SITING_SUMMARY).read_text(encoding="utf-8"))
    assert summary["sizing"]["capex_model"] == model
    manifest = json.loads((out / RunLayout.MANIFEST).read_text(encoding="utf-8"))
    assert manifest["station_sizing"]["capex_model"] == model
    assert ("candidate sizing" in manifest["timings_s"]) == (model == "sized")
    xlsx = pd.ExcelFile(out / RunLayout.EXCEL)
    assert "Station sizes" in xlsx.sheet_names
    assert "Plugs" in pd.read_excel(xlsx, "Station sizes").columns  # headers in the scenario language (en)
    html = (out / RunLayout.SITING_MAP).read_text(encoding="utf-8")
    assert "Transformer kVA" in html and "H2 kg/day" in html  # sizes in the popups


def test_capex_model_and_budget(run_folder):
    model, sc, out = run_folder
    sizes = pd.read_csv(out / RunLayout.STATION_SIZES, dtype={"site_id": str})
    summary = json.loads((out / RunLayout.SITING_SUMMARY).read_text(encoding="utf-8"))["sizing"]
    new = ~sizes.existing.astype(bool)
    if model == "flat":
        flat = {t: spec.capex_wan for t, spec in sc.siting.technologies.items()}
        assert np.allclose(sizes.capex_wan, sizes.technology.map(flat))
        assert sizes.capex_h2_wan.isna().all()
    else:
        parts = sizes[[c for c in sizes.columns if c.startswith("capex_") and c.endswith("_wan")
                       and c != "capex_wan"]].fillna(0).sum(axis=1)
        assert np.allclose(parts, sizes.capex_wan)
        # the sized plan (new stations, sized on the demand they serve) keeps the budget
        assert sizes.capex_wan[new].sum() <= BUDGET + 1e-6
        assert summary["within_budget"] is True
        assert summary["capex_sized_wan"] == pytest.approx(sizes.capex_wan[new].sum(), abs=0.1)
        # the model paid each candidate's could-serve capex (an upper bound of the served sizes)
        cands = pd.read_csv(out / RunLayout.PROBLEM / "candidates.csv", dtype={"candidate_id": str})
        assert {"capex_wan_h2", "capex_wan_hpc"} <= set(cands.columns)
        sel = pd.read_csv(out / RunLayout.SELECTED_SITES, dtype={"site_id": str})
        paid = sel.apply(lambda r: cands.set_index("candidate_id").at[r.site_id, f"capex_wan_{r.technology}"], axis=1)
        assert np.allclose(sel.capex, paid)
        assert summary["capex_in_model_wan"] <= BUDGET + 1e-6
        assert summary["capex_sized_wan"] <= summary["capex_in_model_wan"] + 1e-6


def test_h2_kg_per_day_from_the_served_flows(run_folder):
    _, sc, out = run_folder
    sizes = pd.read_csv(out / RunLayout.STATION_SIZES, dtype={"site_id": str})
    h2 = sizes[sizes.technology == "h2"]
    assert len(h2) > 0
    d = sc.siting.sizing
    speed = 35.0 if d.h2_truck_speed_kmh is None else d.h2_truck_speed_kmh
    stations = [LOTS[s.split("_")[-1]] for s in h2.site_id]  # ids are "<kind>_<id>"
    # a flow is served when a station lies in its lattice box (on one of its shortest paths),
    # unless the competitor's station does
    expected = 0.0
    for (sx, sy), trucks in SUPPLIERS.items():
        if any(0 <= x <= sx and 0 <= y <= sy for x, y in stations) and not (RIVAL[0] <= sx and RIVAL[1] <= sy):
            minutes = (sx + sy) * 10 / 60  # edges × 10 s
            expected += trucks * minutes * speed / 60 * 2 * 9.1 / 100  # 2 legs, 9.1 kg/100 km (§6)
    assert h2.h2_kg_day.sum() == pytest.approx(expected, rel=1e-9)
    assert (h2.h2_class_kg_day >= h2.h2_kg_day).all()


def test_ev_sessions_follow_the_scenario_key(run_folder):
    _, _, out = run_folder
    sizes = pd.read_csv(out / RunLayout.STATION_SIZES, dtype={"site_id": str})
    summary = json.loads((out / RunLayout.SITING_SUMMARY).read_text(encoding="utf-8"))
    hpc = sizes[sizes.technology == "hpc"]
    assert hpc.daily_sessions.sum() == pytest.approx(summary["covered_share"]["hpc"] * SESSIONS, rel=1e-6)


def test_pv_candidate_grid_against_one_lp_per_candidate():
    """The grid estimate of PV-storage candidate capex against sizing each candidate with its own
    battery LP (``candidate_capex``): equal on the grid's nodes, close in between."""
    from planner.stations.defaults import DEFAULTS
    from planner.stations.table import candidate_capex, pv_candidate_capex_grid

    lat, lon = 39.78, 116.50
    nodes_s, nodes_a = [0.0, 40.0, 400.0], [0.0, 400.0, 4000.0]  # 0 and levels - 1 = 2 geometric levels
    sessions = np.array([0.0, 400.0, 40.0, 400.0, 120.0, 200.0])
    area = np.array([400.0, 4000.0, 4000.0, 400.0, 1300.0, 2500.0])
    grid, info = pv_candidate_capex_grid(sessions, area, np.full(6, lat), np.full(6, lon), DEFAULTS, levels=3)
    assert info["lps"] == 9 and np.allclose(info["sessions_levels"], nodes_s) and np.allclose(info["area_levels"], nodes_a)
    exact, _ = candidate_capex("pv", sessions / DEFAULTS.ev_sessions_per_day, np.full(6, lat), np.full(6, lon), area,
                               DEFAULTS)
    assert np.allclose(grid[:4], exact[:4], rtol=1e-6)
    assert np.allclose(grid[4:], exact[4:], rtol=0.15)
