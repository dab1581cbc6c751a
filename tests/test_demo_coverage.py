"""Supply-circle results on the demo scenario checked independently (needs the shared data)."""
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest

from planner import isochrones
from planner import supply_circle as coverage
from planner.routing import point_node_times, snap_to_roads
from tests._helpers import points_inserted_graph

ROOT = Path(__file__).resolve().parents[1]


def test_supplier_minutes_equal_networkx_with_sites_inserted_as_nodes(demo):
    """Against networkx on the network with every plant and supplier inserted as a node on its road."""
    sc, net, plants, suppliers = demo
    res = coverage.supplier_coverage(net, plants, suppliers, profiles=["offpeak", "peak"])
    lon = np.r_[plants.lon.to_numpy(float), suppliers.lon.to_numpy(float)]
    lat = np.r_[plants.lat.to_numpy(float), suppliers.lat.to_numpy(float)]
    p_of = {p: ("p", i) for i, p in enumerate(plants.site_id.astype(str))}
    s_of = {s: ("p", len(plants) + i) for i, s in enumerate(suppliers.site_id.astype(str))}
    sample = res.supplier_times.sample(60, random_state=1)
    for prof, rows in sample.groupby("profile"):
        g = points_inserted_graph(net, lon, lat, prof).reverse(copy=False)  # Dijkstra from the plant: times TO it
        for plant, prow in rows.groupby("plant_id"):
            ref = nx.single_source_dijkstra_path_length(g, p_of[plant], weight="w")
            for r in prow.itertuples():
                expected = ref.get(s_of[r.supplier_id], np.inf) / 60.0
                assert r.minutes == pytest.approx(expected, abs=1e-6) or (np.isinf(r.minutes) and np.isinf(expected))


def test_isochrones_cover_reached_road_and_little_else(demo):
    sc, net, plants, _ = demo
    bands = [10, 20, 30]
    buffer_m = sc.coverage.buffer_m
    iso = coverage.plant_isochrones(net, plants, ["offpeak"], bands, buffer_m=buffer_m)
    node_t = point_node_times(net, snap_to_roads(net, plants.lon, plants.lat, None), profile="offpeak",
                              direction="to", cutoff_s=max(bands) * 60)
    pieces = isochrones.reached_pieces(net.edges.u.to_numpy(), net.edges.v.to_numpy(), net.metric_geometry(),
                                       net.times("offpeak"), node_t, np.array(bands) * 60.0, direction="to")
    polys = iso.to_crs(net.metric_crs)
    polys = polys.set_index(["plant_id", "minutes"]).loc[
        [(str(p), float(b)) for p in plants.site_id for b in bands]].geometry.to_numpy()
    length_share, far_share = isochrones.reached_length_share(
        polys, pieces, buffer_m=buffer_m, tolerance_m=buffer_m / 4 + 1.0, n_samples=4000)
    print("length share min", length_share.min(), "far-area share max", far_share.max())
    assert np.nanmin(length_share) >= 0.99
    assert np.nanmax(far_share) <= 0.02


@pytest.mark.slow
def test_demo_siting_within_gap_and_exported_problem_resolves_to_same_objective(demo, tmp_path):
    from planner.pipeline import stations as glue
    from planner.pipeline.write import write_problem
    from planner.stations import plan

    sc, net, plants, suppliers = demo
    problem = glue.build_problem(sc, net, plants, suppliers)
    # the demo sites inside the approximate 亦庄新城 outline + margin (measure 10: "在亦庄新城范围内")
    assert len(problem.candidates) > 100 and problem.info["ev_demand_points"] >= 100
    assert problem.info["candidates_outside_study_area"] > 0
    boundary = gpd.read_file(sc.resolve(sc.siting.study_area.path)).to_crs(32650).union_all()
    for what, lon, lat in [("candidates", problem.candidates.lon, problem.candidates.lat)] + [
            (f"{t} demand", d.geometry.x, d.geometry.y) for t, d in problem.demand.items() if t != "h2"]:
        pts = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=4326).to_crs(32650)
        assert pts.distance(boundary).max() <= sc.siting.study_area.margin_m + 1.0, what
    stations = plan.solve_problem(problem, time_limit=sc.siting.time_limit_s, mip_gap=sc.siting.mip_gap)
    res = stations.result
    print(res.summary())
    assert res.status == "optimal" or res.gap <= 1e-3
    assert res.capex <= sc.siting.budget_wan + 1e-6
    write_problem(problem, tmp_path / "problem")
    again = glue.solve_exported(tmp_path / "problem", time_limit=sc.siting.time_limit_s, mip_gap=sc.siting.mip_gap)
    # both proven within the MIP gap of the same optimum
    assert again.objective == pytest.approx(res.objective, rel=2 * sc.siting.mip_gap)
    assert again.bound >= res.objective - 1e-9 and res.bound >= again.objective - 1e-9
