"""Tests of planner.sites (reading plant / supplier / candidate lists)."""
from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Transformer

from planner.coords import CoordSystemError, wgs84_to_bd09, wgs84_to_gcj02
from planner.errors import InputError, PlannerError
from planner.site_checks import check_in_area, check_sites_coord_system, suggest_coord_system, warn_if_wrong_system
from planner.sites import (
    STANDARD_COLUMNS,
    read_sites,
)

GOOD = "id,name,lon,lat,weight\nS1,Alpha,116.50,39.80,2\nS2,Beta,116.55,39.75,3.5\nS3,Gamma,116.60,39.78,0\n"
# Yizhuang / SE Beijing network box used for area checks
BOUNDS = (116.35, 39.65, 116.75, 39.90)


def _write(tmp_path: Path, name: str, content, encoding="utf-8") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_bytes(content.encode(encoding))
    return path


def _xlsx(path: Path, rows, sheet="Sheet1", extra_sheets=()):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    for r in rows:
        ws.append(list(r))
    for name, srows in extra_sheets:
        w2 = wb.create_sheet(name)
        for r in srows:
            w2.append(list(r))
    wb.save(path)
    return path


def _one_line(err: Exception) -> str:
    msg = str(err)
    assert "\n" not in msg
    return msg


# ------------------------------------------------------------------------------------------
# table-driven bad input
# ------------------------------------------------------------------------------------------

BAD_CSV = [
    # (case id, file content, expected fragments)
    ("empty", "", ["empty"]),
    ("whitespace only", "\n  \n", ["empty"]),
    ("header only", "id,name,lon,lat\n", ["no data rows", "id, name, lon, lat"]),
    ("misnamed lat", "id,lon,latt\nS1,116.5,39.8\n",
     ["required column 'lat' not found", "columns found: id, lon, latt", "did you mean 'latt'"]),
    ("missing lon", "id,lat\nS1,39.8\n", ["required column 'lon' not found", "columns found: id, lat"]),
    ("missing id", "name,lon,lat\nA,116.5,39.8\n",
     ["required column 'site_id' not found", "columns found: name, lon, lat"]),
    ("blank lat", "id,lon,lat\nS1,116.5,39.8\nS2,116.6,\n",
     ["row 3", "column 'lat'", "latitude is blank"]),
    ("NaN lon", "id,lon,lat\nS1,NaN,39.8\n", ["row 2", "column 'lon'", "not a finite number", "'NaN'"]),
    ("text lon", "id,lon,lat\nS1,116.5,39.8\nS2,abc,39.8\nS3,x,39.7\n",
     ["rows 3, 4", "column 'lon'", "'abc'", "'x'"]),
    ("many blank", "id,lon,lat\n" + "".join(f"S{i},116.5,\n" for i in range(9)),
     ["rows 2, 3, 4, 5, 6 (and 4 more)", "column 'lat'", "blank"]),
    ("lon out of range", "id,lon,lat\nS1,216.5,39.8\n", ["row 2", "column 'lon'", "out of range"]),
    ("lat > 90 swapped", "id,lon,lat\nS1,39.8,116.5\nS2,39.7,116.6\n",
     ["rows 2, 3", "column 'lat'", "out of range", "did you swap lon and lat?"]),
    ("whole list swapped box", "id,lon,lat\nS1,40.1,80.2\nS2,41.0,81.5\n",
     ["outside China", "did you swap lon and lat?"]),
    ("one row swapped", "id,lon,lat\nS1,116.5,39.8\nS2,116.6,39.7\nS3,39.75,76.5\n",
     ["row 4", "did you swap lon and lat?"]),
    ("zero zero", "id,lon,lat\nS1,116.5,39.8\nS2,0,0\n", ["row 3", "(0, 0)", "geocode"]),
    ("duplicate ids", "id,lon,lat\nS1,116.5,39.8\nS2,116.6,39.7\nS1,116.7,39.75\n",
     ["duplicate site id 'S1'", "rows 2, 4", "column 'id'"]),
    ("blank id", "id,lon,lat\nS1,116.5,39.8\n ,116.6,39.7\n", ["row 3", "column 'id'", "blank"]),
    ("negative weight", "id,lon,lat,weight\nS1,116.5,39.8,1\nS2,116.6,39.7,-2\n",
     ["row 3", "column 'weight'", "negative", "-2"]),
    ("NaN weight", "id,lon,lat,weight\nS1,116.5,39.8,nan\n",
     ["row 2", "column 'weight'", "not a finite number"]),
    ("blank weight", "id,lon,lat,weight\nS1,116.5,39.8,\n", ["row 2", "column 'weight'", "blank"]),
    ("cut mid-row", "id,name,lon,lat\nS1,a,116.5,39.8\nS2,b,116.6",
     ["row 3", "has 3 fields but the header has 4", "truncated"]),
    ("cut inside quote", 'id,name,lon,lat\nS1,"Alpha Co,\n', ["malformed CSV", "row"]),
    ("extra field", "id,name,lon,lat\nS1,a,116.5,39.8\nS2,b,c,116.6,39.7\n",
     ["row 3", "has 5 fields but the header has 4", "malformed"]),
]


