"""Siting inputs: freight flows and the flow-refuelling rule, EV demand clustering, PV yield,
candidate tables, eligibility masks and spacing conflicts (planner.stations.demand / .candidates)."""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer
from shapely.geometry import Point, box

from planner.errors import InputError, ScenarioError
from planner.network.graph import build_network
from planner.network.speeds import Profile
from planner.pipeline.stations import load_candidates, load_ev_demand, load_sensitive, score_for_scenario
from planner.routing import snap_to_roads
from planner.scenario import scenario_from_dict
from planner.stations.candidates import (
    CANDIDATE_COLUMNS,
    SCORE_COLUMNS,
    candidates_from_layer,
    candidates_from_sites,
    conflict_matrix,
    conflict_pairs,
    hpc_plugs,
    score_candidates,
    sensitive_features,
    snap_candidates,
    technology_mask,
    technology_rule,
)
from planner.stations.demand import (
    FLOW_COLUMNS,
    _weighted_quantile,
    cluster_demand,
    ev_demand,
    flow_candidate_pairs,
    flow_coverage_matrix,
    flow_volume_by_candidate,
    freight_flows,
    poi_demand_points,
    polygon_area_m2,
    pv_sites,
    pv_storage_demand,
    pv_yield_kwh,
    read_layer,
    road_demand_points,
)
from planner.technology import Technology
from tests._helpers import LAT0, LON0, raw_tables

TO_M = Transformer.from_crs(4326, 32650, always_xy=True)
TO_LL = Transformer.from_crs(32650, 4326, always_xy=True)
X0, Y0 = TO_M.transform(LON0, LAT0)
POIS = "beijing-pois/geofabrik_beijing_free_20260607_bbox.gpkg"


def _ll(dx, dy):
    """lon, lat arrays of points dx, dy metres east/north of the grid origin."""
    lon, lat = TO_LL.transform(X0 + np.asarray(dx, float), Y0 + np.asarray(dy, float))
    return np.asarray(lon), np.asarray(lat)


def _node_ll(node_id, step=0.001, n=5):
    r, c = divmod(node_id, n)
    return LON0 + c * step, LAT0 + r * step


def _pos(net, node_id):
    return int(np.flatnonzero(net.nodes.node_id.to_numpy() == node_id)[0])


def _at_nodes(net, node_ids):
    """Candidate stations at grid nodes, snapped onto their roads (every edge of the junction)."""
    ll = np.array([_node_ll(n) for n in node_ids])
    return snap_to_roads(net, ll[:, 0], ll[:, 1])


def _sites(rows, plants=True):
    df = pd.DataFrame(rows, columns=["site_id", "node", "weight", "plants"] if plants else ["site_id", "node"])
    ll = np.array([_node_ll(n) for n in df["node"]])
    df["lon"], df["lat"] = ll[:, 0], ll[:, 1]
    return df.drop(columns="node")


@pytest.fixture
def grid_flows(grid_network):
    plants = _sites([("P1", 4), ("P2", 24)], plants=False)
    suppliers = _sites([("S1", 0, 6.0, ()), ("S2", 20, 4.0, ("P1",)), ("S3", 2, 2.0, ("P1", "P2"))])
    return freight_flows(grid_network, suppliers, plants, profile="offpeak", max_snap_m=50)


# ------------------------------------------------------------------------------ freight flows

def test_flows_split_supplier_weight_over_served_plants(grid_network, grid_flows):
    f = grid_flows
    assert list(f.columns) == list(FLOW_COLUMNS)
    assert f["flow_id"].tolist() == ["S1>P1", "S1>P2", "S2>P1", "S3>P1", "S3>P2"]
    np.testing.assert_allclose(f["volume"], [3.0, 3.0, 4.0, 1.0, 1.0])  # () = all plants
    # 10 s per 100 m block: S1 (0,0) → P1 (0,4) 4 blocks, → P2 (4,4) 8 blocks
    np.testing.assert_allclose(f["minutes"], np.array([40, 80, 80, 20, 60]) / 60.0)
    assert f["reachable"].all() and f.attrs["profile"] == "offpeak"
    # the points as given (snapped again where used), at the junctions: 0 m from the road
    assert (f["origin_lon"].iat[0], f["origin_lat"].iat[0]) == _node_ll(0)
    assert (f["destination_lon"].iat[1], f["destination_lat"].iat[1]) == _node_ll(24)
    np.testing.assert_allclose(f[["origin_snap_m", "destination_snap_m"]], 0.0, atol=1e-6)


