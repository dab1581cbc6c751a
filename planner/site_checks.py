"""Checks of a read site list against the road network: inside its area, and in the coordinate
system that fits the roads (a GCJ-02 list declared as WGS-84 lies ~500 m off).

Pure functions: the network enters as its bounds and a distance function.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from planner.coords import SYSTEMS, from_wgs84, normalise_system, to_wgs84
from planner.errors import InputError

_MAX_LISTED = 5


def _bounds_tuple(bounds) -> tuple[float, float, float, float]:
    if hasattr(bounds, "total_bounds"):
        bounds = bounds.total_bounds
    elif hasattr(bounds, "bounds") and not isinstance(bounds, (tuple, list, np.ndarray)):
        bounds = bounds.bounds
    b = tuple(float(v) for v in np.asarray(bounds, dtype=float).ravel())
    if len(b) != 4:
        raise ValueError("bounds must be (min_lon, min_lat, max_lon, max_lat)")
    return b


def check_in_area(sites: pd.DataFrame, bounds, path=None, margin_deg: float = 0.0) -> pd.DataFrame:
    """Raise InputError when sites lie outside the road-network bounds; return ``sites``.

    Parameters
    ----------
    sites : DataFrame
        From :func:`read_sites` (uses ``site_id``, ``lon``, ``lat``, ``source_row`` if present).
    bounds : (min_lon, min_lat, max_lon, max_lat) or object with ``total_bounds``/``bounds``
        WGS-84 box of the road network (e.g. ``net.edges.total_bounds``).
    path : str or Path, optional
        File named in the message (default ``sites.attrs["source"]``).
    margin_deg : float
        Tolerance added around the box, in degrees.

    Raises
    ------
    InputError
        Listing the ids (with rows and coordinates) outside the box; adds "did you swap lon
        and lat?" when the swapped points would be inside, and a coordinate-system hint when
        the sites were read as WGS-84 and all outliers are close to the box.
    """
    x0, y0, x1, y1 = _bounds_tuple(bounds)
    x0, y0, x1, y1 = x0 - margin_deg, y0 - margin_deg, x1 + margin_deg, y1 + margin_deg
    path = path if path is not None else sites.attrs.get("source")
    lon = sites["lon"].to_numpy(dtype=float)
    lat = sites["lat"].to_numpy(dtype=float)
    inside = (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)
    if inside.all():
        return sites
    out = np.flatnonzero(~inside)
    ids = sites["site_id"].astype(str).to_numpy()
    rows = sites["source_row"].to_numpy() if "source_row" in sites else None
    word = sites.attrs.get("row_word", "row")
    shown = [
        f"{ids[p]} ({word} {rows[p]}; {lon[p]:.5f}, {lat[p]:.5f})" if rows is not None
        else f"{ids[p]} ({lon[p]:.5f}, {lat[p]:.5f})" for p in out[:_MAX_LISTED]
    ]
    more = f" and {len(out) - _MAX_LISTED} more" if len(out) > _MAX_LISTED else ""
    swapped_in = (lat[out] >= x0) & (lat[out] <= x1) & (lon[out] >= y0) & (lon[out] <= y1)
    hint = "; did you swap lon and lat?" if swapped_in.all() else (
        "; remove them or use a larger road network")
    raise InputError(
        f"{len(out)} of {len(lon)} sites lie outside the road network area (lon {x0:.4f}–"
        f"{x1:.4f}, lat {y0:.4f}–{y1:.4f}): {', '.join(shown)}{more}{hint}",
        path=path, column="lon/lat")


def suggest_coord_system(
    lon, lat, distance_fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
    systems: Sequence[str] = SYSTEMS,
) -> tuple[str, dict[str, float]]:
    """Which coordinate system makes the points fall closest to the road network.

    Parameters
    ----------
    lon, lat : array_like
        Coordinates **as written in the file** (before any conversion).
    distance_fn : callable
        ``distance_fn(lon, lat) -> array`` of distances in metres from WGS-84 points to the
        road network (e.g. snap distances from :func:`planner.routing.snap`).
    systems : sequence of str
        Systems to try (default all of wgs84, gcj02, bd09).

    Returns
    -------
    best : str
        Canonical name of the system with the smallest median distance.
    medians : dict
        ``{system: median distance in m}`` (non-finite distances ignored; NaN if none).
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    medians: dict[str, float] = {}
    for name in dict.fromkeys(normalise_system(s) for s in systems):  # a few systems, not points
        wlon, wlat = to_wgs84(lon, lat, name)
        d = np.asarray(distance_fn(np.asarray(wlon), np.asarray(wlat)), dtype=float)
        d = d[np.isfinite(d)]
        medians[name] = float(np.median(d)) if d.size else float("nan")
    finite = {k: v for k, v in medians.items() if np.isfinite(v)}
    best = min(finite, key=lambda k: finite[k]) if finite else next(iter(medians))
    return best, medians


def warn_if_wrong_system(
    lon, lat, distance_fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
    declared: str = "wgs84", path=None, min_gain_m: float = 50.0, min_ratio: float = 2.0,
) -> str | None:
    """A one-line warning when another coordinate system fits the road network clearly better.

    Parameters
    ----------
    lon, lat : array_like
        Coordinates as written in the file, in the ``declared`` system.
    distance_fn : callable
        See :func:`suggest_coord_system`.
    declared : str
        The system the user declared.
    path : str or Path, optional
        File named in the warning.
    min_gain_m, min_ratio : float
        Warn only when the best system's median distance is lower than the declared one's
        by more than ``min_gain_m`` metres **and** by more than a factor ``min_ratio``.

    Returns
    -------
    str or None
    """
    declared = normalise_system(declared)
    best, medians = suggest_coord_system(lon, lat, distance_fn)
    d_decl, d_best = medians.get(declared, np.nan), medians[best]
    if best == declared or not np.isfinite(d_best):
        return None
    if np.isfinite(d_decl) and not (d_decl - d_best > min_gain_m and d_decl > min_ratio * d_best):
        return None
    prefix = f"{path}: " if path is not None else ""
    arg = {"wgs84": "wgs84", "gcj02": "gcj02", "bd09": "bd09"}[best]
    return (f"{prefix}coordinates declared as {declared} lie a median {d_decl:.0f} m from the "
            f"road network but only {d_best:.0f} m if read as {best}; the file probably uses "
            f"{best} (set coord_system = \"{arg}\")")


def check_sites_coord_system(sites: pd.DataFrame, distance_fn, **kwargs) -> str | None:
    """:func:`warn_if_wrong_system` for a :func:`read_sites` result.

    Recovers the file's coordinates from the WGS-84 ``lon``/``lat`` and the declared system
    stored in ``sites.attrs["coord_system"]`` (default wgs84).
    """
    declared = sites.attrs.get("coord_system", "wgs84")
    lon, lat = from_wgs84(sites["lon"].to_numpy(float), sites["lat"].to_numpy(float), declared)
    kwargs.setdefault("path", sites.attrs.get("source"))
    return warn_if_wrong_system(lon, lat, distance_fn, declared=declared, **kwargs)
