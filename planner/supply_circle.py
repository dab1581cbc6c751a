"""The 30-minute supply circle (30分钟紧密高效配套圈): supplier coverage audit.

Coverage is decided on network travel times from each supplier **to** the plant it serves
(Dijkstra on the reversed graph, one run per plant and profile); isochrone polygons are only for
drawing. For every supplier × plant × profile we report minutes, slack to the threshold and
covered yes/no; per plant the covered share by count and by weight; the suppliers lost at peak;
and the sensitivity of coverage to a uniform speed scale.

Speed sensitivity needs no re-routing: scaling every edge speed by ``s`` scales every travel time
by ``1/s`` and leaves shortest paths unchanged, so a supplier stays covered at scale ``s`` exactly
when ``minutes / s <= threshold``. Each plant's circle therefore breaks below the scale
``max(minutes) / threshold`` over its suppliers (``> 1`` = already broken at free flow); the
scale that keeps 90 % (80 %) of them covered is the 90 % (80 %) quantile of minutes / threshold.
"""
from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from planner import isochrones as iso
from planner.network.graph import RoadNetwork
from planner.network.speeds import (
    CONGESTION_CURVE,
    edge_travel_times,
    open_edges,
    profile_at_hour,
    restriction_masks,
)
from planner.routing import point_node_times, point_travel_times, snap_to_roads
from planner.vocab import DEFAULT_BUFFER_M, DEFAULT_MAX_SNAP_M


@dataclass
class CoverageResult:
    """Tables of a supplier coverage audit (see :func:`supplier_coverage`)."""

    supplier_times: pd.DataFrame
    plant_summary: pd.DataFrame
    lost_at_peak: pd.DataFrame
    sensitivity: pd.DataFrame
    breaking_scale: pd.DataFrame
    isochrones: gpd.GeoDataFrame | None = None
    fit_area: gpd.GeoDataFrame | None = None
    #: lighter copy of ``fit_area`` for maps and exports (see :func:`fit_area_display`)
    fit_area_display: gpd.GeoDataFrame | None = None
    warnings: list[str] = field(default_factory=list)
    threshold_min: float = 30.0
    #: the road data's extent (WGS-84 polygon) and the plants' reach to its edge (planner.data_extent)
    extent: object | None = None
    data_edge: pd.DataFrame | None = None
    #: coverage by departure hour (:func:`coverage_by_hour`), when asked for
    hourly: HourlyCoverage | None = None
    #: per served pair, minutes and covered for door-to-door vehicles (:func:`door_to_door`)
    door_to_door: pd.DataFrame | None = None

    def tables(self) -> dict[str, pd.DataFrame]:
        return {
            "supplier_times": self.supplier_times,
            "plant_summary": self.plant_summary,
            "lost_at_peak": self.lost_at_peak,
            "sensitivity": self.sensitivity,
            "breaking_scale": self.breaking_scale,
        }


def served_pairs(suppliers: pd.DataFrame, plant_ids) -> pd.DataFrame:
    """Long table (supplier position, plant position, serves) of every supplier × plant pair.

    A supplier with an empty ``plants`` tuple is taken to serve every plant. Plant ids a
    supplier names that are not in the plant list are returned in ``unknown`` for a warning.
    """
    plant_ids = [str(p) for p in plant_ids]
    pos = {p: i for i, p in enumerate(plant_ids)}
    n_s, n_p = len(suppliers), len(plant_ids)
    serves = np.zeros((n_s, n_p), bool)
    plants_col = suppliers["plants"] if "plants" in suppliers else pd.Series([()] * n_s)
    unknown = set()
    for i, ps in enumerate(plants_col):  # one short tuple per supplier: cheap
        ps = tuple(ps) if isinstance(ps, (tuple, list)) else ()
        if not ps:
            serves[i, :] = True
            continue
        for p in ps:
            j = pos.get(str(p))
            if j is None:
                unknown.add(str(p))
            else:
                serves[i, j] = True
    return serves, sorted(unknown)


