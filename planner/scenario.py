"""Scenario files: one readable TOML file per planning scenario, validated on load.

Paths inside a scenario are resolved against the scenario file's folder, except those starting
with ``${PLANNER_DATA_DIR}``, which is replaced by that environment variable (default
``data/raw``) — shared OSM-derived data is never copied into the project.

Unknown keys and wrong types are errors that name the key, e.g.
``scenarios/x.toml: coverage.threshold_min: Input should be a valid number``.
"""
from __future__ import annotations

import difflib
import os
import tomllib
import types
import typing
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from planner.errors import ScenarioError
from planner.settings import data_dir
from planner.technology import Technology
from planner.vocab import DEFAULT_BUFFER_M, DEFAULT_MAX_SNAP_M, RANDOM_SEED

DATA_VAR = "${PLANNER_DATA_DIR}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class Columns(_Strict):
    """Column mapping of a road layer (see :class:`planner.network.layer.ColumnMap`)."""

    from_node: str | None = Field(None,
                                  description="Column with the start node id of each row (None: nodes are built from "
                                              "line ends).")
    to_node: str | None = Field(None, description="Column with the end node id of each row.")
    oneway: str | None = Field(None,
                               description="Column with the OSM-style oneway value (yes/-1/no); ignored when "
                                           "`directed`.")
    road_class: str | None = Field(None,
                                   description="Column with the road class (OSM highway value such as `primary`).")
    speed: str | None = Field(None, description="Column with the posted speed limit (km/h).")
    name: str | None = Field(None, description="Column with the road name.")
    hgv: str | None = Field(None, description="Column with the OSM hgv tag (e.g. `no`: closed to trucks).")
    length: str | None = Field(None, description="Column with the length in metres (None: measured from the geometry).")
    directed: bool = Field(False,
                           description="True when every row already is one drivable direction (osmnx exports, the "
                                       "shared layer).")
    flag_classes: dict[str, str] = Field(default_factory=dict,
                                         description="Boolean column -> road class given to rows whose class is "
                                                     "missing when it is true, e.g. {expressway_inferred = "
                                                     "\"motorway\"}.")


class Repair(_Strict):
    enabled: bool = Field(False, description="Join dangling road ends to the network (cut-away ramps, small gaps).")
    tolerance_m: float = Field(250.0, gt=0, le=5000, description="Largest gap joined by repair (metres).")
    #: layer + boolean column of extra nodes to give an entry and exit (cut-away ramps)
    candidates_layer: str | None = Field(None,
                                         description="Layer holding extra nodes to give an entry and exit (cut-away "
                                                     "ramps).")
    candidates_column: str | None = Field(None, description="Boolean column of `candidates_layer` marking those nodes.")


class Network(_Strict):
    source: Literal["layer", "osm"] = Field("layer",
                                            description="\"layer\": a road layer file (GPKG, shapefile); \"osm\": "
                                                        "OSM data (file or download).")
    path: str | None = Field(None,
                             description="Road layer or OSM file (`${PLANNER_DATA_DIR}/...` or relative to the "
                                         "scenario file).")
    layer: str | None = Field(None, description="Layer name inside `path` (GeoPackage).")
    place: str | None = Field(None, description="Place name to download OSM roads for (source = \"osm\").")
    bbox: tuple[float, float, float, float] | None = Field(None,
                                                           description="[west, south, east, north] in WGS-84 degrees "
                                                                       "to download OSM roads for.")
    polygon: str | None = Field(None, description="Polygon file whose area OSM roads are downloaded for.")
    columns: Columns = Field(default_factory=Columns,
                             description="Column mapping of the road layer ([network.columns]).")
    repair: Repair = Field(default_factory=Repair, description="Network repair settings ([network.repair]).")
    keep_largest: bool = Field(True, description="Keep only the largest strongly connected part of the network.")
    max_snap_m: float = Field(DEFAULT_MAX_SNAP_M, gt=0,
                              description="Largest distance from a site to the nearest road before it is an error "
                                          "(metres).")
    metric_crs: str | None = Field(None,
                                   description="Projected CRS for distances, e.g. \"EPSG:32650\" (None: the UTM zone "
                                               "of the data).")
    cache_dir: str = Field("../data/processed", description="Folder of the network cache.")
    raw_dir: str = Field("../data/raw", description="Folder where OSM downloads are cached.")
    # own servers for downloads (many government intranets run one), e.g.
    # "https://overpass.example.gov.cn/api" and "https://nominatim.example.gov.cn/"; default osmnx's
    overpass_url: str | None = Field(None, description="Own Overpass server for downloads (None: osmnx's default).")
    nominatim_url: str | None = Field(None,
                                      description="Own Nominatim server for place look-ups (None: osmnx's default).")
    download_timeout_s: float = Field(30.0, gt=0, le=3600,
                                      description="Time-out of one download request (seconds; "
                                                  "planner.settings.DOWNLOAD_TIMEOUT_S).")
    download_retries: int = Field(3, ge=0, le=10,
                                  description="Retries after time-outs, resets, HTTP 429/5xx (count; guess).")

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
    name: str = Field(description="Name the profiles refer to in `profiles.<name>.restrictions`.")
    path: str = Field(description="Polygon file (GeoJSON/GPKG, any CRS) of the restricted area.")
    hours: tuple[float, float] = Field((6.0, 23.0),
                                       description="[start, end] hours of the day the restriction applies (h, 0-24).")
    action: Literal["close", "slow"] = Field("close",
                                             description="\"close\": roads inside are closed; \"slow\": their speed "
                                                         "is multiplied by `factor`.")
    factor: float = Field(1.0, gt=0, le=1, description="Speed factor inside the area when action = \"slow\" (0-1).")
    note: str = Field("", description="Free text, e.g. the rule's source.")


