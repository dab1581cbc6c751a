"""Scenario files: one readable TOML file per planning scenario, validated on load.

Paths inside a scenario are resolved against the scenario file's folder, except those starting
with ``${PLANNER_DATA_DIR}``, which is replaced by that environment variable (default
``data/raw``) — shared OSM-derived data is never copied into the project.

Unknown keys and wrong types are errors that name the key, e.g.
``scenarios/x.toml: coverage.threshold_min: Input should be a valid number``.
"""
from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from planner.errors import ScenarioError
from planner.settings import data_dir
from planner.vocab import DEFAULT_BUFFER_M, DEFAULT_MAX_SNAP_M, RANDOM_SEED

DATA_VAR = "${PLANNER_DATA_DIR}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class Columns(_Strict):
    """Column mapping of a road layer (see :class:`planner.network.layer.ColumnMap`)."""

    from_node: str | None = None
    to_node: str | None = None
    oneway: str | None = None
    road_class: str | None = None
    speed: str | None = None
    name: str | None = None
    hgv: str | None = None
    length: str | None = None
    directed: bool = False
    flag_classes: dict[str, str] = Field(default_factory=dict)


class Repair(_Strict):
    enabled: bool = False
    tolerance_m: float = Field(250.0, gt=0, le=5000)
    #: layer + boolean column of extra nodes to give an entry and exit (cut-away ramps)
    candidates_layer: str | None = None
    candidates_column: str | None = None


class Network(_Strict):
    source: Literal["layer", "osm"] = "layer"
    path: str | None = None
    layer: str | None = None
    place: str | None = None
    bbox: tuple[float, float, float, float] | None = None  # west, south, east, north
    polygon: str | None = None  # path to a polygon file
    columns: Columns = Field(default_factory=Columns)
    repair: Repair = Field(default_factory=Repair)
    keep_largest: bool = True
    max_snap_m: float = Field(DEFAULT_MAX_SNAP_M, gt=0)
    metric_crs: str | None = None
    cache_dir: str = "../data/processed"
    raw_dir: str = "../data/raw"  # where OSM downloads are cached
    # own servers for downloads (many government intranets run one), e.g.
    # "https://overpass.example.gov.cn/api" and "https://nominatim.example.gov.cn/"; default osmnx's
    overpass_url: str | None = None
    nominatim_url: str | None = None
    download_timeout_s: float = Field(30.0, gt=0, le=3600)  # planner.settings.DOWNLOAD_TIMEOUT_S
    download_retries: int = Field(3, ge=0, le=10)  # after time-outs, resets, 429/5xx; guess

    @field_validator("overpass_url", "nominatim_url")
    @classmethod
    def _http_url(cls, v):
        from urllib.parse import urlparse

        if v is not None and not (urlparse(v).scheme in ("http", "https") and urlparse(v).hostname):
            raise ValueError(f"'{v}' is not an http(s) URL with a host, e.g. https://overpass.example.org/api")
        return v

    @model_validator(mode="after")
    def _source_needs(self):
        if self.source == "layer" and not self.path:
            raise ValueError("network.source = 'layer' needs network.path")
        if self.source == "osm" and not (self.path or self.place or self.bbox or self.polygon):
            raise ValueError("network.source = 'osm' needs one of path, place, bbox or polygon")
        return self


class Restriction(_Strict):
    name: str
    path: str  # polygon file (GeoJSON/GPKG), any CRS
    hours: tuple[float, float] = (6.0, 23.0)
    action: Literal["close", "slow"] = "close"
    factor: float = Field(1.0, gt=0, le=1)
    note: str = ""


