"""Tests of planner.maps: labels, base map, result maps, offline HTML, PNG export, browser.

Browser tests (``-m browser``) drive the system Chromium (``apt-get install -y chromium``)
through Playwright (``pip install playwright``; no browser download: ``executable_path``).
They are skipped only when no Chromium binary is installed.
"""
from __future__ import annotations

import base64
import json
import math
import os
import re
import struct

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point

from planner.errors import InputError, PlannerError
from planner.maps import (
    base_map,
    column_headers,
    compare_map,
    coverage_map,
    export_png,
    label,
    save_map,
    siting_map,
)
from planner.maps import offline as offline_mod
from planner.maps.base import road_layer
from planner.maps.compare import status_table
from planner.maps.coverage import plant_counts, served_rows
from planner.maps.labels import LABELS
from planner.maps.offline import external_references, find_chromium, to_html
from planner.settings import OSM_ATTRIBUTION
from tests._helpers import CHROMIUM, open_offline

# ---------------------------------------------------------------------------------------
# synthetic data near Yizhuang (lon ~116.50, lat ~39.79)
# ---------------------------------------------------------------------------------------

XSS_SCRIPT = "<script>window.__xss='script'</script>"
XSS_IMG = '<img src=x onerror="window.__xss=\'img\'">'
XSS_TEMPLATE = "${window.__xss='tpl'}`;window.__xss='tick';`\\"
SSTI = "{{ 'PWN' ~ 'ED' }}{% if true %}X{% endif %}"
EVIL_NAMES = (XSS_SCRIPT, XSS_IMG, XSS_TEMPLATE, SSTI)


def _metric(gdf):
    return gdf.to_crs(32650)


@pytest.fixture(scope="module")
def plants():
    return gpd.GeoDataFrame(
        {"site_id": ["P1", "P2"], "name": ["BOE 京东方", XSS_IMG]},
        geometry=[Point(116.500, 39.790), Point(116.540, 39.770)], crs="EPSG:4326")


@pytest.fixture(scope="module")
def suppliers():
    pts = [(116.49, 39.80), (116.52, 39.78), (116.47, 39.75), (116.56, 39.79),
           (116.60, 39.83), (116.51, 39.76), (116.45, 39.82), (116.58, 39.74)]
    names = ["Supplier A", XSS_SCRIPT, XSS_IMG, XSS_TEMPLATE, "远郊供应商", SSTI,
             "Far West", "B & C <Co>"]
    return gpd.GeoDataFrame(
        {"site_id": [f"S{i}" for i in range(len(pts))], "name": names,
         "weight": [1, 3, 2, 5, 1, 2, 4, 1.5]},
        geometry=[Point(*p) for p in pts], crs="EPSG:4326")


@pytest.fixture(scope="module")
def supplier_times(plants, suppliers):
    rows = []
    pm, sm = _metric(plants).geometry, _metric(suppliers).geometry
    for i, s in enumerate(sm):
        targets = [0, 1] if i % 2 == 0 else [1]  # even suppliers serve both plants
        for j in targets:
            km = s.distance(pm.iloc[j]) / 1000
            for prof, per_km in (("offpeak", 2.6), ("peak", 3.6)):
                minutes = km * per_km
                if i == 4 and prof == "peak":
                    minutes = math.inf  # unreachable
                rows.append(dict(supplier_id=f"S{i}", plant_id=plants.site_id.iloc[j],
                                 profile=prof, minutes=minutes, slack_minutes=30 - minutes,
                                 covered=bool(minutes <= 30), snap_m=12.5))
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def isochrones(plants):
    rows = []
    pm = _metric(plants).geometry
    for prof, per_km in (("offpeak", 2.6), ("peak", 3.6)):
        for pid, g in zip(plants.site_id, pm):
            for band in (10, 20, 30):
                r = band / per_km * 1000
                poly = g.buffer(r, 16).intersection(g.buffer(r * 1.2, 6))
                rows.append(dict(plant_id=pid, profile=prof, minutes=band, geometry=poly))
    return gpd.GeoDataFrame(rows, crs=32650).to_crs(4326)


