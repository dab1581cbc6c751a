"""Programme map: the stations of a phased plan, one toggleable layer per opening year."""
from __future__ import annotations

import folium
import pandas as pd

from planner.maps._common import esc, fmt_num, popup_table, require_columns, site_marker
from planner.maps.base import base_map
from planner.maps.labels import check_language, label, technology_label

__all__ = ["phasing_map"]


def phasing_map(stations: pd.DataFrame, language: str = "en", basemap: str = "osm") -> folium.Map:
    """Stations of a programme, a layer per year (stations opened that year).

    Parameters
    ----------
    stations : DataFrame
        ``site_id``, ``technology``, ``opened`` (year), ``name``, ``lon``, ``lat``, ``capex``,
        ``existing`` (as :func:`planner.programme.phasing.plan_tables` returns).
    language : {"en", "zh"}
    basemap : {"osm", "amap", "tianditu", "none"}
    """
    check_language(language)
    require_columns(stations, ["site_id", "technology", "opened", "lon", "lat"], "stations")
    if len(stations):
        bounds = (stations.lon.min() - 0.01, stations.lat.min() - 0.01,
                  stations.lon.max() + 0.01, stations.lat.max() + 0.01)
    else:
        bounds = (116.45, 39.70, 116.62, 39.83)  # E-Town, for an empty programme
    m = base_map(bounds, language=language, basemap=basemap)
    year_word = "年" if language == "zh" else ""
    for year, g in stations.groupby("opened", sort=True):
        name = f"{year}{year_word} · {len(g)}"
        layer = folium.FeatureGroup(name=esc(name), show=True)
        for _, r in g.iterrows():
            title = r.get("name") if isinstance(r.get("name"), str) and r.get("name") else str(r.site_id)
            fields = [(label("site_id", language), str(r.site_id)),
                      (label("technology", language), technology_label(r.technology, language)),
                      ("开通年份" if language == "zh" else "opens", str(year))]
            if "capex" in r:
                fields.append((label("capex", language), fmt_num(r.capex, 0)))
            tip = f"{esc(title)} · {technology_label(r.technology, language)} · {esc(year)}"
            site_marker(r.lat, r.lon, r.technology, tip, popup_table(title, fields),
                        badge=str(year)[-1:]).add_to(layer)
        layer.add_to(m)
    return m