def test_flows_reject_unknown_plant(grid_network):
    plants = _sites([("P1", 4)], plants=False)
    suppliers = _sites([("S1", 0, 1.0, ("P9",))])
    suppliers.attrs["source"] = "suppliers.csv"
    with pytest.raises(InputError, match=r"suppliers.csv.*column 'plants'.*S1 → P9"):
        freight_flows(grid_network, suppliers, plants, profile="offpeak")


def test_flows_take_extra_origins(grid_network):
    plants = _sites([("P1", 4), ("P2", 24)], plants=False)
    suppliers = _sites([("S1", 0, 2.0, ("P2",))])
    lon, lat = _node_ll(20)
    hubs = gpd.GeoDataFrame(geometry=[Point(lon, lat)], crs=4326)
    f = freight_flows(grid_network, suppliers, plants, profile="offpeak", extra_origins=hubs)
    assert f["flow_id"].tolist() == ["S1>P2", "extra_1>P1", "extra_1>P2"]
    assert f["origin_kind"].tolist() == ["supplier", "extra", "extra"]
    np.testing.assert_allclose(f["volume"], [2.0, 0.5, 0.5])


def test_unreachable_flow_is_kept_flagged_and_never_served():
    # 1 → 2 is one-way: the flow 2 → 1 cannot be driven
    xy = {1: (LON0, LAT0), 2: (LON0 + 0.001, LAT0)}
    nodes, edges = raw_tables(xy, [(1, 2, 100.0)])
    net = build_network(nodes, edges, {"p": Profile("p", speeds_kmh={}, fallback_kmh=36.0)}, keep_largest=False)
    plants = pd.DataFrame({"site_id": ["A", "B"], "lon": [LON0, LON0 + 0.001], "lat": [LAT0, LAT0]})
    sup = pd.DataFrame({"site_id": ["S"], "lon": [LON0 + 0.001], "lat": [LAT0], "weight": [1.0], "plants": [("A",)]})
    f = freight_flows(net, sup, plants, profile="p")
    assert np.isinf(f["minutes"].iat[0]) and not f["reachable"].iat[0] and f.attrs["n_unreachable"] == 1
    assert flow_candidate_pairs(net, f, snap_to_roads(net, plants["lon"], plants["lat"])).empty


def test_detour_rule_on_grid(grid_network, grid_flows):
    net, f = grid_network, grid_flows.iloc[[0]]  # S1 → P1 along the bottom row, 40 s
    cand = _at_nodes(net, (2, 7, 22, 0))  # on the path, one block off (+20 s), far, at the origin
    on_path = flow_candidate_pairs(net, f, cand, max_detour_min=0.0)
    assert on_path["candidate"].tolist() == [0, 3]
    np.testing.assert_allclose(on_path["detour_min"], 0.0)
    assert flow_candidate_pairs(net, f, cand, max_detour_min=19.9 / 60)["candidate"].tolist() == [0, 3]
    off = flow_candidate_pairs(net, f, cand, max_detour_min=20 / 60)
    assert off["candidate"].tolist() == [0, 1, 3]
    np.testing.assert_allclose(off["detour_min"], [0.0, 20 / 60, 0.0], atol=1e-9)
    assert off["flow_id"].tolist() == ["S1>P1"] * 3


def test_pairs_volume_and_matrix(grid_network, grid_flows):
    net, f = grid_network, grid_flows
    # P1's node (0,4), the centre (2,2), the left column (2,0); grid shortest paths are the
    # monotone staircases, so a node serves a flow when it lies in the flow's bounding box
    cand = _at_nodes(net, (4, 12, 10))
    pairs = flow_candidate_pairs(net, f, cand)
    vol = flow_volume_by_candidate(pairs, f, len(cand))
    np.testing.assert_allclose(vol, [3 + 3 + 4 + 1 + 1, 3 + 4 + 1, 3 + 4])
    m = flow_coverage_matrix(pairs, len(f), len(cand))
    assert m.shape == (5, 3) and m.nnz == len(pairs) == 5 + 3 + 2
    assert m[2, 0] and m[2, 1] and not m[3, 1] and not m[0, 2]


