"""Drive-time isochrone polygons built from reached road length.

Polygons are for drawing only: coverage decisions are taken on node travel times elsewhere
(:mod:`planner.coverage`). A band polygon here is, honestly, "the road length reachable within
``T`` seconds, widened by ``buffer_m`` metres": every reached piece of road (whole edges plus the
cut-off part of partially reached edges) is buffered and the buffers of one band are unioned.
Nothing else is added unless the caller asks for the morphologically smoothed version
(``smooth_m``), which is flagged as such in the output.

Reached pieces on a directed edge ``u -> v`` with travel time ``t_e`` for band ``T``:

* ``direction="from"`` (times from the source to nodes): a point at fraction ``x`` of the edge is
  reached at ``t(u) + x * t_e``. The edge is fully reached when ``t(u) + t_e <= T``; otherwise,
  if ``t(u) < T``, the part ``[0, f]`` with ``f = (T - t(u)) / t_e`` is reached. The far node ``v``
  does not help: one cannot enter a directed edge from its head (a two-way street has its own
  reverse edge, which supplies the part reached from ``v``'s side).
* ``direction="to"`` (times from nodes to the source): a point at ``x`` reaches the source in
  ``(1 - x) * t_e + t(v)``. Fully reached when ``t(v) + t_e <= T``; otherwise, if ``t(v) < T``,
  the part ``[1 - f, 1]`` with ``f = (T - t(v)) / t_e``.

Edges with ``t_e = inf`` (closed) or an unreachable end node produce nothing.

All geometry work is vectorised with shapely 2 array functions; the only Python loop runs over
output polygons (one ``union_all`` per source and band).
"""
from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from planner.errors import InputError

__all__ = [
    "ReachedPieces",
    "line_substrings",
    "reached_pieces",
    "isochrone_polygons",
    "isochrones_for_sources",
    "union_then_buffer",
    "reached_length_share",
]

#: Default half-width of the drawn road corridor, metres.
DEFAULT_BUFFER_M = 75.0
#: Segments per quarter circle in buffers. 2 keeps polygons light; the arc error is
#: ``buffer_m * (1 - cos(pi / 8))`` = 7.6 % of the buffer (5.7 m at 75 m), always inward.
DEFAULT_QUAD_SEGS = 2

_DIRECTIONS = ("from", "to")


# --------------------------------------------------------------------------------------------
# vectorised line cutting
# --------------------------------------------------------------------------------------------
def line_substrings(geometry, start, end) -> np.ndarray:
    """Cut many LineStrings at once between normalised fractions.

    Vectorised equivalent of ``shapely.ops.substring(line, start, end, normalized=True)`` for
    ``0 <= start <= end <= 1``, built from one coordinate array and cumulative segment lengths.

    Parameters
    ----------
    geometry : array-like of shapely.LineString, shape (n,)
        Lines in a metric (planar) CRS. Empty or missing lines give ``None``.
    start, end : array-like of float, shape (n,) or scalar
        Fractions of each line's length; clipped to [0, 1] and ``end`` to ``>= start``.

    Returns
    -------
    numpy.ndarray of shapely.LineString, shape (n,)
        The pieces, drawn in the direction of the input. A zero-length piece is a two-point
        LineString with equal points (its buffer is a disc).
    """
    geoms = np.asarray(geometry, dtype=object)
    n = len(geoms)
    out = np.full(n, None, dtype=object)
    if n == 0:
        return out
    start = np.clip(np.broadcast_to(np.asarray(start, dtype=float), (n,)), 0.0, 1.0)
    end = np.clip(np.broadcast_to(np.asarray(end, dtype=float), (n,)), 0.0, 1.0)
    end = np.maximum(end, start)

    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not ok.any():
        return out
    sel = np.flatnonzero(ok)
    xy, line = shapely.get_coordinates(geoms[sel], return_index=True)
    m = len(sel)
    nv = np.bincount(line, minlength=m)
    first = np.r_[0, np.cumsum(nv)[:-1]]
    last = first + nv - 1

    seg = np.hypot(*np.diff(xy, axis=0).T)
    seg[line[1:] != line[:-1]] = 0.0               # no length across line boundaries
    gcum = np.r_[0.0, np.cumsum(seg)]              # global, non-decreasing along all vertices
    total = gcum[last] - gcum[first]
    g0 = gcum[first] + start[sel] * total          # global positions of the cut points
    g1 = gcum[first] + end[sel] * total

    def _point(gpos):
        # vertex k starting the segment that holds gpos, kept inside the line's own segments
        k = np.searchsorted(gcum, gpos, side="right") - 1
        k = np.clip(k, first, np.maximum(last - 1, first))
        seglen = gcum[np.minimum(k + 1, last)] - gcum[k]
        t = np.divide(gpos - gcum[k], seglen, out=np.zeros_like(gpos), where=seglen > 0)
        t = np.clip(t, 0.0, 1.0)
        return xy[k] + t[:, None] * (xy[np.minimum(k + 1, last)] - xy[k])

    p0, p1 = _point(g0), _point(g1)
    # interior vertices strictly between the two cuts
    inner = (gcum > g0[line]) & (gcum < g1[line])
    order_key = np.r_[first - 0.25, np.flatnonzero(inner).astype(float), last + 0.25]
    coords = np.r_[p0, xy[inner], p1]
    owner = np.r_[np.arange(m), line[inner], np.arange(m)]
    o = np.argsort(order_key, kind="stable")
    out[sel] = shapely.linestrings(coords[o], indices=owner[o])
    return out


