"""Evaluating one site list on the network: demand covered per technology, the supplier circle."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from planner.compare._common import lonlat, site_frame, str_ids, summary_tech_order, tech_config
from planner.errors import InputError, ScenarioError
from planner.routing import Snapped, point_travel_times, snap_to_roads
from planner.stations.demand import FLOW_END_COLUMNS, flow_candidate_pairs
from planner.stations.problem import FLOW_DEMAND_COLUMNS
from planner.supply_circle import supplier_coverage
from planner.vocab import DEFAULT_MAX_SNAP_M, STATION_TECHNOLOGIES


@dataclass
class ListEvaluation:
    """Stations, capex and demand coverage of one site list (see :func:`evaluate_list`).

    Attributes
    ----------
    summary : DataFrame
        Per technology: ``technology``, ``stations``, ``capex_wan``, ``demand_total``,
        ``covered`` (demand weight within the technology's radius), ``share``
        (covered / demand_total; NaN without demand).
    assignment : DataFrame
        Per technology and demand point: ``demand_id``, ``technology``, ``station_id`` (the
        nearest reachable station, missing (NA) when none is reachable), ``minutes`` (to it; for
        flows the detour through it; inf when none), ``covered`` (minutes <= radius), ``weight``.
    warnings : list of str
    """

    summary: pd.DataFrame
    assignment: pd.DataFrame
    warnings: list[str] = field(default_factory=list)


def _demand_arrays(d, tech: str):
    what = f"demand['{tech}']"
    for col in ("demand_id", "weight"):
        if col not in d:
            raise InputError(f"{what}: missing column '{col}'", column=col)
    ids = str_ids(d["demand_id"])
    w = pd.to_numeric(pd.Series(d["weight"]), errors="coerce").to_numpy(float)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise InputError(f"{what}: weight must be a number >= 0 (demand id {ids[np.flatnonzero(bad)[0]]})",
                         column="weight")
    lon, lat = lonlat(d, what)
    return ids, w, lon, lat


def _is_flow_demand(d) -> bool:
    return all(c in d for c in FLOW_DEMAND_COLUMNS)


def _flow_service(net, d, ids, stations: Snapped, profile: str, radius: float, tech: str):
    """Per flow: position of the station with the smallest detour (0 when none) and that detour
    in minutes (inf when no station serves it), by the optimiser's own rule."""
    ends = {c: pd.to_numeric(pd.Series(d[c]), errors="coerce").to_numpy(float) for c in FLOW_END_COLUMNS}
    for c, v in ends.items():
        bad = np.flatnonzero(~np.isfinite(v))
        if len(bad):
            raise InputError(f"demand['{tech}']: {c} must be a number (demand id {ids[bad[0]]})", column=c)
    flows = pd.DataFrame({"flow_id": ids, **ends, "minutes": d["flow_minutes"].to_numpy(float)})
    flows.attrs["profile"] = d.attrs.get("profile")
    pairs = flow_candidate_pairs(net, flows, stations, profile=profile, max_detour_min=radius)
    best = pairs.sort_values(["flow", "detour_min", "candidate"], kind="stable").drop_duplicates("flow")
    k = np.zeros(len(ids), np.int64)
    minutes = np.full(len(ids), np.inf)
    k[best["flow"].to_numpy()] = best["candidate"].to_numpy()
    minutes[best["flow"].to_numpy()] = best["detour_min"].to_numpy(float)
    return k, minutes


def evaluate_list(net, sites, demand: Mapping, technologies, *, max_snap_m: float | None = DEFAULT_MAX_SNAP_M,
                  report=None) -> ListEvaluation:
    """Stations, capex and demand covered per technology for one site list.

    For each technology, every demand point is assigned to its nearest reachable station of
    that technology by network time from the demand point **to** the station, both snapped onto
    their nearest road (:func:`planner.routing.point_travel_times`, the technology's
    ``profile``); ties go to the station listed first. A point is covered when
    that time is within the technology's ``radius_min``.

    Flow demand (a frame with the freight columns of :func:`planner.pipeline.stations.problem_demand`:
    ``origin_lon``, ``origin_lat``, ``destination_lon``, ``destination_lat``, ``flow_minutes``) is
    evaluated with the optimiser's rule, :func:`planner.stations.demand.flow_candidate_pairs`: each
    flow goes to the station with the smallest detour (ties: the station listed first), ``minutes``
    is that detour, and the flow is covered when it is within ``radius_min``.

    Parameters
    ----------
    net : RoadNetwork
    sites : DataFrame or GeoDataFrame
        ``site_id``, ``technology``, point geometry or ``lon``/``lat``, optional
        ``capex_wan`` (e.g. :func:`read_site_list`). ``plant`` rows are ignored here.
    demand : mapping technology → GeoDataFrame
        ``demand_id``, ``weight`` (>= 0), point geometry (any CRS; WGS-84 when none); flows
        also ``origin_lon``, ``origin_lat``, ``destination_lon``, ``destination_lat`` (WGS-84,
        snapped onto the roads of ``net``) and ``flow_minutes``.
    technologies : mapping of str to Technology
        :class:`planner.technology.Technology` by code (``scenario.siting.technologies``); uses
        ``capex_wan``, ``radius_min``, ``profile``.
    max_snap_m : float or None
        Stations farther from the nearest road are refused (``SnapError`` naming them). Demand
        points snap to their nearest road without a limit.
    report : sequence of str, optional
        Technologies to report (e.g. the union of two lists). Default: the list's station
        technologies, then those of ``demand``.

    Returns
    -------
    ListEvaluation

    Raises
    ------
    ScenarioError
        A technology with stations is not configured but is needed (capex missing from the
        list, or demand to evaluate).
    InputError
        Bad site list or demand columns.

    Notes
    -----
    ``capex_wan`` = Σ over the stations of the list's ``capex_wan``, falling back to the
    technology's per-station ``capex_wan`` where the list gives none. A technology with
    stations but no demand entry gets ``covered``/``share`` NaN and a warning.
    """
    sites = site_frame(sites, "site list")
    stations = sites[sites.technology != "plant"]
    demand = dict(demand or {})
    techs = list(report) if report is not None else summary_tech_order(
        list(stations.technology) + [t for t in demand if t in STATION_TECHNOLOGIES])
    warnings: list[str] = []
    rows, frames = [], []
    for tech in techs:
        st = stations[stations.technology == tech]
        cfg = tech_config(technologies, tech)
        capex_given = st.capex_wan.to_numpy(float)
        need_cfg = len(st) and (np.isnan(capex_given).any() or tech in demand)
        if cfg is None and need_cfg:
            configured = ", ".join(technologies) if isinstance(technologies, Mapping) and technologies else "none"
            raise ScenarioError(f"not configured, but the list has {len(st)} '{tech}' station(s); "
                                f"configured: {configured}", key=f"siting.technologies.{tech}")
        capex = float(np.where(np.isnan(capex_given), cfg.capex_wan if cfg is not None else np.nan,
                               capex_given).sum()) if len(st) else 0.0
        row = {"technology": tech, "stations": int(len(st)), "capex_wan": capex,
               "demand_total": np.nan, "covered": np.nan, "share": np.nan}
        d = demand.get(tech)
        if d is None:
            if len(st):
                warnings.append(f"no demand given for '{tech}': its coverage is not evaluated")
            rows.append(row)
            continue
        ids, w, lon, lat = _demand_arrays(d, tech)
        station = np.full(len(ids), None, dtype=object)
        minutes = np.full(len(ids), np.inf)
        radius = float(cfg.radius_min) if cfg is not None else np.nan
        if len(st) and len(ids):
            st_ids = st.site_id.to_numpy(dtype=object)
            s_pts = snap_to_roads(net, st.lon.to_numpy(float), st.lat.to_numpy(float), max_snap_m, ids=st_ids)
            if _is_flow_demand(d):
                k, minutes = _flow_service(net, d, ids, s_pts, cfg.profile, radius, tech)
            else:  # demand drives to the station, from and to the points on their roads
                t = point_travel_times(net, snap_to_roads(net, lon, lat, None), s_pts,
                                       profile=cfg.profile)
                k = np.argmin(t, axis=1)
                minutes = t[np.arange(len(ids)), k] / 60.0
            reach = np.isfinite(minutes)
            station = np.where(reach, st_ids[k], None)
        covered = minutes <= radius
        total = float(w.sum())
        row.update(demand_total=total, covered=float(w[covered].sum()),
                   share=float(w[covered].sum() / total) if total > 0 else np.nan)
        rows.append(row)
        frames.append(pd.DataFrame({"demand_id": ids, "technology": tech, "station_id": station,
                                    "minutes": minutes, "covered": covered, "weight": w}))
    summary = pd.DataFrame(rows, columns=["technology", "stations", "capex_wan", "demand_total", "covered", "share"])
    assignment = (pd.concat(frames, ignore_index=True) if frames else
                  pd.DataFrame(columns=["demand_id", "technology", "station_id", "minutes", "covered", "weight"]))
    return ListEvaluation(summary, assignment, warnings)


def supplier_circle(net, plants, suppliers, threshold_min: float = 30.0, profile: str = "offpeak",
                    max_snap_m: float | None = DEFAULT_MAX_SNAP_M) -> pd.DataFrame:
    """Per supplier: the nearest plant it serves, minutes to it and whether it is within the circle.

    A supplier is in the circle when it reaches, within ``threshold_min`` (network time
    **to** the plant, :func:`planner.supply_circle.supplier_coverage`), at least one plant of
    ``plants`` it serves (an empty ``plants`` tuple = serves every plant). Suppliers whose
    plants are all absent from ``plants`` are outside the circle.

    Parameters
    ----------
    net : RoadNetwork
    plants : DataFrame
        ``site_id``, ``name`` and point geometry or ``lon``/``lat``; may be empty.
    suppliers : DataFrame
        ``site_id``, ``lon``, ``lat``, optional ``weight``, ``plants`` (from
        :func:`planner.sites.read_sites`).
    threshold_min : float
    profile : str
    max_snap_m : float or None

    Returns
    -------
    DataFrame
        ``supplier_id``, ``plant_id`` (nearest served plant, missing (NA) if none is reachable),
        ``minutes`` (inf when none), ``covered``, ``weight``.
    """
    sup_ids = str_ids(suppliers["site_id"])
    weight = suppliers["weight"].to_numpy(float) if "weight" in suppliers else np.ones(len(sup_ids))
    out = pd.DataFrame({"supplier_id": sup_ids, "plant_id": np.full(len(sup_ids), None, dtype=object),
                        "minutes": np.inf, "covered": False, "weight": weight})
    if len(plants) == 0 or len(sup_ids) == 0:
        return out
    lon, lat = lonlat(plants, "plants")
    p = pd.DataFrame({"site_id": str_ids(plants["site_id"]),
                      "name": plants["name"].to_numpy(dtype=object) if "name" in plants else str_ids(plants["site_id"]),
                      "lon": lon, "lat": lat})
    res = supplier_coverage(net, p, suppliers, profiles=(profile,), threshold_min=threshold_min,
                            speed_scales=(1.0,), max_snap_m=max_snap_m, peak_profile=profile,
                            base_profile=profile)
    st = res.supplier_times
    served = st[st.serves & np.isfinite(st.minutes)]
    best = served.sort_values(["minutes", "plant_id"], kind="stable").drop_duplicates("supplier_id")
    best = best.set_index("supplier_id").reindex(sup_ids)
    found = best.minutes.notna().to_numpy()
    out["plant_id"] = np.where(found, best.plant_id.to_numpy(dtype=object), None)
    out["minutes"] = np.where(found, best.minutes.to_numpy(float), np.inf)
    out["covered"] = out["minutes"].to_numpy(float) <= threshold_min
    return out
