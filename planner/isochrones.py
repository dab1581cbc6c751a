"""Drive-time isochrone polygons built from reached road length.

Polygons are for drawing only: coverage decisions are taken on node travel times elsewhere.
A band polygon here is, honestly, "the road length reachable within ``T`` seconds, widened by
``buffer_m`` metres". Every reached piece of road is buffered, and the buffers of one band are
unioned. A reached piece is a whole edge, or the cut-off part of a partially reached edge.
Nothing else is added unless the caller asks for the morphologically smoothed version
(``smooth_m``), which the output flags as such.

Reached pieces on a directed edge ``u -> v`` with travel time ``t_e``, for band ``T``:

* ``direction="from"`` (node times run from the source to the nodes). A point at fraction ``x``
  of the edge is reached at ``t(u) + x * t_e``. The edge is fully reached when
  ``t(u) + t_e <= T``. Otherwise, if ``t(u) < T``, the part ``[0, f]`` is reached, with
  ``f = (T - t(u)) / t_e``. The far node ``v`` does not help, because a directed edge cannot be
  entered from its head. A two-way street has its own reverse edge, and that edge supplies the
  part reached from ``v``'s side.
* ``direction="to"`` (node times run from the nodes to the source). From a point at ``x`` the
  source is reached in ``(1 - x) * t_e + t(v)``. The edge is fully reached when
  ``t(v) + t_e <= T``. Otherwise, if ``t(v) < T``, the part ``[1 - f, 1]`` is reached, with
  ``f = (T - t(v)) / t_e``.

Closed edges (``t_e = inf``) and edges whose entry node is unreachable produce nothing.

Three engines draw this set (see :func:`isochrones_for_sources`):

* ``method="grid"`` (the default) computes, on a square grid of spacing ``h`` (``cell_m``,
  default ``buffer_m / 3``), the exact distance from every grid node to the road reached in each
  band, with partial edges cut at the remaining time as above (a compiled kernel visits each
  reached segment once and lowers the distance of the nodes within ``buffer_m + h``). Marching
  squares (``contourpy``) then trace ``distance <= buffer_m`` with linear interpolation between
  nodes. Guarantees: every reached point lies inside its polygon when ``h <= buffer_m / 1.5``
  (the four nodes around it are closer than ``h * sqrt(2) < buffer_m``); the boundary lies
  within ``h / 2`` inside the exact buffer, and within ``h`` outside it where interpolation
  crosses the ridge between two roads (tests check both). Bands are nested because the
  distances are. One distance field per source serves all its bands. The contours are then
  simplified (Douglas-Peucker, ``simplify_m``, default ``h / 2``): the bounds above widen by
  ``simplify_m``, bands nest up to ``2 * simplify_m``, and the vertex count drops from about
  2.4 times the exact set's to a third of it.
* ``method="direct"`` buffers every reached piece and runs ``shapely.union_all`` once per
  (source, band). This is the exact set, up to the buffer's arc chords.
* ``method="cells"`` gives the same exact set faster: it splits the plane into a quadtree of
  square cells. A cell is
  *complete* for a (source, band) when every road near it that is fully reached anywhere in the
  call is fully reached by that (source, band), and no partial piece comes near it. Its clipped
  polygon is then the same for every (source, band) where it is complete, so it is computed
  once and cached. Parent cells are built from their children with ``shapely.coverage_union``.
  Only the leaf cells on the reach frontier are unioned afresh: one union per 4 x 4 block of
  leaves, clipped to each leaf. Each band polygon is the coverage union of its cells. Cell
  pieces are snapped to a 1 mm grid (``shapely.set_precision``) so that neighbouring cells share
  identical boundary vertices. If GEOS still rejects a coverage, that polygon falls back to
  ``union_all`` and the fallback is counted in the output's ``attrs["isochrone_stats"]``.
  Results match ``"direct"`` up to that 1 mm snap, so bands are nested up to 1 mm.

Cost, measured on the SE-Beijing layer with 10 plants x 10/20/30 min (off-peak, 75 m buffer,
``python benchmarks/run.py isochrones``), in CPU seconds on a shared 2-core machine:

* ``"grid"`` (25 m): about 1.3 s, differing from the exact set by about 1 % of its area;
* ``"cells"``: about 9 s;
* ``"direct"``: about 22 s;
* union-then-buffer: about 200 s.

GEOS union costs roughly 0.1 ms per buffered piece however the pieces are grouped, which is why
the exact engines cannot go much below the ``"cells"`` figure.

All geometry work uses shapely 2 array functions or the compiled kernel. The Python loops run
over sources, output polygons and quadtree cells, never over edges.
"""
from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import geopandas as gpd
import contourpy
import numpy as np
import pandas as pd
import pyproj
import shapely
from numba import njit
from shapely.errors import GEOSException

from planner.errors import InputError
from planner.vocab import DEFAULT_BUFFER_M, RANDOM_SEED

__all__ = [
    "DEFAULT_BUFFER_M",
    "ReachedPieces",
    "line_substrings",
    "reached_pieces",
    "isochrone_polygons",
    "isochrones_for_sources",
    "union_then_buffer",
    "reached_length_share",
    "display_polygons",
]

#: Segments per quarter circle in buffers. At 2 the polygons stay light. The arc error is
#: ``buffer_m * (1 - cos(pi / 8))``, which is 7.6 % of the buffer (4.6 m at 60 m), always inward.
DEFAULT_QUAD_SEGS = 2
#: Precision grid (metres) that cell pieces are snapped to, so neighbouring cells match exactly.
CELL_GRID_M = 1e-3
#: Fraction of a metre added to the cell grid origin. The origin then avoids the round
#: coordinates of quantised data; a grid line through a vertex would be a degenerate case.
_ORIGIN_JITTER_M = 0.3719

