"""The demo notebooks execute headless, top to bottom, without errors, and show their maps offline."""
import html
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from planner.maps.offline import external_references

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path, shared_data, monkeypatch):
    monkeypatch.setenv("PLANNER_DATA_DIR", str(shared_data))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    # the last cell of every notebook shows a map
    last = nb.cells[-1].outputs
    assert any("leaflet" in str(o.get("data", {})).lower() for o in last), "no map in the last cell"
    # ... and shows it offline: the frame's page loads no script or style from the network
    frames = [html.unescape(h.split('srcdoc="', 1)[1].split('"', 1)[0])
              for o in last for h in [o.get("data", {}).get("text/html", "")] if 'srcdoc="' in h]
    assert frames and all("L.map(" in f and not external_references(f) for f in frames)


def test_there_are_three_notebooks():
    assert [p.name for p in NOTEBOOKS] == ["01_supplier_coverage.ipynb", "02_station_siting.ipynb",
                                          "03_compare_site_lists.ipynb"]