class ProfileSpec(_Strict):
    vehicle: Literal["car", "truck", "autonomous"] = "car"
    speeds_kmh: dict[str, float] = Field(default_factory=dict)  # overrides of the class defaults
    fallback_kmh: float = Field(30.0, gt=0, le=150)
    factors: dict[str, float] = Field(default_factory=dict)
    maxspeed_factor: float = Field(0.8, gt=0, le=1.2)
    # overrides of the per-class caps on tagged maxspeed (speeds.URBAN_MAXSPEED_CAP_KMH)
    maxspeed_cap_kmh: dict[str, float] = Field(default_factory=dict)
    use_maxspeed: bool = True
    departure_hour: float = Field(10.0, ge=0, lt=24)
    restrictions: list[str] = Field(default_factory=list)
    label: str = ""
    # vehicle speed cap; "autonomous" defaults to speeds.AUTONOMOUS_MAX_KMH (parameters.md §10, guess)
    max_kmh: float | None = Field(None, gt=0, le=150)
    # only these OSM classes are open; "autonomous" defaults to speeds.AUTONOMOUS_CLASSES (guess)
    allowed_classes: list[str] | None = None
    unknown_class_allowed: bool = True  # roads without a class, when allowed_classes is set
    zone: str | None = None  # polygon file: only roads wholly inside are open


class Hourly(_Strict):
    """Coverage by departure hour (``coverage/by_hour.csv``, delivery windows, a chart per plant)."""

    enabled: bool = False
    vehicles: list[str] = Field(default_factory=list)  # profile names, driven at each hour
    hours: list[int] = Field(default_factory=lambda: list(range(24)))
    # congestion intensity per hour 0-23 (1 = peak, 0 = free flow); default speeds.CONGESTION_CURVE
    curve: list[float] | None = None
    # per-class speed factors at intensity 1; default speeds.PEAK_FACTORS
    peak_factors: dict[str, float] = Field(default_factory=dict)

    @field_validator("hours")
    @classmethod
    def _hours(cls, v):
        if not v or any(not 0 <= h <= 23 for h in v) or len(set(v)) != len(v):
            raise ValueError("hours must be distinct whole hours 0-23, e.g. [0, 6, 8, 12, 18]")
        return sorted(v)

    @field_validator("curve")
    @classmethod
    def _curve(cls, v):
        if v is not None and (len(v) != 24 or any(not 0 <= c <= 1 for c in v)):
            raise ValueError("curve needs 24 intensities in 0-1, one per hour 0-23")
        return v


class SitesFile(_Strict):
    path: str
    coord_system: Literal["wgs84", "gcj02", "bd09"] = "wgs84"
    id_column: str | None = None
    name_column: str | None = None
    lon_column: str | None = None
    lat_column: str | None = None
    weight_column: str | None = None
    plants_column: str | None = None
    sheet: str | None = None
    layer: str | None = None
    illustrative: bool = False
    #: a column of addresses (地址); rows without coordinates are geocoded with ``geocoder``
    address_column: str | None = None
    #: web geocoder for addresses: "amap" (key in AMAP_KEY) or "baidu" (key in BAIDU_AK)
    geocoder: Literal["amap", "baidu"] | None = None
    geocoder_city: str | None = "北京"
    #: a bureau's own geocoding gateway (default: the provider's public endpoint)
    geocoder_url: str | None = None
    geocoder_qps: float | None = Field(None, gt=0)


class Sites(_Strict):
    plants: SitesFile | None = None
    suppliers: SitesFile | None = None


class Coverage(_Strict):
    enabled: bool = True
    threshold_min: float = Field(30.0, gt=0, le=300)
    bands_min: list[float] = Field(default_factory=lambda: [10.0, 20.0, 30.0])
    profiles: list[str] = Field(default_factory=lambda: ["offpeak", "peak", "truck"])
    speed_scales: list[float] = Field(default_factory=lambda: [0.6, 0.7, 0.8, 0.9, 1.0])
    isochrone_profiles: list[str] = Field(default_factory=lambda: ["offpeak", "peak"])
    buffer_m: float = Field(DEFAULT_BUFFER_M, gt=0, le=1000)
    smooth_m: float | None = Field(None, gt=0)
    land: SitesFile | None = None  # optional polygons of industrial/available land

    @field_validator("bands_min")
    @classmethod
    def _ascending(cls, v):
        if not v or sorted(v) != list(v) or v[0] <= 0:
            raise ValueError("bands_min must be positive and ascending, e.g. [10, 20, 30]")
        return v