def _roads(n=24, both_ways=True):
    lines, cls = [], []
    classes = ["primary", "secondary", "residential", "service", "tertiary", "motorway"]
    xs, ys = np.linspace(116.40, 116.66, n), np.linspace(39.68, 39.88, n)
    for k, x in enumerate(xs):
        pts = [(x + 0.002 * np.sin(i), y) for i, y in enumerate(ys)]
        lines.append(LineString(pts))
        cls.append(classes[k % len(classes)])
        if both_ways:
            lines.append(LineString(pts[::-1]))
            cls.append(classes[k % len(classes)])
    for k, y in enumerate(ys):
        lines.append(LineString([(x, y + 0.001 * np.cos(i)) for i, x in enumerate(xs)]))
        cls.append(classes[(k + 2) % len(classes)])
    return gpd.GeoDataFrame({"road_class": cls}, geometry=lines, crs="EPSG:4326")


@pytest.fixture(scope="module")
def roads():
    return _roads()


@pytest.fixture(scope="module")
def selected():
    pts = [(116.50, 39.80, "h2"), (116.53, 39.78, "hpc"), (116.48, 39.76, "pv_storage"),
           (116.56, 39.80, "hpc")]
    return gpd.GeoDataFrame(
        {"site_id": [f"C{i}" for i in range(4)], "technology": [p[2] for p in pts],
         "name": ["H2 Station 1", XSS_SCRIPT, "光储充 一号", SSTI],
         "lon": [p[0] for p in pts], "lat": [p[1] for p in pts],
         "capex": [12e6, 3.5e6, 5e6, 3e6], "demand_served": [120.5, 80, 60, 40],
         "share": [0.4, 0.27, 0.2, 0.13]},
        geometry=[Point(p[0], p[1]) for p in pts], crs="EPSG:4326")


@pytest.fixture(scope="module")
def demand():
    rng = np.random.default_rng(7)
    n = 30
    ids = [f"D{i}" for i in range(n)]
    ids[0] = XSS_IMG
    return gpd.GeoDataFrame(
        {"demand_id": ids,
         "technology": np.array(["h2", "hpc", "pv_storage"])[np.arange(n) % 3],
         "weight": rng.uniform(1, 10, n), "served": np.arange(n) % 4 != 0},
        geometry=gpd.points_from_xy(116.50 + rng.normal(0, 0.02, n),
                                    39.78 + rng.normal(0, 0.015, n)),
        crs="EPSG:4326")


@pytest.fixture(scope="module")
def service_areas(selected):
    return gpd.GeoDataFrame(
        {"site_id": selected.site_id, "technology": selected.technology},
        geometry=_metric(selected).geometry.buffer(1500), crs=32650).to_crs(4326)


@pytest.fixture(scope="module")
def sites_b(selected):
    b = selected.iloc[1:].copy()
    new = gpd.GeoDataFrame(
        {"site_id": ["C9"], "technology": ["h2"], "name": [XSS_IMG], "lon": [116.52],
         "lat": [39.81], "capex": [1.0], "demand_served": [1.0], "share": [0.1]},
        geometry=[Point(116.52, 39.81)], crs="EPSG:4326")
    return pd.concat([b, new], ignore_index=True)


@pytest.fixture(scope="module")
def status():
    return pd.DataFrame({"site_id": ["C0", "C1", "C2", "C3", "C9"],
                         "status": ["removed", "kept", "kept", "kept", "added"]})


@pytest.fixture(scope="module")
def maps(plants, suppliers, supplier_times, isochrones, roads, selected, demand,
         service_areas, sites_b, status):
    """The maps exercised everywhere: name -> folium map (all with basemap='none')."""
    return {
        "coverage_en": coverage_map(plants, suppliers, supplier_times, isochrones,
                                    profile="offpeak", language="en", basemap="none",
                                    roads=roads),
        "coverage_zh": coverage_map(plants, suppliers, supplier_times, isochrones,
                                    profile="peak", language="zh", basemap="none",
                                    roads=roads, measure=True),
        "siting": siting_map(selected, demand, service_areas, language="en",
                             basemap="none", roads=roads),
        "compare": compare_map(selected, sites_b, status, label_a=XSS_SCRIPT,
                               label_b="方案 B", basemap="none", roads=roads),
    }


