"""Reading a finished run folder (``run.json`` + result tables) for the report.

Only the files a run writes are read — the report does not depend on the pipeline's internals,
so it can be rebuilt from an old output folder or one copied from another machine.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd

from planner import sites
from planner.errors import InputError
from planner.outputs import RunLayout

__all__ = ["RunData", "read_run"]


@dataclass
class RunData:
    """The parts of a run folder the report uses (missing parts are ``None``)."""

    folder: Path
    manifest: dict
    plant_summary: pd.DataFrame | None = None
    supplier_times: pd.DataFrame | None = None
    sensitivity: pd.DataFrame | None = None
    lost_at_peak: pd.DataFrame | None = None
    data_edge: pd.DataFrame | None = None
    stations: pd.DataFrame | None = None
    siting_summary: dict | None = None
    #: ``siting/station_sizes.csv`` and the PV-storage daily profile charts (site_id, PNG bytes)
    station_sizes: pd.DataFrame | None = None
    station_profiles: list[tuple[str, bytes]] = field(default_factory=list)
    plants: pd.DataFrame | None = None
    isochrones: gpd.GeoDataFrame | None = None
    areas: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    #: ``programme/frontier/`` (``planner frontier``): the table, its summary and chart (PNG bytes)
    frontier: pd.DataFrame | None = None
    frontier_summary: dict | None = None
    frontier_chart: bytes | None = None
    #: ``programme/phasing/`` (``planner phase``): per-year figures, stations by opening year, summary
    phasing_years: pd.DataFrame | None = None
    phasing_stations: pd.DataFrame | None = None
    phasing_summary: dict | None = None

    @property
    def language(self) -> str:
        return (self.manifest.get("settings", {}).get("scenario", {}) or {}).get("language", "en")

    @property
    def settings(self) -> dict:
        return self.manifest.get("settings", {}) or {}


def _csv(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path, dtype={"plant_id": str, "supplier_id": str, "site_id": str})
    except Exception as exc:  # noqa: BLE001 — one line naming the file
        raise InputError(f"cannot read the table ({' '.join(str(exc).split())[:150]})", path=path) from None


def _json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"not valid JSON ({' '.join(str(exc).split())[:150]})", path=path) from None


def _plants(manifest: dict) -> pd.DataFrame | None:
    """The plant list named in the run's inputs (id, name, lon, lat), when it is still there."""
    entry = (manifest.get("inputs") or {}).get("plants")
    path = Path(entry["path"]) if entry else None
    if path is None or not path.is_file():
        return None
    spec = (manifest.get("settings", {}).get("sites") or {}).get("plants") or {}
    skip = {"path", "illustrative", "geocoder", "geocoder_city", "geocoder_url", "geocoder_qps"}
    kw = {k: v for k, v in spec.items() if k not in skip and v is not None}
    try:
        return pd.DataFrame(sites.read_sites(path, kind="plant", **kw).drop(columns="geometry", errors="ignore"))
    except InputError:  # e.g. a list placed by a geocoder: the report goes without plant positions
        return None


def read_run(folder) -> RunData:
    """Read a run output folder written by ``planner run``.

    Parameters
    ----------
    folder : str or Path
        The folder holding ``run.json``.

    Raises
    ------
    InputError
        No ``run.json`` (not a run folder) or an unreadable table, naming the file.
    """
    folder = Path(folder)
    mpath = folder / "run.json"
    if not mpath.is_file():
        raise InputError("not a run output folder (no run.json); run `planner run SCENARIO` first", path=folder)
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"run.json is not valid JSON ({exc})", path=mpath) from None
    cov, sit = folder / "coverage", folder / "siting"
    data = RunData(folder=folder, manifest=manifest,
                   plant_summary=_csv(cov / "plant_summary.csv"), supplier_times=_csv(cov / "supplier_times.csv"),
                   sensitivity=_csv(cov / "sensitivity.csv"), lost_at_peak=_csv(cov / "lost_at_peak.csv"),
                   data_edge=_csv(cov / "data_edge.csv"), stations=_csv(sit / "selected_sites.csv"))
    data.station_sizes = _csv(folder / RunLayout.STATION_SIZES)
    if (folder / RunLayout.STATION_PROFILES).is_dir():
        data.station_profiles = [(p.stem, p.read_bytes())
                                 for p in sorted((folder / RunLayout.STATION_PROFILES).glob("*.png"))]
    if (sit / "summary.json").is_file():
        data.siting_summary = json.loads((sit / "summary.json").read_text(encoding="utf-8"))
    data.frontier = _csv(folder / RunLayout.FRONTIER_TABLE)
    data.frontier_summary = _json(folder / RunLayout.FRONTIER_SUMMARY)
    if (folder / RunLayout.FRONTIER_CHART).is_file():
        data.frontier_chart = (folder / RunLayout.FRONTIER_CHART).read_bytes()
    data.phasing_years = _csv(folder / RunLayout.PHASING_YEARS)
    data.phasing_stations = _csv(folder / RunLayout.PHASING_STATIONS)
    data.phasing_summary = _json(folder / RunLayout.PHASING_SUMMARY)
    if (cov / "isochrones.gpkg").is_file():
        data.isochrones = gpd.read_file(cov / "isochrones.gpkg")
    if (folder / "areas.gpkg").is_file():
        import pyogrio

        for name, _ in pyogrio.list_layers(folder / "areas.gpkg"):
            data.areas[name] = gpd.read_file(folder / "areas.gpkg", layer=name)
    data.plants = _plants(manifest)
    return data
