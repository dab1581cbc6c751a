"""Candidate station sites: one table from OSM parking / fuel areas and user lists, with
per-technology eligibility masks and scores.

Flow (the scenario glue is :mod:`planner.pipeline.stations`)::

    cands = load_candidates(sc)                          # pipeline; or candidates_from_layer / _from_sites
    cands = snap_candidates(net, cands, sc.network.max_snap_m)
    flows = freight_flows(net, suppliers, plants, "truck")          # planner.stations.demand
    pairs = flow_candidate_pairs(net, flows, snap_sites(net, cands), max_detour_min=...)  # problem
    vol = flow_volume_by_candidate(pairs, flows, len(cands))
    cands = score_for_scenario(cands, sc, sensitive=load_sensitive(sc), flow_volume=vol)  # pipeline
    mask = technology_mask(cands, "h2", sc.siting.technologies["h2"])
    pairs_ij = conflict_pairs(cands[mask], sc.siting.technologies["h2"].min_spacing_m)

Rules and their sources (rows of ``shared/reference/parameters.md``):

* **H2** (hydrogen refuelling): a station must keep ``h2_safety_m`` (default 50 m) from
  sensitive POIs (``h2_sensitive_fclass``, default school / hospital / kindergarten). Basis:
  GB 50516-2010 (2021 ed.), commentary of Table 4.0.4A (from GB 50177): *important public
  buildings 50 m for every storage size* (§3, conf. H). **The values of Table 4.0.4A itself
  (residential protection classes, roads...) were NOT FOUND**, nor the station class
  thresholds; §4.0.2 (no Class-1 station in a city-centre area, not near arterial
  intersections) is not modelled. The distance is measured from the candidate's point (inside
  its lot) to the nearest sensitive feature (point, or polygon edge/inside for ``pois_a``).
  Score: share of the freight-flow volume the site can serve within the allowed detour
  (0–1, relative to the best site) + ``fuel_bonus`` (0.5) for existing fuel forecourts
  (co-location: hazardous-goods permits, access, staff already there).
* **HPC** (high-power charging): grid headroom in kVA from the user list's headroom column,
  else ``hpc_default_headroom_kva`` (2,000 kVA). Plugs the headroom carries:
  ``floor(kVA × power factor 0.92 × efficiency 0.95 / (simultaneity 0.7 × plug kW))`` — the
  vendor sizing rule "10 × 400 kW → about 3,200 kVA (70 % simultaneity, power factor 0.92,
  efficiency 0.95)" (§4 "Grid connection, rules of thumb", conf. L); it gives 8.3 × 300 kW on
  2,000 kVA, in line with the same row's "2,000 kVA carries 8–10 × 300 kW". Plug power
  600 kW (liquid-cooled supercharger, §4, conf. M) → 4 plugs on 2,000 kVA. Eligible with at
  least one plug; score = plugs.
* **PV-storage** (光储充): lot area ≥ ``pv_min_area_m2`` (default 400 m²); annual yield
  ``area × pv_yield_kwh_per_m2`` (200 kWh/m²·yr, derived: see
  :data:`planner.stations.demand.PV_YIELD_KWH_PER_M2`); score = yield in MWh/yr.

``existing`` (always open) and ``competitor`` (demand already served) come from the
``CandidateSource`` flags and are carried through untouched; eligibility does not look at them.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.spatial import cKDTree

from planner._headers import find_column, norm
from planner._io import VECTOR_SUFFIXES
from planner.coords import to_wgs84
from planner.errors import InputError, ScenarioError
from planner.routing import snap
from planner.settings import BEIJING_METRIC_CRS
from planner.sites import read_sites
from planner.technology import Technology
from planner.vocab import DEFAULT_MAX_SNAP_M

from .demand import PV_YIELD_KWH_PER_M2, polygon_area_m2, pv_yield_kwh, read_layer, to_metric

__all__ = [
    "CANDIDATE_COLUMNS",
    "SCORE_COLUMNS",
    "OSM_CANDIDATE_FCLASS",
    "HPC_PLUG_KW",
    "HPC_SIMULTANEITY",
    "HPC_POWER_FACTOR",
    "HPC_EFFICIENCY",
    "H2_FUEL_BONUS",
    "candidates_from_layer",
    "candidates_from_sites",
    "read_candidate_source",
    "sensitive_features",
    "hpc_plugs",
    "score_candidates",
    "technology_rule",
    "technology_mask",
    "snap_candidates",
    "conflict_pairs",
    "conflict_matrix",
]

#: Columns every candidate table starts with (then ``fclass``, ``headroom_kva``, geometry).
CANDIDATE_COLUMNS: tuple[str, ...] = (
    "candidate_id", "name", "kind", "lon", "lat", "area_m2", "source", "existing", "competitor",
)

#: Columns added by :func:`score_candidates`.
SCORE_COLUMNS: tuple[str, ...] = (
    "sensitive_m", "flow_volume", "eligible_h2", "score_h2", "headroom_kva", "hpc_plugs",
    "eligible_hpc", "score_hpc", "pv_yield_kwh", "eligible_pv_storage", "score_pv_storage",
)

#: Geofabrik ``traffic_a`` classes used as charging / H2 sites (bicycle parking, piers... are not).
OSM_CANDIDATE_FCLASS: tuple[str, ...] = ("parking", "fuel")

#: Liquid-cooled supercharger plug, kW (parameters.md §4, conf. M).
HPC_PLUG_KW = 600.0
#: Sizing rule "10 × 400 kW → about 3,200 kVA" (parameters.md §4, vendor, conf. L).
HPC_SIMULTANEITY = 0.7
HPC_POWER_FACTOR = 0.92
HPC_EFFICIENCY = 0.95
#: Score bonus of existing fuel forecourts for H2 (a judgement: half the best flow score).
H2_FUEL_BONUS = 0.5

_AREA_ALIASES = ("area_m2", "area", "area_sqm", "lot_area", "面积", "占地面积", "面积m2", "停车场面积")
_HEADROOM_ALIASES = ("headroom_kva", "grid_headroom_kva", "headroom", "grid_headroom", "capacity_kva",
                     "kva", "电网余量", "可用容量", "变压器余量", "配电余量", "容量kva")
_TECH_RULES = {"freight": "h2", "ev": "hpc", "pv": "pv_storage"}
_NAME_RULES = {"h2": "h2", "hydrogen": "h2", "hrs": "h2", "hpc": "hpc", "charging": "hpc",
               "pv": "pv_storage", "pv_storage": "pv_storage", "pvstorage": "pv_storage",
               "solar": "pv_storage"}


# ------------------------------------------------------------------------------------------
# building the table
# ------------------------------------------------------------------------------------------

def _text(values, fallback: np.ndarray) -> np.ndarray:
    s = pd.Series(values, dtype=object)
    s = s.where(s.notna(), "").astype(str).str.strip()
    return np.where(s.to_numpy(dtype=object) == "", fallback, s.to_numpy(dtype=object)).astype(object)


def _frame(ids, names, kinds, lon, lat, area, source, existing, competitor, fclass, headroom):
    n = len(ids)
    return gpd.GeoDataFrame({
        "candidate_id": pd.Series(ids, dtype=object),
        "name": pd.Series(names, dtype=object),
        "kind": pd.Series(kinds, dtype=object),
        "lon": np.asarray(lon, float), "lat": np.asarray(lat, float),
        "area_m2": np.asarray(area, float),
        "source": pd.Series([source] * n, dtype=object),
        "existing": np.full(n, bool(existing)),
        "competitor": np.full(n, bool(competitor)),
        "fclass": pd.Series(fclass, dtype=object),
        "headroom_kva": np.asarray(headroom, float),
    }, geometry=gpd.points_from_xy(lon, lat), crs=4326)


def _check_unique(ids: np.ndarray, where, column) -> None:
    dup = pd.Series(ids).duplicated(keep=False).to_numpy()
    if dup.any():
        shown = ", ".join(pd.unique(ids[dup])[:5])
        raise InputError(f"{int(dup.sum())} rows share a candidate id: {shown}", path=where, column=column)


def _numbers(table: pd.DataFrame, column: str, where, rows: np.ndarray, word: str = "row") -> np.ndarray:
    raw = table[column]
    blank = raw.isna() | (raw.astype(str).str.strip() == "")
    num = pd.to_numeric(raw.where(~blank), errors="coerce").to_numpy(float)
    bad = np.flatnonzero((~blank.to_numpy() & ~np.isfinite(num)) | (num < 0))
    if len(bad) == 1 and word == "row":
        raise InputError("must be a number >= 0 (blank = unknown)", path=where, row=int(rows[bad[0]]),
                         column=column)
    if len(bad):
        shown = ", ".join(str(rows[i]) for i in bad[:5]) + (f" (and {len(bad) - 5} more)" if len(bad) > 5 else "")
        label = word if len(bad) == 1 else f"{word}s"
        raise InputError(f"{label} {shown}: must be a number >= 0 (blank = unknown)", path=where, column=column)
    return num


def candidates_from_layer(gdf: gpd.GeoDataFrame, *, fclass: Sequence[str] = (), kind: str = "",
                          source: str = "", existing: bool = False, competitor: bool = False,
                          coord_system: str = "wgs84", id_column: str = "osm_id",
                          metric_crs: str = BEIJING_METRIC_CRS) -> gpd.GeoDataFrame:
    """Candidates from a GIS layer such as Geofabrik ``traffic_a`` (parking / fuel polygons).

    Parameters
    ----------
    gdf : GeoDataFrame
        Any CRS (EPSG:4326 assumed when unset); points or polygons.
    fclass : sequence of str
        Keep only these ``fclass`` values (empty = keep all).
    kind : str
        Kind of every candidate; empty = the row's ``fclass`` (``"parking"``, ``"fuel"``),
        else ``"site"``.
    source : str
        Name of the candidate source (the ``siting.candidates`` key), stored in ``source``.
    existing, competitor : bool
        Flags for every row (``CandidateSource.existing`` / ``.competitor``).
    coord_system : {"wgs84", "gcj02", "bd09"}
        System of the layer's (EPSG:4326) coordinates; points are converted to WGS-84.
    id_column : str
        Stable id column (default ``osm_id``); feature numbers (1-based) when absent.
    metric_crs : str
        CRS in which ``area_m2`` is measured.

    Returns
    -------
    GeoDataFrame
        EPSG:4326, index 0..n-1, columns :data:`CANDIDATE_COLUMNS` + ``fclass``,
        ``headroom_kva`` (from a headroom column if the layer has one, else NaN) + geometry (a
        Point inside the feature, ``shapely.point_on_surface``). ``candidate_id`` is
        ``"<kind>_<id>"`` (e.g. ``parking_1234567``); ``area_m2`` is the polygon's area (NaN
        for point features); ``name`` falls back to the id.

    Raises
    ------
    InputError
        Missing ``fclass`` column when filtering, features without geometry, duplicate ids.
    """
    where = gdf.attrs.get("source")
    if fclass and "fclass" not in gdf.columns:
        raise InputError("missing column needed by the fclass filter", path=where, column="fclass")
    if gdf.crs is None:
        gdf = gdf.set_crs(4326)
    fc = gdf["fclass"].astype(object).to_numpy() if "fclass" in gdf.columns else np.full(len(gdf), None, object)
    keep = np.isin(fc, list(fclass)) if fclass else np.ones(len(gdf), bool)
    feature_no = np.flatnonzero(keep) + 1
    sub = gdf.loc[keep].to_crs(4326)
    fc = fc[keep]
    geom = np.asarray(sub.geometry.values)
    missing = shapely.is_missing(geom) | shapely.is_empty(geom)
    if missing.any():
        shown = ", ".join(map(str, feature_no[missing][:5]))
        raise InputError(f"features {shown} have no geometry", path=where, column="geometry")
    if id_column in sub.columns:
        raw_id = _text(sub[id_column].to_numpy(), feature_no.astype(str).astype(object))
    else:
        raw_id = feature_no.astype(str).astype(object)
    if kind:
        kinds = np.full(len(sub), kind, dtype=object)
    else:
        kinds = _text(fc, np.full(len(sub), "site", dtype=object))
    ids = np.char.add(np.char.add(kinds.astype(str), "_"), raw_id.astype(str)).astype(object)
    _check_unique(ids, where, id_column)
    area = polygon_area_m2(gpd.GeoSeries(geom, crs=4326), metric_crs)
    pts = shapely.point_on_surface(geom)
    lon, lat = to_wgs84(shapely.get_x(pts).astype(float), shapely.get_y(pts).astype(float), coord_system)
    names = _text(sub["name"].to_numpy() if "name" in sub.columns else np.full(len(sub), None), ids)
    head_col = find_column(sub.columns, _HEADROOM_ALIASES)
    headroom = (_numbers(sub.reset_index(drop=True), head_col, where, feature_no, "feature")
                if head_col else np.full(len(sub), np.nan))
    return _frame(ids, names, kinds, lon, lat, area, source, existing, competitor, fc, headroom)


def candidates_from_sites(sites: gpd.GeoDataFrame, *, kind: str = "", source: str = "",
                          existing: bool = False, competitor: bool = False) -> gpd.GeoDataFrame:
    """Candidates from a user list read by :func:`planner.sites.read_sites` (``kind="candidate"``).

    ``candidate_id`` is ``"<kind or source or 'user'>_<site_id>"``; ``area_m2`` comes from an
    area column (``area_m2``, ``area``, ``面积``...) and ``headroom_kva`` from a grid-headroom
    column (``headroom_kva``, ``kva``, ``电网余量``, ``可用容量``...) when present, else NaN;
    ``kind`` is ``kind``, else the list's ``category``, else ``"user"``; ``fclass`` is None.

    Raises
    ------
    InputError
        Non-numeric or negative area / headroom (naming file, rows and column), duplicate ids.
    """
    where = sites.attrs.get("source")
    n = len(sites)
    rows = sites["source_row"].to_numpy() if "source_row" in sites else np.arange(2, n + 2)
    word = sites.attrs.get("row_word", "row")
    table = pd.DataFrame(sites.drop(columns=sites.geometry.name)).reset_index(drop=True)
    area_col = find_column(table.columns, _AREA_ALIASES)
    head_col = find_column(table.columns, _HEADROOM_ALIASES)
    area = _numbers(table, area_col, where, rows, word) if area_col else np.full(n, np.nan)
    headroom = _numbers(table, head_col, where, rows, word) if head_col else np.full(n, np.nan)
    prefix = kind or source or "user"
    if kind:
        kinds = np.full(n, kind, dtype=object)
    else:
        cat = table["category"].to_numpy(object) if "category" in table else np.full(n, None, object)
        kinds = _text(cat, np.full(n, "user", dtype=object))
    ids = np.char.add(f"{prefix}_", table["site_id"].astype(str).to_numpy().astype(str)).astype(object)
    _check_unique(ids, where, "site_id")
    return _frame(ids, table["name"].astype(str).to_numpy(object), kinds, table["lon"].to_numpy(float),
                  table["lat"].to_numpy(float), area, source, existing, competitor,
                  np.full(n, None, object), headroom)


def read_candidate_source(name: str, src, resolve: Callable[[str], Path] = Path,
                          metric_crs: str = BEIJING_METRIC_CRS) -> gpd.GeoDataFrame:
    """Read one ``siting.candidates.<name>`` source (a ``CandidateSource``).

    GIS layers with an ``fclass`` column (OSM / Geofabrik) or an ``fclass`` filter go through
    :func:`candidates_from_layer` (``osm_id`` ids, polygon areas). Other GIS layers and tables
    (CSV / Excel; ``layer`` names the Excel sheet) go through
    :func:`planner.sites.read_sites` (``kind="candidate"``, ``polygon_points=True``) and
    :func:`candidates_from_sites`; polygon layers get their measured area when the file has no
    area column.

    Raises
    ------
    ScenarioError
        ``fclass`` filter on a table file (naming ``siting.candidates.<name>.fclass``).
    InputError
        Unreadable file / layer / column (naming the file).
    """
    path = Path(resolve(src.path))
    vector = path.suffix.lower() in VECTOR_SUFFIXES
    common = dict(existing=src.existing, competitor=src.competitor)
    if vector:
        gdf = read_layer(path, src.layer)
        if src.fclass or "fclass" in gdf.columns:
            return candidates_from_layer(gdf, fclass=src.fclass, kind=src.kind, source=name,
                                         coord_system=src.coord_system, metric_crs=metric_crs, **common)
        sites = read_sites(path, kind="candidate", layer=src.layer, coord_system=src.coord_system,
                           polygon_points=True)
        out = candidates_from_sites(sites, kind=src.kind, source=name, **common)
        if out["area_m2"].isna().all() and len(gdf) == len(out):
            out["area_m2"] = polygon_area_m2(gdf.geometry, metric_crs)
        return out
    if src.fclass:
        raise ScenarioError("fclass filters apply to GIS layers (GeoPackage...) only, not to tables",
                            key=f"siting.candidates.{name}.fclass")
    sheet = src.layer if path.suffix.lower() in {".xlsx", ".xlsm"} else None
    sites = read_sites(path, kind="candidate", coord_system=src.coord_system, sheet=sheet)
    return candidates_from_sites(sites, kind=src.kind, source=name, **common)


# ------------------------------------------------------------------------------------------
# sensitive POIs (H2 safety spacing)
# ------------------------------------------------------------------------------------------

def sensitive_features(layers: Iterable[gpd.GeoDataFrame], fclasses: Sequence[str]) -> gpd.GeoSeries:
    """Geometries (EPSG:4326) of the features whose ``fclass`` is in ``fclasses``.

    Layers without an ``fclass`` column are skipped.
    """
    want = list(fclasses)
    parts = [g.loc[g["fclass"].isin(want)].geometry.to_crs(4326) for g in layers
             if g is not None and "fclass" in g.columns and len(g)]
    parts = [p for p in parts if len(p)]
    if not parts:
        return gpd.GeoSeries([], crs=4326)
    return gpd.GeoSeries(pd.concat(parts, ignore_index=True), crs=4326)


# ------------------------------------------------------------------------------------------
# eligibility and scores
# ------------------------------------------------------------------------------------------

def hpc_plugs(headroom_kva, plug_kw: float = HPC_PLUG_KW, simultaneity: float = HPC_SIMULTANEITY,
              power_factor: float = HPC_POWER_FACTOR, efficiency: float = HPC_EFFICIENCY) -> np.ndarray:
    """HPC plugs a grid headroom carries: ``floor(kVA × pf × eff / (simultaneity × plug kW))``.

    Sizing rule of parameters.md §4 ("10 × 400 kW → about 3,200 kVA at 70 % simultaneity,
    power factor 0.92, efficiency 0.95", vendor, conf. L): 2,000 kVA → 4 plugs of 600 kW
    (8 of 300 kW). NaN headroom → 0 plugs.
    """
    kva = np.nan_to_num(np.asarray(headroom_kva, dtype=float), nan=0.0)
    if plug_kw <= 0 or simultaneity <= 0:
        raise InputError(f"plug_kw and simultaneity must be positive, got {plug_kw}, {simultaneity}")
    return np.floor(kva * power_factor * efficiency / (simultaneity * plug_kw) + 1e-9).astype(np.int64)


def _nearest_distance(lon, lat, geoms: gpd.GeoSeries, metric_crs: str) -> np.ndarray:
    """Distance (m) from each point to the nearest geometry (inf when there is none)."""
    if geoms is None or len(geoms) == 0 or len(lon) == 0:
        return np.full(len(lon), np.inf)
    gs = geoms if geoms.crs is not None else geoms.set_crs(4326)
    target = np.asarray(gs.to_crs(metric_crs).values)
    target = target[~(shapely.is_missing(target) | shapely.is_empty(target))]
    if len(target) == 0:
        return np.full(len(lon), np.inf)
    x, y = to_metric(lon, lat, metric_crs)
    pts = shapely.points(x, y)
    tree = shapely.STRtree(target)
    (src, _), dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
    out = np.full(len(pts), np.inf)
    out[src] = dist
    return out


def score_candidates(candidates: gpd.GeoDataFrame, *, sensitive: gpd.GeoSeries | None = None,
                     h2_safety_m: float = 50.0, pv_min_area_m2: float = 400.0,
                     pv_yield_kwh_per_m2: float = PV_YIELD_KWH_PER_M2,
                     default_headroom_kva: float = 2000.0, plug_kw: float = HPC_PLUG_KW,
                     flow_volume=None, fuel_bonus: float = H2_FUEL_BONUS,
                     metric_crs: str = BEIJING_METRIC_CRS) -> gpd.GeoDataFrame:
    """Per-technology eligibility masks and scores (rules: module docstring).

    Parameters
    ----------
    candidates : GeoDataFrame
        From :func:`planner.pipeline.stations.load_candidates` (``kind``, ``lon``, ``lat``, ``area_m2``; optional
        ``headroom_kva``, ``fclass``).
    sensitive : GeoSeries, optional
        Sensitive features for the H2 spacing (:func:`planner.pipeline.stations.load_sensitive`); none = no constraint.
    h2_safety_m : float
        Minimum distance from a sensitive feature (``siting.h2_safety_m``, GB 50516 basis 50 m).
    pv_min_area_m2, pv_yield_kwh_per_m2 : float
        ``siting.pv_min_area_m2`` and ``siting.pv_yield_kwh_per_m2``.
    default_headroom_kva : float
        Headroom where the candidate has none (``siting.hpc_default_headroom_kva``).
    plug_kw : float
        HPC plug power.
    flow_volume : array-like, optional
        Freight volume each candidate can serve (:func:`~planner.stations.demand.flow_volume_by_candidate`);
        zeros when not given.
    fuel_bonus : float
        H2 score added for fuel forecourts (``kind`` or ``fclass`` ``"fuel"``).
    metric_crs : str

    Returns
    -------
    GeoDataFrame
        A copy with :data:`SCORE_COLUMNS`: ``sensitive_m`` (m to the nearest sensitive
        feature, inf if none), ``flow_volume``, ``eligible_h2`` (``sensitive_m >=
        h2_safety_m``), ``score_h2`` (flow volume / max flow volume + bonus), ``headroom_kva``
        (filled with the default), ``hpc_plugs``, ``eligible_hpc`` (>= 1 plug), ``score_hpc``
        (plugs), ``pv_yield_kwh`` (NaN without area), ``eligible_pv_storage`` (area >= min),
        ``score_pv_storage`` (MWh/yr, 0 without area). Scores are computed for every row,
        eligible or not.
    """
    out = candidates.copy()
    n = len(out)
    lon, lat = out["lon"].to_numpy(float), out["lat"].to_numpy(float)
    dist = _nearest_distance(lon, lat, sensitive, metric_crs)
    vol = np.zeros(n) if flow_volume is None else np.asarray(flow_volume, dtype=float)
    if vol.shape != (n,):
        raise InputError(f"flow_volume has {vol.size} values for {n} candidates")
    top = vol.max() if n and vol.max() > 0 else 1.0
    kind = out["kind"].astype(str).str.lower().to_numpy()
    fcl = (out["fclass"].astype(str).str.lower().to_numpy() if "fclass" in out else np.full(n, ""))
    fuel = (kind == "fuel") | (fcl == "fuel")
    head = out["headroom_kva"].to_numpy(float) if "headroom_kva" in out else np.full(n, np.nan)
    head = np.where(np.isfinite(head), head, float(default_headroom_kva))
    plugs = hpc_plugs(head, plug_kw)
    area = out["area_m2"].to_numpy(float)
    pv = pv_yield_kwh(area, pv_yield_kwh_per_m2)
    out["sensitive_m"] = dist
    out["flow_volume"] = vol
    out["eligible_h2"] = dist >= h2_safety_m
    out["score_h2"] = vol / top + fuel_bonus * fuel
    out["headroom_kva"] = head
    out["hpc_plugs"] = plugs
    out["eligible_hpc"] = plugs >= 1
    out["score_hpc"] = plugs.astype(float)
    out["pv_yield_kwh"] = pv
    out["eligible_pv_storage"] = np.nan_to_num(area, nan=-1.0) >= pv_min_area_m2
    out["score_pv_storage"] = np.nan_to_num(pv, nan=0.0) / 1000.0
    return out


def technology_rule(name: str, tech: Technology) -> str:
    """Which rule set (``"h2"``, ``"hpc"``, ``"pv_storage"``) a technology uses.

    From ``tech.demand`` (``freight`` → h2, ``ev`` → hpc, ``pv`` → pv_storage), else from
    the technology's name (``h2``/``hydrogen``, ``hpc``/``charging``, ``pv``/``pv_storage``/``solar``).

    Raises
    ------
    ScenarioError
        Naming ``siting.technologies.<name>.demand`` when neither tells.
    """
    demand = tech.demand.strip().lower()
    if demand in _TECH_RULES:
        return _TECH_RULES[demand]
    key = norm(name)
    if key in _NAME_RULES:
        return _NAME_RULES[key]
    raise ScenarioError(f"cannot tell the technology's rules: set demand to one of "
                        f"{', '.join(_TECH_RULES)}", key=f"siting.technologies.{name}.demand")


def technology_mask(candidates: pd.DataFrame, name: str, tech: Technology) -> np.ndarray:
    """Candidates open to a technology: its eligibility column and its ``candidate_sources``.

    Returns
    -------
    ndarray of bool
        ``eligible_<rule>`` and (when ``tech.candidate_sources`` is not empty) ``source`` in it.
    """
    col = f"eligible_{technology_rule(name, tech)}"
    if col not in candidates:
        raise InputError(f"candidates have no '{col}' column: run score_candidates first", column=col)
    mask = candidates[col].to_numpy(bool)
    sources = list(tech.candidate_sources)
    if sources:
        mask = mask & candidates["source"].isin(sources).to_numpy()
    return mask


# ------------------------------------------------------------------------------------------
# network and spacing
# ------------------------------------------------------------------------------------------

def snap_candidates(net, candidates: gpd.GeoDataFrame,
                    max_snap_m: float | None = DEFAULT_MAX_SNAP_M) -> gpd.GeoDataFrame:
    """Copy with ``node`` (the nearest road's end nearest along it), ``snap_m`` (distance to the road)
    and ``on_network`` (snap_m <= limit).

    Never raises for far candidates (OSM lots outside the road network's area are normal):
    filter on ``on_network``.
    """
    out = candidates.copy()
    if len(out) == 0:
        out["node"], out["snap_m"], out["on_network"] = np.empty(0, np.int64), np.empty(0), np.empty(0, bool)
        return out
    node, d = snap(net, out["lon"].to_numpy(float), out["lat"].to_numpy(float), max_snap_m=None)
    out["node"] = node
    out["snap_m"] = d
    out["on_network"] = d <= (np.inf if max_snap_m is None else max_snap_m)
    return out


#: Farthest a named road may be for "near <road>" (m). guess: about a city block in E-Town.
NEAR_ROAD_MAX_M = 300.0
#: Farthest a named road may be for "<m> m from <road>" (m); beyond it the id is kept. guess
FAR_ROAD_MAX_M = 2000.0


def display_names(candidates: pd.DataFrame, roads: gpd.GeoDataFrame, near: str = "near {road}",
                  max_m: float = NEAR_ROAD_MAX_M, metric_crs: str = BEIJING_METRIC_CRS,
                  far: str = "{m} m from {road}", far_max_m: float = FAR_ROAD_MAX_M) -> np.ndarray:
    """Readable names of candidate sites: their own name, else the nearest named road (with its
    distance, rounded to 50 m, when it is farther than ``max_m``).

    A candidate "has its own name" when ``name`` is neither ``candidate_id`` nor the source's id
    inside it (the readers fall back to the id when the source has no name: ``parking_1150166371``
    for an OSM lot, ``K1`` for row ``K1`` of a list whose candidate id is ``parking_K1``).

    Parameters
    ----------
    candidates : DataFrame
        ``candidate_id``, ``name``, ``lon``, ``lat`` (WGS-84).
    roads : GeoDataFrame
        ``name`` and line geometry (e.g. ``net.edges``); rows without a name are ignored.
    near : str
        Format with ``{road}`` for a site without its own name (e.g. ``"近 {road}"``).
    max_m : float
        Farthest named road for ``near``.
    metric_crs : str
        CRS in which distances are measured.
    far : str
        Format with ``{road}`` and ``{m}`` (metres) for a named road between ``max_m`` and
        ``far_max_m`` away (e.g. ``"距 {road} {m} 米"``); beyond it the id is kept.
    far_max_m : float
        Farthest named road used at all.

    Returns
    -------
    numpy.ndarray of str, one per candidate.
    """
    ids = candidates["candidate_id"].astype(str).to_numpy(object)
    own = candidates["name"].where(candidates["name"].notna(), "").astype(str).str.strip().to_numpy(object)
    fallback = (own == "") | (own == ids) | np.array([i.endswith(f"_{n}") for i, n in zip(ids, own)], bool)
    out = np.where(fallback, ids, own).astype(object)
    need = np.flatnonzero(fallback)
    names = roads["name"].where(roads["name"].notna(), "").astype(str).str.strip() if "name" in roads else None
    if not len(need) or names is None or not (names != "").any():
        return out
    named = roads.loc[(names != "").to_numpy()]
    lines = named.geometry.to_crs(metric_crs).values
    pts = gpd.GeoSeries(gpd.points_from_xy(candidates["lon"].to_numpy(float)[need],
                                           candidates["lat"].to_numpy(float)[need]), crs=4326).to_crs(metric_crs)
    hit, dist = shapely.STRtree(lines).query_nearest(pts.values, max_distance=far_max_m, all_matches=False,
                                                     return_distance=True)
    road = named["name"].astype(str).str.strip().to_numpy(object)[hit[1]]
    out[need[hit[0]]] = [near.format(road=r) if d <= max_m else far.format(road=r, m=int(50 * round(d / 50)))
                         for r, d in zip(road, dist)]
    return out


def conflict_pairs(candidates: pd.DataFrame, min_spacing_m: float,
                   metric_crs: str = BEIJING_METRIC_CRS) -> np.ndarray:
    """Pairs of candidates closer than ``min_spacing_m`` (straight line, metric CRS).

    Parameters
    ----------
    candidates : DataFrame
        ``lon``, ``lat`` (WGS-84).
    min_spacing_m : float
        ``Technology.min_spacing_m``; 0 = no pairs.

    Returns
    -------
    ndarray of int64, shape (k, 2)
        Row positions ``(i, j)`` with ``i < j`` and distance ``< min_spacing_m`` (strictly),
        sorted; for the spacing constraint ``x_i + x_j <= 1``.
    """
    n = len(candidates)
    if min_spacing_m <= 0 or n < 2:
        return np.empty((0, 2), dtype=np.int64)
    x, y = to_metric(candidates["lon"].to_numpy(float), candidates["lat"].to_numpy(float), metric_crs)
    xy = np.column_stack([x, y])
    pairs = cKDTree(xy).query_pairs(r=float(min_spacing_m), output_type="ndarray").astype(np.int64)
    if len(pairs) == 0:
        return np.empty((0, 2), dtype=np.int64)
    d = np.hypot(*(xy[pairs[:, 0]] - xy[pairs[:, 1]]).T)
    pairs = np.sort(pairs[d < min_spacing_m], axis=1)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]


def conflict_matrix(pairs: np.ndarray, n: int) -> sp.csr_matrix:
    """Symmetric 0/1 CSR matrix (n × n) of :func:`conflict_pairs` (the form the search uses)."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    i = np.concatenate([pairs[:, 0], pairs[:, 1]])
    j = np.concatenate([pairs[:, 1], pairs[:, 0]])
    return sp.csr_matrix((np.ones(len(i)), (i, j)), shape=(int(n), int(n)))
