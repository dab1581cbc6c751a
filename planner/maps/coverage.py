"""Supplier coverage map: isochrone bands around plants, suppliers coloured by slack."""
from __future__ import annotations

import math

import folium
import numpy as np
import pandas as pd
import shapely

from planner.maps._common import (
    NO_DATA_COLOUR,
    PLANT_ICON_HTML,
    UNCOVERED_STROKE,
    GeoJsonLayer,
    LegendBuilder,
    as_wgs84,
    band_colours,
    bounds_of,
    esc,
    feature_collection,
    fmt_minutes,
    fmt_num,
    popup_for,
    popup_table,
    require_columns,
    shift,
    slack_classes,
    slack_colour,
    str_ids,
    tooltip_for,
)
from planner.maps.base import MAX_ROAD_VERTICES, base_map
from planner.maps.labels import check_language, label, profile_label

__all__ = ["coverage_map", "best_times"]


def best_times(supplier_times: pd.DataFrame, profile: str) -> pd.DataFrame:
    """Per supplier, the row with the smallest minutes for ``profile`` plus summary columns.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``supplier_id`` (str): ``plant_id``, ``minutes``, ``slack_minutes``,
        ``covered`` of the best plant, ``n_plants`` and ``n_uncovered`` (plants for which the
        supplier is not covered).
    """
    st = supplier_times[supplier_times["profile"].astype(str) == str(profile)].copy()
    if st.empty:
        return pd.DataFrame(columns=["plant_id", "minutes", "slack_minutes", "covered",
                                     "n_plants", "n_uncovered"])
    st["supplier_id"] = str_ids(st["supplier_id"]).to_numpy()
    st["plant_id"] = str_ids(st["plant_id"]).to_numpy()
    st["minutes"] = pd.to_numeric(st["minutes"], errors="coerce").astype(float)
    st["covered"] = st["covered"].astype(bool)
    order = st.assign(_m=st["minutes"].fillna(np.inf)).sort_values(["supplier_id", "_m"],
                                                                   kind="stable")
    best = order.groupby("supplier_id", sort=False).head(1).set_index("supplier_id")
    best = best[["plant_id", "minutes", "slack_minutes", "covered"]].copy()
    grp = st.groupby("supplier_id")
    best["n_plants"] = grp.size()
    best["n_uncovered"] = (~st["covered"]).groupby(st["supplier_id"]).sum().astype(int)
    return best


def _popup_tables(st_p: pd.DataFrame, plant_names: dict, language: str) -> dict:
    """Per supplier, the popup's per-plant table (rows sorted by minutes) as HTML."""
    if st_p.empty:
        return {}
    order = st_p.sort_values("minutes", kind="stable")  # stable: ties keep the table's order
    unreachable = label("unreachable", language)
    yes, no = esc(label("yes", language)), esc(label("no", language))
    slack = pd.to_numeric(order["slack_minutes"], errors="coerce").to_numpy(float)
    rows = [
        f"<tr><td>{esc(plant_names.get(p, p))}</td><td>{esc(fmt_minutes(m, language, unreachable))}"
        f"</td><td>{esc(f'{s:+.1f}' if math.isfinite(s) else '–')}</td><td>{yes if c else no}</td></tr>"
        for p, m, s, c in zip(order["plant_id"].to_numpy(object), order["minutes"].to_numpy(float), slack,
                              order["covered"].to_numpy(bool))
    ]
    body = pd.Series(rows, dtype=object).groupby(order["supplier_id"].to_numpy(object), sort=False).agg("".join)
    head = _table_head(language)
    return {k: f"{head}{v}</table>" for k, v in body.items()}


def _table_head(language: str) -> str:
    """Opening of the popup's per-plant table (title and header row)."""
    return (f"<div><i>{esc(label('per_plant', language))}</i></div>"
            f"<table><tr><th>{esc(label('plant', language))}</th>"
            f"<th>{esc(label('minutes', language))}</th>"
            f"<th>{esc(label('slack', language))}</th>"
            f"<th>{esc(label('covered', language))}</th></tr>")


