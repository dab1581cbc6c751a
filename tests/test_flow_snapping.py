"""Freight flows and the flow-refuelling detour rule route from the points on their roads.

Known answers on a square of long roads (a supplier 5 m off a 3 km road, stations in the middle of
long edges, one-way sides), an independent reference (networkx on the graph with every point
inserted as a real node, its road split there and the pieces timed by their share of the line:
``tests._helpers.points_inserted_graph``), and on the demo: every supplier → plant flow has the
supplier-coverage minutes of the same pair and profile.
"""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer

from planner.compare import evaluate_list
from planner.errors import InputError, SnapError
from planner.network.graph import build_network
from planner.network.speeds import Profile
from planner.routing import snap_to_roads
from planner.stations.demand import flow_candidate_pairs, freight_flows
from planner.stations.problem import FLOW_DEMAND_COLUMNS
from planner.supply_circle import supplier_coverage
from planner.technology import Technology
from tests._helpers import LAT0, LON0, inserted_point_times, raw_tables

UTM = "EPSG:32650"
_to_utm = Transformer.from_crs(4326, UTM, always_xy=True)
_to_wgs = Transformer.from_crs(UTM, 4326, always_xy=True)
X0, Y0 = _to_utm.transform(LON0, LAT0)


def _lonlat(x, y):
    """WGS-84 of metric offsets (m) from the origin."""
    return _to_wgs.transform(X0 + np.asarray(x, float), Y0 + np.asarray(y, float))


def _square():
    """Square of long roads, corners 0 (0,0), 1 (3000,0), 2 (3000,2000), 3 (0,2000), metres.

    0 ↔ 1 two-way 36 km/h (10 m/s); 1 → 2 one-way north 54 km/h (15 m/s); 2 ↔ 3 two-way
    36 km/h; 3 → 0 one-way south 72 km/h (20 m/s).
    """
    corners = {0: (0, 0), 1: (3000, 0), 2: (3000, 2000), 3: (0, 2000)}
    xy = {k: _lonlat(*c) for k, c in corners.items()}
    arcs = [(0, 1, 3000.0), (1, 0, 3000.0), (1, 2, 2000.0), (2, 3, 3000.0), (3, 2, 3000.0), (3, 0, 2000.0)]
    speeds = [36.0, 36.0, 54.0, 36.0, 36.0, 72.0]
    nodes, edges = raw_tables(xy, arcs, speeds=speeds)
    prof = {"truck": Profile("truck", speeds_kmh={}, fallback_kmh=30.0, maxspeed_factor=1.0, maxspeed_cap_kmh={})}
    return build_network(nodes, edges, prof, metric_crs=UTM, keep_largest=False)


def _frame(rows, cols):
    df = pd.DataFrame(rows, columns=cols)
    lon, lat = _lonlat(df.pop("x"), df.pop("y"))
    return df.assign(lon=lon, lat=lat)


#: suppliers: S1 5 m off road 0-1 (600 m from corner 0); S2 4 m off the one-way 3 → 0
SUPPLIERS = _frame([("S1", 600.0, 5.0, 1.0, ("P1",)), ("S2", -4.0, 1200.0, 2.0, ())],
                   ["site_id", "x", "y", "weight", "plants"])
#: plants: P1 3 m off the one-way 1 → 2, 1500 m up it; P2 3 m off road 2-3, 1500 m from corner 3
PLANTS = _frame([("P1", 3003.0, 1500.0), ("P2", 1500.0, 2003.0)], ["site_id", "x", "y"])
#: candidates: K0 mid 1 → 2; K1 on 0-1 ahead of S1; K2 on 0-1 behind S1; K3 on 2-3; K4 on 3 → 0
#: upstream of S2
CANDIDATES = _frame([("K0", 3000.0, 800.0), ("K1", 1800.0, -2.0), ("K2", 200.0, 3.0), ("K3", 1000.0, 2000.0),
                     ("K4", 0.0, 1600.0)], ["site_id", "x", "y"])


def _reference_times(net):
    """networkx seconds between every supplier, plant and candidate (rows/cols in that order)."""
    lon = np.concatenate([SUPPLIERS.lon, PLANTS.lon, CANDIDATES.lon])
    lat = np.concatenate([SUPPLIERS.lat, PLANTS.lat, CANDIDATES.lat])
    return inserted_point_times(net, lon, lat, "truck")


def test_flow_minutes_are_partial_edge_times():
    net = _square()
    f = freight_flows(net, SUPPLIERS, PLANTS, profile="truck", max_snap_m=50.0)
    assert f["flow_id"].tolist() == ["S1>P1", "S2>P1", "S2>P2"]
    # S1: 2,400 m on to corner 1 at 10 m/s (240 s), 1,500 m up the one-way at 15 m/s (100 s)
    assert f["minutes"].iat[0] == pytest.approx(340.0 / 60.0, abs=1e-6)
    # S2 on the one-way 3 → 0: 1,200 m south at 20 m/s (60 s), then 0 → 1 (300 s), 1 → P1 (100 s)
    assert f["minutes"].iat[1] == pytest.approx(460.0 / 60.0, abs=1e-6)
    # S2 → P2: it cannot go north to corner 3; round by 0, 1, 2 (60 + 300 + 2000/15 s) and
    # 1,500 m along 2 → 3 (150 s)
    assert f["minutes"].iat[2] == pytest.approx((60.0 + 300.0 + 2000.0 / 15.0 + 150.0) / 60.0, abs=1e-6)
    np.testing.assert_allclose(f["origin_snap_m"], [5.0, 4.0, 4.0], atol=1e-6)
    np.testing.assert_allclose(f["destination_snap_m"], [3.0, 3.0, 3.0], atol=1e-6)
    # the snap limit applies to the distance to the road, not to a corner (S1's is 600 m away)
    lon, lat = _lonlat(1500.0, 700.0)
    far = SUPPLIERS.iloc[[0]].assign(site_id="S9", lon=lon, lat=lat)
    with pytest.raises(SnapError, match=r"S9 \(700 m\)"):
        freight_flows(net, far, PLANTS, profile="truck", max_snap_m=500.0)


