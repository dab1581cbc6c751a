"""Snapping and travel times on a :class:`~planner.network.graph.RoadNetwork`.

Two compiled (numba) engines, both parallel over sources, giving the same times (to ~1e-12 s):

- *plain*: Dijkstra with a binary heap and a time cutoff over the CSR arrays, in blocks of sources
  so memory stays bounded. Used for few sources (no preparation).
- *contracted*: from :data:`CONTRACT_MIN_SOURCES` sources on, the graph is contracted once per
  CSR (cached; see :mod:`planner.routing._hierarchy`) and every source costs a small upward search plus a
  linear sweep shared by 8 sources — about an order of magnitude faster per source.

Unreachable pairs are ``inf``.

``direction="from"``: time from each source to the targets. ``direction="to"``: time from each
target to the source (Dijkstra on the reversed graph) — e.g. a supplier driving *to* a plant.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange
from scipy.spatial import cKDTree

from planner.routing import _hierarchy
from planner.errors import PlannerError, SnapError
from planner.vocab import DEFAULT_MAX_SNAP_M

#: Upper bound on the size of one block of the distance matrix (float64 cells), plain engine.
BLOCK_CELLS = 32_000_000  # 256 MB
#: From this many sources on, use the contracted engine. Its one-off build (~0.5-0.9 s per CSR on
#: the demo network, cached) costs about as much as 250 plain sources, so the first such call may
#: be a little slower than the plain engine; every later call on that CSR is ~10-20x faster.
CONTRACT_MIN_SOURCES = 128


# ------------------------------------------------------------------------------- snapping
def snap(net, lon, lat, max_snap_m: float | None = DEFAULT_MAX_SNAP_M, ids=None):
    """Snap WGS-84 points to their nearest network node.

    Parameters
    ----------
    net : RoadNetwork
    lon, lat : array-like
        Degrees, WGS-84 (convert other systems first with :mod:`planner.coords`).
    max_snap_m : float or None
        Refuse points farther than this from any node (``None`` = no limit).
    ids : array-like, optional
        Point ids used in the error message.

    Returns
    -------
    nodes : ndarray of int
        Node positions.
    snap_m : ndarray of float
        Distance to the node, metres.

    Raises
    ------
    SnapError
        Listing the points beyond ``max_snap_m``.
    """
    from pyproj import Transformer

    lon = np.atleast_1d(np.asarray(lon, dtype=float))
    lat = np.atleast_1d(np.asarray(lat, dtype=float))
    if lon.shape != lat.shape:
        raise PlannerError("lon and lat must have the same length")
    if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
        raise SnapError("cannot snap points with blank or non-numeric coordinates")
    tr = Transformer.from_crs(4326, net.metric_crs, always_xy=True)
    x, y = tr.transform(lon, lat)
    dist, idx = _tree(net).query(np.column_stack([x, y]))
    if max_snap_m is not None:
        far = np.flatnonzero(dist > max_snap_m)
        if len(far):
            labels = np.asarray(ids)[far] if ids is not None else far
            shown = ", ".join(f"{lab} ({dist[i]:.0f} m)" for lab, i in zip(labels[:10], far[:10]))
            more = f" and {len(far) - 10} more" if len(far) > 10 else ""
            raise SnapError(
                f"{len(far)} point(s) lie farther than {max_snap_m:g} m from the road network: {shown}{more}"
            )
    return idx.astype(np.int64), dist


def distance_to_network(net, lon, lat) -> np.ndarray:
    """Distance (m) from WGS-84 points to the nearest network node; no limit."""
    return snap(net, lon, lat, max_snap_m=None)[1]


def _tree(net) -> cKDTree:
    if "_kdtree" not in net._csr:
        net._csr["_kdtree"] = cKDTree(np.column_stack([net.nodes.x.to_numpy(), net.nodes.y.to_numpy()]))
    return net._csr["_kdtree"]


# ---------------------------------------------------------------------------- travel times
def travel_times(net, sources, targets=None, profile: str = "offpeak", direction: str = "from", cutoff_s=None):
    """Shortest travel times between node sets.

    Parameters
    ----------
    net : RoadNetwork
    sources : array-like of int
        Node positions.
    targets : array-like of int, optional
        Node positions; all nodes when omitted.
    profile : str
    direction : {"from", "to"}
        ``"from"``: source → target. ``"to"``: target → source (reversed graph).
    cutoff_s : float, optional
        Times above the cutoff are reported as ``inf`` (and not searched).

    Returns
    -------
    ndarray, shape (len(sources), len(targets) or n_nodes)
        Seconds; ``inf`` where unreachable (or beyond the cutoff).
    """
    if direction not in ("from", "to"):
        raise PlannerError(f"direction must be 'from' or 'to', got '{direction}'")
    csr = net.csr(profile, reverse=(direction == "to"))
    return csr_travel_times(csr, sources, targets, cutoff_s)


def csr_travel_times(csr, sources, targets=None, cutoff_s=None) -> np.ndarray:
    """:func:`travel_times` on a bare CSR matrix (weights = seconds)."""
    n = csr.shape[0]
    sources = np.atleast_1d(np.asarray(sources, dtype=np.int64))
    if len(sources) and (sources.min() < 0 or sources.max() >= n):
        raise PlannerError("source node position out of range")
    if targets is not None:
        targets = np.atleast_1d(np.asarray(targets, dtype=np.int64))
        if len(targets) and (targets.min() < 0 or targets.max() >= n):
            raise PlannerError("target node position out of range")
    cutoff = np.inf if cutoff_s is None else float(cutoff_s)
    width = n if targets is None else len(targets)
    out = np.empty((len(sources), width), dtype=np.float64)
    if len(sources) >= CONTRACT_MIN_SOURCES:
        hierarchy = _hierarchy.hierarchy_for(csr)
        if hierarchy is not None:
            _hierarchy.many_to_all(hierarchy, sources, targets, cutoff, out)
            return out
    _plain_travel_times(csr, sources, targets, cutoff, out)
    return out


def _plain_travel_times(csr, sources, targets, cutoff, out):
    """Plain Dijkstra engine (also the reference in the tests); fills ``out`` in place."""
    n = csr.shape[0]
    indptr = csr.indptr.astype(np.int64)
    indices = csr.indices.astype(np.int64)
    weights = csr.data.astype(np.float64)
    block = max(1, min(len(sources), BLOCK_CELLS // max(n, 1)))
    for start in range(0, len(sources), block):
        chunk = sources[start:start + block]
        if targets is None:  # write straight into the result
            _dijkstra_many(indptr, indices, weights, chunk, cutoff, out[start:start + len(chunk)])
            continue
        dist = np.empty((len(chunk), n), dtype=np.float64)
        _dijkstra_many(indptr, indices, weights, chunk, cutoff, dist)
        out[start:start + len(chunk)] = dist[:, targets]
    return out


@njit(cache=True, parallel=True)
def _dijkstra_many(indptr, indices, weights, sources, cutoff, out):
    """Dijkstra from every source, split over threads; row ``i`` of ``out`` ← source ``i``."""
    n_sources = len(sources)
    m = len(indices)
    n_chunks = min(n_sources, 64)
    for c in prange(n_chunks):
        heap_d = np.empty(m + 1, np.float64)
        heap_v = np.empty(m + 1, np.int64)
        for i in range(c, n_sources, n_chunks):
            _hierarchy._dijkstra_one(indptr, indices, weights, sources[i], cutoff, out[i], heap_d,
                                     heap_v)
