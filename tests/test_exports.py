"""results.xlsx and results.gpkg read back: sheet names, headers, number formats, frozen panes,
filters, widths, served / not-served partition, "不可达", names beside ids; GPKG layers."""
from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest

from planner import data_extent, pipeline
from planner.maps.labels import LABELS
from planner.pipeline import write
from tests._helpers import LAT0, LON0, SCENARIO, load_siting, siting_scenario


def _zh(key: str) -> str:
    return LABELS[key][1]


@pytest.fixture(scope="module")
def run_zh(tmp_path_factory):
    """The siting scenario in Chinese with a second plant P2 that only S3 serves, so pairs not
    served exist; one served pair's minutes are set to inf to stand for an unreachable supplier."""
    folder = tmp_path_factory.mktemp("zh")
    path = siting_scenario(folder)
    path.write_text(path.read_text().replace('language = "en"', 'language = "zh"'))
    pd.DataFrame({"id": ["P1", "P2"], "name": ["一号工厂", "二号工厂"], "lon": [LON0, LON0 + 0.005],
                  "lat": [LAT0, LAT0]}).to_csv(folder / "plants.csv", index=False)
    sup = pd.read_csv(folder / "suppliers.csv")
    sup["plants"] = ["P1", "P1", "P2"]
    sup.to_csv(folder / "suppliers.csv", index=False)
    sc, net, plants, suppliers = load_siting(path)
    cov = pipeline.run_coverage(sc, net, plants, suppliers)
    st = cov.supplier_times
    st.loc[(st.supplier_id == "S2") & (st.plant_id == "P1") & (st.profile == "peak"), "minutes"] = np.inf
    sit = pipeline.run_siting(sc, net, plants, suppliers)
    results = {"coverage": cov, "siting": sit}
    extent = data_extent.network_extent(net.nodes.lon, net.nodes.lat, net.metric_crs)
    areas = write.area_layers(extent, None)
    write.write_exports(results, folder, "zh", plants, suppliers, areas)
    return folder, results, plants, suppliers


def _sheet(wb, key):
    ws = wb[_zh(key)]
    header = [c.value for c in ws[1]]
    return ws, header


def _rows(ws):
    return [[c.value for c in row] for row in ws.iter_rows(min_row=2)]


def test_sheet_names_and_headers_are_chinese(run_zh):
    folder, *_ = run_zh
    wb = openpyxl.load_workbook(folder / "results.xlsx")
    expected = [_zh(k) for k in ("sheet_coverage", "sheet_not_served", "sheet_plant_summary", "sheet_lost_at_peak",
                                 "sheet_sensitivity", "sheet_breaking_scale", "sheet_selected_sites",
                                 "sheet_siting_summary", "sheet_station_sizes", "sheet_attribution")]
    assert wb.sheetnames == expected
    for ws in wb.worksheets:
        for c in ws[1]:
            # every header holds Chinese characters (no stable English column name leaks through)
            assert any("\u4e00" <= ch <= "\u9fff" for ch in str(c.value)), (ws.title, c.value)
    assert "OpenStreetMap" in wb[_zh("sheet_attribution")]["A2"].value


def test_served_and_not_served_sheets_partition_supplier_times(run_zh):
    folder, results, *_ = run_zh
    st = results["coverage"].supplier_times
    wb = openpyxl.load_workbook(folder / "results.xlsx")
    got = {}
    for key in ("sheet_coverage", "sheet_not_served"):
        ws, header = _sheet(wb, key)
        i, j, k = header.index(_zh("supplier_id")), header.index(_zh("plant_id")), header.index(_zh("profile"))
        got[key] = sorted((r[i], r[j], r[k]) for r in _rows(ws))
    prof = {"offpeak": _zh("offpeak"), "peak": _zh("peak")}
    for key, mask in (("sheet_coverage", st.serves), ("sheet_not_served", ~st.serves)):
        sub = st[mask.to_numpy(bool)]
        assert got[key] == sorted(zip(sub.supplier_id, sub.plant_id, sub.profile.map(prof)))
    assert len(got["sheet_coverage"]) + len(got["sheet_not_served"]) == len(st)
    assert len(got["sheet_coverage"]) == 6 and len(got["sheet_not_served"]) == 6  # 3 suppliers × 2 profiles each