class Technology(_Strict):
    label: str = ""
    capex_wan: float = Field(gt=0)  # 万元 per station
    radius_min: float = Field(gt=0, le=180)
    profile: str = "offpeak"
    weight: float = Field(1.0, ge=0)
    min_spacing_m: float = Field(0.0, ge=0)
    target_share: float | None = Field(None, ge=0, le=1)
    max_stations: int | None = Field(None, ge=0)  # at most N open stations, existing ones included
    candidate_sources: list[str] = Field(default_factory=list)
    demand: str = ""  # "freight" | "ev" | "pv"
    note: str = ""


class CandidateSource(_Strict):
    path: str
    layer: str | None = None
    fclass: list[str] = Field(default_factory=list)  # Geofabrik fclass filter
    kind: str = ""  # e.g. "parking", "fuel", "user"
    coord_system: Literal["wgs84", "gcj02", "bd09"] = "wgs84"
    existing: bool = False  # existing stations: always open
    competitor: bool = False  # competitors' stations: demand already served


class DemandRule(_Strict):
    path: str
    layer: str | None = None
    fclass_weights: dict[str, float] = Field(default_factory=dict)
    default_weight: float = 0.0


class StudyArea(_Strict):
    """A polygon file (any CRS) grown by ``margin_m`` metres (see :mod:`planner.study_area`)."""

    path: str
    layer: str | None = None
    margin_m: float = Field(0.0, ge=0, le=50_000)


class Sizing(_Strict):
    """``[siting.sizing]``: the station-sizing defaults a planner changes most often.

    A key left out keeps the library default (:class:`planner.stations.defaults.SizingDefaults`,
    each with its source; ``docs/station_sizing.md`` lists them all). Sources of the defaults:
    ``ev_sessions_per_day`` guess (5,000); ``session_kwh`` guess (40); ``charger_kw``
    parameters.md §4 (600, M); ``flexible_share`` guess (0.3); ``max_wait_min`` /
    ``max_p_wait`` issue 13 target (5 min, 10 %); ``specific_yield_kwh_per_kwp`` §5 (1,010, L);
    ``canopy_share`` guess (1.0); ``capex_per_kwh_wan`` §14 utility BESS (0.04646, M);
    ``h2_truck_speed_kmh`` guess (35). ``v2g`` (discharge to the grid, 放) is off by default:
    no Beijing feed-in / V2G price is in parameters.md, so ``v2g_price_yuan_kwh`` must be given.
    """

    ev_sessions_per_day: float | None = Field(None, gt=0)  # fast-charging sessions/day in the study area
    session_kwh: float | None = Field(None, gt=0)
    charger_kw: float | None = Field(None, gt=0)  # kW per plug
    flexible_share: float | None = Field(None, ge=0, le=1)  # smart ordered charging: movable share
    max_wait_min: float | None = Field(None, gt=0)
    max_p_wait: float | None = Field(None, gt=0, lt=1)
    specific_yield_kwh_per_kwp: float | None = Field(None, gt=0)
    canopy_share: float | None = Field(None, ge=0, le=1)
    capex_per_kwh_wan: float | None = Field(None, ge=0)  # battery capex, 万元 per kWh
    h2_truck_speed_kmh: float | None = Field(None, gt=0)
    v2g: bool = False  # discharge to the grid (V2G / 放)
    v2g_price_yuan_kwh: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _v2g_price(self):
        if self.v2g and self.v2g_price_yuan_kwh is None:
            raise ValueError("v2g = true needs v2g_price_yuan_kwh (no Beijing feed-in / V2G price is sourced)")
        return self

    def overrides(self) -> dict:
        """The keys given, as ``SizingDefaults`` field names (``export_price`` from the V2G keys)."""
        out = {k: v for k, v in self.model_dump(exclude={"v2g", "v2g_price_yuan_kwh"}).items() if v is not None}
        out["export_price"] = float(self.v2g_price_yuan_kwh) if self.v2g else 0.0
        return out


