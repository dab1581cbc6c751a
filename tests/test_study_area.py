"""Siting study area: polygon file + margin, the approximate E-Town outline and the demo plants."""
import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from pyproj import Geod, Transformer

from planner.errors import InputError, ScenarioError
from planner.pipeline.stations import study_area_polygon
from planner.scenario import scenario_from_dict
from planner.study_area import inside, read_polygon

ROOT = Path(__file__).resolve().parents[1]
TO_WGS = Transformer.from_crs(32650, 4326, always_xy=True)
GEOD = Geod(ellps="WGS84")
X0, Y0 = 460_000.0, 4_405_000.0  # UTM 50N, near Yizhuang


def _scenario(tmp_path, study_area):
    return scenario_from_dict({
        "scenario": {"name": "t"}, "network": {"source": "layer", "path": "roads.gpkg"},
        "siting": {"budget_wan": 100, "study_area": study_area,
                   "technologies": {"hpc": {"capex_wan": 10, "radius_min": 5}}},
    }, base_dir=tmp_path)


def _square_file(tmp_path) -> Path:
    """A 2 km × 2 km square (drawn in UTM 50N), written as WGS-84 GeoJSON."""
    sq = shapely.box(X0, Y0, X0 + 2000, Y0 + 2000)
    path = tmp_path / "area.geojson"
    gpd.GeoDataFrame(geometry=[sq], crs=32650).to_crs(4326).to_file(path, driver="GeoJSON")
    return path


@pytest.mark.parametrize("outside_m, expected", [(-100, True), (450, True), (550, False), (900, False)])
def test_polygon_file_grown_by_margin(tmp_path, outside_m, expected):
    _square_file(tmp_path)
    sc = _scenario(tmp_path, {"path": "area.geojson", "margin_m": 500})
    area = study_area_polygon(sc)
    # a point east of the square's east edge by outside_m metres (measured in UTM)
    lon, lat = TO_WGS.transform(X0 + 2000 + outside_m, Y0 + 1000)
    assert inside(area, [lon], [lat])[0] == expected


def test_box_study_area_still_accepted(tmp_path):
    sc = _scenario(tmp_path, [116.4, 39.7, 116.6, 39.9])
    got = inside(study_area_polygon(sc), [116.5, 116.7], [39.8, 39.8])
    assert got.tolist() == [True, False]


def test_bad_study_area_names_the_key(tmp_path):
    with pytest.raises(ScenarioError, match="siting.study_area"):
        _scenario(tmp_path, [116.6, 39.7, 116.4, 39.9])
    with pytest.raises(ScenarioError, match="siting.study_area"):
        _scenario(tmp_path, {"path": "a.geojson", "margin": 5})
    sc = _scenario(tmp_path, {"path": "missing.geojson"})
    with pytest.raises(InputError, match="missing.geojson"):
        study_area_polygon(sc)


def test_file_without_polygon_is_an_error(tmp_path):
    path = tmp_path / "pts.geojson"
    gpd.GeoDataFrame(geometry=[shapely.Point(116.5, 39.8)], crs=4326).to_file(path, driver="GeoJSON")
    with pytest.raises(InputError, match="no polygon"):
        read_polygon(path)


# ---------------------------------------------------------------- the shipped demo data
BOUNDARY = ROOT / "scenarios" / "data" / "etown_boundary_approx.geojson"
PLANTS = ROOT / "scenarios" / "data" / "yizhuang_plants_illustrative.csv"


def _places(shared_data, layer, names):
    gdf = gpd.read_file(shared_data / "beijing-pois" / "geofabrik_beijing_free_20260607_bbox.gpkg", layer=layer)
    return gdf[gdf.name.isin(names)]


def test_boundary_is_marked_approximate_and_near_the_official_area():
    fc = json.loads(BOUNDARY.read_text(encoding="utf-8"))
    props = fc["features"][0]["properties"]
    assert props["approximate"] is True and "OpenStreetMap" in props["attribution"]
    area_km2 = gpd.read_file(BOUNDARY).to_crs(32650).area.sum() / 1e6
    # parameters.md §11: 225 km²; the township union is documented as ~20 % larger
    assert 225 * 0.95 < area_km2 < 225 * 1.3
    assert "approximate" in (BOUNDARY.parent / "SOURCE.md").read_text(encoding="utf-8").lower()


@pytest.mark.shared_data
def test_boundary_holds_the_new_towns_places_and_not_the_district_seats(shared_data):
    poly = read_polygon(BOUNDARY)
    places = _places(shared_data, "places", ["北京经济技术开发区", "马驹桥镇", "旧宫镇", "台湖镇", "瀛海镇", "大兴区", "通州区"])
    got = dict(zip(places.name, inside(poly, places.geometry.x, places.geometry.y)))
    assert got["北京经济技术开发区"] and got["马驹桥镇"] and got["旧宫镇"] and got["台湖镇"] and got["瀛海镇"]
    assert not got["大兴区"] and not got["通州区"]  # the district seats lie outside the new town


@pytest.mark.shared_data
def test_demo_plants_sit_where_their_evidence_says(shared_data):
    plants = pd.read_csv(PLANTS)
    stops = _places(shared_data, "transport", ["北京奔驰西", "北京奔驰东"])
    mid_lon, mid_lat = stops.geometry.x.mean(), stops.geometry.y.mean()
    bbac = plants.set_index("plant_id").loc["P1"]
    _, _, d = GEOD.inv(bbac.evidence_lon, bbac.evidence_lat, mid_lon, mid_lat)
    assert d < 300  # the evidence point is the middle of the bus-stop pair
    for r in plants.itertuples():
        _, _, moved = GEOD.inv(r.lon, r.lat, r.evidence_lon, r.evidence_lat)
        assert moved == pytest.approx(r.moved_to_road_m, abs=5)
        if r.uncertainty_m > 0:
            assert moved <= r.uncertainty_m, r.plant_id
        assert isinstance(r.evidence, str) and r.evidence
    town = _places(shared_data, "places", ["马驹桥镇"]).geometry.iloc[0]
    xiaomi = plants.set_index("plant_id").loc["P2"]
    assert GEOD.inv(xiaomi.evidence_lon, xiaomi.evidence_lat, town.x, town.y)[2] < 100
