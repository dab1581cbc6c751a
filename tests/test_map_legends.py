"""Legends follow the visible layers (headless Chromium, networking off).

Runs the CLI on small grid scenarios, opens the saved maps offline, switches overlays on and
off with JavaScript in the page (``map.addLayer`` / ``map.removeLayer`` on the layer control's
layers, which fires Leaflet's ``overlayadd`` / ``overlayremove``), and reads what the legend
shows: its visible counts must be those of ``coverage/plant_summary.csv`` /
``siting/summary.json`` for the layers switched on, and its visible colours those the layers draw.
"""
from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from tests._helpers import siting_scenario
from tests.test_map_truth import truth_run  # noqa: F401  (the synthetic coverage run, a fixture)

pytestmark = pytest.mark.browser

# every overlay of the layer control: name, on or off, and the first feature's properties
OVERLAYS_JS = """() => {
  const ctl = Object.keys(window).filter(k => k.startsWith('layer_control_')).map(k => window[k])[0];
  return ctl._layers.filter(o => o.overlay).map(o => {
    const leaves = o.layer.getLayers ? o.layer.getLayers() : [];
    const props = leaves.map(l => (l.feature || {}).properties).filter(p => p);
    return {name: o.name, on: ctl._map.hasLayer(o.layer), props: props};
  });
}"""

# switch on exactly the overlays named, every other one off
SET_OVERLAYS_JS = """(names) => {
  const ctl = Object.keys(window).filter(k => k.startsWith('layer_control_')).map(k => window[k])[0];
  ctl._layers.filter(o => o.overlay).forEach(o => {
    if (names.includes(o.name)) { ctl._map.addLayer(o.layer); } else { ctl._map.removeLayer(o.layer); }
  });
}"""

# what the legend shows: visible table cells with their data-*, visible swatch rows (text, fill)
LEGEND_JS = """() => {
  const legend = document.querySelector('.planner-legend');
  const seen = el => el.offsetParent !== null;
  const cells = [...legend.querySelectorAll('td')].filter(seen)
      .map(td => Object.assign({text: td.innerText.trim()}, td.dataset));
  const rows = [...legend.querySelectorAll('.planner-row')].filter(seen).map(r => {
    const sw = r.querySelector('.planner-sw');
    const m = sw ? /background:\\s*([^;]+);/.exec(sw.getAttribute('style')) : null;
    return {text: r.innerText.trim(), fill: m ? m[1].trim() : null};
  });
  const heads = [...legend.querySelectorAll('h5')].filter(seen).map(h => h.innerText.trim());
  return {cells: cells, rows: rows, heads: heads};
}"""