def test_unreachable_minutes_and_names_beside_ids(run_zh):
    folder, results, plants, suppliers = run_zh
    wb = openpyxl.load_workbook(folder / "results.xlsx")
    ws, header = _sheet(wb, "sheet_coverage")
    si, pi = header.index(_zh("supplier_id")), header.index(_zh("plant_id"))
    assert header[si + 1] == _zh("supplier_name") and header[pi + 1] == _zh("plant_name")
    names = dict(zip(suppliers.site_id, suppliers.name))
    pnames = dict(zip(plants.site_id, plants.name))
    mi, pri = header.index(_zh("minutes")), header.index(_zh("profile"))
    st = results["coverage"].supplier_times.set_index(["supplier_id", "plant_id", "profile"])
    back = {"平峰": "offpeak", "高峰": "peak"}
    n_inf = 0
    for r in _rows(ws):
        assert r[si + 1] == names[r[si]] and r[pi + 1] == pnames[r[pi]]
        m = st.loc[(r[si], r[pi], back[r[pri]]), "minutes"]
        if math.isinf(m):
            n_inf += 1
            assert r[mi] == "不可达"
        else:
            assert r[mi] == pytest.approx(m)
    assert n_inf == 1
    ws, header = _sheet(wb, "sheet_plant_summary")  # a boolean column with gaps still reads 是/否
    assert {r[_col(ws, header, "coverage_is_lower_bound") - 1] for r in _rows(ws)} <= {"是", "否", None}
    ws, header = _sheet(wb, "sheet_selected_sites")
    assert header[header.index(_zh("site_id")) + 1] == _zh("site_name")
    sel = results["siting"].selected_sites()
    assert sorted((r[0], r[1]) for r in _rows(ws)) == sorted(zip(sel.site_id, sel.name))


def _col(ws, header, key):
    return header.index(_zh(key)) + 1


def test_number_formats_frozen_panes_filters_and_widths(run_zh):
    folder, *_ = run_zh
    wb = openpyxl.load_workbook(folder / "results.xlsx")
    checks = {"sheet_coverage": {"minutes": "0.0", "slack_minutes": "0.0"},
              "sheet_plant_summary": {"share_covered": "0.0%", "weighted_share_covered": "0.0%",
                                      "median_minutes": "0.0"},
              "sheet_selected_sites": {"capex_wan": "#,##0.0", "share": "0.0%"},
              "sheet_siting_summary": {"budget_wan": "#,##0.0", "budget_used_wan": "#,##0.0"}}
    for sheet, cols in checks.items():
        ws, header = _sheet(wb, sheet)
        for key, fmt in cols.items():
            j = _col(ws, header, key)
            cells = [ws.cell(row=i, column=j) for i in range(2, ws.max_row + 1)]
            numeric = [c for c in cells if isinstance(c.value, (int, float))]
            assert numeric, (sheet, key)
            assert all(c.number_format == fmt for c in numeric), (sheet, key, {c.number_format for c in numeric})
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2", ws.title
        last = openpyxl.utils.get_column_letter(ws.max_column)
        assert ws.auto_filter.ref == f"A1:{last}{max(ws.max_row, 1)}", ws.title
    # columns fit their content: wide text gets a wide column, a short one stays narrow
    ws, header = _sheet(wb, "sheet_siting_summary")
    model = _width(ws, _col(ws, header, "model"))
    assert model > 40  # "TechnologyMix (maximal coverage, multi-technology, one budget)"
    ws, header = _sheet(wb, "sheet_coverage")
    name = _width(ws, _col(ws, header, "supplier_name"))
    assert name > len("<script>alert('x')</script>") > 8.43  # the default width is 8.43 characters
    assert _width(ws, _col(ws, header, "minutes")) < name / 2
    # a Chinese header counts two characters per glyph
    assert _width(ws, _col(ws, header, "slack_minutes")) >= 2 * len(_zh("slack_minutes"))


