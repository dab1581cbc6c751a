"""Road-data extent: hull, circles reaching its edge (coverage a lower bound), sites outside."""
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer
from scipy.spatial import ConvexHull

from planner.data_extent import edge_reach, network_extent, sites_outside

TO_WGS = Transformer.from_crs(32650, 4326, always_xy=True)
X0, Y0 = 460_000.0, 4_405_000.0


def _wgs(x, y):
    return TO_WGS.transform(np.asarray(x, float), np.asarray(y, float))


def test_convex_extent_matches_scipy_hull_area():
    rng = np.random.default_rng(3)
    x, y = X0 + rng.uniform(0, 8000, 400), Y0 + rng.uniform(0, 5000, 400)
    lon, lat = _wgs(x, y)
    ext = network_extent(lon, lat, "EPSG:32650")
    area = gpd.GeoSeries([ext], crs=4326).to_crs(32650).area.iloc[0]
    assert area == pytest.approx(ConvexHull(np.c_[x, y]).volume, rel=1e-6)
    concave = network_extent(lon, lat, "EPSG:32650", method="concave", concave_ratio=0.1)
    assert gpd.GeoSeries([concave], crs=4326).to_crs(32650).area.iloc[0] < area


def _disk(cx, cy, r):
    return gpd.GeoSeries([shapely.Point(cx, cy).buffer(r, quad_segs=64)], crs=32650).to_crs(4326).iloc[0]


def test_circle_near_the_edge_is_flagged_with_its_distance():
    corners_lon, corners_lat = _wgs([X0, X0 + 10_000, X0 + 10_000, X0], [Y0, Y0, Y0 + 10_000, Y0 + 10_000])
    ext = network_extent(corners_lon, corners_lat, "EPSG:32650")
    iso = gpd.GeoDataFrame({"plant_id": ["A", "B", "A"], "profile": ["offpeak", "offpeak", "peak"],
                            "minutes": [30.0, 30.0, 30.0]},
                           geometry=[_disk(X0 + 5000, Y0 + 1200, 1000),   # 200 m from the south edge
                                     _disk(X0 + 5000, Y0 + 5000, 2000),   # 3,000 m from every edge
                                     _disk(X0 + 5000, Y0 + 2000, 1000)],  # 1,000 m
                           crs=4326)
    table, warnings = edge_reach(iso, ext, 30, "EPSG:32650", tolerance_m=300)
    t = table.set_index(["plant_id", "profile"])
    assert t.loc[("A", "offpeak"), "distance_to_data_edge_m"] == pytest.approx(200, abs=2)
    assert t.loc[("B", "offpeak"), "distance_to_data_edge_m"] == pytest.approx(3000, abs=2)
    assert t.loc[("A", "peak"), "distance_to_data_edge_m"] == pytest.approx(1000, abs=2)
    assert t.reaches_data_edge.tolist() == [True, False, False]
    assert len(warnings) == 1 and "plant A" in warnings[0] and "lower bound" in warnings[0]
    assert "planner fetch" in warnings[0]
    # bands other than the threshold are ignored
    assert edge_reach(iso.assign(minutes=10.0), ext, 30, "EPSG:32650")[0].empty


def test_sites_outside_the_extent_are_flagged():
    lon, lat = _wgs([X0, X0 + 4000, X0 + 4000, X0], [Y0, Y0, Y0 + 4000, Y0 + 4000])
    ext = network_extent(lon, lat, "EPSG:32650")
    slon, slat = _wgs([X0 + 2000, X0 + 2000, X0 - 500, X0 + 1000], [Y0 + 2000, Y0 - 300, Y0 + 100, Y0 - 30])
    flags, warnings = sites_outside(["in", "south", "west", "edge"], slon, slat, ext, "EPSG:32650", tolerance_m=50)
    assert flags.tolist() == [False, True, True, False]  # 30 m outside is within the tolerance
    assert "2 supplier(s)" in warnings[0] and "south" in warnings[0]
    assert sites_outside(["in"], slon[:1], slat[:1], ext, "EPSG:32650")[1] == []


def test_audit_on_the_tiny_run_flags_a_corner_plant(tmp_path):
    """End to end on the tiny grid scenario: the plant sits on the grid's corner."""
    from planner import pipeline
    from planner.scenario import load_scenario
    from tests._helpers import make_scenario

    sc = load_scenario(make_scenario(tmp_path / "tiny"))
    out = pipeline.run(sc, quiet=True)
    summary = pd.read_csv(out / "coverage" / "plant_summary.csv")
    assert summary.set_index("profile").loc["offpeak", "coverage_is_lower_bound"]
    edge = pd.read_csv(out / "coverage" / "data_edge.csv")
    assert edge.distance_to_data_edge_m.min() == pytest.approx(0, abs=1)
    import json

    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert any("truncated by the edge of the road data" in w for w in run["warnings"])
    layers = dict(__import__("pyogrio").list_layers(out / "areas.gpkg"))
    assert "data_extent" in layers


def test_extent_layer_of_a_grid_network_is_its_node_box(grid_network):
    from planner.data_extent import network_extent_layer

    layer = network_extent_layer(grid_network)
    n = grid_network.nodes
    box = shapely.box(n.lon.min(), n.lat.min(), n.lon.max(), n.lat.max())
    assert len(layer) == 1 and layer.crs.to_epsg() == 4326
    assert layer.geometry.iloc[0].symmetric_difference(box).area < 1e-4 * box.area
