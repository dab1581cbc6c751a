"""Comparing site lists and run folders: known answers on the 5×5 grid (10 s per edge).

On the fully connected two-way grid every shortest time is the Manhattan distance in blocks
× 10 s, so coverage shares and assignments can be counted by hand.
"""
from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from planner import compare as C
from planner.compare.match import greedy_pairs
from planner.errors import InputError, PlannerError, ScenarioError
from planner.pipeline import compare as glue
from planner.pipeline.compare import compare_cli
from planner.pipeline.write import road_lines, write_comparison
from planner.settings import OSM_ATTRIBUTION
from planner.technology import Technology
from tests._helpers import LAT0, LON0

STEP = 0.001
N = 5


def xy(c, r):
    """WGS-84 position of grid node (column c, row r)."""
    return LON0 + c * STEP, LAT0 + r * STEP


def site_list(rows, capex=None):
    """GeoDataFrame from (site_id, technology, c, r[, name]) rows at grid nodes."""
    pts = [xy(r[2], r[3]) for r in rows]
    df = gpd.GeoDataFrame(
        {"site_id": [r[0] for r in rows], "technology": [r[1] for r in rows],
         "name": [r[4] if len(r) > 4 else r[0] for r in rows]},
        geometry=gpd.points_from_xy([p[0] for p in pts], [p[1] for p in pts]), crs="EPSG:4326")
    if capex is not None:
        df["capex_wan"] = capex
    return df


def grid_demand(weights=None):
    """One demand point on every grid node, id d<c>_<r>."""
    cr = [(c, r) for r in range(N) for c in range(N)]
    pts = [xy(c, r) for c, r in cr]
    return gpd.GeoDataFrame(
        {"demand_id": [f"d{c}_{r}" for c, r in cr],
         "weight": np.ones(len(cr)) if weights is None else weights},
        geometry=gpd.points_from_xy([p[0] for p in pts], [p[1] for p in pts]), crs="EPSG:4326")


def blocks(c, r, sc, sr):
    return abs(c - sc) + abs(r - sr)


# 20 s radius = 2 blocks for hpc; 10 s = 1 block for h2
TECH = {
    "hpc": Technology(capex_wan=100.0, radius_min=20 / 60, profile="offpeak"),
    "h2": Technology(capex_wan=1000.0, radius_min=10 / 60, profile="offpeak"),
    "pv_storage": Technology(capex_wan=300.0, radius_min=20 / 60, profile="offpeak"),
}


# ------------------------------------------------------------------------------ matching
def test_match_by_id_within_distance_moved_added_removed():
    a = site_list([("A1", "hpc", 0, 0), ("A2", "hpc", 4, 4), ("H1", "h2", 2, 2), ("K", "pv_storage", 1, 1)])
    b = site_list([("A1", "hpc", 0, 1), ("B2", "hpc", 4, 4), ("H9", "h2", 0, 4), ("K", "pv_storage", 1, 1)])
    st = C.match_sites(a, b, within_m=50)
    assert list(st.columns[:4]) == ["site_id_a", "site_id_b", "technology", "status"]
    got = {(r.site_id_a, r.site_id_b): (r.technology, r.status, r.matched_by) for r in st.itertuples()}
    assert got == {
        ("A1", "A1"): ("hpc", "moved", "id"),        # same id, ~111 m away
        ("A2", "B2"): ("hpc", "kept", "distance"),   # same place, new id
        ("H1", None): ("h2", "removed", ""),
        ("K", "K"): ("pv_storage", "kept", "id"),
        (None, "H9"): ("h2", "added", ""),
    }
    d = st.set_index("site_id_a").distance_m
    assert d["A1"] == pytest.approx(111.0, abs=1.5) and d["K"] == pytest.approx(0.0, abs=1e-6)
    # a larger tolerance makes the moved site kept
    assert C.match_sites(a, b, within_m=150).set_index("site_id_a").status["A1"] == "kept"


