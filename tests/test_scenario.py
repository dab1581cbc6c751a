from pathlib import Path

import pytest

from planner.errors import ScenarioError
from planner.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]

MINIMAL = """
[scenario]
name = "t"
[network]
source = "layer"
path = "${PLANNER_DATA_DIR}/roads.gpkg"
"""


def _write(tmp_path, text, name="s.toml"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_demo_scenario_is_valid():
    sc = load_scenario(ROOT / "scenarios" / "yizhuang.toml")
    assert sc.coverage.threshold_min == 30
    assert set(sc.profiles) == {"offpeak", "peak", "truck", "truck_night", "truck_nev", "truck_nonbj", "autonomous",
                                "autonomous_open"}
    # the night truck drives in the 23:00-06:00 window the 5th-Ring ban leaves open (parameters.md §2)
    night = sc.profiles["truck_night"]
    ban = {r.name: r for r in sc.restrictions}["truck_ban_5th_ring"]
    assert night.vehicle == "truck" and night.restrictions == ["truck_ban_5th_ring"]
    assert not ban.hours[0] <= night.departure_hour < ban.hours[1]
    assert sc.hourly.enabled and len(sc.hourly.hours) == 24
    assert sc.output_dir == (ROOT / "output" / "yizhuang").resolve()


def test_paths_resolve_against_file_and_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PLANNER_DATA_DIR", str(tmp_path / "shared"))
    sc = load_scenario(_write(tmp_path, MINIMAL))
    assert sc.resolve(sc.network.path) == (tmp_path / "shared" / "roads.gpkg").resolve()
    assert sc.resolve("x/y.csv") == (tmp_path / "x" / "y.csv").resolve()


@pytest.mark.parametrize(
    "extra, key, message",
    [
        ("[coverage]\nthreshhold_min = 30\n", "coverage.threshhold_min", "unknown key"),
        ("[coverage]\nthreshold_min = \"thirty\"\n", "coverage.threshold_min", "valid number"),
        ("[coverage]\nbands_min = [20, 10]\n", "coverage.bands_min", "ascending"),
        ("[coverage]\nprofiles = [\"rush\"]\n", "", "unknown profile 'rush'"),
        ("[maps]\nbasemap = \"google\"\n", "maps.basemap", "'osm'"),
        ("[scenario2]\nx = 1\n", "scenario2", "unknown key"),
        ("[profiles.truck]\nrestrictions = [\"nope\"]\n", "", "unknown restriction 'nope'"),
        # validated and then ignored before: a decay is refused, not silently dropped
        ("[siting]\nbudget_wan = 100\ndecay = \"linear\"\n[siting.technologies.hpc]\ncapex_wan = 1\nradius_min = 5\n",
         "siting.decay", "not supported by the station plan"),
        ("[siting]\nbudget_wan = 100\ncapex_model = \"lp\"\n[siting.technologies.hpc]\ncapex_wan = 1\nradius_min = 5\n",
         "siting.capex_model", "'flat'"),
        ("[siting]\nbudget_wan = 100\n[siting.sizing]\nv2g = true\n[siting.technologies.hpc]\ncapex_wan = 1\n"
         "radius_min = 5\n", "siting.sizing", "v2g_price_yuan_kwh"),
        ("[siting]\nbudget_wan = 100\n[siting.sizing]\nflexible_share = 1.5\n[siting.technologies.hpc]\n"
         "capex_wan = 1\nradius_min = 5\n", "siting.sizing.flexible_share", "less than or equal"),
    ],
)
def test_invalid_scenarios_name_the_key(tmp_path, extra, key, message):
    path = _write(tmp_path, MINIMAL + extra)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    text = str(err.value)
    assert "\n" not in text and str(path) in text and key in text and message in text


def test_missing_required_and_syntax_errors(tmp_path):
    with pytest.raises(ScenarioError, match=r"scenario.name: required key is missing"):
        load_scenario(_write(tmp_path, "[scenario]\n[network]\npath='x'\n"))
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(_write(tmp_path, "[scenario\nname='x'", name="bad.toml"))
    with pytest.raises(ScenarioError, match="not found"):
        load_scenario(tmp_path / "absent.toml")
    with pytest.raises(ScenarioError, match="needs network.path"):
        load_scenario(_write(tmp_path, "[scenario]\nname='x'\n[network]\nsource='layer'\n", name="n.toml"))
