"""Tests of planner.coords (WGS-84 / GCJ-02 / BD-09 conversions)."""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from planner.coords import (
    CoordSystemError,
    bd09_to_gcj02,
    bd09_to_wgs84,
    from_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    normalise_system,
    out_of_china,
    shift_geometry,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from planner.errors import PlannerError

GEOD = Geod(ellps="WGS84")

# Published reference values (wandergis/coordtransform README/test output) for (116.404, 39.915).
REF_IN = (116.404, 39.915)
REF_WGS_TO_GCJ = (116.41024449916938, 39.91640428150164)
REF_GCJ_TO_BD = (116.41036949371029, 39.92133699351021)
# The reference library's inverses are one-step approximations (error ~1e-6°): loose check.
REF_BD_TO_GCJ_APPROX = (116.39762729119315, 39.90865673957631)
REF_GCJ_TO_WGS_APPROX = (116.39775550083061, 39.91359571849836)

# Strictly inside the China box with a margin wider than the largest GCJ offset (~0.011°).
INNER_LON = st.floats(72.05, 137.78, allow_nan=False)
INNER_LAT = st.floats(0.87, 55.78, allow_nan=False)
FULL_LON = st.floats(72.0041, 137.8346, allow_nan=False)
FULL_LAT = st.floats(0.8294, 55.8270, allow_nan=False)
HYP = settings(max_examples=150, deadline=None)


def _dist_m(lon1, lat1, lon2, lat2):
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


def test_reference_wgs_to_gcj():
    lon, lat = wgs84_to_gcj02(*REF_IN)
    assert lon == pytest.approx(REF_WGS_TO_GCJ[0], abs=1e-12)
    assert lat == pytest.approx(REF_WGS_TO_GCJ[1], abs=1e-12)


def test_reference_gcj_to_bd():
    lon, lat = gcj02_to_bd09(*REF_IN)
    assert lon == pytest.approx(REF_GCJ_TO_BD[0], abs=1e-12)
    assert lat == pytest.approx(REF_GCJ_TO_BD[1], abs=1e-12)


def test_exact_inverses_close_to_one_step_reference_but_better():
    lon, lat = gcj02_to_wgs84(*REF_IN)
    assert _dist_m(lon, lat, *REF_GCJ_TO_WGS_APPROX) < 1.0  # approximation is within ~1 m
    back = wgs84_to_gcj02(lon, lat)
    assert np.allclose(back, REF_IN, atol=1e-11, rtol=0)
    # the one-step reference does not round-trip as well
    approx_back = wgs84_to_gcj02(*REF_GCJ_TO_WGS_APPROX)
    assert np.max(np.abs(np.subtract(approx_back, REF_IN))) > 1e-7

    lon, lat = bd09_to_gcj02(*REF_IN)
    assert _dist_m(lon, lat, *REF_BD_TO_GCJ_APPROX) < 1.0
    assert np.allclose(gcj02_to_bd09(lon, lat), REF_IN, atol=1e-11, rtol=0)


@pytest.mark.parametrize(
    "lon, lat",
    [(116.404, 39.915), (116.50, 39.79), (116.55, 39.75), (116.20, 40.10)],  # Beijing, E-Town
)
def test_beijing_offset_is_a_few_hundred_metres(lon, lat):
    glon, glat = wgs84_to_gcj02(lon, lat)
    assert 100 < _dist_m(lon, lat, glon, glat) < 700
    # GCJ is shifted east and north of WGS-84 around Beijing
    assert glon > lon and glat > lat
    blon, blat = wgs84_to_bd09(lon, lat)
    assert 500 < _dist_m(lon, lat, blon, blat) < 1500


def test_scalars_give_scalars_and_arrays_give_arrays():
    lon, lat = wgs84_to_gcj02(116.4, 39.9)
    assert np.ndim(lon) == 0 and np.ndim(lat) == 0
    lon, lat = wgs84_to_gcj02([116.4, 116.5], [39.9, 39.8])
    assert isinstance(lon, np.ndarray) and lon.shape == (2,)
    lon, lat = gcj02_to_wgs84(np.full((3, 4), 116.4), 39.9)  # broadcasting
    assert lon.shape == (3, 4) and lat.shape == (3, 4)
    lon, lat = bd09_to_wgs84(np.array([]), np.array([]))
    assert lon.shape == (0,)


def test_inputs_not_modified_and_nan_propagates():
    lon = np.array([116.4, np.nan, 116.5])
    lat = np.array([39.9, 39.9, np.nan])
    lon0, lat0 = lon.copy(), lat.copy()
    for fn in (wgs84_to_gcj02, gcj02_to_wgs84, bd09_to_wgs84, wgs84_to_bd09):
        olon, olat = fn(lon, lat)
        assert np.isfinite(olon[0]) and np.isfinite(olat[0])
        assert np.isnan(olon[1]) and np.isnan(olat[2])
    np.testing.assert_array_equal(lon, lon0)
    np.testing.assert_array_equal(lat, lat0)


def test_out_of_china_box():
    assert not out_of_china(116.4, 39.9)
    assert out_of_china(2.35, 48.85)  # Paris
    assert out_of_china(-74.0, 40.7)  # New York
    assert out_of_china(140.0, 35.0)  # Tokyo (east of the box)
    np.testing.assert_array_equal(out_of_china([116.4, 150.0], [39.9, 39.9]), [False, True])


@pytest.mark.parametrize("name, canonical", [
    ("wgs84", "wgs84"), ("WGS-84", "wgs84"), ("WGS84", "wgs84"), ("epsg:4326", "wgs84"),
    ("gcj02", "gcj02"), ("GCJ-02", "gcj02"), ("gcj_02", "gcj02"),
    ("bd09", "bd09"), ("BD-09", "bd09"), ("Baidu", "bd09"),
])
def test_system_aliases(name, canonical):
    assert normalise_system(name) == canonical


def test_unknown_system_is_value_error_and_planner_error():
    with pytest.raises(CoordSystemError) as exc:
        to_wgs84(116.4, 39.9, "utm50")
    assert isinstance(exc.value, ValueError) and isinstance(exc.value, PlannerError)
    msg = str(exc.value)
    assert "utm50" in msg and "wgs84" in msg and "gcj02" in msg and "bd09" in msg
    assert "\n" not in msg
    with pytest.raises(ValueError):
        from_wgs84(116.4, 39.9, "")


def test_to_from_wgs84_dispatch():
    p = (116.5, 39.8)
    assert np.allclose(from_wgs84(*p, "gcj02"), wgs84_to_gcj02(*p), atol=0, rtol=0)
    assert np.allclose(from_wgs84(*p, "BD-09"), wgs84_to_bd09(*p), atol=0, rtol=0)
    assert np.allclose(to_wgs84(*p, "GCJ-02"), gcj02_to_wgs84(*p), atol=0, rtol=0)
    assert np.allclose(to_wgs84(*p, "bd09"), bd09_to_wgs84(*p), atol=0, rtol=0)
    assert to_wgs84(*p, "WGS-84") == p
    assert from_wgs84(*p, "wgs84") == p


@HYP
@given(lon=FULL_LON, lat=FULL_LAT)
def test_wgs_gcj_wgs_round_trip_whole_box(lon, lat):
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert np.max(np.abs(np.subtract(back, (lon, lat)))) < 1e-9


@HYP
@given(lon=FULL_LON, lat=FULL_LAT)
def test_wgs_bd_wgs_round_trip_whole_box(lon, lat):
    back = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    assert np.max(np.abs(np.subtract(back, (lon, lat)))) < 1e-9


@HYP
@given(lon=FULL_LON, lat=FULL_LAT)
def test_gcj_bd_gcj_round_trips(lon, lat):
    back = bd09_to_gcj02(*gcj02_to_bd09(lon, lat))
    assert np.max(np.abs(np.subtract(back, (lon, lat)))) < 1e-9
    back = gcj02_to_bd09(*bd09_to_gcj02(lon, lat))
    assert np.max(np.abs(np.subtract(back, (lon, lat)))) < 1e-9


@HYP
@given(lon=INNER_LON, lat=INNER_LAT)
def test_inverse_directions_round_trip(lon, lat):
    # GCJ -> WGS -> GCJ and BD -> WGS -> BD (away from the box edge, see module notes)
    back = wgs84_to_gcj02(*gcj02_to_wgs84(lon, lat))
    assert np.max(np.abs(np.subtract(back, (lon, lat)))) < 1e-9
    back = wgs84_to_bd09(*bd09_to_wgs84(lon, lat))
    assert np.max(np.abs(np.subtract(back, (lon, lat)))) < 1e-9


@HYP
@given(
    lon=st.lists(FULL_LON, min_size=1, max_size=50),
    lat=st.lists(FULL_LAT, min_size=50, max_size=50),
)
def test_vectorised_equals_elementwise(lon, lat):
    lon = np.array(lon)
    lat = np.array(lat[: len(lon)])
    vlon, vlat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    np.testing.assert_allclose(vlon, lon, atol=1e-9, rtol=0)
    np.testing.assert_allclose(vlat, lat, atol=1e-9, rtol=0)
    glon, glat = wgs84_to_gcj02(lon, lat)
    s = wgs84_to_gcj02(lon[0], lat[0])
    assert (glon[0], glat[0]) == (s[0], s[1])


_OUTSIDE = st.one_of(
    st.tuples(st.floats(-180, 71.9), st.floats(-85, 85)),
    st.tuples(st.floats(137.95, 180), st.floats(-85, 85)),
    st.tuples(st.floats(-180, 180), st.floats(-85, 0.7)),
    st.tuples(st.floats(-180, 180), st.floats(55.95, 85)),
)


@HYP
@given(p=_OUTSIDE)
def test_out_of_china_identity(p):
    lon, lat = p
    assert wgs84_to_gcj02(lon, lat) == (lon, lat)
    assert gcj02_to_wgs84(lon, lat) == (lon, lat)
    # BD-09 is applied everywhere but still inverts exactly
    back = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    assert np.max(np.abs(np.subtract(back, (lon, lat)))) < 1e-9


def test_gcj_to_wgs_accuracy_beats_one_step_everywhere_in_beijing():
    rng = np.random.default_rng(0)
    lon = rng.uniform(115.4, 117.5, 5000)
    lat = rng.uniform(39.4, 41.1, 5000)
    glon, glat = wgs84_to_gcj02(lon, lat)
    wlon, wlat = gcj02_to_wgs84(glon, glat)
    assert np.max(np.abs(wlon - lon)) < 1e-11
    assert np.max(np.abs(wlat - lat)) < 1e-11


# --- shift_geometry -------------------------------------------------------------------------

def test_shift_point_matches_point_conversion():
    p = shapely.Point(116.5, 39.8)
    q = shift_geometry(p, "gcj02")
    assert (q.x, q.y) == pytest.approx(wgs84_to_gcj02(116.5, 39.8), abs=1e-12)
    assert shift_geometry(p, "wgs84").equals(p)


def test_shift_keeps_z_and_handles_polygons():
    p = shapely.Point(116.5, 39.8, 42.0)
    q = shift_geometry(p, "bd09")
    assert q.has_z and q.z == 42.0
    poly = shapely.box(116.4, 39.7, 116.6, 39.9)
    moved = shift_geometry(poly, "gcj02")
    assert isinstance(moved, shapely.Polygon)
    assert len(moved.exterior.coords) == len(poly.exterior.coords)
    xy = np.asarray(poly.exterior.coords)
    exp = np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1]))
    np.testing.assert_allclose(np.asarray(moved.exterior.coords), exp, atol=1e-12)


