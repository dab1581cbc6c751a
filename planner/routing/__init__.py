"""Snapping and travel times on a :class:`~planner.network.graph.RoadNetwork`.

Points snap onto the nearest road (:func:`snap_to_roads`); :func:`point_travel_times` and
:func:`point_node_times` route from the projected point along its road's partial edges, over the
node-to-node engines below.

Three compiled (numba) engines, all parallel, giving the same times (to ~1e-12 s):

- ``"dijkstra"``: Dijkstra with a binary heap and a time cutoff from every source over the CSR
  arrays, in blocks of sources so memory stays bounded. No preparation.
- ``"reverse-dijkstra"``: the same from every *target* on the transposed graph — for few
  targets (e.g. 200 suppliers × 3 plants: 3 searches instead of 200).
- ``"hierarchy"``: the graph is contracted once per CSR (cached; see :mod:`planner.routing._hierarchy`) and
  every source costs a small upward search plus a linear sweep shared by 8 sources — about an
  order of magnitude faster per source than a Dijkstra. With a cutoff and all nodes as targets
  only the nodes within the cutoff are swept (:mod:`planner.routing._within`).

:func:`choose_engine` picks the cheapest on estimated cost (:data:`COST_NS`: a cached hierarchy
costs nothing to build; an uncached one is built only when the call's sources pay for it) and says
which engine ran and why (:class:`EngineChoice`, also logged at INFO; a graph that cannot be
contracted is logged at WARNING with the reason). Pass ``engine_log=[]`` to collect the choices,
e.g. for a run manifest.

Results are ``float64`` by default or ``float32`` on request (half the memory; times are exact to
~1e-4 s at an hour). :func:`iter_travel_times` yields the result in blocks of sources for callers
that reduce it as they go (10,000 origins × 476k nodes in float64 would be 38 GB), and
:func:`travel_times_within` gives only the pairs within a cutoff, as a sparse matrix (a 45-minute
cutoff on a 476k-node network stores ~6 % of the dense cells).

Unreachable pairs are ``inf``.

``direction="from"``: time from each source to the targets. ``direction="to"``: time from each
target to the source (Dijkstra on the reversed graph) — e.g. a supplier driving *to* a plant.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from numba import njit, prange

from planner.routing import _hierarchy, _within
from planner.errors import PlannerError, SnapError
from planner.vocab import DEFAULT_MAX_SNAP_M

log = logging.getLogger(__name__)

#: Upper bound on the size of one block of the distance matrix (cells), plain engines and
#: :func:`iter_travel_times`.
BLOCK_CELLS = 32_000_000  # 256 MB in float64
#: Upper bound on the cells of the node-to-node matrix one block of origins of
#: :func:`point_travel_times` routes at once (its temporaries are of the same order).
_POINT_CELLS = 8_000_000  # 64 MB in float64
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
@dataclass(frozen=True)
class Snapped:
    """Points snapped onto the nearest road (a drivable edge), not the nearest junction.

    A point lies on one road; a two-way road is two directed edges with the same line, so each
    point carries up to ``k`` directed edges (padded with ``-1``).

    Attributes
    ----------
    edge : ndarray of int, shape (n, k)
        Edge positions (rows of ``net.edges``) of the road the point lies on; ``-1`` = padding.
    frac : ndarray of float, shape (n, k)
        Position of the projected point along each edge, 0 at its ``u`` end, 1 at ``v``.
    snap_m : ndarray of float, shape (n,)
        Distance from the point to the road, metres.
    node : ndarray of int, shape (n,)
        The end of the road nearest along it to the projected point (for node-based uses).
    """

    edge: np.ndarray
    frac: np.ndarray
    snap_m: np.ndarray
    node: np.ndarray

    def __len__(self) -> int:
        return len(self.snap_m)

    def subset(self, rows) -> Snapped:
        """The snapped points at ``rows`` (indices or boolean mask)."""
        return Snapped(self.edge[rows], self.frac[rows], self.snap_m[rows], self.node[rows])


def snap_to_roads(net, lon, lat, max_snap_m: float | None = DEFAULT_MAX_SNAP_M, ids=None) -> Snapped:
    """Snap WGS-84 points onto their nearest drivable edge.

    The nearest edge is found with a spatial index (:class:`shapely.STRtree`) on the edge lines in
    the network's metric CRS; the point is projected onto it. Every edge as near (to 1 mm) is kept
    with it — the reverse edge of a two-way road, every edge of a junction the point lies at —
    so routing can leave in both directions where the road allows it and only forward on a
    one-way road.

    Parameters
    ----------
    net : RoadNetwork
    lon, lat : array-like
        Degrees, WGS-84 (convert other systems first with :mod:`planner.coords`).
    max_snap_m : float or None
        Refuse points farther than this from any road (``None`` = no limit).
    ids : array-like, optional
        Point ids used in the error message.

    Returns
    -------
    Snapped

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
    pts = shapely.points(x, y)
    geoms = net.metric_geometry()
    tree = _edge_tree(net)
    hit, dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
    near = np.empty(len(pts), np.int64)
    near[hit[0]] = hit[1]
    snap_m = np.empty(len(pts))
    snap_m[hit[0]] = dist
    if max_snap_m is not None:
        far = np.flatnonzero(snap_m > max_snap_m)
        if len(far):
            labels = np.asarray(ids)[far] if ids is not None else far
            shown = ", ".join(f"{lab} ({snap_m[i]:.0f} m)" for lab, i in zip(labels[:10], far[:10]))
            more = f" and {len(far) - 10} more" if len(far) > 10 else ""
            raise SnapError(
                f"{len(far)} point(s) lie farther than {max_snap_m:g} m from the road network: {shown}{more}"
            )
    # the road: every edge as near as the nearest (within _SAME_ROAD_M): the reverse edge of a
    # two-way road, and at a junction every edge meeting there
    pi, cand = tree.query(pts, predicate="dwithin", distance=snap_m + _SAME_ROAD_M)
    same = shapely.distance(geoms[cand], pts[pi]) <= snap_m[pi] + _SAME_ROAD_M
    pi, cand = pi[same], cand[same]
    order = np.lexsort((cand, pi))
    pi, cand = pi[order], cand[order]
    slot = np.arange(len(pi)) - np.searchsorted(pi, pi)
    k = int(slot.max()) + 1 if len(slot) else 1
    edge = np.full((len(pts), k), -1, np.int64)
    frac = np.zeros((len(pts), k))
    edge[pi, slot] = cand
    frac[pi, slot] = shapely.line_locate_point(geoms[cand], pts[pi], normalized=True)
    u = net.edges["u"].to_numpy(np.int64)
    v = net.edges["v"].to_numpy(np.int64)
    f0 = shapely.line_locate_point(geoms[near], pts, normalized=True)
    node = np.where(f0 <= 0.5, u[near], v[near])
    return Snapped(edge, frac, snap_m, node)


