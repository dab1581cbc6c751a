"""Chinese addresses to WGS-84 coordinates through the AMap (高德) or Baidu (百度) web geocoders.

Bureaus keep supplier lists as addresses (地址). :func:`geocode_addresses` asks the provider's
web service for each distinct address, converts the answer from the provider's system (AMap:
GCJ-02, Baidu: BD-09) to WGS-84 with :mod:`planner.coords`, keeps the match level and flags
low-precision matches (a district or a road instead of a building). Answers are cached on disk
per provider and query, requests are rate-limited, and transient failures (time-outs, HTTP 5xx
and 429, the providers' "too many requests per second" codes) are retried with back-off.
Quota exhaustion, a bad key or a reply that is not the provider's JSON stop with a one-line
:class:`GeocodeError`; nothing is cached from a failed request.

Keys come from environment variables (``AMAP_KEY``, ``BAIDU_AK`` by default), never from
scenario files. Endpoints can be pointed at a bureau's own gateway (``base_url``).
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from planner._io import atomic_write_text
from planner.coords import to_wgs84
from planner.errors import InputError

__all__ = ["GeocodeError", "Provider", "PROVIDERS", "geocode_addresses", "LOW_PRECISION_LEVELS"]


class GeocodeError(InputError):
    """The geocoder could not be used (no key, offline, quota, malformed reply)."""


#: match levels that place a site only to an area or a road, not a building or a POI
LOW_PRECISION_LEVELS = frozenset({
    # AMap
    "国家", "省", "市", "区县", "开发区", "乡镇", "村庄", "热点商圈", "道路", "未知",
    # Baidu
    "城市", "商圈", "UNKNOWN", "行政地标", "NoClass",
})


@dataclass(frozen=True)
class Provider:
    """A web geocoder: endpoint, key variable, coordinate system and how to read its replies."""

    name: str
    base_url: str
    key_env: str
    system: str  # coordinate system of its answers
    qps: float  # default requests per second (a free key's limit is low)


PROVIDERS = {
    # https://lbs.amap.com/api/webservice/guide/api/georegeo — answers in GCJ-02
    "amap": Provider("amap", "https://restapi.amap.com/v3/geocode/geo", "AMAP_KEY", "gcj02", 3.0),
    # https://lbsyun.baidu.com/faq/api?title=webapi/guide/webservice-geocoding — BD-09 (bd09ll)
    "baidu": Provider("baidu", "https://api.map.baidu.com/geocoding/v3/", "BAIDU_AK", "bd09", 3.0),
}

_AMAP_RETRY = {"10019", "10020", "10021", "10022", "10014", "10015"}  # QPS / concurrency / busy
_AMAP_FATAL = {"10001": "invalid key", "10003": "daily quota exceeded", "10044": "daily quota exceeded",
               "10009": "key does not match the service", "10005": "IP not allowed for this key"}
_BAIDU_RETRY = {401, 402}  # concurrency limits
_BAIDU_FATAL = {2: "invalid request", 3: "permission check failed", 4: "quota check failed",
                5: "key does not exist", 101: "key missing", 200: "application does not exist",
                240: "service disabled for this key", 302: "daily quota exceeded"}


class _Transient(Exception):
    pass


def _answer(provider: Provider, text: str) -> dict:
    """Parse one reply: ``{"lon", "lat", "level", "formatted"}`` or ``{}`` for no match."""
    try:
        data = json.loads(text)
    except ValueError:
        raise GeocodeError(f"{provider.name} geocoder: reply is not JSON ({text[:60]!r})") from None
    if not isinstance(data, dict):
        raise GeocodeError(f"{provider.name} geocoder: unexpected reply ({text[:60]!r})")
    if provider.name == "amap":
        status, code = str(data.get("status")), str(data.get("infocode", ""))
        if status != "1":
            if code in _AMAP_RETRY:
                raise _Transient(f"{data.get('info')} ({code})")
            what = _AMAP_FATAL.get(code, data.get("info", "error"))
            raise GeocodeError(f"amap geocoder refused the request: {what} (infocode {code})")
        geocodes = data.get("geocodes")
        if not isinstance(geocodes, list):
            raise GeocodeError("amap geocoder: reply without a 'geocodes' list")
        if not geocodes:
            return {}
        g = geocodes[0]
        try:
            lon, lat = (float(v) for v in str(g["location"]).split(","))
        except (KeyError, ValueError):
            raise GeocodeError(f"amap geocoder: bad location {g.get('location')!r}") from None
        return {"lon": lon, "lat": lat, "level": str(g.get("level") or "未知"),
                "formatted": str(g.get("formatted_address") or "")}
    status = data.get("status")
    if status == 0:
        r = data.get("result") or {}
        try:
            lon, lat = float(r["location"]["lng"]), float(r["location"]["lat"])
        except (KeyError, TypeError, ValueError):
            raise GeocodeError("baidu geocoder: reply without result.location") from None
        level = str(r.get("level") or "UNKNOWN")
        if not r.get("precise") and level not in LOW_PRECISION_LEVELS:
            level = f"{level} (approximate)"
        return {"lon": lon, "lat": lat, "level": level, "formatted": ""}
    if status == 1 and "无相关结果" in str(data.get("msg", "")):  # Baidu's "no match"
        return {}
    if status in _BAIDU_RETRY or status == 1:
        raise _Transient(f"{data.get('msg')} ({status})")
    what = _BAIDU_FATAL.get(status, data.get("msg", "error"))
    raise GeocodeError(f"baidu geocoder refused the request: {what} (status {status})")


def _first_arg(exc: BaseException) -> str:
    return " ".join(str(exc.args[0] if exc.args else exc).split())[:120]


class _Cache:
    """One JSON file per (provider, query), written atomically."""

    def __init__(self, folder: Path | None):
        self.folder = Path(folder) if folder else None

    def _path(self, provider: str, query: dict) -> Path:
        key = hashlib.sha256(json.dumps([provider, query], sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        return self.folder / provider / f"{key[:2]}" / f"{key}.json"

    def get(self, provider: str, query: dict):
        if self.folder is None:
            return None
        p = self._path(provider, query)
        try:
            return json.loads(p.read_text(encoding="utf-8"))["answer"]
        except (OSError, ValueError, KeyError):
            return None  # absent or unreadable: ask again

    def put(self, provider: str, query: dict, answer: dict) -> None:
        if self.folder is None:
            return
        p = self._path(provider, query)
        atomic_write_text(p, json.dumps({"query": query, "answer": answer}, ensure_ascii=False))


def geocode_addresses(addresses: Sequence[str], provider: str = "amap", *, key: str | None = None,
                      city: str | None = "北京", cache_dir=None, base_url: str | None = None,
                      qps: float | None = None, retries: int = 4, timeout: float = 10.0,
                      backoff: float = 1.0, session=None, sleep: Callable[[float], None] = time.sleep,
                      where: str | None = None) -> pd.DataFrame:
    """Geocode addresses; one row per input, in order.

    Parameters
    ----------
    addresses : sequence of str
        Chinese addresses (repeats are asked once).
    provider : {"amap", "baidu"}
    key : str, optional
        Web-service key; default the provider's environment variable (``AMAP_KEY`` /
        ``BAIDU_AK``).
    city : str, optional
        City that restricts the search (AMap ``city``, Baidu ``city``).
    cache_dir : path, optional
        Folder of the answer cache (per provider and query); no cache when ``None``.
    base_url : str, optional
        Endpoint (a bureau's gateway, or a stand-in in tests).
    qps : float, optional
        At most this many requests per second (provider default when ``None``).
    retries : int
        Retries of a transient failure, waiting ``backoff * 2**k`` seconds (or the server's
        ``Retry-After``).
    where : str, optional
        Prefix of error messages (e.g. the file being read).

    Returns
    -------
    DataFrame
        ``address``, ``lon``, ``lat`` (WGS-84, NaN without a match), ``matched`` (bool),
        ``level`` (the provider's match level), ``low_precision`` (bool: area or road, not a
        building or POI), ``formatted_address``, ``provider``.

    Raises
    ------
    GeocodeError
        No key, the service unreachable after the retries, quota exceeded, invalid key, or a
        reply that is not the provider's format.
    """
    import requests

    if provider not in PROVIDERS:
        raise GeocodeError(f"unknown geocoder '{provider}'; use one of {', '.join(PROVIDERS)}")
    prov = PROVIDERS[provider]
    key = key or os.environ.get(prov.key_env)
    prefix = f"{where}: " if where else ""
    if not key:
        raise GeocodeError(f"{prefix}no {provider} key: set the environment variable {prov.key_env}")
    url = base_url or prov.base_url
    min_gap = 1.0 / float(qps or prov.qps)
    cache = _Cache(cache_dir)
    http = session or requests.Session()
    last = [-np.inf]
    answers: dict[str, dict] = {}
    for address in dict.fromkeys(str(a).strip() for a in addresses):
        query = {"address": address, "city": city or ""}
        hit = cache.get(provider, query)
        if hit is not None:
            answers[address] = hit
            continue
        params = {"address": address, "output": "JSON" if provider == "amap" else "json"}
        if city:
            params["city"] = city
        params["key" if provider == "amap" else "ak"] = key
        for attempt in range(retries + 1):
            wait = min_gap - (time.monotonic() - last[0])
            if wait > 0:
                sleep(wait)
            last[0] = time.monotonic()
            try:
                resp = http.get(url, params=params, timeout=timeout)
                if resp.status_code == 429 or resp.status_code >= 500:
                    retry_after = resp.headers.get("Retry-After")
                    raise _Transient(f"HTTP {resp.status_code}", float(retry_after) if retry_after and
                                     retry_after.replace(".", "", 1).isdigit() else None)
                if resp.status_code != 200:
                    raise GeocodeError(f"{prefix}{provider} geocoder answered HTTP {resp.status_code}")
                answer = _answer(prov, resp.text)
                break
            except (_Transient, requests.ConnectionError, requests.Timeout) as exc:
                if attempt == retries:
                    raise GeocodeError(f"{prefix}{provider} geocoder unreachable or busy after {retries + 1} "
                                       f"tries ({_first_arg(exc)})") from None
                hinted = exc.args[1] if isinstance(exc, _Transient) and len(exc.args) > 1 else None
                sleep(hinted if hinted is not None else backoff * 2 ** attempt)
            except GeocodeError as exc:
                raise GeocodeError(f"{prefix}{exc}") from None
        cache.put(provider, query, answer)
        answers[address] = answer
    rows = []
    for a in addresses:
        ans = answers[str(a).strip()]
        rows.append({"address": a, "lon": ans.get("lon", np.nan), "lat": ans.get("lat", np.nan),
                     "matched": bool(ans), "level": ans.get("level"),
                     "formatted_address": ans.get("formatted", ""), "provider": provider})
    out = pd.DataFrame(rows, columns=["address", "lon", "lat", "matched", "level", "formatted_address", "provider"])
    ok = out.matched.to_numpy(bool)
    if ok.any():
        lon, lat = to_wgs84(out.lon.to_numpy(float)[ok], out.lat.to_numpy(float)[ok], prov.system)
        out.loc[ok, "lon"] = np.asarray(lon, float)
        out.loc[ok, "lat"] = np.asarray(lat, float)
    approximate = out.level.astype(str).str.endswith("(approximate)")
    out["low_precision"] = ~ok | out.level.isin(LOW_PRECISION_LEVELS) | approximate
    return out