def test_shift_geoseries_and_geodataframe():
    s = gpd.GeoSeries(
        [shapely.Point(116.5, 39.8), None, shapely.LineString([(116.4, 39.7), (116.6, 39.9)])],
        index=[10, 11, 12], crs="EPSG:4326",
    )
    out = shift_geometry(s, "GCJ-02")
    assert isinstance(out, gpd.GeoSeries)
    assert list(out.index) == [10, 11, 12] and out.crs == s.crs
    assert out.iloc[1] is None
    assert out.iloc[0].x == pytest.approx(wgs84_to_gcj02(116.5, 39.8)[0], abs=1e-12)
    assert s.iloc[0].x == 116.5  # input unchanged

    gdf = gpd.GeoDataFrame({"a": [1, 2, 3]}, geometry=s, index=s.index)
    out = shift_geometry(gdf, "bd09")
    assert isinstance(out, gpd.GeoDataFrame) and list(out["a"]) == [1, 2, 3]
    assert out.geometry.iloc[0].x == pytest.approx(wgs84_to_bd09(116.5, 39.8)[0], abs=1e-12)
    assert gdf.geometry.iloc[0].x == 116.5


def test_shift_reprojects_non_4326_input():
    s = gpd.GeoSeries([shapely.Point(116.5, 39.8)], crs="EPSG:4326").to_crs("EPSG:32650")
    out = shift_geometry(s, "gcj02")
    assert out.crs.equals("EPSG:4326")
    assert out.iloc[0].x == pytest.approx(wgs84_to_gcj02(116.5, 39.8)[0], abs=1e-8)


def test_shift_array_of_geometries():
    arr = np.array([shapely.Point(116.5, 39.8), shapely.Point(116.5, 39.8, 3.0)], dtype=object)
    out = shift_geometry(arr, "gcj02")
    assert out.shape == (2,) and not out[0].has_z and out[1].has_z
    assert out[0].x == out[1].x


def test_shift_unknown_system():
    with pytest.raises(CoordSystemError):
        shift_geometry(shapely.Point(0, 0), "mercator")
