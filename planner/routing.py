"""Snapping and travel times on a :class:`~planner.network.graph.RoadNetwork`.

Points snap onto the nearest road (:func:`snap_to_roads`); :func:`point_travel_times` and
:func:`point_node_times` route from the projected point along its road's partial edges, over the
node-to-node engines below.

Two compiled (numba) engines, both parallel over sources, giving the same times (to ~1e-12 s):

- *plain*: Dijkstra with a binary heap and a time cutoff over the CSR arrays, in blocks of sources
  so memory stays bounded. Used for few sources (no preparation).
- *contracted*: from :data:`CONTRACT_MIN_SOURCES` sources on, the graph is contracted once per
  CSR (cached; see :mod:`planner._contract`) and every source costs a small upward search plus a
  linear sweep shared by 8 sources — about an order of magnitude faster per source.

Unreachable pairs are ``inf``.

``direction="from"``: time from each source to the targets. ``direction="to"``: time from each
target to the source (Dijkstra on the reversed graph) — e.g. a supplier driving *to* a plant.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from numba import njit, prange

from planner import _contract
from planner.errors import PlannerError, SnapError

#: Upper bound on the size of one block of the distance matrix (float64 cells), plain engine.
BLOCK_CELLS = 32_000_000  # 256 MB
#: From this many sources on, use the contracted engine. Its one-off build (~0.5-0.9 s per CSR on
#: the demo network, cached) costs about as much as 250 plain sources, so the first such call may
#: be a little slower than the plain engine; every later call on that CSR is ~10-20x faster.
CONTRACT_MIN_SOURCES = 128


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

    def subset(self, rows) -> "Snapped":
        """The snapped points at ``rows`` (indices or boolean mask)."""
        return Snapped(self.edge[rows], self.frac[rows], self.snap_m[rows], self.node[rows])


def snap_to_roads(net, lon, lat, max_snap_m: float | None = 500.0, ids=None) -> Snapped:
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


def snap(net, lon, lat, max_snap_m: float | None = 500.0, ids=None):
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
    a, ia = np.unique(o_nodes, return_inverse=True)
    b, ib = np.unique(d_nodes, return_inverse=True)
    ia, ib = ia.reshape(o_nodes.shape), ib.reshape(d_nodes.shape)
    if len(a) <= len(b):
        m = travel_times(net, a, b, profile, "from", cutoff_s)
    else:
        m = travel_times(net, b, a, profile, "to", cutoff_s).T
    out = np.full((len(origins), len(destinations)), np.inf)
    for k in range(o_nodes.shape[1]):
        for j in range(d_nodes.shape[1]):
            cand = o_off[:, k, None] + m[ia[:, k][:, None], ib[:, j][None, :]] + d_off[None, :, j]
            np.minimum(out, cand, out=out)
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
        hierarchy = _contract.hierarchy_for(csr)
        if hierarchy is not None:
            _contract.many_to_all(hierarchy, sources, targets, cutoff, out)
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


def reached(net, source: int, profile: str, direction: str = "from", cutoff_s=None) -> np.ndarray:
    """Time of every node from (or to) one source; ``inf`` where not reached."""
    return travel_times(net, [source], None, profile, direction, cutoff_s)[0]


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
            _contract._dijkstra_one(indptr, indices, weights, sources[i], cutoff, out[i], heap_d,
                                    heap_v)
