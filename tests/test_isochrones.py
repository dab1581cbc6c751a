"""Isochrone polygons on small synthetic networks with known answers."""
from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.ops import substring

from planner.errors import InputError, PlannerError
from planner.isochrones import (
    ReachedPieces,
    isochrone_polygons,
    isochrones_for_sources,
    line_substrings,
    reached_length_share,
    reached_pieces,
    union_then_buffer,
)
from tests._helpers import B, grid_network, node_times, three_sources

CM = 0.03         # "a few cm"
SMALL = dict(leaf_m=50.0, levels=2)   # tiny quadtree so the cells engine works on toy data
ENGINES = ["grid", "cells", "direct"]
GRID_TOL = B / 3 / 2  # the grid engine (cell_m = B / 3) puts boundaries within half a cell


def tol(method):
    """Position tolerance of an engine's boundary, metres."""
    return GRID_TOL if method == "grid" else CM


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def straight_line(times=(10.0, 20.0, 40.0), two_way=False):
    """Nodes 0..3 at x = 0, 100, 200, 300; edges i -> i+1 drawn with extra vertices."""
    xs = np.array([0.0, 100.0, 200.0, 300.0])
    u = np.array([0, 1, 2])
    v = np.array([1, 2, 3])
    geoms = [shapely.LineString([(xs[a], 0), (xs[a] + 30, 0), (xs[a] + 70, 0), (xs[b], 0)])
             for a, b in zip(u, v)]
    te = np.array(times, dtype=float)
    if two_way:
        geoms += [shapely.LineString(list(g.coords)[::-1]) for g in geoms]
        u, v = np.r_[u, v], np.r_[v, u]
        te = np.r_[te, te]
    return u, v, np.array(geoms, dtype=object), te


# --------------------------------------------------------------------------------------------
# line cutting
# --------------------------------------------------------------------------------------------
def test_line_substrings_matches_shapely_substring():
    rng = np.random.default_rng(1)
    lines = np.array([shapely.LineString(np.cumsum(rng.normal(size=(rng.integers(2, 7), 2)),
                                                   axis=0) * 10) for _ in range(300)])
    a, b = np.sort(rng.random((2, 300)), axis=0)
    a[:20], b[20:40] = 0.0, 1.0
    out = line_substrings(lines, a, b)
    for line, x, y, piece in zip(lines, a, b, out):
        ref = substring(line, x, y, normalized=True)
        assert piece.length == pytest.approx(ref.length, abs=1e-9)
        if ref.geom_type == "LineString" and not ref.is_empty:
            assert shapely.hausdorff_distance(piece, ref) < 1e-9


def test_line_substrings_handles_missing_and_empty():
    out = line_substrings([None, shapely.LineString(), shapely.LineString([(0, 0), (4, 0)])],
                          0.25, 0.5)
    assert out[0] is None and out[1] is None
    assert out[2].equals(shapely.LineString([(1, 0), (2, 0)]))


# --------------------------------------------------------------------------------------------
# cut points on a straight line
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ENGINES)
def test_from_band_ends_mid_edge_at_remaining_time_fraction(method):
    u, v, g, te = straight_line()                     # times 10, 20, 40 s per 100 m edge
    t = node_times(u, v, te, 4, 0, "from")            # 0, 10, 30, 70
    out = isochrone_polygons(u, v, g, te, t, [25.0], "from", buffer_m=B, method=method, **SMALL)
    x0, _, x1, _ = out.geometry.iloc[0].bounds
    # edge 1->2 entered at 10 s, 15 s left of its 20 s: f = 0.75, so the cut is at x = 175
    assert x1 == pytest.approx(175.0 + B, abs=tol(method))
    assert x0 == pytest.approx(0.0 - B, abs=tol(method))
    rp = reached_pieces(u, v, g, te, t, [25.0], "from")
    assert shapely.length(rp.geometry).sum() == pytest.approx(175.0, abs=1e-6)


@pytest.mark.parametrize("method", ENGINES)
def test_to_band_is_cut_from_the_head_end(method):
    u, v, g, te = straight_line()
    t = node_times(u, v, te, 4, 3, "to")              # times to node 3: 70, 60, 40, 0
    out = isochrone_polygons(u, v, g, te, t, [50.0], "to", buffer_m=B, method=method, **SMALL)
    x0, _, x1, _ = out.geometry.iloc[0].bounds
    # edge 2->3 full (40 s); edge 1->2 has 10 s left of 20: its last half, from x = 150
    assert x0 == pytest.approx(150.0 - B, abs=tol(method))
    assert x1 == pytest.approx(300.0 + B, abs=tol(method))


