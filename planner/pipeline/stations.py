"""The scenario's station plan (measure 10): reads the scenario's candidate and demand inputs,
builds the :class:`~planner.stations.problem.SitingProblem`, solves it.

Candidate sources flagged ``existing`` are stations already built (always open, outside the
budget); ``competitor`` stations serve demand already: points they cover within the radius are
removed from that technology's demand (ArcGIS location-allocation semantics).

``max_stations`` of a technology caps its open stations (existing ones included) in the model and
in the exported problem.
"""
from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from planner import study_area
from planner._io import VECTOR_SUFFIXES, one_line
from planner.errors import InputError, ScenarioError
from planner.maps.labels import label
from planner.outputs import RunLayout
from planner.routing import distance_to_network
from planner.settings import BEIJING_METRIC_CRS
from planner.stations import candidates as cand_mod
from planner.stations import demand as dem_mod
from planner.stations.candidates import read_candidate_source, score_candidates, sensitive_features
from planner.stations.costs import CAPEX_COMPONENTS, station_capex
from planner.stations.defaults import DEFAULTS, SizingDefaults
from planner.stations.demand import ev_demand, poi_demand_points, read_layer, road_demand_points
from planner.stations.plan import StationPlan, solve_problem
from planner.stations.problem import (
    FLOW_DEMAND_COLUMNS,
    SitingProblem,
    demand_points,
    drive_minutes,
    flow_minutes,
    in_sources,
    snap_sites,
    tech_minutes,
    weigh_demand,
)
from planner.stations.table import budget_check, candidate_capex_from_problem, inputs_from_plan, size_stations
from planner.study_area import inside as in_study_area
from planner.technology import Technology

#: Levels per axis of the (daily sessions × lot area) grid on which PV-storage candidates'
#: batteries are sized for the siting capex (``PV_GRID_LEVELS²`` battery LPs instead of one per
#: candidate; :func:`planner.stations.table.pv_candidate_capex_grid`).
PV_GRID_LEVELS = 7

#: How ``capex_model = "sized"`` keeps the budget, as reported in ``siting/summary.json``.
SIZED_APPROACH = ("each candidate sized for all the demand it could serve (demand within its radius / detour); "
                  f"PV-storage batteries interpolated on a {PV_GRID_LEVELS} x {PV_GRID_LEVELS} grid of daily sessions "
                  f"x lot area ({PV_GRID_LEVELS ** 2} battery LPs); the selected stations re-sized exactly on the "
                  "demand they serve and checked against the budget")


def _tech_specs(sc) -> dict[str, Technology]:
    return {name: t.resolved(name) for name, t in sc.siting.technologies.items()}


def study_area_polygon(sc, metric_crs: str = BEIJING_METRIC_CRS):
    """The scenario's siting study area in WGS-84, or ``None`` when it has none.

    Parameters
    ----------
    sc : planner.scenario.Scenario
        Uses ``sc.siting.study_area``: a ``(west, south, east, north)`` box, or an object with
        ``path``, ``layer`` and ``margin_m`` (the polygon file grown by the margin).
    metric_crs : str
        CRS in which the margin is measured.
    """
    area = None if sc.siting is None else sc.siting.study_area
    if area is None:
        return None
    if isinstance(area, (tuple, list)):
        return shapely.box(*area)
    return study_area.buffer_m(study_area.read_polygon(sc.resolve(area.path), area.layer), area.margin_m, metric_crs)


def _site_candidates(sc, net, info: dict, run=None, sources=None) -> gpd.GeoDataFrame:
    """Candidates of ``sources`` (default all) inside the study area and on the network, snapped."""

    cands = load_candidates(sc, sources)
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
            run.warn(f"{off} candidate site(s) lie farther than {sc.network.max_snap_m:g} m from the road network "
                     "and are left out")
    cands = cands[cands.on_network].reset_index(drop=True)
    lang = sc.scenario.language
    cands["display_name"] = cand_mod.display_names(cands, net.edges, near=label("near_road", lang),
                                                   far=label("far_road", lang), metric_crs=net.metric_crs)
    return cands


