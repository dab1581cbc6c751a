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

from planner import pipeline
from planner.scenario import load_scenario

sc = load_scenario("../scenarios/yizhuang.toml")
net = pipeline.load_network(sc)          # cached under data/processed after the first run
plants, suppliers = pipeline.load_sites(sc, net)
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
        ("code", "cov = pipeline.run_coverage(sc, net, plants, suppliers)\ncov.plant_summary.round(3)"),
        ("md", "Suppliers inside the circle off-peak but outside it at peak:"),
        ("code", "cov.lost_at_peak.head(10)"),
        ("md", "Speed sensitivity: the uniform speed scale (× free flow) each plant needs to keep 100 %, 90 % "
               "and 80 % of its suppliers within 30 minutes (above 1 = broken already at free flow)."),
        ("code", "cov.breaking_scale.round(2)"),
        ("code", "from planner.maps import coverage_map\n\n"
                 "coverage_map(plants, suppliers, cov.supplier_times, cov.isochrones, profile=\"peak\",\n"
                 "             threshold_min=sc.coverage.threshold_min, language=\"en\")"),
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