class ProfileSpec(_Strict):
    vehicle: Literal["car", "truck", "autonomous"] = Field(
        "car", description="Vehicle type: \"truck\" respects hgv=no and truck speeds; \"autonomous\" is the "
                           "low-speed delivery vehicle (speed cap, allowed classes, zone).")
    speeds_kmh: dict[str, float] = Field(default_factory=dict,
                                         description="Overrides of the default speed per road class (km/h).")
    fallback_kmh: float = Field(30.0, gt=0, le=150,
                                description="Speed of roads with no class and no speed limit (km/h).")
    factors: dict[str, float] = Field(default_factory=dict,
                                      description="Speed factor per road class, e.g. peak congestion (0-1+).")
    maxspeed_factor: float = Field(0.8, gt=0, le=1.2, description="Share of a tagged maxspeed actually driven.")
    # overrides of the per-class caps on tagged maxspeed (speeds.URBAN_MAXSPEED_CAP_KMH)
    maxspeed_cap_kmh: dict[str, float] = Field(default_factory=dict,
                                               description="Overrides of the per-class caps on tagged maxspeed "
                                                           "(km/h; speeds.URBAN_MAXSPEED_CAP_KMH).")
    use_maxspeed: bool = Field(True, description="Use tagged maxspeed values (else class speeds only).")
    departure_hour: float = Field(10.0, ge=0, lt=24,
                                  description="Hour of departure, which decides the restrictions in force (h, 0-24).")
    restrictions: list[str] = Field(default_factory=list, description="Names of [[restrictions]] this profile obeys.")
    label: str = Field("", description="Readable name in tables and maps.")
    max_kmh: float | None = Field(None, gt=0, le=150,
                                  description="Vehicle speed cap (km/h); \"autonomous\" defaults to "
                                              "speeds.AUTONOMOUS_MAX_KMH (parameters.md §10, guess).")
    allowed_classes: list[str] | None = Field(None, description="Only these OSM road classes are open; "
                                                               "\"autonomous\" defaults to speeds.AUTONOMOUS_CLASSES "
                                                               "(guess).")
    unknown_class_allowed: bool = Field(True, description="Roads without a class stay open when allowed_classes "
                                                          "is set.")
    zone: str | None = Field(None, description="Polygon file: only roads wholly inside are open (operating zone).")


