"""Demand for the "measure 10" stations: freight flows (H2), EV demand points (HPC), PV yield.

Three kinds of demand feed the siting models (``docs/DESIGN.md``, section Siting):

* **Freight flows** for hydrogen trucks (flow-refuelling view): every supplier → plant trip is
  a flow with a volume (the supplier's weight split evenly over the plants it serves). Origins,
  plants and stations are points snapped onto their nearest road
  (:func:`planner.routing.snap_to_roads`) and timed along it
  (:func:`planner.routing.point_travel_times`). A station ``k`` *serves* flow ``o → d`` when
  ``t(o→k) + t(k→d) <= t(o→d) + detour``:
  :func:`freight_flows`, :func:`flow_candidate_pairs`, :func:`flow_volume_by_candidate`,
  :func:`flow_coverage_matrix`.
* **EV demand** for high-power charging (node-coverage view): weighted points from OSM POI
  layers (weight per ``fclass``) and from road edges (traffic proxy = class factor × length),
  aggregated by weighted k-means into a manageable demand set with the aggregation error
  reported: :func:`poi_demand_points`, :func:`road_demand_points`, :func:`cluster_demand`,
  :func:`ev_demand` (a scenario's rules: :func:`planner.pipeline.stations.load_ev_demand`).
* **PV-storage** (光储充): roof / canopy area and annual PV yield of parking areas
  (:func:`polygon_area_m2`, :func:`pv_yield_kwh`, :func:`pv_sites`); the demand of a PV-storage
  station is the EV demand (:func:`pv_storage_demand`, see its docstring for why).

Everything here is a pure function on arrays / (Geo)DataFrames except :func:`read_layer`, which
reads a GIS layer.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely

from planner.errors import InputError
from planner.routing import Snapped, point_travel_times, snap_to_roads
from planner.settings import BEIJING_METRIC_CRS
from planner.vocab import DEFAULT_MAX_SNAP_M, RANDOM_SEED

__all__ = [
    "FLOW_COLUMNS",
    "FLOW_END_COLUMNS",
    "PAIR_COLUMNS",
    "ROAD_CLASS_FACTORS",
    "SUGGESTED_EV_FCLASS_WEIGHTS",
    "PV_YIELD_KWH_PER_M2",
    "read_layer",
    "freight_flows",
    "flow_candidate_pairs",
    "flow_volume_by_candidate",
    "flow_coverage_matrix",
    "poi_demand_points",
    "road_demand_points",
    "cluster_demand",
    "ev_demand",
    "polygon_area_m2",
    "pv_yield_kwh",
    "pv_sites",
    "pv_storage_demand",
]

#: Where a flow starts and ends (WGS-84, as given): what :func:`flow_candidate_pairs` snaps.
FLOW_END_COLUMNS: tuple[str, ...] = ("origin_lon", "origin_lat", "destination_lon", "destination_lat")
#: Columns of :func:`freight_flows`.
FLOW_COLUMNS: tuple[str, ...] = (
    "flow_id", "supplier_id", "plant_id", *FLOW_END_COLUMNS, "origin_snap_m", "destination_snap_m", "volume",
    "minutes", "reachable", "origin_kind",
)

#: Columns of :func:`flow_candidate_pairs`.
PAIR_COLUMNS: tuple[str, ...] = ("flow", "flow_id", "candidate", "detour_min")

#: Tolerance (seconds) when comparing sums of travel times: float ties count as "on the path".
TIME_EPS_S = 1e-6

#: Traffic-proxy factor per OSM road class (weight per km relative to a tertiary road).
#: **A guess**: the order follows the usual ranking of traffic volume by road class (more lanes,
#: more through traffic); no Beijing traffic count by road class was found (parameters.md has
#: none). Synthetic ``connector`` edges added by network repair get 0. ``default`` is used for
#: edges without a class — most of the shared SE-Beijing layer — so there the proxy is simply
#: proportional to road length.
ROAD_CLASS_FACTORS: dict[str, float] = {
    "motorway": 3.0,
    "trunk": 2.5,
    "primary": 2.0,
    "secondary": 1.5,
    "tertiary": 1.0,
    "unclassified": 0.5,
    "residential": 0.5,
    "living_street": 0.2,
    "service": 0.2,
    "motorway_link": 1.0,
    "trunk_link": 1.0,
    "primary_link": 1.0,
    "secondary_link": 0.8,
    "tertiary_link": 0.6,
    "connector": 0.0,
    "default": 0.5,
}

#: A starting point for ``[[siting.ev_demand]] fclass_weights`` on Geofabrik POI layers — **a
#: guess** (relative attraction of EV drivers who may charge while there), not measured; put it
#: (or your own) in the scenario file. Nothing applies it implicitly.
SUGGESTED_EV_FCLASS_WEIGHTS: dict[str, float] = {
    "mall": 10.0, "supermarket": 4.0, "hotel": 3.0, "car_dealership": 3.0, "hospital": 3.0,
    "university": 3.0, "stadium": 3.0, "cinema": 2.0, "restaurant": 1.0, "fast_food": 1.0,
    "cafe": 0.5, "sports_centre": 2.0, "attraction": 2.0, "museum": 1.0, "railway_station": 5.0,
    "bus_station": 3.0, "taxi": 3.0, "town": 5.0, "suburb": 3.0, "village": 1.0,
}

#: Default annual PV yield per m² of parking canopy / roof, kWh/m²·yr — **derived**, not a
#: measured value: 0.20 kWp/m² canopy density (parameters.md §5 "Canopy power density", 82 kW on
#: about 410 m² of carport, conf. M) × about 1,010 kWh/kWp·yr (parameters.md §5 "Beijing specific
#: yield": Yizhuang data point, Xiaomi plant rooftop 16.2 MW → 16.4 GWh/yr, conf. L) = 202,
#: rounded to 200 (the scenario default ``siting.pv_yield_kwh_per_m2``).
PV_YIELD_KWH_PER_M2 = 200.0


# ------------------------------------------------------------------------------------------
# file edge
# ------------------------------------------------------------------------------------------

def read_layer(path, layer: str | None = None, required: Sequence[str] = ()) -> gpd.GeoDataFrame:
    """Read one GIS layer as a GeoDataFrame in EPSG:4326.

    Parameters
    ----------
    path : str or Path
        GeoPackage, GeoJSON, Shapefile... in any CRS.
    layer : str, optional
        Layer name (default: the first layer).
    required : sequence of str
        Attribute columns that must exist (e.g. ``("fclass",)``).

    Returns
    -------
    GeoDataFrame
        EPSG:4326, index 0..n-1 in file order; ``attrs["source"] = "<path>:<layer>"``.

    Raises
    ------
    InputError
        Missing or unreadable file, unknown layer (listing the layers), layer without CRS and
        non-degree coordinates, missing required column — naming the file and layer.
    """
    import pyogrio

    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=path)
    try:
        layers = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
    except Exception as exc:
        raise InputError(f"cannot open the GIS file (corrupted or unsupported format?): "
                         f"{type(exc).__name__}: {exc}", path=path) from None
    if not layers:
        raise InputError("the GIS file has no layers", path=path)
    if layer is not None and str(layer) not in layers:
        raise InputError(f"no layer named '{layer}'; layers are: {', '.join(layers)}", path=path)
    name = str(layer) if layer is not None else layers[0]
    where = f"{path} (layer '{name}')"
    try:
        gdf = pyogrio.read_dataframe(path, layer=name)
    except Exception as exc:
        raise InputError(f"cannot read the layer (corrupted file?): {type(exc).__name__}: {exc}",
                         path=where) from None
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InputError("the layer has no geometry", path=where)
    missing = [c for c in required if c not in gdf.columns]
    if missing:
        raise InputError(f"missing column; the layer has: {', '.join(map(str, gdf.columns))}",
                         path=where, column=missing[0])
    if gdf.crs is None:
        b = gdf.total_bounds
        if len(gdf) and not (-180 <= b[0] <= b[2] <= 180 and -90 <= b[1] <= b[3] <= 90):
            raise InputError("layer has no CRS and its coordinates are not longitude/latitude",
                             path=where)
        gdf = gdf.set_crs("EPSG:4326")
    elif not gdf.crs.equals("EPSG:4326"):
        gdf = gdf.to_crs("EPSG:4326")
    gdf = gdf.reset_index(drop=True)
    gdf.attrs["source"] = f"{path}:{name}"
    return gdf


# ------------------------------------------------------------------------------------------
# freight flows (H2)
# ------------------------------------------------------------------------------------------

def _origin_table(sites: pd.DataFrame, kind: str) -> pd.DataFrame:
    """site_id, lon, lat, weight, plants (tuple) of suppliers or extra origins."""
    n = len(sites)
    if "site_id" in sites:
        ids = sites["site_id"].astype(str).to_numpy()
    else:
        ids = np.char.add(f"{kind}_", np.arange(1, n + 1).astype(str)).astype(object)
    if "lon" in sites and "lat" in sites:
        lon = sites["lon"].to_numpy(float)
        lat = sites["lat"].to_numpy(float)
    else:
        pts = shapely.point_on_surface(np.asarray(gpd.GeoSeries(sites.geometry).to_crs(4326).values))
        lon, lat = shapely.get_x(pts), shapely.get_y(pts)
    weight = sites["weight"].to_numpy(float) if "weight" in sites else np.ones(n)
    plants = sites["plants"] if "plants" in sites else pd.Series([()] * n, dtype=object)
    return pd.DataFrame({"supplier_id": ids, "lon": lon, "lat": lat, "weight": weight,
                         "plants": plants.to_numpy(), "origin_kind": kind})


def freight_flows(net, suppliers: pd.DataFrame, plants: pd.DataFrame, profile: str = "truck",
                  max_snap_m: float | None = DEFAULT_MAX_SNAP_M,
                  extra_origins: pd.DataFrame | None = None) -> pd.DataFrame:
    """Supplier → plant freight flows with volumes and truck travel times.

    Parameters
    ----------
    net : RoadNetwork
    suppliers : DataFrame
        From :func:`planner.sites.read_sites` (``kind="supplier"``): ``site_id``, ``lon``,
        ``lat``, ``weight`` (e.g. daily deliveries; 1 when absent), ``plants`` (tuple of plant
        ids served; empty tuple = all plants).
    plants : DataFrame
        ``site_id``, ``lon``, ``lat`` (``read_sites(kind="plant")``).
    profile : str
        Travel-time profile (a truck profile for hydrogen trucks).
    max_snap_m : float or None
        Snap limit for origins and plants: the distance from the point to its nearest road
        (:func:`planner.routing.snap_to_roads` raises beyond it).
    extra_origins : GeoDataFrame, optional
        More flow origins, e.g. logistics hubs or bus stations: points with optional
        ``site_id`` (default ``extra_<n>``), ``weight`` (default 1) and ``plants`` (default all
        plants); ``lon``/``lat`` columns or a geometry in any CRS. Their ids must not clash with
        supplier ids.

    Returns
    -------
    DataFrame
        One row per (origin, plant) pair, in supplier order then plant order (:data:`FLOW_COLUMNS`):
        ``flow_id`` (``"<supplier_id>><plant_id>"``), ``supplier_id``, ``plant_id``,
        ``origin_lon``, ``origin_lat``, ``destination_lon``, ``destination_lat`` (WGS-84 of the
        origin and the plant as given, not snapped: :func:`flow_candidate_pairs` snaps them
        again, to the same roads), ``origin_snap_m``, ``destination_snap_m`` (distance from the
        point to its road, metres), ``volume`` (origin weight / number of plants it serves),
        ``minutes`` (one way, origin → plant, from the origin's point on its road to the plant's;
        ``inf`` when unreachable), ``reachable`` (bool — unreachable flows are kept, flagged, and
        ignored by :func:`flow_candidate_pairs`), ``origin_kind`` (``"supplier"`` or ``"extra"``).
        ``attrs``: ``profile``, ``n_unreachable``.

    Raises
    ------
    InputError
        A supplier names a plant id that is not in ``plants`` (naming the supplier file and
        the ``plants`` column), duplicate origin ids, or no plants.
    SnapError
        Origins or plants farther than ``max_snap_m`` from the nearest road.

    Notes
    -----
    One matrix call, :func:`planner.routing.point_travel_times` from the origins to the plants,
    the same call as the supplier coverage (:func:`planner.supply_circle.supplier_coverage`), so
    a supplier → plant flow has the coverage tables' minutes for the same profile. Only the
    loaded leg is modelled (the empty return trip is not a separate flow).
    """
    src = suppliers.attrs.get("source")
    if len(plants) == 0:
        raise InputError("no plants: freight flows need at least one plant", path=plants.attrs.get("source"))
    plant_ids = plants["site_id"].astype(str).to_numpy()
    parts = [_origin_table(suppliers, "supplier")]
    if extra_origins is not None and len(extra_origins):
        parts.append(_origin_table(extra_origins, "extra"))
    origins = pd.concat(parts, ignore_index=True)
    dup = origins["supplier_id"].duplicated(keep=False).to_numpy()
    if dup.any():
        raise InputError(f"duplicate origin ids: {', '.join(pd.unique(origins['supplier_id'][dup])[:5])}",
                         path=src, column="site_id")
    bad_w = ~(origins["weight"].to_numpy(float) >= 0) | ~np.isfinite(origins["weight"].to_numpy(float))
    if bad_w.any():
        raise InputError(f"weights must be finite and >= 0: {', '.join(origins['supplier_id'][bad_w][:5])}",
                         path=src, column="weight")
    origins["origin"] = np.arange(len(origins))

    # expand origin × served plants (empty tuple = all plants), vectorised through explode
    ex = origins[["origin", "plants"]].explode("plants")
    listed = ex[ex["plants"].notna()].rename(columns={"plants": "plant_id"})
    listed["plant_id"] = listed["plant_id"].astype(str).str.strip()
    listed = listed[listed["plant_id"] != ""]
    served_all = np.setdiff1d(origins["origin"].to_numpy(), listed["origin"].to_numpy())
    every = pd.DataFrame({"origin": np.repeat(served_all, len(plant_ids)),
                          "plant_id": np.tile(plant_ids, len(served_all))})
    pairs = pd.concat([listed, every], ignore_index=True).drop_duplicates(["origin", "plant_id"])
    plant_pos = pd.Index(plant_ids).get_indexer(pairs["plant_id"].to_numpy())
    unknown = plant_pos < 0
    if unknown.any():
        bad = pairs[unknown]
        shown = ", ".join(f"{origins['supplier_id'].iat[o]} → {p}"
                          for o, p in zip(bad["origin"].to_numpy()[:5], bad["plant_id"].to_numpy()[:5]))
        raise InputError(f"{int(unknown.sum())} served plant id(s) not in the plant list "
                         f"({', '.join(plant_ids[:10])}): {shown}", path=src, column="plants")
    pairs = pairs.assign(plant=plant_pos).sort_values(["origin", "plant"], kind="stable")
    o = pairs["origin"].to_numpy(np.int64)
    p = pairs["plant"].to_numpy(np.int64)
    n_served = np.bincount(o, minlength=len(origins))
    volume = origins["weight"].to_numpy(float)[o] / n_served[o]

    olon, olat = origins["lon"].to_numpy(float), origins["lat"].to_numpy(float)
    plon, plat = plants["lon"].to_numpy(float), plants["lat"].to_numpy(float)
    o_pts = snap_to_roads(net, olon, olat, max_snap_m, ids=origins["supplier_id"].to_numpy())
    p_pts = snap_to_roads(net, plon, plat, max_snap_m, ids=plant_ids)
    seconds = point_travel_times(net, o_pts, p_pts, profile=profile)[o, p]

    sid = origins["supplier_id"].to_numpy()[o].astype(str)
    pid = plant_ids[p].astype(str)
    flows = pd.DataFrame({
        "flow_id": np.char.add(np.char.add(sid, ">"), pid).astype(object),
        "supplier_id": sid.astype(object),
        "plant_id": pid.astype(object),
        "origin_lon": olon[o],
        "origin_lat": olat[o],
        "destination_lon": plon[p],
        "destination_lat": plat[p],
        "origin_snap_m": o_pts.snap_m[o],
        "destination_snap_m": p_pts.snap_m[p],
        "volume": volume,
        "minutes": seconds / 60.0,
        "reachable": np.isfinite(seconds),
        "origin_kind": origins["origin_kind"].to_numpy()[o],
    })
    flows.attrs.update({"profile": profile, "n_unreachable": int((~flows["reachable"]).sum())})
    return flows


def flow_candidate_pairs(net, flows: pd.DataFrame, candidates: Snapped, profile: str | None = None,
                         max_detour_min: float = 0.0, block_cells: int = 4_000_000) -> pd.DataFrame:
    """Which candidate stations can serve which freight flow (flow-refuelling rule).

    Station ``k`` serves flow ``o → d`` when

    .. math:: t(o \\to k) + t(k \\to d) \\le t(o \\to d) + \\Delta

    with :math:`\\Delta` = ``max_detour_min`` (0: ``k`` lies on a shortest path; sums within
    ``TIME_EPS_S`` = 1e-6 s count as ties). Origins, destinations and stations are points on
    their nearest roads; every time runs from point to point along the roads
    (:func:`planner.routing.point_travel_times`: partial edges, one-way streets, two points on
    one edge), the same times as the flows' own minutes.

    Parameters
    ----------
    net : RoadNetwork
    flows : DataFrame
        From :func:`freight_flows` (``flow_id``, ``origin_lon``, ``origin_lat``,
        ``destination_lon``, ``destination_lat``, ``minutes``). The points are snapped again
        without a limit (:func:`freight_flows` applied it). Unreachable flows (``minutes`` =
        inf) get no pairs.
    candidates : Snapped
        The candidate stations snapped onto their roads (:func:`planner.routing.snap_to_roads`,
        e.g. :func:`planner.stations.problem.snap_sites`); point ``j`` is candidate ``j``.
    profile : str, optional
        Must be the profile the flows' minutes were computed with (default
        ``flows.attrs["profile"]``, else ``"truck"``).
    max_detour_min : float
        Allowed extra minutes for the detour through the station.
    block_cells : int
        Flows are processed in blocks of about this many flow × candidate cells (memory bound).

    Returns
    -------
    DataFrame
        Long (sparse) table, sorted by flow then candidate (:data:`PAIR_COLUMNS`): ``flow``
        (row position in ``flows``), ``flow_id``, ``candidate`` (position in ``candidates``),
        ``detour_min`` (>= 0).

    Notes
    -----
    Two matrix calls only: from the distinct flow origins to the candidates and from the
    candidates to the distinct destinations (each :func:`~planner.routing.point_travel_times`,
    which searches from whichever side has fewer road ends).
    """
    if max_detour_min < 0 or not np.isfinite(max_detour_min):
        raise InputError(f"max_detour_min must be a finite number >= 0, got {max_detour_min}")
    timed = flows.attrs.get("profile")
    if profile and timed and profile != timed:
        raise InputError(f"the flows were timed with profile '{timed}', not '{profile}': detours "
                         f"must use the same travel times")
    profile = profile or timed or "truck"
    empty = pd.DataFrame({"flow": np.empty(0, np.int64), "flow_id": np.empty(0, object),
                          "candidate": np.empty(0, np.int64), "detour_min": np.empty(0, float)})
    t_od = flows["minutes"].to_numpy(float) * 60.0
    rows = np.flatnonzero(np.isfinite(t_od))
    n_cand = len(candidates)
    if len(rows) == 0 or n_cand == 0:
        return empty
    uo, io = _distinct_points(flows, "origin", rows)
    ud, idd = _distinct_points(flows, "destination", rows)
    a = point_travel_times(net, snap_to_roads(net, uo[:, 0], uo[:, 1], None), candidates, profile)  # o → k
    b = point_travel_times(net, candidates, snap_to_roads(net, ud[:, 0], ud[:, 1], None), profile).T  # k → d
    limit = max_detour_min * 60.0 + TIME_EPS_S
    step = max(1, int(block_cells) // n_cand)
    found_f, found_k, found_d = [], [], []
    for start in range(0, len(rows), step):  # blocks of flows, not points
        sl = slice(start, start + step)
        extra = a[io[sl]] + b[idd[sl]] - t_od[rows[sl]][:, None]
        f, k = np.nonzero(extra <= limit)
        found_f.append(rows[sl][f])
        found_k.append(k)
        found_d.append(np.maximum(extra[f, k], 0.0) / 60.0)
    f = np.concatenate(found_f).astype(np.int64)
    k = np.concatenate(found_k).astype(np.int64)
    if len(f) == 0:
        return empty
    return pd.DataFrame({"flow": f, "flow_id": flows["flow_id"].to_numpy()[f], "candidate": k,
                         "detour_min": np.concatenate(found_d)})


def _distinct_points(flows: pd.DataFrame, end: str, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (lon, lat) of the flows' ``end`` ("origin"/"destination") at ``rows``, and each row's index."""
    ll = flows[[f"{end}_lon", f"{end}_lat"]].to_numpy(float)[rows]
    uniq, inv = np.unique(ll, axis=0, return_inverse=True)
    return uniq, inv.ravel()


