"""Outputs are atomic, staged, confined to the output folder; caches are verified."""
import json

import numpy as np
import pandas as pd
import pytest

from planner import outputs
from planner._io import sha256_file
from planner.network.graph import load_network, save_network


def test_staged_output_replaces_only_on_success(tmp_path):
    final = tmp_path / "out"
    with outputs.staged_output(final) as stage:
        (stage / "a.txt").write_text("first")
    assert (final / "a.txt").read_text() == "first"
    with pytest.raises(RuntimeError), outputs.staged_output(final) as stage:
        (stage / "a.txt").write_text("second, half-written")
        raise RuntimeError("crash while writing")
    assert (final / "a.txt").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging debris


def test_stale_staging_folders_of_dead_runs_are_removed(tmp_path):
    final = tmp_path / "out"
    stale = tmp_path / ".out.staging-999999999-abc"
    stale.mkdir()
    with outputs.staged_output(final) as stage:
        (stage / "x").write_text("x")
    assert not stale.exists()


def test_atomic_csv_leaves_old_file_on_failure(tmp_path):
    path = tmp_path / "t.csv"
    outputs.write_csv(pd.DataFrame({"a": [1]}), path)

    class Boom(pd.DataFrame):
        def to_csv(self, *a, **k):
            raise OSError("disk full")

    with pytest.raises(OSError):
        outputs.write_csv(Boom({"a": [2]}), path)
    assert pd.read_csv(path, encoding="utf-8-sig").a.tolist() == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]


def test_a_second_run_keeps_the_previous_outputs_beside(tmp_path):
    final = tmp_path / "out"
    for text in ("first", "second", "third"):
        with outputs.staged_output(final) as stage:
            (stage / "a.txt").write_text(text)
    assert (final / "a.txt").read_text() == "third"
    assert (tmp_path / "out.previous" / "a.txt").read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "out.previous"]


def test_a_partial_run_keeps_the_parts_it_does_not_rewrite(tmp_path):
    final = tmp_path / "out"
    with outputs.staged_output(final) as stage:
        (stage / "coverage").mkdir()
        (stage / "coverage" / "t.csv").write_text("coverage")
        (stage / "siting").mkdir()
        (stage / "siting" / "s.csv").write_text("old siting")
    with outputs.staged_output(final, keep=(outputs.RunLayout.COVERAGE,)) as stage:
        (stage / "siting").mkdir()
        (stage / "siting" / "s.csv").write_text("new siting")
    assert (final / "coverage" / "t.csv").read_text() == "coverage"
    assert (final / "siting" / "s.csv").read_text() == "new siting"


def test_output_folder_and_files_follow_the_umask(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        final = tmp_path / "out"
        with outputs.staged_output(final) as stage:
            outputs.write_csv(pd.DataFrame({"a": [1]}), stage / "t.csv")
    finally:
        os.umask(old)
    assert stat.S_IMODE(final.stat().st_mode) == 0o755  # mkdtemp alone gives 0o700
    assert stat.S_IMODE((final / "t.csv").stat().st_mode) == 0o644  # mkstemp alone gives 0o600


def test_json_has_no_nan_or_inf(tmp_path):
    path = outputs.write_json(outputs.clean_for_json({"a": np.inf, "b": [np.nan, 1.5]}), tmp_path / "m.json")
    assert json.loads(path.read_text()) == {"a": None, "b": [None, 1.5]}


def test_network_cache_round_trip_and_corruption(tmp_path, grid_network):
    path = tmp_path / "net.npz"
    save_network(grid_network, path)
    back = load_network(path)
    assert back is not None
    pd.testing.assert_frame_equal(back.nodes, grid_network.nodes)
    np.testing.assert_array_equal(back.times("offpeak"), grid_network.times("offpeak"))
    assert back.edges.geometry.geom_equals_exact(grid_network.edges.geometry, 1e-12).all()
    # flip one byte in the middle: the checksum catches it and the caller rebuilds
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert load_network(path) is None
    # a truncated file with a matching (forged) checksum still fails safely
    path.write_bytes(bytes(data[:100]))
    path.with_suffix(".sha256").write_text(sha256_file(path))
    assert load_network(path) is None


def test_excel_cells_from_input_text_stay_text(tmp_path):
    import openpyxl

    names = ["=HYPERLINK(\"http://x\",\"y\")", "=1+1", "@SUM(A1)", "+2", "-3", "http://example.com", "0012", "plain"]
    path = outputs.write_excel({"sites": pd.DataFrame({"name": names, "minutes": np.arange(8.0)})}, tmp_path / "r.xlsx")
    ws = openpyxl.load_workbook(path)["sites"]
    cells = [(c.value, c.data_type) for c in ws["A"][1:]]
    assert cells == [(n, "s") for n in names]
    assert [c.value for c in ws["B"][1:]] == list(range(8))
    assert [p.name for p in tmp_path.iterdir()] == ["r.xlsx"]


def test_excel_cells_hold_each_value_as_its_type(tmp_path):
    """Every kind of value the tables hold, read back cell by cell with openpyxl: numbers as numbers,
    flags as booleans, missing values blank, infinities as the text "inf" (what pandas wrote),
    Chinese text as it is; the header row bold; the attribution sheet last."""
    import datetime

    import openpyxl

    frame = pd.DataFrame({
        "name": ["供应商 A", None, "B"], "n": [1, 2, 3], "minutes": [1.5, np.nan, np.inf],
        "ok": [True, False, True], "mixed": ["不可达", 2.25, np.nan],
        "when": pd.to_datetime(["2026-01-02 03:04:05", None, "2026-12-31 00:00:00"]),
    })
    path = outputs.write_excel({"t": frame}, tmp_path / "r.xlsx", {"t": {"minutes": "minutes"}},
                               attribution_sheet="src")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["t", "src"]
    ws = wb["t"]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows[0] == list(frame.columns) and all(c.font.b for c in ws[1])
    assert rows[1] == ["供应商 A", 1, 1.5, True, "不可达", datetime.datetime(2026, 1, 2, 3, 4, 5)]
    assert rows[2] == [None, 2, None, False, 2.25, None]
    assert rows[3] == ["B", 3, "inf", True, None, datetime.datetime(2026, 12, 31)]
    assert ws["C2"].number_format == "0.0" and ws["B2"].data_type == "n" and ws["D2"].data_type == "b"
    assert "OpenStreetMap" in wb["src"]["A2"].value
