"""The siting study area: a box or a polygon file plus a margin in metres.

A scenario's ``siting.study_area`` is either ``[west, south, east, north]`` (degrees) or a table
``{ path = "boundary.geojson", margin_m = 1000 }``: the polygons of the file (any CRS), grown by
``margin_m`` metres. Candidate sites and EV demand points outside it are left out of the siting.
"""
from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from planner.errors import InputError
from planner.settings import BEIJING_METRIC_CRS

__all__ = ["read_polygon", "buffer_m", "inside"]


def read_polygon(path, layer: str | None = None) -> shapely.Polygon | shapely.MultiPolygon:
    """Union of the polygons of a vector file, in WGS-84.

    Parameters
    ----------
    path : str or Path
        GeoJSON, GeoPackage, shapefile... A file without CRS is read as WGS-84.
    layer : str, optional
        Layer of a multi-layer file.

    Raises
    ------
    InputError
        Missing or unreadable file, or a file without any polygon, naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("polygon file not found", path=path)
    try:
        gdf = gpd.read_file(path, layer=layer)
    except Exception as exc:  # noqa: BLE001 — any reader failure becomes one line naming the file
        raise InputError(f"cannot read the polygon file ({' '.join(str(exc).split())[:150]})", path=path) from None
    if gdf.crs is not None:
        gdf = gdf.to_crs(4326)
    polys = gdf.geometry[gdf.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    if polys.empty:
        raise InputError("the file holds no polygon", path=path)
    return shapely.make_valid(polys.union_all())


def buffer_m(geom, metres: float, metric_crs: str = BEIJING_METRIC_CRS):
    """``geom`` (WGS-84) grown by ``metres`` (measured in ``metric_crs``), back in WGS-84."""
    if metres == 0:
        return geom
    s = gpd.GeoSeries([geom], crs=4326).to_crs(metric_crs).buffer(metres)
    return s.to_crs(4326).iloc[0]


def inside(area, lon, lat) -> np.ndarray:
    """Boolean array: which points (WGS-84) lie inside or on the edge of ``area``."""
    return shapely.intersects_xy(area, np.asarray(lon, float), np.asarray(lat, float))
