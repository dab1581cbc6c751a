"""Download a region's OpenStreetMap roads from Overpass once and cache them as GraphML.

A region (place name, shapely polygon or polygon file, ``(west, south, east, north)`` bbox) is
downloaded through osmnx and saved under ``cache_dir``, keyed by a hash of the query; later runs
read that file (:func:`planner.network.osm.load_osm`) and need no network. An offline machine
fails within a few seconds with :class:`~planner.errors.NetworkError`; transient faults of the
servers are retried (see :func:`fetch`).
"""
from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import os
import shutil
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import shapely

from planner import settings as planner_settings
from planner._io import atomic_path, atomic_write_text, json_default
from planner.errors import InputError, NetworkError, PlannerError
from planner.study_area import read_polygon

__all__ = ["DOWNLOAD_BACKOFF_S", "DOWNLOAD_MAX_WAIT_S", "DOWNLOAD_RETRIES", "EXTRA_WAY_TAGS",
           "NETWORK_TYPES", "cache_path", "check_network_type", "fetch", "short_message"]

log = logging.getLogger(__name__)

#: osmnx network types understood by the downloader and the local-file way filters.
NETWORK_TYPES = ("drive", "drive_service", "all")

#: Way tags osmnx keeps as edge attributes (added to its defaults).
EXTRA_WAY_TAGS = ("highway", "maxspeed", "oneway", "junction", "name", "hgv", "maxweight", "access")

#: reply, Overpass runtime error, HTTP 429/500/502/503/504). guess
DOWNLOAD_RETRIES = 3
#: First wait (s) between attempts when the server gives no ``Retry-After``; doubled after
#: each failure (5, 10, 20 s). guess
DOWNLOAD_BACKOFF_S = 5.0
#: Longest wait (s) between attempts; a server asking for more ends the download at once. guess
DOWNLOAD_MAX_WAIT_S = 120.0
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