class Hourly(_Strict):
    """Coverage by departure hour (``coverage/by_hour.csv``, delivery windows, a chart per plant)."""

    enabled: bool = Field(False, description="Compute coverage by departure hour.")
    vehicles: list[str] = Field(default_factory=list, description="Profile names driven at each hour.")
    hours: list[int] = Field(default_factory=lambda: list(range(24)), description="Departure hours (0-23).")
    curve: list[float] | None = Field(None, description="Congestion intensity per hour 0-23 (1 = peak, 0 = free "
                                                        "flow); default speeds.CONGESTION_CURVE (guess).")
    peak_factors: dict[str, float] = Field(default_factory=dict,
                                           description="Per-class speed factors at intensity 1; default "
                                                       "speeds.PEAK_FACTORS.")

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
    path: str = Field(description="Site list file: CSV, Excel or a GIS layer.")
    coord_system: Literal["wgs84", "gcj02", "bd09"] = Field("wgs84",
                                                            description="Coordinate system of lon/lat: wgs84 (GPS, "
                                                                        "OSM), gcj02 (AMap, Tencent) or bd09 "
                                                                        "(Baidu).")
    id_column: str | None = Field(None,
                                  description="Column with the site id (None: detected; without one, rows are "
                                              "numbered).")
    name_column: str | None = Field(None, description="Column with the site name (None: detected).")
    lon_column: str | None = Field(None, description="Column with the longitude (None: detected).")
    lat_column: str | None = Field(None, description="Column with the latitude (None: detected).")
    weight_column: str | None = Field(None,
                                      description="Column with the site weight, e.g. annual volume (None: weight 1).")
    plants_column: str | None = Field(None, description="Column listing the plant ids a supplier serves.")
    sheet: str | None = Field(None, description="Excel sheet name.")
    layer: str | None = Field(None, description="Layer name inside a GIS file.")
    illustrative: bool = Field(False, description="Mark the sites as illustrative (not real) in outputs and maps.")
    #: a column of addresses (地址); rows without coordinates are geocoded with ``geocoder``
    address_column: str | None = Field(None,
                                       description="Column of addresses (地址); rows without coordinates are geocoded "
                                                   "with `geocoder`.")
    #: web geocoder for addresses: "amap" (key in AMAP_KEY) or "baidu" (key in BAIDU_AK)
    geocoder: Literal["amap", "baidu"] | None = Field(None,
                                                      description="Web geocoder for addresses: \"amap\" (key in "
                                                                  "AMAP_KEY) or \"baidu\" (key in BAIDU_AK).")
    geocoder_city: str | None = Field("北京", description="City that limits geocoding.")
    #: a bureau's own geocoding gateway (default: the provider's public endpoint)
    geocoder_url: str | None = Field(None,
                                     description="A bureau's own geocoding gateway (None: the provider's public "
                                                 "endpoint).")
    geocoder_qps: float | None = Field(None, gt=0,
                                       description="Largest geocoding requests per second (None: the provider's "
                                                   "default).")


class Sites(_Strict):
    plants: SitesFile | None = Field(None, description="The plants list ([sites.plants]).")
    suppliers: SitesFile | None = Field(None, description="The suppliers list ([sites.suppliers]).")


class Coverage(_Strict):
    enabled: bool = Field(True, description="Run the supply-circle audit.")
    threshold_min: float = Field(30.0, gt=0, le=300,
                                 description="Travel time within which a supplier counts as covered (minutes).")
    bands_min: list[float] = Field(default_factory=lambda: [10.0, 20.0, 30.0],
                                   description="Isochrone bands drawn around each plant (minutes, ascending).")
    profiles: list[str] = Field(default_factory=lambda: ["offpeak", "peak", "truck"],
                                description="Profiles the coverage is computed for.")
    speed_scales: list[float] = Field(default_factory=lambda: [0.6, 0.7, 0.8, 0.9, 1.0],
                                      description="Speed multipliers of the sensitivity table.")
    isochrone_profiles: list[str] = Field(default_factory=lambda: ["offpeak", "peak"],
                                          description="Profiles isochrones are drawn for.")
    buffer_m: float = Field(DEFAULT_BUFFER_M, gt=0, le=1000,
                            description="Width added on both sides of the reached roads in isochrone polygons "
                                        "(metres).")
    smooth_m: float | None = Field(None, gt=0,
                                   description="Close and simplify isochrone polygons at this scale (metres; None: "
                                               "exact).")
    land: SitesFile | None = Field(None, description="Optional polygons of industrial/available land for the fit area.")

    @field_validator("bands_min")
    @classmethod
    def _ascending(cls, v):
        if not v or sorted(v) != list(v) or v[0] <= 0:
            raise ValueError("bands_min must be positive and ascending, e.g. [10, 20, 30]")
        return v


