"""Matching the sites of two lists: by id, then by distance (same technology, one to one)."""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from planner.compare._common import metric_xy, site_frame
from planner.errors import PlannerError
from planner.network.graph import metric_crs_for


def greedy_pairs(i: np.ndarray, j: np.ndarray, d: np.ndarray) -> np.ndarray:
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
    a = site_frame(a, "list A")
    b = site_frame(b, "list B")
    return _match(a, b, float(within_m))


def _match(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame, within_m: float) -> pd.DataFrame:
    cols = ["site_id_a", "site_id_b", "technology", "status", "distance_m", "matched_by"]
    if len(a) + len(b) == 0:
        return pd.DataFrame(columns=cols)
    lon = np.concatenate([a.lon.to_numpy(float), b.lon.to_numpy(float)])
    lat = np.concatenate([a.lat.to_numpy(float), b.lat.to_numpy(float)])
    crs = metric_crs_for(float(np.mean(lon)), float(np.mean(lat)))
    xy = metric_xy(lon, lat, crs)
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
        ok = greedy_pairs(i, j, d)
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
