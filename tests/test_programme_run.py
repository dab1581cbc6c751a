"""The programme on a run folder, with ``capex_model = "sized"``: the frontier point at the run's
budget is the plan of ``planner run`` (same objective, same stations, same capex), the phase plan
spends sized capex, and ``planner report RUN_DIR`` shows the frontier and the phasing.

The tiny grid scenario of ``tests._helpers`` in Chinese; ``planner frontier`` and ``planner phase``
write into its run folder (``programme/frontier``, ``programme/phasing``).
"""
from __future__ import annotations

import json
import re
import subprocess
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from planner import pipeline
from planner.cli import main
from planner.outputs import RunLayout
from planner.pipeline.stations import build_problem, sizing_defaults
from planner.reporting import write_report
from planner.reporting.document import build_html
from planner.reporting.run_data import read_run
from planner.scenario import load_scenario
from planner.stations.table import candidate_capex_from_problem
from tests._helpers import load_siting, siting_scenario
from tests.test_report import needs_pdf_tools

BUDGET = 1500.0  # the run's budget (万元); one of the frontier's budgets
FRONTIER = "500,1000,1500,2000"
PROGRAMME = """
[programme]
years = [2026, 2027]
budgets_wan = [700, 800]
growth = { hpc = 0.25 }
frontier_budgets_wan = "{frontier}"
time_limit_s = 20
"""


@pytest.fixture(scope="module")
def sized(tmp_path_factory):
    """The run folder of the sized scenario after ``planner run``, ``frontier`` and ``phase``."""
    folder = tmp_path_factory.mktemp("prog")
    path = siting_scenario(folder / "s", hpc_extra="min_spacing_m = 0\n[siting.sizing]\nev_sessions_per_day = 800\n")
    text = (path.read_text(encoding="utf-8").replace('language = "en"', 'language = "zh"')
            .replace("budget_wan = 300", f'budget_wan = {BUDGET:g}\ncapex_model = "sized"\nmip_gap = 0'))
    path.write_text(text + PROGRAMME.replace("{frontier}", FRONTIER), encoding="utf-8")
    sc = load_scenario(path)
    run_dir = pipeline.run(sc, quiet=True)
    assert main(["frontier", str(path), "--workers", "1", "--quiet"]) == 0
    assert main(["phase", str(path), "--quiet"]) == 0
    return path, sc, run_dir


def _sized_capex(path) -> dict:
    """Each candidate's sized capex per technology, straight from the sizing library."""
    sc, net, plants, suppliers = load_siting(path)
    problem = build_problem(sc, net, plants, suppliers)
    caps, _ = candidate_capex_from_problem(problem, sizing_defaults(sc), pv_levels=None)
    ids = problem.candidates.candidate_id.astype(str).to_numpy()
    return {(i, t): float(c) for t, arr in caps.items() for i, c in zip(ids, arr)}, sc


def test_programme_outputs_go_into_the_run_folder(sized):
    _, _, run_dir = sized
    for rel in (RunLayout.FRONTIER_TABLE, RunLayout.FRONTIER_CHART, RunLayout.FRONTIER_PLANS,
                RunLayout.FRONTIER_SUMMARY, RunLayout.PHASING_YEARS, RunLayout.PHASING_STATIONS,
                RunLayout.PHASING_SUMMARY, RunLayout.PHASING_MAP):
        assert (run_dir / rel).is_file(), rel
    summary = json.loads((run_dir / RunLayout.FRONTIER_SUMMARY).read_text(encoding="utf-8"))
    assert summary["capex_model"] == "sized" and "sized" in summary["candidate_capex"]


def test_frontier_point_at_the_run_budget_is_the_run_s_plan(sized):
    path, _, run_dir = sized
    run = json.loads((run_dir / RunLayout.SITING_SUMMARY).read_text(encoding="utf-8"))
    sel = pd.read_csv(run_dir / RunLayout.SELECTED_SITES, dtype={"site_id": str})
    front = pd.read_csv(run_dir / RunLayout.FRONTIER_TABLE, encoding="utf-8-sig").set_index("budget_wan")
    plans = json.loads((run_dir / RunLayout.FRONTIER_PLANS).read_text(encoding="utf-8"))
    point = front.loc[BUDGET]
    assert point.objective == pytest.approx(run["objective"], abs=1e-9)
    assert point.budget_used_wan == pytest.approx(run["budget_used"], abs=1e-6)
    assert sorted(map(tuple, plans[str(BUDGET)])) == sorted(zip(sel.site_id, sel.technology))
    # the capex both spent is the sized capex of the chosen stations, not the flat capex_wan
    capex, sc = _sized_capex(path)
    spent = sum(capex[(s, t)] for s, t in zip(sel.site_id, sel.technology))
    flat = sum(sc.siting.technologies[t].capex_wan for t in sel.technology)
    assert point.budget_used_wan == pytest.approx(spent, rel=1e-9)
    assert abs(spent - flat) > 1.0
    assert np.all(np.diff(front.objective.to_numpy()) >= -1e-12)
    assert (front.budget_used_wan <= front.index.to_numpy() + 1e-6).all()


def test_phase_plan_spends_sized_capex(sized):
    path, sc, run_dir = sized
    capex, _ = _sized_capex(path)
    st = pd.read_csv(run_dir / RunLayout.PHASING_STATIONS, encoding="utf-8-sig", dtype={"site_id": str})
    years = pd.read_csv(run_dir / RunLayout.PHASING_YEARS, encoding="utf-8-sig")
    assert len(st) > 0
    expected = np.array([capex[(s, t)] for s, t in zip(st.site_id, st.technology)])
    assert st.capex.to_numpy() == pytest.approx(expected, rel=1e-9)
    prog = years[years.plan == "programme"].set_index("year")
    for year, budget in zip(sc.programme.years, sc.programme.budgets_wan):
        opened = expected[st.opened.to_numpy() == year]
        assert prog.loc[year, "spent_wan"] == pytest.approx(opened.sum(), abs=1e-6)
        assert prog.loc[year, "spent_wan"] <= budget + 1e-6
    flat = np.array([sc.siting.technologies[t].capex_wan for t in st.technology])
    assert np.abs(expected - flat).max() > 1.0