def flow_volume_by_candidate(pairs: pd.DataFrame, flows: pd.DataFrame, n_candidates: int) -> np.ndarray:
    """Total volume of the flows each candidate can serve (a flow counts once per candidate).

    Returns
    -------
    ndarray of float, shape (n_candidates,)
    """
    vol = flows["volume"].to_numpy(float)
    return np.bincount(pairs["candidate"].to_numpy(np.int64), weights=vol[pairs["flow"].to_numpy(np.int64)],
                       minlength=int(n_candidates)).astype(float)


def flow_coverage_matrix(pairs: pd.DataFrame, n_flows: int, n_candidates: int) -> sp.csr_matrix:
    """Boolean CSR matrix (flows × candidates): ``True`` where the candidate serves the flow."""
    data = np.ones(len(pairs), dtype=bool)
    return sp.csr_matrix((data, (pairs["flow"].to_numpy(np.int64), pairs["candidate"].to_numpy(np.int64))),
                         shape=(int(n_flows), int(n_candidates)), dtype=bool)


# ------------------------------------------------------------------------------------------
# EV demand (HPC)
# ------------------------------------------------------------------------------------------

def _empty_points() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"source": pd.Series([], dtype=object), "fclass": pd.Series([], dtype=object),
                             "weight": np.empty(0)}, geometry=gpd.GeoSeries([], crs=4326), crs=4326)


