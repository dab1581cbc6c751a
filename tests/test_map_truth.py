"""Maps say what the tables say; unreachable trips say why.

- the coverage map's supplier markers, parsed back from the saved HTML, carry exactly the
  served pairs of ``supplier_times.csv`` (minutes, covered) and its legend the counts of
  ``plant_summary.csv`` — on a synthetic scenario and, with the shared data, on the demo;
- the siting map's demand layers and legend agree with the demand table and ``summary.json``;
- a trip closed by a time-windowed restriction is told apart from one without a road, with
  the restriction's name and hours and the time it would take with the restriction lifted
  (known answers on a tiny chain network).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from planner.maps import coverage_map, restriction_frame, siting_map
from planner.maps.offline import to_html
from planner.network.graph import build_network
from planner.network.speeds import Profile, Restriction
from planner.routing import point_travel_times, snap_to_roads
from planner.supply_circle import supplier_coverage, unreachable_causes
from tests._helpers import LAT0, LON0, raw_tables, write_grid_roads
from tests.map_html import data_cells, features, layers, red_over_served

# ---------------------------------------------------------------------------------------
# the check, shared by the synthetic and the demo runs
# ---------------------------------------------------------------------------------------


def coverage_disagreements(page: str, times: pd.DataFrame, summary: pd.DataFrame) -> dict:
    """Compare a coverage map's page with the run's tables; returns counts of disagreements.

    ``times`` is ``supplier_times.csv`` (all pairs, ``serves`` column), ``summary`` is
    ``plant_summary.csv``.
    """
    served = times[times.serves.astype(bool)].copy()
    served["supplier_id"] = served.supplier_id.astype(str)
    served["plant_id"] = served.plant_id.astype(str)
    want = {(s, p): g for (s, p), g in served.groupby(["supplier_id", "profile"])}
    shown = {}
    for f in features(page):
        props = f["properties"]
        if "supplier_id" in props and "plants" in props:
            shown[(str(props["supplier_id"]), props["profile"])] = props
    bad = {"missing_markers": 0, "plants": 0, "minutes": 0, "covered": 0, "legend": 0}
    for key, g in want.items():
        props = shown.get(key)
        if props is None:
            bad["missing_markers"] += 1
            continue
        got = dict(zip(props["plants"], zip(props["minutes"], props["covered"])))
        table = dict(zip(g.plant_id, zip(g.minutes.astype(float), g.covered.astype(bool))))
        if set(got) != set(table):
            bad["plants"] += 1
            continue
        for p, (m, c) in table.items():
            gm, gc = got[p]
            same = (gm is None and not math.isfinite(m)) or (gm is not None and math.isclose(gm, m, abs_tol=1e-9))
            bad["minutes"] += not same
            bad["covered"] += gc != c
    bad["extra_markers"] = sum(1 for k, p in shown.items() if k not in want and p["plants"])
    cells = {(c["plant"], c["profile"]): (int(c["covered"]), int(c["total"])) for c in data_cells(page, "plant")}
    for r in summary.itertuples():
        if r.suppliers_total == 0:
            continue
        bad["legend"] += cells.get((str(r.plant_id), r.profile)) != (int(r.suppliers_covered), int(r.suppliers_total))
    return bad


# ---------------------------------------------------------------------------------------
# coverage map on a hand-made table
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sites():
    plants = gpd.GeoDataFrame({"site_id": ["P1", "P2"], "name": ["North", "South"]},
                              geometry=[Point(116.50, 39.80), Point(116.50, 39.76)], crs=4326)
    suppliers = gpd.GeoDataFrame({"site_id": ["S1", "S2", "S3", "S4"], "name": ["a", "b", "c", "d"],
                                  "weight": [1, 2, 3, 4]},
                                 geometry=[Point(116.50, 39.795), Point(116.50, 39.765), Point(116.52, 39.78),
                                           Point(116.45, 39.78)], crs=4326)
    return plants, suppliers


def _times():
    # S1 is next to P1 but serves only P2 (the old map showed it covered by P1); S3 serves both
    rows = [("S1", "P1", 2.0, False), ("S1", "P2", 40.0, True), ("S2", "P1", 41.0, False),
            ("S2", "P2", 3.0, True), ("S3", "P1", 12.0, True), ("S3", "P2", 35.0, True),
            ("S4", "P1", math.inf, True), ("S4", "P2", math.inf, False)]
    df = pd.DataFrame(rows, columns=["supplier_id", "plant_id", "minutes", "serves"])
    out = []
    for prof, k in (("offpeak", 1.0), ("peak", 1.5)):
        d = df.assign(profile=prof, minutes=df.minutes * k)
        d["slack_minutes"] = 30 - d.minutes
        d["covered"] = d.minutes <= 30
        d["unreachable_cause"] = np.where(np.isfinite(d.minutes), "", "restriction")
        d["blocked_by"] = np.where(np.isfinite(d.minutes), "", "ban 06:00–23:00")
        d["minutes_unrestricted"] = np.where(np.isfinite(d.minutes), np.nan, 14.0)
        out.append(d)
    return pd.concat(out, ignore_index=True)


def _summary(times):
    s = times[times.serves]
    return (s.groupby(["plant_id", "profile"]).agg(suppliers_total=("covered", "size"),
                                                   suppliers_covered=("covered", "sum")).reset_index())


def test_coverage_markers_show_served_pairs_only(sites):
    plants, suppliers = sites
    times = _times()
    iso = gpd.GeoDataFrame({"plant_id": [], "profile": [], "minutes": []}, geometry=[], crs=4326)
    page = to_html(coverage_map(plants, suppliers, times, iso, language="en", basemap="none", roads=None),
                   offline=False)
    bad = coverage_disagreements(page, times, _summary(times))
    assert bad == {"missing_markers": 0, "plants": 0, "minutes": 0, "covered": 0, "legend": 0, "extra_markers": 0}
    marks = {(f["properties"]["supplier_id"], f["properties"]["profile"]): f["properties"]
             for f in features(page) if "state" in f["properties"]}
    assert marks[("S1", "offpeak")]["state"] == "uncovered"  # 40 min to the plant it serves
    assert marks[("S1", "offpeak")]["plants"] == ["P2"]
    assert "North" not in marks[("S1", "offpeak")]["tip"]  # the plant it does not serve is not named
    assert marks[("S3", "offpeak")]["state"] == "partly"
    assert marks[("S3", "peak")]["state"] == "partly" and marks[("S2", "offpeak")]["state"] == "covered"
    assert "closed by ban 06:00–23:00" in marks[("S4", "offpeak")]["tip"]
    assert "14.0 min" in marks[("S4", "offpeak")]["tip"]
    # the check can fail: one flipped table value is found
    flipped = times.copy()
    flipped.loc[(flipped.supplier_id == "S2") & (flipped.plant_id == "P2"), "covered"] = False
    assert coverage_disagreements(page, flipped, _summary(flipped))["covered"] == 2
    assert coverage_disagreements(page, flipped, _summary(flipped))["legend"] == 2


def test_restriction_polygons_drawn_with_hours(sites):
    plants, suppliers = sites
    poly = box(116.40, 39.77, 116.48, 39.83)
    frame = restriction_frame([Restriction("ban", poly, (6, 23)), Restriction("am", poly, (7, 9)),
                               Restriction("ban", poly, (6, 23))], {"ban": "5th-Ring ban"})
    assert list(frame.name) == ["ban", "am"]
    iso = gpd.GeoDataFrame({"plant_id": [], "profile": [], "minutes": []}, geometry=[], crs=4326)
    page = to_html(coverage_map(plants, suppliers, _times(), iso, basemap="none", restrictions=frame), offline=False)
    drawn = [f["properties"] for f in features(page) if "names" in f["properties"]]
    assert len(drawn) == 1 and drawn[0]["names"] == ["ban", "am"]  # one outline for one polygon
    assert "06:00–23:00" in drawn[0]["tip"] and "07:00–09:00" in drawn[0]["tip"]
    assert "5th-Ring ban" in drawn[0]["tip"]


# ---------------------------------------------------------------------------------------
# siting map: layers that do not contradict each other or summary.json
# ---------------------------------------------------------------------------------------


def test_siting_layers_agree_with_demand_and_summary():
    rng = np.random.default_rng(3)
    n = 40
    pts = gpd.points_from_xy(116.5 + rng.normal(0, 0.02, n), 39.78 + rng.normal(0, 0.02, n))
    w = rng.uniform(1, 5, n)
    hpc_served = rng.random(n) < 0.7
    pv_served = hpc_served & (rng.random(n) < 0.3)  # PV-storage reaches fewer of the same points
    pts[1] = pts[0]  # two demand points at one place, one served: one marker lists both
    hpc_served[:2] = [True, False]
    demand = gpd.GeoDataFrame({
        "demand_id": [f"e{i}" for i in range(n)] + [f"pv_e{i}" for i in range(n)],
        "technology": ["hpc"] * n + ["pv_storage"] * n, "weight": np.r_[w, w],
        "served": np.r_[hpc_served, pv_served]}, geometry=list(pts) * 2, crs=4326)
    selected = gpd.GeoDataFrame({"site_id": ["C1", "C2"], "technology": ["hpc", "pv_storage"], "name": ["x", "y"]},
                                geometry=[Point(116.5, 39.78), Point(116.51, 39.79)], crs=4326)
    summary = {"covered_share": {"hpc": float(w[hpc_served].sum() / w.sum()),
                                 "pv_storage": float(w[pv_served].sum() / w.sum())}}
    m = siting_map(selected, demand, None, basemap="none")
    page = to_html(m, offline=False)
    feats = [f["properties"] for f in features(page) if "technology" in f["properties"]]
    for tech, served in (("hpc", hpc_served), ("pv_storage", pv_served)):
        got = {i: ok for p in feats if p["technology"] == tech for i, ok in zip(p["demand_ids"], p["served"])}
        ids = demand[demand.technology == tech].demand_id
        assert got == dict(zip(ids, served))
    cells = {}
    for c in data_cells(page, "technology"):
        cells.setdefault(c["technology"], {}).update(c)
    for tech, served in (("hpc", hpc_served), ("pv_storage", pv_served)):
        assert int(cells[tech]["served"]) == served.sum() and int(cells[tech]["points"]) == n
        assert float(cells[tech]["share"]) == pytest.approx(summary["covered_share"][tech], rel=1e-9)
    # only the first of two layers on the same points is on when the map opens, so no red
    # PV-storage marker hides a served HPC one
    shown = {ly["features"][0]["properties"]["technology"]: ly["shown"] for ly in layers(page)
             if ly["features"] and "technology" in ly["features"][0]["properties"]}
    assert shown == {"hpc": True, "pv_storage": False}
    assert red_over_served(page) == 0
    assert (hpc_served & ~pv_served).any()  # the case the old map got wrong is present
    both = [p for p in feats if p["technology"] == "hpc" and len(p["demand_ids"]) > 1]
    assert len(both) == 1 and both[0]["demand_ids"] == ["e0", "e1"] and both[0]["served"] == [True, False]


# ---------------------------------------------------------------------------------------
# unreachable trips: which restriction, at which hour, or no connection (known answers)
# ---------------------------------------------------------------------------------------

STEP = 0.001  # ~85 m of longitude; lengths are given as 100 m


@pytest.fixture(scope="module")
def chain():
    """Nodes 0-1-2-3-4-5 on a line, two-way, 100 m each; 4-5 closed to trucks (hgv=no).

    The ban polygon covers the middle of edge 2-3 only; a second restriction covers nothing.
    """
    xy = {i: (LON0 + i * STEP, LAT0) for i in range(6)}
    arcs = [(a, b, 100.0) for i in range(5) for a, b in ((i, i + 1), (i + 1, i))]
    nodes, edges = raw_tables(xy, arcs)
    edges["hgv"] = [("no" if {a, b} == {4, 5} else None) for a, b, _ in arcs]
    mid = LON0 + 2.5 * STEP
    ban = Restriction("ban", box(mid - 0.0002, LAT0 - 0.0005, mid + 0.0002, LAT0 + 0.0005), (6, 23))
    elsewhere = Restriction("elsewhere", box(LON0 + 0.05, LAT0 + 0.05, LON0 + 0.06, LAT0 + 0.06), (0, 24))
    profiles = {name: Profile(name, vehicle="truck", fallback_kmh=36, departure_hour=hour,
                              restrictions=[ban, elsewhere])
                for name, hour in (("truck", 10.0), ("truck_night", 23.0))}
    net = build_network(nodes, edges, profiles)
    return net, profiles, xy


def _at_nodes(net, nodes):
    """Points at network nodes, snapped onto their roads."""
    return snap_to_roads(net, net.nodes.lon.to_numpy()[nodes], net.nodes.lat.to_numpy()[nodes], None)


def test_unreachable_causes_known_answers(chain):
    net, profiles, xy = chain
    plants = pd.DataFrame({"site_id": ["P"], "name": ["P"], "lon": [xy[0][0]], "lat": [xy[0][1]]})
    sup = pd.DataFrame({"site_id": ["near", "banned", "no_road"], "name": ["n", "b", "x"],
                        "lon": [xy[1][0], xy[4][0], xy[5][0]], "lat": [LAT0] * 3, "weight": [1.0] * 3})
    res = supplier_coverage(net, plants, sup, profiles=("truck", "truck_night"), threshold_min=30,
                            speed_scales=(1.0,), max_snap_m=50, base_profile="truck", peak_profile="truck_night",
                            profile_specs=profiles)
    t = res.supplier_times.set_index(["profile", "supplier_id"])
    # 36 km/h = 10 m/s: 100 m per 10 s
    assert t.loc[("truck", "near"), "minutes"] == pytest.approx(10 / 60)
    assert t.loc[("truck", "near"), "unreachable_cause"] == ""
    assert math.isinf(t.loc[("truck", "banned"), "minutes"])
    assert t.loc[("truck", "banned"), "unreachable_cause"] == "restriction"
    assert t.loc[("truck", "banned"), "blocked_by"] == "ban 06:00–23:00"  # not "elsewhere"
    assert t.loc[("truck", "banned"), "minutes_unrestricted"] == pytest.approx(40 / 60)
    assert t.loc[("truck", "no_road"), "unreachable_cause"] == "no_connection"
    assert math.isinf(t.loc[("truck", "no_road"), "minutes_unrestricted"])
    # at night the ban is not in force: the same trip is driven, in the lifted time
    assert t.loc[("truck_night", "banned"), "minutes"] == pytest.approx(40 / 60)
    assert t.loc[("truck_night", "banned"), "unreachable_cause"] == ""
    assert t.loc[("truck_night", "no_road"), "unreachable_cause"] == "no_connection"
    text = " ".join(res.warnings)
    assert "1 supplier→plant trip(s) of profile truck are closed by time restriction(s) at departure hour 10" in text
    assert "ban 06:00–23:00 (1)" in text and "no connection" in text
    # without the profile definitions the cause is not guessed
    at = _at_nodes(net, [0]), _at_nodes(net, [4])
    bare = unreachable_causes(net, *at, np.array([[math.inf]]), None)
    assert bare[0][0, 0] == "unknown"


def test_cause_names_each_blocking_restriction(chain):
    net, profiles, xy = chain
    mid = LON0 + 0.5 * STEP
    first = Restriction("first", box(mid - 0.0002, LAT0 - 0.0005, mid + 0.0002, LAT0 + 0.0005), (7, 9))
    spec = Profile("truck2", vehicle="truck", fallback_kmh=36, departure_hour=8.5,
                   restrictions=[first, profiles["truck"].restrictions[0]])
    net2 = net.with_profile(spec)
    plant, sups = _at_nodes(net2, [0]), _at_nodes(net2, [1, 4])
    minutes = point_travel_times(net2, sups, plant, profile="truck2") / 60.0
    cause, blocked, lifted = unreachable_causes(net2, plant, sups, minutes, spec)
    assert list(cause[:, 0]) == ["restriction", "restriction"]
    assert blocked[0, 0] == "first 07:00–09:00"  # node 1 is cut off by "first" alone
    # node 4 needs both lifted: neither alone opens it, so both are named
    assert blocked[1, 0] == "first 07:00–09:00 + ban 06:00–23:00"
    assert lifted[:, 0] == pytest.approx([10 / 60, 40 / 60])


# ---------------------------------------------------------------------------------------
# the whole pipeline on a synthetic scenario, read back from its output folder
# ---------------------------------------------------------------------------------------

SCENARIO = """
[scenario]
name = "truth"
language = "en"
output = "out/{name}"

