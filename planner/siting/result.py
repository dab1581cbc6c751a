"""Result objects returned by every siting model's ``solve``."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["SitingResult", "MixResult", "relative_gap"]


def relative_gap(objective: float, bound: float) -> float:
    """``|bound - objective| / max(|objective|, 1e-9)``; ``nan`` when either is unknown."""
    if objective is None or bound is None or not np.isfinite(objective) or not np.isfinite(bound):
        return float("nan")
    diff = abs(bound - objective)
    if diff <= 1e-9 * max(1.0, abs(objective)):
        return 0.0
    return float(diff / max(abs(objective), 1e-9))


@dataclass
class SitingResult:
    """Solution of one siting model.

    Attributes
    ----------
    selected : ndarray of int
        Chosen candidate positions (columns of the cost matrix), sorted; includes required
        facilities.
    selected_ids : ndarray
        The same candidates as ids (the candidate ids given to the model, else positions).
    objective : float
        Objective value in the model's units (covered weight, weighted minutes, ...).
    bound : float
        Best proven bound on the optimum (upper bound when ``sense == "max"``, lower bound
        when ``"min"``); ``nan`` when none is known.
    gap : float
        ``|bound - objective| / |objective|``.
    status : str
        ``"optimal"`` (proven within ``mip_gap``), ``"time_limit"`` (best solution found when
        the time ran out), ``"heuristic"`` (heuristic solution, bound from a relaxation).
    solver : str
        What produced the solution, e.g. ``"highs 1.16.0"`` or ``"greedy+swap"``.
    seconds : float
        Wall time of ``solve``.
    sense : {"max", "min"}
    assignment : ndarray of int, optional
        Per demand point (or flow), the candidate position serving it, ``-1`` when none.
    covered : ndarray, optional
        Per demand point: served share in [0, 1] (1/0 for plain coverage; decayed value for
        decay-weighted coverage; assigned share for capacitated coverage).
    distance : ndarray, optional
        Per demand point, travel minutes to the assigned facility (``inf`` when none).
    details : dict
        Model-specific extras (e.g. ``"covered_weight"``, ``"total_weight"``, ``"radius"``).
    """

    selected: np.ndarray
    objective: float
    bound: float
    status: str
    solver: str
    seconds: float
    sense: str = "max"
    gap: float = float("nan")
    selected_ids: np.ndarray | None = None
    assignment: np.ndarray | None = None
    covered: np.ndarray | None = None
    distance: np.ndarray | None = None
    details: dict = field(default_factory=dict)

    def __post_init__(self):
        self.selected = np.sort(np.asarray(self.selected, dtype=np.int64))
        if self.selected_ids is None:
            self.selected_ids = self.selected.copy()
        if np.isnan(self.gap):
            self.gap = relative_gap(self.objective, self.bound)

    @property
    def optimal(self) -> bool:
        """True when the solution is proven optimal (within the requested MIP gap)."""
        return self.status == "optimal"

    def summary(self) -> str:
        """One line for logs and the CLI."""
        return (f"{self.status}: {len(self.selected)} sites, objective {self.objective:.6g}, "
                f"bound {self.bound:.6g}, gap {100 * self.gap:.3g} %, {self.solver}, "
                f"{self.seconds:.2f} s")


@dataclass
class MixResult(SitingResult):
    """Solution of :class:`~planner.siting.mix.TechnologyMix`.

    ``selected`` lists the distinct sites used by any technology (``selected_ids`` their site
    ids); ``assignment`` and ``covered`` run over the demand rows of all technologies one after
    the other (technology order) -- use ``covered_by_tech`` for per-technology arrays.
    Additional attributes:

    Attributes
    ----------
    pairs : list of (int, str)
        Chosen ``(site position, technology name)`` pairs, including required stations.
    selected_by_tech : dict[str, ndarray]
        Site positions chosen per technology (sorted).
    new_by_tech : dict[str, ndarray]
        Same, excluding required (existing) stations.
    covered_by_tech : dict[str, ndarray]
        Per technology, per demand point of that technology: covered share in [0, 1].
    covered_share : dict[str, float]
        Per technology: covered weight / total weight of its demand.
    capex : float
        Budget used (new stations and opened sites).
    """

    pairs: list = field(default_factory=list)
    selected_by_tech: dict = field(default_factory=dict)
    new_by_tech: dict = field(default_factory=dict)
    covered_by_tech: dict = field(default_factory=dict)
    covered_share: dict = field(default_factory=dict)
    capex: float = 0.0
