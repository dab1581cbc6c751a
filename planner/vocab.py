"""Vocabulary and defaults defined once: technology codes and order, statuses, shared defaults.

Every module that names a technology, a comparison status or one of these defaults imports it
from here, so the values cannot drift apart again (the isochrone buffer was 60 m in one module
and 75 m in another; ``max_snap_m = 500`` was written in nine signatures).
"""

from __future__ import annotations

from collections.abc import Iterable

#: Station technologies of measure 10, in drawing, legend and table order.
STATION_TECHNOLOGIES: tuple[str, ...] = ("h2", "hpc", "pv_storage")
#: Technology codes accepted in a site list (``plant`` rows feed the supplier circle instead).
TECHNOLOGIES: tuple[str, ...] = (*STATION_TECHNOLOGIES, "plant")
#: Demand kind of each technology when the scenario does not say (``Technology.demand``).
DEFAULT_DEMAND: dict[str, str] = {"h2": "freight", "hpc": "ev", "pv_storage": "pv"}

#: Status of a station when two site lists are matched (``planner.compare``).
MATCH_STATUSES: tuple[str, ...] = ("kept", "moved", "added", "removed")
#: Statuses a comparison map draws (a moved site is drawn as removed + added).
MAP_STATUSES: tuple[str, ...] = ("added", "removed", "kept")
#: Status of a siting solve (``MilpOutcome.status``, ``Candidate.status``; ``heuristic`` before
#: the MILP ran).
SOLVER_STATUSES: tuple[str, ...] = ("optimal", "time_limit", "infeasible", "no_solution", "error", "heuristic")

#: Farthest a site may lie from the road network, in metres (scenario ``[network] max_snap_m``).
#: A guess: about one urban block.
DEFAULT_MAX_SNAP_M: float = 500.0
#: Half-width of the road corridor an isochrone covers, in metres (scenario
#: ``[coverage] buffer_m``). A guess: a road plus its frontage plots.
DEFAULT_BUFFER_M: float = 60.0
#: Seed wherever randomness enters (clustering, sampling) so runs are reproducible.
RANDOM_SEED: int = 20281231


def tech_order(values: Iterable, first: Iterable[str] = STATION_TECHNOLOGIES) -> list[str]:
    """Distinct ``values`` as strings, known technologies first in :data:`STATION_TECHNOLOGIES` order.

    Parameters
    ----------
    values : iterable
        Technology codes (or other labels) in any order, with repeats.
    first : iterable of str
        The order of the labels that come first.

    Returns
    -------
    list of str
        ``first`` members present in ``values``, then the others in order of appearance.
    """
    order = tuple(first)
    seen = list(dict.fromkeys(str(v) for v in values))
    return [t for t in order if t in seen] + [t for t in seen if t not in order]