def test_pairs_refuse_other_profile(grid_network, grid_flows):
    with pytest.raises(InputError, match="profile 'offpeak'"):
        flow_candidate_pairs(grid_network, grid_flows, _at_nodes(grid_network, [0]), profile="truck")


# ------------------------------------------------------------------------------ EV demand

def _points(dx, dy, w):
    lon, lat = _ll(dx, dy)
    return gpd.GeoDataFrame({"weight": np.asarray(w, float)}, geometry=gpd.points_from_xy(lon, lat), crs=4326)


def test_points_on_centres_have_zero_loss():
    pts = _points([0, 0, 0, 5000, 5000, 9000], [0, 0, 0, 0, 0, 3000], [1, 2, 3, 4, 5, 6])
    demand, loss = cluster_demand(pts, 3)
    assert loss["n_points"] == 6 and loss["n_distinct"] == 3 and loss["n_clusters"] == 3
    assert loss["mean_m"] == pytest.approx(0, abs=1e-6) and loss["p95_m"] == pytest.approx(0, abs=1e-6)
    assert sorted(demand["weight"]) == [6.0, 6.0, 9.0] and sorted(demand["n_points"]) == [1, 2, 3]
    assert demand.crs.to_epsg() == 4326 and demand["demand_id"].iat[0] == "ev_0001"


def test_clustering_loss_is_weighted_distance_to_weighted_centre():
    # two far-apart pairs; each pair: weights 3 and 1, 100 m apart → centre 25 m from the heavy point
    pts = _points([0, 100, 20000, 20100], [0, 0, 0, 0], [3, 1, 3, 1])
    demand, loss = cluster_demand(pts, 2, method="kmeans")
    assert loss["n_clusters"] == 2
    assert loss["mean_m"] == pytest.approx((3 * 25 + 1 * 75) * 2 / 8, rel=1e-6)  # 37.5
    assert loss["p95_m"] == pytest.approx(75, rel=1e-6) and loss["max_m"] == pytest.approx(75, rel=1e-6)
    x, _ = TO_M.transform(demand["lon"].to_numpy(), demand["lat"].to_numpy())
    np.testing.assert_allclose(np.sort(np.asarray(x) - X0), [25, 20025], atol=1e-3)
    np.testing.assert_allclose(demand["weight"], [4, 4])


def test_weighted_quantile():
    assert _weighted_quantile(np.array([10.0, 1.0, 5.0]), np.array([1.0, 8.0, 1.0]), 0.8) == 1.0
    assert _weighted_quantile(np.array([10.0, 1.0, 5.0]), np.array([1.0, 8.0, 1.0]), 0.95) == 10.0


@pytest.mark.parametrize("method", ["kmeans", "partitioned", "minibatch"])
def test_clustering_is_seeded_and_keeps_weight(method):
    rng = np.random.default_rng(1)
    pts = _points(rng.uniform(0, 8000, 600), rng.uniform(0, 6000, 600), rng.uniform(0.5, 2, 600))
    a, la = cluster_demand(pts, 40, method=method)
    b, lb = cluster_demand(pts, 40, method=method)
    pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry")))
    assert la == lb and la["n_clusters"] <= 40
    assert a["weight"].sum() == pytest.approx(pts["weight"].sum()) and a["n_points"].sum() == 600
    assert 0 < la["mean_m"] <= la["p95_m"] <= la["max_m"]


def test_cluster_demand_rejects_negative_weight():
    with pytest.raises(InputError, match="weight"):
        cluster_demand(_points([0], [0], [-1]), 3)


def test_poi_points_weights_and_polygons():
    lon, lat = _ll([0, 100, 200], [0, 0, 0])
    sq = box(lon[2], lat[2], lon[2] + 0.001, lat[2] + 0.001)
    gdf = gpd.GeoDataFrame({"fclass": ["mall", "bench", "school"]},
                           geometry=[Point(lon[0], lat[0]), Point(lon[1], lat[1]), sq], crs=4326)
    pts = poi_demand_points(gdf, {"mall": 10, "bench": 0}, default_weight=2, source="pois")
    assert pts["fclass"].tolist() == ["mall", "school"] and pts["weight"].tolist() == [10.0, 2.0]
    assert sq.contains(pts.geometry.iat[1]) and (pts["source"] == "pois").all()
    with pytest.raises(InputError, match="fclass"):
        poi_demand_points(gdf.drop(columns="fclass"), {"mall": 1})