class _Tables(HTMLParser):
    """Cell texts of the table inside the element with id ``target``."""

    def __init__(self, target: str):
        super().__init__()
        self.target, self.depth, self.rows, self.cell = target, 0, [], None

    def handle_starttag(self, tag, attrs):
        if self.depth:
            self.depth += tag == "div"
        elif tag == "div" and dict(attrs).get("id") == self.target:
            self.depth = 1
        if self.depth and tag == "tr":
            self.rows.append([])
        if self.depth and tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        if self.depth and tag in ("td", "th"):
            self.rows[-1].append(self.cell.strip())
            self.cell = None
        if self.depth and tag == "div":
            self.depth -= 1

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def _table(html: str, target: str) -> pd.DataFrame:
    p = _Tables(target)
    p.feed(html)
    assert p.rows, f"no table #{target}"
    return pd.DataFrame(p.rows[1:], columns=p.rows[0])


def _number(text: str) -> float:
    return np.nan if text == "–" else np.inf if text == "∞" else float(text.replace(",", ""))


def test_report_shows_the_frontier_table_as_in_the_csv(sized):
    _, _, run_dir = sized
    html = write_report(run_dir, run_dir / "rep", pdf=False, snapshots=False)["html"].read_text(encoding="utf-8")
    csv = pd.read_csv(run_dir / RunLayout.FRONTIER_TABLE, encoding="utf-8-sig")
    shown = _table(html, "frontier-table")
    assert len(shown) == len(csv)
    # column header -> (csv column, factor, half of the last shown digit)
    cols = {"预算（万元）": ("budget_wan", 1, 0.5), "加权覆盖率（%）": ("weighted_share", 100, 0.05),
            "加权目标值": ("objective", 1, 5e-5), "已用投资（万元）": ("budget_used_wan", 1, 0.5),
            "每提高1个百分点覆盖的投资（万元）": ("wan_per_point", 1, 0.05)}
    techs = [c[len("share_"):] for c in csv.columns if c.startswith("share_")]
    labels = {"h2": "加氢站", "hpc": "大功率充电站"}
    for t in techs:
        header = next(h for h in shown.columns if h.endswith("覆盖率（%）") and labels[t] in h)
        cols[header] = (f"share_{t}", 100, 0.05)
    for header, (col, factor, half) in cols.items():
        got = np.array([_number(v) for v in shown[header]])
        want = factor * csv[col].to_numpy(float)
        finite = np.isfinite(want)
        assert np.array_equal(np.isfinite(got), finite), header
        assert np.abs(got[finite] - want[finite]).max() <= half + 1e-9, header
    stations = csv[[c for c in csv.columns if c.startswith("stations_")]].sum(axis=1)
    assert [int(v) for v in shown["站点数"]] == stations.astype(int).tolist()
    assert (shown["拐点"] == "★").tolist() == csv.knee.astype(bool).tolist()
    assert "<h2>预算前沿</h2>" in html
    if csv.knee.any():
        assert f"前沿拐点：{csv.budget_wan[csv.knee.astype(bool)].iloc[0]:,.0f} 万元" in html
    assert "最后一段覆盖" in html
    # phasing: the per-year table and a station list per opening year
    years = pd.read_csv(run_dir / RunLayout.PHASING_YEARS, encoding="utf-8-sig")
    ph = _table(html, "phasing-table")
    assert [_number(v) for v in ph["投资（万元）"]] == pytest.approx(years.spent_wan.to_numpy(), abs=0.5)
    assert [_number(v) for v in ph["累计目标值"]] == pytest.approx(years.accumulated.to_numpy(), abs=5e-5)
    assert "分期建设（2026–2027年）" in html
    st = pd.read_csv(run_dir / RunLayout.PHASING_STATIONS, encoding="utf-8-sig")
    for year in st.opened.unique():
        assert f"{year}年新建站点" in html
    assert "programme_stale" not in html and "情景参数与本次运行不同" not in html


def test_report_flags_programme_results_of_other_settings(sized):
    _, _, run_dir = sized
    data = read_run(run_dir)
    data.frontier_summary["inputs"]["siting"]["technologies"]["hpc"]["radius_min"] = 99.0
    html = build_html(data, [])
    assert html.count("情景参数与本次运行不同（siting）") == 1  # the frontier only; the phasing matches


def test_a_new_run_keeps_the_programme_results(sized):
    _, sc, run_dir = sized
    before = (run_dir / RunLayout.FRONTIER_TABLE).read_bytes()
    pipeline.run(sc, quiet=True, only="siting")
    assert (run_dir / RunLayout.FRONTIER_TABLE).read_bytes() == before
    manifest = json.loads((run_dir / RunLayout.MANIFEST).read_text(encoding="utf-8"))
    assert "programme" in manifest["kept_from_previous_run"]


@pytest.mark.browser
@needs_pdf_tools
def test_pdf_holds_the_frontier_and_phasing_headings(sized, tmp_path):
    _, _, run_dir = sized
    pdf = write_report(run_dir, tmp_path, pdf=True, snapshots=True)["pdf"]
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True,
                          check=True).stdout.decode()
    assert "预算前沿" in text and re.search(r"分期建设（2026\s*[–-]\s*2027年）", text)
    assert "交互地图截图：programme/phasing/map.html" in text  # the map with a layer per year