# --------------------------------------------------------------------------------------------
# reached pieces
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReachedPieces:
    """Road pieces reached within each band.

    Attributes
    ----------
    geometry : numpy.ndarray of LineString
        The reached pieces (whole edges or cut parts), metric CRS.
    group : numpy.ndarray of int
        Output group of each piece: ``source_position * n_bands + band_position``.
    edge : numpy.ndarray of int
        Edge position of each piece.
    full : numpy.ndarray of bool
        True where the whole edge is reached.
    n_sources, n_bands : int
        Shape of the group grid.
    """

    geometry: np.ndarray
    group: np.ndarray
    edge: np.ndarray
    full: np.ndarray
    n_sources: int
    n_bands: int

    def for_group(self, g: int) -> np.ndarray:
        """Pieces of one ``(source, band)`` group, as an array of LineStrings."""
        return self.geometry[self.group == g]

    def length_by_group(self) -> np.ndarray:
        """Total reached length per group, metres (shape ``n_sources * n_bands``)."""
        return np.bincount(self.group, weights=shapely.length(self.geometry),
                           minlength=self.n_sources * self.n_bands)


def _check_inputs(u, v, geometry, edge_time_s, node_times, bands_s, direction):
    u = np.asarray(u)
    v = np.asarray(v)
    geoms = np.asarray(getattr(geometry, "values", geometry), dtype=object)
    te = np.asarray(edge_time_s, dtype=float)
    nt = np.asarray(node_times, dtype=float)
    bands = np.atleast_1d(np.asarray(bands_s, dtype=float))
    n = len(u)
    for name, arr in (("v", v), ("geometry", geoms), ("edge_time_s", te)):
        if arr.shape != (n,):
            raise InputError(f"{name} has shape {arr.shape}, expected ({n},) like u", column=name)
    if not (np.issubdtype(u.dtype, np.integer) and np.issubdtype(v.dtype, np.integer)):
        raise InputError("u and v must be integer node positions", column="u")
    if direction not in _DIRECTIONS:
        raise InputError(f"direction must be 'from' or 'to', got {direction!r}", column="direction")
    if bands.size == 0 or not np.all(np.isfinite(bands)) or np.any(bands <= 0):
        raise InputError("bands_s must be positive finite seconds", column="bands_s")
    if np.any(np.diff(bands) <= 0):
        raise InputError(f"bands_s must be strictly ascending, got {bands.tolist()}", column="bands_s")
    if np.any(np.isnan(te)) or np.any(te < 0):
        raise InputError("edge_time_s must be >= 0 (inf = closed), no NaN", column="edge_time_s")
    if np.any(np.isnan(nt)):
        raise InputError("node times contain NaN (use inf for unreachable)", column="node_time_s")
    n_nodes = nt.shape[-1]
    if n and (min(u.min(), v.min()) < 0 or max(u.max(), v.max()) >= n_nodes):
        raise InputError(f"u/v hold node positions outside 0..{n_nodes - 1}", column="u")
    return u.astype(np.intp), v.astype(np.intp), geoms, te, nt, bands