@pytest.fixture(scope="module")
def saved(maps, tmp_path_factory):
    """Offline HTML files of :func:`maps`: name -> path."""
    d = tmp_path_factory.mktemp("maps")
    return {name: save_map(m, d / f"{name}.html", offline=True) for name, m in maps.items()}


# ---------------------------------------------------------------------------------------
# labels
# ---------------------------------------------------------------------------------------


def test_labels_have_both_languages():
    for key, (en, zh) in LABELS.items():
        assert en.strip() and zh.strip(), key
    assert label("h2", "zh") == "加氢站"
    assert label("hydrogen_station", "zh") == "加氢站"
    assert label("hpc", "zh") == "大功率充电站"
    assert label("pv_storage", "zh") == "光储充一体站"
    assert label("offpeak", "en") == "Off-peak"
    assert label("supplier", "zh") == "供应商"
    with pytest.raises(PlannerError):
        label("supplier", "fr")


def test_column_headers_translates_without_touching_input(supplier_times, selected):
    out = column_headers(supplier_times, "zh", translate_values=True)
    assert "供应商编号" in out.columns and "余量（分钟）" in out.columns
    assert set(out["已覆盖"]) <= {"是", "否"}
    assert "不可达" in set(out["分钟"])          # inf minutes
    assert set(out["时段/车型"]) == {"平峰", "高峰"}
    assert "supplier_id" in supplier_times.columns  # input untouched
    sel = column_headers(selected, "en", translate_values=True)
    assert "geometry" not in sel.columns
    assert list(sel["Technology"][:3]) == ["Hydrogen station", "High-power charging",
                                           "PV-storage-charging"]
    plain = column_headers(pd.DataFrame({"foo": [1], "capex": [2]}), "zh")
    assert list(plain.columns) == ["foo", "投资"]


# ---------------------------------------------------------------------------------------
# base map
# ---------------------------------------------------------------------------------------

BOUNDS = (116.45, 39.74, 116.58, 39.84)


@pytest.mark.parametrize("basemap", ["osm", "amap", "tianditu", "none"])
def test_every_basemap_has_attribution_and_controls(basemap, roads, monkeypatch):
    monkeypatch.setenv("TIANDITU_TOKEN", "abc123")
    m = base_map(BOUNDS, "en", basemap, roads=roads)
    html = to_html(m, offline=False)
    assert OSM_ATTRIBUTION in html
    assert "L.control.layers(" in html
    assert "L.control.scale(" in html
    assert "L.control.fullscreen(" in html
    if basemap == "tianditu":
        assert "tianditu.gov.cn/vec_w/" in html and "tk=abc123" in html
        assert "eva_w" in html  # English labels layer
    if basemap == "amap":
        assert "autonavi.com" in html
    if basemap == "none":
        assert "tile.openstreetmap.org" not in html


def test_tianditu_needs_token(monkeypatch):
    monkeypatch.delenv("TIANDITU_TOKEN", raising=False)
    with pytest.raises(PlannerError, match="TIANDITU_TOKEN"):
        base_map(BOUNDS, basemap="tianditu")
    with pytest.raises(PlannerError, match="letters and digits"):
        base_map(BOUNDS, basemap="tianditu", tianditu_token="x';alert(1)//")
    m = base_map(BOUNDS, "zh", basemap="tianditu", tianditu_token="tok42")
    assert "cva_w" in to_html(m, offline=False)


def test_bad_arguments_raise_planner_errors(roads):
    with pytest.raises(PlannerError, match="basemap"):
        base_map(BOUNDS, basemap="google")
    with pytest.raises(PlannerError, match="language"):
        base_map(BOUNDS, language="de")
    with pytest.raises(PlannerError, match="bounds"):
        base_map((116.6, 39.7, 116.5, 39.8))
    with pytest.warns(UserWarning, match="roads"):
        base_map(BOUNDS, basemap="none")


