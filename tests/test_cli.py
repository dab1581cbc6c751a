"""The command line on a tiny synthetic scenario: results, bad input, safety, reproducibility."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from planner.cli import main
from tests._helpers import LAT0, LON0, make_scenario


@pytest.fixture
def tiny(tmp_path):
    return make_scenario(tmp_path / "tiny")


def _run(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_run_writes_tables_maps_and_manifest(tiny, capsys):
    code, out, err = _run(["run", str(tiny), "--quiet"], capsys)
    assert code == 0, err
    d = tiny.parent / "out" / "tiny"
    times = pd.read_csv(d / "coverage" / "supplier_times.csv", encoding="utf-8-sig")
    t = times[times.profile == "offpeak"].set_index("supplier_id").minutes
    # S1 is 3 blocks (30 s) from the plant, S2 7 blocks (70 s), S3 10 blocks (100 s)
    assert t.to_dict() == pytest.approx({"S1": 0.5, "S2": 70 / 60, "S3": 100 / 60})
    summary = pd.read_csv(d / "coverage" / "plant_summary.csv", encoding="utf-8-sig").set_index("profile")
    assert summary.loc["offpeak", "suppliers_covered"] == 1
    assert summary.loc["offpeak", "weighted_share_covered"] == pytest.approx(0.5)
    iso = gpd.read_file(d / "coverage" / "isochrones.gpkg")
    assert sorted(iso.minutes.unique()) == [0.5, 1.0] and iso.crs.to_epsg() == 4326
    assert iso["display"].all()  # the display version; the exact one beside it, same rows
    exact = gpd.read_file(d / "coverage" / "isochrones_exact.gpkg", layer="isochrones_exact")
    assert (exact[["plant_id", "profile", "minutes"]].to_numpy() == iso[["plant_id", "profile", "minutes"]].to_numpy()).all()
    assert "display" not in exact and (d / "coverage" / "fit_area_exact.gpkg").is_file()
    manifest = json.loads((d / "run.json").read_text())
    assert set(manifest["inputs"]) >= {"scenario", "plants", "suppliers"}
    assert all(len(v["sha256"]) == 64 for v in manifest["inputs"].values())
    assert manifest["versions"]["numpy"] and manifest["counts"]["suppliers"] == 3
    html = (d / "coverage" / "coverage_map.html").read_text()
    assert "<script>alert(" not in html and "OpenStreetMap contributors" in html
    assert (d / "results.xlsx").exists() and (d / "results.gpkg").exists()
    sheets = pd.read_excel(d / "results.xlsx", sheet_name=None)
    assert {"Coverage (served pairs)", "Plant summary", "Attribution"} <= set(sheets)
    assert "Minutes" in sheets["Coverage (served pairs)"].columns  # readable headers in the scenario language


def test_same_scenario_gives_identical_tables(tiny, capsys):
    d = tiny.parent / "out" / "tiny"
    assert main(["run", str(tiny), "--quiet"]) == 0
    first = {p.name: p.read_bytes() for p in (d / "coverage").glob("*.csv")}
    assert main(["run", str(tiny), "--quiet"]) == 0
    second = {p.name: p.read_bytes() for p in (d / "coverage").glob("*.csv")}
    assert first == second and len(first) >= 4


def _break(folder: Path, what: str):
    sup = folder / "suppliers.csv"
    df = pd.read_csv(sup)
    if what == "malformed":
        sup.write_bytes(b'id,name,lon,lat\n"S1,unclosed quote,116.5,39.78\n')
    elif what == "missing_column":
        df.drop(columns="lat").to_csv(sup, index=False)
    elif what == "empty":
        sup.write_text("")
    elif what == "blank_coordinate":
        df.loc[1, "lon"] = None
        df.to_csv(sup, index=False)
    elif what == "outside_area":
        df.loc[2, ["lon", "lat"]] = [117.5, 39.9]
        df.to_csv(sup, index=False)
    elif what == "swapped":
        df[["lon", "lat"]] = df[["lat", "lon"]].to_numpy()
        df.to_csv(sup, index=False)
    elif what == "duplicate_ids":
        df.loc[2, "id"] = "S1"
        df.to_csv(sup, index=False)
    elif what == "unknown_profile":
        text = (folder / "scenario.toml").read_text().replace('profiles = ["offpeak", "peak"]', 'profiles = ["rush"]')
        (folder / "scenario.toml").write_text(text)
    elif what == "unknown_key":
        (folder / "scenario.toml").write_text((folder / "scenario.toml").read_text() + "\n[coverage2]\nx = 1\n")
    elif what == "truncated_roads":
        data = (folder / "roads.gpkg").read_bytes()
        (folder / "roads.gpkg").write_bytes(data[: len(data) // 4])
    elif what == "plant_off_network":
        pd.DataFrame({"id": ["P1"], "name": ["x"], "lon": [LON0 + 0.03], "lat": [LAT0]}).to_csv(folder / "plants.csv", index=False)
    elif what == "negative_weight":
        df.loc[0, "deliveries"] = -1
        df.to_csv(sup, index=False)


BAD = [
    ("malformed", "suppliers.csv"),
    ("missing_column", "suppliers.csv"),
    ("empty", "suppliers.csv"),
    ("blank_coordinate", "suppliers.csv"),
    ("outside_area", "suppliers.csv"),
    ("swapped", "swap"),
    ("duplicate_ids", "S1"),
    ("unknown_profile", "rush"),
    ("unknown_key", "coverage2"),
    ("truncated_roads", "roads.gpkg"),
    ("plant_off_network", "P1"),
    ("negative_weight", "suppliers.csv"),
]


@pytest.mark.parametrize("what, named", BAD, ids=[b[0] for b in BAD])
def test_bad_input_gives_one_line_error_and_no_output(tmp_path, capsys, what, named):
    scenario = make_scenario(tmp_path / "s")
    _break(scenario.parent, what)
    code, out, err = _run(["run", str(scenario), "--quiet"], capsys)
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err and named.lower() in lines[0].lower()
    assert not (scenario.parent / "out").exists()


def test_debug_shows_the_traceback(tmp_path):
    scenario = make_scenario(tmp_path / "s")
    _break(scenario.parent, "empty")
    from planner.errors import InputError

    with pytest.raises(InputError):
        main(["--debug", "run", str(scenario), "--quiet"])


def test_a_failed_run_keeps_the_previous_outputs(tiny, capsys):
    assert main(["run", str(tiny), "--quiet"]) == 0
    manifest = tiny.parent / "out" / "tiny" / "run.json"
    before = manifest.read_bytes()
    _break(tiny.parent, "blank_coordinate")
    assert main(["run", str(tiny), "--quiet"]) == 2
    assert manifest.read_bytes() == before


def test_matrix_and_network_commands(tiny, capsys, tmp_path):
    pts = tmp_path / "pts.csv"
    pd.DataFrame({"id": ["a", "b"], "lon": [LON0, LON0 + 0.002], "lat": [LAT0, LAT0]}).to_csv(pts, index=False)
    out = tmp_path / "m.csv"
    assert main(["matrix", str(tiny), "--origins", str(pts), "--destinations", str(pts), "--out", str(out)]) == 0
    m = pd.read_csv(out, encoding="utf-8-sig")
    assert list(m.columns) == ["origin_id", "destination_id", "minutes"]
    assert m.set_index(["origin_id", "destination_id"]).minutes[("a", "b")] == pytest.approx(20 / 60)
    gpkg = tmp_path / "net.gpkg"
    assert main(["network", str(tiny), "--out", str(gpkg)]) == 0
    e = gpd.read_file(gpkg, layer="edges")
    assert {"u", "v", "length_m", "road_class", "repaired", "travel_time_s_offpeak", "travel_time_s_peak"} <= set(e.columns)


def test_killing_a_run_while_it_writes_keeps_previous_outputs(tiny):
    env = dict(os.environ)
    cmd = [sys.executable, "-m", "planner.cli", "run", str(tiny), "--quiet"]
    assert subprocess.run(cmd, env=env, capture_output=True).returncode == 0
    final = tiny.parent / "out" / "tiny"
    before = {p.relative_to(final): p.read_bytes() for p in final.rglob("*") if p.is_file()}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    killed = False
    while time.time() < deadline and proc.poll() is None:
        stages = list(final.parent.glob(".tiny.staging-*"))
        if stages and any(stages[0].rglob("*")):
            proc.send_signal(signal.SIGKILL)  # mid-write: the staging folder holds some files
            killed = True
            break
        time.sleep(0.005)
    proc.wait()
    assert killed, "the run finished before it could be killed mid-write"
    after = {p.relative_to(final): p.read_bytes() for p in final.rglob("*") if p.is_file()}
    assert after == before
    # the next run cleans the debris up and succeeds
    assert subprocess.run(cmd, env=env, capture_output=True).returncode == 0
    assert not list(final.parent.glob(".tiny.staging-*"))


def test_a_partial_run_keeps_the_other_results_and_the_previous_outputs(tiny, capsys):
    d = tiny.parent / "out" / "tiny"
    assert main(["run", str(tiny), "--quiet"]) == 0
    times = (d / "coverage" / "supplier_times.csv").read_bytes()
    assert main(["run", str(tiny), "--quiet", "--only", "siting"]) == 0
    # the coverage results of the full run are still there, and the full run is kept beside
    assert (d / "coverage" / "supplier_times.csv").read_bytes() == times
    assert (d.parent / "tiny.previous" / "coverage" / "supplier_times.csv").read_bytes() == times
    manifest = json.loads((d / "run.json").read_text())
    assert manifest["only"] == "siting" and manifest["kept_from_previous_run"] == ["coverage"]


def test_run_writes_where_asked(tiny, tmp_path, capsys):
    target = tmp_path / "elsewhere" / "mine"
    assert main(["run", str(tiny), "--quiet", "--only", "coverage", "--out", str(target)]) == 0
    assert (target / "coverage" / "supplier_times.csv").is_file() and (target / "run.json").is_file()
    assert not (tiny.parent / "out").exists()
