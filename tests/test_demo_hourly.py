"""Hourly coverage and the autonomous delivery vehicle on the demo scenario (needs the shared data).

References: the demo network re-timed with the single profile at an hour (``with_profile``, the
whole edge table, masks recomputed) for the hourly table; networkx on the exported GeoPackage,
with the zone read from its file here, for the autonomous vehicle.
"""
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely

from planner import pipeline
from planner.network.graph import export_network
from planner.network.speeds import CONGESTION_CURVE, PEAK_FACTORS, Profile
from planner.routing import snap, travel_times
from planner.supply_circle import coverage_by_hour, supplier_coverage

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo_hourly(demo):
    """The conftest demo inputs plus the scenario's travel profiles."""
    sc = demo[0]
    return (*demo, pipeline.profiles_for_scenario(sc))


@pytest.mark.parametrize("vehicle,hour", [("truck_nev", 8), ("truck", 23), ("truck_nonbj", 5), ("offpeak", 18)])
def test_demo_by_hour_equals_single_profile(demo_hourly, vehicle, hour):
    sc, net, plants, suppliers, profiles = demo_hourly
    prof = profiles[vehicle]
    hourly = coverage_by_hour(net, plants, suppliers, {vehicle: prof}, hours=[hour], threshold_min=30.0)
    c = CONGESTION_CURVE[hour]
    single = Profile(vehicle, speeds_kmh=prof.speeds_kmh, fallback_kmh=prof.fallback_kmh, vehicle=prof.vehicle,
                     restrictions=prof.restrictions, departure_hour=hour,
                     factors={k: 1 - c * (1 - f) for k, f in PEAK_FACTORS.items()})
    ref_net = net.with_profile(single, name="ref")
    ref = supplier_coverage(ref_net, plants, suppliers, profiles=["ref"], threshold_min=30.0, speed_scales=[1.0])
    got = hourly.by_hour.set_index("plant_id")
    exp = ref.plant_summary.set_index("plant_id").loc[got.index]
    assert got.suppliers_covered.tolist() == exp.suppliers_covered.tolist()
    assert got.weighted_share_covered.to_numpy() == pytest.approx(exp.weighted_share_covered.to_numpy())


def test_demo_autonomous_vehicle_on_exported_network(demo_hourly, tmp_path):
    sc, net, plants, suppliers, profiles = demo_hourly
    e = gpd.read_file(export_network(net, tmp_path / "net.gpkg"), layer="edges")
    zone = gpd.read_file(sc.resolve(sc.profiles["autonomous"].zone)).to_crs(4326).geometry.union_all()
    t = e["travel_time_s_autonomous"].to_numpy(float)
    # the default allowed classes, written out here; roads without a class open, any other class closed
    allowed = ["primary", "secondary", "tertiary", "unclassified", "residential", "living_street", "service",
               "primary_link", "secondary_link", "tertiary_link"]
    excluded = ~(e.road_class.isin(allowed) | e.road_class.isna()).to_numpy()
    outside = ~shapely.covered_by(np.asarray(e.geometry.values), zone)
    assert e.road_class.isin(["motorway", "connector"]).sum() > 100 and outside.sum() > 1000
    assert np.array_equal(np.isfinite(t), ~(excluded | outside))
    # the speed cap: no open edge faster than 15 km/h
    ok = np.isfinite(t)
    assert (e.length_m.to_numpy()[ok] / t[ok] * 3.6 <= 15.0 + 1e-9).all()
    # routes from each plant: networkx over the open edges only gives the planner's times
    g = nx.DiGraph()
    g.add_nodes_from(range(net.n_nodes))  # a plant whose road is closed to the vehicle reaches only itself
    for u, v, w in zip(e.u.to_numpy()[ok], e.v.to_numpy()[ok], t[ok]):
        if not g.has_edge(u, v) or g[u][v]["weight"] > w:
            g.add_edge(int(u), int(v), weight=float(w))
    nodes, _ = snap(net, plants.lon.to_numpy(), plants.lat.to_numpy(), 500)
    got = travel_times(net, nodes, profile="autonomous")
    for k, src in enumerate(nodes):
        ref = nx.single_source_dijkstra_path_length(g, int(src), weight="weight")
        reached = np.flatnonzero(np.isfinite(got[k]))
        assert set(reached.tolist()) == set(ref)
        idx = np.fromiter(ref, int)
        assert got[k][idx] == pytest.approx(np.array([ref[i] for i in idx]))
