"""Measure 10 station plan for a scenario: build the siting problem, solve it, explain it.

Flow: scenario + network + sites → :func:`build_problem` (candidates, demand and a travel-minute
matrix per technology) → :func:`solve_problem` (:class:`~planner.siting.mix.TechnologyMix`) →
:class:`StationPlan` (tables, files, map). The exported ``siting/problem/`` folder holds everything
a third party needs to re-solve it; :func:`solve_exported` does exactly that.

Demand and coverage per technology (``Technology.demand`` in the scenario):

* ``freight`` (hydrogen): supplier → plant truck flows (volume = deliveries). A station serves a
  flow when the detour through it is at most ``radius_min`` minutes
  (:func:`planner.siting.demand.flow_candidate_pairs`); the "minutes" of a pair is that detour.
* ``ev`` (high-power charging) and ``pv`` (PV-storage-charging): clustered EV demand points; a
  station covers a point when the point's drive **to** the station takes at most ``radius_min``.

Each technology's demand weights are normalised to sum to 1, so the objective is
:math:`\\sum_t W_t \\cdot \\text{covered share}_t` — technologies with very different demand units
(trucks per day, POI scores) are weighed only by the scenario's ``weight``.

Candidate sources flagged ``existing`` are stations already built (always open, outside the
budget); ``competitor`` stations serve demand already: points they cover within the radius are
removed from that technology's demand (ArcGIS location-allocation semantics).

``max_stations`` of a technology caps its open stations (existing ones included) in the model and
in the exported problem.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.errors import ScenarioError, SolverError

#: Columns of ``problem/coverage_pairs.csv``.
PAIR_COLUMNS = ["demand_id", "candidate_id", "technology", "minutes"]
#: Extra demand columns of a freight (flow) technology: the flow's origin and destination
#: network nodes and its supplier → plant minutes, what
#: :func:`planner.siting.demand.flow_candidate_pairs` needs to tell which station serves it.
FLOW_COLUMNS = ["origin_node", "destination_node", "flow_minutes"]


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
        ``supplier_id``, ``plant_id`` and :data:`FLOW_COLUMNS` (``attrs["profile"]`` = the
        profile the flows were timed with).
    minutes : dict[str, ndarray]
        Per technology: demand × candidates travel minutes (``inf`` = cannot serve).
    technologies : dict
        Scenario technology specs (capex_wan, radius_min, weight, target_share, min_spacing_m,
        max_stations…).
    budget_wan : float
    info : dict
        Counts, clustering loss, dropped rows — for the manifest.
    """

    candidates: gpd.GeoDataFrame
    demand: dict
    minutes: dict
    technologies: dict
    budget_wan: float
    conflicts: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    def coverage_pairs(self) -> pd.DataFrame:
        """Long table of every (demand, candidate, technology) within the technology's radius."""
        frames = []
        ids = self.candidates["candidate_id"].to_numpy()
        for t, spec in self.technologies.items():
            m = self.minutes[t]
            i, j = np.nonzero(m <= spec["radius_min"])
            frames.append(pd.DataFrame({
                "demand_id": self.demand[t]["demand_id"].to_numpy()[i],
                "candidate_id": ids[j],
                "technology": t,
                "minutes": m[i, j],
            }))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=PAIR_COLUMNS)

    def to_files(self, folder: Path) -> Path:
        """Write ``demand.csv``, ``candidates.csv``, ``coverage_pairs.csv``, ``conflicts.csv``, ``problem.json``."""
        from planner import outputs

        d = Path(folder)
        d.mkdir(parents=True, exist_ok=True)
        demand = pd.concat(
            [pd.DataFrame({"demand_id": g["demand_id"], "technology": t, "weight": g["weight"],
                           "raw_weight": g["raw_weight"], "lon": g.geometry.x, "lat": g.geometry.y})
             for t, g in self.demand.items()], ignore_index=True)
        outputs.write_csv(demand, d / "demand.csv")
        cols = ["candidate_id", "name", "kind", "source", "lon", "lat", "existing", "competitor"] + [
            c for c in self.candidates.columns if c.startswith(("eligible_", "required_", "capex_wan_"))]
        outputs.write_csv(pd.DataFrame(self.candidates[[c for c in cols if c in self.candidates]]),
                          d / "candidates.csv")
        outputs.write_csv(self.coverage_pairs(), d / "coverage_pairs.csv")
        conf = [pd.DataFrame({"technology": t, "candidate_a": self.candidates.candidate_id.to_numpy()[p[:, 0]],
                              "candidate_b": self.candidates.candidate_id.to_numpy()[p[:, 1]]})
                for t, p in self.conflicts.items() if len(p)]
        outputs.write_csv(pd.concat(conf, ignore_index=True) if conf else
                          pd.DataFrame(columns=["technology", "candidate_a", "candidate_b"]), d / "conflicts.csv")
        outputs.write_json({"budget_wan": self.budget_wan, "technologies": self.technologies,
                            "objective": "sum over technologies of weight x covered share of normalised demand",
                            "info": outputs.clean_for_json(self.info)}, d / "problem.json")
        return d