def test_distance_matching_is_one_to_one_nearest_first_same_technology():
    # two A hpc sites near one B hpc site: the nearer one is matched, the other is removed;
    # the h2 site next to them is never matched to an hpc site
    lon, lat = xy(2, 2)
    a = gpd.GeoDataFrame({"site_id": ["far", "near", "h"], "technology": ["hpc", "hpc", "h2"]},
                         geometry=gpd.points_from_xy([lon + 0.0003, lon + 0.0001, lon], [lat] * 3), crs=4326)
    b = gpd.GeoDataFrame({"site_id": ["new", "h_new"], "technology": ["hpc", "hpc"]},
                         geometry=gpd.points_from_xy([lon, lon + 0.00005], [lat, lat]), crs=4326)
    st = C.match_sites(a, b, within_m=50).set_index("site_id_a")
    # "near" (8.5 m from new, 4.3 m from h_new) and "far" (25.6 m from new, 21.3 m from h_new):
    # nearest pair first: near–h_new (4.3 m), then far–new (25.6 m)
    assert st.loc["near", "site_id_b"] == "h_new" and st.loc["far", "site_id_b"] == "new"
    assert st.loc["h", "status"] == "removed"
    st2 = C.match_sites(a, b.iloc[:1], within_m=50).set_index("site_id_a")
    assert st2.loc["near", "site_id_b"] == "new" and st2.loc["far", "status"] == "removed"


def test_greedy_pairs_equals_the_sorted_greedy():
    rng = np.random.default_rng(3)
    for _ in range(20):
        n = rng.integers(1, 40)
        i, j = rng.integers(0, 8, n), rng.integers(0, 8, n)
        d = rng.integers(0, 5, n).astype(float)  # many ties
        keep = ~pd.DataFrame({"i": i, "j": j}).duplicated().to_numpy()
        i, j, d = i[keep], j[keep], d[keep]
        got = set(zip(i[greedy_pairs(i, j, d)], j[greedy_pairs(i, j, d)]))
        used_i, used_j, want = set(), set(), set()
        for k in np.lexsort((j, i, d)):
            if i[k] not in used_i and j[k] not in used_j:
                want.add((i[k], j[k]))
                used_i.add(i[k])
                used_j.add(j[k])
        assert got == want


def test_same_id_other_technology_is_removed_and_added():
    a = site_list([("S", "hpc", 0, 0)])
    b = site_list([("S", "h2", 4, 4)])
    st = C.match_sites(a, b)
    assert list(st.status) == ["removed", "added"] and list(st.technology) == ["hpc", "h2"]


def test_co_located_stations_are_matched_per_technology():
    # one site hosting h2 and hpc in both lists; B moves only the hpc charger next door (30 m)
    a = site_list([("S", "h2", 2, 2), ("S", "hpc", 2, 2)])
    lon, lat = xy(2, 2)
    b = gpd.GeoDataFrame({"site_id": ["S", "S"], "technology": ["h2", "hpc"]},
                         geometry=gpd.points_from_xy([lon, lon + 0.00035], [lat, lat]), crs=4326)
    st = C.match_sites(a, b, within_m=20).set_index("technology")
    assert st.loc["h2", "status"] == "kept" and st.loc["hpc", "status"] == "moved"
    with pytest.raises(InputError, match="duplicate station"):
        C.match_sites(site_list([("S", "h2", 0, 0), ("S", "h2", 1, 0)]), b)


def test_match_rejects_bad_frames():
    with pytest.raises(InputError, match="technology"):
        C.match_sites(site_list([("S", "hpc", 0, 0)]).drop(columns="technology"), site_list([]))
    with pytest.raises(InputError, match="unknown technology 'diesel'"):
        C.match_sites(site_list([("S", "diesel", 0, 0)]), site_list([]))
    with pytest.raises(InputError, match="duplicate station"):
        C.match_sites(site_list([("S", "hpc", 0, 0), ("S", "hpc", 1, 0)]), site_list([]))


# ---------------------------------------------------------------------------- evaluation
def test_evaluate_list_coverage_capex_and_assignment_by_hand(grid_network):
    # hpc at the corner (0,0) and the centre (2,2), radius 2 blocks
    sites = site_list([("C", "hpc", 0, 0), ("M", "hpc", 2, 2), ("H", "h2", 4, 4)], capex=[np.nan, 250.0, np.nan])
    w = np.arange(1, N * N + 1, dtype=float)  # weight of node (c, r) = 1 + c + 5 r
    ev = C.evaluate_list(grid_network, sites, {"hpc": grid_demand(w), "h2": grid_demand(w)}, TECH)
    s = ev.summary.set_index("technology")
    assert list(s.index) == ["h2", "hpc"]
    assert s.loc["hpc", "stations"] == 2 and s.loc["hpc", "capex_wan"] == pytest.approx(100 + 250)
    assert s.loc["h2", "capex_wan"] == pytest.approx(1000)
    cov = [(c, r) for r in range(N) for c in range(N) if min(blocks(c, r, 0, 0), blocks(c, r, 2, 2)) <= 2]
    assert len(cov) == 16  # 6 around the corner + 13 around the centre − 3 shared (1,1) (2,0) (0,2)
    want = sum(1 + c + 5 * r for c, r in cov)
    assert s.loc["hpc", "covered"] == pytest.approx(want)
    assert s.loc["hpc", "share"] == pytest.approx(want / w.sum())
    h2_cov = [(4, 4), (3, 4), (4, 3)]
    assert s.loc["h2", "covered"] == pytest.approx(sum(1 + c + 5 * r for c, r in h2_cov))
    a = ev.assignment[ev.assignment.technology == "hpc"].set_index("demand_id")
    assert a.loc["d4_4", "station_id"] == "M" and a.loc["d4_4", "minutes"] == pytest.approx(40 / 60)
    assert a.loc["d1_0", "station_id"] == "C" and a.loc["d1_0", "covered"]
    assert a.loc["d1_1", "station_id"] == "C"  # tie (2 blocks to both): the station listed first
    assert not a.loc["d4_4", "covered"]