def snap(net, lon, lat, max_snap_m: float | None = DEFAULT_MAX_SNAP_M, ids=None):
    """Snap WGS-84 points to the nearest road; the node is that road's end nearest along it.

    For routing from the snapped point itself use :func:`snap_to_roads` with
    :func:`point_travel_times` (this node ignores the part of the road to it).

    Parameters
    ----------
    net : RoadNetwork
    lon, lat : array-like
        Degrees, WGS-84.
    max_snap_m : float or None
        Refuse points farther than this from any road (``None`` = no limit).
    ids : array-like, optional
        Point ids used in the error message.

    Returns
    -------
    nodes : ndarray of int
        Node positions.
    snap_m : ndarray of float
        Distance to the road, metres.

    Raises
    ------
    SnapError
        Listing the points beyond ``max_snap_m``.
    """
    s = snap_to_roads(net, lon, lat, max_snap_m, ids)
    return s.node, s.snap_m


def distance_to_network(net, lon, lat) -> np.ndarray:
    """Distance (m) from WGS-84 points to the nearest road of the network; no limit."""
    return snap_to_roads(net, lon, lat, max_snap_m=None).snap_m


#: Edges this much (metres) farther from a point than its nearest edge still count as its road
#: (the reverse direction of a two-way road lies on the same line).
_SAME_ROAD_M = 1e-3


def _edge_tree(net) -> shapely.STRtree:
    if "_edge_tree" not in net._csr:
        net._csr["_edge_tree"] = shapely.STRtree(net.metric_geometry())
    return net._csr["_edge_tree"]


