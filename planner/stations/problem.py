"""The station problem of measure 10: what the optimiser sees, and the model built from it.

A :class:`SitingProblem` holds candidates, demand and a travel-minute matrix per technology (the
orchestration layer, :func:`planner.pipeline.stations.build_problem`, builds it from a scenario).
:meth:`SitingProblem.model` is the one place that turns it into
:class:`~planner.siting.mix.TechnologyMix` technologies.

Demand and coverage per technology (:attr:`planner.technology.Technology.demand`):

* ``freight`` (hydrogen): supplier → plant truck flows (volume = deliveries). A station serves a
  flow when the detour through it is at most ``radius_min`` minutes
  (:func:`planner.stations.demand.flow_candidate_pairs`); the "minutes" of a pair is that detour.
* ``ev`` (high-power charging) and ``pv`` (PV-storage-charging): clustered EV demand points; a
  station covers a point when the point's drive **to** the station takes at most ``radius_min``.

Each technology's demand weights are normalised to sum to 1, so the objective is
:math:`\\sum_t W_t \\cdot \\text{covered share}_t` — technologies with very different demand units
(trucks per day, POI scores) are weighed only by the scenario's ``weight``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from planner.routing import point_travel_times, snap_to_roads
from planner.siting.mix import TechnologyData, TechnologyMix
from planner.stations import demand as dem_mod
from planner.technology import Technology

#: Columns of ``problem/coverage_pairs.csv``.
COVERAGE_PAIR_COLUMNS = ["demand_id", "candidate_id", "technology", "minutes"]
#: Extra demand columns of a freight (flow) technology: the flow's origin and destination
#: (WGS-84, as given; snapped onto their roads when used) and its supplier → plant minutes, what
#: :func:`planner.stations.demand.flow_candidate_pairs` needs to tell which station serves it.
FLOW_DEMAND_COLUMNS = [*dem_mod.FLOW_END_COLUMNS, "flow_minutes"]


@dataclass
class SitingProblem:
    """Everything the optimiser sees (and nothing else).

    Attributes
    ----------
    candidates : GeoDataFrame
        ``candidate_id``, ``name``, ``kind``, ``lon``, ``lat``, ``node``, ``existing``,
        ``competitor``, ``eligible_<tech>`` per technology name, scores…
    demand : dict[str, GeoDataFrame]
        Per technology: ``demand_id``, ``weight`` (normalised, sums to 1 unless all demand is
        served by competitors), ``raw_weight``, geometry (EPSG:4326); freight technologies also
        ``supplier_id``, ``plant_id`` and :data:`FLOW_DEMAND_COLUMNS` (``attrs["profile"]`` = the
        profile the flows were timed with).
    minutes : dict[str, ndarray]
        Per technology: demand × candidates travel minutes (``inf`` = cannot serve).
    technologies : dict[str, Technology]
        The technologies by code, their code-dependent defaults filled in
        (:meth:`planner.technology.Technology.resolved`). ``capex_wan`` is the flat capex; a
        candidates column ``capex_wan_<tech>`` overrides it per candidate (:meth:`capex_of`).
    budget_wan : float
    info : dict
        Counts, clustering loss, dropped rows — for the manifest.
    """

    candidates: gpd.GeoDataFrame
    demand: dict
    minutes: dict
    technologies: dict[str, Technology]
    budget_wan: float
    conflicts: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    def coverage_pairs(self) -> pd.DataFrame:
        """Long table of every (demand, candidate, technology) within the technology's radius."""
        frames = []
        ids = self.candidates["candidate_id"].to_numpy()
        for t, spec in self.technologies.items():
            m = self.minutes[t]
            i, j = np.nonzero(m <= spec.radius_min)
            frames.append(pd.DataFrame({
                "demand_id": self.demand[t]["demand_id"].to_numpy()[i],
                "candidate_id": ids[j],
                "technology": t,
                "minutes": m[i, j],
            }))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COVERAGE_PAIR_COLUMNS)

    def capex_of(self, t: str) -> np.ndarray:
        """Capex (万元) of technology ``t`` at every candidate: the candidates' ``capex_wan_<t>``
        column when present (per-candidate sized capex), else the technology's flat ``capex_wan``."""
        col = f"capex_wan_{t}"
        if col in self.candidates.columns:
            return self.candidates[col].to_numpy(float)
        return np.full(len(self.candidates), float(self.technologies[t].capex_wan))

    def model(self) -> TechnologyMix:
        """The :class:`~planner.siting.mix.TechnologyMix` of this problem: the one place that maps
        each :class:`~planner.technology.Technology` to the model's
        :class:`~planner.siting.mix.TechnologyData`."""
        n = len(self.candidates)
        techs = []
        for t, spec in self.technologies.items():
            p = self.conflicts.get(t, np.empty((0, 2), int))
            conf = sp.csr_matrix((np.ones(len(p)), (p[:, 0], p[:, 1])), shape=(n, n)) if len(p) else None
            techs.append(TechnologyData(
                name=t, capex=self.capex_of(t), radius=spec.radius_min,
                weights=self.demand[t]["weight"].to_numpy(float), weight=spec.weight,
                target=spec.target_share, eligible=self.candidates[f"eligible_{t}"].to_numpy(bool),
                conflicts=conf, required=self.candidates[f"required_{t}"].to_numpy(bool),
                cost=self.minutes[t], max_stations=spec.max_stations))
        return TechnologyMix(None, techs, self.budget_wan, site_ids=self.candidates.candidate_id.to_numpy())