def fetch(
    place=None,
    polygon=None,
    bbox=None,
    cache_dir="data/raw",
    network_type="drive",
    timeout=planner_settings.DOWNLOAD_TIMEOUT_S,
    simplify=True,
    retain_all=True,
    force=False,
    *,
    overpass_url=None,
    nominatim_url=None,
    retries=DOWNLOAD_RETRIES,
    backoff_s=DOWNLOAD_BACKOFF_S,
    max_wait_s=DOWNLOAD_MAX_WAIT_S,
):
    """Download a region's roads from Overpass once and cache them as GraphML.

    The graph is saved unsimplified (one edge per OSM segment): :func:`load_osm` simplifies it
    with :func:`simplify_graph`, which never merges segments of different speed.
    The file is ``<cache_dir>/osm_<network_type>_<hash>.graphml`` where the hash covers the
    query (region, network type, retain_all, kept tags), with a ``.json`` sidecar that
    records the query, the servers, the osmnx version, the date, the attempts and the ODbL
    attribution. An existing file is returned without any network access unless ``force``.

    Faults: a time-out, a broken connection, a truncated or malformed reply, an Overpass
    ``runtime error`` remark and HTTP 429/500/502/503/504 are retried up to ``retries`` times,
    waiting the server's ``Retry-After`` or ``backoff_s * 2**k`` (at most ``max_wait_s``);
    anything else fails at once with one :class:`~planner.errors.NetworkError` line. Only whole,
    parsed replies reach osmnx's HTTP cache (``<cache_dir>/osmnx-http/<file stem>/``, which lets
    an interrupted download resume); unreadable entries in it are dropped before a download,
    the folder is removed once the GraphML is written, and both cache files are written
    atomically (sidecar first), so the cache never holds a partial file.

    Parameters
    ----------
    place, polygon, bbox
        The region; exactly one (see :func:`load_osm`).
    cache_dir : str or Path, default "data/raw"
    network_type : str, default "drive"
    timeout : float, default planner.settings.DOWNLOAD_TIMEOUT_S
        Seconds per HTTP request (and the Overpass query's own ``[timeout:]``).
    simplify : bool
        Accepted for symmetry with :func:`load_osm`; the cached graph is always unsimplified.
    retain_all : bool
        Passed to osmnx (see :func:`load_osm`).
    force : bool, default False
        Download again even if the cache file exists.
    overpass_url, nominatim_url : str, optional
        Base URLs of an own Overpass API (``.../api``) or Nominatim server; default osmnx's.
    retries : int, default DOWNLOAD_RETRIES
        Further attempts after a transient failure.
    backoff_s : float, default DOWNLOAD_BACKOFF_S
        First wait between attempts when the server names none; doubled after each failure.
    max_wait_s : float, default DOWNLOAD_MAX_WAIT_S
        Longest wait; a server asking for more fails the download at once.

    Returns
    -------
    pathlib.Path
        Path of the cached GraphML file.

    Raises
    ------
    InputError
        Region missing, ambiguous, invalid, or a place name the geocoder does not know.
    NetworkError
        Overpass/Nominatim unreachable (raised within seconds when offline), failing, or still
        failing after the retries.
    """
    import osmnx as ox

    query = _download_query(place, polygon, bbox, network_type, simplify, retain_all)
    target = cache_path(query, cache_dir)
    if target.exists() and not force:
        return target
    servers = {
        "overpass_url": overpass_url or ox.settings.overpass_url,
        "nominatim_url": nominatim_url or ox.settings.nominatim_url,
    }
    http_cache = Path(cache_dir) / "osmnx-http" / target.stem
    if force:
        shutil.rmtree(http_cache, ignore_errors=True)
    _drop_unreadable(http_cache)
    _check_reachable(servers["overpass_url"], timeout, "Overpass API")
    if place is not None:
        _check_reachable(servers["nominatim_url"], timeout, "Nominatim geocoder")

    def download():
        kwargs = dict(network_type=network_type, simplify=False, retain_all=retain_all)
        if place is not None:
            return ox.graph_from_place(place, **kwargs)
        if polygon is not None:
            return ox.graph_from_polygon(shapely.from_wkt(query["polygon"]), **kwargs)
        return ox.graph_from_bbox(tuple(float(b) for b in bbox), **kwargs)

    with _osmnx_settings(http_cache, timeout, **servers):
        G, failures = _with_retries(download, place, retries, backoff_s, max_wait_s)

    sidecar = {
        "query": query,
        "osmnx": ox.__version__,
        "downloaded": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **servers,
        "failed_attempts": failures,
        "attribution": planner_settings.OSM_ATTRIBUTION,
        "nodes": G.number_of_nodes(),
        "edges": G.number_of_edges(),
    }
    atomic_write_text(target.with_suffix(".json"),
                      json.dumps(sidecar, indent=2, ensure_ascii=False, default=json_default))
    with atomic_path(target) as tmp:
        ox.save_graphml(G, tmp)
    shutil.rmtree(http_cache, ignore_errors=True)
    return target


def cache_path(query, cache_dir="data/raw"):
    """Return the GraphML cache path for a download query.

    Parameters
    ----------
    query : dict
        JSON-serialisable description of the download (region, network type, options).
    cache_dir : str or Path

    Returns
    -------
    pathlib.Path
        ``<cache_dir>/osm_<network_type>_<first 16 hex of sha256(query)>.graphml``.
    """
    blob = json.dumps(query, sort_keys=True, default=str).encode()
    digest = hashlib.sha256(blob).hexdigest()[:16]
    return Path(cache_dir) / f"osm_{query.get('network_type', 'drive')}_{digest}.graphml"



# --------------------------------------------------------------------------------------------
# download helpers
# --------------------------------------------------------------------------------------------
def check_network_type(network_type):
    """Raise :class:`~planner.errors.InputError` unless ``network_type`` is one of
    :data:`NETWORK_TYPES`."""
    if network_type not in NETWORK_TYPES:
        raise InputError(
            f"network_type '{network_type}' is not supported; use one of {sorted(NETWORK_TYPES)}"
        )


def _download_query(place, polygon, bbox, network_type, simplify, retain_all):
    """JSON-able description of a download; its hash names the cache file."""
    import osmnx as ox

    check_network_type(network_type)
    query = _region_query(place, polygon, bbox)
    # "segments": the cache holds one edge per OSM segment (older caches, simplified by osmnx
    # with merged speeds, hash differently and are never reused)
    query.update(network_type=network_type, segments=True, retain_all=bool(retain_all))
    query["tags"] = sorted(set(ox.settings.useful_tags_way) | set(EXTRA_WAY_TAGS))
    return query


