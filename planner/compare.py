"""Comparing candidate site lists (scenario A vs B) and comparing two run output folders.

Two questions a planner asks when a colleague sends "version B" of a station list:

1. *What changed?* :func:`match_sites` pairs the sites of list A with those of list B — by id
   first, then the still unmatched ones by distance (same technology, nearest first, one to one,
   within ``within_m``) — and labels every site ``kept``, ``moved`` (same id, now farther than
   ``within_m`` from where it was), ``added`` (only in B) or ``removed`` (only in A).
2. *What does it change?* :func:`compare_site_lists` evaluates both lists on the same road
   network and demand (:func:`evaluate_list`): stations and capex per technology, demand weight
   within each technology's radius, the share of demand covered and its change, the demand
   points whose nearest station changes, and — when the lists contain plants — the
   30-minute supplier circle around them.

:func:`compare_runs` compares two run output folders written by ``planner run`` (selected
sites, plant coverage, budget), and :func:`compare_cli` is the ``planner compare`` command.

Travel times are network times from each demand point **to** a station (``direction="to"``:
Dijkstra from the station on the reversed graph), as for suppliers driving to a plant. Freight
(hydrogen) flows are served by the optimiser's detour rule instead
(:func:`planner.siting.demand.flow_candidate_pairs`): a station serves flow ``o → d`` when the
detour ``t(o→k) + t(k→d) - t(o→d)`` is within the radius, so a list of the run's own stations
reports the shares the run reported.
Everything is a pure function on (Geo)DataFrames except :func:`read_site_list`,
:func:`compare_runs`, :func:`compare_cli` and the ``to_files`` methods, which read or write files.
"""
from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from planner.errors import InputError, PlannerError, ScenarioError

__all__ = [
    "TECHNOLOGIES",
    "STATION_TECHNOLOGIES",
    "STATUSES",
    "read_site_list",
    "normalise_technology",
    "match_sites",
    "evaluate_list",
    "supplier_circle",
    "compare_site_lists",
    "compare_runs",
    "compare_cli",
    "ListEvaluation",
    "ListComparison",
    "RunComparison",
]

#: Technology codes accepted in a site list.
TECHNOLOGIES: tuple[str, ...] = ("h2", "hpc", "pv_storage", "plant")
#: Technologies evaluated against demand (``plant`` rows feed the supplier circle instead).
STATION_TECHNOLOGIES: tuple[str, ...] = ("h2", "hpc", "pv_storage")
#: Values of ``status`` in :func:`match_sites`.
STATUSES: tuple[str, ...] = ("kept", "moved", "added", "removed")

#: Column names that hold the technology (normalised like :func:`_norm`), best first.
TECHNOLOGY_COLUMN_ALIASES: tuple[str, ...] = (
    "technology", "tech", "type", "station_type", "类型", "技术", "技术类型", "站点类型", "站型",
)
#: Column names that hold a per-site capex in 万元, best first.
CAPEX_COLUMN_ALIASES: tuple[str, ...] = (
    "capex_wan", "capex", "投资万元", "投资", "投资额", "建设投资", "造价",
)
#: Technology values (normalised like :func:`_norm`) → code.
TECHNOLOGY_VALUES: dict[str, str] = {
    "h2": "h2", "hydrogen": "h2", "hrs": "h2", "加氢站": "h2", "加氢": "h2", "氢能": "h2",
    "hpc": "hpc", "highpowercharging": "hpc", "大功率充电": "hpc", "大功率充电站": "hpc",
    "超充": "hpc", "超充站": "hpc", "超级充电": "hpc", "超级充电站": "hpc",
    "pvstorage": "pv_storage", "pvstoragecharging": "pv_storage", "光储充": "pv_storage",
    "光储充一体站": "pv_storage", "光储充一体": "pv_storage", "光储充一体化": "pv_storage",
    "光储充站": "pv_storage",
    "plant": "plant", "factory": "plant", "工厂": "plant", "主机厂": "plant",
}
_ALLOWED_TEXT = "h2, hpc, pv_storage, plant (or 加氢站, 大功率充电/超充, 光储充, 工厂)"
_SUMMARY_TECH_ORDER = STATION_TECHNOLOGIES + ("total", "supplier_circle")
_SUPPLIER_CIRCLE = "supplier_circle"


# ------------------------------------------------------------------------------ small helpers
def _norm(text) -> str:
    """Normalised name or value: NFKC, lower case, no whitespace or punctuation."""
    s = unicodedata.normalize("NFKC", str(text)).lower().strip()
    return re.sub(r"[\s_\-.:/\\()\[\]{}【】（）<>]+", "", s)


def _norm_variants(name) -> list[str]:
    """A column name as is and without a bracketed part (``投资(万元)`` → ``投资``)."""
    s = unicodedata.normalize("NFKC", str(name))
    out = [_norm(s), _norm(re.sub(r"[(\[{（【].*?[)\]}）】]", "", s))]
    return [v for i, v in enumerate(out) if v and v not in out[:i]]


def normalise_technology(values) -> tuple[np.ndarray, np.ndarray]:
    """Technology codes of raw values (English or Chinese, any case).

    Parameters
    ----------
    values : array-like
        Raw cells, e.g. ``"H2"``, ``"加氢站"``, ``"超充"``, ``"PV-storage"``.

    Returns
    -------
    codes : ndarray of object
        ``h2`` | ``hpc`` | ``pv_storage`` | ``plant``, ``None`` where not recognised.
    ok : ndarray of bool
        Recognised values.
    """
    s = pd.Series(values, dtype=object)
    blank = s.isna().to_numpy()
    keys = s.where(~s.isna(), "").map(_norm)
    codes = keys.map(TECHNOLOGY_VALUES).to_numpy(dtype=object)
    ok = ~blank & pd.notna(codes)
    codes = np.where(ok, codes, None)
    return codes, ok


def _tech_order(values) -> list[str]:
    seen = list(dict.fromkeys(str(v) for v in values))
    return [t for t in _SUMMARY_TECH_ORDER if t in seen] + [t for t in seen if t not in _SUMMARY_TECH_ORDER]


def _cfg(technologies, tech: str):
    """Scenario technology settings (a :class:`planner.scenario.Technology` or a mapping)."""
    if technologies is None:
        return None
    return technologies.get(tech) if isinstance(technologies, Mapping) else getattr(technologies, tech, None)


def _attr(cfg, name: str):
    return cfg[name] if isinstance(cfg, Mapping) else getattr(cfg, name)


def _str_ids(values) -> np.ndarray:
    """Ids as strings (``3.0`` → ``"3"``)."""
    def one(v):
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            return str(int(v))
        return str(v).strip()

    return pd.Series(values, dtype=object).map(one).to_numpy(dtype=object)


def _lonlat(df, what: str) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 lon/lat of a frame's points (geometry when present, else ``lon``/``lat`` columns)."""
    geom = None
    if isinstance(df, gpd.GeoDataFrame):
        try:
            geom = df.geometry
        except AttributeError:  # no active geometry column
            geom = None
    if geom is not None and bool(geom.notna().all()) and not bool(geom.is_empty.any()):
        if len(geom) == 0:
            return np.empty(0), np.empty(0)
        if geom.crs is not None and not geom.crs.equals("EPSG:4326"):
            geom = geom.to_crs(4326)
        if not (geom.geom_type == "Point").all():
            geom = geom.representative_point()
        return geom.x.to_numpy(float), geom.y.to_numpy(float)
    missing = [c for c in ("lon", "lat") if c not in df]
    if missing:
        raise InputError(f"{what}: no point geometry and no {'/'.join(missing)} column")
    return df["lon"].to_numpy(float), df["lat"].to_numpy(float)