class Siting(_Strict):
    enabled: bool = True
    budget_wan: float = Field(gt=0)
    #: "flat": each station costs its technology's capex_wan; "sized": capex from each
    #: candidate's sizes for the demand it could serve (see docs/station_sizing.md)
    capex_model: Literal["flat", "sized"] = "flat"
    sizing: Sizing = Field(default_factory=Sizing)
    time_limit_s: float = Field(60.0, gt=0)
    mip_gap: float = Field(0.001, ge=0, lt=1)
    technologies: dict[str, Technology]
    candidates: dict[str, CandidateSource] = Field(default_factory=dict)
    ev_demand: list[DemandRule] = Field(default_factory=list)
    ev_clusters: int = Field(1500, gt=0)
    ev_road_weight_per_km: float = Field(0.0, ge=0)  # traffic proxy: weight per km by class
    pv_yield_kwh_per_m2: float = Field(200.0, gt=0)
    pv_min_area_m2: float = Field(400.0, ge=0)
    h2_safety_m: float = Field(50.0, ge=0)
    h2_sensitive_fclass: list[str] = Field(default_factory=lambda: ["school", "hospital", "kindergarten"])
    hpc_default_headroom_kva: float = Field(2000.0, ge=0)
    #: Only "none": the station plan counts a demand point as covered within the radius. Distance
    #: decay exists in the model library (:class:`planner.siting.Decay`) but the plan's tables
    #: (demand served, shares) do not apply it, so any other value is refused, not ignored.
    decay: Literal["none"] = "none"
    #: (west, south, east, north) or a polygon file + margin: candidates and EV demand outside are left out
    study_area: tuple[float, float, float, float] | StudyArea | None = None

    @field_validator("decay", mode="before")
    @classmethod
    def _no_decay(cls, v):
        if v != "none":
            raise ValueError(f"decay = {v!r} is not supported by the station plan (coverage within the radius "
                             "only); remove the key or set decay = \"none\"")
        return v

    @field_validator("study_area")
    @classmethod
    def _box(cls, v):
        if isinstance(v, tuple) and not (v[0] < v[2] and v[1] < v[3]):
            raise ValueError("study_area must be [west, south, east, north] with west < east and south < north")
        return v


class GrowthScenario(_Strict):
    """One demand-growth scenario of the robustness analysis."""

    growth: dict[str, float | list[float]] = Field(default_factory=dict)
    weight: float = Field(1.0, gt=0)


class Programme(_Strict):
    """Budget frontier and phasing of the stations (``planner frontier`` / ``planner phase``).

    ``growth`` per technology: an annual rate (0.25 = +25 %/yr, compounded from the first
    year) or one demand factor per year. ``scenarios``: growth scenarios with weights for the
    robustness analysis.
    """

    years: list[int] = Field(default_factory=lambda: [2026, 2027, 2028])
    budgets_wan: list[float] = Field(default_factory=list)
    growth: dict[str, float | list[float]] = Field(default_factory=dict)
    carry_over: bool = False
    frontier_budgets_wan: str | None = None
    scenarios: dict[str, GrowthScenario] = Field(default_factory=dict)
    time_limit_s: float = Field(120.0, gt=0)

    @model_validator(mode="after")
    def _per_year(self):
        if self.budgets_wan and len(self.budgets_wan) != len(self.years):
            raise ValueError(f"budgets_wan has {len(self.budgets_wan)} values for {len(self.years)} years")
        if any(b < 0 for b in self.budgets_wan):
            raise ValueError("budgets_wan must be non-negative")
        growths = [("growth", self.growth)] + [(f"scenarios.{k}.growth", v.growth) for k, v in self.scenarios.items()]
        for name, g in growths:
            for t, v in g.items():
                if isinstance(v, list) and len(v) != len(self.years):
                    raise ValueError(f"{name}.{t} has {len(v)} values for {len(self.years)} years")
        return self


class Maps(_Strict):
    basemap: Literal["osm", "amap", "tianditu", "none"] = "osm"
    offline: bool = True
    png: bool = False
    roads_base: bool = True


