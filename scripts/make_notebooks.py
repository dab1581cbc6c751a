"""Write the three demo notebooks (without outputs) from the cells below.

Run: python scripts/make_notebooks.py — the test suite executes them headless (tests/test_notebooks.py).
"""
from pathlib import Path

import nbformat as nbf

ROOT = Path(__file__).resolve().parents[1]

SETUP = '''import os
from pathlib import Path

# Shared OSM-derived data is read through PLANNER_DATA_DIR (never copied into the project).
if "PLANNER_DATA_DIR" not in os.environ and Path("../../shared/data").is_dir():
    os.environ["PLANNER_DATA_DIR"] = str(Path("../../shared/data").resolve())

import planner

sc = planner.load_scenario("../scenarios/yizhuang.toml")
net = planner.load_network(sc)          # cached under data/processed after the first run
plants, suppliers = planner.load_sites(sc, net)
print(f"{net.n_nodes:,} junctions, {len(net.edges):,} road edges; {len(plants)} plants, {len(suppliers)} suppliers")'''

NOTEBOOKS = {
    "01_supplier_coverage.ipynb": [
        ("md", "# 30-minute supply circle (30分钟紧密高效配套圈)\n\n"
               "Which suppliers reach the plant they serve within 30 minutes — off-peak, at peak and by truck — "
               "and where does the circle break? Coverage is decided on network travel times (supplier driving "
               "**to** the plant); the isochrone bands on the map are for reading only.\n\n"
               "*The plant and supplier lists of the demo are illustrative, not real data.* "
               "Roads © OpenStreetMap contributors (ODbL)."),
        ("code", SETUP),
        ("code", "cov = planner.run_coverage(sc, net, plants, suppliers)\ncov.plant_summary.round(3)"),
        ("md", "Suppliers inside the circle off-peak but outside it at peak:"),
        ("code", "cov.lost_at_peak.head(10)"),
        ("md", "Speed sensitivity: the uniform speed scale (× free flow) each plant needs to keep 100 %, 90 % "
               "and 80 % of its suppliers within 30 minutes (above 1 = broken already at free flow)."),
        ("code", "cov.breaking_scale.round(2)"),
        ("code", "from planner.maps import coverage_map, offline_view\n\n"
                 "# offline_view embeds Leaflet and its plugins: the map shows without Internet access\n"
                 "offline_view(coverage_map(plants, suppliers, cov.supplier_times, cov.isochrones, profile=\"peak\",\n"
                 "                          threshold_min=sc.coverage.threshold_min, language=sc.scenario.language))"),
    ],
    "02_station_siting.ipynb": [
        ("md", "# Measure 10: hydrogen, high-power charging and PV-storage-charging stations\n\n"
               "One budget, three technologies (加氢站, 大功率充电站, 光储充一体站). Candidates are the OSM parking "
               "areas and fuel stations; hydrogen serves supplier → plant truck flows (a station within a short "
               "detour), charging serves clustered EV demand from POIs (drive **to** the station within the "
               "radius). The optimiser is an exact MILP (HiGHS) with a heuristic start; it reports its bound "
               "and gap.\n\n*Demo plants, suppliers and budget are illustrative.* Roads and POIs © OpenStreetMap contributors (ODbL)."),
        ("code", SETUP),
        ("code", "stations = planner.plan_stations(sc, net, plants, suppliers)\n"
                 "{k: v for k, v in stations.problem.info.items() if not isinstance(v, dict)}"),
        ("code", "s = stations.summary()\n"
                 "print(f\"{s['status']}: objective {s['objective']:.4f}, bound {s['bound']:.4f}, gap {100 * s['gap']:.3f} %, \"\n"
                 "      f\"{s['seconds']:.1f} s; budget used {s['budget_used']:,.0f} of {s['budget']:,.0f} 万元\")\n"
                 "s['stations'], {t: round(v, 3) for t, v in s['covered_share'].items()}"),
        ("code", "stations.selected_sites().drop(columns=\"geometry\").round(3)"),
        ("code", "from planner.maps import offline_view, siting_map\n\n"
                 "# offline_view embeds Leaflet and its plugins: the map shows without Internet access\n"
                 "offline_view(siting_map(stations.selected_sites(), stations.demand_served(), None,\n"
                 "                        language=sc.scenario.language))"),
    ],
    "03_compare_site_lists.ipynb": [
        ("md", "# Comparing candidate site lists\n\n"
               "What does a larger budget buy? List A is the optimal plan at 1.0亿元, list B at 1.5亿元. The "
               "comparison matches the stations (kept / added / removed), evaluates each list's coverage per "
               "technology on the same network and demand, and lists the demand points that change station. "
               "The same works for any two site lists a planner brings (CSV/Excel/GeoPackage): "
               "`planner compare SCENARIO A.csv B.csv`.\n\n*Illustrative demo data.* © OpenStreetMap contributors (ODbL)."),
        ("code", SETUP),
        ("code", "from planner.pipeline.stations import build_problem\n"
                 "from planner.stations.plan import solve_problem\n\n"
                 "problem = build_problem(sc, net, plants, suppliers)\n"
                 "lists = {}\n"
                 "for label, budget in ((\"A\", 10_000), (\"B\", 15_000)):\n"
                 "    problem.budget_wan = budget\n"
                 "    stations = solve_problem(problem, time_limit=sc.siting.time_limit_s, mip_gap=sc.siting.mip_gap)\n"
                 "    lists[label] = stations.selected_sites().rename(columns={\"capex\": \"capex_wan\"})\n"
                 "{k: len(v) for k, v in lists.items()}"),
        ("code", "demand = {t: g[[\"demand_id\", \"weight\", \"geometry\"]] for t, g in problem.demand.items()}\n"
                 "cmp = planner.compare_site_lists(net, lists[\"A\"], lists[\"B\"], demand, sc.siting.technologies,\n"
                 "                                label_a=\"1.0亿\", label_b=\"1.5亿\")\n"
                 "cmp.summary.round(3)"),
        ("code", "cmp.status.status.value_counts()"),
        ("code", "cmp.reassigned.head(10)"),
        ("code", "from planner.maps import offline_view\n\n"
                 "offline_view(cmp.map(language=sc.scenario.language))"),
    ],
}


def main():
    for name, cells in NOTEBOOKS.items():
        nb = nbf.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [nbf.v4.new_markdown_cell(src) if kind == "md" else nbf.v4.new_code_cell(src)
                    for kind, src in cells]
        nbf.write(nb, ROOT / "notebooks" / name)
        print("wrote", name)


if __name__ == "__main__":
    main()
