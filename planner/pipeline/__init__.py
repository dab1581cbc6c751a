"""Running a scenario end to end: scenario → network → travel times → coverage | siting → outputs.

Each step is a plain function a notebook can call on its own; :func:`run` chains them and writes
one output folder (staged, swapped into place at the end) with a ``run.json`` manifest.
"""
from __future__ import annotations

import logging
import sys
import time
from functools import partial
from pathlib import Path

import geopandas as gpd

from planner import data_extent, outputs, site_checks, sites, supply_circle
from planner.errors import InputError, PlannerError
from planner.geocode import geocode_addresses
from planner.outputs import RunLayout
from planner.pipeline import write
from planner.pipeline._run import Run, release_memory
from planner.pipeline.network import network_for_scenario, profiles_for_scenario
from planner.pipeline.stations import run_siting, study_area_polygon
from planner.reporting import write_report
from planner.routing import distance_to_network
from planner.settings import OSM_ATTRIBUTION

__all__ = [
    "Run", "release_memory", "network_for_scenario", "profiles_for_scenario", "load_network", "load_sites",
    "run_coverage", "run_siting", "run", "check_sites_against_network",
]

log = logging.getLogger(__name__)


def load_network(sc, run: Run | None = None, refresh: bool = False):
    """The scenario's road network (cached under the scenario's ``cache_dir``)."""
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
    for msg in speed_warnings(net.report.get("speeds", {})):
        run.warn(msg)
    return net


def speed_warnings(shares: dict) -> list[str]:
    """Warnings for the profiles whose network length is driven mostly at the fallback speed."""
    mostly = {p: s for p, s in shares.items() if s.get("mostly_fallback")}
    if not mostly:
        return []
    worst = max(s["fallback"] for s in mostly.values())
    return [
        f"results under profile(s) {', '.join(mostly)} depend mostly on assumed speeds: up to "
        f"{100 * worst:.0f} % of the road length has no class or speed tag and is driven at the "
        "profile's fallback speed (see run.json network.speeds)"
    ]


def load_sites(sc, net=None, run: Run | None = None):
    """Plants and suppliers of the scenario as WGS-84 GeoDataFrames (``None`` when not configured)."""
    run = run or Run()
    out: dict = {}
    for kind in ("plants", "suppliers"):
        spec = getattr(sc.sites, kind)
        if spec is None:
            out[kind] = None
            continue
        path = sc.resolve(spec.path)
        kw = spec.model_dump(exclude={"path", "illustrative", "geocoder", "geocoder_city", "geocoder_url",
                                      "geocoder_qps"})
        # a list without an id column is numbered by row (ids "<kind>_<row>") with a warning
        gdf = sites.read_sites(path, kind=kind[:-1], geocode=_geocoder(sc, spec, path),
                               required_columns=None if spec.id_column else ("lon", "lat"), **kw)
        if "site_id" not in gdf.attrs["columns"]:
            run.warn(f"{path.name}: no id column found in the {kind} list; ids are the row numbers "
                     f"('{kind[:-1]}_<row>'): add an id column (or set sites.{kind}.id_column) "
                     "to keep ids stable when rows move")
        low = gdf.get("geocode_low_precision")
        if low is not None and low.any():
            rows = ", ".join(str(r) for r in gdf.source_row[low].head(10))
            run.warn(f"{path.name}: {int(low.sum())} {kind} geocoded only to an area or a road (low precision), "
                     f"row(s) {rows}: check them or add coordinates")
        run.add_input(kind, path)
        run.counts[kind] = len(gdf)
        if spec.illustrative:
            run.warn(f"{kind} list {path.name} is ILLUSTRATIVE (generated demo data, not real {kind})")
        if net is not None:
            check_sites_against_network(gdf, path, net, run)
        out[kind] = gdf
    return out["plants"], out["suppliers"]


def _geocoder(sc, spec, path):
    """The list's address geocoder (answers cached under the scenario's cache folder), or None."""
    if spec.geocoder is None:
        return None
    return partial(geocode_addresses, provider=spec.geocoder, city=spec.geocoder_city,
                   base_url=spec.geocoder_url, qps=spec.geocoder_qps, cache_dir=sc.cache_dir / "geocode",
                   where=str(path))