def test_technology_with_demand_but_no_station_covers_nothing(grid_network):
    ev = C.evaluate_list(grid_network, site_list([("C", "hpc", 0, 0)]), {"hpc": grid_demand(),
                                                                         "pv_storage": grid_demand()}, TECH)
    s = ev.summary.set_index("technology")
    assert s.loc["pv_storage", "stations"] == 0 and s.loc["pv_storage", "share"] == 0
    assert ev.assignment.query("technology == 'pv_storage'").station_id.isna().all()


def test_unconfigured_technology_and_missing_demand(grid_network):
    sites = site_list([("C", "hpc", 0, 0)])
    with pytest.raises(ScenarioError, match=r"siting.technologies.hpc.*not configured"):
        C.evaluate_list(grid_network, sites, {"hpc": grid_demand()}, {"h2": TECH["h2"]})
    ev = C.evaluate_list(grid_network, sites, {}, TECH)
    assert np.isnan(ev.summary.share[0]) and "no demand" in ev.warnings[0]
    with pytest.raises(InputError, match="weight"):
        C.evaluate_list(grid_network, sites, {"hpc": grid_demand().drop(columns="weight")}, TECH)


# ---------------------------------------------------------------------------- comparison
@pytest.fixture
def lists():
    a = site_list([("A1", "hpc", 0, 0), ("A2", "hpc", 4, 4), ("H1", "h2", 2, 2)], capex=[120.0, np.nan, np.nan])
    b = site_list([("A1", "hpc", 0, 1), ("B2", "hpc", 4, 4), ("H9", "h2", 0, 4)])
    return a, b


def test_compare_summary_shares_and_capex(grid_network, lists):
    a, b = lists
    res = C.compare_site_lists(grid_network, a, b, {"hpc": grid_demand(), "h2": grid_demand()}, TECH)
    s = res.summary.set_index("technology")
    assert list(s.index) == ["h2", "hpc", "total"]
    # hpc: corner (0,0) covers 6 nodes, (4,4) 6 → 12/25; B: (0,1) covers 8, (4,4) 6 → 14/25
    assert s.loc["hpc", "share_a"] == pytest.approx(12 / 25) and s.loc["hpc", "share_b"] == pytest.approx(14 / 25)
    assert s.loc["hpc", "delta_share"] == pytest.approx(2 / 25)
    # h2 radius 1 block: centre covers 5 nodes, corner (0,4) covers 3
    assert s.loc["h2", "covered_a"] == 5 and s.loc["h2", "covered_b"] == 3
    assert s.loc["h2", "delta_share"] == pytest.approx(-2 / 25)
    # capex: A's A1 given as 120, the rest at the scenario's per-station capex
    assert s.loc["hpc", "capex_a"] == pytest.approx(220) and s.loc["hpc", "capex_b"] == pytest.approx(200)
    assert s.loc["hpc", "delta_capex"] == pytest.approx(-20)
    assert s.loc["total", "capex_a"] == pytest.approx(1220) and s.loc["total", "delta_capex"] == pytest.approx(-20)
    assert s.loc["total", "stations_a"] == 3 and s.loc["total", "delta_stations"] == 0
    assert "supplier_circle" not in s.index