def poi_demand_points(gdf: gpd.GeoDataFrame, fclass_weights: Mapping[str, float],
                      default_weight: float = 0.0, source: str | None = None) -> gpd.GeoDataFrame:
    """Weighted EV demand points from a POI layer (points, or polygons via a point inside).

    Parameters
    ----------
    gdf : GeoDataFrame
        Geofabrik-style layer with an ``fclass`` column (``pois``, ``pois_a``, ``transport``,
        ``places``...). Polygons are placed at ``shapely.point_on_surface`` (always inside).
    fclass_weights : mapping
        Weight per ``fclass`` (``DemandRule.fclass_weights``).
    default_weight : float
        Weight of the classes not listed (``DemandRule.default_weight``; 0 = ignore them).
    source : str, optional
        Label stored in the ``source`` column (default ``gdf.attrs["source"]``).

    Returns
    -------
    GeoDataFrame
        EPSG:4326 points with positive weight only: ``source``, ``fclass``, ``weight``, geometry.

    Raises
    ------
    InputError
        No ``fclass`` column, or a negative weight.
    """
    where = gdf.attrs.get("source")
    if "fclass" not in gdf.columns:
        raise InputError("missing column (POI layers need Geofabrik's fclass)", path=where, column="fclass")
    bad = {k: v for k, v in fclass_weights.items() if not v >= 0} or (
        {"default_weight": default_weight} if not default_weight >= 0 else {})
    if bad:
        raise InputError(f"weights must be >= 0: {bad}", path=where, column="fclass")
    fclass = gdf["fclass"].astype(object).to_numpy()
    w = pd.Series(fclass).map(dict(fclass_weights)).fillna(default_weight).to_numpy(float)
    geom = np.asarray(gdf.geometry.values)
    keep = (w > 0) & ~(shapely.is_missing(geom) | shapely.is_empty(geom))
    if not keep.any():
        return _empty_points()
    pts = shapely.point_on_surface(geom[keep])
    label = source if source is not None else (where or "")
    return gpd.GeoDataFrame({"source": label, "fclass": fclass[keep], "weight": w[keep]},
                            geometry=pts, crs=gdf.crs or 4326).to_crs(4326)