_DIRECTIONS = ("from", "to")
_METHODS = ("grid", "cells", "direct")


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


def _check_inputs(u, v, geometry, edge_time_s, node_times, bands_s, direction):
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


def _reached(u, v, geoms, te, nt, bands, direction) -> ReachedPieces:
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
    return _reached(*_check_inputs(u, v, geometry, edge_time_s, node_times, bands_s, direction),
                    direction)


# --------------------------------------------------------------------------------------------
# union engines
# --------------------------------------------------------------------------------------------
def _polygonal(geom):
    """Keep only the polygonal part of an overlay result (empty Polygon if none)."""
    if geom is None or shapely.is_empty(geom):
        return shapely.Polygon()
    tid = shapely.get_type_id(geom)
    if tid in (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON):
        return geom
    parts = shapely.get_parts(geom)
    parts = parts[np.isin(shapely.get_type_id(parts), [shapely.GeometryType.POLYGON,
                                                       shapely.GeometryType.MULTIPOLYGON])]
    return shapely.union_all(parts) if len(parts) else shapely.Polygon()


def _merge_coverage(parts, stats):
    """Coverage union of non-overlapping cell pieces, falling back to a full union."""
    parts = parts[~shapely.is_empty(parts)]
    if len(parts) == 0:
        return shapely.Polygon()
    if len(parts) == 1:
        return parts[0]
    try:
        out = shapely.coverage_union_all(parts)
        # a mis-noded coverage can come back with overlaps or seams; areas would disagree
        if abs(shapely.area(out) - shapely.area(parts).sum()) <= 1e-9 * shapely.area(out) + 1e-6:
            return _polygonal(out)
    except GEOSException:
        pass
    stats["coverage_fallbacks"] = stats.get("coverage_fallbacks", 0) + 1
    return _polygonal(shapely.union_all(parts))


