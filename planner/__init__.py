"""Yizhuang supply-radius and charging-infrastructure planner.

The front door: load a scenario and run it, or call each step on its own::

    import planner

    sc = planner.load_scenario("scenarios/yizhuang.toml")
    planner.run(sc)                                    # everything, into sc.output_dir
    net = planner.load_network(sc)                     # the routable road network (cached)
    plants, suppliers = planner.load_sites(sc, net)
    circle = planner.run_coverage(sc, net, plants, suppliers)   # the 30-minute supply circle
    stations = planner.plan_stations(sc, net, plants, suppliers)  # measure 10 station plan
    nodes, snap_m = planner.snap(net, lon, lat)
    minutes = planner.travel_times(net, nodes, nodes, profile="offpeak") / 60
    planner.maps.coverage_map(...)                     # the map builders (:mod:`planner.maps`)
    planner.notebook.heading("coverage", sc.scenario.language)  # notebook text in the scenario language

Errors are typed (:class:`PlannerError` and subclasses); errors about the caller's input are
also :class:`ValueError`.
"""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from planner import maps, notebook
from planner.compare import compare_runs, compare_site_lists
from planner.errors import InputError, NetworkError, PlannerError, ScenarioError, SnapError, SolverError
from planner.network.graph import RoadNetwork
from planner.pipeline import load_network, load_sites, run, run_coverage
from planner.pipeline.stations import plan_stations
from planner.routing import snap, travel_times
from planner.scenario import Scenario, load_scenario
from planner.technology import Technology

try:
    __version__ = version("yizhuang-planner")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "__version__",
    "load_scenario",
    "Scenario",
    "Technology",
    "run",
    "load_network",
    "load_sites",
    "run_coverage",
    "plan_stations",
    "compare_site_lists",
    "compare_runs",
    "snap",
    "travel_times",
    "RoadNetwork",
    "maps",
    "notebook",
    "PlannerError",
    "InputError",
    "ScenarioError",
    "NetworkError",
    "SnapError",
    "SolverError",
]
