"""Where the road data ends, and which results it cuts short.

A travel-time circle that reaches the edge of the road data is cut there: suppliers beyond the
edge cannot be reached however close they are, so the circle's coverage is a **lower bound**.
The extent used here is the convex hull of the network's nodes (:func:`network_extent`; a
concave hull is available with ``method="concave"``), measured in the network's metric CRS.

To get a complete network, fetch OSM roads for a larger box (``[network] source = "osm"`` with
``bbox = [west, south, east, north]``, then ``planner fetch SCENARIO``) or use the bureau's own
road layer (``source = "layer"``).
"""
from __future__ import annotations

from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = ["network_extent", "network_extent_layer", "extent_layer", "edge_reach", "sites_outside", "audit",
           "HOW_TO_COMPLETE", "DEFAULT_EDGE_TOLERANCE_M", "DEFAULT_SITE_TOLERANCE_M"]

#: A circle within this distance of the data edge counts as reaching it: twice the isochrone
#: buffer of the demo (60 m) plus a typical junction spacing in the data (~200 m); a guess.
DEFAULT_EDGE_TOLERANCE_M = 300.0

#: The advice added to every truncation warning.
HOW_TO_COMPLETE = ("for complete coverage fetch OSM roads for a larger box (network.source = 'osm', "
                   "network.bbox, then `planner fetch SCENARIO`) or use the bureau's own road layer")


def network_extent(lon, lat, metric_crs: str, method: Literal["convex", "concave"] = "convex",
                   concave_ratio: float = 0.05) -> shapely.Polygon:
    """The area the road data covers: a hull of its node coordinates, in WGS-84.

    Parameters
    ----------
    lon, lat : array-like
        Node coordinates (WGS-84 degrees).
    metric_crs : str
        CRS in which the hull is built (it is returned in WGS-84).
    method : {"convex", "concave"}
        Convex hull, or :func:`shapely.concave_hull` with ``concave_ratio`` (0 = tightest).
    concave_ratio : float
        Passed to :func:`shapely.concave_hull`.

    Returns
    -------
    shapely.Polygon
    """
    pts = gpd.GeoSeries(gpd.points_from_xy(np.asarray(lon, float), np.asarray(lat, float)), crs=4326)
    mp = shapely.multipoints(np.asarray(pts.to_crs(metric_crs).values))
    hull = shapely.convex_hull(mp) if method == "convex" else shapely.concave_hull(mp, ratio=concave_ratio)
    return gpd.GeoSeries([hull], crs=metric_crs).to_crs(4326).iloc[0]


def extent_layer(extent: shapely.Polygon, method: str = "convex hull of network nodes") -> gpd.GeoDataFrame:
    """The extent as a one-row GeoDataFrame (``name``, ``method``, geometry in EPSG:4326) for maps."""
    return gpd.GeoDataFrame({"name": ["road data extent"], "method": [method]}, geometry=[extent], crs=4326)


def network_extent_layer(net) -> gpd.GeoDataFrame:
    """The extent of a :class:`~planner.network.graph.RoadNetwork` as a one-row GeoDataFrame (for maps)."""
    return extent_layer(network_extent(net.nodes.lon, net.nodes.lat, net.metric_crs))


def edge_reach(isochrones: gpd.GeoDataFrame, extent: shapely.Polygon, threshold_min: float, metric_crs: str,
               tolerance_m: float = DEFAULT_EDGE_TOLERANCE_M) -> tuple[pd.DataFrame, list[str]]:
    """Which plants' threshold circles reach the edge of the road data.

    Parameters
    ----------
    isochrones : GeoDataFrame
        ``plant_id``, ``profile``, ``minutes`` and polygons (any CRS), as
        :func:`planner.supply_circle.plant_isochrones` returns.
    extent : shapely.Polygon
        From :func:`network_extent` (WGS-84).
    threshold_min : float
        The circle checked (the band with this many minutes).
    metric_crs : str
        CRS in which distances are measured.
    tolerance_m : float
        A circle closer than this to the extent's boundary reaches it.

    Returns
    -------
    (DataFrame, list of str)
        One row per plant and profile: ``plant_id``, ``profile``, ``distance_to_data_edge_m``,
        ``reaches_data_edge`` (bool), ``coverage_is_lower_bound`` (bool, the same); and one
        warning per plant whose circle reaches the edge.
    """
    cols = ["plant_id", "profile", "distance_to_data_edge_m", "reaches_data_edge", "coverage_is_lower_bound"]
    iso = isochrones[np.isclose(isochrones["minutes"].astype(float), float(threshold_min))]
    if iso.empty:
        return pd.DataFrame(columns=cols), []
    edge = gpd.GeoSeries([extent.boundary], crs=4326).to_crs(metric_crs).iloc[0]
    geoms = np.asarray(iso.to_crs(metric_crs).geometry.values)
    dist = shapely.distance(geoms, edge)
    out = pd.DataFrame({"plant_id": iso["plant_id"].astype(str).to_numpy(), "profile": iso["profile"].to_numpy(),
                        "distance_to_data_edge_m": np.round(dist, 1)})
    out["reaches_data_edge"] = out["distance_to_data_edge_m"] <= tolerance_m
    out["coverage_is_lower_bound"] = out["reaches_data_edge"]
    warnings = []
    for pid, g in out[out.reaches_data_edge].groupby("plant_id", sort=True):
        warnings.append(f"plant {pid}: its {threshold_min:g}-minute circle ({', '.join(g.profile)}) is truncated "
                        f"by the edge of the road data: its coverage is a lower bound; {HOW_TO_COMPLETE}")
    return out[cols].reset_index(drop=True), warnings