def test_reassigned_demand_by_hand(grid_network, lists):
    a, b = lists
    res = C.compare_site_lists(grid_network, a, b, {"hpc": grid_demand(), "h2": grid_demand()}, TECH)
    r = res.reassigned
    # h2: the only station changed (H1 removed, H9 added): every demand point is reassigned
    assert (r.technology == "h2").sum() == 25
    # hpc: A2 and B2 are the same station (matched by distance), A1 moved but is the same id
    want = set()
    for rr in range(N):
        for c in range(N):
            sa = "A1" if blocks(c, rr, 0, 0) <= blocks(c, rr, 4, 4) else "A2"   # ties: listed first
            sb = "A1" if blocks(c, rr, 0, 1) <= blocks(c, rr, 4, 4) else "A2"   # B2 ≡ A2
            if sa != sb:
                want.add(f"d{c}_{rr}")
    h = r[r.technology == "hpc"].set_index("demand_id")
    assert set(h.index) == want and "d4_0" in want
    assert h.loc["d4_0", "station_a"] == "A1" and h.loc["d4_0", "station_b"] == "B2"
    assert h.loc["d4_0", "minutes_a"] == pytest.approx(40 / 60) and h.loc["d4_0", "minutes_b"] == pytest.approx(40 / 60)
    assert list(r.columns[:7]) == ["demand_id", "technology", "station_a", "station_b", "minutes_a", "minutes_b",
                                   "weight"]


def test_supplier_circle_row_follows_plants(grid_network):
    plants_a = site_list([("P1", "plant", 0, 0), ("C", "hpc", 2, 2)])
    # B moves the plant to the far corner under a new id, and renames nothing else
    plants_b = site_list([("P9", "plant", 4, 4), ("C", "hpc", 2, 2)])
    lon, lat = zip(*[xy(1, 0), xy(0, 2), xy(4, 3), xy(2, 2)])
    suppliers = pd.DataFrame({"site_id": ["s1", "s2", "s3", "s4"], "lon": lon, "lat": lat,
                              "weight": [1.0, 2.0, 3.0, 4.0], "plants": [(), ("P1",), ("P1", "P9"), ("P9",)]})
    # threshold 20 s = 2 blocks; the lists' hpc station is only evaluated for its own demand
    res = C.compare_site_lists(grid_network, plants_a, plants_b, {"hpc": grid_demand()}, TECH,
                               suppliers=suppliers, threshold_min=20 / 60)
    s = res.summary.set_index("technology")
    # A (plant at 0,0): s1 1 block, s2 2 blocks → weight 3 of 10; s3 serves P1 too but 7 blocks away
    # B (plant at 4,4): s1 serves all (7 blocks), s2 names only P1 (gone), s3 1 block, s4 4 blocks → 3
    assert s.loc["supplier_circle", "stations_a"] == 1 and s.loc["supplier_circle", "stations_b"] == 1
    assert s.loc["supplier_circle", "covered_a"] == 3 and s.loc["supplier_circle", "covered_b"] == 3
    assert s.loc["supplier_circle", "share_a"] == pytest.approx(0.3)
    c = res.circle.set_index("supplier_id")
    assert c.loc["s2", "plant_a"] == "P1" and pd.isna(c.loc["s2", "plant_b"]) and not c.loc["s2", "covered_b"]
    assert c.loc["s3", "minutes_b"] == pytest.approx(10 / 60) and c.loc["s4", "minutes_b"] == pytest.approx(40 / 60)
    # a plant renamed in place (matched by distance) keeps the suppliers that name its old id
    renamed = site_list([("P1-new", "plant", 0, 0)])
    res2 = C.compare_site_lists(grid_network, plants_a.iloc[:1], renamed, {}, TECH, suppliers=suppliers,
                                threshold_min=20 / 60)
    s2 = res2.summary.set_index("technology").loc["supplier_circle"]
    assert s2.covered_a == s2.covered_b == 3 and s2.delta_share == 0
    # no suppliers: a warning instead of the row
    res3 = C.compare_site_lists(grid_network, plants_a.iloc[:1], renamed, {}, TECH)
    assert "supplier_circle" not in set(res3.summary.technology) and "no suppliers" in res3.warnings[0]


def test_to_files_writes_tables_json_and_offline_dual_map(grid_network, lists, tmp_path):
    from planner.maps.offline import external_references

    a, b = lists
    a.loc[2, "name"] = "<script>alert('a')</script>{{ 7*7 }}"
    b.loc[2, "name"] = "新加氢站 B"
    res = C.compare_site_lists(grid_network, a, b, {"hpc": grid_demand(), "h2": grid_demand()}, TECH,
                               label_a="方案A", label_b="plan B")
    written = write_comparison(res, tmp_path / "cmp", basemap="none", roads=road_lines(grid_network))
    for name in ("status", "summary", "reassigned"):
        assert written[name].exists()
    summary = pd.read_csv(tmp_path / "cmp" / "summary.csv", encoding="utf-8-sig")
    assert summary.set_index("technology").loc["hpc", "delta_share"] == pytest.approx(2 / 25)
    js = json.loads((tmp_path / "cmp" / "summary.json").read_text(encoding="utf-8"))
    assert js["status_counts"] == {"kept": 1, "moved": 1, "added": 1, "removed": 1}
    assert js["label_a"] == "方案A" and js["reassigned"]["demand_points"] == len(res.reassigned)
    html = (tmp_path / "cmp" / "compare_map.html").read_text(encoding="utf-8")
    assert html.count('class="folium-map"') == 2 and ".sync(" in html
    assert OSM_ATTRIBUTION in html and external_references(html) == []
    assert "新加氢站 B" in html and "&lt;script&gt;alert" in html           # both lists drawn
    assert "<script>alert('a')" not in html and "{{ 7*7 }}" not in html
    shown = "&#123;&#123; 7*7 &#125;&#125;"  # braces shown, never evaluated by branca's Jinja
    assert shown in html or json.dumps(shown)[1:-1].replace("&", "\\u0026") in html
    assert "Removed (1)" in html and "Added (1)" in html


