"""Snapping and travel times on a :class:`~planner.network.graph.RoadNetwork`.

Three compiled (numba) engines, all parallel, giving the same times (to ~1e-12 s):

- ``"dijkstra"``: Dijkstra with a binary heap and a time cutoff from every source over the CSR
  arrays, in blocks of sources so memory stays bounded. No preparation.
- ``"reverse-dijkstra"``: the same from every *target* on the transposed graph — for few
  targets (e.g. 200 suppliers × 3 plants: 3 searches instead of 200).
- ``"hierarchy"``: the graph is contracted once per CSR (cached; see :mod:`planner.routing._hierarchy`) and
  every source costs a small upward search plus a linear sweep shared by 8 sources — about an
  order of magnitude faster per source than a Dijkstra.

:func:`choose_engine` picks the cheapest on estimated cost (:data:`COST_NS`: a cached hierarchy
costs nothing to build; an uncached one is built only when the call's sources pay for it) and says
which engine ran and why (:class:`EngineChoice`, also logged at INFO; a graph that cannot be
contracted is logged at WARNING with the reason). Pass ``engine_log=[]`` to collect the choices,
e.g. for a run manifest.

Results are ``float64`` by default or ``float32`` on request (half the memory; times are exact to
~1e-4 s at an hour). :func:`iter_travel_times` yields the result in blocks of sources for callers
that reduce it as they go (10,000 origins × 476k nodes in float64 would be 38 GB).

Unreachable pairs are ``inf``.

``direction="from"``: time from each source to the targets. ``direction="to"``: time from each
target to the source (Dijkstra on the reversed graph) — e.g. a supplier driving *to* a plant.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from numba import njit, prange
from scipy.spatial import cKDTree

from planner.routing import _hierarchy
from planner.errors import PlannerError, SnapError
from planner.vocab import DEFAULT_MAX_SNAP_M

log = logging.getLogger(__name__)

#: Upper bound on the size of one block of the distance matrix (cells), plain engines and
#: :func:`iter_travel_times`.
BLOCK_CELLS = 32_000_000  # 256 MB in float64
#: CPU nanoseconds per unit of work, measured on the demo network (30k nodes, 67k arcs; 2-core
#: AMD EPYC, numba kernels): one plain Dijkstra ≈ ``dijkstra·(n + m)``; one hierarchy query ≈
#: ``sweep·(swept nodes + their down arcs) + core·n_core``; a hierarchy build ≈ ``build·(n + m)``.
#: Only their ratios matter for the choice.
COST_NS = {"dijkstra": 30.0, "sweep": 3.0, "core": 50.0, "build": 12_000.0}
ENGINES = ("hierarchy", "dijkstra", "reverse-dijkstra")


@dataclass(frozen=True)
class EngineChoice:
    """Which engine answered a travel-time request and why.

    Attributes
    ----------
    engine : {"hierarchy", "dijkstra", "reverse-dijkstra"}
    reason : str
        One line: the estimates compared, or why the hierarchy could not be used.
    n_sources, n_targets : int
        ``n_targets`` is the node count when all nodes are targets.
    estimates_s : dict
        Estimated seconds of every engine considered.
    """

    engine: str
    reason: str
    n_sources: int
    n_targets: int
    estimates_s: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """Plain-JSON form (for a run manifest)."""
        return {"engine": self.engine, "reason": self.reason, "n_sources": self.n_sources,
                "n_targets": self.n_targets, "estimates_s": self.estimates_s}


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
def travel_times(net, sources, targets=None, profile: str = "offpeak", direction: str = "from", cutoff_s=None,
                 dtype=np.float64, engine: str | None = None, engine_log: list | None = None) -> np.ndarray:
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
    dtype : {numpy.float64, numpy.float32}
        Of the result (computed in float64 either way).
    engine : {"hierarchy", "dijkstra", "reverse-dijkstra"}, optional
        Force an engine (default: the cheapest, see :func:`choose_engine`).
    engine_log : list, optional
        Receives the :class:`EngineChoice` of this call.

    Returns
    -------
    ndarray, shape (len(sources), len(targets) or n_nodes)
        Seconds; ``inf`` where unreachable (or beyond the cutoff).
    """
    csr, transpose = _csrs(net, profile, direction)
    return csr_travel_times(csr, sources, targets, cutoff_s, dtype=dtype, engine=engine, engine_log=engine_log,
                            transpose=transpose)