def _ends(net, snapped: Snapped, profile: str, leave: bool):
    """Nodes and partial-edge times (s) by which snapped points leave (or reach) the network.

    Leaving, a point on edge ``u -> v`` at fraction ``f`` reaches ``v`` after ``(1 - f) * t``;
    arriving, it is reached from ``u`` after ``f * t``. Padding and closed edges give ``inf``.
    """
    t = net.times(profile)
    e = snapped.edge
    ok = e >= 0
    te = np.where(ok, t[np.where(ok, e, 0)], np.inf)
    col = "v" if leave else "u"
    nodes = np.where(ok, net.edges[col].to_numpy(np.int64)[np.where(ok, e, 0)], 0)
    part = (1.0 - snapped.frac) if leave else snapped.frac
    with np.errstate(invalid="ignore"):
        off = np.where(ok, part * te, np.inf)
    off = np.where(np.isnan(off), np.inf, off)  # 0 * inf on a closed edge: closed
    return nodes, off


def point_travel_times(net, origins: Snapped, destinations: Snapped, profile: str = "offpeak",
                       cutoff_s: float | None = None) -> np.ndarray:
    """Travel times between snapped points, along the roads they lie on.

    From an origin on edge ``u -> v`` at fraction ``f`` the trip drives ``(1 - f)`` of the edge to
    ``v`` (or, on a two-way road, ``f`` of the reverse edge to ``u``), then the network, then the
    part of the destination's edge from its start to the destination. Two points on the same
    edge, the destination ahead, are also joined directly along it. The node-to-node times come
    from :func:`travel_times` (its engines unchanged), run from the smaller side.

    Parameters
    ----------
    net : RoadNetwork
    origins, destinations : Snapped
        From :func:`snap_to_roads`.
    profile : str
    cutoff_s : float, optional
        Times above it are ``inf``.

    Returns
    -------
    ndarray, shape (len(origins), len(destinations))
        Seconds, origin -> destination; ``inf`` where unreachable (or beyond the cutoff).
    """
    o_nodes, o_off = _ends(net, origins, profile, leave=True)
    d_nodes, d_off = _ends(net, destinations, profile, leave=False)
    n_a, n_b = len(np.unique(o_nodes)), len(np.unique(d_nodes))
    out = np.full((len(origins), len(destinations)), np.inf)
    # in blocks of the side the searches start from (origins forward, destinations on the reverse
    # graph), so each node is searched from once and the node-to-node matrix and its temporaries
    # stay within _POINT_CELLS cells (5,000 suppliers × 3,355 sites held ~1 GB at once)
    if n_a <= n_b:
        rows = max(1, _POINT_CELLS // max(o_nodes.shape[1] * n_b, 1))
        pieces = [(slice(lo, lo + rows), slice(None)) for lo in range(0, len(origins), rows)]
    else:
        cols = max(1, _POINT_CELLS // max(d_nodes.shape[1] * n_a, 1))
        pieces = [(slice(None), slice(lo, lo + cols)) for lo in range(0, len(destinations), cols)]
    for o_rows, d_cols in pieces:
        a, ia = np.unique(o_nodes[o_rows], return_inverse=True)
        b, ib = np.unique(d_nodes[d_cols], return_inverse=True)
        ia, ib = ia.reshape(o_nodes[o_rows].shape), ib.reshape(d_nodes[d_cols].shape)
        if len(a) <= len(b):
            m = travel_times(net, a, b, profile, "from", cutoff_s)
        else:
            m = travel_times(net, b, a, profile, "to", cutoff_s).T
        part = out[o_rows, d_cols]
        for k in range(o_nodes.shape[1]):
            for j in range(d_nodes.shape[1]):
                cand = o_off[o_rows, k, None] + m[ia[:, k][:, None], ib[:, j][None, :]] + d_off[None, d_cols, j]
                np.minimum(part, cand, out=part)
    _same_edge(net, origins, destinations, profile, out)
    if cutoff_s is not None:
        out[out > cutoff_s] = np.inf
    return out


def _same_edge(net, origins: Snapped, destinations: Snapped, profile: str, out: np.ndarray):
    """Lower ``out`` where an origin and a destination lie on one edge, the destination ahead."""
    t = net.times(profile)

    def table(s):
        i, k = np.nonzero(s.edge >= 0)
        return pd.DataFrame({"i": i, "edge": s.edge[i, k], "f": s.frac[i, k]})

    pairs = table(origins).merge(table(destinations), on="edge", suffixes=("_o", "_d"))
    pairs = pairs[pairs.f_d >= pairs.f_o]
    if len(pairs):
        direct = (pairs.f_d - pairs.f_o).to_numpy() * t[pairs.edge.to_numpy()]
        io, idd = pairs.i_o.to_numpy(), pairs.i_d.to_numpy()
        np.minimum.at(out, (io, idd), np.where(np.isfinite(direct), direct, np.inf))


def point_node_times(net, points: Snapped, profile: str = "offpeak", direction: str = "from",
                     cutoff_s: float | None = None) -> np.ndarray:
    """Time from each snapped point to every node (``"from"``), or from every node to it (``"to"``).

    Parameters
    ----------
    net : RoadNetwork
    points : Snapped
    profile : str
    direction : {"from", "to"}
    cutoff_s : float, optional
        Times above it are ``inf``.

    Returns
    -------
    ndarray, shape (len(points), n_nodes)
        Seconds.
    """
    if direction not in ("from", "to"):
        raise PlannerError(f"direction must be 'from' or 'to', got '{direction}'")
    nodes, off = _ends(net, points, profile, leave=(direction == "from"))
    out = np.full((len(points), net.n_nodes), np.inf)
    for k in range(nodes.shape[1]):
        t = travel_times(net, nodes[:, k], None, profile, direction, cutoff_s)
        np.minimum(out, t + off[:, k, None], out=out)
    if cutoff_s is not None:
        out[out > cutoff_s] = np.inf
    return out


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


def travel_times_within(net, sources, cutoff_s: float, profile: str = "offpeak", direction: str = "from",
                        engine: str | None = None, engine_log: list | None = None) -> sp.csr_matrix:
    """Travel times from node sets to every node within a cutoff, as a sparse matrix.

    The form for large networks: only the pairs within ``cutoff_s`` are computed and stored (a
    45-minute cutoff reaches ~6 % of a 476k-node network, so the dense result would be ~15× larger
    and its writing alone would cost more than the search; ``benchmarks/run.py routing_scale``).

    Parameters
    ----------
    net, sources, profile, direction, engine, engine_log
        As in :func:`travel_times`.
    cutoff_s : float
        Seconds; finite.

    Returns
    -------
    scipy.sparse.csr_matrix, shape (len(sources), n_nodes)
        Entry ``(i, v)``: seconds from ``sources[i]`` to node ``v`` (or from ``v`` to it, for
        ``direction="to"``), stored only when within the cutoff; a stored ``0`` is a real time (the
        source itself), an absent entry is beyond the cutoff or unreachable. Column indices within
        a row are not sorted (call ``.sort_indices()`` if needed).
    """
    csr, transpose = _csrs(net, profile, direction)
    return csr_travel_times_within(csr, sources, cutoff_s, engine=engine, engine_log=engine_log, transpose=transpose)


def csr_travel_times_within(csr, sources, cutoff_s: float, engine: str | None = None, engine_log: list | None = None,
                            transpose=None) -> sp.csr_matrix:
    """:func:`travel_times_within` on a bare CSR matrix (see :func:`csr_travel_times`)."""
    sources, _, cutoff, _ = _check(csr, sources, None, cutoff_s, np.float64)
    if not np.isfinite(cutoff):
        raise PlannerError(f"travel_times_within needs a finite cutoff, got {cutoff_s}")
    n = csr.shape[0]
    choice, h = choose_engine(csr, len(sources), None, engine)
    _report(choice, engine_log)
    if choice.engine == "hierarchy" and len(sources):
        counts, nodes, times = _within.many_within(h, sources, cutoff)
    else:
        counts, nodes, times = _within.dense_rows(
            lambda lo, hi, block: _run(choice.engine, h, csr, transpose, sources[lo:hi], None, cutoff, block),
            len(sources), n, cutoff, BLOCK_CELLS)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    return sp.csr_matrix((times, nodes, indptr), shape=(len(sources), n))


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
        best = min(est, key=lambda k: est[k])
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
    if engine == "hierarchy" and targets is None and np.isfinite(cutoff):
        _within.many_within(h, sources, cutoff, out)  # sweeps the reached area only
    elif engine == "hierarchy":
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