class Report(_Strict):
    """``[report]``: write ``report/report.html`` and ``.pdf`` at the end of ``planner run``."""

    enabled: bool = False
    pdf: bool = True
    map_snapshots: bool = True


class Meta(_Strict):
    name: str
    title: str = ""
    language: Literal["zh", "en"] = "en"
    output: str = "../output/{name}"
    seed: int = RANDOM_SEED
    note: str = ""


class Scenario(_Strict):
    scenario: Meta
    network: Network
    profiles: dict[str, ProfileSpec] = Field(default_factory=dict)
    restrictions: list[Restriction] = Field(default_factory=list)
    sites: Sites = Field(default_factory=Sites)
    coverage: Coverage = Field(default_factory=Coverage)
    hourly: Hourly = Field(default_factory=Hourly)
    siting: Siting | None = None
    programme: Programme | None = None
    maps: Maps = Field(default_factory=Maps)
    report: Report = Field(default_factory=Report)

    #: folder of the scenario file (paths resolve against it); set by :func:`load_scenario`
    base_dir: Path = Field(default=Path("."), exclude=True)
    source_path: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _cross_checks(self):
        known = set(self.profiles) or {"offpeak", "peak", "truck"}
        names = {r.name for r in self.restrictions}
        for pname, p in self.profiles.items():
            for r in p.restrictions:
                if r not in names:
                    raise ValueError(f"profiles.{pname}.restrictions: unknown restriction '{r}'")
        for p in self.coverage.profiles + self.coverage.isochrone_profiles:
            if p not in known:
                raise ValueError(f"coverage: unknown profile '{p}' (known: {', '.join(sorted(known))})")
        for p in self.hourly.vehicles:
            if p not in known:
                raise ValueError(f"hourly.vehicles: unknown profile '{p}' (known: {', '.join(sorted(known))})")
        if self.coverage.bands_min[-1] < self.coverage.threshold_min:
            self.coverage.bands_min.append(self.coverage.threshold_min)
        if self.siting:
            for tname, t in self.siting.technologies.items():
                if t.profile not in known:
                    raise ValueError(f"siting.technologies.{tname}.profile: unknown profile '{t.profile}'")
                for c in t.candidate_sources:
                    if c not in self.siting.candidates:
                        raise ValueError(f"siting.technologies.{tname}.candidate_sources: unknown source '{c}'")
        return self

    # ------------------------------------------------------------------ path helpers
    def resolve(self, path: str | os.PathLike) -> Path:
        """Absolute path for a scenario path (``${PLANNER_DATA_DIR}`` or scenario-relative)."""
        s = str(path)
        if s.startswith(DATA_VAR):
            root = data_dir()
            rest = s[len(DATA_VAR):].lstrip("/\\")
            return (root / rest).resolve()
        p = Path(s)
        return p if p.is_absolute() else (self.base_dir / p).resolve()

    @property
    def output_dir(self) -> Path:
        return self.resolve(self.scenario.output.format(name=self.scenario.name))

    @property
    def cache_dir(self) -> Path:
        return self.resolve(self.network.cache_dir)


def load_scenario(path) -> Scenario:
    """Read and validate a scenario TOML file.

    Raises
    ------
    ScenarioError
        Missing file, TOML syntax error (with line), unknown key, wrong type — naming the key.
    """
    path = Path(path)
    if not path.exists():
        raise ScenarioError("scenario file not found", path=path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"not valid TOML ({exc})", path=path) from None
    except UnicodeDecodeError:
        raise ScenarioError("not UTF-8 text", path=path) from None
    return scenario_from_dict(data, base_dir=path.parent, source_path=path)


def scenario_from_dict(data: dict, base_dir=".", source_path=None) -> Scenario:
    """Validate a scenario given as a dict (e.g. built in a notebook)."""
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required key is missing"
        more = f" (+{len(exc.errors()) - 1} more problem(s))" if len(exc.errors()) > 1 else ""
        raise ScenarioError(f"{msg}{more}", path=source_path, key=key) from None
    sc.base_dir = Path(base_dir).resolve()
    sc.source_path = Path(source_path).resolve() if source_path else None
    return sc
