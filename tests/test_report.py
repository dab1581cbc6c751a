"""The HTML/PDF report of a run folder: content, language, offline HTML, PDF read back.

The PDF is rendered to images with ``pdftoppm`` and its text extracted with ``pdftotext``
(Debian ``poppler-utils``); printing needs headless Chromium (``make browser``).
"""
import re
import shutil
import subprocess

import numpy as np
import pytest

from planner.errors import InputError, PlannerError
from planner.maps.offline import external_references, find_chromium
from planner.reporting import write_report
from tests._helpers import SCENARIO, make_scenario


def _chromium():
    try:
        return find_chromium()
    except PlannerError:
        return None


needs_pdf_tools = pytest.mark.skipif(
    _chromium() is None or shutil.which("pdftoppm") is None or shutil.which("pdftotext") is None,
    reason="needs headless Chromium and poppler-utils (make browser)")

ZH_HEADINGS = ["规划报告", "关键数据", "各工厂供应商覆盖情况", "图表", "地图", "站点清单", "假设条件", "数据质量",
               "数据来源与版权"]


@pytest.fixture(scope="module")
def zh_run(tmp_path_factory):
    """The tiny CLI scenario run in Chinese (its one plant sits on the corner of the road grid)."""
    from planner import pipeline
    from planner.scenario import load_scenario

    path = make_scenario(tmp_path_factory.mktemp("rep") / "tiny", SCENARIO.replace('language = "en"', 'language = "zh"'))
    return pipeline.run(load_scenario(path), quiet=True)


def test_html_is_self_contained_and_in_the_scenario_language(zh_run):
    paths = write_report(zh_run, zh_run / "rep_html", pdf=False, snapshots=False)
    html = paths["html"].read_text(encoding="utf-8")
    assert external_references(html) == []
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html, re.I)
    assert "<script" not in html.lower()
    assert html.count('src="data:image/png;base64,') >= 4  # 3 charts + the overview map
    for h in ZH_HEADINGS:
        assert h in html, h
    assert "© OpenStreetMap contributors" in html
    # the corner plant's circle reaches the grid's edge: the data-quality section says so
    assert "被道路数据边界截断的等时圈" in html and "没有等时圈到达道路数据边界" not in html
    # the XSS-style supplier name of the tiny scenario never becomes markup
    assert "<script>alert" not in html


def test_english_report(tmp_path):
    from planner import pipeline
    from planner.scenario import load_scenario

    out = pipeline.run(load_scenario(make_scenario(tmp_path / "tiny")), quiet=True)
    html = write_report(out, pdf=False, snapshots=False)["html"].read_text(encoding="utf-8")
    assert "Key figures" in html and "Data quality" in html and "关键数据" not in html


def test_not_a_run_folder_is_a_clear_error(tmp_path, capsys):
    from planner.cli import main

    with pytest.raises(InputError, match="run.json"):
        write_report(tmp_path)
    assert main(["report", str(tmp_path)]) == 2
    assert "no run.json" in capsys.readouterr().err


@pytest.mark.browser
@needs_pdf_tools
def test_pdf_pages_are_not_blank_and_hold_the_chinese_headings(zh_run, tmp_path):
    from PIL import Image

    paths = write_report(zh_run, tmp_path / "report", pdf=True, snapshots=True)
    pdf = paths["pdf"]
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True).stdout.decode()
    for h in ZH_HEADINGS:
        assert h in text, h
    assert "© OpenStreetMap contributors" in text
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page*.png"))
    assert len(pages) >= 2
    for p in pages:
        g = np.asarray(Image.open(p).convert("L"), dtype=float)
        assert (g < 200).mean() > 0.005, f"{p.name} is (nearly) blank"
    # the charts and map images printed: some page holds a large share of non-white pixels
    assert max((np.asarray(Image.open(p).convert("L")) < 240).mean() for p in pages) > 0.05


@pytest.mark.browser
@needs_pdf_tools
def test_report_html_opens_offline_without_requests(zh_run):
    from playwright.sync_api import sync_playwright

    html = write_report(zh_run, zh_run / "rep_offline", pdf=False, snapshots=False)["html"]
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox", "--disable-gpu"])
        try:
            ctx = b.new_context(offline=True)
            page = ctx.new_page()
            requests = []
            page.on("request", lambda r: requests.append(r.url)
                    if not r.url.startswith(("file:", "data:", "about:")) else None)
            page.goto(html.resolve().as_uri(), wait_until="load")
            loaded = page.evaluate("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")
            ctx.close()
        finally:
            b.close()
    assert requests == []
    assert loaded