def supplier_coverage(
    net,
    plants: pd.DataFrame,
    suppliers: pd.DataFrame,
    profiles=("offpeak", "peak", "truck"),
    threshold_min: float = 30.0,
    speed_scales=(0.6, 0.7, 0.8, 0.9, 1.0),
    max_snap_m: float | None = DEFAULT_MAX_SNAP_M,
    peak_profile: str = "peak",
    base_profile: str = "offpeak",
    profile_specs: Mapping | None = None,
) -> CoverageResult:
    """Audit which suppliers lie within ``threshold_min`` of the plants they serve.

    Parameters
    ----------
    net : RoadNetwork
    plants : DataFrame
        ``site_id``, ``name``, ``lon``, ``lat`` (WGS-84).
    suppliers : DataFrame
        ``site_id``, ``name``, ``lon``, ``lat``, ``weight``, ``plants`` (tuple of plant ids; empty =
        serves all plants).
    profiles : sequence of str
    threshold_min : float
    speed_scales : sequence of float
        Uniform speed factors for the sensitivity table.
    max_snap_m : float
        Points farther from the network are refused (SnapError naming them).
    profile_specs : mapping of str to Profile, optional
        The :class:`~planner.network.speeds.Profile` behind each profile name; with it every
        unreachable trip gets its cause (see :func:`unreachable_causes`), otherwise the cause
        columns say ``unknown``.

    Returns
    -------
    CoverageResult
        ``supplier_times`` holds, besides minutes, slack and covered, ``unreachable_cause``
        (``""`` when reachable, ``restriction``, ``no_connection`` or ``unknown``), ``blocked_by``
        (restriction names with their hours) and ``minutes_unrestricted`` (minutes with the
        blocking restrictions lifted).
    """
    warnings: list[str] = []
    plant_ids = plants["site_id"].astype(str).to_numpy()
    sup_ids = suppliers["site_id"].astype(str).to_numpy()
    p_snap = snap_to_roads(net, plants["lon"], plants["lat"], max_snap_m, ids=plant_ids)
    s_pts = snap_to_roads(net, suppliers["lon"], suppliers["lat"], max_snap_m, ids=sup_ids)
    s_snap = s_pts.snap_m
    serves, unknown = served_pairs(suppliers, plant_ids)
    if unknown:
        warnings.append(f"suppliers name plant id(s) not in the plant list: {', '.join(unknown[:10])}")
    weight = suppliers["weight"].to_numpy(float) if "weight" in suppliers else np.ones(len(suppliers))

    frames = []
    for prof in profiles:
        # times from every supplier TO each plant, from and to the points on their roads
        minutes = point_travel_times(net, s_pts, p_snap, profile=prof) / 60.0
        spec = profile_specs.get(prof) if profile_specs is not None else None
        cause, blocked, lifted = unreachable_causes(net, p_snap, s_pts, minutes, spec)
        frames.append(
            pd.DataFrame(
                {
                    "supplier_id": np.repeat(sup_ids, len(plant_ids)),
                    "plant_id": np.tile(plant_ids, len(sup_ids)),
                    "profile": prof,
                    "minutes": minutes.ravel(),
                    "slack_minutes": (threshold_min - minutes).ravel(),
                    "covered": (minutes <= threshold_min).ravel(),
                    "snap_m": np.repeat(s_snap, len(plant_ids)),
                    "serves": serves.ravel(),
                    "weight": np.repeat(weight, len(plant_ids)),
                    "unreachable_cause": cause.ravel(),
                    "blocked_by": blocked.ravel(),
                    "minutes_unrestricted": lifted.ravel(),
                }
            )
        )
    times = pd.concat(frames, ignore_index=True)
    warnings += unreachable_warnings(times[times.serves], profile_specs)

    served = times[times.serves]
    summary = _plant_summary(served, plant_ids, profiles, threshold_min)
    lost = _lost_at_peak(served, base_profile, peak_profile) if {base_profile, peak_profile} <= set(profiles) else \
        pd.DataFrame(columns=["supplier_id", "plant_id", f"minutes_{base_profile}", f"minutes_{peak_profile}"])
    if len(lost):
        summary = summary.merge(
            lost.groupby("plant_id").size().rename("lost_at_peak").reset_index().assign(profile=peak_profile),
            on=["plant_id", "profile"], how="left",
        )
        summary["lost_at_peak"] = summary["lost_at_peak"].fillna(0).astype(int)
    else:
        summary["lost_at_peak"] = 0
    sens, breaking = _sensitivity(served, plant_ids, profiles, threshold_min, speed_scales)
    times = times.drop(columns="weight")
    return CoverageResult(times, summary, lost, sens, breaking, warnings=warnings, threshold_min=threshold_min)