def _demand_sources(sc, net, specs, plants, suppliers, info: dict, run=None):
    """Reachable freight flows (or None) and clustered EV demand (or None) the technologies need."""

    reach = ev = None
    if any(sp.demand == "freight" for sp in specs.values()):
        if plants is None or suppliers is None:
            raise ScenarioError("freight (hydrogen) demand needs sites.plants and sites.suppliers",
                                path=sc.source_path, key="siting.technologies")
        h2_profile = next(sp.profile for sp in specs.values() if sp.demand == "freight")
        flows = dem_mod.freight_flows(net, suppliers, plants, profile=h2_profile, max_snap_m=sc.network.max_snap_m)
        info["freight_flows"] = len(flows)
        info["freight_flows_unreachable"] = int((~flows.reachable).sum())
        if run is not None and info["freight_flows_unreachable"]:
            run.warn(f"{info['freight_flows_unreachable']} of {len(flows)} freight flows cannot be driven on "
                     f"profile '{h2_profile}' and are left out of the hydrogen demand")
        reach = flows[flows.reachable].reset_index(drop=True)
        reach.attrs["profile"] = flows.attrs.get("profile", h2_profile)
    if any(sp.demand in ("ev", "pv") for sp in specs.values()):
        ev, loss = load_ev_demand(sc, net)
        info["ev_demand_points"] = len(ev)
        info["ev_clustering_loss"] = loss
    return reach, ev


def build_problem(sc, net, plants=None, suppliers=None, run=None) -> SitingProblem:
    """Candidates, demand and travel minutes of every technology in ``sc.siting``.

    Raises
    ------
    ScenarioError
        No ``[siting]`` section; freight demand without plants/suppliers.
    """

    if sc.siting is None:
        raise ScenarioError("the scenario has no [siting] section", path=sc.source_path, key="siting")
    s = sc.siting
    specs = _tech_specs(sc)
    info: dict = {}
    cands = _site_candidates(sc, net, info, run)
    reach, ev = _demand_sources(sc, net, specs, plants, suppliers, info, run)
    stations = snap_sites(net, cands)  # the candidates on their roads

    flow_volume = None
    minutes = {}
    for t, sp in specs.items():
        if sp.demand == "freight":
            minutes[t], pairs = flow_minutes(net, sp, reach, stations)
            flow_volume = dem_mod.flow_volume_by_candidate(pairs, reach, len(cands))
    sensitive = load_sensitive(sc)
    cands = score_for_scenario(cands, sc, sensitive=sensitive, flow_volume=flow_volume)

    demand, conflicts = {}, {}
    cache: dict = {}  # (profile, radius) → minutes; PV-storage reuses the EV matrix
    metric = net.metric_crs
    for t, sp in specs.items():
        tech = s.technologies[t]
        cands[f"eligible_{t}"] = cand_mod.technology_mask(cands, t, tech) & ~cands.competitor.to_numpy(bool)
        in_src = in_sources(cands, tech)
        cands[f"required_{t}"] = cands.existing.to_numpy(bool) & in_src
        pts = demand_points(sp, reach, ev)
        if t not in minutes:
            minutes[t] = drive_minutes(net, sp, pts, stations, cache)
        # competitors' stations already serve the demand they cover
        weigh_demand(pts, minutes[t][:, cands.competitor.to_numpy(bool) & in_src], sp, t, info)
        demand[t] = pts
        conflicts[t] = (cand_mod.conflict_pairs(cands, sp.min_spacing_m, metric) if sp.min_spacing_m
                        else np.empty((0, 2), int))
        info[f"{t}_eligible_sites"] = int(cands[f"eligible_{t}"].sum())
        info[f"{t}_demand_points"] = len(pts)
    info["candidates"] = len(cands)
    return SitingProblem(cands, demand, minutes, specs, float(s.budget_wan), conflicts, info)


def problem_demand(sc, net, plants=None, suppliers=None) -> dict:
    """Demand per technology as :func:`build_problem` weighs it — used by site-list comparison.

    ``demand_id``, ``weight``, geometry, and for freight technologies :data:`FLOW_DEMAND_COLUMNS`
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
    out: dict = {}
    cache: dict = {}
    for t, sp in specs.items():
        pts = demand_points(sp, reach, ev)
        sites = comp[in_sources(comp, s.technologies[t])] if comp is not None else None
        m = tech_minutes(net, sp, pts, reach, sites, cache) if sites is not None and len(sites) \
            else np.zeros((len(pts), 0))
        weigh_demand(pts, m, sp, t, info)
        cols = ["demand_id", "weight"] + (FLOW_DEMAND_COLUMNS if sp.demand == "freight" else []) + ["geometry"]
        out[t] = pts[cols]
        out[t].attrs = dict(pts.attrs)
    return out


def sizing_defaults(sc) -> SizingDefaults:
    """The station-sizing defaults with the scenario's ``[siting.sizing]`` keys applied."""
    if sc.siting is None:
        raise ScenarioError("the scenario has no [siting] section", path=sc.source_path, key="siting")
    return dataclasses.replace(DEFAULTS, **sc.siting.sizing.overrides())


