"""Maps with a sense of place: study area and road-data edge outlines, opening on the study area,
the assumed-speed line, station popups with units and readable station names."""
from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point, box

from planner.maps import coverage_map, label, save_map, siting_map
from planner.maps.offline import to_html
from tests._helpers import CHROMIUM, LAT0, LON0, STEP, grid_tables, open_offline, siting_scenario
from tests.map_html import features, layers

STUDY = box(116.48, 39.76, 116.54, 39.80)
EXTENT = box(116.40, 39.70, 116.66, 39.88)


def _areas():
    return (gpd.GeoDataFrame({"name": ["study area"]}, geometry=[STUDY], crs=4326),
            gpd.GeoDataFrame({"name": ["road data extent"]}, geometry=[EXTENT], crs=4326))


def _fit_box(page: str) -> tuple[float, float, float, float]:
    """(west, south, east, north) the map opens on, read from its deferred fitBounds call."""
    m = re.search(r"\bmap\.fitBounds\(\s*(\[\[[^\]]*\],\s*\[[^\]]*\]\])", page)  # not inlined Leaflet's own
    (s, w), (n, e) = json.loads(m.group(1))
    return w, s, e, n


def _text(page: str) -> str:
    """The page with JSON ``\\uXXXX`` escapes decoded (legend and popups sit in scripts)."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), page)


def _area_features(page: str) -> dict[str, list]:
    out = {}
    for f in features(page):
        key = f["properties"].get("area")
        if key:
            out.setdefault(key, []).append(f["geometry"])
    return out


@pytest.fixture(scope="module")
def site_maps():
    study, extent = _areas()
    plants = gpd.GeoDataFrame({"site_id": ["P1"], "name": ["Plant"]}, geometry=[Point(116.50, 39.79)], crs=4326)
    suppliers = gpd.GeoDataFrame({"site_id": ["S1", "S2"], "name": ["a", "far"]},
                                 geometry=[Point(116.51, 39.78), Point(116.64, 39.86)], crs=4326)
    times = pd.DataFrame({"supplier_id": ["S1", "S2"], "plant_id": ["P1", "P1"], "profile": "offpeak",
                          "minutes": [12.0, 41.0], "slack_minutes": [18.0, -11.0], "covered": [True, False]})
    iso = gpd.GeoDataFrame({"plant_id": ["P1"], "profile": ["offpeak"], "minutes": [30]},
                           geometry=[Point(116.50, 39.79).buffer(0.05)], crs=4326)
    selected = gpd.GeoDataFrame(
        {"site_id": ["parking_1150166371"], "technology": ["hpc"], "name": ["parking_1150166371"],
         "display_name": ["近 科创十三街"], "lon": [116.50], "lat": [39.78], "capex": [50.0],
         "demand_served": [3.0], "share": [0.5], "radius_min": [5.0], "power_kw": [480.0]},
        geometry=[Point(116.50, 39.78)], crs=4326)
    out = {}
    for lang in ("en", "zh"):
        out[f"coverage_{lang}"] = to_html(coverage_map(plants, suppliers, times, iso, language=lang, basemap="none",
                                                       study_area=study, data_extent=extent), offline=False)
        out[f"siting_{lang}"] = to_html(siting_map(selected, None, language=lang, basemap="none",
                                                   study_area=study, data_extent=extent), offline=False)
    out["no_area"] = to_html(coverage_map(plants, suppliers, times, iso, basemap="none"), offline=False)
    return out


@pytest.mark.parametrize("name", ["coverage_en", "coverage_zh", "siting_en", "siting_zh"])
def test_area_outlines_are_named_layers_with_legend_rows(site_maps, name):
    page, lang = site_maps[name], name.rsplit("_", 1)[1]
    drawn = _area_features(page)
    assert set(drawn) == {"study_area", "data_extent"}
    for key, geom in (("study_area", STUDY), ("data_extent", EXTENT)):
        assert len(drawn[key]) == 1
        assert shapely.geometry.shape(drawn[key][0]).symmetric_difference(geom).area < 1e-9
        text = label(key, lang)
        assert json.dumps(text) in page  # layer-control entry (toggleable)
        assert f"<span>{text}</span>" in _text(page)  # legend row
    # outlines only: a filled polygon over the stations would swallow their clicks
    assert page.count('"fill": false') >= 2


def test_maps_open_on_the_study_area(site_maps):
    for name in ("coverage_en", "siting_zh"):
        assert _fit_box(site_maps[name]) == pytest.approx(STUDY.bounds, abs=1e-6)
    # without a study area the map fits all its data (the far supplier S2 included)
    w, s, e, n = _fit_box(site_maps["no_area"])
    assert e >= 116.64 and n >= 39.86


def test_station_popup_units_and_display_name(site_maps):
    zh, en = _text(site_maps["siting_zh"]), _text(site_maps["siting_en"])
    assert "投资（万元）" in zh and "功率（kW）" in zh and "服务半径（分钟）" in zh and "5.0 分钟" in zh
    assert "CAPEX (10,000 CNY)" in en and "Power (kW)" in en and "5.0 min" in en
    assert "近 科创十三街" in zh
    # the id is still in the popup's id row, but the popup title and tooltip use the name
    assert "<b>parking_1150166371</b>" not in zh and "<b>近 科创十三街</b>" in zh


# ----------------------------------------------------------------------------- end to end
ROAD_NAMES = {r: f"Row {r} Road" for r in range(0, 6, 2)}  # every other east-west road is named


def _named_scenario(folder):
    """The CLI tests' siting grid with named east-west roads, unnamed lots just north of a
    node, and a study-area box."""
    path = siting_scenario(folder)
    _, edges = grid_tables(n=6, step=STEP, length_m=100.0)
    lat_from = np.array([g.coords[0][1] for g in edges.geometry])
    lat_to = np.array([g.coords[-1][1] for g in edges.geometry])
    row = np.rint((lat_from - LAT0) / STEP).astype(int)
    edges["name"] = [ROAD_NAMES.get(r) if a == b else None for r, a, b in zip(row, lat_from, lat_to)]
    edges[["from_node", "to_node", "length_m", "name", "geometry"]].to_file(folder / "roads.gpkg", layer="edges")
    lots = [(1, 0), (3, 2), (3, 3), (0, 5), (2, 4), (4, 0)]
    pd.DataFrame({"id": [f"K{i + 1}" for i in range(len(lots))], "name": [""] * len(lots),
                  "lon": [LON0 + c * STEP for c, _ in lots],
                  "lat": [LAT0 + (r + 0.2) * STEP for _, r in lots]}).to_csv(folder / "lots.csv", index=False)
    text = path.read_text()
    text = text.replace('length = "length_m"', 'length = "length_m"\nname = "name"')
    text = text.replace("[siting]\n", f"[siting]\nstudy_area = [{LON0 - STEP}, {LAT0 - STEP}, "
                                      f"{LON0 + 6 * STEP}, {LAT0 + 6 * STEP}]\n", 1)
    text = text.replace('language = "en"', 'language = "zh"')
    path.write_text(text)
    return path, edges


def _brute_nearest_named(edges, lon, lat):
    named = edges[edges["name"].notna()].to_crs(32650)
    p = gpd.GeoSeries([Point(lon, lat)], crs=4326).to_crs(32650).iloc[0]
    d = named.geometry.distance(p)
    return named["name"].iloc[int(np.argmin(d.to_numpy()))], float(d.min())


def test_display_names_near_far_and_none():
    from shapely.geometry import LineString

    from planner.stations.candidates import display_names

    # one named east-west road and an unnamed one; sites 100 m, ~820 m and ~5 km north of the named road
    roads = gpd.GeoDataFrame({"name": ["地泽路", None]},
                             geometry=[LineString([(116.50, 39.78), (116.52, 39.78)]),
                                       LineString([(116.50, 39.79), (116.52, 39.79)])], crs=4326)
    lat = 39.78 + np.array([100.0, 820.0, 5000.0]) / 111_000
    cands = pd.DataFrame({"candidate_id": ["parking_1", "parking_2", "parking_3"],
                          "name": ["parking_1", "parking_2", "parking_3"], "lon": [116.51] * 3, "lat": lat})
    got = display_names(cands, roads, near="近 {road}", far="距 {road} {m} 米")
    _, d = _brute_nearest_named(roads, 116.51, lat[1])
    assert got[0] == "近 地泽路"
    assert got[1] == f"距 地泽路 {int(50 * round(d / 50))} 米" and 750 <= d <= 900
    assert got[2] == "parking_3"  # no named road within 2 km: the id stays


def test_pipeline_maps_show_areas_speeds_and_station_names(tmp_path):
    from planner import pipeline
    from planner.scenario import load_scenario

    path, edges = _named_scenario(tmp_path)
    sc = load_scenario(path)
    out = pipeline.run(sc, quiet=True)
    sel = pd.read_csv(out / "siting" / "selected_sites.csv", encoding="utf-8-sig", dtype={"site_id": str})
    lots = sel[sel.site_id.str.startswith("parking_")]
    assert len(lots)
    for r in lots.itertuples():
        road, dist = _brute_nearest_named(edges, r.lon, r.lat)
        assert dist < 300
        assert r.display_name == f"近 {road}"
    book = pd.read_excel(out / "results.xlsx", sheet_name=None)
    names = [v for df in book.values() if "站点名称" in df.columns for v in df["站点名称"]]
    assert set(lots.display_name) <= set(names)
    for html in ("coverage/coverage_map.html", "siting/siting_map.html"):
        page = (out / html).read_text()
        text = _text(page)
        assert set(_area_features(page)) == {"study_area", "data_extent"}
        assert f"<span>{label('study_area', 'zh')}</span>" in text
        # the grid has no class or speed tags: all its length is driven at the fallback speed
        assert "道路速度：100 % 的道路长度使用默认速度" in text
    spage = _text((out / "siting" / "siting_map.html").read_text())
    for name in lots.display_name:
        assert f"<b>{name}</b>" in spage
    assert "投资（万元）" in spage
    study = gpd.read_file(out / "areas.gpkg", layer="study_area").geometry.iloc[0]
    assert _fit_box((out / "siting" / "siting_map.html").read_text()) == pytest.approx(study.bounds, abs=1e-6)
    assert layers(spage)


@pytest.mark.browser
def test_map_opens_on_the_study_area_in_chromium(tmp_path):
    """Offline, as a user opens it: the view holds the study area and not much more, and the
    layer control lists the two outlines."""
    if CHROMIUM is None:
        pytest.skip("headless Chromium not installed")
    pytest.importorskip("playwright")
    from playwright.sync_api import sync_playwright

    study, extent = _areas()
    selected = gpd.GeoDataFrame({"site_id": ["C1"], "technology": ["h2"], "name": ["H2 one"], "lon": [116.70],
                                 "lat": [39.85], "capex": [100.0]}, geometry=[Point(116.70, 39.85)], crs=4326)
    path = save_map(siting_map(selected, None, language="zh", basemap="none", study_area=study, data_extent=extent),
                    tmp_path / "siting.html", offline=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            ctx, page, errors, requests = open_offline(browser, path)
            view = page.evaluate("""() => { const m = Object.values(window).find(v => v instanceof L.Map);
                                   const b = m.getBounds(); return [b.getWest(), b.getSouth(), b.getEast(),
                                   b.getNorth()]; }""")
            names = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
            ctx.close()
        finally:
            browser.close()
    assert not errors and not requests
    w, s, e, n = STUDY.bounds
    assert view[0] <= w and view[1] <= s and view[2] >= e and view[3] >= n  # the study area in view
    # opened on it, not on the far station (all data: 3.7 × its width) or the data extent
    assert view[2] - view[0] < 2.5 * (e - w)
    assert any(label("study_area", "zh") in t for t in names) and any(label("data_extent", "zh") in t for t in names)