def _width(ws, j: int) -> float:
    """Width of column ``j`` (openpyxl groups neighbouring columns of equal width)."""
    for dim in ws.column_dimensions.values():
        if dim.min <= j <= dim.max:
            return dim.width
    raise AssertionError(f"column {j} of {ws.title} has no width set")


def test_geopackage_layers_once_with_row_counts(run_zh):
    folder, results, plants, suppliers = run_zh
    path = folder / "results.gpkg"
    names = [n for n, _ in pyogrio.list_layers(path)]
    assert sorted(names) == sorted(["plants", "suppliers", "candidates", "stations", "demand", "isochrones",
                                    "fit_area", "data_extent"])
    assert len(names) == len(set(names))
    cov, sit = results["coverage"], results["siting"]
    counts = {"plants": len(plants), "suppliers": len(suppliers), "candidates": len(sit.problem.candidates),
              "stations": len(sit.tables()["selected_sites"]), "isochrones": len(cov.isochrones),
              "fit_area": len(cov.fit_area_display), "data_extent": 1, "demand": len(sit.demand_served())}
    for name, n in counts.items():
        assert len(gpd.read_file(path, layer=name)) == n, name
    sup = gpd.read_file(path, layer="suppliers").set_index("site_id")
    st = cov.supplier_times
    for profile in ("offpeak", "peak"):
        s = st[(st.profile == profile) & st.serves]
        for row in s.itertuples():
            want = "covered" if row.covered else "not covered"  # each supplier serves one plant here
            assert sup.loc[row.supplier_id, f"status_{profile}"] == want
            got = sup.loc[row.supplier_id, f"minutes_{profile}_{row.plant_id}"]
            assert (np.isnan(got) if math.isinf(row.minutes) else got == pytest.approx(row.minutes))
        assert f"minutes_{profile}_P2" in sup.columns and np.isnan(sup.loc["S1", f"minutes_{profile}_P2"])


def test_supplier_status_partly_when_late_for_one_served_plant():
    sup = gpd.GeoDataFrame({"site_id": ["A", "B", "C"], "name": ["a", "b", "c"], "plants": [(), (), ()]},
                           geometry=gpd.points_from_xy([0, 1, 2], [0, 0, 0]), crs=4326)
    st = pd.DataFrame({"supplier_id": ["A", "A", "B", "B", "C", "C"], "plant_id": ["P", "Q"] * 3,
                       "profile": "peak", "minutes": [10, 40, 10, 20, 50, np.inf],
                       "covered": [True, False, True, True, False, False], "serves": True})
    layer = write.supplier_layer(sup, st).set_index("site_id")
    assert layer.status_peak.to_dict() == {"A": "partly", "B": "covered", "C": "not covered"}
    assert layer.loc["A", "minutes_peak_Q"] == 40 and np.isnan(layer.loc["C", "minutes_peak_Q"])


def test_english_scenario_gets_english_sheets(tmp_path):
    path = siting_scenario(tmp_path)
    assert 'language = "en"' in SCENARIO
    sc, net, plants, suppliers = load_siting(path)
    cov = pipeline.run_coverage(sc, net, plants, suppliers)
    tables, formats = write.export_tables({"coverage": cov}, "en", plants, suppliers)
    assert list(tables)[:2] == ["Coverage (served pairs)", "Pairs not served"]
    assert "Supplier name" in tables["Coverage (served pairs)"].columns
    assert formats["Plant summary"]["Share covered"] == "percent"
