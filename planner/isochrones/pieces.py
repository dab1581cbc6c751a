"""Reached road of an isochrone: line cutting and the reached pieces of every band (metric CRS)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from planner.errors import InputError

__all__ = ["CELL_GRID_M", "DEFAULT_QUAD_SEGS", "METHODS", "ORIGIN_JITTER_M", "ReachedPieces", "check_inputs",
           "line_substrings", "reached_from_arrays", "reached_pieces"]


#: Segments per quarter circle in buffers. At 2 the polygons stay light. The arc error is
#: ``buffer_m * (1 - cos(pi / 8))``, which is 7.6 % of the buffer (4.6 m at 60 m), always inward.
DEFAULT_QUAD_SEGS = 2
#: Precision grid (metres) that cell pieces are snapped to, so neighbouring cells match exactly.
CELL_GRID_M = 1e-3
#: Fraction of a metre added to the cell grid origin. The origin then avoids the round
#: coordinates of quantised data; a grid line through a vertex would be a degenerate case.
ORIGIN_JITTER_M = 0.3719

_DIRECTIONS = ("from", "to")
METHODS = ("grid", "cells", "direct")


# --------------------------------------------------------------------------------------------
# vectorised line cutting
# --------------------------------------------------------------------------------------------
def line_substrings(geometry, start, end) -> np.ndarray:
    """Cut many LineStrings at once between normalised fractions.

    This is a vectorised equivalent of
    ``shapely.ops.substring(line, start, end, normalized=True)`` for
    ``0 <= start <= end <= 1``. It is built from one coordinate array and cumulative segment
    lengths.

    Parameters
    ----------
    geometry : array-like of shapely.LineString, shape (n,)
        Lines in a metric (planar) CRS. Empty or missing lines give ``None``.
    start, end : array-like of float, shape (n,), or scalar
        Fractions of each line's length. Both are clipped to [0, 1], and ``end`` to
        ``>= start``.

    Returns
    -------
    numpy.ndarray of shapely.LineString, shape (n,)
        The pieces, drawn in the direction of the input. A zero-length piece is a two-point
        LineString with equal points.
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
        k1 = np.minimum(k + 1, last)
        seglen = gcum[k1] - gcum[k]
        t = np.divide(gpos - gcum[k], seglen, out=np.zeros_like(gpos), where=seglen > 0)
        t = np.clip(t, 0.0, 1.0)
        return xy[k] + t[:, None] * (xy[k1] - xy[k])

    p0, p1 = _point(g0), _point(g1)
    # interior vertices strictly between the two cuts, kept in order between the cut points
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
    """Road pieces reached within each (source, band) group.

    Pieces are sorted by ``group``. A fully reached road is drawn once per group, even when
    both of its directed edges are reached. Its piece then carries the geometry of the road's
    canonical edge. A partial piece is dropped when its road is fully reached in the same group.

    Attributes
    ----------
    geometry : numpy.ndarray of LineString
        The reached pieces, in a metric CRS.
    group : numpy.ndarray of int
        Group of each piece: ``source_position * n_bands + band_position``.
    edge : numpy.ndarray of int
        Edge position of each piece. For a full piece this is the road's canonical edge.
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

    @property
    def n_groups(self) -> int:
        """Number of (source, band) groups."""
        return self.n_sources * self.n_bands

    def bounds(self) -> np.ndarray:
        """Start offsets of each group in the piece arrays (length ``n_groups + 1``)."""
        return np.searchsorted(self.group, np.arange(self.n_groups + 1))

    def for_group(self, g: int) -> np.ndarray:
        """Pieces of one ``(source, band)`` group, as an array of LineStrings."""
        b = self.bounds()
        return self.geometry[b[g]:b[g + 1]]

    def split(self) -> list[np.ndarray]:
        """Pieces of every group, in group order."""
        b = self.bounds()
        return [self.geometry[b[g]:b[g + 1]] for g in range(self.n_groups)]

    def length_by_group(self) -> np.ndarray:
        """Total reached length per group, in metres (shape ``n_groups``)."""
        return np.bincount(self.group, weights=shapely.length(self.geometry),
                           minlength=self.n_groups)


def check_inputs(u, v, geometry, edge_time_s, node_times, bands_s, direction):
    u = np.asarray(u)
    v = np.asarray(v)
    geoms = np.asarray(getattr(geometry, "values", geometry), dtype=object)
    te = np.asarray(edge_time_s, dtype=float)
    nt = np.asarray(node_times, dtype=float)
    bands = np.atleast_1d(np.asarray(bands_s, dtype=float))
    n = len(u)
    if u.ndim != 1:
        raise InputError(f"u must be 1-D, got shape {u.shape}", column="u")
    for name, arr in (("v", v), ("geometry", geoms), ("edge_time_s", te)):
        if arr.shape != (n,):
            raise InputError(f"{name} has shape {arr.shape}, expected ({n},) like u", column=name)
    if n and not (np.issubdtype(u.dtype, np.integer) and np.issubdtype(v.dtype, np.integer)):
        raise InputError("u and v must be integer node positions", column="u")
    if direction not in _DIRECTIONS:
        raise InputError(f"direction must be 'from' or 'to', got {direction!r}",
                         column="direction")
    if bands.ndim != 1 or bands.size == 0 or not np.all(np.isfinite(bands)) or np.any(bands <= 0):
        raise InputError("bands_s must be positive finite seconds", column="bands_s")
    if np.any(np.diff(bands) <= 0):
        raise InputError(f"bands_s must be strictly ascending, got {bands.tolist()}",
                         column="bands_s")
    if np.any(np.isnan(te)) or np.any(te < 0):
        raise InputError("edge_time_s must be >= 0 (inf = closed), without NaN",
                         column="edge_time_s")
    if nt.ndim not in (1, 2):
        raise InputError(f"node times must be 1-D or 2-D, got shape {nt.shape}",
                         column="node_time_s")
    if np.any(np.isnan(nt)):
        raise InputError("node times contain NaN (use inf for unreachable)", column="node_time_s")
    n_nodes = nt.shape[-1]
    if n and (min(u.min(), v.min()) < 0 or max(u.max(), v.max()) >= n_nodes):
        raise InputError(f"u/v hold node positions outside 0..{n_nodes - 1}", column="u")
    geom_ok = shapely.get_type_id(geoms) == shapely.GeometryType.LINESTRING
    if not geom_ok.all():
        bad = int(np.flatnonzero(~geom_ok)[0])
        raise InputError(f"geometry must be LineStrings; edge position {bad} is not",
                         column="geometry")
    return u.astype(np.intp), v.astype(np.intp), geoms, te, nt, bands


def _road_index(u, v, geoms):
    """Road id of each edge and the canonical edge of each road.

    Two directed edges form one road when they join the same node pair and their lengths agree
    within 1 cm. That describes the two directions of a two-way street. Genuine parallel edges
    with different geometry stay apart.
    """
    lcm = np.round(shapely.length(geoms) * 100).astype(np.int64)
    key = pd.DataFrame({"a": np.minimum(u, v), "b": np.maximum(u, v), "l": lcm})
    road = key.groupby(["a", "b", "l"], sort=False).ngroup().to_numpy()
    canon = np.empty(road.max() + 1 if len(road) else 0, dtype=np.intp)
    canon[road[::-1]] = np.arange(len(road))[::-1]     # first edge of each road
    return road, canon


def reached_from_arrays(u, v, geoms, te, nt, bands, direction) -> ReachedPieces:
    """Validated-input core of :func:`reached_pieces`."""
    nt2 = np.atleast_2d(nt)
    n_src, n_bands = nt2.shape[0], len(bands)
    n_edges = len(u)
    road, canon = _road_index(u, v, geoms) if n_edges else (np.zeros(0, np.intp),) * 2
    n_roads = len(canon)
    near = u if direction == "from" else v         # the node through which the edge is reached
    t0 = nt2[:, near]                              # (n_src, n_edges): time at the near end
    t1 = t0 + te                                   # time at the far end (inf if closed)
    open_edge = np.isfinite(te)

    groups, edges, fracs, fulls = [], [], [], []
    for b, T in enumerate(bands):
        full = open_edge & (t1 <= T)
        part = open_edge & (t0 < T) & ~full
        # one full piece per (source, road), drawn with the road's canonical edge
        s_f, e_f = np.nonzero(full)
        fkey = np.unique(s_f * n_roads + road[e_f])
        s_f, r_f = np.divmod(fkey, n_roads) if n_roads else (fkey, fkey)
        # partial pieces of roads that are not fully reached by the same source
        s_p, e_p = np.nonzero(part)
        keep = ~np.isin(s_p * n_roads + road[e_p], fkey)
        s_p, e_p = s_p[keep], e_p[keep]
        # te > 0 on partial edges (te == 0 always counts as full), so the division is safe
        f = (T - t0[s_p, e_p]) / te[e_p]
        groups += [s_f * n_bands + b, s_p * n_bands + b]
        edges += [canon[r_f], e_p]
        fracs += [np.ones(len(r_f)), f]
        fulls += [np.ones(len(r_f), bool), np.zeros(len(e_p), bool)]
    group = np.concatenate(groups).astype(np.intp)
    edge = np.concatenate(edges).astype(np.intp)
    frac = np.concatenate(fracs)
    isfull = np.concatenate(fulls)

    o = np.lexsort((edge, group))
    group, edge, frac, isfull = group[o], edge[o], frac[o], isfull[o]
    pieces = geoms[edge].copy()
    cut = ~isfull
    if cut.any():
        f = frac[cut]
        if direction == "from":
            pieces[cut] = line_substrings(geoms[edge[cut]], 0.0, f)
        else:
            pieces[cut] = line_substrings(geoms[edge[cut]], 1.0 - f, 1.0)
    return ReachedPieces(pieces, group, edge, isfull, n_src, n_bands)


def reached_pieces(u, v, geometry, edge_time_s, node_times, bands_s,
                   direction="from") -> ReachedPieces:
    """Road pieces reached within each band, for one or many sources at once.

    Parameters
    ----------
    u, v : array-like of int, shape (n_edges,)
        Positions of each edge's end nodes (the edge is drawn from ``u`` to ``v``).
    geometry : array-like of LineString, shape (n_edges,)
        Edge geometry in a metric CRS, drawn from ``u`` to ``v``.
    edge_time_s : array-like of float, shape (n_edges,)
        Travel time of each edge, in seconds; ``inf`` means closed.
    node_times : array-like of float, shape (n_nodes,) or (n_sources, n_nodes)
        Travel time of each node from (``"from"``) or to (``"to"``) each source; ``inf``
        means unreachable.
    bands_s : array-like of float
        Band limits in seconds, strictly ascending.
    direction : {"from", "to"}
        See the module docstring.

    Returns
    -------
    ReachedPieces
        One group per (source, band), in source-major order.

    Raises
    ------
    InputError
        When the arrays disagree in shape or hold invalid values.
    """
    return reached_from_arrays(*check_inputs(u, v, geometry, edge_time_s, node_times, bands_s, direction),
                    direction)
