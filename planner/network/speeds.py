"""Road speeds and travel-time profiles.

A *profile* turns the raw edge table into one travel time per edge, in seconds:

1. base speed: the tagged ``maxspeed_kmh`` — capped at the profile's plausible urban limit of the
   road class (``maxspeed_cap_kmh``) — × ``maxspeed_factor`` where tagged, otherwise the
   per-class default of the profile, otherwise the profile's ``fallback_kmh``;
2. × a per-class speed factor (e.g. peak congestion), × the scenario-wide ``speed_scale`` (used by
   the sensitivity sweep);
3. closures: edges whose ``hgv`` tag forbids heavy goods vehicles (truck profiles), and edges inside
   a time-windowed restriction polygon (e.g. Beijing truck bans) are closed (``inf``) or slowed.

Sources of the defaults (rows of ``shared/reference/parameters.md``):

* ``CAR_SPEEDS_KMH`` — OSRM car profile (``profiles/car.lua``, conf. H) for motorway…residential,
  cross-checked against CJJ 37 design speeds (urban expressway 60–100, arterial 40–60,
  secondary 30–50, branch 20–40 km/h). Links take OSRM's link speeds.
* ``maxspeed_factor`` 0.8 — OSRM car profile ``speed_reduction`` 0.8 on tagged maxspeed.
* ``URBAN_MAXSPEED_CAP_KMH`` — upper design speeds of CJJ 37 (parameters.md §1, row "Design
  speed, urban expressway / arterial / secondary / branch (CJJ 37)": 100 / 60 / 50 / 40 km/h).
  The mapping of OSM classes onto CJJ 37 classes (motorway and trunk → urban expressway,
  primary → arterial, secondary → secondary arterial, tertiary / unclassified / residential →
  branch) is a guess. A tagged ``maxspeed`` above the cap (e.g. a 100 km/h value joined from an
  expressway onto an urban primary road) is clamped to it and counted as "clamped".
* ``TRUCK_SPEEDS_KMH`` — openrouteservice driving-hgv way-type speeds (conf. H).
* ``fallback_kmh`` 30 for roads with no class — the legal limit on urban roads without a centre
  line (Road Traffic Safety Law Implementation Regulations, Art. 45, conf. M-L); most of the
  shared SE-Beijing layer has no class, so this is a deliberate, conservative choice.
* ``PEAK_FACTORS`` — **a guess anchored on measured figures**: Beijing's 2020 commuting-peak
  congestion delay index was 2.063 city-wide (Baidu report, conf. M), i.e. peak speed ≈ 0.48 ×
  free flow on average; Yizhuang lies outside the 5th Ring, where the 2020 peak traffic index was
  3.31 ("light congestion", BTI 2021, conf. M), so we use milder factors (0.55–0.8). No Beijing
  speed table by road class was found (parameters.md marks it NOT FOUND).
* ``CONGESTION_CURVE`` — **a guess** shaped on the peak windows of parameters.md §1 (AM 07–09,
  PM 17–19, Amap report, conf. M) and §9 (2023 forecast week: AM severe ~08:15, PM severe
  18:15–18:45, conf. M/L). A Beijing delay index by hour was NOT FOUND (§9), so the curve is an
  *intensity* 0–1: 1 = the peak (speeds × ``PEAK_FACTORS``), 0 = free flow; the factor of a
  class at hour ``h`` is ``1 - c(h) * (1 - PEAK_FACTORS[class])`` (:func:`congestion_factors`).
* Low-speed autonomous delivery vehicle (``vehicle="autonomous"``, parameters.md §10): Beijing
  manages them "with reference to non-motor-vehicle rules" (E-Town pilot 2021, conf. M); their
  permitted speed was NOT FOUND, so ``AUTONOMOUS_MAX_KMH`` = 15 km/h is the general non-motor
  vehicle limit (§10, conf. L, context only) — a guess for these vehicles.
  ``AUTONOMOUS_CLASSES`` (no motorway, trunk or their links, no synthetic repair ramps) is a
  guess following the non-motor-vehicle basis; roads without a class are allowed by default
  (most of the shared layer has none; also a guess).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from planner.errors import ScenarioError

#: Free-flow car speeds by OSM highway class, km/h (OSRM car.lua; see module docstring).
CAR_SPEEDS_KMH: dict[str, float] = {
    "motorway": 90.0,
    "trunk": 85.0,
    "primary": 65.0,
    "secondary": 55.0,
    "tertiary": 40.0,
    "unclassified": 25.0,
    "residential": 25.0,
    "living_street": 10.0,
    "service": 15.0,
    "motorway_link": 45.0,
    "trunk_link": 40.0,
    "primary_link": 30.0,
    "secondary_link": 25.0,
    "tertiary_link": 20.0,
    "connector": 20.0,  # synthetic ramps added by network repair
}

#: Heavy-goods-vehicle speeds by class, km/h (openrouteservice driving-hgv).
TRUCK_SPEEDS_KMH: dict[str, float] = {
    "motorway": 85.0,
    "trunk": 60.0,
    "primary": 60.0,
    "secondary": 60.0,
    "tertiary": 50.0,
    "unclassified": 30.0,
    "residential": 30.0,
    "living_street": 10.0,
    "service": 20.0,
    "motorway_link": 40.0,
    "trunk_link": 35.0,
    "primary_link": 30.0,
    "secondary_link": 25.0,
    "tertiary_link": 20.0,
    "connector": 20.0,
}

#: Peak-hour speed factors by class (a guess; see module docstring).
PEAK_FACTORS: dict[str, float] = {
    "motorway": 0.55,
    "trunk": 0.55,
    "primary": 0.6,
    "secondary": 0.65,
    "tertiary": 0.7,
    "unclassified": 0.8,
    "residential": 0.8,
    "default": 0.65,
}

#: Congestion intensity by hour of day 0–23 (1 = peak, 0 = free flow; a guess, see module docstring).
CONGESTION_CURVE: tuple[float, ...] = (
    0.0, 0.0, 0.0, 0.0, 0.0, 0.1,      # 00–05 night
    0.4, 0.8, 1.0, 0.6,                # 06–09 AM peak (07–09, severe ~08:15)
    0.4, 0.4, 0.4, 0.4, 0.4, 0.5,      # 10–15 daytime
    0.7, 0.9, 1.0, 0.6,                # 16–19 PM peak (17–19, severe 18:15–18:45)
    0.3, 0.2, 0.1, 0.0,                # 20–23 evening
)

#: Speed cap of the low-speed autonomous delivery vehicle, km/h (a guess; module docstring).
AUTONOMOUS_MAX_KMH = 15.0

#: Road classes open to the autonomous delivery vehicle (a guess; module docstring).
AUTONOMOUS_CLASSES: frozenset[str] = frozenset({
    "primary", "secondary", "tertiary", "unclassified", "residential", "living_street", "service",
    "primary_link", "secondary_link", "tertiary_link",
})

#: Plausible urban upper limits (km/h) of a tagged ``maxspeed`` by OSM class: CJJ 37 upper design
#: speeds (parameters.md §1; class mapping a guess, see module docstring). Classes not listed
#: are not clamped.
URBAN_MAXSPEED_CAP_KMH: dict[str, float] = {
    "motorway": 100.0,
    "trunk": 100.0,
    "primary": 60.0,
    "secondary": 50.0,
    "tertiary": 40.0,
    "unclassified": 40.0,
    "residential": 40.0,
}

#: Where an edge's speed comes from (see :func:`speed_sources`).
SPEED_SOURCES = ("tagged", "clamped", "class", "fallback")

#: Share of road length above which results are flagged as resting mostly on fallback speeds.
MOSTLY_FALLBACK_SHARE = 0.5

#: hgv tag values that close a road to trucks.
HGV_CLOSED = frozenset({"no", "private", "agricultural", "forestry", "delivery_no"})


@dataclass
class Restriction:
    """A time-windowed restriction area, e.g. a Beijing truck ban.

    Parameters
    ----------
    name : str
        Shown in reports.
    polygon : shapely geometry (EPSG:4326)
        Road segments intersecting it are affected (an edge with any such segment is closed;
        a slow-down applies to those segments only).
    hours : tuple of (start, end)
        Hours of day (0–24) the restriction applies; ``end < start`` wraps past midnight.
    action : str
        ``"close"`` (travel time ``inf``) or ``"slow"``.
    factor : float
        Speed factor for ``"slow"``.
    """

    name: str
    polygon: object
    hours: tuple[float, float] = (0.0, 24.0)
    action: str = "close"
    factor: float = 1.0

    def window(self) -> str:
        """The hours as text, e.g. ``"06:00–23:00"``."""
        return "–".join(f"{round(h * 60) // 60:02d}:{round(h * 60) % 60:02d}" for h in map(float, self.hours))

    def active_at(self, hour: float) -> bool:
        start, end = self.hours
        if start <= end:
            return start <= hour < end
        return hour >= start or hour < end


@dataclass
class Profile:
    """One way of driving the network (car off-peak, car peak, truck...).

    Parameters
    ----------
    name : str
        Profile name used in column names (``travel_time_s_<name>``) and outputs.
    speeds_kmh : dict
        Default speed per road class, km/h, for untagged edges.
    fallback_kmh : float
        Speed of edges whose class is unknown.
    factors : dict
        Multiplicative speed factor per class; key ``"default"`` for classes not listed.
    maxspeed_factor : float
        Share of a tagged ``maxspeed`` driven in free flow.
    maxspeed_cap_kmh : dict
        Upper limit per class of a tagged ``maxspeed`` (km/h), applied before
        ``maxspeed_factor``; classes not listed are not clamped.
    use_maxspeed : bool
        Use tagged ``maxspeed`` where present.
    vehicle : str
        ``"car"``, ``"truck"`` or ``"autonomous"``; trucks honour ``hgv`` tags.
    departure_hour : float
        Hour of day used to decide which restrictions apply.
    restrictions : list of Restriction
        Time-windowed closures or slow-downs.
    max_kmh : float, optional
        Vehicle speed cap applied after the factors (the autonomous vehicle's).
    allowed_classes : frozenset of str, optional
        Only these road classes are open (``None`` = all); edges of other classes are ``inf``.
    unknown_class_allowed : bool
        With ``allowed_classes``: whether roads without a class stay open.
    zone : shapely geometry (EPSG:4326), optional
        Only roads lying wholly inside it (``covered_by``) are open.
    """

    name: str
    speeds_kmh: dict[str, float] = field(default_factory=lambda: dict(CAR_SPEEDS_KMH))
    fallback_kmh: float = 30.0
    factors: dict[str, float] = field(default_factory=dict)
    maxspeed_factor: float = 0.8
    maxspeed_cap_kmh: dict[str, float] = field(default_factory=lambda: dict(URBAN_MAXSPEED_CAP_KMH))
    use_maxspeed: bool = True
    vehicle: str = "car"
    departure_hour: float = 10.0
    restrictions: list[Restriction] = field(default_factory=list)
    max_kmh: float | None = None
    allowed_classes: frozenset[str] | None = None
    unknown_class_allowed: bool = True
    zone: object | None = None


def congestion_factors(intensity: float, peak_factors: dict[str, float] | None = None) -> dict[str, float]:
    """Per-class speed factors at a congestion intensity (0 = free flow, 1 = peak).

    Parameters
    ----------
    intensity : float
        0–1 (see :data:`CONGESTION_CURVE`).
    peak_factors : dict, optional
        Factors at intensity 1, key ``"default"`` for other classes; :data:`PEAK_FACTORS` if not given.

    Returns
    -------
    dict
        ``{class: 1 - intensity * (1 - peak factor)}``, with ``"default"``.
    """
    if not 0.0 <= intensity <= 1.0:
        raise ScenarioError(f"congestion intensity must lie in 0–1, got {intensity}")
    peak = dict(PEAK_FACTORS if peak_factors is None else peak_factors)
    peak.setdefault("default", 1.0)
    return {k: 1.0 - intensity * (1.0 - f) for k, f in peak.items()}


def profile_at_hour(profile: Profile, hour: int, curve=CONGESTION_CURVE, peak_factors=None,
                    name: str | None = None) -> Profile:
    """``profile`` driven at departure ``hour``: the hour's congestion factors and restrictions.

    The congestion factor of each class multiplies the profile's own factor of that class.

    Parameters
    ----------
    profile : Profile
        The vehicle in free flow (its own ``factors`` are kept and multiplied).
    hour : int
        0–23; the profile's ``departure_hour`` becomes ``hour`` (restrictions follow it).
    curve : sequence of 24 float
        Congestion intensity per hour (:data:`CONGESTION_CURVE`).
    peak_factors : dict, optional
        Per-class factors at intensity 1 (:data:`PEAK_FACTORS`).
    name : str, optional
        Name of the new profile (default ``<name>@<hour>``).

    Returns
    -------
    Profile
    """
    if len(curve) != 24:
        raise ScenarioError(f"an hourly congestion curve needs 24 values (hours 0–23), got {len(curve)}")
    hour = int(hour)
    if not 0 <= hour <= 23:
        raise ScenarioError(f"hour must be 0–23, got {hour}")
    cong = congestion_factors(float(curve[hour]), peak_factors)
    own = profile.factors
    own_default = own.get("default", 1.0)
    factors = {k: own.get(k, own_default) * cong.get(k, cong["default"]) for k in set(own) | set(cong)}
    return replace(profile, name=name or f"{profile.name}@{hour:02d}", departure_hour=float(hour),
                   factors=factors)


def default_profiles(truck_restrictions: list[Restriction] | None = None) -> dict[str, Profile]:
    """The three standard profiles: ``offpeak``, ``peak`` and ``truck``."""
    return {
        "offpeak": Profile("offpeak"),
        "peak": Profile("peak", factors=dict(PEAK_FACTORS), departure_hour=8.0),
        "truck": Profile(
            "truck",
            speeds_kmh=dict(TRUCK_SPEEDS_KMH),
            vehicle="truck",
            restrictions=list(truck_restrictions or []),
        ),
    }


def edge_speeds_kmh(edges: pd.DataFrame, profile: Profile, speed_scale: float = 1.0) -> np.ndarray:
    """Speed of every edge under ``profile``, km/h, before closures.

    Parameters
    ----------
    edges : DataFrame
        Needs ``road_class`` and ``maxspeed_kmh`` columns (may be missing/NaN).
    profile : Profile
    speed_scale : float
        Extra factor applied to every edge (sensitivity analysis).

    Returns
    -------
    numpy.ndarray of float
    """
    if speed_scale <= 0:
        raise ScenarioError(f"speed scale must be positive, got {speed_scale}")
    n = len(edges)
    classes = _classes(edges)
    class_speed = classes.map(profile.speeds_kmh).to_numpy(dtype=float, na_value=np.nan)
    speed = np.where(np.isnan(class_speed), profile.fallback_kmh, class_speed)
    tagged, ok, _ = _tagged_kmh(edges, classes, profile)
    if ok.any():
        speed = np.where(ok, tagged * profile.maxspeed_factor, speed)
        if profile.vehicle == "truck":
            # a truck never drives faster than its class speed, whatever the car limit
            cap = np.where(np.isnan(class_speed), profile.fallback_kmh, class_speed)
            speed = np.where(ok, np.minimum(speed, cap), speed)
    if profile.factors:
        default = profile.factors.get("default", 1.0)
        factor = classes.map(profile.factors).to_numpy(dtype=float, na_value=np.nan)
        factor = np.where(np.isnan(factor), default, factor)
        speed = speed * factor
    if profile.max_kmh is not None:
        speed = np.minimum(speed, profile.max_kmh)
    return np.broadcast_to(speed * speed_scale, (n,)).astype(float)


def speed_sources(edges: pd.DataFrame, profile: Profile) -> np.ndarray:
    """Where each edge's speed under ``profile`` comes from.

    Parameters
    ----------
    edges : DataFrame
        Needs ``road_class`` and ``maxspeed_kmh`` columns (may be missing/NaN).
    profile : Profile

    Returns
    -------
    numpy.ndarray of str
        One of :data:`SPEED_SOURCES` per edge: ``"tagged"`` (its ``maxspeed``), ``"clamped"``
        (its ``maxspeed`` cut to ``maxspeed_cap_kmh``), ``"class"`` (the class default) or
        ``"fallback"`` (no usable tag, class unknown: ``fallback_kmh``).
    """
    classes = _classes(edges)
    known = classes.map(profile.speeds_kmh).notna().to_numpy()
    _, ok, clamped = _tagged_kmh(edges, classes, profile)
    out = np.where(known, "class", "fallback").astype(object)
    out[ok] = "tagged"
    out[ok & clamped] = "clamped"
    return out


def speed_source_shares(edges: pd.DataFrame, profiles: dict[str, Profile]) -> dict[str, dict]:
    """Share of road length per speed source, for every profile.

    Parameters
    ----------
    edges : DataFrame
        With ``length_m``, ``road_class``, ``maxspeed_kmh``.
    profiles : dict of name -> Profile

    Returns
    -------
    dict
        ``{profile: {"tagged": share, "clamped": ..., "class": ..., "fallback": ...,
        "fallback_or_clamped": ..., "mostly_fallback": bool}}``; shares of total length, 0–1.
    """
    length = edges["length_m"].to_numpy(dtype=float)
    total = float(length.sum()) or 1.0
    out = {}
    for name, profile in profiles.items():
        src = speed_sources(edges, profile)
        shares = {k: round(float(length[src == k].sum()) / total, 6) for k in SPEED_SOURCES}
        shares["fallback_or_clamped"] = round(shares["fallback"] + shares["clamped"], 6)
        shares["mostly_fallback"] = bool(shares["fallback"] > MOSTLY_FALLBACK_SHARE)
        out[name] = shares
    return out


def _tagged_kmh(edges, classes: pd.Series, profile: Profile):
    """Tagged maxspeed after the class cap, where usable; masks of usable and of clamped."""
    n = len(edges)
    if not profile.use_maxspeed or "maxspeed_kmh" not in edges:
        return np.full(n, np.nan), np.zeros(n, bool), np.zeros(n, bool)
    tagged = pd.to_numeric(edges["maxspeed_kmh"], errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(tagged) & (tagged > 0)
    cap = classes.map(profile.maxspeed_cap_kmh).to_numpy(dtype=float, na_value=np.nan)
    clamped = ok & np.isfinite(cap) & (tagged > cap)
    return np.where(clamped, cap, tagged), ok, clamped


def edge_travel_times(
    edges, profile: Profile, speed_scale: float = 1.0, restricted: dict[str, np.ndarray] | None = None,
    open_mask: np.ndarray | None = None,
) -> np.ndarray:
    """Travel time of every edge in seconds under ``profile`` (``inf`` = closed).

    Parameters
    ----------
    edges : GeoDataFrame
        Raw or network edge table with ``length_m`` (and ``road_class``, ``maxspeed_kmh``, ``hgv``).
    profile : Profile
    speed_scale : float
    restricted : dict, optional
        ``{restriction name: share of each edge's length inside it}``; computed with
        :func:`restriction_masks` when not given.
    open_mask : numpy.ndarray of bool, optional
        The profile's :func:`open_edges`; computed when not given.
    """
    speed = edge_speeds_kmh(edges, profile, speed_scale)
    length = edges["length_m"].to_numpy(dtype=float)
    with np.errstate(divide="ignore"):
        seconds = length / (speed / 3.6)
    if profile.allowed_classes is not None or profile.zone is not None:
        ok = open_mask if open_mask is not None else open_edges(edges, profile)
        seconds = np.where(ok, seconds, np.inf)
    if profile.vehicle == "truck" and "hgv" in edges:
        hgv = edges["hgv"].astype("object").fillna("").astype(str).str.lower()
        seconds = np.where(hgv.isin(HGV_CLOSED).to_numpy(), np.inf, seconds)
    if profile.restrictions:
        shares = restricted if restricted is not None else restriction_masks(edges, profile.restrictions)
        for r in profile.restrictions:
            if not r.active_at(profile.departure_hour):
                continue
            share = np.asarray(shares[r.name], dtype=float)
            if r.action == "close":
                seconds = np.where(share > 0, np.inf, seconds)
            else:
                # only the segments inside are slowed: (1 - s) at the speed, s at factor × speed
                seconds = seconds * (1.0 + share * (1.0 / r.factor - 1.0))
    return seconds


def open_edges(edges, profile: Profile) -> np.ndarray:
    """Edges open to ``profile`` by road class and zone (hour-independent closures).

    Parameters
    ----------
    edges : GeoDataFrame
        With ``road_class`` and EPSG:4326 line geometry (the geometry only when the profile has a zone).
    profile : Profile

    Returns
    -------
    numpy.ndarray of bool
        True where the class is allowed (or unknown and ``unknown_class_allowed``) and the edge's
        line lies wholly inside the profile's ``zone``.
    """
    import shapely

    classes = _classes(edges)
    ok = np.ones(len(edges), bool)
    if profile.allowed_classes is not None:
        known = classes.notna().to_numpy()
        ok = np.where(known, classes.isin(list(profile.allowed_classes)).to_numpy(), profile.unknown_class_allowed)
    if profile.zone is not None:
        shapely.prepare(profile.zone)
        ok = ok & shapely.covered_by(np.asarray(edges.geometry.values), profile.zone)
    return ok


def restriction_masks(edges, restrictions: list[Restriction]) -> dict[str, np.ndarray]:
    """Share of each edge's length (0–1) on segments touching each restriction polygon.

    A segment is a pair of consecutive vertices of the edge line (an OSM segment for OSM data);
    one that intersects the polygon counts whole, as the rule applies per road segment. Lengths
    are great-circle (haversine, as osmnx measures ``length``), so the share times the edge's
    time is the time of those segments. An edge is closed by a ``"close"`` restriction when its
    share is above 0, i.e. when it touches the polygon.

    Parameters
    ----------
    edges : GeoDataFrame
        EPSG:4326 lines.
    restrictions : list of Restriction

    Returns
    -------
    dict
        ``{restriction name: float array, one share per edge}``.
    """
    import shapely

    geoms = np.asarray(edges.geometry.values)
    coords, line_of = shapely.get_coordinates(geoms, return_index=True)
    same = line_of[1:] == line_of[:-1]
    a, b = coords[:-1][same], coords[1:][same]
    seg_line = line_of[1:][same]
    seg_len = _haversine_m(a[:, 1], a[:, 0], b[:, 1], b[:, 0])
    total = np.bincount(seg_line, weights=seg_len, minlength=len(geoms))
    segs = shapely.linestrings(np.stack([a, b], axis=1)) if len(a) else np.empty(0, object)
    out = {}
    for r in restrictions:
        shapely.prepare(r.polygon)
        hit = shapely.intersects(r.polygon, segs) if len(segs) else np.zeros(0, bool)
        inside = np.bincount(seg_line[hit], weights=seg_len[hit], minlength=len(geoms))
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(total > 0, inside / total, 0.0)
        # a line of zero length counts whole when it touches the polygon
        out[r.name] = np.where(total > 0, share, shapely.intersects(r.polygon, geoms).astype(float))
    return out


def _haversine_m(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance (m) on osmnx's sphere (radius 6,371,009 m)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6_371_009.0 * np.arcsin(np.sqrt(np.minimum(1.0, h)))


def _classes(edges) -> pd.Series:
    if "road_class" not in edges:
        return pd.Series([None] * len(edges), index=edges.index, dtype="object")
    return edges["road_class"].astype("object").where(edges["road_class"].notna(), None)