@pytest.mark.parametrize("content, fragments", [c[1:] for c in BAD_CSV], ids=[c[0] for c in BAD_CSV])
def test_bad_csv(tmp_path, content, fragments):
    path = _write(tmp_path, "sites.csv", content)
    with pytest.raises(InputError) as exc:
        read_sites(path)
    msg = _one_line(exc.value)
    assert str(path) in msg
    for frag in fragments:
        assert frag in msg, (frag, msg)


BAD_BYTES = [
    ("utf8 cut mid character", "id,name,lon,lat\nS1,亦庄,116.5,39.8\nS2,亦".encode()[:-1],
     ["truncated", "row 3"]),
    ("undecodable", b"id,lon,lat\n\xff\xff,116.5,39.8\n", ["neither UTF-8 nor GBK", "row 2"]),
    ("binary", b"id,lon,lat\n\x00\x01\x02", ["binary"]),
    ("xlsx named csv", b"PK\x03\x04rest-of-zip", ["Excel workbook", ".xlsx"]),
]


@pytest.mark.parametrize("content, fragments", [c[1:] for c in BAD_BYTES], ids=[c[0] for c in BAD_BYTES])
def test_bad_bytes(tmp_path, content, fragments):
    path = _write(tmp_path, "sites.csv", content)
    with pytest.raises(InputError) as exc:
        read_sites(path)
    msg = _one_line(exc.value)
    for frag in fragments:
        assert frag in msg, (frag, msg)