#: A site within this distance outside the hull counts as inside: the hull's straight edges are drawn
#: in the metric CRS, so sites on the data's own edge can fall centimetres outside (a guess).
DEFAULT_SITE_TOLERANCE_M = 50.0


def sites_outside(ids, lon, lat, extent: shapely.Polygon, metric_crs: str, kind: str = "supplier",
                  tolerance_m: float = DEFAULT_SITE_TOLERANCE_M) -> tuple[np.ndarray, list[str]]:
    """Flag sites farther than ``tolerance_m`` outside the road data's extent.

    Returns
    -------
    (ndarray of bool, list of str)
        ``True`` for each site outside ``extent``; one warning naming up to 10 of them (none when
        all are inside).
    """
    pts = gpd.GeoSeries(gpd.points_from_xy(np.asarray(lon, float), np.asarray(lat, float)), crs=4326)
    area = gpd.GeoSeries([extent], crs=4326).to_crs(metric_crs).iloc[0]
    out = shapely.distance(np.asarray(pts.to_crs(metric_crs).values), area) > tolerance_m
    if not out.any():
        return out, []
    shown = ", ".join(map(str, np.asarray(ids)[out][:10])) + (" …" if out.sum() > 10 else "")
    return out, [f"{int(out.sum())} {kind}(s) lie outside the road data ({shown}): their times are measured from "
                 f"the nearest covered road and may be wrong; {HOW_TO_COMPLETE}"]


def audit(node_lon, node_lat, metric_crs: str, isochrones: gpd.GeoDataFrame | None, suppliers: pd.DataFrame | None,
          threshold_min: float, tolerance_m: float = DEFAULT_EDGE_TOLERANCE_M
          ) -> tuple[shapely.Polygon, pd.DataFrame, np.ndarray | None, list[str]]:
    """Data-extent audit of a coverage run: the extent, the plants it truncates, suppliers outside.

    Parameters
    ----------
    node_lon, node_lat : array-like
        The routable network's node coordinates (WGS-84).
    metric_crs : str
        The network's metric CRS.
    isochrones : GeoDataFrame or None
        Plant isochrones (see :func:`edge_reach`); ``None`` skips the truncation check.
    suppliers : DataFrame or None
        ``site_id``, ``lon``, ``lat``; ``None`` skips the supplier check.
    threshold_min : float
        The coverage threshold (minutes).
    tolerance_m : float
        See :func:`edge_reach`.

    Returns
    -------
    (Polygon, DataFrame, ndarray or None, list of str)
        The extent (convex hull, WGS-84), the :func:`edge_reach` table, the outside-flags of the
        suppliers and the warnings.
    """
    extent = network_extent(node_lon, node_lat, metric_crs)
    warnings: list[str] = []
    edge = pd.DataFrame(columns=["plant_id", "profile", "distance_to_data_edge_m", "reaches_data_edge",
                                 "coverage_is_lower_bound"])
    if isochrones is not None and len(isochrones):
        edge, w = edge_reach(isochrones, extent, threshold_min, metric_crs, tolerance_m)
        warnings += w
    outside = None
    if suppliers is not None and len(suppliers):
        outside, w = sites_outside(suppliers["site_id"], suppliers["lon"], suppliers["lat"], extent, metric_crs)
        warnings += w
    return extent, edge, outside, warnings
