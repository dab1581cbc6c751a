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
from planner.maps.labels import COLUMN_KEYS, profile_label
from planner.maps.siting import POPUP_SIZES
from planner.outputs import RunLayout
from planner.pipeline.network import profiles_for_scenario
from planner.stations.operation import daily_profile_chart
from planner.stations.plan import StationPlan
from planner.stations.problem import SitingProblem


def write_coverage(res, folder: Path, plants=None) -> Path:
    """Coverage tables, isochrones and fit area under ``folder/coverage`` (:class:`RunLayout`; the areas
    as a display version and an ``*_exact`` one for analysis); with hourly
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
    # each area twice: the display version (maps, report, QGIS) and the exact one (analysis)
    for name, frame, path in (("isochrones", res.isochrones_display, RunLayout.ISOCHRONES),
                              ("isochrones_exact", res.isochrones, RunLayout.ISOCHRONES_EXACT),
                              ("fit_area", res.fit_area_display, RunLayout.FIT_AREA),
                              ("fit_area_exact", res.fit_area, RunLayout.FIT_AREA_EXACT)):
        if frame is not None:
            outputs.write_gpkg({name: frame}, folder / path)
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


#: Number format kind (:data:`planner.outputs.EXCEL_NUMBER_FORMATS`) of the exported columns.
_PERCENT = ("share", "share_covered", "weighted_share_covered", "gap")
_MINUTES = ("minutes", "slack_minutes", "minutes_unrestricted", "median_minutes", "max_minutes", "threshold_min")
_WAN = ("capex_wan", "budget", "budget_used")


def _kind(column: str) -> str | None:
    if column in _PERCENT:
        return "percent"
    if column in _MINUTES or column.startswith("minutes_"):
        return "minutes"
    return "wan" if column in _WAN else None


def _names_beside(df: pd.DataFrame, id_col: str, name_col: str, names: dict | None) -> pd.DataFrame:
    """``df`` with ``name_col`` (looked up in ``names``) right after ``id_col``."""
    if names is None or id_col not in df.columns:
        return df
    df = df.drop(columns=name_col, errors="ignore")
    df.insert(df.columns.get_loc(id_col) + 1, name_col, df[id_col].astype(str).map(names))
    return df


def _sheet(df: pd.DataFrame, language: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """A table for the workbook: infinite minutes as "unreachable" (不可达), other infinities blank,
    headers and values (profiles, technologies, yes/no) in ``language``; and its header -> format kind."""
    df = pd.DataFrame(df).copy()
    unreachable = label("unreachable", language)
    for col in df.columns:
        if df[col].dtype == object and df[col].map(type).isin([bool, np.bool_]).any():  # bool with gaps
            df[col] = [label("yes" if v else "no", language) if isinstance(v, (bool, np.bool_)) else v
                       for v in df[col]]
        if pd.api.types.is_float_dtype(df[col]):
            inf = np.isinf(df[col].to_numpy())
            if inf.any():
                df[col] = df[col].astype(object).where(~inf, unreachable if _kind(col) == "minutes" else np.nan)
    kinds = {c: _kind(c) for c in df.columns}
    timed = [c for c in df.columns if c.startswith("minutes_") and c not in COLUMN_KEYS]
    out = column_headers(df, language, translate_values=True)
    out = out.rename(columns={c: f"{label('minutes', language)} ({profile_label(c[8:], language)})" for c in timed})
    headers = dict(zip(df.columns, out.columns))
    return out, {headers[c]: k for c, k in kinds.items() if k}


def export_tables(results: dict, language: str = "en", plants: pd.DataFrame | None = None,
                  suppliers: pd.DataFrame | None = None) -> tuple[dict[str, pd.DataFrame], dict[str, dict]]:
    """The workbook's sheets: sheet name -> table, and sheet name -> {header -> number format kind}.

    Sheet names and headers are in ``language``; names stand beside ids (supplier, plant,
    station); the coverage sheet holds the served supplier → plant pairs, the pairs not served
    have their own sheet.
    """
    plant_names = None if plants is None else dict(zip(plants.site_id.astype(str), plants.name))
    supplier_names = None if suppliers is None else dict(zip(suppliers.site_id.astype(str), suppliers.name))
    raw: dict[str, pd.DataFrame] = {}
    if "coverage" in results:
        t = dict(results["coverage"].tables())
        st = _names_beside(_names_beside(t.pop("supplier_times"), "supplier_id", "supplier_name", supplier_names),
                           "plant_id", "plant_name", plant_names)
        served = st["serves"].to_numpy(bool)
        raw["sheet_coverage"] = st[served].drop(columns="serves")
        raw["sheet_not_served"] = st[~served].drop(columns="serves")
        for key, df in t.items():
            df = _names_beside(df, "supplier_id", "supplier_name", supplier_names)
            raw[f"sheet_{key}"] = _names_beside(df, "plant_id", "plant_name", plant_names)
        cov = results["coverage"]
        if cov.hourly is not None:
            raw["sheet_by_hour"] = _names_beside(cov.hourly.by_hour, "plant_id", "plant_name", plant_names)
            raw["sheet_delivery_windows"] = _names_beside(
                _names_beside(cov.hourly.delivery_windows, "supplier_id", "supplier_name", supplier_names),
                "plant_id", "plant_name", plant_names)
        if cov.door_to_door is not None:
            raw["sheet_door_to_door"] = _names_beside(
                _names_beside(cov.door_to_door, "supplier_id", "supplier_name", supplier_names),
                "plant_id", "plant_name", plant_names)
    if "siting" in results:
        t = results["siting"].tables()
        sel = t["selected_sites"].rename(columns={"capex": "capex_wan"})
        # the readable station name ("near <road>" for an unnamed lot) stands beside the id
        sel = (sel.drop(columns="name").rename(columns={"display_name": "site_name"}) if "display_name" in sel
               else sel.rename(columns={"name": "site_name"}))
        raw["sheet_selected_sites"] = _names_beside(sel, "site_id", "site_name",
                                                    dict(zip(sel.site_id.astype(str), sel.site_name)))
        raw["sheet_siting_summary"] = t["siting_summary"]
        if "station_sizes" in t:
            raw["sheet_station_sizes"] = t["station_sizes"]
    tables, formats = {}, {}
    for key, df in raw.items():
        name = label(key, language)
        tables[name], formats[name] = _sheet(df, language)
    return tables, formats


def supplier_layer(suppliers: gpd.GeoDataFrame, supplier_times: pd.DataFrame) -> gpd.GeoDataFrame:
    """Suppliers with, per profile, ``status_<profile>`` (covered / partly / not covered over the
    plants each serves) and ``minutes_<profile>_<plant_id>`` to each served plant (NaN = unreachable
    or not served)."""
    out = gpd.GeoDataFrame(suppliers.drop(columns=["plants", "source_row"], errors="ignore").copy())
    if "plants" in suppliers:
        out["plants"] = [";".join(map(str, p)) if isinstance(p, (tuple, list)) else "" for p in suppliers.plants]
    st = supplier_times[supplier_times.serves.to_numpy(bool)]
    sid = out.site_id.astype(str)
    for profile, g in st.groupby("profile", sort=False):
        n = g.groupby(g.supplier_id.astype(str)).covered.agg(["size", "sum"])
        status = np.where(n["sum"] == n["size"], "covered", np.where(n["sum"] == 0, "not covered", "partly"))
        out[f"status_{profile}"] = sid.map(dict(zip(n.index, status))).to_numpy()
        for plant, gp in g.groupby(g.plant_id.astype(str), sort=False):
            minutes = gp.minutes.to_numpy(float)
            minutes = np.where(np.isfinite(minutes), minutes, np.nan)
            out[f"minutes_{profile}_{plant}"] = sid.map(dict(zip(gp.supplier_id.astype(str), minutes))).to_numpy()
    return out


def export_layers(results: dict, plants: gpd.GeoDataFrame | None = None, suppliers: gpd.GeoDataFrame | None = None,
                  areas: dict | None = None) -> dict[str, gpd.GeoDataFrame]:
    """The GeoPackage's layers, each once: plants, suppliers (coverage status and minutes per
    profile), candidates, stations (selected sites), demand, isochrones and fit area (display
    versions), study area and data extent."""
    layers: dict[str, gpd.GeoDataFrame] = {}
    if plants is not None:
        layers["plants"] = gpd.GeoDataFrame(plants.drop(columns=["plants", "source_row"], errors="ignore"))
    cov = results.get("coverage")
    if suppliers is not None:
        layers["suppliers"] = supplier_layer(suppliers, cov.supplier_times) if cov is not None else \
            gpd.GeoDataFrame(suppliers.drop(columns=["plants", "source_row"], errors="ignore"))
    sit = results.get("siting")
    if sit is not None:
        cand = sit.problem.candidates
        layers["candidates"] = gpd.GeoDataFrame(cand[[c for c in cand.columns if c != "node"]])
        layers["stations"] = sit.selected_sites()
        layers["demand"] = sit.demand_served()
    if cov is not None:
        # display versions; the exact ones are coverage/isochrones_exact.gpkg and fit_area_exact.gpkg
        if cov.isochrones_display is not None:
            layers["isochrones"] = cov.isochrones_display
        if cov.fit_area_display is not None:
            layers["fit_area"] = cov.fit_area_display
    layers.update(areas or {})
    return layers


def write_exports(results: dict, stage: Path, language: str = "en", plants: gpd.GeoDataFrame | None = None,
                  suppliers: gpd.GeoDataFrame | None = None, areas: dict | None = None) -> None:
    """One Excel workbook with every table (:func:`export_tables`), and one GeoPackage with every
    layer (:func:`export_layers`).

    The workbook's sheet names and headers follow the scenario language (中文 or English); CSV
    files and GeoPackage columns keep the stable English names that scripts and reports rely on.
    """
    tables, formats = export_tables(results, language, plants, suppliers)
    if tables:
        outputs.write_excel(tables, Path(stage) / RunLayout.EXCEL, formats,
                            attribution_sheet=label("sheet_attribution", language),
                            attribution_header=label("source", language))
    layers = export_layers(results, plants, suppliers, areas)
    if layers:
        outputs.write_gpkg(layers, Path(stage) / RunLayout.GPKG)


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
        m = maps.coverage_map(plants, suppliers, cov.supplier_times, cov.isochrones_display, profile=shown,
                              threshold_min=cov.threshold_min, language=lang, basemap=cfg.basemap, roads=roads,
                              title=f"{label('coverage_title', lang)} — {stamp}",
                              profile_labels=profile_labels, restrictions=restrictions,
                              note=notes + [speed_note({p: speeds[p] for p in sc.coverage.profiles if p in speeds},
                                                       lang, profile_labels)], study_area=study_area,
                              data_extent=extent)
        written.append(maps.save_map(m, folder / RunLayout.COVERAGE_MAP, offline=cfg.offline))
        del m  # its rendered page (tens of megabytes at thousands of suppliers) before the next map
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
    """Write ``demand.csv``, ``candidates.csv``, ``coverage_pairs.csv.gz``, ``conflicts.csv``, ``problem.json``."""
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
    outputs.write_csv(problem.coverage_pairs(), d / RunLayout.PROBLEM_PAIRS.name)
    conf = [pd.DataFrame({"technology": t, "candidate_a": problem.candidates.candidate_id.to_numpy()[p[:, 0]],
                          "candidate_b": problem.candidates.candidate_id.to_numpy()[p[:, 1]]})
            for t, p in problem.conflicts.items() if len(p)]
    outputs.write_csv(pd.concat(conf, ignore_index=True) if conf else
                      pd.DataFrame(columns=["technology", "candidate_a", "candidate_b"]), d / "conflicts.csv")
    outputs.write_json({"budget_wan": problem.budget_wan,
                        "technologies": {t: s.model_dump(mode="json") for t, s in problem.technologies.items()},
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