def test_co_located_sites_are_told_apart_on_the_map(grid_network):
    from planner.maps.offline import to_html

    a = site_list([("S", "h2", 2, 2), ("S", "hpc", 2, 2), ("T", "hpc", 0, 0)])
    b = site_list([("S", "hpc", 2, 2), ("U", "hpc", 4, 4)])
    res = C.compare_site_lists(grid_network, a, b, {"hpc": grid_demand()}, TECH)
    assert dict(zip(zip(res.status.site_id_a, res.status.technology), res.status.status)) == {
        ("S", "h2"): "removed", ("S", "hpc"): "kept", ("T", "hpc"): "removed", (None, "hpc"): "added"}
    html = to_html(res.map(), offline=False)
    assert "S [h2]" in html and "S [hpc]" in html and "Removed (2)" in html and "Added (1)" in html


# -------------------------------------------------------------------------------- files
def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_read_site_list_chinese_columns_and_values(tmp_path):
    lon, lat = xy(1, 1)
    p = write_csv(tmp_path / "b.csv",
                  "编号,名称,经度,纬度,类型,投资(万元)\n"
                  f"S1,一号,{lon},{lat},加氢站,1200\n"
                  f"S2,二号,{lon},{lat},超充,\n"
                  f"S3,三号,{lon},{lat},大功率充电,90.5\n"
                  f"S4,四号,{lon},{lat},光储充,300\n"
                  f"P1,工厂一,{lon},{lat},工厂,\n"
                  f"S5,五号,{lon},{lat},PV-Storage,\n")
    g = C.read_site_list(p)
    assert list(g.columns) == ["site_id", "technology", "name", "lon", "lat", "capex_wan", "geometry"]
    assert list(g.technology) == ["h2", "hpc", "hpc", "pv_storage", "plant", "pv_storage"]
    assert g.capex_wan[0] == 1200 and np.isnan(g.capex_wan[1]) and g.capex_wan[2] == 90.5
    assert g.crs.to_epsg() == 4326 and g.lon[0] == pytest.approx(lon)
    p2 = write_csv(tmp_path / "c.csv", f"id,lon,lat,tech\nX,{lon},{lat},HPC\n")
    assert C.read_site_list(p2).technology[0] == "hpc"


BAD_LISTS = [
    ("unknown", "id,lon,lat,technology\nA,{lon},{lat},hpc\nB,{lon},{lat},diesel\n",
     r"row 3, column 'technology': unknown technology 'diesel'; use h2, hpc, pv_storage, plant"),
    ("blank", "id,lon,lat,type\nA,{lon},{lat},\nB,{lon},{lat},h2\n", r"row 2, column 'type': technology is blank"),
    ("no_column", "id,lon,lat,name\nA,{lon},{lat},x\n", r"required column 'technology' not found"),
    ("no_lat", "id,lon,technology\nA,{lon},hpc\n", r"required column 'lat' not found"),
    ("capex", "id,lon,lat,technology,capex_wan\nA,{lon},{lat},hpc,lots\n", r"row 2, column 'capex_wan': capex is not"),
    ("negative", "id,lon,lat,technology,capex\nA,{lon},{lat},hpc,-5\n", r"row 2, column 'capex'.*negative"),
    ("twice", "id,lon,lat,technology\nA,{lon},{lat},h2\nA,{lon},{lat},hpc\nA,{lon},{lat},h2\n",
     r"row 4, column 'technology': duplicate station: site id 'A' with technology 'h2'"),
]


