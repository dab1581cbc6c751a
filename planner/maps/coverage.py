"""Supplier coverage map: isochrone bands around plants, suppliers coloured by slack."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

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
    layer_names,
    popup_for,
    popup_table,
    require_columns,
    shift,
    slack_classes,
    slack_colour,
    str_ids,
    tooltip_for,
)
from planner.maps.areas import area_layers, area_legend, fit_frame
from planner.maps.base import MAX_ROAD_VERTICES, base_map
from planner.maps.labels import check_language, label, profile_label
from planner.maps.restrictions import restriction_layer, restriction_legend

__all__ = ["coverage_map", "served_rows", "plant_counts", "STATES"]


#: Marker states, drawn in this order (the last on top).
STATES: tuple[str, ...] = ("covered", "no_data", "partly", "uncovered")


def served_rows(supplier_times: pd.DataFrame, profile: str) -> pd.DataFrame:
    """The served supplier→plant pairs of ``profile``, with clean ids and float minutes.

    Rows with ``serves == False`` (pairs the supplier does not serve) are dropped; a table
    without a ``serves`` column lists served pairs only.
    """
    st = supplier_times[supplier_times["profile"].astype(str) == str(profile)]
    if "serves" in st.columns:
        st = st[st["serves"].astype(bool)]
    st = st.copy()
    st["supplier_id"] = str_ids(st["supplier_id"]).to_numpy()
    st["plant_id"] = str_ids(st["plant_id"]).to_numpy()
    st["minutes"] = pd.to_numeric(st["minutes"], errors="coerce").astype(float)
    st["slack_minutes"] = pd.to_numeric(st["slack_minutes"], errors="coerce").astype(float)
    st["covered"] = st["covered"].astype(bool)
    return st


def plant_counts(supplier_times: pd.DataFrame, profiles) -> pd.DataFrame:
    """Per plant and profile, served suppliers and covered ones (what the legend shows).

    Returns
    -------
    pandas.DataFrame
        ``plant_id``, ``profile``, ``suppliers_total``, ``suppliers_covered``.
    """
    frames = [served_rows(supplier_times, p).assign(profile=str(p)) for p in profiles]
    st = pd.concat(frames, ignore_index=True)
    return (st.groupby(["plant_id", "profile"], sort=False)
              .agg(suppliers_total=("supplier_id", "size"), suppliers_covered=("covered", "sum"))
              .reset_index())


def _marker_state(n_served: int, n_covered: int) -> str:
    if n_served == 0:
        return "no_data"
    if n_covered == n_served:
        return "covered"
    return "uncovered" if n_covered == 0 else "partly"


def _why_unreachable(row, language: str) -> str:
    """Short text for an unreachable pair: the restriction closing it, or no connection."""
    cause = str(getattr(row, "unreachable_cause", "") or "")
    if cause == "restriction":
        text = f"{label('closed_by', language)} {getattr(row, 'blocked_by', '')}"
        alt = float(getattr(row, "minutes_unrestricted", np.nan))
        if math.isfinite(alt):
            text += f" ({label('without_restriction', language)}: {fmt_minutes(alt, language, '')})"
        return text
    if cause == "no_connection":
        return label("no_connection", language)
    return ""


def _minutes_text(row, language: str) -> str:
    text = fmt_minutes(row.minutes, language, label("unreachable", language))
    why = _why_unreachable(row, language) if not math.isfinite(row.minutes) else ""
    return f"{text} – {why}" if why else text


def _popup_tables(st_p: pd.DataFrame, plant_names: dict, language: str) -> dict:
    """Per supplier, the popup's table of its served plants (rows sorted by minutes) as HTML."""
    if st_p.empty:
        return {}
    order = st_p.sort_values("minutes", kind="stable")  # stable: ties keep the table's order
    yes, no = esc(label("yes", language)), esc(label("no", language))
    rows = [
        f"<tr><td>{esc(plant_names.get(r.plant_id, r.plant_id))}</td>"
        f"<td>{esc(_minutes_text(r, language))}</td>"
        f"<td>{esc(f'{r.slack_minutes:+.1f}' if math.isfinite(r.slack_minutes) else '–')}</td>"
        f"<td>{yes if r.covered else no}</td></tr>"
        for r in order.itertuples(index=False)
    ]
    body = pd.Series(rows, dtype=object).groupby(order["supplier_id"].to_numpy(object), sort=False).agg("".join)
    head = _table_head(language)
    return {k: f"{head}{v}</table>" for k, v in body.items()}


