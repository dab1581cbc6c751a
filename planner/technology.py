"""The one station-technology type: :class:`Technology`, a ``[siting.technologies.<code>]`` table.

The scenario schema (:class:`planner.scenario.Siting`) holds one per technology code; the station
problem (:class:`planner.stations.problem.SitingProblem`), its exported ``problem.json`` and the
site-list comparison (:func:`planner.compare.evaluate_list`) take the same objects. The model
library's per-technology arrays (capex per site, demand weights, travel minutes) are
:class:`planner.siting.mix.TechnologyData`, built from a :class:`Technology` in
:meth:`planner.stations.problem.SitingProblem.model`.

It lives in the ground layer (``docs/DESIGN.md``) so that domain code can use it without seeing
the scenario.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from planner.vocab import DEFAULT_DEMAND


class Technology(BaseModel):
    """One station technology: its cost, service radius and demand (``[siting.technologies.<code>]``)."""

    model_config = ConfigDict(extra="forbid")

    label: str = Field("", description="Readable name in tables and maps.")
    capex_wan: float = Field(gt=0, description="Investment per station (万元).")
    radius_min: float = Field(gt=0, le=180, description="Travel time within which a station serves demand (minutes).")
    profile: str = Field("offpeak", description="Profile the travel times are computed with.")
    weight: float = Field(1.0, ge=0, description="Weight of this technology's demand in the objective.")
    min_spacing_m: float = Field(0.0, ge=0,
                                 description="Smallest distance between two stations of this technology (metres).")
    target_share: float | None = Field(None, ge=0, le=1,
                                       description="Share of demand that must be covered (0-1; None: no target).")
    max_stations: int | None = Field(None, ge=0,
                                     description="At most this many open stations, existing ones included (None: no "
                                                 "cap).")
    candidate_sources: list[str] = Field(default_factory=list,
                                         description="Names of [siting.candidates.*] this technology may use.")
    demand: str = Field("",
                        description="Demand model: \"freight\" (supplier -> plant flows), \"ev\" (POI demand) or "
                                    "\"pv\" (roof area).")
    note: str = Field("", description="Free text, e.g. the source of the figures.")

    def resolved(self, code: str) -> Technology:
        """A copy with the defaults that depend on the technology's code filled in.

        Parameters
        ----------
        code : str
            The technology's code, e.g. ``"h2"``.

        Returns
        -------
        Technology
            ``label`` defaults to ``code``; ``demand`` to :data:`planner.vocab.DEFAULT_DEMAND`
            of the code (``"ev"`` for an unknown code).
        """
        return self.model_copy(update={"label": self.label or code,
                                       "demand": self.demand or DEFAULT_DEMAND.get(code, "ev")})