def test_road_layer_dedupes_clips_and_respects_budget():
    one_way = road_layer(_roads(both_ways=False), BOUNDS)
    two_way = road_layer(_roads(both_ways=True), BOUNDS)
    assert one_way.geojson_text == two_way.geojson_text  # reverse twins dropped

    def n_vertices(layer):
        data = json.loads(layer.geojson_text)
        return sum(len(line) for f in data["features"]
                   for line in f["geometry"]["coordinates"])

    big = _roads(n=120)
    full = road_layer(big, BOUNDS, max_vertices=10**9)
    small = road_layer(big, BOUNDS, max_vertices=3000)
    assert n_vertices(small) <= 3000 < n_vertices(full)
    data = json.loads(small.geojson_text)
    xs = [pt[0] for f in data["features"] for line in f["geometry"]["coordinates"]
          for pt in line]
    assert min(xs) >= 116.45 - 0.6 * 0.13 - 1e-9  # clipped to the window (+ margin)
    assert road_layer(big, (100.0, 30.0, 100.1, 30.1)) is None  # nothing there


def test_none_basemap_html_stays_small(tmp_path):
    big = _roads(n=150)  # ~45k lines
    m = base_map(BOUNDS, basemap="none", roads=big, max_road_vertices=40_000)
    path = save_map(m, tmp_path / "roads.html")
    assert path.stat().st_size < 3_000_000


# ---------------------------------------------------------------------------------------
# result maps: content, escaping, AMap shift
# ---------------------------------------------------------------------------------------


def test_served_rows_keep_only_served_pairs(supplier_times):
    st = supplier_times.assign(serves=True)
    st.loc[(st.supplier_id == "S0") & (st.plant_id == "P1"), "serves"] = False
    rows = served_rows(st, "offpeak")
    assert set(rows[rows.supplier_id == "S0"].plant_id) == {"P2"}
    assert len(rows) == int(((st.profile == "offpeak") & st.serves).sum())
    counts = plant_counts(st, ["offpeak", "peak"]).set_index(["plant_id", "profile"])
    want = st[st.serves].groupby(["plant_id", "profile"]).covered.agg(["size", "sum"])
    assert counts.suppliers_total.to_dict() == want["size"].to_dict()
    assert counts.suppliers_covered.to_dict() == want["sum"].to_dict()


def test_coverage_map_content(maps, supplier_times):
    html = to_html(maps["coverage_en"], offline=False)
    for layer in ("Travel-time bands – Off-peak", "Travel-time bands – Peak",
                  "Suppliers – Off-peak", "Suppliers – Peak", "Plants", "Road network"):
        assert json.dumps(layer) in html  # layer-control entries
    s0 = supplier_times[(supplier_times.supplier_id == "S0") &
                        (supplier_times.profile == "offpeak")].minutes
    for minutes in s0:  # both plants in the popup, best in the tooltip
        assert f"{minutes:.1f} min" in html
    zh = to_html(maps["coverage_zh"], offline=False)
    for text in ("供应商", "不可达", "未覆盖", "等时圈", "余量"):
        assert text in zh or json.dumps(text)[1:-1] in zh  # as is, or JSON-escaped
    assert "L.Control.Measure" in zh


def test_siting_and_compare_content(maps):
    html = to_html(maps["siting"], offline=False)
    for text in ("Hydrogen station", "High-power charging", "PV-storage-charging",
                 "Unserved", "Service areas", "12,000,000", "40.0%"):
        assert text in html
    dual = to_html(maps["compare"], offline=False)
    assert dual.count('class="folium-map"') == 2
    assert ".sync(" in dual and "Removed (1)" in dual and "Added (1)" in dual


def test_status_table_fills_missing_and_rejects_unknown(selected, sites_b):
    st = status_table(selected, sites_b).set_index("site_id")["status"]
    assert st["C0"] == "removed" and st["C9"] == "added" and st["C1"] == "kept"
    with pytest.raises(InputError, match="unknown"):
        status_table(selected, sites_b, pd.DataFrame({"site_id": ["C1"], "status": ["gone"]}))


