"""Geocoding addresses against stand-in AMap / Baidu servers on 127.0.0.1 that answer like the
real web services: a match, no match, quota exceeded, a QPS limit, HTTP 5xx, a malformed reply."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import numpy as np
import pandas as pd
import pytest

from planner.coords import bd09_to_wgs84, gcj02_to_wgs84, wgs84_to_gcj02
from planner.geocode import GeocodeError, geocode_addresses
from planner.sites import read_sites

# A place in E-Town in WGS-84, and the GCJ-02 / BD-09 coordinates a provider would answer.
WGS = (116.5050, 39.7510)


class _Server:
    """A bounded stand-in: at most ``limit`` requests, stops with the test."""

    def __init__(self, kind: str, limit: int = 200):
        self.kind, self.limit = kind, limit
        self.requests: list[dict] = []
        self.times: list[float] = []
        self.flaky: dict[str, int] = {}  # address -> failures still to give
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                q = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
                server.requests.append(q)
                server.times.append(time.monotonic())
                if len(server.requests) > server.limit:
                    self.send_response(503)
                    self.end_headers()
                    return
                status, body, headers = server.answer(q)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.end_headers()
                self.wfile.write(body.encode("utf-8"))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/geo"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def answer(self, q):
        addr = q.get("address", "")
        if self.flaky.get(addr, 0) > 0:
            self.flaky[addr] -= 1
            if addr.endswith("429"):
                return 429, "{}", {"Retry-After": "0"}
            if addr.endswith("qps"):
                if self.kind == "amap":
                    return 200, json.dumps({"status": "0", "info": "CUQPS_HAS_EXCEEDED_THE_LIMIT",
                                            "infocode": "10021"}), {}
                return 200, json.dumps({"status": 401, "message": "当前并发量已经超过约定并发配额"}), {}
            return 502, "bad gateway", {}
        if addr == "quota":
            if self.kind == "amap":
                return 200, json.dumps({"status": "0", "info": "DAILY_QUERY_OVER_LIMIT", "infocode": "10003"}), {}
            return 200, json.dumps({"status": 302, "message": "天配额超限，限制访问"}), {}
        if addr == "malformed":
            return 200, "<html>gateway login</html>", {}
        if addr.startswith("nowhere"):
            if self.kind == "amap":
                return 200, json.dumps({"status": "1", "info": "OK", "infocode": "10000", "count": "0",
                                        "geocodes": []}), {}
            return 200, json.dumps({"status": 1, "msg": "Internal Service Error:无相关结果", "results": []}), {}
        coarse = addr.startswith("district")
        if self.kind == "amap":
            lon, lat = wgs84_to_gcj02(*WGS)
            return 200, json.dumps({"status": "1", "info": "OK", "infocode": "10000", "count": "1", "geocodes": [{
                "formatted_address": "北京市大兴区" + addr, "location": f"{lon:.6f},{lat:.6f}",
                "level": "区县" if coarse else "门牌号"}]}, ensure_ascii=False), {}
        from planner.coords import wgs84_to_bd09

        lon, lat = wgs84_to_bd09(*WGS)
        return 200, json.dumps({"status": 0, "result": {"location": {"lng": lon, "lat": lat},
                                                        "precise": 0 if coarse else 1, "confidence": 80,
                                                        "level": "区县" if coarse else "门址"}},
                               ensure_ascii=False), {}


@pytest.fixture(params=["amap", "baidu"])
def server(request):
    s = _Server(request.param)
    yield s
    s.close()


def _geo(server, addresses, **kw):
    kw.setdefault("backoff", 0.01)
    return geocode_addresses(addresses, server.kind, key="test-key", base_url=server.url, qps=1000, **kw)


def test_a_match_is_converted_to_wgs84_with_its_level(server):
    out = _geo(server, ["北京经济技术开发区荣华中路10号", "district 大兴区"])
    # the answer was GCJ-02 (AMap) / BD-09 (Baidu); back in WGS-84 within centimetres
    assert out.lon.to_numpy() == pytest.approx([WGS[0]] * 2, abs=1e-6)
    assert out.lat.to_numpy() == pytest.approx([WGS[1]] * 2, abs=1e-6)
    assert out.matched.all()
    assert out.low_precision.tolist() == [False, True]
    assert out.level.iloc[1] == "区县"
    assert server.requests[0]["key" if server.kind == "amap" else "ak"] == "test-key"
    assert server.requests[0]["city"] == "北京"


def test_no_match_is_reported_not_guessed(server):
    out = _geo(server, ["nowhere 1"])
    assert not out.matched.iloc[0] and np.isnan(out.lon.iloc[0]) and out.low_precision.iloc[0]


def test_quota_and_malformed_replies_are_one_line_errors(server):
    with pytest.raises(GeocodeError, match="quota"):
        _geo(server, ["quota"])
    with pytest.raises(GeocodeError, match="not JSON"):
        _geo(server, ["malformed"])


@pytest.mark.parametrize("suffix", ["502", "429", "qps"])
def test_transient_failures_are_retried(server, suffix):
    addr = f"retry {suffix}"
    server.flaky[addr] = 2
    out = _geo(server, [addr])
    assert out.matched.iloc[0] and len(server.requests) == 3
    server.flaky["always " + suffix] = 99
    with pytest.raises(GeocodeError, match="after 3 tries"):
        _geo(server, ["always " + suffix], retries=2)


def test_answers_are_cached_per_provider_and_query(server, tmp_path):
    first = _geo(server, ["荣华中路10号", "荣华中路10号", "nowhere 2"], cache_dir=tmp_path)
    assert len(server.requests) == 2  # a repeated address is asked once
    again = _geo(server, ["荣华中路10号", "nowhere 2"], cache_dir=tmp_path)
    assert len(server.requests) == 2  # both answers (the match and the no-match) came from the cache
    pd.testing.assert_frame_equal(again.reset_index(drop=True), first.iloc[[0, 2]].reset_index(drop=True))
    # a failed request leaves nothing in the cache
    with pytest.raises(GeocodeError):
        _geo(server, ["quota"], cache_dir=tmp_path)
    assert len(list(tmp_path.rglob("*.json"))) == 2
    # a corrupt cache file is asked again, not trusted
    for f in tmp_path.rglob("*.json"):
        f.write_text("{", encoding="utf-8")
    _geo(server, ["荣华中路10号"], cache_dir=tmp_path)
    assert len(server.requests) == 4


def test_requests_are_rate_limited(server):
    geocode_addresses([f"addr {i}" for i in range(4)], server.kind, key="k", base_url=server.url, qps=10)
    # 10 per second: the four requests span at least 0.3 s (arrival times jitter a little)
    assert server.times[-1] - server.times[0] >= 0.28
    assert np.diff(server.times).min() >= 0.05


def test_no_key_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("AMAP_KEY", raising=False)
    with pytest.raises(GeocodeError, match="AMAP_KEY"):
        geocode_addresses(["x"], "amap")


def test_offline_is_a_clear_error():
    with pytest.raises(GeocodeError, match="unreachable"):
        geocode_addresses(["x"], "amap", key="k", base_url="http://127.0.0.1:9/geo", retries=1, backoff=0.01)


# ------------------------------------------------------------------------------ site lists
def _list(tmp_path, rows):
    p = tmp_path / "suppliers.csv"
    pd.DataFrame(rows).to_csv(p, index=False, encoding="utf-8")
    return p


def test_a_list_of_addresses_is_placed(server, tmp_path):
    p = _list(tmp_path, {"编号": ["S1", "S2", "S3"], "地址": ["荣华中路10号", "district 大兴区", "科创街1号"],
                         "经度": [116.52, None, None], "纬度": [39.77, None, None]})
    geo = lambda a: _geo(server, a)  # noqa: E731
    g = read_sites(p, address_column="地址", geocode=geo, coord_system="wgs84")
    assert g.lon.tolist()[0] == pytest.approx(116.52)  # given coordinates are kept
    assert g.lon.to_numpy()[1:] == pytest.approx([WGS[0]] * 2, abs=1e-6)
    assert g.geocode_low_precision.tolist() == [False, True, False]
    assert g.geocode_level.tolist()[0] is None
    # only addresses, no coordinate columns at all
    p2 = _list(tmp_path, {"id": ["A"], "address": ["科创街1号"]})
    g2 = read_sites(p2, address_column="address", geocode=geo)
    assert g2.lat.iloc[0] == pytest.approx(WGS[1], abs=1e-6)


def test_a_list_of_addresses_without_a_geocoder_names_the_rows(tmp_path):
    p = _list(tmp_path, {"id": ["S1", "S2", "S3"], "address": ["a", "b", "c"],
                         "lon": [116.52, None, None], "lat": [39.77, None, None]})
    with pytest.raises(Exception, match=r"rows 3, 4: .*address but no coordinates.*AMAP_KEY") as e:
        read_sites(p, address_column="address")
    assert "suppliers.csv" in str(e.value) and "column 'address'" in str(e.value)


def test_an_address_without_a_match_names_its_row(server, tmp_path):
    p = _list(tmp_path, {"id": ["S1", "S2"], "address": ["科创街1号", "nowhere 3"]})
    with pytest.raises(Exception, match=r"row 3, column 'address': the geocoder found no match for 'nowhere 3'"):
        read_sites(p, address_column="address", geocode=lambda a: _geo(server, a))


def test_reference_conversions_are_inverse():
    # the stand-in answers with our forward conversions; the reader uses the inverse ones
    lon, lat = wgs84_to_gcj02(*WGS)
    assert gcj02_to_wgs84(lon, lat) == pytest.approx(WGS, abs=1e-6)
    from planner.coords import wgs84_to_bd09

    assert bd09_to_wgs84(*wgs84_to_bd09(*WGS)) == pytest.approx(WGS, abs=1e-6)


def test_a_scenario_geocodes_its_address_list(tmp_path, monkeypatch):
    from planner import pipeline
    from planner.scenario import load_scenario
    from tests._helpers import LAT0, LON0, write_grid_roads

    s = _Server("amap")
    try:
        monkeypatch.setenv("AMAP_KEY", "scenario-key")
        network = write_grid_roads(tmp_path, n=6, step=0.001, length_m=100.0, max_snap_m=5000)
        pd.DataFrame({"id": ["P1"], "lon": [LON0], "lat": [LAT0]}).to_csv(tmp_path / "plants.csv", index=False)
        pd.DataFrame({"id": ["S1", "S2"], "地址": ["荣华中路10号", "district 大兴区"], "plants": ["P1", "P1"]}
                     ).to_csv(tmp_path / "suppliers.csv", index=False)
        (tmp_path / "scenario.toml").write_text(f'''
[scenario]
name = "geo"
[profiles.offpeak]
fallback_kmh = 36
[sites.plants]
path = "plants.csv"
[sites.suppliers]
path = "suppliers.csv"
address_column = "地址"
geocoder = "amap"
geocoder_url = "{s.url}"
geocoder_qps = 100
[coverage]
profiles = ["offpeak"]
isochrone_profiles = ["offpeak"]
''' + network, encoding="utf-8")
        sc = load_scenario(tmp_path / "scenario.toml")
        run = pipeline.Run()
        _plants, suppliers = pipeline.load_sites(sc, None, run)
        assert suppliers.lon.to_numpy() == pytest.approx([WGS[0]] * 2, abs=1e-6)
        assert s.requests[0]["key"] == "scenario-key"
        assert any("1 suppliers geocoded only to an area or a road" in w and "row(s) 3" in w for w in run.warnings)
        assert list((tmp_path / "cache" / "geocode" / "amap").rglob("*.json"))  # cached beside the network cache
    finally:
        s.close()
