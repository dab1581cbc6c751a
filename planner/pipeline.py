"""Running a scenario end to end: scenario → network → travel times → coverage | siting → outputs.

Each step is a plain function a notebook can call on its own; :func:`run` chains them and writes
one output folder (staged, swapped into place at the end) with a ``run.json`` manifest.
"""
from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from planner import outputs
from planner.errors import PlannerError
from planner.settings import OSM_ATTRIBUTION

log = logging.getLogger(__name__)


class Run:
    """Bookkeeping of one run: timings, counts, warnings and inputs for the manifest."""

    def __init__(self, quiet: bool = True):
        self.quiet = quiet
        self.timings: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.warnings: list[str] = []
        self.inputs: dict[str, str] = {}

    @contextmanager
    def step(self, name: str):
        t0 = time.perf_counter()
        if not self.quiet:
            print(f"… {name}", flush=True)
        yield
        self.timings[name] = round(time.perf_counter() - t0, 3)
        release_memory()
        if not self.quiet:
            print(f"✓ {name} ({self.timings[name]:.1f} s)", flush=True)

    def warn(self, message: str):
        self.warnings.append(message)
        if not self.quiet:
            print(f"warning: {message}", flush=True)

    def add_input(self, label: str, path: Path):
        path = Path(path)
        if path.exists() and path.is_file():
            self.inputs[label] = {"path": str(path), "sha256": outputs.file_sha256(path)}


#: glibc's ``malloc_trim`` once looked up (``False`` where it is missing)
_malloc_trim = None


def release_memory() -> None:
    """Hand memory freed by the last step back to the operating system.

    glibc keeps the memory of many small freed allocations (pandas and shapely objects, the
    MILP solver's search tree) in its arenas, so without this the resident size of a run stays
    at the level of its most demanding step for every later step (on the load benchmark, maps
    and exports ran at ~2 GB resident with under 1 GB in use). No-op where ``malloc_trim`` is
    missing (macOS, Windows, musl).
    """
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    global _malloc_trim
    if _malloc_trim is None:
        try:
            _malloc_trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


def load_network(sc, run: Run | None = None, refresh: bool = False):
    """The scenario's road network (cached under the scenario's ``cache_dir``)."""
    from planner.network import network_for_scenario

    run = run or Run()
    with run.step("road network"):
        net = network_for_scenario(sc, refresh=refresh)
    if sc.network.path:
        run.add_input("roads", sc.resolve(sc.network.path))
    for r in sc.restrictions:
        run.add_input(f"restriction:{r.name}", sc.resolve(r.path))
    run.counts["network_nodes"] = net.n_nodes
    run.counts["network_edges"] = len(net.edges)
    lc = net.report.get("largest_component")
    if lc and lc.get("edges"):
        run.warn(
            f"routing keeps the largest strongly connected part of the network: dropped {lc['edges']} edge(s), "
            f"{lc.get('km', 0):.0f} km ({100 * lc.get('share_km', 0):.1f} % of length)"
        )
    return net


def load_sites(sc, net=None, run: Run | None = None):
    """Plants and suppliers of the scenario as WGS-84 GeoDataFrames (``None`` when not configured)."""
    from planner import sites

    run = run or Run()
    out = {}
    for kind in ("plants", "suppliers"):
        spec = getattr(sc.sites, kind)
        if spec is None:
            out[kind] = None
            continue
        path = sc.resolve(spec.path)
        kw = spec.model_dump(exclude={"path", "illustrative"})
        gdf = sites.read_sites(path, kind=kind[:-1], **kw)
        run.add_input(kind, path)
        run.counts[kind] = len(gdf)
        if spec.illustrative:
            run.warn(f"{kind} list {path.name} is ILLUSTRATIVE (generated demo data, not real {kind})")
        if net is not None:
            _check_sites_against_network(gdf, spec, path, net, run)
        out[kind] = gdf
    return out["plants"], out["suppliers"]


def _check_sites_against_network(gdf, spec, path, net, run):
    from planner import sites
    from planner.routing import distance_to_network

    sites.check_in_area(gdf, net.bounds(), path)

    def dist(lon, lat):
        return distance_to_network(net, lon, lat)

    from planner.coords import from_wgs84

    lon0, lat0 = from_wgs84(gdf.lon.to_numpy(), gdf.lat.to_numpy(), spec.coord_system)  # as written in the file
    msg = sites.warn_if_wrong_system(lon0, lat0, dist, declared=spec.coord_system, path=path)
    if msg:
        run.warn(msg)