def iter_travel_times(net, sources, targets=None, profile: str = "offpeak", direction: str = "from", cutoff_s=None,
                      dtype=np.float64, block_rows: int | None = None, engine: str | None = None,
                      engine_log: list | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """:func:`travel_times` in blocks of sources, for results too large to hold at once.

    Parameters
    ----------
    net, sources, targets, profile, direction, cutoff_s, dtype, engine, engine_log
        As in :func:`travel_times` (one engine choice for the whole request).
    block_rows : int, optional
        Sources per block (default: as many as fit in :data:`BLOCK_CELLS` cells).

    Yields
    ------
    start : int
        Position in ``sources`` of the block's first row.
    times : ndarray, shape (rows, len(targets) or n_nodes)
        A fresh array per block (the caller may keep it).
    """
    csr, transpose = _csrs(net, profile, direction)
    yield from csr_iter_travel_times(csr, sources, targets, cutoff_s, dtype=dtype, block_rows=block_rows,
                                     engine=engine, engine_log=engine_log, transpose=transpose)


def _csrs(net, profile, direction):
    if direction not in ("from", "to"):
        raise PlannerError(f"direction must be 'from' or 'to', got '{direction}'")
    reverse = direction == "to"
    return net.csr(profile, reverse=reverse), lambda: net.csr(profile, reverse=not reverse)


def csr_travel_times(csr, sources, targets=None, cutoff_s=None, dtype=np.float64, engine: str | None = None,
                     engine_log: list | None = None, transpose=None) -> np.ndarray:
    """:func:`travel_times` on a bare CSR matrix (weights = seconds).

    ``transpose``: optional callable returning the transposed matrix (used by the reverse engine;
    computed from ``csr`` otherwise).
    """
    sources, targets, cutoff, dtype = _check(csr, sources, targets, cutoff_s, dtype)
    choice, h = choose_engine(csr, len(sources), targets, engine)
    _report(choice, engine_log)
    width = csr.shape[0] if targets is None else len(targets)
    out = np.empty((len(sources), width), dtype=dtype)
    _run(choice.engine, h, csr, transpose, sources, targets, cutoff, out)
    return out


def csr_iter_travel_times(csr, sources, targets=None, cutoff_s=None, dtype=np.float64, block_rows: int | None = None,
                          engine: str | None = None, engine_log: list | None = None,
                          transpose=None) -> Iterator[tuple[int, np.ndarray]]:
    """:func:`iter_travel_times` on a bare CSR matrix (see :func:`csr_travel_times`)."""
    sources, targets, cutoff, dtype = _check(csr, sources, targets, cutoff_s, dtype)
    choice, h = choose_engine(csr, len(sources), targets, engine)
    _report(choice, engine_log)
    width = csr.shape[0] if targets is None else len(targets)
    if choice.engine == "reverse-dijkstra":  # one pass over the (few) targets answers every source
        whole = np.empty((len(sources), width), dtype=dtype)
        _run(choice.engine, h, csr, transpose, sources, targets, cutoff, whole)
    rows = int(block_rows) if block_rows else max(1, BLOCK_CELLS // max(width, 1))
    if rows < 1:
        raise PlannerError(f"block_rows must be at least 1, got {block_rows}")
    for start in range(0, len(sources), rows):
        chunk = sources[start:start + rows]
        if choice.engine == "reverse-dijkstra":
            yield start, whole[start:start + len(chunk)].copy()
            continue
        out = np.empty((len(chunk), width), dtype=dtype)
        _run(choice.engine, h, csr, transpose, chunk, targets, cutoff, out)
        yield start, out


def _check(csr, sources, targets, cutoff_s, dtype):
    n = csr.shape[0]
    sources = np.atleast_1d(np.asarray(sources, dtype=np.int64))
    if len(sources) and (sources.min() < 0 or sources.max() >= n):
        raise PlannerError("source node position out of range")
    if targets is not None:
        targets = np.atleast_1d(np.asarray(targets, dtype=np.int64))
        if len(targets) and (targets.min() < 0 or targets.max() >= n):
            raise PlannerError("target node position out of range")
    dtype = np.dtype(dtype)
    if dtype not in (np.float64, np.float32):
        raise PlannerError(f"travel times come as float64 or float32, not {dtype}")
    cutoff = np.inf if cutoff_s is None else float(cutoff_s)
    return sources, targets, cutoff, dtype


def choose_engine(csr, n_sources: int, targets=None, engine: str | None = None):
    """The cheapest engine for ``n_sources`` sources to ``targets`` on ``csr``, and why.

    Parameters
    ----------
    csr : scipy.sparse CSR matrix
    n_sources : int
    targets : ndarray of int64, optional
    engine : str, optional
        Force this engine (still reported, with the estimates).

    Returns
    -------
    choice : EngineChoice
    hierarchy : Hierarchy or None
        The hierarchy to use (built now if the choice is ``"hierarchy"`` and none was cached).
    """
    if engine is not None and engine not in ENGINES:
        raise PlannerError(f"engine must be one of {', '.join(ENGINES)}, got '{engine}'")
    n, m = csr.shape[0], csr.nnz
    n_targets = n if targets is None else len(targets)
    cached = _hierarchy.cached(csr)
    h, why_not = cached if cached is not None else (None, _hierarchy.not_contractible(csr) or "")
    ns = COST_NS
    est = {"dijkstra": n_sources * ns["dijkstra"] * (n + m) * 1e-9}
    if targets is not None:
        est["reverse-dijkstra"] = len(np.unique(targets)) * ns["dijkstra"] * (n + m) * 1e-9
    if h is not None:
        swept = n - h.n_core if targets is None else len(_hierarchy.needed(h, targets))
        per_source = ns["sweep"] * 2 * swept + ns["core"] * h.n_core
        est["hierarchy"] = n_sources * per_source * 1e-9
        built = "cached hierarchy"
    elif not why_not:
        # not built yet: its size is unknown; down arcs ≈ arcs on road networks, core ~ CORE_MIN
        swept = n if targets is None else min(n, 64 * n_targets)
        per_source = ns["sweep"] * 2 * swept + ns["core"] * _hierarchy.CORE_MIN
        est["hierarchy"] = ns["build"] * (n + m) * 1e-9 + n_sources * per_source * 1e-9
        built = "hierarchy incl. its build"
    est = {k: round(v, 4) for k, v in est.items()}
    if n_sources == 0 or n_targets == 0:
        best = "dijkstra"
        reason = "empty request"
    elif engine is not None:
        best = engine
        reason = "requested"
    else:
        best = min(est, key=est.get)
        names = {"dijkstra": f"{n_sources} Dijkstra searches", "reverse-dijkstra":
                 f"{len(np.unique(targets)) if targets is not None else 0} reverse searches", "hierarchy": built}
        others = ", ".join(f"{names[k]} ~{v:.3g} s" for k, v in sorted(est.items(), key=lambda kv: kv[1]))
        reason = f"cheapest estimate: {others}"
    if best == "hierarchy":
        if h is None and not why_not:
            h, why_not = _hierarchy.hierarchy_for(csr)
        if h is None:
            best = "dijkstra"
            reason = f"no contraction hierarchy ({why_not}); plain Dijkstra from every source"
    elif why_not and "hierarchy" not in est:
        reason += f" (no hierarchy: {why_not})"
    return EngineChoice(best, reason, int(n_sources), int(n_targets), est), h


def _report(choice: EngineChoice, engine_log: list | None) -> None:
    level = logging.WARNING if choice.reason.startswith("no contraction hierarchy") else logging.INFO
    log.log(level, "travel times: %s for %d sources × %d targets — %s", choice.engine, choice.n_sources,
            choice.n_targets, choice.reason)
    if engine_log is not None:
        engine_log.append(choice)


def _run(engine, h, csr, transpose, sources, targets, cutoff, out):
    """Fill ``out`` with the times of ``sources`` × ``targets`` by ``engine``."""
    if len(sources) == 0 or out.shape[1] == 0:
        return
    if engine == "hierarchy":
        _hierarchy.many_to_all(h, sources, targets, cutoff, out)
    elif engine == "reverse-dijkstra":
        csr_t = transpose() if transpose is not None else csr.T.tocsr()
        uniq, inverse = np.unique(targets, return_inverse=True)
        back = np.empty((len(uniq), len(sources)))  # time from each source to each target
        _plain_travel_times(csr_t, uniq, sources, cutoff, back)
        out[:] = back[inverse].T
    else:
        _plain_travel_times(csr, sources, targets, cutoff, out)


def _plain_travel_times(csr, sources, targets, cutoff, out):
    """Plain Dijkstra engine (also the reference in the tests); fills ``out`` in place."""
    n = csr.shape[0]
    indptr = csr.indptr.astype(np.int64)
    indices = csr.indices.astype(np.int64)
    weights = csr.data.astype(np.float64)
    block = max(1, min(len(sources), BLOCK_CELLS // max(n, 1)))
    for start in range(0, len(sources), block):
        chunk = sources[start:start + block]
        if targets is None and out.dtype == np.float64:  # write straight into the result
            _dijkstra_many(indptr, indices, weights, chunk, cutoff, out[start:start + len(chunk)])
            continue
        dist = np.empty((len(chunk), n), dtype=np.float64)
        _dijkstra_many(indptr, indices, weights, chunk, cutoff, dist)
        out[start:start + len(chunk)] = dist if targets is None else dist[:, targets]
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