def _tech_specs(sc) -> dict:
    return {name: {"label": t.label or name, "capex_wan": t.capex_wan, "radius_min": t.radius_min,
                   "profile": t.profile, "weight": t.weight, "target_share": t.target_share,
                   "min_spacing_m": t.min_spacing_m, "max_stations": t.max_stations,
                   "demand": t.demand or _default_demand(name)}
            for name, t in sc.siting.technologies.items()}


def _default_demand(name: str) -> str:
    return {"h2": "freight", "hpc": "ev", "pv_storage": "pv"}.get(name, "ev")


def _site_candidates(sc, net, info: dict, run=None, sources=None) -> gpd.GeoDataFrame:
    """Candidates of ``sources`` (default all) inside the study area and on the network, snapped."""
    from planner.siting import candidates as cand_mod
    from planner.study_area import inside as in_study_area
    from planner.study_area import study_area_polygon

    cands = cand_mod.load_candidates(sc, sources)
    info["candidates_read"] = dict(cands.attrs.get("counts", {}))
    area = study_area_polygon(sc)
    if area is not None:
        inside = in_study_area(area, cands.lon.to_numpy(), cands.lat.to_numpy())
        info["candidates_outside_study_area"] = int((~inside).sum())
        cands = cands[inside].reset_index(drop=True)
    cands = cand_mod.snap_candidates(net, cands, sc.network.max_snap_m)
    off = int((~cands.on_network).sum())
    if off:
        info["candidates_off_network"] = off
        if run is not None:
            run.warn(f"{off} candidate site(s) lie farther than {sc.network.max_snap_m:g} m from the road network and are left out")
    return cands[cands.on_network].reset_index(drop=True)


def _demand_sources(sc, net, specs, plants, suppliers, info: dict, run=None):
    """Reachable freight flows (or None) and clustered EV demand (or None) the technologies need."""
    from planner.siting import demand as dem_mod

    reach = ev = None
    if any(sp["demand"] == "freight" for sp in specs.values()):
        if plants is None or suppliers is None:
            raise ScenarioError("freight (hydrogen) demand needs sites.plants and sites.suppliers",
                                path=sc.source_path, key="siting.technologies")
        h2_profile = next(sp["profile"] for sp in specs.values() if sp["demand"] == "freight")
        flows = dem_mod.freight_flows(net, suppliers, plants, profile=h2_profile, max_snap_m=sc.network.max_snap_m)
        info["freight_flows"] = len(flows)
        info["freight_flows_unreachable"] = int((~flows.reachable).sum())
        if run is not None and info["freight_flows_unreachable"]:
            run.warn(f"{info['freight_flows_unreachable']} of {len(flows)} freight flows cannot be driven on "
                     f"profile '{h2_profile}' and are left out of the hydrogen demand")
        reach = flows[flows.reachable].reset_index(drop=True)
        reach.attrs["profile"] = flows.attrs.get("profile", h2_profile)
    if any(sp["demand"] in ("ev", "pv") for sp in specs.values()):
        ev, loss = dem_mod.load_ev_demand(sc, net)
        info["ev_demand_points"] = len(ev)
        info["ev_clustering_loss"] = loss
    return reach, ev