def _region_query(place, polygon, bbox):
    """Validate the region arguments and describe them as a JSON-able dict."""
    given = [x is not None for x in (place, polygon, bbox)]
    if sum(given) != 1:
        raise InputError("give exactly one of place, polygon or bbox to download OSM roads")
    if place is not None:
        return {"place": place}
    if polygon is not None:
        if isinstance(polygon, (str, os.PathLike)):
            polygon = read_polygon(polygon)
        if not isinstance(polygon, (shapely.Polygon, shapely.MultiPolygon)) or polygon.is_empty:
            raise InputError("polygon must be a non-empty shapely Polygon or MultiPolygon")
        if not polygon.is_valid:
            raise InputError("polygon is not a valid geometry")
        return {"polygon": shapely.to_wkt(shapely.normalize(polygon), rounding_precision=7)}
    try:
        west, south, east, north = (float(b) for b in bbox)
    except (TypeError, ValueError):
        raise InputError("bbox must be four numbers (west, south, east, north)") from None
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise InputError(
            f"bbox {tuple(bbox)} is not (west, south, east, north) in degrees with west < east "
            "and south < north"
        )
    return {"bbox": [round(v, 7) for v in (west, south, east, north)]}


@contextmanager
def _osmnx_settings(http_cache, timeout, overpass_url, nominatim_url):
    """Temporarily set the osmnx settings used for a download, restoring them afterwards.

    Every HTTP reply passes :func:`_check_reply` (a requests response hook) before osmnx sees
    it. osmnx pins a server's host name by replacing ``socket.getaddrinfo``; that is undone too.
    """
    import osmnx as ox

    new = {
        "overpass_rate_limit": False,
        "requests_timeout": timeout,
        "use_cache": True,
        "cache_folder": str(http_cache),
        "useful_tags_way": sorted(set(ox.settings.useful_tags_way) | set(EXTRA_WAY_TAGS)),
        "log_console": False,
        "overpass_url": overpass_url,
        "nominatim_url": nominatim_url,
        "requests_kwargs": {**ox.settings.requests_kwargs, "hooks": {"response": [_check_reply]}},
    }
    old = {k: getattr(ox.settings, k) for k in new}
    getaddrinfo = socket.getaddrinfo
    try:
        for k, v in new.items():
            setattr(ox.settings, k, v)
        yield
    finally:
        for k, v in old.items():
            setattr(ox.settings, k, v)
        socket.getaddrinfo = getaddrinfo


class _Transient(Exception):
    """A download failure worth another attempt; ``retry_after`` is the server's wish (s)."""

    def __init__(self, message, retry_after=None):
        super().__init__(message)
        self.retry_after = retry_after


def _check_reply(response, *args, **kwargs):
    """requests response hook: let only a whole, parseable, error-free reply reach osmnx.

    Reading ``response.content`` here makes a connection reset or a body shorter than its
    ``Content-Length`` raise now (requests' ``ChunkedEncodingError``), before osmnx could
    parse or cache it; the body stays on the response for osmnx.
    """
    where = _server(response.url)
    status = response.status_code
    if status in _RETRY_STATUS:
        raise _Transient(f"{where} answered HTTP {status} {response.reason}",
                         _retry_after(response.headers.get("Retry-After")))
    if not response.ok:
        raise NetworkError(f"{where} answered HTTP {status} {response.reason}; check the "
                           "server URL (network.overpass_url / network.nominatim_url)")
    body = response.content
    try:
        data = json.loads(body)
    except ValueError:
        raise _Transient(f"{where} sent a truncated or malformed reply ({len(body)} bytes, "
                         "not JSON)") from None
    remark = data.get("remark") if isinstance(data, dict) else None
    if isinstance(remark, str) and "error" in remark.lower():
        raise _Transient(f"{where} reported '{short_message(remark, 100)}'")
    return response


