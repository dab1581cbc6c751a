"""Coverage by departure hour and the low-speed autonomous delivery vehicle.

References: a network built from scratch with the single profile at each hour (the hourly run
recomputes only edge times and shares routing between equal hours), and networkx on the exported
GeoPackage for the autonomous vehicle's closures.
"""
from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import box

from planner.network.graph import build_network, export_network
from planner.network.speeds import (
    CONGESTION_CURVE,
    PEAK_FACTORS,
    TRUCK_SPEEDS_KMH,
    Profile,
    Restriction,
    profile_at_hour,
)
from planner.routing import travel_times
from planner.supply_circle import coverage_by_hour, supplier_coverage
from tests._helpers import LAT0, LON0, raw_tables

N, STEP = 8, 0.005  # 8×8 grid, ~425 m × 555 m cells


def _grid(motorway_row: int = 3):
    """Two-way grid; rows alternate primary / residential, one row is a motorway, columns tertiary."""
    xy = {r * N + c: (LON0 + c * STEP, LAT0 + r * STEP) for r in range(N) for c in range(N)}
    arcs, classes = [], []
    for r in range(N):
        for c in range(N):
            i = r * N + c
            if c + 1 < N:
                cls = "motorway" if r == motorway_row else ("primary" if r % 2 == 0 else "residential")
                arcs += [(i, i + 1), (i + 1, i)]
                classes += [cls, cls]
            if r + 1 < N:
                arcs += [(i, i + N), (i + N, i)]
                classes += ["tertiary", "tertiary"]
    return raw_tables(xy, arcs, classes=classes)


def _sites(rng, n):
    return pd.DataFrame({
        "site_id": [f"s{i}" for i in range(n)], "name": "x",
        "lon": LON0 + rng.uniform(0, (N - 1) * STEP, n), "lat": LAT0 + rng.uniform(0, (N - 1) * STEP, n),
        "weight": rng.integers(1, 10, n).astype(float), "plants": [()] * n,
    })


def _truck_ban():
    # the eastern half, closed 06–23 (like the 5th-Ring rule)
    return Restriction("ban", box(LON0 + 3.5 * STEP, LAT0 - 1, LON0 + 1, LAT0 + 1), (6.0, 23.0))


def test_profile_at_hour_reaches_peak_factors_and_free_flow():
    base = Profile("car")
    peak_h = int(np.argmax(CONGESTION_CURVE))
    assert profile_at_hour(base, peak_h).factors["motorway"] == pytest.approx(PEAK_FACTORS["motorway"])
    assert profile_at_hour(base, 3).factors["primary"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="24 values"):
        profile_at_hour(base, 3, curve=[0.5] * 23)


@pytest.mark.parametrize("hour", [2, 6, 8, 12, 18, 23])
def test_coverage_by_hour_equals_single_profile_run(hour):
    nodes, edges = _grid()
    rng = np.random.default_rng(4)
    plants = pd.DataFrame({"site_id": ["A", "B"], "name": ["A", "B"],
                           "lon": [LON0 + 0.3 * STEP, LON0 + 6.6 * STEP], "lat": [LAT0 + 0.2 * STEP, LAT0 + 5.5 * STEP]})
    sup = _sites(rng, 40)
    vehicles = {
        "car": Profile("car"),
        "truck": Profile("truck", speeds_kmh=dict(TRUCK_SPEEDS_KMH), vehicle="truck", restrictions=[_truck_ban()]),
    }
    base_net = build_network(nodes, edges, vehicles, keep_largest=False)
    hourly = coverage_by_hour(base_net, plants, sup, vehicles, hours=range(24), threshold_min=4.0)
    assert hourly.routed < 48  # equal hours share one routing
    # the comparison is not trivial: coverage moves with the hour for both vehicles
    for vname in vehicles:
        assert hourly.by_hour[hourly.by_hour.vehicle == vname].suppliers_covered.nunique() > 2
    for vname, prof in vehicles.items():
        # the reference: a network built from scratch with the profile at this hour, its factors
        # written out here from the curve (1 - c * (1 - peak factor))
        c = CONGESTION_CURVE[hour]
        factors = {k: 1 - c * (1 - f) for k, f in PEAK_FACTORS.items()}
        single = Profile(vname, speeds_kmh=prof.speeds_kmh, vehicle=prof.vehicle, restrictions=prof.restrictions,
                         departure_hour=hour, factors=factors)
        ref_net = build_network(nodes, edges, {vname: single}, keep_largest=False)
        ref = supplier_coverage(ref_net, plants, sup, profiles=[vname], threshold_min=4.0, speed_scales=[1.0])
        got = hourly.by_hour[(hourly.by_hour.vehicle == vname) & (hourly.by_hour.hour == hour)].set_index("plant_id")
        exp = ref.plant_summary.set_index("plant_id")
        for col in ("suppliers_total", "suppliers_covered"):
            assert got[col].to_dict() == exp[col].to_dict(), (vname, col)
        for col in ("share_covered", "weighted_share_covered"):
            assert got[col].to_numpy() == pytest.approx(exp.loc[got.index, col].to_numpy()), (vname, col)
        # delivery windows agree with the reference's covered flag at this hour
        w = hourly.delivery_windows[hourly.delivery_windows.vehicle == vname]
        inside = {(r.supplier_id, r.plant_id): _hour_in(r.windows, hour) for r in w.itertuples()}
        st = ref.supplier_times[ref.supplier_times.serves]
        assert inside == {(r.supplier_id, r.plant_id): bool(r.covered) for r in st.itertuples()}