def _demand_points(net, sp, reach, ev) -> gpd.GeoDataFrame:
    """Demand points of one technology with their ``raw_weight`` (``weight`` comes later)."""
    from planner.siting import demand as dem_mod

    if sp["demand"] == "freight":
        pts = gpd.GeoDataFrame({"demand_id": reach.flow_id.to_numpy(), "raw_weight": reach.volume.to_numpy(float),
                                "supplier_id": reach.supplier_id.to_numpy(), "plant_id": reach.plant_id.to_numpy(),
                                "origin_node": reach.origin_node.to_numpy(np.int64),
                                "destination_node": reach.destination_node.to_numpy(np.int64),
                                "flow_minutes": reach.minutes.to_numpy(float)},
                               geometry=gpd.points_from_xy(net.nodes.lon.to_numpy()[reach.origin_node],
                                                           net.nodes.lat.to_numpy()[reach.origin_node]), crs=4326)
        pts.attrs["profile"] = reach.attrs.get("profile")
        return pts
    g = ev if sp["demand"] == "ev" else dem_mod.pv_storage_demand(ev)
    return gpd.GeoDataFrame({"demand_id": g.demand_id.to_numpy(), "raw_weight": g.weight.to_numpy(float)},
                            geometry=g.geometry.values, crs=4326)


def _flow_minutes(net, sp, reach, nodes):
    """Detour minutes flows × station nodes (``inf`` = cannot serve) and the long pair table."""
    from planner.siting import demand as dem_mod

    pairs = dem_mod.flow_candidate_pairs(net, reach, nodes, profile=sp["profile"], max_detour_min=sp["radius_min"])
    m = np.full((len(reach), len(nodes)), np.inf)
    m[pairs["flow"].to_numpy(), pairs["candidate"].to_numpy()] = pairs["detour_min"].to_numpy()
    return m, pairs


def _drive_minutes(net, sp, pts, nodes, cache: dict):
    """Minutes from each demand point **to** each station node within the radius (``inf`` beyond)."""
    from planner.routing import snap, travel_times

    key = (sp["profile"], sp["radius_min"])  # PV-storage reuses the EV matrix
    if key not in cache:
        d_nodes, _ = snap(net, pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy(), max_snap_m=None)
        # demand drives TO the station: Dijkstra from each candidate on the reversed graph
        tt = travel_times(net, nodes, d_nodes, profile=sp["profile"], direction="to",
                          cutoff_s=sp["radius_min"] * 60.0)
        cache[key] = tt.T / 60.0
    return cache[key].copy()


def _tech_minutes(net, sp, pts, reach, nodes, cache: dict) -> np.ndarray:
    if sp["demand"] == "freight":
        return _flow_minutes(net, sp, reach, nodes)[0]
    return _drive_minutes(net, sp, pts, nodes, cache)


def _weigh(pts, comp_minutes, sp, t: str, info: dict) -> None:
    """Remove the demand competitors serve (``comp_minutes``: demand × competitor stations) and
    normalise ``weight`` to sum to 1."""
    if comp_minutes.shape[1]:
        served = (comp_minutes <= sp["radius_min"]).any(axis=1)
        pts.loc[served, "raw_weight"] = 0.0
        info[f"{t}_demand_served_by_competitors"] = int(served.sum())
    total = pts.raw_weight.sum()
    pts["weight"] = pts.raw_weight / total if total > 0 else 0.0


def _in_sources(cands, tech) -> np.ndarray:
    srcs = set(tech.candidate_sources) if tech.candidate_sources else set(cands.source)
    return cands.source.isin(srcs).to_numpy()


