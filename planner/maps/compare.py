"""Side-by-side comparison of two site lists (scenario A vs B) on a synced DualMap."""
from __future__ import annotations

import folium
import pandas as pd
from folium.plugins import DualMap

from planner.errors import InputError
from planner.maps._common import (
    LegendBuilder,
    as_wgs84,
    bounds_of,
    display_system,
    esc,
    normalise_bounds,
    popup_table,
    require_columns,
    shift,
    shift_lonlat,
    site_icon_html,
    site_marker,
    str_ids,
)
from planner.maps.base import MAX_ROAD_VERTICES, decorate_map
from planner.maps.labels import check_language, label, technology_label
from planner.vocab import MAP_STATUSES, tech_order

__all__ = ["compare_map", "status_table", "STATUSES"]

#: Accepted values of ``status["status"]``.
STATUSES = MAP_STATUSES

_RING = {"added": "#1a9641", "removed": "#d7191c", "kept": None}
_BADGE = {"added": "+", "removed": "×", "kept": None}


def _statuses(sites_a, sites_b, status) -> dict[str, str]:
    ids_a, ids_b = set(sites_a["site_id"]), set(sites_b["site_id"])
    derived = {s: ("kept" if s in ids_b else "removed") for s in ids_a}
    derived.update({s: "added" for s in ids_b - ids_a})
    if status is None or len(status) == 0:
        return derived
    require_columns(status, ["site_id", "status"], "status")
    given = dict(zip(str_ids(status["site_id"]), status["status"].astype(str).str.lower()))
    bad = sorted({v for v in given.values() if v not in STATUSES})
    if bad:
        raise InputError(f"status: unknown value(s) {', '.join(map(repr, bad))}; "
                         f"use {', '.join(STATUSES)}", column="status")
    return {**derived, **{k: v for k, v in given.items() if k in derived}}


def _draw(m, sites, sites_d, statuses, side_label: str, language: str, shown: tuple[str, ...]):
    techs = tech_order(sites["technology"])
    groups = {}
    for st in shown:
        groups[st] = folium.FeatureGroup(
            name=esc(f"{side_label} – {label(st, language)}"), show=True)
    for i in range(len(sites)):
        row = sites.iloc[i]
        sid = row["site_id"]
        st = statuses.get(sid, "kept")
        if st not in groups:  # contradicts the list the site is in (e.g. "added" in A)
            st = "kept"
        pt = sites_d.geometry.values[i]
        pt = pt if pt.geom_type == "Point" else pt.representative_point()
        tech = row["technology"]
        nm = row["name"] if isinstance(row["name"], str) and row["name"] else sid
        tip = (f"<b>{esc(nm)}</b><br>{esc(technology_label(tech, language))}"
               f" · {esc(label(st, language))}")
        popup = popup_table(nm, [(label("site_id", language), sid),
                                 (label("technology", language),
                                  technology_label(tech, language)),
                                 (label("status", language), label(st, language))])
        site_marker(pt.y, pt.x, tech, tip, popup, ring=_RING[st], badge=_BADGE[st],
                    opacity=0.75 if st == "removed" else 1.0).add_to(groups[st])
    for g in groups.values():
        g.add_to(m)
    lg = LegendBuilder(side_label)
    lg.section(label("technology", language))
    for tech in techs:
        lg.raw_icon(site_icon_html(tech), technology_label(tech, language))
    lg.section(label("status", language))
    counts = pd.Series([statuses.get(s, "kept") if statuses.get(s, "kept") in shown else "kept"
                        for s in sites["site_id"]]).value_counts()
    ref_tech = techs[0] if techs else "h2"
    for st in shown:
        lg.raw_icon(site_icon_html(ref_tech, _RING[st], _BADGE[st]),
                    f"{label(st, language)} ({int(counts.get(st, 0))})")
    lg.add_to(m)


def compare_map(sites_a, sites_b, status=None, label_a: str = "A", label_b: str = "B",
                language: str = "en", basemap: str = "osm", roads=None, *,
                tianditu_token: str | None = None, layout: str = "horizontal",
                max_road_vertices: int = MAX_ROAD_VERTICES) -> DualMap:
    """Two synced maps side by side: site list A (left) and B (right).

    The left map shows A's sites, kept ones plain and removed ones faded with a red ring
    and "×"; the right map shows B's sites, kept plain and added ones with a green ring and
    "+". Pan and zoom are synchronised (Leaflet.Sync). Each half has its own legend (titled
    ``label_a`` / ``label_b``), layer control and the OSM attribution. Save with
    :func:`planner.maps.offline.save_map` (works offline, Leaflet.Sync is embedded).

    Parameters
    ----------
    sites_a, sites_b : GeoDataFrame
        ``site_id``, ``technology``, ``name``, point geometry (WGS-84).
    status : DataFrame, optional
        ``site_id``, ``status`` in ``added`` | ``removed`` | ``kept``. Sites without a row
        get the status implied by the two lists (A only: removed, B only: added, both: kept).
    label_a, label_b : str
        Scenario names (shown escaped).
    language : {"en", "zh"}
    basemap : {"osm", "amap", "tianditu", "none"}
    roads : GeoDataFrame, optional
        Road network for ``basemap="none"`` (drawn on both halves).
    tianditu_token : str, optional
    layout : {"horizontal", "vertical"}
    max_road_vertices : int
        Road vertex budget per half.

    Returns
    -------
    folium.plugins.DualMap
        ``.m1`` (A) and ``.m2`` (B) are the two ``folium.Map`` objects.
    """
    check_language(language)
    require_columns(sites_a, ["site_id", "technology", "name"], "sites_a")
    require_columns(sites_b, ["site_id", "technology", "name"], "sites_b")
    sites_a = as_wgs84(sites_a, "sites_a").copy()
    sites_b = as_wgs84(sites_b, "sites_b").copy()
    for df in (sites_a, sites_b):
        df["site_id"] = str_ids(df["site_id"]).to_numpy()
        df["technology"] = df["technology"].astype(str)
    statuses = _statuses(sites_a, sites_b, status)
    bounds = normalise_bounds(bounds_of(sites_a, sites_b))
    system = display_system(basemap)
    w, s, e, n = bounds
    lon, lat = shift_lonlat([(w + e) / 2], [(s + n) / 2], system)
    dual = DualMap(location=[float(lat[0]), float(lon[0])], layout=layout, tiles=None,
                   zoom_start=12, control_scale=False, zoom_snap=0.25, zoom_delta=0.5)
    for m in (dual.m1, dual.m2):
        decorate_map(m, bounds, language, basemap, roads, tianditu_token=tianditu_token,
                     max_road_vertices=max_road_vertices)
    _draw(dual.m1, sites_a, shift(sites_a, system), statuses, str(label_a), language,
          ("kept", "removed"))
    _draw(dual.m2, sites_b, shift(sites_b, system), statuses, str(label_b), language,
          ("kept", "added"))
    dual._planner_context = dual.m1._planner_context
    return dual


def status_table(sites_a, sites_b, status=None) -> pd.DataFrame:
    """The effective ``site_id``/``status`` table used by :func:`compare_map`."""
    a = sites_a.assign(site_id=str_ids(sites_a["site_id"]).to_numpy())
    b = sites_b.assign(site_id=str_ids(sites_b["site_id"]).to_numpy())
    st = _statuses(a, b, status)
    return pd.DataFrame({"site_id": list(st), "status": list(st.values())})