class _CellUnion:
    """Quadtree-cached union of piece buffers for many (source, band) groups.

    Leaves are squares of ``leaf_m``. Level 0 cells are ``leaf_m * 2**levels`` wide. A leaf
    "sees" every edge whose geometry comes within ``margin`` of its box: that is its expanded
    box. A parent's expanded box is the union of its children's expanded boxes, so parent
    completeness is the conjunction of its leaves' completeness. Unions are computed per
    *block* of 4 x 4 leaves (``_BLOCK_LEVELS``), which keeps the margin duplication low, and are
    then clipped to each leaf box on the 1 mm grid.
    """

    _BLOCK_LEVELS = 2                                   # blocks of 4 x 4 leaves

    def __init__(self, rp: ReachedPieces, geoms, buffer_m, quad_segs, leaf_m, levels):
        self.rp, self.levels, self.leaf = rp, int(levels), float(leaf_m)
        self.bl = min(self._BLOCK_LEVELS, self.levels)
        self.stats = {"coverage_fallbacks": 0, "fresh_leaves": 0, "cached_cells": 0,
                      "cpu_cache_s": 0.0, "cpu_fresh_s": 0.0, "cpu_merge_s": 0.0}
        bq = dict(quad_segs=quad_segs)
        m = buffer_m * (1 + 1e-6) + 10 * CELL_GRID_M   # reach of a buffer beyond its line

        # local edge numbering over the edges that carry any piece
        self.E = np.unique(rp.edge)
        self.loc = np.searchsorted(self.E, rp.edge)          # local edge of each piece
        eg = geoms[self.E]
        # universe: canonical edges of roads fully reached in some group
        self.isU = np.zeros(len(self.E), bool)
        self.isU[self.loc[rp.full]] = True
        ubuf = np.full(len(self.E), None, dtype=object)
        ubuf[self.isU] = shapely.buffer(eg[self.isU], buffer_m, **bq)
        self.ubuf = ubuf
        # partial pieces need their own buffers; full pieces reuse the road buffer
        pbuf = ubuf[self.loc].copy()
        part = ~rp.full
        pbuf[part] = shapely.buffer(rp.geometry[part], buffer_m, **bq)
        self.pbuf = pbuf

        # grid: origin aligned to level-0 cells, plus a jitter
        top = self.leaf * 2 ** self.levels
        x0, y0, x1, y1 = shapely.total_bounds(eg)
        self.ox = np.floor((x0 - m) / top) * top - _ORIGIN_JITTER_M
        self.oy = np.floor((y0 - m) / top) * top - _ORIGIN_JITTER_M
        self.nx = int(np.ceil((x1 + m - self.ox) / top)) * 2 ** self.levels
        self.ny = int(np.ceil((y1 + m - self.oy) / top)) * 2 ** self.levels

        # (leaf, local edge) pairs: candidates from bounding boxes, then an exact test
        b = shapely.bounds(eg)
        ix0 = np.floor((b[:, 0] - m - self.ox) / self.leaf).astype(np.int64)
        ix1 = np.floor((b[:, 2] + m - self.ox) / self.leaf).astype(np.int64)
        iy0 = np.floor((b[:, 1] - m - self.oy) / self.leaf).astype(np.int64)
        iy1 = np.floor((b[:, 3] + m - self.oy) / self.leaf).astype(np.int64)
        wx, wy = ix1 - ix0 + 1, iy1 - iy0 + 1
        cnt = wx * wy
        pe = np.repeat(np.arange(len(self.E)), cnt)
        k = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        px = ix0[pe] + k % wx[pe]
        py = iy0[pe] + k // wx[pe]
        xa, ya = self.ox + px * self.leaf, self.oy + py * self.leaf
        hit = shapely.intersects(eg[pe], shapely.box(xa - m, ya - m, xa + self.leaf + m,
                                                     ya + self.leaf + m))
        self.pair_leaf = (py * self.nx + px)[hit]
        self.pair_edge = pe[hit]
        self.pair_block = self._block_of(self.pair_leaf)
        # universe edges per block (unique), CSR-style, for cached leaf polygons
        uu = self.isU[self.pair_edge]
        key = np.unique(self.pair_block[uu] * len(self.E) + self.pair_edge[uu])
        self.u_block, self.u_edge = np.divmod(key, len(self.E))
        self.block_union = {}
        self.cache = [dict() for _ in range(self.levels + 1)]

    # ---- geometry helpers ---------------------------------------------------------------
    def _block_of(self, leaves):
        nbx = self.nx >> self.bl
        return ((leaves // self.nx) >> self.bl) * nbx + ((leaves % self.nx) >> self.bl)

    def _clip_leaves(self, geoms, leaves):
        s = self.leaf
        x, y = self.ox + (leaves % self.nx) * s, self.oy + (leaves // self.nx) * s
        # clip_by_rect takes one rectangle per call (GEOS rectangle clipper, no noding), which
        # is ~4x faster than a vectorised intersection; the 1 mm snap then fixes the noding
        clipped = np.array([shapely.clip_by_rect(g, a, b, a + s, b + s)
                            for g, a, b in zip(geoms, x.tolist(), y.tolist())], dtype=object)
        out = np.asarray(shapely.set_precision(clipped, CELL_GRID_M), dtype=object)
        odd = ~np.isin(shapely.get_type_id(out), [shapely.GeometryType.POLYGON,
                                                  shapely.GeometryType.MULTIPOLYGON])
        for i in np.flatnonzero(odd):
            out[i] = _polygonal(out[i])
        return out

    def _ensure(self, level, keys):
        """Compute and cache the universe polygons of cells ``keys`` (flat indices) at ``level``."""
        store = self.cache[level]
        todo = np.asarray([k for k in np.unique(keys).tolist() if k not in store], dtype=np.int64)
        if len(todo) == 0:
            return
        if level == self.levels:
            blocks = self._block_of(todo)
            for blk in np.unique(blocks).tolist():
                if blk not in self.block_union:
                    a, b = np.searchsorted(self.u_block, [blk, blk + 1])
                    self.block_union[blk] = (shapely.union_all(self.ubuf[self.u_edge[a:b]])
                                             if b > a else shapely.Polygon())
            unions = np.array([self.block_union[b] for b in blocks.tolist()], dtype=object)
            polys = self._clip_leaves(unions, todo)
        else:
            nxl = self.nx >> (self.levels - level)
            cx, cy = todo % nxl, todo // nxl
            nxc = nxl * 2
            kids = [(2 * cy + dy) * nxc + 2 * cx + dx for dy in (0, 1) for dx in (0, 1)]
            self._ensure(level + 1, np.concatenate(kids))
            child = self.cache[level + 1]
            polys = np.array([_merge_coverage(np.array([child[int(k[i])] for k in kids],
                                                       dtype=object), self.stats)
                              for i in range(len(todo))], dtype=object)
        store.update(zip(todo.tolist(), polys))
        self.stats["cached_cells"] += len(todo)

    # ---- per group ----------------------------------------------------------------------
    def polygons(self) -> np.ndarray:
        rp = self.rp
        nE, nleaf = len(self.E), self.nx * self.ny
        pe = self.pair_edge
        bounds = rp.bounds()
        out = np.empty(rp.n_groups, dtype=object)
        for g in range(rp.n_groups):
            sl = slice(bounds[g], bounds[g + 1])
            loc, full = self.loc[sl], rp.full[sl]
            piece_of = np.full(nE, -1, np.intp)
            piece_of[loc] = np.arange(sl.start, sl.stop)
            partial = np.zeros(nE, bool)
            partial[loc[~full]] = True
            fullroad = np.zeros(nE, bool)
            fullroad[loc[full]] = True
            bad_pair = partial[pe] | (self.isU[pe] & ~fullroad[pe])
            seen = piece_of[pe] >= 0
            bad = (np.bincount(self.pair_leaf[bad_pair], minlength=nleaf) > 0)
            touched = (np.bincount(self.pair_leaf[seen], minlength=nleaf) > 0)
            bad = bad.reshape(self.ny, self.nx)
            touched = touched.reshape(self.ny, self.nx)

            parts = []
            parent_ok = None
            for level in range(self.levels + 1):
                f = 2 ** (self.levels - level)
                bad_l = bad.reshape(self.ny // f, f, self.nx // f, f).any(axis=(1, 3))
                tch_l = touched.reshape(self.ny // f, f, self.nx // f, f).any(axis=(1, 3))
                ok = ~bad_l
                emit = ok & tch_l
                if parent_ok is not None:
                    emit &= ~np.repeat(np.repeat(parent_ok, 2, axis=0), 2, axis=1)
                keys = np.flatnonzero(emit)
                if len(keys):
                    t0 = time.process_time()
                    self._ensure(level, keys)
                    self.stats["cpu_cache_s"] += time.process_time() - t0
                    store = self.cache[level]
                    parts += [store[k] for k in keys.tolist()]
                parent_ok = ok
            # frontier leaves: one union per block of the pieces its frontier leaves see,
            # clipped to each frontier leaf
            fresh = np.flatnonzero(touched & bad)
            t0 = time.process_time()
            if len(fresh):
                self.stats["fresh_leaves"] += len(fresh)
                sel = seen & np.isin(self.pair_leaf, fresh)
                key = np.unique(self.pair_block[sel] * len(rp.geometry) + piece_of[pe[sel]])
                blk, pieces = np.divmod(key, len(rp.geometry))
                cuts = np.flatnonzero(np.diff(blk)) + 1
                blocks = blk[np.r_[0, cuts]]
                unions = np.array([shapely.union_all(self.pbuf[idx])
                                   for idx in np.split(pieces, cuts)], dtype=object)
                fb = np.searchsorted(blocks, self._block_of(fresh))
                parts += list(self._clip_leaves(unions[fb], fresh))
            t1 = time.process_time()
            out[g] = _merge_coverage(np.array(parts, dtype=object), self.stats)
            self.stats["cpu_fresh_s"] += t1 - t0
            self.stats["cpu_merge_s"] += time.process_time() - t1
        return out


def _direct_polygons(rp: ReachedPieces, buffer_m, quad_segs) -> np.ndarray:
    bufs = shapely.buffer(rp.geometry, buffer_m, quad_segs=quad_segs)
    b = rp.bounds()
    return np.array([_polygonal(shapely.union_all(bufs[b[g]:b[g + 1]]))
                     for g in range(rp.n_groups)], dtype=object)


def union_then_buffer(pieces, buffer_m=DEFAULT_BUFFER_M, quad_segs=DEFAULT_QUAD_SEGS):
    """Naive reference: union all pieces into one line set, then buffer it once.

    Gives the same set as buffering each piece and unioning. It exists for comparison in the
    benchmark, where it is much slower.

    Parameters
    ----------
    pieces : array-like of LineString
    buffer_m : float
    quad_segs : int

    Returns
    -------
    shapely.Polygon or shapely.MultiPolygon
    """
    pieces = np.asarray(pieces, dtype=object)
    if len(pieces) == 0:
        return shapely.Polygon()
    return _polygonal(shapely.buffer(shapely.union_all(pieces), buffer_m, quad_segs=quad_segs))


# --------------------------------------------------------------------------------------------
# grid engine: marching squares on the distance to reached road
# --------------------------------------------------------------------------------------------
#: Largest grid (nodes per band) the grid engine builds for one source before asking for a
#: coarser ``cell_m``: 60 M nodes hold 240 MB of float32 distances per band.
MAX_GRID_NODES = 60_000_000


def _segment_table(geoms):
    """Straight segments of every edge, with the fractions of edge length at their ends.

    Returns ``x0, y0, x1, y1, f0, f1, edge, bounds`` where ``bounds`` holds each edge's
    ``(xmin, ymin, xmax, ymax)``. Edges with fewer than two vertices give no segment.
    """
    xy, line = shapely.get_coordinates(geoms, return_index=True)
    n = len(geoms)
    same = line[1:] == line[:-1]
    seg = np.hypot(*np.diff(xy, axis=0).T) if len(xy) > 1 else np.zeros(0)
    seg = np.where(same, seg, 0.0)
    cum = np.r_[0.0, np.cumsum(seg)]
    nv = np.bincount(line, minlength=n)
    first = np.r_[0, np.cumsum(nv)[:-1]]
    total = np.zeros(n)
    has = nv > 0
    total[has] = cum[first[has] + nv[has] - 1] - cum[first[has]]
    along = cum - cum[first[line]]
    frac = np.divide(along, total[line], out=np.zeros_like(along), where=total[line] > 0)
    k = np.flatnonzero(same)
    return (xy[k, 0], xy[k, 1], xy[k + 1, 0], xy[k + 1, 1], frac[k], frac[k + 1],
            line[k].astype(np.intp), shapely.bounds(geoms))


@njit(cache=True, nogil=True)
def _splat(ax, ay, bx, by, reach, gx0, gy0, h, dist, b0, b1):
    """Lower ``dist[b0:b1]`` to the distance from grid nodes to segment a-b, within ``reach``."""
    nb, ny, nx = dist.shape
    i0 = max(0, int(np.ceil((min(ax, bx) - reach - gx0) / h)))
    i1 = min(nx - 1, int(np.floor((max(ax, bx) + reach - gx0) / h)))
    j0 = max(0, int(np.ceil((min(ay, by) - reach - gy0) / h)))
    j1 = min(ny - 1, int(np.floor((max(ay, by) + reach - gy0) / h)))
    dx, dy = bx - ax, by - ay
    l2 = dx * dx + dy * dy
    for j in range(j0, j1 + 1):
        y = gy0 + j * h
        for i in range(i0, i1 + 1):
            x = gx0 + i * h
            s = 0.0
            if l2 > 0.0:
                s = min(1.0, max(0.0, ((x - ax) * dx + (y - ay) * dy) / l2))
            ex, ey = ax + s * dx - x, ay + s * dy - y
            d = np.sqrt(ex * ex + ey * ey)
            for b in range(b0, b1):
                if d < dist[b, j, i]:
                    dist[b, j, i] = d


@njit(cache=True, nogil=True)
def _distance_field(x0, y0, x1, y1, f0, f1, seg_edge, t_near, te, to_dir, bands, reach,
                    gx0, gy0, h, dist):
    """Distance from every grid node to the road reached within each band (one source).

    A point at fraction ``x`` of edge ``e`` is reached at ``t_near[e] + x * te[e]``
    (``to_dir``: ``(1 - x)``). Each segment is cut at the band's remaining time, exactly as
    :func:`reached_pieces` cuts edges.
    """
    nb = len(bands)
    last = bands[nb - 1]
    for k in range(len(x0)):
        e = seg_edge[k]
        tn, tt = t_near[e], te[e]
        if not (tn < last or (tn <= last and tt == 0.0)) or not np.isfinite(tt):
            continue
        if to_dir:
            ta, tb = tn + (1.0 - f0[k]) * tt, tn + (1.0 - f1[k]) * tt
        else:
            ta, tb = tn + f0[k] * tt, tn + f1[k] * tt
        if ta <= tb:
            ax, ay, bx, by, lo, hi = x0[k], y0[k], x1[k], y1[k], ta, tb
        else:
            ax, ay, bx, by, lo, hi = x1[k], y1[k], x0[k], y0[k], tb, ta
        for b in range(nb):
            T = bands[b]
            if hi <= T:                         # whole segment, in this band and all above
                _splat(ax, ay, bx, by, reach, gx0, gy0, h, dist, b, nb)
                break
            if lo < T:                          # the part reached before T
                g = (T - lo) / (hi - lo)
                _splat(ax, ay, ax + g * (bx - ax), ay + g * (by - ay), reach, gx0, gy0, h,
                       dist, b, b + 1)


def _contour_polygon(field, gx0, gy0, h, level):
    """Region ``field <= level`` of one grid, by marching squares, as a shapely geometry."""
    inside = field <= level
    if not inside.any():
        return shapely.Polygon()
    rows = np.flatnonzero(inside.any(axis=1))
    cols = np.flatnonzero(inside.any(axis=0))
    r0, r1 = max(rows[0] - 1, 0), min(rows[-1] + 2, field.shape[0])
    c0, c1 = max(cols[0] - 1, 0), min(cols[-1] + 2, field.shape[1])
    z = field[r0:r1, c0:c1].astype(np.float64)
    xs = gx0 + h * np.arange(c0, c1)
    ys = gy0 + h * np.arange(r0, r1)
    gen = contourpy.contour_generator(xs, ys, z, name="serial",
                                      fill_type=contourpy.FillType.ChunkCombinedOffsetOffset)
    (pts,), (ring_off,), (outer_off,) = gen.filled(-1.0, float(level))
    geom = shapely.from_ragged_array(
        shapely.GeometryType.MULTIPOLYGON, np.asarray(pts, dtype=np.float64),
        (np.asarray(ring_off, np.int64), np.asarray(outer_off, np.int64),
         np.array([0, len(outer_off) - 1], np.int64)))[0]
    if len(outer_off) == 2:
        geom = shapely.get_geometry(geom, 0)
    return geom


def _simplify(polys, tolerance):
    """Douglas-Peucker at ``tolerance``; the rare polygon this makes invalid is repaired.

    Boundaries move by at most ``tolerance``. GEOS's topology-preserving variant was 40 times
    slower on the SE-Beijing isochrones (5.4 s against 0.13 s CPU for 9 polygons).
    """
    if tolerance <= 0:
        return polys
    out = shapely.simplify(polys, tolerance, preserve_topology=False)
    bad = np.flatnonzero(~shapely.is_valid(out))
    out[bad] = [_polygonal(g) for g in shapely.make_valid(out[bad])]
    return out


class _GridEngine:
    """Distance-field isochrones, shared set-up for all sources of one call."""

    def __init__(self, geoms, te, bands, direction, buffer_m, cell_m, simplify_m):
        self.seg = _segment_table(geoms)
        self.te, self.bands = te, bands
        self.to_dir = direction == "to"
        self.buffer, self.h, self.tol = float(buffer_m), float(cell_m), float(simplify_m)
        self.reach = self.buffer + self.h           # nodes next to an inside node are exact
        self.stats = {"cell_m": self.h, "grid_nodes": 0}

    def source(self, t_near):
        """Band polygons of one source (array of ``n_bands`` geometries)."""
        x0, y0, x1, y1, f0, f1, seg_edge, bounds = self.seg
        nb, h = len(self.bands), self.h
        live = np.isfinite(self.te) & (t_near <= self.bands[-1])
        if not live.any():
            return np.array([shapely.Polygon()] * nb, dtype=object)
        lo = bounds[live, :2].min(axis=0) - self.reach - h
        hi = bounds[live, 2:].max(axis=0) + self.reach + h
        g0 = np.floor(lo / h) * h                      # nodes on a lattice shared by all calls
        nx, ny = (np.ceil((hi - g0) / h).astype(int) + 1)
        if nx * ny > MAX_GRID_NODES:
            raise InputError(f"isochrone grid of {nx} x {ny} nodes at cell_m={h:g} is too "
                             f"large; use a larger cell_m or shorter bands", column="cell_m")
        dist = np.full((nb, ny, nx), self.reach + h, dtype=np.float32)
        _distance_field(x0, y0, x1, y1, f0, f1, seg_edge, t_near, self.te, self.to_dir,
                        self.bands, self.reach, g0[0], g0[1], h, dist)
        self.stats["grid_nodes"] += int(nx * ny)
        out = np.empty(nb, dtype=object)
        out[:] = [_contour_polygon(dist[b], g0[0], g0[1], h, self.buffer) for b in range(nb)]
        return _simplify(out, self.tol)

    def polygons(self, nt, u, v, threads=None):
        """Band polygons of every source, source-major; sources run on ``threads`` threads."""
        near = v if self.to_dir else u
        threads = threads or min(len(nt), os.cpu_count() or 1)
        if threads <= 1:
            parts = [self.source(row[near]) for row in nt]
        else:                                   # the numba kernel and contourpy run without GIL
            with ThreadPoolExecutor(max_workers=threads) as pool:
                parts = list(pool.map(lambda row: self.source(row[near]), nt))
        return np.concatenate(parts) if parts else np.zeros(0, dtype=object)


# --------------------------------------------------------------------------------------------
# public builders
# --------------------------------------------------------------------------------------------
def isochrones_for_sources(u, v, geometry, edge_time_s, node_times, bands_s, direction="from",
                           source_ids=None, buffer_m=DEFAULT_BUFFER_M, smooth_m=None, *,
                           rings=False, quad_segs=DEFAULT_QUAD_SEGS, method="grid",
                           cell_m=None, simplify_m=None, leaf_m=500.0, levels=3,
                           crs=None) -> gpd.GeoDataFrame:
    """Isochrone polygons for many sources and bands, built from reached road length.

    Parameters
    ----------
    u, v : array-like of int, shape (n_edges,)
        Positions of each edge's end nodes (rows of ``node_times``' last axis).
    geometry : array-like or GeoSeries of LineString, shape (n_edges,)
        Edge geometry in a **metric** CRS, drawn from ``u`` to ``v``.
    edge_time_s : array-like of float, shape (n_edges,)
        Travel time of each edge, in seconds; ``inf`` means closed.
    node_times : array-like of float, shape (n_sources, n_nodes)
        Time of each node from (``"from"``) or to (``"to"``) each source; ``inf`` means
        unreachable. A 1-D array counts as one source.
    bands_s : array-like of float
        Band limits in seconds, strictly ascending, e.g. ``[600, 1200, 1800]``.
    direction : {"from", "to"}
        ``"to"`` reads node times as times *to* the source (a reverse-graph search) and cuts
        partial edges from their head end.
    source_ids : sequence, optional
        Label of each source (default ``0..n_sources-1``).
    buffer_m : float, default 75
        Half-width of the drawn corridor around reached road, in metres.
    smooth_m : float, optional
        When given, each band polygon is closed morphologically (buffer ``+smooth_m`` then
        ``-smooth_m``) and simplified at ``min(smooth_m, buffer_m) / 10``. The result is then
        unioned with the smoothed band below it, to keep the bands nested. A ``smoothed``
        column set to True marks these rows. They cover more than the reached road: see
        :func:`reached_length_share`.
    rings : bool, default False
        Also return ``ring``: the band polygon minus the band below it. The ``"grid"``
        engine then cuts each simplified band to the next, so the bands nest exactly.
    quad_segs : int, default 2
        Buffer segments per quarter circle (``"cells"`` and ``"direct"`` engines).
    method : {"grid", "cells", "direct"}, default "grid"
        Polygon engine (see the module docstring). ``"cells"`` and ``"direct"`` give the exact
        union of buffers, up to 1 mm snapping; ``"grid"`` traces the same set on a grid of
        ``cell_m`` and is several times faster.
    cell_m : float, optional
        Grid spacing of the ``"grid"`` engine, in metres; default ``buffer_m / 3``, at most
        ``buffer_m / 1.5``.
    simplify_m : float, optional
        Douglas-Peucker tolerance that the ``"grid"`` engine applies to its contours, in
        metres; default ``cell_m / 2``, at most ``buffer_m / 2``; 0 keeps every
        marching-squares vertex. Boundaries move by at most this much, so every reached point
        stays at least ``buffer_m - cell_m / 2 - simplify_m`` (``>= buffer_m / 6``) inside its
        polygon, and a band pokes out of the next by at most ``2 * simplify_m``. The raw
        contours hold about 2.4 times the vertices of the exact set; at ``cell_m / 2`` they
        hold a third of it. The exact engines ignore it.
    leaf_m, levels : float, int, default 500 and 3
        Quadtree of the ``"cells"`` engine: leaf size in metres, and number of levels above
        the leaves (the top cells are ``leaf_m * 2**levels`` wide). Use smaller leaves for
        toy networks.
    crs : optional
        CRS of the output. The default is ``geometry.crs`` when ``geometry`` has one.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per (source, band), source-major, with columns ``source_id``, ``minutes``
        (band / 60) and ``geometry``. A band that reaches no road has an empty Polygon.
        Optional columns are ``smoothed`` and ``ring``. ``attrs["isochrone_stats"]`` holds
        engine counters (grid nodes; or pieces, coverage fallbacks, cached and fresh cells).

    Raises
    ------
    InputError
        When the inputs disagree in shape, hold invalid values, or name an unknown option.
    """
    if crs is None:
        crs = getattr(geometry, "crs", None)
    if crs is not None and pyproj.CRS.from_user_input(crs).is_geographic:
        raise InputError(f"geometry must be in a metric CRS, got geographic {crs}; "
                         "project it first (e.g. EPSG:32650)", column="geometry")
    u, v, geoms, te, nt, bands = _check_inputs(u, v, geometry, edge_time_s, node_times,
                                               bands_s, direction)
    nt = np.atleast_2d(nt)
    n_src, n_bands = nt.shape[0], len(bands)
    if source_ids is None:
        source_ids = np.arange(n_src)
    source_ids = list(source_ids)
    if len(source_ids) != n_src:
        raise InputError(f"{len(source_ids)} source_ids for {n_src} rows of node times",
                         column="source_ids")
    if method not in _METHODS:
        raise InputError(f"method must be one of {_METHODS}, got {method!r}", column="method")
    if not (np.isfinite(buffer_m) and buffer_m > 0):
        raise InputError(f"buffer_m must be a positive number of metres, got {buffer_m}",
                         column="buffer_m")
    if smooth_m is not None and not (np.isfinite(smooth_m) and smooth_m > 0):
        raise InputError(f"smooth_m must be positive metres or None, got {smooth_m}",
                         column="smooth_m")

    if cell_m is None:
        cell_m = buffer_m / 3.0
    if not (np.isfinite(cell_m) and 0 < cell_m <= buffer_m / 1.5):
        raise InputError(f"cell_m must be positive and at most buffer_m / 1.5 "
                         f"({buffer_m / 1.5:g} m), got {cell_m}", column="cell_m")

    if simplify_m is None:
        simplify_m = cell_m / 2.0
    if not (np.isfinite(simplify_m) and 0 <= simplify_m <= buffer_m / 2):
        raise InputError(f"simplify_m must be between 0 and buffer_m / 2 ({buffer_m / 2:g} m), "
                         f"got {simplify_m}", column="simplify_m")

    if method == "grid":
        engine = _GridEngine(geoms, te, bands, direction, buffer_m, cell_m, simplify_m)
        polys = engine.polygons(nt, u, v)
        stats = {"method": method, **engine.stats}
    else:
        rp = _reached(u, v, geoms, te, nt, bands, direction)
        stats = {"pieces": len(rp.geometry), "method": method}
        if len(rp.geometry) == 0:
            polys = np.array([shapely.Polygon()] * rp.n_groups, dtype=object)
        elif method == "direct":
            polys = _direct_polygons(rp, buffer_m, quad_segs)
        else:
            engine = _CellUnion(rp, geoms, buffer_m, quad_segs, leaf_m, levels)
            polys = engine.polygons()
            stats.update(engine.stats)

    grid = polys.reshape(n_src, n_bands)
    if rings and method == "grid" and simplify_m > 0:
        # simplified bands nest up to 2 * simplify_m: cut each to the next so rings add up
        for b in range(n_bands - 2, -1, -1):
            grid[:, b] = shapely.intersection(grid[:, b], grid[:, b + 1])
    if smooth_m is not None:
        grid = _smooth(grid, float(smooth_m), float(buffer_m))
    data = {
        "source_id": np.repeat(np.asarray(source_ids, dtype=object), n_bands),
        "minutes": np.tile(bands / 60.0, n_src),
    }
    if smooth_m is not None:
        data["smoothed"] = True
    out = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(grid.ravel(), crs=crs), crs=crs)
    if rings:
        inner = np.concatenate([np.full((n_src, 1), shapely.Polygon(), dtype=object),
                                grid[:, :-1]], axis=1)
        out["ring"] = gpd.GeoSeries(shapely.difference(grid, inner).ravel(), crs=crs)
    out.attrs["isochrone_stats"] = stats
    return out


def _smooth(grid, smooth_m, buffer_m):
    """Morphological close plus simplify, with nesting kept across bands."""
    tol = min(smooth_m, buffer_m) / 10.0
    closed = shapely.buffer(shapely.buffer(grid, smooth_m, quad_segs=4), -smooth_m, quad_segs=4)
    closed = shapely.simplify(closed, tol, preserve_topology=True)
    for b in range(1, grid.shape[1]):
        closed[:, b] = shapely.union(closed[:, b], closed[:, b - 1])
    return closed


def isochrone_polygons(u, v, geometry, edge_time_s, node_time_s, bands_s, direction="from",
                       buffer_m=DEFAULT_BUFFER_M, smooth_m=None, *, rings=False,
                       quad_segs=DEFAULT_QUAD_SEGS, method="grid", cell_m=None,
                       simplify_m=None, leaf_m=500.0, levels=3,
                       crs=None) -> gpd.GeoDataFrame:
    """Isochrone polygons of one source, one per band, built from reached road length.

    Parameters
    ----------
    u, v, geometry, edge_time_s
        As in :func:`isochrones_for_sources`.
    node_time_s : array-like of float, shape (n_nodes,)
        Time of each node from (``"from"``) or to (``"to"``) the source; ``inf`` means
        unreachable.
    bands_s, direction, buffer_m, smooth_m, rings, quad_segs, method, cell_m, simplify_m
        As in :func:`isochrones_for_sources`.
    leaf_m, levels, crs
        As in :func:`isochrones_for_sources`.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per band, with columns ``minutes`` and ``geometry``. The polygons are whole
        bands, not rings, and they are nested. Optional columns are ``smoothed`` and ``ring``.
    """
    nt = np.asarray(node_time_s, dtype=float)
    if nt.ndim != 1:
        raise InputError(f"node_time_s must be 1-D, got shape {nt.shape}; use "
                         "isochrones_for_sources for several sources", column="node_time_s")
    out = isochrones_for_sources(u, v, geometry, edge_time_s, nt[None, :], bands_s, direction,
                                 None, buffer_m, smooth_m, rings=rings, quad_segs=quad_segs,
                                 method=method, cell_m=cell_m, simplify_m=simplify_m,
                                 leaf_m=leaf_m, levels=levels,
                                 crs=crs)
    return out.drop(columns="source_id").reset_index(drop=True)


def display_polygons(polygons, buffer_m=DEFAULT_BUFFER_M, *, min_hole_m2=None,
                     min_part_m2=None, tolerance_m=None) -> np.ndarray:
    """Lighter copies of area polygons for maps and exports: small holes filled, slivers gone.

    Holes smaller than ``min_hole_m2`` are filled (a block ringed by reached road is reachable
    from it), parts smaller than ``min_part_m2`` are dropped (below the area of one reached
    point's corridor they hold no reached road, only repair artefacts), and what remains is
    simplified at ``tolerance_m``. Nothing reached is lost: filling only adds area, and the
    simplification keeps reached road inside as long as the polygons already hold it
    ``tolerance_m`` deep (the grid engine keeps it ``buffer_m / 6`` deep or more).

    Parameters
    ----------
    polygons : array-like of Polygon/MultiPolygon
        In a metric CRS.
    buffer_m : float, default 75
        Corridor half-width the polygons were built with; sets the defaults below.
    min_hole_m2 : float, optional
        Default ``(4 * buffer_m) ** 2`` (5.8 ha at 60 m; guess: blocks up to about four
        corridor widths across vanish at city scale).
    min_part_m2 : float, optional
        Default ``buffer_m ** 2``.
    tolerance_m : float, optional
        Douglas-Peucker tolerance; default ``buffer_m / 4`` (the drawing detail of the
        plant isochrones).

    Returns
    -------
    numpy.ndarray of Polygon/MultiPolygon
        Same length and order; empty Polygon where nothing is left.
    """
    min_hole = (4.0 * buffer_m) ** 2 if min_hole_m2 is None else float(min_hole_m2)
    min_part = float(buffer_m) ** 2 if min_part_m2 is None else float(min_part_m2)
    tol = buffer_m / 4.0 if tolerance_m is None else float(tolerance_m)
    polys = np.asarray(getattr(polygons, "values", polygons), dtype=object)
    out = np.array([shapely.Polygon()] * len(polys), dtype=object)
    parts, owner = shapely.get_parts(polys, return_index=True)
    keep = (shapely.get_type_id(parts) == shapely.GeometryType.POLYGON) & \
        (shapely.area(parts) >= min_part)
    parts, owner = parts[keep], owner[keep]
    if len(parts) == 0:
        return out
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    shell = np.r_[True, ring_part[1:] != ring_part[:-1]]
    kept = shell | (shapely.area(shapely.polygons(rings)) >= min_hole)
    filled = shapely.polygons(rings[kept], indices=ring_part[kept])
    owners, first = np.unique(owner, return_index=True)
    grouped = shapely.multipolygons(filled, indices=np.searchsorted(owners, owner))
    single = np.diff(np.r_[first, len(owner)]) == 1
    grouped[single] = filled[first[single]]
    out[owners] = _simplify(grouped, tol)
    return out


# --------------------------------------------------------------------------------------------
# quality metric
# --------------------------------------------------------------------------------------------
def reached_length_share(polygons, reached_pieces, buffer_m=DEFAULT_BUFFER_M, *,
                         tolerance_m=1.0, n_samples=10_000, seed=RANDOM_SEED):
    """How honestly the polygons draw the reached road.

    Parameters
    ----------
    polygons : array-like of Polygon/MultiPolygon, shape (n,)
        One polygon per group, e.g. the ``geometry`` column of :func:`isochrones_for_sources`.
    reached_pieces : ReachedPieces or sequence of arrays of LineString
        The reached pieces of each polygon, in the same order. A ``ReachedPieces`` object is
        split by group.
    buffer_m : float
        Corridor half-width that the polygons were built with.
    tolerance_m : float, default 1
        Slack added to ``buffer_m`` in the "far" test. It absorbs snapping and arc chords.
    n_samples : int, default 10000
        Points sampled uniformly inside each polygon for the far-area estimate.
    seed : int
        Seed of the sampler.

    Returns
    -------
    length_share : numpy.ndarray of float, shape (n,)
        Share of reached road length that lies inside its polygon. It should be ``>= 0.99``;
        it is NaN when nothing was reached.
    far_area_share : numpy.ndarray of float, shape (n,)
        Monte Carlo estimate of the share of polygon area farther than
        ``buffer_m + tolerance_m`` from every reached piece: area that the polygon claims
        without reached road under it. It is about 0 for unsmoothed polygons, and positive
        for smoothed ones. The standard error is about ``sqrt(p (1 - p) / n_samples)``.
        It is NaN for empty polygons.
    """
    polys = np.asarray(getattr(polygons, "values", polygons), dtype=object)
    groups = reached_pieces.split() if isinstance(reached_pieces, ReachedPieces) \
        else [np.asarray(p, dtype=object) for p in reached_pieces]
    if len(groups) != len(polys):
        raise InputError(f"{len(groups)} piece groups for {len(polys)} polygons",
                         column="reached_pieces")
    n = len(polys)
    idx = np.repeat(np.arange(n), [len(p) for p in groups])
    flat = np.concatenate(groups) if len(idx) else np.zeros(0, dtype=object)

    # length share: whole pieces covered by their polygon, then exact clipping of the rest
    shapely.prepare(polys)
    lengths = shapely.length(flat)
    inside = lengths.copy()
    if len(flat):
        covered = shapely.covers(polys[idx], flat)        # prepared first argument: fast
        rest = np.flatnonzero(~covered)
        inside[rest] = shapely.length(shapely.intersection(flat[rest], polys[idx[rest]]))
    total = np.bincount(idx, weights=lengths, minlength=n)
    length_share = np.divide(np.bincount(idx, weights=inside, minlength=n), total,
                             out=np.full(n, np.nan), where=total > 0)

    # far-area share by uniform sampling inside each polygon
    rng = np.random.default_rng(seed)
    far = np.full(n, np.nan)
    for i in range(n):
        poly = polys[i]
        if poly is None or shapely.is_empty(poly):
            continue
        x0, y0, x1, y1 = shapely.bounds(poly)
        fill = max(shapely.area(poly) / max((x1 - x0) * (y1 - y0), 1e-12), 1e-3)
        pts = np.zeros((0, 2))
        for _ in range(50):                      # rejection sampling, a few rounds at most
            k = int(min(2e6, 1.3 * (n_samples - len(pts)) / fill + 100))
            xy = np.column_stack([rng.uniform(x0, x1, k), rng.uniform(y0, y1, k)])
            pts = np.vstack([pts, xy[shapely.contains_xy(poly, xy[:, 0], xy[:, 1])]])
            if len(pts) >= n_samples:
                break
        pts = pts[:n_samples]
        if len(pts) == 0 or len(groups[i]) == 0:
            far[i] = 1.0 if len(pts) else np.nan
            continue
        tree = shapely.STRtree(groups[i])
        near, _ = tree.query(shapely.points(pts), predicate="dwithin",
                             distance=buffer_m + tolerance_m)
        far[i] = 1.0 - len(np.unique(near)) / len(pts)
    return length_share, far
