"""Proportionate outputs: the display version of area polygons, and the demo fit area.

Reached road is cut independently by :func:`planner.isochrones.reached_pieces` and measured
against the polygons with :func:`planner.isochrones.reached_length_share` (exact clipping).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely

from planner import isochrones
from planner import supply_circle as coverage
from planner.routing import snap, travel_times
from tests._helpers import B, three_sources

ROOT = Path(__file__).resolve().parents[1]


def _holes(polys):
    """Areas of every interior ring."""
    parts = shapely.get_parts(np.asarray(polys, dtype=object))
    rings, owner = shapely.get_rings(parts, return_index=True)
    hole = np.r_[False, owner[1:] == owner[:-1]]
    return shapely.area(shapely.polygons(rings[hole]))


def test_display_polygons_by_hand():
    frame = shapely.box(0, 0, 1000, 1000)
    small, large = shapely.box(100, 100, 150, 150), shapely.box(300, 300, 700, 700)
    holed = shapely.Polygon(frame.exterior.coords, [small.exterior.coords, large.exterior.coords])
    sliver = shapely.box(2000, 0, 2010, 10)
    out = isochrones.display_polygons(
        [shapely.MultiPolygon([holed, sliver]), shapely.Polygon(), shapely.box(5e3, 0, 5100, 100)],
        buffer_m=60.0)
    assert len(out) == 3
    # the 0.25 ha hole is filled, the 16 ha one kept; the 100 m2 sliver is gone
    assert out[0].equals(shapely.difference(frame, large))
    assert out[1].is_empty
    assert out[2].equals(shapely.box(5e3, 0, 5100, 100))  # 1 ha >= buffer**2: kept


@pytest.mark.parametrize("seed,direction", [(0, "from"), (1, "to")])
def test_display_version_keeps_reached_road_and_drops_small_holes(seed, direction):
    u, v, g, te, times, bands, kw = three_sources(seed, direction)
    exact = isochrones.isochrones_for_sources(u, v, g, te, times, bands, **kw).geometry.values
    min_hole = (4 * B) ** 2
    light = isochrones.display_polygons(exact, B)
    assert shapely.is_valid(light).all()
    rp = isochrones.reached_pieces(u, v, g, te, times, bands, direction)
    share, _ = isochrones.reached_length_share(light, rp, B, n_samples=200)
    assert np.nanmin(share) >= 0.99
    # small holes go (the kept ones may shrink a little in the simplification)
    assert (_holes(exact) < min_hole / 2).any()
    assert (_holes(light) >= min_hole / 2).all()
    # what is left moved by at most the tolerance (B / 4)
    assert np.all(shapely.area(shapely.difference(exact, shapely.buffer(light, B / 4))) < 1e-6)
    assert shapely.get_num_coordinates(light).sum() < shapely.get_num_coordinates(exact).sum()


def test_demo_fit_area_exact_and_display_cover_reached_road(demo):
    sc, net, plants, _ = demo
    cov = sc.coverage
    prof, limit_s = cov.profiles[0], cov.threshold_min * 60.0
    fit = coverage.fit_area(net, plants, prof, cov.threshold_min, cov.buffer_m)
    light = coverage.fit_area_display(fit, cov.buffer_m, net.metric_crs)
    assert list(light.columns[:-1]) == list(fit.columns) and light["display"].all()
    # the reached road of the same times, cut independently of the polygons
    p_nodes, _ = snap(net, plants.lon, plants.lat, None)
    t = travel_times(net, p_nodes, None, profile=prof, direction="to", cutoff_s=limit_s)
    times = np.vstack([t.max(axis=0)[None, :], t])
    pieces = isochrones.reached_pieces(net.edges.u.to_numpy(), net.edges.v.to_numpy(),
                                       net.metric_geometry(), net.times(prof), times, [limit_s],
                                       direction="to")
    exact_m = fit.to_crs(net.metric_crs).geometry.values
    light_m = light.to_crs(net.metric_crs).geometry.values
    for polys in (exact_m, light_m):
        share, _ = isochrones.reached_length_share(polys, pieces, cov.buffer_m, n_samples=500)
        assert np.nanmin(share) >= 0.99
    n_exact = shapely.get_num_coordinates(exact_m).sum()
    n_light = shapely.get_num_coordinates(light_m).sum()
    print("fit area vertices: exact", n_exact, "display", n_light)
    assert n_light < n_exact / 2