def set_sized_capex(problem: SitingProblem, d: SizingDefaults, pv_levels: int | None = PV_GRID_LEVELS) -> dict:
    """Put each candidate's sized capex (万元, for all the demand it could serve) into the
    candidates' ``capex_wan_<tech>`` columns, which the model then uses; returns what was done."""
    t0 = time.perf_counter()
    caps, warnings = candidate_capex_from_problem(problem, d, pv_levels=pv_levels)
    for t, cap in caps.items():
        problem.candidates[f"capex_wan_{t}"] = cap
    return {"approach": SIZED_APPROACH if pv_levels == PV_GRID_LEVELS else
            f"each candidate sized for all the demand it could serve (pv_levels={pv_levels})",
            "seconds": round(time.perf_counter() - t0, 2), "warnings": len(warnings)}


def size_plan(plan: StationPlan, capex_model: str, d: SizingDefaults, candidate_info: dict | None = None
              ) -> tuple[StationPlan, list[str]]:
    """Size the plan's selected stations on the demand they serve; check the budget on their capex.

    Sets ``plan.sizes`` (with an ``existing`` column), ``plan.dispatches`` and ``plan.sizing``
    (capex model, approach, the capex the model saw and the sized capex by technology and
    component, within budget or not). Existing stations are sized but outside the budget.

    Returns
    -------
    (StationPlan, list of str)
        The plan and the sizing warnings (the budget warning first when the sized plan exceeds it).
    """
    args = inputs_from_plan(plan, d)
    table, warnings, dispatches = size_stations(**args, capex_model=capex_model, d=d)
    existing = args["selected"]["existing"].to_numpy(bool)
    table.insert(2, "existing", existing)
    sized = pd.DataFrame([station_capex(r["kind"], r, "sized", d=d) for r in table.to_dict("records")])
    new = ~existing
    budget = plan.problem.budget_wan
    over = budget_check(sized[new] if len(sized) else pd.DataFrame({"capex_wan": []}), budget)
    comp = {c: round(float(sized.loc[new, f"capex_{c}_wan"].fillna(0).sum()), 1) if len(sized) else 0.0
            for c in CAPEX_COMPONENTS}
    by_tech = ({t: round(float(v), 1) for t, v in sized[new].groupby(table.technology[new])["capex_wan"].sum().items()}
               if len(sized) else {})
    sized_total = float(sized.loc[new, "capex_wan"].sum()) if len(sized) else 0.0
    plan.sizes, plan.dispatches = table, dispatches
    plan.sizing = {
        "capex_model": capex_model,
        "candidate_capex": (candidate_info or {}).get("approach", "flat: each technology's capex_wan per station"),
        "candidate_sizing_s": (candidate_info or {}).get("seconds"),
        "budget_wan": budget,
        "capex_in_model_wan": round(float(plan.result.capex), 1),
        "capex_sized_wan": round(sized_total, 1),
        "capex_sized_by_technology_wan": by_tech,
        "capex_sized_by_component_wan": comp,
        "within_budget": not over,
        "note": ("capex_in_model_wan: what the siting model spent (flat capex, or sizes for all the demand each "
                 "candidate could serve); capex_sized_wan: the new stations sized on the demand they serve"),
        "warnings": over + warnings,
    }
    return plan, over + warnings


def siting_problem(sc, net, plants=None, suppliers=None, run=None) -> tuple[SitingProblem, dict | None]:
    """The scenario's siting problem with the capex its model uses: :func:`build_problem`, then,
    for ``[siting] capex_model = "sized"``, every candidate's sized capex (:func:`set_sized_capex`).

    The one preparation shared by ``planner run`` (:func:`run_siting`) and the programme commands
    (``planner frontier | phase``), so a budget solved either way sees the same capex.

    Parameters
    ----------
    sc : Scenario
        With a ``[siting]`` section.
    net : RoadNetwork
    plants, suppliers : GeoDataFrame, optional
        Needed for freight (hydrogen) demand.
    run : planner.pipeline.Run, optional
        Records the steps' timings and warnings.

    Returns
    -------
    (SitingProblem, dict or None)
        The problem and what :func:`set_sized_capex` did (``None`` for ``capex_model = "flat"``).
    """
    step = run.step if run is not None else (lambda name: nullcontext())
    with step("siting problem"):
        problem = build_problem(sc, net, plants, suppliers, run)
    info = None
    if sc.siting.capex_model == "sized":
        with step("candidate sizing"):
            info = set_sized_capex(problem, sizing_defaults(sc))
    return problem, info