def build_problem(sc, net, plants=None, suppliers=None, run=None) -> SitingProblem:
    """Candidates, demand and travel minutes of every technology in ``sc.siting``.

    Raises
    ------
    ScenarioError
        No ``[siting]`` section; freight demand without plants/suppliers.
    """
    from planner.siting import candidates as cand_mod
    from planner.siting import demand as dem_mod

    if sc.siting is None:
        raise ScenarioError("the scenario has no [siting] section", path=sc.source_path, key="siting")
    s = sc.siting
    specs = _tech_specs(sc)
    info: dict = {}
    cands = _site_candidates(sc, net, info, run)
    reach, ev = _demand_sources(sc, net, specs, plants, suppliers, info, run)
    nodes = cands.node.to_numpy()

    flow_volume = None
    minutes = {}
    for t, sp in specs.items():
        if sp["demand"] == "freight":
            minutes[t], pairs = _flow_minutes(net, sp, reach, nodes)
            flow_volume = dem_mod.flow_volume_by_candidate(pairs, reach, len(cands))
    sensitive = cand_mod.load_sensitive(sc)
    cands = cand_mod.score_for_scenario(cands, sc, sensitive=sensitive, flow_volume=flow_volume)

    demand, conflicts = {}, {}
    cache = {}  # (profile, radius) → minutes; PV-storage reuses the EV matrix
    metric = net.metric_crs
    for t, sp in specs.items():
        tech = s.technologies[t]
        cands[f"eligible_{t}"] = cand_mod.technology_mask(cands, t, tech) & ~cands.competitor.to_numpy(bool)
        in_src = _in_sources(cands, tech)
        cands[f"required_{t}"] = cands.existing.to_numpy(bool) & in_src
        pts = _demand_points(net, sp, reach, ev)
        if t not in minutes:
            minutes[t] = _drive_minutes(net, sp, pts, nodes, cache)
        # competitors' stations already serve the demand they cover
        _weigh(pts, minutes[t][:, cands.competitor.to_numpy(bool) & in_src], sp, t, info)
        demand[t] = pts
        conflicts[t] = cand_mod.conflict_pairs(cands, sp["min_spacing_m"], metric) if sp["min_spacing_m"] else np.empty((0, 2), int)
        info[f"{t}_eligible_sites"] = int(cands[f"eligible_{t}"].sum())
        info[f"{t}_demand_points"] = len(pts)
    info["candidates"] = len(cands)
    return SitingProblem(cands, demand, minutes, specs, float(s.budget_wan), conflicts, info)


def problem_demand(sc, net, plants=None, suppliers=None) -> dict:
    """Demand per technology as :func:`build_problem` weighs it — used by site-list comparison.

    ``demand_id``, ``weight``, geometry, and for freight technologies :data:`FLOW_COLUMNS`
    (``attrs["profile"]``). Cheaper than building the problem: only competitor candidate
    sources are read, routed and snapped (they remove the demand they serve), nothing is scored
    and no candidate matrix is built.
    """
    if sc.siting is None:
        raise ScenarioError("the scenario has no [siting] section", path=sc.source_path, key="siting")
    s = sc.siting
    specs = _tech_specs(sc)
    info: dict = {}
    comp_sources = [n for n, c in s.candidates.items() if c.competitor]
    comp = _site_candidates(sc, net, info, sources=comp_sources) if comp_sources else None
    reach, ev = _demand_sources(sc, net, specs, plants, suppliers, info)
    out, cache = {}, {}
    for t, sp in specs.items():
        pts = _demand_points(net, sp, reach, ev)
        nodes = np.zeros(0, np.int64)
        if comp is not None:
            nodes = comp.node.to_numpy()[_in_sources(comp, s.technologies[t])]
        m = _tech_minutes(net, sp, pts, reach, nodes, cache) if len(nodes) else np.zeros((len(pts), 0))
        _weigh(pts, m, sp, t, info)
        cols = ["demand_id", "weight"] + (FLOW_COLUMNS if sp["demand"] == "freight" else []) + ["geometry"]
        out[t] = pts[cols]
        out[t].attrs = dict(pts.attrs)
    return out