def reached_pieces(u, v, geometry, edge_time_s, node_times, bands_s, direction="from",
                   *, dedupe=True) -> ReachedPieces:
    """Road pieces reached within each band, for one or many sources at once.

    Parameters
    ----------
    u, v : array-like of int, shape (n_edges,)
        Edge end node positions (edge drawn from ``u`` to ``v``).
    geometry : array-like of LineString, shape (n_edges,)
        Edge geometry in a metric CRS, drawn from ``u`` to ``v``.
    edge_time_s : array-like of float, shape (n_edges,)
        Travel time of each edge, seconds; ``inf`` = closed.
    node_times : array-like of float, shape (n_nodes,) or (n_sources, n_nodes)
        Travel time of each node from (``"from"``) or to (``"to"``) each source; ``inf`` =
        unreachable.
    bands_s : array-like of float
        Strictly ascending band limits, seconds.
    direction : {"from", "to"}
        See the module docstring.
    dedupe : bool, default True
        Drop a fully reached edge when its reverse twin (same end nodes, same length) is also fully
        reached in the same group; the drawn geometry is identical. Partial pieces are kept.

    Returns
    -------
    ReachedPieces
    """
    u, v, geoms, te, nt, bands = _check_inputs(u, v, geometry, edge_time_s, node_times,
                                               bands_s, direction)
    nt2 = np.atleast_2d(nt)
    n_src, n_bands = nt2.shape[0], len(bands)
    near = u if direction == "from" else v         # the node through which the edge is reached
    t0 = nt2[:, near]                              # (n_src, n_edges): time at the near end
    t1 = t0 + te                                   # time at the far end (inf if closed)
    open_edge = np.isfinite(te)

    # (n_src, n_bands, n_edges) decisions, computed band by band to keep memory flat
    src_l, band_l, edge_l, frac_l, full_l = [], [], [], [], []
    for b, T in enumerate(bands):
        full = open_edge & (t1 <= T)
        part = open_edge & (t0 < T) & ~full
        s_f, e_f = np.nonzero(full)
        s_p, e_p = np.nonzero(part)
        # te > 0 on partial edges (te == 0 implies full), so the division is safe
        f = (T - t0[s_p, e_p]) / te[e_p]
        src_l += [s_f, s_p]
        edge_l += [e_f, e_p]
        band_l += [np.full(len(e_f) + len(e_p), b)]
        frac_l += [np.ones(len(e_f)), f]
        full_l += [np.ones(len(e_f), bool), np.zeros(len(e_p), bool)]
    src = np.concatenate(src_l)
    edge = np.concatenate(edge_l)
    band = np.concatenate(band_l)
    frac = np.concatenate(frac_l)
    isfull = np.concatenate(full_l)
    group = src * n_bands + band

    if dedupe and len(edge):
        keep = _drop_twins(u, v, geoms, edge, group, isfull)
        edge, group, frac, isfull = edge[keep], group[keep], frac[keep], isfull[keep]

    o = np.lexsort((edge, group))
    edge, group, frac, isfull = edge[o], group[o], frac[o], isfull[o]
    pieces = geoms[edge].copy()
    cut = ~isfull
    if cut.any():
        f = frac[cut]
        if direction == "from":
            pieces[cut] = line_substrings(geoms[edge[cut]], 0.0, f)
        else:
            pieces[cut] = line_substrings(geoms[edge[cut]], 1.0 - f, 1.0)
    return ReachedPieces(pieces, group, edge, isfull, n_src, n_bands)


def _drop_twins(u, v, geoms, edge, group, isfull):
    """Mask that drops the second copy of fully reached two-way edges within a group."""
    lo, hi = np.minimum(u[edge], v[edge]), np.maximum(u[edge], v[edge])
    # length rounded to 1 cm separates genuine parallel edges with different geometry
    lcm = np.round(shapely.length(geoms[edge]) * 100).astype(np.int64)
    key = pd.DataFrame({"g": group, "lo": lo, "hi": hi, "l": lcm, "f": isfull})
    dup = key.duplicated(["g", "lo", "hi", "l", "f"], keep="first").to_numpy()
    return ~(dup & isfull)
