"""Reliability (issue #6) at the command line: a site list in the wrong coordinate system is
flagged in the run manifest, and the load benchmark's generated scenario is a valid scenario."""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from planner.cli import main
from planner.coords import wgs84_to_gcj02
from tests._helpers import LAT0, LON0, ROOT, write_grid_roads

# A sparse 8 × 8 grid (junctions every 0.01°: ~850 m east-west, ~1,110 m north-south), so the
# ~500 m GCJ-02 offset moves a point well away from every junction. Snapping is allowed far
# enough that the misread points still route: the run must finish, only warn.
SCENARIO = """
[scenario]
name = "coords"
language = "en"
output = "out/{name}"

[profiles.offpeak]
fallback_kmh = 36

[sites.plants]
path = "plants.csv"
coord_system = "wgs84"

[sites.suppliers]
path = "suppliers.csv"
coord_system = "{declared}"

[coverage]
threshold_min = 30
bands_min = [10, 30]
profiles = ["offpeak"]
isochrone_profiles = ["offpeak"]
speed_scales = [1.0]
"""

STEP = 0.01


def _wrong_system_scenario(folder: Path, declared: str, really: str) -> Path:
    """Scenario whose supplier file is written in ``really`` but declared as ``declared``."""
    folder.mkdir(parents=True, exist_ok=True)
    network = write_grid_roads(folder, n=8, step=STEP, length_m=1000.0, max_snap_m=1500)
    pd.DataFrame({"id": ["P1"], "name": ["Plant"], "lon": [LON0 + 3 * STEP], "lat": [LAT0 + 3 * STEP]}).to_csv(
        folder / "plants.csv", index=False)
    # suppliers 10–20 m from interior junctions (true WGS-84), away from the grid's edge
    rng = np.random.default_rng(6)
    c, r = np.meshgrid(np.arange(2, 6), np.arange(2, 6))
    lon = LON0 + c.ravel() * STEP + rng.uniform(1e-4, 2e-4, c.size)
    lat = LAT0 + r.ravel() * STEP + rng.uniform(1e-4, 2e-4, c.size)
    if really == "gcj02":
        lon, lat = wgs84_to_gcj02(lon, lat)
    pd.DataFrame({"id": [f"S{i:02d}" for i in range(c.size)], "name": "supplier", "lon": np.round(lon, 6),
                  "lat": np.round(lat, 6), "plants": "P1"}).to_csv(folder / "suppliers.csv", index=False)
    path = folder / "scenario.toml"
    path.write_text(SCENARIO.replace("{declared}", declared) + network)
    return path


@pytest.mark.parametrize("declared, really", [("wgs84", "gcj02"), ("gcj02", "wgs84")])
def test_site_list_in_the_wrong_coordinate_system_is_flagged_in_the_manifest(tmp_path, capsys, declared, really):
    scenario = _wrong_system_scenario(tmp_path / "s", declared, really)
    code = main(["run", str(scenario), "--quiet"])
    err = capsys.readouterr().err
    assert code == 0, err  # a warning, not an error: the run finishes
    out = scenario.parent / "out" / "coords"
    assert (out / "coverage" / "supplier_times.csv").exists()
    warnings = json.loads((out / "run.json").read_text(encoding="utf-8"))["warnings"]
    hits = [w for w in warnings if "suppliers.csv" in w and f"declared as {declared}" in w]
    assert len(hits) == 1, warnings
    assert f'set coord_system = "{really}"' in hits[0] and "\n" not in hits[0]
    assert not any("plants.csv" in w and "coord_system" in w for w in warnings)  # the right list is quiet


def test_right_coordinate_system_gives_no_warning(tmp_path, capsys):
    scenario = _wrong_system_scenario(tmp_path / "s", "gcj02", "gcj02")
    assert main(["run", str(scenario), "--quiet"]) == 0, capsys.readouterr().err
    warnings = json.loads((scenario.parent / "out" / "coords" / "run.json").read_text(encoding="utf-8"))["warnings"]
    assert not any("coord_system" in w for w in warnings), warnings


def _bench_load():
    spec = importlib.util.spec_from_file_location("bench_load", ROOT / "benchmarks" / "bench_load.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_dumps_toml_reads_back_the_demo_scenario():
    import tomllib

    data = tomllib.loads((ROOT / "scenarios" / "yizhuang.toml").read_text(encoding="utf-8"))
    data["x"] = {"quote\"key": 'a "b" \\ c\n', "list": [1, 2.5, True, "中文"], "t": [{"a": {"b": 1}}, {"a": {}}]}
    assert tomllib.loads(_bench_load().dumps_toml(data)) == data


def test_load_scenario_builder_makes_a_valid_scenario(shared_data, tmp_path, monkeypatch):
    """The load benchmark's scenario at a reduced size, checked by loading it and by
    ``planner run --only siting`` (no timing asserts; the full run is the benchmark)."""
    monkeypatch.setenv("PLANNER_DATA_DIR", str(shared_data))
    bench = _bench_load()
    demo_inputs = {p: p.read_bytes() for p in (ROOT / "scenarios").rglob("*") if p.is_file()}
    path = bench.build_load_scenario(tmp_path / "load", n_suppliers=300, n_extra_candidates=200, time_limit_s=2)
    assert path.parent == (tmp_path / "load").resolve()
    assert {p: p.read_bytes() for p in (ROOT / "scenarios").rglob("*") if p.is_file()} == demo_inputs

    from planner.scenario import load_scenario

    sc, demo = load_scenario(path), load_scenario(ROOT / "scenarios" / "yizhuang.toml")
    assert sc.output_dir == (tmp_path / "load" / "output" / "yizhuang_load").resolve()
    assert sc.cache_dir == demo.cache_dir  # the demo's network cache is reused
    assert sc.network.model_dump(exclude={"cache_dir"}) == demo.network.model_dump(exclude={"cache_dir"})
    assert sc.resolve(sc.sites.plants.path) == demo.resolve(demo.sites.plants.path)
    assert "generated" in sc.siting.candidates
    assert all("generated" in t.candidate_sources for t in sc.siting.technologies.values())
    suppliers = pd.read_csv(path.parent / "suppliers.csv")
    assert len(suppliers) == 300 and suppliers.supplier_id.is_unique
    assert len(pd.read_csv(path.parent / "candidates_generated.csv")) == 200

    code = main(["run", str(path), "--quiet", "--only", "siting"])
    assert code == 0
    manifest = json.loads((sc.output_dir / "run.json").read_text(encoding="utf-8"))
    assert manifest["counts"]["suppliers"] == 300
    problem = json.loads(next(sc.output_dir.rglob("problem.json")).read_text(encoding="utf-8"))
    assert problem["info"]["candidates_read"]["generated"] == 200
    assert manifest["counts"]["siting_candidates"] > 1000