@pytest.mark.parametrize("method", ENGINES)
def test_from_and_to_differ_on_a_one_way_edge(method):
    u, v, g, te = straight_line()
    t_from = node_times(u, v, te, 4, 0, "from")
    t_to = node_times(u, v, te, 4, 0, "to")           # nothing can drive back to node 0
    assert np.isinf(t_to[1:]).all()
    kw = dict(buffer_m=B, method=method, **SMALL)
    p_from = isochrone_polygons(u, v, g, te, t_from, [60.0], "from", **kw)
    p_to = isochrone_polygons(u, v, g, te, t_to, [60.0], "to", **kw)
    assert p_from.geometry.iloc[0].area > 0
    assert p_to.geometry.iloc[0].is_empty
    # the same node times read the other way round give other pieces
    a = reached_pieces(u, v, g, te, t_from, [25.0], "from")
    b = reached_pieces(u, v, g, te, t_from, [25.0], "to")
    assert shapely.length(a.geometry).sum() != pytest.approx(shapely.length(b.geometry).sum())


def test_two_way_street_drawn_once_and_reached_from_both_ends():
    u, v, g, te = straight_line(times=(10.0, 10.0, 10.0), two_way=True)
    t = np.array([0.0, 10.0, 20.0, 30.0])             # "from" node 0
    rp = reached_pieces(u, v, g, te, t, [15.0, 40.0], "from")
    # band 15: 0->1 full, 1->2 half, reverse edges add nothing new
    assert shapely.length(rp.for_group(0)).sum() == pytest.approx(150.0)
    # band 40: every street fully reached in both directions, drawn once per street
    assert len(rp.for_group(1)) == 3 and rp.full[rp.group == 1].all()


# --------------------------------------------------------------------------------------------
# unreachable, closed, nested
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ENGINES)
def test_unreachable_nodes_produce_nothing(method):
    u, v, g, te = straight_line()
    # a second, disconnected street far away
    far = shapely.LineString([(0, 1000), (100, 1000)])
    u2, v2 = np.r_[u, 4], np.r_[v, 5]
    g2, te2 = np.r_[g, [far]], np.r_[te, 10.0]
    t = node_times(u2, v2, te2, 6, 0, "from")
    assert np.isinf(t[4:]).all()
    out = isochrone_polygons(u2, v2, g2, te2, t, [600.0], "from", buffer_m=B, method=method,
                             **SMALL)
    poly = out.geometry.iloc[0]
    assert not poly.intersects(far.buffer(B - 1))
    all_inf = isochrone_polygons(u2, v2, g2, te2, np.full(6, np.inf), [600.0], "from",
                                 buffer_m=B, method=method, **SMALL)
    assert all_inf.geometry.iloc[0].is_empty


@pytest.mark.parametrize("method", ENGINES)
def test_closed_edges_are_excluded(method):
    u, v, g, te = straight_line(times=(10.0, 10.0, 10.0))
    spur = shapely.LineString([(100, 0), (100, 300), (100, 500)])   # dead-end spur from node 1
    u2, v2 = np.r_[u, 1], np.r_[v, 4]
    g2 = np.r_[g, [spur]]
    te_open = np.r_[te, 50.0]
    te_closed = np.r_[te, np.inf]
    probe = shapely.Point(100, 400)
    for te_, inside in ((te_open, True), (te_closed, False)):
        t = node_times(u2, v2, te_, 5, 0, "from")
        out = isochrone_polygons(u2, v2, g2, te_, t, [900.0], "from", buffer_m=B,
                                 method=method, **SMALL)
        assert out.geometry.iloc[0].contains(probe) is inside


@pytest.mark.parametrize("method", ["grid", "cells"])
def test_bands_are_nested_and_rings_add_up(method):
    u, v, g, te, n = grid_network()
    t = node_times(u, v, te, n, 0, "from")
    bands = [30.0, 60.0, 90.0]
    out = isochrone_polygons(u, v, g, te, t, bands, "from", buffer_m=B, rings=True,
                             method=method, **SMALL)
    assert list(out.columns) == ["minutes", "geometry", "ring"]
    assert out["minutes"].tolist() == pytest.approx([0.5, 1.0, 1.5])
    polys = out.geometry.values
    areas = shapely.area(polys)
    assert np.all(np.diff(areas) > 0)
    for inner, outer in zip(polys[:-1], polys[1:]):
        # nested up to the 1 mm snapping of the cells engine (the grid engine: floating point)
        assert shapely.difference(inner, outer).area < 1e-3 * inner.length
    assert shapely.area(out["ring"].values).sum() == pytest.approx(areas[-1], rel=1e-6)