def test_road_proxy_points(grid_network):
    pts = road_demand_points(grid_network, weight_per_km=2.0)
    assert len(pts) == len(grid_network.edges)  # every directed edge, class unknown → default 0.5
    np.testing.assert_allclose(pts["weight"], 2.0 * 0.1 * 0.5)
    assert road_demand_points(grid_network, 0.0).empty
    demand, loss = ev_demand([pts], n_clusters=1000)
    assert loss["n_distinct"] == len(pts) // 2  # both directions share a midpoint
    assert loss["mean_m"] == pytest.approx(0, abs=1e-6) and loss["points_by_source"] == {"roads": len(pts)}


def test_pv_area_and_yield():
    lon, lat = _ll([0, 30], [0, 30])
    sq = gpd.GeoSeries([box(lon[0], lat[0], lon[1], lat[1]), Point(lon[0], lat[0])], crs=4326)
    area = polygon_area_m2(sq)
    assert area[0] == pytest.approx(900, rel=1e-3) and np.isnan(area[1])
    np.testing.assert_allclose(pv_yield_kwh(area[:1]), [area[0] * 200])
    sites = pv_sites(gpd.GeoDataFrame(geometry=sq), kwh_per_m2=100)
    assert sites["pv_yield_kwh"].iat[0] == pytest.approx(area[0] * 100)
    ev = gpd.GeoDataFrame({"demand_id": ["ev_0001"], "weight": [4.0]}, geometry=[Point(lon[0], lat[0])], crs=4326)
    pv = pv_storage_demand(ev, share=0.5)
    assert pv["demand_id"].tolist() == ["pv_ev_0001"] and pv["weight"].tolist() == [2.0]


# ------------------------------------------------------------------------------ candidates

def _lots():
    """parking 30×30 m at the origin, fuel 10×10 m 80 m east, bicycle parking 300 m east."""
    def sq(dx, size):
        lon, lat = _ll([dx, dx + size], [0, size])
        return box(lon[0], lat[0], lon[1], lat[1])
    gdf = gpd.GeoDataFrame({"osm_id": ["11", "22", "33"], "fclass": ["parking", "fuel", "parking_bicycle"],
                            "name": ["Lot A", None, "bikes"]},
                           geometry=[sq(0, 30), sq(80, 10), sq(300, 5)], crs=4326)
    gdf.attrs["source"] = "traffic_a"
    return gdf


def test_candidates_from_layer():
    lots = _lots()
    c = candidates_from_layer(lots, fclass=["parking", "fuel"], source="osm")
    assert list(c.columns[: len(CANDIDATE_COLUMNS)]) == list(CANDIDATE_COLUMNS)
    assert c["candidate_id"].tolist() == ["parking_11", "fuel_22"]
    assert c["kind"].tolist() == ["parking", "fuel"] and c["name"].tolist() == ["Lot A", "fuel_22"]
    np.testing.assert_allclose(c["area_m2"], [900, 100], rtol=1e-3)
    assert lots.geometry.iat[0].contains(c.geometry.iat[0])
    assert not c["existing"].any() and (c["source"] == "osm").all()
    same_kind = candidates_from_layer(lots, kind="site", existing=True)
    assert same_kind["candidate_id"].tolist() == ["site_11", "site_22", "site_33"] and same_kind["existing"].all()
    with pytest.raises(InputError, match="fclass"):
        candidates_from_layer(lots.drop(columns="fclass"), fclass=["parking"])


def test_candidates_from_sites_reads_headroom_and_area():
    lon, lat = _ll([0, 500], [0, 0])
    sites = gpd.GeoDataFrame({"site_id": ["a", "b"], "name": ["A", "B"], "lon": lon, "lat": lat,
                              "category": [None, "depot"], "source_row": [2, 3],
                              "电网余量": ["500", ""], "area_m2": [1200, None]},
                             geometry=gpd.points_from_xy(lon, lat), crs=4326)
    c = candidates_from_sites(sites, source="user")
    assert c["candidate_id"].tolist() == ["user_a", "user_b"] and c["kind"].tolist() == ["user", "depot"]
    assert c["headroom_kva"].iat[0] == 500 and np.isnan(c["headroom_kva"].iat[1])
    assert c["area_m2"].iat[0] == 1200 and np.isnan(c["area_m2"].iat[1])
    sites.loc[1, "电网余量"] = "lots"
    sites.attrs["source"] = "cands.csv"
    with pytest.raises(InputError, match=r"cands.csv, row 3, column '电网余量'"):
        candidates_from_sites(sites)