def check_sites_against_network(gdf, path, net, run: Run) -> None:
    """Refuse sites outside the network's area, after the coordinate-system check.

    The coordinate-system check runs first: a GCJ-02 list declared as WGS-84 lies ~500 m off
    and may fall outside the network's box, and the right advice then is the coordinate system,
    not "use a larger road network". Inside the box a better-fitting system is a warning.

    Raises
    ------
    InputError
        Sites outside the network's box (with the coordinate-system advice when another
        system fits the roads clearly better).
    """
    msg = site_checks.check_sites_coord_system(gdf, lambda lon, lat: distance_to_network(net, lon, lat), path=path)
    try:
        site_checks.check_in_area(gdf, net.bounds(), path)
    except InputError as exc:
        if msg:
            raise InputError(f"sites lie outside the road network area as declared; {msg}") from exc
        raise
    if msg:
        run.warn(msg)


def run_coverage(sc, net, plants, suppliers, run: Run | None = None):
    """The supplier coverage audit with isochrones and the fit area."""
    run = run or Run()
    cov = sc.coverage
    with run.step("supplier coverage"):
        res = supply_circle.supplier_coverage(
            net, plants, suppliers, profiles=cov.profiles, threshold_min=cov.threshold_min,
            speed_scales=cov.speed_scales, max_snap_m=sc.network.max_snap_m,
            profile_specs=profiles_for_scenario(sc),
        )
    with run.step("isochrones"):
        res.isochrones = supply_circle.plant_isochrones(
            net, plants, cov.isochrone_profiles, cov.bands_min, buffer_m=cov.buffer_m, smooth_m=cov.smooth_m,
            max_snap_m=sc.network.max_snap_m,
        )
        res.isochrones_display = supply_circle.display_version(res.isochrones, cov.buffer_m, net.metric_crs)
    with run.step("fit area"):
        land = None
        if cov.land is not None:
            land = gpd.read_file(sc.resolve(cov.land.path))
        res.fit_area = supply_circle.fit_area(net, plants, cov.profiles[0], cov.threshold_min, cov.buffer_m, land,
                                         sc.network.max_snap_m)
        res.fit_area_display = supply_circle.display_version(res.fit_area, cov.buffer_m, net.metric_crs)
    with run.step("data extent"):
        res.extent, res.data_edge, outside, warns = data_extent.audit(
            net.nodes.lon, net.nodes.lat, net.metric_crs, res.isochrones, suppliers, cov.threshold_min)
        res.plant_summary = res.plant_summary.merge(
            res.data_edge[["plant_id", "profile", "coverage_is_lower_bound"]], on=["plant_id", "profile"], how="left")
        res.warnings += warns
        run.counts["suppliers_outside_road_data"] = int(outside.sum()) if outside is not None else 0
    auto = [p for p in cov.profiles if p in sc.profiles and sc.profiles[p].vehicle == "autonomous"]
    if auto:
        res.door_to_door = supply_circle.door_to_door(res.supplier_times, auto)
    if sc.hourly.enabled and sc.hourly.vehicles:
        with run.step("coverage by hour"):
            profiles = profiles_for_scenario(sc)
            hc = sc.hourly
            res.hourly = supply_circle.coverage_by_hour(
                net, plants, suppliers, {v: profiles[v] for v in hc.vehicles}, hours=hc.hours, curve=hc.curve,
                peak_factors=hc.peak_factors or None, threshold_min=cov.threshold_min,
                max_snap_m=sc.network.max_snap_m,
            )
        run.counts["hourly_routings"] = res.hourly.routed
        res.warnings.extend(res.hourly.warnings)
    for w in res.warnings:
        run.warn(w)
    run.counts["supplier_plant_pairs"] = int(res.supplier_times.serves.sum() // max(len(cov.profiles), 1))
    return res


def run(sc, quiet: bool = False, refresh_network: bool = False, only: str | None = None,
        out: str | Path | None = None, net=None) -> Path:
    """Run everything the scenario asks for; returns the output folder.

    Outputs are staged and swapped into place only when complete (see :mod:`planner.outputs`);
    the previous outputs stay beside, in ``<folder>.previous``. A partial run (``only``) keeps
    the other part's results already in the folder.

    Parameters
    ----------
    sc : Scenario
        The loaded scenario.
    quiet : bool
        No progress output.
    refresh_network : bool
        Rebuild the cached network.
    only : {"coverage", "siting"}, optional
        Run one part only; the other part's folder is carried over from the previous outputs.
    out : path-like, optional
        Output folder (default: the scenario's ``[scenario] output``).
    net : RoadNetwork, optional
        The scenario's network, already loaded (a sweep's workers get it once).
    """
    if only not in (None, "coverage", "siting"):
        raise PlannerError(f"only must be 'coverage' or 'siting', not {only!r}")
    r = Run(quiet=quiet)
    t0 = time.perf_counter()
    if sc.source_path:
        r.add_input("scenario", sc.source_path)
    if net is None:
        net = load_network(sc, r, refresh=refresh_network)
    plants, suppliers = load_sites(sc, net, r)
    results = {}
    if sc.coverage.enabled and only in (None, "coverage"):
        if plants is None or suppliers is None:
            raise PlannerError("coverage needs sites.plants and sites.suppliers in the scenario")
        results["coverage"] = run_coverage(sc, net, plants, suppliers, r)
    if sc.siting is not None and sc.siting.enabled and only in (None, "siting"):
        results["siting"] = run_siting(sc, net, plants, suppliers, r)
    final = Path(out) if out is not None else sc.output_dir
    keep = {"coverage": (RunLayout.SITING,), "siting": (RunLayout.COVERAGE,), None: ()}[only] + (RunLayout.PROGRAMME,)
    with outputs.staged_output(final, keep=keep) as stage:
        with r.step("write outputs"):
            if "coverage" in results:
                write.write_coverage(results["coverage"], stage, plants)
            if "siting" in results:
                write.write_station_plan(results["siting"], stage)
            cov_res = results.get("coverage")
            extent = cov_res.extent if cov_res is not None else None
            if extent is None:
                extent = data_extent.network_extent(net.nodes.lon, net.nodes.lat, net.metric_crs)
            area = study_area_polygon(sc, net.metric_crs)
            areas = write.area_layers(extent, area)
            write.write_areas(extent, area, stage)
            _write_maps(sc, net, plants, suppliers, results, stage, r, areas)
            with r.step("exports"):
                write.write_exports(results, stage, sc.scenario.language, plants, suppliers, areas)
        manifest = {
            "scenario": sc.scenario.name,
            "title": sc.scenario.title,
            "only": only,
            "kept_from_previous_run": [str(k) for k in keep if (stage / k).exists()],
            "attribution": OSM_ATTRIBUTION,
            "inputs": r.inputs,
            "settings": sc.model_dump(mode="json"),
            "network": outputs.clean_for_json(net.report),
            "counts": r.counts,
            "station_sizing": ({k: v for k, v in results["siting"].sizing.items() if k != "warnings"}
                               if "siting" in results else None),
            "timings_s": r.timings,
            "total_s": round(time.perf_counter() - t0, 3),
            "warnings": r.warnings,
            "versions": outputs.package_versions(),
            "outputs": sorted(str(p.relative_to(stage)) for p in stage.rglob("*") if p.is_file()),
        }
        outputs.write_json(outputs.clean_for_json(manifest), stage / "run.json")
    if sc.report.enabled:
        try:
            with r.step("report"):
                write_report(final, pdf=sc.report.pdf, snapshots=sc.report.map_snapshots)
        except PlannerError as exc:  # the results are complete: a failed report must not fail the run
            print(f"warning: report not written ({exc}); run `planner report {final}` once fixed", file=sys.stderr)
    if not quiet:
        print(f"outputs: {final}")
    return final


def _write_maps(sc, net, plants, suppliers, results, stage, r, areas):
    with r.step("maps"):
        write.write_scenario_maps(sc, net, plants, suppliers, results, stage, study_area=areas.get("study_area"),
                                  extent=areas["data_extent"])
