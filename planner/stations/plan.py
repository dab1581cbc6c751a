"""A solved station plan (measure 10): :func:`solve_problem` solves a
:class:`~planner.stations.problem.SitingProblem` and :class:`StationPlan` explains it in tables
(selected sites, demand served, summary). Writing and drawing are in :mod:`planner.pipeline.write`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.errors import SolverError
from planner.siting.result import MixResult
from planner.stations.problem import SitingProblem


def solve_problem(problem: SitingProblem, time_limit: float = 60.0, mip_gap: float = 1e-3,
                  method: str = "auto") -> StationPlan:
    """Solve the technology mix; raises :class:`SolverError` with a planner-readable message."""
    c = problem.candidates
    opened = [problem.capex_of(t)[c[f"eligible_{t}"].to_numpy(bool) & ~c[f"required_{t}"].to_numpy(bool)]
              for t in problem.technologies]
    cheapest = min((float(x.min()) for x in opened if len(x)), default=float("inf"))
    required = any(problem.candidates[f"required_{t}"].any() for t in problem.technologies)
    if problem.budget_wan < cheapest < float("inf") and not required:
        raise SolverError(f"budget {problem.budget_wan:g} 万元 fits no station "
                          f"(cheapest station costs {cheapest:g} 万元)")
    # TechnologyMix.solve returns a MixResult (typed as its base class, SitingModel.solve)
    result = cast(MixResult, problem.model().solve(time_limit=time_limit, mip_gap=mip_gap, method=method))
    return StationPlan(problem, result)


@dataclass
class StationPlan:
    """A solved station plan: the problem, the solver's result and the tables built from them."""

    problem: SitingProblem
    result: MixResult
    #: ``siting/station_sizes.csv`` rows (:data:`planner.stations.table.STATION_SIZE_COLUMNS` +
    #: ``existing``) once the selected stations are sized; ``None`` before
    sizes: pd.DataFrame | None = None
    #: site_id → :class:`planner.stations.operation.DispatchResult` of the PV-storage stations
    dispatches: dict = field(default_factory=dict)
    #: capex model, candidate-capex approach, budget before / after sizing (``summary()["sizing"]``)
    sizing: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ tables
    def selected_sites(self) -> gpd.GeoDataFrame:
        """``site_id, technology, name, display_name, lon, lat, capex`` (万元), ``demand_served, share, existing,
        radius_min`` (the technology's service radius, minutes)."""
        prob, res = self.problem, self.result
        c = prob.candidates
        rows = []
        for t, spec in prob.technologies.items():
            sites = np.asarray(res.selected_by_tech.get(t, []), np.int64)
            if not len(sites):
                continue
            m = prob.minutes[t][:, sites]
            within = m <= spec.radius_min
            best = np.where(within, m, np.inf).argmin(axis=1)
            has = within.any(axis=1)
            w = prob.demand[t]["weight"].to_numpy(float)
            served = np.bincount(best[has], weights=w[has], minlength=len(sites))
            req = c[f"required_{t}"].to_numpy(bool)[sites]
            rows.append(pd.DataFrame({
                "site_id": c.candidate_id.to_numpy()[sites], "technology": t, "name": c.name.to_numpy()[sites],
                "display_name": (c.display_name if "display_name" in c else c.name).to_numpy()[sites],
                "lon": c.lon.to_numpy()[sites], "lat": c.lat.to_numpy()[sites],
                "capex": np.where(req, 0.0, prob.capex_of(t)[sites]), "demand_served": served,
                "share": served / w.sum() if w.sum() > 0 else np.nan, "existing": req,
                "radius_min": float(spec.radius_min),
            }))
        df = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
            columns=["site_id", "technology", "name", "display_name", "lon", "lat", "capex", "demand_served", "share",
                     "existing", "radius_min"])
        return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df.lon, df.lat), crs=4326)

    def demand_served(self) -> gpd.GeoDataFrame:
        """Every demand point with ``technology``, ``weight`` and ``served`` (bool)."""
        frames = []
        for t, g in self.problem.demand.items():
            cov = np.asarray(self.result.covered_by_tech.get(t, np.zeros(len(g))))
            frames.append(gpd.GeoDataFrame({"demand_id": g.demand_id.to_numpy(), "technology": t,
                                            "weight": g.raw_weight.to_numpy(), "served": cov > 0.5},
                                           geometry=g.geometry.values, crs=4326))
        return pd.concat(frames, ignore_index=True)

    def summary(self) -> dict:
        res = self.result
        return {
            "model": "TechnologyMix (maximal coverage, multi-technology, one budget)",
            "objective": res.objective, "bound": res.bound, "gap": res.gap, "status": res.status,
            "solver": res.solver, "seconds": res.seconds, "budget": self.problem.budget_wan,
            "budget_used": res.capex, "currency": "万元 (10,000 CNY)",
            "stations": {t: int(len(v)) for t, v in res.selected_by_tech.items()},
            "covered_share": res.covered_share,
            "technologies": {t: s.model_dump(mode="json") for t, s in self.problem.technologies.items()},
            "problem": self.problem.info,
            **({"sizing": self.sizing} if self.sizing else {}),
        }

    def tables(self) -> dict:
        sel = self.selected_sites()
        out = {"selected_sites": pd.DataFrame(sel.drop(columns="geometry")),
               "siting_summary": pd.DataFrame([{k: v for k, v in self.summary().items()
                                                if not isinstance(v, dict)}])}
        if self.sizes is not None:
            out["station_sizes"] = self.sizes
        return out

    def layers(self) -> dict:
        return {"selected_sites": self.selected_sites(), "demand": self.demand_served()}


# --------------------------------------------------------------------------- re-solving