@pytest.mark.parametrize("name", ["coverage_en", "coverage_zh", "siting", "compare"])
def test_input_text_is_escaped(maps, name):
    html = to_html(maps[name], offline=False)
    for evil in EVIL_NAMES:
        assert evil not in html
    assert "&lt;script&gt;" in html or "&lt;img" in html
    if name in ("coverage_en", "siting"):
        # Jinja inside a name is shown, never evaluated (it would reach Python's os)
        shown = "&#123;&#123; &#x27;PWN&#x27; ~ &#x27;ED&#x27; &#125;&#125;"
        assert shown in html or json.dumps(shown)[1:-1].replace("&", "\\u0026") in html
    assert "PWNED" not in html


def test_missing_columns_name_the_table(plants, suppliers, supplier_times, isochrones):
    with pytest.raises(InputError, match="supplier_times.*slack_minutes"):
        coverage_map(plants, suppliers, supplier_times.drop(columns="slack_minutes"),
                     isochrones)


def test_an_empty_band_draws_nothing_without_a_warning(plants, suppliers, supplier_times, isochrones):
    # a band that reaches no road (a plant outside an autonomous vehicle's zone) is empty, not missing
    import warnings

    from shapely.geometry import Polygon

    empty = isochrones.iloc[:1].copy()
    empty["profile"] = "autonomous"
    empty["geometry"] = [Polygon()]
    both = pd.concat([isochrones, empty], ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        coverage_map(plants, suppliers, supplier_times, both, basemap="osm")
    missing = both.copy()
    missing.loc[len(missing) - 1, "geometry"] = None
    with pytest.warns(UserWarning, match="1 row\\(s\\) without geometry"):
        coverage_map(plants, suppliers, supplier_times, missing, basemap="osm")


def test_amap_shifts_everything_to_gcj02(plants, suppliers, supplier_times, isochrones,
                                         selected, demand):
    from planner.coords import wgs84_to_gcj02

    html_osm = to_html(coverage_map(plants, suppliers, supplier_times, isochrones,
                                    basemap="osm"), offline=False)
    html_amap = to_html(coverage_map(plants, suppliers, supplier_times, isochrones,
                                     basemap="amap"), offline=False)
    lon, lat = 116.49, 39.80  # supplier S0, drawn as GeoJSON rounded to 1e-6
    glon, glat = wgs84_to_gcj02(lon, lat)
    dx = (glon - lon) * 111_320 * math.cos(math.radians(lat))
    dy = (glat - lat) * 110_540
    assert 100 < math.hypot(dx, dy) < 1000  # the GCJ offset around Beijing
    gtxt = f"[{round(float(glon), 6)}, {round(float(glat), 6)}]"
    wtxt = f"[{lon}, {lat}]"
    assert gtxt in html_amap and wtxt not in html_amap
    assert wtxt in html_osm and gtxt not in html_osm
    # markers (plants) shifted too
    plon, plat = wgs84_to_gcj02(116.5, 39.79)
    assert f"[{float(plat)}, {float(plon)}]" in html_amap
    # siting popups keep the WGS-84 coordinates the planner works in
    html_sit = to_html(siting_map(selected, demand, basemap="amap"), offline=False)
    assert "116.500000, 39.800000" in html_sit


# ---------------------------------------------------------------------------------------
# offline HTML and saving
# ---------------------------------------------------------------------------------------

_SRC_OR_HREF = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)\s*=", re.I)


@pytest.mark.parametrize("name", ["coverage_en", "coverage_zh", "siting", "compare"])
def test_offline_html_has_no_external_references(saved, name):
    html = saved[name].read_text(encoding="utf-8")
    assert OSM_ATTRIBUTION in html
    assert external_references(html) == []
    assert not _SRC_OR_HREF.search(html)  # every script and stylesheet is inline
    assert not re.search(r"@import|url\(\s*['\"]?(?:https?:)?//", html, re.I)
    assert 'L.version' in html or 'version="1.9.3"' in html  # Leaflet itself is inside
    assert "L.control.fullscreen" in html and "Control.FullScreen" in html
    if name == "compare":
        assert "unsync" in html  # Leaflet.Sync embedded for the DualMap
    assert html.count("<script>") >= 4
    assert saved[name].stat().st_size < 3_000_000