def _with_retries(download, place, retries, backoff_s, max_wait_s):
    """Run ``download()`` with retries on transient faults; return (result, failure lines)."""
    failures, retries = [], max(0, int(retries))
    for attempt in range(retries + 1):
        try:
            return download(), failures
        except PlannerError:
            raise
        except Exception as err:  # noqa: BLE001 - classified, then one typed error
            reason, retry_after = _transient_reason(err)
            if reason is None:
                raise _download_error(err, place) from err
        failures.append(reason)
        if attempt == retries:
            break
        wait = backoff_s * 2**attempt if retry_after is None else retry_after
        if wait > max_wait_s:
            raise NetworkError(f"the OSM download stopped: {reason}, asking to wait {wait:g} s "
                               f"(more than {max_wait_s:g} s); try again later")
        log.warning("OSM download: %s; attempt %d of %d in %.3g s", reason, attempt + 2,
                    retries + 1, wait)
        time.sleep(wait)
    raise NetworkError(f"the OSM download failed {len(failures)} time(s), last: {failures[-1]}; "
                       "try again later, raise network.download_retries or "
                       "network.download_timeout_s, or point the scenario at a local road file")


def _transient_reason(err):
    """One-line reason and Retry-After of a transient fault, or ``(None, None)``."""
    import requests
    from urllib3.exceptions import NewConnectionError

    exc = requests.exceptions
    if isinstance(err, _Transient):
        return str(err), err.retry_after
    where = _server(err.request.url) if getattr(err, "request", None) is not None else "server"
    cause = getattr(err.args[0], "reason", None) if err.args else None
    if isinstance(err, exc.ConnectTimeout) or isinstance(cause, NewConnectionError):
        return None, None  # nobody answers at all: not a fault of one reply
    if isinstance(err, exc.Timeout):
        return f"{where} did not answer within the time-out ({short_message(err, 80)})", None
    if isinstance(err, (exc.ConnectionError, exc.ChunkedEncodingError,
                        exc.ContentDecodingError)):
        return f"the connection to {where} broke ({short_message(err, 100)})", None
    return None, None


def _retry_after(value):
    """Seconds asked for by a ``Retry-After`` header (delta seconds or HTTP date), or None."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _server(url):
    """``scheme://host[:port]/path`` of a URL, without its (long) query string."""
    p = urlparse(str(url))
    return f"{p.scheme}://{p.netloc}{p.path}"


def _drop_unreadable(folder):
    """Delete osmnx HTTP cache entries that are not whole JSON (e.g. a write cut by a crash)."""
    for path in Path(folder).glob("*.json"):
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            log.warning("dropping unreadable osmnx cache entry %s", path)
            path.unlink(missing_ok=True)


def _check_reachable(url, timeout, what):
    """Open a TCP connection to the server of ``url`` (or its proxy) within a few seconds.

    DNS resolution and connecting run in a daemon thread joined with a deadline, so a machine
    without network fails in seconds rather than after the request timeout.
    """
    import requests

    proxies = requests.utils.get_environ_proxies(url)
    parsed = urlparse(url)
    proxy = proxies.get(parsed.scheme) or proxies.get("all")
    target = urlparse(proxy) if proxy else parsed
    host = target.hostname
    port = target.port or (443 if target.scheme == "https" else 80)
    deadline = float(min(timeout, 5.0))
    result = {}

    def _connect():
        try:
            socket.create_connection((host, port), timeout=deadline).close()
            result["ok"] = True
        except OSError as err:
            result["error"] = err

    worker = threading.Thread(target=_connect, daemon=True)
    worker.start()
    worker.join(deadline + 0.5)
    if not result.get("ok"):
        reason = result.get("error") or f"no answer within {deadline:g} s"
        raise NetworkError(
            f"cannot reach the {what} ({url}: {short_message(reason)}); download once with internet, "
            "or point the scenario at a local road file"
        )


def _download_error(err, place):
    """Translate a non-transient exception of an osmnx download into one typed error."""
    import requests

    name = type(err).__name__
    if isinstance(err, requests.exceptions.ConnectionError):
        return NetworkError(
            f"cannot reach the Overpass API or geocoder ({short_message(err)}); download once with "
            "internet, or point the scenario at a local road file"
        )
    if place is not None and name == "InsufficientResponseError" and "Nominatim" in str(err):
        return InputError(f"the geocoder found no area for place {place!r} ({short_message(err)})")
    if isinstance(err, (ValueError, TypeError)):
        return NetworkError(f"the OSM download could not build a road graph ({short_message(err)})")
    return NetworkError(f"the OSM download failed ({name}: {short_message(err)})")


def short_message(err, limit=160):
    """``str(err)`` on one line, cut to ``limit`` characters."""
    text = " ".join(str(err).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