def _table_head(language: str) -> str:
    """Opening of the popup's per-plant table (title and header row)."""
    return (f"<div><i>{esc(label('plants_served', language))}</i></div>"
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


class _Served:
    """What a supplier's marker shows of the pairs it serves under one profile (in table order)."""

    __slots__ = ("lines", "plants", "minutes", "covered", "worst")

    def __init__(self):
        self.lines: list[str] = []
        self.plants: list[str] = []
        self.minutes: list[float | None] = []
        self.covered: list[bool] = []
        self.worst = math.inf  # slack of the worst plant served (NaN slack counts as -inf)


def _served_by_supplier(st_p: pd.DataFrame, plant_names: dict, language: str) -> dict[str, _Served]:
    """Per supplier, its served pairs of ``st_p`` (rows in the frame's order) as marker text and values.

    One pass over the rows: a map of thousands of suppliers must not build a small frame per
    supplier (on ``benchmarks/run.py load``, 5,000 suppliers × 8 profiles, that cost ~60 s).
    """
    out: dict[str, _Served] = {}
    for r in st_p.itertuples(index=False):
        s = out.get(r.supplier_id)
        if s is None:
            s = out[r.supplier_id] = _Served()
        covered = bool(r.covered)
        minutes = float(r.minutes)
        slack = float(r.slack_minutes)
        s.lines.append(f"{'✓' if covered else '✗'} → {esc(plant_names.get(r.plant_id, r.plant_id))}: "
                       f"{esc(_minutes_text(r, language))}")
        s.plants.append(r.plant_id)
        s.minutes.append(minutes if math.isfinite(minutes) else None)
        s.covered.append(covered)
        s.worst = min(s.worst, -math.inf if math.isnan(slack) else slack)
    return out


def _supplier_tip(name: str, lines: Sequence[str], state: str, language: str) -> str:
    """Tooltip: the supplier, then one line per plant it serves (minutes, covered or why not)."""
    tail = []
    if state == "no_data":
        tail = [esc(label("no_data", language))]
    elif state != "covered":
        tail = [f"<b style='color:{UNCOVERED_STROKE}'>{esc(label(state, language))}</b>"]
    return "<br>".join([f"<b>{esc(name)}</b>", *lines, *tail])


def coverage_map(plants, suppliers, supplier_times, isochrones, profile: str = "offpeak",
                 threshold_min: float = 30, language: str = "en", basemap: str = "osm",
                 roads=None, *, tianditu_token: str | None = None, title: str | None = None,
                 minimap: bool = False, measure: bool = False,
                 max_road_vertices: int = MAX_ROAD_VERTICES,
                 profile_labels: Mapping[str, str] | None = None,
                 restrictions=None, note: str | Sequence[str] | None = None, study_area=None,
                 data_extent=None) -> folium.Map:
    """Map of the supplier coverage audit.

    Draws, per travel-time profile, one toggleable layer of isochrone bands around every
    plant and one layer of suppliers (only ``profile``'s layers are on when the map opens).
    A supplier's marker shows exactly the pairs the tables count: the plants it serves
    (``serves``), each with its minutes and covered flag in the tooltip and popup. Markers
    are coloured by the slack of the worst plant served (diverging: red = late, green =
    ample slack); suppliers late for every plant served get a thick dark-red ring, late for
    some a dashed one, and are drawn on top; unreachable trips say why (the restriction that
    closes them, or no connection). The legend's per-plant counts (covered / served, per
    profile) are those of ``coverage/plant_summary.csv``. Nothing is recomputed: minutes,
    slack and covered come from ``supplier_times``. The legend follows the layers switched on:
    a counts column per profile while that profile's supplier layer is on, the band colours
    while a band layer is on, and so on.

    Parameters
    ----------
    plants : GeoDataFrame
        ``site_id``, ``name``, point geometry.
    suppliers : GeoDataFrame
        ``site_id``, ``name``, ``weight``, point geometry.
    supplier_times : DataFrame
        ``supplier_id``, ``plant_id``, ``profile``, ``minutes`` (may be inf),
        ``slack_minutes``, ``covered`` (bool); optional ``serves`` (bool; rows without it
        are taken as served), ``unreachable_cause``, ``blocked_by``, ``minutes_unrestricted``.
    isochrones : GeoDataFrame
        EPSG:4326, ``plant_id``, ``profile``, ``minutes`` (band upper bound), polygon
        geometry; one row per plant × profile × band. May be empty. Pass the display version
        (:func:`planner.supply_circle.display_version`): it is drawn as given.
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
    profile_labels : mapping, optional
        Display name per profile (e.g. the scenario's ``[profiles.X] label``); default
        :func:`~planner.maps.labels.profile_label`.
    restrictions : GeoDataFrame, optional
        Time-windowed restriction polygons (see :func:`~planner.maps.restrictions.restriction_layer`),
        drawn as their own layer.
    note : str or sequence of str, optional
        Line(s) under the legend title, e.g. that the sites are illustrative.
    study_area, data_extent : GeoDataFrame, optional
        The study area (e.g. the E-Town outline + margin) and the road data's extent, drawn as
        toggleable outlines (:func:`~planner.maps.areas.area_layers`); the map opens fitted on
        the study area when it is given, else on all the data.

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
    # an empty band reaches no road (e.g. a plant outside an autonomous vehicle's zone): nothing to
    # draw, and the tables already say so
    isochrones = as_wgs84(isochrones, "isochrones", empty_ok=True).copy()
    plants["site_id"] = str_ids(plants["site_id"]).to_numpy()
    suppliers["site_id"] = str_ids(suppliers["site_id"]).to_numpy()
    isochrones["plant_id"] = str_ids(isochrones["plant_id"]).to_numpy()
    if "weight" not in suppliers.columns:
        suppliers["weight"] = 1.0
    st = supplier_times

    def plabel(prof: str) -> str:
        given = (profile_labels or {}).get(prof)
        return str(given) if given else profile_label(prof, language)

    m = base_map(bounds_of(*fit_frame(study_area, plants, suppliers, isochrones)), language, basemap, roads,
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

    # ---- isochrone bands, one layer per profile ---------------------------------------
    bands = sorted({float(x) for x in pd.to_numeric(isochrones["minutes"], errors="coerce")
                    if np.isfinite(x)})
    colours = dict(zip(bands, band_colours(len(bands))))
    band_layers = []
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
                   f"({esc(plabel(prof))})")
            props.append({"tip": tip, "minutes": float(r.band_min),
                          "colour": colours.get(float(r.band_min), "#6baed6"),
                          "threshold": bool(abs(float(r.band_min) - float(threshold_min)) < 1e-9)})
        fc = feature_collection(sub.geometry.values, props)
        band_layers.append(GeoJsonLayer(
            fc,
            name=esc(f"{label('isochrones', language)} – {plabel(prof)}"),
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
        ).add_to(m))

    # ---- plants -----------------------------------------------------------------------
    plant_group = folium.FeatureGroup(name=esc(label("plants", language)), show=True)
    for pr, pd_ in zip(plants.itertuples(index=False), plants_d.geometry):
        pt = pd_.representative_point() if pd_.geom_type != "Point" else pd_
        name = pr.name if pr.name not in (None, "") else pr.site_id
        popup = popup_table(name, [(label("plant_id", language), pr.site_id)])
        folium.Marker(
            location=[pt.y, pt.x],
            icon=folium.DivIcon(html=PLANT_ICON_HTML, icon_size=(18, 18), icon_anchor=(9, 9),
                                class_name="planner-divicon"),
            # the name always shown, small, beside the marker
            tooltip=folium.Tooltip(f"<b>{esc(name)}</b>", permanent=True, direction="right", offset=(8, 0),
                                   style="font-size:11px;padding:1px 4px;opacity:0.85;"),
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
    empty_table = f"{_table_head(language)}</table>"
    supplier_layers: dict[str, GeoJsonLayer] = {}
    for prof in profiles:
        st_p = served_rows(st, prof)
        if st_p.empty and prof != str(profile):
            continue
        st_p = st_p.sort_values("minutes", kind="stable")
        served = _served_by_supplier(st_p, plant_names, language)
        tables = _popup_tables(st_p, plant_names, language)
        props, order = [], []
        none = _Served()
        for i, (sid, name) in enumerate(zip(sids, names)):  # text per supplier; geometry is vectorised
            name = name if name not in (None, "") else sid
            pairs = served.get(sid, none)
            state = _marker_state(len(pairs.plants), sum(pairs.covered))
            # colour: slack of the worst plant the supplier serves (the binding one)
            colour = NO_DATA_COLOUR if state == "no_data" else slack_colour(max(pairs.worst, -1e9))
            popup = _supplier_popup(sid, name, float(weights[i]), tables.get(sid, empty_table), language,
                                    threshold_min)
            late = state in ("partly", "uncovered")
            props.append({"tip": _supplier_tip(name, pairs.lines, state, language), "popup": popup,
                          "fill": colour, "stroke": UNCOVERED_STROKE if late else "#333333",
                          "weight": 3 if state == "uncovered" else 2 if late else 1,
                          "dash": "3 2" if state == "partly" else None,
                          "radius": float(radius[i]) + (2 if late else 0),
                          # machine-readable copy of what the marker shows (one entry per served plant)
                          "supplier_id": sid, "profile": prof, "state": state,
                          "plants": pairs.plants, "minutes": pairs.minutes, "covered": pairs.covered})
            order.append(STATES.index(state))
        if not len(points):
            continue
        idx = np.argsort(np.asarray(order), kind="stable")  # uncovered last = on top
        fc = feature_collection(points[idx], [props[k] for k in idx])
        supplier_layers[prof] = GeoJsonLayer(
            fc,
            name=esc(f"{label('suppliers', language)} – {plabel(prof)}"),
            show=(prof == str(profile)),
            marker=folium.CircleMarker(radius=6, fill=True),
            style_function=lambda f: {
                "radius": f["properties"]["radius"],
                "fillColor": f["properties"]["fill"],
                "color": f["properties"]["stroke"],
                "weight": f["properties"]["weight"],
                "dashArray": f["properties"]["dash"],
                "fillOpacity": 0.9,
                "opacity": 1.0,
            },
            tooltip=tooltip_for("tip"),
            popup=popup_for("popup"),
        ).add_to(m)

    restriction = restriction_layer(restrictions, language, system).add_to(m) \
        if restrictions is not None and len(restrictions) else None
    areas = [layer.add_to(m) for layer in area_layers(study_area, data_extent, language, system)]

    # ---- legend: each part shows while its layer(s) are on ------------------------------
    lg = LegendBuilder(title if title is not None else label("coverage_title", language))
    lg.notes(note)
    lg.section(f"{label('threshold', language)} {fmt_minutes(threshold_min, language, '')}")
    with lg.follows(plant_group):
        lg.raw_icon(PLANT_ICON_HTML, label("plant", language))
    counts = plant_counts(st, profiles)
    shown = [p for p in profiles if (counts["profile"] == p).any() and p in supplier_layers] if len(counts) else []
    if shown:
        # one column per profile, shown while that profile's supplier layer is on
        col = {p: {"layers": layer_names(supplier_layers[p])} for p in shown}
        with lg.follows(*supplier_layers.values()):
            lg.section(label("covered_served", language))
            rows = []
            for pid in dict.fromkeys(counts["plant_id"]):
                cells = [(str(plant_names.get(pid, pid)), {})]
                for prof in shown:
                    hit = counts[(counts["plant_id"] == pid) & (counts["profile"] == prof)]
                    cov_n, tot = (int(hit["suppliers_covered"].iloc[0]), int(hit["suppliers_total"].iloc[0])) \
                        if len(hit) else (0, 0)
                    cells.append((f"{cov_n} / {tot}", {"plant": pid, "profile": prof, "covered": cov_n,
                                                       "total": tot, **col[prof]}))
                rows.append(cells)
            lg.table([label("plant", language)] + [(plabel(p), col[p]) for p in shown], rows)
    if bands:
        with lg.follows(*band_layers):
            lg.section(label("isochrones", language))
            for b in bands:
                is_thr = abs(b - float(threshold_min)) < 1e-9
                lg.swatch(f"≤ {fmt_minutes(b, language, '')}", colours[b], "box",
                          stroke=UNCOVERED_STROKE if is_thr else colours[b],
                          stroke_width=2 if is_thr else 1, opacity=0.75)
    with lg.follows(*supplier_layers.values()):
        lg.section(label("slack_legend", language))
        for colour, text in slack_classes(language):
            lg.swatch(text, colour, "dot")
        lg.swatch(label("partly", language), "#ffffff", "dot", stroke=UNCOVERED_STROKE, stroke_width=2)
        lg.swatch(label("uncovered", language), slack_colour(-1e9), "dot", stroke=UNCOVERED_STROKE,
                  stroke_width=3)
        lg.swatch(label("no_data", language), NO_DATA_COLOUR, "dot")
    if restriction is not None:
        with lg.follows(restriction):
            restriction_legend(lg, language)
    area_legend(lg, study_area, data_extent, language, areas)
    lg.add_to(m)
    return m
