"""Write the three demo notebooks (without outputs) from the cells below.

Run: python scripts/make_notebooks.py — the test suite executes them headless (tests/test_notebooks.py).
"""
from pathlib import Path

import nbformat as nbf

ROOT = Path(__file__).resolve().parents[1]

INTRO = ("{title_en} · {title_zh}\n\n"
         "The text, tables and maps below follow the scenario's `[scenario] language` (`zh` or `en`). "
         "下文的文字、表格和地图按情景文件中 `[scenario] language` 的设置显示中文或英文。")

PARAMETERS = '''# Parameters (papermill-style): the scenario to run and, optionally, a language that overrides its
# [scenario] language ("zh" or "en"; None keeps the scenario's).
SCENARIO = "../scenarios/yizhuang.toml"
LANGUAGE = None'''

SETUP = '''import os
from pathlib import Path

import pandas as pd
from IPython.display import display

# Shared OSM-derived data is read through PLANNER_DATA_DIR (never copied into the project).
if "PLANNER_DATA_DIR" not in os.environ and Path("../../shared/data").is_dir():
    os.environ["PLANNER_DATA_DIR"] = str(Path("../../shared/data").resolve())

import planner as pl

sc = pl.load_scenario(SCENARIO)
if LANGUAGE:
    sc.scenario.language = LANGUAGE
lang = sc.scenario.language             # every text, table and map below is in this language
net = pl.load_network(sc)               # cached under data/processed after the first run
plants, suppliers = pl.load_sites(sc, net)'''

NET_SUMMARY = ("pl.notebook.text(\"net_summary\", lang, nodes=net.n_nodes, edges=len(net.edges), "
               "plants=len(plants),\n                 suppliers=len(suppliers))")


def _setup(title: str, intro: str, intro_args: str, note: str) -> str:
    return (f"{SETUP}\n\ndisplay(pl.notebook.heading(\"{title}\", lang, level=1),\n"
            f"        pl.notebook.text(\"{intro}\", lang{intro_args}),\n"
            f"        pl.notebook.text(\"{note}\", lang))\n{NET_SUMMARY}")