def run_siting(sc, net, plants, suppliers, run=None) -> StationPlan:
    """Build and solve the scenario's station plan, then size its stations (pipeline step;
    ``run`` records timings and warnings)."""
    step = run.step if run is not None else (lambda name: nullcontext())
    problem, info = siting_problem(sc, net, plants, suppliers, run)
    d = sizing_defaults(sc)
    with step("siting solve"):
        plan = solve_problem(problem, time_limit=sc.siting.time_limit_s, mip_gap=sc.siting.mip_gap)
    with step("station sizing"):
        plan, warnings = size_plan(plan, sc.siting.capex_model, d, info)
    if run is not None:
        if not plan.sizing["within_budget"]:
            run.warn(warnings[0] + f" (capex_model = {sc.siting.capex_model})")
        if len(warnings) > (0 if plan.sizing["within_budget"] else 1):
            run.warn(f"station sizing: {len(warnings)} warning(s), e.g. {warnings[-1]}; "
                     "all in siting/summary.json (sizing.warnings)")
    if run is not None:
        run.counts["siting_candidates"] = len(problem.candidates)
        res = plan.result
        if res.status != "optimal":
            run.warn(f"siting stopped at the time limit with gap {100 * res.gap:.3g} % ({res.status})")
    return plan


def plan_stations(sc, net, plants=None, suppliers=None) -> StationPlan:
    """The scenario's measure 10 station plan: :func:`build_problem` then
    :func:`~planner.stations.plan.solve_problem` with the scenario's time limit and gap.

    Parameters
    ----------
    sc : Scenario
        With a ``[siting]`` section.
    net : RoadNetwork
    plants, suppliers : GeoDataFrame, optional
        Needed for freight (hydrogen) demand.

    Returns
    -------
    StationPlan
    """
    return run_siting(sc, net, plants, suppliers)


def read_problem(folder) -> SitingProblem:
    """A :class:`SitingProblem` from its exported ``siting/problem`` folder (nothing else is read).

    Raises
    ------
    InputError
        A file of the folder is missing or unreadable.
    """
    folder = Path(folder)
    try:
        meta = json.loads((folder / "problem.json").read_text(encoding="utf-8"))
        demand = pd.read_csv(folder / "demand.csv", encoding="utf-8-sig", dtype={"demand_id": str})
        cands = pd.read_csv(folder / "candidates.csv", encoding="utf-8-sig", dtype={"candidate_id": str})
        pairs_file = folder / RunLayout.PROBLEM_PAIRS.name
        if not pairs_file.exists() and (folder / "coverage_pairs.csv").exists():  # exported before it was gzipped
            pairs_file = folder / "coverage_pairs.csv"
        pairs = pd.read_csv(pairs_file, encoding="utf-8-sig", dtype={"demand_id": str, "candidate_id": str})
        conf = pd.read_csv(folder / "conflicts.csv", encoding="utf-8-sig",
                           dtype={"candidate_a": str, "candidate_b": str})
    except (OSError, ValueError) as exc:
        raise InputError(f"not a complete exported siting problem ({one_line(exc)})", path=folder) from None
    cid = pd.Index(cands.candidate_id)
    per_tech, minutes, conflicts = {}, {}, {}
    for t in meta["technologies"]:
        d = demand[demand.technology == t].reset_index(drop=True)
        p = pairs[pairs.technology == t]
        m = np.full((len(d), len(cands)), np.inf)
        m[pd.Index(d.demand_id).get_indexer(p.demand_id), cid.get_indexer(p.candidate_id)] = p.minutes.to_numpy()
        c = conf[conf.technology == t]
        per_tech[t], minutes[t] = d, m
        pairs_ab = [cid.get_indexer(c.candidate_a), cid.get_indexer(c.candidate_b)]
        conflicts[t] = np.column_stack(pairs_ab).astype(np.int64)
    techs = {t: Technology.model_validate(spec) for t, spec in meta["technologies"].items()}
    return SitingProblem(cands, per_tech, minutes, techs, float(meta["budget_wan"]), conflicts,
                         meta.get("info", {}))