def run_coverage(sc, net, plants, suppliers, run: Run | None = None):
    """The supplier coverage audit with isochrones and the fit area."""
    from planner import coverage
    from planner.network import profiles_for_scenario

    run = run or Run()
    cov = sc.coverage
    with run.step("supplier coverage"):
        res = coverage.supplier_coverage(
            net, plants, suppliers, profiles=cov.profiles, threshold_min=cov.threshold_min,
            speed_scales=cov.speed_scales, max_snap_m=sc.network.max_snap_m,
            profile_specs=profiles_for_scenario(sc),
        )
    with run.step("isochrones"):
        res.isochrones = coverage.plant_isochrones(
            net, plants, cov.isochrone_profiles, cov.bands_min, buffer_m=cov.buffer_m, smooth_m=cov.smooth_m,
            max_snap_m=sc.network.max_snap_m,
        )
    with run.step("fit area"):
        land = None
        if cov.land is not None:
            import geopandas as gpd

            land = gpd.read_file(sc.resolve(cov.land.path))
        res.fit_area = coverage.fit_area(net, plants, cov.profiles[0], cov.threshold_min, cov.buffer_m, land,
                                         sc.network.max_snap_m)
    for w in res.warnings:
        run.warn(w)
    run.counts["supplier_plant_pairs"] = int(res.supplier_times.serves.sum() // max(len(cov.profiles), 1))
    return res


def write_coverage(res, folder: Path, sc=None, plants=None, suppliers=None, roads=None):
    """Coverage tables, isochrones and map under ``folder/coverage``."""
    d = Path(folder) / "coverage"
    d.mkdir(parents=True, exist_ok=True)
    cols = ["supplier_id", "plant_id", "profile", "minutes", "slack_minutes", "covered", "snap_m", "serves",
            "unreachable_cause", "blocked_by", "minutes_unrestricted"]
    outputs.write_csv(res.supplier_times[cols], d / "supplier_times.csv")
    outputs.write_csv(res.plant_summary, d / "plant_summary.csv")
    outputs.write_csv(res.lost_at_peak, d / "lost_at_peak.csv")
    outputs.write_csv(res.sensitivity, d / "sensitivity.csv")
    outputs.write_csv(res.breaking_scale, d / "breaking_scale.csv")
    if res.isochrones is not None:
        outputs.write_gpkg({"isochrones": res.isochrones}, d / "isochrones.gpkg")
    if res.fit_area is not None:
        outputs.write_gpkg({"fit_area": res.fit_area}, d / "fit_area.gpkg")
    return d


def run(sc, quiet: bool = False, refresh_network: bool = False, only: str | None = None) -> Path:
    """Run everything the scenario asks for; returns the output folder.

    Outputs are staged and swapped into place only when complete (see :mod:`planner.outputs`).
    """
    r = Run(quiet=quiet)
    t0 = time.perf_counter()
    if sc.source_path:
        r.add_input("scenario", sc.source_path)
    net = load_network(sc, r, refresh=refresh_network)
    plants, suppliers = load_sites(sc, net, r)
    results = {}
    if sc.coverage.enabled and only in (None, "coverage"):
        if plants is None or suppliers is None:
            raise PlannerError("coverage needs sites.plants and sites.suppliers in the scenario")
        results["coverage"] = run_coverage(sc, net, plants, suppliers, r)
    if sc.siting is not None and sc.siting.enabled and only in (None, "siting"):
        from planner.siting import plan

        results["siting"] = plan.run_siting(sc, net, plants, suppliers, r)
    final = sc.output_dir
    with outputs.staged_output(final) as stage:
        with r.step("write outputs"):
            if "coverage" in results:
                write_coverage(results["coverage"], stage)
            if "siting" in results:
                results["siting"].to_files(stage)
            _write_maps(sc, net, plants, suppliers, results, stage, r)
            _write_exports(results, stage, sc.scenario.language)
        manifest = {
            "scenario": sc.scenario.name,
            "title": sc.scenario.title,
            "attribution": OSM_ATTRIBUTION,
            "inputs": r.inputs,
            "settings": sc.model_dump(mode="json"),
            "network": outputs.clean_for_json(net.report),
            "counts": r.counts,
            "timings_s": r.timings,
            "total_s": round(time.perf_counter() - t0, 3),
            "warnings": r.warnings,
            "versions": outputs.package_versions(),
            "outputs": sorted(str(p.relative_to(stage)) for p in stage.rglob("*") if p.is_file()),
        }
        outputs.write_json(outputs.clean_for_json(manifest), stage / "run.json")
    if not quiet:
        print(f"outputs: {final}")
    return final


def _write_maps(sc, net, plants, suppliers, results, stage, r):
    from planner import reports

    with r.step("maps"):
        reports.write_scenario_maps(sc, net, plants, suppliers, results, stage)


def _write_exports(results, stage, language="en"):
    """One Excel workbook with every table, and one GeoPackage with every layer.

    The workbook's headers follow the scenario language (中文 or English); CSV files keep the
    stable English column names that scripts and reports rely on.
    """
    from planner.maps import column_headers

    tables, layers = {}, {}
    if "coverage" in results:
        res = results["coverage"]
        tables.update(res.tables())
        if res.isochrones is not None:
            layers["isochrones"] = res.isochrones
        if res.fit_area is not None:
            layers["fit_area"] = res.fit_area
    if "siting" in results:
        tables.update(results["siting"].tables())
        layers.update(results["siting"].layers())
    if tables:
        clean = {k: column_headers(v.replace([np.inf, -np.inf], np.nan), language) for k, v in tables.items()}
        outputs.write_excel(clean, Path(stage) / "results.xlsx")
    if layers:
        outputs.write_gpkg(layers, Path(stage) / "results.gpkg")
