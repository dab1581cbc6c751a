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
from planner.isochrones.build import (
    display_polygons,
    isochrone_polygons,
    isochrones_for_sources,
    reached_length_share,
)
from planner.isochrones.pieces import ReachedPieces, line_substrings, reached_pieces
from planner.isochrones.union import union_then_buffer
from planner.vocab import DEFAULT_BUFFER_M

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