NOTEBOOKS = {
    "01_supplier_coverage.ipynb": [
        ("md", INTRO.format(title_en="# 30-minute supply circle", title_zh="30分钟紧密高效配套圈")),
        ("parameters", PARAMETERS),
        ("code", _setup("coverage_nb_title", "coverage_nb_intro", ", m=sc.coverage.threshold_min",
                        "illustrative_sites")),
        ("code", "cov = pl.run_coverage(sc, net, plants, suppliers)\n"
                 "display(pl.notebook.table(cov.plant_summary, lang, caption=\"coverage\"))\n"
                 "# the package's warnings (data-edge truncation, unreachable trips, assumed road speeds)\n"
                 "pl.notebook.warning_block(cov.warnings, lang, net=net)"),
        ("code", "display(pl.notebook.heading(\"lost_title\", lang), pl.notebook.text(\"lost_intro\", lang, n=10))\n"
                 "pl.notebook.table(cov.lost_at_peak.head(10), lang)"),
        ("code", "display(pl.notebook.heading(\"sheet_breaking_scale\", lang),\n"
                 "        pl.notebook.text(\"breaking_intro\", lang, m=sc.coverage.threshold_min))\n"
                 "pl.notebook.table(cov.breaking_scale, lang, precision=2)"),
        ("code", "profile = \"peak\"\n"
                 "display(pl.notebook.heading(\"coverage_title\", lang),\n"
                 "        pl.notebook.text(\"coverage_map_intro\", lang, p=pl.notebook.words(profile, lang)))\n"
                 "# offline_view embeds Leaflet and its plugins: the map shows without Internet access\n"
                 "display(pl.maps.offline_view(pl.maps.coverage_map(\n"
                 "    plants, suppliers, cov.supplier_times, cov.isochrones_display, profile=profile,\n"
                 "    threshold_min=sc.coverage.threshold_min, language=lang, basemap=sc.maps.basemap)))\n"
                 "# what the map draws: one marker per plant and per supplier\n"
                 "pl.notebook.table(pd.DataFrame({pl.notebook.words(\"plants\", lang): [len(plants)],\n"
                 "                                pl.notebook.words(\"suppliers\", lang): [len(suppliers)]}),\n"
                 "                  lang, caption=\"map_counts\")"),
    ],
    "02_station_siting.ipynb": [
        ("md", INTRO.format(title_en="# Measure 10: hydrogen, high-power charging and PV-storage-charging stations",
                           title_zh="措施10：加氢站、大功率充电站和光储充一体站")),
        ("parameters", PARAMETERS),
        ("code", _setup("siting_nb_title", "siting_nb_intro", "", "illustrative_siting")),
        ("code", "stations = pl.plan_stations(sc, net, plants, suppliers)\n"
                 "pl.notebook.problem_size(stations.problem.info, lang)"),
        ("code", "s = stations.summary()\n"
                 "display(pl.notebook.text(\"solver_result\", lang,\n"
                 "                         status=pl.notebook.status_label(s[\"status\"], lang), objective=s[\"objective\"],\n"
                 "                         bound=s[\"bound\"], gap=100 * s[\"gap\"], seconds=s[\"seconds\"],\n"
                 "                         used=s[\"budget_used\"], budget=s[\"budget\"]))\n"
                 "per_tech = pd.DataFrame({\"technology\": list(s[\"covered_share\"]),\n"
                 "                         pl.notebook.words(\"count\", lang): [s[\"stations\"].get(t, 0) for t in s[\"covered_share\"]],\n"
                 "                         \"share\": list(s[\"covered_share\"].values())})\n"
                 "display(pl.notebook.table(per_tech, lang, caption=\"covered_share\"))\n"
                 "# the package's warnings (station sizing, budget) and the road speeds assumed\n"
                 "pl.notebook.warning_block(stations.sizing.get(\"warnings\", []), lang, net=net)"),
        ("code", "selected = stations.selected_sites()\n"
                 "display(pl.notebook.heading(\"siting_title\", lang))\n"
                 "# offline_view embeds Leaflet and its plugins: the map shows without Internet access\n"
                 "display(pl.maps.offline_view(pl.maps.siting_map(selected, stations.demand_served(), None, language=lang,\n"
                 "                                                 basemap=sc.maps.basemap)))\n"
                 "# the stations the map draws\n"
                 "pl.notebook.table(selected, lang, caption=\"sheet_selected_sites\")"),
    ],
    "03_compare_site_lists.ipynb": [
        ("md", INTRO.format(title_en="# Comparing candidate site lists", title_zh="候选站点方案对比")),
        ("parameters", PARAMETERS + "\nBUDGETS_WAN = {\"A\": 10_000, \"B\": 15_000}   # the two budgets compared (万元; illustrative)"),
        ("code", _setup("compare_nb_title", "compare_nb_intro",
                        ", a=\"A\", b=\"B\", budget_a=BUDGETS_WAN[\"A\"],\n"
                        "                         budget_b=BUDGETS_WAN[\"B\"]", "illustrative_compare")),
        ("code", "lists, plans = {}, {}\n"
                 "for name, budget in BUDGETS_WAN.items():\n"
                 "    sc.siting.budget_wan = budget     # the same scenario at two budgets (万元)\n"
                 "    plans[name] = pl.plan_stations(sc, net, plants, suppliers)\n"
                 "    lists[name] = plans[name].selected_sites().rename(columns={\"capex\": \"capex_wan\"})\n"
                 "status = {k: pl.notebook.status_label(p.summary()[\"status\"], lang) for k, p in plans.items()}\n"
                 "pl.notebook.text(\"list_sizes\", lang, a=\"A\", n_a=len(lists[\"A\"]), s_a=status[\"A\"],\n"
                 "                 b=\"B\", n_b=len(lists[\"B\"]), s_b=status[\"B\"])"),
        ("code", "demand = {t: g[[\"demand_id\", \"weight\", \"geometry\"]] for t, g in plans[\"A\"].problem.demand.items()}\n"
                 "cmp = pl.compare_site_lists(net, lists[\"A\"], lists[\"B\"], demand, sc.siting.technologies,\n"
                 "                            label_a=\"A\", label_b=\"B\")\n"
                 "display(pl.notebook.table(cmp.summary, lang, caption=\"compare_summary\"))\n"
                 "# the package's warnings: the comparison's and the two plans' station sizing\n"
                 "sizing = [w for p in plans.values() for w in p.sizing.get(\"warnings\", [])]\n"
                 "pl.notebook.warning_block(cmp.warnings + sizing, lang)"),
        ("code", "pl.notebook.table(cmp.reassigned.head(10), lang, caption=\"reassigned\", n=10)"),
        ("code", "display(pl.notebook.heading(\"compare_title\", lang))\n"
                 "display(pl.maps.offline_view(cmp.map(language=lang, basemap=sc.maps.basemap)))\n"
                 "# the stations the two maps draw, by status\n"
                 "counts = cmp.status.status.value_counts().rename_axis(\"status\").reset_index(name=pl.notebook.words(\"count\", lang))\n"
                 "pl.notebook.table(counts, lang, caption=\"status_counts\")"),
    ],
}


def main():
    for name, cells in NOTEBOOKS.items():
        nb = nbf.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [nbf.v4.new_markdown_cell(src) if kind == "md" else nbf.v4.new_code_cell(src)
                    for kind, src in cells]
        for cell, (kind, _) in zip(nb.cells, cells):
            if kind == "parameters":  # the cell papermill (or a test) overrides
                cell.metadata["tags"] = ["parameters"]
        nbf.write(nb, ROOT / "notebooks" / name)
        print("wrote", name)


if __name__ == "__main__":
    main()
