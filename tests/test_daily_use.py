"""Daily use on the tiny synthetic scenarios: lists without ids, a silent ``--quiet``, the outputs table."""
import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from planner.cli import main
from tests._helpers import make_scenario, siting_scenario

ROOT = Path(__file__).resolve().parents[1]


def test_a_list_without_id_column_is_numbered_by_row_with_a_warning(tmp_path, capsys):
    path = make_scenario(tmp_path / "tiny")
    sup = pd.read_csv(tmp_path / "tiny" / "suppliers.csv")
    sup.drop(columns="id").to_csv(tmp_path / "tiny" / "suppliers.csv", index=False)
    assert main(["run", str(path), "--quiet"]) == 0, capsys.readouterr().err
    out = tmp_path / "tiny" / "out" / "tiny"
    warnings = json.loads((out / "run.json").read_text(encoding="utf-8"))["warnings"]
    no_id = [w for w in warnings if "no id column" in w]
    assert len(no_id) == 1 and no_id[0].startswith("suppliers.csv: ") and "plants.csv" not in no_id[0]
    times = pd.read_csv(out / "coverage" / "supplier_times.csv", encoding="utf-8-sig")
    # header = row 1: the three suppliers are rows 2-4, in file order ("near" nearest the plant)
    got = times[times.profile == "offpeak"].set_index("supplier_id").minutes.sort_index()
    assert list(got.index) == ["supplier_2", "supplier_3", "supplier_4"]
    assert got.is_monotonic_increasing


def test_a_list_with_ids_gets_no_id_warning(tmp_path, capsys):
    path = make_scenario(tmp_path / "tiny")
    assert main(["run", str(path), "--quiet"]) == 0, capsys.readouterr().err
    run = json.loads((tmp_path / "tiny" / "out" / "tiny" / "run.json").read_text(encoding="utf-8"))
    assert not [w for w in run["warnings"] if "no id column" in w]


def _fresh_python(code_or_args, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, *code_or_args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


def test_quiet_run_with_siting_prints_nothing_not_even_the_solver_banner(tmp_path):
    # control: in a fresh process HiGHS prints its banner when the first instance is built, so the
    # run below would show it if the solver were not silenced
    bare = _fresh_python(["-c", "import highspy; highspy.Highs()"], tmp_path)
    assert "HiGHS" in bare.stdout
    path = siting_scenario(tmp_path / "tiny")
    res = _fresh_python(["-m", "planner.cli", "run", str(path), "--quiet"], tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout == "" and res.stderr == ""
    assert (tmp_path / "tiny" / "out" / "tiny" / "siting" / "selected_sites.csv").exists()  # the solver ran


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_lines_on_a_terminal_and_plain_lines_elsewhere(monkeypatch):
    from planner.pipeline import _run

    monkeypatch.setattr(_run, "BAR_DELAY_S", 0.2)
    for stream, live in ((io.StringIO(), False), (_Terminal(), True)):
        monkeypatch.setattr(sys, "stdout", stream)
        r = _run.Run(quiet=False)
        with r.step("slow step"):
            time.sleep(1.0)
        with r.step("fast step"):
            pass
        text = stream.getvalue()
        assert text.startswith("… slow step\n") and "\n… fast step\n✓ fast step" in text
        # the slow step's duration, to 0.1 s (at least the 1 s slept; more on a loaded machine)
        took = re.search(r"✓ slow step \((\d+\.\d) s\)\n… fast step", text)
        assert took and 1.0 <= float(took.group(1)) < 5.0
        # a live line (carriage returns, elapsed time since the step began) only on a terminal
        assert ("\r" in text) == live and ("slow step: 00:00 elapsed" in text) == live
        assert "fast step:" not in text  # steps shorter than BAR_DELAY_S get no live line
    quiet = io.StringIO()
    monkeypatch.setattr(sys, "stdout", quiet)
    r = _run.Run(quiet=True)
    with r.step("slow step"):
        time.sleep(0.5)
    r.warn("something")
    assert quiet.getvalue() == "" and r.warnings == ["something"]


def _readme_output_paths() -> set[str]:
    """Paths in backticks in the first column of the README's "What the demo produces" table."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## What the demo produces", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {p for row in rows for p in re.findall(r"`([^`]+)`", row.split(" | ")[0])}


def test_readme_lists_every_file_a_run_writes(tmp_path):
    from planner.outputs import RunLayout

    path = siting_scenario(tmp_path / "tiny")
    assert main(["run", str(path), "--quiet"]) == 0
    out = tmp_path / "tiny" / "out" / "tiny"
    written = sorted(str(p.relative_to(out)).replace(os.sep, "/") for p in out.rglob("*") if p.is_file())
    assert len(written) >= 20 and "siting/siting_map.html" in written and "coverage/coverage_map.html" in written
    listed = _readme_output_paths()
    assert not [p for p in written if p not in listed], "files a run writes but the README does not list"
    layout = [str(v).replace(os.sep, "/") for k, v in vars(RunLayout).items() if k.isupper() and Path(v).suffix]
    assert not [p for p in layout if p not in listed], "RunLayout files the README does not list"
    maps_readme = (ROOT / "maps" / "README.md").read_text(encoding="utf-8")
    assert "--maps-dir" not in maps_readme
    assert all(f"`{p}`" in maps_readme for p in written if p.endswith(".html"))