def test_online_html_links_cdn(maps):
    html = to_html(maps["siting"], offline=False)
    assert external_references(html)  # sanity check of the scanner itself


def test_unknown_asset_refuses_to_write(maps, tmp_path, monkeypatch):
    target = tmp_path / "m.html"
    target.write_text("old")

    def missing(url):
        raise PlannerError(f"cannot embed {url}")

    monkeypatch.setattr(offline_mod, "_asset_text", missing)
    with pytest.raises(PlannerError, match="cannot embed"):
        save_map(maps["siting"], target)
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["m.html"]


def test_save_map_is_atomic(maps, tmp_path, monkeypatch):
    target = tmp_path / "sub" / "m.html"
    save_map(maps["siting"], target, offline=False)
    first = target.read_text(encoding="utf-8")
    assert first.startswith("<!DOCTYPE html>")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(offline_mod.os, "replace", boom)
    with pytest.raises(OSError):
        save_map(maps["coverage_en"], target, offline=False)
    assert target.read_text(encoding="utf-8") == first  # old file intact
    assert os.listdir(target.parent) == ["m.html"]  # no temp file left
    monkeypatch.undo()
    save_map(maps["coverage_en"], target)
    assert target.read_text(encoding="utf-8") != first


def test_missing_chromium_is_a_clear_error(tmp_path, monkeypatch):
    with pytest.raises(PlannerError, match="not found"):
        find_chromium(str(tmp_path / "no-chromium"))
    monkeypatch.delenv("PLANNER_CHROMIUM", raising=False)
    monkeypatch.setattr(offline_mod.shutil, "which", lambda name: None)
    monkeypatch.setattr(offline_mod, "DEFAULT_CHROMIUM", str(tmp_path / "none"))
    html = tmp_path / "x.html"
    html.write_text("<html></html>")
    with pytest.raises(PlannerError, match="apt-get install -y chromium"):
        export_png(html, tmp_path / "x.png")


# ---------------------------------------------------------------------------------------
# browser tests
# ---------------------------------------------------------------------------------------


needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium not installed (Debian: apt-get install -y chromium)")

# Hover every tooltip and click every popup, like a user would, and return their texts.
OPEN_EVERYTHING_JS = """
() => {
  const texts = [];
  const maps = Object.keys(window).filter(k => k.startsWith('map_') && window[k] &&
                                               window[k].eachLayer).map(k => window[k]);
  for (const map of maps) {
    const leaves = [];
    map.eachLayer(layer => {
      if (layer.getLayers) { return; }
      leaves.push(layer);
    });
    for (const layer of leaves) {
      let latlng = null;
      if (layer.getLatLng) { latlng = layer.getLatLng(); }
      else if (layer.getBounds) { latlng = layer.getBounds().getCenter(); }
      if (!latlng) { continue; }
      layer.fire('mouseover', {latlng: latlng}, true);
      document.querySelectorAll('.leaflet-tooltip').forEach(t => texts.push(t.textContent));
      layer.fire('mouseout', {latlng: latlng}, true);
      layer.fire('click', {latlng: latlng}, true);
      document.querySelectorAll('.leaflet-popup-content').forEach(p => texts.push(p.textContent));
      map.closePopup();
    }
  }
  return texts;
}
"""

PIXEL_STATS_JS = """
async (dataUrl) => {
  const img = new Image();
  img.src = dataUrl;
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = img.width; canvas.height = img.height;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const data = ctx.getImageData(0, 0, img.width, img.height).data;
  const colours = new Set();
  let sum = 0, sum2 = 0, n = 0;
  for (let i = 0; i < data.length; i += 4 * 7) {
    const v = 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
    sum += v; sum2 += v * v; n += 1;
    colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
  }
  const mean = sum / n;
  return {width: img.width, height: img.height, colours: colours.size,
          std: Math.sqrt(sum2 / n - mean * mean)};
}
"""


