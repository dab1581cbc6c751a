"""Station siting map: selected H2 / high-power-charging / PV-storage sites and demand."""
from __future__ import annotations

import math
from collections.abc import Sequence

import folium
import numpy as np
import pandas as pd
import shapely

from planner.maps._common import (
    UNSERVED_COLOUR,
    GeoJsonLayer,
    LegendBuilder,
    as_wgs84,
    bounds_of,
    esc,
    feature_collection,
    fmt_minutes,
    fmt_num,
    fmt_share,
    layer_names,
    popup_table,
    require_columns,
    shift,
    site_icon_html,
    site_marker,
    str_ids,
    tech_style,
    tooltip_for,
)
from planner.maps.areas import area_layers, area_legend, fit_frame
from planner.maps.base import MAX_ROAD_VERTICES, base_map
from planner.maps.labels import check_language, label, technology_label
from planner.maps.restrictions import restriction_layer, restriction_legend
from planner.vocab import STATION_TECHNOLOGIES, tech_order

__all__ = ["siting_map", "demand_figures", "TECHNOLOGIES"]

#: Technology codes in drawing / legend order.
TECHNOLOGIES = STATION_TECHNOLOGIES


#: Station-size columns shown in a site's popup (``siting/station_sizes.csv``) and their decimals.
POPUP_SIZES = (("plugs", 0), ("charger_kw", 0), ("transformer_kva", 0), ("h2_kg_day", 0), ("pv_kwp", 0),
               ("storage_kwh", 0), ("capex_wan", 0))


def _site_name(row) -> str:
    """``display_name`` (own name or "near <road>"), else ``name``, else the id."""
    for key in ("display_name", "name"):
        value = row.get(key)
        if isinstance(value, str) and value:
            return value
    return str(row.get("site_id"))


def _site_popup(row, language: str) -> str:
    sid = str(row.get("site_id"))
    fields = [
        (label("site_id", language), sid),
        (label("technology", language), technology_label(row.get("technology"), language)),
    ]
    if "capex" in row:
        fields.append((label("capex_wan", language), fmt_num(row["capex"], 0)))
    if "power_kw" in row:
        fields.append((label("power_kw", language), fmt_num(row["power_kw"], 0)))
    if "radius_min" in row:
        fields.append((label("radius_min", language), fmt_minutes(row["radius_min"], language, "–")))
    if "demand_served" in row:
        fields.append((label("demand_served", language), fmt_num(row["demand_served"], 1)))
    if "share" in row:
        fields.append((label("share", language), fmt_share(row["share"])))
    for col, digits in POPUP_SIZES:  # station sizes (issue 13), when the table carries them
        v = row.get(col)
        if isinstance(v, (int, float, np.number)) and math.isfinite(v):
            fields.append((label(col, language), fmt_num(v, digits)))
    lon, lat = row.get("lon"), row.get("lat")
    try:
        lon, lat = float(lon), float(lat)
        if math.isfinite(lon) and math.isfinite(lat):
            fields.append(("WGS-84", f"{lon:.6f}, {lat:.6f}"))
    except (TypeError, ValueError):
        pass
    return popup_table(_site_name(row), fields)


def demand_figures(demand) -> pd.DataFrame:
    """Per technology: demand points, served points and the served share of demand weight.

    The weighted share is the ``covered_share`` of the siting ``summary.json`` when ``served``
    is the solver's coverage (plain coverage, no decay).

    Returns
    -------
    pandas.DataFrame
        Indexed by technology: ``points``, ``served``, ``served_share``.
    """
    if demand is None or not len(demand):
        return pd.DataFrame(columns=["points", "served", "served_share"])
    w = pd.to_numeric(demand["weight"], errors="coerce").astype(float).fillna(0.0)
    served = demand["served"].astype(bool)
    df = pd.DataFrame({"technology": demand["technology"].astype(str).to_numpy(), "w": w.to_numpy(),
                       "ws": (w * served).to_numpy(), "served": served.to_numpy()})
    g = df.groupby("technology", sort=False).agg(points=("w", "size"), served=("served", "sum"), w=("w", "sum"),
                                                 ws=("ws", "sum"))
    with np.errstate(invalid="ignore", divide="ignore"):
        g["served_share"] = g["ws"] / g["w"]
    return g.loc[tech_order(g.index), ["points", "served", "served_share"]]


def _point(geom):
    return geom if geom.geom_type == "Point" else geom.representative_point()