def unreachable_causes(net, plants, suppliers, minutes: np.ndarray, spec=None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Why each unreachable supplier→plant trip is unreachable.

    A trip is blocked by a time restriction when re-routing with the restrictions that close roads
    at the profile's departure hour lifted reaches the plant; it has no connection when even then
    it does not (missing roads, one-way, or roads closed to the vehicle by ``hgv`` tags). Blocking
    restrictions are named one by one: those whose lifting alone opens the trip, else all active
    closing restrictions together.

    Parameters
    ----------
    net : RoadNetwork
    plants, suppliers : Snapped
        Plants and suppliers snapped onto their roads (:func:`planner.routing.snap_to_roads`).
    minutes : ndarray, shape (n_suppliers, n_plants)
        Minutes under the profile (``inf`` = unreachable).
    spec : Profile, optional
        The definition of the network's profile ``spec.name`` (whose edge times gave
        ``minutes``); ``None`` marks every unreachable trip ``unknown``. Lifting a restriction
        reopens only the edges it closes, at the profile's unrestricted time.

    Returns
    -------
    cause : ndarray of str
        ``""`` (reachable), ``"restriction"``, ``"no_connection"`` or ``"unknown"``.
    blocked_by : ndarray of str
        ``"name HH:MM–HH:MM"`` of the blocking restrictions joined by ``" + "``; ``""`` otherwise.
    minutes_unrestricted : ndarray of float
        Minutes with the active closing restrictions lifted, for unreachable trips; NaN otherwise.
    """
    unreach = ~np.isfinite(minutes)
    cause = np.where(unreach, "unknown" if spec is None else "no_connection", "").astype(object)
    blocked = np.full(minutes.shape, "", dtype=object)
    lifted = np.full(minutes.shape, np.nan)
    if spec is None or not unreach.any():
        return cause, blocked, lifted
    active = [r for r in spec.restrictions if r.action == "close" and r.active_at(spec.departure_hour)]
    if not active:
        return cause, blocked, lifted

    # the profile's own edge times, with only the edges the lifted restrictions close reopened
    # at their unrestricted time (so any other closure, e.g. hgv=no, stays as built)
    free = net.with_profile(dataclasses.replace(spec, restrictions=[]), name=f"{spec.name}__free")
    # a "close" restriction closes every edge with a segment touching its polygon (share > 0)
    masks = {k: share > 0 for k, share in restriction_masks(net.edges, active).items()}
    name = f"{spec.name}__lifted"

    def minutes_without(lift):
        closed = np.zeros(len(net.edges), bool)  # still closed by a restriction kept in force
        for r in active:
            if all(r is not x for x in lift):
                closed |= masks[r.name]
        reopen = np.logical_or.reduce([masks[r.name] for r in lift]) & ~closed
        t = np.where(reopen, free.times(free.profiles[-1]), net.times(spec.name))
        lifted_net = dataclasses.replace(net, edges=net.edges.assign(**{f"travel_time_s_{name}": t}),
                                         profiles=[*net.profiles, name], _csr={})
        return point_travel_times(lifted_net, suppliers, plants, profile=name) / 60.0

    everything = minutes_without(active)
    opened = unreach & np.isfinite(everything)
    cause[opened] = "restriction"
    lifted[unreach] = everything[unreach]
    alone = [minutes_without([r]) for r in active] if len(active) > 1 else [everything]
    for k in zip(*np.nonzero(opened)):
        names = [r for r, t in zip(active, alone) if np.isfinite(t[k])] or active
        blocked[k] = " + ".join(f"{r.name} {r.window()}" for r in names)
    return cause, blocked, lifted


def unreachable_warnings(served: pd.DataFrame, profile_specs: Mapping | None = None) -> list[str]:
    """One warning per profile and cause of the unreachable served trips, with examples."""
    out = []
    bad = served[served["unreachable_cause"] != ""]
    for (prof, cause), g in bad.groupby(["profile", "unreachable_cause"], sort=False):
        shown = "; ".join(f"{r.supplier_id}→{r.plant_id}" for r in g.head(5).itertuples())
        spec = profile_specs.get(prof) if profile_specs is not None else None
        if cause == "restriction":
            by = ", ".join(f"{b} ({n})" for b, n in g["blocked_by"].value_counts().items())
            when = f" at departure hour {spec.departure_hour:g}" if spec else ""
            out.append(f"{len(g)} supplier→plant trip(s) of profile {prof} are closed by time restriction(s){when}: "
                       f"{by}; they reach the plant when the restriction is lifted (median "
                       f"{g['minutes_unrestricted'].median():.1f} min), e.g. {shown}")
        elif cause == "no_connection":
            out.append(f"{len(g)} supplier→plant trip(s) of profile {prof} have no connection on the road network "
                       f"(even with time restrictions lifted), e.g. {shown}")
        else:
            out.append(f"{len(g)} supplier→plant trip(s) of profile {prof} cannot reach the plant on the network "
                       f"(cause not determined), e.g. {shown}")
    return out


def _plant_summary(served, plant_ids, profiles, threshold_min):
    g = served.assign(wcov=served.weight * served.covered).groupby(["plant_id", "profile"], sort=False)
    agg = g.agg(suppliers_total=("supplier_id", "size"), suppliers_covered=("covered", "sum"),
                weight_total=("weight", "sum"), weight_covered=("wcov", "sum"),
                median_minutes=("minutes", "median"), max_minutes=("minutes", "max")).reset_index()
    grid = pd.MultiIndex.from_product([plant_ids, list(profiles)], names=["plant_id", "profile"]).to_frame(index=False)
    out = grid.merge(agg, on=["plant_id", "profile"], how="left")
    out[["suppliers_total", "suppliers_covered"]] = out[["suppliers_total", "suppliers_covered"]].fillna(0).astype(int)
    out[["weight_total", "weight_covered"]] = out[["weight_total", "weight_covered"]].fillna(0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["share_covered"] = out.suppliers_covered / out.suppliers_total
        out["weighted_share_covered"] = out.weight_covered / out.weight_total
    out.insert(2, "threshold_min", float(threshold_min))
    cols = ["plant_id", "profile", "threshold_min", "suppliers_total", "suppliers_covered", "share_covered",
            "weighted_share_covered", "median_minutes", "max_minutes"]
    return out[cols]


def _lost_at_peak(served, base, peak):
    a = served[served.profile == base].set_index(["supplier_id", "plant_id"])
    b = served[served.profile == peak].set_index(["supplier_id", "plant_id"])
    both = a[["minutes", "covered"]].merge(b[["minutes", "covered"]], left_index=True, right_index=True,
                                           suffixes=("_a", "_b"))
    lost = both[both.covered_a & ~both.covered_b]
    return pd.DataFrame({
        "supplier_id": lost.index.get_level_values(0),
        "plant_id": lost.index.get_level_values(1),
        f"minutes_{base}": lost.minutes_a.to_numpy(),
        f"minutes_{peak}": lost.minutes_b.to_numpy(),
    })


def _sensitivity(served, plant_ids, profiles, threshold_min, scales):
    rows = []
    scales = sorted(float(s) for s in scales)
    for (plant, prof), g in served.groupby(["plant_id", "profile"], sort=False):
        m = g.minutes.to_numpy(float)
        w = g.weight.to_numpy(float)
        for s in scales:
            cov = m / s <= threshold_min
            rows.append((plant, prof, s, int(cov.sum()), len(m), cov.mean() if len(m) else np.nan,
                         (w * cov).sum() / w.sum() if w.sum() > 0 else np.nan))
    sens = pd.DataFrame(rows, columns=["plant_id", "profile", "speed_scale", "suppliers_covered",
                                       "suppliers_total", "share_covered", "weighted_share_covered"])
    # scale needed so that a share q of the plant's suppliers stays within the threshold:
    # the q-quantile of their free-flow minutes divided by the threshold (exact, see module doc)
    brk_rows = []
    for (plant, prof), g in served.groupby(["plant_id", "profile"], sort=False):
        m = np.sort(g.minutes.to_numpy(float))
        row = {"plant_id": plant, "profile": prof}
        for q in (1.0, 0.9, 0.8):
            k = max(int(np.ceil(q * len(m))) - 1, 0)
            row[f"scale_for_{int(q * 100)}pct"] = m[k] / threshold_min if len(m) else np.nan
        brk_rows.append(row)
    brk = pd.DataFrame(brk_rows, columns=["plant_id", "profile", "scale_for_100pct", "scale_for_90pct",
                                          "scale_for_80pct"])
    brk["breaking_speed_scale"] = brk["scale_for_100pct"]
    brk["holds_at_free_flow"] = brk.breaking_speed_scale <= 1.0
    return sens, brk


# ------------------------------------------------------------------------ isochrones & fit area
def plant_isochrones(net, plants, profiles, bands_min, buffer_m=DEFAULT_BUFFER_M, smooth_m=None, max_snap_m=DEFAULT_MAX_SNAP_M):
    """Isochrone polygons (EPSG:4326) per plant × profile × band, suppliers driving **to** the plant.

    Returns a GeoDataFrame ``plant_id, profile, minutes, geometry`` (+ ``smoothed`` flag).
    """
    plant_ids = plants["site_id"].astype(str).to_numpy()
    p_snap = snap_to_roads(net, plants["lon"], plants["lat"], max_snap_m, ids=plant_ids)
    bands_s = np.asarray(bands_min, float) * 60.0
    geoms = net.metric_geometry()
    u, v = net.edges.u.to_numpy(), net.edges.v.to_numpy()
    out = []
    for prof in profiles:                        # the grid engine threads over plants
        node_t = point_node_times(net, p_snap, profile=prof, direction="to", cutoff_s=bands_s.max())
        # drawing detail: the engine simplifies by a quarter of the buffer, so every reached road
        # stays at least 3/4 of the buffer (less half a grid cell) inside the boundary
        g = iso.isochrones_for_sources(u, v, geoms, net.times(prof), node_t, bands_s, direction="to",
                                       source_ids=plant_ids, buffer_m=buffer_m, smooth_m=smooth_m,
                                       simplify_m=buffer_m / 4.0)
        out.append(g.rename(columns={"source_id": "plant_id"}).assign(profile=prof))
    res = pd.concat(out, ignore_index=True)
    res = gpd.GeoDataFrame(res, geometry="geometry", crs=net.metric_crs).to_crs(4326)
    return res[["plant_id", "profile", "minutes", "geometry"]]


def fit_area(net, plants, profile, threshold_min, buffer_m=DEFAULT_BUFFER_M, land=None, max_snap_m=DEFAULT_MAX_SNAP_M):
    """Where new suppliers fit: the network area within ``threshold_min`` of every plant, and of each.

    A point on a directed edge can only leave through the edge's head node, so its time to any plant
    is the time along the edge plus the head node's time to that plant. It lies within the threshold
    of every plant exactly when that holds for the *largest* of the head node's plant times: the
    common area is the isochrone of the node-wise maximum of the per-plant times.

    Parameters
    ----------
    net : RoadNetwork
    plants : DataFrame
        ``site_id``, ``lon``, ``lat``.
    profile : str
        Travel-time profile.
    threshold_min : float
        The circle, minutes (suppliers drive **to** the plants).
    buffer_m : float
        Corridor half-width drawn around the reached road.
    land : GeoDataFrame, optional
        Industrial or available land polygons; overlaps are counted once.
    max_snap_m : float

    Returns
    -------
    GeoDataFrame (EPSG:4326)
        One row ``scope="all_plants"`` (``plant_id`` empty), then one row ``scope="plant"`` per
        plant, with ``profile``, ``minutes``, ``nodes_within`` (network nodes inside the circle),
        ``area_ha`` and, when ``land`` is given, ``land_ha`` (land inside the area).
    """
    plant_ids = plants["site_id"].astype(str).to_numpy()
    p_snap = snap_to_roads(net, plants["lon"], plants["lat"], max_snap_m, ids=plant_ids)
    limit_s = threshold_min * 60.0
    t = point_node_times(net, p_snap, profile=profile, direction="to", cutoff_s=limit_s)
    times = np.vstack([t.max(axis=0)[None, :], t])
    g = iso.isochrones_for_sources(net.edges.u.to_numpy(), net.edges.v.to_numpy(), net.metric_geometry(),
                                   net.times(profile), times, [limit_s], direction="to", buffer_m=buffer_m)
    n = len(plant_ids)
    out = gpd.GeoDataFrame({"scope": ["all_plants"] + ["plant"] * n, "plant_id": ["", *plant_ids],
                            "profile": profile, "minutes": float(threshold_min),
                            "nodes_within": (times <= limit_s).sum(axis=1)},
                           geometry=list(g.geometry), crs=net.metric_crs)
    out["area_ha"] = shapely.area(out.geometry.values) / 1e4
    if land is not None and len(land):
        land_all = shapely.union_all(np.asarray(land.to_crs(net.metric_crs).geometry.values))
        out["land_ha"] = shapely.area(shapely.intersection(out.geometry.values, land_all)) / 1e4
    return out.to_crs(4326)


def fit_area_display(fit: gpd.GeoDataFrame, buffer_m: float, metric_crs) -> gpd.GeoDataFrame:
    """A lighter copy of :func:`fit_area`'s table for maps and the results GeoPackage.

    Small holes are filled, slivers dropped and the outline simplified
    (:func:`planner.isochrones.display_polygons`); the other columns, ``area_ha`` included, are
    those of the exact table, which stays the one to analyse.

    Parameters
    ----------
    fit : GeoDataFrame
        Output of :func:`fit_area` (EPSG:4326).
    buffer_m : float
        Corridor half-width the fit area was drawn with.
    metric_crs
        Projected CRS to simplify in (the network's).

    Returns
    -------
    GeoDataFrame (EPSG:4326)
        Same rows and columns, plus ``display`` = True.
    """
    metric = fit.to_crs(metric_crs)
    geom = iso.display_polygons(metric.geometry.values, buffer_m)
    metric[metric.geometry.name] = gpd.GeoSeries(list(geom), index=metric.index, crs=metric.crs)
    out = metric.to_crs(4326)
    out["display"] = True
    return out


# --------------------------------------------------------------------------- by departure hour
@dataclass
class HourlyCoverage:
    """Coverage by departure hour (see :func:`coverage_by_hour`)."""

    by_hour: pd.DataFrame
    delivery_windows: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    threshold_min: float = 30.0
    #: distinct travel-time tables routed (hours with identical edge times share one)
    routed: int = 0


def coverage_by_hour(net, plants, suppliers, vehicles: dict, hours=tuple(range(24)), curve=None,
                     peak_factors=None, threshold_min: float = 30.0,
                     max_snap_m: float | None = DEFAULT_MAX_SNAP_M) -> HourlyCoverage:
    """Supplier coverage for every vehicle at every departure hour, and each pair's delivery windows.

    Each vehicle's profile is driven at each hour (:func:`planner.network.speeds.profile_at_hour`:
    the hour's congestion factors, the restrictions active then). Only the edge times are
    recomputed per hour — the network, the snapping, the restriction and zone masks are reused —
    and hours whose edge times are identical (e.g. the night hours) are routed once.

    Parameters
    ----------
    net : RoadNetwork
        Its edges keep ``road_class``, ``maxspeed_kmh``, ``hgv`` and geometry.
    plants, suppliers : DataFrame
        As in :func:`supplier_coverage`.
    vehicles : dict of name -> Profile
        Each vehicle in free flow (its own factors are multiplied by the hour's).
    hours : sequence of int
        Departure hours 0–23.
    curve : sequence of 24 float, optional
        Congestion intensity per hour (default :data:`planner.network.speeds.CONGESTION_CURVE`).
    peak_factors : dict, optional
        Per-class factors at the peak (default :data:`planner.network.speeds.PEAK_FACTORS`).
    threshold_min : float
    max_snap_m : float

    Returns
    -------
    HourlyCoverage
        ``by_hour``: plant_id, vehicle, hour, suppliers_total, suppliers_covered, share_covered,
        weighted_share_covered; ``delivery_windows``: per served supplier × plant × vehicle,
        ``hours_covered`` (count of the hours asked), ``windows`` (e.g. ``"0-7,10-16"``, ends
        exclusive) and ``best_minutes`` / ``worst_minutes`` over those hours.
    """
    curve = CONGESTION_CURVE if curve is None else tuple(curve)
    warnings: list[str] = []
    plant_ids = plants["site_id"].astype(str).to_numpy()
    sup_ids = suppliers["site_id"].astype(str).to_numpy()
    p_snap = snap_to_roads(net, plants["lon"], plants["lat"], max_snap_m, ids=plant_ids)
    s_pts = snap_to_roads(net, suppliers["lon"], suppliers["lat"], max_snap_m, ids=sup_ids)
    serves, _ = served_pairs(suppliers, plant_ids)
    weight = suppliers["weight"].to_numpy(float) if "weight" in suppliers else np.ones(len(suppliers))
    light = net.edges[["u", "v"]]
    rows, minutes_of = [], {}
    done: dict[bytes, np.ndarray] = {}
    masks: dict[tuple, np.ndarray] = {}
    for vname, prof in vehicles.items():
        todo = [r for r in prof.restrictions if (r.name, id(r.polygon)) not in masks]  # shared between vehicles
        if todo:
            new = restriction_masks(net.edges, todo)
            masks.update({(r.name, id(r.polygon)): new[r.name] for r in todo})
        shares = {r.name: masks[(r.name, id(r.polygon))] for r in prof.restrictions}
        open_mask = open_edges(net.edges, prof) if (prof.allowed_classes is not None or prof.zone is not None) \
            else None
        by_state: dict[tuple, bytes] = {}
        for h in hours:
            # an hour's edge times depend only on its congestion intensity and active restrictions
            state = (float(curve[int(h)]), tuple(r.active_at(float(h)) for r in prof.restrictions))
            key = by_state.get(state)
            if key is None:
                p_h = profile_at_hour(prof, h, curve, peak_factors, name="hour")
                t = edge_travel_times(net.edges, p_h, restricted=shares, open_mask=open_mask)
                key = by_state[state] = hashlib.sha1(t.tobytes()).digest()
            if key not in done:
                hnet = RoadNetwork(net.nodes, light.assign(travel_time_s_hour=t), net.metric_crs, ["hour"])
                done[key] = point_travel_times(hnet, s_pts, p_snap, profile="hour") / 60.0
            m = done[key]
            minutes_of[(vname, h)] = m
            cov = (m <= threshold_min) & serves
            w_tot = (weight[:, None] * serves).sum(axis=0)
            n_tot = serves.sum(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                share = cov.sum(axis=0) / n_tot
                wshare = (weight[:, None] * cov).sum(axis=0) / w_tot
            for j, pid in enumerate(plant_ids):
                rows.append((pid, vname, int(h), int(n_tot[j]), int(cov[:, j].sum()), share[j], wshare[j]))
    by_hour = pd.DataFrame(rows, columns=["plant_id", "vehicle", "hour", "suppliers_total", "suppliers_covered",
                                          "share_covered", "weighted_share_covered"])
    windows = _delivery_windows(minutes_of, list(vehicles), list(hours), sup_ids, plant_ids, serves, threshold_min)
    never = windows[windows.hours_covered == 0]
    if len(never):
        warnings.append(f"{len(never)} supplier→plant pair(s) lie outside the {threshold_min:g}-minute circle at "
                        f"every hour for their vehicle (see coverage/delivery_windows.csv)")
    return HourlyCoverage(by_hour, windows, warnings, threshold_min, routed=len(done))


def _delivery_windows(minutes_of, vehicles, hours, sup_ids, plant_ids, serves, threshold_min) -> pd.DataFrame:
    """Per served pair and vehicle: the hours inside the circle, as runs of consecutive hours."""
    i, j = np.nonzero(serves)
    frames = []
    for vname in vehicles:
        m = np.stack([minutes_of[(vname, h)][i, j] for h in hours], axis=1)  # pairs × hours
        inside = m <= threshold_min
        frames.append(pd.DataFrame({
            "supplier_id": sup_ids[i], "plant_id": plant_ids[j], "vehicle": vname,
            "hours_covered": inside.sum(axis=1),
            "windows": [_runs(hours, row) for row in inside],
            "best_minutes": m.min(axis=1),
            "worst_minutes": m.max(axis=1),
        }))
    cols = ["supplier_id", "plant_id", "vehicle", "hours_covered", "windows", "best_minutes", "worst_minutes"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


def _runs(hours, inside) -> str:
    """``"0-7,10-16"``: runs of consecutive covered hours, end exclusive (hours as asked)."""
    out, start, prev = [], None, None
    for h, ok in zip(hours, inside):
        if ok and start is not None and h == prev + 1:
            prev = h
            continue
        if start is not None:
            out.append(f"{start}-{prev + 1}")
            start = None
        if ok:
            start = prev = h
    if start is not None:
        out.append(f"{start}-{prev + 1}")
    return ",".join(out)


def door_to_door(supplier_times: pd.DataFrame, profiles) -> pd.DataFrame:
    """Which served suppliers a door-to-door vehicle reaches within the circle, per profile.

    Parameters
    ----------
    supplier_times : DataFrame
        :attr:`CoverageResult.supplier_times`.
    profiles : sequence of str
        The door-to-door vehicles' profiles (e.g. the autonomous vehicle with and without its zone).

    Returns
    -------
    DataFrame
        One row per served supplier × plant: ``minutes_<profile>``, ``covered_<profile>`` (and
        ``reachable_<profile>``: any finite time) for each profile.
    """
    st = supplier_times[supplier_times.serves & supplier_times.profile.isin(list(profiles))]
    out = None
    for prof in profiles:
        g = st[st.profile == prof][["supplier_id", "plant_id", "minutes", "covered"]]
        g = g.assign(reachable=np.isfinite(g.minutes.to_numpy(float))).rename(
            columns={"minutes": f"minutes_{prof}", "covered": f"covered_{prof}", "reachable": f"reachable_{prof}"})
        out = g if out is None else out.merge(g, on=["supplier_id", "plant_id"], how="outer")
    return out if out is not None else pd.DataFrame(columns=["supplier_id", "plant_id"])
