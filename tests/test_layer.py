import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, MultiLineString

from planner.errors import InputError
from planner.network.layer import ColumnMap, read_road_layer


def _write(tmp_path, rows, crs=4326, name="roads.gpkg"):
    gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)
    path = tmp_path / name
    gdf.to_file(path)
    return path


def test_oneway_codes_expand_to_directions(tmp_path):
    a, b, c = (116.50, 39.80), (116.51, 39.80), (116.52, 39.80)
    path = _write(tmp_path, [
        {"ow": "FT", "cls": "primary", "spd": 60, "geometry": LineString([a, b])},
        {"ow": "TF", "cls": "secondary", "spd": None, "geometry": LineString([b, c])},
        {"ow": "no", "cls": None, "spd": None, "geometry": LineString([a, c])},
    ])
    nodes, edges = read_road_layer(path, ColumnMap(oneway="ow", road_class="cls", speed="spd"))
    assert len(nodes) == 3
    assert len(edges) == 4  # FT:1, TF:1, two-way:2
    xy = dict(zip(nodes.node_id, zip(nodes.lon, nodes.lat)))
    for _, e in edges.iterrows():  # geometry is drawn from from_node to to_node
        assert e.geometry.coords[0] == pytest.approx(xy[e.from_node])
        assert e.geometry.coords[-1] == pytest.approx(xy[e.to_node])
    tf = edges[edges.road_class == "secondary"].iloc[0]
    assert xy[tf.from_node] == pytest.approx(c) and bool(tf.oneway)
    assert edges.loc[edges.road_class == "primary", "maxspeed_kmh"].iloc[0] == 60
    assert np.isfinite(edges.length_m).all() and edges.length_m.min() > 800  # ~855 m per 0.01° here


def test_line_ends_within_tolerance_merge_and_multilines_explode(tmp_path):
    a, b = (116.50, 39.80), (116.51, 39.80)
    b_close = (116.51 + 2e-7, 39.80)  # ~2 cm away
    path = _write(tmp_path, [
        {"geometry": MultiLineString([[a, b], [b_close, (116.52, 39.80)]])},
    ], name="m.geojson")
    nodes, edges = read_road_layer(path, ColumnMap())
    assert len(nodes) == 3 and len(edges) == 4


def test_missing_mapped_column_names_it(tmp_path):
    path = _write(tmp_path, [{"kind": "x", "geometry": LineString([(116.5, 39.8), (116.6, 39.8)])}])
    with pytest.raises(InputError, match=r"roads.gpkg.*'highway'.*columns found: kind"):
        read_road_layer(path, ColumnMap(road_class="highway"))


def test_truncated_and_missing_files_are_input_errors(tmp_path):
    path = _write(tmp_path, [{"geometry": LineString([(116.5, 39.8), (116.6, 39.8)])}])
    data = path.read_bytes()
    broken = tmp_path / "broken.gpkg"
    broken.write_bytes(data[: len(data) // 3])
    with pytest.raises(InputError, match="broken.gpkg: cannot read road layer"):
        read_road_layer(broken)
    with pytest.raises(InputError, match="not found"):
        read_road_layer(tmp_path / "nope.gpkg")


def test_projected_layer_is_reprojected(tmp_path):
    line = gpd.GeoSeries([LineString([(116.5, 39.8), (116.51, 39.8)])], crs=4326).to_crs(32650)
    path = _write(tmp_path, [{"geometry": line.iloc[0]}], crs=32650)
    nodes, edges = read_road_layer(path)
    assert nodes.lon.min() == pytest.approx(116.5, abs=1e-7)
    assert edges.crs.to_epsg() == 4326