# --------------------------------------------------------------------------------------------
# coverage quality and engine agreement on a random grid
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed,direction", [(0, "from"), (1, "to"), (2, "to")])
def test_grid_length_share_and_engines_agree(seed, direction):
    u, v, g, te, times, bands, kw = three_sources(seed, direction)
    cells = isochrones_for_sources(u, v, g, te, times, bands, **kw, method="cells", **SMALL)
    direct = isochrones_for_sources(u, v, g, te, times, bands, **kw, method="direct")
    assert list(cells.columns) == ["source_id", "minutes", "geometry"]
    assert cells["source_id"].tolist() == ["a"] * 3 + ["b"] * 3 + ["c"] * 3
    assert shapely.is_valid(cells.geometry.values).all()
    sym = shapely.area(shapely.symmetric_difference(cells.geometry.values,
                                                    direct.geometry.values))
    assert np.all(sym <= 1e-3 * shapely.length(direct.geometry.values) + 1e-6)
    rp = reached_pieces(u, v, g, te, times, bands, direction)
    share, far = reached_length_share(cells.geometry.values, rp, B, n_samples=2000)
    assert np.all(share >= 0.99)
    assert np.all(far <= 0.01)
    # the naive reference gives the same set, up to where the buffer arcs put their chords
    naive = union_then_buffer(rp.for_group(4), B)
    ref = direct.geometry.values[4]
    assert shapely.symmetric_difference(naive, ref).area < 1e-3 * ref.area


@pytest.mark.parametrize("simplify_m", [0.0, None])
@pytest.mark.parametrize("seed,direction", [(0, "from"), (1, "to"), (2, "to")])
def test_grid_engine_covers_reached_road_and_matches_exact_set(seed, direction, simplify_m):
    u, v, g, te, times, bands, kw = three_sources(seed, direction)
    grid = isochrones_for_sources(u, v, g, te, times, bands, **kw, simplify_m=simplify_m)
    # round buffers for the reference (the default 2 segments per quarter circle cut arcs)
    direct = isochrones_for_sources(u, v, g, te, times, bands, **kw, method="direct",
                                    quad_segs=16)
    assert grid.attrs["isochrone_stats"]["method"] == "grid"
    polys = grid.geometry.values
    assert shapely.is_valid(polys).all()
    # the simplification (default half a cell) moves every boundary by at most its tolerance
    moved = GRID_TOL if simplify_m is None else 0.0
    rp = reached_pieces(u, v, g, te, times, bands, direction)
    # every reached metre inside; nothing farther than buffer + one cell from reached road
    share, far = reached_length_share(polys, rp, B, tolerance_m=2 * GRID_TOL + moved,
                                      n_samples=2000)
    assert np.all(share == pytest.approx(1.0, abs=1e-9))
    assert np.all(far == 0.0)
    # the same set as the exact union of buffers: inward within half a cell
    exact = direct.geometry.values
    sym = shapely.area(shapely.symmetric_difference(polys, exact))
    assert np.all(sym <= (GRID_TOL + moved) * shapely.length(exact))
    assert np.all(shapely.area(shapely.difference(
        exact, shapely.buffer(polys, GRID_TOL + moved))) < 1e-6)
    # outward, linear interpolation across the ridges between two roads adds at most a cell
    assert np.all(shapely.area(shapely.difference(
        polys, shapely.buffer(exact, 2 * GRID_TOL + moved))) < 1e-6)
    # bands nest (simplified: up to twice the tolerance)
    grid3 = np.asarray(polys, dtype=object).reshape(3, 3)
    for b in range(2):
        outer = shapely.buffer(grid3[:, b + 1], 2 * moved) if moved else grid3[:, b + 1]
        assert np.all(shapely.area(shapely.difference(grid3[:, b], outer)) < 1e-6)
    # vertices: the simplified contours hold fewer than half the raw ones, and fewer than the
    # exact set (at its default 2 segments per quarter circle)
    if simplify_m is None:
        n_grid = shapely.get_num_coordinates(polys).sum()
        raw = isochrones_for_sources(u, v, g, te, times, bands, **kw, simplify_m=0.0)
        light = isochrones_for_sources(u, v, g, te, times, bands, **kw, method="direct")
        assert n_grid < 0.5 * shapely.get_num_coordinates(raw.geometry.values).sum()
        assert n_grid < shapely.get_num_coordinates(light.geometry.values).sum()


def test_grid_engine_rejects_coarse_cells_and_huge_grids(monkeypatch):
    import planner.isochrones.grid as iso_grid

    u, v, g, te = straight_line()
    t = np.array([0.0, 10.0, 30.0, 70.0])
    with pytest.raises(InputError, match="cell_m"):
        isochrone_polygons(u, v, g, te, t, [60.0], buffer_m=B, cell_m=B)
    with pytest.raises(InputError, match="simplify_m must be between 0 and buffer_m / 2"):
        isochrone_polygons(u, v, g, te, t, [60.0], buffer_m=B, simplify_m=B)
    monkeypatch.setattr(iso_grid, "MAX_GRID_NODES", 100)
    with pytest.raises(InputError, match="too large"):
        isochrone_polygons(u, v, g, te, t, [60.0], buffer_m=B)


