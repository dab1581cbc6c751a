"""Grid isochrone engine (``method="grid"``): marching squares on the distance to the reached road."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import contourpy
import numpy as np
import shapely
from numba import njit

from planner.errors import InputError
from planner.isochrones.union import polygonal_part

__all__ = ["GridEngine", "MAX_GRID_NODES", "simplify_polygons"]


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


def simplify_polygons(polys, tolerance):
    """Douglas-Peucker at ``tolerance``; the rare polygon this makes invalid is repaired.

    Boundaries move by at most ``tolerance``. GEOS's topology-preserving variant was 40 times
    slower on the SE-Beijing isochrones (5.4 s against 0.13 s CPU for 9 polygons).
    """
    if tolerance <= 0:
        return polys
    out = shapely.simplify(polys, tolerance, preserve_topology=False)
    bad = np.flatnonzero(~shapely.is_valid(out))
    out[bad] = [polygonal_part(g) for g in shapely.make_valid(out[bad])]
    return out


class GridEngine:
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
        return simplify_polygons(out, self.tol)

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