def _model(problem: SitingProblem):
    import scipy.sparse as sp

    from planner.siting.mix import Technology, TechnologyMix

    n = len(problem.candidates)
    techs = []
    for t, spec in problem.technologies.items():
        p = problem.conflicts.get(t, np.empty((0, 2), int))
        conf = sp.csr_matrix((np.ones(len(p)), (p[:, 0], p[:, 1])), shape=(n, n)) if len(p) else None
        techs.append(Technology(
            name=t, capex=spec["capex_wan"], radius=spec["radius_min"],
            weights=problem.demand[t]["weight"].to_numpy(float), weight=spec["weight"],
            target=spec["target_share"], eligible=problem.candidates[f"eligible_{t}"].to_numpy(bool),
            conflicts=conf, required=problem.candidates[f"required_{t}"].to_numpy(bool),
            cost=problem.minutes[t], max_stations=spec.get("max_stations")))
    return TechnologyMix(None, techs, problem.budget_wan, site_ids=problem.candidates.candidate_id.to_numpy())


def solve_problem(problem: SitingProblem, time_limit: float = 60.0, mip_gap: float = 1e-3,
                  method: str = "auto") -> "StationPlan":
    """Solve the technology mix; raises :class:`SolverError` with a planner-readable message."""
    cheapest = min(spec["capex_wan"] for spec in problem.technologies.values())
    if problem.budget_wan < cheapest and not any(problem.candidates[f"required_{t}"].any() for t in problem.technologies):
        raise SolverError(f"budget {problem.budget_wan:g} 万元 fits no station (cheapest technology costs {cheapest:g} 万元)")
    result = _model(problem).solve(time_limit=time_limit, mip_gap=mip_gap, method=method)
    return StationPlan(problem, result)


@dataclass
class StationPlan:
    """A solved station plan: the problem, the solver's result and the tables built from them."""

    problem: SitingProblem
    result: object

    # ------------------------------------------------------------------ tables
    def selected_sites(self) -> gpd.GeoDataFrame:
        """``site_id, technology, name, lon, lat, capex, demand_served, share, existing``."""
        prob, res = self.problem, self.result
        c = prob.candidates
        rows = []
        for t, spec in prob.technologies.items():
            sites = np.asarray(res.selected_by_tech.get(t, []), np.int64)
            if not len(sites):
                continue
            m = prob.minutes[t][:, sites]
            within = m <= spec["radius_min"]
            best = np.where(within, m, np.inf).argmin(axis=1)
            has = within.any(axis=1)
            w = prob.demand[t]["weight"].to_numpy(float)
            served = np.bincount(best[has], weights=w[has], minlength=len(sites))
            req = c[f"required_{t}"].to_numpy(bool)[sites]
            rows.append(pd.DataFrame({
                "site_id": c.candidate_id.to_numpy()[sites], "technology": t, "name": c.name.to_numpy()[sites],
                "lon": c.lon.to_numpy()[sites], "lat": c.lat.to_numpy()[sites],
                "capex": np.where(req, 0.0, spec["capex_wan"]), "demand_served": served,
                "share": served / w.sum() if w.sum() > 0 else np.nan, "existing": req,
            }))
        df = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
            columns=["site_id", "technology", "name", "lon", "lat", "capex", "demand_served", "share", "existing"])
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
            "technologies": self.problem.technologies,
            "problem": self.problem.info,
        }

    def tables(self) -> dict:
        sel = self.selected_sites()
        return {"selected_sites": pd.DataFrame(sel.drop(columns="geometry")),
                "siting_summary": pd.DataFrame([{k: v for k, v in self.summary().items()
                                                 if not isinstance(v, dict)}])}

    def layers(self) -> dict:
        return {"selected_sites": self.selected_sites(), "demand": self.demand_served()}

    def to_files(self, folder: Path) -> Path:
        from planner import outputs

        d = Path(folder) / "siting"
        d.mkdir(parents=True, exist_ok=True)
        sel = self.selected_sites()
        outputs.write_csv(pd.DataFrame(sel.drop(columns="geometry")), d / "selected_sites.csv")
        outputs.write_json(outputs.clean_for_json(self.summary()), d / "summary.json")
        self.problem.to_files(d / "problem")
        return d

    def map(self, language="en", basemap="osm", roads=None):
        from planner.maps import siting_map

        return siting_map(self.selected_sites(), self.demand_served(), None, language=language,
                          basemap=basemap, roads=roads)


