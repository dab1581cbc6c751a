"""Every writer of a run in one place: coverage tables, the station plan and its problem, maps,
the Excel/GeoPackage exports. Paths come from :class:`planner.outputs.RunLayout`, which the
run-folder reader (:mod:`planner.compare.runs`) uses too. Draws with :mod:`planner.maps`; never
recomputes numbers.
"""
from __future__ import annotations

import datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from planner import data_extent, maps, outputs
from planner._io import atomic_path
from planner.maps import column_headers, label, siting_map, speed_note
from planner.maps.hourly_chart import hourly_coverage_chart
from planner.maps.siting import POPUP_SIZES
from planner.outputs import RunLayout
from planner.pipeline.network import profiles_for_scenario
from planner.stations.operation import daily_profile_chart
from planner.stations.plan import StationPlan
from planner.stations.problem import SitingProblem


def write_coverage(res, folder: Path, plants=None) -> Path:
    """Coverage tables and isochrones under ``folder/coverage`` (:class:`RunLayout`); with hourly
    results also ``by_hour.csv``, ``delivery_windows.csv`` and a chart per plant (named from
    ``plants`` when given)."""
    folder = Path(folder)
    (folder / RunLayout.COVERAGE).mkdir(parents=True, exist_ok=True)
    cols = ["supplier_id", "plant_id", "profile", "minutes", "slack_minutes", "covered", "snap_m", "serves",
            "unreachable_cause", "blocked_by", "minutes_unrestricted"]
    outputs.write_csv(res.supplier_times[cols], folder / RunLayout.SUPPLIER_TIMES)
    outputs.write_csv(res.plant_summary, folder / RunLayout.PLANT_SUMMARY)
    outputs.write_csv(res.lost_at_peak, folder / RunLayout.LOST_AT_PEAK)
    outputs.write_csv(res.sensitivity, folder / RunLayout.SENSITIVITY)
    outputs.write_csv(res.breaking_scale, folder / RunLayout.BREAKING_SCALE)
    if res.isochrones is not None:
        outputs.write_gpkg({"isochrones": res.isochrones}, folder / RunLayout.ISOCHRONES)
    if res.fit_area is not None:
        outputs.write_gpkg({"fit_area": res.fit_area}, folder / RunLayout.FIT_AREA)
    if res.data_edge is not None:
        outputs.write_csv(res.data_edge, folder / RunLayout.DATA_EDGE)
    if res.door_to_door is not None:
        outputs.write_csv(res.door_to_door, folder / RunLayout.DOOR_TO_DOOR)
    if res.hourly is not None:
        write_hourly(res.hourly, folder, plants)
    return folder / RunLayout.COVERAGE


def area_layers(extent, area) -> dict[str, gpd.GeoDataFrame]:
    """The ``areas.gpkg`` layers: ``data_extent`` and (when given) ``study_area``, WGS-84 frames."""
    layers = {"data_extent": data_extent.extent_layer(extent)}
    if area is not None:
        layers["study_area"] = gpd.GeoDataFrame({"name": ["study area"]}, geometry=[area], crs=4326)
    return layers


def write_areas(extent, area, stage: Path) -> Path:
    """``areas.gpkg``: the road data's extent and the siting study area (when given), for maps and reports."""
    return outputs.write_gpkg(area_layers(extent, area), Path(stage) / RunLayout.AREAS)


def write_hourly(hourly, folder: Path, plants=None) -> list[Path]:
    """``coverage/by_hour.csv``, ``coverage/delivery_windows.csv`` and ``coverage/by_hour_<plant>.png``."""
    folder = Path(folder)
    written = [outputs.write_csv(hourly.by_hour, folder / RunLayout.BY_HOUR),
               outputs.write_csv(hourly.delivery_windows, folder / RunLayout.DELIVERY_WINDOWS)]
    names = {}
    if plants is not None and "name" in plants:
        names = dict(zip(plants["site_id"].astype(str), plants["name"].astype(str)))
    for pid in hourly.by_hour.plant_id.astype(str).unique():
        fig = hourly_coverage_chart(hourly.by_hour, pid, title=f"{pid} {names.get(pid, '')}".strip(),
                                    threshold_min=hourly.threshold_min)
        path = folder / RunLayout.hourly_chart(pid)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")
        written.append(path)
    return written


