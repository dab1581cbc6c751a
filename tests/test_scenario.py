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


@pytest.mark.parametrize(
    "extra, key, suggestion",
    [
        ("[coverage]\nthreshhold_min = 30\n", "coverage.threshhold_min", "threshold_min"),
        ("[network.columns]\nfrom_nod = 'a'\n", "network.columns.from_nod", "from_node"),
        ("[profiles.peak]\ndepartur_hour = 8\n", "profiles.peak.departur_hour", "departure_hour"),
        ("[[restrictions]]\nname = 'r'\npath = 'r.geojson'\nhour = [6, 23]\n", "restrictions.0.hour", "hours"),
        ("[sites.plants]\npath = 'p.csv'\ngeocoder_ulr = 'x'\n", "sites.plants.geocoder_ulr", "geocoder_url"),
        ("[siting]\nbudget_wan = 1\nstudy_area = { path = 'a.geojson', margin = 5 }\n"
         "[siting.technologies.h2]\ncapex_wan = 1\nradius_min = 5\n", "siting.study_area.margin", "margin_m"),
        ("[scenaro]\nname = 'x'\n", "scenaro", "scenario"),
    ],
)
def test_unknown_keys_suggest_the_closest_key_of_their_table(tmp_path, extra, key, suggestion):
    with pytest.raises(ScenarioError) as err:
        load_scenario(_write(tmp_path, MINIMAL + extra))
    text = str(err.value)
    assert f"{key}: unknown key (did you mean '{suggestion}'?)" in text, text


def test_unknown_key_far_from_every_key_gets_no_suggestion(tmp_path):
    with pytest.raises(ScenarioError) as err:
        load_scenario(_write(tmp_path, MINIMAL + "[coverage]\nzzzz = 1\n"))
    assert str(err.value).endswith("coverage.zzzz: unknown key")


def test_all_problems_of_a_file_are_reported_together_on_one_line(tmp_path):
    extra = ("[coverage]\nthreshhold_min = 30\nbuffer_m = 'wide'\n[maps]\nbasemap = 'google'\n"
             "[report]\npfd = false\n")
    path = _write(tmp_path, MINIMAL + extra)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    text = str(err.value)
    assert "\n" not in text and text.startswith(f"{path}: 4 problems: ")
    for part in ("coverage.threshhold_min: unknown key (did you mean 'threshold_min'?)",
                 "coverage.buffer_m: Input should be a valid number", "maps.basemap: Input should be 'osm'",
                 "report.pfd: unknown key (did you mean 'pdf'?)"):
        assert part in text, part
    assert text.split(" problems: ")[1].startswith(f"{err.value.key}: ")  # .key names the first one


def test_many_problems_are_capped_with_a_count(tmp_path):
    from planner.scenario import MAX_PROBLEMS

    bad = "".join(f"bogus_key_{i} = 1\n" for i in range(MAX_PROBLEMS + 3))
    with pytest.raises(ScenarioError) as err:
        load_scenario(_write(tmp_path, MINIMAL + "[coverage]\n" + bad))
    text = str(err.value)
    assert f"{MAX_PROBLEMS + 3} problems: " in text and "(+3 more)" in text
    assert text.count("unknown key") == MAX_PROBLEMS


def test_keys_name_user_tables_and_not_the_union_member_tried(tmp_path):
    tech = "[siting.technologies.H2]\ncapex_wan = 1\nradius_min = 5\n"
    with pytest.raises(ScenarioError) as err:  # a user's table name with a capital stays in the key
        load_scenario(_write(tmp_path, MINIMAL + "[siting]\nbudget_wan = 1\n" + tech + "capx_wan = 2\n"))
    assert "siting.technologies.H2.capx_wan: unknown key (did you mean 'capex_wan'?)" in str(err.value)
    with pytest.raises(ScenarioError) as err:  # study_area is a box or a table: no "StudyArea" in the key
        load_scenario(_write(tmp_path, MINIMAL + "[siting]\nbudget_wan = 1\nstudy_area = { path = 'a', margin = 5 }\n"
                             + tech, name="u.toml"))
    assert "StudyArea" not in str(err.value) and "siting.study_area.margin: unknown key" in str(err.value)