def test_site_hosting_two_technologies_reads_as_two_stations(tmp_path):
    # a run's own selected_sites.csv lists a co-located site once per technology
    lon, lat = xy(1, 1)
    p = write_csv(tmp_path / "selected.csv",
                  f"site_id,technology,lon,lat\nS1,h2,{lon},{lat}\nS1,hpc,{lon},{lat}\nS2,hpc,{lon},{lat}\n")
    g = C.read_site_list(p)
    assert list(zip(g.site_id, g.technology)) == [("S1", "h2"), ("S1", "hpc"), ("S2", "hpc")]
    # plain site lists still refuse repeated ids
    from planner.sites import read_sites
    with pytest.raises(InputError, match="duplicate site id 'S1'"):
        read_sites(p, kind="candidate")


@pytest.mark.parametrize("what, text, message", BAD_LISTS, ids=[b[0] for b in BAD_LISTS])
def test_bad_list_gives_one_line_input_error(tmp_path, what, text, message):
    lon, lat = xy(0, 0)
    p = write_csv(tmp_path / f"{what}.csv", text.format(lon=lon, lat=lat))
    with pytest.raises(InputError, match=message) as err:
        C.read_site_list(p)
    assert "\n" not in str(err.value) and str(p) in str(err.value)


# ---------------------------------------------------------------------------- run folders
def make_run(folder: Path, sites: list[tuple], coverage: list[tuple] | None, budget: float = 1000.0) -> Path:
    """A synthetic run output folder (run.json, siting/selected_sites.csv, coverage/plant_summary.csv)."""
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"scenario": folder.name,
                                                 "settings": {"siting": {"budget_wan": budget}}}))
    if sites is not None:
        (folder / "siting").mkdir()
        rows = []
        for sid, tech, c, r, capex, served, share in sites:
            lon, lat = xy(c, r)
            rows.append({"site_id": sid, "technology": tech, "name": sid, "lon": lon, "lat": lat,
                         "capex": capex, "demand_served": served, "share": share})
        pd.DataFrame(rows).to_csv(folder / "siting" / "selected_sites.csv", index=False, encoding="utf-8-sig")
    if coverage is not None:
        (folder / "coverage").mkdir()
        pd.DataFrame(coverage, columns=["plant_id", "profile", "threshold_min", "suppliers_total", "suppliers_covered",
                                        "share_covered", "weighted_share_covered"]).to_csv(
            folder / "coverage" / "plant_summary.csv", index=False, encoding="utf-8-sig")
    return folder


@pytest.fixture
def runs(tmp_path):
    a = make_run(tmp_path / "runA", [("S1", "hpc", 0, 0, 100, 5, 0.25), ("S2", "h2", 2, 2, 1000, 8, 0.4),
                                     ("S3", "hpc", 4, 4, 100, 3, 0.15)],
                 [("P1", "offpeak", 30, 10, 8, 0.8, 0.85), ("P1", "peak", 30, 10, 5, 0.5, 0.6)], budget=1500)
    b = make_run(tmp_path / "runB", [("S1", "hpc", 0, 0, 100, 6, 0.3), ("S3", "hpc", 4, 3, 100, 4, 0.2),
                                     ("S4", "pv_storage", 1, 3, 300, 2, 0.1)],
                 [("P1", "offpeak", 30, 10, 9, 0.9, 0.95), ("P2", "offpeak", 30, 4, 4, 1.0, 1.0)], budget=1200)
    return a, b


def test_compare_runs_tables(runs, tmp_path):
    a, b = runs
    res = C.compare_runs(a, b)
    st = res.status.set_index("site_id_a")
    assert st.loc["S1", "status"] == "kept" and st.loc["S2", "status"] == "removed"
    assert st.loc["S3", "status"] == "moved"
    assert res.status[res.status.status == "added"].site_id_b.tolist() == ["S4"]
    s = res.summary.set_index("technology")
    assert list(s.index) == ["h2", "hpc", "pv_storage", "total"]
    assert s.loc["hpc", "demand_served_b"] == 10 and s.loc["hpc", "delta_share"] == pytest.approx(0.1)
    assert s.loc["h2", "stations_b"] == 0 and s.loc["h2", "delta_capex"] == -1000
    assert s.loc["total", "capex_a"] == 1200 and s.loc["total", "delta_capex"] == -700
    bud = res.budget.set_index("item")
    assert bud.loc["budget_wan", "delta"] == -300 and bud.loc["unspent_wan", "a"] == 300
    assert bud.loc["unspent_wan", "b"] == 700
    cov = res.coverage.set_index(["plant_id", "profile"])
    assert cov.loc[("P1", "offpeak"), "delta_suppliers_covered"] == 1
    assert cov.loc[("P1", "offpeak"), "delta_weighted_share_covered"] == pytest.approx(0.1)
    assert cov.loc[("P1", "peak"), "present"] == "a_only" and cov.loc[("P2", "offpeak"), "present"] == "b_only"
    written = write_comparison(res, tmp_path / "out")
    assert {"status", "summary", "coverage", "budget", "summary_json", "map"} <= set(written)
    html = written["map"].read_text(encoding="utf-8")
    assert OSM_ATTRIBUTION in html and "runA" in html and "runB" in html