def _hour_in(windows: str, hour: int) -> bool:
    for run in filter(None, windows.split(",")):
        a, b = map(int, run.split("-"))
        if a <= hour < b:
            return True
    return False


def test_truck_ban_shows_in_the_hours():
    nodes, edges = _grid()
    truck = Profile("truck", speeds_kmh=dict(TRUCK_SPEEDS_KMH), vehicle="truck", restrictions=[_truck_ban()])
    net = build_network(nodes, edges, {"truck": truck}, keep_largest=False)
    plants = pd.DataFrame({"site_id": ["A"], "name": ["A"], "lon": [LON0 + 0.3 * STEP], "lat": [LAT0 + 0.2 * STEP]})
    # one supplier inside the banned half
    sup = pd.DataFrame({"site_id": ["e"], "name": ["e"], "lon": [LON0 + 6.5 * STEP], "lat": [LAT0 + 2 * STEP],
                        "weight": [1.0], "plants": [()]})
    res = coverage_by_hour(net, plants, sup, {"truck": truck}, hours=range(24), threshold_min=30.0)
    row = res.delivery_windows.iloc[0]
    assert row.windows == "0-6,23-24" and row.hours_covered == 7


# ------------------------------------------------------------------------------- autonomous


def test_autonomous_vehicle_keeps_to_its_classes_and_zone(tmp_path):
    nodes, edges = _grid()
    zone = box(LON0 - 0.0001, LAT0 - 0.0001, LON0 + 5.2 * STEP, LAT0 + 6.2 * STEP)  # cols 0–5, rows 0–6
    auto = Profile("auto", max_kmh=15.0, allowed_classes=frozenset({"primary", "residential", "tertiary"}),
                   zone=zone, vehicle="autonomous")
    net = build_network(nodes, edges, {"car": Profile("car"), "auto": auto}, keep_largest=False)
    path = export_network(net, tmp_path / "net.gpkg")
    e = gpd.read_file(path, layer="edges")
    t = e["travel_time_s_auto"].to_numpy(float)
    inside = shapely.covered_by(np.asarray(e.geometry.values), zone)
    excluded = e.road_class.eq("motorway").to_numpy()
    assert excluded.any() and (~inside).any()
    assert np.isinf(t[excluded]).all() and np.isinf(t[~inside]).all()
    ok = ~excluded & inside
    assert np.isfinite(t[ok]).all()
    # every allowed edge at the cap: length / (15 km/h), computed here from the exported lengths
    assert t[ok] == pytest.approx(e.length_m.to_numpy()[ok] / (15 / 3.6))
    # networkx on the exported allowed edges only gives the planner's times from a node
    g = nx.DiGraph()
    for r in e[ok].itertuples():
        g.add_edge(int(r.u), int(r.v), weight=float(r.length_m) / (15 / 3.6))
    src = 0
    ref = nx.single_source_dijkstra_path_length(g, src, weight="weight")
    got = travel_times(net, np.array([src]), profile="auto")[0]
    reached = np.flatnonzero(np.isfinite(got))
    assert set(reached.tolist()) == set(ref)
    assert got[list(ref)] == pytest.approx([ref[k] for k in ref])
    # and the car, with the motorway and the whole grid, reaches strictly more
    assert np.isfinite(travel_times(net, np.array([src]), profile="car")[0]).sum() > len(reached)


