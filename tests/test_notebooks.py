"""The demo notebooks execute headless, speak the scenario's language and show their maps offline.

Each notebook is executed once per session in the demo scenario's language (zh), notebook 01 once
more with the language overridden to en (the papermill-style ``LANGUAGE`` parameter). The maps of
the executed notebooks are opened in headless Chromium with networking off (Playwright driving the
system Chromium, as in ``tests/test_maps.py``) and checked against the table each notebook shows
beside its map.
"""
from __future__ import annotations

import html
import re
import string
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

from planner.errors import PlannerError
from planner.maps.labels import LABELS
from planner.maps.offline import external_references
from planner.notebook import TEXT, problem_size, table, warning_block, words
from planner.pipeline.write import export_tables
from planner.reporting.document import TEXT as REPORT_TEXT
from tests._helpers import CHROMIUM

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
NAMES = [p.name for p in NOTEBOOKS]
CJK = re.compile(r"[\u4e00-\u9fff]")


def _execute(path: Path, data_dir: Path, language: str | None) -> nbformat.NotebookNode:
    """Run ``path`` top to bottom; ``language`` overrides the scenario's, as papermill would."""
    nb = nbformat.read(path, as_version=4)
    if language:
        at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
        nb.cells.insert(at + 1, nbformat.v4.new_code_cell(f"LANGUAGE = {language!r}"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLANNER_DATA_DIR", str(data_dir))
        NotebookClient(nb, timeout=900, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


@pytest.fixture(scope="session")
def executed(shared_data):
    """``executed(name, language=None)``: the notebook after execution, run once per session."""
    done: dict[tuple[str, str | None], nbformat.NotebookNode] = {}

    def get(name: str, language: str | None = None) -> nbformat.NotebookNode:
        if (name, language) not in done:
            done[name, language] = _execute(ROOT / "notebooks" / name, shared_data, language)
        return done[name, language]

    return get


def _outputs(nb, cell=None) -> list[dict]:
    cells = [nb.cells[cell]] if cell is not None else [c for c in nb.cells if c.cell_type == "code"]
    return [o for c in cells for o in c.get("outputs", [])]


def _markdown(nb) -> list[str]:
    return [o["data"]["text/markdown"] for o in _outputs(nb) if "text/markdown" in o.get("data", {})]


def _html(nb, cell=None) -> list[str]:
    return [o["data"]["text/html"] for o in _outputs(nb, cell) if "text/html" in o.get("data", {})]


def _frames(nb, cell=None) -> list[str]:
    """The pages of the map frames (``<iframe srcdoc>``) shown by the notebook."""
    return [html.unescape(h.split('srcdoc="', 1)[1].split('"', 1)[0]) for h in _html(nb, cell) if 'srcdoc="' in h]


class _Tables(HTMLParser):
    """Every ``<table>`` of an HTML text as (caption, header cells, body rows of cell texts)."""

    def __init__(self):
        super().__init__()
        self.tables: list[dict] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._in = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append({"caption": "", "header": [], "rows": []})
        elif tag in ("caption", "thead", "tbody"):
            self._in = tag
            self._cell = [] if tag == "caption" else self._cell
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        t = self.tables[-1] if self.tables else None
        if tag == "caption" and t is not None:
            t["caption"] = "".join(self._cell or []).strip()
            self._cell = None
        elif tag in ("td", "th") and self._row is not None:
            self._row.append("".join(self._cell or []).strip())
            self._cell = None
        elif tag == "tr" and t is not None and self._row is not None:
            (t["header"].extend if self._in == "thead" else t["rows"].append)(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _tables(nb, cell=None) -> list[dict]:
    parser = _Tables()
    for h in _html(nb, cell):
        if 'srcdoc="' not in h:
            parser.feed(h)
    return parser.tables


def _count(table: dict, column: str, row: int = 0) -> int:
    return int(table["rows"][row][table["header"].index(column)].replace(",", ""))


# ---------------------------------------------------------------------------------------
# the notebooks' words (planner.notebook), without executing anything
# ---------------------------------------------------------------------------------------


def _fields(s: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(s) if f}


def test_notebook_sentences_exist_in_both_languages_with_the_same_fields():
    for key, (en, zh) in TEXT.items():
        assert CJK.search(zh), key
        assert not CJK.search(en.replace("万元", "")), key
        assert _fields(en) == _fields(zh), key


def test_notebook_words_do_not_repeat_the_map_or_report_words():
    assert not set(TEXT) & (set(LABELS) | set(REPORT_TEXT))
    known = {v for table in (LABELS, REPORT_TEXT) for pair in table.values() for v in pair}
    assert not [k for k, pair in TEXT.items() if set(pair) & known]


def test_every_word_a_notebook_asks_for_exists():
    code = "\n".join(c.source for p in NOTEBOOKS for c in nbformat.read(p, as_version=4).cells
                     if c.cell_type == "code")
    keys = set(re.findall(r'pl\.notebook\.(?:text|heading|words)\("(\w+)"', code))
    keys |= set(re.findall(r'caption="(\w+)"', code))
    assert len(keys) > 20
    for key in keys:
        for lang in ("en", "zh"):
            assert words(key, lang, **{f: 1 for f in _fields(TEXT.get(key, ("", ""))[0])}), (key, lang)


def test_words_reject_an_unknown_language_or_key():
    assert words("coverage", "zh") == "各工厂供应商覆盖情况"  # a report word
    assert words("coverage_title", "en") == "30-minute supplier coverage"  # a map word
    assert words("count", "zh") == "数量"  # the map word, not the report's chart axis ("供应商数")
    with pytest.raises(PlannerError, match="language"):
        words("coverage", "de")
    with pytest.raises(KeyError):
        words("no_such_word", "en")


def test_table_headers_values_and_caption_follow_the_language():
    df = pd.DataFrame({"plant_id": ["P1", "P2"], "profile": ["peak", "offpeak"], "share_covered": [0.5, 0.125],
                       "minutes_peak": [12.345, float("inf")], "covered": [True, False],
                       "coverage_is_lower_bound": [True, None]})
    zh = table(df, "zh", caption="coverage")
    assert list(zh.data.columns) == ["工厂编号", "时段/车型", "覆盖占比", "分钟 (高峰)", "已覆盖", "覆盖为下限（数据边界）"]
    assert zh.data["时段/车型"].tolist() == ["高峰", "平峰"] and zh.data["已覆盖"].tolist() == ["是", "否"]
    assert zh.data["覆盖为下限（数据边界）"].tolist()[0] == "是"  # a yes/no column with a gap
    page = zh.to_html()
    assert "<caption>各工厂供应商覆盖情况</caption>" in page and "50.0%" in page and "12.5%" in page
    assert "12.3" in page and "12.35" not in page and "12.345" in table(df, "zh", precision=3).to_html()
    en = table(df, "en")
    assert list(en.data.columns) == ["Plant ID", "Profile", "Share covered", "Minutes (Peak)", "Covered",
                                     "Coverage is a lower bound (data edge)"]
    assert "<caption>" not in en.to_html()
    assert list(df.columns)[0] == "plant_id"  # the input is not changed


def test_comparison_table_headers_name_their_list():
    df = pd.DataFrame({"technology": ["h2"], "stations_a": [2], "stations_b": [3], "delta_stations": [1],
                       "delta_share": [0.25], "minutes_b": [4.0], "stations": [5]})
    shown = table(df, "zh")
    assert list(shown.data.columns) == ["类型", "站点数（A）", "站点数（B）", "站点数（B − A）", "需求覆盖比例（B − A）",
                                        "到站分钟（B）", "stations"]  # a column of no list stays as it is
    assert "25.0%" in shown.to_html()
    assert list(table(df, "en").data.columns)[1:4] == ["Stations (A)", "Stations (B)", "Stations (B − A)"]


def test_table_translates_statuses_totals_and_unreachable_minutes():
    inf = float("inf")
    df = pd.DataFrame({"technology": ["h2", "hpc", "total", "h2", "hpc", "h2", "hpc"],
                       "status": ["kept", "moved", "added", "removed", "optimal", "time_limit", "infeasible"],
                       "minutes_peak": [inf, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
                       "median_minutes": [1.0, inf, 2.0, 2.0, 2.0, 2.0, 2.0],
                       "scale_for_90pct": [1.5, None, 1.0, 1.0, 1.0, 1.0, 1.0]})
    zh = table(df, "zh")
    assert zh.data["状态"].tolist() == ["保留", "位置变动", "新增", "移除", "最优", "达到时间上限", "无可行解"]
    assert zh.data["类型"].tolist()[2] == "合计"
    assert zh.data["分钟 (高峰)"].tolist()[0] == "不可达" and zh.data["中位分钟"].tolist()[1] == "不可达"
    assert table(df.assign(scale_for_90pct=[inf] * 7), "zh").data["保持90%覆盖的速度系数"].tolist()[0] == "∞"
    page = zh.to_html()
    assert not re.search(r">\s*(inf|nan|total|moved|optimal|time_limit|infeasible)\s*<", page)
    assert ">–<" in page.replace(" ", "")  # the gap, as the report shows it
    en = table(df, "en").data
    assert en["Status"].tolist()[1] == "Moved" and en["Status"].tolist()[5] == "time limit reached"
    assert en["Minutes (Peak)"].tolist()[0] == "unreachable"
    assert df["status"].tolist()[1] == "moved"  # the input is not changed


def test_the_workbook_translates_the_solver_status_through_the_same_helper():
    selected = pd.DataFrame({"site_id": ["s1"], "technology": ["h2"], "name": ["s1"], "display_name": ["近 地泽路"],
                             "capex": [800.0]})
    summary = pd.DataFrame([{"objective": 1.0, "status": "time_limit", "gap": 0.01}])
    siting = type("Plan", (), {"tables": lambda self: {"selected_sites": selected, "siting_summary": summary}})()
    tables, _ = export_tables({"siting": siting}, "zh")
    assert tables["选址汇总"]["状态"].tolist() == ["达到时间上限"]
    assert export_tables({"siting": siting}, "en")[0]["Siting summary"]["Status"].tolist() == ["time limit reached"]


def test_problem_size_names_every_key_the_pipeline_records():
    info = {"candidates_read": {"parking": 1500, "fuel": 30}, "candidates_outside_study_area": 1311,
            "candidates_off_network": 27, "freight_flows": 331, "freight_flows_unreachable": 0,
            "ev_demand_points": 169, "ev_clustering_loss": {"n_outside_network": 2},
            "h2_eligible_sites": 172, "h2_demand_points": 331, "pv_storage_demand_served_by_competitors": 4,
            "candidates": 178}
    zh = problem_size(info, "zh")
    rows = dict(zip(zh.data["参数"], zh.data["取值"]))
    assert rows == {"读入的候选站址（parking）": 1500, "读入的候选站址（fuel）": 30,
                    "研究范围以外的候选站址（未纳入）": 1311, "距路网过远的候选站址（未纳入）": 27,
                    "供应商 → 工厂货运流": 331, "无道路可达的货运流（未纳入）": 0, "电动车需求点（兴趣点聚类）": 169,
                    "可选站址：加氢站": 172, "需求点：加氢站": 331, "已由竞争对手站点服务的需求点：光储充一体站": 4,
                    "纳入模型的候选站址": 178}
    assert "<caption>选址问题规模</caption>" in zh.to_html()
    en = problem_size({"hpc_eligible_sites": 5, "some_new_key": 1}, "en").data
    assert en["Setting"].tolist() == ["Eligible sites: High-power charging", "some_new_key"]  # unknown: as given


def test_warning_block_shows_the_messages_as_written_under_a_translated_heading():
    msgs = ["plant P1: its 30-minute circle (offpeak) is truncated", "ids are 'supplier_<row>' *here*"]
    zh = str(warning_block(msgs + msgs[:1], "zh"))
    assert zh.startswith("#### ⚠ 注意") and "英文原文" in zh
    assert zh.count("truncated") == 1  # a repeated warning once
    assert r"'supplier\_&lt;row&gt;' \*here\*" in zh  # markup shows as written, not as emphasis or a tag
    assert str(warning_block([], "en")) == "#### ⚠ Warnings\n\nThe planner gave no warnings."
    net = type("Net", (), {"report": {"speeds": {"offpeak": {"fallback": 0.7, "clamped": 0.1,
                                                             "mostly_fallback": True}}}})()
    shown = str(warning_block([], "zh", net=net))
    assert "70 % 的道路长度使用默认速度" in shown  # the maps' speed line, translated
    assert "depend mostly on assumed speeds" in shown  # the package's fallback-speed warning


# ---------------------------------------------------------------------------------------
# execution and language
# ---------------------------------------------------------------------------------------


def test_there_are_three_notebooks_with_a_parameters_cell():
    assert NAMES == ["01_supplier_coverage.ipynb", "02_station_siting.ipynb", "03_compare_site_lists.ipynb"]
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1 and "LANGUAGE = None" in tagged[0].source
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        # the facade only: no module below planner/__init__.py is imported by a notebook
        assert "import planner as pl" in code
        assert not re.search(r"from planner[.\w]* import|import planner\.", code), path.name


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_executes_and_shows_its_map_offline(executed, name):
    nb = executed(name)
    assert not [o for o in _outputs(nb) if o.get("output_type") == "error"]
    # the last cell of every notebook shows a map, offline: its frame loads nothing from the network
    frames = _frames(nb, -1)
    assert frames and all("L.map(" in f and not external_references(f) for f in frames)


#: Headings and words each notebook must show in Chinese (the demo scenario's language), written
#: here by hand, not read from planner.notebook.
ZH = {
    "01_supplier_coverage.ipynb": ["# 30分钟紧密高效配套圈", "各工厂供应商覆盖情况", "## 高峰时段失去覆盖的供应商",
                                   "## 覆盖失效速度系数", "## 供应商30分钟覆盖", "路网：", "工厂编号", "时段/车型"],
    "02_station_siting.ipynb": ["# 措施10：加氢站、大功率充电站和光储充一体站选址", "求解状态：", "选址问题规模",
                                "## 场站选址", "选址结果", "加氢站", "站点名称", "数量"],
    "03_compare_site_lists.ipynb": ["# 候选站点方案对比", "各方案站点数", "各方案每类场站的覆盖情况", "## 方案对比",
                                    "按状态统计的站点数", "状态", "个（求解状态："],
}
EN_01 = ["# 30-minute supply circle", "Supplier coverage per plant", "## Suppliers lost at peak",
         "## Breaking speed scale", "## 30-minute supplier coverage", "Road network:", "Plant ID", "Profile"]


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_text_is_in_the_scenario_language_zh(executed, name):
    nb = executed(name)
    shown = "\n".join(_markdown(nb) + _html(nb))
    missing = [w for w in ZH[name] if w not in shown]
    assert not missing, missing
    # every sentence is Chinese; no English heading of the notebook is left
    assert all(CJK.search(m) for m in _markdown(nb)), [m for m in _markdown(nb) if not CJK.search(m)]
    assert not [w for w in EN_01 if w in shown]
    # tables: translated headers (Chinese), captions in Chinese
    tables = _tables(nb)
    assert tables and all(CJK.search(" ".join(t["header"])) for t in tables)
    assert all(CJK.search(t["caption"]) for t in tables if t["caption"])
    # no untranslated status, total, infinity or gap in a sentence or a table cell
    raw = re.compile(r"^(optimal|time_limit|infeasible|no_solution|heuristic|kept|moved|added|removed|total|"
                     r"inf|nan|nan%)$", re.I)
    cells = [c for t in tables for row in t["rows"] for c in row]
    assert not [c for c in cells if raw.match(c)], sorted({c for c in cells if raw.match(c)})
    assert not re.search(r"\b(optimal|time_limit|infeasible|no_solution)\b", "\n".join(_markdown(nb)))
    # the package's warnings are shown, under a Chinese heading
    (block,) = [m for m in _markdown(nb) if m.startswith("#### ⚠ 注意")]
    assert "\n- " in block


@pytest.mark.slow
def test_siting_notebook_names_the_problem_size_and_the_solver_status_in_chinese(executed):
    nb = executed("02_station_siting.ipynb")
    (size,) = [t for t in _tables(nb) if t["caption"] == "选址问题规模"]
    assert "纳入模型的候选站址" in [row[0] for row in size["rows"]]
    assert not [row[0] for row in size["rows"] if not CJK.search(row[0])]  # every key readable
    (solver,) = [m for m in _markdown(nb) if m.startswith("求解状态：")]
    assert re.match(r"求解状态：(最优|达到时间上限|启发式解)；", solver), solver


@pytest.mark.slow
def test_coverage_notebook_warns_of_circles_truncated_by_the_data_edge(executed):
    nb = executed("01_supplier_coverage.ipynb")
    (block,) = [m for m in _markdown(nb) if m.startswith("#### ⚠ 注意")]
    # the demo's road data ends at lat 39.756 (data/README.md): the plants' circles reach it
    assert "truncated by the edge of the road data" in block
    assert "道路速度：" in block  # the assumed-speed line, translated


@pytest.mark.slow
def test_notebook_text_follows_a_scenario_in_english(executed):
    nb = executed("01_supplier_coverage.ipynb", "en")
    assert not [o for o in _outputs(nb) if o.get("output_type") == "error"]
    shown = "\n".join(_markdown(nb) + _html(nb))
    missing = [w for w in EN_01 if w not in shown]
    assert not missing, missing
    assert not [m for m in _markdown(nb) if CJK.search(m)]  # no Chinese sentence left
    assert not [t["header"] for t in _tables(nb) if CJK.search(" ".join(t["header"]))]
    # ... and the map follows too: its legend is English (supplier names stay as given)
    (frame,) = _frames(nb, -1)
    assert "Slack to threshold (min)" in frame and "Travel-time bands" in frame
    assert not [w for w in ("距阈值余量", "等时圈", "未覆盖") if w in frame]


# ---------------------------------------------------------------------------------------
# the executed maps in headless Chromium, networking off
# ---------------------------------------------------------------------------------------


needs_chromium = pytest.mark.skipif(CHROMIUM is None,
                                    reason="headless Chromium not installed (Debian: apt-get install -y chromium)")
#: A basemap tile request (``.../{z}/{x}/{y}.png``): the only request an offline map may make.
TILE = re.compile(r"^https?://[^?#]+/\d+/\d+/\d+(\.png|\.jpg|@2x\.png)?([?#].*)?$")

#: What each map shows once drawn: per map, marker icons, circle markers on the map, tiles.
MAP_STATE_JS = """() => {
  const maps = Object.keys(window).filter(k => k.startsWith('map_') && window[k] && window[k].eachLayer)
                                  .map(k => window[k]);
  return maps.map(map => {
    let icons = 0, circles = 0;
    map.eachLayer(l => { if (l instanceof L.Marker) icons++; else if (l instanceof L.CircleMarker) circles++; });
    const c = map.getContainer();
    return {icons, circles, id: c.id, left: c.getBoundingClientRect().left,
            tiles: c.querySelectorAll('.leaflet-tile-pane .leaflet-tile').length,
            overlay: c.querySelectorAll('.leaflet-overlay-pane path').length,
            panes: ['tile', 'overlay', 'marker'].every(p => map.getPane(p + 'Pane'))};
  }).sort((a, b) => a.left - b.left);
}"""


def render(browser, page_html: str, path: Path) -> dict:
    """Open ``page_html`` (written to ``path``) offline; return what rendered and what went wrong.

    Returns ``{"leaflet": version or None, "maps": [MAP_STATE_JS per map], "problems": [...]}``;
    a problem is a page error, a console error other than a failed tile image, a request other
    than a basemap tile, or a map that never finished drawing.
    """
    path.write_text(page_html, encoding="utf-8")
    ctx = browser.new_context(viewport={"width": 1200, "height": 800}, offline=True)
    problems: list[str] = []
    tiles_failed: set[str] = set()
    try:
        page = ctx.new_page()

        def on_request(req):
            if req.url.startswith(("file:", "data:", "about:", "blob:")):
                return
            if req.resource_type == "image" and TILE.match(req.url):
                tiles_failed.add(req.url)
            else:
                problems.append(f"request {req.resource_type} {req.url}")

        def on_console(msg):
            if msg.type == "error" and (msg.location or {}).get("url") not in tiles_failed:
                problems.append(f"console: {msg.text} ({(msg.location or {}).get('url')})")

        page.on("request", on_request)
        page.on("console", on_console)
        page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
        page.goto(path.resolve().as_uri(), wait_until="load")
        leaflet = page.evaluate("() => typeof window.L === 'object' && window.L.version || null")
        if not leaflet:
            problems.append("Leaflet not loaded")
            return {"leaflet": None, "maps": [], "problems": problems}
        try:  # the planner's maps mark their container once legend, layers and fit are done
            page.wait_for_function("() => { const c = document.querySelectorAll('.leaflet-container');"
                                   " return c.length > 0 && [...c].every(e => e.dataset.plannerReady === '1'); }",
                                   timeout=30_000)
        except Exception as exc:  # noqa: BLE001 - reported as a problem, the caller asserts
            problems.append(f"map not drawn: {type(exc).__name__}")
        maps = page.evaluate(MAP_STATE_JS)
        page.wait_for_timeout(200)  # late console errors
        return {"leaflet": leaflet, "maps": maps, "problems": problems}
    finally:
        ctx.close()


def _assert_drawn(result: dict, n_maps: int) -> None:
    assert result["leaflet"] == "1.9.3", result
    assert result["problems"] == [], result["problems"]
    assert len(result["maps"]) == n_maps
    for m in result["maps"]:
        assert m["panes"] and m["tiles"] > 0, m  # tile pane holds the basemap tiles (grey offline)


@pytest.mark.slow
@pytest.mark.browser
@needs_chromium
def test_coverage_notebook_map_renders_offline(executed, browser, tmp_path):
    nb = executed("01_supplier_coverage.ipynb")
    (frame,) = _frames(nb, -1)
    (counts,) = [t for t in _tables(nb, -1) if t["caption"] == "地图上绘制的要素："]
    result = render(browser, frame, tmp_path / "coverage.html")
    _assert_drawn(result, 1)
    (m,) = result["maps"]
    assert m["icons"] == _count(counts, "工厂")  # one marker per plant
    assert m["circles"] == _count(counts, "供应商")  # one dot per supplier, in the layer shown
    assert m["overlay"] >= m["circles"] + 1  # the dots and the travel-time bands are drawn


@pytest.mark.slow
@pytest.mark.browser
@needs_chromium
def test_siting_notebook_map_renders_offline(executed, browser, tmp_path):
    nb = executed("02_station_siting.ipynb")
    (frame,) = _frames(nb, -1)
    (selected,) = [t for t in _tables(nb, -1) if t["caption"] == "选址结果"]
    result = render(browser, frame, tmp_path / "siting.html")
    _assert_drawn(result, 1)
    (m,) = result["maps"]
    assert len(selected["rows"]) > 0 and m["icons"] == len(selected["rows"])  # a marker per station
    assert m["circles"] > 0  # demand points


@pytest.mark.slow
@pytest.mark.browser
@needs_chromium
def test_compare_notebook_maps_render_offline(executed, browser, tmp_path):
    nb = executed("03_compare_site_lists.ipynb")
    (frame,) = _frames(nb, -1)
    (status,) = [t for t in _tables(nb, -1) if t["caption"] == "按状态统计的站点数"]
    n = {row[0]: int(row[1].replace(",", "")) for row in status["rows"]}
    result = render(browser, frame, tmp_path / "compare.html")
    _assert_drawn(result, 2)
    left, right = result["maps"]
    kept = n.get("保留", 0) + n.get("位置变动", 0)
    assert left["icons"] == kept + n.get("移除", 0)  # list A: kept and removed stations
    assert right["icons"] == kept + n.get("新增", 0)  # list B: kept and added stations


@pytest.mark.browser
@needs_chromium
def test_the_check_fails_on_a_map_loading_leaflet_from_a_cdn(browser, tmp_path):
    """A deliberately broken copy: folium's own notebook display of a map, which loads Leaflet
    and its plugins from CDNs. With networking off it must not pass the checks above."""
    import folium

    m = folium.Map(location=[39.79, 116.51], zoom_start=12)
    folium.Marker([39.79, 116.51]).add_to(m)
    (frame,) = [html.unescape(h.split('srcdoc="', 1)[1].split('"', 1)[0]) for h in [m._repr_html_()]]
    assert external_references(frame)  # the CDN scripts the notebooks used to load
    result = render(browser, frame, tmp_path / "cdn.html")
    assert result["leaflet"] is None and result["maps"] == [] and "Leaflet not loaded" in result["problems"]
    assert any("cdn" in p and "script" in p for p in result["problems"]), result["problems"]
    with pytest.raises(AssertionError):
        _assert_drawn(result, 1)
