"""Conversions between the Chinese web-map coordinate systems and WGS-84.

Three systems are in everyday use in Chinese data:

``wgs84``
    GPS / OpenStreetMap coordinates (EPSG:4326). The planner works in this system.
``gcj02``
    The obfuscated "Mars" system mandated for published maps in mainland China (Gaode/AMap,
    Tencent, Google China tiles). Inside China it is WGS-84 plus a smooth, non-linear offset of
    a few hundred metres (about 100–700 m around Beijing).
``bd09``
    Baidu's system: GCJ-02 followed by a further small polar perturbation and a constant shift
    of roughly (0.0065°, 0.006°).

Every function is vectorised: pass numpy arrays (or anything ``np.asarray`` accepts, any
shape, broadcast against each other) and get arrays back; scalars give numpy float scalars.
NaN in gives NaN out.

Out-of-China rule
-----------------
GCJ-02 is only applied inside the customary China bounding box
``72.004 < lon < 137.8347`` and ``0.8293 < lat < 55.8271`` (:func:`out_of_china`); points
outside it are returned unchanged by :func:`wgs84_to_gcj02`. The box is coarse (it includes
e.g. Mongolia and parts of neighbouring countries) but it is what the map providers and the
common libraries use, so it is followed here for compatibility.

The inverse :func:`gcj02_to_wgs84` returns the exact WGS-84 preimage (fixed-point iteration
to below 1e-12°, not the common one-step approximation whose error is up to ~1 m). Near the
box edge a GCJ-02 point may have two preimages (an in-box point shifted across the edge and
the point itself, which lies outside); the in-box preimage is preferred, so WGS-84 → GCJ-02
→ WGS-84 round-trips exactly for every in-box point, while a GCJ-02 point that lies outside
the box but within ~1 km of its edge may not be returned unchanged. Points further outside
are always returned unchanged.

BD-09 is applied everywhere (as Baidu does), without a box test.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from planner.errors import PlannerError

__all__ = [
    "SYSTEMS",
    "CoordSystemError",
    "normalise_system",
    "out_of_china",
    "wgs84_to_gcj02",
    "gcj02_to_wgs84",
    "gcj02_to_bd09",
    "bd09_to_gcj02",
    "wgs84_to_bd09",
    "bd09_to_wgs84",
    "to_wgs84",
    "from_wgs84",
    "shift_geometry",
]

#: Canonical names of the supported coordinate systems.
SYSTEMS: tuple[str, ...] = ("wgs84", "gcj02", "bd09")

# Krasovsky 1940 ellipsoid used by the GCJ-02 offset formula.
_A = 6378245.0
_EE = 0.00669342162296594323
# Baidu's angular constant.
_X_PI = np.pi * 3000.0 / 180.0

# China bounding box of the out-of-China rule (exclusive bounds).
_CHINA_LON = (72.004, 137.8347)
_CHINA_LAT = (0.8293, 55.8271)

# Iterative inverses: stop when every coordinate moved less than this (degrees).
_TOL = 1e-12
_MAX_ITER = 50

_ALIASES = {
    "wgs84": "wgs84",
    "wgs": "wgs84",
    "epsg4326": "wgs84",
    "gps": "wgs84",
    "gcj02": "gcj02",
    "gcj": "gcj02",
    "mars": "gcj02",
    "amap": "gcj02",
    "gaode": "gcj02",
    "bd09": "bd09",
    "bd09ll": "bd09",
    "bd": "bd09",
    "baidu": "bd09",
}


class CoordSystemError(PlannerError, ValueError):
    """An unknown coordinate-system name was given."""


def normalise_system(system: str) -> str:
    """Return the canonical name (``"wgs84"``, ``"gcj02"`` or ``"bd09"``) of ``system``.

    Matching ignores case, spaces, hyphens, underscores and colons, so ``"WGS-84"``,
    ``"GCJ-02"``, ``"BD-09"``, ``"EPSG:4326"`` and ``"Baidu"`` are all accepted.

    Raises
    ------
    CoordSystemError
        (a :class:`ValueError` and :class:`~planner.errors.PlannerError`) naming the
        allowed values when the name is not recognised.
    """
    key = "".join(ch for ch in str(system).lower() if ch not in " -_:.")
    try:
        return _ALIASES[key]
    except KeyError:
        raise CoordSystemError(
            f"unknown coordinate system {system!r}; use one of "
            f"{', '.join(SYSTEMS)} (aliases WGS-84, GCJ-02, BD-09)"
        ) from None


def _as_float_arrays(lon, lat) -> tuple[np.ndarray, np.ndarray, bool]:
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    scalar = lon.ndim == 0 and lat.ndim == 0
    lon, lat = np.broadcast_arrays(lon, lat)
    return lon.copy(), lat.copy(), scalar


def _out(lon: np.ndarray, lat: np.ndarray, scalar: bool):
    if scalar:
        return lon[()], lat[()]
    return lon, lat


def out_of_china(lon, lat) -> np.ndarray:
    """Boolean array: True where the point lies outside the GCJ-02 China bounding box.

    NaN coordinates count as inside (they stay NaN through the formulas).
    """
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return (
            (lon <= _CHINA_LON[0])
            | (lon >= _CHINA_LON[1])
            | (lat <= _CHINA_LAT[0])
            | (lat >= _CHINA_LAT[1])
        )


def _gcj_offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 offset (degrees) to add to WGS-84 ``lon``, ``lat``, ignoring the China box."""
    x = lon - 105.0
    y = lat - 35.0
    pi = np.pi
    common = (20.0 * np.sin(6.0 * pi * x) + 20.0 * np.sin(2.0 * pi * x)) * (2.0 / 3.0)
    sqrt_abs_x = np.sqrt(np.abs(x))
    t_lat = (
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
        + common
        + (20.0 * np.sin(pi * y) + 40.0 * np.sin(pi * y / 3.0)) * (2.0 / 3.0)
        + (160.0 * np.sin(pi * y / 12.0) + 320.0 * np.sin(pi * y / 30.0)) * (2.0 / 3.0)
    )
    t_lon = (
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
        + common
        + (20.0 * np.sin(pi * x) + 40.0 * np.sin(pi * x / 3.0)) * (2.0 / 3.0)
        + (150.0 * np.sin(pi * x / 12.0) + 300.0 * np.sin(pi * x / 30.0)) * (2.0 / 3.0)
    )
    rad_lat = np.radians(lat)
    w = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_w = np.sqrt(w)
    # metres -> degrees on the Krasovsky ellipsoid (meridian / prime-vertical radii)
    d_lat = t_lat * 180.0 / ((_A * (1.0 - _EE)) / (w * sqrt_w) * pi)
    d_lon = t_lon * 180.0 / (_A / sqrt_w * np.cos(rad_lat) * pi)
    return d_lon, d_lat


