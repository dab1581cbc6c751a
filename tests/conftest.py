"""Shared fixtures: tiny synthetic road networks with known answers, and the shared data folder.

Plain helpers (no fixtures) are in :mod:`tests._helpers`.
"""
from __future__ import annotations

import pytest

from tests._helpers import CHROMIUM, grid_tables, shared_data_dir


@pytest.fixture(scope="session")
def shared_data():
    d = shared_data_dir()
    if d is None:
        pytest.skip("shared data absent: set PLANNER_DATA_DIR to ../shared/data (see README)")
    return d


@pytest.fixture
def grid_network():
    """5×5 two-way grid, 100 m edges, 36 km/h everywhere → 10 s per edge in every profile."""
    from planner.network.graph import build_network
    from planner.network.speeds import Profile

    nodes, edges = grid_tables()
    prof = {"offpeak": Profile("offpeak", speeds_kmh={}, fallback_kmh=36.0)}
    return build_network(nodes, edges, prof)


@pytest.fixture(scope="module")
def demo(shared_data):
    """The demo scenario with its network, plants and suppliers, read through the shared data."""
    import os

    from planner import pipeline
    from planner.scenario import load_scenario
    from tests._helpers import ROOT

    old = os.environ.get("PLANNER_DATA_DIR")
    os.environ["PLANNER_DATA_DIR"] = str(shared_data)
    try:
        sc = load_scenario(ROOT / "scenarios" / "yizhuang.toml")
        net = pipeline.load_network(sc)
        plants, suppliers = pipeline.load_sites(sc, net)
    finally:
        if old is None:
            os.environ.pop("PLANNER_DATA_DIR", None)
        else:
            os.environ["PLANNER_DATA_DIR"] = old
    return sc, net, plants, suppliers


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (driven by Playwright) for the browser tests of one module; skips when
    Chromium is not installed, fails when Playwright is missing."""
    if CHROMIUM is None:
        pytest.skip("headless Chromium not installed (Debian: apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Chromium is installed but the browser tests need Playwright: "
                    "pip install playwright (it drives the system Chromium; no download)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM,
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                    "--disable-component-update", "--no-first-run"])
        yield b
        b.close()