def _supplier_popup(sid: str, name, weight, table: str, language: str, threshold: float) -> str:
    fields = [(label("supplier_id", language), sid)]
    if weight is not None and not (isinstance(weight, float) and math.isnan(weight)):
        fields.append((label("weight", language), fmt_num(weight, 2)))
    fields.append((label("threshold", language), fmt_minutes(threshold, language, "")))
    return popup_table(name if name not in (None, "") else sid, fields, table)


def coverage_map(plants, suppliers, supplier_times, isochrones, profile: str = "offpeak",
                 threshold_min: float = 30, language: str = "en", basemap: str = "osm",
                 roads=None, *, tianditu_token: str | None = None, title: str | None = None,
                 minimap: bool = False, measure: bool = False,
                 max_road_vertices: int = MAX_ROAD_VERTICES) -> folium.Map:
    """Map of the supplier coverage audit.

    Draws, per travel-time profile, one toggleable layer of isochrone bands around every
    plant and one layer of suppliers (only ``profile``'s layers are on when the map opens).
    Suppliers are circles sized by weight and coloured by the slack of their best plant
    (diverging: red = late, green = ample slack); uncovered suppliers get a thick dark-red
    ring and are drawn on top. Tooltips give name and best minutes; popups list every plant
    the supplier serves with minutes, slack and covered. Nothing is recomputed: minutes,
    slack and covered come from ``supplier_times``.

    Parameters
    ----------
    plants : GeoDataFrame
        ``site_id``, ``name``, point geometry.
    suppliers : GeoDataFrame
        ``site_id``, ``name``, ``weight``, point geometry.
    supplier_times : DataFrame
        ``supplier_id``, ``plant_id``, ``profile``, ``minutes`` (may be inf),
        ``slack_minutes``, ``covered`` (bool), ``snap_m``.
    isochrones : GeoDataFrame
        EPSG:4326, ``plant_id``, ``profile``, ``minutes`` (band upper bound), polygon
        geometry; one row per plant × profile × band. May be empty.
    profile : str
        Profile shown when the map opens.
    threshold_min : float
        Coverage threshold (minutes); its band is outlined.
    language : {"en", "zh"}
    basemap : {"osm", "amap", "tianditu", "none"}
    roads : GeoDataFrame, optional
        Road network for ``basemap="none"`` (see :func:`planner.maps.base.base_map`).
    tianditu_token, minimap, measure, max_road_vertices
        Passed to :func:`~planner.maps.base.base_map`.
    title : str, optional
        Legend title (default: the coverage title in ``language``).

    Returns
    -------
    folium.Map
    """
    check_language(language)
    require_columns(plants, ["site_id", "name"], "plants")
    require_columns(suppliers, ["site_id", "name"], "suppliers")
    require_columns(supplier_times, ["supplier_id", "plant_id", "profile", "minutes",
                                     "slack_minutes", "covered"], "supplier_times")
    require_columns(isochrones, ["plant_id", "profile", "minutes"], "isochrones")
    plants = as_wgs84(plants, "plants").copy()
    suppliers = as_wgs84(suppliers, "suppliers").copy()
    isochrones = as_wgs84(isochrones, "isochrones").copy()
    plants["site_id"] = str_ids(plants["site_id"]).to_numpy()
    suppliers["site_id"] = str_ids(suppliers["site_id"]).to_numpy()
    isochrones["plant_id"] = str_ids(isochrones["plant_id"]).to_numpy()
    if "weight" not in suppliers.columns:
        suppliers["weight"] = 1.0
    st = supplier_times.copy()
    st["supplier_id"] = str_ids(st["supplier_id"]).to_numpy()
    st["plant_id"] = str_ids(st["plant_id"]).to_numpy()
    st["minutes"] = pd.to_numeric(st["minutes"], errors="coerce").astype(float)

    m = base_map(bounds_of(plants, suppliers, isochrones), language, basemap, roads,
                 tianditu_token=tianditu_token, minimap=minimap, measure=measure,
                 max_road_vertices=max_road_vertices)
    system = m._planner_context.system
    plants_d = shift(plants, system)
    suppliers_d = shift(suppliers, system)
    iso_d = shift(isochrones, system)
    plant_names = dict(zip(plants["site_id"], plants["name"]))

    profiles = list(dict.fromkeys([str(p) for p in st["profile"]] +
                                  [str(p) for p in isochrones["profile"]]))
    if str(profile) not in profiles:
        profiles.insert(0, str(profile))
    unreachable = label("unreachable", language)

    # ---- isochrone bands, one layer per profile ---------------------------------------
    bands = sorted({float(x) for x in pd.to_numeric(isochrones["minutes"], errors="coerce")
                    if np.isfinite(x)})
    colours = dict(zip(bands, band_colours(len(bands))))
    for prof in profiles:
        sub = iso_d[iso_d["profile"].astype(str) == prof].copy()
        if sub.empty:
            continue
        sub["band_min"] = pd.to_numeric(sub["minutes"], errors="coerce").astype(float)
        sub = sub[np.isfinite(sub["band_min"])].sort_values("band_min", ascending=False,
                                                            kind="stable")
        props = []
        for r in sub.itertuples(index=False):
            pname = plant_names.get(r.plant_id, r.plant_id)
            tip = (f"<b>{esc(pname)}</b><br>≤ {esc(fmt_minutes(r.band_min, language, ''))} "
                   f"({esc(profile_label(prof, language))})")
            props.append({"tip": tip, "minutes": float(r.band_min),
                          "colour": colours.get(float(r.band_min), "#6baed6"),
                          "threshold": bool(abs(float(r.band_min) - float(threshold_min)) < 1e-9)})
        fc = feature_collection(sub.geometry.values, props)
        GeoJsonLayer(
            fc,
            name=esc(f"{label('isochrones', language)} – {profile_label(prof, language)}"),
            show=(prof == str(profile)),
            style_function=lambda f: {
                "color": UNCOVERED_STROKE if f["properties"]["threshold"]
                else f["properties"]["colour"],
                "weight": 2.5 if f["properties"]["threshold"] else 1,
                "dashArray": "6 4" if f["properties"]["threshold"] else None,
                "fillColor": f["properties"]["colour"],
                "fillOpacity": 0.18,
                "opacity": 0.9,
            },
            highlight_function=lambda f: {"weight": 3, "fillOpacity": 0.3},
            tooltip=tooltip_for("tip"),
        ).add_to(m)

    # ---- plants -----------------------------------------------------------------------
    plant_group = folium.FeatureGroup(name=esc(label("plants", language)), show=True)
    for pr, pd_ in zip(plants.itertuples(index=False), plants_d.geometry):
        pt = pd_.representative_point() if pd_.geom_type != "Point" else pd_
        name = pr.name if pr.name not in (None, "") else pr.site_id
        tip = f"<b>{esc(name)}</b><br>{esc(label('plant', language))} {esc(pr.site_id)}"
        popup = popup_table(name, [(label("plant_id", language), pr.site_id)])
        folium.Marker(
            location=[pt.y, pt.x],
            icon=folium.DivIcon(html=PLANT_ICON_HTML, icon_size=(18, 18), icon_anchor=(9, 9),
                                class_name="planner-divicon"),
            tooltip=folium.Tooltip(tip, sticky=True),
            popup=folium.Popup(popup, max_width=360),
        ).add_to(plant_group)
    plant_group.add_to(m)

    # ---- suppliers, one layer per profile ---------------------------------------------
    w = pd.to_numeric(suppliers["weight"], errors="coerce").astype(float).fillna(1.0)
    wmax = float(w.max()) if len(w) and w.max() > 0 else 1.0
    radius = (5.0 + 6.0 * np.sqrt(np.clip(w.to_numpy() / wmax, 0, 1))).round(1)
    weights = w.to_numpy(float)
    sids = suppliers["site_id"].to_numpy(object)
    names = suppliers["name"].to_numpy(object)
    points = shapely.point_on_surface(np.asarray(suppliers_d.geometry.values))  # points stay as they are
    for prof in profiles:
        st_p = st[st["profile"].astype(str) == prof]
        if st_p.empty and prof != str(profile):
            continue
        best = best_times(st_p, prof).reindex(sids)
        tables = _popup_tables(st_p, plant_names, language)
        empty_table = f"{_table_head(language)}</table>"
        has = best["n_plants"].notna().to_numpy()
        b_plant = best["plant_id"].to_numpy(object)
        b_min = best["minutes"].to_numpy(float)
        b_slack = best["slack_minutes"].to_numpy(object)
        b_cov = best["covered"].to_numpy(object)
        b_unc = best["n_uncovered"].to_numpy(float)
        b_n = best["n_plants"].to_numpy(float)
        props, order = [], []
        for i, (sid, name) in enumerate(zip(sids, names)):  # text per supplier; geometry is vectorised
            name = name if name not in (None, "") else sid
            if has[i]:
                covered = bool(b_cov[i])
                colour = slack_colour(b_slack[i]) if np.isfinite(b_min[i]) else slack_colour(-1e9)
                best_txt = fmt_minutes(b_min[i], language, unreachable)
                tip = (f"<b>{esc(name)}</b><br>{esc(label('best_time', language))}: "
                       f"{esc(best_txt)} → {esc(plant_names.get(b_plant[i], b_plant[i]))}")
                if not covered:
                    tip += f"<br><b style='color:{UNCOVERED_STROKE}'>" \
                           f"{esc(label('uncovered', language))}</b>"
                elif int(b_unc[i]) > 0:
                    tip += (f"<br>{esc(label('uncovered_for', language))}: "
                            f"{int(b_unc[i])}/{int(b_n[i])}")
                state = 0 if covered else 2
            else:
                covered, colour = True, NO_DATA_COLOUR
                tip = f"<b>{esc(name)}</b><br>{esc(label('no_data', language))}"
                state = 1
            popup = _supplier_popup(sid, name, float(weights[i]), tables.get(sid, empty_table), language,
                                    threshold_min)
            props.append({"tip": tip, "popup": popup, "fill": colour,
                          "stroke": UNCOVERED_STROKE if state == 2 else "#333333",
                          "weight": 3 if state == 2 else 1,
                          "radius": float(radius[i]) + (2 if state == 2 else 0),
                          "covered": covered})
            order.append(state)
        if not len(points):
            continue
        idx = np.argsort(np.asarray(order), kind="stable")  # uncovered last = on top
        fc = feature_collection(points[idx], [props[k] for k in idx])
        GeoJsonLayer(
            fc,
            name=esc(f"{label('suppliers', language)} – {profile_label(prof, language)}"),
            show=(prof == str(profile)),
            marker=folium.CircleMarker(radius=6, fill=True),
            style_function=lambda f: {
                "radius": f["properties"]["radius"],
                "fillColor": f["properties"]["fill"],
                "color": f["properties"]["stroke"],
                "weight": f["properties"]["weight"],
                "fillOpacity": 0.9,
                "opacity": 1.0,
            },
            tooltip=tooltip_for("tip"),
            popup=popup_for("popup"),
        ).add_to(m)

    # ---- legend -----------------------------------------------------------------------
    lg = LegendBuilder(title if title is not None else label("coverage_title", language))
    lg.section(f"{label('profile', language)}: {profile_label(profile, language)}"
               f" · {label('threshold', language)} {fmt_minutes(threshold_min, language, '')}")
    lg.raw_icon(PLANT_ICON_HTML, label("plant", language))
    if bands:
        lg.section(label("isochrones", language))
        for b in bands:
            is_thr = abs(b - float(threshold_min)) < 1e-9
            lg.swatch(f"≤ {fmt_minutes(b, language, '')}", colours[b], "box",
                      stroke=UNCOVERED_STROKE if is_thr else colours[b],
                      stroke_width=2 if is_thr else 1, opacity=0.75)
    lg.section(label("slack_legend", language))
    for colour, text in slack_classes(language):
        lg.swatch(text, colour, "dot")
    lg.swatch(label("uncovered", language), slack_colour(-1e9), "dot", stroke=UNCOVERED_STROKE,
              stroke_width=3)
    lg.swatch(label("no_data", language), NO_DATA_COLOUR, "dot")
    lg.add_to(m)
    return m
