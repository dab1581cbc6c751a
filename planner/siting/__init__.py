"""Facility siting models on travel-time matrices (see ``docs/DESIGN.md``, section Siting).

Every model is built with ``from_cost_matrix`` (or ``from_geodataframe`` / the flow
constructors) and solved with ``.solve(time_limit=60, mip_gap=1e-4,
method="auto"|"exact"|"heuristic")``, returning a :class:`SitingResult`
(:class:`MixResult` for :class:`TechnologyMix`). Formulations are in the class docstrings.

:class:`MilpModel` (with :class:`MilpOutcome`) is the one way to HiGHS: the models here and
other planner code (e.g. the battery dispatch of :mod:`planner.stations.operation`) build their
MILPs / LPs with it.
"""
from ._milp import MilpModel, MilpOutcome
from .coverage import LSCP, MCLP, CapacitatedCoverage
from .decay import Decay
from .flow import FRLM, FlowCapture
from .median import PCenter, PMedian
from .mix import TechnologyData, TechnologyMix
from .result import MixResult, SitingResult

__all__ = ["MCLP", "LSCP", "CapacitatedCoverage", "PMedian", "PCenter", "FlowCapture", "FRLM",
           "TechnologyData", "TechnologyMix", "Decay", "SitingResult", "MixResult",
           "MilpModel", "MilpOutcome"]