def run_siting(sc, net, plants, suppliers, run=None) -> StationPlan:
    """Build and solve the scenario's station plan (pipeline step)."""
    from contextlib import nullcontext

    step = run.step if run is not None else (lambda name: nullcontext())
    with step("siting problem"):
        problem = build_problem(sc, net, plants, suppliers, run)
    with step("siting solve"):
        plan = solve_problem(problem, time_limit=sc.siting.time_limit_s, mip_gap=sc.siting.mip_gap)
    if run is not None:
        run.counts["siting_candidates"] = len(problem.candidates)
        res = plan.result
        if res.status != "optimal":
            run.warn(f"siting stopped at the time limit with gap {100 * res.gap:.3g} % ({res.status})")
    return plan


# --------------------------------------------------------------------------- re-solving
def solve_exported(folder, time_limit: float = 60.0, mip_gap: float = 1e-3):
    """Re-solve a problem from its exported ``siting/problem`` folder (nothing else is read).

    Returns the solver's :class:`~planner.siting.result.MixResult`.
    """
    import scipy.sparse as sp

    from planner.errors import InputError
    from planner.siting.mix import Technology, TechnologyMix

    folder = Path(folder)
    try:
        meta = json.loads((folder / "problem.json").read_text(encoding="utf-8"))
        demand = pd.read_csv(folder / "demand.csv", encoding="utf-8-sig", dtype={"demand_id": str})
        cands = pd.read_csv(folder / "candidates.csv", encoding="utf-8-sig", dtype={"candidate_id": str})
        pairs = pd.read_csv(folder / "coverage_pairs.csv", encoding="utf-8-sig",
                            dtype={"demand_id": str, "candidate_id": str})
        conf = pd.read_csv(folder / "conflicts.csv", encoding="utf-8-sig", dtype={"candidate_a": str, "candidate_b": str})
    except (OSError, ValueError) as exc:
        raise InputError(f"not a complete exported siting problem ({' '.join(str(exc).split())[:150]})", path=folder) from None
    cid = pd.Index(cands.candidate_id)
    n = len(cands)
    techs = []
    for t, spec in meta["technologies"].items():
        d = demand[demand.technology == t].reset_index(drop=True)
        p = pairs[pairs.technology == t]
        m = np.full((len(d), n), np.inf)
        m[pd.Index(d.demand_id).get_indexer(p.demand_id), cid.get_indexer(p.candidate_id)] = p.minutes.to_numpy()
        c = conf[conf.technology == t]
        cm = sp.csr_matrix((np.ones(len(c)), (cid.get_indexer(c.candidate_a), cid.get_indexer(c.candidate_b))),
                           shape=(n, n)) if len(c) else None
        techs.append(Technology(name=t, capex=spec["capex_wan"], radius=spec["radius_min"],
                                weights=d.weight.to_numpy(float), weight=spec["weight"], target=spec["target_share"],
                                eligible=cands[f"eligible_{t}"].to_numpy(bool), conflicts=cm,
                                required=cands[f"required_{t}"].to_numpy(bool), cost=m,
                                max_stations=spec.get("max_stations")))
    model = TechnologyMix(None, techs, meta["budget_wan"], site_ids=cands.candidate_id.to_numpy())
    return model.solve(time_limit=time_limit, mip_gap=mip_gap)