[profiles.offpeak]
fallback_kmh = 36
[profiles.truck]
vehicle = "truck"
fallback_kmh = 36
departure_hour = 10
restrictions = ["ban"]
[profiles.truck_night]
vehicle = "truck"
fallback_kmh = 36
departure_hour = 23
restrictions = ["ban"]

[[restrictions]]
name = "ban"
path = "ban.geojson"
hours = [6, 23]
note = "test ban"

[sites.plants]
path = "plants.csv"
illustrative = true
[sites.suppliers]
path = "suppliers.csv"

[coverage]
threshold_min = 1
bands_min = [0.5, 1]
profiles = ["offpeak", "truck", "truck_night"]
isochrone_profiles = ["offpeak", "truck_night"]
speed_scales = [1.0]
buffer_m = 20

[maps]
offline = true
basemap = "none"
"""


def _node(r, c, step=0.001):
    return LON0 + c * step, LAT0 + r * step


@pytest.fixture(scope="module")
def truth_run(tmp_path_factory):
    """The synthetic scenario run through the command line; its output folder."""
    from planner.cli import main

    folder = tmp_path_factory.mktemp("truth")
    network = write_grid_roads(folder, n=6, step=0.001, length_m=100.0, max_snap_m=300)  # 10 s per edge
    x, y = _node(3, 3)
    gpd.GeoDataFrame({"name": ["ban"]}, geometry=[box(x - 0.0006, y - 0.0006, x + 0.0006, y + 0.0006)],
                     crs=4326).to_file(folder / "ban.geojson", driver="GeoJSON")
    p = [_node(0, 0), _node(5, 5)]
    pd.DataFrame({"id": ["P1", "P2"], "name": ["Plant one", "Plant two"], "lon": [q[0] for q in p],
                  "lat": [q[1] for q in p]}).to_csv(folder / "plants.csv", index=False)
    s = {"S1": (_node(1, 0), "P1"), "S2": (_node(4, 5), "P1"), "S3": (_node(3, 3), "P1;P2"),
         "S4": (_node(2, 1), "P2")}
    pd.DataFrame({"id": list(s), "name": list(s), "lon": [v[0][0] for v in s.values()],
                  "lat": [v[0][1] for v in s.values()], "plants": [v[1] for v in s.values()]}
                 ).to_csv(folder / "suppliers.csv", index=False)
    (folder / "scenario.toml").write_text(SCENARIO + network)
    assert main(["run", str(folder / "scenario.toml"), "--quiet"]) == 0
    return folder / "out" / "truth"


def test_pipeline_maps_agree_with_tables_and_tell_the_ban(truth_run):
    out = truth_run
    times = pd.read_csv(out / "coverage" / "supplier_times.csv", encoding="utf-8-sig", keep_default_na=False,
                        na_values=[""])
    times["unreachable_cause"] = times["unreachable_cause"].fillna("")
    summary = pd.read_csv(out / "coverage" / "plant_summary.csv", encoding="utf-8-sig")
    page = (out / "coverage" / "coverage_map.html").read_text()
    assert not (out / "coverage" / "coverage_map_offpeak.html").exists()  # one map, a layer per profile
    bad = coverage_disagreements(page, times, summary)
    assert bad == {"missing_markers": 0, "plants": 0, "minutes": 0, "covered": 0, "legend": 0, "extra_markers": 0}
    t = times.set_index(["profile", "supplier_id", "plant_id"])
    # known answers: 10 s per edge; S2 is next to P2 but serves P1 (9 edges away)
    assert t.loc[("offpeak", "S2", "P1"), "minutes"] == pytest.approx(1.5)
    marks = {(f["properties"]["supplier_id"], f["properties"]["profile"]): f["properties"]
             for f in features(page) if "state" in f["properties"]}
    assert marks[("S2", "offpeak")]["state"] == "uncovered" and marks[("S2", "offpeak")]["plants"] == ["P1"]
    assert "Plant two" not in marks[("S2", "offpeak")]["tip"]
    # S3 sits inside the ban: closed by day, driven at night in the lifted time (6 and 4 edges)
    for plant, edges_ in (("P1", 6), ("P2", 4)):
        row = t.loc[("truck", "S3", plant)]
        assert math.isinf(row.minutes) and row.unreachable_cause == "restriction"
        assert row.blocked_by == "ban 06:00–23:00"
        assert row.minutes_unrestricted == pytest.approx(edges_ * 10 / 60)
        assert t.loc[("truck_night", "S3", plant), "minutes"] == pytest.approx(edges_ * 10 / 60)
    assert "closed by ban 06:00–23:00" in marks[("S3", "truck")]["tip"]
    warnings = " ".join(json.loads((out / "run.json").read_text())["warnings"])
    assert "2 supplier→plant trip(s) of profile truck are closed by time restriction(s) at departure hour 10" in warnings
    assert "cannot reach the plant on the network" not in warnings
    outlines = [f["properties"] for f in features(page) if "names" in f["properties"]]
    assert outlines and outlines[0]["names"] == ["ban"] and "test ban" in outlines[0]["tip"]
    bands = {f["properties"]["tip"] for f in features(page) if "threshold" in f["properties"]}
    assert any("Truck, night" in b for b in bands)  # the night truck circle is drawn
    assert "Illustrative data: Plants are not real" in page  # only the plants are flagged illustrative


# ---------------------------------------------------------------------------------------
# the demo (shared data): every supplier of the map = supplier_times.csv
# ---------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.shared_data
def test_demo_maps_agree_with_tables(shared_data, tmp_path, monkeypatch):
    from planner import pipeline
    from planner.scenario import load_scenario

    monkeypatch.setenv("PLANNER_DATA_DIR", str(shared_data))
    root = Path(__file__).resolve().parents[1]
    sc = load_scenario(root / "scenarios" / "yizhuang.toml")
    sc.scenario.output = str(tmp_path / "{name}")
    sc.siting.time_limit_s = 20
    out = pipeline.run(sc, quiet=True)
    times = pd.read_csv(out / "coverage" / "supplier_times.csv", encoding="utf-8-sig", keep_default_na=False,
                        na_values=[""], dtype={"supplier_id": str, "plant_id": str})
    times["unreachable_cause"] = times["unreachable_cause"].fillna("")
    summary = pd.read_csv(out / "coverage" / "plant_summary.csv", encoding="utf-8-sig", dtype={"plant_id": str})
    page = (out / "coverage" / "coverage_map.html").read_text()
    bad = coverage_disagreements(page, times, summary)
    assert bad == {"missing_markers": 0, "plants": 0, "minutes": 0, "covered": 0, "legend": 0, "extra_markers": 0}
    # every unreachable served truck trip has a cause; the day ban is named with its hours
    day = times[(times.profile == "truck") & times.serves & ~np.isfinite(times.minutes)]
    assert len(day) and (day.unreachable_cause != "").all()
    assert day[day.unreachable_cause == "restriction"].blocked_by.str.contains("06:00–23:00").all()
    night = times[(times.profile == "truck_night") & times.serves]
    assert np.isfinite(night.minutes).sum() > np.isfinite(times[(times.profile == "truck") & times.serves].minutes).sum()
    # siting map: the legend's shares are summary.json's, and the default view shows no red over served
    summary_json = json.loads((out / "siting" / "summary.json").read_text())
    spage = (out / "siting" / "siting_map.html").read_text()
    cells = {}
    for c in data_cells(spage, "technology"):
        cells.setdefault(c["technology"], {}).update(c)
    for tech, share in summary_json["covered_share"].items():
        assert float(cells[tech]["share"]) == pytest.approx(share, rel=1e-9)
    assert red_over_served(spage) == 0


@pytest.mark.browser
def test_pipeline_coverage_map_in_chromium(truth_run):
    """Opened offline as a user would: no errors or requests, the ban outline drawn, the legend's
    counts those of plant_summary.csv, the layers drawn."""
    pytest.importorskip("playwright")
    from playwright.sync_api import sync_playwright

    from planner.errors import PlannerError
    from planner.maps.offline import find_chromium
    from planner.maps.restrictions import RESTRICTION_COLOUR

    try:
        chromium = find_chromium()
    except PlannerError:
        pytest.skip("headless Chromium not installed (Debian: apt-get install -y chromium)")
    summary = pd.read_csv(truth_run / "coverage" / "plant_summary.csv", encoding="utf-8-sig")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        try:
            ctx = b.new_context(viewport={"width": 1200, "height": 800}, offline=True)
            page = ctx.new_page()
            errors, requests = [], []
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("request", lambda req: requests.append(req.url)
                    if not req.url.startswith(("file:", "data:", "about:")) else None)
            page.goto((truth_run / "coverage" / "coverage_map.html").as_uri(), wait_until="load")
            page.wait_for_function("() => document.querySelector('.leaflet-container').dataset.plannerReady === '1'",
                                   timeout=30_000)
            outline = page.locator(f'.leaflet-overlay-pane path[stroke="{RESTRICTION_COLOUR}"]')
            assert outline.count() == 1
            cells = page.evaluate("""() => [...document.querySelectorAll('.planner-counts td[data-plant]')]
                                    .map(td => [td.dataset.plant, td.dataset.profile, td.innerText])""")
            want = {(r.plant_id, r.profile, f"{r.suppliers_covered} / {r.suppliers_total}")
                    for r in summary.itertuples()}
            assert set(map(tuple, cells)) == want
            names = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
            assert any("Truck, night" in n for n in names)
            # drawn, not a blank frame: 4 supplier circles of the opening profile, its 2 plants' bands
            # (2 bands each) and the outline on top of the road background
            drawn = page.locator(".leaflet-overlay-pane path.leaflet-interactive").count()
            assert drawn >= 4 + 4 + 1, drawn
            assert errors == [] and requests == []
            ctx.close()
        finally:
            b.close()