def test_flows_and_detours_agree_with_networkx_on_inserted_points():
    net = _square()
    f = freight_flows(net, SUPPLIERS, PLANTS, profile="truck", max_snap_m=50.0)
    ref = _reference_times(net)
    s_row = {s: i for i, s in enumerate(SUPPLIERS.site_id)}
    p_row = {p: len(SUPPLIERS) + i for i, p in enumerate(PLANTS.site_id)}
    k_row = len(SUPPLIERS) + len(PLANTS) + np.arange(len(CANDIDATES))
    o = f["supplier_id"].map(s_row).to_numpy()
    d = f["plant_id"].map(p_row).to_numpy()
    np.testing.assert_allclose(f["minutes"], ref[o, d] / 60.0, rtol=0, atol=1e-6)

    stations = snap_to_roads(net, CANDIDATES.lon, CANDIDATES.lat)
    want = (ref[o][:, k_row] + ref[k_row][:, d].T - ref[o, d][:, None]) / 60.0  # flows × candidates
    assert np.isfinite(want).all()
    every = flow_candidate_pairs(net, f, stations, max_detour_min=1e3)
    assert len(every) == want.size
    got = np.full(want.shape, np.nan)
    got[every["flow"], every["candidate"]] = every["detour_min"]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    # known answers for S1 → P1: K0 and K1 lie on its path, K2 is 400 m behind S1 on the two-way
    # road (back and forth: 80 s)
    np.testing.assert_allclose(got[0, :3], [0.0, 0.0, 80.0 / 60.0], atol=1e-6)
    # the rule keeps exactly the pairs within the allowed detour
    for limit in (0.0, 1.0, 80.0 / 60.0 + 1e-6, 5.0):
        pairs = flow_candidate_pairs(net, f, stations, max_detour_min=limit)
        kept = set(zip(pairs["flow"], pairs["candidate"]))
        assert kept == set(zip(*np.nonzero(want <= limit + 1e-9))), limit


def test_compare_serves_each_flow_by_its_smallest_snapped_detour():
    net = _square()
    f = freight_flows(net, SUPPLIERS, PLANTS, profile="truck", max_snap_m=50.0)
    demand = gpd.GeoDataFrame(f[["flow_id", *FLOW_DEMAND_COLUMNS[:-1]]].rename(columns={"flow_id": "demand_id"})
                              .assign(weight=f["volume"], flow_minutes=f["minutes"]),
                              geometry=gpd.points_from_xy(f["origin_lon"], f["origin_lat"]), crs=4326)
    demand.attrs["profile"] = "truck"
    sites = CANDIDATES.iloc[[2, 3]].assign(technology="h2")  # K2 behind S1, K3 on road 2-3
    tech = {"h2": Technology(capex_wan=1.0, radius_min=1.0, profile="truck", demand="freight")}
    got = evaluate_list(net, sites, {"h2": demand}, tech, max_snap_m=50.0).assignment.set_index("demand_id")

    ref = _reference_times(net)
    o = f["supplier_id"].map({s: i for i, s in enumerate(SUPPLIERS.site_id)}).to_numpy()
    d = f["plant_id"].map({p: len(SUPPLIERS) + i for i, p in enumerate(PLANTS.site_id)}).to_numpy()
    k = len(SUPPLIERS) + len(PLANTS) + np.array([2, 3])
    detour = (ref[o][:, k] + ref[k][:, d].T - ref[o, d][:, None]) / 60.0
    best = np.where(detour.min(axis=1) <= 1.0, detour.min(axis=1), np.inf)
    np.testing.assert_allclose(got.loc[f["flow_id"], "minutes"], best, rtol=0, atol=1e-6)
    assert np.isfinite(best).tolist() == [False, True, True]  # S1 → P1 needs 80 s back to K2
    station = np.where(np.isfinite(best), sites.site_id.to_numpy()[detour.argmin(axis=1)], "none")
    assert got.loc[f["flow_id"], "station_id"].fillna("none").tolist() == station.tolist()

    blank = demand.assign(destination_lat=[demand.destination_lat.iat[0], np.nan, demand.destination_lat.iat[2]])
    with pytest.raises(InputError, match=r"column 'destination_lat'.*demand id S2>P1"):
        evaluate_list(net, sites, {"h2": blank}, tech, max_snap_m=50.0)


def test_flow_minutes_equal_the_supplier_coverage_minutes_on_the_demo(demo):
    sc, net, plants, suppliers = demo
    h2 = sc.siting.technologies["h2"].profile
    for profile in dict.fromkeys([h2, "offpeak"]):
        f = freight_flows(net, suppliers, plants, profile=profile, max_snap_m=sc.network.max_snap_m)
        cov = supplier_coverage(net, plants, suppliers, profiles=(profile,), speed_scales=(1.0,),
                                max_snap_m=sc.network.max_snap_m)
        times = cov.supplier_times[cov.supplier_times.serves]
        both = f.merge(times, on=["supplier_id", "plant_id"], how="outer", validate="1:1", indicator=True)
        assert (both["_merge"] == "both").all(), profile  # the same served pairs
        a, b = both["minutes_x"].to_numpy(), both["minutes_y"].to_numpy()
        assert np.array_equal(np.isinf(a), np.isinf(b)), profile
        fin = np.isfinite(a)
        assert fin.sum() > 0
        assert np.abs(a[fin] - b[fin]).max() < 1e-9, profile