def demand_points(spec, reach, ev) -> gpd.GeoDataFrame:
    """Demand points of one technology with their ``raw_weight`` (``weight`` comes later)."""
    if spec.demand == "freight":
        ends = {c: reach[c].to_numpy(float) for c in dem_mod.FLOW_END_COLUMNS}
        pts = gpd.GeoDataFrame({"demand_id": reach.flow_id.to_numpy(), "raw_weight": reach.volume.to_numpy(float),
                                "supplier_id": reach.supplier_id.to_numpy(), "plant_id": reach.plant_id.to_numpy(),
                                **ends, "flow_minutes": reach.minutes.to_numpy(float)},
                               geometry=gpd.points_from_xy(ends["origin_lon"], ends["origin_lat"]), crs=4326)
        pts.attrs["profile"] = reach.attrs.get("profile")
        return pts
    g = ev if spec.demand == "ev" else dem_mod.pv_storage_demand(ev)
    return gpd.GeoDataFrame({"demand_id": g.demand_id.to_numpy(), "raw_weight": g.weight.to_numpy(float)},
                            geometry=g.geometry.values, crs=4326)


def flow_minutes(net, spec, reach, stations):
    """Detour minutes flows × stations (``inf`` = cannot serve) and the long pair table.

    ``stations``: the candidates snapped onto their roads (:func:`snap_sites`).
    """
    pairs = dem_mod.flow_candidate_pairs(net, reach, stations, profile=spec.profile,
                                         max_detour_min=spec.radius_min)
    m = np.full((len(reach), len(stations)), np.inf)
    m[pairs["flow"].to_numpy(), pairs["candidate"].to_numpy()] = pairs["detour_min"].to_numpy()
    return m, pairs


def drive_minutes(net, spec, pts, stations, cache: dict):
    """Minutes from each demand point **to** each station within the radius (``inf`` beyond).

    ``stations``: the candidates snapped onto their roads (:func:`planner.routing.snap_to_roads`);
    demand points snap onto theirs, and times run between the points on the roads.
    """
    key = (spec.profile, spec.radius_min)  # PV-storage reuses the EV matrix
    if key not in cache:
        d_pts = snap_to_roads(net, pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy(), max_snap_m=None)
        tt = point_travel_times(net, d_pts, stations, profile=spec.profile, cutoff_s=spec.radius_min * 60.0)
        cache[key] = tt / 60.0
    return cache[key].copy()


def snap_sites(net, cands):
    """Candidates snapped onto their nearest road (no limit: ``snap_candidates`` applied it)."""
    return snap_to_roads(net, cands.lon.to_numpy(float), cands.lat.to_numpy(float), max_snap_m=None)


def tech_minutes(net, spec, pts, reach, cands, cache: dict) -> np.ndarray:
    """Demand × station minutes of one technology: flow detours (freight) or drives to the station."""
    stations = snap_sites(net, cands)
    if spec.demand == "freight":
        return flow_minutes(net, spec, reach, stations)[0]
    return drive_minutes(net, spec, pts, stations, cache)


def weigh_demand(pts, comp_minutes, spec, t: str, info: dict) -> None:
    """Remove the demand competitors serve (``comp_minutes``: demand × competitor stations) and
    normalise ``weight`` to sum to 1."""
    if comp_minutes.shape[1]:
        served = (comp_minutes <= spec.radius_min).any(axis=1)
        pts.loc[served, "raw_weight"] = 0.0
        info[f"{t}_demand_served_by_competitors"] = int(served.sum())
    total = pts.raw_weight.sum()
    pts["weight"] = pts.raw_weight / total if total > 0 else 0.0


def in_sources(cands: pd.DataFrame, tech: Technology) -> np.ndarray:
    """Candidates from the technology's ``candidate_sources`` (all sources when it lists none)."""
    srcs = set(tech.candidate_sources) if tech.candidate_sources else set(cands.source)
    return cands.source.isin(srcs).to_numpy()
