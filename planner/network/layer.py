"""Road layers from files (GeoPackage, Shapefile, GeoJSON) with a column mapping.

Planners often get roads from a local agency as a LineString layer whose column names differ from
OSM's. A :class:`ColumnMap` says which column holds what; :func:`read_road_layer` returns the raw
tables described in ``docs/DESIGN.md`` (one row per drivable direction).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from planner.errors import InputError

#: One-way column values meaning "drivable only in the drawing direction" / "only against it".
ONEWAY_FORWARD = frozenset({"yes", "true", "1", "t", "y", "ft", "f", "forward", "是"})
ONEWAY_BACKWARD = frozenset({"-1", "tf", "backward", "reverse", "r"})


@dataclass
class ColumnMap:
    """Which layer column holds what; ``None`` = not present.

    ``directed=True`` means every row already is one drivable direction (as in osmnx exports and
    the shared SE-Beijing layer); otherwise rows are roads and ``oneway`` decides the directions.
    ``flag_classes`` assigns a class to rows whose class is missing when a boolean column is true,
    e.g. ``{"expressway_inferred": "motorway"}``.
    """

    from_node: str | None = None
    to_node: str | None = None
    oneway: str | None = None
    road_class: str | None = None
    speed: str | None = None
    name: str | None = None
    hgv: str | None = None
    length: str | None = None
    directed: bool = False
    flag_classes: dict[str, str] = field(default_factory=dict)


def read_road_layer(path, columns: ColumnMap | None = None, layer: str | None = None, node_tolerance_m: float = 0.5):
    """Read a road layer into raw ``(nodes, edges)`` tables.

    Parameters
    ----------
    path : str or Path
        GeoPackage, Shapefile, GeoJSON… any format pyogrio reads.
    columns : ColumnMap
    layer : str, optional
        Layer name for multi-layer files (GeoPackage).
    node_tolerance_m : float
        When the layer has no node id columns, line ends closer than about this distance are
        treated as the same junction (coordinates are rounded to a grid of this size).

    Returns
    -------
    nodes : DataFrame
        ``node_id``, ``lon``, ``lat``.
    edges : GeoDataFrame
        See ``docs/DESIGN.md``.

    Raises
    ------
    InputError
        Unreadable or truncated file, missing mapped columns, no line geometries.
    """
    columns = columns or ColumnMap()
    path = Path(path)
    if not path.exists():
        raise InputError("road file not found", path=path)
    try:
        import pyogrio

        gdf = pyogrio.read_dataframe(path, layer=layer)
    except Exception as exc:  # pyogrio raises several types for broken files
        raise InputError(f"cannot read road layer ({_short(exc)})", path=path) from None
    if len(gdf) == 0:
        raise InputError("road layer has no features", path=path)
    missing = [c for c in _mapped(columns) if c not in gdf.columns]
    if missing:
        raise InputError(
            f"mapped column(s) {', '.join(repr(m) for m in missing)} not in the layer; "
            f"columns found: {', '.join(map(str, gdf.columns))}",
            path=path,
            column=missing[0],
        )
    if gdf.crs is None:
        raise InputError("road layer has no CRS; save it with one (e.g. EPSG:4326)", path=path)
    gdf = gdf.to_crs(4326)
    gdf = gdf.explode(index_parts=False, ignore_index=True)  # MultiLineString → LineStrings
    geom = gdf.geometry.values
    bad = ~(shapely.get_type_id(np.asarray(geom)) == 1)
    if bad.any():
        if bad.all():
            raise InputError("road layer holds no LineString geometries", path=path)
        gdf = gdf[~bad].reset_index(drop=True)

    edges = gpd.GeoDataFrame(geometry=gdf.geometry.values, crs=4326)
    edges["road_class"] = _text(gdf, columns.road_class)
    for flag, cls in columns.flag_classes.items():
        if flag not in gdf.columns:
            raise InputError(f"flag column '{flag}' not in the layer", path=path, column=flag)
        hit = gdf[flag].fillna(False).astype(bool).to_numpy() & edges["road_class"].isna().to_numpy()
        edges.loc[hit, "road_class"] = cls
    edges["maxspeed_kmh"] = (
        pd.to_numeric(gdf[columns.speed], errors="coerce").to_numpy(float) if columns.speed else np.nan
    )
    edges["name"] = _text(gdf, columns.name)
    edges["hgv"] = _text(gdf, columns.hgv)
    if columns.length:
        edges["length_m"] = pd.to_numeric(gdf[columns.length], errors="coerce").to_numpy(float)
    else:
        edges["length_m"] = np.nan
    need_len = ~np.isfinite(edges["length_m"].to_numpy(float))
    if need_len.any():
        metric = edges.geometry[need_len].to_crs(edges.geometry[need_len].estimate_utm_crs())
        edges.loc[need_len, "length_m"] = metric.length.to_numpy()

    if columns.from_node and columns.to_node:
        edges["from_node"] = _ids(gdf, columns.from_node, path)
        edges["to_node"] = _ids(gdf, columns.to_node, path)
        nodes = _nodes_from_ids(edges)
    else:
        nodes, edges["from_node"], edges["to_node"] = _nodes_from_ends(edges, node_tolerance_m)

    if columns.directed:
        pair = pd.MultiIndex.from_arrays([edges["from_node"], edges["to_node"]])
        rev = pd.MultiIndex.from_arrays([edges["to_node"], edges["from_node"]])
        edges["oneway"] = ~rev.isin(pair)
    else:
        edges = _expand_directions(edges, gdf, columns.oneway)
    cols = ["from_node", "to_node", "length_m", "road_class", "maxspeed_kmh", "name", "oneway", "hgv", "geometry"]
    return nodes, gpd.GeoDataFrame(edges[cols].reset_index(drop=True), geometry="geometry", crs=4326)


def _expand_directions(edges, gdf, oneway_col):
    """Turn one row per road into one row per drivable direction."""
    if oneway_col:
        ow = gdf[oneway_col].astype("object").fillna("").astype(str).str.strip().str.lower()
        fwd = ow.isin(ONEWAY_FORWARD).to_numpy()
        bwd = ow.isin(ONEWAY_BACKWARD).to_numpy()
    else:
        fwd = bwd = np.zeros(len(edges), bool)
    both = ~(fwd | bwd)
    forward = edges[fwd | both].copy()
    forward["oneway"] = fwd[fwd | both]
    backward = edges[bwd | both].copy()
    backward["oneway"] = bwd[bwd | both]
    backward[["from_node", "to_node"]] = backward[["to_node", "from_node"]].to_numpy()
    backward["geometry"] = shapely.reverse(np.asarray(backward.geometry.values))
    return pd.concat([forward, backward], ignore_index=True)


def _nodes_from_ends(edges, tol_m):
    """Junctions from line end points, rounded to a ~tol_m grid (no node ids in the layer)."""
    coords = np.asarray(edges.geometry.values)
    start = shapely.get_coordinates(shapely.get_point(coords, 0))
    end = shapely.get_coordinates(shapely.get_point(coords, -1))
    deg = tol_m / 111_320.0  # metres → degrees (latitude); fine for a merge tolerance
    pts = np.vstack([start, end])
    keys = np.round(pts / deg).astype(np.int64)
    uniq, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    nodes = pd.DataFrame({"node_id": np.arange(len(uniq), dtype=np.int64), "lon": pts[first, 0], "lat": pts[first, 1]})
    n = len(edges)
    return nodes, inverse[:n].astype(np.int64), inverse[n:].astype(np.int64)


def _nodes_from_ids(edges):
    """Node table from edge ids, coordinates taken from the line ends."""
    geoms = np.asarray(edges.geometry.values)
    start = shapely.get_coordinates(shapely.get_point(geoms, 0))
    end = shapely.get_coordinates(shapely.get_point(geoms, -1))
    ids = np.concatenate([edges["from_node"].to_numpy(), edges["to_node"].to_numpy()])
    xy = np.vstack([start, end])
    uniq, first = np.unique(ids, return_index=True)
    return pd.DataFrame({"node_id": uniq.astype(np.int64), "lon": xy[first, 0], "lat": xy[first, 1]})


def _ids(gdf, col, path):
    values = pd.to_numeric(gdf[col], errors="coerce")
    if values.isna().any():
        row = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise InputError("node id is blank or not an integer", path=path, row=row + 1, column=col)
    return values.to_numpy().astype(np.int64)


def _text(gdf, col):
    if not col:
        return pd.Series([None] * len(gdf), dtype="object").to_numpy()
    s = gdf[col].astype("object")
    return s.where(s.notna() & (s.astype(str).str.strip() != ""), None).to_numpy()


def _mapped(columns: ColumnMap):
    names = [columns.from_node, columns.to_node, columns.oneway, columns.road_class, columns.speed,
             columns.name, columns.hgv, columns.length]
    return [c for c in names if c]


def _short(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]