def solve_exported(folder, time_limit: float = 60.0, mip_gap: float = 1e-3):
    """Re-solve a problem from its exported ``siting/problem`` folder (nothing else is read).

    Returns the solver's :class:`~planner.siting.result.MixResult`.
    """
    return read_problem(folder).model().solve(time_limit=time_limit, mip_gap=mip_gap)


def load_candidates(sc, sources: Iterable[str] | None = None) -> gpd.GeoDataFrame:
    """All candidate sites of a scenario (``siting.candidates``), one table.

    Parameters
    ----------
    sc : Scenario
    sources : iterable of str, optional
        Names of the sources to read (default all).

    Returns
    -------
    GeoDataFrame
        Rows of every source in scenario order, index 0..n-1 (columns as
        :func:`candidates_from_layer`); ``attrs["counts"]`` = rows per source.

    Raises
    ------
    ScenarioError
        No ``[siting]`` section, no candidate source, unknown source name, or the same
        ``candidate_id`` from two sources (naming the key).
    """
    if sc.siting is None:
        raise ScenarioError("the scenario has no [siting] section", path=sc.source_path, key="siting")
    names = list(sc.siting.candidates) if sources is None else list(sources)
    if not names:
        raise ScenarioError("no candidate sources: add [siting.candidates.<name>] (e.g. the POI "
                            "layer traffic_a with fclass = [\"parking\", \"fuel\"])",
                            path=sc.source_path, key="siting.candidates")
    unknown = [n for n in names if n not in sc.siting.candidates]
    if unknown:
        raise ScenarioError(f"unknown source '{unknown[0]}' (known: {', '.join(sc.siting.candidates)})",
                            path=sc.source_path, key="siting.candidates")
    metric = sc.network.metric_crs or BEIJING_METRIC_CRS
    parts = [read_candidate_source(n, sc.siting.candidates[n], sc.resolve, metric) for n in names]
    out = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=4326)
    dup = out["candidate_id"].duplicated(keep=False).to_numpy()
    if dup.any():
        ids = out["candidate_id"].to_numpy()[dup]
        srcs = sorted(set(out["source"].to_numpy()[dup]))
        raise ScenarioError(f"candidate ids repeat across sources {', '.join(srcs)} (e.g. {ids[0]}); "
                            f"give the sources different kind values", path=sc.source_path,
                            key="siting.candidates")
    out.attrs["counts"] = {n: len(p) for n, p in zip(names, parts)}
    return out


def load_sensitive(sc, layer_names: Sequence[str] = ("pois", "pois_a")) -> gpd.GeoSeries:
    """Sensitive features (``siting.h2_sensitive_fclass``) of a scenario.

    Looked up in the ``layer_names`` layers (Geofabrik ``pois``: points, ``pois_a``: polygons)
    of every GIS file used by ``siting.candidates`` or ``siting.ev_demand``, plus the layers the
    ``ev_demand`` rules name. Files without such layers add nothing.
    """

    if sc.siting is None:
        raise ScenarioError("the scenario has no [siting] section", path=sc.source_path, key="siting")
    wanted: dict[Path, set[str]] = {}
    for src in list(sc.siting.candidates.values()) + list(sc.siting.ev_demand):
        path = sc.resolve(src.path)
        if path.suffix.lower() in VECTOR_SUFFIXES and path.exists():
            wanted.setdefault(path, set()).update(layer_names)
    for rule in sc.siting.ev_demand:
        if rule.layer:
            wanted.setdefault(sc.resolve(rule.path), set()).add(rule.layer)
    layers = []
    for path, names in wanted.items():  # a handful of files
        try:
            present = {str(n) for n in pyogrio.list_layers(path)[:, 0]}
        except Exception as exc:
            raise InputError(f"cannot open the GIS file: {type(exc).__name__}: {exc}", path=path) from None
        layers += [read_layer(path, n) for n in sorted(names & present)]
    return sensitive_features(layers, sc.siting.h2_sensitive_fclass)


