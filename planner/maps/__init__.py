"""Folium maps of the planner's results, offline HTML and PNG export.

Builders never recompute: they draw result tables (coverage, siting, comparison).

- :func:`base_map` – tiles or road-network background, attribution, controls
- :func:`coverage_map`, :func:`siting_map`, :func:`compare_map` – result maps
- :func:`save_map` – atomic HTML, self-contained when ``offline=True``
- :func:`export_png` – PNG screenshot with headless Chromium
- :func:`offline_view` – show a map in Jupyter without Internet access
- :func:`label`, :func:`column_headers` – English / Chinese wording
- :func:`speed_note` – the legend line on roads driven at assumed speeds
- :func:`restriction_frame` – restriction areas (e.g. truck bans) for the maps' ``restrictions=``
"""
from planner.maps.base import BASEMAPS, base_map
from planner.maps.compare import compare_map
from planner.maps.coverage import coverage_map
from planner.maps.labels import column_headers, label, speed_note
from planner.maps.offline import export_png, offline_view, save_map
from planner.maps.restrictions import restriction_frame
from planner.maps.siting import siting_map

__all__ = ["BASEMAPS", "base_map", "coverage_map", "siting_map", "compare_map", "save_map",
           "export_png", "offline_view", "label", "column_headers", "restriction_frame", "speed_note"]