def test_zone_changes_door_to_door_suppliers():
    nodes, edges = _grid()
    zone = box(LON0 - 0.0001, LAT0 - 0.0001, LON0 + 3.2 * STEP, LAT0 + 3.2 * STEP)
    allowed = frozenset({"primary", "residential", "tertiary"})
    profs = {"open": Profile("open", max_kmh=15.0, allowed_classes=allowed, vehicle="autonomous"),
             "zoned": Profile("zoned", max_kmh=15.0, allowed_classes=allowed, zone=zone, vehicle="autonomous")}
    net = build_network(nodes, edges, profs, keep_largest=False)
    plants = pd.DataFrame({"site_id": ["A"], "name": ["A"], "lon": [LON0 + 0.5 * STEP], "lat": [LAT0]})
    sup = _sites(np.random.default_rng(1), 30)
    res = supplier_coverage(net, plants, sup, profiles=["open", "zoned"], threshold_min=30.0, speed_scales=[1.0])
    t = res.supplier_times.pivot(index="supplier_id", columns="profile", values="minutes")
    lon = sup.set_index("site_id").lon
    lat = sup.set_index("site_id").lat
    # zoned: suppliers nearer to roads beyond the zone (past column / row 3.5) are not reached;
    # never faster than open
    outside = (lon > LON0 + 3.5 * STEP) | (lat > LAT0 + 3.5 * STEP)
    assert np.isinf(t.loc[outside[outside].index, "zoned"]).all()
    assert (t.zoned >= t.open - 1e-9).all()
    s = res.plant_summary.set_index("profile")
    assert s.loc["zoned", "suppliers_covered"] < s.loc["open", "suppliers_covered"]


# ------------------------------------------------------------------------------- scenario keys
def _scenario(**extra):
    from planner.scenario import scenario_from_dict

    data = {"scenario": {"name": "t"}, "network": {"source": "layer", "path": "roads.gpkg"},
            "profiles": {"car": {}, "robot": {"vehicle": "autonomous"}}, "coverage": {"profiles": ["car"],
                                                                                    "isochrone_profiles": ["car"]}}
    data.update(extra)
    return scenario_from_dict(data, source_path="s.toml")


def test_hourly_scenario_keys_are_checked():
    from planner.errors import ScenarioError

    sc = _scenario(hourly={"enabled": True, "vehicles": ["car", "robot"], "hours": [18, 8]})
    assert sc.hourly.hours == [8, 18]
    with pytest.raises(ScenarioError, match=r"hourly\.vehicles"):
        _scenario(hourly={"vehicles": ["bus"]})
    with pytest.raises(ScenarioError, match=r"hourly\.curve.*24 intensities"):
        _scenario(hourly={"curve": [0.5] * 12})
    with pytest.raises(ScenarioError, match=r"hourly\.hours"):
        _scenario(hourly={"hours": [25]})


def test_autonomous_profile_defaults_and_zone_error(tmp_path):
    from planner.errors import InputError
    from planner.network.speeds import AUTONOMOUS_CLASSES, AUTONOMOUS_MAX_KMH
    from planner.pipeline import profiles_for_scenario

    sc = _scenario()
    robot = profiles_for_scenario(sc)["robot"]
    assert robot.max_kmh == AUTONOMOUS_MAX_KMH and robot.allowed_classes == AUTONOMOUS_CLASSES
    assert "motorway" not in robot.allowed_classes and "trunk" not in robot.allowed_classes
    bad = tmp_path / "zone.geojson"
    bad.write_text("not json", encoding="utf-8")
    sc = _scenario(profiles={"car": {}, "robot": {"vehicle": "autonomous", "zone": str(bad)}})
    with pytest.raises(InputError, match="zone.geojson"):
        profiles_for_scenario(sc)