def write_exports(results: dict, stage: Path, language: str = "en") -> None:
    """One Excel workbook with every table, and one GeoPackage with every layer.

    The workbook's headers follow the scenario language (中文 or English); CSV files keep the
    stable English column names that scripts and reports rely on.
    """
    tables, layers = {}, {}
    if "coverage" in results:
        res = results["coverage"]
        tables.update(res.tables())
        if res.hourly is not None:
            tables.update({"by_hour": res.hourly.by_hour, "delivery_windows": res.hourly.delivery_windows})
        if res.door_to_door is not None:
            tables["door_to_door"] = res.door_to_door
        if res.isochrones is not None:
            layers["isochrones"] = res.isochrones
        if res.fit_area_display is not None:  # the exact one is in coverage/fit_area.gpkg
            layers["fit_area"] = res.fit_area_display
    if "siting" in results:
        tables.update(results["siting"].tables())
        layers.update(results["siting"].layers())
    if tables:
        clean = {k: column_headers(v.replace([np.inf, -np.inf], np.nan), language) for k, v in tables.items()}
        outputs.write_excel(clean, Path(stage) / RunLayout.EXCEL)
    if layers:
        outputs.write_gpkg(layers, Path(stage) / RunLayout.GPKG)


def road_lines(net, max_edges: int | None = None):
    """The network's edges as a light GeoDataFrame for drawing (one direction per road)."""
    e = net.edges
    u, v = e.u.to_numpy(), e.v.to_numpy()
    keep = (u < v) | e.oneway.to_numpy(bool)  # a two-way road drawn once
    roads = e.loc[keep, ["road_class", "name", "geometry"]]
    if max_edges is not None and len(roads) > max_edges:
        roads = roads.iloc[:max_edges]
    return roads


def write_scenario_maps(sc, net, plants, suppliers, results, folder: Path, *,
                        study_area: gpd.GeoDataFrame | None = None,
                        extent: gpd.GeoDataFrame | None = None) -> list[Path]:
    """Write every map the scenario's results call for; returns the paths written.

    One coverage map holds a layer per profile (suppliers for every coverage profile, bands for
    the isochrone profiles; the first isochrone profile shows when it opens). Both maps draw the
    scenario's time-windowed restriction areas, the study area and the road data's extent (the
    ``areas.gpkg`` layers, passed in as ``study_area`` / ``extent``) and open on the study area.
    """
    folder = Path(folder)
    lang = sc.scenario.language
    cfg = sc.maps
    roads = road_lines(net) if cfg.roads_base or cfg.basemap == "none" else None
    used = [r for p in profiles_for_scenario(sc).values() for r in p.restrictions]
    restrictions = maps.restriction_frame(used, {r.name: r.note or "" for r in sc.restrictions}) if used else None
    stamp = f"{sc.scenario.name} · {datetime.date.today().isoformat()}"
    fake = [label(k, lang) for k in ("plants", "suppliers") if getattr(sc.sites, k) is not None
            and getattr(sc.sites, k).illustrative]
    profile_labels = {k: v.label for k, v in sc.profiles.items() if v.label}
    notes = [label("illustrative_note", lang).format(what=(" / " if lang == "zh" else " and ").join(fake))] if fake \
        else []
    speeds = net.report.get("speeds", {})
    written = []
    cov = results.get("coverage")
    if cov is not None:
        shown = (list(sc.coverage.isochrone_profiles) or list(sc.coverage.profiles))[0]
        m = maps.coverage_map(plants, suppliers, cov.supplier_times, cov.isochrones, profile=shown,
                              threshold_min=cov.threshold_min, language=lang, basemap=cfg.basemap, roads=roads,
                              title=f"{label('coverage_title', lang)} — {stamp}",
                              profile_labels=profile_labels, restrictions=restrictions,
                              note=notes + [speed_note({p: speeds[p] for p in sc.coverage.profiles if p in speeds},
                                                       lang, profile_labels)], study_area=study_area,
                              data_extent=extent)
        written.append(maps.save_map(m, folder / RunLayout.COVERAGE_MAP, offline=cfg.offline))
    sit = results.get("siting")
    if sit is not None:
        m = siting_map(selected_with_sizes(sit), sit.demand_served(), None, language=lang, basemap=cfg.basemap,
                       roads=roads, title=f"{label('siting_title', lang)} — {stamp}", restrictions=restrictions,
                       note=notes + [speed_note(speeds, lang, profile_labels)], study_area=study_area,
                       data_extent=extent)
        written.append(maps.save_map(m, folder / RunLayout.SITING_MAP, offline=cfg.offline))
    if cfg.png:
        for html in list(written):
            written.append(maps.export_png(html, html.with_suffix(".png")))
    return written


