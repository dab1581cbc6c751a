"""Comparing candidate site lists (scenario A vs B) and comparing two run output folders.

Two questions a planner asks when a colleague sends "version B" of a station list:

1. *What changed?* :func:`match_sites` pairs the sites of list A with those of list B — by id
   first, then the still unmatched ones by distance (same technology, nearest first, one to one,
   within ``within_m``) — and labels every site ``kept``, ``moved`` (same id, now farther than
   ``within_m`` from where it was), ``added`` (only in B) or ``removed`` (only in A).
2. *What does it change?* :func:`compare_site_lists` evaluates both lists on the same road
   network and demand (:func:`evaluate_list`): stations and capex per technology, demand weight
   within each technology's radius, the share of demand covered and its change, the demand
   points whose nearest station changes, and — when the lists contain plants — the
   30-minute supplier circle around them.

:func:`compare_runs` compares two run output folders written by ``planner run`` (selected
sites, plant coverage, budget); the ``planner compare`` command is
:func:`planner.pipeline.compare.compare_cli`.

Modules by concern: :mod:`~planner.compare.lists` (reading a list), :mod:`~planner.compare.match`
(pairing sites), :mod:`~planner.compare.evaluate` (one list on the network),
:mod:`~planner.compare.site_lists` (two lists), :mod:`~planner.compare.runs` (two run folders).

Travel times are network times from each demand point **to** a station (``direction="to"``:
Dijkstra from the station on the reversed graph), as for suppliers driving to a plant. Freight
(hydrogen) flows are served by the optimiser's detour rule instead
(:func:`planner.stations.demand.flow_candidate_pairs`): a station serves flow ``o → d`` when the
detour ``t(o→k) + t(k→d) - t(o→d)`` is within the radius, so a list of the run's own stations
reports the shares the run reported.
Everything is a pure function on (Geo)DataFrames except :func:`read_site_list` and
:func:`compare_runs`, which read files; :func:`planner.pipeline.write.write_comparison` writes.
"""
from __future__ import annotations

from planner.compare._common import STATUSES, normalise_technology
from planner.compare.evaluate import ListEvaluation, evaluate_list, supplier_circle
from planner.compare.lists import read_site_list
from planner.compare.match import match_sites
from planner.compare.runs import RunComparison, compare_runs
from planner.compare.site_lists import ListComparison, compare_site_lists
from planner.vocab import STATION_TECHNOLOGIES, TECHNOLOGIES

__all__ = [
    "TECHNOLOGIES",
    "STATION_TECHNOLOGIES",
    "STATUSES",
    "read_site_list",
    "normalise_technology",
    "match_sites",
    "evaluate_list",
    "supplier_circle",
    "compare_site_lists",
    "compare_runs",
    "ListEvaluation",
    "ListComparison",
    "RunComparison",
]