@pytest.fixture(scope="module")
def chromium_page():
    """A function opening a saved map offline in headless Chromium, ready for the tests."""
    pytest.importorskip("playwright")
    from playwright.sync_api import sync_playwright

    from planner.errors import PlannerError
    from planner.maps.offline import find_chromium

    try:
        chromium = find_chromium()
    except PlannerError:
        pytest.skip("headless Chromium not installed (Debian: apt-get install -y chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        contexts = []

        def open_map(path):
            ctx = browser.new_context(viewport={"width": 1200, "height": 800}, offline=True)
            contexts.append(ctx)
            page = ctx.new_page()
            errors, requests = [], []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("request", lambda req: requests.append(req.url)
                    if not req.url.startswith(("file:", "data:", "about:")) else None)
            page.goto(path.as_uri(), wait_until="load")
            page.wait_for_function("() => document.querySelector('.leaflet-container').dataset.plannerReady === '1'"
                                   " && Object.keys(window).some(k => k.startsWith('layer_control_'))",
                                   timeout=30_000)
            return page, errors, requests

        try:
            yield open_map
        finally:
            for ctx in contexts:
                ctx.close()
            browser.close()


def _suffix(name: str) -> str:
    """The profile / technology part of an overlay name ("Suppliers – Off-peak" -> "Off-peak")."""
    return name.split(" – ", 1)[1] if " – " in name else ""


def test_coverage_legend_follows_the_profile_layers(truth_run, chromium_page):  # noqa: F811
    summary = pd.read_csv(truth_run / "coverage" / "plant_summary.csv", encoding="utf-8-sig",
                          dtype={"plant_id": str})
    want = {(r.plant_id, r.profile): f"{r.suppliers_covered} / {r.suppliers_total}" for r in summary.itertuples()}
    page, errors, requests = chromium_page(truth_run / "coverage" / "coverage_map.html")
    overlays = page.evaluate(OVERLAYS_JS)
    suppliers = {o["props"][0]["profile"]: o["name"] for o in overlays if o["props"] and "state" in o["props"][0]}
    bands = {o["name"]: o for o in overlays if o["props"] and "threshold" in o["props"][0]}
    assert set(suppliers) == set(summary.profile) and len(bands) == 2
    others = [o["name"] for o in overlays if o["name"] not in bands and o["name"] not in suppliers.values()]

    def legend_after(names):
        page.evaluate(SET_OVERLAYS_JS, names)
        return page.evaluate(LEGEND_JS)

    # when it opens: the first isochrone profile's layers, and only its column
    opening = page.evaluate(LEGEND_JS)
    on = [o["profile"] for o in opening["cells"] if "profile" in o]
    assert set(on) == {"offpeak"}
    for profile, name in suppliers.items():
        band = [n for n in bands if _suffix(n) == _suffix(name)]
        got = legend_after([name, *band, *others])
        counts = {(c["plant"], c["profile"]): c["text"] for c in got["cells"] if "plant" in c}
        assert counts == {k: v for k, v in want.items() if k[1] == profile}, profile
        # the band swatches shown are the colours the visible band layer draws
        swatches = {r["fill"] for r in got["rows"]}
        drawn = {p["colour"] for n in band for p in bands[n]["props"]}
        assert drawn <= swatches if band else not drawn
        assert any(r["text"].startswith("≤") for r in got["rows"]) == bool(band)
    # two profiles on: both columns; every supplier and band layer off: no counts, bands or slack
    two = list(suppliers.values())[:2]
    got = legend_after([*two, *others])
    assert {c["profile"] for c in got["cells"] if "profile" in c} == set(list(suppliers)[:2])
    got = legend_after(others)
    assert not [c for c in got["cells"] if "plant" in c]
    assert not any(r["text"].startswith("≤") for r in got["rows"])
    assert len(got["heads"]) < len(opening["heads"])
    # the outlines' rows follow their layers too
    restriction_rows = [r for r in got["rows"] if r["text"] == "Time-windowed restrictions"]
    assert len(restriction_rows) == 1
    got = legend_after([])
    assert not [r for r in got["rows"] if r["text"] == "Time-windowed restrictions"]
    assert errors == [] and requests == []


@pytest.fixture(scope="module")
def siting_run(tmp_path_factory):
    """The CLI tests' siting scenario (H2 and high-power charging) run through the command line."""
    from planner.cli import main

    folder = tmp_path_factory.mktemp("legend_siting")
    path = siting_scenario(folder)
    text = path.read_text()
    assert "[maps]\noffline = true\n" in text
    path.write_text(text.replace("[maps]\noffline = true\n", '[maps]\noffline = true\nbasemap = "none"\n'))
    assert main(["run", str(path), "--quiet"]) == 0
    out = [p for p in (folder / "out").iterdir() if p.is_dir()]
    assert len(out) == 1
    return out[0]


def test_siting_legend_follows_the_demand_layers(siting_run, chromium_page):
    from planner.maps._common import tech_style

    summary = json.loads((siting_run / "siting" / "summary.json").read_text())
    demand = pd.read_csv(siting_run / "siting" / "problem" / "demand.csv", encoding="utf-8-sig")
    page, errors, requests = chromium_page(siting_run / "siting" / "siting_map.html")
    overlays = page.evaluate(OVERLAYS_JS)
    layers = {o["props"][0]["technology"]: o for o in overlays if o["props"] and "demand_ids" in o["props"][0]}
    assert set(layers) == set(summary["covered_share"]) and len(layers) >= 2
    others = [o["name"] for o in overlays if o["name"] not in {v["name"] for v in layers.values()}]
    for tech, layer in layers.items():
        page.evaluate(SET_OVERLAYS_JS, [layer["name"], *others])
        got = page.evaluate(LEGEND_JS)
        cells = [c for c in got["cells"] if "technology" in c]
        assert {c["technology"] for c in cells} == {tech}
        share = next(c for c in cells if "share" in c)
        assert float(share["share"]) == pytest.approx(summary["covered_share"][tech], rel=1e-9)
        served = next(c for c in cells if "served" in c)
        points = demand[demand.technology == tech] if "technology" in demand else demand
        assert int(served["points"]) == int(sum(len(p["demand_ids"]) for p in layer["props"]))
        assert served["text"] == f"{served['served']} / {served['points']}"
        assert int(served["points"]) == len(points) or "technology" not in demand
        # the demand swatches shown are this technology's, in the colours its markers are drawn with
        fills = {r["fill"] for r in got["rows"] if " – " in r["text"]}
        assert tech_style(tech)[0] in fills
        assert {p["fill"] for p in layer["props"]} <= fills
        assert all(tech_style(t)[0] not in fills for t in layers if t != tech)
    page.evaluate(SET_OVERLAYS_JS, others)
    got = page.evaluate(LEGEND_JS)
    assert not [c for c in got["cells"] if "technology" in c]
    assert errors == [] and requests == []


def test_legend_rows_name_existing_layers(truth_run):  # noqa: F811
    """Every ``data-layers`` name of the legend is a layer defined in the page (no browser)."""
    page = (truth_run / "coverage" / "coverage_map.html").read_text()
    text = page.replace('\\"', '"')
    names = {n for group in re.findall(r'data-layers=\\?"([^"\\]*)', text) for n in group.split()}
    assert names and all(re.search(rf"var {n}\b", page) for n in names)