def test_compare_runs_rejects_folders_that_are_not_runs(runs, tmp_path):
    a, _ = runs
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="not a run output folder.*run.json"):
        C.compare_runs(a, tmp_path / "empty")
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "run.json").write_text("{}")
    with pytest.raises(InputError, match="neither siting/selected_sites.csv nor coverage/plant_summary.csv"):
        C.compare_runs(a, bare)
    broken = make_run(tmp_path / "broken", [("S1", "hpc", 0, 0, 1, 1, 1)], None)
    df = pd.read_csv(broken / "siting" / "selected_sites.csv", encoding="utf-8-sig").drop(columns="lat")
    df.to_csv(broken / "siting" / "selected_sites.csv", index=False)
    with pytest.raises(InputError, match=r"selected_sites.csv, column 'lat': required column 'lat' not found"):
        C.compare_runs(a, broken)
    coverage_only = make_run(tmp_path / "cov", None, [("P1", "offpeak", 30, 1, 1, 1.0, 1.0)])
    res = C.compare_runs(a, coverage_only)
    assert res.status is None and "only runA has siting" in res.warnings[0]
    sites_only = make_run(tmp_path / "sites", [("S1", "hpc", 0, 0, 1, 1, 1)], None)
    with pytest.raises(InputError, match="nothing to compare"):
        C.compare_runs(coverage_only, sites_only)


# ------------------------------------------------------------------------------------ CLI
SITING = """
[siting]
budget_wan = 1000

[siting.technologies.hpc]
capex_wan = 100
radius_min = 0.34
profile = "offpeak"
"""


@pytest.fixture
def scenario(tmp_path):
    from tests._helpers import make_scenario

    return make_scenario(tmp_path / "s")


def _plant_lists(folder: Path):
    """Plant-only lists on the tiny scenario's 6×6 grid: B moves P1 to the far corner."""
    a = write_csv(folder / "a.csv", f"id,name,lon,lat,type\nP1,Plant one,{LON0},{LAT0},工厂\n")
    b = write_csv(folder / "b.csv", f"id,name,lon,lat,type\nP1,Plant one,{LON0 + 0.005},{LAT0 + 0.005},工厂\n")
    return a, b


def test_cli_compares_plant_lists_through_staged_output(scenario, capsys):
    from planner.cli import main

    a, b = _plant_lists(scenario.parent)
    assert main(["compare", str(scenario), str(a), str(b)]) == 0
    out = scenario.parent / "out" / "tiny-compare"
    assert f"comparison: {out}" in capsys.readouterr().out
    s = pd.read_csv(out / "summary.csv", encoding="utf-8-sig").set_index("technology")
    # threshold 1 min = 6 blocks. A (plant at 0,0): S1 3 blocks (weight 5) in, S2 7 and S3 10 out;
    # B (plant at 5,5): S3 0 blocks (weight 2) and S2 3 blocks (weight 3) in, S1 7 out
    assert s.loc["supplier_circle", "covered_a"] == 5
    assert s.loc["supplier_circle", "covered_b"] == 5
    st = pd.read_csv(out / "status.csv", encoding="utf-8-sig")
    assert st.status.tolist() == ["moved"]
    html = (out / "compare_map.html").read_text(encoding="utf-8")
    assert OSM_ATTRIBUTION in html and "Plant one" in html
    assert not list(out.parent.glob(".compare.staging-*"))