def siting_map(selected, demand, service_areas=None, language: str = "en",
               basemap: str = "osm", roads=None, *, tianditu_token: str | None = None,
               title: str | None = None, minimap: bool = False, measure: bool = False,
               max_road_vertices: int = MAX_ROAD_VERTICES, restrictions=None,
               note: str | Sequence[str] | None = None, study_area=None, data_extent=None) -> folium.Map:
    """Map of a siting result: selected stations, demand served/unserved, service areas.

    One toggleable layer per technology for stations, for demand and for service areas.
    Stations are badges with a colour and text per technology (H₂ blue circle, HPC orange
    square, PV green); popups give CAPEX, demand served and share. Demand points are
    circles sized by weight, filled with the technology colour when served and red with a
    ring in the technology colour when not. Technologies sharing the same demand points (EV
    demand of high-power charging and PV-storage) get their own layers, and only the first is
    on when the map opens, so no layer hides another's figures; the legend gives per
    technology the served points and the served share of demand weight (``covered_share``
    of ``siting/summary.json``), each row shown while its technology's demand layer is on
    (likewise the station, service-area and outline rows follow their layers).

    Parameters
    ----------
    selected : GeoDataFrame
        ``site_id``, ``technology`` (``h2`` | ``hpc`` | ``pv_storage``), ``name``, ``lon``,
        ``lat``, ``capex`` (万元), ``demand_served``, ``share``, geometry (WGS-84); optional
        ``display_name`` (shown instead of ``name``), ``power_kw`` (kW), ``radius_min`` (minutes).
    demand : GeoDataFrame or None
        ``demand_id``, ``technology``, ``weight``, ``served`` (bool), geometry. May be empty
        or None (stations only).
    service_areas : GeoDataFrame, optional
        ``site_id``, ``technology``, polygon geometry.
    language : {"en", "zh"}
    basemap : {"osm", "amap", "tianditu", "none"}
    roads : GeoDataFrame, optional
        Road network for ``basemap="none"``.
    tianditu_token, minimap, measure, max_road_vertices
        Passed to :func:`~planner.maps.base.base_map`.
    title : str, optional
        Legend title.
    restrictions : GeoDataFrame, optional
        Time-windowed restriction polygons (see
        :func:`~planner.maps.restrictions.restriction_layer`), drawn as their own layer.
    note : str or sequence of str, optional
        Line(s) under the legend title, e.g. that the inputs are illustrative.
    study_area, data_extent : GeoDataFrame, optional
        The study area (e.g. the E-Town outline + margin) and the road data's extent, drawn as
        toggleable outlines (:func:`~planner.maps.areas.area_layers`); the map opens fitted on
        the study area when it is given, else on all the data.

    Returns
    -------
    folium.Map
    """
    check_language(language)
    if demand is None:
        import geopandas as gpd

        demand = gpd.GeoDataFrame({"demand_id": [], "technology": [], "weight": [],
                                   "served": []}, geometry=[], crs="EPSG:4326")
    require_columns(selected, ["site_id", "technology", "name"], "selected")
    require_columns(demand, ["demand_id", "technology", "weight", "served"],
                    "demand")
    selected = as_wgs84(selected, "selected").copy()
    demand = as_wgs84(demand, "demand").copy()
    selected["site_id"] = str_ids(selected["site_id"]).to_numpy()
    selected["technology"] = selected["technology"].astype(str)
    demand["technology"] = demand["technology"].astype(str)
    if service_areas is not None:
        require_columns(service_areas, ["site_id", "technology"], "service_areas")
        service_areas = as_wgs84(service_areas, "service_areas").copy()
        service_areas["site_id"] = str_ids(service_areas["site_id"]).to_numpy()
        service_areas["technology"] = service_areas["technology"].astype(str)

    m = base_map(bounds_of(*fit_frame(study_area, selected, demand, service_areas)), language, basemap, roads,
                 tianditu_token=tianditu_token, minimap=minimap, measure=measure,
                 max_road_vertices=max_road_vertices)
    system = m._planner_context.system
    sel_d = shift(selected, system)
    dem_d = shift(demand, system)
    names = {sid: _site_name(r) for sid, (_, r) in zip(selected["site_id"], selected.iterrows())}
    techs = tech_order(list(selected["technology"]) + list(demand["technology"]) +
                        (list(service_areas["technology"]) if service_areas is not None else []))

    # ---- service areas (bottom) -------------------------------------------------------
    area_by_tech: dict[str, GeoJsonLayer] = {}
    if service_areas is not None and len(service_areas):
        sa_d = shift(service_areas, system)
        for tech in techs:
            sub = sa_d[sa_d["technology"] == tech]
            if sub.empty:
                continue
            colour = tech_style(tech)[0]
            props = []
            for r in sub.itertuples(index=False):
                nm = names.get(r.site_id, r.site_id)
                props.append({"tip": f"<b>{esc(nm)}</b><br>"
                                     f"{esc(label('service_areas', language))} · "
                                     f"{esc(technology_label(tech, language))}"})
            area_by_tech[tech] = GeoJsonLayer(
                feature_collection(sub.geometry.values, props),
                name=esc(f"{label('service_areas', language)} – "
                         f"{technology_label(tech, language)}"),
                style_function=lambda f, c=colour: {"color": c, "weight": 1.2, "opacity": 0.8,
                                                    "fillColor": c, "fillOpacity": 0.12},
                tooltip=tooltip_for("tip"),
            ).add_to(m)

    # ---- demand: one layer per technology ---------------------------------------------
    # Technologies often share demand points (PV-storage serves the EV points HPC serves). Two
    # layers on the same points would hide one behind the other, so a layer whose points repeat
    # an earlier layer's starts switched off; its legend says so.
    figures = demand_figures(demand)
    hidden: dict[str, str] = {}
    demand_by_tech: dict[str, GeoJsonLayer] = {}
    if len(demand):
        w = pd.to_numeric(demand["weight"], errors="coerce").astype(float).fillna(1.0)
        wmax = float(w.max()) if w.max() > 0 else 1.0
        radius = (3.0 + 5.0 * np.sqrt(np.clip(w.to_numpy() / wmax, 0, 1))).round(1)
        served = demand["served"].astype(bool).to_numpy()
        seen: dict[bytes, str] = {}
        for tech in techs:
            mask = (demand["technology"] == tech).to_numpy()
            if not mask.any():
                continue
            colour = tech_style(tech)[0]
            idx = np.flatnonzero(mask)
            where = np.sort(np.round(shapely.get_coordinates(demand.geometry.values[idx]), 6), axis=0).tobytes()
            if where in seen:
                hidden[tech] = seen[where]
            else:
                seen[where] = tech
            # points at one place (e.g. the flows of a supplier serving several plants) share one
            # marker listing each, so an unserved one never hides a served one
            xy = np.round(shapely.get_coordinates(demand.geometry.values[idx]), 6)
            _, group = np.unique(xy, axis=0, return_inverse=True)
            groups = [idx[group.ravel() == k] for k in range(group.max() + 1)]
            n_served = [int(served[g].sum()) for g in groups]
            order = np.argsort([n == len(g) for n, g in zip(n_served, groups)], kind="stable")[::-1]
            tech_name = technology_label(tech, language)
            props, where = [], []
            for k in order:  # fully served first, anything unserved on top
                g, n_ok = groups[k], n_served[k]
                lines = [f"<b>{esc(label('demand_point', language))} {esc(demand['demand_id'].iloc[i])}</b> · "
                         f"{esc(label('weight', language))} {esc(fmt_num(demand['weight'].iloc[i], 2))} · "
                         f"{esc(label('served' if served[i] else 'unserved', language))}" for i in g]
                state = "served" if n_ok == len(g) else "unserved" if n_ok == 0 else "partly"
                props.append({
                    "tip": "<br>".join([esc(tech_name)] + lines),
                    "fill": colour if state != "unserved" else UNSERVED_COLOUR,
                    "stroke": "#ffffff" if state == "served" else UNSERVED_COLOUR if state == "partly" else colour,
                    "weight": 1 if state == "served" else 2.5,
                    "radius": float(radius[g].max()),
                    "opacity": 0.75 if state == "served" else 0.95,
                    # machine-readable copy of what the marker shows
                    "technology": tech, "demand_ids": [str(demand["demand_id"].iloc[i]) for i in g],
                    "served": [bool(served[i]) for i in g], "demand_weight": [float(w.iloc[i]) for i in g],
                })
                where.append(g[0])
            idx = np.asarray(where, dtype=int)
            demand_by_tech[tech] = GeoJsonLayer(
                feature_collection([_point(g) for g in dem_d.geometry.values[idx]], props),
                name=esc(f"{label('demand', language)} – {tech_name}"),
                show=tech not in hidden,
                marker=folium.CircleMarker(radius=4, fill=True),
                style_function=lambda f: {
                    "radius": f["properties"]["radius"],
                    "fillColor": f["properties"]["fill"],
                    "color": f["properties"]["stroke"],
                    "weight": f["properties"]["weight"],
                    "fillOpacity": f["properties"]["opacity"],
                    "opacity": 1.0,
                },
                tooltip=tooltip_for("tip"),
            ).add_to(m)

    # ---- selected stations (top) ------------------------------------------------------
    stations_by_tech: dict[str, folium.FeatureGroup] = {}
    for tech in techs:
        mask = (selected["technology"] == tech).to_numpy()
        if not mask.any():
            continue
        group = folium.FeatureGroup(
            name=esc(f"{label('selected', language)} – {technology_label(tech, language)}"),
            show=True)
        for i in np.flatnonzero(mask):
            row = selected.iloc[i]
            pt = _point(sel_d.geometry.values[i])
            nm = _site_name(row)
            tip = (f"<b>{esc(nm)}</b><br>{esc(technology_label(tech, language))}")
            if "demand_served" in row:
                tip += (f"<br>{esc(label('demand_served', language))}: "
                        f"{esc(fmt_num(row['demand_served'], 1))}")
            site_marker(pt.y, pt.x, tech, tip, _site_popup(row, language)).add_to(group)
        stations_by_tech[tech] = group.add_to(m)

    # ---- legend: each part shows while its layer(s) are on ------------------------------
    def on(table: dict, tech: str) -> tuple:
        return (table[tech],) if tech in table else ()

    lg = LegendBuilder(title if title is not None else label("siting_title", language))
    lg.notes(note)
    with lg.follows(*stations_by_tech.values()):
        lg.section(label("technology", language))
        for tech in techs:
            with lg.follows(*on(stations_by_tech, tech)):
                lg.raw_icon(site_icon_html(tech), technology_label(tech, language))
    if len(figures):
        with lg.follows(*demand_by_tech.values()):
            lg.section(label("demand", language))
            for tech in figures.index:
                tech_name = technology_label(tech, language)
                with lg.follows(*on(demand_by_tech, tech)):
                    lg.swatch(f"{tech_name} – {label('served', language)}", tech_style(tech)[0], "dot",
                              stroke="#ffffff", opacity=0.8)
                    lg.swatch(f"{tech_name} – {label('unserved', language)}", UNSERVED_COLOUR, "dot",
                              stroke=tech_style(tech)[0], stroke_width=2)
                    lg.swatch(f"{tech_name} – {label('partly_served', language)}", tech_style(tech)[0], "dot",
                              stroke=UNSERVED_COLOUR, stroke_width=2)
            lg.section(label("unserved_means", language))
            rows = []
            for t, f in figures.iterrows():  # a row per technology, shown while its demand layer is on
                row_on = {"layers": layer_names(demand_by_tech[t])} if t in demand_by_tech else {}
                rows.append([(technology_label(t, language), row_on),
                             (f"{int(f['served'])} / {int(f['points'])}",
                              {"technology": t, "served": int(f["served"]), "points": int(f["points"]), **row_on}),
                             (fmt_share(f["served_share"]),
                              {"technology": t, "share": f"{f['served_share']:.12g}", **row_on})])
            lg.table([label("technology", language), label("served", language), label("of_demand", language)],
                     rows)
        for tech, first in hidden.items():
            lg.section(f"{technology_label(tech, language)}: {label('layer_off', language)} "
                       f"{technology_label(first, language)}{')' if language == 'en' else '）'}")
    if restrictions is not None and len(restrictions):
        restriction = restriction_layer(restrictions, language, system).add_to(m)
        with lg.follows(restriction):
            restriction_legend(lg, language)
    areas = [layer.add_to(m) for layer in area_layers(study_area, data_extent, language, system)]
    area_legend(lg, study_area, data_extent, language, areas)
    if area_by_tech:
        with lg.follows(*area_by_tech.values()):
            lg.section(label("service_areas", language))
            for tech in techs:
                if tech in area_by_tech:
                    with lg.follows(area_by_tech[tech]):
                        lg.swatch(technology_label(tech, language), tech_style(tech)[0], "box",
                                  stroke=tech_style(tech)[0], opacity=0.35)
    lg.add_to(m)
    return m