def road_demand_points(net, weight_per_km: float,
                       class_factors: Mapping[str, float] | None = None) -> gpd.GeoDataFrame:
    """Traffic-proxy EV demand: one point per network edge at its midpoint.

    weight = ``weight_per_km`` × length (km) × class factor (:data:`ROAD_CLASS_FACTORS`, **a
    guess**; ``default`` for edges without a known class). Each drivable direction of a two-way
    road is an edge, so two-way roads count twice (traffic in both directions). Repaired
    (synthetic) edges get weight 0.

    Returns
    -------
    GeoDataFrame
        EPSG:4326 points with positive weight: ``source`` (``"roads"``), ``fclass`` (road
        class or ``"default"``), ``weight``, geometry.
    """
    factors = dict(ROAD_CLASS_FACTORS if class_factors is None else class_factors)
    if weight_per_km <= 0 or len(net.edges) == 0:
        return _empty_points()
    cls = net.edges["road_class"].astype(object).to_numpy()
    known = pd.Series(cls).isin(list(factors)).to_numpy()
    cls = np.where(known, cls, "default").astype(object)
    f = pd.Series(cls).map(factors).fillna(factors.get("default", 0.0)).to_numpy(float)
    if "repaired" in net.edges:
        f = np.where(net.edges["repaired"].to_numpy(bool), 0.0, f)
    w = weight_per_km * net.edges["length_m"].to_numpy(float) / 1000.0 * f
    keep = w > 0
    mid = shapely.line_interpolate_point(np.asarray(net.edges.geometry.values)[keep], 0.5, normalized=True)
    return gpd.GeoDataFrame({"source": "roads", "fclass": cls[keep], "weight": w[keep]},
                            geometry=mid, crs=net.edges.crs or 4326).to_crs(4326)