class CandidateSource(_Strict):
    path: str = Field(description="GIS layer of candidate sites (points or polygons).")
    layer: str | None = Field(None, description="Layer name inside `path`.")
    fclass: list[str] = Field(default_factory=list, description="Keep only these Geofabrik fclass values (empty: all).")
    kind: str = Field("", description="Kind of candidate, e.g. \"parking\", \"fuel\", \"user\".")
    coord_system: Literal["wgs84", "gcj02", "bd09"] = Field("wgs84",
                                                            description="Coordinate system: wgs84, gcj02 or bd09.")
    existing: bool = Field(False, description="Existing stations: always open.")
    competitor: bool = Field(False, description="Competitors' stations: their demand is already served.")


class DemandRule(_Strict):
    path: str = Field(description="GIS layer of POIs that generate EV demand.")
    layer: str | None = Field(None, description="Layer name inside `path`.")
    fclass_weights: dict[str, float] = Field(default_factory=dict, description="Demand weight per Geofabrik fclass.")
    default_weight: float = Field(0.0, description="Weight of POIs whose fclass is not listed.")


class StudyArea(_Strict):
    """A polygon file (any CRS) grown by ``margin_m`` metres (see :mod:`planner.study_area`)."""

    path: str = Field(description="Polygon file (any CRS) of the study area.")
    layer: str | None = Field(None, description="Layer name inside `path`.")
    margin_m: float = Field(0.0, ge=0, le=50_000, description="Distance the polygon is grown by (metres).")


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

    ev_sessions_per_day: float | None = Field(None, gt=0, description="Fast-charging sessions per day in the "
                                                                      "study area (guess).")
    session_kwh: float | None = Field(None, gt=0, description="Energy per charging session (kWh).")
    charger_kw: float | None = Field(None, gt=0, description="Charger power per plug (kW; §4: 600).")
    flexible_share: float | None = Field(None, ge=0, le=1, description="Smart ordered charging: share of energy "
                                                                      "that can move in time (0-1, guess).")
    max_wait_min: float | None = Field(None, gt=0, description="Waiting-time target of the plug count (minutes).")
    max_p_wait: float | None = Field(None, gt=0, lt=1, description="Allowed probability of waiting longer "
                                                                  "than max_wait_min at the peak hour (0-1).")
    specific_yield_kwh_per_kwp: float | None = Field(None, gt=0, description="Annual PV yield (kWh/kWp; §5: "
                                                                             "~1,010 for a Yizhuang roof).")
    canopy_share: float | None = Field(None, ge=0, le=1, description="Share of a lot's area under PV (0-1).")
    capex_per_kwh_wan: float | None = Field(None, ge=0, description="Battery capex (万元 per kWh).")
    h2_truck_speed_kmh: float | None = Field(None, gt=0, description="Truck speed turning flow minutes into km "
                                                                    "(km/h, guess 35).")
    v2g: bool = Field(False, description="Allow discharge to the grid (V2G / 放).")
    v2g_price_yuan_kwh: float | None = Field(None, gt=0, description="Price paid for energy discharged to the "
                                                                    "grid (元/kWh); needed with v2g.")

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
    enabled: bool = Field(True, description="Run the station siting (measure 10).")
    budget_wan: float = Field(gt=0, description="Total investment budget (万元).")
    capex_model: Literal["flat", "sized"] = Field(
        "flat", description="\"flat\": each station costs its technology's capex_wan; \"sized\": capex from each "
                            "candidate's sizes for the demand it could serve (docs/station_sizing.md).")
    sizing: Sizing = Field(default_factory=Sizing, description="Station sizing defaults ([siting.sizing]).")
    time_limit_s: float = Field(60.0, gt=0, description="Solver time limit (seconds).")
    mip_gap: float = Field(0.001, ge=0, lt=1, description="Relative optimality gap at which the solver stops (0-1).")
    technologies: dict[str, Technology] = Field(description="Station technologies by code ([siting.technologies.*]).")
    candidates: dict[str, CandidateSource] = Field(default_factory=dict,
                                                   description="Candidate site sources by name "
                                                               "([siting.candidates.*]).")
    ev_demand: list[DemandRule] = Field(default_factory=list,
                                        description="Rules turning POIs into EV charging demand "
                                                    "([[siting.ev_demand]]).")
    ev_clusters: int = Field(1500, gt=0, description="Number of clusters EV demand points are merged into.")
    ev_road_weight_per_km: float = Field(0.0, ge=0,
                                         description="Traffic proxy: EV demand weight per km of road (0: off).")
    pv_yield_kwh_per_m2: float = Field(200.0, gt=0, description="Annual PV yield per m² of roof (kWh/m²/yr).")
    pv_min_area_m2: float = Field(400.0, ge=0, description="Smallest roof area for a PV-storage candidate (m²).")
    h2_safety_m: float = Field(50.0, ge=0,
                               description="Safety distance of hydrogen stations from sensitive POIs (metres).")
    h2_sensitive_fclass: list[str] = Field(default_factory=lambda: ["school", "hospital", "kindergarten"],
                                           description="POI classes hydrogen stations keep `h2_safety_m` from.")
    hpc_default_headroom_kva: float = Field(2000.0, ge=0,
                                            description="Grid headroom assumed where none is known (kVA).")
    #: Only "none": the station plan counts a demand point as covered within the radius. Distance
    #: decay exists in the model library (:class:`planner.siting.Decay`) but the plan's tables
    #: (demand served, shares) do not apply it, so any other value is refused, not ignored.
    decay: Literal["none"] = Field("none", description="Only \"none\": demand within the radius counts as covered.")
    #: (west, south, east, north) or a polygon file + margin: candidates and EV demand outside are left out
    study_area: tuple[float, float, float, float] | StudyArea | None = Field(None,
                                                                             description="[west, south, east, north] "
                                                                                         "or a polygon file + margin "
                                                                                         "([siting.study_area]); "
                                                                                         "candidates and EV demand "
                                                                                         "outside are left out.")

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

    growth: dict[str, float | list[float]] = Field(default_factory=dict,
                                                   description="Per technology: an annual growth rate or one demand "
                                                               "factor per year.")
    weight: float = Field(1.0, gt=0, description="Weight of this scenario in the robustness analysis.")