def test_cells_engine_reuses_cached_cells():
    u, v, g, te, n = grid_network(n=16, seed=3, closed_share=0.0)
    times = np.vstack([node_times(u, v, te, n, s, "from") for s in (0, 5, 40)])
    out = isochrones_for_sources(u, v, g, te, times, [40.0, 80.0, 200.0], "from", buffer_m=B,
                                 method="cells", leaf_m=50.0, levels=2)
    stats = out.attrs["isochrone_stats"]
    assert stats["cached_cells"] > 0 and stats["fresh_leaves"] > 0
    assert stats["coverage_fallbacks"] == 0


def test_length_share_flags_missing_road_and_excess_area():
    u, v, g, te, n = grid_network()
    t = node_times(u, v, te, n, 0, "from")
    rp = reached_pieces(u, v, g, te, t, [60.0], "from")
    poly = isochrone_polygons(u, v, g, te, t, [60.0], "from", buffer_m=B, **SMALL).geometry.values
    share, far = reached_length_share(poly, rp, B, n_samples=2000)
    assert share[0] >= 0.99 and far[0] <= 0.01
    # a polygon missing half the area loses reached length; an inflated one claims empty land
    x0, y0, x1, y1 = poly[0].bounds
    half = shapely.intersection(poly[0], shapely.box(x0, y0, (x0 + x1) / 2, y1))
    share_half, _ = reached_length_share([half], rp, B, n_samples=500)
    fat = shapely.buffer(poly[0], 4 * B)
    _, far_fat = reached_length_share([fat], rp, B, n_samples=2000)
    assert share_half[0] < 0.9
    assert far_fat[0] > 0.2


def test_smoothed_version_is_marked_and_still_covers_the_road():
    u, v, g, te, n = grid_network(seed=4)
    t = node_times(u, v, te, n, 0, "from")
    bands = [40.0, 80.0]
    raw = isochrone_polygons(u, v, g, te, t, bands, "from", buffer_m=B, **SMALL)
    smooth = isochrone_polygons(u, v, g, te, t, bands, "from", buffer_m=B, smooth_m=40.0, **SMALL)
    assert smooth["smoothed"].all()
    assert "smoothed" not in raw.columns
    rp = reached_pieces(u, v, g, te, t, bands, "from")
    share, far = reached_length_share(smooth.geometry.values, rp, B, n_samples=2000)
    assert np.all(share >= 0.99)
    assert np.all(shapely.area(smooth.geometry.values) >= 0.98 * shapely.area(raw.geometry.values))
    assert shapely.difference(smooth.geometry.values[0], smooth.geometry.values[1]).area < 1e-6


# --------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------
def test_bad_inputs_raise_planner_errors():
    u, v, g, te = straight_line()
    t = np.array([0.0, 10.0, 30.0, 70.0])
    with pytest.raises(InputError, match="ascending"):
        isochrone_polygons(u, v, g, te, t, [600.0, 300.0])
    with pytest.raises(InputError, match="direction"):
        isochrone_polygons(u, v, g, te, t, [600.0], direction="both")
    with pytest.raises(InputError, match="shape"):
        isochrone_polygons(u, v[:2], g, te, t, [600.0])
    with pytest.raises(InputError, match="NaN"):
        isochrone_polygons(u, v, g, te, np.array([0.0, np.nan, 1.0, 2.0]), [600.0])
    with pytest.raises(InputError, match="node positions"):
        isochrone_polygons(u, v + 5, g, te, t, [600.0])
    with pytest.raises(InputError, match="source_ids"):
        isochrones_for_sources(u, v, g, te, np.vstack([t, t]), [600.0], source_ids=["x"])
    import geopandas as gpd
    with pytest.raises(PlannerError, match="metric"):
        isochrone_polygons(u, v, gpd.GeoSeries(g, crs="EPSG:4326"), te, t, [600.0])


def test_crs_is_carried_and_reached_pieces_is_dataclass():
    import geopandas as gpd
    u, v, g, te = straight_line()
    t = np.array([0.0, 10.0, 30.0, 70.0])
    out = isochrone_polygons(u, v, gpd.GeoSeries(g, crs="EPSG:32650"), te, t, [25.0, 90.0],
                             buffer_m=B, **SMALL)
    assert out.crs == "EPSG:32650"
    rp = reached_pieces(u, v, g, te, t, [25.0, 90.0])
    assert isinstance(rp, ReachedPieces) and rp.n_groups == 2
    assert rp.length_by_group() == pytest.approx([175.0, 300.0])
