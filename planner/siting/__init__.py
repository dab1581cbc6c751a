"""Facility siting models on travel-time matrices (see ``docs/DESIGN.md``, section Siting).

Every model is built with ``from_cost_matrix`` (or ``from_geodataframe``) and solved with
``.solve(time_limit=60, mip_gap=1e-4, method="auto"|"exact"|"heuristic")``, returning a
:class:`SitingResult` (:class:`MixResult` for the technology mix).
"""
from .coverage import LSCP, MCLP, CapacitatedCoverage
from .decay import Decay
from .median import PCenter, PMedian
from .result import MixResult, SitingResult

__all__ = ["MCLP", "LSCP", "CapacitatedCoverage", "PMedian", "PCenter", "Decay",
           "SitingResult", "MixResult"]