class Programme(_Strict):
    """Budget frontier and phasing of the stations (``planner frontier`` / ``planner phase``).

    ``growth`` per technology: an annual rate (0.25 = +25 %/yr, compounded from the first
    year) or one demand factor per year. ``scenarios``: growth scenarios with weights for the
    robustness analysis.
    """

    years: list[int] = Field(default_factory=lambda: [2026, 2027, 2028], description="Years of the phased programme.")
    budgets_wan: list[float] = Field(default_factory=list, description="Budget per year (万元; one value per year).")
    growth: dict[str, float | list[float]] = Field(default_factory=dict,
                                                   description="Per technology: an annual rate (0.25 = +25 %/yr, "
                                                               "compounded) or one demand factor per year.")
    carry_over: bool = Field(False, description="Unspent budget is kept for later years.")
    frontier_budgets_wan: str | None = Field(None,
                                             description="Budgets of `planner frontier` as START:STOP:STEP (万元).")
    scenarios: dict[str, GrowthScenario] = Field(default_factory=dict,
                                                 description="Growth scenarios with weights for the robustness "
                                                             "analysis.")
    time_limit_s: float = Field(120.0, gt=0, description="Solver time limit of the programme (seconds).")

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
    basemap: Literal["osm", "amap", "tianditu", "none"] = Field("osm",
                                                                description="Background tiles: osm, amap, tianditu "
                                                                            "or none.")
    offline: bool = Field(True, description="Embed Leaflet and plugin assets in the map HTML (no CDN needed).")
    png: bool = Field(False, description="Also export each map as PNG (needs Chromium).")
    roads_base: bool = Field(True, description="Draw the road network as a base layer.")


class Report(_Strict):
    """``[report]``: write ``report/report.html`` and ``.pdf`` at the end of ``planner run``."""

    enabled: bool = Field(False, description="Write report/report.html (and .pdf) at the end of `planner run`.")
    pdf: bool = Field(True, description="Also print the report to PDF (needs Chromium).")
    map_snapshots: bool = Field(True, description="Include map images in the report (needs Chromium).")


class Meta(_Strict):
    name: str = Field(description="Short scenario name (used in the output folder).")
    title: str = Field("", description="Title shown on maps and reports.")
    language: Literal["zh", "en"] = Field("en", description="Language of tables, maps and reports: zh or en.")
    output: str = Field("../output/{name}", description="Output folder; `{name}` is replaced by the scenario name.")
    seed: int = Field(RANDOM_SEED, description="Random seed (clustering, heuristics).")
    note: str = Field("", description="Free text.")