def test_cli_station_lists_without_siting_section_is_one_line_error(scenario, capsys):
    from planner.cli import main

    lon, lat = xy(1, 1)
    a = write_csv(scenario.parent / "a.csv", f"id,lon,lat,technology\nS1,{lon},{lat},hpc\n")
    b = write_csv(scenario.parent / "b.csv", f"id,lon,lat,technology\nS2,{lon},{lat},hpc\n")
    assert main(["compare", str(scenario), str(a), str(b)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "[siting]" in err[0]
    assert not (scenario.parent / "out").exists()


def test_cli_station_lists_with_siting_demand(scenario, monkeypatch, tmp_path):
    from planner.scenario import load_scenario

    scenario.write_text(scenario.read_text() + SITING)
    sc = load_scenario(scenario)
    calls = []

    def problem_demand(sc_, net, plants=None, suppliers=None):
        calls.append((net.n_nodes, len(plants), len(suppliers)))
        pts = [(LON0 + c * STEP, LAT0) for c in range(6)]
        return {"hpc": gpd.GeoDataFrame({"demand_id": [f"d{c}" for c in range(6)], "weight": 1.0},
                                        geometry=gpd.points_from_xy(*zip(*pts)), crs=4326)}

    monkeypatch.setattr(glue, "problem_demand", problem_demand)

    a = write_csv(tmp_path / "a.csv", f"id,lon,lat,technology\nS1,{LON0},{LAT0},超充\n")
    b = write_csv(tmp_path / "b.csv", f"id,lon,lat,technology,capex_wan\nS1,{LON0 + 0.005},{LAT0},hpc,80\n")
    out = compare_cli(sc, a, b, out=tmp_path / "cmp")
    assert calls == [(36, 1, 3)] and out == (tmp_path / "cmp").resolve()
    s = pd.read_csv(out / "summary.csv", encoding="utf-8-sig").set_index("technology")
    # radius 0.34 min = 20.4 s: 2 blocks on the bottom row from either end → 3 of 6 points each
    assert s.loc["hpc", "share_a"] == pytest.approx(0.5) and s.loc["hpc", "share_b"] == pytest.approx(0.5)
    assert s.loc["hpc", "delta_capex"] == -20
    r = pd.read_csv(out / "reassigned.csv", encoding="utf-8-sig")
    assert r.empty  # the same station id (moved) still serves every point


def test_cli_compares_run_folders_and_refuses_mixed_inputs(scenario, runs, tmp_path):
    from planner.scenario import load_scenario

    sc = load_scenario(scenario)
    a, b = runs
    out = compare_cli(sc, a, b, out=tmp_path / "cmp")
    assert (out / "budget.csv").exists() and (out / "coverage.csv").exists() and (out / "compare_map.html").exists()
    lon, lat = xy(0, 0)
    f = write_csv(tmp_path / "l.csv", f"id,lon,lat,technology\nS1,{lon},{lat},hpc\n")
    with pytest.raises(InputError, match="is a folder but .* is a file"):
        compare_cli(sc, a, f, out=tmp_path / "x")
    with pytest.raises(PlannerError, match="would replace the compared input"):
        compare_cli(sc, a, b, out=a)
    assert (a / "run.json").exists()


def _write_problem_demand(run: Path, rows):
    (run / "siting" / "problem").mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=["demand_id", "technology", "weight", "raw_weight", "lon", "lat"]).to_csv(
        run / "siting" / "problem" / "demand.csv", index=False, encoding="utf-8-sig")


def test_compare_runs_says_when_the_demand_bases_differ(runs):
    a, b = runs
    base = [("d1", "hpc", 0.5, 1.0, LON0, LAT0), ("d2", "hpc", 0.5, 1.0, LON0 + 0.001, LAT0)]
    _write_problem_demand(a, base)
    _write_problem_demand(b, base)
    same = C.compare_runs(a, b).summary.set_index("technology")
    assert bool(same.loc["hpc", "same_demand"]) and same.loc["hpc", "delta_share"] == pytest.approx(0.1)
    _write_problem_demand(b, base[:1])  # B was run with a study area that keeps d1 only
    res = C.compare_runs(a, b)
    s = res.summary.set_index("technology")
    assert not bool(s.loc["hpc", "same_demand"])
    assert np.isnan(s.loc["hpc", "delta_share"]) and np.isnan(s.loc["hpc", "delta_demand_served"])
    assert any("different demand for hpc" in w for w in res.warnings)


def test_compare_accepts_a_site_that_run_would_accept(scenario, tmp_path):
    """One eligibility rule: a site within max_snap_m (300 m) of the road network is usable,
    even when it lies outside the box of the network's nodes (run keeps such candidates)."""
    from planner.scenario import load_scenario

    sc = load_scenario(scenario)
    a = write_csv(tmp_path / "a.csv", f"id,lon,lat,type\nP1,{LON0},{LAT0},plant\n")
    near = write_csv(tmp_path / "near.csv", f"id,lon,lat,type\nP1,{LON0 - 0.002},{LAT0},plant\n")  # ~170 m west
    out = compare_cli(sc, a, near, out=tmp_path / "cmp")
    assert (out / "summary.csv").is_file()
    far = write_csv(tmp_path / "far.csv", f"id,lon,lat,type\nP1,{LON0 + 0.0025},{LAT0 - 0.01},plant\n")  # ~1.1 km
    with pytest.raises(InputError, match="outside|farther than 300 m"):
        compare_cli(sc, a, far, out=tmp_path / "cmp2")