def _site_frame(df, what: str) -> gpd.GeoDataFrame:
    """A site list as site_id, technology, name, lon, lat, capex_wan, geometry (EPSG:4326)."""
    missing = [c for c in ("site_id", "technology") if c not in df]
    if missing:
        raise InputError(f"{what}: missing column(s) {', '.join(missing)}")
    ids = _str_ids(df["site_id"])
    codes, ok = normalise_technology(df["technology"])
    if not ok.all():
        bad = pd.Series(df["technology"]).iloc[np.flatnonzero(~ok)[:3]].tolist()
        raise InputError(f"{what}: unknown technology {', '.join(map(repr, bad))}; use {_ALLOWED_TEXT}",
                         column="technology")
    # a site may host several technologies (co-location): a station is (site_id, technology)
    dup = pd.DataFrame({"i": ids, "t": codes}).duplicated(keep=False).to_numpy()
    if dup.any():
        raise InputError(f"{what}: duplicate station(s) (same site id and technology): "
                         f"{', '.join(sorted(set(ids[dup]))[:5])}", column="site_id")
    lon, lat = _lonlat(df, what)
    names = df["name"].to_numpy(dtype=object) if "name" in df else ids
    names = np.array([n if isinstance(n, str) and n.strip() else i for n, i in zip(names, ids)], dtype=object)
    capex = (pd.to_numeric(df["capex_wan"], errors="coerce").to_numpy(float) if "capex_wan" in df
             else np.full(len(ids), np.nan))
    return gpd.GeoDataFrame(
        {"site_id": ids, "technology": codes, "name": names, "lon": lon, "lat": lat, "capex_wan": capex},
        geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")


def _metric_xy(lon, lat, crs: str) -> np.ndarray:
    from pyproj import Transformer

    x, y = Transformer.from_crs(4326, crs, always_xy=True).transform(np.asarray(lon, float), np.asarray(lat, float))
    return np.column_stack([np.asarray(x, float), np.asarray(y, float)])


# ------------------------------------------------------------------------------- reading lists
def read_site_list(path, coord_system: str = "wgs84", **kwargs) -> gpd.GeoDataFrame:
    """Read a candidate site list with a technology per site.

    Parsing (encodings, Excel, GIS layers, column aliases, coordinate systems, row numbers in
    errors) is :func:`planner.sites.read_sites` with ``kind="candidate"``; this adds the
    technology column and the optional capex.

    Parameters
    ----------
    path : str or Path
        CSV / XLSX / GIS point layer with an id, coordinates and a technology column named
        ``technology`` / ``tech`` / ``type`` / ``类型`` (also ``技术``, ``站点类型``). Values
        ``h2`` | ``hpc`` | ``pv_storage`` | ``plant``, any case, or in Chinese: 加氢站 → h2,
        大功率充电 / 超充 → hpc, 光储充 → pv_storage, 工厂 → plant. An optional ``capex_wan`` /
        ``capex`` / ``投资(万元)`` column gives the station's capex in 万元 (blank = the
        scenario's per-station capex of its technology).
    coord_system : {"wgs84", "gcj02", "bd09"}
        System of the coordinates in the file.
    **kwargs
        Passed to :func:`planner.sites.read_sites` (``id_column``, ``sheet``, ``layer``...).

    Returns
    -------
    GeoDataFrame
        EPSG:4326, file order: ``site_id`` (str), ``technology``, ``name``, ``lon``, ``lat``
        (WGS-84), ``capex_wan`` (float, NaN when not given), geometry (Points). ``attrs``
        keeps ``source`` (the path).

    Raises
    ------
    InputError
        One line naming the file (and row and column where known): anything
        :func:`~planner.sites.read_sites` refuses, a missing technology column, an unknown or
        blank technology (listing the allowed values), a negative or non-numeric capex.
    """
    from planner.sites import STANDARD_COLUMNS, read_sites

    path = Path(path)
    kwargs.setdefault("unique_ids", False)   # a site may host several technologies
    gdf = read_sites(path, kind="candidate", coord_system=coord_system, **kwargs)
    word = gdf.attrs.get("row_word", "row")
    rows = gdf["source_row"].to_numpy()

    def error(message, pos, column):
        if word == "row":
            return InputError(message, path=path, row=int(rows[pos]), column=column)
        return InputError(f"{word} {int(rows[pos])}: {message}", path=path, column=column)

    # columns as named in the file: kept extra columns, plus the one read_sites took as category
    available: dict[str, pd.Series] = {
        c: gdf[c] for c in gdf.columns if c not in STANDARD_COLUMNS and c != gdf.geometry.name
    }
    cat_col = gdf.attrs.get("columns", {}).get("category")
    if cat_col is not None:
        available[cat_col] = gdf["category"]

    tech_col = _find_column(available, TECHNOLOGY_COLUMN_ALIASES)
    if tech_col is None:
        found = [c for c in gdf.attrs.get("columns", {}).values()] + [c for c in available if c != cat_col]
        raise InputError(f"required column 'technology' not found (looked for technology, tech, type, 类型); "
                         f"columns found: {', '.join(map(str, found))}", path=path)
    raw = available[tech_col]
    codes, ok = normalise_technology(raw)
    if not ok.all():
        pos = int(np.flatnonzero(~ok)[0])
        value = raw.iloc[pos]
        what = ("technology is blank" if value is None or (isinstance(value, float) and np.isnan(value))
                or not str(value).strip() else f"unknown technology {str(value).strip()!r}")
        more = int((~ok).sum()) - 1
        extra = f" ({more} more row(s) like this)" if more else ""
        raise error(f"{what}; use {_ALLOWED_TEXT}{extra}", pos, tech_col)
    station = pd.DataFrame({"i": gdf["site_id"].astype(str).to_numpy(), "t": codes})
    dup = np.flatnonzero(station.duplicated(keep="first").to_numpy())
    if len(dup):
        pos = int(dup[0])
        raise error(f"duplicate station: site id {station['i'].iloc[pos]!r} with technology "
                    f"{codes[pos]!r} is listed twice", pos, tech_col)

    capex = np.full(len(gdf), np.nan)
    capex_col = _find_column({c: s for c, s in available.items() if c != tech_col}, CAPEX_COLUMN_ALIASES)
    if capex_col is not None:
        txt = available[capex_col].astype(object).where(available[capex_col].notna(), "")
        txt = txt.astype(str).str.normalize("NFKC").str.replace(",", "", regex=False).str.strip()
        blank = (txt == "").to_numpy()
        capex = pd.to_numeric(txt.where(~blank, None), errors="coerce").to_numpy(float, na_value=np.nan)
        bad = ~blank & ~np.isfinite(capex)
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise error(f"capex is not a number: {available[capex_col].iloc[pos]!r}", pos, capex_col)
        neg = np.flatnonzero(capex < 0)
        if len(neg):
            raise error(f"capex must not be negative: {capex[neg[0]]:g}", int(neg[0]), capex_col)

    out = gpd.GeoDataFrame(
        {"site_id": gdf["site_id"].astype(str).to_numpy(dtype=object), "technology": codes,
         "name": gdf["name"].to_numpy(dtype=object), "lon": gdf["lon"].to_numpy(float),
         "lat": gdf["lat"].to_numpy(float), "capex_wan": capex},
        geometry=gdf.geometry.values, crs="EPSG:4326")
    out.attrs = {"source": str(path), "row_word": word, "source_rows": rows.tolist(),
                 "technology_column": tech_col, "capex_column": capex_col}
    return out


def _find_column(columns: Mapping, aliases) -> str | None:
    """The column whose name matches the best-ranked alias."""
    rank = {a: i for i, a in enumerate(_norm(a) for a in aliases)}
    best, best_rank = None, len(rank)
    for col in columns:
        for v in _norm_variants(col):
            if v in rank and rank[v] < best_rank:
                best, best_rank = col, rank[v]
    return best


# -------------------------------------------------------------------------------- matching
def _greedy_pairs(i: np.ndarray, j: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Greedy one-to-one matching of candidate pairs, nearest first; mask of accepted pairs.

    Equivalent to accepting pairs in ascending distance (ties: lower ``i``, then lower ``j``)
    whenever both ends are free, done in vectorised rounds: a pair that is the best remaining
    pair of both its ends is accepted by that greedy order, so every such pair is accepted at
    once, the pairs touching them are dropped, and the next round starts.
    """
    n = len(i)
    accepted = np.zeros(n, bool)
    if n == 0:
        return accepted
    order = np.lexsort((j, i, d))
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n)
    alive = np.ones(n, bool)
    size_i, size_j = int(i.max()) + 1, int(j.max()) + 1
    while alive.any():
        best_i = np.full(size_i, n, np.int64)
        best_j = np.full(size_j, n, np.int64)
        np.minimum.at(best_i, i[alive], rank[alive])
        np.minimum.at(best_j, j[alive], rank[alive])
        win = alive & (best_i[i] == rank) & (best_j[j] == rank)
        accepted |= win
        used_i = np.zeros(size_i, bool)
        used_j = np.zeros(size_j, bool)
        used_i[i[win]] = True
        used_j[j[win]] = True
        alive &= ~(used_i[i] | used_j[j])
    return accepted


def match_sites(a, b, within_m: float = 50.0) -> pd.DataFrame:
    """Pair the sites of list A with those of list B and label what changed.

    Sites are matched by id first (same id and same technology); a matched pair is ``kept``
    when the two points lie within ``within_m`` of each other and ``moved`` otherwise. The
    remaining sites are then matched by distance: same technology, within ``within_m``, one to
    one, nearest pairs first (cKDTree in the UTM zone of the sites); such pairs are ``kept``
    (the same place under a new id). What is left is ``removed`` (A only) or ``added``
    (B only). A station is a (site id, technology) pair: a site may list several technologies
    (co-location), and an id in both lists with different technologies counts as removed and
    added (a different station), unless the distance step pairs it.

    Parameters
    ----------
    a, b : DataFrame or GeoDataFrame
        ``site_id``, ``technology`` (codes or any accepted spelling) and point geometry or
        ``lon``/``lat`` (WGS-84), e.g. from :func:`read_site_list`.
    within_m : float
        Distance (m) under which two sites count as the same place.

    Returns
    -------
    DataFrame
        One row per A site (file order), then one per added B site: ``site_id_a``,
        ``site_id_b`` (None where absent), ``technology``, ``status`` (:data:`STATUSES`),
        ``distance_m`` (between the paired points; NaN when unpaired), ``matched_by``
        (``"id"``, ``"distance"`` or ``""``).

    Raises
    ------
    InputError
        Missing columns, duplicate ids, unknown technologies.
    """
    if not np.isfinite(within_m) or within_m < 0:
        raise PlannerError(f"within_m must be a distance >= 0 in metres, got {within_m!r}")
    a = _site_frame(a, "list A")
    b = _site_frame(b, "list B")
    return _match(a, b, float(within_m))


def _match(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame, within_m: float) -> pd.DataFrame:
    from planner.network.graph import metric_crs_for

    cols = ["site_id_a", "site_id_b", "technology", "status", "distance_m", "matched_by"]
    if len(a) + len(b) == 0:
        return pd.DataFrame(columns=cols)
    lon = np.concatenate([a.lon.to_numpy(float), b.lon.to_numpy(float)])
    lat = np.concatenate([a.lat.to_numpy(float), b.lat.to_numpy(float)])
    crs = metric_crs_for(float(np.mean(lon)), float(np.mean(lat)))
    xy = _metric_xy(lon, lat, crs)
    xa, xb = xy[: len(a)], xy[len(a):]
    ida, idb = a.site_id.to_numpy(dtype=object), b.site_id.to_numpy(dtype=object)
    ta, tb = a.technology.to_numpy(dtype=object), b.technology.to_numpy(dtype=object)

    # 1. by id: same (site_id, technology)
    pos_b = pd.Series(np.arange(len(b)), index=pd.MultiIndex.from_arrays([idb, tb]))
    jb = pos_b.reindex(pd.MultiIndex.from_arrays([ida, ta])).to_numpy() if len(b) else np.full(len(a), np.nan)
    by_id = ~np.isnan(jb)
    jb = np.where(by_id, jb, 0).astype(np.int64)
    match_b = np.where(by_id, jb, -1)
    dist = np.full(len(a), np.nan)
    if by_id.any():
        dist[by_id] = np.hypot(*(xa[by_id] - xb[jb[by_id]]).T)
    how = np.where(by_id, "id", "").astype(object)

    # 2. the rest by distance, per technology, one to one, nearest first
    free_a = match_b < 0
    free_b = np.ones(len(b), bool)
    free_b[match_b[by_id]] = False
    for tech in dict.fromkeys(ta[free_a]):
        pa = np.flatnonzero(free_a & (ta == tech))
        pb = np.flatnonzero(free_b & (tb == tech))
        if not len(pa) or not len(pb):
            continue
        pairs = cKDTree(xa[pa]).sparse_distance_matrix(cKDTree(xb[pb]), within_m, output_type="ndarray")
        if not len(pairs):
            continue
        i, j, d = pairs["i"].astype(np.int64), pairs["j"].astype(np.int64), pairs["v"].astype(float)
        ok = _greedy_pairs(i, j, d)
        match_b[pa[i[ok]]] = pb[j[ok]]
        dist[pa[i[ok]]] = d[ok]
        how[pa[i[ok]]] = "distance"
        free_b[pb[j[ok]]] = False

    paired = match_b >= 0
    status = np.where(~paired, "removed", np.where((how == "id") & (dist > within_m), "moved", "kept"))
    rows_a = pd.DataFrame({
        "site_id_a": ida,
        "site_id_b": np.where(paired, idb[np.maximum(match_b, 0)] if len(b) else None, None),
        "technology": ta, "status": status, "distance_m": dist, "matched_by": how,
    })
    rows_b = pd.DataFrame({
        "site_id_a": np.full(int(free_b.sum()), None, dtype=object), "site_id_b": idb[free_b],
        "technology": tb[free_b], "status": "added", "distance_m": np.nan, "matched_by": "",
    })
    out = pd.concat([rows_a, rows_b], ignore_index=True) if len(rows_b) else rows_a
    for c in ("site_id_a", "site_id_b"):
        out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out[cols]


# ------------------------------------------------------------------------------ evaluation
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
    ids = _str_ids(d["demand_id"])
    w = pd.to_numeric(pd.Series(d["weight"]), errors="coerce").to_numpy(float)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise InputError(f"{what}: weight must be a number >= 0 (demand id {ids[np.flatnonzero(bad)[0]]})",
                         column="weight")
    lon, lat = _lonlat(d, what)
    return ids, w, lon, lat


def _is_flow_demand(d) -> bool:
    from planner.siting.plan import FLOW_COLUMNS

    return all(c in d for c in FLOW_COLUMNS)


def _flow_service(net, d, ids, station_nodes, profile: str, radius: float):
    """Per flow: position of the station with the smallest detour (0 when none) and that detour
    in minutes (inf when no station serves it), by the optimiser's own rule."""
    from planner.siting.demand import flow_candidate_pairs

    flows = pd.DataFrame({"flow_id": ids, "origin_node": d["origin_node"].to_numpy(np.int64),
                          "destination_node": d["destination_node"].to_numpy(np.int64),
                          "minutes": d["flow_minutes"].to_numpy(float)})
    flows.attrs["profile"] = d.attrs.get("profile")
    pairs = flow_candidate_pairs(net, flows, station_nodes, profile=profile, max_detour_min=radius)
    best = pairs.sort_values(["flow", "detour_min", "candidate"], kind="stable").drop_duplicates("flow")
    k = np.zeros(len(ids), np.int64)
    minutes = np.full(len(ids), np.inf)
    k[best["flow"].to_numpy()] = best["candidate"].to_numpy()
    minutes[best["flow"].to_numpy()] = best["detour_min"].to_numpy(float)
    return k, minutes


def evaluate_list(net, sites, demand: Mapping, technologies, *, max_snap_m: float | None = 500.0,
                  report=None) -> ListEvaluation:
    """Stations, capex and demand covered per technology for one site list.

    For each technology, every demand point is assigned to its nearest reachable station of
    that technology by network time from the demand point **to** the station, both snapped onto
    their nearest road (:func:`planner.routing.point_travel_times`, the technology's
    ``profile``); ties go to the station listed first. A point is covered when
    that time is within the technology's ``radius_min``.

    Flow demand (a frame with the freight columns of :func:`planner.siting.plan.problem_demand`:
    ``origin_node``, ``destination_node``, ``flow_minutes``) is evaluated with the optimiser's
    rule, :func:`planner.siting.demand.flow_candidate_pairs`: each flow goes to the station with
    the smallest detour (ties: the station listed first), ``minutes`` is that detour, and the
    flow is covered when it is within ``radius_min``.

    Parameters
    ----------
    net : RoadNetwork
    sites : DataFrame or GeoDataFrame
        ``site_id``, ``technology``, point geometry or ``lon``/``lat``, optional
        ``capex_wan`` (e.g. :func:`read_site_list`). ``plant`` rows are ignored here.
    demand : mapping technology → GeoDataFrame
        ``demand_id``, ``weight`` (>= 0), point geometry (any CRS; WGS-84 when none); flows
        also ``origin_node``, ``destination_node``, ``flow_minutes`` (nodes of ``net``).
    technologies : mapping technology → settings
        :class:`planner.scenario.Technology` objects (``scenario.siting.technologies``) or
        mappings with ``capex_wan``, ``radius_min``, ``profile``.
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
    from planner.routing import point_travel_times, snap_to_roads

    sites = _site_frame(sites, "site list")
    stations = sites[sites.technology != "plant"]
    demand = dict(demand or {})
    techs = list(report) if report is not None else _tech_order(
        list(stations.technology) + [t for t in demand if t in STATION_TECHNOLOGIES])
    warnings: list[str] = []
    rows, frames = [], []
    for tech in techs:
        st = stations[stations.technology == tech]
        cfg = _cfg(technologies, tech)
        capex_given = st.capex_wan.to_numpy(float)
        need_cfg = len(st) and (np.isnan(capex_given).any() or tech in demand)
        if cfg is None and need_cfg:
            configured = ", ".join(technologies) if isinstance(technologies, Mapping) and technologies else "none"
            raise ScenarioError(f"not configured, but the list has {len(st)} '{tech}' station(s); "
                                f"configured: {configured}", key=f"siting.technologies.{tech}")
        capex = float(np.where(np.isnan(capex_given), _attr(cfg, "capex_wan") if cfg is not None else np.nan,
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
        radius = float(_attr(cfg, "radius_min")) if cfg is not None else np.nan
        if len(st) and len(ids):
            st_ids = st.site_id.to_numpy(dtype=object)
            s_pts = snap_to_roads(net, st.lon.to_numpy(float), st.lat.to_numpy(float), max_snap_m, ids=st_ids)
            if _is_flow_demand(d):
                k, minutes = _flow_service(net, d, ids, s_pts.node, _attr(cfg, "profile"), radius)
            else:  # demand drives to the station, from and to the points on their roads
                t = point_travel_times(net, snap_to_roads(net, lon, lat, None), s_pts,
                                       profile=_attr(cfg, "profile"))
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
                    max_snap_m: float | None = 500.0) -> pd.DataFrame:
    """Per supplier: the nearest plant it serves, minutes to it and whether it is within the circle.

    A supplier is in the circle when it reaches, within ``threshold_min`` (network time
    **to** the plant, :func:`planner.coverage.supplier_coverage`), at least one plant of
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
    from planner.coverage import supplier_coverage

    sup_ids = _str_ids(suppliers["site_id"])
    weight = suppliers["weight"].to_numpy(float) if "weight" in suppliers else np.ones(len(sup_ids))
    out = pd.DataFrame({"supplier_id": sup_ids, "plant_id": np.full(len(sup_ids), None, dtype=object),
                        "minutes": np.inf, "covered": False, "weight": weight})
    if len(plants) == 0 or len(sup_ids) == 0:
        return out
    lon, lat = _lonlat(plants, "plants")
    p = pd.DataFrame({"site_id": _str_ids(plants["site_id"]),
                      "name": plants["name"].to_numpy(dtype=object) if "name" in plants else _str_ids(plants["site_id"]),
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


# ------------------------------------------------------------------------------ comparison
def _map_keys(ids, techs, shared: set) -> np.ndarray:
    """Map ids: the site id, or ``id [technology]`` for an id listed with several technologies."""
    ids = np.asarray(ids, dtype=object)
    techs = np.asarray(techs, dtype=object)
    return np.array([f"{i} [{t}]" if i in shared else i for i, t in zip(ids, techs)], dtype=object)


def _dual_map(sites_a, sites_b, status, label_a, label_b, language, basemap, roads):
    """:func:`planner.maps.compare_map` with the match table's statuses (moved is drawn as kept).

    compare_map keys statuses by site id, so an id listed with several technologies (a
    co-located site, or a technology change) is shown as ``id [technology]``.
    """
    from planner.maps import compare_map

    both = pd.concat([sites_a[["site_id", "technology"]], sites_b[["site_id", "technology"]]])
    n_tech = both.drop_duplicates().groupby("site_id").size()
    shared = set(n_tech.index[n_tech > 1])
    ma = sites_a.assign(site_id=_map_keys(sites_a.site_id, sites_a.technology, shared))
    mb = sites_b.assign(site_id=_map_keys(sites_b.site_id, sites_b.technology, shared))
    paired = status.status.isin(["kept", "moved"]).to_numpy()
    in_a, in_b = status.site_id_a.notna().to_numpy(), status.site_id_b.notna().to_numpy()
    st = pd.concat([
        pd.DataFrame({"site_id": _map_keys(status.site_id_a[in_a], status.technology[in_a], shared),
                      "status": np.where(paired[in_a], "kept", "removed")}),
        pd.DataFrame({"site_id": _map_keys(status.site_id_b[in_b], status.technology[in_b], shared),
                      "status": np.where(paired[in_b], "kept", "added")}),
    ], ignore_index=True).drop_duplicates("site_id")
    return compare_map(ma, mb, status=st, label_a=label_a, label_b=label_b, language=language,
                       basemap=basemap, roads=roads)


def _write_tables(tables: dict, summary_json: dict, folder: Path) -> dict[str, Path]:
    from planner import outputs

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, df in tables.items():
        if df is None:
            continue
        frame = pd.DataFrame(df.drop(columns="geometry", errors="ignore"))
        written[name] = outputs.write_csv(frame, folder / f"{name}.csv")
    written["summary_json"] = outputs.write_json(outputs.clean_for_json(summary_json), folder / "summary.json")
    return written


def _plain(v):
    """A table cell as a JSON value (numpy scalars unwrapped; NaN/inf/NA → None)."""
    if v is None or v is pd.NA:
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if np.isfinite(v) else None
    return v


def _records(df: pd.DataFrame) -> list[dict]:
    return [{str(k): _plain(v) for k, v in r.items()} for r in df.to_dict(orient="records")]


@dataclass
class ListComparison:
    """Result of :func:`compare_site_lists`.

    Attributes
    ----------
    status : DataFrame
        :func:`match_sites` table.
    summary : DataFrame
        Per technology (``h2``, ``hpc``, ``pv_storage`` present in either list), then
        ``total`` (stations and capex of all stations) and ``supplier_circle`` (when plants
        are listed and suppliers given): ``stations_a``, ``stations_b``, ``delta_stations``,
        ``capex_a``, ``capex_b``, ``delta_capex`` (万元), ``demand_total``, ``covered_a``,
        ``covered_b``, ``delta_covered`` (weight), ``share_a``, ``share_b``, ``delta_share``.
        For ``supplier_circle``: stations = plants, demand = supplier weight.
    reassigned : DataFrame
        Demand points whose assigned station changes (B's station is not A's station or its
        match): ``demand_id``, ``technology``, ``station_a``, ``station_b``, ``minutes_a``,
        ``minutes_b``, ``weight``, ``covered_a``, ``covered_b``.
    circle : DataFrame or None
        Per supplier, A vs B: ``supplier_id``, ``plant_a``, ``minutes_a``, ``covered_a``,
        ``plant_b``, ``minutes_b``, ``covered_b``, ``weight``.
    sites_a, sites_b : GeoDataFrame
    assignment_a, assignment_b : DataFrame
        :attr:`ListEvaluation.assignment` of each list.
    """

    status: pd.DataFrame
    summary: pd.DataFrame
    reassigned: pd.DataFrame
    sites_a: gpd.GeoDataFrame
    sites_b: gpd.GeoDataFrame
    assignment_a: pd.DataFrame
    assignment_b: pd.DataFrame
    circle: pd.DataFrame | None = None
    label_a: str = "A"
    label_b: str = "B"
    within_m: float = 50.0
    warnings: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pd.DataFrame]:
        out = {"status": self.status, "summary": self.summary, "reassigned": self.reassigned}
        if self.circle is not None:
            out["supplier_circle"] = self.circle
        return out

    def summary_json(self) -> dict:
        counts = self.status.status.value_counts()
        return {
            "kind": "site_lists", "label_a": self.label_a, "label_b": self.label_b, "within_m": self.within_m,
            "status_counts": {s: int(counts.get(s, 0)) for s in STATUSES},
            "summary": _records(self.summary),
            "reassigned": {"demand_points": int(len(self.reassigned)),
                           "weight": float(self.reassigned.weight.sum()) if len(self.reassigned) else 0.0},
            "warnings": list(self.warnings),
        }

    def map(self, language: str = "en", basemap: str = "osm", roads=None):
        """Side-by-side :func:`planner.maps.compare_map` of the two lists (A left, B right)."""
        return _dual_map(self.sites_a, self.sites_b, self.status, self.label_a, self.label_b,
                         language, basemap, roads)

    def to_files(self, folder, language: str = "en", basemap: str = "osm", roads=None,
                 offline: bool = True) -> dict[str, Path]:
        """Write ``status.csv``, ``summary.csv``, ``reassigned.csv`` (+ ``supplier_circle.csv``),
        ``summary.json`` and ``compare_map.html`` into ``folder``; returns name → path."""
        from planner.maps import save_map

        written = _write_tables(self.tables(), self.summary_json(), folder)
        written["map"] = save_map(self.map(language, basemap, roads), Path(folder) / "compare_map.html",
                                  offline=offline)
        return written


def compare_site_lists(net, a, b, demand: Mapping, technologies, within_m: float = 50.0, suppliers=None,
                       threshold_min: float = 30.0, *, circle_profile: str | None = None,
                       max_snap_m: float | None = 500.0, label_a: str = "A", label_b: str = "B") -> ListComparison:
    """Compare two candidate site lists on the same network and demand.

    Parameters
    ----------
    net : RoadNetwork
    a, b : DataFrame or GeoDataFrame
        Site lists (:func:`read_site_list`): ``site_id``, ``technology``, point geometry or
        ``lon``/``lat``, optional ``name``, ``capex_wan``.
    demand : mapping technology → GeoDataFrame
        ``demand_id``, ``weight``, point geometry (see :func:`evaluate_list`).
    technologies : mapping technology → settings
        ``capex_wan``, ``radius_min``, ``profile`` per technology (``scenario.siting.technologies``).
    within_m : float
        Matching distance of :func:`match_sites`.
    suppliers : DataFrame, optional
        Suppliers (:func:`planner.sites.read_sites`) for the supplier circle around the lists'
        ``plant`` rows. Suppliers naming a plant id of A that B lists under another id (matched
        by distance) are taken to serve B's plant.
    threshold_min : float
        Supplier circle threshold.
    circle_profile : str, optional
        Profile of the supplier circle; default ``offpeak`` if the network has it, else its
        first profile.
    max_snap_m : float or None
        Snap limit for stations and plants.
    label_a, label_b : str
        Names shown on the map and in ``summary.json``.

    Returns
    -------
    ListComparison
    """
    sa, sb = _site_frame(a, "list A"), _site_frame(b, "list B")
    status = match_sites(sa, sb, within_m)
    techs = _tech_order(t for t in pd.concat([sa.technology, sb.technology]) if t in STATION_TECHNOLOGIES)
    ev_a = evaluate_list(net, sa, demand, technologies, max_snap_m=max_snap_m, report=techs)
    ev_b = evaluate_list(net, sb, demand, technologies, max_snap_m=max_snap_m, report=techs)
    warnings = list(dict.fromkeys(ev_a.warnings + ev_b.warnings))

    s = ev_a.summary.merge(ev_b.summary, on="technology", suffixes=("_a", "_b"))
    summary = pd.DataFrame({
        "technology": s.technology, "stations_a": s.stations_a, "stations_b": s.stations_b,
        "capex_a": s.capex_wan_a, "capex_b": s.capex_wan_b, "demand_total": s.demand_total_a,
        "covered_a": s.covered_a, "covered_b": s.covered_b, "share_a": s.share_a, "share_b": s.share_b,
    })
    if len(summary):
        summary = pd.concat([summary, pd.DataFrame([{
            "technology": "total", "stations_a": int(summary.stations_a.sum()),
            "stations_b": int(summary.stations_b.sum()), "capex_a": float(summary.capex_a.sum()),
            "capex_b": float(summary.capex_b.sum())}])], ignore_index=True)

    circle = None
    plants_a, plants_b = sa[sa.technology == "plant"], sb[sb.technology == "plant"]
    if len(plants_a) or len(plants_b):
        if suppliers is None or len(suppliers) == 0:
            warnings.append("the lists contain plants but no suppliers were given: no supplier circle")
        else:
            prof = circle_profile or ("offpeak" if "offpeak" in net.profiles else net.profiles[0])
            circle, row = _compare_circles(net, status, plants_a, plants_b, suppliers, threshold_min, prof,
                                           max_snap_m)
            summary = pd.concat([summary, pd.DataFrame([row])], ignore_index=True) if len(summary) else \
                pd.DataFrame([row])

    summary = _with_deltas(summary)
    reassigned = _reassigned(ev_a.assignment, ev_b.assignment, status)
    return ListComparison(status=status, summary=summary, reassigned=reassigned, sites_a=sa, sites_b=sb,
                          assignment_a=ev_a.assignment, assignment_b=ev_b.assignment, circle=circle,
                          label_a=str(label_a), label_b=str(label_b), within_m=float(within_m),
                          warnings=warnings)


def _compare_circles(net, status, plants_a, plants_b, suppliers, threshold_min, profile, max_snap_m):
    """Per-supplier circle table A vs B and its ``supplier_circle`` summary row.

    Suppliers naming a plant of A that B lists under another id (matched by distance) are
    taken to serve B's plant.
    """
    same = status[(status.technology == "plant") & status.status.isin(["kept", "moved"])]
    a_to_b = dict(zip(same.site_id_a, same.site_id_b))
    sup_b = suppliers.copy()
    if "plants" in sup_b:
        sup_b["plants"] = [tuple(a_to_b.get(str(p), str(p)) for p in (t if isinstance(t, (tuple, list)) else ()))
                           for t in sup_b["plants"]]  # one short tuple per supplier
    ca = supplier_circle(net, plants_a, suppliers, threshold_min, profile, max_snap_m)
    cb = supplier_circle(net, plants_b, sup_b, threshold_min, profile, max_snap_m)
    circle = pd.DataFrame({
        "supplier_id": ca.supplier_id, "plant_a": ca.plant_id, "minutes_a": ca.minutes, "covered_a": ca.covered,
        "plant_b": cb.plant_id, "minutes_b": cb.minutes, "covered_b": cb.covered, "weight": ca.weight})
    w = circle.weight.to_numpy(float)
    total = float(w.sum())
    cov_a = float(w[circle.covered_a.to_numpy(bool)].sum())
    cov_b = float(w[circle.covered_b.to_numpy(bool)].sum())
    row = {"technology": _SUPPLIER_CIRCLE, "stations_a": len(plants_a), "stations_b": len(plants_b),
           "capex_a": np.nan, "capex_b": np.nan, "demand_total": total, "covered_a": cov_a, "covered_b": cov_b,
           "share_a": cov_a / total if total > 0 else np.nan, "share_b": cov_b / total if total > 0 else np.nan}
    return circle, row


def _with_deltas(summary: pd.DataFrame) -> pd.DataFrame:
    cols = ["technology", "stations_a", "stations_b", "delta_stations", "capex_a", "capex_b", "delta_capex",
            "demand_total", "covered_a", "covered_b", "delta_covered", "share_a", "share_b", "delta_share"]
    if summary.empty:
        return pd.DataFrame(columns=cols)
    out = summary.copy()
    out["stations_a"] = out.stations_a.astype(int)
    out["stations_b"] = out.stations_b.astype(int)
    out["delta_stations"] = out.stations_b - out.stations_a
    out["delta_capex"] = out.capex_b - out.capex_a
    out["delta_covered"] = out.covered_b - out.covered_a
    out["delta_share"] = out.share_b - out.share_a
    return out.reindex(columns=cols)


def _reassigned(asg_a: pd.DataFrame, asg_b: pd.DataFrame, status: pd.DataFrame) -> pd.DataFrame:
    cols = ["demand_id", "technology", "station_a", "station_b", "minutes_a", "minutes_b", "weight",
            "covered_a", "covered_b"]
    if asg_a.empty and asg_b.empty:
        return pd.DataFrame(columns=cols)
    # same demand on both sides: an outer join in A's order (then any B-only rows)
    a = asg_a.assign(_order=np.arange(len(asg_a)))
    b = asg_b.assign(_order=np.arange(len(asg_b)) + len(asg_a))
    j = a.merge(b, on=["technology", "demand_id"], how="outer", suffixes=("_a", "_b"))
    j = j.assign(_order=j._order_a.fillna(j._order_b)).sort_values("_order", kind="stable").reset_index(drop=True)
    same = status[status.status.isin(["kept", "moved"])]
    b_as_a = pd.Series(same.site_id_a.to_numpy(dtype=object),
                       index=pd.MultiIndex.from_arrays([same.technology.to_numpy(dtype=object),
                                                        same.site_id_b.to_numpy(dtype=object)]))
    st_a = j.station_id_a.astype(object).where(j.station_id_a.notna(), None)
    st_b = j.station_id_b.astype(object).where(j.station_id_b.notna(), None)
    # B's station as the A station it continues (missing for a new station); an unmatched B id
    # never equals an A id of the same technology (those are matched by id)
    keys = pd.MultiIndex.from_arrays([j.technology.to_numpy(dtype=object), st_b.to_numpy(dtype=object)])
    as_a = pd.Series(b_as_a.reindex(keys).to_numpy(dtype=object) if len(b_as_a) else np.full(len(j), None),
                     index=j.index, dtype=object)
    has_a, has_b = st_a.notna().to_numpy(), st_b.notna().to_numpy()
    changed = (has_a != has_b) | (has_a & has_b & (as_a.isna().to_numpy() | (as_a != st_a).to_numpy()))
    r = j[changed]
    return pd.DataFrame({
        "demand_id": r.demand_id, "technology": r.technology,
        "station_a": st_a[changed], "station_b": st_b[changed],
        "minutes_a": r.minutes_a.astype(float), "minutes_b": r.minutes_b.astype(float),
        "weight": r.weight_a.fillna(r.weight_b).astype(float),
        "covered_a": r.covered_a.fillna(False).astype(bool), "covered_b": r.covered_b.fillna(False).astype(bool),
    }, columns=cols).reset_index(drop=True)


# ------------------------------------------------------------------------------ run folders
_RUN_SITES = Path("siting") / "selected_sites.csv"
_RUN_COVERAGE = Path("coverage") / "plant_summary.csv"
_SITES_REQUIRED = ("site_id", "technology", "lon", "lat")
_COVERAGE_REQUIRED = ("plant_id", "profile", "threshold_min", "suppliers_total", "suppliers_covered",
                      "share_covered", "weighted_share_covered")


@dataclass
class RunComparison:
    """Result of :func:`compare_runs`.

    Attributes
    ----------
    status : DataFrame or None
        :func:`match_sites` table of the two runs' selected sites.
    summary : DataFrame or None
        Per technology (then ``total``): ``stations_a/_b``, ``delta_stations``,
        ``capex_a/_b``, ``delta_capex``, ``demand_served_a/_b``, ``delta_demand_served``,
        ``share_a/_b`` (sum of the sites' shares), ``delta_share``.
    coverage : DataFrame or None
        Per plant × profile (outer join): ``plant_id``, ``profile``, ``present``
        (``both``/``a_only``/``b_only``), ``threshold_min_a/_b``, ``suppliers_total_a/_b``,
        ``suppliers_covered_a/_b``, ``delta_suppliers_covered``, ``share_covered_a/_b``,
        ``delta_share_covered``, ``weighted_share_covered_a/_b``, ``delta_weighted_share_covered``.
    budget : DataFrame or None
        ``item`` (``budget_wan``, ``capex_wan``, ``unspent_wan``), ``a``, ``b``, ``delta``.
    """

    run_a: Path
    run_b: Path
    status: pd.DataFrame | None = None
    summary: pd.DataFrame | None = None
    coverage: pd.DataFrame | None = None
    budget: pd.DataFrame | None = None
    sites_a: gpd.GeoDataFrame | None = None
    sites_b: gpd.GeoDataFrame | None = None
    within_m: float = 50.0
    warnings: list[str] = field(default_factory=list)

    @property
    def label_a(self) -> str:
        return Path(self.run_a).name

    @property
    def label_b(self) -> str:
        return Path(self.run_b).name

    def tables(self) -> dict[str, pd.DataFrame]:
        out = {"status": self.status, "summary": self.summary, "coverage": self.coverage, "budget": self.budget}
        return {k: v for k, v in out.items() if v is not None}

    def summary_json(self) -> dict:
        out = {"kind": "runs", "run_a": str(self.run_a), "run_b": str(self.run_b), "within_m": self.within_m,
               "warnings": list(self.warnings)}
        if self.status is not None:
            counts = self.status.status.value_counts()
            out["status_counts"] = {s: int(counts.get(s, 0)) for s in STATUSES}
        for name in ("summary", "coverage", "budget"):
            df = getattr(self, name)
            if df is not None:
                out[name] = _records(df)
        return out

    def map(self, language: str = "en", basemap: str = "osm", roads=None):
        """Dual map of the two runs' selected sites (None when a run has no siting output)."""
        if self.sites_a is None or self.sites_b is None:
            return None
        return _dual_map(self.sites_a, self.sites_b, self.status, self.label_a, self.label_b,
                         language, basemap, roads)

    def to_files(self, folder, language: str = "en", basemap: str = "osm", roads=None,
                 offline: bool = True) -> dict[str, Path]:
        """Write the tables as CSV, ``summary.json`` and (with sites) ``compare_map.html``."""
        from planner.maps import save_map

        written = _write_tables(self.tables(), self.summary_json(), folder)
        m = self.map(language, basemap, roads)
        if m is not None:
            written["map"] = save_map(m, Path(folder) / "compare_map.html", offline=offline)
        return written


def _read_run_csv(path: Path, required) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, encoding="utf-8-sig", dtype={"site_id": str, "plant_id": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the table: {' '.join(str(exc).split())}", path=path) from None
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError(f"required column '{missing[0]}' not found; columns found: {', '.join(map(str, df.columns))}",
                         path=path, column=missing[0])
    return df


def _read_run(folder) -> dict:
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("not a run output folder (no such folder)", path=folder)
    manifest_path = folder / "run.json"
    if not manifest_path.is_file():
        raise InputError("not a run output folder (no run.json; run 'planner run' first)", path=folder)
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"run manifest is not valid JSON ({exc})", path=manifest_path) from None
    if not isinstance(manifest, dict):
        raise InputError("run manifest is not a JSON object", path=manifest_path)
    run = {"folder": folder, "manifest": manifest, "sites": None, "coverage": None}
    sites_path = folder / _RUN_SITES
    if sites_path.is_file():
        df = _read_run_csv(sites_path, _SITES_REQUIRED)
        codes, ok = normalise_technology(df["technology"])
        if not ok.all():
            pos = int(np.flatnonzero(~ok)[0])
            raise InputError(f"unknown technology {df['technology'].iloc[pos]!r}; use {_ALLOWED_TEXT}",
                             path=sites_path, row=pos + 2, column="technology")
        lon = pd.to_numeric(df["lon"], errors="coerce").to_numpy(float)
        lat = pd.to_numeric(df["lat"], errors="coerce").to_numpy(float)
        bad = ~(np.isfinite(lon) & np.isfinite(lat))
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise InputError("lon/lat is blank or not a number", path=sites_path, row=pos + 2, column="lon/lat")
        ids = _str_ids(df["site_id"])
        run["sites"] = gpd.GeoDataFrame({
            "site_id": ids, "technology": codes,
            "name": df["name"].fillna(pd.Series(ids)).to_numpy(dtype=object) if "name" in df else ids,
            "lon": lon, "lat": lat,
            "capex_wan": pd.to_numeric(df["capex"], errors="coerce").to_numpy(float) if "capex" in df else np.nan,
            "demand_served": pd.to_numeric(df["demand_served"], errors="coerce").to_numpy(float)
            if "demand_served" in df else np.nan,
            "share": pd.to_numeric(df["share"], errors="coerce").to_numpy(float) if "share" in df else np.nan,
        }, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    cov_path = folder / _RUN_COVERAGE
    if cov_path.is_file():
        run["coverage"] = _read_run_csv(cov_path, _COVERAGE_REQUIRED)
    if run["sites"] is None and run["coverage"] is None:
        raise InputError(f"not a run output folder: neither {_RUN_SITES.as_posix()} nor {_RUN_COVERAGE.as_posix()} "
                         f"found", path=folder)
    return run


def _budget_of(manifest: dict) -> float:
    try:
        value = manifest["settings"]["siting"]["budget_wan"]
        return float(value) if value is not None else np.nan
    except (KeyError, TypeError, ValueError):
        return np.nan


def compare_runs(run_a, run_b, within_m: float = 50.0) -> RunComparison:
    """Compare two run output folders written by ``planner run``.

    Parameters
    ----------
    run_a, run_b : str or Path
        Output folders holding ``run.json`` and ``siting/selected_sites.csv`` (``site_id``,
        ``technology``, ``name``, ``lon``, ``lat``, ``capex`` in 万元, ``demand_served``,
        ``share``) and/or ``coverage/plant_summary.csv``.
    within_m : float
        Matching distance of :func:`match_sites` for the selected sites.

    Returns
    -------
    RunComparison
        Sites added / removed / kept / moved, per-technology and budget differences (when both
        runs sited stations), coverage differences per plant and profile (when both audited
        coverage). A part only one run has is skipped with a warning.

    Raises
    ------
    InputError
        A folder is not a run output (no ``run.json``, or neither result table), a table
        lacks a required column, or the two runs have no part in common.
    """
    ra, rb = _read_run(run_a), _read_run(run_b)
    res = RunComparison(run_a=Path(run_a), run_b=Path(run_b), within_m=float(within_m))
    for part, what in (("sites", "siting"), ("coverage", "coverage")):
        if (ra[part] is None) != (rb[part] is None):
            only = res.label_a if ra[part] is not None else res.label_b
            res.warnings.append(f"only {only} has {what} outputs: {what} not compared")
    if ra["sites"] is not None and rb["sites"] is not None:
        sa, sb = ra["sites"], rb["sites"]
        res.sites_a, res.sites_b = sa, sb
        res.status = match_sites(sa, sb, within_m)
        res.summary = _run_sites_summary(sa, sb)
        ba, bb = _budget_of(ra["manifest"]), _budget_of(rb["manifest"])
        ca, cb = float(np.nansum(sa.capex_wan)), float(np.nansum(sb.capex_wan))
        res.budget = pd.DataFrame({"item": ["budget_wan", "capex_wan", "unspent_wan"],
                                   "a": [ba, ca, ba - ca], "b": [bb, cb, bb - cb]})
        res.budget["delta"] = res.budget.b - res.budget.a
    if ra["coverage"] is not None and rb["coverage"] is not None:
        res.coverage = _run_coverage_diff(ra["coverage"], rb["coverage"])
        ta = set(ra["coverage"].threshold_min.dropna().astype(float))
        tb = set(rb["coverage"].threshold_min.dropna().astype(float))
        if ta != tb:
            res.warnings.append(f"the runs use different coverage thresholds ({sorted(ta)} vs {sorted(tb)} min): "
                                "coverage shares are not like for like")
    if res.status is None and res.coverage is None:
        raise InputError(f"nothing to compare: {res.label_a} and {res.label_b} have no result table in common "
                         f"({_RUN_SITES.as_posix()} or {_RUN_COVERAGE.as_posix()})", path=Path(run_b))
    return res


def _run_sites_summary(sa: pd.DataFrame, sb: pd.DataFrame) -> pd.DataFrame:
    def agg(s):
        return s.groupby("technology", sort=False).agg(
            stations=("site_id", "size"), capex=("capex_wan", "sum"),
            demand_served=("demand_served", "sum"), share=("share", "sum"))

    techs = _tech_order(pd.concat([sa.technology, sb.technology]))
    ga, gb = agg(sa).reindex(techs), agg(sb).reindex(techs)
    ga["stations"], gb["stations"] = ga.stations.fillna(0), gb.stations.fillna(0)
    ga, gb = ga.fillna({"capex": 0.0, "demand_served": 0.0, "share": 0.0}), gb.fillna(
        {"capex": 0.0, "demand_served": 0.0, "share": 0.0})
    out = pd.DataFrame({"technology": techs})
    for col in ("stations", "capex", "demand_served", "share"):
        out[f"{col}_a"] = ga[col].to_numpy()
        out[f"{col}_b"] = gb[col].to_numpy()
    out["stations_a"], out["stations_b"] = out.stations_a.astype(int), out.stations_b.astype(int)
    total = {"technology": "total", "stations_a": int(out.stations_a.sum()), "stations_b": int(out.stations_b.sum()),
             "capex_a": float(out.capex_a.sum()), "capex_b": float(out.capex_b.sum()),
             "demand_served_a": np.nan, "demand_served_b": np.nan, "share_a": np.nan, "share_b": np.nan}
    out = pd.concat([out, pd.DataFrame([total])], ignore_index=True)
    for col in ("stations", "capex", "demand_served", "share"):
        out[f"delta_{col}"] = out[f"{col}_b"] - out[f"{col}_a"]
    parts = ("stations", "capex", "demand_served", "share")
    cols = ["technology"] + [name for c in parts for name in (f"{c}_a", f"{c}_b", f"delta_{c}")]
    return out[cols]


def _run_coverage_diff(ca: pd.DataFrame, cb: pd.DataFrame) -> pd.DataFrame:
    keep = list(_COVERAGE_REQUIRED)
    a = ca[keep].assign(plant_id=_str_ids(ca.plant_id), profile=ca.profile.astype(str))
    b = cb[keep].assign(plant_id=_str_ids(cb.plant_id), profile=cb.profile.astype(str))
    j = a.merge(b, on=["plant_id", "profile"], how="outer", suffixes=("_a", "_b"), indicator=True, sort=False)
    j["present"] = j.pop("_merge").map({"both": "both", "left_only": "a_only", "right_only": "b_only"}).astype(str)
    for col in ("suppliers_covered", "share_covered", "weighted_share_covered"):
        j[f"delta_{col}"] = j[f"{col}_b"] - j[f"{col}_a"]
    cols = ["plant_id", "profile", "present", "threshold_min_a", "threshold_min_b", "suppliers_total_a",
            "suppliers_total_b", "suppliers_covered_a", "suppliers_covered_b", "delta_suppliers_covered",
            "share_covered_a", "share_covered_b", "delta_share_covered", "weighted_share_covered_a",
            "weighted_share_covered_b", "delta_weighted_share_covered"]
    return j[cols].reset_index(drop=True)


# ------------------------------------------------------------------------------------- CLI
def _scenario_demand(sc, net, plants=None, suppliers=None):
    """``planner.siting.plan.problem_demand(sc, net, plants, suppliers)``; PlannerError when not available."""
    fn = None
    if sc.siting is not None:
        try:
            from planner.siting import plan
        except ModuleNotFoundError as exc:
            if exc.name != "planner.siting.plan":
                raise
            plan = None
        fn = getattr(plan, "problem_demand", None)
    if fn is None:
        raise PlannerError(
            "comparing station lists needs the scenario's [siting] section (technologies and their demand) and "
            "the siting demand builder planner.siting.plan.problem_demand, which is not available; compare "
            "two run output folders instead, or lists of plants only")
    return fn(sc, net, plants=plants, suppliers=suppliers)


def _guard_out(out: Path, inputs) -> None:
    out = out.resolve()
    for p in inputs:
        p = Path(p).resolve()
        if out == p or out in p.parents:
            raise PlannerError(f"output folder {out} would replace the compared input {p}; choose another --out")


def compare_cli(sc, a, b, out=None, within_m: float = 50.0) -> Path:
    """The ``planner compare`` command: two run folders, or two site lists, into ``out``.

    Parameters
    ----------
    sc : Scenario
    a, b : str or Path
        Two run output folders (:func:`compare_runs`) or two site list files
        (:func:`read_site_list`, WGS-84) evaluated on the scenario's network and siting demand
        (:func:`compare_site_lists`).
    out : str or Path, optional
        Output folder, default ``<scenario output>-compare`` (beside the run folder, so a new run never removes it); written through
        :func:`planner.outputs.staged_output` (replaced as a whole, only when complete).
    within_m : float

    Returns
    -------
    Path
        The output folder.

    Raises
    ------
    InputError
        One folder and one file, missing files, bad lists, non-run folders.
    PlannerError
        Station lists while the scenario has no ``[siting]`` section or the siting demand
        builder is not available.
    """
    from planner import outputs

    a, b = Path(a), Path(b)
    out = Path(out) if out is not None else sc.output_dir.with_name(sc.output_dir.name + "-compare")
    _guard_out(out, (a, b))
    for p in (a, b):
        if not p.exists():
            raise InputError("not found (give two site lists or two run output folders)", path=p)
    if a.is_dir() != b.is_dir():
        folder, other = (a, b) if a.is_dir() else (b, a)
        raise InputError(f"is a folder but {other} is a file: compare two run output folders or two site lists",
                         path=folder)
    lang, cfg = sc.scenario.language, sc.maps
    net = None
    if a.is_dir():
        result = compare_runs(a, b, within_m=within_m)
        if cfg.basemap == "none" and result.sites_a is not None and result.sites_b is not None:
            from planner import pipeline

            net = pipeline.load_network(sc)
    else:
        result, net = _compare_lists_for_scenario(sc, a, b, within_m)
    roads = None
    if net is not None and (cfg.roads_base or cfg.basemap == "none"):
        from planner.reports import road_lines

        roads = road_lines(net)
    for w in result.warnings:
        print(f"warning: {w}", flush=True)
    with outputs.staged_output(out) as stage:
        result.to_files(stage, language=lang, basemap=cfg.basemap, roads=roads, offline=cfg.offline)
    return out.resolve()


def _compare_lists_for_scenario(sc, a: Path, b: Path, within_m: float):
    from planner import pipeline, sites

    list_a, list_b = read_site_list(a), read_site_list(b)
    has_stations = bool(list_a.technology.isin(STATION_TECHNOLOGIES).any() or
                        list_b.technology.isin(STATION_TECHNOLOGIES).any())
    if has_stations and sc.siting is None:
        _scenario_demand(sc, None)  # raises the "needs [siting]" error before the network is built
    net = pipeline.load_network(sc)
    for lst, path in ((list_a, a), (list_b, b)):
        sites.check_in_area(lst.assign(source_row=lst.attrs["source_rows"]), net.bounds(), path)
    has_plants = bool((list_a.technology == "plant").any() or (list_b.technology == "plant").any())
    plants = suppliers = None
    if (has_stations or has_plants) and (sc.sites.plants is not None or sc.sites.suppliers is not None):
        # the scenario's plants and suppliers: freight (H2) demand, and the suppliers of the circle
        plants, suppliers = pipeline.load_sites(sc, net)
    demand = _scenario_demand(sc, net, plants, suppliers) if has_stations else {}
    technologies = sc.siting.technologies if sc.siting is not None else {}
    prof = sc.coverage.profiles[0] if sc.coverage.profiles else None
    result = compare_site_lists(net, list_a, list_b, demand, technologies, within_m=within_m, suppliers=suppliers,
                                threshold_min=sc.coverage.threshold_min,
                                circle_profile=prof if prof in net.profiles else None,
                                max_snap_m=sc.network.max_snap_m, label_a=a.stem, label_b=b.stem)
    return result, net