def _pixel_stats(browser, png_bytes):
    page = browser.new_page()
    try:
        page.set_content("<html><body></body></html>")
        url = "data:image/png;base64," + base64.b64encode(png_bytes).decode()
        return page.evaluate(PIXEL_STATS_JS, url)
    finally:
        page.close()


@pytest.mark.browser
@needs_chromium
@pytest.mark.parametrize("name", ["coverage_en", "coverage_zh", "siting", "compare"])
def test_map_renders_offline_in_chromium(browser, saved, name):
    ctx, page, errors, requests = open_offline(browser, saved[name])
    try:
        assert page.evaluate("() => typeof window.L === 'object' && L.version") == "1.9.3"
        n_maps = 2 if name == "compare" else 1
        assert page.locator(".leaflet-container").count() == n_maps
        min_paths = 6 if name == "compare" else 10  # 3 road styles per map, bands, dots
        assert page.locator(".leaflet-overlay-pane path").count() >= min_paths
        assert page.locator("path.planner-roads").count() == 3 * n_maps  # road background
        assert page.locator(".leaflet-marker-pane .leaflet-marker-icon").count() >= 2
        assert page.locator(".planner-legend").count() == n_maps
        attribution = page.locator(".leaflet-control-attribution").first.inner_text()
        assert "OpenStreetMap contributors (ODbL)" in attribution
        texts = page.evaluate(OPEN_EVERYTHING_JS)
        page.wait_for_timeout(300)  # let any injected <img onerror> fire
        assert page.evaluate("() => window.__xss === undefined"), "input text executed"
        joined = "\n".join(texts)
        assert texts and (XSS_SCRIPT in joined or XSS_IMG in joined)  # shown as text
        if name != "compare":
            assert SSTI in joined
        shot = page.screenshot()
        stats = _pixel_stats(browser, shot)
        assert stats["colours"] > 50 and stats["std"] > 5, stats
        assert errors == [], errors
        assert requests == [], requests
    finally:
        ctx.close()


@pytest.mark.browser
@needs_chromium
def test_dual_map_is_synced(browser, saved):
    ctx, page, errors, _ = open_offline(browser, saved["compare"])
    try:
        moved = page.evaluate("""() => {
            const maps = Object.keys(window).filter(k => k.startsWith('map_') && window[k]
                                                    && window[k].setView).map(k => window[k]);
            maps[0].setView([39.80, 116.51], 14, {animate: false});
            const c = maps[1].getCenter();
            return [maps.length, maps[1].getZoom(), c.lat, c.lng];
        }""")
        assert moved[0] == 2 and moved[1] == 14
        assert moved[2] == pytest.approx(39.80, abs=1e-6)
        assert moved[3] == pytest.approx(116.51, abs=1e-6)
        assert errors == []
    finally:
        ctx.close()


@pytest.mark.browser
@needs_chromium
def test_osm_basemap_offline_only_misses_tiles(browser, plants, suppliers, supplier_times,
                                               isochrones, roads, tmp_path):
    m = coverage_map(plants, suppliers, supplier_times, isochrones, basemap="osm",
                     roads=roads)
    path = save_map(m, tmp_path / "osm.html")
    ctx, page, errors, requests = open_offline(browser, path)
    try:
        assert page.evaluate("() => typeof window.L") == "object"
        assert page.locator(".leaflet-overlay-pane path").count() > 5
        # the hidden road layer switches itself on once a tile fails to load
        page.wait_for_function(
            "() => document.querySelectorAll('path.planner-roads').length > 0",
            timeout=30_000)
        assert requests and all("tile.openstreetmap.org" in u for u in requests), requests
        assert not [e for e in errors if e.startswith("pageerror")], errors
    finally:
        ctx.close()


@pytest.mark.browser
@needs_chromium
def test_export_png(browser, saved, tmp_path):
    png = export_png(saved["coverage_zh"], tmp_path / "out" / "coverage.png",
                     width=1400, height=900)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1400, 900)
    stats = _pixel_stats(browser, data)
    assert stats["colours"] > 50 and stats["std"] > 5, stats
    assert [p.name for p in png.parent.iterdir()] == ["coverage.png"]