def write_problem(problem: SitingProblem, folder: Path) -> Path:
    """Write ``demand.csv``, ``candidates.csv``, ``coverage_pairs.csv``, ``conflicts.csv``, ``problem.json``."""
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    demand = pd.concat(
        [pd.DataFrame({"demand_id": g["demand_id"], "technology": t, "weight": g["weight"],
                       "raw_weight": g["raw_weight"], "lon": g.geometry.x, "lat": g.geometry.y})
         for t, g in problem.demand.items()], ignore_index=True)
    outputs.write_csv(demand, d / RunLayout.PROBLEM_DEMAND.name)
    cols = ["candidate_id", "name", "kind", "source", "lon", "lat", "existing", "competitor"] + [
        c for c in problem.candidates.columns if c.startswith(("eligible_", "required_", "capex_wan_"))]
    outputs.write_csv(pd.DataFrame(problem.candidates[[c for c in cols if c in problem.candidates]]),
                      d / "candidates.csv")
    outputs.write_csv(problem.coverage_pairs(), d / "coverage_pairs.csv")
    conf = [pd.DataFrame({"technology": t, "candidate_a": problem.candidates.candidate_id.to_numpy()[p[:, 0]],
                          "candidate_b": problem.candidates.candidate_id.to_numpy()[p[:, 1]]})
            for t, p in problem.conflicts.items() if len(p)]
    outputs.write_csv(pd.concat(conf, ignore_index=True) if conf else
                      pd.DataFrame(columns=["technology", "candidate_a", "candidate_b"]), d / "conflicts.csv")
    outputs.write_json({"budget_wan": problem.budget_wan, "technologies": problem.technologies,
                        "objective": "sum over technologies of weight x covered share of normalised demand",
                        "info": outputs.clean_for_json(problem.info)}, d / "problem.json")
    return d


def write_station_plan(plan: StationPlan, folder: Path) -> Path:
    """``siting/selected_sites.csv``, ``siting/summary.json`` and the exported problem."""
    folder = Path(folder)
    (folder / RunLayout.SITING).mkdir(parents=True, exist_ok=True)
    sel = plan.selected_sites()
    outputs.write_csv(pd.DataFrame(sel.drop(columns="geometry")), folder / RunLayout.SELECTED_SITES)
    outputs.write_json(outputs.clean_for_json(plan.summary()), folder / RunLayout.SITING_SUMMARY)
    write_problem(plan.problem, folder / RunLayout.PROBLEM)
    if plan.sizes is not None:
        outputs.write_csv(plan.sizes, folder / RunLayout.STATION_SIZES)
    write_station_profiles(plan, folder)
    return folder / RunLayout.SITING


#: Representative day of the daily profile charts: July (month index 6), the summer peak.
PROFILE_DAY = 6


def write_station_profiles(plan: StationPlan, folder: Path) -> list[Path]:
    """One daily profile chart (load, PV, battery, grid; July representative day) per PV-storage station."""
    written = []
    for sid, res in plan.dispatches.items():
        path = Path(folder) / RunLayout.station_profile(sid)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig = daily_profile_chart(res, day=PROFILE_DAY, title=f"{sid} — July representative day 7月典型日")
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")
        written.append(path)
    return written


def selected_with_sizes(plan: StationPlan):
    """The plan's selected sites with their sizes (plugs, kW, kVA, kg/d, kWp, kWh) for map popups."""
    sel = plan.selected_sites()
    if plan.sizes is not None and len(sel):
        cols = [c for c, _ in POPUP_SIZES]
        sizes = plan.sizes[["site_id", "technology", *cols]].astype({"site_id": str})
        sel = sel.astype({"site_id": str}).merge(sizes, on=["site_id", "technology"], how="left")
    return sel


def _write_tables(tables: dict, summary_json: dict, folder: Path) -> dict[str, Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, df in tables.items():
        if df is None:
            continue
        frame = pd.DataFrame(df.drop(columns="geometry", errors="ignore"))
        written[name] = outputs.write_csv(frame, folder / f"{name}.csv")
    written["summary_json"] = outputs.write_json(outputs.clean_for_json(summary_json), folder / "summary.json")
    return written


def write_comparison(comparison, folder, language: str = "en", basemap: str = "osm", roads=None,
                     offline: bool = True) -> dict[str, Path]:
    """Write a site-list or run comparison: its tables as CSV, ``summary.json`` and (when it has
    one) ``compare_map.html`` into ``folder``; returns name → path.

    Parameters
    ----------
    comparison : ListComparison or RunComparison
        Anything with ``tables()``, ``summary_json()`` and ``map(language, basemap, roads)``.
    """
    written = _write_tables(comparison.tables(), comparison.summary_json(), folder)
    m = comparison.map(language, basemap, roads)
    if m is not None:
        written["map"] = maps.save_map(m, Path(folder) / "compare_map.html", offline=offline)
    return written