def _fixed_point_inverse(
    forward: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    lon: np.ndarray,
    lat: np.ndarray,
    start: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``forward(x) == (lon, lat)`` for x by the iteration x += target - forward(x).

    The forward maps here are the identity plus a perturbation whose Jacobian norm is
    ~1e-3, so each step gains about three digits; the loop stops at ``_TOL``.
    """
    x_lon, x_lat = (lon.copy(), lat.copy()) if start is None else start
    for _ in range(_MAX_ITER):
        f_lon, f_lat = forward(x_lon, x_lat)
        r_lon = lon - f_lon
        r_lat = lat - f_lat
        x_lon = x_lon + r_lon
        x_lat = x_lat + r_lat
        with np.errstate(invalid="ignore"):
            step = np.fmax(np.abs(r_lon), np.abs(r_lat))
        if step.size == 0 or not np.any(step > _TOL):  # NaN compares False: ignored
            break
    return x_lon, x_lat


def _gcj_forward_unbounded(lon: np.ndarray, lat: np.ndarray):
    d_lon, d_lat = _gcj_offset(lon, lat)
    return lon + d_lon, lat + d_lat


def wgs84_to_gcj02(lon, lat):
    """Convert WGS-84 longitude/latitude (degrees) to GCJ-02.

    Points outside the China bounding box (:func:`out_of_china`) are returned unchanged.

    Parameters
    ----------
    lon, lat : array_like or float
        WGS-84 coordinates in degrees; broadcast against each other.

    Returns
    -------
    (lon, lat) : tuple of ndarray (or numpy floats for scalar input)
    """
    lon, lat, scalar = _as_float_arrays(lon, lat)
    inside = ~out_of_china(lon, lat)
    g_lon, g_lat = _gcj_forward_unbounded(lon, lat)
    lon = np.where(inside, g_lon, lon)
    lat = np.where(inside, g_lat, lat)
    return _out(lon, lat, scalar)


def gcj02_to_wgs84(lon, lat):
    """Convert GCJ-02 longitude/latitude to WGS-84 exactly (error < 1e-9°).

    Solves ``wgs84_to_gcj02(w) == (lon, lat)`` by fixed-point iteration. Where the solution
    found lies outside the China box, the input is returned unchanged (out-of-China rule;
    see the module notes on the ~1 km band along the box edge).

    Parameters
    ----------
    lon, lat : array_like or float
        GCJ-02 coordinates in degrees.

    Returns
    -------
    (lon, lat) : tuple of ndarray (or numpy floats for scalar input)
    """
    lon, lat, scalar = _as_float_arrays(lon, lat)
    w_lon, w_lat = _fixed_point_inverse(_gcj_forward_unbounded, lon, lat)
    keep = out_of_china(w_lon, w_lat)
    w_lon = np.where(keep, lon, w_lon)
    w_lat = np.where(keep, lat, w_lat)
    return _out(w_lon, w_lat, scalar)


def _bd_forward(lon: np.ndarray, lat: np.ndarray):
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def gcj02_to_bd09(lon, lat):
    """Convert GCJ-02 longitude/latitude to Baidu BD-09 (applied everywhere).

    Parameters
    ----------
    lon, lat : array_like or float
        GCJ-02 coordinates in degrees.

    Returns
    -------
    (lon, lat) : tuple of ndarray (or numpy floats for scalar input)
    """
    lon, lat, scalar = _as_float_arrays(lon, lat)
    b_lon, b_lat = _bd_forward(lon, lat)
    return _out(b_lon, b_lat, scalar)


def bd09_to_gcj02(lon, lat):
    """Convert Baidu BD-09 longitude/latitude to GCJ-02 exactly (error < 1e-9°).

    Starts from the usual closed-form approximation and refines it by fixed-point
    iteration on :func:`gcj02_to_bd09`.

    Parameters
    ----------
    lon, lat : array_like or float
        BD-09 coordinates in degrees.

    Returns
    -------
    (lon, lat) : tuple of ndarray (or numpy floats for scalar input)
    """
    lon, lat, scalar = _as_float_arrays(lon, lat)
    x = lon - 0.0065
    y = lat - 0.006
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    start = (z * np.cos(theta), z * np.sin(theta))
    g_lon, g_lat = _fixed_point_inverse(_bd_forward, lon, lat, start=start)
    return _out(g_lon, g_lat, scalar)


def wgs84_to_bd09(lon, lat):
    """Convert WGS-84 to BD-09 (via GCJ-02; the GCJ step follows the out-of-China rule)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon, lat):
    """Convert BD-09 to WGS-84 exactly (via GCJ-02; inverse of :func:`wgs84_to_bd09`)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def _identity(lon, lat):
    lon, lat, scalar = _as_float_arrays(lon, lat)
    return _out(lon, lat, scalar)


_TO_WGS = {"wgs84": _identity, "gcj02": gcj02_to_wgs84, "bd09": bd09_to_wgs84}
_FROM_WGS = {"wgs84": _identity, "gcj02": wgs84_to_gcj02, "bd09": wgs84_to_bd09}


def to_wgs84(lon, lat, system: str):
    """Convert coordinates given in ``system`` (wgs84 | gcj02 | bd09, aliases allowed) to WGS-84.

    Raises
    ------
    CoordSystemError
        When ``system`` is not recognised.
    """
    return _TO_WGS[normalise_system(system)](lon, lat)


def from_wgs84(lon, lat, system: str):
    """Convert WGS-84 coordinates to ``system`` (wgs84 | gcj02 | bd09, aliases allowed).

    Raises
    ------
    CoordSystemError
        When ``system`` is not recognised.
    """
    return _FROM_WGS[normalise_system(system)](lon, lat)


def shift_geometry(geom, system: str):
    """Move WGS-84 geometries into ``system`` so they line up with GCJ-02 / BD-09 tiles.

    Parameters
    ----------
    geom : shapely geometry, array of geometries, GeoSeries or GeoDataFrame
        Geometries with WGS-84 lon/lat coordinates. A GeoSeries/GeoDataFrame in another
        CRS is reprojected to EPSG:4326 first.
    system : str
        Target system (wgs84 | gcj02 | bd09, aliases allowed).

    Returns
    -------
    Same type as ``geom`` (a new object; the input is not modified). Z values are kept.
    A returned GeoSeries/GeoDataFrame keeps the EPSG:4326 label although its coordinates
    are now in ``system`` — it is meant for display on matching tiles only.
    """
    target = normalise_system(system)
    forward = _FROM_WGS[target]

    def _func(xy: np.ndarray) -> np.ndarray:
        out = np.array(xy, dtype=np.float64, copy=True)
        if target != "wgs84" and len(out):
            out[:, 0], out[:, 1] = forward(out[:, 0], out[:, 1])
        return out

    try:  # geopandas objects
        import geopandas as gpd
    except ImportError:  # pragma: no cover - geopandas is a hard dependency
        gpd = None
    if gpd is not None and isinstance(geom, (gpd.GeoSeries, gpd.GeoDataFrame)):
        obj = geom
        if obj.crs is not None and not obj.crs.equals("EPSG:4326"):
            obj = obj.to_crs("EPSG:4326")
        series = obj.geometry if isinstance(obj, gpd.GeoDataFrame) else obj
        moved = gpd.GeoSeries(
            _transform(series.values, _func), index=series.index, crs=series.crs,
            name=series.name,
        )
        if isinstance(obj, gpd.GeoDataFrame):
            out = obj.copy()
            out[obj.geometry.name] = moved
            return out
        return moved
    return _transform(geom, _func)


def _transform(geom, func):
    import shapely

    arr = np.asarray(geom, dtype=object)
    if arr.ndim == 0:
        return shapely.transform(geom, func, include_z=shapely.has_z(geom))
    has_z = shapely.has_z(arr)
    out = np.empty(arr.shape, dtype=object)
    for flag in (False, True):  # two vectorised calls, one per dimensionality
        mask = has_z == flag
        if mask.any():
            out[mask] = shapely.transform(arr[mask], func, include_z=flag)
    return out