class Scenario(_Strict):
    scenario: Meta = Field(description="Name, title, language and output folder ([scenario]).")
    network: Network = Field(description="The road network ([network]).")
    profiles: dict[str, ProfileSpec] = Field(default_factory=dict,
                                             description="Travel profiles by name ([profiles.*]; default offpeak, "
                                                         "peak, truck).")
    restrictions: list[Restriction] = Field(default_factory=list, description="Restricted areas ([[restrictions]]).")
    sites: Sites = Field(default_factory=Sites, description="Plants and suppliers ([sites.*]).")
    coverage: Coverage = Field(default_factory=Coverage, description="The supply-circle audit ([coverage]).")
    hourly: Hourly = Field(default_factory=Hourly, description="Coverage by departure hour ([hourly]).")
    siting: Siting | None = Field(None, description="Station siting ([siting]; None: no siting).")
    programme: Programme | None = Field(None, description="Budget frontier and phasing ([programme]).")
    maps: Maps = Field(default_factory=Maps, description="Map settings ([maps]).")
    report: Report = Field(default_factory=Report, description="Report settings ([report]).")

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


#: at most this many problems of one scenario file are listed in its error message
MAX_PROBLEMS = 10


def _walk(loc: tuple) -> tuple[list, list]:
    """Follow a pydantic error location through the schema.

    Returns the location without the union-member tags pydantic inserts (``StudyArea``,
    ``tuple[...]``) and the annotations of the table it ends in.
    """
    current: list = [Scenario]
    shown: list = []
    for part in loc:
        nxt: list = []
        tag = False
        for tp in _expand(current):
            if isinstance(tp, type) and issubclass(tp, BaseModel):
                if part in tp.model_fields:
                    nxt.append(tp.model_fields[part].annotation)
                elif part == tp.__name__:  # pydantic names the member of a union it tried
                    nxt.append(tp)
                    tag = True
            elif typing.get_origin(tp) is dict and isinstance(part, str):
                nxt.append(typing.get_args(tp)[1])
            elif typing.get_origin(tp) in (list, tuple):
                if isinstance(part, int):
                    nxt.extend(typing.get_args(tp)[:1])
                elif str(part).startswith(("list[", "tuple[")):
                    nxt.append(tp)
                    tag = True
        if not tag:
            shown.append(part)
        current = nxt
    return shown, current


def _field_names_at(loc: tuple) -> list[str]:
    """Key names the schema allows in the table at ``loc`` (a pydantic error location)."""
    return sorted({n for tp in _expand(_walk(loc)[1]) if isinstance(tp, type) and issubclass(tp, BaseModel)
                   for n, f in tp.model_fields.items() if not f.exclude})


def _expand(types_: list) -> list:
    """Annotations with unions (``X | None``) replaced by their members."""
    out: list = []
    for tp in types_:
        if typing.get_origin(tp) in (typing.Union, types.UnionType):
            out.extend(_expand(list(typing.get_args(tp))))
        else:
            out.append(tp)
    return out


def _problem(err: dict) -> tuple[str, str]:
    """(key, one-line message) of one pydantic error, with "did you mean" for unknown keys."""
    key = ".".join(str(p) for p in _walk(tuple(err["loc"]))[0]) or "(top level)"
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
        close = difflib.get_close_matches(str(err["loc"][-1]), _field_names_at(err["loc"][:-1]), n=1, cutoff=0.6)
        if close:
            msg += f" (did you mean '{close[0]}'?)"
    elif err["type"] == "missing":
        msg = "required key is missing"
    return key, msg


def scenario_from_dict(data: dict, base_dir=".", source_path=None) -> Scenario:
    """Validate a scenario given as a dict (e.g. built in a notebook).

    Raises
    ------
    ScenarioError
        One line naming every problem found (up to :data:`MAX_PROBLEMS`, then a count), each as
        ``key: message``; unknown keys get a "did you mean" suggestion from the schema.
    """
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(e) for e in exc.errors()]
        if len(problems) == 1:
            raise ScenarioError(problems[0][1], path=source_path, key=problems[0][0]) from None
        shown = "; ".join(f"{k}: {m}" for k, m in problems[:MAX_PROBLEMS])
        more = f"; (+{len(problems) - MAX_PROBLEMS} more)" if len(problems) > MAX_PROBLEMS else ""
        err = ScenarioError(f"{len(problems)} problems: {shown}{more}", path=source_path)
        err.key = problems[0][0]
        raise err from None
    sc.base_dir = Path(base_dir).resolve()
    sc.source_path = Path(source_path).resolve() if source_path else None
    return sc