def score_for_scenario(candidates: gpd.GeoDataFrame, sc, sensitive: gpd.GeoSeries | None = None,
                       flow_volume=None, plug_kw: float = cand_mod.HPC_PLUG_KW) -> gpd.GeoDataFrame:
    """:func:`score_candidates` with the scenario's ``siting.*`` parameters."""
    if sc.siting is None:
        raise ScenarioError("the scenario has no [siting] section", path=sc.source_path, key="siting")
    s = sc.siting
    return score_candidates(candidates, sensitive=sensitive, h2_safety_m=s.h2_safety_m,
                            pv_min_area_m2=s.pv_min_area_m2, pv_yield_kwh_per_m2=s.pv_yield_kwh_per_m2,
                            default_headroom_kva=s.hpc_default_headroom_kva, plug_kw=plug_kw,
                            flow_volume=flow_volume, metric_crs=sc.network.metric_crs or BEIJING_METRIC_CRS)


def load_ev_demand(sc, net=None, max_snap_m: float | None = None) -> tuple[gpd.GeoDataFrame, dict]:
    """EV demand of a scenario: ``siting.ev_demand`` POI rules (+ road proxy), clustered.

    Parameters
    ----------
    sc : Scenario
        Uses ``siting.ev_demand`` (list of ``DemandRule``: ``path``, ``layer``,
        ``fclass_weights``, ``default_weight``), ``siting.ev_road_weight_per_km``,
        ``siting.ev_clusters`` and ``network.max_snap_m``.
    net : RoadNetwork, optional
        Needed for the road traffic proxy; when given, raw points farther than ``max_snap_m``
        (default ``network.max_snap_m``) from the network are dropped before clustering
        (counted in ``loss["n_outside_network"]``) and the network's metric CRS is used.

    Returns
    -------
    (GeoDataFrame, dict)
        As :func:`cluster_demand`, loss with ``points_by_source``, ``weight_by_source`` and
        ``n_outside_network``.

    Raises
    ------
    ScenarioError
        No ``[siting]`` section, or no demand at all (no rules and no road proxy, or every
        weight 0) — naming the key.
    InputError
        Unreadable layer or missing ``fclass`` column (naming file and layer).
    """

    if sc.siting is None:
        raise ScenarioError("the scenario has no [siting] section", path=sc.source_path, key="siting")
    s = sc.siting
    use_roads = net is not None and s.ev_road_weight_per_km > 0
    if not s.ev_demand and not use_roads:
        raise ScenarioError("no EV demand: add [[siting.ev_demand]] rules (POI layer + fclass_weights) "
                            "or set siting.ev_road_weight_per_km > 0", path=sc.source_path,
                            key="siting.ev_demand")
    sets = []
    for i, rule in enumerate(s.ev_demand):
        if not rule.fclass_weights and rule.default_weight <= 0:
            raise ScenarioError("fclass_weights is empty and default_weight is 0: this rule adds no demand",
                                path=sc.source_path, key=f"siting.ev_demand.{i}.fclass_weights")
        gdf = read_layer(sc.resolve(rule.path), rule.layer, required=("fclass",))
        sets.append(poi_demand_points(gdf, rule.fclass_weights, rule.default_weight,
                                      source=rule.layer or Path(rule.path).stem))
    if use_roads:
        sets.append(road_demand_points(net, s.ev_road_weight_per_km))
    n_out = 0
    if net is not None:
        limit = sc.network.max_snap_m if max_snap_m is None else max_snap_m
        kept = []
        for p in sets:
            if len(p):
                d = distance_to_network(net, shapely.get_x(p.geometry.values), shapely.get_y(p.geometry.values))
                n_out += int((d > limit).sum())
                p = p[d <= limit]
            kept.append(p)
        sets = kept
    n_outside_area = 0
    area = study_area_polygon(sc)
    if area is not None:
        kept = []
        for p in sets:
            inside = in_study_area(area, shapely.get_x(p.geometry.values), shapely.get_y(p.geometry.values))
            n_outside_area += int((~inside).sum())
            kept.append(p[inside])
        sets = kept
    metric = net.metric_crs if net is not None else BEIJING_METRIC_CRS
    demand, loss = ev_demand(sets, s.ev_clusters, metric_crs=metric, seed=sc.scenario.seed)
    loss["n_outside_network"] = n_out
    loss["n_outside_study_area"] = n_outside_area
    if loss["n_points"] == 0:
        raise ScenarioError("the EV demand rules match no point with a positive weight"
                            + (" inside the road network" if n_out else ""), path=sc.source_path,
                            key="siting.ev_demand")
    return demand, loss