def test_icon_fonts_kept_only_when_used(tmp_path):
    import folium

    plain = to_html(base_map(BOUNDS, basemap="osm"))
    assert "Font Awesome" not in plain and "awesome-marker" not in plain
    m = base_map(BOUNDS, basemap="osm", minimap=True)
    folium.Marker([39.79, 116.5], icon=folium.Icon(icon="info-sign")).add_to(m)
    html = to_html(m)
    assert "Font Awesome" in html and "awesome-marker" in html and "MiniMap" in html
    assert external_references(html) == []


@pytest.mark.parametrize("body, used", [
    ('<i class="fa fa-home"></i>', True), ("<i class='fas fa-truck'>", True),
    ("L.AwesomeMarkers.icon({", True), ('<span class="glyphicon glyphicon-info-sign">', True),
    ('{"covered": false, "name": "sofa", "tip": " fast food"}', False),
    ('<i class="FA-HOME">', False),  # CSS class names are case-sensitive
])
def test_icon_font_use_is_detected(body, used):
    assert offline_mod._uses_icons("<body>" + body) is used


def test_offline_view_for_notebooks(maps):
    from planner.maps.offline import offline_view

    frame = offline_view(maps["siting"], height=500)._repr_html_()
    assert frame.startswith("<iframe srcdoc=") and "height:500px" in frame
    assert "cdn.jsdelivr.net/npm/leaflet" not in frame


def test_rows_without_geometry_are_reported(plants, suppliers, supplier_times, isochrones):
    broken = suppliers.copy()
    broken.loc[broken.index[0], "geometry"] = None
    with pytest.warns(UserWarning, match="suppliers: 1 row"):
        coverage_map(plants, broken, supplier_times, isochrones)


def test_siting_map_without_demand(selected):
    html = to_html(siting_map(selected, None, basemap="osm"), offline=False)
    assert "planner-site-hpc" in html and OSM_ATTRIBUTION in html


def test_geojson_layer_renders_the_same_page_as_folium(monkeypatch):
    import itertools

    import folium
    from branca.element import Element

    from planner.maps._common import GeoJsonLayer, feature_collection, tooltip_for

    fc = feature_collection([Point(116.5, 39.8), Point(116.6, 39.7)],
                            [{"tip": "<b>a</b>", "r": 4.0}, {"tip": "b &#123;x&#125;", "r": 6.0}])

    def page(cls):
        ids = itertools.count()
        monkeypatch.setattr(Element, "_generate_id", classmethod(lambda c: f"id{next(ids)}"))
        m = folium.Map(location=[39.75, 116.55], zoom_start=11, tiles=None)
        cls(fc, name="layer", marker=folium.CircleMarker(radius=5),
            style_function=lambda f: {"radius": f["properties"]["r"]},
            highlight_function=lambda f: {"weight": 3}, tooltip=tooltip_for("tip")).add_to(m)
        folium.LayerControl().add_to(m)
        return " ".join(m.get_root().render().split())

    ours, theirs = page(GeoJsonLayer), page(folium.GeoJson)
    assert "6.0" in ours and r"b \u0026#123;x\u0026#125;" in ours, ours[-2500:]
    assert ours == theirs


@pytest.mark.parametrize("name", ["coverage_zh", "siting", "compare"])
def test_map_pages_written_in_pieces_are_branca_pages(maps, name, tmp_path):
    """``to_html`` / ``save_map`` render a map in pieces (its script never joined into one string):
    the page is byte for byte branca's own rendering of the same figure (a copy: rendering adds
    to a folium figure, so each page is made from an identical copy), and the saved file is that
    page with the assets embedded."""
    import copy

    first, second, third = (copy.deepcopy(maps[name]) for _ in range(3))
    page = second.get_root().render()
    assert to_html(first, offline=False) == page
    path = save_map(third, tmp_path / "m.html")
    assert path.read_text(encoding="utf-8") == offline_mod.embed_assets(page)