def test_hpc_plugs_follow_the_vendor_rule():
    # 2,000 kVA carries 8-10 × 300 kW (parameters.md §4); 4 × 600 kW
    assert hpc_plugs([2000.0], plug_kw=300).tolist() == [8]
    assert hpc_plugs([2000.0, 500.0, 400.0, np.nan]).tolist() == [4, 1, 0, 0]


def test_eligibility_masks():
    c = candidates_from_layer(_lots(), fclass=["parking", "fuel"], source="osm")
    c["headroom_kva"] = [np.nan, 400.0]
    lon, lat = _ll([15 - 30, 85 + 80], [15, 5])  # school 30 m west of lot A's centre, 80 m east of B's
    school = gpd.GeoSeries([Point(lon[0], lat[0]), Point(lon[1], lat[1])], crs=4326)
    s = score_candidates(c, sensitive=school, h2_safety_m=50, pv_min_area_m2=400, flow_volume=[2.0, 1.0])
    assert set(SCORE_COLUMNS) <= set(s.columns)
    assert s["sensitive_m"].iat[0] == pytest.approx(30, abs=1.5)
    assert s["eligible_h2"].tolist() == [False, True]
    np.testing.assert_allclose(s["score_h2"], [1.0, 0.5 + 0.5])  # flow share + fuel bonus
    assert s["hpc_plugs"].tolist() == [4, 0] and s["eligible_hpc"].tolist() == [True, False]
    assert s["headroom_kva"].tolist() == [2000.0, 400.0]
    assert s["eligible_pv_storage"].tolist() == [True, False]
    np.testing.assert_allclose(s["score_pv_storage"], s["area_m2"] * 200 / 1000)
    # a school polygon around lot A: distance 0
    poly = gpd.GeoSeries([c.geometry.iat[0].buffer(0.001)], crs=4326)
    assert not score_candidates(c, sensitive=poly)["eligible_h2"].iat[0]
    assert score_candidates(c)["eligible_h2"].all()  # no sensitive features given


def test_technology_masks():
    c = candidates_from_layer(_lots(), fclass=["parking", "fuel"], source="osm")
    s = score_candidates(c, pv_min_area_m2=400)
    pv = Technology(capex_wan=1, radius_min=10, demand="pv")
    assert technology_rule("x", pv) == "pv_storage"
    assert technology_rule("hpc", Technology(capex_wan=1, radius_min=10)) == "hpc"
    assert technology_mask(s, "x", pv).tolist() == [True, False]
    other = Technology(capex_wan=1, radius_min=10, demand="freight", candidate_sources=["user"])
    assert not technology_mask(s, "h2", other).any()
    with pytest.raises(ScenarioError, match=r"siting.technologies.mystery.demand"):
        technology_rule("mystery", Technology(capex_wan=1, radius_min=10))


def test_conflict_pairs():
    lon, lat = _ll([0, 50, 200, 290], [0, 0, 0, 0])
    c = pd.DataFrame({"lon": lon, "lat": lat})
    pairs = conflict_pairs(c, 100)
    assert pairs.tolist() == [[0, 1], [2, 3]]
    assert conflict_pairs(c, 0).shape == (0, 2)
    assert conflict_pairs(c, 160).tolist() == [[0, 1], [1, 2], [2, 3]]
    m = conflict_matrix(pairs, 4)
    assert (m != m.T).nnz == 0 and m.nnz == 4 and m[1, 0] == 1


def test_snap_candidates(grid_network):
    lon, lat = _ll([0, 30000], [0, 0])
    c = pd.DataFrame({"lon": lon, "lat": lat})
    s = snap_candidates(grid_network, c, 500)
    assert s["on_network"].tolist() == [True, False] and s["node"].iat[0] == _pos(grid_network, 0)


# ------------------------------------------------------------------------------ scenario edge

def _scenario(tmp_path, siting):
    data = {"scenario": {"name": "t"}, "network": {"source": "layer", "path": "roads.gpkg"},
            "siting": {"budget_wan": 100, "technologies": {"hpc": {"capex_wan": 1, "radius_min": 10}}} | siting}
    return scenario_from_dict(data, base_dir=tmp_path)