def test_missing_file_and_unsupported_type(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_sites(tmp_path / "nope.csv")
    path = _write(tmp_path, "sites.docx", "hello")
    with pytest.raises(InputError, match="unsupported file type '.docx'"):
        read_sites(path)
    path = _write(tmp_path, "old.xls", b"\xd0\xcf\x11\xe0")
    with pytest.raises(InputError, match="save as .xlsx"):
        read_sites(path)


def test_bad_arguments(tmp_path):
    path = _write(tmp_path, "s.csv", GOOD)
    with pytest.raises(CoordSystemError) as exc:
        read_sites(path, coord_system="utm")
    assert isinstance(exc.value, ValueError) and isinstance(exc.value, PlannerError)
    assert "gcj02" in str(exc.value)
    with pytest.raises(InputError, match="unknown site kind 'depot'"):
        read_sites(path, kind="depot")
    with pytest.raises(InputError, match="lat column 'Latitud' not found.*did you mean 'lat'"):
        read_sites(path, lat_column="Latitud")
    with pytest.raises(InputError, match="unknown required column"):
        read_sites(path, required_columns=("site_id", "colour"))
    with pytest.raises(InputError, match="required column 'weight' not found"):
        read_sites(_write(tmp_path, "nw.csv", "id,lon,lat\nS1,116.5,39.8\n"),
                   required_columns=("site_id", "lon", "lat", "weight"))


def test_corrupted_xlsx(tmp_path):
    good = _xlsx(tmp_path / "good.xlsx", [("id", "lon", "lat"), ("S1", 116.5, 39.8)])
    data = good.read_bytes()
    bad = _write(tmp_path, "cut.xlsx", data[: len(data) // 2])
    with pytest.raises(InputError) as exc:
        read_sites(bad)
    assert "cannot open the Excel workbook" in _one_line(exc.value)
    garbage = _write(tmp_path, "garbage.xlsx", b"this is not a workbook")
    with pytest.raises(InputError, match="corrupted"):
        read_sites(garbage)


def test_xlsx_errors(tmp_path):
    path = _xlsx(tmp_path / "s.xlsx", [("id", "lon", "lat"), ("S1", 116.5, 39.8), ("S2", None, 39.7)],
                 extra_sheets=[("Plants", [("id", "lon", "lat")])])
    with pytest.raises(InputError) as exc:
        read_sites(path)
    msg = _one_line(exc.value)
    assert "row 3" in msg and "column 'lon'" in msg and "blank" in msg
    with pytest.raises(InputError, match="no sheet named 'Plant'.*Sheet1, Plants.*did you mean 'Plants'"):
        read_sites(path, sheet="Plant")
    with pytest.raises(InputError, match="no data rows"):
        read_sites(path, sheet="Plants")
    empty = _xlsx(tmp_path / "empty.xlsx", [])
    with pytest.raises(InputError, match="empty"):
        read_sites(empty)


def test_corrupted_and_bad_gis_files(tmp_path):
    gdf = gpd.GeoDataFrame({"id": ["S1", "S2"]},
                           geometry=[shapely.Point(116.5, 39.8), shapely.Point(116.6, 39.7)],
                           crs="EPSG:4326")
    good = tmp_path / "good.gpkg"
    gdf.to_file(good, driver="GPKG")
    data = good.read_bytes()
    cut = _write(tmp_path, "cut.gpkg", data[: len(data) // 3])
    with pytest.raises(InputError) as exc:
        read_sites(cut)
    assert "cut.gpkg" in _one_line(exc.value)
    cut_json = _write(tmp_path, "cut.geojson", '{"type": "FeatureCollection", "features": [{"type": "Fe')
    with pytest.raises(InputError):
        read_sites(cut_json)
    with pytest.raises(InputError, match="no layer named 'roads'"):
        read_sites(good, layer="roads")

    poly = gpd.GeoDataFrame({"id": ["S1", "S2"]},
                            geometry=[shapely.Point(116.5, 39.8), shapely.box(116.5, 39.7, 116.6, 39.8)],
                            crs="EPSG:4326")
    ppath = tmp_path / "poly.geojson"
    poly.to_file(ppath, driver="GeoJSON")
    with pytest.raises(InputError) as exc:
        read_sites(ppath)
    msg = _one_line(exc.value)
    assert "feature 2" in msg and "must be a Point" in msg and "Polygon" in msg
    out = read_sites(ppath, polygon_points=True)
    assert out["lon"].tolist()[0] == 116.5
    assert shapely.box(116.5, 39.7, 116.6, 39.8).contains(out.geometry.iloc[1])

    empty = gpd.GeoDataFrame({"id": pd.Series([], dtype=str)}, geometry=[], crs="EPSG:4326")
    epath = tmp_path / "empty.gpkg"
    empty.to_file(epath, driver="GPKG")
    with pytest.raises(InputError, match="no features"):
        read_sites(epath)

    dup = gpd.GeoDataFrame({"id": ["S1", "S1"]}, geometry=gdf.geometry, crs="EPSG:4326")
    dpath = tmp_path / "dup.geojson"
    dup.to_file(dpath, driver="GeoJSON")
    with pytest.raises(InputError, match="duplicate site id 'S1' in features 1, 2"):
        read_sites(dpath)


# ------------------------------------------------------------------------------------------
# good input
# ------------------------------------------------------------------------------------------

def test_basic_csv_schema(tmp_path):
    path = _write(tmp_path, "s.csv", GOOD)
    gdf = read_sites(path)
    assert isinstance(gdf, gpd.GeoDataFrame) and gdf.crs.equals("EPSG:4326")
    assert tuple(gdf.columns[: len(STANDARD_COLUMNS)]) == STANDARD_COLUMNS
    assert gdf.columns[-1] == "geometry"
    assert list(gdf["site_id"]) == ["S1", "S2", "S3"]
    assert list(gdf["name"]) == ["Alpha", "Beta", "Gamma"]
    assert gdf["weight"].tolist() == [2.0, 3.5, 0.0]
    assert gdf["plants"].tolist() == [(), (), ()]
    assert gdf["category"].isna().all() and gdf["tier"].isna().all()
    assert gdf["source_row"].tolist() == [2, 3, 4]
    np.testing.assert_array_equal(gdf.geometry.x, gdf["lon"])
    np.testing.assert_array_equal(gdf.geometry.y, gdf["lat"])
    assert gdf.attrs["coord_system"] == "wgs84" and gdf.attrs["source"] == str(path)
    assert gdf["lon"].dtype == np.float64 and gdf["weight"].dtype == np.float64


def test_gbk_csv_with_title_row_and_chinese_headers(tmp_path):
    text = ("亦庄供应商名单（2024）\n"
            "编号,名称,经度,纬度,年配送量,服务工厂,类别,层级,备注\n"
            "A01,北京精密零件有限公司,116.50,39.80,120,P1、P2,电子,1,冷链\n"
            "A02,亦庄汽车配件厂,116.55,39.76,80,P2;P3 | P4,车身,2,\n")
    path = _write(tmp_path, "suppliers_gbk.csv", text, encoding="gbk")
    gdf = read_sites(path)
    assert list(gdf["site_id"]) == ["A01", "A02"]
    assert gdf["name"].iloc[0] == "北京精密零件有限公司"
    assert gdf["weight"].tolist() == [120.0, 80.0]
    assert gdf["plants"].tolist() == [("P1", "P2"), ("P2", "P3", "P4")]
    assert gdf["category"].tolist() == ["电子", "车身"]
    assert gdf["tier"].tolist() == [1, 2] and str(gdf["tier"].dtype) == "Int64"
    assert gdf["备注"].tolist() == ["冷链", None]
    assert gdf["source_row"].tolist() == [3, 4]


@pytest.mark.parametrize("encoding, sep", [("utf-8-sig", ","), ("gb18030", ","), ("utf-16", "\t"),
                                           ("utf-8", ";")])
def test_encodings_and_delimiters(tmp_path, encoding, sep):
    text = sep.join(["编号", "名称", "lng", "lat"]) + "\n" + sep.join(["S1", "亦庄站", "116.5", "39.8"]) + "\n"
    path = _write(tmp_path, "s.csv", text, encoding=encoding)
    gdf = read_sites(path)
    assert gdf["site_id"].tolist() == ["S1"] and gdf["name"].tolist() == ["亦庄站"]
    assert gdf["lon"].iloc[0] == 116.5 and gdf["lat"].iloc[0] == 39.8


def test_aliases_and_explicit_columns(tmp_path):
    text = ("Supplier_ID,Company,Longitude (WGS84),LATITUDE,Annual_Value,Served_Plant\n"
            "7,Acme,116.5,39.8,10,P1\n")
    gdf = read_sites(_write(tmp_path, "a.csv", text))
    assert gdf["site_id"].tolist() == ["7"] and gdf["name"].tolist() == ["Acme"]
    assert gdf["weight"].tolist() == [10.0] and gdf["plants"].tolist() == [("P1",)]
    assert gdf.attrs["columns"]["lon"] == "Longitude (WGS84)"

    text = "code,lon_a,lat_a,lon_b,lat_b,score\nC1,1,2,116.5,39.8,4\n"
    gdf = read_sites(_write(tmp_path, "b.csv", text), kind="candidate", id_column="CODE",
                     lon_column="lon_b", lat_column="lat_b", weight_column="score")
    assert gdf["lon"].tolist() == [116.5] and gdf["weight"].tolist() == [4.0]
    assert gdf["lon_a"].tolist() == [1] and gdf["lat_a"].tolist() == [2]  # extras kept


def test_leading_zero_ids_and_extras_preserved(tmp_path):
    text = "id,lon,lat,postcode,phone\n007,116.5,39.8,100176,010-1234\n010,116.6,39.7,100176,010-5678\n"
    gdf = read_sites(_write(tmp_path, "z.csv", text))
    assert gdf["site_id"].tolist() == ["007", "010"]
    assert gdf["postcode"].tolist() == [100176, 100176]
    assert gdf["phone"].tolist() == ["010-1234", "010-5678"]


def test_combined_location_column_amap_style(tmp_path):
    text = 'id,name,location\nS1,a,"116.5,39.8"\nS2,b,"116.6, 39.7"\n'
    gdf = read_sites(_write(tmp_path, "loc.csv", text))
    assert gdf["lon"].tolist() == [116.5, 116.6] and gdf["lat"].tolist() == [39.8, 39.7]
    bad = 'id,name,location\nS1,a,"116.5"\n'
    with pytest.raises(InputError, match="row 2.*column 'location'.*expected 'lon,lat'"):
        read_sites(_write(tmp_path, "bad.csv", bad))


def test_plant_list_plant_column_is_not_served_plants(tmp_path):
    text = "plant_id,plant,lon,lat\nP1,Assembly 1,116.5,39.8\n"
    gdf = read_sites(_write(tmp_path, "p.csv", text), kind="plant")
    assert gdf["plants"].tolist() == [()]
    assert gdf["plant"].tolist() == ["Assembly 1"]


def test_generated_ids_when_not_required(tmp_path):
    text = "lon,lat\n116.5,39.8\n\n116.6,39.7\n"
    gdf = read_sites(_write(tmp_path, "c.csv", text), kind="candidate", required_columns=("lon", "lat"))
    assert gdf["site_id"].tolist() == ["candidate_2", "candidate_4"]  # blank row 3 skipped
    assert gdf["source_row"].tolist() == [2, 4]


def test_xlsx_numeric_ids_and_sheet(tmp_path):
    path = _xlsx(tmp_path / "s.xlsx",
                 [("说明：亦庄候选站点",), ("ID", "Name", "X", "Y", "Weight", "Plants", "Tier"),
                  (101, "一号", 116.5, 39.8, 2, "P1,P2", "T1"), (102.0, "二号", 116.6, 39.7, None, None, None)],
                 extra_sheets=[("other", [("id", "lon", "lat"), ("Z9", 116.45, 39.85)])])
    with pytest.raises(InputError, match="row 4.*column 'Weight'.*blank"):
        read_sites(path)
    path2 = _xlsx(tmp_path / "s2.xlsx",
                  [("ID", "Name", "X", "Y", "Weight", "Plants", "Tier"),
                   (101, "一号", 116.5, 39.8, 2, "P1,P2", "T1"), (102.0, "二号", 116.6, 39.7, 1.5, 7, None)])
    gdf = read_sites(path2)
    assert gdf["site_id"].tolist() == ["101", "102"]
    assert gdf["weight"].tolist() == [2.0, 1.5]
    assert gdf["plants"].tolist() == [("P1", "P2"), ("7",)]
    assert gdf["tier"].tolist() == ["T1", None]
    assert gdf["source_row"].tolist() == [2, 3]
    other = read_sites(path, sheet="other")
    assert other["site_id"].tolist() == ["Z9"]
    assert read_sites(path, sheet=1)["site_id"].tolist() == ["Z9"]
    assert read_sites(path, sheet="1")["site_id"].tolist() == ["Z9"]


def test_gpkg_in_utm_is_reprojected(tmp_path):
    lon = np.array([116.50, 116.55, 116.62])
    lat = np.array([39.80, 39.76, 39.71])
    fwd = Transformer.from_crs("EPSG:4326", "EPSG:32650", always_xy=True)
    x, y = fwd.transform(lon, lat)
    gdf = gpd.GeoDataFrame({"site_id": ["A", "B", "C"], "名称": ["甲", "乙", "丙"], "weight": [1.0, 2.0, 3.0]},
                           geometry=gpd.points_from_xy(x, y), crs="EPSG:32650")
    path = tmp_path / "sites_utm.gpkg"
    gdf.to_file(path, layer="suppliers", driver="GPKG")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    out = read_sites(path, layer="suppliers")
    np.testing.assert_allclose(out["lon"], lon, atol=1e-9)
    np.testing.assert_allclose(out["lat"], lat, atol=1e-9)
    assert out.crs.equals("EPSG:4326")
    assert out["name"].tolist() == ["甲", "乙", "丙"] and out["weight"].tolist() == [1.0, 2.0, 3.0]
    assert out["source_row"].tolist() == [1, 2, 3] and out.attrs["row_word"] == "feature"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before  # never modified


def test_geojson_gcj_points(tmp_path):
    lon = np.array([116.50, 116.58])
    lat = np.array([39.80, 39.74])
    glon, glat = wgs84_to_gcj02(lon, lat)
    gdf = gpd.GeoDataFrame({"id": [1, 2]}, geometry=gpd.points_from_xy(glon, glat), crs="EPSG:4326")
    path = tmp_path / "gcj.geojson"
    gdf.to_file(path, driver="GeoJSON")
    out = read_sites(path, coord_system="GCJ-02")
    assert out["site_id"].tolist() == ["1", "2"]
    np.testing.assert_allclose(out["lon"], lon, atol=1e-9)
    np.testing.assert_allclose(out["lat"], lat, atol=1e-9)


@pytest.mark.parametrize("system, forward", [("gcj02", wgs84_to_gcj02), ("BD-09", wgs84_to_bd09)])
def test_gcj_and_bd_csv_converted_to_wgs84(tmp_path, system, forward):
    lon = np.array([116.50, 116.55, 116.61])
    lat = np.array([39.80, 39.76, 39.72])
    flon, flat = forward(lon, lat)
    df = pd.DataFrame({"id": ["a", "b", "c"], "lng": flon, "lat": flat})
    path = tmp_path / "conv.csv"
    df.to_csv(path, index=False)
    out = read_sites(path, coord_system=system)
    np.testing.assert_allclose(out["lon"], lon, atol=1e-9)
    np.testing.assert_allclose(out["lat"], lat, atol=1e-9)
    np.testing.assert_allclose(out.geometry.x, lon, atol=1e-9)
    # as WGS-84 the same file is off by a few hundred metres
    raw = read_sites(path)
    assert np.all(np.abs(raw["lon"].to_numpy() - lon) > 1e-3)


# ------------------------------------------------------------------------------------------
# area and coordinate-system checks
# ------------------------------------------------------------------------------------------

def test_check_in_area(tmp_path):
    path = _write(tmp_path, "s.csv", GOOD + "S4,Far,117.20,40.10,1\nS5,Out,116.40,39.50,1\n")
    sites = read_sites(path)
    assert check_in_area(sites.iloc[:3], BOUNDS) is not None
    with pytest.raises(InputError) as exc:
        check_in_area(sites, BOUNDS)
    msg = _one_line(exc.value)
    assert str(path) in msg and "2 of 5 sites" in msg
    assert "S4 (row 5; 117.20000, 40.10000)" in msg and "S5 (row 6" in msg
    assert "S1" not in msg
    # a box given as an object with total_bounds, and a margin
    box = gpd.GeoSeries([shapely.box(*BOUNDS)], crs="EPSG:4326")
    check_in_area(sites.iloc[:3], box)
    check_in_area(sites.iloc[[4]], BOUNDS, margin_deg=0.2)


def test_check_in_area_swapped_hint():
    sites = gpd.GeoDataFrame({"site_id": ["S1"], "lon": [39.8], "lat": [116.5], "source_row": [2]},
                             geometry=[shapely.Point(39.8, 116.5)], crs="EPSG:4326")
    with pytest.raises(InputError, match="did you swap lon and lat"):
        check_in_area(sites, BOUNDS, path="x.csv")


def _fake_network_distance(true_lon, true_lat):
    """distance_fn: metres from each point to the nearest 'road' (roads at the true sites)."""
    coslat = np.cos(np.radians(np.mean(true_lat)))

    def distance_fn(lon, lat):
        dx = (np.asarray(lon)[:, None] - true_lon[None, :]) * 111_320 * coslat
        dy = (np.asarray(lat)[:, None] - true_lat[None, :]) * 110_540
        return np.sqrt(dx ** 2 + dy ** 2).min(axis=1) + 5.0  # roads ~5 m from sites

    return distance_fn


def test_suggest_and_warn_coord_system():
    rng = np.random.default_rng(1)
    lon = rng.uniform(116.45, 116.65, 40)
    lat = rng.uniform(39.70, 39.85, 40)
    dist = _fake_network_distance(lon, lat)
    glon, glat = wgs84_to_gcj02(lon, lat)

    best, med = suggest_coord_system(glon, glat, dist)
    assert best == "gcj02" and set(med) == {"wgs84", "gcj02", "bd09"}
    assert med["gcj02"] == pytest.approx(5.0, abs=1e-3)
    assert 100 < med["wgs84"] < 700
    warning = warn_if_wrong_system(glon, glat, dist, declared="wgs84", path="s.csv")
    assert warning is not None and "\n" not in warning
    assert "s.csv" in warning and "gcj02" in warning and "wgs84" in warning
    assert warn_if_wrong_system(glon, glat, dist, declared="GCJ-02") is None
    assert warn_if_wrong_system(lon, lat, dist, declared="wgs84") is None

    blon, blat = wgs84_to_bd09(lon, lat)
    assert suggest_coord_system(blon, blat, dist)[0] == "bd09"


def test_warn_needs_clear_gain():
    lon = np.array([116.5, 116.6])
    lat = np.array([39.8, 39.7])
    # every system is about equally far: no warning
    flat = lambda x, y: np.full(len(x), 300.0) + (np.asarray(x) - 116) * 1e-3  # noqa: E731
    assert warn_if_wrong_system(lon, lat, flat) is None
    # non-finite distances are ignored; all-inf gives NaN medians and no warning
    inf = lambda x, y: np.full(len(x), np.inf)  # noqa: E731
    best, med = suggest_coord_system(lon, lat, inf)
    assert best in med and all(np.isnan(v) for v in med.values())
    assert warn_if_wrong_system(lon, lat, inf) is None


def test_check_sites_coord_system(tmp_path):
    rng = np.random.default_rng(2)
    lon = rng.uniform(116.45, 116.65, 20)
    lat = rng.uniform(39.70, 39.85, 20)
    glon, glat = wgs84_to_gcj02(lon, lat)
    path = tmp_path / "g.csv"
    pd.DataFrame({"id": [f"S{i}" for i in range(20)], "lon": glon, "lat": glat}).to_csv(path, index=False)
    dist = _fake_network_distance(lon, lat)
    wrong = read_sites(path)  # declared wgs84, really gcj02
    msg = check_sites_coord_system(wrong, dist)
    assert msg is not None and str(path) in msg and "gcj02" in msg
    right = read_sites(path, coord_system="gcj02")
    assert check_sites_coord_system(right, dist) is None


# ------------------------------------------------------------------------------------------
# property-based: random valid tables round-trip through CSV
# ------------------------------------------------------------------------------------------

_ID_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefxyz0123456789-_亦庄北京供应商甲乙丙"
_ids = st.text(alphabet=_ID_CHARS, min_size=1, max_size=8).filter(lambda s: s.strip() == s)
_row = st.tuples(
    _ids,
    st.floats(116.2, 116.9, allow_nan=False),
    st.floats(39.5, 40.1, allow_nan=False),
    st.floats(0, 1e6, allow_nan=False),
    st.lists(st.text(alphabet="P0123456789", min_size=1, max_size=4), max_size=3),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(_row, min_size=1, max_size=25, unique_by=lambda r: r[0]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gbk"]),
    sep=st.sampled_from([",", "\t"]),
    system=st.sampled_from(["wgs84", "gcj02", "bd09"]),
    headers=st.sampled_from([("id", "lon", "lat", "weight", "plants"),
                             ("编号", "经度", "纬度", "权重", "服务工厂"),
                             ("SITE_ID", "Lng", "Latitude", "Deliveries", "Served_Plant")]),
)
def test_property_csv_round_trip(rows, encoding, sep, system, headers):
    ids = [r[0] for r in rows]
    lon = np.array([r[1] for r in rows])
    lat = np.array([r[2] for r in rows])
    weight = np.array([r[3] for r in rows])
    plants = [tuple(r[4]) for r in rows]
    flon, flat = {"wgs84": lambda a, b: (a, b), "gcj02": wgs84_to_gcj02, "bd09": wgs84_to_bd09}[system](lon, lat)
    df = pd.DataFrame({headers[0]: ids, headers[1]: flon, headers[2]: flat, headers[3]: weight,
                       headers[4]: [";".join(p) for p in plants]})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sites.csv"
        path.write_bytes(df.to_csv(index=False, sep=sep).encode(encoding))
        out = read_sites(path, coord_system=system)
    assert out["site_id"].tolist() == ids
    np.testing.assert_array_equal(out["weight"].to_numpy(), weight)
    np.testing.assert_allclose(out["lon"].to_numpy(), lon, atol=1e-9, rtol=0)
    np.testing.assert_allclose(out["lat"].to_numpy(), lat, atol=1e-9, rtol=0)
    assert out["plants"].tolist() == plants
    assert out["source_row"].tolist() == list(range(2, len(rows) + 2))


def test_shapefile_single_multipoints_and_typed_extras(tmp_path):
    gdf = gpd.GeoDataFrame(
        {"ID": [5, 6], "cap": [1.5, None], "txt": ["a", None], "n": [3, 4]},
        geometry=[shapely.MultiPoint([(116.5, 39.8)]), shapely.MultiPoint([(116.6, 39.7)])],
        crs="EPSG:4326")
    path = tmp_path / "s.shp"
    gdf.to_file(path)
    out = read_sites(path)
    assert out["site_id"].tolist() == ["5", "6"]
    assert out["lon"].tolist() == [116.5, 116.6]
    assert out["n"].dtype == np.int64 and out["cap"].dtype == np.float64
    assert out["txt"].tolist() == ["a", None]


def test_crlf_trailing_comma_and_blank_cells(tmp_path):
    text = "id,name,lon,lat,\r\nS1,  ,116.5,39.8,\r\n\r\nS2,Beta, 116.6 ,39.7,\r\n"
    out = read_sites(_write(tmp_path, "w.csv", text))
    assert out["site_id"].tolist() == ["S1", "S2"]
    assert out["name"].tolist() == ["S1", "Beta"]  # blank name falls back to the id
    assert out["lon"].tolist() == [116.5, 116.6]
    assert out["source_row"].tolist() == [2, 4]
    assert list(out.columns) == [*STANDARD_COLUMNS, "geometry"]


def test_full_width_digits_and_degree_sign(tmp_path):
    text = "编号,经度,纬度\nS1,１１６．５,39.8°\n"
    out = read_sites(_write(tmp_path, "fw.csv", text))
    assert out["lon"].tolist() == [116.5] and out["lat"].tolist() == [39.8]


def test_suggest_subset_of_systems_and_plain_dataframe_area_check():
    lon, lat = np.array([116.5]), np.array([39.8])
    dist = _fake_network_distance(lon, lat)
    best, med = suggest_coord_system(lon, lat, dist, systems=("WGS-84", "bd09"))
    assert best == "wgs84" and set(med) == {"wgs84", "bd09"}
    df = pd.DataFrame({"site_id": ["S1"], "lon": [120.0], "lat": [30.0]})
    with pytest.raises(InputError, match=r"1 of 1 sites.*S1 \(120.00000, 30.00000\)"):
        check_in_area(df, BOUNDS)


def test_gcj02_list_declared_wgs84_outside_the_network_gets_the_coordinate_advice(tmp_path):
    """The coordinate-system check runs before the bounds check: the advice names GCJ-02, not
    "use a larger road network"."""
    from planner.network.graph import build_network
    from planner.network.speeds import Profile
    from planner.pipeline import Run, check_sites_against_network
    from tests._helpers import LAT0, LON0, grid_tables

    nodes, edges = grid_tables(n=20, step=0.001)
    net = build_network(nodes, edges, {"offpeak": Profile("offpeak", speeds_kmh={}, fallback_kmh=36.0)})
    # true positions on the grid's east column; the file holds them in GCJ-02 (~500 m east)
    lon = np.full(10, LON0 + 0.0185)
    lat = LAT0 + 0.001 * np.arange(2, 12)
    glon, glat = wgs84_to_gcj02(lon, lat)
    path = _write(tmp_path, "s.csv", "id,lon,lat\n" + "".join(f"S{i},{x:.7f},{y:.7f}\n"
                                                               for i, (x, y) in enumerate(zip(glon, glat))))
    declared_wgs = read_sites(path)
    with pytest.raises(InputError, match="gcj02") as err:
        check_sites_against_network(declared_wgs, path, net, Run())
    assert "larger road network" not in str(err.value)
    run = Run()
    check_sites_against_network(read_sites(path, coord_system="gcj02"), path, net, run)  # right system: accepted
    assert run.warnings == []
