"""Isochrone polygons from node times (the public builders) and their quality metric."""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from planner.errors import InputError
from planner.isochrones.grid import GridEngine, simplify_polygons
from planner.isochrones.pieces import (
    DEFAULT_QUAD_SEGS,
    METHODS,
    ReachedPieces,
    check_inputs,
    reached_from_arrays,
)
from planner.isochrones.union import CellUnion, direct_polygons
from planner.vocab import DEFAULT_BUFFER_M, RANDOM_SEED

__all__ = ["display_polygons", "isochrone_polygons", "isochrones_for_sources", "reached_length_share"]


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
    u, v, geoms, te, nt, bands = check_inputs(u, v, geometry, edge_time_s, node_times,
                                               bands_s, direction)
    nt = np.atleast_2d(nt)
    n_src, n_bands = nt.shape[0], len(bands)
    if source_ids is None:
        source_ids = np.arange(n_src)
    source_ids = list(source_ids)
    if len(source_ids) != n_src:
        raise InputError(f"{len(source_ids)} source_ids for {n_src} rows of node times",
                         column="source_ids")
    if method not in METHODS:
        raise InputError(f"method must be one of {METHODS}, got {method!r}", column="method")
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
        engine = GridEngine(geoms, te, bands, direction, buffer_m, cell_m, simplify_m)
        polys = engine.polygons(nt, u, v)
        stats = {"method": method, **engine.stats}
    else:
        rp = reached_from_arrays(u, v, geoms, te, nt, bands, direction)
        stats = {"pieces": len(rp.geometry), "method": method}
        if len(rp.geometry) == 0:
            polys = np.array([shapely.Polygon()] * rp.n_groups, dtype=object)
        elif method == "direct":
            polys = direct_polygons(rp, buffer_m, quad_segs)
        else:
            engine = CellUnion(rp, geoms, buffer_m, quad_segs, leaf_m, levels)
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
    out[owners] = simplify_polygons(grouped, tol)
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