def test_load_candidates_from_files(tmp_path):
    lots = _lots()
    lots.to_file(tmp_path / "lots.gpkg", layer="traffic_a", driver="GPKG")
    lon, lat = _ll([1000], [0])
    (tmp_path / "user.csv").write_text(f"id,name,lon,lat,headroom_kva\nU1,Depot,{lon[0]},{lat[0]},800\n",
                                       encoding="utf-8")
    sc = _scenario(tmp_path, {"candidates": {
        "osm": {"path": "lots.gpkg", "layer": "traffic_a", "fclass": ["parking", "fuel"]},
        "mine": {"path": "user.csv", "kind": "depot", "existing": True}}})
    c = load_candidates(sc)
    assert c["candidate_id"].tolist() == ["parking_11", "fuel_22", "depot_U1"]
    assert c["existing"].tolist() == [False, False, True] and c.attrs["counts"] == {"osm": 2, "mine": 1}
    s = score_for_scenario(c, sc)
    assert s["headroom_kva"].tolist() == [2000, 2000, 800]
    bad = _scenario(tmp_path, {"candidates": {"csv": {"path": "user.csv", "fclass": ["parking"]}}})
    with pytest.raises(ScenarioError, match=r"siting.candidates.csv.fclass"):
        load_candidates(bad)
    dup = _scenario(tmp_path, {"candidates": {"a": {"path": "lots.gpkg", "layer": "traffic_a"},
                                              "b": {"path": "lots.gpkg", "layer": "traffic_a"}}})
    with pytest.raises(ScenarioError, match="siting.candidates"):
        load_candidates(dup)
    missing = _scenario(tmp_path, {"candidates": {"a": {"path": "lots.gpkg", "layer": "nope"}}})
    with pytest.raises(InputError, match="no layer named 'nope'"):
        load_candidates(missing)


def test_ev_demand_needs_rules(tmp_path):
    with pytest.raises(ScenarioError, match="siting.ev_demand"):
        load_ev_demand(_scenario(tmp_path, {}))


# ------------------------------------------------------------------------------ shared data

@pytest.mark.shared_data
def test_shared_poi_candidates(shared_data, tmp_path):
    path = str(shared_data / POIS)
    sc = _scenario(tmp_path, {"candidates": {"osm": {"path": path, "layer": "traffic_a",
                                                     "fclass": ["parking", "fuel"]}}})
    c = load_candidates(sc)
    assert c["kind"].value_counts().to_dict() == {"parking": 1346, "fuel": 170}
    assert c["candidate_id"].is_unique and c["candidate_id"].str.match(r"^(parking|fuel)_\d+$").all()
    # the file keeps whole features that intersect the box: 3 lots straddle its north edge and
    # their inside points lie up to ~25 m beyond 39.98
    assert c["lon"].between(116.30, 116.90).all() and c["lat"].between(39.55, 39.9805).all()
    assert (c["lat"] > 39.98).sum() <= 3
    assert (c["area_m2"] > 0).all()
    sens = load_sensitive(sc)
    assert len(sens) > 1000  # schools, hospitals, kindergartens (points and polygons)
    s = score_for_scenario(c, sc, sensitive=sens)
    assert 0 < (~s["eligible_h2"]).sum() < len(s) and s["eligible_hpc"].all()
    assert 0 < s["eligible_pv_storage"].sum() < len(s)


@pytest.mark.shared_data
def test_shared_ev_demand(shared_data, tmp_path):
    path = str(shared_data / POIS)
    rules = [{"path": path, "layer": "pois", "fclass_weights": {"mall": 10, "restaurant": 1, "hotel": 3}},
             {"path": path, "layer": "pois_a", "fclass_weights": {"mall": 10, "hospital": 3}}]
    sc = _scenario(tmp_path, {"ev_demand": rules, "ev_clusters": 150})
    demand, loss = load_ev_demand(sc)
    assert loss["n_points"] == sum(loss["points_by_source"].values()) > 1000
    assert loss["n_clusters"] == len(demand) == 150
    assert demand["weight"].sum() == pytest.approx(loss["total_weight"])
    assert 0 < loss["mean_m"] < loss["p95_m"] < 5000
    lots = read_layer(path, "traffic_a", required=("fclass",))
    assert len(sensitive_features([lots], ["fuel"])) == 170