def to_metric(lon, lat, metric_crs):
    """Projected x, y (metres) of WGS-84 lon/lat in ``metric_crs``."""
    from pyproj import Transformer

    tr = Transformer.from_crs(4326, metric_crs, always_xy=True)
    x, y = tr.transform(np.asarray(lon, float), np.asarray(lat, float))
    return np.asarray(x, float), np.asarray(y, float)


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Smallest value v with (weight of values <= v) >= q × total weight."""
    if len(values) == 0:
        return float("nan")
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    k = int(np.searchsorted(cum, q * cum[-1] * (1 - 1e-12), side="left"))
    return float(values[order][min(k, len(values) - 1)])


def _allocate(share: np.ndarray, cap: np.ndarray, k: int) -> np.ndarray:
    """Split ``k`` clusters over groups in proportion to ``share``: >= 1 and <= ``cap`` each."""
    share = np.asarray(share, float)
    kg = np.minimum(np.maximum(np.floor(share / share.sum() * k), 1), cap).astype(np.int64)
    for _ in range(len(share) + 1):  # a few rounds over the groups, not over points
        need = k - int(kg.sum())
        room = kg < cap
        if need <= 0 or not room.any():
            break
        q = np.where(room, share, 0.0)
        add = np.minimum(np.floor(q / q.sum() * need), cap - kg).astype(np.int64)
        if add.sum() == 0:
            add[int(np.argmax(np.where(room, share / (kg + 1), -np.inf)))] = 1
        kg += add
    while kg.sum() > k:  # the floor of 1 per group can overshoot by a few
        kg[int(np.argmax(kg))] -= 1
    return kg


def _kmeans_labels(z: np.ndarray, w: np.ndarray, k: int, seed: int, method: str,
                   cells_per_fit: float) -> tuple[np.ndarray, str]:
    """Cluster labels of weighted 2-D points (scikit-learn, seeded)."""
    import warnings

    from sklearn.cluster import KMeans, MiniBatchKMeans
    from sklearn.exceptions import ConvergenceWarning

    n = len(z)
    if method == "auto":
        method = "kmeans" if n * k <= cells_per_fit else "partitioned"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if method == "kmeans":
            return KMeans(n_clusters=k, random_state=seed, n_init=1, max_iter=100).fit_predict(
                z, sample_weight=w), "KMeans"
        if method == "minibatch":
            km = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=1, max_iter=100,
                                 batch_size=max(4096, 3 * k))
            return km.fit_predict(z, sample_weight=w), "MiniBatchKMeans"
        if method != "partitioned":
            raise InputError(f"unknown clustering method '{method}'; use auto, kmeans, minibatch "
                             f"or partitioned")
        # two-stage weighted KMeans: coarse groups, then clusters per group ∝ group weight
        n_groups = int(min(k, max(2, np.ceil(n * k / cells_per_fit))))
        group = KMeans(n_clusters=n_groups, random_state=seed, n_init=1).fit_predict(z, sample_weight=w)
        count = np.bincount(group, minlength=n_groups)
        kg = _allocate(np.bincount(group, weights=w, minlength=n_groups), count, k)
        labels = np.empty(n, np.int64)
        offset = np.concatenate([[0], np.cumsum(kg)[:-1]])
        order = np.argsort(group, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(count)])
        for g in np.flatnonzero(count):  # loop over a few dozen groups
            idx = order[bounds[g]:bounds[g + 1]]
            if kg[g] >= len(idx):
                lab = np.arange(len(idx))
            else:
                lab = KMeans(n_clusters=int(kg[g]), random_state=seed, n_init=1, max_iter=100).fit_predict(
                    z[idx], sample_weight=w[idx])
            labels[idx] = lab + offset[g]
        return labels, f"partitioned KMeans ({n_groups} groups)"


def cluster_demand(points: gpd.GeoDataFrame, n_clusters: int, metric_crs: str = BEIJING_METRIC_CRS,
                   seed: int = RANDOM_SEED, prefix: str = "ev", method: str = "auto",
                   cells_per_fit: float = 2e7) -> tuple[gpd.GeoDataFrame, dict]:
    """Aggregate weighted demand points into about ``n_clusters`` weighted demand points.

    Weighted k-means (scikit-learn ``KMeans`` with ``sample_weight``, seeded) in the metric
    CRS, after merging points at identical coordinates. Each cluster is placed at the
    **weighted mean of its points** (recomputed from the final labels, so the loss below is
    exact for the returned centres). Empty clusters are dropped. With no more distinct points
    than clusters every distinct point is its own cluster (loss 0).

    Methods (``method="auto"`` picks ``kmeans`` when points × clusters <= ``cells_per_fit``,
    else ``partitioned``):

    * ``kmeans``: one weighted ``KMeans`` (k-means++ start, Lloyd iterations).
    * ``partitioned``: weighted ``KMeans`` into G coarse groups (G = points × clusters /
      ``cells_per_fit``, at least 2), then clusters allotted to each group in proportion to its
      weight (at least 1) and a weighted ``KMeans`` per group. scikit-learn's assignment step
      costs points × clusters per iteration, which for 70,000 points × 1,500 clusters in 2-D
      takes minutes; on the shared data this runs in a few seconds for about 10 % more loss
      than one global KMeans (measured: 238 vs 218 m mean distance).
    * ``minibatch``: ``MiniBatchKMeans`` (similar loss to ``partitioned``, several times slower
      here).

    Parameters
    ----------
    points : GeoDataFrame
        Points with ``weight`` >= 0 (rows with weight 0 are dropped; EPSG:4326 assumed when
        the CRS is unset; polygons are placed at a point inside).
    n_clusters : int
        Target number of demand points (``siting.ev_clusters``).
    metric_crs : str
        Projected CRS for the clustering and the distances (e.g. ``net.metric_crs``).
    seed : int
        Random state (default :data:`planner.vocab.RANDOM_SEED`): same input → same output.
    prefix : str
        ``demand_id`` prefix (``"ev_0001"``...).
    method : {"auto", "kmeans", "partitioned", "minibatch"}
    cells_per_fit : float
        Work bound (points × clusters) of one KMeans fit, see ``method``.

    Returns
    -------
    demand : GeoDataFrame
        EPSG:4326: ``demand_id``, ``weight`` (sum of the members' weights), ``n_points``
        (raw points merged), ``lon``, ``lat``, geometry (Point at the weighted centre).
        ``attrs["loss"]`` = ``loss``.
    loss : dict
        Aggregation error: ``n_points`` (raw, weight > 0), ``n_distinct`` (distinct
        locations), ``n_clusters`` (returned), ``total_weight``, ``mean_m`` (weighted mean
        distance from a raw point to its cluster centre, metres), ``p95_m`` (weighted 95th
        percentile of that distance), ``max_m``, ``method``.

    Raises
    ------
    InputError
        Negative or non-finite weights, ``n_clusters`` < 1, unknown method.
    """
    if n_clusters < 1:
        raise InputError(f"n_clusters must be >= 1, got {n_clusters}")
    w = points["weight"].to_numpy(float) if len(points) else np.empty(0)
    if not np.isfinite(w).all() or (w < 0).any():
        raise InputError("demand weights must be finite and >= 0", path=points.attrs.get("source"),
                         column="weight")
    keep = w > 0
    gs = gpd.GeoSeries(points.geometry) if len(points) else gpd.GeoSeries([], crs=4326)
    gs = gs.set_crs(4326) if gs.crs is None else gs
    geom = np.asarray(gs.to_crs(4326).values)[keep]
    geom = shapely.point_on_surface(geom) if len(geom) else geom
    w = w[keep]
    n = len(w)
    base = {"n_points": int(n), "total_weight": float(w.sum())}
    if n == 0:
        empty = gpd.GeoDataFrame({"demand_id": pd.Series([], dtype=object), "weight": np.empty(0),
                                  "n_points": np.empty(0, np.int64), "lon": np.empty(0), "lat": np.empty(0)},
                                 geometry=gpd.GeoSeries([], crs=4326), crs=4326)
        return empty, base | {"n_distinct": 0, "n_clusters": 0, "mean_m": 0.0, "p95_m": 0.0,
                              "max_m": 0.0, "method": "none"}
    x, y = to_metric(shapely.get_x(geom), shapely.get_y(geom), metric_crs)
    # merge points at identical coordinates (centimetre grid) before clustering
    _, first, site = np.unique(np.round(np.column_stack([x, y]), 2), axis=0, return_index=True,
                               return_inverse=True)
    site = site.ravel()
    ws = np.bincount(site, weights=w)
    zs = np.column_stack([x[first], y[first]])
    if len(ws) <= n_clusters:
        labels_site, used_method = np.arange(len(ws)), "none"
    else:
        # centred coordinates: k-means is translation invariant, float precision is not
        labels_site, used_method = _kmeans_labels(zs - zs.mean(axis=0), ws, int(n_clusters), int(seed),
                                                  method, cells_per_fit)
    labels = labels_site[site]
    k = int(labels.max()) + 1
    wsum = np.bincount(labels, weights=w, minlength=k)
    cnt = np.bincount(labels, minlength=k)
    cx = np.bincount(labels, weights=w * x, minlength=k)
    cy = np.bincount(labels, weights=w * y, minlength=k)
    used = cnt > 0
    cx = np.divide(cx, wsum, out=np.zeros(k), where=used)
    cy = np.divide(cy, wsum, out=np.zeros(k), where=used)
    dist = np.hypot(x - cx[labels], y - cy[labels])
    loss = base | {
        "n_distinct": int(len(ws)),
        "n_clusters": int(used.sum()),
        "mean_m": float(np.average(dist, weights=w)),
        "p95_m": _weighted_quantile(dist, w, 0.95),
        "max_m": float(dist.max()),
        "method": used_method,
    }
    from pyproj import Transformer

    tr = Transformer.from_crs(metric_crs, 4326, always_xy=True)
    lon, lat = tr.transform(cx[used], cy[used])
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    m = int(used.sum())
    ids = pd.Series(np.arange(1, m + 1)).astype(str).str.zfill(max(4, len(str(m))))
    demand = gpd.GeoDataFrame({"demand_id": (f"{prefix}_" + ids).to_numpy(object), "weight": wsum[used],
                               "n_points": cnt[used].astype(np.int64), "lon": lon, "lat": lat},
                              geometry=gpd.points_from_xy(lon, lat), crs=4326)
    demand.attrs["loss"] = loss
    return demand, loss


def ev_demand(point_sets: Iterable[gpd.GeoDataFrame], n_clusters: int,
              metric_crs: str = BEIJING_METRIC_CRS, seed: int = RANDOM_SEED) -> tuple[gpd.GeoDataFrame, dict]:
    """Concatenate weighted point sets (POIs, road proxies) and cluster them (:func:`cluster_demand`).

    The loss dict also carries ``points_by_source`` and ``weight_by_source`` (before clustering).
    """
    sets = [p for p in point_sets if p is not None and len(p)]
    pts = (pd.concat([p[["source", "fclass", "weight", "geometry"]].to_crs(4326) for p in sets],
                     ignore_index=True) if sets else _empty_points())
    pts = gpd.GeoDataFrame(pts, geometry="geometry", crs=4326)
    demand, loss = cluster_demand(pts, n_clusters, metric_crs=metric_crs, seed=seed)
    by = pts.groupby("source")["weight"]
    loss["points_by_source"] = {str(k): int(v) for k, v in by.size().items()}
    loss["weight_by_source"] = {str(k): float(v) for k, v in by.sum().items()}
    return demand, loss


# ------------------------------------------------------------------------------------------
# PV-storage (光储充)
# ------------------------------------------------------------------------------------------

def polygon_area_m2(geometry, metric_crs: str = BEIJING_METRIC_CRS) -> np.ndarray:
    """Area in m² of each geometry (measured in ``metric_crs``; points/lines → NaN)."""
    gs = gpd.GeoSeries(geometry)
    if gs.crs is None:
        gs = gs.set_crs(4326)
    arr = np.asarray(gs.to_crs(metric_crs).values)
    area = shapely.area(arr).astype(float)
    is_poly = np.isin(shapely.get_type_id(arr), (3, 6))  # Polygon, MultiPolygon
    return np.where(is_poly, area, np.nan)


def pv_yield_kwh(area_m2, kwh_per_m2: float = PV_YIELD_KWH_PER_M2) -> np.ndarray:
    """Annual PV yield estimate, kWh/yr = area (m²) × ``kwh_per_m2``.

    The default 200 kWh/m²·yr is **derived** (see :data:`PV_YIELD_KWH_PER_M2`): 0.20 kWp/m²
    canopy density (parameters.md §5 "Canopy power density", 82 kW on ~410 m² of carport) ×
    ~1,010 kWh/kWp·yr (parameters.md §5 "Beijing specific yield", Yizhuang Xiaomi rooftop
    16.2 MW → 16.4 GWh/yr; a Beijing specific yield was NOT FOUND directly and this single data
    point is lower than the usual 1,200–1,450 assumption — check with PVGIS). It assumes the
    whole area can be covered; NaN areas stay NaN.
    """
    return np.asarray(area_m2, dtype=float) * float(kwh_per_m2)


def pv_sites(gdf: gpd.GeoDataFrame, kwh_per_m2: float = PV_YIELD_KWH_PER_M2,
             metric_crs: str = BEIJING_METRIC_CRS) -> gpd.GeoDataFrame:
    """Parking polygons / roofs with ``area_m2`` and ``pv_yield_kwh`` (annual) added.

    Keeps an existing ``area_m2`` column (e.g. :func:`planner.stations.candidates.candidates_from_layer`
    output, whose geometry is a point) and measures it from polygons otherwise.
    """
    out = gdf.copy()
    if "area_m2" not in out.columns:
        out["area_m2"] = polygon_area_m2(out.geometry, metric_crs)
    out["pv_yield_kwh"] = pv_yield_kwh(out["area_m2"].to_numpy(float), kwh_per_m2)
    return out


def pv_storage_demand(ev: gpd.GeoDataFrame, share: float = 1.0) -> gpd.GeoDataFrame:
    """Demand of PV-storage (光储充) stations: the EV demand, weight × ``share``.

    Why: a 光储充 station is a charging station whose PV canopy and battery cut grid draw and
    peak charges; its customers are the same EV drivers the HPC stations serve (parameters.md
    §5 examples: Gao'antun, Guiyang hub, all charging stations with PV). So the coverage
    demand is the EV demand, and the PV side enters as a **site score**
    (``pv_yield_kwh`` / ``score_pv_storage`` of the candidates: which lots make the most
    energy), not as demand. ``share`` < 1 models the part of EV demand meant for this
    technology (e.g. slower, cheaper charging) when HPC and PV-storage are sited together.

    Returns
    -------
    GeoDataFrame
        Copy of ``ev`` with ``demand_id`` prefixed ``pv_`` and ``weight`` scaled.
    """
    if not 0 <= share <= 1:
        raise InputError(f"share must be in [0, 1], got {share}")
    out = ev.copy()
    out["weight"] = out["weight"].to_numpy(float) * share
    out["demand_id"] = "pv_" + out["demand_id"].astype(str)
    return out
